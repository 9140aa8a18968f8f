# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update (cpr-transfer) of a machine with 0, 1 and 4 vfio-pci
functions (the dmatest device of tests/hostsim, streaming DMA into guest
RAM throughout) over the legacy container and over iommufd
(BENCH_VFIO_TRANSPORTS, both), with 512 MiB and 4 GiB of memfd RAM,
under -accel qtest: medians of BENCH_VFIO_RUNS (5) updates of STOP on
the old side -> RESUME on the new side (QMP event timestamps), and the
number of VFIO and iommufd ioctls both processes made inside that pause
(trace timestamps). Legacy: one UNMAP_DMA (VADDR|ALL) per container in
the old process and one MAP_DMA (VADDR) per RAM section and per mmap'ed
BAR part (peer-to-peer DMA; one per function) in the new one;
iommufd: one IOAS_CHANGE_PROCESS per iommufd with a device attached (none
with 0 devices: nothing is pinned) in the new process and nothing per RAM
section (the IOAS keeps its file mappings), whatever the RAM size or
device count. A simulator ioctl
costs far more than a kernel one, so the count is the honest figure.
Then the growth per added device (least-squares slope over the counts).
Checks that no record was lost and no fault happened; never judges time."""

import os
import re
import statistics
import subprocess
import sys

import baton_test
from baton_test import (Vm, cpr_channels, cpr_incoming_args, event_seconds,
                        tmpdir, unix_listening, wait_for, wait_migration,
                        wait_runstate)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "functional"))
from test_vfio import (BASE, FAULTS, HOSTSIMD, LIBHOSTSIM, Dmatest, Hostsim,
                       SLOT)  # noqa: E402

RUNS = int(os.environ.get("BENCH_VFIO_RUNS", "5"))
SIZES = ("512M", "4G")
DEVICES = (0, 1, 4)
TRANSPORTS = os.environ.get("BENCH_VFIO_TRANSPORTS",
                            "legacy,iommufd").split(",")
TRACE = re.compile(r"^\d+@(\d+\.\d+):(?:vfio|iommufd)_ioctl fd \d+ (\w+)",
                   re.M)


class Case:
    """Just enough of a TestCase for Hostsim's cleanups."""

    def __init__(self):
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def done(self):
        for fn, args in reversed(self.cleanups):
            fn(*args)


def ioctls_between(text, t0, t1):
    return [m.group(2) for m in TRACE.finditer(text)
            if t0 <= float(m.group(1)) <= t1]


def run(ndev, mem, transport):
    case = Case()
    bdfs = ["0000:%02x:00.0" % (i + 1) for i in range(max(ndev, 1))]
    hs = Hostsim(case, ["%s,type=dmatest,group=%d" % (b, 5 + i)
                        for i, b in enumerate(bdfs)])
    args = BASE + ["-object", "memory-backend-memfd,id=ram0,size=" + mem,
                   "-machine", "pc,memory-backend=ram0", "-m", mem,
                   "-trace", "enable=vfio_ioctl", "-trace",
                   "enable=iommufd_ioctl"]
    prop = ""
    if transport == "iommufd":
        args += ["-object", "iommufd,id=iommufd0"]
        prop = ",iommufd=iommufd0"
    for i in range(ndev):
        args += ["-device", "vfio-pci,host=%s,addr=%x%s"
                 % (bdfs[i], SLOT + i, prop)]
    vm = Vm(args, name="bench%d-%s-%s" % (ndev, mem, transport))
    qpath = vm.path("qtest.sock")
    vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qpath]
    vm.extra_env = hs.env
    vm.launch()
    qt = baton_test.QtestClient(qpath)
    ds = [Dmatest(qt, SLOT + i) for i in range(ndev)]
    for i, d in enumerate(ds):
        d.start_ring(0x200000 + i * 0x100000, 4096, period_us=200)
    pauses, counts, procs = [], [], [vm]
    try:
        for r in range(RUNS):
            main, cpr = vm.path("m%d.sock" % r), vm.path("c%d.sock" % r)
            new = Vm(vm.command()[1:] + cpr_incoming_args(main, cpr),
                     qmp=False, name="%s-n%d" % (vm.name, r))
            new.extra_env = hs.env
            new.launch()
            procs.append(new)
            wait_for(lambda: unix_listening(cpr) or new._died(),
                     what="cpr socket")
            mark = len(vm.qmp.events)
            vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
            vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
            wait_migration(vm.qmp)
            wait_runstate(vm.qmp, "running")
            vm.qmp.cmd("query-status")
            evs = vm.qmp.events[mark:]
            stop = next(e for e in evs if e["event"] == "STOP")
            resume = next(e for e in evs if e["event"] == "RESUME"
                          and event_seconds(e) >= event_seconds(stop))
            t0, t1 = event_seconds(stop), event_seconds(resume)
            pauses.append((t1 - t0) * 1e3)
            procs[-2].proc.terminate()
            procs[-2].proc.wait(10)  # not wait(): it closes the clients
            text = procs[-2].stderr_text() + new.stderr_text()
            counts.append(len(ioctls_between(text, t0, t1)))
            kinds = kinds_of(text, t0, t1)
            for d in ds:
                d.drain()
        for d in ds:
            d.drain()
            assert (d.missing, d.corrupt, d.rd(FAULTS)) == (0, 0, 0), \
                (d.missing, d.corrupt)
    finally:
        qt.close()
        for p in procs:
            p.kill()
        case.done()
    return statistics.median(pauses), statistics.median(counts), kinds


def kinds_of(text, t0, t1):
    return sorted(set(ioctls_between(text, t0, t1)))


def main():
    if not (os.path.exists(HOSTSIMD) and os.path.exists(LIBHOSTSIM)):
        baton_test.skip("tests/hostsim is not built")
    print("cpr-transfer with vfio-pci (-accel qtest), medians of %d" % RUNS)
    print("%-8s %-6s %-8s %16s %8s  %s" % ("IOMMU", "RAM", "devices",
                                           "stop>resume ms", "ioctls",
                                           "inside the pause"))
    for transport in TRANSPORTS:
        for mem in SIZES:
            points = []
            for n in DEVICES:
                pause, count, kinds = run(n, mem, transport)
                points.append((n, pause))
                print("%-8s %-6s %-8d %16.2f %8d  %s"
                      % (transport, mem, n, pause, count, " ".join(kinds)))
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            mx, my = statistics.mean(xs), statistics.mean(ys)
            slope = (sum((x - mx) * (y - my) for x, y in zip(xs, ys)) /
                     sum((x - mx) ** 2 for x in xs))
            print("%-8s %-6s per added device: %+.3f ms"
                  % (transport, mem, slope))


if __name__ == "__main__":
    main()
