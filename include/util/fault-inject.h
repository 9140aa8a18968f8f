/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fault injection for tests: BATON_FAULT_INJECT=point[,point...] makes the
 * process stop itself (SIGSTOP) when it reaches one of the named points,
 * so a test can kill it in a window too narrow to hit by timing (e.g.
 * between READY and GO of a live update). Unset, nothing changes.
 * Points, in the order a cpr-transfer target meets them:
 * "incoming-cpr-state" (cpr state read; no device yet, the main channel
 * not listening), "incoming-accepted" (main channel accepted, nothing
 * read from it), "incoming-loaded" (state loaded, READY not yet sent),
 * "incoming-ready" (READY sent, GO not yet received) and
 * "incoming-resuming" (RESUMING sent, the guest not yet started: the big
 * lock is held there, so the whole process is frozen in that window).
 */
#ifndef BATON_UTIL_FAULT_INJECT_H
#define BATON_UTIL_FAULT_INJECT_H

#include <stdbool.h>

void fault_inject_point(const char *name);

/*
 * Failure points: true when NAME is listed in BATON_FAULT_INJECT (the
 * caller then fails as if what it does had failed), with a line on
 * stderr. Unset, false at the cost of one test. Points: "cpu-load-N"
 * (loading vCPU N's state into KVM fails, accel/kvm/kvm-migration.c),
 * "cpr-notify-prepare" and "cpr-notify-handover" (the old process's
 * live update fails after that event's notifiers, migration/cpr.c),
 * "cpr-notify-commit" (the new process refuses the guest after GO, after
 * that event's notifiers),
 * "stream-vmsplice" (a socket stream's vmsplice() of referenced memory
 * fails as for memory it cannot take; the stream copies instead,
 * migration/stream.c), "vfio-save-setup" and "vfio-stop-copy" (a VFIO
 * device's live section fails at setup / in STOP_COPY, hw/vfio/migration.c).
 * "NAME:once" fails only the first time NAME is reached (a retry then
 * succeeds in the same process).
 */
bool fault_inject_fail(const char *name);

/*
 * Hold points: "NAME:hold" listed blocks the calling thread only (the
 * rest of the process goes on) until the FIFO named by BATON_FAULT_HOLD,
 * opened for writing by the test, is closed again; a line on stderr says
 * when it holds and when it is released. Unset, one test. Points:
 * "kvm-vm-close" (the KVM VM fd's last close, on its own thread, once
 * the VM is released: after a cpr-transfer, or at exit, which then waits
 * for the release; accel/kvm/kvm-all.c).
 */
void fault_inject_hold(const char *name);

#endif
