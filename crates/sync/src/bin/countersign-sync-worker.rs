//! Test helper (not part of the product): sync one ledger until caught up.
//! Used by the "kiosk process killed mid-upload" test, which SIGKILLs it.
//!
//! Usage: countersign-sync-worker LEDGER_DB KEYS_DIR KIOSK ENDPOINT BUCKET CONCURRENCY

use countersign_ledger::{Keys, Ledger};
use countersign_sync::testkit::{TEST_KEY, TEST_SECRET};
use countersign_sync::{SyncConfig, Syncer};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        eprintln!(
            "usage: countersign-sync-worker LEDGER_DB KEYS_DIR KIOSK ENDPOINT BUCKET CONCURRENCY"
        );
        std::process::exit(2);
    }
    let keys = Keys::load(std::path::Path::new(&a[2])).expect("keys");
    let ledger = Ledger::open(std::path::Path::new(&a[1]), keys).expect("ledger");
    let mut cfg = SyncConfig::for_endpoint(&a[4], &a[5], TEST_KEY, TEST_SECRET);
    cfg.concurrency = a[6].parse().expect("concurrency");
    cfg.backoff_min_ms = 50;
    cfg.backoff_max_ms = 1000;
    let s = Syncer::new(ledger, &a[3], cfg, &Default::default()).expect("syncer");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    match rt.block_on(s.run_until_caught_up(1000)) {
        Ok(r) => println!("{}", serde_json::to_string(&r).unwrap_or_default()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
