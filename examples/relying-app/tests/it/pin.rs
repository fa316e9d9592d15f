//! The kiosk pin (issue 14 item 1): a stand-in on the kiosk's port, or a
//! kiosk serving another key, gets no secret and approves nothing.

use super::*;

/// Issue 14, item 1: the kiosk is down and a stand-in holds its port, with
/// its own key and its own TLS certificate. The payments app must not send
/// it its secret, must not accept its "step-up", must not approve a payment
/// on it, and `countersign assertion verify --api` must not call its
/// assertion valid. The stand-in records every byte: the secret is not
/// among them, and no TLS handshake with it ever completed.
#[test]
fn a_stand_in_on_the_kiosk_port_gets_no_secret_and_no_payment() {
    let tmp = tempfile::tempdir().unwrap();
    let k = Kiosk {
        data: tmp.path().join("kiosk"),
    };
    assert!(k.cs(&["init", "--demo"], None).status.success());
    // Registering prints the pin and writes it.
    let o = k.admin(
        &[
            "client",
            "add",
            "payments-app",
            "--name",
            "Payments",
            "--scope",
            "payments.approve",
        ],
        Some(APP_SECRET),
        -1,
    );
    assert!(o.status.success(), "{}", text(&o));
    let pin: serde_json::Value = serde_json::from_slice(&std::fs::read(k.pin()).unwrap()).unwrap();
    let issuer = pin["issuer"].as_str().unwrap().to_string();
    for field in ["issuer", "key_thumbprint", "tls_cert_sha256"] {
        let v = pin[field].as_str().unwrap();
        assert!(
            text(&o).contains(v),
            "{field} {v} not printed: {}",
            text(&o)
        );
    }

    // The real kiosk serves (so its address is the app's configured one)
    // and the app works with it; then it stops and the stand-in takes the port.
    let (server, api) = serve(&k, tmp.path());
    let state = tmp.path().join("app");
    let (code, out) = app(&api, &state, &["request"]);
    assert_eq!(code, 0, "{out}");
    let port: u16 = api.rsplit(':').next().unwrap().parse().unwrap();
    drop(server);
    let standin = standin::StandIn::start(port, &issuer);

    let (code, out) = app(&api, &state, &["request"]);
    assert_ne!(code, 0, "the app asked a stand-in for a step-up: {out}");
    assert!(out.contains("kiosk.not_pinned"), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
    assert!(!out.contains(APP_SECRET), "{out}");
    let (code, out) = app(&api, &state, &["wait", "--timeout-s", "2"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("kiosk.not_pinned"), "{out}");
    assert!(!out.contains("assertion accepted"), "{out}");
    let (code, out) = app(&api, &state, &["approve", "--amount", "1000000"]);
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("approved"), "{out}");
    // Plain HTTP to the same port is not even tried.
    let plain = format!("http://127.0.0.1:{port}");
    let (code, out) = app(&plain, &state, &["request"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("https://"), "{out}");

    // The verifier, pointed at the same address with the app's secret and
    // the pin, refuses the stand-in's assertion without sending the secret.
    let token = standin::forged(&standin::standin_key(), &issuer, "n-1");
    let verify = |api: &str| {
        Command::new(countersign())
            .args([
                "assertion",
                "verify",
                &token,
                "--audience",
                "payments-app",
                "--no-replay-check",
                "--accept-demo",
                "--api",
                api,
                "--kiosk-pin",
            ])
            .arg(k.pin())
            .env("COUNTERSIGN_CLIENT_SECRET", APP_SECRET)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = verify(&api);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("error[kiosk.not_pinned]"), "{}", text(&o));
    assert!(!text(&o).contains("valid:"), "{}", text(&o));
    assert!(!text(&o).contains(APP_SECRET), "{}", text(&o));
    // Without the pin, --api is refused outright.
    let o = Command::new(countersign())
        .args(["assertion", "verify", &token, "--audience", "payments-app"])
        .args(["--no-replay-check", "--api", &api])
        .env("COUNTERSIGN_CLIENT_SECRET", APP_SECRET)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("--kiosk-pin"), "{}", text(&o));

    let got = standin.received.lock().unwrap();
    let basic = data_encoding::BASE64.encode(format!("payments-app:{APP_SECRET}").as_bytes());
    assert!(
        !got.contains(APP_SECRET.as_bytes()) && !got.contains(basic.as_bytes()),
        "the stand-in received the secret; requests: {:?}",
        got.requests
    );
    // It was asked (ClientHellos came), but no handshake completed and it
    // answered nothing.
    assert!(!got.raw.is_empty());
    assert!(got.plaintext.is_empty(), "{:?}", got.requests);
    assert!(got.requests.is_empty(), "{:?}", got.requests);
}

/// A server that does hold the kiosk's TLS certificate and key (copied into
/// another data dir) but signs with another kiosk key: the key it serves is
/// compared with the pin and refused, and its assertions do not verify.
#[test]
fn a_served_key_that_is_not_the_pinned_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let k = Kiosk::demo_with_payments_app(tmp.path());
    let other_root = tmp.path().join("other");
    let other = Kiosk::demo_with_payments_app(&other_root);
    std::fs::copy(k.data.join("api-tls.pem"), other.data.join("api-tls.pem")).unwrap();
    let (_server, api) = serve(&other, &other_root);
    let state = tmp.path().join("app");
    // The handshake passes (same certificate), so the request is made ...
    let (code, out) = app(&api, &state, &["request"]);
    assert_eq!(code, 0, "{out}");
    // ... and the other kiosk's operator steps up ...
    let id = out.trim().rsplit(' ').next().unwrap().to_string();
    let o = other.cs(
        &[
            "stepup",
            "--request",
            &id,
            "--operator",
            "olga",
            "--test-scores",
            "0.99",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    // ... but nothing it signs is trusted: the key it serves is not the pin.
    let (code, out) = app(&api, &state, &["wait", "--timeout-s", "10"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("kiosk.key_mismatch"), "{out}");
    assert!(!out.contains("assertion accepted"), "{out}");
    let (code, out) = app(&api, &state, &["approve", "--amount", "1000000"]);
    assert_ne!(code, 0, "{out}");
    assert!(!out.contains("approved"), "{out}");
    let o = Command::new(countersign())
        .args([
            "assertion",
            "verify",
            &standin::forged(&standin::standin_key(), "x", "n"),
            "--audience",
            "payments-app",
            "--no-replay-check",
            "--api",
            &api,
            "--kiosk-pin",
        ])
        .arg(k.pin())
        .env("COUNTERSIGN_CLIENT_SECRET", APP_SECRET)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("error[kiosk.key_mismatch]"),
        "{}",
        text(&o)
    );
    // Verifying from the other kiosk's data dir with the first one's pin:
    // the data dir's key is compared with the pin as well.
    let token = standin::forged(&standin::standin_key(), "x", "n");
    let o = other.cs(
        &[
            "assertion",
            "verify",
            &token,
            "--audience",
            "payments-app",
            "--no-replay-check",
            "--kiosk-pin",
            k.pin().to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("error[kiosk.key_mismatch]"),
        "{}",
        text(&o)
    );
}
