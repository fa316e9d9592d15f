//! JSONL and OCSF export.
//!
//! # OCSF mapping (OCSF 1.5.0)
//!
//! Each event becomes one OCSF record (one JSON object per line) of the
//! class that is its home; docs/ocsf-mapping.md has the table by event kind
//! and says why. In short: step-up attempts, sign-ins and assertions are
//! *Authentication* (3002); people and their factors *Account Change*
//! (3001); role changes *User Access Management* (3005); overrides
//! *Authorize Session* (3003); relying applications and principals *Entity
//! Management* (3004); sealed samples *File System Activity* (1001); the
//! kiosk's own configuration, keys, anchor and clock *Device Config State
//! Change* (5019). Every record has:
//!
//! | OCSF field | value |
//! |---|---|
//! | `class_uid`, `class_name`, `category_uid`, `category_name` | the class's (see [`ocsf_class`]) |
//! | `activity_id`, `activity_name`, `type_uid`, `type_name` | the class's activity for the kind; `type_uid` = `class_uid * 100 + activity_id` |
//! | `status_id` / `status` | from the `outcome` index field: `success`, `ok`, `pass`, `granted`, `match`, `matched`, `approved` → `1` `"Success"`; `failure`, `fail`, `denied`, `no_match`, `rejected`, `error`, `timeout`, `locked` → `2` `"Failure"`; else `0` `"Unknown"` (`status_detail` keeps the raw outcome) |
//! | `severity_id` / `severity` | `3` `"Medium"` for `override.*`, `2` `"Low"` for failures, else `1` `"Informational"` |
//! | `time` | event `ts_ms` (Unix ms) |
//! | `message` | `"<kind>"` or `"<kind>: <outcome>"` |
//! | `metadata` | `product {name "Countersign", vendor_name "Countersign"}`, `version "1.5.0"`, `uid` = row hash (hex), `original_time` = RFC 3339 of `ts_ms`, `sequence` = seq, `log_name "countersign-ledger"` |
//! | `user` (3001, 3002, 3003, 3005) | the event's person, else its supervisor, else `{name "unidentified", type_id 0}` (a step-up before the operator said who they are) |
//! | `privileges` (3003, 3005) | the grant's scope; the roles given or taken |
//! | `entity` (3004), `file` + `actor` (1001), `device` (1001, 5019) | what the event is about: the client or principal; the sample (its SHA-256); the kiosk |
//! | `countersign_override` | only for `override.*` kinds: `override_id` (body `override_id` or `id`), `case_id`, `supervisor`, `reason_code`, `scope`, `expires_at`, `compensating_control`, `trigger`, `disposition` — index fields win over body fields; absent ones are omitted. Countersign's extension attribute (docs/ocsf-mapping.md). |
//! | `unmapped` | `{kind, seq, trigger, case_id, supervisor, body}` — the original event data not mapped above |

use std::io::Write;

use serde_json::{json, Map, Value};

use crate::{events, EventRow, Filter, LedgerError};

/// OCSF schema version emitted.
pub const OCSF_VERSION: &str = "1.5.0";

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
            if [
                "success", "ok", "pass", "granted", "match", "matched", "approved",
            ]
            .contains(&o.as_str()) =>
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

/// An OCSF class and the activity an event kind is within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcsfClass {
    pub class_uid: u32,
    pub class_name: &'static str,
    pub category_uid: u32,
    pub category_name: &'static str,
    pub activity_id: u32,
    pub activity_name: &'static str,
}

const IAM: (u32, &str) = (3, "Identity & Access Management");

fn class(
    (class_uid, class_name): (u32, &'static str),
    (category_uid, category_name): (u32, &'static str),
    (activity_id, activity_name): (u32, &'static str),
) -> OcsfClass {
    OcsfClass {
        class_uid,
        class_name,
        category_uid,
        category_name,
        activity_id,
        activity_name,
    }
}

/// The OCSF class and activity of an event kind (docs/ocsf-mapping.md).
pub fn ocsf_class(kind: &str) -> OcsfClass {
    const AUTHN: (u32, &str) = (3002, "Authentication");
    const ACCOUNT: (u32, &str) = (3001, "Account Change");
    const SESSION: (u32, &str) = (3003, "Authorize Session");
    const ENTITY: (u32, &str) = (3004, "Entity Management");
    const ACCESS: (u32, &str) = (3005, "User Access Management");
    const FILE: (u32, &str) = (1001, "File System Activity");
    const DEVICE: (u32, &str) = (5019, "Device Config State Change");
    const SYSTEM: (u32, &str) = (1, "System Activity");
    const DISCOVERY: (u32, &str) = (5, "Discovery");
    const OTHER: (u32, &str) = (99, "Other");
    let (family, _) = kind.split_once('.').unwrap_or((kind, ""));
    match (family, kind) {
        // Proving who one is: the operator's attempts, the supervisor's and
        // the console's sign-ins, the relying apps' client authentication.
        (_, "match.attempt" | "capture.quality_failed" | "capture.device_unavailable")
        | (_, "stepup.intent" | "supervisor.auth" | "console.signed_in") => {
            class(AUTHN, IAM, (1, "Logon"))
        }
        (_, "console.signed_out" | "console.expired") => class(AUTHN, IAM, (2, "Logoff")),
        (_, "assertion.issued") => class(AUTHN, IAM, (3, "Authentication Ticket")),
        (_, "client.added" | "principal.added") => class(ENTITY, IAM, (1, "Create")),
        ("client", _) => class(AUTHN, IAM, (1, "Logon")),
        ("stepup" | "fallback" | "capture" | "match" | "console" | "assertion" | "request", _) => {
            class(AUTHN, IAM, OTHER)
        }
        // People and their factors.
        (_, "person.added") => class(ACCOUNT, IAM, (1, "Create")),
        (_, "person.credentials_set" | "biometric.enrolled") => {
            class(ACCOUNT, IAM, (10, "MFA Factor Enable"))
        }
        (_, "person.credentials_cleared") => class(ACCOUNT, IAM, (11, "MFA Factor Disable")),
        (_, "person.locked") => class(ACCOUNT, IAM, (9, "Lock")),
        (_, "person.unlocked") => class(ACCOUNT, IAM, (12, "Unlock")),
        (_, "person.roles_changed") => class(ACCESS, IAM, (1, "Assign Privileges")),
        ("person" | "biometric", _) => class(ACCOUNT, IAM, OTHER),
        // The supervised override: a session's privileges, time-bound.
        (_, "override.granted" | "override.extended" | "breakglass.granted") => {
            class(SESSION, IAM, (1, "Assign Privileges"))
        }
        ("override" | "breakglass", _) => class(SESSION, IAM, OTHER),
        // Sealed biometric samples.
        (_, "blob.sealed") => class(FILE, SYSTEM, (1, "Create")),
        (_, "sample.viewed") => class(FILE, SYSTEM, (2, "Read")),
        (_, "sample.purged" | "blob.purged") => class(FILE, SYSTEM, (4, "Delete")),
        ("sample" | "blob", _) => class(FILE, SYSTEM, OTHER),
        // The kiosk itself: initialisation, policy, keys, anchor, clock,
        // calibration, sync and anything not named above.
        _ => class(DEVICE, DISCOVERY, OTHER),
    }
}

/// Map one event to an OCSF record of its class (see the module table).
pub fn ocsf_record(row: &EventRow) -> Value {
    let c = ocsf_class(&row.kind);
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
        "class_uid": c.class_uid,
        "class_name": c.class_name,
        "category_uid": c.category_uid,
        "category_name": c.category_name,
        "activity_id": c.activity_id,
        "activity_name": c.activity_name,
        "type_uid": c.class_uid * 100 + c.activity_id,
        "type_name": format!("{}: {}", c.class_name, c.activity_name),
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
    class_objects(obj, c, row);
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

/// The objects a class requires, from the event: who (`user`), what was
/// granted (`privileges`), the entity, the sample file and the kiosk.
fn class_objects(obj: &mut Map<String, Value>, c: OcsfClass, row: &EventRow) {
    let body = row.body.as_object();
    let body_str = |k: &str| body.and_then(|b| b.get(k)).and_then(Value::as_str);
    let strings = |v: Option<&Value>| -> Vec<Value> {
        match v {
            Some(Value::Array(a)) => a.iter().filter(|x| x.is_string()).cloned().collect(),
            Some(Value::String(s)) => vec![Value::from(s.as_str())],
            _ => vec![],
        }
    };
    let who = row
        .index
        .person
        .as_deref()
        .or(row.index.supervisor.as_deref());
    let user = match who {
        Some(p) => json!({"uid": p, "name": p}),
        None => json!({"name": "unidentified", "type_id": 0, "type": "Unknown"}),
    };
    // The kiosk that wrote the ledger (a Desktop in OCSF's device types).
    let device = json!({"type_id": 2, "type": "Desktop", "name": "countersign-kiosk"});
    match c.class_uid {
        3001 | 3002 => {
            obj.insert("user".into(), user);
        }
        3003 => {
            obj.insert("user".into(), user);
            obj.insert(
                "privileges".into(),
                Value::Array(strings(body.and_then(|b| b.get("scope")))),
            );
        }
        3005 => {
            obj.insert("user".into(), user);
            let roles = body.and_then(|b| b.get("roles").or_else(|| b.get("added")));
            obj.insert("privileges".into(), Value::Array(strings(roles)));
        }
        3004 => {
            let id = body_str("id")
                .or(body_str("client_id"))
                .or(who)
                .unwrap_or("unknown");
            let kind = row.kind.split('.').next().unwrap_or("entity");
            obj.insert(
                "entity".into(),
                json!({"uid": id, "name": id, "type": kind}),
            );
        }
        1001 => {
            let sha = body_str("sha256").or(body_str("blob")).unwrap_or("unknown");
            obj.insert(
                "file".into(),
                json!({"name": sha, "type_id": 1, "type": "Regular File"}),
            );
            let actor = match who {
                Some(p) => json!({"user": {"uid": p, "name": p}}),
                None => json!({"app_name": "Countersign"}),
            };
            obj.insert("actor".into(), actor);
            obj.insert("device".into(), device);
        }
        _ => {
            obj.insert("device".into(), device);
        }
    }
}
