//! The demo enrollment and replay scenes of a demo data dir.
//!
//! A newcomer's kiosk has no camera and nobody enrolled. `countersign init
//! --demo --demo-faces DIR` (what `scripts/run.sh` runs) fixes both from a
//! folder of public-domain photos (`assets/demo/faces`):
//!
//! - `enroll/<person>/*`: each person is enrolled through the real,
//!   witnessed enrollment ([`Engine::enroll_face`]) from a replay of those
//!   photos. The witness is the demo supervisor [`DEMO_WITNESS`], who
//!   authenticates with two factors computed from the published demo
//!   credentials, so the ledger holds the same evidence as a real enrollment.
//! - `scenes/<name>/*`: copied to `<data dir>/replay/<name>/`, where the
//!   desktop app finds its replay camera when no camera is attached. Each
//!   scene is a burst of frames: a genuine one, an impostor, a still photo.
//!
//! Refused on a data dir that is not a demo one: published credentials must
//! never enroll anybody on a real kiosk.

use std::path::{Path, PathBuf};

use countersign_capture::replay::{ReplayOptions, ReplaySource};
use countersign_core::auth::totp;
use countersign_matcher::Matcher;
use serde::Serialize;

use crate::datadir::{DEMO_PEOPLE, MARKER};
use crate::{Engine, EngineError, FaceEnrollment};

/// Who witnesses the demo enrollments. Not `sam`: a TOTP code is accepted
/// once per step, and the demo's supervisor journey starts with sam.
pub const DEMO_WITNESS: &str = "sue";
/// Where the replay scenes live inside a data dir.
pub const REPLAY_DIR: &str = "replay";

/// What [`Engine::install_demo_faces`] did.
#[derive(Debug, Clone, Serialize)]
pub struct DemoFaces {
    pub enrolled: Vec<FaceEnrollment>,
    /// People who already had a face template (left as they were).
    pub already_enrolled: Vec<String>,
    /// Scene names copied into `<data dir>/replay/`.
    pub scenes: Vec<String>,
}

fn invalid(msg: String) -> EngineError {
    EngineError::Invalid(msg)
}

fn io(what: &str, p: &Path, e: std::io::Error) -> EngineError {
    invalid(format!("{what} {}: {e}", p.display()))
}

/// Sub-folders of `dir`, sorted by name.
fn sub_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, EngineError> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).map_err(|e| io("cannot read", dir, e))? {
        let entry = entry.map_err(|e| io("cannot read", dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            out.push((name, path));
        }
    }
    out.sort();
    Ok(out)
}

/// True when the data dir was created with `init --demo`.
pub fn is_demo_dir(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(MARKER))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["demo"].as_bool())
        .unwrap_or(false)
}

impl Engine {
    /// Enrolls the demo people from `faces/enroll/<person>/` and installs
    /// the replay scenes from `faces/scenes/<name>/` (see the module doc).
    /// Idempotent: enrolled people and existing scenes are left alone.
    pub fn install_demo_faces(
        &mut self,
        faces: &Path,
        matcher: &Matcher,
    ) -> Result<DemoFaces, EngineError> {
        if !is_demo_dir(self.data_dir()) {
            return Err(invalid(
                "demo faces go only into a demo data dir (countersign init --demo)".into(),
            ));
        }
        if !faces.is_dir() {
            return Err(invalid(format!(
                "{} is not a folder of demo faces (expected enroll/<person>/ and scenes/<name>/)",
                faces.display()
            )));
        }
        let witness = DEMO_PEOPLE
            .iter()
            .find(|p| p.id == DEMO_WITNESS)
            .and_then(|p| p.credentials)
            .expect("the demo witness has credentials");
        let totp_key = data_encoding::BASE32_NOPAD
            .decode(witness.1.as_bytes())
            .expect("demo TOTP secrets are valid base32");
        let mut report = DemoFaces {
            enrolled: vec![],
            already_enrolled: vec![],
            scenes: vec![],
        };
        for (person, dir) in sub_dirs(&faces.join("enroll"))? {
            if self.face_template(&person)?.is_some() {
                report.already_enrolled.push(person);
                continue;
            }
            let mut source = ReplaySource::open(
                &[dir],
                ReplayOptions {
                    rate_hz: 0.0,
                    looping: false,
                    resolution: None,
                },
            )
            .map_err(EngineError::Capture)?;
            let photos = source.files().len();
            let step = self.policy().supervisor.totp_step_seconds;
            let digits = self.policy().supervisor.totp_digits;
            let code = totp::code_at(&totp_key, self.now() / 1000, step, digits);
            let e = self.enroll_face(
                &person,
                DEMO_WITNESS,
                witness.0,
                &code,
                matcher,
                &mut source,
                photos,
            )?;
            report.enrolled.push(e);
        }
        let replay = self.data_dir().join(REPLAY_DIR);
        for (name, dir) in sub_dirs(&faces.join("scenes"))? {
            let to = replay.join(&name);
            if !to.is_dir() {
                copy_scene(&dir, &to)?;
            }
            report.scenes.push(name);
        }
        Ok(report)
    }
}

/// Copies one scene's files into a fresh folder (through a temporary name,
/// so a crash never leaves half a scene under the real name).
fn copy_scene(from: &Path, to: &Path) -> Result<(), EngineError> {
    let tmp = to.with_extension("partial");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io("cannot remove", &tmp, e))?;
    }
    if let Some(parent) = to.parent() {
        crate::datadir::create_private_dir(parent)?;
    }
    crate::datadir::create_private_dir(&tmp)?;
    for entry in std::fs::read_dir(from).map_err(|e| io("cannot read", from, e))? {
        let p = entry.map_err(|e| io("cannot read", from, e))?.path();
        if p.is_file() {
            let name = p.file_name().expect("a file has a name");
            std::fs::copy(&p, tmp.join(name)).map_err(|e| io("cannot copy", &p, e))?;
        }
    }
    crate::datadir::set_private_tree(&tmp)?;
    std::fs::rename(&tmp, to).map_err(|e| io("cannot create", to, e))
}
