//! The engine behind a mutex, and the mapping between engine values and IPC
//! types. Every function here is what one Tauri command does; they take
//! `&Shared` so tests can call them without a window.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use countersign_core::session::{GrantRequest, SessionEvent};
use countersign_core::{Disposition, GrantStatus, Role, SessionState};
use countersign_engine::{kinds, Engine, EngineError, OverrideFilter, ReviewInput, StepUp};
use countersign_ledger::{Filter, PageRequest};

use crate::capture::{AttemptSource, Capture, BURST};
use crate::ipc::{self, codes, IpcError};

/// Score source recorded with the app's attempts: the real face matcher.
pub const SCORE_SOURCE: &str = "matcher:yunet+sface";
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
    inner: Mutex<Inner>,
}

struct Inner {
    engine: Option<Engine>,
    sessions: HashMap<String, StepUp>,
}

type Res<T> = Result<T, IpcError>;

impl Shared {
    pub fn new(data_dir: PathBuf) -> Shared {
        Shared {
            data_dir,
            inner: Mutex::new(Inner {
                engine: None,
                sessions: HashMap::new(),
            }),
        }
    }

    /// Uses an already opened engine (tests, with a manual clock).
    pub fn with_engine(engine: Engine) -> Shared {
        let s = Shared::new(engine.data_dir().to_path_buf());
        s.lock().expect("fresh lock").engine = Some(prepare(engine));
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
            inner.engine = Some(prepare(Engine::open(&self.data_dir)?));
        }
        let engine = inner.engine.as_mut().expect("opened above");
        Ok(f(engine, &mut inner.sessions)?)
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

fn prepare(mut e: Engine) -> Engine {
    e.set_score_source(SCORE_SOURCE);
    e
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

pub fn list_people(sh: &Shared) -> Res<Vec<ipc::Person>> {
    sh.run(|e, _| {
        Ok(e.list_people()?
            .into_iter()
            .map(|p| ipc::Person {
                id: p.id,
                display_name: p.display_name,
                roles: p.roles.iter().map(name).collect(),
                has_credentials: p.has_credentials,
                failed_auths: p.failed_auths,
                locked: p.locked,
            })
            .collect())
    })
}

pub fn policy_view(sh: &Shared) -> Res<ipc::PolicyView> {
    let demo = is_demo(&sh.data_dir);
    sh.run(|e, _| {
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

fn is_demo(dir: &std::path::Path) -> bool {
    std::fs::read_to_string(dir.join("countersign.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["demo"].as_bool())
        .unwrap_or(false)
}

/// Secrets and current TOTP codes of the demo people, only on a demo data dir.
pub fn demo_credentials(sh: &Shared) -> Res<Vec<ipc::DemoCredential>> {
    if !is_demo(&sh.data_dir) {
        return Err(IpcError::new(
            codes::NOT_DEMO,
            "demo credentials exist only in a demo data dir (countersign init --demo)",
        ));
    }
    let now_s = sh.run(|e, _| Ok(e.now() / 1000))?;
    Ok(countersign_engine::DEMO_PEOPLE
        .iter()
        .filter_map(|p| {
            let (secret, totp) = p.credentials?;
            let key = data_encoding::BASE32_NOPAD.decode(totp.as_bytes()).ok()?;
            Some(ipc::DemoCredential {
                id: p.id.into(),
                secret: secret.into(),
                otp: countersign_core::auth::totp::code_at(&key, now_s, 30, 6),
            })
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
            AttemptSource::Unavailable { device, error } => {
                e.capture_unavailable(s, &device, &error)
            }
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
            duration_ms: g.duration_minutes.map(|m| m * 60_000),
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

// --- reviewer journey -------------------------------------------------------

pub fn review_override(sh: &Shared, r: ipc::ReviewSubmission) -> Res<ipc::OverrideView> {
    let disposition: Disposition = r
        .disposition
        .parse()
        .map_err(|m: String| IpcError::from(EngineError::Invalid(m)))?;
    sh.run(|e, _| {
        let v = e.review_override(
            &r.grant_id,
            ReviewInput {
                reviewer: &r.reviewer,
                secret: &r.secret,
                otp: &r.otp,
                disposition,
                notes: &r.notes,
            },
        )?;
        Ok(override_view(e, v.case))
    })
}

fn to_filter(q: &ipc::EventQuery) -> Filter {
    Filter {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        kinds: q.kinds.clone(),
        person: non_empty(&q.person),
        supervisor: non_empty(&q.supervisor),
        outcome: non_empty(&q.outcome),
        trigger: non_empty(&q.trigger),
        case_id: non_empty(&q.case_id),
        ..Default::default()
    }
}

pub fn query_events(sh: &Shared, q: ipc::EventQuery) -> Res<ipc::EventPage> {
    sh.run(|e, _| {
        let page = e.ledger().query(
            &to_filter(&q),
            &PageRequest {
                after_seq: q.after_seq,
                limit: q.limit.clamp(1, MAX_PAGE),
                newest_first: q.newest_first,
            },
        )?;
        Ok(ipc::EventPage {
            rows: page
                .rows
                .into_iter()
                .map(|r| ipc::EventRow {
                    seq: r.seq,
                    ts_ms: r.ts_ms,
                    kind: r.kind,
                    person: r.index.person,
                    supervisor: r.index.supervisor,
                    outcome: r.index.outcome,
                    trigger: r.index.trigger,
                    case_id: r.index.case_id,
                    body: r.body,
                    hash_hex: r.hash_hex,
                })
                .collect(),
            next_after: page.next_after,
        })
    })
}

pub fn verify_ledger(sh: &Shared) -> Res<ipc::VerifyStatus> {
    sh.run(|e, _| {
        let r = e.ledger().verify()?;
        Ok(ipc::VerifyStatus {
            ok: r.problems.is_empty(),
            events: r.events,
            checkpoints: r.checkpoints,
            problem_count: r.problems.len() as u32,
            first_problem: r.problems.first().map(|p| {
                let at = p.seq.map(|s| format!("seq {s}")).unwrap_or("ledger".into());
                format!("{at}: {:?}: {}", p.what, p.detail)
            }),
            checked_at_ms: e.now(),
        })
    })
}

/// Writes the matching events to `<data dir>/exports/` (whole file or nothing).
pub fn export_events(sh: &Shared, r: ipc::ExportRequest) -> Res<ipc::ExportResult> {
    let ext = match r.format.as_str() {
        "jsonl" => "jsonl",
        "ocsf" => "ocsf.jsonl",
        other => {
            return Err(EngineError::Invalid(format!(
                "export format {other:?}: expected jsonl or ocsf"
            ))
            .into())
        }
    };
    let dir = sh.data_dir.join("exports");
    sh.run(|e, _| {
        let io = |what: &'static str, p: &std::path::Path| {
            let p = p.to_path_buf();
            move |source| EngineError::Io {
                context: what,
                path: p,
                source,
            }
        };
        std::fs::create_dir_all(&dir).map_err(io("creating the export dir", &dir))?;
        let path = dir.join(format!("evidence-{}.{ext}", e.now()));
        let tmp = path.with_extension("partial");
        let file = std::fs::File::create(&tmp).map_err(io("creating the export", &tmp))?;
        let mut w = std::io::BufWriter::new(file);
        let f = to_filter(&r.query);
        let n = if r.format == "ocsf" {
            e.ledger().export_ocsf(&f, &mut w)?
        } else {
            e.ledger().export_jsonl(&f, &mut w)?
        };
        let file = w
            .into_inner()
            .map_err(|err| io("writing the export", &tmp)(err.into_error()))?;
        file.sync_all().map_err(io("writing the export", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("moving the export", &path))?;
        Ok(ipc::ExportResult {
            path: path.display().to_string(),
            count: n,
        })
    })
}

// --- mapping ----------------------------------------------------------------

fn stepup_view(e: &mut Engine, s: &StepUp) -> Result<ipc::StepupView, EngineError> {
    let ss = &s.session;
    let policy = e.policy().clone();
    let now = e.now();
    let (trigger, supervisor, grant_id, score) = match &ss.state {
        SessionState::FallbackOffered { trigger } => (Some(trigger.to_string()), None, None, None),
        SessionState::SupervisorAuthenticated {
            trigger,
            supervisor,
        } => (
            Some(trigger.to_string()),
            Some(supervisor.clone()),
            None,
            None,
        ),
        SessionState::OverrideGranted { grant_id } => (
            ss.trigger.map(|t| t.to_string()),
            ss.supervisor.as_ref().map(|(p, _)| p.id.clone()),
            Some(grant_id.clone()),
            None,
        ),
        SessionState::Succeeded { score, .. } => (None, None, None, Some(*score)),
        _ => (ss.trigger.map(|t| t.to_string()), None, None, None),
    };
    let next = ss.attempts.next_allowed_at(&policy).filter(|at| *at > now);
    Ok(ipc::StepupView {
        session_id: ss.id.clone(),
        state: ss.state.name().into(),
        requester: s.requester.clone(),
        scope: vec(&ss.requested_scope),
        requested_at_ms: ss.requested_at,
        operator: ss.operator.as_ref().map(|p| p.id.clone()),
        operator_name: ss.operator.as_ref().map(|p| p.display_name.clone()),
        attempt_no: ss.attempt_no,
        consecutive_failures: ss.attempts.consecutive_failures,
        failure_limit: policy.attempts.consecutive_failure_limit,
        next_attempt_at_ms: next,
        biometric_disabled: ss.attempts.disabled,
        trigger,
        supervisor,
        grant_id,
        score,
        attempts: attempts(e, &ss.id)?,
        now_ms: now,
    })
}

fn attempts(e: &Engine, session_id: &str) -> Result<Vec<ipc::AttemptRecord>, EngineError> {
    let f = Filter {
        case_id: Some(session_id.into()),
        kinds: vec![
            kinds::MATCH_ATTEMPT.into(),
            kinds::CAPTURE_QUALITY_FAILED.into(),
            kinds::CAPTURE_DEVICE_UNAVAILABLE.into(),
        ],
        ..Default::default()
    };
    let page = e.ledger().query(
        &f,
        &PageRequest {
            after_seq: None,
            limit: MAX_PAGE,
            newest_first: false,
        },
    )?;
    Ok(page
        .rows
        .into_iter()
        .map(|r| {
            let b = &r.body;
            let text = |k: &str| b.get(k).and_then(|v| v.as_str()).map(String::from);
            ipc::AttemptRecord {
                seq: r.seq,
                ts_ms: r.ts_ms,
                outcome: r.index.outcome.unwrap_or_default(),
                score: b.get("score").and_then(|v| v.as_f64()),
                threshold: b.get("threshold").and_then(|v| v.as_f64()),
                score_source: text("score_source"),
                detail: text("reason").or_else(|| text("detail")),
            }
        })
        .collect())
}

fn override_view(e: &Engine, case: countersign_core::OverrideCase) -> ipc::OverrideView {
    let v = e.override_view(case);
    let g = &v.case.grant;
    ipc::OverrideView {
        id: g.id.clone(),
        session_id: g.session_id.clone(),
        operator: g.operator.clone(),
        supervisor: g.supervisor.clone(),
        trigger: g.trigger.to_string(),
        requested_scope: vec(&g.requested_scope),
        scope: vec(&g.scope),
        granted_at_ms: g.granted_at,
        expires_at_ms: g.expires_at,
        review_due_ms: g.review_due,
        reason_code: g.reason_code.clone(),
        note: g.note.clone(),
        ticket: g.ticket.clone(),
        compensating_control: g.compensating_control.clone(),
        status: status_name(&v.status_now).into(),
        remaining_ms: v.remaining_ms,
        review: v.case.review.as_ref().map(|r| ipc::ReviewInfo {
            reviewer: r.reviewer.clone(),
            at_ms: r.at,
            disposition: name(&r.disposition),
            notes: r.notes.clone(),
            overdue: r.overdue,
        }),
        review_overdue: v.review_overdue,
        reconciled: v.case.reconciled.is_some(),
        closed: v.closed,
        now_ms: e.now(),
    }
}

fn status_name(s: &GrantStatus) -> &'static str {
    s.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::SourceSpec;
    use crate::ipc::*;
    use countersign_engine::{InitOptions, ManualClock, DEMO_PEOPLE};

    const T0: i64 = 1_800_000_000_000;

    struct Fx {
        _tmp: tempfile::TempDir,
        sh: Shared,
        cap: Capture,
        clock: ManualClock,
    }

    fn demo_faces() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo/faces")
    }

    impl Fx {
        /// Points the replay camera at one of the demo scenes.
        fn scene(&self, name: &str) {
            let st = self.cap.set_scene(name).unwrap();
            assert!(
                st.replay && st.device.as_ref().is_some_and(|d| d.replay),
                "{st:?}"
            );
        }
    }

    fn demo() -> Fx {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let clock = ManualClock::at(T0);
        countersign_engine::DataDir::new(dir.clone())
            .init(
                &InitOptions {
                    demo: true,
                    ..Default::default()
                },
                &clock,
            )
            .unwrap();
        let mut engine = Engine::open_with_clock(&dir, Box::new(clock.clone())).unwrap();
        let cap = Capture::new(
            SourceSpec::Replay {
                root: dir.join(countersign_engine::REPLAY_DIR),
            },
            countersign_matcher::default_models_dir(),
        );
        let models = cap
            .matcher()
            .expect("the face models (scripts/setup.sh puts them in assets/models)");
        let faces = engine.install_demo_faces(&demo_faces(), &models).unwrap();
        assert_eq!(faces.enrolled.len(), 1, "olga is the demo enrollment");
        clock.advance(60_000); // past the witness's TOTP step
        Fx {
            _tmp: tmp,
            sh: Shared::with_engine(engine),
            cap: Capture::new(
                SourceSpec::Replay {
                    root: dir.join(countersign_engine::REPLAY_DIR),
                },
                countersign_matcher::default_models_dir(),
            ),
            clock,
        }
    }

    fn creds(sh: &Shared, id: &str) -> (String, String) {
        let c = demo_credentials(sh).unwrap();
        let c = c.iter().find(|c| c.id == id).unwrap();
        (c.secret.clone(), c.otp.clone())
    }

    fn stepup_to_fallback(fx: &Fx) -> StepupView {
        let v = start_stepup(
            &fx.sh,
            StartStepupRequest {
                scope: vec!["payments.approve".into()],
                requester: "ledger-app".into(),
            },
        )
        .unwrap();
        assert_eq!(v.state, "requested");
        let id = v.session_id.clone();
        let v = identify(&fx.sh, &id, "olga").unwrap();
        assert_eq!(v.operator_name.as_deref(), Some("Olga Operator"));
        fx.scene("impostor");
        let mut v = v;
        for _ in 0..v.failure_limit {
            // The throttle applies from the limit on; wait it out if asked.
            if let Some(at) = v.next_attempt_at_ms {
                fx.clock.advance(at - v.now_ms);
            }
            v = verify_me(&fx.sh, &fx.cap, &id).unwrap();
        }
        v
    }

    #[test]
    fn policy_people_and_demo_credentials() {
        let fx = demo();
        let p = policy_view(&fx.sh).unwrap();
        assert!(p.demo);
        assert!(p.default_duration_minutes <= p.max_duration_minutes);
        assert!(p.scopes.iter().any(|s| s.name == "payments.approve"));
        let people = list_people(&fx.sh).unwrap();
        let olga = people.iter().find(|p| p.id == "olga").unwrap();
        assert_eq!(olga.roles, vec!["operator".to_string()]);
        let with_creds = DEMO_PEOPLE.iter().filter(|p| p.credentials.is_some());
        assert_eq!(demo_credentials(&fx.sh).unwrap().len(), with_creds.count());
    }

    #[test]
    fn a_replayed_genuine_face_succeeds_with_the_matcher_score() {
        let fx = demo();
        fx.scene("genuine-olga");
        let v = start_stepup(
            &fx.sh,
            StartStepupRequest {
                scope: vec!["payments.approve".into()],
                requester: "ledger-app".into(),
            },
        )
        .unwrap();
        identify(&fx.sh, &v.session_id, "olga").unwrap();
        let v = verify_me(&fx.sh, &fx.cap, &v.session_id).unwrap();
        assert_eq!(v.state, "succeeded", "{v:?}");
        assert_eq!(v.attempts.len(), 1);
        let a = &v.attempts[0];
        assert_eq!(a.outcome, "matched");
        assert_eq!(a.score_source.as_deref(), Some(SCORE_SOURCE));
        assert!(a.score.unwrap() >= a.threshold.unwrap(), "{a:?}");
    }

    #[test]
    fn a_still_photo_is_refused_by_pad() {
        let fx = demo();
        fx.scene("still-photo");
        let v = start_stepup(
            &fx.sh,
            StartStepupRequest {
                scope: vec!["payments.approve".into()],
                requester: "ledger-app".into(),
            },
        )
        .unwrap();
        identify(&fx.sh, &v.session_id, "olga").unwrap();
        let v = verify_me(&fx.sh, &fx.cap, &v.session_id).unwrap();
        assert_eq!(
            v.state, "identified",
            "a refused attempt, not a success: {v:?}"
        );
        assert_eq!(v.attempts[0].outcome, "no_match", "{:?}", v.attempts);
    }

    #[test]
    fn unknown_session_and_unknown_operator_have_stable_codes() {
        let fx = demo();
        assert_eq!(
            identify(&fx.sh, "stp-nope", "olga").unwrap_err().code,
            codes::NO_SESSION
        );
        let v = start_stepup(
            &fx.sh,
            StartStepupRequest {
                scope: vec!["payments.approve".into()],
                requester: "r".into(),
            },
        )
        .unwrap();
        assert_eq!(
            identify(&fx.sh, &v.session_id, "nobody").unwrap_err().code,
            "person.unknown"
        );
    }

    #[test]
    fn device_unavailable_offers_the_fallback_with_its_reason() {
        let fx = demo();
        let v = start_stepup(
            &fx.sh,
            StartStepupRequest {
                scope: vec!["payments.approve".into()],
                requester: "r".into(),
            },
        )
        .unwrap();
        identify(&fx.sh, &v.session_id, "olga").unwrap();
        // The replay folder disappears: an unplugged camera.
        let root = fx.sh.data_dir.join(countersign_engine::REPLAY_DIR);
        std::fs::remove_dir_all(root.join("genuine-olga")).unwrap();
        let v = verify_me(&fx.sh, &fx.cap, &v.session_id).unwrap();
        assert_eq!(v.state, "fallback_offered");
        assert_eq!(v.trigger.as_deref(), Some("device_unavailable"));
        assert_eq!(v.attempts[0].outcome, "unavailable");
    }

    #[test]
    fn a_relying_apps_request_is_listed_taken_and_completed_here() {
        use countersign_engine::{AssertionRequest, NewClientCredential};
        let fx = demo();
        fx.scene("genuine-olga");
        let id = fx
            .sh
            .run(|e, _| {
                e.add_client(
                    "ledger-app",
                    "Ledger",
                    ["payments.approve".to_string()].into_iter().collect(),
                    NewClientCredential::Secret("s3cret-s3cret-s3cret".into()),
                    "ada",
                )?;
                let c = e.client("ledger-app")?.expect("registered");
                let s = e.open_assertion_request(
                    &c,
                    AssertionRequest {
                        scope: ["payments.approve".to_string()].into_iter().collect(),
                        acr_values: vec![],
                        max_age_s: None,
                        nonce: "n-app-1".into(),
                    },
                )?;
                Ok(s.session.id)
            })
            .unwrap();
        let open = open_requests(&fx.sh).unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].request_id, id);
        assert_eq!(open[0].client_name, "Ledger");
        let v = take_request(&fx.sh, &id).unwrap();
        assert_eq!(v.session_id, id);
        assert_eq!(v.scope, vec!["payments.approve".to_string()]);
        identify(&fx.sh, &id, "olga").unwrap();
        let v = verify_me(&fx.sh, &fx.cap, &id).unwrap();
        assert_eq!(v.state, "succeeded", "{v:?}");
        assert!(
            open_requests(&fx.sh).unwrap().is_empty(),
            "a completed request leaves the list"
        );
        assert_eq!(
            take_request(&fx.sh, &id).unwrap_err().code,
            "input.invalid",
            "a request runs once"
        );
    }

    #[test]
    fn full_journey_fallback_grant_expiry_review() {
        let fx = demo();
        let v = stepup_to_fallback(&fx);
        assert_eq!(v.state, "fallback_offered", "{v:?}");
        assert_eq!(v.trigger.as_deref(), Some("failure_limit"));
        let id = v.session_id.clone();

        // A wrong factor is refused without saying which.
        let (secret, otp) = creds(&fx.sh, "sam");
        let bad = supervisor_login(
            &fx.sh,
            SupervisorLogin {
                session_id: id.clone(),
                supervisor: "sam".into(),
                secret: "wrong".into(),
                otp: otp.clone(),
            },
        )
        .unwrap_err();
        assert!(bad.code.starts_with("auth."), "{bad:?}");
        let v = supervisor_login(
            &fx.sh,
            SupervisorLogin {
                session_id: id.clone(),
                supervisor: "sam".into(),
                secret,
                otp,
            },
        )
        .unwrap();
        assert_eq!(v.state, "supervisor_authenticated");
        assert_eq!(v.supervisor.as_deref(), Some("sam"));

        let policy = policy_view(&fx.sh).unwrap();
        let grant = |minutes| GrantInput {
            session_id: id.clone(),
            scope: vec!["payments.approve".into()],
            duration_minutes: Some(minutes),
            reason_code: policy.reason_codes[0].code.clone(),
            note: "camera fogged".into(),
            ticket: Some("INC-1".into()),
            compensating_control: "second approver on each payment".into(),
        };
        let over = grant_override(&fx.sh, grant(policy.max_duration_minutes + 1)).unwrap_err();
        assert_eq!(over.code, "refused.over_cap");
        let g = grant_override(&fx.sh, grant(10)).unwrap();
        assert_eq!(g.status, "active");
        assert_eq!(g.expires_at_ms - g.granted_at_ms, 10 * 60_000);
        assert_eq!(g.remaining_ms, 10 * 60_000);
        assert_eq!(
            stepup_status(&fx.sh, &id).unwrap().grant_id,
            Some(g.id.clone())
        );

        // The grant ends by the clock; the timer's expire_due writes it down.
        fx.clock.advance(10 * 60_000 + 1);
        assert_eq!(expire_due(&fx.sh).unwrap(), vec![g.id.clone()]);
        let pending = list_overrides(
            &fx.sh,
            OverrideQuery {
                pending_review: true,
                limit: 50,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].status, "expired");

        fx.clock.advance(60_000);
        let (secret, otp) = creds(&fx.sh, "rita");
        let r = review_override(
            &fx.sh,
            ReviewSubmission {
                grant_id: g.id.clone(),
                reviewer: "rita".into(),
                secret,
                otp,
                disposition: "justified".into(),
                notes: "camera replaced".into(),
            },
        )
        .unwrap();
        assert_eq!(r.review.unwrap().disposition, "justified");

        // The evidence log pages by keyset and the chain verifies.
        let first = query_events(
            &fx.sh,
            EventQuery {
                limit: 5,
                newest_first: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(first.rows.len(), 5);
        let next = query_events(
            &fx.sh,
            EventQuery {
                limit: 5,
                newest_first: true,
                after_seq: first.next_after,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(next.rows[0].seq < first.rows[4].seq);
        let only = query_events(
            &fx.sh,
            EventQuery {
                kinds: vec!["override.granted".into()],
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(only.rows.len(), 1);
        assert_eq!(only.rows[0].case_id.as_deref(), Some(g.id.as_str()));
        assert!(verify_ledger(&fx.sh).unwrap().ok);

        let out = export_events(
            &fx.sh,
            ExportRequest {
                format: "ocsf".into(),
                query: EventQuery::default(),
            },
        )
        .unwrap();
        assert!(out.count > 10);
        let text = std::fs::read_to_string(&out.path).unwrap();
        assert_eq!(text.lines().count() as u64, out.count);
    }

    #[test]
    fn revoke_needs_two_factors_and_ends_the_grant() {
        let fx = demo();
        let v = stepup_to_fallback(&fx);
        let (secret, otp) = creds(&fx.sh, "sam");
        supervisor_login(
            &fx.sh,
            SupervisorLogin {
                session_id: v.session_id.clone(),
                supervisor: "sam".into(),
                secret: secret.clone(),
                otp,
            },
        )
        .unwrap();
        let g = grant_override(
            &fx.sh,
            GrantInput {
                session_id: v.session_id.clone(),
                scope: vec!["payments.approve".into()],
                duration_minutes: None,
                reason_code: policy_view(&fx.sh).unwrap().reason_codes[0].code.clone(),
                note: "n".into(),
                ticket: None,
                compensating_control: "c".into(),
            },
        )
        .unwrap();
        let policy = policy_view(&fx.sh).unwrap();
        assert_eq!(
            g.expires_at_ms - g.granted_at_ms,
            policy.default_duration_minutes * 60_000
        );
        fx.clock.advance(60_000);
        let (_, otp) = creds(&fx.sh, "sam");
        let r = revoke_override(
            &fx.sh,
            RevokeInput {
                grant_id: g.id.clone(),
                by: "sam".into(),
                role: "supervisor".into(),
                secret,
                otp,
                reason: "operator back".into(),
            },
        )
        .unwrap();
        assert_eq!(r.status, "revoked");
        assert_eq!(r.remaining_ms, 0);
    }

    #[test]
    fn export_refuses_an_unknown_format() {
        let fx = demo();
        let e = export_events(
            &fx.sh,
            ExportRequest {
                format: "csv".into(),
                query: EventQuery::default(),
            },
        )
        .unwrap_err();
        assert_eq!(e.code, "input.invalid");
    }
}
