//! The kiosk's local step-up API as a relying application sees it: the
//! wire types and a small HTTP/1.1 client for loopback addresses only
//! (`https://127.0.0.1:PORT`; the API never listens elsewhere).
//!
//! Every connection is TLS to the pinned certificate of a [`KioskPin`]:
//! the handshake completes, and the server proves it holds that
//! certificate's key, before the first request byte (and so any client
//! secret) is written. The JWKS the API serves is compared with the pinned
//! key ([`ApiClient::jwks`]) and never trusted on its own.
//!
//! Endpoints (all JSON; every one but the JWKS is authenticated as a
//! registered client: HTTP Basic with its id and secret, or a request signed
//! with its Ed25519 key, see [`crate::signed_request`]):
//! - `POST /v1/stepup` with a [`StepUpRequest`] → `202` [`StepUpTicket`]
//! - `GET /v1/stepup/{id}` → [`StepUpStatus`] (poll until not `pending`)
//! - `POST /v1/breakglass` with a [`BreakGlassRequest`] → `202` [`StepUpTicket`]
//! - `GET /v1/breakglass/{id}` → [`StepUpStatus`] (poll until not `pending`)
//! - `GET /v1/overrides/{id}` → [`OverrideStatus`]
//! - `GET /.well-known/jwks.json` → [`Jwks`]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_encoding::BASE64;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::pin::KioskPin;
use crate::signed_request::{new_nonce, sign_request};
use crate::{AssertionError, Jwks, OverrideStatus, OverrideStatusSource};

/// A relying application's step-up request (RFC 9470 vocabulary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpRequest {
    pub scope: Vec<String>,
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// Seconds: the freshest authentication the application will accept.
    #[serde(default)]
    pub max_age: Option<i64>,
    pub nonce: String,
}

/// Break-glass for a non-human principal (service account, API key, agent)
/// whose primary credential path failed, asked by a client the principal's
/// registration names. A supervisor approves at the kiosk with two factors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassRequest {
    pub principal: String,
    /// `issuer_down`, `certificate_expired` or `rotation_broken`.
    pub trigger: String,
    pub scope: Vec<String>,
    /// What failed (e.g. the issuer's error).
    pub detail: String,
    /// Seconds the grant should last (at most the policy's break-glass
    /// cap; `None`: the supervisor or the policy default decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<i64>,
    /// Echoed in the assertion.
    pub nonce: String,
}

/// The answer to a request: where to poll (the return channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpTicket {
    pub request_id: String,
    pub status_url: String,
    pub poll_interval_ms: u64,
}

/// The state of a request. `status` is `pending`, `complete` (with
/// `assertion`) or `failed` (with an RFC 9470-style `error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpStatus {
    pub request_id: String,
    pub status: String,
    /// The kiosk-side session state (`requested`, `fallback_offered`, ...).
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// The body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// OAuth / RFC 9470 vocabulary: `invalid_client`, `invalid_request`,
    /// `insufficient_user_authentication`, `not_found`, ...
    pub error: String,
    pub error_description: String,
    /// Countersign's stable code (`client.nonce_replayed`, `refused.over_cap`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
}

/// How an [`ApiClient`] proves which client it is.
#[derive(Clone)]
enum Credential {
    Secret(String),
    Key(Box<SigningKey>),
}

/// A client of the kiosk API, authenticated as one relying application.
#[derive(Clone)]
pub struct ApiClient {
    host_port: String,
    pin: KioskPin,
    client_id: String,
    credential: Credential,
    timeout: Duration,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("host_port", &self.host_port)
            .field("client_id", &self.client_id)
            .field(
                "credential",
                &match self.credential {
                    Credential::Secret(_) => "secret <redacted>",
                    Credential::Key(_) => "ed25519 key <redacted>",
                },
            )
            .finish()
    }
}

impl ApiClient {
    /// `base` is `https://127.0.0.1:PORT` (or `localhost`, `[::1]`), the
    /// kiosk the one `pin` names; the client authenticates with HTTP Basic
    /// (id and secret), sent only once the server proved it is that kiosk.
    pub fn new(
        base: &str,
        pin: &KioskPin,
        client_id: &str,
        secret: &str,
    ) -> Result<ApiClient, AssertionError> {
        Self::build(base, pin, client_id, Credential::Secret(secret.into()))
    }

    /// As [`ApiClient::new`], but every request is signed with the client's
    /// registered Ed25519 key (fresh timestamp and nonce each time).
    pub fn with_key(
        base: &str,
        pin: &KioskPin,
        client_id: &str,
        key: SigningKey,
    ) -> Result<ApiClient, AssertionError> {
        Self::build(base, pin, client_id, Credential::Key(Box::new(key)))
    }

    fn build(
        base: &str,
        pin: &KioskPin,
        client_id: &str,
        credential: Credential,
    ) -> Result<ApiClient, AssertionError> {
        pin.validate()?;
        let rest = base
            .trim_end_matches('/')
            .strip_prefix("https://")
            .ok_or_else(|| {
                AssertionError::Api(format!(
                    "{base}: the kiosk API is https:// on loopback (TLS to the pinned certificate)"
                ))
            })?;
        let host = rest
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(rest)
            .trim_matches(['[', ']']);
        if !matches!(host, "127.0.0.1" | "localhost" | "::1") {
            return Err(AssertionError::Api(format!(
                "{base}: the kiosk API is loopback only (127.0.0.1)"
            )));
        }
        Ok(ApiClient {
            host_port: rest.into(),
            pin: pin.clone(),
            client_id: client_id.into(),
            credential,
            timeout: Duration::from_secs(10),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// One request; returns the status code and the body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        authenticate: bool,
    ) -> Result<(u16, Vec<u8>), AssertionError> {
        let err = |e: std::io::Error| AssertionError::Api(format!("{}: {e}", self.host_port));
        // The handshake is complete, and the server proved it is the
        // pinned kiosk, before anything below is written.
        let mut s = connect(&self.host_port, &self.pin, self.timeout)?;
        let payload = body
            .map(|b| serde_json::to_vec(b).expect("serialisable"))
            .unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n",
            self.host_port
        );
        if authenticate {
            head.push_str(&format!(
                "Authorization: {}\r\n",
                self.authorization(method, path, &payload)
            ));
        }
        if body.is_some() {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                payload.len()
            ));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).map_err(err)?;
        s.write_all(&payload).map_err(err)?;
        s.flush().map_err(err)?;
        let mut raw = vec![];
        if let Err(e) = s.read_to_end(&mut raw) {
            // A peer that closes without close_notify after a whole answer.
            if raw.is_empty() {
                return Err(err(e));
            }
        }
        parse_response(&raw)
    }

    /// The `Authorization` value for one request.
    pub fn authorization(&self, method: &str, path: &str, body: &[u8]) -> String {
        match &self.credential {
            Credential::Secret(secret) => format!(
                "Basic {}",
                BASE64.encode(format!("{}:{secret}", self.client_id).as_bytes())
            ),
            Credential::Key(key) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                sign_request(key, &self.client_id, method, path, body, now, &new_nonce())
            }
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        authenticate: bool,
    ) -> Result<T, AssertionError> {
        let (code, bytes) = self.call(method, path, body, authenticate)?;
        if !(200..300).contains(&code) {
            let msg = serde_json::from_slice::<ApiErrorBody>(&bytes)
                .map(|e| {
                    if e.code.is_empty() {
                        format!("{}: {}", e.error, e.error_description)
                    } else {
                        format!("{} [{}]: {}", e.error, e.code, e.error_description)
                    }
                })
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(AssertionError::Api(format!("HTTP {code}: {msg}")));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| AssertionError::Api(format!("unexpected answer to {path}: {e}")))
    }

    /// The key to verify assertions with: the pinned one, once the JWKS
    /// the API serves was found to be exactly that key
    /// ([`AssertionError::KeyMismatch`] otherwise).
    pub fn jwks(&self) -> Result<Jwks, AssertionError> {
        let served: Jwks = self.json("GET", "/.well-known/jwks.json", None, false)?;
        self.pin.check_served(&served)
    }

    /// The pin this client trusts.
    pub fn pin(&self) -> &KioskPin {
        &self.pin
    }

    pub fn request_stepup(&self, req: &StepUpRequest) -> Result<StepUpTicket, AssertionError> {
        let body = serde_json::to_value(req).expect("serialisable");
        self.json("POST", "/v1/stepup", Some(&body), true)
    }

    pub fn stepup_status(&self, request_id: &str) -> Result<StepUpStatus, AssertionError> {
        self.json("GET", &format!("/v1/stepup/{request_id}"), None, true)
    }

    pub fn request_breakglass(
        &self,
        req: &BreakGlassRequest,
    ) -> Result<StepUpTicket, AssertionError> {
        let body = serde_json::to_value(req).expect("serialisable");
        self.json("POST", "/v1/breakglass", Some(&body), true)
    }

    pub fn breakglass_status(&self, request_id: &str) -> Result<StepUpStatus, AssertionError> {
        self.json("GET", &format!("/v1/breakglass/{request_id}"), None, true)
    }
}

impl OverrideStatusSource for ApiClient {
    fn override_status(&self, id: &str) -> Result<Option<OverrideStatus>, AssertionError> {
        let (code, bytes) = self
            .call("GET", &format!("/v1/overrides/{id}"), None, true)
            .map_err(|e| AssertionError::StatusUnavailable(e.to_string()))?;
        match code {
            200 => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| AssertionError::StatusUnavailable(e.to_string())),
            404 => Ok(None),
            _ => Err(AssertionError::StatusUnavailable(format!(
                "HTTP {code}: {}",
                String::from_utf8_lossy(&bytes)
            ))),
        }
    }
}

/// A TLS connection to the pinned kiosk, handshake done.
pub struct PinnedStream(rustls::StreamOwned<rustls::ClientConnection, TcpStream>);

impl std::fmt::Debug for PinnedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinnedStream")
    }
}

impl Read for PinnedStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for PinnedStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Connects to `host_port` and completes a TLS handshake that accepts only
/// the pinned certificate, with the server proving it holds its key. No
/// application byte is written before this returns `Ok`; a server with
/// another certificate is [`AssertionError::NotPinnedKiosk`].
pub fn connect(
    host_port: &str,
    pin: &KioskPin,
    timeout: Duration,
) -> Result<PinnedStream, AssertionError> {
    let err = |e: std::io::Error| AssertionError::Api(format!("{host_port}: {e}"));
    let mut tcp = TcpStream::connect(host_port).map_err(err)?;
    tcp.set_read_timeout(Some(timeout)).map_err(err)?;
    tcp.set_write_timeout(Some(timeout)).map_err(err)?;
    let (config, verifier) = pin.tls_config();
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let mut conn = rustls::ClientConnection::new(Arc::clone(&config), name)
        .map_err(|e| AssertionError::Api(format!("{host_port}: TLS: {e}")))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            let seen = verifier
                .seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            return Err(match seen {
                Some(presented) if presented != pin.tls_cert_sha256 => {
                    AssertionError::NotPinnedKiosk {
                        address: host_port.into(),
                        presented,
                        pinned: pin.tls_cert_sha256.clone(),
                    }
                }
                _ => AssertionError::Api(format!(
                    "{host_port}: TLS handshake with the pinned kiosk failed ({e}); nothing was sent"
                )),
            });
        }
    }
    Ok(PinnedStream(rustls::StreamOwned::new(conn, tcp)))
}

fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), AssertionError> {
    let bad = |w: &str| AssertionError::Api(format!("malformed HTTP response: {w}"));
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("header not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| bad("status line"))?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k == "content-length" {
                length = v.parse::<usize>().ok();
            }
        }
    }
    let body = &raw[end + 4..];
    if chunked {
        let mut out = vec![];
        let mut rest = body;
        loop {
            let nl = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("chunk size"))?;
            let size_txt = std::str::from_utf8(&rest[..nl]).map_err(|_| bad("chunk size"))?;
            let size = usize::from_str_radix(size_txt.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("chunk size"))?;
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            if rest.len() < size {
                return Err(bad("short chunk"));
            }
            out.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or(&[]);
        }
        return Ok((status, out));
    }
    let body = match length {
        Some(n) if n <= body.len() => &body[..n],
        _ => body,
    };
    Ok((status, body.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> KioskPin {
        let vk = SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        KioskPin::new("urn:countersign:kiosk:k", &vk, b"a certificate")
    }

    #[test]
    fn only_pinned_tls_to_loopback() {
        let p = pin();
        assert!(ApiClient::new("https://127.0.0.1:8080", &p, "a", "b").is_ok());
        assert!(ApiClient::new("https://localhost:1", &p, "a", "b").is_ok());
        assert!(ApiClient::new("https://[::1]:1", &p, "a", "b").is_ok());
        assert!(ApiClient::new("https://10.0.0.1:1", &p, "a", "b").is_err());
        // Plain HTTP would send the secret to whoever answers.
        assert!(ApiClient::new("http://127.0.0.1:1", &p, "a", "b").is_err());
        let mut broken = p.clone();
        broken.key_thumbprint = "x".repeat(43);
        let e = ApiClient::new("https://127.0.0.1:1", &broken, "a", "b").unwrap_err();
        assert_eq!(e.code(), countersign_codes::Code::KioskPinInvalid);
        assert!(!format!(
            "{:?}",
            ApiClient::new("https://127.0.0.1:1", &p, "a", "s3cret").unwrap()
        )
        .contains("s3cret"));
    }

    #[test]
    fn a_served_key_other_than_the_pin_is_refused() {
        let p = pin();
        assert_eq!(p.check_served(&p.jwks()).unwrap(), p.jwks());
        let other = Jwks::for_key(&SigningKey::from_bytes(&[4u8; 32]).verifying_key());
        let e = p.check_served(&other).unwrap_err();
        assert_eq!(e.code(), countersign_codes::Code::KioskKeyMismatch);
        // The pinned key plus another is not the pinned key either.
        let mut both = p.jwks();
        both.keys.extend(other.keys);
        assert_eq!(
            p.check_served(&both).unwrap_err().code(),
            countersign_codes::Code::KioskKeyMismatch
        );
    }

    #[test]
    fn parses_plain_and_chunked() {
        let (c, b) = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((c, b.as_slice()), (200, &b"{}"[..]));
        let (c, b) = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((c, b.as_slice()), (404, &b"abcde"[..]));
    }
}
