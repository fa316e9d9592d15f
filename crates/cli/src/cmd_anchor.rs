//! `countersign anchor`: the local anchor of the chain (outside the data
//! dir; see `crates/ledger/src/anchor.rs`) and an admin's re-seed.

use anyhow::Context;
use countersign_engine::{AnchorProblem, AnchorStatus, DataDir, Engine};
use countersign_ledger::{Keys, Ledger};
use countersign_sync::{SyncConfig, SyncError, Syncer};
use serde_json::json;

use crate::args::{AnchorCmd, Cli};
use crate::util::{print_json, read_secret};
use crate::Coded;

/// An anchor problem as the CLI's error (its code is the engine's).
pub fn coded(p: &AnchorProblem) -> Coded {
    Coded {
        code: p.code,
        message: p.message.clone(),
    }
}

pub fn print_anchor(st: &AnchorStatus) {
    println!("anchor dir: {}", st.state_dir.display());
    match &st.anchor {
        Some(a) => println!("anchor: seq {} hash {}", a.seq, a.hash),
        None => println!("anchor: none"),
    }
    match &st.ledger_head {
        Some(h) => println!("ledger head: seq {} hash {}", h.seq, h.hash_hex),
        None => println!("ledger head: empty"),
    }
    if let Some(a) = &st.alarm {
        println!("ALARM [{}]: {}", a.code, a.message);
    }
    match &st.problem {
        None => println!("anchor: ok (the ledger is on the anchored chain, at or past it)"),
        Some(p) => println!("anchor: WRITES REFUSED [{}]", p.code),
    }
}

/// What the bucket says about the ledger, for the re-seed's record; an
/// error when it is ahead of or off the ledger, or cannot be read.
fn bucket_check(cli: &Cli, e: &Engine, skip: bool) -> anyhow::Result<serde_json::Value> {
    if !cli.data_dir.join("sync.toml").exists() {
        return Ok(json!({ "configured": false }));
    }
    if skip {
        return Ok(json!({ "configured": true, "checked": false, "why": "--no-bucket-check" }));
    }
    let cfg = SyncConfig::load(&cli.data_dir).map_err(crate::cmd_sync::coded)?;
    let dd = DataDir::new(cli.data_dir.clone());
    let keys = Keys::load(&dd.keys_dir()).context("loading the kiosk keys")?;
    // Its own connection, without the anchor guard the re-seed is about.
    let ledger = Ledger::open(&dd.ledger_path(), keys).context("opening the ledger")?;
    let syncer =
        Syncer::new(ledger, e.kiosk_id(), cfg, &e.policy().sync).map_err(crate::cmd_sync::coded)?;
    match crate::cmd_sync::runtime()?.block_on(syncer.bucket_agrees()) {
        Ok(h) => Ok(json!({
            "configured": true,
            "checked": true,
            "remote_seq": h.remote_seq,
            "remote_hash": h.remote_hash,
        })),
        Err(SyncError::Anchor { code, message }) => Err(Coded {
            code,
            message: format!(
                "{message}; a re-seed would accept a ledger behind or off the bucket: restore this kiosk from the bucket instead (countersign restore --from-bucket), or, after investigation, re-seed with --no-bucket-check (recorded)"
            ),
        }
        .into()),
        Err(err) => Err(Coded {
            code: err.code(),
            message: format!(
                "the bucket could not be checked before the re-seed ({err}); when it is truly unreachable, re-seed with --no-bucket-check (recorded)"
            ),
        }
        .into()),
    }
}

pub fn run(cli: &Cli, c: &AnchorCmd) -> anyhow::Result<()> {
    let mut e = countersign_engine::Engine::open_for_audit(&cli.data_dir)?;
    match c {
        AnchorCmd::Status => {
            let st = e.anchor_status()?;
            if cli.json {
                print_json(&st)?;
            } else {
                print_anchor(&st);
            }
            if let Some(p) = &st.problem {
                return Err(coded(p).into());
            }
        }
        AnchorCmd::Reseed {
            admin,
            reason,
            no_bucket_check,
        } => {
            // Before any factor is spent: a re-seed never accepts a ledger
            // the bucket is ahead of or off (that kiosk is restored instead).
            let bucket = bucket_check(cli, &e, *no_bucket_check)?;
            let secret = read_secret(&admin.by)?;
            let st = e.reseed_anchor_with(&admin.by, &secret, &admin.otp, reason, bucket)?;
            if cli.json {
                print_json(&st)?;
            } else {
                print_anchor(&st);
                println!("re-seeded by {} (recorded as anchor.reseeded)", admin.by);
            }
        }
    }
    Ok(())
}
