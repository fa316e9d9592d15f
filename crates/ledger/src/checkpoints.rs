//! `checkpoints`: signed RFC 6962 Merkle roots over consecutive ranges of
//! events. Checkpoint `n` covers `first_seq..=last_seq`, where `first_seq` is
//! one past the previous checkpoint's `last_seq`.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Keys, LedgerError};

pub(crate) const MIGRATION: crate::schema::Migration = crate::schema::Migration {
    version: 3,
    name: "checkpoints",
    sql: "
CREATE TABLE checkpoints (
    n         INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    tree_size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    ts_ms     INTEGER NOT NULL,
    sig       BLOB NOT NULL
);
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
",
};

/// A signed Merkle checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Checkpoint number, 1, 2, ...
    pub n: u64,
    /// First event seq covered.
    pub first_seq: u64,
    /// Last event seq covered.
    pub last_seq: u64,
    /// Number of leaves (`last_seq - first_seq + 1`).
    pub tree_size: u64,
    /// RFC 6962 Merkle Tree Hash over the row hashes of the range, hex.
    pub root_hash_hex: String,
    /// When it was made (Unix ms).
    pub ts_ms: i64,
    /// Ed25519 signature over [`checkpoint_message`], hex.
    pub sig_hex: String,
}

/// RFC 6962 leaf hash: `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 Merkle Tree Hash of a list of leaves (here: the 32-byte row
/// hashes). The empty tree hashes to `SHA-256("")`.
pub fn merkle_root<L: AsRef<[u8]>>(leaves: &[L]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaf_hash(leaves[0].as_ref()),
        n => {
            // k = largest power of two strictly less than n.
            let k = if n.is_power_of_two() {
                n / 2
            } else {
                1 << (usize::BITS - 1 - n.leading_zeros())
            };
            node_hash(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// The message a checkpoint signs.
pub fn checkpoint_message(
    n: u64,
    first_seq: u64,
    last_seq: u64,
    tree_size: u64,
    root: &[u8],
    ts_ms: i64,
) -> Vec<u8> {
    let mut m = b"countersign-ledger/checkpoint/v1\0".to_vec();
    m.extend_from_slice(&n.to_be_bytes());
    m.extend_from_slice(&first_seq.to_be_bytes());
    m.extend_from_slice(&last_seq.to_be_bytes());
    m.extend_from_slice(&tree_size.to_be_bytes());
    m.extend_from_slice(root);
    m.extend_from_slice(&ts_ms.to_be_bytes());
    m
}

pub(crate) struct StoredCheckpoint {
    pub n: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub tree_size: u64,
    pub root: Vec<u8>,
    pub ts_ms: i64,
    pub sig: Vec<u8>,
}

impl StoredCheckpoint {
    pub(crate) fn public(&self) -> Checkpoint {
        Checkpoint {
            n: self.n,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            tree_size: self.tree_size,
            root_hash_hex: hex::encode(&self.root),
            ts_ms: self.ts_ms,
            sig_hex: hex::encode(&self.sig),
        }
    }
}

pub(crate) fn all(conn: &rusqlite::Connection) -> Result<Vec<StoredCheckpoint>, LedgerError> {
    let mut stmt = conn.prepare(
        "SELECT n, first_seq, last_seq, tree_size, root_hash, ts_ms, sig FROM checkpoints ORDER BY n",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(StoredCheckpoint {
                n: r.get::<_, i64>(0)? as u64,
                first_seq: r.get::<_, i64>(1)? as u64,
                last_seq: r.get::<_, i64>(2)? as u64,
                tree_size: r.get::<_, i64>(3)? as u64,
                root: r.get(4)?,
                ts_ms: r.get(5)?,
                sig: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn hashes_in_range(
    conn: &rusqlite::Connection,
    first: u64,
    last: u64,
) -> Result<Vec<Vec<u8>>, LedgerError> {
    let mut stmt =
        conn.prepare_cached("SELECT hash FROM events WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq")?;
    let v = stmt
        .query_map(params![first as i64, last as i64], |r| {
            r.get::<_, Vec<u8>>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

/// Events appended since the last checkpoint.
pub(crate) fn pending(conn: &rusqlite::Connection) -> Result<(u64, u64, u64), LedgerError> {
    let last_cp: Option<(i64, i64)> = conn
        .query_row(
            "SELECT n, last_seq FROM checkpoints ORDER BY n DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (n, last) = last_cp.map(|(a, b)| (a as u64, b as u64)).unwrap_or((0, 0));
    let head = crate::chain_head::read(conn)?.map(|h| h.seq).unwrap_or(0);
    Ok((n, last, head))
}

pub(crate) fn create(
    tx: &Transaction<'_>,
    keys: &Keys,
    now_ms: i64,
) -> Result<Option<Checkpoint>, LedgerError> {
    let (n, last, head) = pending(tx)?;
    if head <= last {
        return Ok(None);
    }
    let first = last + 1;
    let hashes = hashes_in_range(tx, first, head)?;
    let size = head - first + 1;
    if hashes.len() as u64 != size {
        return Err(LedgerError::Corrupt(format!(
            "events {first}..={head} should number {size} but {} rows exist; run verify",
            hashes.len()
        )));
    }
    let root = merkle_root(&hashes);
    let n = n + 1;
    let sig = keys.sign(&checkpoint_message(n, first, head, size, &root, now_ms));
    tx.execute(
        "INSERT INTO checkpoints (n, first_seq, last_seq, tree_size, root_hash, ts_ms, sig) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![n as i64, first as i64, head as i64, size as i64, &root[..], now_ms, &sig[..]],
    )
    .map_err(|e| LedgerError::sql("writing a checkpoint", e))?;
    Ok(Some(Checkpoint {
        n,
        first_seq: first,
        last_seq: head,
        tree_size: size,
        root_hash_hex: hex::encode(root),
        ts_ms: now_ms,
        sig_hex: hex::encode(sig),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_matches_hand_computed_rfc6962_trees() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        let d = [4u8; 32];
        let e = [5u8; 32];
        let (la, lb, lc, ld, le) = (
            leaf_hash(&a),
            leaf_hash(&b),
            leaf_hash(&c),
            leaf_hash(&d),
            leaf_hash(&e),
        );
        assert_eq!(merkle_root(&[a]), la);
        assert_eq!(merkle_root(&[a, b]), node_hash(&la, &lb));
        assert_eq!(
            merkle_root(&[a, b, c]),
            node_hash(&node_hash(&la, &lb), &lc)
        );
        assert_eq!(
            merkle_root(&[a, b, c, d]),
            node_hash(&node_hash(&la, &lb), &node_hash(&lc, &ld))
        );
        assert_eq!(
            merkle_root(&[a, b, c, d, e]),
            node_hash(&node_hash(&node_hash(&la, &lb), &node_hash(&lc, &ld)), &le)
        );
        // RFC 6962 empty-tree hash.
        assert_eq!(
            hex::encode(merkle_root::<[u8; 32]>(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_hash_of_empty_input_is_the_rfc6962_value() {
        // SHA-256(0x00), the well-known RFC 6962 hash of an empty leaf.
        assert_eq!(
            hex::encode(leaf_hash(&[])),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }
}
