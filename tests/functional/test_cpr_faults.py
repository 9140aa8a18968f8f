# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update (cpr-transfer) with the new process killed (SIGKILL) at
each phase, under KVM with the dirty guest: (a) while it waits for the
cpr state, before the old process migrates (and then a migrate to its
dead socket); (b) right after it received the cpr state; (c) while the
old process waits for the main channel (-incoming defer: it never
comes); (d) after the old process stopped the guest and sent the device
state, before READY/GO (the new process is frozen with SIGSTOP as soon as
it listens on the main channel, so it cannot answer). In every case the
old process runs the guest on with no serial line lost, its query-migrate
says failed with an error-desc, and a second update then succeeds."""

import os
import signal
import time
import unittest

from baton_test import (CprGuest, cpr_channels, cpr_incoming_args,
                        kvm_usable, memfd_ram_args, proc_fds,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)

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
    its KVM VM and vCPU threads right after GO. (Its MIGRATION events of
    the switchover never reach the preserved QMP connection.)"""
    time.sleep(0.2)
    return not any(n.startswith("CPU ") for n in thread_names(old_pid))


def unix_listening_or_accepted(path):
    """True if a socket listens on unix path PATH or was accepted from
    it (an accepted socket keeps the path in /proc/net/unix). The main
    channel stops listening as soon as the old process connects, which
    it does at once once the new process has answered on the cpr
    channel: its listening state alone may be too short to see. (A
    socket only bound, not yet listening, does not count.)"""
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and (
                    int(fields[3], 16) & 0x10000 or fields[5] == "03"):
                return True
    return False


def has_memfd(pid):
    """True once PID holds a memfd (the cpr state brought guest RAM)."""
    try:
        return any(t.startswith("/memfd:") for t in proc_fds(pid).values())
    except OSError:
        return False


@unittest.skipUnless(kvm_usable(), "/dev/kvm is not usable")
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

    def quiet_for(self, secs):
        """True if the serial client received nothing for SECS."""
        with self.g.serial._cond:
            last = self.g.serial.chunks[-1][0]
        return time.monotonic() - last >= secs

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

    def freeze_new(self, attempts, trigger, label, give_up):
        """Start an update, call TRIGGER(new, main_path), then SIGSTOP the
        new process. Returns it, frozen before the old process handed the
        guest over; if the update won the race, let it finish and retry
        (the new process then runs the guest), up to ATTEMPTS times."""
        g = self.g
        for attempt in range(attempts):
            new, main_path, cpr_path = self.start()
            g.qmp.clear_events()
            self.migrate(main_path, cpr_path)
            trigger(new, main_path)
            os.kill(new.pid, signal.SIGSTOP)
            if not handed_over(g.pid):
                return new
            os.kill(new.pid, signal.SIGCONT)
            wait_runstate(g.qmp, "running")
            g.retired.remove(new)
            g.vm.proc.terminate()
            g.vm.wait()
            g.retired.append(g.vm)
            g.vm = new
            print("\n  %s attempt %d: the update won the race"
                  % (label, attempt))
        self.skipTest(give_up)

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
        new, main_path, cpr_path = self.start()
        self.migrate(main_path, cpr_path)
        wait_for(lambda: has_memfd(new.pid) or new.proc.poll() is not None,
                 interval=0.0005, what="cpr state in the new process")
        os.kill(new.pid, signal.SIGSTOP)    # freeze it right there
        self.assertFalse(handed_over(self.g.pid), "froze it too late")
        listening = unix_listening(main_path)
        status = self.g.qmp.cmd("query-status")["status"]
        self.kill(new)
        print("\n  (b) killed with the main channel %s; old %s"
              % ("listening" if listening else "not yet listening", status))
        self.check_rolled_back("(b)")

    def test_c_waiting_for_main(self):
        g = self.g
        new, main_path, cpr_path = self.start(main="defer")
        self.migrate(main_path, cpr_path)
        wait_for(lambda: has_memfd(new.pid), what="cpr state")
        time.sleep(0.3)
        # The old side waits for a main channel that never comes, and the
        # guest runs meanwhile.
        info = g.qmp.cmd("query-migrate")
        self.assertIn(info.get("status"), ("setup", "active"), info)
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        seq = g.check(memory=False)
        self.kill(new)
        self.check_rolled_back("(c) at seq %d" % seq)

    def test_d_before_go(self):
        g = self.g

        def main_listening(new, main_path):
            wait_for(lambda: unix_listening_or_accepted(main_path)
                     or new.proc.poll() is not None,
                     interval=0.0002, what="main channel")
        new = self.freeze_new(3, main_listening, "(d)",
                              "could not freeze the new process before GO")
        # The old process stops the guest, sends the device state and
        # waits for READY, which cannot come. Its monitor does not answer
        # during the switchover (commands wait until it ends), so watch the
        # STOP event and the serial line going quiet instead.
        g.qmp.get_event("STOP", timeout=10)
        wait_for(lambda: self.quiet_for(0.3), timeout=10,
                 what="the guest to stop printing")
        print("\n  (d) old stopped the guest and waits for READY; serial "
              "quiet")
        self.kill(new)
        self.check_rolled_back("(d)")

    def test_e_at_stop(self):
        """Freeze the new process the moment the old one reports STOP:
        it is then accepting, loading, or done loading (READY sent)
        while the old waits for READY or is about to send GO. Timing
        decides which; a freeze after the hand-over is detected and
        retried."""
        new = self.freeze_new(
            5, lambda new, main_path: self.g.qmp.get_event("STOP", timeout=20),
            "(e)", "the update always finished before the freeze")
        self.kill(new)
        self.check_rolled_back("(e)")

    def stop_at(self, point):
        """The new process stops itself at POINT (BATON_FAULT_INJECT,
        include/util/fault-inject.h); kill it there."""
        new, main_path, cpr_path = self.start(
            env={"BATON_FAULT_INJECT": point})
        self.g.qmp.clear_events()
        self.migrate(main_path, cpr_path)

        def stopped():
            with open("/proc/%d/stat" % new.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"
        wait_for(stopped, timeout=20, what="the new process at " + point)
        self.assertFalse(handed_over(self.g.pid))
        self.kill(new)
        self.check_rolled_back(point)

    def test_f_loaded(self):
        """Killed with the whole state loaded, before READY."""
        self.stop_at("incoming-loaded")

    def test_g_ready(self):
        """Killed after READY, before GO arrives."""
        self.stop_at("incoming-ready")


if __name__ == "__main__":
    unittest.main()
