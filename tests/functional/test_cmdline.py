# SPDX-License-Identifier: GPL-2.0-or-later
"""Command-line handling: bad input fails with one clear line and status 1;
QEMU's option spellings (including libqtest's probe command line), memory
backends and -daemonize start a working VM. Needs no KVM."""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unittest

import baton_test
from baton_test import BATON, QmpClient, Vm, kvm_usable, tmpdir, wait_for

BASE = ["-nodefaults", "-display", "none"]
QTEST_NONE = ["-accel", "qtest", "-machine", "none"]
QTEST_PC = ["-accel", "qtest", "-machine", "pc", "-m", "16M"]


def run(args, timeout=10):
    """Run baton to completion; return (status, stdout, stderr)."""
    p = subprocess.run([BATON] + BASE + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def raw_image(size=512):
    path = os.path.join(tmpdir(), "disk-%d.img" % size)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(b"\0" * size)
    return path


def process_gone(pid):
    """True once PID no longer runs (gone, or a zombie nobody reaped)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def listener(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    return sock


def accept(sock, proc, timeout=10):
    """Accept one connection from PROC; fail at once if it exits."""
    deadline = time.monotonic() + timeout
    while not select.select([sock], [], [], 0.05)[0]:
        if proc.poll() is not None:
            raise RuntimeError("baton exited before connecting to %s"
                               % sock.getsockname())
        if time.monotonic() > deadline:
            raise TimeoutError("baton did not connect to %s"
                               % sock.getsockname())
    return sock.accept()[0]


class BadInput(unittest.TestCase):
    """Each case: exit status 1 and exactly one stderr line that names the
    offending option, driver, property or value."""

    def check_error(self, args, offender):
        status, out, err = run(args)
        lines = [l for l in err.splitlines() if l.strip()]
        detail = "args %r: status %d, stderr %r" % (args, status, err)
        self.assertEqual(status, 1, detail)
        self.assertEqual(len(lines), 1, detail)
        self.assertIn(offender, lines[0], detail)
        return lines[0]

    def test_unknown_option(self):
        self.check_error(["-frobnicate"] + QTEST_NONE, "-frobnicate")

    def test_unknown_device_driver(self):
        self.check_error(QTEST_PC + ["-device", "frob"], "frob")

    def test_unknown_device_property(self):
        self.check_error(QTEST_PC + ["-device", "isa-debug-exit,frob=1"],
                         "frob")

    def test_malformed_ram_size(self):
        self.check_error(QTEST_PC[:-1] + ["12Q"], "12Q")

    def test_malformed_backend_size(self):
        self.check_error(QTEST_NONE + ["-object",
                                       "memory-backend-ram,id=m,size=1X"],
                         "1X")

    def test_unknown_machine(self):
        self.check_error(["-accel", "qtest", "-machine", "frob"], "frob")

    def test_unknown_chardev_backend(self):
        self.check_error(QTEST_NONE + ["-chardev", "frob,id=c0"], "frob")

    def test_chardev_without_id(self):
        self.check_error(QTEST_NONE + ["-chardev", "null"], "id")

    def test_unknown_object_type(self):
        self.check_error(QTEST_NONE + ["-object", "frob,id=o0"], "frob")

    def test_drive_qcow2(self):
        self.check_error(QTEST_PC + ["-drive", "file=%s,format=qcow2"
                                     % raw_image()], "qcow2")

    def test_drive_missing_file(self):
        missing = os.path.join(tmpdir(), "no-such-disk.img")
        self.check_error(QTEST_PC + ["-drive", "file=%s,format=raw"
                                     % missing], missing)

    def test_unknown_accel(self):
        self.check_error(["-machine", "none", "-accel", "frob"], "frob")

    def test_memory_backend_size_mismatch(self):
        line = self.check_error(
            ["-accel", "qtest", "-object",
             "memory-backend-memfd,id=m0,size=64M",
             "-machine", "pc,memory-backend=m0", "-m", "128M"], "")
        self.assertIn("size", line.lower())


class Info(unittest.TestCase):

    def test_version(self):
        status, out, err = run(["-version"])
        self.assertEqual(status, 0, err)
        self.assertRegex(out, r"version \d+\.\d+\.\d+")

    def test_machine_help(self):
        status, out, err = run(["-machine", "help"])
        self.assertEqual(status, 0, err)
        names = {l.split()[0] for l in out.splitlines()[1:] if l.strip()}
        self.assertIn("pc", names, out)
        self.assertIn("q35", names, out)

    def test_device_help(self):
        status, out, err = run(["-device", "help"])
        self.assertEqual(status, 0, err)
        names = set()
        for line in out.splitlines():
            if line.startswith("name "):
                # QEMU's shape: name "X"[, bus B][, desc "D"]
                self.assertRegex(line, r'^name "[^"]+"(, bus \w+)?'
                                 r'(, desc "[^"]*")?$')
                names.add(line.split('"')[1])
        for name in ("isa-serial", "isa-debug-exit", "ide-hd"):
            self.assertIn(name, names, out)


class Starts(unittest.TestCase):
    """Command lines that must give a running VM (checked over QMP)."""

    def start(self, args, **kwargs):
        vm = Vm(BASE + list(args), **kwargs)
        try:
            vm.launch()
        except Exception:
            vm.kill()
            raise
        self.addCleanup(vm.kill)
        return vm

    def quit(self, vm):
        self.assertEqual(vm.shutdown(), 0, vm.stderr_text())

    def test_qtest_probe_command_line(self):
        """libqtest's probe: baton connects as a client to both sockets."""
        qtest_path = os.path.join(tmpdir(), "probe-qtest.sock")
        qmp_path = os.path.join(tmpdir(), "probe-qmp.sock")
        qtest_l, qmp_l = listener(qtest_path), listener(qmp_path)
        self.addCleanup(qtest_l.close)
        self.addCleanup(qmp_l.close)
        errpath = os.path.join(tmpdir(), "probe.err")
        with open(errpath, "wb") as err:
            proc = subprocess.Popen(
                [BATON, "-qtest", "unix:" + qtest_path,
                 "-qtest-log", "/dev/null",
                 "-chardev", "socket,path=%s,id=char0" % qmp_path,
                 "-mon", "chardev=char0,mode=control", "-display", "none",
                 "-audio", "none", "-run-with", "exit-with-parent=on",
                 "-machine", "none", "-accel", "qtest"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        self.addCleanup(lambda: proc.poll() is None
                        and (proc.kill(), proc.wait()))
        try:
            qtest_conn = accept(qtest_l, proc)
            qmp_conn = accept(qmp_l, proc)
        except (RuntimeError, TimeoutError) as e:
            proc.kill()
            proc.wait()
            with open(errpath) as f:
                self.fail("%s; status %s, output %r"
                          % (e, proc.returncode, f.read()))
        self.addCleanup(qtest_conn.close)
        qmp = QmpClient(qmp_conn)
        self.addCleanup(qmp.close)
        self.assertIn("version", qmp.greeting["QMP"])
        qmp.negotiate()
        machines = qmp.cmd("query-machines")
        names = ({m["name"] for m in machines}
                 | {m["alias"] for m in machines if "alias" in m})
        for name in ("pc", "q35", "none"):
            self.assertIn(name, names)
        versioned = sorted(n for n in names
                           if re.fullmatch(r"pc-q35-\d+\.\d+", n))
        self.assertTrue(versioned, names)
        qmp.cmd("quit")
        self.assertEqual(proc.wait(10), 0)
        # A versioned name that query-machines returned works with -machine.
        vm = self.start(["-accel", "qtest", "-machine", versioned[-1],
                         "-m", "16M"])
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")
        self.quit(vm)

    def test_exit_with_parent(self):
        """-run-with exit-with-parent=on: baton dies with its parent."""
        qmp_path = os.path.join(tmpdir(), "orphan-qmp.sock")
        child = [BATON] + BASE + QTEST_NONE + [
            "-run-with", "exit-with-parent=on",
            "-qmp", "unix:%s,server=on,wait=off" % qmp_path]
        parent = subprocess.Popen(
            [sys.executable, "-c",
             "import subprocess, sys, time\n"
             "p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)\n"
             "print(p.pid, flush=True)\n"
             "time.sleep(60)\n"] + child,
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: parent.poll() is None
                        and (parent.kill(), parent.wait()))
        pid = int(parent.stdout.readline())
        self.addCleanup(lambda: process_gone(pid)
                        or os.kill(pid, signal.SIGKILL))
        wait_for(lambda: os.path.exists(qmp_path) or process_gone(pid),
                 what="baton's QMP socket")
        self.assertFalse(process_gone(pid), "baton exited at start")
        QmpClient(qmp_path).close()  # it is up
        parent.kill()
        parent.wait()
        parent.stdout.close()
        wait_for(lambda: process_gone(pid), timeout=5,
                 what="baton to exit after its parent died")

    def test_accel_fallback(self):
        vm = self.start(["-S", "-accel", "kvm", "-accel", "tcg", "-accel",
                         "qtest", "-machine", "pc", "-m", "16M"])
        kvm = vm.qmp.cmd("query-kvm")
        self.assertEqual(kvm["enabled"], kvm_usable(), kvm)
        self.quit(vm)

    def test_versioned_q35(self):
        vm = self.start(["-accel", "qtest", "-machine", "pc-q35-11.0",
                         "-m", "16M"])
        self.assertIn("status", vm.qmp.cmd("query-status"))
        self.quit(vm)

    def test_name_debug_threads(self):
        vm = self.start(QTEST_PC + ["-name", "source,debug-threads=on"])
        self.assertEqual(vm.qmp.cmd("query-name"), {"name": "source"})
        self.quit(vm)

    def test_serial_file(self):
        path = os.path.join(tmpdir(), "serial.out")
        vm = self.start(QTEST_PC + ["-serial", "file:" + path])
        self.assertTrue(os.path.exists(path))
        self.quit(vm)

    def test_drive_ide_hd_geometry(self):
        vm = self.start(QTEST_PC + [
            "-drive", "if=none,id=d0,file=%s,format=raw" % raw_image(),
            "-device", "ide-hd,drive=d0,secs=1,cyls=1,heads=1"])
        self.assertIn("status", vm.qmp.cmd("query-status"))
        self.quit(vm)

    def test_memfd_backend(self):
        vm = self.start(["-accel", "qtest", "-object",
                         "memory-backend-memfd,id=m0,size=64M",
                         "-machine", "pc,memory-backend=m0", "-m", "64M"])
        with open("/proc/%d/maps" % vm.pid) as f:
            self.assertIn("memfd:", f.read())
        self.quit(vm)

    def test_aux_ram_share(self):
        vm = self.start(["-accel", "qtest", "-machine",
                         "pc,aux-ram-share=on", "-m", "16M"])
        with open("/proc/%d/maps" % vm.pid) as f:
            self.assertIn("memfd:", f.read())
        self.quit(vm)

    def test_daemonize(self):
        pidfile = os.path.join(tmpdir(), "daemon.pid")
        qmp_path = os.path.join(tmpdir(), "daemon-qmp.sock")
        logpath = os.path.join(tmpdir(), "daemon.log")
        with open(logpath, "wb") as log:
            # Files, not pipes: the daemon may hold its stdio for a while.
            status = subprocess.call(
                [BATON] + BASE + QTEST_PC + [
                    "-daemonize", "-pidfile", pidfile,
                    "-qmp", "unix:%s,server=on,wait=off" % qmp_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=10)
        with open(logpath) as f:
            self.assertEqual(status, 0, f.read())
        # Ready when the parent returns: pid file written, QMP listening.
        self.assertTrue(os.path.exists(qmp_path))
        with open(pidfile) as f:
            pid = int(f.read().strip())
        self.addCleanup(lambda: process_gone(pid)
                        or os.kill(pid, signal.SIGKILL))
        self.assertFalse(process_gone(pid))
        qmp = QmpClient(qmp_path)
        self.addCleanup(qmp.close)
        qmp.negotiate()
        self.assertEqual(qmp.cmd("query-status")["status"], "running")
        qmp.cmd("quit")
        wait_for(lambda: process_gone(pid), what="daemon %d to exit" % pid)
        wait_for(lambda: not os.path.exists(pidfile), timeout=2,
                 what="pid file removal")

    def test_pidfile(self):
        """-pidfile without -daemonize: our pid, removed at quit."""
        pidfile = os.path.join(tmpdir(), "plain.pid")
        vm = self.start(QTEST_PC + ["-pidfile", pidfile])
        with open(pidfile) as f:
            self.assertEqual(int(f.read().strip()), vm.pid)
        self.quit(vm)
        self.assertFalse(os.path.exists(pidfile))

    def test_pidfile_removed_on_error(self):
        """A start-up error leaves no pid file behind (as QEMU)."""
        pidfile = os.path.join(tmpdir(), "error.pid")
        for extra in ([], ["-daemonize"]):
            logpath = os.path.join(tmpdir(), "pid-error.log")
            with open(logpath, "wb") as log:
                status = subprocess.call(
                    [BATON] + BASE + QTEST_PC + extra + [
                        "-pidfile", pidfile, "-device", "frob"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    timeout=10)
            with open(logpath) as f:
                self.assertEqual(status, 1, f.read())
            self.assertFalse(os.path.exists(pidfile),
                             "pid file left after error (%r)" % extra)


if __name__ == "__main__":
    baton_test.main()
