# SPDX-License-Identifier: GPL-2.0-or-later
"""vfio-pci over the legacy VFIO container (docs/system/vfio.md;
test_vfio_iommufd.py runs the Device tests over iommufd).

Option errors run anywhere. The rest needs a VFIO host: this one has none,
so it runs against the host simulator (tests/hostsim: hostsimd plus the
LD_PRELOAD library) and its dmatest device, with a qtest driver in the
guest's place: the function enumerates with its ids, BAR 0 registers
read and write through the guest physical BAR, the device's DMA stream
lands in a ring in guest RAM (memfd-backed, so the simulator can pin it)
with no record missing or corrupt, MSI-X vector 0 and INTx arrive,
system_reset resets the device exactly once, and the error paths name the
device. Skips (exit 77) with the reason when hostsim is not built or its
preload cannot work here."""

import ctypes
import fcntl
import os
import re
import signal
import socket
import struct
import subprocess
import termios
import unittest

import baton_test
from baton_test import (BATON, QtestClient, Vm, VmTestCase, cpr_channels,
                        cpr_incoming_args, memfd_ram_args, proc_image_id,
                        tmpdir,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)
from test_pci import Cfg, bdf

BASE = ["-nodefaults", "-display", "none", "-accel", "qtest",
        "-serial", "null"]
PC = ["-machine", "pc", "-m", "64M"]

HOSTSIM_DIR = os.path.join(os.path.dirname(BATON or "."), "tests", "hostsim")
HOSTSIMD = os.path.join(HOSTSIM_DIR, "hostsimd")
LIBHOSTSIM = os.path.join(HOSTSIM_DIR, "libhostsim.so")

BDF = "0000:01:00.0"
GROUP = 5
SLOT = 4
IRQ = 11  # pc: slot 4's INTA is PIRQD, which goes to IRQ 11

# dmatest registers (issue 9), BAR 0.
ID, CTRL, RING_LO, RING_HI, RING_ENTRIES, PERIOD_US = 0, 4, 8, 0xc, 0x10, 0x14
HEAD, TAIL, OVERFLOWS, RESETS, IRQ_EVERY, FAULTS = 0x18, 0x1c, 0x20, 0x24, \
    0x28, 0x2c
CTRL_STREAM, CTRL_IRQ = 1, 2
MAGIC = 0x444d4154
# Config space.
COMMAND, MEM, MASTER = 0x04, 0x2, 0x4


def run(args, env=None, timeout=20):
    p = subprocess.run([BATON] + BASE + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stderr


class Options(unittest.TestCase):
    """Refused before any host device is touched, each error naming it."""

    def check(self, args, want):
        status, err = run(PC + args)
        self.assertEqual(status, 1, err)
        self.assertIn(want, err)

    def test_no_host(self):
        self.check(["-device", "vfio-pci"], "No provided host device")

    def test_bad_host(self):
        for host in ("zz", "01:00", "01:00.8", "1:2:3:4.0"):
            self.check(["-device", "vfio-pci,host=" + host],
                       "host '%s' is not a PCI address" % host)

    def test_both(self):
        self.check(["-device", "vfio-pci,host=01:00.0,sysfsdev=/x"],
                   "host= and sysfsdev= are exclusive")

    def test_fd(self):
        self.check(["-device", "vfio-pci,fd=3"],
                   "Use FD passing only with iommufd backend")

    def test_unknown_property(self):
        self.check(["-device", "vfio-pci,host=01:00.0,x-bogus=1"],
                   "has no property 'x-bogus'")

    def test_missing_device(self):
        self.check(["-device", "vfio-pci,host=7f:1f.7"],
                   "vfio 0000:7f:1f.7: no such host device")

    def test_no_group(self):
        d = os.path.join(tmpdir(), "0000:7e:00.0")
        os.makedirs(d, exist_ok=True)
        self.check(["-device", "vfio-pci,sysfsdev=" + d],
                   "vfio 0000:7e:00.0: no iommu_group found")

    def test_group_missing(self):
        d = os.path.join(tmpdir(), "0000:7d:00.0")
        os.makedirs(d, exist_ok=True)
        link = os.path.join(d, "iommu_group")
        if not os.path.islink(link):
            os.symlink("../../kernel/iommu_groups/987654", link)
        self.check(["-device", "vfio-pci,sysfsdev=" + d],
                   "vfio 0000:7d:00.0: failed to open /dev/vfio/987654")


class Hostsim:
    """A hostsimd with DEVICES and the environment that makes a process
    see it."""

    def __init__(self, case, devices, faults=None):
        self.sock = os.path.join(tmpdir(), "hostsim-%d.sock" % id(self))
        args = [HOSTSIMD, "--socket", self.sock]
        for d in devices:
            args += ["--device", d]
        self.log_path = os.path.join(tmpdir(), "hostsimd-%d.log" % id(self))
        self.log = open(self.log_path, "wb")
        # The daemon is not baton: the harness's sanitizer log directory
        # (which fails the test on any report) is for baton's processes.
        env = dict(os.environ)
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            env[var] = ":".join(o for o in env.get(var, "").split(":")
                                if o and not o.startswith("log_path="))
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
        env.pop("HOSTSIMD_FAULT", None)
        if faults:
            # Calls that fail as a kernel's may (docs/devel/hostsim.md).
            env["HOSTSIMD_FAULT"] = faults
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     env=env)
        case.addCleanup(self.stop)
        # It says when its socket listens and its /sys and /dev tree exist.
        wait_for(lambda: self.ready() or self.proc.poll() is not None,
                 what="hostsimd ready")
        if self.proc.poll() is not None:
            raise RuntimeError("hostsimd exited with %d" % self.proc.returncode)
        self.env = {"LD_PRELOAD": LIBHOSTSIM, "HOSTSIM_SOCKET": self.sock}
        if baton_test.SANITIZER:
            # ASan wants to come first; the preload goes before it.
            self.env["ASAN_OPTIONS"] = ":".join(
                o for o in [os.environ.get("ASAN_OPTIONS", ""),
                            "verify_asan_link_order=0"] if o)

    def ready(self):
        with open(self.log_path, "rb") as f:
            return b"hostsimd: ready" in f.read()

    def stop(self):
        early = self.proc.poll()
        if early is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()
        # What the simulated kernel saw go wrong on its side (a call it
        # could not answer reaches baton as EIO, like a dead device).
        with open(self.log_path, errors="replace") as f:
            odd = [ln for ln in f if re.search(
                r"reply lost|dropped|malformed|without credentials|failed|"
                r"runtime error|Sanitizer", ln)]
        if odd:
            print("\nhostsimd %s:\n%s" % (self.log_path, "".join(odd[-20:])))
        if early is not None:
            raise AssertionError("hostsimd exited during the test with "
                                 "status %d; its log: %s"
                                 % (early, self.log_path))


def preload_works():
    """Why the simulator cannot be used here, or None."""
    if not os.path.exists(HOSTSIMD) or not os.path.exists(LIBHOSTSIM):
        return "tests/hostsim is not built (no %s)" % HOSTSIMD
    return None


class Dmatest:
    """The dmatest function at 00:SLOT.0, seen through qtest."""

    def __init__(self, qt, slot=SLOT):
        self.qt = qt
        self.b = bdf(0, slot)
        self.cfg = Cfg(qt)
        self.refresh()

    def refresh(self):
        """BAR 0 as the reset-time assignment (or a guest) placed it."""
        self.bar0 = self.cfg.read(self.b, 0x10) & ~0xf
        cmd = self.cfg.read(self.b, COMMAND, 2)
        self.cfg.write(self.b, COMMAND, cmd | MEM | MASTER, 2)

    def rd(self, reg):
        return self.qt.readl(self.bar0 + reg)

    def wr(self, reg, val):
        self.qt.writel(self.bar0 + reg, val)

    def find_cap(self, cap_id):
        pos = self.cfg.read(self.b, 0x34, 1) & ~3
        while pos:
            if self.cfg.read(self.b, pos, 1) == cap_id:
                return pos
            pos = self.cfg.read(self.b, pos + 1, 1) & ~3
        return 0

    def start_ring(self, ring, entries, period_us=200, irq_every=0,
                   ctrl=CTRL_STREAM):
        """Stream on into RING; the driver's count starts again."""
        self.ring, self.entries = ring, entries
        self.n = self.missing = self.corrupt = 0
        self.wr(RING_LO, ring & 0xffffffff)
        self.wr(RING_HI, ring >> 32)
        self.wr(RING_ENTRIES, entries)
        self.wr(PERIOD_US, period_us)
        self.wr(IRQ_EVERY, irq_every)
        self.wr(CTRL, ctrl)

    def drain(self):
        """Check and consume every record written so far (TAIL follows,
        so the device never runs out of room while a test waits for
        something else); True if there were any."""
        head = self.rd(HEAD)
        for i in range(self.n + 1, head + 1):
            data = self.qt.read(self.ring + ((i - 1) % self.entries) * 16, 16)
            seq = int.from_bytes(data[0:8], "little")
            inv = int.from_bytes(data[8:12], "little")
            magic = int.from_bytes(data[12:16], "little")
            if seq != i:
                self.missing += 1
            elif inv != (~i & 0xffffffff) or magic != MAGIC:
                self.corrupt += 1
            self.n = i
            self.wr(TAIL, i)
        return head > 0

    def consume(self, count):
        """Consume until COUNT records in all since stream on; return
        (missing, corrupt) so far."""
        wait_for(lambda: self.drain() is not None and self.n >= count,
                 what="dmatest records up to %d (at %d)" % (count, self.n))
        return self.missing, self.corrupt


SYS_PIDFD_GETFD = 438  # x86-64
_libc = ctypes.CDLL(None, use_errno=True)


def accepted_socket(pid, path):
    """A duplicate (pidfd_getfd) of process PID's end of the connection it
    accepted on the UNIX socket PATH, as a socket object. The kernel shows
    an accepted socket under its listener's path in /proc/net/unix."""
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            # Num RefCount Protocol Flags Type St Inode Path; St 03: connected
            if len(fields) >= 8 and fields[7] == path and fields[5] == "03":
                inodes.add("socket:[%s]" % fields[6])
    fd_dir = "/proc/%d/fd" % pid
    fds = [int(n) for n in os.listdir(fd_dir)
           if os.readlink(os.path.join(fd_dir, n)) in inodes]
    if len(fds) != 1:
        raise AssertionError("process %d has %d connections on %s"
                             % (pid, len(fds), path))
    pidfd = os.pidfd_open(pid)
    try:
        fd = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fds[0], 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=fd)


def unread(sock):
    """Bytes waiting in SOCK's receive queue."""
    buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


# A switchover GO message: type, length, 4 x u64, CRC
# (docs/devel/migration-stream.md).
GO_BYTES = 5 + 32 + 4


# The soak's allowance for VmRSS growth, in KiB. Measured here, the
# process after 100 transfers and 20 execs is within a few hundred KiB of
# the one after three transfers (the driver touches the same ring pages of
# the shared guest RAM in both); a leak of even a few KiB per update
# (120 of them) would exceed it.
RSS_SLACK_KIB = 2048


def usage(pid):
    """(open fds, VmRSS in KiB) of process PID."""
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
    return len(os.listdir("/proc/%d/fd" % pid)), rss


class Device(VmTestCase):
    """vfio-pci over the legacy container; DeviceIommufd runs the same
    tests over iommufd, overriding the transport hooks below."""

    # The trace event of a new container / IOAS (made or adopted).
    NEW_TRACE = "vfio_container_new"

    def transport_args(self):
        return []

    def transport_prop(self):
        return ""

    @classmethod
    def setUpClass(cls):
        why = preload_works()
        if why:
            raise unittest.SkipTest(why)

    def start(self, extra=(), devices=(BDF + ",type=dmatest,group=%d"
                                       % GROUP,), mem="64M", machine="pc",
              faults=None):
        self.hs = Hostsim(self, devices, faults)
        ram = ["-object", "memory-backend-memfd,id=ram0,size=" + mem,
               "-machine", machine + ",memory-backend=ram0", "-m", mem]
        vm = Vm(BASE + ram + self.transport_args() + list(extra),
                binary=getattr(self, "binary", None))
        vm.extra_env = self.hs.env
        qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.launch(vm)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        return vm, qt

    def vfio(self, host=BDF, slot=SLOT, id="vf0"):
        return ["-device", "vfio-pci,host=%s,addr=%x,id=%s%s"
                % (host, slot, id, self.transport_prop())]

    def test_enumerates(self):
        vm, qt = self.start(self.vfio())
        bus = vm.qmp.cmd("query-pci")[0]
        dev = [d for d in bus["devices"] if d["slot"] == SLOT][0]
        self.assertEqual(dev["id"]["vendor"], 0xba70)
        self.assertEqual(dev["id"]["device"], 0x0001)
        self.assertEqual(dev["qdev_id"], "vf0")
        bar0 = [r for r in dev["regions"] if r["bar"] == 0][0]
        self.assertEqual(bar0["size"], 4096)
        d = Dmatest(qt)
        self.assertEqual(d.cfg.read(d.b, 0), 0x0001ba70)
        self.assertTrue(d.find_cap(0x11), "no MSI-X capability")
        info = vm.qmp.cmd("human-monitor-command",
                          **{"command-line": "info pci"})
        self.assertRegex(info.replace("\r", ""),
                         r"device   4, function 0:\n"
                         r"    Class 65280: PCI device ba70:0001\n"
                         r"      PCI subsystem ba70:0001\n"
                         r"      IRQ 11, pin A\n"
                         r"      BAR0: 32 bit memory at 0x[0-9a-f]+ ")

    def test_bar0_registers(self):
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        self.assertEqual(d.rd(ID), 0xba700001)
        d.wr(RING_ENTRIES, 64)
        self.assertEqual(d.rd(RING_ENTRIES), 64)
        d.wr(PERIOD_US, 1234)
        self.assertEqual(d.rd(PERIOD_US), 1234)

    def test_bar2_mmap(self):
        """The mmap-able BAR 2 is the device's memory mapped into the
        guest (a RAM section, no exit per access); BAR 0, which holds the
        MSI-X table, stays read/write."""
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        bar2 = d.cfg.read(d.b, 0x18) & ~0xf
        qt.writel(bar2 + 0x100, 0x12345678)
        qt.writel(bar2 + 0xfffc, 0x9abcdef0)
        self.assertEqual(qt.readl(bar2 + 0x100), 0x12345678)
        self.assertEqual(qt.readl(bar2 + 0xfffc), 0x9abcdef0)
        flat = vm.qmp.cmd("human-monitor-command",
                          **{"command-line": "info mtree -f"})
        self.assertRegex(flat, r"%016x-%016x \(prio \d+, ram\): "
                         r"%s BAR 2 mmap" % (bar2, bar2 + 0xffff, BDF))
        self.assertRegex(flat, r"\(prio \d+, i/o\): %s BAR 0" % BDF)
        self.assertEqual(d.rd(ID), 0xba700001)

    def test_msix_bar_split(self):
        """A BAR that holds the MSI-X table and PBA (hostsim msix-bar=2:
        table at 0x8000, PBA at 0x9000 of the 64 KiB BAR 2; the kernel's
        sparse-mmap areas leave out the table's page) is mmap'ed except
        for the table's and the PBA's pages: guest accesses elsewhere are
        the device's memory, the trapped pages read and write through to
        it too, MSI-X works through the emulated table (a masked vector
        sets its PBA bit), and a cpr-transfer rebuilds the same mappings
        in the new process from the inherited device fd."""
        vm, qt = self.start(self.vfio() + ["-trace", "enable=vfio_bar_mmap"],
                            devices=(BDF + ",type=dmatest,group=%d,"
                                     "msix-bar=2" % GROUP,))
        d = Dmatest(qt)
        bar2 = d.cfg.read(d.b, 0x18) & ~0xf
        pos = d.find_cap(0x11)
        self.assertEqual(d.cfg.read(d.b, pos + 4), 0x8002)
        self.assertEqual(d.cfg.read(d.b, pos + 8), 0x9002)
        mmaps = r"%s BAR 2 mmap at (0x[0-9a-f]+) size (0x[0-9a-f]+)" % BDF
        want = [("0x0", "0x8000"), ("0xa000", "0x6000")]
        self.assertEqual(re.findall(mmaps, vm.stderr_text()), want)
        flat = vm.qmp.cmd("human-monitor-command",
                          **{"command-line": "info mtree -f"})
        self.assertRegex(flat, r"%016x-%016x \(prio \d+, ram\): "
                         r"%s BAR 2 mmap 0x0\b" % (bar2, bar2 + 0x7fff, BDF))
        self.assertRegex(flat, r"%016x-%016x \(prio \d+, ram\): "
                         r"%s BAR 2 mmap 0xa000" % (bar2 + 0xa000,
                                                   bar2 + 0xffff, BDF))
        self.assertRegex(flat, r"%016x-%016x \(prio \d+, i/o\): msix-table"
                         % (bar2 + 0x8000, bar2 + 0x801f))
        self.assertRegex(flat, r"%016x-%016x \(prio \d+, i/o\): msix-pba"
                         % (bar2 + 0x9000, bar2 + 0x9007))
        # The mmap'ed parts and the trapped pages' other bytes.
        words = {0x100: 0x12345678, 0x7ffc: 0x0badcafe, 0x8100: 0x5a5a1234,
                 0x9ffc: 0x76543210, 0xa000: 0x9abcdef0, 0xfffc: 0x13572468}
        for off, val in words.items():
            qt.writel(bar2 + off, val)
        for off, val in words.items():
            self.assertEqual(qt.readl(bar2 + off), val, hex(off))
        # MSI-X through the trapped table; masked, the PBA bit (0x9000).
        self.msix_vector0(d, qt)
        d.start_ring(0x200000, 4096, period_us=100, irq_every=8,
                     ctrl=CTRL_STREAM | CTRL_IRQ)
        self.wait_msi(d, qt)
        table = bar2 + 0x8000
        qt.writel(table + 12, 1)
        wait_for(lambda: d.drain() is not None and
                 qt.readl(bar2 + 0x9000) & 1, what="PBA bit of vector 0")
        qt.writel(table + 12, 0)
        self.wait_msi(d, qt)
        resets = d.rd(RESETS)
        new = self.transfer(vm, "split-new")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertEqual(re.findall(mmaps, new.stderr_text()), want)
        for off, val in words.items():
            self.assertEqual(qt.readl(bar2 + off), val, hex(off))
        self.assertEqual(d.consume(d.n + 100), (0, 0))
        self.wait_msi(d, qt)
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)

    # Peer-to-peer: function A streams into B's BAR 2, which holds B's
    # MSI-X table and PBA, so that it is mmap'ed (and DMA-mapped) in two
    # parts, [0, 0x8000) and [0xa000, 0x10000).
    P2P_DEVICES = ("0000:01:00.0,type=dmatest,group=5",
                   "0000:02:00.0,type=dmatest,group=6,msix-bar=2")
    P2P_RING = 0xa000

    def p2p_start(self):
        """A (slot 4) and B (slot 5), B's BAR 2 moved by the guest to
        0x100000 above where the machine put it (a live update must find
        it there, not at the reset-time address); returns vm, qt, A, the
        address of the ring in B's BAR 2 (in its second mmap'ed part)."""
        args = (self.vfio(host="0000:01:00.0", slot=SLOT, id="a") +
                self.vfio(host="0000:02:00.0", slot=SLOT + 1, id="b"))
        vm, qt = self.start(args, devices=self.P2P_DEVICES)
        a, b = Dmatest(qt, SLOT), Dmatest(qt, SLOT + 1)
        bar2 = (b.cfg.read(b.b, 0x18) & ~0xf) + 0x100000
        b.cfg.write(b.b, 0x18, bar2)
        self.assertEqual(b.cfg.read(b.b, 0x18) & ~0xf, bar2)
        return vm, qt, a, bar2 + self.P2P_RING

    def test_p2p(self):
        """Peer-to-peer DMA over the legacy container: B's mmap'ed BAR 2
        parts are DMA-mapped by their vaddr like RAM, so A's records land
        in it
        (read back through the guest's address space at B's BAR), none
        missing, no fault; across a cpr-transfer and a cpr-exec (the BAR's
        vaddr abandoned and re-registered like RAM's, at the address the
        guest moved it to) the stream into it goes on."""
        vm, qt, a, ring = self.p2p_start()
        a.start_ring(ring, 1024, period_us=200)
        self.assertEqual(a.consume(100), (0, 0))
        self.assertEqual(a.rd(FAULTS), 0)
        self.assertNotIn("not DMA-mapped", vm.stderr_text())
        resets = a.rd(RESETS)
        new = self.transfer(vm, "p2p-new")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertEqual(a.consume(a.n + 300), (0, 0))
        state = vm.path("state")
        before = proc_image_id(new.pid)
        vm.qmp.cmd("migrate-set-parameters",
                   {"mode": "cpr-exec",
                    "cpr-exec-command": vm.command() + ["-incoming",
                                                        "defer"]})
        vm.qmp.cmd("migrate", uri="file:" + state)
        wait_for(lambda: new._died() or
                 proc_image_id(new.pid) not in (before, None), what="exec")
        vm.qmp.cmd("migrate-incoming", uri="file:" + state)
        wait_runstate(vm.qmp, "running")
        self.assertEqual(a.consume(a.n + 300), (0, 0))
        self.assertEqual(a.rd(FAULTS), 0)
        self.assertEqual(a.rd(RESETS), resets)
        self.assertNotIn("not DMA-mapped", new.stderr_text())

    def test_dma_ring(self):
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        ring, entries = 0x200000, 64
        d.start_ring(ring, entries)
        missing, corrupt = d.consume(300)
        self.assertEqual((missing, corrupt), (0, 0))
        self.assertEqual(d.rd(FAULTS), 0)

    def test_msix(self):
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        pos = d.find_cap(0x11)
        table = d.cfg.read(d.b, pos + 4)
        bir, off = table & 7, table & ~7
        base = d.cfg.read(d.b, 0x10 + 4 * bir) & ~0xf
        # Vector 0: message, unmasked; MSI-X on.
        qt.writel(base + off, 0xfee00000)
        qt.writel(base + off + 4, 0)
        qt.writel(base + off + 8, 0x4041)
        qt.writel(base + off + 12, 0)
        flags = d.cfg.read(d.b, pos + 2, 2)
        d.cfg.write(d.b, pos + 2, flags | 0x8000, 2)
        qt.cmd("irq_intercept_msi")
        d.start_ring(0x200000, 64, irq_every=4, ctrl=CTRL_STREAM | CTRL_IRQ)
        wait_for(lambda: d.rd(HEAD) >= 0 and
                 "IRQ msi 0xfee00000 0x4041" in qt.irqs,
                 what="MSI-X vector 0")

    def test_msi(self):
        """MSI (the capability baton emulates; 32-bit, one vector): the
        device's vector arrives with the guest's message; turning MSI off
        brings INTx back."""
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        pos = d.find_cap(0x05)
        self.assertTrue(pos, "no MSI capability")
        d.cfg.write(d.b, pos + 4, 0xfee00000)
        d.cfg.write(d.b, pos + 8, 0x4042, 2)
        d.cfg.write(d.b, pos + 2, 0x0001, 2)  # enable, one vector
        self.assertEqual(d.cfg.read(d.b, pos + 4), 0xfee00000)
        d.start_ring(0x200000, 4096, irq_every=4,
                     ctrl=CTRL_STREAM | CTRL_IRQ)
        self.wait_msi(d, qt, data=0x4042)
        d.cfg.write(d.b, pos + 2, 0, 2)
        qt.cmd("irq_intercept_in ioapic")
        # Draining keeps room in the ring: a full one (a slow host) writes
        # no record, so no interrupt would come.
        wait_for(lambda: d.drain() is not None and d.cfg.read(d.b, 0) and
                 "IRQ raise %d" % IRQ in qt.irqs, what="INTx after MSI")

    def test_intx(self):
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        qt.cmd("irq_intercept_in ioapic")
        d.start_ring(0x200000, 64, irq_every=4, ctrl=CTRL_STREAM | CTRL_IRQ)
        # The line rises; qtest commands other than BAR accesses (a config
        # read) leave it up, so the BAR read below is what ends it.
        wait_for(lambda: d.cfg.read(d.b, 0) and
                 "IRQ raise %d" % IRQ in qt.irqs, what="INTx raise")
        qt.irqs.clear()
        d.rd(HEAD)
        self.assertIn("IRQ lower %d" % IRQ, qt.irqs)
        # The device fires again once unmasked.
        wait_for(lambda: d.cfg.read(d.b, 0) and
                 "IRQ raise %d" % IRQ in qt.irqs, what="INTx again")

    def test_reset(self):
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        before = d.rd(RESETS)
        d.wr(RING_ENTRIES, 64)
        vm.qmp.cmd("system_reset")
        vm.qmp.get_event("RESET")
        d.refresh()
        self.assertEqual(d.rd(RESETS), before + 1)
        self.assertEqual(d.rd(RING_ENTRIES), 0)

    def msix_vector0(self, d, qt, data=0x4041):
        """Vector 0 unmasked with DATA, MSI-X on, MSIs intercepted."""
        pos = d.find_cap(0x11)
        table = d.cfg.read(d.b, pos + 4)
        base = (d.cfg.read(d.b, 0x10 + 4 * (table & 7)) & ~0xf) + (table & ~7)
        qt.writel(base, 0xfee00000)
        qt.writel(base + 4, 0)
        qt.writel(base + 8, data)
        qt.writel(base + 12, 0)
        flags = d.cfg.read(d.b, pos + 2, 2)
        d.cfg.write(d.b, pos + 2, flags | 0x8000, 2)
        qt.cmd("irq_intercept_msi")

    def wait_msi(self, d, qt, data=0x4041):
        """An MSI with DATA arrives. Interception is asked for at each
        poll: after an update the new process's qtest session may start
        afresh once it took over, forgetting an earlier request."""
        qt.irqs.clear()
        wait_for(lambda: qt.cmd("irq_intercept_msi") is not None and
                 d.drain() is not None and
                 "IRQ msi 0xfee00000 0x%x" % data in qt.irqs,
                 what="MSI-X vector 0")

    def update_args(self, vm):
        main, cpr = vm.path("m.sock"), vm.path("c.sock")
        return main, cpr, vm.command()[1:] + cpr_incoming_args(main, cpr)

    def test_cpr_transfer(self):
        """The device lives on in a new process: its DMA never stops (no
        record missing or corrupt, no fault), it is not reset, and its
        MSI-X vector fires in the new process."""
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        ring, entries = 0x200000, 4096
        self.msix_vector0(d, qt)
        d.start_ring(ring, entries, period_us=100, irq_every=16,
                     ctrl=CTRL_STREAM | CTRL_IRQ)
        self.assertEqual(d.consume(100), (0, 0))
        self.wait_msi(d, qt)
        resets = d.rd(RESETS)
        bar2 = d.cfg.read(d.b, 0x18) & ~0xf
        qt.writel(bar2 + 0x40, 0xcafef00d)
        main, cpr, argv = self.update_args(vm)
        new = Vm(argv, qmp=False, name="vfio-new")
        new.extra_env = self.hs.env
        self.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(vm.qmp)
        wait_runstate(vm.qmp, "running")  # the new process, same socket
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        # The qtest session is the new process's: the same device.
        qt.cmd("irq_intercept_msi")
        self.assertEqual(d.consume(600), (0, 0))
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)
        # The new process maps the same device memory (BAR 2).
        self.assertEqual(qt.readl(bar2 + 0x40), 0xcafef00d)
        self.wait_msi(d, qt)

    def test_four_devices(self):
        """Four functions, two of them in one group and the groups sharing
        one container: each streams into its own ring with nothing lost,
        and a cpr-transfer and then a cpr-exec keep all four going."""
        bdfs = ["0000:01:00.0", "0000:01:00.1", "0000:02:00.0",
                "0000:03:00.0"]
        groups = [5, 5, 6, 7]
        devs = ["%s,type=dmatest,group=%d" % (b, g)
                for b, g in zip(bdfs, groups)]
        args = ["-trace", "enable=" + self.NEW_TRACE]
        for i, b in enumerate(bdfs):
            args += self.vfio(host=b, slot=SLOT + i, id="vf%d" % i)
        vm, qt = self.start(args, devices=devs)
        # The kernel let the three groups share one container (IOAS).
        self.assertEqual(vm.stderr_text().count(self.NEW_TRACE + " "), 1)
        ds = [Dmatest(qt, SLOT + i) for i in range(4)]
        rings = [0x200000 + i * 0x100000 for i in range(4)]
        entries = 4096
        for d, ring in zip(ds, rings):
            d.start_ring(ring, entries, period_us=200)
        for d, ring in zip(ds, rings):
            self.assertEqual(d.consume(30), (0, 0))
        resets = [d.rd(RESETS) for d in ds]
        main, cpr, argv = self.update_args(vm)
        new = Vm(argv, qmp=False, name="vfio4-new")
        new.extra_env = self.hs.env
        self.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(vm.qmp)
        wait_runstate(vm.qmp, "running")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        for d, ring in zip(ds, rings):
            self.assertEqual(d.consume(150), (0, 0))
        # The new process adopted that one container once, too.
        self.assertEqual(new.stderr_text().count(self.NEW_TRACE + " "), 1)
        # cpr-exec keeps fd numbers: the groups' one container fd is not
        # a second copy to close (it was, and the next map failed).
        state = vm.path("state")
        before = proc_image_id(new.pid)
        vm.qmp.cmd("migrate-set-parameters",
                   {"mode": "cpr-exec",
                    "cpr-exec-command": vm.command() + ["-incoming",
                                                        "defer"]})
        vm.qmp.cmd("migrate", uri="file:" + state)
        wait_for(lambda: new._died() or
                 proc_image_id(new.pid) not in (before, None), what="exec")
        vm.qmp.cmd("migrate-incoming", uri="file:" + state)
        wait_runstate(vm.qmp, "running")
        for d, ring in zip(ds, rings):
            self.assertEqual(d.consume(d.n + 100), (0, 0))
        self.assertEqual([d.rd(FAULTS) for d in ds], [0] * 4)
        self.assertEqual([d.rd(RESETS) for d in ds], resets)

    def transfer(self, vm, name):
        """One cpr-transfer of VM (whose QMP connection follows the
        guest); returns the new process once the old one quit."""
        main, cpr, argv = self.update_args(vm)
        for path in (main, cpr):
            if os.path.exists(path):
                os.unlink(path)
        new = Vm(argv, qmp=False, name=name)
        new.extra_env = self.hs.env
        self.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(vm.qmp)
        wait_runstate(vm.qmp, "running")
        return new

    def test_cpr_soak(self):
        """The soak with one function (see soak())."""
        self.soak(1)

    def test_cpr_soak_four(self):
        """The soak with four functions in three groups sharing one
        container (IOAS), each on its own MSI-X vector."""
        self.soak(4)

    def soak(self, ndev):
        """BATON_VFIO_SOAK_TRANSFERS cpr-transfers and then
        BATON_VFIO_SOAK_EXECS cpr-execs in a row (the issue's 100 and 20;
        5 and 2 in the sanitizer build, several times slower per process),
        the driver consuming every function's ring throughout: after each
        update every function's records go on with none missing or
        corrupt and its MSI-X vector fires in the new process; at the end
        0 faults, no reset, and no growth: the process after the last
        exec holds as many fds as the first exec'd one and as the process
        after the first few transfers, and its VmRSS is within
        RSS_SLACK_KIB of that process's (not in the sanitizer build)."""
        san = os.environ.get("BATON_TEST_SANITIZER") == "1"
        soak = ("5", "2") if san else ("100", "20")
        transfers = int(os.environ.get("BATON_VFIO_SOAK_TRANSFERS", soak[0]))
        execs = int(os.environ.get("BATON_VFIO_SOAK_EXECS", soak[1]))
        bdfs = ["0000:01:00.0", "0000:01:00.1", "0000:02:00.0",
                "0000:03:00.0"][:ndev]
        groups = [5, 5, 6, 7]
        args = []
        for i, b in enumerate(bdfs):
            args += self.vfio(host=b, slot=SLOT + i, id="vf%d" % i)
        vm, qt = self.start(args, devices=[
            "%s,type=dmatest,group=%d" % (b, g) for b, g in zip(bdfs, groups)])
        ds = [Dmatest(qt, SLOT + i) for i in range(ndev)]
        for i, d in enumerate(ds):
            self.msix_vector0(d, qt, data=0x4041 + i)
            # 1000 records/s each: the qtest driver reads every record,
            # one command each, and must keep up with four functions.
            d.start_ring(0x200000 + i * 0x100000, 4096, period_us=1000,
                         irq_every=8, ctrl=CTRL_STREAM | CTRL_IRQ)
        for d in ds:
            self.assertEqual(d.consume(20), (0, 0))
        resets = [d.rd(RESETS) for d in ds]

        def updated(what):
            """Every function streams on, nothing lost, and interrupts."""
            for i, d in enumerate(ds):
                self.assertEqual(d.consume(d.n + 10), (0, 0),
                                 "%s: function %d" % (what, i))
                self.wait_msi(d, qt, data=0x4041 + i)

        procs = [vm]
        early = None
        for i in range(transfers):
            procs.append(self.transfer(vm, "soak-t%d" % i))
            procs[-2].proc.terminate()
            self.assertEqual(procs[-2].proc.wait(10), 0)
            updated("transfer %d" % i)
            if i == min(2, transfers - 1):
                early = usage(procs[-1].pid)
        pid = procs[-1].pid
        argv = [procs[-1].command()[0]] + vm.command()[1:]
        execd = []
        for i in range(execs):
            state = vm.path("soak-state%d" % i)
            before = proc_image_id(pid)
            vm.qmp.cmd("migrate-set-parameters",
                       {"mode": "cpr-exec",
                        "cpr-exec-command": argv + ["-incoming", "defer"]})
            vm.qmp.cmd("migrate", uri="file:" + state)
            wait_for(lambda: proc_image_id(pid) not in (before, None),
                     what="exec %d" % i)
            vm.qmp.cmd("migrate-incoming", uri="file:" + state)
            wait_runstate(vm.qmp, "running")
            os.unlink(state)
            updated("exec %d" % i)
            execd.append(usage(pid))
        self.assertEqual([d.rd(FAULTS) for d in ds], [0] * ndev)
        self.assertEqual([d.rd(RESETS) for d in ds], resets)
        final = execd[-1] if execd else usage(pid)
        print("\n  soak: %d functions, %d transfers, %d execs, records %s, "
              "overflows %s; fds %d -> %d, VmRSS %d -> %d KiB"
              % (ndev, transfers, execs, [d.n for d in ds],
                 [d.rd(OVERFLOWS) for d in ds], early[0], final[0],
                 early[1], final[1]))
        if execs > 1:
            self.assertEqual(execd[-1][0], execd[0][0], execd)
        self.assertEqual(final[0], early[0], (early, final))
        if not san:
            # ASan's quarantine holds freed memory (its RSS grows by MiBs
            # without a leak); its leak check covers that build instead.
            self.assertLess(final[1] - early[1], RSS_SLACK_KIB,
                            (early, final))

    def test_cpr_exec(self):
        """Three cpr-execs in a row (same pid, new image): the stream goes
        on throughout, no reset, MSI-X still fires, no fd leaks."""
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        ring, entries = 0x200000, 4096
        self.msix_vector0(d, qt)
        d.start_ring(ring, entries, period_us=100, irq_every=16,
                     ctrl=CTRL_STREAM | CTRL_IRQ)
        self.assertEqual(d.consume(50), (0, 0))
        resets = d.rd(RESETS)
        argv = vm.command()
        fds = []
        for i in range(3):
            state = vm.path("state%d" % i)
            before = proc_image_id(vm.pid)
            vm.qmp.cmd("migrate-set-parameters",
                       {"mode": "cpr-exec",
                        "cpr-exec-command": argv + ["-incoming", "defer"]})
            vm.qmp.cmd("migrate", uri="file:" + state)
            wait_for(lambda: vm._died() or
                     proc_image_id(vm.pid) not in (before, None),
                     what="exec")
            vm.qmp.cmd("migrate-incoming", uri="file:" + state)
            wait_runstate(vm.qmp, "running")
            qt.cmd("irq_intercept_msi")
            self.assertEqual(d.consume(d.n + 200), (0, 0))
            self.wait_msi(d, qt)
            fds.append(sorted(os.listdir("/proc/%d/fd" % vm.pid)))
        # The image that comes after an exec holds the same fds: none leaks.
        self.assertEqual(fds[1], fds[2])
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)

    def test_cpr_late_vectors(self):
        """The guest enables MSI-X after the CPR state went out (the new
        process is held right after reading it): the vectors' eventfds
        travel at the switchover, the INTx one is dropped, and vector 0
        fires in the new process."""
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        d.start_ring(0x200000, 4096, period_us=100, irq_every=16,
                     ctrl=CTRL_STREAM | CTRL_IRQ)
        self.assertEqual(d.consume(50), (0, 0))
        main, cpr, argv = self.update_args(vm)
        new = Vm(argv, qmp=False, name="vfio-late")
        new.extra_env = dict(self.hs.env,
                             BATON_FAULT_INJECT="incoming-cpr-state")
        self.launch(new)
        self.addCleanup(lambda: new.proc.poll() is None and
                        os.kill(new.pid, signal.SIGCONT))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))

        def stopped():
            with open("/proc/%d/stat" % new.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"
        wait_for(lambda: new._died() or stopped(), what="new process held")
        self.msix_vector0(d, qt)  # the old process still runs the guest
        self.wait_msi(d, qt)
        os.kill(new.pid, signal.SIGCONT)
        wait_migration(vm.qmp)
        wait_runstate(vm.qmp, "running")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.wait_msi(d, qt)
        self.assertEqual(d.consume(d.n + 300), (0, 0))
        self.assertEqual(d.rd(FAULTS), 0)

    def test_cpr_rollback(self):
        """The new process dies right after reading the CPR state (the
        old one still runs the guest) and at each point after the old one
        stopped the guest and abandoned its vaddrs (connected, state
        loaded and vaddrs registered, READY sent): each time the old one
        goes on (restoring its vaddrs where it had abandoned them) with
        the stream intact; then an update succeeds."""
        vm, qt = self.start(self.vfio() + self.rollback_trace())
        d = Dmatest(qt)
        ring, entries = 0x200000, 4096
        d.start_ring(ring, entries, period_us=100)
        self.assertEqual(d.consume(50), (0, 0))
        resets = d.rd(RESETS)
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        points = ("incoming-cpr-state", "incoming-accepted",
                  "incoming-loaded", "incoming-ready")
        rolled = 0
        for point in points:
            main, cpr, argv = self.update_args(vm)
            for path in (main, cpr):
                if os.path.exists(path):
                    os.unlink(path)
            new = Vm(argv, qmp=False, name="vfio-dies-" + point)
            new.extra_env = dict(self.hs.env, BATON_FAULT_INJECT=point)
            self.launch(new)
            wait_for(lambda: unix_listening(cpr) or new._died(),
                     what="cpr socket")
            vm.qmp.clear_events()
            vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))

            def stopped():
                with open("/proc/%d/stat" % new.pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "T"
            wait_for(lambda: new._died() or stopped(),
                     what="new process at " + point)
            # Right after the CPR state the old process still runs the
            # guest (it has not stopped it nor abandoned anything yet);
            # at the later points it has handed over.
            early = point == "incoming-cpr-state"
            if not early:
                vm.qmp.get_event("STOP")
                rolled += 1
            new.kill()
            info = wait_migration(vm.qmp, until=("failed",))
            self.assertTrue(info.get("error-desc"), info)
            wait_runstate(vm.qmp, "running")
            self.assertEqual(d.consume(d.n + 100), (0, 0), point)
            self.assertEqual(d.rd(FAULTS), 0, point)
            self.assertEqual(d.rd(RESETS), resets, point)
            self.check_rollback(vm, new, point, rolled)
        # And the update works afterwards.
        main, cpr, argv = self.update_args(vm)
        for path in (main, cpr):
            if os.path.exists(path):
                os.unlink(path)
        new = Vm(argv, qmp=False, name="vfio-new2")
        new.extra_env = self.hs.env
        self.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(vm.qmp)
        wait_runstate(vm.qmp, "running")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertEqual(d.consume(d.n + 200), (0, 0))
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)

    def test_cpr_guest_lost(self):
        """The new process dies after it confirmed GO (RESUMING), before
        it ran the guest: the old one may not run it again, says "the
        guest is lost" and exits 2, and does not reset the device on its
        way out (the only reset after the stream started is the kernel's
        at the last close, once both processes are gone)."""
        vm, qt = self.start(self.vfio())
        d = Dmatest(qt)
        d.start_ring(0x200000, 4096, period_us=100)
        self.assertEqual(d.consume(50), (0, 0))

        def resets():
            with open(self.hs.log_path) as f:
                return re.findall(r"device %s reset \(([^)]*)\)" % BDF,
                                  f.read())
        # The first open's and the machine reset's.
        before = resets()
        self.assertEqual(len(before), d.rd(RESETS))
        main, cpr, argv = self.update_args(vm)
        new = Vm(argv, qmp=False, name="vfio-lost")
        new.extra_env = dict(self.hs.env,
                             BATON_FAULT_INJECT="incoming-resuming")
        self.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))

        def stopped():
            with open("/proc/%d/stat" % new.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"
        wait_for(lambda: new._died() or stopped(),
                 what="new process at incoming-resuming")
        self.assertTrue(stopped(), new.stderr_text())
        self.assertIsNone(vm.proc.poll(), vm.stderr_text())
        new.kill()
        self.assertEqual(vm.proc.wait(30), 2, vm.stderr_text())
        self.assertIn("before it ran the guest: the guest is lost",
                      vm.stderr_text())
        wait_for(lambda: "last close" in resets(), what="the last close")
        self.assertEqual(resets(), before + ["last close"])

    def launch_new(self, vm, name, inject=None, env=None):
        """The new process of a cpr-transfer of VM, listening (held at
        the fault-injection point INJECT if given; ENV added to its
        environment); returns it and the channels for migrate."""
        main, cpr, argv = self.update_args(vm)
        for path in (main, cpr):
            if os.path.exists(path):
                os.unlink(path)
        new = Vm(argv, qmp=False, name=name)
        new.extra_env = dict(self.hs.env, **(env or {}))
        if inject:
            new.extra_env["BATON_FAULT_INJECT"] = inject
            self.addCleanup(lambda: new.proc.poll() is None and
                            os.kill(new.pid, signal.SIGCONT))
        self.launch(new)
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        new.main_path = main
        return new, cpr_channels(main, cpr)

    def held(self, new, point):
        """Wait until NEW stopped itself at fault-injection point POINT."""
        def stopped():
            with open("/proc/%d/stat" % new.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"
        wait_for(lambda: new._died() or stopped(),
                 what="new process at " + point)

    def check_resumed(self, vm, d, qt, resets):
        """The old process runs the guest again with the device as it
        was: records go on with none missing or corrupt, no DMA fault, no
        reset, MSI-X vector 0 fires; then a cpr-transfer succeeds."""
        wait_runstate(vm.qmp, "running")
        self.assertEqual(d.consume(d.n + 100), (0, 0))
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)
        self.wait_msi(d, qt)
        self.transfer(vm, "vfio-after")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        qt.cmd("irq_intercept_msi")
        self.assertEqual(d.consume(d.n + 200), (0, 0))
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)
        self.wait_msi(d, qt)

    def start_streaming(self, faults=None):
        """A function streaming with MSI-X vector 0 on, pc's two RAM
        sections (below and above the VGA hole) mapped."""
        vm, qt = self.start(self.vfio() + self.rollback_trace(),
                            faults=faults)
        d = Dmatest(qt)
        self.msix_vector0(d, qt)
        d.start_ring(0x200000, 4096, period_us=100, irq_every=16,
                     ctrl=CTRL_STREAM | CTRL_IRQ)
        self.assertEqual(d.consume(50), (0, 0))
        self.wait_msi(d, qt)
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        return vm, qt, d

    def test_cpr_unmap_partial(self):
        """The old process's VFIO_DMA_UNMAP_FLAG_VADDR of all mappings
        fails part-way, all but the last of the three mappings (pc's two
        RAM ranges and the function's own mmap'ed BAR 2) invalidated
        (hostsim's unmap-vaddr-partial, a kernel that does not unwind):
        the update fails with the kernel's error, the old process gives
        every mapping its vaddr again and resumes with the stream intact;
        the new process exits 1; a cpr-transfer then works (its unmap-all
        would fail if any vaddr were still invalid)."""
        vm, qt, d = self.start_streaming(faults="unmap-vaddr-partial")
        resets = d.rd(RESETS)
        new, channels = self.launch_new(vm, "vfio-partial")
        vm.qmp.cmd("migrate", channels=channels)
        info = wait_migration(vm.qmp, until=("failed",))
        self.assertEqual(info.get("error-desc"),
                         "vfio: invalidating the container's vaddrs "
                         "(VFIO_DMA_UNMAP_FLAG_VADDR) failed: Invalid "
                         "argument")
        self.assertEqual(new.wait(30), 1)
        self.assertIn("load of migration failed", new.stderr_text())
        with open(self.hs.log_path) as f:
            self.assertIn("2 of 3 vaddr(s) invalidated, then failed",
                          f.read())
        err = vm.stderr_text()
        self.assertEqual(err.count("abandon vaddr of 3 mappings -> -22\n"),
                         1, err)
        self.assertEqual(err.count("restore vaddr of 3 mappings -> 0\n"), 1,
                         err)
        self.check_resumed(vm, d, qt, resets)

    def hostsim_lines(self, pid):
        """hostsimd's log lines about calls of process PID."""
        with open(self.hs.log_path) as f:
            return [ln for ln in f if ln.startswith("hostsimd: pid %d:" % pid)]

    def test_cpr_channel_broken(self):
        """After the hand-over the migration channel breaks while the new
        process lives (the test shuts its end down while it is held):
        once with the old process waiting for READY (the new one loaded
        the state and re-registered the vaddrs), once with GO already
        waiting in the new one's socket. Each time the old process takes
        the guest back (restoring its vaddrs; over iommufd the new one
        never took the pinned pages' accounting) and resumes with the
        stream, MSI-X and RESETS intact; the new process, continued,
        exits 1 naming the broken channel, without running the guest,
        resetting the device or asking the simulator for anything. Then
        an update works."""
        vm, qt, d = self.start_streaming()
        resets = d.rd(RESETS)
        cases = (("incoming-loaded", "the source did not hand the guest "
                  "over: switchover message: write failed: Broken pipe"),
                 ("incoming-ready", "the migration channel broke after GO, "
                  "before this process confirmed it: the old process lives "
                  "and keeps the guest"))
        for rolled, (point, why) in enumerate(cases, 1):
            new, channels = self.launch_new(vm, "vfio-cut-" + point,
                                            inject=point)
            vm.qmp.clear_events()
            vm.qmp.cmd("migrate", channels=channels)
            self.held(new, point)
            vm.qmp.get_event("STOP")
            with accepted_socket(new.pid, new.main_path) as sock:
                if point == "incoming-ready":
                    wait_for(lambda: unread(sock) >= GO_BYTES,
                             what="GO in the new process's socket")
                sock.shutdown(socket.SHUT_RDWR)
            info = wait_migration(vm.qmp, until=("failed",))
            self.assertIn("the peer closed the migration channel",
                          info.get("error-desc", ""))
            wait_runstate(vm.qmp, "running")
            self.assertEqual(d.consume(d.n + 50), (0, 0), point)
            calls = len(self.hostsim_lines(new.pid))
            os.kill(new.pid, signal.SIGCONT)
            self.assertEqual(new.wait(30), 1, new.stderr_text())
            self.assertIn("load of migration failed: " + why,
                          new.stderr_text())
            self.assertEqual(len(self.hostsim_lines(new.pid)), calls,
                             self.hostsim_lines(new.pid))
            self.assertEqual(d.consume(d.n + 100), (0, 0), point)
            self.assertEqual(d.rd(FAULTS), 0, point)
            self.assertEqual(d.rd(RESETS), resets, point)
            self.check_rollback(vm, new, point, rolled)
        self.check_resumed(vm, d, qt, resets)

    def commit_fault(self):
        """(hostsimd faults, the new process's environment, its error)
        that make the new process's commit fail after GO."""
        return (None, {"BATON_FAULT_INJECT": "cpr-notify-commit"},
                "live update commit failed (fault injected)")

    def test_cpr_commit_fails(self):
        """The new process's commit fails after GO (before RESUMING): it
        says so to the old one (FAILED) and exits 1 without running the
        guest; the old process takes the guest back with its vaddrs and
        the stream intact; then an update works."""
        faults, env, why = self.commit_fault()
        vm, qt, d = self.start_streaming(faults=faults)
        resets = d.rd(RESETS)
        new, channels = self.launch_new(vm, "vfio-commit", env=env)
        vm.qmp.cmd("migrate", channels=channels)
        info = wait_migration(vm.qmp, until=("failed",))
        self.assertEqual(info.get("error-desc"), "the destination refused "
                         "the guest after GO: " + why)
        self.assertEqual(new.wait(30), 1, new.stderr_text())
        self.assertIn("load of migration failed: " + why, new.stderr_text())
        self.check_rollback(vm, new, "commit", 1)
        self.check_resumed(vm, d, qt, resets)

    def rollback_trace(self):
        return ["-trace", "enable=vfio_cpr_vaddr"]

    def check_rollback(self, vm, new, point, rolled):
        """Every mapping (two of RAM, and the function's own mmap'ed BAR
        2, mapped for peer-to-peer DMA) came back to the old process each
        time it had abandoned them (ROLLED times so far)."""
        err = vm.stderr_text()
        self.assertEqual(len(re.findall(
            r"abandon vaddr of 3 mappings -> 0\n", err)), rolled, err)
        self.assertEqual(len(re.findall(
            r"restore vaddr of 3 mappings -> 0\n", err)), rolled, err)

    def test_migrate_blocked(self):
        """Normal migration of a device without VFIO migration support is
        refused, naming the device (test_vfio_migration.py has the rest);
        cpr-reboot too."""
        vm, qt = self.start(self.vfio())
        for mode, want in (("normal", BDF + ": VFIO migration is not "
                            "supported in kernel"),
                           ("cpr-reboot", "device 'vf0' (vfio-pci) does not "
                            "support migration mode cpr-reboot")):
            vm.qmp.cmd("migrate-set-parameters", mode=mode)
            with self.assertRaises(baton_test.QmpError) as e:
                vm.qmp.cmd("migrate", uri="unix:" + vm.path("x.sock"))
            self.assertIn(want, str(e.exception))

    def test_mdev_blocks_cpr(self):
        """A mediated device needs a valid vaddr at all times: live update
        on the legacy container is refused up front, naming it, and the
        guest runs on."""
        vm, qt = self.start(self.vfio(), devices=(
            BDF + ",type=dmatest,group=%d,mdev=on" % GROUP,))
        main, cpr, argv = self.update_args(vm)
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        with self.assertRaises(baton_test.QmpError) as e:
            vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        self.assertIn("vfio %s: its VFIO container does not support "
                      "VFIO_UPDATE_VADDR" % BDF, str(e.exception))
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")

    def test_remap(self):
        """A memory map change re-maps DMA: q35's MMCONFIG window moved
        over RAM hides the ring (the device faults), moved away brings it
        back (records land again)."""
        vm, qt = self.start(self.vfio(), mem="512M", machine="q35")
        d = Dmatest(qt)
        ring, entries = 0x9000000, 64
        d.start_ring(ring, entries)
        self.assertEqual(d.consume(20), (0, 0))
        d.wr(CTRL, 0)
        faults = d.rd(FAULTS)
        self.assertEqual(faults, 0)
        # PCIEXBAR (00:00.0 0x60): 256 MiB at 128 MiB, over the ring.
        d.cfg.write(bdf(0, 0), 0x60, 0x08000001)
        d.start_ring(ring, entries)
        wait_for(lambda: d.rd(FAULTS) > faults, what="DMA faults")
        d.wr(CTRL, 0)
        # Back to its usual place: the RAM, and its mapping, return.
        d.cfg.write(bdf(0, 0), 0x60, 0xb0000001)
        faults = d.rd(FAULTS)
        d.start_ring(ring, entries)
        self.assertEqual(d.consume(20), (0, 0))
        self.assertEqual(d.rd(FAULTS), faults)

    def test_errors(self):
        self.hs = Hostsim(self, [BDF + ",type=dmatest,group=%d" % GROUP])
        # The same function twice in one process.
        status, err = run(memfd_ram_args("64M") + self.vfio() +
                          self.vfio(slot=5, id="vf1"), env=dict(
                              os.environ, **self.hs.env))
        self.assertEqual(status, 1, err)
        self.assertIn("vfio %s: device is already attached" % BDF, err)
        # No such function on the simulated host.
        status, err = run(memfd_ram_args("64M") +
                          self.vfio(host="0000:02:00.0"),
                          env=dict(os.environ, **self.hs.env))
        self.assertEqual(status, 1, err)
        self.assertIn("vfio 0000:02:00.0: no such host device", err)
        # A group another process holds: the kernel's EBUSY, named.
        vm, qt = self.start(self.vfio())
        status, err = run(memfd_ram_args("64M") + self.vfio(),
                          env=dict(os.environ, **self.hs.env))
        self.assertEqual(status, 1, err)
        self.assertIn("vfio %s: failed to open /dev/vfio/%d: Device or "
                      "resource busy" % (BDF, GROUP), err)

    def test_private_ram(self):
        """RAM the IOMMU cannot pin: the kernel's error, device named."""
        self.hs = Hostsim(self, [BDF + ",type=dmatest,group=%d" % GROUP])
        status, err = run(PC + self.transport_args() + self.vfio(),
                          env=dict(os.environ, **self.hs.env))
        self.assertEqual(status, 1, err)
        self.assertIn("vfio %s: vfio: DMA map of RAM" % BDF, err)


if __name__ == "__main__":
    baton_test.main()
