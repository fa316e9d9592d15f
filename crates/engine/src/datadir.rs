//! The data dir: `countersign.json` (marker, kiosk id), `policy.toml`,
//! `keys/` (Ed25519 signing key, data key: 0600) and `ledger.db`.
//!
//! `init` builds the whole dir beside the target and renames it into place,
//! so a failed init leaves nothing half-written.

use std::path::{Path, PathBuf};

use countersign_core::policy::DEFAULT_POLICY_TOML;
use countersign_core::{Policy, Role};
use countersign_ledger::{Filter, Keys, Ledger};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::evidence::{kinds, Ev};
use crate::{Clock, Engine, EngineError};

pub const MARKER: &str = "countersign.json";
pub const POLICY_FILE: &str = "policy.toml";
pub const LEDGER_FILE: &str = "ledger.db";
pub const KEYS_DIR: &str = "keys";

/// The demo people of `init --demo`: id, name, roles, memorised secret and
/// TOTP secret (base32). Published on purpose: a demo data dir is marked as
/// such in its `kiosk.initialized` event and must never guard anything real.
pub const DEMO_PEOPLE: &[DemoPerson] = &[
    DemoPerson {
        id: "olga",
        name: "Olga Operator",
        roles: &[Role::Operator],
        credentials: None,
    },
    DemoPerson {
        id: "otto",
        name: "Otto Operator",
        roles: &[Role::Operator],
        credentials: None,
    },
    DemoPerson {
        id: "sam",
        name: "Sam Supervisor",
        roles: &[Role::Supervisor],
        credentials: Some(("sam-demo-pass", "MNXXK3TUMVZHG2LHNYWWIYLN")),
    },
    DemoPerson {
        id: "sue",
        name: "Sue Supervisor",
        roles: &[Role::Supervisor, Role::Operator],
        credentials: Some(("sue-demo-pass", "MNXXK3TUMVZHG2LHNYWXG5LF")),
    },
    DemoPerson {
        id: "rita",
        name: "Rita Reviewer",
        roles: &[Role::Reviewer],
        credentials: Some(("rita-demo-pass", "MNXXK3TUMVZHG2LHNYWXE2LU")),
    },
    DemoPerson {
        id: "ada",
        name: "Ada Admin",
        roles: &[Role::Admin],
        credentials: Some(("ada-demo-pass", "MNXXK3TUMVZHG2LHNYWWCZDB")),
    },
];

/// One demo person; `credentials` is (memorised secret, TOTP secret in base32).
#[derive(Debug, Clone, Copy)]
pub struct DemoPerson {
    pub id: &'static str,
    pub name: &'static str,
    pub roles: &'static [Role],
    pub credentials: Option<(&'static str, &'static str)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    kiosk_id: String,
    created_ms: i64,
    demo: bool,
    format: u32,
}

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    pub demo: bool,
    /// Succeed without changes when the dir is already initialised.
    pub if_missing: bool,
    /// A policy file to install instead of the default.
    pub policy_toml: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub data_dir: PathBuf,
    pub kiosk_id: String,
    pub public_key: String,
    pub already_initialized: bool,
    pub demo_people: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: PathBuf) -> DataDir {
        DataDir { root }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn policy_path(&self) -> PathBuf {
        self.root.join(POLICY_FILE)
    }
    pub fn ledger_path(&self) -> PathBuf {
        self.root.join(LEDGER_FILE)
    }
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join(KEYS_DIR)
    }
    pub fn is_initialized(&self) -> bool {
        self.root.join(MARKER).is_file()
    }

    /// Creates a data dir. See the module docs for atomicity.
    pub fn init(&self, opts: &InitOptions, clock: &dyn Clock) -> Result<InitReport, EngineError> {
        if self.is_initialized() {
            if opts.if_missing {
                let marker = self.read_marker()?;
                let keys = Keys::load(&self.keys_dir())?;
                return Ok(InitReport {
                    data_dir: self.root.clone(),
                    kiosk_id: marker.kiosk_id,
                    public_key: keys.verifying_key_hex(),
                    already_initialized: true,
                    demo_people: vec![],
                });
            }
            return Err(EngineError::AlreadyInitialized(self.root.clone()));
        }
        if self.root.exists()
            && std::fs::read_dir(&self.root)
                .map_err(EngineError::io("reading the data dir", &self.root))?
                .next()
                .is_some()
        {
            return Err(EngineError::Invalid(format!(
                "{} exists and is not empty; choose an empty or new directory",
                self.root.display()
            )));
        }
        let policy_src = opts
            .policy_toml
            .clone()
            .unwrap_or_else(|| DEFAULT_POLICY_TOML.to_string());
        Policy::from_toml(&policy_src)?;
        let parent = self
            .root
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(EngineError::io("creating the parent directory", parent))?;
        let name = self
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data".into());
        let staging = parent.join(format!(".{name}.init-{}", Engine::new_id("tmp")));
        let result = Self::build(&staging, opts, &policy_src, clock);
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        if self.root.exists() {
            std::fs::remove_dir(&self.root)
                .map_err(EngineError::io("replacing the empty data dir", &self.root))?;
        }
        std::fs::rename(&staging, &self.root).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staging);
            EngineError::Io {
                context: "moving the new data dir into place",
                path: self.root.clone(),
                source: e,
            }
        })?;
        Ok(InitReport {
            data_dir: self.root.clone(),
            ..report
        })
    }

    fn build(
        staging: &Path,
        opts: &InitOptions,
        policy_src: &str,
        clock: &dyn Clock,
    ) -> Result<InitReport, EngineError> {
        let dd = DataDir::new(staging.to_path_buf());
        std::fs::create_dir_all(dd.keys_dir())
            .map_err(EngineError::io("creating the keys dir", staging))?;
        set_private_dir(&dd.keys_dir())?;
        let keys = Keys::generate(&dd.keys_dir())?;
        let public_key = keys.verifying_key_hex();
        std::fs::write(dd.policy_path(), policy_src)
            .map_err(EngineError::io("writing the policy", staging))?;
        let now = clock.now_ms();
        let kiosk_id = Engine::new_id("kiosk");
        let mut ledger = Ledger::open(&dd.ledger_path(), keys)?;
        ledger.append(
            &Ev::new(kinds::KIOSK_INITIALIZED, now, json!({ "kiosk_id": kiosk_id, "public_key": public_key, "demo": opts.demo, "version": env!("CARGO_PKG_VERSION") }))
                .build(),
        )?;
        ledger.append(&policy_event(policy_src, now, "init"))?;
        drop(ledger);
        let marker = Marker {
            kiosk_id: kiosk_id.clone(),
            created_ms: now,
            demo: opts.demo,
            format: 1,
        };
        let mut demo_people = vec![];
        // The engine's own open path writes the people, so demo and real
        // people go through the same checks and leave the same evidence.
        write_marker(staging, &marker)?;
        if opts.demo {
            let mut engine = DataDir::new(staging.to_path_buf()).open(Box::new(FixedClock(now)))?;
            for p in DEMO_PEOPLE {
                let id = p.id;
                engine.add_person(id, p.name, p.roles.iter().copied(), "init --demo")?;
                if let Some((secret, totp_b32)) = p.credentials {
                    let totp = data_encoding::BASE32_NOPAD
                        .decode(totp_b32.as_bytes())
                        .expect("demo TOTP secrets are valid base32");
                    engine.set_credentials_with(id, secret, totp, "init --demo")?;
                }
                demo_people.push(id.to_string());
            }
        }
        Ok(InitReport {
            data_dir: staging.to_path_buf(),
            kiosk_id,
            public_key,
            already_initialized: false,
            demo_people,
        })
    }

    fn read_marker(&self) -> Result<Marker, EngineError> {
        let p = self.root.join(MARKER);
        let text = std::fs::read_to_string(&p)
            .map_err(EngineError::io("reading the data dir marker", &p))?;
        serde_json::from_str(&text)
            .map_err(|e| EngineError::Invalid(format!("{} is malformed: {e}", p.display())))
    }

    /// Opens the dir: keys, policy (logging a `policy.loaded` event when its
    /// hash differs from the last one logged), ledger.
    pub fn open(self, clock: Box<dyn Clock>) -> Result<Engine, EngineError> {
        if !self.is_initialized() {
            return Err(EngineError::NotInitialized(self.root.clone()));
        }
        let marker = self.read_marker()?;
        let keys = Keys::load(&self.keys_dir())?;
        let policy_path = self.policy_path();
        let src = std::fs::read_to_string(&policy_path)
            .map_err(EngineError::io("reading the policy", &policy_path))?;
        let policy = Policy::from_toml(&src)?;
        let mut ledger = Ledger::open(&self.ledger_path(), keys)?;
        ledger.guard_clock(crate::CLOCK_TOLERANCE_MS);
        let sha = policy_sha(&src);
        let logged = ledger
            .latest(&Filter {
                kinds: vec![kinds::POLICY_LOADED.into()],
                ..Filter::default()
            })?
            .as_ref()
            .and_then(|r| r.body.get("sha256"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        if logged.as_deref() != Some(sha.as_str()) {
            ledger.append(&policy_event(&src, clock.now_ms(), "changed on disk"))?;
        }
        Ok(Engine {
            dir: self,
            policy,
            ledger,
            clock,
            kiosk_id: marker.kiosk_id,
            score_source: "matcher".into(),
            attempt_evidence: None,
        })
    }
}

#[derive(Debug)]
struct FixedClock(i64);
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

fn policy_sha(src: &str) -> String {
    hex::encode(Sha256::digest(src.as_bytes()))
}

fn policy_event(src: &str, now: i64, why: &str) -> countersign_ledger::NewEvent {
    Ev::new(
        kinds::POLICY_LOADED,
        now,
        json!({ "sha256": policy_sha(src), "why": why, "policy": src }),
    )
    .build()
}

fn write_marker(dir: &Path, marker: &Marker) -> Result<(), EngineError> {
    let p = dir.join(MARKER);
    let text = serde_json::to_string_pretty(marker).expect("marker serialises");
    std::fs::write(&p, text).map_err(EngineError::io("writing the data dir marker", &p))
}

#[cfg(unix)]
fn set_private_dir(p: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))
        .map_err(EngineError::io("restricting the keys dir", p))
}

#[cfg(not(unix))]
fn set_private_dir(_p: &Path) -> Result<(), EngineError> {
    Ok(())
}
