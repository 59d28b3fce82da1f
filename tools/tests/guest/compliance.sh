#!/bin/sh
# vm-run: --sim cedrus-v3s
# v4l2-compliance 1.30 (the guest's): no failure on either node, also in the streaming tests
# (-s), which run real encodes through the model (on the stateless node with media requests).
set -e
check() {
    out=$(v4l2-compliance "$@" 2>&1) || true
    echo "$out" | grep -E "fail|Total" || true
    echo "$out" | grep -qE "^Total for slenc device .*: [0-9]+, Succeeded: [0-9]+, Failed: 0, Warnings: [0-9]+" || {
        echo "$out"
        echo "v4l2-compliance $* reports failures"
        exit 1
    }
}
check -d /dev/video0
check -d /dev/video1
check -s -d /dev/video0
check -s -d /dev/video1
