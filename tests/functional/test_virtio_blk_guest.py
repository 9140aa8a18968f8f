#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A KVM guest of ours (tests/guest/virtio-blk) drives virtio-blk-pci:
it writes checksummed 4 KiB blocks and reads each back, every request
waited for on the used ring and by its MSI-X interrupt (an irqfd), and
stops with an error line if a request is lost, completed twice, fails,
reads back wrong, or its interrupt is missing or doubled. The guest is
live-updated (cpr-transfer and cpr-exec, alternating) and migrated
while it runs; afterwards the image is checked on the host: every block
holds an intact pattern of the last write the guest made to it.

The issue asks for 50 live updates and 5 migrations; make check runs
BATON_VIRTIO_GUEST_UPDATES (default 20) updates and
BATON_VIRTIO_GUEST_MIGRATIONS (default 3) migrations to keep its share
small; set them to 50 and 5 for the full run (docs/devel/testing.md)."""

import os
import re
import struct

import baton_test
from baton_test import (DEFAULT_TIMEOUT, Vm, VmTestCase, cpr_exec_to,
                        cpr_transfer_to, guest_image, needs_kvm,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)

TIMEOUT = max(DEFAULT_TIMEOUT, 60)
NBLK = 256
BLOCK = 4096
MAGIC = 0x564c424b
GOLDEN = 0x9e3779b97f4a7c15
UPDATES = int(os.environ.get("BATON_VIRTIO_GUEST_UPDATES", "20"))
MIGRATIONS = int(os.environ.get("BATON_VIRTIO_GUEST_MIGRATIONS", "3"))

_PROGRESS = re.compile(rb"(?m)^vblk (\d+) irq (\d+)\n")
_ERROR = re.compile(rb"vblk error[^\n]*")


def block_pattern(seq, blk):
    words = [MAGIC << 32 | blk, seq]
    words += [((seq << 16 | i) * GOLDEN) & (2 ** 64 - 1)
              for i in range(2, BLOCK // 8)]
    return struct.pack("<%dQ" % len(words), *words)


def check_image(tc, path, done, nblk=NBLK):
    """Every block of the NBLK used written before sequence DONE holds
    an intact pattern of its last write (or a later one); the rest are
    untouched."""
    with open(path, "rb") as f:
        data = f.read()
    for blk in range(nblk):
        raw = data[blk * BLOCK:(blk + 1) * BLOCK]
        last = max((s for s in range(blk, done, nblk)), default=None)
        if last is None:
            tc.assertEqual(raw, bytes(BLOCK), "block %d" % blk)
            continue
        magic, seq = struct.unpack_from("<QQ", raw)
        tc.assertEqual(magic, MAGIC << 32 | blk, "block %d" % blk)
        tc.assertEqual(seq % nblk, blk)
        tc.assertGreaterEqual(seq, last, "block %d lost a write" % blk)
        tc.assertEqual(raw, block_pattern(seq, blk), "block %d torn" % blk)


class Guest:
    """The guest; `qmp` and `serial` follow it from process to process."""

    def __init__(self, tc, name="vb", image=None):
        self.tc = tc
        self.image = image or guest_image("virtio-blk")
        self.count = 0
        self.last = (0, 0)
        self.data = os.path.join(baton_test.tmpdir(), "%s-data.img" % name)
        with open(self.data, "wb") as f:
            f.truncate(NBLK * BLOCK)
        vm = tc.launch(Vm(self.args() + ["-S"], serial_socket=True,
                          name=name))
        self.vm, self.argv = vm, vm.command()[:-1]
        self.qmp, self.serial = vm.qmp, vm.serial
        vm.qmp = vm.serial = None
        tc.addCleanup(self.qmp.close)
        tc.addCleanup(self.serial.close)
        self.qmp.cmd("cont")
        self.serial.read_until(re.compile(rb"vblk ready\n|vblk error"),
                               timeout=TIMEOUT, start=0)
        self.check_errors()

    def args(self):
        return ["-nodefaults", "-display", "none", "-accel", "kvm",
                "-smp", "1",
                "-object", "memory-backend-memfd,id=ram0,size=64M",
                "-machine", "pc,memory-backend=ram0", "-m", "64M",
                "-drive", "file=%s,format=raw" % self.image,
                "-drive", "if=none,id=data,format=raw,file=" + self.data,
                "-device", "virtio-blk-pci,id=vb,drive=data,addr=4"]

    def check_errors(self):
        err = _ERROR.search(self.serial.snapshot())
        if err:
            raise AssertionError("the guest reports %r" % err.group(0))

    def progress(self):
        """The last (seq, irq) the guest printed, in any process."""
        lines = _PROGRESS.findall(self.serial.snapshot())
        if lines:
            self.last = (int(lines[-1][0]), int(lines[-1][1]))
        return self.last

    def goes_on(self, lines=2):
        """LINES more progress lines (ROUND writes each) from now."""
        base = self.progress()[0]
        try:
            wait_for(lambda: self.check_errors() or
                     self.progress()[0] >= base + 64 * lines, TIMEOUT,
                     what="guest progress past %d" % base)
        except TimeoutError:
            print("  guest output ends %r; %s" %
                  (self.serial.snapshot()[-200:],
                   self.qmp.cmd("query-status")))
            raise
        seq, irq = self.progress()
        # Two requests (write, read back) and one interrupt each.
        self.tc.assertEqual(irq, 2 * seq)

    def transfer(self):
        self.count += 1
        self.vm = cpr_transfer_to(self.tc.launch, self.vm, self.qmp,
                                  self.argv, "vb%d" % self.count, TIMEOUT)

    def cpr_exec(self):
        self.count += 1
        cpr_exec_to(self.vm, self.qmp, self.argv, TIMEOUT)

    def migrate(self):
        """Precopy to a new process (the same image file: one host)."""
        self.count += 1
        path = self.vm.path("mig%d.sock" % self.count)
        dst = self.tc.launch(Vm(self.args() + ["-incoming", "unix:" + path],
                                serial_socket=True,
                                name="vbm%d" % self.count))
        wait_for(lambda: unix_listening(path) or dst._died(), TIMEOUT,
                 what="incoming socket %s" % path)
        self.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(self.qmp, timeout=TIMEOUT)
        wait_runstate(dst.qmp, "running", TIMEOUT)
        self.progress()  # the source's last line, before its output goes
        self.qmp, self.serial = dst.qmp, dst.serial
        self.vm.proc.terminate()
        self.vm.wait()
        self.vm = dst

    def stop_and_check(self):
        self.qmp.cmd("stop")
        self.check_errors()
        done = self.progress()[0]
        check_image(self.tc, self.data, done)
        return done


@needs_kvm
class VirtioBlkGuest(VmTestCase):

    def test_live_updates(self):
        """UPDATES live updates, cpr-transfer and cpr-exec alternating,
        while the guest writes and reads: it never reports an error,
        interrupts stay one per request, the image is intact."""
        g = Guest(self)
        g.goes_on()
        for i in range(UPDATES):
            if i % 2:
                g.cpr_exec()
            else:
                g.transfer()
            g.goes_on(1)
        done = g.stop_and_check()
        print("  %d updates, %d blocks written and read back"
              % (UPDATES, done))

    def test_migrations(self):
        """MIGRATIONS precopy migrations between processes with the same
        image (one host), then the image is checked."""
        g = Guest(self, name="vbmig")
        g.goes_on()
        for _ in range(MIGRATIONS):
            g.migrate()
            g.goes_on(1)
        done = g.stop_and_check()
        print("  %d migrations, %d blocks written and read back"
              % (MIGRATIONS, done))

    def test_stop_cont(self):
        """stop with requests in flight, cont: the guest goes on."""
        g = Guest(self, name="vbstop")
        g.goes_on()
        for _ in range(5):
            g.qmp.cmd("stop")
            g.qmp.cmd("cont")
        g.goes_on(1)


if __name__ == "__main__":
    baton_test.main()
