//! Event kinds and the helpers that build ledger events.

use countersign_ledger::{EventIndex, NewEvent};
use serde_json::Value;

/// Every event kind the engine writes. The ledger treats kinds as opaque
/// strings, except `override.granted` / `override.reviewed` (pending review).
pub mod kinds {
    pub const KIOSK_INITIALIZED: &str = "kiosk.initialized";
    pub const POLICY_LOADED: &str = "policy.loaded";
    /// `policy.toml` was changed outside `policy apply`; not used.
    pub const POLICY_REFUSED: &str = "policy.refused";
    pub const PERSON_ADDED: &str = "person.added";
    pub const PERSON_ROLES_CHANGED: &str = "person.roles_changed";
    pub const PERSON_CREDENTIALS_SET: &str = "person.credentials_set";
    pub const PERSON_UNLOCKED: &str = "person.unlocked";
    pub const PERSON_CREDENTIALS_ATTESTED: &str = "person.credentials_attested";
    /// The engine refused to act on a person whose row differs from the chain.
    pub const REGISTRY_REFUSED: &str = "registry.refused";
    pub const STEPUP_REQUESTED: &str = "stepup.requested";
    pub const STEPUP_IDENTIFIED: &str = "stepup.identified";
    pub const STEPUP_INTENT: &str = "stepup.intent";
    pub const CAPTURE_STARTED: &str = "capture.started";
    pub const CAPTURE_DEVICE_UNAVAILABLE: &str = "capture.device_unavailable";
    pub const CAPTURE_QUALITY_FAILED: &str = "capture.quality_failed";
    pub const MATCH_ATTEMPT: &str = "match.attempt";
    pub const BIOMETRIC_ENROLLED: &str = "biometric.enrolled";
    pub const BIOMETRIC_ENROLL_FAILED: &str = "biometric.enroll_failed";
    pub const STEPUP_SUCCEEDED: &str = "stepup.succeeded";
    pub const STEPUP_CANCELLED: &str = "stepup.cancelled";
    pub const STEPUP_REFUSED: &str = "stepup.refused";
    pub const FALLBACK_TRIGGERED: &str = "fallback.triggered";
    pub const SUPERVISOR_AUTH: &str = "supervisor.auth";
    pub const OVERRIDE_GRANTED: &str = countersign_ledger::KIND_OVERRIDE_GRANTED;
    pub const OVERRIDE_USED: &str = "override.used";
    pub const OVERRIDE_EXPIRED: &str = "override.expired";
    pub const OVERRIDE_REVOKED: &str = "override.revoked";
    pub const OVERRIDE_REVIEWED: &str = countersign_ledger::KIND_OVERRIDE_REVIEWED;
    pub const OVERRIDE_RECONCILED: &str = "override.reconciled";
    pub const OVERRIDE_REFUSED: &str = "override.refused";
    pub const CLIENT_ADDED: &str = "client.added";
    pub const CLIENT_AUTH_FAILED: &str = "client.auth_failed";
    pub const PRINCIPAL_ADDED: &str = "principal.added";
    pub const BREAKGLASS_REQUESTED: &str = "breakglass.requested";
    pub const BREAKGLASS_REFUSED: &str = "breakglass.refused";
    pub const BREAKGLASS_CANCELLED: &str = "breakglass.cancelled";
    pub const ASSERTION_REQUESTED: &str = "assertion.requested";
    pub const ASSERTION_ISSUED: &str = "assertion.issued";
    pub const ASSERTION_REFUSED: &str = "assertion.refused";
    pub const SAMPLE_VIEWED: &str = "sample.viewed";
    pub const CONSOLE_SIGNED_IN: &str = "console.signed_in";
    pub const CONSOLE_SIGNED_OUT: &str = "console.signed_out";
    pub const CONSOLE_REFUSED: &str = "console.refused";
    /// An admin re-seeded the local anchor (two factors), after it was
    /// missing, behind, on another chain, or an alarm was raised.
    pub const ANCHOR_RESEEDED: &str = "anchor.reseeded";
    /// An admin wrote the kiosk's keys to a backup dir (two factors).
    pub const KEYS_BACKED_UP: &str = "keys.backed_up";
    /// The data dir was rebuilt from the bucket and a key backup.
    pub const KIOSK_RESTORED: &str = "kiosk.restored";
    /// Credentials the restored kiosk cannot bring back (see `people/fold.rs`).
    pub const PERSON_CREDENTIALS_CLEARED: &str = "person.credentials_cleared";
}

/// Builder for one event.
pub(crate) struct Ev(NewEvent);

impl Ev {
    pub fn new(kind: &str, ts_ms: i64, body: Value) -> Ev {
        Ev(NewEvent {
            ts_ms,
            kind: kind.into(),
            index: EventIndex::default(),
            body,
        })
    }
    pub fn person(mut self, p: &str) -> Ev {
        self.0.index.person = Some(p.into());
        self
    }
    pub fn supervisor(mut self, s: &str) -> Ev {
        self.0.index.supervisor = Some(s.into());
        self
    }
    pub fn outcome(mut self, o: &str) -> Ev {
        self.0.index.outcome = Some(o.into());
        self
    }
    pub fn trigger(mut self, t: &str) -> Ev {
        self.0.index.trigger = Some(t.into());
        self
    }
    pub fn case(mut self, c: &str) -> Ev {
        self.0.index.case_id = Some(c.into());
        self
    }
    pub fn build(self) -> NewEvent {
        self.0
    }
}
