#!/bin/sh
# vm-run: --sim cedrus-v3s
# The stateful node encodes through v4l2-ctl's plain m2m loop (IPPP, GOP 30, CABAC): the
# stream decodes in ffmpeg without a single warning, frame for frame.
# 320x240: after ENCODER_CMD STOP, v4l2-ctl waits only 0.5 s for the frames still in flight and
# then quits without them; the register model takes about that long for one 640x480 frame on a
# loaded TCG guest (CI lost the last frame that way), a fraction of it at 320x240.
set -e
. tools/tests/guest/lib/decode.sh
mkdir -p out
n=45
ffmpeg -v error -f lavfi -i "testsrc2=size=320x240:rate=30" -frames:v $n -pix_fmt nv12 -f rawvideo /tmp/in.nv12
v4l2-ctl -d /dev/video1 \
    --set-fmt-video-out=width=320,height=240,pixelformat=NV12 \
    --set-fmt-video=pixelformat=H264 \
    --set-ctrl=video_gop_size=30,h264_entropy_mode=1,h264_i_frame_qp_value=26,h264_p_frame_qp_value=28 \
    --stream-out-mmap --stream-mmap --stream-from=/tmp/in.nv12 --stream-to=/tmp/stateful.h264 \
    --stream-count=$n
# v4l2-ctl writes straight from the mmapped buffer, which 9p cannot take: write to tmpfs.
cp /tmp/stateful.h264 out/stateful.h264
ls -l out/stateful.h264
decode_clean out/stateful.h264 /tmp/dec.nv12 320 240
test "$frames" -eq $n
# Every GOP starts with an IDR: frames 0 and 30 are key frames.
ffprobe -v error -select_streams v -show_frames -show_entries frame=key_frame,pict_type -of csv out/stateful.h264 >/tmp/types.csv
head -3 /tmp/types.csv
test "$(sed -n 1p /tmp/types.csv)" = "frame,1,I"
test "$(sed -n 31p /tmp/types.csv)" = "frame,1,I"
test "$(sed -n 2p /tmp/types.csv)" = "frame,0,P"
