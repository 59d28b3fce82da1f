// SPDX-License-Identifier: GPL-2.0
use super::*;

#[test]
fn fourccs_match_the_v4l2_header() {
    // Values of videodev2.h's v4l2_fourcc() for these codes.
    assert_eq!(NV12, 0x3231_564e);
    assert_eq!(H264_SLICE, 0x3436_3253);
    assert_eq!(H264, 0x3436_3248);
}

#[test]
fn sizes_round_up_to_macroblocks_and_clamp() {
    let f = raw_layout(NV12, 1920, 1080, 1920, 1088, 0);
    assert_eq!((f.width, f.height), (1920, 1088));
    assert_eq!(f.sizeimage[0], 1920 * 1088 * 3 / 2);
    let f = raw_layout(NV12, 0, 0, 1920, 1088, 0);
    assert_eq!((f.width, f.height), (16, 16));
    let f = raw_layout(NV12, u32::MAX, u32::MAX, 1920, 1088, 0);
    assert_eq!((f.width, f.height), (1920, 1088));
    let f = raw_layout(NV12, 17, 33, 1920, 1088, 0);
    assert_eq!((f.width, f.height), (32, 48));
}

#[test]
fn multiplanar_layouts() {
    let f = raw_layout(NV12M, 64, 32, 1920, 1088, 0);
    assert_eq!(f.num_planes, 2);
    assert_eq!(f.sizeimage, [2048, 1024, 0]);
    let f = raw_layout(YUV420M, 64, 32, 1920, 1088, 0);
    assert_eq!(f.num_planes, 3);
    assert_eq!(f.bytesperline, [64, 32, 32]);
    assert_eq!(f.sizeimage, [2048, 512, 512]);
    // An unknown fourcc falls back to NV12, as S_FMT must not fail on it.
    assert_eq!(raw_layout(0x1234, 64, 32, 1920, 1088, 0).fourcc, NV12);
}

#[test]
fn stride_honoured_only_when_sane() {
    assert_eq!(
        raw_layout(NV12, 64, 32, 1920, 1088, 100).bytesperline[0],
        112
    );
    assert_eq!(raw_layout(NV12, 64, 32, 1920, 1088, 10).bytesperline[0], 64);
    assert_eq!(
        raw_layout(NV12, 64, 32, 1920, 1088, 1 << 30).bytesperline[0],
        64
    );
}

#[test]
fn coded_size_bounds() {
    let min = coded_size(0, 640, 480);
    assert!(min >= 640 * 480 * 3 / 4);
    assert_eq!(coded_size(1, 640, 480), min);
    assert!(coded_size(64 << 20, 640, 480) < 2 << 20);
    assert_eq!(coded_size(min + 4, 640, 480), min + 4);
}

#[test]
fn crops_fit_the_picture() {
    let r = fit_crop(
        Rect {
            left: 0,
            top: 0,
            width: 1920,
            height: 1080,
        },
        1920,
        1088,
    );
    assert_eq!(
        r,
        Rect {
            left: 0,
            top: 0,
            width: 1920,
            height: 1080
        }
    );
    let r = fit_crop(
        Rect {
            left: 7,
            top: 9,
            width: 5000,
            height: 1,
        },
        64,
        64,
    );
    assert_eq!(
        r,
        Rect {
            left: 0,
            top: 8,
            width: 64,
            height: 16
        }
    );
    let r = fit_crop(
        Rect {
            left: 3,
            top: 3,
            width: 31,
            height: 17,
        },
        64,
        64,
    );
    assert_eq!(
        r,
        Rect {
            left: 2,
            top: 2,
            width: 32,
            height: 18
        }
    );
}
