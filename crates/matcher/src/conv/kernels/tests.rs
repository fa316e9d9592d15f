//! The kernels against a plain f64 sum, on every build the CPU runs.
use super::*;

/// A plain, obviously right convolution (f64 sums) to compare with.
#[allow(clippy::too_many_arguments)]
fn naive(
    x: &[f32],
    (ci, h, w): (usize, usize, usize),
    g: &Geometry,
    group: usize,
    wt: &[f32],
    b: &[f32],
    relu: bool,
) -> Vec<f32> {
    let (oh, ow) = g.output(h, w).unwrap();
    let co = b.len();
    let (cig, cog) = (ci / group, co / group);
    let (kh, kw) = g.k;
    let mut y = vec![0f32; co * oh * ow];
    for o in 0..co {
        let gi = o / cog;
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = b[o] as f64;
                for i in 0..cig {
                    let c = gi * cig + i;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize
                                - g.pad_before.0 as isize;
                            let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize
                                - g.pad_before.1 as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let v = x[(c * h + iy as usize) * w + ix as usize] as f64;
                            s += v * wt[((o * cig + i) * kh + ky) * kw + kx] as f64;
                        }
                    }
                }
                let s = s as f32;
                y[(o * oh + oy) * ow + ox] = if relu { s.max(0.0) } else { s };
            }
        }
    }
    y
}

pub(crate) fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(12345);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s % 20001) as f32 / 10000.0 - 1.0
        })
        .collect()
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= 1e-4 * (1.0 + q.abs()),
            "{what}: value {i} is {p}, the plain sum gives {q}"
        );
    }
}

fn g3(stride: usize, pad: usize) -> Geometry {
    Geometry {
        k: (3, 3),
        stride: (stride, stride),
        dilation: (1, 1),
        pad_before: (pad, pad),
        pad_after: (pad, pad),
    }
}

fn g1() -> Geometry {
    Geometry {
        k: (1, 1),
        stride: (1, 1),
        dilation: (1, 1),
        pad_before: (0, 0),
        pad_after: (0, 0),
    }
}

#[test]
fn pointwise_matches_the_plain_sum_on_odd_sizes_every_build() {
    // Channel counts below, at and above the block, pixel counts with and
    // without a tail, larger than one tile.
    for (ci, co, h, w) in [
        (3, 1, 1, 1),
        (16, 16, 8, 10),
        (5, 7, 3, 11),
        (64, 10, 17, 33),
    ] {
        let x = values(ci * h * w, 1);
        let wt = values(co * ci, 2);
        let b = values(co, 3);
        for relu in [false, true] {
            let want = naive(&x, (ci, h, w), &g1(), 1, &wt, &b, relu);
            let n = h * w;
            let rows = Rows::planes(ci, n);
            for isa in Isa::available() {
                let mut y = vec![f32::NAN; co * n];
                pointwise_on(isa, &x, rows, &wt, &b, relu, &mut y);
                close(&y, &want, &format!("{isa:?} pointwise {ci}->{co} {h}x{w}"));
            }
        }
    }
}

#[test]
fn depthwise_matches_the_plain_sum_with_padding_every_build() {
    for (c, h, w) in [(1, 1, 1), (2, 1, 5), (3, 4, 2), (16, 9, 13), (5, 20, 40)] {
        let x = values(c * h * w, 4);
        let k = values(c * 9, 5);
        let b = values(c, 6);
        for relu in [false, true] {
            let want = naive(&x, (c, h, w), &g3(1, 1), c, &k, &b, relu);
            for isa in Isa::available() {
                let mut y = vec![f32::NAN; c * h * w];
                let after = After { relu, pool: false };
                depthwise_on(isa, &x, (c, h, w), &k, &b, after, &mut y);
                close(&y, &want, &format!("{isa:?} depthwise {c}x{h}x{w}"));

                // With the pool folded in: the same values as pooling the
                // full-size output, to the bit (odd sizes drop a row or column).
                let (oh, ow) = (h / 2, w / 2);
                let mut pooled = vec![f32::NAN; c * oh * ow];
                depthwise_on(
                    isa,
                    &x,
                    (c, h, w),
                    &k,
                    &b,
                    After { relu, pool: true },
                    &mut pooled,
                );
                let mut separate = vec![f32::NAN; c * oh * ow];
                crate::pool::max_pool_2x2_s2(&y, c, h, w, &mut separate);
                assert!(
                    pooled
                        .iter()
                        .zip(&separate)
                        .all(|(p, q)| p.to_bits() == q.to_bits()),
                    "{isa:?} depthwise + pool {c}x{h}x{w}: {pooled:?} against {separate:?}"
                );
            }
        }
    }
}

#[test]
fn stride_two_depthwise_matches_the_plain_sum_every_build() {
    // Odd and even sizes: an odd width's last output column and an odd
    // height's last output row see one column or row of padding.
    for (c, h, w) in [
        (1, 1, 1),
        (2, 1, 6),
        (3, 4, 2),
        (4, 7, 9),
        (5, 12, 11),
        (3, 20, 40),
    ] {
        let x = values(c * h * w, 7);
        let k = values(c * 9, 8);
        let b = values(c, 9);
        for relu in [false, true] {
            let want = naive(&x, (c, h, w), &g3(2, 1), c, &k, &b, relu);
            assert_eq!(want.len(), c * h.div_ceil(2) * w.div_ceil(2));
            for isa in Isa::available() {
                let mut y = vec![f32::NAN; want.len()];
                depthwise_s2_on(isa, &x, (c, h, w), &k, &b, relu, &mut y);
                close(
                    &y,
                    &want,
                    &format!("{isa:?} stride-2 depthwise {c}x{h}x{w}"),
                );
            }
        }
    }
}

#[test]
fn gathered_rows_compute_strided_padded_and_dilated_convolutions() {
    let mut dilated = g3(1, 2);
    dilated.dilation = (2, 2);
    let mut uneven = g3(2, 1);
    uneven.pad_after = (0, 2);
    uneven.k = (3, 2);
    // Stride 2 takes the split-columns path: taps left of, at and right of
    // the first column, odd and even widths.
    let mut wide = g3(2, 2);
    wide.k = (5, 5);
    for (ci, co, h, w, g) in [
        (2, 3, 11, 13, wide),
        (2, 3, 12, 1, wide),
        (3, 4, 10, 12, g3(2, 0)),
        (3, 16, 32, 40, g3(2, 1)),
        (3, 16, 31, 41, g3(2, 1)),
        (1, 1, 7, 9, g3(1, 1)),
        (4, 6, 9, 10, dilated),
        (2, 5, 8, 9, uneven),
    ] {
        let (kh, kw) = g.k;
        let x = values(ci * h * w, 7);
        let wt = values(co * ci * kh * kw, 8);
        let b = values(co, 9);
        let want = naive(&x, (ci, h, w), &g, 1, &wt, &b, true);
        let (oh, ow) = g.output(h, w).unwrap();
        let mut y = vec![f32::NAN; co * oh * ow];
        let first = Stage {
            w: &wt,
            b: &b,
            relu: true,
        };
        conv_rows(&x, (ci, h, w), &g, first, None, &mut y);
        close(&y, &want, &format!("conv {ci}->{co} {h}x{w} {g:?}"));

        // With a 1x1 convolution after it, applied row by row.
        let co2 = 5;
        let (w2, b2) = (values(co2 * co, 10), values(co2, 11));
        let want2 = naive(&want, (co, oh, ow), &g1(), 1, &w2, &b2, false);
        let mut y2 = vec![f32::NAN; co2 * oh * ow];
        let then = Stage {
            w: &w2,
            b: &b2,
            relu: false,
        };
        conv_rows(&x, (ci, h, w), &g, first, Some(then), &mut y2);
        close(
            &y2,
            &want2,
            &format!("conv {ci}->{co}->{co2} {h}x{w} {g:?}"),
        );
    }
}

#[test]
fn output_sizes_follow_the_convolution_arithmetic() {
    assert_eq!(g3(2, 1).output(256, 320), Some((128, 160)));
    assert_eq!(g3(2, 1).output(481, 641), Some((241, 321)));
    assert_eq!(g3(1, 1).output(1, 1), Some((1, 1)));
    assert_eq!(g3(1, 0).output(2, 5), None);
}
