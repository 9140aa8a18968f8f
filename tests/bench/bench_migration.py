# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration of the dirty guest (tests/guest/dirty) between two baton
processes over a unix socket, under KVM: 512 MiB and 4 GiB of RAM, idle
(one page dirtied) and dirtying 64 MiB, with max-bandwidth 10 GiB/s and
downtime-limit 300 ms. Prints total time, downtime (baton's figure and
STOP on the source -> RESUME on the destination from event timestamps),
bytes transferred, throughput (sent bytes / total time), RAM size / total
time, and dirty syncs, as medians of BENCH_MIGRATION_RUNS (5) runs.
Checks the guest's pages and that it goes on after each migration; never
judges time."""

import os
import statistics
import sys
import time

import baton_test
from baton_test import (Vm, dirty_check_memory, dirty_check_serial,
                        dirty_image, kvm_usable, wait_migration,
                        wait_runstate)

RUNS = int(os.environ.get("BENCH_MIGRATION_RUNS", "5"))
MiB = 1 << 20
GiB = 1 << 30
DIRTY_PAGES = 64 * MiB // 4096

# name, -m, first page, pages
CASES = [
    ("512M idle", "512M", 16 * MiB, 1),
    ("512M dirty 64M", "512M", 16 * MiB, DIRTY_PAGES),
    ("4G idle", "4G", 16 * MiB, 1),
    ("4G dirty 64M@4G+", "4G", 4 * GiB + 16 * MiB, DIRTY_PAGES),
]


def event_time(ev):
    ts = ev["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


def one_run(mem, start, pages):
    image = dirty_image(start=start, pages=pages)
    args = ["-nodefaults", "-display", "none", "-accel", "kvm",
            "-machine", "pc", "-m", mem, "-smp", "1",
            "-drive", "file=%s,format=raw" % image]
    src = Vm(args + ["-S"], serial_socket=True, name="bsrc")
    dst = Vm(args + ["-incoming", "unix:" + src.path("mig.sock")],
             serial_socket=True, name="bdst")
    try:
        src.launch()
        src.qmp.cmd("cont")
        src.serial.read_until(b"seq 3\n", timeout=60)
        dst.launch()
        baton_test.wait_for(lambda: os.path.exists(src.path("mig.sock")),
                            what="incoming socket")
        src.qmp.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": "events", "state": True}])
        src.qmp.cmd("migrate-set-parameters",
                    {"max-bandwidth": 10 * GiB, "downtime-limit": 300})
        t0 = time.monotonic()
        src.qmp.cmd("migrate", uri="unix:" + src.path("mig.sock"))
        info = wait_migration(src.qmp, timeout=300, interval=0.01)
        wall = time.monotonic() - t0
        stop = src.qmp.get_event("STOP", timeout=10)
        resume = dst.qmp.get_event("RESUME", timeout=30)
        wait_runstate(dst.qmp, "running")
        src_out = bytes(src.serial.data)
        last = dirty_check_serial(src_out)
        dst.serial.read_until(b"seq %d\n" % (last + 2), timeout=30)
        dirty_check_serial(src_out + bytes(dst.serial.data))
        dst.qmp.cmd("stop")
        dirty_check_memory(dst.qmp, start, pages)
        passes = sum(1 for e in src.qmp.events
                     if e["event"] == "MIGRATION_PASS")
        ram = info["ram"]
        total_ms = info["total-time"]
        return {
            "total": total_ms,
            "downtime": info["downtime"],
            "setup": info.get("setup-time", 0),
            "stop-resume": (event_time(resume) - event_time(stop)) * 1e3,
            "wall": wall * 1e3,
            "transferred": ram["transferred"],
            "mbps": ram["transferred"] / 1e6 / (total_ms / 1e3)
            if total_ms else 0.0,
            "scan": ram["total"] / 1e9 / (total_ms / 1e3)
            if total_ms else 0.0,
            "syncs": ram["dirty-sync-count"],
            "passes": passes,
            "normal": ram["normal"],
            "duplicate": ram["duplicate"],
        }
    finally:
        src.kill()
        dst.kill()
        os.unlink(image)


COLUMNS = [
    ("total", "total ms", "%9.1f"),
    ("downtime", "downtime ms", "%11.1f"),
    ("stop-resume", "stop>resume ms", "%14.2f"),
    ("setup", "setup ms", "%8.1f"),
    ("transferred", "sent MiB", "%8.1f"),
    ("mbps", "MB/s", "%7.0f"),
    ("scan", "RAM GB/s", "%8.1f"),
    ("syncs", "syncs", "%5d"),
    ("normal", "normal pg", "%9d"),
    ("duplicate", "zero pg", "%8d"),
]


def fmt_row(name, res):
    cells = []
    for key, head, fmt in COLUMNS:
        val = res[key] / MiB if key == "transferred" else res[key]
        if "d" in fmt:
            val = int(round(val))
        cells.append((fmt % val).rjust(len(head)))
    return "  %-18s %s" % (name, " ".join(cells))


def main():
    if not baton_test.BATON or not baton_test.GUEST_DIR:
        print("bench_migration: set BATON and GUEST_DIR", file=sys.stderr)
        return 2
    if not kvm_usable():
        print("bench_migration: SKIPPED: /dev/kvm is not usable")
        return 77
    print("bench_migration: dirty guest over unix:, max-bandwidth 10 GiB/s, "
          "downtime-limit 300 ms, medians of %d runs" % RUNS)
    header = "  %-18s %s" % ("case", " ".join(h for _, h, _ in COLUMNS))
    rows = []
    for name, mem, start, pages in CASES:
        results = []
        for i in range(RUNS):
            res = one_run(mem, start, pages)
            results.append(res)
            print("  %s run %d: total %.1f ms, downtime %.1f ms, "
                  "stop>resume %.2f ms, %.1f MiB, %.0f MB/s, %d syncs"
                  % (name, i + 1, res["total"], res["downtime"],
                     res["stop-resume"], res["transferred"] / MiB,
                     res["mbps"], res["syncs"]), flush=True)
        med = {key: statistics.median(r[key] for r in results)
               for key in results[0]}
        rows.append(fmt_row(name, med))
    print()
    print(header)
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
