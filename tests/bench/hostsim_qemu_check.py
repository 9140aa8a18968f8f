#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check tests/hostsim against an independent user of the same uAPI: a
QEMU (>= 10.0 for aux-ram-share and iommufd; >= 10.1 for vfio cpr) runs
under libhostsim.so with -accel qtest, attaches hostsimd's dmatest
function with vfio-pci over the legacy container and over iommufd, and a
qtest driver in the guest's place (the same steps as
tests/functional/test_vfio.py: memory and bus master on, BAR 0
programmed, a ring in guest RAM, stream on) checks the records (n, ~n,
magic), FAULTS and RESETS, MSI-X (vector 0's message aimed at guest RAM,
and its pending bit while masked) and BAR 2's mmap. With --cpr it also
runs QEMU's own cpr-transfer with the device and checks that the stream
goes on in the new process. QEMU's vfio CPR code needs KVM (under qtest
the old QEMU crashes in its KVM irqfd calls): --accel kvm runs KVM with
the vCPUs never started (-S), qtest still driving memory and I/O.

Not part of 'make check': it needs a QEMU that Debian 12 does not have.
Typically that QEMU lives in a Debian 13 chroot (docs/devel/hostsim.md):

    tests/bench/hostsim_qemu_check.py --chroot /var/tmp/trixie --cpr

The chroot shares the host's PID namespace (hostsimd opens the caller's
/proc/PID/map_files); the script bind-mounts its work directory (sockets,
the daemon's /dev and /sys tree, a copy of libhostsim.so) at the same
path inside the chroot and mounts /proc there if needed, and undoes both
at exit. Run as root. Prints one PASS/FAIL line per check (with record
counts) and exits 0 only if every check passed."""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "functional"))
from baton_test import (QmpClient, QtestClient, cpr_channels,  # noqa: E402
                        unix_listening, wait_for, wait_migration)

BDF = "0000:01:00.0"
GROUP = 5
SLOT = 4
BAR0_ADDR, BAR2_ADDR = 0xc0000000, 0xc0010000
RING = 0x200000
MSI_ADDR, MSI_DATA = 0x300000, 0x4041

# dmatest registers (docs/devel/hostsim.md), BAR 0.
ID, CTRL, RING_LO, RING_HI, RING_ENTRIES, PERIOD_US = 0, 4, 8, 0xc, 0x10, 0x14
HEAD, TAIL, OVERFLOWS, RESETS, IRQ_EVERY, FAULTS = 0x18, 0x1c, 0x20, 0x24, \
    0x28, 0x2c
CTRL_STREAM, CTRL_IRQ = 1, 2
MAGIC = 0x444d4154

results = []


def report(ok, what, detail=""):
    results.append(ok)
    print("%s: %s%s" % ("PASS" if ok else "FAIL", what,
                        " (%s)" % detail if detail else ""), flush=True)
    return ok


class Cfg:
    """Config cycles through mechanism #1 (0xcf8/0xcfc) by qtest."""

    def __init__(self, qt, slot):
        self.qt = qt
        self.b = slot << 3

    def _sel(self, reg):
        self.qt.outl(0xcf8, 0x80000000 | self.b << 8 | (reg & 0xfc))
        return 0xcfc + (reg & 3)

    def read(self, reg, size=4):
        port = self._sel(reg)
        return {1: self.qt.inb, 2: self.qt.inw, 4: self.qt.inl}[size](port)

    def write(self, reg, val, size=4):
        port = self._sel(reg)
        {1: self.qt.outb, 2: self.qt.outw, 4: self.qt.outl}[size](port, val)


class Dmatest:
    """The dmatest function at 00:SLOT.0, driven by qtest."""

    def __init__(self, qt, slot=SLOT):
        self.qt = qt
        self.cfg = Cfg(qt, slot)
        self.n = self.missing = self.corrupt = 0

    def program(self):
        """What firmware would do: BARs placed, memory and bus master on."""
        self.cfg.write(0x10, BAR0_ADDR)
        self.cfg.write(0x18, BAR2_ADDR)
        cmd = self.cfg.read(0x04, 2)
        self.cfg.write(0x04, cmd | 0x2 | 0x4, 2)

    def rd(self, reg):
        return self.qt.readl(BAR0_ADDR + reg)

    def wr(self, reg, val):
        self.qt.writel(BAR0_ADDR + reg, val)

    def find_cap(self, cap_id):
        pos = self.cfg.read(0x34, 1) & ~3
        while pos:
            if self.cfg.read(pos, 1) == cap_id:
                return pos
            pos = self.cfg.read(pos + 1, 1) & ~3
        return 0

    def start(self, entries, period_us, irq_every=0, ctrl=CTRL_STREAM):
        self.entries = entries
        self.n = self.missing = self.corrupt = 0
        self.wr(RING_LO, RING & 0xffffffff)
        self.wr(RING_HI, RING >> 32)
        self.wr(RING_ENTRIES, entries)
        self.wr(PERIOD_US, period_us)
        self.wr(IRQ_EVERY, irq_every)
        self.wr(CTRL, ctrl)

    def drain(self):
        """Check and consume every record written so far, reading the
        ring in contiguous runs; the number of records consumed."""
        head = self.rd(HEAD)
        done = 0
        while self.n < head:
            first = self.n % self.entries
            count = min(head - self.n, self.entries - first)
            data = self.qt.read(RING + first * 16, count * 16)
            for k in range(count):
                i = self.n + 1 + k
                rec = data[k * 16:(k + 1) * 16]
                seq = int.from_bytes(rec[0:8], "little")
                inv = int.from_bytes(rec[8:12], "little")
                magic = int.from_bytes(rec[12:16], "little")
                if seq != i:
                    self.missing += 1
                elif inv != (~i & 0xffffffff) or magic != MAGIC:
                    self.corrupt += 1
            self.n += count
            done += count
            self.wr(TAIL, self.n & 0xffffffff)
        return done

    def consume(self, total, timeout=60):
        wait_for(lambda: self.drain() is not None and self.n >= total,
                 timeout=timeout, interval=0.01,
                 what="records up to %d (at %d)" % (total, self.n))


class Qemu:
    """One QEMU process under the preload (in the chroot, if any)."""

    def __init__(self, env, name, args, incoming=()):
        self.env = env
        self.name = name
        self.qmp_path = env.path(name + "-qmp.sock")
        self.qtest_path = env.path(name + "-qtest.sock")
        self.log_path = env.path(name + ".log")
        self.args = args
        argv = env.qemu_argv() + [
            "-nodefaults", "-display", "none"] + env.accel_args() + [
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-qtest", "unix:%s,server=on,wait=off" % self.qtest_path,
            "-qtest-log", "/dev/null",
        ] + list(args) + list(incoming)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        self.qmp = self.qt = None

    def connect(self, timeout=30):
        def check():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d: %s" % (
                    self.name, self.proc.returncode, self.stderr()))
        wait_for(lambda: (check() or True) and
                 os.path.exists(self.qmp_path) and
                 os.path.exists(self.qtest_path),
                 timeout=timeout, what=self.name + " sockets")
        self.qmp = QmpClient(self.qmp_path, timeout=timeout)
        self.qmp.negotiate()
        self.qt = QtestClient(self.qtest_path, timeout=timeout)

    def hmp(self, line):
        return self.qmp.cmd("human-monitor-command",
                            **{"command-line": line})

    def stderr(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        for c in (self.qt, self.qmp):
            if c:
                c.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Env:
    """Work directory, chroot mounts and hostsimd."""

    def __init__(self, opts):
        self.opts = opts
        self.root = opts.chroot
        self.mounts = []
        self.dir = tempfile.mkdtemp(prefix="hostsim-qemu-check-", dir="/tmp")
        self.hostsimd = None
        self.created = None
        if self.root:
            inside = self.root + self.dir
            os.makedirs(inside, exist_ok=True)
            self.mount(["--bind", self.dir, inside], inside)
            proc = os.path.join(self.root, "proc")
            if not os.path.exists(os.path.join(proc, "self")):
                self.mount(["-t", "proc", "proc", proc], proc)
            kvm = os.path.join(self.root, "dev", "kvm")
            if opts.accel == "kvm" and not os.path.exists(kvm):
                open(kvm, "w").close()
                self.created = kvm
                self.mount(["--bind", "/dev/kvm", kvm], kvm)
        self.lib = self.path("libhostsim.so")
        shutil.copy(os.path.join(opts.hostsim_dir, "libhostsim.so"),
                    self.lib)
        self.sock = self.path("sock")

    def path(self, name):
        return os.path.join(self.dir, name)

    def accel_args(self):
        """qtest, or KVM with the vCPUs never started (no firmware runs;
        the qtest socket still drives memory and I/O)."""
        if self.opts.accel == "kvm":
            return ["-accel", "kvm", "-S"]
        return ["-accel", "qtest"]

    def mount(self, args, target):
        subprocess.run(["mount"] + args, check=True)
        self.mounts.append(target)

    def start_hostsimd(self):
        self.hs_log_path = self.path("hostsimd.log")
        self.hs_log = open(self.hs_log_path, "wb")
        self.hostsimd = subprocess.Popen(
            [os.path.join(self.opts.hostsim_dir, "hostsimd"),
             "--socket", self.sock,
             "--device", "%s,type=dmatest,group=%d" % (BDF, GROUP)],
            stdin=subprocess.DEVNULL, stdout=self.hs_log,
            stderr=self.hs_log)
        wait_for(lambda: "hostsimd: ready" in self.hs_log_text() or
                 self.hostsimd.poll() is not None, what="hostsimd ready")
        if self.hostsimd.poll() is not None:
            raise RuntimeError("hostsimd exited: " + self.hs_log_text())

    def hs_log_text(self):
        with open(self.hs_log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def qemu_argv(self):
        argv = ["env", "LD_PRELOAD=" + self.lib,
                "HOSTSIM_SOCKET=" + self.sock, self.opts.qemu]
        if self.root:
            argv = ["chroot", self.root] + argv
        return argv

    def qemu_version(self):
        argv = self.qemu_argv()[4:] if not self.root else \
            ["chroot", self.root, self.opts.qemu]
        out = subprocess.run(argv + ["--version"], capture_output=True,
                             text=True).stdout
        m = re.search(r"version (\d+)\.(\d+)\.(\d+)(.*)", out)
        if not m:
            raise RuntimeError("cannot run %s --version: %r"
                               % (self.opts.qemu, out))
        return (tuple(int(x) for x in m.groups()[:3]),
                out.splitlines()[0])

    def close(self):
        if self.hostsimd and self.hostsimd.poll() is None:
            self.hostsimd.terminate()
            self.hostsimd.wait(10)
        for target in reversed(self.mounts):
            subprocess.run(["umount", target])
        if self.created:
            os.unlink(self.created)
        if self.root:
            try:
                os.rmdir(self.root + self.dir)
            except OSError:
                pass
        if self.opts.keep:
            print("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def machine_args(opts):
    return ["-machine", "q35,aux-ram-share=on,memory-backend=ram0",
            "-object", "memory-backend-memfd,id=ram0,size=%s,share=on"
            % opts.mem, "-m", opts.mem]


def vfio_args(transport):
    dev = "vfio-pci,host=%s,addr=%x,id=vf0" % (BDF, SLOT)
    if transport == "iommufd":
        return ["-object", "iommufd,id=iommufd0",
                "-device", dev + ",iommufd=iommufd0"]
    return ["-device", dev]


def check_realize(q, tag):
    bus = q.qmp.cmd("query-pci")[0]
    devs = [d for d in bus["devices"] if d["slot"] == SLOT]
    ok = bool(devs) and devs[0]["id"]["vendor"] == 0xba70 and \
        devs[0]["id"]["device"] == 0x0001 and devs[0]["qdev_id"] == "vf0"
    report(ok, "%s: vfio-pci realized, query-pci shows ba70:0001 at 00:%02x.0"
           % (tag, SLOT))
    warnings = [line for line in q.stderr().splitlines() if line.strip()]
    for w in warnings:
        print("  qemu: " + w)
    return ok


def msix_vector0(d, q, masked):
    """Vector 0's message aimed at guest RAM (MSI_ADDR): QEMU's MSI-X
    delivery is a DMA write of the data there, which qtest can see."""
    pos = d.find_cap(0x11)
    table = d.cfg.read(pos + 4)
    base = BAR0_ADDR + (table & ~7)
    pba = d.cfg.read(pos + 8)
    q.qt.writel(base, MSI_ADDR)
    q.qt.writel(base + 4, 0)
    q.qt.writel(base + 8, MSI_DATA)
    q.qt.writel(base + 12, 1 if masked else 0)
    flags = d.cfg.read(pos + 2, 2)
    d.cfg.write(pos + 2, flags | 0x8000, 2)
    return pos, BAR0_ADDR + (pba & ~7), base


def check_stream(d, tag):
    faults, overflows = d.rd(FAULTS), d.rd(OVERFLOWS)
    report(d.missing == 0 and d.corrupt == 0 and faults == 0,
           "%s: DMA stream into guest RAM" % tag,
           "%d records, %d missing, %d corrupt, FAULTS %d, OVERFLOWS %d"
           % (d.n, d.missing, d.corrupt, faults, overflows))


def check_device(q, tag, opts):
    d = Dmatest(q.qt)
    d.program()
    ident = d.rd(ID)
    report(ident == 0xba700001, "%s: BAR 0 ID register" % tag,
           "0x%08x" % ident)
    q.qt.writel(BAR2_ADDR + 0x40, 0xcafef00d)
    back = q.qt.readl(BAR2_ADDR + 0x40)
    flat = q.hmp("info mtree -f")
    mm = re.search(r"\(prio \d+, ramd?\): %s BAR 2 mmaps\[0\]" % BDF, flat)
    report(back == 0xcafef00d and mm is not None,
           "%s: BAR 2 mmap'ed into the guest, write/read back" % tag,
           "read 0x%08x, %s" % (back, "ram section" if mm else
                                "no ram section in info mtree -f"))
    resets = d.rd(RESETS)
    if opts.accel == "kvm":
        # MSI-X goes to KVM's irqfd routes, which qtest cannot see.
        d.start(opts.entries, opts.period)
        d.consume(opts.records)
        check_stream(d, tag)
        report(d.rd(RESETS) == resets, "%s: no reset while streaming" % tag,
               "RESETS %d" % resets)
        return d
    # MSI-X vector 0 unmasked, aimed at RAM: interrupts arrive as writes.
    q.qt.writel(MSI_ADDR, 0)
    pos, pba, table = msix_vector0(d, q, masked=False)
    d.start(opts.entries, opts.period, irq_every=16,
            ctrl=CTRL_STREAM | CTRL_IRQ)
    d.consume(opts.records)
    check_stream(d, tag)
    got = wait_for(lambda: d.drain() is not None and
                   q.qt.readl(MSI_ADDR) == MSI_DATA, timeout=10,
                   what="MSI-X write")
    q.qt.writel(MSI_ADDR, 0)
    again = wait_for(lambda: d.drain() is not None and
                     q.qt.readl(MSI_ADDR) == MSI_DATA, timeout=10,
                     what="second MSI-X write")
    report(bool(got and again), "%s: MSI-X vector 0 delivered (twice)" % tag,
           "data 0x%x at 0x%x" % (MSI_DATA, MSI_ADDR))
    # Masked: the vector's pending bit in QEMU's PBA, no write.
    q.qt.writel(table + 12, 1)
    q.qt.writel(MSI_ADDR, 0)
    pending = wait_for(lambda: d.drain() is not None and
                       q.qt.readl(pba) & 1, timeout=10, what="PBA bit 0")
    report(bool(pending) and q.qt.readl(MSI_ADDR) == 0,
           "%s: masked vector 0 sets its PBA bit, no message" % tag)
    q.qt.writel(table + 12, 0)
    wait_for(lambda: d.drain() is not None and
             q.qt.readl(MSI_ADDR) == MSI_DATA, timeout=10,
             what="MSI-X write after unmask")
    report(True, "%s: unmasking vector 0 delivers again" % tag)
    report(d.rd(RESETS) == resets, "%s: no reset while streaming" % tag,
           "RESETS %d" % resets)
    return d


def run_plain(env, opts, transport):
    tag = transport
    mark = len(env.hs_log_text())
    q = Qemu(env, tag, machine_args(opts) + vfio_args(transport))
    try:
        q.connect()
        if not check_realize(q, tag):
            return
        check_device(q, tag, opts)
        system_reset(q, tag)
    finally:
        q.stop()
    refused(env, mark, tag)


def system_reset(q, tag):
    d = Dmatest(q.qt)
    before = d.rd(RESETS)
    q.qmp.cmd("system_reset")
    wait_for(lambda: q.qmp.get_event("RESET", timeout=10), what="RESET")
    d.program()
    after = d.rd(RESETS)
    report(after == before + 1 and d.rd(CTRL) == 0,
           "%s: system_reset resets the device once" % tag,
           "RESETS %d -> %d" % (before, after))


# What the kernel refuses too: iommufd cannot pin a BAR's mmap (QEMU
# warns that peer-to-peer DMA will not work and goes on).
EXPECTED_REFUSALS = re.compile(r"IOAS_MAP vaddr .*: a device region's mmap")


def refused(env, mark, tag):
    """Every call hostsimd refused (it logs each with its errno) must be
    one the kernel refuses as well."""
    log = env.hs_log_text()[mark:]
    lines = [line for line in log.splitlines()
             if re.search(r"refus|EINVAL|ENOTTY|EFAULT|ENOMEM|EBUSY|fault",
                          line, re.I)]
    bad = [line for line in lines if not EXPECTED_REFUSALS.search(line)]
    report(not bad, "%s: hostsimd refused nothing unexpected" % tag,
           "; ".join(bad[:5]) or "%d expected" % len(lines))


def exit_status(q):
    """How process Q ended (or that it runs), and its last stderr line."""
    rc = q.proc.poll()
    if rc is None:
        how = "running"
    elif rc < 0:
        how = "killed by %s" % signal.Signals(-rc).name
    else:
        how = "exit status %d" % rc
    last = [line for line in q.stderr().splitlines() if line.strip()]
    return "%s QEMU %s%s" % (q.name, how, ": " + last[-1] if last else "")


def run_cpr(env, opts, transport):
    tag = transport + " cpr-transfer"
    mark = len(env.hs_log_text())
    args = machine_args(opts) + vfio_args(transport)
    old = Qemu(env, transport + "-old", args)
    new = None
    try:
        old.connect()
        d = Dmatest(old.qt)
        d.program()
        d.start(opts.entries, opts.period)
        d.consume(200)
        resets = d.rd(RESETS)
        main, cpr = env.path(transport + "-main.sock"), \
            env.path(transport + "-cpr.sock")
        new = Qemu(env, transport + "-new", args, incoming=[
            "-incoming", "unix:" + main,
            "-incoming", "cpr,addr.transport=socket,addr.type=unix,"
            "addr.path=" + cpr])
        wait_for(lambda: unix_listening(cpr) or new.proc.poll() is not None,
                 timeout=30, what="cpr socket")
        if new.proc.poll() is not None:
            report(False, tag, "new QEMU exited: " + new.stderr())
            return
        try:
            old.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
            old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        except Exception as e:
            report(False, tag + ": migrate accepted", str(e))
            return
        try:
            wait_migration(old.qmp, timeout=60)
        except Exception as e:
            for q in (old, new):  # a dying process: report how it ended
                try:
                    q.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
            report(False, tag + ": migration completed",
                   "%s; %s; %s" % (e, exit_status(old), exit_status(new)))
            return
        report(True, tag + ": migration completed")
        new.connect()
        # Under KVM the vCPUs never ran (-S): the guest stays stopped.
        wait_for(lambda: new.qmp.cmd("query-status")["status"] not in
                 ("inmigrate", "postmigrate"),
                 timeout=30, what="new QEMU out of inmigrate")
        report(True, tag + ": new QEMU took over",
               "status %s" % new.qmp.cmd("query-status")["status"])
        old.stop()
        d.qt = new.qt
        d.cfg.qt = new.qt
        seen = d.n
        d.consume(seen + 1000)
        faults = d.rd(FAULTS)
        report(d.missing == 0 and d.corrupt == 0 and faults == 0 and
               d.rd(RESETS) == resets,
               tag + ": DMA goes on in the new process",
               "%d records, %d missing, %d corrupt, FAULTS %d, RESETS %d->%d"
               % (d.n, d.missing, d.corrupt, faults, resets, d.rd(RESETS)))
    finally:
        if new:
            new.stop()
        old.stop()
    refused(env, mark, tag)


def main():
    top = os.path.normpath(os.path.join(HERE, "..", ".."))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chroot", help="run QEMU inside this chroot")
    p.add_argument("--qemu", default="qemu-system-x86_64",
                   help="QEMU binary (a path inside the chroot, if any)")
    p.add_argument("--hostsim-dir",
                   default=os.path.join(top, "build", "tests", "hostsim"),
                   help="where hostsimd and libhostsim.so are")
    p.add_argument("--transport", choices=("legacy", "iommufd"),
                   action="append", help="default: both")
    p.add_argument("--accel", choices=("qtest", "kvm"), default="qtest",
                   help="kvm: vCPUs stay stopped (-S); needs /dev/kvm")
    p.add_argument("--cpr", action="store_true",
                   help="also try QEMU's cpr-transfer (QEMU >= 10.1)")
    p.add_argument("--records", type=int, default=5000)
    p.add_argument("--entries", type=int, default=1024)
    p.add_argument("--period", type=int, default=100, help="PERIOD_US")
    p.add_argument("--mem", default="256M")
    p.add_argument("--keep", action="store_true",
                   help="keep the work directory (logs)")
    opts = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("%s: must run as root (hostsimd reads /proc/PID/map_files;"
                 " mounts for --chroot)" % sys.argv[0])
    env = Env(opts)
    try:
        env.start_hostsimd()
        version, banner = env.qemu_version()
        print("QEMU: %s" % banner, flush=True)
        if version < (10, 0, 0):
            report(False, "QEMU >= 10.0 (aux-ram-share, iommufd)", banner)
            return 1
        for t in opts.transport or ("legacy", "iommufd"):
            try:
                run_plain(env, opts, t)
            except Exception as e:
                report(False, t, "%s: %s" % (type(e).__name__, e))
            if opts.cpr:
                try:
                    run_cpr(env, opts, t)
                except Exception as e:
                    report(False, t + " cpr-transfer",
                           "%s: %s" % (type(e).__name__, e))
    finally:
        env.close()
    print("%d passed, %d failed" % (results.count(True),
                                     results.count(False)))
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
