//! `countersign status`: what the kiosk needs someone to know. Opens the
//! data dir without writing anything (no expiry events, no checkpoint), so
//! it works when writes are refused.

use anyhow::Context;
use countersign_engine::Engine;

use crate::args::Cli;
use crate::Coded;

pub fn status(cli: &Cli) -> anyhow::Result<()> {
    let engine = Engine::open_for_audit(&cli.data_dir)
        .with_context(|| format!("opening {}", cli.data_dir.display()))?;
    let st = engine.clock_status()?;
    let anchor = engine.anchor_status()?;
    if cli.json {
        let mut v = serde_json::to_value(&st)?;
        v["anchor"] = serde_json::to_value(&anchor)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("kiosk {}", engine.kiosk_id());
        match st.newest_event_ms {
            Some(n) => println!(
                "clock: {} (newest ledger event {} ms {})",
                if st.writes_refused {
                    "BEHIND THE LEDGER"
                } else {
                    "ok"
                },
                (st.now_ms - n).abs(),
                if st.now_ms >= n {
                    "ago"
                } else {
                    "ahead of this clock"
                }
            ),
            None => println!("clock: ok (empty ledger)"),
        }
        if let Some(r) = &st.last_refusal {
            println!(
                "last clock refusal: recorded at seq {}: the clock read {} ms, {} ms behind the newest event",
                r.seq, r.observed_ms, r.behind_ms
            );
        }
        crate::cmd_anchor::print_anchor(&anchor);
    }
    if let Some(p) = &anchor.problem {
        return Err(crate::cmd_anchor::coded(p).into());
    }
    if st.writes_refused {
        return Err(Coded {
            code: countersign_engine::CLOCK_BEHIND_CODE,
            message: format!(
                "the clock is {} s behind the newest ledger event (tolerance {} s): the kiosk refuses to write until the clock is right",
                st.behind_ms / 1000,
                countersign_engine::CLOCK_TOLERANCE_MS / 1000
            ),
        }
        .into());
    }
    Ok(())
}
