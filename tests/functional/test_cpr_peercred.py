# SPDX-License-Identifier: GPL-2.0-or-later
"""The new process of a cpr-transfer takes a guest only from its own user
or root (SO_PEERCRED): a connection from another uid (nobody) to its cpr
socket, then to its main socket, is closed with one log line naming that
uid, and the real update then goes through on the same process. The
sockets are made world-writable here so that the other uid can connect
at all (with the default umask it could not). Needs root (setuid) and
KVM; skips (exit 77) without them."""

import os
import socket
import sys

import baton_test
from baton_test import (CprGuest, cpr_channels, cpr_incoming_args,
                        memfd_ram_args, require_kvm, skip, unix_listening,
                        wait_for, wait_migration, wait_runstate)

KVM = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1"]
NOBODY = 65534


def connect_as(uid, path):
    """From a child running as UID: connect to PATH, send a few bytes,
    read until the peer closes. Returns the child's verdict: "closed"
    (EOF or reset: refused after accept), "refused" (connect failed) or
    "open" (no EOF within 10 s). Forked, not exec'd: the child needs no
    interpreter it may execute."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        verdict = b"open"
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            try:
                s.connect(path)
            except OSError:
                verdict = b"refused"
            else:
                try:
                    s.sendall(b"not a cpr state\n")
                    verdict = b"open" if s.recv(1) else b"closed"
                except (ConnectionError, BrokenPipeError):
                    verdict = b"closed"
                except socket.timeout:
                    verdict = b"open"
            os.write(wfd, verdict)
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as r:
        verdict = r.read().decode()
    os.waitpid(pid, 0)
    return verdict


def open_to_all(path):
    os.chmod(path, 0o777)


def main():
    if os.geteuid() != 0:
        skip("needs root to connect as another uid")
    require_kvm()
    g = CprGuest(KVM + memfd_ram_args("256M"), name="peercred")
    new = None
    try:
        # The other uid must reach the sockets: the temp dir is 0700.
        os.chmod(baton_test.tmpdir(), 0o711)
        g.check(memory=False)
        main_path, cpr_path = g.paths()
        # The old process will dial MAIN2; it becomes a link to the real
        # main socket only after the stranger was turned away there.
        main2 = main_path + ".later"
        new = g.start_new(cpr_incoming_args(main_path, cpr_path))
        g.wait_listening(new, cpr_path)
        open_to_all(cpr_path)

        verdict = connect_as(NOBODY, cpr_path)
        assert verdict == "closed", "cpr channel: stranger's connection " \
            "was %s, not closed" % verdict
        log = new.stderr_text()
        lines = [l for l in log.splitlines()
                 if "refused a connection from uid %d" % NOBODY in l]
        assert len(lines) == 1 and lines[0].count("cpr channel") == 1, log
        print("new process: %s" % lines[0])
        assert unix_listening(cpr_path), "the new process stopped waiting"

        g.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        g.qmp.cmd("migrate", channels=cpr_channels(main2, cpr_path))
        wait_for(lambda: unix_listening(main_path) or new._died(),
                 timeout=20, what="the new process listening on main")
        open_to_all(main_path)
        verdict = connect_as(NOBODY, main_path)
        assert verdict == "closed", "main channel: stranger's connection " \
            "was %s, not closed" % verdict
        log = new.stderr_text()
        lines = [l for l in log.splitlines() if "main channel: refused a "
                 "connection from uid %d" % NOBODY in l]
        assert len(lines) == 1, log
        print("new process: %s" % lines[0])

        os.symlink(main_path, main2)
        wait_migration(g.qmp, timeout=30)
        wait_runstate(g.qmp, "running")
        g.vm.proc.terminate()
        assert g.vm.wait() == 0, g.vm.stderr_text()
        g.retired.append(g.vm)
        g.vm = new
        g.check()
        print("the real update then went through: guest running in pid %d"
              % new.pid)
    finally:
        g.close()
        if new:
            new.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
