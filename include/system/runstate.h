/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Run states (QEMU's RunState names), the stop/cont/reset/shutdown
 * requests, and the big lock. All functions here except the request_*()
 * ones must be called with the big lock held.
 */
#ifndef BATON_SYSTEM_RUNSTATE_H
#define BATON_SYSTEM_RUNSTATE_H

#include <stdbool.h>
#include <glib.h>

typedef enum RunState {
    RUN_STATE_PRELAUNCH,
    RUN_STATE_RUNNING,
    RUN_STATE_PAUSED,
    RUN_STATE_SHUTDOWN,
    RUN_STATE_GUEST_PANICKED,
    RUN_STATE_INMIGRATE,
    RUN_STATE_POSTMIGRATE,
    RUN_STATE_FINISH_MIGRATE,
    RUN_STATE_RESTORE_VM,
    RUN_STATE_INTERNAL_ERROR,
    RUN_STATE_DEBUG,
    RUN_STATE_SAVE_VM,
    RUN_STATE_SUSPENDED,
    RUN_STATE_WATCHDOG,
    RUN_STATE_IO_ERROR,
    RUN_STATE_COLO,
    RUN_STATE_MAX
} RunState;

/* QMP "shutdown" event reasons (ShutdownCause). */
typedef enum ShutdownCause {
    SHUTDOWN_CAUSE_NONE,
    SHUTDOWN_CAUSE_HOST_ERROR,
    SHUTDOWN_CAUSE_HOST_QMP_QUIT,
    SHUTDOWN_CAUSE_HOST_QMP_SYSTEM_RESET,
    SHUTDOWN_CAUSE_HOST_SIGNAL,
    SHUTDOWN_CAUSE_HOST_UI,
    SHUTDOWN_CAUSE_GUEST_SHUTDOWN,
    SHUTDOWN_CAUSE_GUEST_RESET,
    SHUTDOWN_CAUSE_GUEST_PANIC,
    SHUTDOWN_CAUSE_SUBSYSTEM_RESET,
} ShutdownCause;

const char *runstate_name(RunState state);
const char *shutdown_cause_name(ShutdownCause cause);
RunState runstate_get(void);
bool runstate_is_running(void);
void runstate_set(RunState state);

/*
 * Stop all vCPUs (waits until every vCPU thread is out of KVM_RUN), set
 * STATE and emit STOP. No-op apart from the state change if not running.
 */
void vm_stop(RunState state);
/* Resume vCPUs, set running and emit RESUME. */
void vm_start(void);
/*
 * VM change state handlers (QEMU's): CB(OPAQUE, RUNNING, STATE) runs,
 * big lock held, whenever the guest starts or stops. vm_start() calls
 * them once the run state is "running" and before the vCPUs resume;
 * vm_stop() once every vCPU is out of KVM_RUN and the new run state is
 * set. PREPARE (optional) runs for every handler before any CB does, so
 * that e.g. every VFIO device reaches RUNNING_P2P before any one stops
 * or runs. Starting, handlers run in ascending PRIORITY, stopping in
 * descending order (among equals: registration order, reversed).
 * Handlers cannot fail the transition: they report their own errors.
 */
typedef void (*VmChangeStateFn)(void *opaque, bool running, RunState state);
typedef struct VmChangeStateEntry VmChangeStateEntry;

/* Priorities: devices after the generic handlers when starting. */
#define VM_CHANGE_STATE_PRIO_DEFAULT 0
#define VM_CHANGE_STATE_PRIO_VFIO 100

VmChangeStateEntry *vm_add_change_state_handler(VmChangeStateFn cb,
                                                VmChangeStateFn prepare,
                                                void *opaque, int priority);
void vm_del_change_state_handler(VmChangeStateEntry *e);

/*
 * Requests: safe from any thread (vCPU threads, signal handlers via the
 * main loop); acted on by the main loop, which emits the QMP events.
 */
void request_shutdown(ShutdownCause cause);
void request_reset(ShutdownCause cause);
/* Exit the process with STATUS after cleanup (isa-debug-exit). */
void request_exit(int status);
/*
 * The exit status of an old process whose guest was lost in a live
 * update: the new process died after it confirmed the hand-over, before
 * it ran the guest (docs/system/cpr.md). isa-debug-exit's are odd.
 */
#define BATON_EXIT_GUEST_LOST 2
/* Reset devices, machine and vCPUs now; emits RESET unless CAUSE is none. */
void system_reset(ShutdownCause cause);
/*
 * Main loop only: act on pending requests; true when the process should
 * exit, with *STATUS its exit status.
 */
bool runstate_handle_requests(int *status);
/* -no-shutdown: guest/QMP shutdown stops the VM instead of exiting. */
void runstate_set_no_shutdown(bool on);

/* The big lock (protects machine and device state). */
void bql_lock(void);
/*
 * bql_lock() for the main loop after its poll: first let the threads
 * that are waiting for the lock now take it, so that a busy main loop
 * (monitor traffic) cannot starve vCPU exits or a migration's stop.
 */
void bql_lock_after_waiters(void);
/*
 * Big lock held: from now until bql_priority_end() the main loop does not
 * take the lock (other threads still do), even while this thread drops
 * it to wait for vCPUs. For a switchover's stop and save (the pause);
 * the holder must not wait for the main loop (a 100 ms guard would end
 * the deadlock, not the bug).
 */
void bql_priority_begin(void);
void bql_priority_end(void);
void bql_unlock(void);
bool bql_locked(void);

#endif
