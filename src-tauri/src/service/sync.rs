//! Evidence sync in the app: the background uploader (when the kiosk has a
//! `<data dir>/sync.toml`) and the status the Admin screen shows.
//!
//! Nothing else uploads while the window runs: `countersign sync run` is the
//! same uploader for a kiosk without the app (a systemd unit, a cron job).
//! Both may run at once: keys are derived from content and PUTs are
//! create-only, so the second writer adopts what the first uploaded.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use countersign_core::policy::SyncPolicy;
use countersign_engine::DataDir;
use countersign_ledger::{Keys, Ledger};
use countersign_sync::{now_ms, status_at, SyncConfig, SyncError, SyncStatus, Syncer};

use super::{Res, Shared};
use crate::ipc::{self, IpcError};

impl From<SyncError> for IpcError {
    fn from(e: SyncError) -> Self {
        IpcError::new(e.code(), e.to_string())
    }
}

/// How long a stopping uploader may finish the pass it is in before it is
/// dropped (anything uploaded but not recorded is adopted by the next pass).
pub const STOP_GRACE: Duration = Duration::from_secs(3);
/// How often the worker looks again for a data dir or a `sync.toml` that was
/// not there (or not valid) yet.
pub const RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Waiting,
    NotConfigured,
    Failed(String),
    Running,
    Stopped,
}

struct Inner {
    state: State,
    syncer: Option<Syncer>,
}

/// What identifies the kiosk to the uploader: its id and the policy's
/// `[sync]` section (the app passes the engine's).
pub type Identity = Box<dyn Fn() -> Res<(String, SyncPolicy)> + Send>;

/// The background uploader of this app. Start with [`SyncWorker::start`];
/// [`SyncWorker::stop`] (on app exit) ends it cleanly.
#[allow(missing_debug_implementations)] // holds the syncer and a thread
pub struct SyncWorker {
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
    stop_tx: tokio::sync::watch::Sender<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl SyncWorker {
    /// A worker that does nothing (not started: status reads the ledger).
    pub fn idle() -> SyncWorker {
        SyncWorker {
            inner: Arc::new(Mutex::new(Inner {
                state: State::Stopped,
                syncer: None,
            })),
            stop: Arc::new(AtomicBool::new(true)),
            stop_tx: tokio::sync::watch::channel(true).0,
            thread: Mutex::new(None),
        }
    }

    /// Starts the uploader thread for `data_dir`. Until the data dir is
    /// initialised and has a valid `sync.toml` it looks again every `retry`;
    /// then it runs [`Syncer::run`] (poll, exponential backoff with jitter
    /// while the store is unreachable) on its own connection to the ledger
    /// until [`SyncWorker::stop`].
    pub fn start(data_dir: PathBuf, identity: Identity, retry: Duration) -> SyncWorker {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let w = SyncWorker {
            inner: Arc::new(Mutex::new(Inner {
                state: State::Waiting,
                syncer: None,
            })),
            stop: Arc::new(AtomicBool::new(false)),
            stop_tx,
            thread: Mutex::new(None),
        };
        let (inner, stop) = (w.inner.clone(), w.stop.clone());
        let handle = std::thread::Builder::new()
            .name("countersign-sync".into())
            .spawn(move || worker(&data_dir, &identity, retry, &inner, &stop, stop_rx))
            .expect("spawning the sync thread");
        *w.thread.lock().expect("fresh lock") = Some(handle);
        w
    }

    /// Stops the uploader and waits for its thread (at most about
    /// [`STOP_GRACE`] plus the runtime's shutdown).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.stop_tx.send(true);
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
        if let Ok(mut g) = self.inner.lock() {
            g.state = State::Stopped;
            g.syncer = None;
        }
    }

    /// Asks a sleeping uploader to look for new evidence now.
    pub fn wake(&self) {
        if let Some(s) = self.live() {
            s.wake();
        }
    }

    fn live(&self) -> Option<Syncer> {
        self.inner.lock().ok().and_then(|g| g.syncer.clone())
    }

    fn state(&self) -> State {
        self.inner
            .lock()
            .map(|g| g.state.clone())
            .unwrap_or(State::Failed("sync state lock poisoned".into()))
    }
}

fn set(inner: &Mutex<Inner>, state: State, syncer: Option<Syncer>) {
    if let Ok(mut g) = inner.lock() {
        g.state = state;
        g.syncer = syncer;
    }
}

/// Sleeps `d` in small steps; `true` when asked to stop meanwhile.
fn sleep_or_stop(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100).min(end - Instant::now()));
    }
    stop.load(Ordering::SeqCst)
}

/// The syncer for `data_dir`, or the state to show while there is none.
fn open_syncer(data_dir: &Path, identity: &Identity) -> Result<Syncer, State> {
    let dd = DataDir::new(data_dir.to_path_buf());
    if !dd
        .keys_dir()
        .join(countersign_ledger::PUBLIC_KEY_FILE)
        .exists()
    {
        return Err(State::Waiting);
    }
    if !data_dir
        .join(countersign_sync::config::CONFIG_FILE)
        .exists()
    {
        return Err(State::NotConfigured);
    }
    let failed = |what: &str, e: &dyn std::fmt::Display| State::Failed(format!("{what}: {e}"));
    let cfg = SyncConfig::load(data_dir).map_err(|e| failed("sync.toml", &without_source(&e)))?;
    let (kiosk, policy) = identity().map_err(|e| failed("opening the data dir", &e))?;
    let keys = Keys::load(&dd.keys_dir()).map_err(|e| failed("loading the kiosk keys", &e))?;
    let mut ledger =
        Ledger::open(&dd.ledger_path(), keys).map_err(|e| failed("opening the ledger", &e))?;
    // The kiosk's local anchor: an alarm the bucket check raises stops the
    // engine from signing (issue 14 item 2).
    let guard = countersign_engine::anchor::guard_for(&kiosk, data_dir)
        .map_err(|e| failed("the local anchor", &e))?;
    ledger.set_anchor(guard);
    Syncer::new(ledger, &kiosk, cfg, &policy).map_err(|e| failed("sync", &e))
}

/// A config error without the lines of the file a TOML parser quotes (a
/// mistyped line may hold a secret): only its position and the reason.
pub fn without_source(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            let t = t
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
            !t.starts_with('|')
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn worker(
    data_dir: &Path,
    identity: &Identity,
    retry: Duration,
    inner: &Mutex<Inner>,
    stop: &AtomicBool,
    mut stop_rx: tokio::sync::watch::Receiver<bool>,
) {
    let syncer = loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match open_syncer(data_dir, identity) {
            Ok(s) => break s,
            Err(state) => {
                if let State::Failed(m) = &state {
                    eprintln!("countersign-app: evidence sync not started: {m}");
                }
                set(inner, state, None);
                if sleep_or_stop(retry, stop) {
                    return;
                }
            }
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("countersign-sync-rt")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            set(inner, State::Failed(format!("async runtime: {e}")), None);
            return;
        }
    };
    set(inner, State::Running, Some(syncer.clone()));
    let run_rx = stop_rx.clone();
    rt.block_on(async move {
        let run = syncer.run(run_rx);
        tokio::pin!(run);
        // `run` returns after its current pass once stop is set; a pass
        // that takes longer than the grace (a slow store) is dropped.
        tokio::select! {
            _ = &mut run => {}
            _ = async {
                while !*stop_rx.borrow() {
                    if stop_rx.changed().await.is_err() {
                        break;
                    }
                }
                tokio::time::sleep(STOP_GRACE).await;
            } => {}
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    set(inner, State::Stopped, None);
}

/// The sync status now: the live uploader's (with its in-flight count) when
/// it runs, else read from the ledger and `sync.toml` (no network, no
/// credentials).
pub fn sync_status(sh: &Shared, w: &SyncWorker) -> Res<ipc::SyncStatusView> {
    sh.require(countersign_engine::ConsoleRole::Admin, "sync_status")?;
    sync_status_ungated(sh, w)
}

/// [`sync_status`] behind the console's gate (and for this module's tests).
fn sync_status_ungated(sh: &Shared, w: &SyncWorker) -> Res<ipc::SyncStatusView> {
    let state = w.state();
    let (st, config_error) = match w.live() {
        Some(s) => (s.status()?, None),
        None => {
            let (st, config_error) = sh.run(|e, _| {
                // A sync.toml that cannot be read still leaves a backlog to show.
                let (target, config_error) = match SyncConfig::load_for_status(e.data_dir()) {
                    Ok(t) => (t, None),
                    Err(err) => (None, Some(without_source(&err))),
                };
                let st = status_at(
                    e.ledger(),
                    e.kiosk_id(),
                    target.as_ref(),
                    &e.policy().sync,
                    0,
                    now_ms(),
                );
                Ok((st, config_error))
            })?;
            let mut st = st?;
            st.configured |= config_error.is_some();
            (st, config_error)
        }
    };
    let (uploader, uploader_error) = match state {
        State::Waiting => (ipc::UploaderState::Waiting, None),
        State::NotConfigured => (ipc::UploaderState::NotConfigured, None),
        State::Failed(m) => (ipc::UploaderState::Failed, Some(m)),
        State::Running => (ipc::UploaderState::Running, None),
        State::Stopped => (ipc::UploaderState::Stopped, None),
    };
    let uploader_error = uploader_error.or(config_error);
    Ok(view(st, uploader, uploader_error))
}

fn view(
    st: SyncStatus,
    uploader: ipc::UploaderState,
    uploader_error: Option<String>,
) -> ipc::SyncStatusView {
    ipc::SyncStatusView {
        kiosk: st.kiosk,
        configured: st.configured,
        endpoint: st.endpoint,
        bucket: st.bucket,
        queued_events: st.queued_events,
        queued_blobs: st.queued_blobs,
        queued_checkpoints: st.queued_checkpoints,
        synced_events: st.synced_events,
        blobs_purged_unsynced: st.blobs_purged_unsynced,
        in_flight: st.in_flight,
        last_attempt_ms: st.last_attempt_ms,
        last_success_ms: st.last_success_ms,
        last_error: st.last_error,
        last_error_ms: st.last_error_ms,
        oldest_unsynced_seq: st.oldest_unsynced_seq,
        oldest_unsynced_age_ms: st.oldest_unsynced_age_ms,
        alert_after_ms: st.alert_after_ms,
        alert: st.alert,
        uploader,
        uploader_error,
        checked_at_ms: now_ms(),
    }
}

/// The kiosk id and the policy's `[sync]`, from the app's engine.
pub fn identity(sh: &Shared) -> Res<(String, SyncPolicy)> {
    sh.run(|e, _| Ok((e.kiosk_id().to_string(), e.policy().sync.clone())))
}

#[cfg(test)]
mod tests;
