//! The uploader: drains the ledger's implicit outbox into the bucket.
//!
//! Order per kiosk: the manifest first, then events by seq, then blobs, in
//! one stream with at most `concurrency` PUTs in flight (a window that
//! refills as soon as any PUT completes), then checkpoints (a checkpoint
//! goes up only after the events it covers). A completion is recorded in
//! the ledger (key, content SHA-256, version id) in one transaction per
//! [`RECORD_EVERY`] objects. If the process dies between the PUT and the
//! record, the next pass PUTs again, gets "already exists", reads the
//! object back and accepts it only if its SHA-256 matches: so every object
//! exists remotely exactly once, whatever was interrupted.
//!
//! Three parts run side by side so the window never waits on the disk: a
//! blocking *reader* takes pending rows from the ledger a batch at a time,
//! builds each object's bytes and hashes them (once), ahead of the window
//! through a bounded channel; the async *window* does the PUTs; a blocking
//! *recorder* writes the completions back.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use countersign_ledger::{Ledger, SyncKind, SyncedObject};
use futures::StreamExt;
use rand::Rng;
use serde::{Deserialize, Serialize};

use countersign_core::policy::SyncPolicy;

use crate::layout::{sha256_hex, Layout};
use crate::remote::{redact, Remote};
use crate::status::{status_at, SyncStatus};
use crate::{SyncConfig, SyncError};

mod remote_head;
pub use remote_head::RemoteHead;

const BATCH: u32 = 512;
const BLOB_BATCH: u32 = 16;
/// Completions recorded per ledger transaction (one fsync each).
pub const RECORD_EVERY: usize = 256;

/// One object to upload, its bytes hashed once.
struct Item {
    kind: SyncKind,
    id: String,
    key: String,
    bytes: Bytes,
    sha: String,
}

impl Item {
    fn new(kind: SyncKind, id: String, key: String, bytes: Vec<u8>) -> Item {
        let sha = sha256_hex(&bytes);
        Item {
            kind,
            id,
            key,
            bytes: Bytes::from(bytes),
            sha,
        }
    }
}

type Ledgers = Arc<Mutex<Ledger>>;

fn lock(l: &Ledgers) -> Result<std::sync::MutexGuard<'_, Ledger>, SyncError> {
    l.lock()
        .map_err(|_| SyncError::Internal("ledger lock poisoned".into()))
}

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

fn short(h: &str) -> &str {
    &h[..h.len().min(16)]
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
    policy: SyncPolicy,
    progress: Arc<Progress>,
    wake: Arc<tokio::sync::Notify>,
    /// Whether this syncer has compared the bucket with the chain yet
    /// (the first pass always does, idle or not).
    checked_remote: Arc<AtomicBool>,
}

impl Syncer {
    /// A syncer over `ledger` (its own connection to the ledger file is
    /// best: WAL lets it read while the kiosk appends). `policy` is the
    /// policy's `[sync]` section (the alert limit of [`Syncer::status`]).
    pub fn new(
        ledger: Ledger,
        kiosk: &str,
        cfg: SyncConfig,
        policy: &SyncPolicy,
    ) -> Result<Syncer, SyncError> {
        let remote = Remote::open(&cfg)?;
        Ok(Syncer {
            ledger: Arc::new(Mutex::new(ledger)),
            remote,
            layout: Layout::new(&cfg.prefix, kiosk)?,
            cfg,
            policy: policy.clone(),
            progress: Arc::new(Progress::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
            checked_remote: Arc::new(AtomicBool::new(false)),
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
        let mut g = lock(&self.ledger)?;
        f(&mut g).map_err(SyncError::Ledger)
    }

    /// Status now, with this process's live in-flight count.
    pub fn status(&self) -> Result<SyncStatus, SyncError> {
        let l = lock(&self.ledger)?;
        status_at(
            &l,
            &self.layout.kiosk,
            Some(&self.cfg),
            &self.policy,
            self.progress.in_flight.load(Ordering::Relaxed) as u64,
            now_ms(),
        )
    }

    async fn put(&self, it: Item) -> Result<(SyncedObject, bool), SyncError> {
        self.progress.in_flight.fetch_add(1, Ordering::Relaxed);
        let r = self
            .remote
            .put_create_hashed(&it.key, it.bytes, &it.sha)
            .await;
        self.progress.in_flight.fetch_sub(1, Ordering::Relaxed);
        let st = r?;
        if st.created {
            self.progress.created.fetch_add(1, Ordering::Relaxed);
        } else {
            self.progress.adopted.fetch_add(1, Ordering::Relaxed);
        }
        Ok((
            SyncedObject {
                kind: it.kind,
                id: it.id,
                object_key: it.key,
                content_sha256_hex: it.sha,
                version: st.version,
                e_tag: st.e_tag,
                uploaded_ms: now_ms(),
            },
            !st.created,
        ))
    }

    /// Upload `items` (in order) with `concurrency` PUTs in flight; a new
    /// PUT starts as soon as any one completes. Completions go to the
    /// recorder every [`RECORD_EVERY`] and at the end (also when another
    /// item failed). After a failure nothing new starts, the PUTs in flight
    /// finish, and the first error is returned (a ledger error first).
    async fn upload_stream<S>(&self, items: S, rep: &mut PassReport) -> Result<(), SyncError>
    where
        S: futures::Stream<Item = Result<Item, SyncError>>,
    {
        let (rec_tx, rec_rx) = std::sync::mpsc::channel::<Vec<SyncedObject>>();
        let ledger = self.ledger.clone();
        let recorder = tokio::task::spawn_blocking(move || -> Result<(), SyncError> {
            for batch in rec_rx {
                lock(&ledger)?.sync_record(&batch)?;
            }
            Ok(())
        });
        let failed = Arc::new(AtomicBool::new(false));
        let f2 = failed.clone();
        let mut results = std::pin::pin!(items
            .take_while(move |_| futures::future::ready(!f2.load(Ordering::Relaxed)))
            .map(|it| {
                let failed = failed.clone();
                async move {
                    let r = match it {
                        Ok(it) => self.put(it).await,
                        Err(e) => Err(e),
                    };
                    if r.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    r
                }
            })
            .buffer_unordered(self.cfg.concurrency));
        let mut ok = Vec::with_capacity(RECORD_EVERY);
        let mut first_err = None;
        let mut recorder_gone = false;
        while let Some(r) = results.next().await {
            match r {
                Ok((o, adopted)) => {
                    rep.uploaded += 1;
                    rep.adopted += adopted as u64;
                    ok.push(o);
                    if ok.len() >= RECORD_EVERY && !recorder_gone {
                        let batch = std::mem::replace(&mut ok, Vec::with_capacity(RECORD_EVERY));
                        if rec_tx.send(batch).is_err() {
                            // The recorder failed: start nothing new; its
                            // error is returned below.
                            recorder_gone = true;
                            failed.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        if !ok.is_empty() && !recorder_gone {
            let _ = rec_tx.send(ok);
        }
        drop(rec_tx);
        recorder
            .await
            .map_err(|e| SyncError::Internal(format!("recorder: {e}")))??;
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The reader: on a blocking thread, the manifest (if `manifest`), then
    /// pending events by seq, then pending blobs, as [`Item`]s through a
    /// bounded channel a little ahead of the window. Each batch is read
    /// after the previous one was handed out (its objects are in flight or
    /// done), so no hole is skipped. Stops when the window hangs up.
    fn reader(&self, manifest: bool) -> impl futures::Stream<Item = Result<Item, SyncError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(self.cfg.concurrency.max(16) * 2);
        let ledger = self.ledger.clone();
        let layout = self.layout.clone();
        tokio::task::spawn_blocking(move || {
            let send = |it: Item| tx.blocking_send(Ok(it)).is_ok();
            let r = (|| -> Result<(), SyncError> {
                if manifest {
                    let pk = lock(&ledger)?.keys().verifying_key_hex();
                    let m = Item::new(
                        SyncKind::Manifest,
                        "kiosk".into(),
                        layout.manifest(),
                        layout.manifest_bytes(&pk),
                    );
                    if !send(m) {
                        return Ok(());
                    }
                }
                let mut after = 0u64;
                loop {
                    let evs = lock(&ledger)?.sync_pending_events(after, BATCH)?;
                    let Some(last) = evs.last() else { break };
                    after = last.seq;
                    for e in &evs {
                        let it = Item::new(
                            SyncKind::Event,
                            e.seq.to_string(),
                            layout.event(e.seq, &e.hash_hex),
                            layout.event_bytes(e),
                        );
                        if !send(it) {
                            return Ok(());
                        }
                    }
                }
                let mut after = 0u64;
                loop {
                    let bs = lock(&ledger)?.sync_pending_blobs(after, BLOB_BATCH)?;
                    let Some(last) = bs.last() else { break };
                    after = last.sealed_seq;
                    for b in bs {
                        let key = layout.blob(&b.sha256_hex);
                        if !send(Item::new(SyncKind::Blob, b.sha256_hex, key, b.sealed)) {
                            return Ok(());
                        }
                    }
                }
                Ok(())
            })();
            if let Err(e) = r {
                let _ = tx.blocking_send(Err(e));
            }
        });
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
    }

    /// One pass: upload everything pending now. `Ok` means nothing was
    /// pending at the end (modulo evidence appended meanwhile).
    pub async fn pass(&self) -> Result<PassReport, SyncError> {
        let mut rep = PassReport::default();
        // Idle passes write nothing (the background task polls).
        let b = self.with_ledger(|l| l.sync_backlog())?;
        let idle = b.events_pending == 0
            && b.blobs_pending == 0
            && b.checkpoints_pending == 0
            && b.manifest_synced;
        // The bucket is an anchor too: before anything goes up (and once
        // at start, idle or not), the chain must not be behind it or off it.
        if !idle || !self.checked_remote.load(Ordering::Relaxed) {
            if let Err(e) = self.check_remote().await {
                // A failed pass like any other (the store may be down).
                self.progress.failed_passes.fetch_add(1, Ordering::Relaxed);
                let msg = redact(&e.to_string(), &self.cfg);
                let _ =
                    self.with_ledger(|l| l.sync_note(Some(now_ms()), None, Some((&msg, now_ms()))));
                return Err(e);
            }
            self.checked_remote.store(true, Ordering::Relaxed);
        }
        if idle {
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
        // 1-3. The manifest (public key, so the bucket alone can be
        // verified), events in seq order, sealed blobs: one window.
        let have_manifest = self
            .with_ledger(|l| l.sync_object(SyncKind::Manifest, "kiosk"))?
            .is_some();
        self.upload_stream(self.reader(!have_manifest), rep).await?;
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
                Ok(Item::new(
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
                Err(e @ (SyncError::Conflict { .. } | SyncError::Anchor { .. })) => return Err(e),
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
