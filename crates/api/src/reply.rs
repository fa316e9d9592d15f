//! Answers: JSON bodies with an OAuth / RFC 9470 `error`, Countersign's
//! stable `code`, and the headers that go with them.

use countersign_assertion::client::ApiErrorBody;
use countersign_assertion::signed_request::SCHEME;
use countersign_engine::EngineError;
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

/// An error answer. A 401 carries both authentication challenges.
pub(crate) fn error(status: u16, error: &str, code: &str, description: impl Into<String>) -> Reply {
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
            code: code.into(),
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
    let code = e.code();
    let (status, kind) = match code.as_str() {
        "client.auth_failed"
        | "client.auth_malformed"
        | "client.clock_skew"
        | "client.nonce_replayed" => (401, "invalid_client"),
        "client.rate_limited" => (429, "temporarily_unavailable"),
        "client.scope_not_allowed" => (403, "insufficient_scope"),
        "client.principal_not_allowed" => (403, "access_denied"),
        "request.unknown" | "override.unknown" => (404, "not_found"),
        "request.acr_unsatisfiable" => {
            (400, countersign_assertion::INSUFFICIENT_USER_AUTHENTICATION)
        }
        c if c.starts_with("refused.")
            || c == "input.invalid"
            || c == "principal.unknown"
            || c == "request.expired" =>
        {
            (400, "invalid_request")
        }
        _ => (500, "server_error"),
    };
    let mut reply = error(status, kind, &code, e.to_string());
    if let EngineError::ClientRateLimited { retry_after_s } = e {
        reply
            .headers
            .push(("Retry-After", retry_after_s.to_string()));
    }
    reply
}
