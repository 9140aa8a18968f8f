/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to migration/: the CPR pieces the state machine (migration.c)
 * and start-up drive. cpr.c owns the fd registry, the notifiers, the
 * blockers and the CPR state format; cpr-transfer.c the 'cpr' channel;
 * cpr-exec.c the memfd and the exec. Big lock held (or single-threaded
 * start-up) unless a function says otherwise.
 */
#ifndef BATON_MIGRATION_CPR_INTERNAL_H
#define BATON_MIGRATION_CPR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "migration/cpr.h"
#include "migration/stream.h"

#include "channel.h"

/* Environment variable naming the cpr-exec state memfd in the new image. */
#define CPR_STATE_FD_ENV "BATON_CPR_STATE_FD"

/*
 * The CPR state format versions this baton writes (the newest) and reads
 * (down to the oldest). Version 1 is baton up to b23ea73:
 * cpr_compat_v1(). Version 2 added the owners' records; version 3 names
 * entries and owners by canonical path and carries CPR vmstate sections.
 * A state without sections is written as version 2 (legacy names), which
 * the release before this one reads too.
 */
#define CPR_STATE_VERSION 3
#define CPR_STATE_MIN_VERSION 1

/*
 * Monotonic timestamps (µs, CLOCK_MONOTONIC: one clock for every process
 * on the host) of the old process's switchover, carried to the new one so
 * that it can report the whole pause. Zero: not known.
 */
typedef struct CprTimes {
    int64_t stop_start;  /* vm_stop() called */
    int64_t stopped;     /* vCPUs stopped */
    int64_t saved;       /* device state written and flushed */
    int64_t exec;        /* cpr-exec: just before execvp() */
} CprTimes;

/* ---- registry internals (cpr.c) ---- */

/*
 * The raw registry under the owner helper: NAME is the owner's canonical
 * path + "/" + role (tests and the CPR state format use it directly;
 * owners use cpr_own_fd() and friends). Saving a key again with a
 * different fd is a bug (asserted); cpr_resave_fd() replaces on purpose.
 */
void cpr_save_fd(const char *name, int id, int fd);
void cpr_resave_fd(const char *name, int id, int fd);
/* The fd under (NAME, ID), or -1. */
int cpr_find_fd(const char *name, int id);
void cpr_delete_fd(const char *name, int id);
/*
 * The name version 1 and 2 of the CPR state used for canonical NAME
 * ("/chardevs/s0/conn" to "chardev/s0/conn"), or NULL if it had none
 * (free it); and back (NULL: not a legacy name).
 */
char *cpr_legacy_name(const char *name);
char *cpr_name_from_legacy(const char *legacy);

void cpr_fd_foreach(void (*fn)(const char *name, int id, int fd,
                               void *opaque),
                    void *opaque);
/*
 * The same with each entry's serial: a number that changes whenever the
 * key is bound anew (saved, re-saved with another fd, deleted and saved
 * again), even to an fd with the same number.
 */
void cpr_fd_foreach_serial(void (*fn)(const char *name, int id, uint64_t serial,
                                      void *opaque),
                           void *opaque);
/*
 * Bind (NAME, ID) to FD, or delete it if FD < 0, whoever owns it
 * (cpr-late.c, new process). Returns the fd it named before (-1: none)
 * and sets *TAKER to the object that had taken that one (NULL: nobody,
 * the caller closes it). The entry is not taken afterwards.
 */
int cpr_fd_replace(const char *name, int id, int fd, Object **taker);
/* The object that took (NAME, ID), or NULL. */
Object *cpr_fd_taker(const char *name, int id);
/* Forget every entry, closing the fds if CLOSE_FDS (tests, failed loads). */
void cpr_fd_clear(bool close_fds);
/*
 * Run the notifiers for EVENT in phase order (cpr.h). PREPARE and
 * HANDOVER stop at the first failure and return it; ROLLBACK and
 * TAKEOVER run every notifier and log failures.
 */
bool cpr_notify(CprEvent event, GError **errp);
/* The new process has taken over: cpr_is_incoming() is false from now. */
void cpr_incoming_done(void);
/* The old process's switchover times (all zero for cpr-transfer). */
const CprTimes *cpr_incoming_times(void);

/* ---- blockers (cpr-check.c) ---- */

/*
 * Whether this configuration can be live-updated in MODE: every RAM
 * block is shared and fd-backed, every object's type supports MODE and
 * its cpr_check agrees. The error names the first object at fault.
 */
bool cpr_check_blockers(MigMode mode, GError **errp);

/* ---- the registry (cpr.c) ---- */

/* Forget every entry of OWNER (names OWNER/...), closing its fds. */
void cpr_fd_drop_owner(const char *owner);
/* Whether entry NAME belongs to OWNER ("chardev/s0/conn" to "chardev/s0"). */
bool cpr_name_in_owner(const char *name, const char *owner);

/* ---- configuration fingerprint (cpr-check.c) ---- */

/*
 * Lines "vcpus N", "ram NAME SIZE", "object TYPE ID" (a new string).
 * Chardevs are left out: they are owners (cpr-owner.c), compared one by
 * one, and a new process may have other ones.
 */
char *cpr_config_fingerprint(void);
/* As a version-1 baton (up to b23ea73) listed it: chardevs included. */
char *cpr_config_fingerprint_v1(void);
/* The first line where they differ, as an error. */
bool cpr_config_compare(const char *old_fp, const char *new_fp,
                        GError **errp);
/*
 * In a cpr incoming process, once every backend and device exists and
 * before it listens on the main channel: compare the fingerprint with
 * what the old one sent, then settle the owners (cpr_owner_settle()).
 */
bool cpr_check_config(GError **errp);

/* ---- owners with their own configuration (cpr-owner.c) ---- */

/*
 * Frames: the CPR state and the cpr-transfer reply share a header (an
 * 8-byte MAGIC, be32 version, be32 payload length) and a trailing
 * CRC-32C of header and payload.
 */
#define CPR_FRAME_HEADER 16
void cpr_frame_put(MigStream *f, const char *magic, uint32_t version,
                   const uint8_t *payload, size_t len);
/*
 * Check HDR: MAGIC, a version from MIN_VERSION to MAX_VERSION (set
 * *VERSION), length at most MAX (set *LEN). WHAT names the frame in
 * errors ("cpr state").
 */
bool cpr_frame_check(const uint8_t *hdr, const char *magic,
                     uint32_t min_version, uint32_t max_version,
                     uint32_t max, const char *what, uint32_t *version,
                     uint32_t *len, GError **errp);
uint32_t cpr_frame_crc(const uint8_t *hdr, const uint8_t *payload,
                       size_t len);

/*
 * Old process: whether entry NAME goes to the new process (false for an
 * owner it declined, whose fds stay here).
 */
bool cpr_owner_entry_handed_over(const char *name);
/* Calls FN for each of this process's records, in recording order. */
void cpr_owner_foreach(void (*fn)(const char *owner, const char *record,
                                  void *opaque),
                       void *opaque);
/*
 * The records, into / from the CPR state payload. LEGACY: owners by
 * their version-2 names (cpr_legacy_name()); false if one has none.
 */
bool cpr_owner_put_records(MigStream *p, bool legacy);
bool cpr_owner_get_records(MigStream *p, bool legacy, GError **errp);
/* Whether every record's owner has a version-2 name. */
bool cpr_owner_legacy_ok(void);
/*
 * Old process, CPR state written: a new update starts, every owner
 * handed over. AWAIT_REPLY: the new process will say which it adopts
 * (cpr-transfer).
 */
void cpr_owner_update_begins(bool await_reply);
/* Old process, the update failed: every owner is handed over again. */
void cpr_owner_update_ends(void);
/*
 * New process, at cpr_check_config(): decline every owner of the old
 * process that nobody here adopted, and check that the records of the
 * adopted ones are equal to the old ones (first difference as error).
 */
bool cpr_owner_settle(GError **errp);
/* New process: forget the old process's records (take-over done). */
void cpr_owner_incoming_done(void);
/*
 * The cpr-transfer reply (new -> old): which owners the new process
 * adopted. cpr_owner_reply() returns the whole frame (free it);
 * cpr_owner_apply_reply() checks a frame that was read (HDR, then LEN
 * payload bytes and the be32 CRC) and applies it in the old process:
 * the owners it does not name are declined.
 */
#define CPR_REPLY_MAX_PAYLOAD (1u << 20)
GBytes *cpr_owner_reply(void);
bool cpr_owner_reply_header(const uint8_t *hdr, uint32_t *len,
                            GError **errp);
bool cpr_owner_apply_reply(const uint8_t *hdr, const uint8_t *payload,
                           uint32_t len, uint32_t crc, GError **errp);

/*
 * Which CPR state versions the baton binary at PATH (or open as FD, if
 * FD >= 0) reads, from the marker every baton carries in its image
 * ("baton-cpr-state-versions:MIN-MAX"). A binary that reads a CPR state
 * (it names BATON_CPR_STATE_FD) but has no marker predates it and reads
 * version 1 only (*MARKED false). Returns false when it cannot be told
 * (not a baton, say a wrapper script; unreadable).
 */
bool cpr_binary_state_versions(const char *path, int fd, unsigned int *lo,
                               unsigned int *hi, bool *marked);
/* "only version 1 of the CPR state (an older release)" and the like. */
char *cpr_versions_text(unsigned int lo, unsigned int hi, bool marked);

/* ---- CPR state format (cpr.c) ---- */

/*
 * Write the CPR state (MODE, FINGERPRINT, TIMES (may be NULL), every
 * registry entry) to F. On a stream that can pass fds each entry's fd
 * travels with it (SCM_RIGHTS); otherwise only its number is written
 * (cpr-exec: the fd is inherited). Does not flush F.
 */
bool cpr_state_save(MigStream *f, MigMode mode, const char *fingerprint,
                    const CprTimes *times, GError **errp);
/*
 * Read a CPR state from F into the (empty) registry and mark this
 * process cpr incoming. INHERITED: fds are the numbers in the state
 * (cpr-exec), else they arrive by SCM_RIGHTS. On failure every received
 * fd is closed and the registry stays empty.
 */
bool cpr_state_load(MigStream *f, bool inherited, GError **errp);
/*
 * The format version cpr_state_save() would write now (2 when nothing
 * needs 3), the one it last wrote, and the one this process read.
 */
uint32_t cpr_state_version_needed(void);
uint32_t cpr_state_written_version(void);
uint32_t cpr_incoming_version(void);
/* The fds of the sections in the state last written (cpr-exec exports). */
void cpr_state_foreach_section_fd(void (*fn)(int fd, void *opaque),
                                  void *opaque);

/* ---- the 'cpr' channel (cpr-transfer.c) ---- */

/* The cpr channel of a migrate command must be a UNIX socket. */
bool cpr_transfer_check_channel(const MigChannel *ch, GError **errp);
/*
 * migrate in MODE with main channel CH and cpr channel CPR (may be NULL):
 * the mode's own requirements (a cpr channel only and always with
 * cpr-transfer, a socket main channel, a runnable cpr-exec-command).
 */
bool cpr_check_channels(MigMode mode, const MigChannel *ch,
                        const MigChannel *cpr, GError **errp);
/*
 * New process: whether the peer of the accepted connection FD on
 * CHANNEL (a name for the log) may hand a guest over: a UNIX socket peer
 * runs as our effective uid or as root (SO_PEERCRED). If not, logs one
 * line naming its uid and returns false; the caller closes FD and keeps
 * listening. Peers of other sockets (TCP) are not checked.
 */
bool cpr_peer_trusted(int fd, const char *channel);
/*
 * New process, start-up: listen on / accept from CH, read the CPR state.
 * The connection stays open until cpr_transfer_incoming_close(): the old
 * process watches it to learn that this process died.
 */
bool cpr_transfer_incoming(const MigChannel *ch, GError **errp);
/*
 * New process, once its devices exist: tell the old process which
 * owners it adopted (cpr_owner_reply()) on the cpr connection.
 */
bool cpr_transfer_incoming_reply(GError **errp);
/*
 * New process, main loop: while ON, the old process closing the cpr
 * connection (it gave the update up before connecting the main channel)
 * ends this process with status 1. Off once the main channel connected:
 * from then on that channel tells.
 */
void cpr_transfer_incoming_watch(bool on);
void cpr_transfer_incoming_close(void);
/*
 * New process, after GO, the migration channel broken: true if the old
 * process has exited (waiting up to a second for a killed one to be
 * seen so); false while it lives, or if it is not known (the cpr channel
 * is not a UNIX socket): then it may take the guest back, and this
 * process must not run it.
 */
bool cpr_transfer_source_gone(void);
/*
 * Old process, migration thread, big lock NOT held: connect to CH
 * (retrying for a few seconds), send the CPR state (takes the big lock to
 * read the registry), wait for the new process's reply (which owners it
 * adopted; it comes once the new process's devices exist, or the
 * connection closes if it failed) and return the connection in *FD
 * (caller closes).
 */
bool cpr_transfer_send(const MigChannel *ch, int cancel_fd, int *fd,
                       GError **errp);
/* Old process: a cpr channel "fd:NAME" (getfd), connected; -1 on error. */
int cpr_transfer_open_fd(const MigChannel *cpr, GError **errp);

/* ---- fds that change after the CPR state was sent (cpr-late.c) ---- */

/*
 * Old process, cpr-transfer, as the CPR state is written: remember which
 * binding of each key it handed over (cpr_fd_foreach_serial()). At the
 * switchover the "cpr-late" section of the main channel carries what
 * changed since, for the owners the new process adopted.
 */
void cpr_late_snapshot(void);
/* The update ended (rollback) or a new state replaces the snapshot. */
void cpr_late_forget(void);
/*
 * Old process: the entries that changed since the snapshot (set or
 * removed) and go to the new process now; 0 without a snapshot.
 */
unsigned int cpr_late_pending(void);

/* ---- cpr-exec (cpr-exec.c) ---- */

/*
 * migrate in cpr-exec mode: cpr-exec-command set and runnable, and not a
 * baton that cannot read this CPR state (it would lose the guest: the
 * old image is gone by then). See cpr_exec_check_target().
 */
bool cpr_exec_check(char **argv, GError **errp);
/*
 * Write the CPR state into a memfd, export it and every preserved fd, and
 * exec ARGV. Returns only on failure, with everything as it was.
 */
bool cpr_exec_run(char **argv, const CprTimes *times, GError **errp);
/*
 * New image, start-up: if BATON_CPR_STATE_FD is set, read the state from
 * it (then unset it and close the memfd). *FOUND tells whether it was set.
 */
bool cpr_exec_incoming(bool *found, GError **errp);

#endif
