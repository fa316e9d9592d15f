//! The reviewer's commands: reviews, the evidence log, the chain's
//! verification and exports. Each passes the console's gate first
//! (service/console.rs); the `_ungated` halves are for this module's
//! callers' tests, which read the evidence without a reviewer.

use super::*;

pub fn review_override(sh: &Shared, r: ipc::ReviewSubmission) -> Res<ipc::OverrideView> {
    let disposition: Disposition = r.disposition.into();
    sh.gated(ConsoleRole::Reviewer, "review_override", |e, pass| {
        // The session's reviews are its person's (who still confirms with
        // their factors).
        if pass.person() != r.reviewer {
            return Err(e.console_refuse_other_person(pass, "review_override", &r.reviewer)?);
        }
        let v = e.review_override(
            &r.grant_id,
            ReviewInput {
                reviewer: &r.reviewer,
                secret: &r.secret,
                otp: &r.otp,
                disposition,
                notes: &r.notes,
            },
        )?;
        Ok(override_view(e, v.case))
    })
}

fn to_filter(q: &ipc::EventQuery) -> Filter {
    Filter {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        kinds: q.kinds.clone(),
        person: non_empty(&q.person),
        supervisor: non_empty(&q.supervisor),
        outcome: non_empty(&q.outcome),
        trigger: non_empty(&q.trigger),
        case_id: non_empty(&q.case_id),
        ..Default::default()
    }
}

pub fn query_events(sh: &Shared, q: ipc::EventQuery) -> Res<ipc::EventPage> {
    sh.require(ConsoleRole::Reviewer, "query_events")?;
    query_events_ungated(sh, q)
}

/// [`query_events`] behind the console's gate (and for this module's tests).
pub(super) fn query_events_ungated(sh: &Shared, q: ipc::EventQuery) -> Res<ipc::EventPage> {
    sh.run(|e, _| {
        let page = e.ledger().query(
            &to_filter(&q),
            &PageRequest {
                after_seq: q.after_seq,
                limit: q.limit.clamp(1, MAX_PAGE),
                newest_first: q.newest_first,
            },
        )?;
        Ok(ipc::EventPage {
            rows: page
                .rows
                .into_iter()
                .map(|r| ipc::EventRow {
                    seq: r.seq,
                    ts_ms: r.ts_ms,
                    kind: r.kind,
                    person: r.index.person,
                    supervisor: r.index.supervisor,
                    outcome: r.index.outcome,
                    trigger: r.index.trigger,
                    case_id: r.index.case_id,
                    samples: countersign_engine::sample_refs(&r.body)
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                    body: r.body,
                    hash_hex: r.hash_hex,
                })
                .collect(),
            next_after: page.next_after,
        })
    })
}

pub fn verify_ledger(sh: &Shared) -> Res<ipc::VerifyStatus> {
    sh.require(ConsoleRole::Reviewer, "verify_ledger")?;
    verify_ledger_ungated(sh)
}

/// [`verify_ledger`] behind the console's gate (and for this module's tests).
pub(super) fn verify_ledger_ungated(sh: &Shared) -> Res<ipc::VerifyStatus> {
    sh.run(|e, _| {
        let r = e.ledger().verify()?;
        Ok(ipc::VerifyStatus {
            ok: r.problems.is_empty(),
            events: r.events,
            checkpoints: r.checkpoints,
            problem_count: r.problems.len() as u32,
            first_problem: r.problems.first().map(|p| {
                let at = p.seq.map(|s| format!("seq {s}")).unwrap_or("ledger".into());
                format!("{at}: {:?}: {}", p.what, p.detail)
            }),
            checked_at_ms: e.now(),
        })
    })
}

/// Writes the matching events to `<data dir>/exports/` (whole file or nothing).
pub fn export_events(sh: &Shared, r: ipc::ExportRequest) -> Res<ipc::ExportResult> {
    sh.require(ConsoleRole::Reviewer, "export_events")?;
    export_events_ungated(sh, r)
}

/// [`export_events`] behind the console's gate (and for this module's tests).
pub(super) fn export_events_ungated(sh: &Shared, r: ipc::ExportRequest) -> Res<ipc::ExportResult> {
    let ext = match r.format.as_str() {
        "jsonl" => "jsonl",
        "ocsf" => "ocsf.jsonl",
        other => {
            return Err(EngineError::Invalid(format!(
                "export format {other:?}: expected jsonl or ocsf"
            ))
            .into())
        }
    };
    let dir = sh.data_dir.join("exports");
    sh.run(|e, _| {
        let io = |what: &'static str, p: &std::path::Path| {
            let p = p.to_path_buf();
            move |source| EngineError::Io {
                context: what,
                path: p,
                source,
            }
        };
        std::fs::create_dir_all(&dir).map_err(io("creating the export dir", &dir))?;
        let path = dir.join(format!("evidence-{}.{ext}", e.now()));
        let tmp = path.with_extension("partial");
        let file = std::fs::File::create(&tmp).map_err(io("creating the export", &tmp))?;
        let mut w = std::io::BufWriter::new(file);
        let f = to_filter(&r.query);
        let n = if r.format == "ocsf" {
            e.ledger().export_ocsf(&f, &mut w)?
        } else {
            e.ledger().export_jsonl(&f, &mut w)?
        };
        let file = w
            .into_inner()
            .map_err(|err| io("writing the export", &tmp)(err.into_error()))?;
        file.sync_all().map_err(io("writing the export", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("moving the export", &path))?;
        Ok(ipc::ExportResult {
            path: path.display().to_string(),
            count: n,
        })
    })
}
