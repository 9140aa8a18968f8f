/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Monitor objects: a QMP session or an HMP line editor attached to a
 * chardev as its frontend, plus the in-memory "capture" monitor that
 * human-monitor-command runs HMP in, and how a session survives a live
 * update. Output conventions (CRLF line ends) live here; the protocols
 * are in qmp.c and hmp.c.
 */
#include "util/osdep.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include "migration/cpr.h"
#include "migration/register.h"
#include "migration/stream.h"
#include "migration/vmstate.h"
#include "util/error-report.h"

#include "monitor-internal.h"


/* Chardev-attached monitors; protected by the big lock. */
static GList *monitors;

void monitor_write(Monitor *mon, const char *data, size_t len)
{
    if (mon->capture) {
        g_string_append_len(mon->capture, data, len);
    } else if (mon->chr) {
        /* No peer (socket not yet accepted): dropped, as in QEMU. */
        chardev_write(mon->chr, (const uint8_t *)data, len);
    }
}

void monitor_puts(Monitor *mon, const char *str)
{
    g_autoptr(GString) out = g_string_new(NULL);

    monitor_crlf_append(out, str, strlen(str));
    monitor_write(mon, out->str, out->len);
}

void monitor_printf(Monitor *mon, const char *fmt, ...)
{
    g_autofree char *str = NULL;
    va_list ap;

    va_start(ap, fmt);
    str = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    monitor_puts(mon, str);
}

void hmp_handle_error(Monitor *mon, GError *err)
{
    if (err) {
        monitor_printf(mon, "Error: %s\n", err->message);
        g_error_free(err);
    }
}

static void monitor_qmp_output(void *opaque, const char *data, size_t len)
{
    monitor_write(opaque, data, len);
}

static void monitor_cpr_register(void);
static void monitor_cpr_compat_v1_register(Monitor *mon);
static void monitor_cpr_exec_restore(Monitor *mon);
static void monitor_cpr_exec_release(Monitor *mon);
static void monitor_cpr_exec_register(Monitor *mon);

static Monitor *monitor_alloc(bool is_qmp, bool pretty)
{
    Monitor *mon = g_new0(Monitor, 1);

    mon->is_qmp = is_qmp;
    mon->last_format = 'x';
    mon->last_size = 4;
    if (is_qmp) {
        qmp_session_init(&mon->qmp, pretty, monitor_qmp_output, mon);
    } else {
        hmp_readline_init(&mon->rl);
    }
    return mon;
}

static void monitor_free(Monitor *mon)
{
    if (mon->is_qmp) {
        qmp_session_destroy(&mon->qmp);
    } else {
        hmp_readline_destroy(&mon->rl);
    }
    if (mon->capture) {
        g_string_free(mon->capture, true);
    }
    g_free(mon);
}

/*
 * Commands run synchronously inside the read callback, with the big lock
 * held, about 5-10 us each here: a client pipelining thousands of them
 * would otherwise keep the lock for every 4 KiB it sends (~150 commands,
 * ~1.5 ms). Read in small bites so that each main-loop iteration stays
 * short and vCPU exits and a migration's stop get the lock in between.
 */
#define MONITOR_READ_BUDGET 512

static size_t monitor_can_read(void *opaque)
{
    return MONITOR_READ_BUDGET;
}

static void monitor_read(void *opaque, const uint8_t *buf, size_t len)
{
    Monitor *mon = opaque;

    if (mon->is_qmp) {
        qmp_session_feed(&mon->qmp, (const char *)buf, len);
    } else {
        hmp_input(mon, (const char *)buf, len);
    }
}

static void monitor_event(void *opaque, ChardevEvent event)
{
    Monitor *mon = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        if (mon->is_qmp) {
            qmp_session_open(&mon->qmp);
        } else {
            hmp_open(mon);
        }
        break;
    case CHR_EVENT_CLOSED:
        if (mon->is_qmp) {
            qmp_session_close(&mon->qmp);
        } else {
            hmp_close(mon);
        }
        break;
    }
}

static const ChardevFrontendOps monitor_chr_ops = {
    .can_read = monitor_can_read,
    .read = monitor_read,
    .event = monitor_event,
};

Monitor *monitor_new(Chardev *chr, bool is_qmp, bool pretty, GError **errp)
{
    Monitor *mon = monitor_alloc(is_qmp, pretty);

    mon->chr = chr;
    if (!chardev_attach(chr, &monitor_chr_ops, mon, errp)) {
        monitor_free(mon);
        return NULL;
    }
    /* Live update: a monitor of another kind is not the same one. */
    chardev_cpr_set_frontend(chr, !is_qmp ? "monitor,mode=readline"
                                  : pretty ? "monitor,mode=control,pretty=on"
                                           : "monitor,mode=control");
    monitor_cpr_register();
    monitor_cpr_compat_v1_register(mon);
    monitors = g_list_append(monitors, mon);
    monitor_cpr_exec_register(mon);
    monitor_cpr_exec_restore(mon);
    return mon;
}

Monitor *monitor_new_capture(void)
{
    Monitor *mon = monitor_alloc(false, false);

    mon->capture = g_string_new(NULL);
    return mon;
}

char *monitor_free_capture(Monitor *mon)
{
    char *out = g_string_free(mon->capture, false);

    mon->capture = NULL;
    monitor_free(mon);
    return out;
}

void monitor_cleanup_all(void)
{
    /* Events still queued by other threads are sent before closing. */
    qmp_event_flush();
    while (monitors) {
        Monitor *mon = monitors->data;

        monitors = g_list_delete_link(monitors, monitors);
        monitor_cpr_exec_release(mon);
        /* Its version-1 section, if any (monitor_cpr_compat_v1_register). */
        vmstate_unregister_opaque(mon);
        chardev_detach(mon->chr);
        monitor_free(mon);
    }
    qmp_event_discard_queue();
}

/*
 * ---- live update (CPR) ----
 *
 * With cpr-transfer or cpr-exec the monitor's chardev is handed over with
 * its client connected (chardev_is_adopted_connected()), so the client's
 * session must go on in the new process as if nothing happened: no new
 * greeting or banner, the QMP negotiation kept, half-sent input kept.
 * That holds for a monitor the new process inherits: its chardev and the
 * monitor are configured there as here (chardev_cpr_set_frontend()). A
 * monitor the new process does not inherit (QEMU's way: the new process
 * has its own -qmp path) stays with this process, which goes on serving
 * it in "postmigrate" until it quits.
 *
 * The live migration section "monitor" (one instance, active only in
 * those modes) carries the sessions of the monitors handed over, each
 * named by its chardev's id. Its complete step runs with the vCPUs
 * stopped, after the chardev layer stopped reading (HANDOVER), and
 * carries QMP's negotiated state and the JSON splitter's partial value,
 * or HMP's line editor and history. Anything the client sends afterwards
 * stays queued in the socket and is answered by the new process after
 * the take-over (or by this one again on rollback). The new process
 * applies each session to its monitor on the chardev of that id, if it
 * inherited it, and skips the others (cpr-exec: this image cannot know
 * which the next one inherits).
 *
 * cpr-exec differs in one way: the new image gets the main channel only
 * from migrate-incoming, which the client may well send on this very
 * connection. So the old image also sends each session with the CPR
 * state, as the chardev's "monitor" CPR vmstate section, and the new
 * image restores it as the monitor is created and serves the client at
 * once (nothing else uses the fds after an exec).
 */

/* Unprocessed input a live update carries, per monitor. */
#define MONITOR_CPR_INPUT_MAX (64 * 1024)
#define MONITOR_CPR_HISTORY_MAX (HMP_HISTORY_MAX * (HMP_LINE_MAX + 1))

/*
 * The SETUP record is this one byte; a complete record holds one or more
 * STATE entries: the byte, the chardev id (be16 length, bytes), the
 * session (vmstate).
 */
enum { MONITOR_CPR_REC_SETUP, MONITOR_CPR_REC_STATE };
#define MONITOR_CPR_MAX_ID 1024
/*
 * The section's version. 2: entries named by chardev id (1: one section
 * per monitor, named by creation order).
 */
#define MONITOR_CPR_VERSION 2

typedef struct MonitorCprState {
    bool is_qmp;
    bool open;           /* greeted (QMP) / banner shown (HMP) */
    /* QMP */
    bool negotiated;
    bool oob_enabled;
    uint32_t depth;      /* the splitter's position in a partial value */
    uint8_t quote;
    bool escape;
    bool scalar;
    bool in_token;
    bool recovering;
    bool too_big;
    bool too_deep;
    uint32_t token_start;
    uint32_t input_len;
    /* HMP */
    uint32_t cursor;
    uint32_t shown_len;
    uint32_t shown_cursor;
    int32_t esc_state;
    int32_t esc_param;
    bool last_cr;
    int32_t hist_pos;
    uint32_t history_len;

    Monitor *mon;        /* not migrated: cpr-exec, whose session it is */

    /*
     * The texts, last: only their first *_len bytes are ever written or
     * read, so a state for the pause zeroes only what precedes them
     * (monitor_cpr_state_new(); 330 KiB to clear would cost tens of
     * microseconds there). New fields go above.
     */
    /* QMP: the partial value so far; HMP: the line being edited. */
    uint8_t input[MONITOR_CPR_INPUT_MAX];
    uint8_t shown[HMP_LINE_MAX];
    /* Lines, each NUL-terminated, oldest first. */
    uint8_t history[MONITOR_CPR_HISTORY_MAX];
} MonitorCprState;

/*
 * The state the pause's save or load uses for each monitor in turn (under
 * the big lock), with every field before the texts zeroed (see above).
 * Allocated by the section's setup, before the pause, and kept for the
 * process's life: a 330 KiB block is mmap()ed and unmapped, and an
 * unmap costs a TLB shootdown.
 */
static MonitorCprState *monitor_cpr_scratch(void)
{
    static MonitorCprState *st;

    if (!st) {
        st = g_malloc(sizeof(*st));
    }
    memset(st, 0, offsetof(MonitorCprState, input));
    return st;
}

/* What the loader must not accept, whatever the stream says. */
static bool monitor_cpr_post_load(void *opaque, int version_id,
                                  GError **errp)
{
    MonitorCprState *st = opaque;
    unsigned int lines = 0;

    if (st->quote && st->quote != '"' && st->quote != '\'') {
        error_setg(errp, "field 'quote': 0x%x is not a quote", st->quote);
        return false;
    }
    if (st->token_start > st->input_len || st->cursor > st->input_len ||
        st->shown_cursor > st->shown_len) {
        error_setg(errp, "field 'token_start', 'cursor' or 'shown_cursor' "
                   "is beyond its text");
        return false;
    }
    if (!st->is_qmp && st->input_len > HMP_LINE_MAX) {
        error_setg(errp, "field 'input': an HMP line of %u bytes exceeds "
                   "%d", st->input_len, HMP_LINE_MAX);
        return false;
    }
    if (st->esc_state < 0 || st->esc_state > 3) {
        error_setg(errp, "field 'esc_state': %d is out of range",
                   st->esc_state);
        return false;
    }
    if (st->history_len && st->history[st->history_len - 1]) {
        error_setg(errp, "field 'history': the last line is not terminated");
        return false;
    }
    for (uint32_t i = 0; i < st->history_len; i++) {
        lines += !st->history[i];
    }
    if (lines > HMP_HISTORY_MAX || st->hist_pos < -1 ||
        st->hist_pos >= (int32_t)lines) {
        error_setg(errp, "field 'history': %u lines, position %d", lines,
                   st->hist_pos);
        return false;
    }
    return true;
}

static const VMStateField monitor_cpr_fields[] = {
    VMSTATE_BOOL(is_qmp, MonitorCprState),
    VMSTATE_BOOL(open, MonitorCprState),
    VMSTATE_BOOL(negotiated, MonitorCprState),
    VMSTATE_BOOL(oob_enabled, MonitorCprState),
    VMSTATE_UINT32(depth, MonitorCprState),
    VMSTATE_UINT8(quote, MonitorCprState),
    VMSTATE_BOOL(escape, MonitorCprState),
    VMSTATE_BOOL(scalar, MonitorCprState),
    VMSTATE_BOOL(in_token, MonitorCprState),
    VMSTATE_BOOL(recovering, MonitorCprState),
    VMSTATE_BOOL(too_big, MonitorCprState),
    VMSTATE_BOOL(too_deep, MonitorCprState),
    VMSTATE_UINT32(token_start, MonitorCprState),
    VMSTATE_UINT8_VARRAY(input, MonitorCprState, input_len,
                         MONITOR_CPR_INPUT_MAX),
    VMSTATE_UINT32(cursor, MonitorCprState),
    VMSTATE_UINT8_VARRAY(shown, MonitorCprState, shown_len, HMP_LINE_MAX),
    VMSTATE_UINT32(shown_cursor, MonitorCprState),
    VMSTATE_INT32(esc_state, MonitorCprState),
    VMSTATE_INT32(esc_param, MonitorCprState),
    VMSTATE_BOOL(last_cr, MonitorCprState),
    VMSTATE_INT32(hist_pos, MonitorCprState),
    VMSTATE_UINT8_VARRAY(history, MonitorCprState, history_len,
                         MONITOR_CPR_HISTORY_MAX),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription monitor_cpr_vmsd = {
    .name = "monitor",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = monitor_cpr_fields,
    .post_load = monitor_cpr_post_load,
};

static bool monitor_cpr_capture_qmp(Monitor *mon, MonitorCprState *st,
                                    GError **errp)
{
    QmpSession *qs = &mon->qmp;
    QmpSplitter *js = &qs->splitter;

    st->open = qs->open;
    st->negotiated = qs->negotiated;
    st->oob_enabled = qs->oob_enabled;
    st->depth = js->depth;
    st->quote = js->quote;
    st->escape = js->escape;
    st->scalar = js->scalar;
    st->recovering = js->recovering;
    st->too_big = js->too_big;
    st->too_deep = js->too_deep;
    if (js->too_big) {
        /* Dropped at its end anyway: only where it ends matters. */
        return true;
    }
    if (js->buf->len > MONITOR_CPR_INPUT_MAX) {
        error_setg(errp, "monitor on chardev '%s': %zu bytes of "
                   "unprocessed QMP input exceed the %u bytes a live update "
                   "carries", chardev_id(mon->chr), js->buf->len,
                   MONITOR_CPR_INPUT_MAX);
        return false;
    }
    st->in_token = js->in_token;
    /* Stale (beyond the text) once the token has ended. */
    st->token_start = js->in_token ? js->token_start : 0;
    st->input_len = js->buf->len;
    memcpy(st->input, js->buf->str, js->buf->len);
    return true;
}

static bool monitor_cpr_capture_hmp(Monitor *mon, MonitorCprState *st,
                                    GError **errp)
{
    HmpReadline *rl = &mon->rl;

    if (rl->buf->len > HMP_LINE_MAX || rl->shown->len > HMP_LINE_MAX) {
        error_setg(errp, "monitor on chardev '%s': the HMP line of %zu "
                   "bytes exceeds %d", chardev_id(mon->chr),
                   MAX(rl->buf->len, rl->shown->len), HMP_LINE_MAX);
        return false;
    }
    st->open = rl->open;
    st->input_len = rl->buf->len;
    memcpy(st->input, rl->buf->str, rl->buf->len);
    st->cursor = rl->cursor;
    st->shown_len = rl->shown->len;
    memcpy(st->shown, rl->shown->str, rl->shown->len);
    st->shown_cursor = rl->shown_cursor;
    st->esc_state = rl->esc_state;
    st->esc_param = rl->esc_param;
    st->last_cr = rl->last_cr;
    st->hist_pos = rl->hist_pos;
    for (guint i = 0; i < rl->history->len; i++) {
        const char *line = g_ptr_array_index(rl->history, i);
        size_t n = strlen(line) + 1;

        if (st->history_len + n > MONITOR_CPR_HISTORY_MAX) {
            break; /* cannot happen with lines of at most HMP_LINE_MAX */
        }
        memcpy(st->history + st->history_len, line, n);
        st->history_len += n;
    }
    return true;
}

static void monitor_cpr_apply_qmp(Monitor *mon, const MonitorCprState *st)
{
    QmpSession *qs = &mon->qmp;
    QmpSplitter *js = &qs->splitter;

    qs->open = true;
    qs->negotiated = st->negotiated;
    qs->oob_enabled = st->oob_enabled;
    g_string_truncate(js->buf, 0);
    g_string_append_len(js->buf, (const char *)st->input, st->input_len);
    js->depth = st->depth;
    js->quote = st->quote;
    js->escape = st->escape;
    js->scalar = st->scalar;
    js->in_token = st->in_token;
    js->token_start = st->token_start;
    js->recovering = st->recovering;
    js->too_big = st->too_big;
    js->too_deep = st->too_deep;
}

static void monitor_cpr_apply_hmp(Monitor *mon, const MonitorCprState *st)
{
    HmpReadline *rl = &mon->rl;

    rl->open = true;
    g_string_truncate(rl->buf, 0);
    g_string_append_len(rl->buf, (const char *)st->input, st->input_len);
    rl->cursor = st->cursor;
    g_string_truncate(rl->shown, 0);
    g_string_append_len(rl->shown, (const char *)st->shown, st->shown_len);
    rl->shown_cursor = st->shown_cursor;
    rl->esc_state = st->esc_state;
    rl->esc_param = st->esc_param;
    rl->last_cr = st->last_cr;
    g_ptr_array_set_size(rl->history, 0);
    for (uint32_t i = 0; i < st->history_len;) {
        const char *line = (const char *)st->history + i;

        g_ptr_array_add(rl->history, g_strdup(line));
        i += strlen(line) + 1;
    }
    rl->hist_pos = st->hist_pos;
}

/* New process: continue the old process's session on the adopted peer. */
static void monitor_cpr_apply(Monitor *mon, const MonitorCprState *st)
{
    g_assert(chardev_cpr_inherited(mon->chr));
    if (!chardev_is_adopted_connected(mon->chr)) {
        if (st->open) {
            warn_report("monitor on chardev '%s': the old process's client "
                        "was not handed over (it connected after the update "
                        "started)", chardev_id(mon->chr));
        }
        return;
    }
    if (!st->open) {
        /* Connected, but the old process had not greeted it yet. */
        mon->cpr_greet = true;
        return;
    }
    if (mon->is_qmp) {
        monitor_cpr_apply_qmp(mon, st);
    } else {
        monitor_cpr_apply_hmp(mon, st);
    }
}

static bool monitor_cpr_is_active(void *opaque)
{
    if (!(MIG_MODE_BIT(migrate_mode()) & CPR_MODES_PRESERVING)) {
        return false;
    }
    for (GList *l = monitors; l; l = l->next) {
        Monitor *mon = l->data;

        if (chardev_cpr_handed_over(mon->chr)) {
            return true;
        }
    }
    return false;
}

static bool monitor_cpr_save_setup(MigStream *f, void *opaque, GError **errp)
{
    monitor_cpr_scratch(); /* now rather than in the pause */
    mig_put_u8(f, MONITOR_CPR_REC_SETUP);
    return true;
}

static bool monitor_cpr_load_setup(void *opaque, GError **errp)
{
    monitor_cpr_scratch(); /* now rather than in the pause */
    return true;
}

static bool monitor_cpr_save_one(MigStream *f, Monitor *mon, GError **errp)
{
    MonitorCprState *st = monitor_cpr_scratch();
    const char *id = chardev_id(mon->chr);
    bool ok;

    st->is_qmp = mon->is_qmp;
    st->hist_pos = -1;
    ok = mon->is_qmp ? monitor_cpr_capture_qmp(mon, st, errp)
                     : monitor_cpr_capture_hmp(mon, st, errp);
    if (!ok) {
        return false;
    }
    if (strlen(id) > MONITOR_CPR_MAX_ID) {
        error_setg(errp, "monitor on chardev '%.32s...': the id is longer "
                   "than the %d bytes a live update carries", id,
                   MONITOR_CPR_MAX_ID);
        return false;
    }
    mig_put_u8(f, MONITOR_CPR_REC_STATE);
    mig_put_be16(f, strlen(id));
    mig_put_buffer(f, id, strlen(id));
    return vmstate_save(f, &monitor_cpr_vmsd, st, errp);
}

static bool monitor_cpr_save_complete(MigStream *f, void *opaque,
                                      GError **errp)
{
    /* Events raised before the switch go out (if the chardev still may). */
    qmp_event_flush();
    for (GList *l = monitors; l; l = l->next) {
        Monitor *mon = l->data;

        /* Not handed over: this process keeps serving it. */
        if (!chardev_cpr_handed_over(mon->chr)) {
            continue;
        }
        /* A record holds whole entries: cut between two monitors. */
        if (!monitor_cpr_save_one(f, mon, errp) || !savevm_live_split(f)) {
            return false;
        }
    }
    return true;
}

/* This process's monitor on the chardev named ID, or NULL. */
static Monitor *monitor_find_chardev(const char *id)
{
    for (GList *l = monitors; l; l = l->next) {
        Monitor *mon = l->data;

        if (!strcmp(chardev_id(mon->chr), id)) {
            return mon;
        }
    }
    return NULL;
}

/* Go on with the old process's session ST on MON, which inherited it. */
static bool monitor_cpr_continue(Monitor *mon, const MonitorCprState *st,
                                 GError **errp)
{
    if (st->is_qmp != mon->is_qmp) {
        error_setg(errp, "monitor on chardev '%s' is %s here but was %s in "
                   "the old process", chardev_id(mon->chr),
                   mon->is_qmp ? "QMP" : "HMP", st->is_qmp ? "QMP" : "HMP");
        return false;
    }
    /* cpr-exec: restored at creation and live since; that one stays. */
    if (!mon->cpr_restored) {
        monitor_cpr_apply(mon, st);
    }
    return true;
}

/* One STATE entry: the session of the old process's monitor on ID. */
static bool monitor_cpr_load_one(MigStream *f, GError **errp)
{
    MonitorCprState *st = monitor_cpr_scratch();
    g_autofree char *id = NULL;
    uint16_t len = mig_get_be16(f);
    Monitor *mon;

    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (!len || len > MONITOR_CPR_MAX_ID || len > mig_stream_remaining(f)) {
        error_setg(errp, "chardev id length %u is out of range", len);
        return false;
    }
    id = g_malloc0(len + 1);
    mig_get_buffer(f, id, len);
    if (!vmstate_load(f, &monitor_cpr_vmsd, st, monitor_cpr_vmsd.version_id,
                      errp)) {
        g_prefix_error(errp, "monitor on chardev '%s': ", id);
        return false;
    }
    mon = monitor_find_chardev(id);
    if (!mon || !chardev_cpr_inherited(mon->chr)) {
        /* Its client stays with a chardev this process did not inherit. */
        return true;
    }
    return monitor_cpr_continue(mon, st, errp);
}

static bool monitor_cpr_compat_v1_load(MigStream *f, Monitor *mon,
                                       GError **errp);

static bool monitor_cpr_load_state(MigStream *f, void *opaque, int version_id,
                                   GError **errp)
{
    if (version_id == 1 && cpr_compat_v1()) {
        /* Instance 0 of a version-1 old process: its first monitor. */
        return monitor_cpr_compat_v1_load(f, monitors ? monitors->data : NULL,
                                          errp);
    }
    if (version_id != MONITOR_CPR_VERSION) {
        error_setg(errp, "version %d: sessions in another format (this "
                   "baton reads version %d)", version_id,
                   MONITOR_CPR_VERSION);
        return false;
    }
    while (mig_stream_remaining(f)) {
        uint8_t rec = mig_get_u8(f);

        if (rec == MONITOR_CPR_REC_SETUP) {
            continue;
        }
        if (rec != MONITOR_CPR_REC_STATE) {
            error_setg(errp, "unknown record kind %u", rec);
            return false;
        }
        if (!monitor_cpr_load_one(f, errp)) {
            return false;
        }
    }
    return mig_stream_check(f, errp);
}

static const SaveVMHandlers monitor_cpr_handlers = {
    .save_setup = monitor_cpr_save_setup,
    .save_complete = monitor_cpr_save_complete,
    .load_setup = monitor_cpr_load_setup,
    .load_state = monitor_cpr_load_state,
    .is_active = monitor_cpr_is_active,
};

/*
 * One section for all monitors, registered with the first one: sessions
 * are matched by chardev id, since the two processes may have different
 * monitors.
 */
static void monitor_cpr_register(void)
{
    static bool registered;

    if (!registered) {
        registered = true;
        savevm_register_live("monitor", 0, MONITOR_CPR_VERSION,
                             &monitor_cpr_handlers, NULL);
    }
}

/* ---- live update from a version-1 baton (cpr_compat_v1()) ---- */

/*
 * A version-1 old process (baton up to b23ea73) sends one "monitor"
 * section per monitor, version 1, numbered by creation order, which is
 * the same here (the same arguments; the fingerprint checked the
 * chardevs): its setup record is the SETUP byte, its complete record the
 * STATE byte and the session, without an id. Instance 0 reaches the
 * version-2 section, which passes it on to here; each later instance
 * reaches a section registered for it alone (never saved). Every chardev
 * is inherited from such a process, so the session always applies.
 */
static bool monitor_cpr_compat_v1_load(MigStream *f, Monitor *mon,
                                       GError **errp)
{
    g_autofree MonitorCprState *st = NULL;
    uint8_t rec = mig_get_u8(f);

    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (rec == MONITOR_CPR_REC_SETUP) {
        return true;
    }
    if (rec != MONITOR_CPR_REC_STATE) {
        error_setg(errp, "unknown record kind %u", rec);
        return false;
    }
    st = g_new0(MonitorCprState, 1);
    if (!vmstate_load(f, &monitor_cpr_vmsd, st, 1, errp)) {
        return false;
    }
    /* Instance 0 with no monitor here: nobody to give the session to. */
    if (!mon) {
        error_setg(errp, "the old process had a monitor, this one has none");
        return false;
    }
    return monitor_cpr_continue(mon, st, errp);
}

static bool monitor_cpr_compat_v1_load_state(MigStream *f, void *opaque,
                                             int version_id, GError **errp)
{
    return monitor_cpr_compat_v1_load(f, opaque, errp);
}

static bool monitor_cpr_compat_v1_is_active(void *opaque)
{
    return false;   /* for loading only: this process saves version 2 */
}

static const SaveVMHandlers monitor_cpr_compat_v1_handlers = {
    .load_state = monitor_cpr_compat_v1_load_state,
    .is_active = monitor_cpr_compat_v1_is_active,
};

/* MON, about to be appended to the monitors: its version-1 instance. */
static void monitor_cpr_compat_v1_register(Monitor *mon)
{
    unsigned int index = g_list_length(monitors);

    if (cpr_compat_v1() && index > 0) {
        savevm_register_live("monitor", index, 1,
                             &monitor_cpr_compat_v1_handlers, mon);
    }
}

static gboolean monitor_cpr_greet(gpointer opaque)
{
    for (GList *l = monitors; l; l = l->next) {
        Monitor *mon = l->data;

        if (mon->cpr_greet) {
            mon->cpr_greet = false;
            if (chardev_is_adopted_connected(mon->chr)) {
                monitor_event(mon, CHR_EVENT_OPENED);
            }
        }
    }
    return G_SOURCE_REMOVE;
}

/*
 * cpr-exec: the session goes with the CPR state, as the chardev's
 * "monitor" CPR vmstate section (the same fields as the version-2
 * section of the main channel). The CPR state is written after the
 * hand-over (input has stopped for good), so needed() captures the
 * session then; a session that cannot be captured is left out and the
 * new image starts a new one.
 */
static bool monitor_cpr_exec_needed(void *opaque)
{
    MonitorCprState *st = opaque;
    Monitor *mon = st->mon;

    if (migrate_mode() != MIG_MODE_CPR_EXEC) {
        return false;
    }
    memset(st, 0, sizeof(*st));
    st->mon = mon;
    st->is_qmp = mon->is_qmp;
    st->hist_pos = -1;
    return mon->is_qmp ? monitor_cpr_capture_qmp(mon, st, NULL)
                       : monitor_cpr_capture_hmp(mon, st, NULL);
}

static const VMStateDescription monitor_cpr_exec_vmsd = {
    .name = "monitor",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = monitor_cpr_fields,
    .needed = monitor_cpr_exec_needed,
    .post_load = monitor_cpr_post_load,
};

static void monitor_cpr_exec_register(Monitor *mon)
{
    mon->cpr_exec_st = g_new0(MonitorCprState, 1);
    mon->cpr_exec_st->mon = mon;
    cpr_vmstate_register((Object *)mon->chr, &monitor_cpr_exec_vmsd,
                         mon->cpr_exec_st);
}

static void monitor_cpr_exec_release(Monitor *mon)
{
    if (mon->cpr_exec_st) {
        cpr_vmstate_unregister((Object *)mon->chr,
                               &monitor_cpr_exec_vmsd);
        g_clear_pointer(&mon->cpr_exec_st, g_free);
    }
}

/*
 * cpr-exec, new image, as the monitor is created: continue the session
 * the old image left in the CPR state, and serve the client right away.
 */
static void monitor_cpr_exec_restore(Monitor *mon)
{
    g_autofree MonitorCprState *st = NULL;
    g_autoptr(GError) err = NULL;
    bool found;

    if (cpr_incoming_mode() != MIG_MODE_CPR_EXEC ||
        !chardev_cpr_inherited(mon->chr)) {
        return;
    }
    st = g_new0(MonitorCprState, 1);
    if (!cpr_vmstate_load((Object *)mon->chr, &monitor_cpr_exec_vmsd, st,
                          &found, &err) ||
        (found && st->is_qmp != mon->is_qmp)) {
        warn_report("monitor on chardev '%s': cannot restore the session "
                    "of the old image%s%s", chardev_id(mon->chr),
                    err ? ": " : "", err ? err->message : "");
        return;
    }
    if (!found) {
        return;
    }
    monitor_cpr_apply(mon, st);
    mon->cpr_restored = true;
    chardev_cpr_start_io(mon->chr);
    if (mon->cpr_greet) {
        g_idle_add(monitor_cpr_greet, NULL);
    }
}

static bool monitor_cpr_notify(CprEvent event, void *opaque, GError **errp)
{
    switch (event) {
    case CPR_EVENT_HANDOVER:
        /*
         * Events queued by other threads (STOP, raised by the migration
         * thread) reach the client before the chardevs go quiet: this
         * notifier's phase comes before the backends'.
         */
        qmp_event_flush();
        break;
    case CPR_EVENT_TAKEOVER:
        /* From the main loop, once the chardevs write again. */
        g_idle_add(monitor_cpr_greet, NULL);
        break;
    case CPR_EVENT_PREPARE:
    case CPR_EVENT_ROLLBACK:
    case CPR_EVENT_COMMIT:
        break;
    }
    return true;
}

static void __attribute__((constructor)) monitor_cpr_init(void)
{
    cpr_add_notifier(monitor_cpr_notify, NULL, CPR_PHASE_MONITOR);
}
