//! The API over real HTTP on 127.0.0.1 (an ephemeral port, a real demo
//! data dir): every refusal's status and stable code, signed requests, the
//! RFC 9470 challenge, and break-glass asked by a service's client.

mod auth;
mod breakglass;
mod requests;

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use countersign_assertion::pin::KioskPin;
use countersign_assertion::signed_request::public_key_hex;
use countersign_assertion::SigningKey;
use countersign_core::auth::totp;
use countersign_core::session::GrantRequest;
use countersign_core::PrincipalKind;
use countersign_engine::{Engine, InitOptions, NewClientCredential, SystemClock, DEMO_PEOPLE};
use serde_json::{json, Value};

pub const SECRET: &str = "payments-app-secret-0123";

#[derive(Debug)]
pub struct Kiosk {
    _tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub addr: SocketAddr,
    /// What a relying application pins of this kiosk.
    pub pin: KioskPin,
    /// The server's failed-authentication memory (argon2 check count).
    pub guard: Arc<std::sync::Mutex<countersign_engine::ClientAuthGuard>>,
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

pub fn set(s: &str) -> BTreeSet<String> {
    s.split(',').map(String::from).collect()
}

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[5u8; 32])
}

/// A demo data dir with `payments-app` (secret), `batch-app` (Ed25519 key,
/// allowed to ask break-glass for `svc-batch`), and the API serving it.
pub fn kiosk() -> Kiosk {
    let tmp = tempfile::tempdir().unwrap();
    countersign_engine::use_test_state_dir();
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
    // ada signs in with the previous step's code (within the skew), so a
    // test's own later act of hers has a fresh one.
    let (secret, b32) = DEMO_PEOPLE
        .iter()
        .find(|p| p.id == "ada")
        .and_then(|p| p.credentials)
        .unwrap();
    let totp_key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    let code = totp::code_at(&totp_key, e.now() / 1000 - 30, 30, 6);
    let pass = e.admin_sign_in("ada", secret, &code, "test setup").unwrap();
    e.add_client(
        &pass,
        "payments-app",
        "Payments",
        set("payments.approve"),
        NewClientCredential::Secret(SECRET.into()),
    )
    .unwrap();
    e.add_client(
        &pass,
        "batch-app",
        "Nightly batch",
        set("payments.approve"),
        NewClientCredential::PublicKeyHex(public_key_hex(&key().verifying_key())),
    )
    .unwrap();
    e.add_principal(
        &pass,
        "svc-batch",
        PrincipalKind::ServiceAccount,
        "olga",
        set("payments.approve"),
        set("batch-app"),
        "nightly batch",
    )
    .unwrap();
    let server = countersign_api::Server::bind(&data, 0).unwrap();
    let addr = server.local_addr();
    let pin = server.pin().clone();
    PINS.lock().unwrap().insert(addr, pin.clone());
    let guard = server.auth_guard();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let thread = std::thread::spawn(move || server.serve_until(&s2));
    Kiosk {
        _tmp: tmp,
        data,
        addr,
        pin,
        guard,
        stop,
        thread: Some(thread),
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The pin of each server these tests started, by address.
static PINS: Mutex<BTreeMap<SocketAddr, KioskPin>> = Mutex::new(BTreeMap::new());

/// One raw HTTP/1.1 exchange over TLS to the pinned server at `addr`, so
/// the tests control every byte of the request.
pub fn raw(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> Resp {
    let pin = PINS.lock().unwrap()[&addr].clone();
    let mut s = countersign_assertion::client::connect(
        &addr.to_string(),
        &pin,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
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
    let _ = s.flush();
    let mut out = vec![];
    let _ = s.read_to_end(&mut out);
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

pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("{id}:{secret}").as_bytes())
    )
}

pub fn pay() -> String {
    basic("payments-app", SECRET)
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn stepup_body() -> Vec<u8> {
    serde_json::to_vec(&json!({ "scope": ["payments.approve"], "nonce": "n-1" })).unwrap()
}

pub fn assert_refused(r: &Resp, status: u16, error: &str, code: &str) {
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

pub fn factors(e: &Engine, id: &str) -> (&'static str, String) {
    let p = DEMO_PEOPLE.iter().find(|p| p.id == id).unwrap();
    let (secret, b32) = p.credentials.unwrap();
    let key = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    (secret, totp::code_at(&key, e.now() / 1000, 30, 6))
}

pub fn grant_req() -> GrantRequest {
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

pub fn grant_breakglass(data: &Path, id: &str) -> countersign_core::Grant {
    let mut e = Engine::open(data).unwrap();
    let (secret, code) = factors(&e, "sam");
    e.grant_breakglass(id, "sam", secret, &code, grant_req())
        .unwrap()
}
