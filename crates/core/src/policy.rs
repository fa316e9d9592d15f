//! The policy file (TOML): thresholds, the NIST SP 800-63B rev 4 attempt
//! regime, fallback triggers, override bounds, scopes and reason codes, and
//! the evidence-sync alert limit.
//!
//! Loading is strict: unknown keys are refused, and every semantic check
//! names the key and the line it is on, so an administrator can fix the file
//! without reading code.

use std::collections::BTreeSet;

use countersign_codes::Code;
use serde::{Deserialize, Serialize};

use crate::session::Trigger;

mod console;
mod locate;
mod matching;
pub use console::{ConsolePolicy, DEFAULT_CONSOLE_IDLE_MINUTES, MAX_CONSOLE_IDLE_MINUTES};
use locate::{key_on_line, line_of, locate, path_to_string, Seg};
pub use matching::{
    Matching, BELOW_FLOOR_CODE, FACE_FLOOR_MODEL_SHA256, FACE_THRESHOLD_FLOOR,
    LIBFPRINT_BZ3_THRESHOLD,
};

/// Code of every policy refusal that has no more specific one.
pub const INVALID_CODE: Code = Code::PolicyInvalid;

/// The policy shipped with Countersign (`assets/policy/default.toml`).
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../../assets/policy/default.toml");

/// Longest override any policy may allow: a grant is an exception, not a
/// shift-long pass. A policy whose cap is above this is refused.
pub const ABSOLUTE_MAX_OVERRIDE_MINUTES: i64 = 8 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub matching: Matching,
    pub attempts: Attempts,
    pub fallback: Fallback,
    #[serde(rename = "override")]
    pub overrides: Overrides,
    pub retention: Retention,
    pub supervisor: Supervisor,
    /// Break-glass for non-human identities. Absent: disabled.
    #[serde(default)]
    pub breakglass: BreakGlassPolicy,
    /// Signed step-up assertions for relying applications.
    #[serde(default)]
    pub assertion: AssertionPolicy,
    /// Evidence sync to write-once storage: when a backlog becomes an alert.
    #[serde(default)]
    pub sync: SyncPolicy,
    /// The reviewers' and admins' console. Absent: the defaults.
    #[serde(default)]
    pub console: ConsolePolicy,
    pub scopes: Vec<Scope>,
    pub reason_codes: Vec<ReasonCode>,
}

/// `[breakglass]`: time-bound grants for service accounts, API keys and
/// agents whose primary credential path failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassPolicy {
    /// Non-human triggers only; empty disables break-glass.
    pub triggers: Vec<Trigger>,
    pub default_duration_minutes: i64,
    pub max_duration_minutes: i64,
}

impl Default for BreakGlassPolicy {
    fn default() -> Self {
        BreakGlassPolicy {
            triggers: vec![],
            default_duration_minutes: 15,
            max_duration_minutes: 60,
        }
    }
}

/// `[assertion]`: the signed answer a relying application gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionPolicy {
    /// Lifetime of an assertion; an override-backed one never outlives its grant.
    pub lifetime_seconds: i64,
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        AssertionPolicy {
            lifetime_seconds: 300,
        }
    }
}

/// Longest lifetime a policy may give an assertion.
pub const MAX_ASSERTION_LIFETIME_SECONDS: i64 = 3600;

/// `[sync]`: evidence is only safe once it sits in the write-once bucket,
/// so a backlog that grows old is an alert (`countersign sync status`, the
/// app's sync screen).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncPolicy {
    /// Alert when the oldest event not yet uploaded is older than this.
    pub unsynced_alert_minutes: i64,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        SyncPolicy {
            unsynced_alert_minutes: 60,
        }
    }
}

impl SyncPolicy {
    /// The alert limit in milliseconds.
    pub fn alert_after_ms(&self) -> i64 {
        self.unsynced_alert_minutes.saturating_mul(60_000)
    }
}

/// Longest a policy may let evidence wait unsynced before alerting: a week.
pub const MAX_SYNC_ALERT_MINUTES: i64 = 7 * 24 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attempts {
    pub pad_enabled: bool,
    pub consecutive_failure_limit: u32,
    pub consecutive_failure_limit_with_pad: u32,
    pub throttle_seconds: u32,
    pub disable_after: u32,
    pub disable_after_with_pad: u32,
    pub quality_failure_limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    pub triggers: Vec<Trigger>,
    /// How long an offered fallback stays good for a supervisor's grant
    /// (1 to [`MAX_OFFER_TTL_MINUTES`]; 15 when absent). An offer left
    /// standing is a standing back door: a fallback offered on Monday must
    /// not be granted on Thursday. The operator's next failure offers anew.
    #[serde(default = "default_offer_ttl_minutes")]
    pub offer_ttl_minutes: i64,
}

fn default_offer_ttl_minutes() -> i64 {
    15
}

/// Longest a policy may keep an offered fallback open: an hour.
pub const MAX_OFFER_TTL_MINUTES: i64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub default_duration_minutes: i64,
    pub max_duration_minutes: i64,
    pub review_deadline_hours: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub sample_days: u32,
    pub checkpoint_every: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervisor {
    pub lockout_after_failures: u32,
    pub totp_step_seconds: u32,
    pub totp_digits: u32,
    pub totp_skew_steps: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub name: String,
    pub description: String,
    pub supervisor_may_grant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonCode {
    pub code: String,
    pub description: String,
}

/// A policy that could not be loaded: where, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("policy {}{}: {message}", key.as_deref().map(|k| format!("key `{k}`")).unwrap_or_else(|| "file".into()), line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct PolicyError {
    /// Stable code: [`INVALID_CODE`], or a specific one such as
    /// [`BELOW_FLOOR_CODE`].
    pub code: Code,
    /// Dotted key path, e.g. `attempts.consecutive_failure_limit` or `scopes[1].name`.
    pub key: Option<String>,
    /// 1-based line number in the source, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl Policy {
    /// The embedded default policy.
    pub fn default_policy() -> Policy {
        Policy::from_toml(DEFAULT_POLICY_TOML)
            .expect("the embedded default policy is valid (tested)")
    }

    /// Parses and validates a policy. Errors name the key and line.
    pub fn from_toml(src: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(src).map_err(|e| {
            let line = e.span().map(|s| line_of(src, s.start));
            let message = e.message().trim().to_string();
            let key = e.span().and_then(|s| key_on_line(src, s.start));
            PolicyError {
                code: INVALID_CODE,
                key,
                line,
                message,
            }
        })?;
        policy
            .validate()
            .map_err(|(path, message, code)| PolicyError {
                code,
                line: locate(src, &path),
                key: Some(path_to_string(&path)),
                message,
            })?;
        Ok(policy)
    }

    /// The consecutive-failure limit in force (5, or 10 with PAD).
    pub fn consecutive_limit(&self) -> u32 {
        if self.attempts.pad_enabled {
            self.attempts.consecutive_failure_limit_with_pad
        } else {
            self.attempts.consecutive_failure_limit
        }
    }

    /// The total-failure count at which the biometric is disabled (50, or 100 with PAD).
    pub fn disable_limit(&self) -> u32 {
        if self.attempts.pad_enabled {
            self.attempts.disable_after_with_pad
        } else {
            self.attempts.disable_after
        }
    }

    pub fn scope(&self, name: &str) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.name == name)
    }

    pub fn reason(&self, code: &str) -> Option<&ReasonCode> {
        self.reason_codes.iter().find(|r| r.code == code)
    }

    pub fn trigger_allowed(&self, t: Trigger) -> bool {
        self.fallback.triggers.contains(&t)
    }

    /// Whether a non-human break-glass may be requested for `t`.
    pub fn breakglass_trigger_allowed(&self, t: Trigger) -> bool {
        self.breakglass.triggers.contains(&t)
    }

    /// How long an offered fallback may be acted on, in ms.
    pub fn offer_ttl_ms(&self) -> i64 {
        self.fallback.offer_ttl_minutes.saturating_mul(60_000)
    }

    pub fn default_duration_ms(&self) -> i64 {
        self.overrides.default_duration_minutes * 60_000
    }

    pub fn max_duration_ms(&self) -> i64 {
        self.overrides.max_duration_minutes * 60_000
    }

    pub fn review_deadline_ms(&self) -> i64 {
        self.overrides.review_deadline_hours * 3_600_000
    }

    /// Semantic checks. Returns the offending key path and a message.
    fn validate(&self) -> Result<(), (Vec<Seg>, String, countersign_codes::Code)> {
        use Seg::K;
        let err = |path: Vec<Seg>, msg: String| Err((path, msg, INVALID_CODE));
        self.matching.validate()?;
        self.console.validate()?;
        let a = &self.attempts;
        let nist: [(&str, u32, u32); 4] = [
            ("consecutive_failure_limit", a.consecutive_failure_limit, 5),
            (
                "consecutive_failure_limit_with_pad",
                a.consecutive_failure_limit_with_pad,
                10,
            ),
            ("disable_after", a.disable_after, 50),
            ("disable_after_with_pad", a.disable_after_with_pad, 100),
        ];
        for (k, v, max) in nist {
            if v == 0 || v > max {
                return err(
                    vec![K("attempts"), K(k)],
                    format!("must be between 1 and {max} (NIST SP 800-63B rev 4), got {v}"),
                );
            }
        }
        if a.disable_after < a.consecutive_failure_limit {
            return err(
                vec![K("attempts"), K("disable_after")],
                "must not be below consecutive_failure_limit".into(),
            );
        }
        if a.disable_after_with_pad < a.consecutive_failure_limit_with_pad {
            return err(
                vec![K("attempts"), K("disable_after_with_pad")],
                "must not be below consecutive_failure_limit_with_pad".into(),
            );
        }
        if a.throttle_seconds < 30 {
            return err(
                vec![K("attempts"), K("throttle_seconds")],
                format!(
                    "must be at least 30 (NIST SP 800-63B rev 4), got {}",
                    a.throttle_seconds
                ),
            );
        }
        if a.quality_failure_limit == 0 || a.quality_failure_limit > 20 {
            return err(
                vec![K("attempts"), K("quality_failure_limit")],
                format!("must be between 1 and 20, got {}", a.quality_failure_limit),
            );
        }
        if self.fallback.triggers.is_empty() {
            return err(
                vec![K("fallback"), K("triggers")],
                "at least one trigger is needed, or no fallback could ever be offered".into(),
            );
        }
        let mut seen = BTreeSet::new();
        for t in &self.fallback.triggers {
            if !seen.insert(*t) {
                return err(
                    vec![K("fallback"), K("triggers")],
                    format!("trigger {t} is listed twice"),
                );
            }
        }
        if let Some(t) = self.fallback.triggers.iter().find(|t| t.is_non_human()) {
            return err(
                vec![K("fallback"), K("triggers")],
                format!(
                    "trigger {t} is for non-human identities; list it under [breakglass] triggers"
                ),
            );
        }
        let b = &self.breakglass;
        let mut seen = BTreeSet::new();
        for t in &b.triggers {
            if !t.is_non_human() {
                return err(
                    vec![K("breakglass"), K("triggers")],
                    format!("trigger {t} is a person's biometric fallback; list it under [fallback] triggers"),
                );
            }
            if !seen.insert(*t) {
                return err(
                    vec![K("breakglass"), K("triggers")],
                    format!("trigger {t} is listed twice"),
                );
            }
        }
        if b.max_duration_minutes <= 0 || b.max_duration_minutes > ABSOLUTE_MAX_OVERRIDE_MINUTES {
            return err(
                vec![K("breakglass"), K("max_duration_minutes")],
                format!("must be between 1 and {ABSOLUTE_MAX_OVERRIDE_MINUTES}; every grant has an expiry, got {}", b.max_duration_minutes),
            );
        }
        if b.default_duration_minutes <= 0 || b.default_duration_minutes > b.max_duration_minutes {
            return err(
                vec![K("breakglass"), K("default_duration_minutes")],
                format!(
                    "must be between 1 and max_duration_minutes ({}), got {}",
                    b.max_duration_minutes, b.default_duration_minutes
                ),
            );
        }
        let l = self.assertion.lifetime_seconds;
        if !(10..=MAX_ASSERTION_LIFETIME_SECONDS).contains(&l) {
            return err(
                vec![K("assertion"), K("lifetime_seconds")],
                format!("must be between 10 and {MAX_ASSERTION_LIFETIME_SECONDS}, got {l}"),
            );
        }
        let t = self.fallback.offer_ttl_minutes;
        if !(1..=MAX_OFFER_TTL_MINUTES).contains(&t) {
            return err(
                vec![K("fallback"), K("offer_ttl_minutes")],
                format!("must be between 1 and {MAX_OFFER_TTL_MINUTES}; an offered fallback expires, got {t}"),
            );
        }
        let m = self.sync.unsynced_alert_minutes;
        if !(1..=MAX_SYNC_ALERT_MINUTES).contains(&m) {
            return err(
                vec![K("sync"), K("unsynced_alert_minutes")],
                format!("must be between 1 and {MAX_SYNC_ALERT_MINUTES} (a week), got {m}"),
            );
        }
        let o = &self.overrides;
        if o.max_duration_minutes <= 0 || o.max_duration_minutes > ABSOLUTE_MAX_OVERRIDE_MINUTES {
            return err(
                vec![K("override"), K("max_duration_minutes")],
                format!("must be between 1 and {ABSOLUTE_MAX_OVERRIDE_MINUTES}; every grant has an expiry, got {}", o.max_duration_minutes),
            );
        }
        if o.default_duration_minutes <= 0 || o.default_duration_minutes > o.max_duration_minutes {
            return err(
                vec![K("override"), K("default_duration_minutes")],
                format!(
                    "must be between 1 and max_duration_minutes ({}), got {}",
                    o.max_duration_minutes, o.default_duration_minutes
                ),
            );
        }
        if o.review_deadline_hours <= 0 || o.review_deadline_hours > 24 * 30 {
            return err(
                vec![K("override"), K("review_deadline_hours")],
                format!("must be between 1 and 720, got {}", o.review_deadline_hours),
            );
        }
        if !(1..=3650).contains(&self.retention.sample_days) {
            return err(
                vec![K("retention"), K("sample_days")],
                format!(
                    "must be between 1 and 3650, got {}",
                    self.retention.sample_days
                ),
            );
        }
        if !(1..=100_000).contains(&self.retention.checkpoint_every) {
            return err(
                vec![K("retention"), K("checkpoint_every")],
                format!(
                    "must be between 1 and 100000, got {}",
                    self.retention.checkpoint_every
                ),
            );
        }
        let s = &self.supervisor;
        if s.lockout_after_failures == 0 || s.lockout_after_failures > 10 {
            return err(
                vec![K("supervisor"), K("lockout_after_failures")],
                format!("must be between 1 and 10, got {}", s.lockout_after_failures),
            );
        }
        if !(15..=120).contains(&s.totp_step_seconds) {
            return err(
                vec![K("supervisor"), K("totp_step_seconds")],
                format!("must be between 15 and 120, got {}", s.totp_step_seconds),
            );
        }
        if !(6..=8).contains(&s.totp_digits) {
            return err(
                vec![K("supervisor"), K("totp_digits")],
                format!("must be 6, 7 or 8, got {}", s.totp_digits),
            );
        }
        if s.totp_skew_steps > 2 {
            return err(
                vec![K("supervisor"), K("totp_skew_steps")],
                format!("must be 0, 1 or 2, got {}", s.totp_skew_steps),
            );
        }
        if self.scopes.is_empty() {
            return err(vec![K("scopes")], "at least one scope is needed".into());
        }
        let mut names = BTreeSet::new();
        for (i, sc) in self.scopes.iter().enumerate() {
            if !valid_name(&sc.name) {
                return err(
                    vec![K("scopes"), Seg::I(i), K("name")],
                    format!(
                        "{:?} is not a valid scope name (letters, digits, '.', '_', '-', 1 to 64)",
                        sc.name
                    ),
                );
            }
            if !names.insert(&sc.name) {
                return err(
                    vec![K("scopes"), Seg::I(i), K("name")],
                    format!("scope {} is defined twice", sc.name),
                );
            }
        }
        if self.reason_codes.is_empty() {
            return err(
                vec![K("reason_codes")],
                "at least one reason code is needed".into(),
            );
        }
        let mut codes = BTreeSet::new();
        for (i, rc) in self.reason_codes.iter().enumerate() {
            if !valid_name(&rc.code) {
                return err(
                    vec![K("reason_codes"), Seg::I(i), K("code")],
                    format!("{:?} is not a valid reason code", rc.code),
                );
            }
            if !codes.insert(&rc.code) {
                return err(
                    vec![K("reason_codes"), Seg::I(i), K("code")],
                    format!("reason code {} is defined twice", rc.code),
                );
            }
        }
        Ok(())
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests;
