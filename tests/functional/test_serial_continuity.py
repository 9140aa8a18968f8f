# SPDX-License-Identifier: GPL-2.0-or-later
"""Serial output continuity across migration and live update. The alpha
guest (tests/guest/alpha) writes a..z to COM1 without pause and counts
its bytes at 0x600; whatever its clients receive, concatenated in the
order they served the guest, must be exactly what it wrote: every byte
follows the previous one in the alphabet and the total is the guest's
count (or one more: it may stop between a byte and its count). Precopy
with the destination's client attached before `migrate` and after the
switchover (the destination keeps the output for it); cpr-transfer then
cpr-exec with a socket chardev whose client stays connected, with a file
chardev and with a pipe chardev. Skips (77) without a usable /dev/kvm."""

import os
import select
import threading
import time
import unittest

import baton_test
from baton_test import (SerialClient, Vm, VmTestCase, cpr_channels,
                        cpr_incoming_args, guest_image, memfd_ram_args,
                        proc_image_id, require_kvm, unix_listening,
                        wait_for, wait_migration, wait_runstate)

KVM = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1",
       "-machine", "pc"]
COUNT_ADDR = 0x600          # the guest's u32 byte count
TIMEOUT = 30.0              # ends a hung test; never a synchronisation


def alpha_args(mem_args):
    return KVM + list(mem_args) + ["-drive", "file=%s,format=raw"
                                   % guest_image("alpha")]


def guest_count(qmp):
    """The alpha guest's byte count (read while it runs or is stopped)."""
    path = os.path.join(baton_test.tmpdir(), "count-%d" % os.getpid())
    qmp.cmd("pmemsave", val=COUNT_ADDR, size=4, filename=path)
    with open(path, "rb") as f:
        count = int.from_bytes(f.read(), "little")
    os.unlink(path)
    return count


def stream_error(data):
    """None if DATA is the start of the alpha stream ("abc...zab..."),
    else where it breaks."""
    data = bytes(data)
    if data and data[0] != ord("a"):
        return "starts with %r, not 'a'" % data[:10]
    for i in range(1, len(data)):
        want = (data[i - 1] - ord("a") + 1) % 26 + ord("a")
        if data[i] != want:
            return ("byte %d is %r after %r (expected %r): %r | %r"
                    % (i, chr(data[i]), chr(data[i - 1]), chr(want),
                       data[max(0, i - 20):i], data[i:i + 20]))
    return None


class FifoReader:
    """Reads a FIFO (opened non-blocking, so no writer is needed yet) on a
    thread into `data`."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = bytearray()
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            if not select.select([self.fd], [], [], 0.2)[0]:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            with self._lock:
                self.data += chunk

    def snapshot(self):
        with self._lock:
            return bytes(self.data)

    def close(self):
        self._stop = True
        self._thread.join(2)
        os.close(self.fd)


class Continuity(VmTestCase):

    def assert_continuous(self, qmp, parts):
        """Stop the guest (QMP), read its count, wait until the PARTS
        (callables returning the bytes each client got, in the order they
        served the guest) add up to it, and check the stream."""
        qmp.cmd("stop")
        count = guest_count(qmp)

        def received():
            return b"".join(bytes(p()) for p in parts)
        try:
            wait_for(lambda: len(received()) >= count, TIMEOUT,
                     what="%d bytes of output" % count)
        except TimeoutError:
            pass        # the checks below say what is missing
        data = received()
        lens = [len(p()) for p in parts]
        print("  %d bytes written, received %r" % (count, lens))
        err = stream_error(data)
        self.assertIsNone(err, "output received %r: %s" % (lens, err))
        self.assertIn(len(data), (count, count + 1),
                      "the guest wrote %d bytes, the clients received %r"
                      % (count, lens))
        self.assertTrue(all(lens), "a client received nothing: %r" % lens)
        qmp.cmd("cont")
        return count


@unittest.skipUnless(baton_test.kvm_usable(), "/dev/kvm is not usable")
class Precopy(Continuity):
    """Two processes, two serial sockets, one client on each."""

    def source(self):
        src = self.launch(Vm(alpha_args(["-m", "32M"]) + ["-S"],
                             serial_socket=True, name="src"))
        src.qmp.cmd("cont")
        src.serial.read_until(b"xyz")
        return src

    def migrate(self, src, dst):
        path = src.path("mig.sock")
        wait_for(lambda: unix_listening(path) or dst._died(), TIMEOUT,
                 what="incoming socket %s" % path)
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp, timeout=TIMEOUT)
        wait_runstate(dst.qmp, "running", TIMEOUT)

    def test_client_before(self):
        """The destination's client connects before `migrate`."""
        src = self.source()
        dst = self.launch(Vm(alpha_args(["-m", "32M"]) + [
            "-incoming", "unix:" + src.path("mig.sock")],
            serial_socket=True, name="dst"))
        self.migrate(src, dst)
        # The guest writes on the destination before it is stopped there
        # (else "a client received nothing" would only say it was slow).
        wait_for(lambda: len(dst.serial.data) >= 26, TIMEOUT,
                 what="output on the destination")
        self.assert_continuous(dst.qmp, [lambda: src.serial.data,
                                         lambda: dst.serial.data])

    def test_client_after(self):
        """The destination's client connects once the guest has run
        there for a while: it still gets all the output since the stop."""
        src = self.source()
        path = os.path.join(baton_test.tmpdir(), "dst-late-serial.sock")
        dst = self.launch(Vm(alpha_args(["-m", "32M"]) + [
            "-chardev", "socket,id=ser0,path=%s,server=on,wait=off" % path,
            "-serial", "chardev:ser0",
            "-incoming", "unix:" + src.path("mig.sock")], name="dst"))
        self.migrate(src, dst)
        # Proof that the destination wrote output with nobody there.
        at_stop = guest_count(src.qmp)
        wait_for(lambda: guest_count(dst.qmp) >= at_stop + 100, TIMEOUT,
                 what="100 bytes of output on the destination")
        late = SerialClient(path)
        self.addCleanup(late.close)
        # What was held arrives first (before `stop`, which would keep
        # the guest from writing but not the held output from going).
        wait_for(lambda: len(late.data) >= 100, TIMEOUT,
                 what="the held output")
        self.assert_continuous(dst.qmp, [lambda: src.serial.data,
                                         lambda: late.data])


@unittest.skipUnless(baton_test.kvm_usable(), "/dev/kvm is not usable")
class Cpr(Continuity):
    """One guest through cpr-transfer and then cpr-exec, with its serial
    port on one kind of chardev each time; the QMP client stays
    connected (the new processes adopt the monitor)."""

    def start(self, chardev, reader):
        """Boot with CHARDEV (the -chardev value of "ser0"); READER() is
        called once the process exists and returns the output getter."""
        args = alpha_args(memfd_ram_args("32M")) + [
            "-chardev", chardev, "-serial", "chardev:ser0"]
        vm = self.launch(Vm(args + ["-S"], name="cpr"))
        get = reader(vm)
        self.qmp = vm.qmp
        vm.qmp = None                   # it outlives this process
        self.addCleanup(self.qmp.close)
        self.argv = vm.command()[:-1]   # without -S
        self.vm = vm
        self.qmp.cmd("cont")
        wait_for(lambda: len(get()) >= 26, TIMEOUT, what="first output")
        return get

    def transfer(self):
        main = self.vm.path("main.sock")
        cpr = self.vm.path("cpr.sock")
        new = self.launch(Vm(self.argv[1:] + cpr_incoming_args(main, cpr),
                             qmp=False, binary=self.argv[0], name="cpr-new"))
        wait_for(lambda: unix_listening(cpr) or new._died(), TIMEOUT,
                 what="cpr channel %s" % cpr)
        self.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(self.qmp, timeout=TIMEOUT, interval=0.005)
        wait_runstate(self.qmp, "running", TIMEOUT)
        self.vm.proc.terminate()
        self.assertEqual(self.vm.wait(), 0, self.vm.stderr_text())
        self.vm = new

    def exec_update(self):
        baton_test.cpr_exec_to(self.vm, self.qmp, self.argv, TIMEOUT)

    def updates(self, get):
        """cpr-transfer, then cpr-exec, the output checked after each."""
        seen = self.assert_continuous(self.qmp, [get])
        self.transfer()
        wait_for(lambda: len(get()) >= seen + 100, TIMEOUT,
                 what="output after cpr-transfer")
        seen = self.assert_continuous(self.qmp, [get])
        self.exec_update()
        wait_for(lambda: len(get()) >= seen + 100, TIMEOUT,
                 what="output after cpr-exec")
        self.assert_continuous(self.qmp, [get])

    def test_socket(self):
        """The serial client stays connected through both updates."""
        path = os.path.join(baton_test.tmpdir(), "cpr-serial.sock")
        holder = {}

        def reader(vm):
            holder["c"] = SerialClient(path)
            self.addCleanup(holder["c"].close)
            return lambda: holder["c"].data
        get = self.start("socket,id=ser0,path=%s,server=on,wait=off" % path,
                         reader)
        self.updates(get)
        self.assertFalse(holder["c"].eof, "the serial client was cut off")

    def test_file(self):
        path = os.path.join(baton_test.tmpdir(), "cpr-serial.out")

        def reader(vm):
            def get():
                with open(path, "rb") as f:
                    return f.read()
            return get
        self.updates(self.start("file,id=ser0,path=%s" % path, reader))

    def test_pipe(self):
        path = os.path.join(baton_test.tmpdir(), "cpr-serial.pipe")
        os.mkfifo(path + ".in")
        os.mkfifo(path + ".out")
        fifo = FifoReader(path + ".out")
        self.addCleanup(fifo.close)
        self.updates(self.start("pipe,id=ser0,path=%s" % path,
                                lambda vm: fifo.snapshot))


if __name__ == "__main__":
    require_kvm()
    baton_test.main()
