use anyhow::Context;
use countersign_core::{Disposition, GrantStatus, Role};
use countersign_engine::{OverrideFilter, OverrideView, ReviewInput};
use countersign_ledger::{Filter, PageRequest};

use crate::args::{Cli, OverrideCmd, ReviewArgs};
use crate::util::{fmt_time, print_json, read_secret};

fn line(v: &OverrideView) -> String {
    let g = &v.case.grant;
    let review = match &v.case.review {
        Some(r) => format!(
            "{:?} by {}{}",
            r.disposition,
            r.reviewer,
            if v.closed { ", closed" } else { "" }
        )
        .to_lowercase(),
        None if v.review_overdue => "OVERDUE".into(),
        None => format!("due {}", fmt_time(g.review_due)),
    };
    format!(
        "{:<22} {:<8} {:<10} {:<10} {:<18} {:<20} {:<16} {}",
        g.id,
        v.status_now.name(),
        g.operator,
        g.supervisor,
        g.trigger.as_str(),
        g.scope.iter().cloned().collect::<Vec<_>>().join(","),
        g.reason_code,
        review
    )
}

pub fn run(cli: &Cli, c: &OverrideCmd) -> anyhow::Result<()> {
    let mut e = crate::open(cli)?;
    match c {
        OverrideCmd::List {
            pending_review,
            active,
            operator,
            supervisor_id,
            limit,
        } => {
            let f = OverrideFilter {
                operator: operator.clone(),
                supervisor: supervisor_id.clone(),
                pending_review: *pending_review,
                active_only: *active,
            };
            let list = e.list_overrides(&f, *limit)?;
            if cli.json {
                return print_json(&list);
            }
            println!(
                "{:<22} {:<8} {:<10} {:<10} {:<18} {:<20} {:<16} REVIEW",
                "ID", "STATUS", "OPERATOR", "SUPERVISOR", "TRIGGER", "SCOPE", "REASON"
            );
            for v in &list {
                println!("{}", line(v));
            }
            println!("{} override(s)", list.len());
        }
        OverrideCmd::Show { id } => {
            let v = e.override_view(e.load_case(id)?);
            let trail = e.ledger().query(
                &Filter {
                    case_id: Some(id.clone()),
                    ..Default::default()
                },
                &PageRequest {
                    after_seq: None,
                    limit: 1000,
                    newest_first: false,
                },
            )?;
            print_json(&serde_json::json!({ "override": v, "events": trail.rows }))?;
        }
        OverrideCmd::Grant { session, fallback } => {
            let mut s = e.resume_stepup(session)?;
            return crate::attempt::grant_and_report(cli, &mut e, &mut s, fallback);
        }
        OverrideCmd::Revoke {
            id,
            by,
            role,
            otp,
            reason,
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let secret = read_secret(by)?;
            let v = e
                .revoke_override(id, by, role, &secret, otp, reason)
                .with_context(|| format!("revoking {id}"))?;
            if let GrantStatus::Revoked { at, .. } = v.status_now {
                println!("override {id} revoked by {by} at {}", fmt_time(at));
            }
        }
        OverrideCmd::ExpireDue => {
            // `open` already swept; report what is live now.
            let live = e.list_overrides(
                &OverrideFilter {
                    active_only: true,
                    ..Default::default()
                },
                usize::MAX,
            )?;
            println!("{} override(s) live", live.len());
        }
    }
    Ok(())
}

pub fn review(cli: &Cli, a: &ReviewArgs) -> anyhow::Result<()> {
    let mut e = crate::open(cli)?;
    let disposition: Disposition = a.disposition.parse().map_err(anyhow::Error::msg)?;
    let secret = read_secret(&a.reviewer)?;
    let v = e
        .review_override(
            &a.id,
            ReviewInput {
                reviewer: &a.reviewer,
                secret: &secret,
                otp: &a.otp,
                disposition,
                notes: &a.notes,
            },
        )
        .with_context(|| format!("reviewing {}", a.id))?;
    if cli.json {
        return print_json(&v);
    }
    println!(
        "override {} reviewed by {}: {}{}",
        a.id,
        a.reviewer,
        a.disposition,
        if v.closed {
            " (closed)"
        } else {
            " (open until the operator's primary control is restored)"
        }
    );
    Ok(())
}
