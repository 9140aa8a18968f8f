# SPDX-License-Identifier: GPL-2.0-or-later
"""x-pci-test with irqfd=on under the qtest accelerator: its MSI-X vectors
and INTx come from eventfds it owns, and this test takes copies of them
from the running process (pidfd_getfd) and writes them from outside, as a
VFIO device's kernel side would. With no KVM routing the device reads
its eventfds itself: an unmasked vector's MSI shows as qtest's
"IRQ msi", a masked one sets its PBA bit and is sent on unmask, INTx
raises the line until the guest clears the register. Across cpr-transfer
and cpr-exec the new process keeps the same eventfds (the copies held
here still reach it) and the MSI-X table and PBA."""

import ctypes
import os
import struct

import baton_test
from baton_test import (QtestClient, Vm, VmTestCase, cpr_channels,
                        cpr_exec_to, cpr_incoming_args, memfd_ram_args,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)

TIMEOUT = 30.0          # ends a hung test; never a synchronisation
INTX, MSIX_REG = 0xf00, 0xf08
SYS_PIDFD_OPEN, SYS_PIDFD_GETFD = 434, 438
_libc = ctypes.CDLL(None, use_errno=True)


def take_fd(pid, fd):
    """A copy of process PID's descriptor FD (pidfd_getfd(2))."""
    pidfd = _libc.syscall(SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        raise OSError(ctypes.get_errno(), "pidfd_open")
    try:
        copy = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return copy
    finally:
        os.close(pidfd)


def signal(fd):
    os.write(fd, struct.pack("=Q", 1))


def irq_fds(vm, dev="t0"):
    """x-irq-fds of DEV: {"msix0": N, ..., "intx": K, "resample": R}."""
    text = vm.qmp.cmd("qom-get", path="/machine/peripheral/" + dev,
                      property="x-irq-fds")
    return {k: int(v) for k, v in
            (kv.split("=") for kv in text.split(",") if kv)}


class Cfg:
    """Config cycles of 00:03.0 through 0xcf8/0xcfc."""

    def __init__(self, qt, devfn=3 << 3):
        self.qt, self.devfn = qt, devfn

    def read(self, reg, size=4):
        self.qt.outl(0xcf8, 0x80000000 | self.devfn << 8 | (reg & 0xfc))
        return {1: self.qt.inb, 2: self.qt.inw, 4: self.qt.inl}[size](
            0xcfc + (reg & 3))

    def write(self, reg, val, size=4):
        self.qt.outl(0xcf8, 0x80000000 | self.devfn << 8 | (reg & 0xfc))
        {1: self.qt.outb, 2: self.qt.outw, 4: self.qt.outl}[size](
            0xcfc + (reg & 3), val)

    def cap(self, cap_id):
        ptr = self.read(0x34, 1)
        while ptr:
            if self.read(ptr, 1) == cap_id:
                return ptr
            ptr = self.read(ptr + 1, 1)
        return 0


class IrqfdCase(VmTestCase):

    def start(self, args, name=None):
        vm = Vm(list(args), name=name)
        qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.launch(vm)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        return vm, qt

    def setup_device(self, vm, qt):
        self.vm, self.qt = vm, qt
        self.cfg = Cfg(qt)
        regions = {r["bar"]: r["address"] for b in vm.qmp.cmd("query-pci")
                   for d in b["devices"] if d["slot"] == 3
                   for r in d["regions"]}
        self.bar0, self.bar4 = regions[0], regions[4]
        self.msix = self.cfg.cap(0x11)
        self.copies = {}
        for name, fd in irq_fds(vm).items():
            copy = take_fd(vm.pid, fd)
            self.addCleanup(os.close, copy)
            self.copies[name] = copy

    def entry(self, vector, addr, data, ctrl):
        e = self.bar4 + vector * 16
        self.qt.writel(e, addr & 0xffffffff)
        self.qt.writel(e + 4, addr >> 32)
        self.qt.writel(e + 8, data)
        self.qt.writel(e + 12, ctrl)

    def pba(self):
        return self.qt.readl(self.bar4 + 0x800)

    def wait_irq(self, line, count=1):
        """Until qtest has reported LINE COUNT times (each wait costs one
        qtest round trip, which also collects the lines sent meanwhile)."""
        wait_for(lambda: self.qt.readl(0) is not None and
                 self.qt.irqs.count(line) >= count, TIMEOUT,
                 what="qtest line %r x%d" % (line, count))
        self.assertEqual(self.qt.irqs.count(line), count)


BASE = ["-nodefaults", "-display", "none", "-accel", "qtest", "-serial",
        "null", "-machine", "pc"]
DEV = ["-device", "x-pci-test,id=t0,addr=3,irqfd=on"]


class Qtest(IrqfdCase):

    def setUp(self):
        self.setup_device(*self.start(BASE + ["-m", "64M"] + DEV))
        self.qt.cmd("irq_intercept_msi")

    def test_fds(self):
        fds = irq_fds(self.vm)
        self.assertEqual(sorted(fds), sorted(["msix%d" % i for i in range(8)]
                                             + ["intx", "resample"]))
        self.assertEqual(len(set(fds.values())), 10)
        for fd in fds.values():
            link = os.readlink("/proc/%d/fd/%d" % (self.vm.pid, fd))
            self.assertEqual(link, "anon_inode:[eventfd]")

    def test_msix_from_outside(self):
        self.entry(2, 0xfee00000, 0x4042, 0)
        self.cfg.write(self.msix + 2, 0x8000, 2)           # enable
        signal(self.copies["msix2"])
        self.wait_irq("IRQ msi 0xfee00000 0x4042")
        # The BAR 0 trigger writes the same eventfd.
        self.qt.writel(self.bar0 + MSIX_REG, 2)
        self.wait_irq("IRQ msi 0xfee00000 0x4042", 2)
        self.assertEqual(self.pba(), 0)

    def test_masked_vector_pending(self):
        self.entry(5, 0xfee00000, 0x4055, 1)               # masked
        self.cfg.write(self.msix + 2, 0x8000, 2)
        signal(self.copies["msix5"])
        wait_for(lambda: self.pba() == 0x20, TIMEOUT, what="PBA bit 5")
        self.assertEqual(self.qt.irqs, [])
        self.qt.writel(self.bar4 + 5 * 16 + 12, 0)          # unmask
        self.assertEqual(self.qt.irqs, ["IRQ msi 0xfee00000 0x4055"])
        self.assertEqual(self.pba(), 0)
        # The function mask too; MSI-X disabled keeps it pending as well.
        self.cfg.write(self.msix + 2, 0xc000, 2)
        signal(self.copies["msix5"])
        wait_for(lambda: self.pba() == 0x20, TIMEOUT, what="PBA bit 5")
        self.cfg.write(self.msix + 2, 0x8000, 2)
        self.assertEqual(self.qt.irqs, ["IRQ msi 0xfee00000 0x4055"] * 2)
        self.assertEqual(self.pba(), 0)

    def test_intx(self):
        qt = self.qt
        qt.cmd("irq_intercept_in ioapic")
        signal(self.copies["intx"])                         # slot 3: IRQ 11
        self.wait_irq("IRQ raise 11")
        self.assertTrue(self.cfg.read(0x06, 2) & 0x08)     # INTERRUPT status
        qt.writel(self.bar0 + INTX, 0)                      # the guest acks
        self.assertEqual(qt.irqs, ["IRQ raise 11", "IRQ lower 11"])
        # The register: level 1 raises through the eventfd, 0 lowers.
        qt.writel(self.bar0 + INTX, 1)
        self.assertEqual(qt.readl(self.bar0 + INTX), 1)
        self.wait_irq("IRQ raise 11", 2)
        qt.writel(self.bar0 + INTX, 0)
        self.assertEqual(qt.irqs[-1], "IRQ lower 11")
        self.assertEqual(qt.readl(self.bar0 + INTX), 0)

    def test_x_irq_fds_is_read_only(self):
        vm = Vm(BASE + ["-device", "x-pci-test,irqfd=on,x-irq-fds=msix0=1"],
                qmp=False, name="ro")
        vm.launch()
        self.assertEqual(vm.wait(), 1)
        self.assertIn("x-pci-test: property 'x-irq-fds' is read-only",
                      vm.stderr_text())
        plain, _ = self.start(BASE + ["-device", "x-pci-test,id=t0,addr=3"],
                              name="plain")
        self.assertEqual(irq_fds(plain), {})


class LiveUpdate(IrqfdCase):
    """The eventfds and the MSI-X state outlive the process."""

    def setUp(self):
        self.args = BASE + memfd_ram_args("64M") + DEV
        self.setup_device(*self.start(self.args, name="old"))
        self.qt.cmd("irq_intercept_msi")
        self.entry(1, 0xfee00000, 0x4041, 0)
        self.entry(3, 0xfee00000, 0x4043, 1)                # masked
        self.cfg.write(self.msix + 2, 0x8000, 2)
        signal(self.copies["msix3"])
        wait_for(lambda: self.pba() == 0x8, TIMEOUT, what="PBA bit 3")

    def check_new_process(self, old_fds):
        qt = self.qt
        self.assertEqual(qt.readl(self.bar4 + 16 + 8), 0x4041)
        self.assertEqual(self.pba(), 0x8)                   # still pending
        del qt.irqs[:]
        qt.cmd("irq_intercept_msi")     # the new process's qtest server
        # The copies taken from the old process reach the new one.
        signal(self.copies["msix1"])
        self.wait_irq("IRQ msi 0xfee00000 0x4041")
        signal(self.copies["msix3"])
        wait_for(lambda: self.pba() == 0x8 and
                 qt.readl(0) is not None, TIMEOUT)
        qt.writel(self.bar4 + 3 * 16 + 12, 0)               # unmask
        self.assertEqual(qt.irqs[-1], "IRQ msi 0xfee00000 0x4043")
        self.assertEqual(qt.irqs.count("IRQ msi 0xfee00000 0x4043"), 1)
        self.assertEqual(self.pba(), 0)
        # The same eventfds: each copy is the same open file as the
        # new process's descriptor (kcmp would say so; the writes above
        # show it), and the new process has no others.
        new_fds = irq_fds(self.vm)
        self.assertEqual(sorted(new_fds), sorted(old_fds))

    def test_cpr_transfer(self):
        old, old_fds = self.vm, irq_fds(self.vm)
        main, cpr = old.path("main.sock"), old.path("cpr.sock")
        new = Vm(old.command()[1:] + cpr_incoming_args(main, cpr), qmp=False,
                 name="new")
        self.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(), TIMEOUT,
                 what="cpr socket of the new process")
        old.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(old.qmp)
        wait_runstate(old.qmp, "running")      # the new process answers
        self.vm = new
        new.qmp = old.qmp
        self.check_new_process(old_fds)
        # The old process reads none of them any more.
        self.assertEqual(self.pba(), 0)

    def test_cpr_exec(self):
        vm, old_fds = self.vm, irq_fds(self.vm)
        cpr_exec_to(vm, vm.qmp, vm.command(), TIMEOUT)
        self.check_new_process(old_fds)


if __name__ == "__main__":
    baton_test.main()
