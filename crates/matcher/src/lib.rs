//! Face verification for Countersign, in pure Rust.
//!
//! OpenCV Zoo's YuNet (detector, box + 5 landmarks) and SFace (128-d
//! embedding) run in tract-onnx; the pipeline re-implements OpenCV's
//! FaceDetectorYN + FaceRecognizerSF: letterbox → YuNet → NMS → the face
//! nearest the centre → 5-point similarity alignment to 112x112 → SFace →
//! L2-normalised embedding → cosine similarity.
//!
//! - [`model`]: model files pinned by SHA-256 (an unknown hash is refused,
//!   naming the file and its hash), loaded with blocked int8 folded.
//! - [`quality`]: gates (one face, size, sharpness, brightness, pose) whose
//!   failure is a *quality* failure, never a match failure.
//! - [`pad`]: presentation-attack checks over a burst (static replay,
//!   head-turn challenge) and what they cannot stop.
//! - [`Matcher::enroll`] and [`Matcher::verify`]: the decisions' inputs,
//!   with everything the evidence needs.

pub mod align;
pub mod conv;
pub mod detect;
pub mod eval;
mod kept;
pub mod model;
pub mod pad;
pub mod pool;
pub mod prelu;
pub mod quality;
mod runner;

/// A tensor's values as f32, for the unit tests of the tract operators.
#[cfg(test)]
pub(crate) fn test_values(t: &tract_onnx::prelude::TValue) -> Vec<f32> {
    t.try_as_plain_ram()
        .and_then(|v| v.as_slice::<f32>().map(|s| s.to_vec()))
        .unwrap()
}

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;
use serde::Serialize;
use tract_onnx::tract_core::internal::multithread::{multithread_tract_scope, Executor};

pub use align::cosine;
pub use detect::Face;
pub use model::{default_models_dir, ModelId, ModelRole, DETECTOR_FILE, RECOGNIZER_FILE};
pub use pad::{Challenge, PadConfig, PadResult};
pub use quality::{QualityConfig, QualityReport};

/// Embedding length of SFace.
pub const EMBEDDING_DIM: usize = 128;

/// Matcher errors. None of them is a match or quality outcome: those are
/// results, not errors.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("face model {} is missing: run scripts/setup.sh (it fetches the models into assets/models/), or point COUNTERSIGN_MODELS at a folder holding them", .path.display())]
    ModelMissing { path: PathBuf },
    #[error("refusing face model {}: its SHA-256 {sha256} is not a known model (accepted: {expected})", .path.display())]
    UnknownModel {
        path: PathBuf,
        sha256: String,
        expected: String,
    },
    #[error("cannot load face model {}: {detail}", .path.display())]
    ModelLoad { path: PathBuf, detail: String },
    #[error("cannot decode image {path}: {detail}")]
    Decode { path: String, detail: String },
    #[error("face model inference failed: {0}")]
    Inference(String),
    #[error("invalid template: {0}")]
    Template(String),
    /// An evaluation set that cannot give a rate: no usable image, or fewer
    /// than two identities (no impostor pair).
    #[error("{0}")]
    EvalData(String),
}

impl MatcherError {
    pub fn code(&self) -> countersign_codes::Code {
        match self {
            MatcherError::ModelMissing { .. } => countersign_codes::Code::MatcherModelMissing,
            MatcherError::UnknownModel { .. } => countersign_codes::Code::MatcherModelUnknown,
            MatcherError::ModelLoad { .. } => countersign_codes::Code::MatcherModelLoad,
            MatcherError::Decode { .. } => countersign_codes::Code::MatcherDecode,
            MatcherError::Inference(_) => countersign_codes::Code::MatcherInference,
            MatcherError::Template(_) => countersign_codes::Code::MatcherTemplate,
            MatcherError::EvalData(_) => countersign_codes::Code::EvalInsufficientData,
        }
    }
}

/// Decodes an image file to RGB, with an error that names the file.
pub fn decode_file(path: &Path) -> Result<RgbImage, MatcherError> {
    let bad = |detail: String| MatcherError::Decode {
        path: path.display().to_string(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    Ok(image::load_from_memory(&bytes)
        .map_err(|e| bad(e.to_string()))?
        .to_rgb8())
}

/// Settings of a [`Matcher`].
#[derive(Debug, Clone, Serialize)]
pub struct MatcherConfig {
    /// Detector input size (rounded up to multiples of 32); frames are
    /// letterboxed into it. YuNet finds faces of about 10–300 px there.
    pub det_width: usize,
    pub det_height: usize,
    pub nms_threshold: f32,
    /// Threads for the models: 1 runs them on the calling thread; n > 1 on
    /// a private pool of n threads (the calling thread waits), where
    /// tract's large matrix products and the matcher's own convolution
    /// kernels share out their work. Results are the same either way.
    pub threads: usize,
    pub quality: QualityConfig,
    pub pad: PadConfig,
}

impl Default for MatcherConfig {
    fn default() -> Self {
        MatcherConfig {
            det_width: 320,
            det_height: 320,
            nms_threshold: 0.3,
            threads: 1,
            quality: QualityConfig::default(),
            pad: PadConfig::default(),
        }
    }
}

/// Per-stage wall time of one frame, ms.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimes {
    pub detect_ms: f64,
    pub align_ms: f64,
    pub embed_ms: f64,
}

/// One analysed frame.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub width: u32,
    pub height: u32,
    pub faces: Vec<Face>,
    pub primary: Option<usize>,
    pub aligned: Option<RgbImage>,
    pub quality: QualityReport,
    /// Present once [`Matcher::embed_analysis`] ran.
    pub embedding: Option<Vec<f32>>,
    pub times: StageTimes,
}

impl Analysis {
    pub fn primary_face(&self) -> Option<&Face> {
        self.primary.map(|i| &self.faces[i])
    }

    fn pad_frame(&self) -> Option<pad::PadFrame> {
        let (f, a) = (self.primary_face()?, self.aligned.as_ref()?);
        Some(pad::PadFrame {
            landmarks: f.landmarks,
            aligned_grey: a.pixels().map(|p| quality::luma(p).round() as u8).collect(),
        })
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// The loaded models and settings.
#[derive(Debug)]
pub struct Matcher {
    detector: detect::Detector,
    recognizer: align::Recognizer,
    models: Vec<ModelId>,
    cfg: MatcherConfig,
    executor: Executor,
    load_ms: f64,
}

/// An enrolled face template: several embeddings of the same person.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Template {
    pub format: String,
    /// SHA-256 of the recogniser that made the embeddings (a template only
    /// compares with embeddings of the same model).
    pub recognizer_sha256: String,
    pub embeddings: Vec<Vec<f32>>,
}

pub const TEMPLATE_FORMAT: &str = "countersign.face-template.v1";

impl Template {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serialisable")
    }
    pub fn from_bytes(b: &[u8]) -> Result<Template, MatcherError> {
        let t: Template = serde_json::from_slice(b)
            .map_err(|e| MatcherError::Template(format!("not a face template: {e}")))?;
        if t.format != TEMPLATE_FORMAT {
            return Err(MatcherError::Template(format!(
                "unknown format {}",
                t.format
            )));
        }
        if t.embeddings.is_empty() || t.embeddings.iter().any(|e| e.len() != EMBEDDING_DIM) {
            return Err(MatcherError::Template(format!(
                "expected {EMBEDDING_DIM}-d embeddings"
            )));
        }
        Ok(t)
    }
}

/// Per-frame outcome in an attempt or an enrollment (for the evidence).
#[derive(Debug, Clone, Serialize)]
pub struct FrameReport {
    pub index: usize,
    pub width: u32,
    pub height: u32,
    pub quality: QualityReport,
    /// Best cosine against the template (verify only, quality-passing frames).
    pub score: Option<f32>,
    pub times: StageTimes,
}

/// How [`Matcher::verify`] turns a burst and a template into one score
/// (recorded with every attempt).
pub const FUSION: &str = "quality-weighted mean of the burst's embeddings vs the mean of the enrollment captures (cosine)";

/// The L2-normalised weighted mean of unit embeddings; `None` without any
/// positive weight. Averaging embeddings of the same face cancels part of
/// each capture's noise (pose, light, blur); the best of several
/// comparisons instead gives an impostor several draws.
pub fn weighted_centre<'a>(items: impl IntoIterator<Item = (&'a [f32], f32)>) -> Option<Vec<f32>> {
    let mut acc = vec![0f32; EMBEDDING_DIM];
    let mut total = 0f32;
    for (e, w) in items {
        if w > 0.0 && e.len() == EMBEDDING_DIM {
            for (a, x) in acc.iter_mut().zip(e) {
                *a += w * x;
            }
            total += w;
        }
    }
    let norm = acc.iter().map(|x| x * x).sum::<f32>().sqrt();
    (total > 0.0 && norm > 1e-12).then(|| acc.iter().map(|x| x / norm).collect())
}

impl Template {
    /// The template's centre: the mean of its captures' embeddings,
    /// normalised (what a probe is compared with).
    pub fn centre(&self) -> Vec<f32> {
        weighted_centre(self.embeddings.iter().map(|e| (e.as_slice(), 1.0)))
            .unwrap_or_else(|| self.embeddings[0].clone())
    }
}

/// What a verification attempt produced.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyResult {
    /// The fused score ([`FUSION`]); `None` when no frame passed the
    /// quality gates: a quality failure.
    pub score: Option<f32>,
    /// Index of the frame that weighed most in the fusion (the sample to seal).
    pub best_frame: Option<usize>,
    /// How `score` was computed ([`FUSION`]).
    pub fusion: &'static str,
    pub frames: Vec<FrameReport>,
    pub pad: PadResult,
    pub models: Vec<ModelId>,
}

impl VerifyResult {
    pub fn quality_passed(&self) -> bool {
        self.score.is_some()
    }
    /// Why the attempt is a quality failure: the most common gate failure.
    pub fn quality_reason(&self) -> String {
        let mut counts: Vec<(String, usize)> = vec![];
        for f in &self.frames {
            for r in &f.quality.failures {
                match counts.iter_mut().find(|(k, _)| k == r) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((r.clone(), 1)),
                }
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        format!(
            "no frame passed the quality gates ({})",
            counts
                .iter()
                .map(|(k, n)| format!("{k} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// What an enrollment produced.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollResult {
    /// `None` when fewer captures than asked passed the gates.
    #[serde(skip)]
    pub template: Option<Template>,
    pub accepted_frames: Vec<usize>,
    pub frames: Vec<FrameReport>,
    pub models: Vec<ModelId>,
    /// Lowest cosine between accepted captures (a low value means the
    /// captures may not all be the same person).
    pub min_pairwise: Option<f32>,
}

impl Matcher {
    /// Loads and verifies both models from `dir`.
    pub fn load(dir: &Path, cfg: MatcherConfig) -> Result<Matcher, MatcherError> {
        let t = Instant::now();
        let det_path = dir.join(DETECTOR_FILE);
        let rec_path = dir.join(RECOGNIZER_FILE);
        let (det_bytes, det_id) = model::read_verified(&det_path, ModelRole::Detector)?;
        let (rec_bytes, rec_id) = model::read_verified(&rec_path, ModelRole::Recognizer)?;
        let (det_model, _) = model::load_folded(&det_path, &det_bytes)?;
        let detector = detect::Detector::new(det_model, cfg.det_width, cfg.det_height)?;
        let (rec_model, _) = model::load_folded(&rec_path, &rec_bytes)?;
        let recognizer = align::Recognizer::new(rec_model)?;
        let executor = if cfg.threads > 1 {
            Executor::multithread_with_name(cfg.threads, "countersign-matcher")
        } else {
            Executor::SingleThread
        };
        Ok(Matcher {
            detector,
            recognizer,
            models: vec![det_id, rec_id],
            cfg,
            executor,
            load_ms: ms(t),
        })
    }

    /// Loads from [`default_models_dir`] with default settings.
    pub fn load_default() -> Result<Matcher, MatcherError> {
        Self::load(&default_models_dir(), MatcherConfig::default())
    }

    pub fn models(&self) -> &[ModelId] {
        &self.models
    }

    pub fn config(&self) -> &MatcherConfig {
        &self.cfg
    }

    /// Model load and compile time, ms.
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// The detector's actual input size.
    pub fn detector_size(&self) -> (usize, usize) {
        (self.detector.width, self.detector.height)
    }

    pub fn recognizer_sha256(&self) -> &str {
        &self.models[1].sha256
    }

    /// Runs `f` with the matcher's threads. With a pool, the calling thread
    /// hands `f` to one of the pool's threads and waits: tract's matrix
    /// products and the matcher's own kernels (`conv::FastConv`) then share
    /// their work between that thread and the pool's others. Called from
    /// outside the pool instead, each of tract's products woke both pool
    /// threads while the caller waited, and the pool's idle threads spun
    /// against the caller's single-threaded work: on 2 vCPUs SFace went
    /// from 22 to 26–28 ms with two threads.
    fn on_pool<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.executor {
            Executor::MultiThread(pool) => {
                pool.install(|| multithread_tract_scope(self.executor.clone(), f))
            }
            other => multithread_tract_scope(other.clone(), f),
        }
    }

    /// Detects, picks the primary face, aligns it and runs the quality
    /// gates. No embedding yet (see [`Matcher::embed_analysis`]).
    pub fn analyze(&self, img: &RgbImage) -> Result<Analysis, MatcherError> {
        let t = Instant::now();
        let faces = self.on_pool(|| {
            self.detector.detect(
                img,
                self.cfg.quality.min_detection_score,
                self.cfg.nms_threshold,
            )
        })?;
        let detect_ms = ms(t);
        let primary = detect::primary_face(&faces, img.width(), img.height());
        let t = Instant::now();
        let aligned = primary.map(|i| align::align(img, &faces[i].landmarks));
        let align_ms = ms(t);
        let q = quality::assess(&self.cfg.quality, &faces, primary, aligned.as_ref());
        Ok(Analysis {
            width: img.width(),
            height: img.height(),
            faces,
            primary,
            aligned,
            quality: q,
            embedding: None,
            times: StageTimes {
                detect_ms,
                align_ms,
                embed_ms: 0.0,
            },
        })
    }

    /// Adds the embedding of the aligned primary face (if any).
    pub fn embed_analysis(&self, a: &mut Analysis) -> Result<(), MatcherError> {
        if let Some(crop) = &a.aligned {
            let t = Instant::now();
            let e = self.on_pool(|| self.recognizer.embed(crop))?;
            a.embedding = Some(e);
            a.times.embed_ms = ms(t);
        }
        Ok(())
    }

    /// Embedding of the primary face of one image, regardless of the
    /// quality gates (evaluation). `None` when no face was found.
    pub fn embed_image(&self, img: &RgbImage) -> Result<Option<Analysis>, MatcherError> {
        let mut a = self.analyze(img)?;
        if a.primary.is_none() {
            return Ok(None);
        }
        self.embed_analysis(&mut a)?;
        Ok(Some(a))
    }

    /// Enrolls from captures: each must pass the gates; `needed` accepted
    /// captures make a template.
    pub fn enroll(&self, frames: &[RgbImage], needed: usize) -> Result<EnrollResult, MatcherError> {
        let mut reports = vec![];
        let mut accepted = vec![];
        let mut embs: Vec<Vec<f32>> = vec![];
        for (i, img) in frames.iter().enumerate() {
            let mut a = self.analyze(img)?;
            if a.quality.passed && embs.len() < needed {
                self.embed_analysis(&mut a)?;
                if let Some(e) = a.embedding.clone() {
                    embs.push(e);
                    accepted.push(i);
                }
            }
            reports.push(FrameReport {
                index: i,
                width: a.width,
                height: a.height,
                quality: a.quality,
                score: None,
                times: a.times,
            });
        }
        let mut min_pairwise: Option<f32> = None;
        for i in 0..embs.len() {
            for j in i + 1..embs.len() {
                let c = cosine(&embs[i], &embs[j]);
                min_pairwise = Some(min_pairwise.map_or(c, |m| m.min(c)));
            }
        }
        let template = (embs.len() >= needed.max(1)).then(|| Template {
            format: TEMPLATE_FORMAT.into(),
            recognizer_sha256: self.recognizer_sha256().into(),
            embeddings: embs,
        });
        Ok(EnrollResult {
            template,
            accepted_frames: accepted,
            frames: reports,
            models: self.models.clone(),
            min_pairwise,
        })
    }

    /// One verification attempt over a burst of frames: quality gates per
    /// frame, the quality-weighted mean of the passing frames' embeddings
    /// against the template's centre ([`FUSION`]; each frame's own score
    /// against the centre is in its report), and PAD over the frames that
    /// had a face.
    pub fn verify(
        &self,
        frames: &[RgbImage],
        template: &Template,
        challenge: Option<Challenge>,
    ) -> Result<VerifyResult, MatcherError> {
        if template.recognizer_sha256 != self.recognizer_sha256() {
            return Err(MatcherError::Template(format!(
                "the template was made with recogniser {}, this matcher runs {}: re-enroll",
                template.recognizer_sha256,
                self.recognizer_sha256()
            )));
        }
        let centre = template.centre();
        let mut reports = vec![];
        let mut pad_frames = vec![];
        let mut passing: Vec<(usize, Vec<f32>, f32)> = vec![];
        for (i, img) in frames.iter().enumerate() {
            let mut a = self.analyze(img)?;
            if let Some(p) = a.pad_frame() {
                pad_frames.push(p);
            }
            let mut score = None;
            if a.quality.passed {
                self.embed_analysis(&mut a)?;
                if let Some(e) = a.embedding.take() {
                    score = Some(cosine(&e, &centre));
                    passing.push((i, e, a.quality.weight(&self.cfg.quality)));
                }
            }
            reports.push(FrameReport {
                index: i,
                width: a.width,
                height: a.height,
                quality: a.quality,
                score,
                times: a.times,
            });
        }
        let fused = weighted_centre(passing.iter().map(|(_, e, w)| (e.as_slice(), *w)));
        let best_frame = passing
            .iter()
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .map(|p| p.0);
        Ok(VerifyResult {
            score: fused.map(|f| cosine(&f, &centre)),
            best_frame,
            fusion: FUSION,
            frames: reports,
            pad: pad::evaluate(&self.cfg.pad, challenge, &pad_frames),
            models: self.models.clone(),
        })
    }
}

#[cfg(test)]
mod fusion_tests {
    use super::*;

    fn unit(i: usize) -> Vec<f32> {
        let mut v = vec![0f32; EMBEDDING_DIM];
        v[i] = 1.0;
        v
    }

    #[test]
    fn the_weighted_centre_is_normalised_and_follows_the_weights() {
        let (a, b) = (unit(0), unit(1));
        let c = weighted_centre([(a.as_slice(), 3.0), (b.as_slice(), 1.0)]).unwrap();
        assert!((c.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(c[0] > c[1] && c[1] > 0.0, "{:?}", &c[..2]);
        assert!((c[0] / c[1] - 3.0).abs() < 1e-5);
        // A zero weight (a frame that failed the gates) counts for nothing.
        let only_a = weighted_centre([(a.as_slice(), 1.0), (b.as_slice(), 0.0)]).unwrap();
        assert_eq!(only_a, a);
        assert_eq!(weighted_centre([(a.as_slice(), 0.0)]), None);
        // Opposite embeddings cancel: no centre rather than a made-up one.
        let neg: Vec<f32> = a.iter().map(|x| -x).collect();
        assert_eq!(
            weighted_centre([(a.as_slice(), 1.0), (neg.as_slice(), 1.0)]),
            None
        );
    }

    #[test]
    fn a_template_compares_through_the_mean_of_its_captures() {
        let t = Template {
            format: TEMPLATE_FORMAT.into(),
            recognizer_sha256: String::new(),
            embeddings: vec![unit(0), unit(1)],
        };
        let c = t.centre();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((c[0] - h).abs() < 1e-6 && (c[1] - h).abs() < 1e-6);
        // A probe equal to one capture scores 0.71 against the centre, not
        // the 1.0 the best capture gave: one lucky capture no longer decides.
        assert!((cosine(&unit(0), &c) - h).abs() < 1e-6);
    }
}
