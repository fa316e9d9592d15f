//! YuNet with tract's own convolutions against the matcher's
//! (`conv::FastConv`), in the same process, runs alternating, at 320x256 and
//! 640x480: the minimum and mean of 30 runs each, the matcher's on one
//! thread and on a two-thread pool (where tract shares out its large matrix
//! products and the matcher's kernels their larger layers' channels).
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
        // A noisy picture, not zeros: a blank input makes every layer's
        // output a constant plane, which is no test of the caches.
        let len: usize = shape.iter().product();
        let mut v = 12345u32;
        let pixels: Vec<f32> = (0..len)
            .map(|_| {
                v ^= v << 13;
                v ^= v >> 17;
                v ^= v << 5;
                (v % 256) as f32
            })
            .collect();
        let input = Tensor::from_shape(&shape, &pixels)?;
        let (mut best, mut sum) = ([f64::MAX; 3], [0f64; 3]);
        let runs = 30;
        for _ in 0..runs {
            for (i, s) in states.iter_mut().enumerate() {
                let t = Instant::now();
                let mut run = || s.run(tvec![input.clone().into()]);
                match (&pool, i) {
                    // As `Matcher` does: the whole run on a pool thread.
                    (Executor::MultiThread(p), 2) => {
                        p.install(|| multithread_tract_scope(pool.clone(), run))
                    }
                    _ => run(),
                }?;
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
