#!/bin/sh
# vm-run: --sim cedrus-v3s --kmemleak
# Per-context statistics in debugfs (tools/tests/guest/lib/t_debugfs.py).
set -e
python3 tools/tests/guest/lib/t_debugfs.py
sleep 6
