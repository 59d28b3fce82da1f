// SPDX-License-Identifier: GPL-2.0
//! Integer helpers for rate control: u64 by u32 division without the `/` operator (which
//! needs `__aeabi_uldivmod` on 32-bit ARM, ARCHITECTURE.md §3), and base-2 logarithm /
//! exponential in Q8 fixed point.

/// Fractional bits of the Q8 log domain (256 = one octave = 6 QP steps).
pub const Q8: i32 = 256;

/// `n / d` for a u64 numerator by shift-and-subtract (`d == 0` gives `u64::MAX`).
pub fn div_u64(n: u64, d: u32) -> u64 {
    if d == 0 {
        return u64::MAX;
    }
    let d = d as u64;
    if n < d {
        return 0;
    }
    let mut q = 0u64;
    let mut r = 0u64;
    let mut i = 64 - n.leading_zeros();
    while i > 0 {
        i -= 1;
        r = (r << 1) | ((n >> i) & 1);
        if r >= d {
            r -= d;
            q |= 1 << i;
        }
    }
    q
}

/// 2^(k/16) in Q16 for k = 0..=16.
const EXP2_16THS: [u32; 17] = [
    65536, 68438, 71468, 74632, 77936, 81386, 84990, 88752, 92682, 96785, 101070, 105545, 110218,
    115098, 120194, 125515, 131072,
];

/// log2(x) in Q8 (x ≥ 1; `log2_q8(0)` is treated as log2(1) = 0). Error < 1/256 octave.
pub fn log2_q8(x: u64) -> i32 {
    if x <= 1 {
        return 0;
    }
    let int = 63 - x.leading_zeros() as i32;
    // Mantissa in Q16, 1.0 ≤ m < 2.0.
    let m: u32 = if int >= 16 {
        (x >> (int - 16)) as u32
    } else {
        (x << (16 - int)) as u32
    };
    // Find the 16th of an octave, then interpolate linearly inside it.
    let mut k = 0usize;
    while k < 15 && EXP2_16THS.get(k + 1).is_some_and(|&e| m >= e) {
        k += 1;
    }
    let lo = EXP2_16THS.get(k).copied().unwrap_or(65536);
    let hi = EXP2_16THS.get(k + 1).copied().unwrap_or(131072);
    let frac16 = ((m - lo) << 4) / (hi - lo).max(1); // 0..16 in units of 1/256 octave
    int * Q8 + (k as i32) * 16 + frac16 as i32
}

/// 2^(y/256), saturating to `u64::MAX` above 2^63 and 0 below 2^-8.
pub fn exp2_q8(y: i32) -> u64 {
    if y >= 63 * Q8 {
        return u64::MAX;
    }
    if y < -8 * Q8 {
        return 0;
    }
    let int = y >> 8; // floor
    let frac = (y & 255) as u32; // 0..255
    let k = (frac >> 4) as usize;
    let lo = EXP2_16THS.get(k).copied().unwrap_or(65536) as u64;
    let hi = EXP2_16THS.get(k + 1).copied().unwrap_or(131072) as u64;
    let m = lo + (((hi - lo) * (frac & 15) as u64) >> 4); // Q16
    if int >= 16 {
        m << (int - 16)
    } else {
        m >> (16 - int)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_matches() {
        let mut rng = crate::h264::testutil::Rng::new(5);
        for _ in 0..10000 {
            let n = rng.next_u64() >> rng.range(0, 63);
            let d = (rng.next_u32() >> rng.range(0, 31)).max(1);
            assert_eq!(div_u64(n, d), n / d as u64, "{n}/{d}");
        }
        assert_eq!(div_u64(5, 0), u64::MAX);
        assert_eq!(div_u64(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn log_exp_accuracy() {
        for x in [1u64, 2, 3, 5, 100, 1000, 65535, 65536, 1 << 40, u64::MAX] {
            let want = (x as f64).log2() * 256.0;
            let got = log2_q8(x) as f64;
            assert!((got - want).abs() <= 1.0, "log2({x}) = {got}, want {want}");
        }
        for y in (-8 * 256..40 * 256).step_by(37) {
            let want = (2f64).powf(y as f64 / 256.0);
            let got = exp2_q8(y) as f64;
            // Relative error below 0.3 %, or truncation of tiny values.
            assert!(
                (got - want).abs() <= want * 0.003 + 1.0,
                "exp2({y}) = {got}, want {want}"
            );
        }
        assert_eq!(exp2_q8(70 * 256), u64::MAX);
        assert_eq!(exp2_q8(-9 * 256), 0);
    }
}
