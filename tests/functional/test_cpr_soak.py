# SPDX-License-Identifier: GPL-2.0-or-later
"""scripts/baton-update under faults, and live update under monitor load
(KVM, the dirty guest; exit 77 without KVM).

Soak: BATON_SOAK_UPDATES (16) updates with baton-update, each SIGKILLing
the new or the old process at a random moment of the update (seed printed;
BATON_SOAK_SEED=N repeats a run's choices). Whatever the moment, the
script either succeeds (the guest runs in the new process, the old one is
gone) or prints one line "baton-update: error: ..." and exits 1, never a
traceback; when no process runs the guest any more, that line says "the
guest is lost" (and only then); no baton process lingers; the clients of
a lost guest see EOF, those of a surviving one carry on with nothing lost.

Lost window: the new process stopped (fault point incoming-resuming)
after it confirmed GO and killed there: the old process says so, exits
with status 2, its clients see EOF, and baton-update says the guest is
lost.

Flood: a QMP client pipelines thousands of commands on a second monitor
during two updates: every command gets its reply, in order, and the
guest runs on with its serial output intact. Nothing here judges time."""

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import baton_test
from baton_test import (CprGuest, QmpFlood, dirty_check_serial,
                        memfd_ram_args, require_kvm, wait_for)

KVM = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1"]
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "scripts", "baton-update")
UPDATES = int(os.environ.get("BATON_SOAK_UPDATES", "16"))
ERROR = re.compile(r"^baton-update: error: \S.*$")


def alive(pid):
    """True while PID exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def stopped(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


def kill(pid):
    """SIGKILL PID if it is a baton (PIDs get reused); True if sent.
    Asked by /proc/PID/exe, not cmdline: right after baton-update started
    it, its cmdline can still read empty (the kernel sets the new image's
    arguments up after it closed the close-on-exec pipe Popen waits on),
    while its executable is already switched by then."""
    try:
        if os.readlink("/proc/%d/exe" % pid) != os.path.realpath(
                baton_test.BATON):
            return False
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return False
    return True


class Update:
    """One run of baton-update whose output lines can be waited for."""

    def __init__(self, qmp_path, env=None):
        cmd = [sys.executable, SCRIPT, "--qmp", qmp_path, "--binary",
               baton_test.BATON, "--timeout", "30"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)         # EOF
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=30):
        """The first match of PATTERN in a line, or None at EOF."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = 0
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        return None
                    m = re.search(pattern, line)
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("baton-update printed no %r" % pattern)
                self.cond.wait(left)

    def finish(self, timeout=120):
        rc = self.proc.wait(timeout)
        self.thread.join(10)
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        out = [l for l in self.lines if l is not None]
        return rc, out, err


@baton_test.needs_kvm
class UpdateFaults(unittest.TestCase):

    def setUp(self):
        self.pids = set()
        self.g = None
        self.addCleanup(self.reap)

    def reap(self):
        for pid in self.pids:
            kill(pid)
        if self.g:
            self.g.close()

    def boot(self, name):
        """A guest with a second QMP socket for baton-update; the test's
        own QMP and serial clients stay on the first ones throughout."""
        if self.g:
            self.g.close()
        qmp2 = os.path.join(baton_test.tmpdir(), name + "-qmp2.sock")
        self.g = CprGuest(KVM + memfd_ram_args("128M") +
                          ["-qmp", "unix:%s,server=on,wait=off" % qmp2],
                          name=name)
        self.g.helper_qmp = qmp2
        self.pids.add(self.g.pid)
        return self.g

    def check_runs(self, g):
        """The guest runs, nothing lost: QMP says running, the serial
        sequence is whole and goes on, the clients never saw EOF."""
        self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
        last = dirty_check_serial(g.serial.data)
        g.serial.read_until(b"\nseq %d\n" % (last + 2), timeout=20, start=0)
        dirty_check_serial(g.serial.data)
        self.assertFalse(g.serial.eof)

    def check_lost(self, g):
        """No process holds the guest's sockets: both clients see EOF."""
        wait_for(lambda: g.serial.eof, timeout=20,
                 what="EOF on the serial client of the lost guest")
        with self.assertRaises(OSError):
            g.qmp.cmd("query-status")

    def settled(self, pids, keep):
        """Every process of PIDS but KEEP ends (none lingers)."""
        wait_for(lambda: not any(alive(p) for p in pids if p != keep),
                 timeout=20, what="no baton but pid %s left" % keep)

    def judge(self, g, outcome, owner, new, now):
        """Check where the guest is against what baton-update said;
        returns the pid that runs it (None if lost)."""
        if outcome in ("lost", "done, then killed"):
            self.settled([owner, new], None)
            self.check_lost(g)
            return None
        if outcome == "failed, guest kept":
            # Only a process that is alive can have the guest.
            candidates = [p for p in (owner, new) if p and alive(p)]
            self.assertEqual(len(candidates), 1, "processes alive: %s"
                             % candidates)
            now = candidates[0]
        else:
            self.assertNotEqual(now, owner)
        self.settled([owner, new], now)
        self.check_runs(g)
        return now

    def test_soak(self):
        seed = os.environ.get("BATON_SOAK_SEED")
        seed = int(seed) if seed else random.SystemRandom().randrange(1 << 30)
        print("\n  soak: %d updates, BATON_SOAK_SEED=%d" % (UPDATES, seed))
        rng = random.Random(seed)
        outcomes = {}
        g = self.boot("soak0")
        owner = g.pid
        for n in range(UPDATES):
            # New: from its start. Old: from the moment the script has
            # found it (before, it could not know there was a guest).
            victim = rng.choice(("new", "old"))
            delay = rng.uniform(0, 0.05 if victim == "new" else 0.06)
            t_start = time.monotonic()
            up = Update(g.helper_qmp)
            m = up.wait_line(r"new baton: pid (\d+)" if victim == "new"
                             else r"old baton: pid (\d+)")
            target = int(m.group(1)) if m else None
            time.sleep(delay)
            killed = (target is not None and up.proc.poll() is None and
                      kill(target))
            rc, out, err = up.finish()
            m = re.search(r"new baton: pid (\d+)", "\n".join(out))
            new = int(m.group(1)) if m else None
            if new:
                self.pids.add(new)
            self.assertNotIn("Traceback", err)
            done = [l for l in out if l.startswith("baton-update: done:")]
            if rc == 0:
                self.assertEqual(err.strip(), "", err)
                now = int(re.search(r"in pid (\d+)", done[0]).group(1))
            else:
                self.assertEqual(rc, 1, (out, err))
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertRegex(lines[0], ERROR)
                now = None
            if rc == 0 and killed and target == now:
                outcome = "done, then killed"       # our kill came late
            elif rc == 0:
                outcome = "done"
            elif "the guest is lost" in err:
                outcome = "lost"
            else:
                outcome = "failed, guest kept"
            key = "%s killed: %s" % (victim if killed else "none", outcome)
            outcomes[key] = outcomes.get(key, 0) + 1
            print("  %2d: %s %s after %.1f ms -> %s (%.1f s)%s" % (
                n, "killed" if killed else "did not kill", victim,
                delay * 1e3, outcome, time.monotonic() - t_start,
                "" if rc == 0 else ": " + err.strip()[len("baton-update: "):]),
                flush=True)
            try:
                now = self.judge(g, outcome, owner, new, now)
            except BaseException:
                print("  (seed %d) baton-update printed:\n%s%s" % (
                    seed, "".join("    %s\n" % l for l in out),
                    "".join("    ! %s\n" % l for l in err.splitlines())))
                raise
            if outcome in ("done", "failed, guest kept"):
                owner = now
            else:
                g = self.boot("soak%d" % (n + 1))
                owner = g.pid
        print("  soak (seed %d): %s" % (seed, ", ".join(
            "%s %d" % kv for kv in sorted(outcomes.items()))))

    def test_lost_window(self):
        """The new process dies after it confirmed GO, before it runs
        the guest (fault point incoming-resuming)."""
        g = self.boot("window")
        old = g.vm
        env = dict(os.environ, BATON_FAULT_INJECT="incoming-resuming")
        up = Update(g.helper_qmp, env=env)
        new = int(up.wait_line(r"new baton: pid (\d+)").group(1))
        self.pids.add(new)
        wait_for(lambda: stopped(new) or up.proc.poll() is not None,
                 timeout=30, what="the new process at incoming-resuming")
        self.assertTrue(stopped(new), "the new process exited instead")
        # The old process has committed: it waits, serving nobody.
        self.assertIsNone(old.proc.poll(), old.stderr_text())
        kill(new)
        self.assertEqual(old.wait(20), 2, old.stderr_text())
        self.assertIn("before it ran the guest: the guest is lost",
                      old.stderr_text())
        rc, out, err = up.finish()
        print("\n  old process: %s  $ baton-update -> %d: %s"
              % (old.stderr_text().strip(), rc, err.strip()))
        self.assertEqual(rc, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertRegex(err.strip(), ERROR)
        self.assertIn("the guest is lost", err)
        self.check_lost(g)

    def test_monitor_flood(self):
        """Two updates while a client pipelines commands on the second
        monitor: every command is answered, in order, by whichever
        process serves the monitor; the guest runs on."""
        g = self.boot("flood")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(g.helper_qmp)
        self.addCleanup(sock.close)
        flood = QmpFlood(sock)
        flood.wait_replies(100)
        figures = []
        for _ in range(2):
            before = flood.sent
            fig = g.transfer()
            fig["sent"] = flood.sent - before
            figures.append(fig)
            self.pids.add(g.pid)
            g.check(lines=2, memory=False)
        sent = flood.stop()
        replies = flood.wait_all(sent)
        self.assertEqual(replies, list(range(1, sent + 1)))
        g.check()
        print("\n  %d commands pipelined, all answered in order" % sent)
        for f in figures:
            print("  update: %d commands sent meanwhile; downtime %s ms, "
                  "phases %s" % (f["sent"], f["downtime"], f["phases"]))


if __name__ == "__main__":
    require_kvm()
    baton_test.main()
