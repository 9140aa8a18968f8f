/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPR (checkpoint and restart) on one host: the migration modes that keep
 * the guest's memory and devices in place, and the one registry of file
 * descriptors that a new baton process (cpr-transfer) or image (cpr-exec)
 * inherits instead of opening and configuring the device again.
 *
 * Every fd owner (memory backends, chardevs, drives, later tap, vfio,
 * iommufd, vhost-vdpa) gets its fd in realize/open through this API,
 * before any configuring call. When cpr_is_incoming() and cpr_take_fd()
 * finds the fd, the owner skips whatever would disturb the live device
 * (binding, resetting, re-configuring) and says so in a comment.
 *
 * Keys are (owner's canonical path, role, index), built only here
 * (cpr_own_fd()); no caller formats a key. Data an owner needs before it
 * is created travels as a CPR vmstate section (cpr_vmstate_register()).
 * All functions: big lock held, or single-threaded start-up.
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

/*
 * ---- the owner helper ----
 *
 * An fd is owned by an object and named by (OBJ's canonical path, ROLE,
 * INDEX): "/chardevs/ser0" + "listen" + 0, "/objects/ram0" + "ram" + 0.
 * The registry does not own the fd (the owner closes it). Every entry an
 * object owns is forgotten when the object leaves the tree or is
 * finalized (object.c calls cpr_forget_owner()), so an owner only
 * disowns an fd it closes while it lives on. OBJ must be in the tree
 * (have a canonical path) when it owns or takes an fd.
 */
/*
 * Register FD as OBJ's (ROLE, INDEX) fd, handed to the new process.
 * Owning the key again with another fd is a bug (asserted): use
 * cpr_reown_fd() for an fd replaced on purpose.
 */
void cpr_own_fd(Object *obj, const char *role, int index, int fd);
void cpr_reown_fd(Object *obj, const char *role, int index, int fd);
/*
 * The fd registered as OBJ's (ROLE, INDEX), or -1. In a new process that
 * is the inherited one, which OBJ owns from now on.
 */
int cpr_take_fd(Object *obj, const char *role, int index);
/* The same, without taking it (a look before deciding to). */
int cpr_peek_fd(Object *obj, const char *role, int index);
/* Forget OBJ's (ROLE, INDEX) if it still names FD (OBJ closes FD). */
void cpr_disown_fd(Object *obj, const char *role, int index, int fd);
/*
 * cpr_take_fd(), else open(PATH, FLAGS, 0600) and own it; -1 + errp on
 * failure (the message names PATH).
 */
int cpr_open_fd(Object *obj, const char *role, int index, const char *path,
                int flags, GError **errp);
/* OBJ is going: forget every entry it owns (object.c, not owners). */
void cpr_forget_owner(Object *obj);
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
 * must match (cpr_check_config()). OWNER is the object's canonical
 * path ("/chardevs/ser0"); the fds of an owner are the registry entries whose
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
 * monitors, later tap/vfio): the core calls every notifier, big lock
 * held, in the order of its phase (below), then of registration.
 */
typedef enum CprEvent {
    /*
     * Old process, the update is set up (the main channel is open): stop
     * taking new work that would change the fds (accepting clients).
     * A failure fails the update; the guest runs on.
     */
    CPR_EVENT_PREPARE,
    /*
     * Old process, the new one is about to take over (the guest has
     * stopped, its state is about to be saved; cpr-exec: exec imminent):
     * stop all I/O on preserved fds for good (remove watches; do not
     * close or shut down sockets the new process now serves). A failure
     * rolls the update back: the guest resumes here.
     */
    CPR_EVENT_HANDOVER,
    /*
     * Old process, the update failed after PREPARE: carry on exactly as
     * before (the new process may have touched nothing). Every notifier
     * hears it, including one that a failure kept from hearing HANDOVER.
     * Cannot fail (an error is logged).
     */
    CPR_EVENT_ROLLBACK,
    /*
     * New process, about to resume the guest: start I/O on the adopted
     * fds (until now it must not read, accept or write on them). Cannot
     * fail (an error is logged).
     */
    CPR_EVENT_TAKEOVER,
    /*
     * New process, state loaded and (with the switchover handshake) GO
     * received, the commit (RESUMING) not yet sent: the last point at
     * which it may still refuse the guest. Take over what the old process
     * must keep until it can no longer take the guest back (the pinned
     * memory's accounting): never earlier, since a channel that breaks
     * before GO leaves the guest with the old process. A failure ends
     * this process without running the guest; the old one takes it back
     * (cpr-exec: the guest is lost). Run in TAKEOVER's order.
     */
    CPR_EVENT_COMMIT,
} CprEvent;

/*
 * Phases: PREPARE and HANDOVER run them in increasing order (monitors
 * flush what they queued while the chardevs still write; devices stop
 * before the backends they use go quiet), ROLLBACK, COMMIT and TAKEOVER
 * in decreasing order (backends work again before the devices and
 * monitors that use them).
 */
typedef enum CprPhase {
    CPR_PHASE_MONITOR,
    CPR_PHASE_DEVICE,
    CPR_PHASE_BACKEND,
} CprPhase;

/* Returns false with ERRP set to fail PREPARE, HANDOVER or COMMIT. */
typedef bool (*CprNotifyFn)(CprEvent event, void *opaque, GError **errp);
void cpr_add_notifier(CprNotifyFn fn, void *opaque, CprPhase phase);
void cpr_remove_notifier(CprNotifyFn fn, void *opaque);

/*
 * ---- fds that change during a cpr-transfer ----
 *
 * The CPR state goes out when the update starts, while the guest runs:
 * an fd may change after it (a chardev client connects or leaves, a
 * guest enables an MSI-X vector). That does not fail the update: the
 * switchover carries every entry of an adopted owner bound anew or
 * removed since ("cpr-late" section of the main channel, its fds by
 * SCM_RIGHTS). The new process applies it as it loads the device state,
 * before any device section and before TAKEOVER: the registry then names
 * the new fd (or none), the copy nobody took is closed, and for an entry
 * the owner took (or for an owner that exists) the handler of the
 * owner's type is called.
 */
/*
 * OBJ's (ROLE, INDEX) is now FD (-1: removed). OLD_FD is the fd OBJ took
 * for it before (-1: none), which the handler closes; the registry no
 * longer names it. Big lock held, OBJ not serving I/O yet. Returns false
 * + ERRP to fail the load (the old process then runs the guest on).
 */
typedef bool (*CprLateFn)(Object *obj, const char *role, int index, int old_fd,
                          int fd, GError **errp);
/*
 * Objects of TYPE (and its subtypes) take late fds with FN. An entry
 * whose taker has no handler fails the load, naming it.
 */
void cpr_add_late_handler(const char *type, CprLateFn fn);

/*
 * ---- CPR vmstate sections ----
 *
 * State an owner needs in the new process before it exists (an iommufd
 * IOAS id, a monitor session), with VMSTATE_FD fields for its fds. The
 * old process saves every registered section whose vmsd->needed (if
 * any) agrees into the CPR state, named by the owner's canonical path and
 * vmsd->name; the new process reads them with the CPR state, before any
 * backend or device is created, and the owner loads its own when it is
 * created. Sections go with the CPR state (cpr-transfer: when the update
 * starts; cpr-exec: just before the exec); the main channel carries the
 * rest. Forgotten with the owner (cpr_forget_owner()).
 */
typedef struct VMStateDescription VMStateDescription;
void cpr_vmstate_register(Object *owner, const VMStateDescription *vmsd,
                          void *opaque);
void cpr_vmstate_unregister(Object *owner, const VMStateDescription *vmsd);
/*
 * New process: load OWNER's section VMSD into OPAQUE (its fd fields
 * receive the inherited fds, which OPAQUE's owner now owns). *FOUND false
 * (and true returned) when the old process sent none. A malformed
 * section fails with an error naming the section and field.
 */
bool cpr_vmstate_load(Object *owner, const VMStateDescription *vmsd,
                      void *opaque, bool *found, GError **errp);

#endif
