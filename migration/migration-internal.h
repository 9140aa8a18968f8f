/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to migration/: the state machine's entry points behind the QMP
 * and HMP commands (migration-qmp.c, migration-hmp.c). All of them run in
 * the main loop with the big lock held.
 */
#ifndef BATON_MIGRATION_MIGRATION_INTERNAL_H
#define BATON_MIGRATION_MIGRATION_INTERNAL_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

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

#endif
