# SPDX-License-Identifier: GPL-2.0-or-later
"""QMP protocol and core commands, checked against QEMU's behaviour:
greeting, capabilities negotiation, events, errors, queued clients. Runs
under -accel qtest; the one guest-running case needs KVM and skips alone."""

import json
import os
import select
import socket
import subprocess
import unittest

import baton_test
from baton_test import QmpClient, QmpError, Vm, needs_kvm, tmpdir

BASE = ["-nodefaults", "-display", "none"]
QTEST_PC = ["-accel", "qtest", "-machine", "pc", "-m", "16M"]

ISSUE_COMMANDS = [
    "query-status", "stop", "cont", "quit", "system_reset", "query-version",
    "query-commands", "query-name", "query-cpus-fast", "query-chardev",
    "query-machines", "query-kvm", "qom-list-types", "pmemsave", "memsave",
    "human-monitor-command", "qom-list", "qom-get", "qom-set",
    "qom-list-properties", "device-list-properties",
]


def check_timestamp(test, ev):
    ts = ev["timestamp"]
    test.assertIsInstance(ts["seconds"], int)
    test.assertIsInstance(ts["microseconds"], int)
    test.assertTrue(0 <= ts["microseconds"] < 1000000, ts)
    test.assertGreater(ts["seconds"], 1600000000, ts)


class Shared(unittest.TestCase):
    """Read-only checks on one paused VM (started with -S)."""

    @classmethod
    def setUpClass(cls):
        cls.vm = Vm(BASE + QTEST_PC + [
            "-S", "-name", "guest-one",
            "-chardev", "null,id=nul0"], serial_socket=True)
        try:
            cls.vm.launch()
        except Exception:
            cls.vm.kill()
            raise
        cls.qmp = cls.vm.qmp

    @classmethod
    def tearDownClass(cls):
        cls.vm.shutdown()

    def error(self, msg):
        """Send MSG (dict or raw text); return the reply's error member."""
        reply = self.qmp.cmd_raw(msg)
        self.assertIn("error", reply, reply)
        self.assertEqual(set(reply["error"]), {"class", "desc"}, reply)
        return reply["error"]

    def test_greeting(self):
        qmp = self.vm.qmp.greeting["QMP"]
        ver = qmp["version"]
        for key in ("major", "minor", "micro"):
            self.assertIsInstance(ver["qemu"][key], int)
        self.assertIsInstance(ver["package"], str)
        self.assertIsInstance(qmp["capabilities"], list)

    def test_query_version(self):
        ver = self.qmp.cmd("query-version")
        self.assertEqual(ver, self.vm.qmp.greeting["QMP"]["version"])

    def test_query_status_prelaunch(self):
        self.assertEqual(self.qmp.cmd("query-status"),
                         {"status": "prelaunch", "running": False})

    def test_query_commands(self):
        names = {c["name"] for c in self.qmp.cmd("query-commands")}
        for name in ISSUE_COMMANDS + ["qmp_capabilities"]:
            self.assertIn(name, names)

    def test_query_name(self):
        self.assertEqual(self.qmp.cmd("query-name"), {"name": "guest-one"})

    def test_query_chardev(self):
        devs = {c["label"]: c for c in self.qmp.cmd("query-chardev")}
        ser = devs["ser0"]
        self.assertTrue(ser["filename"].startswith("unix:"), ser)
        self.assertIn(self.vm.serial_path, ser["filename"])
        self.assertIs(ser["frontend-open"], True)
        self.assertEqual(devs["nul0"]["filename"], "null")
        self.assertIs(devs["nul0"]["frontend-open"], False)

    def test_query_kvm(self):
        kvm = self.qmp.cmd("query-kvm")
        self.assertIs(kvm["enabled"], False)  # -accel qtest
        self.assertIsInstance(kvm["present"], bool)

    def test_qom_list_types(self):
        def names(**args):
            return {t["name"] for t in self.qmp.cmd("qom-list-types", **args)}
        devices = names(implements="device")
        for t in ("isa-serial", "isa-debug-exit", "ide-hd"):
            self.assertIn(t, devices)
        accels = names(implements="accel")
        for t in ("kvm-accel", "qtest-accel"):
            self.assertIn(t, accels)
        self.assertNotIn("kvm-accel", devices)
        plain = self.qmp.cmd("qom-list-types", implements="device")
        self.assertFalse([t for t in plain if t.get("abstract")], plain)
        full = self.qmp.cmd("qom-list-types", implements="device",
                            abstract=True)
        self.assertTrue({t["name"] for t in full} > devices)
        self.assertTrue([t for t in full if t.get("abstract")], full)

    def test_qom_tree(self):
        """The composition tree through qom-list/qom-get/qom-set."""
        vm = Vm(BASE + QTEST_PC + [
            "-chardev", "null,id=c0", "-serial", "null",
            "-device", "isa-serial,id=u1,chardev=c0,iobase=0x2e8",
            "-device", "isa-debug-exit"])
        vm.launch()
        self.addCleanup(vm.kill)
        qmp = vm.qmp
        top = {p["name"]: p["type"] for p in qmp.cmd("qom-list", path="/")}
        self.assertEqual(top["machine"], "child<pc-i440fx-machine>")
        self.assertEqual(top["chardevs"], "child<container>")
        periph = qmp.cmd("qom-list", path="/machine/peripheral")
        self.assertIn({"name": "u1", "type": "child<isa-serial>"}, periph)
        anon = qmp.cmd("qom-list", path="/machine/peripheral-anon")
        self.assertEqual([p["type"] for p in anon if p["name"] != "type"],
                         ["child<isa-debug-exit>"])
        props = {p["name"]: p["type"]
                 for p in qmp.cmd("qom-list", path="/machine/peripheral/u1")}
        self.assertEqual(props["chardev"], "link<chardev>")
        self.assertEqual(props["iobase"], "uint32")
        # Absolute and partial paths; links read as canonical paths.
        self.assertEqual(qmp.cmd("qom-get", path="/machine/peripheral/u1",
                                 property="iobase"), 0x2e8)
        self.assertEqual(qmp.cmd("qom-get", path="u1", property="chardev"),
                         "/chardevs/c0")
        self.assertEqual(qmp.cmd("qom-get", path="u1", property="type"),
                         "isa-serial")
        # -serial's port is the machine's own device (after the chipset's
        # i440FX and PIIX3 functions).
        self.assertEqual(qmp.cmd("qom-get", path="/machine/unattached/"
                                 "device[0]", property="type"), "i440FX")
        self.assertEqual(qmp.cmd("qom-get", path="/machine/unattached/"
                                 "device[2]", property="chardev"),
                         "/chardevs/serial0")
        with self.assertRaises(QmpError) as cm:
            qmp.cmd("qom-set", path="u1", property="iobase", value=0x3e8)
        self.assertEqual(cm.exception.desc, "Attempt to set property "
                         "'iobase' on device 'u1' (type 'isa-serial') "
                         "after it was realized")
        with self.assertRaises(QmpError) as cm:
            qmp.cmd("qom-list", path="/machine/nope")
        self.assertEqual(cm.exception.cls, "DeviceNotFound")
        with self.assertRaises(QmpError) as cm:
            qmp.cmd("qom-get", path="u1", property="nope")
        self.assertEqual(cm.exception.desc, "Property 'nope' not found")
        # device[0] is both in peripheral-anon and in unattached.
        with self.assertRaises(QmpError) as cm:
            qmp.cmd("qom-get", path="device[0]", property="type")
        self.assertIn("ambiguous", cm.exception.desc)

    def test_device_list_properties(self):
        props = {p["name"]: p for p in self.qmp.cmd(
            "device-list-properties", typename="isa-debug-exit")}
        self.assertEqual(props["iobase"]["type"], "uint32")
        self.assertEqual(props["iobase"]["default-value"], 0x501)
        self.assertEqual(props["iobase"]["description"], "first I/O port")
        serial = {p["name"]: p["type"] for p in self.qmp.cmd(
            "device-list-properties", typename="isa-serial")}
        self.assertEqual(serial["chardev"], "link<chardev>")
        for bad in ("device", "memory-backend-ram"):
            with self.assertRaises(QmpError) as cm:
                self.qmp.cmd("device-list-properties", typename=bad)
            self.assertEqual(cm.exception.desc, "Parameter 'typename' "
                             "expects a non-abstract device type")
        with self.assertRaises(QmpError) as cm:
            self.qmp.cmd("device-list-properties", typename="nope")
        self.assertEqual(cm.exception.cls, "DeviceNotFound")
        mem = {p["name"] for p in self.qmp.cmd(
            "qom-list-properties", typename="memory-backend-memfd")}
        self.assertTrue({"size", "share"} <= mem, mem)

    def test_info_qtree(self):
        vm = Vm(BASE + QTEST_PC + ["-serial", "null",
                                   "-device", "isa-serial,id=u1"])
        vm.launch()
        self.addCleanup(vm.kill)
        out = vm.qmp.cmd("human-monitor-command",
                         {"command-line": "info qtree"})
        out = out.replace("\r\n", "\n")
        self.assertTrue(out.startswith("bus: main-system-bus\n"
                                       "  type System\n"), out)
        # The ISA bus hangs under the PCI-to-ISA bridge, as in QEMU.
        self.assertIn("      dev: PIIX3, id \"\"\n"
                      "        addr = 01.0\n"
                      "        multifunction = true\n"
                      "        bus: isa.0\n          type ISA\n"
                      "          dev: isa-serial, id \"\"\n"
                      "            chardev = \"serial0\"\n"
                      "            index = 0 (0x0)\n"
                      "            iobase = 1016 (0x3f8)\n"
                      "            irq = 4 (0x4)\n"
                      "          dev: isa-serial, id \"u1\"\n", out)
        self.assertIn("bus: ide.0\n  type IDE\n", out)

    def test_human_monitor_command(self):
        out = self.qmp.cmd("human-monitor-command",
                           {"command-line": "info status"})
        self.assertIn("VM status: paused (prelaunch)", out)

    def test_id_echo(self):
        for cid in ("abc-1", 42):
            reply = self.qmp.cmd_raw({"execute": "query-status", "id": cid})
            self.assertIn("return", reply)
            self.assertEqual(reply["id"], cid)
        reply = self.qmp.cmd_raw({"execute": "frob", "id": "e1"})
        self.assertEqual(reply["id"], "e1")
        self.assertIn("error", reply)

    def test_malformed_json(self):
        err = self.error('{"execute": }\n')
        self.assertEqual(err["class"], "GenericError")
        self.assertTrue(err["desc"].startswith("JSON parse error"), err)
        self.assertEqual(self.qmp.cmd("query-status")["status"], "prelaunch")

    def test_non_object(self):
        err = self.error("[1, 2]\n")
        self.assertEqual(err, {"class": "GenericError",
                               "desc": "QMP input must be a JSON object"})
        err = self.error('{"arguments": {}}\n')
        self.assertEqual(err, {"class": "GenericError",
                               "desc": "QMP input lacks member 'execute'"})
        self.assertEqual(self.qmp.cmd("query-status")["status"], "prelaunch")

    def test_unknown_command(self):
        err = self.error({"execute": "frob"})
        self.assertEqual(err, {"class": "CommandNotFound",
                               "desc": "The command frob has not been found"})

    def test_wrong_argument_type(self):
        err = self.error({"execute": "pmemsave", "arguments": {
            "val": "x", "size": 4,
            "filename": os.path.join(tmpdir(), "never")}})
        self.assertEqual(err, {
            "class": "GenericError",
            "desc": "Invalid parameter type for 'val', expected: integer"})

    def test_unexpected_argument(self):
        err = self.error({"execute": "query-status", "arguments": {"x": 1}})
        self.assertEqual(err, {"class": "GenericError",
                               "desc": "Parameter 'x' is unexpected"})

    def test_missing_argument(self):
        err = self.error({"execute": "pmemsave", "arguments": {
            "size": 4, "filename": os.path.join(tmpdir(), "never")}})
        self.assertEqual(err, {"class": "GenericError",
                               "desc": "Parameter 'val' is missing"})


class Sessions(unittest.TestCase):
    """Cases that need a VM (or a connection) of their own."""

    def start(self, args=(), negotiate=True, **kwargs):
        vm = Vm(BASE + QTEST_PC + list(args), **kwargs)
        try:
            vm.launch(negotiate=negotiate)
        except Exception:
            vm.kill()
            raise
        self.addCleanup(vm.kill)
        return vm

    def test_negotiation(self):
        vm = self.start(negotiate=False)
        reply = vm.qmp.cmd_raw({"execute": "query-status"})
        self.assertEqual(reply["error"], {
            "class": "CommandNotFound",
            "desc": "Expecting capabilities negotiation with "
                    "'qmp_capabilities'"})
        self.assertEqual(vm.qmp.negotiate(), {})
        reply = vm.qmp.cmd_raw({"execute": "qmp_capabilities"})
        self.assertEqual(reply["error"], {
            "class": "CommandNotFound",
            "desc": "Capabilities negotiation is already complete, "
                    "command ignored"})
        self.assertIn("status", vm.qmp.cmd("query-status"))
        self.assertEqual(vm.shutdown(), 0)

    def test_stop_cont_events(self):
        vm = self.start(["-S"])
        vm.qmp.cmd("cont")
        check_timestamp(self, vm.qmp.get_event("RESUME"))
        self.assertEqual(vm.qmp.cmd("query-status"),
                         {"status": "running", "running": True})
        vm.qmp.cmd("stop")
        check_timestamp(self, vm.qmp.get_event("STOP"))
        self.assertEqual(vm.qmp.cmd("query-status"),
                         {"status": "paused", "running": False})
        self.assertEqual(vm.shutdown(), 0)

    def test_quit(self):
        vm = self.start()
        self.assertEqual(vm.qmp.cmd("quit"), {})
        ev = vm.qmp.get_event("SHUTDOWN")
        check_timestamp(self, ev)
        self.assertEqual(ev["data"]["guest"], False)
        self.assertEqual(ev["data"]["reason"], "host-qmp-quit")
        self.assertEqual(vm.wait(), 0)

    def test_sigterm(self):
        vm = self.start()
        vm.proc.terminate()
        ev = vm.qmp.get_event("SHUTDOWN")
        self.assertEqual(ev["data"], {"guest": False,
                                      "reason": "host-signal"})
        self.assertEqual(vm.wait(), 0)

    def test_stdio(self):
        """-qmp stdio with all input already waiting at start-up: the
        greeting still comes first and the session is not reset."""
        proc = subprocess.Popen(
            [baton_test.BATON] + BASE + QTEST_PC + ["-qmp", "stdio"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None
                        and (proc.kill(), proc.communicate()))
        try:
            out, err = proc.communicate(
                b'{"execute": "qmp_capabilities"}\n'
                b'{"execute": "query-status"}\n'
                b'{"execute": "quit"}\n', timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        msgs = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
        detail = "stdout %r, stderr %r" % (out, err)
        self.assertTrue(msgs and "QMP" in msgs[0], detail)
        replies = [m for m in msgs[1:] if "event" not in m]
        self.assertEqual(replies, [
            {"return": {}},
            {"return": {"status": "running", "running": True}},
            {"return": {}}], detail)
        self.assertEqual(proc.returncode, 0, detail)

    def test_second_client_queued(self):
        vm = self.start()
        second = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(second.close)
        second.connect(vm.qmp_path)  # sits in the listen backlog
        # A round trip on the first client: baton's main loop has since
        # seen the pending connection, and it must not have greeted it.
        self.assertIn("status", vm.qmp.cmd("query-status"))
        self.assertEqual(select.select([second], [], [], 0)[0], [],
                         "second client got data while the first is open")
        vm.qmp.close()
        vm.qmp = QmpClient(second)
        self.assertIn("QMP", vm.qmp.greeting)
        vm.qmp.negotiate()
        self.assertIn("status", vm.qmp.cmd("query-status"))
        self.assertEqual(vm.shutdown(), 0)

    @needs_kvm
    def test_stop_cont_kvm_guest(self):
        """Under KVM, stop really stops the guest and cont resumes it.
        The dirty guest counts its own work in memory: while stopped
        the counters stand still, and after cont they move on and the
        serial sequence continues with nothing lost or repeated."""
        image = baton_test.dirty_image(pages=16)
        vm = Vm(BASE + ["-S", "-accel", "kvm", "-machine", "pc", "-m", "32M",
                        "-drive", "file=%s,format=raw" % image],
                serial_socket=True)
        vm.launch()
        self.addCleanup(vm.kill)
        vm.qmp.cmd("cont")
        vm.qmp.get_event("RESUME")
        vm.serial.read_until(b"seq 1\n")
        vm.qmp.cmd("stop")
        check_timestamp(self, vm.qmp.get_event("STOP"))
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "paused")
        total, lines = self.dirty_status(vm)
        # What it printed before the stop arrives in full (the line it
        # was printing may be cut short); meanwhile it must not run.
        vm.serial.read_until(b"seq %d\n" % (lines - 1), start=0)
        self.assertEqual(self.dirty_status(vm), (total, lines),
                         "the guest ran while stopped")
        baton_test.dirty_check_memory(vm.qmp, pages=16)
        vm.qmp.cmd("cont")
        check_timestamp(self, vm.qmp.get_event("RESUME"))
        data = vm.serial.read_until(b"seq %d\n" % (lines + 2), start=0)
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")
        baton_test.dirty_check_serial(data)
        self.assertGreater(self.dirty_status(vm)[0], total)
        self.assertEqual(vm.shutdown(), 0)

    def dirty_status(self, vm):
        """(increments, lines printed) from the dirty guest's memory."""
        path = os.path.join(tmpdir(), "dirty-status")
        vm.qmp.cmd("pmemsave", val=baton_test.DIRTY_STATUS, size=16,
                   filename=path)
        with open(path, "rb") as f:
            data = f.read()
        return (int.from_bytes(data[:8], "little"),
                int.from_bytes(data[8:], "little"))


if __name__ == "__main__":
    baton_test.main()
