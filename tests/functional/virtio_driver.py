# SPDX-License-Identifier: GPL-2.0-or-later
"""A virtio-pci driver written against the virtio 1.2 spec that runs in
the test, not in a guest: it reads and writes guest memory and the
device's BARs through qtest, builds split virtqueues (direct and
indirect descriptors, event index) in guest RAM, and submits virtio-blk
requests. Used by test_virtio_blk.py."""

import struct

from baton_test import wait_for

VENDOR = 0x1af4
PCI_COMMAND_MEM_MASTER = 0x6

# Capability types and common configuration offsets (virtio 1.2 4.1.4).
CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE, CAP_PCI_CFG = 1, 2, 3, 4, 5
DFSELECT, DF, GFSELECT, GF = 0x00, 0x04, 0x08, 0x0c
MSIX_CONFIG, NUMQ, STATUS, GENERATION = 0x10, 0x12, 0x14, 0x15
Q_SELECT, Q_SIZE, Q_MSIX, Q_ENABLE, Q_NOFF = 0x16, 0x18, 0x1a, 0x1c, 0x1e
Q_DESC, Q_AVAIL, Q_USED = 0x20, 0x28, 0x30

ACK, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 0x40
F_INDIRECT, F_EVENT_IDX, F_VERSION_1 = 28, 29, 32
BLK_F_RO, BLK_F_BLK_SIZE, BLK_F_FLUSH = 5, 6, 9
BLK_F_DISCARD, BLK_F_WRITE_ZEROES = 13, 14

D_NEXT, D_WRITE, D_INDIRECT = 1, 2, 4
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WZ = 0, 1, 4, 8, 11, 13
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2
NO_VECTOR = 0xffff

# Guest RAM layout of the test driver (64 MiB guests).
RING = 0x100000         # desc table, then avail, then used (page each)
INDIRECT = 0x110000     # indirect tables, 4 KiB each
HDRS = 0x200000         # request headers, 16 bytes each
STATUS_BYTES = 0x280000
DATA = 0x400000         # data buffers
MSI_ADDR = 0xfee00000


class Cfg:
    """Config space of function B on bus 0 by mechanism #1."""

    def __init__(self, qt, b):
        self.qt, self.b = qt, b

    def _sel(self, reg):
        self.qt.outl(0xcf8, 0x80000000 | self.b << 8 | (reg & 0xfc))
        return 0xcfc + (reg & 3)

    def read(self, reg, size=4):
        port = self._sel(reg)
        return {1: self.qt.inb, 2: self.qt.inw, 4: self.qt.inl}[size](port)

    def write(self, reg, val, size=4):
        port = self._sel(reg)
        {1: self.qt.outb, 2: self.qt.outw, 4: self.qt.outl}[size](port, val)

    def caps(self):
        ptr = self.read(0x34, 1)
        while ptr:
            yield ptr, self.read(ptr, 1)
            ptr = self.read(ptr + 1, 1)


class Queue:
    """A split virtqueue of SIZE entries at RING in guest memory."""

    def __init__(self, dev, index, size, base=RING):
        self.dev, self.qt, self.index, self.size = dev, dev.qt, index, size
        self.desc, self.avail, self.used = base, base + 0x4000, base + 0x8000
        self.next_desc = 0
        self.avail_idx = 0
        self.used_seen = 0
        self.next_indirect = INDIRECT
        self.qt.memset(base, 0xc000, 0)

    def _desc_bytes(self, addr, length, flags, nxt):
        return struct.pack("<QIHH", addr, length, flags, nxt)

    def add_chain(self, bufs, indirect=False):
        """BUFS: [(addr, len, device_writable)]: make the chain available
        (not kicked); returns its head."""
        if indirect:
            table = b"".join(
                self._desc_bytes(a, l, (D_WRITE if w else 0) |
                                 (D_NEXT if i + 1 < len(bufs) else 0), i + 1)
                for i, (a, l, w) in enumerate(bufs))
            addr = self.next_indirect
            self.next_indirect += 0x1000
            self.qt.write(addr, table)
            return self.add_raw([(addr, len(table), D_INDIRECT, 0)])
        raw = []
        for i, (a, l, w) in enumerate(bufs):
            raw.append((a, l, (D_WRITE if w else 0) |
                        (D_NEXT if i + 1 < len(bufs) else 0), None))
        return self.add_raw(raw)

    def add_raw(self, descs, link=True):
        """DESCS: [(addr, len, flags, next)] written to consecutive free
        slots (next None: the following slot); returns the head."""
        head = self.next_desc % self.size
        for i, (a, l, f, n) in enumerate(descs):
            slot = (self.next_desc + i) % self.size
            if n is None:
                n = (slot + 1) % self.size
            self.qt.write(self.desc + 16 * slot, self._desc_bytes(a, l, f, n))
        self.next_desc += len(descs)
        self.publish(head)
        return head

    def publish(self, head):
        self.qt.writew(self.avail + 4 + 2 * (self.avail_idx % self.size),
                       head)
        self.avail_idx = (self.avail_idx + 1) & 0xffff
        self.qt.writew(self.avail + 2, self.avail_idx)

    def kick(self):
        self.qt.writew(self.dev.notify + self.index * self.dev.notify_mult,
                       self.index)

    def used_idx(self):
        return self.qt.readw(self.used + 2)

    def used_entries(self, start, end):
        out = []
        for i in range(start, end):
            slot = self.used + 4 + 8 * (i % self.size)
            out.append(struct.unpack("<II", self.qt.read(slot, 8)))
        return out

    def wait_used(self, n, what="used ring"):
        wait_for(lambda: ((self.used_idx() - n) & 0xffff) < 0x8000,
                 what="%s to reach %d" % (what, n))
        return self.used_idx()

    def set_used_event(self, v):
        self.qt.writew(self.avail + 4 + 2 * self.size, v)

    def avail_event(self):
        return self.qt.readw(self.used + 4 + 8 * self.size)

    def set_avail_flags(self, flags):
        self.qt.writew(self.avail, flags)


class VirtioPci:
    """The virtio-pci function at SLOT of bus 0 of VM (through qtest QT)."""

    def __init__(self, vm, qt, slot):
        self.vm, self.qt, self.slot = vm, qt, slot
        self.cfg = Cfg(qt, slot << 3)
        self.cfg.write(0x04, PCI_COMMAND_MEM_MASTER, 2)
        self.info = [d for b in vm.qmp.cmd("query-pci")
                     for d in b["devices"] if d["slot"] == slot][0]
        bars = {r["bar"]: r["address"] for r in self.info["regions"]}
        self.bars = bars
        self.caps = {}
        self.msix_cap = 0
        for ptr, cap_id in self.cfg.caps():
            if cap_id == 0x11:
                self.msix_cap = ptr
            if cap_id != 0x09:
                continue
            cfg_type = self.cfg.read(ptr + 3, 1)
            bar = self.cfg.read(ptr + 4, 1)
            off = self.cfg.read(ptr + 8)
            length = self.cfg.read(ptr + 12)
            self.caps[cfg_type] = (ptr, bar, off, length,
                                   self.cfg.read(ptr + 2, 1))
            if cfg_type == CAP_NOTIFY:
                self.notify_mult = self.cfg.read(ptr + 16)
        self.common = self.addr(CAP_COMMON)
        self.isr = self.addr(CAP_ISR)
        self.device = self.addr(CAP_DEVICE)
        self.notify = self.addr(CAP_NOTIFY)
        self.queues = {}

    def addr(self, cfg_type):
        _, bar, off, _, _ = self.caps[cfg_type]
        return self.bars[bar] + off

    # common configuration
    def rd(self, off, size):
        return {1: self.qt.readb, 2: self.qt.readw, 4: self.qt.readl}[size](
            self.common + off)

    def wr(self, off, val, size):
        {1: self.qt.writeb, 2: self.qt.writew, 4: self.qt.writel}[size](
            self.common + off, val)

    def status(self):
        return self.rd(STATUS, 1)

    def host_features(self):
        self.wr(DFSELECT, 0, 4)
        lo = self.rd(DF, 4)
        self.wr(DFSELECT, 1, 4)
        return lo | self.rd(DF, 4) << 32

    def reset(self):
        self.wr(STATUS, 0, 1)
        self.queues = {}

    def negotiate(self, features):
        """Reset, ACK, DRIVER, the driver features, FEATURES_OK: returns
        the status read back."""
        self.reset()
        self.wr(STATUS, ACK, 1)
        self.wr(STATUS, ACK | DRIVER, 1)
        for sel in (0, 1):
            self.wr(GFSELECT, sel, 4)
            self.wr(GF, (features >> (32 * sel)) & 0xffffffff, 4)
        self.wr(STATUS, ACK | DRIVER | FEATURES_OK, 1)
        return self.status()

    def setup_queue(self, index, size=None, vector=NO_VECTOR, base=RING):
        self.wr(Q_SELECT, index, 2)
        if size:
            self.wr(Q_SIZE, size, 2)
        size = self.rd(Q_SIZE, 2)
        q = Queue(self, index, size, base)
        for off, val in ((Q_DESC, q.desc), (Q_AVAIL, q.avail),
                         (Q_USED, q.used)):
            self.wr(off, val & 0xffffffff, 4)
            self.wr(off + 4, val >> 32, 4)
        self.wr(Q_MSIX, vector, 2)
        self.wr(Q_ENABLE, 1, 2)
        self.queues[index] = q
        return q

    def driver_ok(self):
        self.wr(STATUS, self.status() | DRIVER_OK, 1)

    def init(self, features, vectors=None):
        """Negotiate FEATURES, queue 0 (with MSI-X vector 1 and config
        vector 0 when VECTORS), DRIVER_OK; returns queue 0."""
        st = self.negotiate(features)
        assert st & FEATURES_OK, "FEATURES_OK refused: 0x%x" % st
        if vectors:
            self.wr(MSIX_CONFIG, 0, 2)
        q = self.setup_queue(0, vector=1 if vectors else NO_VECTOR)
        self.driver_ok()
        return q

    # MSI-X
    def msix_enable(self, nvec):
        table = self.bars[1]
        for v in range(nvec):
            e = table + 16 * v
            self.qt.writel(e, MSI_ADDR)
            self.qt.writel(e + 4, 0)
            self.qt.writel(e + 8, 0x40 + v)
            self.qt.writel(e + 12, 0)
        self.cfg.write(self.msix_cap + 2, 0x8000, 2)

    def msi_line(self, v):
        return "IRQ msi 0x%x 0x%x" % (MSI_ADDR, 0x40 + v)

    # device config
    def config(self, off, size):
        return {1: self.qt.readb, 2: self.qt.readw, 4: self.qt.readl}[size](
            self.device + off)


class BlkRequests:
    """virtio-blk requests on queue Q, each with its own header, data and
    status addresses (N-th request: HDRS + 16 N, ...)."""

    def __init__(self, q, data_stride=0x10000):
        self.q, self.qt = q, q.qt
        self.n = 0
        self.stride = data_stride
        self.reqs = {}  # head -> (status addr, data addr, type)

    def submit(self, rtype, sector=0, out=b"", in_len=0, indirect=False,
               kick=True, split=1):
        i = self.n
        self.n += 1
        hdr = HDRS + 16 * i
        st = STATUS_BYTES + i
        data = DATA + self.stride * (i % 64)
        self.qt.write(hdr, struct.pack("<IIQ", rtype, 0, sector))
        self.qt.writeb(st, 0xff)
        bufs = [(hdr, 16, False)]
        if out:
            self.qt.write(data, out)
            step = -(-len(out) // split)
            for o in range(0, len(out), step):
                bufs.append((data + o, min(step, len(out) - o), False))
        if in_len:
            self.qt.memset(data, in_len, 0xee)
            step = -(-in_len // split)
            for o in range(0, in_len, step):
                bufs.append((data + o, min(step, in_len - o), True))
        bufs.append((st, 1, True))
        head = self.q.add_chain(bufs, indirect=indirect)
        self.reqs[head] = (st, data, rtype)
        if kick:
            self.q.kick()
        return head

    def status(self, head):
        return self.qt.readb(self.reqs[head][0])

    def data(self, head, n):
        return self.qt.read(self.reqs[head][1], n)
