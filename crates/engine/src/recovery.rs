//! A kiosk's keys backed up, and a kiosk whose disk died restored from the
//! write-once bucket (issue 14 item 3).
//!
//! **`keys backup` is an administrator's act**: whoever holds the signing
//! key can sign history as this kiosk and whoever holds the data key can
//! open its sealed samples, so a copy of them is the insider's prize. It
//! takes an admin with two factors and is recorded (`keys.backed_up`: who,
//! where, the public key and a check value of the data key) before a byte
//! is written. The files are 0600 in a 0700 dir, never overwritten, never
//! inside the data dir (a backup beside the original dies with it).
//!
//! **`restore`** rebuilds a fresh data dir from the bucket's events,
//! checkpoints and sealed blobs and the keys from their backup. Refused
//! before anything is written: a target that is not empty
//! (`restore.target_not_empty`), a backup that is not the bucket's kiosk
//! (`restore.key_mismatch`: another kiosk, another public key, a data key
//! whose check value differs from the one recorded at backup, or that does
//! not open the sealed blobs), a bucket holding two objects for one seq
//! (`restore.bucket_fork`) or missing events (`restore.bucket_gap`), and
//! any row that does not verify (`restore.bucket_invalid`). The data dir is
//! built beside the target and renamed into place, so a refused restore
//! leaves nothing. The chain keeps only a keyed digest of people's
//! credentials, so they cannot come back: the restore records
//! `kiosk.restored`, one `person.credentials_cleared` per person who had
//! some, and new credentials for one admin (`--admin`, like `init`'s
//! first admin), who re-issues the others. Then the local anchor is
//! re-seeded at the new head, and the kiosk carries on on the same chain.

use crate::Code;
use std::path::{Path, PathBuf};

use countersign_core::Role;
use countersign_ledger::{
    Checkpoint, EventRef, Keys, Ledger, LedgerError, RawEvent, RestoreRows, RestoreSummary,
    SyncedObject, DATA_KEY_FILE, PUBLIC_KEY_FILE, SIGNING_KEY_FILE,
};
use serde::Serialize;
use serde_json::json;

use crate::datadir::{create_private_dir, create_private_file, write_private};
use crate::evidence::{kinds, Ev};
use crate::{Clock, DataDir, Engine, EngineError, Provisioning};

mod keys;
pub use keys::{
    load_key_backup, KeyBackupManifest, KeyBackupReport, API_TLS_FILE, BACKUP_MANIFEST,
};

pub(crate) fn err(code: Code, message: impl Into<String>) -> EngineError {
    EngineError::Recovery {
        code,
        message: message.into(),
    }
}

/// `p` made absolute, with its existing part canonicalised.
pub(crate) fn resolved(p: &Path) -> PathBuf {
    let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut base = p.clone();
    let mut rest = Vec::new();
    while !base.exists() {
        match (base.file_name().map(|n| n.to_owned()), base.parent()) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                base = parent.to_path_buf();
            }
            _ => return p,
        }
    }
    let mut out = std::fs::canonicalize(&base).unwrap_or(base);
    out.extend(rest.into_iter().rev());
    out
}

pub(crate) fn is_nonempty_dir(p: &Path) -> Result<bool, EngineError> {
    if !p.exists() {
        return Ok(false);
    }
    if !p.is_dir() {
        return Ok(true);
    }
    Ok(std::fs::read_dir(p)
        .map_err(EngineError::io("reading a directory", p))?
        .next()
        .is_some())
}

/// The kiosk's evidence as found in the bucket (the CLI downloads it).
#[derive(Debug, Clone, Default)]
pub struct RestoreSource {
    /// Where it came from (endpoint, bucket, prefix; no credentials), for the record.
    pub bucket: String,
    /// Kiosk ids in the bucket.
    pub kiosks: Vec<String>,
    /// The public key in the kiosk's `kiosk.json`, if any.
    pub public_key: Option<String>,
    /// Every event object, in key order (a fork shows as two for one seq).
    pub events: Vec<RawEvent>,
    pub checkpoints: Vec<Checkpoint>,
    /// (hex SHA-256, nonce || ciphertext).
    pub blobs: Vec<(String, Vec<u8>)>,
    /// The objects, recorded as synced.
    pub synced: Vec<SyncedObject>,
}

/// What `restore` needs besides the source.
#[derive(Clone)]
pub struct RestoreOptions {
    /// The admin who gets new credentials (password here, TOTP made and shown once).
    pub admin: String,
    pub admin_secret: String,
    pub reason: String,
    /// `sync.toml` for the new data dir, so the kiosk carries on syncing.
    pub sync_toml: Option<String>,
}

impl std::fmt::Debug for RestoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestoreOptions")
            .field("admin", &self.admin)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub data_dir: PathBuf,
    pub kiosk_id: String,
    pub restored: RestoreSummary,
    /// The bucket's head, now the restored ledger's last original event.
    pub restored_head: EventRef,
    /// The head after the restore's own events (anchored).
    pub head: EventRef,
    /// The anchor the state dir still held, if it survived.
    pub previous_anchor: Option<EventRef>,
    /// Events the surviving anchor says were signed but never reached the bucket.
    pub lost_events: u64,
    pub credentials_cleared: Vec<String>,
    /// The admin's new TOTP (shown once).
    pub admin: Provisioning,
    /// How the data key was checked.
    pub data_key_checked_by: String,
}

/// Checks the bucket's shape: one object per seq, from 1 without gaps.
fn check_shape(events: &[RawEvent]) -> Result<(), EngineError> {
    for w in events.windows(2) {
        if w[0].seq == w[1].seq {
            let n = events.iter().filter(|e| e.seq == w[0].seq).count();
            return Err(err(
                Code::RestoreBucketFork,
                format!(
                    "the bucket holds {n} different events at seq {} (a fork): it has two histories of this kiosk; investigate with `countersign fleet verify` before restoring anything",
                    w[0].seq
                ),
            ));
        }
    }
    for (expect, e) in (1u64..).zip(events) {
        if e.seq != expect {
            return Err(err(
                Code::RestoreBucketGap,
                format!(
                    "events {expect}..{} are missing from the bucket (a gap): the chain cannot be rebuilt",
                    e.seq - 1
                ),
            ));
        }
    }
    Ok(())
}

/// Restores a data dir at `root` from `src` and the key backup at
/// `backup`. See the module docs.
pub fn restore_from_bucket(
    root: &Path,
    backup: &Path,
    src: RestoreSource,
    opts: &RestoreOptions,
    clock: Box<dyn Clock>,
) -> Result<RestoreReport, EngineError> {
    if is_nonempty_dir(root)? {
        return Err(err(
            Code::RestoreTargetNotEmpty,
            format!(
                "{} exists and is not empty: a restore goes into a fresh data dir, it never merges into or replaces one",
                root.display()
            ),
        ));
    }
    crate::anchor::check_outside(root)?;
    let (manifest, keys) = load_key_backup(backup)?;
    let kiosk = manifest.kiosk_id.clone();
    if src.public_key.is_none() && src.events.is_empty() {
        return Err(err(
            Code::RestoreKeyMismatch,
            format!(
                "the key backup is of kiosk {kiosk}, which is not in the bucket {} (kiosks there: {})",
                src.bucket,
                if src.kiosks.is_empty() { "none".into() } else { src.kiosks.join(", ") }
            ),
        ));
    }
    let pk = keys.verifying_key_hex();
    if src.public_key.as_deref() != Some(pk.as_str()) {
        return Err(err(
            Code::RestoreKeyMismatch,
            format!(
                "the bucket's kiosk {kiosk} has public key {}, the backup's signing key is {pk}",
                src.public_key.as_deref().unwrap_or("(no kiosk.json)")
            ),
        ));
    }
    check_shape(&src.events)?;
    let Some(last) = src.events.last() else {
        return Err(err(
            Code::RestoreBucketGap,
            format!("the bucket holds no events of kiosk {kiosk}"),
        ));
    };
    let restored_head = EventRef {
        seq: last.seq,
        hash_hex: last.hash_hex.clone(),
    };
    // The data key: its check value as recorded (signed) at backup time.
    let check = keys.data_key_check();
    let mut checked_by = Vec::new();
    for e in src
        .events
        .iter()
        .filter(|e| e.kind == kinds::KEYS_BACKED_UP)
    {
        let body: serde_json::Value = serde_json::from_str(&e.body_json).unwrap_or_default();
        match body.get("data_key_check").and_then(|v| v.as_str()) {
            Some(c) if c == check => checked_by.push(format!("keys.backed_up at seq {}", e.seq)),
            Some(_) => {
                return Err(err(
                    Code::RestoreKeyMismatch,
                    format!(
                        "the backup's data key is not the one recorded by keys.backed_up at seq {}: it is another kiosk's or another backup's",
                        e.seq
                    ),
                ))
            }
            None => {}
        }
    }
    if checked_by.len() > 1 {
        checked_by.truncate(1);
    }
    let data_key_checked_by = match (checked_by.pop(), src.blobs.is_empty()) {
        (Some(c), true) => c,
        (Some(c), false) => format!("{c} and the sealed blobs"),
        (None, false) => "the sealed blobs".into(),
        (None, true) => "nothing (no keys.backed_up event and no blob in the bucket)".into(),
    };

    let parent = root
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(EngineError::io("creating the parent directory", parent))?;
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let staging = parent.join(format!(".{name}.restore-{}", Engine::new_id("tmp")));
    let built = build(
        &staging,
        backup,
        keys,
        &src,
        opts,
        clock,
        restored_head.clone(),
        data_key_checked_by,
    );
    let report = match built {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if root.exists() {
        std::fs::remove_dir(root).map_err(EngineError::io("replacing the empty data dir", root))?;
    }
    std::fs::rename(&staging, root).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staging);
        EngineError::Io {
            context: "moving the restored data dir into place",
            path: root.to_path_buf(),
            source: e,
        }
    })?;
    Ok(RestoreReport {
        data_dir: root.to_path_buf(),
        ..report
    })
}

#[allow(clippy::too_many_arguments)]
fn build(
    staging: &Path,
    backup: &Path,
    keys: Keys,
    src: &RestoreSource,
    opts: &RestoreOptions,
    clock: Box<dyn Clock>,
    restored_head: EventRef,
    data_key_checked_by: String,
) -> Result<RestoreReport, EngineError> {
    let dd = DataDir::new(staging.to_path_buf());
    create_private_dir(staging)?;
    create_private_dir(&dd.keys_dir())?;
    for f in [SIGNING_KEY_FILE, DATA_KEY_FILE, PUBLIC_KEY_FILE] {
        let p = backup.join(f);
        let bytes = std::fs::read(&p).map_err(EngineError::io("reading the key backup", &p))?;
        write_private(&dd.keys_dir().join(f), &bytes)?;
    }
    // The API's TLS identity, when the backup has it: the relying apps'
    // pins stay valid.
    let tls = backup.join(API_TLS_FILE);
    if tls.exists() {
        let bytes = std::fs::read(&tls).map_err(EngineError::io("reading the key backup", &tls))?;
        write_private(&staging.join(API_TLS_FILE), &bytes)?;
    }
    create_private_file(&dd.ledger_path())?;
    let mut ledger = Ledger::open(&dd.ledger_path(), keys)?;
    let rows = RestoreRows {
        events: src.events.clone(),
        checkpoints: src.checkpoints.clone(),
        blobs: src.blobs.clone(),
        synced: src.synced.clone(),
    };
    let summary = ledger.restore_rows(&rows).map_err(|e| match e {
        LedgerError::Key(m) => err(Code::RestoreKeyMismatch, m),
        LedgerError::Corrupt(m) => err(
            Code::RestoreBucketInvalid,
            format!("the bucket's evidence does not verify: {m}"),
        ),
        e => e.into(),
    })?;
    // The marker and the policy, as the chain says.
    let first = ledger
        .get(1)?
        .ok_or_else(|| err(Code::RestoreBucketInvalid, "no event 1"))?;
    let kiosk_id = first
        .body
        .get("kiosk_id")
        .and_then(|v| v.as_str())
        .filter(|_| first.kind == kinds::KIOSK_INITIALIZED)
        .ok_or_else(|| {
            err(
                Code::RestoreBucketInvalid,
                "event 1 is not kiosk.initialized",
            )
        })?
        .to_string();
    if first.body.get("public_key").and_then(|v| v.as_str())
        != Some(ledger.keys().verifying_key_hex().as_str())
    {
        return Err(err(
            Code::RestoreKeyMismatch,
            "kiosk.initialized (seq 1) names another public key than the backup's",
        ));
    }
    let demo = first.body.get("demo").and_then(|v| v.as_bool()) == Some(true);
    crate::datadir::write_marker_for(staging, &kiosk_id, first.ts_ms, demo)?;
    let policy = ledger
        .latest(&countersign_ledger::Filter {
            kinds: vec![kinds::POLICY_LOADED.into()],
            ..Default::default()
        })?
        .and_then(|r| r.body.get("policy")?.as_str().map(str::to_string))
        .ok_or_else(|| {
            err(
                Code::RestoreBucketInvalid,
                "no policy.loaded event with a policy",
            )
        })?;
    write_private(&dd.policy_path(), policy.as_bytes())?;
    if let Some(s) = &opts.sync_toml {
        write_private(&staging.join("sync.toml"), s.as_bytes())?;
    }
    drop(ledger);

    // The restore's own evidence, then the anchor at the new head.
    let mut engine = DataDir::new(staging.to_path_buf()).open_with(clock, false)?;
    // The row as the fold rebuilt it (its credentials are not back yet,
    // so the registry check would refuse it until the clearing below).
    let row = engine.ledger.people().get(&opts.admin)?;
    let admin_ok = row
        .as_ref()
        .is_some_and(|p| p.roles.iter().any(|r| r == Role::Admin.as_str()));
    let locked = row.as_ref().is_some_and(|p| p.locked);
    if !admin_ok || locked {
        return Err(err(
            Code::RestoreAdminInvalid,
            format!(
                "{} is not an unlocked admin in the restored registry: give --admin an admin of this kiosk",
                opts.admin
            ),
        ));
    }
    let anchor = engine.anchor_status()?;
    let previous_anchor = anchor.anchor.as_ref().map(|a| EventRef {
        seq: a.seq,
        hash_hex: a.hash.clone(),
    });
    let lost_events = previous_anchor
        .as_ref()
        .map_or(0, |a| a.seq.saturating_sub(restored_head.seq));
    engine.ledger.bypass_anchor(true);
    let result = (|| -> Result<Provisioning, EngineError> {
        let now = engine.now();
        engine.ledger.append(
            &Ev::new(
                kinds::KIOSK_RESTORED,
                now,
                json!({
                    "admin": opts.admin,
                    "reason": opts.reason,
                    "bucket": src.bucket,
                    "restored_head": {"seq": restored_head.seq, "hash": restored_head.hash_hex},
                    "events": summary.events,
                    "checkpoints": summary.checkpoints,
                    "blobs": summary.blobs,
                    "public_key": engine.ledger.keys().verifying_key_hex(),
                    "data_key_checked_by": data_key_checked_by,
                    "previous_anchor": previous_anchor.as_ref().map(|a| json!({"seq": a.seq, "hash": a.hash_hex})),
                    "alarm": anchor.alarm,
                    "lost_events": lost_events,
                    "credentials_cleared": summary.credentials_lost,
                }),
            )
            .build(),
        )?;
        let evs: Vec<_> = summary
            .credentials_lost
            .iter()
            .map(|id| {
                Ev::new(
                    kinds::PERSON_CREDENTIALS_CLEARED,
                    now,
                    json!({"id": id, "by": "restore", "why": "restored from the bucket, which holds only the credentials' digest"}),
                )
                .person(id)
                .build()
            })
            .collect();
        if !evs.is_empty() {
            engine.ledger.change_people(&evs, |_| Ok(()))?;
        }
        let totp: [u8; 20] = rand::random();
        let prov = engine.set_credentials_with(
            &opts.admin,
            &opts.admin_secret,
            totp.to_vec(),
            "restore",
        )?;
        engine.ledger.reseed_anchor(engine.now())?;
        Ok(prov)
    })();
    engine.ledger.bypass_anchor(false);
    let admin = result?;
    let v = engine.ledger.verify()?;
    if let Some(p) = v.first_problem() {
        return Err(err(
            Code::RestoreBucketInvalid,
            format!("the restored ledger does not verify: {p:?}"),
        ));
    }
    engine.ledger.anchor_check()?;
    let head = engine
        .ledger
        .head()?
        .ok_or_else(|| err(Code::RestoreBucketInvalid, "empty ledger"))?;
    Ok(RestoreReport {
        data_dir: staging.to_path_buf(),
        kiosk_id,
        restored: summary.clone(),
        restored_head,
        head,
        previous_anchor,
        lost_events,
        credentials_cleared: summary.credentials_lost,
        admin,
        data_key_checked_by,
    })
}
