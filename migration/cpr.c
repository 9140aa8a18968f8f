/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPR core: the process-wide registry of preserved descriptors, the
 * hand-over notifiers, whether this process takes over a guest, and the
 * CPR state stream that carries the registry (and a fingerprint of the
 * configuration, and the owners' records of cpr-owner.c) to the new
 * process. The channels it travels on are cpr-transfer.c (UNIX socket)
 * and cpr-exec.c (memfd); the format is in
 * docs/devel/migration-stream.md, "CPR state".
 */
#include "util/osdep.h"

#include <sys/stat.h>

#include "hw/core/machine.h"
#include "hw/core/qdev.h"
#include "migration/cpr.h"
#include "migration/stream.h"
#include "migration/vmstate.h"
#include "system/memory.h"
#include "util/crc32c.h"
#include "util/error-report.h"
#include "util/fault-inject.h"

#include "cpr-internal.h"
#include "trace.h"

/* Header: magic, format version, payload length; CRC-32C after it. */
#define CPR_STATE_MAGIC "BATONCPR"
/*
 * The versions are in cpr-internal.h (cpr-exec.c needs them too); 2 added
 * the owners' records after the fingerprint, 3 canonical-path names and
 * the CPR vmstate sections after the entries.
 */
/* Bounds checked before anything is allocated. */
#define CPR_STATE_MAX_PAYLOAD (1u << 20)
#define CPR_STATE_MAX_ENTRIES 4096
#define CPR_STATE_MAX_NAME 1024
#define CPR_STATE_MAX_FINGERPRINT (256u * 1024)
#define CPR_STATE_MAX_SECTIONS 4096
#define CPR_STATE_MAX_SECTION_FDS 256

typedef struct CprFd {
    char *name;
    int id;
    int fd;
    Object *owner;      /* NULL: received, not taken yet (or raw API) */
    uint64_t serial;    /* changes whenever the key is (re)bound */
} CprFd;

typedef struct CprNotifier {
    CprNotifyFn fn;
    void *opaque;
    CprPhase phase;
} CprNotifier;

/* A registered CPR vmstate section (old process). */
typedef struct CprSection {
    Object *owner;
    const VMStateDescription *vmsd;
    void *opaque;
} CprSection;

/* A received one, until its owner loads it (new process). */
typedef struct CprInSection {
    char *path;
    char *name;
    uint32_t version;
    GBytes *data;
    GArray *fds;        /* int, owned until loaded */
} CprInSection;

/* Big lock held (or single-threaded start-up) for all of it. */
static GPtrArray *cpr_fds;          /* CprFd *, in registration order */
static uint64_t cpr_serial;         /* the last CprFd.serial given */
static GArray *cpr_notifiers;       /* CprNotifier, sorted by phase */
static GPtrArray *cpr_sections;     /* CprSection * */
static GPtrArray *cpr_in_sections;  /* CprInSection * */
static bool cpr_incoming;
static MigMode cpr_in_mode = MIG_MODE_NORMAL;
static char *cpr_in_fingerprint;    /* what the old process sent */
static uint32_t cpr_in_version;     /* the CPR state's format version */
static uint32_t cpr_out_version = CPR_STATE_VERSION; /* the last written */
static GArray *cpr_out_section_fds; /* int: the sections' in the last state */
static CprTimes cpr_in_times;

/* ---- the registry ---- */

static void cpr_fd_free(gpointer p)
{
    CprFd *e = p;

    g_free(e->name);
    g_free(e);
}

static GPtrArray *cpr_list(void)
{
    if (!cpr_fds) {
        cpr_fds = g_ptr_array_new_with_free_func(cpr_fd_free);
    }
    return cpr_fds;
}

static CprFd *cpr_lookup(const char *name, int id, guint *index)
{
    GPtrArray *l = cpr_list();

    for (guint i = 0; i < l->len; i++) {
        CprFd *e = g_ptr_array_index(l, i);

        if (e->id == id && !strcmp(e->name, name)) {
            if (index) {
                *index = i;
            }
            return e;
        }
    }
    return NULL;
}

static void cpr_add(const char *name, int id, int fd)
{
    CprFd *e = g_new0(CprFd, 1);

    g_assert(name && name[0] && strlen(name) <= CPR_STATE_MAX_NAME);
    g_assert(fd >= 0);
    e->name = g_strdup(name);
    e->id = id;
    e->fd = fd;
    e->serial = ++cpr_serial;
    g_ptr_array_add(cpr_list(), e);
}

void cpr_save_fd(const char *name, int id, int fd)
{
    CprFd *e = cpr_lookup(name, id, NULL);

    trace_cpr_save_fd(name, id, fd);

    if (e) {
        /* Rebinding a key silently would hand the wrong fd over. */
        g_assert(e->fd == fd);
        return;
    }
    cpr_add(name, id, fd);
}

void cpr_resave_fd(const char *name, int id, int fd)
{
    CprFd *e = cpr_lookup(name, id, NULL);

    trace_cpr_save_fd(name, id, fd);

    if (!e) {
        cpr_add(name, id, fd);
    } else if (e->fd != fd) {
        g_assert(fd >= 0);
        e->fd = fd;
        e->serial = ++cpr_serial;
    }
}

int cpr_find_fd(const char *name, int id)
{
    CprFd *e = cpr_lookup(name, id, NULL);
    int fd = e ? e->fd : -1;

    trace_cpr_find_fd(name, id, fd);
    return fd;
}

void cpr_delete_fd(const char *name, int id)
{
    guint i;

    trace_cpr_delete_fd(name, id);

    if (cpr_lookup(name, id, &i)) {
        g_ptr_array_remove_index(cpr_fds, i);
    }
}

bool cpr_name_in_owner(const char *name, const char *owner)
{
    size_t n = strlen(owner);

    return !strncmp(name, owner, n) && name[n] == '/';
}

void cpr_fd_drop_owner(const char *owner)
{
    GPtrArray *l = cpr_list();

    for (guint i = l->len; i-- > 0;) {
        CprFd *e = g_ptr_array_index(l, i);

        if (cpr_name_in_owner(e->name, owner)) {
            close(e->fd);
            g_ptr_array_remove_index(l, i);
        }
    }
}

unsigned int cpr_fd_count(void)
{
    return cpr_fds ? cpr_fds->len : 0;
}

void cpr_fd_foreach(void (*fn)(const char *name, int id, int fd,
                               void *opaque),
                    void *opaque)
{
    GPtrArray *l = cpr_list();

    for (guint i = 0; i < l->len; i++) {
        CprFd *e = g_ptr_array_index(l, i);

        fn(e->name, e->id, e->fd, opaque);
    }
}

void cpr_fd_foreach_serial(void (*fn)(const char *name, int id, uint64_t serial,
                                      void *opaque),
                           void *opaque)
{
    GPtrArray *l = cpr_list();

    for (guint i = 0; i < l->len; i++) {
        CprFd *e = g_ptr_array_index(l, i);

        fn(e->name, e->id, e->serial, opaque);
    }
}

Object *cpr_fd_taker(const char *name, int id)
{
    CprFd *e = cpr_lookup(name, id, NULL);

    return e ? e->owner : NULL;
}

int cpr_fd_replace(const char *name, int id, int fd, Object **taker)
{
    guint i;
    CprFd *e = cpr_lookup(name, id, &i);
    int old = e ? e->fd : -1;

    trace_cpr_save_fd(name, id, fd);
    *taker = e ? e->owner : NULL;
    if (fd < 0) {
        if (e) {
            g_ptr_array_remove_index(cpr_fds, i);
        }
    } else if (e) {
        e->fd = fd;
        e->owner = NULL;
        e->serial = ++cpr_serial;
    } else {
        cpr_add(name, id, fd);
    }
    return old;
}

void cpr_fd_clear(bool close_fds)
{
    if (!cpr_fds) {
        return;
    }
    for (guint i = 0; close_fds && i < cpr_fds->len; i++) {
        close(((CprFd *)g_ptr_array_index(cpr_fds, i))->fd);
    }
    g_ptr_array_set_size(cpr_fds, 0);
}

static void put_str16(MigStream *f, const char *s);
static char *get_str16(MigStream *f, size_t max, const char *what,
                       GError **errp);

/* ---- the owner helper ---- */

/* OBJ's entry name for ROLE: its canonical path and the role. */
static char *cpr_owner_name(Object *obj, const char *role)
{
    g_autofree char *path = object_get_canonical_path(obj);

    g_assert(path && role && role[0] && !strchr(role, '/'));
    return g_strdup_printf("%s/%s", path, role);
}

void cpr_own_fd(Object *obj, const char *role, int index, int fd)
{
    g_autofree char *name = cpr_owner_name(obj, role);
    CprFd *e;

    cpr_save_fd(name, index, fd);
    e = cpr_lookup(name, index, NULL);
    e->owner = obj;
    obj->cpr_owner = true;
}

void cpr_reown_fd(Object *obj, const char *role, int index, int fd)
{
    g_autofree char *name = cpr_owner_name(obj, role);

    cpr_resave_fd(name, index, fd);
    cpr_lookup(name, index, NULL)->owner = obj;
    obj->cpr_owner = true;
}

int cpr_take_fd(Object *obj, const char *role, int index)
{
    g_autofree char *name = cpr_owner_name(obj, role);
    CprFd *e = cpr_lookup(name, index, NULL);

    trace_cpr_find_fd(name, index, e ? e->fd : -1);
    if (!e) {
        return -1;
    }
    e->owner = obj;
    obj->cpr_owner = true;
    return e->fd;
}

int cpr_peek_fd(Object *obj, const char *role, int index)
{
    g_autofree char *name = cpr_owner_name(obj, role);

    return cpr_find_fd(name, index);
}

void cpr_disown_fd(Object *obj, const char *role, int index, int fd)
{
    g_autofree char *name = NULL;

    if (fd < 0 || !obj->parent) {
        return;     /* out of the tree: cpr_forget_owner() did it */
    }
    name = cpr_owner_name(obj, role);
    if (cpr_find_fd(name, index) == fd) {
        cpr_delete_fd(name, index);
    }
}

int cpr_open_fd(Object *obj, const char *role, int index, const char *path,
                int flags, GError **errp)
{
    int fd = cpr_take_fd(obj, role, index);

    if (fd >= 0) {
        return fd;
    }
    fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot open '%s'", path);
        return -1;
    }
    cpr_own_fd(obj, role, index, fd);
    return fd;
}

void cpr_forget_owner(Object *obj)
{
    GPtrArray *l = cpr_list();

    for (guint i = l->len; i-- > 0;) {
        CprFd *e = g_ptr_array_index(l, i);

        if (e->owner == obj) {
            trace_cpr_delete_fd(e->name, e->id);
            g_ptr_array_remove_index(l, i);
        }
    }
    for (guint i = cpr_sections ? cpr_sections->len : 0; i-- > 0;) {
        CprSection *sec = g_ptr_array_index(cpr_sections, i);

        if (sec->owner == obj) {
            g_ptr_array_remove_index(cpr_sections, i);
        }
    }
    obj->cpr_owner = false;
}

/*
 * ---- names of versions 1 and 2 ----
 *
 * Those named an entry KIND/ID/ROLE, KIND the owner's abstract root:
 * chardevs (/chardevs/ID), memory backends (/objects/ID), drives
 * ("object", /drives/ID) and the machine ("machine/TYPE.0", /machine).
 * Nothing else owned fds then.
 */
static const struct {
    const char *legacy;     /* "KIND/" */
    const char *path;       /* canonical container + "/" */
} cpr_legacy_kinds[] = {
    { "chardev/", "/chardevs/" },
    { "memory-backend/", "/objects/" },
    { "object/", "/drives/" },
};

char *cpr_legacy_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(cpr_legacy_kinds); i++) {
        if (g_str_has_prefix(name, cpr_legacy_kinds[i].path)) {
            return g_strconcat(cpr_legacy_kinds[i].legacy,
                               name + strlen(cpr_legacy_kinds[i].path),
                               NULL);
        }
    }
    if (g_str_has_prefix(name, "/machine/") && !strchr(name + 9, '/')) {
        Object *m = object_resolve_path("/machine", NULL);

        return m ? g_strdup_printf("machine/%s.0/%s",
                                   object_get_typename(m), name + 9)
                 : NULL;
    }
    return NULL;
}

char *cpr_name_from_legacy(const char *legacy)
{
    for (size_t i = 0; i < ARRAY_SIZE(cpr_legacy_kinds); i++) {
        if (g_str_has_prefix(legacy, cpr_legacy_kinds[i].legacy)) {
            return g_strconcat(cpr_legacy_kinds[i].path,
                               legacy + strlen(cpr_legacy_kinds[i].legacy),
                               NULL);
        }
    }
    if (g_str_has_prefix(legacy, "machine/")) {
        const char *role = strchr(legacy + 8, '/');

        return role ? g_strconcat("/machine", role, NULL) : NULL;
    }
    return NULL;
}

/* ---- CPR vmstate sections ---- */

static void cpr_in_section_free(gpointer p)
{
    CprInSection *in = p;

    for (guint i = 0; i < in->fds->len; i++) {
        close(g_array_index(in->fds, int, i));
    }
    g_array_unref(in->fds);
    g_bytes_unref(in->data);
    g_free(in->path);
    g_free(in->name);
    g_free(in);
}

void cpr_vmstate_register(Object *owner, const VMStateDescription *vmsd,
                          void *opaque)
{
    CprSection *sec = g_new0(CprSection, 1);

    if (!cpr_sections) {
        cpr_sections = g_ptr_array_new_with_free_func(g_free);
    }
    for (guint i = 0; i < cpr_sections->len; i++) {
        CprSection *o = g_ptr_array_index(cpr_sections, i);

        /* One section of a kind per owner: the path names it. */
        g_assert(o->owner != owner || strcmp(o->vmsd->name, vmsd->name));
    }
    sec->owner = owner;
    sec->vmsd = vmsd;
    sec->opaque = opaque;
    g_ptr_array_add(cpr_sections, sec);
    owner->cpr_owner = true;
}

void cpr_vmstate_unregister(Object *owner, const VMStateDescription *vmsd)
{
    for (guint i = 0; cpr_sections && i < cpr_sections->len; i++) {
        CprSection *sec = g_ptr_array_index(cpr_sections, i);

        if (sec->owner == owner && sec->vmsd == vmsd) {
            g_ptr_array_remove_index(cpr_sections, i);
            return;
        }
    }
}

/* The sections to save now (those whose needed agrees). */
static GPtrArray *cpr_sections_needed(void)
{
    GPtrArray *l = g_ptr_array_new();

    for (guint i = 0; cpr_sections && i < cpr_sections->len; i++) {
        CprSection *sec = g_ptr_array_index(cpr_sections, i);

        if (!sec->vmsd->needed || sec->vmsd->needed(sec->opaque)) {
            g_ptr_array_add(l, sec);
        }
    }
    return l;
}

/*
 * One section: owner path, name, version, its fds (numbers, and each
 * passed alongside when P can), payload.
 */
static bool cpr_section_put(MigStream *p, const CprSection *sec,
                            bool pass_fds, GError **errp)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_fd_writer();
    g_autofree char *path = object_get_canonical_path(sec->owner);
    const uint8_t *data;
    const int *fds;
    unsigned int nfds;
    size_t len;

    if (!vmstate_save(w, sec->vmsd, sec->opaque, errp) ||
        !mig_stream_check(w, errp)) {
        g_prefix_error(errp, "cpr section '%s' of '%s': ", sec->vmsd->name,
                       path);
        return false;
    }
    fds = mig_stream_mem_fds(w, &nfds);
    data = mig_stream_mem_data(w, &len);
    if (nfds > CPR_STATE_MAX_SECTION_FDS) {
        error_setg(errp, "cpr section '%s' of '%s': %u descriptors exceed "
                   "the maximum %d", sec->vmsd->name, path, nfds,
                   CPR_STATE_MAX_SECTION_FDS);
        return false;
    }
    trace_cpr_section_save(path, sec->vmsd->name, nfds);
    for (unsigned int i = 0; i < nfds; i++) {
        g_array_append_val(cpr_out_section_fds, fds[i]);
    }
    put_str16(p, path);
    put_str16(p, sec->vmsd->name);
    mig_put_be32(p, sec->vmsd->version_id);
    mig_put_be32(p, nfds);
    for (unsigned int i = 0; i < nfds; i++) {
        mig_put_be32(p, (uint32_t)fds[i]);
        if (pass_fds) {
            mig_put_fd(p, fds[i]);
        }
    }
    mig_put_be32(p, len);
    mig_put_buffer(p, data, len);
    return true;
}

static CprInSection *cpr_in_section_find(const char *path, const char *name,
                                         guint *index)
{
    for (guint i = 0; cpr_in_sections && i < cpr_in_sections->len; i++) {
        CprInSection *in = g_ptr_array_index(cpr_in_sections, i);

        if (!strcmp(in->path, path) && !strcmp(in->name, name)) {
            if (index) {
                *index = i;
            }
            return in;
        }
    }
    return NULL;
}

static void cpr_in_section_add(CprInSection *in)
{
    if (!cpr_in_sections) {
        cpr_in_sections = g_ptr_array_new_with_free_func(cpr_in_section_free);
    }
    g_ptr_array_add(cpr_in_sections, in);
}

/*
 * The fd fields of VMSD in OPAQUE (top level, single or fixed arrays:
 * what CPR sections use), as pointers.
 */
static GPtrArray *cpr_fd_fields(const VMStateDescription *vmsd, void *opaque)
{
    GPtrArray *l = g_ptr_array_new();

    for (const VMStateField *f = vmsd->fields; f && f->name; f++) {
        unsigned int n = f->flags & VMS_ARRAY ? f->num : 1;

        if (f->type != VMS_FD || (f->flags & VMS_VARRAY)) {
            continue;
        }
        for (unsigned int k = 0; k < n; k++) {
            g_ptr_array_add(l,
                            (uint8_t *)opaque + f->offset + k * f->elem_size);
        }
    }
    return l;
}

bool cpr_vmstate_load(Object *owner, const VMStateDescription *vmsd,
                      void *opaque, bool *found, GError **errp)
{
    g_autofree char *path = object_get_canonical_path(owner);
    g_autoptr(MigStream) r = NULL;
    g_autoptr(GPtrArray) fields = NULL;
    g_autofree int *before = NULL;
    CprInSection *in;
    const uint8_t *data;
    size_t len;
    guint i;
    bool ok;

    in = cpr_in_section_find(path, vmsd->name, &i);
    *found = in != NULL;
    trace_cpr_section_load(path, vmsd->name, *found);
    if (!in) {
        return true;
    }
    data = g_bytes_get_data(in->data, &len);
    /* The reader takes duplicates: the originals close with IN. */
    r = mig_stream_new_mem_reader(data, len, (const int *)in->fds->data,
                                  in->fds->len);
    fields = cpr_fd_fields(vmsd, opaque);
    before = g_new(int, MAX(fields->len, 1));
    for (guint k = 0; k < fields->len; k++) {
        before[k] = *(int *)g_ptr_array_index(fields, k);
    }
    ok = vmstate_load(r, vmsd, opaque, in->version, errp);
    if (ok && mig_stream_remaining(r)) {
        error_setg(errp, "%zu unexpected trailing bytes",
                   mig_stream_remaining(r));
        ok = false;
    }
    if (ok && mig_get_fd_pending(r)) {
        error_setg(errp, "%u of its descriptors were not used",
                   mig_get_fd_pending(r));
        ok = false;
    }
    if (!ok) {
        g_prefix_error(errp, "cpr section '%s' of '%s': ", vmsd->name, path);
        /* What the failed load put into OPAQUE is nobody's: close it. */
        for (guint k = 0; k < fields->len; k++) {
            int *fd = g_ptr_array_index(fields, k);

            if (*fd != before[k] && *fd >= 0) {
                close(*fd);
            }
            *fd = before[k];
        }
    }
    g_ptr_array_remove_index(cpr_in_sections, i);
    return ok;
}

/* ---- incoming ---- */

bool cpr_is_incoming(void)
{
    return cpr_incoming;
}

MigMode cpr_incoming_mode(void)
{
    return cpr_incoming ? cpr_in_mode : MIG_MODE_NORMAL;
}

const CprTimes *cpr_incoming_times(void)
{
    return &cpr_in_times;
}

void cpr_incoming_done(void)
{
    cpr_incoming = false;
    g_clear_pointer(&cpr_in_fingerprint, g_free);
    /* Sections nobody here loaded: their fds are not ours to keep. */
    g_clear_pointer(&cpr_in_sections, g_ptr_array_unref);
    cpr_owner_incoming_done();
}

/* ---- notifiers ---- */

void cpr_add_notifier(CprNotifyFn fn, void *opaque, CprPhase phase)
{
    CprNotifier n = { fn, opaque, phase };
    guint i;

    if (!cpr_notifiers) {
        cpr_notifiers = g_array_new(FALSE, FALSE, sizeof(CprNotifier));
    }
    /* After every notifier of the same or an earlier phase. */
    for (i = 0; i < cpr_notifiers->len; i++) {
        if (g_array_index(cpr_notifiers, CprNotifier, i).phase > phase) {
            break;
        }
    }
    g_array_insert_val(cpr_notifiers, i, n);
}

void cpr_remove_notifier(CprNotifyFn fn, void *opaque)
{
    for (guint i = 0; cpr_notifiers && i < cpr_notifiers->len; i++) {
        CprNotifier *n = &g_array_index(cpr_notifiers, CprNotifier, i);

        if (n->fn == fn && n->opaque == opaque) {
            g_array_remove_index(cpr_notifiers, i);
            return;
        }
    }
}

static const char *const cpr_event_names[] = {
    [CPR_EVENT_PREPARE] = "prepare",
    [CPR_EVENT_HANDOVER] = "handover",
    [CPR_EVENT_ROLLBACK] = "rollback",
    [CPR_EVENT_TAKEOVER] = "takeover",
    [CPR_EVENT_COMMIT] = "commit",
};

bool cpr_notify(CprEvent event, GError **errp)
{
    /* A copy: a notifier may remove itself. */
    g_autoptr(GArray) copy = NULL;
    bool reverse = event == CPR_EVENT_ROLLBACK || event == CPR_EVENT_TAKEOVER ||
                   event == CPR_EVENT_COMMIT;
    bool can_fail = event == CPR_EVENT_PREPARE || event == CPR_EVENT_HANDOVER ||
                    event == CPR_EVENT_COMMIT;
    g_autofree char *point = g_strdup_printf("cpr-notify-%s",
                                             cpr_event_names[event]);
    bool ok = true;

    trace_cpr_notify(cpr_event_names[event]);
    if (cpr_notifiers && cpr_notifiers->len) {
        copy = g_array_copy(cpr_notifiers);
    }
    for (guint k = 0; copy && k < copy->len; k++) {
        CprNotifier *n = &g_array_index(copy, CprNotifier,
                                        reverse ? copy->len - 1 - k : k);
        g_autoptr(GError) err = NULL;

        if (n->fn(event, n->opaque, &err)) {
            continue;
        }
        g_assert(err);
        if (!can_fail) {
            warn_report("live update %s: %s", cpr_event_names[event],
                        err->message);
            continue;
        }
        g_propagate_error(errp, g_steal_pointer(&err));
        ok = false;
        break;
    }
    /* Tests make an update fail here (BATON_FAULT_INJECT). */
    if (ok && can_fail && fault_inject_fail(point)) {
        error_setg(errp, "live update %s failed (fault injected)",
                   cpr_event_names[event]);
        ok = false;
    }
    if (event == CPR_EVENT_ROLLBACK) {
        cpr_owner_update_ends();
        cpr_late_forget();
    }
    return ok;
}

/* ---- updates from a version-1 baton (up to b23ea73) ---- */

bool cpr_compat_v1(void)
{
    return cpr_incoming && cpr_in_version == 1;
}

bool cpr_compat_v1_check_object(const Object *obj, GError **errp)
{
    const char *id = object_get_id(obj);
    g_autofree char *line = g_strdup_printf("object %s %s",
                                            object_get_typename(obj),
                                            id ? id : "-");
    g_auto(GStrv) lines = g_strsplit(cpr_in_fingerprint ?
                                     cpr_in_fingerprint : "", "\n", -1);

    if (g_strv_contains((const char *const *)lines, line)) {
        return true;
    }
    error_setg(errp, "the configuration differs from the old process: "
               "'%s' exists here but not there (the old process is a baton "
               "that hands every chardev over: give the new one the same "
               "chardevs)", line);
    return false;
}

/*
 * A version-1 old process hands every chardev over at HANDOVER, and every
 * monitor session in the stream, whatever this process does: its
 * fingerprint lists the chardevs, which must be the same ones here, and
 * each is inherited (chr_cpr_decide()). It reads nothing on the cpr
 * channel (to it, any event there means that this process is gone), so
 * no reply goes out.
 */
static bool cpr_check_config_compat_v1(GError **errp)
{
    g_autofree char *mine = cpr_config_fingerprint_v1();

    return cpr_config_compare(cpr_in_fingerprint, mine, errp) &&
           cpr_owner_settle(errp);
}

bool cpr_check_config(GError **errp)
{
    g_autofree char *mine = NULL;

    if (!cpr_incoming || !cpr_in_fingerprint) {
        return true;
    }
    if (cpr_compat_v1()) {
        return cpr_check_config_compat_v1(errp);
    }
    mine = cpr_config_fingerprint();
    if (!cpr_config_compare(cpr_in_fingerprint, mine, errp) ||
        !cpr_owner_settle(errp)) {
        return false;
    }
    /* cpr-transfer: the old process waits to learn what it keeps. */
    return cpr_in_mode != MIG_MODE_CPR_TRANSFER ||
           cpr_transfer_incoming_reply(errp);
}

/* ---- frames ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = v >> (24 - 8 * i);
    }
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

uint32_t cpr_frame_crc(const uint8_t *hdr, const uint8_t *payload,
                       size_t len)
{
    return crc32c_update(crc32c_update(0, hdr, CPR_FRAME_HEADER), payload,
                         len);
}

void cpr_frame_put(MigStream *f, const char *magic, uint32_t version,
                   const uint8_t *payload, size_t len)
{
    uint8_t hdr[CPR_FRAME_HEADER];

    memcpy(hdr, magic, 8);
    put_be32(hdr + 8, version);
    put_be32(hdr + 12, len);
    mig_put_buffer(f, hdr, sizeof(hdr));
    mig_put_buffer(f, payload, len);
    mig_put_be32(f, cpr_frame_crc(hdr, payload, len));
}

bool cpr_frame_check(const uint8_t *hdr, const char *magic,
                     uint32_t min_version, uint32_t max_version,
                     uint32_t max, const char *what, uint32_t *version,
                     uint32_t *len, GError **errp)
{
    uint32_t v = get_be32(hdr + 8);

    if (memcmp(hdr, magic, 8)) {
        error_setg(errp, "%s: bad magic (not a baton %s)", what, what);
        return false;
    }
    if (v < min_version || v > max_version) {
        if (min_version == max_version) {
            error_setg(errp, "%s: format version %u is not supported "
                       "(expected %u)", what, v, max_version);
        } else {
            error_setg(errp, "%s: format version %u is not supported "
                       "(expected %u to %u)", what, v, min_version,
                       max_version);
        }
        return false;
    }
    *version = v;
    *len = get_be32(hdr + 12);
    if (*len > max) {
        error_setg(errp, "%s: payload of %u bytes exceeds the limit of %u",
                   what, *len, max);
        return false;
    }
    return true;
}

/* ---- which versions another baton binary reads ---- */

/* In this image, for cpr_binary_state_versions() to find in another. */
static const char cpr_versions_marker[] __attribute__((used)) =
    "baton-cpr-state-versions:" G_STRINGIFY(CPR_STATE_MIN_VERSION) "-"
    G_STRINGIFY(CPR_STATE_VERSION);

/* "MIN-MAX" at P (N bytes left), parsed. */
static bool cpr_parse_versions(const char *p, size_t n, unsigned int *lo,
                               unsigned int *hi)
{
    g_autofree char *s = g_strndup(p, MIN(n, 32));
    char *end;

    *lo = strtoul(s, &end, 10);
    if (end == s || *end != '-') {
        return false;
    }
    p = end + 1;
    *hi = strtoul(p, &end, 10);
    return end != p && *lo <= *hi;
}

bool cpr_binary_state_versions(const char *path, int fd, unsigned int *lo,
                               unsigned int *hi, bool *marked)
{
    g_autoptr(GMappedFile) m = fd >= 0 ? g_mapped_file_new_from_fd(fd, FALSE,
                                                                   NULL)
                                       : g_mapped_file_new(path, FALSE, NULL);
    size_t plen = strchr(cpr_versions_marker, ':') + 1 - cpr_versions_marker;
    const char *data, *p;
    size_t len;

    if (!m) {
        return false;
    }
    data = g_mapped_file_get_contents(m);
    len = g_mapped_file_get_length(m);
    p = data ? memmem(data, len, cpr_versions_marker, plen) : NULL;
    *marked = p != NULL;
    if (p) {
        return cpr_parse_versions(p + plen, data + len - (p + plen), lo, hi);
    }
    if (!data || !memmem(data, len, CPR_STATE_FD_ENV,
                         strlen(CPR_STATE_FD_ENV))) {
        return false;
    }
    *lo = *hi = 1;
    return true;
}

char *cpr_versions_text(unsigned int lo, unsigned int hi, bool marked)
{
    if (lo != hi) {
        return g_strdup_printf("versions %u to %u of the CPR state", lo, hi);
    }
    return g_strdup_printf("only version %u of the CPR state%s", lo,
                           marked ? "" : " (an older release)");
}

/* ---- the state stream ---- */

static void put_str16(MigStream *f, const char *s)
{
    size_t len = strlen(s);

    mig_put_be16(f, len);
    mig_put_buffer(f, s, len);
}

/* A be16-length string of at most MAX bytes (nul-terminated, free it). */
static char *get_str16(MigStream *f, size_t max, const char *what,
                       GError **errp)
{
    uint16_t len = mig_get_be16(f);
    char *s;

    if (!mig_stream_check(f, errp)) {
        return NULL;
    }
    if (len == 0 || len > max) {
        error_setg(errp, "cpr state: %s length %u is out of range (1-%zu)",
                   what, len, max);
        return NULL;
    }
    s = g_malloc(len + 1);
    mig_get_buffer(f, s, len);
    s[len] = '\0';
    if (!mig_stream_check(f, errp)) {
        g_free(s);
        return NULL;
    }
    return s;
}

/*
 * Whether the state can be written as version 2: no section, and a
 * version-2 name for every entry and owner.
 */
static bool cpr_state_legacy_ok(GPtrArray *sections)
{
    GPtrArray *l = cpr_list();

    if (sections->len || !cpr_owner_legacy_ok()) {
        return false;
    }
    for (guint i = 0; i < l->len; i++) {
        CprFd *e = g_ptr_array_index(l, i);
        g_autofree char *legacy = cpr_legacy_name(e->name);

        if (!legacy || strlen(legacy) > CPR_STATE_MAX_NAME) {
            return false;
        }
    }
    return true;
}

uint32_t cpr_state_version_needed(void)
{
    g_autoptr(GPtrArray) sections = cpr_sections_needed();

    return cpr_state_legacy_ok(sections) ? 2 : CPR_STATE_VERSION;
}

bool cpr_state_save(MigStream *f, MigMode mode, const char *fingerprint,
                    const CprTimes *times, GError **errp)
{
    static const CprTimes none;
    /*
     * The payload is built in a child of F: descriptors queued by
     * mig_put_fd() go out with F's bytes, in entry order.
     */
    g_autoptr(MigStream) p = mig_stream_new_mem_child_writer(f);
    g_autoptr(GPtrArray) sections = cpr_sections_needed();
    bool pass_fds = mig_stream_can_pass_fds(f);
    bool legacy = cpr_state_legacy_ok(sections);
    GPtrArray *l = cpr_list();
    const uint8_t *data;
    size_t len, fplen = strlen(fingerprint);

    if (l->len > CPR_STATE_MAX_ENTRIES || fplen > CPR_STATE_MAX_FINGERPRINT ||
        sections->len > CPR_STATE_MAX_SECTIONS) {
        error_setg(errp, "cpr state: %u descriptors, %u sections or a "
                   "%zu-byte configuration is more than the format allows",
                   l->len, sections->len, fplen);
        return false;
    }
    if (!times) {
        times = &none;
    }
    mig_put_u8(p, mode);
    mig_put_be64(p, times->stop_start);
    mig_put_be64(p, times->stopped);
    mig_put_be64(p, times->saved);
    mig_put_be64(p, times->exec);
    mig_put_be32(p, fplen);
    mig_put_buffer(p, fingerprint, fplen);
    cpr_owner_put_records(p, legacy);
    mig_put_be32(p, l->len);
    for (guint i = 0; i < l->len; i++) {
        CprFd *e = g_ptr_array_index(l, i);
        g_autofree char *name = legacy ? cpr_legacy_name(e->name) : NULL;

        put_str16(p, name ? name : e->name);
        mig_put_be32(p, (uint32_t)e->id);
        mig_put_be32(p, (uint32_t)e->fd);
        if (pass_fds) {
            mig_put_fd(p, e->fd);
        }
    }
    if (!cpr_out_section_fds) {
        cpr_out_section_fds = g_array_new(FALSE, FALSE, sizeof(int));
    }
    g_array_set_size(cpr_out_section_fds, 0);
    if (!legacy) {
        mig_put_be32(p, sections->len);
        for (guint i = 0; i < sections->len; i++) {
            if (!cpr_section_put(p, g_ptr_array_index(sections, i),
                                 pass_fds, errp)) {
                return false;
            }
        }
    }
    if (!mig_stream_check(p, errp)) {
        return false;
    }
    data = mig_stream_mem_data(p, &len);
    if (len > CPR_STATE_MAX_PAYLOAD) {
        error_setg(errp, "cpr state of %zu bytes exceeds the limit of %u",
                   len, CPR_STATE_MAX_PAYLOAD);
        return false;
    }
    cpr_frame_put(f, CPR_STATE_MAGIC, legacy ? 2 : CPR_STATE_VERSION, data,
                  len);
    cpr_out_version = legacy ? 2 : CPR_STATE_VERSION;
    /* The new process tells which owners it adopts (cpr-transfer). */
    cpr_owner_update_begins(mode == MIG_MODE_CPR_TRANSFER && pass_fds);
    /* What changes from now on goes with the switchover (cpr-late.c). */
    cpr_late_forget();
    if (mode == MIG_MODE_CPR_TRANSFER && pass_fds) {
        cpr_late_snapshot();
    }
    return mig_stream_check(f, errp);
}

void cpr_state_foreach_section_fd(void (*fn)(int fd, void *opaque),
                                  void *opaque)
{
    for (guint i = 0; cpr_out_section_fds && i < cpr_out_section_fds->len;
         i++) {
        fn(g_array_index(cpr_out_section_fds, int, i), opaque);
    }
}

uint32_t cpr_incoming_version(void)
{
    return cpr_in_version;
}

uint32_t cpr_state_written_version(void)
{
    return cpr_out_version;
}

/* One entry's descriptor: passed alongside (socket) or inherited (exec). */
static int cpr_state_entry_fd(MigStream *p, bool inherited, uint32_t num,
                              const char *name, GError **errp)
{
    int fd;

    if (!inherited) {
        fd = mig_get_fd(p);
        if (fd < 0) {
            mig_stream_check(p, errp);
            g_prefix_error(errp, "cpr state: descriptor of '%s': ", name);
        }
        return fd;
    }
    fd = (int)num;
    if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
        error_setg(errp, "cpr state: descriptor %d of '%s' was not "
                   "inherited", fd, name);
        return -1;
    }
    /* Inherited without close-on-exec; nothing else should inherit it. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

/*
 * Version 2 carried a cpr-exec monitor session as a memfd, registered as
 * the chardev's "monitor" entry: it becomes the CPR vmstate section it is
 * now (the payload is the same). True if NAME was one (FD consumed).
 */
static bool cpr_legacy_monitor(const char *name, int fd)
{
    const char *role = strrchr(name, '/');
    CprInSection *in;
    struct stat st;
    g_autofree uint8_t *buf = NULL;
    size_t done = 0;

    if (!g_str_has_prefix(name, "/chardevs/") || strcmp(role, "/monitor")) {
        return false;
    }
    if (fstat(fd, &st) == 0 && st.st_size > 0 &&
        st.st_size <= CPR_STATE_MAX_PAYLOAD) {
        buf = g_malloc(st.st_size);
        while (done < (size_t)st.st_size) {
            ssize_t r = pread(fd, buf + done, st.st_size - done, done);

            if (r <= 0 && errno != EINTR) {
                break;
            }
            done += r > 0 ? r : 0;
        }
    }
    close(fd);
    if (!buf || done != (size_t)st.st_size) {
        return true;    /* unreadable: the monitor starts a new session */
    }
    in = g_new0(CprInSection, 1);
    in->path = g_strndup(name, role - name);
    in->name = g_strdup("monitor");
    in->version = 1;
    in->data = g_bytes_new_take(g_steal_pointer(&buf), done);
    in->fds = g_array_new(FALSE, FALSE, sizeof(int));
    cpr_in_section_add(in);
    return true;
}

/* Version 3: the sections after the entries. */
static bool cpr_state_parse_sections(MigStream *p, bool inherited,
                                     GError **errp)
{
    uint32_t n = mig_get_be32(p);

    if (!mig_stream_check(p, errp)) {
        return false;
    }
    if (n > CPR_STATE_MAX_SECTIONS) {
        error_setg(errp, "cpr state: %u sections exceed the maximum %d", n,
                   CPR_STATE_MAX_SECTIONS);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        g_autofree char *path = get_str16(p, CPR_STATE_MAX_NAME,
                                          "section owner", errp);
        g_autofree char *name = path ? get_str16(p, 255, "section name",
                                                 errp) : NULL;
        CprInSection *in;
        uint32_t nfds, len;

        if (!name) {
            return false;
        }
        if (cpr_in_section_find(path, name, NULL)) {
            error_setg(errp, "cpr state: section '%s' of '%s' appears twice",
                       name, path);
            return false;
        }
        in = g_new0(CprInSection, 1);
        in->path = g_steal_pointer(&path);
        in->name = g_steal_pointer(&name);
        in->fds = g_array_new(FALSE, FALSE, sizeof(int));
        /* Added first: a failure below closes what it received. */
        cpr_in_section_add(in);
        in->version = mig_get_be32(p);
        nfds = mig_get_be32(p);
        if (!mig_stream_check(p, errp)) {
            return false;
        }
        if (nfds > CPR_STATE_MAX_SECTION_FDS) {
            error_setg(errp, "cpr state: section '%s' of '%s': %u "
                       "descriptors exceed the maximum %d", in->name,
                       in->path, nfds, CPR_STATE_MAX_SECTION_FDS);
            return false;
        }
        for (uint32_t k = 0; k < nfds; k++) {
            g_autofree char *what = g_strdup_printf("section '%s' of '%s'",
                                                    in->name, in->path);
            uint32_t num = mig_get_be32(p);
            int fd;

            if (!mig_stream_check(p, errp)) {
                return false;
            }
            fd = cpr_state_entry_fd(p, inherited, num, what, errp);
            if (fd < 0) {
                return false;
            }
            g_array_append_val(in->fds, fd);
        }
        len = mig_get_be32(p);
        if (!mig_stream_check(p, errp)) {
            return false;
        }
        if (len > mig_stream_remaining(p)) {
            error_setg(errp, "cpr state: section '%s' of '%s': length %u is "
                       "out of range", in->name, in->path, len);
            return false;
        }
        {
            g_autofree uint8_t *buf = g_malloc(MAX(len, 1));

            mig_get_buffer(p, buf, len);
            in->data = g_bytes_new_take(g_steal_pointer(&buf), len);
        }
    }
    return mig_stream_check(p, errp);
}

static bool cpr_state_parse(MigStream *p, bool inherited, uint32_t version,
                            GError **errp)
{
    uint8_t mode = mig_get_u8(p);
    CprTimes t;
    uint32_t fplen, n;
    g_autofree char *fp = NULL;

    t.stop_start = mig_get_be64(p);
    t.stopped = mig_get_be64(p);
    t.saved = mig_get_be64(p);
    t.exec = mig_get_be64(p);
    fplen = mig_get_be32(p);

    if (!mig_stream_check(p, errp)) {
        return false;
    }
    if (mode != MIG_MODE_CPR_TRANSFER && mode != MIG_MODE_CPR_EXEC) {
        error_setg(errp, "cpr state: mode %u is not a cpr mode that "
                   "preserves descriptors", mode);
        return false;
    }
    if (fplen > CPR_STATE_MAX_FINGERPRINT ||
        fplen > mig_stream_remaining(p)) {
        error_setg(errp, "cpr state: configuration length %u is out of "
                   "range", fplen);
        return false;
    }
    fp = g_malloc(fplen + 1);
    mig_get_buffer(p, fp, fplen);
    fp[fplen] = '\0';
    /* Version 1 has no owner records (cpr_compat_v1()). */
    if (version >= 2 && !cpr_owner_get_records(p, version < 3, errp)) {
        return false;
    }
    n = mig_get_be32(p);
    if (!mig_stream_check(p, errp)) {
        return false;
    }
    if (n > CPR_STATE_MAX_ENTRIES) {
        error_setg(errp, "cpr state: %u descriptors exceed the maximum %d",
                   n, CPR_STATE_MAX_ENTRIES);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        g_autofree char *name = get_str16(p, CPR_STATE_MAX_NAME, "name",
                                          errp);
        uint32_t id, num;
        int fd;

        if (!name) {
            return false;
        }
        id = mig_get_be32(p);
        num = mig_get_be32(p);
        if (!mig_stream_check(p, errp)) {
            return false;
        }
        if (version < 3) {
            char *canon = cpr_name_from_legacy(name);

            if (canon) {
                g_free(name);
                name = canon;
            }
        }
        if (cpr_lookup(name, (int)id, NULL)) {
            error_setg(errp, "cpr state: '%s' id %d appears twice", name,
                       (int)id);
            return false;
        }
        fd = cpr_state_entry_fd(p, inherited, num, name, errp);
        if (fd < 0) {
            return false;
        }
        if (version < 3 && cpr_legacy_monitor(name, fd)) {
            continue;
        }
        cpr_add(name, (int)id, fd);
    }
    if (version >= 3 && !cpr_state_parse_sections(p, inherited, errp)) {
        return false;
    }
    if (mig_stream_remaining(p)) {
        error_setg(errp, "cpr state: %zu unexpected trailing bytes",
                   mig_stream_remaining(p));
        return false;
    }
    cpr_in_mode = mode;
    cpr_in_version = version;
    cpr_in_times = t;
    cpr_in_fingerprint = g_steal_pointer(&fp);
    return true;
}

bool cpr_state_load(MigStream *f, bool inherited, GError **errp)
{
    uint8_t hdr[CPR_FRAME_HEADER];
    g_autofree uint8_t *data = NULL;
    g_autoptr(MigStream) p = NULL;
    uint32_t version, len, crc;

    g_assert(!cpr_fd_count() && !cpr_incoming);
    mig_get_buffer(f, hdr, sizeof(hdr));
    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (!cpr_frame_check(hdr, CPR_STATE_MAGIC, CPR_STATE_MIN_VERSION,
                         CPR_STATE_VERSION, CPR_STATE_MAX_PAYLOAD,
                         "cpr state", &version, &len, errp)) {
        return false;
    }
    data = g_malloc(MAX(len, 1));
    mig_get_buffer(f, data, len);
    crc = mig_get_be32(f);
    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (crc != cpr_frame_crc(hdr, data, len)) {
        error_setg(errp, "cpr state: checksum mismatch");
        return false;
    }
    p = mig_stream_new_mem_child_reader(f, data, len);
    if (!cpr_state_parse(p, inherited, version, errp)) {
        /* Nothing was adopted yet: give every received fd back. */
        cpr_fd_clear(true);
        g_clear_pointer(&cpr_in_sections, g_ptr_array_unref);
        cpr_owner_incoming_done();
        return false;
    }
    cpr_incoming = true;
    return true;
}
