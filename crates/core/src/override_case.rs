//! The life of an override after it is granted:
//!
//! ```text
//! active --use--> used --(expiry)--> expired
//! active/used --revoke--> revoked
//! active --(expiry)--> expired
//! expired/revoked --review--> reviewed (justified | unjustified | needs_follow_up)
//! expired/revoked --reconcile--> reconciled (next primary match, or re-enrollment)
//! reviewed + reconciled = closed
//! ```
//! Expiry is enforced here, not by whoever shows it: [`OverrideCase::status_at`]
//! reports `expired` the moment `now >= expires_at`, whether or not an expiry
//! event was recorded. No event moves `expires_at`.

use serde::{Deserialize, Serialize};

use crate::people::{Person, Role};
use crate::session::Grant;
use crate::{Ms, Refusal};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GrantStatus {
    Active,
    Used { at: Ms, scope: String },
    Expired { at: Ms },
    Revoked { at: Ms, by: String, reason: String },
}

impl GrantStatus {
    pub fn name(&self) -> &'static str {
        match self {
            GrantStatus::Active => "active",
            GrantStatus::Used { .. } => "used",
            GrantStatus::Expired { .. } => "expired",
            GrantStatus::Revoked { .. } => "revoked",
        }
    }

    pub fn is_ended(&self) -> bool {
        matches!(
            self,
            GrantStatus::Expired { .. } | GrantStatus::Revoked { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Justified,
    Unjustified,
    NeedsFollowUp,
}

impl std::str::FromStr for Disposition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "justified" => Ok(Disposition::Justified),
            "unjustified" => Ok(Disposition::Unjustified),
            "needs_follow_up" | "needs-follow-up" => Ok(Disposition::NeedsFollowUp),
            _ => Err(format!(
                "unknown disposition {s:?} (expected justified, unjustified or needs_follow_up)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub reviewer: String,
    pub at: Ms,
    pub disposition: Disposition,
    pub notes: String,
    pub overdue: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reconciliation {
    /// The operator's next successful primary match.
    PrimaryMatch,
    ReEnrollment,
    /// A non-human principal's primary credential path works again
    /// (issuer back, certificate renewed, rotation fixed).
    CredentialRestored,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OverrideEvent {
    /// The relying application used the grant for one of its scopes.
    Use {
        scope: String,
    },
    /// Records that the expiry time passed (the status is expired either way).
    Expire,
    Revoke {
        by: Person,
        reason: String,
    },
    /// Always refused: a longer grant needs a new trigger and a new approval.
    Extend {
        by: Person,
        extra_ms: Ms,
    },
    Review {
        reviewer: Person,
        disposition: Disposition,
        notes: String,
    },
    Reconcile {
        how: Reconciliation,
    },
}

impl OverrideEvent {
    pub fn name(&self) -> &'static str {
        match self {
            OverrideEvent::Use { .. } => "use",
            OverrideEvent::Expire => "expire",
            OverrideEvent::Revoke { .. } => "revoke",
            OverrideEvent::Extend { .. } => "extend",
            OverrideEvent::Review { .. } => "review",
            OverrideEvent::Reconcile { .. } => "reconcile",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideCase {
    pub grant: Grant,
    pub status: GrantStatus,
    pub review: Option<Review>,
    pub reconciled: Option<(Reconciliation, Ms)>,
}

impl OverrideCase {
    pub fn new(grant: Grant) -> Self {
        OverrideCase {
            grant,
            status: GrantStatus::Active,
            review: None,
            reconciled: None,
        }
    }

    /// The status as of `now`: a live grant past its expiry is expired.
    pub fn status_at(&self, now: Ms) -> GrantStatus {
        match &self.status {
            GrantStatus::Active | GrantStatus::Used { .. } if now >= self.grant.expires_at => {
                GrantStatus::Expired {
                    at: self.grant.expires_at,
                }
            }
            s => s.clone(),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.review.is_some() && self.reconciled.is_some()
    }

    pub fn review_overdue(&self, now: Ms) -> bool {
        self.review.is_none() && now > self.grant.review_due
    }

    fn invalid(&self, ev: &OverrideEvent, now: Ms) -> Refusal {
        Refusal::InvalidTransition {
            state: self.status_at(now).name().into(),
            event: ev.name().into(),
        }
    }

    pub fn apply(&mut self, ev: OverrideEvent, now: Ms) -> Result<(), Refusal> {
        let status = self.status_at(now);
        match &ev {
            OverrideEvent::Extend { .. } => Err(Refusal::ExtensionRefused),
            OverrideEvent::Use { scope } => match status {
                GrantStatus::Active => {
                    if !self.grant.scope.contains(scope) {
                        return Err(Refusal::ScopeNotRequested {
                            scope: scope.clone(),
                        });
                    }
                    self.status = GrantStatus::Used {
                        at: now,
                        scope: scope.clone(),
                    };
                    Ok(())
                }
                GrantStatus::Expired { .. } => Err(Refusal::Expired {
                    expires_at: self.grant.expires_at,
                }),
                GrantStatus::Revoked { .. } => Err(Refusal::Revoked),
                GrantStatus::Used { .. } => Err(Refusal::AlreadyDone("used")),
            },
            OverrideEvent::Expire => match (&self.status, status) {
                (GrantStatus::Active | GrantStatus::Used { .. }, GrantStatus::Expired { at }) => {
                    self.status = GrantStatus::Expired { at };
                    Ok(())
                }
                _ => Err(self.invalid(&ev, now)),
            },
            OverrideEvent::Revoke { by, reason } => {
                if !(by.has(Role::Supervisor) || by.has(Role::Admin) || by.has(Role::Reviewer)) {
                    return Err(Refusal::MissingRole {
                        person: by.id.clone(),
                        role: Role::Supervisor,
                    });
                }
                if reason.trim().is_empty() {
                    return Err(Refusal::MissingField("reason"));
                }
                match status {
                    GrantStatus::Active | GrantStatus::Used { .. } => {
                        self.status = GrantStatus::Revoked {
                            at: now,
                            by: by.id.clone(),
                            reason: reason.clone(),
                        };
                        Ok(())
                    }
                    GrantStatus::Expired { .. } => Err(Refusal::Expired {
                        expires_at: self.grant.expires_at,
                    }),
                    GrantStatus::Revoked { .. } => Err(Refusal::Revoked),
                }
            }
            OverrideEvent::Review {
                reviewer,
                disposition,
                notes,
            } => {
                reviewer.require(Role::Reviewer)?;
                if reviewer.id == self.grant.operator
                    || reviewer.id == self.grant.supervisor
                    || self.grant.requester.as_deref() == Some(reviewer.id.as_str())
                {
                    return Err(Refusal::SelfDealing {
                        person: reviewer.id.clone(),
                        action: "review",
                    });
                }
                if self.review.is_some() {
                    return Err(Refusal::AlreadyDone("reviewed"));
                }
                if !status.is_ended() {
                    return Err(self.invalid(&ev, now));
                }
                if *disposition != Disposition::Justified && notes.trim().is_empty() {
                    return Err(Refusal::MissingField("notes"));
                }
                self.status = status;
                self.review = Some(Review {
                    reviewer: reviewer.id.clone(),
                    at: now,
                    disposition: *disposition,
                    notes: notes.clone(),
                    overdue: now > self.grant.review_due,
                });
                Ok(())
            }
            OverrideEvent::Reconcile { how } => {
                if self.reconciled.is_some() {
                    return Err(Refusal::AlreadyDone("reconciled"));
                }
                if !status.is_ended() {
                    return Err(self.invalid(&ev, now));
                }
                self.status = status;
                self.reconciled = Some((*how, now));
                Ok(())
            }
        }
    }
}
