//! Countersign evidence ledger (in progress).
