#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Header mode SEPARATE on the stateful node (tools/tests/guest/lib/t_headermode.py): SPS/PPS
# in a CAPTURE buffer of their own before each IDR; the buffers together decode.
set -e
. tools/tests/guest/lib/decode.sh
python3 tools/tests/guest/lib/t_headermode.py /tmp
decode_clean /tmp/headermode.h264 /tmp/dec.nv12 320 240
test "$frames" -eq 7
sleep 6
