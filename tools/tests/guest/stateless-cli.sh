#!/bin/sh
# vm-run: --sim cedrus-v3s
# The stateless node driven the way GStreamer's v4l2slh264enc does it (slenc-enc: a media
# request per frame with ENCODE_PARAMS, DMABUF OUTPUT, SPS/PPS outside requests): IPPP with
# GOP 10 and CABAC; the stream decodes in ffmpeg without a warning, frame for frame, and the
# key frames are where the GOP puts them.
set -e
. tools/tests/guest/lib/decode.sh
mkdir -p out
n=25
target/release/slenc-enc --device /dev/video0 --size 320x240 --frames $n --gop 10 --cabac --qp 28 \
    --pattern --output out/stateless.h264 | tee /tmp/cli.log
grep -q "summary: $n frames" /tmp/cli.log
decode_clean out/stateless.h264 /tmp/dec.nv12 320 240
test "$frames" -eq $n
ffprobe -v error -select_streams v -show_frames -show_entries frame=key_frame -of csv=p=0 out/stateless.h264 >/tmp/keys
test "$(sed -n 1p /tmp/keys)" = 1
test "$(sed -n 11p /tmp/keys)" = 1
test "$(sed -n 2p /tmp/keys)" = 0
