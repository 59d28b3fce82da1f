/* SPDX-License-Identifier: ((GPL-2.0+ WITH Linux-syscall-note) OR BSD-3-Clause) */
/*
 * Proposed V4L2 stateless H.264 encode uAPI, as implemented by slenc.
 *
 * This is the layout of Paul Kocialkowski's May-2026 series
 * ("media: Add V4L2 H.264 stateless encode and VC8000E support", patch 02/14),
 * which GStreamer's v4l2slh264enc checks byte for byte (element size 44).
 * It is not in mainline yet and may change: keep it in sync with
 * rust/h264/uapi.rs (the Rust side asserts the same sizes and offsets, and a
 * host test compiles this header to compare them).
 *
 * The SPS and PPS controls (V4L2_CID_STATELESS_H264_SPS/PPS, 1048 and 12
 * bytes), V4L2_CID_STATELESS_H264_START_CODE and the stateful rate-control
 * controls are the mainline ones from <linux/v4l2-controls.h>.
 */
#ifndef _UAPI_SLENC_H264_ENC_H
#define _UAPI_SLENC_H264_ENC_H

#include <linux/types.h>
#include <linux/v4l2-controls.h>

/* A kernel whose headers carry the series defines all of this itself. */
#ifndef V4L2_CID_STATELESS_H264_ENCODE_PARAMS

#define V4L2_CID_STATELESS_H264_ENCODE_PARAMS	(V4L2_CID_CODEC_STATELESS_BASE + 8)

/* enum v4l2_ctrl_type value of the control above (videodev2.h in the series). */
#define V4L2_CTRL_TYPE_H264_ENCODE_PARAMS	0x0206

/* Added to the decoder's slice flags by the same patch. */
#define V4L2_H264_SLICE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE	0x04

#define V4L2_H264_ENCODE_FLAG_IDR_PIC				0x01
#define V4L2_H264_ENCODE_FLAG_FIELD_PIC				0x02
#define V4L2_H264_ENCODE_FLAG_BOTTOM_FIELD			0x04
#define V4L2_H264_ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED		0x08
#define V4L2_H264_ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE	0x10
#define V4L2_H264_ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS		0x20
#define V4L2_H264_ENCODE_FLAG_LONG_TERM_REFERENCE		0x40

/**
 * struct v4l2_ctrl_h264_encode_params - per-frame H.264 encode parameters
 *
 * Mirrors the slice header syntax. slice_type uses V4L2_H264_SLICE_TYPE_*.
 * References are not passed: the driver applies the sliding-window marking
 * process. The driver overwrites slice_qp_delta from its rate control.
 *
 * @nal_ref_idc: see H264 specification.
 * @slice_type: V4L2_H264_SLICE_TYPE_{P,B,I,SP,SI}.
 * @pic_parameter_set_id: see H264 specification.
 * @colour_plane_id: see H264 specification.
 * @frame_num: see H264 specification.
 * @idr_pic_id: see H264 specification.
 * @pic_order_cnt_lsb: see H264 specification.
 * @reserved0: must be zero.
 * @delta_pic_order_cnt_bottom: see H264 specification.
 * @delta_pic_order_cnt0: see H264 specification.
 * @delta_pic_order_cnt1: see H264 specification.
 * @num_ref_idx_l0_active_minus1: see H264 specification.
 * @num_ref_idx_l1_active_minus1: see H264 specification.
 * @cabac_init_idc: see H264 specification.
 * @slice_qp_delta: see H264 specification.
 * @disable_deblocking_filter_idc: see H264 specification.
 * @slice_alpha_c0_offset_div2: see H264 specification.
 * @slice_beta_offset_div2: see H264 specification.
 * @reserved1: must be zero.
 * @flags: see V4L2_H264_ENCODE_FLAG_{}.
 */
struct v4l2_ctrl_h264_encode_params {
	__u8 nal_ref_idc;
	__u8 slice_type;
	__u8 pic_parameter_set_id;
	__u8 colour_plane_id;
	__u16 frame_num;
	__u16 idr_pic_id;
	__u16 pic_order_cnt_lsb;
	__u8 reserved0[2];
	__s32 delta_pic_order_cnt_bottom;
	__s32 delta_pic_order_cnt0;
	__s32 delta_pic_order_cnt1;
	__u8 num_ref_idx_l0_active_minus1;
	__u8 num_ref_idx_l1_active_minus1;
	__u8 cabac_init_idc;
	__s8 slice_qp_delta;
	__u8 disable_deblocking_filter_idc;
	__s8 slice_alpha_c0_offset_div2;
	__s8 slice_beta_offset_div2;
	__u8 reserved1[6];
	/* 3 bytes of implicit padding here, as in the series. */
	__u32 flags;
};

#endif /* V4L2_CID_STATELESS_H264_ENCODE_PARAMS */

#endif /* _UAPI_SLENC_H264_ENC_H */
