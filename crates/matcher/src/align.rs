//! 5-point alignment to the ArcFace 112x112 template (what OpenCV's
//! FaceRecognizerSF::alignCrop does) and the SFace recogniser.

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::runner::Runner;
use crate::MatcherError;

/// ArcFace / FaceRecognizerSF 112x112 landmark template.
pub const TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

pub const ALIGNED_SIZE: u32 = 112;

/// Least-squares 2-D similarity (rotation, uniform scale, translation)
/// from `src` to `dst` (Umeyama without reflection): `(a, b, tx, ty)` for
/// `u = a x - b y + tx`, `v = b x + a y + ty`.
pub fn similarity(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> (f64, f64, f64, f64) {
    let n = 5.0;
    let mean = |p: &[[f32; 2]; 5], k: usize| p.iter().map(|q| q[k] as f64).sum::<f64>() / n;
    let (sx, sy, dx, dy) = (mean(src, 0), mean(src, 1), mean(dst, 0), mean(dst, 1));
    let (mut num_a, mut num_b, mut den) = (0.0, 0.0, 0.0);
    for i in 0..5 {
        let (px, py) = (src[i][0] as f64 - sx, src[i][1] as f64 - sy);
        let (qx, qy) = (dst[i][0] as f64 - dx, dst[i][1] as f64 - dy);
        num_a += px * qx + py * qy;
        num_b += px * qy - py * qx;
        den += px * px + py * py;
    }
    if den <= f64::EPSILON {
        return (1.0, 0.0, dx - sx, dy - sy);
    }
    let a = num_a / den;
    let b = num_b / den;
    (a, b, dx - (a * sx - b * sy), dy - (b * sx + a * sy))
}

/// Warps the face to 112x112 with bilinear sampling (border 0), like
/// `cv::warpAffine`.
pub fn align(img: &RgbImage, landmarks: &[[f32; 2]; 5]) -> RgbImage {
    let (a, b, tx, ty) = similarity(landmarks, &TEMPLATE);
    let det = (a * a + b * b).max(f64::EPSILON);
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let mut out = RgbImage::new(ALIGNED_SIZE, ALIGNED_SIZE);
    for v in 0..ALIGNED_SIZE {
        for u in 0..ALIGNED_SIZE {
            let (du, dv) = (u as f64 - tx, v as f64 - ty);
            let x = (a * du + b * dv) / det;
            let y = (-b * du + a * dv) / det;
            let (x0, y0) = (x.floor() as i64, y.floor() as i64);
            let (fx, fy) = (x - x0 as f64, y - y0 as f64);
            let mut acc = [0f64; 3];
            for (ox, oy, w) in [
                (0, 0, (1.0 - fx) * (1.0 - fy)),
                (1, 0, fx * (1.0 - fy)),
                (0, 1, (1.0 - fx) * fy),
                (1, 1, fx * fy),
            ] {
                let (xx, yy) = (x0 + ox, y0 + oy);
                if xx >= 0 && yy >= 0 && xx < iw && yy < ih {
                    let p = img.get_pixel(xx as u32, yy as u32);
                    for c in 0..3 {
                        acc[c] += w * p[c] as f64;
                    }
                }
            }
            out.put_pixel(
                u,
                v,
                image::Rgb([
                    acc[0].round() as u8,
                    acc[1].round() as u8,
                    acc[2].round() as u8,
                ]),
            );
        }
    }
    out
}

/// SFace: aligned 112x112 RGB (0..255) to a unit-length 128-d embedding.
#[derive(Debug)]
pub struct Recognizer {
    plan: Runner,
}

fn inf(e: impl std::fmt::Display) -> MatcherError {
    MatcherError::Inference(e.to_string())
}

impl Recognizer {
    pub(crate) fn new(model: InferenceModel) -> Result<Self, MatcherError> {
        let s = ALIGNED_SIZE as usize;
        let plan = crate::model::compile(model, [1, 3, s, s]).map_err(inf)?;
        Ok(Recognizer {
            plan: Runner::new(plan),
        })
    }

    pub fn embed(&self, face: &RgbImage) -> Result<Vec<f32>, MatcherError> {
        let s = ALIGNED_SIZE as usize;
        if face.dimensions() != (ALIGNED_SIZE, ALIGNED_SIZE) {
            return Err(MatcherError::Inference(
                "embed needs a 112x112 aligned face".into(),
            ));
        }
        let plane = s * s;
        let mut input = vec![0f32; 3 * plane];
        for (x, y, p) in face.enumerate_pixels() {
            let o = y as usize * s + x as usize;
            for c in 0..3 {
                input[c * plane + o] = p[c] as f32;
            }
        }
        let t = tract_ndarray::Array4::from_shape_vec((1, 3, s, s), input)
            .map_err(inf)?
            .into_tensor();
        let out = self.plan.run(tvec![t.into()]).map_err(inf)?;
        let v = out[0]
            .try_as_plain_ram()
            .and_then(|v| v.as_slice::<f32>().map(|s| s.to_vec()))
            .map_err(inf)?;
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(n.is_finite() && n > 0.0) {
            return Err(MatcherError::Inference("embedding has zero length".into()));
        }
        Ok(v.iter().map(|x| x / n).collect())
    }
}

/// Cosine similarity of two embeddings (unit length: their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na * nb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_recovers_a_known_transform() {
        // dst = 2 * rot(90°) * src + (5, 7)
        let src = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.5]];
        let mut dst = [[0f32; 2]; 5];
        for i in 0..5 {
            dst[i] = [-2.0 * src[i][1] + 5.0, 2.0 * src[i][0] + 7.0];
        }
        let (a, b, tx, ty) = similarity(&src, &dst);
        assert!(a.abs() < 1e-6 && (b - 2.0).abs() < 1e-6, "{a} {b}");
        assert!((tx - 5.0).abs() < 1e-6 && (ty - 7.0).abs() < 1e-6);
    }

    #[test]
    fn aligning_the_template_is_the_identity() {
        let mut img = RgbImage::new(112, 112);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb([x as u8, y as u8, 7]);
        }
        let out = align(&img, &TEMPLATE);
        assert_eq!(out.get_pixel(50, 60), img.get_pixel(50, 60));
    }

    #[test]
    fn cosine_of_parallel_and_orthogonal() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
