//! The step-up session state machine.
//!
//! ```text
//! Requested --identify--> Identified --intent--> AwaitingCapture --capture--> Capturing
//!   Capturing --match ok--> Succeeded
//!   Capturing --no match / quality--> Identified (next attempt needs a new intent)
//!   any capture state --trigger--> FallbackOffered --supervisor 2FA--> SupervisorAuthenticated
//!   SupervisorAuthenticated --grant--> OverrideGranted          (then see override_case)
//!   any non-final state --cancel--> Cancelled
//! ```
//! The only ways into `FallbackOffered` are the three triggers, and only when
//! the policy enables them. There is no "skip" event.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::attempts::{AttemptState, AttemptVerdict};
use crate::auth::Authenticated;
use crate::breakglass::PrincipalKind;
use crate::people::{Person, Role};
use crate::policy::Policy;
use crate::{Ms, Refusal};

/// How long a supervisor's two-factor authentication stays good for granting.
pub const SUPERVISOR_AUTH_FRESH_MS: Ms = 5 * 60_000;

mod types;
pub use types::*;

/// One step-up: what was asked, by whom, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub requested_scope: BTreeSet<String>,
    /// The assurance asked for (`acr_values`), kept as evidence.
    pub acr_values: Vec<String>,
    pub requested_at: Ms,
    pub operator: Option<Person>,
    pub attempts: AttemptState,
    /// Attempts made in this session.
    pub attempt_no: u32,
    pub trigger: Option<Trigger>,
    /// When the fallback was last offered (the trigger fired). A grant must
    /// follow within the policy's `[fallback] offer_ttl_minutes`.
    #[serde(default)]
    pub offered_at: Option<Ms>,
    pub supervisor: Option<(Person, Authenticated)>,
    pub state: SessionState,
}

impl Session {
    /// Starts a session. Scopes must be known to the policy.
    pub fn request(
        policy: &Policy,
        id: String,
        scope: BTreeSet<String>,
        acr_values: Vec<String>,
        now: Ms,
    ) -> Result<Session, Refusal> {
        if scope.is_empty() {
            return Err(Refusal::EmptyScope);
        }
        if let Some(s) = scope.iter().find(|s| policy.scope(s).is_none()) {
            return Err(Refusal::UnknownScope { scope: s.clone() });
        }
        Ok(Session {
            id,
            requested_scope: scope,
            acr_values,
            requested_at: now,
            operator: None,
            attempts: AttemptState::default(),
            attempt_no: 0,
            trigger: None,
            offered_at: None,
            supervisor: None,
            state: SessionState::Requested,
        })
    }

    fn invalid(&self, ev: &SessionEvent) -> Refusal {
        Refusal::InvalidTransition {
            state: self.state.name().into(),
            event: ev.name().into(),
        }
    }

    fn operator_id(&self) -> &str {
        self.operator.as_ref().map(|p| p.id.as_str()).unwrap_or("")
    }

    /// Fires `t` if the policy enables it; otherwise the session returns to
    /// `Identified` (the operator may retry; nothing is granted).
    fn fire(&mut self, policy: &Policy, t: Trigger, now: Ms, effects: &mut Vec<Effect>) {
        if policy.trigger_allowed(t) {
            self.trigger = Some(t);
            self.offered_at = Some(now);
            self.state = SessionState::FallbackOffered { trigger: t };
            effects.push(Effect::TriggerFired { trigger: t });
        } else {
            self.state = SessionState::Identified;
            effects.push(Effect::TriggerSuppressed { trigger: t });
        }
    }

    /// Replaces the session's copy of the operator's attempt regime with
    /// `fresh`, the person's current regime. The regime is per person, not
    /// per session: another session (or another process) may have recorded
    /// attempts since this one identified, so the engine reads the regime
    /// inside the write transaction of each attempt transition and hands it
    /// here before [`Session::apply`]. Without an operator it does nothing.
    pub fn refresh_attempts(&mut self, fresh: AttemptState) {
        if self.operator.is_some() {
            self.attempts = fresh;
        }
    }

    /// Whether the regime allows an attempt at `now`, as a refusal.
    fn attempt_allowed(&self, policy: &Policy, now: Ms) -> Result<(), Refusal> {
        match self.attempts.check(policy, now) {
            AttemptVerdict::Allowed => Ok(()),
            AttemptVerdict::Throttled { wait_ms } => Err(Refusal::Throttled { wait_ms }),
            AttemptVerdict::Disabled => Err(Refusal::BiometricDisabled {
                person: self.operator_id().into(),
            }),
        }
    }

    /// Applies one event at time `now`. On refusal the session is unchanged.
    pub fn apply(
        &mut self,
        policy: &Policy,
        ev: SessionEvent,
        now: Ms,
    ) -> Result<Vec<Effect>, Refusal> {
        let mut effects = Vec::new();
        match (&self.state, &ev) {
            (
                SessionState::Cancelled { .. }
                | SessionState::Succeeded { .. }
                | SessionState::OverrideGranted { .. },
                _,
            ) => return Err(self.invalid(&ev)),
            (_, SessionEvent::Cancel { reason }) => {
                self.state = SessionState::Cancelled {
                    reason: reason.clone(),
                };
            }
            (SessionState::Requested, SessionEvent::Identify { operator, attempts }) => {
                operator.require(Role::Operator)?;
                self.operator = Some(operator.clone());
                self.attempts = attempts.clone();
                self.state = SessionState::Identified;
                if self.attempts.disabled {
                    effects.push(Effect::BiometricDisabled);
                    self.fire(policy, Trigger::FailureLimit, now, &mut effects);
                } else if self.attempts.limit_reached(policy) {
                    self.fire(policy, Trigger::FailureLimit, now, &mut effects);
                }
            }
            (
                SessionState::Identified | SessionState::FallbackOffered { .. },
                SessionEvent::Intent,
            ) => {
                // From FallbackOffered, the operator may still retry the
                // primary path once the wait is over (NIST: offer, not force).
                self.attempt_allowed(policy, now)?;
                self.state = SessionState::AwaitingCapture;
            }
            (SessionState::AwaitingCapture, SessionEvent::CaptureStarted { device }) => {
                self.state = SessionState::Capturing {
                    device: device.clone(),
                };
            }
            (
                SessionState::AwaitingCapture | SessionState::Capturing { .. },
                SessionEvent::DeviceUnavailable { .. },
            ) => {
                self.fire(policy, Trigger::DeviceUnavailable, now, &mut effects);
            }
            (SessionState::Capturing { .. }, SessionEvent::QualityFailure { reason }) => {
                let limit = self.attempts.record_quality_failure(policy);
                effects.push(Effect::QualityRejected {
                    reason: reason.clone(),
                    consecutive: self.attempts.consecutive_quality_failures,
                });
                if limit {
                    self.fire(policy, Trigger::CaptureQuality, now, &mut effects);
                } else {
                    self.state = SessionState::Identified;
                }
            }
            (
                SessionState::Capturing { .. },
                SessionEvent::Match {
                    modality,
                    score,
                    pad_passed,
                },
            ) => {
                // Checked again at the match, not only at the intent: with a
                // regime refreshed from the ledger, other sessions' failures
                // since this one's intent count (at most `consecutive_limit`
                // failures before the wait, however many sessions race).
                self.attempt_allowed(policy, now)?;
                let threshold = match modality {
                    Modality::Face => policy.matching.face_threshold,
                    Modality::Finger => policy.matching.finger_decision_threshold(),
                };
                // A failed presentation-attack check is a failed attempt whatever the score.
                let matched = *score >= threshold && *pad_passed != Some(false);
                self.attempt_no += 1;
                if matched {
                    self.attempts.record_success();
                    self.state = SessionState::Succeeded {
                        modality: *modality,
                        score: *score,
                    };
                } else {
                    let fx = self.attempts.record_failure(policy, now);
                    self.state = SessionState::Identified;
                    effects.push(Effect::MatchDecided {
                        attempt: self.attempt_no,
                        modality: *modality,
                        score: *score,
                        threshold,
                        matched,
                        pad_passed: *pad_passed,
                        consecutive_failures: fx.consecutive_failures,
                    });
                    if fx.disabled_now {
                        effects.push(Effect::BiometricDisabled);
                    }
                    if fx.limit_reached {
                        self.fire(policy, Trigger::FailureLimit, now, &mut effects);
                    }
                    return Ok(effects);
                }
                effects.insert(
                    0,
                    Effect::MatchDecided {
                        attempt: self.attempt_no,
                        modality: *modality,
                        score: *score,
                        threshold,
                        matched,
                        pad_passed: *pad_passed,
                        consecutive_failures: 0,
                    },
                );
            }
            (
                SessionState::FallbackOffered { trigger },
                SessionEvent::SupervisorAuthenticated { supervisor, auth },
            ) => {
                self.check_offer(policy, now)?;
                supervisor.require(Role::Supervisor)?;
                if supervisor.id == self.operator_id() {
                    return Err(Refusal::SelfDealing {
                        person: supervisor.id.clone(),
                        action: "approve",
                    });
                }
                if auth.supervisor != supervisor.id
                    || !auth.amr.iter().any(|a| a == "otp")
                    || auth.amr.len() < 2
                {
                    return Err(Refusal::SupervisorNotAuthenticated);
                }
                self.state = SessionState::SupervisorAuthenticated {
                    trigger: *trigger,
                    supervisor: supervisor.id.clone(),
                };
                self.supervisor = Some((supervisor.clone(), auth.clone()));
            }
            (
                SessionState::Identified
                | SessionState::Requested
                | SessionState::AwaitingCapture
                | SessionState::Capturing { .. },
                SessionEvent::GrantOverride(_),
            ) => {
                return Err(Refusal::NoTrigger);
            }
            (SessionState::FallbackOffered { .. }, SessionEvent::GrantOverride(_)) => {
                return Err(Refusal::SupervisorNotAuthenticated)
            }
            (
                SessionState::SupervisorAuthenticated { trigger, .. },
                SessionEvent::GrantOverride(req),
            ) => {
                self.check_offer(policy, now)?;
                let grant = self.check_grant(policy, *trigger, req, now)?;
                self.state = SessionState::OverrideGranted {
                    grant_id: grant.id.clone(),
                };
                effects.push(Effect::Granted(Box::new(grant)));
            }
            _ => return Err(self.invalid(&ev)),
        }
        Ok(effects)
    }

    /// An offered fallback is good for the policy's `offer_ttl_minutes`
    /// from the moment its trigger fired, for the supervisor's sign-in and
    /// for the grant alike. A clock earlier than the offer is refused too.
    pub fn check_offer(&self, policy: &Policy, now: Ms) -> Result<(), Refusal> {
        let offered_at = self.offered_at.ok_or(Refusal::NoTrigger)?;
        let expired_at = offered_at.saturating_add(policy.offer_ttl_ms());
        if now >= expired_at || now < offered_at {
            return Err(Refusal::OfferExpired {
                offered_at,
                expired_at,
            });
        }
        Ok(())
    }

    fn check_grant(
        &self,
        policy: &Policy,
        trigger: Trigger,
        req: &GrantRequest,
        now: Ms,
    ) -> Result<Grant, Refusal> {
        build_grant(
            GrantInputs {
                policy,
                supervisor: self.supervisor.as_ref(),
                trigger_allowed: policy.trigger_allowed(trigger),
                trigger,
                requested_scope: &self.requested_scope,
                cap: (
                    policy.max_duration_ms(),
                    policy.overrides.max_duration_minutes,
                ),
                default_ms: policy.default_duration_ms(),
                session_id: &self.id,
                operator: self.operator_id(),
                principal_kind: PrincipalKind::Human,
                requester: None,
            },
            req,
            now,
        )
    }
}

/// What [`build_grant`] needs besides the request: the case it is for.
pub(crate) struct GrantInputs<'a> {
    pub policy: &'a Policy,
    pub supervisor: Option<&'a (Person, Authenticated)>,
    pub trigger_allowed: bool,
    pub trigger: Trigger,
    pub requested_scope: &'a BTreeSet<String>,
    /// (cap in ms, cap in minutes for the message)
    pub cap: (Ms, i64),
    pub default_ms: Ms,
    pub session_id: &'a str,
    pub operator: &'a str,
    pub principal_kind: PrincipalKind,
    pub requester: Option<&'a str>,
}

/// The one place a [`Grant`] is constructed: a step-up's override
/// (`Session`) and a non-human break-glass (`BreakGlass`) both come here,
/// after their own state machine has reached "supervisor authenticated".
pub(crate) fn build_grant(
    i: GrantInputs<'_>,
    req: &GrantRequest,
    now: Ms,
) -> Result<Grant, Refusal> {
    let policy = i.policy;
    let (sup, auth) = i.supervisor.ok_or(Refusal::SupervisorNotAuthenticated)?;
    if now - auth.at > SUPERVISOR_AUTH_FRESH_MS || now < auth.at {
        return Err(Refusal::SupervisorNotAuthenticated);
    }
    if !i.trigger_allowed {
        return Err(Refusal::TriggerNotAllowed(i.trigger.to_string()));
    }
    if req.scope.is_empty() {
        return Err(Refusal::EmptyScope);
    }
    for s in &req.scope {
        if !i.requested_scope.contains(s) {
            return Err(Refusal::ScopeNotRequested { scope: s.clone() });
        }
        match policy.scope(s) {
            None => return Err(Refusal::UnknownScope { scope: s.clone() }),
            Some(sc) if !sc.supervisor_may_grant => {
                return Err(Refusal::ScopeNotGrantable { scope: s.clone() })
            }
            _ => {}
        }
    }
    let duration = req.duration_ms.unwrap_or(i.default_ms);
    if duration <= 0 {
        return Err(Refusal::NoExpiry);
    }
    if duration > i.cap.0 {
        return Err(Refusal::OverCap {
            requested_minutes: duration.saturating_add(59_999) / 60_000,
            cap_minutes: i.cap.1,
        });
    }
    if policy.reason(&req.reason_code).is_none() {
        return Err(Refusal::UnknownReason(req.reason_code.clone()));
    }
    if req.note.trim().is_empty() {
        return Err(Refusal::MissingField("note"));
    }
    if req.compensating_control.trim().is_empty() {
        return Err(Refusal::MissingField("compensating_control"));
    }
    if req.grant_id.is_empty() {
        return Err(Refusal::MissingField("grant_id"));
    }
    Ok(Grant {
        id: req.grant_id.clone(),
        session_id: i.session_id.into(),
        operator: i.operator.into(),
        supervisor: sup.id.clone(),
        supervisor_amr: auth.amr.clone(),
        trigger: i.trigger,
        requested_scope: i.requested_scope.clone(),
        scope: req.scope.clone(),
        granted_at: now,
        expires_at: now + duration,
        review_due: now + policy.review_deadline_ms(),
        reason_code: req.reason_code.clone(),
        note: req.note.clone(),
        ticket: req.ticket.clone().filter(|t| !t.trim().is_empty()),
        compensating_control: req.compensating_control.clone(),
        principal_kind: i.principal_kind,
        requester: i.requester.map(str::to_string),
    })
}
