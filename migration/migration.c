/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The migration state machine (QEMU's MigrationStatus): the source's
 * "live_migration" thread (connect, setup, iterate under max-bandwidth,
 * switch over once the rest fits downtime-limit, complete or fail and
 * resume the guest), the destination's incoming thread, the "globalstate"
 * section that carries the source's run state, and query-migrate. Channel
 * parsing is channel.c, the stream format savevm.c, commands *-qmp/hmp.c.
 */
#include "util/osdep.h"

#include <sys/eventfd.h>
#include <glib-unix.h>

#include "hw/core/object.h"
#include "migration/migration.h"
#include "migration/register.h"
#include "migration/stream.h"
#include "monitor/monitor.h"
#include "system/runstate.h"
#include "util/error-report.h"

#include "channel.h"
#include "migration-internal.h"
#include "options.h"
#include "ram.h"
#include "savevm.h"

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

    RunState vm_old_state;  /* before the switchover stopped the guest */
    bool vm_stopped;
} MigrationState;

/* The incoming migration; main thread except STATE and the stream. */
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
} IncomingState;

static MigrationState mig_state = { .cancel_fd = -1 };
static IncomingState incoming = { .autostart = true };

static int64_t now_ms(void)
{
    return g_get_monotonic_time() / 1000;
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

bool migration_incoming_is_active(void)
{
    MigStatus st = status_get(&incoming.state);

    return st == MIG_STATUS_SETUP || st == MIG_STATUS_ACTIVE;
}

/* ---- "globalstate": the source's run state ---- */

#define GLOBALSTATE_MAX 100

typedef struct GlobalState {
    uint32_t size;
    uint8_t runstate[GLOBALSTATE_MAX];
} GlobalState;

static GlobalState global_state;
static bool global_state_stored;   /* source: set by the switchover */
static bool global_state_received; /* destination */
static RunState global_state_target;

static void global_state_store(RunState state)
{
    const char *name = runstate_name(state);

    global_state.size = strlen(name);
    memcpy(global_state.runstate, name, global_state.size);
    global_state_stored = true;
}

static bool global_state_pre_save(void *opaque, GError **errp)
{
    /* Saves outside a migration (snapshots) record the state as it is. */
    if (!global_state_stored) {
        global_state_store(runstate_get());
    }
    return true;
}

static bool global_state_pre_load(void *opaque, GError **errp)
{
    global_state_received = false;
    return true;
}

static bool global_state_post_load(void *opaque, int version_id,
                                   GError **errp)
{
    char name[GLOBALSTATE_MAX + 1];

    memcpy(name, global_state.runstate, global_state.size);
    name[global_state.size] = '\0';
    for (int i = 0; i < RUN_STATE_MAX; i++) {
        if (!strcmp(runstate_name(i), name)) {
            global_state_target = i;
            global_state_received = true;
            return true;
        }
    }
    error_setg(errp, "globalstate: unknown run state '%s'", name);
    return false;
}

static const VMStateField global_state_fields[] = {
    VMSTATE_UINT8_VARRAY(runstate, GlobalState, size, GLOBALSTATE_MAX),
    VMSTATE_END_OF_LIST()
};

static const VMStateDescription vmstate_globalstate = {
    .name = "globalstate",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = global_state_fields,
    .pre_save = global_state_pre_save,
    .pre_load = global_state_pre_load,
    .post_load = global_state_post_load,
};

/*
 * Registered when the first migration starts, on either side, so that
 * programs that only link the library (unit tests) see no extra section.
 */
static void global_state_register(void)
{
    static bool done;

    if (!done) {
        done = true;
        vmstate_register("globalstate", 0, &vmstate_globalstate,
                         &global_state);
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
 * Send passes until what remains after a dirty sync fits in the downtime
 * limit at the estimated bandwidth. Returns false on error or cancel.
 */
static bool migration_iterate(MigrationState *s, MigStream *f, GError **errp)
{
    uint64_t rate = migrate_max_bandwidth();

    mig_stream_set_rate_limit(f, rate);
    window_reset(s);
    for (;;) {
        uint64_t pending;
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
        if (pending == 0 || pending <= s->threshold) {
            return true;
        }
        if (s->bw_per_ms > 0) {
            g_mutex_lock(&s->lock);
            s->expected_downtime = pending / s->bw_per_ms;
            g_mutex_unlock(&s->lock);
        }
    }
}

/* Stop the guest and send everything left. */
static bool migration_complete(MigrationState *s, MigStream *f,
                               GError **errp)
{
    bool ok;

    bql_lock();
    s->vm_old_state = runstate_get();
    global_state_store(s->vm_old_state);
    g_mutex_lock(&s->lock);
    s->downtime_start = now_ms();
    g_mutex_unlock(&s->lock);
    vm_stop(RUN_STATE_FINISH_MIGRATE);
    s->vm_stopped = true;
    mig_stream_set_rate_limit(f, 0);
    ok = savevm_complete(f, errp);
    bql_unlock();
    migration_note_bytes(s, f);
    return ok;
}

/*
 * The end of every migration, big lock held: success leaves the source in
 * "postmigrate"; anything else puts the guest back as it was.
 */
static void migration_finish_locked(MigrationState *s, bool completed,
                                    GError *err)
{
    int64_t now = now_ms();

    savevm_cleanup();
    global_state_stored = false;
    if (completed) {
        int64_t transfer;

        g_mutex_lock(&s->lock);
        s->downtime = now - s->downtime_start;
        s->total_time = now - s->start_time;
        transfer = s->total_time - s->setup_time;
        if (transfer > 0) {
            s->mbps = s->transferred * 8.0 / transfer / 1000.0;
        }
        g_mutex_unlock(&s->lock);
        runstate_set(RUN_STATE_POSTMIGRATE);
        if (status_set(&s->state, MIG_STATUS_ACTIVE, MIG_STATUS_COMPLETED)) {
            return;
        }
        /* Cancelled at the last moment: fall through and resume. */
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

/* Open the stream on the connected endpoint and publish it for cancel. */
static MigStream *migration_open_stream(MigrationState *s, GError **errp)
{
    g_autofree char *name = mig_address_to_string(&s->channel->addr);
    g_autofree char *desc = g_strdup_printf("migration channel '%s'", name);
    MigStream *f;

    if (s->conn.fd < 0 &&
        !mig_socket_connect(&s->channel->addr, s->cancel_fd, &s->conn,
                            errp)) {
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
    MigStream *f = migration_open_stream(s, &err);
    bool ok = f != NULL;

    if (ok && status_get(&s->state) == MIG_STATUS_SETUP) {
        bql_lock();
        ok = savevm_write_header(f, &err) && savevm_setup(f, &s->opts, &err);
        bql_unlock();
        migration_note_bytes(s, f);
        emit_pass_event();
    }
    g_mutex_lock(&s->lock);
    s->setup_time = now_ms() - s->start_time;
    g_mutex_unlock(&s->lock);
    ok = ok && status_set(&s->state, MIG_STATUS_SETUP, MIG_STATUS_ACTIVE) &&
         migration_iterate(s, f, &err) && migration_complete(s, f, &err);
    if (!ok && !err && f && !mig_stream_check(f, &err)) {
        /* A cancel shut the stream down: its error is not the story. */
        g_clear_error(&err);
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
    g_idle_add(migration_join_bh, g_thread_self());
    return NULL;
}

/* QEMU's migrate_prepare() checks, in its order. */
static bool migration_prepare(bool resume, GError **errp)
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
    if (migrate_mode() != MIG_MODE_NORMAL) {
        error_setg(errp, "migration mode '%s' is not supported yet",
                   migrate_mode_name(migrate_mode()));
        return false;
    }
    if (tls && tls[0]) {
        error_setg(errp, "TLS migration is not supported by baton "
                   "(tls-creds '%s')", tls);
        return false;
    }
    return object_check_migratable(errp);
}

/* QEMU's migrate_init(): fresh figures, state "setup". */
static void migration_init(MigrationState *s, MigChannel *ch)
{
    if (s->thread) {
        /* The last migration's thread has finished but was not joined. */
        g_thread_join(s->thread);
        s->thread = NULL;
    }
    mig_channel_free(s->channel);
    s->channel = ch;
    g_clear_error(&s->error);
    s->setup_time = s->total_time = s->downtime = s->expected_downtime = 0;
    s->downtime_start = 0;
    s->mbps = s->pages_per_second = 0;
    s->transferred = 0;
    s->bw_per_ms = 0;
    s->threshold = 0;
    s->vm_stopped = false;
    s->vm_old_state = runstate_get();
    s->opts.ignore_shared = migrate_ignore_shared();
    s->start_time = now_ms();
    g_atomic_int_set(&s->state, MIG_STATUS_NONE);
    status_set(&s->state, MIG_STATUS_NONE, MIG_STATUS_SETUP);
}

bool migration_qmp_migrate(const char *uri, JsonArray *channels,
                           bool resume, GError **errp)
{
    MigrationState *s = &mig_state;
    g_autoptr(MigChannel) cpr = NULL;
    MigChannel *ch = mig_channel_parse_input(uri, channels, &cpr, errp);
    GError *err = NULL;

    if (!ch) {
        return false;
    }
    if (!migration_prepare(resume, errp)) {
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
    migration_init(s, ch);
    global_state_register();
    s->conn.fd = -1;
    if (!mig_outgoing_is_async(&ch->addr) &&
        !mig_outgoing_open(&ch->addr, &s->conn, &err)) {
        /* As QEMU: the command fails and the migration shows "failed". */
        migration_set_error(s, err);
        status_set(&s->state, MIG_STATUS_SETUP, MIG_STATUS_FAILED);
        g_propagate_error(errp, err);
        return false;
    }
    s->thread = g_thread_new("live_migration", migration_thread, s);
    return true;
}

void migration_cancel(void)
{
    MigrationState *s = &mig_state;

    for (;;) {
        MigStatus st = status_get(&s->state);

        if (!status_is_running(st) || st == MIG_STATUS_CANCELLING) {
            return;
        }
        if (status_set(&s->state, st, MIG_STATUS_CANCELLING)) {
            break;
        }
    }
    /* Unblock the thread wherever it waits: connect, write, rate limit. */
    g_mutex_lock(&s->lock);
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

static void incoming_fail(IncomingState *mis, GError *err)
{
    g_autofree char *msg = g_strdup_printf("load of migration failed: %s",
                                           err->message);

    g_clear_error(&mis->error);
    g_set_error_literal(&mis->error, BATON_ERROR, BATON_ERROR_GENERIC, msg);
    status_set(&mis->state, MIG_STATUS_ACTIVE, MIG_STATUS_FAILED);
    status_set(&mis->state, MIG_STATUS_SETUP, MIG_STATUS_FAILED);
    if (mis->exit_on_error) {
        /*
         * The machine is partly loaded and never ran: report and end the
         * process (after the usual cleanup) instead of running it.
         */
        error_report("%s", msg);
        request_exit(1);
    }
}

/* Main loop: act on the load's outcome (QEMU's incoming bottom half). */
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
    if (!global_state_received || global_state_target == RUN_STATE_RUNNING) {
        if (mis->autostart) {
            vm_start();
        } else {
            runstate_set(RUN_STATE_PAUSED);
        }
    } else {
        runstate_set(global_state_target);
    }
    /* Last, so that whoever sees "completed" sees the guest state too. */
    status_set(&mis->state, MIG_STATUS_ACTIVE, MIG_STATUS_COMPLETED);
    return G_SOURCE_REMOVE;
}

/* Returns NULL on success or the load error (the thread's result). */
static gpointer incoming_thread(gpointer opaque)
{
    IncomingState *mis = &incoming;
    MigStream *f = opaque;
    GError *err = NULL;
    bool ok;

    status_set(&mis->state, MIG_STATUS_SETUP, MIG_STATUS_ACTIVE);
    ok = savevm_load(f, &err);
    g_mutex_lock(&mis->lock);
    mis->stream = NULL;
    g_mutex_unlock(&mis->lock);
    if (!mig_stream_close(f, ok ? &err : NULL)) {
        ok = false;
    }
    g_idle_add(incoming_finish_bh, NULL);
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
    if (ok && chans[MIG_CHANNEL_CPR]) {
        error_setg(errp, "-incoming: the 'cpr' migration channel is not "
                   "supported yet");
        ok = false;
    }
    if (ok && main_arg) {
        mis->requested = true;
        mis->autostart = autostart;
        mis->exit_on_error = true;
        runstate_set(RUN_STATE_INMIGRATE);
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
    RamMigrationStats r;
    /*
     * While a (possibly rate-limited) record is being written the stream's
     * own count moves on; it stays valid while S->LOCK is held.
     */
    uint64_t transferred = s->stream ? mig_stream_bytes(s->stream)
                                     : s->transferred;

    ram_migration_get_stats(&r);
    json_builder_set_member_name(b, "ram");
    json_builder_begin_object(b);
    add_int(b, "transferred", MAX(transferred, s->transferred));
    add_int(b, "remaining", st == MIG_STATUS_COMPLETED ? 0 : r.remaining);
    add_int(b, "total", r.total);
    add_int(b, "duplicate", r.duplicate);
    add_int(b, "normal", r.normal);
    add_int(b, "normal-bytes", r.normal_bytes);
    add_int(b, "dirty-pages-rate",
            st == MIG_STATUS_COMPLETED ? 0 : r.dirty_pages_rate);
    json_builder_set_member_name(b, "mbps");
    json_builder_add_double_value(b, s->mbps);
    add_int(b, "dirty-sync-count", r.dirty_sync_count);
    add_int(b, "postcopy-requests", 0);
    add_int(b, "page-size", r.page_size ? r.page_size : 4096);
    add_int(b, "multifd-bytes", 0);
    add_int(b, "pages-per-second", (int64_t)s->pages_per_second);
    add_int(b, "precopy-bytes", r.precopy_bytes);
    add_int(b, "downtime-bytes", r.downtime_bytes);
    add_int(b, "postcopy-bytes", 0);
    add_int(b, "dirty-sync-missed-zero-copy", 0);
    json_builder_end_object(b);
}

/* Times and RAM of an active or completed source migration. */
static void add_source_progress(JsonBuilder *b, MigrationState *s,
                                MigStatus st)
{
    bool completed = st == MIG_STATUS_COMPLETED;

    add_ram_stats(b, s, st);
    add_int(b, "total-time",
            completed ? s->total_time : now_ms() - s->start_time);
    if (completed) {
        add_int(b, "downtime", s->downtime);
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
        if (mis->error) {
            json_builder_set_member_name(b, "error-desc");
            json_builder_add_string_value(b, mis->error->message);
        }
    }
    g_mutex_unlock(&s->lock);
    if (!object_check_migratable(&blocker)) {
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
