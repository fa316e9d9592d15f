//! Evaluation through the kiosk's own path (issue 16, item 3): each image
//! is detected, passed through the quality gates the kiosk applies to a
//! capture, and only then embedded and compared. An image the gates refuse
//! (or with no face) is a failure to acquire (FTA), not a comparison, as it
//! is at the kiosk: there it asks the operator to try again and never
//! counts a failed match.
//!
//! Every rate comes with its 95 % Clopper–Pearson interval ([`Rate`]), the
//! rule-of-three bound when no error was seen, and the scores' histogram
//! and DET points for `--json`. Images are processed on several threads,
//! one [`Matcher`] each.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use super::rates::Rate;
use super::{scan, threshold_for_fmr, Stats, TargetPoint};
use crate::{cosine, decode_file, Matcher, MatcherError};

/// What became of one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Acquired {
    /// A face passed (in kiosk mode) the quality gates and was embedded.
    Embedded(#[serde(skip)] Vec<f32>),
    /// No face found.
    NoFace,
    /// A face was found but the gates refused it (their reasons).
    QualityFailed(Vec<String>),
    /// Not an image this build decodes.
    Undecodable(String),
}

/// Decodes, detects, optionally gates, and embeds one image.
pub fn acquire(m: &Matcher, path: &Path, gates: bool) -> Result<Acquired, MatcherError> {
    let img = match decode_file(path) {
        Err(e) => return Ok(Acquired::Undecodable(e.to_string())),
        Ok(i) => i,
    };
    let mut a = m.analyze(&img)?;
    if a.primary.is_none() {
        return Ok(Acquired::NoFace);
    }
    if gates && !a.quality.passed {
        return Ok(Acquired::QualityFailed(a.quality.failures.clone()));
    }
    m.embed_analysis(&mut a)?;
    Ok(match a.embedding {
        Some(e) => Acquired::Embedded(e),
        None => Acquired::NoFace,
    })
}

/// [`acquire`] over `files`, shared out over `matchers` (one thread each).
/// The result is in the order of `files` whatever the threads did.
pub fn acquire_all(
    matchers: &[Matcher],
    files: &[PathBuf],
    gates: bool,
) -> Result<Vec<Acquired>, MatcherError> {
    assert!(!matchers.is_empty(), "at least one matcher");
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Acquired>>> = Mutex::new(vec![None; files.len()]);
    let first_err: Mutex<Option<MatcherError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for m in matchers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= files.len() {
                    break;
                }
                match acquire(m, &files[i], gates) {
                    Ok(a) => out.lock().expect("not poisoned")[i] = Some(a),
                    Err(e) => {
                        first_err.lock().expect("not poisoned").get_or_insert(e);
                        next.store(files.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().expect("not poisoned") {
        return Err(e);
    }
    Ok(out
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .map(|a| a.expect("every image was processed"))
        .collect())
}

/// Genuine and impostor scores of every pair of embedded images, computed
/// on `workers` threads (a row of the pair triangle each in turn).
pub fn pair_scores(embs: &[(usize, &[f32])], workers: usize) -> (Vec<f64>, Vec<f64>) {
    let next = AtomicUsize::new(0);
    let parts: Mutex<Vec<(Vec<f64>, Vec<f64>)>> = Mutex::new(vec![]);
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                let (mut g, mut i) = (vec![], vec![]);
                loop {
                    let a = next.fetch_add(1, Ordering::Relaxed);
                    if a >= embs.len() {
                        break;
                    }
                    for b in a + 1..embs.len() {
                        let sc = f64::from(cosine(embs[a].1, embs[b].1));
                        if embs[a].0 == embs[b].0 {
                            g.push(sc);
                        } else {
                            i.push(sc);
                        }
                    }
                }
                parts.lock().expect("not poisoned").push((g, i));
            });
        }
    });
    let (mut g, mut i) = (vec![], vec![]);
    for (pg, pi) in parts.into_inner().expect("not poisoned") {
        g.extend(pg);
        i.extend(pi);
    }
    // The order of pairs depends on the threads; sorted, it does not.
    g.sort_by(f64::total_cmp);
    i.sort_by(f64::total_cmp);
    (g, i)
}

/// One bin of the scores' histogram: scores in `[from, to)`.
#[derive(Debug, Clone, Serialize)]
pub struct HistBin {
    pub from: f64,
    pub to: f64,
    pub genuine: u64,
    pub impostor: u64,
}

/// One DET point: the rates at a threshold.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DetPoint {
    pub threshold: f64,
    pub fmr: f64,
    pub fnmr: f64,
}

/// Histogram of cosine scores over [-1, 1] in bins of 0.02.
pub fn histogram(genuine: &[f64], impostor: &[f64]) -> Vec<HistBin> {
    let bins = 100usize;
    let mut h: Vec<HistBin> = (0..bins)
        .map(|k| HistBin {
            from: -1.0 + k as f64 * 0.02,
            to: -1.0 + (k + 1) as f64 * 0.02,
            genuine: 0,
            impostor: 0,
        })
        .collect();
    let bin = |s: f64| (((s + 1.0) / 0.02).floor().max(0.0) as usize).min(bins - 1);
    for s in genuine {
        h[bin(*s)].genuine += 1;
    }
    for s in impostor {
        h[bin(*s)].impostor += 1;
    }
    h
}

/// Count of sorted `v` at or above `t`.
fn at_or_above(sorted: &[f64], t: f64) -> usize {
    sorted.len() - sorted.partition_point(|s| *s < t)
}

/// DET points every 0.005 over [-0.2, 1.0], from sorted scores.
pub fn det_points(genuine: &[f64], impostor: &[f64]) -> Vec<DetPoint> {
    (0..=240)
        .map(|k| {
            let t = -0.2 + k as f64 * 0.005;
            DetPoint {
                threshold: (t * 1000.0).round() / 1000.0,
                fmr: at_or_above(impostor, t) as f64 / impostor.len().max(1) as f64,
                fnmr: (genuine.len() - at_or_above(genuine, t)) as f64
                    / genuine.len().max(1) as f64,
            }
        })
        .collect()
}

/// One image of a kiosk-path evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct KioskImage {
    pub identity: String,
    pub path: String,
    #[serde(flatten)]
    pub acquired: Acquired,
}

/// Speed of the run (images through detection, gates and embedding).
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub images: usize,
    pub workers: usize,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// The whole kiosk-path report.
#[derive(Debug, Clone, Serialize)]
pub struct KioskReport {
    pub mode: &'static str,
    pub threshold: f64,
    pub identities: usize,
    /// Identities with at least one acquired image (the ones compared).
    pub identities_compared: usize,
    pub images: Vec<KioskImage>,
    /// Failures to acquire among decodable images (no face, or the gates).
    pub fta: Rate,
    /// Impostor pairs at or above the threshold.
    pub fmr: Rate,
    /// Genuine pairs below the threshold.
    pub fnmr: Rate,
    pub genuine: Stats,
    pub impostor: Stats,
    pub targets: Vec<TargetPoint>,
    pub histogram: Vec<HistBin>,
    pub det: Vec<DetPoint>,
    pub throughput: Throughput,
}

fn insufficient(msg: String) -> MatcherError {
    MatcherError::EvalData(msg)
}

/// Evaluates `dir/<identity>/<image>` through the kiosk's path at
/// `threshold`. Fewer than two identities with a usable image is an error:
/// no impostor pair, so no false-match rate.
pub fn evaluate_kiosk(
    matchers: &[Matcher],
    dir: &Path,
    threshold: f64,
    target_fmrs: &[f64],
) -> Result<KioskReport, MatcherError> {
    let files = scan(dir)?;
    if files.is_empty() {
        return Err(insufficient(format!(
            "{} holds no image in identity folders ({}/<person>/<photo>; {})",
            dir.display(),
            dir.display(),
            super::EXTS.join(", ")
        )));
    }
    let paths: Vec<PathBuf> = files.iter().map(|f| f.1.clone()).collect();
    let t = Instant::now();
    let acquired = acquire_all(matchers, &paths, true)?;
    let seconds = t.elapsed().as_secs_f64();
    let images: Vec<KioskImage> = files
        .iter()
        .zip(acquired)
        .map(|((id, p), a)| KioskImage {
            identity: id.clone(),
            path: p.display().to_string(),
            acquired: a,
        })
        .collect();
    let mut ids: Vec<&str> = images.iter().map(|i| i.identity.as_str()).collect();
    ids.dedup();
    let decodable = images
        .iter()
        .filter(|i| !matches!(i.acquired, Acquired::Undecodable(_)))
        .count();
    let failed = images
        .iter()
        .filter(|i| matches!(i.acquired, Acquired::NoFace | Acquired::QualityFailed(_)))
        .count();
    if decodable == 0 {
        return Err(insufficient(format!(
            "none of the {} files under {} could be decoded as an image",
            images.len(),
            dir.display()
        )));
    }
    let mut id_index: Vec<&str> = vec![];
    let embs: Vec<(usize, &[f32])> = images
        .iter()
        .filter_map(|i| match &i.acquired {
            Acquired::Embedded(e) => {
                let k = match id_index.iter().position(|x| *x == i.identity) {
                    Some(k) => k,
                    None => {
                        id_index.push(&i.identity);
                        id_index.len() - 1
                    }
                };
                Some((k, e.as_slice()))
            }
            _ => None,
        })
        .collect();
    if id_index.len() < 2 {
        return Err(insufficient(format!(
            "{} identities under {}, {} with an image that passed detection and the quality gates ({} of {} decodable images failed to acquire): at least 2 are needed for impostor pairs",
            ids.len(),
            dir.display(),
            id_index.len(),
            failed,
            decodable
        )));
    }
    let (genuine, impostor) = pair_scores(&embs, matchers.len());
    let fm = at_or_above(&impostor, threshold);
    let fnm = genuine.len() - at_or_above(&genuine, threshold);
    Ok(KioskReport {
        mode: "kiosk: detect, quality gates, match",
        threshold,
        identities: ids.len(),
        identities_compared: id_index.len(),
        fta: Rate::new(failed as u64, decodable as u64),
        fmr: Rate::new(fm as u64, impostor.len() as u64),
        fnmr: Rate::new(fnm as u64, genuine.len() as u64),
        genuine: super::stats(&genuine),
        impostor: super::stats(&impostor),
        targets: target_fmrs
            .iter()
            .map(|t| threshold_for_fmr(&genuine, &impostor, *t))
            .collect(),
        histogram: histogram(&genuine, &impostor),
        det: det_points(&genuine, &impostor),
        throughput: Throughput {
            images: images.len(),
            workers: matchers.len(),
            seconds,
            images_per_second: images.len() as f64 / seconds.max(1e-9),
        },
        images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_and_det_points_count_every_score() {
        let g = vec![0.5, 0.7, 0.99, 1.0];
        let i = vec![-1.0, -0.3, 0.1, 0.49];
        let h = histogram(&g, &i);
        assert_eq!(h.len(), 100);
        assert_eq!(h.iter().map(|b| b.genuine).sum::<u64>(), 4);
        assert_eq!(h.iter().map(|b| b.impostor).sum::<u64>(), 4);
        assert_eq!(h[0].impostor, 1, "-1.0 falls in the first bin");
        assert_eq!(h[99].genuine, 2, "0.99 and 1.0 fall in the last bin");
        let d = det_points(&g, &i);
        let at = |t: f64| d.iter().find(|p| (p.threshold - t).abs() < 1e-9).unwrap();
        assert_eq!(at(0.5).fmr, 0.0);
        assert_eq!(at(0.5).fnmr, 0.0);
        assert_eq!(at(0.45).fmr, 0.25);
        assert_eq!(at(0.6).fnmr, 0.25);
    }
}
