//! Evaluation over a folder of identity folders (`DIR/<person>/<photo>`):
//! genuine and impostor score distributions, FMR / FNMR at a threshold,
//! the thresholds for a target FMR, and a DET curve as SVG.
//!
//! Two modes: [`evaluate`] measures the recogniser (every image with a face
//! is compared, no quality gates), [`kiosk::evaluate_kiosk`] mirrors the
//! kiosk's decision (gates first; a refused image is a failure to acquire).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Matcher, MatcherError};

pub mod kiosk;
pub mod rates;

pub use kiosk::{evaluate_kiosk, Acquired, DetPoint, HistBin, KioskReport};
pub use rates::{clopper_pearson, Rate};

/// Extensions scanned in identity folders: every format this build's
/// `image` decodes (JPEG, PNG, the PNM family, BMP, TIFF, WebP).
pub const EXTS: &[&str] = &[
    "jpg", "jpeg", "png", "pgm", "ppm", "pbm", "pnm", "pam", "bmp", "tif", "tiff", "webp",
];

/// One image of the set.
#[derive(Debug, Clone, Serialize)]
pub struct EvalImage {
    pub identity: String,
    pub path: String,
    /// Why it was left out (no face found, undecodable); `None` when used.
    pub skipped: Option<String>,
}

/// Operating point at a threshold.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OperatingPoint {
    pub threshold: f64,
    pub fmr: f64,
    pub fnmr: f64,
}

/// The threshold reaching a target FMR, if the impostor count can show it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetPoint {
    pub target_fmr: f64,
    /// Lowest threshold whose measured FMR is at most the target.
    pub threshold: Option<f64>,
    pub fnmr: Option<f64>,
    /// False when there are fewer than 3/target impostor pairs ("rule of
    /// 3": zero false matches in n trials bounds the FMR at 3/n with 95 %
    /// confidence), so the threshold is not supported by the data.
    pub supported: bool,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub count: usize,
    pub min: f64,
    pub mean: f64,
    pub max: f64,
}

pub(crate) fn stats(v: &[f64]) -> Stats {
    if v.is_empty() {
        return Stats {
            count: 0,
            min: f64::NAN,
            mean: f64::NAN,
            max: f64::NAN,
        };
    }
    Stats {
        count: v.len(),
        min: v.iter().cloned().fold(f64::INFINITY, f64::min),
        mean: v.iter().sum::<f64>() / v.len() as f64,
        max: v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub identities: usize,
    pub images: Vec<EvalImage>,
    pub genuine: Stats,
    pub impostor: Stats,
    pub at_policy: OperatingPoint,
    pub targets: Vec<TargetPoint>,
    /// (threshold, fmr, fnmr) over the score range, for the DET curve.
    pub curve: Vec<OperatingPoint>,
    /// Scores' histogram over [-1, 1] in bins of 0.02.
    pub histogram: Vec<HistBin>,
    #[serde(skip)]
    pub genuine_scores: Vec<f64>,
    #[serde(skip)]
    pub impostor_scores: Vec<f64>,
}

/// FMR (impostors at or above) and FNMR (genuines below) at `t`.
pub fn operating_point(genuine: &[f64], impostor: &[f64], t: f64) -> OperatingPoint {
    let fm = impostor.iter().filter(|s| **s >= t).count();
    let fnm = genuine.iter().filter(|s| **s < t).count();
    OperatingPoint {
        threshold: t,
        fmr: if impostor.is_empty() {
            f64::NAN
        } else {
            fm as f64 / impostor.len() as f64
        },
        fnmr: if genuine.is_empty() {
            f64::NAN
        } else {
            fnm as f64 / genuine.len() as f64
        },
    }
}

/// The lowest threshold with FMR at most `target`.
pub fn threshold_for_fmr(genuine: &[f64], impostor: &[f64], target: f64) -> TargetPoint {
    let n = impostor.len();
    let supported = (n as f64) >= 3.0 / target;
    let mut imp = impostor.to_vec();
    imp.sort_by(|a, b| b.total_cmp(a));
    // allowed false matches
    let allowed = (target * n as f64).floor() as usize;
    let threshold = if n == 0 {
        None
    } else if allowed >= n {
        Some(imp[n - 1])
    } else {
        // strictly above the (allowed+1)-th highest impostor score
        Some(next_up(imp[allowed]))
    };
    let fnmr = threshold.map(|t| operating_point(genuine, impostor, t).fnmr);
    let note = if supported {
        format!("{n} impostor pairs")
    } else {
        format!(
            "not supported by the data: {n} impostor pairs, at least {:.0} needed to show FMR {target:e}; the threshold only separates the impostors seen",
            (3.0 / target).ceil()
        )
    };
    TargetPoint {
        target_fmr: target,
        threshold,
        fnmr,
        supported,
        note,
    }
}

fn next_up(x: f64) -> f64 {
    // the smallest representable step above x, in the 4th decimal for readability
    ((x * 10_000.0).floor() + 1.0) / 10_000.0
}

/// Lists `dir/<identity>/<image>`.
pub fn scan(dir: &Path) -> Result<Vec<(String, PathBuf)>, MatcherError> {
    let bad = |e: std::io::Error| MatcherError::Decode {
        path: dir.display().to_string(),
        detail: e.to_string(),
    };
    let mut out = vec![];
    let mut ids: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(bad)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    ids.sort();
    for id in ids {
        let name = id
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&id)
            .map_err(bad)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (name.clone(), f)));
    }
    Ok(out)
}

/// Embeds every image (no quality gates: evaluation measures the
/// recogniser; images without a face are listed) and scores all pairs.
pub fn evaluate(
    matcher: &Matcher,
    dir: &Path,
    policy_threshold: f64,
    target_fmrs: &[f64],
) -> Result<EvalReport, MatcherError> {
    evaluate_with(
        std::slice::from_ref(matcher),
        dir,
        policy_threshold,
        target_fmrs,
    )
}

/// [`evaluate`] on one thread per matcher.
pub fn evaluate_with(
    matchers: &[Matcher],
    dir: &Path,
    policy_threshold: f64,
    target_fmrs: &[f64],
) -> Result<EvalReport, MatcherError> {
    let files = scan(dir)?;
    if files.is_empty() {
        return Err(MatcherError::EvalData(format!(
            "{} holds no image in identity folders ({}/<person>/<photo>; {})",
            dir.display(),
            dir.display(),
            EXTS.join(", ")
        )));
    }
    let paths: Vec<PathBuf> = files.iter().map(|f| f.1.clone()).collect();
    let acquired = kiosk::acquire_all(matchers, &paths, false)?;
    let mut images = vec![];
    let mut ids: Vec<String> = vec![];
    let mut embs: Vec<(usize, &[f32])> = vec![];
    for ((id, path), a) in files.iter().zip(&acquired) {
        let skipped = match a {
            Acquired::Embedded(e) => {
                let k = ids.iter().position(|x| x == id).unwrap_or_else(|| {
                    ids.push(id.clone());
                    ids.len() - 1
                });
                embs.push((k, e.as_slice()));
                None
            }
            Acquired::NoFace | Acquired::QualityFailed(_) => Some("no face found".into()),
            Acquired::Undecodable(e) => Some(e.clone()),
        };
        images.push(EvalImage {
            identity: id.clone(),
            path: path.display().to_string(),
            skipped,
        });
    }
    let mut identities: Vec<&String> = images.iter().map(|i| &i.identity).collect();
    identities.dedup();
    if acquired
        .iter()
        .all(|a| matches!(a, Acquired::Undecodable(_)))
    {
        return Err(MatcherError::EvalData(format!(
            "none of the {} files under {} could be decoded as an image",
            images.len(),
            dir.display()
        )));
    }
    if ids.len() < 2 {
        return Err(MatcherError::EvalData(format!(
            "{} identities under {}, {} with a usable image ({} of {} images skipped): at least 2 are needed for impostor pairs",
            identities.len(),
            dir.display(),
            ids.len(),
            images.iter().filter(|i| i.skipped.is_some()).count(),
            images.len()
        )));
    }
    let (genuine, impostor) = kiosk::pair_scores(&embs, matchers.len());
    let curve = kiosk::det_points(&genuine, &impostor)
        .into_iter()
        .filter(|p| {
            p.threshold >= -0.2
                && ((p.threshold * 100.0).round() - p.threshold * 100.0).abs() < 1e-6
        })
        .map(|p| OperatingPoint {
            threshold: p.threshold,
            fmr: p.fmr,
            fnmr: p.fnmr,
        })
        .collect();
    Ok(EvalReport {
        identities: identities.len(),
        genuine: stats(&genuine),
        impostor: stats(&impostor),
        at_policy: operating_point(&genuine, &impostor, policy_threshold),
        targets: target_fmrs
            .iter()
            .map(|t| threshold_for_fmr(&genuine, &impostor, *t))
            .collect(),
        curve,
        histogram: kiosk::histogram(&genuine, &impostor),
        images,
        genuine_scores: genuine,
        impostor_scores: impostor,
    })
}

/// DET curve (FNMR against FMR, both on log axes from 1e-4 to 1) as SVG,
/// with the policy threshold's point marked.
pub fn det_svg(r: &EvalReport) -> String {
    let (w, h, m) = (480.0, 400.0, 50.0);
    let lo = 1e-4f64;
    let ax = |v: f64| v.max(lo).min(1.0).log10(); // -4..0
    let px = |fmr: f64| m + (ax(fmr) + 4.0) / 4.0 * (w - 2.0 * m);
    let py = |fnmr: f64| h - m - (ax(fnmr) + 4.0) / 4.0 * (h - 2.0 * m);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="20" text-anchor="middle" font-size="13">DET: {} genuine, {} impostor pairs ({} identities)</text>
"##,
        w / 2.0,
        r.genuine.count,
        r.impostor.count,
        r.identities
    );
    for k in 0..=4 {
        let v = 10f64.powi(-k);
        let (x, y) = (px(v), py(v));
        s += &format!(
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{v:e}</text>
<line x1="{m}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:e}</text>
"##,
            m,
            h - m,
            h - m + 14.0,
            w - m,
            m - 4.0,
            y + 4.0
        );
    }
    s += &format!(
        r##"<text x="{}" y="{}" text-anchor="middle">FMR (false match rate)</text>
<text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">FNMR (false non-match rate)</text>
"##,
        w / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0
    );
    let pts: Vec<String> = r
        .curve
        .iter()
        .filter(|p| p.fmr.is_finite() && p.fnmr.is_finite())
        .map(|p| format!("{:.1},{:.1}", px(p.fmr), py(p.fnmr)))
        .collect();
    s += &format!(
        r##"<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="{}"/>
"##,
        pts.join(" ")
    );
    let p = r.at_policy;
    if p.fmr.is_finite() && p.fnmr.is_finite() {
        s += &format!(
            r##"<circle cx="{:.1}" cy="{:.1}" r="5" fill="#c0392b"/><text x="{:.1}" y="{:.1}">policy threshold {:.3}: FMR {:.4}, FNMR {:.4}</text>
"##,
            px(p.fmr),
            py(p.fnmr),
            px(p.fmr) + 8.0,
            py(p.fnmr) - 8.0,
            p.threshold,
            p.fmr,
            p.fnmr
        );
    }
    s += &format!(
        "<text x=\"{m}\" y=\"{}\" fill=\"#666\">rates at 0 are drawn at 1e-4</text>\n</svg>\n",
        h - 28.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_at_a_threshold() {
        let g = [0.5, 0.6, 0.2];
        let i = [0.1, 0.4, -0.1, 0.0];
        let p = operating_point(&g, &i, 0.363);
        assert!((p.fmr - 0.25).abs() < 1e-9);
        assert!((p.fnmr - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn threshold_for_a_target_fmr_is_flagged_when_unsupported() {
        let imp: Vec<f64> = (0..10).map(|k| k as f64 / 100.0).collect();
        let t = threshold_for_fmr(&[0.5], &imp, 1e-3);
        assert!(!t.supported);
        assert_eq!(t.threshold, Some(0.0901));
        assert_eq!(t.fnmr, Some(0.0));
        // 10000 impostors at 0.00..: FMR 1e-3 allows 10 false matches
        let imp: Vec<f64> = (0..10_000).map(|k| k as f64 / 10_000.0).collect();
        let t = threshold_for_fmr(&[], &imp, 1e-3);
        assert!(t.supported);
        let fmr = operating_point(&[], &imp, t.threshold.unwrap()).fmr;
        assert!(fmr <= 1e-3, "{fmr}");
    }

    #[test]
    fn det_svg_is_an_svg_with_the_policy_point() {
        let g = vec![0.5, 0.7];
        let i = vec![0.1, 0.2];
        let r = EvalReport {
            identities: 2,
            images: vec![],
            genuine: stats(&g),
            impostor: stats(&i),
            at_policy: operating_point(&g, &i, 0.363),
            targets: vec![],
            curve: (-20..=100)
                .map(|k| operating_point(&g, &i, k as f64 / 100.0))
                .collect(),
            histogram: vec![],
            genuine_scores: g,
            impostor_scores: i,
        };
        let s = det_svg(&r);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains("policy threshold 0.363"));
    }
}
