# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update pause of the dirty guest (tests/guest/dirty) under KVM, with
512 MiB and 4 GiB of memfd RAM, for cpr-transfer and cpr-exec: medians of
BENCH_CPR_RUNS (10) updates in a row of one guest whose serial client
stays connected. Figures: the guest-visible pause (largest gap between
the chunks the serial client received around the update), `downtime` of
query-migrate (and its x-pause-phases), and STOP on the old side ->
RESUME on the new side from the QMP event timestamps; then the ratio
4 GiB / 512 MiB of each (the pause should not grow with RAM size).
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
ARGS = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1"]
FIGURES = (("gap", "pause ms"), ("downtime", "downtime ms"),
           ("stop-resume", "stop>resume ms"))


def median(values):
    values = [v for v in values
              if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


def one_series(mode, mem):
    g = CprGuest(ARGS + memfd_ram_args(mem), name="bench-%s-%s"
                 % (mode, mem), boot_timeout=60)
    try:
        g.check(memory=False)
        for i in range(RUNS):
            fig = g.transfer() if mode == "cpr-transfer" else g.exec_update()
            g.check(lines=2, memory=False)
            print("  %-12s %4s run %2d: pause %6.2f ms, downtime %s ms, "
                  "stop>resume %s ms%s" % (
                      mode, mem, i + 1, fig["gap"], fig["downtime"],
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


def main():
    if not baton_test.BATON or not baton_test.GUEST_DIR:
        print("bench_cpr: set BATON and GUEST_DIR", file=sys.stderr)
        return 2
    if not kvm_usable():
        print("bench_cpr: SKIPPED: /dev/kvm is not usable")
        return 77
    print("bench_cpr: dirty guest, memfd RAM, one serial client connected "
          "throughout; medians of %d updates" % RUNS)
    t0 = time.monotonic()
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
    print("\n  total bench time %.0f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
