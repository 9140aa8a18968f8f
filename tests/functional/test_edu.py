# SPDX-License-Identifier: GPL-2.0-or-later
"""QEMU's edu device (hw/misc/edu.c) without a guest (qtest): its PCI
identity and BAR, the registers (id, liveness, factorial with its status
bits and interrupt), interrupt raise/acknowledge seen as INTx through the
PIRQ routing and as MSI (written to guest RAM, and through
irq_intercept_msi on the APIC window), DMA both ways through guest RAM,
dma_mask clamping, rejected ranges, bus mastering off, bad accesses
(logged with -d guest_errors), two functions sharing one INTx line, and
all of it through migration and cpr-transfer of two edu functions created
in opposite orders on the two sides."""

import os
import unittest

import baton_test
from baton_test import (QtestClient, Vm, VmTestCase, cpr_channels,
                        cpr_incoming_args, memfd_ram_args, unix_listening,
                        wait_for, wait_migration, wait_runstate)
from test_pci import Cfg, bdf

BASE = ["-nodefaults", "-display", "none", "-accel", "qtest",
        "-serial", "null", "-machine", "pc"]
MEM = ["-m", "64M"]

# Registers.
ID, LIVENESS, FACT, STATUS, IRQ_STATUS = 0x00, 0x04, 0x08, 0x20, 0x24
IRQ_RAISE, IRQ_ACK = 0x60, 0x64
DMA_SRC, DMA_DST, DMA_CNT, DMA_CMD = 0x80, 0x88, 0x90, 0x98
BUF = 0x40000
# PCI config.
COMMAND, MASTER = 0x04, 0x4

# pc: slot N's INTA is PIRQ (N-1) mod 4; PIRQA-D go to IRQ 10, 10, 11, 11.
SLOT_IRQ = {4: 11, 5: 10, 8: 11}


def fact32(n):
    r = 1
    for i in range(2, n + 1):
        r = (r * i) & 0xffffffff
    return r


class Edu:
    """One edu function at 00:SLOT.0: config cycles and BAR 0 registers."""

    def __init__(self, qt, slot):
        self.qt = qt
        self.slot = slot
        self.b = bdf(0, slot)
        self.cfg = Cfg(qt)
        self.bar = self.cfg.read(self.b, 0x10) & ~0xf

    def rd(self, reg, size=4):
        return (self.qt.readl if size == 4 else self.qt.readq)(self.bar + reg)

    def wr(self, reg, val, size=4):
        (self.qt.writel if size == 4 else self.qt.writeq)(self.bar + reg, val)

    def msi_cap(self):
        ptr = self.cfg.read(self.b, 0x34, 1)
        while ptr:
            if self.cfg.read(self.b, ptr, 1) == 0x05:
                return ptr
            ptr = self.cfg.read(self.b, ptr + 1, 1)
        return None

    def msi_setup(self, address, data, enable=True):
        """Program the 64-bit MSI capability: address, data, enable."""
        cap = self.msi_cap()
        self.cfg.write(self.b, cap + 4, address & 0xffffffff)
        self.cfg.write(self.b, cap + 8, address >> 32)
        self.cfg.write(self.b, cap + 12, data, 2)
        flags = self.cfg.read(self.b, cap + 2, 2)
        self.cfg.write(self.b, cap + 2, flags | 1 if enable else flags & ~1,
                       2)

    def dma(self, src, dst, cnt, cmd):
        self.wr(DMA_SRC, src, 8)
        self.wr(DMA_DST, dst, 8)
        self.wr(DMA_CNT, cnt, 8)
        self.wr(DMA_CMD, cmd, 8)

    def set_master(self, on):
        cmd = self.cfg.read(self.b, COMMAND, 2)
        self.cfg.write(self.b, COMMAND,
                       cmd | MASTER if on else cmd & ~MASTER, 2)


class EduCase(VmTestCase):

    def start(self, args, name=None, mem=MEM):
        vm = Vm(BASE + mem + list(args), name=name)
        vm.qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % vm.qtest_path]
        self.launch(vm)
        qt = QtestClient(vm.qtest_path)
        self.addCleanup(qt.close)
        return vm, qt


class Registers(EduCase):
    """One edu at 00:04.0 with -d guest_errors to a log file."""

    def setUp(self):
        self.log = os.path.join(baton_test.tmpdir(), "edu-%s.log" % self.id())
        self.vm, self.qt = self.start(["-device", "edu,id=e0,addr=4",
                                       "-d", "guest_errors", "-D", self.log])
        self.e = Edu(self.qt, 4)

    def logged(self):
        with open(self.log) as f:
            return f.read()

    def test_pci_identity(self):
        c, b = self.e.cfg, self.e.b
        self.assertEqual(c.read(b, 0x00), 0x11e81234)
        self.assertEqual(c.read(b, 0x08, 1), 0x10)          # revision
        self.assertEqual(c.read(b, 0x0a, 2), 0x00ff)        # class
        self.assertEqual(c.read(b, 0x3d, 1), 1)             # INTA
        self.assertEqual(c.read(b, 0x3c, 1), SLOT_IRQ[4])
        # BAR 0: 1 MiB of 32-bit memory, placed at reset; no other BAR.
        dev = self.vm.qmp.cmd("query-pci")[0]["devices"]
        edu = [d for d in dev if d["slot"] == 4][0]
        self.assertEqual(edu["id"]["vendor"], 0x1234)
        self.assertEqual(edu["id"]["device"], 0x11e8)
        self.assertEqual([(r["bar"], r["type"], r["size"], r["mem_type_64"])
                          for r in edu["regions"]],
                         [(0, "memory", 1 << 20, False)])
        self.assertEqual(edu["regions"][0]["address"], self.e.bar)
        c.write(b, 0x04, 0, 2)
        c.write(b, 0x10, 0xffffffff)
        self.assertEqual(c.read(b, 0x10), 0xfff00000)
        c.write(b, 0x10, self.e.bar)
        c.write(b, 0x04, 0x7, 2)
        # MSI: one vector, 64-bit address, no per-vector masking.
        cap = self.e.msi_cap()
        self.assertIsNotNone(cap)
        flags = c.read(b, cap + 2, 2)
        self.assertEqual(flags & 0x0080, 0x0080, hex(flags))   # 64-bit
        self.assertEqual(flags & 0x000e, 0, hex(flags))         # 1 vector
        self.assertEqual(flags & 0x0101, 0, hex(flags))   # off, no masking

    def test_id_and_liveness(self):
        e = self.e
        self.assertEqual(e.rd(ID), 0x010000ed)
        e.wr(ID, 0x12345678)                    # read-only
        self.assertEqual(e.rd(ID), 0x010000ed)
        for v in (0, 0x12345678, 0xffffffff):
            e.wr(LIVENESS, v)
            self.assertEqual(e.rd(LIVENESS), ~v & 0xffffffff)

    def test_factorial(self):
        e, qt = self.e, self.qt
        qt.cmd("irq_intercept_in ioapic")
        for n in (0, 1, 5, 12, 13, 34):
            e.wr(FACT, n)
            # Computed before the write returned: never busy when read.
            self.assertEqual(e.rd(STATUS) & 0x01, 0)
            self.assertEqual(e.rd(FACT), fact32(n), n)
        self.assertEqual(e.rd(FACT), 0)        # 34! is 0 in 32 bits
        self.assertEqual(qt.irqs, [])          # no interrupt asked for
        # Status: 0x80 is read-write, 0x01 read-only.
        e.wr(STATUS, 0xffffffff)
        self.assertEqual(e.rd(STATUS), 0x80)
        e.wr(FACT, 6)
        self.assertEqual(e.rd(FACT), 720)
        self.assertEqual(e.rd(IRQ_STATUS), 0x001)
        irq = SLOT_IRQ[4]
        self.assertEqual(qt.irqs, ["IRQ raise %d" % irq])
        e.wr(IRQ_ACK, 0x001)
        self.assertEqual(e.rd(IRQ_STATUS), 0)
        self.assertEqual(qt.irqs, ["IRQ raise %d" % irq, "IRQ lower %d" % irq])
        e.wr(STATUS, 0)
        self.assertEqual(e.rd(STATUS), 0)

    def test_raise_and_ack_intx(self):
        e, qt, irq = self.e, self.qt, SLOT_IRQ[4]
        qt.cmd("irq_intercept_in ioapic")
        e.wr(IRQ_RAISE, 0x5)
        self.assertEqual(e.rd(IRQ_STATUS), 0x5)
        self.assertEqual(qt.irqs, ["IRQ raise %d" % irq])
        e.wr(IRQ_RAISE, 0x8)                    # still up: no new edge
        self.assertEqual(e.rd(IRQ_STATUS), 0xd)
        e.wr(IRQ_ACK, 0x1)
        e.wr(IRQ_ACK, 0x8)
        self.assertEqual(e.rd(IRQ_STATUS), 0x4)
        self.assertEqual(qt.irqs, ["IRQ raise %d" % irq])
        e.wr(IRQ_ACK, 0xffffffff)
        self.assertEqual(e.rd(IRQ_STATUS), 0)
        self.assertEqual(qt.irqs, ["IRQ raise %d" % irq, "IRQ lower %d" % irq])
        # Raising 0 sets nothing and raises nothing.
        e.wr(IRQ_RAISE, 0)
        self.assertEqual(len(qt.irqs), 2)

    def test_msi_to_ram(self):
        """QEMU's way to watch an MSI without an interrupt controller:
        point the message address at RAM and read the data there. INTx
        stays low while MSI is on."""
        e, qt = self.e, self.qt
        qt.cmd("irq_intercept_in ioapic")
        e.msi_setup(0x10000, 0x4321)
        e.wr(IRQ_RAISE, 0x2)
        self.assertEqual(qt.readl(0x10000), 0x4321)
        self.assertEqual(qt.irqs, [])
        qt.writel(0x10000, 0)
        e.wr(STATUS, 0x80)
        e.wr(FACT, 3)                          # factorial interrupt too
        self.assertEqual(qt.readl(0x10000), 0x4321)
        self.assertEqual(e.rd(IRQ_STATUS), 0x3)
        e.wr(IRQ_ACK, 0x3)
        self.assertEqual(e.rd(IRQ_STATUS), 0)
        self.assertEqual(qt.irqs, [])
        # MSI off: back to INTx.
        e.msi_setup(0x10000, 0x4321, enable=False)
        e.wr(IRQ_RAISE, 0x1)
        self.assertEqual(qt.irqs, ["IRQ raise %d" % SLOT_IRQ[4]])

    def test_msi_to_apic_window(self):
        e, qt = self.e, self.qt
        qt.cmd("irq_intercept_msi")
        e.msi_setup(0xfee00000, 0x4041)
        e.wr(IRQ_RAISE, 0x1)
        e.wr(IRQ_RAISE, 0x2)       # every raise is a message (edge)
        self.assertEqual(qt.irqs, ["IRQ msi 0xfee00000 0x4041"] * 2)
        # Turning MSI on while the status is set does not raise INTx; off
        # again, the pending status shows up on the line.
        qt.cmd("irq_intercept_in ioapic")
        e.msi_setup(0xfee00000, 0x4041, enable=False)
        self.assertEqual(qt.irqs[-1], "IRQ raise %d" % SLOT_IRQ[4])
        e.wr(IRQ_ACK, 0x3)
        self.assertEqual(qt.irqs[-1], "IRQ lower %d" % SLOT_IRQ[4])

    def test_bad_accesses(self):
        """Wrong sizes, unknown and write-only offsets: all ones, logged,
        and the device works on."""
        e, qt = self.e, self.qt
        bar = e.bar
        self.assertEqual(qt.readb(bar + ID), 0xff)
        self.assertEqual(qt.readw(bar + ID), 0xffff)
        self.assertEqual(qt.readq(bar + ID), 0xffffffffffffffff)
        self.assertEqual(qt.readl(bar + IRQ_RAISE), 0xffffffff)
        self.assertEqual(qt.readl(bar + 0x10), 0xffffffff)
        self.assertEqual(qt.readw(bar + DMA_SRC), 0xffff)
        self.assertEqual(qt.readl(bar + DMA_SRC + 2), 0xffffffff)
        self.assertEqual(qt.readl(bar + BUF), 0xffffffff)  # not mapped
        self.assertEqual(qt.readl(bar + 0xffffc), 0xffffffff)
        qt.writeb(bar + LIVENESS, 0x12)
        qt.writew(bar + IRQ_RAISE, 0x1)
        qt.writeq(bar + IRQ_RAISE, 0x1)
        qt.writel(bar + 0x100, 0x1)
        self.assertEqual(e.rd(IRQ_STATUS), 0)
        self.assertEqual(e.rd(LIVENESS), 0)
        e.wr(LIVENESS, 1)
        self.assertEqual(e.rd(LIVENESS), 0xfffffffe)
        log = wait_for(lambda: "write of unknown" in self.logged()
                       and self.logged(), what="log")
        for text in ("edu 00:04.0: invalid 1-byte read at 0x0",
                     "edu 00:04.0: invalid 8-byte read at 0x0",
                     "edu 00:04.0: invalid 4-byte read at 0x82",
                     "edu 00:04.0: read of unknown or write-only register "
                     "0x60",
                     "edu 00:04.0: invalid 8-byte write at 0x60",
                     "edu 00:04.0: write of unknown or read-only register "
                     "0x100"):
            self.assertIn(text, log)
        self.assertEqual(self.vm.qmp.cmd("query-status")["status"], "running")

    def test_dma_both_ways(self):
        e, qt = self.e, self.qt
        pattern = bytes((i * 7 + 1) & 0xff for i in range(4096))
        qt.write(0x100000, pattern)
        qt.cmd("irq_intercept_in ioapic")
        # RAM -> EDU, the whole buffer.
        e.dma(0x100000, BUF, 4096, 0x1)
        self.assertEqual(e.rd(DMA_CMD, 8), 0)      # start bit cleared
        self.assertEqual(qt.irqs, [])
        # EDU -> RAM: a piece from the middle, with the DMA interrupt.
        e.dma(BUF + 100, 0x200000 + 3, 300, 0x2 | 0x4 | 0x1)
        self.assertEqual(e.rd(DMA_CMD, 8), 0x6)
        self.assertEqual(qt.read(0x200000 + 3, 300), pattern[100:400])
        self.assertEqual(qt.read(0x200000, 3), bytes(3))
        self.assertEqual(qt.read(0x200000 + 303, 4), bytes(4))
        self.assertEqual(e.rd(IRQ_STATUS), 0x100)
        self.assertEqual(qt.irqs, ["IRQ raise %d" % SLOT_IRQ[4]])
        # The registers read back, 8 and 4 bytes.
        self.assertEqual(e.rd(DMA_SRC, 8), BUF + 100)
        self.assertEqual(e.rd(DMA_DST), 0x200003)
        self.assertEqual(e.rd(DMA_CNT, 8), 300)
        # A command without the start bit does nothing.
        e.wr(DMA_CMD, 0x2, 8)
        self.assertEqual(e.rd(DMA_CMD, 8), 0x6)
        # The buffer is whole: all of it back out.
        e.dma(BUF, 0x300000, 4096, 0x3)
        self.assertEqual(qt.read(0x300000, 4096), pattern)

    def test_dma_mask_clamps(self):
        e, qt = self.e, self.qt
        qt.write(0x180000, b"clamped!")
        # 0x10180000 & (2^28 - 1) = 0x180000.
        e.dma(0x10180000, BUF, 8, 0x1)
        e.dma(BUF, 0xf0280000, 8, 0x3)
        self.assertEqual(qt.read(0x280000, 8), b"clamped!")
        log = wait_for(lambda: "clamped" in self.logged() and self.logged(),
                       what="log")
        self.assertIn("edu 00:04.0: DMA address 0x10180000 clamped to "
                      "0x180000 by dma_mask 0xfffffff", log)
        self.assertIn("0xf0280000 clamped to 0x280000", log)

    def test_dma_out_of_range(self):
        """Not done, logged; the command completes (and interrupts)."""
        e, qt = self.e, self.qt
        qt.write(0x100000, b"A" * 4097)
        qt.write(0x200000, b"B" * 4097)
        for src, dst, cnt in ((0x100000, BUF, 4097),
                              (0x100000, BUF + 4000, 200),
                              (0x100000, BUF - 1, 2),
                              (0x100000, 0x0, 16),
                              (0x100000, BUF + 4096, 1),
                              (0x100000, BUF + 8, (1 << 64) - 4)):
            e.dma(src, dst, cnt, 0x1 | 0x4)
            self.assertEqual(e.rd(DMA_CMD, 8), 0x4)
            self.assertEqual(e.rd(IRQ_STATUS), 0x100)
            e.wr(IRQ_ACK, 0x100)
        e.dma(BUF + 4000, 0x200000, 200, 0x3)
        self.assertEqual(qt.read(0x200000, 4097), b"B" * 4097)
        e.dma(BUF, 0x200000, 4096, 0x3)             # the buffer is empty
        self.assertEqual(qt.read(0x200000, 4097), bytes(4096) + b"B")
        self.assertIn("edu 00:04.0: DMA of 0x1001 bytes at device address "
                      "0x40000 is outside the buffer [0x40000, 0x41000); "
                      "not done", self.logged())

    def test_bus_master_off(self):
        e, qt = self.e, self.qt
        qt.write(0x100000, b"source!!")
        e.dma(0x100000, BUF, 8, 0x1)
        e.set_master(False)
        qt.write(0x100000, b"changed!")
        e.dma(0x100000, BUF, 8, 0x1)                # RAM -> EDU: nothing
        e.dma(BUF, 0x200000, 8, 0x3)                # EDU -> RAM: nothing
        self.assertEqual(qt.read(0x200000, 8), bytes(8))
        # MSI is a DMA write too: none while bus mastering is off.
        e.msi_setup(0x10000, 0x77)
        e.wr(IRQ_RAISE, 1)
        self.assertEqual(qt.readl(0x10000), 0)
        e.set_master(True)
        e.dma(BUF, 0x200000, 8, 0x3)
        self.assertEqual(qt.read(0x200000, 8), b"source!!")
        self.assertIn("DMA with bus mastering off; not done", self.logged())

    def test_reset(self):
        e = self.e
        e.wr(LIVENESS, 0)
        e.wr(IRQ_RAISE, 0x4)
        e.dma(0x0, BUF, 16, 0x1)
        self.vm.qmp.cmd("system_reset")
        wait_for(lambda: Edu(self.qt, 4).rd(LIVENESS) == 0, what="reset")
        e = Edu(self.qt, 4)
        self.assertEqual((e.rd(IRQ_STATUS), e.rd(DMA_SRC, 8),
                          e.rd(DMA_CNT, 8)), (0, 0, 0))


class Options(EduCase):

    def test_dma_mask_property(self):
        vm, qt = self.start(["-device",
                             "edu,id=e0,addr=4,dma_mask=0xffffffff"])
        e = Edu(qt, 4)
        self.assertEqual(vm.qmp.cmd("qom-get", path="/machine/peripheral/e0",
                                    property="dma_mask"), 0xffffffff)
        qt.write(0x180000, b"no clamp")
        e.dma(0x180000, BUF, 8, 0x1)
        e.dma(BUF, 0x10280000, 8, 0x3)      # beyond RAM: not at 0x280000
        self.assertEqual(qt.read(0x280000, 8), bytes(8))
        e.dma(BUF, 0x280000, 8, 0x3)
        self.assertEqual(qt.read(0x280000, 8), b"no clamp")

    def test_bad_property(self):
        vm = Vm(BASE + MEM + ["-device", "edu,dma_mask=lots"], qmp=False)
        vm.launch()
        self.assertEqual(vm.wait(), 1)
        self.assertIn("dma_mask", vm.stderr_text())


class SharedLine(EduCase):

    def test_wired_or(self):
        """Slots 4 and 8 both reach PIRQD (IRQ 11): the line stays up
        until the last function acknowledges."""
        vm, qt = self.start(["-device", "edu,addr=4", "-device",
                             "edu,addr=8"])
        a, b = Edu(qt, 4), Edu(qt, 8)
        self.assertEqual(a.cfg.read(b.b, 0x3c, 1), 11)
        qt.cmd("irq_intercept_in ioapic")
        a.wr(IRQ_RAISE, 1)
        b.wr(IRQ_RAISE, 2)
        self.assertEqual(qt.irqs, ["IRQ raise 11"])
        a.wr(IRQ_ACK, 1)
        self.assertEqual(qt.irqs, ["IRQ raise 11"])
        b.wr(IRQ_ACK, 2)
        self.assertEqual(qt.irqs, ["IRQ raise 11", "IRQ lower 11"])
        b.wr(IRQ_RAISE, 2)
        a.wr(IRQ_RAISE, 1)
        b.wr(IRQ_ACK, 2)
        self.assertEqual(qt.irqs[2:], ["IRQ raise 11"])
        a.wr(IRQ_ACK, 1)
        self.assertEqual(qt.irqs[2:], ["IRQ raise 11", "IRQ lower 11"])


class Migration(EduCase):
    """Three edu functions, 00:04.0, 00:05.0 and 00:09.0, created in
    opposite orders on the two sides: each keeps its registers, buffer,
    BAR placement, MSI configuration and interrupt level. 05.0 and 09.0
    share PIRQA (IRQ 10), which shows that 05.0's pin is asserted on the
    destination without relying on an interception made before the load
    (cpr-transfer's new process starts a fresh qtest session)."""

    DEVS = [["-device", "edu,id=ea,addr=4"], ["-device", "edu,id=eb,addr=5"],
            ["-device", "edu,id=ec,addr=9"]]
    # BARs swapped against what reset assignment gives, so the
    # destination cannot get them right by assigning them again.
    BARS = {4: 0xd0100000, 5: 0xd0000000, 9: 0xd0200000}

    def args(self, reverse=False):
        devs = list(reversed(self.DEVS)) if reverse else self.DEVS
        return [a for d in devs for a in d]

    def prepare(self, qt):
        for slot, bar in self.BARS.items():
            e = Edu(qt, slot)
            e.cfg.write(e.b, 0x10, bar)
        a, b = Edu(qt, 4), Edu(qt, 5)
        qt.write(0x100000, bytes(range(256)) * 16)
        qt.write(0x200000, bytes(255 - i for i in range(256)) * 16)
        a.dma(0x100000, BUF, 4096, 0x1)
        b.dma(0x200000, BUF, 4096, 0x1)
        a.wr(LIVENESS, 0xaaaa0000)
        b.wr(LIVENESS, 0x0000bbbb)
        a.wr(FACT, 10)
        b.wr(FACT, 7)
        a.wr(STATUS, 0x80)
        # a: MSI to RAM, status 0x10 pending; b: INTx (IRQ 10) up with 0x20.
        a.msi_setup(0x10000, 0xa5a5)
        a.wr(IRQ_RAISE, 0x10)
        b.wr(IRQ_RAISE, 0x20)
        a.wr(DMA_SRC, 0x1234, 8)
        b.wr(DMA_DST, 0x5678, 8)
        b.wr(DMA_CNT, 0x99, 8)
        qt.writel(0x10000, 0)

    def check(self, qt, qmp):
        a, b = Edu(qt, 4), Edu(qt, 5)
        self.assertEqual((a.bar, b.bar), (self.BARS[4], self.BARS[5]))
        placed = {d["slot"]: d["regions"][0]["address"]
                  for d in qmp.cmd("query-pci")[0]["devices"]
                  if d["id"]["device"] == 0x11e8}
        self.assertEqual(placed, self.BARS)
        self.assertEqual((a.rd(LIVENESS), b.rd(LIVENESS)),
                         (0x5555ffff, 0xffff4444))
        self.assertEqual((a.rd(FACT), b.rd(FACT)), (3628800, 5040))
        self.assertEqual((a.rd(STATUS), b.rd(STATUS)), (0x80, 0))
        self.assertEqual((a.rd(IRQ_STATUS), b.rd(IRQ_STATUS)), (0x10, 0x20))
        self.assertEqual((a.rd(DMA_SRC, 8), b.rd(DMA_DST, 8),
                          b.rd(DMA_CNT, 8)), (0x1234, 0x5678, 0x99))
        # The buffers, out to RAM.
        a.dma(BUF, 0x300000, 4096, 0x3)
        b.dma(BUF, 0x400000, 4096, 0x3)
        self.assertEqual(qt.read(0x300000, 4096), bytes(range(256)) * 16)
        self.assertEqual(qt.read(0x400000, 4096),
                         bytes(255 - i for i in range(256)) * 16)
        # b's INTx is asserted: c, on the same PIRQ, raising makes no
        # edge; the line goes low when both have acknowledged and up
        # again with c alone.
        irq = SLOT_IRQ[5]
        c = Edu(qt, 9)
        qt.cmd("irq_intercept_in ioapic")
        seen = list(qt.irqs)
        c.wr(IRQ_RAISE, 0x1)
        self.assertEqual(qt.irqs, seen)
        b.wr(IRQ_ACK, 0x20)
        self.assertEqual(qt.irqs, seen)
        c.wr(IRQ_ACK, 0x1)
        c.wr(IRQ_RAISE, 0x1)
        self.assertEqual(qt.irqs[-1], "IRQ raise %d" % irq)
        # a's MSI configuration: the next interrupt is a message to RAM.
        self.assertEqual(qt.readl(0x10000), 0)
        a.wr(FACT, 4)
        self.assertEqual(qt.readl(0x10000), 0xa5a5)
        self.assertEqual(a.rd(IRQ_STATUS), 0x11)
        return seen

    def test_precopy(self):
        src, sqt = self.start(self.args(), name="src")
        self.prepare(sqt)
        path = src.path("mig.sock")
        dst, dqt = self.start(self.args(reverse=True) +
                              ["-incoming", "unix:" + path], name="dst")
        wait_for(lambda: os.path.exists(path), what="incoming socket")
        dqt.cmd("irq_intercept_in ioapic")
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_runstate(dst.qmp, "running")
        # The interception, on before the state arrived, saw b's pin go up.
        irq = SLOT_IRQ[5]
        self.assertEqual(self.check(dqt, dst.qmp), ["IRQ raise %d" % irq])
        self.assertEqual(dqt.irqs, ["IRQ raise %d" % irq, "IRQ lower %d" % irq,
                                    "IRQ raise %d" % irq])

    def test_cpr_transfer(self):
        ram = memfd_ram_args("64M")
        old, qt = self.start(self.args(), name="cpr-old", mem=ram)
        self.prepare(qt)
        main, cpr = old.path("m.sock"), old.path("c.sock")
        # Same command line (the qtest and QMP sockets are inherited, so
        # qt and old.qmp talk to the new process afterwards) with the
        # devices in the other order.
        argv = old.command()[1:]
        first = argv.index("-device")
        argv[first:first + 6] = self.args(reverse=True)
        new = self.launch(Vm(argv + cpr_incoming_args(main, cpr), qmp=False,
                             name="cpr-new"))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        old.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(old.qmp)
        wait_runstate(old.qmp, "running")
        old.proc.terminate()
        self.assertEqual(old.proc.wait(10), 0)
        self.check(qt, old.qmp)


if __name__ == "__main__":
    baton_test.main()
