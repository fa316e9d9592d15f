//! Break-glass asked by a relying application over the local API, for a
//! non-human principal whose registration names that application.
//!
//! The request is an ordinary `breakglass.requested` event (requester
//! `client:<id>`, plus the client id, its nonce and the duration it asked
//! for); a supervisor approves or denies it with two factors exactly as a
//! person's request ([`Engine::grant_breakglass`], [`Engine::deny_breakglass`]).
//! The client polls [`Engine::breakglass_assertion_for`]: once granted, it
//! gets one signed assertion whose `sub` is the principal, with the
//! supervised-override acr and the override claims, never outliving the
//! grant. The grant is an ordinary override: used by that issue, expiring by
//! itself, revocable, reviewed and reconciled like a person's.

use crate::Code;
use std::collections::BTreeSet;

use countersign_assertion::{Claims, ACR_SUPERVISED_OVERRIDE};
use countersign_core::session::Trigger;
use countersign_core::{BreakGlass, BreakGlassState, GrantStatus, Refusal};
use serde_json::json;

use crate::assertions::{override_claims, AssertionOutcome, REQUEST_TTL_MS};
use crate::clients::ClientView;
use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError};

/// What a relying application asks for on a principal's behalf.
#[derive(Debug, Clone)]
pub struct ClientBreakGlassRequest {
    pub principal: String,
    pub trigger: Trigger,
    pub scope: BTreeSet<String>,
    pub detail: String,
    /// Seconds; at most the policy's break-glass cap.
    pub duration_s: Option<i64>,
    pub nonce: String,
}

pub(crate) fn check_nonce(nonce: &str) -> Result<(), EngineError> {
    let ok = !nonce.is_empty() && nonce.len() <= 256 && nonce.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(EngineError::Invalid(
            "nonce must be 1 to 256 printable ASCII characters".into(),
        ))
    }
}

impl Engine {
    /// Opens a break-glass request from an authenticated client. Refused
    /// (and logged) unless the principal names the client, the client may
    /// ask for every scope, and the duration is within the break-glass cap;
    /// then the core's checks (trigger enabled, scopes registered for the
    /// principal, a detail given).
    pub fn request_breakglass_for_client(
        &mut self,
        client: &ClientView,
        req: ClientBreakGlassRequest,
    ) -> Result<BreakGlass, EngineError> {
        check_nonce(&req.nonce)?;
        let reg = self.registered_principal(&req.principal)?;
        let now = self.now();
        let refused = |e: &mut Engine, code: Code, message: String| {
            e.ledger.append(
                &Ev::new(kinds::BREAKGLASS_REFUSED, now, json!({ "principal": req.principal, "requester": format!("client:{}", client.id), "client_id": client.id, "trigger": req.trigger, "scope": req.scope, "event": "request", "refusal": code, "message": message }))
                    .person(&req.principal)
                    .trigger(req.trigger.as_str())
                    .outcome("refused")
                    .build(),
            )
        };
        let pre: Option<EngineError> = if !reg.clients.contains(&client.id) {
            Some(EngineError::ClientNotAllowed {
                client: client.id.clone(),
                principal: req.principal.clone(),
            })
        } else if let Some(s) = req.scope.iter().find(|s| !client.scopes.contains(*s)) {
            Some(EngineError::ClientScope {
                client: client.id.clone(),
                scope: s.clone(),
            })
        } else {
            let cap = self.policy.breakglass.max_duration_minutes;
            match req.duration_s {
                Some(d) if d <= 0 => Some(Refusal::NoExpiry.into()),
                Some(d) if d > cap * 60 => Some(
                    Refusal::OverCap {
                        requested_minutes: d.saturating_add(59) / 60,
                        cap_minutes: cap,
                    }
                    .into(),
                ),
                _ => None,
            }
        };
        if let Some(e) = pre {
            refused(self, e.code(), e.to_string())?;
            return Err(e);
        }
        let id = Engine::new_id("brk");
        let bg = match BreakGlass::request_by_client(
            &self.policy,
            id.clone(),
            reg.principal,
            &client.id,
            req.trigger,
            req.scope.clone(),
            req.detail.clone(),
            now,
        ) {
            Ok(bg) => bg,
            Err(r) => {
                refused(self, r.error_code(), r.to_string())?;
                return Err(r.into());
            }
        };
        self.ledger.append(
            &Ev::new(kinds::BREAKGLASS_REQUESTED, now, json!({ "request_id": id, "principal": bg.principal, "requester": bg.requester, "client_id": client.id, "trigger": req.trigger, "scope": bg.requested_scope, "detail": req.detail, "duration_s": req.duration_s, "nonce": req.nonce, "kiosk_id": self.kiosk_id }))
                .person(&bg.principal.id)
                .trigger(req.trigger.as_str())
                .case(&id)
                .outcome("requested")
                .build(),
        )?;
        Ok(bg)
    }

    /// The answer to a client's break-glass request: pending (waiting for a
    /// supervisor), the signed assertion (once), or why none will come
    /// (denied, expired unanswered, the grant already ended).
    pub fn breakglass_assertion_for(
        &mut self,
        request_id: &str,
        client_id: &str,
    ) -> Result<AssertionOutcome, EngineError> {
        let row = match self.breakglass_row(request_id) {
            Ok(r) if r.body["client_id"].as_str() == Some(client_id) => r,
            Ok(_) | Err(EngineError::Invalid(_)) => {
                return Err(EngineError::UnknownRequest(request_id.into()))
            }
            Err(e) => return Err(e),
        };
        let done = self.session_rows(
            request_id,
            &[kinds::ASSERTION_ISSUED, kinds::ASSERTION_REFUSED],
        )?;
        if let Some(d) = done.first() {
            return Ok(AssertionOutcome::Failed {
                state: "answered".into(),
                error: "invalid_request".into(),
                error_description: if d.kind == kinds::ASSERTION_ISSUED {
                    format!(
                        "the assertion for {request_id} was already issued (jti {})",
                        d.body["jti"].as_str().unwrap_or_default()
                    )
                } else {
                    format!(
                        "{request_id} was already refused: {}",
                        d.body["error_description"].as_str().unwrap_or_default()
                    )
                },
            });
        }
        let bg = self.resume_breakglass(request_id)?;
        let now = self.now();
        let now_s = now.div_euclid(1000);
        let state = bg.state.name().to_string();
        let grant_id = match &bg.state {
            BreakGlassState::Granted { grant_id } => grant_id.clone(),
            BreakGlassState::Cancelled { reason } => {
                let d = format!("a supervisor denied the break-glass request: {reason}");
                return self.fail(request_id, client_id, &state, "access_denied", d);
            }
            _ if now >= bg.requested_at + REQUEST_TTL_MS => {
                let d = format!(
                    "the request expired: no supervisor answered within {} min",
                    REQUEST_TTL_MS / 60_000
                );
                return self.fail(request_id, client_id, &state, "access_denied", d);
            }
            _ => return Ok(AssertionOutcome::Pending { state }),
        };
        let case = self.load_case(&grant_id)?;
        let g = case.grant.clone();
        let judged = self.case_now(&case); // boot time too: see `Engine::case_now`
        if case.status_at(judged) != GrantStatus::Active {
            let d = format!("override {} is {}", g.id, case.status_at(judged).name());
            return self.fail(request_id, client_id, &state, "access_denied", d);
        }
        let exp = (now_s + self.policy.assertion.lifetime_seconds)
            .min(g.expires_at / 1000 - (judged - now).max(0) / 1000);
        if exp <= now_s {
            let d = format!("override {} expires now", g.id);
            return self.fail(request_id, client_id, &state, "access_denied", d);
        }
        let scope = g.scope.iter().cloned().collect::<Vec<_>>().join(" ");
        // Issuing the assertion is the override's one use.
        self.use_override(&g.id, &scope)?;
        let claims = Claims {
            iss: self.issuer(),
            sub: g.operator.clone(),
            aud: client_id.into(),
            iat: now_s,
            exp,
            auth_time: g.granted_at / 1000,
            nonce: row.body["nonce"].as_str().unwrap_or_default().into(),
            jti: Engine::new_id("jti"),
            acr: ACR_SUPERVISED_OVERRIDE.into(),
            amr: g.supervisor_amr.clone(),
            scope,
            override_: Some(override_claims(&g)),
            countersign_demo: false, // set by sign_and_record
        };
        self.sign_and_record(request_id, client_id, claims)
    }
}
