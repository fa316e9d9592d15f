//! The API over real HTTP on 127.0.0.1 (an ephemeral port, a real demo
//! data dir): every refusal's status and stable code, signed requests, the
//! RFC 9470 challenge, and break-glass asked by a service's client.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use countersign_assertion::client::{ApiClient, BreakGlassRequest, StepUpRequest};
use countersign_assertion::signed_request::{public_key_hex, sign_request};
use countersign_assertion::{check, Expectations, SigningKey, ACR_SUPERVISED_OVERRIDE};
use countersign_core::auth::totp;
use countersign_core::session::{GrantRequest, SessionEvent};
use countersign_core::PrincipalKind;
use countersign_engine::{Engine, InitOptions, NewClientCredential, SystemClock, DEMO_PEOPLE};
use serde_json::{json, Value};

const SECRET: &str = "payments-app-secret-0123";

struct Kiosk {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn set(s: &str) -> BTreeSet<String> {
    s.split(',').map(String::from).collect()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[5u8; 32])
}

/// A demo data dir with `payments-app` (secret), `batch-app` (Ed25519 key,
/// allowed to ask break-glass for `svc-batch`), and the API serving it.
fn kiosk() -> Kiosk {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    countersign_engine::DataDir::new(data.clone())
        .init(
            &InitOptions {
                demo: true,
                ..Default::default()
            },
            &SystemClock,
        )
        .unwrap();
    let mut e = Engine::open(&data).unwrap();
    e.add_client(
        "payments-app",
        "Payments",
        set("payments.approve"),
        NewClientCredential::Secret(SECRET.into()),
        "ada",
    )
    .unwrap();
    e.add_client(
        "batch-app",
        "Nightly batch",
        set("payments.approve"),
        NewClientCredential::PublicKeyHex(public_key_hex(&key().verifying_key())),
        "ada",
    )
    .unwrap();
    e.add_principal(
        "svc-batch",
        PrincipalKind::ServiceAccount,
        "olga",
        set("payments.approve"),
        set("batch-app"),
        "nightly batch",
        "ada",
    )
    .unwrap();
    let server = countersign_api::Server::bind(&data, 0).unwrap();
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let thread = std::thread::spawn(move || server.serve_until(&s2));
    Kiosk {
        _tmp: tmp,
        data,
        addr,
        stop,
        thread: Some(thread),
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Resp {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One raw HTTP/1.1 exchange, so the tests control every byte.
fn raw(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = vec![];
    s.read_to_end(&mut out).unwrap();
    let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_slice(&out[end + 4..]).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("{id}:{secret}").as_bytes())
    )
}

fn pay() -> String {
    basic("payments-app", SECRET)
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn stepup_body() -> Vec<u8> {
    serde_json::to_vec(&json!({ "scope": ["payments.approve"], "nonce": "n-1" })).unwrap()
}

fn assert_refused(r: &Resp, status: u16, error: &str, code: &str) {
    assert_eq!(
        (
            r.status,
            r.body["error"].as_str().unwrap_or_default(),
            r.code()
        ),
        (status, error, code),
        "{:?}",
        r.body
    );
    assert!(!r.body["error_description"]
        .as_str()
        .unwrap_or_default()
        .is_empty());
}

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

fn factors(e: &Engine, id: &str) -> (&'static str, String) {
    let p = DEMO_PEOPLE.iter().find(|p| p.id == id).unwrap();
    let (secret, b32) = p.credentials.unwrap();
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    (secret, totp::code_at(&key, e.now() / 1000, 30, 6))
}

fn grant_req() -> GrantRequest {
    GrantRequest {
        grant_id: String::new(),
        scope: set("payments.approve"),
        duration_ms: None,
        reason_code: "URGENT_BUSINESS".into(),
        note: "issuer outage".into(),
        ticket: None,
        compensating_control: "second engineer watches".into(),
    }
}

fn grant_breakglass(data: &Path, id: &str) -> countersign_core::Grant {
    let mut e = Engine::open(data).unwrap();
    let (secret, code) = factors(&e, "sam");
    e.grant_breakglass(id, "sam", secret, &code, grant_req())
        .unwrap()
}

#[test]
fn breakglass_over_the_api_with_signed_requests() {
    let k = kiosk();
    let base = format!("http://{}", k.addr);
    let c = ApiClient::with_key(&base, "batch-app", key()).unwrap();
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
    assert_eq!(err.code(), "assertion.override_revoked");
}
