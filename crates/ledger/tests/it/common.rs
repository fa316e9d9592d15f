use std::path::{Path, PathBuf};

use countersign_ledger::{EventIndex, Keys, Ledger, NewEvent};

pub fn event(i: u64) -> NewEvent {
    NewEvent {
        ts_ms: 1_000 + i as i64,
        kind: if i & 1 == 0 {
            "match.attempt"
        } else {
            "stepup.requested"
        }
        .into(),
        index: EventIndex {
            person: Some(format!("p{}", i % 3)),
            outcome: Some("success".into()),
            ..Default::default()
        },
        body: serde_json::json!({"i": i, "note": "hello"}),
    }
}

/// A ledger file with keys in `dir`.
pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub db: PathBuf,
    pub keys: Keys,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::generate(&dir.path().join("keys")).unwrap();
        let db = dir.path().join("ledger.db");
        Fixture {
            _dir: dir,
            db,
            keys,
        }
    }

    pub fn open(&self) -> Ledger {
        Ledger::open(&self.db, self.keys.clone()).unwrap()
    }

    pub fn key_dir(&self) -> PathBuf {
        self._dir.path().join("keys")
    }
}

/// Raw connection to a ledger file with the append-only triggers dropped,
/// as an attacker with file access would do.
pub fn raw(db: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db).unwrap();
    let triggers: Vec<String> = {
        let mut s = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert!(!triggers.is_empty(), "expected append-only triggers");
    for t in triggers {
        c.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    c
}
