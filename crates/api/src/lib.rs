//! The local step-up API: HTTPS on 127.0.0.1 only (a self-signed
//! certificate the relying applications pin, see [`tls`]), one relying application
//! per registered client, authenticated by HTTP Basic (client id and
//! secret) or by Ed25519 signed requests (see
//! `countersign_assertion::signed_request`).
//!
//! | method and path | who | answer |
//! | --- | --- | --- |
//! | `GET /.well-known/jwks.json` | anyone on the machine | the kiosk's public key |
//! | `POST /v1/stepup` | client | `202` ticket: `request_id`, `status_url` to poll |
//! | `GET /v1/stepup/{id}` | the client that asked | `pending`, `complete` with the assertion, or `failed` with an RFC 9470 error |
//! | `POST /v1/breakglass` | client named by the principal | `202` ticket |
//! | `GET /v1/breakglass/{id}` | the client that asked | `pending` (waiting for a supervisor), `complete` with the override-backed assertion, or `failed` |
//! | `GET /v1/overrides/{id}` | client | an override's live status (`active`, `used`, `expired`, `revoked`) |
//!
//! Every error is JSON `{"error", "error_description", "code"}`: `error`
//! in OAuth / RFC 9470 vocabulary, `code` Countersign's stable code. Bodies
//! over [`MAX_BODY`] are refused with 413, a known path with the wrong
//! method with 405 and an `Allow` header.
//!
//! Every request opens the data dir afresh, so the server sees what the
//! kiosk window or a headless `countersign stepup --request` wrote. Issued
//! tokens are kept in memory so polling returns the same one; the ledger
//! holds only their jti.
//!
//! **It gives nothing away.** Failed authentications are limited per
//! client id and per source address (429 `client.rate_limited` with
//! `Retry-After`, before any secret is checked) and recorded as aggregates,
//! not one event per request; known and unknown ids take the same argon2
//! check (`countersign_engine::ClientAuthGuard`, which this server keeps for
//! its lifetime and flushes on [`Server::serve_until`]'s idle ticks and at
//! its end). A client sees only its own requests and overrides: another
//! client's id is the same 404 as one that does not exist. Numbers out of
//! range are a 400; a handler that panics anyway answers 500 and the server
//! goes on.

mod reply;
mod routes;
pub mod tls;

use std::collections::HashMap;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_assertion::pin::KioskPin;
use countersign_assertion::signed_request::is_signed;
use countersign_engine::{
    AuthLimits, ClientAuthGuard, ClientView, Clock, Engine, EngineError, SignedRequest, SystemClock,
};
use data_encoding::BASE64;

use countersign_engine::Code;
use reply::{engine_error, error, ok, Reply};

/// Largest request body accepted, bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot listen on 127.0.0.1:{port}: {message}")]
    Bind { port: u16, message: String },
    #[error("the API's TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ApiError {
    pub fn code(&self) -> Code {
        match self {
            ApiError::Bind { .. } => Code::ApiBind,
            ApiError::Tls(_) => Code::ApiTls,
            ApiError::Engine(e) => e.code(),
        }
    }
}

/// The running API.
pub struct Server {
    http: tiny_http::Server,
    /// The TLS listener's address.
    addr: SocketAddr,
    pin: KioskPin,
    /// Set when the server is dropped: the TLS acceptor stops.
    closed: Arc<AtomicBool>,
    /// The private directory of the HTTP server's Unix socket.
    _socket_dir: tempfile::TempDir,
    data_dir: PathBuf,
    tokens: Mutex<HashMap<String, String>>,
    guard: Arc<Mutex<ClientAuthGuard>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.local_addr())
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        // Wakes the acceptor so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

/// The routes: a path pattern and the one method it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Jwks,
    StepUpCreate,
    StepUpStatus,
    BreakGlassCreate,
    BreakGlassStatus,
    OverrideStatus,
}

fn route(parts: &[&str]) -> Option<(Route, &'static str)> {
    Some(match parts {
        [".well-known", "jwks.json"] => (Route::Jwks, "GET"),
        ["v1", "stepup"] => (Route::StepUpCreate, "POST"),
        ["v1", "stepup", _] => (Route::StepUpStatus, "GET"),
        ["v1", "breakglass"] => (Route::BreakGlassCreate, "POST"),
        ["v1", "breakglass", _] => (Route::BreakGlassStatus, "GET"),
        ["v1", "overrides", _] => (Route::OverrideStatus, "GET"),
        _ => return None,
    })
}

impl Server {
    /// Listens on 127.0.0.1:`port` (0: an ephemeral port). Never on
    /// another interface.
    pub fn bind(data_dir: impl Into<PathBuf>, port: u16) -> Result<Server, ApiError> {
        Self::bind_with_limits(data_dir, port, AuthLimits::default())
    }

    /// [`Server::bind`] with other limits on failed authentications.
    pub fn bind_with_limits(
        data_dir: impl Into<PathBuf>,
        port: u16,
        limits: AuthLimits,
    ) -> Result<Server, ApiError> {
        let data_dir = data_dir.into();
        // Fail early on a data dir that cannot be opened.
        Engine::open(&data_dir)?;
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let listener = TcpListener::bind(addr).map_err(|e| ApiError::Bind {
            port,
            message: e.to_string(),
        })?;
        Self::from_listener_with_limits(data_dir, listener, limits)
    }

    /// Serves on a listening socket made by someone else: systemd's socket
    /// activation (`countersign-api.socket`, see `countersign api serve`).
    /// The socket must be bound to a loopback address: one on another
    /// interface is refused (`api.bind`), whatever the unit file says.
    pub fn from_listener(
        data_dir: impl Into<PathBuf>,
        listener: TcpListener,
    ) -> Result<Server, ApiError> {
        Self::from_listener_with_limits(data_dir, listener, AuthLimits::default())
    }

    fn from_listener_with_limits(
        data_dir: impl Into<PathBuf>,
        listener: TcpListener,
        limits: AuthLimits,
    ) -> Result<Server, ApiError> {
        let data_dir = data_dir.into();
        Engine::open(&data_dir)?;
        let addr = listener.local_addr().map_err(|e| ApiError::Bind {
            port: 0,
            message: e.to_string(),
        })?;
        if !addr.ip().is_loopback() {
            return Err(ApiError::Bind {
                port: addr.port(),
                message: format!(
                    "the socket passed in is bound to {addr}: the API serves on loopback only"
                ),
            });
        }
        let identity = tls::Identity::load_or_create(&data_dir)?;
        let config = tls::server_config(&identity)?;
        let pin = tls::pin(&data_dir)?;
        let socket_dir = tempfile::Builder::new()
            .prefix("countersign-api-")
            .tempdir()
            .map_err(|e| ApiError::Tls(format!("a directory for the HTTP socket: {e}")))?;
        let inner = socket_dir.path().join("http.sock");
        let http = tiny_http::Server::http_unix(&inner)
            .map_err(|e| ApiError::Tls(format!("the HTTP socket {}: {e}", inner.display())))?;
        let closed = Arc::new(AtomicBool::new(false));
        {
            let closed = closed.clone();
            std::thread::spawn(move || tls::accept_loop(listener, config, inner, closed));
        }
        Ok(Server {
            http,
            addr,
            pin,
            closed,
            _socket_dir: socket_dir,
            data_dir,
            tokens: Mutex::new(HashMap::new()),
            guard: Arc::new(Mutex::new(ClientAuthGuard::new(limits))),
        })
    }

    /// The server's memory of failed authentications (tests read
    /// [`ClientAuthGuard::secret_verifies`] through it).
    pub fn auth_guard(&self) -> Arc<Mutex<ClientAuthGuard>> {
        self.guard.clone()
    }

    fn lock_guard(&self) -> std::sync::MutexGuard<'_, ClientAuthGuard> {
        self.guard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the aggregates of failed authentications whose window ended
    /// (all of them with `all`). Errors are reported on stderr: the server
    /// keeps serving, and the next tick tries again.
    fn flush(&self, all: bool) {
        let mut g = self.lock_guard();
        match g.next_due() {
            None => return,
            Some(t) if !all && SystemClock.now_ms() < t => return,
            Some(_) => {}
        }
        let r = Engine::open(&self.data_dir)
            .and_then(|mut e| e.flush_client_auth_failures(&mut g, all));
        if let Err(e) = r {
            eprintln!(
                "error[{}]: recording failed client authentications: {e}",
                e.code()
            );
        }
    }

    /// The TLS listener's address (127.0.0.1).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// What a relying application pins of this kiosk: its issuer, its key
    /// and the SHA-256 of this server's TLS certificate.
    pub fn pin(&self) -> &KioskPin {
        &self.pin
    }

    /// Serves until `stop` is set (checked every 100 ms), writing the
    /// failed-authentication aggregates whose minute ended when idle, and
    /// all that are left when it stops.
    pub fn serve_until(&self, stop: &AtomicBool) {
        while !stop.load(Ordering::SeqCst) {
            match self.http.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(req)) => self.respond(req),
                Ok(None) => self.flush(false),
                Err(_) => break,
            }
        }
        self.flush(true);
    }

    /// Serves forever.
    pub fn serve(&self) {
        self.serve_until(&AtomicBool::new(false));
    }

    fn respond(&self, mut req: tiny_http::Request) {
        // A bug in a handler must not take the API down for every client.
        let reply =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(&mut req)))
                .unwrap_or_else(|_| error(Code::ApiInternal, "the request could not be handled"));
        let body = serde_json::to_vec(&reply.body).expect("serialisable");
        let mut resp = tiny_http::Response::from_data(body)
            .with_status_code(reply.status)
            .with_header(
                tiny_http::Header::from_bytes("Content-Type", "application/json")
                    .expect("static header"),
            )
            .with_header(
                tiny_http::Header::from_bytes("Cache-Control", "no-store").expect("static header"),
            );
        for (k, v) in &reply.headers {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp = resp.with_header(h);
            }
        }
        let _ = req.respond(resp);
    }

    fn header<'a>(req: &'a tiny_http::Request, name: &str) -> Option<&'a str> {
        req.headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The client, by HTTP Basic or by a signed request.
    fn client(
        &self,
        e: &mut Engine,
        req: &tiny_http::Request,
        method: &str,
        body: &[u8],
    ) -> Result<ClientView, Reply> {
        // Every connection comes through the TLS listener on 127.0.0.1
        // (the HTTP server behind it sees a Unix socket).
        let source = req
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| Ipv4Addr::LOCALHOST.to_string());
        let mut guard = self.lock_guard();
        let auth = Self::header(req, "Authorization").unwrap_or("").trim();
        if is_signed(auth) {
            let signed = SignedRequest {
                authorization: auth,
                method,
                path: req.url(),
                body,
            };
            return e
                .authenticate_signed_request(&mut guard, &source, &signed)
                .map_err(|err| engine_error(&err));
        }
        let basic = auth
            .strip_prefix("Basic ")
            .and_then(|v| BASE64.decode(v.trim().as_bytes()).ok())
            .and_then(|raw| String::from_utf8(raw).ok());
        let Some((id, secret)) = basic.as_deref().and_then(|s| s.split_once(':')) else {
            return Err(error(
                Code::ClientAuthRequired,
                "authenticate as a registered client: HTTP Basic with its id and secret, or a Countersign-Ed25519 signed request",
            ));
        };
        e.authenticate_client(&mut guard, &source, id, secret)
            .map_err(|err| engine_error(&err))
    }

    fn read_body(req: &mut tiny_http::Request) -> Result<Vec<u8>, Reply> {
        let too_large = || {
            error(
                Code::RequestTooLarge,
                format!("the body is over {MAX_BODY} bytes"),
            )
        };
        if req.body_length().is_some_and(|n| n > MAX_BODY) {
            return Err(too_large());
        }
        let mut body = vec![];
        if req
            .as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut body)
            .is_err()
        {
            return Err(error(Code::RequestUnreadable, "the body could not be read"));
        }
        if body.len() > MAX_BODY {
            return Err(too_large());
        }
        Ok(body)
    }

    fn handle(&self, req: &mut tiny_http::Request) -> Reply {
        let method = req.method().as_str().to_ascii_uppercase();
        let path = req.url().split('?').next().unwrap_or("").to_string();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let Some((route, allowed)) = route(&parts) else {
            return error(Code::RequestNoRoute, format!("no route {method} {path}"));
        };
        if method != allowed {
            let mut r = error(
                Code::RequestMethodNotAllowed,
                format!("{path} takes {allowed}, not {method}"),
            );
            r.headers.push(("Allow", allowed.to_string()));
            return r;
        }
        let body = match Self::read_body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut e = match Engine::open(&self.data_dir) {
            Ok(e) => e,
            Err(err) => return engine_error(&err),
        };
        if route == Route::Jwks {
            return ok(200, e.jwks());
        }
        let client = match self.client(&mut e, req, &method, &body) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let id = parts.get(2).copied().unwrap_or_default();
        match route {
            Route::Jwks => ok(200, e.jwks()),
            Route::StepUpCreate => routes::stepup_create(&mut e, &client, &body),
            Route::StepUpStatus => routes::stepup_status(&mut e, &client, id, &self.tokens),
            Route::BreakGlassCreate => routes::breakglass_create(&mut e, &client, &body),
            Route::BreakGlassStatus => routes::breakglass_status(&mut e, &client, id, &self.tokens),
            Route::OverrideStatus => match e.client_override_status(&client.id, id) {
                Ok(Some(s)) => ok(200, s),
                Ok(None) => error(Code::OverrideUnknown, format!("no override {id}")),
                Err(err) => engine_error(&err),
            },
        }
    }
}
