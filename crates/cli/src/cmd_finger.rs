//! The fingerprint commands: `enroll --finger`, `stepup --finger`,
//! `eval --finger DIR`, `fpgen`, `bench --finger`, `devices` (readers).
//!
//! A reader is a real libfprint image reader (`--reader ID`, default the
//! first one) or libfprint's `virtual_image` driver fed with image files
//! (`--finger-images FILES`; the words `remove` and `retry` in the list send
//! those commands instead of an image). Fed images are labelled as such
//! (`replay: true`) in every message and evidence record.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use countersign_core::session::SessionEvent;
use countersign_core::SessionState;
use countersign_engine::{Engine, FingerAttempt, StepUp};
use countersign_fingerprint::{
    eval, synth, Finger, GreyImage, Presentation, Reader, ReaderEvent, ReaderSpec, VirtualFeeder,
};

use crate::args::Cli;
use crate::util::read_secret;

/// Where fingerprints come from.
#[derive(Debug, Args, Clone)]
pub struct FingerSourceArgs {
    /// Use the fingerprint path (libfprint); optionally which finger
    /// (e.g. right-index-finger, left-thumb). Default right-index-finger.
    #[arg(long, num_args = 0..=1, default_missing_value = "right-index-finger")]
    pub finger: Option<Finger>,
    /// A libfprint reader id (`countersign devices` lists them; default: the first image reader).
    #[arg(long, conflicts_with = "finger_images")]
    pub reader: Option<String>,
    /// Feed libfprint's virtual_image reader with these images, one per
    /// presentation; `remove` unplugs the reader, `retry` asks for a rescan.
    /// Demo data dirs only (refused.demo_only elsewhere).
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub finger_images: Vec<String>,
    /// Seconds to wait for a finger before an operation is cancelled.
    #[arg(long, default_value_t = 30)]
    pub finger_timeout: u64,
}

impl FingerSourceArgs {
    pub fn is_set(&self) -> bool {
        self.finger.is_some()
    }
}

/// An open reader and, for the virtual one, the feeder and its socket dir.
pub struct Session {
    pub reader: Reader,
    feeder: Option<VirtualFeeder>,
    _dir: Option<tempfile::TempDir>,
}

impl Session {
    pub fn fed_remaining(&self) -> Option<usize> {
        self.feeder.as_ref().map(VirtualFeeder::remaining)
    }
}

fn load_presentation(item: &str) -> anyhow::Result<Presentation> {
    Ok(match item {
        "remove" => Presentation::Remove,
        "retry" => Presentation::Retry(0),
        path => {
            let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
            let img = GreyImage::from_png_bytes(&bytes)
                .map_err(|e| anyhow::anyhow!("{path} is not an image: {e}"))?;
            Presentation::Image(img)
        }
    })
}

/// Opens the reader the flags name. A reader that is not there is
/// returned as the error (the caller decides whether it is the
/// device_unavailable trigger).
pub fn open(
    a: &FingerSourceArgs,
) -> anyhow::Result<Result<Session, countersign_fingerprint::FingerprintError>> {
    let timeout = Duration::from_secs(a.finger_timeout.max(1));
    if a.finger_images.is_empty() {
        let spec = a.reader.clone().map_or(ReaderSpec::First, ReaderSpec::Id);
        return Ok(Reader::open(spec, timeout).map(|reader| Session {
            reader,
            feeder: None,
            _dir: None,
        }));
    }
    let items = a
        .finger_images
        .iter()
        .map(|i| load_presentation(i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dir = tempfile::Builder::new()
        .prefix("countersign-fp-")
        .tempdir()
        .context("creating the virtual reader's socket dir")?;
    let socket = countersign_fingerprint::virtual_socket_in(dir.path());
    let mut feeder = VirtualFeeder::new(&socket);
    for i in items {
        feeder.push(i);
    }
    Ok(
        Reader::open(ReaderSpec::Virtual { socket }, timeout).map(|reader| Session {
            reader,
            feeder: Some(feeder),
            _dir: Some(dir),
        }),
    )
}

fn describe(r: &Reader) -> String {
    let i = r.info();
    format!(
        "reader: {} ({}{})",
        i.id,
        i.name,
        if i.replay {
            ", VIRTUAL: images fed from files, not a live finger"
        } else {
            ""
        }
    )
}

/// `countersign enroll PERSON --finger [NAME] --witness SUP --otp CODE`.
pub fn enroll(
    cli: &Cli,
    person: &str,
    witness: &str,
    otp: &str,
    a: &FingerSourceArgs,
) -> anyhow::Result<()> {
    let finger = a.finger.unwrap_or(Finger::RightIndexFinger);
    if !a.finger_images.is_empty() {
        // Before the virtual reader starts (the engine refuses it too).
        crate::open(cli)?.require_demo("enroll --finger-images (prints fed from files)")?;
    }
    let mut session = open(a)?.context("opening the fingerprint reader")?;
    println!("{}", describe(&session.reader));
    let needed = session.reader.enroll_stages() as usize;
    if let Some(n) = session.fed_remaining() {
        if n < needed {
            bail!("enrollment on this reader takes {needed} impressions (its enroll stages); --finger-images has {n}");
        }
    }
    let secret = read_secret(&format!("{witness}'s password or PIN"))?;
    let mut e = crate::open(cli)?;
    let (reader, mut hook) = split(&mut session);
    let r = e.enroll_finger(person, witness, &secret, otp, reader, finger, &mut hook)?;
    println!(
        "enrolled {}'s {} ({} impressions, witnessed by {}); template {} sealed",
        r.person,
        r.finger.name(),
        r.impressions,
        r.witness,
        &r.template_sha256[..16]
    );
    Ok(())
}

/// Splits a session into the reader and an event hook over the feeder.
fn split(s: &mut Session) -> (&mut Reader, impl FnMut(&ReaderEvent) + '_) {
    let Session { reader, feeder, .. } = s;
    let hook = move |e: &ReaderEvent| match feeder.as_mut() {
        Some(f) => f.on_event(e),
        None => match e {
            ReaderEvent::AwaitingFinger { op, stage, stages } if *stages > 1 => {
                println!(
                    "{op}: place the finger on the reader ({}/{stages})",
                    stage + 1
                )
            }
            ReaderEvent::AwaitingFinger { op, .. } => {
                println!("{op}: place the finger on the reader")
            }
            ReaderEvent::Retry { reason } => println!("scan rejected: {reason}; again"),
        },
    };
    (reader, hook)
}

/// The attempts of `stepup --finger`, after identification.
pub fn attempts(
    e: &mut Engine,
    s: &mut StepUp,
    f: &FingerSourceArgs,
    attempts: usize,
) -> anyhow::Result<()> {
    let mut session = match open(f)? {
        Ok(sess) => Some(sess),
        Err(err) if err.is_device_unavailable() => {
            e.apply(s, SessionEvent::Intent)?;
            let device = f.reader.clone().unwrap_or_else(|| "libfprint:any".into());
            let virtual_reader = !f.finger_images.is_empty();
            e.finger_reader_unavailable(s, &device, virtual_reader, &err)?;
            println!("fingerprint reader unavailable: {err}");
            None
        }
        Err(err) => return Err(err).context("opening the fingerprint reader"),
    };
    if let Some(sess) = session.as_mut() {
        println!("{}", describe(&sess.reader));
        let (reader, mut hook) = split(sess);
        for _ in 0..attempts.max(1) {
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
            match e.finger_attempt(s, reader, &mut hook)? {
                FingerAttempt::DeviceUnavailable { detail, .. } => {
                    println!("fingerprint reader unavailable: {detail}");
                    break;
                }
                FingerAttempt::QualityFailure { reason } => println!("scan rejected: {reason}"),
                FingerAttempt::Decided { matched } => println!(
                    "attempt {}: libfprint decision (no score exposed): {}",
                    s.session.attempt_no,
                    if matched { "match" } else { "no match" }
                ),
            }
        }
    }
    Ok(())
}

/// `countersign eval --finger DIR`.
pub fn eval(dir: &Path, json: Option<&Path>) -> anyhow::Result<()> {
    let (ids, unreadable) = eval::load_dir(dir)?;
    if ids.is_empty() {
        bail!("{} has no <finger>/<image> folders", dir.display());
    }
    let sock = tempfile::Builder::new()
        .prefix("countersign-fp-")
        .tempdir()?;
    let mut rep = eval::evaluate(&ids, sock.path(), &mut |line| println!("{line}"))?;
    rep.failed_images.extend(unreadable);
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |x| format!("{:.2}%", x * 100.0));
    println!("device: {}", rep.device);
    println!(
        "fingers: {} ({} enrolled, {} stages each)",
        rep.identities, rep.enrolled, rep.enroll_stages
    );
    let ci = |errors: usize, n: usize| {
        countersign_matcher::eval::Rate::new(errors as u64, n as u64).describe()
    };
    println!(
        "genuine: {} compared, {} matched, {} failed to capture/extract -> FNMR {}",
        rep.genuine.compared,
        rep.genuine.matched,
        rep.genuine.failed_to_capture,
        pct(rep.fnmr)
    );
    println!(
        "  FNMR {}",
        ci(
            rep.genuine.compared - rep.genuine.matched,
            rep.genuine.compared
        )
    );
    println!(
        "impostor (every impression of every other finger): {} compared, {} matched, {} failed to capture/extract -> FMR {}",
        rep.impostor.compared,
        rep.impostor.matched,
        rep.impostor.failed_to_capture,
        pct(rep.fmr)
    );
    println!("  FMR {}", ci(rep.impostor.matched, rep.impostor.compared));
    for r in &rep.by_presses {
        println!(
            "enrolled from {} distinct impression(s) over {} presses: {} fingers, genuine {} compared, {} matched -> FNMR {}",
            r.distinct,
            r.presses,
            r.enrolled,
            r.genuine.compared,
            r.genuine.matched,
            pct(r.fnmr)
        );
    }
    for (f, why) in &rep.failed_to_enroll {
        println!("failed to enroll {f}: {why}");
    }
    for (p, why) in &rep.failed_images {
        println!("failed image {p}: {why}");
    }
    if let (Some(ms_e), Some(ms_v)) = (rep.mean_enroll_ms, rep.mean_verify_ms) {
        println!("mean enroll {ms_e:.0} ms, mean verify {ms_v:.0} ms");
    }
    println!("note: {}", rep.threshold);
    if rep.impostor.compared < 1000 {
        println!(
            "note: {} impostor comparisons cannot support an FMR below about {:.0e}",
            rep.impostor.compared,
            3.0 / rep.impostor.compared.max(1) as f64
        );
    }
    if let Some(p) = json {
        std::fs::write(p, serde_json::to_vec_pretty(&rep)?)
            .with_context(|| format!("writing {}", p.display()))?;
        println!("report written to {}", p.display());
    }
    Ok(())
}

/// `countersign fpgen DIR`.
#[derive(Debug, Args)]
pub struct FpgenArgs {
    /// Output folder: DIR/f<seed>/<n>.png.
    pub dir: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub fingers: u32,
    #[arg(long, default_value_t = 8)]
    pub impressions: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn fpgen(a: &FpgenArgs) -> anyhow::Result<()> {
    let files = synth::write_set(&a.dir, a.seed, a.fingers, a.impressions)
        .with_context(|| format!("writing {}", a.dir.display()))?;
    println!(
        "wrote {} synthetic impressions ({} fingers x {}, seeds {}..{}) to {}",
        files.len(),
        a.fingers,
        a.impressions,
        a.seed,
        a.seed + u64::from(a.fingers),
        a.dir.display()
    );
    Ok(())
}

/// `countersign bench --finger`.
pub fn bench(rounds: usize, out: Option<&Path>) -> anyhow::Result<()> {
    let sock = tempfile::Builder::new()
        .prefix("countersign-fp-")
        .tempdir()?;
    let b = eval::bench(rounds, sock.path())?;
    let stats = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let med = s.get(s.len() / 2).copied().unwrap_or(f64::NAN);
        let mean = s.iter().sum::<f64>() / s.len().max(1) as f64;
        format!(
            "mean {mean:.1} ms, median {med:.1} ms, max {:.1} ms",
            s.last().copied().unwrap_or(f64::NAN)
        )
    };
    let text = format!(
        "fingerprint (libfprint virtual_image, NBIS), {rounds} rounds\nopen reader: {:.1} ms\nenroll (5 impressions fed): {}\nverify genuine: {} ({} of {rounds} matched)\nverify impostor: {} ({} of {rounds} matched)\n",
        b.open_ms,
        stats(&b.enroll_ms),
        stats(&b.verify_genuine_ms),
        b.genuine_matched,
        stats(&b.verify_impostor_ms),
        b.impostor_matched
    );
    print!("{text}");
    if let Some(p) = out {
        std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Fingerprint readers for `countersign devices`.
pub fn list() -> anyhow::Result<()> {
    let readers = countersign_fingerprint::list_readers()?;
    if readers.is_empty() {
        println!("no fingerprint reader (libfprint lists none)");
    }
    for r in readers {
        println!("{}\t{}\t{}", r.id, r.driver, r.name);
    }
    Ok(())
}

/// `init --demo --demo-fingers`: otto's witnessed demo finger enrollment on
/// the virtual_image reader and the app's demo impressions.
pub fn install_demo_fingers(cli: &Cli) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("countersign-fp-")
        .tempdir()
        .context("creating the virtual reader's socket dir")?;
    let socket = countersign_fingerprint::virtual_socket_in(dir.path());
    let mut reader = Reader::open(
        ReaderSpec::Virtual {
            socket: socket.clone(),
        },
        Duration::from_secs(30),
    )
    .context("opening libfprint's virtual_image reader for the demo enrollment")?;
    let mut e = crate::open(cli)?;
    let r = e
        .install_demo_fingers(&mut reader, &socket)
        .context("installing the demo fingers")?;
    reader.close();
    match &r.enrolled {
        Some(en) => println!(
            "demo enrollment: {} {} enrolled from {} synthetic impressions on the VIRTUAL reader {}, witnessed by {}",
            en.person,
            en.finger.name(),
            en.impressions,
            en.device.id,
            en.witness
        ),
        None => println!(
            "demo enrollment: {} already has a finger enrolled; left as it was",
            countersign_engine::DEMO_FINGER_PERSON
        ),
    }
    println!(
        "demo impressions for the app's virtual reader: {} (in {})",
        r.scenes.join(", "),
        cli.data_dir
            .join(countersign_engine::FINGER_SCENES_DIR)
            .display()
    );
    Ok(())
}
