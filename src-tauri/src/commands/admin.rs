//! The admin's acts in the console (see `service::admin`).

use super::St;
use crate::ipc::{self, IpcError};
use crate::service;

#[tauri::command(async)]
pub fn add_person(st: St<'_>, request: ipc::AddPersonRequest) -> Result<ipc::Person, IpcError> {
    service::add_person(&st, request)
}

#[tauri::command(async)]
pub fn set_roles(st: St<'_>, request: ipc::SetRolesRequest) -> Result<ipc::Person, IpcError> {
    service::set_roles(&st, request)
}

#[tauri::command(async)]
pub fn unlock_person(st: St<'_>, request: ipc::UnlockRequest) -> Result<ipc::Person, IpcError> {
    service::unlock_person(&st, request)
}

#[tauri::command(async)]
pub fn issue_credentials(
    st: St<'_>,
    request: ipc::IssueCredentialsRequest,
) -> Result<ipc::IssuedCredentials, IpcError> {
    service::issue_credentials(&st, request)
}

#[tauri::command(async)]
pub fn policy_source(st: St<'_>) -> Result<ipc::PolicySource, IpcError> {
    service::policy_source(&st)
}

#[tauri::command(async)]
pub fn policy_diff(st: St<'_>, proposed: String) -> Result<ipc::PolicyDiff, IpcError> {
    service::policy_diff(&st, proposed)
}

#[tauri::command(async)]
pub fn apply_policy(
    st: St<'_>,
    request: ipc::ApplyPolicyRequest,
) -> Result<ipc::PolicySource, IpcError> {
    service::apply_policy(&st, request)
}

#[tauri::command(async)]
pub fn list_clients(st: St<'_>) -> Result<Vec<ipc::ClientInfo>, IpcError> {
    service::list_clients(&st)
}

#[tauri::command(async)]
pub fn add_client(
    st: St<'_>,
    request: ipc::AddClientRequest,
) -> Result<ipc::ClientAdded, IpcError> {
    service::add_client(&st, request)
}

#[tauri::command(async)]
pub fn list_principals(st: St<'_>) -> Result<Vec<ipc::PrincipalInfo>, IpcError> {
    service::list_principals(&st)
}

#[tauri::command(async)]
pub fn add_principal(
    st: St<'_>,
    request: ipc::AddPrincipalRequest,
) -> Result<ipc::PrincipalInfo, IpcError> {
    service::add_principal(&st, request)
}
