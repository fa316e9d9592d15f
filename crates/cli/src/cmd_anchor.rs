//! `countersign anchor`: the local anchor of the chain (outside the data
//! dir; see `crates/ledger/src/anchor.rs`) and an admin's re-seed.

use countersign_engine::{AnchorProblem, AnchorStatus};

use crate::args::{AnchorCmd, Cli};
use crate::util::{print_json, read_secret};
use crate::Coded;

/// An anchor problem as the CLI's error (its code is the engine's).
pub fn coded(p: &AnchorProblem) -> Coded {
    let code: &'static str = Box::leak(p.code.clone().into_boxed_str());
    Coded {
        code,
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
        AnchorCmd::Reseed { admin, reason } => {
            let secret = read_secret(&admin.by)?;
            let st = e.reseed_anchor(&admin.by, &secret, &admin.otp, reason)?;
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
