//! `countersign calibrate`: this kiosk's own face threshold, from its
//! witnessed enrollment captures (genuine pairs) and cross-person pairs
//! (impostors). Writes the signed report and proposes the policy line; the
//! report is recorded in the ledger, and a policy below the model's floor
//! may cite it by its SHA-256.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::args::{AdminArgs, Cli};
use crate::cmd_people::admin_pass;
use crate::util::print_json;

/// `countersign calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The false-match rate to find the threshold for (NIST SP 800-63B rev
    /// 4 asks 1e-4 or better; a policy may only cite a report made for it).
    #[arg(long, default_value_t = countersign_engine::calibration::NIST_FMR)]
    pub target_fmr: f64,
    /// Write the signed report here.
    #[arg(long, default_value = "calibration-report.json")]
    pub out: PathBuf,
    #[command(flatten)]
    pub admin: AdminArgs,
}

pub fn run(cli: &Cli, a: &CalibrateArgs) -> anyhow::Result<()> {
    let mut e = crate::open(cli)?;
    let pass = admin_pass(&mut e, &a.admin, "calibrate")?;
    let s = e.calibrate(&pass, a.target_fmr)?;
    let file = serde_json::json!({
        "report": s.report_json,
        "sha256": s.sha256,
        "signature_ed25519": s.signature_ed25519,
        "public_key_ed25519": s.public_key,
        "signed": "the Ed25519 signature and the SHA-256 are over the bytes of `report`, a JSON string",
    });
    std::fs::write(&a.out, serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("writing {}", a.out.display()))?;
    if cli.json {
        return print_json(&file);
    }
    let r = &s.report;
    println!(
        "{} people with a face template, {} captures: {} genuine pairs, {} impostor pairs",
        r.people, r.captures, r.genuine_pairs, r.impostor_pairs
    );
    if let (Some(t), Some(fmr)) = (r.threshold, &r.fmr_at_threshold) {
        println!(
            "{} for FMR {:e}: {t:.4} (FMR there {})",
            if r.supported {
                "threshold"
            } else {
                "empirical threshold, not supported by the data,"
            },
            r.target_fmr,
            fmr.describe()
        );
    }
    println!("{}", r.note);
    println!(
        "report {} written to {} (signed by this kiosk, recorded in its ledger)",
        s.sha256,
        a.out.display()
    );
    match &r.proposed_policy {
        Some(line) => println!(
            "proposed policy ([matching]):\n  {line}\n  calibration_report_sha256 = \"{}\"",
            s.sha256
        ),
        None => println!(
            "no policy line proposed: needs {} impostor pairs, has {}",
            r.impostor_pairs_needed, r.impostor_pairs
        ),
    }
    Ok(())
}
