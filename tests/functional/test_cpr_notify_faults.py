# SPDX-License-Identifier: GPL-2.0-or-later
"""A live update whose hand-over notifiers fail in the old process
(BATON_FAULT_INJECT=cpr-notify-prepare:once or cpr-notify-handover:once,
include/util/fault-inject.h), in cpr-transfer and in cpr-exec: the
update fails with the error in query-migrate and a MIGRATION event
"failed", the guest runs on in the old process with no serial line lost,
the QMP client and an extra HMP monitor on the old process's chardevs
keep working, and a second update (the point fails only once) succeeds
and carries both monitors over."""

import os
import unittest

import baton_test
from baton_test import (CprGuest, HmpClient, memfd_ram_args, needs_kvm,
                        tmpdir, wait_for, wait_migration, wait_runstate)

KVM = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1"]


@needs_kvm
class NotifyFaults(unittest.TestCase):

    def start(self, point):
        self.hmp_path = os.path.join(tmpdir(), "nf-%s.sock" %
                                     self._testMethodName)
        args = KVM + memfd_ram_args("256M") + [
            "-chardev", "socket,id=hmp0,path=%s,server=on,wait=off"
            % self.hmp_path, "-mon", "chardev=hmp0,mode=readline"]
        saved = os.environ.get("BATON_FAULT_INJECT")
        os.environ["BATON_FAULT_INJECT"] = point + ":once"
        try:
            self.g = CprGuest(args, name="nf-" + self._testMethodName)
        finally:
            if saved is None:
                del os.environ["BATON_FAULT_INJECT"]
            else:
                os.environ["BATON_FAULT_INJECT"] = saved
        self.addCleanup(self.g.close)
        self.g.qmp.cmd("migrate-set-capabilities", capabilities=[
            {"capability": "events", "state": True}])
        self.hmp = HmpClient(self.hmp_path)
        self.addCleanup(self.hmp.close)
        self.assertIn("running", self.hmp.cmd("info status"))

    def check_failed(self, event):
        """The update failed with EVENT's error; everything carries on."""
        g = self.g
        info = wait_migration(g.qmp, until=("failed",), timeout=20)
        self.assertIn("live update %s failed (fault injected)" % event,
                      info.get("error-desc", ""), info)
        ev = g.qmp.get_event("MIGRATION", timeout=10)
        while ev["data"]["status"] != "failed":
            ev = g.qmp.get_event("MIGRATION", timeout=10)
        wait_runstate(g.qmp, "running")
        self.assertIn("running", self.hmp.cmd("info status"))
        g.check()
        print("\n  %s failed: %s" % (event, info["error-desc"]))

    def check_second(self):
        g = self.g
        g.check()
        self.assertIn("running", self.hmp.cmd("info status"))
        self.assertFalse(g.serial.eof)

    def transfer_fails(self, point, event):
        self.start(point)
        g = self.g
        g.qmp.clear_events()
        new, _ = g.begin_transfer()
        g.retired.append(new)
        self.check_failed(event)
        # The new process learns it by its cpr connection and exits.
        wait_for(lambda: new.proc.poll() is not None, timeout=20,
                 what="the new process's exit")
        fig = g.transfer()
        self.check_second()
        print("  then updated to pid %d (gap %.1f ms)" % (fig["pid"],
                                                          fig["gap"]))

    def exec_fails(self, point, event):
        self.start(point)
        g = self.g
        state = g.vm.path("failed-exec-state")
        g.qmp.clear_events()
        g.qmp.cmd("migrate-set-parameters",
                  {"mode": "cpr-exec",
                   "cpr-exec-command": g.argv + ["-incoming", "defer"]})
        g.qmp.cmd("migrate", uri="file:" + state)
        self.check_failed(event)
        fig = g.exec_update()
        self.check_second()
        print("  then exec'd in place (gap %.1f ms)" % fig["gap"])

    def test_transfer_prepare(self):
        self.transfer_fails("cpr-notify-prepare", "prepare")

    def test_transfer_handover(self):
        self.transfer_fails("cpr-notify-handover", "handover")

    def test_exec_prepare(self):
        self.exec_fails("cpr-notify-prepare", "prepare")

    def test_exec_handover(self):
        self.exec_fails("cpr-notify-handover", "handover")


if __name__ == "__main__":
    baton_test.main()
