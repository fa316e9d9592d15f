//! Answers: JSON bodies with an OAuth / RFC 9470 `error`, Countersign's
//! stable `code`, and the headers that go with them.

use countersign_assertion::client::ApiErrorBody;
use countersign_assertion::signed_request::SCHEME;
use countersign_engine::{ApiAnswer, Code, EngineError};
use serde_json::Value;

/// One answer, before it is written.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

pub(crate) fn ok(status: u16, body: impl serde::Serialize) -> Reply {
    Reply {
        status,
        body: serde_json::to_value(body).expect("serialisable"),
        headers: vec![],
    }
}

/// The HTTP status and OAuth / RFC 9470 `error` of each [`ApiAnswer`].
pub(crate) fn status_of(answer: ApiAnswer) -> (u16, &'static str) {
    match answer {
        ApiAnswer::InvalidClient => (401, "invalid_client"),
        ApiAnswer::RateLimited => (429, "temporarily_unavailable"),
        ApiAnswer::InsufficientScope => (403, "insufficient_scope"),
        ApiAnswer::AccessDenied => (403, "access_denied"),
        ApiAnswer::NotFound => (404, "not_found"),
        ApiAnswer::InsufficientUserAuthentication => {
            (400, countersign_assertion::INSUFFICIENT_USER_AUTHENTICATION)
        }
        ApiAnswer::InvalidRequest => (400, "invalid_request"),
        ApiAnswer::TooLarge => (413, "invalid_request"),
        ApiAnswer::MethodNotAllowed => (405, "invalid_request"),
        ApiAnswer::ServerError => (500, "server_error"),
    }
}

/// An error answer: the status and `error` are the code's
/// ([`Code::api_answer`], decided for every code where the code is
/// declared). A 401 carries both authentication challenges.
pub(crate) fn error(code: Code, description: impl Into<String>) -> Reply {
    let (status, error) = status_of(code.api_answer());
    let mut headers = vec![];
    if status == 401 {
        headers.push((
            "WWW-Authenticate",
            "Basic realm=\"countersign\"".to_string(),
        ));
        headers.push((
            "WWW-Authenticate",
            format!("{SCHEME} realm=\"countersign\""),
        ));
    }
    Reply {
        status,
        body: serde_json::to_value(ApiErrorBody {
            error: error.into(),
            error_description: description.into(),
            code: code.as_str().into(),
        })
        .expect("serialisable"),
        headers,
    }
}

fn quoted(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

/// RFC 9470's challenge: `Bearer error="insufficient_user_authentication"`
/// with what would satisfy the requirement.
pub(crate) fn step_up_challenge(
    description: &str,
    acr_values: &[String],
    max_age: Option<i64>,
) -> (&'static str, String) {
    let mut v = format!(
        "Bearer error=\"{}\", error_description=\"{}\"",
        countersign_assertion::INSUFFICIENT_USER_AUTHENTICATION,
        quoted(description)
    );
    if !acr_values.is_empty() {
        v.push_str(&format!(
            ", acr_values=\"{}\"",
            quoted(&acr_values.join(" "))
        ));
    }
    if let Some(m) = max_age {
        v.push_str(&format!(", max_age={m}"));
    }
    ("WWW-Authenticate", v)
}

/// Maps an engine refusal to a status, an `error` and its stable code.
pub(crate) fn engine_error(e: &EngineError) -> Reply {
    let mut reply = error(e.code(), e.to_string());
    if let EngineError::ClientRateLimited { retry_after_s } = e {
        reply
            .headers
            .push(("Retry-After", retry_after_s.to_string()));
    }
    reply
}
