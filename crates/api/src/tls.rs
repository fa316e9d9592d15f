//! The API's TLS (issue 14, item 1): a self-signed certificate the
//! relying applications pin by its SHA-256, so a stand-in on the kiosk's
//! port cannot finish a handshake with them and never sees a request.
//!
//! The certificate and its private key (ECDSA P-256, made with rcgen) are
//! one file, `api-tls.pem` in the data dir, mode 0600, made once (at the
//! first `client add`, `api pin` or `api serve`) and kept: the pin of every
//! registered client depends on it. A lost or replaced file means a new
//! certificate, and every relying application must be given the new pin.
//!
//! TLS is terminated here with rustls; each connection, once its handshake
//! is done, is relayed to the HTTP server (tiny_http) on a Unix socket in
//! a directory of its own (0700), so plaintext never crosses a port
//! another process could reach.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_assertion::pin::{cert_sha256, KioskPin};
use countersign_engine::Engine;

use crate::ApiError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The certificate and key file in the data dir.
pub const TLS_FILE: &str = "api-tls.pem";

/// How long a connection may sit idle.
const IDLE: Duration = Duration::from_secs(60);

/// The API's certificate (DER) and private key.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert_sha256", &cert_sha256(self.cert.as_ref()))
            .finish()
    }
}

fn tls_err(path: &Path, what: &str) -> ApiError {
    ApiError::Tls(format!("{}: {what}", path.display()))
}

impl Identity {
    /// Reads the data dir's certificate and key, making them first if
    /// there are none (two processes racing both end with the same one:
    /// the file is linked into place only if absent).
    pub fn load_or_create(data_dir: &Path) -> Result<Identity, ApiError> {
        let path = data_dir.join(TLS_FILE);
        if !path.exists() {
            create(&path)?;
        }
        let pem = std::fs::read(&path).map_err(|e| tls_err(&path, &format!("reading: {e}")))?;
        let cert = CertificateDer::from_pem_slice(&pem)
            .map_err(|e| tls_err(&path, &format!("no certificate in it ({e})")))?;
        let key = PrivateKeyDer::from_pem_slice(&pem)
            .map_err(|e| tls_err(&path, &format!("no private key in it ({e})")))?;
        Ok(Identity { cert, key })
    }

    pub fn sha256(&self) -> String {
        cert_sha256(self.cert.as_ref())
    }
}

fn create(path: &Path) -> Result<(), ApiError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .map_err(|e| tls_err(path, &format!("making a certificate: {e}")))?;
    let pem = format!("{}{}", made.cert.pem(), made.key_pair.serialize_pem());
    let dir = path.parent().unwrap_or(Path::new("."));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{TLS_FILE}.tmp-{}-{nanos}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(pem.as_bytes())?;
        f.sync_all()
    };
    let r = write().and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    });
    let _ = std::fs::remove_file(&tmp);
    r.map_err(|e| tls_err(path, &format!("writing the API's TLS certificate: {e}")))
}

/// The pin a relying application needs for the kiosk in `data_dir`: its
/// issuer, key and the API's certificate digest (made if there is none).
pub fn pin(data_dir: &Path) -> Result<KioskPin, ApiError> {
    let e = Engine::open(data_dir)?;
    let id = Identity::load_or_create(data_dir)?;
    let jwks = e.jwks();
    let jwk = jwks
        .keys
        .first()
        .cloned()
        .ok_or_else(|| ApiError::Tls("the kiosk has no public key to pin".into()))?;
    let vk = {
        use data_encoding::BASE64URL_NOPAD;
        let bytes = BASE64URL_NOPAD
            .decode(jwk.x.as_bytes())
            .map_err(|_| ApiError::Tls("the kiosk's JWK is malformed".into()))?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| ApiError::Tls("the kiosk's JWK is malformed".into()))?;
        countersign_assertion::VerifyingKey::from_bytes(&arr)
            .map_err(|_| ApiError::Tls("the kiosk's JWK is malformed".into()))?
    };
    Ok(KioskPin::new(&e.issuer(), &vk, id.cert.as_ref()))
}

pub(crate) fn server_config(id: &Identity) -> Result<Arc<rustls::ServerConfig>, ApiError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let c = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![id.cert.clone()], id.key.clone_key())
        })
        .map_err(|e| ApiError::Tls(format!("the API's TLS configuration: {e}")))?;
    Ok(Arc::new(c))
}

/// Accepts TLS connections on `listener` until `closed`, relaying each to
/// the HTTP server on `inner`.
pub(crate) fn accept_loop(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    inner: PathBuf,
    closed: Arc<AtomicBool>,
) {
    for conn in listener.incoming() {
        if closed.load(Ordering::SeqCst) {
            break;
        }
        let Ok(tcp) = conn else { continue };
        let (config, inner) = (config.clone(), inner.clone());
        std::thread::spawn(move || {
            let _ = relay(tcp, config, &inner);
        });
    }
}

fn lock(
    c: &Mutex<rustls::ServerConnection>,
) -> std::sync::MutexGuard<'_, rustls::ServerConnection> {
    c.lock().unwrap_or_else(|p| p.into_inner())
}

/// One connection: the handshake first (a client that refuses the
/// certificate leaves here), then bytes both ways until either side closes.
fn relay(
    mut tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    inner: &Path,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(IDLE))?;
    tcp.set_write_timeout(Some(IDLE))?;
    let mut conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    let http = UnixStream::connect(inner)?;
    http.set_read_timeout(Some(IDLE))?;
    let conn = Arc::new(Mutex::new(conn));

    // The HTTP server's answers, encrypted back to the client.
    let back = {
        let (conn, mut tcp_w, mut http_r) = (conn.clone(), tcp.try_clone()?, http.try_clone()?);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = match http_r.read(&mut buf) {
                    Ok(0) | Err(_) => 0,
                    Ok(n) => n,
                };
                let mut c = lock(&conn);
                if n == 0 {
                    c.send_close_notify();
                } else if c.writer().write_all(&buf[..n]).is_err() {
                    break;
                }
                while c.wants_write() {
                    if c.write_tls(&mut tcp_w).is_err() {
                        break;
                    }
                }
                if n == 0 {
                    let _ = tcp_w.shutdown(Shutdown::Write);
                    break;
                }
            }
        })
    };

    // The client's requests, decrypted to the HTTP server. The last
    // handshake read may already have brought the first request's records
    // along: they are decrypted and relayed before waiting for more.
    let mut http_w = http;
    let mut buf = [0u8; 16 * 1024];
    let mut n = 0;
    let mut http_gone = false;
    loop {
        let mut c = lock(&conn);
        let mut plain = vec![];
        // read_tls takes what fits in its buffer: feed it all, processing
        // as it goes.
        let mut rest = &buf[..n];
        let r = loop {
            let fed = if rest.is_empty() {
                Ok(0) // (read_tls of nothing would mean the client closed)
            } else {
                c.read_tls(&mut rest)
            };
            let step = fed.and_then(|_| {
                c.process_new_packets().map_err(std::io::Error::other)?;
                match c.reader().read_to_end(&mut plain) {
                    Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => Err(e),
                    _ => Ok(()),
                }
            });
            if step.is_err() || rest.is_empty() {
                break step;
            }
        };
        // Alerts and key updates to send back.
        while c.wants_write() {
            if c.write_tls(&mut tcp).is_err() {
                break;
            }
        }
        drop(c);
        if r.is_err() {
            break;
        }
        // The HTTP server may have answered and closed before reading
        // everything (a body over the cap): the rest is read and dropped
        // until the client closes, so the client is not reset before it
        // reads the answer.
        if !plain.is_empty() && !http_gone && http_w.write_all(&plain).is_err() {
            http_gone = true;
        }
        n = match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
    }
    let _ = http_w.shutdown(Shutdown::Write);
    let _ = back.join();
    Ok(())
}
