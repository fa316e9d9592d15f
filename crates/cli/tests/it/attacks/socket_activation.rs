//! `countersign api serve` under systemd socket activation
//! (packaging/countersign-api.socket): it serves TLS on the socket it is
//! handed, and refuses one bound to anything but loopback, whatever a unit
//! file says. `systemd-socket-activate` plays systemd: it listens, and
//! starts the server with the socket as fd 3 on the first connection.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::api_server::{pin_server, try_raw};
use crate::helpers::{stderr, Cs, BIN};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `systemd-socket-activate -l ADDR countersign api serve` (no --port: the
/// socket is the one passed in).
fn activate(cs: &Cs, listen: &str) -> Child {
    Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(listen)
        .arg(format!(
            "--setenv=COUNTERSIGN_STATE_DIR={}",
            cs.state.display()
        ))
        .arg("--setenv=RUST_BACKTRACE=0")
        .arg(BIN)
        .arg("--data-dir")
        .arg(&cs.data)
        .args(["api", "serve"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(cs.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("systemd-socket-activate (package systemd) runs")
}

/// Waits until something listens on `addr` (systemd-socket-activate's socket).
fn wait_listening(addr: SocketAddr, child: &mut Child) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if child.try_wait().unwrap().is_some() {
            let o = std::mem::replace(child, Command::new("true").spawn().unwrap());
            panic!(
                "the activator exited: {}",
                stderr(&o.wait_with_output().unwrap())
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing listens on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_socket_activated_api_answers_pinned_tls_on_the_socket_it_is_handed() {
    let cs = Cs::demo();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut child = activate(&cs, &addr.to_string());
    wait_listening(addr, &mut child);
    pin_server(&cs, addr);
    // The first connection (the probe above) started the server; it
    // answers on the socket it was handed, with the pinned certificate.
    let start = Instant::now();
    let r = loop {
        if let Some(r) = try_raw(addr, "GET", "/.well-known/jwks.json", None, b"") {
            break r;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the server exited: {}",
            stderr(&child.wait_with_output().unwrap())
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no answer on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["keys"].is_array(), "{:?}", r.body);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "SIGTERM stops it cleanly: {}",
        stderr(&o)
    );
}

#[test]
fn a_socket_on_every_interface_is_refused() {
    let cs = Cs::demo();
    let port = free_port();
    let mut child = activate(&cs, &format!("0.0.0.0:{port}"));
    wait_listening(SocketAddr::from(([127, 0, 0, 1], port)), &mut child);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server kept serving"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = child.wait_with_output().unwrap();
    let all = stderr(&o);
    assert_eq!(status.code(), Some(1), "{all}");
    // The activator writes its own lines first; the server's is the last.
    let err = all.lines().last().unwrap_or_default();
    assert!(err.starts_with("error[api.bind]: "), "{all}");
    assert!(err.contains("loopback only"), "{all}");
}
