//! Break-glass asked by a service's client with signed requests.

use countersign_assertion::client::{ApiClient, BreakGlassRequest, StepUpRequest};
use countersign_assertion::signed_request::sign_request;
use countersign_assertion::{check, Expectations, ACR_SUPERVISED_OVERRIDE};
use countersign_engine::Engine;
use serde_json::json;

use crate::{assert_refused, factors, grant_breakglass, key, kiosk, now_s, pay, raw};

#[test]
fn breakglass_over_the_api_with_signed_requests() {
    let k = kiosk();
    let base = format!("https://{}", k.addr);
    let c = ApiClient::with_key(&base, &k.pin, "batch-app", key()).unwrap();
    // The library signs every call; a step-up request works as with a secret.
    let t = c
        .request_stepup(&StepUpRequest {
            scope: vec!["payments.approve".into()],
            acr_values: vec![],
            max_age: None,
            nonce: "n".into(),
        })
        .unwrap();
    assert_eq!(c.stepup_status(&t.request_id).unwrap().status, "pending");

    let ask = |duration_s: Option<i64>| BreakGlassRequest {
        principal: "svc-batch".into(),
        trigger: "certificate_expired".into(),
        scope: vec!["payments.approve".into()],
        detail: "client certificate expired at 02:00".into(),
        duration_s,
        nonce: "bg-nonce".into(),
    };
    // Over the break-glass cap, and an unknown trigger.
    let body = serde_json::to_vec(&ask(Some(7200))).unwrap();
    let h = sign_request(
        &key(),
        "batch-app",
        "POST",
        "/v1/breakglass",
        &body,
        now_s(),
        "nonce-over-cap-aaaaaaaa",
    );
    let r = raw(k.addr, "POST", "/v1/breakglass", Some(&h), &body);
    assert_refused(&r, 400, "invalid_request", "refused.over_cap");
    let mut bad = serde_json::to_value(ask(None)).unwrap();
    bad["trigger"] = json!("failure_limit");
    let body = serde_json::to_vec(&bad).unwrap();
    let h = sign_request(
        &key(),
        "batch-app",
        "POST",
        "/v1/breakglass",
        &body,
        now_s(),
        "nonce-trigger-aaaaaaaa",
    );
    assert_refused(
        &raw(k.addr, "POST", "/v1/breakglass", Some(&h), &body),
        400,
        "invalid_request",
        "refused.trigger_not_allowed",
    );
    bad["trigger"] = json!("sunspots");
    let body = serde_json::to_vec(&bad).unwrap();
    let h = sign_request(
        &key(),
        "batch-app",
        "POST",
        "/v1/breakglass",
        &body,
        now_s(),
        "nonce-sunspot-aaaaaaaa",
    );
    assert_refused(
        &raw(k.addr, "POST", "/v1/breakglass", Some(&h), &body),
        400,
        "invalid_request",
        "request.invalid_field",
    );
    let body = br#"{"principal":"svc-batch","trigger":"issuer_down","nonce":"x"}"#;
    let h = sign_request(
        &key(),
        "batch-app",
        "POST",
        "/v1/breakglass",
        body,
        now_s(),
        "nonce-missing-aaaaaaaa",
    );
    let r = raw(k.addr, "POST", "/v1/breakglass", Some(&h), body);
    assert_refused(&r, 400, "invalid_request", "request.missing_field");
    // A client the principal does not name.
    let body = serde_json::to_vec(&ask(None)).unwrap();
    let r = raw(k.addr, "POST", "/v1/breakglass", Some(&pay()), &body);
    assert_refused(&r, 403, "access_denied", "client.principal_not_allowed");

    let t = c.request_breakglass(&ask(Some(600))).unwrap();
    assert!(t.status_url.ends_with(&t.request_id));
    let s = c.breakglass_status(&t.request_id).unwrap();
    assert_eq!(
        (s.status.as_str(), s.state.as_str()),
        ("pending", "requested")
    );
    // Another client cannot poll it.
    let r = raw(
        k.addr,
        "GET",
        &format!("/v1/breakglass/{}", t.request_id),
        Some(&pay()),
        b"",
    );
    assert_refused(&r, 404, "not_found", "request.unknown");

    let g = grant_breakglass(&k.data, &t.request_id);
    assert_eq!(g.expires_at - g.granted_at, 600_000);
    let s = c.breakglass_status(&t.request_id).unwrap();
    assert_eq!(s.status, "complete", "{s:?}");
    let token = s.assertion.unwrap();
    // Polling again returns the same token.
    assert_eq!(
        c.breakglass_status(&t.request_id)
            .unwrap()
            .assertion
            .as_deref(),
        Some(token.as_str())
    );
    let mut x = Expectations::new("batch-app", now_s());
    x.accept_demo = true; // a demo data dir signs countersign_demo assertions
    x.nonce = Some("bg-nonce".into());
    x.required_scope = Some("payments.approve".into());
    let claims = check(&token, &c.jwks().unwrap(), &x, Some(&c)).unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.acr.as_str()),
        ("svc-batch", ACR_SUPERVISED_OVERRIDE)
    );
    let o = claims.override_.unwrap();
    assert_eq!(
        (o.id.as_str(), o.principal_kind.as_str(), o.trigger.as_str()),
        (g.id.as_str(), "service_account", "certificate_expired")
    );

    // Revoked at the kiosk: the relying side's next check refuses it.
    let mut e = Engine::open(&k.data).unwrap();
    let (secret, code) = factors(&e, "ada");
    e.revoke_override(
        &g.id,
        "ada",
        countersign_core::Role::Admin,
        secret,
        &code,
        "certificate renewed",
    )
    .unwrap();
    let err = check(&token, &c.jwks().unwrap(), &x, Some(&c)).unwrap_err();
    assert_eq!(
        err.code(),
        countersign_engine::Code::AssertionOverrideRevoked
    );
}
