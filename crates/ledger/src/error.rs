//! Error type for every ledger operation.

use std::path::PathBuf;

/// Everything that can go wrong in the ledger.
///
/// Messages never contain blob plaintext, ciphertext or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The volume (or the configured page quota) is full. The failed write
    /// was rolled back: earlier events are intact and the ledger verifies.
    #[error(
        "disk full while {context}: the write was rolled back and nothing acknowledged was lost; \
         free space on the volume holding the ledger and retry"
    )]
    DiskFull {
        /// What the ledger was doing.
        context: String,
    },
    /// A filesystem or writer error.
    #[error("I/O error while {context}{}: {source}", path.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    Io {
        /// What the ledger was doing.
        context: String,
        /// File involved, if any.
        path: Option<PathBuf>,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Key files missing, malformed, or with unsafe permissions.
    #[error("key error: {0}")]
    Key(String),
    /// The requested item does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The item already exists (keys, people).
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The blob's ciphertext was deleted by retention; its hash and metadata remain.
    #[error(
        "blob {sha256} was purged at {purged_ms} ms (retention); only its hash and metadata remain"
    )]
    Purged {
        /// Hex SHA-256 of the purged plaintext.
        sha256: String,
        /// When it was purged (Unix ms).
        purged_ms: i64,
    },
    /// Stored data failed an integrity check (decryption, hash, format).
    #[error("ledger data corrupt: {0}")]
    Corrupt(String),
    /// The caller passed something unusable.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The database was written by a newer version of this software.
    #[error("ledger schema version {found} is newer than this build supports ({supported}); upgrade Countersign")]
    SchemaTooNew {
        /// Version in the file.
        found: u32,
        /// Latest version this build knows.
        supported: u32,
    },
    /// Any other SQLite error.
    #[error("sqlite error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The clock guard refused a write stamped earlier than the newest
    /// event (see `Ledger::guard_clock`); nothing of it was written.
    #[error("the clock ({observed_ms} ms) is behind the newest ledger event ({newest_ms} ms) by more than {tolerance_ms} ms: writes are refused until the clock is right")]
    ClockBehind {
        /// The refused write's time.
        observed_ms: i64,
        /// The newest event's time.
        newest_ms: i64,
        /// The tolerance allowed.
        tolerance_ms: i64,
    },
    /// The ledger disagrees with the kiosk's anchor, or an alarm is raised
    /// (see `anchor.rs`); `code` is stable (`anchor.*`).
    #[error("{message}")]
    Anchor {
        code: countersign_codes::Code,
        message: String,
    },
    /// JSON encoding/decoding error.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}

impl LedgerError {
    /// Wrap an I/O error, mapping ENOSPC to [`LedgerError::DiskFull`].
    pub fn io(context: impl Into<String>, path: Option<PathBuf>, source: std::io::Error) -> Self {
        let context = context.into();
        if source.raw_os_error() == Some(28) || source.kind() == std::io::ErrorKind::StorageFull {
            return LedgerError::DiskFull { context };
        }
        LedgerError::Io {
            context,
            path,
            source,
        }
    }

    /// Map a SQLite error, attaching what we were doing when it was a full disk.
    pub(crate) fn sql(context: &str, e: rusqlite::Error) -> Self {
        if is_disk_full(&e) {
            LedgerError::DiskFull {
                context: context.to_string(),
            }
        } else {
            LedgerError::Sqlite(e)
        }
    }
}

fn is_disk_full(e: &rusqlite::Error) -> bool {
    match e {
        // SQLite reports a full disk while growing the WAL index (`-shm`)
        // as SQLITE_IOERR_SHMSIZE, not SQLITE_FULL.
        rusqlite::Error::SqliteFailure(f, _) => {
            f.code == rusqlite::ErrorCode::DiskFull
                || f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE
        }
        _ => false,
    }
}

impl From<rusqlite::Error> for LedgerError {
    fn from(e: rusqlite::Error) -> Self {
        LedgerError::sql("writing to the ledger database", e)
    }
}
