# SPDX-License-Identifier: GPL-2.0-or-later
"""Boot latency: process start to the first serial byte of the hello guest
under KVM, over RUNS runs. The guest's serial is a client socket connecting
to our listener, so no byte can be lost. Prints figures, never judges them."""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = 10
TIMEOUT = 20.0


def one_run(baton, image, sock_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    listener.settimeout(TIMEOUT)
    cmd = [baton, "-nodefaults", "-display", "none", "-accel", "kvm",
           "-machine", "pc", "-m", "32M",
           "-drive", "file=%s,format=raw" % image,
           "-chardev", "socket,id=s0,path=%s" % sock_path,
           "-serial", "chardev:s0"]
    conn = None
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        first = conn.recv(1)
        t1 = time.perf_counter()
        if first != b"B":
            raise RuntimeError("first serial byte was %r, not b'B'" % first)
        return t1 - t0
    except (OSError, socket.timeout) as e:
        proc.kill()
        err = proc.communicate()[1].decode(errors="replace")
        raise RuntimeError("no serial byte from baton (%s); status %s, "
                           "stderr: %s" % (e, proc.returncode, err.strip()))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()
        if conn:
            conn.close()
        listener.close()
        os.unlink(sock_path)


def main():
    baton = os.environ.get("BATON")
    guest_dir = os.environ.get("GUEST_DIR")
    if not baton or not guest_dir:
        print("bench_boot: set BATON and GUEST_DIR", file=sys.stderr)
        return 2
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        print("bench_boot: SKIPPED: /dev/kvm is not usable (%s)" % e.strerror)
        return 77
    image = os.path.join(guest_dir, "hello.img")
    print("bench_boot: process start -> first serial byte ('B'), "
          "hello guest, KVM, %d runs" % RUNS)
    times = []
    with tempfile.TemporaryDirectory(prefix="baton-bench-") as tmp:
        for i in range(RUNS):
            ms = one_run(baton, image, os.path.join(tmp, "serial.sock")) * 1e3
            times.append(ms)
            print("  run %2d: %8.2f ms" % (i + 1, ms), flush=True)
    print("  median: %8.2f ms" % statistics.median(times))
    print("  min:    %8.2f ms" % min(times))
    print("  max:    %8.2f ms" % max(times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
