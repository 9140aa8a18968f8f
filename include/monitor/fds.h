/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File descriptors handed to baton over a monitor socket (SCM_RIGHTS):
 * named ones (getfd / closefd) and fd sets (add-fd / remove-fd /
 * query-fdsets) that stand in for file names as "/dev/fdset/N".
 *
 * All functions: main thread, big lock held.
 */
#ifndef BATON_MONITOR_FDS_H
#define BATON_MONITOR_FDS_H

#include <stdbool.h>
#include <sys/types.h>
#include <glib.h>

/*
 * Resolve a descriptor argument as QEMU's monitor_fd_param() does: a name
 * given to getfd (the named fd is removed from the monitor and the caller
 * owns it), a decimal number (an fd baton inherited; the caller owns it),
 * or "/dev/fdset/N" (a duplicate of the set's first descriptor). Returns
 * the fd or -1 + errp.
 */
int monitor_fd_param(const char *name, GError **errp);

/*
 * open(PATH, FLAGS, MODE) with QEMU's qemu_open() rule for fd sets:
 * "/dev/fdset/N" returns a duplicate of a descriptor in set N whose access
 * mode matches FLAGS (O_RDONLY / O_WRONLY / O_RDWR). O_CLOEXEC is added.
 * Returns the fd or -1 + errp naming PATH.
 */
int monitor_fdset_open(const char *path, int flags, mode_t mode,
                       GError **errp);

#endif
