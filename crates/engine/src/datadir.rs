//! The data dir: `countersign.json` (marker, kiosk id), `policy.toml`,
//! `keys/` (Ed25519 signing key, data key: 0600) and `ledger.db`.
//!
//! `init` builds the whole dir beside the target and renames it into place,
//! so a failed init leaves nothing half-written.
//!
//! **Files are private, whatever the umask.** The data dir and every
//! directory in it are 0700, every file 0600: set explicitly where the
//! engine creates them ([`write_private`], [`create_private_dir`], the
//! ledger file made 0600 before SQLite opens it, so SQLite's `-wal` and
//! `-shm`, which take the database file's mode, are 0600 too), and
//! narrowed again by every `open` ([`secure_tree`]) for files written by
//! older versions or by hand (`sync.toml`). A data dir, or anything in it,
//! that group or other can *write* is refused (`datadir.insecure`): someone
//! else could have changed the policy, the registries or the keys, so the
//! engine does not guess; an admin inspects it and fixes the mode.

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
    /// The first administrator (not with `demo`, whose admin is ada with
    /// published credentials). Nobody can add people to a data dir without
    /// an admin, so a real kiosk needs this.
    pub admin: Option<FirstAdmin>,
}

/// The first administrator `init` creates: the memorised secret comes
/// from whoever runs `init`; the TOTP secret is made here and shown once
/// ([`InitReport::admin`]).
#[derive(Clone)]
pub struct FirstAdmin {
    pub id: String,
    pub display_name: String,
    pub secret: String,
}

impl std::fmt::Debug for FirstAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstAdmin")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub data_dir: PathBuf,
    pub kiosk_id: String,
    pub public_key: String,
    pub already_initialized: bool,
    pub demo_people: Vec<String>,
    /// The first admin's TOTP provisioning: shown once, never stored in clear.
    pub admin: Option<crate::Provisioning>,
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

    /// [`DataDir::is_initialized`] for someone who must tell "not yet"
    /// from "cannot look" (the app's start screen): the marker's absence is
    /// `false`, a path that cannot be read (not a directory, no permission)
    /// is an error. The one rule; the app asks this, not the key files.
    pub fn check_initialized(&self) -> Result<bool, EngineError> {
        let p = self.root.join(MARKER);
        match std::fs::metadata(&p) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(EngineError::io("reading the data dir's marker", &p)(e)),
        }
    }

    /// Creates a data dir. See the module docs for atomicity.
    pub fn init(&self, opts: &InitOptions, clock: &dyn Clock) -> Result<InitReport, EngineError> {
        crate::anchor::check_outside(&self.root)?;
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
                    admin: None,
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
        crate::calibration::require_cited_report(None, &Policy::from_toml(&policy_src)?)?;
        if opts.demo && opts.admin.is_some() {
            return Err(EngineError::Invalid(
                "a demo data dir's admin is ada, with published credentials; give no admin with --demo".into(),
            ));
        }
        if let Some(a) = &opts.admin {
            countersign_core::people::validate_id(&a.id).map_err(EngineError::Invalid)?;
        }
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
        create_private_dir(staging)?;
        create_private_dir(&dd.keys_dir())?;
        let keys = Keys::generate(&dd.keys_dir())?;
        let public_key = keys.verifying_key_hex();
        write_private(&dd.policy_path(), policy_src.as_bytes())?;
        let now = clock.now_ms();
        let kiosk_id = Engine::new_id("kiosk");
        create_private_file(&dd.ledger_path())?;
        let mut ledger = Ledger::open(&dd.ledger_path(), keys)?;
        // The anchor starts with the first event, outside the data dir.
        ledger.set_anchor(crate::anchor::guard_for(&kiosk_id, staging)?);
        ledger.append(
            &Ev::new(kinds::KIOSK_INITIALIZED, now, json!({ "kiosk_id": kiosk_id, "public_key": public_key, "demo": opts.demo, "version": env!("CARGO_PKG_VERSION") }))
                .build(),
        )?;
        ledger.append(&policy_event(policy_src, now, "init", None))?;
        drop(ledger);
        let marker = Marker {
            kiosk_id: kiosk_id.clone(),
            created_ms: now,
            demo: opts.demo,
            format: 1,
        };
        let mut demo_people = vec![];
        let mut admin = None;
        // The engine's own open path writes the people, so demo and real
        // people go through the same checks and leave the same evidence.
        write_marker(staging, &marker)?;
        if let Some(a) = &opts.admin {
            let mut engine = DataDir::new(staging.to_path_buf()).open(Box::new(FixedClock(now)))?;
            engine.add_person_by(&a.id, &a.display_name, [Role::Admin], "init")?;
            let totp: [u8; 20] = rand::random();
            admin = Some(engine.set_credentials_with(&a.id, &a.secret, totp.to_vec(), "init")?);
        }
        if opts.demo {
            let mut engine = DataDir::new(staging.to_path_buf()).open(Box::new(FixedClock(now)))?;
            for p in DEMO_PEOPLE {
                let id = p.id;
                engine.add_person_by(id, p.name, p.roles.iter().copied(), "init --demo")?;
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
            admin,
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
    /// hash differs from the last one logged), ledger. Refused when the
    /// ledger disagrees with the local anchor or an alarm is raised
    /// (`anchor.*`, see `anchor.rs`).
    pub fn open(self, clock: Box<dyn Clock>) -> Result<Engine, EngineError> {
        self.open_with(clock, true)
    }

    /// [`DataDir::open`]; with `strict` false an anchor problem does not
    /// refuse the open (the anchor still refuses every write, and the open
    /// writes nothing): for reading and investigation.
    pub fn open_with(self, clock: Box<dyn Clock>, strict: bool) -> Result<Engine, EngineError> {
        if !self.is_initialized() {
            return Err(EngineError::NotInitialized(self.root.clone()));
        }
        secure_tree(&self.root)?;
        let marker = self.read_marker()?;
        let keys = Keys::load(&self.keys_dir())?;
        let policy_path = self.policy_path();
        let src = std::fs::read_to_string(&policy_path)
            .map_err(EngineError::io("reading the policy", &policy_path))?;
        let mut ledger = Ledger::open(&self.ledger_path(), keys)?;
        ledger.guard_clock(crate::CLOCK_TOLERANCE_MS);
        ledger.set_anchor(crate::anchor::guard_for(&marker.kiosk_id, &self.root)?);
        let anchored = match ledger.anchor_check() {
            Ok(()) => true,
            Err(e) if strict => return Err(e.into()),
            Err(_) => false,
        };
        let policy = policy_in_force(&mut ledger, &src, clock.now_ms(), anchored)?;
        let mut engine = Engine {
            dir: self,
            policy,
            ledger,
            clock,
            kiosk_id: marker.kiosk_id,
        };
        if anchored {
            engine.attest_unrecorded_credentials()?;
        }
        Ok(engine)
    }
}

#[derive(Debug)]
struct FixedClock(i64);
impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// The policy the engine runs on. A policy changes only through
/// [`Engine::apply_policy`] (an admin with two factors), which writes the
/// file and logs `policy.loaded` with the source. A `policy.toml` that
/// differs from the last policy logged was changed by someone else: it is
/// not used (the last logged one is), and the refusal is logged once per
/// distinct file (`policy.refused`, with the file's hash). Data dirs whose
/// ledger logged no policy source (none exist: `init` logs it) use the file.
/// With `record` false (an audit open of a ledger the anchor holds back)
/// nothing is logged.
fn policy_in_force(
    ledger: &mut Ledger,
    src: &str,
    now: i64,
    record: bool,
) -> Result<Policy, EngineError> {
    let sha = policy_sha(src);
    let logged = ledger.latest(&Filter {
        kinds: vec![kinds::POLICY_LOADED.into()],
        ..Filter::default()
    })?;
    let logged_src = logged
        .as_ref()
        .and_then(|r| r.body.get("policy"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let Some(logged_src) = logged_src else {
        let policy = Policy::from_toml(src)?;
        if record {
            ledger.append(&policy_event(src, now, "changed on disk", None))?;
        }
        return Ok(policy);
    };
    if policy_sha(&logged_src) != sha {
        let refused = ledger
            .latest(&Filter {
                kinds: vec![kinds::POLICY_REFUSED.into()],
                ..Filter::default()
            })?
            .filter(|r| r.seq > logged.as_ref().map_or(0, |l| l.seq))
            .and_then(|r| {
                r.body
                    .get("sha256")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            });
        if record && refused.as_deref() != Some(sha.as_str()) {
            ledger.append(
                &Ev::new(
                    kinds::POLICY_REFUSED,
                    now,
                    json!({
                        "sha256": sha,
                        "in_force": policy_sha(&logged_src),
                        "refusal": "policy.unapproved",
                        "why": "policy.toml was changed without `countersign policy apply` (an admin with two factors); the last applied policy stays in force",
                    }),
                )
                .outcome("refused")
                .build(),
            )?;
        }
    }
    Ok(Policy::from_toml(&logged_src)?)
}

impl Engine {
    /// Puts a new policy in force (an admin's act): validated, written to
    /// `policy.toml` (temporary file, rename) and logged as `policy.loaded`
    /// with its source and the admin, in that order, so the file never
    /// holds a policy the ledger does not.
    pub fn apply_policy(
        &mut self,
        pass: &crate::AdminPass,
        src: &str,
    ) -> Result<String, EngineError> {
        let by = self.admin_act(pass)?;
        let policy = Policy::from_toml(src)?;
        crate::calibration::require_cited_report(Some(&self.ledger), &policy)?;
        let now = self.now();
        let mut ev = policy_event(src, now, "applied", Some(&by));
        // Going below the model's floor on this kiosk's own evidence is
        // recorded with the report it rests on.
        if let Some(h) = &policy.matching.calibration_report_sha256 {
            ev.body["calibration_report_sha256"] = json!(h.to_ascii_lowercase());
        }
        self.ledger.append(&ev)?;
        let path = self.dir.policy_path();
        countersign_assertion::write_atomic(&path, src.as_bytes())
            .map_err(EngineError::io("writing the policy", &path))?;
        self.policy = policy;
        Ok(policy_sha(src))
    }
}

impl Engine {
    /// The source of the policy in force and its SHA-256: the last one
    /// logged (`policy.loaded`), which is what [`policy_in_force`] runs on,
    /// else the file. For the admin console's view and diff.
    pub fn policy_source(&self) -> Result<(String, String), EngineError> {
        let logged = self.ledger.latest(&Filter {
            kinds: vec![kinds::POLICY_LOADED.into()],
            ..Filter::default()
        })?;
        let src = match logged
            .as_ref()
            .and_then(|r| r.body.get("policy"))
            .and_then(|v| v.as_str())
        {
            Some(s) => s.to_string(),
            None => {
                let path = self.dir.policy_path();
                std::fs::read_to_string(&path)
                    .map_err(EngineError::io("reading the policy", &path))?
            }
        };
        let sha = policy_sha(&src);
        Ok((src, sha))
    }

    /// The checks [`Engine::apply_policy`] makes before it writes anything
    /// (parse, validation, a cited calibration report), without applying.
    pub fn check_policy(&self, src: &str) -> Result<(), EngineError> {
        let policy = Policy::from_toml(src)?;
        crate::calibration::require_cited_report(Some(&self.ledger), &policy)?;
        Ok(())
    }
}

fn policy_sha(src: &str) -> String {
    hex::encode(Sha256::digest(src.as_bytes()))
}

fn policy_event(src: &str, now: i64, why: &str, by: Option<&str>) -> countersign_ledger::NewEvent {
    let mut body = json!({ "sha256": policy_sha(src), "why": why, "policy": src });
    if let Some(by) = by {
        body["by"] = json!(by);
    }
    Ev::new(kinds::POLICY_LOADED, now, body).build()
}

/// The marker of a restored data dir (`recovery.rs`), from its
/// `kiosk.initialized` event.
pub(crate) fn write_marker_for(
    dir: &Path,
    kiosk_id: &str,
    created_ms: i64,
    demo: bool,
) -> Result<(), EngineError> {
    write_marker(
        dir,
        &Marker {
            kiosk_id: kiosk_id.into(),
            created_ms,
            demo,
            format: 1,
        },
    )
}

fn write_marker(dir: &Path, marker: &Marker) -> Result<(), EngineError> {
    let p = dir.join(MARKER);
    let text = serde_json::to_string_pretty(marker).expect("marker serialises");
    write_private(&p, text.as_bytes())
}

pub(crate) use crate::private_files::{
    create_private_dir, create_private_file, secure_tree, set_private_tree, write_private,
};
