//! Relying applications: registration, HTTP Basic and Ed25519 signed
//! requests (skew, nonce replay, wrong key), the open-request list the
//! kiosk window polls, and request expiry.

use std::collections::BTreeSet;

use countersign_assertion::signed_request::{public_key_hex, sign_request, MAX_SKEW_S};
use countersign_assertion::SigningKey;
use countersign_core::session::{Modality, SessionEvent};
use countersign_engine::{
    kinds, AssertionOutcome, AssertionRequest, ClientView, Engine, NewClientCredential,
    SignedRequest, REQUEST_TTL_MS,
};
use countersign_ledger::Filter;

use crate::{demo, Fixture};

const SECRET: &str = "payments-app-secret-0123";

fn scope(s: &str) -> BTreeSet<String> {
    s.split(',').map(String::from).collect()
}

fn app_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

/// `payments-app` (secret) and `batch-app` (Ed25519 key).
fn clients(f: &mut Fixture) -> (ClientView, ClientView) {
    let a = f
        .engine
        .add_client(
            "payments-app",
            "Payments",
            scope("payments.approve"),
            NewClientCredential::Secret(SECRET.into()),
            "ada",
        )
        .unwrap();
    let b = f
        .engine
        .add_client(
            "batch-app",
            "Nightly batch",
            scope("payments.approve,records.export"),
            NewClientCredential::PublicKeyHex(public_key_hex(&app_key().verifying_key())),
            "ada",
        )
        .unwrap();
    (a, b)
}

/// The reasons of every `client.auth_failed` event, in order.
fn auth_failures(e: &Engine) -> Vec<String> {
    e.ledger()
        .all(&Filter {
            kinds: vec![kinds::CLIENT_AUTH_FAILED.into()],
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|r| r.body["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn signed(e: &mut Engine, header: &str, body: &[u8]) -> Result<ClientView, String> {
    e.authenticate_signed_request(&SignedRequest {
        authorization: header,
        method: "POST",
        path: "/v1/stepup",
        body,
    })
    .map_err(|e| e.code())
}

#[test]
fn signed_requests_are_checked_for_key_time_and_nonce() {
    let mut f = demo();
    clients(&mut f);
    let now_s = f.engine.now() / 1000;
    let body = br#"{"scope":["payments.approve"],"nonce":"n1"}"#;
    let nonce = "aaaaaaaaaaaaaaaaaaaaaaaa";
    let h = sign_request(
        &app_key(),
        "batch-app",
        "POST",
        "/v1/stepup",
        body,
        now_s,
        nonce,
    );
    let c = signed(&mut f.engine, &h, body).unwrap();
    assert_eq!(
        (c.id.as_str(), c.auth_method.as_str()),
        ("batch-app", "ed25519_public_key")
    );

    // The same request again: a replay, even from a reopened engine.
    assert_eq!(
        signed(&mut f.engine, &h, body).unwrap_err(),
        "client.nonce_replayed"
    );
    let dir = f.engine.data_dir().to_path_buf();
    let mut again = Engine::open_with_clock(&dir, Box::new(f.clock.clone())).unwrap();
    assert_eq!(
        signed(&mut again, &h, body).unwrap_err(),
        "client.nonce_replayed"
    );

    // Another body under the same signature.
    let h2 = sign_request(
        &app_key(),
        "batch-app",
        "POST",
        "/v1/stepup",
        body,
        now_s,
        "b".repeat(20).as_str(),
    );
    assert_eq!(
        signed(&mut f.engine, &h2, b"{}").unwrap_err(),
        "client.auth_failed"
    );
    // Signed by another key.
    let other = SigningKey::from_bytes(&[7u8; 32]);
    let h3 = sign_request(
        &other,
        "batch-app",
        "POST",
        "/v1/stepup",
        body,
        now_s,
        "c".repeat(20).as_str(),
    );
    assert_eq!(
        signed(&mut f.engine, &h3, body).unwrap_err(),
        "client.auth_failed"
    );
    // An unknown client, and a client registered with a secret.
    let h4 = sign_request(
        &app_key(),
        "ghost-app",
        "POST",
        "/v1/stepup",
        body,
        now_s,
        "d".repeat(20).as_str(),
    );
    assert_eq!(
        signed(&mut f.engine, &h4, body).unwrap_err(),
        "client.auth_failed"
    );
    let h5 = sign_request(
        &app_key(),
        "payments-app",
        "POST",
        "/v1/stepup",
        body,
        now_s,
        "e".repeat(20).as_str(),
    );
    assert_eq!(
        signed(&mut f.engine, &h5, body).unwrap_err(),
        "client.auth_failed"
    );
    // Stale and future timestamps.
    for ts in [now_s - MAX_SKEW_S - 1, now_s + MAX_SKEW_S + 1] {
        let h = sign_request(
            &app_key(),
            "batch-app",
            "POST",
            "/v1/stepup",
            body,
            ts,
            &format!("f{ts}aaaaaaaaaaaaaaaa"),
        );
        assert_eq!(
            signed(&mut f.engine, &h, body).unwrap_err(),
            "client.clock_skew"
        );
    }
    // A header that is not one.
    assert_eq!(
        signed(
            &mut f.engine,
            "Countersign-Ed25519 client_id=\"batch-app\"",
            body
        )
        .unwrap_err(),
        "client.auth_malformed"
    );
    // The key client cannot use HTTP Basic, nor can a wrong secret.
    assert_eq!(
        f.engine
            .authenticate_client("batch-app", SECRET)
            .unwrap_err()
            .code(),
        "client.auth_failed"
    );
    assert_eq!(
        f.engine
            .authenticate_client("payments-app", "wrong-secret-0000000")
            .unwrap_err()
            .code(),
        "client.auth_failed"
    );
    assert_eq!(
        f.engine
            .authenticate_client("payments-app", SECRET)
            .unwrap()
            .id,
        "payments-app"
    );

    // Every refusal is evidence, with the reason the caller is not told.
    assert_eq!(
        auth_failures(&f.engine),
        [
            "nonce_replayed",
            "nonce_replayed",
            "bad_signature",
            "bad_signature",
            "unknown_client",
            "wrong_method",
            "clock_skew",
            "clock_skew",
            "malformed",
            "wrong_method",
            "bad_secret",
        ]
    );
    assert!(f.engine.ledger().verify().unwrap().problems.is_empty());
}

#[test]
fn public_keys_are_validated_at_registration() {
    let mut f = demo();
    for bad in ["", "abcd", &"zz".repeat(32)] {
        let e = f
            .engine
            .add_client(
                "x-app",
                "X",
                scope("payments.approve"),
                NewClientCredential::PublicKeyHex(bad.into()),
                "ada",
            )
            .unwrap_err();
        assert_eq!(e.code(), "input.invalid", "{bad:?}");
    }
    let e = f
        .engine
        .add_client(
            "x-app",
            "X",
            scope("nope.scope"),
            NewClientCredential::Secret(SECRET.into()),
            "ada",
        )
        .unwrap_err();
    assert_eq!(e.code(), "refused.unknown_scope");
    assert!(f.engine.list_clients().unwrap().is_empty());
}

fn ask(f: &mut Fixture, c: &ClientView, acr: &[&str]) -> String {
    f.engine
        .open_assertion_request(
            c,
            AssertionRequest {
                scope: scope("payments.approve"),
                acr_values: acr.iter().map(|s| s.to_string()).collect(),
                max_age_s: Some(600),
                nonce: "n-1".into(),
            },
        )
        .unwrap()
        .session
        .id
}

#[test]
fn open_requests_list_what_the_kiosk_must_still_do() {
    let mut f = demo();
    let (pay, batch) = clients(&mut f);
    assert!(f.engine.open_stepup_requests().unwrap().is_empty());
    let first = ask(&mut f, &pay, &["urn:countersign:acr:biometric"]);
    f.clock.advance(1_000);
    let second = ask(&mut f, &batch, &[]);

    let open = f.engine.open_stepup_requests().unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0].request_id, first);
    assert_eq!(open[0].client_name, "Payments");
    assert_eq!(open[0].client_id, "payments-app");
    assert_eq!(open[0].acr_values, ["urn:countersign:acr:biometric"]);
    assert_eq!(open[0].scope, scope("payments.approve"));
    assert_eq!(open[0].max_age, Some(600));
    assert_eq!(open[0].created_ms, crate::T0);
    assert_eq!(open[0].expires_ms, crate::T0 + REQUEST_TTL_MS);
    assert_eq!(open[1].client_name, "Nightly batch");
    assert!(!open[1].fallback_offered);

    // The operator completes the first: it is no longer open.
    let mut s = f.engine.resume_stepup(&first).unwrap();
    f.engine.identify(&mut s, "olga").unwrap();
    f.engine.apply(&mut s, SessionEvent::Intent).unwrap();
    f.engine
        .apply(
            &mut s,
            SessionEvent::CaptureStarted {
                device: "replay:t".into(),
            },
        )
        .unwrap();
    f.engine
        .apply(
            &mut s,
            SessionEvent::Match {
                modality: Modality::Face,
                score: 0.9,
                pad_passed: None,
            },
        )
        .unwrap();
    // The second reaches the fallback: still open, waiting for a supervisor.
    let mut s2 = f.engine.resume_stepup(&second).unwrap();
    f.engine.identify(&mut s2, "otto").unwrap();
    f.engine.apply(&mut s2, SessionEvent::Intent).unwrap();
    f.engine
        .apply(
            &mut s2,
            SessionEvent::DeviceUnavailable {
                device: "v4l2:0".into(),
                detail: "gone".into(),
            },
        )
        .unwrap();
    let open = f.engine.open_stepup_requests().unwrap();
    assert_eq!(
        open.iter()
            .map(|o| o.request_id.as_str())
            .collect::<Vec<_>>(),
        [second.as_str()]
    );
    assert!(open[0].fallback_offered);

    // Unanswered for the TTL: expired, off the list, and the poll says so.
    f.clock.advance(REQUEST_TTL_MS);
    assert!(f.engine.open_stepup_requests().unwrap().is_empty());
    match f.engine.assertion_for(&second, "batch-app").unwrap() {
        AssertionOutcome::Failed {
            error,
            error_description,
            ..
        } => {
            assert_eq!(error, "access_denied");
            assert!(error_description.contains("expired"), "{error_description}");
        }
        other => panic!("{other:?}"),
    }
    // The completed one is still answered (its own freshness rules apply).
    assert!(matches!(
        f.engine.assertion_for(&first, "payments-app").unwrap(),
        AssertionOutcome::Failed { ref error, .. } if error == "insufficient_user_authentication"
    ));
}

#[test]
fn acr_values_the_kiosk_cannot_issue_are_refused_up_front() {
    let mut f = demo();
    let (pay, _) = clients(&mut f);
    let e = f
        .engine
        .open_assertion_request(
            &pay,
            AssertionRequest {
                scope: scope("payments.approve"),
                acr_values: vec!["urn:example:acr:hardware-token".into()],
                max_age_s: None,
                nonce: "n".into(),
            },
        )
        .unwrap_err();
    assert_eq!(e.code(), "request.acr_unsatisfiable");
    // One acceptable value among unknown ones is enough.
    let ok = ask(
        &mut f,
        &pay,
        &[
            "urn:example:acr:other",
            "urn:countersign:acr:supervised-override",
        ],
    );
    assert!(ok.starts_with("stp-"));
    // A scope the client is not registered for.
    let e = f
        .engine
        .open_assertion_request(
            &pay,
            AssertionRequest {
                scope: scope("records.export"),
                acr_values: vec![],
                max_age_s: None,
                nonce: "n".into(),
            },
        )
        .unwrap_err();
    assert_eq!(e.code(), "client.scope_not_allowed");
}
