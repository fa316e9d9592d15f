//! The fingerprint commands: reader status, the operator's fingerprint
//! attempt and a witnessed finger enrollment, each over the engine's use
//! cases (`Engine::finger_attempt`, `Engine::enroll_finger`) with the
//! reader in a helper process (`crate::finger`).

use countersign_fingerprint::Finger;

use super::*;
use crate::finger::{finger_err, AttemptReader, Fingers};

/// The reader's status and who has a finger enrolled.
pub fn finger_status(sh: &Shared, fingers: &Fingers) -> Res<ipc::FingerStatus> {
    let mut st = fingers.status()?;
    st.enrolled = sh.run(|e, _| {
        let mut out = vec![];
        for p in e.list_people()? {
            if p.roles.contains(&Role::Operator) && e.finger_template(&p.id)?.is_some() {
                out.push(p.id);
            }
        }
        Ok(out)
    })?;
    Ok(st)
}

pub fn set_finger_scene(sh: &Shared, fingers: &Fingers, scene: &str) -> Res<ipc::FingerStatus> {
    fingers.set_scene(scene)?;
    finger_status(sh, fingers)
}

/// "Verify me" with a finger (the act of intent), then one verification on
/// the reader against the operator's template, recorded with its evidence.
/// A reader that is not there or goes away is the device-unavailable
/// trigger; libfprint's "scan again" and no finger in time are quality
/// failures. The session's attempt regime is the face path's.
pub fn verify_finger(sh: &Shared, fingers: &Fingers, session_id: &str) -> Res<ipc::StepupView> {
    let opened = fingers.open(None)?;
    let view = sh.on_session(session_id, |e, s| {
        e.apply(s, SessionEvent::Intent)?;
        match opened {
            AttemptReader::Unavailable {
                device,
                virtual_reader,
                error,
            } => e.finger_reader_unavailable(s, &device, virtual_reader, &error),
            AttemptReader::Open(mut open) => {
                let (reader, feeder) = open.parts();
                e.finger_attempt(s, reader, &mut |ev| fingers.on_event(feeder, ev))
                    .map(drop)
            }
        }
    });
    fingers.done();
    view
}

/// A finger enrollment on the reader, witnessed by a supervisor with two
/// factors (the engine checks roles and self-witness and records it all).
/// The demo's virtual reader is given the chosen scene's impressions.
pub fn enroll_finger(
    sh: &Shared,
    fingers: &Fingers,
    r: ipc::FingerEnrollRequest,
) -> Res<ipc::FingerEnrollResult> {
    sh.require(countersign_engine::ConsoleRole::Admin, "enroll_finger")?;
    let finger: Finger = serde_json::from_value(serde_json::Value::String(r.finger.clone()))
        .map_err(|_| {
            IpcError::from(EngineError::Invalid(format!(
                "unknown finger {:?} (e.g. right-index-finger, left-thumb)",
                r.finger
            )))
        })?;
    let presentations = if fingers.is_virtual() {
        // libfprint's virtual_image asks for 5 impressions.
        Some(fingers.enrollment_presentations(5)?)
    } else {
        None
    };
    let mut open = match fingers.open(presentations)? {
        AttemptReader::Open(o) => o,
        AttemptReader::Unavailable { error, .. } => {
            fingers.done();
            return Err(finger_err(&error));
        }
    };
    let result = sh.run(|e, _| {
        let (reader, feeder) = open.parts();
        e.enroll_finger(
            &r.person,
            &r.witness,
            &r.secret,
            &r.otp,
            reader,
            finger,
            &mut |ev| fingers.on_event(feeder, ev),
        )
    });
    fingers.done();
    let en = result?;
    Ok(ipc::FingerEnrollResult {
        person: en.person,
        finger: en.finger.name().into(),
        witness: en.witness,
        template_sha256: en.template_sha256,
        impressions: en.impressions as u32,
        device_id: en.device.id,
        virtual_reader: en.device.replay,
    })
}
