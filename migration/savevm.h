/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to migration/: the savevm engine that walks the registered
 * sections and writes or reads the stream format of
 * docs/devel/migration-stream.md. The state machine (migration.c) drives
 * it; devices only see include/migration/register.h.
 */
#ifndef BATON_MIGRATION_SAVEVM_H
#define BATON_MIGRATION_SAVEVM_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "migration/stream.h"

/* Magic and format version at the start of every stream. */
#define SAVEVM_MAGIC "BATONMIG"
#define SAVEVM_FORMAT_VERSION 1
/* Largest record payload a loader accepts (checked before allocating). */
#define SAVEVM_MAX_RECORD (16u * 1024 * 1024)

/* Record types (the first byte of each record). */
typedef enum SavevmRecordType {
    SAVEVM_REC_SECTION_START = 0x01,
    SAVEVM_REC_SECTION_PART = 0x02,
    SAVEVM_REC_SECTION_END = 0x03,
    SAVEVM_REC_SECTION_FULL = 0x04,
    SAVEVM_REC_EOF = 0x05,
} SavevmRecordType;

typedef struct SavevmOptions {
    /* x-ignore-shared: RAM blocks with a shared fd backing are not sent. */
    bool ignore_shared;
} SavevmOptions;

/*
 * Options of the migration in progress, for live handlers (ram.c): set by
 * savevm_setup() on the source and savevm_set_options() on the
 * destination; all false otherwise. Never NULL.
 */
const SavevmOptions *savevm_options(void);
void savevm_set_options(const SavevmOptions *opts);

/* ---- source side; one migration at a time ---- */

bool savevm_write_header(MigStream *f, GError **errp);
/* Big lock held: live sections' setup (dirty logging on, block lists). */
bool savevm_setup(MigStream *f, const SavevmOptions *opts, GError **errp);
/*
 * Big lock NOT held: one bounded chunk from the live sections. Returns 1
 * when every live section has finished its current pass, 0 if more
 * remains, -1 on error.
 */
int savevm_iterate(MigStream *f, GError **errp);
/*
 * After setup: the live sections that will be acknowledged by the
 * destination (switchover_ack_needed), big lock held.
 */
unsigned int savevm_switchover_acks_needed(void);
/* Bytes the live sections still have to send; SYNC: dirty sync first. */
uint64_t savevm_pending(bool sync);
/*
 * vCPUs stopped, big lock held: live sections' remainders, every vmstate
 * section in registration order, then the EOF record; flushes.
 */
bool savevm_complete(MigStream *f, GError **errp);
/*
 * When the last savevm_complete() had the live sections' final dirty
 * syncs done and their data written (CLOCK_MONOTONIC µs; 0: it did not
 * get there). Live handlers call savevm_note_synced() after their sync.
 */
void savevm_complete_times(int64_t *synced, int64_t *live_sent);
void savevm_note_synced(void);
/* After success, failure or cancel: live sections clean up (log off). */
void savevm_cleanup(void);
/*
 * The whole source side in one go, for a stopped guest (snapshots, tests):
 * header, setup, iterate until every pass is done, complete, cleanup.
 * Takes no lock itself.
 */
bool savevm_save_all(MigStream *f, const SavevmOptions *opts, GError **errp);

/* ---- destination side ---- */

/*
 * Read a whole stream: header, records (each verified: length bound, CRC,
 * known section, version range, exact consumption) until EOF. Device
 * records are applied with the big lock held, taken for each run of
 * records that have arrived whole, inside one deferred memory
 * transaction (memory.h); the caller does not hold it. On failure the machine
 * state is partly loaded and must not run: the caller reports and exits.
 */
bool savevm_load(MigStream *f, GError **errp);
/*
 * Destination, big lock held, when the incoming migration starts
 * listening for the source: each section's load_prepare, so that work a
 * post_load can do ahead is done outside the pause.
 */
void savevm_load_prepare(void);

/*
 * Forget every registration (unit tests and fuzzers start from an empty
 * registry, without the sections that constructors registered).
 */
void savevm_unregister_all(void);

/* Which section/field failed last (for messages); may be NULL. */
const char *savevm_last_section(void);

#endif
