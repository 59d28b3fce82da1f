# SPDX-License-Identifier: GPL-2.0
"""Formats with zero, odd, tiny and huge sizes on both nodes, and encodes at odd sizes.

TRY_FMT and S_FMT on OUTPUT never fail: the size is rounded up to macroblocks and clamped to
16x16..1920x1088 (the V3s), S_FMT resets the crop to it, S_SELECTION makes the asked visible
size even and clamps it the same way, an unknown fourcc becomes NV12, a useless bytesperline
the tight one, and sizeimage matches the layout. CAPTURE follows OUTPUT's size and clamps
sizeimage.
Then encodes at 33x17 (both nodes) and 176x100 (stateful) whose streams the shell script
decodes with ffmpeg at the visible size.
"""

import sys

sys.path.insert(0, "tools/tests/guest/lib")
from v4l2 import *  # noqa: E402,F403

outdir = sys.argv[1]


MAXW, MAXH = 1920, 1088
U32 = 0xffffffff


def mb(v, top):
    v = min(max(v, 16), top)
    return min((v + 15) & ~15, top)


def vis(v, coded):
    return min((min(max(v, 16), coded) + 1) & ~1, coded)


sizes = [(0, 0), (1, 1), (33, 17), (15, 16), (176, 100), (1921, 1089), (100000, 100000),
         (U32, U32), (0, 5000), (5000, 0)]

for node in (stateless_node(), stateful_node()):
    coded_fmt = H264_SLICE if node == stateless_node() else H264
    for w, h in sizes:
        cw, ch = mb(w, MAXW), mb(h, MAXH)
        with Device(node) as dev:
            for name, fn in [("TRY_FMT", dev.try_fmt), ("S_FMT", dev.s_fmt)]:
                try:
                    p = fn(BUF_TYPE_OUTPUT, NV12, w, h)
                except OSError as e:
                    check(f"{node} {name} OUTPUT {w}x{h}: {e}", False)
                    continue
                pl = p.plane_fmt[0]
                ok = (p.width == cw and p.height == ch and p.pixelformat == NV12
                      and p.num_planes == 1 and pl.bytesperline == cw
                      and pl.sizeimage == cw * ch * 3 // 2)
                check(f"{node} {name} OUTPUT {w}x{h} -> {p.width}x{p.height} bpl "
                      f"{pl.bytesperline} size {pl.sizeimage}, expected {cw}x{ch}", ok)
            # S_FMT resets the crop to the whole picture (stateful encoder interface); the
            # visible size is set with S_SELECTION, made even and clamped.
            crop = dev.g_crop()
            check(f"{node} crop after S_FMT {w}x{h} is {crop}, expected (0, 0, {cw}, {ch})",
                  crop == (0, 0, cw, ch))
            crop = dev.s_crop(0, 0, w, h)
            check(f"{node} S_SELECTION {w}x{h} gives {crop}, expected (0, 0, {vis(w, cw)}, "
                  f"{vis(h, ch)})", crop == (0, 0, vis(w, cw), vis(h, ch)) == dev.g_crop())
            crop = dev.s_crop(-5, 1 << 30, w, h)
            check(f"{node} S_SELECTION off the picture gives {crop}",
                  crop[0] == 0 and crop[1] == ch - crop[3] and crop[2:] == (vis(w, cw),
                                                                           vis(h, ch)))
            # CAPTURE follows OUTPUT; sizeimage is clamped both ways.
            raw = cw * ch * 3 // 2
            lo = max(cw * ch * 3 // 4, 16 * 1024) + 4096
            hi = max(raw + 64 * 1024, lo)
            for ask, want in [(0, lo), (1, lo), (U32, hi)]:
                c = dev.s_fmt(BUF_TYPE_CAPTURE, coded_fmt, 0, 0, sizeimage=ask)
                got = c.plane_fmt[0].sizeimage
                check(f"{node} CAPTURE sizeimage {ask} -> {got} ({c.width}x{c.height}), "
                      f"expected {want} at {cw}x{ch}",
                      got == want and c.width == cw and c.height == ch)
        print(f"{node}: {w}x{h} -> coded {cw}x{ch}, visible {vis(w, cw)}x{vis(h, ch)}")

    with Device(node) as dev:
        # An unknown fourcc and a useless bytesperline.
        p = dev.try_fmt(BUF_TYPE_OUTPUT, fourcc("XXXX"), 64, 64, bytesperline=U32)
        check(f"{node} unknown fourcc -> {p.pixelformat:#x}", p.pixelformat == NV12
              and p.plane_fmt[0].bytesperline == 64)
        p = dev.try_fmt(BUF_TYPE_OUTPUT, NV12, 64, 64, bytesperline=100)
        check(f"{node} bytesperline 100 -> {p.plane_fmt[0].bytesperline}",
              p.plane_fmt[0].bytesperline == 112
              and p.plane_fmt[0].sizeimage == 112 * 64 * 3 // 2)
        c = dev.try_fmt(BUF_TYPE_CAPTURE, fourcc("XXXX"), 0, 0)
        check(f"{node} unknown coded fourcc -> {c.pixelformat:#x}", c.pixelformat == coded_fmt)
        # S_FMT once buffers exist: EBUSY, the format unchanged.
        dev.s_fmt(BUF_TYPE_OUTPUT, NV12, 64, 48)
        dev.reqbufs(BUF_TYPE_OUTPUT, 1)
        try:
            expect_errno(errno.EBUSY, dev.s_fmt, BUF_TYPE_OUTPUT, NV12, 128, 128)
        except AssertionError as e:
            check(f"{node} S_FMT with buffers: {e}", False)
        g = dev.g_fmt(BUF_TYPE_OUTPUT)
        check(f"{node} format after EBUSY {g.width}x{g.height}", (g.width, g.height) == (64, 48))
        dev.reqbufs(BUF_TYPE_OUTPUT, 0)

# Encodes at odd sizes: the stream carries the visible size (checked by the shell script).
for w, h in [(33, 17), (176, 100)]:
    enc = StatefulEncoder(w, h)
    data = bytearray()
    for i in range(3):
        o, c, d = enc.encode(enc.picture(i))
        check(f"stateful {w}x{h} frame {i}: {c}", not c.error and c.bytesused[0] > 0)
        data += d
    enc.close()
    open(f"{outdir}/stateful-{w}x{h}.h264", "wb").write(data)
    print(f"stateful {w}x{h}: {len(data)} bytes")

enc = StatelessEncoder(33, 17)
data = bytearray()
for i, ep in enumerate([ep_idr(0), ep_p(1, 2), ep_p(2, 4)]):
    o, c, d = enc.encode(ep, enc.picture(i))
    check(f"stateless 33x17 frame {i}: {c}", not c.error and c.bytesused[0] > 0)
    data += d
enc.close()
open(f"{outdir}/stateless-33x17.h264", "wb").write(data)
print(f"stateless 33x17: {len(data)} bytes")

finish()
