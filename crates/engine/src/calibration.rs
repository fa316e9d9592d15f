//! Per-site calibration of the face threshold (issue 16, item 4).
//!
//! A policy may set `matching.face_threshold` below the floor of the pinned
//! model only by citing a calibration report by its SHA-256
//! (`matching.calibration_report_sha256`). The cited report must be one this
//! kiosk recorded in its ledger (`calibration.report`): a hash typed into a
//! policy proves nothing by itself.

use crate::Code;
use countersign_core::policy::FACE_THRESHOLD_FLOOR;
use countersign_core::{Policy, PolicyError};
use countersign_ledger::{Filter, Ledger};
use countersign_matcher::cosine;
use countersign_matcher::eval::{
    clopper_pearson, kiosk::histogram, threshold_for_fmr, HistBin, Rate,
};
use countersign_matcher::model::KNOWN_MODELS;
use countersign_matcher::ModelRole;
use ed25519_dalek::Signer;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::evidence::Ev;
use crate::{Engine, EngineError};

/// Ledger kind of a recorded calibration report.
pub const CALIBRATION_REPORT_KIND: &str = "calibration.report";
/// Stable code: the policy cites a report this kiosk never recorded.
pub const REPORT_UNKNOWN_CODE: Code = Code::PolicyCalibrationReportUnknown;

/// Refuses a policy whose cited calibration report is not in `ledger`
/// (`None`: a data dir being created, which has none yet).
pub(crate) fn require_cited_report(
    ledger: Option<&Ledger>,
    policy: &Policy,
) -> Result<(), EngineError> {
    let Some(h) = policy.matching.calibration_report_sha256.as_deref() else {
        return Ok(());
    };
    let h = h.to_ascii_lowercase();
    let found = match ledger {
        None => None,
        Some(l) => l
            .all(&Filter {
                kinds: vec![CALIBRATION_REPORT_KIND.into()],
                ..Filter::default()
            })?
            .into_iter()
            .find(|r| r.body.get("sha256").and_then(|v| v.as_str()) == Some(h.as_str())),
    };
    if let Some(row) = found {
        return check_citation(&row.body, policy);
    }
    Err(EngineError::Policy(PolicyError {
        code: REPORT_UNKNOWN_CODE,
        key: Some("matching.calibration_report_sha256".into()),
        line: None,
        message: format!(
            "no calibration report with SHA-256 {h} was recorded on this kiosk: run \
             `countersign calibrate` here and cite the hash it prints"
        ),
    }))
}

/// Format tag of a calibration report.
pub const REPORT_FORMAT: &str = "countersign.calibration-report.v1";
/// Stable code: the cited report does not support its target FMR.
pub const UNSUPPORTED_CODE: Code = Code::PolicyCalibrationUnsupported;
/// Stable code: the policy's threshold is below the one the report found.
pub const BELOW_REPORT_CODE: Code = Code::PolicyFaceThresholdBelowCalibration;
/// The FMR a cited report must have been made for: NIST SP 800-63B rev 4.
pub const NIST_FMR: f64 = 1e-4;

/// What `countersign calibrate` measured on this kiosk's own enrollments.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationReport {
    pub format: String,
    pub kiosk_id: String,
    pub created_ms: i64,
    pub target_fmr: f64,
    /// People with a face template made by the pinned recogniser.
    pub people: usize,
    pub captures: usize,
    /// Pairs of one person's witnessed captures.
    pub genuine_pairs: u64,
    /// Pairs of two people's captures.
    pub impostor_pairs: u64,
    pub genuine: ScoreSummary,
    pub impostor: ScoreSummary,
    /// Cosine histogram over [-1, 1] in bins of 0.02.
    pub histogram: Vec<HistBin>,
    /// Lowest threshold whose measured FMR is at most the target.
    pub threshold: Option<f64>,
    /// FMR and FNMR there, with their 95 % Clopper–Pearson intervals.
    pub fmr_at_threshold: Option<Rate>,
    pub fnmr_at_threshold: Option<Rate>,
    /// True when the upper end of the FMR's interval is within the target.
    pub supported: bool,
    /// Impostor pairs that would support the target with no false match
    /// seen (the Clopper–Pearson bound, slightly above the rule of three).
    pub impostor_pairs_needed: u64,
    /// The policy line to apply when supported.
    pub proposed_policy: Option<String>,
    /// The models the embeddings come from (file, SHA-256, role).
    pub models: Vec<(String, String, String)>,
    pub note: String,
}

/// Count, lowest, mean and highest of a set of scores.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreSummary {
    pub count: u64,
    pub min: Option<f64>,
    pub mean: Option<f64>,
    pub max: Option<f64>,
}

fn summary(v: &[f64]) -> ScoreSummary {
    ScoreSummary {
        count: v.len() as u64,
        min: v.iter().cloned().reduce(f64::min),
        mean: (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64),
        max: v.iter().cloned().reduce(f64::max),
    }
}

/// Impostor pairs needed to show `target` with zero false matches at 95 %
/// (two-sided Clopper–Pearson upper end: 1 - 0.025^(1/n) <= target).
pub fn impostor_pairs_needed(target: f64) -> u64 {
    (0.025f64.ln() / (1.0 - target).ln()).ceil() as u64
}

/// A report, its SHA-256 and the kiosk's Ed25519 signature over the
/// report's bytes (the JSON `report_json`, exactly as hashed).
#[derive(Debug, Clone, Serialize)]
pub struct SignedCalibration {
    pub report: CalibrationReport,
    pub report_json: String,
    pub sha256: String,
    pub signature_ed25519: String,
    pub public_key: String,
}

/// The report from templates (person, embeddings). Pure: the engine
/// gathers the templates and records the result.
pub fn calibrate_from(
    templates: &[(String, Vec<Vec<f32>>)],
    target_fmr: f64,
    kiosk_id: &str,
    created_ms: i64,
) -> CalibrationReport {
    let (mut genuine, mut impostor) = (vec![], vec![]);
    for (i, (_, a)) in templates.iter().enumerate() {
        for x in 0..a.len() {
            for y in x + 1..a.len() {
                genuine.push(f64::from(cosine(&a[x], &a[y])));
            }
        }
        for (_, b) in &templates[i + 1..] {
            for ea in a {
                for eb in b {
                    impostor.push(f64::from(cosine(ea, eb)));
                }
            }
        }
    }
    genuine.sort_by(f64::total_cmp);
    impostor.sort_by(f64::total_cmp);
    // The lowest threshold whose FMR's 95 % upper bound is within the
    // target: allow k false matches for the largest k whose Clopper–Pearson
    // upper end stays at or below the target, and put the threshold just
    // above the (k+1)-th highest impostor score. Without enough pairs for
    // even k = 0, the empirical threshold (measured FMR at most the target)
    // is reported, marked unsupported.
    let n = impostor.len() as u64;
    // The upper end grows with k: binary search for the largest k that fits.
    let fits = |k: u64| clopper_pearson(k, n, 0.05).1 <= target_fmr;
    let allowed = if n == 0 || !fits(0) {
        None
    } else {
        let (mut lo, mut hi) = (0u64, n - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    };
    let above = |x: f64| ((x * 10_000.0).floor() + 1.0) / 10_000.0;
    let desc = |k: u64| impostor[impostor.len() - 1 - k as usize];
    let threshold = match allowed {
        Some(k) if k < n => Some(above(desc(k))),
        _ => threshold_for_fmr(&genuine, &impostor, target_fmr).threshold,
    };
    let at = |t: f64| {
        let fm = impostor.iter().filter(|s| **s >= t).count() as u64;
        let fnm = genuine.iter().filter(|s| **s < t).count() as u64;
        (
            Rate::new(fm, impostor.len() as u64),
            Rate::new(fnm, genuine.len() as u64),
        )
    };
    let (fmr, fnmr) = match threshold {
        Some(t) => {
            let (a, b) = at(t);
            (Some(a), Some(b))
        }
        None => (None, None),
    };
    let supported = allowed.is_some()
        && fmr
            .as_ref()
            .is_some_and(|r| r.ci95_high.is_finite() && r.ci95_high <= target_fmr);
    let needed = impostor_pairs_needed(target_fmr);
    let note = if supported {
        format!(
            "{} impostor pairs support FMR {target_fmr:e} at threshold {:.4} (95 % upper bound {:.3e})",
            impostor.len(),
            threshold.unwrap_or(f64::NAN),
            fmr.as_ref().map_or(f64::NAN, |r| r.ci95_high)
        )
    } else {
        format!(
            "not supported: {} impostor pairs from {} people; at least {needed} are needed to show FMR {target_fmr:e} with no false match seen (more to estimate a threshold). Enroll more people (impostor pairs grow with the square of the people), then calibrate again",
            impostor.len(),
            templates.len()
        )
    };
    CalibrationReport {
        format: REPORT_FORMAT.into(),
        kiosk_id: kiosk_id.into(),
        created_ms,
        target_fmr,
        people: templates.len(),
        captures: templates.iter().map(|t| t.1.len()).sum(),
        genuine_pairs: genuine.len() as u64,
        impostor_pairs: impostor.len() as u64,
        genuine: summary(&genuine),
        impostor: summary(&impostor),
        histogram: histogram(&genuine, &impostor),
        threshold,
        fmr_at_threshold: fmr,
        fnmr_at_threshold: fnmr,
        supported,
        impostor_pairs_needed: needed,
        proposed_policy: supported.then(|| {
            format!(
                "face_threshold = {:.4}",
                threshold.unwrap_or(FACE_THRESHOLD_FLOOR)
            )
        }),
        models: KNOWN_MODELS
            .iter()
            .map(|m| {
                (
                    m.file.to_string(),
                    m.sha256.to_string(),
                    format!("{:?}", m.role),
                )
            })
            .collect(),
        note,
    }
}

/// Whether a recorded report (its `calibration.report` event body) lets
/// `policy` go below the floor: made for NIST's FMR or stricter, supported
/// by its data, and the policy's threshold not below the report's.
pub fn check_citation(body: &serde_json::Value, policy: &Policy) -> Result<(), EngineError> {
    let refuse = |code: Code, message: String| {
        Err(EngineError::Policy(PolicyError {
            code,
            key: Some("matching.calibration_report_sha256".into()),
            line: None,
            message,
        }))
    };
    let target = body["target_fmr"].as_f64().unwrap_or(1.0);
    let supported = body["supported"].as_bool().unwrap_or(false);
    if !supported || target > NIST_FMR {
        return refuse(
            UNSUPPORTED_CODE,
            format!(
                "the cited calibration report does not support FMR {NIST_FMR:e}: made for FMR {target:e}, {} ({} impostor pairs, {} needed)",
                if supported { "supported" } else { "not supported by its data" },
                body["impostor_pairs"],
                body["impostor_pairs_needed"]
            ),
        );
    }
    let t = body["threshold"].as_f64().unwrap_or(f64::INFINITY);
    if policy.matching.face_threshold < t {
        return Err(EngineError::Policy(PolicyError {
            code: BELOW_REPORT_CODE,
            key: Some("matching.face_threshold".into()),
            line: None,
            message: format!(
                "{} is below {t}, the threshold the cited calibration report found for FMR {target:e}",
                policy.matching.face_threshold
            ),
        }));
    }
    Ok(())
}

impl Engine {
    /// `countersign calibrate`: the report from every face template on this
    /// kiosk, signed with the kiosk's key and recorded in the ledger
    /// (`calibration.report`, with the admin who asked). An admin's act.
    pub fn calibrate(
        &mut self,
        pass: &crate::AdminPass,
        target_fmr: f64,
    ) -> Result<SignedCalibration, EngineError> {
        if !(target_fmr > 0.0 && target_fmr < 1.0) {
            return Err(EngineError::Invalid(format!(
                "the target FMR must be between 0 and 1, got {target_fmr}"
            )));
        }
        let by = self.admin_act(pass)?;
        let recogniser = KNOWN_MODELS
            .iter()
            .find(|m| m.role == ModelRole::Recognizer)
            .map(|m| m.sha256)
            .unwrap_or_default();
        let mut templates = vec![];
        for p in self.list_people()? {
            if let Some((t, _)) = self.face_template(&p.id)? {
                if t.recognizer_sha256 == recogniser {
                    templates.push((p.id.clone(), t.embeddings));
                }
            }
        }
        let now = self.now();
        let report = calibrate_from(&templates, target_fmr, self.kiosk_id(), now);
        let report_json = serde_json::to_string(&report).expect("serialisable");
        let sha256 = hex::encode(Sha256::digest(report_json.as_bytes()));
        let key = self.ledger.keys().signing_key();
        let signature = hex::encode(key.sign(report_json.as_bytes()).to_bytes());
        let public_key = hex::encode(key.verifying_key().to_bytes());
        self.ledger.append(
            &Ev::new(
                CALIBRATION_REPORT_KIND,
                now,
                json!({
                    "sha256": sha256, "by": by, "target_fmr": target_fmr,
                    "supported": report.supported, "threshold": report.threshold,
                    "impostor_pairs": report.impostor_pairs,
                    "impostor_pairs_needed": report.impostor_pairs_needed,
                    "genuine_pairs": report.genuine_pairs, "people": report.people,
                    "signature_ed25519": signature, "report": report_json,
                }),
            )
            .build(),
        )?;
        Ok(SignedCalibration {
            report,
            report_json,
            sha256,
            signature_ed25519: signature,
            public_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic unit vectors: people as random directions, captures as
    /// small perturbations of them (SplitMix64 + Box–Muller).
    fn people(n: usize, captures: usize, seed: u64) -> Vec<(String, Vec<Vec<f32>>)> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut gauss = move || {
            let (u, v) = (next().max(1e-12), next());
            ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        };
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        (0..n)
            .map(|p| {
                let base: Vec<f32> = (0..128).map(|_| gauss()).collect();
                let caps = (0..captures)
                    .map(|_| unit(base.iter().map(|b| b + 0.6 * gauss()).collect()))
                    .collect();
                (format!("p{p}"), caps)
            })
            .collect()
    }

    #[test]
    fn too_few_people_is_unsupported_and_says_how_many_pairs_are_needed() {
        let r = calibrate_from(&people(3, 2, 1), NIST_FMR, "k", 0);
        assert_eq!((r.genuine_pairs, r.impostor_pairs), (3, 12));
        assert!(!r.supported);
        assert_eq!(r.proposed_policy, None);
        assert_eq!(r.impostor_pairs_needed, impostor_pairs_needed(1e-4));
        // 1 - 0.025^(1/n) <= 1e-4 first holds at n = 36,887.
        assert_eq!(impostor_pairs_needed(1e-4), 36_887);
        assert!(r.note.contains("36887"), "{}", r.note);
    }

    #[test]
    fn enough_people_give_a_threshold_whose_upper_bound_meets_the_target() {
        // 200 people x 2 captures: 79,600 impostor pairs.
        let r = calibrate_from(&people(200, 2, 7), NIST_FMR, "k", 0);
        assert_eq!(r.impostor_pairs, 4 * 200 * 199 / 2);
        assert!(r.supported, "{}", r.note);
        let fmr = r.fmr_at_threshold.unwrap();
        assert!(fmr.ci95_high <= NIST_FMR, "{fmr:?}");
        // One false match more and the bound would not hold any more: the
        // threshold is the lowest the data support, not an arbitrary one.
        let (_, hi) = clopper_pearson(fmr.errors + 2, fmr.trials, 0.05);
        assert!(hi > NIST_FMR);
        let t = r.threshold.unwrap();
        assert_eq!(
            r.proposed_policy.as_deref(),
            Some(format!("face_threshold = {t:.4}").as_str())
        );
    }

    #[test]
    fn a_policy_may_cite_only_a_supported_nist_report_and_not_go_below_it() {
        let r = calibrate_from(&people(200, 2, 7), NIST_FMR, "k", 0);
        let t = r.threshold.unwrap();
        let body = serde_json::to_value(&r).unwrap();
        let policy = |ft: f64| {
            let mut p = Policy::default_policy();
            p.matching.face_threshold = ft;
            p.matching.calibration_report_sha256 = Some("ab".repeat(32));
            p
        };
        check_citation(&body, &policy(t)).unwrap();
        let e = check_citation(&body, &policy(t - 0.01)).unwrap_err();
        assert_eq!(e.code(), BELOW_REPORT_CODE);
        let mut lax = body.clone();
        lax["target_fmr"] = serde_json::json!(1e-3);
        assert_eq!(
            check_citation(&lax, &policy(t)).unwrap_err().code(),
            UNSUPPORTED_CODE
        );
        let few = serde_json::to_value(calibrate_from(&people(3, 2, 1), NIST_FMR, "k", 0)).unwrap();
        assert_eq!(
            check_citation(&few, &policy(0.9)).unwrap_err().code(),
            UNSUPPORTED_CODE
        );
    }
}
