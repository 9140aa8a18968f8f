# SPDX-License-Identifier: GPL-2.0-or-later
"""VFIO device migration (issue 10's benchmark) against tests/hostsim, two
batons under -accel qtest with 64 MiB of memfd RAM, the dmatest function
0000:01:00.0 streaming records into guest RAM every 200 us and migrating
into 0000:02:00.0 over a unix socket:

1. state-size 64 MiB changing at 8 MiB/s (the issue's figure) and at
   1 MiB/s, device DMA logging: pre-copy off vs on, medians of BENCH_VFIO_MIG_RUNS (3) of the source's
   downtime and total time (query-migrate) and the device bytes sent;
   the point of pre-copy is the shorter downtime. downtime-limit is
   100 s, so that the switch-over comes at the first chance either way
   (without pre-copy the 64 MiB rest never fits a real limit: nothing
   else is sent, so the bandwidth estimate stays near 0).
2. state-size 1 MiB, pre-copy off, per dirty tracking method (device DMA
   logging, the legacy container's precise IOMMU tracking, every mapped
   page over iommufd): RAM pages sent (normal + zero) and RAM bytes, for
   the same guest, downtime-limit 2 s. Device logging sends only the pages DMA touched; the
   all-dirty fallback resends all of RAM at every pass.

Every run checks the destination's ring (no record missing or corrupt).
Prints figures; never judges time."""

import os
import statistics
import sys

import baton_test
from baton_test import Vm, wait_migration, wait_runstate
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "functional"))
from test_vfio import (BASE, HOSTSIMD, LIBHOSTSIM, Dmatest,  # noqa: E402
                       Hostsim, SLOT)

RUNS = int(os.environ.get("BENCH_VFIO_MIG_RUNS", "3"))
SRC, DST = "0000:01:00.0", "0000:02:00.0"
RING = 0x200000


class Case:
    """Just enough of a TestCase for Hostsim's cleanups."""

    def __init__(self):
        self.cleanups = []

    def addCleanup(self, fn, *args):
        self.cleanups.append((fn, args))

    def done(self):
        for fn, args in reversed(self.cleanups):
            fn(*args)


def baton(hs, host, name, transport, props, incoming=None):
    args = BASE + ["-object", "memory-backend-memfd,id=ram0,size=64M",
                   "-machine", "pc,memory-backend=ram0", "-m", "64M"]
    prop = props
    if transport == "iommufd":
        args += ["-object", "iommufd,id=iommufd0"]
        prop += ",iommufd=iommufd0"
    args += ["-device", "vfio-pci,host=%s,addr=%x%s" % (host, SLOT, prop)]
    if incoming:
        args += ["-incoming", incoming]
    vm = Vm(args, name=name)
    qpath = vm.path("qtest.sock")
    vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qpath]
    vm.extra_env = hs.env
    vm.launch()
    return vm, baton_test.QtestClient(qpath)


def migrate_once(extra, transport="legacy", props="", tag="x",
                 downtime_ms=100000):
    case = Case()
    hs = Hostsim(case, ["%s,type=dmatest,group=5%s" % (SRC, extra),
                        "%s,type=dmatest,group=6%s" % (DST, extra)])
    procs, qts = [], []
    try:
        src, sqt = baton(hs, SRC, "src-" + tag, transport, props)
        procs.append(src)
        qts.append(sqt)
        uri = "unix:" + src.path("mig.sock")
        dst, dqt = baton(hs, DST, "dst-" + tag, transport, props, uri)
        procs.append(dst)
        qts.append(dqt)
        d = Dmatest(sqt)
        d.start_ring(RING, 4096, period_us=200)
        d.consume(50)
        src.qmp.cmd("migrate-set-parameters",
                    **{"downtime-limit": downtime_ms})
        src.qmp.cmd("migrate", uri=uri)
        info = wait_migration(src.qmp, timeout=300)
        wait_runstate(dst.qmp, "running")
        dd = Dmatest(dqt)
        dd.ring, dd.entries, dd.n = d.ring, d.entries, d.n
        dd.missing = dd.corrupt = 0
        assert dd.consume(d.n + 100) == (0, 0), (dd.missing, dd.corrupt)
        return info
    finally:
        for q in qts:
            q.close()
        for p in procs:
            p.kill()
        case.done()


def main():
    if not (os.path.exists(HOSTSIMD) and os.path.exists(LIBHOSTSIM)):
        baton_test.skip("tests/hostsim is not built")
    print("VFIO migration, state-size 64M, device DMA logging, "
          "medians of %d" % RUNS)
    print("%-9s %-8s %12s %14s %14s" % ("pre-copy", "dirty/s", "downtime ms",
                                        "total ms", "device MiB"))
    for precopy, rate in (("off", "8M"), ("on", "8M"), ("off", "1M"),
                          ("on", "1M")):
        extra = (",migration=on,dma-logging=on,state-size=64M,"
                 "state-dirty-rate=%s,precopy=%s" % (rate, precopy))
        runs = [migrate_once(extra, tag="p%s%s%d" % (precopy, rate, r))
                for r in range(RUNS)]
        print("%-9s %-8s %12.0f %14.0f %14.1f" % (
            precopy, rate, statistics.median(i["downtime"] for i in runs),
            statistics.median(i["total-time"] for i in runs),
            statistics.median(i["vfio"]["transferred"] for i in runs)
            / 2**20))
    print()
    print("RAM sent per dirty tracking method (64M guest, state 1M, "
          "pre-copy off), medians of %d" % RUNS)
    print("%-28s %10s %12s %8s" % ("method", "pages", "RAM MiB", "passes"))
    for name, extra, transport, props in (
            ("device DMA logging", ",dma-logging=on", "legacy", ""),
            ("IOMMU (legacy, precise)", ",iommu-dirty=on", "legacy", ""),
            ("all mapped pages (iommufd)", "", "iommufd",
             ",enable-migration=on")):
        runs = [migrate_once(",migration=on" + extra, transport, props,
                             tag="m%d" % r, downtime_ms=2000)["ram"]
                for r in range(RUNS)]
        print("%-28s %10d %12.1f %8d" % (
            name, statistics.median(r["normal"] + r["duplicate"]
                                    for r in runs),
            statistics.median(r["transferred"] for r in runs) / 2**20,
            statistics.median(r["dirty-sync-count"] for r in runs)))


if __name__ == "__main__":
    main()
