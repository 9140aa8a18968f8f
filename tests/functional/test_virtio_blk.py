#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""virtio-blk-pci without a guest (qtest): a driver in the test
(virtio_driver.py) builds split virtqueues in guest memory and checks
what a guest would see: ids and capabilities, feature negotiation
(VERSION_1 required), every request type and its status, indirect
descriptors, event-index and flag suppression of interrupts, MSI-X and
INTx, reset, malformed chains breaking the device (DEVICE_NEEDS_RESET,
baton alive, a reset recovers it), -drive if=virtio, query-block /
info block, the options QEMU has and the ones refused; and requests
queued at a migration or a cpr-transfer, each completed exactly once."""

import os
import struct
import subprocess

import baton_test
from baton_test import (QtestClient, Vm, VmTestCase, cpr_channels,
                        cpr_incoming_args, memfd_ram_args, unix_listening,
                        wait_for, wait_migration, wait_runstate)
from virtio_driver import (ACK, BLK_F_BLK_SIZE, BLK_F_DISCARD, BLK_F_FLUSH,
                           BLK_F_RO, BLK_F_WRITE_ZEROES, CAP_COMMON,
                           CAP_DEVICE, CAP_ISR, CAP_NOTIFY, CAP_PCI_CFG,
                           D_INDIRECT, D_NEXT, DATA, DRIVER, F_EVENT_IDX,
                           F_INDIRECT, F_VERSION_1, FEATURES_OK, NEEDS_RESET,
                           NUMQ, Q_ENABLE, Q_SELECT, Q_SIZE, S_IOERR, S_OK,
                           S_UNSUPP, T_DISCARD, T_FLUSH, T_GET_ID, T_IN,
                           T_OUT, T_WZ, BlkRequests, VirtioPci)

BASE = ["-nodefaults", "-display", "none", "-accel", "qtest", "-serial",
        "null", "-machine", "pc"]
SLOT = 4
DISK_SIZE = 4 << 20
FEATURES = (1 << F_VERSION_1 | 1 << BLK_F_FLUSH | 1 << BLK_F_BLK_SIZE |
            1 << BLK_F_DISCARD | 1 << BLK_F_WRITE_ZEROES)


def pattern(seed, n):
    return bytes((seed * 7 + i * 13 + (i >> 9)) & 0xff for i in range(n))


class BlkCase(VmTestCase):

    def image(self, vm, size=DISK_SIZE, name="disk.img"):
        path = vm.path(name)
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    def start(self, dev_opts="", drive_opts="", mem=("-m", "64M"),
              extra=(), name=None, launch=True):
        vm = Vm(BASE + list(mem), name=name)
        img = self.image(vm)
        vm.img = img
        vm.args += ["-drive", "if=none,id=d0,format=raw,file=%s%s" %
                    (img, drive_opts),
                    "-device", "virtio-blk-pci,id=vb,drive=d0,addr=%d%s" %
                    (SLOT, dev_opts)] + list(extra)
        vm.qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % vm.qtest_path]
        if not launch:
            return vm, None
        self.launch(vm)
        qt = QtestClient(vm.qtest_path)
        self.addCleanup(qt.close)
        return vm, qt

    def device(self, vm, qt, features=FEATURES, msix=True):
        dev = VirtioPci(vm, qt, SLOT)
        if msix:
            dev.msix_enable(2)
            qt.cmd("irq_intercept_msi")
        q = dev.init(features, vectors=2 if msix else None)
        return dev, q

    def do(self, reqs, q, *args, **kw):
        head = reqs.submit(*args, **kw)
        q.wait_used(reqs.n)
        return head

    def hmp(self, vm, line):
        return vm.qmp.cmd("human-monitor-command",
                          {"command-line": line}).replace("\r\n", "\n")


class Identity(BlkCase):

    def test_ids_caps_config(self):
        vm, qt = self.start(",serial=SN-0042,logical_block_size=4096")
        dev = VirtioPci(vm, qt, SLOT)
        self.assertEqual((dev.info["id"]["vendor"], dev.info["id"]["device"]),
                         (0x1af4, 0x1042))
        self.assertEqual(dev.info["class_info"]["class"], 0x0100)
        self.assertEqual(dev.cfg.read(0x08, 1), 1)  # revision 1: modern
        self.assertEqual(sorted(dev.caps),
                         [CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE,
                          CAP_PCI_CFG])
        self.assertEqual(dev.caps[CAP_NOTIFY][4], 20)  # cap_len
        self.assertEqual(dev.caps[CAP_COMMON][1], 4)   # in BAR 4
        self.assertTrue(dev.msix_cap)
        f = dev.host_features()
        for bit in (F_VERSION_1, F_INDIRECT, F_EVENT_IDX, BLK_F_FLUSH,
                    BLK_F_BLK_SIZE, BLK_F_DISCARD, BLK_F_WRITE_ZEROES):
            self.assertTrue(f >> bit & 1, "feature %d" % bit)
        self.assertFalse(f >> BLK_F_RO & 1)
        self.assertEqual(dev.rd(NUMQ, 2), 1)
        self.assertEqual(dev.config(0, 4), DISK_SIZE // 512)
        self.assertEqual(dev.config(20, 4), 4096)  # blk_size
        self.assertEqual(dev.config(12, 4), 254)   # seg_max
        self.assertEqual(dev.config(40, 4), 1)     # max_discard_seg
        # The PCI cfg access window reaches the common config too.
        ptr = dev.caps[CAP_PCI_CFG][0]
        dev.cfg.write(ptr + 4, 4, 1)
        dev.cfg.write(ptr + 8, 0x12)   # num_queues
        dev.cfg.write(ptr + 12, 2)
        self.assertEqual(dev.cfg.read(ptr + 16) & 0xffff, 1)
        q = dev.init(FEATURES)
        reqs = BlkRequests(q)
        head = self.do(reqs, q, T_GET_ID, in_len=20)
        self.assertEqual(reqs.status(head), S_OK)
        self.assertEqual(reqs.data(head, 20), b"SN-0042" + bytes(13))
        self.assertEqual(q.used_entries(0, 1), [(head, 21)])

    def test_read_only_drive(self):
        vm, qt = self.start(drive_opts=",readonly=on")
        dev = VirtioPci(vm, qt, SLOT)
        self.assertTrue(dev.host_features() >> BLK_F_RO & 1)
        q = dev.init(1 << F_VERSION_1)
        reqs = BlkRequests(q)
        head = self.do(reqs, q, T_OUT, 0, out=bytes(512))
        self.assertEqual(reqs.status(head), S_IOERR)

    def test_version_1_required(self):
        vm, qt = self.start()
        dev = VirtioPci(vm, qt, SLOT)
        st = dev.negotiate(1 << BLK_F_FLUSH)
        self.assertEqual(st & FEATURES_OK, 0)
        self.assertEqual(st, ACK | DRIVER)
        self.assertTrue(dev.negotiate(FEATURES) & FEATURES_OK)

    def test_options_refused(self):
        cases = [
            (",disable-legacy=off", "disable-legacy=off is not supported"),
            (",disable-modern=on", "disable-modern=on is not supported"),
            (",disable-legacy=on,disable-modern=on",
             "device cannot work as neither modern nor legacy mode is "
             "enabled"),
            (",disable-legacy=maybe", "Parameter 'disable-legacy' expects"),
            (",logical_block_size=1000",
             "logical_block_size doesn't take value '1000'"),
            (",num-queues=2", "num-queues property 2 is not supported"),
            (",queue-size=100", "invalid queue-size property (100)"),
        ]
        for opts, msg in cases:
            vm, _ = self.start(opts, launch=False)
            r = subprocess.run(vm.command(), capture_output=True, text=True,
                               timeout=20)
            self.assertEqual(r.returncode, 1, opts)
            self.assertIn(msg, r.stderr, opts)
        vm, qt = self.start(",disable-legacy=on,disable-modern=off")
        self.assertEqual(VirtioPci(vm, qt, SLOT).info["id"]["device"],
                         0x1042)

    def test_if_virtio_and_query_block(self):
        vm = Vm(BASE + ["-m", "64M"], name="ifv")
        img = self.image(vm)
        vm.args += ["-drive", "if=virtio,format=raw,file=" + img]
        self.launch(vm)
        devs = [d for b in vm.qmp.cmd("query-pci") for d in b["devices"]
                if d["id"]["device"] == 0x1042]
        self.assertEqual(len(devs), 1)
        blk = vm.qmp.cmd("query-block")
        self.assertEqual(len(blk), 1)
        b = blk[0]
        self.assertEqual(b["device"], "virtio0")
        self.assertEqual((b["locked"], b["removable"], b["type"]),
                         (False, False, "unknown"))
        self.assertEqual(b["inserted"]["file"], img)
        self.assertEqual(b["inserted"]["drv"], "raw")
        self.assertEqual(b["inserted"]["image"]["virtual-size"], DISK_SIZE)
        self.assertEqual(b["inserted"]["image"]["format"], "raw")
        self.assertTrue(b["qdev"].startswith("/machine/"))
        text = self.hmp(vm, "info block")
        self.assertIn("virtio0 (virtio0): %s (raw)" % img, text)
        self.assertIn("Attached to:      " + b["qdev"], text)


class Requests(BlkCase):

    def setUp(self):
        self.vm, self.qt = self.start(drive_opts=",discard=unmap")
        self.dev, self.q = self.device(self.vm, self.qt)
        self.reqs = BlkRequests(self.q)

    def test_write_read_flush(self):
        data = pattern(1, 8 * 512)
        h = self.do(self.reqs, self.q, T_OUT, 16, out=data)
        self.assertEqual(self.reqs.status(h), S_OK)
        self.assertEqual(self.q.used_entries(0, 1), [(h, 1)])
        h = self.do(self.reqs, self.q, T_IN, 16, in_len=len(data), split=3)
        self.assertEqual(self.reqs.status(h), S_OK)
        self.assertEqual(self.reqs.data(h, len(data)), data)
        self.assertEqual(self.q.used_entries(1, 2), [(h, len(data) + 1)])
        h = self.do(self.reqs, self.q, T_FLUSH)
        self.assertEqual(self.reqs.status(h), S_OK)
        with open(self.vm.img, "rb") as f:
            f.seek(16 * 512)
            self.assertEqual(f.read(len(data)), data)

    def test_errors(self):
        last = DISK_SIZE // 512
        h = self.do(self.reqs, self.q, T_IN, last, in_len=512)
        self.assertEqual(self.reqs.status(h), S_IOERR)   # beyond the end
        h = self.do(self.reqs, self.q, T_OUT, last - 1, out=bytes(1024))
        self.assertEqual(self.reqs.status(h), S_IOERR)   # runs past it
        h = self.do(self.reqs, self.q, T_IN, 0, in_len=100)
        self.assertEqual(self.reqs.status(h), S_IOERR)   # not whole blocks
        h = self.do(self.reqs, self.q, 99)
        self.assertEqual(self.reqs.status(h), S_UNSUPP)  # unknown type
        # Still a working device.
        h = self.do(self.reqs, self.q, T_IN, last - 1, in_len=512)
        self.assertEqual(self.reqs.status(h), S_OK)
        self.assertEqual(self.dev.status() & NEEDS_RESET, 0)

    def test_discard_write_zeroes(self):
        data = pattern(2, 64 * 512)
        self.do(self.reqs, self.q, T_OUT, 128, out=data)
        seg = struct.pack("<QII", 136, 16, 1)         # unmap
        h = self.do(self.reqs, self.q, T_WZ, out=seg)
        self.assertEqual(self.reqs.status(h), S_OK)
        seg = struct.pack("<QII", 160, 8, 0)
        h = self.do(self.reqs, self.q, T_WZ, out=seg)
        self.assertEqual(self.reqs.status(h), S_OK)
        seg = struct.pack("<QII", 176, 8, 0)
        h = self.do(self.reqs, self.q, T_DISCARD, out=seg)
        self.assertEqual(self.reqs.status(h), S_OK)
        h = self.do(self.reqs, self.q, T_IN, 128, in_len=len(data))
        got = self.reqs.data(h, len(data))
        self.assertEqual(got[:8 * 512], data[:8 * 512])
        self.assertEqual(got[8 * 512:24 * 512], bytes(16 * 512))
        self.assertEqual(got[24 * 512:32 * 512], data[24 * 512:32 * 512])
        self.assertEqual(got[32 * 512:40 * 512], bytes(8 * 512))
        # discard=unmap punched a hole: the discarded range reads zero.
        self.assertEqual(got[48 * 512:56 * 512], bytes(8 * 512))
        # Discard's flags are reserved; two segments are not offered.
        seg = struct.pack("<QII", 176, 8, 1)
        h = self.do(self.reqs, self.q, T_DISCARD, out=seg)
        self.assertEqual(self.reqs.status(h), S_UNSUPP)
        h = self.do(self.reqs, self.q, T_WZ, out=seg * 2)
        self.assertEqual(self.reqs.status(h), S_UNSUPP)
        seg = struct.pack("<QII", DISK_SIZE // 512 - 4, 8, 0)
        h = self.do(self.reqs, self.q, T_WZ, out=seg)
        self.assertEqual(self.reqs.status(h), S_IOERR)
        self.assertEqual(self.dev.config(36, 4), 4194303)
        self.assertEqual(self.dev.config(56, 1), 1)  # may unmap

    def test_msix(self):
        line = self.dev.msi_line(1)
        self.do(self.reqs, self.q, T_FLUSH)
        wait_for(lambda: self.qt.readl(0) is not None and
                 self.qt.irqs.count(line) == 1, what=line)
        # A masked vector keeps it pending (PBA) until unmasked.
        table = self.dev.bars[1]
        self.qt.writel(table + 16 + 12, 1)
        self.do(self.reqs, self.q, T_FLUSH)
        self.assertEqual(self.qt.irqs.count(line), 1)
        self.assertEqual(self.qt.readl(table + 0x800) & 2, 2)
        self.qt.writel(table + 16 + 12, 0)
        self.assertEqual(self.qt.irqs.count(line), 2)
        self.assertEqual(self.qt.readl(table + 0x800) & 2, 0)

    def test_indirect(self):
        data = pattern(3, 16 * 512)
        self.dev.init(FEATURES | 1 << F_INDIRECT, vectors=2)
        q = self.dev.queues[0]
        reqs = BlkRequests(q)
        h = self.do(reqs, q, T_OUT, 64, out=data, indirect=True, split=4)
        self.assertEqual(reqs.status(h), S_OK)
        h = self.do(reqs, q, T_IN, 64, in_len=len(data), indirect=True,
                     split=16)
        self.assertEqual(reqs.data(h, len(data)), data)
        # One ring slot per request, whatever the chain length.
        self.assertEqual(q.next_desc, 2)

    def test_indirect_not_negotiated(self):
        self.reqs.submit(T_FLUSH, indirect=True)
        wait_for(lambda: self.dev.status() & NEEDS_RESET,
                 what="NEEDS_RESET")
        self.assertEqual(self.q.used_idx(), 0)

    def test_event_idx(self):
        self.dev.init(FEATURES | 1 << F_EVENT_IDX, vectors=2)
        q = self.dev.queues[0]
        reqs = BlkRequests(q)
        line = self.dev.msi_line(1)
        count = lambda: self.qt.irqs.count(line)
        self.do(reqs, q, T_FLUSH)
        wait_for(lambda: self.qt.readl(0) is not None and count() == 1,
                 what="first interrupt")
        self.assertEqual(q.avail_event(), 1)  # the device's next avail
        q.set_used_event(3)  # "interrupt me once used passes 3"
        self.do(reqs, q, T_FLUSH)
        self.do(reqs, q, T_FLUSH)
        self.assertEqual(count(), 1)
        self.assertEqual(q.avail_event(), 3)
        self.do(reqs, q, T_FLUSH)
        wait_for(lambda: self.qt.readl(0) is not None and count() == 2,
                 what="interrupt at used 4")

    def test_no_interrupt_flag(self):
        line = self.dev.msi_line(1)
        self.q.set_avail_flags(1)
        self.do(self.reqs, self.q, T_FLUSH)
        self.do(self.reqs, self.q, T_FLUSH)
        self.qt.readl(0)
        self.assertEqual(self.qt.irqs.count(line), 0)
        self.q.set_avail_flags(0)
        self.do(self.reqs, self.q, T_FLUSH)
        wait_for(lambda: self.qt.readl(0) is not None and
                 self.qt.irqs.count(line) == 1, what=line)

    def test_reset(self):
        self.do(self.reqs, self.q, T_FLUSH)
        self.dev.reset()
        self.assertEqual(self.dev.status(), 0)
        self.dev.wr(Q_SELECT, 0, 2)
        self.assertEqual(self.dev.rd(Q_ENABLE, 2), 0)
        self.assertEqual(self.dev.rd(Q_SIZE, 2), 256)
        # A fresh start of the rings works (used index from 0 again).
        q = self.dev.init(FEATURES, vectors=2)
        reqs = BlkRequests(q)
        h = self.do(reqs, q, T_FLUSH)
        self.assertEqual(q.used_entries(0, 1), [(h, 1)])


class Malformed(BlkCase):
    """Each malformed input breaks the device: NEEDS_RESET and a config
    interrupt; baton answers; nothing of the chain is used; a reset
    gives a working device."""

    def setUp(self):
        self.vm, self.qt = self.start()
        self.dev, self.q = self.device(self.vm, self.qt,
                                       FEATURES | 1 << F_INDIRECT)

    def broken(self):
        wait_for(lambda: self.dev.status() & NEEDS_RESET, what="NEEDS_RESET")
        self.assertEqual(self.vm.qmp.cmd("query-status")["status"],
                         "running")
        wait_for(lambda: self.qt.readl(0) is not None and
                 self.dev.msi_line(0) in self.qt.irqs, what="config irq")
        self.assertEqual(self.q.used_idx(), 0)
        # Dead until reset; then as new.
        self.dev.reset()
        q = self.dev.init(FEATURES, vectors=2)
        reqs = BlkRequests(q)
        h = self.do(reqs, q, T_FLUSH)
        self.assertEqual(reqs.status(h), S_OK)

    def test_loop(self):
        self.q.add_raw([(DATA, 16, D_NEXT, 1), (DATA, 16, D_NEXT, 0)])
        self.q.kick()
        self.broken()

    def test_indirect_loop(self):
        table = struct.pack("<QIHH", DATA, 16, D_NEXT, 1) + \
            struct.pack("<QIHH", DATA, 16, D_NEXT, 0)
        self.qt.write(0x110000, table)
        self.q.add_raw([(0x110000, 32, D_INDIRECT, 0)])
        self.q.kick()
        self.broken()

    def test_out_of_range(self):
        self.q.add_raw([(0xfff0000000, 16, D_NEXT, None), (DATA, 1, 2, 0)])
        self.q.kick()
        self.broken()

    def test_beyond_ram(self):
        self.q.add_raw([((64 << 20) - 8, 16, 0, 0)])
        self.q.kick()
        self.broken()

    def test_oversize_indirect(self):
        self.q.add_raw([(0x110000, 16 * 2048, D_INDIRECT, 0)])
        self.q.kick()
        self.broken()

    def test_next_beyond_table(self):
        self.q.add_raw([(DATA, 16, D_NEXT, 300)])
        self.q.kick()
        self.broken()

    def test_avail_index_jump(self):
        self.qt.writew(self.q.avail + 2, 1000)
        self.q.kick()
        self.broken()

    def test_no_status_byte(self):
        self.q.add_raw([(DATA, 16, 0, 0)])
        self.q.kick()
        self.broken()


class Intx(BlkCase):

    def test_intx_isr(self):
        vm, qt = self.start(",vectors=0")
        dev, q = self.device(vm, qt, msix=False)
        self.assertEqual(dev.msix_cap, 0)
        irq = dev.info["irq"]
        qt.cmd("irq_intercept_in ioapic")
        reqs = BlkRequests(q)
        self.do(reqs, q, T_FLUSH)
        wait_for(lambda: qt.readl(0) is not None and
                 "IRQ raise %d" % irq in qt.irqs, what="INTx")
        self.assertEqual(qt.readb(dev.isr), 1)       # read clears
        self.assertEqual(qt.irqs[-1], "IRQ lower %d" % irq)
        self.assertEqual(qt.readb(dev.isr), 0)


class QueuedAcrossUpdate(BlkCase):
    """Requests made available and kicked while the guest is stopped
    wait (no completion while stopped); across a migration or a
    cpr-transfer they complete exactly once, on the side that runs."""

    N = 24

    def queue(self, qt, reqs):
        for i in range(self.N):
            reqs.submit(T_OUT, 8 * i, out=pattern(i, 4096))

    def check(self, qt, q, reqs, img):
        q.wait_used(self.N)
        wait_for(lambda: True)
        self.assertEqual(q.used_idx(), self.N)
        heads = [h for h, _ in q.used_entries(0, self.N)]
        self.assertEqual(sorted(heads), sorted(reqs.reqs))
        for h in heads:
            self.assertEqual(reqs.status(h), S_OK)
        with open(img, "rb") as f:
            for i in range(self.N):
                f.seek(8 * i * 512)
                self.assertEqual(f.read(4096), pattern(i, 4096), i)

    def test_stopped_guest_completes_nothing(self):
        vm, qt = self.start()
        dev, q = self.device(vm, qt)
        reqs = BlkRequests(q)
        vm.qmp.cmd("stop")
        self.queue(qt, reqs)
        vm.qmp.cmd("query-status")
        self.assertEqual(q.used_idx(), 0)
        vm.qmp.cmd("cont")
        self.check(qt, q, reqs, vm.img)

    def test_cpr_transfer(self):
        ram = memfd_ram_args("64M")
        old, qt = self.start(mem=ram, name="cpr-old")
        dev, q = self.device(old, qt)
        reqs = BlkRequests(q)
        self.queue(qt, reqs)            # in flight as the update starts
        old.qmp.cmd("stop")
        reqs2 = list(range(self.N))
        for i in reqs2:                  # and more, kicked while stopped
            reqs.submit(T_OUT, 8 * (self.N + i), out=pattern(self.N + i,
                                                            4096))
        main, cpr = old.path("m.sock"), old.path("c.sock")
        new = self.launch(Vm(old.command()[1:] + cpr_incoming_args(main, cpr),
                             qmp=False, name="cpr-new"))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        old.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(old.qmp)
        old.qmp.cmd("cont")   # the new process runs the guest from here
        wait_runstate(old.qmp, "running")
        old.proc.terminate()
        self.assertEqual(old.proc.wait(10), 0)
        self.N *= 2
        self.check(qt, q, reqs, old.img)

    def test_migration(self):
        src, sqt = self.start(name="src")
        dev, q = self.device(src, sqt)
        reqs = BlkRequests(q)
        path = src.path("mig.sock")
        dst = Vm(BASE + ["-m", "64M", "-drive",
                         "if=none,id=d0,format=raw,file=%s" % src.img,
                         "-device", "virtio-blk-pci,id=vb,drive=d0,addr=%d"
                         % SLOT, "-incoming", "unix:" + path], name="dst")
        dst.qtest_path = dst.path("qtest.sock")
        dst.args += ["-qtest", "unix:%s,server=on,wait=off" % dst.qtest_path]
        self.launch(dst)
        dqt = QtestClient(dst.qtest_path)
        self.addCleanup(dqt.close)
        wait_for(lambda: os.path.exists(path), what="incoming socket")
        self.queue(sqt, reqs)
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_runstate(dst.qmp, "running")
        # The destination serves what is left; the source did the rest.
        q.qt = dqt
        reqs.qt = dqt
        self.check(dqt, q, reqs, src.img)


if __name__ == "__main__":
    baton_test.main()
