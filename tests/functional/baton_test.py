# SPDX-License-Identifier: GPL-2.0-or-later
"""Harness for baton's functional tests (Python 3 standard library only).

Tests run as ``python3 test_x.py`` with BATON (the binary) and GUEST_DIR
(hello.img, exit.img) in the environment. Exit status 0 is a pass, 77 a
skip (see skip()), anything else a failure. The module provides a process
wrapper (Vm) and clients for the unix-socket protocols: QMP, HMP, qtest and
a raw serial port. Run this file directly for a self-test that needs no
baton.
"""

import atexit
import codecs
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BATON = os.environ.get("BATON", "")
GUEST_DIR = os.environ.get("GUEST_DIR", "")
DEFAULT_TIMEOUT = 30.0  # ends a hang; a busy 2-core CI host can be slow

_tmpdir = None
_live_vms = []


def _cleanup():
    """Kill every VM still running, then remove the temp dir."""
    for vm in list(_live_vms):
        vm.kill()
    if _tmpdir and not os.environ.get("BATON_TEST_KEEP"):
        shutil.rmtree(_tmpdir, ignore_errors=True)


atexit.register(_cleanup)
if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    # meson's timeout sends SIGTERM; turn it into SystemExit so atexit runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def tmpdir():
    """Per-process temp dir, removed at exit unless BATON_TEST_KEEP is set."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="baton-test-")
    return _tmpdir


def skip(reason):
    """Report a skip to meson (exit status 77)."""
    print("SKIP: %s" % reason, flush=True)
    sys.exit(77)


def require_kvm():
    """Skip the test unless /dev/kvm can be opened read-write."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        skip("/dev/kvm is not usable: %s" % e.strerror)


def kvm_usable():
    """True if /dev/kvm can be opened read-write (require_kvm() skips)."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Running a test file: main() turns the unittest result into the exit status
# meson reads, leaves KVM tests out of qtest-only runs, and fails the run on
# any sanitizer report of a baton process.

# BATON_TEST_ACCEL=qtest (the sanitizer build): tests marked needs_kvm are
# not run at all (they are not skips: this run is not meant to have them).
QTEST_ONLY = os.environ.get("BATON_TEST_ACCEL") == "qtest"
# BATON_TEST_SANITIZER=1: baton is built with ASan+UBSan; its reports go to
# files in _sanitizer_dir(), which main() checks at the end.
SANITIZER = os.environ.get("BATON_TEST_SANITIZER") == "1"
_sanitizer_logs = None
_launched = {}          # pid -> name of every baton launched by Vm
_sigkilled = set()      # pids of those Vm.kill() SIGKILLed while running


def needs_kvm(obj):
    """Decorator for a test class or method that runs guest code under
    KVM: skipped with the reason where /dev/kvm is unusable (so the file
    reports SKIP), left out of qtest-only runs."""
    obj.baton_needs_kvm = True
    return unittest.skipUnless(kvm_usable(), "/dev/kvm is not usable")(obj)


def _needs_kvm(test):
    method = getattr(test, getattr(test, "_testMethodName", ""), None)
    return bool(getattr(type(test), "baton_needs_kvm", False) or
                getattr(method, "baton_needs_kvm", False))


def _sanitizer_setup():
    """Send the sanitizers' reports of every process we start (baton,
    and baton started by scripts) to files: exit statuses and stderr are
    the tests' business, and a SIGKILLed process loses its stderr file."""
    global _sanitizer_logs
    if not SANITIZER or _sanitizer_logs:
        return
    _sanitizer_logs = os.path.join(tmpdir(), "sanitizer")
    os.makedirs(_sanitizer_logs, exist_ok=True)
    for var, name in (("ASAN_OPTIONS", "asan"), ("UBSAN_OPTIONS", "ubsan"),
                      ("LSAN_OPTIONS", "lsan")):
        opts = [o for o in os.environ.get(var, "").split(":")
                if o and not o.startswith("log_path=")]
        opts.append("log_path=" + os.path.join(_sanitizer_logs, name))
        os.environ[var] = ":".join(opts)


_SANITIZER_TEXT = re.compile(r"runtime error:|ERROR: \w+Sanitizer")
# What LeakSanitizer writes when the process it checks at exit is
# SIGKILLed under it (its tracer finds the threads gone): no finding.
_LSAN_INTERRUPTED = re.compile(
    r"(==\d+==Unable to get registers from thread \d+\.\n?)+")


def sanitizer_reports():
    """[(file name, text)] of the sanitizer reports written so far: the
    log_path files, and (a second net: a report that went to stderr
    anyway) the stderr files of the Vms that contain one."""
    if not _sanitizer_logs:
        return []
    reports = []
    logged = set()          # Vms with a report in a log_path file
    for name in sorted(os.listdir(_sanitizer_logs)):
        with open(os.path.join(_sanitizer_logs, name), errors="replace") as f:
            text = f.read()
        pid = name.rsplit(".", 1)[-1]
        if (name.startswith("lsan.") and pid.isdigit() and
                int(pid) in _sigkilled and
                _LSAN_INTERRUPTED.fullmatch(text.strip() + "\n")):
            # A baton that was exiting on its own (a failed incoming
            # migration, say) when the test's clean-up killed it.
            print("note: %s: leak check cut short by the test's SIGKILL"
                  % name, flush=True)
            continue
        if text.strip():
            reports.append((name, text))
            logged.add(_launched.get(int(pid)) if pid.isdigit() else None)
    for name in sorted(os.listdir(tmpdir())):
        if (name.endswith("-stderr") and
                name[:-len("-stderr")] not in logged):
            with open(os.path.join(tmpdir(), name), errors="replace") as f:
                text = f.read()
            if _SANITIZER_TEXT.search(text):
                reports.append((name, text))
    return reports


class _Loader(unittest.TestLoader):
    """Leaves needs_kvm tests out of qtest-only runs."""

    def loadTestsFromTestCase(self, case):
        suite = super().loadTestsFromTestCase(case)
        if not QTEST_ONLY:
            return suite
        return self.suiteClass(t for t in suite if not _needs_kvm(t))


def main():
    """Run the file's tests (unittest's command line) and exit with 1 if
    any failed or a baton process had a sanitizer report; else with 77
    (meson: SKIP) if a test was skipped or none ran, printing why; else
    with 0. A file whose KVM tests cannot run here therefore never looks
    like a pass."""
    _sanitizer_setup()
    prog = unittest.main(module="__main__", testLoader=_Loader(), exit=False)
    result = prog.result
    reports = sanitizer_reports()
    for name, text in reports:
        pid = name.rsplit(".", 1)[-1]
        who = (_launched.get(int(pid), "?") if pid.isdigit()
               else name[:-len("-stderr")])
        print("\nSANITIZER REPORT %s (baton %s):\n%s" % (name, who, text),
              flush=True)
    if reports or not result.wasSuccessful():
        if reports:
            print("FAIL: %d sanitizer report(s)" % len(reports), flush=True)
        sys.exit(1)
    if result.testsRun == 0:
        skip("no test ran%s" % (" (qtest-only run)" if QTEST_ONLY else ""))
    if result.skipped:
        print("SKIP: %d of %d tests did not run:" % (len(result.skipped),
                                                    result.testsRun))
        for test, reason in result.skipped:
            print("  %s: %s" % (test.id(), reason))
        sys.exit(77)
    sys.exit(0)


def guest_image(name):
    """Path of GUEST_DIR/<name>.img; fails (not skips) if it is missing."""
    if not GUEST_DIR:
        raise RuntimeError("GUEST_DIR is not set")
    path = os.path.join(GUEST_DIR, name + ".img")
    if not os.path.exists(path):
        raise FileNotFoundError("guest image %s does not exist" % path)
    return path


def wait_for(predicate, timeout=DEFAULT_TIMEOUT, interval=0.05, what=None):
    """Poll predicate() until it returns a true value, and return that value.

    Raises TimeoutError naming `what` (or the predicate) after `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s"
                               % (timeout, what or predicate))
        time.sleep(interval)


def _connect_unix(path_or_sock, timeout=DEFAULT_TIMEOUT, check=None):
    """Return a connected socket; retry while the server is not yet up.
    `check`, if given, is called before each retry and may raise (e.g.
    when the server process has died)."""
    if isinstance(path_or_sock, socket.socket):
        return path_or_sock
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path_or_sock)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if check:
                check()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


class _LineSocket:
    """Buffered reads from a stream socket with per-call deadlines."""

    def __init__(self, sock):
        self.sock = sock
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = ""

    def fill(self, deadline):
        """Read one chunk into buf; raise on timeout or EOF."""
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.sock], [], [], left)[0]:
            raise TimeoutError("no reply; buffered: %r" % self.buf[-200:])
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed; buffered: %r"
                                  % self.buf[-200:])
        self.buf += self.decoder.decode(data)

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def close(self):
        self.sock.close()


class QmpError(Exception):
    """A QMP error reply; `cls` and `desc` come from its "error" member."""

    def __init__(self, cls, desc, reply=None):
        super().__init__("%s: %s" % (cls, desc))
        self.cls = cls
        self.desc = desc
        self.reply = reply


class QmpClient:
    """QMP client. Events seen at any time are kept in `events` (all of
    them, in order) and queued for get_event(). One command at a time."""

    def __init__(self, path_or_sock, timeout=DEFAULT_TIMEOUT):
        self.conn = _LineSocket(_connect_unix(path_or_sock, timeout))
        self.timeout = timeout
        self.events = []
        self._unclaimed = []
        self._replies = []
        self._json = json.JSONDecoder()
        self.greeting = self._read_message(time.monotonic() + timeout)
        if "QMP" not in self.greeting:
            raise QmpError("Protocol", "bad greeting %r" % self.greeting)

    def _parse_one(self):
        """Pop one complete JSON value off the buffer, or return None."""
        text = self.conn.buf.lstrip()
        if not text:
            self.conn.buf = ""
            return None
        try:
            msg, end = self._json.raw_decode(text)
        except json.JSONDecodeError:
            return None  # incomplete; garbage shows up in the timeout error
        self.conn.buf = text[end:]
        if not isinstance(msg, dict):
            raise QmpError("Protocol", "non-object message %r" % (msg,))
        return msg

    def _read_message(self, deadline):
        while True:
            msg = self._parse_one()
            if msg is not None:
                return msg
            self.conn.fill(deadline)

    def _pump(self, deadline):
        """Read one message, filing it as an event or a reply."""
        msg = self._read_message(deadline)
        if "event" in msg:
            self.events.append(msg)
            self._unclaimed.append(msg)
        else:
            self._replies.append(msg)

    def send_raw(self, data):
        """Send a dict (as JSON) or raw text/bytes without waiting."""
        if isinstance(data, dict):
            data = json.dumps(data)
        self.conn.send(data)

    def recv_reply(self, timeout=None):
        """Return the next non-event message."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self._replies:
            self._pump(deadline)
        return self._replies.pop(0)

    def cmd_raw(self, data, timeout=None):
        """Send a dict or raw text and return the full reply dict."""
        self.send_raw(data)
        return self.recv_reply(timeout)

    def cmd(self, name, arguments=None, **kwargs):
        """Run command `name`; return its "return" value or raise QmpError.

        Arguments come from the `arguments` dict and keyword arguments;
        use the dict for names that are not identifiers ("x-foo").
        """
        args = dict(arguments or {}, **kwargs)
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        reply = self.cmd_raw(msg)
        if "error" in reply:
            err = reply["error"]
            raise QmpError(err.get("class"), err.get("desc"), reply)
        return reply.get("return")

    def negotiate(self):
        """Leave capabilities negotiation mode."""
        return self.cmd("qmp_capabilities")

    def get_event(self, name, timeout=None):
        """Return (and consume) the first queued or next event `name`."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self._unclaimed):
                if ev["event"] == name:
                    return self._unclaimed.pop(i)
            self._pump(deadline)

    def clear_events(self):
        """Forget queued events (`events` keeps the full history)."""
        self._unclaimed = []

    def drain_events(self, timeout=0.0):
        """Read whatever arrives within `timeout` s without sending a
        command (events are filed as usual). Returns the message count."""
        deadline = time.monotonic() + timeout
        count = 0
        while True:
            try:
                self._pump(deadline)
            except TimeoutError:
                return count
            count += 1

    def close(self):
        self.conn.close()


class HmpClient:
    """Human monitor over a unix socket chardev in readline mode."""

    PROMPT = "(qemu) "
    _escape = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

    def __init__(self, path_or_sock, timeout=DEFAULT_TIMEOUT):
        self.conn = _LineSocket(_connect_unix(path_or_sock, timeout))
        self.timeout = timeout
        self.banner = self._read_to_prompt(time.monotonic() + timeout)

    def _read_to_prompt(self, deadline):
        while self.PROMPT not in self.conn.buf:
            self.conn.fill(deadline)
        out, _, self.conn.buf = self.conn.buf.partition(self.PROMPT)
        return self._escape.sub("", out).replace("\r", "")

    def cmd(self, text, timeout=None):
        """Run one command line and return its output, without the echo.

        QEMU-style readline echoes each keystroke with cursor movements,
        so the echo is the first line once it ends with the command text.
        """
        self.conn.send(text + "\n")
        deadline = time.monotonic() + (timeout or self.timeout)
        out = self._read_to_prompt(deadline)
        first, nl, rest = out.partition("\n")
        return rest if nl and first.endswith(text) else out

    def close(self):
        self.conn.close()


class QtestError(Exception):
    """A "FAIL ..." reply from the qtest server."""


class QtestClient:
    """qtest line protocol. Async "IRQ ..." lines are kept in `irqs`."""

    def __init__(self, path_or_sock, timeout=DEFAULT_TIMEOUT):
        self.conn = _LineSocket(_connect_unix(path_or_sock, timeout))
        self.timeout = timeout
        self.irqs = []

    def cmd(self, line):
        """Send one command line; return the words after "OK"."""
        self.conn.send(line + "\n")
        deadline = time.monotonic() + self.timeout
        while True:
            while "\n" not in self.conn.buf:
                self.conn.fill(deadline)
            reply, _, self.conn.buf = self.conn.buf.partition("\n")
            words = reply.strip().split()
            if words and words[0] == "IRQ":
                self.irqs.append(reply.strip())
            elif words and words[0] == "OK":
                return words[1:]
            elif words and words[0] == "FAIL":
                raise QtestError("%s: %s" % (line, " ".join(words[1:])))
            else:
                raise QtestError("%s: unexpected reply %r" % (line, reply))

    def _read(self, op, addr):
        return int(self.cmd("%s 0x%x" % (op, addr))[0], 16)

    def _write(self, op, addr, val):
        self.cmd("%s 0x%x 0x%x" % (op, addr, val))

    def readb(self, addr): return self._read("readb", addr)
    def readw(self, addr): return self._read("readw", addr)
    def readl(self, addr): return self._read("readl", addr)
    def readq(self, addr): return self._read("readq", addr)
    def writeb(self, addr, val): self._write("writeb", addr, val)
    def writew(self, addr, val): self._write("writew", addr, val)
    def writel(self, addr, val): self._write("writel", addr, val)
    def writeq(self, addr, val): self._write("writeq", addr, val)
    def inb(self, port): return self._read("inb", port)
    def inw(self, port): return self._read("inw", port)
    def inl(self, port): return self._read("inl", port)
    def outb(self, port, val): self._write("outb", port, val)
    def outw(self, port, val): self._write("outw", port, val)
    def outl(self, port, val): self._write("outl", port, val)

    def read(self, addr, size):
        """Read `size` bytes of guest memory."""
        hexdata = self.cmd("read 0x%x 0x%x" % (addr, size))[0]
        return bytes.fromhex(hexdata[2:] if hexdata.startswith("0x")
                             else hexdata)

    def write(self, addr, data):
        """Write bytes to guest memory."""
        self.cmd("write 0x%x 0x%x 0x%s" % (addr, len(data), bytes(data).hex()))

    def memset(self, addr, size, byte):
        self.cmd("memset 0x%x 0x%x 0x%x" % (addr, size, byte))

    def endianness(self):
        return self.cmd("endianness")[0]

    def close(self):
        self.conn.close()


class SerialClient:
    """Raw serial port over a unix socket. A background thread receives
    data and records (time.monotonic(), bytes) per chunk in `chunks`."""

    def __init__(self, path_or_sock, timeout=DEFAULT_TIMEOUT):
        self.sock = _connect_unix(path_or_sock, timeout)
        self.timeout = timeout
        self.chunks = []
        self.data = bytearray()
        self.pos = 0       # read_until() searches from here by default
        self.eof = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            with self._cond:
                if chunk:
                    self.chunks.append((time.monotonic(), chunk))
                    self.data += chunk
                else:
                    self.eof = True
                self._cond.notify_all()
            if not chunk:
                return

    def read_until(self, pattern, timeout=None, start=None):
        """Wait until `pattern` (bytes, str or compiled bytes regex) appears
        at or after offset `start` (default: the end of the previous match)
        and return all data received so far."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        start = self.pos if start is None else start
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while True:
                if isinstance(pattern, bytes):
                    idx = self.data.find(pattern, start)
                    end = idx + len(pattern) if idx >= 0 else None
                else:
                    m = pattern.search(self.data, start)
                    end = m.end() if m else None
                if end is not None:
                    self.pos = end
                    return bytes(self.data)
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise TimeoutError("%r not seen on serial (eof=%s); "
                                       "tail: %r" % (pattern, self.eof,
                                                     bytes(self.data[-200:])))
                self._cond.wait(left)

    def snapshot(self):
        """The data received so far (a copy, taken under the lock)."""
        with self._cond:
            return bytes(self.data)

    def wait_size(self, size, timeout=None):
        """Wait until at least SIZE bytes have arrived; return them all.
        Raises TimeoutError (or on EOF) with what did arrive."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while len(self.data) < size:
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    raise TimeoutError("%d of %d bytes on serial (eof=%s); "
                                       "tail: %r" % (len(self.data), size,
                                                     self.eof,
                                                     bytes(self.data[-80:])))
                self._cond.wait(left)
            return bytes(self.data)

    def wait_eof(self, timeout=None):
        """Wait until the peer has closed the connection (everything it
        sent has then arrived); return all the data."""
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("serial still open; tail: %r"
                                       % bytes(self.data[-80:]))
                self._cond.wait(left)
            return bytes(self.data)

    def gaps(self):
        """Time differences between consecutive received chunks."""
        with self._cond:
            times = [t for t, _ in self.chunks]
        return [b - a for a, b in zip(times, times[1:])]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(1)


class Vm:
    """One baton process. Sockets and output files live in tmpdir().

    Serial output sent before launch() connects to the serial socket is
    lost (wait=off); to see it all, pass "-S" and then send "cont".
    """

    _count = 0

    def __init__(self, args=(), qmp=True, serial_socket=False,
                 hmp_socket=False, name=None, binary=None):
        Vm._count += 1
        self.name = name or "vm%d" % Vm._count
        self.binary = binary or BATON
        if not self.binary:
            raise RuntimeError("BATON is not set to the baton binary")
        self.args = list(args)
        self.qmp_path = self.path("qmp.sock") if qmp else None
        self.serial_path = self.path("serial.sock") if serial_socket else None
        self.hmp_path = self.path("hmp.sock") if hmp_socket else None
        self.proc = None
        self.qmp = self.serial = self.hmp = None
        self._files = []
        # Variables added to the environment at launch (e.g. LD_PRELOAD).
        self.extra_env = {}

    def path(self, suffix):
        """A per-VM path in the temp dir, e.g. vm.path("qtest.sock")."""
        return os.path.join(tmpdir(), "%s-%s" % (self.name, suffix))

    def command(self):
        """The full command line launch() runs."""
        cmd = [self.binary]
        if self.qmp_path:
            cmd += ["-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        if self.serial_path:
            cmd += ["-chardev", "socket,id=ser0,path=%s,server=on,wait=off"
                    % self.serial_path, "-serial", "chardev:ser0"]
        if self.hmp_path:
            cmd += ["-chardev", "socket,id=hmp0,path=%s,server=on,wait=off"
                    % self.hmp_path, "-mon", "chardev=hmp0,mode=readline"]
        return cmd + self.args

    def launch(self, negotiate=True, timeout=DEFAULT_TIMEOUT):
        """Start the process and connect the configured clients."""
        out = open(self.path("stdout"), "wb")
        err = open(self.path("stderr"), "wb")
        self._files = [out, err]
        _sanitizer_setup()
        env = dict(os.environ, **self.extra_env) if self.extra_env else None
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=err, env=env)
        _launched[self.proc.pid] = self.name
        _live_vms.append(self)
        for sock in (self.qmp_path, self.serial_path, self.hmp_path):
            if sock:
                wait_for(lambda: os.path.exists(sock) or self._died(),
                         timeout, what="socket %s" % sock)
        try:
            if self.qmp_path:
                self.qmp = QmpClient(self._connect(self.qmp_path, timeout),
                                     timeout)
                if negotiate:
                    self.qmp.negotiate()
            if self.serial_path:
                self.serial = SerialClient(
                    self._connect(self.serial_path, timeout), timeout)
            if self.hmp_path:
                self.hmp = HmpClient(self._connect(self.hmp_path, timeout),
                                     timeout)
        except (OSError, TimeoutError, QmpError):
            try:
                self.proc.wait(1)  # a dying baton may need a moment
            except subprocess.TimeoutExpired:
                pass
            self._died()  # raises with baton's stderr if it exited
            raise
        return self

    def _connect(self, path, timeout):
        # Stop retrying at once if baton exits (its socket file may linger).
        return _connect_unix(path, timeout, check=self._died)

    def _died(self):
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited with %d during launch; stderr:\n%s"
                               % (self.name, self.proc.returncode,
                                  self.stderr_text()))
        return False

    @property
    def pid(self):
        return self.proc.pid

    def wait(self, timeout=DEFAULT_TIMEOUT):
        """Wait for exit and return the status (-N if killed by signal N).
        Raises subprocess.TimeoutExpired if still running."""
        status = self.proc.wait(timeout)
        self._reap()
        return status

    def kill(self):
        """SIGKILL the process (if running) and reap it."""
        if self.proc and self.proc.poll() is None:
            _sigkilled.add(self.proc.pid)
            self.proc.kill()
        if self.proc:
            self.wait(None)

    def shutdown(self, timeout=DEFAULT_TIMEOUT):
        """Ask to quit (QMP "quit", else SIGTERM); kill after `timeout`.
        Returns the exit status (None if never launched)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                if self.qmp:
                    self.qmp.cmd("quit")
                else:
                    self.proc.terminate()
            except (OSError, TimeoutError, QmpError):
                pass
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def _reap(self):
        for client in (self.qmp, self.serial, self.hmp):
            if client:
                client.close()
        self.qmp = self.serial = self.hmp = None
        for f in self._files:
            f.close()
        self._files = []
        if self in _live_vms:
            _live_vms.remove(self)

    def stdout_text(self):
        with open(self.path("stdout"), errors="replace") as f:
            return f.read()

    def stderr_text(self):
        with open(self.path("stderr"), errors="replace") as f:
            return f.read()

    def __enter__(self):
        return self if self.proc else self.launch()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.shutdown()
        else:
            self.kill()


# ---------------------------------------------------------------------------
# Migration helpers: the dirty guest (tests/guest/dirty/README.md), its
# consistency checks, and query-migrate polling.

PAGE_SIZE = 4096
DIRTY_PARAMS = 512              # image offset of the parameter block
DIRTY_MAGIC = b"DIRTYPB1"
DIRTY_STATUS = 0x5000           # u64 total increments, u64 lines printed
DIRTY_DEFAULT_START = 0x1000000
DIRTY_DEFAULT_PAGES = 256

# Every state in which a migration is still under way (QEMU's names).
MIGRATION_ACTIVE = ("setup", "active", "device", "pre-switchover",
                    "cancelling", "wait-unplug")


def dirty_image(start=DIRTY_DEFAULT_START, pages=DIRTY_DEFAULT_PAGES,
                sweeps_per_line=1, delay=None, name=None, marker=0):
    """Copy dirty.img into tmpdir() with its parameter block set and return
    the copy's path (delay None keeps the image's default). A nonzero
    MARKER keeps every page of the range nonzero (README: a migration then
    sends each dirty page in full)."""
    with open(guest_image("dirty"), "rb") as f:
        image = bytearray(f.read())
    off = DIRTY_PARAMS
    if image[off:off + 8] != DIRTY_MAGIC:
        raise RuntimeError("dirty.img has no parameter block at %d" % off)
    image[off + 8:off + 32] = b"".join(
        v.to_bytes(8, "little") for v in (start, pages, sweeps_per_line))
    if delay is not None:
        image[off + 32:off + 40] = delay.to_bytes(8, "little")
    image[off + 40:off + 48] = marker.to_bytes(8, "little")
    fd, path = tempfile.mkstemp(prefix=(name or "dirty") + "-", suffix=".img",
                                dir=tmpdir())
    with os.fdopen(fd, "wb") as f:
        f.write(image)
    return path


def dirty_split(values):
    """Check the first bytes of the pages of a dirty range: a prefix of
    pages holding v + 1 and a suffix holding v (mod 256). Returns (v, split),
    split = length of the prefix; a range of equal values gives (value, 0).
    Raises AssertionError naming the first page that breaks the pattern."""
    values = bytes(values)
    if not values:
        raise AssertionError("empty page range")
    last = values[-1]
    first = values[0]
    if first == last:
        split = 0
    elif first == (last + 1) & 0xff:
        split = values.index(last)
    else:
        raise AssertionError("page 0 holds %d and the last page %d: not v+1 "
                             "then v" % (first, last))
    for i, val in enumerate(values):
        want = (last + 1) & 0xff if i < split else last
        if val != want:
            raise AssertionError("page %d holds %d, expected %d (prefix of "
                                 "%d pages at %d, then %d)"
                                 % (i, val, want, split, (last + 1) & 0xff,
                                    last))
    return last, split


def dirty_expected(total, pages):
    """(v, split) of a range after `total` increments in order."""
    sweeps, split = divmod(total, pages)
    return sweeps & 0xff, split


def dirty_check_memory(qmp, start=DIRTY_DEFAULT_START,
                       pages=DIRTY_DEFAULT_PAGES, path=None):
    """Read the page range and the status block with QMP pmemsave (the
    guest should be stopped) and check the pattern, and that it matches the
    guest's increment counter (which may lag by one). Returns
    (v, split, total)."""
    path = path or os.path.join(tmpdir(), "pmem-%d" % os.getpid())
    qmp.cmd("pmemsave", val=DIRTY_STATUS, size=16, filename=path)
    with open(path, "rb") as f:
        total = int.from_bytes(f.read(8), "little")
    qmp.cmd("pmemsave", val=start, size=pages * PAGE_SIZE, filename=path)
    with open(path, "rb") as f:
        data = f.read()
    os.unlink(path)
    if len(data) != pages * PAGE_SIZE:
        raise AssertionError("pmemsave wrote %d bytes, not %d"
                             % (len(data), pages * PAGE_SIZE))
    v, split = dirty_split(data[::PAGE_SIZE])
    if (v, split) not in (dirty_expected(total, pages),
                          dirty_expected(total + 1, pages)):
        raise AssertionError("pages hold v=%d split=%d but the guest counted "
                             "%d increments of %d pages" % (v, split, total,
                                                             pages))
    return v, split, total


_SEQ_LINE = re.compile(rb"seq (\d+)\n")


def dirty_check_serial(data):
    """Check serial output of the dirty guest: exactly "dirty ready\\n",
    "seq 0\\n", "seq 1\\n", ... (the last line may be incomplete). Returns
    the last complete number (-1 if none). Raises AssertionError."""
    data = bytes(data)
    head = b"dirty ready\n"
    if not data.startswith(head):
        if head.startswith(data):
            return -1
        raise AssertionError("serial does not start with %r: %r"
                             % (head, data[:60]))
    pos, expect = len(head), 0
    while True:
        m = _SEQ_LINE.match(data, pos)
        if not m:
            break
        if int(m.group(1)) != expect:
            raise AssertionError("serial has %r at offset %d where seq %d "
                                 "belongs; around it: %r"
                                 % (m.group(0), pos, expect,
                                    data[max(0, pos - 40):pos + 40]))
        pos, expect = m.end(), expect + 1
    tail = data[pos:]
    if not (b"seq %d\n" % expect).startswith(tail):
        raise AssertionError("serial has %r at offset %d where seq %d "
                             "belongs; before it: %r"
                             % (tail[:40], pos, expect,
                                data[max(0, pos - 40):pos]))
    return expect - 1


def dirty_text(lines):
    """The dirty guest's serial output up to and including "seq LINES-1"."""
    return b"dirty ready\n" + b"".join(b"seq %d\n" % i
                                       for i in range(lines))


def dirty_source_output(src, dst, prefix=b"", timeout=20.0):
    """All the serial output of a migration source, once it has arrived.
    SRC and DST are the SerialClients of source and destination; PREFIX
    what earlier hosts of the guest printed. The destination's first
    complete line "seq N", at offset OFF of its output, says where the
    source stopped: N lines, less the OFF bytes the destination printed
    before that line. Waiting for exactly that much is the barrier
    against bytes still in flight to SRC's reader; a source that lost
    bytes never gets there (TimeoutError), one that printed more than that
    shows up in dirty_check_serial() of the concatenation."""
    data = dst.read_until(_SEQ_LINE, timeout=timeout, start=0)
    first = _SEQ_LINE.search(data)
    want = len(dirty_text(int(first.group(1)))) - first.start()
    return prefix + src.wait_size(want - len(prefix), timeout)


def seq_numbers(data):
    """All complete "seq N" numbers in serial output, in order."""
    return [int(n) for n in _SEQ_LINE.findall(bytes(data))]


def enter_netns():
    """Move this test process (and every process it starts later) into a
    network namespace of its own, loopback up and IPv6 off (no router
    solicitations on the taps it creates), so a test may create taps and
    bridges without touching the host's. Returns None, or why not (the
    test then skips with that reason)."""
    import ctypes
    clone_newnet = 0x40000000
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(clone_newnet) != 0:
        return "no network namespace of our own (unshare: %s)" \
            % os.strerror(ctypes.get_errno())
    with open("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w") as f:
        f.write("1")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return None


def free_tcp_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_migration(qmp, until=("completed",), timeout=30.0, interval=0.02):
    """Poll query-migrate until its status is in `until`; return the reply.
    Raises AssertionError if it settles in another final state first
    (failed, cancelled, completed) and TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        info = qmp.cmd("query-migrate")
        status = info.get("status", "none")
        if status in until:
            return info
        if status in ("failed", "cancelled", "completed"):
            raise AssertionError("migration ended %s, not %s: %r"
                                 % (status, "/".join(until), info))
        if time.monotonic() >= deadline:
            raise TimeoutError("migration still %s after %.1fs: %r"
                               % (status, timeout, info))
        time.sleep(interval)


def wait_runstate(qmp, status, timeout=DEFAULT_TIMEOUT):
    """Poll query-status until its status is `status`; return the reply."""
    last = []

    def check():
        last[:] = [qmp.cmd("query-status")]
        return last[0]["status"] == status and last[0]
    try:
        return wait_for(check, timeout, what="runstate %s" % status)
    except TimeoutError:
        raise TimeoutError("runstate still %r, not %s" % (last[0], status))


def qmp_cmd_with_fd(qmp, fd, name, arguments=None, **kwargs):
    """Run QMP command `name` with `fd` attached (SCM_RIGHTS), as getfd
    and add-fd need; returns its "return" value or raises QmpError."""
    msg = {"execute": name, "arguments": dict(arguments or {}, **kwargs)}
    socket.send_fds(qmp.conn.sock, [json.dumps(msg).encode()], [fd])
    reply = qmp.recv_reply()
    if "error" in reply:
        err = reply["error"]
        raise QmpError(err.get("class"), err.get("desc"), reply)
    return reply.get("return")


_MAIN_CASE = """
import unittest, baton_test
class T(unittest.TestCase):
    def test_runs(self):
        self.assertTrue(%s)
    @baton_test.needs_kvm
    def test_kvm(self):
        pass
    %s
    def test_other(self):
        pass
baton_test.main()
"""


def _self_test_main():
    """main()'s exit statuses: 0 only if every test ran and passed."""
    here = os.path.dirname(os.path.abspath(__file__))
    kvm = kvm_usable()
    cases = [
        # (test_runs passes, extra decorator, qtest-only, expected status)
        (True, "", False, 0 if kvm else 77),
        (False, "", False, 1),
        (True, "@unittest.skip('no')", False, 77),
        (True, "", True, 0),                    # test_kvm left out
        (True, "@baton_test.needs_kvm", True, 0),
    ]
    for i, (ok, deco, qtest_only, want) in enumerate(cases):
        path = os.path.join(tmpdir(), "main_case%d.py" % i)
        with open(path, "w") as f:
            f.write(_MAIN_CASE % (ok, deco))
        env = dict(os.environ, PYTHONPATH=here, PYTHONDONTWRITEBYTECODE="1")
        env.pop("BATON_TEST_ACCEL", None)
        if qtest_only:
            env["BATON_TEST_ACCEL"] = "qtest"
        proc = subprocess.run([sys.executable, path], env=env,
                              capture_output=True, text=True)
        assert proc.returncode == want, (i, proc.returncode, want,
                                         proc.stdout, proc.stderr)


def _self_test_migration():
    assert dirty_split([5, 5, 5]) == (5, 0)
    assert dirty_split([6, 6, 5]) == (5, 2)
    assert dirty_split([0, 255, 255]) == (255, 1)
    for bad in ([5, 6, 6], [6, 5, 6], [5, 7], [6, 5, 5, 4]):
        try:
            dirty_split(bad)
            raise RuntimeError("dirty_split(%r) passed" % bad)
        except AssertionError:
            pass
    assert dirty_expected(0, 4) == (0, 0)
    assert dirty_expected(6, 4) == (1, 2)
    assert dirty_expected(4 * 256 + 1, 4) == (0, 1)
    assert dirty_check_serial(b"dirty ready\nseq 0\nseq 1\nse") == 1
    assert dirty_check_serial(b"dirty rea") == -1
    assert dirty_check_serial(b"dirty ready\n") == -1
    for bad in (b"dirty ready\nseq 1\n", b"dirty ready\nseq 0\nseq 0\n",
                b"dirty ready\nseq 0\nseq 2\n", b"dirty ready\nseq 0\nsex",
                b"dirty ready\ndirty ready\n", b"xdirty ready\n"):
        try:
            dirty_check_serial(bad)
            raise RuntimeError("dirty_check_serial(%r) passed" % bad)
        except AssertionError:
            pass
    assert seq_numbers(b"seq 3\nseq 4\nseq 5") == [3, 4]


# ---------------------------------------------------------------------------
# CPR (live update, docs/system/live-update.md) helpers: a dirty guest whose
# QMP and serial clients stay connected to the sockets of the first process
# while the guest moves to new processes (cpr-transfer) or images
# (cpr-exec).

MEMFD_RAM = ["-object", "memory-backend-memfd,id=ram0,size=%s",
             "-machine", "pc,memory-backend=ram0"]


def memfd_ram_args(mem):
    """-object/-machine arguments for MEM ("256M") of memfd guest RAM."""
    return [a % mem if "%s" in a else a for a in MEMFD_RAM] + ["-m", mem]


def cpr_channels(main_path, cpr_addr):
    """`migrate` channels: main over a unix socket (None: no main
    channel) and cpr at CPR_ADDR (a path or an addr dict; None: none)."""
    chans = []
    if main_path:
        chans.append({"channel-type": "main",
                      "addr": {"transport": "socket", "type": "unix",
                               "path": main_path}})
    if cpr_addr:
        if isinstance(cpr_addr, str):
            cpr_addr = {"transport": "socket", "type": "unix",
                        "path": cpr_addr}
        chans.append({"channel-type": "cpr", "addr": cpr_addr})
    return chans


def cpr_incoming_args(main, cpr_path):
    """-incoming arguments of a cpr-transfer target: MAIN is a unix socket
    path or "defer"; the cpr channel in dotted-key form."""
    return ["-incoming", main if main == "defer" else "unix:" + main,
            "-incoming", "cpr,addr.transport=socket,addr.type=unix,"
            "addr.path=" + cpr_path]


def unix_listening(path):
    """True if a socket listens on unix path PATH (/proc/net/unix)."""
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (len(fields) >= 8 and fields[7] == path
                    and int(fields[3], 16) & 0x10000):
                return True
    return False


def proc_fds(pid):
    """{fd: link target} of process PID."""
    fds = {}
    base = "/proc/%d/fd" % pid
    for name in os.listdir(base):
        try:
            fds[int(name)] = os.readlink(os.path.join(base, name))
        except OSError:
            pass
    return fds


def proc_rss(pid):
    """VmRSS of process PID in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def proc_image_id(pid):
    """Something that changes when PID exec()s: its command line and
    auxiliary vector (stack and AT_RANDOM addresses move under ASLR)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read()
        with open("/proc/%d/auxv" % pid, "rb") as f:
            return cmdline + b"\0\0" + f.read()
    except OSError:
        return None


def event_seconds(ev):
    ts = ev["timestamp"]
    return ts["seconds"] + ts["microseconds"] / 1e6


class CprGuest:
    """The dirty guest under live update. The first process is a Vm
    started with -S; its QMP and serial clients (`qmp`, `serial`) stay
    connected across every update, to whichever process owns the guest.
    `vm` is the Vm whose process runs the guest now; `argv` the command
    line that new processes repeat (without -S). Every update appends a
    dict of figures to `updates`."""

    def __init__(self, args, name="cpr", start=DIRTY_DEFAULT_START,
                 pages=DIRTY_DEFAULT_PAGES, delay=None, binary=None,
                 boot_timeout=DEFAULT_TIMEOUT):
        self.start, self.pages, self.name = start, pages, name
        self.image = dirty_image(start=start, pages=pages, delay=delay,
                                 name=name)
        self.args = list(args) + ["-drive", "file=%s,format=raw"
                                  % self.image]
        vm = Vm(self.args + ["-S"], serial_socket=True, name=name,
                binary=binary)
        try:
            vm.launch()
        except Exception:
            vm.kill()
            raise
        self.vm = vm
        self.qmp, self.serial = vm.qmp, vm.serial
        vm.qmp = vm.serial = None       # they outlive this process
        self.argv = vm.command()[:-1]   # without the trailing -S
        self.count = 0
        self.updates = []
        self.retired = []               # earlier Vms (exited or killed)
        self.qmp.cmd("cont")
        self.serial.read_until(b"seq 5\n", timeout=boot_timeout)
        self.last_total = None

    @property
    def pid(self):
        return self.vm.pid

    def close(self):
        """Kill every process and close the clients."""
        for vm in [self.vm] + self.retired:
            vm.kill()
        self.qmp.close()
        self.serial.close()

    def paths(self):
        self.count += 1
        return (self.vm.path("main%d.sock" % self.count),
                self.vm.path("cpr%d.sock" % self.count))

    def start_new(self, incoming, argv=None, env=None, name=None):
        """Launch a process with ARGV (default: the guest's) plus
        INCOMING; no client connects to it. Returns the Vm."""
        argv = list(argv or self.argv)
        new = Vm(argv[1:] + list(incoming), qmp=False, binary=argv[0],
                 name=name or "%s-n%d" % (self.name, self.count))
        if env:
            saved = dict(os.environ)
            os.environ.update(env)
        try:
            new.launch()
        finally:
            if env:
                os.environ.clear()
                os.environ.update(saved)
        return new

    def wait_listening(self, vm, path, timeout=DEFAULT_TIMEOUT):
        wait_for(lambda: unix_listening(path) or vm._died(), timeout,
                 interval=0.005, what="%s listening on %s" % (vm.name, path))

    def begin_transfer(self, main=None, argv=None, env=None, new_name=None):
        """Start the new process and issue `migrate` on the old one
        (cpr-transfer). MAIN: "defer" or None (a unix socket). Returns
        (new Vm, mark) for finish_transfer()."""
        main_path, cpr_path = self.paths()
        new = self.start_new(cpr_incoming_args(main or main_path, cpr_path),
                             argv, env, new_name)
        try:
            self.wait_listening(new, cpr_path)
            mark = self.mark()
            self.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
            self.qmp.cmd("migrate",
                         channels=cpr_channels(main_path, cpr_path))
        except Exception:
            new.kill()
            raise
        return new, mark

    def mark(self):
        """Where we are: wall time, monotonic time, events seen."""
        return {"time": time.time(), "mono": time.monotonic(),
                "events": len(self.qmp.events),
                "serial": len(self.serial.data)}

    def finish_transfer(self, new, mark, quit_old=True, timeout=30.0):
        """Wait for the switch; the old process quits (SIGTERM). Returns
        the update's figures."""
        info = wait_migration(self.qmp, timeout=timeout, interval=0.005)
        wait_runstate(self.qmp, "running")
        resumed = time.monotonic()
        old = self.vm
        if quit_old:
            old.proc.terminate()
            status = old.wait()
            if status != 0:
                raise AssertionError("old process (pid %d) exited with %d "
                                     "after the update; stderr: %s"
                                     % (old.pid, status, old.stderr_text()))
        self.retired.append(old)
        self.vm = new
        return self._figures("cpr-transfer", mark, info, resumed)

    def transfer(self, **kwargs):
        new, mark = self.begin_transfer()
        return self.finish_transfer(new, mark, **kwargs)

    def exec_update(self, argv=None, timeout=30.0):
        """cpr-exec: the process exec()s ARGV (default: the guest's
        command line) + -incoming defer; migrate-incoming resumes it."""
        self.count += 1
        state = self.vm.path("state%d" % self.count)
        argv = list(argv or self.argv) + ["-incoming", "defer"]
        before = proc_image_id(self.pid)
        mark = self.mark()
        self.qmp.cmd("migrate-set-parameters",
                     {"mode": "cpr-exec", "cpr-exec-command": argv})
        self.qmp.cmd("migrate", uri="file:" + state)
        # No command until the exec: one read by the old image just
        # before it could be lost (the new image answers the rest).
        wait_for(lambda: self.vm._died() or
                 proc_image_id(self.pid) not in (before, None),
                 timeout, interval=0.002, what="exec of pid %d" % self.pid)
        self.qmp.cmd("migrate-incoming", uri="file:" + state)
        wait_runstate(self.qmp, "running", timeout)
        resumed = time.monotonic()
        # The incoming side reports "completed" just after the guest
        # resumes (as QEMU's does): wait for it, not for the runstate.
        def completed():
            i = self.qmp.cmd("query-migrate")
            return i if i.get("status") == "completed" else None
        info = wait_for(completed, timeout, interval=0.002,
                        what="incoming migration completed")
        os.unlink(state)
        self.vm.args = argv[1:]
        return self._figures("cpr-exec", mark, info, resumed)

    def _figures(self, mode, mark, info, resumed):
        """Pause figures of the update that started at MARK."""
        self.qmp.cmd("query-status")        # collect the events sent so far
        events = self.qmp.events[mark["events"]:]
        stop = next((e for e in events if e["event"] == "STOP"), None)
        resume = next((e for e in events if e["event"] == "RESUME"
                       and (stop is None or event_seconds(e)
                            >= event_seconds(stop))), None)
        new_info = self.qmp.cmd("query-migrate")
        fig = {
            "mode": mode, "pid": self.pid,
            "stop-resume": ((event_seconds(resume) - event_seconds(stop))
                            * 1e3 if stop and resume else None),
            "downtime": new_info.get("downtime", info.get("downtime")),
            "phases": new_info.get("x-pause-phases",
                                   info.get("x-pause-phases")),
            "gap": self.serial_gap(mark["mono"], resumed) * 1e3,
            "info": new_info, "old-info": info,
        }
        self.updates.append(fig)
        return fig

    def serial_gap(self, since, until):
        """Largest gap (s) between serial chunks that spans a moment of
        [since, until + 0.1 s]."""
        with self.serial._cond:
            times = [t for t, _ in self.serial.chunks]
        gap = 0.0
        for a, b in zip(times, times[1:]):
            if b >= since and a <= until + 0.1:
                gap = max(gap, b - a)
        return gap

    def check(self, lines=3, memory=True):
        """The guest goes on: LINES more serial lines, no loss or
        duplicate since boot, client still connected; if MEMORY: stop,
        check the page pattern (and progress since the last check),
        cont. Returns the last sequence number."""
        if self.serial.eof:
            raise AssertionError("the serial client saw a disconnect")
        last = dirty_check_serial(self.serial.snapshot())
        self.serial.read_until(b"\nseq %d\n" % (last + lines), timeout=20,
                               start=0)
        if memory:
            self.qmp.cmd("stop")
            try:
                total = dirty_check_memory(self.qmp, self.start,
                                           self.pages)[2]
            finally:
                self.qmp.cmd("cont")
            if self.last_total is not None and total <= self.last_total:
                raise AssertionError("guest made no progress: %d increments "
                                     "after %d" % (total, self.last_total))
            self.last_total = total
        if self.serial.eof:
            raise AssertionError("the serial client saw a disconnect")
        return dirty_check_serial(self.serial.snapshot())

    def resources(self):
        """(fd count, RSS bytes) of the process running the guest."""
        return len(proc_fds(self.pid)), proc_rss(self.pid)


# ---------------------------------------------------------------------------
# Self-test against fake servers: python3 baton_test.py


def _serve(sock, script):
    """Fake server: for each (expect, chunks) step, read until `expect` is
    seen (None: don't read), then send each chunk separately."""
    buf = b""
    for expect, chunks in script:
        while expect is not None and expect not in buf:
            buf += sock.recv(4096)
        buf = buf[buf.find(expect) + len(expect):] if expect else buf
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(0.01)
    while sock.recv(4096):
        pass  # until the client closes
    sock.close()


def _fake(script):
    ours, theirs = socket.socketpair()
    threading.Thread(target=_serve, args=(theirs, script), daemon=True).start()
    return ours


def _self_test():
    greeting = (b'{"QMP": {"version": {"qemu": {"major": 9}}, '
                b'"capabilities": []}}\r\n')
    ev = (b'{"event": "STOP", '
          b'"timestamp": {"seconds": 1, "microseconds": 2}}\r\n')
    qmp = QmpClient(_fake([
        (None, [greeting[:7], greeting[7:]]),
        (b"qmp_capabilities", [b'{"retu', b'rn": {}}\r\n']),
        (b'"stop"', [ev + b'{"return": {"s": "\xc3', b'\xa9"}}\r\n']),
        (b'"bogus"', [b'{"error": {"class": "CommandNotFound", '
                      b'"desc": "The command bogus has not been found"}}\r\n'
                      + ev.replace(b"STOP", b"RESUME")]),
        (b"raw", [b'  {"return": []}\r\n']),
    ]))
    assert qmp.greeting["QMP"]["version"]["qemu"]["major"] == 9
    assert qmp.negotiate() == {}
    assert qmp.cmd("stop") == {"s": "\u00e9"}, "split UTF-8"
    try:
        qmp.cmd("bogus")
        raise AssertionError("no QmpError")
    except QmpError as e:
        assert e.cls == "CommandNotFound" and "bogus" in e.desc
    assert qmp.cmd_raw('{"execute": "raw"}') == {"return": []}
    assert qmp.get_event("RESUME")["event"] == "RESUME"
    assert qmp.get_event("STOP")["timestamp"]["microseconds"] == 2
    assert [e["event"] for e in qmp.events] == ["STOP", "RESUME"]

    qt = QtestClient(_fake([
        (b"readb 0x1000\n", [b"IRQ raise 4\nOK 0x", b"2a\n"]),
        (b"read 0x10000 0x4\n", [b"OK 0x0102abff\n"]),
        (b"write 0x20 0x2 0xbeef\n", [b"OK\n"]),
        (b"inb 0x3fd\n", [b"FAIL unknown port\n"]),
        (b"endianness\n", [b"OK little\n"]),
    ]))
    assert qt.readb(0x1000) == 0x2a and qt.irqs == ["IRQ raise 4"]
    assert qt.read(0x10000, 4) == b"\x01\x02\xab\xff"
    qt.write(0x20, b"\xbe\xef")
    try:
        qt.inb(0x3fd)
        raise AssertionError("no QtestError")
    except QtestError as e:
        assert "unknown port" in str(e)
    assert qt.endianness() == "little"

    hmp = HmpClient(_fake([
        (None, [b"QEMU 9.0.0 monitor - type 'help' for more information\r\n",
                b"(qemu) "]),
        (b"info status\n", [b"info status\r\n", b"VM status: running\r\n"
                            b"(qemu) "]),
    ]))
    assert hmp.banner.startswith("QEMU 9.0.0 monitor")
    assert hmp.cmd("info status") == "VM status: running\n"

    ser = SerialClient(_fake([(None, [b"Baton hel", b"lo\nseq 0\n",
                                      b"seq 1\n"])]))
    assert ser.read_until(b"Baton hello\n").startswith(b"Baton hello\n")
    ser.read_until(re.compile(rb"seq (\d+)\n"))
    assert ser.read_until("seq 1\n").endswith(b"seq 1\n")
    # Chunks sent apart may still arrive together: count 1 to 3.
    assert 1 <= len(ser.chunks) <= 3 and all(g >= 0 for g in ser.gaps())
    assert b"".join(c for _, c in ser.chunks) == ser.snapshot()
    try:
        ser.read_until(b"never", timeout=0.2)
        raise AssertionError("no TimeoutError")
    except TimeoutError:
        pass
    assert wait_for(lambda: 42, timeout=1) == 42
    for client in (qmp, qt, hmp, ser):
        client.close()
    _self_test_migration()
    _self_test_main()
    print("baton_test self-test: OK")


if __name__ == "__main__":
    _self_test()


class VmTestCase(unittest.TestCase):
    """A TestCase whose launch() kills the VM at cleanup and shows its
    stderr and exit status if anything looks odd."""

    def launch(self, vm):
        try:
            vm.launch()
        except Exception:
            vm.kill()
            raise
        self.addCleanup(self.reap, vm)
        return vm

    def reap(self, vm):
        """Kill VM; show its stderr and how it ended, if anything is odd."""
        status = vm.proc.poll()
        vm.kill()
        err = vm.stderr_text().strip()
        if err or status not in (None, 0):
            print("\n[%s: %s; stderr: %s]" % (
                vm.name, "running" if status is None
                else "exit status %d" % status, err or "(empty)"))


# ---------------------------------------------------------------------------
# CRC-32C, the migration stream's record checksum (util/crc32c.c)

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C of DATA, continuing CRC (0 to start), like crc32c_update()."""
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _CRC32C_TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------
# Monitor load

class QmpFlood:
    """A QMP client on the connected socket SOCK that pipelines
    query-status / query-migrate with ids 1, 2, ... (keeping up to DEPTH
    unanswered, so that the monitor always has a backlog) until stop();
    a reader thread records the ids of the replies in `ids`. For
    monitor-load tests and benchmarks."""

    DEPTH = 400

    def __init__(self, sock, depth=DEPTH):
        self.sock = sock
        self.depth = depth
        self.ids = []
        self.sent = 0
        self.eof = False
        self.stopping = False
        self.cond = threading.Condition()
        self.buf = b""
        self._read_until(b"\n")                     # greeting
        sock.sendall(b'{"execute": "qmp_capabilities"}\n')
        self._read_until(b"\n")
        self.reader = threading.Thread(target=self._reader, daemon=True)
        self.writer = threading.Thread(target=self._writer, daemon=True)
        self.reader.start()
        self.writer.start()

    def _read_until(self, mark):
        while mark not in self.buf:
            self.buf += self.sock.recv(4096)
        _, _, self.buf = self.buf.partition(mark)

    def _writer(self):
        names = ("query-status", "query-migrate")
        while True:
            with self.cond:
                while (not self.stopping and
                       self.sent - len(self.ids) >= self.depth):
                    self.cond.wait()
                if self.stopping:
                    return
                first = self.sent + 1
                self.sent += max(self.depth // 4, 1)
                last = self.sent
            batch = "".join('{"execute": "%s", "id": %d}\n'
                            % (names[i % 2], i)
                            for i in range(first, last + 1))
            try:
                self.sock.sendall(batch.encode())
            except OSError:
                return

    def _reader(self):
        pat = re.compile(rb'"id": (\d+)')
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            with self.cond:
                if not data:
                    self.eof = True
                    self.cond.notify_all()
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    m = pat.search(line)
                    if m and b'"return"' in line:
                        self.ids.append(int(m.group(1)))
                self.cond.notify_all()

    def wait_replies(self, n):
        with self.cond:
            deadline = time.monotonic() + 30
            while len(self.ids) < n and not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("flood: %d replies, not %d"
                                       % (len(self.ids), n))
                self.cond.wait(left)

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        self.writer.join(30)
        return self.sent

    def wait_all(self, n):
        self.wait_replies(n)
        with self.cond:
            return list(self.ids)


def cpr_transfer_to(launch, vm, qmp, argv, name, timeout=30.0):
    """Live-update VM by cpr-transfer into a new process running ARGV
    (a command line without -incoming; QMP stays on the old socket path,
    which the new process takes over), started by LAUNCH (a test case's
    launch) as NAME. Waits until it runs, checks that the old process
    exits 0, and returns the new Vm."""
    main = vm.path("%s-main.sock" % name)
    cpr = vm.path("%s-cpr.sock" % name)
    new = launch(Vm(list(argv[1:]) + cpr_incoming_args(main, cpr), qmp=False,
                    binary=argv[0], name=name))
    wait_for(lambda: unix_listening(cpr) or new._died(), timeout,
             interval=0.005, what="cpr channel %s" % cpr)
    qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
    qmp.cmd("migrate", channels=cpr_channels(main, cpr))
    wait_migration(qmp, timeout=timeout, interval=0.005)
    wait_runstate(qmp, "running", timeout)
    vm.proc.terminate()
    status = vm.wait()
    if status != 0:
        raise AssertionError("the old process exited with %d: %s"
                             % (status, vm.stderr_text()))
    return new


def cpr_exec_to(vm, qmp, argv, timeout=30.0, until="running"):
    """Live-update VM by cpr-exec into ARGV (a command line without
    -incoming) through a file: state, as QEMU's CPR docs do it, and wait
    until the new image is in run state UNTIL (a guest stopped before
    the update comes back "paused")."""
    state = vm.path("cpr-exec-state")
    before = proc_image_id(vm.pid)
    qmp.cmd("migrate-set-parameters",
            {"mode": "cpr-exec",
             "cpr-exec-command": list(argv) + ["-incoming", "defer"]})
    qmp.cmd("migrate", uri="file:" + state)
    wait_for(lambda: vm._died() or
             proc_image_id(vm.pid) not in (before, None),
             timeout, interval=0.002, what="exec of the new image")
    qmp.cmd("migrate-incoming", uri="file:" + state)
    wait_runstate(qmp, until, timeout)
    os.unlink(state)
