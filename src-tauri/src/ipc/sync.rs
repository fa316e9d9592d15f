//! IPC types of the sync status panel (Admin) and the fleet view (Reviewer).
//! No credentials ever appear in them: endpoints are shown without userinfo,
//! errors pass through the sync crate's redactor.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// This kiosk's evidence sync, as the Admin screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SyncStatusView.ts")]
pub struct SyncStatusView {
    pub kiosk: String,
    /// `<data dir>/sync.toml` exists. Without it nothing is uploaded, and the
    /// alert still fires.
    pub configured: bool,
    /// The endpoint without credentials (`AWS S3 (<region>)` when none is set).
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    #[ts(type = "number")]
    pub queued_events: u64,
    #[ts(type = "number")]
    pub queued_blobs: u64,
    #[ts(type = "number")]
    pub queued_checkpoints: u64,
    #[ts(type = "number")]
    pub synced_events: u64,
    /// Blobs purged by retention before they could be uploaded.
    #[ts(type = "number")]
    pub blobs_purged_unsynced: u64,
    /// Uploads in flight in this app's background uploader.
    #[ts(type = "number")]
    pub in_flight: u64,
    #[ts(type = "number | null")]
    pub last_attempt_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub last_success_ms: Option<i64>,
    /// The last failed pass's error (never contains credentials).
    pub last_error: Option<String>,
    #[ts(type = "number | null")]
    pub last_error_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub oldest_unsynced_seq: Option<u64>,
    #[ts(type = "number | null")]
    pub oldest_unsynced_age_ms: Option<i64>,
    /// The policy's `[sync] unsynced_alert_minutes`, in ms.
    #[ts(type = "number")]
    pub alert_after_ms: i64,
    /// The oldest unsynced event is older than the policy's limit.
    pub alert: bool,
    /// The app's background uploader: `running`, `not_configured` (no
    /// sync.toml), `waiting` (data dir not ready yet), `failed` (could not
    /// start: `uploader_error` says why), `stopped`.
    pub uploader: super::UploaderState,
    pub uploader_error: Option<String>,
    #[ts(type = "number")]
    pub checked_at_ms: i64,
}

/// One kiosk as verified from the bucket alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FleetOverview.ts")]
pub struct FleetKioskView {
    pub kiosk: String,
    /// No problem found (chain, signatures, checkpoints, blobs).
    pub ok: bool,
    /// Hex Ed25519 key from the kiosk's `kiosk.json`.
    pub public_key: Option<String>,
    #[ts(type = "number")]
    pub events: u64,
    /// Highest seq verified without a gap from seq 1.
    #[ts(type = "number")]
    pub verified_through: u64,
    pub head_hash: Option<String>,
    #[ts(type = "number")]
    pub checkpoints: u64,
    #[ts(type = "number")]
    pub blobs: u64,
    pub problem_count: u32,
    /// The first problems (at most [`MAX_PROBLEMS`]), first one first.
    pub problems: Vec<String>,
}

/// Problems listed per kiosk; `problem_count` has the total.
pub const MAX_PROBLEMS: usize = 20;

/// The fleet as last read from the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FleetOverview.ts")]
pub struct FleetOverview {
    /// The fleet config exists.
    pub configured: bool,
    /// Where the app looks for it (`COUNTERSIGN_FLEET_CONFIG`, else
    /// `<data dir>/fleet.toml`).
    pub config_path: String,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    /// When the bucket was read (Unix ms); `None` before the first read.
    #[ts(type = "number | null")]
    pub loaded_at_ms: Option<i64>,
    pub kiosks: Vec<FleetKioskView>,
    pub all_ok: bool,
    /// Events read (all kiosks).
    #[ts(type = "number")]
    pub events: u64,
}

/// Keyset cursor of the fleet log: events are ordered by (time, kiosk, seq).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FleetQuery.ts")]
pub struct FleetCursorView {
    #[ts(type = "number")]
    pub ts_ms: i64,
    pub kiosk: String,
    #[ts(type = "number")]
    pub seq: u64,
}

/// The local log's filters, across kiosks, plus which kiosk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FleetQuery.ts")]
pub struct FleetQuery {
    /// One kiosk, or all when `None`.
    pub kiosk: Option<String>,
    pub kinds: Vec<String>,
    pub person: Option<String>,
    pub supervisor: Option<String>,
    pub outcome: Option<String>,
    pub trigger: Option<String>,
    pub case_id: Option<String>,
    #[ts(type = "number | null")]
    pub from_ms: Option<i64>,
    #[ts(type = "number | null")]
    pub to_ms: Option<i64>,
    /// Only grants without a review.
    pub pending_review: bool,
    /// The `nextAfter` of the previous page.
    pub after: Option<FleetCursorView>,
    pub limit: u32,
    pub newest_first: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FleetEventPage.ts")]
pub struct FleetEventRow {
    pub kiosk: String,
    #[ts(type = "number")]
    pub seq: u64,
    #[ts(type = "number")]
    pub ts_ms: i64,
    pub kind: String,
    pub person: Option<String>,
    pub supervisor: Option<String>,
    pub outcome: Option<String>,
    pub trigger: Option<String>,
    pub case_id: Option<String>,
    #[ts(type = "Record<string, unknown>")]
    pub body: serde_json::Value,
    pub hash_hex: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FleetEventPage.ts")]
pub struct FleetEventPage {
    pub rows: Vec<FleetEventRow>,
    pub next_after: Option<FleetCursorView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FleetExportRequest.ts")]
pub struct FleetExportRequest {
    /// `jsonl` or `ocsf`.
    pub format: String,
    pub query: FleetQuery,
}

/// Writes the bindings of this module's types.
pub(crate) fn export_bindings(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {
    SyncStatusView::export_all(cfg)?;
    FleetOverview::export_all(cfg)?;
    FleetQuery::export_all(cfg)?;
    FleetEventPage::export_all(cfg)?;
    FleetExportRequest::export_all(cfg)?;
    Ok(())
}

/// Stable error codes of the fleet view (beside [`crate::ipc::codes`]).
pub mod sync_codes {
    use countersign_engine::Code;

    /// `fleet_events` / `fleet_export` before the bucket was read.
    pub const FLEET_NOT_LOADED: Code = Code::AppFleetNotLoaded;
    /// Writing an export file failed.
    pub const EXPORT: Code = Code::AppExport;
}
