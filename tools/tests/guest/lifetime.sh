#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Lifetime (tools/tests/guest/lib/t_lifetime.py): STREAMOFF on either queue with frames in
# flight, closing files and requests with frames in flight, on both nodes; a v4l2-ctl killed
# mid-stream; the module cannot be removed while a file is open, is removed once all are
# closed, loads again and encodes. vm-run then removes it once more and checks kmemleak.
set -e
python3 tools/tests/guest/lib/t_lifetime.py
# A client killed mid-stream.
ffmpeg -v error -f lavfi -i "testsrc2=size=320x240:rate=30" -frames:v 10 -pix_fmt nv12 -f rawvideo /tmp/in.nv12
v4l2-ctl -d /dev/video1 --set-fmt-video-out=width=320,height=240,pixelformat=NV12 \
    --set-fmt-video=pixelformat=H264 --stream-out-mmap --stream-mmap --stream-loop \
    --stream-from=/tmp/in.nv12 --stream-to=/tmp/killed.h264 --stream-count=1000 >/dev/null 2>&1 &
pid=$!
sleep 3
kill -9 $pid
wait $pid || true
test -s /tmp/killed.h264
# Files open: rmmod must refuse.
mkfifo /tmp/hold
python3 tools/tests/guest/lib/t_lifetime.py hold </tmp/hold >/tmp/hold.log &
exec 3>/tmp/hold
while ! grep -q holding /tmp/hold.log; do sleep 0.2; done
if rmmod slenc 2>/dev/null; then echo "rmmod succeeded with files open"; exit 1; fi
exec 3>&-
wait
rmmod slenc
echo "removed after the last close"
insmod build/x86_64/slenc.ko sim=cedrus-v3s
target/release/slenc-enc --device /dev/video0 --size 176x144 --frames 3 --pattern --output /tmp/after.h264 >/dev/null
v4l2-ctl -d /dev/video1 --set-fmt-video-out=width=320,height=240,pixelformat=NV12 \
    --set-fmt-video=pixelformat=H264 --stream-out-mmap --stream-mmap \
    --stream-from=/tmp/in.nv12 --stream-to=/tmp/after2.h264 --stream-count=3 >/dev/null
for f in /tmp/after.h264 /tmp/after2.h264; do
    test "$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 $f)" = 3
done
echo "reloaded and encoded"
sleep 6
