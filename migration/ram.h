/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to migration/: counters of the "ram" live section (migration/
 * ram.c) for query-migrate's "ram" member. The section registers itself
 * from a constructor; nothing else needs calling.
 */
#ifndef BATON_MIGRATION_RAM_H
#define BATON_MIGRATION_RAM_H

#include <stdbool.h>
#include <stdint.h>
#include <json-glib/json-glib.h>

/*
 * Raw counters of the current (or last) outgoing migration, reset by the
 * section's setup. Rates over time (mbps, pages-per-second) are the state
 * machine's to compute from these and its own clock. Safe to read from
 * any thread while the migration thread updates them (each field is read
 * atomically; the set as a whole is not a snapshot).
 */
typedef struct RamMigrationStats {
    uint64_t transferred;      /* bytes the RAM section wrote */
    uint64_t precopy_bytes;    /* of those, while the guest ran */
    uint64_t downtime_bytes;   /* of those, after it stopped (complete) */
    uint64_t total;            /* bytes of RAM being migrated (not ignored) */
    uint64_t remaining;        /* dirty bytes not sent yet (last count) */
    uint64_t duplicate;        /* zero pages, sent as a flag only */
    uint64_t normal;           /* pages sent with their contents */
    uint64_t normal_bytes;     /* normal * page_size */
    uint64_t dirty_sync_count; /* dirty bitmap syncs (pass count) */
    uint64_t dirty_pages_rate; /* pages dirtied per second, last period */
    uint64_t page_size;        /* 4096 */
} RamMigrationStats;

void ram_migration_get_stats(RamMigrationStats *st);
/*
 * query-migrate's "ram" member from these counters and the state
 * machine's own figures (bytes of the whole stream, rates, and whether the
 * migration completed: then nothing remains and nothing is dirtied).
 */
void ram_migration_stats_to_json(JsonBuilder *b, uint64_t transferred,
                                 double mbps, double pages_per_second,
                                 bool completed);

#endif
