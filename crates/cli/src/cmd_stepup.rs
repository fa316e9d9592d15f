use std::collections::BTreeSet;

use anyhow::{bail, Context};
use countersign_core::SessionState;

use crate::args::{Cli, StepupArgs};

pub fn run(cli: &Cli, a: &StepupArgs) -> anyhow::Result<()> {
    if a.test_scores.is_empty()
        && !a.test_device_unavailable
        && a.test_quality_failures == 0
        && !a.face.is_set()
        && !a.finger.is_set()
    {
        bail!("no match source: pass --replay FILES_OR_DIR or --camera ID for the face matcher, or the test inputs --test-scores, --test-device-unavailable or --test-quality-failures");
    }
    let mut e = crate::open(cli)?;
    // Before anything is opened or recorded: a real kiosk takes no test
    // input, no replay and no fed fingerprints (the engine refuses them too).
    let demo_inputs = demo_inputs(a);
    if !demo_inputs.is_empty() {
        e.require_demo(&format!(
            "{} (test input or replay)",
            demo_inputs.join(", ")
        ))?;
    }
    let scope: BTreeSet<String> = a.scope.iter().cloned().collect();
    let mut s = match &a.request {
        Some(id) => {
            let s = e
                .resume_stepup(id)
                .with_context(|| format!("resuming step-up request {id}"))?;
            if !matches!(s.session.state, SessionState::Requested) {
                bail!(
                    "step-up {id} is already {}; a request runs once",
                    s.session.state.name()
                );
            }
            println!(
                "step-up {} requested by {} for {}",
                s.session.id,
                s.requester,
                s.session
                    .requested_scope
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            );
            s
        }
        None => {
            let s = e.start_stepup(scope, a.acr.clone(), &a.requester)?;
            println!(
                "step-up {} requested by {} for {}",
                s.session.id,
                a.requester,
                a.scope.join(",")
            );
            s
        }
    };
    e.identify(&mut s, &a.operator)
        .with_context(|| format!("identifying {}", a.operator))?;
    crate::attempt::drive(cli, &mut e, &mut s, a)
}

/// The flags of `stepup` that only a demo data dir accepts.
fn demo_inputs(a: &StepupArgs) -> Vec<&'static str> {
    let mut out = vec![];
    if !a.test_scores.is_empty() {
        out.push("--test-scores");
    }
    if a.test_pad.is_some() {
        out.push("--test-pad");
    }
    if a.test_device_unavailable {
        out.push("--test-device-unavailable");
    }
    if a.test_quality_failures > 0 {
        out.push("--test-quality-failures");
    }
    if !a.face.replay.is_empty() {
        out.push("--replay");
    }
    if !a.finger.finger_images.is_empty() {
        out.push("--finger-images");
    }
    out
}
