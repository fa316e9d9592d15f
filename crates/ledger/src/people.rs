//! `people`: the mutable registry of enrolled people and supervisors.
//!
//! Not part of the hash chain: every change is recorded by an event in the
//! same transaction ([`crate::Ledger::change_people`]). TOTP secrets are
//! stored sealed with the data key (AAD binds them to the person id) and
//! returned decrypted.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::{blobs, Keys, LedgerError};

pub(crate) const MIGRATION: crate::schema::Migration = crate::schema::Migration {
    version: 5,
    name: "people",
    sql: "
CREATE TABLE people (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    roles        TEXT NOT NULL,
    secret_phc   TEXT,
    totp_nonce   BLOB,
    totp_sealed  BLOB,
    failed_auths INTEGER NOT NULL DEFAULT 0,
    locked       INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL
);
",
};

/// One person.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// Stable id.
    pub id: String,
    /// Name shown on screen.
    pub display_name: String,
    /// Roles, e.g. `["operator"]`, `["supervisor"]`.
    pub roles: Vec<String>,
    /// Argon2 PHC string of a PIN/password, if any.
    pub secret_phc: Option<String>,
    /// TOTP secret (decrypted), if any.
    pub totp_secret: Option<Vec<u8>>,
    /// Consecutive failed authentications.
    pub failed_auths: u32,
    /// Locked out.
    pub locked: bool,
    /// Creation time (Unix ms).
    pub created_ms: i64,
}

impl std::fmt::Debug for PersonRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonRecord")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("roles", &self.roles)
            .field("secret_phc", &self.secret_phc.as_ref().map(|_| "<set>"))
            .field("totp_secret", &self.totp_secret.as_ref().map(|_| "<set>"))
            .field("failed_auths", &self.failed_auths)
            .field("locked", &self.locked)
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// Access to the people registry, borrowed from a [`crate::Ledger`].
#[derive(Debug)]
pub struct People<'a> {
    pub(crate) conn: &'a Connection,
    pub(crate) keys: &'a Keys,
}

/// (nonce, ciphertext) of an optional sealed secret.
type SealedOpt = (Option<Vec<u8>>, Option<Vec<u8>>);

fn totp_aad(id: &str) -> Vec<u8> {
    format!("countersign-ledger/people/totp/v1\0{id}").into_bytes()
}

impl People<'_> {
    fn seal_totp(&self, id: &str, secret: &Option<Vec<u8>>) -> Result<SealedOpt, LedgerError> {
        match secret {
            None => Ok((None, None)),
            Some(s) => {
                let (n, c) = blobs::seal(&self.keys.data_key, &totp_aad(id), s)?;
                Ok((Some(n.to_vec()), Some(c)))
            }
        }
    }

    /// Insert a new person; [`LedgerError::AlreadyExists`] if the id is taken.
    pub fn insert(&self, p: &PersonRecord) -> Result<(), LedgerError> {
        if p.id.trim().is_empty() {
            return Err(LedgerError::Invalid("person id must not be empty".into()));
        }
        let (nonce, sealed) = self.seal_totp(&p.id, &p.totp_secret)?;
        let roles = serde_json::to_string(&p.roles)?;
        let r = self.conn.execute(
            "INSERT INTO people (id, display_name, roles, secret_phc, totp_nonce, totp_sealed, failed_auths, locked, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![p.id, p.display_name, roles, p.secret_phc, nonce, sealed, p.failed_auths, p.locked, p.created_ms],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(LedgerError::AlreadyExists(format!("person {:?}", p.id)))
            }
            Err(e) => Err(LedgerError::sql("inserting a person", e)),
        }
    }

    /// Fetch one person.
    pub fn get(&self, id: &str) -> Result<Option<PersonRecord>, LedgerError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, display_name, roles, secret_phc, totp_nonce, totp_sealed, failed_auths, locked, created_ms
                 FROM people WHERE id = ?1",
                [id],
                raw_person,
            )
            .optional()?;
        row.map(|r| self.decode(r)).transpose()
    }

    /// All people, ordered by id.
    pub fn list(&self) -> Result<Vec<PersonRecord>, LedgerError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, display_name, roles, secret_phc, totp_nonce, totp_sealed, failed_auths, locked, created_ms
             FROM people ORDER BY id",
        )?;
        let raws = stmt
            .query_map([], raw_person)?
            .collect::<Result<Vec<_>, _>>()?;
        raws.into_iter().map(|r| self.decode(r)).collect()
    }

    fn decode(&self, r: RawPerson) -> Result<PersonRecord, LedgerError> {
        let roles: Vec<String> = serde_json::from_str(&r.roles)
            .map_err(|e| LedgerError::Corrupt(format!("roles of person {:?}: {e}", r.id)))?;
        let totp_secret = match (r.totp_nonce, r.totp_sealed) {
            (Some(n), Some(c)) => Some(
                blobs::open(&self.keys.data_key, &totp_aad(&r.id), &n, &c).ok_or_else(|| {
                    LedgerError::Corrupt(format!(
                        "TOTP secret of person {:?} does not decrypt (wrong data key or tampered)",
                        r.id
                    ))
                })?,
            ),
            _ => None,
        };
        Ok(PersonRecord {
            id: r.id,
            display_name: r.display_name,
            roles,
            secret_phc: r.secret_phc,
            totp_secret,
            failed_auths: r.failed_auths,
            locked: r.locked,
            created_ms: r.created_ms,
        })
    }

    fn update(&self, id: &str, sql: &str, p: &[&dyn rusqlite::ToSql]) -> Result<(), LedgerError> {
        let n = self
            .conn
            .execute(sql, p)
            .map_err(|e| LedgerError::sql("updating a person", e))?;
        if n == 0 {
            return Err(LedgerError::NotFound(format!("person {id:?}")));
        }
        Ok(())
    }

    /// Replace a person's roles.
    pub fn set_roles(&self, id: &str, roles: &[String]) -> Result<(), LedgerError> {
        let roles = serde_json::to_string(roles)?;
        self.update(
            id,
            "UPDATE people SET roles = ?2 WHERE id = ?1",
            &[&id, &roles],
        )
    }

    /// Replace a person's credentials (PHC string and TOTP secret).
    pub fn set_credentials(
        &self,
        id: &str,
        secret_phc: Option<&str>,
        totp_secret: Option<&[u8]>,
    ) -> Result<(), LedgerError> {
        let (nonce, sealed) = self.seal_totp(id, &totp_secret.map(|s| s.to_vec()))?;
        self.update(
            id,
            "UPDATE people SET secret_phc = ?2, totp_nonce = ?3, totp_sealed = ?4 WHERE id = ?1",
            &[&id, &secret_phc, &nonce, &sealed],
        )
    }

    /// Count one failed authentication; returns the new count.
    pub fn record_auth_failure(&self, id: &str) -> Result<u32, LedgerError> {
        self.conn
            .query_row(
                "UPDATE people SET failed_auths = failed_auths + 1 WHERE id = ?1 RETURNING failed_auths",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| LedgerError::sql("recording an auth failure", e))?
            .ok_or_else(|| LedgerError::NotFound(format!("person {id:?}")))
    }

    /// Reset the failure counter to zero.
    pub fn reset_auth_failures(&self, id: &str) -> Result<(), LedgerError> {
        self.update(
            id,
            "UPDATE people SET failed_auths = 0 WHERE id = ?1",
            &[&id],
        )
    }

    /// Lock or unlock a person.
    pub fn set_locked(&self, id: &str, locked: bool) -> Result<(), LedgerError> {
        self.update(
            id,
            "UPDATE people SET locked = ?2 WHERE id = ?1",
            &[&id, &locked],
        )
    }
}

struct RawPerson {
    id: String,
    display_name: String,
    roles: String,
    secret_phc: Option<String>,
    totp_nonce: Option<Vec<u8>>,
    totp_sealed: Option<Vec<u8>>,
    failed_auths: u32,
    locked: bool,
    created_ms: i64,
}

fn raw_person(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawPerson> {
    Ok(RawPerson {
        id: r.get(0)?,
        display_name: r.get(1)?,
        roles: r.get(2)?,
        secret_phc: r.get(3)?,
        totp_nonce: r.get(4)?,
        totp_sealed: r.get(5)?,
        failed_auths: r.get(6)?,
        locked: r.get(7)?,
        created_ms: r.get(8)?,
    })
}

impl crate::Ledger {
    /// Changes the people registry and appends the events recording the
    /// change in one transaction: both or neither. The registry is outside
    /// the hash chain, so this is what keeps every change to it evidenced:
    /// a crash or a full disk in between leaves neither.
    pub fn change_people<T>(
        &mut self,
        evs: &[crate::NewEvent],
        f: impl FnOnce(&People<'_>) -> Result<T, LedgerError>,
    ) -> Result<(T, Vec<crate::EventRef>), LedgerError> {
        self.write_tx("changing people", |tx, keys| {
            let out = f(&People { conn: tx, keys })?;
            let refs = crate::events::append_in_tx(tx, keys, evs)?;
            Ok((out, refs))
        })
    }
}

impl crate::Ledger {
    /// Folds `id`'s registry events ([`fold::PEOPLE_KINDS`], by the indexed
    /// person column) and compares the result with their row: `Ok(Err(why))`
    /// when they differ (`why` names the person). The engine calls this
    /// before it acts on anyone.
    pub fn verify_person(&self, id: &str) -> Result<Result<(), String>, LedgerError> {
        let mut fold = fold::PeopleFold::new();
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT seq, kind, body FROM events WHERE person = ?1 AND kind IN (?2, ?3, ?4, ?5, ?6, ?7, ?8) ORDER BY seq",
            )?;
            let k = fold::PEOPLE_KINDS;
            let mut rows = stmt.query(params![id, k[0], k[1], k[2], k[3], k[4], k[5], k[6]])?;
            while let Some(r) = rows.next()? {
                let seq: i64 = r.get(0)?;
                let kind: String = r.get(1)?;
                let body: String = r.get(2)?;
                let body: serde_json::Value = serde_json::from_str(&body)
                    .map_err(|e| LedgerError::Corrupt(format!("event {seq}'s body: {e}")))?;
                fold.apply(seq as u64, &kind, Some(id), &body);
            }
        }
        if let Some((seq, _, what)) = fold.problems.first() {
            return Ok(Err(format!("event {seq}: {what}")));
        }
        let row = People {
            conn: &self.conn,
            keys: &self.keys,
        }
        .get(id);
        match row {
            Ok(row) => Ok(fold::check_person(&self.keys, row.as_ref(), fold.get(id))),
            // A sealed TOTP secret moved from another row does not decrypt.
            Err(LedgerError::Corrupt(e)) => {
                Ok(Err(format!("person {id}: row cannot be read: {e}")))
            }
            Err(e) => Err(e),
        }
    }

    /// The keyed digest of credentials that `person.credentials_set` records
    /// ([`fold::credentials_digest`]).
    pub fn credentials_digest(
        &self,
        id: &str,
        secret_phc: Option<&str>,
        totp_secret: Option<&[u8]>,
    ) -> String {
        fold::credentials_digest(&self.keys, id, secret_phc, totp_secret)
    }
}

pub mod fold;

#[cfg(test)]
mod tests;
