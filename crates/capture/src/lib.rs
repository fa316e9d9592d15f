//! Capture sources for Countersign, behind one small trait.
//!
//! A [`Backend`] lists devices (with ids that stay the same across runs) and
//! opens one at a resolution; the opened [`Source`] hands out [`Frame`]s and
//! says what it is ([`DeviceInfo`]: id, driver, resolution, and whether it is
//! a replay). Two backends exist:
//!
//! - [`replay::ReplaySource`]: frames from image files or a folder at a set
//!   rate. Its [`DeviceInfo`] always says `replay: true` and driver
//!   `"replay"`, so the evidence and the UI can label it.
//! - [`camera::CameraBackend`]: V4L2 cameras through nokhwa, with the
//!   `camera` cargo feature. Without the feature (or without a camera) it
//!   lists no device and opening one is [`CaptureError::NotFound`].
//!
//! [`threaded::ThreadedSource`] runs any source on its own thread, for
//! programs whose state must be `Send` (the desktop app).
//!
//! The device errors ([`CaptureError::NotFound`], [`CaptureError::Unplugged`],
//! [`CaptureError::Busy`], [`CaptureError::NoPermission`]) are the
//! `device_unavailable` fallback trigger: see
//! [`CaptureError::is_device_unavailable`].

pub mod camera;
pub mod replay;
pub mod threaded;

use serde::{Deserialize, Serialize};

pub use image::RgbImage;

/// Width x height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub width: u32,
    pub height: u32,
}

impl Resolution {
    pub const fn new(width: u32, height: u32) -> Self {
        Resolution { width, height }
    }
}

impl std::fmt::Display for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl std::str::FromStr for Resolution {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("resolution {s:?}: expected WIDTHxHEIGHT, e.g. 640x480"))?;
        let p = |v: &str| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("resolution {s:?}: {v:?} is not a positive integer"))
        };
        Ok(Resolution::new(p(w)?, p(h)?))
    }
}

/// What a capture device is; recorded with every capture in the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Stable id, e.g. `replay:3f9a0c1d2e4b5a69` or `v4l2:usb-0000:00:14.0-1`.
    pub id: String,
    /// `"replay"` or `"v4l2"`.
    pub driver: String,
    /// Human name (camera model, or the replayed folder).
    pub name: String,
    /// The resolution frames are delivered at (for a replay opened without
    /// a resolution: the first frame's).
    pub resolution: Resolution,
    /// True when frames come from files, not a live sensor. Everything that
    /// shows or records a capture must say so.
    pub replay: bool,
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: RgbImage,
    /// 0, 1, 2, ... since the source was opened.
    pub seq: u64,
    /// Wall-clock capture time, ms since the Unix epoch.
    pub captured_ms: i64,
    /// For a replay: the file the frame came from.
    pub origin: Option<String>,
}

/// Capture errors. The first four are the device-unavailable fallback trigger.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("capture device {device} not found: {detail}")]
    NotFound { device: String, detail: String },
    #[error("capture device {device} was unplugged: {detail}")]
    Unplugged { device: String, detail: String },
    #[error("capture device {device} is busy (used by another program): {detail}")]
    Busy { device: String, detail: String },
    #[error("no permission to open capture device {device}: {detail}")]
    NoPermission { device: String, detail: String },
    /// A replay file that is not a decodable image.
    #[error("cannot decode {path}: {detail}")]
    Decode { path: String, detail: String },
    /// A replay ran out of frames (and does not loop).
    #[error("replay {device} has no more frames")]
    EndOfStream { device: String },
    #[error("capture failed on {device}: {detail}")]
    Other { device: String, detail: String },
}

impl CaptureError {
    /// True for the errors that fire the `device_unavailable` fallback trigger.
    pub fn is_device_unavailable(&self) -> bool {
        matches!(
            self,
            CaptureError::NotFound { .. }
                | CaptureError::Unplugged { .. }
                | CaptureError::Busy { .. }
                | CaptureError::NoPermission { .. }
        )
    }

    /// A stable code for the evidence and the UI.
    pub fn code(&self) -> countersign_codes::Code {
        match self {
            CaptureError::NotFound { .. } => countersign_codes::Code::CaptureNotFound,
            CaptureError::Unplugged { .. } => countersign_codes::Code::CaptureUnplugged,
            CaptureError::Busy { .. } => countersign_codes::Code::CaptureBusy,
            CaptureError::NoPermission { .. } => countersign_codes::Code::CaptureNoPermission,
            CaptureError::Decode { .. } => countersign_codes::Code::CaptureDecode,
            CaptureError::EndOfStream { .. } => countersign_codes::Code::CaptureEndOfStream,
            CaptureError::Other { .. } => countersign_codes::Code::CaptureError,
        }
    }

    /// Classifies an OS error message (V4L2 open/ioctl failures) into the
    /// typed device errors.
    pub fn from_os_message(device: &str, detail: &str) -> CaptureError {
        let d = detail.to_ascii_lowercase();
        let (device, detail) = (device.to_string(), detail.to_string());
        if d.contains("no such device") || d.contains("enodev") || d.contains("broken pipe") {
            CaptureError::Unplugged { device, detail }
        } else if d.contains("no such file") || d.contains("enoent") || d.contains("not found") {
            CaptureError::NotFound { device, detail }
        } else if d.contains("busy") || d.contains("ebusy") {
            CaptureError::Busy { device, detail }
        } else if d.contains("permission denied") || d.contains("eacces") || d.contains("eperm") {
            CaptureError::NoPermission { device, detail }
        } else {
            CaptureError::Other { device, detail }
        }
    }
}

/// An opened capture device.
/// Not `Send`: V4L2 handles stay on the thread that opened them.
pub trait Source: std::fmt::Debug {
    fn info(&self) -> &DeviceInfo;
    /// Blocks until the next frame (a replay waits for its rate).
    fn next_frame(&mut self) -> Result<Frame, CaptureError>;
}

/// A kind of capture device: lists them, opens one.
pub trait Backend: std::fmt::Debug {
    fn list(&self) -> Result<Vec<DeviceInfo>, CaptureError>;
    /// Opens `id` (from [`Backend::list`]) at about `resolution` (the
    /// device's own if `None`).
    fn open(
        &self,
        id: &str,
        resolution: Option<Resolution>,
    ) -> Result<Box<dyn Source>, CaptureError>;
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_messages_map_to_typed_device_errors() {
        let c = |m: &str| CaptureError::from_os_message("v4l2:x", m).code();
        assert_eq!(
            c("No such file or directory (os error 2)"),
            countersign_codes::Code::CaptureNotFound
        );
        assert_eq!(
            c("No such device (os error 19)"),
            countersign_codes::Code::CaptureUnplugged
        );
        assert_eq!(
            c("Device or resource busy (os error 16)"),
            countersign_codes::Code::CaptureBusy
        );
        assert_eq!(
            c("Permission denied (os error 13)"),
            countersign_codes::Code::CaptureNoPermission
        );
        assert_eq!(c("something odd"), countersign_codes::Code::CaptureError);
        for m in [
            "No such file",
            "No such device",
            "busy",
            "Permission denied",
        ] {
            assert!(CaptureError::from_os_message("d", m).is_device_unavailable());
        }
        assert!(!CaptureError::from_os_message("d", "odd").is_device_unavailable());
    }

    #[test]
    fn resolution_parses() {
        assert_eq!(
            "640x480".parse::<Resolution>(),
            Ok(Resolution::new(640, 480))
        );
        assert!("640".parse::<Resolution>().is_err());
        assert!("0x480".parse::<Resolution>().is_err());
        assert_eq!(Resolution::new(320, 240).to_string(), "320x240");
    }
}
