/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to migration/: the state machine's entry points behind the QMP
 * and HMP commands (migration-qmp.c, migration-hmp.c). All of them run in
 * the main loop with the big lock held.
 */
#ifndef BATON_MIGRATION_MIGRATION_INTERNAL_H
#define BATON_MIGRATION_MIGRATION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "system/runstate.h"

/*
 * migrate: exactly one of URI / CHANNELS. Returns once the migration
 * thread runs (sockets connect there; their failures only show in
 * query-migrate) or with the error of a destination that could not be
 * opened (the migration then is "failed" too, as in QEMU).
 */
bool migration_qmp_migrate(const char *uri, JsonArray *channels,
                           bool resume, GError **errp);
/* migrate-incoming; valid once, and only with -incoming defer. */
bool migration_qmp_incoming(const char *uri, JsonArray *channels,
                            bool exit_on_error, GError **errp);
/* migrate_cancel: no-op unless a migration is in setup/active. */
void migration_cancel(void);
/* query-migrate's MigrationInfo object. */
JsonNode *migration_query(void);

/*
 * ---- "globalstate" (global-state.c) ----
 * Big lock held. Registered by the first migration on either side.
 */
void global_state_register(void);
/*
 * Source, at the switchover: the run state to send, and the handshake
 * version it will wait for after the EOF record: 0 none, 1 READY/GO/
 * RESUMING (RESUMED only for figures), 2 the same and RESUMED.
 */
void global_state_store(RunState state);
void global_state_set_switchover(int version);
/* Source, migration over: the next save records the state as it is. */
void global_state_clear(void);
/* Destination, after a load: the handshake version the source wants. */
int global_state_switchover_requested(void);
/* Destination, after a load: whether a run state came, in *TARGET. */
bool global_state_received(RunState *target);

/*
 * ---- the switchover handshake (switchover.c) ----
 * Messages on a socket main channel after the EOF record (format:
 * docs/devel/migration-stream.md): the destination sends READY or
 * FAILED, the source GO. Any thread, no lock. Times are CLOCK_MONOTONIC
 * µs of the sender.
 */

/*
 * Source: wait TIMEOUT_MS for READY (*LOADED: when the destination had
 * loaded). FAILED becomes the error. A readable CANCEL_FD
 * (migrate_cancel) or any event on WATCH_FD (the cpr channel closing)
 * ends the wait; either may be -1.
 */
bool switchover_wait_ready(int fd, int cancel_fd, int watch_fd,
                           int timeout_ms, int64_t *loaded, GError **errp);
/* Source: GO, with the times of its stop, stopped, sent and GO. */
bool switchover_send_go(int fd, int64_t stop_start, int64_t stopped,
                        int64_t saved, int64_t go, GError **errp);
/*
 * Destination: READY (LOADED), then wait as long as it takes for GO;
 * TIMES gets GO's four times. A closed channel is an error: no guest.
 */
bool switchover_confirm(int fd, int64_t loaded, int64_t times[4],
                        GError **errp);
/*
 * Destination, big lock held, loaded and (with the handshake, HS) GO
 * received: commit (a live update's COMMIT notifiers, then RESUMING).
 * False, with the reason, if this process must not run the guest: the
 * commit failed (FAILED went to the source instead), or in cpr-transfer
 * the channel broke while the old process lives (it takes the guest
 * back). True: run the guest now.
 */
bool switchover_commit(int fd, int hs, GError **errp);
/*
 * Destination: the load failed, or (after GO, instead of RESUMING) the
 * commit did (REASON); best effort.
 */
bool switchover_send_failed(int fd, const char *reason, GError **errp);
/*
 * Source, after GO: wait until the destination says it resumes the guest
 * (RESUMING). False if it died, refused the guest (FAILED: the error has
 * its reason) or sent anything else first: the guest never ran there,
 * and the source takes it back.
 */
bool switchover_wait_resuming(int fd, GError **errp);
/* Source, the stream broke first: a FAILED within 100 ms replaces *ERR. */
void switchover_peer_reason(int fd, GError **err);
/* Destination, while loading: SWITCHOVER_ACK (switchover-ack capability). */
bool switchover_send_ack(int fd, GError **errp);
/*
 * Source, while iterating: count the SWITCHOVER_ACKs that arrived into
 * *ACKS, waiting up to TIMEOUT_MS (0: not at all; -1: forever) for the
 * first (a readable CANCEL_FD ends the wait). FAILED, anything else or a
 * closed channel: false + errp.
 */
bool switchover_poll_acks(int fd, int cancel_fd, int timeout_ms,
                          unsigned int *acks, GError **errp);

/*
 * The pause of one switchover by phase (µs; -1: not known on this side),
 * query-migrate's "x-pause-phases"; docs/system/migration.md and cpr.md
 * explain each.
 */
typedef struct PausePhases {
    int64_t stop, sync, ram, devices, save, exec, setup, load, handshake,
        resume, total;
} PausePhases;

#define PAUSE_PHASES_NONE { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 }

/*
 * A source's switchover times, CLOCK_MONOTONIC µs (0: not reached or not
 * known). The destination's come from READY and RESUMED; SAME_CLOCK says
 * they are on this side's clock (cpr-transfer, or the same boot id).
 */
typedef struct PauseTimes {
    int64_t stop_start, stopped, synced, live_sent, saved, go, resuming;
    int64_t cpr_loaded, load_start; /* destination: CPR state read, load */
    int64_t loaded, go_received, resumed;
    bool same_clock;
} PauseTimes;

void pause_phases_source(const PauseTimes *t, PausePhases *p);

/*
 * Source, the rest fits downtime-limit: whether one more pass while the
 * guest runs should leave a final set half as large or less. PENDING
 * bytes were dirtied over the pass just done (PASS_MS long); sending them
 * takes PENDING / BW_PER_MS, over which the guest dirties about PENDING *
 * that / PASS_MS again. EXTRA passes were made so already (at most 3).
 */
bool switchover_extra_pass_pays(uint64_t pending, double bw_per_ms,
                                int64_t pass_ms, int extra);
/*
 * Destination: the source's times come with the CPR state (cpr-exec) or
 * GO (cpr-transfer); in MODE normal only this side's own spans count.
 * GO_RECEIVED is 0 without a handshake.
 */
void pause_phases_incoming(int mode, const PauseTimes *t, PausePhases *p);

/*
 * Destination, guest running (or left paused as asked): RESUMED with
 * this host's boot id and the times it loaded, got GO and resumed.
 * Best effort: the source only uses it for its figures.
 */
#define SWITCHOVER_BOOT_ID_LEN 16
bool switchover_send_resumed(int fd, int64_t loaded, int64_t go_received,
                             int64_t resumed, GError **errp);
/*
 * Source, after RESUMING: wait for RESUMED (TIMEOUT_MS, -1 for ever) and
 * fill in T's destination times (LOADED only if the clocks compare,
 * which it also records). 1: the guest runs there; 0: CANCEL_FD became
 * readable (this process is exiting); -1 (with the error): the channel
 * closed or failed first, or the time ran out. A cpr-transfer source
 * (handshake version 2) waits for ever: -1 means the new process died
 * before it ran the guest, which is lost; a migration source waits a
 * moment for its figures only (an older destination closes instead).
 */
int switchover_wait_resumed(int fd, int cancel_fd, int timeout_ms,
                            PauseTimes *t, GError **errp);

/* "x-pause-phases": the known phases as a member of B's object. */
void pause_phases_to_json(JsonBuilder *b, const PausePhases *p);

#endif
