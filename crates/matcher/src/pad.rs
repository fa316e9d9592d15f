//! Presentation-attack detection (PAD) on an RGB camera, from a burst of
//! frames. Two methods, both recorded in the evidence:
//!
//! - `static_replay`: the burst must show motion. Frames whose aligned faces
//!   are near-identical pixel for pixel *and* whose landmarks do not move are
//!   a replayed still (the same image file fed again, a frozen stream).
//! - `challenge_turn_head`: the operator is asked to turn their head to
//!   their own left or right; the yaw measured from the landmarks must start
//!   near frontal and then move the asked way by at least a margin. A flat
//!   photo turned in front of the camera keeps its landmark ratios (under
//!   weak perspective a rotated plane compresses the nose offset and the eye
//!   distance alike), so its yaw does not change.
//!
//! What this does NOT stop (say so wherever PAD is claimed): a video of the
//! person turning their head, a 3-D mask or a realistic head model, a
//! deep-fake or any frames injected in place of the camera's, a second
//! person's cooperation. There is no depth or IR sensor and no trained
//! PAD model; this is ISO/IEC 30107 "level A" at best and was not tested
//! against attack instruments.

use serde::{Deserialize, Serialize};

/// What the operator is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Challenge {
    /// Turn the head to the person's own left (image right, unmirrored).
    TurnLeft,
    /// Turn the head to the person's own right (image left, unmirrored).
    TurnRight,
}

impl Challenge {
    pub fn instruction(&self) -> &'static str {
        match self {
            Challenge::TurnLeft => "slowly turn your head to your left",
            Challenge::TurnRight => "slowly turn your head to your right",
        }
    }
    /// Sign of the yaw change the challenge asks for.
    fn sign(&self) -> f32 {
        match self {
            Challenge::TurnLeft => 1.0,
            Challenge::TurnRight => -1.0,
        }
    }
}

/// One frame of a burst, as PAD sees it.
#[derive(Debug, Clone)]
pub struct PadFrame {
    pub landmarks: [[f32; 2]; 5],
    /// Grey levels of the aligned 112x112 face.
    pub aligned_grey: Vec<u8>,
}

/// PAD thresholds; recorded with each attempt.
#[derive(Debug, Clone, Serialize)]
pub struct PadConfig {
    /// Mean absolute grey difference between aligned faces below which two
    /// frames count as the same picture.
    pub static_pixel_diff: f32,
    /// Largest landmark displacement (in eye distances) below which two
    /// frames count as motionless.
    pub static_landmark_motion: f32,
    /// The first frame's |yaw| must be below this (start frontal).
    pub challenge_start_max_yaw: f32,
    /// The yaw must then move at least this much the asked way.
    pub challenge_min_yaw_change: f32,
}

impl Default for PadConfig {
    fn default() -> Self {
        PadConfig {
            static_pixel_diff: 1.5,
            static_landmark_motion: 0.01,
            challenge_start_max_yaw: 0.15,
            challenge_min_yaw_change: 0.20,
        }
    }
}

/// One method's result.
#[derive(Debug, Clone, Serialize)]
pub struct PadCheck {
    pub method: String,
    pub passed: bool,
    pub detail: String,
}

/// The PAD result of a burst: passed only if every method run passed.
#[derive(Debug, Clone, Serialize)]
pub struct PadResult {
    pub passed: bool,
    pub frames: usize,
    pub checks: Vec<PadCheck>,
}

fn eye_distance(lm: &[[f32; 2]; 5]) -> f32 {
    ((lm[1][0] - lm[0][0]).powi(2) + (lm[1][1] - lm[0][1]).powi(2))
        .sqrt()
        .max(1e-3)
}

/// The static-replay check over consecutive frames.
pub fn static_replay(cfg: &PadConfig, frames: &[PadFrame]) -> PadCheck {
    let method = "static_replay".to_string();
    if frames.len() < 2 {
        return PadCheck {
            method,
            passed: false,
            detail: format!(
                "{} frame(s) with a face: motion needs at least 2",
                frames.len()
            ),
        };
    }
    let mut moving_pairs = 0;
    let (mut max_diff, mut max_motion) = (0f32, 0f32);
    for w in frames.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let n = a.aligned_grey.len().min(b.aligned_grey.len()).max(1);
        let diff = a
            .aligned_grey
            .iter()
            .zip(&b.aligned_grey)
            .map(|(x, y)| (*x as f32 - *y as f32).abs())
            .sum::<f32>()
            / n as f32;
        let ed = eye_distance(&a.landmarks);
        let motion = a
            .landmarks
            .iter()
            .zip(&b.landmarks)
            .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt() / ed)
            .fold(0f32, f32::max);
        max_diff = max_diff.max(diff);
        max_motion = max_motion.max(motion);
        if diff >= cfg.static_pixel_diff || motion >= cfg.static_landmark_motion {
            moving_pairs += 1;
        }
    }
    let pairs = frames.len() - 1;
    // Every consecutive pair must differ: a replay that repeats one still
    // between two others is still a replay.
    let passed = moving_pairs == pairs;
    PadCheck {
        method,
        passed,
        detail: format!(
            "{moving_pairs}/{pairs} consecutive pairs differ (max mean grey diff {max_diff:.2}, max landmark motion {max_motion:.3} eye distances)"
        ),
    }
}

/// The head-turn challenge over the burst, in order.
pub fn head_turn(cfg: &PadConfig, challenge: Challenge, frames: &[PadFrame]) -> PadCheck {
    let method = match challenge {
        Challenge::TurnLeft => "challenge_turn_head_left",
        Challenge::TurnRight => "challenge_turn_head_right",
    }
    .to_string();
    let yaws: Vec<f32> = frames
        .iter()
        .map(|f| crate::quality::pose(&f.landmarks).yaw)
        .collect();
    let Some(&start) = yaws.first() else {
        return PadCheck {
            method,
            passed: false,
            detail: "no frame with a face".into(),
        };
    };
    let best = yaws
        .iter()
        .map(|y| (y - start) * challenge.sign())
        .fold(f32::MIN, f32::max);
    let started_frontal = start.abs() <= cfg.challenge_start_max_yaw;
    let passed = started_frontal && best >= cfg.challenge_min_yaw_change;
    PadCheck {
        method,
        passed,
        detail: format!(
            "start yaw {start:.2} ({}), largest change the asked way {best:.2} (needs {:.2})",
            if started_frontal {
                "frontal"
            } else {
                "not frontal"
            },
            cfg.challenge_min_yaw_change
        ),
    }
}

/// Runs the static-replay check, and the challenge if one was asked.
pub fn evaluate(cfg: &PadConfig, challenge: Option<Challenge>, frames: &[PadFrame]) -> PadResult {
    let mut checks = vec![static_replay(cfg, frames)];
    if let Some(c) = challenge {
        checks.push(head_turn(cfg, c, frames));
    }
    PadResult {
        passed: checks.iter().all(|c| c.passed),
        frames: frames.len(),
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(nose_dx: f32, shade: u8) -> PadFrame {
        PadFrame {
            landmarks: [
                [40.0, 50.0],
                [72.0, 50.0],
                [56.0 + nose_dx, 70.0],
                [42.0, 90.0],
                [70.0, 90.0],
            ],
            aligned_grey: vec![shade; 112 * 112],
        }
    }

    #[test]
    fn identical_frames_are_a_static_replay() {
        let cfg = PadConfig::default();
        let r = evaluate(
            &cfg,
            None,
            &[frame(0.0, 100), frame(0.0, 100), frame(0.0, 100)],
        );
        assert!(!r.passed);
        assert!(
            r.checks[0].detail.starts_with("0/2"),
            "{}",
            r.checks[0].detail
        );
        // One frame cannot show motion.
        assert!(!static_replay(&cfg, &[frame(0.0, 1)]).passed);
        // A still repeated between moving frames is caught too.
        assert!(!static_replay(&cfg, &[frame(0.0, 1), frame(0.0, 1), frame(3.0, 9)]).passed);
    }

    #[test]
    fn moving_frames_pass_the_static_check() {
        let cfg = PadConfig::default();
        let r = evaluate(
            &cfg,
            None,
            &[frame(0.0, 100), frame(0.5, 103), frame(1.0, 99)],
        );
        assert!(r.passed, "{:?}", r.checks);
    }

    #[test]
    fn head_turn_must_start_frontal_and_go_the_asked_way() {
        let cfg = PadConfig::default();
        // nose moves 9 px toward image right over an eye distance of 32: yaw +0.28
        let burst = [frame(0.0, 100), frame(4.0, 104), frame(9.0, 108)];
        assert!(evaluate(&cfg, Some(Challenge::TurnLeft), &burst).passed);
        let wrong_way = evaluate(&cfg, Some(Challenge::TurnRight), &burst);
        assert!(!wrong_way.passed);
        assert!(!wrong_way.checks[1].passed && wrong_way.checks[0].passed);
        // starting already turned does not count
        let late = [frame(8.0, 100), frame(16.0, 104)];
        assert!(!head_turn(&cfg, Challenge::TurnLeft, &late).passed);
        // a still photo never turns
        let still = [frame(0.0, 100), frame(0.2, 104), frame(0.1, 108)];
        assert!(!evaluate(&cfg, Some(Challenge::TurnLeft), &still).passed);
    }
}
