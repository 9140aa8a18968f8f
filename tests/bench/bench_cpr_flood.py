# SPDX-License-Identifier: GPL-2.0-or-later
"""The cpr-transfer pause with and without monitor load: the dirty guest
(KVM, 256 MiB memfd RAM, one vCPU) with a second QMP socket, updated
BENCH_CPR_FLOOD_RUNS (10) times in a row without load, then as often
while a client pipelines query-status / query-migrate on that second
monitor (QmpFlood: BENCH_CPR_FLOOD_DEPTH, 20,000, commands in flight, as
in the report that found the problem). Prints per update and as
medians: `downtime`, STOP -> RESUME from the event timestamps, the serial
gap around the update and the x-pause-phases, then flood / quiet
ratios. Checks that every flood command got its reply, in order, and
the guest's serial sequence; never judges time."""

import os
import socket
import statistics
import sys
import time

import baton_test
from baton_test import CprGuest, QmpFlood, kvm_usable, memfd_ram_args

RUNS = int(os.environ.get("BENCH_CPR_FLOOD_RUNS", "10"))
DEPTH = int(os.environ.get("BENCH_CPR_FLOOD_DEPTH", "20000"))
ARGS = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1"]
PHASES = ("stop", "save", "load", "handshake", "resume", "total")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def series(g, label):
    figs = []
    for i in range(RUNS):
        fig = g.transfer()
        g.check(lines=2, memory=False)
        figs.append(fig)
        print("  %-5s run %2d: downtime %s ms, stop>resume %s ms, gap %.1f "
              "ms, phases %s" % (
                  label, i + 1, fig["downtime"],
                  "%.2f" % fig["stop-resume"]
                  if fig["stop-resume"] is not None else "?",
                  fig["gap"], fig["phases"]), flush=True)
    return figs


def summary(figs):
    out = {"downtime": median(f["downtime"] for f in figs),
           "stop>resume": median(f["stop-resume"] for f in figs),
           "gap": median(f["gap"] for f in figs),
           "max downtime": max((f["downtime"] or 0) for f in figs)}
    for p in PHASES:
        out[p] = median((f["phases"] or {}).get(p) for f in figs)
    return out


def main():
    if not baton_test.BATON or not baton_test.GUEST_DIR:
        print("bench_cpr_flood: set BATON and GUEST_DIR", file=sys.stderr)
        return 2
    if not kvm_usable():
        print("bench_cpr_flood: SKIPPED: /dev/kvm is not usable")
        return 77
    t0 = time.monotonic()
    qmp2 = os.path.join(baton_test.tmpdir(), "flood-qmp2.sock")
    g = CprGuest(ARGS + memfd_ram_args("256M") +
                 ["-qmp", "unix:%s,server=on,wait=off" % qmp2],
                 name="bench-flood", boot_timeout=60)
    sock = None
    try:
        g.check(memory=False)
        print("bench_cpr_flood: cpr-transfer, medians of %d updates each"
              % RUNS)
        quiet = series(g, "quiet")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(qmp2)
        flood = QmpFlood(sock, DEPTH)
        flood.wait_replies(DEPTH)
        start = flood.sent
        loaded = series(g, "flood")
        sent = flood.stop()
        ids = flood.wait_all(sent)
        if ids != list(range(1, sent + 1)):
            raise AssertionError("flood: %d replies for %d commands, or out "
                                 "of order" % (len(ids), sent))
        g.check(memory=True)
    finally:
        if sock:
            sock.close()
        g.close()
    q, f = summary(quiet), summary(loaded)
    print("\n  %d commands pipelined during the flood series (%d before it)"
          % (sent - start, start))
    print("  %-14s %10s %10s %10s" % ("median", "quiet", "flood", "ratio"))
    for key in ("downtime", "max downtime", "stop>resume", "gap") + PHASES:
        unit = "us" if key in PHASES else "ms"
        a, b = q[key], f[key]
        print("  %-14s %10s %10s %10s" % (
            "%s (%s)" % (key, unit),
            "%.2f" % a if a is not None else "?",
            "%.2f" % b if b is not None else "?",
            "%.2fx" % (b / a) if a and b is not None else "?"))
    print("\n  total bench time %.0f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
