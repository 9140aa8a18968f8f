# SPDX-License-Identifier: GPL-2.0-or-later
"""qtest line protocol on -accel qtest -machine pc: guest memory and port
access of every width, the UART registers, unassigned I/O and MMIO, a
round trip through QMP pmemsave, and interrupts: the UART's IRQ 4 as an
intercepted IOAPIC pin, and writes to the MSI window reported only after
irq_intercept_msi. Needs no KVM."""

import os
import unittest

import baton_test
from baton_test import QtestClient, QtestError, Vm, tmpdir

BASE = ["-nodefaults", "-display", "none"]


class Qtest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.vm = Vm(name="qt")
        qtest_path = cls.vm.path("qtest.sock")
        cls.vm.args = BASE + [
            "-accel", "qtest", "-machine", "pc", "-m", "16M",
            "-serial", "null",
            "-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        try:
            cls.vm.launch()
            # Read the LSR before any test touches the UART.
            cls.qt = QtestClient(qtest_path)
            cls.lsr_at_start = cls.qt.inb(0x3fd)
        except Exception:
            cls.vm.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.qt.close()
        cls.vm.shutdown()

    def test_endianness(self):
        self.assertEqual(self.qt.endianness(), "little")

    def test_byte(self):
        self.qt.writeb(0x1000, 0xa5)
        self.assertEqual(self.qt.readb(0x1000), 0xa5)

    def test_word(self):
        self.qt.writew(0x1010, 0xbeef)
        self.assertEqual(self.qt.readw(0x1010), 0xbeef)
        self.assertEqual(self.qt.readb(0x1010), 0xef)

    def test_long(self):
        self.qt.writel(0x1020, 0xdeadbeef)
        self.assertEqual(self.qt.readl(0x1020), 0xdeadbeef)
        self.assertEqual(self.qt.readw(0x1022), 0xdead)

    def test_quad(self):
        self.qt.writeq(0x1030, 0x0123456789abcdef)
        self.assertEqual(self.qt.readq(0x1030), 0x0123456789abcdef)
        self.assertEqual(self.qt.readl(0x1030), 0x89abcdef)
        self.assertEqual(self.qt.readb(0x1037), 0x01)

    def test_read_write_hex(self):
        data = bytes(range(1, 33))
        self.qt.write(0x2000, data)
        self.assertEqual(self.qt.read(0x2000, len(data)), data)
        self.assertEqual(self.qt.readl(0x2000), 0x04030201)

    def test_memset(self):
        self.qt.memset(0x3000, 0x100, 0x5a)
        self.assertEqual(self.qt.read(0x3000, 0x100), b"\x5a" * 0x100)
        self.qt.writeb(0x3100, 0)
        self.qt.memset(0x3000, 0x10, 0)
        self.assertEqual(self.qt.read(0x3000, 0x11), b"\0" * 0x10 + b"\x5a")

    def test_uart_scratch(self):
        for val in (0x5a, 0xa5):
            self.qt.outb(0x3ff, val)
            self.assertEqual(self.qt.inb(0x3ff), val)

    def test_uart_lsr_after_reset(self):
        self.assertEqual(self.lsr_at_start, 0x60)
        self.assertEqual(self.qt.inb(0x3fd), 0x60)

    def test_unassigned_port(self):
        self.assertEqual(self.qt.inb(0x333), 0xff)
        self.assertEqual(self.qt.inw(0x333), 0xffff)
        self.assertEqual(self.qt.inl(0x333), 0xffffffff)
        self.qt.outb(0x333, 0x12)  # ignored, no error

    def test_unassigned_mmio(self):
        self.assertEqual(self.qt.readl(0xfeb00000), 0xffffffff)

    def test_pmemsave_round_trip(self):
        data = bytes((i * 13 + 1) & 0xff for i in range(512))
        self.qt.write(0x40000, data)
        path = os.path.join(tmpdir(), "qtest-pmemsave.bin")
        self.vm.qmp.cmd("pmemsave", val=0x40000, size=len(data),
                        filename=path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)


class Interrupts(unittest.TestCase):
    """What an intercepting client sees of interrupts (own VM: the
    interception stays on for the session)."""

    def setUp(self):
        self.vm = Vm(name="irq")
        qtest_path = self.vm.path("qtest.sock")
        self.vm.args = BASE + [
            "-accel", "qtest", "-machine", "pc", "-m", "16M",
            "-serial", "null",
            "-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.vm.launch()
        self.addCleanup(self.vm.kill)
        self.qt = QtestClient(qtest_path)
        self.addCleanup(self.qt.close)

    def test_serial_irq(self):
        qt = self.qt
        qt.cmd("irq_intercept_in ioapic")
        # THRE interrupt enabled with an empty transmitter: COM1 raises
        # ISA IRQ 4 (GSI 4); reading IIR acknowledges it and lowers it.
        qt.outb(0x3f9, 0x02)
        self.assertEqual(qt.irqs, ["IRQ raise 4"])
        self.assertEqual(qt.inb(0x3fa) & 0x0f, 0x02)
        self.assertEqual(qt.irqs, ["IRQ raise 4", "IRQ lower 4"])
        qt.outb(0x3f9, 0x00)
        self.assertEqual(qt.irqs, ["IRQ raise 4", "IRQ lower 4"])

    def test_msi_window(self):
        qt = self.qt
        # A client that intercepts pins only (as QEMU's do) gets no MSI
        # line: any line would arrive before the write's OK.
        qt.cmd("irq_intercept_in ioapic")
        qt.writel(0xfee00000, 0x4041)
        self.assertEqual(qt.irqs, [])
        qt.cmd("irq_intercept_msi")
        qt.writel(0xfee00000, 0x4041)
        qt.writel(0xfee0100c, 0x4022)  # destination APIC 1
        self.assertEqual(qt.irqs, ["IRQ msi 0xfee00000 0x4041",
                                   "IRQ msi 0xfee0100c 0x4022"])
        # Not an MSI: byte writes are dropped (a guest error), reads
        # return all ones, and RAM below the window is still RAM.
        qt.writeb(0xfee00000, 0x41)
        self.assertEqual(qt.readl(0xfee00000), 0xffffffff)
        self.assertEqual(len(qt.irqs), 2)
        with self.assertRaises(QtestError):
            qt.cmd("irq_intercept_msi now")


class Malformed(unittest.TestCase):
    """Bad command lines get FAIL and the connection keeps working (own VM,
    so that a crash here cannot take the other cases with it)."""

    def test_malformed_commands(self):
        vm = Vm(name="bad")
        qtest_path = vm.path("qtest.sock")
        vm.args = BASE + [
            "-accel", "qtest", "-machine", "pc", "-m", "16M",
            "-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        vm.launch()
        self.addCleanup(vm.kill)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        for line in ("frob 0x10", "readb", "writeb 0x1000", "readl zzz",
                     "write 0x1000 0x2 0x12", "memset 0x1000"):
            with self.assertRaises(QtestError, msg=line):
                qt.cmd(line)
            qt.writeb(0x1100, 0x42)
            self.assertEqual(qt.readb(0x1100), 0x42, line)
        self.assertEqual(vm.shutdown(), 0)


if __name__ == "__main__":
    baton_test.main()
