//! The console's sign-in (issue 15): reviewers and admins work from a
//! console, signed in with two factors, never from the kiosk's open screen.
//!
//! A [`ConsolePass`] is made only here, by a two-factor sign-in for one
//! role. The app's Rust side keeps it in memory and passes it to
//! [`Engine::console_check`] before every reviewer or admin command; the
//! check, not the window, decides. A command is refused, and the refusal
//! recorded (`console.refused`), when:
//! - the window is a kiosk (`console.kiosk_mode`): the kiosk is the
//!   operator's and the supervisor's, whoever signs in;
//! - nobody is signed in (`console.no_session`);
//! - the pass was idle longer than the policy's `[console] idle_minutes`
//!   (`console.expired`), measured on the monotonic clock, so a wall clock
//!   set back does not keep a session alive;
//! - the pass is for the other role (`console.wrong_role`);
//! - the person no longer holds the role, or is locked
//!   (`console.role_changed`), read from the verified registry each time.
//!
//! Expiry and a role change end the session (the check clears it); so does
//! signing out. Each end is recorded (`console.signed_out`, with why).

use crate::Code;
use std::time::{Duration, Instant};

use countersign_core::{Ms, Role};
use serde_json::json;

use crate::evidence::{kinds, Ev};
use crate::{AdminPass, Engine, EngineError, ReviewerPass};

/// The role a console session acts in: one at a time, even for a person
/// who holds both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    Reviewer,
    Admin,
}

impl ConsoleRole {
    pub fn role(self) -> Role {
        match self {
            ConsoleRole::Reviewer => Role::Reviewer,
            ConsoleRole::Admin => Role::Admin,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::Reviewer => "reviewer",
            ConsoleRole::Admin => "admin",
        }
    }
}

/// Proof of a two-factor console sign-in. Only the engine makes one.
#[derive(Debug, Clone)]
pub struct ConsolePass {
    person: String,
    display_name: String,
    role: ConsoleRole,
    signed_in_ms: Ms,
    last_active: Instant,
    reviewer: Option<ReviewerPass>,
    admin: Option<AdminPass>,
}

impl ConsolePass {
    pub fn person(&self) -> &str {
        &self.person
    }
    pub fn display_name(&self) -> &str {
        &self.display_name
    }
    pub fn role(&self) -> ConsoleRole {
        self.role
    }
    pub fn signed_in_ms(&self) -> Ms {
        self.signed_in_ms
    }
    /// How long this pass has been idle (monotonic).
    pub fn idle_for(&self) -> Duration {
        self.last_active.elapsed()
    }
    /// The reviewer's pass (samples), for a reviewer session.
    pub fn reviewer_pass(&self) -> Option<&ReviewerPass> {
        self.reviewer.as_ref()
    }
    /// The admin's pass (registry acts), for an admin session.
    pub fn admin_pass(&self) -> Option<&AdminPass> {
        self.admin.as_ref()
    }
    /// Test support: the pass as if idle for `d` more.
    #[doc(hidden)]
    pub fn age_for_tests(&mut self, d: Duration) {
        self.last_active = self.last_active.checked_sub(d).unwrap_or(self.last_active);
    }
}

/// Stable codes of the console's refusals.
pub mod codes {
    pub const KIOSK_MODE: crate::Code = crate::Code::ConsoleKioskMode;
    pub const NO_SESSION: crate::Code = crate::Code::ConsoleNoSession;
    pub const EXPIRED: crate::Code = crate::Code::ConsoleExpired;
    pub const WRONG_ROLE: crate::Code = crate::Code::ConsoleWrongRole;
    pub const ROLE_CHANGED: crate::Code = crate::Code::ConsoleRoleChanged;
    /// An act named for someone other than the signed-in person.
    pub const WRONG_PERSON: crate::Code = crate::Code::ConsoleWrongPerson;
}

impl Engine {
    /// Two-factor sign-in to the console as `role` (a `supervisor.auth`
    /// event for the factors, lockout as for any authentication, then
    /// `console.signed_in`).
    pub fn console_sign_in(
        &mut self,
        id: &str,
        role: ConsoleRole,
        secret: &str,
        otp: &str,
    ) -> Result<ConsolePass, EngineError> {
        let (reviewer, admin) = match role {
            ConsoleRole::Reviewer => (Some(self.reviewer_sign_in(id, secret, otp)?), None),
            ConsoleRole::Admin => (
                None,
                Some(self.admin_sign_in(id, secret, otp, "console sign-in")?),
            ),
        };
        let person = self.person(id)?;
        let now = self.now();
        let idle_minutes = self.policy.console.idle_minutes;
        self.ledger.append(
            &Ev::new(
                kinds::CONSOLE_SIGNED_IN,
                now,
                json!({ "person": person.id, "role": role.as_str(), "idle_minutes": idle_minutes }),
            )
            .person(&person.id)
            .outcome("signed_in")
            .build(),
        )?;
        Ok(ConsolePass {
            person: person.id,
            display_name: person.display_name,
            role,
            signed_in_ms: now,
            last_active: Instant::now(),
            reviewer,
            admin,
        })
    }

    /// Ends a session (`why`: `signed_out`, `idle`, `role_changed`) and
    /// records it.
    pub fn console_sign_out(&mut self, pass: &ConsolePass, why: &str) -> Result<(), EngineError> {
        let now = self.now();
        self.ledger.append(
            &Ev::new(
                kinds::CONSOLE_SIGNED_OUT,
                now,
                json!({ "person": pass.person, "role": pass.role.as_str(), "why": why }),
            )
            .person(&pass.person)
            .outcome(why)
            .build(),
        )?;
        Ok(())
    }

    /// The console's gate: may the holder of `session` run `command`, which
    /// needs `need`? On success the session's idle timer restarts. On a
    /// refusal the refusal is recorded, an expired or outdated session is
    /// cleared (and its end recorded), and the error carries the stable
    /// code ([`codes`]).
    pub fn console_check(
        &mut self,
        session: &mut Option<ConsolePass>,
        kiosk: bool,
        need: ConsoleRole,
        command: &str,
    ) -> Result<(), EngineError> {
        let refusal = self.console_refusal(session, kiosk, need)?;
        let Some((code, message)) = refusal else {
            if let Some(p) = session.as_mut() {
                p.last_active = Instant::now();
            }
            return Ok(());
        };
        if matches!(code, codes::EXPIRED | codes::ROLE_CHANGED) {
            if let Some(p) = session.take() {
                let why = if code == codes::EXPIRED {
                    "idle"
                } else {
                    "role_changed"
                };
                self.console_sign_out(&p, why)?;
            }
        }
        Err(self.record_console_refusal(session.as_ref(), kiosk, need, command, code, message)?)
    }

    /// Refuses (and records) an act of a console session named for
    /// `named`, someone else than the signed-in person
    /// ([`codes::WRONG_PERSON`]): a session's acts are its person's.
    pub fn console_refuse_other_person(
        &mut self,
        pass: &ConsolePass,
        command: &str,
        named: &str,
    ) -> Result<EngineError, EngineError> {
        let message = format!(
            "signed in as {}: this session cannot act as {named}",
            pass.person
        );
        self.record_console_refusal(
            Some(pass),
            false,
            pass.role,
            command,
            codes::WRONG_PERSON,
            message,
        )
    }

    fn record_console_refusal(
        &mut self,
        holder: Option<&ConsolePass>,
        kiosk: bool,
        need: ConsoleRole,
        command: &str,
        code: Code,
        message: String,
    ) -> Result<EngineError, EngineError> {
        let now = self.now();
        let mut ev = Ev::new(
            kinds::CONSOLE_REFUSED,
            now,
            json!({
                "command": command,
                "needs": need.as_str(),
                "code": code,
                "person": holder.map(|p| p.person.clone()),
                "role": holder.map(|p| p.role.as_str()),
                "kiosk_mode": kiosk,
            }),
        )
        .outcome("refused");
        if let Some(p) = holder {
            ev = ev.person(&p.person);
        }
        self.ledger.append(&ev.build())?;
        Ok(EngineError::Console { code, message })
    }

    fn console_refusal(
        &mut self,
        session: &Option<ConsolePass>,
        kiosk: bool,
        need: ConsoleRole,
    ) -> Result<Option<(Code, String)>, EngineError> {
        if kiosk {
            return Ok(Some((
                codes::KIOSK_MODE,
                format!(
                    "the kiosk does not open {} screens: use the console (countersign-app --console)",
                    need.as_str()
                ),
            )));
        }
        let Some(p) = session else {
            return Ok(Some((
                codes::NO_SESSION,
                format!("sign in as {} with two factors first", need.as_str()),
            )));
        };
        let idle = Duration::from_secs(self.policy.console.idle_minutes * 60);
        if p.idle_for() >= idle {
            return Ok(Some((
                codes::EXPIRED,
                format!(
                    "the console session was idle for more than {} minutes: sign in again",
                    self.policy.console.idle_minutes
                ),
            )));
        }
        if p.role != need {
            return Ok(Some((
                codes::WRONG_ROLE,
                format!(
                    "signed in as {}, this needs {}",
                    p.role.as_str(),
                    need.as_str()
                ),
            )));
        }
        let still = match self.record(&p.person) {
            Ok(rec) => !rec.locked && rec.roles.iter().any(|r| r == need.as_str()),
            Err(EngineError::UnknownPerson(_)) => false,
            Err(e) => return Err(e),
        };
        if !still {
            return Ok(Some((
                codes::ROLE_CHANGED,
                format!(
                    "{} no longer holds the {} role or is locked: the session ended",
                    p.person,
                    need.as_str()
                ),
            )));
        }
        Ok(None)
    }
}
