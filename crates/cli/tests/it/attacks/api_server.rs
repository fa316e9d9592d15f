//! Support for the attacks on the local API: `countersign api serve` as a
//! real process (optionally under a given umask), and raw HTTP/1.1
//! exchanges over TLS to the pinned server, so a test controls every byte
//! of the request.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{Cs, BIN};

/// A `Command` running `countersign --data-dir D args…` under `umask`
/// (`sh -c 'umask U; exec …'`), so the child creates files with that umask.
pub fn umask_command(cs: &Cs, umask: &str, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("umask {umask}; exec \"$@\""))
        .arg("sh")
        .arg(BIN)
        .arg("--data-dir")
        .arg(&cs.data)
        .args(args)
        .env_remove("COUNTERSIGN_DATA_DIR")
        .env_remove("COUNTERSIGN_SECRET")
        .env("COUNTERSIGN_STATE_DIR", &cs.state)
        .env("RUST_BACKTRACE", "0")
        .current_dir(cs.root());
    c
}

/// `countersign api serve` on an ephemeral port, stopped with SIGTERM.
#[derive(Debug)]
pub struct ApiProc {
    child: Option<Child>,
    pub addr: SocketAddr,
}

impl ApiProc {
    pub fn start(cs: &Cs, umask: &str) -> ApiProc {
        let port_file: PathBuf = cs
            .root()
            .join(format!("api-port-{}", rand::random::<u32>()));
        let child = umask_command(
            cs,
            umask,
            &[
                "api",
                "serve",
                "--port",
                "0",
                "--port-file",
                port_file.to_str().unwrap(),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning countersign api serve");
        let mut p = ApiProc {
            child: Some(child),
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        let start = Instant::now();
        while !port_file.exists() {
            if let Some(status) = p.child.as_mut().unwrap().try_wait().unwrap() {
                let o = p.child.take().unwrap().wait_with_output().unwrap();
                panic!(
                    "api serve exited at start ({status}): {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the API did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let port: u16 = std::fs::read_to_string(&port_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        p.addr = SocketAddr::from(([127, 0, 0, 1], port));
        pin_server(cs, p.addr);
        p
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// SIGTERM, then the process's output (it flushes what it holds and exits 0).
    pub fn stop(mut self) -> Output {
        let child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        child.wait_with_output().unwrap()
    }
}

impl Drop for ApiProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
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
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Takes the kiosk pin of `cs` (`api pin`), as a relying application
/// does, for the server at `addr`: [`try_raw`] connects to it pinned.
pub fn pin_server(cs: &Cs, addr: SocketAddr) {
    let pin_file = cs.root().join(format!("kiosk-pin-{}.json", addr.port()));
    crate::helpers::expect_ok(
        &cs.run(&["api", "pin", "--out", pin_file.to_str().unwrap()]),
        "api pin",
    );
    PINS.lock().unwrap().insert(
        addr,
        countersign_assertion::pin::KioskPin::load(&pin_file).unwrap(),
    );
}

/// The pin of each server these tests started, by address.
static PINS: Mutex<BTreeMap<SocketAddr, countersign_assertion::pin::KioskPin>> =
    Mutex::new(BTreeMap::new());

/// One raw HTTP/1.1 exchange over TLS to the pinned server at `addr`.
/// `None` when the server closed the connection without an answer (it died).
pub fn try_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> Option<Resp> {
    let pin = PINS.lock().unwrap().get(&addr).cloned()?;
    let mut s =
        countersign_assertion::client::connect(&addr.to_string(), &pin, Duration::from_secs(60))
            .ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(a) = auth {
        head.push_str(&format!("Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).ok()?;
    let _ = s.write_all(body);
    let _ = s.flush();
    let mut out = vec![];
    let _ = s.read_to_end(&mut out);
    let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = serde_json::from_slice(&out[end + 4..]).unwrap_or(Value::Null);
    Some(Resp {
        status,
        headers,
        body,
    })
}

pub fn raw(addr: SocketAddr, method: &str, path: &str, auth: Option<&str>, body: &[u8]) -> Resp {
    try_raw(addr, method, path, auth, body)
        .unwrap_or_else(|| panic!("no answer to {method} {path}: the server died"))
}

pub fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("{id}:{secret}").as_bytes())
    )
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
