//! Error rates with their uncertainty: exact (Clopper–Pearson) 95 %
//! intervals, and the rule of three when no error was seen.
//!
//! A rate measured on n trials is an estimate; what a deployment can claim
//! is its upper bound. With x errors in n trials the Clopper–Pearson
//! interval is the set of rates p for which seeing x is not too unlikely
//! (2.5 % in each tail); it is exact, so it never claims more than the data
//! show, however small n is. With zero errors the rule of three gives the
//! familiar one-sided bound 3/n.

use serde::Serialize;

/// A measured rate: `errors` out of `trials`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub errors: u64,
    pub trials: u64,
    /// errors / trials (NaN without trials).
    pub rate: f64,
    /// Two-sided 95 % Clopper–Pearson interval (NaN without trials).
    pub ci95_low: f64,
    pub ci95_high: f64,
    /// With zero errors: 3 / trials, the one-sided 95 % bound.
    pub rule_of_three: Option<f64>,
}

impl Rate {
    pub fn new(errors: u64, trials: u64) -> Rate {
        if trials == 0 {
            return Rate {
                errors,
                trials,
                rate: f64::NAN,
                ci95_low: f64::NAN,
                ci95_high: f64::NAN,
                rule_of_three: None,
            };
        }
        let (lo, hi) = clopper_pearson(errors, trials, 0.05);
        Rate {
            errors,
            trials,
            rate: errors as f64 / trials as f64,
            ci95_low: lo,
            ci95_high: hi,
            rule_of_three: (errors == 0).then(|| (3.0 / trials as f64).min(1.0)),
        }
    }

    /// "0.0123 (95 % CI 0.0100–0.0150, 12 of 975)", for people.
    pub fn describe(&self) -> String {
        if self.trials == 0 {
            return "no trials".into();
        }
        let mut s = format!(
            "{:.3e} (95 % CI {:.3e} to {:.3e}; {} of {})",
            self.rate, self.ci95_low, self.ci95_high, self.errors, self.trials
        );
        if let Some(r3) = self.rule_of_three {
            s += &format!("; none seen, rule of three: at most {r3:.3e}");
        }
        s
    }
}

/// Exact two-sided `1 - alpha` interval for a binomial proportion.
pub fn clopper_pearson(x: u64, n: u64, alpha: f64) -> (f64, f64) {
    assert!(x <= n && n > 0);
    let (xf, nf) = (x as f64, n as f64);
    let lo = if x == 0 {
        0.0
    } else {
        // P(X >= x | p) = alpha/2  <=>  I_p(x, n-x+1) = alpha/2
        bisect(|p| beta_inc(xf, nf - xf + 1.0, p) - alpha / 2.0)
    };
    let hi = if x == n {
        1.0
    } else {
        // P(X <= x | p) = alpha/2  <=>  I_p(x+1, n-x) = 1 - alpha/2
        bisect(|p| beta_inc(xf + 1.0, nf - xf, p) - (1.0 - alpha / 2.0))
    };
    (lo, hi)
}

/// The root of an increasing `f` on [0, 1].
fn bisect(f: impl Fn(f64) -> f64) -> f64 {
    let (mut a, mut b) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        if m <= a || m >= b {
            break;
        }
        if f(m) < 0.0 {
            a = m;
        } else {
            b = m;
        }
    }
    0.5 * (a + b)
}

/// ln Γ(x), Lanczos (g = 7, 9 terms), x > 0; relative error about 1e-15.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised incomplete beta I_x(a, b).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Continued fraction of the incomplete beta (modified Lentz). Converges in
/// about sqrt(max(a, b)) steps, so millions of pairs are fine.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=2_000_000u32 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn clopper_pearson_matches_published_values() {
        // R: binom.test(5, 10)$conf.int -> 0.1870860 0.8129140
        let (lo, hi) = clopper_pearson(5, 10, 0.05);
        assert!(
            close(lo, 0.187_086_0, 1e-5) && close(hi, 0.812_914_0, 1e-5),
            "{lo} {hi}"
        );
        // binom.test(1, 100): 0.0002531460 0.0544593854
        let (lo, hi) = clopper_pearson(1, 100, 0.05);
        assert!(
            close(lo, 0.000_253_146_0, 1e-4) && close(hi, 0.054_459_385_4, 1e-5),
            "{lo} {hi}"
        );
        // Zero errors: the upper bound is 1 - (alpha/2)^(1/n).
        let (lo, hi) = clopper_pearson(0, 30_000, 0.05);
        assert_eq!(lo, 0.0);
        let exact = 1.0 - 0.025f64.powf(1.0 / 30_000.0);
        assert!(close(hi, exact, 1e-6), "{hi} {exact}");
        let (lo, hi) = clopper_pearson(10, 10, 0.05);
        assert!(close(lo, 0.025f64.powf(0.1), 1e-6) && hi == 1.0);
    }

    #[test]
    fn clopper_pearson_holds_for_millions_of_pairs() {
        // 5,100 false matches in 55 million impostor pairs (LFW-sized):
        // the interval is narrow around the rate and contains it.
        let (x, n) = (5_100u64, 55_000_000u64);
        let (lo, hi) = clopper_pearson(x, n, 0.05);
        let p = x as f64 / n as f64;
        assert!(lo < p && p < hi, "{lo} {p} {hi}");
        // normal approximation: p ± 1.96 sqrt(p(1-p)/n)
        let half = 1.96 * (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            close(hi - lo, 2.0 * half, 0.02),
            "{} {}",
            hi - lo,
            2.0 * half
        );
    }

    #[test]
    fn rule_of_three_only_at_zero_errors() {
        let r = Rate::new(0, 300);
        assert_eq!(r.rule_of_three, Some(0.01));
        assert!(r.describe().contains("rule of three"));
        assert_eq!(Rate::new(1, 300).rule_of_three, None);
        assert_eq!(
            Rate::new(0, 2).rule_of_three,
            Some(1.0),
            "a rate, never above 1"
        );
        assert!(Rate::new(0, 0).rate.is_nan());
    }
}
