#!/bin/sh
# vm-run: --sim cedrus-v3s
# The block's reconstruction (debugfs ctx<N>-rec) equals ffmpeg's decoded pictures, byte for
# byte, on both nodes, CAVLC and CABAC, IDR-only and IPPP (two GOPs of 30), fixed QP and CBR
# (tools/tests/guest/lib/t_recon.py).
set -e
. tools/tests/guest/lib/decode.sh
mkdir -p /tmp/recon
python3 tools/tests/guest/lib/t_recon.py /tmp/recon
decode_clean /tmp/recon/all.h264 /tmp/recon/all.dec
pic=$((320 * 240 * 3 / 2))
per=$(head -n1 /tmp/recon/cases)
echo "decoded $(($(stat -c %s /tmp/recon/all.dec) / pic)) pictures of $(($(wc -l </tmp/recon/cases) - 1)) streams"
if ! out=$(cmp /tmp/recon/all.dec /tmp/recon/all.rec 2>&1); then
    echo "$out"
    byte=$(echo "$out" | sed -n 's/.* byte \([0-9]*\).*/\1/p')
    if [ -n "$byte" ]; then
        frame=$(((byte - 1) / pic))
        echo "first difference in picture $frame: $(sed -n "$((frame / per + 2))p" /tmp/recon/cases) frame $((frame % per))"
    fi
    exit 1
fi
echo "every decoded picture equals the block's reconstruction"
