//! The biometric attempt regime of NIST SP 800-63B rev 4, per person:
//! after 5 consecutive failures (10 with presentation-attack detection) the
//! next attempt waits at least 30 s, doubling with each further failure, and
//! the fallback trigger `failure_limit` fires; after 50 (100 with PAD) the
//! biometric is disabled for that person until re-enrollment.

use serde::{Deserialize, Serialize};

use crate::policy::Policy;
use crate::Ms;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptState {
    /// Failed matches since the last success or re-enrollment.
    pub consecutive_failures: u32,
    /// Captures rejected by the quality gates in a row (not match failures).
    pub consecutive_quality_failures: u32,
    pub last_failure_at: Option<Ms>,
    /// Set at the disable limit; cleared only by re-enrollment.
    pub disabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum AttemptVerdict {
    Allowed,
    Throttled { wait_ms: Ms },
    Disabled,
}

/// What one failed match did to the regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureEffect {
    pub consecutive_failures: u32,
    pub limit_reached: bool,
    pub disabled_now: bool,
}

impl AttemptState {
    /// Whether an attempt may start at `now`.
    pub fn check(&self, policy: &Policy, now: Ms) -> AttemptVerdict {
        if self.disabled {
            return AttemptVerdict::Disabled;
        }
        match self.next_allowed_at(policy) {
            Some(at) if now < at => AttemptVerdict::Throttled { wait_ms: at - now },
            _ => AttemptVerdict::Allowed,
        }
    }

    /// When the next attempt is allowed, once the consecutive limit is reached.
    pub fn next_allowed_at(&self, policy: &Policy) -> Option<Ms> {
        let limit = policy.consecutive_limit();
        if self.consecutive_failures < limit {
            return None;
        }
        let doublings = (self.consecutive_failures - limit).min(16);
        let wait = policy.attempts.throttle_seconds as i64 * 1000 * (1i64 << doublings);
        self.last_failure_at.map(|t| t + wait)
    }

    pub fn limit_reached(&self, policy: &Policy) -> bool {
        self.disabled || self.consecutive_failures >= policy.consecutive_limit()
    }

    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.consecutive_quality_failures = 0;
        self.last_failure_at = None;
    }

    pub fn record_failure(&mut self, policy: &Policy, now: Ms) -> FailureEffect {
        self.consecutive_failures += 1;
        self.consecutive_quality_failures = 0;
        self.last_failure_at = Some(now);
        let disabled_now = !self.disabled && self.consecutive_failures >= policy.disable_limit();
        self.disabled |= disabled_now;
        FailureEffect {
            consecutive_failures: self.consecutive_failures,
            limit_reached: self.consecutive_failures >= policy.consecutive_limit(),
            disabled_now,
        }
    }

    /// Returns true when the quality-failure limit is reached.
    pub fn record_quality_failure(&mut self, policy: &Policy) -> bool {
        self.consecutive_quality_failures += 1;
        self.consecutive_quality_failures >= policy.attempts.quality_failure_limit
    }

    /// Re-enrollment restores the biometric.
    pub fn reset_on_enrollment(&mut self) {
        *self = AttemptState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_starts_at_limit_and_doubles() {
        let p = Policy::default_policy();
        let mut s = AttemptState::default();
        for i in 1..=4 {
            let e = s.record_failure(&p, i * 1000);
            assert!(!e.limit_reached);
            assert_eq!(
                s.check(&p, i * 1000),
                AttemptVerdict::Allowed,
                "no wait before the 5th failure"
            );
        }
        let e = s.record_failure(&p, 10_000);
        assert!(e.limit_reached);
        assert_eq!(
            s.check(&p, 10_000),
            AttemptVerdict::Throttled { wait_ms: 30_000 }
        );
        assert_eq!(s.check(&p, 40_000), AttemptVerdict::Allowed);
        s.record_failure(&p, 40_000);
        assert_eq!(
            s.check(&p, 40_000),
            AttemptVerdict::Throttled { wait_ms: 60_000 }
        );
        s.record_success();
        assert_eq!(s.check(&p, 40_001), AttemptVerdict::Allowed);
    }

    #[test]
    fn disabled_at_fifty_until_reenrollment() {
        let p = Policy::default_policy();
        let mut s = AttemptState::default();
        let mut disabled_at = None;
        for i in 1..=50 {
            if s.record_failure(&p, 0).disabled_now {
                disabled_at = Some(i);
            }
        }
        assert_eq!(disabled_at, Some(50));
        assert_eq!(s.check(&p, i64::MAX / 2), AttemptVerdict::Disabled);
        s.record_success();
        assert_eq!(
            s.check(&p, 0),
            AttemptVerdict::Disabled,
            "only re-enrollment restores"
        );
        s.reset_on_enrollment();
        assert_eq!(s.check(&p, 0), AttemptVerdict::Allowed);
    }

    #[test]
    fn pad_doubles_limits() {
        let mut p = Policy::default_policy();
        p.attempts.pad_enabled = true;
        let mut s = AttemptState::default();
        for _ in 0..9 {
            assert!(!s.record_failure(&p, 0).limit_reached);
        }
        assert!(s.record_failure(&p, 0).limit_reached);
        for _ in 10..99 {
            assert!(!s.record_failure(&p, 0).disabled_now);
        }
        assert!(s.record_failure(&p, 0).disabled_now);
    }

    #[test]
    fn quality_failures_count_separately() {
        let p = Policy::default_policy();
        let mut s = AttemptState::default();
        assert!(!s.record_quality_failure(&p));
        assert!(!s.record_quality_failure(&p));
        assert!(s.record_quality_failure(&p));
        assert_eq!(
            s.consecutive_failures, 0,
            "quality failures are not match failures"
        );
    }
}
