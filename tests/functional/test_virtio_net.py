#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""virtio-net-pci without a guest (qtest): the test's own driver
(virtio_driver.py) runs the receive, transmit and control queues in
guest memory, and a packet socket plays the host's side of a tap, in a
network namespace of the test's own (skipped, saying why, without the
privilege for one). Checked: ids, features and config; frames both
ways with the virtio-net header; malformed receive, transmit and control
chains breaking the device, not baton; frames that find no receive buffer
wait in the tap and all arrive, in order, once buffers come; frames sent
while a cpr-transfer's guest is stopped arrive in the new process, none
lost or twice; receive filters set on the control queue drop what the
guest did not ask for, query-rx-filter and NIC_RX_FILTER_CHANGED show
them; set_link reaches the config's status; announce-self sends RARPs
from the NIC's MAC; multiqueue; cpr-exec; migration between two taps on
one bridge; -netdev user answers ARP for its gateway."""

import socket
import struct
import subprocess

import baton_test
from baton_test import (QtestClient, Vm, VmTestCase, cpr_channels,
                        cpr_exec_to, cpr_incoming_args, memfd_ram_args,
                        unix_listening, wait_for, wait_migration,
                        wait_runstate)
from virtio_driver import (F_VERSION_1, NEEDS_RESET, VirtioPci)

BASE = ["-nodefaults", "-display", "none", "-accel", "qtest", "-serial",
        "null", "-machine", "pc"]
SLOT = 4
ETH_P = 0x88b5          # local experimental: the kernel's frames don't match
MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
HOST_MAC = bytes([0x02, 0, 0, 0, 0, 1])
HDR = 12

F_MAC, F_MRG_RXBUF, F_STATUS, F_CTRL_VQ, F_CTRL_RX = 5, 15, 16, 17, 18
F_CTRL_VLAN, F_CTRL_RX_EXTRA, F_MQ = 19, 20, 22
FEATURES = (1 << F_VERSION_1 | 1 << F_MAC | 1 << F_MRG_RXBUF |
            1 << F_STATUS | 1 << F_CTRL_VQ | 1 << F_CTRL_RX |
            1 << F_CTRL_RX_EXTRA)

# Guest memory: rings, then receive buffers, transmit frames, control.
RX_RING, TX_RING, CTRL_RING = 0x100000, 0x120000, 0x140000
RX_BUFS, RX_BUF_LEN = 0x400000, 2048
TX_BUFS, CTRL_BUFS = 0x800000, 0x900000

NETNS = None


def frame(seq, dst=MAC, size=64):
    body = struct.pack(">I", seq)
    return dst + HOST_MAC + ETH_P.to_bytes(2, "big") + body + \
        bytes(size - 18)


class Nic:
    """The driver's side of one virtio-net-pci: rx queue 0, tx queue 1,
    control queue 2; MRG_RXBUF buffers of RX_BUF_LEN."""

    def __init__(self, vm, qt, features=FEATURES, rx_bufs=64):
        self.dev = VirtioPci(vm, qt, SLOT)
        self.qt = qt
        st = self.dev.negotiate(features)
        assert st & 8, "FEATURES_OK refused"
        self.rx = self.dev.setup_queue(0, base=RX_RING)
        self.tx = self.dev.setup_queue(1, base=TX_RING)
        self.ctrl = self.dev.setup_queue(2, base=CTRL_RING) \
            if features & (1 << F_CTRL_VQ) else None
        self.dev.driver_ok()
        self.rx_heads = {}      # head -> buffer address
        self.rx_next = 0
        self.rx_seen = 0
        self.tx_n = 0
        self.ctrl_n = 0
        self.post(rx_bufs)

    def switch(self, qt):
        """Talk to another process (after a live update or migration)."""
        self.qt = self.dev.qt = qt
        for q in (self.rx, self.tx, self.ctrl):
            if q:
                q.qt = qt

    def post(self, n, kick=True):
        for _ in range(n):
            addr = RX_BUFS + RX_BUF_LEN * (self.rx_next % 256)
            self.rx_next += 1
            head = self.rx.add_chain([(addr, RX_BUF_LEN, True)])
            self.rx_heads[head] = addr
        if kick:
            self.rx.kick()

    def received(self):
        """Frames (header stripped) in the used ring since last time."""
        end = self.rx.used_idx()
        out = []
        for head, length in self.rx.used_entries(self.rx_seen, end):
            data = self.qt.read(self.rx_heads[head], length)
            nb = struct.unpack("<H", data[10:12])[0]
            assert nb == 1, "num_buffers %d" % nb
            out.append(data[HDR:])
        self.rx_seen = end
        return out

    def send(self, payload):
        addr = TX_BUFS + 0x1000 * (self.tx_n % 64)
        self.tx_n += 1
        self.qt.write(addr, bytes(HDR) + payload)
        self.tx.add_chain([(addr, HDR + len(payload), False)])
        self.tx.kick()
        self.tx.wait_used(self.tx_n, "transmit")

    def command(self, cls, cmd, data):
        addr = CTRL_BUFS + 0x1000 * self.ctrl_n
        self.ctrl_n += 1
        self.qt.write(addr, bytes([cls, cmd]) + data)
        self.qt.writeb(addr + 0x800, 0xff)
        self.ctrl.add_chain([(addr, 2 + len(data), False),
                             (addr + 0x800, 1, True)])
        self.ctrl.kick()
        self.ctrl.wait_used(self.ctrl_n, "control")
        return self.qt.readb(addr + 0x800)


def csum(data):
    """The Internet checksum (RFC 1071) of DATA."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


# The guest (10.0.2.15) asks -netdev user for its gateway's MAC; libslirp
# learns the guest's from it (it answers only guests it knows).
ARP_GATEWAY = (b"\xff" * 6 + MAC + b"\x08\x06" +
               b"\x00\x01\x08\x00\x06\x04\x00\x01" + MAC +
               bytes([10, 0, 2, 15]) + bytes(6) + bytes([10, 0, 2, 2]))


def ping_gateway(seq):
    """An ICMP echo request from the guest (10.0.2.15) to -netdev user's
    gateway (10.0.2.2), sent to the gateway's MAC (52:55:0a:00:02:02)."""
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + bytes(16)
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0, 64,
                     1, 0, bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2]))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return (bytes([0x52, 0x55, 10, 0, 2, 2]) + MAC + b"\x08\x00" + ip +
            icmp)


def echo_reply_ids(frames):
    """The IP identification of each ICMP echo reply among FRAMES."""
    return [struct.unpack("!H", f[18:20])[0] for f in frames
            if f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 0]


def seqs(frames):
    return [struct.unpack(">I", f[14:18])[0] for f in frames
            if f[12:14] == ETH_P.to_bytes(2, "big")]


class NetCase(VmTestCase):

    def setUp(self):
        if NETNS:
            self.skipTest(NETNS)

    def start(self, netdev, mem=("-m", "64M"), name=None, dev_opts=""):
        vm = Vm(BASE + list(mem) + ["-netdev", netdev, "-device",
                                    "virtio-net-pci,id=nic0,netdev=n0,"
                                    "addr=%d%s" % (SLOT, dev_opts)],
                name=name)
        vm.qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % vm.qtest_path]
        self.launch(vm)
        qt = QtestClient(vm.qtest_path)
        self.addCleanup(qt.close)
        return vm, qt

    def tap(self, name):
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P))
        s.bind((name, ETH_P))
        s.settimeout(baton_test.DEFAULT_TIMEOUT)
        self.addCleanup(s.close)
        return s

    def collect(self, nic, n, got=None):
        """Frames the NIC received, appended to GOT, until N of ours."""
        got = got if got is not None else []

        def enough():
            got.extend(nic.received())
            return len(seqs(got)) >= n
        wait_for(enough, what="%d frames" % n)
        return got


class Basics(NetCase):

    def test_ids_features_config(self):
        vm, qt = self.start("tap,id=n0,ifname=bv0,script=no,downscript=no")
        dev = VirtioPci(vm, qt, SLOT)
        self.assertEqual((dev.info["id"]["vendor"], dev.info["id"]["device"]),
                         (0x1af4, 0x1041))
        f = dev.host_features()
        for bit in (F_VERSION_1, F_MAC, F_MRG_RXBUF, F_STATUS, F_CTRL_VQ,
                    F_CTRL_RX, 0, 1, 11):   # CSUM, GUEST_CSUM, HOST_TSO4
            self.assertTrue(f >> bit & 1, bit)
        self.assertEqual(bytes(dev.config(i, 1) for i in range(6)), MAC)
        self.assertEqual(dev.config(6, 2), 1)         # LINK_UP
        info = vm.qmp.cmd("human-monitor-command",
                          **{"command-line": "info network"})
        self.assertIn("nic0: index=0,type=nic,model=virtio-net-pci,"
                      "macaddr=52:54:00:12:34:56", info)
        self.assertIn(" \\ n0: index=0,type=tap,ifname=bv0", info)

    def test_no_offloads_without_vnet_hdr(self):
        vm, qt = self.start("user,id=n0")
        f = VirtioPci(vm, qt, SLOT).host_features()
        for bit in (0, 1, 7, 11):
            self.assertFalse(f >> bit & 1, bit)

    def test_both_ways_and_flow_control(self):
        vm, qt = self.start("tap,id=n0,ifname=bv1,script=no,downscript=no")
        s = self.tap("bv1")
        nic = Nic(vm, qt, rx_bufs=16)
        # 100 frames for 16 buffers: the rest wait in the tap.
        for i in range(100):
            s.send(frame(i))
        got = self.collect(nic, 16)
        self.assertEqual(seqs(got), list(range(16)))
        vm.qmp.cmd("query-status")
        self.assertEqual(nic.received(), [])
        while len(seqs(got)) < 100:
            nic.post(16)
            got = self.collect(nic, min(100, len(seqs(got)) + 16), got)
        self.assertEqual(seqs(got), list(range(100)))
        # Guest to host.
        nic.send(frame(7, dst=HOST_MAC))
        self.assertEqual(s.recv(2048)[:18], frame(7, dst=HOST_MAC)[:18])

    def test_link_and_announce(self):
        vm, qt = self.start("tap,id=n0,ifname=bv2,script=no,downscript=no")
        subprocess.run(["ip", "link", "set", "bv2", "up"], check=True)
        rarp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                             socket.htons(0x8035))
        rarp.bind(("bv2", 0x8035))
        rarp.settimeout(baton_test.DEFAULT_TIMEOUT)
        self.addCleanup(rarp.close)
        nic = Nic(vm, qt, rx_bufs=4)
        vm.qmp.cmd("set_link", {"name": "nic0", "up": False})
        self.assertEqual(nic.dev.config(6, 2), 0)
        vm.qmp.cmd("set_link", {"name": "n0", "up": True})
        self.assertEqual(nic.dev.config(6, 2), 1)
        vm.qmp.cmd("announce-self", initial=0, max=10, rounds=3, step=1)
        for _ in range(3):
            f = rarp.recv(2048)
            self.assertEqual(f[:6], b"\xff" * 6)
            self.assertEqual(f[6:12], MAC)
            self.assertEqual(f[12:14], b"\x80\x35")
            self.assertEqual(f[20:22], b"\x00\x03")

    def test_rx_filter(self):
        vm, qt = self.start("tap,id=n0,ifname=bv3,script=no,downscript=no")
        s = self.tap("bv3")
        nic = Nic(vm, qt, rx_bufs=32)
        flt = vm.qmp.cmd("query-rx-filter", {"name": "nic0"})[0]
        self.assertTrue(flt["promiscuous"])
        self.assertEqual(flt["main-mac"], "52:54:00:12:34:56")
        vm.qmp.clear_events()
        self.assertEqual(nic.command(0, 0, b"\x00"), 0)   # PROMISC off
        ev = vm.qmp.get_event("NIC_RX_FILTER_CHANGED")
        self.assertEqual(ev["data"]["name"], "nic0")
        self.assertEqual(nic.command(0, 5, b"\x01"), 0)   # NOBCAST on
        other = bytes([0x52, 0x54, 0, 0, 0, 0x99])
        s.send(frame(1, dst=other))           # not ours: dropped
        s.send(frame(2, dst=b"\xff" * 6))     # broadcast: dropped
        s.send(frame(3))                      # ours
        got = self.collect(nic, 1)
        self.assertEqual(seqs(got), [3])
        flt = vm.qmp.cmd("query-rx-filter", {"name": "nic0"})[0]
        self.assertFalse(flt["promiscuous"])
        self.assertFalse(flt["broadcast-allowed"])
        self.assertEqual(nic.command(9, 0, b""), 1)       # unknown class
        with self.assertRaises(baton_test.QmpError) as cm:
            vm.qmp.cmd("query-rx-filter", {"name": "n0"})
        self.assertIn("isn't a NIC", cm.exception.desc)

    def test_multiqueue(self):
        """mq=on over a 2-queue tap: two pairs, the control queue last;
        after VQ_PAIRS_SET 2 every frame arrives exactly once, on the
        receive queue of the tap queue the kernel picked for it (here
        the second one: the queue pair baton adds with mq)."""
        vm, qt = self.start("tap,id=n0,ifname=bv7,script=no,downscript=no,"
                            "queues=2", dev_opts=",mq=on")
        s = self.tap("bv7")
        dev = VirtioPci(vm, qt, SLOT)
        self.assertTrue(dev.host_features() >> F_MQ & 1)
        self.assertEqual(dev.config(8, 2), 2)        # max_virtqueue_pairs
        dev.negotiate(FEATURES | 1 << F_MQ)
        rings = [0x100000 + 0x20000 * i for i in range(5)]
        rx = [dev.setup_queue(0, base=rings[0]),
              dev.setup_queue(2, base=rings[2])]
        dev.setup_queue(1, base=rings[1])
        dev.setup_queue(3, base=rings[3])
        ctrl = dev.setup_queue(4, base=rings[4])
        dev.driver_ok()
        qt.write(CTRL_BUFS, bytes([4, 0, 2, 0]))     # MQ VQ_PAIRS_SET 2
        qt.writeb(CTRL_BUFS + 0x800, 0xff)
        ctrl.add_chain([(CTRL_BUFS, 4, False), (CTRL_BUFS + 0x800, 1, True)])
        ctrl.kick()
        ctrl.wait_used(1)
        self.assertEqual(qt.readb(CTRL_BUFS + 0x800), 0)
        for i, q in enumerate(rx):
            for j in range(64):
                q.add_chain([(RX_BUFS + 0x100000 * i + RX_BUF_LEN * j,
                              RX_BUF_LEN, True)])
            q.kick()
        for i in range(64):
            f = bytearray(frame(i))
            f[6:12] = bytes([2, 0, 0, 0, i, 1])
            s.send(bytes(f))
        wait_for(lambda: rx[0].used_idx() + rx[1].used_idx() >= 64,
                 what="64 frames on two queues")
        got = []
        for i, q in enumerate(rx):
            for head, length in q.used_entries(0, q.used_idx()):
                data = qt.read(RX_BUFS + 0x100000 * i + RX_BUF_LEN * head,
                               length)
                got += seqs([data[HDR:]])
        self.assertEqual(sorted(got), list(range(64)))
        print("  queue 0: %d frames, queue 1: %d" % (rx[0].used_idx(),
                                                     rx[1].used_idx()))

    def test_malformed_chain(self):
        vm, qt = self.start("user,id=n0")
        nic = Nic(vm, qt, rx_bufs=0)
        # A transmit chain with a device-writable buffer: broken device.
        nic.tx.add_chain([(TX_BUFS, 64, True)])
        nic.tx.kick()
        wait_for(lambda: nic.dev.status() & NEEDS_RESET, what="NEEDS_RESET")
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")

    def test_malformed_receive_and_control(self):
        """A receive buffer the device may only read, and a control
        command without its class and code, each break the device (not
        baton); a reset and a new setup make it work again."""
        vm, qt = self.start("tap,id=n0,ifname=bv8,script=no,downscript=no")
        s = self.tap("bv8")
        nic = Nic(vm, qt, rx_bufs=0)
        nic.rx.add_chain([(RX_BUFS, RX_BUF_LEN, False)])   # device-readable
        nic.rx.kick()
        s.send(frame(1))
        wait_for(lambda: nic.dev.status() & NEEDS_RESET, what="NEEDS_RESET")
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")

        nic = Nic(vm, qt, rx_bufs=4)                     # reset, set up again
        self.assertFalse(nic.dev.status() & NEEDS_RESET)
        s.send(frame(2))
        self.assertEqual(seqs(self.collect(nic, 1)), [2])
        nic.qt.writeb(CTRL_BUFS, 0)
        nic.ctrl.add_chain([(CTRL_BUFS, 1, False), (CTRL_BUFS + 0x800, 1,
                                                   True)])
        nic.ctrl.kick()
        wait_for(lambda: nic.dev.status() & NEEDS_RESET, what="NEEDS_RESET")
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")

    def test_user_arp(self):
        vm, qt = self.start("user,id=n0")
        nic = Nic(vm, qt, rx_bufs=8)
        nic.send(ARP_GATEWAY)
        got = []
        wait_for(lambda: got.extend(nic.received()) or any(
            f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02"
            for f in got), what="ARP reply from 10.0.2.2")


class LiveUpdate(NetCase):

    def test_cpr_transfer_loses_nothing(self):
        """Frames sent before, during and after the pause: all arrive."""
        old, qt = self.start("tap,id=n0,ifname=bv4,script=no,downscript=no",
                             mem=memfd_ram_args("64M"), name="old")
        s = self.tap("bv4")
        nic = Nic(old, qt, rx_bufs=128)
        for i in range(20):
            s.send(frame(i))
        got = self.collect(nic, 20)
        old.qmp.cmd("stop")
        for i in range(20, 60):                  # the guest is stopped
            s.send(frame(i))
        main, cpr = old.path("m.sock"), old.path("c.sock")
        new = self.launch(Vm(old.command()[1:] + cpr_incoming_args(main, cpr),
                             qmp=False, name="new"))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        for i in range(60, 80):                  # the update is under way
            s.send(frame(i))
        old.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(old.qmp)
        self.assertEqual(seqs(nic.received()), [])
        old.qmp.cmd("cont")   # the new process runs the guest from here
        wait_runstate(old.qmp, "running")
        old.proc.terminate()
        self.assertEqual(old.proc.wait(baton_test.DEFAULT_TIMEOUT), 0)
        for i in range(80, 100):
            s.send(frame(i))
        got = self.collect(nic, 100, got)
        self.assertEqual(seqs(got), list(range(100)))

    def test_cpr_transfer_full_ring(self):
        """The receive queue is full at the update: the frame the old
        process had already taken travels with the state; the rest wait
        in the tap; all arrive, in order, once the guest adds buffers."""
        old, qt = self.start("tap,id=n0,ifname=bv5,script=no,downscript=no",
                             mem=memfd_ram_args("64M"), name="old")
        s = self.tap("bv5")
        nic = Nic(old, qt, rx_bufs=16)
        for i in range(40):
            s.send(frame(i))
        got = self.collect(nic, 16)
        main, cpr = old.path("m.sock"), old.path("c.sock")
        new = self.launch(Vm(old.command()[1:] + cpr_incoming_args(main, cpr),
                             qmp=False, name="new"))
        wait_for(lambda: unix_listening(cpr) or new._died(),
                 what="cpr socket")
        old.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        old.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        wait_migration(old.qmp)
        wait_runstate(old.qmp, "running")
        old.proc.terminate()
        self.assertEqual(old.proc.wait(baton_test.DEFAULT_TIMEOUT), 0)
        nic.post(32)
        got = self.collect(nic, 40, got)
        self.assertEqual(seqs(got), list(range(40)))

    def test_cpr_exec_loses_nothing(self):
        """cpr-exec: the same process execs a new image with the tap fd;
        frames sent while the guest is stopped for it all arrive."""
        vm, qt = self.start("tap,id=n0,ifname=bv6,script=no,downscript=no",
                            mem=memfd_ram_args("64M"), name="exec")
        s = self.tap("bv6")
        nic = Nic(vm, qt, rx_bufs=128)
        for i in range(10):
            s.send(frame(i))
        got = self.collect(nic, 10)
        vm.qmp.cmd("stop")
        for i in range(10, 40):
            s.send(frame(i))
        cpr_exec_to(vm, vm.qmp, vm.command(), until="paused")
        for i in range(40, 50):
            s.send(frame(i))
        self.assertEqual(seqs(nic.received()), [])
        vm.qmp.cmd("cont")
        got = self.collect(nic, 50, got)
        self.assertEqual(seqs(got), list(range(50)))


class Migration(NetCase):

    def test_migration_between_bridged_taps(self):
        """Source and destination taps on one bridge: before, the bridge
        sends the guest's frames to the source's port (it learned the
        guest's MAC there); after the switch-over the destination's
        announcement (RARP) moves it, and every frame sent after the
        announcement reaches the destination. Frames sent in between go
        to the stopped source and are lost, as QEMU's; reported."""
        subprocess.run(["ip", "link", "add", "bmbr", "type", "bridge"],
                       check=True)
        self.addCleanup(subprocess.run, ["ip", "link", "del", "bmbr"])
        subprocess.run(["ip", "link", "set", "bmbr", "up"], check=True)
        src, sqt = self.start("tap,id=n0,ifname=bms,script=no,downscript=no",
                              name="src")
        path = src.path("mig.sock")
        dst = Vm(BASE + ["-m", "64M", "-netdev",
                         "tap,id=n0,ifname=bmd,script=no,downscript=no",
                         "-device", "virtio-net-pci,id=nic0,netdev=n0,addr=%d"
                         % SLOT, "-incoming", "unix:" + path], name="dst")
        dst.qtest_path = dst.path("qtest.sock")
        dst.args += ["-qtest", "unix:%s,server=on,wait=off" % dst.qtest_path]
        self.launch(dst)
        dqt = QtestClient(dst.qtest_path)
        self.addCleanup(dqt.close)
        for tap in ("bms", "bmd"):
            subprocess.run(["ip", "link", "set", tap, "master", "bmbr", "up"],
                           check=True)
        host = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                             socket.htons(ETH_P))
        host.bind(("bmbr", ETH_P))
        self.addCleanup(host.close)
        rarp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                             socket.htons(0x8035))
        rarp.bind(("bmbr", 0x8035))
        rarp.settimeout(baton_test.DEFAULT_TIMEOUT)
        self.addCleanup(rarp.close)

        nic = Nic(src, sqt, rx_bufs=200)
        # The guest talks first: the bridge learns its MAC on bms (the
        # frame floods to bmd too, so it is of another type than ours).
        nic.send(HOST_MAC + MAC + b"\x88\xb6" + bytes(50))
        for i in range(10):
            host.send(frame(i))
        got = self.collect(nic, 10)
        src.qmp.cmd("migrate-set-parameters",
                    {"announce-initial": 0, "announce-rounds": 3,
                     "announce-step": 1, "announce-max": 5})
        dst.qmp.cmd("migrate-set-parameters",
                    {"announce-initial": 0, "announce-rounds": 3,
                     "announce-step": 1, "announce-max": 5})
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_runstate(dst.qmp, "running")
        # Before the announcement reaches the bridge, frames still go to
        # the source's port.
        f = rarp.recv(2048)
        self.assertEqual(f[6:12], MAC)
        nic.switch(dqt)
        for i in range(10, 30):
            host.send(frame(i))
        got = self.collect(nic, 30, got)
        self.assertEqual(seqs(got), list(range(30)))

    def test_user_state_migrates(self):
        """libslirp's own state travels with the guest, as QEMU carries
        it: the IP identification of the gateway's echo replies goes on
        from the source's on the destination (a fresh libslirp would
        start again where the source started)."""
        src, sqt = self.start("user,id=n0", name="src")
        path = src.path("mig.sock")
        dst = Vm(BASE + ["-m", "64M", "-netdev", "user,id=n0", "-device",
                         "virtio-net-pci,id=nic0,netdev=n0,addr=%d" % SLOT,
                         "-incoming", "unix:" + path], name="dst")
        dst.qtest_path = dst.path("qtest.sock")
        dst.args += ["-qtest", "unix:%s,server=on,wait=off" % dst.qtest_path]
        self.launch(dst)
        dqt = QtestClient(dst.qtest_path)
        self.addCleanup(dqt.close)
        nic = Nic(src, sqt, rx_bufs=32)
        nic.send(ARP_GATEWAY)

        def pings(first, n):
            got = []

            def replied(i):
                # libslirp asks for the guest's MAC when it does not
                # know it (its ARP table does not migrate): answer.
                for f in nic.received():
                    got.append(f)
                    if f[12:14] == b"\x08\x06" and f[20:22] == b"\0\1" \
                            and f[38:42] == bytes([10, 0, 2, 15]):
                        nic.send(f[6:12] + MAC + b"\x08\x06" +
                                 b"\0\1\x08\0\x06\x04\0\2" + MAC +
                                 f[38:42] + f[22:32])
                        nic.send(ping_gateway(i))   # the first is gone
                return len(echo_reply_ids(got)) > i - first

            for i in range(first, first + n):
                nic.send(ping_gateway(i))
                wait_for(lambda: replied(i),
                         what="echo reply %d from 10.0.2.2" % i)
            return echo_reply_ids(got)

        before = pings(0, 3)
        self.assertEqual(before, [(before[0] + i) & 0xffff for i in range(3)])
        src.qmp.cmd("migrate", uri="unix:" + path)
        wait_migration(src.qmp)
        wait_runstate(dst.qmp, "running")
        nic.switch(dqt)
        after = pings(3, 2)
        # (The reply libslirp held while it asked for the MAC may
        # follow: the ids stay consecutive.)
        self.assertEqual(after, [(before[-1] + 1 + i) & 0xffff
                                 for i in range(len(after))])


if __name__ == "__main__":
    NETNS = baton_test.enter_netns()
    baton_test.main()
