//! Item 11: verifying without a replay store says so.
//!
//! A relying application (or a script acting for one) checks an assertion
//! with `countersign assertion verify` but forgets `--replay-store`: before,
//! the same token was "valid" every time it was presented, so a captured
//! assertion could be replayed forever within its lifetime. Now a verify
//! without a store calls nothing valid (`error[assertion.no_replay_store]`);
//! with a store the first presentation is valid and the next a replay;
//! `--no-replay-check` checks the rest and says the replay check was skipped.

use countersign_assertion::client::{ApiClient, StepUpRequest};

use super::demo_inputs::{add_client, serve, CLIENT, CLIENT_SECRET};
use crate::helpers::{expect_error, expect_ok, stdout, Cs, SCOPE};

/// A real assertion from a demo kiosk (test scores are a demo's input),
/// so every verify below passes `--accept-demo`.
fn token(cs: &Cs) -> String {
    add_client(cs);
    let api = serve(cs);
    let c = ApiClient::new(&api.url, &api.pin, CLIENT, CLIENT_SECRET).unwrap();
    let id = c
        .request_stepup(&StepUpRequest {
            scope: vec![SCOPE.into()],
            acr_values: vec![],
            max_age: None,
            nonce: "nonce-verify-0123456789".into(),
        })
        .unwrap()
        .request_id;
    expect_ok(
        &cs.run(&[
            "stepup",
            "--request",
            &id,
            "--operator",
            "olga",
            "--test-scores",
            "0.99",
        ]),
        "step-up",
    );
    let st = c.stepup_status(&id).unwrap();
    st.assertion.expect("an assertion")
}

#[test]
fn same_token_three_times_without_a_replay_store_is_never_valid() {
    let cs = Cs::demo();
    let t = token(&cs);
    let base = [
        "assertion",
        "verify",
        &t,
        "--audience",
        CLIENT,
        "--accept-demo",
    ];
    for _ in 0..3 {
        let o = cs.run(&base);
        assert!(stdout(&o).is_empty(), "nothing is called valid");
        let err = expect_error(&o, "assertion.no_replay_store", "verify without a store");
        assert!(err.contains("--replay-store"), "{err}");
    }
    // A bad token still says what is wrong with it.
    expect_error(
        &cs.run(&["assertion", "verify", &t, "--audience", "other-app"]),
        "assertion.wrong_audience",
        "wrong audience",
    );

    // With a store: valid once, then a replay.
    let store = cs.root().join("jti.json");
    let mut with_store = base.to_vec();
    with_store.extend(["--replay-store", store.to_str().unwrap()]);
    let out = expect_ok(&cs.run(&with_store), "first presentation");
    assert!(out.starts_with("valid: olga"), "{out}");
    assert!(out.contains("recorded as used"), "{out}");
    for _ in 0..2 {
        expect_error(&cs.run(&with_store), "assertion.replayed", "a replay");
    }

    // Skipping the check on purpose says so, every time.
    let mut skip = base.to_vec();
    skip.push("--no-replay-check");
    for _ in 0..2 {
        let out = expect_ok(&cs.run(&skip), "--no-replay-check");
        assert!(out.starts_with("valid: olga"), "{out}");
        assert!(out.contains("replay check skipped"), "{out}");
    }
    // Both at once is a usage error.
    let mut both = with_store.clone();
    both.push("--no-replay-check");
    assert_eq!(cs.run(&both).status.code(), Some(2));
}
