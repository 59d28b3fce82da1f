#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Several contexts streaming at once on both nodes: two v4l2-ctl encodes on the stateful node
# and two slenc-enc encodes on the stateless node (different sizes, content, GOP, entropy
# coding) run first one at a time, then all four at once. The encoder is deterministic at a
# fixed QP, so each concurrent stream must equal its solo run byte for byte (a context that
# saw another's buffers, controls, references or rate-control state would differ), and each
# decodes in ffmpeg at its size with all its frames.
# Four contexts share one model in a TCG guest, so a frame may wait behind three others: the
# v4l2-ctl streams are small (v4l2-ctl gives up 0.5 s after its STOP command, and the frames
# still in flight are lost), and slenc-enc waits up to 5 s per frame instead of 1 s.
set -e
n=12
ffmpeg -v error -f lavfi -i "testsrc2=size=240x160:rate=30" -frames:v $n -pix_fmt nv12 -f rawvideo /tmp/a.nv12
ffmpeg -v error -f lavfi -i "smptehdbars=size=176x144:rate=30" -frames:v $n -pix_fmt nv12 -f rawvideo /tmp/b.nv12
sf() { # NAME WxH INPUT GOP ENTROPY
    v4l2-ctl -d /dev/video1 --set-fmt-video-out=width=${2%x*},height=${2#*x},pixelformat=NV12 \
        --set-fmt-video=pixelformat=H264 \
        --set-ctrl=video_gop_size=$4,h264_entropy_mode=$5,h264_i_frame_qp_value=26,h264_p_frame_qp_value=30 \
        --stream-out-mmap --stream-mmap --stream-from=$3 --stream-to=/tmp/$1.h264 \
        --stream-count=$n >/tmp/$1.log 2>&1
}
sl() { # NAME WxH GOP [--cabac]
    target/release/slenc-enc --device /dev/video0 --size $2 --frames $n --gop $3 $4 --qp 28 \
        --timeout 5000 --pattern --output /tmp/$1.h264 >/tmp/$1.log 2>&1
}
run_all() { # SUFFIX PARALLEL
    if [ "$2" = 1 ]; then
        sf sfa$1 240x160 /tmp/a.nv12 5 1 & p1=$!
        sf sfb$1 176x144 /tmp/b.nv12 30 0 & p2=$!
        sl sla$1 320x240 4 --cabac & p3=$!
        sl slb$1 176x144 30 & p4=$!
        for p in $p1 $p2 $p3 $p4; do wait $p || { echo "a concurrent encode failed"; tail /tmp/*$1.log; exit 1; }; done
    else
        sf sfa$1 240x160 /tmp/a.nv12 5 1
        sf sfb$1 176x144 /tmp/b.nv12 30 0
        sl sla$1 320x240 4 --cabac
        sl slb$1 176x144 30
    fi
}
start=$(date +%s)
run_all -solo 0
mid=$(date +%s)
run_all -par 1
end=$(date +%s)
echo "solo runs: $((mid - start)) s, concurrent: $((end - mid)) s"
for s in sfa:240x160 sfb:176x144 sla:320x240 slb:176x144; do
    name=${s%%:*} size=${s#*:}
    a=$(md5sum </tmp/$name-solo.h264) b=$(md5sum </tmp/$name-par.h264)
    echo "$name: solo $a, concurrent $b"
    test "$a" = "$b"
    got=$(ffprobe -v error -count_frames -select_streams v \
        -show_entries stream=width,height,nb_read_frames -of csv=p=0:s=x /tmp/$name-par.h264)
    echo "$name: $got"
    test "$got" = "${size}x$n"
done
sleep 6
