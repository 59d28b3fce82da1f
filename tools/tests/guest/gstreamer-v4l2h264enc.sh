#!/bin/sh
# vm-run: --sim cedrus-v3s
# GStreamer's stateful encoder element (gst-plugins-good v4l2h264enc) on the stateful node:
# it negotiates CAPTURE before OUTPUT and allocates by the sizeimage it got first. The stream
# must decode in ffmpeg without a warning, frame for frame, at the right size, and look like
# the source (PSNR against the raw frames).
set -e
. tools/tests/guest/lib/decode.sh
mkdir -p out
n=30
gst-launch-1.0 -q videotestsrc pattern=smpte num-buffers=$n \
    ! video/x-raw,width=320,height=240,format=NV12,framerate=30/1 \
    ! filesink location=/tmp/src.nv12
gst-launch-1.0 -e filesrc location=/tmp/src.nv12 \
    ! rawvideoparse width=320 height=240 format=nv12 framerate=30/1 \
    ! v4l2h264enc ! video/x-h264,profile=main ! h264parse ! filesink location=/tmp/gst.h264 \
    >/tmp/gst.log 2>&1 || { cat /tmp/gst.log; exit 1; }
cp /tmp/gst.h264 out/gstreamer.h264
decode_clean /tmp/gst.h264 /tmp/dec.nv12 320 240
test "$frames" -eq $n
psnr=$(ffmpeg -v info -f rawvideo -pix_fmt nv12 -s 320x240 -i /tmp/src.nv12 \
    -f rawvideo -pix_fmt nv12 -s 320x240 -i /tmp/dec.nv12 -lavfi psnr -f null - 2>&1 |
    sed -n 's/.*PSNR.*average:\([0-9.]*\).*/\1/p')
echo "PSNR $psnr dB"
test "${psnr%.*}" -ge 30
