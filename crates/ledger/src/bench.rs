//! Benchmarks: durable append rates, verify rate and filtered page queries
//! over a large ledger. Run at full size with
//! `cargo run --release -p countersign-ledger --example ledger_bench -- <dir>`.
//!
//! Measured on the project's 2-core Debian machine (release, shared CPU):
//! 298 durable single appends/s, 9154 events/s in batches of 100, 1M-event
//! build 69 s (380 MiB), verify 16.2k events/s, person + 24 h page p50 0.46 ms /
//! p95 2.3 ms, pending-review page p50 9.1 ms / p95 19 ms.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{
    EventIndex, Filter, Keys, Ledger, LedgerError, NewEvent, PageRequest, KIND_OVERRIDE_GRANTED,
    KIND_OVERRIDE_REVIEWED,
};

/// Sizes for [`run`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Events appended one transaction each.
    pub single_appends: u64,
    /// Events appended in batches of `batch_size`.
    pub batched_appends: u64,
    /// Batch size for the batched append measurement.
    pub batch_size: u64,
    /// Size of the big ledger for verify and query measurements.
    pub big_events: u64,
    /// Batch size used to build the big ledger.
    pub build_batch: u64,
    /// Number of distinct people in the big ledger.
    pub persons: u64,
    /// Queries per query measurement.
    pub queries: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            single_appends: 2000,
            batched_appends: 20_000,
            batch_size: 100,
            big_events: 1_000_000,
            build_batch: 10_000,
            persons: 1000,
            queries: 200,
        }
    }
}

/// Results of [`run`]; `Display` renders Markdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Config used.
    pub config: BenchConfig,
    /// Durable single-event appends per second.
    pub single_append_per_s: f64,
    /// The same single appends under a local anchor (see `anchor.rs`: the
    /// check before, and the signed, fsync'd anchor file after, each one).
    pub single_append_anchored_per_s: f64,
    /// Durable events per second in batches.
    pub batched_append_per_s: f64,
    /// Events in the big ledger.
    pub big_events: u64,
    /// Seconds to build it.
    pub build_secs: f64,
    /// Events checked by verify.
    pub verified_events: u64,
    /// Verify throughput.
    pub verify_events_per_s: f64,
    /// Filtered (person + time range, limit 50) query latency, ms.
    pub person_query_p50_ms: f64,
    /// p95 of the same.
    pub person_query_p95_ms: f64,
    /// Rows returned by all person queries.
    pub person_query_rows: u64,
    /// Pending-review page (limit 50) latency, ms.
    pub pending_query_p50_ms: f64,
    /// p95 of the same.
    pub pending_query_p95_ms: f64,
    /// Rows returned by all pending-review queries.
    pub pending_query_rows: u64,
    /// Queries run per measurement.
    pub queries: u64,
    /// Database size of the big ledger in bytes.
    pub big_db_bytes: u64,
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let i = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[i.min(sorted_ms.len() - 1)]
}

const BASE_MS: i64 = 1_700_000_000_000;

/// Synthetic event `i` of the big ledger: every 100th is an override grant
/// (half of which get reviewed 50 events later), others are step-up attempts.
pub fn synthetic_event(i: u64, persons: u64) -> NewEvent {
    let person = format!("p{}", i % persons.max(1));
    let ts_ms = BASE_MS + i as i64 * 1000;
    let (r100, r3, r7) = (i % 100, i % 3, i % 7);
    let (kind, outcome, case_id) = if r100 == 0 {
        (
            KIND_OVERRIDE_GRANTED,
            Some("granted"),
            Some(format!("case-{i}")),
        )
    } else if r100 == 50 && (i / 100) & 1 == 0 {
        (
            KIND_OVERRIDE_REVIEWED,
            Some("upheld"),
            Some(format!("case-{}", i - 50)),
        )
    } else if r3 == 0 {
        ("stepup.requested", None, None)
    } else {
        (
            "match.attempt",
            Some(if r7 == 0 { "failure" } else { "success" }),
            None,
        )
    };
    NewEvent {
        ts_ms,
        kind: kind.into(),
        index: EventIndex {
            person: Some(person),
            supervisor: case_id.as_ref().map(|_| "sup-1".to_string()),
            outcome: outcome.map(Into::into),
            trigger: Some(["schedule", "risk", "manual"][(i % 3) as usize].into()),
            case_id,
        },
        body: serde_json::json!({"i": i, "score": (i % 1000) as f64 / 1000.0, "device": "kiosk-1"}),
    }
}

/// Run all measurements in `dir` (files `bench-append.db`, `bench-big.db`
/// are created; an existing big ledger of the right size is reused).
pub fn run(dir: &Path, cfg: &BenchConfig) -> Result<BenchReport, LedgerError> {
    let keys = Keys::for_tests();
    let append_path = dir.join("bench-append.db");
    let _ = std::fs::remove_file(&append_path);
    let mut l = Ledger::open(&append_path, keys.clone())?;
    let t = Instant::now();
    for i in 0..cfg.single_appends {
        l.append(&synthetic_event(i, cfg.persons))?;
    }
    let single_append_per_s = rate(cfg.single_appends, t.elapsed());
    let t = Instant::now();
    let mut i = 0;
    while i < cfg.batched_appends {
        let n = cfg.batch_size.max(1).min(cfg.batched_appends - i);
        let batch: Vec<_> = (i..i + n)
            .map(|j| synthetic_event(j, cfg.persons))
            .collect();
        l.append_batch(&batch)?;
        i += n;
    }
    let batched_append_per_s = rate(cfg.batched_appends, t.elapsed());
    drop(l);

    let anchored_path = dir.join("bench-anchored.db");
    let _ = std::fs::remove_file(&anchored_path);
    let anchor_dir = dir.join("bench-anchor-state");
    let _ = std::fs::remove_dir_all(&anchor_dir);
    let mut l = Ledger::open(&anchored_path, keys.clone())?;
    l.set_anchor(crate::AnchorGuard::new(anchor_dir)?);
    let t = Instant::now();
    for i in 0..cfg.single_appends {
        l.append(&synthetic_event(i, cfg.persons))?;
    }
    let single_append_anchored_per_s = rate(cfg.single_appends, t.elapsed());
    drop(l);

    let big_path = dir.join("bench-big.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", big_path.display()));
    }
    let mut big = Ledger::open(&big_path, keys)?;
    let t = Instant::now();
    let mut i = 0;
    while i < cfg.big_events {
        let n = cfg.build_batch.max(1).min(cfg.big_events - i);
        let batch: Vec<_> = (i..i + n)
            .map(|j| synthetic_event(j, cfg.persons))
            .collect();
        big.append_batch(&batch)?;
        i += n;
    }
    let build_secs = t.elapsed().as_secs_f64();
    big.conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;

    let t = Instant::now();
    let rep = big.verify()?;
    let verify_events_per_s = rate(rep.events, t.elapsed());
    if !rep.ok() {
        return Err(LedgerError::Corrupt(format!(
            "benchmark ledger failed verify: {:?}",
            rep.problems.first()
        )));
    }

    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let span_ms = (cfg.big_events as i64 * 1000).max(1);
    let mut person_ms = Vec::new();
    let mut person_rows = 0;
    for _ in 0..cfg.queries {
        let from = BASE_MS + rng.gen_range(0..span_ms);
        let f = Filter {
            person: Some(format!("p{}", rng.gen_range(0..cfg.persons.max(1)))),
            from_ms: Some(from),
            to_ms: Some(from + 86_400_000),
            ..Default::default()
        };
        let t = Instant::now();
        let page = big.query(
            &f,
            &PageRequest {
                after_seq: None,
                limit: 50,
                newest_first: true,
            },
        )?;
        person_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        person_rows += page.rows.len() as u64;
    }
    let mut pending_ms = Vec::new();
    let mut pending_rows = 0;
    for _ in 0..cfg.queries {
        let after = rng.gen_range(1..=cfg.big_events.max(1) + 1);
        let f = Filter {
            pending_review: true,
            ..Default::default()
        };
        let t = Instant::now();
        let page = big.query(
            &f,
            &PageRequest {
                after_seq: Some(after),
                limit: 50,
                newest_first: true,
            },
        )?;
        pending_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        pending_rows += page.rows.len() as u64;
    }
    person_ms.sort_by(f64::total_cmp);
    pending_ms.sort_by(f64::total_cmp);
    drop(big);
    let big_db_bytes = std::fs::metadata(&big_path).map(|m| m.len()).unwrap_or(0);
    Ok(BenchReport {
        config: cfg.clone(),
        single_append_per_s,
        single_append_anchored_per_s,
        batched_append_per_s,
        big_events: cfg.big_events,
        build_secs,
        verified_events: rep.events,
        verify_events_per_s,
        person_query_p50_ms: percentile(&person_ms, 0.5),
        person_query_p95_ms: percentile(&person_ms, 0.95),
        person_query_rows: person_rows,
        pending_query_p50_ms: percentile(&pending_ms, 0.5),
        pending_query_p95_ms: percentile(&pending_ms, 0.95),
        pending_query_rows: pending_rows,
        queries: cfg.queries,
        big_db_bytes,
    })
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(f, "## Countersign ledger benchmark\n")?;
        writeln!(f, "| measurement | value |")?;
        writeln!(f, "|---|---|")?;
        writeln!(
            f,
            "| durable append, 1 event/tx ({} events) | {:.0} events/s |",
            c.single_appends, self.single_append_per_s
        )?;
        writeln!(
            f,
            "| durable append under the local anchor, 1 event/tx ({} events) | {:.0} events/s |",
            c.single_appends, self.single_append_anchored_per_s
        )?;
        writeln!(
            f,
            "| durable append, {} events/tx ({} events) | {:.0} events/s |",
            c.batch_size, c.batched_appends, self.batched_append_per_s
        )?;
        writeln!(
            f,
            "| build big ledger ({} events, {} per tx) | {:.1} s |",
            self.big_events, c.build_batch, self.build_secs
        )?;
        writeln!(
            f,
            "| big ledger size | {:.1} MiB |",
            self.big_db_bytes as f64 / 1048576.0
        )?;
        writeln!(
            f,
            "| verify ({} events) | {:.0} events/s |",
            self.verified_events, self.verify_events_per_s
        )?;
        writeln!(
            f,
            "| person + 24h range page (limit 50), {} queries, {} rows | p50 {:.3} ms, p95 {:.3} ms |",
            self.queries, self.person_query_rows, self.person_query_p50_ms, self.person_query_p95_ms
        )?;
        writeln!(
            f,
            "| pending-review page (limit 50), {} queries, {} rows | p50 {:.3} ms, p95 {:.3} ms |",
            self.queries,
            self.pending_query_rows,
            self.pending_query_p50_ms,
            self.pending_query_p95_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_bench_reports_every_field_with_matching_counts() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = BenchConfig {
            single_appends: 5,
            batched_appends: 25,
            batch_size: 10,
            big_events: 1000,
            build_batch: 300,
            persons: 10,
            queries: 4,
        };
        let r = run(dir.path(), &cfg).unwrap();
        assert_eq!(r.big_events, 1000);
        assert_eq!(r.verified_events, 1000);
        assert_eq!(r.queries, 4);
        assert!(
            r.pending_query_rows > 0,
            "pending-review pages found nothing"
        );
        let check = Ledger::open(&dir.path().join("bench-append.db"), Keys::for_tests()).unwrap();
        assert_eq!(check.head().unwrap().unwrap().seq, 30);
        let md = r.to_string();
        for needle in [
            "1 event/tx (5 events)",
            "10 events/tx (25 events)",
            "verify (1000 events)",
            "person + 24h",
            "pending-review",
            "p95",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
    }
}
