//! V4L2 cameras through nokhwa (cargo feature `camera`).
//!
//! Ids are `v4l2:<bus info or index>`. Without the feature, or on a machine
//! with no camera, [`CameraBackend::list`] returns no device and
//! [`CameraBackend::open`] returns [`CaptureError::NotFound`]: the
//! `device_unavailable` trigger.

use crate::{Backend, CaptureError, DeviceInfo, Resolution, Source};

/// The camera backend. Stateless: each call asks the OS again.
#[derive(Debug, Clone, Copy, Default)]
pub struct CameraBackend;

/// True when this build can talk to cameras at all.
pub const CAMERA_SUPPORT: bool = cfg!(feature = "camera");

#[cfg(not(feature = "camera"))]
impl Backend for CameraBackend {
    fn list(&self) -> Result<Vec<DeviceInfo>, CaptureError> {
        Ok(Vec::new())
    }

    fn open(
        &self,
        id: &str,
        _resolution: Option<Resolution>,
    ) -> Result<Box<dyn Source>, CaptureError> {
        Err(CaptureError::NotFound {
            device: id.into(),
            detail: "this build has no camera support (cargo feature `camera`)".into(),
        })
    }
}

#[cfg(feature = "camera")]
mod v4l2 {
    use super::*;
    use crate::{now_ms, Frame};
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{
        ApiBackend, CameraIndex, RequestedFormat, RequestedFormatType, Resolution as NResolution,
    };

    fn id_of(info: &nokhwa::utils::CameraInfo) -> String {
        let misc = info.misc();
        if misc.trim().is_empty() {
            format!("v4l2:{}", info.index())
        } else {
            format!("v4l2:{}", misc.trim())
        }
    }

    fn err(device: &str, e: impl std::fmt::Display) -> CaptureError {
        CaptureError::from_os_message(device, &e.to_string())
    }

    impl Backend for CameraBackend {
        fn list(&self) -> Result<Vec<DeviceInfo>, CaptureError> {
            // No /dev/video* means no device, not an error.
            let cams = match nokhwa::query(ApiBackend::Video4Linux) {
                Ok(c) => c,
                Err(e) => {
                    let e = err("v4l2", e);
                    return if matches!(e, CaptureError::NotFound { .. }) {
                        Ok(Vec::new())
                    } else {
                        Err(e)
                    };
                }
            };
            Ok(cams
                .iter()
                .map(|c| DeviceInfo {
                    id: id_of(c),
                    driver: "v4l2".into(),
                    name: c.human_name(),
                    resolution: Resolution::new(0, 0),
                    replay: false,
                })
                .collect())
        }

        fn open(
            &self,
            id: &str,
            resolution: Option<Resolution>,
        ) -> Result<Box<dyn Source>, CaptureError> {
            let cams = nokhwa::query(ApiBackend::Video4Linux).unwrap_or_default();
            let Some(info) = cams.iter().find(|c| id_of(c) == id) else {
                return Err(CaptureError::NotFound {
                    device: id.into(),
                    detail: format!("no such camera ({} listed)", cams.len()),
                });
            };
            let req = match resolution {
                Some(r) => RequestedFormat::new::<RgbFormat>(
                    RequestedFormatType::HighestResolution(NResolution::new(r.width, r.height)),
                ),
                None => {
                    RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate)
                }
            };
            let index: CameraIndex = info.index().clone();
            let mut cam = nokhwa::Camera::new(index, req).map_err(|e| err(id, e))?;
            cam.open_stream().map_err(|e| err(id, e))?;
            let r = cam.resolution();
            Ok(Box::new(CameraSource {
                info: DeviceInfo {
                    id: id.into(),
                    driver: "v4l2".into(),
                    name: info.human_name(),
                    resolution: Resolution::new(r.width(), r.height()),
                    replay: false,
                },
                cam,
                seq: 0,
            }))
        }
    }

    /// An open camera stream.
    pub struct CameraSource {
        info: DeviceInfo,
        cam: nokhwa::Camera,
        seq: u64,
    }

    impl std::fmt::Debug for CameraSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("CameraSource")
                .field("info", &self.info)
                .finish()
        }
    }

    impl Source for CameraSource {
        fn info(&self) -> &DeviceInfo {
            &self.info
        }
        fn next_frame(&mut self) -> Result<Frame, CaptureError> {
            let buf = self.cam.frame().map_err(|e| err(&self.info.id, e))?;
            let img = buf
                .decode_image::<RgbFormat>()
                .map_err(|e| err(&self.info.id, e))?;
            let (w, h) = (img.width(), img.height());
            let image = image::RgbImage::from_raw(w, h, img.into_raw()).ok_or_else(|| {
                CaptureError::Other {
                    device: self.info.id.clone(),
                    detail: "frame size does not match its buffer".into(),
                }
            })?;
            let seq = self.seq;
            self.seq += 1;
            Ok(Frame {
                image,
                seq,
                captured_ms: now_ms(),
                origin: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine (and CI) has no /dev/video*: no device listed, and
    /// opening one is the typed NotFound that fires `device_unavailable`.
    #[test]
    fn no_camera_lists_nothing_and_open_is_not_found() {
        if std::path::Path::new("/dev/video0").exists() {
            eprintln!("skipping: a camera exists on this machine");
            return;
        }
        let b = CameraBackend;
        assert_eq!(b.list().unwrap(), vec![]);
        let e = b.open("v4l2:0", None).unwrap_err();
        assert!(matches!(e, CaptureError::NotFound { .. }), "{e}");
        assert!(e.is_device_unavailable());
        assert_eq!(e.code(), countersign_codes::Code::CaptureNotFound);
    }
}
