#!/bin/sh
# vm-run: --sim cedrus-v3s --timeout 900
# Constant bit rate end to end through the driver: a 300-frame clip at 30 fps (a zoom into the
# Mandelbrot set with temporal grain: detail that changes every frame, so rate control has
# work to do) through both nodes, IPPP GOP 30, CABAC. The bitrate of each stream, from its
# size in bytes over 10 s, must be within 5 % of the target, and it must decode without
# warnings, frame for frame.
set -e
. tools/tests/guest/lib/decode.sh
n=300 w=320 h=240 rate=400000
ffmpeg -v error -f lavfi -i "mandelbrot=size=${w}x${h}:rate=30:maxiter=96,noise=alls=6:allf=t" \
    -frames:v $n -pix_fmt nv12 -f rawvideo /tmp/in.nv12
t0=$(date +%s)
elapsed() { echo "[$(($(date +%s) - t0)) s] $*"; }
check() {
    f=$1
    elapsed "decoding $f"
    decode_clean "$f" /tmp/dec.nv12 $w $h
    bits=$(($(stat -c %s "$f") * 8))
    # n frames at 30 fps last n/30 s; error in 0.1 % steps.
    kbps=$((bits * 30 / n / 1000))
    err=$(((bits * 30 / n - rate) * 1000 / rate))
    echo "$f: $frames frames, $kbps kbit/s, error $err/1000 of $((rate / 1000)) kbit/s"
    test "$frames" -eq $n
    test "$err" -ge -50 && test "$err" -le 50
}
elapsed "stateful node"
v4l2-ctl -d /dev/video1 \
    --set-fmt-video-out=width=$w,height=$h,pixelformat=NV12 \
    --set-fmt-video=pixelformat=H264 \
    --set-ctrl=video_gop_size=30,h264_entropy_mode=1,video_bitrate_mode=1,video_bitrate=$rate,frame_level_rate_control_enable=1 \
    --stream-out-mmap --stream-mmap --stream-from=/tmp/in.nv12 --stream-to=/tmp/cbr-stateful.h264 \
    --stream-count=$n >/tmp/v4l2-ctl.log
check /tmp/cbr-stateful.h264
elapsed "stateless node"
target/release/slenc-enc --device /dev/video0 --size ${w}x$h --frames $n --gop 30 \
    --bitrate $rate --input /tmp/in.nv12 --output /tmp/cbr-stateless.h264 >/tmp/cli.log
tail -3 /tmp/cli.log
check /tmp/cbr-stateless.h264
