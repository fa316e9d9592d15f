//! Where the models spend their time: tract's optimised plans for YuNet
//! (at 320x256 and 640x480) and SFace, timed per operator kind over a
//! number of runs on a blank input. For optimising, not for BENCHMARKS.md
//! (that is `countersign bench --face`).
//!
//!     cargo run --release -p countersign-matcher --example profile [-- RUNS]

use std::collections::HashMap;
use std::time::Instant;

use countersign_matcher::model::{load_folded, read_verified, ModelRole};
use countersign_matcher::{default_models_dir, DETECTOR_FILE, RECOGNIZER_FILE};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::{eval, SimpleState};

fn profile(file: &str, role: ModelRole, shape: [usize; 4], runs: usize) -> TractResult<()> {
    let path = default_models_dir().join(file);
    let (bytes, _) = read_verified(&path, role)?;
    let (model, _) = load_folded(&path, &bytes)?;
    let plan = model
        .with_input_fact(0, f32::fact(shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let mut state = SimpleState::new(&plan)?;
    let input = Tensor::zero::<f32>(&shape)?;
    let mut by_op: HashMap<String, (f64, usize)> = HashMap::new();
    let t0 = Instant::now();
    for _ in 0..runs {
        state.run_plan_with_eval(tvec![input.clone().into()], |ctx, st, node, inputs| {
            let t = Instant::now();
            let r = eval(ctx, st, node, inputs);
            let e = by_op.entry(node.op().name().to_string()).or_default();
            e.0 += t.elapsed().as_secs_f64() * 1000.0;
            e.1 += 1;
            r
        })?;
    }
    let total = t0.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    let mut rows: Vec<_> = by_op.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    println!("{file} {shape:?}: {total:.2} ms per run over {runs} runs");
    for (op, (ms, n)) in rows.iter().take(12) {
        println!(
            "  {:>8.3} ms/run  {:>4} nodes  {op}",
            ms / runs as f64,
            n / runs
        );
    }
    Ok(())
}

fn main() -> TractResult<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    profile(DETECTOR_FILE, ModelRole::Detector, [1, 3, 256, 320], runs)?;
    profile(DETECTOR_FILE, ModelRole::Detector, [1, 3, 480, 640], runs)?;
    profile(
        RECOGNIZER_FILE,
        ModelRole::Recognizer,
        [1, 3, 112, 112],
        runs,
    )?;
    Ok(())
}
