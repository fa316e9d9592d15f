//! IPC types of the admin's acts in the console (issue 15, item 4). Each
//! act carries the admin's own two factors ([`AdminAuth`]): the console
//! session lets the command through, the factors sign the registry event.
//! A TOTP secret crosses this boundary once, in [`IssuedCredentials`].

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The signed-in admin's password and current TOTP code, for one act.
#[derive(Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AdminAuth.ts")]
pub struct AdminAuth {
    pub secret: String,
    pub otp: String,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminAuth { .. }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AddPersonRequest.ts")]
pub struct AddPersonRequest {
    pub auth: AdminAuth,
    pub id: String,
    pub display_name: String,
    /// `operator`, `supervisor`, `reviewer`, `admin`.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SetRolesRequest.ts")]
pub struct SetRolesRequest {
    pub auth: AdminAuth,
    pub id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UnlockRequest.ts")]
pub struct UnlockRequest {
    pub auth: AdminAuth,
    pub id: String,
}

#[derive(Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "IssueCredentialsRequest.ts")]
pub struct IssueCredentialsRequest {
    pub auth: AdminAuth,
    pub id: String,
    /// The person's new password (the engine hashes it; never kept).
    pub password: String,
}

impl std::fmt::Debug for IssueCredentialsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssueCredentialsRequest {{ id: {:?}, .. }}", self.id)
    }
}

/// A fresh TOTP secret, returned once by `issue_credentials` and kept
/// nowhere in the app: the window shows it and forgets it.
#[derive(Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "IssuedCredentials.ts")]
pub struct IssuedCredentials {
    pub person: String,
    pub totp_secret_base32: String,
    pub otpauth_uri: String,
    /// The `otpauth://` URI as a QR code: an SVG `data:` URL (the CSP
    /// allows `img-src data:`).
    pub qr_svg_data_url: String,
}

impl std::fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedCredentials {{ person: {:?}, .. }}", self.person)
    }
}

/// The policy in force, as its TOML source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PolicySource.ts")]
pub struct PolicySource {
    pub toml: String,
    pub sha256: String,
}

/// One line of a policy diff: `same`, `removed` or `added`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "DiffLine.ts")]
pub struct DiffLine {
    pub op: String,
    pub text: String,
}

/// A proposed policy against the one in force. `error` is the engine's
/// parse or validation refusal (then it cannot be applied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PolicyDiff.ts")]
pub struct PolicyDiff {
    pub lines: Vec<DiffLine>,
    pub changed: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ApplyPolicyRequest.ts")]
pub struct ApplyPolicyRequest {
    pub auth: AdminAuth,
    pub toml: String,
}

/// A registered relying application, as shown (never its credential).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ClientInfo.ts")]
pub struct ClientInfo {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// How it authenticates (the engine's name, e.g. `client_secret_basic`).
    pub auth_method: String,
    #[ts(type = "number")]
    pub created_ms: i64,
}

/// Registers a relying application: a shared secret (at least 16
/// characters) or an Ed25519 public key (64 hex characters or a PEM), one
/// of the two.
#[derive(Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AddClientRequest.ts")]
pub struct AddClientRequest {
    pub auth: AdminAuth,
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub secret: Option<String>,
    pub public_key: Option<String>,
}

impl std::fmt::Debug for AddClientRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AddClientRequest {{ id: {:?}, .. }}", self.id)
    }
}

/// A client registered, and the kiosk pin its relying application needs
/// (issuer, key, TLS certificate hash: public), as the JSON that
/// `countersign client add` writes to `kiosk-pin-<id>.json`: the admin
/// copies it to the relying application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ClientAdded.ts")]
pub struct ClientAdded {
    pub client: ClientInfo,
    pub pin_json: String,
}

/// A service account, API key or agent that may be granted break-glass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PrincipalInfo.ts")]
pub struct PrincipalInfo {
    pub id: String,
    /// `service_account`, `api_key`, `agent`.
    pub kind: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub clients: Vec<String>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AddPrincipalRequest.ts")]
pub struct AddPrincipalRequest {
    pub auth: AdminAuth,
    pub id: String,
    /// `service_account`, `api_key`, `agent`.
    pub kind: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub clients: Vec<String>,
    pub description: String,
}

pub(crate) fn export_bindings(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {
    AdminAuth::export_all(cfg)?;
    AddPersonRequest::export_all(cfg)?;
    SetRolesRequest::export_all(cfg)?;
    UnlockRequest::export_all(cfg)?;
    IssueCredentialsRequest::export_all(cfg)?;
    IssuedCredentials::export_all(cfg)?;
    PolicySource::export_all(cfg)?;
    DiffLine::export_all(cfg)?;
    PolicyDiff::export_all(cfg)?;
    ApplyPolicyRequest::export_all(cfg)?;
    ClientInfo::export_all(cfg)?;
    AddClientRequest::export_all(cfg)?;
    ClientAdded::export_all(cfg)?;
    PrincipalInfo::export_all(cfg)?;
    AddPrincipalRequest::export_all(cfg)?;
    Ok(())
}
