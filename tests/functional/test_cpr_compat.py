# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update from the previous release to this one: a guest started by
the previous baton (commit PREVIOUS, the last release; it speaks version
1 of the live-update protocol) is updated to this baton by cpr-transfer
(baton's way: the same arguments) and by cpr-exec, and then again from
this baton to itself. After each update the alpha guest (a..z to COM1
without pause, counted at 0x600) runs in the new process, its serial
client saw one continuous stream, and the QMP and HMP clients keep their
connections (the HMP monitor is the second monitor: a version-1 process
numbers monitor sessions by creation order). Also: precopy migration and
a cpr-reboot file from the previous baton load here, and an update from
this baton to the previous one fails with a clear error while the guest
runs on.

The previous baton is built once from git (`git archive PREVIOUS`, meson,
ninja: the target `baton` only) into BUILD/previous-baton/HASH/baton and
reused by later runs; BATON_PREVIOUS=PATH names a prebuilt one instead.
Skips (77) without a usable /dev/kvm, or when the commit is not in the
source tree's git history (a shallow clone, an unpacked tarball)."""

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest

import baton_test
from baton_test import (BATON, QmpError, Vm, VmTestCase,
                        cpr_channels, cpr_incoming_args, memfd_ram_args,
                        proc_image_id, require_kvm, skip, unix_listening,
                        wait_for, wait_migration, wait_runstate)
from test_serial_continuity import alpha_args as _alpha_args
from test_serial_continuity import guest_count, stream_error

PREVIOUS = "b23ea73"        # docs/system/live-update.md, "Which releases"
# The previous release's machine, pinned by name on both sides as libvirt
# pins machine types: "pc" is a newer machine (with PCI) here, and only
# the same machine can take over the guest (docs/system/machine.md).
MACHINE = "pc-i440fx-9.2"
TIMEOUT = 30.0              # ends a hung test; never a synchronisation
SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(SRCDIR, "scripts", "baton-update")


def _build_previous(commit, out):
    """Build COMMIT's baton into OUT (an executable), in a scratch dir
    beside it. Raises RuntimeError with the build's output on failure."""
    work = "%s.tmp-%d" % (out, os.getpid())
    shutil.rmtree(work, ignore_errors=True)
    src = os.path.join(work, "src")
    os.makedirs(src)
    try:
        archive = subprocess.Popen(["git", "-C", SRCDIR, "archive", commit],
                                   stdout=subprocess.PIPE)
        untar = subprocess.run(["tar", "-x", "-C", src], stdin=archive.stdout,
                               capture_output=True)
        archive.stdout.close()
        if archive.wait() or untar.returncode:
            raise RuntimeError("git archive %s | tar failed: %s"
                               % (commit, untar.stderr.decode()))
        bld = os.path.join(work, "build")
        # No -Werror: a newer compiler may warn about old code.
        for cmd in (["meson", "setup", bld, src, "-Dwerror_ci=false"],
                    ["ninja", "-C", bld, "baton"]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError("building the previous baton: %s failed:"
                                   "\n%s%s" % (" ".join(cmd), r.stdout[-3000:],
                                               r.stderr[-3000:]))
        os.replace(os.path.join(bld, "baton"), out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def previous_baton():
    """Path of the previous release's baton, built once; skips (77) if its
    commit cannot be had."""
    path = os.environ.get("BATON_PREVIOUS")
    if path:
        if not os.access(path, os.X_OK):
            raise RuntimeError("BATON_PREVIOUS=%s is not executable" % path)
        return path
    if not shutil.which("git"):
        skip("git is not installed: cannot build the previous baton (%s); "
             "or set BATON_PREVIOUS" % PREVIOUS)
    r = subprocess.run(["git", "-C", SRCDIR, "rev-parse", "--verify",
                        "--quiet", PREVIOUS + "^{commit}"],
                       capture_output=True, text=True)
    if r.returncode:
        skip("commit %s (the previous release) is not in the git history of "
             "%s (a shallow clone?): fetch it, or set BATON_PREVIOUS"
             % (PREVIOUS, SRCDIR))
    commit = r.stdout.strip()
    cache = os.path.join(os.path.dirname(os.path.abspath(BATON)),
                         "previous-baton", commit)
    out = os.path.join(cache, "baton")
    os.makedirs(cache, exist_ok=True)
    # One build at a time (several runs may share the build dir).
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.access(out, os.X_OK):
            print("building the previous baton (%s) into %s"
                  % (PREVIOUS, out), flush=True)
            _build_previous(commit, out)
    return out


def alpha_args(mem_args):
    """The alpha guest's arguments with every -machine pinned to MACHINE."""
    args = _alpha_args(mem_args)
    for i, a in enumerate(args[:-1]):
        if a == "-machine" and args[i + 1] == "pc":
            args[i + 1] = MACHINE
    return args


def pinned_ram_args(mem):
    """memfd RAM of size MEM on the previous release's machine."""
    return [a.replace("pc,", MACHINE + ",") if a.startswith("pc,") else a
            for a in memfd_ram_args(mem)]


def pinned_args(mem):
    """Private RAM of size MEM on the previous release's machine."""
    return ["-machine", MACHINE, "-m", mem]


def kill_pid(pid):
    """End PID, a baton that scripts/baton-update started for the test,
    and wait until it is gone (with its sockets)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), TIMEOUT,
             what="the end of pid %d" % pid)


class Guest:
    """The alpha guest and its clients (QMP, HMP, serial), which outlive
    the processes that run it in turn."""

    _count = 0

    def __init__(self, case, binary, mem_args, extra=()):
        Guest._count += 1
        self.name = "compat%d" % Guest._count
        vm = case.launch(Vm(alpha_args(mem_args) + list(extra) + ["-S"],
                            serial_socket=True, hmp_socket=True,
                            binary=binary, name=self.name))
        self.case = case
        self.qmp, self.hmp, self.serial = vm.qmp, vm.hmp, vm.serial
        vm.qmp = vm.hmp = vm.serial = None      # they outlive VM
        for c in (self.qmp, self.hmp, self.serial):
            case.addCleanup(c.close)
        self.args = vm.command()[1:-1]          # no binary, no -S
        self.vm = vm
        self.count = 0
        self.qmp.cmd("cont")
        self.serial.read_until(b"xyz", timeout=TIMEOUT)

    def check(self):
        """The guest runs here and writes on: every byte it wrote so far
        reached the serial client once and in order; the monitors answer
        on their old connections."""
        self.case.assertEqual(self.qmp.cmd("query-status")["status"],
                              "running")
        self.case.assertEqual(self.hmp.cmd("info status"),
                              "VM status: running\n")
        seen = len(self.serial.data)
        wait_for(lambda: len(self.serial.data) >= seen + 100, TIMEOUT,
                 what="100 more bytes of output")
        self.qmp.cmd("stop")
        count = guest_count(self.qmp)
        try:
            wait_for(lambda: len(self.serial.data) >= count, TIMEOUT,
                     what="%d bytes of output" % count)
        except TimeoutError:
            pass        # the checks below say what is missing
        data = bytes(self.serial.data)
        self.case.assertIsNone(stream_error(data))
        self.case.assertIn(len(data), (count, count + 1),
                           "the guest wrote %d bytes, the client received %d"
                           % (count, len(data)))
        self.case.assertFalse(self.serial.eof, "the serial client was cut off")
        self.qmp.cmd("cont")

    def new_vm(self, binary, extra):
        """A process with the guest's arguments plus EXTRA, run by
        BINARY; the clients are the guest's, so none of its own."""
        self.count += 1
        return self.case.launch(Vm(self.args + extra, qmp=False,
                                   binary=binary,
                                   name="%s-new%d" % (self.name,
                                                      self.count)))

    def transfer(self, binary):
        """cpr-transfer to BINARY, baton's way; the old process quits."""
        main = self.vm.path("main%d.sock" % self.count)
        cpr = self.vm.path("cpr%d.sock" % self.count)
        new = self.new_vm(binary, cpr_incoming_args(main, cpr))
        wait_for(lambda: unix_listening(cpr) or new._died(), TIMEOUT,
                 what="cpr channel %s" % cpr)
        self.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(self.qmp, timeout=TIMEOUT, interval=0.005)
        wait_runstate(self.qmp, "running", TIMEOUT)
        self.vm.proc.terminate()
        self.case.assertEqual(self.vm.wait(), 0, self.vm.stderr_text())
        self.vm = new

    def exec_update(self, binary):
        """cpr-exec into BINARY with the guest's arguments."""
        baton_test.cpr_exec_to(self.vm, self.qmp, [binary] + self.args,
                               TIMEOUT)
        self.case.assertEqual(os.readlink("/proc/%d/exe" % self.vm.pid),
                              os.path.realpath(binary))


@baton_test.needs_kvm
def start_precopy(case, src_binary, dst_binary, name):
    """A guest writing a..z in SRC_BINARY (its serial client attached from
    the first byte), a destination in DST_BINARY listening on a unix
    socket, and `migrate` sent; returns (source, destination)."""
    src = case.launch(Vm(alpha_args(pinned_args("32M")) + ["-S"],
                         serial_socket=True, binary=src_binary,
                         name=name + "-src"))
    src.qmp.cmd("cont")
    src.serial.read_until(b"xyz", timeout=TIMEOUT)
    path = src.path("mig.sock")
    dst = case.launch(Vm(alpha_args(pinned_args("32M")) +
                         ["-incoming", "unix:" + path],
                         serial_socket=True, binary=dst_binary,
                         name=name + "-dst"))
    wait_for(lambda: unix_listening(path) or dst._died(), TIMEOUT,
             what="incoming socket %s" % path)
    src.qmp.cmd("migrate", uri="unix:" + path)
    return src, dst


class FromPrevious(VmTestCase):
    """Updates from the previous release, then within this one."""

    def test_transfer(self):
        """previous -> this (cpr-transfer) -> this (cpr-exec)"""
        g = Guest(self, OLD, pinned_ram_args("32M"))
        g.check()
        g.transfer(BATON)
        g.check()
        g.exec_update(BATON)
        g.check()

    def test_exec(self):
        """previous -> this (cpr-exec) -> this (cpr-transfer)"""
        g = Guest(self, OLD, pinned_ram_args("32M"))
        g.check()
        g.exec_update(BATON)
        g.check()
        g.transfer(BATON)
        g.check()

    def test_baton_update(self):
        """This release's scripts/baton-update updates a guest of the
        previous release (cpr-transfer), then again (cpr-exec); the
        script talks to a third monitor, numbered 2 by the old one."""
        qmp2 = os.path.join(baton_test.tmpdir(), "bu-qmp2.sock")
        g = Guest(self, OLD, pinned_ram_args("32M"),
                  ["-qmp", "unix:%s,server=on,wait=off" % qmp2])
        g.check()
        for mode in ("cpr-transfer", "cpr-exec"):
            log = os.path.join(baton_test.tmpdir(), "bu-%s.log" % mode)
            out = subprocess.run([sys.executable, SCRIPT, "--qmp", qmp2,
                                  "--binary", BATON, "--mode", mode,
                                  "--log", log],
                                 capture_output=True, text=True,
                                 timeout=TIMEOUT * 3)
            print("  $ baton-update --mode %s -> %d\n%s%s"
                  % (mode, out.returncode, out.stdout, out.stderr))
            self.assertEqual(out.returncode, 0, out.stderr)
            pid = int(re.search(r"done: guest running in pid (\d+)",
                                out.stdout + out.stderr).group(1))
            self.addCleanup(kill_pid, pid)
            self.assertEqual(os.readlink("/proc/%d/exe" % pid),
                             os.path.realpath(BATON))
            g.check()

    def test_refused(self):
        """A previous baton hands every chardev over, so the new process
        must have the same ones: one with its own -qmp path (QEMU's way)
        or a chardev the old one lacks is refused before it opens
        anything, the old process resumes, and a later update with the
        right arguments works."""
        g = Guest(self, OLD, pinned_ram_args("32M"))
        i = g.args.index("-qmp")
        other_qmp = g.args[:i + 1] + ["unix:%s,server=on,wait=off"
                                      % g.vm.path("qmp-new.sock")] + \
            g.args[i + 2:]
        extra = g.args + ["-chardev", "socket,id=extra,path=%s,server=on,"
                          "wait=off" % g.vm.path("extra.sock")]
        for args, why in ((other_qmp, "chardev 'compat_monitor0' listens "
                           "on %s here, but the old process" %
                           g.vm.path("qmp-new.sock")),
                          (extra, "'object chardev-socket extra' exists "
                           "here but not there")):
            main = g.vm.path("main.sock")
            cpr = g.vm.path("cpr.sock")
            g.count += 1
            new = self.launch(Vm(args + cpr_incoming_args(main, cpr),
                                 qmp=False, binary=BATON,
                                 name="refused%d" % g.count))
            wait_for(lambda: unix_listening(cpr) or new._died(), TIMEOUT,
                     what="cpr channel %s" % cpr)
            g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
            g.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
            wait_migration(g.qmp, until=("failed",), timeout=TIMEOUT)
            self.assertEqual(new.wait(TIMEOUT), 1)
            self.assertIn(why, new.stderr_text())
            g.check()
        g.transfer(BATON)
        g.check()

    def test_precopy(self):
        """A precopy migration from the previous baton: the destination's
        serial client, attached before `migrate`, continues the stream."""
        src, dst = start_precopy(self, OLD, BATON, "pre")
        wait_migration(src.qmp, timeout=TIMEOUT)
        wait_runstate(dst.qmp, "running", TIMEOUT)
        self.assert_stream(dst.qmp, [src.serial.data, dst.serial.data])

    def test_reboot(self):
        """A cpr-reboot state file of the previous baton loads here."""
        old = self.launch(Vm(alpha_args(pinned_args("32M")) + ["-S"],
                             serial_socket=True, binary=OLD, name="rb-old"))
        old.qmp.cmd("cont")
        old.serial.read_until(b"xyz", timeout=TIMEOUT)
        state = old.path("state")
        old.qmp.cmd("migrate-set-parameters", mode="cpr-reboot")
        old.qmp.cmd("migrate", uri="file:" + state)
        wait_migration(old.qmp, timeout=TIMEOUT)
        self.assertEqual(old.qmp.cmd("query-status")["status"],
                         "postmigrate")
        # What the stopped guest wrote may still be on its way through the
        # socket: all of it is there once the client has seen the end
        # (before shutdown() reaps, which closes the client).
        old.qmp.cmd("quit")
        old.proc.wait(TIMEOUT)
        before = old.serial.wait_eof(timeout=TIMEOUT)
        self.assertEqual(old.shutdown(), 0)
        new = self.launch(Vm(alpha_args(pinned_args("32M")) +
                             ["-incoming", "defer"], serial_socket=True,
                             name="rb-new"))
        new.qmp.cmd("migrate-set-parameters", mode="cpr-reboot")
        new.qmp.cmd("migrate-incoming", uri="file:" + state)
        wait_runstate(new.qmp, "running", TIMEOUT)
        self.assert_stream(new.qmp, [before, new.serial.data])

    def assert_stream(self, qmp, parts):
        """The clients' output, in turn (PARTS, growing bytearrays), is
        all the guest wrote, once and in order."""
        seen = len(parts[-1])
        wait_for(lambda: len(parts[-1]) >= seen + 100, TIMEOUT,
                 what="output after the migration")
        qmp.cmd("stop")
        count = guest_count(qmp)
        try:
            wait_for(lambda: sum(len(p) for p in parts) >= count, TIMEOUT,
                     what="%d bytes of output" % count)
        except TimeoutError:
            pass
        data = b"".join(bytes(p) for p in parts)
        self.assertIsNone(stream_error(data))
        self.assertIn(len(data), (count, count + 1),
                      "the guest wrote %d bytes, the clients received %r"
                      % (count, [len(p) for p in parts]))
        qmp.cmd("cont")


@baton_test.needs_kvm
class ToPrevious(VmTestCase):
    """An update from this baton to the previous one cannot work (it reads
    neither this CPR state nor these monitor sessions): it fails before
    the guest stops, says why, and the guest runs on here."""

    def test_transfer(self):
        g = Guest(self, BATON, pinned_ram_args("32M"))
        main = g.vm.path("main.sock")
        cpr = g.vm.path("cpr.sock")
        new = g.new_vm(OLD, cpr_incoming_args(main, cpr))
        wait_for(lambda: unix_listening(cpr) or new._died(), TIMEOUT,
                 what="cpr channel %s" % cpr)
        g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        g.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        info = wait_migration(g.qmp, until=("failed",), timeout=TIMEOUT)
        self.assertIn("closed the cpr channel before it said which "
                      "chardevs it takes over (it exited or failed; see its "
                      "log): it is a baton that reads only version 1 of the "
                      "CPR state (an older release), and this one writes "
                      "version 2", info.get("error-desc", ""))
        self.assertEqual(new.wait(TIMEOUT), 1)
        self.assertIn("cpr state: format version 2 is not supported",
                      new.stderr_text())
        g.check()

    def test_precopy(self):
        """A precopy migration to the previous baton: it refuses this
        release's RAM section (version 2, page batches) at the first
        record, and the guest runs on here."""
        src, dst = start_precopy(self, BATON, OLD, "back")
        wait_migration(src.qmp, until=("failed",), timeout=TIMEOUT)
        self.assertEqual(dst.wait(TIMEOUT), 1)
        self.assertIn("section 'ram' instance 0: unsupported version 2 "
                      "(accepted 0 to 1)", dst.stderr_text())
        self.assertEqual(src.qmp.cmd("query-status")["status"], "running")
        src.serial.read_until(b"xyz", timeout=TIMEOUT,
                              start=len(src.serial.data))

    def test_exec(self):
        """cpr-exec into the previous baton is refused up front: after the
        exec there would be no way back."""
        g = Guest(self, BATON, pinned_ram_args("32M"))
        g.qmp.cmd("migrate-set-parameters",
                  {"mode": "cpr-exec",
                   "cpr-exec-command": [OLD] + g.args + ["-incoming",
                                                         "defer"]})
        with self.assertRaises(QmpError) as cm:
            g.qmp.cmd("migrate", uri="file:" + g.vm.path("state"))
        self.assertIn("reads only version 1 of the CPR state (an older "
                      "release)", cm.exception.desc)
        self.assertEqual(os.readlink("/proc/%d/exe" % g.vm.pid),
                         os.path.realpath(BATON))
        g.check()


if __name__ == "__main__":
    require_kvm()
    OLD = previous_baton()
    baton_test.main()

