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

/// One row of the window or of a half-sample plane (only the first [`N`] samples are used
/// in the half-sample planes; the common width lets one code path read any plane).
type Row = [u8; W];

/// The clamped reference window and the half-sample planes around a 16×16 block, covering
/// offsets −1..=17 in both directions from the block's integer origin (the window has two
/// more rows and columns on the top/left and three on the bottom/right for the 6-tap filter).
/// All quarter-sample positions with offsets −3..=3 (quarter units) from the origin are one
/// of these samples or the average of two (8.4.2.2.1).
pub struct SubpelPlanes {
    /// Full samples: window sample (x, y) is plane offset (x − 3, y − 3) from the origin.
    win: [Row; W],
    b: [Row; N],
    h: [Row; N],
    j: [Row; N],
}

/// Which plane a quarter-sample position reads (see [`SubpelPlanes::predict`]).
#[derive(Clone, Copy)]
enum Pl {
    F,
    B,
    H,
    J,
}

/// A plane and the (dx, dy) offset of the sample it contributes, relative to G.
type Tap = (Pl, usize, usize);

/// The 6-tap filter on u8 samples in 16-bit arithmetic (−2550 ≤ result ≤ 10710).
#[inline(always)]
fn tap6s(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8) -> i16 {
    let w = |v: u8| v as i16;
    w(a) + w(f) - 5 * (w(b) + w(e)) + 20 * (w(c) + w(d))
}

/// The centre sample j from six vertically adjacent horizontal intermediates b1 (8.4.2.2.1,
/// clip((Σ + 512) >> 10) with Σ = A − 5·B + 20·C), exactly, in 16-bit arithmetic: with
/// −2550 ≤ b1 ≤ 10710 no step leaves i16, and nested floor divisions by positive integers
/// compose (⌊⌊x/a⌋/b⌋ = ⌊x/ab⌋), so ⌊(⌊(A−B)/4⌋ + C − B)/4⌋ + C = ⌊Σ/16⌋. The middle sum
/// could reach ±33150, so it is halved as ⌊(p+q)/2⌋ = (p>>1) + (q>>1) + (p&q&1) first.
#[inline(always)]
fn tap6j(q0: i16, q1: i16, q2: i16, q3: i16, q4: i16, q5: i16) -> u8 {
    let a = q0 + q5;
    let b = q1 + q4;
    let c = q2 + q3;
    let t1 = (a - b) >> 2;
    let d = c - b;
    let half = (t1 >> 1) + (d >> 1) + (t1 & d & 1);
    let t3 = (half >> 1) + c;
    clip16((t3 + 32) >> 6)
}

#[inline(always)]
fn clip16(v: i16) -> u8 {
    v.clamp(0, 255) as u8
}

/// Rounded average of two samples, (x + y + 1) >> 1, in 8-bit operations only (so that a
/// SAD of averages still compiles to PSADBW instead of being widened to 16 bits).
#[inline(always)]
fn avg(x: u8, y: u8) -> u8 {
    (x | y) - ((x ^ y) >> 1)
}

/// A fixed-size view of `L` samples of `row` from `off` (None when out of range).
#[inline(always)]
fn row_at<const L: usize>(row: &[u8], off: usize) -> Option<&[u8; L]> {
    row.get(off..off + L)?.try_into().ok()
}

/// SAD of two rows (written so that LLVM turns it into PSADBW/USADA8-style code).
#[inline(always)]
fn sad_row<const L: usize>(a: &[u8; L], b: &[u8; L]) -> u32 {
    let mut s = 0u32;
    for (x, y) in a.iter().zip(b.iter()) {
        s += x.abs_diff(*y) as u32;
    }
    s
}

/// Reads `L` samples of picture row `y` from column `x` into `out`, clamping coordinates to
/// the `width`×`height` picture (8.4.2.2): the part inside is copied, the rest repeats the
/// edge samples.
#[inline(always)]
fn clamped_row<const L: usize>(r: &RefPlane, x: i32, y: i32, out: &mut [u8; L]) {
    let (w, h) = (r.width as i32, r.height as i32);
    let yy = y.min(h - 1).max(0) as usize;
    let prow = yy
        .checked_mul(r.plane.stride)
        .and_then(|o| r.plane.data.get(o..o.checked_add(r.width)?));
    let Some(prow) = prow else {
        *out = [0; L];
        return;
    };
    if x >= 0 && x + L as i32 <= w {
        if let Some(src) = row_at::<L>(prow, x as usize) {
            *out = *src;
            return;
        }
    }
    let first = prow.first().copied().unwrap_or(0);
    let last = prow.last().copied().unwrap_or(0);
    // Samples left of the picture, inside it, and right of it.
    let left = (-x).min(L as i32).max(0) as usize;
    let mid = ((x + L as i32).min(w) - x.max(0))
        .min(L as i32 - left as i32)
        .max(0) as usize;
    let start = x.max(0) as usize;
    if let Some(l) = out.get_mut(..left) {
        l.fill(first);
    }
    if let (Some(m), Some(src)) = (out.get_mut(left..left + mid), prow.get(start..start + mid)) {
        m.copy_from_slice(src);
    }
    if let Some(rgt) = out.get_mut(left + mid..) {
        rgt.fill(last);
    }
}

/// Six-tap filter down the window columns `OFF`..`OFF + 16` of six rows.
#[inline(always)]
fn vtap16<const OFF: usize>(r: [&Row; 6]) -> [i16; 16] {
    let mut o = [0i16; 16];
    for k in 0..16 {
        let i = OFF + k;
        o[k] = tap6s(r[0][i], r[1][i], r[2][i], r[3][i], r[4][i], r[5][i]);
    }
    o
}

/// Six-tap filter along a window row for outputs `OFF`..`OFF + 16` (output x uses window
/// samples x..x+6).
#[inline(always)]
fn htap16<const OFF: usize>(row: &Row) -> [i16; 16] {
    let mut o = [0i16; 16];
    for k in 0..16 {
        let i = OFF + k;
        o[k] = tap6s(
            row[i],
            row[i + 1],
            row[i + 2],
            row[i + 3],
            row[i + 4],
            row[i + 5],
        );
    }
    o
}

/// Stores 16 rounded half-sample values ((v + 16) >> 5, clipped) at `OFF`.
#[inline(always)]
fn store_half<const OFF: usize>(o: &mut Row, v: &[i16; 16]) {
    for k in 0..16 {
        o[OFF + k] = clip16((v[k] + 16) >> 5);
    }
}

/// Six-tap filter down six rows of horizontal intermediates for the j samples `OFF`..
/// `OFF + 16`, stored into `o`.
#[inline(always)]
fn jtap16<const OFF: usize>(q: [&[i16; N]; 6], o: &mut Row) {
    for k in 0..16 {
        let i = OFF + k;
        o[i] = tap6j(q[0][i], q[1][i], q[2][i], q[3][i], q[4][i], q[5][i]);
    }
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
            win: [[0; W]; W],
            b: [[0; W]; N],
            h: [[0; W]; N],
            j: [[0; W]; N],
        }
    }

    /// Builds all planes for the block whose integer origin is (x0, y0) in the reference (may
    /// lie outside the picture: samples are clamped to the edges like the decoder does).
    pub fn build(r: &RefPlane, x0: i32, y0: i32) -> Self {
        let mut p = Self::new();
        p.fill(r, x0, y0, true, true, true);
        p
    }

    /// Fills the full-sample window and the half-sample planes asked for (the others keep
    /// their old content): motion compensation at one position needs at most two of them. In
    /// place and with a 6-row ring of intermediates, because this runs in kernel context on
    /// 32-bit ARM with an 8 KiB stack. Each row of 19 outputs is computed as two overlapping
    /// runs of 16 (0..16 and 3..19) with constant bounds, so that everything vectorises in
    /// 16-bit lanes without bounds checks or scalar tails.
    pub fn fill(
        &mut self,
        r: &RefPlane,
        x0: i32,
        y0: i32,
        want_b: bool,
        want_h: bool,
        want_j: bool,
    ) {
        self.fill_n::<16>(r, x0, y0, want_b, want_h, want_j)
    }

    /// Like [`SubpelPlanes::fill`] for an `NB`×`NB` block (NB ≤ 16): only the top-left
    /// (NB + 3)×(NB + 3) plane samples are computed (all that positions −3..=3 of such a block
    /// read), with one run of 16 columns when that is enough.
    #[inline(never)]
    pub fn fill_n<const NB: usize>(
        &mut self,
        r: &RefPlane,
        x0: i32,
        y0: i32,
        want_b: bool,
        want_h: bool,
        want_j: bool,
    ) {
        let np = (NB + 3).min(N);
        let wide = np > 16;
        for (wy, row) in self.win.iter_mut().enumerate().take(np + 5) {
            clamped_row(r, x0 - 3, y0 - 3 + wy as i32, row);
        }
        let win = &self.win;
        if want_h {
            // Plane row y (offset y − 1) is window rows y..y+6, columns x + 2.
            for (y, o) in self.h.iter_mut().enumerate().take(np) {
                let rows = [
                    &win[y],
                    &win[y + 1],
                    &win[y + 2],
                    &win[y + 3],
                    &win[y + 4],
                    &win[y + 5],
                ];
                store_half::<0>(o, &vtap16::<2>(rows));
                if wide {
                    store_half::<3>(o, &vtap16::<5>(rows));
                }
            }
        }
        if want_b || want_j {
            // Horizontal intermediates b1 of window rows, at offsets x−1; window row r is
            // plane row r−2 for b and feeds plane row r−5 of j.
            let mut ring = [[0i16; N]; 6];
            let rows = if want_j { 0..np + 5 } else { 2..np + 2 };
            for r in rows {
                let Some(row) = win.get(r) else {
                    break;
                };
                let lo = htap16::<0>(row);
                let hi = if wide { htap16::<3>(row) } else { [0; 16] };
                if want_b {
                    if let Some(o) = self.b.get_mut(r.wrapping_sub(2)) {
                        store_half::<0>(o, &lo);
                        if wide {
                            store_half::<3>(o, &hi);
                        }
                    }
                }
                if let Some(t) = ring.get_mut(r % 6) {
                    t[..16].copy_from_slice(&lo);
                    if wide {
                        t[3..].copy_from_slice(&hi);
                    }
                }
                if want_j && r >= 5 {
                    if let Some(o) = self.j.get_mut(r - 5) {
                        // Rows r−5..=r of the window are in slots (r+1..=r+6) % 6.
                        let q = |k: usize| &ring[(r + 1 + k) % 6];
                        let q = [q(0), q(1), q(2), q(3), q(4), q(5)];
                        jtap16::<0>(q, o);
                        if wide {
                            jtap16::<3>(q, o);
                        }
                    }
                }
            }
        }
    }

    /// The plane samples a quarter-sample position reads: one (plane, dx, dy) relative to
    /// the integer sample G, or two whose rounded average it is (8.4.2.2.1).
    fn taps(fx: i32, fy: i32) -> (Tap, Option<Tap>) {
        use Pl::*;
        match (fx & 3, fy & 3) {
            (0, 0) => ((F, 0, 0), None),
            (0, 1) => ((F, 0, 0), Some((H, 0, 0))),
            (0, 2) => ((H, 0, 0), None),
            (0, 3) => ((F, 0, 1), Some((H, 0, 0))),
            (1, 0) => ((F, 0, 0), Some((B, 0, 0))),
            (2, 0) => ((B, 0, 0), None),
            (3, 0) => ((F, 1, 0), Some((B, 0, 0))),
            (1, 1) => ((B, 0, 0), Some((H, 0, 0))),
            (3, 1) => ((B, 0, 0), Some((H, 1, 0))),
            (1, 3) => ((H, 0, 0), Some((B, 0, 1))),
            (3, 3) => ((H, 1, 0), Some((B, 0, 1))),
            (2, 1) => ((B, 0, 0), Some((J, 0, 0))),
            (2, 3) => ((J, 0, 0), Some((B, 0, 1))),
            (1, 2) => ((H, 0, 0), Some((J, 0, 0))),
            (3, 2) => ((J, 0, 0), Some((H, 1, 0))),
            _ => ((J, 0, 0), None),
        }
    }

    /// The rows of a plane from plane row `y`, and the column of plane column 0 (plane
    /// coordinates are offsets + 1 from the origin).
    #[inline(always)]
    fn plane(&self, pl: Pl, y: usize) -> (&[Row], usize) {
        let (rows, x0): (&[Row], usize) = match pl {
            Pl::F => (self.win.get(2..).unwrap_or(&[]), 2),
            Pl::B => (&self.b, 0),
            Pl::H => (&self.h, 0),
            Pl::J => (&self.j, 0),
        };
        (rows.get(y..).unwrap_or(&[]), x0)
    }

    /// Visits the `NB`×`NB` prediction displaced by (qx, qy) quarter samples (clamped to
    /// −3..=3) row by row.
    #[inline(always)]
    fn rows<const NB: usize>(&self, qx: i32, qy: i32, mut f: impl FnMut(usize, &[u8; NB])) {
        let qx = qx.clamp(-3, 3);
        let qy = qy.clamp(-3, 3);
        // Plane index of the integer sample G for output (0,0).
        let ox = (1 + (qx >> 2)) as usize;
        let oy = (1 + (qy >> 2)) as usize;
        let (a, b) = Self::taps(qx, qy);
        let (pa, xa) = self.plane(a.0, oy + a.2);
        let xa = xa + ox + a.1;
        match b {
            None => {
                for (j, ra) in pa.iter().take(NB).enumerate() {
                    if let Some(ra) = row_at::<NB>(ra, xa) {
                        f(j, ra);
                    }
                }
            }
            Some((pb, dx, dy)) => {
                let (pb, xb) = self.plane(pb, oy + dy);
                let xb = xb + ox + dx;
                for (j, (ra, rb)) in pa.iter().zip(pb.iter()).take(NB).enumerate() {
                    if let (Some(ra), Some(rb)) = (row_at::<NB>(ra, xa), row_at::<NB>(rb, xb)) {
                        let mut o = [0u8; NB];
                        for ((o, &x), &y) in o.iter_mut().zip(ra.iter()).zip(rb.iter()) {
                            *o = avg(x, y);
                        }
                        f(j, &o)
                    }
                }
            }
        }
    }

    /// Predicts the 16×16 block displaced by (qx, qy) quarter samples from the origin, with
    /// qx, qy in −3..=3 (values outside are clamped into that range).
    pub fn predict(&self, qx: i32, qy: i32, out: &mut [u8; 256]) {
        self.predict_n::<16>(qx, qy, out)
    }

    /// Like [`SubpelPlanes::predict`] for the top-left `NB`×`NB` (NB ≤ 16) samples only.
    pub fn predict_n<const NB: usize>(&self, qx: i32, qy: i32, out: &mut [u8; 256]) {
        self.rows::<NB>(qx, qy, |j, r| {
            if let Some(o) = out.get_mut(j * 16..j * 16 + NB) {
                o.copy_from_slice(r);
            }
        });
    }

    /// SAD of the top-left `NB`×`NB` samples of `src` (16 wide) against the prediction at
    /// (qx, qy), without storing it. Not inlined: inlined into the fully unrolled refinement
    /// loop, every copy kept its own row buffer on the stack.
    #[inline(never)]
    pub fn sad<const NB: usize>(&self, qx: i32, qy: i32, src: &[u8; 256]) -> u32 {
        let mut s = 0u32;
        let mut rows = src.chunks_exact(16);
        self.rows::<NB>(qx, qy, |_, r| {
            if let Some(a) = rows.next().and_then(|a| row_at::<NB>(a, 0)) {
                s += sad_row(a, r);
            }
        });
        s
    }
}

/// Copies the 16×16 block at integer position (x, y), clamping coordinates to the picture.
pub fn fetch16(r: &RefPlane, x: i32, y: i32, out: &mut [u8; 256]) {
    for (j, orow) in out.chunks_exact_mut(16).enumerate() {
        if let Ok(orow) = <&mut [u8; 16]>::try_from(orow) {
            clamped_row(r, x, y + j as i32, orow);
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
    let (x0, y0) = (bx + (mx >> 2), by + (my >> 2));
    let mut win = [[0u8; W]; W];
    for (wy, row) in win.iter_mut().enumerate() {
        clamped_row(r, x0 - 3, y0 - 3 + wy as i32, row);
    }
    let (a, b) = SubpelPlanes::taps(mx, my);
    // Horizontal intermediates of window rows 1..22 at the block's columns, for j only.
    let mut hrows = [[0i16; 16]; 22];
    if matches!(a.0, Pl::J) || matches!(b, Some((Pl::J, _, _))) {
        for (h, row) in hrows.iter_mut().zip(win.iter().skip(1)) {
            *h = htap16::<1>(row);
        }
    }
    for (y, orow) in out.chunks_exact_mut(16).enumerate() {
        let ra = mc_row(&win, &hrows, a, y);
        match b {
            None => orow.copy_from_slice(&ra),
            Some(t) => {
                let rb = mc_row(&win, &hrows, t, y);
                for ((o, &x), &y) in orow.iter_mut().zip(ra.iter()).zip(rb.iter()) {
                    *o = avg(x, y);
                }
            }
        }
    }
}

/// Row `y` of the 16×16 block of one plane sample of [`SubpelPlanes::taps`] for a block
/// whose integer sample G is window sample (3, 3), computed straight from the window
/// (`hrows`: horizontal intermediates of window rows 1.., needed for j only).
#[inline(always)]
fn mc_row(win: &[Row; W], hrows: &[[i16; 16]; 22], t: Tap, y: usize) -> [u8; 16] {
    let (pl, dx, dy) = t;
    let y = (y + dy).min(16);
    let half = |v: [i16; 16]| v.map(|v| clip16((v + 16) >> 5));
    let six = |r: usize| {
        [
            &win[r],
            &win[r + 1],
            &win[r + 2],
            &win[r + 3],
            &win[r + 4],
            &win[r + 5],
        ]
    };
    match (pl, dx) {
        (Pl::F, 0) => row_at::<16>(&win[3 + y], 3).copied().unwrap_or([0; 16]),
        (Pl::F, _) => row_at::<16>(&win[3 + y], 4).copied().unwrap_or([0; 16]),
        (Pl::B, _) => half(htap16::<1>(&win[3 + y])),
        (Pl::H, 0) => half(vtap16::<3>(six(1 + y))),
        (Pl::H, _) => half(vtap16::<4>(six(1 + y))),
        (Pl::J, _) => {
            let q = [
                &hrows[y],
                &hrows[y + 1],
                &hrows[y + 2],
                &hrows[y + 3],
                &hrows[y + 4],
                &hrows[y + 5],
            ];
            core::array::from_fn(|i| tap6j(q[0][i], q[1][i], q[2][i], q[3][i], q[4][i], q[5][i]))
        }
    }
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
    // 9×9 clamped window of CbCr pairs as 16-bit words (Cb in the low byte): each component
    // is a mask or shift away, and the filter (≤ 64·255) runs in 16-bit lanes.
    let mut win = [[0u16; 9]; 9];
    let inside = xi >= 0 && yi >= 0 && xi + 9 <= wmax + 1 && yi + 9 <= hmax + 1;
    for (y, w) in win.iter_mut().enumerate() {
        let yy = (yi + y as i32).min(hmax).max(0) as usize * stride;
        if inside {
            if let Some(row) = row_at::<18>(data, yy + xi as usize * 2) {
                for (w, pair) in w.iter_mut().zip(row.chunks_exact(2)) {
                    *w = u16::from_le_bytes([pair[0], pair[1]]);
                }
                continue;
            }
        }
        for (x, w) in w.iter_mut().enumerate() {
            let xx = (xi + x as i32).min(wmax).max(0) as usize * 2;
            let cb = data.get(yy + xx).copied().unwrap_or(0);
            let cr = data.get(yy + xx + 1).copied().unwrap_or(0);
            *w = u16::from_le_bytes([cb, cr]);
        }
    }
    let (c00, c10, c01, c11) = ((8 - fx) * (8 - fy), fx * (8 - fy), (8 - fx) * fy, fx * fy);
    let (c00, c10, c01, c11) = (c00 as u16, c10 as u16, c01 as u16, c11 as u16);
    let rows = u.chunks_exact_mut(8).zip(v.chunks_exact_mut(8));
    for (y, (uo, vo)) in rows.enumerate().take(8) {
        let (r0, r1) = (&win[y], &win[y + 1]);
        for x in 0..8 {
            let f = |a: u16, b: u16, c: u16, d: u16| {
                ((c00 * a + c10 * b + c01 * c + c11 * d + 32) >> 6) as u8
            };
            let lo = |w: u16| w & 0xff;
            let hi = |w: u16| w >> 8;
            uo[x] = f(lo(r0[x]), lo(r0[x + 1]), lo(r1[x]), lo(r1[x + 1]));
            vo[x] = f(hi(r0[x]), hi(r0[x + 1]), hi(r1[x]), hi(r1[x + 1]));
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
    sad_row(a, b)
}

/// SAD of the top-left `NB`×`NB` samples of two 16-wide blocks.
pub fn sad_n<const NB: usize>(a: &[u8; 256], b: &[u8; 256]) -> u32 {
    if NB >= 16 {
        return sad16(a, b);
    }
    let mut s = 0u32;
    for (ra, rb) in a.chunks_exact(16).zip(b.chunks_exact(16)).take(NB) {
        if let (Some(ra), Some(rb)) = (row_at::<NB>(ra, 0), row_at::<NB>(rb, 0)) {
            s += sad_row(ra, rb);
        }
    }
    s
}

/// SAD of the source block (top-left `n`×`n` of a 16-wide buffer) against the reference at
/// integer position (x, y), stopping early once `limit` is exceeded (the result is then
/// above `limit` but not exact). Not inlined: its fallback block buffer would otherwise sit
/// in the search's frame once per inlined copy.
#[inline(never)]
fn sad_int<const NB: usize>(src: &[u8; 256], r: &RefPlane, x: i32, y: i32, limit: u32) -> u32 {
    let ni = NB as i32;
    let inside = x >= 0 && y >= 0 && x + ni <= r.width as i32 && y + ni <= r.height as i32;
    let data = r.plane.data;
    let stride = r.plane.stride;
    let mut s = 0u32;
    if inside {
        let mut base = y as usize * stride + x as usize;
        for a in src.chunks_exact(16).take(NB) {
            let (Some(a), Some(b)) = (row_at::<NB>(a, 0), row_at::<NB>(data, base)) else {
                return u32::MAX;
            };
            s += sad_row(a, b);
            if s > limit {
                return s;
            }
            base += stride;
        }
        s
    } else {
        let mut blk = [0u8; 256];
        fetch16(r, x, y, &mut blk);
        sad_n::<NB>(src, &blk)
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
/// Not inlined, so that its planes do not add to the stack frame of the macroblock code
/// (which also holds the intra search's buffers).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
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
    let clamp_mv = |v: i32| v.clamp(-MV_LIMIT, MV_LIMIT);
    // Integer stage, in full samples.
    let mut best = [0i32; 2];
    let mut best_cost = u32::MAX;
    // Positions already tried (the diamonds overlap, candidates repeat): trying one again
    // cannot beat the best cost, which only decreases, so skipping it changes nothing.
    let mut seen = [[i32::MIN; 2]; 16];
    let mut nseen = 0usize;
    let mut try_int = |v: [i32; 2], best: &mut [i32; 2], best_cost: &mut u32| {
        let q = [clamp_mv(v[0] * 4), clamp_mv(v[1] * 4)];
        let v = [q[0] >> 2, q[1] >> 2];
        if seen.contains(&v) {
            return;
        }
        if let Some(slot) = seen.get_mut(nseen & 15) {
            *slot = v;
        }
        nseen = nseen.wrapping_add(1);
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
    refine::<NB>(src, r, bx, by, best, best_cost, mvp, lambda, pred)
}

/// Half- then quarter-sample refinement around the best integer vector `best` (cost
/// `best_cost`); leaves the prediction in `pred`. Its own (not inlined) function, so that
/// the planes are on the stack only while it runs.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn refine<const NB: usize>(
    src: &[u8; 256],
    r: &RefPlane,
    bx: i32,
    by: i32,
    best: [i32; 2],
    best_cost: u32,
    mvp: [i16; 2],
    lambda: u32,
    pred: &mut [u8; 256],
) -> Motion {
    let mut planes = SubpelPlanes::new();
    planes.fill_n::<NB>(r, bx + best[0], by + best[1], true, true, true);
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
                let cost = planes.sad::<NB>(q[0], q[1], src).saturating_add(mc);
                if cost < bcost {
                    bcost = cost;
                    bq = q;
                }
            }
        }
    }
    planes.predict_n::<NB>(bq[0], bq[1], pred);
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

    /// The planes (vectorised, 16-bit j) equal the 6-tap formulas of 8.4.2.2.1 evaluated
    /// directly, with edge clamping, on noise and on worst-case 0/255 patterns.
    #[test]
    fn subpel_planes_match_the_formulas() {
        let mut rng = crate::h264::testutil::Rng::new(11);
        let (w, h) = (40usize, 36usize);
        for round in 0..60 {
            let data: std::vec::Vec<u8> = (0..w * h)
                .map(|_| match round % 3 {
                    0 => rng.range(0, 255) as u8,
                    _ => {
                        if rng.bool() {
                            255
                        } else {
                            0
                        }
                    }
                })
                .collect();
            let plane = Plane {
                data: &data,
                stride: w,
            };
            let r = RefPlane {
                plane: &plane,
                width: w,
                height: h,
            };
            let x0 = rng.range(-24, w as i64 + 8) as i32;
            let y0 = rng.range(-24, h as i64 + 8) as i32;
            let p = SubpelPlanes::build(&r, x0, y0);
            let at = |x: i32, y: i32| {
                let (x, y) = (x.clamp(0, w as i32 - 1), y.clamp(0, h as i32 - 1));
                data[y as usize * w + x as usize] as i32
            };
            let t6 = |v: [i32; 6]| v[0] - 5 * v[1] + 20 * v[2] + 20 * v[3] - 5 * v[4] + v[5];
            let b1 = |x: i32, y: i32| t6(core::array::from_fn(|k| at(x - 2 + k as i32, y)));
            let h1 = |x: i32, y: i32| t6(core::array::from_fn(|k| at(x, y - 2 + k as i32)));
            let clip = |v: i32| v.clamp(0, 255) as u8;
            for py in 0..N {
                for px in 0..N {
                    let (x, y) = (x0 + px as i32 - 1, y0 + py as i32 - 1);
                    assert_eq!(p.win[py + 2][px + 2], at(x, y) as u8);
                    assert_eq!(p.b[py][px], clip((b1(x, y) + 16) >> 5), "b {px} {py}");
                    assert_eq!(p.h[py][px], clip((h1(x, y) + 16) >> 5), "h {px} {py}");
                    let j1 = t6(core::array::from_fn(|k| b1(x, y - 2 + k as i32)));
                    assert_eq!(p.j[py][px], clip((j1 + 512) >> 10), "j {px} {py}");
                }
            }
        }
    }

    /// The 16-bit j filter equals the 32-bit formula at the extremes of the b1 range.
    #[test]
    fn tap6j_is_exact() {
        const V: [i16; 9] = [-2550, -2549, -1000, -1, 0, 1, 5000, 10709, 10710];
        for i in 0..V.len().pow(6) {
            let q: [i16; 6] = core::array::from_fn(|k| V[i / V.len().pow(k as u32) % V.len()]);
            let w = |k: usize| q[k] as i32;
            let t = w(0) - 5 * w(1) + 20 * w(2) + 20 * w(3) - 5 * w(4) + w(5);
            let want = ((t + 512) >> 10).clamp(0, 255) as u8;
            assert_eq!(tap6j(q[0], q[1], q[2], q[3], q[4], q[5]), want, "{q:?}");
        }
    }

    /// The direct 16×16 motion compensation equals the prediction from the full planes at
    /// every quarter-sample position, inside and across the picture edges.
    #[test]
    fn mc_luma_matches_planes() {
        let mut rng = crate::h264::testutil::Rng::new(3);
        let (w, h) = (48usize, 40usize);
        let data: std::vec::Vec<u8> = (0..w * h).map(|_| rng.range(0, 255) as u8).collect();
        let plane = Plane {
            data: &data,
            stride: w,
        };
        let r = RefPlane {
            plane: &plane,
            width: w,
            height: h,
        };
        for _ in 0..200 {
            let bx = rng.range(-20, w as i64 + 4) as i32;
            let by = rng.range(-20, h as i64 + 4) as i32;
            let mv = [rng.range(-40, 40) as i16, rng.range(-40, 40) as i16];
            let mut a = [0u8; 256];
            mc_luma(&r, bx, by, mv, &mut a);
            let p = SubpelPlanes::build(&r, bx + (mv[0] as i32 >> 2), by + (mv[1] as i32 >> 2));
            let mut b = [0u8; 256];
            p.predict(mv[0] as i32 & 3, mv[1] as i32 & 3, &mut b);
            assert_eq!(a, b, "{bx} {by} {mv:?}");
        }
    }

    /// The 8×8 fill gives the same predictions as the full planes at every position.
    #[test]
    fn fill_8_matches_full_planes() {
        let mut rng = crate::h264::testutil::Rng::new(4);
        let (w, h) = (40usize, 36usize);
        let data: std::vec::Vec<u8> = (0..w * h).map(|_| rng.range(0, 255) as u8).collect();
        let plane = Plane {
            data: &data,
            stride: w,
        };
        let r = RefPlane {
            plane: &plane,
            width: w,
            height: h,
        };
        for _ in 0..50 {
            let x0 = rng.range(-12, w as i64 + 4) as i32;
            let y0 = rng.range(-12, h as i64 + 4) as i32;
            let full = SubpelPlanes::build(&r, x0, y0);
            let mut p8 = SubpelPlanes::new();
            p8.fill_n::<8>(&r, x0, y0, true, true, true);
            for qy in -3..=3 {
                for qx in -3..=3 {
                    let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
                    full.predict_n::<8>(qx, qy, &mut a);
                    p8.predict_n::<8>(qx, qy, &mut b);
                    assert_eq!(a, b, "{x0} {y0} {qx} {qy}");
                }
            }
        }
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
