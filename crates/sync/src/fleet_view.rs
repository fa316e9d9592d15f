//! The fleet view for a screen (the reviewer console): the bucket read once
//! into a [`FleetSnapshot`] — every kiosk verified from its objects alone —
//! then events paged in memory across kiosks with the local log's
//! [`Filter`], newest or oldest first, with a keyset cursor.
//!
//! Only GET and LIST requests are made, so read-only credentials suffice.
//! A snapshot does not change: take a new one to see newer evidence.

use std::collections::{HashMap, HashSet};

use countersign_ledger::Filter;
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

    /// One page of the events matching `filter`, across kiosks.
    pub fn page(&self, filter: &Filter, req: &FleetPageRequest) -> FleetPage {
        let limit = req.limit.max(1) as usize;
        let empty = HashSet::new();
        let keep = |e: &&FleetEvent| {
            let reviewed = self.reviewed.get(&e.kiosk).unwrap_or(&empty);
            matches(filter, e.ts_ms, &e.kind, &e.index, reviewed)
        };
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
}
