//! The uploader: drains the ledger's implicit outbox into the bucket.
//!
//! Order per kiosk: the manifest first, then events by seq (at most
//! `concurrency` PUTs in flight, in a sliding window), then blobs, then
//! checkpoints (a checkpoint goes up only after the events it covers). A
//! completion is recorded in the ledger (key, content SHA-256, version id)
//! in one transaction per batch. If the process dies between the PUT and
//! the record, the next pass PUTs again, gets "already exists", reads the
//! object back and accepts it only if its SHA-256 matches: so every object
//! exists remotely exactly once, whatever was interrupted.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use countersign_ledger::{Ledger, SyncKind, SyncedObject};
use futures::StreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::layout::{sha256_hex, Layout};
use crate::remote::{redact, Remote};
use crate::{SyncConfig, SyncError};

const BATCH: u32 = 512;
const BLOB_BATCH: u32 = 16;
const RECORD_EVERY: usize = 256;

/// (kind, id, key, bytes) of one object to upload.
type Item = (SyncKind, String, String, Vec<u8>);

/// Live counters of a running [`Syncer`].
#[derive(Debug, Default)]
pub struct Progress {
    /// PUTs in flight now.
    pub in_flight: AtomicUsize,
    /// Objects created by this process.
    pub created: AtomicU64,
    /// Objects found already present with identical content (lost answers).
    pub adopted: AtomicU64,
    /// Failed passes.
    pub failed_passes: AtomicU64,
    /// Successful passes.
    pub passes: AtomicU64,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassReport {
    /// Objects uploaded (created or adopted).
    pub uploaded: u64,
    /// Of those, already present with the same content.
    pub adopted: u64,
    /// Whether nothing is left pending.
    pub caught_up: bool,
}

/// Sync status for the CLI and the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Kiosk id.
    pub kiosk: String,
    /// Bucket.
    pub bucket: String,
    /// Events queued (not yet remote).
    pub queued_events: u64,
    /// Blobs queued.
    pub queued_blobs: u64,
    /// Checkpoints queued.
    pub queued_checkpoints: u64,
    /// Events already remote.
    pub synced_events: u64,
    /// Blobs purged by retention before they could be uploaded.
    pub blobs_purged_unsynced: u64,
    /// Uploads in flight (only known inside the syncing process; else 0).
    pub in_flight: u64,
    /// Last pass started (Unix ms).
    pub last_attempt_ms: Option<i64>,
    /// Last pass that left nothing pending (Unix ms).
    pub last_success_ms: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// When.
    pub last_error_ms: Option<i64>,
    /// Lowest unsynced seq.
    pub oldest_unsynced_seq: Option<u64>,
    /// Age of the oldest unsynced event (now - its ts), ms.
    pub oldest_unsynced_age_ms: Option<i64>,
    /// The alert limit, ms.
    pub alert_after_ms: i64,
    /// `true` when the oldest unsynced event is older than the limit.
    pub alert: bool,
}

/// Wall-clock now in Unix ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Uploads one kiosk's ledger.
#[derive(Debug, Clone)]
pub struct Syncer {
    ledger: Arc<Mutex<Ledger>>,
    remote: Remote,
    layout: Layout,
    cfg: SyncConfig,
    progress: Arc<Progress>,
    wake: Arc<tokio::sync::Notify>,
}

impl Syncer {
    /// A syncer over `ledger` (its own connection to the ledger file is
    /// best: WAL lets it read while the kiosk appends).
    pub fn new(ledger: Ledger, kiosk: &str, cfg: SyncConfig) -> Result<Syncer, SyncError> {
        let remote = Remote::open(&cfg)?;
        Ok(Syncer {
            ledger: Arc::new(Mutex::new(ledger)),
            remote,
            layout: Layout::new(&cfg.prefix, kiosk)?,
            cfg,
            progress: Arc::new(Progress::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Live counters.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// The bucket.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// The key layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The ledger (locked briefly; never held across an await).
    pub fn ledger(&self) -> &Arc<Mutex<Ledger>> {
        &self.ledger
    }

    /// Ask a sleeping [`Syncer::run`] to look for new evidence now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn with_ledger<T>(
        &self,
        f: impl FnOnce(&mut Ledger) -> Result<T, countersign_ledger::LedgerError>,
    ) -> Result<T, SyncError> {
        let mut g = self
            .ledger
            .lock()
            .map_err(|_| SyncError::Remote("ledger lock poisoned".into()))?;
        f(&mut g).map_err(SyncError::Ledger)
    }

    /// Status now.
    pub fn status(&self) -> Result<SyncStatus, SyncError> {
        let (b, s) = self.with_ledger(|l| Ok((l.sync_backlog()?, l.sync_status()?)))?;
        let now = now_ms();
        let age = b.oldest_pending_ts_ms.map(|t| (now - t).max(0));
        let limit = (self.cfg.alert_after_secs as i64).saturating_mul(1000);
        Ok(SyncStatus {
            kiosk: self.layout.kiosk.clone(),
            bucket: self.cfg.bucket.clone(),
            queued_events: b.events_pending,
            queued_blobs: b.blobs_pending,
            queued_checkpoints: b.checkpoints_pending,
            synced_events: b.events_synced,
            blobs_purged_unsynced: b.blobs_purged_unsynced,
            in_flight: self.progress.in_flight.load(Ordering::Relaxed) as u64,
            last_attempt_ms: s.last_attempt_ms,
            last_success_ms: s.last_success_ms,
            last_error: s.last_error,
            last_error_ms: s.last_error_ms,
            oldest_unsynced_seq: b.oldest_pending_seq,
            oldest_unsynced_age_ms: age,
            alert_after_ms: limit,
            alert: age.is_some_and(|a| a > limit),
        })
    }

    async fn put(
        &self,
        kind: SyncKind,
        id: String,
        key: String,
        bytes: Vec<u8>,
    ) -> Result<(SyncedObject, bool), SyncError> {
        let sha = sha256_hex(&bytes);
        self.progress.in_flight.fetch_add(1, Ordering::Relaxed);
        let r = self.remote.put_create(&key, Bytes::from(bytes)).await;
        self.progress.in_flight.fetch_sub(1, Ordering::Relaxed);
        let st = r?;
        if st.created {
            self.progress.created.fetch_add(1, Ordering::Relaxed);
        } else {
            self.progress.adopted.fetch_add(1, Ordering::Relaxed);
        }
        Ok((
            SyncedObject {
                kind,
                id,
                object_key: key,
                content_sha256_hex: sha,
                version: st.version,
                e_tag: st.e_tag,
                uploaded_ms: now_ms(),
            },
            !st.created,
        ))
    }

    /// Upload `items` (produced lazily, in order) with `concurrency` PUTs in
    /// flight as a sliding window; record successes every [`RECORD_EVERY`]
    /// completions and at the end (also when another item failed); after a
    /// failure start nothing new, let the PUTs in flight finish, and return
    /// the first error.
    async fn upload_stream<S>(&self, items: S, rep: &mut PassReport) -> Result<(), SyncError>
    where
        S: futures::Stream<Item = Result<Item, SyncError>>,
    {
        let failed = Arc::new(AtomicBool::new(false));
        let f2 = failed.clone();
        let mut results = std::pin::pin!(items
            .take_while(move |_| futures::future::ready(!f2.load(Ordering::Relaxed)))
            .map(|it| {
                let failed = failed.clone();
                async move {
                    let r = match it {
                        Ok((kind, id, key, bytes)) => self.put(kind, id, key, bytes).await,
                        Err(e) => Err(e),
                    };
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    r
                }
            })
            .buffered(self.cfg.concurrency));
        let mut ok = Vec::new();
        let mut first_err = None;
        while let Some(r) = results.next().await {
            match r {
                Ok((o, adopted)) => {
                    rep.uploaded += 1;
                    rep.adopted += adopted as u64;
                    ok.push(o);
                    if ok.len() >= RECORD_EVERY {
                        self.with_ledger(|l| l.sync_record(&ok))?;
                        ok.clear();
                    }
                }
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        if !ok.is_empty() {
            self.with_ledger(|l| l.sync_record(&ok))?;
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Items read from the ledger in batches as the window advances.
    fn lazy<'a, F>(&'a self, fetch: F) -> impl futures::Stream<Item = Result<Item, SyncError>> + 'a
    where
        F: FnMut(&mut Ledger, u64) -> Result<(Vec<Item>, u64), countersign_ledger::LedgerError>
            + 'a,
    {
        futures::stream::unfold(
            (fetch, 0u64, false),
            move |(mut fetch, after, done)| async move {
                if done {
                    return None;
                }
                match self.with_ledger(|l| fetch(l, after)) {
                    Ok((items, _)) if items.is_empty() => None,
                    Ok((items, next)) => Some((
                        futures::stream::iter(items.into_iter().map(Ok)).left_stream(),
                        (fetch, next, false),
                    )),
                    Err(e) => Some((
                        futures::stream::iter(vec![Err(e)]).right_stream(),
                        (fetch, after, true),
                    )),
                }
            },
        )
        .flatten()
    }

    /// One pass: upload everything pending now. `Ok` means nothing was
    /// pending at the end (modulo evidence appended meanwhile).
    pub async fn pass(&self) -> Result<PassReport, SyncError> {
        let mut rep = PassReport::default();
        // Idle passes write nothing (the background task polls).
        let b = self.with_ledger(|l| l.sync_backlog())?;
        if b.events_pending == 0
            && b.blobs_pending == 0
            && b.checkpoints_pending == 0
            && b.manifest_synced
        {
            rep.caught_up = true;
            return Ok(rep);
        }
        // Status notes are best effort: a full disk must not stop uploads.
        let _ = self.with_ledger(|l| l.sync_note(Some(now_ms()), None, None));
        let r = self.pass_inner(&mut rep).await;
        match &r {
            Ok(()) => {
                self.progress.passes.fetch_add(1, Ordering::Relaxed);
                let b = self.with_ledger(|l| l.sync_backlog())?;
                rep.caught_up = b.events_pending == 0
                    && b.blobs_pending == 0
                    && b.checkpoints_pending == 0
                    && b.manifest_synced;
                if rep.caught_up {
                    let _ = self.with_ledger(|l| l.sync_note(None, Some(now_ms()), None));
                }
            }
            Err(e) => {
                self.progress.failed_passes.fetch_add(1, Ordering::Relaxed);
                let msg = redact(&e.to_string(), &self.cfg);
                let _ = self.with_ledger(|l| l.sync_note(None, None, Some((&msg, now_ms()))));
            }
        }
        r.map(|()| rep)
    }

    async fn pass_inner(&self, rep: &mut PassReport) -> Result<(), SyncError> {
        // 1. The manifest (public key), so the bucket alone can be verified.
        let have_manifest = self
            .with_ledger(|l| l.sync_object(SyncKind::Manifest, "kiosk"))?
            .is_some();
        if !have_manifest {
            let pk = self.with_ledger(|l| Ok(l.keys().verifying_key_hex()))?;
            let bytes = self.layout.manifest_bytes(&pk);
            let item = (
                SyncKind::Manifest,
                "kiosk".into(),
                self.layout.manifest(),
                bytes,
            );
            self.upload_stream(futures::stream::iter(vec![Ok(item)]), rep)
                .await?;
        }
        // 2. Events in seq order; each batch is read after the previous one
        // (whose events are in flight or done), so no hole is skipped.
        let layout = &self.layout;
        let events = self.lazy(move |l, after| {
            let evs = l.sync_pending_events(after, BATCH)?;
            let next = evs.last().map(|e| e.seq).unwrap_or(after);
            Ok((
                evs.iter()
                    .map(|e| {
                        (
                            SyncKind::Event,
                            e.seq.to_string(),
                            layout.event(e.seq, &e.hash_hex),
                            layout.event_bytes(e),
                        )
                    })
                    .collect(),
                next,
            ))
        });
        self.upload_stream(events, rep).await?;
        // 3. Sealed blobs, a few at a time (they are large).
        let blobs = self.lazy(move |l, after| {
            let bs = l.sync_pending_blobs(after, BLOB_BATCH)?;
            let next = bs.last().map(|b| b.sealed_seq).unwrap_or(after);
            let items: Vec<Item> = bs
                .into_iter()
                .map(|b| {
                    (
                        SyncKind::Blob,
                        b.sha256_hex.clone(),
                        layout.blob(&b.sha256_hex),
                        b.sealed,
                    )
                })
                .collect();
            Ok((items, next))
        });
        self.upload_stream(blobs, rep).await?;
        // 4. Checkpoints whose events are all remote.
        let cps = self.with_ledger(|l| {
            let b = l.sync_backlog()?;
            let limit = b.oldest_pending_seq.unwrap_or(u64::MAX);
            Ok(l.sync_pending_checkpoints()?
                .into_iter()
                .filter(|c| c.last_seq < limit)
                .collect::<Vec<_>>())
        })?;
        let items: Vec<Result<Item, SyncError>> = cps
            .iter()
            .map(|c| {
                Ok((
                    SyncKind::Checkpoint,
                    c.n.to_string(),
                    self.layout.checkpoint(c.n),
                    self.layout.checkpoint_bytes(c),
                ))
            })
            .collect();
        self.upload_stream(futures::stream::iter(items), rep)
            .await?;
        Ok(())
    }

    fn backoff(&self, failures: u32) -> Duration {
        let min = self.cfg.backoff_min_ms.max(1);
        let max = self.cfg.backoff_max_ms.max(min);
        let exp = min.saturating_mul(1u64 << failures.min(20)).min(max);
        // "Equal jitter": half fixed, half random, so retries of many kiosks spread out.
        let j = rand::thread_rng().gen_range(0..=exp / 2);
        Duration::from_millis(exp / 2 + j)
    }

    /// Pass until caught up, retrying failures with exponential backoff and
    /// jitter; gives up after `max_failures` consecutive failed passes.
    pub async fn run_until_caught_up(&self, max_failures: u32) -> Result<PassReport, SyncError> {
        let mut total = PassReport::default();
        let mut failures = 0u32;
        loop {
            match self.pass().await {
                Ok(r) => {
                    failures = 0;
                    total.uploaded += r.uploaded;
                    total.adopted += r.adopted;
                    if r.caught_up {
                        total.caught_up = true;
                        return Ok(total);
                    }
                    if r.uploaded == 0 {
                        // Something is pending that cannot go yet (e.g. a
                        // checkpoint racing new events): try again shortly.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                Err(e @ SyncError::Conflict { .. }) => return Err(e),
                Err(e) => {
                    failures += 1;
                    if failures >= max_failures {
                        return Err(e);
                    }
                    tokio::time::sleep(self.backoff(failures)).await;
                }
            }
        }
    }

    /// The background task: sync forever (until `stop` turns true), sleeping
    /// `poll_ms` when idle (or until [`Syncer::wake`]), backing off
    /// exponentially with jitter while the store is unreachable. Offline
    /// periods of any length are fine: the outbox is the ledger.
    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                return;
            }
            let delay = match self.pass().await {
                Ok(r) => {
                    failures = 0;
                    if r.caught_up {
                        Duration::from_millis(self.cfg.poll_ms)
                    } else {
                        Duration::from_millis(20)
                    }
                }
                Err(_) => {
                    failures = failures.saturating_add(1);
                    self.backoff(failures)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => {}
            }
        }
    }
}
