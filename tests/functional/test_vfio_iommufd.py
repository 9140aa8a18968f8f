# SPDX-License-Identifier: GPL-2.0-or-later
"""vfio-pci over iommufd (docs/system/vfio.md#iommufd), against the host
simulator (tests/hostsim) with a qtest driver in the guest's place:
test_vfio.py's Device tests over iommufd, plus what only iommufd does.
A file of its own so that each stays well inside the suite's timeout.
Skips (exit 77) with the reason when hostsim is not built."""

import os
import re

import baton_test
import test_vfio
from baton_test import (BATON, Vm, cpr_channels, memfd_ram_args, tmpdir,
                        wait_for)
from test_vfio import (BASE, BDF, FAULTS, GROUP, ID, RESETS, SLOT, Dmatest,
                       Hostsim, run)


IOMMUFD_ID = "iommufd0"
STALLS = 0x30
CDEV = "/dev/vfio/devices/vfio0"  # the first (only) simulated device's


class DeviceIommufd(test_vfio.Device):
    """The Device tests over iommufd (-object iommufd, vfio-pci,iommufd=):
    enumeration, BARs, the DMA ring, MSI/MSI-X, INTx, reset, a memory map
    change, four functions on one IOAS, cpr-transfer, cpr-exec, late
    vectors, rollback, the soak; then what only iommufd does: RAM mapped
    by file, fds passed, ids kept and IOAS_CHANGE_PROCESS across an
    update, a mediated device across an update, and its errors."""

    NEW_TRACE = "vfio_ioas_new"
    # A mediated device is not refused here: test_mdev_cpr instead.
    test_mdev_blocks_cpr = None
    # No vaddr to abandon over iommufd.
    test_cpr_unmap_partial = None

    def transport_args(self):
        return ["-object", "iommufd,id=" + IOMMUFD_ID]

    def transport_prop(self):
        return ",iommufd=" + IOMMUFD_ID

    def rollback_trace(self):
        return ["-trace", "enable=iommufd_backend_change_process"]

    def moves(self):
        """(pid, mappings) of each IOAS_CHANGE_PROCESS, from the
        simulator's log."""
        with open(self.hs.log_path) as f:
            return [(int(p), int(n)) for p, n in re.findall(
                r"pid (\d+): iommufd \d+: (\d+) mapping\(s\), \d+ bytes "
                r"moved", f.read())]

    def check_rollback(self, vm, new, point, rolled):
        """The old process took the pinned pages' accounting back each
        time it had handed over (ROLLED times so far), which moved
        nothing: a new process takes it only when it commits (after GO),
        which it never did."""
        err = vm.stderr_text()
        self.assertEqual(len(re.findall(
            r"%s roll back -> 0\n" % IOMMUFD_ID, err)), rolled, err)
        moves = self.moves()
        self.assertNotIn(new.pid, [pid for pid, n in moves])
        if rolled:
            self.assertEqual(moves[-1], (vm.pid, 0), moves)

    def commit_fault(self):
        """IOAS_CHANGE_PROCESS fails in the new process (ENOMEM, as under
        too low an RLIMIT_MEMLOCK)."""
        return ("change-process-enomem", {},
                "iommufd '%s': IOMMU_IOAS_CHANGE_PROCESS failed: Cannot "
                "allocate memory" % IOMMUFD_ID)

    def test_p2p(self):
        """Over iommufd, mmap'ed BARs are not DMA-mapped (the kernel's
        IOAS_MAP refuses a BAR's vaddr, and a vaddr mapping could not move
        with IOAS_CHANGE_PROCESS): a warning names each device and BAR,
        A's DMA into B's BAR faults, and nothing else changes: B streams
        into guest RAM across a cpr-transfer, which the BARs do not block,
        with its pinned pages moved to the new process."""
        vm, qt, a, ring = self.p2p_start()
        err = vm.stderr_text()
        for dev in ("0000:01:00.0", "0000:02:00.0"):
            self.assertRegex(
                err, r"warning: vfio %s: BAR 2 at IOVA 0x[0-9a-f]+ size "
                r"0x[0-9a-f]+ is not DMA-mapped \(ioas \d+: iommufd maps no "
                r"device memory by virtual address\): PCI peer-to-peer "
                r"transactions on BARs are not supported" % dev)
        a.start_ring(ring, 1024)
        wait_for(lambda: a.rd(FAULTS) > 0, what="A's DMA into B's BAR")
        a.wr(test_vfio.CTRL, 0)
        b = Dmatest(qt, SLOT + 1)
        b.start_ring(0x200000, 4096, period_us=100)
        self.assertEqual(b.consume(100), (0, 0))
        new = self.transfer(vm, "p2p-new")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertEqual(b.consume(b.n + 300), (0, 0))
        self.assertEqual(b.rd(FAULTS), 0)
        self.assertEqual(len(self.moves()), 1)

    def test_map_file(self):
        """memfd RAM is mapped by file (IOMMU_IOAS_MAP_FILE): no vaddr."""
        vm, qt = self.start(self.vfio() + ["-trace", "enable=vfio_dma_map"])
        maps = re.findall(r"vfio_dma_map ioas \d+ iova (0x[0-9a-f]+) .* "
                          r"by file (\d) ro 0 -> 0", vm.stderr_text())
        self.assertEqual(maps, [("0x0", "1"), ("0xc0000", "1")])
        with open(self.hs.log_path) as f:
            self.assertNotIn("IOAS_MAP ", f.read())

    def test_fd_passing(self):
        """fd=: the iommufd and the device cdev opened by the caller (a
        wrapper that execs baton with them open), no sysfs lookup."""
        wrapper = os.path.join(tmpdir(), "open-fds.sh")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec 5<>/dev/iommu 6<>%s\nexec %s \"$@\"\n"
                    % (CDEV, BATON))
        os.chmod(wrapper, 0o755)
        self.binary = wrapper
        self.transport_args = lambda: ["-object",
                                       "iommufd,id=%s,fd=5" % IOMMUFD_ID]
        vm, qt = self.start(["-device", "vfio-pci,fd=6,addr=%x,id=vf0,"
                             "iommufd=%s" % (SLOT, IOMMUFD_ID),
                             "-trace", "enable=iommufd_backend_connect"])
        self.assertIn("%s fd 5 passed" % IOMMUFD_ID, vm.stderr_text())
        d = Dmatest(qt)
        self.assertEqual(d.rd(ID), 0xba700001)
        d.start_ring(0x200000, 64)
        self.assertEqual(d.consume(100), (0, 0))
        # And it lives on through a cpr-transfer with those fds.
        resets = d.rd(RESETS)
        self.transfer(vm, "fd-new")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertEqual(d.consume(d.n + 100), (0, 0))
        self.assertEqual(d.rd(RESETS), resets)

    def test_cpr_ids_kept(self):
        """The new process keeps the device's dev_id, IOAS and HWPT from
        the CPR state: no bind, no allocation, no attach, no map; it moves
        the pinned pages' accounting to itself (CHANGE_PROCESS)."""
        trace = ["-trace", "enable=vfio_iommufd_*", "-trace",
                 "enable=iommufd_*"]
        vm, qt = self.start(self.vfio() + trace)
        d = Dmatest(qt)
        d.start_ring(0x200000, 4096, period_us=100)
        self.assertEqual(d.consume(50), (0, 0))
        resets = d.rd(RESETS)
        old = re.search(r"vfio_iommufd_bind %s dev_id (\d+)" % BDF,
                        vm.stderr_text()).group(1)
        attach = re.search(r"vfio_iommufd_attach %s pt \d+ -> hwpt (\d+)"
                           % BDF, vm.stderr_text()).group(1)
        ioas = re.search(r"ioas (\d+) iova 0x0 ", vm.stderr_text()).group(1)
        new = self.transfer(vm, "ids-new")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertEqual(d.consume(d.n + 200), (0, 0))
        err = new.stderr_text()
        self.assertIn("vfio_iommufd_cpr_adopt %s dev_id %s ioas %s hwpt %s "
                      "kept" % (BDF, old, ioas, attach), err)
        for ioctl in ("VFIO_DEVICE_BIND_IOMMUFD", "IOMMU_IOAS_ALLOC",
                      "IOMMU_HWPT_ALLOC", "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
                      "IOMMU_IOAS_MAP", "VFIO_DEVICE_RESET",
                      "VFIO_DEVICE_SET_IRQS"):
            self.assertNotIn(ioctl, err)
        self.assertIn("%s take over -> 0" % IOMMUFD_ID, err)
        # Exactly one move, the new process's, and no other such ioctl.
        self.assertEqual(self.moves(), [(new.pid, 2)])
        self.assertEqual(err.count("IOMMU_IOAS_CHANGE_PROCESS"), 1, err)
        self.assertNotIn("IOMMU_IOAS_CHANGE_PROCESS", vm.stderr_text())
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)

    def test_cpr_no_device(self):
        """An iommufd object no device is attached to has no IOAS and
        nothing pinned: a cpr-transfer hands its fd over, and neither
        process makes an IOMMU_IOAS_CHANGE_PROCESS (the kernel's would
        move nothing); the guest runs on in the new process."""
        trace = ["-trace", "enable=iommufd_*"]
        vm, qt = self.start(trace)
        new = self.transfer(vm, "nodev-new")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        err = new.stderr_text()
        self.assertRegex(err, r"iommufd_backend_connect %s fd \d+ inherited"
                         % IOMMUFD_ID)
        for text in (err, vm.stderr_text()):
            self.assertNotIn("IOMMU_IOAS_CHANGE_PROCESS", text)
            self.assertNotIn("iommufd_backend_change_process", text)
        self.assertEqual(self.moves(), [])
        with open(self.hs.log_path) as f:
            self.assertNotIn("IOAS_CHANGE_PROCESS", f.read())

    def test_mdev_cpr(self):
        """A mediated device over iommufd: its RAM is mapped by file, so
        no vaddr is ever invalid; it streams through a cpr-transfer and a
        cpr-exec with 0 stalls, nothing lost, no reset."""
        vm, qt = self.start(self.vfio(), devices=(
            BDF + ",type=dmatest,group=%d,mdev=on" % GROUP,))
        d = Dmatest(qt)
        d.start_ring(0x200000, 4096, period_us=100)
        self.assertEqual(d.consume(50), (0, 0))
        resets = d.rd(RESETS)
        self.transfer(vm, "mdev-new")
        vm.proc.terminate()
        self.assertEqual(vm.proc.wait(10), 0)
        self.assertEqual(d.consume(d.n + 200), (0, 0))
        self.assertEqual(d.rd(STALLS), 0)
        self.assertEqual(d.rd(FAULTS), 0)
        self.assertEqual(d.rd(RESETS), resets)

    def test_vaddr_refused(self):
        """RAM without a file descriptor (shared anonymous) is mapped by
        vaddr (IOMMU_IOAS_MAP), which IOAS_CHANGE_PROCESS cannot move:
        live update is refused up front, naming the RAM, and the guest
        runs on. (The core's RAM check names it before vfio-pci's own
        check of its IOAS, which stands behind it.)"""
        self.hs = Hostsim(self, [BDF + ",type=dmatest,group=%d" % GROUP])
        vm = Vm(BASE + ["-object", "memory-backend-ram,id=ram0,size=64M,"
                        "share=on", "-machine", "pc,memory-backend=ram0",
                        "-m", "64M", "-trace", "enable=vfio_dma_map"] +
                self.transport_args() + self.vfio())
        vm.extra_env = self.hs.env
        self.launch(vm)
        main, cpr, argv = self.update_args(vm)
        vm.qmp.cmd("migrate-set-parameters", mode="cpr-transfer")
        with self.assertRaises(baton_test.QmpError) as e:
            vm.qmp.cmd("migrate", channels=cpr_channels(main, cpr))
        self.assertIn("memory backend 'ram0' has no file descriptor to hand "
                      "over", str(e.exception))
        self.assertRegex(vm.stderr_text(), r"vfio_dma_map ioas \d+ iova 0x0 "
                         r".* by file 0 ro 0 -> 0")
        self.assertEqual(vm.qmp.cmd("query-status")["status"], "running")

    def test_errors(self):
        self.hs = Hostsim(self, [BDF + ",type=dmatest,group=%d" % GROUP])
        env = dict(os.environ, **self.hs.env)
        ram = memfd_ram_args("64M") + self.transport_args()
        # No such iommufd object: QEMU's wording for a link.
        status, err = run(ram + ["-device", "vfio-pci,host=%s,iommufd=nope"
                                 % BDF], env=env)
        self.assertEqual(status, 1, err)
        self.assertIn("Property 'vfio-pci.iommufd' can't find value 'nope'",
                      err)
        # A function without a device cdev (no vfio-dev/ in sysfs).
        d = os.path.join(tmpdir(), "0000:7c:00.0")
        os.makedirs(d, exist_ok=True)
        status, err = run(ram + ["-device", "vfio-pci,sysfsdev=%s%s"
                                 % (d, self.transport_prop())], env=env)
        self.assertEqual(status, 1, err)
        self.assertIn("vfio 0000:7c:00.0: couldn't open directory "
                      "%s/vfio-dev" % d, err)
        # fd= that is not a device cdev: the bind fails, named.
        status, err = run(ram + ["-device", "vfio-pci,fd=0%s"
                                 % self.transport_prop()], env=env)
        self.assertEqual(status, 1, err)
        self.assertRegex(err, r"vfio VFIO_FD0: error bind device fd=0 to "
                         r"iommufd=\d+: ")
        # The same function twice in one process.
        status, err = run(ram + self.vfio() + self.vfio(slot=5, id="vf1"),
                          env=env)
        self.assertEqual(status, 1, err)
        self.assertIn("vfio %s: device is already attached" % BDF, err)
        # A device another process has bound: the kernel's EBUSY, named.
        vm, qt = self.start(self.vfio())
        status, err = run(ram + self.vfio(),
                          env=dict(os.environ, **self.hs.env))
        self.assertEqual(status, 1, err)
        self.assertRegex(err, r"vfio %s: error bind device fd=\d+ to "
                         r"iommufd=\d+: Device or resource busy" % BDF)


if __name__ == "__main__":
    baton_test.main()
