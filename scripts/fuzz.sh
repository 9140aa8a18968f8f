#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Longer libFuzzer runs by hand (`make fuzz`), outside `make check`:
#   scripts/fuzz.sh [SECONDS] [libFuzzer options...]
# Configures its own clang build (build-fuzz/, or $FUZZ_BUILD) with
# -Dfuzzing=true, ASan+UBSan and coverage instrumentation, builds
# fuzz-migration-load and runs it on tests/fuzz/corpus. New inputs go to
# build-fuzz/fuzz-corpus/, crashes to build-fuzz/fuzz-artifacts/; replay one
# with: build-fuzz/tests/fuzz/fuzz-migration-load FILE
set -e
srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=${FUZZ_BUILD:-$srcdir/build-fuzz}
seconds=${1:-300}
[ $# -gt 0 ] && shift

# Debian 12: clang 14 and its runtime libraries (libFuzzer, sanitizers).
PKGS="clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "fuzz.sh: missing packages:$missing (run as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi

if [ ! -f "$builddir/build.ninja" ]; then
    # -fsanitize=fuzzer-no-link gives every object coverage feedback; only
    # the fuzz target links libFuzzer itself. Warnings are not fatal here:
    # this build uses another compiler than CI's.
    CC=clang meson setup "$builddir" "$srcdir" \
        -Dfuzzing=true -Dwerror_ci=false \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$builddir" tests/fuzz/fuzz-migration-load
mkdir -p "$builddir/fuzz-corpus" "$builddir/fuzz-artifacts"
exec "$builddir/tests/fuzz/fuzz-migration-load" \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$builddir/fuzz-artifacts/" "$@" \
    "$builddir/fuzz-corpus" "$srcdir/tests/fuzz/corpus"
