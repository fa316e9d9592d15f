//! TEST HELPER, not part of the product: used by the crash test.
//!
//! `ledger-crash-worker <db> <key-dir> <run-id>` opens the ledger and appends
//! events forever, printing `<seq> <run-id> <n>` to stdout (flushed) after
//! each append returns. The test kills it with SIGKILL at a random moment and
//! checks every printed (acknowledged) event survived.
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: ledger-crash-worker <db> <key-dir> <run-id>");
        std::process::exit(2);
    }
    let keys = countersign_ledger::Keys::load(std::path::Path::new(&args[2])).unwrap_or_else(|e| {
        eprintln!("ledger-crash-worker: {e}");
        std::process::exit(1)
    });
    let mut ledger = countersign_ledger::Ledger::open(std::path::Path::new(&args[1]), keys)
        .unwrap_or_else(|e| {
            eprintln!("ledger-crash-worker: {e}");
            std::process::exit(1)
        });
    let run: u64 = args[3].parse().expect("run id");
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let ev = countersign_ledger::NewEvent {
            ts_ms: n as i64,
            kind: "crash.test".into(),
            index: countersign_ledger::EventIndex {
                person: Some(format!("run-{run}")),
                ..Default::default()
            },
            body: serde_json::json!({"run": run, "n": n}),
        };
        let r = ledger.append(&ev).unwrap_or_else(|e| {
            eprintln!("ledger-crash-worker: {e}");
            std::process::exit(1)
        });
        writeln!(out, "{} {run} {n}", r.seq)
            .and_then(|_| out.flush())
            .expect("stdout");
    }
}
