# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot the real-mode test guests under KVM: serial output, guest memory
via pmemsave, isa-debug-exit, the -drive/-device ide-hd form,
system_reset and -smp 2. Skips (77) without a usable /dev/kvm."""

import os
import re
import unittest

import baton_test
from baton_test import Vm, guest_image, needs_kvm, tmpdir

BASE = ["-nodefaults", "-display", "none", "-accel", "kvm",
        "-machine", "pc", "-m", "32M"]
SEQ = re.compile(rb"seq (\d+)\n")


def pattern():
    return bytes((i * 7 + 3) & 0xff for i in range(4096))


@needs_kvm
class Boot(unittest.TestCase):

    def start(self, args, **kwargs):
        vm = Vm(BASE + list(args), **kwargs)
        try:
            vm.launch()
        except Exception:
            vm.kill()
            raise
        self.addCleanup(vm.kill)
        return vm

    def boot_hello(self, drive_args):
        """Start paused, connect the serial, cont, and read to "seq 2"."""
        vm = self.start(["-S"] + drive_args, serial_socket=True)
        vm.qmp.cmd("cont")
        data = vm.serial.read_until(b"seq 2\n")
        self.assertTrue(data.startswith(b"Baton hello\nseq 0\nseq 1\n"),
                        data)
        return vm

    def test_hello(self):
        vm = self.boot_hello(["-drive", "file=%s,format=raw"
                              % guest_image("hello")])
        status = vm.qmp.cmd("query-status")
        self.assertEqual((status["status"], status["running"]),
                         ("running", True))
        data = vm.serial.read_until(b"seq 4\n")
        nums = [int(n) for n in SEQ.findall(data)]
        self.assertEqual(nums[:5], [0, 1, 2, 3, 4], data)
        path = os.path.join(tmpdir(), "hello-pattern.bin")
        vm.qmp.cmd("pmemsave", val=0x10000, size=4096, filename=path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), pattern())
        self.assertEqual(vm.shutdown(), 0)

    def test_system_reset(self):
        vm = self.boot_hello(["-drive", "if=none,id=d0,file=%s,format=raw"
                              % guest_image("hello"),
                              "-device", "ide-hd,drive=d0"])
        mark = len(vm.serial.data)
        vm.qmp.cmd("system_reset")
        ev = vm.qmp.get_event("RESET")
        self.assertEqual(ev["data"]["guest"], False)
        self.assertIn("timestamp", ev)
        data = vm.serial.read_until(b"Baton hello\nseq 0\n", start=mark)
        # Nothing but complete "seq" lines came before the reboot banner
        # (a line cut short by the reset is allowed).
        before = data[mark:data.index(b"Baton hello\n", mark)]
        self.assertNotIn(b"Baton", before)
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")
        self.assertEqual(vm.shutdown(), 0)

    def test_debug_exit(self):
        out = os.path.join(tmpdir(), "exit-serial.txt")
        vm = self.start(["-drive", "file=%s,format=raw" % guest_image("exit"),
                         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                         "-serial", "file:" + out], qmp=False)
        self.assertEqual(vm.wait(), 67, vm.stderr_text())
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"exit\n")

    def test_smp2(self):
        vm = self.start(["-S", "-smp", "2", "-drive", "file=%s,format=raw"
                         % guest_image("hello")])
        cpus = vm.qmp.cmd("query-cpus-fast")
        self.assertEqual([c["cpu-index"] for c in cpus], [0, 1], cpus)
        tids = [c["thread-id"] for c in cpus]
        self.assertEqual(len(set(tids)), 2, cpus)
        for tid in tids:
            self.assertNotEqual(tid, vm.pid)
            self.assertTrue(os.path.exists("/proc/%d/task/%d"
                                           % (vm.pid, tid)), tid)
        self.assertEqual(vm.shutdown(), 0)


if __name__ == "__main__":
    baton_test.main()
