//! Sealed samples in the window: the reviewer signed in to the console
//! (service/console.rs) may open samples from the evidence log for
//! [`countersign_engine::REVIEWER_PASS_MS`]; the supervisor deciding a
//! step-up may open that step-up's own samples. The engine checks who may
//! look and records every look.

use super::*;
use countersign_engine::ConsoleRole;

/// Opens a sample for the signed-in reviewer; `event_seq` is the event
/// whose detail shows it.
pub fn open_sample(sh: &Shared, sha256: &str, event_seq: Option<u64>) -> Res<ipc::SampleImage> {
    sh.gated(ConsoleRole::Reviewer, "open_sample", |engine, pass| {
        let reviewer = pass
            .reviewer_pass()
            .expect("a reviewer console session holds a reviewer pass");
        Ok(engine
            .open_sample_for_review(reviewer, sha256, event_seq)?
            .into())
    })
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
