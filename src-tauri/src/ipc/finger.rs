//! IPC types of the fingerprint path (reader status, attempt progress,
//! enrollment).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{DeviceView, IpcError};

/// The window's fingerprint reader.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FingerStatus.ts")]
pub struct FingerStatus {
    /// libfprint's `virtual_image` reader fed with demo impressions (no
    /// hardware): the UI must say VIRTUAL wherever it shows the reader.
    pub virtual_reader: bool,
    /// The demo impressions folder, or the reader id asked for.
    pub source: String,
    /// Demo scenes (folders of impressions, and the built-in `poor-scan`
    /// and `reader-removed`); empty for a real reader.
    pub scenes: Vec<String>,
    pub scene: Option<String>,
    /// The reader as libfprint lists it, if it does.
    pub device: Option<DeviceView>,
    /// Why it is not there (`capture.not_found`, ...): the
    /// device-unavailable trigger when an operator asks to verify.
    pub error: Option<IpcError>,
    /// Operators with a finger enrolled (they get the fingerprint prompt).
    pub enrolled: Vec<String>,
}

/// What the reader is doing during a fingerprint attempt (polled by the
/// prompt while `verify_finger` runs).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FingerProgress.ts")]
pub struct FingerProgress {
    /// `idle`, `opening`, `awaiting_finger`, `scanning`, `retry`.
    pub phase: super::FingerPhase,
    /// Enrollment stage done / needed (0 of 1 for a verification).
    pub stage: u32,
    pub stages: u32,
    /// libfprint's reason to scan again (poor quality, not centred, ...).
    pub retry_reason: Option<String>,
    pub virtual_reader: bool,
}

impl FingerProgress {
    pub fn idle(virtual_reader: bool) -> FingerProgress {
        FingerProgress {
            phase: super::FingerPhase::Idle,
            stage: 0,
            stages: 0,
            retry_reason: None,
            virtual_reader,
        }
    }
}

/// A finger enrollment witnessed by a supervisor (two factors).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FingerEnrollRequest.ts")]
pub struct FingerEnrollRequest {
    pub person: String,
    /// libfprint's finger name (`right-index-finger`, `left-thumb`, ...).
    pub finger: String,
    pub witness: String,
    pub secret: String,
    pub otp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "FingerEnrollRequest.ts")]
pub struct FingerEnrollResult {
    pub person: String,
    pub finger: String,
    pub witness: String,
    pub template_sha256: String,
    pub impressions: u32,
    pub device_id: String,
    /// Impressions from the virtual reader (demo), not a live finger.
    pub virtual_reader: bool,
}

pub(super) fn export(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {
    FingerStatus::export_all(cfg)?;
    FingerProgress::export_all(cfg)?;
    FingerEnrollRequest::export_all(cfg)?;
    FingerEnrollResult::export_all(cfg)?;
    Ok(())
}
