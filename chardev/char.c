/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The chardev core: creation from -chardev options (backend name -> type
 * "chardev-NAME", properties applied by object_create()), the common
 * options (logfile), the single frontend per chardev and event delivery,
 * writes, and teardown. Backends plug in through ChardevOps; the -serial
 * style shorthands and QMP's nested form are parsed in char-spec.c.
 */
#include "util/osdep.h"

#include <signal.h>

#include "chardev-internal.h"
#include "util/error-report.h"

static GHashTable *chr_backends; /* type name -> const ChardevOps * */

void chr_register_backend(const TypeInfo *ti, const ChardevOps *ops)
{
    g_assert(ti->parent && !strcmp(ti->parent, TYPE_CHARDEV));
    g_assert(g_str_has_prefix(ti->name, "chardev-"));
    g_assert(ti->realize == chr_realize && ti->unrealize == chr_unrealize);
    if (!chr_backends) {
        chr_backends = g_hash_table_new(g_str_hash, g_str_equal);
    }
    g_hash_table_insert(chr_backends, (gpointer)ti->name, (gpointer)ops);
    type_register(ti);
}

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

void chr_be_event(Chardev *chr, ChardevEvent event)
{
    chr->be_open = event == CHR_EVENT_OPENED;
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
    chr_close_fd(&chr->logfd);
    chr->be_open = false;
}

bool chr_realize(Object *obj, GError **errp)
{
    Chardev *chr = (Chardev *)obj;

    /* Zero-allocated: 0 would be stdin. */
    chr->logfd = -1;
    chr->ops = g_hash_table_lookup(chr_backends, obj->type->name);
    g_assert(chr->ops);
    chr_ignore_sigpipe();

    if (chr->logfile) {
        int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
                    (chr->logappend ? O_APPEND : O_TRUNC);

        chr->logfd = open(chr->logfile, flags, 0666);
        if (chr->logfd < 0) {
            error_setg_errno(errp, errno, "could not open logfile '%s'",
                             chr->logfile);
            return false;
        }
    }
    chr->live = true;
    if (!chr->ops->open(chr, errp)) {
        chr_teardown(chr);
        return false;
    }
    return true;
}

void chr_unrealize(Object *obj)
{
    chr_teardown((Chardev *)obj);
}

/* ---- creation ---- */

/* QEMU's id rule: a letter, then letters, digits, '-', '.', '_'. */
static bool chr_id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
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
        error_setg(errp, "Parameter 'id' expects an identifier");
        return NULL;
    }
    if (!backend) {
        error_setg(errp, "chardev: \"%s\" missing backend", id);
        return NULL;
    }
    typename = g_strdup_printf("chardev-%s", backend);
    if (!chr_backends || !g_hash_table_contains(chr_backends, typename)) {
        error_setg(errp, "'%s' is not a valid char driver name", backend);
        return NULL;
    }
    if (!chr_opts_fixup(flat, id, errp)) {
        return NULL;
    }
    opts_del(flat, "backend");
    return (Chardev *)object_create(typename, flat, NULL, errp);
}

Chardev *chardev_find(const char *id)
{
    return (Chardev *)object_find(TYPE_CHARDEV, id);
}

const char *chardev_id(const Chardev *chr)
{
    return chr->parent_obj.id;
}

char *chardev_filename(const Chardev *chr)
{
    if (chr->live && chr->ops->filename) {
        return chr->ops->filename((Chardev *)chr);
    }
    return g_strdup(chr->parent_obj.type->name + strlen("chardev-"));
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
    if (chr->be_open) {
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
}

/* Logs are best effort, as in QEMU: errors are not reported. */
static void chr_write_log(Chardev *chr, const uint8_t *buf, size_t len)
{
    if (chr->logfd >= 0 && len) {
        (void)chr_fd_write_all(chr->logfd, false, buf, len);
    }
}

ssize_t chardev_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    ssize_t r;

    if (!chr->live) {
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

void chardev_disconnect(Chardev *chr)
{
    if (chr->live && chr->ops->disconnect) {
        chr->ops->disconnect(chr);
    }
}

static void chr_teardown_one(Object *obj, void *opaque)
{
    Chardev *chr = (Chardev *)obj;

    if (chr->ops) {
        chr_teardown(chr);
    }
}

void chardev_cleanup_all(void)
{
    object_foreach(TYPE_CHARDEV, chr_teardown_one, NULL);
}
