//! Engine state to IPC views: what the screens get for a step-up and an
//! override case.

use super::*;

pub(super) fn stepup_view(e: &mut Engine, s: &StepUp) -> Result<ipc::StepupView, EngineError> {
    let ss = &s.session;
    let policy = e.policy().clone();
    let now = e.now();
    let (trigger, supervisor, grant_id, score) = match &ss.state {
        SessionState::FallbackOffered { trigger } => (Some(trigger.to_string()), None, None, None),
        SessionState::SupervisorAuthenticated {
            trigger,
            supervisor,
        } => (
            Some(trigger.to_string()),
            Some(supervisor.clone()),
            None,
            None,
        ),
        SessionState::OverrideGranted { grant_id } => (
            ss.trigger.map(|t| t.to_string()),
            ss.supervisor.as_ref().map(|(p, _)| p.id.clone()),
            Some(grant_id.clone()),
            None,
        ),
        SessionState::Succeeded { score, .. } => (None, None, None, Some(*score)),
        _ => (ss.trigger.map(|t| t.to_string()), None, None, None),
    };
    let next = ss.attempts.next_allowed_at(&policy).filter(|at| *at > now);
    Ok(ipc::StepupView {
        session_id: ss.id.clone(),
        state: (&ss.state).into(),
        requester: s.requester.clone(),
        scope: vec(&ss.requested_scope),
        requested_at_ms: ss.requested_at,
        operator: ss.operator.as_ref().map(|p| p.id.clone()),
        operator_name: ss.operator.as_ref().map(|p| p.display_name.clone()),
        attempt_no: ss.attempt_no,
        consecutive_failures: ss.attempts.consecutive_failures,
        failure_limit: policy.attempts.consecutive_failure_limit,
        next_attempt_at_ms: next,
        biometric_disabled: ss.attempts.disabled,
        trigger,
        supervisor,
        grant_id,
        score,
        attempts: attempts(e, &ss.id)?,
        now_ms: now,
    })
}

fn attempts(e: &Engine, session_id: &str) -> Result<Vec<ipc::AttemptRecord>, EngineError> {
    let f = Filter {
        case_id: Some(session_id.into()),
        kinds: vec![
            kinds::MATCH_ATTEMPT.into(),
            kinds::CAPTURE_QUALITY_FAILED.into(),
            kinds::CAPTURE_DEVICE_UNAVAILABLE.into(),
        ],
        ..Default::default()
    };
    let page = e.ledger().query(
        &f,
        &PageRequest {
            after_seq: None,
            limit: MAX_PAGE,
            newest_first: false,
        },
    )?;
    Ok(page
        .rows
        .into_iter()
        .map(|r| {
            let b = &r.body;
            let text = |k: &str| b.get(k).and_then(|v| v.as_str()).map(String::from);
            ipc::AttemptRecord {
                seq: r.seq,
                ts_ms: r.ts_ms,
                outcome: r.index.outcome.unwrap_or_default(),
                score: b.get("score").and_then(|v| v.as_f64()),
                threshold: b.get("threshold").and_then(|v| v.as_f64()),
                score_source: text("score_source"),
                detail: text("reason").or_else(|| text("detail")),
                sample: countersign_engine::sample_refs(b)
                    .into_iter()
                    .next()
                    .map(|r| r.sha256),
            }
        })
        .collect())
}

pub(super) fn override_view(e: &Engine, case: countersign_core::OverrideCase) -> ipc::OverrideView {
    let v = e.override_view(case);
    let g = &v.case.grant;
    ipc::OverrideView {
        id: g.id.clone(),
        session_id: g.session_id.clone(),
        operator: g.operator.clone(),
        supervisor: g.supervisor.clone(),
        trigger: g.trigger.to_string(),
        requested_scope: vec(&g.requested_scope),
        scope: vec(&g.scope),
        granted_at_ms: g.granted_at,
        expires_at_ms: g.expires_at,
        review_due_ms: g.review_due,
        reason_code: g.reason_code.clone(),
        note: g.note.clone(),
        ticket: g.ticket.clone(),
        compensating_control: g.compensating_control.clone(),
        status: (&v.status_now).into(),
        remaining_ms: v.remaining_ms,
        review: v.case.review.as_ref().map(|r| ipc::ReviewInfo {
            reviewer: r.reviewer.clone(),
            at_ms: r.at,
            disposition: (&r.disposition).into(),
            notes: r.notes.clone(),
            overdue: r.overdue,
        }),
        review_overdue: v.review_overdue,
        reconciled: v.case.reconciled.is_some(),
        closed: v.closed,
        now_ms: e.now(),
    }
}
