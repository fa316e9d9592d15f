//! The console session (issue 15): who is signed in as reviewer or admin in
//! this window. The engine makes the pass (two factors) and decides every
//! command ([`Engine::console_check`]); this module keeps the pass in
//! memory and puts the check in front of every reviewer and admin command,
//! so the window's tabs decide nothing.

use super::*;
use countersign_engine::{ConsolePass, ConsoleRole};

impl From<ipc::ConsoleRole> for ConsoleRole {
    fn from(r: ipc::ConsoleRole) -> Self {
        match r {
            ipc::ConsoleRole::Reviewer => ConsoleRole::Reviewer,
            ipc::ConsoleRole::Admin => ConsoleRole::Admin,
        }
    }
}

impl From<ConsoleRole> for ipc::ConsoleRole {
    fn from(r: ConsoleRole) -> Self {
        match r {
            ConsoleRole::Reviewer => ipc::ConsoleRole::Reviewer,
            ConsoleRole::Admin => ipc::ConsoleRole::Admin,
        }
    }
}

fn view(p: &ConsolePass, idle_minutes: u64) -> ipc::ConsoleSession {
    ipc::ConsoleSession {
        person: p.person().into(),
        display_name: p.display_name().into(),
        role: p.role().into(),
        signed_in_ms: p.signed_in_ms(),
        idle_minutes,
    }
}

impl Shared {
    /// Runs `f` for the console session if the engine lets `command`
    /// through for `need` (see [`Engine::console_check`]).
    pub(crate) fn gated<T>(
        &self,
        need: ConsoleRole,
        command: &str,
        f: impl FnOnce(&mut Engine, &ConsolePass) -> Result<T, EngineError>,
    ) -> Res<T> {
        let kiosk = self.kiosk;
        self.with_console(|engine, console| {
            engine.console_check(console, kiosk, need, command)?;
            let pass = console.clone().expect("checked above");
            f(engine, &pass)
        })
    }
}

/// Signs in to the console with two factors as a reviewer or an admin. A
/// kiosk window refuses (and records it) before any factor is checked.
pub fn console_sign_in(sh: &Shared, r: ipc::ConsoleSignIn) -> Res<ipc::ConsoleSession> {
    let kiosk = sh.kiosk;
    sh.with_console(|engine, console| {
        let role: ConsoleRole = r.role.into();
        if kiosk {
            let mut none = None;
            engine.console_check(&mut none, true, role, "console_sign_in")?;
        }
        let pass = engine.console_sign_in(&r.person, role, &r.secret, &r.otp)?;
        if let Some(old) = console.replace(pass.clone()) {
            engine.console_sign_out(&old, "signed_out")?;
        }
        Ok(view(&pass, engine.policy().console.idle_minutes))
    })
}

/// Who is signed in now; an idle session ends here too (and is recorded).
pub fn console_session(sh: &Shared) -> Res<Option<ipc::ConsoleSession>> {
    sh.with_console(|engine, console| {
        let idle = engine.policy().console.idle_minutes;
        let expired = console
            .as_ref()
            .is_some_and(|p| p.idle_for() >= std::time::Duration::from_secs(idle * 60));
        if expired {
            if let Some(p) = console.take() {
                engine.console_sign_out(&p, "idle")?;
            }
        }
        Ok(console.as_ref().map(|p| view(p, idle)))
    })
}

pub fn console_sign_out(sh: &Shared) -> Res<()> {
    sh.with_console(|engine, console| {
        if let Some(p) = console.take() {
            engine.console_sign_out(&p, "signed_out")?;
        }
        Ok(())
    })
}

/// Test support: the console session as if idle for `d` more (the idle
/// expiry runs on the monotonic clock, which a test cannot move).
#[doc(hidden)]
pub fn age_console_for_tests(sh: &Shared, d: std::time::Duration) -> Res<()> {
    sh.with_console(|_, console| {
        if let Some(p) = console.as_mut() {
            p.age_for_tests(d);
        }
        Ok(())
    })
}
