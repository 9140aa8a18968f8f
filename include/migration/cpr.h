/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPR (checkpoint and restart) on one host: the migration modes that keep
 * the guest's memory and devices in place, and the one registry of file
 * descriptors that a new baton process (cpr-transfer) or image (cpr-exec)
 * inherits instead of opening and configuring the device again.
 *
 * Every fd owner (memory backends, chardevs, drives, later tap, vfio,
 * iommufd, vhost-vdpa) gets its fd in realize/open through this API,
 * before any configuring call. When cpr_is_incoming() and cpr_find_fd()
 * finds the fd, the owner skips whatever would disturb the live device
 * (binding, resetting, re-configuring) and says so in a comment.
 *
 * Keys are (name, id): NAME from cpr_fd_key() (owner's kind and id plus a
 * role: "chardev/ser0/listen"), ID an index (queue, vector). All functions:
 * big lock held, or single-threaded start-up.
 */
#ifndef BATON_MIGRATION_CPR_H
#define BATON_MIGRATION_CPR_H

#include <stdbool.h>
#include <glib.h>

typedef struct Object Object;

/* QEMU's MigMode names: normal, cpr-reboot, cpr-transfer, cpr-exec. */
typedef enum MigMode {
    MIG_MODE_NORMAL,
    MIG_MODE_CPR_REBOOT,
    MIG_MODE_CPR_TRANSFER,
    MIG_MODE_CPR_EXEC,
    MIG_MODE__MAX
} MigMode;

#define MIG_MODE_BIT(m) (1u << (m))
/* The modes that preserve fds and map RAM in place. */
#define CPR_MODES_PRESERVING \
    (MIG_MODE_BIT(MIG_MODE_CPR_TRANSFER) | MIG_MODE_BIT(MIG_MODE_CPR_EXEC))

const char *migrate_mode_name(MigMode mode);
/* The mode parameter (migrate-set-parameters mode=...) outgoing migrations use. */
MigMode migrate_mode(void);

/* The key NAME for OBJ's fd with ROLE ("chardev/ser0/conn"). Free it. */
char *cpr_fd_key(const Object *obj, const char *role);

/*
 * Register FD under (NAME, ID) so it is handed to the new process. The
 * registry does not own FD (the owner closes it). Saving a key again with
 * a different fd is a bug (asserted); use cpr_resave_fd() for an owner
 * that replaced its fd on purpose.
 */
void cpr_save_fd(const char *name, int id, int fd);
void cpr_resave_fd(const char *name, int id, int fd);
/* The fd under (NAME, ID), or -1. */
int cpr_find_fd(const char *name, int id);
/* Forget (NAME, ID); called when the owner closes the fd (unrealize). */
void cpr_delete_fd(const char *name, int id);
/*
 * cpr_find_fd(), else open(PATH, FLAGS, 0600) and save it; -1 + errp on
 * failure (the message names PATH).
 */
int cpr_open_fd(const char *path, int flags, const char *name, int id,
                GError **errp);
/* Number of registered fds (tests check nothing leaks after unrealize). */
unsigned int cpr_fd_count(void);

/*
 * Whether this process was started to take over a guest (cpr state was
 * received before the backends were created), and in which mode.
 */
bool cpr_is_incoming(void);
MigMode cpr_incoming_mode(void);

/*
 * New process: whether the old process speaks version 1 of the live
 * update protocol (baton up to b23ea73, before owners could differ). Such
 * a process hands every chardev and every monitor session over at the
 * switchover, whatever this one does with them, and reads nothing on the
 * cpr channel. So this process has exactly its chardevs (checked by
 * cpr_compat_v1_check_object() at creation and by the fingerprint) and
 * inherits each of them by id; its monitor sessions come one section per
 * monitor, numbered by creation order; no reply goes out. The updates
 * accepted are listed in docs/devel/migration-stream.md, "Updates from
 * older releases".
 */
bool cpr_compat_v1(void);
/*
 * Version 1: whether the old process had OBJ (same type and id), else an
 * error that says so. Before anything opens a path of its own.
 */
bool cpr_compat_v1_check_object(const Object *obj, GError **errp);

/*
 * Owners whose configuration may differ between the old and the new
 * process (chardevs and the monitors on them). Only these may; the rest
 * must match (cpr_check_config()). OWNER is cpr_fd_key(obj, NULL)
 * ("chardev/ser0"); the fds of an owner are the registry entries whose
 * names start with OWNER + "/".
 *
 * Every process records, for each such owner, a RECORD: text that is
 * equal in two processes exactly when the owner's configuration is the
 * same (the owner defines its format). The old process sends its records
 * with the CPR state. The new process inherits an owner's fds only if it
 * says so with cpr_owner_adopt(); otherwise it creates its own, and the
 * old process keeps serving its own (cpr-transfer: it learns which
 * owners the new process adopted before the guest stops).
 */
/* This process's record for OWNER (replaces any earlier one). */
void cpr_owner_record(const char *owner, const char *record);
/* Drop this process's record for OWNER (the owner is destroyed). */
void cpr_owner_forget(const char *owner);
/* New process: the old process's record for OWNER, or NULL. */
const char *cpr_owner_old_record(const char *owner);
/*
 * Calls FN for every owner the old process recorded (new process, while
 * cpr_is_incoming()), in the old process's order.
 */
void cpr_owner_foreach_old(void (*fn)(const char *owner, const char *record,
                                      void *opaque),
                           void *opaque);
/*
 * New process: OWNER takes the old process's fds over. At
 * cpr_check_config() its record must then be equal to the old one.
 */
void cpr_owner_adopt(const char *owner);
/*
 * New process: OWNER does not take the old process's fds over (its
 * configuration differs, or it does not exist here): forget them and
 * close this process's copies. The old process keeps its own.
 */
void cpr_owner_decline(const char *owner);
/*
 * Old process: whether OWNER is handed over in the update under way.
 * False once the new process has said it does not adopt it (cpr-transfer
 * only); such an owner carries on here as if no update ran.
 */
bool cpr_owner_handed_over(const char *owner);

/*
 * Hand-over points, for fd owners that do I/O on preserved fds (chardevs,
 * monitors, later tap/vfio): the core calls every notifier, in
 * registration order, with the big lock held.
 */
typedef enum CprEvent {
    /*
     * Old process, the new one has taken over (GO sent, or exec imminent):
     * stop all I/O on preserved fds for good (remove watches; do not
     * close or shut down sockets the new process now serves).
     */
    CPR_EVENT_HANDOVER,
    /*
     * Old process, the update failed after CPR state was sent: carry on
     * exactly as before (the new process may have touched nothing).
     */
    CPR_EVENT_ROLLBACK,
    /*
     * New process, about to resume the guest: start I/O on the adopted
     * fds (until now it must not read, accept or write on them).
     */
    CPR_EVENT_TAKEOVER,
} CprEvent;

typedef void (*CprNotifyFn)(CprEvent event, void *opaque);
void cpr_add_notifier(CprNotifyFn fn, void *opaque);
void cpr_remove_notifier(CprNotifyFn fn, void *opaque);

#endif
