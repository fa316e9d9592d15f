//! The one attempt driver of `stepup`: the attempts from the face matcher,
//! the fingerprint reader or test input, then what every step-up ends with
//! (a supervisor's grant when asked, and the report). `stepup` and
//! `override grant` call it; it calls the face and finger attempt loops,
//! which call no command module back (they used to call `cmd_stepup` for
//! the ending, which called them: a cycle).

use std::collections::BTreeSet;

use anyhow::{bail, Context};
use countersign_core::session::{GrantRequest, Modality, SessionEvent};
use countersign_core::SessionState;
use countersign_engine::{Engine, StepUp, StepUpOutcome};

use crate::args::{Cli, StepupArgs, SupervisorArgs};
use crate::util::{fmt_time, parse_duration, print_json, read_secret};

/// Exit status when the step-up ended without success or grant (fallback
/// offered, throttled, cancelled): distinct from errors (1) and usage (2).
pub const EXIT_NOT_COMPLETED: i32 = 3;

/// The attempts of an identified step-up, from whichever source `a` names,
/// then the grant (with `--supervisor`) or the fallback hint, and the report.
pub fn drive(cli: &Cli, e: &mut Engine, s: &mut StepUp, a: &StepupArgs) -> anyhow::Result<()> {
    if a.finger.is_set() {
        crate::cmd_finger::attempts(e, s, &a.finger, a.face.attempts)?;
    } else if a.face.is_set() {
        crate::cmd_face::attempts(e, s, &a.face)?;
    } else {
        test_input(e, s, a)?;
    }
    if let SessionState::FallbackOffered { trigger } = &s.session.state {
        println!("fallback offered: {trigger}");
        if a.fallback.supervisor.is_some() {
            return grant_and_report(cli, e, s, &a.fallback);
        }
        println!("a supervisor may grant an override: countersign override grant --session {} --supervisor ID --otp CODE --reason CODE --note TEXT --control TEXT", s.session.id);
    }
    report(cli, e, s)
}

/// The attempts of `stepup --test-scores` and the other test inputs (a demo
/// data dir only; `cmd_stepup` refuses them elsewhere before anything runs).
fn test_input(e: &mut Engine, s: &mut StepUp, a: &StepupArgs) -> anyhow::Result<()> {
    let modality = if a.modality == "finger" {
        Modality::Finger
    } else {
        Modality::Face
    };
    let pad = a.test_pad.as_deref().map(|p| p == "pass");
    let mut quality_left = a.test_quality_failures;
    let mut scores = a.test_scores.iter();
    while !is_done(s) {
        let more = quality_left > 0 || a.test_device_unavailable || scores.len() > 0;
        if !more {
            break;
        }
        // The explicit act of intent ("Verify me"), once per attempt.
        if let Err(err) = e.apply(s, SessionEvent::Intent) {
            println!("attempt refused: {err}");
            break;
        }
        if a.test_device_unavailable {
            e.apply(
                s,
                SessionEvent::DeviceUnavailable {
                    device: a.device.clone(),
                    detail: "test input: device unavailable".into(),
                },
            )?;
            break;
        }
        e.apply(
            s,
            SessionEvent::CaptureStarted {
                device: a.device.clone(),
            },
        )?;
        if quality_left > 0 {
            quality_left -= 1;
            e.apply(
                s,
                SessionEvent::QualityFailure {
                    reason: "test input: quality gate failed".into(),
                },
            )?;
            println!("capture rejected by the quality gates");
            continue;
        }
        let score = *scores.next().expect("checked above");
        e.apply(
            s,
            SessionEvent::Match {
                modality,
                score,
                pad_passed: pad,
            },
        )?;
        let matched = matches!(s.session.state, SessionState::Succeeded { .. });
        println!(
            "attempt {}: score {score:.3} vs threshold {:.3}: {}",
            s.session.attempt_no,
            threshold(e, modality),
            if matched { "match" } else { "no match" }
        );
    }
    Ok(())
}

/// A fallback offer does not end the attempts: the operator may retry the
/// primary path once the throttle wait is over (the core allows Intent from
/// FallbackOffered), so remaining test inputs are still tried.
fn is_done(s: &StepUp) -> bool {
    matches!(
        s.session.state,
        SessionState::Succeeded { .. } | SessionState::Cancelled { .. }
    )
}

fn threshold(e: &Engine, m: Modality) -> f64 {
    match m {
        Modality::Face => e.policy().matching.face_threshold,
        Modality::Finger => e.policy().matching.finger_decision_threshold(),
    }
}

/// Supervisor authenticates (two factors) and grants; shared with `override grant`.
pub fn grant_and_report(
    cli: &Cli,
    e: &mut Engine,
    s: &mut StepUp,
    f: &SupervisorArgs,
) -> anyhow::Result<()> {
    let sup = f
        .supervisor
        .as_deref()
        .context("--supervisor is required to grant")?;
    let otp = f
        .otp
        .as_deref()
        .context("--otp (the supervisor's current TOTP code) is required")?;
    let reason = match &f.reason {
        Some(r) => r.clone(),
        None => bail!(
            "--reason is required; the policy's reason codes: {}",
            e.policy()
                .reason_codes
                .iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let note = f
        .note
        .clone()
        .context("--note is required: say what happened")?;
    let control = f.control.clone().context(
        "--control is required: the compensating control in place while the override lasts",
    )?;
    let duration_ms = f.duration.as_deref().map(parse_duration).transpose()?;
    let scope: BTreeSet<String> = if f.grant_scope.is_empty() {
        s.session.requested_scope.clone()
    } else {
        f.grant_scope.iter().cloned().collect()
    };
    let req = GrantRequest {
        grant_id: String::new(),
        scope,
        duration_ms,
        reason_code: reason,
        note,
        ticket: f.ticket.clone(),
        compensating_control: control,
    };
    e.preflight_grant(s, sup, &req)
        .context("checking the override request")?;
    let secret = read_secret(sup)?;
    e.supervisor_login(s, sup, &secret, otp)
        .with_context(|| format!("authenticating supervisor {sup}"))?;
    let g = e.grant(s, req).context("granting the override")?;
    if cli.json {
        return print_json(&StepUpOutcome::OverrideGranted {
            session_id: s.session.id.clone(),
            grant: Box::new(g),
        });
    }
    println!(
        "override {} granted by {} to {} for {} until {} (review due {})",
        g.id,
        g.supervisor,
        g.operator,
        g.scope.iter().cloned().collect::<Vec<_>>().join(","),
        fmt_time(g.expires_at),
        fmt_time(g.review_due)
    );
    Ok(())
}

pub(crate) fn report(cli: &Cli, e: &Engine, s: &StepUp) -> anyhow::Result<()> {
    let out = e.outcome(s);
    if cli.json {
        print_json(&out)?;
    } else if let StepUpOutcome::Succeeded {
        operator, score, ..
    } = &out
    {
        println!(
            "step-up {} succeeded: {operator} matched with score {score:.3}",
            s.session.id
        );
    } else {
        println!(
            "step-up {} not completed: {}",
            s.session.id,
            s.session.state.name()
        );
    }
    if !matches!(out, StepUpOutcome::Succeeded { .. }) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::exit(EXIT_NOT_COMPLETED);
    }
    Ok(())
}
