//! YuNet with tract's own convolutions against the matcher's
//! (`conv::FastConv`), in the same process, runs alternating, at 320x256 and
//! 640x480: the minimum and mean of 30 runs each, the matcher's on one
//! thread and inside a two-thread pool's scope (where tract shares out its
//! own large matrix products; the matcher's kernels stay on one thread).
//! Each plan runs on a kept state, as the matcher's does. For optimising; the numbers in BENCHMARKS.md come from
//! `countersign bench --face`.
//!
//!     cargo run --release -p countersign-matcher --example ab

use std::time::Instant;

use countersign_matcher::model::{compile_with, load_folded, read_verified, ModelRole};
use countersign_matcher::{default_models_dir, DETECTOR_FILE};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::multithread::{multithread_tract_scope, Executor};

fn main() -> TractResult<()> {
    let path = default_models_dir().join(DETECTOR_FILE);
    let (bytes, _) = read_verified(&path, ModelRole::Detector)?;
    let pool = Executor::multithread(2);
    for shape in [[1usize, 3, 256, 320], [1, 3, 480, 640]] {
        let mut states = vec![];
        for fast in [false, true, true] {
            let (m, _) = load_folded(&path, &bytes)?;
            states.push(compile_with(m, shape, fast)?.spawn()?);
        }
        let input = Tensor::zero::<f32>(&shape)?;
        let (mut best, mut sum) = ([f64::MAX; 3], [0f64; 3]);
        let runs = 30;
        for _ in 0..runs {
            for (i, s) in states.iter_mut().enumerate() {
                let executor = if i == 2 {
                    pool.clone()
                } else {
                    Executor::SingleThread
                };
                let t = Instant::now();
                multithread_tract_scope(executor, || s.run(tvec![input.clone().into()]))?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                best[i] = best[i].min(ms);
                sum[i] += ms;
            }
        }
        let mean = sum.map(|s| s / runs as f64);
        println!(
            "{shape:?} tract / own convolutions / own on 2 threads: min {:.2} / {:.2} / {:.2} ms, mean {:.2} / {:.2} / {:.2} ms",
            best[0], best[1], best[2], mean[0], mean[1], mean[2]
        );
    }
    Ok(())
}
