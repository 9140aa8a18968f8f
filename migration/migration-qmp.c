/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP commands of migration (qapi/migration.json names): argument
 * handling only; the state machine is migration.c and the parameters and
 * capabilities options.c. Postcopy-only commands answer with QEMU's
 * errors for a migration that is not in postcopy.
 */
#include "util/osdep.h"

#include "monitor/monitor.h"

#include "migration-internal.h"
#include "options.h"

static JsonArray *arg_array(JsonObject *args, const char *name)
{
    JsonNode *node = args ? json_object_get_member(args, name) : NULL;

    return node ? json_node_get_array(node) : NULL;
}

static bool qmp_migrate(JsonObject *args, JsonNode **ret, GError **errp)
{
    /* "detach" exists for compatibility and is ignored, as in QEMU. */
    return migration_qmp_migrate(qmp_arg_str(args, "uri"),
                                 arg_array(args, "channels"),
                                 qmp_arg_bool(args, "resume", false), errp);
}

static bool qmp_migrate_incoming(JsonObject *args, JsonNode **ret,
                                 GError **errp)
{
    return migration_qmp_incoming(qmp_arg_str(args, "uri"),
                                  arg_array(args, "channels"),
                                  qmp_arg_bool(args, "exit-on-error", true),
                                  errp);
}

static bool qmp_migrate_cancel(JsonObject *args, JsonNode **ret,
                               GError **errp)
{
    migration_cancel();
    return true;
}

static bool qmp_query_migrate(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    *ret = migration_query();
    return true;
}

static bool qmp_migrate_set_parameters(JsonObject *args, JsonNode **ret,
                                       GError **errp)
{
    return migrate_set_parameters(args, errp);
}

static bool qmp_query_migrate_parameters(JsonObject *args, JsonNode **ret,
                                         GError **errp)
{
    *ret = migrate_query_parameters();
    return true;
}

static bool qmp_migrate_set_capabilities(JsonObject *args, JsonNode **ret,
                                         GError **errp)
{
    return migrate_set_capabilities(arg_array(args, "capabilities"), errp);
}

static bool qmp_query_migrate_capabilities(JsonObject *args, JsonNode **ret,
                                           GError **errp)
{
    *ret = migrate_query_capabilities();
    return true;
}

/* The current status name, as query-migrate reports it ("none" if none). */
static char *current_status(void)
{
    g_autoptr(JsonNode) info = migration_query();
    const char *st = json_object_get_string_member_with_default(
        json_node_get_object(info), "status", "none");

    return g_strdup(st);
}

static bool qmp_migrate_continue(JsonObject *args, JsonNode **ret,
                                 GError **errp)
{
    g_autofree char *st = current_status();

    /*
     * Without pause-before-switchover nothing ever waits here; a matching
     * state is accepted as QEMU does (it just has no effect).
     */
    if (strcmp(st, qmp_arg_str(args, "state"))) {
        error_setg(errp, "Migration not in expected state: %s", st);
        return false;
    }
    return true;
}

static bool qmp_migrate_start_postcopy(JsonObject *args, JsonNode **ret,
                                       GError **errp)
{
    error_setg(errp, "Enable postcopy with migrate_set_capability before "
               "the start of migration");
    return false;
}

static bool qmp_migrate_pause(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    error_setg(errp, "migrate-pause is currently only supported during "
               "postcopy-active or postcopy-recover state");
    return false;
}

static bool qmp_migrate_recover(JsonObject *args, JsonNode **ret,
                                GError **errp)
{
    error_setg(errp, "Migrate recover can only be run when postcopy is "
               "paused.");
    return false;
}

static const QmpArgSpec migrate_args[] = {
    { "uri", QMP_ARG_STR, true },
    { "channels", QMP_ARG_ARRAY, true },
    { "detach", QMP_ARG_BOOL, true },
    { "resume", QMP_ARG_BOOL, true },
    { NULL }
};

static const QmpArgSpec migrate_incoming_args[] = {
    { "uri", QMP_ARG_STR, true },
    { "channels", QMP_ARG_ARRAY, true },
    { "exit-on-error", QMP_ARG_BOOL, true },
    { NULL }
};

static const QmpArgSpec set_capabilities_args[] = {
    { "capabilities", QMP_ARG_ARRAY, false },
    { NULL }
};

static const QmpArgSpec migrate_continue_args[] = {
    { "state", QMP_ARG_STR, false },
    { NULL }
};

static const QmpArgSpec migrate_recover_args[] = {
    { "uri", QMP_ARG_STR, false },
    { NULL }
};

static const QmpCommandDef migration_qmp_commands[] = {
    { "migrate", qmp_migrate, migrate_args },
    { "migrate-incoming", qmp_migrate_incoming, migrate_incoming_args },
    { "migrate_cancel", qmp_migrate_cancel },
    { "query-migrate", qmp_query_migrate },
    /* Members are checked against the parameter table by the handler. */
    { "migrate-set-parameters", qmp_migrate_set_parameters,
      .args_unchecked = true },
    { "query-migrate-parameters", qmp_query_migrate_parameters },
    { "migrate-set-capabilities", qmp_migrate_set_capabilities,
      set_capabilities_args },
    { "query-migrate-capabilities", qmp_query_migrate_capabilities },
    { "migrate-continue", qmp_migrate_continue, migrate_continue_args },
    { "migrate-start-postcopy", qmp_migrate_start_postcopy },
    { "migrate-pause", qmp_migrate_pause, .allow_oob = true },
    { "migrate-recover", qmp_migrate_recover, migrate_recover_args,
      .allow_oob = true },
};

static void __attribute__((constructor)) migration_qmp_register(void)
{
    qmp_register_commands(migration_qmp_commands,
                          ARRAY_SIZE(migration_qmp_commands));
}
