//! `countersign sync ...` (this kiosk's evidence to write-once storage) and
//! `countersign fleet ...` (a bucket opened read-only, every kiosk in it).

use std::path::PathBuf;

use anyhow::Context;
use countersign_engine::{DataDir, Engine};
use countersign_ledger::{Keys, Ledger};
use countersign_sync::fleet::Fleet;
use countersign_sync::{
    kiosk_status, status_at, verify_remote, SyncConfig, SyncError, SyncStatus, Syncer,
};

use crate::args::{Cli, FleetCmd, SyncCmd};
use crate::Coded;

/// A sync error as `error[sync.*]`.
pub(crate) fn coded(e: SyncError) -> anyhow::Error {
    Coded {
        code: e.code(),
        message: e.to_string(),
    }
    .into()
}

trait Sx<T> {
    fn sx(self) -> anyhow::Result<T>;
}

impl<T> Sx<T> for Result<T, SyncError> {
    fn sx(self) -> anyhow::Result<T> {
        self.map_err(coded)
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn config(cli: &Cli, path: &Option<PathBuf>) -> anyhow::Result<SyncConfig> {
    let cfg = match path {
        Some(p) => SyncConfig::load_file(p).sx()?,
        None => SyncConfig::load(&cli.data_dir).sx()?,
    };
    Ok(cfg)
}

fn engine(cli: &Cli) -> anyhow::Result<Engine> {
    Engine::open(&cli.data_dir).with_context(|| format!("opening {}", cli.data_dir.display()))
}

/// A syncer on its own connection to the ledger, under the policy's `[sync]`.
fn syncer(cli: &Cli, cfg_path: &Option<PathBuf>) -> anyhow::Result<Syncer> {
    let cfg = config(cli, cfg_path)?;
    let engine = engine(cli)?;
    let dd = DataDir::new(cli.data_dir.clone());
    let keys = Keys::load(&dd.keys_dir()).context("loading the kiosk keys")?;
    let mut ledger = Ledger::open(&dd.ledger_path(), keys).context("opening the ledger")?;
    // The same local anchor as the engine's: an alarm the pass raises
    // stops every process from signing.
    if let Some(g) = engine.ledger().anchor() {
        ledger.set_anchor(g.clone());
    }
    Syncer::new(ledger, engine.kiosk_id(), cfg, &engine.policy().sync).sx()
}

fn fmt_age(ms: i64) -> String {
    let s = ms / 1000;
    if s >= 86_400 {
        format!("{}d {}h", s / 86_400, s % 86_400 / 3600)
    } else if s >= 3600 {
        format!("{}h {}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn print_status(cli: &Cli, st: &SyncStatus) -> anyhow::Result<()> {
    if cli.json {
        println!("{}", serde_json::to_string(st)?);
        return Ok(());
    }
    let now = countersign_sync::now_ms();
    let ago = |t: Option<i64>| {
        t.map(|t| format!("{} ago", fmt_age(now - t)))
            .unwrap_or_else(|| "never".into())
    };
    match (&st.endpoint, &st.bucket) {
        (Some(ep), Some(b)) => println!("kiosk {} -> bucket {b} at {ep}", st.kiosk),
        _ => println!(
            "kiosk {}: sync not configured (no sync.toml): nothing is uploaded",
            st.kiosk
        ),
    }
    println!(
        "queued: {} events, {} blobs, {} checkpoints; in flight: {}; synced events: {}",
        st.queued_events, st.queued_blobs, st.queued_checkpoints, st.in_flight, st.synced_events
    );
    println!("last attempt: {}", ago(st.last_attempt_ms));
    println!("last success: {}", ago(st.last_success_ms));
    if let Some(e) = &st.last_error {
        println!("last error ({}): {e}", ago(st.last_error_ms));
    }
    match (st.oldest_unsynced_seq, st.oldest_unsynced_age_ms) {
        (Some(seq), Some(age)) => {
            println!("oldest unsynced event: seq {seq}, {} old", fmt_age(age))
        }
        _ => println!("oldest unsynced event: none (all evidence is remote)"),
    }
    if st.blobs_purged_unsynced > 0 {
        println!(
            "warning: {} blobs were purged by retention before they were uploaded",
            st.blobs_purged_unsynced
        );
    }
    Ok(())
}

pub fn sync(cli: &Cli, c: &SyncCmd) -> anyhow::Result<()> {
    match c {
        SyncCmd::Status { config } => {
            // The ledger and the policy only: no network, no credentials.
            // Opened for audit: a raised alarm is shown, not a failed open.
            let e = Engine::open_for_audit(&cli.data_dir)
                .with_context(|| format!("opening {}", cli.data_dir.display()))?;
            let anchor = e.anchor_status()?;
            let st = match config {
                None => {
                    kiosk_status(e.ledger(), e.kiosk_id(), e.data_dir(), &e.policy().sync).sx()?
                }
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("reading {}", p.display()))?;
                    let cfg = SyncConfig::parse_for_status(&text)
                        .map_err(|e| SyncError::Config(format!("{}: {e}", p.display())))
                        .sx()?;
                    status_at(
                        e.ledger(),
                        e.kiosk_id(),
                        Some(&cfg),
                        &e.policy().sync,
                        0,
                        countersign_sync::now_ms(),
                    )
                    .sx()?
                }
            };
            print_status(cli, &st)?;
            if let Some(p) = &anchor.problem {
                if !cli.json {
                    println!("ALERT [{}]: {}", p.code, p.message);
                }
                return Err(crate::cmd_anchor::coded(p).into());
            }
            if st.alert {
                return Err(Coded {
                    code: countersign_engine::Code::SyncAlert,
                    message: format!(
                        "the oldest unsynced event is older than the policy's limit ({}, [sync] unsynced_alert_minutes)",
                        fmt_age(st.alert_after_ms)
                    ),
                }
                .into());
            }
            Ok(())
        }
        SyncCmd::Run {
            config,
            once,
            max_failures,
        } => {
            let s = syncer(cli, config)?;
            let rt = runtime()?;
            if *once {
                let r = rt.block_on(s.run_until_caught_up(*max_failures)).sx()?;
                if cli.json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    println!(
                        "caught up: {} objects uploaded ({} already there from an interrupted attempt)",
                        r.uploaded, r.adopted
                    );
                }
                return Ok(());
            }
            eprintln!("syncing {} (Ctrl-C to stop)", s.layout().root);
            rt.block_on(async {
                let (tx, rx) = tokio::sync::watch::channel(false);
                let bg = {
                    let s = s.clone();
                    tokio::spawn(async move { s.run(rx).await })
                };
                let _ = tokio::signal::ctrl_c().await;
                let _ = tx.send(true);
                let _ = bg.await;
            });
            print_status(cli, &s.status().sx()?)
        }
        SyncCmd::Verify { config } => {
            let s = syncer(cli, config)?;
            let rep = runtime()?.block_on(verify_remote(&s)).sx()?;
            if cli.json {
                println!("{}", serde_json::to_string(&rep)?);
            } else {
                println!(
                    "kiosk {}: {} expected, {} in the bucket, {} ok, {} not uploaded yet, {} uploaded but not yet recorded",
                    rep.kiosk, rep.expected, rep.remote_objects, rep.ok, rep.not_yet_uploaded, rep.unrecorded
                );
                for k in &rep.missing {
                    println!("missing: {k}");
                }
                for k in &rep.extra {
                    println!("extra: {k}");
                }
                for k in &rep.altered {
                    println!("altered: {k}");
                }
            }
            if !rep.is_clean() {
                return Err(Coded {
                    code: countersign_engine::Code::SyncVerifyFailed,
                    message: format!(
                        "{} missing, {} extra, {} altered objects",
                        rep.missing.len(),
                        rep.extra.len(),
                        rep.altered.len()
                    ),
                }
                .into());
            }
            Ok(())
        }
    }
}

pub fn fleet(cli: &Cli, c: &FleetCmd) -> anyhow::Result<()> {
    let rt = runtime()?;
    match c {
        FleetCmd::ListKiosks { config } => {
            let f = Fleet::open(&config_any(cli, config)?).sx()?;
            let ks = rt.block_on(f.list_kiosks()).sx()?;
            if cli.json {
                println!("{}", serde_json::to_string(&ks)?);
            } else {
                for k in ks {
                    println!("{k}");
                }
            }
            Ok(())
        }
        FleetCmd::Verify { config, kiosks } => {
            let f = Fleet::open(&config_any(cli, config)?).sx()?;
            let ks = if kiosks.is_empty() {
                rt.block_on(f.list_kiosks()).sx()?
            } else {
                kiosks.clone()
            };
            let mut bad = 0;
            for k in &ks {
                let r = rt.block_on(f.verify_kiosk(k)).sx()?;
                if cli.json {
                    println!("{}", serde_json::to_string(&r)?);
                } else if r.is_ok() {
                    println!(
                        "{k}: ok: {} events verified (chain, signatures), {} checkpoints, {} blobs",
                        r.verified_through, r.checkpoints, r.blobs
                    );
                } else {
                    println!(
                        "{k}: FAILED after seq {} ({} problems):",
                        r.verified_through,
                        r.problems.len()
                    );
                    for p in r.problems.iter().take(20) {
                        println!("  {p}");
                    }
                }
                bad += (!r.is_ok()) as usize;
            }
            if bad > 0 {
                return Err(Coded {
                    code: countersign_engine::Code::FleetVerifyFailed,
                    message: format!("{bad} of {} kiosks failed verification", ks.len()),
                }
                .into());
            }
            Ok(())
        }
        FleetCmd::Log {
            config,
            kiosks,
            filter,
        } => {
            let f = Fleet::open(&config_any(cli, config)?).sx()?;
            let filter = crate::util::to_filter(filter)?;
            let evs = rt.block_on(f.log(kiosks, &filter)).sx()?;
            for e in evs {
                println!("{}", serde_json::to_string(&e)?);
            }
            Ok(())
        }
    }
}

/// The fleet view needs only a config (a reviewer has no kiosk data dir).
fn config_any(cli: &Cli, path: &Option<PathBuf>) -> anyhow::Result<SyncConfig> {
    config(cli, path)
}
