//! The step-up session's vocabulary: triggers, grants, states, events and
//! effects. The state machine itself is in `session.rs`.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attempts::AttemptState;
use crate::auth::Authenticated;
use crate::breakglass::PrincipalKind;
use crate::people::Person;
use crate::Ms;

/// The defined reasons a fallback may be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The consecutive-failure limit was reached, or the biometric is disabled.
    FailureLimit,
    /// The capture device is missing, busy, unplugged or not permitted.
    DeviceUnavailable,
    /// Repeated captures failed the quality gates.
    CaptureQuality,
    /// Non-human identities: the credential issuer (CA, IdP, STS) is down.
    IssuerDown,
    /// Non-human identities: the certificate the principal presents has expired.
    CertificateExpired,
    /// Non-human identities: automated credential rotation failed.
    RotationBroken,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::FailureLimit => "failure_limit",
            Trigger::DeviceUnavailable => "device_unavailable",
            Trigger::CaptureQuality => "capture_quality",
            Trigger::IssuerDown => "issuer_down",
            Trigger::CertificateExpired => "certificate_expired",
            Trigger::RotationBroken => "rotation_broken",
        }
    }

    /// Triggers for service accounts, API keys and agents (`[breakglass]`
    /// in the policy), as opposed to a person's biometric (`[fallback]`).
    pub fn is_non_human(self) -> bool {
        matches!(
            self,
            Trigger::IssuerDown | Trigger::CertificateExpired | Trigger::RotationBroken
        )
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Face,
    Finger,
}

/// A time-bound, scope-limited override. Immutable once granted: nothing
/// moves `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub session_id: String,
    pub operator: String,
    pub supervisor: String,
    pub supervisor_amr: Vec<String>,
    pub trigger: Trigger,
    pub requested_scope: BTreeSet<String>,
    pub scope: BTreeSet<String>,
    pub granted_at: Ms,
    pub expires_at: Ms,
    pub review_due: Ms,
    pub reason_code: String,
    pub note: String,
    pub ticket: Option<String>,
    pub compensating_control: String,
    /// Who the grant is for: a person (the operator) or a non-human
    /// identity named by `operator`. Absent in human grants' evidence.
    #[serde(default, skip_serializing_if = "PrincipalKind::is_human")]
    pub principal_kind: PrincipalKind,
    /// For a break-glass grant: the person who asked for it on the
    /// principal's behalf (kept out of the approval and the review).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SessionState {
    Requested,
    Identified,
    AwaitingCapture,
    Capturing {
        device: String,
    },
    Succeeded {
        modality: Modality,
        score: f64,
    },
    FallbackOffered {
        trigger: Trigger,
    },
    SupervisorAuthenticated {
        trigger: Trigger,
        supervisor: String,
    },
    OverrideGranted {
        grant_id: String,
    },
    Cancelled {
        reason: String,
    },
}

impl SessionState {
    pub fn name(&self) -> &'static str {
        match self {
            SessionState::Requested => "requested",
            SessionState::Identified => "identified",
            SessionState::AwaitingCapture => "awaiting_capture",
            SessionState::Capturing { .. } => "capturing",
            SessionState::Succeeded { .. } => "succeeded",
            SessionState::FallbackOffered { .. } => "fallback_offered",
            SessionState::SupervisorAuthenticated { .. } => "supervisor_authenticated",
            SessionState::OverrideGranted { .. } => "override_granted",
            SessionState::Cancelled { .. } => "cancelled",
        }
    }

    pub fn is_final(&self) -> bool {
        matches!(
            self,
            SessionState::Succeeded { .. }
                | SessionState::OverrideGranted { .. }
                | SessionState::Cancelled { .. }
        )
    }
}

/// The request for a grant, as the supervisor fills it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRequest {
    pub grant_id: String,
    pub scope: BTreeSet<String>,
    /// `None` takes the policy default. There is no "no expiry" value.
    pub duration_ms: Option<Ms>,
    pub reason_code: String,
    pub note: String,
    pub ticket: Option<String>,
    pub compensating_control: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SessionEvent {
    /// The operator says who they are; their attempt regime comes with them.
    Identify {
        operator: Person,
        attempts: AttemptState,
    },
    /// The explicit "Verify me" press: the act of intent, once per attempt.
    Intent,
    CaptureStarted {
        device: String,
    },
    DeviceUnavailable {
        device: String,
        detail: String,
    },
    QualityFailure {
        reason: String,
    },
    Match {
        modality: Modality,
        score: f64,
        pad_passed: Option<bool>,
    },
    SupervisorAuthenticated {
        supervisor: Person,
        auth: Authenticated,
    },
    GrantOverride(GrantRequest),
    Cancel {
        reason: String,
    },
}

impl SessionEvent {
    pub fn name(&self) -> &'static str {
        match self {
            SessionEvent::Identify { .. } => "identify",
            SessionEvent::Intent => "intent",
            SessionEvent::CaptureStarted { .. } => "capture_started",
            SessionEvent::DeviceUnavailable { .. } => "device_unavailable",
            SessionEvent::QualityFailure { .. } => "quality_failure",
            SessionEvent::Match { .. } => "match",
            SessionEvent::SupervisorAuthenticated { .. } => "supervisor_authenticated",
            SessionEvent::GrantOverride(_) => "grant_override",
            SessionEvent::Cancel { .. } => "cancel",
        }
    }
}

/// What a transition produced, for the evidence log and the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    MatchDecided {
        attempt: u32,
        modality: Modality,
        score: f64,
        threshold: f64,
        matched: bool,
        pad_passed: Option<bool>,
        consecutive_failures: u32,
    },
    QualityRejected {
        reason: String,
        consecutive: u32,
    },
    BiometricDisabled,
    TriggerFired {
        trigger: Trigger,
    },
    /// A trigger condition happened but the policy does not enable that trigger.
    TriggerSuppressed {
        trigger: Trigger,
    },
    Granted(Box<Grant>),
}
