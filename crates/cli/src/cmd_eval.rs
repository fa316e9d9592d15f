//! `countersign eval`: the face matcher over a folder of identity folders,
//! either the recogniser alone or the kiosk's own path (`--kiosk`), and
//! libfprint over fingerprints (`--finger`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use countersign_matcher::eval::{KioskReport, Rate};
use countersign_matcher::{Matcher, MatcherConfig, MatcherError};

use crate::args::Cli;
use crate::util::print_json;
use crate::Coded;

/// `countersign eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A folder of identity folders: DIR/<person>/<photo> (JPEG, PNG,
    /// PGM/PPM/PBM/PNM/PAM, BMP, TIFF or WebP).
    pub dir: PathBuf,
    /// Write the DET curve here (SVG).
    #[arg(long, default_value = "det.svg")]
    pub det: PathBuf,
    /// Threshold to report FMR/FNMR at (default: the policy's face_threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    #[arg(long, env = "COUNTERSIGN_MODELS")]
    pub models: Option<PathBuf>,
    /// Run the kiosk's own path: detection, then the quality gates (an
    /// image they refuse is a failure to acquire, not a comparison), then
    /// matching; FTA, FMR and FNMR with 95 % Clopper–Pearson intervals.
    #[arg(long)]
    pub kiosk: bool,
    /// Threads, one matcher each (default: the machine's cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// DIR holds fingerprints (DIR/<finger>/<impression>.png): evaluate
    /// libfprint through its virtual_image reader instead.
    #[arg(long)]
    pub finger: bool,
    /// With --finger: also write the report as JSON here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
}

/// A matcher error with its code on the CLI's error line.
fn coded(e: MatcherError) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code: e.code(),
        message: e.to_string(),
    })
}

pub fn eval(cli: &Cli, a: &EvalArgs) -> anyhow::Result<()> {
    if a.finger {
        return crate::cmd_finger::eval(&a.dir, a.json_out.as_deref());
    }
    let threshold = match a.threshold {
        Some(t) => t,
        None => match crate::open(cli) {
            Ok(e) => e.policy().matching.face_threshold,
            Err(_) => {
                countersign_core::Policy::default_policy()
                    .matching
                    .face_threshold
            }
        },
    };
    let dir = a
        .models
        .clone()
        .unwrap_or_else(countersign_matcher::default_models_dir);
    let workers = a
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    // One matcher per worker, loaded side by side.
    let matchers = std::thread::scope(|s| {
        let loads: Vec<_> = (0..workers)
            .map(|_| s.spawn(|| Matcher::load(&dir, MatcherConfig::default())))
            .collect();
        loads
            .into_iter()
            .map(|h| h.join().expect("loading a matcher does not panic"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    if a.kiosk {
        let r =
            countersign_matcher::eval::evaluate_kiosk(&matchers, &a.dir, threshold, &[1e-3, 1e-4])
                .map_err(coded)
                .with_context(|| format!("evaluating {}", a.dir.display()))?;
        std::fs::write(&a.det, kiosk_det_svg(&r))
            .with_context(|| format!("writing {}", a.det.display()))?;
        if cli.json {
            return print_json(&r);
        }
        print_kiosk(&r);
        println!("DET curve written to {}", a.det.display());
        return Ok(());
    }
    let r = countersign_matcher::eval::evaluate_with(&matchers, &a.dir, threshold, &[1e-3, 1e-4])
        .map_err(coded)
        .with_context(|| format!("evaluating {}", a.dir.display()))?;
    std::fs::write(&a.det, countersign_matcher::eval::det_svg(&r))
        .with_context(|| format!("writing {}", a.det.display()))?;
    if cli.json {
        return print_json(&r);
    }
    let used = r.images.iter().filter(|i| i.skipped.is_none()).count();
    println!(
        "{} identities, {} images ({} used)",
        r.identities,
        r.images.len(),
        used
    );
    for i in r.images.iter().filter(|i| i.skipped.is_some()) {
        println!(
            "  skipped {}: {}",
            i.path,
            i.skipped.as_deref().unwrap_or("")
        );
    }
    let st = |n: &str, s: &countersign_matcher::eval::Stats| {
        println!(
            "{n}: {} pairs, cosine min {:.3} mean {:.3} max {:.3}",
            s.count, s.min, s.mean, s.max
        )
    };
    st("genuine ", &r.genuine);
    st("impostor", &r.impostor);
    println!(
        "at threshold {:.3}: FMR {:.5} FNMR {:.5}",
        r.at_policy.threshold, r.at_policy.fmr, r.at_policy.fnmr
    );
    print_targets(&r.targets);
    println!("DET curve written to {}", a.det.display());
    Ok(())
}

fn print_targets(targets: &[countersign_matcher::eval::TargetPoint]) {
    for t in targets {
        match (t.threshold, t.fnmr) {
            (Some(th), Some(fnmr)) => println!(
                "FMR {:e}: threshold {th:.4}, FNMR there {fnmr:.5} ({})",
                t.target_fmr, t.note
            ),
            _ => println!("FMR {:e}: no impostor pairs", t.target_fmr),
        }
    }
}

fn print_kiosk(r: &KioskReport) {
    use countersign_matcher::eval::Acquired;
    let count = |f: fn(&Acquired) -> bool| r.images.iter().filter(|i| f(&i.acquired)).count();
    println!(
        "kiosk path (detect, quality gates, match) at threshold {:.3}",
        r.threshold
    );
    println!(
        "{} identities ({} compared), {} images: {} acquired, {} no face, {} refused by the quality gates, {} undecodable",
        r.identities,
        r.identities_compared,
        r.images.len(),
        count(|a| matches!(a, Acquired::Embedded(_))),
        count(|a| matches!(a, Acquired::NoFace)),
        count(|a| matches!(a, Acquired::QualityFailed(_))),
        count(|a| matches!(a, Acquired::Undecodable(_))),
    );
    for i in &r.images {
        match &i.acquired {
            Acquired::Embedded(_) => {}
            Acquired::NoFace => println!("  FTA {}: no face found", i.path),
            Acquired::QualityFailed(why) => println!("  FTA {}: {}", i.path, why.join(", ")),
            Acquired::Undecodable(why) => println!("  skipped {}: {why}", i.path),
        }
    }
    let line = |n: &str, rate: &Rate| println!("{n} {}", rate.describe());
    line("FTA ", &r.fta);
    line("FMR ", &r.fmr);
    line("FNMR", &r.fnmr);
    println!(
        "genuine: {} pairs, cosine min {:.3} mean {:.3} max {:.3}; impostor: {} pairs, min {:.3} mean {:.3} max {:.3}",
        r.genuine.count, r.genuine.min, r.genuine.mean, r.genuine.max,
        r.impostor.count, r.impostor.min, r.impostor.mean, r.impostor.max
    );
    print_targets(&r.targets);
    println!(
        "throughput: {} images in {:.2} s, {:.1} images/s on {} workers",
        r.throughput.images,
        r.throughput.seconds,
        r.throughput.images_per_second,
        r.throughput.workers
    );
}

/// The DET SVG of a kiosk-path report (same drawing as the recogniser's).
fn kiosk_det_svg(r: &KioskReport) -> String {
    use countersign_matcher::eval::{det_svg, EvalReport, OperatingPoint};
    let op = |p: &countersign_matcher::eval::DetPoint| OperatingPoint {
        threshold: p.threshold,
        fmr: p.fmr,
        fnmr: p.fnmr,
    };
    det_svg(&EvalReport {
        identities: r.identities,
        images: vec![],
        genuine: r.genuine.clone(),
        impostor: r.impostor.clone(),
        at_policy: OperatingPoint {
            threshold: r.threshold,
            fmr: r.fmr.rate,
            fnmr: r.fnmr.rate,
        },
        targets: vec![],
        curve: r.det.iter().map(op).collect(),
        histogram: vec![],
        genuine_scores: vec![],
        impostor_scores: vec![],
    })
}
