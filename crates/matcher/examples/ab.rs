//! YuNet with tract's own convolutions against the matcher's
//! (`conv::FastConv`), in the same process, runs alternating, at 320x256 and
//! 640x480: the minimum and mean of 30 runs each. For optimising; the
//! numbers in BENCHMARKS.md come from `countersign bench --face`.
//!
//!     cargo run --release -p countersign-matcher --example ab

use std::time::Instant;

use countersign_matcher::model::{compile_with, load_folded, read_verified, ModelRole};
use countersign_matcher::{default_models_dir, DETECTOR_FILE};
use tract_onnx::prelude::*;

fn main() -> TractResult<()> {
    let path = default_models_dir().join(DETECTOR_FILE);
    let (bytes, _) = read_verified(&path, ModelRole::Detector)?;
    for shape in [[1usize, 3, 256, 320], [1, 3, 480, 640]] {
        let mut plans = vec![];
        for fast in [false, true] {
            let (m, _) = load_folded(&path, &bytes)?;
            plans.push(compile_with(m, shape, fast)?);
        }
        let input = Tensor::zero::<f32>(&shape)?;
        let (mut best, mut sum) = ([f64::MAX; 2], [0f64; 2]);
        let runs = 30;
        for _ in 0..runs {
            for (i, p) in plans.iter().enumerate() {
                let t = Instant::now();
                p.run(tvec![input.clone().into()])?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                best[i] = best[i].min(ms);
                sum[i] += ms;
            }
        }
        println!(
            "{shape:?} tract / fast convolutions: min {:.2} / {:.2} ms, mean {:.2} / {:.2} ms",
            best[0],
            best[1],
            sum[0] / runs as f64,
            sum[1] / runs as f64
        );
    }
    Ok(())
}
