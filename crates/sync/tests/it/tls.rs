//! TLS with a private CA: a real SeaweedFS serving S3 over HTTPS on
//! 127.0.0.1 with a server certificate signed by a CA made for this test.

use std::path::Path;

use countersign_sync::testkit::{Weed, TEST_SECRET};
use countersign_sync::{SyncConfig, SyncError, Syncer};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::common::*;

/// A CA (certificate PEM, key) and nothing else.
fn ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (p.self_signed(&key).unwrap(), key)
}

/// Writes `ca.pem`, `other-ca.pem` (a CA that signed nothing here),
/// `server.pem` and `server.key` (for IP 127.0.0.1, signed by `ca.pem`).
fn make_pki(dir: &Path) {
    let (ca_cert, ca_key) = ca("Countersign test CA");
    let (other, _) = ca("Some other CA");
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let srv = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("other-ca.pem"), other.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), srv.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

fn sync_toml(endpoint: &str, ca: Option<&Path>) -> String {
    let mut t = format!(
        "endpoint = \"{endpoint}\"\nbucket = \"evidence\"\naccess_key_id = \"testkey\"\nsecret_access_key = \"{TEST_SECRET}\"\nrequest_timeout_secs = 5\nbackoff_min_ms = 20\nbackoff_max_ms = 200\n"
    );
    if let Some(ca) = ca {
        t.push_str(&format!(
            "ca_cert = \"{}\"\nca_cert_only = true\n",
            ca.display()
        ));
    }
    t
}

async fn refused(k: &Kiosk, toml: &str) -> String {
    std::fs::write(k.dir.path().join("sync.toml"), toml).unwrap();
    let cfg = SyncConfig::load(k.dir.path()).unwrap();
    let s = Syncer::new(k.ledger(), &k.id, cfg, &POLICY).unwrap();
    let e = s.run_until_caught_up(2).await.unwrap_err();
    assert!(matches!(e, SyncError::Remote(_)), "{e:?}");
    let st = s.status().unwrap();
    assert_eq!(st.synced_events, 0, "nothing went up: {st:?}");
    let last = st.last_error.unwrap_or_default();
    for m in [e.to_string(), format!("{e:?}"), last.clone()] {
        assert!(!m.contains(TEST_SECRET), "a credential in an error: {m}");
    }
    assert!(last.contains("ca_cert"), "status names the fix: {last}");
    e.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_configured_ca_works_and_without_it_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    make_pki(tmp.path());
    let weed = Weed::start_tls(
        &tmp.path().join("weed"),
        &tmp.path().join("server.pem"),
        &tmp.path().join("server.key"),
    );
    weed.create_locked_bucket("evidence", 1);
    let https = weed.https_endpoint();
    let k = Kiosk::new("kiosk-tls");
    fill(&mut k.ledger(), 60, "olga");

    // Without the CA (system roots only): the handshake is refused, the
    // error says why and what to set; nothing is uploaded.
    let e = refused(&k, &sync_toml(&https, None)).await;
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    assert!(e.contains("set ca_cert in sync.toml"), "{e}");
    // With a CA that did not sign the server's certificate: refused too.
    let e = refused(
        &k,
        &sync_toml(&https, Some(&tmp.path().join("other-ca.pem"))),
    )
    .await;
    assert!(e.to_lowercase().contains("certificate"), "{e}");

    // With the CA that signed it (and only it): everything goes up once.
    std::fs::write(
        k.dir.path().join("sync.toml"),
        sync_toml(&https, Some(&tmp.path().join("ca.pem"))),
    )
    .unwrap();
    let cfg = SyncConfig::load(k.dir.path()).unwrap();
    assert!(cfg.endpoint.as_deref().unwrap().starts_with("https://"));
    assert!(!cfg.allow_http);
    let d = format!("{cfg:?}");
    assert!(!d.contains(TEST_SECRET), "{d}");
    let s = Syncer::new(k.ledger(), &k.id, cfg, &POLICY).unwrap();
    let r = s.run_until_caught_up(3).await.unwrap();
    assert!(r.caught_up);
    assert_eq!(r.uploaded, 1 + 61 + 1 + 1, "{r:?}");
    assert!(!format!("{s:?}").contains(TEST_SECRET));
    assert_exactly_once(&weed, "evidence", &k, &s).await;
}
