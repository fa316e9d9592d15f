//! The kiosk's local anchor (see `countersign_ledger::AnchorGuard`): where
//! its state dir is, what `countersign anchor status` shows, and the
//! admin's re-seed.
//!
//! The state dir is **outside the data dir**, so a restored copy of the
//! data dir does not bring its anchor back: `--state-dir`, else
//! `COUNTERSIGN_STATE_DIR`, else `$XDG_STATE_HOME/countersign`, else
//! `~/.local/state/countersign`; one sub-directory per kiosk id, 0700, so
//! several data dirs share it without colliding.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use countersign_ledger::{Alarm, AnchorGuard, AnchorRecord, EventRef, LedgerError};
use serde::Serialize;
use serde_json::json;

use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError};

/// The environment variable naming the state dir.
pub const STATE_DIR_ENV: &str = "COUNTERSIGN_STATE_DIR";

static STATE_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Sets the state dir for this process (the CLI's `--state-dir`; in-process
/// tests give theirs a temporary one). Wins over the environment.
pub fn set_state_dir(dir: impl Into<PathBuf>) {
    *STATE_DIR.lock().unwrap_or_else(|p| p.into_inner()) = Some(dir.into());
}

/// The state dir in force (see the module docs).
pub fn state_dir() -> PathBuf {
    if let Some(d) = STATE_DIR.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        return d;
    }
    if let Some(x) = std::env::var_os(STATE_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(x);
    }
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("countersign");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/state/countersign"))
        .unwrap_or_else(|| PathBuf::from("countersign-state"))
}

/// Refuses a state dir inside the data dir `data_root` (which need not
/// exist yet): a restored copy of the data dir would carry its anchor back.
pub(crate) fn check_outside(data_root: &Path) -> Result<PathBuf, EngineError> {
    let root = state_dir();
    // Lexically, on absolute paths with the existing part canonicalised.
    let abs = crate::recovery::resolved;
    if abs(&root).starts_with(abs(data_root)) {
        return Err(EngineError::Invalid(format!(
            "the state dir {} is inside the data dir {}: a restored copy of the data dir would carry its anchor back; choose another (--state-dir or {STATE_DIR_ENV})",
            root.display(),
            data_root.display()
        )));
    }
    Ok(root)
}

/// The anchor guard of `kiosk_id`, whose data dir is `data_root`. A state
/// dir inside the data dir is refused: a restored copy would carry it.
pub fn guard_for(kiosk_id: &str, data_root: &Path) -> Result<AnchorGuard, EngineError> {
    let root = check_outside(data_root)?;
    if !root.exists() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&root).map_err(EngineError::io("creating the state dir", &root))?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
            .map_err(EngineError::io("setting the state dir's mode", &root))?;
    }
    Ok(AnchorGuard::new(root.join(kiosk_id))?)
}

/// The anchor against the ledger, for `countersign anchor status`,
/// `countersign status` and the app.
#[derive(Debug, Clone, Serialize)]
pub struct AnchorStatus {
    pub state_dir: PathBuf,
    pub anchor: Option<AnchorRecord>,
    pub ledger_head: Option<EventRef>,
    pub alarm: Option<Alarm>,
    /// `None` when the ledger may be written; else the stable code and why.
    pub problem: Option<AnchorProblem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnchorProblem {
    pub code: crate::Code,
    pub message: String,
}

impl Engine {
    /// The anchor, the alarm and the ledger head (reads only).
    pub fn anchor_status(&self) -> Result<AnchorStatus, EngineError> {
        let guard = self
            .ledger
            .anchor()
            .ok_or_else(|| EngineError::Invalid("this ledger has no anchor guard".into()))?;
        let problem = match self.ledger.anchor_check() {
            Ok(()) => None,
            Err(LedgerError::Anchor { code, message }) => Some(AnchorProblem { code, message }),
            Err(e) => return Err(e.into()),
        };
        Ok(AnchorStatus {
            state_dir: guard.dir().to_path_buf(),
            anchor: guard.read().ok().flatten(),
            ledger_head: self.ledger.head()?,
            alarm: guard.alarm()?,
            problem,
        })
    }

    /// Raises an alarm in the state dir (the sync pass, when the bucket is
    /// ahead of or forks from the local chain): from now on nothing new is
    /// signed, in this process or any other, until an admin re-seeds.
    pub fn raise_alarm(
        &self,
        code: crate::Code,
        message: &str,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let guard = self
            .ledger
            .anchor()
            .ok_or_else(|| EngineError::Invalid("this ledger has no anchor guard".into()))?;
        guard.raise(&Alarm {
            code: code.as_str().into(),
            message: message.into(),
            detected_ms: self.now(),
            detail,
        })?;
        Ok(())
    }

    /// An admin's re-seed, with two factors, after investigation: the
    /// anchor is missing, behind, on another chain or an alarm is raised.
    /// Records `anchor.reseeded` (the admin, the previous anchor, the ledger
    /// head, the alarm and the problem it answers), then anchors the new
    /// head and clears the alarm. Refused when there is nothing to re-seed.
    /// The sign-in is recorded even when it fails; nothing else is written.
    pub fn reseed_anchor(
        &mut self,
        by: &str,
        secret: &str,
        otp: &str,
        reason: &str,
    ) -> Result<AnchorStatus, EngineError> {
        self.reseed_anchor_with(by, secret, otp, reason, serde_json::Value::Null)
    }

    /// [`Engine::reseed_anchor`], recording what the bucket said (the CLI
    /// checks it first when sync is configured: a re-seed never accepts a
    /// ledger behind or off the bucket's chain, unless the admin skipped
    /// the check, which is recorded too).
    pub fn reseed_anchor_with(
        &mut self,
        by: &str,
        secret: &str,
        otp: &str,
        reason: &str,
        bucket: serde_json::Value,
    ) -> Result<AnchorStatus, EngineError> {
        let before = self.anchor_status()?;
        let Some(problem) = before.problem.clone() else {
            return Err(EngineError::Invalid(
                "the anchor agrees with the ledger and no alarm is raised: nothing to re-seed"
                    .into(),
            ));
        };
        self.ledger.bypass_anchor(true);
        let result = (|| -> Result<(), EngineError> {
            let pass = self.admin_sign_in(by, secret, otp, "anchor reseed")?;
            let by = self.admin_act(&pass)?;
            let now = self.now();
            self.ledger.append(
                &Ev::new(
                    kinds::ANCHOR_RESEEDED,
                    now,
                    json!({
                        "by": by,
                        "reason": reason,
                        "problem": problem,
                        "previous_anchor": before.anchor.as_ref().map(|a| json!({"seq": a.seq, "hash": a.hash})),
                        "ledger_head": before.ledger_head.as_ref().map(|h| json!({"seq": h.seq, "hash": h.hash_hex})),
                        "alarm": before.alarm,
                        "state_dir": before.state_dir,
                        "bucket": bucket,
                    }),
                )
                .build(),
            )?;
            self.ledger.reseed_anchor(now)?;
            Ok(())
        })();
        self.ledger.bypass_anchor(false);
        result?;
        self.anchor_status()
    }
}

/// For in-process tests: points this process at its own state dir under
/// the system temp dir (`countersign-test-state-<pid>`), once, so tests
/// never touch the real one in the home directory. Child processes get it
/// through [`STATE_DIR_ENV`] from the caller. Returns the dir.
pub fn use_test_state_dir() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("countersign-test-state-{}", std::process::id()));
        set_state_dir(&d);
        d
    })
    .clone()
}
