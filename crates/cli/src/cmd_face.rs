//! The real face path: `stepup --replay/--camera`, `enroll`, `eval`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use countersign_capture::camera::CameraBackend;
use countersign_capture::replay::{ReplayOptions, ReplaySource};
use countersign_capture::{Backend, Resolution, Source};
use countersign_core::SessionState;
use countersign_engine::{Engine, FaceAttempt, StepUp};
use countersign_matcher::{Challenge, Matcher, MatcherConfig};

use crate::args::Cli;
use crate::util::{print_json, read_secret};

/// Where frames come from (the real matcher path).
#[derive(Debug, Args, Clone, Default)]
pub struct FaceSourceArgs {
    /// Replay these image files or folders as the camera (labelled as a
    /// replay in the evidence; demo data dirs only). Runs the real face matcher.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub replay: Vec<PathBuf>,
    /// Use this camera (an id from `countersign devices`, e.g. v4l2:0).
    /// Runs the real face matcher.
    #[arg(long)]
    pub camera: Option<String>,
    /// Replay rate, frames per second (0: as fast as possible).
    #[arg(long, default_value_t = 15.0)]
    pub replay_fps: f64,
    /// Capture resolution, e.g. 640x480.
    #[arg(long)]
    pub resolution: Option<Resolution>,
    /// Frames per attempt (presentation-attack checks need at least 2).
    #[arg(long, default_value_t = 3)]
    pub burst: usize,
    /// Attempts to make before giving up (each is one act of intent).
    #[arg(long, default_value_t = 1)]
    pub attempts: usize,
    /// Active challenge: the operator turns their head (left or right).
    /// Asked anyway, in a random direction, when the policy enables PAD.
    #[arg(long, value_parser = ["left", "right"])]
    pub challenge: Option<String>,
    /// Folder with the face models (default: COUNTERSIGN_MODELS, else the
    /// source tree's assets/models, filled by scripts/setup.sh).
    #[arg(long, env = "COUNTERSIGN_MODELS")]
    pub models: Option<PathBuf>,
}

impl FaceSourceArgs {
    pub fn is_set(&self) -> bool {
        !self.replay.is_empty() || self.camera.is_some()
    }

    fn open_source(&self) -> Result<Box<dyn Source>, countersign_capture::CaptureError> {
        if let Some(id) = &self.camera {
            return CameraBackend.open(id, self.resolution);
        }
        Ok(Box::new(ReplaySource::open(
            &self.replay,
            ReplayOptions {
                rate_hz: self.replay_fps,
                looping: false,
                resolution: self.resolution,
            },
        )?))
    }

    fn matcher(&self) -> anyhow::Result<Matcher> {
        let dir = self
            .models
            .clone()
            .unwrap_or_else(countersign_matcher::default_models_dir);
        Ok(Matcher::load(&dir, MatcherConfig::default())?)
    }
}

fn challenge(a: &FaceSourceArgs, e: &Engine) -> Option<Challenge> {
    match a.challenge.as_deref() {
        Some("left") => Some(Challenge::TurnLeft),
        Some("right") => Some(Challenge::TurnRight),
        _ if e.policy().attempts.pad_enabled => Some(if rand::random::<bool>() {
            Challenge::TurnLeft
        } else {
            Challenge::TurnRight
        }),
        _ => None,
    }
}

/// The attempts of `stepup` on the real matcher, after identification.
pub fn attempts(e: &mut Engine, s: &mut StepUp, f: &FaceSourceArgs) -> anyhow::Result<()> {
    use countersign_core::session::SessionEvent;
    let matcher = f.matcher()?;
    let mut source = match f.open_source() {
        Ok(src) => Some(src),
        Err(err) if err.is_device_unavailable() => {
            // The device is not there: that is the device_unavailable trigger.
            e.apply(s, SessionEvent::Intent)?;
            let device = f.camera.clone().unwrap_or_else(|| "replay".into());
            e.capture_unavailable(s, &device, f.camera.is_none(), &err)?;
            println!("capture device unavailable: {err}");
            None
        }
        Err(err) => return Err(err).context("opening the capture source"),
    };
    if let Some(src) = source.as_mut() {
        let info = src.info().clone();
        println!(
            "capture: {} ({}, {}{})",
            info.id,
            info.driver,
            info.resolution,
            if info.replay {
                ", REPLAY: frames from files, not a live camera"
            } else {
                ""
            }
        );
        for _ in 0..f.attempts.max(1) {
            if matches!(
                s.session.state,
                SessionState::Succeeded { .. } | SessionState::Cancelled { .. }
            ) {
                break;
            }
            if let Err(err) = e.apply(s, SessionEvent::Intent) {
                println!("attempt refused: {err}");
                break;
            }
            let ch = challenge(f, e);
            if let Some(c) = ch {
                println!("challenge: {}", c.instruction());
            }
            match e.face_attempt(s, &matcher, src.as_mut(), f.burst, ch)? {
                FaceAttempt::DeviceUnavailable { detail, .. } => {
                    println!("capture device unavailable: {detail}");
                    break;
                }
                FaceAttempt::QualityFailure { reason } => {
                    println!("capture rejected by the quality gates: {reason}");
                }
                FaceAttempt::Scored {
                    score,
                    threshold,
                    pad_passed,
                    matched,
                } => println!(
                    "attempt {}: score {score:.3} vs threshold {threshold:.3}, presentation-attack checks {}: {}",
                    s.session.attempt_no,
                    if pad_passed { "passed" } else { "FAILED" },
                    if matched { "match" } else { "no match" }
                ),
            }
        }
    }
    Ok(())
}

/// `countersign enroll`.
#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The operator to enroll.
    pub person: String,
    /// The supervisor who witnesses (two factors: secret from
    /// COUNTERSIGN_SECRET or stdin, and --otp).
    #[arg(long)]
    pub witness: String,
    /// The witness's current TOTP code.
    #[arg(long)]
    pub otp: String,
    /// Captures that must pass the quality gates.
    #[arg(long, default_value_t = 3)]
    pub captures: usize,
    /// Enroll a finger instead (libfprint): --finger [NAME] with --reader or --finger-images.
    #[command(flatten)]
    pub finger: Box<crate::cmd_finger::FingerSourceArgs>,
    #[command(flatten)]
    pub face: Box<FaceSourceArgs>,
}

pub fn enroll(cli: &Cli, a: &EnrollArgs) -> anyhow::Result<()> {
    if a.finger.is_set() {
        return crate::cmd_finger::enroll(cli, &a.person, &a.witness, &a.otp, &a.finger);
    }
    if !a.face.is_set() {
        bail!("no capture source: pass --replay FILES_OR_DIR or --camera ID");
    }
    let mut e = crate::open(cli)?;
    if !a.face.replay.is_empty() {
        e.require_demo("enroll --replay (a face from image files)")?;
    }
    let matcher = a.face.matcher()?;
    let mut src = a.face.open_source().context("opening the capture source")?;
    let secret = read_secret(&a.witness)?;
    let r = e.enroll_face(
        &a.person,
        &a.witness,
        &secret,
        &a.otp,
        &matcher,
        src.as_mut(),
        a.captures,
    )?;
    if cli.json {
        return print_json(&r);
    }
    println!(
        "{} enrolled (face, {} captures of {} frames from {}{}), witnessed by {}; template {}",
        r.person,
        r.accepted_captures,
        r.frames_seen,
        r.device.id,
        if r.device.replay { ", a replay" } else { "" },
        r.witness,
        r.template_sha256
    );
    Ok(())
}

/// `countersign devices`.
pub fn devices(cli: &Cli) -> anyhow::Result<()> {
    let list = CameraBackend.list()?;
    if cli.json {
        return print_json(&list);
    }
    if !countersign_capture::camera::CAMERA_SUPPORT {
        println!(
            "this build has no camera support (cargo feature `camera` of countersign-capture)"
        );
    }
    if list.is_empty() {
        println!("no camera found; use --replay FILES_OR_DIR to replay images instead");
    }
    for d in list {
        println!("{}\t{}\t{}", d.id, d.driver, d.name);
    }
    Ok(())
}

/// `init --demo --demo-faces DIR`: the demo enrollment and replay scenes.
pub fn install_demo_faces(cli: &Cli, faces: &std::path::Path) -> anyhow::Result<()> {
    let matcher = Matcher::load(
        &countersign_matcher::default_models_dir(),
        MatcherConfig::default(),
    )
    .context("loading the face models for the demo enrollment")?;
    let mut e = crate::open(cli)?;
    let r = e
        .install_demo_faces(faces, &matcher)
        .with_context(|| format!("installing the demo faces from {}", faces.display()))?;
    for en in &r.enrolled {
        println!(
            "demo enrollment: {} enrolled from {} photos (a replay), witnessed by {}",
            en.person, en.accepted_captures, en.witness
        );
    }
    for p in &r.already_enrolled {
        println!("demo enrollment: {p} already enrolled; left as it was");
    }
    println!(
        "replay camera scenes: {} (in {})",
        r.scenes.join(", "),
        cli.data_dir.join(countersign_engine::REPLAY_DIR).display()
    );
    Ok(())
}
