//! The fleet view for a screen (the reviewer console): the bucket read once
//! into a [`FleetSnapshot`] — every kiosk verified from its objects alone —
//! then events paged in memory across kiosks with the local log's
//! [`Filter`], newest or oldest first, with a keyset cursor.
//!
//! Only GET and LIST requests are made, so read-only credentials suffice.
//! A snapshot does not change: take a new one to see newer evidence.

use std::collections::{HashMap, HashSet};

use countersign_ledger::{ocsf_record, EventRow, Filter};
use serde::{Deserialize, Serialize};

use crate::fleet::{matches, reviewed_cases, Fleet, FleetEvent, KioskReport};
use crate::SyncError;

/// Where a page ends: events are ordered by (time, kiosk, seq).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FleetCursor {
    /// Event time (Unix ms).
    pub ts_ms: i64,
    /// Kiosk id.
    pub kiosk: String,
    /// Sequence number in that kiosk's chain.
    pub seq: u64,
}

/// A page request, like the local log's `PageRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetPageRequest {
    /// Continue after this event (the previous page's `next_after`).
    pub after: Option<FleetCursor>,
    /// Max rows (at least 1 is returned when any match).
    pub limit: u32,
    /// Newest first.
    pub newest_first: bool,
}

impl Default for FleetPageRequest {
    fn default() -> Self {
        FleetPageRequest {
            after: None,
            limit: 50,
            newest_first: false,
        }
    }
}

/// One page of events across kiosks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetPage {
    /// Rows in the requested order.
    pub rows: Vec<FleetEvent>,
    /// Pass as `after` for the next page; `None` when this is the last.
    pub next_after: Option<FleetCursor>,
}

/// The bucket as read at one moment: every kiosk's verification report and
/// its events.
#[derive(Debug, Clone)]
pub struct FleetSnapshot {
    reports: Vec<KioskReport>,
    /// Sorted by (ts_ms, kiosk, seq).
    events: Vec<FleetEvent>,
    reviewed: HashMap<String, HashSet<String>>,
}

impl Fleet {
    /// Read and verify the given kiosks (all when empty) once, for paging.
    /// Events that failed verification are still listed; the reports say
    /// which kiosks to trust.
    pub async fn snapshot(&self, kiosks: &[String]) -> Result<FleetSnapshot, SyncError> {
        let ks = if kiosks.is_empty() {
            self.list_kiosks().await?
        } else {
            kiosks.to_vec()
        };
        let mut snap = FleetSnapshot {
            reports: Vec::new(),
            events: Vec::new(),
            reviewed: HashMap::new(),
        };
        for k in ks {
            let loaded = self.load(&k).await?;
            snap.reviewed
                .insert(k.clone(), reviewed_cases(&loaded.events));
            snap.events.extend(
                loaded
                    .events
                    .into_iter()
                    .map(|e| FleetEvent::from_object(&k, e)),
            );
            snap.reports.push(loaded.report);
        }
        snap.events.sort_by_key(cursor);
        Ok(snap)
    }
}

fn cursor(e: &FleetEvent) -> FleetCursor {
    FleetCursor {
        ts_ms: e.ts_ms,
        kiosk: e.kiosk.clone(),
        seq: e.seq,
    }
}

impl FleetSnapshot {
    /// Each kiosk's verification from the bucket alone, by kiosk id.
    pub fn reports(&self) -> &[KioskReport] {
        &self.reports
    }

    /// Every kiosk verified without a problem.
    pub fn all_ok(&self) -> bool {
        self.reports.iter().all(KioskReport::is_ok)
    }

    /// Events held in memory (all kiosks).
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// One page of the events matching `filter`, across kiosks.
    pub fn page(&self, filter: &Filter, req: &FleetPageRequest) -> FleetPage {
        self.page_in(&[], filter, req)
    }

    /// One page of the events of `kiosks` (all when empty) matching `filter`.
    pub fn page_in(&self, kiosks: &[String], filter: &Filter, req: &FleetPageRequest) -> FleetPage {
        let limit = req.limit.max(1) as usize;
        let keep = self.keep(kiosks, filter);
        let keep = |e: &&FleetEvent| keep(e);
        let after = req.after.as_ref();
        let mut rows: Vec<FleetEvent> = if req.newest_first {
            let end = after.map_or(self.events.len(), |c| {
                self.events.partition_point(|e| cursor(e) < *c)
            });
            self.events[..end]
                .iter()
                .rev()
                .filter(keep)
                .take(limit + 1)
                .cloned()
                .collect()
        } else {
            let start = after.map_or(0, |c| self.events.partition_point(|e| cursor(e) <= *c));
            self.events[start..]
                .iter()
                .filter(keep)
                .take(limit + 1)
                .cloned()
                .collect()
        };
        let more = rows.len() > limit;
        rows.truncate(limit);
        FleetPage {
            next_after: more.then(|| rows.last().map(cursor)).flatten(),
            rows,
        }
    }

    fn keep<'a>(
        &'a self,
        kiosks: &'a [String],
        filter: &'a Filter,
    ) -> impl Fn(&FleetEvent) -> bool + 'a {
        move |e: &FleetEvent| {
            let Some(reviewed) = self.reviewed.get(&e.kiosk) else {
                return false;
            };
            (kiosks.is_empty() || kiosks.contains(&e.kiosk))
                && matches(filter, e.ts_ms, &e.kind, &e.index, reviewed)
        }
    }

    /// Writes the events of `kiosks` (all when empty) matching `filter`, in
    /// (time, kiosk, seq) order, one JSON object per line: the
    /// [`FleetEvent`] itself (`jsonl`, like the local `log export` plus the
    /// kiosk id) or an OCSF 1.5 record of its class (`ocsf`, the local
    /// export's mapping, with the kiosk id as `metadata.log_provider` and in
    /// `unmapped.kiosk`). Returns how many were written.
    pub fn export(
        &self,
        kiosks: &[String],
        filter: &Filter,
        format: ExportFormat,
        out: &mut dyn std::io::Write,
    ) -> Result<u64, SyncError> {
        let keep = self.keep(kiosks, filter);
        let mut n = 0u64;
        let io = |e: std::io::Error| SyncError::Internal(format!("writing the export: {e}"));
        for e in self.events.iter().filter(|e| keep(e)) {
            let line = match format {
                ExportFormat::Jsonl => serde_json::to_string(e),
                ExportFormat::Ocsf => serde_json::to_string(&ocsf(e)),
            }
            .map_err(|e| SyncError::Internal(format!("encoding the export: {e}")))?;
            out.write_all(line.as_bytes()).map_err(io)?;
            out.write_all(b"\n").map_err(io)?;
            n += 1;
        }
        out.flush().map_err(io)?;
        Ok(n)
    }
}

/// What [`FleetSnapshot::export`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One [`FleetEvent`] per line.
    Jsonl,
    /// One OCSF 1.5 record per line, each of its class (`ocsf_class`).
    Ocsf,
}

impl std::str::FromStr for ExportFormat {
    type Err = SyncError;
    fn from_str(s: &str) -> Result<Self, SyncError> {
        match s {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "ocsf" => Ok(ExportFormat::Ocsf),
            other => Err(SyncError::Config(format!(
                "export format {other:?}: expected jsonl or ocsf"
            ))),
        }
    }
}

/// The local export's OCSF record for a fleet event, naming its kiosk.
fn ocsf(e: &FleetEvent) -> serde_json::Value {
    let row = EventRow {
        seq: e.seq,
        ts_ms: e.ts_ms,
        kind: e.kind.clone(),
        index: e.index.clone(),
        body: e.body.clone(),
        prev_hash_hex: String::new(),
        hash_hex: e.hash.clone(),
        sig_hex: String::new(),
    };
    let mut v = ocsf_record(&row);
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.insert("log_provider".into(), e.kiosk.clone().into());
    }
    if let Some(u) = v.get_mut("unmapped").and_then(|m| m.as_object_mut()) {
        u.insert("kiosk".into(), e.kiosk.clone().into());
    }
    v
}
