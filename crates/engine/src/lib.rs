//! The application layer of Countersign.
//!
//! An [`Engine`] owns one data dir: the policy file, the kiosk keys and the
//! evidence ledger. Every use case here (people, step-up, overrides, review)
//! runs the pure state machines of `countersign-core` and records each
//! transition, accepted or refused, as a signed ledger event. The CLI and the
//! desktop app are thin shells over this crate.
//!
//! Unlike the core, the engine has a clock and a random source; both are
//! injectable ([`Clock`]) so tests can move time.

pub mod anchor;
mod assertions;
mod breakglass;
mod breakglass_client;
pub mod calibration;
mod client_auth;
mod clients;
mod console;
mod datadir;
mod demo;
mod demo_faces;
mod demo_fingers;
mod error;
mod evidence;
mod face;
mod finger;
mod monotonic;
mod overrides;
mod people;
mod private_files;
pub mod recovery;
mod requests;
mod samples;
mod stepup;

pub use anchor::{
    set_state_dir, state_dir, use_test_state_dir, AnchorProblem, AnchorStatus, STATE_DIR_ENV,
};
pub use assertions::{AssertionOutcome, AssertionRequest, REQUEST_TTL_MS};
pub use breakglass_client::ClientBreakGlassRequest;
pub use client_auth::{AuthLimits, ClientAuthGuard};
pub use clients::{
    ClientCredential, ClientView, NewClientCredential, RegisteredPrincipal, SignedRequest,
    CLIENTS_FILE, NONCES_FILE, PRINCIPALS_FILE,
};
pub use console::{codes as console_codes, ConsolePass, ConsoleRole};
pub use countersign_codes::{ApiAnswer, Code};
pub use datadir::{DataDir, DemoPerson, FirstAdmin, InitOptions, InitReport, DEMO_PEOPLE};
pub use demo::DemoCredential;
pub use demo_faces::{is_demo_dir, DemoFaces, DEMO_WITNESS, REPLAY_DIR};
pub use demo_fingers::{DemoFingers, DEMO_FINGER, DEMO_FINGER_PERSON, FINGER_SCENES_DIR};
pub use error::EngineError;
pub use evidence::kinds;
pub use face::{FaceAttempt, FaceEnrollment, TEMPLATE_MEDIA_TYPE};
pub use finger::{FingerAttempt, FingerEnrollment};
pub use overrides::{OverrideFilter, OverrideView, ReviewInput};
pub use people::{AdminPass, PersonView, Provisioning, ADMIN_PASS_MS};
pub use requests::OpenRequest;
pub use samples::{sample_refs, ReviewerPass, Sample, SampleRef, REVIEWER_PASS_MS};
pub use stepup::{StepUp, StepUpOutcome};

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use countersign_core::{Ms, Policy};
use countersign_ledger::Ledger;

pub use monotonic::{boot_anchor, judged_now, BootAnchor};

/// How far the wall clock may be behind the newest ledger event before the
/// engine refuses to write (`clock.behind_ledger`): a few seconds, for NTP
/// slewing and for two processes whose clock reads race. More than that
/// means the clock was set back, and writing would stamp evidence out of
/// order and let an expired grant or request look live. The refusal is
/// itself recorded (`clock.behind_ledger`, stamped with the newest time)
/// and shown by `countersign status`. Enforced by the ledger inside each
/// write transaction (`Ledger::guard_clock`).
pub const CLOCK_TOLERANCE_MS: Ms = 5_000;

/// The stable code of a write refused because the clock is behind the ledger.
pub const CLOCK_BEHIND_CODE: Code = Code::ClockBehindLedger;

/// The clock against the ledger, for `countersign status` and the app.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClockStatus {
    pub now_ms: Ms,
    pub newest_event_ms: Option<Ms>,
    /// How far the clock is behind the newest event (0 when not).
    pub behind_ms: Ms,
    pub tolerance_ms: Ms,
    /// The engine refuses to write now ([`CLOCK_BEHIND_CODE`]).
    pub writes_refused: bool,
    /// `clock.behind_ledger` while writes are refused.
    pub code: Option<Code>,
    /// The newest recorded refusal, if any.
    pub last_refusal: Option<ClockRefusal>,
}

/// A recorded `clock.behind_ledger` event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClockRefusal {
    pub seq: u64,
    pub ts_ms: Ms,
    pub observed_ms: Ms,
    pub behind_ms: Ms,
}

/// Where the engine gets the time from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> Ms;
    /// Where this clock sits on the kernel's boot timeline, which a changed
    /// wall clock cannot move (see [`judged_now`]). `None` (the default,
    /// and a test's manual clock): the wall clock alone decides.
    fn boot_anchor(&self) -> Option<BootAnchor> {
        None
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Ms {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as Ms)
            .unwrap_or(0)
    }
    fn boot_anchor(&self) -> Option<BootAnchor> {
        boot_anchor()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(ms: Ms) -> Self {
        ManualClock(Arc::new(AtomicI64::new(ms)))
    }
    pub fn advance(&self, ms: Ms) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Ms {
        self.0.load(Ordering::SeqCst)
    }
}

/// One open data dir.
#[derive(Debug)]
pub struct Engine {
    pub(crate) dir: DataDir,
    pub(crate) policy: Policy,
    pub(crate) ledger: Ledger,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) kiosk_id: String,
}

/// Where the score of the face matcher comes from, as each attempt records
/// it (`score_source`).
pub const FACE_SCORE_SOURCE: &str = "matcher:yunet+sface";

/// What a measured attempt's event records beside the session event: where
/// its score came from and the device's evidence, under its key (`face`,
/// `finger`). An argument of [`Engine::apply_with`], never state of the
/// engine: an event applied without it is test input (a demo's only).
#[derive(Debug, Clone)]
pub(crate) struct AttemptEvidence {
    pub score_source: &'static str,
    pub key: &'static str,
    pub device: serde_json::Value,
}

impl AttemptEvidence {
    pub(crate) fn face(device: serde_json::Value) -> Self {
        Self {
            score_source: FACE_SCORE_SOURCE,
            key: "face",
            device,
        }
    }

    /// libfprint decides and exposes no score: 100 or 0 stand for its decision.
    pub(crate) fn finger(device: serde_json::Value) -> Self {
        Self {
            score_source: "libfprint_decision",
            key: "finger",
            device,
        }
    }

    /// A result given, not measured: accepted only on a demo data dir.
    pub(crate) fn test_input() -> Self {
        Self {
            score_source: "test_input",
            key: "test_input",
            device: serde_json::json!({ "demo": true, "note": "a result given, not measured: accepted only because this data dir is a demo" }),
        }
    }
}

impl Engine {
    /// Opens an initialised data dir with the system clock.
    pub fn open(dir: impl Into<std::path::PathBuf>) -> Result<Engine, EngineError> {
        Self::open_with_clock(dir, Box::new(SystemClock))
    }

    pub fn open_with_clock(
        dir: impl Into<std::path::PathBuf>,
        clock: Box<dyn Clock>,
    ) -> Result<Engine, EngineError> {
        let dir = DataDir::new(dir.into());
        dir.open(clock)
    }

    /// Opens a data dir for reading and investigation even when its ledger
    /// disagrees with the local anchor or an alarm is raised (`log verify`,
    /// `status`, `anchor status`, `anchor reseed`): the anchor still refuses
    /// every write, and nothing is written at open. [`Engine::open`] refuses
    /// such a dir outright.
    pub fn open_for_audit(dir: impl Into<std::path::PathBuf>) -> Result<Engine, EngineError> {
        DataDir::new(dir.into()).open_with(Box::new(SystemClock), false)
    }

    /// Whether the anchor lets this engine write (see [`Engine::anchor_status`]).
    pub fn anchor_ok(&self) -> bool {
        self.ledger.anchor_check().is_ok()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.root()
    }

    pub fn kiosk_id(&self) -> &str {
        &self.kiosk_id
    }

    pub fn now(&self) -> Ms {
        self.clock.now_ms()
    }

    /// The clock against the newest ledger event (reads only).
    pub fn clock_status(&self) -> Result<ClockStatus, EngineError> {
        let now_ms = self.now();
        let newest_event_ms = self.ledger.newest_ts_ms()?;
        let behind_ms = newest_event_ms.map_or(0, |n| (n - now_ms).max(0));
        let writes_refused = behind_ms > CLOCK_TOLERANCE_MS;
        let last_refusal = self
            .ledger
            .latest(&countersign_ledger::Filter {
                kinds: vec![countersign_ledger::KIND_CLOCK_BEHIND_LEDGER.into()],
                ..Default::default()
            })?
            .map(|r| ClockRefusal {
                seq: r.seq,
                ts_ms: r.ts_ms,
                observed_ms: r.body["observed_ms"].as_i64().unwrap_or_default(),
                behind_ms: r.body["behind_ms"].as_i64().unwrap_or_default(),
            });
        Ok(ClockStatus {
            now_ms,
            newest_event_ms,
            behind_ms,
            tolerance_ms: CLOCK_TOLERANCE_MS,
            writes_refused,
            code: writes_refused.then_some(CLOCK_BEHIND_CODE),
            last_refusal,
        })
    }

    /// Writes a signed checkpoint when the policy's `checkpoint_every`
    /// events have accumulated since the last one.
    pub fn maybe_checkpoint(&mut self) -> Result<(), EngineError> {
        let now = self.now();
        self.ledger
            .maybe_checkpoint(now, self.policy.retention.checkpoint_every)?;
        Ok(())
    }

    /// Purges sealed samples older than the policy's retention. Returns how many.
    pub fn purge_expired_samples(&mut self) -> Result<usize, EngineError> {
        let now = self.now();
        let cutoff = now - i64::from(self.policy.retention.sample_days) * 86_400_000;
        Ok(self.ledger.purge_blobs(
            cutoff,
            now,
            &format!(
                "retention: older than {} days",
                self.policy.retention.sample_days
            ),
        )?)
    }

    /// A random id with a readable prefix, e.g. `ovr-3f9a…`.
    pub(crate) fn new_id(prefix: &str) -> String {
        let bytes: [u8; 8] = rand::random();
        format!("{prefix}-{}", hex::encode(bytes))
    }
}
