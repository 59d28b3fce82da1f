#!/bin/sh
# vm-run: --sim cedrus-v3s
# The stateless node writes the adapted SPS/PPS/ENCODE_PARAMS back into its controls
# (uapi.md §2.5 step 3): under CBR the driver picks each frame's QP, and the QP slenc-enc reads
# back from ENCODE_PARAMS + PPS after each frame must be the one in that frame's slice header
# (ffmpeg's trace_headers is the oracle). Without the write-back the client reads its own
# values and the QPs disagree.
set -e
mkdir -p out
n=20
target/release/slenc-enc --device /dev/video0 --size 320x240 --frames $n --gop 10 \
    --bitrate 200000 --pattern --output /tmp/wb.h264 | tee /tmp/cli.log
sed -n 's/^frame [0-9]* type [IP] size [0-9]* qp \([0-9?]*\)$/\1/p' /tmp/cli.log >/tmp/cli-qp
test "$(wc -l </tmp/cli-qp)" -eq $n
ffmpeg -v info -i /tmp/wb.h264 -c copy -bsf:v trace_headers -f null - 2>/tmp/trace.log
# trace_headers prints pic_init_qp_minus26 (PPS) and slice_qp_delta (each slice) as
# "... name   bits = value".
awk '/pic_init_qp_minus26/ { init = $NF }
     /slice_qp_delta/ { print 26 + init + $NF }' /tmp/trace.log >/tmp/stream-qp
echo "read back: $(tr '\n' ' ' </tmp/cli-qp)"
echo "in stream: $(tr '\n' ' ' </tmp/stream-qp)"
cmp /tmp/cli-qp /tmp/stream-qp
# Rate control at work: not every frame has the same QP.
test "$(sort -u /tmp/stream-qp | wc -l)" -gt 1
cp /tmp/wb.h264 out/stateless-writeback.h264
