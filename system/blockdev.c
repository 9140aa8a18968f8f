/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -drive: raw image files, opened once at startup and read/written with
 * positional I/O. Each drive is an object at /drives/ID, so a device's
 * link property (ide-hd's drive=ID) finds it by id, and claims it.
 * The image fd is registered for live update: a new process keeps using
 * the old one's open file instead of opening the image again.
 */
#include "util/osdep.h"

#include <linux/falloc.h>
#include <sys/stat.h>

#include "hw/core/object.h"
#include "migration/cpr.h"
#include "system/blockdev.h"
#include "util/error-report.h"

#define DRIVES_PATH "/drives"

static Object *drives_container(void)
{
    return container_get(object_get_root(), DRIVES_PATH);
}

static const char *const drive_known_opts[] = {
    "file", "format", "if", "id", "index", "media", "readonly", "read-only",
    "cache", "aio", "discard", "bus", "unit", NULL,
};

static bool drive_parse_interface(const char *str, DriveInterface *out,
                                  GError **errp)
{
    if (!str || !strcmp(str, "ide")) {
        *out = IF_IDE;
    } else if (!strcmp(str, "none")) {
        *out = IF_NONE;
    } else if (!strcmp(str, "virtio")) {
        *out = IF_VIRTIO;
    } else {
        error_setg(errp, "unsupported bus type '%s' (baton has 'ide', "
                   "'virtio' and 'none')", str);
        return false;
    }
    return true;
}

const char *drive_interface_name(DriveInterface interface)
{
    switch (interface) {
    case IF_IDE:
        return "ide";
    case IF_VIRTIO:
        return "virtio";
    default:
        return "none";
    }
}

static bool drive_open(DriveInfo *drive, GError **errp)
{
    Object *obj = &drive->parent_obj;
    struct stat st;

    /* The "image" role under /drives/ID ("object/ID/image" before). */
    drive->fd = cpr_is_incoming() ? cpr_take_fd(obj, "image", 0) : -1;
    if (drive->fd < 0) {
        drive->fd = open(drive->filename,
                         (drive->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (drive->fd < 0) {
            error_setg_errno(errp, errno, "Could not open '%s'",
                             drive->filename);
            return false;
        }
        cpr_own_fd(obj, "image", 0, drive->fd);
    }
    /*
     * Adopted: the old process's open file (same file even if the path
     * was renamed or replaced meanwhile), not re-opened. I/O is
     * positional, so the file offset both processes share (which lseek
     * moves for block devices) is never used.
     */
    if (fstat(drive->fd, &st) < 0) {
        error_setg_errno(errp, errno, "Could not stat '%s'", drive->filename);
        return false;
    }
    drive->size = st.st_size;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(drive->fd, 0, SEEK_END);

        drive->size = end > 0 ? (uint64_t)end : 0;
    }
    return true;
}

static void drive_instance_init(Object *obj)
{
    ((DriveInfo *)obj)->fd = -1;
}

/* Its CPR entry went when it left the tree (cpr_forget_owner()). */
static void drive_instance_finalize(Object *obj)
{
    DriveInfo *drive = (DriveInfo *)obj;

    if (drive->fd >= 0) {
        close(drive->fd);
    }
    g_free(drive->id);
    g_free(drive->filename);
    g_free(drive->device);
}

static bool drive_parse_options(DriveInfo *drive, const OptList *opts,
                                GError **errp)
{
    const char *format = opts_get(opts, "format");
    const char *media = opts_get(opts, "media");
    const char *discard = opts_get(opts, "discard");
    uint64_t index;
    bool ro, ro2;

    if (!opts_check_known(opts, drive_known_opts, NULL, errp)) {
        return false;
    }
    drive->filename = g_strdup(opts_get(opts, "file"));
    if (!drive->filename) {
        error_setg(errp, "Parameter 'file' is missing");
        return false;
    }
    if (!format) {
        warn_report("Image format was not specified for '%s' and probing "
                    "guessed raw; specify 'format=raw' to silence this",
                    drive->filename);
    } else if (strcmp(format, "raw")) {
        error_setg(errp, "unknown or unsupported format '%s' "
                   "(baton supports 'raw')", format);
        return false;
    }
    if (media && strcmp(media, "disk")) {
        error_setg(errp, "unsupported media '%s'", media);
        return false;
    }
    if (discard && strcmp(discard, "ignore") && strcmp(discard, "off") &&
        strcmp(discard, "unmap") && strcmp(discard, "on")) {
        error_setg(errp, "Invalid discard option");
        return false;
    }
    drive->discard_unmap = discard && (!strcmp(discard, "unmap") ||
                                       !strcmp(discard, "on"));
    if (!drive_parse_interface(opts_get(opts, "if"), &drive->interface,
                               errp) ||
        !opts_get_bool(opts, "readonly", false, &ro, errp) ||
        !opts_get_bool(opts, "read-only", ro, &ro2, errp) ||
        !opts_get_uint(opts, "index", UINT64_MAX, &index, errp)) {
        return false;
    }
    drive->read_only = ro2;
    drive->index = index == UINT64_MAX ? -1 : (int)MIN(index, 2);
    if (index != UINT64_MAX && index > 1 && drive->interface == IF_IDE) {
        error_setg(errp, "index %" PRIu64 " is out of range: baton has one "
                   "IDE channel (index 0 or 1)", index);
        return false;
    }
    return true;
}

DriveInfo *drive_new(const OptList *opts, GError **errp)
{
    DriveInfo *drive = (DriveInfo *)object_new(TYPE_DRIVE);
    const char *id = opts_get(opts, "id");
    g_autofree char *name = NULL;

    if (!drive_parse_options(drive, opts, errp)) {
        goto fail;
    }
    if (id) {
        if (drive_find(id)) {
            error_setg(errp, "Duplicate ID '%s' for drive", id);
            goto fail;
        }
        name = g_strdup(id);
    } else {
        /* QEMU's implicit names: ide0-hd0, ide0-hd1, ... or none0. */
        unsigned int n = drives_container()->children->len;

        name = drive->interface == IF_IDE
                   ? g_strdup_printf("ide%u-hd%u", n / 2, n % 2)
               : drive->interface == IF_VIRTIO
                   ? g_strdup_printf("virtio%u", n)
                   : g_strdup_printf("none%u", n);
    }
    drive->id = g_strdup(name);
    /* In the tree first: its cpr key is built from its id there. */
    object_property_add_child(drives_container(), name, &drive->parent_obj);
    object_unref(&drive->parent_obj);
    if (!drive_open(drive, errp)) {
        object_unparent(&drive->parent_obj);
        return NULL;
    }
    return drive;

fail:
    object_unref(&drive->parent_obj);
    return NULL;
}

DriveInfo *drive_find(const char *id)
{
    return (DriveInfo *)object_resolve_path_component(drives_container(),
                                                      id);
}

const GPtrArray *drive_list(void)
{
    return drives_container()->children;
}

bool drive_attach(DriveInfo *drive, const char *device, GError **errp)
{
    if (drive->attached) {
        error_setg(errp, "drive '%s' is already in use by another device "
                   "(wanted by '%s')", drive->id, device);
        return false;
    }
    drive->attached = true;
    drive->device = g_strdup(device);
    return true;
}

bool drive_flush(DriveInfo *drive, GError **errp)
{
    if (!drive->read_only && fdatasync(drive->fd) < 0) {
        error_setg_errno(errp, errno, "drive '%s': flush failed", drive->id);
        return false;
    }
    return true;
}

static bool drive_range_ok(DriveInfo *drive, uint64_t offset, uint64_t len,
                           const char *what, GError **errp)
{
    if (drive->read_only) {
        error_setg(errp, "drive '%s' is read-only", drive->id);
        return false;
    }
    if (offset > drive->size || len > drive->size - offset) {
        error_setg(errp, "drive '%s': %s of %" PRIu64 " bytes at %" PRIu64
                   " is beyond the end of the image", drive->id, what, len,
                   offset);
        return false;
    }
    return true;
}

bool drive_discard(DriveInfo *drive, uint64_t offset, uint64_t len,
                   GError **errp)
{
    if (!drive_range_ok(drive, offset, len, "discard", errp)) {
        return false;
    }
    if (drive->discard_unmap && len &&
        fallocate(drive->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  offset, len) < 0 &&
        errno != EOPNOTSUPP) {
        error_setg_errno(errp, errno, "drive '%s': discard at %" PRIu64
                         " failed", drive->id, offset);
        return false;
    }
    return true;
}

bool drive_write_zeroes(DriveInfo *drive, uint64_t offset, uint64_t len,
                        bool may_unmap, GError **errp)
{
    static const uint8_t zeroes[65536];
    int mode = may_unmap && drive->discard_unmap
                   ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                   : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;

    if (!drive_range_ok(drive, offset, len, "write-zeroes", errp)) {
        return false;
    }
    if (!len || fallocate(drive->fd, mode, offset, len) == 0) {
        return true;
    }
    /* A file system without either mode: write them. */
    while (len) {
        size_t n = MIN(len, sizeof(zeroes));

        if (!drive_pwrite(drive, offset, zeroes, n, errp)) {
            return false;
        }
        offset += n;
        len -= n;
    }
    return true;
}

bool drive_pread(DriveInfo *drive, uint64_t offset, void *buf, size_t len,
                 GError **errp)
{
    size_t done = 0;

    if (offset > drive->size || len > drive->size - offset) {
        error_setg(errp, "drive '%s': read of %zu bytes at %" PRIu64
                   " is beyond the end of the image", drive->id, len, offset);
        return false;
    }
    while (done < len) {
        ssize_t n = pread(drive->fd, (uint8_t *)buf + done, len - done,
                          offset + done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error_setg_errno(errp, n < 0 ? errno : EIO,
                             "drive '%s': read at %" PRIu64 " failed",
                             drive->id, offset + done);
            return false;
        }
        done += n;
    }
    return true;
}

bool drive_pwrite(DriveInfo *drive, uint64_t offset, const void *buf,
                  size_t len, GError **errp)
{
    size_t done = 0;

    if (drive->read_only) {
        error_setg(errp, "drive '%s' is read-only", drive->id);
        return false;
    }
    if (offset > drive->size || len > drive->size - offset) {
        error_setg(errp, "drive '%s': write of %zu bytes at %" PRIu64
                   " is beyond the end of the image", drive->id, len, offset);
        return false;
    }
    while (done < len) {
        ssize_t n = pwrite(drive->fd, (const uint8_t *)buf + done,
                           len - done, offset + done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error_setg_errno(errp, n < 0 ? errno : EIO,
                             "drive '%s': write at %" PRIu64 " failed",
                             drive->id, offset + done);
            return false;
        }
        done += n;
    }
    return true;
}

void drive_cleanup_all(void)
{
    Object *c = drives_container();

    while (c->children->len) {
        object_unparent(g_ptr_array_index(c->children,
                                          c->children->len - 1));
    }
}

static void drive_class_init(ObjectClass *oc, const void *data)
{
    /* The image fd is handed over (cpr_find_fd in drive_open()). */
    oc->cpr_modes = ~0u;
    oc->desc = "a -drive: a raw disk image";
}

static const TypeInfo drive_type = {
    .name = TYPE_DRIVE,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(DriveInfo),
    .instance_init = drive_instance_init,
    .instance_finalize = drive_instance_finalize,
    .class_init = drive_class_init,
};

static void drive_register_types(void)
{
    type_register(&drive_type);
    object_register_link_container(TYPE_DRIVE, DRIVES_PATH);
}
type_init(drive_register_types)
