//! YuNet's convolutions as three small tract operators, and the pass that
//! puts them in place of tract's own.
//!
//! YuNet is wide and shallow: 16 to 64 channels over up to 320x240 pixels.
//! Tract 0.23 runs each 1x1 convolution as a matrix product that first packs
//! the whole input into panels (4 ms for the first one at 640x480, more than
//! the product), its depthwise convolutions without the ReLU that follows,
//! and the first layer as a direct convolution: the detector took 2 to 3
//! times as long as onnxruntime's. The operators here read NCHW planes
//! directly ([`kernels`]):
//! - [`FastConv`] of kind `Pointwise`: 1x1, stride 1, no padding, one group;
//! - `Depthwise3x3`: one 3x3 filter per channel, stride 1, padding 1;
//! - `Depthwise3x3S2`: the same with stride 2 (SFace's downsampling);
//! - `Rows`: any other convolution with one group (gathered rows, then the
//!   pointwise kernel).
//!
//! Each may carry the ReLU that follows it, and a depthwise one the 2x2
//! stride-2 max-pool after that, when the pool is the only reader (YuNet's
//! first two pools): the full-size result is then never written out. A
//! `Rows` one takes the 1x1 convolution that is its only reader (YuNet's
//! first layer and the 1x1 after it), row by row. Each keeps its output
//! buffer from run to run when its readers allow it (`crate::kept`).
//!
//! The pass runs on the typed model before decluttering, while every
//! convolution is still tract's `Conv` on NCHW with constant weights; tract
//! then leaves these operators (and so the layout) alone. The tests compare
//! the whole detector with and without the pass, and each kernel with a
//! plain sum.

pub mod kernels;
mod share;

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, MaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

use kernels::Geometry;

use crate::kept::{KeptOutput, WritesOutput};

/// Which kernel a [`FastConv`] runs.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Kind {
    Pointwise,
    Depthwise3x3,
    Depthwise3x3S2,
    Rows(Geometry),
}

/// A convolution on an f32 NCHW tensor with constant weights (OIHW) and
/// bias, optionally followed by ReLU.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct FastConv {
    pub kind: Kind,
    pub ci: usize,
    pub co: usize,
    pub relu: bool,
    /// A 2x2 stride-2 max-pool after it (depthwise only), see
    /// [`kernels::After`].
    pub pool: bool,
    /// Whether the output buffer is kept from run to run (`crate::kept`):
    /// only when every reader is a convolution or a pool, which read it and
    /// write elsewhere. A reader that works in place on an input it holds
    /// alone (SFace's batch-norm `Mul+Add`, the PRelu) would have to copy a
    /// kept buffer first: SFace took 25 to 32 ms instead of 20 when every
    /// output was kept.
    pub keep: bool,
    weights: Arc<Tensor>,
    bias: Arc<Tensor>,
    /// A 1x1 convolution after it, run on each output row (`Rows` only):
    /// see [`kernels::conv_rows`].
    pub then: Option<Then>,
}

/// The 1x1 convolution a `Rows` [`FastConv`] runs on its rows before
/// writing them (its ReLU included).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct Then {
    pub co: usize,
    pub relu: bool,
    weights: Arc<Tensor>,
    bias: Arc<Tensor>,
}

impl FastConv {
    fn geometry(&self) -> Geometry {
        match self.kind {
            Kind::Pointwise => Geometry {
                k: (1, 1),
                stride: (1, 1),
                dilation: (1, 1),
                pad_before: (0, 0),
                pad_after: (0, 0),
            },
            Kind::Depthwise3x3 | Kind::Depthwise3x3S2 => Geometry {
                k: (3, 3),
                stride: if self.kind == Kind::Depthwise3x3S2 {
                    (2, 2)
                } else {
                    (1, 1)
                },
                dilation: (1, 1),
                pad_before: (1, 1),
                pad_after: (1, 1),
            },
            Kind::Rows(g) => g,
        }
    }

    /// The channels it writes: the 1x1's after it, if it has one.
    fn out_channels(&self) -> usize {
        self.then.as_ref().map_or(self.co, |t| t.co)
    }

    /// The output plane for an `h x w` input, pooled or not.
    fn output_plane(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let (oh, ow) = self.geometry().output(h, w)?;
        Some(if self.pool {
            (oh / 2, ow / 2)
        } else {
            (oh, ow)
        })
    }
}

impl Op for FastConv {
    fn name(&self) -> StaticName {
        match self.kind {
            Kind::Pointwise => "FastPointwise",
            Kind::Depthwise3x3 if self.pool => "FastDepthwise3x3Pool",
            Kind::Depthwise3x3 => "FastDepthwise3x3",
            Kind::Depthwise3x3S2 => "FastDepthwise3x3S2",
            Kind::Rows(_) => "FastConvRows",
        }
        .into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} -> {} channels, {:?}, relu: {}, pool: {}, then 1x1 to: {:?}",
            self.ci,
            self.co,
            self.kind,
            self.relu,
            self.pool,
            self.then.as_ref().map(|t| t.co)
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for FastConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        self.run_kept(&mut None, inputs)
    }

    fn state(&self, _ctx: &EvalContext) -> TractResult<Option<Box<dyn OpState>>> {
        Ok(self
            .keep
            .then(|| KeptOutput::<Self>::boxed() as Box<dyn OpState>))
    }
}

impl WritesOutput for FastConv {
    fn output_shape(&self, shape: &[usize]) -> TractResult<Vec<usize>> {
        ensure!(
            shape.len() == 4 && shape[1] == self.ci,
            "{}: input {shape:?} for {} channels",
            self.name(),
            self.ci
        );
        let (h, w) = (shape[2], shape[3]);
        let Some((oh, ow)) = self.output_plane(h, w) else {
            bail!(
                "{}: a {h}x{w} input is smaller than the kernel",
                self.name()
            );
        };
        Ok(vec![shape[0], self.out_channels(), oh, ow])
    }

    fn write(&self, src: &[f32], shape: &[usize], dst: &mut [f32]) -> TractResult<()> {
        let (n, h, w) = (shape[0], shape[2], shape[3]);
        let (oh, ow) = self.output_plane(h, w).context("checked by output_shape")?;
        let wt = self.weights.try_as_plain_ram()?;
        let wt = wt.as_slice::<f32>()?;
        let b = self.bias.try_as_plain_ram()?;
        let b = b.as_slice::<f32>()?;
        let (isz, plane) = (self.ci * h * w, oh * ow);
        let co = self.out_channels();
        for (x, y) in src
            .chunks_exact(isz)
            .zip(dst.chunks_exact_mut(co * plane))
            .take(n)
        {
            match self.kind {
                Kind::Pointwise => {
                    let rows = kernels::Rows::planes(self.ci, h * w);
                    share::pointwise(x, rows, wt, b, self.relu, y)
                }
                Kind::Depthwise3x3 => {
                    let after = kernels::After {
                        relu: self.relu,
                        pool: self.pool,
                    };
                    share::depthwise3x3(x, (self.ci, h, w), wt, b, after, y)
                }
                Kind::Depthwise3x3S2 => {
                    share::depthwise3x3_s2(x, (self.ci, h, w), wt, b, self.relu, y)
                }
                Kind::Rows(g) => {
                    let first = kernels::Stage {
                        w: wt,
                        b,
                        relu: self.relu,
                    };
                    match &self.then {
                        None => share::conv_rows(x, (self.ci, h, w), &g, first, None, y),
                        Some(t) => {
                            let w2 = t.weights.try_as_plain_ram()?;
                            let b2 = t.bias.try_as_plain_ram()?;
                            let then = kernels::Stage {
                                w: w2.as_slice::<f32>()?,
                                b: b2.as_slice::<f32>()?,
                                relu: t.relu,
                            };
                            share::conv_rows(x, (self.ci, h, w), &g, first, Some(then), y)
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl TypedOp for FastConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let fact = inputs[0];
        ensure!(
            fact.datum_type == f32::datum_type() && fact.rank() == 4,
            "{}: needs an f32 NCHW input",
            self.name()
        );
        let g = self.geometry();
        let out = |d: &TDim, k: usize, s: usize, dil: usize, before: usize, after: usize| {
            (d.clone() + before + after - (dil * (k - 1) + 1)) / s + 1
        };
        let pooled = |d: TDim| if self.pool { d / 2 } else { d };
        let shape = tvec![
            fact.shape[0].clone(),
            self.out_channels().to_dim(),
            pooled(out(
                &fact.shape[2],
                g.k.0,
                g.stride.0,
                g.dilation.0,
                g.pad_before.0,
                g.pad_after.0
            )),
            pooled(out(
                &fact.shape[3],
                g.k.1,
                g.stride.1,
                g.dilation.1,
                g.pad_before.1,
                g.pad_after.1
            )),
        ];
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

/// The constant an outlet carries, as f32.
fn constant(model: &TypedModel, outlet: OutletId) -> TractResult<Option<Tensor>> {
    let fact = model.outlet_fact(outlet)?;
    Ok(match &fact.konst {
        Some(k) => Some(k.cast_to::<f32>()?.into_owned()),
        None => None,
    })
}

fn f32_values(t: &Tensor) -> TractResult<Vec<f32>> {
    Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
}

/// The node a ReLU after `id` can be folded from: `id`'s only output goes
/// to exactly one `Max` with a constant zero, and nowhere else (not a model
/// output either).
fn relu_after(model: &TypedModel, id: usize) -> TractResult<Option<usize>> {
    let out = OutletId::new(id, 0);
    let Some(succ) = only_reader(model, id)? else {
        return Ok(None);
    };
    let next = model.node(succ.node);
    let Some(bin) = next.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    if bin.0.name() != "Max" || next.inputs.len() != 2 {
        return Ok(None);
    }
    let other = next.inputs[1 - succ.slot];
    let Some(zero) = constant(model, other)? else {
        return Ok(None);
    };
    let is_zero = f32_values(&zero)? == [0.0];
    // The other side must broadcast without changing the output's shape.
    let same_shape =
        model.outlet_fact(OutletId::new(succ.node, 0))?.shape == model.outlet_fact(out)?.shape;
    Ok((is_zero && same_shape).then_some(succ.node))
}

/// The one input `id`'s output goes to, when it goes to exactly one and is
/// not a model output.
fn only_reader(model: &TypedModel, id: usize) -> TractResult<Option<InletId>> {
    if model.output_outlets()?.contains(&OutletId::new(id, 0)) {
        return Ok(None);
    }
    Ok(match model.node(id).outputs[0].successors.as_slice() {
        [succ] => Some(*succ),
        _ => None,
    })
}

/// The node a 2x2 stride-2 max-pool after `id` can be folded from: `id`'s
/// only reader is tract's `MaxPool` of that shape.
fn pool_after(model: &TypedModel, id: usize) -> TractResult<Option<usize>> {
    let Some(succ) = only_reader(model, id)? else {
        return Ok(None);
    };
    let next = model.node(succ.node);
    let fits = next
        .op_as::<MaxPool>()
        .is_some_and(|p| next.inputs.len() == 1 && crate::pool::is_2x2_s2(p));
    Ok(fits.then_some(succ.node))
}

/// Whether the output of `id` is read only by convolutions and pools (which
/// never work in place on their input) and is not a model output.
fn read_by_copying_ops(model: &TypedModel, id: usize) -> TractResult<bool> {
    if model.output_outlets()?.contains(&OutletId::new(id, 0)) {
        return Ok(false);
    }
    let readers = &model.node(id).outputs[0].successors;
    Ok(!readers.is_empty()
        && readers.iter().all(|r| {
            let op = model.node(r.node).op();
            op.downcast_ref::<Conv>().is_some()
                || op.downcast_ref::<FastConv>().is_some()
                || op.downcast_ref::<MaxPool>().is_some()
        }))
}

/// The most input or output channels a 1x1 convolution may have to be
/// handed to [`kernels::pointwise`] (YuNet's have at most 64).
pub const MAX_POINTWISE_CHANNELS: usize = 64;

/// What a tract `Conv` becomes, if one of the kernels computes it.
fn fast_kind(conv: &Conv, ci: usize, co: usize) -> Option<Kind> {
    let spec = &conv.pool_spec;
    if conv.q_params.is_some()
        || spec.data_format != DataFormat::NCHW
        || conv.kernel_fmt != KernelFormat::OIHW
        || spec.kernel_shape.len() != 2
    {
        return None;
    }
    let (before, after) = match &spec.padding {
        PaddingSpec::Valid => ((0, 0), (0, 0)),
        PaddingSpec::Explicit(b, a) if b.len() == 2 && a.len() == 2 => ((b[0], b[1]), (a[0], a[1])),
        _ => return None,
    };
    let (s, d, k) = (spec.strides(), spec.dilations(), &spec.kernel_shape);
    let g = Geometry {
        k: (k[0], k[1]),
        stride: (s[0], s[1]),
        dilation: (d[0], d[1]),
        pad_before: before,
        pad_after: after,
    };
    let unit = g.stride == (1, 1) && g.dilation == (1, 1);
    if conv.group == 1 {
        if g.k == (1, 1) && unit && before == (0, 0) && after == (0, 0) {
            // Tract's packed matrix product wins once there are enough
            // channels to amortise the packing (SFace's 128 to 1024: 21 ms
            // there against 30 ms here).
            (ci <= MAX_POINTWISE_CHANNELS && co <= MAX_POINTWISE_CHANNELS)
                .then_some(Kind::Pointwise)
        } else {
            Some(Kind::Rows(g))
        }
    } else if conv.group == ci
        && ci == co
        && g.k == (3, 3)
        && g.dilation == (1, 1)
        && before == (1, 1)
        && after == (1, 1)
    {
        match g.stride {
            (1, 1) => Some(Kind::Depthwise3x3),
            (2, 2) => Some(Kind::Depthwise3x3S2),
            _ => None,
        }
    } else {
        None
    }
}

/// The weights (as `co x` inputs per output) and bias (`co`) of the
/// convolution `id`, when both are constants of the expected sizes.
fn params(
    model: &TypedModel,
    id: usize,
    kind: Kind,
    ci: usize,
    co: usize,
) -> TractResult<Option<(Tensor, Tensor)>> {
    let node = model.node(id);
    if node.inputs.len() < 2 {
        return Ok(None);
    }
    let Some(weights) = constant(model, node.inputs[1])? else {
        return Ok(None);
    };
    let bias = match node.inputs.get(2) {
        Some(b) => match constant(model, *b)? {
            Some(t) if t.len() == co => t.into_shape(&[co])?,
            Some(t) if t.len() == 1 => tensor1(&vec![f32_values(&t)?[0]; co]),
            _ => return Ok(None),
        },
        None => tensor1(&vec![0f32; co]),
    };
    let (kh, kw) = match kind {
        Kind::Pointwise => (1, 1),
        Kind::Depthwise3x3 | Kind::Depthwise3x3S2 => (3, 3),
        Kind::Rows(g) => g.k,
    };
    let per_out = match kind {
        Kind::Depthwise3x3 | Kind::Depthwise3x3S2 => 1,
        _ => ci,
    };
    if weights.len() != co * per_out * kh * kw {
        return Ok(None);
    }
    Ok(Some((weights.into_shape(&[co, per_out * kh * kw])?, bias)))
}

/// The 1x1 convolution that is the only reader of `last` (a `Rows`
/// convolution's output, `co` channels), as a [`Then`]: its node, the ReLU
/// node folded with it, and the stage.
fn then_pointwise(
    model: &TypedModel,
    last: usize,
    co: usize,
) -> TractResult<Option<(usize, Option<usize>, Then)>> {
    let Some(succ) = only_reader(model, last)? else {
        return Ok(None);
    };
    let node = model.node(succ.node);
    let Some(conv) = node.op_as::<Conv>() else {
        return Ok(None);
    };
    let (ci2, co2) = (conv.input_channels(), conv.output_channels());
    if succ.slot != 0 || ci2 != co || fast_kind(conv, ci2, co2) != Some(Kind::Pointwise) {
        return Ok(None);
    }
    let Some((weights, bias)) = params(model, succ.node, Kind::Pointwise, ci2, co2)? else {
        return Ok(None);
    };
    let relu = relu_after(model, succ.node)?;
    let then = Then {
        co: co2,
        relu: relu.is_some(),
        weights: Arc::new(weights),
        bias: Arc::new(bias),
    };
    Ok(Some((succ.node, relu, then)))
}

/// Replaces every tract `Conv` of a typed (not yet decluttered) model that
/// [`FastConv`] computes, with the ReLU after it when there is one. Returns
/// how many convolutions were replaced.
///
/// A 1x1 → depthwise pair fused into one operator (the 1x1 output made three
/// rows at a time into a ring, never written out) was tried and measured
/// 6 to 20 % slower than the two operators on YuNet at 320x256 and 640x480.
pub fn use_fast_convs(model: &mut TypedModel) -> TractResult<usize> {
    model.prop_consts()?;
    let mut replaced = 0;
    // Convolutions already folded into the one before them.
    let mut fused = vec![];
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else {
            continue;
        };
        if fused.contains(&id) {
            continue;
        }
        let x = model.outlet_fact(node.inputs[0])?;
        if x.datum_type != f32::datum_type() || x.rank() != 4 {
            continue;
        }
        let (ci, co) = (conv.input_channels(), conv.output_channels());
        let Some(kind) = fast_kind(conv, ci, co) else {
            continue;
        };
        let Some((weights, bias)) = params(model, id, kind, ci, co)? else {
            continue;
        };
        let relu = relu_after(model, id)?;
        let pool = match kind {
            Kind::Depthwise3x3 => pool_after(model, relu.unwrap_or(id))?,
            _ => None,
        };
        let mut last = pool.or(relu).unwrap_or(id);
        // YuNet's first layer and the 1x1 convolution reading it.
        let then = match kind {
            Kind::Rows(_) => then_pointwise(model, last, co)?,
            _ => None,
        };
        let then = then.map(|(node, relu2, op)| {
            fused.push(node);
            last = relu2.unwrap_or(node);
            op
        });
        let op = FastConv {
            kind,
            ci,
            co,
            relu: relu.is_some(),
            pool: pool.is_some(),
            keep: read_by_copying_ops(model, last)?,
            weights: Arc::new(weights),
            bias: Arc::new(bias),
            then,
        };
        let mut patch = TypedModelPatch::default();
        let tap = patch.tap_model(model, node.inputs[0])?;
        let name = node.name.clone();
        let y = patch.wire_node(name, op, &[tap])?[0];
        patch.shunt_outside(model, OutletId::new(last, 0), y)?;
        patch.apply(model)?;
        replaced += 1;
    }
    Ok(replaced)
}
