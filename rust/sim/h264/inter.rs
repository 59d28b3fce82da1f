// SPDX-License-Identifier: GPL-2.0
//! Inter prediction: quarter-sample luma interpolation (8.4.2.2.1, 6-tap), eighth-sample chroma
//! interpolation (8.4.2.2.2), motion vector prediction (8.4.1.3) and P_Skip motion (8.4.1.1),
//! plus the encoder's motion search (our choice: diamond search + half/quarter refinement).

use super::Plane;

/// Reference picture geometry: the plane and its visible size in samples (reference sample
/// coordinates are clamped to it, 8.4.2.2).
#[derive(Clone, Copy)]
pub struct RefPlane<'a> {
    /// Samples.
    pub plane: &'a Plane<'a>,
    /// Width in samples (for chroma: in chroma samples of one component).
    pub width: usize,
    /// Height in samples.
    pub height: usize,
}

const W: usize = 24;
const N: usize = 19;

/// Full-, half- and centre-sample planes around a 16×16 block, covering offsets −1..=17 in
/// both directions from the block's integer origin. All quarter-sample positions with offsets
/// −3..=3 (quarter units) from the origin are averages of these (8.4.2.2.1).
pub struct SubpelPlanes {
    f: [[u8; N]; N],
    b: [[u8; N]; N],
    h: [[u8; N]; N],
    j: [[u8; N]; N],
}

#[inline]
fn tap6(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32) -> i32 {
    a - 5 * b + 20 * c + 20 * d - 5 * e + f
}

#[inline]
fn clip(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

impl Default for SubpelPlanes {
    fn default() -> Self {
        Self::new()
    }
}

impl SubpelPlanes {
    /// All-zero planes, to be filled by [`SubpelPlanes::fill`].
    pub const fn new() -> Self {
        SubpelPlanes {
            f: [[0; N]; N],
            b: [[0; N]; N],
            h: [[0; N]; N],
            j: [[0; N]; N],
        }
    }

    /// Builds all planes for the block whose integer origin is (x0, y0) in the reference (may
    /// lie outside the picture: samples are clamped to the edges like the decoder does).
    pub fn build(r: &RefPlane, x0: i32, y0: i32) -> Self {
        let mut p = Self::new();
        p.fill(r, x0, y0, true, true, true);
        p
    }

    /// Fills the full-sample plane and the half-sample planes asked for (the others keep their
    /// old content): motion compensation at one position needs at most two of them. In place
    /// and with a 6-row ring of intermediates, because this runs in kernel context on 32-bit
    /// ARM with an 8 KiB stack.
    #[inline(never)]
    pub fn fill(
        &mut self,
        r: &RefPlane,
        x0: i32,
        y0: i32,
        want_b: bool,
        want_h: bool,
        want_j: bool,
    ) {
        let mut win = [[0u8; W]; W];
        let wmax = r.width as i32 - 1;
        let hmax = r.height as i32 - 1;
        let data = r.plane.data;
        let stride = r.plane.stride;
        let inside = x0 - 3 >= 0
            && y0 - 3 >= 0
            && x0 - 3 + W as i32 <= wmax + 1
            && y0 - 3 + W as i32 <= hmax + 1;
        for (wy, row) in win.iter_mut().enumerate() {
            let yy = (y0 - 3 + wy as i32).clamp(0, hmax) as usize;
            let base = yy * stride;
            if inside {
                let s = base + (x0 - 3) as usize;
                if let Some(src) = data.get(s..s + W) {
                    row.copy_from_slice(src);
                    continue;
                }
            }
            for (wx, d) in row.iter_mut().enumerate() {
                let xx = (x0 - 3 + wx as i32).clamp(0, wmax) as usize;
                *d = data.get(base + xx).copied().unwrap_or(0);
            }
        }
        for y in 0..N {
            for x in 0..N {
                self.f[y][x] = win[y + 2][x + 2];
            }
        }
        if want_h {
            for y in 0..N {
                // Row slices hoisted so the inner loop is straight-line (and vectorisable).
                let (r0, r1, r2) = (
                    &win[y][2..N + 2],
                    &win[y + 1][2..N + 2],
                    &win[y + 2][2..N + 2],
                );
                let (r3, r4, r5) = (
                    &win[y + 3][2..N + 2],
                    &win[y + 4][2..N + 2],
                    &win[y + 5][2..N + 2],
                );
                for (x, o) in self.h[y].iter_mut().enumerate() {
                    let t = tap6(
                        r0[x] as i32,
                        r1[x] as i32,
                        r2[x] as i32,
                        r3[x] as i32,
                        r4[x] as i32,
                        r5[x] as i32,
                    );
                    *o = clip((t + 16) >> 5);
                }
            }
        }
        if want_b || want_j {
            // Horizontal intermediates b1 (|b1| ≤ 42·255 fits i16) of window rows, at offsets
            // x−1; window row r is plane row r−2 for b and feeds plane row r−5 of j.
            let mut ring = [[0i16; N]; 6];
            let rows = if want_j { 0..W } else { 2..N + 2 };
            for r in rows {
                let row = &win[r];
                let slot = r % 6;
                for (x, o) in ring[slot].iter_mut().enumerate() {
                    let w6 = &row[x..x + 6];
                    *o = tap6(
                        w6[0] as i32,
                        w6[1] as i32,
                        w6[2] as i32,
                        w6[3] as i32,
                        w6[4] as i32,
                        w6[5] as i32,
                    ) as i16;
                }
                if want_b && (2..N + 2).contains(&r) {
                    for (o, &v) in self.b[r - 2].iter_mut().zip(ring[slot].iter()) {
                        *o = clip((v as i32 + 16) >> 5);
                    }
                }
                if want_j && r >= 5 {
                    let y = r - 5;
                    let (q0, q1, q2) = (&ring[y % 6], &ring[(y + 1) % 6], &ring[(y + 2) % 6]);
                    let (q3, q4, q5) = (&ring[(y + 3) % 6], &ring[(y + 4) % 6], &ring[(y + 5) % 6]);
                    for (x, o) in self.j[y].iter_mut().enumerate() {
                        let t = tap6(
                            q0[x] as i32,
                            q1[x] as i32,
                            q2[x] as i32,
                            q3[x] as i32,
                            q4[x] as i32,
                            q5[x] as i32,
                        );
                        *o = clip((t + 512) >> 10);
                    }
                }
            }
        }
    }

    /// Predicts the 16×16 block displaced by (qx, qy) quarter samples from the origin, with
    /// qx, qy in −3..=3 (values outside are clamped into that range).
    pub fn predict(&self, qx: i32, qy: i32, out: &mut [u8; 256]) {
        self.predict_n(qx, qy, 16, out)
    }

    /// Like [`SubpelPlanes::predict`] for the top-left `n`×`n` (n ≤ 16) samples only.
    pub fn predict_n(&self, qx: i32, qy: i32, n: usize, out: &mut [u8; 256]) {
        let n = n.min(16);
        let qx = qx.clamp(-3, 3);
        let qy = qy.clamp(-3, 3);
        // Plane index of the integer sample G for output (0,0).
        let ox = (1 + (qx >> 2)) as usize;
        let oy = (1 + (qy >> 2)) as usize;
        type P = [[u8; N]; N];
        type Tap<'p> = (&'p P, usize, usize);
        // Each position is one plane sample or the rounded average of two (8.4.2.2.1):
        // (plane, dx, dy) relative to G.
        let (a, b): (Tap, Option<Tap>) = match (qx & 3, qy & 3) {
            (0, 0) => ((&self.f, 0, 0), None),
            (0, 1) => ((&self.f, 0, 0), Some((&self.h, 0, 0))),
            (0, 2) => ((&self.h, 0, 0), None),
            (0, 3) => ((&self.f, 0, 1), Some((&self.h, 0, 0))),
            (1, 0) => ((&self.f, 0, 0), Some((&self.b, 0, 0))),
            (2, 0) => ((&self.b, 0, 0), None),
            (3, 0) => ((&self.f, 1, 0), Some((&self.b, 0, 0))),
            (1, 1) => ((&self.b, 0, 0), Some((&self.h, 0, 0))),
            (3, 1) => ((&self.b, 0, 0), Some((&self.h, 1, 0))),
            (1, 3) => ((&self.h, 0, 0), Some((&self.b, 0, 1))),
            (3, 3) => ((&self.h, 1, 0), Some((&self.b, 0, 1))),
            (2, 1) => ((&self.b, 0, 0), Some((&self.j, 0, 0))),
            (2, 3) => ((&self.j, 0, 0), Some((&self.b, 0, 1))),
            (1, 2) => ((&self.h, 0, 0), Some((&self.j, 0, 0))),
            (3, 2) => ((&self.j, 0, 0), Some((&self.h, 1, 0))),
            _ => ((&self.j, 0, 0), None),
        };
        for (j, orow) in out.chunks_exact_mut(16).take(n).enumerate() {
            let orow = &mut orow[..n];
            let ra = &a.0[oy + j + a.2][ox + a.1..ox + a.1 + n];
            match b {
                None => orow.copy_from_slice(ra),
                Some((pb, dx, dy)) => {
                    let rb = &pb[oy + j + dy][ox + dx..ox + dx + n];
                    for ((o, &x), &y) in orow.iter_mut().zip(ra.iter()).zip(rb.iter()) {
                        *o = ((x as u16 + y as u16 + 1) >> 1) as u8;
                    }
                }
            }
        }
    }
}

/// Copies the 16×16 block at integer position (x, y), clamping coordinates to the picture.
pub fn fetch16(r: &RefPlane, x: i32, y: i32, out: &mut [u8; 256]) {
    let data = r.plane.data;
    let stride = r.plane.stride;
    let wmax = r.width as i32 - 1;
    let hmax = r.height as i32 - 1;
    let inside = x >= 0 && y >= 0 && x + 16 <= wmax + 1;
    for (j, orow) in out.chunks_exact_mut(16).enumerate() {
        let yy = (y + j as i32).clamp(0, hmax) as usize * stride;
        if inside {
            let o = yy + x as usize;
            if let Some(src) = data.get(o..o + 16) {
                orow.copy_from_slice(src);
                continue;
            }
        }
        for (i, o) in orow.iter_mut().enumerate() {
            let xx = (x + i as i32).clamp(0, wmax) as usize;
            *o = data.get(yy + xx).copied().unwrap_or(0);
        }
    }
}

/// Luma motion compensation of the 16×16 block at (bx, by) with a quarter-sample vector.
pub fn mc_luma(r: &RefPlane, bx: i32, by: i32, mv: [i16; 2], out: &mut [u8; 256]) {
    let mx = mv[0] as i32;
    let my = mv[1] as i32;
    if mx & 3 == 0 && my & 3 == 0 {
        return fetch16(r, bx + (mx >> 2), by + (my >> 2), out);
    }
    let (fx, fy) = (mx & 3, my & 3);
    // Which half-sample planes this position averages (see `predict`).
    let want_b = fx != 0 && fy != 2;
    let want_h = fy != 0 && fx != 2;
    let want_j = fx == 2 && fy != 0 || fy == 2 && fx != 0;
    let mut p = SubpelPlanes::new();
    p.fill(r, bx + (mx >> 2), by + (my >> 2), want_b, want_h, want_j);
    p.predict(fx, fy, out);
}

/// Chroma motion compensation (4:2:0, interleaved UV) of the 8×8 blocks at chroma sample
/// (cx, cy); the luma vector is in eighth chroma samples.
pub fn mc_chroma(r: &RefPlane, cx: i32, cy: i32, mv: [i16; 2], u: &mut [u8; 64], v: &mut [u8; 64]) {
    let mx = mv[0] as i32;
    let my = mv[1] as i32;
    let xi = cx + (mx >> 3);
    let yi = cy + (my >> 3);
    let fx = mx & 7;
    let fy = my & 7;
    let wmax = r.width as i32 - 1;
    let hmax = r.height as i32 - 1;
    let data = r.plane.data;
    let stride = r.plane.stride;
    // 9×9 clamped window per component.
    let mut wu = [[0i32; 9]; 9];
    let mut wv = [[0i32; 9]; 9];
    let inside = xi >= 0 && yi >= 0 && xi + 9 <= wmax + 1 && yi + 9 <= hmax + 1;
    for y in 0..9 {
        let yy = (yi + y as i32).clamp(0, hmax) as usize * stride;
        if inside {
            let o = yy + xi as usize * 2;
            if let Some(row) = data.get(o..o + 18) {
                for x in 0..9 {
                    wu[y][x] = row[2 * x] as i32;
                    wv[y][x] = row[2 * x + 1] as i32;
                }
                continue;
            }
        }
        for x in 0..9 {
            let xx = (xi + x as i32).clamp(0, wmax) as usize * 2;
            wu[y][x] = data.get(yy + xx).copied().unwrap_or(0) as i32;
            wv[y][x] = data.get(yy + xx + 1).copied().unwrap_or(0) as i32;
        }
    }
    let (c00, c10, c01, c11) = ((8 - fx) * (8 - fy), fx * (8 - fy), (8 - fx) * fy, fx * fy);
    for y in 0..8 {
        for x in 0..8 {
            u[y * 8 + x] = ((c00 * wu[y][x]
                + c10 * wu[y][x + 1]
                + c01 * wu[y + 1][x]
                + c11 * wu[y + 1][x + 1]
                + 32)
                >> 6) as u8;
            v[y * 8 + x] = ((c00 * wv[y][x]
                + c10 * wv[y][x + 1]
                + c01 * wv[y + 1][x]
                + c11 * wv[y + 1][x + 1]
                + 32)
                >> 6) as u8;
        }
    }
}

/// A neighbouring partition for motion vector prediction: `None` when not available,
/// otherwise (refIdx, mv) with refIdx −1 for intra macroblocks.
pub type MvNb = Option<(i8, [i16; 2])>;

fn median(a: i16, b: i16, c: i16) -> i16 {
    a.max(b).min(a.min(b).max(c))
}

/// Motion vector predictor of a 16×16 partition with refIdx 0 (8.4.1.3): `c` is C, already
/// replaced by D by the caller when C is not available.
pub fn mv_pred(a: MvNb, b: MvNb, c: MvNb) -> [i16; 2] {
    let (a, b, c) = if b.is_none() && c.is_none() && a.is_some() {
        (a, a, a)
    } else {
        (a, b, c)
    };
    let get = |n: MvNb| n.unwrap_or((-1, [0, 0]));
    let (ra, ma) = get(a);
    let (rb, mb) = get(b);
    let (rc, mc) = get(c);
    let matches = (ra == 0) as u8 + (rb == 0) as u8 + (rc == 0) as u8;
    if matches == 1 {
        if ra == 0 {
            return ma;
        }
        if rb == 0 {
            return mb;
        }
        return mc;
    }
    [median(ma[0], mb[0], mc[0]), median(ma[1], mb[1], mc[1])]
}

/// P_Skip motion vector (8.4.1.1).
pub fn skip_mv(a: MvNb, b: MvNb, c: MvNb) -> [i16; 2] {
    match (a, b) {
        (None, _) | (_, None) => [0, 0],
        (Some((0, [0, 0])), _) | (_, Some((0, [0, 0]))) => [0, 0],
        _ => mv_pred(a, b, c),
    }
}

/// Sum of absolute differences of two 16×16 blocks.
pub fn sad16(a: &[u8; 256], b: &[u8; 256]) -> u32 {
    let mut s = 0u32;
    for (x, y) in a.iter().zip(b.iter()) {
        s += (*x as i32 - *y as i32).unsigned_abs();
    }
    s
}

/// SAD of the top-left `n`×`n` samples of two 16-wide blocks.
pub fn sad_n(a: &[u8; 256], b: &[u8; 256], n: usize) -> u32 {
    if n >= 16 {
        return sad16(a, b);
    }
    let mut s = 0u32;
    for j in 0..n {
        for (x, y) in a[j * 16..j * 16 + n]
            .iter()
            .zip(b[j * 16..j * 16 + n].iter())
        {
            s += (*x as i32 - *y as i32).unsigned_abs();
        }
    }
    s
}

/// SAD of the source block (top-left `n`×`n` of a 16-wide buffer) against the reference at
/// integer position (x, y), stopping early once `limit` is exceeded (the result is then
/// > limit but not exact).
fn sad_int<const NB: usize>(src: &[u8; 256], r: &RefPlane, x: i32, y: i32, limit: u32) -> u32 {
    let n = NB;
    let ni = n as i32;
    let inside = x >= 0 && y >= 0 && x + ni <= r.width as i32 && y + ni <= r.height as i32;
    let data = r.plane.data;
    let stride = r.plane.stride;
    let mut s = 0u32;
    if inside {
        for j in 0..n {
            let base = (y as usize + j) * stride + x as usize;
            let row = match data.get(base..base + n) {
                Some(row) => row,
                None => return u32::MAX,
            };
            for (a, b) in src[j * 16..j * 16 + n].iter().zip(row.iter()) {
                s += (*a as i32 - *b as i32).unsigned_abs();
            }
            if s > limit {
                return s;
            }
        }
        s
    } else {
        let mut blk = [0u8; 256];
        fetch16(r, x, y, &mut blk);
        sad_n(src, &blk, n)
    }
}

/// Bits of a signed Exp-Golomb code, the motion cost model for both entropy coders.
pub fn se_bits(v: i32) -> u32 {
    let code = if v > 0 {
        2 * v as u32 - 1
    } else {
        (-2 * v) as u32
    };
    2 * (31 - (code + 1).leading_zeros()) + 1
}

fn mv_cost(mv: [i32; 2], mvp: [i16; 2], lambda: u32) -> u32 {
    lambda * (se_bits(mv[0] - mvp[0] as i32) + se_bits(mv[1] - mvp[1] as i32))
}

/// Result of the motion search.
pub struct Motion {
    /// Best vector in quarter samples.
    pub mv: [i16; 2],
    /// SAD + λ·bits of that vector.
    pub cost: u32,
}

/// Largest vector component we search to (quarter samples): ±64 samples keeps every vector
/// well inside the Main-profile limits for all levels.
const MV_LIMIT: i32 = 64 * 4;

/// Motion search for the `n`×`n` block (16 or 8; the source is the top-left of a 16-wide
/// buffer) at (bx, by): candidates (predictor, zero and the given
/// extra vectors), a small diamond search at integer positions, then half- and quarter-sample
/// refinement around the best integer vector.
/// The prediction for the chosen vector is left in `pred`.
#[allow(clippy::too_many_arguments)]
pub fn search<const NB: usize>(
    src: &[u8; 256],
    r: &RefPlane,
    bx: i32,
    by: i32,
    mvp: [i16; 2],
    extra: &[[i16; 2]],
    lambda: u32,
    pred: &mut [u8; 256],
) -> Motion {
    let n = NB;
    let clamp_mv = |v: i32| v.clamp(-MV_LIMIT, MV_LIMIT);
    // Integer stage, in full samples.
    let mut best = [0i32; 2];
    let mut best_cost = u32::MAX;
    let try_int = |v: [i32; 2], best: &mut [i32; 2], best_cost: &mut u32| {
        let q = [clamp_mv(v[0] * 4), clamp_mv(v[1] * 4)];
        let v = [q[0] >> 2, q[1] >> 2];
        let mc = mv_cost(q, mvp, lambda);
        if mc >= *best_cost {
            return;
        }
        let s = sad_int::<NB>(src, r, bx + v[0], by + v[1], *best_cost - mc);
        let c = s.saturating_add(mc);
        if c < *best_cost {
            *best_cost = c;
            *best = v;
        }
    };
    let round = |q: i16| ((q as i32) + 2) >> 2;
    try_int([round(mvp[0]), round(mvp[1])], &mut best, &mut best_cost);
    try_int([0, 0], &mut best, &mut best_cost);
    for e in extra {
        try_int([round(e[0]), round(e[1])], &mut best, &mut best_cost);
    }
    // Large diamond until the centre wins, then one small diamond step.
    const LDIA: [[i32; 2]; 8] = [
        [0, -2],
        [1, -1],
        [2, 0],
        [1, 1],
        [0, 2],
        [-1, 1],
        [-2, 0],
        [-1, -1],
    ];
    const SDIA: [[i32; 2]; 4] = [[0, -1], [1, 0], [0, 1], [-1, 0]];
    for _ in 0..16 {
        let c = best;
        for d in LDIA.iter() {
            try_int([c[0] + d[0], c[1] + d[1]], &mut best, &mut best_cost);
        }
        if best == c {
            break;
        }
    }
    let c = best;
    for d in SDIA.iter() {
        try_int([c[0] + d[0], c[1] + d[1]], &mut best, &mut best_cost);
    }
    // Sub-sample refinement on planes around the best integer position.
    let mut planes = SubpelPlanes::new();
    planes.fill(r, bx + best[0], by + best[1], true, true, true);
    let mut bq = [0i32; 2];
    let base = [best[0] * 4, best[1] * 4];
    let mut bcost = best_cost;
    for step in [2i32, 1] {
        let c = bq;
        for dy in [-step, 0, step] {
            for dx in [-step, 0, step] {
                if dx == 0 && dy == 0 {
                    continue;
                }
                let q = [c[0] + dx, c[1] + dy];
                let mvq = [base[0] + q[0], base[1] + q[1]];
                if mvq[0].abs() > MV_LIMIT || mvq[1].abs() > MV_LIMIT {
                    continue;
                }
                let mc = mv_cost(mvq, mvp, lambda);
                if mc >= bcost {
                    continue;
                }
                planes.predict_n(q[0], q[1], n, pred);
                let cost = sad_n(src, pred, n).saturating_add(mc);
                if cost < bcost {
                    bcost = cost;
                    bq = q;
                }
            }
        }
    }
    planes.predict_n(bq[0], bq[1], n, pred);
    Motion {
        mv: [(base[0] + bq[0]) as i16, (base[1] + bq[1]) as i16],
        cost: bcost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_prediction_rules() {
        assert_eq!(median(1, 5, 3), 3);
        assert_eq!(median(-4, -9, 2), -4);
        // Only A has refIdx 0: its vector is the predictor.
        assert_eq!(
            mv_pred(Some((0, [4, 4])), Some((-1, [0, 0])), Some((-1, [0, 0]))),
            [4, 4]
        );
        // B and C unavailable: A everywhere.
        assert_eq!(mv_pred(Some((0, [7, -3])), None, None), [7, -3]);
        // Skip: a neighbour with zero vector forces zero.
        assert_eq!(
            skip_mv(Some((0, [0, 0])), Some((0, [8, 8])), Some((0, [8, 8]))),
            [0, 0]
        );
        assert_eq!(
            skip_mv(Some((0, [8, 4])), Some((0, [8, 8])), Some((0, [8, 8]))),
            [8, 8]
        );
    }

    #[test]
    fn integer_mc_is_a_copy() {
        let data: std::vec::Vec<u8> = (0..64 * 64).map(|i| (i * 7 % 251) as u8).collect();
        let plane = Plane {
            data: &data,
            stride: 64,
        };
        let r = RefPlane {
            plane: &plane,
            width: 64,
            height: 64,
        };
        let mut out = [0u8; 256];
        mc_luma(&r, 16, 16, [8, -4], &mut out);
        for j in 0..16 {
            for i in 0..16 {
                assert_eq!(out[j * 16 + i], data[(15 + j) * 64 + 18 + i]);
            }
        }
    }
}
