# SPDX-License-Identifier: GPL-2.0-or-later
"""PCI without a guest (qtest): config space through 0xCF8/0xCFC and ECAM,
masks (read-only, W1C), capabilities, absent functions, BAR sizing,
reset assignment, remapping, 64-bit BARs, -device bus=/addr=/
multifunction and their errors, pcie-root-port with a function behind
it, query-pci / info pci, migration of config state, and the previous
release's PCI-less machine names. Uses x-pci-test (hw/misc/pci-test.c):
BAR0 4 KiB MMIO scratch, BAR1 256-byte I/O onto the same scratch, BAR2
64-bit prefetchable (reads give the offset), a vendor capability, INTA."""

import os
import re
import subprocess
import unittest

import baton_test
from baton_test import (BATON, QtestClient, QmpError, Vm, VmTestCase,
                        cpr_channels, cpr_incoming_args, memfd_ram_args,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)

BASE = ["-nodefaults", "-display", "none", "-accel", "qtest", "-m", "64M",
        "-serial", "null"]
TEST_DEV = 0x1b36, 0x00fe
UNMAPPED = -1


def bdf(bus, slot, fn=0):
    return bus << 8 | slot << 3 | fn


class Cfg:
    """Config cycles through mechanism #1 (or ECAM at BASE) via qtest."""

    def __init__(self, qt, ecam=None):
        self.qt = qt
        self.ecam = ecam

    def _addr(self, b, reg):
        return 0x80000000 | b << 8 | (reg & 0xfc)

    def read(self, b, reg, size=4):
        if self.ecam is not None:
            a = self.ecam + (b << 12) + reg
            return {1: self.qt.readb, 2: self.qt.readw, 4: self.qt.readl}[
                size](a)
        self.qt.outl(0xcf8, self._addr(b, reg))
        port = 0xcfc + (reg & 3)
        return {1: self.qt.inb, 2: self.qt.inw, 4: self.qt.inl}[size](port)

    def write(self, b, reg, val, size=4):
        if self.ecam is not None:
            a = self.ecam + (b << 12) + reg
            {1: self.qt.writeb, 2: self.qt.writew, 4: self.qt.writel}[size](
                a, val)
            return
        self.qt.outl(0xcf8, self._addr(b, reg))
        port = 0xcfc + (reg & 3)
        {1: self.qt.outb, 2: self.qt.outw, 4: self.qt.outl}[size](port, val)


class PciCase(VmTestCase):

    def start(self, args, name=None):
        vm = Vm(BASE + list(args), name=name)
        qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.launch(vm)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        return vm, qt

    def hmp(self, vm, line):
        return vm.qmp.cmd("human-monitor-command",
                          {"command-line": line}).replace("\r\n", "\n")

    def devices(self, vm):
        """query-pci's functions, bridges' nested ones included, by
        (bus, slot, function)."""
        out = {}

        def walk(devs):
            for d in devs:
                out[(d["bus"], d["slot"], d["function"])] = d
                walk(d.get("pci_bridge", {}).get("devices", []))
        for bus in vm.qmp.cmd("query-pci"):
            walk(bus["devices"])
        return out


class ConfigSpace(PciCase):
    """The pc machine (i440FX + PIIX3) and an x-pci-test at 00:03.0."""

    def setUp(self):
        self.vm, self.qt = self.start(["-machine", "pc", "-device",
                                       "x-pci-test,id=t0,addr=3"])
        self.cfg = Cfg(self.qt)

    def test_ids(self):
        c = self.cfg
        self.assertEqual(c.read(bdf(0, 0), 0), 0x12378086)
        self.assertEqual(c.read(bdf(0, 1), 0), 0x70008086)
        self.assertEqual(c.read(bdf(0, 3), 0), TEST_DEV[1] << 16 | TEST_DEV[0])
        # Class codes: host bridge, ISA bridge (multifunction header).
        self.assertEqual(c.read(bdf(0, 0), 0x0a, 2), 0x0600)
        self.assertEqual(c.read(bdf(0, 1), 0x0a, 2), 0x0601)
        self.assertEqual(c.read(bdf(0, 1), 0x0e, 1), 0x80)
        self.assertEqual(c.read(bdf(0, 0), 0x0e, 1), 0x00)

    def test_partial_and_unaligned(self):
        c = self.cfg
        # Bytes and words at each offset of the data window.
        self.assertEqual(c.read(bdf(0, 0), 0, 1), 0x86)
        self.assertEqual(c.read(bdf(0, 0), 1, 1), 0x80)
        self.assertEqual(c.read(bdf(0, 0), 2, 2), 0x1237)
        self.assertEqual(c.read(bdf(0, 0), 3, 1), 0x12)
        # A word at 0xCFD reads bytes 1-2 of the dword.
        self.qt.outl(0xcf8, 0x80000000 | bdf(0, 0) << 8)
        self.assertEqual(self.qt.inw(0xcfd), 0x3780)
        # Only dword writes latch the address register.
        self.qt.outb(0xcf8, 0x08)
        self.assertEqual(self.qt.inl(0xcf8), 0x80000000 | bdf(0, 0) << 8)
        # With the enable bit clear, the data port reads all ones.
        self.qt.outl(0xcf8, bdf(0, 0) << 8)
        self.assertEqual(self.qt.inl(0xcfc), 0xffffffff)

    def test_absent_functions(self):
        c = self.cfg
        self.assertEqual(c.read(bdf(0, 0x1f), 0), 0xffffffff)
        self.assertEqual(c.read(bdf(0, 3, 1), 0, 2), 0xffff)
        self.assertEqual(c.read(bdf(5, 0), 0, 1), 0xff)
        c.write(bdf(0, 0x1f), 4, 0x7)      # dropped, no crash
        self.assertEqual(c.read(bdf(0, 0x1f), 4), 0xffffffff)

    def test_read_only_and_w1c(self):
        c = self.cfg
        t = bdf(0, 3)
        c.write(t, 0, 0xffffffff)
        self.assertEqual(c.read(t, 0), TEST_DEV[1] << 16 | TEST_DEV[0])
        c.write(t, 0x08, 0xffffffff)         # revision/class
        self.assertEqual(c.read(t, 0x0a, 2), 0xff00)
        # Status: CAP_LIST is read-only; writing ones clears nothing else.
        status = c.read(t, 0x06, 2)
        self.assertTrue(status & 0x10)
        c.write(t, 0x06, 0xffff, 2)
        self.assertEqual(c.read(t, 0x06, 2), status)
        # Interrupt line is the guest's, pin is not.
        c.write(t, 0x3c, 0x5, 1)
        self.assertEqual(c.read(t, 0x3c, 1), 5)
        c.write(t, 0x3d, 0x3, 1)
        self.assertEqual(c.read(t, 0x3d, 1), 1)

    def test_capability_walk(self):
        c = self.cfg
        t = bdf(0, 3)
        ptr = c.read(t, 0x34, 1)
        seen = []
        while ptr:
            self.assertEqual(ptr & 3, 0)
            self.assertGreaterEqual(ptr, 0x40)
            seen.append(c.read(t, ptr, 1))
            ptr = c.read(t, ptr + 1, 1)
        # MSI-X, MSI, then the vendor capability (each added at the head).
        self.assertEqual(seen, [0x11, 0x05, 0x09])
        # i440FX has no capabilities.
        self.assertFalse(c.read(bdf(0, 0), 0x06, 2) & 0x10)
        self.assertEqual(c.read(bdf(0, 0), 0x34, 1), 0)

    def test_bar_sizing(self):
        c = self.cfg
        t = bdf(0, 3)
        c.write(t, 0x04, 0, 2)               # decode off while sizing
        for reg, size_mask in ((0x10, 0xfffff000), (0x14, 0xffffff01),
                               (0x18, 0xfff0000c), (0x1c, 0xffffffff)):
            old = c.read(t, reg)
            c.write(t, reg, 0xffffffff)
            self.assertEqual(c.read(t, reg), size_mask, hex(reg))
            c.write(t, reg, old)
        # ROM: none registered, so the register stays 0.
        c.write(t, 0x30, 0xffffffff)
        self.assertEqual(c.read(t, 0x30), 0)

    def test_reset_assignment(self):
        """Every BAR got an aligned address in its space, no two overlap,
        decode and bus mastering are on, and the interrupt line is the
        IRQ that PIRQ routing gives (slot 3 INTA -> PIRQC -> 11)."""
        c = self.cfg
        t = bdf(0, 3)
        self.assertEqual(c.read(t, 0x04, 2) & 0x7, 0x7)
        self.assertEqual(c.read(t, 0x3c, 1), 11)
        self.assertEqual([c.read(bdf(0, 1), 0x60 + i, 1) for i in range(4)],
                         [10, 10, 11, 11])
        dev = self.devices(self.vm)[(0, 3, 0)]
        regions = {r["bar"]: r for r in dev["regions"]}
        self.assertEqual(sorted(regions), [0, 1, 2, 4])
        for r in regions.values():
            self.assertNotEqual(r["address"], UNMAPPED)
            self.assertEqual(r["address"] % r["size"], 0)
        mem = sorted((r["address"], r["size"]) for r in regions.values()
                     if r["type"] == "memory")
        for (a, s), (b, _) in zip(mem, mem[1:]):
            self.assertLessEqual(a + s, b)
        self.assertGreaterEqual(regions[1]["address"], 0xc000)
        self.assertGreaterEqual(regions[0]["address"], 0x80000000)
        self.assertLess(regions[0]["address"], 0xfec00000)
        self.assertTrue(regions[2]["mem_type_64"] and regions[2]["prefetch"])
        # The BARs work where they are: scratch through MMIO and I/O.
        m, io = regions[0]["address"], regions[1]["address"]
        self.qt.writel(m + 0x10, 0xcafef00d)
        self.assertEqual(self.qt.inl(io + 0x10), 0xcafef00d)
        self.assertEqual(self.qt.readl(regions[2]["address"] + 0x1234),
                         0x1234)
        self.assertEqual(dev["irq"], 11)
        self.assertEqual(dev["irq_pin"], 1)

    def test_remap_and_disable(self):
        c = self.cfg
        t = bdf(0, 3)
        old = c.read(t, 0x10)
        self.qt.writel(old + 4, 0x11223344)
        new = 0xe0000000
        c.write(t, 0x10, new)
        self.assertEqual(self.qt.readl(new + 4), 0x11223344)
        self.assertEqual(self.qt.readl(old + 4), 0xffffffff)
        flat = self.hmp(self.vm, "info mtree -f")
        self.assertIn("00000000e0000000-00000000e0000fff (prio 1, i/o): "
                      "pci-test-mmio", flat)
        # Memory decode off: the region leaves the map, reads all ones.
        c.write(t, 0x04, c.read(t, 0x04, 2) & ~0x2, 2)
        self.assertEqual(self.qt.readl(new + 4), 0xffffffff)
        self.assertNotIn("pci-test-mmio", self.hmp(self.vm, "info mtree -f"))
        dev = self.devices(self.vm)[(0, 3, 0)]
        self.assertEqual(dev["regions"][0]["address"], UNMAPPED)
        # I/O decode still on.
        io = c.read(t, 0x14) & ~3
        self.assertEqual(self.qt.inl(io + 4), 0x11223344)
        c.write(t, 0x04, c.read(t, 0x04, 2) | 0x2, 2)
        self.assertEqual(self.qt.readl(new + 4), 0x11223344)

    def test_device_del_refused(self):
        """No bus of baton's machines supports hot-unplug: device_del
        says so with QEMU's errors and the function stays."""
        qmp = self.vm.qmp
        for ident in ("t0", "/machine/peripheral/t0"):
            with self.assertRaises(QmpError) as cm:
                qmp.cmd("device_del", id=ident)
            self.assertEqual(cm.exception.cls, "GenericError")
            self.assertEqual(cm.exception.desc,
                             "Bus 'pci.0' does not support hotplugging")
        with self.assertRaises(QmpError) as cm:
            qmp.cmd("device_del", id="nope")
        self.assertEqual((cm.exception.cls, cm.exception.desc),
                         ("DeviceNotFound", "Device 'nope' not found"))
        with self.assertRaises(QmpError) as cm:
            qmp.cmd("device_del", id="/machine")
        self.assertIn("is not a hotpluggable device", cm.exception.desc)
        self.assertIn("Bus 'pci.0' does not support hotplugging",
                      self.hmp(self.vm, "device_del t0"))
        self.assertEqual(self.cfg.read(bdf(0, 3), 0),
                         TEST_DEV[1] << 16 | TEST_DEV[0])
        self.assertIn((0, 3, 0), self.devices(self.vm))

    def test_64bit_bar_above_4g(self):
        c = self.cfg
        t = bdf(0, 3)
        c.write(t, 0x18, 0x00000000 | 0xc)
        c.write(t, 0x1c, 0x8)                # 0x8_0000_0000
        self.assertEqual(self.qt.readl(0x800000000 + 0x40), 0x40)
        dev = self.devices(self.vm)[(0, 3, 0)]
        self.assertEqual(dev["regions"][2]["address"], 0x800000000)
        self.assertIn("0000000800000000-00000008000fffff (prio 1, i/o): "
                      "pci-test-bar2", self.hmp(self.vm, "info mtree -f"))

    def test_bus_master_space(self):
        """DMA reaches RAM only while BUS MASTER is set (info mtree shows
        the device's bus-master space)."""
        tree = self.hmp(self.vm, "info mtree")
        self.assertIn("address-space: x-pci-test bus master", tree)

    def test_query_pci_shape(self):
        buses = self.vm.qmp.cmd("query-pci")
        self.assertEqual([b["bus"] for b in buses], [0])
        devs = buses[0]["devices"]
        self.assertEqual([(d["slot"], d["function"]) for d in devs],
                         [(0, 0), (1, 0), (3, 0)])
        host = devs[0]
        self.assertEqual(host["class_info"], {"class": 0x600,
                                              "desc": "Host bridge"})
        self.assertEqual(host["id"]["vendor"], 0x8086)
        self.assertEqual(host["id"]["device"], 0x1237)
        self.assertEqual(host["regions"], [])
        self.assertNotIn("irq", host)
        t = devs[2]
        self.assertEqual(t["qdev_id"], "t0")
        self.assertEqual(set(t), {"bus", "slot", "function", "class_info",
                                  "id", "irq", "irq_pin", "qdev_id",
                                  "regions"})
        self.assertEqual(set(t["regions"][0]),
                         {"bar", "type", "address", "size", "prefetch",
                          "mem_type_64"})
        self.assertEqual(set(t["regions"][1]),
                         {"bar", "type", "address", "size"})

    def test_info_pci(self):
        text = self.hmp(self.vm, "info pci")
        self.assertIn("  Bus  0, device   0, function 0:\n"
                      "    Host bridge: PCI device 8086:1237\n"
                      "      PCI subsystem 1af4:1100\n"
                      "      id \"\"\n", text)
        self.assertIn("    ISA bridge: PCI device 8086:7000\n", text)
        m = re.search(r"  Bus  0, device   3, function 0:\n"
                      r"    Class 65280: PCI device 1b36:00fe\n"
                      r"      PCI subsystem 1af4:1100\n"
                      r"      IRQ 11, pin A\n"
                      r"      BAR0: 32 bit memory at 0x[0-9a-f]{8} "
                      r"\[0x[0-9a-f]{8}\]\.\n"
                      r"      BAR1: I/O at 0x[0-9a-f]{4} \[0x[0-9a-f]{4}\]\.\n"
                      r"      BAR2: 64 bit prefetchable memory at "
                      r"0x[0-9a-f]{8,} \[0x[0-9a-f]{8,}\]\.\n"
                      r"      BAR4: 32 bit memory at 0x[0-9a-f]{8} "
                      r"\[0x[0-9a-f]{8}\]\.\n"
                      r"      id \"t0\"\n", text)
        self.assertTrue(m, text)

    def test_qtree(self):
        tree = self.hmp(self.vm, "info qtree")
        self.assertIn("bus: pci.0\n", tree)
        self.assertIn("dev: x-pci-test, id \"t0\"\n", tree)
        self.assertIn("addr = 03.0\n", tree)
        # The ISA bus hangs under PIIX3, as in QEMU.
        self.assertRegex(tree, r"dev: PIIX3, id \"\"\n(.*\n)*? +bus: isa\.0")

    def test_system_reset_reassigns(self):
        c = self.cfg
        t = bdf(0, 3)
        before = c.read(t, 0x10)
        c.write(t, 0x10, 0xe0000000)
        c.write(t, 0x3c, 0x5, 1)
        self.vm.qmp.cmd("system_reset")
        wait_for(lambda: c.read(t, 0x10) == before, 10,
                 what="BAR0 back at its reset address")
        self.assertEqual(c.read(t, 0x3c, 1), 11)


class DeviceAddressing(PciCase):

    def run_error(self, args):
        p = subprocess.run([BATON] + BASE + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 1, p.stderr)
        return p.stderr

    def test_slot_in_use(self):
        err = self.run_error(["-machine", "pc", "-device",
                              "x-pci-test,id=a,addr=3",
                              "-device", "x-pci-test,id=b,addr=03.0"])
        self.assertIn("PCI: slot 3 function 0 not available for x-pci-test, "
                      "in use by x-pci-test,id=a", err)
        err = self.run_error(["-machine", "pc", "-device",
                              "x-pci-test,addr=1"])
        self.assertIn("PCI: slot 1 function 0 not available for x-pci-test, "
                      "in use by PIIX3,id=", err)

    def test_bad_syntax(self):
        for bad in ("zz", "3.8", "20", "3.", "-2"):
            err = self.run_error(["-machine", "pc", "-device",
                                  "x-pci-test,addr=%s" % bad])
            self.assertIn("Property 'x-pci-test.addr' doesn't take value "
                          "'%s'" % bad, err)

    def test_addr_on_isa(self):
        err = self.run_error(["-machine", "pc", "-device",
                              "isa-debug-exit,addr=3"])
        self.assertIn("device 'isa-debug-exit' has no property 'addr'", err)

    def test_multifunction(self):
        err = self.run_error(["-machine", "pc",
                              "-device", "x-pci-test,addr=4",
                              "-device", "x-pci-test,addr=4.1"])
        self.assertIn("PCI: single function device can't be populated in "
                      "function 4.1", err)
        err = self.run_error(["-machine", "pc",
                              "-device", "x-pci-test,addr=4.2",
                              "-device", "x-pci-test,addr=4.0"])
        self.assertIn("PCI: 4.0 indicates single function, but 4.2 is "
                      "already populated.", err)
        vm, qt = self.start(["-machine", "pc",
                             "-device", "x-pci-test,addr=4.0,multifunction=on",
                             "-device", "x-pci-test,id=f2,addr=4.2"])
        c = Cfg(qt)
        self.assertEqual(c.read(bdf(0, 4), 0x0e, 1), 0x80)
        self.assertEqual(c.read(bdf(0, 4, 2), 0, 2), 0x1b36)
        self.assertEqual(c.read(bdf(0, 4, 1), 0, 2), 0xffff)
        self.assertIn((0, 4, 2), self.devices(vm))

    def test_function_without_function_0(self):
        """A function whose slot has no function 0 is not visible."""
        vm, qt = self.start(["-machine", "pc",
                             "-device", "x-pci-test,addr=5.3"])
        self.assertEqual(Cfg(qt).read(bdf(0, 5, 3), 0), 0xffffffff)

    def test_first_free_slot(self):
        vm, qt = self.start(["-machine", "pc", "-device", "x-pci-test,id=a",
                             "-device", "x-pci-test,id=b"])
        ids = {d["qdev_id"]: d["slot"] for d in self.devices(vm).values()}
        self.assertEqual((ids["a"], ids["b"]), (2, 3))


class Q35(PciCase):

    def setUp(self):
        self.vm, self.qt = self.start([
            "-machine", "q35",
            "-device", "pcie-root-port,id=rp1,chassis=1,slot=1,addr=2",
            "-device", "x-pci-test,id=behind,bus=rp1",
            "-device", "pcie-root-port,id=rp2,chassis=1,slot=2,addr=3"])
        self.cfg = Cfg(self.qt)
        self.ecam = Cfg(self.qt, ecam=0xb0000000)

    def test_ids_both_ways(self):
        for c in (self.cfg, self.ecam):
            self.assertEqual(c.read(bdf(0, 0), 0), 0x29c08086)
            self.assertEqual(c.read(bdf(0, 0x1f), 0), 0x29188086)
            self.assertEqual(c.read(bdf(0, 2), 0), 0x000c1b36)
        # LPC: PIRQ A-H programmed as firmware would.
        self.assertEqual([self.cfg.read(bdf(0, 0x1f), r, 1) for r in
                          (0x60, 0x61, 0x62, 0x63, 0x68, 0x69, 0x6a, 0x6b)],
                         [10, 10, 11, 11, 10, 10, 11, 11])

    def test_root_port(self):
        c = self.ecam
        rp = bdf(0, 2)
        self.assertEqual(c.read(rp, 0x0e, 1), 0x01)          # type 1
        self.assertEqual(c.read(rp, 0x0a, 2), 0x0604)
        # Bus numbers: primary 0, secondary 1, subordinate 1; rp2 gets 2.
        self.assertEqual([c.read(rp, r, 1) for r in (0x18, 0x19, 0x1a)],
                         [0, 1, 1])
        self.assertEqual([c.read(bdf(0, 3), r, 1) for r in (0x18, 0x19,
                                                            0x1a)],
                         [0, 2, 2])
        # The PCIe capability: root port, slot 1, presence detect.
        ptr = c.read(rp, 0x34, 1)
        self.assertEqual(c.read(rp, ptr, 1), 0x10)
        self.assertEqual((c.read(rp, ptr + 2, 2) >> 4) & 0xf, 4)
        self.assertEqual(c.read(rp, ptr + 0x14) >> 19, 1)
        self.assertTrue(c.read(rp, ptr + 0x1a, 2) & 0x40)
        self.assertFalse(c.read(bdf(0, 3), ptr + 0x1a, 2) & 0x40)
        # Express functions have 4 KiB of config space; extended
        # capabilities list is empty.
        self.assertEqual(c.read(rp, 0x100), 0)
        # The function behind it, on bus 1, both ways.
        for cc in (self.cfg, self.ecam):
            self.assertEqual(cc.read(bdf(1, 0), 0, 2), 0x1b36)
        self.assertEqual(c.read(bdf(2, 0), 0), 0xffffffff)
        # A conventional function's config space ends at 256 bytes.
        self.assertEqual(c.read(bdf(1, 0), 0x100), 0xffffffff)

    def test_windows_cover_bars(self):
        devs = self.devices(self.vm)
        rp = devs[(0, 2, 0)]
        t = devs[(1, 0, 0)]
        self.assertEqual(t["qdev_id"], "behind")
        br = rp["pci_bridge"]["bus"]
        self.assertEqual((br["number"], br["secondary"], br["subordinate"]),
                         (0, 1, 1))
        regions = {r["bar"]: r for r in t["regions"]}
        for bar, rng in ((0, "memory_range"), (1, "io_range"),
                         (2, "prefetchable_range")):
            r = regions[bar]
            self.assertGreaterEqual(r["address"], br[rng]["base"], rng)
            self.assertLessEqual(r["address"] + r["size"] - 1,
                                 br[rng]["limit"], rng)
        # The PCI hole starts above ECAM.
        self.assertGreaterEqual(regions[0]["address"], 0xc0000000)
        # rp2 has nothing behind it: its windows are closed.
        br2 = devs[(0, 3, 0)]["pci_bridge"]["bus"]
        self.assertGreater(br2["memory_range"]["base"],
                           br2["memory_range"]["limit"])
        self.assertEqual(br2["devices"] if "devices" in br2 else [], [])
        self.assertEqual(self.qt.readl(regions[2]["address"] + 8), 8)

    def test_windows_enforced(self):
        """A BAR behind a bridge is reachable only through an open window
        of a bridge that decodes it: closing the memory window, moving
        it away, or clearing the bridge's COMMAND.MEMORY/IO hides it."""
        c, qt = self.ecam, self.qt
        rp = bdf(0, 2)
        regions = {r["bar"]: r for r in
                   self.devices(self.vm)[(1, 0, 0)]["regions"]}
        mem, io = regions[0]["address"], regions[1]["address"]
        pref = regions[2]["address"]
        qt.writel(mem + 0x10, 0xfeedf00d)
        self.assertEqual(qt.inl(io + 0x10), 0xfeedf00d)
        self.assertEqual(qt.readl(pref + 8), 8)
        self.assertIn("pci_bridge_mem", self.hmp(self.vm, "info mtree"))
        # Close the 32-bit window (base above limit): BAR0 is gone, the
        # prefetchable window still forwards BAR2.
        win = c.read(rp, 0x20)
        c.write(rp, 0x20, 0x0000fff0)
        self.assertEqual(qt.readl(mem + 0x10), 0xffffffff)
        self.assertEqual(qt.readl(pref + 8), 8)
        # A window that no longer covers the BAR: the same.
        base = (win & 0xfff0) << 16
        c.write(rp, 0x20, (base + 0x100000) >> 16 | (base + 0x100000))
        self.assertEqual(qt.readl(mem + 0x10), 0xffffffff)
        c.write(rp, 0x20, win)
        self.assertEqual(qt.readl(mem + 0x10), 0xfeedf00d)
        # The bridge stops decoding memory, then I/O.
        cmd = c.read(rp, 0x04, 2)
        c.write(rp, 0x04, cmd & ~0x2, 2)
        self.assertEqual(qt.readl(mem + 0x10), 0xffffffff)
        self.assertEqual(qt.readl(pref + 8), 0xffffffff)
        self.assertEqual(qt.inl(io + 0x10), 0xfeedf00d)
        self.assertNotIn("pci_bridge_mem", self.hmp(self.vm, "info mtree"))
        c.write(rp, 0x04, cmd & ~0x1, 2)
        self.assertEqual(qt.inl(io + 0x10), 0xffffffff)
        self.assertEqual(qt.readl(mem + 0x10), 0xfeedf00d)
        c.write(rp, 0x04, cmd, 2)
        self.assertEqual(qt.inl(io + 0x10), 0xfeedf00d)
        # system_reset re-opens what reset assignment programs.
        c.write(rp, 0x20, 0x0000fff0)
        self.vm.qmp.cmd("system_reset")
        wait_for(lambda: qt.readl(mem + 0x10) != 0xffffffff or None, 10,
                 what="window re-opened by reset")

    def test_pciexbar_moves_ecam(self):
        c = self.cfg
        self.assertEqual(c.read(bdf(0, 0), 0x60), 0xb0000001)
        c.write(bdf(0, 0), 0x60, 0xe0000001)
        self.assertEqual(Cfg(self.qt, 0xe0000000).read(bdf(0, 0), 0),
                         0x29c08086)
        self.assertEqual(self.qt.readl(0xb0000000), 0xffffffff)
        c.write(bdf(0, 0), 0x60, 0xe0000000)
        self.assertEqual(self.qt.readl(0xe0000000), 0xffffffff)
        self.assertNotIn("pcie-mmcfg-mmio", self.hmp(self.vm, "info mtree -f"))

    def test_buses_and_errors(self):
        tree = self.hmp(self.vm, "info qtree")
        self.assertIn("bus: pcie.0\n", tree)
        self.assertIn("bus: rp1\n", tree)
        p = subprocess.run(
            [BATON] + BASE + ["-machine", "q35",
                              "-device", "pcie-root-port,chassis=1,slot=1",
                              "-device", "pcie-root-port,chassis=1,slot=1"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Can't add chassis slot, error -16", p.stderr)
        p = subprocess.run(
            [BATON] + BASE + ["-machine", "pc",
                              "-device", "pcie-root-port,chassis=1"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn("No 'PCIE' bus found for device 'pcie-root-port'",
                      p.stderr)


INTX, MSI_REG, MSIX_REG = 0xf00, 0xf04, 0xf08


def bars(vm, key):
    """{bar: address} of the function at KEY (bus, slot, function)."""
    dev = PciCase.devices(None, vm)[key]
    return {r["bar"]: r["address"] for r in dev["regions"]}


def cap(cfg, b, cap_id):
    ptr = cfg.read(b, 0x34, 1)
    while ptr:
        if cfg.read(b, ptr, 1) == cap_id:
            return ptr
        ptr = cfg.read(b, ptr + 1, 1)
    return 0


class Intx(PciCase):
    """INTx through the PIRQ routing, seen with qtest's IOAPIC
    interception: slot 3 and slot 7 both have INTA on PIRQC (IRQ 11)."""

    def setUp(self):
        self.vm, self.qt = self.start([
            "-machine", "pc", "-device", "x-pci-test,id=a,addr=3",
            "-device", "x-pci-test,id=b,addr=7"])
        self.cfg = Cfg(self.qt)
        self.a = bars(self.vm, (0, 3, 0))[0]
        self.b = bars(self.vm, (0, 7, 0))[0]
        self.qt.cmd("irq_intercept_in ioapic")

    def test_raise_lower(self):
        qt = self.qt
        qt.writel(self.a + INTX, 1)
        self.assertEqual(qt.irqs, ["IRQ raise 11"])
        self.assertTrue(self.cfg.read(bdf(0, 3), 0x06, 2) & 0x08)
        qt.writel(self.a + INTX, 1)          # already high: no event
        qt.writel(self.a + INTX, 0)
        self.assertEqual(qt.irqs, ["IRQ raise 11", "IRQ lower 11"])
        self.assertFalse(self.cfg.read(bdf(0, 3), 0x06, 2) & 0x08)

    def test_shared_line_is_wired_or(self):
        qt = self.qt
        qt.writel(self.a + INTX, 1)
        qt.writel(self.b + INTX, 1)
        qt.writel(self.a + INTX, 0)          # b still asserts it
        self.assertEqual(qt.irqs, ["IRQ raise 11"])
        qt.writel(self.b + INTX, 0)
        self.assertEqual(qt.irqs, ["IRQ raise 11", "IRQ lower 11"])

    def test_intx_disable(self):
        qt, c = self.qt, self.cfg
        qt.writel(self.a + INTX, 1)
        cmd = c.read(bdf(0, 3), 0x04, 2)
        c.write(bdf(0, 3), 0x04, cmd | 0x400, 2)
        self.assertEqual(qt.irqs, ["IRQ raise 11", "IRQ lower 11"])
        # The status bit still says the function asserts it.
        self.assertTrue(c.read(bdf(0, 3), 0x06, 2) & 0x08)
        c.write(bdf(0, 3), 0x04, cmd, 2)
        self.assertEqual(qt.irqs[-1], "IRQ raise 11")

    def test_rerouting(self):
        qt, c = self.qt, self.cfg
        qt.writel(self.a + INTX, 1)
        c.write(bdf(0, 1), 0x62, 5, 1)       # PIRQC -> IRQ 5
        self.assertEqual(qt.irqs, ["IRQ raise 11", "IRQ lower 11",
                                   "IRQ raise 5"])
        c.write(bdf(0, 1), 0x62, 0x80, 1)    # disabled
        self.assertEqual(qt.irqs[-1], "IRQ lower 5")
        qt.writel(self.a + INTX, 0)
        self.assertEqual(len(qt.irqs), 4)

    def test_q35_and_root_port(self):
        """q35: slot 4 INTA is PIRQE (IRQ 10 and IOAPIC pin 20); behind a
        root port at slot 2, INTA swizzles to PIRQG (11 and 22)."""
        vm, qt = self.start([
            "-machine", "q35", "-device", "x-pci-test,addr=4",
            "-device", "pcie-root-port,id=rp,chassis=1,addr=2",
            "-device", "x-pci-test,bus=rp"], name="intx-q35")
        qt.cmd("irq_intercept_in ioapic")
        top = bars(vm, (0, 4, 0))[0]
        behind = bars(vm, (1, 0, 0))[0]
        qt.writel(top + INTX, 1)
        self.assertEqual(sorted(qt.irqs), ["IRQ raise 10", "IRQ raise 20"])
        del qt.irqs[:]
        qt.writel(behind + INTX, 1)
        self.assertEqual(sorted(qt.irqs), ["IRQ raise 11", "IRQ raise 22"])
        self.assertEqual(Cfg(qt).read(bdf(1, 0), 0x3c, 1), 11)


class Msi(PciCase):
    """MSI and MSI-X, observed the QEMU qtest way (the message address
    points at RAM and the data lands there) and as MSIs through the
    machine's MSI window (irq_intercept_msi)."""

    RAM = 0x10000

    def setUp(self):
        self.vm, self.qt = self.start(["-machine", "pc", "-device",
                                       "x-pci-test,id=t0,addr=3"])
        self.cfg = Cfg(self.qt)
        self.bar = bars(self.vm, (0, 3, 0))
        self.t = bdf(0, 3)
        self.msi = cap(self.cfg, self.t, 0x05)
        self.msix = cap(self.cfg, self.t, 0x11)

    def msi_setup(self, addr, data, qsize=2):
        c, m = self.cfg, self.msi
        self.assertEqual(c.read(self.t, m + 2, 2) & 0x1ce, 0x184)  # 4 vectors
        c.write(self.t, m + 4, addr & 0xffffffff)
        c.write(self.t, m + 8, addr >> 32)
        c.write(self.t, m + 12, data, 2)
        c.write(self.t, m + 2, 1 | qsize << 4, 2)

    def test_msi_to_ram(self):
        qt = self.qt
        self.msi_setup(self.RAM, 0x1230)
        qt.writel(self.bar[0] + MSI_REG, 2)
        self.assertEqual(qt.readl(self.RAM), 0x1232)
        # Disabled: nothing.
        qt.writel(self.RAM, 0)
        self.cfg.write(self.t, self.msi + 2, 0, 2)
        qt.writel(self.bar[0] + MSI_REG, 1)
        self.assertEqual(qt.readl(self.RAM), 0)

    def test_msi_mask_and_pending(self):
        qt, c, m = self.qt, self.cfg, self.msi
        self.msi_setup(self.RAM, 0x1230)
        c.write(self.t, m + 0x10, 0x2)             # mask vector 1
        qt.writel(self.bar[0] + MSI_REG, 1)
        self.assertEqual(qt.readl(self.RAM), 0)
        self.assertEqual(c.read(self.t, m + 0x14), 0x2)   # pending
        c.write(self.t, m + 0x14, 0)                # read-only
        self.assertEqual(c.read(self.t, m + 0x14), 0x2)
        c.write(self.t, m + 0x10, 0)                # unmask: delivered
        self.assertEqual(qt.readl(self.RAM), 0x1231)
        self.assertEqual(c.read(self.t, m + 0x14), 0)

    def test_msi_needs_bus_master(self):
        qt, c = self.qt, self.cfg
        self.msi_setup(self.RAM, 0x1230)
        c.write(self.t, 0x04, c.read(self.t, 0x04, 2) & ~0x4, 2)
        qt.writel(self.bar[0] + MSI_REG, 0)
        self.assertEqual(qt.readl(self.RAM), 0)

    def test_msi_window(self):
        qt = self.qt
        qt.cmd("irq_intercept_msi")
        self.msi_setup(0xfee00000, 0x4040)
        qt.writel(self.bar[0] + MSI_REG, 3)
        self.assertEqual(qt.irqs, ["IRQ msi 0xfee00000 0x4043"])

    def msix_entry(self, vector, addr, data, ctrl):
        e = self.bar[4] + vector * 16
        self.qt.writel(e, addr & 0xffffffff)
        self.qt.writel(e + 4, addr >> 32)
        self.qt.writel(e + 8, data)
        self.qt.writel(e + 12, ctrl)

    def pba(self):
        return self.qt.readl(self.bar[4] + 0x800)

    def test_msix(self):
        qt, c, x = self.qt, self.cfg, self.msix
        self.assertEqual(c.read(self.t, x + 2, 2), 7)       # 8 vectors
        self.assertEqual(c.read(self.t, x + 4), 0x4)        # table: BAR 4
        self.assertEqual(c.read(self.t, x + 8), 0x804)      # PBA at 0x800
        # Reset state: every vector masked.
        self.assertEqual(qt.readl(self.bar[4] + 3 * 16 + 12), 1)
        self.msix_entry(3, self.RAM, 0xabc, 0)
        # Disabled: the vector is masked, so it becomes pending.
        qt.writel(self.bar[0] + MSIX_REG, 3)
        self.assertEqual(qt.readl(self.RAM), 0)
        self.assertEqual(self.pba(), 0x8)
        c.write(self.t, x + 2, 0x8000, 2)                   # enable
        self.assertEqual(qt.readl(self.RAM), 0xabc)         # flushed
        self.assertEqual(self.pba(), 0)
        qt.writel(self.RAM, 0)
        qt.writel(self.bar[0] + MSIX_REG, 3)
        self.assertEqual(qt.readl(self.RAM), 0xabc)

    def test_msix_masks(self):
        qt, c, x = self.qt, self.cfg, self.msix
        self.msix_entry(5, self.RAM, 0x55, 1)               # vector masked
        c.write(self.t, x + 2, 0x8000, 2)
        qt.writel(self.bar[0] + MSIX_REG, 5)
        self.assertEqual((qt.readl(self.RAM), self.pba()), (0, 0x20))
        qt.writel(self.bar[4] + 5 * 16 + 12, 0)             # unmask
        self.assertEqual((qt.readl(self.RAM), self.pba()), (0x55, 0))
        qt.writel(self.RAM, 0)
        c.write(self.t, x + 2, 0xc000, 2)                   # function mask
        qt.writel(self.bar[0] + MSIX_REG, 5)
        self.assertEqual((qt.readl(self.RAM), self.pba()), (0, 0x20))
        c.write(self.t, x + 2, 0x8000, 2)
        self.assertEqual((qt.readl(self.RAM), self.pba()), (0x55, 0))
        # The PBA is read-only.
        qt.writel(self.bar[4] + 0x800, 0xff)
        self.assertEqual(self.pba(), 0)

    def test_msix_window(self):
        qt, c = self.qt, self.cfg
        qt.cmd("irq_intercept_msi")
        self.msix_entry(0, 0xfee01000, 0x4055, 0)
        c.write(self.t, self.msix + 2, 0x8000, 2)
        qt.writel(self.bar[0] + MSIX_REG, 0)
        self.assertEqual(qt.irqs, ["IRQ msi 0xfee01000 0x4055"])

    def test_reset_clears(self):
        qt, c = self.qt, self.cfg
        self.msix_entry(2, self.RAM, 0x22, 0)
        c.write(self.t, self.msix + 2, 0x8000, 2)
        self.msi_setup(self.RAM, 0x1230)
        self.vm.qmp.cmd("system_reset")
        wait_for(lambda: c.read(self.t, self.msix + 2, 2) == 7, 10,
                 what="MSI-X disabled by reset")
        self.assertEqual(c.read(self.t, self.msi + 2, 2) & 0x71, 0)
        self.assertEqual(qt.readl(self.bar[4] + 2 * 16 + 12), 1)
        self.assertEqual(qt.readl(self.bar[4] + 2 * 16 + 8), 0)


class MachineVersions(PciCase):
    """Names up to 9.2 keep the previous release's PCI-less machine."""

    def test_old_names_have_no_pci(self):
        for name in ("pc-i440fx-9.2", "pc-q35-9.2", "pc-i440fx-9.0",
                     "pc-8.2"):
            vm, qt = self.start(["-machine", name], name="old-" + name)
            self.assertEqual(vm.qmp.cmd("query-pci"), [])
            self.assertEqual(Cfg(qt).read(bdf(0, 0), 0), 0xffffffff)
            tree = self.hmp(vm, "info qtree")
            self.assertNotIn("pci", tree)
            self.assertIn("bus: isa.0\n", tree)
            vm.shutdown()

    def stream_of(self, machine):
        """A migration stream (file:) of MACHINE with one UART."""
        vm, qt = self.start(["-machine", machine],
                            name="stream-" + machine)
        path = vm.path("state")
        vm.qmp.cmd("stop")
        vm.qmp.cmd("migrate", uri="file:" + path)
        wait_migration(vm.qmp)
        vm.shutdown()
        with open(path, "rb") as f:
            return f.read()

    def test_old_sections(self):
        """The 9.2 machine's stream has the previous release's sections
        only; the 10.0 machine adds its chipset's, keyed by address."""
        old = self.stream_of("pc-i440fx-9.2")
        self.assertIn(b"isa-serial", old)
        for name in (b"0000:00:", b"pcihost", b"PIIX3", b"PCIDevice"):
            self.assertNotIn(name, old)
        new = self.stream_of("pc")
        for name in (b"/machine/i440fx/i440FX-pcihost",
                     b"0000:00:00.0/I440FX", b"0000:00:01.0/PIIX3"):
            self.assertIn(name, new)

    def test_new_names(self):
        machines = {m["name"]: m for m in
                    self.start(["-machine", "none"])[0].qmp.cmd(
                        "query-machines")}
        self.assertEqual(machines["pc-i440fx-10.0"].get("alias"), "pc")
        self.assertEqual(machines["pc-q35-10.0"].get("alias"), "q35")
        self.assertTrue(machines["pc-i440fx-10.0"].get("is-default"))
        self.assertNotIn("alias", machines["pc-i440fx-9.2"])
        for name, vendor_dev in (("pc-i440fx-10.0", 0x12378086),
                                 ("pc-q35-10.0", 0x29c08086),
                                 ("pc-q35-11.0", 0x29c08086)):
            vm, qt = self.start(["-machine", name], name="new-" + name)
            self.assertEqual(Cfg(qt).read(bdf(0, 0), 0), vendor_dev)
            vm.shutdown()

    def test_old_machine_refuses_pci_devices(self):
        p = subprocess.run(
            [BATON] + BASE + ["-machine", "pc-i440fx-9.2",
                              "-device", "x-pci-test"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=10)
        self.assertEqual(p.returncode, 1)
        self.assertIn("No 'PCI' bus found for device 'x-pci-test'", p.stderr)


class Migration(PciCase):
    """Config state and BAR placement move with the guest; the
    destination maps the BARs from the loaded config."""

    def migrate(self, machine):
        args = ["-machine", machine, "-device", "x-pci-test,id=t0,addr=3"]
        if machine == "q35":
            # Two functions of one type at 00.0 behind two root ports:
            # their sections differ by the path, not by bus numbers.
            args += ["-device", "pcie-root-port,id=rp1,chassis=1,addr=4",
                     "-device", "x-pci-test,id=t1,bus=rp1",
                     "-device", "pcie-root-port,id=rp2,chassis=2,addr=5",
                     "-device", "x-pci-test,id=t2,bus=rp2"]
        src, sqt = self.start(args, name="src-" + machine)
        c = Cfg(sqt)
        t = bdf(0, 3)
        c.write(t, 0x10, 0xd0000000)
        c.write(t, 0x14, 0x7000)
        c.write(t, 0x3c, 0x9, 1)
        sqt.writel(0xd0000000 + 0x20, 0x5eed1234)
        behind = {}
        if machine == "q35":
            for bus, val in ((1, 0x1111), (2, 0x2222)):
                behind[bus] = bars(src, (bus, 0, 0))[0]
                sqt.writel(behind[bus] + 0x30, val)
            # rp2's memory window closed: it stays closed on arrival.
            rp2_win = c.read(bdf(0, 5), 0x20)
            c.write(bdf(0, 5), 0x20, 0x0000fff0)
        path = src.path("mig.sock")
        dst, dqt = self.start(args + ["-incoming", "unix:" + path],
                              name="dst-" + machine)
        wait_for(lambda: os.path.exists(path), 10, what="incoming socket")
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_migration(dst.qmp)
        d = Cfg(dqt)
        self.assertEqual(d.read(t, 0x10), 0xd0000000)
        self.assertEqual(d.read(t, 0x14), 0x7001)
        self.assertEqual(d.read(t, 0x3c, 1), 9)
        self.assertEqual(d.read(t, 0x04, 2) & 7, 7)
        self.assertEqual(dqt.readl(0xd0000020), 0x5eed1234)
        self.assertEqual(dqt.inl(0x7020), 0x5eed1234)
        self.assertEqual(self.devices(dst)[(0, 3, 0)]["regions"][0]["address"],
                         0xd0000000)
        if behind:
            self.assertEqual(dqt.readl(behind[1] + 0x30), 0x1111)
            self.assertEqual(dqt.readl(behind[2] + 0x30), 0xffffffff)
            d.write(bdf(0, 5), 0x20, rp2_win)
            self.assertEqual(dqt.readl(behind[2] + 0x30), 0x2222)
        return dst, dqt

    def test_pc(self):
        self.migrate("pc")

    def test_interrupt_state(self):
        """An asserted INTx, MSI settings and an MSI-X table with a
        pending masked vector move; the destination drives the line and
        delivers the vector when the guest unmasks it."""
        args = ["-machine", "pc", "-device", "x-pci-test,id=t0,addr=3"]
        src, sqt = self.start(args, name="src-irq")
        b = bars(src, (0, 3, 0))
        c = Cfg(sqt)
        t = bdf(0, 3)
        x = cap(c, t, 0x11)
        e = b[4] + 16
        sqt.writel(e, 0x30000)
        sqt.writel(e + 8, 0x77)
        sqt.writel(e + 12, 1)
        c.write(t, x + 2, 0x8000, 2)
        sqt.writel(b[0] + MSIX_REG, 1)
        sqt.writel(b[0] + INTX, 1)
        path = src.path("mig-irq.sock")
        dst, dqt = self.start(args + ["-incoming", "unix:" + path],
                              name="dst-irq")
        dqt.cmd("irq_intercept_in ioapic")
        wait_for(lambda: os.path.exists(path), 10, what="incoming socket")
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_migration(dst.qmp)
        dqt.cmd("endianness")           # the IRQ lines sent before it
        self.assertEqual(dqt.irqs, ["IRQ raise 11"])
        self.assertEqual(dqt.readl(b[4] + 0x800), 0x2)          # pending
        self.assertEqual(dqt.readl(e + 8), 0x77)
        self.assertEqual(dqt.readl(0x30000), 0)
        dqt.writel(e + 12, 0)                                   # unmask
        self.assertEqual(dqt.readl(0x30000), 0x77)
        dqt.writel(b[0] + INTX, 0)
        self.assertEqual(dqt.irqs, ["IRQ raise 11", "IRQ lower 11"])

    def test_q35(self):
        """Also: the root port's bus numbers and the ECAM window (from
        the MCH's PCIEXBAR) are live on the destination."""
        dst, dqt = self.migrate("q35")
        ecam = Cfg(dqt, ecam=0xb0000000)
        self.assertEqual(ecam.read(bdf(0, 4), 0x19, 1), 1)
        self.assertEqual(ecam.read(bdf(1, 0), 0, 2), 0x1b36)
        self.assertEqual(Cfg(dqt).read(bdf(1, 0), 0, 2), 0x1b36)


class LiveUpdate(PciCase):
    """cpr-transfer to a new process with the same command line: the
    qtest and QMP connections stay, and the new process has the PCI
    state: config, BARs mapped where the guest put them, MSI-X table,
    the device's own state, and the root port's bus numbers."""

    def test_cpr_transfer(self):
        args = (["-nodefaults", "-display", "none", "-accel", "qtest",
                 "-serial", "null"] + memfd_ram_args("64M") +
                ["-machine", "q35",
                 "-device", "x-pci-test,id=t0,addr=3",
                 "-device", "pcie-root-port,id=rp,chassis=1,addr=4",
                 "-device", "x-pci-test,id=t1,bus=rp"])
        old = Vm(args, name="cpr-old")
        qtest_path = old.path("qtest.sock")
        old.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.launch(old)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        c = Cfg(qt)
        t = bdf(0, 3)
        c.write(t, 0x10, 0xd0000000)
        qt.writel(0xd0000000 + 0x40, 0x1badcafe)
        msix = bars(old, (0, 3, 0))[4]
        qt.writel(msix + 16 + 8, 0x99)
        behind = bars(old, (1, 0, 0))[0]
        qt.writel(behind + 0x10, 0x600d)

        main, cpr = old.path("main.sock"), old.path("cpr.sock")
        new = self.launch(Vm(old.command()[1:] +
                             cpr_incoming_args(main, cpr), qmp=False,
                             name="cpr-new"))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket of the new process")
        old.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(old.qmp)
        wait_runstate(old.qmp, "running")   # now the new process
        self.assertEqual(old.proc.poll(), None)
        # The same connections, the new process's devices.
        self.assertEqual(c.read(t, 0x10), 0xd0000000)
        self.assertEqual(qt.readl(0xd0000000 + 0x40), 0x1badcafe)
        self.assertEqual(qt.readl(msix + 16 + 8), 0x99)
        self.assertEqual(qt.readl(behind + 0x10), 0x600d)
        self.assertEqual(Cfg(qt, 0xb0000000).read(bdf(0, 4), 0x19, 1), 1)
        info = self.hmp(old, "info pci")
        self.assertIn("BAR0: 32 bit memory at 0xd0000000", info)


if __name__ == "__main__":
    baton_test.main()
