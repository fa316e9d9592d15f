//! The window's capture source and face matcher.
//!
//! On a real kiosk (any data dir not made by `countersign init --demo`):
//! `COUNTERSIGN_CAMERA`, else the first V4L2 camera (on its own thread: see
//! [`open_camera`]); with none, every attempt is the `device_unavailable`
//! trigger. There is no replay: no scenes, no scene picker, and
//! `COUNTERSIGN_REPLAY_DIR` (a test affordance) is refused with
//! `refused.demo_only` (status, preview and attempts say so; an attempt is
//! refused, not a fallback, so setting the variable cannot fire one).
//!
//! On a demo data dir: a camera when one is attached, else the replay
//! scenes of the data dir (`<data dir>/replay/<scene>/`, put there by
//! `countersign init --demo --demo-faces`) or of `COUNTERSIGN_REPLAY_DIR`.
//! A replay says so everywhere: the status, every preview frame and
//! (through the capture crate's `DeviceInfo::replay`) every evidence record.
//! The engine refuses replayed evidence on a real kiosk in any case.
//!
//! Preview and attempts differ for a replay: the preview loops the scene at
//! a few frames per second; each attempt opens the scene afresh and takes
//! its burst from the first frame, so an attempt sees exactly the scene's
//! frames. A camera is opened once and shared by both (a second open would
//! find it busy).

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use countersign_capture::camera::CameraBackend;
use countersign_capture::replay::{ReplayOptions, ReplaySource};
use countersign_capture::threaded::ThreadedSource;
use countersign_capture::{Backend, CaptureError, Resolution, Source};
use countersign_matcher::{Matcher, MatcherConfig};

use crate::ipc::{self, codes, IpcError};

/// A folder of replay scenes (sub-folders) or of frames, used instead of
/// the data dir's `replay/`.
pub const ENV_REPLAY_DIR: &str = "COUNTERSIGN_REPLAY_DIR";
/// A camera id (`v4l2:...`, as `countersign devices` lists) to use instead
/// of the first one found.
pub const ENV_CAMERA: &str = "COUNTERSIGN_CAMERA";
/// Frames per attempt (the burst the quality gates, matcher and PAD see).
pub const BURST: usize = 2;
/// How often the preview's quality hint is recomputed (detection costs
/// tens of milliseconds; the preview asks several times a second).
const HINT_EVERY: Duration = Duration::from_millis(700);
/// Preview frames are scaled to fit this box.
const PREVIEW_FIT: Resolution = Resolution {
    width: 480,
    height: 360,
};

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Camera {
        id: String,
    },
    Replay {
        root: PathBuf,
    },
    /// A real kiosk with no camera: every attempt is `device_unavailable`.
    NoCamera,
    /// A real kiosk asked for a replay (`COUNTERSIGN_REPLAY_DIR`): refused.
    Refused {
        reason: String,
    },
}

/// The id recorded when a real kiosk has no camera at all.
pub const NO_CAMERA: &str = "v4l2:none";

/// The capture state shared by the commands.
pub struct Capture {
    spec: SourceSpec,
    models: PathBuf,
    /// The data dir is a demo (`init --demo`): replay scenes may be chosen.
    demo: bool,
    inner: Mutex<Inner>,
}

struct Inner {
    scene: Option<String>,
    /// The camera (shared by preview and attempts) or the looping preview
    /// of a replay scene.
    live: Option<Box<dyn Source + Send>>,
    matcher: Option<Arc<Matcher>>,
    hint: Option<(Instant, Option<String>)>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").field("spec", &self.spec).finish()
    }
}

fn lock_err() -> IpcError {
    IpcError::new(codes::INTERNAL, "capture state lock poisoned")
}

fn capture_err(e: &CaptureError) -> IpcError {
    IpcError::new(e.code(), e.to_string())
}

fn demo_only(reason: &str) -> IpcError {
    IpcError::new(codes::DEMO_ONLY, reason)
}

fn no_camera() -> CaptureError {
    CaptureError::NotFound {
        device: NO_CAMERA.into(),
        detail: "no camera is attached (and a real kiosk never replays images instead)".into(),
    }
}

/// Sub-folders of a replay root; a root that holds frames itself is one
/// scene named after it.
pub fn scenes(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".partial"))
        .collect();
    out.sort();
    out
}

impl Capture {
    /// Chooses the source. On a demo data dir: `COUNTERSIGN_REPLAY_DIR`
    /// when set (tests and demos stay replays on a machine with a camera),
    /// else a camera ([`first_camera`]), else `<data dir>/replay`. On any
    /// other: a camera, else [`SourceSpec::NoCamera`]; a replay dir is
    /// [`SourceSpec::Refused`].
    pub fn from_env(data_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Capture {
        let demo = countersign_engine::is_demo_dir(data_dir);
        let replay_dir = env(ENV_REPLAY_DIR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let spec = match (demo, replay_dir, first_camera(&env)) {
            (false, Some(root), _) => SourceSpec::Refused {
                reason: format!(
                    "{ENV_REPLAY_DIR}={} replays images as the camera, a test affordance \
                     only a demo data dir (countersign init --demo) accepts; unset it",
                    root.display()
                ),
            },
            (true, Some(root), _) => SourceSpec::Replay { root },
            (_, None, Some(id)) => SourceSpec::Camera { id },
            (true, None, None) => SourceSpec::Replay {
                root: data_dir.join(countersign_engine::REPLAY_DIR),
            },
            (false, None, None) => SourceSpec::NoCamera,
        };
        Capture::with_mode(spec, countersign_matcher::default_models_dir(), demo)
    }

    /// A capture over `spec`; scenes may be chosen when it is a replay
    /// (tests; the app uses [`Capture::from_env`]).
    pub fn new(spec: SourceSpec, models: PathBuf) -> Capture {
        let demo = matches!(spec, SourceSpec::Replay { .. });
        Capture::with_mode(spec, models, demo)
    }

    /// `demo`: the data dir is a demo one, where scenes may be chosen.
    pub fn with_mode(spec: SourceSpec, models: PathBuf, demo: bool) -> Capture {
        let scene = match &spec {
            SourceSpec::Replay { root } => {
                let all = scenes(root);
                all.iter()
                    .find(|s| s.contains("genuine"))
                    .or(all.first())
                    .cloned()
            }
            _ => None,
        };
        Capture {
            spec,
            models,
            demo,
            inner: Mutex::new(Inner {
                scene,
                live: None,
                matcher: None,
                hint: None,
            }),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, IpcError> {
        self.inner.lock().map_err(|_| lock_err())
    }

    /// The face matcher, loaded (and its model hashes checked) on first use.
    pub fn matcher(&self) -> Result<Arc<Matcher>, IpcError> {
        let mut g = self.lock()?;
        if let Some(m) = &g.matcher {
            return Ok(m.clone());
        }
        let m = Arc::new(
            Matcher::load(&self.models, MatcherConfig::default())
                .map_err(|e| IpcError::new(e.code(), e.to_string()))?,
        );
        g.matcher = Some(m.clone());
        Ok(m)
    }

    /// The frames of the chosen replay scene (folder).
    fn scene_path(&self, g: &Inner) -> Option<PathBuf> {
        match &self.spec {
            SourceSpec::Replay { root } => Some(match &g.scene {
                Some(s) => root.join(s),
                None => root.clone(),
            }),
            _ => None,
        }
    }

    /// What the status line and the admin screen show.
    pub fn status(&self) -> Result<ipc::CaptureStatus, IpcError> {
        let g = self.lock()?;
        Ok(match &self.spec {
            SourceSpec::Replay { root } => {
                let path = self.scene_path(&g).expect("a replay has a scene path");
                let (device, error) = match open_replay(&path, 0.0, false) {
                    Ok(s) => (Some(device_view(s.info())), None),
                    Err(e) => (None, Some(capture_err(&e))),
                };
                ipc::CaptureStatus {
                    replay: true,
                    source: root.display().to_string(),
                    scenes: scenes(root),
                    scene: g.scene.clone(),
                    device,
                    error,
                }
            }
            SourceSpec::Camera { id } => {
                // Health: the open camera, or an attempt to open it now.
                let mut g = g;
                let mut error = None;
                if g.live.is_none() {
                    match open_camera(id) {
                        Ok(s) => g.live = Some(s),
                        Err(e) => error = Some(capture_err(&e)),
                    }
                }
                ipc::CaptureStatus {
                    replay: false,
                    source: id.clone(),
                    scenes: vec![],
                    scene: None,
                    device: g.live.as_ref().map(|s| device_view(s.info())),
                    error,
                }
            }
            SourceSpec::NoCamera => ipc::CaptureStatus {
                replay: false,
                source: NO_CAMERA.into(),
                scenes: vec![],
                scene: None,
                device: None,
                error: Some(capture_err(&no_camera())),
            },
            SourceSpec::Refused { reason } => ipc::CaptureStatus {
                replay: false,
                source: ENV_REPLAY_DIR.into(),
                scenes: vec![],
                scene: None,
                device: None,
                error: Some(demo_only(reason)),
            },
        })
    }

    /// Picks another replay scene (only for a replay source, only on a
    /// demo data dir: refused with `refused.demo_only` on a real kiosk).
    pub fn set_scene(&self, scene: &str) -> Result<ipc::CaptureStatus, IpcError> {
        if !self.demo {
            return Err(demo_only(
                "replay scenes exist only on a demo data dir (countersign init --demo)",
            ));
        }
        {
            let mut g = self.lock()?;
            let SourceSpec::Replay { root } = &self.spec else {
                return Err(IpcError::new(
                    codes::NOT_REPLAY,
                    "the capture source is a camera: there are no replay scenes",
                ));
            };
            if !scenes(root).iter().any(|s| s == scene) {
                return Err(IpcError::new(
                    codes::UNKNOWN_SCENE,
                    format!("no replay scene {scene:?} in {}", root.display()),
                ));
            }
            g.scene = Some(scene.to_string());
            g.live = None;
            g.hint = None;
        }
        self.status()
    }

    /// The next preview frame as a JPEG data URL, with a quality hint.
    pub fn preview(&self) -> Result<ipc::PreviewFrame, IpcError> {
        let mut g = self.lock()?;
        if g.live.is_none() {
            g.live = Some(match &self.spec {
                SourceSpec::Replay { .. } => {
                    let path = self.scene_path(&g).expect("replay");
                    Box::new(open_replay(&path, 5.0, true).map_err(|e| capture_err(&e))?)
                }
                SourceSpec::Camera { id } => open_camera(id).map_err(|e| capture_err(&e))?,
                SourceSpec::NoCamera => return Err(capture_err(&no_camera())),
                SourceSpec::Refused { reason } => return Err(demo_only(reason)),
            });
        }
        let src = g.live.as_mut().expect("opened above");
        let frame = match src.next_frame() {
            Ok(f) => f,
            Err(e) => {
                g.live = None;
                return Err(capture_err(&e));
            }
        };
        let replay = src.info().replay;
        let small = image::DynamicImage::ImageRgb8(frame.image.clone()).resize(
            PREVIEW_FIT.width,
            PREVIEW_FIT.height,
            image::imageops::FilterType::Triangle,
        );
        let mut jpeg = Cursor::new(Vec::new());
        small
            .to_rgb8()
            .write_to(&mut jpeg, image::ImageFormat::Jpeg)
            .map_err(|e| {
                IpcError::new(codes::INTERNAL, format!("cannot encode the preview: {e}"))
            })?;
        let fresh = g
            .hint
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < HINT_EVERY);
        let hint = if fresh {
            g.hint.as_ref().and_then(|(_, h)| h.clone())
        } else {
            drop(g);
            let h = self.hint_for(&frame.image);
            let mut g = self.lock()?;
            g.hint = Some((Instant::now(), h.clone()));
            h
        };
        Ok(ipc::PreviewFrame {
            data_url: format!(
                "data:image/jpeg;base64,{}",
                data_encoding::BASE64.encode(&jpeg.into_inner())
            ),
            width: small.width(),
            height: small.height(),
            replay,
            origin: frame
                .origin
                .as_deref()
                .and_then(|o| Path::new(o).file_name())
                .map(|n| n.to_string_lossy().into_owned()),
            hint,
        })
    }

    /// The first failed quality gate of a frame (a stable code the UI
    /// turns into words), `None` when the frame would pass, or
    /// `"models_missing"` when the matcher cannot load.
    fn hint_for(&self, img: &countersign_capture::RgbImage) -> Option<String> {
        let m = match self.matcher() {
            Ok(m) => m,
            Err(_) => return Some("models_missing".into()),
        };
        match m.analyze(img) {
            Ok(a) if a.quality.passed => None,
            Ok(a) => a.quality.failures.first().cloned(),
            Err(_) => Some("no_face".into()),
        }
    }

    /// The source for one attempt: the shared camera, or the replay scene
    /// opened afresh. `Err` carries the device name and the error that fires
    /// the device-unavailable trigger.
    pub fn attempt_source(&self) -> Result<AttemptSource, IpcError> {
        let mut g = self.lock()?;
        Ok(match &self.spec {
            SourceSpec::Replay { .. } => {
                let path = self.scene_path(&g).expect("replay");
                match open_replay(&path, 0.0, false) {
                    Ok(s) => AttemptSource::Open(Box::new(s)),
                    Err(e) => AttemptSource::Unavailable {
                        device: format!("replay:{}", path.display()),
                        replay: true,
                        error: e,
                    },
                }
            }
            SourceSpec::Camera { id } => match g.live.take() {
                Some(s) => AttemptSource::Open(s),
                None => match open_camera(id) {
                    Ok(s) => AttemptSource::Open(s),
                    Err(e) => AttemptSource::Unavailable {
                        device: id.clone(),
                        replay: false,
                        error: e,
                    },
                },
            },
            SourceSpec::NoCamera => AttemptSource::Unavailable {
                device: NO_CAMERA.into(),
                replay: false,
                error: no_camera(),
            },
            SourceSpec::Refused { reason } => return Err(demo_only(reason)),
        })
    }

    /// Gives a camera back to the preview after an attempt.
    pub fn return_source(&self, s: Box<dyn Source + Send>) {
        if matches!(self.spec, SourceSpec::Camera { .. }) {
            if let Ok(mut g) = self.lock() {
                g.live = Some(s);
            }
        }
    }
}

/// What an attempt captures from.
#[derive(Debug)]
pub enum AttemptSource {
    Open(Box<dyn Source + Send>),
    /// `replay`: the source that could not be opened was a replay folder.
    Unavailable {
        device: String,
        replay: bool,
        error: CaptureError,
    },
}

fn device_view(d: &countersign_capture::DeviceInfo) -> ipc::DeviceView {
    ipc::DeviceView {
        id: d.id.clone(),
        driver: d.driver.clone(),
        name: d.name.clone(),
        width: d.resolution.width,
        height: d.resolution.height,
        replay: d.replay,
    }
}

fn open_replay(path: &Path, rate_hz: f64, looping: bool) -> Result<ReplaySource, CaptureError> {
    if !path.exists() {
        // A scene folder that is gone is an unplugged camera.
        return Err(CaptureError::NotFound {
            device: format!("replay:{}", path.display()),
            detail: "the replay folder does not exist".into(),
        });
    }
    ReplaySource::open(
        &[path.to_path_buf()],
        ReplayOptions {
            rate_hz,
            looping,
            resolution: None,
        },
    )
}

/// The camera to use: `COUNTERSIGN_CAMERA` if set (even if absent: then
/// the kiosk reports it unavailable rather than silently replaying), else
/// the first V4L2 camera listed.
fn first_camera(env: &impl Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(id) = env(ENV_CAMERA).filter(|v| !v.is_empty()) {
        return Some(id);
    }
    CameraBackend
        .list()
        .ok()
        .and_then(|l| l.into_iter().next())
        .map(|d| d.id)
}

/// Opens a camera on its own thread (nokhwa's handle is not `Send`; the
/// window's state must be), at about 640x480.
fn open_camera(id: &str) -> Result<Box<dyn Source + Send>, CaptureError> {
    let id = id.to_string();
    let s = ThreadedSource::open("camera", move || {
        CameraBackend.open(&id, Some(Resolution::new(640, 480)))
    })?;
    Ok(Box::new(s))
}

#[cfg(test)]
mod tests;
