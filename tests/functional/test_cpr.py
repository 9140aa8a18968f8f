# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update (CPR). Under KVM, the dirty guest (tests/guest/dirty) with
memfd RAM (and once with aux-ram-share=on) is updated 10 times in a row
with cpr-transfer and 3 times with cpr-exec while one QMP and one serial
client stay connected: after each update its pages are consistent, the
serial sequence has no lost or duplicated line, the client saw no
disconnect, and the fd count and RSS of the process do not build up.
Blockers and errors (private RAM, missing or TCP cpr channel, different
machine arguments, cpr-exec without a command) leave the old guest
running; cpr-reboot saves to file: and resumes in a new process; and
scripts/baton-update does a whole update (and rolls one back). Without
KVM: the argv and socket helpers of baton-update, and a qtest machine
through cpr-transfer and cpr-exec."""

import importlib.machinery
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import unittest

import baton_test
from baton_test import (CprGuest, QmpError, QtestClient, Vm,
                        cpr_channels, cpr_incoming_args, dirty_check_memory,
                        dirty_check_serial, free_tcp_port, needs_kvm,
                        memfd_ram_args, proc_fds, proc_image_id,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)

BASE = ["-nodefaults", "-display", "none"]
KVM = BASE + ["-accel", "kvm", "-smp", "1"]
MEMFD = memfd_ram_args("256M")
MiB = 1 << 20
NO_CPR_CHANNEL = r"(?i)'?cpr'? (migration )?channel"
NOT_UNIX = r"(?i)'?cpr'? (migration )?channel.*unix|unix.*cpr"
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "scripts", "baton-update")


def load_baton_update():
    """scripts/baton-update as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("baton_update", SCRIPT)
    spec = importlib.util.spec_from_loader("baton_update", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def fmt_fig(fig):
    phases = fig.get("phases")
    return ("pid %d: gap %.1f ms, STOP->RESUME %s ms, downtime %s ms%s"
            % (fig["pid"], fig["gap"],
               "%.2f" % fig["stop-resume"] if fig["stop-resume"] is not None
               else "?", fig["downtime"],
               ", phases %s" % phases if phases else ""))


class Base(unittest.TestCase):

    def guest(self, args, name, **kwargs):
        g = CprGuest(args, name=name, **kwargs)
        self.addCleanup(self.reap_guest, g)
        return g

    def reap_guest(self, g):
        """Kill every process of G; show stderr of the odd ones."""
        for vm in [g.vm] + g.retired:
            status = vm.proc.poll()
            vm.kill()
            try:
                err = vm.stderr_text().strip()
            except OSError:
                err = ""
            if err or status not in (None, 0):
                print("\n[%s pid %d: %s; stderr: %s]" % (
                    vm.name, vm.pid, "running" if status is None
                    else "exit status %d" % status, err or "(empty)"))
        g.qmp.close()
        g.serial.close()

    def launch(self, vm):
        try:
            vm.launch()
        except Exception:
            vm.kill()
            raise
        self.addCleanup(vm.kill)
        return vm

    def assert_running_on(self, g, lines=3):
        """G's guest runs (query-status) and its serial sequence goes on."""
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        g.check(lines=lines, memory=False)

    def assert_error(self, fn, pattern):
        with self.assertRaises(QmpError) as cm:
            fn()
        self.assertEqual(cm.exception.cls, "GenericError", cm.exception.desc)
        self.assertRegex(cm.exception.desc, pattern)
        print("  error: %s" % cm.exception.desc)
        return cm.exception.desc


@needs_kvm
class Updates(Base):
    """Series of updates of one guest, clients connected throughout."""

    def series(self, g, modes):
        """Run the updates in MODES; check after each; returns the
        (fd count, RSS) before and after every update."""
        g.check()
        res = [g.resources()]
        print("\n  start: pid %d, %d fds, RSS %.1f MiB"
              % (g.pid, res[0][0], res[0][1] / MiB))
        for i, mode in enumerate(modes):
            fig = g.transfer() if mode == "transfer" else g.exec_update()
            g.check()
            res.append(g.resources())
            print("  %2d %-12s %s; %d fds, RSS %.1f MiB"
                  % (i + 1, fig["mode"], fmt_fig(fig), res[-1][0],
                     res[-1][1] / MiB), flush=True)
            self.assertIsNotNone(fig["downtime"], fig["info"])
            self.assertFalse(g.serial.eof)
        return res

    def check_no_buildup(self, res):
        fds = [r[0] for r in res]
        # The first update may shed start-up fds; none may grow after it.
        for i, n in enumerate(fds[2:], 2):
            self.assertLessEqual(n, fds[1], "fd count grew at update %d: "
                                 "%r" % (i, fds))
        rss = [r[1] for r in res[1:]]
        growth = max(rss) - min(rss)
        print("  fds %r; RSS growth %.1f MiB over %d updates"
              % (fds, growth / MiB, len(res) - 1))
        self.assertLess(growth, 16 * MiB, "RSS %r" % rss)

    def test_transfer_10(self):
        """10 cpr-transfers in a row, each to a new process, memfd RAM."""
        g = self.guest(KVM + MEMFD, "xfer")
        pids = [g.pid]
        res = self.series(g, ["transfer"] * 10)
        pids += [f["pid"] for f in g.updates]
        self.assertEqual(len(set(pids)), 11, pids)
        for vm in g.retired:            # every old process quit cleanly
            self.assertEqual(vm.proc.returncode, 0, vm.name)
        self.check_no_buildup(res)

    def test_exec_3(self):
        """3 cpr-execs: the same PID runs a new image each time."""
        g = self.guest(KVM + MEMFD, "exec")
        pid = g.pid
        res = self.series(g, ["exec"] * 3)
        self.assertEqual({f["pid"] for f in g.updates}, {pid})
        self.assertEqual(g.vm.proc.poll(), None)
        self.check_no_buildup(res)

    def test_pidfile(self):
        """-pidfile names the process that runs the guest: the new one
        after cpr-transfer (the old one must not remove it as it quits),
        the same one after cpr-exec."""
        pidfile = os.path.join(baton_test.tmpdir(), "cpr.pid")
        g = self.guest(KVM + MEMFD + ["-pidfile", pidfile], "pidf")

        def content():
            try:
                with open(pidfile) as f:
                    return f.read().strip()
            except FileNotFoundError:
                return "(pid file removed)"
        self.assertEqual(content(), str(g.pid))
        g.transfer()
        self.assertEqual(content(), str(g.pid), "after cpr-transfer (the "
                         "old process must not remove the new one's pid "
                         "file as it quits)")
        g.exec_update()
        self.assertEqual(content(), str(g.pid), "after cpr-exec")
        g.check()

    def test_events_across_updates(self):
        """With the events capability on, the QMP client kept across a
        live update sees a MIGRATION event for every state of it: setup
        and active from the old process, completed (and RESUME) from the
        new one, which inherits the capability."""
        g = self.guest(KVM + MEMFD, "evts")
        for update in (g.transfer, g.exec_update):
            g.qmp.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "events", "state": True}])
            mark = g.mark()
            update()
            g.qmp.cmd("query-status")       # collect what was sent so far
            seen = [e["event"] if e["event"] != "MIGRATION"
                    else "MIGRATION:" + e["data"]["status"]
                    for e in g.qmp.events[mark["events"]:]]
            self.assertEqual([e for e in seen if e.startswith("MIGRATION:")],
                             ["MIGRATION:setup", "MIGRATION:active",
                              "MIGRATION:completed"], seen)
            self.assertLess(seen.index("STOP"),
                            seen.index("MIGRATION:completed"), seen)
            self.assertIn("RESUME", seen)
            caps = {c["capability"]: c["state"] for c in
                    g.qmp.cmd("query-migrate-capabilities")}
            self.assertTrue(caps["events"])
            g.check()

    def test_aux_ram_share(self):
        """Machine RAM without a backend, shared by aux-ram-share=on."""
        g = self.guest(KVM + ["-machine", "pc,aux-ram-share=on",
                              "-m", "256M"], "aux")
        res = self.series(g, ["transfer", "transfer", "exec"])
        self.check_no_buildup(res)


class FdVm(Vm):
    """A Vm that inherits descriptors PASS_FDS and has no clients."""

    def __init__(self, args, pass_fds, **kwargs):
        super().__init__(args, qmp=False, **kwargs)
        self.pass_fds = pass_fds

    def launch(self, negotiate=True, timeout=None):
        out = open(self.path("stdout"), "wb")
        err = open(self.path("stderr"), "wb")
        self._files = [out, err]
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err,
                                     pass_fds=self.pass_fds)
        baton_test._live_vms.append(self)
        return self


@needs_kvm
class Channels(Base):
    """The new process's channels in other forms."""

    def test_json_and_inherited_fd(self):
        """-incoming in JSON; the cpr channel an inherited listening
        socket (addr.type=fd) that the old process reaches by path."""
        g = self.guest(KVM + MEMFD, "fdchan")
        g.check()
        main, cpr = g.paths()
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(lsock.close)
        lsock.bind(cpr)
        lsock.listen(1)
        fd = lsock.fileno()
        chans = [{"channel-type": "main",
                  "addr": {"transport": "socket", "type": "unix",
                           "path": main}},
                 {"channel-type": "cpr",
                  "addr": {"transport": "socket", "type": "fd",
                           "str": str(fd)}}]
        new = FdVm(g.argv[1:] + sum((["-incoming", json.dumps(c)]
                                     for c in chans), []),
                   pass_fds=(fd,), binary=g.argv[0], name="fdchan-new")
        new.launch()
        mark = g.mark()
        g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        g.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        fig = g.finish_transfer(new, mark)
        lsock.close()
        g.check()
        print("\n  " + fmt_fig(fig))
        self.assertEqual(g.pid, new.pid)


@needs_kvm
class Blockers(Base):
    """Errors leave the old guest running; a later update works. (Every
    object type baton has supports every live update mode, so the
    per-type blocker, a type without the mode, is tested with test types
    in tests/unit/test-cpr.c, /migration/cpr/blockers/*, down to QMP
    migrate.)"""

    def test_private_ram(self):
        g = self.guest(KVM + ["-machine", "pc", "-m", "256M"], "priv")
        main, cpr = g.paths()
        g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", channels=cpr_channels(main, cpr)), r"(?i)\bram\b|ram")
        self.assert_running_on(g)

    def test_private_backend(self):
        g = self.guest(KVM + ["-object", "memory-backend-ram,id=pram0,"
                              "size=256M", "-machine",
                              "pc,memory-backend=pram0", "-m", "256M"],
                       "privb")
        main, cpr = g.paths()
        g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", channels=cpr_channels(main, cpr)), "pram0")
        self.assert_running_on(g)

    def test_channels_and_args(self):
        """Missing and TCP cpr channels, cpr-exec without a command, a new
        process with other machine arguments; then an update works."""
        g = self.guest(KVM + MEMFD, "chan")
        main, cpr = g.paths()
        g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", channels=cpr_channels(main, None)), NO_CPR_CHANNEL)
        self.assert_error(lambda: g.qmp.cmd("migrate", uri="unix:" + main),
                          NO_CPR_CHANNEL)
        tcp = {"transport": "socket", "type": "inet", "host": "127.0.0.1",
               "port": str(free_tcp_port())}
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", channels=cpr_channels(main, tcp)), NOT_UNIX)
        self.assert_running_on(g)

        g.qmp.cmd("migrate-set-parameters", mode="cpr-exec")
        self.assertEqual(g.qmp.cmd("query-migrate-parameters")
                         .get("cpr-exec-command", []), [])
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", uri="file:" + g.vm.path("noexec")),
            "cpr-exec-command")
        self.assert_running_on(g)

        for old, new, what in ((MEMFD, memfd_ram_args("512M"),
                                r"(?i)ram0|size|512|256"),
                               (["-smp", "1"], ["-smp", "2"], r"(?i)cpu")):
            self.different_args(g, old, new, what)
        g.qmp.cmd("migrate-set-parameters", mode="normal")
        g.transfer()
        g.check()

    def different_args(self, g, old, new, what):
        """A new process whose machine differs (OLD args -> NEW): the
        update fails naming WHAT, the new one exits, the old runs on."""
        argv = list(g.argv)
        i = next(i for i in range(len(argv))
                 if argv[i:i + len(old)] == list(old))
        argv[i:i + len(old)] = new
        new_vm, mark = g.begin_transfer(argv=argv, new_name="%s-diff%d"
                                        % (g.name, g.count))
        self.addCleanup(new_vm.kill)
        info = wait_migration(g.qmp, until=("failed",), timeout=30)
        wait_runstate(g.qmp, "running")
        try:
            status = new_vm.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("new process with %s instead of %s still runs"
                      % (new, old))
        err = new_vm.stderr_text()
        print("  %s: new exited %d: %s; old: %s"
              % (" ".join(new), status, err.strip().splitlines()[-1:],
                 info.get("error-desc")))
        self.assertNotEqual(status, 0)
        self.assertTrue(info.get("error-desc"), info)
        self.assertRegex(err + info.get("error-desc", ""), what)
        g.check()

    def test_shared_anonymous_backend(self):
        """An object that cannot be preserved (its cpr_check refuses):
        shared anonymous RAM has no fd to hand over."""
        g = self.guest(KVM + ["-object", "memory-backend-ram,id=sram0,"
                              "size=256M,share=on", "-machine",
                              "pc,memory-backend=sram0", "-m", "256M"],
                       "sanon")
        main, cpr = g.paths()
        g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", channels=cpr_channels(main, cpr)), "sram0")
        g.qmp.cmd("migrate-set-parameters", {
            "mode": "cpr-exec", "cpr-exec-command": [baton_test.BATON]})
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", uri="file:" + g.vm.path("sanon.state")), "sram0")
        self.assert_running_on(g)

    def test_exec_fails(self):
        """cpr-exec of a command that passes the up-front checks but
        cannot be exec()d (missing interpreter): the migration fails, the
        old image resumes the guest, no fd is left behind; a command
        that is not executable fails up front."""
        g = self.guest(KVM + MEMFD, "execfail")
        g.check()
        bad = os.path.join(baton_test.tmpdir(), "no-interpreter")
        with open(bad, "w") as f:
            f.write("#!/nonexistent/interpreter\n")
        os.chmod(bad, 0o755)
        fds = []
        for attempt in range(2):
            g.qmp.cmd("migrate-set-parameters",
                      {"mode": "cpr-exec", "cpr-exec-command": [bad]})
            g.qmp.cmd("migrate", uri="file:" + g.vm.path("execfail.state"))
            info = wait_migration(g.qmp, until=("failed",), timeout=20)
            self.assertRegex(info.get("error-desc", ""), "no-interpreter")
            wait_runstate(g.qmp, "running")
            g.check()
            fds.append(proc_fds(g.pid))
        print("\n  exec failure: %s" % info.get("error-desc"))
        # (The first migration may create descriptors it keeps for the
        # next; a failed exec must not leave any behind.)
        self.assertEqual(fds[1], fds[0], "fds after a second failed exec")
        os.chmod(bad, 0o644)
        g.qmp.cmd("migrate-set-parameters",
                  {"mode": "cpr-exec", "cpr-exec-command": [bad]})
        self.assert_error(lambda: g.qmp.cmd(
            "migrate", uri="file:" + g.vm.path("execfail.state")),
            "no-interpreter")
        self.assert_running_on(g)
        g.exec_update()
        g.check()

    def test_cpr_reboot(self):
        """cpr-reboot: file-backed shared RAM stays in place (x-ignore-
        shared), the state goes to file:, the old process quits, a new
        one (-incoming defer) resumes the guest. Serial is a new
        connection to a new socket."""
        mem = os.path.join(baton_test.tmpdir(), "reboot-ram")
        args = KVM + ["-object", "memory-backend-file,id=ram0,size=256M,"
                      "mem-path=%s,share=on" % mem,
                      "-machine", "pc,memory-backend=ram0", "-m", "256M"]
        g = self.guest(args, "reboot")
        g.check()
        caps = [{"capability": "x-ignore-shared", "state": True}]
        state = g.vm.path("reboot.state")
        g.qmp.cmd("migrate-set-parameters", mode="cpr-reboot")
        g.qmp.cmd("migrate-set-capabilities", capabilities=caps)
        g.qmp.cmd("migrate", uri="file:" + state)
        wait_migration(g.qmp, timeout=30)
        wait_runstate(g.qmp, "postmigrate")
        size = os.path.getsize(state)
        print("\n  cpr-reboot state: %d bytes" % size)
        self.assertLess(size, 16 * MiB, "guest RAM went to the file")
        g.qmp.cmd("quit")
        self.assertEqual(g.vm.wait(), 0)
        # Its exit closed the serial socket: all it printed has arrived.
        before = g.serial.wait_eof()

        new = self.launch(Vm(g.args + ["-incoming", "defer"],
                             serial_socket=True, name="reboot-new"))
        self.assertEqual(new.qmp.cmd("query-status")["status"], "inmigrate")
        new.qmp.cmd("migrate-set-parameters", mode="cpr-reboot")
        new.qmp.cmd("migrate-set-capabilities", capabilities=caps)
        new.qmp.cmd("migrate-incoming", uri="file:" + state)
        wait_runstate(new.qmp, "running", timeout=30)
        last = dirty_check_serial(before)
        new.serial.read_until(b"seq %d\n" % (last + 3), timeout=20)
        dirty_check_serial(before + new.serial.snapshot())
        new.qmp.cmd("stop")
        total = dirty_check_memory(new.qmp, g.start, g.pages)[2]
        self.assertGreater(total, g.last_total)
        new.qmp.cmd("cont")
        wait_runstate(new.qmp, "running")


@needs_kvm
class Helper(Base):
    """scripts/baton-update on a guest with a second QMP socket (the test
    keeps its own client on the first one for the whole test)."""

    def run_update(self, g, *args):
        cmd = [sys.executable, SCRIPT, "--qmp", g.helper_qmp,
               "--binary", baton_test.BATON] + list(args)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        print("\n  $ baton-update %s -> %d\n%s%s" % (
            " ".join(args), out.returncode,
            "".join("    " + line + "\n"
                    for line in out.stdout.splitlines()),
            "".join("    ! " + line + "\n"
                    for line in out.stderr.splitlines())), flush=True)
        return out

    def helper_guest(self, args, name):
        qmp2 = os.path.join(baton_test.tmpdir(), name + "-qmp2.sock")
        g = self.guest(args + ["-qmp", "unix:%s,server=on,wait=off" % qmp2],
                       name)
        g.helper_qmp = qmp2
        return g

    def adopt(self, g, pid):
        """The guest now runs in PID (started by the script)."""
        vm = Vm(qmp=False, name="%s-by-script" % g.name)
        vm.proc = _Foreign(pid)
        g.retired.append(g.vm)
        g.vm = vm
        self.addCleanup(_kill_pid, pid)

    def test_transfer_exec_and_rollback(self):
        g = self.helper_guest(KVM + MEMFD, "helper")
        g.check()
        old = g.pid
        out = self.run_update(g)
        self.assertEqual(out.returncode, 0, out.stderr)
        pid = int(re.search(r"done: guest running in pid (\d+)",
                            out.stdout).group(1))
        self.assertNotEqual(pid, old)
        self.assertEqual(g.vm.wait(10), 0, "old process did not quit")
        self.adopt(g, pid)
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        g.check()

        out = self.run_update(g, "--mode", "cpr-exec")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("done: guest running in pid %d" % pid, out.stdout)
        g.check()

        # Roll back: a new process that cannot take over (RAM size).
        bad = os.path.join(baton_test.tmpdir(), "bad-baton")
        with open(bad, "w") as f:
            f.write("#!/bin/sh\ncase \"$1\" in -version) exec %s \"$@\";; "
                    "esac\nexec %s \"$@\" -smp 2\n"
                    % (baton_test.BATON, baton_test.BATON))
        os.chmod(bad, 0o755)
        cmd = [sys.executable, SCRIPT, "--qmp", g.helper_qmp,
               "--binary", bad, "--timeout", "20"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        print("  $ baton-update --binary bad-baton -> %d: %s"
              % (out.returncode, out.stderr.strip()))
        self.assertEqual(out.returncode, 1)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1,
                         out.stderr)
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        self.assertTrue(os.path.exists("/proc/%d" % pid))
        g.check()

        # Time out: a new process that never opens the main channel (the
        # wrapper turns it into "defer"); the script kills it, the old
        # process resumes.
        slow = os.path.join(baton_test.tmpdir(), "slow-baton")
        with open(slow, "w") as f:
            f.write("#!/bin/sh\nn=$#\nwhile [ $n -gt 0 ]; do a=$1; shift; "
                    "case \"$a\" in unix:*/main.sock) a=defer;; esac; "
                    "set -- \"$@\" \"$a\"; n=$((n - 1)); done\n"
                    "exec %s \"$@\"\n" % baton_test.BATON)
        os.chmod(slow, 0o755)
        cmd = [sys.executable, SCRIPT, "--qmp", g.helper_qmp,
               "--binary", slow, "--timeout", "2"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        print("  $ baton-update --binary slow-baton --timeout 2 -> %d: %s"
              % (out.returncode, out.stderr.strip()))
        self.assertEqual(out.returncode, 1)
        self.assertIn("timed out", out.stderr)
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        self.assertEqual(g.qmp.cmd("query-migrate-parameters")["mode"],
                         "normal")
        g.check()


class _Foreign:
    """Popen look-alike for a process this test did not start."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        alive = os.path.exists("/proc/%d" % self.pid)
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                alive = f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            alive = False
        if not alive and self.returncode is None:
            self.returncode = 0
        return None if alive else self.returncode

    def kill(self):
        _kill_pid(self.pid)

    def wait(self, timeout=None):
        wait_for(lambda: self.poll() is not None, timeout or 10)
        return self.returncode


def _kill_pid(pid):
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


class ScriptHelpers(unittest.TestCase):
    """baton-update's pure parts; no KVM."""

    def test_new_argv(self):
        bu = load_baton_update()
        old = ["/old/baton", "-S", "-m", "256M", "-incoming", "defer",
               "disk.img", "-name", "-S", "-daemonize", "--incoming",
               "unix:/x", "-run-with", "exit-with-parent=on", "-nodefaults"]
        argv, notes = bu.new_argv("/new/baton", old, "cpr-transfer")
        self.assertEqual(argv, ["/new/baton", "-m", "256M", "disk.img",
                                "-name", "-S", "-nodefaults"])
        self.assertEqual(len(notes), 5, notes)
        argv, notes = bu.new_argv("/new/baton", old, "cpr-exec")
        self.assertIn("exit-with-parent=on", argv)

    def test_server_pid(self):
        """The server PID comes from the accepted socket, not from
        SO_PEERCRED (which names whoever called listen())."""
        bu = load_baton_update()
        a, b = socket.socketpair()
        with a, b:
            self.assertEqual(bu.peer_inode(a), os.fstat(b.fileno()).st_ino)
            holders = bu.socket_holders(os.fstat(b.fileno()).st_ino)
            self.assertEqual(holders, [os.getpid()])


class Qtest(Base):
    """No KVM: memory written through qtest survives cpr-transfer and
    cpr-exec with memfd RAM; QMP and qtest connections stay up."""

    def test_transfer_and_exec(self):
        # A boot disk: reset in the new process must not load its boot
        # sector over the live guest's 0x7c00 (checked below).
        vm = Vm(BASE + ["-accel", "qtest", "-serial", "null",
                        "-drive", "file=%s,format=raw,readonly=on"
                        % baton_test.guest_image("exit")]
                + memfd_ram_args("64M"), name="qcpr")
        qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.launch(vm)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        qmp = vm.qmp
        pattern = bytes((i * 7 + 3) & 0xff for i in range(4096))
        qt.write(0x100000, pattern)
        qt.write((64 << 20) - 8, b"lastpage")
        qt.write(0x7c00, b"not the boot sector")
        argv = vm.command()
        procs = [vm]

        def check():
            self.assertEqual(qmp.cmd("query-status")["status"], "running")
            self.assertEqual(qt.read(0x100000, 4096), pattern)
            self.assertEqual(qt.read((64 << 20) - 8, 8), b"lastpage")
            self.assertEqual(qt.read(0x7c00, 19), b"not the boot sector")

        for k in range(2):
            main, cpr = vm.path("qm%d.sock" % k), vm.path("qc%d.sock" % k)
            new = self.launch(Vm(argv[1:] + cpr_incoming_args(main, cpr),
                                 qmp=False, name="qcpr-n%d" % k))
            wait_for(lambda: unix_listening(cpr) or new._died(),
                     what="cpr socket")
            qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
            qmp.cmd("migrate", channels=cpr_channels(main, cpr))
            wait_migration(qmp)
            wait_runstate(qmp, "running")
            old = procs[-1]
            old.proc.terminate()
            self.assertEqual(old.proc.wait(10), 0)
            procs.append(new)
            check()

        cur = procs[-1]
        state = vm.path("qstate")
        exec_argv = argv + ["-incoming", "defer"]
        before = proc_image_id(cur.pid)
        qmp.cmd("migrate-set-parameters",
                {"mode": "cpr-exec", "cpr-exec-command": exec_argv})
        qmp.cmd("migrate", uri="file:" + state)
        wait_for(lambda: proc_image_id(cur.pid) not in (before, None),
                 interval=0.002, what="exec")
        self.assertEqual(qmp.cmd("query-status")["status"], "inmigrate")
        qmp.cmd("migrate-incoming", uri="file:" + state)
        wait_runstate(qmp, "running")
        check()

    def test_blockers(self):
        """Private RAM, missing and TCP cpr channels, without KVM."""
        qtest = BASE + ["-accel", "qtest", "-serial", "null"]
        priv = self.launch(Vm(qtest + ["-m", "32M"], name="qpriv"))
        path = priv.path("x.sock")
        priv.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        with self.assertRaises(QmpError) as cm:
            priv.qmp.cmd("migrate", channels=cpr_channels(path, path + "c"))
        self.assertRegex(cm.exception.desc, r"(?i)ram")
        self.assertEqual(priv.qmp.cmd("query-status")["status"], "running")

        vm = self.launch(Vm(qtest + memfd_ram_args("32M"), name="qchan"))
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        tcp = {"transport": "socket", "type": "inet", "host": "127.0.0.1",
               "port": str(free_tcp_port())}
        for cpr, what in ((None, NO_CPR_CHANNEL), (tcp, NOT_UNIX)):
            with self.assertRaises(QmpError) as cm:
                vm.qmp.cmd("migrate", channels=cpr_channels(path, cpr))
            self.assertRegex(cm.exception.desc, what)
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")


if __name__ == "__main__":
    baton_test.main()
