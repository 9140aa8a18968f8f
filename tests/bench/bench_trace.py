# SPDX-License-Identifier: GPL-2.0-or-later
"""The cost of tracing compiled in and off: runs BUILD/tests/bench/
bench-trace (a tight loop calling a function with a trace point, against
the same function without it) and, through QMP, the round trip of
query-status with tracing off and with an enabled event that matches
nothing on that path. Prints medians and ratios; never judges time."""

import os
import statistics
import subprocess
import sys
import time

import baton_test
from baton_test import BATON, Vm

RUNS = int(os.environ.get("BENCH_TRACE_RUNS", "7"))
ROUND_TRIPS = int(os.environ.get("BENCH_TRACE_ROUND_TRIPS", "2000"))
BASE = ["-nodefaults", "-display", "none", "-accel", "qtest",
        "-machine", "none"]


def qmp_round_trip_us(extra):
    """Median of RUNS batches of ROUND_TRIPS query-status, in us each."""
    vm = Vm(BASE + extra)
    with vm.launch():
        batches = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            for _ in range(ROUND_TRIPS):
                vm.qmp.cmd("query-status")
            batches.append((time.perf_counter() - t0) / ROUND_TRIPS * 1e6)
        vm.shutdown()
    return statistics.median(batches)


def main():
    binary = os.path.join(os.path.dirname(BATON), "tests", "bench",
                          "bench-trace")
    if not os.path.exists(binary):
        print("SKIP: %s is not built" % binary)
        return 77
    sys.stdout.flush()
    subprocess.run([binary, os.environ.get("BENCH_TRACE_CALLS", "20000000"),
                    str(RUNS)], check=True)

    off = qmp_round_trip_us([])
    # An enabled event that never fires on this path (no KVM under qtest).
    other = qmp_round_trip_us(["-trace", "kvm_run_exit"])
    print("QMP query-status round trip, median of %d batches of %d:"
          % (RUNS, ROUND_TRIPS))
    print("  %-38s %8.2f us" % ("tracing off", off))
    print("  %-38s %8.2f us  (ratio %.3f)" % ("kvm_run_exit on (not on path)",
                                              other, other / off))
    return 0


if __name__ == "__main__":
    sys.exit(main())
