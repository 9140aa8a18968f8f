/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The chardev core: creation from -chardev options (backend name -> type
 * "chardev-NAME", an object at /chardevs/ID), the common
 * options (logfile), the single frontend per chardev and event delivery,
 * writes, and teardown. Backends plug in through ChardevOps; the -serial
 * style shorthands and QMP's nested form are parsed in char-spec.c.
 */
#include "util/osdep.h"

#include <signal.h>

#include "chardev-internal.h"
#include "migration/cpr.h"
#include "system/runstate.h"
#include "util/error-report.h"

#include "trace.h"


#define CHARDEVS_PATH "/chardevs"

static Object *chr_container(void)
{
    return container_get(object_get_root(), CHARDEVS_PATH);
}

void chardev_foreach(void (*fn)(Chardev *chr, void *opaque), void *opaque)
{
    g_autoptr(GPtrArray) all =
        g_ptr_array_copy(chr_container()->children, NULL, NULL);

    for (guint i = 0; i < all->len; i++) {
        fn(g_ptr_array_index(all, i), opaque);
    }
}

static bool chr_complete(Object *obj, GError **errp);
static void chr_uncomplete(Object *obj);

static void chr_backend_class_init(ObjectClass *oc, const void *data)
{
    const ChardevBackendDef *def = data;

    ((ChardevClass *)oc)->ops = def->ops;
    object_class_add_props(oc, def->props);
    oc->cpr_modes = def->cpr_modes;
    oc->desc = def->desc;
}

void chr_register_backend(const ChardevBackendDef *def)
{
    TypeInfo *ti = g_new0(TypeInfo, 1);

    g_assert(g_str_has_prefix(def->name, "chardev-"));
    ti->name = def->name;
    ti->parent = TYPE_CHARDEV;
    ti->instance_size = def->instance_size;
    ti->class_init = chr_backend_class_init;
    ti->class_data = def;
    type_register(ti);
}

static void chr_class_init(ObjectClass *oc, const void *data)
{
    oc->complete = chr_complete;
    oc->uncomplete = chr_uncomplete;
}

static const TypeInfo chr_type = {
    .name = TYPE_CHARDEV,
    .parent = TYPE_OBJECT,
    .abstract = true,
    .instance_size = sizeof(Chardev),
    .class_size = sizeof(ChardevClass),
    .class_init = chr_class_init,
};

static void chr_register_types(void)
{
    type_register(&chr_type);
    /* chardev=ID links resolve here. */
    object_register_link_container(TYPE_CHARDEV, CHARDEVS_PATH);
}
type_init(chr_register_types)

/* ---- frontend delivery ---- */

size_t chr_be_can_read(Chardev *chr)
{
    /* No input before the frontend has heard OPENED (QMP greets first). */
    if (!chr->fe_ops || !chr->fe_ops->read || chr->fe_open_idle) {
        return 0;
    }
    if (!chr->fe_ops->can_read) {
        return SIZE_MAX;
    }
    return chr->fe_ops->can_read(chr->fe_opaque);
}

void chr_be_read(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->fe_ops && chr->fe_ops->read) {
        chr->fe_ops->read(chr->fe_opaque, buf, len);
    }
}

static void chr_cancel_open_idle(Chardev *chr)
{
    if (chr->fe_open_idle) {
        g_source_remove(chr->fe_open_idle);
        chr->fe_open_idle = 0;
    }
}

static bool chr_hold_release(Chardev *chr);

void chr_be_event(Chardev *chr, ChardevEvent event)
{
    if (event == CHR_EVENT_OPENED && chr->cpr_state == CHR_CPR_WAITING) {
        /*
         * Live update, new process: a peer opened now was handed over
         * (connected to the old process all along). For the frontend the
         * session just goes on, restored from its migrated state.
         */
        chr->be_open = true;
        chr->adopted_conn = true;
        return;
    }
    if (event == CHR_EVENT_CLOSED) {
        chr->adopted_conn = false;
        if (chr->cpr_state == CHR_CPR_WAITING) {
            /*
             * A handed-over peer that the old process saw leave after
             * the CPR state (cpr_late): the frontend never served it.
             */
            chr->be_open = false;
            return;
        }
    }
    chr->be_open = event == CHR_EVENT_OPENED;
    if (chr->be_open) {
        /* Held output first: it came before anything the peer causes. */
        chr_hold_release(chr);
    }
    if (chr->fe_open_idle) {
        /*
         * A freshly attached frontend was about to hear OPENED for the
         * previous connection: deliver this event instead, and swallow a
         * CLOSED for a connection the frontend never saw open.
         */
        chr_cancel_open_idle(chr);
        if (event == CHR_EVENT_CLOSED) {
            return;
        }
    }
    if (chr->fe_ops && chr->fe_ops->event) {
        chr->fe_ops->event(chr->fe_opaque, event);
    }
}

static gboolean chr_fe_open_idle(gpointer opaque)
{
    Chardev *chr = opaque;

    chr->fe_open_idle = 0;
    if (chr->be_open && chr->fe_ops && chr->fe_ops->event) {
        chr->fe_ops->event(chr->fe_opaque, CHR_EVENT_OPENED);
    }
    return G_SOURCE_REMOVE;
}

/* ---- realize / teardown ---- */

static void chr_ignore_sigpipe(void)
{
    static bool done;
    struct sigaction old;

    /*
     * A peer that goes away must surface as EPIPE on the write, not kill
     * the VMM. Sockets also use MSG_NOSIGNAL; this covers pipes, ptys and
     * stdout. A handler someone else installed is left alone.
     */
    if (!done && sigaction(SIGPIPE, NULL, &old) == 0 &&
        old.sa_handler == SIG_DFL) {
        signal(SIGPIPE, SIG_IGN);
    }
    done = true;
}

/* Release everything the backend holds; safe to call repeatedly. */
static void chr_teardown(Chardev *chr)
{
    chr_cancel_open_idle(chr);
    if (chr->live) {
        chr->live = false;
        chr->ops->close(chr);
    }
    chr_cpr_forget(chr, "log", chr->logfd);
    chr_close_fd(&chr->logfd);
    chr->be_open = false;
    chr->adopted_conn = false;
    if (chr->held) {
        g_byte_array_free(chr->held, true);
        chr->held = NULL;
    }
}

static bool chr_cpr_init(Chardev *chr, GError **errp);

static bool chr_complete(Object *obj, GError **errp)
{
    Chardev *chr = (Chardev *)obj;

    /* Zero-allocated: 0 would be stdin. */
    chr->logfd = -1;
    chr->ops = ((ChardevClass *)object_get_class(obj))->ops;
    g_assert(chr->ops);
    chr_ignore_sigpipe();
    if (!chr_cpr_init(chr, errp)) {
        chr_cpr_release(chr);
        return false;
    }

    /* Live update: the old process's log, not truncated again. */
    chr->logfd = chr->logfile ? chr_cpr_find(chr, "log") : -1;
    if (chr->logfile && chr->logfd < 0) {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
                    (chr->logappend ? O_APPEND : O_TRUNC);

        chr->logfd = open(chr->logfile, flags, 0666);
        if (chr->logfd < 0) {
            error_setg_errno(errp, errno, "could not open logfile '%s'",
                             chr->logfile);
            chr_cpr_release(chr);
            return false;
        }
        chr_cpr_save(chr, "log", chr->logfd);
    }
    chr->live = true;
    if (!chr->ops->open(chr, errp)) {
        trace_chardev_open(chardev_id(chr), object_get_typename(obj), false);
        chr_teardown(chr);
        chr_cpr_release(chr);
        return false;
    }
    trace_chardev_open(chardev_id(chr), object_get_typename(obj), true);
    return true;
}

static void chr_uncomplete(Object *obj)
{
    trace_chardev_close(chardev_id((Chardev *)obj));
    chr_teardown((Chardev *)obj);
    chr_cpr_release((Chardev *)obj);
}

/* ---- creation ---- */

/*
 * QEMU's id rule: a letter, then letters, digits, '-', '.', '_'. Ours
 * adds a bound: live update names a chardev's fds by its id.
 */
#define CHR_ID_MAX 1000

static bool chr_id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0]) || strlen(id) > CHR_ID_MAX) {
        return false;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

/* Options QEMU accepts on every backend that baton handles here. */
static bool chr_opts_fixup(OptList *opts, const char *id, GError **errp)
{
    bool mux;

    if (!chr_parse_bool_opt("mux", opts_get(opts, "mux"), false, &mux,
                            errp)) {
        return false;
    }
    if (mux) {
        error_setg(errp, "chardev '%s': mux=on is not supported", id);
        return false;
    }
    opts_del(opts, "mux");
    /* QEMU's legacy flag spelling: "server,nowait". */
    if (opts_del(opts, "nowait") && !opts_has(opts, "wait")) {
        opts_set(opts, "wait", "off");
    }
    return true;
}

static OptList *chr_opts_copy(const OptList *opts)
{
    OptList *copy = opts_new();

    for (unsigned int i = 0; i < opts_count(opts); i++) {
        opts_set(copy, opts_key(opts, i), opts_value(opts, i));
    }
    return copy;
}

Chardev *chardev_new_from_opts(const OptList *opts, GError **errp)
{
    static const char *const id_key[] = { "id", NULL };
    g_autoptr(OptList) flat = NULL;
    g_autofree char *typename = NULL;
    const char *id;
    const char *backend;

    if (opts_has(opts, "backend.type")) {
        flat = chr_opts_from_qapi(opts, errp);
        if (!flat) {
            return NULL;
        }
    } else {
        flat = chr_opts_copy(opts);
    }
    id = opts_get(flat, "id");
    backend = opts_get(flat, "backend");
    if (!id) {
        error_setg(errp, "chardev: no id specified");
        return NULL;
    }
    if (!chr_id_wellformed(id)) {
        error_setg(errp, "Parameter 'id' expects an identifier%s",
                   strlen(id) > CHR_ID_MAX ? " of at most "
                   G_STRINGIFY(CHR_ID_MAX) " characters" : "");
        return NULL;
    }
    if (!backend) {
        error_setg(errp, "chardev: \"%s\" missing backend", id);
        return NULL;
    }
    typename = g_strdup_printf("chardev-%s", backend);
    if (!object_class_dynamic_cast(object_class_by_name(typename),
                                   TYPE_CHARDEV)) {
        error_setg(errp, "'%s' is not a valid char driver name", backend);
        return NULL;
    }
    if (!chr_opts_fixup(flat, id, errp)) {
        return NULL;
    }
    opts_del(flat, "backend");
    return (Chardev *)object_new_child_with_opts(chr_container(), id,
                                                 "chardev", typename, flat,
                                                 id_key, errp);
}

Chardev *chardev_find(const char *id)
{
    return (Chardev *)object_resolve_path_component(chr_container(), id);
}

const char *chardev_id(const Chardev *chr)
{
    return object_get_id(&chr->parent_obj);
}

char *chardev_filename(const Chardev *chr)
{
    if (chr->live && chr->ops->filename) {
        return chr->ops->filename((Chardev *)chr);
    }
    return g_strdup(object_get_typename(&chr->parent_obj) +
                    strlen("chardev-"));
}

bool chardev_frontend_open(const Chardev *chr)
{
    return chr->fe_ops != NULL;
}

/* ---- frontends ---- */

bool chardev_attach(Chardev *chr, const ChardevFrontendOps *ops, void *opaque,
                    GError **errp)
{
    if (chr->fe_ops) {
        error_setg(errp, "chardev '%s' is already in use", chardev_id(chr));
        return false;
    }
    chr->fe_ops = ops;
    chr->fe_opaque = opaque;
    /* A handed-over peer is no news to the frontend: no OPENED. */
    if (chr->be_open && !chr->adopted_conn) {
        chr->fe_open_idle = g_idle_add(chr_fe_open_idle, chr);
    }
    /* Let a watch that saw no frontend start polling its fd. */
    g_main_context_wakeup(NULL);
    return true;
}

void chardev_detach(Chardev *chr)
{
    chr_cancel_open_idle(chr);
    chr->fe_ops = NULL;
    chr->fe_opaque = NULL;
    chardev_cpr_set_frontend(chr, NULL);
}

/* Logs are best effort, as in QEMU: errors are not reported. */
static void chr_write_log(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->logfd >= 0 && len) {
        (void)chr_fd_write_all(chr->logfd, false, buf, len);
    }
}

/* ---- output held for the next peer (migration continuity) ---- */

/*
 * Held output goes out only to a peer, only when this process may write
 * (live update: not while the other process owns the fds), and only once
 * the guest has started in this process (held_frozen): a destination
 * must not send it before it owns the guest (the migration may still
 * fail and the source resume with the same bytes), and a source whose
 * state was saved must not send what the destination now sends.
 */
static bool chr_hold_may_send(const Chardev *chr)
{
    return chr->live && chr->be_open && chr_cpr_may_write(chr) &&
           !chr->held_frozen;
}

static void chr_hold_append(Chardev *chr, const uint8_t *buf, size_t len)
{
    size_t n = MIN(len, CHARDEV_HOLD_MAX - chr->held->len);

    /* Keep the oldest: the peer gets a gap-free continuation first. */
    g_byte_array_append(chr->held, buf, n);
    chr->held_dropped += len - n;
}

/*
 * Send what is held; true when the hold has ended (nothing was held or
 * the peer took all of it), false while bytes remain held.
 */
static bool chr_hold_release(Chardev *chr)
{
    ssize_t r;

    if (!chr->held) {
        return true;
    }
    if (!chr_hold_may_send(chr)) {
        return false;
    }
    if (chr->held->len && chr->ops->write) {
        r = chr->ops->write(chr, chr->held->data, chr->held->len);
        if (r <= 0) {
            /* A stalled or failing peer: the next one gets it all. */
            return false;
        }
        g_byte_array_remove_range(chr->held, 0, r);
        if (chr->held->len) {
            return false;
        }
    }
    if (chr->held_dropped) {
        warn_report("chardev '%s': %" PRIu64 " bytes of output were "
                    "dropped while it had no peer after the migration "
                    "(the first %d were kept)", chardev_id(chr),
                    chr->held_dropped, CHARDEV_HOLD_MAX);
    }
    g_byte_array_free(chr->held, true);
    chr->held = NULL;
    chr->held_dropped = 0;
    return true;
}

void chardev_hold_output(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (!chr->held) {
        chr->held = g_byte_array_new();
    }
    g_byte_array_set_size(chr->held, 0);
    chr->held_dropped = 0;
    chr->held_frozen = true;
    chr_hold_append(chr, buf, len);
}

size_t chardev_hold_save(Chardev *chr, uint8_t *buf, size_t max)
{
    size_t n;

    if (!chr->held) {
        return 0;
    }
    chr->held_frozen = true;
    n = MIN(chr->held->len, max);
    memcpy(buf, chr->held->data, n);
    return n;
}

static void chr_hold_release_one(Chardev *chr, void *opaque)
{

    if (chr->ops && chr->held) {
        chr->held_frozen = false;
        chr_hold_release(chr);
    }
}

static void chr_hold_flush_one(Chardev *chr, void *opaque)
{

    if (chr->ops && chr->held) {
        chr_hold_release(chr);
    }
}

/*
 * The guest starts (or resumes after a failed migration) here: this
 * process owns its output now, and what is held goes out first.
 */
static void chr_hold_vm_start(void *opaque, bool running, RunState state)
{
    if (!running) {
        return;
    }
    chardev_foreach(chr_hold_release_one, NULL);
}

ssize_t chardev_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    ssize_t r;

    /* Live update: the other process owns the output (see ChrCprState). */
    if (!chr->live || !chr_cpr_may_write(chr)) {
        return len;
    }
    if (!chr_hold_release(chr)) {
        /* The log records output when it is written, as always. */
        chr_write_log(chr, buf, len);
        chr_hold_append(chr, buf, len);
        return len;
    }
    if (!chr->ops->write) {
        chr_write_log(chr, buf, len);
        return len;
    }
    r = chr->ops->write(chr, buf, len);
    chr_write_log(chr, buf, r > 0 ? (size_t)r : len);
    return r;
}

bool chardev_is_adopted_connected(const Chardev *chr)
{
    return chr->adopted_conn;
}

void chardev_disconnect(Chardev *chr)
{
    /* A peer that belongs to the other process is not ours to drop. */
    if (chr->live && chr->ops->disconnect && chr_cpr_may_write(chr)) {
        chr->ops->disconnect(chr);
    }
}

static void chr_teardown_one(Chardev *chr, void *opaque)
{

    if (chr->ops) {
        chr_teardown(chr);
    }
}

void chardev_cleanup_all(void)
{
    chardev_foreach(chr_teardown_one, NULL);
}

/*
 * ---- live update (CPR) ----
 *
 * Every chardev fd is in the CPR registry, so a new process adopts the
 * old one's sockets, files, pipes and pty masters (see each backend's
 * open) for each chardev it inherits: one configured as in the old
 * process (char-cpr.c). Any other chardev of the new process is new and
 * LIVE from the start, and the old process keeps the one it had, LIVE
 * too: a chardev the new process does not inherit never leaves LIVE
 * here. Both processes then hold the same open files, and only one may
 * do I/O on them at any time; chr->cpr_state says which:
 *
 *   old process: LIVE -> NO_ACCEPT (migration set up) -> GONE (HANDOVER:
 *     the guest has stopped, its state is about to be saved); ROLLBACK
 *     returns to LIVE from anywhere, and so does a migration that ends
 *     before it stops the guest;
 *   new process: WAITING from creation -> LIVE at the take-over.
 *
 * Stopping input no later than the device state is saved is what makes
 * the hand-over lossless: a byte is either consumed by the old process
 * before the save (and is in the saved state: UART FIFO, monitor input)
 * or still queued in the kernel for the new process. The core sends
 * HANDOVER right after stopping the guest, before it saves the device
 * state; PREPARE, when the update is set up, stops accepting, so that no
 * client connects to a process that is about to go (it stays queued for
 * the next one). Both are CPR notifiers (backend phase: after the
 * monitors flushed their events).
 */

int chr_cpr_find(Chardev *chr, const char *role)
{
    if (!chardev_cpr_inherited(chr)) {
        return -1;
    }
    return cpr_take_fd(&chr->parent_obj, role, 0);
}

void chr_cpr_save(Chardev *chr, const char *role, int fd)
{
    cpr_own_fd(&chr->parent_obj, role, 0, fd);
}

void chr_cpr_forget(Chardev *chr, const char *role, int fd)
{
    cpr_disown_fd(&chr->parent_obj, role, 0, fd);
}

static void chr_cpr_set(Chardev *chr, ChrCprState state)
{
    if (chr->cpr_state == state) {
        return;
    }
    chr->cpr_state = state;
    if (chr->live && chr->ops->cpr_update) {
        chr->ops->cpr_update(chr);
    }
}

void chardev_cpr_start_io(Chardev *chr)
{
    if (chr->cpr_state == CHR_CPR_WAITING &&
        cpr_incoming_mode() == MIG_MODE_CPR_EXEC) {
        chr_cpr_set(chr, CHR_CPR_LIVE);
        g_main_context_wakeup(NULL);
    }
}

typedef struct ChrCprMove {
    ChrCprState from_min, from_max, to;
} ChrCprMove;

static void chr_cpr_move_one(Chardev *chr, void *opaque)
{
    const ChrCprMove *m = opaque;

    if (!chr->ops || chr->cpr_state < m->from_min ||
        chr->cpr_state > m->from_max) {
        return;
    }
    /* One the new process opens anew stays ours, and live. */
    if (m->to != CHR_CPR_LIVE && !chardev_cpr_handed_over(chr)) {
        return;
    }
    chr_cpr_set(chr, m->to);
}

/* Every chardev whose state is in [FROM_MIN, FROM_MAX] goes to TO. */
static void chr_cpr_move_all(ChrCprState from_min, ChrCprState from_max,
                             ChrCprState to)
{
    ChrCprMove m = { from_min, from_max, to };

    chardev_foreach(chr_cpr_move_one, &m);
    /* Read watches pick their new state up in their next prepare. */
    g_main_context_wakeup(NULL);
}

static bool chr_cpr_notify(CprEvent event, void *opaque, GError **errp)
{
    switch (event) {
    case CPR_EVENT_PREPARE:
        /*
         * No client connects to a process that is about to go: it stays
         * queued for whichever process runs the guest next.
         */
        chr_cpr_move_all(CHR_CPR_LIVE, CHR_CPR_LIVE, CHR_CPR_NO_ACCEPT);
        break;
    case CPR_EVENT_HANDOVER:
        /*
         * The new process serves every peer from now on (unless ROLLBACK
         * comes). Our copies of the fds stay open (closing them at exit
         * is harmless, shutting sockets down would cut the peers off)
         * but nothing is read, accepted or written on them.
         */
        chr_cpr_move_all(CHR_CPR_LIVE, CHR_CPR_NO_ACCEPT, CHR_CPR_GONE);
        break;
    case CPR_EVENT_ROLLBACK:
        /* The update failed: back to work, nothing was lost. */
        chr_cpr_move_all(CHR_CPR_NO_ACCEPT, CHR_CPR_GONE, CHR_CPR_LIVE);
        break;
    case CPR_EVENT_TAKEOVER:
        chr_cpr_move_all(CHR_CPR_WAITING, CHR_CPR_WAITING, CHR_CPR_LIVE);
        /*
         * vm_start() ran just before, while the fds were not ours yet:
         * what a quiet guest's chardevs hold goes out now.
         */
        chardev_foreach(chr_hold_flush_one, NULL);
        break;
    case CPR_EVENT_COMMIT:
        /* Nothing to take: the fds are read from TAKEOVER on. */
        break;
    }
    return true;
}

/*
 * New process: one of an inherited chardev's fds changed in the old
 * process after the CPR state was sent (a client connected or left
 * before the old process stopped accepting): the backend swaps it.
 */
static bool chr_cpr_late(Object *obj, const char *role, int index, int old_fd,
                         int fd, GError **errp)
{
    Chardev *chr = (Chardev *)obj;

    if (!chr->ops || chr->cpr_state != CHR_CPR_WAITING || index != 0 ||
        !chr->ops->cpr_late) {
        error_setg(errp,
                   "chardev '%s' (%s) cannot take a new '%s' "
                   "descriptor before the take-over",
                   chardev_id(chr), object_get_typename(obj), role);
        if (old_fd >= 0) {
            close(old_fd);
        }
        return false;
    }
    return chr->ops->cpr_late(chr, role, old_fd, fd, errp);
}

/* At realize: the starting state, and the hooks on first use. */
static bool chr_cpr_init(Chardev *chr, GError **errp)
{
    static bool registered;

    if (!registered) {
        registered = true;
        cpr_add_notifier(chr_cpr_notify, NULL, CPR_PHASE_BACKEND);
        cpr_add_late_handler(TYPE_CHARDEV, chr_cpr_late);
        vm_add_change_state_handler(chr_hold_vm_start, NULL, NULL,
                                    VM_CHANGE_STATE_PRIO_DEFAULT);
    }
    chr->adopted_conn = false;
    chr->cpr_state = CHR_CPR_LIVE;
    if (!chr_cpr_decide(chr, errp)) {
        return false;
    }
    /* Until the take-over the old process serves what it handed over. */
    if (chardev_cpr_inherited(chr)) {
        chr->cpr_state = CHR_CPR_WAITING;
    }
    return true;
}
