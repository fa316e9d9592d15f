//! Opening sealed biometric samples for the people entitled to see them.
//!
//! Samples (the face frame or fingerprint impression of an attempt, the
//! captures of an enrollment) are sealed in the ledger's blob store. Two
//! people may look at one, and every look is itself evidence
//! (`sample.viewed`: who, which sample, why):
//! - a **reviewer** who signed in with two factors ([`Engine::reviewer_sign_in`])
//!   in the last [`REVIEWER_PASS_MS`], while judging the evidence log;
//! - the **supervisor** who authenticated with two factors in a step-up
//!   session, for that session's own samples only, before granting.
//!
//! Templates are never shown (they are not images); purged samples say when
//! retention purged them. Sample bytes never appear in errors or logs.

use crate::Code;
use countersign_core::{Ms, Role, SessionState};
use countersign_ledger::LedgerError;
use serde_json::{json, Value};

use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError, StepUp};

/// How long a reviewer's sign-in lets them open samples (15 minutes). After
/// that, two factors again: a pass left on an unattended screen expires.
pub const REVIEWER_PASS_MS: Ms = 15 * 60_000;

/// Proof that a reviewer signed in with two factors. Only the engine makes
/// one; the shell keeps it in memory and drops it on sign-out or idle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewerPass {
    reviewer: String,
    display_name: String,
    signed_in_ms: Ms,
}

impl ReviewerPass {
    pub fn reviewer(&self) -> &str {
        &self.reviewer
    }
    pub fn display_name(&self) -> &str {
        &self.display_name
    }
    pub fn signed_in_ms(&self) -> Ms {
        self.signed_in_ms
    }
    pub fn expires_ms(&self) -> Ms {
        self.signed_in_ms + REVIEWER_PASS_MS
    }
}

/// A sample reference found in an event body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRef {
    /// Hex SHA-256 (the blob's key).
    pub sha256: String,
    /// Media type (`image/png`, ...).
    pub media_type: String,
    /// Where in the body it sits, e.g. `face.sample`, `finger.samples.1`.
    pub path: String,
}

/// An opened sample.
#[derive(Clone, PartialEq, Eq)]
pub struct Sample {
    pub sha256: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// When it was sealed.
    pub created_ms: Ms,
    /// Whose sample it is and in which case (from its `blob.sealed` event).
    pub person: Option<String>,
    pub case_id: Option<String>,
}

impl std::fmt::Debug for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sample({} {}, {} bytes)",
            self.media_type,
            self.sha256,
            self.bytes.len()
        )
    }
}

/// Every image sample an event body refers to: objects with a 64-hex
/// `sha256` and an `image/*` `media_type`, at any depth, in body order.
/// (Templates have another media type and are never listed.)
pub fn sample_refs(body: &Value) -> Vec<SampleRef> {
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<SampleRef>) {
        match v {
            Value::Object(m) => {
                let sha = m.get("sha256").and_then(Value::as_str);
                let mt = m.get("media_type").and_then(Value::as_str);
                if let (Some(sha), Some(mt)) = (sha, mt) {
                    if mt.starts_with("image/")
                        && sha.len() == 64
                        && sha.bytes().all(|b| b.is_ascii_hexdigit())
                    {
                        out.push(SampleRef {
                            sha256: sha.to_ascii_lowercase(),
                            media_type: mt.into(),
                            path: path.join("."),
                        });
                    }
                }
                for (k, child) in m {
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    path.push(i.to_string());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = vec![];
    walk(body, &mut vec![], &mut out);
    out.dedup_by(|a, b| a.sha256 == b.sha256);
    out
}

fn refuse(code: Code, message: impl Into<String>) -> EngineError {
    EngineError::Sample {
        code,
        message: message.into(),
    }
}

impl Engine {
    /// Two-factor sign-in of a reviewer (a `supervisor.auth` event with
    /// purpose `view samples`, lockout as for any authentication).
    pub fn reviewer_sign_in(
        &mut self,
        reviewer: &str,
        secret: &str,
        otp: &str,
    ) -> Result<ReviewerPass, EngineError> {
        let (person, _) =
            self.authenticate(reviewer, Role::Reviewer, secret, otp, "view samples")?;
        Ok(ReviewerPass {
            reviewer: person.id.clone(),
            display_name: person.display_name.clone(),
            signed_in_ms: self.now(),
        })
    }

    /// Opens a sample for a signed-in reviewer; `event_seq` is the event
    /// whose detail they were reading (recorded with the view).
    pub fn open_sample_for_review(
        &mut self,
        pass: &ReviewerPass,
        sha256: &str,
        event_seq: Option<u64>,
    ) -> Result<Sample, EngineError> {
        if self.now() >= pass.expires_ms() {
            return Err(refuse(
                Code::SamplePassExpired,
                "the reviewer sign-in has expired: sign in again with two factors",
            ));
        }
        // Roles may have changed since the sign-in.
        self.person(&pass.reviewer)?.require(Role::Reviewer)?;
        self.open_sample(sha256, &pass.reviewer, "reviewer", "review", event_seq)
    }

    /// Opens one of `s`'s own samples for the supervisor who authenticated
    /// in it, while they decide (state `supervisor_authenticated`).
    pub fn open_sample_for_supervisor(
        &mut self,
        s: &StepUp,
        sha256: &str,
    ) -> Result<Sample, EngineError> {
        let SessionState::SupervisorAuthenticated { supervisor, .. } = &s.session.state else {
            return Err(refuse(
                Code::SampleNoSupervisor,
                "samples open for the supervisor who authenticated in this step-up, before the decision",
            ));
        };
        // By the session's own events, not the blob's first sealing: samples
        // are content-addressed, so the same bytes may belong to several.
        let mine = self.ledger.query(
            &countersign_ledger::Filter {
                case_id: Some(s.session.id.clone()),
                ..Default::default()
            },
            &countersign_ledger::PageRequest {
                after_seq: None,
                limit: 1000,
                newest_first: false,
            },
        )?;
        let wanted = sha256.to_ascii_lowercase();
        if !mine
            .rows
            .iter()
            .any(|r| sample_refs(&r.body).iter().any(|x| x.sha256 == wanted))
        {
            return Err(refuse(
                Code::SampleNotInSession,
                format!(
                    "sample {sha256} does not belong to step-up {}",
                    s.session.id
                ),
            ));
        }
        let supervisor = supervisor.clone();
        self.open_sample(sha256, &supervisor, "supervisor", "approval", None)
    }

    fn blob_info_checked(&self, sha256: &str) -> Result<countersign_ledger::BlobInfo, EngineError> {
        let info = self.ledger.blob_info(sha256).map_err(|e| match e {
            LedgerError::NotFound(_) => refuse(Code::SampleNotFound, format!("no sample {sha256}")),
            LedgerError::Invalid(m) => refuse(Code::SampleNotFound, m),
            other => other.into(),
        })?;
        if !info.media_type.starts_with("image/") {
            return Err(refuse(
                Code::SampleNotAnImage,
                format!("{sha256} is a {} and is never shown", info.media_type),
            ));
        }
        Ok(info)
    }

    fn open_sample(
        &mut self,
        sha256: &str,
        viewer: &str,
        role: &str,
        purpose: &str,
        event_seq: Option<u64>,
    ) -> Result<Sample, EngineError> {
        let info = self.blob_info_checked(sha256)?;
        let sealed = self.ledger.get(info.sealed_seq)?;
        let person = sealed.as_ref().and_then(|r| r.index.person.clone());
        let case_id = sealed.as_ref().and_then(|r| r.index.case_id.clone());
        let bytes = self.ledger.get_blob(&info.sha256_hex).map_err(|e| match e {
            LedgerError::Purged { purged_ms, .. } => refuse(
                Code::SamplePurged,
                format!("retention purged this sample at {purged_ms} (Unix ms); its hash and metadata remain"),
            ),
            other => other.into(),
        })?;
        let now = self.now();
        let mut ev = Ev::new(
            kinds::SAMPLE_VIEWED,
            now,
            json!({
                "sha256": info.sha256_hex, "media_type": info.media_type,
                "viewer": viewer, "role": role, "purpose": purpose, "event_seq": event_seq,
            }),
        );
        if let Some(p) = &person {
            ev = ev.person(p);
        }
        if let Some(c) = &case_id {
            ev = ev.case(c);
        }
        if role == "supervisor" {
            ev = ev.supervisor(viewer);
        }
        self.ledger.append(&ev.build())?;
        Ok(Sample {
            sha256: info.sha256_hex,
            media_type: info.media_type,
            bytes,
            created_ms: info.created_ms,
            person,
            case_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_refs_finds_images_at_any_depth_and_skips_templates() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let body = json!({
            "face": { "sample": { "sha256": a, "media_type": "image/png", "frame": 1 } },
            "template": { "sha256": "c".repeat(64), "media_type": "application/x-countersign-face-template" },
            "finger": { "samples": [ { "sha256": b, "media_type": "image/png" }, { "sha256": "short", "media_type": "image/png" } ] },
        });
        let refs = sample_refs(&body);
        let got: Vec<_> = refs
            .iter()
            .map(|r| (r.path.as_str(), r.sha256.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("face.sample", a.as_str()),
                ("finger.samples.0", "b".repeat(64).as_str())
            ],
            "images only (no template, no malformed hash), lower-case hashes, with their paths"
        );
    }
}
