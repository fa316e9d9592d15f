//! Relying applications: registration, HTTP Basic and Ed25519 signed
//! requests (skew, nonce replay, wrong key), the open-request list the
//! kiosk window polls, and request expiry.

use std::collections::BTreeSet;

use countersign_assertion::signed_request::{public_key_hex, sign_request, MAX_SKEW_S};
use countersign_assertion::SigningKey;
use countersign_core::session::{Modality, SessionEvent};
use countersign_engine::{
    kinds, AssertionOutcome, AssertionRequest, AuthLimits, ClientAuthGuard, ClientView, Engine,
    NewClientCredential, SignedRequest, REQUEST_TTL_MS,
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
    let pass = crate::admin(f);
    let a = f
        .engine
        .add_client(
            &pass,
            "payments-app",
            "Payments",
            scope("payments.approve"),
            NewClientCredential::Secret(SECRET.into()),
        )
        .unwrap();
    let b = f
        .engine
        .add_client(
            &pass,
            "batch-app",
            "Nightly batch",
            scope("payments.approve,records.export"),
            NewClientCredential::PublicKeyHex(public_key_hex(&app_key().verifying_key())),
        )
        .unwrap();
    (a, b)
}

/// The reasons recorded by `client.auth_failed` events (the first of a
/// window names one, an aggregate counts the rest), sorted.
fn auth_failures(e: &Engine) -> Vec<String> {
    let mut out = vec![];
    for r in e
        .ledger()
        .all(&Filter {
            kinds: vec![kinds::CLIENT_AUTH_FAILED.into()],
            ..Default::default()
        })
        .unwrap()
    {
        if let Some(reason) = r.body["reason"].as_str() {
            out.push(reason.to_string());
        }
        for (reason, n) in r.body["reasons"].as_object().into_iter().flatten() {
            out.extend(std::iter::repeat_n(
                reason.clone(),
                n.as_u64().unwrap() as usize,
            ));
        }
    }
    out.sort();
    out
}

fn guard() -> ClientAuthGuard {
    ClientAuthGuard::new(AuthLimits::default())
}

fn signed(
    e: &mut Engine,
    g: &mut ClientAuthGuard,
    header: &str,
    body: &[u8],
) -> Result<ClientView, countersign_engine::Code> {
    e.authenticate_signed_request(
        g,
        "test",
        &SignedRequest {
            authorization: header,
            method: "POST",
            path: "/v1/stepup",
            body,
        },
    )
    .map_err(|e| e.code())
}

#[test]
fn signed_requests_are_checked_for_key_time_and_nonce() {
    let mut f = demo();
    clients(&mut f);
    let mut g = guard();
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
    let c = signed(&mut f.engine, &mut g, &h, body).unwrap();
    assert_eq!(
        (c.id.as_str(), c.auth_method.as_str()),
        ("batch-app", "ed25519_public_key")
    );

    // The same request again: a replay, even from a reopened engine.
    assert_eq!(
        signed(&mut f.engine, &mut g, &h, body).unwrap_err(),
        countersign_engine::Code::ClientNonceReplayed
    );
    let dir = f.engine.data_dir().to_path_buf();
    let mut again = Engine::open_with_clock(&dir, Box::new(f.clock.clone())).unwrap();
    assert_eq!(
        signed(&mut again, &mut g, &h, body).unwrap_err(),
        countersign_engine::Code::ClientNonceReplayed
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
        signed(&mut f.engine, &mut g, &h2, b"{}").unwrap_err(),
        countersign_engine::Code::ClientAuthFailed
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
        signed(&mut f.engine, &mut g, &h3, body).unwrap_err(),
        countersign_engine::Code::ClientAuthFailed
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
        signed(&mut f.engine, &mut g, &h4, body).unwrap_err(),
        countersign_engine::Code::ClientAuthFailed
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
        signed(&mut f.engine, &mut g, &h5, body).unwrap_err(),
        countersign_engine::Code::ClientAuthFailed
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
            signed(&mut f.engine, &mut g, &h, body).unwrap_err(),
            countersign_engine::Code::ClientClockSkew
        );
    }
    // A header that is not one.
    assert_eq!(
        signed(
            &mut f.engine,
            &mut g,
            "Countersign-Ed25519 client_id=\"batch-app\"",
            body
        )
        .unwrap_err(),
        countersign_engine::Code::ClientAuthMalformed
    );
    // The key client cannot use HTTP Basic, nor can a wrong secret.
    assert_eq!(
        f.engine
            .authenticate_client(&mut g, "test", "batch-app", SECRET)
            .unwrap_err()
            .code(),
        countersign_engine::Code::ClientAuthFailed
    );
    assert_eq!(
        f.engine
            .authenticate_client(&mut g, "test", "payments-app", "wrong-secret-0000000")
            .unwrap_err()
            .code(),
        countersign_engine::Code::ClientAuthFailed
    );
    assert_eq!(
        f.engine
            .authenticate_client(&mut g, "test", "payments-app", SECRET)
            .unwrap()
            .id,
        "payments-app"
    );

    // Every refusal is evidence, with the reason the caller is not told:
    // the first of each client's window at once, the rest aggregated.
    f.engine.flush_client_auth_failures(&mut g, true).unwrap();
    let mut want = vec![
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
    ];
    want.sort();
    assert_eq!(auth_failures(&f.engine), want);
    assert!(f.engine.ledger().verify().unwrap().problems.is_empty());
}

#[test]
fn public_keys_are_validated_at_registration() {
    let mut f = demo();
    let pass = crate::admin(&mut f);
    for bad in ["", "abcd", &"zz".repeat(32)] {
        let e = f
            .engine
            .add_client(
                &pass,
                "x-app",
                "X",
                scope("payments.approve"),
                NewClientCredential::PublicKeyHex(bad.into()),
            )
            .unwrap_err();
        assert_eq!(e.code(), countersign_engine::Code::InputInvalid, "{bad:?}");
    }
    let e = f
        .engine
        .add_client(
            &pass,
            "x-app",
            "X",
            scope("nope.scope"),
            NewClientCredential::Secret(SECRET.into()),
        )
        .unwrap_err();
    assert_eq!(e.code(), countersign_engine::Code::RefusedUnknownScope);
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
    assert_eq!(e.code(), countersign_engine::Code::RequestAcrUnsatisfiable);
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
    assert_eq!(e.code(), countersign_engine::Code::ClientScopeNotAllowed);
}

/// `client.auth_failed` events as (aggregate, count).
fn auth_events(e: &Engine) -> Vec<(String, u64)> {
    e.ledger()
        .all(&Filter {
            kinds: vec![kinds::CLIENT_AUTH_FAILED.into()],
            ..Default::default()
        })
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.body["aggregate"].as_str().unwrap_or_default().to_string(),
                r.body["count"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn failed_client_authentications_are_limited_and_aggregated() {
    let mut f = demo();
    clients(&mut f);
    let mut g = guard();
    let limit = g.limits().per_client;
    let mut codes = vec![];
    for _ in 0..50 {
        let e = f
            .engine
            .authenticate_client(&mut g, "127.0.0.1", "payments-app", "wrong-secret-0000000")
            .unwrap_err();
        codes.push(e.code());
    }
    // The first `limit` are checked (one argon2 each), the rest refused
    // without a check.
    assert!(codes[..limit as usize]
        .iter()
        .all(|c| *c == countersign_engine::Code::ClientAuthFailed));
    assert!(codes[limit as usize..]
        .iter()
        .all(|c| *c == countersign_engine::Code::ClientRateLimited));
    assert_eq!(g.secret_verifies(), u64::from(limit));
    // Even the right secret waits for the window to end.
    assert_eq!(
        f.engine
            .authenticate_client(&mut g, "127.0.0.1", "payments-app", SECRET)
            .unwrap_err()
            .code(),
        countersign_engine::Code::ClientRateLimited
    );
    // The first failure is in the ledger at once; the rest is one aggregate
    // written by the first request after the minute.
    assert_eq!(auth_events(&f.engine), [("first".to_string(), 1)]);
    f.clock.advance(60_000);
    f.engine
        .authenticate_client(&mut g, "127.0.0.1", "payments-app", SECRET)
        .unwrap();
    assert_eq!(
        auth_events(&f.engine),
        [("first".to_string(), 1), ("rest".to_string(), 50)]
    );
    let rest = f
        .engine
        .ledger()
        .latest(&Filter {
            kinds: vec![kinds::CLIENT_AUTH_FAILED.into()],
            ..Default::default()
        })
        .unwrap()
        .unwrap();
    assert_eq!(rest.body["reasons"]["bad_secret"], u64::from(limit) - 1);
    assert_eq!(rest.body["reasons"]["rate_limited"], 51 - u64::from(limit));
}

#[test]
fn unknown_client_ids_cost_the_same_argon2_check_as_known_ones() {
    let mut f = demo();
    clients(&mut f);
    let mut g = guard();
    let verifies = |e: &mut Engine, g: &mut ClientAuthGuard, id: &str| {
        let before = g.secret_verifies();
        let err = e
            .authenticate_client(g, "127.0.0.1", id, "wrong-secret-0000000")
            .unwrap_err();
        assert_eq!(err.code(), countersign_engine::Code::ClientAuthFailed);
        g.secret_verifies() - before
    };
    // A known id with a wrong secret, an unknown id, and a key client tried
    // with Basic: one argon2 check each.
    assert_eq!(verifies(&mut f.engine, &mut g, "payments-app"), 1);
    assert_eq!(verifies(&mut f.engine, &mut g, "ghost-app"), 1);
    assert_eq!(verifies(&mut f.engine, &mut g, "batch-app"), 1);
}
