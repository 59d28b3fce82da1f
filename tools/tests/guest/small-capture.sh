#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# A CAPTURE buffer too small for the frame (tools/tests/guest/lib/t_smallbuf.py), on both
# nodes: that frame returns with ERROR, the next ones (same buffers) encode and decode.
set -e
. tools/tests/guest/lib/decode.sh
python3 tools/tests/guest/lib/t_smallbuf.py /tmp
for n in stateful stateless; do
    decode_clean /tmp/smallbuf-$n.h264 /tmp/dec.nv12 320 240
    test "$frames" -eq 3
done
sleep 6
