//! JSONL and OCSF export.
//!
//! # OCSF mapping (OCSF 1.1.0, class Authentication)
//!
//! Every event becomes one OCSF *Authentication* record (one JSON object per line):
//!
//! | OCSF field | value |
//! |---|---|
//! | `class_uid` / `class_name` | `3002` / `"Authentication"` |
//! | `category_uid` / `category_name` | `3` / `"Identity & Access Management"` |
//! | `activity_id` / `activity_name` | `1` `"Logon"` for step-up attempts (kinds starting with `stepup.` or `match.`), otherwise `99` `"Other"` |
//! | `type_uid` / `type_name` | `300200 + activity_id` (`300201` / `300299`), `"Authentication: Logon"` / `"Authentication: Other"` |
//! | `status_id` / `status` | from the `outcome` index field: `success`, `ok`, `pass`, `granted`, `match`, `approved` → `1` `"Success"`; `failure`, `fail`, `denied`, `no_match`, `rejected`, `error`, `timeout`, `locked` → `2` `"Failure"`; anything else or absent → `0` `"Unknown"` (`status_detail` keeps the raw outcome) |
//! | `severity_id` / `severity` | `3` `"Medium"` for `override.*`, `2` `"Low"` for failures, else `1` `"Informational"` |
//! | `time` | event `ts_ms` (Unix ms) |
//! | `message` | `"<kind>"` or `"<kind>: <outcome>"` |
//! | `metadata` | `product {name "Countersign", vendor_name "Countersign"}`, `version "1.1.0"`, `uid` = row hash (hex), `original_time` = RFC 3339 of `ts_ms`, `sequence` = seq, `log_name "countersign-ledger"` |
//! | `user` | `{uid: person}` when the event has a person |
//! | `countersign_override` | only for `override.*` kinds: `override_id` (body `override_id` or `id`), `case_id`, `supervisor`, `reason_code`, `scope`, `expires_at`, `compensating_control`, `trigger`, `disposition` — index fields win over body fields; absent ones are omitted |
//! | `unmapped` | `{kind, seq, trigger, case_id, supervisor, body}` — the original event data not mapped above |

use std::io::Write;

use serde_json::{json, Map, Value};

use crate::{events, EventRow, Filter, LedgerError};

/// OCSF schema version emitted.
pub const OCSF_VERSION: &str = "1.1.0";

fn write_line(out: &mut dyn Write, v: &impl serde::Serialize) -> Result<(), LedgerError> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")
        .map_err(|e| LedgerError::io("writing export", None, e))
}

pub(crate) fn jsonl(
    conn: &rusqlite::Connection,
    f: &Filter,
    out: &mut dyn Write,
) -> Result<u64, LedgerError> {
    let n = events::for_each(conn, f, |row| write_line(out, &row))?;
    out.flush()
        .map_err(|e| LedgerError::io("flushing export", None, e))?;
    Ok(n)
}

pub(crate) fn ocsf(
    conn: &rusqlite::Connection,
    f: &Filter,
    out: &mut dyn Write,
) -> Result<u64, LedgerError> {
    let n = events::for_each(conn, f, |row| write_line(out, &ocsf_record(&row)))?;
    out.flush()
        .map_err(|e| LedgerError::io("flushing export", None, e))?;
    Ok(n)
}

fn status_of(outcome: Option<&str>) -> (u8, &'static str) {
    match outcome.map(|o| o.to_ascii_lowercase()) {
        Some(o)
            if ["success", "ok", "pass", "granted", "match", "approved"].contains(&o.as_str()) =>
        {
            (1, "Success")
        }
        Some(o)
            if [
                "failure", "fail", "denied", "no_match", "rejected", "error", "timeout", "locked",
            ]
            .contains(&o.as_str()) =>
        {
            (2, "Failure")
        }
        _ => (0, "Unknown"),
    }
}

/// Map one event to an OCSF Authentication record (see the module table).
pub fn ocsf_record(row: &EventRow) -> Value {
    let stepup = row.kind.starts_with("stepup.") || row.kind.starts_with("match.");
    let (activity_id, activity_name) = if stepup {
        (1u32, "Logon")
    } else {
        (99, "Other")
    };
    let outcome = row.index.outcome.as_deref();
    let (status_id, status) = status_of(outcome);
    let is_override = row.kind.starts_with("override.");
    let (severity_id, severity) = if is_override {
        (3, "Medium")
    } else if status_id == 2 {
        (2, "Low")
    } else {
        (1, "Informational")
    };
    let original_time =
        time::OffsetDateTime::from_unix_timestamp_nanos(row.ts_ms as i128 * 1_000_000)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
    let message = match outcome {
        Some(o) => format!("{}: {o}", row.kind),
        None => row.kind.clone(),
    };
    let mut rec = json!({
        "class_uid": 3002,
        "class_name": "Authentication",
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 300200 + activity_id,
        "type_name": format!("Authentication: {activity_name}"),
        "status_id": status_id,
        "status": status,
        "severity_id": severity_id,
        "severity": severity,
        "time": row.ts_ms,
        "message": message,
        "metadata": {
            "product": {"name": "Countersign", "vendor_name": "Countersign"},
            "version": OCSF_VERSION,
            "uid": row.hash_hex,
            "original_time": original_time,
            "sequence": row.seq,
            "log_name": "countersign-ledger",
        },
        "unmapped": {
            "kind": row.kind,
            "seq": row.seq,
            "trigger": row.index.trigger,
            "case_id": row.index.case_id,
            "supervisor": row.index.supervisor,
            "body": row.body,
        },
    });
    let obj = rec.as_object_mut().expect("json! object");
    if let Some(o) = outcome {
        obj.insert("status_detail".into(), json!(o));
    }
    if let Some(person) = &row.index.person {
        obj.insert("user".into(), json!({"uid": person}));
    }
    if is_override {
        let body = row.body.as_object();
        let from_body = |k: &str| {
            body.and_then(|b| b.get(k))
                .filter(|v| !v.is_null())
                .cloned()
        };
        let mut ov = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                ov.insert(k.into(), v);
            }
        };
        put(
            "override_id",
            from_body("override_id").or_else(|| from_body("id")),
        );
        put(
            "case_id",
            row.index
                .case_id
                .clone()
                .map(Value::from)
                .or_else(|| from_body("case_id")),
        );
        put(
            "supervisor",
            row.index
                .supervisor
                .clone()
                .map(Value::from)
                .or_else(|| from_body("supervisor")),
        );
        put("reason_code", from_body("reason_code"));
        put("scope", from_body("scope"));
        put("expires_at", from_body("expires_at"));
        put("compensating_control", from_body("compensating_control"));
        put(
            "trigger",
            row.index
                .trigger
                .clone()
                .map(Value::from)
                .or_else(|| from_body("trigger")),
        );
        put("disposition", from_body("disposition"));
        obj.insert("countersign_override".into(), Value::Object(ov));
    }
    rec
}
