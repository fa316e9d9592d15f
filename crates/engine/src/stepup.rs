//! The step-up use case: drives a [`Session`] and records each transition.
//!
//! A refused transition is evidence too: it is logged as `stepup.refused`
//! (an attempt to grant without a trigger is exactly what reviewers look for).

use std::collections::BTreeSet;

use countersign_core::attempts::AttemptState;
use countersign_core::session::{Effect, GrantRequest, Modality, SessionEvent};
use countersign_core::{Grant, Reconciliation, Role, Session, SessionState};
use serde::Serialize;
use serde_json::json;

use crate::evidence::{kinds, Ev};
use crate::{AttemptEvidence, Engine, EngineError};

mod resume;

/// A step-up in progress. Held by the caller (CLI run, app window).
#[derive(Debug, Clone)]
pub struct StepUp {
    pub session: Session,
    pub requester: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepUpOutcome {
    Succeeded {
        session_id: String,
        operator: String,
        modality: Modality,
        score: f64,
    },
    OverrideGranted {
        session_id: String,
        grant: Box<Grant>,
    },
    FallbackOffered {
        session_id: String,
        trigger: String,
    },
    InProgress {
        session_id: String,
        state: String,
    },
    Cancelled {
        session_id: String,
        reason: String,
    },
}

impl Engine {
    /// Opens a step-up for `scope`, asked by `requester` (the relying app).
    pub fn start_stepup(
        &mut self,
        scope: BTreeSet<String>,
        acr_values: Vec<String>,
        requester: &str,
    ) -> Result<StepUp, EngineError> {
        let now = self.now();
        let id = Engine::new_id("stp");
        let session = Session::request(&self.policy, id.clone(), scope, acr_values, now)?;
        self.ledger.append(
            &Ev::new(kinds::STEPUP_REQUESTED, now, json!({ "session_id": id, "scope": session.requested_scope, "acr_values": session.acr_values, "requester": requester, "kiosk_id": self.kiosk_id }))
                .case(&id)
                .build(),
        )?;
        Ok(StepUp {
            session,
            requester: requester.into(),
        })
    }

    /// The operator's current attempt regime, from the latest event that recorded it.
    pub fn attempt_state(&mut self, person: &str) -> Result<AttemptState, EngineError> {
        Ok(regime_of(
            self.ledger.latest(&regime_filter(person))?.as_ref(),
        ))
    }

    pub fn identify(&mut self, s: &mut StepUp, operator: &str) -> Result<Vec<Effect>, EngineError> {
        let person = self.person(operator)?;
        let attempts = self.attempt_state(operator)?;
        self.apply(
            s,
            SessionEvent::Identify {
                operator: person,
                attempts,
            },
        )
    }

    /// Two factors from the supervisor, then the session moves on.
    pub fn supervisor_login(
        &mut self,
        s: &mut StepUp,
        supervisor: &str,
        secret: &str,
        code: &str,
    ) -> Result<Vec<Effect>, EngineError> {
        if !matches!(s.session.state, SessionState::FallbackOffered { .. }) {
            // Check the state before touching credentials, so no factor is
            // spent (or failure counted) on a session that cannot use it.
            return Err(self.refuse(
                s,
                "supervisor_authenticated",
                countersign_core::Refusal::InvalidTransition {
                    state: s.session.state.name().into(),
                    event: "supervisor_authenticated".into(),
                },
            ));
        }
        self.check_offer_open(s, "supervisor_authenticated")?;
        let (person, auth) = self.authenticate(
            supervisor,
            Role::Supervisor,
            secret,
            code,
            &format!("grant {}", s.session.id),
        )?;
        self.apply(
            s,
            SessionEvent::SupervisorAuthenticated {
                supervisor: person,
                auth,
            },
        )
    }

    /// Checks a grant request as the core would once `supervisor` has
    /// authenticated, without touching credentials or the log, so a request
    /// that would be refused (over the cap, unknown reason, scope not
    /// requested, self-approval) does not spend the supervisor's TOTP code.
    pub fn preflight_grant(
        &mut self,
        s: &StepUp,
        supervisor: &str,
        req: &GrantRequest,
    ) -> Result<(), EngineError> {
        let person = self.person(supervisor)?;
        if matches!(s.session.state, SessionState::FallbackOffered { .. }) {
            self.check_offer_open(s, "override_granted")?;
        }
        let now = self.now();
        let mut probe = s.session.clone();
        let auth = countersign_core::auth::Authenticated {
            supervisor: supervisor.into(),
            amr: vec!["pwd".into(), "otp".into()],
            at: now,
            totp_step: 0,
        };
        probe.apply(
            &self.policy,
            SessionEvent::SupervisorAuthenticated {
                supervisor: person,
                auth,
            },
            now,
        )?;
        let mut req = req.clone();
        if req.grant_id.is_empty() {
            req.grant_id = "preflight".into();
        }
        probe.apply(&self.policy, SessionEvent::GrantOverride(req), now)?;
        Ok(())
    }

    /// Refuses, and records the refusal, when the fallback on offer has
    /// outlived the policy's `offer_ttl_minutes`: checked before any factor
    /// is asked for, so an expired offer costs the supervisor no TOTP code.
    fn check_offer_open(&mut self, s: &StepUp, event: &str) -> Result<(), EngineError> {
        let now = self.now();
        match s.session.check_offer(&self.policy, now) {
            Ok(()) => Ok(()),
            Err(r) => Err(self.refuse(s, event, r)),
        }
    }

    /// Grants the override. An empty `grant_id` gets a fresh random one.
    pub fn grant(&mut self, s: &mut StepUp, mut req: GrantRequest) -> Result<Grant, EngineError> {
        if req.grant_id.is_empty() {
            req.grant_id = Engine::new_id("ovr");
        }
        let fx = self.apply(s, SessionEvent::GrantOverride(req))?;
        fx.into_iter()
            .find_map(|e| {
                if let Effect::Granted(g) = e {
                    Some(*g)
                } else {
                    None
                }
            })
            .ok_or_else(|| EngineError::Invalid("grant produced no grant".into()))
    }

    pub fn outcome(&self, s: &StepUp) -> StepUpOutcome {
        let id = s.session.id.clone();
        match &s.session.state {
            SessionState::Succeeded { modality, score } => StepUpOutcome::Succeeded {
                session_id: id,
                operator: s
                    .session
                    .operator
                    .as_ref()
                    .map(|p| p.id.clone())
                    .unwrap_or_default(),
                modality: *modality,
                score: *score,
            },
            SessionState::FallbackOffered { trigger } => StepUpOutcome::FallbackOffered {
                session_id: id,
                trigger: trigger.to_string(),
            },
            SessionState::Cancelled { reason } => StepUpOutcome::Cancelled {
                session_id: id,
                reason: reason.clone(),
            },
            other => StepUpOutcome::InProgress {
                session_id: id,
                state: other.name().into(),
            },
        }
    }

    fn refuse(&mut self, s: &StepUp, event: &str, r: countersign_core::Refusal) -> EngineError {
        let now = self.now();
        match self
            .ledger
            .append(&refused_event(&s.session, event, &r, now))
        {
            Ok(_) => EngineError::Refused(r),
            Err(e) => EngineError::Ledger(e),
        }
    }

    /// Applies one event and writes the evidence for it.
    ///
    /// Everything happens in one ledger write transaction (`BEGIN
    /// IMMEDIATE`): for a transition that reads or changes the operator's
    /// attempt regime (identify, intent, capture, quality failure, match,
    /// device unavailable) the person's current regime is read inside it
    /// and handed to the session ([`Session::refresh_attempts`]), the core
    /// decides, and the evidence (or the refusal) is appended before commit.
    /// So the failure count, the throttle and the disable hold across
    /// sessions and processes: a second process waits for the write lock
    /// and then sees the first one's failure.
    pub fn apply(&mut self, s: &mut StepUp, ev: SessionEvent) -> Result<Vec<Effect>, EngineError> {
        self.apply_with(s, ev, None)
    }

    /// [`Engine::apply`] with a measured attempt's evidence (the face and
    /// finger paths), recorded in the attempt's event with its
    /// `score_source`. Passed in, never left on the engine between calls.
    pub(crate) fn apply_with(
        &mut self,
        s: &mut StepUp,
        ev: SessionEvent,
        evidence: Option<AttemptEvidence>,
    ) -> Result<Vec<Effect>, EngineError> {
        // Test input and replays only on a demo data dir (demo.rs).
        let evidence = self.check_evidence_source(s, &ev, evidence)?;
        let now = self.now();
        let name = ev.name();
        let before = s.session.clone();
        let anchor = self.clock.boot_anchor();
        let regime_person = match &ev {
            SessionEvent::Identify { operator, .. } => Some(operator.id.clone()),
            SessionEvent::Intent
            | SessionEvent::CaptureStarted { .. }
            | SessionEvent::DeviceUnavailable { .. }
            | SessionEvent::QualityFailure { .. }
            | SessionEvent::Match { .. } => s.session.operator.as_ref().map(|p| p.id.clone()),
            _ => None,
        };
        // An attempt event without evidence was refused above unless it is
        // a demo's test input.
        let score_source = evidence.as_ref().map_or("test_input", |a| a.score_source);
        let Engine { ledger, policy, .. } = self;
        let res = ledger.transact("recording a step-up transition", |tx| {
            let mut ev = ev;
            if let Some(person) = &regime_person {
                let fresh = regime_in(tx, person)?;
                match &mut ev {
                    SessionEvent::Identify { attempts, .. } => *attempts = fresh,
                    _ => s.session.refresh_attempts(fresh),
                }
            }
            let effects = match s.session.apply(policy, ev.clone(), now) {
                Ok(fx) => fx,
                Err(r) => {
                    s.session = before.clone();
                    tx.append(&[refused_event(&s.session, name, &r, now)])?;
                    return Ok(Err(r));
                }
            };
            let mut batch = transition_events(s, &before, &ev, &effects, now, score_source, anchor);
            crate::face::attach_attempt_evidence(&mut batch, evidence);
            tx.append(&batch)?;
            Ok::<_, EngineError>(Ok(effects))
        });
        let effects = match res {
            Ok(Ok(fx)) => fx,
            Ok(Err(r)) => return Err(EngineError::Refused(r)),
            Err(e) => {
                // Nothing was recorded, so the transition did not happen.
                s.session = before;
                return Err(e);
            }
        };
        if matches!(s.session.state, SessionState::Succeeded { .. }) {
            let op = s
                .session
                .operator
                .as_ref()
                .map(|p| p.id.clone())
                .unwrap_or_default();
            self.reconcile_operator(&op, Reconciliation::PrimaryMatch)?;
        }
        self.maybe_checkpoint()?;
        Ok(effects)
    }
}

/// The kinds whose body carries the person's attempt regime *as changed by
/// that event* (other kinds carry copies: an identify's copy may be stale).
const REGIME_KINDS: [&str; 3] = [
    kinds::MATCH_ATTEMPT,
    kinds::CAPTURE_QUALITY_FAILED,
    kinds::STEPUP_SUCCEEDED,
];

fn regime_filter(person: &str) -> countersign_ledger::Filter {
    countersign_ledger::Filter {
        kinds: REGIME_KINDS.iter().map(|k| k.to_string()).collect(),
        person: Some(person.into()),
        ..Default::default()
    }
}

fn regime_of(row: Option<&countersign_ledger::EventRow>) -> AttemptState {
    row.and_then(|r| r.body.get("regime"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// The person's current regime, read inside a write transaction.
fn regime_in(tx: &countersign_ledger::Tx<'_>, person: &str) -> Result<AttemptState, EngineError> {
    Ok(regime_of(tx.latest(&regime_filter(person))?.as_ref()))
}

fn refused_event(
    session: &Session,
    event: &str,
    r: &countersign_core::Refusal,
    now: countersign_core::Ms,
) -> countersign_ledger::NewEvent {
    let mut ev = Ev::new(kinds::STEPUP_REFUSED, now, json!({ "session_id": session.id, "event": event, "refusal": r.code(), "message": r.to_string(), "state": session.state.name() }))
        .case(&session.id)
        .outcome("refused");
    if let Some(op) = &session.operator {
        ev = ev.person(&op.id);
    }
    ev.build()
}

/// The evidence of one accepted transition: override events are filed under
/// the grant id, the rest under the session.
fn transition_events(
    s: &StepUp,
    before: &Session,
    ev: &SessionEvent,
    effects: &[Effect],
    now: countersign_core::Ms,
    score_source: &str,
    anchor: Option<crate::BootAnchor>,
) -> Vec<countersign_ledger::NewEvent> {
    let sid = s.session.id.clone();
    let op = s
        .session
        .operator
        .as_ref()
        .map(|p| p.id.clone())
        .unwrap_or_default();
    let regime = serde_json::to_value(&s.session.attempts).expect("serialisable");
    let mut events = Vec::new();
    match ev {
        SessionEvent::Identify { .. } => events.push(
            Ev::new(
                kinds::STEPUP_IDENTIFIED,
                now,
                json!({ "session_id": sid, "operator": op, "regime": regime }),
            )
            .person(&op),
        ),
        SessionEvent::Intent => events.push(
            Ev::new(
                kinds::STEPUP_INTENT,
                now,
                json!({ "session_id": sid, "act": "verify_me_pressed" }),
            )
            .person(&op),
        ),
        SessionEvent::CaptureStarted { device } => events.push(
            Ev::new(
                kinds::CAPTURE_STARTED,
                now,
                json!({ "session_id": sid, "device": device }),
            )
            .person(&op),
        ),
        SessionEvent::DeviceUnavailable { device, detail } => events.push(
            Ev::new(
                kinds::CAPTURE_DEVICE_UNAVAILABLE,
                now,
                json!({ "session_id": sid, "device": device, "detail": detail }),
            )
            .person(&op)
            .outcome("unavailable"),
        ),
        SessionEvent::QualityFailure { reason } => events.push(
            Ev::new(
                kinds::CAPTURE_QUALITY_FAILED,
                now,
                json!({ "session_id": sid, "reason": reason, "regime": regime }),
            )
            .person(&op)
            .outcome("quality_failed"),
        ),
        SessionEvent::Match { .. } => {}
        SessionEvent::SupervisorAuthenticated { supervisor, auth } => {
            // The supervisor.auth event was written by `authenticate`; this links it to the session.
            events.push(Ev::new(kinds::STEPUP_IDENTIFIED, now, json!({ "session_id": sid, "supervisor": supervisor.id, "amr": auth.amr, "stage": "supervisor" })).person(&op).supervisor(&supervisor.id))
        }
        SessionEvent::GrantOverride(_) => {}
        SessionEvent::Cancel { reason } => events.push(
            Ev::new(
                kinds::STEPUP_CANCELLED,
                now,
                json!({ "session_id": sid, "reason": reason }),
            )
            .person(&op)
            .outcome("cancelled"),
        ),
    }
    for e in effects {
        match e {
                Effect::MatchDecided { attempt, modality, score, threshold, matched, pad_passed, consecutive_failures } => {
                    events.push(
                        Ev::new(
                            kinds::MATCH_ATTEMPT,
                            now,
                            json!({ "session_id": sid, "attempt": attempt, "modality": modality, "score": score, "threshold": threshold, "matched": matched,
                                    "pad_passed": pad_passed, "consecutive_failures": consecutive_failures, "regime": regime,
                                    "device": match &before.state { SessionState::Capturing { device } => device.clone(), _ => String::new() },
                                    "score_source": score_source }),
                        )
                        .person(&op)
                        .outcome(if *matched { "matched" } else { "no_match" }),
                    );
                }
                Effect::QualityRejected { .. } => {}
                Effect::BiometricDisabled => events.push(Ev::new(kinds::MATCH_ATTEMPT, now, json!({ "session_id": sid, "biometric_disabled": true, "regime": regime })).person(&op).outcome("disabled")),
                Effect::TriggerFired { trigger } => events.push(
                    Ev::new(kinds::FALLBACK_TRIGGERED, now, json!({ "session_id": sid, "trigger": trigger, "attempts_in_session": s.session.attempt_no, "regime": regime }))
                        .person(&op)
                        .trigger(trigger.as_str())
                        .outcome("fallback_offered"),
                ),
                Effect::TriggerSuppressed { trigger } => events.push(
                    Ev::new(kinds::FALLBACK_TRIGGERED, now, json!({ "session_id": sid, "trigger": trigger, "suppressed_by_policy": true }))
                        .person(&op)
                        .trigger(trigger.as_str())
                        .outcome("suppressed"),
                ),
                Effect::Granted(g) => events.push(
                    Ev::new(kinds::OVERRIDE_GRANTED, now, crate::monotonic::granted_body(g.as_ref(), anchor.clone()))
                        .person(&g.operator)
                        .supervisor(&g.supervisor)
                        .trigger(g.trigger.as_str())
                        .case(&g.id)
                        .outcome("granted"),
                ),
            }
    }
    if let SessionState::Succeeded { modality, score } = &s.session.state {
        events.push(
                Ev::new(kinds::STEPUP_SUCCEEDED, now, json!({ "session_id": sid, "modality": modality, "score": score, "scope": s.session.requested_scope, "regime": regime }))
                    .person(&op)
                    .outcome("success"),
            );
    }
    events
        .into_iter()
        .map(|e| {
            let mut e = e.build();
            e.index.case_id.get_or_insert_with(|| sid.clone());
            e
        })
        .collect()
}
