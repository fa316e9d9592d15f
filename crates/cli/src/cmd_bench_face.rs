//! `countersign bench --face`: the face matcher's per-stage latency
//! (decode, detect, align, embed) at 320x240 and 640x480 with a chosen
//! number of threads, and camera-open → decision on the replay source
//! through the engine's real attempt path.
//!
//! The frames are prepared once in `--frames DIR` (the committed fixture
//! photos fitted into each resolution, JPEG) with a `manifest.json` naming
//! them and the model files this build verified, so that
//! `scripts/bench_face_ref.py` runs OpenCV + onnxruntime on the very same
//! frames and bytes; `scripts/bench-face.sh` runs both and prints one table.
//! Benchmarks only: nothing here is a test, and no sample is logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use countersign_capture::replay::{ReplayOptions, ReplaySource};
use countersign_capture::Resolution;
use countersign_core::session::SessionEvent;
use countersign_engine::{DataDir, Engine, FaceAttempt, InitOptions, SystemClock, REPLAY_DIR};
use countersign_matcher::{Matcher, MatcherConfig};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Camera resolutions measured, as the issue asks.
const RESOLUTIONS: [(u32, u32); 2] = [(320, 240), (640, 480)];
const STAGES: [&str; 4] = ["decode", "detect", "align", "embed"];

/// `countersign bench`: the ledger's, or with `--face` / `--finger` a matcher's.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Events in the big ledger (verify and query measurements).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Scratch dir (default: a new temp dir, removed afterwards).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// Also write the report to this file.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Fingerprint enroll / verify timings through libfprint's virtual_image reader instead.
    #[arg(long)]
    pub finger: bool,
    /// With --finger: synthetic fingers to enroll and verify.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    #[command(flatten)]
    pub face: FaceBenchArgs,
}

#[derive(Debug, Args, Clone)]
pub struct FaceBenchArgs {
    /// Face matcher latency instead of the ledger (see BENCHMARKS.md).
    #[arg(long)]
    pub face: bool,
    /// With --face: folder of the benchmark frames and their manifest.json
    /// (prepared there when missing; default: a temp dir).
    #[arg(long)]
    pub frames: Option<PathBuf>,
    /// With --face: threads the models run on (`MatcherConfig::threads`).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// With --face: passes over the frames per resolution (after one
    /// warm-up pass).
    #[arg(long, default_value_t = 10)]
    pub repeats: usize,
    /// With --face: camera-open → decision runs (0 skips them).
    #[arg(long, default_value_t = 10)]
    pub decisions: usize,
    /// With --face: write every sample as JSON here (what
    /// `scripts/bench_face_ref.py table` reads).
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// With --face: the photos to make frames of (default: the matcher's
    /// test fixtures in the source tree).
    #[arg(long)]
    pub photos: Option<PathBuf>,
    /// With --face: the demo faces for camera-open → decision (default:
    /// the source tree's assets/demo/faces).
    #[arg(long)]
    pub demo_faces: Option<PathBuf>,
    /// With --face: folder with the face models.
    #[arg(long, env = "COUNTERSIGN_MODELS")]
    pub models: Option<PathBuf>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestModel {
    file: String,
    sha256: String,
    role: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestResolution {
    width: u32,
    height: u32,
    det_width: usize,
    det_height: usize,
    /// Frame files, relative to the frames folder.
    frames: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    models_dir: PathBuf,
    models: Vec<ManifestModel>,
    min_detection_score: f32,
    nms_threshold: f32,
    resolutions: Vec<ManifestResolution>,
}

fn source_tree(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A photo fitted into a `w` x `h` camera frame (aspect kept, mid-grey
/// borders), like a person in front of a plain background.
fn camera_frame(photo: &RgbImage, w: u32, h: u32) -> RgbImage {
    let s = (w as f64 / photo.width() as f64).min(h as f64 / photo.height() as f64);
    let (nw, nh) = (
        ((photo.width() as f64 * s).round() as u32).clamp(1, w),
        ((photo.height() as f64 * s).round() as u32).clamp(1, h),
    );
    let small = image::imageops::resize(photo, nw, nh, image::imageops::FilterType::Triangle);
    let mut out = RgbImage::from_pixel(w, h, image::Rgb([128, 128, 128]));
    image::imageops::replace(
        &mut out,
        &small,
        ((w - nw) / 2) as i64,
        ((h - nh) / 2) as i64,
    );
    out
}

fn prepare(dir: &Path, photos: &Path, models_dir: &Path) -> anyhow::Result<Manifest> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(photos)
        .with_context(|| format!("reading {}", photos.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .as_deref(),
                Some("jpg" | "jpeg" | "png")
            )
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no .jpg or .png photo in {}", photos.display());
    }
    // The model files the matcher verifies (hash-pinned): load once to check.
    let m = Matcher::load(models_dir, MatcherConfig::default())?;
    let cfg = MatcherConfig::default();
    let mut resolutions = vec![];
    for (w, h) in RESOLUTIONS {
        let sub = format!("{w}x{h}");
        std::fs::create_dir_all(dir.join(&sub))?;
        let mut frames = vec![];
        for p in &files {
            let photo = countersign_matcher::decode_file(p)?;
            let frame = camera_frame(&photo, w, h);
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("frame");
            let rel = format!("{sub}/{stem}.jpg");
            let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(&rel))?);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 90)
                .encode_image(&frame)
                .with_context(|| format!("writing {rel}"))?;
            frames.push(rel);
        }
        resolutions.push(ManifestResolution {
            width: w,
            height: h,
            det_width: (w as usize).div_ceil(32) * 32,
            det_height: (h as usize).div_ceil(32) * 32,
            frames,
        });
    }
    // The product does not run the detector at the camera's full size: it
    // letterboxes every frame into its own detector size (MatcherConfig's
    // default), so the larger frames are also measured that way, on both
    // sides (the letterbox resize counts in "detect").
    let product = (cfg.det_width, cfg.det_height);
    let extra: Vec<ManifestResolution> = resolutions
        .iter()
        .filter(|r| (r.det_width, r.det_height) != product && r.width as usize > product.0)
        .map(|r| ManifestResolution {
            width: r.width,
            height: r.height,
            det_width: product.0,
            det_height: product.1,
            frames: r.frames.clone(),
        })
        .collect();
    resolutions.extend(extra);
    let manifest = Manifest {
        models_dir: std::fs::canonicalize(models_dir)?,
        models: m
            .models()
            .iter()
            .map(|id| ManifestModel {
                file: id.file.clone(),
                sha256: id.sha256.clone(),
                role: serde_json::to_value(id.role)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
            })
            .collect(),
        min_detection_score: cfg.quality.min_detection_score,
        nms_threshold: cfg.nms_threshold,
        resolutions,
    };
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(manifest)
}

/// Per-stage samples of one resolution.
fn stages(
    frames_dir: &Path,
    models_dir: &Path,
    r: &ManifestResolution,
    a: &FaceBenchArgs,
) -> anyhow::Result<serde_json::Value> {
    let cfg = MatcherConfig {
        det_width: r.det_width,
        det_height: r.det_height,
        threads: a.threads,
        ..Default::default()
    };
    let m = Matcher::load(models_dir, cfg)?;
    let jpgs = r
        .frames
        .iter()
        .map(|f| Ok((f.clone(), std::fs::read(frames_dir.join(f))?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut samples: BTreeMap<&str, Vec<f64>> = STAGES.iter().map(|s| (*s, vec![])).collect();
    let mut embeddings = BTreeMap::new();
    for pass in 0..=a.repeats {
        for (name, jpg) in &jpgs {
            let t = Instant::now();
            let img = image::load_from_memory(jpg)
                .with_context(|| format!("decoding {name}"))?
                .to_rgb8();
            let decode = t.elapsed().as_secs_f64() * 1000.0;
            let mut an = m.analyze(&img)?;
            m.embed_analysis(&mut an)?;
            if pass == 0 {
                continue; // warm-up
            }
            samples.get_mut("decode").expect("stage").push(decode);
            samples
                .get_mut("detect")
                .expect("stage")
                .push(an.times.detect_ms);
            if let Some(e) = an.embedding {
                samples
                    .get_mut("align")
                    .expect("stage")
                    .push(an.times.align_ms);
                samples
                    .get_mut("embed")
                    .expect("stage")
                    .push(an.times.embed_ms);
                embeddings.insert(name.clone(), e);
            }
        }
    }
    Ok(json!({
        "resolution": format!("{}x{}", r.width, r.height),
        "detector": format!("{}x{}", m.detector_size().0, m.detector_size().1),
        "load_ms": m.load_ms(),
        "samples": samples,
        "embeddings": embeddings,
    }))
}

/// Camera-open → decision: a demo kiosk in a temp dir, olga enrolled from
/// the demo faces, then per run a new step-up (identified, intent given,
/// untimed) and, timed, opening the replay of her genuine scene at 640x480
/// and the engine's face attempt (burst of 2 as the app: capture, gates,
/// PAD, embed, match, the decision applied and its evidence written with
/// the sample sealed).
fn decisions(models_dir: &Path, a: &FaceBenchArgs) -> anyhow::Result<serde_json::Value> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    DataDir::new(data.clone()).init(
        &InitOptions {
            demo: true,
            if_missing: false,
            policy_toml: None,
            admin: None,
        },
        &SystemClock,
    )?;
    let mut e = Engine::open(&data)?;
    let t = Instant::now();
    let m = Matcher::load(
        models_dir,
        MatcherConfig {
            threads: a.threads,
            ..Default::default()
        },
    )?;
    let load_ms = t.elapsed().as_secs_f64() * 1000.0;
    let faces = a
        .demo_faces
        .clone()
        .unwrap_or_else(|| source_tree("../../assets/demo/faces"));
    e.install_demo_faces(&faces, &m)
        .with_context(|| format!("enrolling the demo faces from {}", faces.display()))?;
    let scene = data.join(REPLAY_DIR).join("genuine-olga");
    let (mut open, mut total, mut decided) = (vec![], vec![], vec![]);
    for _ in 0..a.decisions {
        let scope = ["payments.approve".to_string()].into();
        let mut s = e.start_stepup(scope, vec![], "bench")?;
        e.identify(&mut s, "olga")?;
        e.apply(&mut s, SessionEvent::Intent)?;
        let t = Instant::now();
        let mut src = ReplaySource::open(
            std::slice::from_ref(&scene),
            ReplayOptions {
                rate_hz: 0.0,
                looping: false,
                resolution: Some(Resolution::new(640, 480)),
            },
        )?;
        open.push(t.elapsed().as_secs_f64() * 1000.0);
        let r = e.face_attempt(&mut s, &m, &mut src, 2, None)?;
        total.push(t.elapsed().as_secs_f64() * 1000.0);
        match r {
            FaceAttempt::Scored { matched: true, .. } => decided.push("match"),
            other => bail!("the genuine scene did not match: {other:?}"),
        }
    }
    Ok(json!({
        "runs": a.decisions,
        "frames_per_attempt": 2,
        "replay_resolution": "640x480",
        "detector": format!("{}x{}", m.detector_size().0, m.detector_size().1),
        "model_load_ms": load_ms,
        "open_ms": open,
        "total_ms": total,
        "decisions": decided,
    }))
}

/// `countersign bench --face`.
pub fn run(a: &FaceBenchArgs) -> anyhow::Result<()> {
    if a.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let models_dir = a
        .models
        .clone()
        .unwrap_or_else(countersign_matcher::default_models_dir);
    let tmp;
    let frames_dir = match &a.frames {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let manifest_path = frames_dir.join("manifest.json");
    let manifest: Manifest = if manifest_path.is_file() {
        serde_json::from_slice(&std::fs::read(&manifest_path)?)
            .with_context(|| format!("reading {}", manifest_path.display()))?
    } else {
        std::fs::create_dir_all(&frames_dir)?;
        let photos = a
            .photos
            .clone()
            .unwrap_or_else(|| source_tree("../matcher/tests/fixtures"));
        prepare(&frames_dir, &photos, &models_dir)?
    };
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut resolutions = vec![];
    for r in &manifest.resolutions {
        resolutions.push(stages(&frames_dir, &models_dir, r, a)?);
    }
    let dec = if a.decisions > 0 {
        Some(decisions(&models_dir, a)?)
    } else {
        None
    };
    let report = json!({
        "impl": format!("tract-onnx 0.23.9, {profile} build"),
        "side": "rust",
        "threads": a.threads,
        "resolutions": resolutions,
        "decision": dec,
    });
    if let Some(p) = &a.json_out {
        std::fs::write(p, serde_json::to_vec(&report)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    println!("| resolution | detector | threads | decode ms | detect ms | align ms | embed ms | total ms | model load ms |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    for r in &resolutions {
        let med = |s: &str| {
            let v: Vec<f64> = r["samples"][s]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default();
            median(&v)
        };
        let m: Vec<f64> = STAGES.iter().map(|s| med(s)).collect();
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.3} | {:.2} | {:.2} | {:.0} |",
            r["resolution"].as_str().unwrap_or(""),
            r["detector"].as_str().unwrap_or(""),
            a.threads,
            m[0],
            m[1],
            m[2],
            m[3],
            m.iter().sum::<f64>(),
            r["load_ms"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "\nMedians of {} passes over {} frames, {profile} build; frames in {}.",
        a.repeats,
        manifest.resolutions.first().map_or(0, |r| r.frames.len()),
        frames_dir.display()
    );
    if let Some(d) = &dec {
        let v = |k: &str| -> Vec<f64> {
            d[k].as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
                .unwrap_or_default()
        };
        let total = v("total_ms");
        println!(
            "camera-open → decision (replay 640x480, 2 frames, detector {}, {} thread(s)): median {:.1} ms (min {:.1}, max {:.1}) over {} runs, of which opening the replay {:.1} ms; all {} decisions: match",
            d["detector"].as_str().unwrap_or(""),
            a.threads,
            median(&total),
            total.iter().cloned().fold(f64::INFINITY, f64::min),
            total.iter().cloned().fold(0.0, f64::max),
            total.len(),
            median(&v("open_ms")),
            total.len()
        );
    }
    Ok(())
}
