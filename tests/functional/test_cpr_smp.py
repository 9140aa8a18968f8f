# SPDX-License-Identifier: GPL-2.0-or-later
"""Live update (cpr-transfer) of a guest with four vCPUs, under KVM: the
smp guest (tests/guest/smp) has started its three APs, each in a halt
loop with registers of its own, while the BSP prints. (a) With the guest stopped,
`info registers -a` in the new process is exactly what it was in the old
one, for every vCPU, and the guest then runs on. (b) Loading one vCPU's
state fails in the new process (BATON_FAULT_INJECT=cpu-load-2,
include/util/fault-inject.h): the update fails with an error naming that
CPU, the old process runs the guest on, and a second update succeeds.
(c) The new process writes into KVM only the parts of each vCPU's state
that differ from what its vCPUs held before the load (read while it
waited for the source): every vCPU's MSRs (the TSC moved on), no debug
registers (as at reset on both sides), and yet every vCPU's registers
arrive as in (a). Skips (77) without a usable /dev/kvm."""

import os
import re
import signal
import unittest

import baton_test
from baton_test import (Vm, cpr_channels, cpr_incoming_args, guest_image,
                        memfd_ram_args, needs_kvm, unix_listening, wait_for,
                        wait_migration, wait_runstate)

NCPUS = 4
ARGS = (["-nodefaults", "-display", "none", "-accel", "kvm",
         "-smp", str(NCPUS)] + memfd_ram_args("256M"))
ALL_APS = b"aps %d\n" % (NCPUS - 1)


def registers(qmp):
    """`info registers -a` as {cpu index: its text}."""
    text = qmp.cmd("human-monitor-command",
                   {"command-line": "info registers -a"})
    cpus = {}
    for block in re.split(r"(?m)^CPU#", text)[1:]:
        index, _, body = block.partition("\n")
        cpus[int(index)] = body.strip()
    return cpus


@needs_kvm
class SmpUpdate(unittest.TestCase):

    def setUp(self):
        old = Vm(ARGS + ["-drive", "file=%s,format=raw" % guest_image("smp"),
                         "-S"],
                 serial_socket=True, name="smp-" + self._testMethodName)
        self.vms = [old]
        self.addCleanup(self.reap)
        old.launch()
        # Both clients stay connected to whichever process has the guest.
        self.qmp, self.serial = old.qmp, old.serial
        old.qmp = old.serial = None
        self.argv = old.command()[:-1]      # without -S
        self.old = old
        self.count = 0
        self.qmp.cmd("cont")
        self.serial.read_until(ALL_APS, timeout=60)

    def reap(self):
        for vm in self.vms:
            status = vm.proc.poll()
            vm.kill()
            err = vm.stderr_text().strip()
            if err and status not in (None, 0, -signal.SIGKILL):
                print("\n[%s pid %d: exit status %d; stderr: %s]"
                      % (vm.name, vm.pid, status, err))
        self.qmp.close()
        self.serial.close()

    def update(self, env=None, extra=()):
        """Start a new process (with ENV, and EXTRA arguments) and
        `migrate` to it by cpr-transfer. Returns the new Vm."""
        self.count += 1
        main = self.old.path("main%d.sock" % self.count)
        cpr = self.old.path("cpr%d.sock" % self.count)
        new = Vm(self.argv[1:] + list(extra) + cpr_incoming_args(main, cpr),
                 qmp=False,
                 binary=self.argv[0],
                 name="%s-n%d" % (self.old.name, self.count))
        saved = dict(os.environ)
        os.environ.update(env or {})
        try:
            new.launch()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.vms.append(new)
        wait_for(lambda: unix_listening(cpr) or new._died(), 30,
                 interval=0.005, what="%s listening" % new.name)
        self.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        return new

    def handed_over(self, new):
        """The update completed: the old process quits; NEW has the
        guest."""
        wait_migration(self.qmp, timeout=30)
        self.old.proc.terminate()
        self.assertEqual(self.old.wait(), 0, self.old.stderr_text())
        self.old = new

    def runs_on(self):
        """The BSP prints two more lines, all APs still counted."""
        for _ in range(2):
            self.serial.read_until(ALL_APS, timeout=20)

    def check_aps(self, cpus):
        self.assertEqual(sorted(cpus), list(range(NCPUS)))
        for i in range(1, NCPUS):
            ap = cpus[i]
            # In its halt loop (HLT=0 too: a stop's kick may have woken
            # it, and it halts again when resumed).
            self.assertRegex(ap, r"(?m)^CS =0800 ", "CPU %d" % i)
            self.assertIn("ESI=%08x EDI=5a5a%04x" % (i, i), ap, "CPU %d" % i)

    def test_a_every_vcpu_arrives(self):
        self.qmp.cmd("stop")
        before = registers(self.qmp)
        self.check_aps(before)
        new = self.update()
        self.handed_over(new)
        self.assertEqual(self.qmp.cmd("query-status")["status"], "paused")
        after = registers(self.qmp)
        for i in range(NCPUS):
            self.assertEqual(after[i], before[i], "CPU %d differs" % i)
        self.qmp.cmd("cont")
        self.runs_on()

    def test_b_one_vcpu_load_fails(self):
        failing = self.update(env={"BATON_FAULT_INJECT": "cpu-load-2"})
        info = wait_migration(self.qmp, until=("failed",), timeout=30)
        desc = info.get("error-desc", "")
        self.assertIn("CPU 2", desc)
        self.assertIn("fault injected at 'cpu-load-2'", desc)
        wait_runstate(self.qmp, "running")
        self.runs_on()
        self.assertNotEqual(failing.wait(30), 0)
        self.assertIn("cpu-load-2", failing.stderr_text())
        print("\n  rolled back; error-desc: %s" % desc)
        # The old process still has every vCPU: a second update works.
        self.handed_over(self.update())
        wait_runstate(self.qmp, "running")
        self.runs_on()
        self.qmp.cmd("stop")
        self.check_aps(registers(self.qmp))

    def test_c_only_what_differs_is_written(self):
        self.qmp.cmd("stop")
        before = registers(self.qmp)
        self.check_aps(before)
        new = self.update(extra=["-trace", "enable=kvm_vcpu_ioctl"])
        self.handed_over(new)
        # Before anything reads the registers there (the guest is paused).
        trace = new.stderr_text()
        after = registers(self.qmp)
        for i in range(NCPUS):
            self.assertEqual(after[i], before[i], "CPU %d differs" % i)
        ops = {}
        for m in re.finditer(r"kvm_vcpu_ioctl cpu_index=(\d+) \S+ "
                             r"name=KVM_(GET|SET)_(\w+) ret=\d+", trace):
            ops.setdefault(int(m.group(1)), []).append(m.group(2, 3))
        written = {}
        for i in range(NCPUS):
            seq = ops.get(i, [])
            # The load's writes follow the last read (of the state before
            # it, after the reset's writes).
            gets = [k for k, (op, _) in enumerate(seq) if op == "GET"]
            self.assertTrue(gets, "CPU %d: no state read: %s" % (i, seq))
            written[i] = [name for op, name in seq[gets[-1] + 1:]
                          if op == "SET"]
            self.assertIn("MSRS", written[i], "CPU %d" % i)
            self.assertNotIn("DEBUGREGS", written[i], "CPU %d" % i)
        print("\n  written in the load: %s" % written)
        self.qmp.cmd("cont")
        self.runs_on()

if __name__ == "__main__":
    baton_test.main()
