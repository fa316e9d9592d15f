//! The demo finger enrollment and demo impressions of a demo data dir.
//!
//! A newcomer's kiosk has no fingerprint reader. `countersign init --demo
//! --demo-fingers` (what `scripts/run.sh` runs) enrolls Otto's right index
//! finger through the real, witnessed enrollment ([`Engine::enroll_finger`])
//! on libfprint's `virtual_image` reader, from synthetic impressions of a
//! fixed seed (`countersign_fingerprint::synth`, deterministic forever),
//! and writes demo impressions to `<data dir>/fingers/<scene>/`, which the
//! desktop app presents to its virtual reader:
//!
//! - `otto-right-index`: further impressions of the enrolled finger (genuine);
//! - `someone-else`: impressions of another synthetic finger (impostor).
//!
//! The enrolment and every attempt say `replay: true` (driver
//! `virtual_image`) in the evidence. Refused on a data dir that is not a
//! demo one.

use std::path::{Path, PathBuf};

use countersign_core::auth::totp;
use countersign_fingerprint::synth::MasterPrint;
use countersign_fingerprint::{Finger, Reader, VirtualFeeder};
use serde::Serialize;

use crate::datadir::DEMO_PEOPLE;
use crate::demo_faces::{is_demo_dir, DEMO_WITNESS};
use crate::{Engine, EngineError, FingerEnrollment};

/// Where the demo impressions live inside a data dir.
pub const FINGER_SCENES_DIR: &str = "fingers";
/// Who is enrolled with a finger in the demo, and which finger.
pub const DEMO_FINGER_PERSON: &str = "otto";
pub const DEMO_FINGER: Finger = Finger::RightIndexFinger;
/// Synthetic master prints (seeds 1 and 2 of `countersign fpgen --seed 1`:
/// BENCHMARKS.md's first eval set, where libfprint separated them).
const OTTO_SEED: u64 = 1;
const OTHER_SEED: u64 = 2;
/// Impressions 0..stages enroll; these are the genuine and impostor probes.
const PROBES: [u32; 3] = [5, 6, 7];

/// What [`Engine::install_demo_fingers`] did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoFingers {
    pub enrolled: Option<FingerEnrollment>,
    pub already_enrolled: bool,
    /// Scene folders written (or already there) under `<data dir>/fingers/`.
    pub scenes: Vec<String>,
}

fn io(what: &str, p: &Path, e: std::io::Error) -> EngineError {
    EngineError::Invalid(format!("{what} {}: {e}", p.display()))
}

fn write_scene(root: &Path, name: &str, master: &MasterPrint) -> Result<(), EngineError> {
    let to = root.join(name);
    if to.is_dir() {
        return Ok(());
    }
    let tmp: PathBuf = to.with_extension("partial");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io("cannot remove", &tmp, e))?;
    }
    if let Some(parent) = to.parent() {
        crate::datadir::create_private_dir(parent)?;
    }
    crate::datadir::create_private_dir(&tmp)?;
    for n in PROBES {
        let p = tmp.join(format!("{n:02}.png"));
        std::fs::write(&p, master.impression(n).to_png()).map_err(|e| io("cannot write", &p, e))?;
    }
    crate::datadir::set_private_tree(&tmp)?;
    std::fs::rename(&tmp, &to).map_err(|e| io("cannot create", &to, e))
}

impl Engine {
    /// Enrolls Otto's demo finger on `reader` (a `virtual_image` reader
    /// listening on `socket`) and writes the demo impressions (see the
    /// module doc). Idempotent: an existing finger enrollment and existing
    /// scenes are left alone.
    pub fn install_demo_fingers(
        &mut self,
        reader: &mut Reader,
        socket: &Path,
    ) -> Result<DemoFingers, EngineError> {
        if !is_demo_dir(self.data_dir()) {
            return Err(EngineError::Invalid(
                "demo fingers go only into a demo data dir (countersign init --demo)".into(),
            ));
        }
        let otto = MasterPrint::generate(OTTO_SEED);
        let other = MasterPrint::generate(OTHER_SEED);
        let mut report = DemoFingers {
            enrolled: None,
            already_enrolled: false,
            scenes: vec![],
        };
        if self.finger_template(DEMO_FINGER_PERSON)?.is_some() {
            report.already_enrolled = true;
        } else {
            let (secret, totp_b32) = DEMO_PEOPLE
                .iter()
                .find(|p| p.id == DEMO_WITNESS)
                .and_then(|p| p.credentials)
                .expect("the demo witness has credentials");
            let key = data_encoding::BASE32_NOPAD
                .decode(totp_b32.as_bytes())
                .expect("demo TOTP secrets are valid base32");
            let step = self.policy().supervisor.totp_step_seconds;
            let digits = self.policy().supervisor.totp_digits;
            // The next step's code (inside the policy's skew of one step):
            // the demo faces, installed just before, may have spent this one.
            let at = self.now() / 1000 + i64::from(step);
            let code = totp::code_at(&key, at, step, digits);
            let mut feeder = VirtualFeeder::new(socket);
            for n in 0..reader.enroll_stages() {
                feeder.push_image(otto.impression(n));
            }
            let e = self.enroll_finger(
                DEMO_FINGER_PERSON,
                DEMO_WITNESS,
                secret,
                &code,
                reader,
                DEMO_FINGER,
                &mut |ev| feeder.on_event(ev),
            )?;
            report.enrolled = Some(e);
        }
        let root = self.data_dir().join(FINGER_SCENES_DIR);
        for (name, master) in [("otto-right-index", &otto), ("someone-else", &other)] {
            write_scene(&root, name, master)?;
            report.scenes.push(name.into());
        }
        Ok(report)
    }
}
