//! Single use of `jti`: a store remembers every accepted assertion until it
//! expires, and refuses it a second time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::AssertionError;

/// Remembers used assertion ids until their expiry.
pub trait ReplayStore {
    /// Records `jti` (valid until `exp_s`) and returns true, or returns
    /// false if it was seen before. Forgets entries expired at `now_s`.
    fn first_use(&mut self, jti: &str, exp_s: i64, now_s: i64) -> Result<bool, AssertionError>;
}

/// In memory (one process, e.g. a web service).
#[derive(Debug, Default, Clone)]
pub struct MemoryReplayStore {
    seen: BTreeMap<String, i64>,
}

impl ReplayStore for MemoryReplayStore {
    fn first_use(&mut self, jti: &str, exp_s: i64, now_s: i64) -> Result<bool, AssertionError> {
        self.seen.retain(|_, exp| *exp > now_s);
        if self.seen.contains_key(jti) {
            return Ok(false);
        }
        self.seen.insert(jti.into(), exp_s);
        Ok(true)
    }
}

/// A JSON file (`{"jti": exp_s, ...}`), rewritten atomically (temp file,
/// fsync, rename) on every accepted assertion. For a CLI that runs once per
/// action; processes that verify concurrently should share one process's
/// store instead (the file is not locked).
#[derive(Debug, Clone)]
pub struct FileReplayStore {
    path: PathBuf,
}

impl FileReplayStore {
    pub fn new(path: impl Into<PathBuf>) -> FileReplayStore {
        FileReplayStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<BTreeMap<String, i64>, AssertionError> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                AssertionError::ReplayStore(format!("{} is corrupt: {e}", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(AssertionError::ReplayStore(format!(
                "reading {}: {e}",
                self.path.display()
            ))),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory
/// and a rename, so readers see the old or the new content, never half.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

impl ReplayStore for FileReplayStore {
    fn first_use(&mut self, jti: &str, exp_s: i64, now_s: i64) -> Result<bool, AssertionError> {
        let mut seen = self.load()?;
        seen.retain(|_, exp| *exp > now_s);
        if seen.contains_key(jti) {
            return Ok(false);
        }
        seen.insert(jti.into(), exp_s);
        let bytes = serde_json::to_vec(&seen).expect("serialisable");
        write_atomic(&self.path, &bytes).map_err(|e| {
            AssertionError::ReplayStore(format!("writing {}: {e}", self.path.display()))
        })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_refuses_second_use_and_forgets_expired() {
        let mut s = MemoryReplayStore::default();
        assert!(s.first_use("a", 100, 10).unwrap());
        assert!(!s.first_use("a", 100, 20).unwrap());
        assert!(s.first_use("a", 300, 100).unwrap());
    }

    #[test]
    fn file_store_survives_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/jti.json");
        assert!(FileReplayStore::new(&p).first_use("a", 100, 10).unwrap());
        assert!(!FileReplayStore::new(&p).first_use("a", 100, 11).unwrap());
        assert!(FileReplayStore::new(&p).first_use("b", 100, 11).unwrap());
        std::fs::write(&p, "nonsense").unwrap();
        let e = FileReplayStore::new(&p).first_use("c", 1, 1).unwrap_err();
        assert_eq!(e.code(), countersign_codes::Code::AssertionReplayStore);
    }
}
