# SPDX-License-Identifier: GPL-2.0-or-later
"""HMP over a readline-mode socket monitor: banner, help, info
subcommands, run control, memory dump and save, errors and quit. Memory is
written through qtest (-accel qtest); info registers needs KVM."""

import os
import re
import unittest

import baton_test
from baton_test import QtestClient, Vm, needs_kvm, tmpdir

BASE = ["-nodefaults", "-display", "none"]
QTEST_PC = ["-accel", "qtest", "-machine", "pc", "-m", "16M"]


class Hmp(unittest.TestCase):

    def start(self, args, qtest=False):
        vm = Vm(hmp_socket=True, qmp=False)
        vm.args = BASE + list(args)
        if qtest:
            vm.args += ["-qtest", "unix:%s,server=on,wait=off"
                        % vm.path("qtest.sock")]
        try:
            vm.launch()
        except Exception:
            vm.kill()
            raise
        self.addCleanup(vm.kill)
        if qtest:
            vm.qt = QtestClient(vm.path("qtest.sock"))
            self.addCleanup(vm.qt.close)
        return vm

    def quit(self, vm):
        vm.hmp.conn.send("quit\n")
        self.assertEqual(vm.wait(), 0, vm.stderr_text())

    def test_session(self):
        vm = self.start(QTEST_PC + ["-S"])
        hmp = vm.hmp
        self.assertRegex(hmp.banner, r"^QEMU \d+\.\d+\.\d+ monitor - type "
                         r"'help' for more information\n")

        out = hmp.cmd("help")
        for name in ("cont", "stop", "quit", "info", "xp", "pmemsave",
                     "system_reset", "help"):
            self.assertRegex(out, r"(?m)^%s\b" % re.escape(name))
        self.assertRegex(out, r"(?m)^cont\|c\b")

        self.assertEqual(hmp.cmd("info status"),
                         "VM status: paused (prelaunch)\n")
        self.assertEqual(hmp.cmd("cont"), "")
        self.assertEqual(hmp.cmd("info status"), "VM status: running\n")
        self.assertEqual(hmp.cmd("stop"), "")
        self.assertEqual(hmp.cmd("info status"), "VM status: paused\n")
        self.assertEqual(hmp.cmd("c"), "")
        self.assertEqual(hmp.cmd("info status"), "VM status: running\n")

        self.assertRegex(hmp.cmd("info version"), r"^\d+\.\d+\.\d+")

        out = hmp.cmd("info chardev")
        self.assertRegex(out, r"(?m)^hmp0: filename=unix:%s"
                         % re.escape(vm.hmp_path))

        out = hmp.cmd("frob")
        self.assertIn("unknown command: 'frob'", out)
        self.assertIn("VM status: running", hmp.cmd("info status"))
        self.quit(vm)

    def test_memory(self):
        vm = self.start(QTEST_PC, qtest=True)
        data = bytes(range(1, 17))
        vm.qt.write(0x10000, data)
        out = vm.hmp.cmd("xp /4xw 0x10000")
        self.assertRegex(out, r"^0*10000: 0x04030201 0x08070605 0x0c0b0a09 "
                         r"0x100f0e0d\n$")
        out = vm.hmp.cmd("xp /2xb 0x10001")
        self.assertRegex(out, r"^0*10001: 0x02 0x03\n$")

        path = os.path.join(tmpdir(), "hmp-pmemsave.bin")
        # Relative (baton runs in our cwd): HMP would take "16 /tmp" for a
        # division, as QEMU's expression parser does.
        rel = os.path.relpath(path)
        if not rel.startswith("."):
            rel = os.path.join(".", rel)
        self.assertEqual(vm.hmp.cmd("pmemsave 0x10000 16 %s" % rel), "")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        self.quit(vm)

    def test_info_mtree(self):
        # The pc machine's map: pc.ram seen through ram-below-4g, the
        # VGA window over it, the PCI memory space below RAM (priority
        # -1), the MSI window, an isa-serial and the ports kept quiet,
        # the PCI configuration ports, and each PCI function's bus-master
        # space.
        vm = self.start(QTEST_PC + ["-device", "isa-serial,iobase=0x2f8"],
                        qtest=True)
        bm = ("  0000000000000000-ffffffffffffffff (prio 0, container): "
              "bus master container\n"
              "    0000000000000000-ffffffffffffffff (prio 0, container): "
              "alias bus master @system 0000000000000000-ffffffffffffffff\n"
              "\n")
        system = (
            "  0000000000000000-ffffffffffffffff (prio 0, container): "
            "system\n"
            "    0000000000000000-0000000000ffffff (prio 0, ram): "
            "alias ram-below-4g @pc.ram "
            "0000000000000000-0000000000ffffff\n"
            "    0000000000000000-ffffffffffffffff (prio -1, container): "
            "pci\n"
            "    00000000000a0000-00000000000bffff (prio 1, i/o): "
            "vga-lowmem\n"
            "    00000000fee00000-00000000feefffff (prio 4096, i/o): "
            "apic-msi\n"
            "\n")
        self.assertEqual(vm.hmp.cmd("info mtree"), (
            "address-space: memory\n" + system +
            "address-space: I/O\n"
            "  0000000000000000-000000000000ffff (prio 0, container): io\n"
            "    0000000000000080-0000000000000080 (prio 0, i/o): port80\n"
            "    0000000000000092-0000000000000092 (prio 0, i/o): port92\n"
            "    00000000000000ed-00000000000000ed (prio 0, i/o): portED\n"
            "    00000000000002f8-00000000000002ff (prio 0, i/o): serial\n"
            "    0000000000000cf8-0000000000000cfb (prio 0, i/o): "
            "pci-conf-idx\n"
            "    0000000000000cfc-0000000000000cff (prio 0, i/o): "
            "pci-conf-data\n"
            "\n"
            "address-space: i440FX bus master\n" + bm +
            "address-space: PIIX3 bus master\n" + bm +
            "memory-region: pc.ram\n"
            "  0000000000000000-0000000000ffffff (prio 0, ram): pc.ram\n"
            "\n"
            "memory-region: system\n" + system))
        # The flat view: RAM on both sides of the VGA window.
        flat = vm.hmp.cmd("info mtree -f")
        self.assertIn(
            "FlatView #0\n"
            " AS \"memory\", root: system\n"
            " Root memory region: system\n"
            "  0000000000000000-000000000009ffff (prio 0, ram): pc.ram\n"
            "  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n"
            "  00000000000c0000-0000000000ffffff (prio 0, ram): pc.ram "
            "@00000000000c0000\n", flat)
        # What the flat view says is what accesses see.
        self.assertEqual(vm.qt.readb(0xa0000), 0xff)
        self.assertIn("invalid option '-x'", vm.hmp.cmd("info mtree -x"))
        self.quit(vm)

    @needs_kvm
    def test_info_registers(self):
        vm = self.start(["-S", "-accel", "kvm", "-machine", "pc",
                         "-m", "16M"])
        out = vm.hmp.cmd("info registers")
        self.assertRegex(out, r"\b[ER]AX=[0-9a-f]+")
        self.assertRegex(out, r"\b[ER]IP=[0-9a-f]+")
        # Reset state: real mode at f000:fff0.
        self.assertRegex(out, r"\bEIP=0000fff0\b")
        self.quit(vm)


if __name__ == "__main__":
    baton_test.main()
