//! Run the ledger benchmark: `cargo run --release -p countersign-ledger --example ledger_bench -- [dir] [big_events]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut cfg = countersign_ledger::bench::BenchConfig::default();
    if let Some(n) = args.next() {
        cfg.big_events = n.parse()?;
    }
    std::fs::create_dir_all(&dir)?;
    let report = countersign_ledger::bench::run(&dir, &cfg)?;
    println!("{report}");
    Ok(())
}
