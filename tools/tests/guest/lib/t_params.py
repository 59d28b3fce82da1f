# SPDX-License-Identifier: GPL-2.0
"""ENCODE_PARAMS validation and encode-time refusals on the stateless node.

1. Every ENCODE_PARAMS field the uAPI bounds, set just out of range, is refused with EINVAL by
   S_EXT_CTRLS, TRY_EXT_CTRLS and S_EXT_CTRLS into a request, and the current value stays
   what it was; the boundary value is accepted; the fields the uAPI normalises come back
   normalised.
2. A first frame that is not an IDR comes back with V4L2_BUF_FLAG_ERROR on both buffers, its
   request completed; so does a B slice later on; the frames around them encode, and the
   stream of the good frames decodes (checked by the shell script with ffmpeg).
"""

import errno
import sys

sys.path.insert(0, "tools/tests/guest/lib")
from v4l2 import *  # noqa: E402,F403

EP = CID_STATELESS_H264_ENCODE_PARAMS
out_file = sys.argv[1]

# A valid P frame to start from (P exercises the most fields: num_ref_idx_l0 stays).
base = dict(nal_ref_idc=2, slice_type=SLICE_TYPE_P, frame_num=1, pic_order_cnt_lsb=2)

# (field, refused value, accepted boundary value) — research/uapi.md §2.5 "Validation".
cases = [
    ("nal_ref_idc", 4, 3),
    ("slice_type", 5, SLICE_TYPE_SI),
    ("slice_type", 255, SLICE_TYPE_I),
    ("colour_plane_id", 3, 2),
    ("cabac_init_idc", 3, 2),
    ("disable_deblocking_filter_idc", 3, 2),
    ("slice_alpha_c0_offset_div2", 7, 6),
    ("slice_alpha_c0_offset_div2", -7, -6),
    ("slice_beta_offset_div2", 7, 6),
    ("slice_beta_offset_div2", -7, -6),
    ("slice_beta_offset_div2", -128, 0),
    ("num_ref_idx_l0_active_minus1", 32, 31),
    ("num_ref_idx_l0_active_minus1", 255, 0),
    ("num_ref_idx_l1_active_minus1", 32, 31),
]


media_fd = os.open(media_node(), os.O_RDWR)
with Device(stateless_node()) as dev:
    anchor = ep_pack(**base)
    dev.s_ctrl(EP, anchor)
    for field, bad, good in cases:
        v = ep_pack(**dict(base, **{field: bad}))
        for name, fn in [("S_EXT_CTRLS", lambda: dev.s_ctrls([(EP, v)])),
                         ("TRY_EXT_CTRLS", lambda: dev.try_ctrls([(EP, v)]))]:
            try:
                expect_errno(errno.EINVAL, fn)
            except AssertionError as e:
                check(f"{name} {field}={bad}: {e}", False)
        req = Request(media_fd)
        try:
            expect_errno(errno.EINVAL, dev.s_ctrls, [(EP, v)], request=req)
        except AssertionError as e:
            check(f"S_EXT_CTRLS(request) {field}={bad}: {e}", False)
        req.close()
        check(f"{field}={bad} left the value unchanged", dev.g_ctrl(EP, EP_SIZE) == anchor)
        ok = ep_pack(**dict(base, **{field: good}))
        try:
            got = ep_unpack(dev.s_ctrl(EP, ok))
            check(f"{field}={good} accepted as {got[field]}",
                  got[field] == good or field.startswith("num_ref_idx"))
        except OSError as e:
            check(f"{field}={good} refused: {e}", False)
        dev.s_ctrl(EP, anchor)
        print(f"{field}: {bad} refused, {good} accepted")

    # IDR_PIC on a slice that is not I.
    for st in (SLICE_TYPE_P, SLICE_TYPE_B, SLICE_TYPE_SI):
        v = ep_pack(**dict(base, slice_type=st, flags=ENCODE_FLAG_IDR_PIC))
        try:
            expect_errno(errno.EINVAL, dev.s_ctrls, [(EP, v)])
        except AssertionError as e:
            check(f"IDR_PIC with slice_type {st}: {e}", False)
    print("IDR_PIC on a non-I slice refused")

    # Normalisation: reserved fields zeroed; on an IDR frame_num/POC zeroed; on a P slice
    # idr_pic_id and num_ref_idx_l1 zeroed, DIRECT_SPATIAL and LONG_TERM cleared.
    got = ep_unpack(dev.s_ctrl(EP, ep_pack(**dict(base, reserved0=b"\xff\xff",
                                                  reserved1=b"\x01" * 6, idr_pic_id=7,
                                                  num_ref_idx_l1_active_minus1=3,
                                                  flags=0x08 | 0x40))))
    check(f"P normalised: {got}", got["reserved0"] == b"\0\0" and got["reserved1"] == b"\0" * 6
          and got["idr_pic_id"] == 0 and got["num_ref_idx_l1_active_minus1"] == 0
          and got["flags"] == 0 and got["frame_num"] == 1)
    got = ep_unpack(dev.s_ctrl(EP, ep_idr(idr_pic_id=5, frame_num=9, pic_order_cnt_lsb=4,
                                          num_ref_idx_l0_active_minus1=2)))
    check(f"IDR normalised: {got}", got["frame_num"] == 0 and got["pic_order_cnt_lsb"] == 0
          and got["idr_pic_id"] == 5 and got["num_ref_idx_l0_active_minus1"] == 0)
    print("normalisation as the uAPI says")
os.close(media_fd)

# Encode-time refusals.
enc = StatelessEncoder(96, 64)
stream = bytearray()
good = 0


def frame(what, params, expect_error):
    global good
    o, c, data = enc.encode(params, enc.picture(enc.frame))
    print(f"{what}: OUTPUT {o}, CAPTURE {c}")
    if expect_error:
        check(f"{what}: both buffers ERROR", o.error and c.error and c.bytesused[0] == 0)
    else:
        check(f"{what}: encoded", not o.error and not c.error and c.bytesused[0] > 0)
        stream.extend(data)
        good += 1
    return c


frame("first frame P (not IDR)", ep_p(1, 2), True)
frame("first frame P again", ep_p(0, 0), True)
c = frame("IDR", ep_idr(0), False)
check("IDR is a key frame", c.keyframe)
frame("P", ep_p(1, 2), False)
frame("B slice", ep_pack(nal_ref_idc=0, slice_type=SLICE_TYPE_B, frame_num=2,
                         pic_order_cnt_lsb=3), True)
c = frame("P after the refused B", ep_p(2, 4), False)
check("P after B is a P frame", not c.keyframe)
frame("P", ep_p(3, 6), False)
enc.close()

with open(out_file, "wb") as f:
    f.write(stream)
print(f"{good} frames encoded, {len(stream)} bytes")
finish()
