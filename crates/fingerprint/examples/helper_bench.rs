//! Latency of the reader in a helper process (what the desktop app does per
//! attempt: start the helper, open libfprint's virtual_image reader, verify
//! one impression, close) against the same reader on a thread in process.
//! Prints timings; not a test and asserts nothing about them.
//!
//! cargo run -p countersign-fingerprint --example helper_bench -- [ROUNDS]
//! (the helper is the crate's countersign-fp-helper binary next to this
//! example; build it first: cargo build -p countersign-fingerprint; the crate is
//! optimised in the dev profile too)

use std::time::{Duration, Instant};

use countersign_fingerprint::synth::MasterPrint;
use countersign_fingerprint::{
    virtual_socket_in, Finger, HelperCommand, Reader, ReaderSpec, VirtualFeeder,
};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(name: &str, v: &mut [f64]) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "{name:<44} mean {mean:7.1} ms  median {:7.1} ms  max {:7.1} ms  (n={})",
        v[v.len() / 2],
        v[v.len() - 1],
        v.len()
    );
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let exe = std::env::current_exe().unwrap();
    let helper_path = exe
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("countersign-fp-helper");
    assert!(
        helper_path.exists(),
        "build the helper first: {}",
        helper_path.display()
    );
    let helper = HelperCommand::new(helper_path, &[]);
    let m = MasterPrint::generate(1);
    let timeout = Duration::from_secs(20);

    // The template, enrolled once in process.
    let dir = tempfile::tempdir().unwrap();
    let socket = virtual_socket_in(dir.path());
    let mut r = Reader::open(
        ReaderSpec::Virtual {
            socket: socket.clone(),
        },
        timeout,
    )
    .unwrap();
    let mut f = VirtualFeeder::new(&socket);
    for n in 0..r.enroll_stages() {
        f.push_image(m.impression(n));
    }
    let template = r
        .enroll(Finger::RightIndexFinger, &mut |e| f.on_event(e))
        .unwrap()
        .template;
    r.close();

    for in_helper in [false, true] {
        let (mut open, mut verify, mut total) = (vec![], vec![], vec![]);
        for i in 0..rounds {
            let dir = tempfile::tempdir().unwrap();
            let socket = virtual_socket_in(dir.path());
            let spec = ReaderSpec::Virtual {
                socket: socket.clone(),
            };
            let t0 = Instant::now();
            let mut r = if in_helper {
                Reader::open_in_helper(&helper, spec, timeout).unwrap()
            } else {
                Reader::open(spec, timeout).unwrap()
            };
            let t1 = Instant::now();
            let mut f = VirtualFeeder::new(&socket);
            f.push_image(m.impression(5 + (i as u32 % 3)));
            let v = r.verify(&template, &mut |e| f.on_event(e)).unwrap();
            assert!(v.matched);
            let t2 = Instant::now();
            r.close();
            let t3 = Instant::now();
            open.push(ms(t1 - t0));
            verify.push(ms(t2 - t1));
            total.push(ms(t3 - t0));
        }
        let w = if in_helper {
            "helper process"
        } else {
            "in process"
        };
        stats(&format!("{w}: open"), &mut open);
        stats(&format!("{w}: verify (genuine, matched)"), &mut verify);
        stats(&format!("{w}: open + verify + close"), &mut total);
    }
}
