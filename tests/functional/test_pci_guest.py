# SPDX-License-Identifier: GPL-2.0-or-later
"""The pci guest (tests/guest/pci) driving edu functions under KVM through
live updates and migrations. On pc, 00:03.0 and 00:07.0 share one INTx
line (slots 3 and 7 both swizzle to PIRQC, IRQ 11) and 00:05.0 has IRQ
10 (PIRQA); on q35, 00:04.0 and 00:08.0 share PIRQE (IRQ 10) and one
edu sits behind a PCI Express root port, found by the guest on bus 1.
Every round the guest runs each edu with MSI, then all of them with INTx,
then all of them with interrupts held pending for a few milliseconds by
the LAPIC's TPR (so that some steps land with interrupts in flight), one
DMA round trip and a factorial per device, checks every result and
prints a line. The test first compares what the guest enumerated with
query-pci, then does cpr-transfer and cpr-exec in turn with a precopy
migration to a new process every fifth step, and after each step waits
for new rounds. At the end the output, joined across every process, must
be the header and then rounds 0, 1, 2, ... with no error line: no
interrupt lost or spurious, no DMA or factorial result wrong.

PCI_GUEST_STEPS (default 25: 20 live updates and 5 migrations) sets the
number of steps on pc; q35 takes 5. Skips (77) without a usable
/dev/kvm."""

import os
import re
import time
import unittest

import baton_test
from baton_test import (Vm, VmTestCase, cpr_channels, cpr_incoming_args,
                        guest_image, needs_kvm,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)

TIMEOUT = 60.0              # ends a hung test; never a synchronisation
STEPS = int(os.environ.get("PCI_GUEST_STEPS", "25"))

# Machine configurations: extra arguments, and for each edu (bus:slot.fn)
# the IRQ its INTA must reach. pc: slot N's INTA is PIRQ (N-1) mod 4;
# q35: PIRQ E + N mod 4, behind a root port swizzled by the device's slot
# (0) onto the port's. PIRQA-D and E-H go to IRQ 10, 10, 11, 11.
PC = {
    "machine": "pc",
    "args": ["-device", "edu,addr=3.0", "-device", "edu,addr=7.0",
             "-device", "edu,addr=5.0"],
    "edus": {"00:03.0": 11, "00:07.0": 11, "00:05.0": 10},
}
Q35 = {
    "machine": "q35",
    "args": ["-device", "edu,addr=4.0", "-device", "edu,addr=8.0",
             "-device", "pcie-root-port,id=rp1,chassis=1,slot=1,addr=6.0",
             "-device", "edu,bus=rp1"],
    "edus": {"00:04.0": 10, "00:08.0": 10, "01:00.0": 11},
}

_EDU_LINE = re.compile(rb"pci edu (\d+) ([0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) bar0 "
                       rb"0x([0-9a-f]+) irq (\d+) msi-cap 0x[0-9a-f]+\n")
_ROUND = re.compile(rb"round (\d+) msi (\d+) intx (\d+) dma (\d+) fact (\d+)"
                    rb" spurious (\d+) repeat (\d+)\n")
_ERROR = re.compile(rb"pci error[^\n]*")


def guest_args(config):
    args = ["-nodefaults", "-display", "none", "-accel", "kvm", "-smp", "1",
            "-object", "memory-backend-memfd,id=ram0,size=64M",
            "-machine", "%s,memory-backend=ram0" % config["machine"],
            "-m", "64M",
            "-drive", "file=%s,format=raw" % guest_image("pci")]
    return args + config["args"]


def check_output(data, ndev=3):
    """Check the guest's whole output: the edu lines, "pci ready", then
    rounds 0, 1, 2, ... (the last line may be incomplete), counters that
    only grow, no error. Returns (edu lines as tuples, last round)."""
    data = bytes(data)
    err = _ERROR.search(data)
    if err:
        raise AssertionError("the guest reports %r" % err.group(0))
    pos, edus = 0, []
    for i in range(ndev):
        m = _EDU_LINE.match(data, pos)
        if not m or int(m.group(1)) != i:
            raise AssertionError("no line for edu %d at offset %d: %r"
                                 % (i, pos, data[pos:pos + 80]))
        edus.append((m.group(2).decode(), int(m.group(3), 16),
                     int(m.group(4))))
        pos = m.end()
    ready = b"pci ready: %d edu\n" % ndev
    if not data.startswith(ready, pos):
        raise AssertionError("expected %r at offset %d: %r"
                             % (ready, pos, data[pos:pos + 80]))
    pos += len(ready)
    expect, last = 0, None
    while True:
        m = _ROUND.match(data, pos)
        if not m:
            break
        fields = [int(x) for x in m.groups()]
        rounds = fields[0] + 1
        # Each round: an MSI, an INTx and a factorial per edu, a held
        # interrupt per edu (MSI for even-numbered ones, INTx for odd),
        # one DMA round trip (2 interrupts) by INTx in even rounds, by MSI
        # in odd ones.
        counts = [(ndev + (ndev + 1) // 2) * rounds + 2 * (rounds // 2),
                  (ndev + ndev // 2) * rounds + 2 * ((rounds + 1) // 2),
                  rounds, ndev * rounds]
        if fields[1:5] != counts:
            raise AssertionError("after %d rounds the counters should be "
                                 "msi %d intx %d dma %d fact %d: %r"
                                 % ((rounds, *counts) + (m.group(0),)))
        if fields[0] != expect:
            raise AssertionError("round %d where round %d belongs: %r"
                                 % (fields[0], expect,
                                    data[max(0, pos - 80):pos + 80]))
        if fields[5] or fields[6] > fields[2]:
            raise AssertionError("spurious interrupts (or more repeats than "
                                 "INTx interrupts): %r" % m.group(0))
        if last and any(a < b for a, b in zip(fields[1:], last[1:])):
            raise AssertionError("a counter went back: %r after %r"
                                 % (fields, last))
        pos, expect, last = m.end(), expect + 1, fields
    tail, head = data[pos:], b"round %d " % expect
    if b"\n" in tail or not (head.startswith(tail) or tail.startswith(head)):
        raise AssertionError("unexpected output at offset %d (after round "
                             "%d): %r" % (pos, expect - 1, tail[:120]))
    return edus, expect - 1


class PciGuest:
    """The guest and whichever process runs it. `qmp` and `serial` stay
    connected across live updates (the new process adopts them); a
    migration moves the guest to a new process with clients of its own,
    and the old serial client's data becomes a finished segment."""

    def __init__(self, tc, config):
        self.tc = tc
        self.base = guest_args(config)
        vm = tc.launch(Vm(self.base + ["-S"], serial_socket=True,
                          name="pg0"))
        self.adopt(vm, vm.command()[:-1])
        self.segments = []      # output of the serial clients before
        self.count = 0
        self.qmp.cmd("cont")

    def adopt(self, vm, argv):
        self.vm, self.argv = vm, argv
        self.qmp, self.serial = vm.qmp, vm.serial
        vm.qmp = vm.serial = None       # they outlive this process
        self.tc.addCleanup(self.qmp.close)
        self.tc.addCleanup(self.serial.close)

    def output(self):
        return b"".join(self.segments) + self.serial.snapshot()

    def wait_rounds(self, more):
        """Wait until MORE rounds after the last complete one have been
        printed (an error line ends the wait at once)."""
        if not self.segments:           # the header comes first
            self.serial.read_until(
                re.compile(rb"pci ready: \d+ edu\n|pci error[^\n]*\n"),
                timeout=TIMEOUT, start=0)
        last = check_output(self.output())[1]
        want = re.compile(rb"round %d |pci error[^\n]*\n" % (last + more))
        self.serial.read_until(want, timeout=TIMEOUT, start=0)
        return check_output(self.output())[1]

    def name(self):
        self.count += 1
        return "pg%d" % self.count

    def cpr_transfer(self):
        name = self.name()
        main = self.vm.path("main%d.sock" % self.count)
        cpr = self.vm.path("cpr%d.sock" % self.count)
        new = self.tc.launch(Vm(self.argv[1:] + cpr_incoming_args(main, cpr),
                                qmp=False, binary=self.argv[0], name=name))
        wait_for(lambda: unix_listening(cpr) or new._died(), TIMEOUT,
                 interval=0.005, what="cpr channel %s" % cpr)
        self.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(self.qmp, timeout=TIMEOUT, interval=0.005)
        wait_runstate(self.qmp, "running", TIMEOUT)
        self.vm.proc.terminate()
        self.tc.assertEqual(self.vm.wait(), 0, self.vm.stderr_text())
        self.vm = new

    def cpr_exec(self):
        baton_test.cpr_exec_to(self.vm, self.qmp, self.argv, TIMEOUT)

    def migrate(self):
        """Precopy to a new process; the old one quits once it is done,
        and all its output has arrived when its serial socket closes."""
        name = self.name()
        path = self.vm.path("mig%d.sock" % self.count)
        dst = self.tc.launch(Vm(self.base + ["-incoming", "unix:" + path],
                                serial_socket=True, name=name))
        wait_for(lambda: unix_listening(path) or dst._died(), TIMEOUT,
                 interval=0.005, what="incoming socket %s" % path)
        self.qmp.cmd("migrate-set-parameters", mode="normal")
        self.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(self.qmp, timeout=TIMEOUT, interval=0.005)
        wait_runstate(dst.qmp, "running", TIMEOUT)
        self.qmp.cmd("quit")
        self.tc.assertEqual(self.vm.wait(TIMEOUT), 0, self.vm.stderr_text())
        self.segments.append(self.serial.wait_eof(TIMEOUT))
        self.adopt(dst, dst.command()[:-2])     # without -incoming


def query_pci_edus(qmp):
    """{"bus:slot.fn": (BAR 0 address, irq)} of every edu in query-pci,
    behind bridges too."""
    found = {}

    def walk(devices):
        for d in devices:
            if d["id"]["vendor"] == 0x1234 and d["id"]["device"] == 0x11e8:
                bar0 = [r for r in d["regions"] if r["bar"] == 0][0]
                found["%02x:%02x.%d" % (d["bus"], d["slot"], d["function"])] \
                    = (bar0["address"], d["irq"])
            walk(d.get("pci_bridge", {}).get("devices", []))
    for bus in qmp.cmd("query-pci"):
        walk(bus["devices"])
    return found


class Updates(VmTestCase):
    config = PC
    steps = STEPS

    def test_enumeration(self):
        """What the guest found through 0xcf8/0xcfc is what query-pci
        reports: the functions, BAR 0 as reset assigned it, the
        interrupt lines of the PIRQ routing."""
        g = PciGuest(self, self.config)
        g.wait_rounds(1)
        edus = check_output(g.output())[0]
        want = self.config["edus"]
        pci = query_pci_edus(g.qmp)
        self.assertEqual(sorted(pci), sorted(want))
        self.assertEqual(sorted(e[0] for e in edus), sorted(want))
        for addr, bar, irq in edus:
            self.assertEqual((bar, irq), pci[addr], addr)
            self.assertEqual(irq, want[addr], addr)

    def test_updates_and_migrations(self):
        """STEPS steps, every fifth a precopy migration, the others
        cpr-transfer and cpr-exec in turn; the guest goes on after each,
        and nothing it checks ever fails."""
        start = time.monotonic()
        g = PciGuest(self, self.config)
        g.wait_rounds(3)
        counts = {"cpr-transfer": 0, "cpr-exec": 0, "migrate": 0}
        times = []
        for step in range(self.steps):
            t0 = time.monotonic()
            if step % 5 == 4:
                kind = "migrate"
                g.migrate()
            elif counts["cpr-transfer"] <= counts["cpr-exec"]:
                kind = "cpr-transfer"
                g.cpr_transfer()
            else:
                kind = "cpr-exec"
                g.cpr_exec()
            counts[kind] += 1
            last = g.wait_rounds(2)
            times.append(time.monotonic() - t0)
            print("  step %d %s: round %d after %.2fs"
                  % (step, kind, last, times[-1]), flush=True)
        data = g.output()
        last = check_output(data)[1]
        m = list(_ROUND.finditer(data))[-1]
        print("  %s: %s; %d rounds, last: %s; %.1fs in all, median step "
              "%.2fs" % (self.config["machine"], counts, last + 1,
                         m.group(0).decode().strip(),
                         time.monotonic() - start,
                         sorted(times)[len(times) // 2] if times else 0.0))
        self.assertEqual(counts["cpr-transfer"] + counts["cpr-exec"],
                         self.steps - self.steps // 5)
        self.assertEqual(counts["migrate"], self.steps // 5)


Updates = needs_kvm(Updates)


@needs_kvm
class UpdatesQ35(Updates):
    """q35, one edu behind a root port, five steps."""
    config = Q35
    steps = 5


class OutputCheck(unittest.TestCase):
    """check_output() itself: what it accepts and what it rejects."""

    HEAD = (b"pci edu 0 00:03.0 bar0 0x80000000 irq 11 msi-cap 0xf0\n"
            b"pci ready: 1 edu\n")

    @staticmethod
    def line(n, spurious=0, extra=0):
        r = n + 1
        return (b"round %d msi %d intx %d dma %d fact %d spurious %d "
                b"repeat 0\n" % (n, 2 * r + 2 * (r // 2) + extra,
                                  r + 2 * ((r + 1) // 2), r, r, spurious))

    def test_good(self):
        data = self.HEAD + self.line(0) + self.line(1) + b"round 2 ms"
        self.assertEqual(check_output(data, 1),
                         ([("00:03.0", 0x80000000, 11)], 1))

    def test_bad(self):
        for data in (self.HEAD + self.line(1),
                     self.HEAD + self.line(0) + self.line(0),
                     self.HEAD + self.line(0, spurious=1),
                     self.HEAD + self.line(0) + self.line(1, extra=1),
                     self.HEAD + self.line(1)[:-1] + self.line(0),
                     self.HEAD + self.line(0) + b"pci error: round 1: x\n",
                     self.HEAD + self.line(0) + b"junk\n",
                     self.HEAD[50:]):
            with self.assertRaises(AssertionError, msg=data):
                check_output(data, 1)


if __name__ == "__main__":
    baton_test.main()
