#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Demo: boot the hello guest under KVM, show its serial console, a short QMP
# and HMP exchange, then quit cleanly. Usage: scripts/demo.sh [BUILD_DIR]
set -euo pipefail

build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)

if [ ! -x "$build/baton" ]; then
    echo "demo: $build/baton does not exist; build first (make)" >&2
    exit 1
fi
if ! python3 -c 'import os; os.close(os.open("/dev/kvm", os.O_RDWR))' \
        2>/dev/null; then
    echo "demo: SKIPPED: /dev/kvm is missing or not usable; the demo boots" \
         "a guest under KVM"
    exit 0
fi

export BATON="$build/baton" GUEST_DIR="$build/tests/guest" BATON_SRC="$src"
export PYTHONPATH="$src/tests/functional${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

exec python3 - <<'EOF'
import json
import os
import subprocess
import sys

from baton_test import QmpClient, Vm, guest_image

shown_events = [0]


def heading(text):
    print("\n=== %s ===" % text, flush=True)


def show_serial(vm, lines, catch_up=False):
    """Print the next `lines` lines of the guest's serial console; with
    catch_up, first skip what arrived since the last call."""
    if catch_up:
        vm.serial.read_until(b"\n", start=len(vm.serial.data))
        print("  serial | (skipped the lines printed meanwhile)")
    for _ in range(lines):
        data = vm.serial.read_until(b"\n")
        start = data.rfind(b"\n", 0, vm.serial.pos - 1) + 1
        print("  serial | %s" % data[start:vm.serial.pos - 1]
              .decode(errors="replace"))
    sys.stdout.flush()


def qmp(vm, name, event=None, **args):
    """Run a command, printing it, its reply and the events it caused."""
    msg = {"execute": name}
    if args:
        msg["arguments"] = args
    print("  QMP -> %s" % json.dumps(msg))
    reply = vm.qmp.cmd_raw(msg)
    print("  QMP <- %s" % json.dumps(reply))
    if event:
        vm.qmp.get_event(event)
    for ev in vm.qmp.events[shown_events[0]:]:
        print("  QMP <- %s" % json.dumps(ev))
    shown_events[0] = len(vm.qmp.events)
    vm.qmp.clear_events()
    sys.stdout.flush()
    return reply


def hmp(vm, line, head=None):
    print("  (qemu) %s" % line)
    out = [l for l in vm.hmp.cmd(line).splitlines() if l.strip()]
    for text in out[:head] if head else out:
        print("         %s" % text)
    if head and len(out) > head:
        print("         ...")
    sys.stdout.flush()


def live_update(vm):
    """Replace baton under the running guest with scripts/baton-update,
    which prints the pause (STOP on the old process to RESUME on the new
    one, from the QMP event timestamps, and its phases). The serial client
    stays connected throughout and the guest's sequence goes on."""
    src = os.environ["BATON_SRC"]
    tool = os.path.join(src, "scripts", "baton-update")
    # A QMP socket serves one client at a time: hand it to the tool.
    vm.qmp.close()
    vm.qmp = None
    print("  $ scripts/baton-update --qmp %s --binary %s"
          % (vm.qmp_path, os.environ["BATON"]))
    out = subprocess.run([tool, "--qmp", vm.qmp_path, "--binary",
                          os.environ["BATON"]], capture_output=True,
                         text=True, timeout=120)
    for line in (out.stdout + out.stderr).splitlines():
        print("    " + line)
    if out.returncode != 0:
        raise RuntimeError("baton-update failed")
    old_status = vm.proc.wait(30)   # keep the clients: they outlive it
    print("  old baton (pid %d) exited with status %d; the guest runs on"
          % (vm.pid, old_status))
    show_serial(vm, 3, catch_up=True)
    sys.stdout.flush()


image = guest_image("hello")
args = ["-nodefaults", "-display", "none", "-accel", "kvm",
        "-object", "memory-backend-memfd,id=ram0,size=32M",
        "-machine", "pc,memory-backend=ram0", "-m", "32M", "-name", "demo",
        "-S", "-drive", "file=%s,format=raw" % image]
vm = Vm(args, serial_socket=True, hmp_socket=True, name="demo")
heading("Starting baton (paused with -S)")
print("  " + " ".join(vm.command()))
vm.launch(negotiate=False)
try:
    g = vm.qmp.greeting["QMP"]["version"]["qemu"]
    print("  QMP greeting: version %d.%d.%d" % (g["major"], g["minor"],
                                               g["micro"]))
    qmp(vm, "qmp_capabilities")

    heading("QMP: start the guest")
    qmp(vm, "query-status")
    qmp(vm, "cont", event="RESUME")

    heading("Guest serial console")
    show_serial(vm, 4)

    heading("QMP: pause and resume")
    qmp(vm, "query-status")
    qmp(vm, "stop", event="STOP")
    qmp(vm, "query-status")
    qmp(vm, "cont", event="RESUME")

    heading("HMP (human monitor)")
    hmp(vm, "info status")
    hmp(vm, "info registers", head=4)

    heading("Guest serial console, continued")
    show_serial(vm, 3, catch_up=True)

    heading("Live update: a new baton takes over the running guest")
    live_update(vm)

    heading("HMP on the same connection, now served by the new baton")
    hmp(vm, "info status")
    hmp(vm, "info migrate", head=3)

    heading("Quit the new baton")
    vm.qmp = QmpClient(vm.qmp_path)
    vm.qmp.negotiate()
    qmp(vm, "query-status")
    qmp(vm, "quit", event="SHUTDOWN")
    print("  done: the guest ran through the update")
    sys.exit(0)
except Exception:
    vm.kill()
    print("\ndemo FAILED; baton stderr:\n%s" % vm.stderr_text())
    # A new baton that took the guest over is not our child: ask it to quit.
    try:
        q = QmpClient(vm.qmp_path, timeout=2)
        q.negotiate()
        q.cmd("quit")
    except Exception:
        pass
    raise
EOF
