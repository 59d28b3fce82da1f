#!/bin/sh
# vm-run: --sim cedrus-v3s
# expect: fail
# Harness self-test: a command that fails in the guest must make vm-run fail.
exit 3
