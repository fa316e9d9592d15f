//! Fuzz target: the IPC arguments of the window's commands. Each input is
//! one command (its first byte) and its JSON argument as the UI would send
//! it; the argument goes through the IPC type's serde deserialisation and,
//! when it parses, into the service function behind the command, over a
//! real demo data dir (SQLite file). `$S` in an input is replaced by the id
//! of the step-up the fuzzer opened last, so the inputs reach the session
//! paths, not only "no open step-up". A crash is a panic anywhere on the
//! way. Two proptest strategies (fuzz/fuzzkit.rs): mutated bytes of the
//! seeds, and arguments shaped like the seeds' JSON with hostile values.
//! Ignored in the normal test run; `scripts/fuzz.sh` runs it (FUZZING.md).

#[path = "../../fuzz/fuzzkit.rs"]
mod fuzzkit;

use countersign_app::ipc;
use countersign_app::service::{self, Shared};
use countersign_engine::{DataDir, InitOptions, SystemClock};
use fuzzkit::Input;
use proptest::prelude::*;
use serde::de::DeserializeOwned;

fn shared() -> (tempfile::TempDir, Shared) {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
    let data = tmp.path().join("data");
    DataDir::new(data.clone())
        .init(
            &InitOptions {
                demo: true,
                ..Default::default()
            },
            &SystemClock,
        )
        .unwrap();
    let sh = Shared::new(data);
    // A reviewer's console session, so the reviewer commands reach their
    // handlers rather than the console's gate.
    let (secret, b32) = countersign_engine::DEMO_PEOPLE
        .iter()
        .find(|p| p.id == "rita")
        .and_then(|p| p.credentials)
        .unwrap();
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let otp = countersign_core::auth::totp::code_at(&key, now_s, 30, 6);
    service::console_sign_in(
        &sh,
        ipc::ConsoleSignIn {
            person: "rita".into(),
            role: ipc::ConsoleRole::Reviewer,
            secret: secret.into(),
            otp,
        },
    )
    .unwrap();
    (tmp, sh)
}

const SEEDS: &[&str] = &[
    r#"a{"scope":["payments.approve"],"requester":"fuzz"}"#,
    r#"b"$S""#,
    r#"c["$S","olga"]"#,
    r#"d["$S","changed my mind"]"#,
    r#"e{"sessionId":"$S","supervisor":"sam","secret":"sam-demo-pass","otp":"123456"}"#,
    r#"f{"sessionId":"$S","scope":["payments.approve"],"durationMinutes":15,"reasonCode":"SENSOR_FAULT","note":"n","ticket":null,"compensatingControl":"c"}"#,
    r#"g{"operator":null,"supervisor":null,"pendingReview":false,"activeOnly":true,"limit":50}"#,
    r#"h{"grantId":"ovr-1","by":"sam","role":"supervisor","secret":"s","otp":"1","reason":"r"}"#,
    r#"i{"grantId":"ovr-1","reviewer":"rita","secret":"s","otp":"1","disposition":"justified","notes":""}"#,
    r#"j{"kinds":[],"person":null,"supervisor":null,"outcome":null,"trigger":null,"caseId":null,"fromMs":null,"toMs":null,"afterSeq":null,"limit":20,"newestFirst":true}"#,
    r#"k"stp-0000""#,
];

fn arg<T: DeserializeOwned>(json: &str) -> Option<T> {
    serde_json::from_str(json).ok()
}

/// Runs one input; returns the id of a step-up it opened.
fn one(sh: &Shared, last: &str, input: &[u8]) -> Option<String> {
    let (&cmd, rest) = input.split_first()?;
    let json = String::from_utf8_lossy(rest).replace("$S", last);
    match cmd % 11 {
        0 => {
            let v = service::start_stepup(sh, arg::<ipc::StartStepupRequest>(&json)?).ok()?;
            return Some(v.session_id);
        }
        1 => drop(service::stepup_status(sh, &arg::<String>(&json)?)),
        2 => {
            let (id, op) = arg::<(String, String)>(&json)?;
            drop(service::identify(sh, &id, &op));
        }
        3 => {
            let (id, why) = arg::<(String, String)>(&json)?;
            drop(service::cancel_stepup(sh, &id, &why));
        }
        4 => drop(service::supervisor_login(
            sh,
            arg::<ipc::SupervisorLogin>(&json)?,
        )),
        5 => drop(service::grant_override(sh, arg::<ipc::GrantInput>(&json)?)),
        6 => drop(service::list_overrides(
            sh,
            arg::<ipc::OverrideQuery>(&json)?,
        )),
        7 => drop(service::revoke_override(
            sh,
            arg::<ipc::RevokeInput>(&json)?,
        )),
        8 => drop(service::review_override(
            sh,
            arg::<ipc::ReviewSubmission>(&json)?,
        )),
        9 => drop(service::query_events(sh, arg::<ipc::EventQuery>(&json)?)),
        _ => drop(service::take_request(sh, &arg::<String>(&json)?)),
    }
    None
}

#[test]
#[ignore = "fuzzing: run by scripts/fuzz.sh"]
fn fuzz_ipc_arguments() {
    let (_tmp, sh) = shared();
    // Command letters a..k are 97..107; `% 11` maps them to 9, 10, 0..8.
    let seeds: Vec<Vec<u8>> = SEEDS
        .iter()
        .map(|s| {
            let mut v = s.as_bytes().to_vec();
            v[0] = (v[0] - b'a' + 2) % 11;
            v
        })
        .collect();
    // Arguments shaped like each seed's JSON, with hostile values.
    let shaped: Vec<BoxedStrategy<Input>> = seeds
        .iter()
        .map(|s| {
            let cmd = s[0];
            let v: serde_json::Value = serde_json::from_slice(&s[1..]).unwrap();
            fuzzkit::around(&v)
                .prop_map(move |v| {
                    let mut input = vec![cmd];
                    input.extend_from_slice(v.to_string().as_bytes());
                    Input(input)
                })
                .boxed()
        })
        .collect();
    let inputs = prop_oneof![
        fuzzkit::mutated(seeds),
        proptest::strategy::Union::new(shaped),
    ];
    let mut last = String::from("stp-none");
    fuzzkit::run("ipc", inputs, |input| {
        if let Some(id) = one(&sh, &last, &input.0) {
            last = id;
        }
    });
}

/// Found by fuzzing: a grant for `durationMinutes` near i64::MAX
/// overflowed converting to milliseconds (a panic in debug builds, a
/// negative duration in release). Now a refusal with a code.
#[test]
fn ipc_grant_with_an_absurd_duration_is_refused() {
    let (_tmp, sh) = shared();
    let s = service::start_stepup(
        &sh,
        arg(r#"{"scope":["payments.approve"],"requester":"fuzz"}"#).unwrap(),
    )
    .unwrap();
    for m in [
        "9223372036854775807",
        "-9223372036854775808",
        "153722867280912931",
    ] {
        let g: ipc::GrantInput = arg(&format!(
            r#"{{"sessionId":"{}","scope":["payments.approve"],"durationMinutes":{m},"reasonCode":"SENSOR_FAULT","note":"n","ticket":null,"compensatingControl":"c"}}"#,
            s.session_id
        ))
        .unwrap();
        let e = service::grant_override(&sh, g).unwrap_err();
        assert!(!e.code.as_str().is_empty(), "durationMinutes {m}: {e:?}");
    }
}
