#!/bin/sh
# vm-run: --no-module
# Without slenc.sim= and without a device-tree match, loading creates no video node; an unknown
# variant is refused.
set -e
insmod /repo/build/x86_64/slenc.ko
test ! -e /dev/video0
rmmod slenc
if insmod /repo/build/x86_64/slenc.ko sim=nonsense; then
    echo "an unknown variant was accepted"
    exit 1
fi
dmesg | grep -q "unknown sim variant 'nonsense'"
