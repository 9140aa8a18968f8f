/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live migration as the rest of baton sees it: start-up hooks for
 * -incoming and -global migration.*, and the state queries other
 * subsystems need. The monitor commands (migrate, migrate-incoming,
 * query-migrate, ...) register themselves from migration/.
 *
 * All functions: main thread (or single-threaded start-up), big lock held
 * once the main loop runs.
 */
#ifndef BATON_MIGRATION_MIGRATION_H
#define BATON_MIGRATION_MIGRATION_H

#include <stdbool.h>
#include <glib.h>

#include "migration/cpr.h"

/*
 * Syntax check of one -incoming argument ("defer", a URI, or a channel
 * in JSON or dotted keys), for start-up errors before the VM is built.
 */
bool migration_incoming_check_arg(const char *arg, GError **errp);

/*
 * Start-up, before any backend, chardev, drive or device exists: if this
 * process takes over a guest (BATON_CPR_STATE_FD from cpr-exec in the
 * environment, or a 'cpr' channel among INCOMING_ARGS, NULL-terminated,
 * which it then listens on and waits for), read the CPR state: the fds
 * the devices adopt, cpr_is_incoming() true. Blocks until the old
 * process connects. Nothing to do is success.
 */
bool migration_cpr_startup(const char *const *incoming_args, GError **errp);

/*
 * After the machine and its devices exist: enter run state "inmigrate" and,
 * unless the (last main-channel) argument is "defer", start listening or
 * reading at once. INCOMING_ARGS is NULL-terminated. AUTOSTART false
 * (-S) leaves the guest paused after the migration even if the source was
 * running it. Errors name the argument ("-incoming ...: ..."). A process
 * that took over CPR state first checks that its configuration matches
 * the old process's (the error names the first difference) and, without
 * a main -incoming, waits as with "defer".
 */
bool migration_incoming_setup(const char *const *incoming_args,
                              bool autostart, GError **errp);
/* QMP/HMP "cont" while in "inmigrate": run the guest once loaded. */
void migration_incoming_set_autostart(bool autostart);

/* -global migration.PROP=VALUE (parameters, capabilities, flags). */
bool migration_global_set(const char *prop, const char *value,
                          GError **errp);

/*
 * Whether an outgoing migration is in progress (setup, active, device,
 * cancelling...): capabilities are frozen and a new migrate is refused.
 */
bool migration_is_active(void);
/*
 * The mode of the outgoing migration in progress (as it was when migrate
 * began), else the "mode" parameter: for live sections' is_active hooks
 * and fd owners that act only in the CPR modes. Any thread.
 */
MigMode migration_mode(void);

/*
 * cpr-transfer went through: the new process runs the guest and this one
 * has released it (KVM VM and vCPUs gone), so it can never run it again.
 */
bool migration_guest_released(void);

/*
 * The switchover-ack capability (QEMU's): the source does not switch over
 * before the destination acknowledged each live section that asks for it
 * (SaveVMHandlers.switchover_ack_needed).
 */
bool migration_switchover_ack_enabled(void);
/*
 * Destination, a section's load_state: this section is ready for the
 * switch-over (e.g. a VFIO device loaded its initial state): send the
 * source SWITCHOVER_ACK. False + errp without the capability or a socket.
 */
bool migration_switchover_approve(GError **errp);

/*
 * Process exit: cancel any migration and wait for its thread. May drop
 * and retake the big lock.
 */
void migration_shutdown(void);

#endif
