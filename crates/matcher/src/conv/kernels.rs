//! Convolution kernels on plain slices, and the one place in the workspace
//! that uses `unsafe`: calling the AVX2 + FMA build of a kernel after
//! checking at run time that the CPU has both.
//!
//! Each kernel body is written once as plain Rust that LLVM vectorises
//! (fixed-size register blocks, slices of known equal length). It is compiled
//! twice: inside `#[target_feature(enable = "avx2,fma")]`, where the
//! multiply-adds become fused 8-lane instructions, and for the baseline
//! x86-64 (or any other target) with a separate multiply and add. The
//! release binary stays runnable on any x86-64; [`Isa::best`] picks the
//! build per call. The builds differ by rounding only; the tests run every
//! build the CPU has against a plain sum. An AVX-512 build (16 lanes, 8
//! output channels per block) was tried: no faster on YuNet on this
//! benchmark machine, within its ±10 % noise, so it was left out.

/// Output pixels computed together in the pointwise micro-kernel.
const PX: usize = 16;
/// Output channels computed together in the pointwise micro-kernel (4 x 2
/// AVX2 registers of sums: AVX2 has 16).
pub(crate) const CB: usize = 4;

/// Which build of the kernels runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Avx2Fma,
    Baseline,
}

impl Isa {
    /// Every build this CPU can run, best first.
    pub fn available() -> Vec<Isa> {
        [Isa::Avx2Fma, Isa::Baseline]
            .into_iter()
            .filter(|i| i.runs_here())
            .collect()
    }

    /// The fastest build this CPU can run.
    pub fn best() -> Isa {
        Isa::available()[0]
    }

    fn runs_here(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            match self {
                Isa::Avx2Fma => has!("avx2") && has!("fma"),
                Isa::Baseline => true,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Baseline
        }
    }
}

/// Defines `$name(isa, args)`: the body `$body::<FMA>` run through the
/// build `isa` names, or the baseline when the CPU lacks its features.
macro_rules! dispatch {
    ($name:ident, $body:ident, ($($arg:ident: $ty:ty),*)) => {
        pub(crate) fn $name(isa: Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    $body::<true>($($arg),*)
                }
                if isa == Isa::Avx2Fma && isa.runs_here() {
                    #[allow(unsafe_code)]
                    // SAFETY: `avx2` only differs from the body by the two
                    // target features enabled on it, and the CPU was just
                    // found to have both.
                    unsafe {
                        return avx2($($arg),*);
                    }
                }
            }
            let _ = isa;
            $body::<false>($($arg),*)
        }
    };
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

#[inline(always)]
fn act(v: f32, relu: bool) -> f32 {
    if relu {
        v.max(0.0)
    } else {
        v
    }
}

/// The shape of one pointwise product: `ci` input rows of `n` values, `xs`
/// apart in the input, and `b.len()` output rows of `n` values, `ys` apart in
/// the output.
#[derive(Debug, Clone, Copy)]
pub struct Rows {
    pub ci: usize,
    pub n: usize,
    pub xs: usize,
    pub ys: usize,
}

impl Rows {
    /// Whole planes of `n` values in and out.
    pub fn planes(ci: usize, n: usize) -> Rows {
        Rows {
            ci,
            n,
            xs: n,
            ys: n,
        }
    }
}

mod depthwise;
pub use depthwise::{depthwise3x3, depthwise3x3_s2, After};
#[cfg(test)]
use depthwise::{depthwise_on, depthwise_s2_on};

/// `y[o * ys + j] = act(b[o] + Σ_i w[o * ci + i] · x[i * xs + j])` for every
/// output channel `o < b.len()` and pixel `j < n`: a 1x1 convolution over
/// `n` pixels, or, on rows gathered by [`conv_rows`], any convolution.
///
/// The input is read in tiles that stay in the L1/L2 cache while every block
/// of [`CB`] output channels goes over them, [`PX`] pixels at a time, with
/// the `CB x PX` sums kept in registers. Nothing is packed or copied: tract
/// packed each 1x1 convolution's whole input into panels first, which took
/// longer than the product itself on YuNet's wide, shallow tensors.
pub fn pointwise(x: &[f32], s: Rows, w: &[f32], b: &[f32], relu: bool, y: &mut [f32]) {
    check_pointwise(x, s, w, b, y);
    pointwise_on(Isa::best(), x, s, w, b, relu, y)
}

dispatch!(pointwise_on, pointwise_body, (x: &[f32], s: Rows, w: &[f32], b: &[f32], relu: bool, y: &mut [f32]));

fn check_pointwise(x: &[f32], s: Rows, w: &[f32], b: &[f32], y: &[f32]) {
    let co = b.len();
    assert!(
        s.ci == 0 || s.n == 0 || x.len() >= (s.ci - 1) * s.xs + s.n,
        "pointwise: input too short"
    );
    assert!(w.len() == co * s.ci, "pointwise: weights are not co x ci");
    assert!(
        co == 0 || s.n == 0 || y.len() >= (co - 1) * s.ys + s.n,
        "pointwise: output too short"
    );
}

/// The `CB x PX` block of outputs for channels `o..o + CB` and pixels
/// `j..j + PX`, kept in registers over the whole input depth.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // fixed-size register blocks read best indexed
fn block<const FMA: bool>(
    x: &[f32],
    (xs, j): (usize, usize),
    ci: usize,
    w: &[f32],
    b: &[f32],
    o: usize,
) -> [[f32; PX]; CB] {
    let mut acc = [[0f32; PX]; CB];
    for k in 0..CB {
        acc[k] = [b[o + k]; PX];
    }
    for i in 0..ci {
        let xv: &[f32; PX] = x[i * xs + j..i * xs + j + PX].try_into().unwrap();
        for k in 0..CB {
            let wk = w[(o + k) * ci + i];
            for l in 0..PX {
                acc[k][l] = madd::<FMA>(wk, xv[l], acc[k][l]);
            }
        }
    }
    acc
}

#[inline(always)]
pub(crate) fn pointwise_body<const FMA: bool>(
    x: &[f32],
    s: Rows,
    w: &[f32],
    b: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    let Rows { ci, n, xs, ys } = s;
    let co = b.len();
    // About 32 KiB of input per tile, a whole number of pixel blocks.
    let tile = ((8192 / ci.max(1)).clamp(64, 1024) / PX) * PX;
    // The last pixels of a row (fewer than PX), copied with zeros after
    // them so that they take the same register kernel: YuNet's rows of 40,
    // 20 and 10 pixels would otherwise spend most of their time there.
    let tail = n % PX;
    let mut padded = vec![0f32; if tail > 0 { ci * PX } else { 0 }];
    if tail > 0 {
        for (i, dst) in padded.chunks_exact_mut(PX).enumerate() {
            dst[..tail].copy_from_slice(&x[i * xs + n - tail..i * xs + n]);
        }
    }
    let store = |y: &mut [f32], acc: &[[f32; PX]; CB], o: usize, j: usize, len: usize| {
        for (k, row) in acc.iter().enumerate() {
            let dst = &mut y[(o + k) * ys + j..(o + k) * ys + j + len];
            for (d, v) in dst.iter_mut().zip(row) {
                *d = act(*v, relu);
            }
        }
    };
    let mut t0 = 0;
    while t0 < n - tail {
        let t1 = (t0 + tile).min(n - tail);
        let mut o = 0;
        while o + CB <= co {
            let mut j = t0;
            while j + PX <= t1 {
                let acc = block::<FMA>(x, (xs, j), ci, w, b, o);
                store(y, &acc, o, j, PX);
                j += PX;
            }
            o += CB;
        }
        t0 = t1;
    }
    if tail > 0 {
        let mut o = 0;
        while o + CB <= co {
            let acc = block::<FMA>(&padded, (PX, 0), ci, w, b, o);
            store(y, &acc, o, n - tail, tail);
            o += CB;
        }
    }
    // The last output channels (fewer than CB), one row at a time.
    for oo in co - co % CB..co {
        let dst = &mut y[oo * ys..oo * ys + n];
        dst.fill(b[oo]);
        for i in 0..ci {
            let wk = w[oo * ci + i];
            for (d, v) in dst.iter_mut().zip(&x[i * xs..i * xs + n]) {
                *d = madd::<FMA>(wk, *v, *d);
            }
        }
        if relu {
            for d in dst {
                *d = d.max(0.0);
            }
        }
    }
}

/// The geometry of a grouped-by-one 2D convolution on one image.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct Geometry {
    /// Kernel height and width.
    pub k: (usize, usize),
    /// Strides (rows, columns).
    pub stride: (usize, usize),
    /// Dilations (rows, columns).
    pub dilation: (usize, usize),
    /// Zero padding before (top, left) and after (bottom, right).
    pub pad_before: (usize, usize),
    pub pad_after: (usize, usize),
}

impl Geometry {
    /// Output size for an input of `h x w`, or `None` when the kernel does
    /// not fit.
    pub fn output(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let span = |k: usize, d: usize| d * (k - 1) + 1;
        let ph = h + self.pad_before.0 + self.pad_after.0;
        let pw = w + self.pad_before.1 + self.pad_after.1;
        let (sh, sw) = (
            span(self.k.0, self.dilation.0),
            span(self.k.1, self.dilation.1),
        );
        if ph < sh || pw < sw || self.stride.0 == 0 || self.stride.1 == 0 {
            return None;
        }
        Some(((ph - sh) / self.stride.0 + 1, (pw - sw) / self.stride.1 + 1))
    }
}

/// The weights (`co x` inputs per output), bias (`co`) and activation of
/// one stage of [`conv_rows`].
#[derive(Debug, Clone, Copy)]
pub struct Stage<'a> {
    pub w: &'a [f32],
    pub b: &'a [f32],
    pub relu: bool,
}

/// Any convolution with one group (`first.w`: OIHW, `co x ci x kh x kw`),
/// one output row at a time: the `ci x kh x kw` input rows that row needs
/// are gathered (zeros for padding) and handed to [`pointwise`]. YuNet's
/// first layer (3x3, stride 2, 3 → 16 channels) spent 1 ms in tract's direct
/// convolution at 320x256.
///
/// With `then`, a 1x1 convolution (`then.w`: `co2 x co`) is applied to each
/// row while it is in the cache, and only its result is written: YuNet's
/// first layer and the 1x1 after it never write the 4.9 MB tensor between
/// them at 640x480.
pub fn conv_rows(
    x: &[f32],
    (ci, h, w): (usize, usize, usize),
    g: &Geometry,
    first: Stage,
    then: Option<Stage>,
    y: &mut [f32],
) {
    if let Some((oh, ow)) = g.output(h, w) {
        conv_rows_part(x, (ci, h, w), g, first, then, 0..oh, oh * ow, y)
    }
}

/// [`conv_rows`] for the output rows `part` only, written as row
/// `oy - part.start` of planes `ys` values apart in `y`: into the whole
/// output (`ys` = its plane), or into a buffer of just those rows (`ys` =
/// `part.len()` times the output width). This is how threads share one
/// layer (`conv::FastConv`).
#[allow(clippy::too_many_arguments)]
pub fn conv_rows_part(
    x: &[f32],
    (ci, h, w): (usize, usize, usize),
    g: &Geometry,
    first: Stage,
    then: Option<Stage>,
    part: std::ops::Range<usize>,
    ys: usize,
    y: &mut [f32],
) {
    let Some((oh, ow)) = g.output(h, w) else {
        return;
    };
    let (kh, kw) = g.k;
    let taps = ci * kh * kw;
    let co = first.b.len();
    let co_out = then.map_or(co, |t| t.b.len());
    assert!(x.len() >= ci * h * w, "conv: input too short");
    assert!(part.end <= oh, "conv: rows {part:?} past the output's {oh}");
    assert!(ys >= part.len() * ow, "conv: planes overlap");
    assert!(
        co_out == 0 || part.is_empty() || y.len() >= (co_out - 1) * ys + part.len() * ow,
        "conv: output too short"
    );
    if let Some(t) = then {
        assert!(
            t.w.len() == t.b.len() * co,
            "conv: the 1x1 after it takes {co} channels"
        );
    }
    let mut gathered = vec![0f32; taps * ow];
    let mut mid = vec![0f32; if then.is_some() { co * ow } else { 0 }];
    // Stride 2 across, no dilation (YuNet's first layer): each input row is
    // split once into its even and odd columns, and every tap's row is then
    // a plain copy from one of the halves.
    let halves = g.stride.1 == 2 && g.dilation.1 == 1;
    let (mut even, mut odd) = (vec![0f32; w.div_ceil(2)], vec![0f32; w / 2]);
    for oy in part.clone() {
        for c in 0..ci {
            for ky in 0..kh {
                let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize - g.pad_before.0 as isize;
                let rows = &mut gathered[(c * kh + ky) * kw * ow..][..kw * ow];
                if iy < 0 || iy >= h as isize {
                    rows.fill(0.0);
                    continue;
                }
                let src = &x[c * h * w + iy as usize * w..][..w];
                if halves {
                    split_columns(src, &mut even, &mut odd);
                }
                for (kx, row) in rows.chunks_exact_mut(ow).enumerate() {
                    let x0 = (kx * g.dilation.1) as isize - g.pad_before.1 as isize;
                    if !halves {
                        gather_row(src, x0, g.stride.1, row);
                    } else if x0.rem_euclid(2) == 0 {
                        gather_row(&even, x0.div_euclid(2), 1, row);
                    } else {
                        gather_row(&odd, (x0 - 1).div_euclid(2), 1, row);
                    }
                }
            }
        }
        let s = Rows {
            ci: taps,
            n: ow,
            xs: ow,
            ys,
        };
        let out = &mut y[(oy - part.start) * ow..];
        match then {
            None => pointwise(&gathered, s, first.w, first.b, first.relu, out),
            Some(t) => {
                let to_mid = Rows { ys: ow, ..s };
                pointwise(&gathered, to_mid, first.w, first.b, first.relu, &mut mid);
                let from_mid = Rows { ci: co, ..s };
                pointwise(&mid, from_mid, t.w, t.b, t.relu, out);
            }
        }
    }
}

/// `even[i] = src[2 * i]`, `odd[i] = src[2 * i + 1]`.
fn split_columns(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
    for (pair, (e, o)) in src.chunks_exact(2).zip(even.iter_mut().zip(odd.iter_mut())) {
        *e = pair[0];
        *o = pair[1];
    }
    if src.len() % 2 == 1 {
        even[src.len() / 2] = src[src.len() - 1];
    }
}

/// `row[ox] = src[x0 + ox * stride]`, zero where that falls outside `src`:
/// the columns that need padding are found first, so the copy has no branch.
fn gather_row(src: &[f32], x0: isize, stride: usize, row: &mut [f32]) {
    let (w, s) = (src.len() as isize, stride as isize);
    // First and one-past-last output columns whose input column is in range.
    let lo = if x0 >= 0 { 0 } else { (-x0 + s - 1) / s };
    let hi = if x0 >= w { 0 } else { (w - x0 + s - 1) / s };
    let (lo, hi) = (
        lo.min(row.len() as isize) as usize,
        hi.min(row.len() as isize) as usize,
    );
    let hi = hi.max(lo);
    row[..lo].fill(0.0);
    row[hi..].fill(0.0);
    let start = (x0 + (lo * stride) as isize) as usize;
    if stride == 1 {
        row[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
    } else {
        for (v, s) in row[lo..hi]
            .iter_mut()
            .zip(src[start..].iter().step_by(stride))
        {
            *v = *s;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
