//! Sync against a real SeaweedFS with Object Lock on 127.0.0.1 (started by
//! each test; `weed` comes from scripts/setup.sh). Fault counts can be
//! raised with `COUNTERSIGN_SYNC_FAULT_ROUNDS` (the 50 server
//! restarts: `COUNTERSIGN_SYNC_FAULT_ROUNDS=50`).

mod common;
mod faults;
mod fleet;
mod sync;
mod tls;
