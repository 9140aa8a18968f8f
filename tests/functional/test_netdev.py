# SPDX-License-Identifier: GPL-2.0-or-later
"""-netdev from the command line and the monitor, in a network namespace
of the test's own (skipped, saying why, without the privilege for one):
info network and set_link as QEMU shows them; a tap is handed to the new
process of a cpr-transfer (the same open interface: it lives on after
the old process is gone with the same ifindex, which a close and reopen
would change); a -netdev user blocks live update with its name, the
guest running on; bad options fail with one line naming what is wrong.
That frames queued meanwhile reach the guest is virtio-net's test."""

import os
import socket
import subprocess
import unittest

import baton_test
from baton_test import (QmpError, Vm, cpr_channels, cpr_incoming_args,
                        memfd_ram_args, unix_listening, wait_for,
                        wait_migration)

BASE = ["-nodefaults", "-display", "none", "-accel", "qtest"]
NETNS = None


class Netdev(unittest.TestCase):

    def setUp(self):
        if NETNS:
            self.skipTest(NETNS)

    def launch(self, args, name, **kw):
        vm = Vm(BASE + args, name=name, **kw)
        vm.launch()
        self.addCleanup(vm.kill)
        return vm

    def hmp(self, vm, line):
        return vm.qmp.cmd("human-monitor-command", **{"command-line": line})

    def test_info_network_and_set_link(self):
        vm = self.launch(["-netdev", "tap,id=n0,ifname=bn0,script=no,"
                          "downscript=no", "-netdev",
                          "user,id=u0,net=10.1.0.0/24,hostfwd=tcp::0-:22"],
                         "info")
        self.assertEqual(self.hmp(vm, "info network"),
                         "n0: index=0,type=tap,ifname=bn0,script=no,"
                         "downscript=no\r\n"
                         "u0: index=0,type=user,net=10.1.0.0,"
                         "restrict=off\r\n")
        vm.qmp.cmd("set_link", {"name": "n0", "up": False})
        with self.assertRaises(QmpError) as cm:
            vm.qmp.cmd("set_link", {"name": "nope", "up": False})
        self.assertEqual(cm.exception.cls, "DeviceNotFound")
        self.assertEqual(cm.exception.desc, "Device 'nope' not found")
        self.assertIn("Device 'nope' not found",
                      self.hmp(vm, "set_link nope off"))

    def cpr_transfer(self, vm, name):
        main, cpr = vm.path(name + "-m.sock"), vm.path(name + "-c.sock")
        new = Vm(vm.command()[1:] + cpr_incoming_args(main, cpr), qmp=False,
                 name=name)
        new.launch()
        self.addCleanup(new.kill)
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(vm.qmp)
        return new

    def test_tap_cpr(self):
        """The new process of a cpr-transfer holds the old one's tap."""
        vm = self.launch(memfd_ram_args("32M") +
                         ["-netdev", "tap,id=n0,ifname=bc0,script=no,"
                          "downscript=no"], "tapcpr")
        index = socket.if_nametoindex("bc0")
        new = self.cpr_transfer(vm, "tapcpr-new")
        vm.proc.terminate()
        vm.proc.wait(baton_test.DEFAULT_TIMEOUT)
        # A tap interface lives only while one of its fds is open: the
        # same ifindex with the old process gone means the new process
        # holds the old one's open file, never closed in between.
        self.assertEqual(socket.if_nametoindex("bc0"), index)
        self.assertIn("iff:\tbc0", self.tap_fdinfo(new.proc.pid))
        new.kill()
        new.proc.wait(baton_test.DEFAULT_TIMEOUT)
        with self.assertRaises(OSError):
            socket.if_nametoindex("bc0")

    def tap_fdinfo(self, pid):
        d = "/proc/%d/fd" % pid
        for fd in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, fd)) == "/dev/net/tun":
                    with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                        return f.read()
            except OSError:
                pass
        self.fail("pid %d has no tap fd" % pid)

    def test_user_blocks_cpr(self):
        vm = self.launch(memfd_ram_args("32M") +
                         ["-netdev", "user,id=u0"], "userblk")
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        path = vm.path("x.sock")
        with self.assertRaises(QmpError) as cm:
            vm.qmp.cmd("migrate", channels=cpr_channels(path, path + "c"))
        self.assertIn("netdev 'u0': -netdev user cannot be live-updated",
                      cm.exception.desc)
        print("  error: %s" % cm.exception.desc)
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")

    def test_bad_options(self):
        for arg, msg in (
                ("tap,id=x,script=/etc/qemu-ifup", "runs no network scripts"),
                ("tap,id=x,fd=77", "Invalid file descriptor"),
                ("user,id=u,hostfwd=nope", "Invalid host forwarding rule"),
                ("bogus,id=b", "'type' does not accept value 'bogus'"),
                ("tap", "Parameter 'id' is missing")):
            r = subprocess.run([baton_test.BATON] + BASE + ["-netdev", arg],
                               capture_output=True, text=True,
                               timeout=baton_test.DEFAULT_TIMEOUT)
            self.assertEqual(r.returncode, 1, arg)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("-netdev " + arg, lines[0])
            self.assertIn(msg, lines[0])


if __name__ == "__main__":
    NETNS = baton_test.enter_netns()
    baton_test.main()
