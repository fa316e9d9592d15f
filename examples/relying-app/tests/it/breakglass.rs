//! A service's break-glass with Ed25519-signed requests.

use super::*;

#[test]
fn a_service_gets_breakglass_with_signed_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let k = Kiosk {
        data: tmp.path().join("kiosk"),
    };
    assert!(k.cs(&["init", "--demo"], None).status.success());
    let key = tmp.path().join("batch.key");
    let o = Command::new(relying_app())
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let pubkey = format!("{}.pub", key.display());
    let o = k.admin(
        &[
            "client",
            "add",
            "batch-app",
            "--name",
            "Nightly batch",
            "--scope",
            "payments.approve",
            "--public-key",
            &pubkey,
        ],
        None,
        -1,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ed25519_public_key"), "{}", text(&o));
    let o = k.admin(
        &[
            "principal",
            "add",
            "svc-batch",
            "--kind",
            "service_account",
            "--owner",
            "olga",
            "--scope",
            "payments.approve",
            "--client",
            "batch-app",
        ],
        None,
        0,
    );
    assert!(o.status.success(), "{}", text(&o));
    let (_server, api) = serve(&k, tmp.path());
    let state = tmp.path().join("batch");

    // A wrong key is refused.
    let wrong = tmp.path().join("wrong.key");
    Command::new(relying_app())
        .args(["keygen", "--out"])
        .arg(&wrong)
        .output()
        .unwrap();
    let (code, out) = keyed_app(&api, &wrong, &state, &["request"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("client.auth_failed"), "{out}");

    // Signed step-up request: the kiosk lists it as open.
    let (code, out) = keyed_app(&api, &key, &state, &["request"]);
    assert_eq!(code, 0, "{out}");
    let o = k.cs(&["client", "requests"], None);
    assert!(
        text(&o).contains("Nightly batch (batch-app)"),
        "{}",
        text(&o)
    );

    // Break-glass: over the cap is refused, then asked for 10 minutes.
    let bg = |dur: &str| {
        keyed_app(
            &api,
            &key,
            &state,
            &[
                "breakglass",
                "--principal",
                "svc-batch",
                "--trigger",
                "issuer_down",
                "--detail",
                "CA unreachable since 02:00",
                "--duration-s",
                dur,
            ],
        )
    };
    let (code, out) = bg("7200");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("refused.over_cap"), "{out}");
    let (code, out) = bg("600");
    assert_eq!(code, 0, "{out}");
    let id = out.trim().rsplit(' ').next().unwrap().to_string();
    let o = k.cs(&["breakglass", "list", "--pending"], None);
    assert!(text(&o).contains(&id), "{}", text(&o));
    assert!(text(&o).contains("client:batch-app"), "{}", text(&o));
    let (code, out) = keyed_app(&api, &key, &state, &["wait", "--timeout-s", "1"]);
    assert_eq!(code, 3, "{out}");

    let sam_otp = k.totp("MNXXK3TUMVZHG2LHNYWWIYLN");
    let o = k.cs(
        &[
            "breakglass",
            "grant",
            &id,
            "--supervisor",
            "sam",
            "--otp",
            &sam_otp,
            "--reason",
            "URGENT_BUSINESS",
            "--note",
            "nightly batch",
            "--control",
            "manual reconciliation of the batch",
        ],
        Some("sam-demo-pass"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let ovr = text(&o)
        .split_whitespace()
        .find(|w| w.starts_with("ovr-"))
        .unwrap()
        .to_string();
    let (code, out) = keyed_app(&api, &key, &state, &["wait", "--timeout-s", "10"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("svc-batch"), "{out}");
    let (code, out) = keyed_app(&api, &key, &state, &["approve", "--amount", "7"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "approved by svc-batch via supervised override {ovr} by sam"
        )),
        "{out}"
    );
    let o = k.cs(&["override", "show", &ovr], None);
    assert!(text(&o).contains("service_account"), "{}", text(&o));
}
