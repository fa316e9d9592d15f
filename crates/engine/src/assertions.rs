//! Step-up requests from relying applications and the signed assertions
//! that answer them.
//!
//! A request is an ordinary step-up (`stepup.requested`, requester
//! `client:<id>`) plus an `assertion.requested` event with what the client
//! asked for (scope, `acr_values`, `max_age`, nonce). Whoever runs the flow
//! (the kiosk window, or `countersign stepup --request ID` headless) drives
//! that session; [`Engine::assertion_for`] then reads the outcome from the
//! ledger and signs the answer once (`assertion.issued`: the jti and claims
//! summary, never the token). A request that has not completed within
//! [`REQUEST_TTL_MS`] expires: the kiosk stops listing it
//! ([`Engine::open_stepup_requests`]) and the poll answers `access_denied`.

use std::collections::BTreeSet;

use countersign_assertion::{
    Claims, OverrideClaims, OverrideStatus, ACR_BIOMETRIC, ACR_SUPERVISED_OVERRIDE,
    INSUFFICIENT_USER_AUTHENTICATION,
};
use countersign_core::session::Modality;
use countersign_core::{Grant, GrantStatus, SessionState};
use countersign_ledger::{Filter, PageRequest};
use serde::Serialize;
use serde_json::json;

use crate::clients::ClientView;
use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError, StepUp};

/// How long a relying application's request (step-up or break-glass) stays
/// open for the kiosk to complete.
pub const REQUEST_TTL_MS: i64 = 15 * 60_000;

/// What a relying application asks for.
#[derive(Debug, Clone)]
pub struct AssertionRequest {
    pub scope: BTreeSet<String>,
    pub acr_values: Vec<String>,
    pub max_age_s: Option<i64>,
    pub nonce: String,
}

/// Where a request stands, as the API reports it.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AssertionOutcome {
    Pending {
        state: String,
    },
    Issued {
        token: String,
        claims: Box<Claims>,
    },
    Failed {
        state: String,
        error: String,
        error_description: String,
    },
}

impl Engine {
    /// The issuer string in every assertion of this kiosk.
    pub fn issuer(&self) -> String {
        format!("urn:countersign:kiosk:{}", self.kiosk_id)
    }

    /// The kiosk's public key as a JWKS.
    pub fn jwks(&self) -> countersign_assertion::Jwks {
        countersign_assertion::Jwks::for_key(&self.ledger.keys().verifying_key())
    }

    /// Opens a step-up on behalf of an authenticated client.
    pub fn open_assertion_request(
        &mut self,
        client: &ClientView,
        req: AssertionRequest,
    ) -> Result<StepUp, EngineError> {
        if let Some(s) = req.scope.iter().find(|s| !client.scopes.contains(*s)) {
            return Err(EngineError::ClientScope {
                client: client.id.clone(),
                scope: s.clone(),
            });
        }
        crate::breakglass_client::check_nonce(&req.nonce)?;
        // acr_values is a list of acceptable values: refused only when this
        // kiosk can issue none of them (RFC 9470's insufficient_user_authentication).
        if !req.acr_values.is_empty()
            && !req
                .acr_values
                .iter()
                .any(|a| a == ACR_BIOMETRIC || a == ACR_SUPERVISED_OVERRIDE)
        {
            return Err(EngineError::AcrUnsatisfiable {
                requested: req.acr_values.clone(),
            });
        }
        if matches!(req.max_age_s, Some(m) if m < 0) {
            return Err(EngineError::Invalid("max_age must not be negative".into()));
        }
        let s = self.start_stepup(
            req.scope.clone(),
            req.acr_values.clone(),
            &format!("client:{}", client.id),
        )?;
        let now = self.now();
        self.ledger.append(
            &Ev::new(kinds::ASSERTION_REQUESTED, now, json!({ "session_id": s.session.id, "client_id": client.id, "scope": req.scope, "acr_values": req.acr_values, "max_age": req.max_age_s, "nonce": req.nonce }))
                .case(&s.session.id)
                .build(),
        )?;
        Ok(s)
    }

    pub(crate) fn session_rows(
        &self,
        session_id: &str,
        kinds: &[&str],
    ) -> Result<Vec<countersign_ledger::EventRow>, EngineError> {
        Ok(self
            .ledger
            .query(
                &Filter {
                    case_id: Some(session_id.into()),
                    kinds: kinds.iter().map(|k| k.to_string()).collect(),
                    ..Default::default()
                },
                &PageRequest {
                    after_seq: None,
                    limit: 100,
                    newest_first: false,
                },
            )?
            .rows)
    }

    pub(crate) fn fail(
        &mut self,
        session_id: &str,
        client: &str,
        state: &str,
        error: &str,
        description: String,
    ) -> Result<AssertionOutcome, EngineError> {
        let now = self.now();
        self.ledger.append(
            &Ev::new(kinds::ASSERTION_REFUSED, now, json!({ "session_id": session_id, "client_id": client, "error": error, "error_description": description }))
                .case(session_id)
                .outcome("refused")
                .build(),
        )?;
        Ok(AssertionOutcome::Failed {
            state: state.into(),
            error: error.into(),
            error_description: description,
        })
    }

    /// The answer to a client's request: pending, a freshly signed
    /// assertion, or why none will be issued. Issues at most once per request.
    pub fn assertion_for(
        &mut self,
        session_id: &str,
        client_id: &str,
    ) -> Result<AssertionOutcome, EngineError> {
        let reqs = self.session_rows(session_id, &[kinds::ASSERTION_REQUESTED])?;
        let Some(req) = reqs
            .first()
            .filter(|r| r.body["client_id"].as_str() == Some(client_id))
        else {
            return Err(EngineError::UnknownRequest(session_id.into()));
        };
        let req = req.body.clone();
        let done = self.session_rows(
            session_id,
            &[kinds::ASSERTION_ISSUED, kinds::ASSERTION_REFUSED],
        )?;
        if let Some(d) = done.first() {
            return Ok(AssertionOutcome::Failed {
                state: "answered".into(),
                error: "invalid_request".into(),
                error_description: if d.kind == kinds::ASSERTION_ISSUED {
                    format!(
                        "the assertion for {session_id} was already issued (jti {})",
                        d.body["jti"].as_str().unwrap_or_default()
                    )
                } else {
                    format!(
                        "{session_id} was already refused: {}",
                        d.body["error_description"].as_str().unwrap_or_default()
                    )
                },
            });
        }
        let s = self.resume_stepup(session_id)?;
        let now = self.now();
        let now_s = now / 1000;
        let lifetime = self.policy.assertion.lifetime_seconds;
        let state = s.session.state.name().to_string();
        let operator = s
            .session
            .operator
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let (acr, amr, auth_time, exp, scope, ovr) = match &s.session.state {
            SessionState::Succeeded { modality, .. } => {
                let ok = self.session_rows(session_id, &[kinds::STEPUP_SUCCEEDED])?;
                let at = ok.first().map(|r| r.ts_ms).unwrap_or(now) / 1000;
                let amr = match modality {
                    Modality::Face => "face",
                    Modality::Finger => "fpt",
                };
                (
                    ACR_BIOMETRIC,
                    vec![amr.to_string()],
                    at,
                    now_s + lifetime,
                    s.session.requested_scope.clone(),
                    None,
                )
            }
            SessionState::OverrideGranted { grant_id } => {
                let case = self.load_case(grant_id)?;
                let g = case.grant.clone();
                // Judged by boot time too: see `Engine::case_now`.
                let judged = self.case_now(&case);
                match case.status_at(judged) {
                    GrantStatus::Active => {}
                    other => {
                        let d = format!("override {} is {}", g.id, other.name());
                        return self.fail(session_id, client_id, &state, "access_denied", d);
                    }
                }
                let exp =
                    (now_s + lifetime).min(g.expires_at / 1000 - (judged - now).max(0) / 1000);
                if exp <= now_s {
                    return self.fail(
                        session_id,
                        client_id,
                        &state,
                        "access_denied",
                        format!("override {} expires now", g.id),
                    );
                }
                let o = override_claims(&g);
                (
                    ACR_SUPERVISED_OVERRIDE,
                    g.supervisor_amr.clone(),
                    g.granted_at / 1000,
                    exp,
                    g.scope.clone(),
                    Some(o),
                )
            }
            SessionState::Cancelled { reason } => {
                return self.fail(
                    session_id,
                    client_id,
                    &state,
                    "access_denied",
                    format!("the step-up was cancelled: {reason}"),
                );
            }
            _ => {
                let created = reqs.first().map(|r| r.ts_ms).unwrap_or(now);
                if now >= created + REQUEST_TTL_MS {
                    return self.fail(
                        session_id,
                        client_id,
                        &state,
                        "access_denied",
                        format!(
                            "the request expired: not completed within {} min",
                            REQUEST_TTL_MS / 60_000
                        ),
                    );
                }
                return Ok(AssertionOutcome::Pending { state });
            }
        };
        // A real kiosk signs nothing for evidence that was given, replayed
        // or fed to a virtual reader (demo.rs), even if it reached the ledger.
        if !self.is_demo() {
            if let Some((seq, why)) = self.demo_only_evidence_in(session_id)? {
                return self.fail(
                    session_id,
                    client_id,
                    &state,
                    "access_denied",
                    format!("the step-up's evidence (event {seq}) came from {why}, which only a demo data dir accepts: no assertion is signed for it (refused.demo_only)"),
                );
            }
        }
        let acr_values: Vec<String> =
            serde_json::from_value(req["acr_values"].clone()).unwrap_or_default();
        if !acr_values.is_empty() && !acr_values.iter().any(|a| a == acr) {
            return self.fail(
                session_id,
                client_id,
                &state,
                INSUFFICIENT_USER_AUTHENTICATION,
                format!(
                    "the step-up reached {acr}, not one of the requested acr_values {}",
                    acr_values.join(" ")
                ),
            );
        }
        if let Some(max_age) = req["max_age"].as_i64() {
            if now_s - auth_time > max_age {
                return self.fail(
                    session_id,
                    client_id,
                    &state,
                    INSUFFICIENT_USER_AUTHENTICATION,
                    format!(
                        "the authentication is {} s old, over max_age {max_age}",
                        now_s - auth_time
                    ),
                );
            }
        }
        if let Some(o) = &ovr {
            // Issuing the assertion is the override's one use.
            let used = scope.iter().cloned().collect::<Vec<_>>().join(" ");
            self.use_override(&o.id, &used)?;
        }
        let claims = Claims {
            iss: self.issuer(),
            sub: operator.clone(),
            aud: client_id.into(),
            iat: now_s,
            exp,
            auth_time,
            nonce: req["nonce"].as_str().unwrap_or_default().into(),
            jti: Engine::new_id("jti"),
            acr: acr.into(),
            amr,
            scope: scope.iter().cloned().collect::<Vec<_>>().join(" "),
            override_: ovr,
            countersign_demo: false,
        };
        self.sign_and_record(session_id, client_id, claims)
    }

    /// Signs `claims` with the kiosk key and records `assertion.issued`
    /// under `case_id` (the jti and a claims summary, never the token).
    /// A demo kiosk's assertions say so (`countersign_demo`), whatever the
    /// caller set.
    pub(crate) fn sign_and_record(
        &mut self,
        case_id: &str,
        client_id: &str,
        mut claims: Claims,
    ) -> Result<AssertionOutcome, EngineError> {
        claims.countersign_demo = self.is_demo();
        let now = self.now();
        let token = countersign_assertion::sign(&claims, self.ledger.keys().signing_key());
        let mut ev = Ev::new(kinds::ASSERTION_ISSUED, now, json!({ "session_id": case_id, "client_id": client_id, "jti": claims.jti, "sub": claims.sub, "acr": claims.acr, "amr": claims.amr, "scope": claims.scope, "iat": claims.iat, "exp": claims.exp, "auth_time": claims.auth_time, "override_id": claims.override_.as_ref().map(|o| o.id.clone()), "kid": countersign_assertion::thumbprint(&self.ledger.keys().verifying_key()), "countersign_demo": claims.countersign_demo }))
            .case(case_id)
            .person(&claims.sub)
            .outcome("issued");
        if let Some(o) = &claims.override_ {
            ev = ev.supervisor(&o.supervisor);
        }
        self.ledger.append(&ev.build())?;
        Ok(AssertionOutcome::Issued {
            token,
            claims: Box::new(claims),
        })
    }

    /// What a client's step-up request asked for: `acr_values` and
    /// `max_age` (for RFC 9470's challenge when they were not met).
    pub fn request_requirement(
        &self,
        session_id: &str,
    ) -> Result<(Vec<String>, Option<i64>), EngineError> {
        let rows = self.session_rows(session_id, &[kinds::ASSERTION_REQUESTED])?;
        let r = rows
            .first()
            .ok_or_else(|| EngineError::UnknownRequest(session_id.into()))?;
        Ok((
            serde_json::from_value(r.body["acr_values"].clone()).unwrap_or_default(),
            r.body["max_age"].as_i64(),
        ))
    }

    /// An override's live status for verifiers (`None`: unknown id).
    pub fn override_status(&self, id: &str) -> Result<Option<OverrideStatus>, EngineError> {
        match self.load_case(id) {
            Ok(case) => Ok(Some(OverrideStatus {
                id: id.into(),
                status: case.status_at(self.case_now(&case)).name().into(),
                expires_at: case.grant.expires_at / 1000,
            })),
            Err(EngineError::UnknownOverride(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The claims an override-backed assertion carries about its grant.
pub(crate) fn override_claims(g: &Grant) -> OverrideClaims {
    OverrideClaims {
        id: g.id.clone(),
        supervisor: g.supervisor.clone(),
        reason_code: g.reason_code.clone(),
        expires_at: g.expires_at / 1000,
        compensating_control: g.compensating_control.clone(),
        trigger: g.trigger.to_string(),
        principal_kind: g.principal_kind.as_str().into(),
    }
}
