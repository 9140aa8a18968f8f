# SPDX-License-Identifier: GPL-2.0-or-later
"""cpr-transfer of the virtio-blk guest (tests/guest/virtio-blk) under KVM
with its disk busy (a 4 KiB write and read-back in flight all the time)
and idle (the same guest and device, no I/O after set-up): medians of
BENCH_VIRTIO_RUNS (10) updates in a row of each, STOP on the old side ->
RESUME on the new side from the QMP event timestamps, and the drain at
the stop (the old process's virtio_pci_drain trace: the time to serve
the kicks the guest had made and finish what was in flight). The busy
pause should exceed the idle one by no more than the drain. The guest
checks every request; the image is checked at the end. Never judges
time."""

import os
import re
import statistics
import sys

import baton_test
from baton_test import event_seconds, kvm_usable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "functional"))
import test_virtio_blk_guest as vbg  # noqa: E402

RUNS = int(os.environ.get("BENCH_VIRTIO_RUNS", "10"))
_DRAIN = re.compile(r"virtio_pci_drain virtio-blk in flight after drain "
                    r"(\d+), took (\d+) us")


class Case:
    """The little a Guest needs from a test case."""

    def __init__(self):
        self.vms = []

    def launch(self, vm):
        vm.args[:0] = ["-trace", "virtio_pci_drain"]
        vm.launch()
        self.vms.append(vm)
        return vm

    def addCleanup(self, fn, *args):
        pass

    def assertEqual(self, a, b, msg=None):
        if a != b:
            raise AssertionError("%r != %r %s" % (a, b, msg or ""))

    assertGreaterEqual = lambda self, a, b, msg=None: None

    def close(self):
        for vm in self.vms:
            vm.kill()


def idle_image():
    path = os.path.join(baton_test.tmpdir(), "virtio-blk-idle.img")
    with open(vbg.guest_image("virtio-blk"), "rb") as f:
        data = bytearray(f.read())
    data[512 + 20:512 + 24] = (1).to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(data)
    return path


def run(kind):
    tc = Case()
    g = vbg.Guest(tc, name="bench-" + kind,
                  image=idle_image() if kind == "idle" else None)
    pauses, drains = [], []
    try:
        if kind == "busy":
            g.goes_on(1)
        for _ in range(RUNS):
            old = g.vm
            mark = len(g.qmp.events)
            g.transfer()
            g.qmp.cmd("query-status")
            ev = g.qmp.events[mark:]
            stop = next(e for e in ev if e["event"] == "STOP")
            resume = next(e for e in ev if e["event"] == "RESUME" and
                          event_seconds(e) >= event_seconds(stop))
            pauses.append((event_seconds(resume) - event_seconds(stop)) * 1e3)
            m = _DRAIN.findall(old.stderr_text())
            drains.append(int(m[-1][1]) / 1e3 if m else float("nan"))
            if m and int(m[-1][0]):
                raise AssertionError("requests in flight after the drain")
            if kind == "busy":
                g.goes_on(1)
        if kind == "busy":
            g.qmp.cmd("stop")
            g.check_errors()
            vbg.check_image(tc, g.data, g.progress()[0])
    finally:
        g.qmp.close()
        g.serial.close()
        tc.close()
    return pauses, drains


def main():
    if not kvm_usable():
        print("bench_virtio: /dev/kvm is not usable here; skipped")
        return 77
    res = {}
    for kind in ("idle", "busy"):
        res[kind] = run(kind)
        p, d = res[kind]
        print("%-5s STOP->RESUME median %.3f ms (min %.3f, max %.3f); "
              "drain median %.3f ms (max %.3f), %d runs"
              % (kind, statistics.median(p), min(p), max(p),
                 statistics.median(d), max(d), len(p)))
    print("busy - idle: %.3f ms (median drain when busy %.3f ms)"
          % (statistics.median(res["busy"][0]) -
             statistics.median(res["idle"][0]),
             statistics.median(res["busy"][1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
