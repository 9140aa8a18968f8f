# SPDX-License-Identifier: GPL-2.0-or-later
"""vfio-pci under KVM with a guest driving the device (tests/guest/dmatest)
across live updates, against tests/hostsim: VfioGuest over the legacy
container, VfioGuestIommufd the MSI-X cases over iommufd.

The guest finds the dmatest functions, streams each into a ring in its
RAM, and on each interrupt checks and consumes every record; it prints
a line per device every ROUND records with its counters (records, the
interrupt count, bad records, the device's FAULTS and RESETS). The test
alternates cpr-transfer and cpr-exec and, after each, waits until every
device's records and interrupt count went on growing in the new process:
the device's eventfds reach the new VM (MSI-X on an MSI route + irqfd,
INTx as a level irqfd whose resamplefd is the device's unmask eventfd),
nothing is lost or corrupt, no DMA faults, no reset. A migration is
refused. Waits are on the guest's lines with deadlines that only end a
hung test. Updates: BATON_VFIO_GUEST_UPDATES (default 6).

Skips (77) without a usable /dev/kvm or when hostsim is not built."""

import os
import re
import tempfile
import time
import unittest

from baton_test import (QmpError, Vm, VmTestCase, cpr_channels,
                        cpr_exec_to, cpr_incoming_args, guest_image,
                        needs_kvm, tmpdir, unix_listening, wait_for,
                        wait_migration, wait_runstate)
from test_vfio import Hostsim, preload_works

TIMEOUT = 60.0          # ends a hung test; never a synchronisation
UPDATES = int(os.environ.get("BATON_VFIO_GUEST_UPDATES", "6"))
SLOT = 4                # the first function's slot; the others follow
ROUND = 256             # records between the guest's lines
PARAMS = 512            # image offset of the parameter block
MAGIC = b"DMATEST1"

_LINE = re.compile(rb"(?m)^dmatest (\d) rec (\d+) irq (\d+) bad (\d+) "
                   rb"faults (\d+) resets (\d+)\n")
_ERROR = re.compile(rb"dmatest error[^\n]*")


def image(mode, entries=4096, period_us=1000, irq_every=8):
    """dmatest.img with its parameter block set (mode 0 MSI-X, 1 INTx)."""
    with open(guest_image("dmatest"), "rb") as f:
        img = bytearray(f.read())
    if img[PARAMS:PARAMS + 8] != MAGIC:
        raise RuntimeError("dmatest.img has no parameter block")
    img[PARAMS + 8:PARAMS + 28] = b"".join(
        v.to_bytes(4, "little")
        for v in (mode, entries, period_us, irq_every, ROUND))
    fd, path = tempfile.mkstemp(prefix="dmatest-", suffix=".img",
                                dir=tmpdir())
    with os.fdopen(fd, "wb") as f:
        f.write(img)
    return path


class Guest:
    """The guest and its devices; `qmp` and `serial` follow it from
    process to process."""

    def __init__(self, tc, ndev, mode, transport=(), prop=""):
        """NDEV functions in MODE (0 MSI-X, 1 INTx); TRANSPORT are the
        extra arguments of the transport (e.g. -object iommufd) and PROP
        what each vfio-pci adds to use it (e.g. ",iommufd=ID")."""
        self.tc, self.ndev, self.count = tc, ndev, 0
        self.exit_times = []
        bdfs = ["0000:0%d:00.0" % (i + 1) for i in range(ndev)]
        self.hs = Hostsim(tc, ["%s,type=dmatest,group=%d" % (b, 5 + i)
                               for i, b in enumerate(bdfs)])
        args = ["-nodefaults", "-display", "none", "-accel", "kvm",
                "-smp", "1",
                "-object", "memory-backend-memfd,id=ram0,size=64M",
                "-machine", "pc,memory-backend=ram0", "-m", "64M",
                "-trace", "enable=vfio_intx_route",
                "-trace", "enable=kvm_irqchip_irqfd_attach",
                "-drive", "file=%s,format=raw" % image(mode)]
        args += list(transport)
        for i, b in enumerate(bdfs):
            args += ["-device", "vfio-pci,host=%s,addr=%x,id=vf%d%s"
                     % (b, SLOT + i, i, prop)]
        vm = Vm(args + ["-S"], serial_socket=True, name="vg0")
        vm.extra_env = self.hs.env
        tc.launch(vm)
        self.vm, self.argv = vm, vm.command()[:-1]  # without -S
        self.qmp, self.serial = vm.qmp, vm.serial
        vm.qmp = vm.serial = None
        tc.addCleanup(self.qmp.close)
        tc.addCleanup(self.serial.close)
        self.qmp.cmd("cont")
        self.serial.read_until(re.compile(rb"dmatest ready \d+ mode \w+\n|"
                                          rb"dmatest error"),
                               timeout=TIMEOUT, start=0)
        self.check()
        self.tc.assertIn(b"dmatest ready %d mode %s\n"
                         % (ndev, b"intx" if mode else b"msix"),
                         self.serial.snapshot())
        self.resets = None

    def check(self):
        err = _ERROR.search(self.serial.snapshot())
        if err:
            raise AssertionError("the guest reports %r" % err.group(0))

    def last(self):
        """Per device, its last line's counters as a dict (or None)."""
        out = [None] * self.ndev
        for m in _LINE.finditer(self.serial.snapshot()):
            d, rec, irq, bad, faults, resets = (int(x) for x in m.groups())
            out[d] = dict(rec=rec, irq=irq, bad=bad, faults=faults,
                          resets=resets)
        return out

    def progress(self, rounds=3):
        """Wait until every device's records and interrupts went on for
        ROUNDS lines from now; check nothing bad was seen."""
        base = self.last()

        def grown():
            self.check()
            now = self.last()
            return all(n is not None and
                       n["rec"] >= (b["rec"] if b else 0) + rounds * ROUND and
                       n["irq"] > (b["irq"] if b else 0)
                       for n, b in zip(now, base))
        wait_for(grown, TIMEOUT, what="dmatest progress on %d devices"
                 % self.ndev)
        now = self.last()
        for d, n in enumerate(now):
            self.tc.assertEqual((n["bad"], n["faults"]), (0, 0),
                                "device %d: bad records or DMA faults" % d)
        resets = [n["resets"] for n in now]
        if self.resets is None:
            self.resets = resets
        self.tc.assertEqual(resets, self.resets, "a device was reset")
        return now

    def transfer(self):
        self.count += 1
        main = self.vm.path("main%d.sock" % self.count)
        cpr = self.vm.path("cpr%d.sock" % self.count)
        new = Vm(self.argv[1:] + cpr_incoming_args(main, cpr), qmp=False,
                 binary=self.argv[0], name="vg%d" % self.count)
        new.extra_env = self.hs.env
        self.tc.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(), TIMEOUT,
                 what="cpr channel %s" % cpr)
        self.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(self.qmp, timeout=TIMEOUT)
        wait_runstate(self.qmp, "running", TIMEOUT)
        # The old process quits at SIGTERM; a deadline for a hang only (an
        # exit of more than 10 s was seen once with the other core busy).
        t0 = time.monotonic()
        self.vm.proc.terminate()
        self.tc.assertEqual(self.vm.wait(TIMEOUT), 0, self.vm.stderr_text())
        self.exit_times.append(time.monotonic() - t0)
        self.vm = new

    def cpr_exec(self):
        self.count += 1
        cpr_exec_to(self.vm, self.qmp, self.argv, TIMEOUT)

    def stderr(self):
        return self.vm.stderr_text()

    def command(self, ch, reply):
        """Type CH on the guest's serial port; wait for its REPLY line."""
        start = len(self.serial.snapshot())
        self.serial.sock.sendall(ch)
        self.serial.read_until(re.compile(rb"(?m)^(?:%s)\n|dmatest error"
                                          % reply), timeout=TIMEOUT,
                               start=start)
        self.check()

    def trace(self, text):
        """Wait until the current process traced TEXT (a regex)."""
        wait_for(lambda: re.search(text, self.stderr()), TIMEOUT,
                 what="trace %r" % text)


@needs_kvm
class VfioGuest(VmTestCase):
    """Over the legacy container; VfioGuestIommufd overrides TRANSPORT,
    and PROP."""

    TRANSPORT = ()
    PROP = ""

    def guest(self, ndev, mode):
        return Guest(self, ndev, mode, self.TRANSPORT, self.PROP)

    @classmethod
    def setUpClass(cls):
        why = preload_works()
        if why:
            raise unittest.SkipTest(why)

    def updates(self, g, n=UPDATES):
        """N live updates, cpr-transfer and cpr-exec in turn, each
        followed by progress on every device in the new process."""
        g.progress()
        for i in range(n):
            if i % 2:
                g.cpr_exec()
            else:
                g.transfer()
            g.progress()
        print("  %d devices, %d updates: %s; old process exit max %.3f s" % (
            g.ndev, n, ", ".join("rec %d irq %d" % (c["rec"], c["irq"])
                                 for c in g.last()),
            max(g.exit_times)))

    def test_msix_one(self):
        """One function, MSI-X vector 0 through an irqfd, live-updated."""
        g = self.guest(1, 0)
        self.updates(g)
        # Every process attached the vector as an irqfd (no resamplefd).
        self.assertRegex(g.stderr(), r"kvm_irqchip_irqfd_attach fd=\d+ "
                         r"resamplefd=-1 virq=2\d+ ret=0")

    def test_msix_four(self):
        """Four functions in four groups sharing a container, each on its
        own MSI-X vector, live-updated; migration is refused."""
        g = self.guest(4, 0)
        self.updates(g)
        g.qmp.cmd("migrate-set-parameters", mode="normal")
        with self.assertRaises(QmpError) as cm:
            g.qmp.cmd("migrate", uri="file:" + os.path.join(tmpdir(), "x"))
        # The simulated devices here have no VFIO migration.
        self.assertIn("VFIO migration is not supported in kernel",
                      str(cm.exception))
        g.progress()

    def test_intx(self):
        """INTx: a level irqfd on the GSI the pin reaches, with the
        device's unmask eventfd as its resamplefd, through live updates
        (each interrupt needs the EOI's resample to unmask the next). The
        irqfd follows the guest: a PIRQ it re-routes moves it to the new
        GSI (also in the next process, from the loaded PIIX3), and
        COMMAND.INTX_DISABLE hands INTx to baton until cleared."""
        g = self.guest(2, 1)
        # pc: slot 4's INTA is PIRQD -> IRQ 11, slot 5's PIRQA -> IRQ 10.
        err = g.stderr()
        self.assertRegex(err, r"vfio_intx_route 0000:01:00.0 gsi -1 -> 11")
        self.assertRegex(err, r"vfio_intx_route 0000:02:00.0 gsi -1 -> 10")
        self.updates(g, max(2, UPDATES // 2))
        self.assertRegex(g.stderr(), r"kvm_irqchip_irqfd_attach fd=\d+ "
                         r"resamplefd=\d+ virq=11 ret=0")
        # Every PIRQ to IRQ 11: the second function's irqfd moves there.
        g.command(b"r", rb"rerouted 11")
        g.trace(r"vfio_intx_route 0000:02:00.0 gsi 10 -> 11")
        g.progress()
        g.transfer()
        g.trace(r"vfio_intx_route 0000:02:00.0 gsi -1 -> 11")
        g.progress()
        # INTx disabled: no irqfd (baton keeps the level, unasserted).
        g.command(b"x", rb"intx disabled")
        g.trace(r"vfio_intx_route 0000:01:00.0 gsi 11 -> -1")
        g.trace(r"vfio_intx_route 0000:02:00.0 gsi 11 -> -1")
        g.command(b"e", rb"intx enabled")
        g.trace(r"vfio_intx_route 0000:02:00.0 gsi -1 -> 11")
        g.progress()


class VfioGuestIommufd(VfioGuest):
    """The MSI-X cases over iommufd (-object iommufd, vfio-pci iommufd=):
    RAM mapped by file, the IOAS and device ids kept and the pinned pages
    moved to each new process (IOAS_CHANGE_PROCESS). INTx is the same
    code whatever the transport: it runs over the legacy container only,
    which keeps the file's time down (the guest is slow here)."""

    TRANSPORT = ("-object", "iommufd,id=iommufd0",
                 "-trace", "enable=iommufd_backend_change_process")
    PROP = ",iommufd=iommufd0"
    test_intx = None

    def updates(self, g, n=UPDATES):
        super().updates(g, n)
        # The last process took the pinned pages over (after a transfer
        # or an exec alike).
        self.assertRegex(g.stderr(), r"iommufd0 take over -> 0")


if __name__ == "__main__":
    import baton_test
    baton_test.main()
