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
#include "monitor/monitor.h"

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
    g_debug("runstate %s -> %s", runstate_name(current_state),
            runstate_name(state));
    current_state = state;
}

void runstate_set_no_shutdown(bool on)
{
    no_shutdown = on;
}

typedef struct VmStartNotifier {
    VmStartNotifyFn fn;
    void *opaque;
} VmStartNotifier;

static GArray *start_notifiers; /* VmStartNotifier, in registration order */

void vm_add_start_notifier(VmStartNotifyFn fn, void *opaque)
{
    VmStartNotifier n = { fn, opaque };

    if (!start_notifiers) {
        start_notifiers = g_array_new(false, false, sizeof(n));
    }
    g_array_append_val(start_notifiers, n);
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
    qmp_event_send("STOP", NULL);
}

void vm_start(void)
{
    const AccelOps *accel = accel_current();

    if (runstate_is_running()) {
        return;
    }
    runstate_set(RUN_STATE_RUNNING);
    qmp_event_send("RESUME", NULL);
    for (guint i = 0; start_notifiers && i < start_notifiers->len; i++) {
        VmStartNotifier *n = &g_array_index(start_notifiers,
                                            VmStartNotifier, i);

        n->fn(n->opaque);
    }
    if (accel && accel->resume_all) {
        accel->resume_all();
    }
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
    object_reset_all_devices();
    if (ms) {
        object_reset(&ms->parent_obj);
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

static GMutex big_lock;
static __thread bool big_lock_held;

void bql_lock(void)
{
    g_assert(!big_lock_held);
    g_mutex_lock(&big_lock);
    big_lock_held = true;
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
