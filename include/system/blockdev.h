/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -drive: raw disk image files opened once at startup. A drive with if=ide
 * (the default) or if=none is attached to a device by its id (-device
 * ide-hd,drive=ID); a plain "-drive file=F,format=raw" becomes the first
 * IDE disk. Only format=raw exists; anything else is an error.
 */
#ifndef BATON_SYSTEM_BLOCKDEV_H
#define BATON_SYSTEM_BLOCKDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>

#include "hw/core/object.h"
#include "util/option.h"

/* Drives are objects at /drives/ID, so link properties find them. */
#define TYPE_DRIVE "drive"

typedef enum DriveInterface {
    IF_NONE,
    IF_IDE,
} DriveInterface;

typedef struct DriveInfo {
    Object parent_obj;

    char *id;          /* user id, or "ide0-hd0" style for implicit drives */
    char *filename;
    int fd;
    uint64_t size;     /* bytes */
    bool read_only;
    DriveInterface interface;
    int index;         /* unit index on its bus, -1 if unset */
    bool attached;     /* claimed by a device */
} DriveInfo;

/* Parse and open one -drive. */
DriveInfo *drive_new(const OptList *opts, GError **errp);
DriveInfo *drive_find(const char *id);
/* Drives in creation order (GPtrArray of DriveInfo *, /drives' children). */
const GPtrArray *drive_list(void);
/* Mark DRIVE used by a device; fails if already attached. */
bool drive_attach(DriveInfo *drive, const char *device, GError **errp);

/* Positional I/O on the image; false + errp (naming the drive) on failure. */
bool drive_pread(DriveInfo *drive, uint64_t offset, void *buf, size_t len,
                 GError **errp);
bool drive_pwrite(DriveInfo *drive, uint64_t offset, const void *buf,
                  size_t len, GError **errp);

/* Remove every drive from the tree (each closes once unreferenced). */
void drive_cleanup_all(void);

#endif
