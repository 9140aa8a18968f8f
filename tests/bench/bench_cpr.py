# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update pause of the dirty guest (tests/guest/dirty) under KVM, with
512 MiB and 4 GiB of memfd RAM, for cpr-transfer and cpr-exec: medians of
BENCH_CPR_RUNS (10) updates in a row of one guest whose serial client
stays connected. Figures: the guest-visible pause (largest gap between
the chunks the serial client received around the update), `downtime` of
query-migrate (and its x-pause-phases), and STOP on the old side ->
RESUME on the new side from the QMP event timestamps; then the ratio
4 GiB / 512 MiB of each (the pause should not grow with RAM size).

Then cpr-transfer with 512 MiB and -smp 1, 2, 4 and 8 (the guest runs on
the first vCPU; the others stay parked in wait-for-SIPI, and their state
is saved and loaded all the same): medians of STOP -> RESUME and of each
x-pause-phases entry per vCPU count, and the growth per added vCPU (the
least-squares slope over the counts, and (8 - 1) / 7). With
BENCH_CPR_OTHER=label=/path/to/baton[,label2=...] (e.g. a build of the
commit before a change) the same series runs with those binaries too,
interleaved with this one's per vCPU count (and per device count in the
devices part), so all see the same load on the machine.
Then cpr-transfer with 0, 1 and 8 edu PCI functions (hw/misc/edu.c, whose
config space, registers and 4 KiB DMA buffer go through the main channel
in the pause) at 512 MiB and 4 GiB, -smp 1: medians and 25-75% ranges of
STOP -> RESUME, the x-pause-phases medians, and the growth per added
device (least-squares slope over the counts): the pause should not grow
with the device count beyond the few microseconds of their state.

BENCH_CPR_PARTS=ram, =vcpus or =devices (comma-separated) runs those
parts only (default: all three).

Checks the serial sequence after every update and the page pattern at
the end; never judges time."""

import os
import statistics
import sys
import time

import baton_test
from baton_test import CprGuest, kvm_usable, memfd_ram_args

RUNS = int(os.environ.get("BENCH_CPR_RUNS", "10"))
SIZES = ("512M", "4G")
MODES = ("cpr-transfer", "cpr-exec")
BASE_ARGS = ["-nodefaults", "-display", "none", "-accel", "kvm"]
ARGS = BASE_ARGS + ["-smp", "1"]
VCPUS = (1, 2, 4, 8)
VCPU_MEM = "512M"
DEVICES = (0, 1, 8)
EDU_FIRST_SLOT = 4
PHASES = ("stop", "save", "load", "handshake", "resume", "total")
FIGURES = (("gap", "pause ms"), ("downtime", "downtime ms"),
           ("stop-resume", "stop>resume ms"))


def median(values):
    values = [v for v in values
              if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


def one_series(mode, mem, args=ARGS, binary=None, label=""):
    g = CprGuest(args + memfd_ram_args(mem), name="bench-%s-%s%s"
                 % (mode, mem, label), boot_timeout=60, binary=binary)
    try:
        g.check(memory=False)
        for i in range(RUNS):
            fig = g.transfer() if mode == "cpr-transfer" else g.exec_update()
            g.check(lines=2, memory=False)
            print("  %s%-12s %4s run %2d: pause %6.2f ms, downtime %s ms, "
                  "stop>resume %s ms%s" % (
                      label and label + " ", mode, mem, i + 1, fig["gap"], fig["downtime"],
                      "%.2f" % fig["stop-resume"]
                      if fig["stop-resume"] is not None else "?",
                      ", phases %s" % fig["phases"] if fig["phases"]
                      else ""), flush=True)
        g.check(memory=True)
        return g.updates
    finally:
        g.close()


def fmt(val, width):
    return ("%*.2f" % (width, val)) if val is not None else "?".rjust(width)


def spread(values):
    """(25th, 75th percentile) of VALUES, or None with fewer than 4."""
    values = sorted(v for v in values if v is not None)
    if len(values) < 4:
        return None
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def slope(points):
    """Least-squares slope of [(x, y)], y None left out."""
    points = [(x, y) for x, y in points if y is not None]
    if len(points) < 2:
        return None
    mx = statistics.mean(x for x, _ in points)
    my = statistics.mean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den


def vcpu_part(binaries):
    """cpr-transfer pause per vCPU count, for each (label, binary)."""
    res = {}
    for n in VCPUS:
        for label, binary in binaries:
            ups = one_series("cpr-transfer", VCPU_MEM,
                             BASE_ARGS + ["-smp", str(n)], binary,
                             "%s-smp%d" % (label, n))
            sr = [u["stop-resume"] for u in ups]
            ph = {name: median((u["phases"] or {}).get(name) for u in ups)
                  for name in PHASES}
            res[label, n] = (median(sr), spread(sr), ph)
    print()
    print("  cpr-transfer, %s, by vCPU count: stop>resume ms (median, "
          "25-75%% range), x-pause-phases us (median)" % VCPU_MEM)
    print("  %-8s %5s %9s %17s" % ("binary", "vCPUs", "stop>res", "range")
          + "".join(" %9s" % p for p in PHASES))
    for label, _ in binaries:
        for n in VCPUS:
            med, rng, ph = res[label, n]
            print("  %-8s %5d %s %17s" % (
                label, n, fmt(med, 9),
                "%.2f-%.2f" % rng if rng else "?")
                + "".join(" " + ("%9.0f" % ph[p] if ph[p] is not None
                                 else "?".rjust(9)) for p in PHASES))
    print()
    print("  per added vCPU (least-squares slope over %s; (8-1)/7 in "
          "brackets):" % ", ".join(str(n) for n in VCPUS))
    for label, _ in binaries:
        pts = [(n, res[label, n][0]) for n in VCPUS]
        ls, first, last = slope(pts), res[label, VCPUS[0]][0], \
            res[label, VCPUS[-1]][0]
        two = ((last - first) / (VCPUS[-1] - VCPUS[0])
               if first is not None and last is not None else None)
        parts = ["stop>resume %s ms (%s)" % (fmt(ls, 0).strip(),
                                             fmt(two, 0).strip())]
        for p in PHASES:
            s = slope([(n, res[label, n][2][p]) for n in VCPUS])
            parts.append("%s %s us" % (p, "%.0f" % s if s is not None
                                        else "?"))
        print("  %-8s %s" % (label, ", ".join(parts)))


def edu_args(n):
    """N edu functions at slots 4, 5, ... of the pc machine's pci.0."""
    return [a for i in range(n) for a in
            ("-device", "edu,id=edu%d,addr=%x" % (i, EDU_FIRST_SLOT + i))]


def device_part(binaries):
    """cpr-transfer pause per edu device count, at each RAM size, for each
    (label, binary), interleaved per count."""
    res = {}
    for mem in SIZES:
        for n in DEVICES:
            for label, binary in binaries:
                ups = one_series("cpr-transfer", mem, ARGS + edu_args(n),
                                 binary, "%s-edu%d" % (label, n))
                sr = [u["stop-resume"] for u in ups]
                ph = {name: median((u["phases"] or {}).get(name)
                                   for u in ups) for name in PHASES}
                res[label, mem, n] = (median(sr), spread(sr), ph)
    print()
    print("  cpr-transfer, -smp 1, by edu device count: stop>resume ms "
          "(median, 25-75% range), x-pause-phases us (median)")
    print("  %-8s %-6s %7s %9s %17s" % ("binary", "RAM", "devices",
                                        "stop>res", "range")
          + "".join(" %9s" % p for p in PHASES))
    for label, _ in binaries:
        for mem in SIZES:
            for n in DEVICES:
                med, rng, ph = res[label, mem, n]
                print("  %-8s %-6s %7d %s %17s" % (
                    label, mem, n, fmt(med, 9),
                    "%.2f-%.2f" % rng if rng else "?")
                    + "".join(" " + ("%9.0f" % ph[p] if ph[p] is not None
                                     else "?".rjust(9)) for p in PHASES))
    print()
    print("  per added edu device (least-squares slope over %s):"
          % ", ".join(str(n) for n in DEVICES))
    for label, _ in binaries:
        for mem in SIZES:
            ls = slope([(n, res[label, mem, n][0]) for n in DEVICES])
            parts = ["stop>resume %s us" % ("%.1f" % (ls * 1000)
                                             if ls is not None else "?")]
            for p in PHASES:
                s = slope([(n, res[label, mem, n][2][p]) for n in DEVICES])
                parts.append("%s %s us" % (p, "%.1f" % s if s is not None
                                            else "?"))
            print("  %-8s %-6s %s" % (label, mem, ", ".join(parts)))


def main():
    if not baton_test.BATON or not baton_test.GUEST_DIR:
        print("bench_cpr: set BATON and GUEST_DIR", file=sys.stderr)
        return 2
    if not kvm_usable():
        print("bench_cpr: SKIPPED: /dev/kvm is not usable")
        return 77
    parts = os.environ.get("BENCH_CPR_PARTS",
                           "ram,vcpus,devices").split(",")
    unknown = set(parts) - {"ram", "vcpus", "devices"}
    if unknown:
        print("bench_cpr: unknown BENCH_CPR_PARTS %s (ram, vcpus, devices)"
              % ",".join(sorted(unknown)), file=sys.stderr)
        return 2
    binaries = [("this", None)]
    for other in filter(None, os.environ.get("BENCH_CPR_OTHER",
                                             "").split(",")):
        if "=" not in other:
            print("bench_cpr: BENCH_CPR_OTHER must be label=/path/to/baton"
                  "[,...]", file=sys.stderr)
            return 2
        binaries.append(tuple(other.split("=", 1)))
    print("bench_cpr: dirty guest, memfd RAM, one serial client connected "
          "throughout; medians of %d updates" % RUNS)
    for label, path in binaries:
        print("  %s: %s" % (label, path or baton_test.BATON))
    t0 = time.monotonic()
    if "vcpus" in parts:
        vcpu_part(binaries)
    if "ram" in parts:
        ram_part()
    if "devices" in parts:
        device_part(binaries)
    print("\n  total bench time %.0f s" % (time.monotonic() - t0))
    return 0


def ram_part():
    med = {}
    phases = {}
    for mode in MODES:
        for mem in SIZES:
            ups = one_series(mode, mem)
            med[mode, mem] = {key: median(u[key] for u in ups)
                              for key, _ in FIGURES}
            names = []
            for u in ups:
                for name in (u["phases"] or {}):
                    if name not in names:
                        names.append(name)
            phases[mode, mem] = {
                name: median((u["phases"] or {}).get(name) for u in ups)
                for name in names}
    print()
    head = "  %-12s %-8s" % ("mode", "RAM") + "".join(
        " %14s" % h for _, h in FIGURES)
    print(head)
    for mode in MODES:
        for mem in SIZES:
            print("  %-12s %-8s" % (mode, mem) + "".join(
                " " + fmt(med[mode, mem][k], 14) for k, _ in FIGURES))
        ratio = {}
        for k, _ in FIGURES:
            small, big = med[mode, SIZES[0]][k], med[mode, SIZES[1]][k]
            ratio[k] = big / small if small and big is not None else None
        print("  %-12s %-8s" % (mode, "4G/512M") + "".join(
            " " + ("%13.2fx" % ratio[k] if ratio[k] is not None
                   else "?".rjust(14)) for k, _ in FIGURES))
    if any(phases.values()):
        print()
        print("  x-pause-phases (median, us):")
        for (mode, mem), ph in phases.items():
            print("  %-12s %-8s %s" % (mode, mem, ", ".join(
                "%s %s" % (n, "%.0f" % v if v is not None else "?")
                for n, v in ph.items()) or "(none)"))


if __name__ == "__main__":
    sys.exit(main())
