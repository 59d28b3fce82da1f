// SPDX-License-Identifier: GPL-2.0
//! Level limits (H.264 Table A-1) used to keep `level_idc` truthful for the frame size, DPB
//! size and frame rate we actually encode.

/// One row of Table A-1 (the limits we check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelLimits {
    /// level_idc (level 1b is listed as 9, its High-profile spelling).
    pub level_idc: u8,
    /// MaxMBPS: macroblocks per second.
    pub max_mbps: u32,
    /// MaxFS: frame size in macroblocks.
    pub max_fs: u32,
    /// MaxDpbMbs: DPB size in macroblocks.
    pub max_dpb_mbs: u32,
}

const fn l(level_idc: u8, max_mbps: u32, max_fs: u32, max_dpb_mbs: u32) -> LevelLimits {
    LevelLimits {
        level_idc,
        max_mbps,
        max_fs,
        max_dpb_mbs,
    }
}

/// Table A-1, in increasing order.
pub const LEVELS: [LevelLimits; 20] = [
    l(10, 1485, 99, 396),
    l(9, 1485, 99, 396), // 1b
    l(11, 3000, 396, 900),
    l(12, 6000, 396, 2376),
    l(13, 11880, 396, 2376),
    l(20, 11880, 396, 2376),
    l(21, 19800, 792, 4752),
    l(22, 20250, 1620, 8100),
    l(30, 40500, 1620, 8100),
    l(31, 108000, 3600, 18000),
    l(32, 216000, 5120, 20480),
    l(40, 245760, 8192, 32768),
    l(41, 245760, 8192, 32768),
    l(42, 522240, 8704, 34816),
    l(50, 589824, 22080, 110400),
    l(51, 983040, 36864, 184320),
    l(52, 2073600, 36864, 184320),
    l(60, 4177920, 139264, 696320),
    l(61, 8355840, 139264, 696320),
    l(62, 16711680, 139264, 696320),
];

/// Index in [`LEVELS`] of a level_idc, `None` for values that are not levels.
pub fn level_index(level_idc: u8) -> Option<usize> {
    LEVELS.iter().position(|x| x.level_idc == level_idc)
}

/// Whether a stream of `frame_mbs` macroblocks per frame, `ref_frames` reference frames and
/// `fps_num/fps_den` frames per second fits the level.
pub fn fits(
    lim: &LevelLimits,
    frame_mbs: u32,
    ref_frames: u32,
    fps_num: u32,
    fps_den: u32,
) -> bool {
    let dpb = frame_mbs as u64 * ref_frames as u64;
    // mbs · num/den ≤ MaxMBPS  ⇔  mbs · num ≤ MaxMBPS · den (u64 multiplies, no division).
    let rate_ok =
        fps_den == 0 || frame_mbs as u64 * fps_num as u64 <= lim.max_mbps as u64 * fps_den as u64;
    frame_mbs <= lim.max_fs && dpb <= lim.max_dpb_mbs as u64 && rate_ok
}

/// The smallest level at or above `requested` (a level_idc; unknown values count as the lowest
/// level) that fits, capped at `max_level_idc`; `None` if none does. Level 1b (9) is only
/// returned when it was requested.
pub fn choose_level(
    requested: u8,
    max_level_idc: u8,
    frame_mbs: u32,
    ref_frames: u32,
    fps_num: u32,
    fps_den: u32,
) -> Option<u8> {
    let start = level_index(requested).unwrap_or(0);
    let max = level_index(max_level_idc).unwrap_or(LEVELS.len() - 1);
    LEVELS
        .iter()
        .enumerate()
        .skip(start)
        .take_while(|(i, _)| *i <= max)
        .filter(|(i, x)| x.level_idc != 9 || *i == start)
        .find(|(_, x)| fits(x, frame_mbs, ref_frames, fps_num, fps_den))
        .map(|(_, x)| x.level_idc)
}
