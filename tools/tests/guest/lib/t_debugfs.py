# SPDX-License-Identifier: GPL-2.0
"""Per-context statistics in debugfs (/sys/kernel/debug/slenc-cedrus-v3s/).

One stateful context encodes frames at a fixed QP; its ctx<N> file must count exactly the
frames and bytes the client dequeued, the requested QP as the average, a hardware time, the
private buffers while streaming (0 after STREAMOFF), and a frame that does not fit its
CAPTURE buffer as an error. The file goes away when the context is closed.
"""

import glob
import sys

sys.path.insert(0, "tools/tests/guest/lib")
from v4l2 import *  # noqa: E402,F403

ROOT = "/sys/kernel/debug/slenc-cedrus-v3s"


def stats_files():
    return {p for p in glob.glob(f"{ROOT}/ctx*") if not p.endswith("-rec")}


def read_stats(path):
    return {k: int(v) for k, v in (line.split(": ") for line in open(path).read().splitlines())}


mem = int(open(f"{ROOT}/private_bytes_1080p").read())
print(f"private_bytes_1080p: {mem}")
check("private memory at 1920x1088 is within 10 MiB", 0 < mem <= 10 << 20)

before = stats_files()
enc = StatefulEncoder(320, 240, cap_size=1, ctrls=[
    (CID_FRAME_RC_ENABLE, 0), (CID_H264_MIN_QP, 0),
    (CID_H264_I_FRAME_QP, 33), (CID_H264_P_FRAME_QP, 33)])
new = sorted(stats_files() - before)
check(f"one statistics file for the new context: {new}", len(new) == 1)
path = new[0]
total = 0
for i in range(4):
    o, c, d = enc.encode(enc.picture(i))
    check(f"frame {i} encoded", not c.error)
    total += c.bytesused[0]
s = read_stats(path)
print(s)
check("frames counted", s["frames"] == 4)
check("bytes counted", s["bytes"] == total)
check("average QP is the fixed QP", s["average_qp"] == 33)
check("hardware time measured", s["hw_time_us_avg"] > 0 and s["hw_time_us_max"] >= s["hw_time_us_last"] > 0)
check("private buffers counted while streaming", 0 < s["private_bytes"] < mem)
# The model's encode is the bulk of a frame; the driver's own share is measured without it.
check("driver CPU time measured without the model's",
      0 < s["driver_time_us_avg"] < s["hw_time_us_avg"])
check("the device totals count the frames", read_stats(f"{ROOT}/stats")["frames"] >= 4)
check("no errors yet", s["errors"] == 0 and s["timeouts"] == 0)
enc.dev.s_ctrls([(CID_H264_I_FRAME_QP, 0), (CID_H264_P_FRAME_QP, 0)])
o, c, _ = enc.encode(enc.picture(9, noise=True))
check("a noise frame at QP 0 does not fit", c.error)
s = read_stats(path)
check("the frame that did not fit is an error", s["errors"] == 1 and s["frames"] == 4)
enc.dev.streamoff(BUF_TYPE_OUTPUT)
enc.dev.streamoff(BUF_TYPE_CAPTURE)
check("private buffers freed at STREAMOFF", read_stats(path)["private_bytes"] == 0)
enc.close()
check("the file is gone with the context", not glob.glob(path))
finish()
