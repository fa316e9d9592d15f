//! IPC types for sealed samples: the reviewer's sign-in and the images a
//! reviewer or the deciding supervisor may open.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A reviewer's two factors, to open samples for a while.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ReviewerSignIn.ts")]
pub struct ReviewerSignIn {
    pub reviewer: String,
    pub secret: String,
    pub otp: String,
}

/// Who is signed in to open samples, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ReviewerSession.ts")]
pub struct ReviewerSession {
    pub reviewer: String,
    pub display_name: String,
    #[ts(type = "number")]
    pub expires_at_ms: i64,
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
