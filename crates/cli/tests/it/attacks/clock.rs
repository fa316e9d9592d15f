//! Item 7: the clock cannot extend or re-open anything.
//!
//! The attacks move the wall clock of the real binary and of the real API
//! server with libfaketime (which fakes every `clock_gettime`, monotonic
//! clocks included, but not `/proc/uptime`): set back, to write evidence
//! out of order or to bring an expired grant back to life; set forward at
//! a grant, to make it last a day; and a sign-in under a wrong clock, to
//! turn the supervisor's later real codes into "replays" until lockout.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::attempt_race::FAKETIME_LIB;
use crate::helpers::{
    expect_error, expect_exit, expect_ok, override_id, session_id, stdout, Cs, BIN, FIVE_FAILS,
    SAM, SCOPE,
};

const DAY_S: i64 = 86_400;
const CLIENT_SECRET: &str = "payments-app-secret-0123";

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// libfaketime's environment for a clock `offset_s` from the real one.
fn faked(offset_s: i64) -> [(&'static str, String); 2] {
    [
        ("LD_PRELOAD", FAKETIME_LIB.to_string()),
        ("FAKETIME", format!("{offset_s:+}s")),
    ]
}

fn run_at(cs: &Cs, offset_s: i64, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let f = faked(offset_s);
    let mut env: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra);
    cs.run_env(args, &env)
}

/// SAM's TOTP code under a clock `offset_s` from the real one.
fn sam_code_at(offset_s: i64) -> String {
    let key = data_encoding::BASE32_NOPAD
        .decode(SAM.totp.as_bytes())
        .unwrap();
    countersign_core::auth::totp::code_at(&key, now_s() + offset_s, 30, 6)
}

fn grant_args<'a>(session: &'a str, otp: &'a str, duration: &'a str) -> Vec<&'a str> {
    vec![
        "override",
        "grant",
        "--session",
        session,
        "--supervisor",
        SAM.id,
        "--otp",
        otp,
        "--duration",
        duration,
        "--reason",
        "SENSOR_FAULT",
        "--note",
        "camera fogged",
        "--control",
        "second person watched",
    ]
}

/// A step-up to the fallback and a grant of `duration` by SAM, all under a
/// clock `offset_s` from the real one. Returns (session, override id).
fn grant_at(cs: &Cs, operator: &str, offset_s: i64, duration: &str) -> (String, String) {
    let o = run_at(
        cs,
        offset_s,
        &[
            "stepup",
            "--operator",
            operator,
            "--scope",
            SCOPE,
            "--test-scores",
            FIVE_FAILS,
        ],
        &[],
    );
    expect_exit(&o, 3, "the step-up ends in the fallback");
    let sid = session_id(&o);
    let code = sam_code_at(offset_s);
    let o = run_at(
        cs,
        offset_s,
        &grant_args(&sid, &code, duration),
        &[("COUNTERSIGN_SECRET", SAM.pass)],
    );
    let id = override_id(&expect_ok(&o, "override grant"));
    (sid, id)
}

#[test]
fn a_clock_set_back_cannot_write_and_the_refusal_is_recorded_and_shown() {
    let cs = Cs::demo();
    cs.stepup_to_fallback("olga");
    let before = cs.events();
    let newest = before
        .iter()
        .map(|e| e["ts_ms"].as_i64().unwrap())
        .max()
        .unwrap();

    // Five minutes back: a new step-up would be stamped before the newest event.
    let o = run_at(
        &cs,
        -300,
        &[
            "stepup",
            "--operator",
            "otto",
            "--scope",
            SCOPE,
            "--test-scores",
            "0.1",
        ],
        &[],
    );
    expect_error(
        &o,
        "clock.behind_ledger",
        "a step-up under a clock set back",
    );

    let after = cs.events();
    let new: Vec<&Value> = after.iter().skip(before.len()).collect();
    assert_eq!(
        new.iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["clock.behind_ledger"],
        "nothing of the step-up was written; the refusal was"
    );
    let rec = new[0];
    assert!(
        rec["ts_ms"].as_i64().unwrap() >= newest,
        "the record does not run the ledger's time backwards: {rec}"
    );
    let observed = rec["body"]["observed_ms"].as_i64().unwrap();
    assert!(
        observed < newest - 200_000,
        "it carries the clock it saw: {rec}"
    );

    // `status` says so, with the stable code, while the clock is wrong ...
    let o = run_at(&cs, -300, &["status"], &[]);
    expect_error(&o, "clock.behind_ledger", "status under a clock set back");
    assert!(stdout(&o).contains("BEHIND THE LEDGER"), "{}", stdout(&o));
    // ... and shows the recorded refusal once it is right again.
    let o = cs.run(&["--json", "status"]);
    let v: Value = serde_json::from_str(&expect_ok(&o, "status")).unwrap();
    assert_eq!(v["writes_refused"], false, "{v}");
    assert_eq!(v["last_refusal"]["observed_ms"], observed, "{v}");
    cs.verify_ok();
}

/// `countersign api serve` under a clock `offset_s` from the real one.
struct Api {
    child: Child,
    port: u16,
    cert: PathBuf,
}

impl Api {
    fn start(cs: &Cs, offset_s: i64, tag: &str) -> Api {
        let port_file = cs.root().join(format!("port-{tag}"));
        let mut c = Command::new(BIN);
        c.arg("--data-dir")
            .arg(&cs.data)
            .args(["api", "serve", "--port", "0", "--port-file"])
            .arg(&port_file)
            .env_remove("COUNTERSIGN_DATA_DIR")
            .env_remove("COUNTERSIGN_SECRET")
            .env("COUNTERSIGN_STATE_DIR", &cs.state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if offset_s != 0 {
            for (k, v) in faked(offset_s) {
                c.env(k, v);
            }
        }
        let mut child = c.spawn().expect("starting the API server");
        let deadline = Instant::now() + Duration::from_secs(60);
        let port = loop {
            if let Some(p) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                break p;
            }
            if let Ok(Some(st)) = child.try_wait() {
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).ok();
                panic!("the API server exited ({st}): {err}");
            }
            assert!(Instant::now() < deadline, "the API server never listened");
            std::thread::sleep(Duration::from_millis(50));
        };
        Api {
            child,
            port,
            cert: cs.data.join("api-tls.pem"),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let mut c = Command::new("curl");
        // TLS to the kiosk's own certificate (the file also holds its key,
        // which curl ignores here).
        c.args(["-s", "--cacert"])
            .arg(&self.cert)
            .args(["-X", method, "-u"])
            .arg(format!("payments-app:{CLIENT_SECRET}"))
            .arg(format!("https://127.0.0.1:{}{path}", self.port));
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "-d", b]);
        }
        let o = c.output().expect("running curl");
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&o.stdout).into_owned()))
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ada (two factors) registers the client; its secret is the second secret.
fn add_client(cs: &Cs) {
    cs.admin_ok(
        &[
            "client",
            "add",
            "payments-app",
            "--name",
            "Payments",
            "--scope",
            SCOPE,
        ],
        &[("COUNTERSIGN_NEW_SECRET", CLIENT_SECRET)],
    );
}

#[test]
fn an_expired_grant_is_not_reopened_by_a_clock_set_back() {
    let cs = Cs::demo();
    add_client(&cs);
    let api = Api::start(&cs, 0, "real");
    let ticket = api.call(
        "POST",
        "/v1/stepup",
        Some(&format!(r#"{{"scope":["{SCOPE}"],"nonce":"n-clock-1"}}"#)),
    );
    let rid = ticket["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a request id: {ticket}"))
        .to_string();
    drop(api);
    let o = cs.run(&[
        "stepup",
        "--request",
        &rid,
        "--operator",
        "olga",
        "--test-scores",
        FIVE_FAILS,
    ]);
    expect_exit(&o, 3, "the requested step-up ends in the fallback");
    let code = sam_code_at(0);
    let o = cs.run_env(
        &grant_args(&rid, &code, "3s"),
        &[("COUNTERSIGN_SECRET", SAM.pass)],
    );
    let gid = override_id(&expect_ok(&o, "a 3 s grant"));
    let granted = Instant::now();
    while granted.elapsed() < Duration::from_secs(6) {
        std::thread::sleep(Duration::from_millis(200));
    }

    // The grant expired 3 s ago in real time. A clock set back 5 s is not
    // behind the newest event (the grant), so writes are allowed: the
    // wall clock alone would call the grant active.
    let api = Api::start(&cs, -5, "back5s");
    let st = api.call("GET", &format!("/v1/stepup/{rid}"), None);
    assert!(
        st.get("assertion").is_none(),
        "no token for a grant that expired in real time (clock 5 s back): {st}"
    );
    let ov = api.call("GET", &format!("/v1/overrides/{gid}"), None);
    assert_ne!(ov["status"], "active", "{ov}");
    drop(api);

    // Five minutes back: the status check says expired, and writing is refused.
    let api = Api::start(&cs, -300, "back5m");
    let st = api.call("GET", &format!("/v1/stepup/{rid}"), None);
    assert!(
        st.get("assertion").is_none(),
        "no token under a clock 5 min back: {st}"
    );
    let ov = api.call("GET", &format!("/v1/overrides/{gid}"), None);
    assert_eq!(ov["status"], "expired", "{ov}");
    drop(api);
    cs.verify_ok();
}

#[test]
fn a_grant_made_under_a_clock_a_day_ahead_lasts_its_duration_in_real_time() {
    let cs = Cs::demo();
    let (_, gid) = grant_at(&cs, "olga", DAY_S, "10m");
    // Back to the real clock: the grant was made a "day from now".
    let v = cs.override_by_id(&gid);
    let left = v["remaining_ms"].as_i64().unwrap();
    assert!(
        left <= 10 * 60_000,
        "at most the 10 min granted are left in real time, not a day more: {left} ms"
    );
    assert!(left > 0, "and it is still live: {v}");
}

#[test]
fn one_sign_in_under_a_wrong_clock_does_not_lock_the_supervisor_out() {
    let cs = Cs::demo();
    // Otto's step-up waits for a supervisor (real clock) ...
    let waiting = cs.stepup_to_fallback("otto");
    // ... when Sam signs in (and grants olga) under a clock a day ahead.
    grant_at(&cs, "olga", DAY_S, "10m");

    // Back on the real clock, Sam tries otto's grant with his real, current
    // codes, as many times as the lockout allows and more.
    for _ in 0..11 {
        let code = sam_code_at(0);
        let o = cs.run_env(
            &grant_args(&waiting, &code, "10m"),
            &[("COUNTERSIGN_SECRET", SAM.pass)],
        );
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{}", stdout(&o));
        assert!(
            !err.contains("error[auth."),
            "a real code is not a failure because of the earlier wrong clock: {err}"
        );
    }
    let people: Value = serde_json::from_str(&cs.ok(&["--json", "people", "list"])).unwrap();
    let sam = people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == SAM.id)
        .unwrap();
    assert_eq!(
        (sam["locked"].as_bool(), sam["failed_auths"].as_u64()),
        (Some(false), Some(0)),
        "Sam is not locked out: {sam}"
    );

    // Once the clock has caught up with the ledger, Sam signs in normally.
    grant_at(&cs, "olga", DAY_S + 60, "10m");
    cs.verify_ok();
}
