#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every test through meson and end with "N passed, N failed[, N skipped]".
# Usage: scripts/run-tests.sh [--sanitized SANDIR] BUILD [meson test args]
# With --sanitized, the tests registered in SANDIR (an ASan+UBSan build:
# unit, fuzz and qtest-based functional tests) run after BUILD's, and the
# last line counts both. That line is also written to BUILD/test-summary.txt
# for .ci/run.
san=
if [ "$1" = --sanitized ]; then
    san=$2
    shift 2
fi
build=${1:-build}
[ $# -gt 0 ] && shift
ok=0 fail=0 skip=0

# run_suite DIR [meson test args]: adds DIR's counts to the totals.
run_suite() {
    dir=$1
    shift
    rc_file="$dir/test-rc.txt"
    { meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" 2>&1;
      echo $? > "$rc_file"; } | tee "$dir/test-output.txt"
    status=$(cat "$rc_file")
    # meson's summary block: "Ok: N", "Expected Fail:", "Fail: N",
    # "Unexpected Pass:", "Skipped: N", "Timeout: N"
    get() { awk -v k="$1" '$1 == k {print $2}' "$dir/test-output.txt" |
            tail -n 1; }
    o=$(get Ok:); f=$(get Fail:); s=$(get Skipped:); t=$(get Timeout:)
    o=${o:-0}; f=$(( ${f:-0} + ${t:-0} )); s=${s:-0}
    [ "$status" != 0 ] && [ "$f" = 0 ] && f=1
    echo "$dir: $o passed, $f failed, $s skipped"
    ok=$((ok + o)); fail=$((fail + f)); skip=$((skip + s))
}

run_suite "$build" "$@"
[ -n "$san" ] && run_suite "$san" "$@"
line="$ok passed, $fail failed"
[ "$skip" != 0 ] && line="$line, $skip skipped"
echo "$line" > "$build/test-summary.txt"
echo "$line"
[ "$fail" = 0 ]
