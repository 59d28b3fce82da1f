#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Zero, odd, tiny and huge sizes on both nodes (tools/tests/guest/lib/t_formats.py): TRY_FMT and
# S_FMT never fail and return a macroblock-aligned, clamped format, S_FMT resets the crop to
# it and S_SELECTION sets the visible size (made even, clamped); CAPTURE sizeimage is clamped
# both ways; S_FMT with buffers is EBUSY. Encodes at odd visible sizes decode in ffmpeg at that
# size (a 4:2:0 crop is in units of 2: 33x17 shows as 34x18).
set -e
python3 tools/tests/guest/lib/t_formats.py /tmp
for s in stateful-33x17:34x18 stateful-176x100:176x100 stateless-33x17:34x18; do
    f=/tmp/${s%%:*}.h264
    want=${s#*:}
    got=$(ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=p=0:s=x "$f")
    echo "$f: $got (expected $want)"
    test "$got" = "$want"
    ffmpeg -y -v warning -i "$f" -f rawvideo -pix_fmt nv12 /tmp/dec.nv12 2>/tmp/ffmpeg.log
    if [ -s /tmp/ffmpeg.log ]; then cat /tmp/ffmpeg.log; echo "ffmpeg warned"; exit 1; fi
    w=${want%x*} h=${want#*x}
    test $(($(stat -c %s /tmp/dec.nv12) / (w * h * 3 / 2))) -eq 3
done
sleep 6
