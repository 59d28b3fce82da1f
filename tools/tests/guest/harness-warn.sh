#!/bin/sh
# vm-run: --sim cedrus-v3s --module-args selftest_warn=1
# expect: fail
# Harness self-test: a WARN_ON in the module (the selftest_warn hook) must make vm-run fail even
# though the command itself succeeds.
true
