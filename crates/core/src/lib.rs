//! Countersign's domain: people and roles, the policy, supervisor
//! authentication, the step-up session and the override lifecycle.
//!
//! Invariants this crate keeps (see ARCHITECTURE.md):
//! - **Pure.** Nothing here reads the clock, the disk or a random source.
//!   Times arrive as [`Ms`] (Unix milliseconds) and ids and salts arrive as
//!   arguments, so every decision can be replayed from the evidence log.
//! - **No grant without a trigger.** An override can only be granted from a
//!   session in which one of the policy's fallback triggers fired.
//! - **No grant without an expiry, and no extension.** A grant carries
//!   `expires_at <= granted_at + policy cap`; no transition moves it later.
//! - **Separation of duties.** The supervisor who grants is never the operator;
//!   the reviewer is neither of them.

pub mod attempts;
pub mod auth;
pub mod breakglass;
pub mod override_case;
pub mod people;
pub mod policy;
pub mod session;

/// Unix time in milliseconds. The core never reads the clock: callers pass it.
pub type Ms = i64;

pub use attempts::{AttemptState, AttemptVerdict};
pub use breakglass::{BreakGlass, BreakGlassEvent, BreakGlassState, Principal, PrincipalKind};
pub use countersign_codes::Code;
pub use override_case::{Disposition, GrantStatus, OverrideCase, OverrideEvent, Reconciliation};
pub use people::{Person, Role};
pub use policy::{Policy, PolicyError};
pub use session::{Grant, Session, SessionEvent, SessionState, Trigger};

/// Why the core refused a transition. Stable `code()`s cross process
/// boundaries (CLI exit messages, IPC errors) so callers never parse text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{event} is not allowed in state {state}")]
    InvalidTransition { state: String, event: String },
    #[error("{person} does not hold the {role} role")]
    MissingRole { person: String, role: Role },
    #[error("{person} cannot {action} their own case")]
    SelfDealing {
        person: String,
        action: &'static str,
    },
    #[error("no fallback trigger has fired; an override cannot be granted")]
    NoTrigger,
    #[error("trigger {0} is not enabled by the policy")]
    TriggerNotAllowed(String),
    #[error("scope {scope} was not requested by this step-up")]
    ScopeNotRequested { scope: String },
    #[error("scope {scope} is not part of this grant")]
    ScopeNotGranted { scope: String },
    #[error("scope {scope} is unknown to the policy")]
    UnknownScope { scope: String },
    #[error("a supervisor may not grant scope {scope}")]
    ScopeNotGrantable { scope: String },
    #[error("an override must name at least one scope")]
    EmptyScope,
    #[error("duration {requested_minutes} min exceeds the policy cap of {cap_minutes} min")]
    OverCap {
        requested_minutes: i64,
        cap_minutes: i64,
    },
    #[error("an override needs a positive duration; grants without an expiry do not exist")]
    NoExpiry,
    #[error("reason code {0} is unknown to the policy")]
    UnknownReason(String),
    #[error("{0} is required")]
    MissingField(&'static str),
    #[error("the next attempt is allowed in {wait_ms} ms")]
    Throttled { wait_ms: i64 },
    #[error("biometric authentication is disabled for {person} until re-enrollment")]
    BiometricDisabled { person: String },
    #[error("the supervisor must authenticate with two factors first")]
    SupervisorNotAuthenticated,
    #[error("the fallback offered at {offered_at} expired at {expired_at}; only a new trigger offers it again")]
    OfferExpired { offered_at: Ms, expired_at: Ms },
    #[error("the grant expired at {expires_at}")]
    Expired { expires_at: Ms },
    #[error("the grant was revoked")]
    Revoked,
    #[error("grants cannot be extended; ask a supervisor for a new approval")]
    ExtensionRefused,
    #[error("the case was already {0}")]
    AlreadyDone(&'static str),
    #[error("{principal} is a person; people step up with their biometric, not break-glass")]
    HumanPrincipal { principal: String },
    #[error("scope {scope} is not registered for {principal}")]
    ScopeNotRegistered { scope: String, principal: String },
}

impl Refusal {
    /// The refusal's error code (`refused.*`), as the engine and the UI see it.
    pub fn error_code(&self) -> countersign_codes::Code {
        use countersign_codes::Code as C;
        match self {
            Refusal::InvalidTransition { .. } => C::RefusedInvalidTransition,
            Refusal::MissingRole { .. } => C::RefusedMissingRole,
            Refusal::SelfDealing { .. } => C::RefusedSelfDealing,
            Refusal::NoTrigger => C::RefusedNoTrigger,
            Refusal::TriggerNotAllowed(_) => C::RefusedTriggerNotAllowed,
            Refusal::ScopeNotRequested { .. } => C::RefusedScopeNotRequested,
            Refusal::ScopeNotGranted { .. } => C::RefusedScopeNotGranted,
            Refusal::UnknownScope { .. } => C::RefusedUnknownScope,
            Refusal::ScopeNotGrantable { .. } => C::RefusedScopeNotGrantable,
            Refusal::EmptyScope => C::RefusedEmptyScope,
            Refusal::OverCap { .. } => C::RefusedOverCap,
            Refusal::NoExpiry => C::RefusedNoExpiry,
            Refusal::UnknownReason(_) => C::RefusedUnknownReason,
            Refusal::MissingField(_) => C::RefusedMissingField,
            Refusal::Throttled { .. } => C::RefusedThrottled,
            Refusal::BiometricDisabled { .. } => C::RefusedBiometricDisabled,
            Refusal::SupervisorNotAuthenticated => C::RefusedSupervisorNotAuthenticated,
            Refusal::OfferExpired { .. } => C::RefusedOfferExpired,
            Refusal::Expired { .. } => C::RefusedExpired,
            Refusal::Revoked => C::RefusedRevoked,
            Refusal::ExtensionRefused => C::RefusedExtensionRefused,
            Refusal::AlreadyDone(_) => C::RefusedAlreadyDone,
            Refusal::HumanPrincipal { .. } => C::RefusedHumanPrincipal,
            Refusal::ScopeNotRegistered { .. } => C::RefusedScopeNotRegistered,
        }
    }

    /// The short reason the evidence records (`refusal`: `over_cap`); the
    /// error code is `refused.` followed by it ([`Refusal::error_code`]).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InvalidTransition { .. } => "invalid_transition",
            Refusal::MissingRole { .. } => "missing_role",
            Refusal::SelfDealing { .. } => "self_dealing",
            Refusal::NoTrigger => "no_trigger",
            Refusal::TriggerNotAllowed(_) => "trigger_not_allowed",
            Refusal::ScopeNotRequested { .. } => "scope_not_requested",
            Refusal::ScopeNotGranted { .. } => "scope_not_granted",
            Refusal::UnknownScope { .. } => "unknown_scope",
            Refusal::ScopeNotGrantable { .. } => "scope_not_grantable",
            Refusal::EmptyScope => "empty_scope",
            Refusal::OverCap { .. } => "over_cap",
            Refusal::NoExpiry => "no_expiry",
            Refusal::UnknownReason(_) => "unknown_reason",
            Refusal::MissingField(_) => "missing_field",
            Refusal::Throttled { .. } => "throttled",
            Refusal::BiometricDisabled { .. } => "biometric_disabled",
            Refusal::SupervisorNotAuthenticated => "supervisor_not_authenticated",
            Refusal::OfferExpired { .. } => "offer_expired",
            Refusal::Expired { .. } => "expired",
            Refusal::Revoked => "revoked",
            Refusal::ExtensionRefused => "extension_refused",
            Refusal::AlreadyDone(_) => "already_done",
            Refusal::HumanPrincipal { .. } => "human_principal",
            Refusal::ScopeNotRegistered { .. } => "scope_not_registered",
        }
    }
}
