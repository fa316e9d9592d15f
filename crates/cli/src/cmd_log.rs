use std::io::Write;

use anyhow::{bail, Context};
use countersign_ledger::PageRequest;

use crate::args::{Cli, LogCmd};
use crate::cmd_bench_face::BenchArgs;
use crate::util::{fmt_time, print_json, to_filter};

pub fn run(cli: &Cli, c: &LogCmd) -> anyhow::Result<()> {
    let mut e = crate::open_audit(cli)?;
    match c {
        LogCmd::List {
            filter,
            limit,
            after,
            newest_first,
        } => {
            let page = e.ledger().query(
                &to_filter(filter)?,
                &PageRequest {
                    after_seq: *after,
                    limit: *limit,
                    newest_first: *newest_first,
                },
            )?;
            if cli.json {
                return print_json(&page);
            }
            for r in &page.rows {
                let i = &r.index;
                println!(
                    "{:>8} {} {:<28} {:<10} {:<10} {:<16} {:<18} {}",
                    r.seq,
                    fmt_time(r.ts_ms),
                    r.kind,
                    i.person.as_deref().unwrap_or("-"),
                    i.supervisor.as_deref().unwrap_or("-"),
                    i.outcome.as_deref().unwrap_or("-"),
                    i.trigger.as_deref().unwrap_or("-"),
                    i.case_id.as_deref().unwrap_or("-")
                );
            }
            match page.next_after {
                Some(n) => println!("next: --after {n}"),
                None => println!("({} event(s), end)", page.rows.len()),
            }
        }
        LogCmd::Show { seq } => match e.ledger().get(*seq)? {
            Some(r) => print_json(&r)?,
            None => bail!("no event with seq {seq}"),
        },
        LogCmd::Verify => {
            let r = e.ledger().verify()?;
            if cli.json {
                print_json(&r)?;
            } else if r.problems.is_empty() {
                println!("ledger verified: {} events, {} checkpoints, {} blobs ({} purged); chain, signatures and seals intact", r.events, r.checkpoints, r.blobs, r.purged_blobs);
            }
            if let Some(p) = r.problems.first() {
                let at = p
                    .seq
                    .map(|s| format!("seq {s}"))
                    .unwrap_or("the ledger".into());
                return Err(crate::Coded {
                    code: countersign_engine::Code::LedgerVerifyFailed,
                    message: format!(
                        "ledger verification FAILED at {at}: {:?}: {} ({} problem(s) in all)",
                        p.what,
                        p.detail,
                        r.problems.len()
                    ),
                }
                .into());
            }
        }
        LogCmd::Export {
            format,
            out,
            filter,
        } => {
            let f = to_filter(filter)?;
            let n = match out {
                None => {
                    let stdout = std::io::stdout();
                    let mut w = std::io::BufWriter::new(stdout.lock());
                    let n = export(&e, format, &f, &mut w)?;
                    w.flush()?;
                    n
                }
                Some(path) => {
                    // Whole file or nothing: write beside it, then rename.
                    let tmp = path.with_extension("partial");
                    let res = (|| -> anyhow::Result<u64> {
                        let file = std::fs::File::create(&tmp)
                            .with_context(|| format!("creating {}", tmp.display()))?;
                        let mut w = std::io::BufWriter::new(file);
                        let n = export(&e, format, &f, &mut w)?;
                        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                        std::fs::rename(&tmp, path)
                            .with_context(|| format!("moving the export to {}", path.display()))?;
                        Ok(n)
                    })();
                    if res.is_err() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    let n = res?;
                    eprintln!("exported {n} event(s) to {}", path.display());
                    n
                }
            };
            let _ = n;
        }
        LogCmd::Purge => {
            let n = e.purge_expired_samples()?;
            println!(
                "purged {n} sample(s) older than {} days",
                e.policy().retention.sample_days
            );
        }
        LogCmd::Checkpoint => {
            let now = e.now();
            match e.ledger_mut().checkpoint(now)? {
                Some(c) => println!(
                    "checkpoint {} over seq {}..={}: root {}",
                    c.n, c.first_seq, c.last_seq, c.root_hash_hex
                ),
                None => println!("no new events since the last checkpoint"),
            }
        }
    }
    Ok(())
}

fn export(
    e: &countersign_engine::Engine,
    format: &str,
    f: &countersign_ledger::Filter,
    w: &mut dyn Write,
) -> anyhow::Result<u64> {
    Ok(match format {
        "ocsf" => e.ledger().export_ocsf(f, w)?,
        _ => e.ledger().export_jsonl(f, w)?,
    })
}

pub fn bench(a: &BenchArgs) -> anyhow::Result<()> {
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("countersign-bench-{}", std::process::id()));
            tmp
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let cfg = countersign_ledger::bench::BenchConfig {
        big_events: a.events,
        ..Default::default()
    };
    eprintln!(
        "benchmarking the ledger in {} ({} events; this takes a few minutes in a release build)",
        dir.display(),
        a.events
    );
    let report = countersign_ledger::bench::run(&dir, &cfg);
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let text = report?.to_string();
    println!("{text}");
    if let Some(out) = &a.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
