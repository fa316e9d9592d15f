//! End to end, real processes on 127.0.0.1 with an ephemeral port: the
//! kiosk API (`countersign api serve`), the headless step-up
//! (`countersign stepup --request`), a supervisor's override, and this
//! example app refusing, then approving, then refusing again when the
//! override is revoked and when it expires. The kiosk is a demo one (test
//! scores stand in for a face), so the app runs with `--accept-demo`; a
//! demo's assertion without it is refused.

mod standin;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const APP_SECRET: &str = "payments-app-secret-0123";

fn relying_app() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_relying-app"))
}

fn countersign() -> PathBuf {
    let p = relying_app().parent().unwrap().join("countersign");
    assert!(
        p.exists(),
        "{} is missing: build it first (cargo build -p countersign-cli); `cargo test --workspace` does",
        p.display()
    );
    p
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The demo admin's published TOTP secret (demo data dirs only).
const ADA_TOTP: &str = "MNXXK3TUMVZHG2LHNYWWCZDB";

struct Kiosk {
    data: PathBuf,
}

impl Kiosk {
    fn cs(&self, args: &[&str], secret: Option<&str>) -> Output {
        let mut c = Command::new(countersign());
        c.arg("--data-dir")
            .arg(&self.data)
            .arg("--state-dir")
            .arg(self.data.parent().unwrap().join("state"))
            .args(args)
            .stdin(Stdio::null());
        c.env_remove("COUNTERSIGN_SECRET");
        if let Some(s) = secret {
            c.env("COUNTERSIGN_SECRET", s);
        }
        c.output().unwrap()
    }
    /// An administrator's act: ada's password and her TOTP code of the 30 s
    /// step `step` away from now (-1, 0 or +1: the policy's skew), so that
    /// two acts in one test spend two different codes; `new_secret` is a
    /// client's secret (COUNTERSIGN_NEW_SECRET).
    fn admin(&self, args: &[&str], new_secret: Option<&str>, step: i64) -> Output {
        let key = data_encoding::BASE32_NOPAD
            .decode(ADA_TOTP.as_bytes())
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let code = countersign_core::auth::totp::code_at(&key, now + 30 * step, 30, 6);
        let mut all = args.to_vec();
        let pin = self.pin();
        if args.starts_with(&["client", "add"]) {
            all.extend(["--pin-out", pin.to_str().unwrap()]);
        }
        all.extend(["--by", "ada", "--otp", &code]);
        let mut c = Command::new(countersign());
        c.arg("--data-dir")
            .arg(&self.data)
            .arg("--state-dir")
            .arg(self.data.parent().unwrap().join("state"))
            .args(&all)
            .stdin(Stdio::null())
            .env("COUNTERSIGN_SECRET", "ada-demo-pass");
        c.env_remove("COUNTERSIGN_NEW_SECRET");
        if let Some(s) = new_secret {
            c.env("COUNTERSIGN_NEW_SECRET", s);
        }
        c.output().unwrap()
    }
    /// The kiosk pin `client add` wrote (`--pin-out`, beside the data dir).
    fn pin(&self) -> PathBuf {
        self.data.parent().unwrap().join("kiosk-pin.json")
    }
    fn totp(&self, base32: &str) -> String {
        text(&self.cs(&["totp", base32], None)).trim().to_string()
    }
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pin file of the kiosk of a test (see [`Kiosk::pin`]), found from
/// an app's state dir beside it.
fn pin_beside(state: &Path) -> PathBuf {
    state.parent().unwrap().join("kiosk-pin.json")
}

fn app(api: &str, state: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(relying_app())
        .args([
            "--api",
            api,
            "--client-id",
            "payments-app",
            "--accept-demo",
            "--state-dir",
        ])
        .arg(state)
        .args(args)
        .env("RELYING_APP_SECRET", APP_SECRET)
        .env("RELYING_APP_KIOSK_PIN", pin_beside(state))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), text(&o))
}

#[test]
fn relying_app_through_failure_override_and_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let k = Kiosk {
        data: tmp.path().join("kiosk"),
    };
    let o = k.cs(&["init", "--demo"], None);
    assert!(o.status.success(), "{}", text(&o));
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

    let port_file = tmp.path().join("port");
    let child = Command::new(countersign())
        .arg("--data-dir")
        .arg(&k.data)
        .arg("--state-dir")
        .arg(k.data.parent().unwrap().join("state"))
        .args(["api", "serve", "--port", "0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let start = Instant::now();
    while !port_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "API did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let port = std::fs::read_to_string(&port_file).unwrap();
    let api = format!("https://127.0.0.1:{}", port.trim());
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
    let k = Kiosk {
        data: tmp.path().join("kiosk"),
    };
    assert!(k.cs(&["init", "--demo"], None).status.success());
    assert!(k
        .admin(
            &[
                "client",
                "add",
                "payments-app",
                "--name",
                "Payments",
                "--scope",
                "payments.approve"
            ],
            Some(APP_SECRET),
            -1,
        )
        .status
        .success());
    let port_file = tmp.path().join("port");
    let child = Command::new(countersign())
        .arg("--data-dir")
        .arg(&k.data)
        .arg("--state-dir")
        .arg(k.data.parent().unwrap().join("state"))
        .args(["api", "serve", "--port", "0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let start = Instant::now();
    while !port_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "API did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let api = format!(
        "https://127.0.0.1:{}",
        std::fs::read_to_string(&port_file).unwrap().trim()
    );
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

fn serve(k: &Kiosk, tmp: &Path) -> (Server, String) {
    let port_file = tmp.join("port");
    let child = Command::new(countersign())
        .arg("--data-dir")
        .arg(&k.data)
        .arg("--state-dir")
        .arg(k.data.parent().unwrap().join("state"))
        .args(["api", "serve", "--port", "0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let start = Instant::now();
    while !port_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "API did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let api = format!(
        "https://127.0.0.1:{}",
        std::fs::read_to_string(&port_file).unwrap().trim()
    );
    (server, api)
}

/// The app with a signed-request key instead of a secret.
fn keyed_app(api: &str, key: &Path, state: &Path, args: &[&str]) -> (i32, String) {
    let o = Command::new(relying_app())
        .args([
            "--api",
            api,
            "--client-id",
            "batch-app",
            "--accept-demo",
            "--key",
        ])
        .arg(key)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("RELYING_APP_SECRET")
        .env("RELYING_APP_KIOSK_PIN", pin_beside(state))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), text(&o))
}

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
    // Registering printed and wrote the pin.
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
    let k = Kiosk {
        data: tmp.path().join("kiosk"),
    };
    assert!(k.cs(&["init", "--demo"], None).status.success());
    let add = |k: &Kiosk| {
        k.admin(
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
        )
    };
    assert!(add(&k).status.success());
    let other_root = tmp.path().join("other");
    let other = Kiosk {
        data: other_root.join("kiosk"),
    };
    assert!(other.cs(&["init", "--demo"], None).status.success());
    assert!(add(&other).status.success());
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
