# SPDX-License-Identifier: GPL-2.0-or-later
"""Live migration between two baton processes. Under KVM, the dirty guest
(tests/guest/dirty) moves over unix:, tcp:, a deferred incoming side with
the QMP channels form, file: (save/restore of a stopped guest) and exec:,
with RAM above 4 GiB, over many passes, and with x-ignore-shared; on the
destination its page pattern must be consistent and its serial sequence
must go on exactly where the source left it. Without KVM (qtest): memory
and UART registers through a migration, two UARTs created in opposite
orders on the two sides, fd:, add-fd file:, -incoming
JSON, HMP, and a stopped guest staying paused."""

import json
import os
import socket

import baton_test
from baton_test import (DIRTY_DEFAULT_PAGES, DIRTY_DEFAULT_START, QtestClient,
                        Vm, dirty_check_memory, dirty_check_serial,
                        dirty_image, dirty_source_output, needs_kvm,
                        qmp_cmd_with_fd, seq_numbers, wait_migration,
                        wait_runstate)

BASE = ["-nodefaults", "-display", "none", "-machine", "pc"]
KVM = BASE + ["-accel", "kvm", "-smp", "1"]
QTEST = BASE + ["-accel", "qtest", "-m", "64M", "-serial", "null"]
RAM_INFO = ("transferred", "remaining", "total", "duplicate", "normal",
            "dirty-sync-count", "mbps", "pages-per-second")


def parse_mem(text):
    return int(text[:-1]) << {"M": 20, "G": 30}[text[-1]]


def unix_channel(path):
    return [{"channel-type": "main",
             "addr": {"transport": "socket", "type": "unix", "path": path}}]


class Base(baton_test.VmTestCase):

    def wait_socket(self, vm, path):
        """Wait for a listening unix socket that `vm` creates."""
        baton_test.wait_for(lambda: os.path.exists(path) or vm._died(),
                            what="incoming socket %s" % path)


@needs_kvm
class LiveKvm(Base):
    """The dirty guest, 256 pages at 16 MiB, migrated between two batons."""

    def setUp(self):
        self.configure()

    def configure(self, start=DIRTY_DEFAULT_START, pages=DIRTY_DEFAULT_PAGES,
                  mem="256M", extra=(), marker=0):
        """Guest range and command line for source and destination."""
        self.start, self.pages, self.mem = start, pages, mem
        self.image = dirty_image(start=start, pages=pages, marker=marker)
        self.args = (KVM + ["-m", mem, "-drive",
                            "file=%s,format=raw" % self.image] + list(extra))

    def source(self, extra=()):
        """Start the source paused, connect its serial, run to "seq 5"."""
        src = self.launch(Vm(self.args + list(extra) + ["-S"],
                             serial_socket=True, name="src"))
        src.qmp.cmd("cont")
        dirty_check_serial(src.serial.read_until(b"seq 5\n"))
        return src

    def destination(self, incoming, extra=()):
        dst = self.launch(Vm(self.args + list(extra) + ["-incoming", incoming],
                             serial_socket=True, name="dst"))
        if not incoming.startswith("exec:"):    # exec: may be done already
            self.assertEqual(dst.qmp.cmd("query-status")["status"],
                             "inmigrate")
        return dst

    def check_completed(self, src, shared=False):
        """Final query-migrate on the source; returns it."""
        info = wait_migration(src.qmp, timeout=60)
        for key in ("total-time", "downtime", "setup-time"):
            self.assertIn(key, info)
            self.assertGreaterEqual(info[key], 0, key)
        for key in RAM_INFO:
            self.assertIn(key, info["ram"], key)
        ram = info["ram"]
        self.assertGreater(ram["transferred"], 0)
        if not shared:      # QEMU counts only RAM it sends in total
            self.assertGreaterEqual(ram["total"], parse_mem(self.mem))
            # Every page went over at least once, in full or as a zero
            # page (a page of the range whose counter byte wrapped to 0
            # is one, so "normal" alone depends on when it was read).
            self.assertGreaterEqual(ram["normal"] + ram["duplicate"],
                                    parse_mem(self.mem) // 4096, ram)
            self.assertGreaterEqual(ram["transferred"],
                                    ram["normal"] * 4096, ram)
        self.assertGreaterEqual(ram["dirty-sync-count"], 1)
        self.assertEqual(ram["remaining"], 0)
        wait_runstate(src.qmp, "postmigrate")
        return info

    def check_continues(self, src, dst, shared=False, prefix=b""):
        """The destination's output continues the source's exactly, its
        pages are consistent while stopped, and it keeps running. SHARED:
        both map the same RAM, so the source's copy is not compared.
        PREFIX: what earlier hosts of the guest printed."""
        wait_runstate(dst.qmp, "running")
        src_out = dirty_source_output(src.serial, dst.serial, prefix)
        last_src = dirty_check_serial(src_out)
        self.assertGreaterEqual(last_src, 5)
        # Three new complete lines on the destination.
        want = b"seq %d\n" % (last_src + 3)
        dst.serial.read_until(want, timeout=20, start=0)
        self.check_serial(src_out, dst.serial.snapshot())

        dst.qmp.cmd("stop")
        v, split, total = dirty_check_memory(dst.qmp, self.start, self.pages)
        if not shared:
            src_total = dirty_check_memory(src.qmp, self.start,
                                           self.pages)[2]
            self.assertGreater(total, src_total, "guest made no progress")
        dst.qmp.cmd("cont")
        first = seq_numbers(dst.serial.snapshot())
        dst.serial.read_until(b"seq %d\n" % (max(first) + 3), timeout=20,
                              start=0)
        nums = seq_numbers(dst.serial.snapshot())
        self.assertGreater(nums[-1], last_src + 3)
        self.check_serial(src_out, dst.serial.snapshot())
        wait_runstate(dst.qmp, "running")

    def check_serial(self, src_out, dst_out):
        try:
            dirty_check_serial(src_out + dst_out)
        except AssertionError as e:
            self.fail("source output %r... + destination output %r...: %s"
                      % (src_out[-40:], dst_out[:40], e))

    def test_unix_events(self):
        src = self.source()
        path = src.path("mig.sock")
        dst = self.destination("unix:" + path)
        self.wait_socket(dst, path)
        caps = [{"capability": "events", "state": True}]
        src.qmp.cmd("migrate-set-capabilities", capabilities=caps)
        dst.qmp.cmd("migrate-set-capabilities", capabilities=caps)
        self.assertIn({"capability": "events", "state": True},
                      src.qmp.cmd("query-migrate-capabilities"))
        self.assertEqual(src.qmp.cmd("migrate", uri="unix:" + path), {})
        self.check_completed(src)
        # Completed: cancel is a no-op and the state stays.
        self.assertEqual(src.qmp.cmd("migrate_cancel"), {})
        self.assertEqual(src.qmp.cmd("query-migrate")["status"], "completed")

        states = []
        while "completed" not in states:
            states.append(src.qmp.get_event("MIGRATION")["data"]["status"])
        it = iter(states)
        self.assertTrue(all(s in it for s in
                            ("setup", "active", "completed")), states)
        passes = [e["data"]["pass"] for e in src.qmp.events
                  if e["event"] == "MIGRATION_PASS"]
        self.assertTrue(passes, "no MIGRATION_PASS event")
        self.assertEqual(passes, list(range(1, len(passes) + 1)))
        self.assertEqual(src.qmp.get_event("STOP")["event"], "STOP")
        self.check_continues(src, dst)
        dst.qmp.get_event("RESUME")
        dst_states = [e["data"]["status"] for e in dst.qmp.events
                      if e["event"] == "MIGRATION"]
        self.assertIn("completed", dst_states)

    def test_tcp(self):
        """Port 0: the destination picks a free port and reports it in
        query-migrate "socket-address" (no race for a port "free a
        moment ago")."""
        src = self.source()
        dst = self.destination("tcp:127.0.0.1:0")
        addrs = dst.qmp.cmd("query-migrate")["socket-address"]
        self.assertEqual(len(addrs), 1, addrs)
        self.assertNotEqual(int(addrs[0]["port"]), 0, addrs)
        src.qmp.cmd("migrate", uri="tcp:127.0.0.1:%s" % addrs[0]["port"])
        self.check_completed(src)
        self.check_continues(src, dst)

    def test_defer_channels_global_events(self):
        """-incoming defer + migrate-incoming, both sides with the channels
        list, events from -global migration.x-events=on."""
        glob = ["-global", "migration.x-events=on"]
        src = self.source(glob)
        self.assertIn({"capability": "events", "state": True},
                      src.qmp.cmd("query-migrate-capabilities"))
        dst = self.destination("defer", glob)
        path = dst.path("mig.sock")
        self.assertEqual(dst.qmp.cmd("migrate-incoming",
                                     channels=unix_channel(path)), {})
        self.wait_socket(dst, path)
        self.assertEqual(dst.qmp.cmd("query-status")["status"], "inmigrate")
        src.qmp.cmd("migrate", channels=unix_channel(path))
        self.check_completed(src)
        states = [e["data"]["status"] for e in src.qmp.events
                  if e["event"] == "MIGRATION"]
        while "completed" not in states:
            states.append(src.qmp.get_event("MIGRATION")["data"]["status"])
        self.assertEqual(states[0], "setup")
        self.check_continues(src, dst)

    def test_file_stopped(self):
        """stop, migrate to file:, restore with -incoming defer: the
        destination stays paused until cont, then goes on."""
        src = self.source()
        src.qmp.cmd("stop")
        before = dirty_check_memory(src.qmp, self.start, self.pages)
        path = src.path("state.bin")
        src.qmp.cmd("migrate", uri="file:" + path)
        self.check_completed(src)
        # The range's pages that hold a nonzero counter went in full.
        v, split = before[:2]
        full = ((split if (v + 1) & 0xff else 0)
                + (self.pages - split if v else 0))
        self.assertGreater(os.path.getsize(path), full * 4096)

        dst = self.destination("defer")
        dst.qmp.cmd("migrate-incoming", uri="file:" + path)
        wait_runstate(dst.qmp, "paused", timeout=30)
        self.assertEqual(dirty_check_memory(dst.qmp, self.start, self.pages),
                         before)
        out = bytes(dst.serial.data)
        self.assertEqual(out, b"", "guest ran while paused")
        dst.qmp.cmd("cont")
        self.check_continues(src, dst)

    def test_high_memory(self):
        """4 GiB guest dirtying pages above 4 GiB (ram-above-4g)."""
        self.configure(start=(4 << 30) + (16 << 20), mem="4G")
        src = self.source()
        path = src.path("mig.sock")
        dst = self.destination("unix:" + path)
        self.wait_socket(dst, path)
        src.qmp.cmd("migrate", uri="unix:" + path)
        self.check_completed(src)
        self.check_continues(src, dst)

    def test_many_passes(self):
        """Passes go on (MIGRATION_PASS) while convergence is impossible,
        and the migration completes once the test allows it. Impossible
        by construction, not by speed: downtime-limit 0 leaves no room
        for a single dirty page, so a pass can only end the migration if
        the guest dirtied nothing during it, and max-bandwidth makes each
        pass of the 4 MiB range last about half a second of wall time,
        whatever the host (QEMU's migration-test does the same). The
        marker keeps every page nonzero: when the counters wrap, a range
        of zero pages would go in a millisecond, a window in which a
        vCPU that waits for the big lock (the dirty sync holds it) writes
        nothing."""
        self.configure(pages=1024, marker=0xa5)
        src = self.source()
        path = src.path("mig.sock")
        dst = self.destination("unix:" + path)
        self.wait_socket(dst, path)
        src.qmp.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": "events", "state": True}])
        src.qmp.cmd("migrate-set-parameters",
                    {"downtime-limit": 0, "max-bandwidth": 8 << 20})
        src.qmp.cmd("migrate", uri="unix:" + path)
        for n in range(1, 5):
            self.assertEqual(src.qmp.get_event("MIGRATION_PASS",
                                               timeout=30)["data"]["pass"], n)
        info = src.qmp.cmd("query-migrate")
        self.assertEqual(info["status"], "active", info)
        self.assertGreaterEqual(info["ram"]["dirty-sync-count"], 4)
        self.assertEqual(src.qmp.cmd("query-migrate-parameters")
                         ["downtime-limit"], 0)
        # 30 s at the bandwidth of these passes covers all the guest RAM.
        src.qmp.cmd("migrate-set-parameters",
                    {"downtime-limit": 30000, "max-bandwidth": 1 << 30})
        info = self.check_completed(src)
        # The pass under way when the limits were raised ended with a
        # dirty sync of its own before the switchover.
        self.assertGreaterEqual(info["ram"]["dirty-sync-count"], 5, info)
        self.check_continues(src, dst)

    def test_ignore_shared(self):
        """x-ignore-shared with a shared file backend on both sides: the
        RAM is not sent, the destination maps the same file."""
        mem = os.path.join(baton_test.tmpdir(), "shared-ram")
        self.configure(extra=[
            "-object", "memory-backend-file,id=mem0,size=256M,mem-path=%s,"
            "share=on" % mem, "-machine", "memory-backend=mem0"])
        src = self.source()
        path = src.path("mig.sock")
        dst = self.destination("unix:" + path)
        self.wait_socket(dst, path)
        caps = [{"capability": "x-ignore-shared", "state": True}]
        src.qmp.cmd("migrate-set-capabilities", capabilities=caps)
        dst.qmp.cmd("migrate-set-capabilities", capabilities=caps)
        src.qmp.cmd("migrate", uri="unix:" + path)
        info = self.check_completed(src, shared=True)
        self.assertLess(info["ram"]["transferred"], 64 * 1024, info)
        self.assertEqual(info["ram"]["normal"], 0, info)
        self.check_continues(src, dst, shared=True)

    def test_smp2_and_second_hop(self):
        """-smp 2 (the AP stays in its reset state, waiting for SIPI, on
        the destination too), then the destination migrates on again."""
        self.configure(extra=["-smp", "2"])
        src = self.source()
        path = src.path("mig.sock")
        dst = self.destination("unix:" + path)
        self.wait_socket(dst, path)
        src.qmp.cmd("migrate", uri="unix:" + path)
        self.check_completed(src)
        self.check_continues(src, dst)
        cpus = dst.qmp.cmd("query-cpus-fast")
        self.assertEqual(len(cpus), 2, cpus)

        path2 = src.path("mig2.sock")
        dst2 = self.launch(Vm(self.args + ["-incoming", "unix:" + path2],
                              serial_socket=True, name="dst2"))
        self.wait_socket(dst2, path2)
        dst.qmp.cmd("migrate", uri="unix:" + path2)
        self.check_completed(dst)
        self.check_continues(dst, dst2, prefix=src.serial.snapshot())
        wait_runstate(dst2.qmp, "running")

    def test_exec(self):
        src = self.source()
        path = src.path("exec-state.bin")
        src.qmp.cmd("migrate", uri="exec:cat > %s" % path)
        self.check_completed(src)
        # Loading starts at once: -S keeps the guest paused until the
        # serial client is connected (QEMU: "paused" after the load).
        dst = self.destination("exec:cat %s" % path, ["-S"])
        wait_runstate(dst.qmp, "paused", timeout=30)
        dst.qmp.cmd("cont")
        self.check_continues(src, dst)


class Qtest(Base):
    """Device state and memory through a migration, no guest code."""

    PATTERNS = {0x0: b"\x11\x22\x33\x44", 0x7c00: bytes(range(256)),
                0x100000: bytes((i * 13 + 5) & 0xff for i in range(4096)),
                0x2000000 - 3: b"span!!", (64 << 20) - 8: b"lastpage"}

    def vm(self, name, extra=()):
        vm = Vm(QTEST + list(extra), name=name)
        qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.launch(vm)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        return vm, qt

    def migrate(self, src, stopped=False):
        path = src.path("mig.sock")
        dst, dqt = self.vm("qdst", ["-incoming", "unix:" + path])
        self.wait_socket(dst, path)
        if stopped:
            src.qmp.cmd("stop")
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_runstate(src.qmp, "postmigrate")
        wait_runstate(dst.qmp, "paused" if stopped else "running")
        return dst, dqt

    def test_memory_and_uart(self):
        src, qt = self.vm("qsrc")
        for addr, data in self.PATTERNS.items():
            qt.write(addr, data)
        qt.memset(0x300000, 0x3000, 0x5a)
        qt.outb(0x3fb, 0x80)            # DLAB
        qt.outb(0x3f8, 0x0c)            # DLL
        qt.outb(0x3f9, 0x01)            # DLM
        qt.outb(0x3fb, 0x1b)            # 8 bits, even parity, DLAB off
        qt.outb(0x3fa, 0x87)            # FIFO on, RX trigger 8
        qt.outb(0x3fc, 0x1f)            # DTR RTS OUT1 OUT2 loopback
        qt.outb(0x3ff, 0xa5)            # scratch
        for ch in b"ABC":
            qt.outb(0x3f8, ch)          # loops back into the RX FIFO
        qt.outb(0x3f9, 0x05)            # IER: RX data, line status

        dst, dqt = self.migrate(src)
        for addr, data in self.PATTERNS.items():
            self.assertEqual(dqt.read(addr, len(data)), data, hex(addr))
        self.assertEqual(dqt.read(0x300000, 0x3000), b"\x5a" * 0x3000)
        self.assertEqual(dqt.read(0x200000, 16), bytes(16))
        self.assertEqual(dqt.inb(0x3fb), 0x1b)
        self.assertEqual(dqt.inb(0x3fc), 0x1f)
        self.assertEqual(dqt.inb(0x3ff), 0xa5)
        self.assertEqual(dqt.inb(0x3f9), 0x05)
        dqt.outb(0x3fb, 0x9b)
        self.assertEqual((dqt.inb(0x3f8), dqt.inb(0x3f9)), (0x0c, 0x01))
        dqt.outb(0x3fb, 0x1b)
        self.assertEqual(dqt.inb(0x3fe) & 0xf0, 0xf0)   # MSR mirrors MCR
        iir = dqt.inb(0x3fa)
        self.assertEqual(iir & 0xc0, 0xc0, "FIFO enable bits: %#x" % iir)
        self.assertEqual(iir & 0x01, 0, "no interrupt pending: %#x" % iir)
        lsr = dqt.inb(0x3fd)
        self.assertEqual(lsr & 0x61, 0x61, "LSR %#x: DR, THRE, TEMT" % lsr)
        self.assertEqual(bytes(dqt.inb(0x3f8) for _ in range(3)), b"ABC")
        self.assertEqual(dqt.inb(0x3fd) & 0x01, 0, "RX FIFO not empty")
        self.assertEqual(dqt.inb(0x3fa), 0xc1)
        # The destination's device works on: loop back one more byte.
        dqt.outb(0x3f8, 0x44)
        self.assertEqual(dqt.inb(0x3f8), 0x44)
        # The source keeps its memory (postmigrate is a paused state).
        self.assertEqual(qt.read(0x7c00, 256), bytes(range(256)))

    def test_identity_not_creation_order(self):
        """Two UARTs created in opposite orders on the two sides: each
        gets its own state back (sections are named by the device's I/O
        base, a standard COM base and another one, not by creation
        order)."""
        uarts = [("-device", "isa-serial,id=u1,iobase=0x3e8"),
                 ("-device", "isa-serial,id=u2,iobase=0x280")]
        src, qt = self.vm("qsrc", [a for u in uarts for a in u])
        qt.outb(0x3e8 + 7, 0x11)        # scratch registers
        qt.outb(0x280 + 7, 0x22)
        qt.outb(0x3e8 + 3, 0x03)        # LCR: 8N1
        qt.outb(0x280 + 3, 0x1b)        # LCR: 8E1
        path = src.path("mig.sock")
        dst, dqt = self.vm("qdst", [a for u in reversed(uarts) for a in u] +
                           ["-incoming", "unix:" + path])
        self.wait_socket(dst, path)
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_runstate(dst.qmp, "running")
        self.assertEqual(dqt.inb(0x3e8 + 7), 0x11)
        self.assertEqual(dqt.inb(0x280 + 7), 0x22)
        self.assertEqual(dqt.inb(0x3e8 + 3), 0x03)
        self.assertEqual(dqt.inb(0x280 + 3), 0x1b)

    def check_round_trip(self, qt, dqt, dst, src):
        # Loading ends before the destination runs: wait for that first.
        wait_runstate(dst.qmp, "running")
        wait_runstate(src.qmp, "postmigrate")
        self.assertEqual(dqt.read(0x9000, 8), b"fd-trip!")
        self.assertEqual(dqt.inb(0x3ff), 0x3c)

    def test_fd(self):
        """fd: on both sides, a socketpair passed with getfd."""
        src, qt = self.vm("qsrc")
        qt.write(0x9000, b"fd-trip!")
        qt.outb(0x3ff, 0x3c)
        dst, dqt = self.vm("qdst", ["-incoming", "defer"])
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        qmp_cmd_with_fd(dst.qmp, b.fileno(), "getfd", fdname="mig")
        qmp_cmd_with_fd(src.qmp, a.fileno(), "getfd", fdname="mig")
        a.close()
        b.close()
        dst.qmp.cmd("migrate-incoming", uri="fd:mig")
        src.qmp.cmd("migrate", uri="fd:mig")
        wait_migration(src.qmp)
        self.check_round_trip(qt, dqt, dst, src)

    def test_fdset_file(self):
        """file:/dev/fdset/N with add-fd on both sides, and the
        channels form with a file address."""
        src, qt = self.vm("qsrc")
        qt.write(0x9000, b"fd-trip!")
        qt.outb(0x3ff, 0x3c)
        path = src.path("fdset.bin")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            info = qmp_cmd_with_fd(src.qmp, fd, "add-fd", {"fdset-id": 3})
        finally:
            os.close(fd)
        self.assertEqual(info["fdset-id"], 3)
        src.qmp.cmd("migrate", uri="file:/dev/fdset/3")
        wait_migration(src.qmp)
        dst, dqt = self.vm("qdst", ["-incoming", "defer"])
        chan = [{"channel-type": "main",
                 "addr": {"transport": "file", "filename": path,
                          "offset": 0}}]
        dst.qmp.cmd("migrate-incoming", channels=chan)
        self.check_round_trip(qt, dqt, dst, src)

    def test_incoming_json(self):
        """-incoming with a JSON channel."""
        src, qt = self.vm("qsrc")
        qt.write(0x9000, b"fd-trip!")
        qt.outb(0x3ff, 0x3c)
        path = src.path("json.sock")
        chan = {"channel-type": "main",
                "addr": {"transport": "socket", "type": "unix",
                         "path": path}}
        dst, dqt = self.vm("qdst", ["-incoming", json.dumps(chan)])
        self.wait_socket(dst, path)
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        self.check_round_trip(qt, dqt, dst, src)

    def test_hmp(self):
        """The HMP migration commands, both sides."""
        src = self.launch(Vm(QTEST, hmp_socket=True, name="hsrc"))
        dst = self.launch(Vm(QTEST + ["-incoming", "defer"], hmp_socket=True,
                             name="hdst"))
        path = src.path("hmp-mig.sock")
        self.assertEqual(dst.hmp.cmd("migrate_incoming unix:" + path), "")
        self.wait_socket(dst, path)
        self.assertEqual(src.hmp.cmd("migrate_set_capability events on"), "")
        self.assertRegex(src.hmp.cmd("info migrate_capabilities"),
                         r"(?m)^events: on$")
        self.assertEqual(
            src.hmp.cmd("migrate_set_parameter downtime-limit 123"), "")
        self.assertRegex(src.hmp.cmd("info migrate_parameters"),
                         r"(?m)^downtime-limit: 123 ms$")
        self.assertEqual(src.hmp.cmd("migrate -d unix:" + path), "")
        wait_migration(src.qmp)
        self.assertIn("completed", src.hmp.cmd("info migrate"))
        self.assertEqual(src.hmp.cmd("migrate_cancel"), "")
        wait_runstate(dst.qmp, "running")
        src.qmp.cmd("query-status")     # collect events sent meanwhile
        statuses = [e["data"]["status"] for e in src.qmp.events
                    if e["event"] == "MIGRATION"]
        self.assertIn("completed", statuses)

    def test_stopped_stays_paused(self):
        src, qt = self.vm("qsrc")
        qt.write(0x9000, b"paused")
        dst, dqt = self.migrate(src, stopped=True)
        self.assertEqual(dqt.read(0x9000, 6), b"paused")
        self.assertEqual(dst.qmp.cmd("query-status")["running"], False)
        dst.qmp.cmd("cont")
        wait_runstate(dst.qmp, "running")
        # migrate_cancel after completion: success, state unchanged.
        self.assertEqual(src.qmp.cmd("migrate_cancel"), {})
        self.assertEqual(src.qmp.cmd("query-migrate")["status"], "completed")


if __name__ == "__main__":
    baton_test.main()
