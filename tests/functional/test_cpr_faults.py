# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update (cpr-transfer) with the new process killed (SIGKILL) at
each phase, under KVM with the dirty guest: (a) while it waits for the
cpr state, before the old process migrates (and then a migrate to its
dead socket); (b) right after it read the cpr state, before it listens
on the main channel; (c) while the old process waits for the main
channel (-incoming defer: it never comes); (d) with the main channel
accepted but not read, after the old process stopped the guest; (e) with
the whole state loaded, before READY; (f) after READY, before GO. The new
process stops itself at each of those points (BATON_FAULT_INJECT,
include/util/fault-inject.h), so no window is hit by timing. In every
case the old process runs the guest on with no serial line lost, its
query-migrate says failed with an error-desc, and a second update then
succeeds."""

import os
import signal
import unittest

import baton_test
from baton_test import (CprGuest, cpr_channels, cpr_incoming_args,
                        memfd_ram_args, needs_kvm, proc_fds, unix_listening,
                        wait_for, wait_migration, wait_runstate)

KVM = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1"]
MEMFD = memfd_ram_args("256M")


def thread_names(pid):
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass
    return names


def handed_over(old_pid):
    """True once the old process has given the guest away: it releases
    its KVM VM and vCPU threads once the new one confirmed (RESUMING).
    (Its MIGRATION events of the switchover never reach the preserved QMP
    connection.) While the new process is stopped before RESUMING this
    cannot happen, so a check needs no waiting."""
    return not any(n.startswith("CPU ") for n in thread_names(old_pid))


def has_memfd(pid):
    """True once PID holds a memfd (the cpr state brought guest RAM)."""
    try:
        return any(t.startswith("/memfd:") for t in proc_fds(pid).values())
    except OSError:
        return False


@needs_kvm
class Faults(unittest.TestCase):

    def setUp(self):
        self.g = CprGuest(KVM + MEMFD, name="fault-" + self._testMethodName)
        self.addCleanup(self.reap)
        self.g.check()

    def reap(self):
        for vm in [self.g.vm] + self.g.retired:
            status = vm.proc.poll()
            vm.kill()
            err = vm.stderr_text().strip()
            if err or status not in (None, 0, -signal.SIGKILL):
                print("\n[%s pid %d: %s; stderr: %s]" % (
                    vm.name, vm.pid, "running" if status is None
                    else "exit status %d" % status, err or "(empty)"))
        self.g.qmp.close()
        self.g.serial.close()

    def start(self, main=None, env=None):
        """A new process waiting for the cpr state. Returns (vm, main
        socket path, cpr socket path)."""
        g = self.g
        main_path, cpr_path = g.paths()
        new = g.start_new(cpr_incoming_args(main or main_path, cpr_path),
                          env=env)
        g.retired.append(new)
        g.wait_listening(new, cpr_path)
        return new, main_path, cpr_path

    def migrate(self, main_path, cpr_path):
        self.g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.g.qmp.cmd("migrate", channels=cpr_channels(main_path, cpr_path))

    def kill(self, vm):
        os.kill(vm.pid, signal.SIGKILL)
        vm.proc.wait(10)

    def check_rolled_back(self, what):
        """The old process failed the migration and runs the guest with
        nothing lost; then a second update succeeds."""
        g = self.g
        info = wait_migration(g.qmp, until=("failed",), timeout=20)
        self.assertTrue(info.get("error-desc"), info)
        wait_runstate(g.qmp, "running")
        print("\n  %s: old resumed; error-desc: %s" % (what,
                                                       info["error-desc"]))
        g.check()
        fig = g.transfer()
        g.check()
        self.assertFalse(g.serial.eof)
        print("  then updated to pid %d (gap %.1f ms)" % (fig["pid"],
                                                          fig["gap"]))

    def test_a_before_migrate(self):
        g = self.g
        new, main_path, cpr_path = self.start()
        self.kill(new)
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        g.check()
        self.assertIn(g.qmp.cmd("query-migrate").get("status", "none"),
                      ("none",))
        # Migrating to the dead process's socket fails; the guest runs on.
        failed = False
        try:
            self.migrate(main_path, cpr_path)
        except Exception as e:          # QmpError up front is fine too
            print("\n  migrate to a dead cpr socket: %s" % e)
            failed = True
        if not failed:
            info = wait_migration(g.qmp, until=("failed",), timeout=20)
            self.assertTrue(info.get("error-desc"), info)
        wait_runstate(g.qmp, "running")
        g.check()
        g.transfer()
        g.check()

    def test_b_after_cpr_state(self):
        """Killed with the cpr state read, before it created anything:
        the old process still runs the guest, trying to reach a main
        channel nobody listens on yet."""
        new, main_path = self.stop_at("incoming-cpr-state")
        self.assertFalse(unix_listening(main_path))
        self.assertEqual(self.g.qmp.cmd("query-status")["status"], "running")
        self.assertIn(self.g.qmp.cmd("query-migrate").get("status"),
                      ("setup", "active"))
        self.kill(new)
        self.check_rolled_back("(b)")

    def test_c_waiting_for_main(self):
        g = self.g
        new, main_path, cpr_path = self.start(main="defer")
        self.migrate(main_path, cpr_path)
        wait_for(lambda: has_memfd(new.pid), what="cpr state")
        # The old side waits for a main channel that never comes (it
        # cannot give up while the new process lives), and the guest
        # runs meanwhile.
        info = g.qmp.cmd("query-migrate")
        self.assertIn(info.get("status"), ("setup", "active"), info)
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        seq = g.check(memory=False)
        self.kill(new)
        self.check_rolled_back("(c) at seq %d" % seq)

    def stop_at(self, point):
        """Start an update whose new process stops itself at POINT
        (BATON_FAULT_INJECT). Returns (new Vm, main socket path) once it
        is stopped there."""
        new, main_path, cpr_path = self.start(
            env={"BATON_FAULT_INJECT": point})
        self.g.qmp.clear_events()
        self.migrate(main_path, cpr_path)

        def stopped():
            with open("/proc/%d/stat" % new.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"
        wait_for(lambda: new._died() or stopped(), timeout=20,
                 what="the new process at " + point)
        return new, main_path

    def kill_stopped_at(self, point):
        """The new process stops at POINT, past the main channel's
        accept: the old one stops the guest and sends the device state
        (STOP), then waits for the new one, which cannot answer. Kill it
        there."""
        new, main_path = self.stop_at(point)
        self.g.qmp.get_event("STOP", timeout=20)
        self.assertFalse(handed_over(self.g.pid))
        self.kill(new)
        self.check_rolled_back(point)

    def test_d_accepted(self):
        """Killed with the main channel accepted and nothing read."""
        self.kill_stopped_at("incoming-accepted")

    def test_e_loaded(self):
        """Killed with the whole state loaded, before READY."""
        self.kill_stopped_at("incoming-loaded")

    def test_f_ready(self):
        """Killed after READY, before GO arrives."""
        self.kill_stopped_at("incoming-ready")


if __name__ == "__main__":
    baton_test.main()
