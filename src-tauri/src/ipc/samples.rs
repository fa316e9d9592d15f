//! IPC types for the console's sign-in (reviewers and admins) and for
//! sealed samples: the images a reviewer or the deciding supervisor may open.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The role a console session acts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "ConsoleRole.ts")]
pub enum ConsoleRole {
    Reviewer,
    Admin,
}

/// A reviewer's or admin's two factors, to sign in to the console.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ConsoleSignIn.ts")]
pub struct ConsoleSignIn {
    pub person: String,
    pub role: ConsoleRole,
    pub secret: String,
    pub otp: String,
}

/// Who is signed in to the console, as what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ConsoleSession.ts")]
pub struct ConsoleSession {
    pub person: String,
    pub display_name: String,
    pub role: ConsoleRole,
    #[ts(type = "number")]
    pub signed_in_ms: i64,
    /// The session ends after this long without a command (the policy's
    /// `[console] idle_minutes`).
    #[ts(type = "number")]
    pub idle_minutes: u64,
}

/// A sample an event refers to (never the bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SampleRef.ts")]
pub struct SampleRef {
    pub sha256: String,
    pub media_type: String,
    /// Where in the event body, e.g. `face.sample`.
    pub path: String,
}

/// An opened sample, ready for an `<img>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SampleImage.ts")]
pub struct SampleImage {
    pub sha256: String,
    pub media_type: String,
    /// `data:<media type>;base64,...`
    pub data_url: String,
    #[ts(type = "number")]
    pub created_ms: i64,
    pub person: Option<String>,
    pub case_id: Option<String>,
}

impl From<countersign_engine::SampleRef> for SampleRef {
    fn from(r: countersign_engine::SampleRef) -> Self {
        SampleRef {
            sha256: r.sha256,
            media_type: r.media_type,
            path: r.path,
        }
    }
}

impl From<countersign_engine::Sample> for SampleImage {
    fn from(s: countersign_engine::Sample) -> Self {
        SampleImage {
            data_url: format!(
                "data:{};base64,{}",
                s.media_type,
                data_encoding::BASE64.encode(&s.bytes)
            ),
            sha256: s.sha256,
            media_type: s.media_type,
            created_ms: s.created_ms,
            person: s.person,
            case_id: s.case_id,
        }
    }
}

/// Writes the bindings of this module's types.
pub(crate) fn export_bindings(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {
    ConsoleRole::export_all(cfg)?;
    ConsoleSignIn::export_all(cfg)?;
    ConsoleSession::export_all(cfg)?;
    SampleRef::export_all(cfg)?;
    SampleImage::export_all(cfg)?;
    Ok(())
}
