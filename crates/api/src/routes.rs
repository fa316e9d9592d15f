//! The authenticated routes: step-up and break-glass requests and their
//! polling.

use std::collections::HashMap;
use std::sync::Mutex;

use countersign_assertion::client::{BreakGlassRequest, StepUpRequest, StepUpStatus, StepUpTicket};
use countersign_assertion::INSUFFICIENT_USER_AUTHENTICATION;
use countersign_core::session::Trigger;
use countersign_engine::{
    AssertionOutcome, AssertionRequest, ClientBreakGlassRequest, ClientView, Engine, EngineError,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use countersign_engine::Code;

use crate::reply::{engine_error, error, ok, step_up_challenge, Reply};

/// How often a client should poll, milliseconds.
const POLL_INTERVAL_MS: u64 = 500;

/// Parses a JSON object body: malformed JSON, a missing required field and
/// a field of the wrong type are each their own refusal.
fn parse<T: DeserializeOwned>(body: &[u8], required: &[&str]) -> Result<T, Reply> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            Code::RequestMalformedJson,
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Some(obj) = v.as_object() else {
        return Err(error(
            Code::RequestMalformedJson,
            "the body must be a JSON object",
        ));
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| matches!(obj.get(*k), None | Some(Value::Null)))
        .collect();
    if !missing.is_empty() {
        return Err(error(
            Code::RequestMissingField,
            format!("missing field(s): {}", missing.join(", ")),
        ));
    }
    serde_json::from_value(v)
        .map_err(|e| error(Code::RequestInvalidField, format!("invalid field: {e}")))
}

pub(crate) fn stepup_create(e: &mut Engine, client: &ClientView, body: &[u8]) -> Reply {
    let r: StepUpRequest = match parse(body, &["scope", "nonce"]) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let ar = AssertionRequest {
        scope: r.scope.into_iter().collect(),
        acr_values: r.acr_values,
        max_age_s: r.max_age,
        nonce: r.nonce,
    };
    match e.open_assertion_request(client, ar) {
        Ok(s) => ok(
            202,
            StepUpTicket {
                status_url: format!("/v1/stepup/{}", s.session.id),
                request_id: s.session.id,
                poll_interval_ms: POLL_INTERVAL_MS,
            },
        ),
        Err(err @ EngineError::AcrUnsatisfiable { .. }) => {
            // Which acr values would do, in RFC 9470's challenge.
            let mut reply = engine_error(&err);
            let can = vec![
                countersign_assertion::ACR_BIOMETRIC.to_string(),
                countersign_assertion::ACR_SUPERVISED_OVERRIDE.to_string(),
            ];
            reply
                .headers
                .push(step_up_challenge(&err.to_string(), &can, None));
            reply
        }
        Err(err) => engine_error(&err),
    }
}

pub(crate) fn breakglass_create(e: &mut Engine, client: &ClientView, body: &[u8]) -> Reply {
    let r: BreakGlassRequest =
        match parse(body, &["principal", "trigger", "scope", "detail", "nonce"]) {
            Ok(r) => r,
            Err(reply) => return reply,
        };
    let Ok(trigger) = serde_json::from_value::<Trigger>(Value::String(r.trigger.clone())) else {
        return error(
            Code::RequestInvalidField,
            format!(
                "unknown trigger {:?} (issuer_down, certificate_expired or rotation_broken)",
                r.trigger
            ),
        );
    };
    let req = ClientBreakGlassRequest {
        principal: r.principal,
        trigger,
        scope: r.scope.into_iter().collect(),
        detail: r.detail,
        duration_s: r.duration_s,
        nonce: r.nonce,
    };
    match e.request_breakglass_for_client(client, req) {
        Ok(bg) => ok(
            202,
            StepUpTicket {
                status_url: format!("/v1/breakglass/{}", bg.id),
                request_id: bg.id,
                poll_interval_ms: POLL_INTERVAL_MS,
            },
        ),
        Err(err) => engine_error(&err),
    }
}

fn poll(
    e: &mut Engine,
    client: &ClientView,
    id: &str,
    tokens: &Mutex<HashMap<String, String>>,
    kind: &str,
    outcome: fn(&mut Engine, &str, &str) -> Result<AssertionOutcome, EngineError>,
) -> Reply {
    let key = format!("{kind}\u{0}{}\u{0}{id}", client.id);
    if let Some(t) = tokens.lock().expect("not poisoned").get(&key) {
        return ok(
            200,
            status(id, "complete", "answered", Some(t.clone()), None),
        );
    }
    match outcome(e, id, &client.id) {
        Ok(AssertionOutcome::Pending { state }) => {
            ok(200, status(id, "pending", &state, None, None))
        }
        Ok(AssertionOutcome::Issued { token, .. }) => {
            tokens
                .lock()
                .expect("not poisoned")
                .insert(key, token.clone());
            ok(200, status(id, "complete", "issued", Some(token), None))
        }
        Ok(AssertionOutcome::Failed {
            state,
            error,
            error_description,
        }) => {
            let step_up = error == INSUFFICIENT_USER_AUTHENTICATION;
            let mut reply = ok(
                200,
                status(
                    id,
                    "failed",
                    &state,
                    None,
                    Some((error, error_description.clone())),
                ),
            );
            if step_up {
                let (acr, max_age) = e.request_requirement(id).unwrap_or_default();
                reply
                    .headers
                    .push(step_up_challenge(&error_description, &acr, max_age));
            }
            reply
        }
        Err(err) => engine_error(&err),
    }
}

pub(crate) fn stepup_status(
    e: &mut Engine,
    client: &ClientView,
    id: &str,
    tokens: &Mutex<HashMap<String, String>>,
) -> Reply {
    poll(e, client, id, tokens, "stepup", Engine::assertion_for)
}

pub(crate) fn breakglass_status(
    e: &mut Engine,
    client: &ClientView,
    id: &str,
    tokens: &Mutex<HashMap<String, String>>,
) -> Reply {
    poll(
        e,
        client,
        id,
        tokens,
        "breakglass",
        Engine::breakglass_assertion_for,
    )
}

fn status(
    id: &str,
    status: &str,
    state: &str,
    assertion: Option<String>,
    err: Option<(String, String)>,
) -> StepUpStatus {
    StepUpStatus {
        request_id: id.into(),
        status: status.into(),
        state: state.into(),
        assertion,
        error: err.as_ref().map(|e| e.0.clone()),
        error_description: err.map(|e| e.1),
    }
}
