//! PRelu with one slope per channel, as one tract operator.
//!
//! Tract 0.23 expands ONNX's PRelu into a multiplication, a comparison and a
//! select over the whole tensor, and broadcasts the slope tensor for each:
//! about 60 % of SFace's time went there (27 PRelu nodes). A rewrite into
//! `Max(x, Mul(x, slope))` halved that, but tract still ran the broadcast
//! per-channel multiplication slowly (5.5 ms of 30 per embedding). This
//! operator does the whole thing in one pass, in place: per channel plane,
//! `x < 0 ? x * slope : x`, exactly ONNX's definition and tract's expansion
//! (the test compares the embedding bit for bit).
//!
//! Only PRelu nodes whose slope is a constant of one value per channel (shape
//! `[C, 1, 1]` or `[1, C, 1, 1]`) on an NCHW input are handed to it; the loader
//! renames those nodes to [`OP_TYPE`] so that every other PRelu keeps tract's
//! own operator.

use std::sync::Arc;

use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::*;

/// The ONNX op type the loader gives to per-channel PRelu nodes.
pub const OP_TYPE: &str = "CountersignChannelPRelu";

/// Registers [`OP_TYPE`] with an ONNX parser.
pub fn register(onnx: &mut tract_onnx::Onnx) {
    onnx.op_register
        .insert(OP_TYPE, |_, _| Ok((expand(ChannelPreluExpansion), vec![])));
}

/// True when a slope initializer of these dimensions has one value per
/// channel of an NCHW input, as ONNX broadcasting reads it.
pub fn per_channel_dims(dims: &[i64]) -> bool {
    matches!(dims, [_, 1, 1] | [1, _, 1, 1])
}

/// Renames the per-channel PRelu nodes of a graph to [`OP_TYPE`]; returns
/// how many.
pub fn mark(graph: &mut pb::GraphProto) -> usize {
    let per_channel: std::collections::HashSet<String> = graph
        .initializer
        .iter()
        .filter(|t| t.data_type == 1 && per_channel_dims(&t.dims))
        .map(|t| t.name.clone())
        .collect();
    let mut n = 0;
    for node in &mut graph.node {
        if node.op_type == "PRelu"
            && node.input.len() == 2
            && node.output.len() == 1
            && per_channel.contains(&node.input[1])
        {
            node.op_type = OP_TYPE.into();
            n += 1;
        }
    }
    n
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct ChannelPreluExpansion;

impl Expansion for ChannelPreluExpansion {
    fn name(&self) -> StaticName {
        OP_TYPE.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        name: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = model.outlet_fact(inputs[0])?.clone();
        let slope = model.outlet_fact(inputs[1])?.clone();
        let Some(k) = slope.konst else {
            bail!("{name}: the PRelu slope must be a constant");
        };
        ensure!(
            x.datum_type == f32::datum_type() && x.rank() == 4,
            "{name}: per-channel PRelu needs an f32 NCHW input"
        );
        let slopes = k.cast_to::<f32>()?.into_owned();
        let channels = slopes.len();
        ensure!(
            x.shape[1] == channels.to_dim(),
            "{name}: {channels} slopes for {} channels",
            x.shape[1]
        );
        let slopes = slopes.into_shape(&[channels])?;
        model.wire_node(
            name,
            ChannelPrelu {
                slopes: Arc::new(slopes),
            },
            &inputs[..1],
        )
    }
}

/// `x < 0 ? x * slope[c] : x` on an NCHW f32 tensor, in place when the
/// input is not shared.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct ChannelPrelu {
    slopes: Arc<Tensor>,
}

/// The kernel on a plain slice of `planes` channel planes of `plane` values.
pub fn channel_prelu(data: &mut [f32], slopes: &[f32], plane: usize) {
    if plane == 0 || slopes.is_empty() {
        return;
    }
    for (i, chunk) in data.chunks_exact_mut(plane).enumerate() {
        let s = slopes[i % slopes.len()];
        for v in chunk {
            *v = if *v < 0.0 { *v * s } else { *v };
        }
    }
}

impl Op for ChannelPrelu {
    fn name(&self) -> StaticName {
        "ChannelPrelu".into()
    }

    op_as_typed_op!();
}

impl EvalOp for ChannelPrelu {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut t = args_1!(inputs).into_tensor();
        let shape = t.shape().to_vec();
        ensure!(
            shape.len() == 4 && shape[1] == self.slopes.len(),
            "ChannelPrelu: input {shape:?} for {} slopes",
            self.slopes.len()
        );
        let plane = shape[2] * shape[3];
        {
            let slopes = self.slopes.try_as_plain_ram()?;
            let mut data = t.try_as_plain_ram_mut()?;
            channel_prelu(
                data.as_slice_mut::<f32>()?,
                slopes.as_slice::<f32>()?,
                plane,
            );
        }
        Ok(tvec!(t.into_tvalue()))
    }
}

impl TypedOp for ChannelPrelu {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_values_take_their_channel_slope() {
        let mut v = [-2.0, 3.0, -0.0, -4.0, 1.0, -1.0];
        channel_prelu(&mut v, &[0.5, 2.0], 3);
        assert_eq!(v, [-1.0, 3.0, -0.0, -8.0, 1.0, -2.0]);
    }

    #[test]
    fn only_per_channel_slopes_are_marked() {
        assert!(per_channel_dims(&[64, 1, 1]));
        assert!(per_channel_dims(&[1, 64, 1, 1]));
        assert!(!per_channel_dims(&[64]), "[C] broadcasts along W, not C");
        assert!(!per_channel_dims(&[1]));
        let prelu = |slope: &str| pb::NodeProto {
            op_type: "PRelu".into(),
            input: vec!["x".into(), slope.into()],
            output: vec!["y".into()],
            ..Default::default()
        };
        let init = |name: &str, dims: Vec<i64>| pb::TensorProto {
            name: name.into(),
            dims,
            data_type: 1,
            ..Default::default()
        };
        let mut g = pb::GraphProto {
            node: vec![prelu("chan"), prelu("row"), prelu("computed")],
            initializer: vec![init("chan", vec![8, 1, 1]), init("row", vec![8])],
            ..Default::default()
        };
        assert_eq!(mark(&mut g), 1);
        let ops: Vec<&str> = g.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(ops, [OP_TYPE, "PRelu", "PRelu"]);
    }
}
