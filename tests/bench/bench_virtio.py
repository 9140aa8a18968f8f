# SPDX-License-Identifier: GPL-2.0-or-later
"""cpr-transfer of the virtio-blk guest (tests/guest/virtio-blk) under KVM
with its disk busy (a 4 KiB write and read-back in flight all the time)
and idle (the same guest and device, no I/O after set-up): medians of
BENCH_VIRTIO_RUNS (10) updates in a row of each, STOP on the old side ->
RESUME on the new side from the QMP event timestamps, and the drain at
the stop (the old process's virtio_pci_drain trace: the time to serve
the kicks the guest had made and finish what was in flight). The busy
pause should exceed the idle one by no more than the drain. The guest
checks every request; the image is checked at the end.

Then the same for the virtio-net guest (tests/guest/virtio-net) with a
virtio-blk function as well, over a tap in a network namespace of its
own: busy is a host flood of datagrams (as fast as the sender goes) that
the guest echoes while it keeps a disk request in flight all the time;
idle is the same guest and devices with no traffic and no disk I/O.
The drain is the longest of the old process's virtio_pci_drain lines
(one per device) at each stop. Never judges time."""

import os
import re
import statistics
import sys

import baton_test
from baton_test import event_seconds, kvm_usable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "functional"))
import test_virtio_blk_guest as vbg  # noqa: E402
import test_virtio_net_guest as vng  # noqa: E402

RUNS = int(os.environ.get("BENCH_VIRTIO_RUNS", "10"))
_DRAIN = re.compile(r"virtio_pci_drain virtio-blk in flight after drain "
                    r"(\d+), took (\d+) us")
_DRAINS = re.compile(r"virtio_pci_drain (\S+) in flight after drain "
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

    def assertIn(self, a, b, msg=None):
        if a not in b:
            raise AssertionError("%r not in %r %s" % (a, b, msg or ""))

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


def last_drains(vm):
    """{device: (in flight, us)} of VM's last stop."""
    out = {}
    for dev, inflight, us in _DRAINS.findall(vm.stderr_text()):
        out[dev] = (int(inflight), int(us))
    return out


def run_net(kind):
    """The virtio-net guest with a disk: KIND "busy" (flood, disk I/O)
    or "idle"."""
    tc = Case()
    disk = os.path.join(baton_test.tmpdir(), "bench-net-disk.img")
    with open(disk, "wb") as f:
        f.truncate(256 * 4096)
    image = vng.net_image(vng.GUEST_IP, disk=0x80002800,
                          disk_idle=kind == "idle")
    tap = "vbn" + kind[0]
    g = vng.NetGuest(tc, "tap,id=n0,ifname=%s,script=no,downscript=no"
                     % tap, "bench-net-" + kind, image,
                     extra=["-drive", "if=none,id=d0,format=raw,file="
                            + disk, "-device",
                            "virtio-blk-pci,drive=d0,addr=5"])
    vng.ip("addr", "add", vng.HOST_IP + "/24", "dev", tap)
    vng.ip("link", "set", tap, "up")
    s = None
    pauses, drains = [], []
    try:
        if kind == "busy":
            s = vng.Stream(vng.HOST_IP, (vng.GUEST_IP, vng.PORT), period=0)
            s.wait_echo(0, what="the first echo")
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
            d = last_drains(old)
            drains.append(max(us for _, us in d.values()) / 1e3
                          if d else float("nan"))
            if any(n for n, _ in d.values()):
                raise AssertionError("requests in flight after the drain")
            if s:
                s.wait_echo(s.next_seq(), what="echoes after the update")
        if s:
            sent = s.stop()
            echoed = len(s.echoes)
            print("  busy: %d datagrams sent, %d echoed (a flood: the tap "
                  "drops what the guest cannot take)" % (sent, echoed))
        g.check_errors()
        line = g.last_line()
        if line:
            print("  guest: %s" % dict(zip(("echo", "rx", "tx", "arp", "drop",
                                            "irq", "kick", "blk"), line)))
    finally:
        if s:
            s.close()
        g.qmp.close()
        g.serial.close()
        tc.close()
    return pauses, drains


def report(res, what):
    for kind in ("idle", "busy"):
        p, d = res[kind]
        print("%s %-5s STOP->RESUME median %.3f ms (min %.3f, max %.3f); "
              "drain median %.3f ms (max %.3f), %d runs"
              % (what, kind, statistics.median(p), min(p), max(p),
                 statistics.median(d), max(d), len(p)))
    print("%s busy - idle: %.3f ms, busy / idle %.2f (median drain when "
          "busy %.3f ms)"
          % (what, statistics.median(res["busy"][0]) -
             statistics.median(res["idle"][0]),
             statistics.median(res["busy"][0]) /
             statistics.median(res["idle"][0]),
             statistics.median(res["busy"][1])))


def main():
    if not kvm_usable():
        print("bench_virtio: /dev/kvm is not usable here; skipped")
        return 77
    res = {}
    for kind in ("idle", "busy"):
        res[kind] = run(kind)
    report(res, "virtio-blk")
    why = baton_test.enter_netns()
    if why:
        print("bench_virtio: virtio-net part skipped: %s" % why)
        return 0
    res = {}
    for kind in ("idle", "busy"):
        res[kind] = run_net(kind)
    report(res, "virtio-net+blk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
