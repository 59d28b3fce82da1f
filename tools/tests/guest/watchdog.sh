#!/bin/sh
# vm-run: --sim cedrus-v3s --module-args sim_hang=4
# The model never finishes its 4th job: the watchdog fails that frame (ERROR, well within 1 s),
# resets the block, and the stream goes on with an IDR, so everything else still decodes.
set -e
. tools/tests/guest/lib/decode.sh
mkdir -p out
n=10
ffmpeg -v error -f lavfi -i "testsrc2=size=320x240:rate=30" -frames:v $n -pix_fmt nv12 -f rawvideo /tmp/in.nv12
start=$(date +%s)
v4l2-ctl -d /dev/video1 \
    --set-fmt-video-out=width=320,height=240,pixelformat=NV12 --set-fmt-video=pixelformat=H264 \
    --stream-out-mmap --stream-mmap --stream-from=/tmp/in.nv12 --stream-to=/tmp/watchdog.h264 \
    --stream-count=$n --verbose >/tmp/v4l2ctl.log 2>&1 || true
end=$(date +%s)
cp /tmp/watchdog.h264 out/watchdog.h264
grep -c "ERROR" /tmp/v4l2ctl.log || true
dmesg | grep "timed out"
test $((end - start)) -lt 30
decode_clean out/watchdog.h264 /tmp/dec.nv12 320 240
test "$frames" -eq $((n - 1))
