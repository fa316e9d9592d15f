use std::io::BufRead;

use anyhow::{bail, Context};
use countersign_ledger::Filter;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::args::FilterArgs;

/// The memorised secret: from `COUNTERSIGN_SECRET`, else the first line of
/// stdin. Never from an argument (arguments show in `ps`).
pub fn read_secret(who: &str) -> anyhow::Result<String> {
    secret_from(
        "COUNTERSIGN_SECRET",
        &format!("{who}'s secret"),
        &format!(
            "no secret for {who}: set COUNTERSIGN_SECRET or pass it on the first line of stdin"
        ),
    )
}

/// A second secret (a person's new password, a client's secret) for a
/// command whose admin's password came first: COUNTERSIGN_NEW_SECRET, else
/// the next line of stdin. Never from an argument.
pub fn read_new_secret(what: &str) -> anyhow::Result<String> {
    secret_from(
        "COUNTERSIGN_NEW_SECRET",
        what,
        &format!("no {what}: set COUNTERSIGN_NEW_SECRET or pass it on the line of stdin after the admin's password"),
    )
}

/// `var` when set and not empty, else the next line of stdin; `missing`
/// when neither gives one.
fn secret_from(var: &str, what: &str, missing: &str) -> anyhow::Result<String> {
    if let Ok(s) = std::env::var(var) {
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("reading {what} from stdin"))?;
    let s = line.trim_end_matches(['\r', '\n']).to_string();
    if s.is_empty() {
        bail!("{missing}");
    }
    Ok(s)
}

/// `15m`, `90s`, `1h`, `1h30m`, or plain seconds, in milliseconds. A
/// duration past [`MAX_DURATION_MS`] (or one that would not fit in an i64)
/// is an error (`input.out_of_range`), never an overflow: the policy's cap
/// is hours, and the core refuses zero and negative durations itself.
pub fn parse_duration(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let too_long = || {
        anyhow::Error::new(crate::Coded {
            code: countersign_engine::Code::InputOutOfRange,
            message: format!(
                "duration {s:?} is out of range (at most {} days)",
                MAX_DURATION_MS / 86_400_000
            ),
        })
    };
    let checked = |ms: Option<i64>| match ms {
        Some(v) if v.unsigned_abs() <= MAX_DURATION_MS as u64 => Ok(v),
        _ => Err(too_long()),
    };
    if let Ok(n) = s.parse::<i64>() {
        return checked(n.checked_mul(1000));
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit: i64 = match c {
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1000,
            _ => bail!("bad duration {s:?}: unknown unit {c:?} (use h, m or s)"),
        };
        if num.is_empty() {
            bail!("bad duration {s:?} (use e.g. 15m, 90s, 1h)");
        }
        // All digits: a parse failure is a number too large for an i64.
        let n: i64 = num.parse().map_err(|_| too_long())?;
        num.clear();
        total = checked(n.checked_mul(unit).and_then(|ms| total.checked_add(ms)))?;
    }
    if !num.is_empty() {
        bail!("bad duration {s:?}: a number needs a unit (h, m or s)");
    }
    Ok(total)
}

/// The longest duration `parse_duration` takes: a year (every policy cap
/// is far below; the core refuses what is over the cap with its own code).
pub const MAX_DURATION_MS: i64 = 366 * 86_400_000;

pub fn parse_time(s: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let t = OffsetDateTime::parse(s, &Rfc3339).with_context(|| {
        format!("bad time {s:?}: use RFC 3339 (2026-11-28T09:00:00Z) or Unix milliseconds")
    })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub fn fmt_time(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

pub fn to_filter(a: &FilterArgs) -> anyhow::Result<Filter> {
    Ok(Filter {
        from_ms: a.from.as_deref().map(parse_time).transpose()?,
        to_ms: a.to.as_deref().map(parse_time).transpose()?,
        kinds: a.kinds.clone(),
        person: a.person.clone(),
        supervisor: a.supervisor.clone(),
        outcome: a.outcome.clone(),
        trigger: a.trigger.clone(),
        case_id: a.case_id.clone(),
        pending_review: a.pending_review,
    })
}

pub fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), 900_000);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("90").unwrap(), 90_000);
        assert!(parse_duration("15x").is_err());
        assert!(parse_duration("1h5").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(parse_time("42").unwrap(), 42);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(fmt_time(1000), "1970-01-01T00:00:01Z");
    }
}
