#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Tracing as a user sees it (qtest accelerator, no KVM): -trace and
-d trace: write QEMU log-backend lines for QMP commands to -trace file=;
trace-event-get-state / trace-event-set-state replies and errors; the
HMP trace-event and info trace-events commands; -trace help and an
unknown event at start-up."""

import os
import re
import subprocess
import unittest

import baton_test
from baton_test import BATON, QmpError, Vm, needs_kvm, tmpdir

BASE = ["-nodefaults", "-display", "none", "-accel", "qtest",
        "-machine", "none"]
LINE = re.compile(r"^(\d+)@(\d+)\.(\d{6}):([a-z0-9_]+)(?: (.*))?$")


def run(args, timeout=10):
    p = subprocess.run([BATON] + BASE + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def qmp(vm, command, **args):
    """A QMP command whose arguments may include "name" (which
    QmpClient.cmd's own first parameter would take)."""
    return vm.qmp.cmd(command, args)


def trace_lines(path):
    """[(name, fields)] of the file's lines, each checked for QEMU's shape."""
    with open(path) as f:
        text = f.read()
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        assert m, "not a trace line: %r" % line
        out.append((m.group(4), m.group(5) or ""))
    return out


class TraceOutput(unittest.TestCase):
    def test_enable_pattern_to_file(self):
        path = os.path.join(tmpdir(), "qmp-trace.log")
        vm = Vm(BASE + ["-trace", "enable=qmp*,file=%s" % path])
        with vm.launch():
            vm.qmp.cmd("query-status")
            with self.assertRaises(QmpError):
                vm.qmp.cmd("stop", bogus=1)
            pid = vm.pid
            vm.shutdown()
        lines = trace_lines(path)
        self.assertIn(("qmp_enter", "command=query-status args={}"), lines)
        self.assertIn(("qmp_exit", "command=query-status succeeded=1 "
                       "error_class=none"), lines)
        # Argument errors are the command's failures too.
        self.assertIn(("qmp_exit", "command=stop succeeded=0 "
                       "error_class=GenericError"), lines)
        # Only qmp_* events: monitor_qmp_cmd_in_band was not asked for.
        self.assertEqual({n for n, _ in lines}, {"qmp_enter", "qmp_exit"})
        # QEMU prints the thread id: the main thread's is the pid.
        with open(path) as f:
            self.assertTrue(f.readline().startswith("%d@" % pid))

    def test_d_trace_and_logfile(self):
        path = os.path.join(tmpdir(), "d-trace.log")
        vm = Vm(BASE + ["-D", path, "-d",
                        "guest_errors,trace:monitor_qmp_cmd_in_band",
                        "-d", "trace:runstate_set"])
        with vm.launch():
            reply = vm.qmp.cmd_raw({"execute": "stop", "id": "abc"})
            self.assertEqual(reply, {"return": {}, "id": "abc"})
            vm.shutdown()
        lines = trace_lines(path)
        self.assertIn(("monitor_qmp_cmd_in_band", 'id="abc"'), lines)
        self.assertIn(("runstate_set", "from=running to=paused"), lines)
        self.assertNotIn("qmp_enter", {n for n, _ in lines})

    def test_events_file(self):
        events = os.path.join(tmpdir(), "events.txt")
        path = os.path.join(tmpdir(), "events-trace.log")
        with open(events, "w") as f:
            f.write("# QMP, but not its exit\n\nqmp_*\n-qmp_exit\n")
        vm = Vm(BASE + ["-trace", "events=%s" % events,
                        "-trace", "file=%s" % path])
        with vm.launch():
            vm.qmp.cmd("query-name")
            vm.shutdown()
        names = {n for n, _ in trace_lines(path)}
        self.assertEqual(names, {"qmp_enter"})


class TraceKvm(unittest.TestCase):
    @needs_kvm
    def test_ioctls(self):
        path = os.path.join(tmpdir(), "kvm-trace.log")
        vm = Vm(["-nodefaults", "-display", "none", "-accel", "kvm",
                 "-machine", "pc", "-m", "16M", "-S",
                 "-trace", "kvm_*", "-trace", "file=" + path])
        with vm.launch():
            vm.shutdown()
        lines = trace_lines(path)
        fields = [dict(kv.split("=", 1) for kv in f.split())
                  for _, f in lines]
        by_name = {}
        for (name, _), f in zip(lines, fields):
            by_name.setdefault(name, []).append(f)
        # /dev/kvm, VM and vCPU ioctls, each with its name and result.
        create = [f for f in by_name["kvm_ioctl"]
                  if f["name"] == "KVM_CREATE_VM"]
        self.assertEqual(len(create), 1)
        self.assertGreaterEqual(int(create[0]["ret"]), 0)
        self.assertIn("KVM_SET_USER_MEMORY_REGION",
                      {f["name"] for f in by_name["kvm_vm_ioctl"]})
        cpuid = [f for f in by_name["kvm_vcpu_ioctl"]
                 if f["name"] == "KVM_SET_CPUID2"]
        self.assertEqual([(f["cpu_index"], f["ret"]) for f in cpuid],
                         [("0", "0")])
        # -S: the vCPU never entered the guest.
        self.assertNotIn("kvm_run_exit", by_name)
        self.assertNotIn("KVM_RUN",
                         {f["name"] for f in by_name["kvm_vcpu_ioctl"]})

    @needs_kvm
    def test_memory_listeners(self):
        """The KVM memory listener's callbacks, one line each: the pc
        map's RAM (around the VGA window) and the MSI window become slots
        as the listener registers and replays them."""
        path = os.path.join(tmpdir(), "listener-trace.log")
        vm = Vm(["-nodefaults", "-display", "none", "-accel", "kvm",
                 "-machine", "pc", "-m", "16M", "-S",
                 "-trace", "memory_listener_*", "-trace", "file=" + path])
        with vm.launch():
            vm.shutdown()
        adds = [(f["addr"], f["size"], f["mr"]) for name, f in
                ((n, dict(kv.split("=", 1) for kv in fl.split()))
                 for n, fl in trace_lines(path))
                if name == "memory_listener_region" and
                f["listener"] == "kvm-memory" and f["op"] == "add"]
        self.assertEqual(adds[:3], [("0x0", "0xa0000", "pc.ram"),
                                    ("0xa0000", "0x20000", "vga-lowmem"),
                                    ("0xc0000", "0xf40000", "pc.ram")])
        self.assertIn(("0xfee00000", "0x100000", "apic-msi"), adds)


class TraceMonitor(unittest.TestCase):
    def test_get_and_set_state(self):
        with Vm(BASE).launch() as vm:
            ret = qmp(vm, "trace-event-get-state", name="cpr_*_fd")
            self.assertEqual(sorted(e["name"] for e in ret),
                             ["cpr_delete_fd", "cpr_find_fd", "cpr_save_fd"])
            for e in ret:
                self.assertEqual(e, {"name": e["name"], "state": "disabled",
                                     "vcpu": False})
            qmp(vm, "trace-event-set-state", name="cpr_*_fd", enable=True)
            qmp(vm, "trace-event-set-state", name="cpr_find_fd",
                enable=False, **{"ignore-unavailable": True})
            ret = qmp(vm, "trace-event-get-state", name="cpr_*_fd")
            states = {e["name"]: e["state"] for e in ret}
            self.assertEqual(states, {"cpr_save_fd": "enabled",
                                      "cpr_find_fd": "disabled",
                                      "cpr_delete_fd": "enabled"})
            self.assertEqual(qmp(vm, "trace-event-get-state",
                                        name="nothing*"), [])
            # QEMU's errors.
            for cmd, args, desc in (
                    ("trace-event-get-state", {"name": "nosuch"},
                     'unknown event "nosuch"'),
                    ("trace-event-set-state", {"name": "nosuch",
                                               "enable": True},
                     'unknown event "nosuch"'),
                    ("trace-event-get-state", {"name": "qmp_enter",
                                               "vcpu": 0},
                     "invalid vCPU index 0"),
                    ("trace-event-set-state", {"name": "qmp_enter"},
                     "Parameter 'enable' is missing")):
                with self.assertRaises(QmpError) as cm:
                    vm.qmp.cmd(cmd, args)
                self.assertEqual(cm.exception.cls, "GenericError")
                self.assertEqual(cm.exception.desc, desc)

    def test_vcpu_qtest(self):
        # The qtest accelerator creates no vCPU: every index is invalid.
        with self.assertRaises(QmpError) as cm:
            with Vm(BASE).launch() as vm:
                qmp(vm, "trace-event-get-state", name="*", vcpu=0)
        self.assertEqual(cm.exception.desc, "invalid vCPU index 0")

    @needs_kvm
    def test_vcpu(self):
        with Vm(["-nodefaults", "-display", "none", "-accel", "kvm",
                 "-machine", "pc", "-m", "16M", "-S"]).launch() as vm:
            # No per-vCPU events in baton: a glob selects none of them ...
            self.assertEqual(qmp(vm, "trace-event-get-state", name="*",
                                 vcpu=0), [])
            # ... and a name is QEMU's "not vCPU-specific" error.
            with self.assertRaises(QmpError) as cm:
                qmp(vm, "trace-event-get-state", name="qmp_enter", vcpu=0)
            self.assertEqual(cm.exception.desc,
                             'event "qmp_enter" is not vCPU-specific')
            with self.assertRaises(QmpError) as cm:
                qmp(vm, "trace-event-get-state", name="qmp_enter", vcpu=1)
            self.assertEqual(cm.exception.desc, "invalid vCPU index 1")

    def test_hmp(self):
        def hmp(line):
            return vm.qmp.cmd("human-monitor-command",
                              {"command-line": line})

        with Vm(BASE).launch() as vm:
            self.assertEqual(hmp("info trace-events chardev_*"),
                             "chardev_open : state 0\r\n"
                             "chardev_close : state 0\r\n")
            self.assertEqual(hmp("trace-event chardev_close on"), "")
            self.assertEqual(hmp("info trace-events chardev_*"),
                             "chardev_open : state 0\r\n"
                             "chardev_close : state 1\r\n")
            ret = qmp(vm, "trace-event-get-state", name="chardev_close")
            self.assertEqual(ret[0]["state"], "enabled")
            self.assertEqual(hmp("trace-event nosuch on"),
                             'unknown event "nosuch"\r\n')
            self.assertEqual(hmp("trace-event chardev_close maybe"),
                             "Expected 'on' or 'off'\r\n")
            all_events = hmp("info trace-events").splitlines()
            self.assertIn("kvm_vm_ioctl : state 0", all_events)
            self.assertIn("vmstate_load : state 0", all_events)


class TraceCommandLine(unittest.TestCase):
    def test_help(self):
        for arg in ("help", "enable=help"):
            status, out, err = run(["-trace", arg])
            self.assertEqual(status, 0, err)
            names = out.split()
            for name in ("kvm_ioctl", "kvm_vm_ioctl", "kvm_vcpu_ioctl",
                         "kvm_run_exit", "vmstate_save", "vmstate_load",
                         "cpr_save_fd", "cpr_find_fd", "qmp_enter",
                         "qmp_exit", "migrate_set_state", "chardev_open"):
                self.assertIn(name, names)

    def test_unknown_event(self):
        for args, msg in (
                (["-trace", "nosuch"],
                 "baton: -trace nosuch: trace event 'nosuch' does not exist"),
                (["-trace", "enable=-nosuch"],
                 "baton: -trace enable=-nosuch: trace event 'nosuch' does "
                 "not exist"),
                (["-d", "guest_errors,trace:nosuch"],
                 "baton: -d: trace event 'nosuch' does not exist"),
                (["-trace", "enable=qmp*,fiel=x"],
                 "baton: -trace enable=qmp*,fiel=x: Invalid parameter 'fiel'")):
            status, out, err = run(args)
            self.assertEqual(status, 1)
            self.assertEqual(err.strip(), msg)

    def test_bad_events_file(self):
        events = os.path.join(tmpdir(), "bad-events.txt")
        with open(events, "w") as f:
            f.write("qmp_enter\n# fine\nqmp_nosuch\n")
        status, _, err = run(["-trace", "events=" + events])
        self.assertEqual(status, 1)
        self.assertEqual(err.strip(),
                         "baton: -trace events=%s: %s:3: trace event "
                         "'qmp_nosuch' does not exist" % (events, events))


if __name__ == "__main__":
    baton_test.main()
