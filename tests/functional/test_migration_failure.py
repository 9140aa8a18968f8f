# SPDX-License-Identifier: GPL-2.0-or-later
"""Migration failures. Cancel, a destination killed mid-way, a broken
channel and an unreachable destination each leave the source guest
running with nothing lost (under KVM, with the dirty guest; a later
migration of the same guest still succeeds). Bad `migrate` arguments are
rejected. Corrupted, truncated, version-mismatched and mismatched-device
streams make the destination exit with status 1 and an error naming the
header, record or section, without ever running the guest (qtest, no KVM
needed)."""

import os
import struct
import time

import baton_test
from baton_test import (QmpError, QtestClient, Vm, crc32c, dirty_check_memory,
                        dirty_check_serial, dirty_image, dirty_source_output,
                        needs_kvm, wait_migration, wait_runstate)

BASE = ["-nodefaults", "-display", "none", "-machine", "pc"]
KVM = BASE + ["-accel", "kvm", "-m", "256M", "-smp", "1"]
QTEST = BASE + ["-accel", "qtest", "-m", "32M"]
SLOW = 256 * 1024       # bytes/s: the first pass takes several seconds

# Record types of docs/devel/migration-stream.md.
SECTION_START, SECTION_PART, SECTION_END, SECTION_FULL, EOF = 1, 2, 3, 4, 5
HEADER_LEN = 12         # "BATONMIG" + u32 format version


class Record:
    """One record of a stream: type, payload, and where it sits."""

    def __init__(self, offset, rtype, payload):
        self.offset = offset
        self.type = rtype
        self.payload = payload
        self.idstr = self.instance = self.version = None
        if rtype in (SECTION_START, SECTION_FULL) and len(payload) >= 5:
            n = payload[4]
            self.idstr = payload[5:5 + n].decode(errors="replace")
            self.instance, self.version = struct.unpack_from(">II", payload,
                                                             5 + n)
            self.version_offset = 5 + n + 4

    def encode(self, payload=None, rtype=None):
        """The record's bytes, with a correct length and CRC."""
        payload = self.payload if payload is None else payload
        head = struct.pack(">BI", self.type if rtype is None else rtype,
                           len(payload))
        return head + payload + struct.pack(">I",
                                            crc32c(head + payload))

    @property
    def size(self):
        return 9 + len(self.payload)


def parse_stream(data):
    """Split a stream into records, checking framing and CRCs."""
    if data[:8] != b"BATONMIG":
        raise AssertionError("bad magic %r" % data[:8])
    pos, records = HEADER_LEN, []
    while pos < len(data):
        rtype, length = struct.unpack_from(">BI", data, pos)
        payload = data[pos + 5:pos + 5 + length]
        crc, = struct.unpack_from(">I", data, pos + 5 + length)
        if crc != crc32c(data[pos:pos + 5 + length]):
            raise AssertionError("CRC mismatch at offset %d" % pos)
        records.append(Record(pos, rtype, payload))
        pos += 9 + length
    if not records or records[-1].type != EOF:
        raise AssertionError("stream does not end with an EOF record")
    return records


def splice(data, rec, new_bytes):
    """DATA with record REC replaced by NEW_BYTES."""
    return data[:rec.offset] + new_bytes + data[rec.offset + rec.size:]


class Base(baton_test.VmTestCase):
    """VMs are killed at cleanup (baton_test.VmTestCase)."""


class Arguments(Base):
    """Command-level errors; a qtest source is enough."""

    def setUp(self):
        self.src = self.launch(Vm(QTEST + ["-serial", "null"], name="src"))

    def test_uri_and_channels(self):
        chan = [{"channel-type": "main",
                 "addr": {"transport": "socket", "type": "unix",
                          "path": self.src.path("nowhere.sock")}}]
        with self.assertRaises(QmpError) as cm:
            self.src.qmp.cmd("migrate", uri="unix:/nonexistent/x",
                             channels=chan)
        self.assertEqual(cm.exception.cls, "GenericError")
        with self.assertRaises(QmpError) as cm:
            self.src.qmp.cmd("migrate")
        self.assertEqual(cm.exception.cls, "GenericError")
        self.assertNotIn("status", self.src.qmp.cmd("query-migrate"))
        wait_runstate(self.src.qmp, "running")

    def test_cancel_none(self):
        self.assertEqual(self.src.qmp.cmd("migrate_cancel"), {})
        self.assertNotIn("status", self.src.qmp.cmd("query-migrate"))
        wait_runstate(self.src.qmp, "running")

    def test_unreachable(self):
        """A unix path nobody listens on: the command or the migration
        fails, the source runs on; cancel afterwards changes nothing."""
        try:
            self.src.qmp.cmd("migrate", uri="unix:/nonexistent/mig.sock")
            info = wait_migration(self.src.qmp, until=("failed",))
            self.assertTrue(info.get("error-desc"), info)
        except QmpError as e:
            self.assertEqual(e.cls, "GenericError")
        wait_runstate(self.src.qmp, "running")
        before = self.src.qmp.cmd("query-migrate").get("status", "none")
        self.assertEqual(self.src.qmp.cmd("migrate_cancel"), {})
        self.assertEqual(self.src.qmp.cmd("query-migrate").get("status",
                                                                "none"),
                         before)

    def test_bad_parameters(self):
        for params in ({"downtime-limit": 2000001}, {"downtime-limit": -5},
                       {"max-bandwidth": 1.5}):
            with self.assertRaises(QmpError, msg=params) as cm:
                self.src.qmp.cmd("migrate-set-parameters", params)
            self.assertEqual(cm.exception.cls, "GenericError")
        with self.assertRaises(QmpError):
            self.src.qmp.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "no-such-capability", "state": True}])
        self.assertEqual(self.src.qmp.cmd("query-migrate-parameters")
                         ["downtime-limit"], 300)

    def test_negative_bandwidth(self):
        """max-bandwidth is a QAPI size (uint64): QEMU rejects -1."""
        with self.assertRaises(QmpError) as cm:
            self.src.qmp.cmd("migrate-set-parameters", {"max-bandwidth": -1})
        self.assertEqual(cm.exception.cls, "GenericError")
        self.assertGreater(self.src.qmp.cmd("query-migrate-parameters")
                           ["max-bandwidth"], 0)

    def test_incoming_twice(self):
        dst = self.launch(Vm(QTEST + ["-incoming", "defer"], name="dst"))
        dst.qmp.cmd("migrate-incoming", uri="unix:" + dst.path("a.sock"))
        with self.assertRaises(QmpError) as cm:
            dst.qmp.cmd("migrate-incoming", uri="unix:" + dst.path("b.sock"))
        self.assertEqual(cm.exception.cls, "GenericError")
        self.assertEqual(dst.qmp.cmd("query-status")["status"], "inmigrate")

    def test_incoming_without_defer(self):
        with self.assertRaises(QmpError) as cm:
            self.src.qmp.cmd("migrate-incoming",
                             uri="unix:" + self.src.path("in.sock"))
        self.assertEqual(cm.exception.cls, "GenericError")
        wait_runstate(self.src.qmp, "running")


@needs_kvm
class Interrupted(Base):
    """The dirty guest migrating slowly, interrupted in several ways."""

    def setUp(self):
        self.image = dirty_image()
        self.args = KVM + ["-drive", "file=%s,format=raw" % self.image]
        self.src = self.launch(Vm(self.args + ["-S"], serial_socket=True,
                                  name="src"))
        self.src.qmp.cmd("cont")
        self.src.serial.read_until(b"seq 3\n")

    def destination(self, name="dst"):
        path = self.src.path(name + ".sock")
        dst = self.launch(Vm(self.args + ["-incoming", "unix:" + path],
                             serial_socket=True, name=name))
        baton_test.wait_for(lambda: os.path.exists(path) or dst._died(),
                            what="incoming socket")
        return dst, "unix:" + path

    def start_slow(self, uri):
        """Migrate at SLOW with downtime-limit 0: the first pass takes
        seconds, and no later pass can end the migration while the guest
        dirties any page, so it stays active until the test acts."""
        self.src.qmp.cmd("migrate-set-parameters",
                         {"max-bandwidth": SLOW, "downtime-limit": 0})
        self.src.qmp.cmd("migrate", uri=uri)
        wait_migration(self.src.qmp, until=("active",))
        baton_test.wait_for(
            lambda: self.src.qmp.cmd("query-migrate")["ram"]["transferred"]
            > 64 * 1024, what="64 KiB transferred")
        self.assertEqual(self.src.qmp.cmd("query-migrate")["status"],
                         "active")

    def check_source_runs(self):
        """Running, and the serial sequence goes on without a break."""
        wait_runstate(self.src.qmp, "running")
        last = dirty_check_serial(self.src.serial.snapshot())
        self.src.serial.read_until(b"seq %d\n" % (last + 3), timeout=20,
                                   start=0)
        dirty_check_serial(self.src.serial.snapshot())

    def migrate_fully(self):
        """A fresh destination, full speed: completes, guest goes on."""
        self.src.qmp.cmd("migrate-set-parameters",
                         {"max-bandwidth": 10 << 30, "downtime-limit": 300})
        dst, uri = self.destination("dst2")
        self.src.qmp.cmd("migrate", uri=uri)
        wait_migration(self.src.qmp, timeout=60)
        wait_runstate(dst.qmp, "running")
        src_out = dirty_source_output(self.src.serial, dst.serial)
        last = dirty_check_serial(src_out)
        dst.serial.read_until(b"seq %d\n" % (last + 2), timeout=20, start=0)
        dirty_check_serial(src_out + dst.serial.snapshot())
        dst.qmp.cmd("stop")
        dirty_check_memory(dst.qmp)

    def test_cancel(self):
        dst, uri = self.destination()
        self.start_slow(uri)
        with self.assertRaises(QmpError):
            self.src.qmp.cmd("migrate", uri=uri)    # one at a time
        with self.assertRaises(QmpError):
            self.src.qmp.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "events", "state": True}])
        self.assertEqual(self.src.qmp.cmd("migrate_cancel"), {})
        wait_migration(self.src.qmp, until=("cancelled",))
        self.check_source_runs()
        self.assertEqual(self.src.qmp.cmd("migrate_cancel"), {})
        self.assertEqual(self.src.qmp.cmd("query-migrate")["status"],
                         "cancelled")
        self.assertEqual(dst.wait(20), 1, dst.stderr_text())
        self.migrate_fully()

    def test_kill_destination(self):
        dst, uri = self.destination()
        self.start_slow(uri)
        dst.kill()
        info = wait_migration(self.src.qmp, until=("failed",))
        self.assertTrue(info.get("error-desc"), info)
        self.check_source_runs()
        self.assertEqual(self.src.qmp.cmd("migrate_cancel"), {})
        self.assertEqual(self.src.qmp.cmd("query-migrate")["status"],
                         "failed")
        self.migrate_fully()

    def test_broken_channel(self):
        """exec: whose reader quits early: the source gets EPIPE (and must
        not die of SIGPIPE), fails the migration, and runs on."""
        self.src.qmp.cmd("migrate", uri="exec:head -c 100000 >/dev/null")
        wait_migration(self.src.qmp, until=("failed",))
        self.check_source_runs()
        self.migrate_fully()


class CorruptStream(Base):
    """Streams saved to file: from a running qtest source, damaged, then
    loaded with -incoming defer + migrate-incoming."""

    stream = None
    loads = 0

    @classmethod
    def save(cls, name, extra=()):
        vm = Vm(QTEST + list(extra), name=name)
        qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        vm.launch()
        try:
            qt = QtestClient(qtest_path)
            qt.write(0x100000, b"baton" * 100)
            qt.outb(0x3ff, 0x5a)
            path = vm.path("stream.bin")
            vm.qmp.cmd("migrate", uri="file:" + path)
            wait_migration(vm.qmp)
            qt.close()
        finally:
            vm.kill()
        with open(path, "rb") as f:
            return f.read()

    @classmethod
    def setUpClass(cls):
        cls.stream = cls.save("one", ["-serial", "null"])
        cls.records = parse_stream(cls.stream)

    def load(self, data, extra=("-serial", "null"), expect_ok=False):
        """Load DATA on a fresh destination; return (status, stderr)."""
        path = os.path.join(baton_test.tmpdir(), "bad-%d.bin" % time.time_ns())
        with open(path, "wb") as f:
            f.write(data)
        CorruptStream.loads += 1
        dst = self.launch(Vm(QTEST + list(extra) + ["-incoming", "defer"],
                             name="dst%d" % CorruptStream.loads))
        dst.qmp.cmd("migrate-set-capabilities",
                    capabilities=[{"capability": "events", "state": True}])
        if expect_ok:
            dst.qmp.cmd("migrate-incoming", uri="file:" + path)
            wait_runstate(dst.qmp, "running")
            dst.shutdown()
            return 0, dst.stderr_text()
        # The reply may or may not come before baton exits.
        dst.qmp.send_raw({"execute": "migrate-incoming",
                          "arguments": {"uri": "file:" + path}})
        # Read every event until baton closes the monitor by exiting.
        deadline = time.monotonic() + 20
        try:
            while True:
                dst.qmp._pump(deadline)
        except (ConnectionError, OSError):
            pass
        events = [e["event"] for e in dst.qmp.events]
        status = dst.wait(5)
        err = dst.stderr_text()
        self.assertNotIn("RESUME", events, "destination ran: %s" % err)
        self.assertEqual(status, 1, err)
        self.assertTrue(err.strip(), "no error message")
        self.assertLess(len(err.splitlines()), 20, err)
        return status, err

    def full_record(self, prefer="serial"):
        fulls = [r for r in self.records if r.type == SECTION_FULL]
        self.assertTrue(fulls, "no SECTION_FULL record in the stream")
        for r in fulls:
            if prefer in r.idstr:
                return r
        return fulls[-1]

    def test_intact(self):
        self.load(self.stream, expect_ok=True)

    def test_bad_magic(self):
        _, err = self.load(b"BATONMIX" + self.stream[8:])
        self.assertIn("magic", err)

    def test_version(self):
        _, err = self.load(self.stream[:8] + struct.pack(">I", 99)
                           + self.stream[12:])
        self.assertIn("version", err)
        self.assertIn("99", err)

    def test_not_a_stream(self):
        _, err = self.load(b"\0" * 4096)
        self.assertIn("magic", err)

    def test_empty_and_header_only(self):
        self.load(b"")
        _, err = self.load(self.stream[:HEADER_LEN])
        self.assertIn("EOF", err)

    def test_truncated(self):
        for cut in (HEADER_LEN + 3, len(self.stream) // 2,
                    len(self.stream) - 2):
            self.load(self.stream[:cut])

    def test_no_eof_record(self):
        _, err = self.load(self.stream[:self.records[-1].offset])
        self.assertIn("EOF", err)

    def test_checksum(self):
        rec = self.full_record()
        pos = rec.offset + 5 + len(rec.payload) - 1
        data = bytearray(self.stream)
        data[pos] ^= 0x40
        _, err = self.load(bytes(data))
        self.assertIn("checksum", err)
        self.assertIn(rec.idstr, err)

    def test_section_version(self):
        rec = self.full_record()
        payload = bytearray(rec.payload)
        struct.pack_into(">I", payload, rec.version_offset, rec.version + 7)
        _, err = self.load(splice(self.stream, rec, rec.encode(
            bytes(payload))))
        self.assertIn(rec.idstr, err)
        self.assertIn(str(rec.version + 7), err)

    def test_trailing_bytes(self):
        rec = self.full_record()
        _, err = self.load(splice(self.stream, rec,
                                  rec.encode(rec.payload + b"\0")))
        self.assertIn(rec.idstr, err)

    def test_short_payload(self):
        """A record one byte short of its fields: vmstate runs out."""
        rec = self.full_record()
        _, err = self.load(splice(self.stream, rec,
                                  rec.encode(rec.payload[:-1])))
        self.assertIn(rec.idstr, err)

    def test_huge_length(self):
        rec = self.full_record()
        data = bytearray(self.stream)
        struct.pack_into(">I", data, rec.offset + 1, 0xfffffff0)
        _, err = self.load(bytes(data))
        self.assertIn("length", err)

    def test_unknown_record_type(self):
        rec = self.full_record()
        _, err = self.load(splice(self.stream, rec, rec.encode(rtype=0x7e)))
        self.assertIn("type", err)

    def test_duplicate_section(self):
        rec = self.full_record()
        _, err = self.load(splice(self.stream, rec,
                                  rec.encode() + rec.encode()))
        self.assertIn(rec.idstr, err)

    def test_unknown_section(self):
        """The source had a second UART the destination lacks."""
        two = self.save("two", ["-serial", "null", "-serial", "null"])
        known = {(r.idstr, r.instance) for r in self.records if r.idstr}
        extra = [(r.idstr, r.instance) for r in parse_stream(two)
                 if r.idstr and (r.idstr, r.instance) not in known]
        self.assertTrue(extra, "no extra section for the second UART")
        _, err = self.load(two)
        self.assertIn(extra[0][0], err)

    def test_missing_section(self):
        """The destination has a second UART the stream lacks."""
        _, err = self.load(self.stream,
                           extra=("-serial", "null", "-serial", "null"))
        self.assertTrue(any(r.idstr in err for r in self.records if r.idstr),
                        err)

    def test_ram_size_mismatch(self):
        _, err = self.load(self.stream, extra=("-serial", "null", "-m", "64M"))
        self.assertIn("ram", err.lower())


if __name__ == "__main__":
    baton_test.main()
