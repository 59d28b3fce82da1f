#!/bin/sh
# vm-run: --sim cedrus-v3s
# The simulated V3s registers two slenc nodes: the stateless H.264 encoder and the stateful one.
set -e
out=$(v4l2-ctl --all -d /dev/video0)
echo "$out"
echo "$out" | grep -q "Driver name *: slenc"
echo "$out" | grep -q "Card type *: cedrus-v3s-h264-sl"
v4l2-ctl --info -d /dev/video1 | grep -q "Card type *: cedrus-v3s-enc"
