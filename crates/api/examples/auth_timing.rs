//! Times failed HTTP Basic authentications at the real API (in-process
//! server on 127.0.0.1, a demo data dir): a known client id with a wrong
//! secret against an unknown id, 200 requests each, interleaved, medians.
//! The rate limit is raised for the measurement. BENCHMARKS.md records the
//! numbers ("API: known and unknown client ids").
//!
//!     cargo run --release -p countersign-api --example auth_timing [N]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;

use countersign_assertion::pin::KioskPin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use countersign_engine::{AuthLimits, Engine, InitOptions, NewClientCredential, SystemClock};

fn call(addr: SocketAddr, pin: &KioskPin, id: &str) -> (u16, f64) {
    let auth = data_encoding::BASE64.encode(format!("{id}:not-the-secret-0000").as_bytes());
    let body = br#"{"scope":["payments.approve"],"nonce":"n"}"#;
    let t = Instant::now();
    let mut s = countersign_assertion::client::connect(
        &addr.to_string(),
        pin,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    write!(
        s,
        "POST /v1/stepup HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic {auth}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    s.flush().unwrap();
    let mut out = vec![];
    let _ = s.read_to_end(&mut out);
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let status = String::from_utf8_lossy(&out[..12])
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    (status, ms)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
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
    // ada, the demo's admin, registers the client with her two factors.
    let key = data_encoding::BASE32_NOPAD
        .decode(b"MNXXK3TUMVZHG2LHNYWWCZDB")
        .unwrap();
    let code = countersign_core::auth::totp::code_at(&key, e.now() / 1000, 30, 6);
    let pass = e
        .admin_sign_in("ada", "ada-demo-pass", &code, "auth_timing setup")
        .unwrap();
    e.add_client(
        &pass,
        "payments-app",
        "Payments",
        BTreeSet::from(["payments.approve".to_string()]),
        NewClientCredential::Secret("payments-app-secret-0123".into()),
    )
    .unwrap();
    drop(e);
    let limits = AuthLimits {
        per_client: u32::MAX,
        per_source: u32::MAX,
        ..AuthLimits::default()
    };
    let server = countersign_api::Server::bind_with_limits(&data, 0, limits).unwrap();
    let addr = server.local_addr();
    let pin = server.pin().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let t = std::thread::spawn(move || server.serve_until(&s2));
    // Warm up (first engine open, page cache).
    for _ in 0..5 {
        call(addr, &pin, "payments-app");
        call(addr, &pin, "ghost-app");
    }
    let (mut known, mut unknown) = (vec![], vec![]);
    for i in 0..n {
        let (a, b) = if i % 2 == 0 {
            ("payments-app", "ghost-app")
        } else {
            ("ghost-app", "payments-app")
        };
        for id in [a, b] {
            let (status, ms) = call(addr, &pin, id);
            assert_eq!(status, 401);
            if id == "payments-app" {
                known.push(ms)
            } else {
                unknown.push(ms)
            }
        }
    }
    println!(
        "{n} failed Basic authentications each: known id (wrong secret) median {:.1} ms, unknown id median {:.1} ms",
        median(known),
        median(unknown)
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    t.join().unwrap();
}
