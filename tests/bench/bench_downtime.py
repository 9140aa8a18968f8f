# SPDX-License-Identifier: GPL-2.0-or-later
"""Precopy downtime of baton against a QEMU on the same host, in the same
run: the dirty guest (tests/guest/dirty) with a 31 MiB hot working set that
it re-dirties continuously, 512 MiB and 4 GiB of RAM, one migration over a
unix socket per run and VMM (max-bandwidth 10 GiB/s, downtime-limit
300 ms). For each VMM it prints STOP (source) -> RESUME (destination) from
the event timestamps, the `downtime` that query-migrate reports, total
time, and, for baton, the pause by phase (x-pause-phases); medians of
BENCH_DOWNTIME_RUNS (3) runs, and the baton/QEMU ratios of the medians.

The peer is Debian 12's qemu-system-x86 (7.2). If qemu-system-x86_64 is not
installed, this script (and nothing else in baton) installs it with apt;
BENCH_DOWNTIME_PEER=off skips the peer, and so does a failed install (it
says so). QEMU boots the same image through SeaBIOS, which loads sector 0
at 0x7c00 as baton's pc machine does; the guest then reads its further
sectors over the ATA ports itself and needs no BIOS service.

The machine may be shared: run the bench several times and trust the
ratios of one run more than absolute times. It never judges time."""

import os
import shutil
import statistics
import subprocess
import sys
import time

import baton_test
from baton_test import (Vm, dirty_check_memory, dirty_check_serial,
                        dirty_image, kvm_usable)

RUNS = int(os.environ.get("BENCH_DOWNTIME_RUNS", "3"))
MiB = 1 << 20
GiB = 1 << 30
HOT_START = 16 * MiB
HOT_PAGES = 31 * MiB // 4096
# Many sweeps per serial line: the guest spends its time dirtying memory.
SWEEPS_PER_LINE = 16
CASES = [c for c in os.environ.get("BENCH_DOWNTIME_CASES",
                                   "512M,4G").split(",") if c]
# (label, max-bandwidth, downtime-limit). Capped: the first pass of the
# hot set takes longer than the guest needs to dirty all of it again, so
# the final set is the whole hot set for either VMM (its downtime-limit
# lets that switch over); unlimited: each VMM's own pace decides.
SCENARIOS = [
    ("whole hot set in the final pass: max-bandwidth 64 MiB/s, "
     "downtime-limit 1000 ms", 64 * MiB, 1000),
    ("unlimited: max-bandwidth 10 GiB/s, downtime-limit 300 ms",
     10 * GiB, 300),
]
SCENARIOS = [s for i, s in enumerate(SCENARIOS)
             if str(i) in os.environ.get("BENCH_DOWNTIME_SCENARIOS", "01")]
PHASES = ("stop", "sync", "ram", "devices", "load", "handshake", "resume",
          "total")


def event_time(ev):
    ts = ev["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


def find_qemu():
    """The peer's binary, installing Debian's qemu-system-x86 if needed;
    None (after saying why) if there is none."""
    if os.environ.get("BENCH_DOWNTIME_PEER", "auto") == "off":
        print("bench_downtime: peer disabled (BENCH_DOWNTIME_PEER=off)")
        return None
    path = shutil.which("qemu-system-x86_64")
    if path:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("bench_downtime: qemu-system-x86_64 is not installed and "
              "cannot be installed here (needs root and apt-get); "
              "measuring baton alone")
        return None
    print("bench_downtime: installing qemu-system-x86 for the comparison "
          "(apt-get; benchmark only, baton does not need it)", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends",
                 "qemu-system-x86"]):
        res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        if res.returncode:
            print("bench_downtime: '%s' failed (%d); measuring baton alone:"
                  "\n%s" % (" ".join(cmd), res.returncode,
                            res.stdout[-2000:]))
            return None
    path = shutil.which("qemu-system-x86_64")
    if not path:
        print("bench_downtime: qemu-system-x86 installed but "
              "qemu-system-x86_64 not found; measuring baton alone")
    return path


def qemu_version(path):
    res = subprocess.run([path, "--version"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    return res.stdout.splitlines()[0] if res.stdout else "?"


def wait_completed(qmp, timeout=300):
    """Wait for MIGRATION completed by its event (no polling, which would
    load the monitor during the switchover) and return query-migrate."""
    deadline = time.monotonic() + timeout
    while True:
        ev = qmp.get_event("MIGRATION",
                           timeout=max(deadline - time.monotonic(), 0.1))
        status = ev["data"]["status"]
        if status == "completed":
            # QEMU 7.2 announces "completed" before it has the figures.
            info = qmp.cmd("query-migrate")
            while not info.get("total-time") and time.monotonic() < deadline:
                time.sleep(0.01)
                info = qmp.cmd("query-migrate")
            return info
        if status in ("failed", "cancelled"):
            raise AssertionError("migration %s: %r"
                                 % (status, qmp.cmd("query-migrate")))


def one_run(binary, mem, bandwidth, limit):
    image = dirty_image(start=HOT_START, pages=HOT_PAGES,
                        sweeps_per_line=SWEEPS_PER_LINE, delay=0)
    args = ["-nodefaults", "-display", "none", "-accel", "kvm",
            "-machine", "pc", "-m", mem, "-smp", "1",
            "-drive", "file=%s,format=raw" % image]
    # Fresh names every run: a socket file left behind must not be taken
    # for the new process's.
    src = Vm(args + ["-S"], serial_socket=True, binary=binary)
    dst = Vm(args + ["-incoming", "unix:" + src.path("mig.sock")],
             serial_socket=True, binary=binary)
    try:
        src.launch()
        src.qmp.cmd("cont")
        src.serial.read_until(b"seq 3\n", timeout=120)
        dst.launch()
        baton_test.wait_for(lambda: os.path.exists(src.path("mig.sock")),
                            what="incoming socket")
        for vm in (src, dst):
            vm.qmp.cmd("migrate-set-capabilities",
                       capabilities=[{"capability": "events",
                                      "state": True}])
        src.qmp.cmd("migrate-set-parameters",
                    {"max-bandwidth": bandwidth, "downtime-limit": limit})
        src.qmp.cmd("migrate", uri="unix:" + src.path("mig.sock"))
        info = wait_completed(src.qmp)
        stop = src.qmp.get_event("STOP", timeout=10)
        resume = dst.qmp.get_event("RESUME", timeout=30)
        src_out = bytes(src.serial.data)
        last = dirty_check_serial(src_out)
        dst.serial.read_until(b"seq %d\n" % (last + 2), timeout=60)
        dirty_check_serial(src_out + bytes(dst.serial.data))
        dst.qmp.cmd("stop")
        dirty_check_memory(dst.qmp, HOT_START, HOT_PAGES)
        res = {
            "stop-resume": (event_time(resume) - event_time(stop)) * 1e3,
            "downtime": info["downtime"],
            "total": info["total-time"],
            "syncs": info["ram"]["dirty-sync-count"],
            "final MiB": info["ram"].get("downtime-bytes", 0) / MiB,
        }
        phases = info.get("x-pause-phases", {})
        for name in PHASES:
            if name in phases:
                res["phase " + name] = phases[name] / 1e3
        return res
    finally:
        src.kill()
        dst.kill()
        os.unlink(image)


def median(results, key):
    vals = [r[key] for r in results if key in r]
    return statistics.median(vals) if vals else None


def show_run(who, mem, i, res):
    extra = " ".join("%s %.2f" % (k[6:], v) for k, v in res.items()
                     if k.startswith("phase "))
    print("  %-6s %-4s run %d: stop>resume %6.2f ms, downtime %4d ms, "
          "total %5d ms, %d syncs, final %.1f MiB%s"
          % (who, mem, i + 1, res["stop-resume"], res["downtime"],
             res["total"], res["syncs"], res["final MiB"],
             ("; phases (ms) " + extra) if extra else ""), flush=True)


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def report(label, vmms, table):
    print()
    print("  %s" % label)
    print("  RAM   VMM    stop>resume ms  downtime ms  total ms  final MiB")
    for mem, results in table:
        for who, _ in vmms:
            if not results[who]:
                continue
            print("  %-5s %-6s %14.2f %12.1f %9.1f %10.1f"
                  % (mem, who, median(results[who], "stop-resume"),
                     median(results[who], "downtime"),
                     median(results[who], "total"),
                     median(results[who], "final MiB")))
        for who, _ in vmms:
            if who == "qemu" or not results.get("qemu") or \
                    not results[who]:
                continue
            print("  %-5s %-6s %14s %12s %9s"
                  % (mem, "%s/q" % who[:4],
                     ratio(median(results[who], "stop-resume"),
                           median(results["qemu"], "stop-resume")),
                     ratio(median(results[who], "downtime"),
                           median(results["qemu"], "downtime")),
                     ratio(median(results[who], "total"),
                           median(results["qemu"], "total"))))
    print("  x-pause-phases, median (ms):")
    print("  RAM   VMM    " + " ".join("%9s" % p for p in PHASES))
    for mem, results in table:
        for who, _ in vmms:
            if who == "qemu" or not results[who]:
                continue
            cells = []
            for p in PHASES:
                m = median(results[who], "phase " + p)
                cells.append("%9s" % ("-" if m is None else "%.2f" % m))
            print("  %-5s %-6s " % (mem, who) + " ".join(cells))


def main():
    if not baton_test.BATON or not baton_test.GUEST_DIR:
        print("bench_downtime: set BATON and GUEST_DIR", file=sys.stderr)
        return 2
    if not kvm_usable():
        print("bench_downtime: SKIPPED: /dev/kvm is not usable")
        return 77
    qemu = find_qemu()
    vmms = [("baton", baton_test.BATON)]
    # Another baton build to compare with, e.g. before a change:
    # BENCH_DOWNTIME_OTHER=before=/path/to/baton
    other = os.environ.get("BENCH_DOWNTIME_OTHER", "")
    if "=" in other:
        label, path = other.split("=", 1)
        vmms.append((label[:6], path))
    if qemu:
        vmms.append(("qemu", qemu))
        print("bench_downtime: peer: %s (%s)" % (qemu, qemu_version(qemu)))
    print("bench_downtime: dirty guest, %d MiB hot set re-dirtied "
          "continuously, unix:, medians of %d runs"
          % (HOT_PAGES * 4096 // MiB, RUNS))
    for label, bandwidth, limit in SCENARIOS:
        print("scenario: %s" % label, flush=True)
        table = []
        for mem in CASES:
            results = {who: [] for who, _ in vmms}
            for i in range(RUNS):
                # Alternate who goes first: drifting load hits both alike.
                order = vmms if i % 2 == 0 else list(reversed(vmms))
                for who, binary in order:
                    try:
                        res = one_run(binary, mem, bandwidth, limit)
                    except Exception as exc:  # a broken peer: go on
                        if who == "baton":
                            raise
                        print("  %-6s %-4s run %d failed: %s"
                              % (who, mem, i + 1, exc))
                        continue
                    results[who].append(res)
                    show_run(who, mem, i, res)
            table.append((mem, results))
        report(label, vmms, table)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
