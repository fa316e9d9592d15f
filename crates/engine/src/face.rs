//! The face path: witnessed enrollment and verification attempts from a
//! capture source, with the evidence of each.
//!
//! - Enrollment: several captures that pass the quality gates; the template
//!   (their embeddings) and the accepted captures are sealed in the blob
//!   store; a supervisor witnesses with two factors; `biometric.enrolled`
//!   records who, what, and with which models.
//! - Attempt: `capture.started` with the device id, a burst of frames, then
//!   either `capture.device_unavailable` (unplugged, busy, no permission, not
//!   found), `capture.quality_failed`, or `match.attempt` with the score
//!   against `policy.matching.face_threshold` and the PAD result. The
//!   evidence (device info incl. the replay flag, capture times, per-frame
//!   quality, scores, threshold, model hashes, PAD methods and results, the
//!   sealed sample) rides in the same event under `face`.

use crate::AttemptEvidence;
use crate::Code;
use countersign_capture::{CaptureError, DeviceInfo, Source};
use countersign_core::session::{Modality, SessionEvent};
use countersign_core::{Role, SessionState};
use countersign_ledger::{EventIndex, NewEvent};
use countersign_matcher::{Challenge, Matcher, Template};
use serde::Serialize;
use serde_json::{json, Value};

use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError, StepUp};

/// Media type of a sealed face template.
pub const TEMPLATE_MEDIA_TYPE: &str = "application/vnd.countersign.face-template+json";

/// What an enrollment did.
#[derive(Debug, Clone, Serialize)]
pub struct FaceEnrollment {
    pub person: String,
    pub witness: String,
    pub template_sha256: String,
    pub accepted_captures: usize,
    pub frames_seen: usize,
    pub device: DeviceInfo,
}

/// What one verification attempt ended in.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FaceAttempt {
    DeviceUnavailable {
        device: String,
        code: Code,
        detail: String,
    },
    QualityFailure {
        reason: String,
    },
    Scored {
        score: f64,
        threshold: f64,
        pad_passed: bool,
        matched: bool,
    },
}

struct Burst {
    frames: Vec<countersign_capture::Frame>,
    unavailable: Option<CaptureError>,
}

fn capture_burst(source: &mut dyn Source, n: usize) -> Result<Burst, EngineError> {
    let mut frames = Vec::with_capacity(n);
    for _ in 0..n {
        match source.next_frame() {
            Ok(f) => frames.push(f),
            Err(CaptureError::EndOfStream { .. }) => break,
            Err(e) if e.is_device_unavailable() => {
                return Ok(Burst {
                    frames,
                    unavailable: Some(e),
                })
            }
            Err(e) => return Err(EngineError::Capture(e)),
        }
    }
    Ok(Burst {
        frames,
        unavailable: None,
    })
}

fn png(img: &countersign_capture::RgbImage) -> Result<Vec<u8>, EngineError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| EngineError::Invalid(format!("cannot encode the sample: {e}")))?;
    Ok(out.into_inner())
}

fn biometric(code: Code, message: String) -> EngineError {
    EngineError::Biometric { code, message }
}

/// Puts the pending biometric evidence into the attempt's event
/// (match.attempt, capture.quality_failed or capture.device_unavailable)
/// of a transition's batch, under its key (`face`, `finger`, or
/// `test_input` for a demo's test input).
pub(crate) fn attach_attempt_evidence(batch: &mut [NewEvent], evidence: Option<AttemptEvidence>) {
    let Some(AttemptEvidence {
        key, device: ev, ..
    }) = evidence
    else {
        return;
    };
    if let Some(e) = batch.iter_mut().find(|e| {
        e.kind == kinds::MATCH_ATTEMPT
            || e.kind == kinds::CAPTURE_QUALITY_FAILED
            || e.kind == kinds::CAPTURE_DEVICE_UNAVAILABLE
    }) {
        if let Some(obj) = e.body.as_object_mut() {
            obj.insert(key.into(), ev);
        }
    }
}

impl Engine {
    /// The person's current face template and its blob hash, if enrolled.
    pub fn face_template(
        &mut self,
        person: &str,
    ) -> Result<Option<(Template, String)>, EngineError> {
        // The newest face enrollment (a person may also have a finger one).
        let rows = self.ledger.all(&countersign_ledger::Filter {
            kinds: vec![kinds::BIOMETRIC_ENROLLED.into()],
            person: Some(person.into()),
            ..Default::default()
        })?;
        let Some(row) = rows.iter().rev().find(|r| r.body["modality"] == "face") else {
            return Ok(None);
        };
        let sha = row.body["template_sha256"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let bytes = self.ledger.get_blob(&sha)?;
        Ok(Some((Template::from_bytes(&bytes)?, sha)))
    }

    /// Enrolls `person`'s face from `source`, witnessed by supervisor
    /// `witness` (two factors). Reads up to `3 * captures` frames until
    /// `captures` pass the quality gates. A failed enrollment is logged as
    /// `biometric.enroll_failed` and returned as an error.
    #[allow(clippy::too_many_arguments)]
    pub fn enroll_face(
        &mut self,
        person: &str,
        witness: &str,
        witness_secret: &str,
        witness_code: &str,
        matcher: &Matcher,
        source: &mut dyn Source,
        captures: usize,
    ) -> Result<FaceEnrollment, EngineError> {
        let captures = captures.max(1);
        let subject = self.person(person)?;
        if !subject.roles.contains(&Role::Operator) {
            return Err(biometric(
                Code::BiometricNotOperator,
                format!("{person} is not an operator: only operators enroll a biometric"),
            ));
        }
        if witness == person {
            return Err(biometric(
                Code::BiometricSelfWitness,
                format!("{person} cannot witness their own enrollment"),
            ));
        }
        if source.info().replay {
            // Before the witness spends a factor.
            self.require_demo(&format!(
                "a face enrollment from a replay ({})",
                source.info().id
            ))?;
        }
        let (w, auth) = self.authenticate(
            witness,
            Role::Supervisor,
            witness_secret,
            witness_code,
            &format!("witness face enrollment of {person}"),
        )?;
        let device = source.info().clone();
        let burst = capture_burst(source, captures * 3)?;
        let now = self.now();
        let fail = |this: &mut Engine, reason: String, frames: Value| -> EngineError {
            let ev = Ev::new(
                kinds::BIOMETRIC_ENROLL_FAILED,
                now,
                json!({ "person": person, "modality": "face", "witness": w.id, "reason": reason, "device": device, "frames": frames }),
            )
            .person(person)
            .supervisor(&w.id)
            .outcome("failed")
            .build();
            match this.ledger.append(&ev) {
                Ok(_) => biometric(Code::BiometricEnrollmentFailed, reason),
                Err(e) => e.into(),
            }
        };
        if let Some(e) = burst.unavailable {
            let reason = format!("capture device unavailable: {e}");
            return Err(fail(self, reason, Value::Null));
        }
        let images: Vec<_> = burst.frames.iter().map(|f| f.image.clone()).collect();
        let r = matcher.enroll(&images, captures)?;
        let frames_json = serde_json::to_value(&r.frames).expect("serialisable");
        let threshold = self.policy.matching.face_threshold;
        let Some(template) = r.template.clone() else {
            let reason = format!(
                "{} of {} captures passed the quality gates, {captures} needed",
                r.accepted_frames.len(),
                images.len()
            );
            return Err(fail(self, reason, frames_json));
        };
        if let Some(m) = r.min_pairwise {
            if f64::from(m) < threshold {
                let reason = format!("the captures do not agree with each other (lowest similarity {m:.3} < threshold {threshold:.3}): are they all {person}?");
                return Err(fail(self, reason, frames_json));
            }
        }
        let index = EventIndex {
            person: Some(person.into()),
            ..Default::default()
        };
        let tpl = self.ledger.put_blob(
            &template.to_bytes(),
            TEMPLATE_MEDIA_TYPE,
            now,
            index.clone(),
        )?;
        let mut samples = vec![];
        for &i in &r.accepted_frames {
            let b = self.ledger.put_blob(
                &png(&burst.frames[i].image)?,
                "image/png",
                now,
                index.clone(),
            )?;
            samples.push(json!({ "sha256": b.sha256_hex, "captured_ms": burst.frames[i].captured_ms, "origin": burst.frames[i].origin }));
        }
        self.ledger.append(
            &Ev::new(
                kinds::BIOMETRIC_ENROLLED,
                now,
                json!({
                    "person": person, "modality": "face", "template_sha256": tpl.sha256_hex,
                    "embeddings": template.embeddings.len(), "samples": samples,
                    "witness": w.id, "witness_amr": auth.amr, "models": r.models,
                    "device": device, "frames": frames_json, "min_pairwise": r.min_pairwise,
                    "threshold": threshold,
                }),
            )
            .person(person)
            .supervisor(&w.id)
            .outcome("enrolled")
            .build(),
        )?;
        Ok(FaceEnrollment {
            person: person.into(),
            witness: w.id,
            template_sha256: tpl.sha256_hex,
            accepted_captures: r.accepted_frames.len(),
            frames_seen: images.len(),
            device,
        })
    }

    /// The capture source could not even be opened (camera unplugged or
    /// busy, replay folder gone). After the operator's act of intent that is
    /// the `device_unavailable` fallback trigger, recorded with the error's
    /// stable code. `replay`: the source was a replay (a demo's folder of
    /// frames), which only a demo data dir accepts.
    pub fn capture_unavailable(
        &mut self,
        s: &mut StepUp,
        device: &str,
        replay: bool,
        err: &CaptureError,
    ) -> Result<(), EngineError> {
        self.require_live_source(s, replay, device)?;
        self.apply(
            s,
            SessionEvent::CaptureStarted {
                device: device.into(),
            },
        )?;
        let evidence = AttemptEvidence::face(
            json!({ "device": { "id": device, "replay": replay }, "error": err.code() }),
        );
        let out = self.apply_with(
            s,
            SessionEvent::DeviceUnavailable {
                device: device.into(),
                detail: format!("{}: {err}", err.code()),
            },
            Some(evidence),
        );
        out.map(drop)
    }

    /// One face attempt of a step-up, after the operator's act of intent:
    /// capture a burst of `burst` frames from `source`, check quality,
    /// score against the operator's template, run PAD (and the challenge if
    /// given), and apply the outcome to the session with its evidence.
    pub fn face_attempt(
        &mut self,
        s: &mut StepUp,
        matcher: &Matcher,
        source: &mut dyn Source,
        burst: usize,
        challenge: Option<Challenge>,
    ) -> Result<FaceAttempt, EngineError> {
        let operator = s
            .session
            .operator
            .as_ref()
            .map(|p| p.id.clone())
            .ok_or_else(|| EngineError::Invalid("no operator identified yet".into()))?;
        // A replay only on a demo data dir (demo.rs), before anything else.
        self.require_live_source(s, source.info().replay, &source.info().id)?;
        let Some((template, template_sha)) = self.face_template(&operator)? else {
            return Err(biometric(
                Code::BiometricNotEnrolled,
                format!("{operator} has no face enrollment: countersign enroll {operator} --replay ... --witness SUPERVISOR"),
            ));
        };
        let device = source.info().clone();
        self.apply(
            s,
            SessionEvent::CaptureStarted {
                device: device.id.clone(),
            },
        )?;
        let started_ms = self.now();
        let b = capture_burst(source, burst.max(1))?;
        if let Some(e) = b.unavailable {
            let detail = format!("{}: {e}", e.code());
            let evidence = AttemptEvidence::face(
                json!({ "device": device, "error": e.code(), "frames_before": b.frames.len() }),
            );
            let out = self.apply_with(
                s,
                SessionEvent::DeviceUnavailable {
                    device: device.id.clone(),
                    detail: detail.clone(),
                },
                Some(evidence),
            );
            out?;
            return Ok(FaceAttempt::DeviceUnavailable {
                device: device.id,
                code: e.code(),
                detail,
            });
        }
        let threshold = self.policy.matching.face_threshold;
        let images: Vec<_> = b.frames.iter().map(|f| f.image.clone()).collect();
        let r = matcher.verify(&images, &template, challenge)?;
        let now = self.now();
        let sample = match images.get(r.best_frame.unwrap_or(0)) {
            Some(img) => {
                let blob = self.ledger.put_blob(
                    &png(img)?,
                    "image/png",
                    now,
                    EventIndex {
                        person: Some(operator.clone()),
                        case_id: Some(s.session.id.clone()),
                        ..Default::default()
                    },
                )?;
                json!({ "sha256": blob.sha256_hex, "media_type": "image/png", "frame": r.best_frame.unwrap_or(0) })
            }
            None => Value::Null,
        };
        let evidence = json!({
            "device": device,
            "capture": {
                "started_ms": started_ms,
                "frames": b.frames.iter().map(|f| json!({ "seq": f.seq, "captured_ms": f.captured_ms, "origin": f.origin, "width": f.image.width(), "height": f.image.height() })).collect::<Vec<_>>(),
            },
            "template_sha256": template_sha,
            "models": r.models,
            "threshold": threshold,
            "score": r.score,
            "fusion": r.fusion,
            "frames": r.frames,
            "pad": r.pad,
            "challenge": challenge,
            "sample": sample,
            "quality_config": matcher.config().quality,
            "pad_config": matcher.config().pad,
        });
        let evidence = AttemptEvidence::face(evidence);
        match r.score {
            None => {
                let reason = if images.is_empty() {
                    "the capture delivered no frame".to_string()
                } else {
                    r.quality_reason()
                };
                let out = self.apply_with(
                    s,
                    SessionEvent::QualityFailure {
                        reason: reason.clone(),
                    },
                    Some(evidence),
                );
                out.map(|_| FaceAttempt::QualityFailure { reason })
            }
            Some(score) => {
                let out = self.apply_with(
                    s,
                    SessionEvent::Match {
                        modality: Modality::Face,
                        score: f64::from(score),
                        pad_passed: Some(r.pad.passed),
                    },
                    Some(evidence),
                );
                out.map(|_| FaceAttempt::Scored {
                    score: f64::from(score),
                    threshold,
                    pad_passed: r.pad.passed,
                    matched: matches!(s.session.state, SessionState::Succeeded { .. }),
                })
            }
        }
    }
}
