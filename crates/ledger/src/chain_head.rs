//! `chain_head`: a single signed row naming the last appended event, updated
//! in the same transaction as every append. Deleting rows from the end of
//! `events` (tail truncation) leaves the head pointing past the last row,
//! which [`crate::Ledger::verify`] reports.

use rusqlite::{OptionalExtension, Transaction};

use crate::{Keys, LedgerError};

pub(crate) const MIGRATION: crate::schema::Migration = crate::schema::Migration {
    version: 2,
    name: "chain_head",
    sql: "
CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL,
    sig  BLOB NOT NULL
);
",
};

const HEAD_DOMAIN: &[u8] = b"head";

/// Message signed for the head: `"head" || seq (u64 BE) || hash`.
pub(crate) fn head_message(seq: u64, hash: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(4 + 8 + 32);
    m.extend_from_slice(HEAD_DOMAIN);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m
}

/// Stored head.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub seq: u64,
    pub hash: Vec<u8>,
    pub sig: Vec<u8>,
}

pub(crate) fn read(conn: &rusqlite::Connection) -> Result<Option<Head>, LedgerError> {
    Ok(conn
        .query_row(
            "SELECT seq, hash, sig FROM chain_head WHERE id = 1",
            [],
            |r| {
                Ok(Head {
                    seq: r.get::<_, i64>(0)? as u64,
                    hash: r.get(1)?,
                    sig: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub(crate) fn write(
    tx: &Transaction<'_>,
    keys: &Keys,
    seq: u64,
    hash: &[u8; 32],
) -> Result<(), LedgerError> {
    let sig = keys.sign(&head_message(seq, hash));
    tx.execute(
        "INSERT INTO chain_head (id, seq, hash, sig) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, sig = excluded.sig",
        rusqlite::params![seq as i64, &hash[..], &sig[..]],
    )
    .map_err(|e| LedgerError::sql("updating chain head", e))?;
    Ok(())
}
