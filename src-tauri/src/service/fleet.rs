//! The reviewer console's fleet view: the central bucket opened read-only
//! (GET and LIST only), every kiosk verified from its objects alone, events
//! paged and exported across kiosks with the local log's filters.
//!
//! The fleet config is a sync config (same keys as `sync.toml`: endpoint,
//! region, bucket, prefix, ca_cert, read-only credentials) at
//! `COUNTERSIGN_FLEET_CONFIG`, else `<data dir>/fleet.toml`. Its
//! credentials stay in this process: nothing here returns or logs them.
//!
//! A read keeps every event of every kiosk in memory (a [`FleetSnapshot`]);
//! see the README for the limit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use countersign_ledger::Filter;
use countersign_sync::{
    now_ms, ExportFormat, Fleet, FleetCursor, FleetEvent, FleetPageRequest, FleetSnapshot,
    KioskReport, SyncConfig, SyncError,
};

use super::{non_empty, Res, MAX_PAGE};
use crate::ipc::{self, codes, IpcError};

/// The environment variable naming the fleet config file.
pub const ENV_FLEET_CONFIG: &str = "COUNTERSIGN_FLEET_CONFIG";
/// The fleet config's default name in the data dir.
pub const FLEET_FILE: &str = "fleet.toml";

/// The fleet view's state: where its config is and the last read.
#[allow(missing_debug_implementations)] // holds a snapshot of the bucket
pub struct FleetState {
    config_path: PathBuf,
    exports_dir: PathBuf,
    last: Mutex<Option<Loaded>>,
}

struct Loaded {
    snapshot: Arc<FleetSnapshot>,
    overview: ipc::FleetOverview,
}

impl FleetState {
    /// `COUNTERSIGN_FLEET_CONFIG` if set, else `<data dir>/fleet.toml`;
    /// exports go to `<data dir>/exports/`.
    pub fn from_env(data_dir: &Path, env: impl Fn(&str) -> Option<String>) -> FleetState {
        let config_path = env(ENV_FLEET_CONFIG)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join(FLEET_FILE));
        FleetState::new(config_path, data_dir.join("exports"))
    }

    pub fn new(config_path: PathBuf, exports_dir: PathBuf) -> FleetState {
        FleetState {
            config_path,
            exports_dir,
            last: Mutex::new(None),
        }
    }

    fn not_configured(&self) -> ipc::FleetOverview {
        ipc::FleetOverview {
            configured: false,
            config_path: self.config_path.display().to_string(),
            endpoint: None,
            bucket: None,
            loaded_at_ms: None,
            kiosks: Vec::new(),
            all_ok: false,
            events: 0,
        }
    }

    fn snapshot(&self) -> Res<Arc<FleetSnapshot>> {
        self.last
            .lock()
            .map_err(|_| IpcError::new(codes::INTERNAL, "fleet state lock poisoned"))?
            .as_ref()
            .map(|l| l.snapshot.clone())
            .ok_or_else(|| {
                IpcError::new(
                    ipc::sync_codes::FLEET_NOT_LOADED,
                    "the bucket has not been read yet: open the fleet view first",
                )
            })
    }
}

/// Runs an async fleet call to completion on a runtime of its own, on a
/// thread of its own (so it works whether or not the caller is inside an
/// async runtime, as Tauri's async commands are).
fn block_on<T: Send>(
    f: impl std::future::Future<Output = Result<T, SyncError>> + Send,
) -> Result<T, SyncError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| SyncError::Internal(format!("async runtime: {e}")))?
                .block_on(f)
        })
        .join()
        .unwrap_or_else(|_| Err(SyncError::Internal("the fleet reader panicked".into())))
    })
}

fn kiosk_view(r: &KioskReport) -> ipc::FleetKioskView {
    ipc::FleetKioskView {
        kiosk: r.kiosk.clone(),
        ok: r.is_ok(),
        public_key: r.public_key.clone(),
        events: r.events,
        verified_through: r.verified_through,
        head_hash: r.head_hash.clone(),
        checkpoints: r.checkpoints,
        blobs: r.blobs,
        problem_count: r.problems.len() as u32,
        problems: r.problems.iter().take(ipc::MAX_PROBLEMS).cloned().collect(),
    }
}

/// The last read of the bucket, or "not configured" / "not read yet".
pub fn fleet_overview(st: &FleetState) -> Res<ipc::FleetOverview> {
    let last = st
        .last
        .lock()
        .map_err(|_| IpcError::new(codes::INTERNAL, "fleet state lock poisoned"))?;
    Ok(match last.as_ref() {
        Some(l) => l.overview.clone(),
        None => ipc::FleetOverview {
            configured: st.config_path.exists(),
            ..st.not_configured()
        },
    })
}

/// Reads the bucket now: lists kiosks, verifies each from its objects alone
/// and keeps the events for paging. Without a fleet config, says so (and
/// where it looked) instead of failing.
pub fn fleet_open(st: &FleetState) -> Res<ipc::FleetOverview> {
    if !st.config_path.exists() {
        return Ok(st.not_configured());
    }
    let cfg = SyncConfig::load_file(&st.config_path)
        .map_err(|e| IpcError::new(e.code(), super::sync::without_source(&e)))?;
    let fleet = Fleet::open(&cfg)?;
    let snapshot = block_on(async move { fleet.snapshot(&[]).await })?;
    let overview = ipc::FleetOverview {
        configured: true,
        config_path: st.config_path.display().to_string(),
        endpoint: Some(cfg.endpoint_display()),
        bucket: Some(cfg.bucket.clone()),
        loaded_at_ms: Some(now_ms()),
        kiosks: snapshot.reports().iter().map(kiosk_view).collect(),
        all_ok: snapshot.all_ok(),
        events: snapshot.event_count() as u64,
    };
    let mut last = st
        .last
        .lock()
        .map_err(|_| IpcError::new(codes::INTERNAL, "fleet state lock poisoned"))?;
    *last = Some(Loaded {
        snapshot: Arc::new(snapshot),
        overview: overview.clone(),
    });
    Ok(overview)
}

fn to_filter(q: &ipc::FleetQuery) -> Filter {
    Filter {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        kinds: q.kinds.clone(),
        person: non_empty(&q.person),
        supervisor: non_empty(&q.supervisor),
        outcome: non_empty(&q.outcome),
        trigger: non_empty(&q.trigger),
        case_id: non_empty(&q.case_id),
        pending_review: q.pending_review,
    }
}

fn kiosks(q: &ipc::FleetQuery) -> Vec<String> {
    non_empty(&q.kiosk).into_iter().collect()
}

fn row(e: FleetEvent) -> ipc::FleetEventRow {
    ipc::FleetEventRow {
        kiosk: e.kiosk,
        seq: e.seq,
        ts_ms: e.ts_ms,
        kind: e.kind,
        person: e.index.person,
        supervisor: e.index.supervisor,
        outcome: e.index.outcome,
        trigger: e.index.trigger,
        case_id: e.index.case_id,
        body: e.body,
        hash_hex: e.hash,
    }
}

/// One page of events across kiosks, from the last read.
pub fn fleet_events(st: &FleetState, q: ipc::FleetQuery) -> Res<ipc::FleetEventPage> {
    let snap = st.snapshot()?;
    let page = snap.page_in(
        &kiosks(&q),
        &to_filter(&q),
        &FleetPageRequest {
            after: q.after.map(|c| FleetCursor {
                ts_ms: c.ts_ms,
                kiosk: c.kiosk,
                seq: c.seq,
            }),
            limit: q.limit.clamp(1, MAX_PAGE),
            newest_first: q.newest_first,
        },
    );
    Ok(ipc::FleetEventPage {
        rows: page.rows.into_iter().map(row).collect(),
        next_after: page.next_after.map(|c| ipc::FleetCursorView {
            ts_ms: c.ts_ms,
            kiosk: c.kiosk,
            seq: c.seq,
        }),
    })
}

/// Writes the matching events of the last read to
/// `<data dir>/exports/fleet-<time>.jsonl` or `.ocsf.jsonl` (whole file or
/// nothing).
pub fn fleet_export(st: &FleetState, r: ipc::FleetExportRequest) -> Res<ipc::ExportResult> {
    let format: ExportFormat = r.format.parse()?;
    let snap = st.snapshot()?;
    let ext = match format {
        ExportFormat::Jsonl => "jsonl",
        ExportFormat::Ocsf => "ocsf.jsonl",
    };
    let dir = &st.exports_dir;
    let io = |what: &str, p: &Path| {
        let what = format!("{what} {}", p.display());
        move |e: std::io::Error| IpcError::new(ipc::sync_codes::EXPORT, format!("{what}: {e}"))
    };
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let path = dir.join(format!("fleet-{}.{ext}", now_ms()));
    let tmp = path.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(io("creating", &tmp))?;
    let mut w = std::io::BufWriter::new(file);
    let n = snap.export(&kiosks(&r.query), &to_filter(&r.query), format, &mut w)?;
    let file = w
        .into_inner()
        .map_err(|e| io("writing", &tmp)(e.into_error()))?;
    file.sync_all().map_err(io("writing", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(io("moving", &path))?;
    Ok(ipc::ExportResult {
        path: path.display().to_string(),
        count: n,
    })
}
