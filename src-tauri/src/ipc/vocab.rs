//! The IPC's closed vocabularies: each a Rust enum and a TypeScript union
//! (ts-rs), so the UI cannot compare against a state, a status or a phase
//! that does not exist. Spelled as the engine and the evidence spell them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A step-up's state (the core's `SessionState`, without its data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "StepupView.ts")]
pub enum StepupState {
    Requested,
    Identified,
    AwaitingCapture,
    Capturing,
    Succeeded,
    FallbackOffered,
    SupervisorAuthenticated,
    OverrideGranted,
    Cancelled,
}

impl From<&countersign_core::SessionState> for StepupState {
    fn from(s: &countersign_core::SessionState) -> Self {
        use countersign_core::SessionState as S;
        match s {
            S::Requested => Self::Requested,
            S::Identified => Self::Identified,
            S::AwaitingCapture => Self::AwaitingCapture,
            S::Capturing { .. } => Self::Capturing,
            S::Succeeded { .. } => Self::Succeeded,
            S::FallbackOffered { .. } => Self::FallbackOffered,
            S::SupervisorAuthenticated { .. } => Self::SupervisorAuthenticated,
            S::OverrideGranted { .. } => Self::OverrideGranted,
            S::Cancelled { .. } => Self::Cancelled,
        }
    }
}

/// An override's status now, from the clock as well as the log (the core's
/// `GrantStatus`, without its data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "OverrideView.ts")]
pub enum GrantState {
    Active,
    Used,
    Expired,
    Revoked,
}

impl From<&countersign_core::GrantStatus> for GrantState {
    fn from(s: &countersign_core::GrantStatus) -> Self {
        use countersign_core::GrantStatus as G;
        match s {
            G::Active => Self::Active,
            G::Used { .. } => Self::Used,
            G::Expired { .. } => Self::Expired,
            G::Revoked { .. } => Self::Revoked,
        }
    }
}

/// Where a fingerprint operation is, for the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "FingerProgress.ts")]
pub enum FingerPhase {
    Idle,
    Opening,
    AwaitingFinger,
    Scanning,
    Retry,
}

/// The app's background evidence uploader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "SyncStatusView.ts")]
pub enum UploaderState {
    /// Not started yet.
    Waiting,
    /// No sync.toml: nothing to upload to.
    NotConfigured,
    /// It could not start: `uploader_error` says why.
    Failed,
    Running,
    Stopped,
}

/// A reviewer's disposition of an override (the core's `Disposition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "OverrideView.ts")]
pub enum ReviewDisposition {
    Justified,
    Unjustified,
    NeedsFollowUp,
}

impl From<ReviewDisposition> for countersign_core::Disposition {
    fn from(d: ReviewDisposition) -> Self {
        match d {
            ReviewDisposition::Justified => Self::Justified,
            ReviewDisposition::Unjustified => Self::Unjustified,
            ReviewDisposition::NeedsFollowUp => Self::NeedsFollowUp,
        }
    }
}

impl From<&countersign_core::Disposition> for ReviewDisposition {
    fn from(d: &countersign_core::Disposition) -> Self {
        use countersign_core::Disposition as D;
        match d {
            D::Justified => Self::Justified,
            D::Unjustified => Self::Unjustified,
            D::NeedsFollowUp => Self::NeedsFollowUp,
        }
    }
}
