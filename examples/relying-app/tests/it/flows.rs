//! A payment through the failure, the override and its expiry; a revoked
//! override refused.

use super::*;

#[test]
fn relying_app_through_failure_override_and_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let k = Kiosk::demo_with_payments_app(tmp.path());
    let (_server, api) = serve(&k, tmp.path());
    let state = tmp.path().join("app");

    // No assertion: refused.
    let (code, out) = app(&api, &state, &["approve", "--amount", "100"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("insufficient_user_authentication"), "{out}");

    // A wrong secret is an unknown client.
    let o = Command::new(relying_app())
        .args(["--api", &api, "--client-id", "payments-app", "--state-dir"])
        .arg(&state)
        .arg("request")
        .env("RELYING_APP_SECRET", "not-the-secret-at-all")
        .env("RELYING_APP_KIOSK_PIN", pin_beside(&state))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("HTTP 401"), "{}", text(&o));

    // Ask; the operator fails five times at the kiosk (headless).
    let (code, out) = app(&api, &state, &["request"]);
    assert_eq!(code, 0, "{out}");
    let id = out.trim().rsplit(' ').next().unwrap().to_string();
    let o = k.cs(
        &[
            "stepup",
            "--request",
            &id,
            "--operator",
            "olga",
            "--test-scores",
            "0.1,0.1,0.1,0.1,0.1",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("fallback offered: failure_limit"),
        "{}",
        text(&o)
    );
    let (code, out) = app(&api, &state, &["wait", "--timeout-s", "1"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("fallback_offered"), "{out}");

    // Over the cap: refused before any factor is spent.
    let sam_otp = k.totp("MNXXK3TUMVZHG2LHNYWWIYLN");
    let grant = |dur: &str| {
        k.cs(
            &[
                "override",
                "grant",
                "--session",
                &id,
                "--supervisor",
                "sam",
                "--otp",
                &sam_otp,
                "--reason",
                "SENSOR_FAULT",
                "--note",
                "camera fogged",
                "--control",
                "second approver on the payment",
                "--duration",
                dur,
            ],
            Some("sam-demo-pass"),
        )
    };
    let o = grant("2h");
    assert!(!o.status.success());
    assert!(text(&o).contains("over_cap"), "{}", text(&o));
    // A short override, so its expiry is seen in the test.
    let o = grant("6s");
    assert!(o.status.success(), "{}", text(&o));
    let granted_at = Instant::now();
    let ovr = text(&o)
        .split_whitespace()
        .find(|w| w.starts_with("ovr-"))
        .unwrap()
        .to_string();

    let (code, out) = app(&api, &state, &["wait", "--timeout-s", "10"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("urn:countersign:acr:supervised-override"),
        "{out}"
    );
    // Without --accept-demo the app refuses the demo kiosk's assertion
    // (on a copy of its state: the refusal drops the held assertion).
    let copy = tmp.path().join("app-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in std::fs::read_dir(&state).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
    }
    let o = Command::new(relying_app())
        .args(["--api", &api, "--client-id", "payments-app", "--state-dir"])
        .arg(&copy)
        .args(["approve", "--amount", "1"])
        .env("RELYING_APP_SECRET", APP_SECRET)
        .env("RELYING_APP_KIOSK_PIN", pin_beside(&copy))
        .env_remove("RELYING_APP_ACCEPT_DEMO")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("assertion.demo"), "{}", text(&o));
    let (code, out) = app(&api, &state, &["approve", "--amount", "100"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("supervised override {ovr} by sam")),
        "{out}"
    );

    // The same assertion presented again to a verifier is a replay.
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("state.json")).unwrap()).unwrap();
    let token = st["assertion"].as_str().unwrap().to_string();
    let verify = |k: &Kiosk| {
        k.cs(
            &[
                "assertion",
                "verify",
                &token,
                "--audience",
                "payments-app",
                "--replay-store",
                tmp.path().join("jti.json").to_str().unwrap(),
                "--accept-demo",
            ],
            None,
        )
    };
    assert!(verify(&k).status.success());
    let o = verify(&k);
    assert!(text(&o).contains("assertion.replayed"), "{}", text(&o));
    let o = k.cs(
        &["assertion", "verify", &token, "--audience", "other-app"],
        None,
    );
    assert!(
        text(&o).contains("assertion.wrong_audience"),
        "{}",
        text(&o)
    );

    // Expiry: the override (and so the assertion) runs out by itself.
    let left = Duration::from_millis(6_500).saturating_sub(granted_at.elapsed());
    std::thread::sleep(left);
    let (code, out) = app(&api, &state, &["approve", "--amount", "100"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("assertion.expired") || out.contains("override_expired"),
        "{out}"
    );
    let o = k.cs(&["override", "show", &ovr], None);
    assert!(text(&o).contains("expired"), "{}", text(&o));
}

#[test]
fn revoked_override_is_refused_by_the_relying_app() {
    let tmp = tempfile::tempdir().unwrap();
    let k = Kiosk::demo_with_payments_app(tmp.path());
    let (_server, api) = serve(&k, tmp.path());
    let state = tmp.path().join("app");
    let (_, out) = app(&api, &state, &["request"]);
    let id = out.trim().rsplit(' ').next().unwrap().to_string();
    let o = k.cs(
        &[
            "stepup",
            "--request",
            &id,
            "--operator",
            "otto",
            "--test-device-unavailable",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let sue_otp = k.totp("MNXXK3TUMVZHG2LHNYWXG5LF");
    let o = k.cs(
        &[
            "override",
            "grant",
            "--session",
            &id,
            "--supervisor",
            "sue",
            "--otp",
            &sue_otp,
            "--reason",
            "SENSOR_FAULT",
            "--note",
            "camera unplugged",
            "--control",
            "call-back",
        ],
        Some("sue-demo-pass"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let ovr = text(&o)
        .split_whitespace()
        .find(|w| w.starts_with("ovr-"))
        .unwrap()
        .to_string();
    let (code, out) = app(&api, &state, &["wait", "--timeout-s", "10"]);
    assert_eq!(code, 0, "{out}");
    let ada_otp = k.totp(ADA_TOTP);
    let o = k.cs(
        &[
            "override",
            "revoke",
            &ovr,
            "--by",
            "ada",
            "--role",
            "admin",
            "--otp",
            &ada_otp,
            "--reason",
            "camera fixed",
        ],
        Some("ada-demo-pass"),
    );
    assert!(o.status.success(), "{}", text(&o));
    let (code, out) = app(&api, &state, &["approve", "--amount", "5"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("assertion.override_revoked"), "{out}");
}
