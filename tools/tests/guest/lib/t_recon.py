# SPDX-License-Identifier: GPL-2.0
"""The block's reconstruction against the decoder's pictures, through both nodes.

For each node, CAVLC and CABAC, IDR-only and IPPP (GOP 30), fixed QP and CBR, 32 frames are
encoded one at a time (two GOPs: after the IDR at frame 30 the P frames must predict from it,
not from the old references); after each frame the context's reconstruction is read from debugfs
(ctx<N>-rec: tight NV12 at the coded size). The streams, one after the other, go to
OUTDIR/all.h264 (each starts with an IDR and its own SPS/PPS, so ffmpeg decodes them as one),
the reconstructions in the same order to OUTDIR/all.rec, the case names to OUTDIR/cases; the
shell script decodes once and compares the pictures byte for byte: the references the block
predicts from must be the decoder's, or P frames drift.
"""

import glob
import sys

sys.path.insert(0, "tools/tests/guest/lib")
from v4l2 import *  # noqa: E402,F403

outdir = sys.argv[1]
ROOT = "/sys/kernel/debug/slenc-cedrus-v3s"
W, H, FRAMES = 320, 240, 32
CID_BITRATE_MODE = CID_CODEC_BASE + 206
CID_BITRATE = CID_CODEC_BASE + 207


def rc_ctrls(cbr):
    if cbr:
        return [(CID_FRAME_RC_ENABLE, 1), (CID_BITRATE_MODE, 1), (CID_BITRATE, 300000)]
    return [(CID_FRAME_RC_ENABLE, 0), (CID_H264_I_FRAME_QP, 28), (CID_H264_P_FRAME_QP, 31)]


def rec_file(before):
    new = sorted(set(glob.glob(f"{ROOT}/ctx*-rec")) - before)
    check(f"one reconstruction file for the new context: {new}", len(new) == 1)
    return new[0]


def picture(enc, i):
    return nv12_frame(W, H, enc.stride, enc.coded_h, seed=5 * i)


cases, all_stream, all_recs = [], bytearray(), bytearray()
for node in ("stateful", "stateless"):
    for cabac in (False, True):
        for gop in (1, 30):
            for cbr in (False, True):
                name = f"{node}-{'cabac' if cabac else 'cavlc'}-gop{gop}-{'cbr' if cbr else 'qp'}"
                before = set(glob.glob(f"{ROOT}/ctx*-rec"))
                stream, recs = bytearray(), bytearray()
                if node == "stateful":
                    enc = StatefulEncoder(W, H, ctrls=rc_ctrls(cbr) + [
                        (CID_GOP_SIZE, gop), (CID_H264_ENTROPY_MODE, int(cabac))])
                    path = rec_file(before)
                    for i in range(FRAMES):
                        o, c, d = enc.encode(picture(enc, i))
                        check(f"{name} frame {i} encoded", not c.error)
                        stream += d
                        recs += open(path, "rb").read()
                else:
                    enc = StatelessEncoder(W, H)
                    enc.dev.s_ctrls([(CID_STATELESS_H264_PPS, pps_bytes(cabac=cabac))])
                    enc.dev.s_ctrls(rc_ctrls(cbr))
                    path = rec_file(before)
                    for i in range(FRAMES):
                        k = i % gop
                        ep = ep_idr((i // gop) & 1) if k == 0 else ep_p(k, 2 * k)
                        o, c, d = enc.encode(ep, picture(enc, i))
                        check(f"{name} frame {i} encoded", not c.error)
                        stream += d
                        recs += open(path, "rb").read()
                enc.close()
                check(f"{name}: one picture per frame", len(recs) == FRAMES * W * H * 3 // 2)
                all_stream += stream
                all_recs += recs
                cases.append(name)
open(f"{outdir}/all.h264", "wb").write(all_stream)
open(f"{outdir}/all.rec", "wb").write(all_recs)
open(f"{outdir}/cases", "w").write(f"{FRAMES}\n" + "\n".join(cases) + "\n")
finish()
