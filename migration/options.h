/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to migration/: migration parameters and capabilities (QEMU's
 * names, defaults and checks), set by QMP, HMP and -global migration.*,
 * and read by the state machine. Main thread with the big lock held,
 * except the migrate_*() getters, which the migration thread may call
 * (they read single words).
 */
#ifndef BATON_MIGRATION_OPTIONS_H
#define BATON_MIGRATION_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "migration/cpr.h"

/* ---- getters used by the state machine ---- */
bool migrate_events(void);
/*
 * Live update, new process: take over the old process's "events"
 * capability, so the QMP client it keeps sees the MIGRATION events of the
 * switchover (the old process can no longer write to it by then).
 */
void migrate_inherit_events(bool on);
bool migrate_ignore_shared(void);
bool migrate_switchover_ack(void);
uint64_t migrate_max_bandwidth(void);              /* bytes/s, 0 = none */
uint64_t migrate_avail_switchover_bandwidth(void); /* bytes/s, 0 = estimate */
uint64_t migrate_downtime_limit(void);             /* ms */
/* announce-initial, -max, -rounds, -step (ms, ms, count, ms). */
void migrate_announce_params(uint64_t *initial, uint64_t *max,
                             uint64_t *rounds, uint64_t *step);
/* cpr-exec-command (NULL-terminated argv), or NULL when unset. */
char **migrate_cpr_exec_command(void);
/* The tls-creds parameter ("" when unset). */
const char *migrate_tls_creds(void);

/* ---- QMP ---- */
/* migrate-set-parameters: ARGS are the command's arguments (all optional). */
bool migrate_set_parameters(JsonObject *args, GError **errp);
JsonNode *migrate_query_parameters(void);
/* migrate-set-capabilities: CAPS is the "capabilities" array. */
bool migrate_set_capabilities(JsonArray *caps, GError **errp);
JsonNode *migrate_query_capabilities(void);

/* ---- HMP and -global ---- */
/*
 * migrate_set_parameter NAME VALUE (HMP's string conversions: sizes in
 * MiB for the bandwidths).
 */
bool migrate_set_parameter_str(const char *name, const char *value,
                               GError **errp);
/* migrate_set_capability NAME on|off. */
bool migrate_set_capability_str(const char *name, const char *value,
                                GError **errp);
/* info migrate_parameters / info migrate_capabilities / globals. */
void migrate_format_parameters(GString *out);
void migrate_format_capabilities(GString *out);
void migrate_format_globals(GString *out);

/* -global migration.PROP=VALUE; errors in QEMU's "can't apply global". */
bool migrate_global_set(const char *prop, const char *value, GError **errp);

#endif
