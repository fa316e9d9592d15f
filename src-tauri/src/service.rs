//! The engine behind a mutex, and the mapping between engine values and IPC
//! types. Every function here is what one Tauri command does; they take
//! `&Shared` so tests can call them without a window.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use countersign_core::session::{GrantRequest, SessionEvent};
use countersign_core::{Disposition, Role, SessionState};
use countersign_engine::{
    kinds, ConsoleRole, Engine, EngineError, OverrideFilter, ReviewInput, StepUp,
};
use countersign_ledger::{Filter, PageRequest};

use crate::capture::{AttemptSource, Capture, BURST};
use crate::ipc::{self, codes, IpcError};

/// Score source recorded with the app's attempts: the real face matcher
/// (the engine's, which each face attempt records).
pub const SCORE_SOURCE: &str = countersign_engine::FACE_SCORE_SOURCE;
/// Captures an enrollment needs to pass the quality gates.
pub const ENROLL_CAPTURES: usize = 2;
/// Upper bound of one page of the evidence log.
pub const MAX_PAGE: u32 = 1000;

/// What the commands share: the engine (opened on first use, so the window
/// can start and say what is wrong with the data dir) and the step-ups open
/// in this window.
#[allow(missing_debug_implementations)] // holds the engine and its keys: not for printing
pub struct Shared {
    data_dir: PathBuf,
    /// The window is a kiosk: reviewer and admin commands are refused
    /// whoever asks ([`Engine::console_check`]).
    kiosk: bool,
    inner: Mutex<Inner>,
}

struct Inner {
    engine: Option<Engine>,
    sessions: HashMap<String, StepUp>,
    /// The reviewer or admin signed in to the console (one at a time, in
    /// memory only; ended by sign-out, idle expiry or a role change).
    console: Option<countersign_engine::ConsolePass>,
}

type Res<T> = Result<T, IpcError>;

impl Shared {
    pub fn new(data_dir: PathBuf) -> Shared {
        Shared {
            data_dir,
            kiosk: false,
            inner: Mutex::new(Inner {
                engine: None,
                sessions: HashMap::new(),
                console: None,
            }),
        }
    }

    /// The same, for a kiosk window (`--kiosk`).
    pub fn kiosk_mode(mut self, kiosk: bool) -> Shared {
        self.kiosk = kiosk;
        self
    }

    /// Uses an already opened engine (tests, with a manual clock).
    pub fn with_engine(engine: Engine) -> Shared {
        let s = Shared::new(engine.data_dir().to_path_buf());
        s.lock().expect("fresh lock").engine = Some(engine);
        s
    }

    fn lock(&self) -> Res<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| IpcError::new(codes::INTERNAL, "app state lock poisoned"))
    }

    /// Runs `f` on the engine and the open sessions.
    fn run<T>(
        &self,
        f: impl FnOnce(&mut Engine, &mut HashMap<String, StepUp>) -> Result<T, EngineError>,
    ) -> Res<T> {
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        if inner.engine.is_none() {
            inner.engine = Some(Engine::open(&self.data_dir)?);
        }
        let engine = inner.engine.as_mut().expect("opened above");
        Ok(f(engine, &mut inner.sessions)?)
    }

    /// Runs `f` on the engine and the console session.
    fn with_console<T>(
        &self,
        f: impl FnOnce(
            &mut Engine,
            &mut Option<countersign_engine::ConsolePass>,
        ) -> Result<T, EngineError>,
    ) -> Res<T> {
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        if inner.engine.is_none() {
            inner.engine = Some(Engine::open(&self.data_dir)?);
        }
        let engine = inner.engine.as_mut().expect("opened above");
        Ok(f(engine, &mut inner.console)?)
    }

    /// Refuses (and records) `command` unless a console session of `need`
    /// lets it through.
    pub fn require(&self, need: countersign_engine::ConsoleRole, command: &str) -> Res<()> {
        self.gated(need, command, |_, _| Ok(()))
    }

    /// Runs `f` on one open step-up, then returns its view.
    fn on_session(
        &self,
        id: &str,
        f: impl FnOnce(&mut Engine, &mut StepUp) -> Result<(), EngineError>,
    ) -> Res<ipc::StepupView> {
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        let s = inner
            .sessions
            .get_mut(id)
            .ok_or_else(|| IpcError::new(codes::NO_SESSION, format!("no open step-up {id}")))?;
        let engine = match inner.engine.as_mut() {
            Some(e) => e,
            None => return Err(IpcError::new(codes::INTERNAL, "engine not open")),
        };
        // An error still leaves the session as the engine left it (rolled
        // back or moved on); the caller asks for the view again.
        f(engine, s)?;
        Ok(stepup_view(engine, s)?)
    }
}

fn name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn vec(s: &BTreeSet<String>) -> Vec<String> {
    s.iter().cloned().collect()
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|v| !v.trim().is_empty()).cloned()
}

// --- people and policy ------------------------------------------------------

/// The people registry. In full (every role, failed sign-ins, locks) only
/// for an admin signed in to the console; otherwise what the kiosk's
/// pickers need: the operators and supervisors, with those two roles and
/// whether they have credentials, nothing about reviewers or admins.
pub fn list_people(sh: &Shared) -> Res<Vec<ipc::Person>> {
    sh.with_console(|e, console| {
        let idle = std::time::Duration::from_secs(e.policy().console.idle_minutes * 60);
        let admin = console
            .as_ref()
            .is_some_and(|p| p.role() == ConsoleRole::Admin && p.idle_for() < idle);
        let kiosk_roles = [Role::Operator, Role::Supervisor];
        Ok(e.list_people()?
            .into_iter()
            .filter(|p| admin || p.roles.iter().any(|r| kiosk_roles.contains(r)))
            .map(|p| ipc::Person {
                id: p.id,
                display_name: p.display_name,
                roles: p
                    .roles
                    .iter()
                    .filter(|r| admin || kiosk_roles.contains(r))
                    .map(name)
                    .collect(),
                has_credentials: p.has_credentials,
                failed_auths: if admin { p.failed_auths } else { 0 },
                locked: admin && p.locked,
            })
            .collect())
    })
}

/// The clock against the ledger and the anchor's verdict; reads only, so it
/// answers while writes are refused, and also when the engine refuses to
/// open a rolled-back ledger (then the anchor's code is the answer).
pub fn kiosk_health(sh: &Shared) -> Res<ipc::KioskHealth> {
    let read = sh.run(|e, _| {
        let st = e.clock_status()?;
        let anchor = e.anchor_status().ok().and_then(|a| a.problem);
        Ok((st, anchor))
    });
    match read {
        Ok((st, anchor)) => Ok(ipc::KioskHealth {
            writes_refused: st.writes_refused || anchor.is_some(),
            behind_ms: st.behind_ms,
            tolerance_ms: st.tolerance_ms,
            code: st.code.or_else(|| anchor.as_ref().map(|a| a.code)),
            last_refusal_seq: st.last_refusal.map(|r| r.seq),
            anchor: anchor.map(|a| ipc::AnchorProblem {
                code: a.code,
                message: a.message,
            }),
        }),
        Err(e) if e.code.is_anchor() => Ok(ipc::KioskHealth {
            writes_refused: true,
            behind_ms: 0,
            tolerance_ms: countersign_engine::CLOCK_TOLERANCE_MS,
            code: Some(e.code),
            last_refusal_seq: None,
            anchor: Some(ipc::AnchorProblem {
                code: e.code,
                message: e.message,
            }),
        }),
        Err(e) => Err(e),
    }
}

pub fn policy_view(sh: &Shared) -> Res<ipc::PolicyView> {
    sh.run(|e, _| {
        let demo = e.is_demo();
        let p = e.policy();
        Ok(ipc::PolicyView {
            scopes: p
                .scopes
                .iter()
                .map(|s| ipc::ScopeInfo {
                    name: s.name.clone(),
                    description: s.description.clone(),
                    supervisor_may_grant: s.supervisor_may_grant,
                })
                .collect(),
            reason_codes: p
                .reason_codes
                .iter()
                .map(|r| ipc::ReasonCodeInfo {
                    code: r.code.clone(),
                    description: r.description.clone(),
                })
                .collect(),
            default_duration_minutes: p.overrides.default_duration_minutes,
            max_duration_minutes: p.overrides.max_duration_minutes,
            review_deadline_hours: p.overrides.review_deadline_hours,
            consecutive_failure_limit: p.attempts.consecutive_failure_limit,
            throttle_seconds: p.attempts.throttle_seconds,
            face_threshold: p.matching.face_threshold,
            triggers: p.fallback.triggers.iter().map(|t| t.to_string()).collect(),
            demo,
        })
    })
}

/// Secrets and current TOTP codes of the demo people, only on a demo data dir.
pub fn demo_credentials(sh: &Shared) -> Res<Vec<ipc::DemoCredential>> {
    // The engine's test: the marker and the signed kiosk.initialized event.
    if !sh.run(|e, _| Ok(e.is_demo())).unwrap_or(false) {
        return Err(IpcError::new(
            codes::NOT_DEMO,
            "demo credentials exist only in a demo data dir (countersign init --demo)",
        ));
    }
    // The engine's rule: the policy's step and digits, a step not used yet.
    let creds = sh.run(|e, _| e.demo_credentials())?;
    Ok(creds
        .into_iter()
        .map(|c| ipc::DemoCredential {
            id: c.id,
            secret: c.secret,
            otp: c.otp,
        })
        .collect())
}

// --- operator journey -------------------------------------------------------

pub fn start_stepup(sh: &Shared, req: ipc::StartStepupRequest) -> Res<ipc::StepupView> {
    sh.run(|e, sessions| {
        let s = e.start_stepup(req.scope.into_iter().collect(), vec![], &req.requester)?;
        let view = stepup_view(e, &s)?;
        sessions.insert(s.session.id.clone(), s);
        Ok(view)
    })
}

/// Step-up requests from relying applications not completed yet.
pub fn open_requests(sh: &Shared) -> Res<Vec<ipc::OpenRequestView>> {
    sh.run(|e, _| {
        Ok(e.open_stepup_requests()?
            .into_iter()
            .map(|r| ipc::OpenRequestView {
                request_id: r.request_id,
                client_id: r.client_id,
                client_name: r.client_name,
                scope: vec(&r.scope),
                acr_values: r.acr_values,
                max_age_s: r.max_age,
                created_ms: r.created_ms,
                expires_ms: r.expires_ms,
                fallback_offered: r.fallback_offered,
            })
            .collect())
    })
}

/// Runs a relying application's request in this window: the step-up the
/// API opened continues here (its scope and requester come from the
/// request), and the API answers the application once it ends.
pub fn take_request(sh: &Shared, request_id: &str) -> Res<ipc::StepupView> {
    sh.run(|e, sessions| {
        if !e
            .open_stepup_requests()?
            .iter()
            .any(|r| r.request_id == request_id)
        {
            return Err(EngineError::Invalid(format!(
                "step-up request {request_id} is not open (completed, answered or expired)"
            )));
        }
        let s = e.resume_stepup(request_id)?;
        let view = stepup_view(e, &s)?;
        sessions.insert(s.session.id.clone(), s);
        Ok(view)
    })
}

pub fn stepup_status(sh: &Shared, session_id: &str) -> Res<ipc::StepupView> {
    sh.run(|_, _| Ok(()))?;
    sh.on_session(session_id, |_, _| Ok(()))
}

pub fn identify(sh: &Shared, session_id: &str, operator: &str) -> Res<ipc::StepupView> {
    sh.on_session(session_id, |e, s| e.identify(s, operator).map(drop))
}

/// "Verify me" (the act of intent), then one face attempt from the
/// window's capture source: a burst through the quality gates, the matcher
/// and PAD, recorded with its evidence. A source that cannot be opened is
/// the device-unavailable trigger.
pub fn verify_me(sh: &Shared, cap: &Capture, session_id: &str) -> Res<ipc::StepupView> {
    // Missing or unknown models are the app's fault, not an attempt.
    let matcher = cap.matcher()?;
    let source = cap.attempt_source()?;
    let mut back = None;
    let view = sh.on_session(session_id, |e, s| {
        e.apply(s, SessionEvent::Intent)?;
        match source {
            AttemptSource::Unavailable {
                device,
                replay,
                error,
            } => e.capture_unavailable(s, &device, replay, &error),
            AttemptSource::Open(mut src) => {
                let r = e.face_attempt(s, &matcher, src.as_mut(), BURST, None);
                back = Some(src);
                r.map(drop)
            }
        }
    });
    if let Some(src) = back {
        cap.return_source(src);
    }
    view
}

/// A face enrollment from the window's capture source, witnessed by a
/// supervisor with two factors (the engine checks roles, self-witness and
/// the quality gates, and records it all).
pub fn enroll_face(sh: &Shared, cap: &Capture, r: ipc::EnrollRequest) -> Res<ipc::EnrollResult> {
    sh.require(ConsoleRole::Admin, "enroll_face")?;
    let matcher = cap.matcher()?;
    let mut src = match cap.attempt_source()? {
        AttemptSource::Open(s) => s,
        AttemptSource::Unavailable { error, .. } => {
            return Err(IpcError::new(error.code(), error.to_string()))
        }
    };
    let result = sh.run(|e, _| {
        e.enroll_face(
            &r.person,
            &r.witness,
            &r.secret,
            &r.otp,
            &matcher,
            src.as_mut(),
            ENROLL_CAPTURES,
        )
    });
    let replay = src.info().replay;
    cap.return_source(src);
    let en = result?;
    Ok(ipc::EnrollResult {
        person: en.person,
        witness: en.witness,
        template_sha256: en.template_sha256,
        accepted_captures: en.accepted_captures as u32,
        replay,
    })
}

pub fn cancel_stepup(sh: &Shared, session_id: &str, reason: &str) -> Res<ipc::StepupView> {
    sh.on_session(session_id, |e, s| {
        e.apply(
            s,
            SessionEvent::Cancel {
                reason: reason.into(),
            },
        )
        .map(drop)
    })
}

// --- supervisor journey -----------------------------------------------------

pub fn supervisor_login(sh: &Shared, l: ipc::SupervisorLogin) -> Res<ipc::StepupView> {
    sh.on_session(&l.session_id, |e, s| {
        e.supervisor_login(s, &l.supervisor, &l.secret, &l.otp)
            .map(drop)
    })
}

pub fn grant_override(sh: &Shared, g: ipc::GrantInput) -> Res<ipc::OverrideView> {
    let mut granted = None;
    sh.on_session(&g.session_id, |e, s| {
        let req = GrantRequest {
            grant_id: String::new(),
            scope: g.scope.iter().cloned().collect(),
            // An absurd number from the window is a refusal, not an overflow.
            duration_ms: g
                .duration_minutes
                .map(|m| {
                    m.checked_mul(60_000).ok_or_else(|| {
                        EngineError::Invalid(format!("duration_minutes {m} is out of range"))
                    })
                })
                .transpose()?,
            reason_code: g.reason_code.clone(),
            note: g.note.clone(),
            ticket: non_empty(&g.ticket),
            compensating_control: g.compensating_control.clone(),
        };
        granted = Some(e.grant(s, req)?.id);
        Ok(())
    })?;
    let id = granted.expect("set on success");
    sh.run(|e, _| Ok(override_view(e, e.load_case(&id)?)))
}

pub fn list_overrides(sh: &Shared, q: ipc::OverrideQuery) -> Res<Vec<ipc::OverrideView>> {
    sh.require(ConsoleRole::Reviewer, "list_overrides")?;
    list_overrides_ungated(sh, q)
}

/// [`list_overrides`] behind the console's gate (and for this module's tests).
fn list_overrides_ungated(sh: &Shared, q: ipc::OverrideQuery) -> Res<Vec<ipc::OverrideView>> {
    let f = OverrideFilter {
        operator: non_empty(&q.operator),
        supervisor: non_empty(&q.supervisor),
        pending_review: q.pending_review,
        active_only: q.active_only,
    };
    let limit = q.limit.clamp(1, MAX_PAGE) as usize;
    sh.run(|e, _| {
        Ok(e.list_overrides(&f, limit)?
            .into_iter()
            .map(|v| override_view(e, v.case))
            .collect())
    })
}

pub fn revoke_override(sh: &Shared, r: ipc::RevokeInput) -> Res<ipc::OverrideView> {
    let role: Role = r
        .role
        .parse()
        .map_err(|m: String| IpcError::from(EngineError::Invalid(m)))?;
    sh.run(|e, _| {
        let v = e.revoke_override(&r.grant_id, &r.by, role, &r.secret, &r.otp, &r.reason)?;
        Ok(override_view(e, v.case))
    })
}

/// Writes `override.expired` for grants past their end; the timer calls it.
pub fn expire_due(sh: &Shared) -> Res<Vec<String>> {
    sh.run(|e, _| e.expire_due())
}

mod reviewer;
pub use reviewer::{export_events, query_events, review_override, verify_ledger};
#[cfg(test)]
use reviewer::{export_events_ungated, query_events_ungated, verify_ledger_ungated};
mod samples;
mod views;
pub use samples::{open_sample, open_session_sample};
mod admin;
pub use admin::{
    add_person, apply_policy, issue_credentials, policy_diff, policy_source, set_roles,
    unlock_person,
};
mod registry;
pub use registry::{add_client, add_principal, list_clients, list_principals};
mod console;
pub use console::{age_console_for_tests, console_session, console_sign_in, console_sign_out};
use views::{override_view, stepup_view};

mod finger;
pub use finger::{enroll_finger, finger_status, set_finger_scene, verify_finger};
pub mod fleet;
pub mod sync;
pub use fleet::{fleet_events, fleet_export, fleet_open, fleet_overview, FleetState};
pub use sync::{sync_status, SyncWorker};

#[cfg(test)]
mod tests;
