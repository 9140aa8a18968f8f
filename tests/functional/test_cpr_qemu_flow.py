# SPDX-License-Identifier: GPL-2.0-or-later
"""cpr-transfer done as QEMU documents it (docs/devel/migration/CPR.rst):
the new process gets the old arguments plus -incoming and its OWN monitor
(-qmp unix:NEW); the tool waits for "completed" on the old monitor and
quits the old process through it. The new process inherits only the
chardevs and monitors configured there as in the old one; the old one
keeps answering its own (postmigrate, completed) and quitting it never
touches the guest.

Without KVM (qtest machine): two monitors, one moved to a new path and
one kept (mixed); a monitor or a serial socket whose options differ on
the same path (refused, the old guest runs on); cpr-exec into a new
-qmp path; migrate_cancel while the old process waits for the new one
to say what it takes over. Under KVM, with the dirty guest: the literal
QEMU flow with the serial socket inherited and the monitor not, and a
serial chardev whose path changes (-incoming defer, then
migrate-incoming on the new process's own monitor); the old monitor
answering while the old process's VM fd close is held (a paused KVM
VM: no guest code needed). The file exits 77
after the qtest tests pass if KVM is not usable."""

import os
import re
import signal
import time
import unittest

import baton_test
from baton_test import (CprGuest, QmpClient, QmpError, QtestClient,
                        SerialClient,
                        Vm, cpr_channels, cpr_incoming_args,
                        dirty_check_memory, dirty_check_serial,
                        memfd_ram_args,
                        seq_numbers, unix_listening, wait_for,
                        wait_migration, wait_runstate)

BASE = ["-nodefaults", "-display", "none"]
KVM = BASE + ["-accel", "kvm", "-smp", "1"]


def server(path):
    return "unix:%s,server=on,wait=off" % path


def replaced(argv, old, new):
    """ARGV with the one element OLD replaced by NEW."""
    assert argv.count(old) == 1, (old, argv)
    return [new if a == old else a for a in argv]


def wait_migration_event(qmp, status, timeout=30.0):
    """The MIGRATION event with STATUS (the events capability is on)."""
    deadline = time.monotonic() + timeout
    while True:
        ev = qmp.get_event("MIGRATION",
                           timeout=max(deadline - time.monotonic(), 0.01))
        got = ev["data"]["status"]
        if got == status:
            return ev
        if got in ("failed", "cancelled", "completed"):
            raise AssertionError("migration ended %s, not %s" % (got,
                                                                 status))


def migrate_cpr(qmp, main, cpr):
    """QEMU's outgoing steps, events on."""
    qmp.cmd("migrate-set-capabilities",
            capabilities=[{"capability": "events", "state": True}])
    qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
    qmp.cmd("migrate", channels=cpr_channels(main, cpr))


class Base(baton_test.VmTestCase):

    def client(self, cls, path, *args):
        c = cls(path, *args)
        self.addCleanup(c.close)
        return c


class Qtest(Base):
    """No guest code: a qtest machine with memfd RAM."""

    ARGS = BASE + ["-accel", "qtest", "-serial", "null"] + \
        memfd_ram_args("64M")

    def start_old(self, name, extra=()):
        vm = Vm(self.ARGS + list(extra), name=name)
        vm.qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", server(vm.qtest_path)]
        self.launch(vm)
        return vm

    def start_new(self, old, argv, name):
        main, cpr = old.path("main.sock"), old.path("cpr.sock")
        new = self.launch(Vm(argv[1:] + cpr_incoming_args(main, cpr),
                             qmp=False, name=name))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket of %s" % name)
        return new, main, cpr

    def test_mixed_monitors(self):
        """-qmp OLD moves to -qmp NEW (not inherited: the old process
        keeps it); -qmp KEEP and -qtest stay (inherited, their clients
        stay connected and the new process answers them)."""
        keep_path = os.path.join(baton_test.tmpdir(), "mixed-keep.sock")
        old = self.start_old("mixed", ["-qmp", server(keep_path)])
        keep = self.client(QmpClient, keep_path)
        keep.negotiate()
        qt = self.client(QtestClient, old.qtest_path)
        qt.write(0x100000, b"guest memory")
        new_path = old.path("new-qmp.sock")
        argv = replaced(old.command(), server(old.qmp_path),
                        server(new_path))
        new, main, cpr = self.start_new(old, argv, "mixed-new")
        # QEMU: the new process opens its monitor after the cpr state.
        self.assertFalse(os.path.exists(new_path))

        migrate_cpr(old.qmp, main, cpr)
        wait_migration_event(old.qmp, "completed")
        self.assertEqual(old.qmp.cmd("query-migrate")["status"],
                         "completed")
        self.assertEqual(old.qmp.cmd("query-status")["status"],
                         "postmigrate")
        nq = self.client(QmpClient, new_path)
        nq.negotiate()
        # (The old side completes once the new one commits to resume.)
        wait_runstate(nq, "running")
        # The kept connections: same sockets, now the new process.
        wait_runstate(keep, "running")
        self.assertEqual(qt.read(0x100000, 12), b"guest memory")

        old.qmp.cmd("quit")
        self.assertEqual(old.wait(), 0)
        self.assertEqual(nq.cmd("query-status")["status"], "running")
        self.assertEqual(keep.cmd("query-status")["status"], "running")
        # The old process wrote nothing on what it had handed over (its
        # SHUTDOWN would be queued before that reply).
        self.assertNotIn("SHUTDOWN", [e["event"] for e in keep.events])
        self.assertEqual(qt.read(0x100000, 12), b"guest memory")
        # Quitting did not remove what the new process serves.
        self.assertTrue(unix_listening(keep_path))
        self.assertTrue(unix_listening(old.qtest_path))
        self.assertTrue(unix_listening(new_path))

    def test_monitor_options_differ(self):
        """The same QMP socket with pretty=on in the new process: the
        monitor is not the same, and the socket cannot be both the old
        process's and a new one. The new process says so and exits; the
        old one runs on, and a later update works."""
        old = self.start_old("pretty")
        argv = replaced(old.command(), "-qmp", "-qmp-pretty")
        new, main, cpr = self.start_new(old, argv, "pretty-new")
        migrate_cpr(old.qmp, main, cpr)
        info = wait_migration(old.qmp, until=("failed",))
        self.assertEqual(new.wait(), 1)
        err = new.stderr_text()
        print("\n  new: %s\n  old: %s" % (err.strip(),
                                          info.get("error-desc")))
        self.assertIn("compat_monitor0", err)
        self.assertIn("'frontend monitor,mode=control'", err)
        self.assertIn("'frontend monitor,mode=control,pretty=on'", err)
        self.assertRegex(info.get("error-desc", ""), "new process closed")
        self.assertEqual(old.qmp.cmd("query-status")["status"], "running")

        new, main, cpr = self.start_new(old, old.command(), "pretty-new2")
        old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(old.qmp)
        # baton's way: the same connection now talks to the new process.
        wait_runstate(old.qmp, "running")

    def test_other_options_same_path(self):
        """A serial socket with other options on the path the old process
        serves: not inherited, and not to be taken from the old process
        (unlink and bind would cut its clients off). The new process
        names both and exits; the old one keeps the path and the guest."""
        ser_path = os.path.join(baton_test.tmpdir(), "opts-serial.sock")
        ser = "socket,id=ser0,path=%s,server=on,wait=off" % ser_path
        old = self.start_old("opts", ["-chardev", ser, "-serial",
                                      "chardev:ser0"])
        argv = replaced(old.command(), server(old.qmp_path),
                        server(old.path("new-qmp.sock")))
        argv = replaced(argv, ser, ser + ",nodelay=on")
        new, main, cpr = self.start_new(old, argv, "opts-new")
        migrate_cpr(old.qmp, main, cpr)
        wait_migration(old.qmp, until=("failed",))
        self.assertEqual(new.wait(), 1)
        err = new.stderr_text()
        print("\n  new: %s" % err.strip())
        self.assertIn("chardev 'ser0' differs from the old process's", err)
        self.assertIn("nodelay=on", err)
        self.assertIn("which the old process still serves", err)
        self.assertEqual(old.qmp.cmd("query-status")["status"], "running")
        self.assertTrue(unix_listening(ser_path))

    def test_exec_new_monitor_path(self):
        """cpr-exec into a command line whose -qmp names another path: the
        new image opens that one and closes the old one's socket, so the
        client of the old path sees EOF (nothing else holds it now); the
        qtest socket, configured the same, carries on."""
        old = self.start_old("xqmp")
        qt = self.client(QtestClient, old.qtest_path)
        qt.write(0x200000, b"across exec")
        new_path = old.path("new-qmp.sock")
        state = old.path("state")
        argv = replaced(old.command(), server(old.qmp_path),
                        server(new_path)) + ["-incoming", "file:" + state]
        old.qmp.cmd("migrate-set-parameters",
                    {"mode": "cpr-exec", "cpr-exec-command": argv})
        old.qmp.cmd("migrate", uri="file:" + state)
        wait_for(lambda: unix_listening(new_path) or old._died(),
                 what="the new image's monitor")
        # Declined before that socket was made: nobody holds the old one.
        with self.assertRaises(ConnectionError):
            old.qmp.cmd("query-status")
        nq = self.client(QmpClient, new_path)
        nq.negotiate()
        wait_runstate(nq, "running")
        self.assertEqual(old.proc.poll(), None)     # the same process
        self.assertEqual(qt.read(0x200000, 11), b"across exec")
        self.assertFalse(unix_listening(old.qmp_path))

    def test_cancel_before_answer(self):
        """migrate_cancel while the old process waits for the new one to
        say which chardevs it takes (the new one is stopped before
        `migrate`, so it cannot answer): cancelled at once, the guest
        runs on, the new process gives up once it runs again."""
        old = self.start_old("cancel")
        new, main, cpr = self.start_new(old, replaced(
            old.command(), server(old.qmp_path),
            server(old.path("new-qmp.sock"))), "cancel-new")
        os.kill(new.pid, signal.SIGSTOP)
        self.addCleanup(new.proc.send_signal, signal.SIGCONT)
        migrate_cpr(old.qmp, main, cpr)
        old.qmp.cmd("migrate_cancel")
        wait_migration_event(old.qmp, "cancelled")
        self.assertEqual(old.qmp.cmd("query-status")["status"], "running")
        os.kill(new.pid, signal.SIGCONT)
        self.assertEqual(new.wait(), 1)
        print("\n  new: %s" % new.stderr_text().strip())


@baton_test.needs_kvm
class Guest(Base):
    """The dirty guest (serial sequence "seq N") under QEMU's flow."""

    def guest(self, name):
        g = CprGuest(KVM + memfd_ram_args("256M"), name=name)
        self.addCleanup(self.reap_guest, g)
        g.check(memory=False)
        return g

    def reap_guest(self, g):
        for vm in [g.vm] + g.retired:
            self.reap(vm)
        g.qmp.close()
        g.serial.close()

    def adopt(self, g, new, qmp):
        """The guest runs in NEW, served by QMP from now on."""
        g.retired.append(g.vm)
        g.vm = new
        g.qmp.close()
        g.qmp = qmp

    def test_qemu_flow(self):
        """New -qmp path, "completed" on the old monitor, "quit" through
        it. The serial socket (same path) is inherited: its client sees
        one sequence with no gap and no disconnect."""
        g = self.guest("qflow")
        old = g.qmp
        new_path = g.vm.path("new-qmp.sock")
        argv = replaced(g.argv, server(g.vm.qmp_path), server(new_path))
        main, cpr = g.paths()
        new = g.start_new(cpr_incoming_args(main, cpr), argv=argv,
                          name="qflow-new")
        g.wait_listening(new, cpr)
        mark = len(g.serial.data)
        migrate_cpr(old, main, cpr)
        wait_migration_event(old, "completed")
        self.assertEqual(old.cmd("query-migrate")["status"], "completed")
        self.assertEqual(old.cmd("query-status")["status"], "postmigrate")
        # The guest is the new process's: the old one refuses to run it.
        with self.assertRaises(QmpError) as cm:
            old.cmd("cont")
        self.assertIn("cpr-transfer", str(cm.exception))
        nq = self.client(QmpClient, new_path)
        nq.negotiate()
        wait_runstate(nq, "running")
        # The guest goes on in the new process, on the same serial client.
        last = g.check(memory=False)
        print("\n  serial: seq %d when migrate ran, seq %d now"
              % (dirty_check_serial(g.serial.data[:mark]), last))

        old.cmd("quit")
        self.assertEqual(g.vm.wait(), 0)
        self.adopt(g, new, nq)
        # Quitting the old process did not touch the guest: memory and
        # serial go on, the client is still connected.
        g.check(memory=True)
        self.assertTrue(unix_listening(g.retired[-1].serial_path))

    def test_changed_serial_path(self):
        """The serial chardev gets another path (and the monitor too): the
        new process opens its own, the old one serves its client until
        it quits. Clients of both paths, attached before the switch (the
        new one with -incoming defer), see one sequence between them."""
        g = self.guest("qpath")
        old = g.qmp
        new_qmp = g.vm.path("new-qmp.sock")
        new_ser = g.vm.path("new-serial.sock")
        argv = replaced(g.argv, server(g.vm.qmp_path), server(new_qmp))
        argv = replaced(argv, "socket,id=ser0,path=%s,server=on,wait=off"
                        % g.vm.serial_path,
                        "socket,id=ser0,path=%s,server=on,wait=off"
                        % new_ser)
        main, cpr = g.paths()
        new = g.start_new(cpr_incoming_args("defer", cpr), argv=argv,
                          name="qpath-new")
        g.wait_listening(new, cpr)
        migrate_cpr(old, main, cpr)
        # QEMU's example 2: the new process's own monitor, before the
        # main channel exists.
        wait_for(lambda: (unix_listening(new_qmp) and
                          unix_listening(new_ser)) or new._died(),
                 what="the new process's sockets")
        nq = self.client(QmpClient, new_qmp)
        nq.negotiate()
        self.assertEqual(nq.cmd("query-status")["status"], "inmigrate")
        ser2 = self.client(SerialClient, new_ser)
        self.assertEqual(old.cmd("query-status")["status"], "running")
        nq.cmd("migrate-incoming", uri="unix:" + main)
        wait_runstate(nq, "running", timeout=30)
        wait_migration_event(old, "completed")
        self.assertEqual(old.cmd("query-status")["status"], "postmigrate")
        ser2.read_until(re.compile(rb"seq \d+\n"), timeout=20, start=0)
        last = seq_numbers(ser2.data)[-1]
        ser2.read_until(b"seq %d\n" % (last + 3), timeout=20)
        # The old process still serves its client: no EOF until it quits.
        self.assertFalse(g.serial.eof)

        old.cmd("quit")
        self.assertEqual(g.vm.wait(), 0)
        wait_for(lambda: g.serial.eof, what="EOF on the old serial path")
        before, after = bytes(g.serial.data), bytes(ser2.data)
        print("\n  old path: %d bytes, up to seq %d; new path: %d bytes, "
              "from %r" % (len(before), dirty_check_serial(before),
                           len(after), after[:12]))
        # One sequence: the new path starts where the old one stopped.
        dirty_check_serial(before + after)
        # The guest's memory is consistent, and it goes on.
        self.adopt(g, new, nq)
        nq.cmd("stop")
        dirty_check_memory(nq, g.start, g.pages)
        nq.cmd("cont")
        last = seq_numbers(ser2.data)[-1]
        ser2.read_until(b"seq %d\n" % (last + 3), timeout=20)
        dirty_check_serial(before + bytes(ser2.data))


def vm_fds(pid):
    """The KVM VM fds PID holds."""
    return [fd for fd, t in baton_test.proc_fds(pid).items()
            if t == "anon_inode:kvm-vm"]


@baton_test.needs_kvm
class Release(Base):
    """A KVM VM (paused: no guest code needed) whose old process
    releases its VM after the update."""

    def test_monitor_answers_during_vm_close(self):
        """The old process releases its VM after a cpr-transfer, and the
        kernel's teardown of it (the last close of the VM fd) can take
        seconds on a loaded host. The close is held there
        (kvm-vm-close:hold, include/util/fault-inject.h) with the VM fd
        still open: the old monitor answers meanwhile (postmigrate,
        completed), the close then ends, and quit exits 0."""
        fifo = os.path.join(baton_test.tmpdir(), "vm-close.fifo")
        os.mkfifo(fifo)
        old = Vm(KVM + memfd_ram_args("64M") + ["-S"], name="vmclose")
        old.extra_env = {"BATON_FAULT_INJECT": "kvm-vm-close:hold",
                         "BATON_FAULT_HOLD": fifo}
        self.launch(old)
        self.assertEqual(len(vm_fds(old.pid)), 1)
        argv = replaced(old.command(), server(old.qmp_path),
                        server(old.path("new-qmp.sock")))
        main, cpr = old.path("main.sock"), old.path("cpr.sock")
        new = self.launch(Vm(argv[1:] + cpr_incoming_args(main, cpr),
                             qmp=False, name="vmclose-new"))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        migrate_cpr(old.qmp, main, cpr)
        wait_migration_event(old.qmp, "completed")
        wait_for(lambda: "fault injection: holding at 'kvm-vm-close'"
                 in old.stderr_text(), what="the held VM fd close")
        # Held: the VM fd is open, and the monitor answers.
        self.assertEqual(len(vm_fds(old.pid)), 1)
        self.assertEqual(old.qmp.cmd("query-status")["status"],
                         "postmigrate")
        self.assertEqual(old.qmp.cmd("query-migrate")["status"],
                         "completed")
        self.assertEqual(len(vm_fds(old.pid)), 1)
        # Let the close go on: the VM fd goes, the process quits cleanly.
        with open(fifo, "w"):
            pass
        wait_for(lambda: not vm_fds(old.pid), what="the VM fd's close")
        self.assertIn("fault injection: released at 'kvm-vm-close'",
                      old.stderr_text())
        old.qmp.cmd("quit")
        self.assertEqual(old.wait(), 0)


if __name__ == "__main__":
    baton_test.main()
