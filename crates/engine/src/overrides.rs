//! Overrides after the grant: use, expiry, revocation, review, reconciliation.
//!
//! The ledger is the source of truth: a case is rebuilt by folding the events
//! filed under its grant id, and each action goes through
//! [`OverrideCase::apply`] before its event is written.

use countersign_core::{
    Disposition, Grant, GrantStatus, OverrideCase, OverrideEvent, Reconciliation, Role,
};
use countersign_ledger::{EventRow, Filter, PageRequest};
use serde::Serialize;
use serde_json::json;

use crate::evidence::{kinds, Ev};
use crate::{Engine, EngineError};

/// A case as the CLI and the reviewer console show it, as of `now`.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideView {
    #[serde(flatten)]
    pub case: OverrideCase,
    pub status_now: GrantStatus,
    pub remaining_ms: i64,
    pub review_overdue: bool,
    pub closed: bool,
}

/// A reviewer's decision, with their two factors.
#[derive(Debug, Clone)]
pub struct ReviewInput<'a> {
    pub reviewer: &'a str,
    pub secret: &'a str,
    pub otp: &'a str,
    pub disposition: Disposition,
    pub notes: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct OverrideFilter {
    pub operator: Option<String>,
    pub supervisor: Option<String>,
    pub pending_review: bool,
    pub active_only: bool,
}

fn fold(rows: &[EventRow]) -> Option<OverrideCase> {
    let first = rows.iter().find(|r| r.kind == kinds::OVERRIDE_GRANTED)?;
    let grant: Grant = serde_json::from_value(first.body.clone()).ok()?;
    let mut case = OverrideCase::new(grant);
    for r in rows {
        let b = &r.body;
        match r.kind.as_str() {
            kinds::OVERRIDE_USED => {
                case.status = GrantStatus::Used {
                    at: r.ts_ms,
                    scope: b["scope"].as_str().unwrap_or_default().into(),
                }
            }
            kinds::OVERRIDE_EXPIRED => {
                case.status = GrantStatus::Expired {
                    at: b["expires_at"].as_i64().unwrap_or(r.ts_ms),
                }
            }
            kinds::OVERRIDE_REVOKED => {
                case.status = GrantStatus::Revoked {
                    at: r.ts_ms,
                    by: b["by"].as_str().unwrap_or_default().into(),
                    reason: b["reason"].as_str().unwrap_or_default().into(),
                }
            }
            kinds::OVERRIDE_REVIEWED => {
                case.review = serde_json::from_value(b["review"].clone()).ok()
            }
            kinds::OVERRIDE_RECONCILED => {
                if let Ok(how) = serde_json::from_value::<Reconciliation>(b["how"].clone()) {
                    case.reconciled = Some((how, r.ts_ms));
                }
            }
            _ => {}
        }
    }
    Some(case)
}

impl Engine {
    fn case_rows(&self, grant_id: &str) -> Result<Vec<EventRow>, EngineError> {
        let f = Filter {
            case_id: Some(grant_id.into()),
            ..Default::default()
        };
        Ok(self.ledger.all(&f)?)
    }

    pub fn load_case(&self, grant_id: &str) -> Result<OverrideCase, EngineError> {
        fold(&self.case_rows(grant_id)?)
            .ok_or_else(|| EngineError::UnknownOverride(grant_id.into()))
    }

    /// The time to judge `case`'s expiry by: the wall clock, unless the
    /// boot time elapsed since the grant says more time has passed (see
    /// `crate::monotonic`), so a clock set back cannot re-open a grant and a
    /// clock set forward at the grant cannot lengthen it.
    pub fn case_now(&self, case: &OverrideCase) -> countersign_core::Ms {
        let now = self.now();
        let f = Filter {
            kinds: vec![kinds::OVERRIDE_GRANTED.into()],
            case_id: Some(case.grant.id.clone()),
            ..Default::default()
        };
        let anchor: Option<crate::monotonic::BootAnchor> = self
            .ledger
            .latest(&f)
            .ok()
            .flatten()
            .and_then(|r| r.body.get("anchor").cloned())
            .and_then(|v| serde_json::from_value(v).ok());
        crate::monotonic::judged_now(
            now,
            case.grant.granted_at,
            anchor.as_ref(),
            self.clock.boot_anchor().as_ref(),
        )
    }

    pub fn override_view(&self, case: OverrideCase) -> OverrideView {
        let now = self.case_now(&case);
        OverrideView {
            status_now: case.status_at(now),
            remaining_ms: (case.grant.expires_at - now).max(0)
                * i64::from(!case.status_at(now).is_ended()),
            review_overdue: case.review_overdue(now),
            closed: case.is_closed(),
            case,
        }
    }

    /// Overrides, newest first. Overdue reviews first when `pending_review`.
    pub fn list_overrides(
        &self,
        f: &OverrideFilter,
        limit: usize,
    ) -> Result<Vec<OverrideView>, EngineError> {
        let filter = Filter {
            kinds: vec![kinds::OVERRIDE_GRANTED.into()],
            person: f.operator.clone(),
            supervisor: f.supervisor.clone(),
            pending_review: f.pending_review,
            ..Default::default()
        };
        let mut out = vec![];
        let mut after = None;
        'pages: loop {
            let page = self.ledger.query(
                &filter,
                &PageRequest {
                    after_seq: after,
                    limit: 200,
                    newest_first: true,
                },
            )?;
            for row in &page.rows {
                let Some(id) = &row.index.case_id else {
                    continue;
                };
                let v = self.override_view(self.load_case(id)?);
                if f.active_only && v.status_now.is_ended() {
                    continue;
                }
                out.push(v);
                if out.len() >= limit {
                    break 'pages;
                }
            }
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        if f.pending_review {
            out.sort_by_key(|v| (!v.review_overdue, v.case.grant.review_due));
        }
        Ok(out)
    }

    /// Runs `ev` through the core, then writes `kind` with `body`. A refusal
    /// is logged as `override.refused` and returned.
    fn act(
        &mut self,
        grant_id: &str,
        ev: OverrideEvent,
        kind: &str,
        body: serde_json::Value,
        actor: Option<&str>,
    ) -> Result<OverrideView, EngineError> {
        let mut case = self.load_case(grant_id)?;
        let now = self.now();
        let judged = self.case_now(&case);
        let name = ev.name();
        let g = case.grant.clone();
        let base = |k: &str, b| {
            Ev::new(k, now, b)
                .case(&g.id)
                .person(&g.operator)
                .supervisor(&g.supervisor)
                .trigger(g.trigger.as_str())
        };
        if let Err(r) = case.apply(ev, judged) {
            self.ledger.append(
                &base(kinds::OVERRIDE_REFUSED, json!({ "grant_id": g.id, "event": name, "by": actor, "refusal": r.code(), "message": r.to_string() })).outcome("refused").build(),
            )?;
            return Err(r.into());
        }
        self.ledger
            .append(&base(kind, body).outcome(case.status.name()).build())?;
        Ok(self.override_view(case))
    }

    /// The relying application consumed the grant for `scope`. Only the
    /// assertion path calls this (issuing the assertion is the one use):
    /// no shell can spend someone's grant by naming it.
    pub(crate) fn use_override(
        &mut self,
        grant_id: &str,
        scope: &str,
    ) -> Result<OverrideView, EngineError> {
        self.act(
            grant_id,
            OverrideEvent::Use {
                scope: scope.into(),
            },
            kinds::OVERRIDE_USED,
            json!({ "grant_id": grant_id, "scope": scope }),
            None,
        )
    }

    /// Revocation by someone with two factors (supervisor, admin or reviewer).
    pub fn revoke_override(
        &mut self,
        grant_id: &str,
        by: &str,
        role: Role,
        secret: &str,
        otp: &str,
        reason: &str,
    ) -> Result<OverrideView, EngineError> {
        self.load_case(grant_id)?;
        let (person, _) =
            self.authenticate(by, role, secret, otp, &format!("revoke {grant_id}"))?;
        self.act(
            grant_id,
            OverrideEvent::Revoke {
                by: person,
                reason: reason.into(),
            },
            kinds::OVERRIDE_REVOKED,
            json!({ "grant_id": grant_id, "by": by, "reason": reason }),
            Some(by),
        )
    }

    /// Asking for more time is refused and leaves evidence that it was asked.
    pub fn extend_override(
        &mut self,
        grant_id: &str,
        by: &str,
        extra_ms: i64,
    ) -> Result<OverrideView, EngineError> {
        let person = self.person(by)?;
        self.act(
            grant_id,
            OverrideEvent::Extend {
                by: person,
                extra_ms,
            },
            "override.extended",
            json!({}),
            Some(by),
        )
    }

    /// The owner of the principal of a break-glass grant, from the
    /// principal snapshot in its `breakglass.requested` event.
    fn breakglass_owner(&self, g: &Grant) -> Result<Option<String>, EngineError> {
        if g.principal_kind.is_human() {
            return Ok(None);
        }
        let row = self.breakglass_row(&g.session_id)?;
        Ok(row.body["principal"]["owner"].as_str().map(str::to_string))
    }

    /// Logs `override.refused` for `event` on `g` and returns the refusal.
    pub(crate) fn refuse_case(
        &mut self,
        g: &Grant,
        event: &str,
        actor: &str,
        r: EngineError,
    ) -> EngineError {
        let now = self.now();
        let ev = Ev::new(kinds::OVERRIDE_REFUSED, now, json!({ "grant_id": g.id, "event": event, "by": actor, "refusal": r.code(), "message": r.to_string() }))
            .case(&g.id)
            .person(&g.operator)
            .supervisor(&g.supervisor)
            .trigger(g.trigger.as_str())
            .outcome("refused")
            .build();
        match self.ledger.append(&ev) {
            Ok(_) => r,
            Err(e) => e.into(),
        }
    }

    pub fn review_override(
        &mut self,
        grant_id: &str,
        input: ReviewInput<'_>,
    ) -> Result<OverrideView, EngineError> {
        let claimed = self.person(input.reviewer)?;
        // A principal's owner never reviews its break-glass grant (the core
        // knows the operator, supervisor and requester; the owner is in the
        // request's principal snapshot).
        let g = self.load_case(grant_id)?.grant;
        if self.breakglass_owner(&g)?.as_deref() == Some(input.reviewer) {
            let r = countersign_core::Refusal::SelfDealing {
                person: input.reviewer.into(),
                action: "review",
            };
            return Err(self.refuse_case(&g, "review", input.reviewer, r.into()));
        }
        let ev = |reviewer| OverrideEvent::Review {
            reviewer,
            disposition: input.disposition,
            notes: input.notes.into(),
        };
        // Dry run first: a review the core would refuse (too early, own case,
        // missing notes) is refused before any factor is spent.
        let mut probe = self.load_case(grant_id)?;
        let judged = self.case_now(&probe);
        if probe.apply(ev(claimed), judged).is_err() {
            let claimed = self.person(input.reviewer)?;
            return self.act(
                grant_id,
                ev(claimed),
                kinds::OVERRIDE_REVIEWED,
                serde_json::Value::Null,
                Some(input.reviewer),
            );
        }
        let (person, _) = self.authenticate(
            input.reviewer,
            Role::Reviewer,
            input.secret,
            input.otp,
            &format!("review {grant_id}"),
        )?;
        let mut probe = self.load_case(grant_id)?;
        let judged = self.case_now(&probe);
        probe.apply(ev(person.clone()), judged)?;
        self.act(
            grant_id,
            ev(person),
            kinds::OVERRIDE_REVIEWED,
            json!({ "grant_id": grant_id, "review": probe.review }),
            Some(input.reviewer),
        )
    }

    /// Writes `override.expired` for every live grant past its expiry.
    /// Expiry is already enforced by [`OverrideCase::status_at`]; this makes
    /// it visible in the log (and in the remote copy) as it happens.
    pub fn expire_due(&mut self) -> Result<Vec<String>, EngineError> {
        let live = self.list_overrides(&OverrideFilter::default(), usize::MAX)?;
        let mut expired = vec![];
        for v in live {
            if matches!(
                v.case.status,
                GrantStatus::Active | GrantStatus::Used { .. }
            ) && matches!(v.status_now, GrantStatus::Expired { .. })
            {
                let id = v.case.grant.id.clone();
                self.act(
                    &id,
                    OverrideEvent::Expire,
                    kinds::OVERRIDE_EXPIRED,
                    json!({ "grant_id": id, "expires_at": v.case.grant.expires_at }),
                    None,
                )?;
                expired.push(id);
            }
        }
        Ok(expired)
    }

    /// Reconciles one ended override (e.g. a break-glass whose credential
    /// path was restored). Callers authenticate whoever asks first
    /// ([`Engine::reconcile_breakglass`]) or act on the operator's own
    /// successful step-up ([`Engine::reconcile_operator`]).
    pub(crate) fn reconcile_override_by(
        &mut self,
        grant_id: &str,
        how: Reconciliation,
        by: &str,
    ) -> Result<OverrideView, EngineError> {
        self.act(
            grant_id,
            OverrideEvent::Reconcile { how },
            kinds::OVERRIDE_RECONCILED,
            json!({ "grant_id": grant_id, "how": how, "by": by }),
            Some(by),
        )
    }

    /// Closes the primary-control loop: every ended, unreconciled override of
    /// `operator` is reconciled by `how`.
    pub fn reconcile_operator(
        &mut self,
        operator: &str,
        how: Reconciliation,
    ) -> Result<Vec<String>, EngineError> {
        self.expire_due()?;
        let f = OverrideFilter {
            operator: Some(operator.into()),
            ..Default::default()
        };
        let mut done = vec![];
        for v in self.list_overrides(&f, usize::MAX)? {
            if v.case.reconciled.is_none() && v.status_now.is_ended() {
                let id = v.case.grant.id.clone();
                self.act(
                    &id,
                    OverrideEvent::Reconcile { how },
                    kinds::OVERRIDE_RECONCILED,
                    json!({ "grant_id": id, "how": how }),
                    None,
                )?;
                done.push(id);
            }
        }
        Ok(done)
    }
}
