// SPDX-License-Identifier: GPL-2.0
//! Integer transforms: the 4×4 forward core transform (encoder side, our choice) and the exact
//! inverse transforms of the decoder (8.5.12, 8.5.10, 8.5.11), which the reconstruction must
//! reproduce bit for bit.

/// Forward 4×4 core transform of a residual block (raster order), in place.
pub fn fdct4(b: &mut [i32; 16]) {
    for r in 0..4 {
        let (x0, x1, x2, x3) = (b[r * 4], b[r * 4 + 1], b[r * 4 + 2], b[r * 4 + 3]);
        let (s03, d03, s12, d12) = (x0 + x3, x0 - x3, x1 + x2, x1 - x2);
        b[r * 4] = s03 + s12;
        b[r * 4 + 1] = 2 * d03 + d12;
        b[r * 4 + 2] = s03 - s12;
        b[r * 4 + 3] = d03 - 2 * d12;
    }
    for c in 0..4 {
        let (x0, x1, x2, x3) = (b[c], b[4 + c], b[8 + c], b[12 + c]);
        let (s03, d03, s12, d12) = (x0 + x3, x0 - x3, x1 + x2, x1 - x2);
        b[c] = s03 + s12;
        b[4 + c] = 2 * d03 + d12;
        b[8 + c] = s03 - s12;
        b[12 + c] = d03 - 2 * d12;
    }
}

/// Inverse 4×4 transform of scaled coefficients d (raster order) into residuals r, exactly as
/// 8.5.12.2: rows first, then columns, then (x + 32) >> 6.
pub fn idct4(d: &mut [i32; 16]) {
    for r in 0..4 {
        let (d0, d1, d2, d3) = (d[r * 4], d[r * 4 + 1], d[r * 4 + 2], d[r * 4 + 3]);
        let e0 = d0 + d2;
        let e1 = d0 - d2;
        let e2 = (d1 >> 1) - d3;
        let e3 = d1 + (d3 >> 1);
        d[r * 4] = e0 + e3;
        d[r * 4 + 1] = e1 + e2;
        d[r * 4 + 2] = e1 - e2;
        d[r * 4 + 3] = e0 - e3;
    }
    for c in 0..4 {
        let (f0, f1, f2, f3) = (d[c], d[4 + c], d[8 + c], d[12 + c]);
        let g0 = f0 + f2;
        let g1 = f0 - f2;
        let g2 = (f1 >> 1) - f3;
        let g3 = f1 + (f3 >> 1);
        d[c] = (g0 + g3 + 32) >> 6;
        d[4 + c] = (g1 + g2 + 32) >> 6;
        d[8 + c] = (g1 - g2 + 32) >> 6;
        d[12 + c] = (g0 - g3 + 32) >> 6;
    }
}

/// 4×4 Hadamard transform (raster order), in place, unnormalised. It is its own inverse up to a
/// factor 16, and is used both forward (encoder) and inverse (8.5.10) for luma DC.
pub fn hadamard4(b: &mut [i32; 16]) {
    for r in 0..4 {
        let (x0, x1, x2, x3) = (b[r * 4], b[r * 4 + 1], b[r * 4 + 2], b[r * 4 + 3]);
        let (s01, d01, s23, d23) = (x0 + x1, x0 - x1, x2 + x3, x2 - x3);
        b[r * 4] = s01 + s23;
        b[r * 4 + 1] = s01 - s23;
        b[r * 4 + 2] = d01 - d23;
        b[r * 4 + 3] = d01 + d23;
    }
    for c in 0..4 {
        let (x0, x1, x2, x3) = (b[c], b[4 + c], b[8 + c], b[12 + c]);
        let (s01, d01, s23, d23) = (x0 + x1, x0 - x1, x2 + x3, x2 - x3);
        b[c] = s01 + s23;
        b[4 + c] = s01 - s23;
        b[8 + c] = d01 - d23;
        b[12 + c] = d01 + d23;
    }
}

/// 2×2 Hadamard for chroma DC (raster order [blk0, blk1, blk2, blk3]), in place (8.5.11.1).
pub fn hadamard2(c: &mut [i32; 4]) {
    let (a, b, d, e) = (c[0], c[1], c[2], c[3]);
    c[0] = a + b + d + e;
    c[1] = a - b + d - e;
    c[2] = a + b - d - e;
    c[3] = a - b - d + e;
}

/// Sum of absolute transformed differences of a 4×4 difference block (raster), the usual
/// Hadamard cost estimate, halved so that it is comparable to SAD.
pub fn satd4(diff: &[i32; 16]) -> u32 {
    let mut b = *diff;
    hadamard4(&mut b);
    let mut s = 0u32;
    for v in b.iter() {
        s += v.unsigned_abs();
    }
    (s + 1) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_then_inverse_is_identity_up_to_scale() {
        // With the flat dequantiser at QP 4 (v·16 scaling undone) the core pair reconstructs:
        // here just check DC: a flat residual of 10 gives DC 160 and back 10 with scale 1/16·4.
        let mut b = [10i32; 16];
        fdct4(&mut b);
        assert_eq!(b[0], 160);
        assert!(b[1..].iter().all(|&v| v == 0));
        // Dequantised DC for level l at qP with v=16 (qP%6 = 4): d = l*16<<(qP/6); we emulate
        // d = 64*10 so that (d + 32) >> 6 == 10.
        let mut d = [0i32; 16];
        d[0] = 640;
        idct4(&mut d);
        assert!(d.iter().all(|&v| v == 10));
    }

    #[test]
    fn hadamard_self_inverse() {
        let mut b: [i32; 16] = core::array::from_fn(|i| (i as i32 * 7) % 11 - 5);
        let o = b;
        hadamard4(&mut b);
        hadamard4(&mut b);
        for i in 0..16 {
            assert_eq!(b[i], o[i] * 16);
        }
    }
}
