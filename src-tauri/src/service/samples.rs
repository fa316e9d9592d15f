//! Sealed samples in the window: the reviewer signs in once with two
//! factors and may then open samples from the evidence log for
//! [`countersign_engine::REVIEWER_PASS_MS`]; the supervisor deciding a
//! step-up may open that step-up's own samples. The engine checks who may
//! look and records every look; this module only keeps the reviewer's pass
//! in memory.

use super::*;

pub fn reviewer_sign_in(sh: &Shared, r: ipc::ReviewerSignIn) -> Res<ipc::ReviewerSession> {
    let pass = sh.run(|e, _| e.reviewer_sign_in(&r.reviewer, &r.secret, &r.otp))?;
    let view = session_view(&pass);
    sh.lock()?.reviewer = Some(pass);
    Ok(view)
}

/// The reviewer signed in now, if their pass has not expired.
pub fn reviewer_session(sh: &Shared) -> Res<Option<ipc::ReviewerSession>> {
    let now = sh.run(|e, _| Ok(e.now()))?;
    let mut g = sh.lock()?;
    if g.reviewer.as_ref().is_some_and(|p| now >= p.expires_ms()) {
        g.reviewer = None;
    }
    Ok(g.reviewer.as_ref().map(session_view))
}

pub fn reviewer_sign_out(sh: &Shared) -> Res<()> {
    sh.lock()?.reviewer = None;
    Ok(())
}

/// Opens a sample for the signed-in reviewer; `event_seq` is the event
/// whose detail shows it.
pub fn open_sample(sh: &Shared, sha256: &str, event_seq: Option<u64>) -> Res<ipc::SampleImage> {
    let mut g = sh.lock()?;
    let inner = &mut *g;
    let pass = inner.reviewer.clone().ok_or_else(|| {
        IpcError::new(
            codes::NOT_SIGNED_IN,
            "sign in as a reviewer with two factors to open samples",
        )
    })?;
    let engine = inner
        .engine
        .as_mut()
        .ok_or_else(|| IpcError::new(codes::INTERNAL, "engine not open"))?;
    match engine.open_sample_for_review(&pass, sha256, event_seq) {
        Ok(s) => Ok(s.into()),
        Err(e) => {
            if e.code() == "sample.pass_expired" {
                inner.reviewer = None;
            }
            Err(e.into())
        }
    }
}

/// Opens one of a step-up's own samples for the supervisor deciding it.
pub fn open_session_sample(sh: &Shared, session_id: &str, sha256: &str) -> Res<ipc::SampleImage> {
    let mut g = sh.lock()?;
    let inner = &mut *g;
    let s = inner
        .sessions
        .get(session_id)
        .ok_or_else(|| IpcError::new(codes::NO_SESSION, format!("no open step-up {session_id}")))?;
    let engine = inner
        .engine
        .as_mut()
        .ok_or_else(|| IpcError::new(codes::INTERNAL, "engine not open"))?;
    Ok(engine.open_sample_for_supervisor(s, sha256)?.into())
}

fn session_view(p: &countersign_engine::ReviewerPass) -> ipc::ReviewerSession {
    ipc::ReviewerSession {
        reviewer: p.reviewer().into(),
        display_name: p.display_name().into(),
        expires_at_ms: p.expires_ms(),
    }
}
