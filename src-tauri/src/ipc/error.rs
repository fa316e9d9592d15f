//! The error every command answers with, and the app's own codes.

use serde::Serialize;
use ts_rs::TS;

use super::Code;

/// An error as the UI receives it from a command.
///
/// `code` is stable and meant for the UI to branch on (see [`codes`]);
/// `message` is for people and logs, and may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export_to = "IpcError.ts")]
pub struct IpcError {
    pub code: Code,
    pub message: String,
}

/// Stable error codes carried by [`IpcError::code`].
pub mod codes {
    use countersign_engine::Code;

    /// The data directory is unusable (unreadable, not a directory, ...).
    pub const DATA_DIR: Code = Code::AppDataDir;
    /// The configuration (environment, arguments) is invalid.
    pub const CONFIG: Code = Code::AppConfig;
    /// The step-up session is not open in this window (unknown id).
    pub const NO_SESSION: Code = Code::AppNoSession;
    /// The app's own state lock was poisoned by a panic.
    pub const INTERNAL: Code = Code::AppInternal;
    /// A demo-only command was called on a real data dir.
    pub const NOT_DEMO: Code = Code::AppNotDemo;
    /// A test affordance (replay scenes, the virtual fingerprint reader,
    /// `COUNTERSIGN_REPLAY_DIR`) on a real data dir: the engine's code.
    pub const DEMO_ONLY: Code = Code::RefusedDemoOnly;
    /// A replay-only command while the capture source is a camera.
    pub const NOT_REPLAY: Code = Code::AppNotReplay;
    /// No replay scene of that name.
    pub const UNKNOWN_SCENE: Code = Code::AppUnknownScene;
    // `app.ipc` is the UI's own: a command whose call failed before the
    // app answered (ui/src/lib/services/errors.ts).
    /// Opening a sample needs a reviewer signed in with two factors.
    pub const NOT_SIGNED_IN: Code = Code::AppNotSignedIn;
}

impl IpcError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for IpcError {}

/// Engine errors keep their stable code (`refused.over_cap`, `auth.failed`, ...).
impl From<countersign_engine::EngineError> for IpcError {
    fn from(e: countersign_engine::EngineError) -> Self {
        IpcError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}
