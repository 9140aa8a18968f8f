/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cpr-transfer: the preserved fds that change between the CPR state
 * (sent as the update starts) and the switchover. The old process
 * remembers what the state handed over and, with the vCPUs stopped,
 * sends what changed since in the "cpr-late" section of the main
 * channel; the new process applies it to its registry and lets the
 * owners take the new fds (cpr.h). cpr-exec needs none of this: its
 * state is written after the guest stopped. Format:
 * docs/devel/migration-stream.md, "Late descriptors".
 */
#include "util/osdep.h"

#include "hw/core/object.h"
#include "migration/cpr.h"
#include "migration/register.h"
#include "migration/stream.h"

#include "cpr-internal.h"
#include "trace.h"

#define CPR_LATE_VERSION 1
/* Bounds checked before anything is allocated (as the CPR state's). */
#define CPR_LATE_MAX 4096
#define CPR_LATE_MAX_NAME 1024

enum { CPR_LATE_REMOVE, CPR_LATE_SET };

typedef struct CprLateKey {
    char *name;
    int id;
    uint64_t serial;
} CprLateKey;

typedef struct CprLateHandler {
    const char *type;
    CprLateFn fn;
} CprLateHandler;

/* Big lock held (or single-threaded start-up) for all of it. */
static GArray *sent; /* CprLateKey: what the state handed over */
static bool snapshot_taken;
static GArray *handlers; /* CprLateHandler, registration order */

static void late_key_clear(gpointer p)
{
    g_free(((CprLateKey *)p)->name);
}

static GArray *key_array(void)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(CprLateKey));

    g_array_set_clear_func(a, late_key_clear);
    return a;
}

static void snapshot_one(const char *name, int id, uint64_t serial,
                         void *opaque)
{
    CprLateKey k = {g_strdup(name), id, serial};

    g_array_append_val((GArray *)opaque, k);
}

void cpr_late_snapshot(void)
{
    cpr_late_forget();
    sent = key_array();
    cpr_fd_foreach_serial(snapshot_one, sent);
    snapshot_taken = true;
}

void cpr_late_forget(void)
{
    g_clear_pointer(&sent, g_array_unref);
    snapshot_taken = false;
}

static CprLateKey *key_find(GArray *a, const char *name, int id)
{
    for (guint i = 0; i < a->len; i++) {
        CprLateKey *k = &g_array_index(a, CprLateKey, i);

        if (k->id == id && !strcmp(k->name, name)) {
            return k;
        }
    }
    return NULL;
}

/*
 * The changes since the snapshot, as keys: serial 0 for a removal. Only
 * the entries that go to the new process (an owner it declined keeps its
 * fds here).
 */
static GArray *late_changes(void)
{
    g_autoptr(GArray) now = key_array();
    GArray *out = key_array();

    if (!snapshot_taken) {
        return out;
    }
    cpr_fd_foreach_serial(snapshot_one, now);
    for (guint i = 0; i < now->len; i++) {
        CprLateKey *k = &g_array_index(now, CprLateKey, i);
        CprLateKey *was = key_find(sent, k->name, k->id);

        if ((!was || was->serial != k->serial) &&
            cpr_owner_entry_handed_over(k->name)) {
            snapshot_one(k->name, k->id, k->serial, out);
        }
    }
    for (guint i = 0; i < sent->len; i++) {
        CprLateKey *k = &g_array_index(sent, CprLateKey, i);

        if (!key_find(now, k->name, k->id) &&
            cpr_owner_entry_handed_over(k->name)) {
            snapshot_one(k->name, k->id, 0, out);
        }
    }
    return out;
}

unsigned int cpr_late_pending(void)
{
    g_autoptr(GArray) l = late_changes();

    return l->len;
}

/* ---- the section, old process ---- */

static bool cpr_late_is_active(void *opaque)
{
    return migrate_mode() == MIG_MODE_CPR_TRANSFER && cpr_late_pending();
}

/*
 * be32 count, then per entry: u8 op (0 remove, 1 set), be16-length name,
 * be32 index; a set passes its fd alongside (SCM_RIGHTS).
 */
static bool cpr_late_save(MigStream *f, void *opaque, GError **errp)
{
    g_autoptr(GArray) l = late_changes();

    if (l->len > CPR_LATE_MAX) {
        error_setg(errp,
                   "%u descriptors changed after the CPR state was "
                   "sent, more than the %d the format allows",
                   l->len, CPR_LATE_MAX);
        return false;
    }
    if (!mig_stream_can_pass_fds(f)) {
        error_setg(errp, "the main channel cannot pass the descriptors "
                         "that changed after the CPR state was sent");
        return false;
    }
    mig_put_be32(f, l->len);
    for (guint i = 0; i < l->len; i++) {
        CprLateKey *k = &g_array_index(l, CprLateKey, i);
        int fd = k->serial ? cpr_find_fd(k->name, k->id) : -1;

        trace_cpr_late_save(k->name, k->id, fd);
        mig_put_u8(f, k->serial ? CPR_LATE_SET : CPR_LATE_REMOVE);
        mig_put_be16(f, strlen(k->name));
        mig_put_buffer(f, k->name, strlen(k->name));
        mig_put_be32(f, (uint32_t)k->id);
        if (k->serial) {
            mig_put_fd(f, fd);
        }
    }
    /* Sent: a retry after a failure starts from a new CPR state. */
    return mig_stream_check(f, errp);
}

/* ---- the section, new process ---- */

void cpr_add_late_handler(const char *type, CprLateFn fn)
{
    CprLateHandler h = {type, fn};

    if (!handlers) {
        handlers = g_array_new(FALSE, FALSE, sizeof(CprLateHandler));
    }
    g_array_append_val(handlers, h);
}

static CprLateFn late_handler(Object *obj)
{
    for (guint i = 0; obj && handlers && i < handlers->len; i++) {
        CprLateHandler *h = &g_array_index(handlers, CprLateHandler, i);

        if (object_dynamic_cast(obj, h->type)) {
            return h->fn;
        }
    }
    return NULL;
}

/*
 * NAME (the owner's path + "/" + role) is FD now (-1: removed): update
 * the registry and tell the owner. FD is consumed either way.
 */
static bool cpr_late_apply(const char *name, int id, int fd, GError **errp)
{
    const char *slash = strrchr(name, '/');
    g_autofree char *path = g_strndup(name, slash - name);
    Object *obj = object_resolve_path(path, NULL);
    CprLateFn fn = late_handler(obj);
    Object *taker = cpr_fd_taker(name, id);
    int old;

    if (taker && (!fn || taker != obj)) {
        error_setg(errp,
                   "the preserved file descriptor '%s' %d changed "
                   "after the CPR state was sent, and its owner cannot take "
                   "a new one",
                   name, id);
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    old = cpr_fd_replace(name, id, fd, &taker);
    trace_cpr_late_load(name, id, old, fd);
    if (!taker && old >= 0) {
        close(old); /* nobody took the copy the state brought */
        old = -1;
    }
    if (!obj || !fn) {
        return true; /* whoever takes it later gets the new one */
    }
    if (!fn(obj, slash + 1, id, old, fd, errp)) {
        g_prefix_error(errp,
                       "'%s' %d, changed after the CPR state was "
                       "sent: ",
                       name, id);
        return false;
    }
    return true;
}

static bool cpr_late_load(MigStream *f, void *opaque, int version_id,
                          GError **errp)
{
    uint32_t n;

    if (!mig_stream_remaining(f)) {
        return true; /* the empty SECTION_END */
    }
    if (!cpr_is_incoming()) {
        error_setg(errp, "late descriptors outside a live update");
        return false;
    }
    n = mig_get_be32(f);
    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (n > CPR_LATE_MAX) {
        error_setg(errp, "%u late descriptors exceed the maximum %d", n,
                   CPR_LATE_MAX);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint8_t op = mig_get_u8(f);
        uint16_t len = mig_get_be16(f);
        g_autofree char *name = NULL;
        uint32_t id;
        int fd = -1;

        if (!mig_stream_check(f, errp)) {
            return false;
        }
        if (op > CPR_LATE_SET || !len || len > CPR_LATE_MAX_NAME ||
            len > mig_stream_remaining(f)) {
            error_setg(errp,
                       "late descriptor %u: bad operation %u or name "
                       "length %u",
                       i, op, len);
            return false;
        }
        name = g_malloc(len + 1);
        mig_get_buffer(f, name, len);
        name[len] = '\0';
        id = mig_get_be32(f);
        if (!mig_stream_check(f, errp)) {
            return false;
        }
        if (name[0] != '/' || strlen(name) != len ||
            strrchr(name, '/') == name || !strrchr(name, '/')[1]) {
            error_setg(errp,
                       "late descriptor %u: '%s' is not an owner's "
                       "path and role",
                       i, name);
            return false;
        }
        if (op == CPR_LATE_SET) {
            fd = mig_get_fd(f);
            if (fd < 0) {
                mig_stream_check(f, errp);
                g_prefix_error(errp, "late descriptor '%s': ", name);
                return false;
            }
        }
        if (!cpr_late_apply(name, (int)id, fd, errp)) {
            return false;
        }
    }
    return true;
}

static const SaveVMHandlers cpr_late_handlers = {
    .save_complete = cpr_late_save,
    .is_active = cpr_late_is_active,
    .load_state = cpr_late_load,
    .switchover_only = true,
};

static void cpr_late_register(void)
{
    savevm_register_live("cpr-late", 0, CPR_LATE_VERSION, &cpr_late_handlers,
                         NULL);
}

type_init(cpr_late_register)
