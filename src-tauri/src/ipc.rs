//! Types that cross the IPC boundary between Rust and the webview.
//!
//! The TypeScript side of each type is generated with ts-rs into
//! `ui/src/lib/bindings/`; the `bindings_are_up_to_date` test fails when the
//! committed files drift from these definitions (regenerate with
//! `UPDATE_BINDINGS=1 cargo test -p countersign-app bindings`).

use serde::Serialize;
use ts_rs::TS;

/// What the start screen shows about this kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AppInfo.ts")]
pub struct AppInfo {
    /// Version of the app (from Cargo).
    pub version: String,
    /// True when the window runs as a locked-down kiosk.
    pub kiosk_mode: bool,
    /// The data directory in use, for display.
    pub data_dir: String,
    /// True once the kiosk key (`<data_dir>/keys/kiosk.pub`) exists.
    pub data_dir_initialized: bool,
}

/// An error as the UI receives it from a command.
///
/// `code` is stable and meant for the UI to branch on (see [`codes`]);
/// `message` is for people and logs, and may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export_to = "IpcError.ts")]
pub struct IpcError {
    pub code: String,
    pub message: String,
}

/// Stable error codes carried by [`IpcError::code`].
pub mod codes {
    /// The data directory is unusable (unreadable, not a directory, ...).
    pub const DATA_DIR: &str = "E_DATA_DIR";
    /// The configuration (environment, arguments) is invalid.
    pub const CONFIG: &str = "E_CONFIG";
}

impl IpcError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
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

/// Writes the TypeScript bindings of every IPC type into `dir`.
pub fn export_bindings(dir: &std::path::Path) -> Result<(), ts_rs::ExportError> {
    let cfg = ts_rs::Config::new().with_out_dir(dir);
    AppInfo::export_all(&cfg)?;
    IpcError::export_all(&cfg)?;
    Ok(())
}
