//! The local step-up API: HTTP on 127.0.0.1 only, one relying application
//! per registered client (HTTP Basic: client id and secret).
//!
//! | method and path | who | answer |
//! | --- | --- | --- |
//! | `GET /.well-known/jwks.json` | anyone on the machine | the kiosk's public key |
//! | `POST /v1/stepup` | client | `202` ticket: `request_id`, `status_url` to poll |
//! | `GET /v1/stepup/{id}` | the client that asked | `pending`, `complete` with the assertion, or `failed` with an RFC 9470 error |
//! | `GET /v1/overrides/{id}` | client | an override's live status (`active`, `used`, `expired`, `revoked`) |
//!
//! Every request opens the data dir afresh, so the server sees what the
//! kiosk window or a headless `countersign stepup --request` wrote. Issued
//! tokens are kept in memory so polling returns the same one; the ledger
//! holds only their jti.

use std::collections::HashMap;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use countersign_assertion::client::{ApiErrorBody, StepUpRequest, StepUpStatus, StepUpTicket};
use countersign_engine::{AssertionOutcome, AssertionRequest, ClientView, Engine, EngineError};
use data_encoding::BASE64;
use serde_json::Value;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot listen on 127.0.0.1:{port}: {message}")]
    Bind { port: u16, message: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ApiError {
    pub fn code(&self) -> String {
        match self {
            ApiError::Bind { .. } => "api.bind".into(),
            ApiError::Engine(e) => e.code(),
        }
    }
}

/// The running API.
pub struct Server {
    http: tiny_http::Server,
    data_dir: PathBuf,
    tokens: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.local_addr())
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

struct Reply {
    code: u16,
    body: Value,
    www_authenticate: bool,
}

fn ok(code: u16, body: impl serde::Serialize) -> Reply {
    Reply {
        code,
        body: serde_json::to_value(body).expect("serialisable"),
        www_authenticate: false,
    }
}

fn error(code: u16, error: &str, description: impl Into<String>) -> Reply {
    Reply {
        code,
        body: serde_json::to_value(ApiErrorBody {
            error: error.into(),
            error_description: description.into(),
        })
        .expect("serialisable"),
        www_authenticate: code == 401,
    }
}

fn engine_error(e: &EngineError) -> Reply {
    let code = e.code();
    let status = match code.as_str() {
        "client.auth_failed" => 401,
        "client.scope_not_allowed" => 403,
        "request.unknown" | "override.unknown" => 404,
        c if c.starts_with("refused.") || c == "input.invalid" => 400,
        _ => 500,
    };
    let kind = match status {
        401 => "invalid_client",
        403 => "insufficient_scope",
        404 => "not_found",
        400 => "invalid_request",
        _ => "server_error",
    };
    error(status, kind, format!("[{code}] {e}"))
}

impl Server {
    /// Listens on 127.0.0.1:`port` (0: an ephemeral port). Never on
    /// another interface.
    pub fn bind(data_dir: impl Into<PathBuf>, port: u16) -> Result<Server, ApiError> {
        let data_dir = data_dir.into();
        // Fail early on a data dir that cannot be opened.
        Engine::open(&data_dir)?;
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let http = tiny_http::Server::http(addr).map_err(|e| ApiError::Bind {
            port,
            message: e.to_string(),
        })?;
        Ok(Server {
            http,
            data_dir,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.http
            .server_addr()
            .to_ip()
            .unwrap_or_else(|| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)))
    }

    /// Serves until `stop` is set (checked every 100 ms).
    pub fn serve_until(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            match self.http.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(req)) => self.respond(req),
                Ok(None) => {}
                Err(_) => break,
            }
        }
    }

    /// Serves forever.
    pub fn serve(&self) {
        for req in self.http.incoming_requests() {
            self.respond(req);
        }
    }

    fn respond(&self, mut req: tiny_http::Request) {
        let reply = self.handle(&mut req);
        let body = serde_json::to_vec(&reply.body).expect("serialisable");
        let mut resp = tiny_http::Response::from_data(body)
            .with_status_code(reply.code)
            .with_header(
                tiny_http::Header::from_bytes("Content-Type", "application/json")
                    .expect("static header"),
            )
            .with_header(
                tiny_http::Header::from_bytes("Cache-Control", "no-store").expect("static header"),
            );
        if reply.www_authenticate {
            resp = resp.with_header(
                tiny_http::Header::from_bytes("WWW-Authenticate", "Basic realm=\"countersign\"")
                    .expect("static header"),
            );
        }
        let _ = req.respond(resp);
    }

    fn basic_auth(req: &tiny_http::Request) -> Option<(String, String)> {
        let h = req
            .headers()
            .iter()
            .find(|h| h.field.equiv("Authorization"))?;
        let v = h.value.as_str().strip_prefix("Basic ")?;
        let raw = BASE64.decode(v.trim().as_bytes()).ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (id, secret) = s.split_once(':')?;
        Some((id.into(), secret.into()))
    }

    fn client(&self, e: &mut Engine, req: &tiny_http::Request) -> Result<ClientView, Reply> {
        let Some((id, secret)) = Self::basic_auth(req) else {
            return Err(error(
                401,
                "invalid_client",
                "HTTP Basic authentication with the registered client id and secret is required",
            ));
        };
        e.authenticate_client(&id, &secret)
            .map_err(|err| engine_error(&err))
    }

    fn handle(&self, req: &mut tiny_http::Request) -> Reply {
        let method = req.method().as_str().to_ascii_uppercase();
        let url = req.url().split('?').next().unwrap_or("").to_string();
        let mut e = match Engine::open(&self.data_dir) {
            Ok(e) => e,
            Err(err) => return engine_error(&err),
        };
        if method == "GET" && url == "/.well-known/jwks.json" {
            return ok(200, e.jwks());
        }
        let parts: Vec<&str> = url.trim_matches('/').split('/').collect();
        let known = matches!(
            (method.as_str(), parts.as_slice()),
            ("POST", ["v1", "stepup"])
                | ("GET", ["v1", "stepup", _])
                | ("GET", ["v1", "overrides", _])
        );
        if !known {
            return error(404, "not_found", format!("no route {method} {url}"));
        }
        let client = match self.client(&mut e, req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match (method.as_str(), parts.as_slice()) {
            ("POST", ["v1", "stepup"]) => {
                let mut body = vec![];
                if req
                    .as_reader()
                    .take(64 * 1024)
                    .read_to_end(&mut body)
                    .is_err()
                {
                    return error(400, "invalid_request", "unreadable body");
                }
                let r: StepUpRequest = match serde_json::from_slice(&body) {
                    Ok(r) => r,
                    Err(err) => return error(400, "invalid_request", format!("bad JSON: {err}")),
                };
                let ar = AssertionRequest {
                    scope: r.scope.into_iter().collect(),
                    acr_values: r.acr_values,
                    max_age_s: r.max_age,
                    nonce: r.nonce,
                };
                match e.open_assertion_request(&client, ar) {
                    Ok(s) => ok(
                        202,
                        StepUpTicket {
                            status_url: format!("/v1/stepup/{}", s.session.id),
                            request_id: s.session.id,
                            poll_interval_ms: 500,
                        },
                    ),
                    Err(err) => engine_error(&err),
                }
            }
            ("GET", ["v1", "stepup", id]) => {
                let key = format!("{}\u{0}{id}", client.id);
                if let Some(t) = self.tokens.lock().expect("not poisoned").get(&key) {
                    return ok(
                        200,
                        status(id, "complete", "answered", Some(t.clone()), None),
                    );
                }
                match e.assertion_for(id, &client.id) {
                    Ok(AssertionOutcome::Pending { state }) => {
                        ok(200, status(id, "pending", &state, None, None))
                    }
                    Ok(AssertionOutcome::Issued { token, .. }) => {
                        self.tokens
                            .lock()
                            .expect("not poisoned")
                            .insert(key, token.clone());
                        ok(200, status(id, "complete", "issued", Some(token), None))
                    }
                    Ok(AssertionOutcome::Failed {
                        state,
                        error,
                        error_description,
                    }) => ok(
                        200,
                        status(id, "failed", &state, None, Some((error, error_description))),
                    ),
                    Err(err) => engine_error(&err),
                }
            }
            ("GET", ["v1", "overrides", id]) => match e.override_status(id) {
                Ok(Some(s)) => ok(200, s),
                Ok(None) => error(404, "not_found", format!("no override {id}")),
                Err(err) => engine_error(&err),
            },
            _ => error(404, "not_found", format!("no route {method} {url}")),
        }
    }
}

fn status(
    id: &str,
    status: &str,
    state: &str,
    assertion: Option<String>,
    err: Option<(String, String)>,
) -> StepUpStatus {
    StepUpStatus {
        request_id: id.into(),
        status: status.into(),
        state: state.into(),
        assertion,
        error: err.as_ref().map(|e| e.0.clone()),
        error_description: err.map(|e| e.1),
    }
}
