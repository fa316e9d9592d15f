//! Fingerprint evaluation through libfprint's `virtual_image` driver.
//!
//! Input: `DIR/<finger>/<impression image>` (any folder layout of that
//! shape, e.g. what [`crate::synth::write_set`] writes). Each finger is
//! enrolled from its first impressions (as many distinct ones as the
//! driver's enroll stages, leaving at least one), its other impressions are
//! genuine probes, and **every** impression of every other finger is an
//! impostor probe against it (all-vs-all: with 10 fingers of 8 impressions,
//! 720 impostor comparisons instead of the 90 the last impression alone
//! gave). libfprint gives only match / no-match at the driver's fixed
//! bozorth3 threshold, so the report has FMR and FNMR at that one operating
//! point, no score distribution, no DET curve.
//!
//! Enrollment always takes the driver's number of presses (its enroll
//! stages); how many of them are *distinct* placements is what a kiosk
//! controls. The report gives the FNMR for each count of distinct
//! impressions, from 1 (the same impression pressed every stage) to the
//! full set, on the same genuine probes.
//!
//! The reader is reopened for every enrolled finger: libfprint simulates
//! overheating after minutes of continuous activity, and a busy / too-hot
//! answer is retried once on a fresh reader.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::finger::Finger;
use crate::reader::{Reader, ReaderSpec};
use crate::synth::GreyImage;
use crate::virt::VirtualFeeder;
use crate::{FingerprintError, Template};

/// One identity's impressions, in file-name order.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub images: Vec<(PathBuf, GreyImage)>,
}

/// Files that could not be read as images: (path, reason).
pub type Unreadable = Vec<(String, String)>;

/// Reads `DIR/<finger>/<image>`; files that are not images are reported.
pub fn load_dir(dir: &Path) -> Result<(Vec<Identity>, Unreadable), FingerprintError> {
    let io = |context: String| move |source| FingerprintError::Io { context, source };
    let mut ids = Vec::new();
    let mut unreadable = Vec::new();
    let mut subs: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(format!("reading {}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for sub in subs {
        let mut files: Vec<_> = std::fs::read_dir(&sub)
            .map_err(io(format!("reading {}", sub.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut images = Vec::new();
        for f in files {
            let bytes = std::fs::read(&f).map_err(io(format!("reading {}", f.display())))?;
            match GreyImage::from_png_bytes(&bytes) {
                Ok(img) => images.push((f, img)),
                Err(e) => unreadable.push((f.display().to_string(), e)),
            }
        }
        let name = sub
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        ids.push(Identity { name, images });
    }
    Ok((ids, unreadable))
}

/// Counts at the fixed threshold.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rates {
    /// Comparisons that produced a decision.
    pub compared: usize,
    pub matched: usize,
    /// Probes that failed to capture or extract (libfprint retry) — no decision.
    pub failed_to_capture: usize,
}

/// Genuine results for templates enrolled from `distinct` impressions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ByPresses {
    /// Distinct impressions among the enrollment's presses (the others
    /// repeat them, cycling).
    pub distinct: usize,
    /// Presses the enrollment took (the driver's enroll stages).
    pub presses: u32,
    pub enrolled: usize,
    pub genuine: Rates,
    pub fnmr: Option<f64>,
}

/// The report of `countersign eval --finger`.
#[derive(Debug, Clone, Serialize)]
pub struct FingerEvalReport {
    pub identities: usize,
    pub enrolled: usize,
    /// Presses per enrollment (the driver's enroll stages).
    pub enroll_stages: u32,
    /// FNMR by the number of distinct impressions enrolled.
    pub by_presses: Vec<ByPresses>,
    pub genuine: Rates,
    pub impostor: Rates,
    /// Genuine probes rejected / genuine comparisons.
    pub fnmr: Option<f64>,
    /// Impostor probes accepted / impostor comparisons.
    pub fmr: Option<f64>,
    /// Fingers that could not be enrolled, with the reason.
    pub failed_to_enroll: Vec<(String, String)>,
    /// Images that failed to capture or extract (path, reason), and files
    /// that are not images.
    pub failed_images: Vec<(String, String)>,
    /// Impostor pairs that matched (enrolled finger, probe path).
    pub false_matches: Vec<(String, String)>,
    /// Genuine probes that did not match.
    pub false_non_matches: Vec<String>,
    pub mean_enroll_ms: Option<f64>,
    pub mean_verify_ms: Option<f64>,
    /// What libfprint does and does not expose.
    pub threshold: &'static str,
    pub device: String,
}

pub const THRESHOLD_NOTE: &str = "libfprint decides match / no-match with NBIS bozorth3 at the driver's fixed threshold (40 for virtual_image) and exposes no score: rates are at that one operating point; thresholds for a target FMR and a DET curve cannot be computed";

fn open(socket_dir: &Path) -> Result<Reader, FingerprintError> {
    let socket = crate::virtual_socket_in(socket_dir);
    Reader::open(ReaderSpec::Virtual { socket }, Duration::from_secs(20))
}

/// Runs one operation, retrying once on a fresh reader if libfprint says
/// the device is busy (its overheating model).
fn with_retry<T>(
    reader: &mut Option<Reader>,
    socket_dir: &Path,
    images: &[GreyImage],
    op: &mut dyn FnMut(&mut Reader, &mut VirtualFeeder) -> Result<T, FingerprintError>,
) -> Result<T, FingerprintError> {
    for attempt in 0..2 {
        if reader.is_none() {
            *reader = Some(open(socket_dir)?);
        }
        let r = reader.as_mut().expect("opened above");
        let mut feeder = VirtualFeeder::new(crate::virtual_socket_in(socket_dir));
        for img in images {
            feeder.push_image(img.clone());
        }
        match op(r, &mut feeder) {
            Err(FingerprintError::Device(countersign_capture::CaptureError::Busy { .. }))
                if attempt == 0 =>
            {
                *reader = None;
            }
            other => return other,
        }
    }
    unreachable!("the loop returns on its second pass")
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Evaluates `ids` through a `virtual_image` reader whose socket lives in
/// `socket_dir`. `progress` gets one line per finger.
pub fn evaluate(
    ids: &[Identity],
    socket_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<FingerEvalReport, FingerprintError> {
    let mut reader = Some(open(socket_dir)?);
    let stages = reader.as_ref().map_or(1, Reader::enroll_stages);
    let device = reader
        .as_ref()
        .map(|r| r.info().id.clone())
        .unwrap_or_default();
    let mut report = FingerEvalReport {
        identities: ids.len(),
        enrolled: 0,
        enroll_stages: stages,
        by_presses: vec![],
        genuine: Rates::default(),
        impostor: Rates::default(),
        fnmr: None,
        fmr: None,
        failed_to_enroll: vec![],
        failed_images: vec![],
        false_matches: vec![],
        false_non_matches: vec![],
        mean_enroll_ms: None,
        mean_verify_ms: None,
        threshold: THRESHOLD_NOTE,
        device,
    };
    let (mut enroll_ms, mut verify_ms) = (vec![], vec![]);
    for (i, id) in ids.iter().enumerate() {
        if id.images.len() < 2 {
            report
                .failed_to_enroll
                .push((id.name.clone(), "fewer than 2 impressions".into()));
            continue;
        }
        // a fresh reader per finger (libfprint's overheating model)
        reader = None;
        let k = (stages as usize).min(id.images.len() - 1);
        // Fewer distinct impressions first, on the same genuine probes.
        for distinct in 1..k {
            let imgs: Vec<GreyImage> = (0..stages as usize)
                .map(|s| id.images[s % distinct].1.clone())
                .collect();
            let row = by_presses_row(&mut report.by_presses, distinct, stages);
            let Ok(e) = with_retry(&mut reader, socket_dir, &imgs, &mut |r, f| {
                r.enroll(Finger::RightIndexFinger, &mut |e| f.on_event(e))
            }) else {
                continue;
            };
            row.enrolled += 1;
            for (_, img) in &id.images[k..] {
                let v = with_retry(
                    &mut reader,
                    socket_dir,
                    std::slice::from_ref(img),
                    &mut |r, f| r.verify(&e.template, &mut |ev| f.on_event(ev)),
                );
                let row = by_presses_row(&mut report.by_presses, distinct, stages);
                match v {
                    Ok(v) => {
                        row.genuine.compared += 1;
                        row.genuine.matched += usize::from(v.matched);
                    }
                    Err(FingerprintError::Retry { .. }) => row.genuine.failed_to_capture += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        let enroll_imgs: Vec<GreyImage> = (0..stages as usize)
            .map(|s| id.images[s % k].1.clone())
            .collect();
        let t = Instant::now();
        let enrolled = with_retry(&mut reader, socket_dir, &enroll_imgs, &mut |r, f| {
            r.enroll(Finger::RightIndexFinger, &mut |e| f.on_event(e))
        });
        let template: Template = match enrolled {
            Ok(e) => {
                enroll_ms.push(t.elapsed().as_secs_f64() * 1e3);
                e.template
            }
            Err(e) => {
                report
                    .failed_to_enroll
                    .push((id.name.clone(), e.to_string()));
                progress(&format!("{}: not enrolled: {e}", id.name));
                continue;
            }
        };
        by_presses_row(&mut report.by_presses, k, stages).enrolled += 1;
        report.enrolled += 1;
        let mut probes: Vec<(bool, &PathBuf, &GreyImage)> = id.images[k..]
            .iter()
            .map(|(p, img)| (true, p, img))
            .collect();
        for (j, other) in ids.iter().enumerate() {
            if j != i {
                probes.extend(other.images.iter().map(|(p, img)| (false, p, img)));
            }
        }
        let (mut g, mut m) = (0, 0);
        for (genuine, path, img) in probes {
            let t = Instant::now();
            let r = with_retry(
                &mut reader,
                socket_dir,
                std::slice::from_ref(img),
                &mut |r, f| r.verify(&template, &mut |e| f.on_event(e)),
            );
            let rates = if genuine {
                &mut report.genuine
            } else {
                &mut report.impostor
            };
            match r {
                Ok(v) => {
                    verify_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    rates.compared += 1;
                    if v.matched {
                        rates.matched += 1;
                        if !genuine {
                            report
                                .false_matches
                                .push((id.name.clone(), path.display().to_string()));
                        }
                    } else if genuine {
                        report.false_non_matches.push(path.display().to_string());
                    }
                    if genuine {
                        g += 1;
                        m += usize::from(v.matched);
                        let row = by_presses_row(&mut report.by_presses, k, stages);
                        row.genuine.compared += 1;
                        row.genuine.matched += usize::from(v.matched);
                    }
                }
                Err(FingerprintError::Retry { reason, .. }) => {
                    rates.failed_to_capture += 1;
                    report
                        .failed_images
                        .push((path.display().to_string(), reason));
                }
                Err(e) => return Err(e),
            }
        }
        progress(&format!(
            "{}: enrolled ({stages} stages), genuine {m}/{g} matched",
            id.name
        ));
    }
    let g = &report.genuine;
    report.fnmr = (g.compared > 0).then(|| (g.compared - g.matched) as f64 / g.compared as f64);
    let im = &report.impostor;
    report.fmr = (im.compared > 0).then(|| im.matched as f64 / im.compared as f64);
    for row in &mut report.by_presses {
        let g = &row.genuine;
        row.fnmr = (g.compared > 0).then(|| (g.compared - g.matched) as f64 / g.compared as f64);
    }
    report.by_presses.sort_by_key(|r| r.distinct);
    report.mean_enroll_ms = mean(&enroll_ms);
    report.mean_verify_ms = mean(&verify_ms);
    Ok(report)
}

fn by_presses_row(rows: &mut Vec<ByPresses>, distinct: usize, presses: u32) -> &mut ByPresses {
    let i = match rows.iter().position(|r| r.distinct == distinct) {
        Some(i) => i,
        None => {
            rows.push(ByPresses {
                distinct,
                presses,
                ..ByPresses::default()
            });
            rows.len() - 1
        }
    };
    &mut rows[i]
}

/// Timings of `countersign bench --finger`.
#[derive(Debug, Clone, Serialize)]
pub struct FingerBench {
    pub rounds: usize,
    pub open_ms: f64,
    pub enroll_ms: Vec<f64>,
    pub verify_genuine_ms: Vec<f64>,
    pub verify_impostor_ms: Vec<f64>,
    pub genuine_matched: usize,
    pub impostor_matched: usize,
}

/// Enrolls `rounds` synthetic fingers and verifies one genuine and one
/// impostor probe against each, through the virtual reader; wall-clock
/// times per operation, including the socket transfer of the image.
pub fn bench(rounds: usize, socket_dir: &Path) -> Result<FingerBench, FingerprintError> {
    let t = Instant::now();
    let mut reader = Some(open(socket_dir)?);
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let stages = reader.as_ref().map_or(1, Reader::enroll_stages);
    let mut b = FingerBench {
        rounds,
        open_ms,
        enroll_ms: vec![],
        verify_genuine_ms: vec![],
        verify_impostor_ms: vec![],
        genuine_matched: 0,
        impostor_matched: 0,
    };
    for r in 0..rounds as u64 {
        let master = crate::synth::MasterPrint::generate(1000 + r);
        let other = crate::synth::MasterPrint::generate(5000 + r);
        let imgs: Vec<_> = (0..stages).map(|n| master.impression(n)).collect();
        let probe = master.impression(stages + 1);
        let impostor = other.impression(1);
        reader = None;
        let t = Instant::now();
        let e = with_retry(&mut reader, socket_dir, &imgs, &mut |rd, f| {
            rd.enroll(Finger::RightIndexFinger, &mut |ev| f.on_event(ev))
        })?;
        b.enroll_ms.push(t.elapsed().as_secs_f64() * 1e3);
        for (img, genuine) in [(probe, true), (impostor, false)] {
            let t = Instant::now();
            let v = with_retry(
                &mut reader,
                socket_dir,
                std::slice::from_ref(&img),
                &mut |rd, f| rd.verify(&e.template, &mut |ev| f.on_event(ev)),
            )?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if genuine {
                b.verify_genuine_ms.push(ms);
                b.genuine_matched += usize::from(v.matched);
            } else {
                b.verify_impostor_ms.push(ms);
                b.impostor_matched += usize::from(v.matched);
            }
        }
    }
    Ok(b)
}
