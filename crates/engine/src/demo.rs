//! What only a demo kiosk accepts.
//!
//! A data dir is a demo only when `countersign init --demo` made it: its
//! marker (`countersign.json`) says `demo: true` *and* its first event,
//! `kiosk.initialized`, says so too. The marker alone is a file anyone with
//! a shell on the kiosk can edit; the event is in the signed chain. Every
//! other data dir is production, where biometric evidence must come from a
//! live device:
//!
//! - no **test input**: a score, quality failure, device-unavailable or PAD
//!   result handed to [`Engine::apply`] instead of measured by
//!   [`Engine::face_attempt`] / [`Engine::finger_attempt`] (the CLI's
//!   `stepup --test-*` flags);
//! - no **replay**: a capture source whose `DeviceInfo::replay` is set
//!   (image files as the camera, libfprint's `virtual_image` reader fed
//!   with images).
//!
//! On production such evidence is refused with `refused.demo_only`, and the
//! refusal is recorded (`stepup.refused`, `refusal: "demo_only"`). The
//! engine's own capture paths say where their evidence came from through
//! the `AttemptEvidence` they pass to `apply_with` (its `device.replay`);
//! an evidence event applied without it is test input. On a demo it is accepted and marked
//! (`"test_input": {...}` in the attempt's event, beside `score_source`).
//!
//! Assertions: [`Engine::assertion_for`] signs nothing on production for a
//! step-up whose evidence (read back from the ledger) came from test input
//! or a replay, and every assertion of a demo kiosk carries
//! `countersign_demo: true`, which a verifier refuses by default.

use countersign_core::session::SessionEvent;
use countersign_ledger::{Filter, PageRequest};
use serde_json::{json, Value};

use crate::demo_faces::is_demo_dir;
use crate::evidence::{kinds, Ev};
use crate::{AttemptEvidence, Engine, EngineError, StepUp};

/// Where one piece of biometric evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provenance {
    /// A live device (camera, real fingerprint reader), or its absence.
    Live,
    /// Frames from files or a virtual reader (`DeviceInfo::replay`).
    Replay,
    /// A result given to `apply` instead of measured.
    TestInput,
}

impl Provenance {
    fn describe(self) -> &'static str {
        match self {
            Provenance::Live => "live device",
            Provenance::Replay => "a replay or virtual reader (frames or prints from files)",
            Provenance::TestInput => "test input (a result given, not measured)",
        }
    }
}

/// Whether an event body holds evidence only a demo accepts, and why.
pub(crate) fn demo_only_evidence(body: &Value) -> Option<&'static str> {
    if body.get("test_input").is_some()
        || body["score_source"].as_str() == Some("test_input")
        || body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("test input"))
    {
        return Some("test input");
    }
    for key in ["face", "finger"] {
        if body[key]["device"]["replay"].as_bool() == Some(true) {
            return Some("a replay or virtual reader");
        }
    }
    None
}

/// A demo person's factors as of now: their secret and a TOTP code of the
/// policy's step and digits ([`Engine::demo_credentials`]).
#[derive(Clone, PartialEq, Eq)]
pub struct DemoCredential {
    pub id: String,
    pub secret: String,
    pub otp: String,
}

impl std::fmt::Debug for DemoCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCredential")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// The demo people's secrets and current TOTP codes, on a demo data dir
    /// only ([`EngineError::DemoOnly`] elsewhere). A code of a step the
    /// person already used would be refused as a replay: this hands out the
    /// current step's, else the next one's, else the previous one's (all
    /// within one step of skew), so an admin can sign in and make two
    /// changes within one step. Step and digits are the policy's.
    pub fn demo_credentials(&self) -> Result<Vec<DemoCredential>, EngineError> {
        if !self.is_demo() {
            return Err(EngineError::DemoOnly("demo credentials".into()));
        }
        let step = i64::from(self.policy.supervisor.totp_step_seconds);
        let digits = self.policy.supervisor.totp_digits;
        let now_s = self.now() / 1000;
        let mut out = vec![];
        for p in crate::DEMO_PEOPLE {
            let Some((secret, totp)) = p.credentials else {
                continue;
            };
            let Ok(key) = data_encoding::BASE32_NOPAD.decode(totp.as_bytes()) else {
                continue;
            };
            let used = self.recent_totp_steps(p.id)?;
            let at = [now_s, now_s + step, now_s - step]
                .into_iter()
                .find(|t| !used.contains(&((t / step) as u64)))
                .unwrap_or(now_s + step);
            out.push(DemoCredential {
                id: p.id.into(),
                secret: secret.into(),
                otp: countersign_core::auth::totp::code_at(&key, at, step as u32, digits),
            });
        }
        Ok(out)
    }

    /// True only for a data dir made by `countersign init --demo`: the
    /// marker and the signed `kiosk.initialized` event both say so.
    pub fn is_demo(&self) -> bool {
        if !is_demo_dir(self.data_dir()) {
            return false;
        }
        self.ledger
            .query(
                &Filter {
                    kinds: vec![kinds::KIOSK_INITIALIZED.into()],
                    ..Default::default()
                },
                &PageRequest {
                    after_seq: None,
                    limit: 1,
                    newest_first: false,
                },
            )
            .ok()
            .and_then(|p| p.rows.into_iter().next())
            .is_some_and(|r| r.body["demo"].as_bool() == Some(true))
    }

    /// Refuses `what` on production: an error with `refused.demo_only`.
    pub fn require_demo(&self, what: &str) -> Result<(), EngineError> {
        if self.is_demo() {
            Ok(())
        } else {
            Err(EngineError::DemoOnly(what.into()))
        }
    }

    /// Before an attempt opens: a replay source on production is refused
    /// (and recorded) before the session moves, so nothing is captured.
    pub(crate) fn require_live_source(
        &mut self,
        s: &StepUp,
        replay: bool,
        device: &str,
    ) -> Result<(), EngineError> {
        if !replay || self.is_demo() {
            return Ok(());
        }
        Err(self.refuse_demo_only(s, "capture_started", Provenance::Replay, device))
    }

    /// Called by [`Engine::apply_with`] for every event: evidence events
    /// (match, quality failure, device unavailable) must come from a live
    /// device unless the data dir is a demo (see the module doc). Returns
    /// the evidence to record: the attempt's own, or, for an evidence event
    /// applied without any (test input, a demo's only), the test-input note.
    pub(crate) fn check_evidence_source(
        &mut self,
        s: &StepUp,
        ev: &SessionEvent,
        evidence: Option<AttemptEvidence>,
    ) -> Result<Option<AttemptEvidence>, EngineError> {
        let device = match ev {
            SessionEvent::Match { .. } | SessionEvent::QualityFailure { .. } => String::new(),
            SessionEvent::DeviceUnavailable { device, .. } => device.clone(),
            _ => return Ok(evidence),
        };
        let provenance = match &evidence {
            None => Provenance::TestInput,
            Some(a) if a.device["device"]["replay"].as_bool() == Some(true) => Provenance::Replay,
            Some(_) => Provenance::Live,
        };
        if provenance == Provenance::Live {
            return Ok(evidence);
        }
        if self.is_demo() {
            return Ok(evidence.or_else(|| Some(AttemptEvidence::test_input())));
        }
        Err(self.refuse_demo_only(s, ev.name(), provenance, &device))
    }

    /// Records the refusal (`stepup.refused`, `refusal: "demo_only"`) and
    /// returns the error; a failed append is returned instead.
    fn refuse_demo_only(
        &mut self,
        s: &StepUp,
        event: &str,
        provenance: Provenance,
        device: &str,
    ) -> EngineError {
        let what = format!("{event} from {}", provenance.describe());
        let err = EngineError::DemoOnly(what.clone());
        let now = self.now();
        let mut ev = Ev::new(
            kinds::STEPUP_REFUSED,
            now,
            json!({ "session_id": s.session.id, "event": event, "refusal": "demo_only",
                    "message": err.to_string(), "state": s.session.state.name(),
                    "device": device, "source": match provenance { Provenance::Replay => "replay", _ => "test_input" } }),
        )
        .case(&s.session.id)
        .outcome("refused");
        if let Some(op) = &s.session.operator {
            ev = ev.person(&op.id);
        }
        match self.ledger.append(&ev.build()) {
            Ok(_) => err,
            Err(e) => EngineError::Ledger(e),
        }
    }

    /// The first event of a step-up whose evidence only a demo accepts:
    /// `(seq, why)`.
    pub(crate) fn demo_only_evidence_in(
        &self,
        session_id: &str,
    ) -> Result<Option<(u64, &'static str)>, EngineError> {
        let rows = self.ledger.all(&Filter {
            case_id: Some(session_id.into()),
            kinds: [
                kinds::MATCH_ATTEMPT,
                kinds::CAPTURE_QUALITY_FAILED,
                kinds::CAPTURE_DEVICE_UNAVAILABLE,
            ]
            .map(String::from)
            .to_vec(),
            ..Default::default()
        })?;
        Ok(rows
            .iter()
            .find_map(|r| demo_only_evidence(&r.body).map(|why| (r.seq, why))))
    }
}
