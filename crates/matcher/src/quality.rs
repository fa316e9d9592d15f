//! Quality gates: a frame that fails them is a quality failure (retry the
//! capture), never a match failure.

use image::RgbImage;
use serde::Serialize;

use crate::detect::Face;

/// Gate thresholds; recorded with each attempt.
#[derive(Debug, Clone, Serialize)]
pub struct QualityConfig {
    /// Detector score for a face to count at all.
    pub min_detection_score: f32,
    /// Distance between the eye centres, in frame pixels.
    pub min_eye_distance_px: f32,
    /// Variance of the Laplacian of the aligned face (grey levels²).
    pub min_sharpness: f32,
    /// Mean grey level of the aligned face.
    pub min_brightness: f32,
    pub max_brightness: f32,
    /// |yaw| from landmarks: horizontal nose offset from the eye midpoint,
    /// divided by the eye distance (0 = frontal; about 0.5 = strongly turned).
    pub max_abs_yaw: f32,
    /// Pitch from landmarks: vertical nose position between the eye line
    /// (0) and the mouth line (1). Frontal faces sit near 0.5.
    pub pitch_range: (f32, f32),
    /// Eye-line angle, degrees.
    pub max_abs_roll_deg: f32,
    /// Another face at least this fraction of the primary face's height
    /// makes the frame ambiguous ("exactly one face").
    pub other_face_ratio: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            min_detection_score: 0.6,
            min_eye_distance_px: 24.0,
            min_sharpness: 20.0,
            min_brightness: 40.0,
            max_brightness: 220.0,
            max_abs_yaw: 0.30,
            pitch_range: (0.25, 0.85),
            max_abs_roll_deg: 25.0,
            other_face_ratio: 0.5,
        }
    }
}

/// Pose measured from the five landmarks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll_deg: f32,
    pub eye_distance_px: f32,
}

/// Pose from landmarks, in the frame rotated so the eye line is level.
pub fn pose(lm: &[[f32; 2]; 5]) -> Pose {
    let (re, le, nose) = (lm[0], lm[1], lm[2]);
    let (dx, dy) = (le[0] - re[0], le[1] - re[1]);
    let eye_d = (dx * dx + dy * dy).sqrt().max(1e-3);
    let roll = dy.atan2(dx);
    let (c, s) = (roll.cos(), roll.sin());
    let mid = [(re[0] + le[0]) / 2.0, (re[1] + le[1]) / 2.0];
    // rotate by -roll around the eye midpoint
    let rot = |p: [f32; 2]| {
        let (x, y) = (p[0] - mid[0], p[1] - mid[1]);
        [x * c + y * s, -x * s + y * c]
    };
    let n = rot(nose);
    let m = rot([(lm[3][0] + lm[4][0]) / 2.0, (lm[3][1] + lm[4][1]) / 2.0]);
    let pitch = if m[1].abs() > 1e-3 { n[1] / m[1] } else { 0.0 };
    Pose {
        yaw: n[0] / eye_d,
        pitch,
        roll_deg: roll.to_degrees(),
        eye_distance_px: eye_d,
    }
}

/// Grey level of an RGB pixel (BT.601).
pub(crate) fn luma(p: &image::Rgb<u8>) -> f32 {
    0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
}

/// Sharpness and brightness over the central part of the aligned face
/// (rows and columns 16..96 of 112: the face, without the background).
pub fn sharpness_brightness(aligned: &RgbImage) -> (f32, f32) {
    let (w, h) = aligned.dimensions();
    let (x0, x1, y0, y1) = (w / 7, w - w / 7, h / 7, h - h / 7);
    let g = |x: u32, y: u32| luma(aligned.get_pixel(x, y));
    let (mut sum, mut n) = (0f64, 0f64);
    let mut laps = Vec::new();
    for y in y0..y1 {
        for x in x0..x1 {
            sum += g(x, y) as f64;
            n += 1.0;
            if x > 0 && y > 0 && x + 1 < w && y + 1 < h {
                let l = g(x - 1, y) + g(x + 1, y) + g(x, y - 1) + g(x, y + 1) - 4.0 * g(x, y);
                laps.push(l as f64);
            }
        }
    }
    let mean_l = laps.iter().sum::<f64>() / laps.len().max(1) as f64;
    let var_l = laps.iter().map(|l| (l - mean_l).powi(2)).sum::<f64>() / laps.len().max(1) as f64;
    (var_l as f32, (sum / n.max(1.0)) as f32)
}

/// What the gates measured and which failed.
#[derive(Debug, Clone, Serialize)]
pub struct QualityReport {
    pub passed: bool,
    /// Stable codes: `no_face`, `multiple_faces`, `face_too_small`,
    /// `blurry`, `too_dark`, `too_bright`, `pose_yaw`, `pose_pitch`, `pose_roll`.
    pub failures: Vec<String>,
    pub face_count: usize,
    pub detection_score: Option<f32>,
    pub pose: Option<Pose>,
    pub sharpness: Option<f32>,
    pub brightness: Option<f32>,
}

impl QualityReport {
    /// How much a frame that passed the gates counts in a fused burst:
    /// detection confidence x sharpness (full weight at 4x the gate's
    /// minimum, a quarter at the minimum) x frontality (1 facing the
    /// camera, 0.5 at the yaw gate's limit). In (0, 1]; 0 for a frame
    /// that failed the gates.
    pub fn weight(&self, cfg: &QualityConfig) -> f32 {
        if !self.passed {
            return 0.0;
        }
        let det = self.detection_score.unwrap_or(0.0).clamp(0.0, 1.0);
        let sharp =
            (self.sharpness.unwrap_or(0.0) / (4.0 * cfg.min_sharpness.max(1e-3))).clamp(0.25, 1.0);
        let yaw = self.pose.map_or(0.0, |p| p.yaw.abs());
        let front = (1.0 - 0.5 * yaw / cfg.max_abs_yaw.max(1e-3)).clamp(0.5, 1.0);
        (det * sharp * front).max(1e-3)
    }

    /// One line for people and for the `quality_failure` reason.
    pub fn summary(&self) -> String {
        if self.passed {
            "quality ok".into()
        } else {
            format!("quality gates failed: {}", self.failures.join(", "))
        }
    }
}

/// Runs the gates on a frame's faces (those at or above the detection
/// score), the chosen primary face and its aligned crop.
pub fn assess(
    cfg: &QualityConfig,
    faces: &[Face],
    primary: Option<usize>,
    aligned: Option<&RgbImage>,
) -> QualityReport {
    let mut r = QualityReport {
        passed: false,
        failures: vec![],
        face_count: faces.len(),
        detection_score: None,
        pose: None,
        sharpness: None,
        brightness: None,
    };
    let (Some(i), Some(crop)) = (primary, aligned) else {
        r.failures.push("no_face".into());
        return r;
    };
    let f = &faces[i];
    r.detection_score = Some(f.score);
    let others = faces
        .iter()
        .enumerate()
        .filter(|(j, o)| *j != i && o.h >= f.h * cfg.other_face_ratio)
        .count();
    if others > 0 {
        r.failures.push("multiple_faces".into());
    }
    let p = pose(&f.landmarks);
    r.pose = Some(p);
    if p.eye_distance_px < cfg.min_eye_distance_px {
        r.failures.push("face_too_small".into());
    }
    let (sharp, bright) = sharpness_brightness(crop);
    r.sharpness = Some(sharp);
    r.brightness = Some(bright);
    if sharp < cfg.min_sharpness {
        r.failures.push("blurry".into());
    }
    if bright < cfg.min_brightness {
        r.failures.push("too_dark".into());
    }
    if bright > cfg.max_brightness {
        r.failures.push("too_bright".into());
    }
    if p.yaw.abs() > cfg.max_abs_yaw {
        r.failures.push("pose_yaw".into());
    }
    if p.pitch < cfg.pitch_range.0 || p.pitch > cfg.pitch_range.1 {
        r.failures.push("pose_pitch".into());
    }
    if p.roll_deg.abs() > cfg.max_abs_roll_deg {
        r.failures.push("pose_roll".into());
    }
    r.passed = r.failures.is_empty();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_rewards_confidence_sharpness_and_a_frontal_pose() {
        let cfg = QualityConfig::default();
        let base = QualityReport {
            passed: true,
            failures: vec![],
            face_count: 1,
            detection_score: Some(0.9),
            pose: Some(Pose {
                yaw: 0.0,
                pitch: 0.5,
                roll_deg: 0.0,
                eye_distance_px: 60.0,
            }),
            sharpness: Some(4.0 * cfg.min_sharpness),
            brightness: Some(120.0),
        };
        assert!((base.weight(&cfg) - 0.9).abs() < 1e-6);
        let blurry = QualityReport {
            sharpness: Some(cfg.min_sharpness),
            ..base.clone()
        };
        assert!((blurry.weight(&cfg) - 0.9 * 0.25).abs() < 1e-6);
        let turned = QualityReport {
            pose: base.pose.map(|p| Pose {
                yaw: cfg.max_abs_yaw,
                ..p
            }),
            ..base.clone()
        };
        assert!((turned.weight(&cfg) - 0.45).abs() < 1e-6);
        let failed = QualityReport {
            passed: false,
            ..base
        };
        assert_eq!(failed.weight(&cfg), 0.0);
    }

    const FRONTAL: [[f32; 2]; 5] = [
        [40.0, 50.0],
        [72.0, 50.0],
        [56.0, 70.0],
        [42.0, 90.0],
        [70.0, 90.0],
    ];

    #[test]
    fn pose_of_a_frontal_a_turned_and_a_tilted_face() {
        let p = pose(&FRONTAL);
        assert!(p.yaw.abs() < 0.01 && p.roll_deg.abs() < 0.01, "{p:?}");
        assert!((p.pitch - 0.5).abs() < 0.01);
        assert!((p.eye_distance_px - 32.0).abs() < 0.01);
        let mut turned = FRONTAL;
        turned[2][0] += 12.0; // nose toward image right
        assert!((pose(&turned).yaw - 0.375).abs() < 0.01);
        // rotate the frontal face by 30 degrees: roll 30, yaw still 0
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let mut tilted = FRONTAL;
        for p in tilted.iter_mut() {
            *p = [p[0] * c - p[1] * s, p[0] * s + p[1] * c];
        }
        let t = pose(&tilted);
        assert!(
            (t.roll_deg - 30.0).abs() < 0.1 && t.yaw.abs() < 0.01,
            "{t:?}"
        );
    }

    #[test]
    fn flat_and_noisy_crops_differ_in_sharpness() {
        let flat = RgbImage::from_pixel(112, 112, image::Rgb([128, 128, 128]));
        let (s, b) = sharpness_brightness(&flat);
        assert_eq!(s, 0.0);
        assert!((b - 128.0).abs() < 0.5);
        let mut checker = flat.clone();
        for (x, y, p) in checker.enumerate_pixels_mut() {
            if (x + y) % 2 == 0 {
                *p = image::Rgb([200, 200, 200]);
            }
        }
        assert!(sharpness_brightness(&checker).0 > 1000.0);
    }

    #[test]
    fn no_face_and_several_faces_fail_the_gates() {
        let cfg = QualityConfig::default();
        let r = assess(&cfg, &[], None, None);
        assert!(!r.passed);
        assert_eq!(r.failures, vec!["no_face"]);
        let f = Face {
            x: 30.0,
            y: 30.0,
            w: 60.0,
            h: 70.0,
            landmarks: FRONTAL,
            score: 0.9,
        };
        let crop = RgbImage::from_pixel(112, 112, image::Rgb([128, 128, 128]));
        let r = assess(&cfg, &[f.clone(), f.clone()], Some(0), Some(&crop));
        assert!(r.failures.contains(&"multiple_faces".to_string()));
        assert!(r.failures.contains(&"blurry".to_string()));
        assert!(r.summary().starts_with("quality gates failed"));
    }
}
