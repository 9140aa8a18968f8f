#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every test through meson and end with "N passed, N failed[, N skipped]".
# The same line is written to BUILD/test-summary.txt for .ci/run.
build=${1:-build}
[ $# -gt 0 ] && shift
rc_file="$build/test-rc.txt"
{ meson test -C "$build" --print-errorlogs --num-processes 2 "$@" 2>&1; echo $? > "$rc_file"; } \
    | tee "$build/test-output.txt"
status=$(cat "$rc_file")
# meson's summary block: "Ok: N", "Expected Fail:", "Fail: N", "Unexpected Pass:", "Skipped: N", "Timeout: N"
get() { awk -v k="$1" '$1 == k {print $2}' "$build/test-output.txt" | tail -n 1; }
ok=$(get Ok:); fail=$(get Fail:); skip=$(get Skipped:); to=$(get Timeout:); up=$(get "Unexpected")
ok=${ok:-0}; fail=$(( ${fail:-0} + ${to:-0} )); skip=${skip:-0}
[ "$status" != 0 ] && [ "$fail" = 0 ] && fail=1
line="$ok passed, $fail failed"
[ "$skip" != 0 ] && line="$line, $skip skipped"
echo "$line" > "$build/test-summary.txt"
echo "$line"
[ "$fail" = 0 ]
