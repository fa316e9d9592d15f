//! The request's shape (route, method, body) and requirements the kiosk
//! cannot meet, in RFC 9470's vocabulary.

use countersign_core::session::SessionEvent;
use countersign_engine::Engine;

use crate::{assert_refused, factors, grant_req, kiosk, pay, raw};

#[test]
fn request_shape_refusals() {
    let k = kiosk();
    let a = k.addr;
    let p = pay();
    let r = raw(a, "GET", "/v2/nothing", Some(&p), b"");
    assert_refused(&r, 404, "not_found", "request.no_route");
    let r = raw(a, "DELETE", "/v1/stepup", Some(&p), b"");
    assert_refused(&r, 405, "invalid_request", "request.method_not_allowed");
    assert_eq!(r.header("Allow"), ["POST"]);
    let r = raw(a, "POST", "/v1/overrides/ovr-1", Some(&p), b"");
    assert_refused(&r, 405, "invalid_request", "request.method_not_allowed");
    assert_eq!(r.header("Allow"), ["GET"]);
    let r = raw(a, "POST", "/v1/stepup", Some(&p), b"{\"scope\": [");
    assert_refused(&r, 400, "invalid_request", "request.malformed_json");
    let r = raw(a, "POST", "/v1/stepup", Some(&p), b"[1,2]");
    assert_refused(&r, 400, "invalid_request", "request.malformed_json");
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some(&p),
        br#"{"scope":["payments.approve"]}"#,
    );
    assert_refused(&r, 400, "invalid_request", "request.missing_field");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("nonce"));
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some(&p),
        br#"{"scope":"payments.approve","nonce":"n"}"#,
    );
    assert_refused(&r, 400, "invalid_request", "request.invalid_field");
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some(&p),
        br#"{"scope":["payments.approve"],"nonce":"n","max_age":-1}"#,
    );
    assert_refused(&r, 400, "invalid_request", "input.invalid");
    let big = vec![b' '; countersign_api::MAX_BODY + 1];
    let r = raw(a, "POST", "/v1/stepup", Some(&p), &big);
    assert_refused(&r, 413, "invalid_request", "request.too_large");
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some(&p),
        br#"{"scope":["records.export"],"nonce":"n"}"#,
    );
    assert_refused(&r, 403, "insufficient_scope", "client.scope_not_allowed");
    let r = raw(a, "GET", "/v1/stepup/stp-nope", Some(&p), b"");
    assert_refused(&r, 404, "not_found", "request.unknown");
    let r = raw(a, "GET", "/v1/overrides/ovr-nope", Some(&p), b"");
    assert_refused(&r, 404, "not_found", "override.unknown");
    // The JWKS needs no authentication.
    let r = raw(a, "GET", "/.well-known/jwks.json", None, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["keys"][0]["crv"], "Ed25519");
}

#[test]
fn unsatisfiable_requirements_use_rfc9470_vocabulary() {
    let k = kiosk();
    let a = k.addr;
    let p = pay();
    // No acr value this kiosk can issue.
    let r = raw(
        a,
        "POST",
        "/v1/stepup",
        Some(&p),
        br#"{"scope":["payments.approve"],"nonce":"n","acr_values":["urn:example:hwtoken"]}"#,
    );
    assert_refused(
        &r,
        400,
        "insufficient_user_authentication",
        "request.acr_unsatisfiable",
    );
    let c = r.header("WWW-Authenticate");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0].starts_with("Bearer error=\"insufficient_user_authentication\""),
        "{}",
        c[0]
    );
    assert!(
        c[0].contains(
            "acr_values=\"urn:countersign:acr:biometric urn:countersign:acr:supervised-override\""
        ),
        "{}",
        c[0]
    );

    // Biometric only, but the step-up ends with a supervisor's override:
    // the poll fails with the challenge naming what was asked.
    let r = raw(a, "POST", "/v1/stepup", Some(&p), br#"{"scope":["payments.approve"],"nonce":"n","acr_values":["urn:countersign:acr:biometric"],"max_age":600}"#);
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["request_id"].as_str().unwrap().to_string();
    let mut e = Engine::open(&k.data).unwrap();
    let mut s = e.resume_stepup(&id).unwrap();
    e.identify(&mut s, "olga").unwrap();
    e.apply(&mut s, SessionEvent::Intent).unwrap();
    e.apply(
        &mut s,
        SessionEvent::DeviceUnavailable {
            device: "v4l2:0".into(),
            detail: "unplugged".into(),
        },
    )
    .unwrap();
    let (secret, code) = factors(&e, "sam");
    e.supervisor_login(&mut s, "sam", secret, &code).unwrap();
    e.grant(&mut s, grant_req()).unwrap();
    let r = raw(a, "GET", &format!("/v1/stepup/{id}"), Some(&p), b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["error"], "insufficient_user_authentication");
    let c = r.header("WWW-Authenticate");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0].contains("acr_values=\"urn:countersign:acr:biometric\""),
        "{}",
        c[0]
    );
    assert!(c[0].contains("max_age=600"), "{}", c[0]);
}
