//! Commands for sealed samples (see `service::samples`).

use super::St;
use crate::ipc::{self, IpcError};
use crate::service;

#[tauri::command(async)]
pub fn console_sign_in(
    st: St<'_>,
    login: ipc::ConsoleSignIn,
) -> Result<ipc::ConsoleSession, IpcError> {
    service::console_sign_in(&st, login)
}

#[tauri::command(async)]
pub fn console_session(st: St<'_>) -> Result<Option<ipc::ConsoleSession>, IpcError> {
    service::console_session(&st)
}

#[tauri::command(async)]
pub fn console_sign_out(st: St<'_>) -> Result<(), IpcError> {
    service::console_sign_out(&st)
}

#[tauri::command(async)]
pub fn open_sample(
    st: St<'_>,
    sha256: String,
    event_seq: Option<u64>,
) -> Result<ipc::SampleImage, IpcError> {
    service::open_sample(&st, &sha256, event_seq)
}

#[tauri::command(async)]
pub fn open_session_sample(
    st: St<'_>,
    session_id: String,
    sha256: String,
) -> Result<ipc::SampleImage, IpcError> {
    service::open_session_sample(&st, &session_id, &sha256)
}
