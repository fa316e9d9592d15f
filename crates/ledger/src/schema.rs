//! Migration runner. Each table module owns its migration SQL; this runner
//! applies them in order and records progress in SQLite's `user_version`.

use rusqlite::Connection;

use crate::{blobs, chain_head, checkpoints, events, people, sync_state, LedgerError};

/// One schema step.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// All migrations, in order. Versions must be 1, 2, 3, ...
pub(crate) const MIGRATIONS: &[Migration] = &[
    events::MIGRATION,
    chain_head::MIGRATION,
    checkpoints::MIGRATION,
    blobs::MIGRATION,
    people::MIGRATION,
    sync_state::MIGRATION,
    sync_state::MIGRATION_BLOB_INDEX,
];

/// Latest schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, LedgerError> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(LedgerError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|e| LedgerError::sql(&format!("migrating schema ({})", m.name), e))?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()
            .map_err(|e| LedgerError::sql("committing schema migration", e))?;
    }
    Ok(SCHEMA_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_sequential_and_migration_is_idempotent() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        assert_eq!(migrate(&mut c).unwrap(), SCHEMA_VERSION);
        let v: u32 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn newer_schema_is_refused() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut c),
            Err(LedgerError::SchemaTooNew { .. })
        ));
    }
}
