/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a live update may take over, decided before anything is sent: the
 * blockers (RAM that is not shared and fd-backed, objects whose type or
 * cpr_check refuses the mode) and the configuration fingerprint that the
 * new process compares with the old one's. The registry and the CPR
 * state stream are cpr.c's.
 */
#include "util/osdep.h"

#include "hw/core/machine.h"
#include "hw/core/qdev.h"
#include "migration/cpr.h"
#include "system/memory.h"

#include "cpr-internal.h"

/* ---- blockers ---- */

/* The object's kind: the abstract root it descends from. */
static const char *cpr_object_kind(const Object *obj)
{
    static const char *const kinds[] = {
        TYPE_CHARDEV, TYPE_MEMORY_BACKEND, TYPE_MACHINE, TYPE_DEVICE,
        TYPE_ACCEL,
    };

    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        if (object_dynamic_cast((Object *)obj, kinds[i])) {
            return kinds[i];
        }
    }
    return TYPE_OBJECT;
}

/* How messages name an object of KIND (cpr_object_kind()). */
static const char *cpr_kind_label(const char *kind)
{
    if (!strcmp(kind, TYPE_MEMORY_BACKEND)) {
        return "memory backend";
    }
    if (!strcmp(kind, TYPE_ACCEL)) {
        return "accelerator";
    }
    return strcmp(kind, TYPE_OBJECT) ? kind : "object";
}

static char *cpr_object_name(const Object *obj)
{
    const char *label = cpr_kind_label(cpr_object_kind(obj));

    if (object_get_id(obj)) {
        return g_strdup_printf("%s '%s' (%s)", label, object_get_id(obj),
                               object_get_typename(obj));
    }
    return g_strdup_printf("%s %s", label, object_get_typename(obj));
}

/*
 * Every RAM block must outlive this process: shared (MAP_SHARED) and
 * reachable through an fd the new process can map.
 */
static bool cpr_check_ram(MigMode mode, GError **errp)
{
    const GPtrArray *blocks = ram_block_list();
    const char *m = migrate_mode_name(mode);

    for (guint i = 0; blocks && i < blocks->len; i++) {
        const RAMBlock *rb = g_ptr_array_index(blocks, i);
        bool backend = object_dynamic_cast(object_find_user(rb->idstr),
                                           TYPE_MEMORY_BACKEND) != NULL;

        if ((rb->flags & RAM_SHARED) && rb->fd >= 0) {
            continue;
        }
        if (!backend) {
            error_setg(errp, "machine RAM '%s' is private anonymous memory; "
                       "use -machine aux-ram-share=on or a shared memory "
                       "backend for %s", rb->idstr, m);
        } else if (!(rb->flags & RAM_SHARED)) {
            error_setg(errp, "memory backend '%s' is not shared; %s needs "
                       "share=on", rb->idstr, m);
        } else {
            error_setg(errp, "memory backend '%s' has no file descriptor to "
                       "hand over; %s needs memory-backend-memfd or "
                       "memory-backend-file", rb->idstr, m);
        }
        return false;
    }
    return true;
}

typedef struct CprObjCheck {
    MigMode mode;
    GError *err;
} CprObjCheck;

/* The class decides (a subclass inherits its parent's modes and check). */
static int cpr_check_object(Object *obj, void *opaque)
{
    CprObjCheck *c = opaque;
    ObjectClass *oc = object_get_class(obj);

    if (!(oc->cpr_modes & MIG_MODE_BIT(c->mode))) {
        g_autofree char *name = cpr_object_name(obj);

        error_setg(&c->err, "%s does not support %s", name,
                   migrate_mode_name(c->mode));
        return 1;
    }
    if (oc->cpr_check && !oc->cpr_check(obj, c->mode, &c->err)) {
        if (!c->err) {
            g_autofree char *name = cpr_object_name(obj);

            error_setg(&c->err, "%s cannot be preserved in %s", name,
                       migrate_mode_name(c->mode));
        }
        return 1;
    }
    return 0;
}

bool cpr_check_blockers(MigMode mode, GError **errp)
{
    CprObjCheck c = { .mode = mode };

    if (!(MIG_MODE_BIT(mode) & CPR_MODES_PRESERVING)) {
        return true;
    }
    if (!cpr_check_ram(mode, errp)) {
        return false;
    }
    object_child_foreach_recursive(object_get_root(), cpr_check_object, &c);
    if (c.err) {
        g_propagate_error(errp, c.err);
        return false;
    }
    return true;
}

/* ---- configuration fingerprint ---- */

typedef struct FingerprintCtx {
    GString *s;
    bool v1;
} FingerprintCtx;

/*
 * The objects a command line creates, as the previous release listed
 * them ("object TYPE ID|-"): the machine, devices, backends and (in
 * version 1) chardevs, in tree order. Buses, containers and drives are
 * not listed: they follow from the rest.
 */
static int fingerprint_object(Object *obj, void *opaque)
{
    FingerprintCtx *f = opaque;
    const char *id = object_get_id(obj);

    if (object_dynamic_cast(obj, TYPE_MACHINE) ||
        object_dynamic_cast(obj, TYPE_DEVICE) ||
        object_dynamic_cast(obj, TYPE_MEMORY_BACKEND) ||
        (f->v1 && object_dynamic_cast(obj, TYPE_CHARDEV))) {
        g_string_append_printf(f->s, "object %s %s\n",
                               object_get_typename(obj), id ? id : "-");
    }
    return 0;
}

static char *cpr_fingerprint(bool v1)
{
    GString *s = g_string_new(NULL);
    MachineState *ms = current_machine_get();
    const GPtrArray *blocks = ram_block_list();

    g_string_append_printf(s, "vcpus %u\n", ms ? ms->smp_cpus : 0);
    for (guint i = 0; blocks && i < blocks->len; i++) {
        const RAMBlock *rb = g_ptr_array_index(blocks, i);

        g_string_append_printf(s, "ram %s 0x%" PRIx64 "\n", rb->idstr,
                               rb->size);
    }
    {
        FingerprintCtx f = { s, v1 };

        object_child_foreach_recursive(object_get_root(), fingerprint_object,
                                       &f);
    }
    return g_string_free(s, FALSE);
}

char *cpr_config_fingerprint(void)
{
    return cpr_fingerprint(false);
}

char *cpr_config_fingerprint_v1(void)
{
    return cpr_fingerprint(true);
}

static int fp_line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* FP's lines sorted, as one string. */
static char *fp_sorted(const char *fp)
{
    g_auto(GStrv) v = g_strsplit(fp, "\n", -1);
    guint n = g_strv_length(v);

    qsort(v, n, sizeof(char *), fp_line_cmp);
    return g_strjoinv("\n", v);
}

/* Lines about the same thing: equal up to their last word. */
static bool fp_same_key(const char *x, const char *y)
{
    const char *ex = strrchr(x, ' '), *ey = strrchr(y, ' ');

    return ex && ey && ex - x == ey - y && !strncmp(x, y, (size_t)(ex - x));
}

/*
 * The lines as a multiset: the composition tree lists children in
 * creation order, and a process that creates the same devices in another
 * order (-device edu,addr=5 before addr=4) has the same configuration:
 * devices are identified by their path or bus address, never by their
 * place in the order (DESIGN.md 3). A version-1 process listed objects in
 * creation order, which this also absorbs.
 */
bool cpr_config_compare(const char *old_fp, const char *new_fp,
                        GError **errp)
{
    g_autofree char *sa = fp_sorted(old_fp);
    g_autofree char *sb = fp_sorted(new_fp);
    g_auto(GStrv) a = g_strsplit(sa, "\n", -1);
    g_auto(GStrv) b = g_strsplit(sb, "\n", -1);
    guint na = g_strv_length(a), nb = g_strv_length(b);
    guint i = 0, j = 0;

    /* Skip the empty lines (the final newline sorts first). */
    while (i < na && !a[i][0]) {
        i++;
    }
    while (j < nb && !b[j][0]) {
        j++;
    }
    while (i < na || j < nb) {
        int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i], b[j]);

        if (!c) {
            i++;
            j++;
            continue;
        }
        if (i < na && j < nb && fp_same_key(a[i], b[j])) {
            error_setg(errp, "the configuration differs from the old "
                       "process: it has '%s' where this one has '%s'",
                       a[i], b[j]);
        } else if (c > 0) {
            error_setg(errp, "the configuration differs from the old "
                       "process: '%s' exists here but not there", b[j]);
        } else {
            error_setg(errp, "the configuration differs from the old "
                       "process: '%s' is missing here", a[i]);
        }
        return false;
    }
    return true;
}
