# SPDX-License-Identifier: GPL-2.0
# slenc: the two commands are `make demo` and `make check` (README.md).
#
#   make                      build slenc.ko for the x86_64 test kernel (build/x86_64/slenc.ko)
#   make KDIR=/path ARCH=arm  build slenc.ko against any Rust-enabled kernel build tree
#   make cross                build slenc.ko for the arm and arm64 test kernels
#   make check                every test: host, module builds, intrinsic scan, guest tests
#   make demo                 boot the guest with slenc on a simulated device and show it
#
# Set up the host (packages, kernel source, toolchains) with tools/setup-host; every target below
# that needs it runs it first, and it is quick when nothing is missing.

SHELL := /bin/bash
LLVM ?= -19
BUILD := $(CURDIR)/build
CACHE ?= /var/cache/slenc
export SLENC_CACHE := $(CACHE)
# bindgen-cli lives in the cache (tools/setup-host); libclang is LLVM 19's.
export PATH := $(CACHE)/bin:$(HOME)/.cargo/bin:$(PATH)
export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib

ifdef KDIR
# A board user's kernel tree: build against it as is, with the ARCH/LLVM it was built with.
ARCH ?= $(shell uname -m | sed -e 's/aarch64/arm64/' -e 's/armv7.*/arm/')
default:
	$(MAKE) -C $(KDIR) M=$(CURDIR) MO=$(BUILD)/$(ARCH) ARCH=$(ARCH) LLVM=$(LLVM) modules
	@echo "built $(BUILD)/$(ARCH)/slenc.ko"
else
default: module
endif

.PHONY: default setup module cross check demo clean

setup:
	@tools/setup-host

# The module against a test kernel from tools/build-kernel (cached outside the work tree).
module-%: setup
	@kdir=$$(tools/build-kernel $*) && \
	$(MAKE) -s -C $$kdir M=$(CURDIR) MO=$(BUILD)/$* ARCH=$* LLVM=$(LLVM) modules && \
	echo "built $(BUILD)/$*/slenc.ko"

module: module-x86_64
cross: module-arm module-arm64

check: setup
	@tools/check

demo: setup
	@tools/demo

clean:
	rm -rf $(BUILD) out
	cargo clean
