//! A stand-in for the kiosk API (issue 14, item 1): whoever gets the
//! kiosk's port first (the kiosk stopped, crashed or was slow to start)
//! answers in its place, with its own Ed25519 key and, when the caller
//! speaks TLS, its own self-signed certificate. It plays the whole kiosk:
//! it takes step-up requests, "completes" them at once with an assertion
//! signed by its own key for the real kiosk's issuer, serves that key as
//! the JWKS and says no override is known.
//!
//! It records every byte it receives, the raw ones off the socket and,
//! when a TLS handshake got through, the decrypted ones, so a test can
//! assert a secret never reached it in any form.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_assertion::{sign, Claims, Jwks, SigningKey, ACR_BIOMETRIC};

/// What the stand-in got.
#[derive(Debug, Default)]
pub struct Received {
    /// Every byte read off every socket.
    pub raw: Vec<u8>,
    /// The plaintext of TLS connections whose handshake completed.
    pub plaintext: Vec<u8>,
    /// Requests it answered (method and path).
    pub requests: Vec<String>,
}

impl Received {
    /// Whether `needle` appears in anything received.
    pub fn contains(&self, needle: &[u8]) -> bool {
        let has = |h: &[u8]| h.windows(needle.len()).any(|w| w == needle);
        has(&self.raw) || has(&self.plaintext)
    }
}

pub struct StandIn {
    pub port: u16,
    pub received: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A reader that copies what it reads into the record.
struct Recording {
    s: TcpStream,
    rec: Arc<Mutex<Received>>,
}

impl Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.s.read(buf)?;
        self.rec.lock().unwrap().raw.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.s.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.s.flush()
    }
}

impl StandIn {
    /// Listens on 127.0.0.1:`port` (the kiosk's configured port) and
    /// signs for `issuer`, the real kiosk's.
    pub fn start(port: u16, issuer: &str) -> StandIn {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the kiosk's port is free");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Received::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let key = standin_key();
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let tls = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into()),
            )
            .unwrap(),
        );
        let (rec, st, issuer) = (received.clone(), stop.clone(), issuer.to_string());
        let nonce = Arc::new(Mutex::new(String::new()));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else { continue };
                let (rec, tls, key, issuer, nonce) = (
                    rec.clone(),
                    tls.clone(),
                    key.clone(),
                    issuer.clone(),
                    nonce.clone(),
                );
                std::thread::spawn(move || {
                    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    let mut first = [0u8; 1];
                    if s.peek(&mut first).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut io = Recording {
                        s,
                        rec: rec.clone(),
                    };
                    if first[0] == 0x16 {
                        // A TLS ClientHello: answer with our own certificate.
                        let mut conn = rustls::ServerConnection::new(tls).unwrap();
                        while conn.is_handshaking() {
                            if conn.complete_io(&mut io).is_err() {
                                return; // the client refused our certificate
                            }
                        }
                        let mut t = rustls::Stream::new(&mut conn, &mut io);
                        let req = read_request(&mut t);
                        rec.lock().unwrap().plaintext.extend_from_slice(&req);
                        let resp = answer(&req, &key, &issuer, &nonce, &rec);
                        let _ = t.write_all(&resp);
                        let _ = t.flush();
                        conn.send_close_notify();
                        let _ = conn.complete_io(&mut io);
                    } else {
                        let req = read_request(&mut io);
                        let resp = answer(&req, &key, &issuer, &nonce, &rec);
                        let _ = io.write_all(&resp);
                    }
                });
            }
        });
        StandIn {
            port,
            received,
            stop,
        }
    }
}

/// One HTTP/1.1 request: the head and a Content-Length body.
fn read_request(r: &mut dyn Read) -> Vec<u8> {
    let mut buf = vec![];
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        match r.read(&mut chunk) {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The stand-in's key (a fixed one: the tests forge with it too).
pub fn standin_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// An assertion as the stand-in makes it: "mallory stepped up with her
/// face just now", for payments-app, signed with `key` in `issuer`'s name.
pub fn forged(key: &SigningKey, issuer: &str, nonce: &str) -> String {
    let now = now_s();
    let claims = Claims {
        iss: issuer.to_string(),
        sub: "mallory".into(),
        aud: "payments-app".into(),
        iat: now,
        exp: now + 300,
        auth_time: now,
        nonce: nonce.to_string(),
        jti: format!("jti-standin-{now}-{}", nonce.len()),
        acr: ACR_BIOMETRIC.into(),
        amr: vec!["face".into()],
        scope: "payments.approve".into(),
        override_: None,
        countersign_demo: true,
    };
    sign(&claims, key)
}

/// The kiosk's answers, as a forger would give them.
fn answer(
    req: &[u8],
    key: &SigningKey,
    issuer: &str,
    nonce: &Mutex<String>,
    rec: &Mutex<Received>,
) -> Vec<u8> {
    let text = String::from_utf8_lossy(req);
    let line = text.lines().next().unwrap_or("").to_string();
    rec.lock().unwrap().requests.push(line.clone());
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let (status, json) = match (method, path) {
        ("GET", "/.well-known/jwks.json") => (
            "200 OK",
            serde_json::to_value(Jwks::for_key(&key.verifying_key())).unwrap(),
        ),
        ("POST", "/v1/stepup") => {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            *nonce.lock().unwrap() = v["nonce"].as_str().unwrap_or("").to_string();
            (
                "202 Accepted",
                serde_json::json!({
                    "request_id": "req-standin",
                    "status_url": "/v1/stepup/req-standin",
                    "poll_interval_ms": 100
                }),
            )
        }
        ("GET", p) if p.starts_with("/v1/stepup/") => (
            "200 OK",
            serde_json::json!({
                "request_id": "req-standin",
                "status": "complete",
                "state": "granted",
                "assertion": forged(key, issuer, &nonce.lock().unwrap()),
            }),
        ),
        _ => (
            "404 Not Found",
            serde_json::json!({"error": "not_found", "error_description": "no such thing"}),
        ),
    };
    let body = serde_json::to_vec(&json).unwrap();
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}
