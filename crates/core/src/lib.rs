//! Countersign domain (in progress).
