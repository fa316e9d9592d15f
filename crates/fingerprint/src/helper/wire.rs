//! What crosses the pipe between a caller and its fingerprint helper: one
//! JSON object per line, requests one way and replies the other, with the
//! conversions from and to the crate's types (samples as base64 grey
//! pixels, errors with their code and fallback trigger).

use std::path::PathBuf;

use countersign_capture::{CaptureError, DeviceInfo};
use data_encoding::BASE64;
use serde::{Deserialize, Serialize};

use crate::finger::Finger;
use crate::reader::{Impression, ReaderEvent, ReaderSpec};
use crate::synth::GreyImage;
use crate::FingerprintError;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(super) enum Request {
    List { virtual_socket: Option<PathBuf> },
    Open { spec: ReaderSpec, timeout_ms: u64 },
    Capture,
    Enroll { finger: Finger },
    Verify { template: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WireImpression {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) pixels: String,
    pub(super) ppmm: f64,
    pub(super) captured_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum WireEvent {
    AwaitingFinger { op: String, stage: u32, stages: u32 },
    Retry { reason: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum WireError {
    NotFound { device: String, detail: String },
    Unplugged { device: String, detail: String },
    Busy { device: String, detail: String },
    NoPermission { device: String, detail: String },
    DeviceOther { device: String, detail: String },
    Retry { device: String, reason: String },
    NoImage { device: String },
    Duplicate { owner: Option<String> },
    Template { message: String },
    TimedOut { device: String, secs: u64 },
    Libfprint { message: String },
    Io { context: String, message: String },
    Invalid { message: String },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Reply {
    Hello(String),
    Listed(Vec<DeviceInfo>),
    Opened {
        info: DeviceInfo,
        stages: u32,
    },
    Event(WireEvent),
    Captured(WireImpression),
    Enrolled {
        template: String,
        impressions: Vec<WireImpression>,
        stages: u32,
    },
    Verified {
        matched: bool,
        probe: Option<WireImpression>,
    },
    Error(WireError),
}

pub(super) fn to_wire_impression(i: &Impression) -> WireImpression {
    WireImpression {
        width: i.image.width,
        height: i.image.height,
        pixels: BASE64.encode(&i.image.pixels),
        ppmm: i.ppmm,
        captured_ms: i.captured_ms,
    }
}

pub(super) fn from_wire_impression(w: WireImpression) -> Result<Impression, FingerprintError> {
    let pixels = BASE64
        .decode(w.pixels.as_bytes())
        .map_err(|e| protocol(format!("impression pixels: {e}")))?;
    if pixels.len() != (w.width as usize) * (w.height as usize) {
        return Err(protocol(format!(
            "impression of {}x{} with {} pixels",
            w.width,
            w.height,
            pixels.len()
        )));
    }
    Ok(Impression {
        image: GreyImage {
            width: w.width,
            height: w.height,
            pixels,
        },
        ppmm: w.ppmm,
        captured_ms: w.captured_ms,
    })
}

pub(super) fn to_wire_event(e: &ReaderEvent) -> WireEvent {
    match e {
        ReaderEvent::AwaitingFinger { op, stage, stages } => WireEvent::AwaitingFinger {
            op: (*op).to_string(),
            stage: *stage,
            stages: *stages,
        },
        ReaderEvent::Retry { reason } => WireEvent::Retry {
            reason: reason.clone(),
        },
    }
}

pub(super) fn from_wire_event(e: WireEvent) -> ReaderEvent {
    match e {
        WireEvent::AwaitingFinger { op, stage, stages } => ReaderEvent::AwaitingFinger {
            op: match op.as_str() {
                "enroll" => "enroll",
                "verify" => "verify",
                _ => "capture",
            },
            stage,
            stages,
        },
        WireEvent::Retry { reason } => ReaderEvent::Retry { reason },
    }
}

pub(super) fn to_wire_error(e: &FingerprintError) -> WireError {
    use CaptureError as C;
    let dev = |device: &String, detail: &String| (device.clone(), detail.clone());
    match e {
        FingerprintError::Device(c) => match c {
            C::NotFound { device, detail } => {
                let (device, detail) = dev(device, detail);
                WireError::NotFound { device, detail }
            }
            C::Unplugged { device, detail } => {
                let (device, detail) = dev(device, detail);
                WireError::Unplugged { device, detail }
            }
            C::Busy { device, detail } => {
                let (device, detail) = dev(device, detail);
                WireError::Busy { device, detail }
            }
            C::NoPermission { device, detail } => {
                let (device, detail) = dev(device, detail);
                WireError::NoPermission { device, detail }
            }
            other => WireError::DeviceOther {
                device: String::new(),
                detail: other.to_string(),
            },
        },
        FingerprintError::Retry { device, reason } => WireError::Retry {
            device: device.clone(),
            reason: reason.clone(),
        },
        FingerprintError::NoImage { device } => WireError::NoImage {
            device: device.clone(),
        },
        FingerprintError::Duplicate { owner } => WireError::Duplicate {
            owner: owner.clone(),
        },
        FingerprintError::Template(m) => WireError::Template { message: m.clone() },
        FingerprintError::TimedOut { device, secs } => WireError::TimedOut {
            device: device.clone(),
            secs: *secs,
        },
        FingerprintError::Libfprint(m) => WireError::Libfprint { message: m.clone() },
        FingerprintError::Io { context, source } => WireError::Io {
            context: context.clone(),
            message: source.to_string(),
        },
        FingerprintError::Invalid(m) => WireError::Invalid { message: m.clone() },
    }
}

pub(super) fn from_wire_error(e: WireError) -> FingerprintError {
    use CaptureError as C;
    match e {
        WireError::NotFound { device, detail } => C::NotFound { device, detail }.into(),
        WireError::Unplugged { device, detail } => C::Unplugged { device, detail }.into(),
        WireError::Busy { device, detail } => C::Busy { device, detail }.into(),
        WireError::NoPermission { device, detail } => C::NoPermission { device, detail }.into(),
        WireError::DeviceOther { device, detail } => C::Other { device, detail }.into(),
        WireError::Retry { device, reason } => FingerprintError::Retry { device, reason },
        WireError::NoImage { device } => FingerprintError::NoImage { device },
        WireError::Duplicate { owner } => FingerprintError::Duplicate { owner },
        WireError::Template { message } => FingerprintError::Template(message),
        WireError::TimedOut { device, secs } => FingerprintError::TimedOut { device, secs },
        WireError::Libfprint { message } => FingerprintError::Libfprint(message),
        WireError::Io { context, message } => FingerprintError::Io {
            context,
            source: std::io::Error::other(message),
        },
        WireError::Invalid { message } => FingerprintError::Invalid(message),
    }
}

pub(super) fn protocol(what: String) -> FingerprintError {
    FingerprintError::Libfprint(format!("fingerprint helper: {what}"))
}
