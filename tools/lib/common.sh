# SPDX-License-Identifier: GPL-2.0
# Shared shell helpers for slenc's tools: cache location, logging, the Debian mirror in use.
# Sourced, never run.

SLENC_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Expensive artefacts (kernel source and builds, the guest root tree, bindgen) live outside the
# work tree so fresh clones and `git clean` do not throw them away.
SLENC_CACHE=${SLENC_CACHE:-/var/cache/slenc}
# The kernel series is one variable: Debian backports keeps only the newest series.
KERNEL_SERIES=${KERNEL_SERIES:-7.3}
LLVM_SUFFIX=${LLVM_SUFFIX:--19}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm${LLVM_SUFFIX}/lib}
export PATH="$HOME/.cargo/bin:$SLENC_CACHE/bin:$PATH"

log() { printf '[slenc] %s\n' "$*" >&2; }
die() { printf '[slenc] error: %s\n' "$*" >&2; exit 1; }

# Prints the URI of the Debian archive this machine already uses (the one serving its release's
# main component). We never write a host name into the repo: it is read from apt's own view.
debian_mirror() {
    local uri
    uri=$(apt-cache policy 2>/dev/null |
        awk '$3 ~ /^(bookworm|trixie|forky|sid|stable|testing)\/main$/ { print $2; exit }')
    if [ -z "$uri" ]; then
        apt-get update -qq >/dev/null 2>&1 || true
        uri=$(apt-cache policy 2>/dev/null |
            awk '$3 ~ /^(bookworm|trixie|forky|sid|stable|testing)\/main$/ { print $2; exit }')
    fi
    [ -n "$uri" ] || die "cannot find the Debian mirror in this machine's apt configuration (apt-cache policy shows no */main source)"
    printf '%s\n' "$uri"
}

# A private apt configuration: the machine's own sources plus the given extra suites of the same
# mirror, with lists kept under the cache. The machine's apt configuration is not modified.
# Usage: private_apt NAME "SUITE..." -> prints the -o options to pass to apt-get.
private_apt() {
    local name=$1 suites=$2 dir="$SLENC_CACHE/apt/$1" mirror
    mirror=$(debian_mirror)
    mkdir -p "$dir/sources.list.d" "$dir/lists/partial" "$dir/archives/partial"
    cat >"$dir/sources.list.d/slenc-$name.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    printf '%s\n' "-o Dir::Etc::SourceParts=$dir/sources.list.d -o Dir::Etc::SourceList=/dev/null -o Dir::State::Lists=$dir/lists -o Dir::Cache::Archives=$dir/archives -o APT::Get::List-Cleanup=0"
}

# sha256 of the given strings and files, short, for cache keys. Files are hashed by content
# only (not by path), so every clone of the repository shares one cached build.
cache_key() {
    local item
    for item in "$@"; do
        if [ -f "$item" ]; then sha256sum <"$item"; else printf '%s\n' "$item"; fi
    done | sha256sum | cut -c1-16
}

toolchain_id() {
    printf '%s|%s|%s' "$(rustc --version 2>/dev/null)" "$(bindgen --version 2>/dev/null)" \
        "$(clang${LLVM_SUFFIX} --version 2>/dev/null | head -n1)"
}
