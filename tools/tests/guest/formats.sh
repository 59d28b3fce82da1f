#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Zero, odd, tiny and huge sizes on both nodes (tools/tests/guest/lib/t_formats.py): TRY_FMT and
# S_FMT never fail and return a macroblock-aligned, clamped format, S_FMT resets the crop to
# it and S_SELECTION sets the visible size (made even, clamped); CAPTURE sizeimage is clamped
# both ways; S_FMT with buffers is EBUSY. Encodes at odd visible sizes decode in ffmpeg at that
# size (a 4:2:0 crop is in units of 2: 33x17 shows as 34x18).
set -e
. tools/tests/guest/lib/decode.sh
python3 tools/tests/guest/lib/t_formats.py /tmp
for s in stateful-33x17:34x18 stateful-176x100:176x100 stateless-33x17:34x18; do
    f=/tmp/${s%%:*}.h264
    want=${s#*:}
    got=$(ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=p=0:s=x "$f")
    echo "$f: $got (expected $want)"
    test "$got" = "$want"
    decode_clean "$f" /tmp/dec.nv12 "${want%x*}" "${want#*x}"
    test "$frames" -eq 3
done
sleep 6
