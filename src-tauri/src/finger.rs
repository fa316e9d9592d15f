//! The window's fingerprint reader.
//!
//! libfprint cannot run inside the window's process: its synchronous calls
//! iterate GLib's global default main context, which GTK's main loop owns
//! (ARCHITECTURE.md). Every reader operation therefore runs in a helper
//! process, this same binary started as `countersign-app
//! --fingerprint-helper` (`main.rs` hands it to
//! `countersign_fingerprint::helper` before Tauri or GTK start). One helper
//! per attempt: it opens the reader, runs the verification and exits.
//!
//! On a real kiosk (any data dir not made by `countersign init --demo`) the
//! reader is `COUNTERSIGN_FINGER_READER`, else the first libfprint reader
//! that is not the `virtual_image` driver; with none, an attempt is the
//! device-unavailable trigger. There are no scenes and no virtual reader
//! (setting a scene is refused with `refused.demo_only`; the engine refuses
//! a virtual reader's evidence in any case).
//!
//! On a demo data dir, without `COUNTERSIGN_FINGER_READER`, the reader is
//! libfprint's own `virtual_image` driver fed with the demo impressions of
//! `<data dir>/fingers/<scene>/` (`countersign init --demo --demo-fingers`),
//! like the replay camera: labelled VIRTUAL in the status, the prompt and
//! (`replay: true`) every evidence record. Two built-in scenes exercise the
//! failure paths through the real driver: `poor-scan` (libfprint's "scan
//! again") and `reader-removed` (the device disappears: the
//! device-unavailable trigger).

use crate::ipc::Code;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use countersign_fingerprint::{
    list_readers_in_helper, virtual_socket_in, FingerprintError, GreyImage, HelperCommand,
    Presentation, Reader, ReaderEvent, ReaderSpec, VirtualFeeder,
};

use crate::ipc::{self, codes, FingerPhase, IpcError};

/// A libfprint reader id (`countersign devices` lists them) or `first`;
/// unset: the virtual demo reader on a demo data dir, else `first`.
pub const ENV_FINGER_READER: &str = "COUNTERSIGN_FINGER_READER";
/// The argument that makes the app binary a reader helper.
pub const HELPER_ARG: &str = "--fingerprint-helper";
/// Built-in demo scenes (no folder): libfprint's retry, and a removed reader.
pub const SCENE_POOR_SCAN: &str = "poor-scan";
pub const SCENE_REMOVED: &str = "reader-removed";
/// How long a finger may take to arrive before the attempt is a quality
/// failure (`finger.timed_out`).
pub const FINGER_TIMEOUT: Duration = Duration::from_secs(30);
/// In the demo, how long "the operator" takes to put the finger on the
/// virtual reader once it asks (so the prompt's states can be seen).
pub const DEMO_PLACE_DELAY: Duration = Duration::from_millis(1200);

/// True when this process was started as the reader helper.
pub fn is_helper_invocation(args: &[String]) -> bool {
    args.get(1).map(String::as_str) == Some(HELPER_ARG)
}

/// Which reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderChoice {
    /// libfprint's `virtual_image` fed from the scenes under `root`.
    Virtual { root: PathBuf },
    /// A real reader by id, or the first one that is not virtual (`None`).
    Real { id: Option<String> },
}

/// The id recorded when a real kiosk has no fingerprint reader at all.
pub const NO_READER: &str = "libfprint:none";

/// libfprint's virtual drivers (`virtual_image`, ...): test affordances.
fn is_virtual_driver(d: &countersign_capture::DeviceInfo) -> bool {
    d.replay || d.driver.starts_with("virtual_")
}

/// The fingerprint state shared by the commands.
pub struct Fingers {
    choice: ReaderChoice,
    /// The data dir is a demo (`init --demo`): scenes may be chosen.
    demo: bool,
    helper: HelperCommand,
    timeout: Duration,
    place_delay: Duration,
    inner: Mutex<Inner>,
    progress: Mutex<ipc::FingerProgress>,
}

struct Inner {
    scene: Option<String>,
    /// Which impression of the scene the next attempt presents.
    next: usize,
}

impl std::fmt::Debug for Fingers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingers")
            .field("choice", &self.choice)
            .finish()
    }
}

/// An opened reader for one operation, with the demo feeder.
#[derive(Debug)]
pub struct OpenReader {
    pub reader: Reader,
    feeder: Option<VirtualFeeder>,
    _dir: Option<tempfile::TempDir>,
}

/// What an attempt reads from.
#[derive(Debug)]
pub enum AttemptReader {
    Open(Box<OpenReader>),
    /// `virtual_reader`: the reader that could not be opened was the
    /// demo's virtual one.
    Unavailable {
        device: String,
        virtual_reader: bool,
        error: FingerprintError,
    },
}

fn lock_err() -> IpcError {
    IpcError::new(codes::INTERNAL, "fingerprint state lock poisoned")
}

pub(crate) fn finger_err(e: &FingerprintError) -> IpcError {
    IpcError::new(e.code(), e.to_string())
}

/// Scene folders under `root` (each a folder of impressions), then the
/// built-in scenes.
pub fn scenes(root: &Path) -> Vec<String> {
    let mut out = crate::capture::scenes(root);
    out.push(SCENE_POOR_SCAN.into());
    out.push(SCENE_REMOVED.into());
    out
}

fn images_of(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("png") || x.eq_ignore_ascii_case("pgm"))
        })
        .collect();
    files.sort();
    files
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

impl Fingers {
    /// The app's reader: `COUNTERSIGN_FINGER_READER`, else on a demo data
    /// dir the virtual demo reader over `<data dir>/fingers/`, else the
    /// first real reader; operations in helpers started from this very
    /// binary.
    pub fn from_env(data_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Fingers {
        let demo = countersign_engine::is_demo_dir(data_dir);
        let choice = match env(ENV_FINGER_READER).filter(|v| !v.is_empty()) {
            Some(v) if v == "first" => ReaderChoice::Real { id: None },
            Some(v) => ReaderChoice::Real { id: Some(v) },
            None if demo => ReaderChoice::Virtual {
                root: data_dir.join(countersign_engine::FINGER_SCENES_DIR),
            },
            None => ReaderChoice::Real { id: None },
        };
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("countersign-app"));
        Fingers::with_mode(
            choice,
            HelperCommand::new(exe, &[HELPER_ARG]),
            FINGER_TIMEOUT,
            DEMO_PLACE_DELAY,
            demo,
        )
    }

    /// Scenes may be chosen when `choice` is the virtual reader (tests;
    /// the app uses [`Fingers::from_env`]).
    pub fn new(
        choice: ReaderChoice,
        helper: HelperCommand,
        timeout: Duration,
        place_delay: Duration,
    ) -> Fingers {
        let demo = matches!(choice, ReaderChoice::Virtual { .. });
        Fingers::with_mode(choice, helper, timeout, place_delay, demo)
    }

    /// `demo`: the data dir is a demo one, where scenes may be chosen.
    pub fn with_mode(
        choice: ReaderChoice,
        helper: HelperCommand,
        timeout: Duration,
        place_delay: Duration,
        demo: bool,
    ) -> Fingers {
        let scene = match &choice {
            ReaderChoice::Virtual { root } => {
                let all = crate::capture::scenes(root);
                all.iter()
                    .find(|s| s.contains("otto"))
                    .or(all.first())
                    .cloned()
            }
            ReaderChoice::Real { .. } => None,
        };
        let virtual_reader = matches!(choice, ReaderChoice::Virtual { .. });
        Fingers {
            choice,
            demo,
            helper,
            timeout,
            place_delay,
            inner: Mutex::new(Inner { scene, next: 0 }),
            progress: Mutex::new(ipc::FingerProgress::idle(virtual_reader)),
        }
    }

    /// Which reader this is.
    pub fn choice(&self) -> &ReaderChoice {
        &self.choice
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self.choice, ReaderChoice::Virtual { .. })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, IpcError> {
        self.inner.lock().map_err(|_| lock_err())
    }

    /// The reader's status (libfprint's list, through a helper), without
    /// who is enrolled (the service adds that).
    pub fn status(&self) -> Result<ipc::FingerStatus, IpcError> {
        let scene = self.lock()?.scene.clone();
        let (virtual_reader, source, scenes, want, socket_dir) = match &self.choice {
            ReaderChoice::Virtual { root } => {
                let dir = socket_dir()?;
                (
                    true,
                    root.display().to_string(),
                    scenes(root),
                    None,
                    Some(dir),
                )
            }
            ReaderChoice::Real { id } => (
                false,
                id.clone().unwrap_or_else(|| "first".into()),
                vec![],
                id.clone(),
                None,
            ),
        };
        let socket = socket_dir.as_ref().map(|d| virtual_socket_in(d.path()));
        let (device, error) = match list_readers_in_helper(&self.helper, socket) {
            Ok(list) => {
                let found = list.iter().find(|d| match (&want, virtual_reader) {
                    (_, true) => d.driver == "virtual_image",
                    (Some(id), false) => d.id == *id || d.driver == *id,
                    (None, false) => !is_virtual_driver(d),
                });
                match found {
                    Some(d) => (Some(device_view(d)), None),
                    None => (
                        None,
                        Some(IpcError::new(
                            Code::CaptureNotFound,
                            format!(
                                "fingerprint reader {source} not found: libfprint lists {} reader(s)",
                                list.len()
                            ),
                        )),
                    ),
                }
            }
            Err(e) => (None, Some(finger_err(&e))),
        };
        Ok(ipc::FingerStatus {
            virtual_reader,
            source,
            scenes,
            scene,
            device,
            error,
            enrolled: vec![],
        })
    }

    /// Picks another demo scene (virtual reader only, demo data dir only:
    /// refused with `refused.demo_only` on a real kiosk).
    pub fn set_scene(&self, scene: &str) -> Result<(), IpcError> {
        if !self.demo {
            return Err(IpcError::new(
                codes::DEMO_ONLY,
                "demo finger scenes exist only on a demo data dir (countersign init --demo)",
            ));
        }
        let ReaderChoice::Virtual { root } = &self.choice else {
            return Err(IpcError::new(
                codes::NOT_REPLAY,
                "the fingerprint reader is a real one: there are no demo scenes",
            ));
        };
        if !scenes(root).iter().any(|s| s == scene) {
            return Err(IpcError::new(
                codes::UNKNOWN_SCENE,
                format!("no demo finger scene {scene:?} in {}", root.display()),
            ));
        }
        let mut g = self.lock()?;
        g.scene = Some(scene.to_string());
        g.next = 0;
        Ok(())
    }

    /// What the demo presents next: one impression of the scene (in turn),
    /// or the built-in command.
    fn next_presentation(&self) -> Result<Presentation, IpcError> {
        let ReaderChoice::Virtual { root } = &self.choice else {
            unreachable!("only the virtual reader is fed");
        };
        let mut g = self.lock()?;
        let scene = g.scene.clone().ok_or_else(|| {
            IpcError::new(
                codes::UNKNOWN_SCENE,
                format!(
                    "no demo finger impressions in {} (countersign init --demo --demo-fingers)",
                    root.display()
                ),
            )
        })?;
        match scene.as_str() {
            SCENE_POOR_SCAN => return Ok(Presentation::Retry(0)),
            SCENE_REMOVED => return Ok(Presentation::Remove),
            _ => {}
        }
        let files = images_of(&root.join(&scene));
        if files.is_empty() {
            return Err(IpcError::new(
                codes::UNKNOWN_SCENE,
                format!("demo finger scene {scene:?} has no images"),
            ));
        }
        let path = &files[g.next % files.len()];
        g.next += 1;
        let bytes = std::fs::read(path).map_err(|e| {
            IpcError::new(
                codes::UNKNOWN_SCENE,
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let img = GreyImage::from_png_bytes(&bytes).map_err(|e| {
            IpcError::new(
                codes::UNKNOWN_SCENE,
                format!("{} is not an image: {e}", path.display()),
            )
        })?;
        Ok(Presentation::Image(img))
    }

    /// Opens the reader for one operation (in a helper). For the demo, the
    /// feeder gets `presentations` (or the scene's next one). A reader that
    /// is not there is returned as `Unavailable` (the trigger); errors of
    /// the app itself (no helper, no demo scene) are `Err`.
    pub fn open(
        &self,
        presentations: Option<Vec<Presentation>>,
    ) -> Result<AttemptReader, IpcError> {
        self.set_phase(FingerPhase::Opening, None, 0, 0);
        let (spec, feeder, dir) = match &self.choice {
            ReaderChoice::Virtual { .. } => {
                let items = match presentations {
                    Some(v) => v,
                    None => vec![self.next_presentation()?],
                };
                let dir = socket_dir()?;
                let socket = virtual_socket_in(dir.path());
                let mut feeder = VirtualFeeder::new(&socket);
                for p in items {
                    feeder.push(p);
                }
                (ReaderSpec::Virtual { socket }, Some(feeder), Some(dir))
            }
            ReaderChoice::Real { id: Some(id) } => (ReaderSpec::Id(id.clone()), None, None),
            ReaderChoice::Real { id: None } => match self.first_real_reader() {
                Ok(Some(id)) => (ReaderSpec::Id(id), None, None),
                Ok(None) => return Ok(AttemptReader::Unavailable {
                    device: NO_READER.into(),
                    virtual_reader: false,
                    error: FingerprintError::Device(countersign_capture::CaptureError::NotFound {
                        device: NO_READER.into(),
                        detail:
                            "libfprint lists no fingerprint reader (a virtual one never counts)"
                                .into(),
                    }),
                }),
                Err(e) if e.is_device_unavailable() => {
                    return Ok(AttemptReader::Unavailable {
                        device: NO_READER.into(),
                        virtual_reader: false,
                        error: e,
                    })
                }
                Err(e) => {
                    self.done();
                    return Err(finger_err(&e));
                }
            },
        };
        let virtual_reader = matches!(spec, ReaderSpec::Virtual { .. });
        let device = match &spec {
            ReaderSpec::Virtual { .. } => "libfprint:virtual_image".to_string(),
            ReaderSpec::Id(id) => id.clone(),
            ReaderSpec::First => "libfprint:first".to_string(),
        };
        match Reader::open_in_helper(&self.helper, spec, self.timeout) {
            Ok(reader) => Ok(AttemptReader::Open(Box::new(OpenReader {
                reader,
                feeder,
                _dir: dir,
            }))),
            Err(error) if error.is_device_unavailable() => Ok(AttemptReader::Unavailable {
                device,
                virtual_reader,
                error,
            }),
            Err(e) => {
                self.done();
                Err(finger_err(&e))
            }
        }
    }

    /// The id of the first reader libfprint lists that is not a virtual
    /// driver (listed through a helper).
    fn first_real_reader(&self) -> Result<Option<String>, FingerprintError> {
        let list = list_readers_in_helper(&self.helper, None)?;
        Ok(list
            .into_iter()
            .find(|d| !is_virtual_driver(d))
            .map(|d| d.id))
    }

    /// The reader's event hook during an operation: progress for the
    /// prompt, and for the demo the impression once "placed".
    pub fn on_event(&self, feeder: &mut Option<VirtualFeeder>, e: &ReaderEvent) {
        match e {
            ReaderEvent::AwaitingFinger { stage, stages, .. } => {
                self.set_phase(FingerPhase::AwaitingFinger, None, *stage, *stages);
                if let Some(f) = feeder.as_mut() {
                    if f.remaining() > 0 {
                        std::thread::sleep(self.place_delay);
                        self.set_phase(FingerPhase::Scanning, None, *stage, *stages);
                        f.on_event(e);
                    }
                }
            }
            ReaderEvent::Retry { reason } => {
                let (stage, stages) = self
                    .progress
                    .lock()
                    .map(|p| (p.stage, p.stages))
                    .unwrap_or((0, 0));
                self.set_phase(FingerPhase::Retry, Some(reason.clone()), stage, stages);
            }
        }
    }

    fn set_phase(&self, phase: FingerPhase, retry_reason: Option<String>, stage: u32, stages: u32) {
        if let Ok(mut p) = self.progress.lock() {
            *p = ipc::FingerProgress {
                phase,
                stage,
                stages,
                retry_reason,
                virtual_reader: self.is_virtual(),
            };
        }
    }

    /// The operation ended (the step-up view says how).
    pub fn done(&self) {
        self.set_phase(FingerPhase::Idle, None, 0, 0);
    }

    pub fn progress(&self) -> Result<ipc::FingerProgress, IpcError> {
        self.progress
            .lock()
            .map(|p| p.clone())
            .map_err(|_| lock_err())
    }

    /// The demo impressions an enrollment presents: every image of the
    /// scene, in turn, as many as the reader's stages.
    pub fn enrollment_presentations(&self, stages: usize) -> Result<Vec<Presentation>, IpcError> {
        (0..stages).map(|_| self.next_presentation()).collect()
    }
}

impl OpenReader {
    /// The reader and the demo feeder, borrowed apart (the feeder goes to
    /// the event hook while the reader runs).
    pub fn parts(&mut self) -> (&mut Reader, &mut Option<VirtualFeeder>) {
        (&mut self.reader, &mut self.feeder)
    }
}

fn socket_dir() -> Result<tempfile::TempDir, IpcError> {
    tempfile::Builder::new()
        .prefix("countersign-fp-")
        .tempdir()
        .map_err(|e| {
            IpcError::new(
                codes::INTERNAL,
                format!("cannot create the virtual reader's socket dir: {e}"),
            )
        })
}
