# SPDX-License-Identifier: GPL-2.0-or-later
"""The precopy pause by phase: after a live migration of the dirty guest
over unix: (same host, so both sides' clocks compare), the source's
query-migrate has every phase of x-pause-phases, the phases add up to the
total, `downtime` is the total rounded to milliseconds, HMP's `info
migrate` prints them, and the destination reports its own `resume`.
Asserts on the shape and arithmetic of the figures, never on their
size."""

import unittest

import baton_test
from baton_test import (Vm, dirty_check_serial, dirty_image, require_kvm,
                        wait_migration, wait_runstate)

ARGS = ["-nodefaults", "-display", "none", "-machine", "pc", "-accel", "kvm",
        "-smp", "1", "-m", "256M"]
SOURCE_PHASES = ("stop", "sync", "ram", "devices", "save", "load",
                 "handshake", "resume", "total")


class PausePhases(baton_test.VmTestCase):

    def test_precopy_phases(self):
        image = dirty_image()
        args = ARGS + ["-drive", "file=%s,format=raw" % image]
        src = self.launch(Vm(args + ["-S"], serial_socket=True,
                             hmp_socket=True, name="src"))
        src.qmp.cmd("cont")
        dirty_check_serial(src.serial.read_until(b"seq 3\n"))
        path = src.path("mig.sock")
        dst = self.launch(Vm(args + ["-incoming", "unix:" + path],
                             serial_socket=True, name="dst"))
        baton_test.wait_for(lambda: baton_test.unix_listening(path),
                            what="incoming socket")
        src.qmp.cmd("migrate", uri="unix:" + path)
        info = wait_migration(src.qmp, timeout=60)
        wait_runstate(dst.qmp, "running")

        phases = info["x-pause-phases"]
        for name in SOURCE_PHASES:
            self.assertIn(name, phases, info)
            self.assertGreaterEqual(phases[name], 0, name)
        # Consecutive spans between the same timestamps.
        self.assertEqual(phases["save"], phases["sync"] + phases["ram"] +
                         phases["devices"], phases)
        self.assertEqual(phases["total"], phases["stop"] + phases["save"] +
                         phases["load"] + phases["handshake"] +
                         phases["resume"], phases)
        self.assertEqual(info["downtime"], (phases["total"] + 500) // 1000,
                         info)
        text = src.hmp.cmd("info migrate")
        self.assertIn("pause phases (us): stop %d sync %d"
                      % (phases["stop"], phases["sync"]), text)

        dst_info = dst.qmp.cmd("query-migrate")
        self.assertEqual(dst_info["status"], "completed", dst_info)
        self.assertIn("resume", dst_info["x-pause-phases"], dst_info)


if __name__ == "__main__":
    require_kvm()
    baton_test.main()
