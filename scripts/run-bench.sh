#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every tests/bench/bench_*.py against BUILD_DIR and print its figures.
# Benchmarks never pass or fail on time; this fails only if one breaks.
# Usage: scripts/run-bench.sh [BUILD_DIR]
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd) || exit 1
if [ ! -x "$build/baton" ]; then
    echo "run-bench: $build/baton does not exist; build first (make)" >&2
    exit 1
fi
BATON="$build/baton"
GUEST_DIR="$build/tests/guest"
PYTHONPATH="$src/tests/functional${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export BATON GUEST_DIR PYTHONPATH PYTHONDONTWRITEBYTECODE

broken=0
for bench in "$src"/tests/bench/bench_*.py; do
    [ -e "$bench" ] || continue
    echo "=== $(basename "$bench" .py) ==="
    python3 "$bench"
    rc=$?
    case $rc in
    0) ;;
    77) echo "($(basename "$bench") skipped)" ;;
    *) echo "($(basename "$bench") broke: exit status $rc)"; broken=1 ;;
    esac
    echo
done
exit $broken
