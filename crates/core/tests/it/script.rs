//! A tiny script language for the session and override machines.
//!
//! One command per line; `#` starts a comment. Time starts at T0 and moves
//! only with `+<n>s` / `+<n>m` lines. Commands:
//! `request <scope,...>`, `identify <person>`, `intent`, `capture <device>`,
//! `unavailable <device>`, `quality <reason>`, `match face|finger <score> [pad=ok|fail]`,
//! `supervisor <person>`, `grant <scope,...> <minutes|default|none> <reason> [ticket]`,
//! `cancel`, and for the granted override: `use <scope>`, `expire`,
//! `revoke <person>`, `extend <person>`, `review <person> <disposition> [notes]`,
//! `reconcile primary|reenroll`, `status`.
//! Prefixes: `policy pad` turns PAD on; `failures <n>` preloads the operator's regime.
//! `refresh <n>` hands the session the person's regime as the engine reads
//! it from the ledger: `n` failures, the last one now (other sessions').

use std::collections::BTreeSet;
use std::fmt::Write;

use countersign_core::attempts::AttemptState;
use countersign_core::auth::Authenticated;
use countersign_core::session::{Effect, GrantRequest, Modality, SessionEvent};
use countersign_core::{
    Disposition, OverrideCase, OverrideEvent, Person, Policy, Reconciliation, Role, Session,
};

pub const T0: i64 = 1_800_000_000_000;

fn person(id: &str) -> Person {
    use Role::*;
    let roles: &[Role] = match id {
        "olga" => &[Operator],
        "otto" => &[Operator],
        "sam" => &[Supervisor],
        "max" => &[Operator, Supervisor, Reviewer],
        "rita" => &[Reviewer],
        "ada" => &[Admin],
        _ => &[],
    };
    Person::new(id, id, roles.iter().copied())
}

fn scopes(s: &str) -> BTreeSet<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}

pub fn run(script: &str) -> String {
    let mut policy = Policy::default_policy();
    let mut now = T0;
    let mut preload = AttemptState::default();
    let mut session: Option<Session> = None;
    let mut case: Option<OverrideCase> = None;
    let mut out = String::new();
    for raw in script.lines() {
        let line = raw.split('#').next().unwrap().trim();
        if line.is_empty() {
            continue;
        }
        let w: Vec<&str> = line.split_whitespace().collect();
        if let Some(d) = line.strip_prefix('+') {
            let (n, unit) = d.split_at(d.len() - 1);
            let n: i64 = n.parse().unwrap();
            now += n * if unit == "m" { 60_000 } else { 1000 };
            writeln!(out, "~ {line}").unwrap();
            continue;
        }
        writeln!(out, "> {line}").unwrap();
        let result: Result<String, String> = match w[0] {
            "policy" if w[1] == "pad" => {
                policy.attempts.pad_enabled = true;
                Ok("pad on".into())
            }
            "policy" if w[1] == "only" => {
                policy.fallback.triggers = w[2..]
                    .iter()
                    .map(|t| serde_json::from_str(&format!("\"{t}\"")).unwrap())
                    .collect();
                Ok(format!("triggers {:?}", w[2..].to_vec()))
            }
            "failures" => {
                for _ in 0..w[1].parse::<u32>().unwrap() {
                    preload.record_failure(&policy, now - 3_600_000);
                }
                Ok(format!(
                    "regime {} failures, disabled={}",
                    preload.consecutive_failures, preload.disabled
                ))
            }
            "refresh" => {
                let s = session.as_mut().expect("script: request first");
                let mut st = AttemptState::default();
                for _ in 0..w[1].parse::<u32>().unwrap() {
                    st.record_failure(&policy, now);
                }
                s.refresh_attempts(st);
                Ok(format!(
                    "regime refreshed: {} failures",
                    s.attempts.consecutive_failures
                ))
            }
            "request" => {
                Session::request(&policy, "s1".into(), scopes(w[1]), vec!["phr".into()], now)
                    .map(|s| {
                        session = Some(s);
                        "requested".into()
                    })
                    .map_err(|e| format!("{}: {e}", e.code()))
            }
            "use" | "expire" | "revoke" | "extend" | "review" | "reconcile" | "status" => {
                let c = case.as_mut().expect("script: no override granted yet");
                let ev = match w[0] {
                    "use" => Some(OverrideEvent::Use { scope: w[1].into() }),
                    "expire" => Some(OverrideEvent::Expire),
                    "revoke" => Some(OverrideEvent::Revoke {
                        by: person(w[1]),
                        reason: "operator left the desk".into(),
                    }),
                    "extend" => Some(OverrideEvent::Extend {
                        by: person(w[1]),
                        extra_ms: 600_000,
                    }),
                    "review" => Some(OverrideEvent::Review {
                        reviewer: person(w[1]),
                        disposition: w[2].parse::<Disposition>().unwrap(),
                        notes: w.get(3..).map(|n| n.join(" ")).unwrap_or_default(),
                    }),
                    "reconcile" => Some(OverrideEvent::Reconcile {
                        how: if w[1] == "primary" {
                            Reconciliation::PrimaryMatch
                        } else {
                            Reconciliation::ReEnrollment
                        },
                    }),
                    _ => None,
                };
                match ev {
                    None => Ok(String::new()),
                    Some(ev) => c
                        .apply(ev, now)
                        .map(|()| String::new())
                        .map_err(|e| format!("{}: {e}", e.code())),
                }
                .map(|_| {
                    format!(
                        "override {} reviewed={} reconciled={} closed={} overdue={}",
                        c.status_at(now).name(),
                        c.review
                            .as_ref()
                            .map(|r| format!("{:?}", r.disposition))
                            .unwrap_or("no".into()),
                        c.reconciled
                            .map(|r| format!("{:?}", r.0))
                            .unwrap_or("no".into()),
                        c.is_closed(),
                        c.review_overdue(now)
                    )
                })
            }
            _ => {
                let s = session.as_mut().expect("script: request first");
                let ev = match w[0] {
                    "identify" => SessionEvent::Identify {
                        operator: person(w[1]),
                        attempts: preload.clone(),
                    },
                    "intent" => SessionEvent::Intent,
                    "capture" => SessionEvent::CaptureStarted {
                        device: w[1].into(),
                    },
                    "unavailable" => SessionEvent::DeviceUnavailable {
                        device: w[1].into(),
                        detail: "unplugged".into(),
                    },
                    "quality" => SessionEvent::QualityFailure {
                        reason: w[1..].join(" "),
                    },
                    "match" => SessionEvent::Match {
                        modality: if w[1] == "face" {
                            Modality::Face
                        } else {
                            Modality::Finger
                        },
                        score: w[2].parse().unwrap(),
                        pad_passed: w.get(3).map(|p| *p == "pad=ok"),
                    },
                    "supervisor" => SessionEvent::SupervisorAuthenticated {
                        supervisor: person(w[1]),
                        auth: Authenticated {
                            supervisor: w[1].into(),
                            amr: if w.get(2) == Some(&"1fa") {
                                vec!["pwd".into()]
                            } else {
                                vec!["pwd".into(), "otp".into(), "mfa".into()]
                            },
                            at: now,
                            totp_step: 1,
                        },
                    },
                    "grant" => SessionEvent::GrantOverride(GrantRequest {
                        grant_id: "g1".into(),
                        scope: scopes(w[1]),
                        duration_ms: match w[2] {
                            "default" => None,
                            "none" => Some(0),
                            m => Some(m.parse::<i64>().unwrap() * 60_000),
                        },
                        reason_code: w[3].into(),
                        note: "reader unplugged during shift".into(),
                        ticket: w.get(4).map(|t| t.to_string()),
                        compensating_control: "second person watches the action".into(),
                    }),
                    "cancel" => SessionEvent::Cancel {
                        reason: "operator walked away".into(),
                    },
                    other => panic!("script: unknown command {other}"),
                };
                s.apply(&policy, ev, now)
                    .map(|fx| {
                        let mut line = s.state.name().to_string();
                        for e in fx {
                            line.push_str(" | ");
                            line.push_str(&describe(&e));
                            if let Effect::Granted(g) = e {
                                case = Some(OverrideCase::new(*g));
                            }
                        }
                        line
                    })
                    .map_err(|e| format!("{}: {e}", e.code()))
            }
        };
        match result {
            Ok(s) => writeln!(out, "  ok: {s}").unwrap(),
            Err(e) => writeln!(out, "  REFUSED {e}").unwrap(),
        }
    }
    out
}

fn describe(e: &Effect) -> String {
    match e {
        Effect::MatchDecided {
            attempt,
            score,
            threshold,
            matched,
            pad_passed,
            consecutive_failures,
            ..
        } => {
            format!("attempt {attempt} score {score} vs {threshold} matched={matched} pad={pad_passed:?} consecutive={consecutive_failures}")
        }
        Effect::QualityRejected {
            reason,
            consecutive,
        } => format!("quality rejected ({reason}) x{consecutive}"),
        Effect::BiometricDisabled => "biometric disabled".into(),
        Effect::TriggerFired { trigger } => format!("trigger {trigger}"),
        Effect::TriggerSuppressed { trigger } => format!("trigger {trigger} suppressed by policy"),
        Effect::Granted(g) => format!(
            "granted {} scope {:?} by {} for {} min, review due +{} h",
            g.id,
            g.scope,
            g.supervisor,
            (g.expires_at - g.granted_at) / 60_000,
            (g.review_due - g.granted_at) / 3_600_000
        ),
    }
}
