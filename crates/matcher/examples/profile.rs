//! Where the models spend their time: tract's optimised plans for YuNet
//! (at 320x256 and 640x480) and SFace, timed per operator kind over a
//! number of runs on a blank input. For optimising, not for BENCHMARKS.md
//! (that is `countersign bench --face`).
//!
//!     cargo run --release -p countersign-matcher --example profile [-- RUNS]
//!
//! With `PROFILE_NODES=1` it also lists the slowest nodes with their output
//! shapes.

use std::collections::HashMap;
use std::time::Instant;

use countersign_matcher::model::{compile, load_folded, read_verified, ModelRole};
use countersign_matcher::{default_models_dir, DETECTOR_FILE, RECOGNIZER_FILE};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::{eval, SimpleState};

fn profile(file: &str, role: ModelRole, shape: [usize; 4], runs: usize) -> TractResult<()> {
    let path = default_models_dir().join(file);
    let (bytes, _) = read_verified(&path, role)?;
    let (model, _) = load_folded(&path, &bytes)?;
    let plan = compile(model, shape)?;
    let mut state = SimpleState::new(&plan)?;
    let input = Tensor::zero::<f32>(&shape)?;
    let mut by_op: HashMap<String, (f64, usize)> = HashMap::new();
    let mut by_node: HashMap<usize, (f64, String)> = HashMap::new();
    let t0 = Instant::now();
    for _ in 0..runs {
        state.run_plan_with_eval(tvec![input.clone().into()], |ctx, st, node, inputs| {
            let t = Instant::now();
            let r = eval(ctx, st, node, inputs);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let e = by_op.entry(node.op().name().to_string()).or_default();
            e.0 += ms;
            e.1 += 1;
            let shape = match &r {
                Ok(o) => format!("{:?}", o.first().map(|t| t.shape().to_vec())),
                Err(_) => String::new(),
            };
            let n = by_node.entry(node.id).or_default();
            n.0 += ms;
            n.1 = format!("{} {} -> {shape}", node.op().name(), node.name);
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
    if std::env::var_os("PROFILE_NODES").is_some() {
        let mut nodes: Vec<_> = by_node.into_values().collect();
        nodes.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (ms, what) in nodes.iter().take(25) {
            println!("    {:>8.3} ms/run  {what}", ms / runs as f64);
        }
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
