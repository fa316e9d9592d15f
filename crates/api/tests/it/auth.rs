//! Client authentication: HTTP Basic and Ed25519 signed requests, each
//! refusal with its status and stable code.

use countersign_assertion::signed_request::sign_request;
use countersign_assertion::SigningKey;

use crate::{assert_refused, basic, key, kiosk, now_s, raw, stepup_body, SECRET};

#[test]
fn client_authentication_refusals() {
    let k = kiosk();
    let a = k.addr;
    let body = stepup_body();
    let r = raw(a, "POST", "/v1/stepup", None, &body);
    assert_refused(&r, 401, "invalid_client", "client.auth_required");
    let challenges = r.header("WWW-Authenticate");
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic")),
        "{challenges:?}"
    );
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("Countersign-Ed25519")),
        "{challenges:?}"
    );
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some(&basic("ghost-app", SECRET)),
        &body,
    );
    assert_refused(&r, 401, "invalid_client", "client.auth_failed");
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some(&basic("payments-app", "not-the-secret-0000")),
        &body,
    );
    assert_refused(&r, 401, "invalid_client", "client.auth_failed");
    // The same message for both: the id's existence is not disclosed.
    assert_eq!(
        raw(
            a,
            "GET",
            "/v1/stepup/x",
            Some(&basic("ghost-app", "x")),
            b""
        )
        .body,
        raw(
            a,
            "GET",
            "/v1/stepup/x",
            Some(&basic("payments-app", "x")),
            b""
        )
        .body
    );

    // Signed requests.
    let ok = |nonce: &str| {
        sign_request(
            &key(),
            "batch-app",
            "POST",
            "/v1/stepup",
            &body,
            now_s(),
            nonce,
        )
    };
    let h = ok("nonce-aaaaaaaaaaaaaaaa");
    assert_eq!(raw(a, "POST", "/v1/stepup", Some(&h), &body).status, 202);
    let r = raw(a, "POST", "/v1/stepup", Some(&h), &body);
    assert_refused(&r, 401, "invalid_client", "client.nonce_replayed");
    let forged = sign_request(
        &SigningKey::from_bytes(&[6u8; 32]),
        "batch-app",
        "POST",
        "/v1/stepup",
        &body,
        now_s(),
        "nonce-bbbbbbbbbbbbbbbb",
    );
    assert_refused(
        &raw(a, "POST", "/v1/stepup", Some(&forged), &body),
        401,
        "invalid_client",
        "client.auth_failed",
    );
    // Signed for another body, path or method.
    let h = ok("nonce-cccccccccccccccc");
    assert_refused(
        &raw(
            a,
            "POST",
            "/v1/stepup",
            Some(&h),
            br#"{"scope":["payments.approve"],"nonce":"n-2"}"#,
        ),
        401,
        "invalid_client",
        "client.auth_failed",
    );
    let h = sign_request(
        &key(),
        "batch-app",
        "POST",
        "/v1/breakglass",
        &body,
        now_s(),
        "nonce-dddddddddddddddd",
    );
    assert_refused(
        &raw(a, "POST", "/v1/stepup", Some(&h), &body),
        401,
        "invalid_client",
        "client.auth_failed",
    );
    let stale = sign_request(
        &key(),
        "batch-app",
        "POST",
        "/v1/stepup",
        &body,
        now_s() - 3600,
        "nonce-eeeeeeeeeeeeeeee",
    );
    assert_refused(
        &raw(a, "POST", "/v1/stepup", Some(&stale), &body),
        401,
        "invalid_client",
        "client.clock_skew",
    );
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some("Countersign-Ed25519 client_id=\"batch-app\""),
        &body,
    );
    assert_refused(&r, 401, "invalid_client", "client.auth_malformed");
    // A key client's id with Basic.
    assert_refused(
        &raw(
            a,
            "POST",
            "/v1/stepup",
            Some(&basic("batch-app", SECRET)),
            &body,
        ),
        401,
        "invalid_client",
        "client.auth_failed",
    );
}

/// Known and unknown client ids take the same work: each failed Basic
/// check runs exactly one argon2 verification, against the client's hash
/// or a dummy one with the same parameters (the timings are in
/// BENCHMARKS.md; tests assert no wall time).
#[test]
fn unknown_client_ids_run_the_same_argon2_check() {
    let k = kiosk();
    let body = stepup_body();
    let verifies = || k.guard.lock().unwrap().secret_verifies();
    for (id, what) in [
        ("payments-app", "a known id with a wrong secret"),
        ("ghost-app", "an unknown id"),
        ("batch-app", "a key client tried with Basic"),
    ] {
        let before = verifies();
        let r = raw(
            k.addr,
            "POST",
            "/v1/stepup",
            Some(&basic(id, "not-the-secret-0000")),
            &body,
        );
        assert_refused(&r, 401, "invalid_client", "client.auth_failed");
        assert_eq!(verifies() - before, 1, "{what}: one argon2 check");
    }
}
