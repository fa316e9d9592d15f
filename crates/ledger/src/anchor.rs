//! The local anchor: the newest (seq, hash) of the chain, signed by the
//! kiosk key, in a file of its own **outside the data dir** (a state dir
//! the engine chooses, one sub-directory per kiosk id).
//!
//! The ledger proves every row against its neighbours and the signed
//! `chain_head`, but a whole older copy of the data dir, a tail cut with the
//! old head pasted back, or a deleted `ledger.db-wal` are all
//! self-consistent: `verify` passes on them. The anchor is what such a copy
//! does not carry back: it lives elsewhere and only moves forward.
//!
//! * **Check** (before every write, inside its `BEGIN IMMEDIATE`, and by
//!   [`crate::Ledger::anchor_check`] at open): an alarm file in the same
//!   directory refuses everything (the sync pass found the bucket ahead or
//!   forked); a missing anchor for a ledger with events is refused
//!   (`anchor.missing`); a head behind the anchor (`anchor.ledger_behind`)
//!   or a different hash at the anchored seq (`anchor.fork`) is refused,
//!   naming both heads; an anchor whose signature fails is refused
//!   (`anchor.invalid`).
//! * **Update** (after every commit that moved the head): under an
//!   exclusive `flock` on `<dir>/.lock`, the anchor is rewritten only if the
//!   new head is further on (several processes write one ledger: the anchor
//!   never goes back), as a temporary file, fsync, rename, fsync of the dir.
//!   A crash between the commit and this write leaves the anchor one
//!   transaction behind, which the check accepts (behind is not a fork).

use std::io::Write;
use std::path::{Path, PathBuf};

use countersign_codes::Code;
use serde::{Deserialize, Serialize};

use crate::{Keys, LedgerError};

/// The anchor file in the kiosk's state dir.
pub const ANCHOR_FILE: &str = "anchor.json";
/// The alarm file: while it exists, the ledger refuses to write.
pub const ALARM_FILE: &str = "alarm.json";
const LOCK_FILE: &str = ".lock";
const DOMAIN: &[u8] = b"countersign-anchor-v1";

/// The anchored head, as stored (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnchorRecord {
    pub seq: u64,
    pub hash: String,
    /// Ed25519 over `"countersign-anchor-v1" || seq (u64 BE) || hash`.
    pub sig: String,
    pub written_ms: i64,
}

/// A raised alarm (written by the sync pass, cleared by an admin's re-seed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Alarm {
    /// Stable code, e.g. `anchor.remote_ahead`, `anchor.remote_fork`.
    pub code: String,
    pub message: String,
    pub detected_ms: i64,
    #[serde(default)]
    pub detail: serde_json::Value,
}

fn message(seq: u64, hash: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 8 + 32);
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// Where one kiosk's anchor lives, and whether writes bypass the check
/// (only the admin's re-seed, in-process, which then writes a new anchor).
#[derive(Debug, Clone)]
pub struct AnchorGuard {
    dir: PathBuf,
    pub(crate) bypass: bool,
}

fn io(context: &str, p: &Path) -> impl FnOnce(std::io::Error) -> LedgerError {
    let context = context.to_string();
    let p = p.to_path_buf();
    move |e| LedgerError::io(context, Some(p), e)
}

fn short(h: &str) -> &str {
    &h[..h.len().min(16)]
}

impl AnchorGuard {
    /// The guard over `dir` (the kiosk's own state dir); created 0700.
    pub fn new(dir: PathBuf) -> Result<AnchorGuard, LedgerError> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&dir).map_err(io("creating the anchor dir", &dir))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("setting the anchor dir's mode", &dir))?;
        Ok(AnchorGuard { dir, bypass: false })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn anchor_path(&self) -> PathBuf {
        self.dir.join(ANCHOR_FILE)
    }

    pub fn alarm_path(&self) -> PathBuf {
        self.dir.join(ALARM_FILE)
    }

    /// The stored anchor, if any (not yet checked against a key).
    pub fn read(&self) -> Result<Option<AnchorRecord>, LedgerError> {
        let p = self.anchor_path();
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| LedgerError::Anchor {
                code: Code::AnchorInvalid,
                message: format!("the anchor {} is malformed ({e}); an admin must re-seed it after investigation (`countersign anchor reseed`)", p.display()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading the anchor", &p)(e)),
        }
    }

    /// The raised alarm, if any.
    pub fn alarm(&self) -> Result<Option<Alarm>, LedgerError> {
        let p = self.alarm_path();
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b).unwrap_or_else(|e| Alarm {
                code: Code::AnchorAlarm.as_str().into(),
                message: format!("unreadable alarm file ({e})"),
                detected_ms: 0,
                detail: serde_json::Value::Null,
            }))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading the alarm", &p)(e)),
        }
    }

    /// Raises an alarm (fsync'd): the ledger refuses to write until an
    /// admin clears it. An existing alarm is kept (the first one wins).
    pub fn raise(&self, alarm: &Alarm) -> Result<(), LedgerError> {
        if self.alarm()?.is_some() {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(alarm)?;
        write_durable(&self.alarm_path(), &bytes)
    }

    /// Removes the alarm (an admin's re-seed).
    pub(crate) fn clear_alarm(&self) -> Result<(), LedgerError> {
        let p = self.alarm_path();
        match std::fs::remove_file(&p) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing the alarm", &p)(e)),
        }
    }

    /// The anchor, its signature checked with the kiosk key.
    pub fn read_verified(&self, keys: &Keys) -> Result<Option<AnchorRecord>, LedgerError> {
        let Some(a) = self.read()? else {
            return Ok(None);
        };
        let ok = hex::decode(&a.hash)
            .ok()
            .filter(|h| h.len() == 32)
            .zip(hex::decode(&a.sig).ok())
            .is_some_and(|(h, s)| keys.verify(&message(a.seq, &h), &s));
        if !ok {
            return Err(LedgerError::Anchor {
                code: Code::AnchorInvalid,
                message: format!(
                    "the anchor {} is not signed by this kiosk's key; an admin must re-seed it after investigation (`countersign anchor reseed`)",
                    self.anchor_path().display()
                ),
            });
        }
        Ok(Some(a))
    }

    /// Checks the ledger seen through `conn` against the alarm and the anchor.
    pub(crate) fn check(
        &self,
        conn: &rusqlite::Connection,
        keys: &Keys,
    ) -> Result<(), LedgerError> {
        if let Some(a) = self.alarm()? {
            return Err(LedgerError::Anchor {
                code: leak_code(&a.code),
                message: format!(
                    "{} (alarm raised in {}); nothing new is signed until an admin investigates and re-seeds (`countersign anchor reseed`)",
                    a.message,
                    self.alarm_path().display()
                ),
            });
        }
        let head = crate::chain_head::read(conn)?;
        let anchor = self.read_verified(keys)?;
        let head_s = |h: &Option<crate::chain_head::Head>| match h {
            Some(h) => format!("seq {} hash {}", h.seq, short(&hex::encode(&h.hash))),
            None => "empty".to_string(),
        };
        match (anchor, &head) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(LedgerError::Anchor {
                code: Code::AnchorMissing,
                message: format!(
                    "the ledger has events (head {}) but this kiosk has no anchor in {}: the state dir was lost or this data dir was moved from another machine; an admin must re-seed the anchor with two factors after checking the ledger (`countersign anchor reseed`)",
                    head_s(&head),
                    self.dir.display()
                ),
            }),
            (Some(a), _) => {
                let ledger_seq = head.as_ref().map_or(0, |h| h.seq);
                if ledger_seq < a.seq {
                    return Err(LedgerError::Anchor {
                        code: Code::AnchorLedgerBehind,
                        message: format!(
                            "the ledger's head ({}) is behind this kiosk's anchor (seq {} hash {}, in {}): the data dir was rolled back, its tail cut or its WAL lost; nothing is signed on it",
                            head_s(&head),
                            a.seq,
                            short(&a.hash),
                            self.anchor_path().display()
                        ),
                    });
                }
                let at: Option<Vec<u8>> = conn
                    .query_row(
                        "SELECT hash FROM events WHERE seq = ?1",
                        [a.seq as i64],
                        |r| r.get(0),
                    )
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e),
                    })?;
                let at_hex = at.map(hex::encode);
                if at_hex.as_deref() != Some(a.hash.as_str()) {
                    return Err(LedgerError::Anchor {
                        code: Code::AnchorFork,
                        message: format!(
                            "the ledger (head {}) is not on this kiosk's anchored chain: at seq {} it holds {} where the anchor (in {}) says {}; nothing is signed on it",
                            head_s(&head),
                            a.seq,
                            at_hex.as_deref().map_or("no event", short),
                            self.anchor_path().display(),
                            short(&a.hash)
                        ),
                    });
                }
                Ok(())
            }
        }
    }

    /// Writes the anchor for (seq, hash) if it is further on than the
    /// stored one (or `force`, the re-seed), under the lock.
    pub(crate) fn advance(
        &self,
        keys: &Keys,
        seq: u64,
        hash: &[u8],
        now_ms: i64,
        force: bool,
    ) -> Result<(), LedgerError> {
        let lock_path = self.dir.join(LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("opening the anchor lock", &lock_path))?;
        lock.lock().map_err(io("locking the anchor", &lock_path))?;
        if !force {
            if let Some(cur) = self.read().ok().flatten() {
                if cur.seq >= seq {
                    return Ok(());
                }
            }
        }
        let rec = AnchorRecord {
            seq,
            hash: hex::encode(hash),
            sig: hex::encode(keys.sign(&message(seq, hash))),
            written_ms: now_ms,
        };
        write_durable(&self.anchor_path(), &serde_json::to_vec(&rec)?)
        // the lock is released when `lock` drops
    }
}

/// Alarm codes come from a file; the known ones keep their own code.
fn leak_code(code: &str) -> Code {
    match Code::parse(code) {
        Some(c @ (Code::AnchorRemoteAhead | Code::AnchorRemoteFork)) => c,
        _ => Code::AnchorAlarm,
    }
}

/// A temporary file (0600), fsync, rename, fsync of the directory.
fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), LedgerError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        LedgerError::io("writing the anchor", Some(path.to_path_buf()), e)
    })?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing the anchor dir", dir))
}
