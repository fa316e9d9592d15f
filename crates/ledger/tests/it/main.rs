//! Integration tests on real SQLite files: tampering, crash durability, full disk.

mod common;
mod crash;
mod diskfull;
mod queries;
mod tamper;
