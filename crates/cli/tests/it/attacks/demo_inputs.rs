//! Item 1: a real kiosk accepts no test or demo inputs.
//!
//! The insider has a shell on a production kiosk (a data dir made by
//! `countersign init` without `--demo`). A relying application asks for a
//! step-up through the real API server; the insider answers it with
//! `stepup --request ID --test-scores 0.99` (or any other test input, a
//! replay of photos, fed fingerprints) to get a biometric assertion without
//! the operator's face. Every such input is refused with
//! `error[refused.demo_only]`, nothing is signed, and the application's
//! request stays unanswered. On a demo data dir the same inputs work, and
//! the assertion says `countersign_demo`, which a verifier refuses unless it
//! opts in.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use countersign_assertion::client::{ApiClient, StepUpRequest};
use serde_json::Value;

use crate::helpers::{expect_error, expect_exit, expect_ok, stdout, Cs, Person, ADA, BIN, SCOPE};

pub const CLIENT: &str = "payments-app";
pub const CLIENT_SECRET: &str = "payments-app-secret-0123";

/// A production data dir: `init --admin root` (no `--demo`), an operator
/// added by root with two factors, and a relying application registered
/// for `SCOPE` by root.
fn production() -> Cs {
    let cs = Cs::uninit();
    let out = expect_ok(
        &cs.run_env(
            &["init", "--admin", "root"],
            &[("COUNTERSIGN_SECRET", "root-secret-pass")],
        ),
        "init --admin root",
    );
    let secret = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret: "))
        .unwrap_or_else(|| panic!("the first admin's TOTP secret is shown: {out}"))
        .to_string();
    let root = Person {
        id: "root",
        pass: "root-secret-pass",
        totp: Box::leak(secret.into_boxed_str()),
    };
    expect_ok(
        &cs.admin_run(
            root,
            &[
                "people", "add", "olga", "--name", "Olga", "--role", "operator",
            ],
            &[],
        ),
        "people add olga",
    );
    add_client_by(&cs, root);
    cs
}

/// ada (the demo's admin) registers the relying application.
pub fn add_client(cs: &Cs) {
    add_client_by(cs, ADA);
}

fn add_client_by(cs: &Cs, admin: Person) {
    let o = cs.admin_run(
        admin,
        &[
            "client", "add", CLIENT, "--name", "Payments", "--scope", SCOPE,
        ],
        &[("COUNTERSIGN_NEW_SECRET", CLIENT_SECRET)],
    );
    expect_ok(&o, "client add");
}

/// `countersign api serve` on an ephemeral port, killed on drop.
pub struct Api {
    child: Child,
    pub url: String,
    /// The pin `countersign api pin` wrote for this kiosk.
    pub pin: countersign_assertion::pin::KioskPin,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(cs: &Cs) -> Api {
    let port_file = cs.root().join("port");
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&cs.data)
        .args(["api", "serve", "--port", "0", "--port-file"])
        .arg(&port_file)
        .env("COUNTERSIGN_STATE_DIR", &cs.state)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the API server");
    let pin_file = cs.root().join("kiosk-pin.json");
    expect_ok(
        &cs.run(&["api", "pin", "--out", pin_file.to_str().unwrap()]),
        "api pin",
    );
    let mut api = Api {
        child,
        url: String::new(),
        pin: countersign_assertion::pin::KioskPin::load(&pin_file).unwrap(),
    };
    let start = Instant::now();
    while !port_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the API server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let port = std::fs::read_to_string(&port_file).unwrap();
    api.url = format!("https://127.0.0.1:{}", port.trim());
    api
}

fn client(api: &Api) -> ApiClient {
    ApiClient::new(&api.url, &api.pin, CLIENT, CLIENT_SECRET).unwrap()
}

fn request(c: &ApiClient) -> String {
    c.request_stepup(&StepUpRequest {
        scope: vec![SCOPE.into()],
        acr_values: vec![],
        max_age: None,
        nonce: "nonce-0123456789abcdef".into(),
    })
    .unwrap()
    .request_id
}

fn kinds(cs: &Cs) -> Vec<String> {
    cs.events()
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every flag that hands the step-up a result instead of measuring one.
fn demo_only_inputs(dir: &Path) -> Vec<Vec<String>> {
    let png = dir.join("print.png");
    std::fs::write(&png, b"not read: refused first").unwrap();
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        v(&["--test-scores", "0.99"]),
        v(&["--test-scores", "0.99", "--test-pad", "pass"]),
        v(&["--test-device-unavailable"]),
        v(&["--test-quality-failures", "5"]),
        v(&["--replay", photos.to_str().unwrap()]),
        v(&["--finger", "--finger-images", png.to_str().unwrap()]),
    ]
}

#[test]
fn production_refuses_test_scores_and_signs_nothing() {
    let cs = production();
    let api = serve(&cs);
    let c = client(&api);
    let id = request(&c);
    let before = kinds(&cs);
    for input in demo_only_inputs(cs.root()) {
        let mut args = vec!["stepup", "--request", &id, "--operator", "olga"];
        args.extend(input.iter().map(String::as_str));
        let o = cs.run(&args);
        let err = expect_error(&o, "refused.demo_only", &args.join(" "));
        assert!(
            err.contains(input[0].as_str()) || err.contains("--finger-images"),
            "the refusal names the flag: {err}"
        );
        // A new step-up (not a request) is refused the same way.
        let mut args = vec!["stepup", "--operator", "olga", "--scope", SCOPE];
        args.extend(input.iter().map(String::as_str));
        expect_error(&cs.run(&args), "refused.demo_only", &args.join(" "));
    }
    // Nothing happened: no attempt, no fallback, no assertion.
    assert_eq!(kinds(&cs), before, "a refused test input records nothing");
    let st = c.stepup_status(&id).unwrap();
    assert_eq!(st.status, "pending", "{st:?}");
    assert!(st.assertion.is_none(), "{st:?}");

    // Editing the marker does not make a demo: the signed
    // `kiosk.initialized` event says production.
    let marker = cs.data.join("countersign.json");
    let text = std::fs::read_to_string(&marker).unwrap();
    std::fs::write(&marker, text.replace("\"demo\": false", "\"demo\": true")).unwrap();
    assert!(std::fs::read_to_string(&marker)
        .unwrap()
        .contains("\"demo\": true"));
    let o = cs.run(&[
        "stepup",
        "--request",
        &id,
        "--operator",
        "olga",
        "--test-scores",
        "0.99",
    ]);
    expect_error(
        &o,
        "refused.demo_only",
        "test scores after editing the marker",
    );
    let st = c.stepup_status(&id).unwrap();
    assert_eq!(st.status, "pending", "{st:?}");
    assert!(
        !kinds(&cs).iter().any(|k| k == "assertion.issued"),
        "nothing signed"
    );
    cs.verify_ok();
}

/// A demo data dir whose marker is edited to say production: evidence
/// already in its ledger from test input is never signed for.
#[test]
fn test_input_already_in_the_ledger_is_never_signed_on_production() {
    let cs = Cs::demo();
    add_client(&cs);
    let api = serve(&cs);
    let c = client(&api);
    let id = request(&c);
    let o = cs.run(&[
        "stepup",
        "--request",
        &id,
        "--operator",
        "olga",
        "--test-scores",
        "0.99",
    ]);
    expect_ok(&o, "a demo accepts test scores");
    let marker = cs.data.join("countersign.json");
    let text = std::fs::read_to_string(&marker).unwrap();
    std::fs::write(&marker, text.replace("\"demo\": true", "\"demo\": false")).unwrap();
    let st = c.stepup_status(&id).unwrap();
    assert_eq!(st.status, "failed", "{st:?}");
    assert_eq!(st.error.as_deref(), Some("access_denied"), "{st:?}");
    assert!(
        st.error_description
            .as_deref()
            .unwrap_or_default()
            .contains("test input"),
        "{st:?}"
    );
    assert!(st.assertion.is_none());
    assert!(!kinds(&cs).iter().any(|k| k == "assertion.issued"));
}

#[test]
fn demo_assertion_is_refused_by_default_verifier() {
    let cs = Cs::demo();
    add_client(&cs);
    let api = serve(&cs);
    let c = client(&api);
    let id = request(&c);
    let o = cs.run(&[
        "stepup",
        "--request",
        &id,
        "--operator",
        "olga",
        "--test-scores",
        "0.99",
    ]);
    expect_ok(&o, "a demo accepts test scores");
    let st = c.stepup_status(&id).unwrap();
    assert_eq!(st.status, "complete", "{st:?}");
    let token = st.assertion.unwrap();
    let payload = data_encoding::BASE64URL_NOPAD
        .decode(token.split('.').nth(1).unwrap().as_bytes())
        .unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        claims["countersign_demo"], true,
        "a demo's assertion says so: {claims}"
    );
    // The evidence says so too.
    let attempt = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "match.attempt")
        .expect("the attempt is recorded");
    assert_eq!(attempt["body"]["score_source"], "test_input", "{attempt}");
    assert_eq!(attempt["body"]["test_input"]["demo"], true, "{attempt}");
    let issued: Value = cs
        .events()
        .into_iter()
        .find(|e| e["kind"] == "assertion.issued")
        .unwrap();
    assert_eq!(issued["body"]["countersign_demo"], true, "{issued}");

    let store = cs.root().join("jti.json");
    let verify = |extra: &[&str]| {
        let mut a = vec![
            "assertion",
            "verify",
            &token,
            "--audience",
            CLIENT,
            "--replay-store",
            store.to_str().unwrap(),
        ];
        a.extend(extra);
        cs.run(&a)
    };
    expect_error(&verify(&[]), "assertion.demo", "verify a demo assertion");
    expect_error(
        &cs.run(&[
            "assertion",
            "verify",
            &token,
            "--audience",
            CLIENT,
            "--no-replay-check",
        ]),
        "assertion.demo",
        "verify a demo assertion without a replay store",
    );
    let o = verify(&["--accept-demo"]);
    let out = expect_ok(&o, "verify --accept-demo");
    assert!(out.contains("DEMO"), "{out}");
    expect_exit(&verify(&["--accept-demo"]), 1, "and only once");
    assert!(stdout(&o).starts_with("valid: olga"), "{}", stdout(&o));
}
