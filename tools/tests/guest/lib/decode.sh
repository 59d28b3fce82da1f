# SPDX-License-Identifier: GPL-2.0
# Shared by the guest tests (source it: . tools/tests/guest/lib/decode.sh).
#
# decode_clean STREAM RAW [WIDTH HEIGHT]
#   Decodes the H.264 STREAM to NV12 in RAW with ffmpeg, the oracle every guest test uses; the
#   test fails, showing ffmpeg's messages, if ffmpeg warned about anything. With WIDTH and
#   HEIGHT, sets $frames to the number of pictures decoded and prints it.
decode_clean() {
    # -y: RAW may be left over from an earlier decode (without it ffmpeg waits on a prompt).
    ffmpeg -y -v warning -i "$1" -f rawvideo -pix_fmt nv12 "$2" 2>/tmp/ffmpeg.log
    if [ -s /tmp/ffmpeg.log ]; then
        cat /tmp/ffmpeg.log
        echo "$1: ffmpeg warned while decoding"
        exit 1
    fi
    if [ -n "${3:-}" ]; then
        frames=$(($(stat -c %s "$2") / ($3 * $4 * 3 / 2)))
        echo "$1: decoded $frames pictures"
    fi
}
