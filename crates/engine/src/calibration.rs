//! Per-site calibration of the face threshold (issue 16, item 4).
//!
//! A policy may set `matching.face_threshold` below the floor of the pinned
//! model only by citing a calibration report by its SHA-256
//! (`matching.calibration_report_sha256`). The cited report must be one this
//! kiosk recorded in its ledger (`calibration.report`): a hash typed into a
//! policy proves nothing by itself.

use countersign_core::{Policy, PolicyError};
use countersign_ledger::{Filter, Ledger};

use crate::EngineError;

/// Ledger kind of a recorded calibration report.
pub const CALIBRATION_REPORT_KIND: &str = "calibration.report";
/// Stable code: the policy cites a report this kiosk never recorded.
pub const REPORT_UNKNOWN_CODE: &str = "policy.calibration_report_unknown";

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
        None => false,
        Some(l) => l
            .all(&Filter {
                kinds: vec![CALIBRATION_REPORT_KIND.into()],
                ..Filter::default()
            })?
            .iter()
            .any(|r| r.body.get("sha256").and_then(|v| v.as_str()) == Some(h.as_str())),
    };
    if found {
        return Ok(());
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
