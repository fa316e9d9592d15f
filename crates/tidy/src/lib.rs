//! Nothing to link: the checks are in `tests/tidy.rs`, in the manner of
//! rust-analyzer's tidy test. They read the repository's sources, so they
//! run wherever `cargo test --workspace` does (`.ci/run` included).
