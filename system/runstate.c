/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Run states and the transitions between them: stop, start, reset,
 * shutdown and exit requests, and the QMP events each one emits. Requests
 * may come from any thread; the main loop acts on them.
 */
#include "util/osdep.h"

#include "system/runstate.h"
#include "system/main-loop.h"
#include "system/cpus.h"
#include "hw/core/machine.h"
#include "hw/core/qdev.h"
#include "monitor/monitor.h"

#include "trace.h"

static RunState current_state = RUN_STATE_PRELAUNCH;
static bool no_shutdown;

static const char *const runstate_names[RUN_STATE_MAX] = {
    [RUN_STATE_PRELAUNCH] = "prelaunch",
    [RUN_STATE_RUNNING] = "running",
    [RUN_STATE_PAUSED] = "paused",
    [RUN_STATE_SHUTDOWN] = "shutdown",
    [RUN_STATE_GUEST_PANICKED] = "guest-panicked",
    [RUN_STATE_INMIGRATE] = "inmigrate",
    [RUN_STATE_POSTMIGRATE] = "postmigrate",
    [RUN_STATE_FINISH_MIGRATE] = "finish-migrate",
    [RUN_STATE_RESTORE_VM] = "restore-vm",
    [RUN_STATE_INTERNAL_ERROR] = "internal-error",
    [RUN_STATE_DEBUG] = "debug",
    [RUN_STATE_SAVE_VM] = "save-vm",
    [RUN_STATE_SUSPENDED] = "suspended",
    [RUN_STATE_WATCHDOG] = "watchdog",
    [RUN_STATE_IO_ERROR] = "io-error",
    [RUN_STATE_COLO] = "colo",
};

static const char *const shutdown_cause_names[] = {
    [SHUTDOWN_CAUSE_NONE] = "none",
    [SHUTDOWN_CAUSE_HOST_ERROR] = "host-error",
    [SHUTDOWN_CAUSE_HOST_QMP_QUIT] = "host-qmp-quit",
    [SHUTDOWN_CAUSE_HOST_QMP_SYSTEM_RESET] = "host-qmp-system-reset",
    [SHUTDOWN_CAUSE_HOST_SIGNAL] = "host-signal",
    [SHUTDOWN_CAUSE_HOST_UI] = "host-ui",
    [SHUTDOWN_CAUSE_GUEST_SHUTDOWN] = "guest-shutdown",
    [SHUTDOWN_CAUSE_GUEST_RESET] = "guest-reset",
    [SHUTDOWN_CAUSE_GUEST_PANIC] = "guest-panic",
    [SHUTDOWN_CAUSE_SUBSYSTEM_RESET] = "subsystem-reset",
};

const char *runstate_name(RunState state)
{
    return state < RUN_STATE_MAX ? runstate_names[state] : "unknown";
}

const char *shutdown_cause_name(ShutdownCause cause)
{
    return cause < G_N_ELEMENTS(shutdown_cause_names)
               ? shutdown_cause_names[cause] : "none";
}

RunState runstate_get(void)
{
    return current_state;
}

bool runstate_is_running(void)
{
    return current_state == RUN_STATE_RUNNING;
}

void runstate_set(RunState state)
{
    g_assert(state < RUN_STATE_MAX);
    trace_runstate_set(runstate_name(current_state), runstate_name(state));
    current_state = state;
}

void runstate_set_no_shutdown(bool on)
{
    no_shutdown = on;
}

struct VmChangeStateEntry {
    VmChangeStateFn cb, prepare;
    void *opaque;
    int priority;
};

/* VmChangeStateEntry *, ascending priority, registration order among equals. */
static GPtrArray *state_handlers;

VmChangeStateEntry *vm_add_change_state_handler(VmChangeStateFn cb,
                                                VmChangeStateFn prepare,
                                                void *opaque, int priority)
{
    VmChangeStateEntry *e = g_new0(VmChangeStateEntry, 1);
    guint i;

    e->cb = cb;
    e->prepare = prepare;
    e->opaque = opaque;
    e->priority = priority;
    if (!state_handlers) {
        state_handlers = g_ptr_array_new_with_free_func(g_free);
    }
    for (i = 0; i < state_handlers->len; i++) {
        VmChangeStateEntry *o = g_ptr_array_index(state_handlers, i);

        if (o->priority > priority) {
            break;
        }
    }
    g_ptr_array_insert(state_handlers, (gint)i, e);
    return e;
}

void vm_del_change_state_handler(VmChangeStateEntry *e)
{
    if (e && state_handlers) {
        g_ptr_array_remove(state_handlers, e);
    }
}

/* Every PREPARE, then every CB, in the order the header documents. */
static void vm_state_notify(bool running, RunState state)
{
    guint n = state_handlers ? state_handlers->len : 0;

    trace_vm_state_notify(running, runstate_name(state));
    for (int pass = 0; pass < 2; pass++) {
        for (guint k = 0; k < n; k++) {
            VmChangeStateEntry *e =
                g_ptr_array_index(state_handlers, running ? k : n - 1 - k);
            VmChangeStateFn fn = pass ? e->cb : e->prepare;

            if (fn) {
                fn(e->opaque, running, state);
            }
        }
    }
}

void vm_stop(RunState state)
{
    const AccelOps *accel = accel_current();

    if (!runstate_is_running()) {
        runstate_set(state);
        return;
    }
    if (accel && accel->pause_all) {
        accel->pause_all();
    }
    runstate_set(state);
    vm_state_notify(false, state);
    qmp_event_send("STOP", NULL);
}

void vm_start(void)
{
    const AccelOps *accel = accel_current();
    gint64 now;

    if (runstate_is_running()) {
        return;
    }
    runstate_set(RUN_STATE_RUNNING);
    /* Devices run again before any vCPU can reach them (QEMU's order). */
    vm_state_notify(true, RUN_STATE_RUNNING);
    now = g_get_real_time();
    if (accel && accel->resume_all) {
        accel->resume_all();
    }
    /*
     * Built after the vCPUs are woken, stamped with the moment they were:
     * in a live update this is the window in which the new process's
     * death loses the guest, and the first event a fresh process builds
     * costs some 15 us (type set-up) that need not be in it.
     */
    qmp_event_send_at("RESUME", NULL, now);
}

/* ---- requests, acted on by the main loop ---- */

static gint pending_shutdown;   /* ShutdownCause + 1, 0 = none */
static gint pending_reset;
static gint pending_exit;       /* status + 1 */

static bool shutdown_cause_is_guest(ShutdownCause cause)
{
    return cause >= SHUTDOWN_CAUSE_GUEST_SHUTDOWN &&
           cause <= SHUTDOWN_CAUSE_GUEST_PANIC;
}

static JsonNode *cause_event_data(ShutdownCause cause)
{
    JsonBuilder *b = json_builder_new();
    JsonNode *node;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "guest");
    json_builder_add_boolean_value(b, shutdown_cause_is_guest(cause));
    json_builder_set_member_name(b, "reason");
    json_builder_add_string_value(b, shutdown_cause_name(cause));
    json_builder_end_object(b);
    node = json_builder_get_root(b);
    g_object_unref(b);
    return node;
}

void request_shutdown(ShutdownCause cause)
{
    g_atomic_int_set(&pending_shutdown, cause + 1);
    main_loop_wakeup();
}

void request_reset(ShutdownCause cause)
{
    g_atomic_int_set(&pending_reset, cause + 1);
    main_loop_wakeup();
}

void request_exit(int status)
{
    g_atomic_int_set(&pending_exit, status + 1);
    main_loop_wakeup();
}

/* Reset the machine: devices, then the machine (boot loading), then vCPUs. */
void system_reset(ShutdownCause cause)
{
    const AccelOps *accel = accel_current();
    MachineState *ms = current_machine_get();
    bool running = runstate_is_running();

    if (running && accel && accel->pause_all) {
        accel->pause_all();
    }
    qdev_reset_all();
    if (ms && MACHINE_GET_CLASS(ms)->reset) {
        MACHINE_GET_CLASS(ms)->reset(ms);
    }
    if (accel && accel->reset_all && ms) {
        accel->reset_all(ms);
    }
    if (cause != SHUTDOWN_CAUSE_NONE) {
        qmp_event_send("RESET", cause_event_data(cause));
    }
    if (running && accel && accel->resume_all) {
        accel->resume_all();
    }
}

/*
 * Act on pending requests. Returns true when the main loop should end, with
 * *STATUS the process exit status.
 */
bool runstate_handle_requests(int *status)
{
    int v;

    if ((v = g_atomic_int_and(&pending_exit, 0))) {
        *status = v - 1;
        return true;
    }
    if ((v = g_atomic_int_and(&pending_reset, 0))) {
        system_reset(v - 1);
    }
    if ((v = g_atomic_int_and(&pending_shutdown, 0))) {
        ShutdownCause cause = v - 1;

        qmp_event_send("SHUTDOWN", cause_event_data(cause));
        if (no_shutdown && cause != SHUTDOWN_CAUSE_HOST_QMP_QUIT &&
            cause != SHUTDOWN_CAUSE_HOST_SIGNAL) {
            vm_stop(RUN_STATE_SHUTDOWN);
            return false;
        }
        *status = 0;
        return true;
    }
    return false;
}

/* ---- the big lock ---- */

/*
 * A GMutex is not fair, and the main thread drops the big lock only
 * around its poll: when that poll returns at once (a monitor client
 * pipelining commands keeps its socket readable), the main thread takes
 * the lock back before a thread woken by the unlock gets to run. vCPU
 * threads finishing an exit and the migration thread stopping the guest
 * then wait behind the whole monitor backlog (hundreds of ms measured).
 * So a thread that finds the lock taken counts itself in BQL_WAITERS, and
 * the main loop, before it retakes the lock, lets those waiting then have
 * it first (bql_lock_after_waiters()). Waiters among themselves are not
 * ordered; only the main loop yields.
 *
 * A thread that stops the guest for a switchover drops and retakes the
 * lock several times while the vCPUs park; between two of those the main
 * loop would run a whole iteration. bql_priority_begin() keeps the main
 * loop off the lock until bql_priority_end() (vCPU threads still take
 * it), so that the pause does not include monitor work at all.
 */
#define BQL_YIELD_MAX_US 100000

static GMutex big_lock;
static __thread bool big_lock_held;
static gint bql_waiters;            /* threads blocked in bql_lock() */
static GMutex bql_turn_lock;
static GCond bql_turn_cond;
static guint64 bql_turns;           /* contended acquisitions; TURN_LOCK */
static int bql_priority;            /* bql_priority_begin()s; TURN_LOCK */

void bql_lock(void)
{
    g_assert(!big_lock_held);
    if (!g_mutex_trylock(&big_lock)) {
        g_atomic_int_inc(&bql_waiters);
        g_mutex_lock(&big_lock);
        g_atomic_int_add(&bql_waiters, -1);
        g_mutex_lock(&bql_turn_lock);
        bql_turns++;
        g_cond_broadcast(&bql_turn_cond);
        g_mutex_unlock(&bql_turn_lock);
    }
    big_lock_held = true;
}

void bql_lock_after_waiters(void)
{
    int waiting = g_atomic_int_get(&bql_waiters);
    /*
     * A guard only (a priority holder that waits for the main loop would
     * be a bug): waiters count their turn as soon as they have it, and a
     * switchover's priority lasts its pause, which the migration thread
     * spends holding the lock anyway apart from the vCPUs' parking.
     */
    gint64 deadline = g_get_monotonic_time() + BQL_YIELD_MAX_US;
    guint64 start;

    g_mutex_lock(&bql_turn_lock);
    start = bql_turns;
    while (bql_priority > 0 ||
           (bql_turns - start < (guint64)MAX(waiting, 0) &&
            g_atomic_int_get(&bql_waiters) > 0)) {
        if (!g_cond_wait_until(&bql_turn_cond, &bql_turn_lock, deadline)) {
            break;
        }
    }
    g_mutex_unlock(&bql_turn_lock);
    bql_lock();
}

void bql_priority_begin(void)
{
    g_assert(big_lock_held);
    g_mutex_lock(&bql_turn_lock);
    bql_priority++;
    g_mutex_unlock(&bql_turn_lock);
}

void bql_priority_end(void)
{
    g_mutex_lock(&bql_turn_lock);
    g_assert(bql_priority > 0);
    bql_priority--;
    g_cond_broadcast(&bql_turn_cond);
    g_mutex_unlock(&bql_turn_lock);
}

void bql_unlock(void)
{
    g_assert(big_lock_held);
    big_lock_held = false;
    g_mutex_unlock(&big_lock);
}

bool bql_locked(void)
{
    return big_lock_held;
}
