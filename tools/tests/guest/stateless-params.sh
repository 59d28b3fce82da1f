#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Malformed ENCODE_PARAMS on the stateless node (tools/tests/guest/lib/t_params.py): every
# field the uAPI bounds, set out of range, is refused with EINVAL (S/TRY_EXT_CTRLS, and into a
# request) and leaves the control as it was; a first frame that is not an IDR and a B slice
# come back with ERROR on both buffers, their requests completed; the frames around them
# encode, and those decode in ffmpeg without a warning.
set -e
. tools/tests/guest/lib/decode.sh
python3 tools/tests/guest/lib/t_params.py /tmp/params.h264
decode_clean /tmp/params.h264 /tmp/dec.nv12 96 64
test "$frames" -eq 4
# kmemleak only reports objects older than 5 s: let the last frames' allocations age.
sleep 6
