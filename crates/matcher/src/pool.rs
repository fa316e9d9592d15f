//! A 2x2, stride-2 max-pooling kernel for tract, and the pass that puts it in
//! place of tract's own.
//!
//! Tract 0.23 has a vectorised path for 2x2 pools of stride 1 only; YuNet's
//! four pools have stride 2 and took the generic path, which checks bounds per
//! tap: 20 % of the detector's time at 320x256 (0.85 ms for the first pool
//! alone, over 1.3 MB of input). This kernel reads two input rows, takes the
//! larger of each pair and writes one output row, with no branch LLVM cannot
//! turn into vector max instructions. Its comparison is tract's (`a < b` picks
//! `b`, taps in row order), so the two give identical results, which the tests
//! check against tract's own operator.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

use crate::kept::WritesOutput;

/// Max-pooling over 2x2 windows with stride 2 and no padding, on the last two
/// axes of an f32 tensor (NCHW or CHW). A trailing odd row or column is left
/// out, as ONNX's floor mode does.
#[derive(Debug, Clone, Default, Hash, PartialEq, Eq)]
pub struct MaxPool2x2S2;

impl Op for MaxPool2x2S2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2S2".into()
    }

    op_as_typed_op!();
}

#[inline(always)]
fn pick(a: f32, b: f32) -> f32 {
    // tract's fold: the later tap wins only when strictly larger.
    if a < b {
        b
    } else {
        a
    }
}

/// One output row from two input rows (`out.len()` pairs of each).
#[inline(always)]
pub(crate) fn pool_rows(r0: &[f32], r1: &[f32], out: &mut [f32]) {
    for ((o, a), b) in out
        .iter_mut()
        .zip(r0.chunks_exact(2))
        .zip(r1.chunks_exact(2))
    {
        *o = pick(pick(pick(a[0], a[1]), b[0]), b[1]);
    }
}

/// The kernel on plain slices: `planes` images of `h` x `w` into `out`
/// (`planes` x `h / 2` x `w / 2`).
pub fn max_pool_2x2_s2(src: &[f32], planes: usize, h: usize, w: usize, out: &mut [f32]) {
    let (oh, ow) = (h / 2, w / 2);
    assert!(src.len() >= planes * h * w && out.len() == planes * oh * ow);
    if oh == 0 || ow == 0 {
        return;
    }
    for (plane, dst) in src.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        for (oy, row) in dst.chunks_exact_mut(ow).enumerate() {
            let r0 = &plane[2 * oy * w..][..2 * ow];
            let r1 = &plane[(2 * oy + 1) * w..][..2 * ow];
            pool_rows(r0, r1, row);
        }
    }
}

impl EvalOp for MaxPool2x2S2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.run_kept(&mut None, inputs)
    }
}

impl WritesOutput for MaxPool2x2S2 {
    fn output_shape(&self, input: &[usize]) -> TractResult<Vec<usize>> {
        ensure!(input.len() >= 2, "MaxPool2x2S2 needs at least two axes");
        let mut out = input.to_vec();
        let r = out.len();
        out[r - 2] /= 2;
        out[r - 1] /= 2;
        Ok(out)
    }

    fn write(&self, x: &[f32], shape: &[usize], out: &mut [f32]) -> TractResult<()> {
        let r = shape.len();
        let planes: usize = shape[..r - 2].iter().product();
        max_pool_2x2_s2(x, planes, shape[r - 2], shape[r - 1], out);
        Ok(())
    }
}

impl TypedOp for MaxPool2x2S2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let fact = inputs[0];
        ensure!(
            fact.datum_type == f32::datum_type(),
            "MaxPool2x2S2 is f32 only"
        );
        let mut shape: TVec<TDim> = fact.shape.iter().cloned().collect();
        let r = shape.len();
        ensure!(r >= 2, "MaxPool2x2S2 needs at least two axes");
        shape[r - 2] = shape[r - 2].clone() / 2;
        shape[r - 1] = shape[r - 1].clone() / 2;
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

fn no_padding(p: &PaddingSpec) -> bool {
    match p {
        PaddingSpec::Valid => true,
        PaddingSpec::Explicit(b, a) => b.iter().chain(a).all(|v| *v == 0),
        PaddingSpec::ExplicitOnnxPool(b, a, ceil) => !ceil && b.iter().chain(a).all(|v| *v == 0),
        _ => false,
    }
}

/// Whether tract's `MaxPool` is the one [`MaxPool2x2S2`] computes: channels
/// first, 2x2 kernel, stride 2, no dilation or padding, no index output.
pub(crate) fn is_2x2_s2(op: &MaxPool) -> bool {
    let spec = &op.pool_spec;
    op.with_index_outputs.is_none()
        && matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && spec.kernel_shape[..] == [2, 2]
        && spec.strides()[..] == [2, 2]
        && spec.dilations()[..] == [1, 1]
        && no_padding(&spec.padding)
}

/// Replaces each of tract's `MaxPool` that [`MaxPool2x2S2`] computes the
/// same way: f32, channels first, 2x2 kernel, stride 2, no dilation or
/// padding, no index output. Returns how many were replaced.
pub fn use_fast_max_pools(model: &mut TypedModel) -> TractResult<usize> {
    let mut replaced = 0;
    for id in 0..model.nodes().len() {
        let node = model.node(id);
        let Some(op) = node.op_as::<MaxPool>() else {
            continue;
        };
        let fits = is_2x2_s2(op)
            && node.inputs.len() == 1
            && model.outlet_fact(node.inputs[0])?.datum_type == f32::datum_type();
        if fits {
            model.node_mut(id).op = Box::new(MaxPool2x2S2);
            replaced += 1;
        }
    }
    Ok(replaced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::PoolSpec;

    fn tract_pool(h: usize, w: usize, input: &Tensor) -> Vec<f32> {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([1, 3, h, w])).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![2, 2],
            padding: PaddingSpec::Valid,
            dilations: None,
            strides: Some(tvec![2, 2]),
            input_channels: 3,
            output_channels: 3,
        };
        let y = m.wire_node("pool", MaxPool::new(spec, None), &[x]).unwrap();
        m.select_output_outlets(&y).unwrap();
        let mut fast = m.clone();
        assert_eq!(use_fast_max_pools(&mut fast).unwrap(), 1);
        let run = |m: TypedModel| {
            let out = m
                .into_optimized()
                .unwrap()
                .into_runnable()
                .unwrap()
                .run(tvec![input.clone().into()])
                .unwrap();
            let plain = out[0].try_as_plain_ram().unwrap();
            (
                out[0].shape().to_vec(),
                plain.as_slice::<f32>().unwrap().to_vec(),
            )
        };
        let (theirs, ours) = (run(m), run(fast));
        assert_eq!(theirs.0, ours.0, "output shapes");
        assert_eq!(theirs.1, ours.1, "tract's pool and ours differ at {h}x{w}");
        ours.1
    }

    #[test]
    fn same_values_as_tracts_pool_on_even_and_odd_sizes() {
        for (h, w) in [(8, 10), (7, 9), (2, 2), (5, 4)] {
            // Values with ties, negatives and signed zeros.
            let v: Vec<f32> = (0..3 * h * w)
                .map(|i| match i % 7 {
                    0 => 0.0,
                    1 => -0.0,
                    k => ((i * 37 % 23) as f32 - 11.0) * k as f32 / 3.0,
                })
                .collect();
            let t = tensor1(&v).into_shape(&[1, 3, h, w]).unwrap();
            let out = tract_pool(h, w, &t);
            assert_eq!(out.len(), 3 * (h / 2) * (w / 2));
        }
    }

    #[test]
    fn takes_the_largest_of_each_window() {
        #[rustfmt::skip]
        let src = [
            1.0, 5.0,  2.0, 0.0,  9.0,
            3.0, 4.0, -1.0, 8.0,  9.0,
            7.0, 7.0,  7.0, 7.0,  7.0,
        ];
        let mut out = [0.0; 2];
        max_pool_2x2_s2(&src, 1, 3, 5, &mut out);
        assert_eq!(out, [5.0, 8.0]);
    }
}
