/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HMP commands of migration with QEMU's names and output shapes: migrate,
 * migrate_incoming, migrate_cancel, migrate_set_parameter,
 * migrate_set_capability and the three "info migrate*" pages. They call
 * the same code as QMP and only parse and format.
 */
#include "util/osdep.h"

#include "monitor/monitor.h"

#include "migration-internal.h"
#include "options.h"

static bool check_argc(Monitor *mon, int argc, char **argv, int min, int max)
{
    if (argc - 1 < min) {
        monitor_printf(mon, "%s: missing argument\n", argv[0]);
    } else if (argc - 1 > max) {
        monitor_printf(mon, "%s: extraneous characters at the end of line\n",
                       argv[0]);
    } else {
        return true;
    }
    monitor_printf(mon, "Try \"help %s\" for more information\n", argv[0]);
    return false;
}

/*
 * migrate [-d] [-r] uri. baton's monitor cannot be suspended while the
 * migration runs, so without -d it behaves as with -d: it returns at once
 * and "info migrate" follows the progress.
 */
static void hmp_migrate(Monitor *mon, int argc, char **argv)
{
    const char *uri = NULL;
    bool resume = false;
    GError *err = NULL;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-d")) {
            continue;
        } else if (!strcmp(argv[i], "-r")) {
            resume = true;
        } else if (argv[i][0] == '-' && !uri) {
            monitor_printf(mon, "%s: unsupported option %s\n", argv[0],
                           argv[i]);
            return;
        } else if (!uri) {
            uri = argv[i];
        } else {
            check_argc(mon, 2, argv, 0, 0);
            return;
        }
    }
    if (!uri) {
        check_argc(mon, 1, argv, 1, 1);
        return;
    }
    if (!migration_qmp_migrate(uri, NULL, resume, &err)) {
        hmp_handle_error(mon, err);
    }
}

static void hmp_migrate_incoming(Monitor *mon, int argc, char **argv)
{
    GError *err = NULL;

    /* As QEMU's HMP: a failed load is reported, the process stays. */
    if (check_argc(mon, argc, argv, 1, 1) &&
        !migration_qmp_incoming(argv[1], NULL, false, &err)) {
        hmp_handle_error(mon, err);
    }
}

static void hmp_migrate_cancel(Monitor *mon, int argc, char **argv)
{
    if (check_argc(mon, argc, argv, 0, 0)) {
        migration_cancel();
    }
}

static void hmp_migrate_set_parameter(Monitor *mon, int argc, char **argv)
{
    GError *err = NULL;

    if (check_argc(mon, argc, argv, 2, 2) &&
        !migrate_set_parameter_str(argv[1], argv[2], &err)) {
        hmp_handle_error(mon, err);
    }
}

static void hmp_migrate_set_capability(Monitor *mon, int argc, char **argv)
{
    GError *err = NULL;

    if (check_argc(mon, argc, argv, 2, 2) &&
        !migrate_set_capability_str(argv[1], argv[2], &err)) {
        hmp_handle_error(mon, err);
    }
}

/* ---- info migrate ---- */

static gint64 member_int(JsonObject *o, const char *name)
{
    return json_object_get_int_member_with_default(o, name, 0);
}

static void print_kbytes(Monitor *mon, JsonObject *ram, const char *label,
                         const char *name)
{
    monitor_printf(mon, "%s: %" PRId64 " kbytes\n", label,
                   member_int(ram, name) >> 10);
}

static void print_ram(Monitor *mon, JsonObject *ram)
{
    print_kbytes(mon, ram, "transferred ram", "transferred");
    monitor_printf(mon, "throughput: %0.2f mbps\n",
                   json_object_get_double_member_with_default(ram, "mbps",
                                                              0));
    print_kbytes(mon, ram, "remaining ram", "remaining");
    print_kbytes(mon, ram, "total ram", "total");
    monitor_printf(mon, "duplicate: %" PRId64 " pages\n",
                   member_int(ram, "duplicate"));
    monitor_printf(mon, "normal: %" PRId64 " pages\n",
                   member_int(ram, "normal"));
    print_kbytes(mon, ram, "normal bytes", "normal-bytes");
    monitor_printf(mon, "dirty sync count: %" PRId64 "\n",
                   member_int(ram, "dirty-sync-count"));
    print_kbytes(mon, ram, "page size", "page-size");
    print_kbytes(mon, ram, "multifd bytes", "multifd-bytes");
    monitor_printf(mon, "pages-per-second: %" PRId64 "\n",
                   member_int(ram, "pages-per-second"));
    if (member_int(ram, "dirty-pages-rate")) {
        monitor_printf(mon, "dirty pages rate: %" PRId64 " pages\n",
                       member_int(ram, "dirty-pages-rate"));
    }
    if (member_int(ram, "precopy-bytes")) {
        print_kbytes(mon, ram, "precopy ram", "precopy-bytes");
    }
    if (member_int(ram, "downtime-bytes")) {
        print_kbytes(mon, ram, "downtime ram", "downtime-bytes");
    }
}

/* QEMU's socket_uri() of a SocketAddress object. */
static char *socket_uri(JsonObject *a)
{
    const char *type = json_object_get_string_member(a, "type");

    if (!strcmp(type, "inet")) {
        return g_strdup_printf("tcp:%s:%s",
                               json_object_get_string_member(a, "host"),
                               json_object_get_string_member(a, "port"));
    } else if (!strcmp(type, "unix")) {
        return g_strdup_printf("unix:%s",
                               json_object_get_string_member(a, "path"));
    } else if (!strcmp(type, "fd")) {
        return g_strdup_printf("fd:%s",
                               json_object_get_string_member(a, "str"));
    }
    return g_strdup_printf("vsock:%s:%s",
                           json_object_get_string_member(a, "cid"),
                           json_object_get_string_member(a, "port"));
}

static void print_list(Monitor *mon, JsonObject *info, const char *name,
                       const char *title)
{
    JsonArray *arr;

    if (!json_object_has_member(info, name)) {
        return;
    }
    arr = json_object_get_array_member(info, name);
    monitor_printf(mon, "%s", title);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonNode *e = json_array_get_element(arr, i);

        if (JSON_NODE_HOLDS_OBJECT(e)) {
            g_autofree char *uri = socket_uri(json_node_get_object(e));

            monitor_printf(mon, "\t%s\n", uri);
        } else {
            monitor_printf(mon, "  %s\n", json_node_get_string(e));
        }
    }
}

/* x-pause-phases on one line, in the order query-migrate has them. */
static void print_pause_phases(Monitor *mon, JsonObject *info)
{
    JsonObject *phases;
    g_autoptr(GList) names = NULL;

    if (!json_object_has_member(info, "x-pause-phases")) {
        return;
    }
    phases = json_object_get_object_member(info, "x-pause-phases");
    names = json_object_get_members(phases);
    monitor_printf(mon, "pause phases (us):");
    for (GList *l = names; l; l = l->next) {
        monitor_printf(mon, " %s %" PRId64, (const char *)l->data,
                       json_object_get_int_member(phases, l->data));
    }
    monitor_printf(mon, "\n");
}

static void hmp_info_migrate(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) node = migration_query();
    g_autoptr(GString) globals = g_string_new(NULL);
    JsonObject *info = json_node_get_object(node);
    const char *status;

    migrate_format_globals(globals);
    monitor_printf(mon, "%s", globals->str);
    print_list(mon, info, "blocked-reasons", "Outgoing migration blocked:\n");
    status = json_object_get_string_member_with_default(info, "status", NULL);
    if (status) {
        const char *desc = json_object_get_string_member_with_default(
            info, "error-desc", NULL);

        if (!strcmp(status, "failed") && desc) {
            monitor_printf(mon, "Migration status: %s (%s)\n", status, desc);
        } else {
            monitor_printf(mon, "Migration status: %s\n", status);
        }
        monitor_printf(mon, "total time: %" PRId64 " ms\n",
                       member_int(info, "total-time"));
        if (json_object_has_member(info, "expected-downtime")) {
            monitor_printf(mon, "expected downtime: %" PRId64 " ms\n",
                           member_int(info, "expected-downtime"));
        }
        if (json_object_has_member(info, "downtime")) {
            monitor_printf(mon, "downtime: %" PRId64 " ms\n",
                           member_int(info, "downtime"));
        }
        if (json_object_has_member(info, "setup-time")) {
            monitor_printf(mon, "setup: %" PRId64 " ms\n",
                           member_int(info, "setup-time"));
        }
        print_pause_phases(mon, info);
    }
    if (json_object_has_member(info, "ram")) {
        print_ram(mon, json_object_get_object_member(info, "ram"));
    }
    if (json_object_has_member(info, "vfio")) {
        print_kbytes(mon, json_object_get_object_member(info, "vfio"),
                     "vfio device transferred", "transferred");
    }
    if (json_object_has_member(info, "socket-address")) {
        print_list(mon, info, "socket-address", "socket address: [\n");
        monitor_printf(mon, "]\n");
    }
}

static void hmp_info_migrate_parameters(Monitor *mon, int argc, char **argv)
{
    g_autoptr(GString) out = g_string_new(NULL);

    migrate_format_parameters(out);
    monitor_printf(mon, "%s", out->str);
}

static void hmp_info_migrate_capabilities(Monitor *mon, int argc,
                                          char **argv)
{
    g_autoptr(GString) out = g_string_new(NULL);

    migrate_format_capabilities(out);
    monitor_printf(mon, "%s", out->str);
}

static const HmpCommandDef migration_hmp_cmds[] = {
    { "migrate", "[-d] [-r] uri",
      "migrate to URI (using -d to not wait for completion)\n"
      "\t\t\t -r to resume a paused postcopy migration", hmp_migrate },
    { "migrate_incoming", "uri",
      "Continue an incoming migration from an -incoming defer",
      hmp_migrate_incoming },
    { "migrate_cancel", "", "cancel the current VM migration",
      hmp_migrate_cancel },
    { "migrate_set_parameter", "parameter value",
      "Set the parameter for migration", hmp_migrate_set_parameter },
    { "migrate_set_capability", "capability state",
      "Enable/Disable the usage of a capability for migration",
      hmp_migrate_set_capability },
};

static const HmpCommandDef migration_hmp_info_cmds[] = {
    { "migrate", "", "show migration status", hmp_info_migrate },
    { "migrate_capabilities", "", "show current migration capabilities",
      hmp_info_migrate_capabilities },
    { "migrate_parameters", "", "show current migration parameters",
      hmp_info_migrate_parameters },
};

static void __attribute__((constructor)) migration_hmp_register(void)
{
    hmp_register_commands(migration_hmp_cmds, ARRAY_SIZE(migration_hmp_cmds));
    hmp_register_info_commands(migration_hmp_info_cmds,
                               ARRAY_SIZE(migration_hmp_info_cmds));
}
