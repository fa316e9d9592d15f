//! Issue 13, item 9: the API gives nothing away. A local process talking
//! to `countersign api serve` (a real server process) cannot flood the
//! ledger with signed events or guess secrets at argon2's speed, cannot
//! read another client's requests or overrides, and cannot crash the server
//! or the CLI with a number out of range.
//!
//! Known and unknown client ids taking the same time is checked
//! structurally (one argon2 check each) in `crates/engine/tests/it/clients.rs`
//! and `crates/api/tests/it/auth.rs`; the measured medians are in
//! BENCHMARKS.md (tests assert no timings).

use serde_json::{json, Value};

use super::api_server::{basic, raw, try_raw, ApiProc, Resp};
use crate::helpers::*;

const PAY_SECRET: &str = "payments-app-secret-0123";
const OTHER_SECRET: &str = "other-app-secret-456789";

fn add_client(cs: &Cs, id: &str, secret: &str) {
    cs.admin_ok(
        &["client", "add", id, "--name", id, "--scope", SCOPE],
        &[("COUNTERSIGN_NEW_SECRET", secret)],
    );
}

fn auth_failed_events(cs: &Cs) -> Vec<Value> {
    cs.events()
        .into_iter()
        .filter(|e| e["kind"] == "client.auth_failed")
        .collect()
}

fn stepup_body() -> Vec<u8> {
    br#"{"scope":["payments.approve"],"nonce":"n-1"}"#.to_vec()
}

#[test]
fn two_hundred_bad_requests_are_rate_limited_and_recorded_as_aggregates() {
    let cs = Cs::demo();
    add_client(&cs, "payments-app", PAY_SECRET);
    let mut api = ApiProc::start(&cs, "0022");
    let body = stepup_body();
    // 200 guesses at payments-app's secret.
    let wrong = basic("payments-app", "not-the-secret-0000");
    let mut statuses = vec![];
    for _ in 0..200 {
        let r = raw(api.addr, "POST", "/v1/stepup", Some(&wrong), &body);
        if r.status == 429 {
            assert_eq!(
                r.code(),
                countersign_engine::Code::ClientRateLimited.as_str(),
                "{:?}",
                r.body
            );
            let after: i64 = r
                .header("Retry-After")
                .expect("Retry-After")
                .parse()
                .unwrap();
            assert!((1..=60).contains(&after), "Retry-After {after}");
        }
        statuses.push(r.status);
    }
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        refused <= 10 && refused + limited == 200 && limited >= 190,
        "after 10 failures the client id is limited: 401 x{refused}, 429 x{limited}"
    );
    // 200 unknown ids from the same source: the source is limited too.
    let mut limited_unknown = 0;
    for i in 0..200 {
        let r = raw(
            api.addr,
            "POST",
            "/v1/stepup",
            Some(&basic(&format!("ghost-{i}"), "whatever-secret-0000")),
            &body,
        );
        assert!(r.status == 401 || r.status == 429, "{:?}", r.body);
        limited_unknown += usize::from(r.status == 429);
    }
    assert!(
        limited_unknown >= 170,
        "the source is limited: 429 x{limited_unknown}"
    );
    // The first failure of each window is in the ledger already.
    assert!(auth_failed_events(&cs).len() <= 2);
    assert!(api.alive());
    let out = api.stop();
    assert!(
        out.status.success(),
        "SIGTERM stops the API cleanly: {out:?}"
    );

    // 400 bad requests: one event for the first failure and one aggregate
    // per client id (unknown ids share one), not 400 signed events.
    let events = auth_failed_events(&cs);
    assert!(
        events.len() <= 4,
        "{} client.auth_failed events for 400 bad requests: {events:#?}",
        events.len()
    );
    let total: u64 = events
        .iter()
        .map(|e| e["body"]["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 400, "every bad request is counted: {events:#?}");
    let pay_rest = events
        .iter()
        .find(|e| e["body"]["aggregate"] == "rest" && e["body"]["client_id"] == "payments-app")
        .expect("payments-app's aggregate");
    assert_eq!(pay_rest["body"]["count"], 199);
    assert!(
        pay_rest["body"]["reasons"]["rate_limited"]
            .as_u64()
            .unwrap()
            >= 190
    );
    cs.verify_ok();
}

/// The 404 for an id the client may not see, without the id itself.
fn not_found_shape(r: &Resp, id: &str) -> (u16, String, String, String) {
    (
        r.status,
        r.code().to_string(),
        r.body["error"].as_str().unwrap_or_default().to_string(),
        r.body["error_description"]
            .as_str()
            .unwrap_or_default()
            .replace(id, "ID"),
    )
}

#[test]
fn a_client_cannot_read_another_clients_requests_or_overrides() {
    let cs = Cs::demo();
    add_client(&cs, "payments-app", PAY_SECRET);
    add_client(&cs, "other-app", OTHER_SECRET);
    cs.admin_ok(
        &[
            "principal",
            "add",
            "svc-pay",
            "--kind",
            "service_account",
            "--owner",
            "olga",
            "--scope",
            SCOPE,
            "--client",
            "payments-app",
        ],
        &[],
    );
    let api = ApiProc::start(&cs, "0022");
    let a = api.addr;
    let pay = basic("payments-app", PAY_SECRET);
    let other = basic("other-app", OTHER_SECRET);

    // payments-app asks for a step-up; the kiosk runs it to the fallback
    // and sam grants an override.
    let r = raw(a, "POST", "/v1/stepup", Some(&pay), &stepup_body());
    assert_eq!(r.status, 202, "{:?}", r.body);
    let sid = r.body["request_id"].as_str().unwrap().to_string();
    let o = cs.run(&[
        "stepup",
        "--request",
        &sid,
        "--operator",
        "olga",
        "--test-scores",
        FIVE_FAILS,
    ]);
    expect_exit(&o, 3, "the requested step-up reaches the fallback");
    let ovr = cs.grant_ok(&sid, SAM, "10m");
    // And break-glass for its service account.
    let bg = json!({"principal":"svc-pay","trigger":"issuer_down","scope":[SCOPE],"detail":"issuer down","nonce":"n-2"});
    let r = raw(
        a,
        "POST",
        "/v1/breakglass",
        Some(&pay),
        bg.to_string().as_bytes(),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let brk = r.body["request_id"].as_str().unwrap().to_string();

    // Its owner sees all three.
    assert_eq!(
        raw(a, "GET", &format!("/v1/stepup/{sid}"), Some(&pay), b"").status,
        200
    );
    assert_eq!(
        raw(a, "GET", &format!("/v1/breakglass/{brk}"), Some(&pay), b"").status,
        200
    );
    // (Polling the step-up above issued its assertion, which spent the grant.)
    let r = raw(a, "GET", &format!("/v1/overrides/{ovr}"), Some(&pay), b"");
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("used")),
        "{:?}",
        r.body
    );

    // Another client gets exactly the answer for an id that does not exist.
    for (path, real, fake) in [
        ("stepup", sid.as_str(), "stp-0000000000000000"),
        ("breakglass", brk.as_str(), "brk-0000000000000000"),
        ("overrides", ovr.as_str(), "ovr-0000000000000000"),
    ] {
        let theirs = raw(a, "GET", &format!("/v1/{path}/{real}"), Some(&other), b"");
        let none = raw(a, "GET", &format!("/v1/{path}/{fake}"), Some(&other), b"");
        assert_eq!(
            theirs.status, 404,
            "other-app reads {path}/{real}: {:?}",
            theirs.body
        );
        assert_eq!(
            not_found_shape(&theirs, real),
            not_found_shape(&none, fake),
            "another client's {path} id is answered like a missing one"
        );
    }
    // The owner's poll still works afterwards (nothing was consumed).
    let r = raw(a, "GET", &format!("/v1/overrides/{ovr}"), Some(&pay), b"");
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn hostile_numbers_are_a_400_and_the_server_keeps_answering() {
    let cs = Cs::demo();
    add_client(&cs, "payments-app", PAY_SECRET);
    cs.admin_ok(
        &[
            "principal",
            "add",
            "svc-pay",
            "--kind",
            "service_account",
            "--owner",
            "olga",
            "--scope",
            SCOPE,
            "--client",
            "payments-app",
        ],
        &[],
    );
    let mut api = ApiProc::start(&cs, "0022");
    let a = api.addr;
    let pay = basic("payments-app", PAY_SECRET);
    let numbers = [
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-1",
        "0",
        "1e19",
        "-1e19",
        "1.5",
        "1e400",
        "\"NaN\"",
        "\"1\"",
        "18446744073709551615",
    ];
    for n in numbers {
        let body = format!(
            r#"{{"principal":"svc-pay","trigger":"issuer_down","scope":["{SCOPE}"],"detail":"d","nonce":"n","duration_s":{n}}}"#
        );
        let r = try_raw(a, "POST", "/v1/breakglass", Some(&pay), body.as_bytes())
            .unwrap_or_else(|| panic!("duration_s {n} killed the server"));
        assert_eq!(r.status, 400, "duration_s {n}: {:?}", r.body);
        assert!(
            !r.code().is_empty(),
            "duration_s {n}: a stable code: {:?}",
            r.body
        );
        let body = format!(r#"{{"scope":["{SCOPE}"],"nonce":"n","max_age":{n}}}"#);
        let r = try_raw(a, "POST", "/v1/stepup", Some(&pay), body.as_bytes())
            .unwrap_or_else(|| panic!("max_age {n} killed the server"));
        // Any non-negative i64 is a valid max_age; anything else is a 400.
        let valid = matches!(n, "9223372036854775807" | "0");
        assert_eq!(
            r.status,
            if valid { 202 } else { 400 },
            "max_age {n}: {:?}",
            r.body
        );
        if !valid {
            assert!(!r.code().is_empty(), "max_age {n}: {:?}", r.body);
        }
        // Still answering.
        assert_eq!(
            raw(a, "GET", "/.well-known/jwks.json", None, b"").status,
            200
        );
    }
    // Numbers in a signed request's header: a skew, not an overflow.
    for ts in [
        "-9223372036854775808",
        "9223372036854775807",
        "99999999999999999999",
    ] {
        let h = format!(
            "Countersign-Ed25519 client_id=\"payments-app\", ts=\"{ts}\", nonce=\"nonce-0123456789abcdef\", sig=\"{}\"",
            "A".repeat(86)
        );
        let r = try_raw(a, "POST", "/v1/stepup", Some(&h), &stepup_body())
            .unwrap_or_else(|| panic!("ts {ts} killed the server"));
        assert_eq!(r.status, 401, "ts {ts}: {:?}", r.body);
    }
    // Numbers in ids and paths.
    for path in [
        "/v1/stepup/9223372036854775807",
        "/v1/overrides/-1",
        "/v1/breakglass/1e19",
    ] {
        let r = raw(a, "GET", path, Some(&pay), b"");
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
    }
    assert!(api.alive());
}

#[test]
fn absurd_durations_and_counts_on_the_command_line_are_errors_not_panics() {
    let cs = Cs::demo();
    let sid = cs.stepup_to_fallback("olga");
    for d in [
        "9999999999999h",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999s",
        "153722867280912931m",
        "2562047788015215h30m",
    ] {
        let o = cs.grant(&sid, SAM, &totp(SAM.totp), d);
        assert!(
            !stderr(&o).contains("panicked"),
            "--duration {d}: {}",
            stderr(&o)
        );
        if d.starts_with('-') {
            // clap reads a leading '-' as a flag: a usage error (2), still no panic.
            expect_exit(&o, 2, &format!("override grant --duration {d}"));
            continue;
        }
        expect_error(
            &o,
            "input.out_of_range",
            &format!("override grant --duration {d}"),
        );
    }
    // Zero and negative: the core's refusal, not an overflow.
    let o = cs.grant(&sid, SAM, &totp(SAM.totp), "0");
    expect_error(&o, "refused.no_expiry", "override grant --duration 0");
    // Other numbers on the command line: a usage error (2) or a refusal
    // (1), never a panic (101).
    for args in [
        &["log", "list", "--limit", "4294967296"][..],
        &["log", "list", "--after", "18446744073709551615"],
        &["log", "show", "18446744073709551615"],
        &["log", "show", "9223372036854775807"],
        &["override", "list", "--limit", "18446744073709551615"],
        &["breakglass", "list", "--limit", "4294967295"],
        &[
            "log",
            "list",
            "--from",
            "-9223372036854775808",
            "--to",
            "9223372036854775807",
        ],
        &["log", "list", "--from", "99999999999999999999999"],
    ] {
        let o = cs.run(args);
        assert!(
            matches!(o.status.code(), Some(0..=2)) && !stderr(&o).contains("panicked"),
            "{args:?}: exit {:?}: {}",
            o.status.code(),
            stderr(&o)
        );
    }
}
