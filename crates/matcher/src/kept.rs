//! Output buffers kept from one run to the next, for the matcher's own
//! operators.
//!
//! Tract allocates every node's output afresh on each run and frees it once
//! its last reader is done. YuNet's outputs at 640x480 are up to 4.9 MB
//! each, beyond glibc's threshold for handing memory back to the kernel, so
//! each run mapped new pages and took a page fault for every 4 KiB it wrote:
//! the detector ran at 21 ms with `MALLOC_MMAP_THRESHOLD_` raised against
//! 36 ms without (profile example, one quiet run). onnxruntime keeps its
//! buffers in an arena; this is the same idea for the operators we own.
//!
//! Only where it pays: a reader that works in place on an input it holds
//! alone (tract's `Mul+Add` chains, the PRelu) must copy a kept buffer
//! first, so `conv::FastConv` keeps its output only when every reader is a
//! convolution or a pool, and the detector's early layers are exactly that.
//!
//! An operator's [`OpState`] keeps a reference to the tensor it returned.
//! On the next run, once every reader has dropped its reference (tract
//! drops a value after its last reader), the buffer is reused; when anything
//! still holds it (a caller keeping a model output, a cloned state), a new
//! one is made. Whether a buffer is free is decided by the reference count,
//! so reuse can never write into a tensor someone else can still read.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// An operator that writes its whole f32 output from one f32 input.
pub(crate) trait WritesOutput: Op + Clone {
    /// The output shape for an input of `input` (an error for one the
    /// operator cannot take).
    fn output_shape(&self, input: &[usize]) -> TractResult<Vec<usize>>;

    /// Computes the output for `x` (of shape `shape`) into `out`, every
    /// element of it: `out` holds the previous run's values, not zeros.
    fn write(&self, x: &[f32], shape: &[usize], out: &mut [f32]) -> TractResult<()>;

    /// Runs the operator on `inputs` with the output buffer `kept` (from an
    /// earlier run, or none), and keeps the new output there.
    fn run_kept(
        &self,
        kept: &mut Option<Arc<Tensor>>,
        inputs: TVec<TValue>,
    ) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let shape = x.shape().to_vec();
        let oshape = self.output_shape(&shape)?;
        let reused = kept
            .take()
            .filter(|t| t.shape() == oshape.as_slice() && t.datum_type() == f32::datum_type())
            .and_then(|t| Arc::try_unwrap(t).ok());
        let mut out = match reused {
            Some(t) => t,
            None => Tensor::zero::<f32>(&oshape)?,
        };
        {
            let plain = x.try_as_plain_ram()?;
            let mut dst = out.try_as_plain_ram_mut()?;
            self.write(plain.as_slice::<f32>()?, &shape, dst.as_slice_mut::<f32>()?)?;
        }
        let out = Arc::new(out);
        *kept = Some(out.clone());
        Ok(tvec!(out.into_tvalue()))
    }
}

/// The run state of a [`WritesOutput`] operator: its last output.
#[derive(Debug, Clone)]
pub(crate) struct KeptOutput<O> {
    last: Option<Arc<Tensor>>,
    op: PhantomData<fn() -> O>,
}

impl<O> KeptOutput<O> {
    pub(crate) fn boxed() -> Box<Self> {
        Box::new(KeptOutput {
            last: None,
            op: PhantomData,
        })
    }
}

impl<O: WritesOutput + Debug + 'static> OpState for KeptOutput<O> {
    fn eval(
        &mut self,
        _ctx: &EvalContext,
        op: &dyn Op,
        inputs: TVec<TValue>,
    ) -> TractResult<TVec<TValue>> {
        let Some(op) = op.downcast_ref::<O>() else {
            bail!("a kept output state given to {}", op.name());
        };
        op.run_kept(&mut self.last, inputs)
    }

    fn reset_lanes(&mut self, _lanes: &[LaneId]) -> TractResult<()> {
        // Nothing a stream could see: the buffer is overwritten before use.
        self.last = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::MaxPool2x2S2;
    use crate::test_values as values;

    fn input(v: f32) -> TVec<TValue> {
        tvec![
            Tensor::from_shape(&[1, 1, 2, 4], &[v, 0., 1., 2., 3., 4., 5., v])
                .unwrap()
                .into()
        ]
    }

    #[test]
    fn a_dropped_output_is_reused_and_a_held_one_is_not() {
        let mut kept = None;
        let a = MaxPool2x2S2
            .run_kept(&mut kept, input(9.))
            .unwrap()
            .remove(0);
        assert_eq!(values(&a), [9., 9.]);
        let first = a.as_ptr::<f32>().unwrap();
        drop(a);

        // Nobody holds the first output any more: the same buffer, new values.
        let b = MaxPool2x2S2
            .run_kept(&mut kept, input(-1.))
            .unwrap()
            .remove(0);
        assert_eq!(
            b.as_ptr::<f32>().unwrap(),
            first,
            "the dropped buffer is reused"
        );
        assert_eq!(values(&b), [4., 5.]);

        // `b` is still held: the next run must not write into it.
        let c = MaxPool2x2S2
            .run_kept(&mut kept, input(7.))
            .unwrap()
            .remove(0);
        assert_ne!(
            c.as_ptr::<f32>().unwrap(),
            first,
            "a held buffer is never reused"
        );
        assert_eq!(values(&b), [4., 5.], "the held output is unchanged");
        assert_eq!(values(&c), [7., 7.]);
    }

    #[test]
    fn a_new_shape_gets_a_new_buffer() {
        let mut kept = None;
        drop(MaxPool2x2S2.run_kept(&mut kept, input(1.)).unwrap());
        let x = Tensor::from_shape(&[1, 1, 2, 2], &[1f32, 2., 3., 4.]).unwrap();
        let out = MaxPool2x2S2.run_kept(&mut kept, tvec![x.into()]).unwrap();
        assert_eq!(out[0].shape(), [1, 1, 1, 1]);
        assert_eq!(values(&out[0]), [4.]);
    }
}
