//! Rebuilding a step-up from the ledger alone (`resume_stepup`): every
//! decision is replayed from its events, as invariant 1 promises.

use super::*;

impl Engine {
    /// Rebuilds a step-up from its events, so a later process (the
    /// supervisor's `countersign override grant --session`) can continue it.
    /// The replay runs through the same core transitions at the recorded
    /// times. A supervisor's earlier authentication is not carried over: the
    /// resumed session waits for fresh factors.
    pub fn resume_stepup(&mut self, session_id: &str) -> Result<StepUp, EngineError> {
        let f = countersign_ledger::Filter {
            case_id: Some(session_id.into()),
            ..Default::default()
        };
        let rows = self.ledger.all(&f)?;
        let bad = |what: &str| {
            EngineError::Invalid(format!("cannot resume step-up {session_id}: {what}"))
        };
        let first = rows
            .iter()
            .find(|r| r.kind == kinds::STEPUP_REQUESTED)
            .ok_or_else(|| bad("no such session"))?;
        let scope: BTreeSet<String> = serde_json::from_value(first.body["scope"].clone())
            .map_err(|_| bad("malformed request"))?;
        let acr: Vec<String> =
            serde_json::from_value(first.body["acr_values"].clone()).unwrap_or_default();
        let mut session =
            Session::request(&self.policy, session_id.into(), scope, acr, first.ts_ms)?;
        // The person's regime as each live transition read it: the newest
        // regime event before it (see `apply`), from this session or another.
        let mut regimes: Option<Vec<(u64, AttemptState)>> = None;
        for r in &rows {
            let b = &r.body;
            let counts = matches!(
                r.kind.as_str(),
                kinds::STEPUP_INTENT
                    | kinds::CAPTURE_STARTED
                    | kinds::CAPTURE_DEVICE_UNAVAILABLE
                    | kinds::CAPTURE_QUALITY_FAILED
            ) || (r.kind == kinds::MATCH_ATTEMPT && b.get("score").is_some());
            if let (true, Some(op)) = (counts, session.operator.as_ref().map(|p| p.id.clone())) {
                if regimes.is_none() {
                    let f = countersign_ledger::Filter {
                        from_ms: Some(first.ts_ms),
                        ..regime_filter(&op)
                    };
                    regimes = Some(
                        self.ledger
                            .all(&f)?
                            .iter()
                            .map(|row| (row.seq, regime_of(Some(row))))
                            .collect(),
                    );
                }
                if let Some((_, fresh)) = regimes
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .find(|(seq, _)| *seq < r.seq)
                {
                    session.refresh_attempts(fresh.clone());
                }
            }
            let s = |k: &str| b[k].as_str().unwrap_or_default().to_string();
            let ev = match r.kind.as_str() {
                kinds::STEPUP_IDENTIFIED if b.get("stage").is_none() => {
                    let attempts: AttemptState =
                        serde_json::from_value(b["regime"].clone()).unwrap_or_default();
                    SessionEvent::Identify {
                        operator: self.person(&s("operator"))?,
                        attempts,
                    }
                }
                kinds::STEPUP_INTENT => SessionEvent::Intent,
                kinds::CAPTURE_STARTED => SessionEvent::CaptureStarted {
                    device: s("device"),
                },
                kinds::CAPTURE_DEVICE_UNAVAILABLE => SessionEvent::DeviceUnavailable {
                    device: s("device"),
                    detail: s("detail"),
                },
                kinds::CAPTURE_QUALITY_FAILED => SessionEvent::QualityFailure {
                    reason: s("reason"),
                },
                kinds::MATCH_ATTEMPT if b.get("score").is_some() => SessionEvent::Match {
                    modality: serde_json::from_value(b["modality"].clone())
                        .map_err(|_| bad("malformed attempt"))?,
                    score: b["score"].as_f64().unwrap_or(f64::NAN),
                    pad_passed: b["pad_passed"].as_bool(),
                },
                kinds::STEPUP_CANCELLED => SessionEvent::Cancel {
                    reason: s("reason"),
                },
                _ => continue,
            };
            session
                .apply(&self.policy, ev, r.ts_ms)
                .map_err(|e| bad(&format!("replay refused at seq {}: {e}", r.seq)))?;
        }
        if let Some(op) = session.operator.as_ref().map(|p| p.id.clone()) {
            let g = countersign_ledger::Filter {
                kinds: vec![kinds::OVERRIDE_GRANTED.into()],
                person: Some(op),
                from_ms: Some(first.ts_ms),
                ..Default::default()
            };
            if let Some(row) = self
                .ledger
                .all(&g)?
                .iter()
                .find(|r| r.body["session_id"].as_str() == Some(session_id))
            {
                session.state = SessionState::OverrideGranted {
                    grant_id: row.body["id"].as_str().unwrap_or_default().into(),
                };
            }
        }
        Ok(StepUp {
            session,
            requester: first.body["requester"].as_str().unwrap_or_default().into(),
        })
    }
}
