# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update (cpr-transfer) where preserved fds change after the CPR
state was sent: the new process stops itself right after reading the
state (BATON_FAULT_INJECT=incoming-cpr-state), and meanwhile, on the old
process's extra QMP monitors, one client leaves and another takes its
place (mon2), and a client connects where there was none (mon3). The
update succeeds (it used to fail with "changed after the CPR state was
sent"): the switchover carries the new connections ("cpr-late"), and
both late clients are served by the new process afterwards, with their
QMP sessions (negotiated in the old process) going on."""

import os
import signal
import unittest

from baton_test import (CprGuest, QmpClient, memfd_ram_args, needs_kvm,
                        tmpdir, wait_for)
import baton_test

KVM = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1"]


def stopped(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


@needs_kvm
class Late(unittest.TestCase):

    def setUp(self):
        d = tmpdir()
        self.mon2 = os.path.join(d, "late-mon2.sock")
        self.mon3 = os.path.join(d, "late-mon3.sock")
        mons = []
        for i, path in ((2, self.mon2), (3, self.mon3)):
            mons += ["-chardev", "socket,id=mon%d,path=%s,server=on,"
                     "wait=off" % (i, path),
                     "-mon", "chardev=mon%d,mode=control" % i]
        self.g = CprGuest(KVM + memfd_ram_args("256M") + mons,
                          name="late")
        self.clients = []
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for c in self.clients:
            c.close()
        self.g.close()

    def client(self, path):
        c = QmpClient(path)
        self.clients.append(c)
        c.negotiate()
        return c

    def test_client_changes_in_window(self):
        g = self.g
        a = self.client(self.mon2)
        self.assertEqual(a.cmd("query-status")["status"], "running")
        new, mark = g.begin_transfer(
            env={"BATON_FAULT_INJECT": "incoming-cpr-state"})
        wait_for(lambda: new._died() or stopped(new.pid), timeout=20,
                 what="the new process stopped after the cpr state")
        self.assertFalse(new._died(), new.stderr_text())
        # The window: the old process has sent the state and still
        # accepts. A leaves and B takes its place; C comes to mon3. Each
        # greeting proves the old process accepted it.
        a.close()
        self.clients.remove(a)
        b = self.client(self.mon2)
        c = self.client(self.mon3)
        self.assertEqual(b.cmd("query-status")["status"], "running")
        self.assertEqual(c.cmd("query-status")["status"], "running")
        os.kill(new.pid, signal.SIGCONT)
        fig = g.finish_transfer(new, mark)
        print("\n  updated to pid %d with two late connections (gap %.1f "
              "ms)" % (fig["pid"], fig["gap"]))
        g.check()
        # The old process has exited: the new one serves B and C, in the
        # sessions negotiated before (no second greeting, no need to
        # negotiate again).
        for cl in (b, c):
            self.assertEqual(cl.cmd("query-status")["status"], "running")
            info = cl.cmd("query-migrate")
            self.assertNotEqual(info.get("status"), "failed", info)
        # And a later update carries them on as usual.
        g.transfer()
        self.assertEqual(b.cmd("query-status")["status"], "running")
        self.assertEqual(c.cmd("query-status")["status"], "running")


if __name__ == "__main__":
    baton_test.main()
