/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live update (CPR): whether a chardev of a new process inherits the old
 * process's chardev of the same id. It does when both are configured the
 * same, and then adopts the old fds (each backend's open); otherwise it
 * opens its own and the old process keeps serving its own, as QEMU's
 * cpr-transfer expects of a new process with, say, its own -qmp path.
 * The I/O states of inherited chardevs are char.c's.
 */
#include "util/osdep.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "chardev-internal.h"

/*
 * A chardev's record (cpr_owner_record()), one fact per line:
 *
 *   options BACKEND[,NAME=VALUE]...
 *       every property whose value differs from its default, sorted by
 *       name: booleans as on/off (also the string-typed 'wait'), numbers
 *       in decimal, commas in values doubled, file names ('path' unless
 *       abstract=on, 'logfile') made absolute against the working
 *       directory and normalised lexically (no symlinks resolved);
 *   claim PATH
 *       each host path it opens or binds for itself: a listening UNIX
 *       socket's file ("@NAME" if abstract), an output file, a FIFO, a
 *       log file; two processes must not both open one anew;
 *   frontend DESC
 *       the monitor on it, e.g. "monitor,mode=control".
 *
 * A new process inherits a chardev when the "options" lines are equal;
 * the rest must then be equal too (cpr_owner_settle()). Defaults do not
 * appear, so that a newer binary with new properties still inherits.
 */

/* String properties that name a host file. */
static const char *const chr_path_props[] = { "path", "logfile", NULL };

/* Host paths a chardev takes for itself; see "claim" above. */
static const struct {
    const char *type;       /* NULL: every backend */
    const char *prop;
    const char *only_if;    /* a bool property that must be on, or NULL */
} chr_claims[] = {
    { "chardev-socket", "path", "server" },  /* a client shares a server */
    { "chardev-file", "path", NULL },
    { "chardev-pipe", "path", NULL },
    { NULL, "logfile", NULL },
};

static const Property *chr_prop_find(const Chardev *chr, const char *name)
{
    return object_class_find_prop(object_get_class(&chr->parent_obj), name);
}

static const void *chr_prop_ptr(const Chardev *chr, const Property *p)
{
    return (const char *)chr + p->offset;
}

static const char *chr_prop_str(const Chardev *chr, const char *name)
{
    const Property *p = chr_prop_find(chr, name);

    return p && p->kind == PROP_STRING ?
           *(char *const *)chr_prop_ptr(chr, p) : NULL;
}

static bool chr_prop_bool(const Chardev *chr, const char *name)
{
    const Property *p = chr_prop_find(chr, name);

    return p && p->kind == PROP_BOOL && *(const bool *)chr_prop_ptr(chr, p);
}

/* Whether A and B name the same file, made absolute here (no symlinks). */
static bool chr_same_file_name(const char *a, const char *b)
{
    g_autofree char *ca = g_canonicalize_filename(a, NULL);
    g_autofree char *cb = g_canonicalize_filename(b, NULL);

    return !strcmp(ca, cb);
}

/* Whether property NAME of CHR holds a host file name. */
static bool chr_is_path(const Chardev *chr, const char *name)
{
    if (!g_strv_contains(chr_path_props, name)) {
        return false;
    }
    /* An abstract socket's 'path' is a name, not a file. */
    return strcmp(name, "path") || !chr_prop_bool(chr, "abstract");
}

static uint64_t chr_prop_uint(const Chardev *chr, const Property *p)
{
    const void *v = chr_prop_ptr(chr, p);

    switch (p->kind) {
    case PROP_UINT8:
        return *(const uint8_t *)v;
    case PROP_UINT16:
        return *(const uint16_t *)v;
    case PROP_UINT32:
        return *(const uint32_t *)v;
    default:
        return *(const uint64_t *)v;
    }
}

/* P's value in canonical text, or NULL when it is the default. */
static char *chr_prop_text(const Chardev *chr, const Property *p)
{
    const char *s;
    bool b, def_b = false;
    uint64_t u, def_u = 0;

    switch (p->kind) {
    case PROP_STRING:
        s = *(char *const *)chr_prop_ptr(chr, p);
        if (!s || (p->defval && !strcmp(s, p->defval))) {
            return NULL;
        }
        if (chr_is_path(chr, p->name)) {
            return g_canonicalize_filename(s, NULL);
        }
        /* 'wait' is text only so that "not given" shows. */
        if (!strcmp(p->name, "wait") && parse_bool(s, &b)) {
            return g_strdup(b ? "on" : "off");
        }
        return g_strdup(s);
    case PROP_BOOL:
        b = *(const bool *)chr_prop_ptr(chr, p);
        if (p->defval) {
            parse_bool(p->defval, &def_b);
        }
        return b == def_b ? NULL : g_strdup(b ? "on" : "off");
    case PROP_UINT8:
    case PROP_UINT16:
    case PROP_UINT32:
    case PROP_UINT64:
    case PROP_SIZE:
        u = chr_prop_uint(chr, p);
        if (p->defval) {
            if (p->kind == PROP_SIZE) {
                parse_size(p->defval, 1, &def_u);
            } else {
                parse_uint(p->defval, &def_u);
            }
        }
        return u == def_u ? NULL : g_strdup_printf("%" PRIu64, u);
    default:
        /* Chardevs have no link properties. */
        return NULL;
    }
}

static gint chr_str_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append V with each comma doubled, as -chardev options escape them. */
static void chr_append_escaped(GString *out, const char *v)
{
    for (; *v; v++) {
        g_string_append_c(out, *v);
        if (*v == ',') {
            g_string_append_c(out, ',');
        }
    }
}

char *chr_cpr_options(const Chardev *chr)
{
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
    ObjectClass *oc = object_get_class(&chr->parent_obj);
    GString *out = g_string_new(object_class_get_name(oc) +
                                strlen("chardev-"));

    for (guint i = 0; i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);
        g_autofree char *v = NULL;
        GString *item;

        if (object_class_find_prop(oc, p->name) != p) {
            continue;   /* redefined by a subclass */
        }
        v = chr_prop_text(chr, p);
        if (!v) {
            continue;
        }
        item = g_string_new(p->name);
        g_string_append_c(item, '=');
        chr_append_escaped(item, v);
        g_ptr_array_add(items, g_string_free(item, false));
    }
    g_ptr_array_sort(items, chr_str_cmp);
    for (guint i = 0; i < items->len; i++) {
        g_string_append_printf(out, ",%s",
                               (char *)g_ptr_array_index(items, i));
    }
    return g_string_free(out, false);
}

/* Append a "claim" line for each host path CHR takes for itself. */
static void chr_cpr_append_claims(const Chardev *chr, GString *out)
{
    const char *type = object_get_typename(&chr->parent_obj);

    for (size_t i = 0; i < G_N_ELEMENTS(chr_claims); i++) {
        const char *v = chr_prop_str(chr, chr_claims[i].prop);

        if (!v || (chr_claims[i].type && strcmp(chr_claims[i].type, type)) ||
            (chr_claims[i].only_if &&
             !chr_prop_bool(chr, chr_claims[i].only_if))) {
            continue;
        }
        if (chr_is_path(chr, chr_claims[i].prop)) {
            g_autofree char *abs = g_canonicalize_filename(v, NULL);

            g_string_append_printf(out, "\nclaim %s", abs);
        } else {
            g_string_append_printf(out, "\nclaim @%s", v);
        }
    }
}

/* The owner name of CHR's records: its canonical path. */
static char *chr_cpr_owner(const Chardev *chr)
{
    return object_get_canonical_path(&chr->parent_obj);
}

/* Record what CHR is now (options, claims, frontend) for CPR. */
static void chr_cpr_record(Chardev *chr)
{
    g_autofree char *owner = chr_cpr_owner(chr);
    GString *rec = g_string_new("options ");

    g_string_append(rec, chr->cpr_options);
    chr_cpr_append_claims(chr, rec);
    if (chr->cpr_frontend) {
        g_string_append_printf(rec, "\nfrontend %s", chr->cpr_frontend);
    }
    cpr_owner_record(owner, rec->str);
    g_string_free(rec, true);
}

/* The "options" line of RECORD without its keyword (a new string). */
static char *chr_record_options(const char *record)
{
    size_t n = strcspn(record, "\n");

    if (!g_str_has_prefix(record, "options ")) {
        return NULL;
    }
    return g_strndup(record + strlen("options "), n - strlen("options "));
}

typedef struct ChrClaimCheck {
    const Chardev *chr;
    const char *owner;
    char **claims;      /* this chardev's "claim X" lines */
    GError *err;
} ChrClaimCheck;

static void chr_claim_check_one(const char *owner, const char *record,
                                void *opaque)
{
    ChrClaimCheck *c = opaque;
    g_auto(GStrv) lines = NULL;

    if (c->err) {
        return;
    }
    lines = g_strsplit(record, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_autofree char *old_opts = NULL;

        if (!g_str_has_prefix(*l, "claim ") ||
            !g_strv_contains((const char *const *)c->claims, *l)) {
            continue;
        }
        old_opts = chr_record_options(record);
        if (!strcmp(owner, c->owner) && old_opts &&
            !strcmp(old_opts, c->chr->cpr_options)) {
            error_setg(&c->err, "chardev '%s' would take %s, which the old "
                       "process still serves (a chardev created after "
                       "start-up is not inherited): use another path",
                       chardev_id(c->chr), *l + strlen("claim "));
        } else if (!strcmp(owner, c->owner)) {
            error_setg(&c->err, "chardev '%s' differs from the old "
                       "process's ('%s' there, '%s' here), so it is not "
                       "inherited, but it would take %s, which the old "
                       "process still serves: use the old options to "
                       "inherit it, or another path", chardev_id(c->chr),
                       old_opts ? old_opts : "?", c->chr->cpr_options,
                       *l + strlen("claim "));
        } else {
            error_setg(&c->err, "chardev '%s' would take %s, which the old "
                       "process's chardev '%s' ('%s') still serves: give "
                       "it that id and those options to inherit it, or "
                       "use another path", chardev_id(c->chr),
                       *l + strlen("claim "),
                       strrchr(owner, '/') + 1,
                       old_opts ? old_opts : "?");
        }
        return;
    }
}

/*
 * cpr-transfer, a chardev the new process opens anew: the old process
 * runs on beside it, so taking one of its paths (unlink and bind, or
 * truncate) would cut it off from its clients or its file.
 */
static bool chr_cpr_check_claims(Chardev *chr, const char *owner,
                                 GError **errp)
{
    g_autoptr(GString) mine = g_string_new(NULL);
    g_auto(GStrv) claims = NULL;
    ChrClaimCheck c = { .chr = chr, .owner = owner };

    chr_cpr_append_claims(chr, mine);
    if (!mine->len) {
        return true;
    }
    claims = g_strsplit(mine->str + 1, "\n", -1);
    c.claims = claims;
    cpr_owner_foreach_old(chr_claim_check_one, &c);
    if (c.err) {
        g_propagate_error(errp, c.err);
        return false;
    }
    return true;
}

/*
 * Version 1 (cpr_compat_v1()): the old process's path of listening UNIX
 * socket LFD, as it bound it ("@NAME" if abstract), or NULL.
 */
static char *chr_listen_path(int lfd)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    size_t n;

    memset(&sa, 0, sizeof(sa));
    if (getsockname(lfd, (struct sockaddr *)&sa, &len) < 0 ||
        sa.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path)) {
        return NULL;
    }
    n = len - offsetof(struct sockaddr_un, sun_path);
    if (sa.sun_path[0] == '\0') {
        return g_strdup_printf("@%.*s", (int)(n - 1), sa.sun_path + 1);
    }
    return g_strndup(sa.sun_path, n);
}

/*
 * The old process speaks version 1 (cpr_compat_v1()): it hands every
 * chardev over, so each one here is inherited, as between those releases;
 * it sent no records to compare options with. One that it did not have
 * would fail the configuration check later, but might open anew what the
 * old one serves first: refused at once. And in cpr-transfer, a listening
 * UNIX socket whose path changed (QEMU's way: the new process gets its
 * own -qmp path) would silently serve the old path: refused, since that
 * old process cannot keep a chardev for itself and resumes its guest.
 * (Not in cpr-exec, where a refusal would lose the guest: there it is
 * inherited, as it was between those releases.)
 */
static bool chr_cpr_decide_compat_v1(Chardev *chr, GError **errp)
{
    const char *path = chr_prop_str(chr, "path");
    g_autofree char *old = NULL, *want = NULL;
    int lfd;

    if (!cpr_compat_v1_check_object(&chr->parent_obj, errp)) {
        return false;
    }
    chr->cpr_inherited = true;
    lfd = cpr_peek_fd(&chr->parent_obj, "listen", 0);
    if (cpr_incoming_mode() != MIG_MODE_CPR_TRANSFER || lfd < 0 || !path ||
        strcmp(object_get_typename(&chr->parent_obj), "chardev-socket")) {
        return true;
    }
    old = chr_listen_path(lfd);
    want = chr_prop_bool(chr, "abstract") ? g_strdup_printf("@%s", path)
                                          : g_strdup(path);
    if (old && strcmp(old, want) && (old[0] == '@' || want[0] == '@' ||
                                     !chr_same_file_name(old, want))) {
        error_setg(errp, "chardev '%s' listens on %s here, but the old "
                   "process (a baton that hands every chardev over) listens "
                   "on %s: start the new process with the old chardev "
                   "options", chardev_id(chr), want, old);
        return false;
    }
    return true;
}

bool chr_cpr_decide(Chardev *chr, GError **errp)
{
    g_autofree char *owner = chr_cpr_owner(chr);
    g_autofree char *old_opts = NULL;
    const char *old;

    g_free(chr->cpr_options);
    chr->cpr_options = chr_cpr_options(chr);
    chr_cpr_record(chr);
    chr->cpr_inherited = false;
    if (!cpr_is_incoming()) {
        return true;
    }
    if (cpr_compat_v1()) {
        return chr_cpr_decide_compat_v1(chr, errp);
    }
    old = cpr_owner_old_record(owner);
    old_opts = old ? chr_record_options(old) : NULL;
    if (old_opts && !strcmp(old_opts, chr->cpr_options)) {
        cpr_owner_adopt(owner);
        chr->cpr_inherited = true;
        return true;
    }
    /* Not the same chardev: ours is new; the old one stays the old's. */
    cpr_owner_decline(owner);
    if (cpr_incoming_mode() == MIG_MODE_CPR_TRANSFER) {
        return chr_cpr_check_claims(chr, owner, errp);
    }
    return true;    /* cpr-exec: the old image is gone */
}

void chr_cpr_release(Chardev *chr)
{
    g_autofree char *owner = chr_cpr_owner(chr);

    cpr_owner_forget(owner);
    g_clear_pointer(&chr->cpr_options, g_free);
    g_clear_pointer(&chr->cpr_frontend, g_free);
}

void chardev_cpr_set_frontend(Chardev *chr, const char *desc)
{
    g_free(chr->cpr_frontend);
    chr->cpr_frontend = g_strdup(desc);
    if (chr->cpr_options) {
        chr_cpr_record(chr);
    }
}

bool chardev_cpr_inherited(const Chardev *chr)
{
    return chr->cpr_inherited && cpr_is_incoming();
}

bool chardev_cpr_handed_over(const Chardev *chr)
{
    g_autofree char *owner = chr_cpr_owner(chr);

    return cpr_owner_handed_over(owner);
}
