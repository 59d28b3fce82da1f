#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Header mode SEPARATE on the stateful node (tools/tests/guest/lib/t_headermode.py): SPS/PPS
# in a CAPTURE buffer of their own before each IDR; the buffers together decode.
set -e
python3 tools/tests/guest/lib/t_headermode.py /tmp
ffmpeg -y -v warning -i /tmp/headermode.h264 -f rawvideo -pix_fmt nv12 /tmp/dec.nv12 2>/tmp/ffmpeg.log
if [ -s /tmp/ffmpeg.log ]; then cat /tmp/ffmpeg.log; echo "ffmpeg warned"; exit 1; fi
frames=$(($(stat -c %s /tmp/dec.nv12) / (320 * 240 * 3 / 2)))
echo "decoded $frames frames"
test "$frames" -eq 7
sleep 6
