//! YuNet face detection (OpenCV's FaceDetectorYN, re-implemented): letterbox
//! to the detector size, BGR 0..255, decode strides 8/16/32 with score =
//! sqrt(cls * obj), non-maximum suppression.

use std::sync::{Arc, Mutex};

use image::RgbImage;
use serde::Serialize;
use tract_onnx::prelude::*;

use crate::runner::Runner;
use crate::MatcherError;

/// One detected face, in the coordinates of the analysed image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Face {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    /// Right eye, left eye (of the person: image left, image right), nose
    /// tip, right and left mouth corners.
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Face {
    pub fn center(&self) -> (f32, f32) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }
}

/// The detector, compiled for one input size (multiples of 32).
#[derive(Debug)]
pub struct Detector {
    plan: Runner,
    /// The input tensor of the last run, reused once the plan has let go of
    /// it: a fresh 3.7 MB buffer per 640x480 frame cost a page fault per
    /// 4 KiB written (see `kept`).
    input: Mutex<Option<Tensor>>,
    pub width: usize,
    pub height: usize,
}

fn inf(e: impl std::fmt::Display) -> MatcherError {
    MatcherError::Inference(e.to_string())
}

impl Detector {
    pub(crate) fn new(model: InferenceModel, w: usize, h: usize) -> Result<Self, MatcherError> {
        let (w, h) = (w.div_ceil(32) * 32, h.div_ceil(32) * 32);
        let plan = crate::model::compile(model, [1, 3, h, w]).map_err(inf)?;
        Ok(Detector {
            plan: Runner::new(plan),
            input: Mutex::new(None),
            width: w,
            height: h,
        })
    }

    /// All faces scoring at least `score_thr`, after NMS at `nms_thr`.
    pub fn detect(
        &self,
        img: &RgbImage,
        score_thr: f32,
        nms_thr: f32,
    ) -> Result<Vec<Face>, MatcherError> {
        let (iw, ih) = img.dimensions();
        if iw == 0 || ih == 0 {
            return Ok(vec![]);
        }
        let scale = (self.width as f32 / iw as f32).min(self.height as f32 / ih as f32);
        let nw = ((iw as f32 * scale).round() as u32).clamp(1, self.width as u32);
        let nh = ((ih as f32 * scale).round() as u32).clamp(1, self.height as u32);
        let kept = self.input.try_lock().ok().and_then(|mut k| k.take());
        let mut input = match kept {
            Some(t) => t,
            None => Tensor::zero::<f32>(&[1, 3, self.height, self.width]).map_err(inf)?,
        };
        {
            let mut plain = input.try_as_plain_ram_mut().map_err(inf)?;
            let buf = plain.as_slice_mut::<f32>().map_err(inf)?;
            // A kept buffer holds the last frame: clear the margins the
            // letterbox leaves (right and bottom), then draw this frame.
            for plane in buf.chunks_exact_mut(self.width * self.height) {
                for row in plane.chunks_exact_mut(self.width).take(nh as usize) {
                    row[nw as usize..].fill(0.0);
                }
                plane[nh as usize * self.width..].fill(0.0);
            }
            letterbox_bgr(img, nw as usize, nh as usize, self.width, buf);
        }
        let input = Arc::new(input);
        let out = self
            .plan
            .run(tvec![input.clone().into_tvalue()])
            .map_err(inf)?;
        // The plan has dropped its reference by now (after the first
        // layer); another thread detecting may hold the slot's lock.
        if let (Ok(t), Ok(mut slot)) = (Arc::try_unwrap(input), self.input.try_lock()) {
            *slot = Some(t);
        }
        if out.len() < 12 {
            return Err(MatcherError::Inference(format!(
                "detector gave {} outputs, expected 12",
                out.len()
            )));
        }
        let mut faces = vec![];
        for (si, stride) in [8usize, 16, 32].iter().enumerate() {
            let cols = self.width / stride;
            let rows = self.height / stride;
            let view = |k: usize| -> Result<Vec<f32>, MatcherError> {
                out[k]
                    .try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>().map(|s| s.to_vec()))
                    .map_err(inf)
            };
            let (cls, obj, bbox, kps) = (view(si)?, view(si + 3)?, view(si + 6)?, view(si + 9)?);
            if cls.len() < rows * cols
                || bbox.len() < rows * cols * 4
                || kps.len() < rows * cols * 10
            {
                return Err(MatcherError::Inference("detector output too small".into()));
            }
            let s = *stride as f32;
            for r in 0..rows {
                for c in 0..cols {
                    let i = r * cols + c;
                    let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
                    if score < score_thr {
                        continue;
                    }
                    let cx = (c as f32 + bbox[i * 4]) * s;
                    let cy = (r as f32 + bbox[i * 4 + 1]) * s;
                    let w = bbox[i * 4 + 2].exp() * s;
                    let h = bbox[i * 4 + 3].exp() * s;
                    let mut lm = [[0f32; 2]; 5];
                    for (n, l) in lm.iter_mut().enumerate() {
                        l[0] = (kps[i * 10 + 2 * n] + c as f32) * s / scale;
                        l[1] = (kps[i * 10 + 2 * n + 1] + r as f32) * s / scale;
                    }
                    faces.push(Face {
                        x: (cx - w / 2.0) / scale,
                        y: (cy - h / 2.0) / scale,
                        w: w / scale,
                        h: h / scale,
                        landmarks: lm,
                        score,
                    });
                }
            }
        }
        Ok(nms(faces, nms_thr))
    }
}

/// Source index pairs and the second one's weight for one axis of a
/// bilinear resize, as OpenCV's `INTER_LINEAR` places them: pixel centres
/// aligned (`(o + 0.5) * scale - 0.5`), clamped at the borders.
fn linear_taps(n_out: usize, n_in: usize, scale: f32) -> Vec<(usize, usize, f32)> {
    (0..n_out)
        .map(|o| {
            let f = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (f.floor() as usize).min(n_in - 1);
            if i0 + 1 >= n_in {
                (i0, i0, 0.0)
            } else {
                (i0, i0 + 1, f - i0 as f32)
            }
        })
        .collect()
}

/// Writes `img`, resized to `nw` x `nh`, into the top-left corner of the
/// detector's planar BGR input (`3` planes of rows `width` long; the rest is
/// left as it is, and `Detector::detect` clears it). The resize is bilinear
/// without antialiasing, rounded to whole levels, as the reference (OpenCV's `resize` with `INTER_LINEAR`) does it
/// before YuNet; it replaced `image`'s triangle filter, which took about 6 ms
/// of a 640x480 frame's detection and gave the detector slightly different
/// pixels from the reference's.
pub(crate) fn letterbox_bgr(img: &RgbImage, nw: usize, nh: usize, width: usize, input: &mut [f32]) {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    if iw == 0 || ih == 0 || nw == 0 || nh == 0 {
        return;
    }
    let plane = input.len() / 3;
    let src = img.as_raw();
    let (bp, rest) = input.split_at_mut(plane);
    let (gp, rp) = rest.split_at_mut(plane);
    // Row by row, each plane's row zipped with its source: no division or
    // bounds check per pixel (a per-pixel `i % iw` took 0.8 ms at 640x480).
    let rows = bp
        .chunks_exact_mut(width)
        .zip(gp.chunks_exact_mut(width))
        .zip(rp.chunks_exact_mut(width));
    if (nw, nh) == (iw, ih) {
        for (s, ((b, g), r)) in src.chunks_exact(iw * 3).zip(rows) {
            let out = b.iter_mut().zip(g.iter_mut()).zip(r.iter_mut());
            for (p, ((b, g), r)) in s.chunks_exact(3).zip(out) {
                *b = p[2] as f32;
                *g = p[1] as f32;
                *r = p[0] as f32;
            }
        }
        return;
    }
    let xs = linear_taps(nw, iw, iw as f32 / nw as f32);
    let ys = linear_taps(nh, ih, ih as f32 / nh as f32);
    for (&(y0, y1, wy), ((b, g), r)) in ys.iter().zip(rows) {
        let (r0, r1) = (&src[y0 * iw * 3..][..iw * 3], &src[y1 * iw * 3..][..iw * 3]);
        let out = b.iter_mut().zip(g.iter_mut()).zip(r.iter_mut());
        for (&(x0, x1, wx), ((b, g), r)) in xs.iter().zip(out) {
            let (a0, a1, c0, c1) = (
                &r0[x0 * 3..][..3],
                &r0[x1 * 3..][..3],
                &r1[x0 * 3..][..3],
                &r1[x1 * 3..][..3],
            );
            let px = |c: usize| {
                let top = a0[c] as f32 * (1.0 - wx) + a1[c] as f32 * wx;
                let bottom = c0[c] as f32 * (1.0 - wx) + c1[c] as f32 * wx;
                round_pixel(top * (1.0 - wy) + bottom * wy)
            };
            *r = px(0);
            *g = px(1);
            *b = px(2);
        }
    }
}

/// `v.round()` for a value between 0 and 255 (a blend of two bytes), as a
/// truncating conversion: the baseline x86-64 build has no rounding
/// instruction, and `f32::round` there is a libm call per value (1.2 ms of
/// the 320x240 letterbox). Halves round up, as `round` does for positives.
#[inline(always)]
fn round_pixel(v: f32) -> f32 {
    (v + 0.5) as u8 as f32
}

fn iou(a: &Face, b: &Face) -> f32 {
    let x1 = a.x.max(b.x);
    let y1 = a.y.max(b.y);
    let x2 = (a.x + a.w).min(b.x + b.w);
    let y2 = (a.y + a.h).min(b.y + b.h);
    let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
    let union = a.w * a.h + b.w * b.h - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

pub(crate) fn nms(mut faces: Vec<Face>, thr: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Face> = vec![];
    for f in faces {
        if keep.iter().all(|k| iou(k, &f) <= thr) {
            keep.push(f);
        }
    }
    keep
}

/// The face the operator most likely is: the one nearest the frame centre
/// among faces at least half as tall as the tallest (in group photos the
/// largest face is sometimes someone else; a tiny face near the centre is
/// background).
pub fn primary_face(faces: &[Face], frame_w: u32, frame_h: u32) -> Option<usize> {
    let tallest = faces.iter().map(|f| f.h).fold(0.0f32, f32::max);
    let (cx, cy) = (frame_w as f32 / 2.0, frame_h as f32 / 2.0);
    faces
        .iter()
        .enumerate()
        .filter(|(_, f)| f.h >= tallest * 0.5)
        .min_by(|(_, a), (_, b)| {
            let d = |f: &Face| {
                let (x, y) = f.center();
                (x - cx).powi(2) + (y - cy).powi(2)
            };
            d(a).total_cmp(&d(b))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32, score: f32) -> Face {
        Face {
            x,
            y,
            w,
            h: w,
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn letterbox_halves_by_averaging_pairs_and_keeps_bgr_planes() {
        // 4x2 RGB image -> 2x1: each output is the mean of a 2x2 block.
        let img = RgbImage::from_raw(
            4,
            2,
            vec![
                10, 0, 200, 30, 0, 200, 100, 1, 0, 100, 3, 0, //
                10, 0, 200, 30, 0, 200, 100, 1, 0, 100, 3, 0,
            ],
        )
        .unwrap();
        let (width, plane) = (4, 4 * 2);
        let mut input = vec![-1f32; 3 * plane];
        letterbox_bgr(&img, 2, 1, width, &mut input);
        // B plane, G plane, R plane; row 0 = the resized row
        assert_eq!(&input[0..2], &[200.0, 0.0], "blue");
        assert_eq!(&input[plane..plane + 2], &[0.0, 2.0], "green");
        assert_eq!(&input[2 * plane..2 * plane + 2], &[20.0, 100.0], "red");
        assert_eq!(input[2], -1.0, "outside the resized area is left alone");
        // same size: a copy
        let mut same = vec![0f32; 3 * plane];
        letterbox_bgr(&img, 4, 2, width, &mut same);
        assert_eq!(&same[2 * plane..2 * plane + 4], &[10.0, 30.0, 100.0, 100.0]);
    }

    #[test]
    fn letterbox_is_the_plain_bilinear_formula_at_any_scale() {
        // Every pixel against the formula written out with `f32::round`, at
        // scales that are not halves, up and down, into a wider input.
        let (iw, ih) = (37usize, 23usize);
        let mut v = 7u32;
        let img = RgbImage::from_fn(iw as u32, ih as u32, |_, _| {
            let mut byte = || {
                v = v.wrapping_mul(1103515245).wrapping_add(12345);
                (v >> 16) as u8
            };
            image::Rgb([byte(), byte(), byte()])
        });
        for (nw, nh) in [(20, 13), (37, 23), (50, 31), (1, 1)] {
            let width = 64;
            let plane = width * 40;
            let mut input = vec![-1f32; 3 * plane];
            letterbox_bgr(&img, nw, nh, width, &mut input);
            let xs = linear_taps(nw, iw, iw as f32 / nw as f32);
            let ys = linear_taps(nh, ih, ih as f32 / nh as f32);
            for (y, &(y0, y1, wy)) in ys.iter().enumerate() {
                for (x, &(x0, x1, wx)) in xs.iter().enumerate() {
                    for c in 0..3 {
                        let p = |x: usize, y: usize| img.get_pixel(x as u32, y as u32)[c] as f32;
                        let top = p(x0, y0) * (1.0 - wx) + p(x1, y0) * wx;
                        let bottom = p(x0, y1) * (1.0 - wx) + p(x1, y1) * wx;
                        let want = (top * (1.0 - wy) + bottom * wy).round();
                        let got = input[(2 - c) * plane + y * width + x];
                        assert_eq!(got, want, "{nw}x{nh}: channel {c} at ({x}, {y})");
                    }
                }
                assert_eq!(
                    input[y * width + nw],
                    -1.0,
                    "{nw}x{nh}: right of the picture"
                );
            }
        }
    }

    #[test]
    fn nms_drops_overlaps_keeps_the_best() {
        let kept = nms(
            vec![
                face(0.0, 0.0, 10.0, 0.7),
                face(1.0, 1.0, 10.0, 0.9),
                face(50.0, 50.0, 10.0, 0.8),
            ],
            0.3,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
    }

    #[test]
    fn primary_face_is_central_among_the_large_ones() {
        // a large off-centre face, a slightly smaller central one, a tiny central one
        let faces = vec![
            face(0.0, 0.0, 100.0, 0.9),
            face(120.0, 70.0, 80.0, 0.9),
            face(150.0, 110.0, 10.0, 0.9),
        ];
        assert_eq!(primary_face(&faces, 320, 240), Some(1));
        assert_eq!(primary_face(&[], 320, 240), None);
    }
}
