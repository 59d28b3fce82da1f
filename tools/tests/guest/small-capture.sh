#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# A CAPTURE buffer too small for the frame (tools/tests/guest/lib/t_smallbuf.py), on both
# nodes: that frame returns with ERROR, the next ones (same buffers) encode and decode.
set -e
python3 tools/tests/guest/lib/t_smallbuf.py /tmp
for n in stateful stateless; do
    ffmpeg -y -v warning -i /tmp/smallbuf-$n.h264 -f rawvideo -pix_fmt nv12 /tmp/dec.nv12 2>/tmp/ffmpeg.log
    if [ -s /tmp/ffmpeg.log ]; then cat /tmp/ffmpeg.log; echo "ffmpeg warned"; exit 1; fi
    frames=$(($(stat -c %s /tmp/dec.nv12) / (320 * 240 * 3 / 2)))
    echo "$n: decoded $frames frames"
    test "$frames" -eq 3
done
sleep 6
