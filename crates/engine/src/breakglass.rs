//! Break-glass for non-human identities, over the same evidence and the
//! same override lifecycle as a person's step-up.
//!
//! `breakglass.requested` (filed under the request id) carries a snapshot
//! of the principal, so a supervisor in another process resumes the request
//! from the log; the grant is an ordinary `override.granted` event filed
//! under the grant id, so use, expiry, revocation, review and reconciliation
//! are the override use cases unchanged.

use std::collections::BTreeSet;

use countersign_core::auth::Authenticated;
use countersign_core::session::{GrantRequest, Trigger};
use countersign_core::{
    BreakGlass, BreakGlassEvent, BreakGlassState, Grant, Principal, Reconciliation, Refusal, Role,
};
use countersign_ledger::{Filter, PageRequest};
use serde_json::json;

use crate::assertions::REQUEST_TTL_MS;
use crate::evidence::{kinds, Ev};
use crate::overrides::OverrideView;
use crate::{Engine, EngineError};

impl Engine {
    /// Opens a break-glass request for `principal`, asked by `requester`, an
    /// operator who proves who they are with two factors (password and
    /// TOTP, enrolled by an admin): the requester is recorded and may then
    /// neither approve nor review the grant, so the name must be theirs. The
    /// request is checked first, so one the core would refuse spends no
    /// factor. A relying application asks through the API instead
    /// ([`Engine::request_breakglass_for_client`]), authenticated by its
    /// secret or signed request.
    #[allow(clippy::too_many_arguments)]
    pub fn request_breakglass(
        &mut self,
        principal: &str,
        requester: &str,
        secret: &str,
        otp: &str,
        trigger: Trigger,
        scope: BTreeSet<String>,
        detail: &str,
    ) -> Result<BreakGlass, EngineError> {
        let p = self.principal(principal)?;
        let claimed = self.person(requester)?;
        if let Err(r) = BreakGlass::request(
            &self.policy,
            String::new(),
            p.clone(),
            &claimed,
            trigger,
            scope.clone(),
            detail.into(),
            self.now(),
        ) {
            let now = self.now();
            self.ledger.append(
                &Ev::new(kinds::BREAKGLASS_REFUSED, now, json!({ "principal": principal, "requester": requester, "trigger": trigger, "scope": scope, "event": "request", "refusal": r.code(), "message": r.to_string() }))
                    .person(principal)
                    .trigger(trigger.as_str())
                    .outcome("refused")
                    .build(),
            )?;
            return Err(r.into());
        }
        let (who, _) = self.authenticate(
            requester,
            Role::Operator,
            secret,
            otp,
            &format!("request break-glass for {principal}"),
        )?;
        let now = self.now();
        let id = Engine::new_id("brk");
        let bg = match BreakGlass::request(
            &self.policy,
            id.clone(),
            p,
            &who,
            trigger,
            scope.clone(),
            detail.into(),
            now,
        ) {
            Ok(bg) => bg,
            Err(r) => {
                self.ledger.append(
                    &Ev::new(kinds::BREAKGLASS_REFUSED, now, json!({ "principal": principal, "requester": requester, "trigger": trigger, "scope": scope, "event": "request", "refusal": r.code(), "message": r.to_string() }))
                        .person(principal)
                        .trigger(trigger.as_str())
                        .outcome("refused")
                        .build(),
                )?;
                return Err(r.into());
            }
        };
        self.ledger.append(
            &Ev::new(kinds::BREAKGLASS_REQUESTED, now, json!({ "request_id": id, "principal": bg.principal, "requester": requester, "trigger": trigger, "scope": bg.requested_scope, "detail": detail, "kiosk_id": self.kiosk_id }))
                .person(principal)
                .trigger(trigger.as_str())
                .case(&id)
                .outcome("requested")
                .build(),
        )?;
        Ok(bg)
    }

    /// The `breakglass.requested` row of a request.
    pub(crate) fn breakglass_row(
        &self,
        request_id: &str,
    ) -> Result<countersign_ledger::EventRow, EngineError> {
        let page = self.ledger.query(
            &Filter {
                case_id: Some(request_id.into()),
                kinds: vec![kinds::BREAKGLASS_REQUESTED.into()],
                ..Default::default()
            },
            &PageRequest {
                after_seq: None,
                limit: 1,
                newest_first: false,
            },
        )?;
        page.rows
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Invalid(format!("no break-glass request {request_id}")))
    }

    /// Rebuilds a request from its events: the request (asked by a person
    /// or, as `client:<id>`, by a relying application), a denial, a grant.
    pub fn resume_breakglass(&mut self, request_id: &str) -> Result<BreakGlass, EngineError> {
        let row = self.breakglass_row(request_id)?;
        let b = &row.body;
        let bad = || EngineError::Invalid(format!("break-glass request {request_id} is malformed"));
        let principal: Principal =
            serde_json::from_value(b["principal"].clone()).map_err(|_| bad())?;
        let trigger: Trigger = serde_json::from_value(b["trigger"].clone()).map_err(|_| bad())?;
        let scope: BTreeSet<String> =
            serde_json::from_value(b["scope"].clone()).map_err(|_| bad())?;
        let requester = b["requester"].as_str().unwrap_or_default();
        let detail = b["detail"].as_str().unwrap_or_default().to_string();
        // A person's request is checked against the registry as it is now.
        let person = match requester.strip_prefix("client:") {
            Some(_) => Err(EngineError::UnknownPerson(requester.into())),
            None => self.person(requester),
        };
        let mut bg = match requester.strip_prefix("client:") {
            Some(client) => BreakGlass::request_by_client(
                &self.policy,
                request_id.into(),
                principal.clone(),
                client,
                trigger,
                scope,
                detail,
                row.ts_ms,
            )?,
            None => BreakGlass::request(
                &self.policy,
                request_id.into(),
                principal.clone(),
                &person?,
                trigger,
                scope,
                detail,
                row.ts_ms,
            )?,
        };
        let cancelled = self.ledger.latest(&Filter {
            case_id: Some(request_id.into()),
            kinds: vec![kinds::BREAKGLASS_CANCELLED.into()],
            ..Default::default()
        })?;
        if let Some(c) = cancelled {
            bg.state = BreakGlassState::Cancelled {
                reason: c.body["reason"].as_str().unwrap_or_default().into(),
            };
            return Ok(bg);
        }
        let granted = self.ledger.all(&Filter {
            kinds: vec![kinds::OVERRIDE_GRANTED.into()],
            person: Some(principal.id),
            from_ms: Some(row.ts_ms),
            ..Default::default()
        })?;
        if let Some(g) = granted
            .iter()
            .find(|r| r.body["session_id"].as_str() == Some(request_id))
        {
            bg.state = BreakGlassState::Granted {
                grant_id: g.body["id"].as_str().unwrap_or_default().into(),
            };
        }
        Ok(bg)
    }

    /// Refuses to act on a request still waiting after [`REQUEST_TTL_MS`]
    /// (logged), so a stale request is never approved hours later.
    fn check_not_stale(&mut self, bg: &BreakGlass, event: &str) -> Result<(), EngineError> {
        if matches!(bg.state, BreakGlassState::Requested)
            && self.now() >= bg.requested_at + REQUEST_TTL_MS
        {
            let now = self.now();
            self.ledger.append(
                &Ev::new(kinds::BREAKGLASS_REFUSED, now, json!({ "request_id": bg.id, "event": event, "refusal": "request_expired", "message": format!("requested at {} ms, open for {} min at most", bg.requested_at, REQUEST_TTL_MS / 60_000), "state": bg.state.name() }))
                    .person(&bg.principal.id)
                    .trigger(bg.trigger.as_str())
                    .case(&bg.id)
                    .outcome("refused")
                    .build(),
            )?;
            return Err(EngineError::RequestExpired(bg.id.clone()));
        }
        Ok(())
    }

    /// A supervisor turns a request down (two factors, as for a grant). The
    /// requester's poll then answers `access_denied` with the reason.
    pub fn deny_breakglass(
        &mut self,
        request_id: &str,
        supervisor: &str,
        secret: &str,
        otp: &str,
        reason: &str,
    ) -> Result<BreakGlass, EngineError> {
        let mut bg = self.resume_breakglass(request_id)?;
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid("a denial needs a reason".into()));
        }
        if !matches!(bg.state, BreakGlassState::Requested) {
            let r = Refusal::InvalidTransition {
                state: bg.state.name().into(),
                event: "cancel".into(),
            };
            return Err(self.refuse_breakglass(&bg, "cancel", r));
        }
        let (person, auth) = self.authenticate(
            supervisor,
            Role::Supervisor,
            secret,
            otp,
            &format!("deny break-glass {request_id}"),
        )?;
        let now = self.now();
        let probe_ev = BreakGlassEvent::SupervisorAuthenticated {
            supervisor: person,
            auth,
        };
        if let Err(r) = bg.clone().apply(&self.policy, probe_ev, now) {
            return Err(self.refuse_breakglass(&bg, "supervisor_authenticated", r));
        }
        bg.apply(
            &self.policy,
            BreakGlassEvent::Cancel {
                reason: reason.into(),
            },
            now,
        )?;
        self.ledger.append(
            &Ev::new(
                kinds::BREAKGLASS_CANCELLED,
                now,
                json!({ "request_id": request_id, "by": supervisor, "reason": reason }),
            )
            .person(&bg.principal.id)
            .supervisor(supervisor)
            .trigger(bg.trigger.as_str())
            .case(request_id)
            .outcome("denied")
            .build(),
        )?;
        Ok(bg)
    }

    fn refuse_breakglass(&mut self, bg: &BreakGlass, event: &str, r: Refusal) -> EngineError {
        let now = self.now();
        let ev = Ev::new(kinds::BREAKGLASS_REFUSED, now, json!({ "request_id": bg.id, "event": event, "refusal": r.code(), "message": r.to_string(), "state": bg.state.name() }))
            .person(&bg.principal.id)
            .trigger(bg.trigger.as_str())
            .case(&bg.id)
            .outcome("refused");
        match self.ledger.append(&ev.build()) {
            Ok(_) => EngineError::Refused(r),
            Err(e) => EngineError::Ledger(e),
        }
    }

    /// A supervisor approves with two factors and grants. The request is
    /// checked first, so a grant the core would refuse spends no factor.
    pub fn grant_breakglass(
        &mut self,
        request_id: &str,
        supervisor: &str,
        secret: &str,
        otp: &str,
        mut req: GrantRequest,
    ) -> Result<Grant, EngineError> {
        let mut bg = self.resume_breakglass(request_id)?;
        self.check_not_stale(&bg, "grant_override")?;
        if req.grant_id.is_empty() {
            req.grant_id = Engine::new_id("ovr");
        }
        if req.duration_ms.is_none() {
            // What the requester asked for (checked against the cap then),
            // else the policy default.
            let row = self.breakglass_row(request_id)?;
            req.duration_ms = row.body["duration_s"].as_i64().map(|s| s * 1000);
        }
        let now = self.now();
        let person = self.person(supervisor)?;
        let mut probe = bg.clone();
        let fake = Authenticated {
            supervisor: supervisor.into(),
            amr: vec!["pwd".into(), "otp".into()],
            at: now,
            totp_step: 0,
        };
        if let Err(r) = probe
            .apply(
                &self.policy,
                BreakGlassEvent::SupervisorAuthenticated {
                    supervisor: person,
                    auth: fake,
                },
                now,
            )
            .and_then(|_| probe.apply(&self.policy, BreakGlassEvent::Grant(req.clone()), now))
        {
            return Err(self.refuse_breakglass(&bg, "grant_override", r));
        }
        let (person, auth) = self.authenticate(
            supervisor,
            Role::Supervisor,
            secret,
            otp,
            &format!("break-glass {request_id}"),
        )?;
        let now = self.now();
        if let Err(r) = bg.apply(
            &self.policy,
            BreakGlassEvent::SupervisorAuthenticated {
                supervisor: person,
                auth,
            },
            now,
        ) {
            return Err(self.refuse_breakglass(&bg, "supervisor_authenticated", r));
        }
        let g = match bg.apply(&self.policy, BreakGlassEvent::Grant(req), now) {
            Ok(Some(g)) => g,
            Ok(None) => return Err(EngineError::Invalid("grant produced no grant".into())),
            Err(r) => return Err(self.refuse_breakglass(&bg, "grant_override", r)),
        };
        self.ledger.append(
            &Ev::new(
                kinds::OVERRIDE_GRANTED,
                now,
                crate::monotonic::granted_body(&g, self.clock.boot_anchor()),
            )
            .person(&g.operator)
            .supervisor(&g.supervisor)
            .trigger(g.trigger.as_str())
            .case(&g.id)
            .outcome("granted")
            .build(),
        )?;
        self.maybe_checkpoint()?;
        Ok(g)
    }

    /// Break-glass requests, newest first, with their state.
    pub fn list_breakglass(&mut self, limit: u32) -> Result<Vec<BreakGlass>, EngineError> {
        let page = self.ledger.query(
            &Filter {
                kinds: vec![kinds::BREAKGLASS_REQUESTED.into()],
                ..Default::default()
            },
            &PageRequest {
                after_seq: None,
                limit,
                newest_first: true,
            },
        )?;
        let ids: Vec<String> = page
            .rows
            .iter()
            .filter_map(|r| r.index.case_id.clone())
            .collect();
        ids.iter().map(|id| self.resume_breakglass(id)).collect()
    }

    /// Requests waiting for a supervisor (not granted, denied or expired),
    /// oldest first: what the kiosk shows supervisors.
    pub fn pending_breakglass(&mut self) -> Result<Vec<BreakGlass>, EngineError> {
        let now = self.now();
        let rows = self.ledger.all(&Filter {
            kinds: vec![kinds::BREAKGLASS_REQUESTED.into()],
            from_ms: Some(now - REQUEST_TTL_MS + 1),
            ..Default::default()
        })?;
        let mut out = vec![];
        for id in rows.iter().filter_map(|r| r.index.case_id.clone()) {
            let bg = self.resume_breakglass(&id)?;
            if matches!(bg.state, BreakGlassState::Requested) {
                out.push(bg);
            }
        }
        Ok(out)
    }

    /// The principal's primary credential path works again: closes the
    /// reconciliation half of an ended break-glass override. Said by a
    /// supervisor or an admin with two factors (`by`, in `role`), and only
    /// of a break-glass grant: a person's override is reconciled by their
    /// own successful step-up, never by this.
    pub fn reconcile_breakglass(
        &mut self,
        grant_id: &str,
        by: &str,
        role: Role,
        secret: &str,
        otp: &str,
    ) -> Result<OverrideView, EngineError> {
        self.expire_due()?;
        let g = self.load_case(grant_id)?.grant;
        if g.principal_kind.is_human() {
            let r = EngineError::NotBreakGlass(grant_id.into());
            return Err(self.refuse_case(&g, "reconcile", by, r));
        }
        if !matches!(role, Role::Supervisor | Role::Admin) {
            let r = Refusal::MissingRole {
                person: by.into(),
                role: Role::Supervisor,
            };
            return Err(self.refuse_case(&g, "reconcile", by, r.into()));
        }
        self.authenticate(by, role, secret, otp, &format!("reconcile {grant_id}"))?;
        self.reconcile_override_by(grant_id, Reconciliation::CredentialRestored, by)
    }
}
