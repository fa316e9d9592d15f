//! The fingerprint path: witnessed enrollment and verification attempts on
//! a libfprint reader (`countersign-fingerprint`), with the evidence of each.
//!
//! - Enrollment: a supervisor witnesses with two factors, then the
//!   driver's enroll stages (one impression each). No check that the finger
//!   is already enrolled for someone else: libfprint-rs 0.3.1's identify
//!   returned no result on the virtual reader (an open item). The template (libfprint's serialised print) and every
//!   impression are sealed in the blob store; `biometric.enrolled` (modality
//!   `finger`) records who witnessed, the device and each sample's size and
//!   time.
//! - Attempt: `capture.started`, one verification, then
//!   `capture.device_unavailable` (removed, busy/too hot, not found),
//!   `capture.quality_failed` (libfprint asked to retry, or nothing was
//!   presented in time), or `match.attempt` with amr `fpt`. libfprint gives
//!   no score, only its decision at the driver's fixed bozorth3 threshold:
//!   the session gets 100 for a match and 0 for no match, and the evidence
//!   says `score: null, decision_source: "libfprint"`.

use crate::AttemptEvidence;
use crate::Code;
use countersign_core::session::{Modality, SessionEvent};
use countersign_core::{Role, SessionState};
use countersign_fingerprint::{
    Finger, FingerprintError, Impression, Reader, ReaderEvent, Template, TEMPLATE_MEDIA_TYPE,
};
use countersign_ledger::{EventIndex, Filter};
use serde::Serialize;
use serde_json::{json, Value};

use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError, StepUp};

/// What the evidence says about the matcher.
const ALGORITHM: &str = "libfprint NBIS (mindtct + bozorth3), decision at the driver's fixed threshold, no score exposed";

/// What an enrollment did.
#[derive(Debug, Clone, Serialize)]
pub struct FingerEnrollment {
    pub person: String,
    pub witness: String,
    pub finger: Finger,
    pub template_sha256: String,
    pub impressions: usize,
    pub device: countersign_capture::DeviceInfo,
}

/// What one fingerprint attempt ended in.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum FingerAttempt {
    DeviceUnavailable {
        device: String,
        code: Code,
        detail: String,
    },
    QualityFailure {
        reason: String,
    },
    Decided {
        matched: bool,
    },
}

fn biometric(code: Code, message: String) -> EngineError {
    EngineError::Biometric { code, message }
}

fn finger_error(e: FingerprintError) -> EngineError {
    match e {
        FingerprintError::Device(c) => EngineError::Capture(c),
        other => biometric(other.code(), other.to_string()),
    }
}

/// The device record with the resolution of the impression taken.
fn device_with(reader: &Reader, imp: Option<&Impression>) -> countersign_capture::DeviceInfo {
    let mut d = reader.info().clone();
    if let Some(i) = imp {
        d.resolution = countersign_capture::Resolution::new(i.image.width, i.image.height);
    }
    d
}

impl Engine {
    /// The person's current finger template, its blob hash and which finger.
    pub fn finger_template(
        &mut self,
        person: &str,
    ) -> Result<Option<(Template, String, Option<Finger>)>, EngineError> {
        let rows = self.ledger.all(&Filter {
            kinds: vec![kinds::BIOMETRIC_ENROLLED.into()],
            person: Some(person.into()),
            ..Default::default()
        })?;
        let Some(row) = rows.iter().rev().find(|r| r.body["modality"] == "finger") else {
            return Ok(None);
        };
        let sha = row.body["template_sha256"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let finger = serde_json::from_value(row.body["finger"].clone()).ok();
        let bytes = self.ledger.get_blob(&sha)?;
        Ok(Some((Template::new(bytes), sha, finger)))
    }

    fn seal_impression(
        &mut self,
        imp: &Impression,
        index: &EventIndex,
        role: &str,
    ) -> Result<Value, EngineError> {
        let now = self.now();
        let b = self
            .ledger
            .put_blob(&imp.image.to_png(), "image/png", now, index.clone())?;
        Ok(
            json!({ "sha256": b.sha256_hex, "media_type": "image/png", "role": role, "captured_ms": imp.captured_ms,
                   "width": imp.image.width, "height": imp.image.height, "ppmm": imp.ppmm }),
        )
    }

    /// Enrolls `person`'s `finger` on `reader`, witnessed by supervisor
    /// `witness` (two factors). `on_event` hears when a finger is needed
    /// (a prompt, or the virtual feeder). A failed enrollment is logged as
    /// `biometric.enroll_failed` and returned as an error.
    #[allow(clippy::too_many_arguments)]
    pub fn enroll_finger(
        &mut self,
        person: &str,
        witness: &str,
        witness_secret: &str,
        witness_code: &str,
        reader: &mut Reader,
        finger: Finger,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<FingerEnrollment, EngineError> {
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
        if reader.info().replay {
            // Before the witness spends a factor.
            self.require_demo(&format!(
                "a finger enrollment on a virtual reader ({})",
                reader.info().id
            ))?;
        }
        let (w, auth) = self.authenticate(
            witness,
            Role::Supervisor,
            witness_secret,
            witness_code,
            &format!("witness finger enrollment of {person}"),
        )?;
        let started_ms = self.now();
        let index = EventIndex {
            person: Some(person.into()),
            ..Default::default()
        };
        let reader_info = reader.info().clone();
        let fail = |this: &mut Engine, code: Code, reason: String, extra: Value| -> EngineError {
            let now = this.now();
            let ev = Ev::new(
                kinds::BIOMETRIC_ENROLL_FAILED,
                now,
                json!({ "person": person, "modality": "finger", "finger": finger, "witness": w.id, "reason": reason,
                        "code": code, "device": reader_info, "started_ms": started_ms, "detail": extra }),
            )
            .person(person)
            .supervisor(&w.id)
            .outcome("failed")
            .build();
            match this.ledger.append(&ev) {
                Ok(_) => biometric(code, reason),
                Err(e) => e.into(),
            }
        };
        let fail_with = |this: &mut Engine, e: FingerprintError| {
            let code = match e {
                FingerprintError::Duplicate { .. } => Code::BiometricEnrollDuplicate,
                _ => Code::BiometricEnrollmentFailed,
            };
            fail(this, code, format!("{}: {e}", e.code()), Value::Null)
        };
        let enrolled = match reader.enroll(finger, on_event) {
            Ok(e) => e,
            Err(e) => return Err(fail_with(self, e)),
        };
        let now = self.now();
        let tpl = self.ledger.put_blob(
            enrolled.template.bytes(),
            TEMPLATE_MEDIA_TYPE,
            now,
            index.clone(),
        )?;
        let mut samples = vec![];
        for (stage, imp) in enrolled.impressions.iter().enumerate() {
            samples.push(self.seal_impression(imp, &index, &format!("stage {}", stage + 1))?);
        }
        let device = device_with(reader, enrolled.impressions.first());
        let finished_ms = self.now();
        self.ledger.append(
            &Ev::new(
                kinds::BIOMETRIC_ENROLLED,
                finished_ms,
                json!({
                    "person": person, "modality": "finger", "finger": finger,
                    "template_sha256": tpl.sha256_hex, "template_media_type": TEMPLATE_MEDIA_TYPE,
                    "stages": enrolled.stages, "samples": samples,
                    "witness": w.id, "witness_amr": auth.amr, "algorithm": ALGORITHM,
                    "device": device, "started_ms": started_ms, "finished_ms": finished_ms,
                }),
            )
            .person(person)
            .supervisor(&w.id)
            .outcome("enrolled")
            .build(),
        )?;
        Ok(FingerEnrollment {
            person: person.into(),
            witness: w.id,
            finger,
            template_sha256: tpl.sha256_hex,
            impressions: enrolled.impressions.len(),
            device,
        })
    }

    /// One fingerprint attempt of a step-up, after the operator's act of
    /// intent: one verification on `reader` against the operator's
    /// template, applied to the session with its evidence.
    pub fn finger_attempt(
        &mut self,
        s: &mut StepUp,
        reader: &mut Reader,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<FingerAttempt, EngineError> {
        let operator = s
            .session
            .operator
            .as_ref()
            .map(|p| p.id.clone())
            .ok_or_else(|| EngineError::Invalid("no operator identified yet".into()))?;
        // A virtual reader only on a demo data dir (demo.rs), before anything else.
        self.require_live_source(s, reader.info().replay, &reader.info().id)?;
        // libfprint's own decision, recorded as 100 or 0 against its BOZORTH3
        // threshold; the policy cannot change it (policy/matching.rs).
        let threshold = self.policy.matching.finger_decision_threshold();
        let Some((template, template_sha, finger)) = self.finger_template(&operator)? else {
            return Err(biometric(
                Code::BiometricNotEnrolled,
                format!("{operator} has no finger enrollment: countersign enroll {operator} --finger ... --witness SUPERVISOR"),
            ));
        };
        let device = reader.info().clone();
        self.apply(
            s,
            SessionEvent::CaptureStarted {
                device: device.id.clone(),
            },
        )?;
        let started_ms = self.now();
        let verified = reader.verify(&template, on_event);
        let finished_ms = self.now();
        let mut evidence = json!({
            "device": device, "amr": ["fpt"], "finger": finger, "template_sha256": template_sha,
            "capture": { "started_ms": started_ms, "finished_ms": finished_ms },
            "algorithm": ALGORITHM, "decision_source": "libfprint", "score": null,
            "policy_threshold": threshold, "sample": null,
        });
        let v = match verified {
            Ok(v) => v,
            Err(e) if e.is_device_unavailable() => {
                let detail = format!("{}: {e}", e.code());
                evidence["failure"] = json!({ "code": e.code(), "reason": e.to_string() });
                let evidence = AttemptEvidence::finger(evidence);
                let out = self.apply_with(
                    s,
                    SessionEvent::DeviceUnavailable {
                        device: device.id.clone(),
                        detail: detail.clone(),
                    },
                    Some(evidence),
                );
                out?;
                return Ok(FingerAttempt::DeviceUnavailable {
                    device: device.id,
                    code: e.code(),
                    detail,
                });
            }
            Err(e @ (FingerprintError::Retry { .. } | FingerprintError::TimedOut { .. })) => {
                let reason = e.to_string();
                evidence["failure"] = json!({ "code": e.code(), "reason": reason });
                let evidence = AttemptEvidence::finger(evidence);
                let out = self.apply_with(
                    s,
                    SessionEvent::QualityFailure {
                        reason: reason.clone(),
                    },
                    Some(evidence),
                );
                return out.map(|_| FingerAttempt::QualityFailure { reason });
            }
            Err(e) => return Err(finger_error(e)),
        };
        if let Some(p) = &v.probe {
            let index = EventIndex {
                person: Some(operator.clone()),
                case_id: Some(s.session.id.clone()),
                ..Default::default()
            };
            evidence["sample"] = self.seal_impression(p, &index, "probe")?;
            evidence["device"] = json!(device_with(reader, Some(p)));
            evidence["capture"]["captured_ms"] = json!(p.captured_ms);
        }
        evidence["matched"] = json!(v.matched);
        let out = self.apply_with(
            s,
            SessionEvent::Match {
                modality: Modality::Finger,
                score: if v.matched { 100.0 } else { 0.0 },
                pad_passed: None,
            },
            Some(AttemptEvidence::finger(evidence)),
        );
        out.map(|_| FingerAttempt::Decided {
            matched: v.matched && matches!(s.session.state, SessionState::Succeeded { .. }),
        })
    }
}

impl Engine {
    /// The reader could not even be opened (not plugged in, removed, busy):
    /// after the operator's act of intent that is the `device_unavailable`
    /// fallback trigger, recorded with the error's stable code.
    /// `virtual_reader`: it was libfprint's `virtual_image` (a demo's), which
    /// only a demo data dir accepts.
    pub fn finger_reader_unavailable(
        &mut self,
        s: &mut StepUp,
        device: &str,
        virtual_reader: bool,
        err: &FingerprintError,
    ) -> Result<(), EngineError> {
        self.require_live_source(s, virtual_reader, device)?;
        self.apply(
            s,
            SessionEvent::CaptureStarted {
                device: device.into(),
            },
        )?;
        let evidence = AttemptEvidence::finger(
            json!({ "device": { "id": device, "replay": virtual_reader }, "amr": ["fpt"], "error": err.code() }),
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
}
