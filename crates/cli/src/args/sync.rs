//! `countersign sync …` and `countersign fleet …`.

use std::path::PathBuf;

use clap::Subcommand;

use super::FilterArgs;

#[derive(Debug, Subcommand)]
pub enum SyncCmd {
    /// Queued, in flight, last success, oldest unsynced event; exit 1 (sync.alert) past the alert limit.
    Status {
        /// Sync config (default: <data dir>/sync.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Upload queued evidence: until caught up with --once, else forever (Ctrl-C stops).
    Run {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Stop when nothing is queued (exit 1 if the store stays unreachable).
        #[arg(long)]
        once: bool,
        /// With --once: give up after this many consecutive failed passes.
        #[arg(long, default_value_t = 8)]
        max_failures: u32,
    },
    /// Compare the bucket with the local chain: missing, extra or altered objects (exit 1 if any).
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FleetCmd {
    /// Kiosk ids in the bucket.
    ListKiosks {
        /// Bucket config (default: <data dir>/sync.toml); read-only credentials suffice.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Verify kiosks (all by default) from the bucket alone: chain, signatures, checkpoints, blobs.
    Verify {
        #[arg(long)]
        config: Option<PathBuf>,
        kiosks: Vec<String>,
    },
    /// Events across kiosks as JSON lines, with the local log's filters.
    Log {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Only this kiosk (repeat for several; default all).
        #[arg(long = "kiosk")]
        kiosks: Vec<String>,
        #[command(flatten)]
        filter: FilterArgs,
    },
}
