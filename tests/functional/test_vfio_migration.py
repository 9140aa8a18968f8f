# SPDX-License-Identifier: GPL-2.0-or-later
"""vfio-pci device migration (VFIO migration protocol v2; docs/system/vfio.md)
against the host simulator: two dmatest functions in one hostsimd, the
source's 0000:01:00.0 migrating to the destination's 0000:02:00.0, each
baton driven through qtest in the guest's place.

Blockers and enable-migration run with any hostsim. The migrations need
the simulator's migration=on (VFIO_DEVICE_FEATURE_MIGRATION): where the
simulator in this tree does not offer it, those tests skip and say so.
"""

import glob
import os
import unittest

import baton_test
from baton_test import (QtestClient, Vm, VmTestCase, wait_for,
                        wait_migration, wait_runstate)
import test_vfio
from test_vfio import (BASE, CTRL, CTRL_STREAM, FAULTS, HEAD, RESETS,
                       Dmatest, Hostsim, preload_works, run)

SRC, DST = "0000:01:00.0", "0000:02:00.0"
# dmatest's RO register with the device's migration state (hostsim.md).
MIG_STATE, RUNNING = 0x34, 2
# Fault injection: 0x100 | S fails the next arc into state S (EIO, ERROR).
MIG_FAIL, STOP_COPY = 0x4c, 3
SRC_GROUP, DST_GROUP = 5, 6
SLOT = 4
RING, ENTRIES = 0x200000, 4096


def dmatest(host, group, extra=""):
    return "%s,type=dmatest,group=%d%s" % (host, group, extra)


def allow_switchover(qmp):
    """Let the migration switch over at its next decision: a downtime
    limit of 100 s at an assumed 1 GiB/s (avail-switchover-bandwidth),
    not at the measured bandwidth, which falls to almost nothing once
    the device's ring is full and little is left to send (on a busy
    host the migration then never fits and iterates on)."""
    qmp.cmd("migrate-set-parameters", **{"downtime-limit": 100000,
                                         "avail-switchover-bandwidth":
                                         1 << 30})


class Setup(VmTestCase):
    """One hostsimd; batons with a vfio-pci function over memfd RAM."""

    @classmethod
    def setUpClass(cls):
        why = preload_works()
        if why:
            raise unittest.SkipTest(why)

    def transport_args(self):
        return []

    def transport_prop(self):
        return ""

    def hostsim(self, devices):
        try:
            self.hs = Hostsim(self, devices)
        except RuntimeError:
            # A key the simulator in this tree does not know: say which.
            logs = glob.glob(os.path.join(baton_test.tmpdir(),
                                          "hostsimd-*.log"))
            text = open(max(logs, key=os.path.getmtime)).read()
            if "unknown key" in text:
                self.skipTest("the simulator here lacks a feature: " +
                              text.strip())
            raise
        return self.hs

    def vfio(self, host, props="", slot=SLOT, id="vf0"):
        return ["-device", "vfio-pci,host=%s,addr=%x,id=%s%s%s"
                % (host, slot, id, self.transport_prop(), props)]

    def baton(self, args, name=None, incoming=None, mem="64M", env=None):
        ram = ["-object", "memory-backend-memfd,id=ram0,size=" + mem,
               "-machine", "pc,memory-backend=ram0", "-m", mem]
        vm = Vm(BASE + ram + self.transport_args() + list(args), name=name)
        if incoming:
            vm.args += ["-incoming", incoming]
        vm.extra_env = dict(self.hs.env, **(env or {}))
        qtest_path = vm.path("qtest.sock")
        vm.args += ["-qtest", "unix:%s,server=on,wait=off" % qtest_path]
        self.launch(vm)
        qt = QtestClient(qtest_path)
        self.addCleanup(qt.close)
        return vm, qt


class Blockers(Setup):
    """A device without migration support blocks normal migration
    (enable-migration=auto) or fails realize (on); live update is not
    affected."""

    def test_auto_blocks(self):
        """The blocker names the device, in query-migrate's blocked-reasons
        and migrate's error; the guest runs on."""
        self.hostsim([dmatest(SRC, SRC_GROUP)])
        vm, qt = self.baton(self.vfio(SRC))
        want = SRC + ": VFIO migration is not supported in kernel"
        self.assertEqual(vm.qmp.cmd("query-migrate").get("blocked-reasons"),
                         [want])
        with self.assertRaises(baton_test.QmpError) as e:
            vm.qmp.cmd("migrate", uri="unix:" + vm.path("x.sock"))
        self.assertIn(want, str(e.exception))
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")
        self.assertEqual(vm.qmp.cmd("qom-get", path="vf0",
                                    property="enable-migration"), "auto")

    def test_off_blocks(self):
        """enable-migration=off: QEMU's blocker, whatever the device."""
        self.hostsim([dmatest(SRC, SRC_GROUP)])
        vm, qt = self.baton(self.vfio(SRC, ",enable-migration=off"))
        with self.assertRaises(baton_test.QmpError) as e:
            vm.qmp.cmd("migrate", uri="unix:" + vm.path("x.sock"))
        self.assertIn(SRC + ": Migration is disabled for VFIO device",
                      str(e.exception))

    def test_on_fails_realize(self):
        """enable-migration=on with a device that cannot migrate: baton
        does not start, and says why."""
        hs = self.hostsim([dmatest(SRC, SRC_GROUP)])
        ram = ["-object", "memory-backend-memfd,id=ram0,size=64M",
               "-machine", "pc,memory-backend=ram0", "-m", "64M"]
        status, err = run(ram + self.transport_args() +
                          self.vfio(SRC, ",enable-migration=on"),
                          env=dict(os.environ, **hs.env))
        self.assertEqual(status, 1, err)
        self.assertIn("vfio %s: %s: VFIO migration is not supported in kernel"
                      % (SRC, SRC), err)

    def test_bad_value(self):
        status, err = run(["-device",
                           "vfio-pci,host=01:00.0,enable-migration=maybe"])
        self.assertEqual(status, 1, err)
        self.assertIn("Parameter 'enable-migration' does not accept value "
                      "'maybe'", err)

    def test_cpr_not_blocked(self):
        """The blocker is for normal migration: cpr-transfer's checks pass
        it (test_vfio.py runs the transfers themselves)."""
        self.hostsim([dmatest(SRC, SRC_GROUP)])
        vm, qt = self.baton(self.vfio(SRC))
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        self.assertNotIn("blocked-reasons", vm.qmp.cmd("query-migrate"))


class BlockersIommufd(Blockers):
    def transport_args(self):
        return ["-object", "iommufd,id=iommufd0"]

    def transport_prop(self):
        return ",iommufd=iommufd0"


class Migrate(Setup):
    """Two batons, one hostsimd with two migration-capable dmatest
    functions: 01:00.0 streams records into the source's ring and its
    state moves to 02:00.0, which goes on streaming into the
    destination's ring. Subclasses pick the dirty tracking method (the
    simulator's features and baton's properties) and the transport."""

    # hostsimd --device keys of both functions, vfio-pci properties.
    DEVICE_EXTRA = ",migration=on,dma-logging=on"
    PROPS = ""
    METHOD = "device dma logging"

    def pair(self, extra="", props=""):
        self.hostsim([dmatest(SRC, SRC_GROUP, self.DEVICE_EXTRA + extra),
                      dmatest(DST, DST_GROUP, self.DEVICE_EXTRA + extra)])
        props = self.PROPS + props
        trace = ["-trace", "enable=vfio_dirty_tracking,file=%s"
                 % os.path.join(baton_test.tmpdir(), "src-dirty.trace")]
        src, sqt = self.baton(self.vfio(SRC, props) + trace, name="src")
        blocked = src.qmp.cmd("query-migrate").get("blocked-reasons")
        self.assertIsNone(blocked)
        uri = "unix:" + src.path("mig.sock")
        dst, dqt = self.baton(self.vfio(DST, props), name="dst",
                              incoming=uri)
        return src, sqt, dst, dqt, uri

    def method_used(self):
        with open(os.path.join(baton_test.tmpdir(), "src-dirty.trace")) as f:
            return f.read()

    def check_continues(self, d, dqt, more=300):
        """On the destination: every record since the driver's last one is
        in the ring (none stale, none missing) and the stream goes on."""
        dd = Dmatest(dqt)
        dd.ring, dd.entries, dd.n = d.ring, d.entries, d.n
        dd.missing = dd.corrupt = 0
        dd.consume(d.n + more)
        return dd

    def migrate_streaming(self, props="", method=None):
        """Migrate while the device streams and records are written after
        the first RAM pass: downtime-limit 0 keeps the migration
        iterating (0 ms: nothing but an empty rest fits, and the
        device's state never is) until the device has written past what
        the driver read before the migration began, then a large limit
        lets it switch over. Returns the destination's
        driver."""
        src, sqt, dst, dqt, uri = self.pair(",state-size=8M", props)
        d = Dmatest(sqt)
        d.start_ring(RING, ENTRIES, period_us=100)
        self.assertEqual(d.consume(100), (0, 0))
        src.qmp.cmd("migrate-set-parameters", **{"downtime-limit": 0})
        src.qmp.cmd("migrate", uri=uri)
        wait_for(lambda: src.qmp.cmd("query-migrate").get("ram", {})
                 .get("dirty-sync-count", 0) >= 2, what="two RAM passes")
        # The driver keeps reading on the source (so the ring never
        # fills) until records came after the second pass began, then
        # stops; one more record must follow, written after its page
        # was sent at least once: only dirty tracking brings it over.
        head = d.rd(HEAD)
        wait_for(lambda: d.drain() is not None and d.n > head + 50,
                 what="records written during the iterations")
        self.assertEqual((d.missing, d.corrupt), (0, 0))
        wait_for(lambda: d.rd(HEAD) > d.n + 1, what="one more record")
        allow_switchover(src.qmp)
        info = wait_migration(src.qmp, timeout=120)
        self.assertGreater(info["vfio"]["transferred"], 8 << 20)
        wait_runstate(dst.qmp, "running")
        self.assertIn("dirty page tracking: " + (method or self.METHOD),
                      self.method_used())
        return src, d, self.check_continues(d, dqt)

    def test_migrate(self):
        """The device's state (registers, HEAD) moves: the destination
        device continues the stream from the source's HEAD, every record
        lands in the destination's RAM (the pages DMA wrote on the source
        during the migration were resent), and query-migrate and info
        migrate count the device's bytes."""
        src, d, dd = self.migrate_streaming()
        self.assertEqual((dd.missing, dd.corrupt), (0, 0))
        self.assertEqual(dd.rd(FAULTS), 0)
        hmp = src.qmp.cmd("human-monitor-command",
                          **{"command-line": "info migrate"})
        self.assertIn("vfio device transferred: ", hmp)

    def test_tracking_off_detected(self):
        """x-dirty-tracking=off: the same migration leaves the pages the
        device wrote after they were sent stale on the destination, and
        the check sees records missing: proof that it can fail."""
        src, d, dd = self.migrate_streaming(",x-dirty-tracking=off",
                                            method="none (test only")
        self.assertGreater(dd.missing, 0)

    def test_cancel_precopy(self):
        """A cancel while the migration iterates: the source device runs
        on (its stream intact), the guest too."""
        src, sqt, dst, dqt, uri = self.pair()
        d = Dmatest(sqt)
        d.start_ring(RING, ENTRIES, period_us=200)
        self.assertEqual(d.consume(50), (0, 0))
        # 1 byte/s: the first pass cannot finish before the cancel.
        src.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 1})
        src.qmp.cmd("migrate", uri=uri)
        wait_migration(src.qmp, until=("active",))
        src.qmp.cmd("migrate_cancel")
        wait_migration(src.qmp, until=("cancelled",))
        self.assertEqual(src.qmp.cmd("query-status")["status"], "running")
        self.assertEqual(d.rd(MIG_STATE), RUNNING)
        self.assertEqual(d.consume(d.n + 200), (0, 0))
        self.assertEqual(d.rd(FAULTS), 0)

    def fail_at(self, point, want):
        """The source fails at POINT (BATON_FAULT_INJECT): the migration
        fails with WANT, the guest and its device run again (RUNNING),
        the stream intact and the device never reset."""
        self.hostsim([dmatest(SRC, SRC_GROUP, self.DEVICE_EXTRA),
                      dmatest(DST, DST_GROUP, self.DEVICE_EXTRA)])
        src, sqt = self.baton(self.vfio(SRC, self.PROPS), name="src",
                              env={"BATON_FAULT_INJECT": point})
        uri = "unix:" + src.path("mig.sock")
        dst, dqt = self.baton(self.vfio(DST, self.PROPS), name="dst",
                              incoming=uri)
        d = Dmatest(sqt)
        d.start_ring(RING, ENTRIES, period_us=200)
        self.assertEqual(d.consume(50), (0, 0))
        resets = d.rd(RESETS)
        allow_switchover(src.qmp)
        src.qmp.cmd("migrate", uri=uri)
        info = wait_migration(src.qmp, until=("failed",))
        self.assertIn(want, info["error-desc"])
        wait_runstate(src.qmp, "running")
        self.assertEqual(d.rd(MIG_STATE), RUNNING)
        self.assertEqual(d.consume(d.n + 200), (0, 0))
        self.assertEqual(d.rd(RESETS), resets)

    def test_fail_setup(self):
        self.fail_at("vfio-save-setup", SRC + ": save setup failed")

    def test_fail_stop_copy(self):
        self.fail_at("vfio-stop-copy", SRC + ": reading the device state")

    def test_device_error(self):
        """The source device fails the arc into STOP_COPY and reports
        ERROR: baton resets it (QEMU's behaviour), the migration fails
        naming it, and the guest runs on with the device RUNNING again."""
        self.hostsim([dmatest(SRC, SRC_GROUP, self.DEVICE_EXTRA),
                      dmatest(DST, DST_GROUP, self.DEVICE_EXTRA)])
        src, sqt = self.baton(self.vfio(SRC, self.PROPS), name="src")
        uri = "unix:" + src.path("mig.sock")
        dst, dqt = self.baton(self.vfio(DST, self.PROPS), name="dst",
                              incoming=uri)
        d = Dmatest(sqt)
        d.start_ring(RING, ENTRIES, period_us=200)
        self.assertEqual(d.consume(50), (0, 0))
        resets = d.rd(RESETS)
        d.wr(MIG_FAIL, 0x100 | STOP_COPY)
        allow_switchover(src.qmp)
        src.qmp.cmd("migrate", uri=uri)
        info = wait_migration(src.qmp, until=("failed",))
        self.assertIn(SRC + ": Failed setting device state to STOP_COPY",
                      info["error-desc"])
        wait_runstate(src.qmp, "running")
        self.assertEqual(d.rd(MIG_STATE), RUNNING)
        self.assertEqual(d.rd(RESETS), resets + 1)

    def test_destination_refuses(self):
        """A destination device that refuses the state (another
        state-size) fails the load: the source takes the guest back, its
        device runs again with its stream intact and was not reset."""
        self.hostsim([
            dmatest(SRC, SRC_GROUP, self.DEVICE_EXTRA + ",state-size=64K"),
            dmatest(DST, DST_GROUP, self.DEVICE_EXTRA + ",state-size=128K")])
        src, sqt = self.baton(self.vfio(SRC, self.PROPS), name="src")
        uri = "unix:" + src.path("mig.sock")
        dst, dqt = self.baton(self.vfio(DST, self.PROPS), name="dst",
                              incoming=uri)
        d = Dmatest(sqt)
        d.start_ring(RING, ENTRIES, period_us=200)
        self.assertEqual(d.consume(50), (0, 0))
        resets = d.rd(RESETS)
        # Switch over at once, whatever the method resends.
        allow_switchover(src.qmp)
        src.qmp.cmd("migrate", uri=uri)
        info = wait_migration(src.qmp, until=("failed",))
        self.assertIn(DST + ": Failed setting device state to STOP",
                      info["error-desc"])
        wait_runstate(src.qmp, "running")
        self.assertEqual(d.rd(MIG_STATE), RUNNING)
        self.assertEqual(d.consume(d.n + 200), (0, 0))
        self.assertEqual(d.rd(RESETS), resets)
        self.assertEqual(d.rd(CTRL) & CTRL_STREAM, CTRL_STREAM)


class MigratePrecopy(Migrate):
    """Pre-copy: the device's state streams while the guest runs (and
    changes at 1 MiB/s), device DMA logging."""
    DEVICE_EXTRA = (",migration=on,dma-logging=on,precopy=on,"
                    "state-dirty-rate=1M")

    def test_two_devices_p2p(self):
        """Two devices on each side: both migrate, and on the stop every
        device reached RUNNING_P2P (PRE_COPY_P2P) before either stopped,
        and on the destination's start both were in RUNNING_P2P before
        either ran."""
        src2, dst2 = "0000:03:00.0", "0000:04:00.0"
        self.hostsim([dmatest(h, g, self.DEVICE_EXTRA) for h, g in
                      ((SRC, SRC_GROUP), (DST, DST_GROUP), (src2, 7),
                       (dst2, 8))])
        src, sqt = self.baton(self.vfio(SRC) +
                              self.vfio(src2, slot=SLOT + 1, id="vf1"),
                              name="src")
        uri = "unix:" + src.path("mig.sock")
        dst, dqt = self.baton(self.vfio(DST) +
                              self.vfio(dst2, slot=SLOT + 1, id="vf1"),
                              name="dst", incoming=uri)
        ds = [Dmatest(sqt), Dmatest(sqt, slot=SLOT + 1)]
        for k, d in enumerate(ds):
            d.start_ring(RING + k * 0x100000, ENTRIES, period_us=200)
            self.assertEqual(d.consume(50), (0, 0))
        src.qmp.cmd("migrate", uri=uri)
        wait_migration(src.qmp, timeout=120)
        wait_runstate(dst.qmp, "running")
        for k, d in enumerate(ds):
            dd = Dmatest(dqt, slot=SLOT + k)
            dd.ring, dd.entries, dd.n = d.ring, d.entries, d.n
            dd.missing = dd.corrupt = 0
            self.assertEqual(dd.consume(d.n + 100), (0, 0))
        with open(self.hs.log_path) as f:
            log = [l for l in f.read().splitlines() if "migration state" in l]

        def first(dev, arc):
            return min(i for i, l in enumerate(log) if dev in l and arc in l)
        for a, b in ((SRC, src2), (src2, SRC)):
            self.assertLess(first(a, "-> PRE_COPY_P2P"),
                            first(b, "PRE_COPY_P2P -> STOP_COPY"))
        for a, b in ((DST, dst2), (dst2, DST)):
            self.assertLess(first(a, "STOP -> RUNNING_P2P"),
                            first(b, "RUNNING_P2P -> RUNNING"))

    def test_switchover_ack(self):
        """switchover-ack on both sides: with a downtime limit that any
        pass fits, the source still does not stop the guest before the
        destination acknowledged the device's initial state."""
        trace = os.path.join(baton_test.tmpdir(), "src-ack.trace")
        src, sqt, dst, dqt, uri = self.pair(",state-size=8M")
        for vm in (src, dst):
            vm.qmp.cmd("migrate-set-capabilities", capabilities=[
                {"capability": "switchover-ack", "state": True}])
        for ev in ("migration_switchover_ack", "vm_state_notify"):
            src.qmp.cmd("trace-event-set-state",
                        arguments={"name": ev, "enable": True})
        d = Dmatest(sqt)
        d.start_ring(RING, ENTRIES, period_us=200)
        self.assertEqual(d.consume(50), (0, 0))
        allow_switchover(src.qmp)
        src.qmp.cmd("migrate", uri=uri)
        wait_migration(src.qmp, timeout=120)
        wait_runstate(dst.qmp, "running")
        self.check_continues(d, dqt)
        with open(self.trace_path(src)) as f:
            lines = f.read().splitlines()
        ack = [i for i, l in enumerate(lines) if "1 of 1 acknowledged" in l]
        stop = [i for i, l in enumerate(lines)
                if "vm_state_notify" in l and "finish-migrate" in l]
        self.assertTrue(ack and stop, lines)
        self.assertLess(ack[0], stop[0])

    def trace_path(self, vm):
        return os.path.join(baton_test.tmpdir(), "src-dirty.trace")


class MigrateIommu(Migrate):
    """The legacy container's precise VFIO_IOMMU_DIRTY_PAGES."""
    DEVICE_EXTRA = ",migration=on,iommu-dirty=on"
    METHOD = "iommu"


class MigrateIommufd(Migrate):
    def transport_args(self):
        return ["-object", "iommufd,id=iommufd0"]

    def transport_prop(self):
        return ",iommufd=iommufd0"


class MigrateIommuIommufd(MigrateIommu):
    """iommufd's HWPT dirty tracking (the HWPT allocated with it)."""

    def transport_args(self):
        return ["-object", "iommufd,id=iommufd0"]

    def transport_prop(self):
        return ",iommufd=iommufd0"


class MigrateAllDirtyIommufd(Migrate):
    """No tracking at all: every mapped page resent at every sync (only
    with enable-migration=on, QEMU's rule). Over iommufd: hostsim's legacy
    container always offers its (imprecise) IOMMU tracking."""
    DEVICE_EXTRA = ",migration=on"
    PROPS = ",enable-migration=on"
    METHOD = "all mapped pages"

    def transport_args(self):
        return ["-object", "iommufd,id=iommufd0"]

    def transport_prop(self):
        return ",iommufd=iommufd0"


class CprMigratable(test_vfio.Device):
    """Live update of migration-capable devices (pre-copy, DMA logging,
    IOMMU tracking) is exactly issue 9's: test_vfio's cpr-transfer and
    cpr-exec, the device never reset, never stopped (no migration state
    change), its stream and MSI-X going on in the new process."""

    def start(self, extra=(), devices=None, **kw):
        return super().start(extra, devices=(
            test_vfio.BDF + ",type=dmatest,group=%d,migration=on,"
            "precopy=on,dma-logging=on,iommu-dirty=on" % test_vfio.GROUP,),
            **kw)

    def tearDown(self):
        with open(self.hs.log_path) as f:
            self.assertNotIn("migration state", f.read())


# Only the live updates of the Device tests run here.
for _name in dir(CprMigratable):
    if _name.startswith("test_") and _name not in ("test_cpr_transfer",
                                                   "test_cpr_exec"):
        setattr(CprMigratable, _name, None)


if __name__ == "__main__":
    baton_test.main()
