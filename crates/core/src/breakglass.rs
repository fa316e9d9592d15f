//! Break-glass for non-human identities: service accounts, API keys and
//! automated agents whose primary credential path failed.
//!
//! ```text
//! Requested --supervisor 2FA--> SupervisorAuthenticated --grant--> Granted   (then see override_case)
//! Requested / SupervisorAuthenticated --cancel--> Cancelled
//! ```
//! A request names the principal, the trigger (`issuer_down`,
//! `certificate_expired`, `rotation_broken`: only those the policy's
//! `[breakglass]` section enables) and scopes the principal is registered
//! for. The grant goes through the same builder as a person's override
//! ([`crate::session`]), with the break-glass cap, and produces an ordinary
//! [`Grant`] whose `principal_kind` is not `human`: use, expiry, revocation,
//! review and reconciliation are the override lifecycle, unchanged.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::auth::Authenticated;
use crate::people::{Person, Role};
use crate::policy::Policy;
use crate::session::{build_grant, Grant, GrantInputs, GrantRequest, Trigger};
use crate::{Ms, Refusal};

/// What kind of identity a grant is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person (the step-up operator).
    #[default]
    Human,
    ServiceAccount,
    ApiKey,
    Agent,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Human => "human",
            PrincipalKind::ServiceAccount => "service_account",
            PrincipalKind::ApiKey => "api_key",
            PrincipalKind::Agent => "agent",
        }
    }

    pub fn is_human(&self) -> bool {
        *self == PrincipalKind::Human
    }
}

impl std::str::FromStr for PrincipalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "service_account" | "service-account" => Ok(PrincipalKind::ServiceAccount),
            "api_key" | "api-key" => Ok(PrincipalKind::ApiKey),
            "agent" => Ok(PrincipalKind::Agent),
            _ => Err(format!(
                "unknown principal kind {s:?} (expected service_account, api_key or agent)"
            )),
        }
    }
}

/// A registered non-human identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalKind,
    /// The person accountable for it; never its approver.
    pub owner: String,
    /// The scopes a break-glass grant for it may cover.
    pub scopes: BTreeSet<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BreakGlassState {
    Requested,
    SupervisorAuthenticated { supervisor: String },
    Granted { grant_id: String },
    Cancelled { reason: String },
}

impl BreakGlassState {
    pub fn name(&self) -> &'static str {
        match self {
            BreakGlassState::Requested => "requested",
            BreakGlassState::SupervisorAuthenticated { .. } => "supervisor_authenticated",
            BreakGlassState::Granted { .. } => "granted",
            BreakGlassState::Cancelled { .. } => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BreakGlassEvent {
    SupervisorAuthenticated {
        supervisor: Person,
        auth: Authenticated,
    },
    Grant(GrantRequest),
    Cancel {
        reason: String,
    },
}

impl BreakGlassEvent {
    pub fn name(&self) -> &'static str {
        match self {
            BreakGlassEvent::SupervisorAuthenticated { .. } => "supervisor_authenticated",
            BreakGlassEvent::Grant(_) => "grant_override",
            BreakGlassEvent::Cancel { .. } => "cancel",
        }
    }
}

/// One break-glass request for a non-human principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakGlass {
    pub id: String,
    pub principal: Principal,
    pub requester: String,
    pub trigger: Trigger,
    pub requested_scope: BTreeSet<String>,
    /// What failed, in the requester's words (e.g. the CA's error).
    pub detail: String,
    pub requested_at: Ms,
    pub supervisor: Option<(Person, Authenticated)>,
    pub state: BreakGlassState,
}

impl BreakGlass {
    /// Opens a request. Refused unless the trigger is a non-human one the
    /// policy's `[breakglass]` enables and every scope is known and
    /// registered for the principal.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        policy: &Policy,
        id: String,
        principal: Principal,
        requester: &Person,
        trigger: Trigger,
        scope: BTreeSet<String>,
        detail: String,
        now: Ms,
    ) -> Result<BreakGlass, Refusal> {
        if principal.kind.is_human() {
            return Err(Refusal::HumanPrincipal {
                principal: principal.id.clone(),
            });
        }
        requester.require(Role::Operator)?;
        Self::open(
            policy,
            id,
            principal,
            requester.id.clone(),
            trigger,
            scope,
            detail,
            now,
        )
    }

    /// Opens a request asked by a registered relying application (through
    /// the kiosk API) rather than a person. `client_id` is recorded as
    /// `client:<id>` as the requester; whether that client may act for the
    /// principal is the caller's registry check. The same checks as
    /// [`BreakGlass::request`] apply otherwise, and the approver is still a
    /// supervisor with two factors who is not the principal's owner.
    #[allow(clippy::too_many_arguments)]
    pub fn request_by_client(
        policy: &Policy,
        id: String,
        principal: Principal,
        client_id: &str,
        trigger: Trigger,
        scope: BTreeSet<String>,
        detail: String,
        now: Ms,
    ) -> Result<BreakGlass, Refusal> {
        if client_id.trim().is_empty() {
            return Err(Refusal::MissingField("client id"));
        }
        Self::open(
            policy,
            id,
            principal,
            format!("client:{client_id}"),
            trigger,
            scope,
            detail,
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn open(
        policy: &Policy,
        id: String,
        principal: Principal,
        requester: String,
        trigger: Trigger,
        scope: BTreeSet<String>,
        detail: String,
        now: Ms,
    ) -> Result<BreakGlass, Refusal> {
        if principal.kind.is_human() {
            return Err(Refusal::HumanPrincipal {
                principal: principal.id.clone(),
            });
        }
        if !trigger.is_non_human() || !policy.breakglass_trigger_allowed(trigger) {
            return Err(Refusal::TriggerNotAllowed(trigger.to_string()));
        }
        if scope.is_empty() {
            return Err(Refusal::EmptyScope);
        }
        for s in &scope {
            if policy.scope(s).is_none() {
                return Err(Refusal::UnknownScope { scope: s.clone() });
            }
            if !principal.scopes.contains(s) {
                return Err(Refusal::ScopeNotRegistered {
                    scope: s.clone(),
                    principal: principal.id.clone(),
                });
            }
        }
        if detail.trim().is_empty() {
            return Err(Refusal::MissingField("detail"));
        }
        Ok(BreakGlass {
            id,
            principal,
            requester,
            trigger,
            requested_scope: scope,
            detail,
            requested_at: now,
            supervisor: None,
            state: BreakGlassState::Requested,
        })
    }

    fn invalid(&self, ev: &BreakGlassEvent) -> Refusal {
        Refusal::InvalidTransition {
            state: self.state.name().into(),
            event: ev.name().into(),
        }
    }

    /// Applies one event at `now`; on refusal nothing changes. Returns the
    /// grant when one was made.
    pub fn apply(
        &mut self,
        policy: &Policy,
        ev: BreakGlassEvent,
        now: Ms,
    ) -> Result<Option<Grant>, Refusal> {
        match (&self.state, &ev) {
            (BreakGlassState::Granted { .. } | BreakGlassState::Cancelled { .. }, _) => {
                Err(self.invalid(&ev))
            }
            (_, BreakGlassEvent::Cancel { reason }) => {
                self.state = BreakGlassState::Cancelled {
                    reason: reason.clone(),
                };
                Ok(None)
            }
            (
                BreakGlassState::Requested,
                BreakGlassEvent::SupervisorAuthenticated { supervisor, auth },
            ) => {
                supervisor.require(Role::Supervisor)?;
                if supervisor.id == self.requester || supervisor.id == self.principal.owner {
                    return Err(Refusal::SelfDealing {
                        person: supervisor.id.clone(),
                        action: "approve",
                    });
                }
                if auth.supervisor != supervisor.id
                    || !auth.amr.iter().any(|a| a == "otp")
                    || auth.amr.len() < 2
                {
                    return Err(Refusal::SupervisorNotAuthenticated);
                }
                self.state = BreakGlassState::SupervisorAuthenticated {
                    supervisor: supervisor.id.clone(),
                };
                self.supervisor = Some((supervisor.clone(), auth.clone()));
                Ok(None)
            }
            (BreakGlassState::Requested, BreakGlassEvent::Grant(_)) => {
                Err(Refusal::SupervisorNotAuthenticated)
            }
            (BreakGlassState::SupervisorAuthenticated { .. }, BreakGlassEvent::Grant(req)) => {
                let bg = &policy.breakglass;
                let grant = build_grant(
                    GrantInputs {
                        policy,
                        supervisor: self.supervisor.as_ref(),
                        trigger_allowed: policy.breakglass_trigger_allowed(self.trigger),
                        trigger: self.trigger,
                        requested_scope: &self.requested_scope,
                        cap: (bg.max_duration_minutes * 60_000, bg.max_duration_minutes),
                        default_ms: bg.default_duration_minutes * 60_000,
                        session_id: &self.id,
                        operator: &self.principal.id,
                        principal_kind: self.principal.kind,
                        requester: Some(&self.requester),
                    },
                    req,
                    now,
                )?;
                self.state = BreakGlassState::Granted {
                    grant_id: grant.id.clone(),
                };
                Ok(Some(grant))
            }
            _ => Err(self.invalid(&ev)),
        }
    }
}
