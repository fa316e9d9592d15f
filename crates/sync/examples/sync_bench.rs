//! Benchmark (not a test): the uploader against raw object_store PUTs of
//! the very same objects to the same SeaweedFS (Object Lock bucket) in the
//! same run, and the catch-up time of a kiosk with many queued events.
//!
//! cargo run -p countersign-sync --example sync_bench -- [EVENTS_FOR_RATE] [BLOBS] [CATCH_UP_EVENTS] [CONCURRENCY]
//! (defaults 5000 1000 100000 16; CATCH_UP_EVENTS 0 skips the catch-up).
//! Prints Markdown for BENCHMARKS.md, with the load average before and
//! after (the server and the client share the machine).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use countersign_ledger::{EventIndex, Keys, Ledger, NewEvent};
use countersign_sync::layout::Layout;
use countersign_sync::testkit::{Weed, TEST_KEY, TEST_SECRET};
use countersign_sync::{SyncConfig, Syncer};
use futures::StreamExt;
use object_store::path::Path as OPath;
use object_store::{ObjectStore, PutMode, PutOptions};
use rand::RngCore;

fn arg(i: usize, d: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn ledger(dir: &std::path::Path) -> Ledger {
    let keys = Keys::generate(&dir.join("keys")).unwrap();
    Ledger::open(&dir.join("ledger.db"), keys).unwrap()
}

fn events(l: &mut Ledger, n: u64) {
    let mut done = 0;
    while done < n {
        let k = (n - done).min(1000);
        let evs: Vec<NewEvent> = (0..k)
            .map(|i| NewEvent {
                ts_ms: 1_700_000_000_000 + (done + i) as i64,
                kind: "stepup.match".into(),
                index: EventIndex {
                    person: Some("olga".into()),
                    outcome: Some("success".into()),
                    ..Default::default()
                },
                body: serde_json::json!({"i": done + i, "score": 0.93, "device": "cam0", "policy": "a1b2c3"}),
            })
            .collect();
        l.append_batch(&evs).unwrap();
        done += k;
    }
}

/// The objects the syncer would upload (key, bytes), in its order.
fn objects(l: &Ledger, layout: &Layout) -> Vec<(String, Vec<u8>)> {
    let mut v = vec![(
        layout.manifest(),
        layout.manifest_bytes(&l.keys().verifying_key_hex()),
    )];
    let mut from = 1;
    loop {
        let evs = l.raw_events(from, 4096).unwrap();
        let Some(last) = evs.last() else { break };
        from = last.seq + 1;
        v.extend(
            evs.iter()
                .map(|e| (layout.event(e.seq, &e.hash_hex), layout.event_bytes(e))),
        );
    }
    for b in l.sync_pending_blobs(0, u32::MAX).unwrap() {
        v.push((layout.blob(&b.sha256_hex), b.sealed));
    }
    v
}

async fn raw_puts(
    store: Arc<dyn ObjectStore>,
    objs: &[(String, Vec<u8>)],
    prefix: &str,
    conc: usize,
) -> f64 {
    let t0 = Instant::now();
    let results: Vec<_> = futures::stream::iter(objs.iter().map(|(k, b)| {
        let store = store.clone();
        async move {
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            store
                .put_opts(
                    &OPath::from(format!("{prefix}/{k}")),
                    Bytes::from(b.clone()).into(),
                    opts,
                )
                .await
        }
    }))
    .buffer_unordered(conc)
    .collect()
    .await;
    assert!(results.iter().all(|r| r.is_ok()));
    objs.len() as f64 / t0.elapsed().as_secs_f64()
}

/// Raw PUTs of `objs` just before and just after the uploader (so neither
/// side gets the fresh or the warmed-up server alone), then the uploader's
/// rate; prints one table row.
async fn compare(label: &str, l: Ledger, kiosk: &str, cfg: &SyncConfig, conc: usize) {
    let layout = Layout::new("", kiosk).unwrap();
    let objs = objects(&l, &layout);
    let s = Syncer::new(l, kiosk, cfg.clone(), &Default::default()).unwrap();
    let before = raw_puts(s.remote().put_store(), &objs, "raw-before", conc).await;
    let t0 = Instant::now();
    let r = s.run_until_caught_up(5).await.unwrap();
    let rate = r.uploaded as f64 / t0.elapsed().as_secs_f64();
    let after = raw_puts(s.remote().put_store(), &objs, "raw-after", conc).await;
    let raw = (before + after) / 2.0;
    let avg = objs.iter().map(|o| o.1.len()).sum::<usize>() / objs.len().max(1);
    println!(
        "| {label} (avg {avg} B per object) | {} | {before:.0} / {after:.0} | {rate:.0} | {:.0} % |",
        r.uploaded,
        100.0 * rate / raw
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_events = arg(1, 5000);
    let n_blobs = arg(2, 1000);
    let n_catch = arg(3, 100_000);
    let conc = arg(4, 16) as usize;
    let tmp = tempfile::tempdir().unwrap();
    let weed = Weed::start(&tmp.path().join("weed"));
    weed.create_locked_bucket("bench", 1);
    let mut cfg = SyncConfig::for_endpoint(&weed.endpoint(), "bench", TEST_KEY, TEST_SECRET);
    cfg.concurrency = conc;
    println!("## Sync (crates/sync)\n");
    println!("load average before: {}", loadavg());
    let profile = if cfg!(debug_assertions) {
        "dev profile, deps at opt-level 1"
    } else {
        "release profile"
    };
    println!("`cargo run [--release] -p countersign-sync --example sync_bench -- {n_events} {n_blobs} {n_catch} {conc}` ({profile}), SeaweedFS 4.48 `weed mini` on 127.0.0.1, bucket with Object Lock and default COMPLIANCE retention, {conc} PUTs in flight, create-only PUT with SHA-256 checksums for both columns. Raw = object_store `put_opts(PutMode::Create)` of the very same objects (bytes and key shapes), also {conc} in flight (a new PUT as soon as one completes), just before and just after the uploader in the same run, after a warm-up of 300 PUTs.\n");
    println!("| workload | objects | raw PUT/s before / after | sync PUT/s | sync / mean raw |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    // Warm the server up (volume allocation on the first writes).
    let warm: Vec<(String, Vec<u8>)> = (0..300)
        .map(|i| (format!("w/{i}"), vec![i as u8; 4096]))
        .collect();
    let store: Arc<dyn ObjectStore> = Arc::new(
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(weed.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name("bench")
            .with_access_key_id(TEST_KEY)
            .with_secret_access_key(TEST_SECRET)
            .build()
            .unwrap(),
    );
    raw_puts(store, &warm, "warm-up", conc).await;

    if n_events > 0 {
        let d = tempfile::tempdir().unwrap();
        let mut l = ledger(d.path());
        events(&mut l, n_events);
        compare("events", l, "kiosk-ev", &cfg, conc).await;
    }
    if n_blobs > 0 {
        // 50 KB random blobs (each with its blob.sealed event).
        let d = tempfile::tempdir().unwrap();
        let mut l = ledger(d.path());
        let mut rng = rand::thread_rng();
        for _ in 0..n_blobs {
            let mut b = vec![0u8; 50 * 1024];
            rng.fill_bytes(&mut b);
            l.put_blob(&b, "image/png", 1_700_000_000_000, EventIndex::default())
                .unwrap();
        }
        let label = "50 KB random blobs + their `blob.sealed` events";
        compare(label, l, "kiosk-blob", &cfg, conc).await;
    }

    if n_catch == 0 {
        println!("\nload average after: {}", loadavg());
        return;
    }
    // Catch-up of a long offline period.
    let d = tempfile::tempdir().unwrap();
    let mut l = ledger(d.path());
    let t0 = Instant::now();
    events(&mut l, n_catch);
    let fill = t0.elapsed().as_secs_f64();
    let s = Syncer::new(l, "kiosk-offline", cfg.clone(), &Default::default()).unwrap();
    let t0 = Instant::now();
    let r = s.run_until_caught_up(5).await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let rep = countersign_sync::verify_remote(&s).await.unwrap();
    let vsecs = t1.elapsed().as_secs_f64();
    assert!(rep.is_clean());
    println!(
        "\nCatch-up: {n_catch} queued events (appended in {fill:.1} s) uploaded by one `run_until_caught_up` in {secs:.0} s ({:.0} objects/s, {} objects); `sync verify` of the result (list + GET by version id of every object) {vsecs:.0} s.\n",
        r.uploaded as f64 / secs,
        r.uploaded
    );
    // The fleet view's read of the same bucket: every object fetched and
    // verified, every event held in memory (FleetSnapshot).
    let rss0 = rss_kib();
    let t2 = Instant::now();
    let snap = countersign_sync::Fleet::open(&cfg)
        .unwrap()
        .snapshot(&["kiosk-offline".to_string()])
        .await
        .unwrap();
    let fsecs = t2.elapsed().as_secs_f64();
    let rss1 = rss_kib();
    for r in snap.reports() {
        assert!(r.is_ok(), "{:?}", &r.problems[..r.problems.len().min(5)]);
    }
    println!(
        "Fleet snapshot of that bucket: {} events read and verified in {fsecs:.0} s; resident memory {} MiB before, {} MiB holding the snapshot (+{} MiB, about {} bytes per event).\n",
        snap.event_count(),
        rss0 / 1024,
        rss1 / 1024,
        rss1.saturating_sub(rss0) / 1024,
        rss1.saturating_sub(rss0) * 1024 / snap.event_count().max(1) as u64
    );
    drop(snap);
    // A restore of that kiosk (`countersign restore --from-bucket`): every
    // object read back (`Fleet::download`), checked and inserted into an
    // empty ledger with the same keys (`Ledger::restore_rows`), then the
    // full `verify`. (The engine adds the data dir, a few events and the
    // anchor around it.)
    let rss0 = rss_kib();
    let t3 = Instant::now();
    let copy = countersign_sync::Fleet::open(&cfg)
        .unwrap()
        .download("kiosk-offline")
        .await
        .unwrap();
    let dsecs = t3.elapsed().as_secs_f64();
    let rss1 = rss_kib();
    let r = tempfile::tempdir().unwrap();
    let keys = Keys::load(&d.path().join("keys")).unwrap();
    let mut restored = Ledger::open(&r.path().join("ledger.db"), keys).unwrap();
    let t4 = Instant::now();
    let sum = restored
        .restore_rows(&countersign_ledger::RestoreRows {
            events: copy.events,
            checkpoints: copy.checkpoints,
            blobs: copy.blobs,
            synced: copy.synced,
        })
        .unwrap();
    let isecs = t4.elapsed().as_secs_f64();
    let t5 = Instant::now();
    assert!(restored.verify().unwrap().ok());
    let vsecs = t5.elapsed().as_secs_f64();
    println!(
        "Restore of that kiosk: {} events downloaded in {dsecs:.0} s (resident memory +{} MiB holding them), checked and inserted in {isecs:.1} s, the restored ledger verified in {vsecs:.1} s.\n",
        sum.events,
        rss1.saturating_sub(rss0) / 1024,
    );
    println!("load average after: {}", loadavg());
}

/// This process's resident set (VmRSS), KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
