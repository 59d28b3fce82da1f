# SPDX-License-Identifier: GPL-2.0
"""Header mode SEPARATE on the stateful node.

Before every IDR the driver returns a CAPTURE buffer that holds only SPS and PPS (no KEYFRAME
flag, the timestamp of the frame it precedes) and keeps the OUTPUT buffer; the next CAPTURE
buffer holds the IDR slice alone. P frames come as before. CAPTURE buffers are queued one at a
time, so a header buffer that consumed the picture, or a frame that still carried SPS/PPS,
shows up here. The shell script decodes the concatenated buffers.
"""

import sys

sys.path.insert(0, "tools/tests/guest/lib")
from v4l2 import *  # noqa: E402,F403

outdir = sys.argv[1]
W, H, GOP, FRAMES = 320, 240, 3, 7
CID_HEADER_MODE = CID_CODEC_BASE + 216
SEPARATE = 0


def nal_types(data):
    return [data[i + 3] & 0x1F for i in range(len(data) - 3) if data[i:i + 3] == b"\0\0\1"]


enc = StatefulEncoder(W, H, ncap=2, ctrls=[
    (CID_HEADER_MODE, SEPARATE), (CID_GOP_SIZE, GOP), (CID_FRAME_RC_ENABLE, 0),
    (CID_H264_I_FRAME_QP, 30), (CID_H264_P_FRAME_QP, 30)])
check("header mode reads back SEPARATE", enc.dev.g_ctrl(CID_HEADER_MODE) == SEPARATE)
stream = bytearray()
cap = 0
for k in range(FRAMES):
    enc.dev.write_output(k % enc.nout, enc.picture(k))
    enc.dev.qbuf(BUF_TYPE_OUTPUT, k % enc.nout, timestamp_us=k + 1)
    idr = k % GOP == 0
    got = []
    while True:
        enc.dev.qbuf(BUF_TYPE_CAPTURE, cap % enc.ncap)
        cap += 1
        c = enc.dev.dqbuf(BUF_TYPE_CAPTURE)
        check(f"frame {k}: CAPTURE buffer without error", not c.error and c.bytesused[0] > 0)
        data = enc.dev.read_capture(c.index, c.bytesused[0])
        stream += data
        types = nal_types(data)
        got.append((types, c.keyframe, c.timestamp))
        if types != [7, 8]:
            break
        check(f"frame {k}: a header buffer is no key frame", not c.keyframe)
        check(f"frame {k}: at most one header buffer", len(got) == 1)
    o = enc.dev.dqbuf(BUF_TYPE_OUTPUT)
    print(f"frame {k}: CAPTURE buffers {got}")
    check(f"frame {k}: OUTPUT buffer returned once, without error", not o.error)
    want = [([7, 8], False), ([5], True)] if idr else [([1], False)]
    check(f"frame {k}: buffers {[(t, kf) for t, kf, _ in got]} == {want}",
          [(t, kf) for t, kf, _ in got] == want)
    check(f"frame {k}: timestamps are the frame's", all(ts == (0, k + 1) for _, _, ts in got))
enc.close()
open(f"{outdir}/headermode.h264", "wb").write(stream)
finish()
