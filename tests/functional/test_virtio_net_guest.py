#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A KVM guest of ours (tests/guest/virtio-net) drives virtio-net-pci:
it answers ARP for its address and echoes UDP datagrams, and stops with
an error line if the device hands it a used entry it should not (an id
out of range, a length past the buffer, a buffer given back twice). A
host endpoint sends numbered datagrams at a steady rate (one a
millisecond, paced by the clock) and counts the echoes, in a network
namespace of the test's own (skipped, saying why, without one):

- over a tap, across BATON_VIRTIO_NET_UPDATES (default 100, the
  issue's figure: about 25 s here, the whole file about 35 s; twice that
  on a loaded host) live updates, cpr-transfer and cpr-exec
  alternating, with the guest keeping a virtio-blk disk busy too: no
  datagram lost, none echoed twice, the disk image intact;
- between two batons whose taps sit on one bridge, across a migration:
  the destination's announcement moves the guest's MAC to its port and
  the echoes resume at once; the datagrams lost are reported beside the
  downtime query-migrate gives. With announce-rounds 0 the bridge keeps
  sending to the source's port and the guest stays unreachable, until
  announce-self;
- over -netdev user with hostfwd (slirp asks the guest's MAC by ARP):
  echoes reach a client on 127.0.0.1; a live update is refused with
  baton's reason and the guest goes on; after a precopy migration to a
  destination forwarding another port, echoes come from that port."""

import json
import os
import re
import socket
import struct
import subprocess
import threading
import time

import baton_test
import test_virtio_blk_guest as vbg
from baton_test import (DEFAULT_TIMEOUT, QmpError, Vm, VmTestCase,
                        cpr_channels, cpr_exec_to, cpr_transfer_to,
                        guest_image, memfd_ram_args, needs_kvm,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)

TIMEOUT = max(DEFAULT_TIMEOUT, 60)
UPDATES = int(os.environ.get("BATON_VIRTIO_NET_UPDATES", "100"))
PERIOD = 0.001          # one datagram a millisecond
PORT = 7                # the guest echoes any port; 7 is echo's
MAC = "52:54:00:12:34:56"
HOST_IP, GUEST_IP = "10.0.0.1", "10.0.0.2"
USER_GUEST_IP = "10.0.2.15"
PARAMS = 512            # the parameter block's offset in the image
# Datagrams waiting while nobody reads: the tap's queue (its txqueuelen,
# 1000 by default: one second of the stream) and the host socket's
# receive buffer hold tens of seconds of it, so that a host too loaded
# to run baton or the test for a second does not look like a loss.
TAP_QUEUE = 50000
SOCK_BUF = 32 << 20
SO_RCVBUFFORCE = 33     # past net.core.rmem_max (we are root)
DISK_BLOCKS = 16        # the live-update test's disk, 4 KiB blocks

_LINE = re.compile(rb"(?m)^vnet echo (\d+) rx (\d+) tx (\d+) arp (\d+) "
                   rb"drop (\d+) irq (\d+) kick (\d+) blk (\d+)\n")
_ERROR = re.compile(rb"vnet error[^\n]*")

NETNS = None


def net_image(ip, round_=1000, disk=0, disk_idle=False, disk_blocks=256):
    """A copy of virtio-net.img with the guest's address IP and ROUND,
    and the config address of a virtio-blk-pci it keeps busy (DISK, 0:
    none; DISK_IDLE: set up, no I/O)."""
    with open(guest_image("virtio-net"), "rb") as f:
        image = bytearray(f.read())
    if image[PARAMS:PARAMS + 8] != b"VIRTNET1":
        raise RuntimeError("virtio-net.img has no parameter block")
    image[PARAMS + 12:PARAMS + 16] = socket.inet_aton(ip)
    image[PARAMS + 16:PARAMS + 20] = round_.to_bytes(4, "little")
    image[PARAMS + 32:PARAMS + 36] = disk.to_bytes(4, "little")
    image[PARAMS + 36:PARAMS + 40] = disk_blocks.to_bytes(4, "little")
    image[PARAMS + 40:PARAMS + 44] = int(disk_idle).to_bytes(4, "little")
    path = os.path.join(baton_test.tmpdir(), "vnet-%s-%x-%d.img"
                        % (ip, disk, disk_idle))
    with open(path, "wb") as f:
        f.write(image)
    return path


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


def tap_dropped(name):
    """Frames the kernel dropped on their way to tap NAME's reader (its
    queue full). /sys/class/net shows the first namespace's devices."""
    out = subprocess.run(["ip", "-s", "-j", "link", "show", name],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]["stats64"]["tx"]["dropped"]


class Sniffer:
    """The numbers of our datagrams the host sends out of interface NAME
    (towards the guest behind it), seen by a packet socket (ETH_P_ALL:
    the only kind that sees outgoing frames)."""

    def __init__(self, name):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                  socket.htons(3))
        self.sock.bind((name, 3))
        self.sock.settimeout(0.2)
        self.seen = []
        self.lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        guest = socket.inet_aton(GUEST_IP)
        while not self._closed:
            try:
                f, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if (addr[2] == socket.PACKET_OUTGOING and len(f) >= 50 and
                    f[12:14] == b"\x08\x00" and f[23] == 17 and
                    f[30:34] == guest):
                with self.lock:
                    self.seen.append(struct.unpack(">Q", f[42:50])[0])

    def since(self, first):
        with self.lock:
            return [n for n in self.seen if n >= first]

    def close(self):
        self._closed = True
        self._thread.join()
        self.sock.close()


def fdb_port(bridge, mac):
    """The port BRIDGE forwards MAC to, or None."""
    out = subprocess.run(["bridge", "fdb", "show", "br", bridge],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == mac and "dev" in f:
            return f[f.index("dev") + 1]
    return None


class Stream:
    """The host's endpoint: numbered datagrams to DST, one every PERIOD
    by the clock (never judged: a late sender just sends late; 0: as
    fast as it goes), and the echoes counted by number."""

    def __init__(self, bind, dst, period=PERIOD):
        self.period = period
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, SOCK_BUF)
        self.sock.bind((bind, 0))
        self.sock.settimeout(0.2)
        self.dst = dst
        self.sent = 0
        self.echoes = {}         # seq -> times echoed
        self.top = -1            # the highest number echoed
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self._tx = threading.Thread(target=self._send, daemon=True)
        self._rx = threading.Thread(target=self._recv, daemon=True)
        self._rx.start()
        self._tx.start()

    def _send(self):
        due = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)   # pacing the stream, not a barrier
            due = max(due + self.period, time.monotonic() - 0.05)
            with self.cond:
                seq, dst = self.sent, self.dst
                self.sent += 1
            while True:
                try:
                    self.sock.sendto(struct.pack(">Q", seq) + bytes(24), dst)
                except socket.timeout:
                    # The host's send buffer is full (datagrams wait for
                    # the neighbour to resolve, or in a tap nobody reads
                    # yet): this one goes late, as a real sender's would.
                    if not self._stop.is_set():
                        continue
                    with self.cond:
                        self.sent -= 1   # stopped before it could go
                except OSError:
                    pass    # no route or neighbour yet: counted as sent
                break

    def _recv(self):
        while not self._closed:
            try:
                data = self.sock.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) >= 8:
                seq = struct.unpack(">Q", data[:8])[0]
                with self.cond:
                    self.echoes[seq] = self.echoes.get(seq, 0) + 1
                    self.top = max(self.top, seq)
                    self.cond.notify_all()

    def retarget(self, dst):
        with self.cond:
            self.dst = dst
            return self.sent

    def next_seq(self):
        with self.cond:
            return self.sent

    def wait_echo(self, after, timeout=TIMEOUT, what="echoes"):
        """Wait for the echo of a datagram numbered AFTER or later."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.top < after:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no echo of a datagram from %d on "
                                       "(%s); %d sent, %d echoed"
                                       % (after, what, self.sent,
                                          len(self.echoes)))
                self.cond.wait(min(left, 0.5))

    def stop(self):
        """Stop sending; return how many were sent."""
        self._stop.set()
        self._tx.join()
        return self.sent

    def wait_all(self, first=0, timeout=TIMEOUT):
        """After stop(): wait for the echo of the last datagram (the path
        is a FIFO: what comes after it will not come), or TIMEOUT, which
        only ends a hang; returns (sent, lost, duplicated) from FIRST."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.top < self.sent - 1:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.5))
        return self.counts(first, self.sent)

    def counts(self, first, end):
        with self.cond:
            sent = end - first
            lost = sum(1 for s in range(first, end) if s not in self.echoes)
            dup = sum(n - 1 for s, n in self.echoes.items()
                      if first <= s < end and n > 1)
            return sent, lost, dup

    def missing(self, first, end):
        with self.cond:
            return [s for s in range(first, end) if s not in self.echoes]

    def close(self):
        self._stop.set()
        self._tx.join()
        self._closed = True
        self._rx.join()
        self.sock.close()


class NetGuest:
    """The guest; `qmp` and `serial` follow it from process to process."""

    def __init__(self, tc, netdev, name, image, extra=(), start=True):
        self.tc, self.name, self.count = tc, name, 0
        self.netdev = netdev
        self.image = image
        self.extra = list(extra)
        self.retired = []
        vm = tc.launch(Vm(self.args() + ["-S"], serial_socket=True,
                          name=name))
        self.vm, self.argv = vm, vm.command()[:-1]
        self.qmp, self.serial = vm.qmp, vm.serial
        vm.qmp = vm.serial = None
        tc.addCleanup(self.qmp.close)
        tc.addCleanup(self.serial.close)
        if start:
            self.start()

    def args(self, netdev=None):
        return (["-nodefaults", "-display", "none", "-accel", "kvm",
                 "-smp", "1"] + memfd_ram_args("64M") +
                ["-drive", "file=%s,format=raw" % self.image,
                 "-netdev", netdev or self.netdev,
                 "-device", "virtio-net-pci,id=nic0,netdev=n0,addr=4"] +
                self.extra)

    def start(self):
        self.qmp.cmd("cont")
        self.serial.read_until(re.compile(rb"vnet ready[^\n]*\n|vnet error"),
                               timeout=TIMEOUT, start=0)
        self.check_errors()
        self.tc.assertIn(b"vnet ready mac %s" % MAC.encode(),
                         self.serial.snapshot())

    def check_errors(self):
        err = _ERROR.search(self.serial.snapshot())
        if err:
            raise AssertionError("the guest reports %r" % err.group(0))

    def last_line(self):
        lines = _LINE.findall(self.serial.snapshot())
        return [int(x) for x in lines[-1]] if lines else None

    def transfer(self):
        """cpr-transfer to a new process with the same command line."""
        self.count += 1
        self.vm = cpr_transfer_to(self.tc.launch, self.vm, self.qmp,
                                  self.argv, "%s%d" % (self.name, self.count),
                                  TIMEOUT)

    def cpr_exec(self):
        self.count += 1
        cpr_exec_to(self.vm, self.qmp, self.argv, timeout=TIMEOUT)

    def migrate_to(self, dst, path):
        """Precopy to DST (a Vm started with -incoming unix:PATH and a
        serial socket); returns the source's last query-migrate."""
        wait_for(lambda: unix_listening(path) or dst._died(), TIMEOUT,
                 what="incoming socket %s" % path)
        self.qmp.cmd("migrate", uri="unix:" + path)
        info = wait_migration(self.qmp, timeout=TIMEOUT)
        wait_runstate(dst.qmp, "running", TIMEOUT)
        self.retired.append((self.vm, self.qmp, self.serial))
        self.vm, self.qmp, self.serial = dst, dst.qmp, dst.serial
        return info


class NetGuestCase(VmTestCase):

    def setUp(self):
        if NETNS:
            self.skipTest(NETNS)
        super().setUp()

    def stream(self, bind, dst):
        s = Stream(bind, dst)
        self.addCleanup(s.close)
        return s


@needs_kvm
class TapGuest(NetGuestCase):

    def test_live_updates(self):
        """UPDATES live updates, cpr-transfer and cpr-exec alternating,
        under a datagram a millisecond while the guest keeps a disk
        request in flight too: every datagram comes back, once; the
        guest never reports an error; every block of the disk holds an
        intact pattern of its last write."""
        disk = os.path.join(baton_test.tmpdir(), "vnu-disk.img")
        with open(disk, "wb") as f:
            f.truncate(DISK_BLOCKS * vbg.BLOCK)
        g = NetGuest(self, "tap,id=n0,ifname=vng0,script=no,downscript=no",
                     "vnu", net_image(GUEST_IP, disk=0x80002800,
                                      disk_blocks=DISK_BLOCKS),
                     extra=["-drive", "if=none,id=d0,format=raw,file="
                            + disk, "-device",
                            "virtio-blk-pci,drive=d0,addr=5"])
        ip("addr", "add", HOST_IP + "/24", "dev", "vng0")
        ip("link", "set", "vng0", "up", "txqueuelen", str(TAP_QUEUE))
        s = self.stream(HOST_IP, (GUEST_IP, PORT))
        s.wait_echo(0, what="the first echo (the host ARPs first)")
        first = min(s.echoes)       # before: the host's ARP was pending
        for i in range(UPDATES):
            if i % 2:
                g.cpr_exec()
            else:
                g.transfer()
            s.wait_echo(s.next_seq(), what="after update %d" % (i + 1))
            g.check_errors()
        s.stop()
        sent, lost, dup = s.wait_all(first)
        g.check_errors()
        line = g.last_line()
        print("  %d updates: %d datagrams sent, %d lost, %d duplicated; "
              "guest: %s" % (UPDATES, sent, lost, dup,
                             dict(zip(("echo", "rx", "tx", "arp", "drop",
                                       "irq", "kick", "blk"), line or ()))))
        if lost:
            self.fail("lost: %s...; the tap dropped %d"
                      % (s.missing(first, s.sent)[:10], tap_dropped("vng0")))
        self.assertEqual(dup, 0)
        self.assertGreater(sent, UPDATES)
        # Each block written at least once before the last line: its
        # pattern is that of the last write the line counts, or later.
        g.qmp.cmd("stop")
        self.assertGreaterEqual(line[7], DISK_BLOCKS)
        vbg.check_image(self, disk, line[7], DISK_BLOCKS)


@needs_kvm
class BridgeMigration(NetGuestCase):
    """Source and destination taps on one bridge that holds the host's
    address; the bridge learned the guest's MAC on the source's port
    from the echoes."""

    def setup_bridge(self, br):
        ip("link", "add", br, "type", "bridge")
        self.addCleanup(subprocess.run, ["ip", "link", "del", br])
        # A MAC of its own: one taken from its ports would change when
        # a port joins, and the kernel would forget its ARP entries.
        ip("link", "set", br, "address", "02:00:00:00:00:01")
        ip("addr", "add", HOST_IP + "/24", "dev", br)
        ip("link", "set", br, "up")

    def start_pair(self, br, tag, announce, neigh=False):
        self.setup_bridge(br)
        if neigh:
            ip("neigh", "replace", GUEST_IP, "lladdr", MAC, "dev", br,
               "nud", "permanent")
        src = NetGuest(self, "tap,id=n0,ifname=%ss,script=no,downscript=no"
                       % tag, "%ssrc" % tag, net_image(GUEST_IP))
        ip("link", "set", tag + "s", "master", br, "up")
        s = self.stream(HOST_IP, (GUEST_IP, PORT))
        s.wait_echo(0, what="the first echo")
        self.assertEqual(fdb_port(br, MAC), tag + "s")
        # The destination's port joins once the host's ARP is done: a
        # broadcast request waiting in its tap would be answered after
        # the switch, and the answer would move the guest's MAC as well as
        # an announcement does.
        path = src.vm.path("mig.sock")
        dst = self.launch(Vm(src.args("tap,id=n0,ifname=%sd,script=no,"
                                      "downscript=no" % tag) +
                             ["-incoming", "unix:" + path],
                             serial_socket=True, name="%sdst" % tag))
        ip("link", "set", tag + "d", "master", br, "up")
        # QEMU's announce parameters are the destination's.
        dst.qmp.cmd("migrate-set-parameters", announce)
        s.wait_echo(s.next_seq(), what="echoes through the source")
        return src, dst, path, s

    def sniff(self, name):
        sn = Sniffer(name)
        self.addCleanup(sn.close)
        return sn

    def test_migration_announced(self):
        """While the stream runs, migrate: the destination announces the
        guest (RARPs from its MAC, seen on the bridge) and the bridge
        moves the MAC to the destination's port (a reply the guest had
        queued, which the destination sends first, does that too: see
        the next test), the echoes resume; the datagrams lost are those
        sent while nobody could answer, reported with the downtime."""
        src, dst, path, s = self.start_pair(
            "vnbr0", "vna", {"announce-initial": 0, "announce-rounds": 3,
                             "announce-step": 1, "announce-max": 5})
        rarp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                             socket.htons(0x8035))
        rarp.bind(("vnbr0", 0x8035))
        rarp.settimeout(TIMEOUT)
        self.addCleanup(rarp.close)
        first = min(s.echoes)
        begin = s.next_seq()
        info = src.migrate_to(dst, path)
        resumed = s.next_seq()
        s.wait_echo(resumed, what="the guest through the destination")
        self.assertEqual(fdb_port("vnbr0", MAC), "vnad")
        f = rarp.recv(2048)
        self.assertEqual(f[6:12].hex(":"), MAC)
        after = s.next_seq()
        s.wait_echo(after, what="echoes through the destination")
        s.stop()
        sent, lost, dup = s.wait_all(first)
        src.check_errors()
        missing = s.missing(first, s.sent)
        print("  migration: %d datagrams sent, %d lost (%s), %d "
              "duplicated; downtime %s ms, total %s ms; %d sent between "
              "migrate and the destination running"
              % (sent, lost, "%d-%d" % (missing[0], missing[-1])
                 if missing else "none", dup, info.get("downtime"),
                 info.get("total-time"), resumed - begin))
        self.assertEqual(dup, 0)
        # Only datagrams sent during the migration can be lost.
        self.assertTrue(all(begin <= m < after for m in missing), missing)
        self.assertLess(lost, after - begin)

    def test_migration_not_announced(self):
        """The same with announce-rounds 0 and nothing else that would
        move the guest's MAC: the guest quiet at the switch (the stream
        stopped and every echo back, so no reply waits in its transmit
        queue for the destination to send) and the host's neighbour
        entry for it permanent (no ARP request floods to the
        destination's port to be answered from there). A new stream
        after the switch goes to the source's port, none to the
        destination's, no echo comes; announce-self moves the MAC, the
        echoes come."""
        src, dst, path, s = self.start_pair(
            "vnbr1", "vnn", {"announce-rounds": 0}, neigh=True)
        first = min(s.echoes)
        s.stop()
        self.assertEqual(s.wait_all(first)[1], 0)
        src.migrate_to(dst, path)
        to_src, to_dst = self.sniff("vnns"), self.sniff("vnnd")
        s = self.stream(HOST_IP, (GUEST_IP, PORT))
        wait_for(lambda: len(to_src.since(0)) >= 50, TIMEOUT,
                 what="datagrams forwarded to the source's port")
        self.assertEqual(fdb_port("vnbr1", MAC), "vnns")
        self.assertEqual(to_dst.since(0), [])
        with s.cond:
            self.assertEqual(s.echoes, {}, "echoes without an announcement")
        forwarded = len(to_src.since(0))
        dst.qmp.cmd("announce-self", initial=0, max=5, rounds=3, step=1)
        s.wait_echo(s.next_seq(), what="the guest after announce-self")
        self.assertEqual(fdb_port("vnbr1", MAC), "vnnd")
        s.stop()
        print("  without announcement: %d datagrams went to the source's "
              "port, none to the destination's, none echoed; announce-self "
              "moved the guest" % forwarded)


@needs_kvm
class UserGuest(NetGuestCase):

    def test_user_hostfwd(self):
        """-netdev user,hostfwd=udp: echoes through slirp; a live update
        is refused with the reason, the guest goes on; a precopy
        migration to a destination forwarding another port: echoes come
        from there."""
        port, port2 = free_udp_port(), free_udp_port()
        image = net_image(USER_GUEST_IP)
        g = NetGuest(self, "user,id=n0,hostfwd=udp:127.0.0.1:%d-:7" % port,
                     "vnuser", image)
        s = self.stream("127.0.0.1", ("127.0.0.1", port))
        s.wait_echo(0, what="echoes through slirp")
        for mode in ("cpr-transfer", "cpr-exec"):
            g.qmp.cmd("migrate-set-parameters",
                      {"mode": mode, "cpr-exec-command": g.argv})
            with self.assertRaises(QmpError) as cm:
                if mode == "cpr-transfer":
                    g.qmp.cmd("migrate", channels=cpr_channels(
                        g.vm.path("m.sock"), g.vm.path("c.sock")))
                else:
                    g.qmp.cmd("migrate", uri="file:" + g.vm.path("state"))
            self.assertIn("-netdev user cannot be live-updated",
                          cm.exception.desc)
            self.assertEqual(g.qmp.cmd("query-status")["status"], "running")
            s.wait_echo(s.next_seq(), what="echoes after the refused %s"
                        % mode)
        g.qmp.cmd("migrate-set-parameters", mode="normal")
        path = g.vm.path("mig.sock")
        dst = self.launch(Vm(g.args("user,id=n0,hostfwd=udp:127.0.0.1:%d-:7"
                                    % port2) +
                             ["-incoming", "unix:" + path],
                             serial_socket=True, name="vnuserdst"))
        g.migrate_to(dst, path)
        moved = s.retarget(("127.0.0.1", port2))
        s.wait_echo(moved, what="echoes through the destination's port")
        s.stop()
        g.check_errors()
        print("  slirp: %d datagrams sent, %d echoed; %s"
              % (s.sent, len(s.echoes), cm.exception.desc))


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    NETNS = baton_test.enter_netns()
    baton_test.main()
