/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The vmstate walker: saves and loads an object by its VMStateDescription
 * (include/migration/vmstate.h has the wire encoding). Loading checks every
 * version, count and bool before it stores anything; errors name the
 * description path and field. Sections and records are migration/savevm.c.
 */
#include "util/osdep.h"

#include "migration/stream.h"
#include "migration/vmstate.h"

/*
 * Where we are, for error messages: "isa-serial.fifo[2]". Built on the C
 * stack while walking and formatted only when something fails.
 */
typedef struct VMSPath {
    const struct VMSPath *parent;
    const char *name;
    int64_t index; /* element of a struct array, or -1 */
} VMSPath;

static void path_append(GString *s, const VMSPath *p)
{
    if (p->parent) {
        path_append(s, p->parent);
        g_string_append_c(s, '.');
    }
    g_string_append(s, p->name);
    if (p->index >= 0) {
        g_string_append_printf(s, "[%" PRId64 "]", p->index);
    }
}

static char *path_str(const VMSPath *p)
{
    GString *s = g_string_new(NULL);

    path_append(s, p);
    return g_string_free(s, FALSE);
}

/* "PATH: field 'F': message" (FIELD may be NULL: "PATH: message"). */
static void G_GNUC_PRINTF(4, 5)
    vms_error(GError **errp, const VMSPath *path, const VMStateField *field,
              const char *fmt, ...)
{
    g_autofree char *where = path_str(path);
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (field) {
        error_setg(errp, "%s: field '%s': %s", where, field->name, msg);
    } else {
        error_setg(errp, "%s: %s", where, msg);
    }
}

/* Turn a sticky stream error into one naming the field. */
static bool vms_check_stream(MigStream *f, const VMSPath *path,
                             const VMStateField *field, GError **errp)
{
    const GError *err = mig_stream_error(f);

    if (err) {
        vms_error(errp, path, field, "%s", err->message);
        return false;
    }
    return true;
}

static void vms_prefix(GError **errp, const VMSPath *path)
{
    g_autofree char *where = NULL;

    if (errp && *errp) {
        where = path_str(path);
        g_prefix_error(errp, "%s: ", where);
    }
}

/* Bytes one element takes on the wire (0: variable, i.e. a struct). */
static size_t vms_wire_size(VMStateType type)
{
    switch (type) {
    case VMS_UINT8:
    case VMS_INT8:
    case VMS_BOOL:
    case VMS_FD:
        return 1;
    case VMS_UINT16:
    case VMS_INT16:
        return 2;
    case VMS_UINT32:
    case VMS_INT32:
        return 4;
    case VMS_UINT64:
    case VMS_INT64:
        return 8;
    case VMS_STRUCT:
        return 0;
    }
    g_assert_not_reached();
}

/* Bytes one element takes in memory; tables built by hand must agree. */
static size_t vms_mem_size(VMStateType type)
{
    switch (type) {
    case VMS_BOOL:
        return sizeof(bool);
    case VMS_FD:
        return sizeof(int);
    default:
        return vms_wire_size(type);
    }
}

static void vms_check_table(const VMStateField *field)
{
    g_assert(field->type == VMS_STRUCT
                 ? field->vmsd != NULL
                 : field->elem_size == vms_mem_size(field->type));
}

/* Number of elements to save, or -1 (error set) on an inconsistent count. */
static int64_t vms_save_count(MigStream *f, const VMStateField *field,
                              void *opaque, const VMSPath *path, GError **errp)
{
    uint32_t count;

    if (field->flags & VMS_ARRAY) {
        return field->num;
    }
    if (!(field->flags & VMS_VARRAY)) {
        return 1;
    }
    memcpy(&count, (uint8_t *)opaque + field->count_offset, sizeof(count));
    if (count > field->num) {
        vms_error(errp, path, field,
                  "count %" PRIu32 " exceeds maximum %" PRIu32, count,
                  field->num);
        return -1;
    }
    mig_put_be32(f, count);
    return count;
}

static void vms_put_scalar(MigStream *f, VMStateType type, const void *p)
{
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    int fd;

    switch (type) {
    case VMS_UINT8:
    case VMS_INT8:
        mig_put_u8(f, *(const uint8_t *)p);
        break;
    case VMS_UINT16:
    case VMS_INT16:
        memcpy(&v16, p, sizeof(v16));
        mig_put_be16(f, v16);
        break;
    case VMS_UINT32:
    case VMS_INT32:
        memcpy(&v32, p, sizeof(v32));
        mig_put_be32(f, v32);
        break;
    case VMS_UINT64:
    case VMS_INT64:
        memcpy(&v64, p, sizeof(v64));
        mig_put_be64(f, v64);
        break;
    case VMS_BOOL:
        mig_put_u8(f, *(const bool *)p ? 1 : 0);
        break;
    case VMS_FD:
        /* The marker byte follows the descriptor, so it arrives first. */
        memcpy(&fd, p, sizeof(fd));
        if (fd >= 0) {
            mig_put_fd(f, fd);
        }
        mig_put_u8(f, fd >= 0);
        break;
    case VMS_STRUCT:
        g_assert_not_reached();
    }
}

static bool vms_save_state(MigStream *f, const VMStateDescription *vmsd,
                           void *opaque, const VMSPath *path, GError **errp);

static bool vms_save_field(MigStream *f, const VMStateField *field,
                           void *opaque, const VMSPath *path, GError **errp)
{
    uint8_t *base = (uint8_t *)opaque + field->offset;
    int64_t n = vms_save_count(f, field, opaque, path, errp);

    if (field->flags & VMS_POINTER) {
        base = *(uint8_t **)base;
    }

    if (n < 0) {
        return false;
    }
    if (field->type == VMS_UINT8) {
        mig_put_buffer(f, base, n);
        return vms_check_stream(f, path, field, errp);
    }
    for (int64_t i = 0; i < n; i++) {
        void *elem = base + i * field->elem_size;

        if (field->type == VMS_STRUCT) {
            VMSPath sub = {
                .parent = path,
                .name = field->vmsd->name,
                .index = field->flags & (VMS_ARRAY | VMS_VARRAY) ? i : -1,
            };

            if (!vms_save_state(f, field->vmsd, elem, &sub, errp)) {
                return false;
            }
        } else {
            vms_put_scalar(f, field->type, elem);
        }
    }
    return vms_check_stream(f, path, field, errp);
}

static bool vms_save_state(MigStream *f, const VMStateDescription *vmsd,
                           void *opaque, const VMSPath *path, GError **errp)
{
    if (vmsd->pre_save && !vmsd->pre_save(opaque, errp)) {
        vms_prefix(errp, path);
        return false;
    }
    for (const VMStateField *field = vmsd->fields; field && field->name;
         field++) {
        vms_check_table(field);
        if (field->version_id > vmsd->version_id) {
            continue;
        }
        if (!vms_save_field(f, field, opaque, path, errp)) {
            return false;
        }
    }
    for (const VMStateDescription *const *s = vmsd->subsections; s && *s; s++) {
        const VMStateDescription *sub = *s;
        VMSPath subpath = {.parent = path, .name = sub->name, .index = -1};

        if (sub->needed && !sub->needed(opaque)) {
            continue;
        }
        mig_put_u8(f, 1);
        mig_put_str(f, sub->name);
        mig_put_be32(f, sub->version_id);
        if (!vms_save_state(f, sub, opaque, &subpath, errp)) {
            return false;
        }
    }
    mig_put_u8(f, 0);
    return vms_check_stream(f, path, NULL, errp);
}

bool vmstate_save(MigStream *f, const VMStateDescription *vmsd, void *opaque,
                  GError **errp)
{
    VMSPath root = {.name = vmsd->name, .index = -1};

    return vms_save_state(f, vmsd, opaque, &root, errp);
}

/* ---- loading ---- */

static bool vms_get_scalar(MigStream *f, const VMStateField *field, void *p,
                           const VMSPath *path, GError **errp)
{
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    uint8_t v8;
    int fd = -1;

    switch (field->type) {
    case VMS_UINT8:
    case VMS_INT8:
        *(uint8_t *)p = mig_get_u8(f);
        break;
    case VMS_UINT16:
    case VMS_INT16:
        v16 = mig_get_be16(f);
        memcpy(p, &v16, sizeof(v16));
        break;
    case VMS_UINT32:
    case VMS_INT32:
        v32 = mig_get_be32(f);
        memcpy(p, &v32, sizeof(v32));
        break;
    case VMS_UINT64:
    case VMS_INT64:
        v64 = mig_get_be64(f);
        memcpy(p, &v64, sizeof(v64));
        break;
    case VMS_BOOL:
        v8 = mig_get_u8(f);
        if (v8 > 1) {
            vms_error(errp, path, field, "invalid bool value %u", v8);
            return false;
        }
        *(bool *)p = v8;
        break;
    case VMS_FD:
        v8 = mig_get_u8(f);
        if (mig_stream_error(f)) {
            /* Truncated: the field keeps what it holds (maybe an fd). */
            return vms_check_stream(f, path, field, errp);
        }
        if (v8 > 1) {
            vms_error(errp, path, field, "invalid descriptor marker 0x%02x",
                      v8);
            return false;
        }
        if (v8) {
            fd = mig_get_fd(f);
            if (fd < 0) {
                return vms_check_stream(f, path, field, errp);
            }
        }
        memcpy(p, &fd, sizeof(fd));
        break;
    case VMS_STRUCT:
        g_assert_not_reached();
    }
    return true;
}

/* Number of elements to load, or -1 (error set) for a bad count. */
static int64_t vms_load_count(MigStream *f, const VMStateField *field,
                              void *opaque, const VMSPath *path, GError **errp)
{
    size_t wire = vms_wire_size(field->type);
    size_t left;
    uint32_t count;

    if (field->flags & VMS_ARRAY) {
        return field->num;
    }
    if (!(field->flags & VMS_VARRAY)) {
        return 1;
    }
    count = mig_get_be32(f);
    if (!vms_check_stream(f, path, field, errp)) {
        return -1;
    }
    if (count > field->num) {
        vms_error(errp, path, field,
                  "count %" PRIu32 " exceeds maximum %" PRIu32, count,
                  field->num);
        return -1;
    }
    left = mig_stream_remaining(f);
    if (wire && left != SIZE_MAX && (uint64_t)count * wire > left) {
        vms_error(errp, path, field,
                  "count %" PRIu32 " needs %" PRIu64 " bytes, only %zu left",
                  count, (uint64_t)count * wire, left);
        return -1;
    }
    memcpy((uint8_t *)opaque + field->count_offset, &count, sizeof(count));
    return count;
}

static bool vms_load_state(MigStream *f, const VMStateDescription *vmsd,
                           void *opaque, int version_id, const VMSPath *path,
                           GError **errp);

static bool vms_load_field(MigStream *f, const VMStateField *field,
                           void *opaque, const VMSPath *path, GError **errp)
{
    uint8_t *base = (uint8_t *)opaque + field->offset;
    int64_t n = vms_load_count(f, field, opaque, path, errp);

    if (field->flags & VMS_POINTER) {
        base = *(uint8_t **)base;
    }

    if (n < 0) {
        return false;
    }
    if (field->type == VMS_UINT8) {
        mig_get_buffer(f, base, n);
        return vms_check_stream(f, path, field, errp);
    }
    for (int64_t i = 0; i < n; i++) {
        void *elem = base + i * field->elem_size;

        if (field->type == VMS_STRUCT) {
            VMSPath sub = {
                .parent = path,
                .name = field->vmsd->name,
                .index = field->flags & (VMS_ARRAY | VMS_VARRAY) ? i : -1,
            };

            /* Nested descriptions carry no version: their own applies. */
            if (!vms_load_state(f, field->vmsd, elem, field->vmsd->version_id,
                                &sub, errp)) {
                return false;
            }
        } else if (!vms_get_scalar(f, field, elem, path, errp)) {
            return false;
        }
    }
    return vms_check_stream(f, path, field, errp);
}

static int vms_find_subsection(const VMStateDescription *vmsd, const char *name)
{
    for (int i = 0; vmsd->subsections && vmsd->subsections[i]; i++) {
        if (!strcmp(vmsd->subsections[i]->name, name)) {
            return i;
        }
    }
    return -1;
}

static bool vms_load_subsections(MigStream *f, const VMStateDescription *vmsd,
                                 void *opaque, const VMSPath *path,
                                 GError **errp)
{
    uint64_t seen = 0;

    for (;;) {
        uint8_t tag = mig_get_u8(f);
        uint32_t version;
        char name[256];
        int idx;
        VMSPath subpath = {.parent = path, .name = name, .index = -1};

        if (!vms_check_stream(f, path, NULL, errp)) {
            return false;
        }
        if (tag == 0) {
            return true;
        }
        if (tag != 1) {
            vms_error(errp, path, NULL, "invalid subsection marker 0x%02x",
                      tag);
            return false;
        }
        mig_get_str(f, name);
        version = mig_get_be32(f);
        if (!vms_check_stream(f, path, NULL, errp)) {
            return false;
        }
        idx = vms_find_subsection(vmsd, name);
        if (idx < 0) {
            vms_error(errp, path, NULL, "unknown subsection '%s'", name);
            return false;
        }
        /* Descriptions have at most 64 subsections (asserted). */
        g_assert(idx < 64);
        if (seen & (1ull << idx)) {
            vms_error(errp, path, NULL, "subsection '%s' sent twice", name);
            return false;
        }
        seen |= 1ull << idx;
        if (version > G_MAXINT) {
            vms_error(errp, &subpath, NULL, "unsupported version %" PRIu32,
                      version);
            return false;
        }
        if (!vms_load_state(f, vmsd->subsections[idx], opaque, version,
                            &subpath, errp)) {
            return false;
        }
    }
}

static bool vms_load_state(MigStream *f, const VMStateDescription *vmsd,
                           void *opaque, int version_id, const VMSPath *path,
                           GError **errp)
{
    if (version_id > vmsd->version_id ||
        version_id < vmsd->minimum_version_id) {
        vms_error(errp, path, NULL,
                  "unsupported version %d (accepted %d to "
                  "%d)",
                  version_id, vmsd->minimum_version_id, vmsd->version_id);
        return false;
    }
    if (vmsd->pre_load && !vmsd->pre_load(opaque, errp)) {
        vms_prefix(errp, path);
        return false;
    }
    for (const VMStateField *field = vmsd->fields; field && field->name;
         field++) {
        vms_check_table(field);
        /* Fields added after the stream's version keep their value. */
        if (field->version_id > version_id) {
            continue;
        }
        if (!vms_load_field(f, field, opaque, path, errp)) {
            return false;
        }
    }
    if (!vms_load_subsections(f, vmsd, opaque, path, errp)) {
        return false;
    }
    if (vmsd->post_load && !vmsd->post_load(opaque, version_id, errp)) {
        vms_prefix(errp, path);
        return false;
    }
    return true;
}

bool vmstate_load(MigStream *f, const VMStateDescription *vmsd, void *opaque,
                  int version_id, GError **errp)
{
    VMSPath root = {.name = vmsd->name, .index = -1};

    return vms_load_state(f, vmsd, opaque, version_id, &root, errp);
}
