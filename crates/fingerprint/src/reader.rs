//! A libfprint reader on its own thread.
//!
//! libfprint's `FpDevice` is not `Send`, and its synchronous calls iterate
//! GLib's default main context. So a [`Reader`] owns one worker thread that
//! creates the `FpContext`, opens the device and runs every operation; the
//! caller talks to it over channels and gets [`ReaderEvent`]s (finger
//! needed, retry) while an operation runs, on the caller's own thread.
//!
//! One reader at a time per process: the virtual driver is chosen by a
//! process-wide environment variable and the default main context has one
//! owner, so opening a second reader waits until the first is closed.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use countersign_capture::{CaptureError, DeviceInfo, Resolution};
use gio::prelude::CancellableExt;
use glib::prelude::*;
use libfprint_rs::{Cancellable, FpContext, FpDevice, FpImage, FpPrint};

use crate::error::{classify, FingerprintError};
use crate::finger::Finger;
use crate::synth::GreyImage;
use crate::Template;

static LIBFPRINT: Mutex<()> = Mutex::new(());

/// The environment variable that makes libfprint list its virtual image
/// device, listening on that Unix socket.
pub const VIRTUAL_IMAGE_ENV: &str = "FP_VIRTUAL_IMAGE";

/// Which reader to open.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderSpec {
    /// libfprint's `virtual_image` driver listening on this socket path
    /// (images are injected: the evidence says `replay: true`).
    Virtual { socket: PathBuf },
    /// A reader by id (`libfprint:<driver>:<device id>`, as `list` prints),
    /// or by driver name.
    Id(String),
    /// The first image reader libfprint finds.
    First,
}

/// One captured impression: the evidence sample.
#[derive(Clone)]
pub struct Impression {
    pub image: GreyImage,
    /// Pixels per millimetre as libfprint reports it (19.685 = 500 dpi).
    pub ppmm: f64,
    /// Wall-clock time the operation delivered it, ms since the epoch.
    pub captured_ms: i64,
}

impl std::fmt::Debug for Impression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Impression({:?}, {:.3} ppmm, at {})",
            self.image, self.ppmm, self.captured_ms
        )
    }
}

/// What a reader tells its caller while an operation runs.
#[derive(Debug, Clone, PartialEq)]
pub enum ReaderEvent {
    /// Present a finger now (`stage` of `stages` for an enrollment, 0 of 1 otherwise).
    AwaitingFinger {
        op: &'static str,
        stage: u32,
        stages: u32,
    },
    /// The last scan was rejected; present again.
    Retry { reason: String },
}

/// A finished enrollment.
#[derive(Debug)]
pub struct Enrolled {
    pub template: Template,
    /// The impressions that made each stage, in order.
    pub impressions: Vec<Impression>,
    pub stages: u32,
}

/// A finished verification: libfprint's decision at the driver's fixed
/// threshold (it exposes no score) and the probe's impression.
#[derive(Debug)]
pub struct Verified {
    pub matched: bool,
    pub probe: Option<Impression>,
}

enum Cmd {
    Capture,
    Enroll { finger: Finger },
    Verify(Vec<u8>),
}

enum Outcome {
    Captured(Impression),
    Enrolled(Enrolled),
    Verified(Verified),
}

enum Msg {
    Event(ReaderEvent),
    Done(Result<Outcome, FingerprintError>),
}

struct Job {
    cmd: Cmd,
    cancel: Cancellable,
    reply: mpsc::Sender<Msg>,
}

/// An open libfprint reader (the handle is `Send`; the device stays on its
/// thread, in this process or in a helper process: see [`crate::helper`]).
#[derive(Debug)]
pub struct Reader {
    info: DeviceInfo,
    stages: u32,
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<std::thread::JoinHandle<()>>,
    helper: Option<crate::helper::Client>,
    timeout: Duration,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn impression(img: &FpImage) -> Impression {
    Impression {
        image: GreyImage {
            width: img.width(),
            height: img.height(),
            pixels: img.data(),
        },
        ppmm: img.ppmm(),
        captured_ms: now_ms(),
    }
}

fn device_info(dev: &FpDevice) -> DeviceInfo {
    let driver = dev.driver();
    let name: Option<String> = dev.property("name");
    DeviceInfo {
        id: format!("libfprint:{driver}:{}", dev.device_id()),
        replay: driver.starts_with("virtual_"),
        name: name.unwrap_or_else(|| driver.clone()),
        driver,
        // An image reader's size is known once it delivers an image; each
        // impression records its own.
        resolution: Resolution::new(0, 0),
    }
}

/// Lists libfprint's readers (with `FP_VIRTUAL_IMAGE` set, the virtual one too).
pub fn list_readers() -> Result<Vec<DeviceInfo>, FingerprintError> {
    let _lock = LIBFPRINT.lock().unwrap_or_else(|p| p.into_inner());
    let h = std::thread::spawn(|| {
        let ctx = FpContext::new();
        ctx.devices().iter().map(device_info).collect::<Vec<_>>()
    });
    h.join()
        .map_err(|_| FingerprintError::Libfprint("listing readers panicked".into()))
}

struct Progress {
    reply: mpsc::Sender<Msg>,
    stages: u32,
    device: String,
    impressions: Rc<RefCell<Vec<Impression>>>,
}

fn on_progress(
    _dev: &FpDevice,
    completed: i32,
    print: Option<FpPrint>,
    error: Option<libfprint_rs::GError>,
    data: &Option<Progress>,
) {
    let Some(p) = data else { return };
    if let Some(e) = error {
        let reason = match classify(&p.device, &e) {
            FingerprintError::Retry { reason, .. } => reason,
            other => other.to_string(),
        };
        let _ = p.reply.send(Msg::Event(ReaderEvent::Retry { reason }));
    } else if let Some(img) = print.as_ref().and_then(|pr| pr.image()) {
        p.impressions.borrow_mut().push(impression(&img));
    }
    let completed = completed.max(0) as u32;
    if completed < p.stages {
        let _ = p.reply.send(Msg::Event(ReaderEvent::AwaitingFinger {
            op: "enroll",
            stage: completed,
            stages: p.stages,
        }));
    }
}

fn deserialize(bytes: &[u8]) -> Result<FpPrint, FingerprintError> {
    // libfprint-rs turns a failed deserialisation into a null GError, so
    // only bytes that look like a libfprint print are passed on.
    if bytes.len() < 8 || !bytes.starts_with(b"FP") {
        return Err(FingerprintError::Template("not a libfprint print".into()));
    }
    FpPrint::deserialize(bytes).map_err(|e| FingerprintError::Template(e.message().into()))
}

fn run_job(dev: &FpDevice, id: &str, stages: u32, job: &Job) -> Result<Outcome, FingerprintError> {
    let say = |e: ReaderEvent| {
        let _ = job.reply.send(Msg::Event(e));
    };
    let cancel = Some(&job.cancel);
    let err = |e: libfprint_rs::GError| classify(id, &e);
    match &job.cmd {
        Cmd::Capture => {
            say(ReaderEvent::AwaitingFinger {
                op: "capture",
                stage: 0,
                stages: 1,
            });
            let img = dev.capture_sync(true, cancel).map_err(err)?;
            Ok(Outcome::Captured(impression(&img)))
        }
        Cmd::Enroll { finger } => {
            let template = FpPrint::new(dev);
            template.set_finger(finger.fp());
            template.set_description("countersign");
            let impressions = Rc::new(RefCell::new(Vec::new()));
            let progress = Progress {
                reply: job.reply.clone(),
                stages,
                device: id.into(),
                impressions: impressions.clone(),
            };
            say(ReaderEvent::AwaitingFinger {
                op: "enroll",
                stage: 0,
                stages,
            });
            let print = dev
                .enroll_sync(template, cancel, Some(on_progress), Some(progress))
                .map_err(err)?;
            let bytes = print
                .serialize()
                .map_err(|e| FingerprintError::Template(e.message().into()))?;
            let impressions = impressions.borrow().clone();
            Ok(Outcome::Enrolled(Enrolled {
                template: Template::new(bytes),
                impressions,
                stages,
            }))
        }
        Cmd::Verify(bytes) => {
            let enrolled = deserialize(bytes)?;
            let mut probe = FpPrint::new(dev);
            say(ReaderEvent::AwaitingFinger {
                op: "verify",
                stage: 0,
                stages: 1,
            });
            let matched = dev
                .verify_sync(
                    &enrolled,
                    Some(job.cancel.clone()),
                    None::<libfprint_rs::FpMatchCb<()>>,
                    None,
                    Some(&mut probe),
                )
                .map_err(err)?;
            Ok(Outcome::Verified(Verified {
                matched,
                probe: probe.image().map(|i| impression(&i)),
            }))
        }
    }
}

fn pick(devices: &[FpDevice], spec: &ReaderSpec) -> Result<FpDevice, FingerprintError> {
    let found = match spec {
        ReaderSpec::Virtual { .. } => devices.iter().find(|d| d.driver() == "virtual_image"),
        ReaderSpec::Id(id) => devices
            .iter()
            .find(|d| device_info(d).id == *id || d.driver() == *id),
        ReaderSpec::First => devices.first(),
    };
    found.cloned().ok_or_else(|| {
        let want = match spec {
            ReaderSpec::Virtual { socket } => format!("virtual_image at {}", socket.display()),
            ReaderSpec::Id(id) => id.clone(),
            ReaderSpec::First => "any fingerprint reader".into(),
        };
        CaptureError::NotFound {
            device: want,
            detail: format!("libfprint lists {} reader(s)", devices.len()),
        }
        .into()
    })
}

fn worker(
    spec: ReaderSpec,
    init: mpsc::Sender<Result<(DeviceInfo, u32), FingerprintError>>,
    jobs: mpsc::Receiver<Job>,
) {
    let _lock = LIBFPRINT.lock().unwrap_or_else(|p| p.into_inner());
    if let ReaderSpec::Virtual { socket } = &spec {
        std::env::set_var(VIRTUAL_IMAGE_ENV, socket);
    }
    let main = glib::MainContext::default();
    let Ok(_owner) = main.acquire() else {
        let _ = init.send(Err(FingerprintError::Libfprint(
            "GLib's default main context is owned by another thread (a GTK main loop?): libfprint's synchronous calls need it".into(),
        )));
        return;
    };
    let ctx = FpContext::new();
    let devices = ctx.devices();
    let opened = pick(&devices, &spec).and_then(|dev| {
        let info = device_info(&dev);
        // (libfprint-rs does not export its feature enum; its Debug name is enough)
        let can_capture = dev.features().iter().any(|f| format!("{f:?}") == "Capture");
        if !can_capture {
            return Err(FingerprintError::NoImage { device: info.id });
        }
        dev.open_sync(None).map_err(|e| classify(&info.id, &e))?;
        let stages = dev.nr_enroll_stage().max(1) as u32;
        Ok((dev, info, stages))
    });
    let (dev, info, stages) = match opened {
        Ok(v) => v,
        Err(e) => {
            let _ = init.send(Err(e));
            std::env::remove_var(VIRTUAL_IMAGE_ENV);
            return;
        }
    };
    let _ = init.send(Ok((info.clone(), stages)));
    let mut removed = false;
    for job in jobs {
        let r = if removed {
            Err(CaptureError::Unplugged {
                device: info.id.clone(),
                detail: "the reader was removed".into(),
            }
            .into())
        } else {
            run_job(&dev, &info.id, stages, &job)
        };
        if let Err(FingerprintError::Device(CaptureError::Unplugged { .. })) = &r {
            removed = true;
        }
        let _ = job.reply.send(Msg::Done(r));
    }
    if !removed {
        let _ = dev.close_sync(None);
    }
    drop(devices);
    drop(ctx);
    std::env::remove_var(VIRTUAL_IMAGE_ENV);
}

impl Reader {
    /// Opens a reader on a new worker thread. `timeout`: how long an
    /// operation may wait for a finger (between two events) before it is
    /// cancelled and reported as [`FingerprintError::TimedOut`].
    pub fn open(spec: ReaderSpec, timeout: Duration) -> Result<Reader, FingerprintError> {
        let (init_tx, init_rx) = mpsc::channel();
        let (job_tx, job_rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("libfprint".into())
            .spawn(move || worker(spec, init_tx, job_rx))
            .map_err(|e| FingerprintError::Io {
                context: "starting the libfprint thread".into(),
                source: e,
            })?;
        match init_rx.recv() {
            Ok(Ok((info, stages))) => Ok(Reader {
                info,
                stages,
                jobs: Some(job_tx),
                worker: Some(worker),
                helper: None,
                timeout,
            }),
            Ok(Err(e)) => {
                let _ = worker.join();
                Err(e)
            }
            Err(_) => {
                let _ = worker.join();
                Err(FingerprintError::Libfprint(
                    "the libfprint thread died while opening the reader".into(),
                ))
            }
        }
    }

    /// Opens a reader in a helper process started with `helper` (for a
    /// process whose GLib default main context is owned by GTK). The same
    /// operations, events, results and typed errors as [`Reader::open`].
    pub fn open_in_helper(
        helper: &crate::helper::HelperCommand,
        spec: ReaderSpec,
        timeout: Duration,
    ) -> Result<Reader, FingerprintError> {
        let (client, info, stages) = crate::helper::open(helper, spec, timeout)?;
        Ok(Reader {
            info,
            stages,
            jobs: None,
            worker: None,
            helper: Some(client),
            timeout,
        })
    }

    /// True when the reader runs in a helper process.
    pub fn in_helper(&self) -> bool {
        self.helper.is_some()
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Enrollment stages (impressions) the driver asks for.
    pub fn enroll_stages(&self) -> u32 {
        self.stages
    }

    fn run(
        &mut self,
        cmd: Cmd,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Outcome, FingerprintError> {
        let jobs = self.jobs.as_ref().ok_or_else(|| {
            FingerprintError::Libfprint("the reader is stuck in a cancelled operation".into())
        })?;
        let (tx, rx) = mpsc::channel();
        let cancel = Cancellable::new();
        jobs.send(Job {
            cmd,
            cancel: cancel.clone(),
            reply: tx,
        })
        .map_err(|_| FingerprintError::Libfprint("the libfprint thread has stopped".into()))?;
        let mut deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Msg::Event(e)) => {
                    on_event(&e);
                    deadline = Instant::now() + self.timeout;
                }
                Ok(Msg::Done(r)) => return r,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    cancel.cancel();
                    let timed_out = FingerprintError::TimedOut {
                        device: self.info.id.clone(),
                        secs: self.timeout.as_secs(),
                    };
                    // libfprint answers a cancel at once; if it does not, the
                    // reader is unusable and says so from now on.
                    loop {
                        match rx.recv_timeout(Duration::from_secs(10)) {
                            Ok(Msg::Event(_)) => continue,
                            Ok(Msg::Done(_)) => return Err(timed_out),
                            Err(_) => {
                                self.jobs = None;
                                return Err(timed_out);
                            }
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(FingerprintError::Libfprint(
                        "the libfprint thread has stopped".into(),
                    ))
                }
            }
        }
    }

    /// Captures one image (`fp_device_capture`).
    pub fn capture(
        &mut self,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Impression, FingerprintError> {
        let wait = crate::helper::reply_wait(self.timeout);
        if let Some(h) = self.helper.as_mut() {
            return h.capture(wait, on_event);
        }
        match self.run(Cmd::Capture, on_event)? {
            Outcome::Captured(i) => Ok(i),
            _ => unreachable!("capture answers Captured"),
        }
    }

    /// Enrolls a finger: as many impressions as the driver's stages.
    pub fn enroll(
        &mut self,
        finger: Finger,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Enrolled, FingerprintError> {
        let wait = crate::helper::reply_wait(self.timeout);
        if let Some(h) = self.helper.as_mut() {
            return h.enroll(finger, wait, on_event);
        }
        match self.run(Cmd::Enroll { finger }, on_event)? {
            Outcome::Enrolled(e) => Ok(e),
            _ => unreachable!("enroll answers Enrolled"),
        }
    }

    /// Verifies one presented finger against `template`.
    pub fn verify(
        &mut self,
        template: &Template,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Verified, FingerprintError> {
        let wait = crate::helper::reply_wait(self.timeout);
        if let Some(h) = self.helper.as_mut() {
            return h.verify(template, wait, on_event);
        }
        match self.run(Cmd::Verify(template.bytes().to_vec()), on_event)? {
            Outcome::Verified(v) => Ok(v),
            _ => unreachable!("verify answers Verified"),
        }
    }

    /// Closes the device and ends its thread.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(mut h) = self.helper.take() {
            h.shutdown();
        }
        self.jobs = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.shutdown();
    }
}
