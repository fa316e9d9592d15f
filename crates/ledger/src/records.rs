//! The ledger's public record and query types: what an event carries when
//! appended, how it reads back, and the filter and page of a query.

use serde::{Deserialize, Serialize};

/// Indexed columns of an event (all optional), used by filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventIndex {
    /// Person the event is about.
    pub person: Option<String>,
    /// Supervisor involved (overrides).
    pub supervisor: Option<String>,
    /// Outcome, e.g. `"success"`, `"failure"`, `"granted"`, `"denied"`.
    pub outcome: Option<String>,
    /// What triggered the step-up or fallback.
    pub trigger: Option<String>,
    /// Override/review case id.
    pub case_id: Option<String>,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Event time (Unix ms), as stated by the caller.
    pub ts_ms: i64,
    /// Event kind, e.g. `"stepup.requested"`, [`KIND_OVERRIDE_GRANTED`].
    pub kind: String,
    /// Indexed fields.
    pub index: EventIndex,
    /// Free-form JSON body (stored canonically, keys sorted).
    pub body: serde_json::Value,
}

/// Identifies an appended event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    /// Sequence number (1-based, consecutive).
    pub seq: u64,
    /// Hex row hash.
    pub hash_hex: String,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// Sequence number.
    pub seq: u64,
    /// Event time (Unix ms).
    pub ts_ms: i64,
    /// Event kind.
    pub kind: String,
    /// Indexed fields.
    pub index: EventIndex,
    /// Body.
    pub body: serde_json::Value,
    /// Hex hash of the previous row (zeros for seq 1).
    pub prev_hash_hex: String,
    /// Hex row hash.
    pub hash_hex: String,
    /// Hex Ed25519 signature over the row hash.
    pub sig_hex: String,
}

/// Query filter; all set conditions must hold. `to_ms` is exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// `ts_ms >= from_ms`.
    pub from_ms: Option<i64>,
    /// `ts_ms < to_ms`.
    pub to_ms: Option<i64>,
    /// Kind is one of these (empty = any).
    pub kinds: Vec<String>,
    /// Person equals.
    pub person: Option<String>,
    /// Supervisor equals.
    pub supervisor: Option<String>,
    /// Outcome equals.
    pub outcome: Option<String>,
    /// Trigger equals.
    pub trigger: Option<String>,
    /// Case id equals.
    pub case_id: Option<String>,
    /// Only [`KIND_OVERRIDE_GRANTED`] rows whose case has no
    /// [`KIND_OVERRIDE_REVIEWED`] row.
    pub pending_review: bool,
}

/// Keyset page request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Continue after this seq (the previous page's `next_after`).
    pub after_seq: Option<u64>,
    /// Max rows (>= 1).
    pub limit: u32,
    /// Descending seq order.
    pub newest_first: bool,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            after_seq: None,
            limit: 50,
            newest_first: false,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// Rows in the requested order.
    pub rows: Vec<EventRow>,
    /// Pass as `after_seq` to get the next page; `None` when this is the last.
    pub next_after: Option<u64>,
}
