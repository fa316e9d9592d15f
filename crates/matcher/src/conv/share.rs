//! One layer's work shared out over the matcher's threads.
//!
//! With `MatcherConfig::threads` > 1 the matcher runs each model on a
//! thread of its rayon pool (`Matcher::on_pool`); a [`super::FastConv`] run
//! there splits a large enough layer into one share per thread. Each share
//! computes its outputs exactly as the whole layer would on one thread (the
//! same kernel, the same channel blocks, the same order of sums), so the
//! results are bit-identical at any thread count. Called anywhere else (one
//! thread, or outside any pool), each function is the plain kernel call.

use std::ops::Range;
use std::sync::Mutex;

use rayon::prelude::*;

use super::kernels::{self, After, Geometry, Rows, Stage};

/// Multiply-adds below which a layer stays on one thread: sharing it out
/// costs waking the pool's other threads (microseconds on an idle core),
/// which only pays on larger layers.
const SHARED_MACS: usize = 1 << 20;

/// How many of `items` (output channels or rows) each thread takes, a
/// multiple of `block` (the kernel's channel block, so every channel is
/// computed as on one thread), when the caller runs on a rayon pool thread
/// with other threads and the layer's `macs` multiply-adds make sharing
/// worth it; `None` keeps the layer on the calling thread.
fn shares(items: usize, block: usize, macs: usize) -> Option<usize> {
    let threads = rayon::current_num_threads();
    if macs < SHARED_MACS || rayon::current_thread_index().is_none() || threads < 2 {
        return None;
    }
    let per = items.div_ceil(threads).next_multiple_of(block);
    (per < items).then_some(per)
}

/// [`kernels::pointwise`], its output channels shared out: each share is
/// one contiguous run of the output and reads the whole input (which stays
/// in the L2/L3 cache).
pub(super) fn pointwise(x: &[f32], s: Rows, w: &[f32], b: &[f32], relu: bool, y: &mut [f32]) {
    let co = b.len();
    match shares(co, kernels::CB, co * s.ci * s.n) {
        None => kernels::pointwise(x, s, w, b, relu, y),
        Some(c) => y
            .par_chunks_mut(c * s.ys)
            .zip(w.par_chunks(c * s.ci))
            .zip(b.par_chunks(c))
            .for_each(|((y, w), b)| kernels::pointwise(x, s, w, b, relu, y)),
    }
}

/// [`kernels::depthwise3x3`], its channels shared out.
pub(super) fn depthwise3x3(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    k: &[f32],
    b: &[f32],
    after: After,
    y: &mut [f32],
) {
    let (oh, ow) = after.output(h, w);
    // A folded pool still computes the full-size sums.
    let macs = 9 * c * h * w;
    per_channel(x, (c, h, w), k, b, (oh * ow, macs), y, |x, k, b, y| {
        kernels::depthwise3x3(x, (b.len(), h, w), k, b, after, y)
    })
}

/// [`kernels::depthwise3x3_s2`], its channels shared out.
pub(super) fn depthwise3x3_s2(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    k: &[f32],
    b: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    let plane = h.div_ceil(2) * w.div_ceil(2);
    per_channel(
        x,
        (c, h, w),
        k,
        b,
        (plane, 9 * c * plane),
        y,
        |x, k, b, y| kernels::depthwise3x3_s2(x, (b.len(), h, w), k, b, relu, y),
    )
}

/// A depthwise kernel `run(x, k, b, y)` on `c` planes of `h x w` into
/// planes of `plane` values, `macs` multiply-adds in all, its channels
/// shared out: each share reads and writes only its own channels.
fn per_channel(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    k: &[f32],
    b: &[f32],
    (plane, macs): (usize, usize),
    y: &mut [f32],
    run: impl Fn(&[f32], &[f32], &[f32], &mut [f32]) + Sync,
) {
    match shares(c, 1, macs) {
        None => run(x, k, b, y),
        Some(per) => y
            .par_chunks_mut(per * plane)
            .zip(x.par_chunks(per * h * w))
            .zip(k.par_chunks(per * 9))
            .zip(b.par_chunks(per))
            .for_each(|(((y, x), k), b)| run(x, k, b, y)),
    }
}

/// Buffers for the rows of a shared [`conv_rows`] that cannot be written
/// in place, kept from run to run: a fresh buffer of megabytes costs a page
/// fault per 4 KiB written (see `crate::kept`). At most [`SPARE_KEPT`]
/// (two at 640x480 on two threads: 2.5 MB each).
static SPARE: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
const SPARE_KEPT: usize = 8;

/// [`kernels::conv_rows`], its output rows shared out. Rows, not
/// channels: with a 1x1 after it, every channel share would redo the whole
/// first stage. The first share is written in place; the others go to
/// spare buffers, copied into place afterwards, one channel plane per task
/// (2.5 MB at 640x480, against 4 ms for YuNet's first layer there).
pub(super) fn conv_rows(
    x: &[f32],
    dims: (usize, usize, usize),
    g: &Geometry,
    first: Stage,
    then: Option<Stage>,
    y: &mut [f32],
) {
    let Some((oh, ow)) = g.output(dims.1, dims.2) else {
        return;
    };
    let co = then.map_or(first.b.len(), |t| t.b.len());
    let plane = oh * ow;
    let macs = plane * (first.w.len() + then.map_or(0, |t| t.w.len()));
    let Some(r) = shares(oh, 1, macs) else {
        return kernels::conv_rows(x, dims, g, first, then, y);
    };
    let parts: Vec<Range<usize>> = (r..oh).step_by(r).map(|s| s..(s + r).min(oh)).collect();
    let mut bufs: Vec<Vec<f32>> = {
        let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
        parts
            .iter()
            .map(|p| {
                let mut v = spare.pop().unwrap_or_default();
                v.resize(v.len().max(co * p.len() * ow), 0.0);
                v
            })
            .collect()
    };
    let part = |p: Range<usize>, ys: usize, y: &mut [f32]| {
        kernels::conv_rows_part(x, dims, g, first, then, p, ys, y)
    };
    rayon::join(
        || part(0..r, plane, y),
        || {
            bufs.par_iter_mut()
                .zip(&parts)
                .for_each(|(b, p)| part(p.clone(), p.len() * ow, b))
        },
    );
    y.par_chunks_mut(plane).enumerate().for_each(|(o, yp)| {
        for (b, p) in bufs.iter().zip(&parts) {
            let n = p.len() * ow;
            yp[p.start * ow..][..n].copy_from_slice(&b[o * n..][..n]);
        }
    });
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    let room = SPARE_KEPT.saturating_sub(spare.len());
    spare.extend(bufs.into_iter().take(room));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::kernels::tests::values as test_values;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn only_a_pool_thread_shares_and_only_large_layers() {
        let big = 1 << 24;
        assert_eq!(shares(64, 4, big), None, "not on a pool thread");
        assert_eq!(pool(1).install(|| shares(64, 4, big)), None, "one thread");
        let two = pool(2);
        assert_eq!(two.install(|| shares(64, 4, big)), Some(32));
        assert_eq!(two.install(|| shares(10, 4, big)), Some(8), "whole blocks");
        assert_eq!(two.install(|| shares(4, 4, big)), None, "one block");
        assert_eq!(two.install(|| shares(64, 4, 1000)), None, "too small");
        assert_eq!(pool(3).install(|| shares(240, 1, big)), Some(80));
    }

    /// Each shared kernel on 1, 2 and 3 threads against the plain kernel:
    /// bit-identical, with channel counts that do not divide evenly.
    #[test]
    fn shared_layers_equal_the_plain_kernels_bit_for_bit() {
        let (ci, co, h, w) = (24, 36, 96, 64);
        let x = test_values(ci * h * w, 1);
        let wp = test_values(co * ci, 2);
        let b = test_values(co, 3);
        let rows = Rows::planes(ci, h * w);
        let mut want = vec![0f32; co * h * w];
        kernels::pointwise(&x, rows, &wp, &b, true, &mut want);
        let k = test_values(ci * 9, 4);
        let after = After {
            relu: true,
            pool: true,
        };
        let mut want_dw = vec![0f32; ci * (h / 2) * (w / 2)];
        kernels::depthwise3x3(&x, (ci, h, w), &k, &b[..ci], after, &mut want_dw);
        // Twice the size: a stride-2 layer has a quarter of the sums.
        let x2 = test_values(ci * 4 * h * w, 7);
        let mut want_s2 = vec![0f32; ci * h * w];
        kernels::depthwise3x3_s2(&x2, (ci, 2 * h, 2 * w), &k, &b[..ci], true, &mut want_s2);
        let g = Geometry {
            k: (3, 3),
            stride: (2, 2),
            dilation: (1, 1),
            pad_before: (1, 1),
            pad_after: (1, 1),
        };
        let (oh, ow) = g.output(h, w).unwrap();
        let w1 = test_values(co * ci * 9, 5);
        let first = Stage {
            w: &w1,
            b: &b,
            relu: true,
        };
        let w2 = test_values(16 * co, 6);
        let then = Stage {
            w: &w2,
            b: &b[..16],
            relu: false,
        };
        let mut want_rows = vec![0f32; 16 * oh * ow];
        kernels::conv_rows(&x, (ci, h, w), &g, first, Some(then), &mut want_rows);
        for threads in [1, 2, 3] {
            pool(threads).install(|| {
                // Each layer is large enough to be shared out there, so the
                // comparisons below test the shared path, not the plain one.
                let shared = [
                    shares(co, kernels::CB, co * ci * h * w),
                    shares(ci, 1, 9 * ci * h * w),
                    shares(oh, 1, oh * ow * (w1.len() + w2.len())),
                ];
                assert!(
                    shared.iter().all(|s| s.is_some() == (threads > 1)),
                    "{shared:?} on {threads} threads"
                );
                let mut y = vec![f32::NAN; want.len()];
                pointwise(&x, rows, &wp, &b, true, &mut y);
                assert_eq!(y, want, "pointwise on {threads} threads");
                let mut y = vec![f32::NAN; want_dw.len()];
                depthwise3x3(&x, (ci, h, w), &k, &b[..ci], after, &mut y);
                assert_eq!(y, want_dw, "depthwise on {threads} threads");
                let mut y = vec![f32::NAN; want_s2.len()];
                depthwise3x3_s2(&x2, (ci, 2 * h, 2 * w), &k, &b[..ci], true, &mut y);
                assert_eq!(y, want_s2, "stride-2 depthwise on {threads} threads");
                // Twice: the second run takes the spare buffers the first
                // left, still holding its rows.
                for run in 0..2 {
                    let mut y = vec![f32::NAN; want_rows.len()];
                    conv_rows(&x, (ci, h, w), &g, first, Some(then), &mut y);
                    assert_eq!(y, want_rows, "rows on {threads} threads, run {run}");
                }
            });
        }
    }
}
