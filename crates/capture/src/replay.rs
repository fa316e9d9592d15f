//! The replay source: frames from image files or folders, at a set rate.
//!
//! Used as the demo default when no camera is attached and by the tests. It
//! never pretends to be a camera: its [`DeviceInfo`] has `replay: true` and
//! driver `"replay"`, and its id starts with `replay:`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::{now_ms, Backend, CaptureError, DeviceInfo, Frame, Resolution, Source};

/// File extensions a replay folder is scanned for.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

/// Expands files and folders (a folder: its image files, sorted by name,
/// not recursive) into the list of frames to replay.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut out = Vec::new();
    for p in paths {
        let md = std::fs::metadata(p).map_err(|e| CaptureError::NotFound {
            device: format!("replay:{}", p.display()),
            detail: e.to_string(),
        })?;
        if md.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| {
                    CaptureError::from_os_message(&p.display().to_string(), &e.to_string())
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| is_image(f))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        return Err(CaptureError::NotFound {
            device: "replay".into(),
            detail: format!(
                "no image files ({}) in {}",
                IMAGE_EXTENSIONS.join(", "),
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(out)
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        .unwrap_or(false)
}

/// Stable id of a replay: a hash of its frame list.
pub fn replay_id(frames: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for f in frames {
        let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        h.update(abs.to_string_lossy().as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    format!("replay:{}", hex16(&d))
}

fn hex16(d: &[u8]) -> String {
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Options for a replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Frames per second; 0 (or less) delivers frames as fast as asked.
    pub rate_hz: f64,
    /// Start again at the first file after the last one.
    pub looping: bool,
    /// Scale frames to fit within this size (aspect kept); `None` keeps
    /// each file's own size.
    pub resolution: Option<Resolution>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            rate_hz: 15.0,
            looping: false,
            resolution: None,
        }
    }
}

/// Image files replayed as a capture device.
#[derive(Debug)]
pub struct ReplaySource {
    info: DeviceInfo,
    frames: Vec<PathBuf>,
    opts: ReplayOptions,
    next: usize,
    seq: u64,
    last: Option<Instant>,
}

impl ReplaySource {
    /// Opens a replay of `paths` (files and/or folders). The first frame is
    /// decoded here, so an unreadable first file fails at open.
    pub fn open(paths: &[PathBuf], opts: ReplayOptions) -> Result<ReplaySource, CaptureError> {
        let frames = expand(paths)?;
        let id = replay_id(&frames);
        let first = decode(&frames[0], opts.resolution)?;
        let name = if paths.len() == 1 {
            paths[0].display().to_string()
        } else {
            format!("{} files", frames.len())
        };
        let resolution = opts
            .resolution
            .unwrap_or(Resolution::new(first.width(), first.height()));
        Ok(ReplaySource {
            info: DeviceInfo {
                id,
                driver: "replay".into(),
                name,
                resolution,
                replay: true,
            },
            frames,
            opts,
            next: 0,
            seq: 0,
            last: None,
        })
    }

    /// The files this replay delivers, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.frames
    }
}

/// Decodes one file into RGB, scaled to fit `fit` if given.
pub fn decode(path: &Path, fit: Option<Resolution>) -> Result<image::RgbImage, CaptureError> {
    let bad = |detail: String| CaptureError::Decode {
        path: path.display().to_string(),
        detail,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let img = image::load_from_memory(&bytes).map_err(|e| bad(e.to_string()))?;
    let img = match fit {
        Some(r) if img.width() > r.width || img.height() > r.height => {
            img.resize(r.width, r.height, image::imageops::FilterType::Triangle)
        }
        _ => img,
    };
    Ok(img.to_rgb8())
}

impl Source for ReplaySource {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        if self.next >= self.frames.len() {
            if !self.opts.looping {
                return Err(CaptureError::EndOfStream {
                    device: self.info.id.clone(),
                });
            }
            self.next = 0;
        }
        if self.opts.rate_hz > 0.0 {
            if let Some(last) = self.last {
                let period = Duration::from_secs_f64(1.0 / self.opts.rate_hz);
                let elapsed = last.elapsed();
                if elapsed < period {
                    std::thread::sleep(period - elapsed);
                }
            }
        }
        self.last = Some(Instant::now());
        let path = self.frames[self.next].clone();
        self.next += 1;
        let image = decode(&path, self.opts.resolution)?;
        let seq = self.seq;
        self.seq += 1;
        Ok(Frame {
            image,
            seq,
            captured_ms: now_ms(),
            origin: Some(path.display().to_string()),
        })
    }
}

/// A [`Backend`] over one configured replay (what `--replay` names).
#[derive(Debug, Clone)]
pub struct ReplayBackend {
    pub paths: Vec<PathBuf>,
    pub opts: ReplayOptions,
}

impl Backend for ReplayBackend {
    fn list(&self) -> Result<Vec<DeviceInfo>, CaptureError> {
        Ok(vec![ReplaySource::open(&self.paths, self.opts.clone())?
            .info
            .clone()])
    }

    fn open(
        &self,
        id: &str,
        resolution: Option<Resolution>,
    ) -> Result<Box<dyn Source>, CaptureError> {
        let mut opts = self.opts.clone();
        if resolution.is_some() {
            opts.resolution = resolution;
        }
        let src = ReplaySource::open(&self.paths, opts)?;
        if src.info.id != id {
            return Err(CaptureError::NotFound {
                device: id.into(),
                detail: format!("this replay is {}", src.info.id),
            });
        }
        Ok(Box::new(src))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(dir: &Path, name: &str, w: u32, h: u32, shade: u8) -> PathBuf {
        let p = dir.join(name);
        image::RgbImage::from_pixel(w, h, image::Rgb([shade, shade, shade]))
            .save(&p)
            .unwrap();
        p
    }

    #[test]
    fn folder_replay_is_labelled_ordered_and_ends() {
        let d = tempfile::tempdir().unwrap();
        write_png(d.path(), "b.png", 64, 48, 20);
        write_png(d.path(), "a.png", 64, 48, 10);
        std::fs::write(d.path().join("notes.txt"), "not a frame").unwrap();
        let mut s = ReplaySource::open(
            &[d.path().to_path_buf()],
            ReplayOptions {
                rate_hz: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
        let info = s.info().clone();
        assert!(info.replay);
        assert_eq!(info.driver, "replay");
        assert!(info.id.starts_with("replay:"));
        assert_eq!(info.resolution, Resolution::new(64, 48));
        let f0 = s.next_frame().unwrap();
        let f1 = s.next_frame().unwrap();
        assert_eq!((f0.seq, f1.seq), (0, 1));
        assert!(f0.origin.unwrap().ends_with("a.png"));
        assert_eq!(f1.image.get_pixel(0, 0)[0], 20);
        assert!(matches!(
            s.next_frame(),
            Err(CaptureError::EndOfStream { .. })
        ));
        // Same files, same id.
        let again =
            ReplaySource::open(&[d.path().to_path_buf()], ReplayOptions::default()).unwrap();
        assert_eq!(again.info().id, info.id);
    }

    #[test]
    fn replay_keeps_its_rate_and_loops() {
        let d = tempfile::tempdir().unwrap();
        let p = write_png(d.path(), "x.png", 8, 8, 1);
        let mut s = ReplaySource::open(
            &[p],
            ReplayOptions {
                rate_hz: 50.0,
                looping: true,
                resolution: None,
            },
        )
        .unwrap();
        let t = Instant::now();
        for _ in 0..4 {
            s.next_frame().unwrap();
        }
        // 4 frames at 50 Hz: at least 3 periods of 20 ms.
        assert!(
            t.elapsed() >= Duration::from_millis(59),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn replay_scales_to_fit_the_requested_resolution() {
        let d = tempfile::tempdir().unwrap();
        let p = write_png(d.path(), "big.png", 1280, 960, 1);
        let b = ReplayBackend {
            paths: vec![p],
            opts: ReplayOptions {
                rate_hz: 0.0,
                ..Default::default()
            },
        };
        let id = b.list().unwrap()[0].id.clone();
        let mut s = b.open(&id, Some(Resolution::new(320, 240))).unwrap();
        assert_eq!(s.info().resolution, Resolution::new(320, 240));
        let f = s.next_frame().unwrap();
        assert_eq!(f.image.dimensions(), (320, 240));
        assert!(matches!(
            b.open("replay:other", None),
            Err(CaptureError::NotFound { .. })
        ));
    }

    #[test]
    fn missing_empty_and_corrupt_inputs_are_typed_errors() {
        let d = tempfile::tempdir().unwrap();
        let e =
            ReplaySource::open(&[d.path().join("nope.jpg")], ReplayOptions::default()).unwrap_err();
        assert!(matches!(e, CaptureError::NotFound { .. }), "{e}");
        let e =
            ReplaySource::open(&[d.path().to_path_buf()], ReplayOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no image files"), "{e}");
        let bad = d.path().join("bad.jpg");
        std::fs::write(&bad, b"\xff\xd8 definitely not a jpeg").unwrap();
        let e = ReplaySource::open(&[bad], ReplayOptions::default()).unwrap_err();
        assert!(matches!(e, CaptureError::Decode { .. }), "{e}");
        assert!(e.to_string().contains("bad.jpg"), "{e}");
    }
}
