//! End-to-end tests of the `countersign` binary: real processes over a real
//! data dir (SQLite ledger) in a temp dir.

mod anchor;
mod attacks;
mod bad_input;
mod breakglass;
mod calibrate;
mod disk_full;
mod eval;
mod face;
mod finger;
mod flows;
mod helpers;
mod ocsf;
mod restore;
mod sync;
mod tamper;
mod upgrade;
