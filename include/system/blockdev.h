/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -drive: raw disk image files opened once at startup. A drive with if=ide
 * (the default) or if=none is attached to a device by its id (-device
 * ide-hd,drive=ID or virtio-blk-pci,drive=ID); a plain "-drive
 * file=F,format=raw" becomes the first IDE disk, one with if=virtio a
 * virtio-blk-pci of its own. Only format=raw exists; anything else is an
 * error.
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
    IF_VIRTIO,
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
    char *device;      /* the claiming device's id or path (query-block) */
    bool discard_unmap; /* discard=unmap: discards punch holes */
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

/*
 * Flush written data to stable storage; discard (punch a hole: reads
 * give zeroes after) or zero LEN bytes at OFFSET. false + errp naming the
 * drive on failure. A discard on a drive without discard=unmap, or a
 * host file system that cannot punch holes, does nothing and succeeds
 * (a discard is a hint).
 */
bool drive_flush(DriveInfo *drive, GError **errp);
bool drive_discard(DriveInfo *drive, uint64_t offset, uint64_t len,
                   GError **errp);
bool drive_write_zeroes(DriveInfo *drive, uint64_t offset, uint64_t len,
                        bool may_unmap, GError **errp);
/* The interface's name as -drive if= spells it ("ide", "none", "virtio"). */
const char *drive_interface_name(DriveInterface interface);

/* Remove every drive from the tree (each closes once unreferenced). */
void drive_cleanup_all(void);

#endif
