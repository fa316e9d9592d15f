//! The depthwise 3x3 kernels (one filter per channel): stride 1, with a
//! ReLU and a 2x2 max-pool optionally folded in, and stride 2.

use super::{act, madd, split_columns, Isa};

/// What a depthwise kernel applies to its sums before writing them.
#[derive(Debug, Clone, Copy, Default, Hash, PartialEq, Eq)]
pub struct After {
    /// ReLU.
    pub relu: bool,
    /// Then a 2x2, stride-2 max-pool (tract's comparison, as
    /// [`crate::pool::MaxPool2x2S2`]): the output is `h / 2 x w / 2`, and the
    /// full-size result is never written out.
    pub pool: bool,
}

impl After {
    /// The output plane for an `h x w` input.
    pub fn output(self, h: usize, w: usize) -> (usize, usize) {
        if self.pool {
            (h / 2, w / 2)
        } else {
            (h, w)
        }
    }
}

/// The buffer sizes both depthwise kernels need: `c` planes of `h x w` in,
/// of `oh x ow` out, 9 weights and a bias per plane.
fn check(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    (oh, ow): (usize, usize),
    k: &[f32],
    b: &[f32],
    y: &[f32],
) {
    assert!(
        x.len() >= c * h * w && y.len() >= c * oh * ow,
        "depthwise: short buffers"
    );
    assert!(
        k.len() == c * 9 && b.len() == c,
        "depthwise: weights are not c x 9"
    );
}

/// A depthwise 3x3 convolution, stride 1, one pixel of zero padding: each of
/// the `c` planes of `h x w` convolved with its own 9 weights (`k[ch * 9..]`,
/// row by row) plus its bias, then `after`.
pub fn depthwise3x3(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    k: &[f32],
    b: &[f32],
    after: After,
    y: &mut [f32],
) {
    check(x, (c, h, w), after.output(h, w), k, b, y);
    depthwise_on(Isa::best(), x, (c, h, w), k, b, after, y)
}

dispatch!(depthwise_on, depthwise_body, (x: &[f32], chw: (usize, usize, usize), k: &[f32], b: &[f32], after: After, y: &mut [f32]));

#[inline(always)]
fn depthwise_body<const FMA: bool>(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    k: &[f32],
    b: &[f32],
    after: After,
    y: &mut [f32],
) {
    if h == 0 || w == 0 {
        return;
    }
    let (oh, ow) = after.output(h, w);
    // One channel's plane with a border of zeros (never written over), so
    // that every output row is one pass over three padded rows, with no
    // edge columns to compute apart.
    let pw = w + 2;
    let mut padded = vec![0f32; (h + 2) * pw];
    // Two full-size rows, pooled into one output row.
    let mut pair = vec![0f32; if after.pool { 2 * w } else { 0 }];
    for ch in 0..c {
        let xp = &x[ch * h * w..(ch + 1) * h * w];
        for (src, dst) in xp.chunks_exact(w).zip(padded[pw..].chunks_exact_mut(pw)) {
            dst[1..=w].copy_from_slice(src);
        }
        let yp = &mut y[ch * oh * ow..(ch + 1) * oh * ow];
        let kk: &[f32; 9] = k[ch * 9..ch * 9 + 9].try_into().unwrap();
        let padded = &padded[..];
        let rows = |oy: usize| {
            [
                &padded[oy * pw..][..pw],
                &padded[(oy + 1) * pw..][..pw],
                &padded[(oy + 2) * pw..][..pw],
            ]
        };
        if after.pool {
            for (py, out) in yp.chunks_exact_mut(ow.max(1)).take(oh).enumerate() {
                let (r0, r1) = pair.split_at_mut(w);
                row3::<FMA>(rows(2 * py), kk, b[ch], after.relu, r0);
                row3::<FMA>(rows(2 * py + 1), kk, b[ch], after.relu, r1);
                crate::pool::pool_rows(r0, r1, out);
            }
        } else {
            for (oy, out) in yp.chunks_exact_mut(w).enumerate() {
                row3::<FMA>(rows(oy), kk, b[ch], after.relu, out);
            }
        }
    }
}

/// A depthwise 3x3 convolution, stride 2, one pixel of zero padding (SFace's
/// downsampling layers): each of the `c` planes of `h x w` gives a plane of
/// `⌈h/2⌉ x ⌈w/2⌉`, with its own 9 weights (`k[ch * 9..]`) and bias, then
/// the ReLU if `relu`. Each input row is split into its even and odd
/// columns first (as [`super::conv_rows`] does), so that every tap reads a
/// contiguous row: tract's generic depthwise loop took 1.3 ms for SFace's
/// 64-channel one at 112x112.
pub fn depthwise3x3_s2(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    k: &[f32],
    b: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    check(x, (c, h, w), (h.div_ceil(2), w.div_ceil(2)), k, b, y);
    depthwise_s2_on(Isa::best(), x, (c, h, w), k, b, relu, y)
}

dispatch!(depthwise_s2_on, depthwise_s2_body, (x: &[f32], chw: (usize, usize, usize), k: &[f32], b: &[f32], relu: bool, y: &mut [f32]));

#[inline(always)]
fn depthwise_s2_body<const FMA: bool>(
    x: &[f32],
    (c, h, w): (usize, usize, usize),
    k: &[f32],
    b: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    if h == 0 || w == 0 {
        return;
    }
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    // For each of the three input rows: `ev[i]` = column 2i, `od[i]` =
    // column 2i - 1 (`od[0]` and any column past the end: padding).
    let mut ev = vec![0f32; 3 * ow];
    let mut od = vec![0f32; 3 * (ow + 1)];
    for ch in 0..c {
        let xp = &x[ch * h * w..][..h * w];
        let yp = &mut y[ch * oh * ow..][..oh * ow];
        let kk: &[f32; 9] = k[ch * 9..ch * 9 + 9].try_into().unwrap();
        for (oy, out) in yp.chunks_exact_mut(ow).enumerate() {
            for (dy, (e, o)) in ev
                .chunks_exact_mut(ow)
                .zip(od.chunks_exact_mut(ow + 1))
                .enumerate()
            {
                let iy = 2 * oy + dy;
                if iy == 0 || iy > h {
                    e.fill(0.0);
                    o.fill(0.0);
                    continue;
                }
                let src = &xp[(iy - 1) * w..][..w];
                o[0] = 0.0;
                o[1 + w / 2..].fill(0.0);
                split_columns(src, e, &mut o[1..1 + w / 2]);
            }
            let (e0, e1, e2) = (&ev[..ow], &ev[ow..2 * ow], &ev[2 * ow..]);
            let (o0, o1, o2) = (&od[..ow + 1], &od[ow + 1..2 * ow + 2], &od[2 * ow + 2..]);
            let taps = [
                &o0[..ow],
                e0,
                &o0[1..], //
                &o1[..ow],
                e1,
                &o1[1..], //
                &o2[..ow],
                e2,
                &o2[1..],
            ];
            taps9::<FMA>(taps, kk, b[ch], relu, out);
        }
    }
}

/// One output row of a 3x3 stride-1 convolution from its three input rows,
/// each with its zero of padding before and after (`out.len() + 2` values).
#[inline(always)]
fn row3<const FMA: bool>(r: [&[f32]; 3], k: &[f32; 9], bias: f32, relu: bool, out: &mut [f32]) {
    let n = out.len();
    let [r0, r1, r2] = r;
    let taps = [
        &r0[..n],
        &r0[1..n + 1],
        &r0[2..n + 2], //
        &r1[..n],
        &r1[1..n + 1],
        &r1[2..n + 2], //
        &r2[..n],
        &r2[1..n + 1],
        &r2[2..n + 2],
    ];
    taps9::<FMA>(taps, k, bias, relu, out)
}

/// `out[x] = act(bias + Σ_t k[t] · taps[t][x])`, the nine taps of a 3x3
/// kernel each given as the row of input values it meets along the output
/// row, summed in that order (both depthwise kernels). Written out tap by
/// tap on named slices: a loop over the array of taps measured twice as
/// slow (it was not vectorised the same way).
#[inline(always)]
fn taps9<const FMA: bool>(t: [&[f32]; 9], k: &[f32; 9], bias: f32, relu: bool, out: &mut [f32]) {
    let n = out.len();
    let [a0, a1, a2, b0, b1, b2, c0, c1, c2] = t;
    let (a0, a1, a2) = (&a0[..n], &a1[..n], &a2[..n]);
    let (b0, b1, b2) = (&b0[..n], &b1[..n], &b2[..n]);
    let (c0, c1, c2) = (&c0[..n], &c1[..n], &c2[..n]);
    for x in 0..n {
        let mut s = madd::<FMA>(k[0], a0[x], bias);
        s = madd::<FMA>(k[1], a1[x], s);
        s = madd::<FMA>(k[2], a2[x], s);
        s = madd::<FMA>(k[3], b0[x], s);
        s = madd::<FMA>(k[4], b1[x], s);
        s = madd::<FMA>(k[5], b2[x], s);
        s = madd::<FMA>(k[6], c0[x], s);
        s = madd::<FMA>(k[7], c1[x], s);
        s = madd::<FMA>(k[8], c2[x], s);
        out[x] = act(s, relu);
    }
}
