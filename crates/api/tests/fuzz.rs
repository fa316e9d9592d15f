//! Fuzz target: the API's request bodies and paths, over real HTTP on
//! 127.0.0.1 against a real engine on a temp demo data dir. Every request
//! is a correctly signed request of a registered client (so each input
//! reaches the handlers, not the authentication), with a mutated body for
//! `POST /v1/stepup` and `POST /v1/breakglass` and a mutated id for the
//! polling routes. A crash is a handler panic (the server answers 500
//! `api.internal`) or no answer at all. Two proptest strategies
//! (fuzz/fuzzkit.rs): mutated bytes of valid bodies and ids, and JSON
//! bodies shaped like valid ones with hostile values. Ignored in the
//! normal test run; `scripts/fuzz.sh` runs it (FUZZING.md).

#[path = "../../../fuzz/fuzzkit.rs"]
mod fuzzkit;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use countersign_assertion::signed_request::{public_key_hex, sign_request};
use countersign_assertion::SigningKey;
use countersign_core::PrincipalKind;
use countersign_engine::{Engine, InitOptions, NewClientCredential, SystemClock};
use fuzzkit::Input;
use proptest::prelude::*;

fn set(s: &str) -> BTreeSet<String> {
    s.split(',').map(String::from).collect()
}

struct Api {
    _tmp: tempfile::TempDir,
    addr: SocketAddr,
    pin: countersign_assertion::pin::KioskPin,
    stop: Arc<AtomicBool>,
    key: SigningKey,
    n: u64,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn api() -> Api {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let data = tmp.path().join("data");
    countersign_engine::DataDir::new(data.clone())
        .init(
            &InitOptions {
                demo: true,
                ..Default::default()
            },
            &SystemClock,
        )
        .unwrap();
    let key = SigningKey::from_bytes(&[11u8; 32]);
    let mut e = Engine::open(&data).unwrap();
    let (secret, b32) = countersign_engine::DEMO_PEOPLE
        .iter()
        .find(|p| p.id == "ada")
        .and_then(|p| p.credentials)
        .unwrap();
    let totp_key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    let code = countersign_core::auth::totp::code_at(&totp_key, e.now() / 1000 - 30, 30, 6);
    let pass = e.admin_sign_in("ada", secret, &code, "fuzz setup").unwrap();
    e.add_client(
        &pass,
        "fuzz-app",
        "Fuzz",
        set("payments.approve"),
        NewClientCredential::PublicKeyHex(public_key_hex(&key.verifying_key())),
    )
    .unwrap();
    e.add_principal(
        &pass,
        "svc-fuzz",
        PrincipalKind::ServiceAccount,
        "olga",
        set("payments.approve"),
        set("fuzz-app"),
        "fuzzing",
    )
    .unwrap();
    drop(e);
    let server = countersign_api::Server::bind(&data, 0).unwrap();
    let addr = server.local_addr();
    let pin = server.pin().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    std::thread::spawn(move || server.serve_until(&s2));
    Api {
        _tmp: tmp,
        addr,
        pin,
        stop,
        key,
        n: 0,
    }
}

impl Api {
    /// One signed request; the status and `code`, or `None` with no answer.
    fn call(&mut self, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
        self.n += 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let auth = sign_request(
            &self.key,
            "fuzz-app",
            method,
            path,
            body,
            now,
            &format!("fuzz-nonce-{:016}", self.n),
        );
        let mut s = countersign_assertion::client::connect(
            &self.addr.to_string(),
            &self.pin,
            std::time::Duration::from_secs(60),
        )
        .ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).ok()?;
        let _ = s.write_all(body);
        let _ = s.flush();
        let mut out = vec![];
        let _ = s.read_to_end(&mut out);
        let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&out[..end]);
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out[end + 4..]).unwrap_or_default();
        Some((status, v["code"].as_str().unwrap_or_default().to_string()))
    }
}

const STEPUP: &str = r#"{"scope":["payments.approve"],"acr_values":["urn:countersign:acr:biometric"],"max_age":600,"nonce":"n-1"}"#;
const BREAKGLASS: &str = r#"{"principal":"svc-fuzz","trigger":"issuer_down","scope":["payments.approve"],"detail":"issuer down","duration_s":600,"nonce":"n-2"}"#;

fn check(route: &str, input: &[u8], r: Option<(u16, String)>) {
    match r {
        None => panic!("{route}: no answer (the server died)"),
        Some((500, code)) if code == "api.internal" => {
            panic!(
                "{route}: a handler panicked on {:?}",
                String::from_utf8_lossy(input)
            )
        }
        Some(_) => {}
    }
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz.sh"]
fn fuzz_api_request_bodies() {
    let mut a = api();
    let seeds: Vec<&[u8]> = vec![
        b"S".as_slice(),
        b"B",
        b"Pstp-0000000000000000",
        b"Gbrk-0000000000000000",
        b"Oovr-0000000000000000",
    ];
    // The first byte picks the route; the rest is the body (or the id).
    let mut corpus: Vec<Vec<u8>> = vec![];
    for s in &seeds {
        let mut v = s.to_vec();
        match s[0] {
            b'S' => v.extend_from_slice(STEPUP.as_bytes()),
            b'B' => v.extend_from_slice(BREAKGLASS.as_bytes()),
            _ => {}
        }
        corpus.push(v);
    }
    // Bodies shaped like the valid ones, with hostile values.
    let json = |route: u8, body: &str| {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        fuzzkit::around(&v).prop_map(move |v| {
            let mut input = vec![route];
            input.extend_from_slice(v.to_string().as_bytes());
            Input(input)
        })
    };
    let inputs = prop_oneof![
        fuzzkit::mutated(corpus),
        json(b'S', STEPUP),
        json(b'B', BREAKGLASS),
    ];
    fuzzkit::run("api", inputs, |input| {
        let Some((&route, rest)) = input.0.split_first() else {
            return;
        };
        // Ids go into the path: keep them to URL-safe bytes.
        let id: String = rest
            .iter()
            .filter(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(b))
            .map(|&b| b as char)
            .take(200)
            .collect();
        let r = match route % 5 {
            0 => a.call("POST", "/v1/stepup", rest),
            1 => a.call("POST", "/v1/breakglass", rest),
            2 => a.call("GET", &format!("/v1/stepup/{id}"), b""),
            3 => a.call("GET", &format!("/v1/breakglass/{id}"), b""),
            _ => a.call("GET", &format!("/v1/overrides/{id}"), b""),
        };
        check(&format!("route {}", route % 5), rest, r);
    });
}

/// Inputs that crashed the server before the fix (`duration_s` past the
/// break-glass cap overflowed computing the minutes): regression.
#[test]
fn api_fuzz_regressions_are_answered() {
    let mut a = api();
    for n in [
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775800",
    ] {
        let body = BREAKGLASS.replace("\"duration_s\":600", &format!("\"duration_s\":{n}"));
        let r = a.call("POST", "/v1/breakglass", body.as_bytes());
        check("breakglass", body.as_bytes(), r.clone());
        assert_eq!(r.unwrap().0, 400, "duration_s {n}");
    }
    let r = a.call("POST", "/v1/stepup", STEPUP.as_bytes());
    assert_eq!(r.unwrap().0, 202);
}
