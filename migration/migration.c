/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The migration state machine (QEMU's MigrationStatus): the source's
 * "live_migration" thread (connect, setup, iterate under max-bandwidth,
 * switch over once the rest fits downtime-limit, complete or fail and
 * resume the guest), the destination's incoming thread, the "globalstate"
 * section that carries the source's run state, the READY/GO switchover
 * handshake, the CPR modes' flows, and query-migrate. Channel parsing is
 * channel.c, the stream format savevm.c, the CPR pieces cpr*.c.
 */
#include "util/osdep.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <glib-unix.h>

#include "util/fault-inject.h"
#include "hw/core/qdev.h"
#include "migration/cpr.h"
#include "migration/migration.h"
#include "migration/register.h"
#include "migration/stream.h"
#include "monitor/monitor.h"
#include "system/cpus.h"
#include "system/netdev.h"
#include "system/runstate.h"
#include "util/error-report.h"

#include "channel.h"
#include "cpr-internal.h"
#include "migration-internal.h"
#include "options.h"
#include "ram.h"
#include "savevm.h"
#include "trace.h"

/* QEMU's MigrationStatus, in its order. */
typedef enum MigStatus {
    MIG_STATUS_NONE,
    MIG_STATUS_SETUP,
    MIG_STATUS_CANCELLING,
    MIG_STATUS_CANCELLED,
    MIG_STATUS_ACTIVE,
    MIG_STATUS_POSTCOPY_ACTIVE,
    MIG_STATUS_POSTCOPY_PAUSED,
    MIG_STATUS_POSTCOPY_RECOVER_SETUP,
    MIG_STATUS_POSTCOPY_RECOVER,
    MIG_STATUS_COMPLETED,
    MIG_STATUS_FAILED,
    MIG_STATUS_COLO,
    MIG_STATUS_PRE_SWITCHOVER,
    MIG_STATUS_DEVICE,
    MIG_STATUS_WAIT_UNPLUG,
} MigStatus;

static const char *const status_names[] = {
    "none", "setup", "cancelling", "cancelled", "active", "postcopy-active",
    "postcopy-paused", "postcopy-recover-setup", "postcopy-recover",
    "completed", "failed", "colo", "pre-switchover", "device", "wait-unplug",
};

/* Bandwidth is re-estimated over windows of at least this long (ms). */
#define BANDWIDTH_WINDOW_MS 100

/*
 * cpr-transfer: how long the old process retries the main channel while
 * the new one creates its devices, and how long any source waits for the
 * destination's READY once everything is sent.
 */
#define CPR_MAIN_CONNECT_TIMEOUT_MS 30000
#define SWITCHOVER_TIMEOUT_MS 30000
/* RESUMED comes right after the destination's vm_start(); only figures. */
#define RESUMED_TIMEOUT_MS 1000

/*
 * The outgoing migration. STATE is read and changed atomically from both
 * threads. LOCK guards STREAM, ERROR and the figures query-migrate shows;
 * it is never held while taking the big lock.
 */
typedef struct MigrationState {
    int state;
    GMutex lock;
    GThread *thread;
    MigChannel *channel;
    MigConn conn;           /* opened destination, before the stream */
    MigStream *stream;      /* while the thread writes it */
    int cancel_fd;          /* eventfd: aborts a pending connect */
    SavevmOptions opts;
    GError *error;

    int64_t start_time;     /* ms, monotonic */
    int64_t setup_time;
    int64_t total_time;
    int64_t downtime_start;
    int64_t downtime;
    int64_t expected_downtime;
    double mbps;
    double pages_per_second;
    uint64_t transferred;   /* stream bytes so far */

    /* Migration thread only: the current bandwidth window. */
    int64_t window_start;
    uint64_t window_bytes;
    uint64_t window_pages;
    double bw_per_ms;       /* estimate, bytes/ms; 0 before the first */
    uint64_t threshold;     /* bytes that fit in downtime-limit */

    /* switchover-ack: acknowledgements awaited / received (thread only). */
    unsigned int acks_needed, acks;

    RunState vm_old_state;  /* before the switchover stopped the guest */
    bool vm_stopped;

    /* Live update and the switchover handshake. */
    int mode;               /* MigMode: migrate_mode() when migrate began */
    MigChannel *cpr_channel;
    int cpr_fd;             /* cpr-transfer: the life line to the new one */
    bool cpr_sent;          /* CPR state sent: ROLLBACK owed on failure */
    bool handed_over;       /* HANDOVER notified: ROLLBACK owed on failure */
    bool cpr_prepared;      /* PREPARE notified: ROLLBACK owed on failure */
    bool handshake;         /* socket main channel: READY/GO */
    bool committed;         /* GO sent (under LOCK): never resume again */
    char **exec_argv;       /* cpr-exec-command */
    CprTimes times;         /* this switchover, monotonic µs */
    int64_t remote_loaded;  /* READY: when the destination finished */
    int64_t go_time;
    PauseTimes pause;       /* the rest of the pause's times, RESUMED's */
    PausePhases phases;     /* under LOCK */
} MigrationState;

/*
 * The incoming migration; main thread except STATE, the stream and the
 * switchover times, which the thread writes before it is joined.
 */
typedef struct IncomingState {
    int state;
    GMutex lock;            /* STREAM against shutdown */
    bool requested;         /* -incoming given */
    bool started;           /* listening / reading began (once) */
    bool autostart;
    bool exit_on_error;
    MigChannel *channel;    /* what we listen on / read from */
    MigListener *listener;
    guint accept_watch;
    JsonNode *socket_address;
    GThread *thread;
    MigStream *stream;
    GError *error;

    /* Monotonic µs of this side's switchover; see PausePhases. */
    int64_t cpr_loaded;     /* CPR state read at start-up */
    int64_t load_start;
    int64_t loaded;
    int64_t resuming;       /* RESUMING sent: the guest is ours */
    int64_t resumed;
    CprTimes source;        /* from GO (cpr-transfer) or the CPR state */
    bool exiting; /* migration_shutdown() (big lock): no resume */
    PausePhases phases;
    int64_t downtime;       /* ms; -1: not known */
} IncomingState;

static MigrationState mig_state = { .cancel_fd = -1, .cpr_fd = -1 };
static IncomingState incoming = {
    .autostart = true,
    .downtime = -1,
    .phases = PAUSE_PHASES_NONE,
};

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* CLOCK_MONOTONIC µs: comparable between processes on one host. */
static int64_t now_us(void)
{
    return g_get_monotonic_time();
}

static bool mode_is_preserving(MigMode mode)
{
    return MIG_MODE_BIT(mode) & CPR_MODES_PRESERVING;
}

static MigStatus status_get(int *state)
{
    return g_atomic_int_get(state);
}

static void status_event(MigStatus st)
{
    g_autoptr(JsonBuilder) b = NULL;

    if (!migrate_events()) {
        return;
    }
    b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, status_names[st]);
    json_builder_end_object(b);
    qmp_event_send("MIGRATION", json_builder_get_root(b));
}

/* FROM -> TO if STATE is still FROM; the MIGRATION event on success. */
static bool status_set(int *state, MigStatus from, MigStatus to)
{
    if (!g_atomic_int_compare_and_exchange(state, from, to)) {
        return false;
    }
    trace_migrate_set_state(status_names[to]);
    status_event(to);
    return true;
}

static bool status_is_running(MigStatus st)
{
    switch (st) {
    case MIG_STATUS_NONE:
    case MIG_STATUS_CANCELLED:
    case MIG_STATUS_COMPLETED:
    case MIG_STATUS_FAILED:
        return false;
    default:
        return true;
    }
}

bool migration_is_active(void)
{
    return status_is_running(status_get(&mig_state.state));
}

MigMode migration_mode(void)
{
    MigrationState *s = &mig_state;

    return migration_is_active() ? (MigMode)g_atomic_int_get(&s->mode)
                                 : migrate_mode();
}

/* ---- query-migrate members of other subsystems ---- */

typedef struct MigrationInfo {
    const char *member;
    MigrationInfoFn fn;
    void (*begin)(void);
} MigrationInfo;

static GArray *mig_infos; /* MigrationInfo, in registration order */

void migration_add_info(const char *member, MigrationInfoFn fn,
                        void (*begin)(void))
{
    MigrationInfo i = {member, fn, begin};

    if (!mig_infos) {
        mig_infos = g_array_new(false, false, sizeof(i));
    }
    g_array_append_val(mig_infos, i);
}

static void migration_infos_begin(void)
{
    for (guint k = 0; mig_infos && k < mig_infos->len; k++) {
        MigrationInfo *i = &g_array_index(mig_infos, MigrationInfo, k);

        if (i->begin) {
            i->begin();
        }
    }
}

static void add_infos(JsonBuilder *b)
{
    for (guint k = 0; mig_infos && k < mig_infos->len; k++) {
        MigrationInfo *i = &g_array_index(mig_infos, MigrationInfo, k);
        JsonNode *v = i->fn();

        if (v) {
            json_builder_set_member_name(b, i->member);
            json_builder_add_value(b, v);
        }
    }
}

/* ---- source: the migration thread ---- */

static void migration_set_error(MigrationState *s, const GError *err)
{
    g_mutex_lock(&s->lock);
    if (!s->error) {
        s->error = g_error_copy(err);
    }
    g_mutex_unlock(&s->lock);
}

static uint64_t ram_pages_sent(void)
{
    RamMigrationStats st;

    ram_migration_get_stats(&st);
    return st.normal + st.duplicate;
}

static void emit_pass_event(void)
{
    g_autoptr(JsonBuilder) b = NULL;
    RamMigrationStats st;

    ram_migration_get_stats(&st);
    if (st.dirty_sync_count) {
        trace_migration_pass(st.dirty_sync_count, st.remaining);
    }
    if (!migrate_events() || !st.dirty_sync_count) {
        return;
    }
    b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "pass");
    json_builder_add_int_value(b, st.dirty_sync_count);
    json_builder_end_object(b);
    qmp_event_send("MIGRATION_PASS", json_builder_get_root(b));
}

static void window_reset(MigrationState *s)
{
    s->window_start = now_ms();
    s->window_bytes = s->transferred;
    s->window_pages = ram_pages_sent();
}

/*
 * Re-estimate the bandwidth once a window is long enough (or, with FORCE,
 * whenever time has passed and there is no estimate yet), and with it the
 * amount of data that fits in downtime-limit (QEMU's threshold_size).
 */
static void migration_update_counters(MigrationState *s, bool force)
{
    int64_t spent = now_ms() - s->window_start;
    uint64_t bytes = s->transferred - s->window_bytes;
    uint64_t pages = ram_pages_sent() - s->window_pages;
    uint64_t switchover_bw = migrate_avail_switchover_bandwidth();
    double bw;

    if (spent < BANDWIDTH_WINDOW_MS && !(force && spent > 0 && !s->bw_per_ms)) {
        return;
    }
    bw = (double)bytes / spent;
    g_mutex_lock(&s->lock);
    s->bw_per_ms = switchover_bw ? switchover_bw / 1000.0 : bw;
    s->threshold = s->bw_per_ms * migrate_downtime_limit();
    s->mbps = bytes * 8.0 / (spent / 1000.0) / 1e6;
    s->pages_per_second = pages / (spent / 1000.0);
    g_mutex_unlock(&s->lock);
    window_reset(s);
}

static void migration_note_bytes(MigrationState *s, MigStream *f)
{
    g_mutex_lock(&s->lock);
    s->transferred = mig_stream_bytes(f);
    g_mutex_unlock(&s->lock);
}

/*
 * switchover-ack: take the acknowledgements that arrived, waiting up to
 * WAIT_MS for one; true when all are in.
 */
static bool migration_acks_in(MigrationState *s, MigStream *f, int wait_ms,
                              GError **errp)
{
    unsigned int before = s->acks;

    if (s->acks >= s->acks_needed) {
        return true;
    }
    if (!switchover_poll_acks(mig_stream_fd(f), s->cancel_fd, wait_ms, &s->acks,
                              errp)) {
        return false;
    }
    if (s->acks != before) {
        trace_migration_switchover_ack(s->acks, s->acks_needed);
    }
    return true;
}

/*
 * Send passes until what remains after a dirty sync fits in the downtime
 * limit at the estimated bandwidth, and (switchover-ack) every section
 * that asked for it was acknowledged: until then the passes go on,
 * waiting up to 100 ms for an acknowledgement between two whose data
 * fits. Returns false on error or cancel.
 */
static bool migration_iterate(MigrationState *s, MigStream *f, GError **errp)
{
    uint64_t rate = migrate_max_bandwidth();
    int64_t pass_start = now_ms();
    int extra = 0;

    mig_stream_set_rate_limit(f, rate);
    window_reset(s);
    for (;;) {
        uint64_t pending;
        bool fits;
        int r;

        if (status_get(&s->state) != MIG_STATUS_ACTIVE) {
            return false;
        }
        /* max-bandwidth may change while we run (QEMU applies it live). */
        if (migrate_max_bandwidth() != rate) {
            rate = migrate_max_bandwidth();
            mig_stream_set_rate_limit(f, rate);
        }
        r = savevm_iterate(f, errp);
        migration_note_bytes(s, f);
        if (r < 0) {
            return false;
        }
        migration_update_counters(s, false);
        if (r == 0) {
            continue;
        }
        bql_lock();
        pending = savevm_pending(true);
        bql_unlock();
        emit_pass_event();
        migration_update_counters(s, true);
        fits = (pending == 0 || pending <= s->threshold) &&
               !switchover_extra_pass_pays(pending, s->bw_per_ms,
                                           now_ms() - pass_start, extra++);
        if (!migration_acks_in(s, f, fits ? 100 : 0, errp)) {
            return false;
        }
        if (fits && s->acks >= s->acks_needed) {
            return true;
        }
        pass_start = now_ms();
        if (s->bw_per_ms > 0) {
            g_mutex_lock(&s->lock);
            s->expected_downtime = pending / s->bw_per_ms;
            g_mutex_unlock(&s->lock);
        }
    }
}

/*
 * Stop the guest and send everything left. In the CPR modes the fd owners
 * stop their I/O right after the stop (HANDOVER), before the device state
 * is saved: input that arrives from then on stays queued in the kernel for
 * whichever process runs the guest next, instead of landing in a device
 * whose state is already on its way. A failure later sends ROLLBACK.
 */
static bool migration_complete(MigrationState *s, MigStream *f,
                               GError **errp)
{
    bool ok;

    bql_lock();
    /* Until the state is saved, monitor work waits (runstate.h). */
    bql_priority_begin();
    s->vm_old_state = runstate_get();
    global_state_store(s->vm_old_state);
    /* cpr-transfer: RESUMED too, to tell a lost guest (handshake v2). */
    global_state_set_switchover(!s->handshake ? 0 :
                                s->mode == MIG_MODE_CPR_TRANSFER ? 2 : 1);
    g_mutex_lock(&s->lock);
    s->downtime_start = now_ms();
    g_mutex_unlock(&s->lock);
    s->times.stop_start = now_us();
    vm_stop(RUN_STATE_FINISH_MIGRATE);
    s->times.stopped = now_us();
    s->vm_stopped = true;
    /*
     * Descriptors that changed since the CPR state was sent (a client that
     * connected meanwhile) go with the device state ("cpr-late" section).
     */
    if (mode_is_preserving(s->mode)) {
        /* Whatever the outcome, every notifier hears ROLLBACK on failure. */
        s->handed_over = true;
        if (!cpr_notify(CPR_EVENT_HANDOVER, errp)) {
            bql_priority_end();
            bql_unlock();
            return false;
        }
    }
    mig_stream_set_rate_limit(f, 0);
    ok = savevm_complete(f, errp);
    s->times.saved = now_us();
    savevm_complete_times(&s->pause.synced, &s->pause.live_sent);
    bql_priority_end();
    bql_unlock();
    migration_note_bytes(s, f);
    return ok;
}

/*
 * Everything is sent on a socket channel: wait for the destination's
 * READY (or FAILED), then send GO. Once GO is out the guest belongs to
 * the destination, whatever happens next: migrate_cancel no longer acts.
 */
static bool migration_switchover(MigrationState *s, MigStream *f,
                                 GError **errp)
{
    int fd = mig_stream_fd(f);

    if (!switchover_wait_ready(fd, s->cancel_fd, s->cpr_fd,
                               SWITCHOVER_TIMEOUT_MS, &s->remote_loaded,
                               errp)) {
        return false;
    }
    g_mutex_lock(&s->lock);
    if (status_get(&s->state) != MIG_STATUS_ACTIVE) {
        g_mutex_unlock(&s->lock);
        return false; /* cancelled: no error of its own */
    }
    s->committed = true;
    g_mutex_unlock(&s->lock);
    s->go_time = now_us();
    if (!switchover_send_go(fd, s->times.stop_start, s->times.stopped,
                            s->times.saved, s->go_time, errp) ||
        !switchover_wait_resuming(fd, errp)) {
        /*
         * GO did not go out whole, or the destination died before it
         * committed to run the guest: take the guest back.
         */
        g_mutex_lock(&s->lock);
        s->committed = false;
        g_mutex_unlock(&s->lock);
        return false;
    }
    s->pause.resuming = now_us();
    s->pause.same_clock = s->mode == MIG_MODE_CPR_TRANSFER;
    if (s->mode == MIG_MODE_CPR_TRANSFER) {
        /*
         * Committed: a failure now leaves the guest nowhere
         * (finish_locked). No time limit: a new process that lives may
         * still run the guest; only its death or our exit ends the wait.
         */
        return switchover_wait_resumed(fd, s->cancel_fd, -1, &s->pause,
                                       errp) >= 0;
    }
    /* Only for the figures: an older destination closes instead. */
    switchover_wait_resumed(fd, -1, RESUMED_TIMEOUT_MS, &s->pause, NULL);
    return true;
}

static void source_phases(MigrationState *s, PausePhases *p)
{
    PauseTimes t = s->pause;

    t.stop_start = s->times.stop_start;
    t.stopped = s->times.stopped;
    t.saved = s->times.saved;
    t.go = s->committed ? s->go_time : 0;
    if (t.same_clock && !t.loaded) {
        t.loaded = s->remote_loaded;
    }
    pause_phases_source(&t, p);
}

/* GO is out: whatever a late cancel did, this migration completed. */
static void migration_force_completed(MigrationState *s)
{
    for (;;) {
        MigStatus st = status_get(&s->state);

        if (st == MIG_STATUS_COMPLETED ||
            status_set(&s->state, st, MIG_STATUS_COMPLETED)) {
            return;
        }
    }
}

/* migration_guest_released(): set once, never cleared. */
static gint guest_released;

/*
 * cpr-transfer, after GO: the new process owns the guest. Release the
 * KVM VM and the vCPU threads (the guest RAM stays mapped until exit; it
 * is the new process's now too). Without waiting for the kernel to tear
 * the VM down: this thread holds the big lock, and the monitor, which
 * still answers for this process (postmigrate), would wait as long.
 */
static void migration_release_guest(MigrationState *s)
{
    const AccelOps *accel = accel_current();

    if (s->mode != MIG_MODE_CPR_TRANSFER) {
        return;
    }
    /* First: the cleanup may let the monitor in (a "cont" must fail). */
    g_atomic_int_set(&guest_released, 1);
    if (accel && accel->cleanup) {
        accel->cleanup(false);
    }
}

bool migration_guest_released(void)
{
    return g_atomic_int_get(&guest_released);
}

/*
 * cpr-transfer: the new process confirmed GO (RESUMING), then died before
 * it said RESUMED. This process may not run the guest again (it may have
 * run there), so the guest is lost: say so, and exit so that what this
 * process still holds (chardev connections, listening sockets) closes and
 * clients see EOF instead of a process that will never serve them.
 */
static void migration_guest_lost_locked(MigrationState *s, GError *err)
{
    migration_set_error(s, err);
    status_set(&s->state, MIG_STATUS_ACTIVE, MIG_STATUS_FAILED);
    migration_release_guest(s);
    error_report("%s; exiting with status %d", err->message,
                 BATON_EXIT_GUEST_LOST);
    request_exit(BATON_EXIT_GUEST_LOST);
}

/*
 * cpr-exec, state written and closed, big lock held: exec the new image.
 * Returns only if the exec failed, with the error.
 */
static void migration_exec_locked(MigrationState *s, GError **errp)
{
    s->times.exec = now_us();
    cpr_exec_run(s->exec_argv, &s->times, errp);
}

/*
 * The end of every migration, big lock held: success leaves the source in
 * "postmigrate" (or, for cpr-exec, replaced by the new image); anything
 * else puts the guest back as it was.
 */
static void migration_finish_locked(MigrationState *s, bool completed,
                                    GError *err)
{
    g_autoptr(GError) exec_err = NULL;
    int64_t now = now_ms();

    savevm_cleanup();
    global_state_clear();
    if (completed && s->mode == MIG_MODE_CPR_EXEC) {
        if (status_set(&s->state, MIG_STATUS_ACTIVE, MIG_STATUS_COMPLETED)) {
            migration_exec_locked(s, &exec_err);
            /*
             * Still here: the exec failed; undo "completed", with the
             * error in place first, so that "failed" always comes with
             * its error-desc.
             */
            if (exec_err) {
                migration_set_error(s, exec_err);
            }
            status_set(&s->state, MIG_STATUS_COMPLETED, MIG_STATUS_FAILED);
            err = exec_err;
        }
        completed = false;
    }
    if (completed) {
        int64_t transfer;

        g_mutex_lock(&s->lock);
        source_phases(s, &s->phases);
        /* Until the guest ran again, where the destination told us. */
        s->downtime = s->phases.total >= 0 ? (s->phases.total + 500) / 1000
                                           : now - s->downtime_start;
        s->total_time = now - s->start_time;
        transfer = s->total_time - s->setup_time;
        if (transfer > 0) {
            s->mbps = s->transferred * 8.0 / transfer / 1000.0;
        }
        g_mutex_unlock(&s->lock);
        runstate_set(RUN_STATE_POSTMIGRATE);
        if (s->committed) {
            migration_force_completed(s);
            migration_release_guest(s);
            return;
        }
        if (status_set(&s->state, MIG_STATUS_ACTIVE, MIG_STATUS_COMPLETED)) {
            return;
        }
        /* Cancelled at the last moment: fall through and resume. */
    } else if (s->committed) {
        migration_guest_lost_locked(s, err);
        return;
    }
    if (s->cpr_sent || s->cpr_prepared || s->handed_over) {
        /* The fd owners carry on (and resume their I/O) before the guest. */
        cpr_notify(CPR_EVENT_ROLLBACK, NULL);
        s->handed_over = false;
        s->cpr_prepared = false;
    }
    if (s->vm_stopped) {
        if (s->vm_old_state == RUN_STATE_RUNNING) {
            vm_start();
        } else {
            runstate_set(s->vm_old_state);
        }
    }
    g_mutex_lock(&s->lock);
    s->total_time = now - s->start_time;
    g_mutex_unlock(&s->lock);
    if (status_set(&s->state, MIG_STATUS_CANCELLING, MIG_STATUS_CANCELLED)) {
        return;
    }
    if (!err) {
        g_autoptr(GError) generic = NULL;

        g_set_error(&generic, BATON_ERROR, BATON_ERROR_GENERIC,
                    "migration failed");
        migration_set_error(s, generic);
    } else {
        migration_set_error(s, err);
    }
    for (;;) {
        MigStatus st = status_get(&s->state);

        if (!status_is_running(st) ||
            status_set(&s->state, st, MIG_STATUS_FAILED)) {
            break;
        }
    }
    g_mutex_lock(&s->lock);
    error_report("%s", s->error->message);
    g_mutex_unlock(&s->lock);
}

static gboolean migration_join_bh(gpointer opaque)
{
    MigrationState *s = &mig_state;

    /* Only the thread this was queued for; a new migration may run. */
    if (s->thread == opaque) {
        g_thread_join(s->thread);
        s->thread = NULL;
    }
    return G_SOURCE_REMOVE;
}

/*
 * Whether the destination will answer READY: a socket we can read from,
 * and a mode where a destination process runs while we wait.
 */
static bool migration_wants_handshake(MigrationState *s, int fd)
{
    struct stat st;

    if (s->mode == MIG_MODE_CPR_EXEC || s->mode == MIG_MODE_CPR_REBOOT) {
        return false;
    }
    return s->channel->addr.transport == MIG_TRANSPORT_SOCKET &&
           fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Open the stream on the connected endpoint and publish it for cancel. */
static MigStream *migration_open_stream(MigrationState *s, GError **errp)
{
    g_autofree char *name = mig_address_to_string(&s->channel->addr);
    g_autofree char *desc = g_strdup_printf("migration channel '%s'", name);
    MigStream *f;

    if (s->conn.fd < 0) {
        /*
         * cpr-transfer: the new process listens only once its devices
         * exist; keep trying while it is alive (its cpr connection open).
         */
        bool ok = s->mode == MIG_MODE_CPR_TRANSFER
            ? mig_socket_connect_retry(&s->channel->addr, s->cancel_fd,
                                       s->cpr_fd, CPR_MAIN_CONNECT_TIMEOUT_MS,
                                       &s->conn, errp)
            : mig_socket_connect(&s->channel->addr, s->cancel_fd, &s->conn,
                                 errp);

        if (!ok) {
            return NULL;
        }
    }
    s->handshake = migration_wants_handshake(s, s->conn.fd);
    if (s->mode == MIG_MODE_CPR_TRANSFER && !s->handshake) {
        error_setg(errp, "%s is not a socket: cpr-transfer needs the new "
                   "process to confirm the load on the main channel", desc);
        return NULL;
    }
    f = mig_stream_new_fd(s->conn.fd, true, s->conn.can_pass_fds, desc);
    s->conn.fd = -1;
    g_mutex_lock(&s->lock);
    s->stream = f;
    g_mutex_unlock(&s->lock);
    return f;
}

static gpointer migration_thread(gpointer opaque)
{
    MigrationState *s = opaque;
    g_autoptr(GError) err = NULL;
    MigStream *f = NULL;
    bool ok = true, sent = false;

    if (s->mode == MIG_MODE_CPR_TRANSFER) {
        /* Whatever got through, the owners hear ROLLBACK on failure. */
        s->cpr_sent = true;
        ok = cpr_transfer_send(s->cpr_channel, s->cancel_fd, &s->cpr_fd, &err);
    }
    if (ok) {
        f = migration_open_stream(s, &err);
        ok = f != NULL;
    }
    if (ok && status_get(&s->state) == MIG_STATUS_SETUP) {
        bql_lock();
        ok = savevm_write_header(f, &err) && savevm_setup(f, &s->opts, &err);
        s->acks = 0;
        s->acks_needed = s->mode == MIG_MODE_NORMAL && migrate_switchover_ack()
                             ? savevm_switchover_acks_needed()
                             : 0;
        if (ok && s->acks_needed && !s->handshake) {
            /* QEMU's wording: the acknowledgement needs a way back. */
            error_setg(&err, "Capability 'switchover-ack' requires a return "
                             "path: a socket migration channel");
            ok = false;
        }
        if (ok && mode_is_preserving(s->mode)) {
            /* The fd owners stop taking new work (chardev clients). */
            s->cpr_prepared = true;
            ok = cpr_notify(CPR_EVENT_PREPARE, &err);
        }
        bql_unlock();
        migration_note_bytes(s, f);
        emit_pass_event();
    }
    g_mutex_lock(&s->lock);
    s->setup_time = now_ms() - s->start_time;
    g_mutex_unlock(&s->lock);
    /*
     * CPR modes stop the guest without iterating: their RAM stays in
     * place (cpr-transfer, cpr-exec) or is saved once, stopped
     * (cpr-reboot), as QEMU does.
     */
    ok = ok && status_set(&s->state, MIG_STATUS_SETUP, MIG_STATUS_ACTIVE) &&
         (s->mode != MIG_MODE_NORMAL || migration_iterate(s, f, &err)) &&
         migration_complete(s, f, &err);
    sent = ok;
    if (ok && s->handshake) {
        ok = migration_switchover(s, f, &err);
    }
    if (ok && s->mode == MIG_MODE_CPR_EXEC) {
        /* The new image reads this channel: it must be complete first. */
        g_mutex_lock(&s->lock);
        s->stream = NULL;
        g_mutex_unlock(&s->lock);
        ok = mig_stream_close(f, &err);
        f = NULL;
    }
    if (!ok && !err && f && !mig_stream_check(f, &err)) {
        /* A cancel shut the stream down: its error is not the story. */
        g_clear_error(&err);
    }
    if (!ok && !sent && f && s->handshake && err &&
        !mig_stream_is_shutdown(f)) {
        /* A destination that gave up says why (FAILED) as it closes. */
        switchover_peer_reason(mig_stream_fd(f), &err);
    }

    bql_lock();
    migration_finish_locked(s, ok, err);
    bql_unlock();

    g_mutex_lock(&s->lock);
    s->stream = NULL;
    g_mutex_unlock(&s->lock);
    if (f) {
        mig_stream_close_noerr(f);
    }
    if (s->conn.fd >= 0) {
        close(s->conn.fd);
        s->conn.fd = -1;
    }
    if (s->cpr_fd >= 0) {
        close(s->cpr_fd);
        s->cpr_fd = -1;
    }
    g_idle_add(migration_join_bh, g_thread_self());
    return NULL;
}

/* QEMU's migrate_prepare() checks, in its order, then the CPR blockers. */
static bool migration_prepare(bool resume, MigMode mode, GError **errp)
{
    RunState rs = runstate_get();
    const char *tls = migrate_tls_creds();

    if (resume) {
        error_setg(errp, "Cannot resume if there is no paused migration");
        return false;
    }
    if (migration_is_active()) {
        error_setg(errp, "There's a migration process in progress");
        return false;
    }
    if (rs == RUN_STATE_INMIGRATE) {
        error_setg(errp, "Guest is waiting for an incoming migration");
        return false;
    }
    if (rs == RUN_STATE_POSTMIGRATE) {
        error_setg(errp, "Can't migrate the vm that was paused due to "
                   "previous migration");
        return false;
    }
    if (tls && tls[0]) {
        error_setg(errp, "TLS migration is not supported by baton "
                   "(tls-creds '%s')", tls);
        return false;
    }
    return qdev_check_migratable(mode, errp) && cpr_check_blockers(mode, errp);
}

/* QEMU's migrate_init(): fresh figures, state "setup". */
static void migration_init(MigrationState *s, MigChannel *ch, MigMode mode)
{
    if (s->thread) {
        /* The last migration's thread has finished but was not joined. */
        g_thread_join(s->thread);
        s->thread = NULL;
    }
    mig_channel_free(s->channel);
    s->channel = ch;
    g_clear_pointer(&s->cpr_channel, mig_channel_free);
    g_clear_pointer(&s->exec_argv, g_strfreev);
    g_clear_error(&s->error);
    s->setup_time = s->total_time = s->downtime = s->expected_downtime = 0;
    s->downtime_start = 0;
    s->mbps = s->pages_per_second = 0;
    s->transferred = 0;
    s->bw_per_ms = 0;
    s->threshold = 0;
    s->vm_stopped = false;
    s->vm_old_state = runstate_get();
    g_atomic_int_set(&s->mode, mode);
    s->cpr_fd = -1;
    s->cpr_sent = s->cpr_prepared = s->handed_over = false;
    s->handshake = s->committed = false;
    memset(&s->times, 0, sizeof(s->times));
    s->remote_loaded = s->go_time = 0;
    s->pause = (PauseTimes){0};
    s->phases = (PausePhases)PAUSE_PHASES_NONE;
    if (mode == MIG_MODE_CPR_EXEC) {
        s->exec_argv = g_strdupv(migrate_cpr_exec_command());
    }
    /* cpr-transfer and cpr-exec map RAM in place: x-ignore-shared, implied. */
    s->opts.ignore_shared = migrate_ignore_shared() || mode_is_preserving(mode);
    s->start_time = now_ms();
    g_atomic_int_set(&s->state, MIG_STATUS_NONE);
    status_set(&s->state, MIG_STATUS_NONE, MIG_STATUS_SETUP);
}

/* As QEMU: a destination that cannot be opened fails the command too. */
static bool migration_fail_setup(MigrationState *s, GError *err,
                                 GError **errp)
{
    migration_set_error(s, err);
    status_set(&s->state, MIG_STATUS_SETUP, MIG_STATUS_FAILED);
    g_propagate_error(errp, err);
    return false;
}

bool migration_qmp_migrate(const char *uri, JsonArray *channels,
                           bool resume, GError **errp)
{
    MigrationState *s = &mig_state;
    MigMode mode = migrate_mode();
    g_autoptr(MigChannel) cpr = NULL;
    MigChannel *ch = mig_channel_parse_input(uri, channels, &cpr, errp);
    GError *err = NULL;

    if (!ch) {
        return false;
    }
    if (!cpr_check_channels(mode, ch, cpr, errp) ||
        !migration_prepare(resume, mode, errp)) {
        mig_channel_free(ch);
        return false;
    }
    if (s->cancel_fd < 0) {
        s->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    } else {
        uint64_t v;

        /* Drain a cancel of the previous migration. */
        while (read(s->cancel_fd, &v, sizeof(v)) == sizeof(v)) {
        }
    }
    migration_init(s, ch, mode);
    migration_infos_begin();
    global_state_register();
    s->conn.fd = -1;
    if (!mig_outgoing_is_async(&ch->addr) &&
        !mig_outgoing_open(&ch->addr, &s->conn, &err)) {
        return migration_fail_setup(s, err, errp);
    }
    if (cpr && cpr->addr.sock_type == MIG_SOCKET_FD &&
        (s->cpr_fd = cpr_transfer_open_fd(cpr, &err)) < 0) {
        if (s->conn.fd >= 0) {
            close(s->conn.fd);
            s->conn.fd = -1;
        }
        return migration_fail_setup(s, err, errp);
    }
    s->cpr_channel = g_steal_pointer(&cpr);
    s->thread = g_thread_new("live_migration", migration_thread, s);
    return true;
}

void migration_cancel(void)
{
    MigrationState *s = &mig_state;

    g_mutex_lock(&s->lock);
    /* GO is out: the destination runs the guest now; nothing to cancel. */
    if (s->committed) {
        g_mutex_unlock(&s->lock);
        return;
    }
    for (;;) {
        MigStatus st = status_get(&s->state);

        if (!status_is_running(st) || st == MIG_STATUS_CANCELLING) {
            g_mutex_unlock(&s->lock);
            return;
        }
        if (status_set(&s->state, st, MIG_STATUS_CANCELLING)) {
            break;
        }
    }
    /* Unblock the thread wherever it waits: connect, write, rate limit. */
    if (s->stream) {
        mig_stream_shutdown(s->stream);
    }
    if (s->cancel_fd >= 0) {
        uint64_t one = 1;

        if (write(s->cancel_fd, &one, sizeof(one)) < 0) {
            /* Already signalled (counter full): nothing more to do. */
        }
    }
    g_mutex_unlock(&s->lock);
}

/* ---- destination ---- */

bool migration_switchover_ack_enabled(void)
{
    return migrate_switchover_ack();
}

bool migration_switchover_approve(GError **errp)
{
    IncomingState *mis = &incoming;
    struct stat st;
    int fd = -1;

    if (!migrate_switchover_ack()) {
        error_setg(errp, "switchover acknowledged but the switchover-ack "
                         "capability is off here");
        return false;
    }
    g_mutex_lock(&mis->lock);
    if (mis->stream) {
        fd = mig_stream_fd(mis->stream);
    }
    g_mutex_unlock(&mis->lock);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        error_setg(errp, "switchover-ack needs a socket migration channel");
        return false;
    }
    trace_migration_switchover_approve();
    return switchover_send_ack(fd, errp);
}

static void incoming_fail(IncomingState *mis, GError *err)
{
    g_autofree char *msg = g_strdup_printf("load of migration failed: %s",
                                           err->message);

    g_clear_error(&mis->error);
    g_set_error_literal(&mis->error, BATON_ERROR, BATON_ERROR_GENERIC, msg);
    status_set(&mis->state, MIG_STATUS_ACTIVE, MIG_STATUS_FAILED);
    status_set(&mis->state, MIG_STATUS_SETUP, MIG_STATUS_FAILED);
    /*
     * A live-update target holds the guest's RAM and devices: it must
     * never run half a guest, nor linger, whatever exit-on-error says.
     */
    if (mis->exit_on_error || cpr_is_incoming()) {
        /*
         * The machine is partly loaded and never ran: report and end the
         * process (after the usual cleanup) instead of running it.
         */
        error_report("%s", msg);
        request_exit(1);
    }
}

/* This side's view of the pause, once the guest runs again. */
static void incoming_phases(IncomingState *mis)
{
    PauseTimes t = {
        .stop_start = mis->source.stop_start,
        .stopped = mis->source.stopped,
        .saved = mis->source.saved,
        .cpr_loaded = mis->cpr_loaded,
        .load_start = mis->load_start,
        .loaded = mis->loaded,
        .go_received = mis->resuming,
        .resumed = mis->resumed,
    };

    pause_phases_incoming(cpr_incoming_mode(), &t, &mis->phases);
    mis->downtime =
        mis->phases.total >= 0 ? (mis->phases.total + 500) / 1000 : -1;
}

/* Main loop: the load's outcome (QEMU's incoming bottom half). */
static gboolean incoming_finish_bh(gpointer opaque)
{
    IncomingState *mis = &incoming;
    GError *err;

    if (!mis->thread) {
        /* Joined by migration_shutdown() already. */
        return G_SOURCE_REMOVE;
    }
    err = g_thread_join(mis->thread);
    mis->thread = NULL;
    g_clear_pointer(&mis->socket_address, json_node_unref);
    if (err) {
        incoming_fail(mis, err);
        g_error_free(err);
        return G_SOURCE_REMOVE;
    }
    incoming_phases(mis);
    if (cpr_is_incoming()) {
        cpr_transfer_incoming_close();
        cpr_incoming_done();
    }
    /* Last, so that whoever sees "completed" sees the guest state too. */
    status_set(&mis->state, MIG_STATUS_ACTIVE, MIG_STATUS_COMPLETED);
    return G_SOURCE_REMOVE;
}

/*
 * Thread, loaded: take the guest over. With the handshake (HS, its
 * version) READY and GO come first; the source may still take the guest
 * back until RESUMING is out, and once it is, a death here loses the
 * guest. So the big lock is taken before RESUMING and held until the
 * guest runs: nothing waits for the main loop in that window (for a
 * migration it also keeps a main-loop wake-up out of the pause).
 * vm_start() goes before TAKEOVER to keep the window short; the vCPUs
 * cannot reach a device before the lock is released anyway. RESUMED
 * then tells the source the guest runs, with this side's times.
 */
static bool incoming_take_over(IncomingState *mis, int fd, int hs,
                               GError **errp)
{
    RunState target;
    int64_t t[4];

    if (hs && !switchover_confirm(fd, mis->loaded, t, errp)) {
        return false;
    }
    if (hs && cpr_incoming_mode() == MIG_MODE_CPR_TRANSFER) {
        /* One host, one clock: the source's times are comparable. */
        mis->source.stop_start = t[0];
        mis->source.stopped = t[1];
        mis->source.saved = t[2];
    }
    bql_lock();
    if (mis->exiting) {
        /* Not committed yet: the source takes the guest back. */
        bql_unlock();
        error_setg(errp, "this process is exiting");
        return false;
    }
    if (!switchover_commit(fd, hs, errp)) {
        bql_unlock();
        return false;
    }
    if (hs) {
        mis->resuming = now_us();
        fault_inject_point("incoming-resuming");
    }
    if (!global_state_received(&target) || target == RUN_STATE_RUNNING) {
        if (mis->autostart) {
            vm_start();
        } else {
            runstate_set(RUN_STATE_PAUSED);
        }
    } else {
        runstate_set(target);
    }
    if (!cpr_is_incoming()) {
        /*
         * The guest is on another port now: tell the switches (QEMU's
         * announce-* parameters). A live update keeps the same tap.
         */
        uint64_t a[4];

        migrate_announce_params(&a[0], &a[1], &a[2], &a[3]);
        net_announce(a[0], a[1], a[2], a[3], NULL);
    }
    if (cpr_is_incoming()) {
        /* Ours now: the adopted fds may be read, accepted and written. */
        cpr_notify(CPR_EVENT_TAKEOVER, NULL);
    }
    mis->resumed = now_us();
    bql_unlock();
    if (hs) {
        /* Best effort: a source that is gone has nothing left to learn. */
        switchover_send_resumed(fd, mis->loaded, mis->resuming, mis->resumed,
                                NULL);
    }
    return true;
}

/* Returns NULL on success or the load error (the thread's result). */
static gpointer incoming_thread(gpointer opaque)
{
    IncomingState *mis = &incoming;
    MigStream *f = opaque;
    int fd = mig_stream_fd(f);
    struct stat st;
    bool socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    int hs;
    GError *err = NULL;
    bool ok;

    status_set(&mis->state, MIG_STATUS_SETUP, MIG_STATUS_ACTIVE);
    fault_inject_point("incoming-accepted");
    ok = savevm_load(f, &err);
    if (ok) {
        mis->loaded = now_us();
        fault_inject_point("incoming-loaded");
        hs = global_state_switchover_requested();
        if (hs && !socket) {
            error_setg(&err, "the source waits for a confirmation this "
                       "side cannot send (the channel is not a socket)");
            ok = false;
        } else {
            ok = incoming_take_over(mis, fd, hs, &err);
        }
    } else if (socket) {
        g_autoptr(GError) ignored = NULL;

        /* Best effort: tell the source why before we go. */
        switchover_send_failed(fd, err->message, &ignored);
    }
    g_mutex_lock(&mis->lock);
    mis->stream = NULL;
    g_mutex_unlock(&mis->lock);
    /* On success the guest runs here already: the channel is done with. */
    mig_stream_close_noerr(f);
    /* Not idle priority: a busy monitor would starve it. */
    g_idle_add_full(G_PRIORITY_DEFAULT, incoming_finish_bh, NULL, NULL);
    return ok ? NULL : err;
}

static void incoming_start_thread(IncomingState *mis, MigConn *conn,
                                  const MigAddress *addr)
{
    g_autofree char *name = mig_address_to_string(addr);
    g_autofree char *desc = g_strdup_printf("migration channel '%s'", name);
    SavevmOptions opts = { .ignore_shared = migrate_ignore_shared() };
    MigStream *f = mig_stream_new_fd(conn->fd, false, conn->can_pass_fds,
                                     desc);

    conn->fd = -1;
    cpr_transfer_incoming_watch(false);
    mis->load_start = now_us();
    savevm_set_options(&opts);
    mis->stream = f;
    mis->thread = g_thread_new("mig/dst/main", incoming_thread, f);
}

static gboolean incoming_accept_cb(gint fd, GIOCondition cond,
                                   gpointer opaque)
{
    IncomingState *mis = &incoming;
    MigConn conn = MIG_CONN_INIT;
    g_autoptr(GError) err = NULL;

    if (!mig_listener_accept(mis->listener, &conn, &err)) {
        if (err) {
            warn_report("%s", err->message);
        }
        return G_SOURCE_CONTINUE;
    }
    if (cpr_is_incoming() && !cpr_peer_trusted(conn.fd, "main channel")) {
        close(conn.fd);
        return G_SOURCE_CONTINUE;
    }
    /* One main channel: stop listening, as QEMU does after it connects. */
    mis->accept_watch = 0;
    g_clear_pointer(&mis->listener, mig_listener_free);
    incoming_start_thread(mis, &conn, &mis->channel->addr);
    return G_SOURCE_REMOVE;
}

static bool incoming_start(IncomingState *mis, const MigChannel *ch,
                           GError **errp)
{
    MigConn conn = MIG_CONN_INIT;

    global_state_register();
    if (mig_incoming_is_listen(&ch->addr)) {
        /*
         * While we wait for the source (outside the pause, for
         * cpr-transfer). Not for a channel read at once (cpr-exec's
         * file: the guest is stopped already): nothing to win there.
         */
        savevm_load_prepare();
        mis->listener = mig_listener_new(&ch->addr, errp);
        if (!mis->listener) {
            return false;
        }
        mis->socket_address =
            mig_address_socket_json(mig_listener_address(mis->listener));
        mis->channel = mig_channel_copy(ch);
        mis->accept_watch = g_unix_fd_add(mig_listener_fd(mis->listener),
                                          G_IO_IN, incoming_accept_cb, NULL);
        status_set(&mis->state, MIG_STATUS_NONE, MIG_STATUS_SETUP);
        return true;
    }
    if (!mig_incoming_open(&ch->addr, &conn, errp)) {
        return false;
    }
    status_set(&mis->state, MIG_STATUS_NONE, MIG_STATUS_SETUP);
    incoming_start_thread(mis, &conn, &ch->addr);
    return true;
}

bool migration_qmp_incoming(const char *uri, JsonArray *channels,
                            bool exit_on_error, GError **errp)
{
    IncomingState *mis = &incoming;
    g_autoptr(MigChannel) ch = NULL;

    if (mis->started) {
        error_setg(errp, "The incoming migration has already been started");
        return false;
    }
    if (runstate_get() != RUN_STATE_INMIGRATE) {
        error_setg(errp, "'-incoming' was not specified on the command line");
        return false;
    }
    ch = mig_channel_parse_input(uri, channels, NULL, errp);
    if (!ch) {
        return false;
    }
    mis->exit_on_error = exit_on_error;
    if (!incoming_start(mis, ch, errp)) {
        return false;
    }
    mis->started = true;
    return true;
}

bool migration_incoming_check_arg(const char *arg, GError **errp)
{
    g_autoptr(MigChannel) ch = NULL;

    return mig_incoming_arg_parse(arg, &ch, errp);
}

bool migration_cpr_startup(const char *const *args, GError **errp)
{
    g_autoptr(MigChannel) cpr = NULL;
    const char *cpr_arg = NULL;
    bool from_exec;

    if (!cpr_exec_incoming(&from_exec, errp)) {
        g_prefix_error(errp, "cpr-exec: ");
        return false;
    }
    for (; args && *args; args++) {
        g_autoptr(MigChannel) ch = NULL;

        if (!mig_incoming_arg_parse(*args, &ch, errp)) {
            g_prefix_error(errp, "-incoming %s: ", *args);
            return false;
        }
        if (ch && ch->type == MIG_CHANNEL_CPR) {
            /* A later -incoming replaces an earlier one of its type. */
            mig_channel_free(cpr);
            cpr = g_steal_pointer(&ch);
            cpr_arg = *args;
        }
    }
    if (from_exec) {
        if (cpr) {
            warn_report("-incoming %s: ignored: the CPR state came with "
                        "cpr-exec", cpr_arg);
        }
    } else if (cpr && !cpr_transfer_incoming(cpr, errp)) {
        g_prefix_error(errp, "-incoming %s: ", cpr_arg);
        return false;
    }
    incoming.cpr_loaded = cpr_is_incoming() ? now_us() : 0;
    if (cpr_is_incoming()) {
        incoming.source = *cpr_incoming_times();
    }
    return true;
}

bool migration_incoming_setup(const char *const *args, bool autostart,
                              GError **errp)
{
    IncomingState *mis = &incoming;
    MigChannel *chans[MIG_CHANNEL__MAX] = { NULL };
    const char *main_arg = NULL;
    bool ok = true;

    for (; args && *args; args++) {
        MigChannel *ch;

        if (!mig_incoming_arg_parse(*args, &ch, errp)) {
            g_prefix_error(errp, "-incoming %s: ", *args);
            ok = false;
            break;
        }
        /* A later -incoming replaces an earlier one of its type. */
        if (!ch || ch->type == MIG_CHANNEL_MAIN) {
            main_arg = *args;
        }
        mig_channel_free(chans[ch ? ch->type : MIG_CHANNEL_MAIN]);
        chans[ch ? ch->type : MIG_CHANNEL_MAIN] = ch;
    }
    /* The cpr channel was read at start-up (migration_cpr_startup()). */
    if (ok && cpr_is_incoming()) {
        /*
         * Before listening on the main channel: a mismatch ends this
         * process, the old one never connects and resumes its guest.
         */
        ok = cpr_check_config(errp);
        if (ok && !main_arg) {
            /* The RAM is a live guest's: never boot it; wait as "defer". */
            main_arg = "defer";
        }
    }
    if (ok && main_arg) {
        mis->requested = true;
        mis->autostart = autostart;
        mis->exit_on_error = true;
        runstate_set(RUN_STATE_INMIGRATE);
        if (ok && cpr_incoming_mode() == MIG_MODE_CPR_TRANSFER) {
            cpr_transfer_incoming_watch(true);
        }
        if (chans[MIG_CHANNEL_MAIN]) {
            ok = incoming_start(mis, chans[MIG_CHANNEL_MAIN], errp);
            if (!ok) {
                g_prefix_error(errp, "-incoming %s: ", main_arg);
            }
            mis->started = ok;
        }
    }
    for (int t = 0; t < MIG_CHANNEL__MAX; t++) {
        mig_channel_free(chans[t]);
    }
    return ok;
}

void migration_incoming_set_autostart(bool autostart)
{
    incoming.autostart = autostart;
}

bool migration_global_set(const char *prop, const char *value,
                          GError **errp)
{
    return migrate_global_set(prop, value, errp);
}

/* ---- query-migrate ---- */

static void add_int(JsonBuilder *b, const char *name, int64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

/* Big lock and S->LOCK held. */
static void add_ram_stats(JsonBuilder *b, MigrationState *s, MigStatus st)
{
    /*
     * While a (possibly rate-limited) record is being written the stream's
     * own count moves on; it stays valid while S->LOCK is held.
     */
    uint64_t transferred = s->stream ? mig_stream_bytes(s->stream)
                                     : s->transferred;

    ram_migration_stats_to_json(b, MAX(transferred, s->transferred), s->mbps,
                                s->pages_per_second,
                                st == MIG_STATUS_COMPLETED);
}

/* Times and RAM of an active or completed source migration. */
static void add_source_progress(JsonBuilder *b, MigrationState *s,
                                MigStatus st)
{
    bool completed = st == MIG_STATUS_COMPLETED;

    add_ram_stats(b, s, st);
    add_infos(b);
    add_int(b, "total-time",
            completed ? s->total_time : now_ms() - s->start_time);
    if (completed) {
        add_int(b, "downtime", s->downtime);
        pause_phases_to_json(b, &s->phases);
    } else {
        add_int(b, "expected-downtime", s->expected_downtime);
    }
    add_int(b, "setup-time", s->setup_time);
}

JsonNode *migration_query(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    MigrationState *s = &mig_state;
    IncomingState *mis = &incoming;
    MigStatus st = status_get(&s->state);
    MigStatus dst = status_get(&mis->state);
    g_autoptr(GError) blocker = NULL;

    json_builder_begin_object(b);
    g_mutex_lock(&s->lock);
    if (st != MIG_STATUS_NONE) {
        json_builder_set_member_name(b, "status");
        json_builder_add_string_value(b, status_names[st]);
        switch (st) {
        case MIG_STATUS_ACTIVE:
        case MIG_STATUS_CANCELLING:
        case MIG_STATUS_DEVICE:
        case MIG_STATUS_PRE_SWITCHOVER:
        case MIG_STATUS_COMPLETED:
            add_source_progress(b, s, st);
            break;
        default:
            break;
        }
        if (s->error) {
            json_builder_set_member_name(b, "error-desc");
            json_builder_add_string_value(b, s->error->message);
        }
    } else if (dst != MIG_STATUS_NONE) {
        json_builder_set_member_name(b, "status");
        json_builder_add_string_value(b, status_names[dst]);
        if (dst == MIG_STATUS_COMPLETED) {
            if (mis->downtime >= 0) {
                add_int(b, "downtime", mis->downtime);
            }
            pause_phases_to_json(b, &mis->phases);
        }
        if (mis->error) {
            json_builder_set_member_name(b, "error-desc");
            json_builder_add_string_value(b, mis->error->message);
        }
    }
    g_mutex_unlock(&s->lock);
    if (!qdev_check_migratable(migrate_mode(), &blocker)) {
        json_builder_set_member_name(b, "blocked-reasons");
        json_builder_begin_array(b);
        json_builder_add_string_value(b, blocker->message);
        json_builder_end_array(b);
    }
    if (mis->socket_address) {
        json_builder_set_member_name(b, "socket-address");
        json_builder_begin_array(b);
        json_builder_add_value(b, json_node_copy(mis->socket_address));
        json_builder_end_array(b);
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* ---- process exit ---- */

static void join_unlocked(GThread *thread)
{
    bool locked = bql_locked();

    /* The threads take the big lock on their way out. */
    if (locked) {
        bql_unlock();
    }
    g_thread_join(thread);
    if (locked) {
        bql_lock();
    }
}

void migration_shutdown(void)
{
    MigrationState *s = &mig_state;
    IncomingState *mis = &incoming;

    migration_cancel();
    /* Past GO cancel is a no-op; this ends a wait for RESUMED too. */
    if (s->thread && s->cancel_fd >= 0 &&
        write(s->cancel_fd, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0) {
        /* Already signalled (counter full): nothing more to do. */
    }
    mis->exiting = true;
    if (s->thread) {
        join_unlocked(s->thread);
        s->thread = NULL;
    }
    if (mis->accept_watch) {
        g_source_remove(mis->accept_watch);
        mis->accept_watch = 0;
    }
    g_clear_pointer(&mis->listener, mig_listener_free);
    if (mis->thread) {
        g_mutex_lock(&mis->lock);
        if (mis->stream) {
            mig_stream_shutdown(mis->stream);
        }
        g_mutex_unlock(&mis->lock);
        join_unlocked(mis->thread);
        mis->thread = NULL;
    }
}
