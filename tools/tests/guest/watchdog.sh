#!/bin/sh
# vm-run: --sim cedrus-v3s --module-args sim_hang=4
# The model never finishes its 4th job: the watchdog fails that frame (ERROR, well within 1 s),
# resets the block, and the stream goes on with an IDR, so everything else still decodes.
set -e
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
ffmpeg -v warning -i out/watchdog.h264 -f rawvideo -pix_fmt nv12 /tmp/dec.nv12 2>/tmp/ffmpeg.log
if [ -s /tmp/ffmpeg.log ]; then cat /tmp/ffmpeg.log; exit 1; fi
frames=$(($(stat -c %s /tmp/dec.nv12) / (320 * 240 * 3 / 2)))
echo "decoded $frames of $n frames"
test "$frames" -eq $((n - 1))
