//! `events`: the append-only, hash-chained, signed event log.

use rusqlite::types::ToSql;
use rusqlite::{params, Row, Transaction};
use sha2::{Digest, Sha256};

use crate::{
    chain_head, EventIndex, EventRef, EventRow, Filter, Keys, LedgerError, NewEvent, Page,
    PageRequest,
};

/// Kind of the event that grants a supervisor override (opens a review case).
pub const KIND_OVERRIDE_GRANTED: &str = "override.granted";
/// Kind of the event that closes the review of an override case.
pub const KIND_OVERRIDE_REVIEWED: &str = "override.reviewed";
/// Kind appended by [`crate::Ledger::put_blob`].
pub const KIND_BLOB_SEALED: &str = "blob.sealed";
/// Kind appended by [`crate::Ledger::purge_blobs`], one per purged blob.
pub const KIND_BLOB_PURGED: &str = "blob.purged";

pub(crate) const MIGRATION: crate::schema::Migration = crate::schema::Migration {
    version: 1,
    name: "events",
    sql: "
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    ts_ms      INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    person     TEXT,
    supervisor TEXT,
    outcome    TEXT,
    trig       TEXT,
    case_id    TEXT,
    body       TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    sig        BLOB NOT NULL
);
CREATE INDEX events_ts ON events(ts_ms);
CREATE INDEX events_kind_case ON events(kind, case_id);
CREATE INDEX events_person_ts ON events(person, ts_ms) WHERE person IS NOT NULL;
CREATE INDEX events_supervisor_ts ON events(supervisor, ts_ms) WHERE supervisor IS NOT NULL;
CREATE INDEX events_outcome_ts ON events(outcome, ts_ms) WHERE outcome IS NOT NULL;
CREATE INDEX events_trig_ts ON events(trig, ts_ms) WHERE trig IS NOT NULL;
CREATE INDEX events_hash ON events(hash);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
",
};

const EVENT_DOMAIN: &[u8] = b"countersign-ledger/event/v1\0";

fn put_field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

fn put_opt(h: &mut Sha256, v: &Option<String>) {
    match v {
        None => h.update([0u8]),
        Some(s) => {
            h.update([1u8]);
            put_field(h, s.as_bytes());
        }
    }
}

/// The row hash: SHA-256 over a domain-separated, length-prefixed encoding
/// `"countersign-ledger/event/v1\0" || seq u64 BE || ts_ms i64 BE || kind ||
/// person || supervisor || outcome || trigger || case_id || body || prev_hash`,
/// where strings are `len u64 BE || bytes`, optional strings are prefixed with
/// a 0 (absent) or 1 (present) byte, and `body` is the canonical JSON text
/// (keys sorted, no whitespace) exactly as stored.
pub fn row_hash(
    seq: u64,
    ts_ms: i64,
    kind: &str,
    index: &EventIndex,
    body_json: &str,
    prev_hash: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(EVENT_DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(ts_ms.to_be_bytes());
    put_field(&mut h, kind.as_bytes());
    put_opt(&mut h, &index.person);
    put_opt(&mut h, &index.supervisor);
    put_opt(&mut h, &index.outcome);
    put_opt(&mut h, &index.trigger);
    put_opt(&mut h, &index.case_id);
    put_field(&mut h, body_json.as_bytes());
    h.update(prev_hash);
    h.finalize().into()
}

/// Canonical JSON text of a body: serde_json with sorted object keys
/// (the crate is built without `preserve_order`) and no whitespace.
pub fn canonical_json(v: &serde_json::Value) -> Result<String, LedgerError> {
    Ok(serde_json::to_string(v)?)
}

/// A row as stored (bytes, body text) — used by verify.
#[derive(Debug, Clone)]
pub(crate) struct RawRow {
    pub seq: u64,
    pub ts_ms: i64,
    pub kind: String,
    pub index: EventIndex,
    pub body: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub sig: Vec<u8>,
}

pub(crate) const COLS: &str =
    "seq, ts_ms, kind, person, supervisor, outcome, trig, case_id, body, prev_hash, hash, sig";

pub(crate) fn raw_from_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        seq: r.get::<_, i64>(0)? as u64,
        ts_ms: r.get(1)?,
        kind: r.get(2)?,
        index: EventIndex {
            person: r.get(3)?,
            supervisor: r.get(4)?,
            outcome: r.get(5)?,
            trigger: r.get(6)?,
            case_id: r.get(7)?,
        },
        body: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
        sig: r.get(11)?,
    })
}

impl RawRow {
    pub(crate) fn recompute(&self, seq: u64) -> [u8; 32] {
        row_hash(
            seq,
            self.ts_ms,
            &self.kind,
            &self.index,
            &self.body,
            &self.prev_hash,
        )
    }

    pub(crate) fn into_event_row(self) -> Result<EventRow, LedgerError> {
        let body = serde_json::from_str(&self.body).map_err(|e| {
            LedgerError::Corrupt(format!("event {} body is not JSON: {e}", self.seq))
        })?;
        Ok(EventRow {
            seq: self.seq,
            ts_ms: self.ts_ms,
            kind: self.kind,
            index: self.index,
            body,
            prev_hash_hex: hex::encode(&self.prev_hash),
            hash_hex: hex::encode(&self.hash),
            sig_hex: hex::encode(&self.sig),
        })
    }
}

/// Append events inside `tx`, chaining from the stored head, and update the head.
pub(crate) fn append_in_tx(
    tx: &Transaction<'_>,
    keys: &Keys,
    evs: &[NewEvent],
) -> Result<Vec<EventRef>, LedgerError> {
    let head = chain_head::read(tx)?;
    let (mut seq, mut prev): (u64, [u8; 32]) = match head {
        None => (0, [0u8; 32]),
        Some(h) => (
            h.seq,
            h.hash
                .as_slice()
                .try_into()
                .map_err(|_| LedgerError::Corrupt("chain head hash is not 32 bytes".into()))?,
        ),
    };
    let mut out = Vec::with_capacity(evs.len());
    let mut stmt = tx.prepare_cached(
        "INSERT INTO events (seq, ts_ms, kind, person, supervisor, outcome, trig, case_id, body, prev_hash, hash, sig)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for ev in evs {
        if ev.kind.trim().is_empty() {
            return Err(LedgerError::Invalid("event kind must not be empty".into()));
        }
        seq += 1;
        let body = canonical_json(&ev.body)?;
        let hash = row_hash(seq, ev.ts_ms, &ev.kind, &ev.index, &body, &prev);
        let sig = keys.sign(&hash);
        stmt.execute(params![
            seq as i64,
            ev.ts_ms,
            ev.kind,
            ev.index.person,
            ev.index.supervisor,
            ev.index.outcome,
            ev.index.trigger,
            ev.index.case_id,
            body,
            &prev[..],
            &hash[..],
            &sig[..],
        ])
        .map_err(|e| LedgerError::sql("appending an event", e))?;
        out.push(EventRef {
            seq,
            hash_hex: hex::encode(hash),
        });
        prev = hash;
    }
    drop(stmt);
    if !evs.is_empty() {
        chain_head::write(tx, keys, seq, &prev)?;
    }
    Ok(out)
}

/// Build the WHERE clause for a filter (without paging).
pub(crate) fn where_clause(f: &Filter) -> (String, Vec<Box<dyn ToSql>>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<Box<dyn ToSql>> = Vec::new();
    let mut push = |c: &str, p: Box<dyn ToSql>, conds: &mut Vec<String>| {
        params.push(p);
        conds.push(c.replace('?', &format!("?{}", params.len())));
    };
    if let Some(v) = f.from_ms {
        push("e.ts_ms >= ?", Box::new(v), &mut conds);
    }
    if let Some(v) = f.to_ms {
        push("e.ts_ms < ?", Box::new(v), &mut conds);
    }
    for (col, v) in [
        ("person", &f.person),
        ("supervisor", &f.supervisor),
        ("outcome", &f.outcome),
        ("trig", &f.trigger),
        ("case_id", &f.case_id),
    ] {
        if let Some(v) = v {
            push(&format!("e.{col} = ?"), Box::new(v.clone()), &mut conds);
        }
    }
    if !f.kinds.is_empty() {
        let mut ph = Vec::new();
        for k in &f.kinds {
            params.push(Box::new(k.clone()));
            ph.push(format!("?{}", params.len()));
        }
        conds.push(format!("e.kind IN ({})", ph.join(", ")));
    }
    if f.pending_review {
        conds.push(format!(
            "e.kind = '{KIND_OVERRIDE_GRANTED}' AND NOT EXISTS (SELECT 1 FROM events r \
             WHERE r.kind = '{KIND_OVERRIDE_REVIEWED}' AND r.case_id = e.case_id)"
        ));
    }
    let w = if conds.is_empty() {
        "1".to_string()
    } else {
        conds.join(" AND ")
    };
    (w, params)
}

pub(crate) fn query(
    conn: &rusqlite::Connection,
    f: &Filter,
    page: &PageRequest,
) -> Result<Page, LedgerError> {
    if page.limit == 0 {
        return Err(LedgerError::Invalid("page limit must be at least 1".into()));
    }
    let (mut w, mut params) = where_clause(f);
    if let Some(after) = page.after_seq {
        params.push(Box::new(after as i64));
        let op = if page.newest_first { "<" } else { ">" };
        w = format!("{w} AND e.seq {op} ?{}", params.len());
    }
    let order = if page.newest_first { "DESC" } else { "ASC" };
    let limit = page.limit as i64 + 1;
    let cols = COLS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {cols} FROM events e WHERE {w} ORDER BY e.seq {order} LIMIT {limit}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let p: Vec<&dyn ToSql> = params.iter().map(|b| b.as_ref()).collect();
    let mut rows = Vec::new();
    let mut q = stmt.query(p.as_slice())?;
    while let Some(r) = q.next()? {
        rows.push(raw_from_row(r)?.into_event_row()?);
    }
    let next_after = if rows.len() > page.limit as usize {
        rows.truncate(page.limit as usize);
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Page { rows, next_after })
}

/// Stream every row matching `f` in seq order to `each`.
pub(crate) fn for_each(
    conn: &rusqlite::Connection,
    f: &Filter,
    mut each: impl FnMut(EventRow) -> Result<(), LedgerError>,
) -> Result<u64, LedgerError> {
    let (w, params) = where_clause(f);
    let cols = COLS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {cols} FROM events e WHERE {w} ORDER BY e.seq ASC");
    let mut stmt = conn.prepare(&sql)?;
    let p: Vec<&dyn ToSql> = params.iter().map(|b| b.as_ref()).collect();
    let mut q = stmt.query(p.as_slice())?;
    let mut n = 0;
    while let Some(r) = q.next()? {
        each(raw_from_row(r)?.into_event_row()?)?;
        n += 1;
    }
    Ok(n)
}
