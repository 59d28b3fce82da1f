# SPDX-License-Identifier: GPL-2.0
"""A CAPTURE buffer too small for the frame, on both nodes.

CREATE_BUFS below the CAPTURE format's sizeimage is refused (EINVAL). With the smallest
sizeimage the driver allows, a noise picture at QP 0 does not fit: that frame comes back with
ERROR on both buffers (its request completed), and the next frame, a smooth picture at QP 30 in
the same buffers, encodes, as an IDR (the stream restarts after a failed frame). The shell
script decodes what came out.
"""

import sys

sys.path.insert(0, "tools/tests/guest/lib")
from v4l2 import *  # noqa: E402,F403

outdir = sys.argv[1]


W, H = 320, 240
qp = lambda q: [(CID_H264_MIN_QP, 0), (CID_H264_I_FRAME_QP, q), (CID_H264_P_FRAME_QP, q)]

# Stateful node.
enc = StatefulEncoder(W, H, cap_size=1, ctrls=[(CID_FRAME_RC_ENABLE, 0)] + qp(0))
size = enc.cap.plane_fmt[0].sizeimage
print(f"stateful: CAPTURE sizeimage {size}, buffer {enc.dev.buf_length(BUF_TYPE_CAPTURE, 0)}")
try:
    expect_errno(errno.EINVAL, enc.dev.create_bufs, BUF_TYPE_CAPTURE, 1, sizeimage=1000)
except AssertionError as e:
    check(f"stateful CREATE_BUFS of 1000 bytes: {e}", False)
o, c, _ = enc.encode(enc.picture(0, noise=True))
print(f"noise at QP 0: OUTPUT {o}, CAPTURE {c}")
check("stateful: the frame that does not fit comes back with ERROR",
      o.error and c.error and c.bytesused[0] == 0)
enc.dev.s_ctrls(qp(30))
data = bytearray()
for i in range(1, 4):
    o, c, d = enc.encode(enc.picture(i))
    print(f"frame {i}: OUTPUT {o}, CAPTURE {c}")
    check(f"stateful frame {i} encoded", not o.error and not c.error and c.bytesused[0] > 0)
    check(f"stateful frame {i} key frame only first", c.keyframe == (i == 1))
    data += d
enc.close()
open(f"{outdir}/smallbuf-stateful.h264", "wb").write(data)

# Stateless node.
enc = StatelessEncoder(W, H, cap_size=1, qp=0)
enc.dev.s_ctrls([(CID_H264_MIN_QP, 0)])
try:
    expect_errno(errno.EINVAL, enc.dev.create_bufs, BUF_TYPE_CAPTURE, 1, sizeimage=1000)
except AssertionError as e:
    check(f"stateless CREATE_BUFS of 1000 bytes: {e}", False)
noise = nv12_frame(W, H, enc.stride, enc.coded_h, 0, noise=True)
o, c, _ = enc.encode(ep_idr(0), noise)
print(f"noise at QP 0: OUTPUT {o}, CAPTURE {c}")
check("stateless: the frame that does not fit comes back with ERROR",
      o.error and c.error and c.bytesused[0] == 0)
enc.dev.s_ctrls(qp(30))
data = bytearray()
# The client goes on with P frames; the driver codes the first as an IDR.
for i, ep in enumerate([ep_p(1, 2), ep_p(2, 4), ep_p(3, 6)], 1):
    o, c, d = enc.encode(ep, enc.picture(i))
    print(f"frame {i}: OUTPUT {o}, CAPTURE {c}")
    check(f"stateless frame {i} encoded", not o.error and not c.error and c.bytesused[0] > 0)
    check(f"stateless frame {i} key frame only first", c.keyframe == (i == 1))
    data += d
enc.close()
open(f"{outdir}/smallbuf-stateless.h264", "wb").write(data)

finish()
