//! Types that cross the IPC boundary between Rust and the webview.
//!
//! The TypeScript side of each type is generated with ts-rs into
//! `ui/src/lib/bindings/`; the `bindings_are_up_to_date` test fails when the
//! committed files drift from these definitions (regenerate with
//! `UPDATE_BINDINGS=1 cargo test -p countersign-app bindings`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use countersign_engine::Code;

mod error;
pub use error::{codes, IpcError};
mod vocab;
pub use vocab::{FingerPhase, GrantState, ReviewDisposition, StepupState, UploaderState};

mod admin;
pub use admin::*;
mod samples;
pub use samples::{ConsoleRole, ConsoleSession, ConsoleSignIn, SampleImage, SampleRef};
pub mod finger;
pub use finger::{FingerEnrollRequest, FingerEnrollResult, FingerProgress, FingerStatus};
mod sync;
pub use sync::*;

/// What the start screen shows about this kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AppInfo.ts")]
pub struct AppInfo {
    /// Version of the app (from Cargo).
    pub version: String,
    /// True when the window runs as a locked-down kiosk: operator and
    /// supervisor screens only.
    pub kiosk_mode: bool,
    /// True in console mode (`--console`): reviewer and admin screens only,
    /// each after a two-factor sign-in.
    pub console_mode: bool,
    /// The data directory in use, for display.
    pub data_dir: String,
    /// True once the data dir is initialised (the engine's marker,
    /// `countersign.json`, exists: `DataDir::check_initialized`).
    pub data_dir_initialized: bool,
}

/// What stops the kiosk from recording, shown on every screen so nobody is
/// left guessing why step-ups fail:
/// - its clock behind the ledger (issue 13, item 7): when the clock is
///   behind the newest event by more than the tolerance, the engine refuses
///   every write (`clock.behind_ledger`) and records that it did;
/// - its ledger rolled back or forked (issue 14, item 2): behind or off the
///   local anchor, or an alarm raised by the bucket check (`anchor.*`):
///   the engine signs nothing until an admin investigates and re-seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "KioskHealth.ts")]
pub struct KioskHealth {
    /// The engine refuses to write now.
    pub writes_refused: bool,
    /// How far this clock is behind the newest ledger event (0 when not).
    #[ts(type = "number")]
    pub behind_ms: i64,
    #[ts(type = "number")]
    pub tolerance_ms: i64,
    /// `clock.behind_ledger` while writes are refused.
    pub code: Option<Code>,
    /// The ledger sequence number of the newest recorded refusal.
    #[ts(type = "number | null")]
    pub last_refusal_seq: Option<u64>,
    /// The anchor's problem (`anchor.*` code and message), if any.
    pub anchor: Option<AnchorProblem>,
}

/// Why the local anchor refuses the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AnchorProblem.ts")]
pub struct AnchorProblem {
    pub code: Code,
    pub message: String,
}

// ---------------------------------------------------------------------------
// Domain IPC types. Times are Unix milliseconds (`number` in TypeScript).

/// A person as the operator picker and the admin screen show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Person.ts")]
pub struct Person {
    pub id: String,
    pub display_name: String,
    /// `operator`, `supervisor`, `reviewer`, `admin`.
    pub roles: Vec<String>,
    pub has_credentials: bool,
    pub failed_auths: u32,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PolicyView.ts")]
pub struct ScopeInfo {
    pub name: String,
    pub description: String,
    pub supervisor_may_grant: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PolicyView.ts")]
pub struct ReasonCodeInfo {
    pub code: String,
    pub description: String,
}

/// The parts of the policy in force that the screens bound their forms by.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PolicyView.ts")]
pub struct PolicyView {
    pub scopes: Vec<ScopeInfo>,
    pub reason_codes: Vec<ReasonCodeInfo>,
    #[ts(type = "number")]
    pub default_duration_minutes: i64,
    #[ts(type = "number")]
    pub max_duration_minutes: i64,
    #[ts(type = "number")]
    pub review_deadline_hours: i64,
    pub consecutive_failure_limit: u32,
    pub throttle_seconds: u32,
    pub face_threshold: f64,
    /// Fallback triggers the policy enables.
    pub triggers: Vec<String>,
    /// True when the data dir was made by `countersign init --demo`.
    pub demo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "StartStepupRequest.ts")]
pub struct StartStepupRequest {
    /// Scopes asked for; each must be in the policy.
    pub scope: Vec<String>,
    /// Who asked (the relying application).
    pub requester: String,
}

/// A device as the capture crate describes it (recorded in the evidence).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "CaptureStatus.ts")]
pub struct DeviceView {
    pub id: String,
    pub driver: String,
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// Frames from files, not a live sensor: the UI must say so.
    pub replay: bool,
}

/// The window's capture source.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "CaptureStatus.ts")]
pub struct CaptureStatus {
    /// True for a replay (frames from image files).
    pub replay: bool,
    /// The replay folder or the camera id.
    pub source: String,
    /// The replay's scenes (sub-folders); empty for a camera.
    pub scenes: Vec<String>,
    pub scene: Option<String>,
    /// The device as opened, if it could be.
    pub device: Option<DeviceView>,
    /// Why it cannot be opened (`capture.not_found`, ...): the
    /// device-unavailable trigger when the operator presses "Verify me".
    pub error: Option<IpcError>,
}

/// A relying application's step-up request waiting at this kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "OpenRequestView.ts")]
pub struct OpenRequestView {
    /// The step-up id; [`take_request`](crate::service::take_request) runs it here.
    pub request_id: String,
    pub client_id: String,
    pub client_name: String,
    pub scope: Vec<String>,
    pub acr_values: Vec<String>,
    #[ts(type = "number | null")]
    pub max_age_s: Option<i64>,
    #[ts(type = "number")]
    pub created_ms: i64,
    #[ts(type = "number")]
    pub expires_ms: i64,
    /// A fallback is already on offer: it waits for a supervisor.
    pub fallback_offered: bool,
}

/// A witnessed face enrollment from the window's capture source.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "EnrollRequest.ts")]
pub struct EnrollRequest {
    pub person: String,
    pub witness: String,
    pub secret: String,
    pub otp: String,
}

/// What an enrollment did.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "EnrollResult.ts")]
pub struct EnrollResult {
    pub person: String,
    pub witness: String,
    pub template_sha256: String,
    pub accepted_captures: u32,
    pub replay: bool,
}

/// One live-preview frame.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PreviewFrame.ts")]
pub struct PreviewFrame {
    /// `data:image/jpeg;base64,...`
    pub data_url: String,
    pub width: u32,
    pub height: u32,
    pub replay: bool,
    /// For a replay: the file shown.
    pub origin: Option<String>,
    /// The first quality gate this frame fails (`no_face`,
    /// `face_too_small`, `too_dark`, `pose_yaw`, ...), or none.
    pub hint: Option<String>,
}

/// One attempt of a step-up, as the operator and the supervisor see it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "StepupView.ts")]
pub struct AttemptRecord {
    #[ts(type = "number")]
    pub seq: u64,
    #[ts(type = "number")]
    pub ts_ms: i64,
    /// `matched`, `no_match`, `quality_failed`, `unavailable`, `disabled`.
    pub outcome: String,
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    /// Where the score came from (`test_input` for demo attempts).
    pub score_source: Option<String>,
    pub detail: Option<String>,
    /// The attempt's sealed sample (SHA-256), which the deciding supervisor
    /// may open (`open_session_sample`).
    pub sample: Option<String>,
}

/// A step-up in progress, from the engine's session and its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "StepupView.ts")]
pub struct StepupView {
    pub session_id: String,
    /// `requested`, `identified`, `awaiting_capture`, `capturing`,
    /// `succeeded`, `fallback_offered`, `supervisor_authenticated`,
    /// `override_granted`, `cancelled`.
    pub state: StepupState,
    pub requester: String,
    pub scope: Vec<String>,
    #[ts(type = "number")]
    pub requested_at_ms: i64,
    pub operator: Option<String>,
    pub operator_name: Option<String>,
    /// Attempts made in this session.
    pub attempt_no: u32,
    /// Failed matches in a row for this operator (across sessions).
    pub consecutive_failures: u32,
    pub failure_limit: u32,
    /// When the next attempt is allowed, if the operator is throttled.
    #[ts(type = "number | null")]
    pub next_attempt_at_ms: Option<i64>,
    pub biometric_disabled: bool,
    /// Why the fallback was offered (`failure_limit`, `device_unavailable`, `capture_quality`).
    pub trigger: Option<String>,
    pub supervisor: Option<String>,
    pub grant_id: Option<String>,
    pub score: Option<f64>,
    pub attempts: Vec<AttemptRecord>,
    #[ts(type = "number")]
    pub now_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SupervisorLogin.ts")]
pub struct SupervisorLogin {
    pub session_id: String,
    pub supervisor: String,
    pub secret: String,
    pub otp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "GrantInput.ts")]
pub struct GrantInput {
    pub session_id: String,
    /// A subset of the requested scope.
    pub scope: Vec<String>,
    /// None: the policy's default. Never more than the policy's cap.
    #[ts(type = "number | null")]
    pub duration_minutes: Option<i64>,
    pub reason_code: String,
    pub note: String,
    pub ticket: Option<String>,
    pub compensating_control: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "OverrideView.ts")]
pub struct ReviewInfo {
    pub reviewer: String,
    #[ts(type = "number")]
    pub at_ms: i64,
    /// `justified`, `unjustified`, `needs_follow_up`.
    pub disposition: ReviewDisposition,
    pub notes: String,
    pub overdue: bool,
}

/// An override case as of now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "OverrideView.ts")]
pub struct OverrideView {
    pub id: String,
    pub session_id: String,
    pub operator: String,
    pub supervisor: String,
    pub trigger: String,
    pub requested_scope: Vec<String>,
    pub scope: Vec<String>,
    #[ts(type = "number")]
    pub granted_at_ms: i64,
    #[ts(type = "number")]
    pub expires_at_ms: i64,
    #[ts(type = "number")]
    pub review_due_ms: i64,
    pub reason_code: String,
    pub note: String,
    pub ticket: Option<String>,
    pub compensating_control: String,
    /// `active`, `used`, `expired`, `revoked` (from the clock, not only the log).
    pub status: GrantState,
    #[ts(type = "number")]
    pub remaining_ms: i64,
    pub review: Option<ReviewInfo>,
    pub review_overdue: bool,
    pub reconciled: bool,
    pub closed: bool,
    #[ts(type = "number")]
    pub now_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "OverrideQuery.ts")]
pub struct OverrideQuery {
    pub operator: Option<String>,
    pub supervisor: Option<String>,
    /// Only cases without a review, overdue first.
    pub pending_review: bool,
    pub active_only: bool,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "RevokeInput.ts")]
pub struct RevokeInput {
    pub grant_id: String,
    pub by: String,
    /// The role acted in: `supervisor`, `reviewer` or `admin`.
    pub role: String,
    pub secret: String,
    pub otp: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ReviewSubmission.ts")]
pub struct ReviewSubmission {
    pub grant_id: String,
    pub reviewer: String,
    pub secret: String,
    pub otp: String,
    /// `justified`, `unjustified`, `needs_follow_up`.
    pub disposition: ReviewDisposition,
    pub notes: String,
}

/// Filters and keyset paging over the evidence log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "EventQuery.ts")]
pub struct EventQuery {
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
    /// Keyset cursor: the `nextAfter` of the previous page.
    #[ts(type = "number | null")]
    pub after_seq: Option<u64>,
    pub limit: u32,
    pub newest_first: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "EventPage.ts")]
pub struct EventRow {
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
    /// Sealed image samples the body refers to (open with `open_sample`).
    pub samples: Vec<SampleRef>,
    /// The event's canonical JSON body.
    #[ts(type = "Record<string, unknown>")]
    pub body: serde_json::Value,
    pub hash_hex: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "EventPage.ts")]
pub struct EventPage {
    pub rows: Vec<EventRow>,
    #[ts(type = "number | null")]
    pub next_after: Option<u64>,
}

/// Result of recomputing the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "VerifyStatus.ts")]
pub struct VerifyStatus {
    pub ok: bool,
    #[ts(type = "number")]
    pub events: u64,
    #[ts(type = "number")]
    pub checkpoints: u64,
    pub problem_count: u32,
    /// The first problem, naming the row.
    pub first_problem: Option<String>,
    #[ts(type = "number")]
    pub checked_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ExportRequest.ts")]
pub struct ExportRequest {
    /// `jsonl` or `ocsf`.
    pub format: String,
    pub query: EventQuery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ExportResult.ts")]
pub struct ExportResult {
    /// Where the file was written (under `<data dir>/exports/`).
    pub path: String,
    #[ts(type = "number")]
    pub count: u64,
}

/// Demo credentials of a demo data dir (published on purpose; refused on a
/// real one), so a newcomer can try the supervisor and reviewer journeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "DemoCredential.ts")]
pub struct DemoCredential {
    pub id: String,
    pub secret: String,
    /// The current TOTP code.
    pub otp: String,
}

/// Writes the TypeScript bindings of every IPC type into `dir`.
pub fn export_bindings(dir: &std::path::Path) -> Result<(), ts_rs::ExportError> {
    let cfg = ts_rs::Config::new().with_out_dir(dir);
    AppInfo::export_all(&cfg)?;
    KioskHealth::export_all(&cfg)?;
    AnchorProblem::export_all(&cfg)?;
    IpcError::export_all(&cfg)?;
    Person::export_all(&cfg)?;
    PolicyView::export_all(&cfg)?;
    StartStepupRequest::export_all(&cfg)?;
    CaptureStatus::export_all(&cfg)?;
    PreviewFrame::export_all(&cfg)?;
    EnrollRequest::export_all(&cfg)?;
    OpenRequestView::export_all(&cfg)?;
    EnrollResult::export_all(&cfg)?;
    StepupView::export_all(&cfg)?;
    SupervisorLogin::export_all(&cfg)?;
    GrantInput::export_all(&cfg)?;
    OverrideView::export_all(&cfg)?;
    OverrideQuery::export_all(&cfg)?;
    RevokeInput::export_all(&cfg)?;
    ReviewSubmission::export_all(&cfg)?;
    EventQuery::export_all(&cfg)?;
    EventPage::export_all(&cfg)?;
    VerifyStatus::export_all(&cfg)?;
    ExportRequest::export_all(&cfg)?;
    ExportResult::export_all(&cfg)?;
    DemoCredential::export_all(&cfg)?;
    samples::export_bindings(&cfg)?;
    finger::export(&cfg)?;
    sync::export_bindings(&cfg)?;
    admin::export_bindings(&cfg)?;
    Ok(())
}
