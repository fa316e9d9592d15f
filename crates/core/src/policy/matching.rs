//! `[matching]`: the biometric decision thresholds, and the floor that keeps
//! the face threshold inside what NIST SP 800-63B rev 4 asks of a biometric
//! comparison (a false-match rate of 1 in 10,000 or better).
//!
//! The floor belongs to one recogniser: a cosine of 0.46 means one thing for
//! SFace 2021dec int8bq and nothing for another model. The floor is recorded
//! with the SHA-256 of the model it was measured on
//! ([`FACE_FLOOR_MODEL_SHA256`]); the engine's tests check that it is the
//! model the matcher pins, so changing the model breaks a test until the
//! floor is measured again.

use serde::{Deserialize, Serialize};

use super::Seg::{self, K};

/// SHA-256 of the recogniser the face-threshold floor was measured on:
/// `face_recognition_sface_2021dec_int8bq.onnx` (OpenCV Zoo), the one
/// `countersign-matcher` pins.
pub const FACE_FLOOR_MODEL_SHA256: &str =
    "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee";

/// The lowest `face_threshold` a policy may set without citing a
/// calibration report. Measured with `countersign eval` on held-out public
/// face benchmarks (issue 16; BENCHMARKS.md, "Face threshold"): the
/// threshold reaching FMR 1e-4 was 0.417 on LFW (10,489 photos, 55 million
/// impostor pairs) and 0.456 on ORL (400 photos, 78,000 pairs). The floor
/// is the higher of the two, rounded up: below it, ordinary frontal photos
/// were already shown to let through more impostors than NIST allows.
pub const FACE_THRESHOLD_FLOOR: f64 = 0.46;

/// libfprint's own match threshold: its image drivers compare minutiae with
/// BOZORTH3 and call a match at a score of 40 by default (`bz3_threshold`; a
/// few drivers set their own, which the API does not expose). libfprint
/// reports only the decision, never the score, so Countersign cannot apply a
/// threshold of its own: a policy value other than this one would be a
/// setting that does nothing.
pub const LIBFPRINT_BZ3_THRESHOLD: f64 = 40.0;

/// Stable code of a face threshold below the floor with no calibration cited.
pub const BELOW_FLOOR_CODE: countersign_codes::Code =
    countersign_codes::Code::PolicyFaceThresholdBelowFloor;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matching {
    /// Cosine similarity at or above which a face comparison is a match.
    pub face_threshold: f64,
    /// SHA-256 (hex) of a signed calibration report (`countersign
    /// calibrate`) that supports a `face_threshold` below
    /// [`FACE_THRESHOLD_FLOOR`] for this site. Required below the floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_report_sha256: Option<String>,
    /// Deprecated: libfprint decides a fingerprint match itself. Accepted
    /// only with libfprint's own value ([`LIBFPRINT_BZ3_THRESHOLD`]), so an
    /// old policy still loads and nobody believes they tuned something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finger_threshold: Option<f64>,
}

impl Matching {
    /// The score a fingerprint decision is compared with: libfprint's
    /// decision is recorded as 100 (match) or 0 (no match).
    pub fn finger_decision_threshold(&self) -> f64 {
        LIBFPRINT_BZ3_THRESHOLD
    }

    /// Semantic checks: the offending key path, the message and its code.
    pub(super) fn validate(&self) -> Result<(), (Vec<Seg>, String, countersign_codes::Code)> {
        let key = |k: &'static str| vec![K("matching"), K(k)];
        let t = self.face_threshold;
        if !(-1.0..=1.0).contains(&t) || t.is_nan() {
            return Err((
                key("face_threshold"),
                format!("{t} is outside -1.0 to 1.0 (cosine similarity)"),
                super::INVALID_CODE,
            ));
        }
        if let Some(h) = &self.calibration_report_sha256 {
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((
                    key("calibration_report_sha256"),
                    format!("{h:?} is not a SHA-256 (64 hex digits) of a calibration report"),
                    super::INVALID_CODE,
                ));
            }
        }
        if t < FACE_THRESHOLD_FLOOR && self.calibration_report_sha256.is_none() {
            return Err((
                key("face_threshold"),
                format!(
                    "{t} is below {FACE_THRESHOLD_FLOOR}, the floor for the pinned face model \
                     (SFace, SHA-256 {FACE_FLOOR_MODEL_SHA256}): below it, held-out frontal \
                     photos let more than 1 impostor in 10,000 through (NIST SP 800-63B rev 4). \
                     A lower value needs this site's own evidence: run `countersign calibrate` \
                     and cite its report with `calibration_report_sha256`"
                ),
                BELOW_FLOOR_CODE,
            ));
        }
        if let Some(f) = self.finger_threshold {
            if f != LIBFPRINT_BZ3_THRESHOLD {
                return Err((
                    key("finger_threshold"),
                    format!(
                        "{f} would do nothing: libfprint decides a fingerprint match itself \
                         (BOZORTH3 score {LIBFPRINT_BZ3_THRESHOLD}) and reports no score; \
                         remove the key"
                    ),
                    super::INVALID_CODE,
                ));
            }
        }
        Ok(())
    }
}
