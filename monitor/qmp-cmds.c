/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The monitor's own QMP commands: negotiation and introspection
 * (qmp_capabilities, query-commands, query-version), run control
 * (stop, cont, system_reset, quit), machine queries, and memory dumps
 * (pmemsave, memsave). Other subsystems register their commands in their
 * own <subsys>-qmp.c.
 */
#include "util/osdep.h"

#include "chardev/char.h"
#include "hw/core/machine.h"
#include "hw/core/object.h"
#include "migration/migration.h"
#include "monitor/qmp-misc.h"
#include "system/cpus.h"
#include "system/memory.h"
#include "system/runstate.h"

#include "monitor-internal.h"

static char *vm_name;

void monitor_set_vm_name(const char *name)
{
    g_free(vm_name);
    vm_name = g_strdup(name);
}

const char *monitor_get_vm_name(void)
{
    return vm_name;
}

static JsonNode *builder_finish(JsonBuilder *b)
{
    JsonNode *node = json_builder_get_root(b);

    g_object_unref(b);
    return node;
}

/*
 * Negotiation itself happens in qmp.c before a client may run anything
 * else; once it has, the command is refused as in QEMU.
 */
static bool qmp_qmp_capabilities(JsonObject *args, JsonNode **ret,
                                 GError **errp)
{
    g_set_error(errp, BATON_ERROR, BATON_ERROR_COMMAND_NOT_FOUND,
                "Capabilities negotiation is already complete, command "
                "ignored");
    return false;
}

static bool qmp_query_version(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonBuilder *b = json_builder_new();

    /* QEMU's member order (greeting and query-version alike). */
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "qemu");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "micro");
    json_builder_add_int_value(b, BATON_VERSION_MICRO);
    json_builder_set_member_name(b, "minor");
    json_builder_add_int_value(b, BATON_VERSION_MINOR);
    json_builder_set_member_name(b, "major");
    json_builder_add_int_value(b, BATON_VERSION_MAJOR);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "package");
    json_builder_add_string_value(b, BATON_PACKAGE);
    json_builder_end_object(b);
    *ret = builder_finish(b);
    return true;
}

static bool qmp_query_commands(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(GPtrArray) names = qmp_command_names();
    JsonBuilder *b = json_builder_new();

    json_builder_begin_array(b);
    for (guint i = 0; i < names->len; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, g_ptr_array_index(names, i));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = builder_finish(b);
    return true;
}

static bool qmp_query_name(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonBuilder *b = json_builder_new();

    json_builder_begin_object(b);
    if (vm_name) {
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, vm_name);
    }
    json_builder_end_object(b);
    *ret = builder_finish(b);
    return true;
}

/* QEMU 9.2's StatusInfo no longer has the deprecated "singlestep". */
static bool qmp_query_status(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonBuilder *b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, runstate_name(runstate_get()));
    json_builder_set_member_name(b, "running");
    json_builder_add_boolean_value(b, runstate_is_running());
    json_builder_end_object(b);
    *ret = builder_finish(b);
    return true;
}

static bool qmp_stop(JsonObject *args, JsonNode **ret, GError **errp)
{
    /* QEMU changes nothing unless the guest runs (prelaunch stays). */
    if (runstate_is_running()) {
        vm_stop(RUN_STATE_PAUSED);
    }
    return true;
}

static bool qmp_cont(JsonObject *args, JsonNode **ret, GError **errp)
{
    if (migration_guest_released()) {
        error_setg(errp, "The guest runs in the new process since the "
                   "cpr-transfer; this process released it and cannot "
                   "run it again");
        return false;
    }
    switch (runstate_get()) {
    case RUN_STATE_SHUTDOWN:
    case RUN_STATE_INTERNAL_ERROR:
        error_setg(errp, "Resetting the Virtual Machine is required");
        return false;
    case RUN_STATE_FINISH_MIGRATE:
        error_setg(errp, "Migration is not finalized yet");
        return false;
    case RUN_STATE_INMIGRATE:
        /* As QEMU: the guest starts once the incoming migration completes. */
        migration_incoming_set_autostart(true);
        return true;
    case RUN_STATE_SUSPENDED:
    case RUN_STATE_RUNNING:
        return true;
    default:
        vm_start();
        return true;
    }
}

static bool qmp_system_reset(JsonObject *args, JsonNode **ret, GError **errp)
{
    request_reset(SHUTDOWN_CAUSE_HOST_QMP_SYSTEM_RESET);
    return true;
}

static bool qmp_quit(JsonObject *args, JsonNode **ret, GError **errp)
{
    /*
     * The main loop acts on the request only after this callback returns,
     * and the session writes the reply synchronously before that, so the
     * client sees {"return": {}} before the process exits.
     */
    request_shutdown(SHUTDOWN_CAUSE_HOST_QMP_QUIT);
    return true;
}

static bool qmp_human_monitor_command(JsonObject *args, JsonNode **ret,
                                      GError **errp)
{
    gint64 cpu_index = qmp_arg_int(args, "cpu-index", 0);
    g_autofree char *out = NULL;

    if (qmp_arg_has(args, "cpu-index") &&
        (cpu_index < 0 || cpu_index >= cpus_count())) {
        error_setg(errp, "Parameter 'cpu-index' expects a CPU number");
        return false;
    }
    out = hmp_run_captured(qmp_arg_str(args, "command-line"), cpu_index);
    *ret = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(*ret, out);
    return true;
}

static void query_chardev_one(Chardev *chr, void *opaque)
{
    JsonBuilder *b = opaque;
    g_autofree char *filename = NULL;

    filename = chardev_filename(chr);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "frontend-open");
    json_builder_add_boolean_value(b, chardev_frontend_open(chr));
    json_builder_set_member_name(b, "filename");
    json_builder_add_string_value(b, filename ? filename : "");
    json_builder_set_member_name(b, "label");
    json_builder_add_string_value(b, chardev_id(chr));
    json_builder_end_object(b);
}

static bool qmp_query_chardev(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonBuilder *b = json_builder_new();

    json_builder_begin_array(b);
    chardev_foreach(query_chardev_one, b);
    json_builder_end_array(b);
    *ret = builder_finish(b);
    return true;
}

static bool qmp_query_kvm(JsonObject *args, JsonNode **ret, GError **errp)
{
    const AccelOps *accel = accel_current();
    JsonBuilder *b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "enabled");
    json_builder_add_boolean_value(b, accel && !strcmp(accel->name, "kvm"));
    json_builder_set_member_name(b, "present");
    json_builder_add_boolean_value(b, access("/dev/kvm", R_OK | W_OK) == 0);
    json_builder_end_object(b);
    *ret = builder_finish(b);
    return true;
}

static void add_int_member(JsonBuilder *b, const char *name, gint64 val)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, val);
}

static bool qmp_query_cpus_fast(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonBuilder *b = json_builder_new();

    json_builder_begin_array(b);
    for (unsigned int i = 0; i < cpus_count(); i++) {
        CPUState *cpu = cpus_get(i);
        g_autofree char *path =
            g_strdup_printf("/machine/unattached/device[%d]", cpu->index);

        json_builder_begin_object(b);
        add_int_member(b, "thread-id", cpu->thread_id);
        json_builder_set_member_name(b, "props");
        json_builder_begin_object(b);
        add_int_member(b, "core-id", 0);
        add_int_member(b, "thread-id", 0);
        add_int_member(b, "socket-id", cpu->index);
        json_builder_end_object(b);
        json_builder_set_member_name(b, "qom-path");
        json_builder_add_string_value(b, path);
        json_builder_set_member_name(b, "target");
        json_builder_add_string_value(b, "x86_64");
        add_int_member(b, "cpu-index", cpu->index);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = builder_finish(b);
    return true;
}

static void add_bool_member(JsonBuilder *b, const char *name, bool val)
{
    json_builder_set_member_name(b, name);
    json_builder_add_boolean_value(b, val);
}

static bool qmp_query_machines(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(GPtrArray) defs = machine_type_list();
    JsonBuilder *b = json_builder_new();

    json_builder_begin_array(b);
    for (guint i = 0; defs && i < defs->len; i++) {
        const MachineTypeDef *def = g_ptr_array_index(defs, i);

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, def->name);
        if (def->alias) {
            json_builder_set_member_name(b, "alias");
            json_builder_add_string_value(b, def->alias);
        }
        if (def->is_default) {
            add_bool_member(b, "is-default", true);
        }
        add_int_member(b, "cpu-max", def->max_cpus);
        add_bool_member(b, "hotpluggable-cpus", false);
        add_bool_member(b, "numa-mem-supported", false);
        add_bool_member(b, "deprecated", def->deprecated);
        json_builder_set_member_name(b, "default-ram-id");
        json_builder_add_string_value(b, "pc.ram");
        add_bool_member(b, "acpi", false);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = builder_finish(b);
    return true;
}

/* Write guest-physical [ADDR, ADDR+SIZE) to FILENAME (pmemsave, memsave). */
static bool memory_save(hwaddr addr, gint64 size, const char *filename,
                        GError **errp)
{
    const size_t chunk = 64 * 1024;
    g_autofree uint8_t *buf = NULL;
    int fd;

    if (size < 0) {
        error_setg(errp, "Parameter 'size' expects a non-negative value");
        return false;
    }
    fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not open '%s'", filename);
        return false;
    }
    buf = g_malloc(chunk);
    while (size > 0) {
        size_t l = MIN((guint64)size, chunk);
        size_t done = 0;

        /* Unassigned ranges read as 0xff, as QEMU's dump does. */
        address_space_rw(&address_space_memory, addr, buf, l, false);
        while (done < l) {
            ssize_t n = write(fd, buf + done, l - done);

            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                error_setg_errno(errp, n < 0 ? errno : ENOSPC,
                                 "writing memory to '%s' failed", filename);
                close(fd);
                return false;
            }
            done += n;
        }
        addr += l;
        size -= l;
    }
    if (close(fd) < 0) {
        error_setg_errno(errp, errno, "writing memory to '%s' failed",
                         filename);
        return false;
    }
    return true;
}

static bool qmp_pmemsave(JsonObject *args, JsonNode **ret, GError **errp)
{
    return memory_save(qmp_arg_int(args, "val", 0),
                       qmp_arg_int(args, "size", 0),
                       qmp_arg_str(args, "filename"), errp);
}

/*
 * QEMU translates VAL through the CPU's page tables. baton has no MMU
 * walker, so the address is taken as physical, which is exact while the
 * guest runs with paging off (real mode, the boot payloads).
 */
static bool qmp_memsave(JsonObject *args, JsonNode **ret, GError **errp)
{
    gint64 cpu_index = qmp_arg_int(args, "cpu-index", 0);

    if (qmp_arg_has(args, "cpu-index") &&
        (cpu_index < 0 || cpu_index >= cpus_count())) {
        error_setg(errp, "Parameter 'cpu-index' expects a CPU number");
        return false;
    }
    return memory_save(qmp_arg_int(args, "val", 0),
                       qmp_arg_int(args, "size", 0),
                       qmp_arg_str(args, "filename"), errp);
}

static const QmpArgSpec qmp_capabilities_args[] = {
    {"enable", QMP_ARG_ARRAY, true}, {NULL}};

static const QmpArgSpec human_monitor_command_args[] = {
    {"command-line", QMP_ARG_STR, false},
    {"cpu-index", QMP_ARG_INT, true},
    {NULL}};

static const QmpArgSpec pmemsave_args[] = {{"val", QMP_ARG_INT, false},
                                           {"size", QMP_ARG_INT, false},
                                           {"filename", QMP_ARG_STR, false},
                                           {NULL}};

static const QmpArgSpec memsave_args[] = {{"val", QMP_ARG_INT, false},
                                          {"size", QMP_ARG_INT, false},
                                          {"filename", QMP_ARG_STR, false},
                                          {"cpu-index", QMP_ARG_INT, true},
                                          {NULL}};

static const QmpCommandDef monitor_qmp_commands[] = {
    {"qmp_capabilities", qmp_qmp_capabilities, qmp_capabilities_args,
     .allow_preconfig = true},
    {"query-version", qmp_query_version, .allow_preconfig = true},
    {"query-commands", qmp_query_commands, .allow_preconfig = true},
    {"query-name", qmp_query_name, .allow_preconfig = true},
    {"query-status", qmp_query_status, .allow_preconfig = true},
    {"stop", qmp_stop},
    {"cont", qmp_cont},
    {"system_reset", qmp_system_reset},
    {"quit", qmp_quit, .allow_preconfig = true},
    {"human-monitor-command", qmp_human_monitor_command,
     human_monitor_command_args},
    {"query-chardev", qmp_query_chardev, .allow_preconfig = true},
    {"query-kvm", qmp_query_kvm},
    {"query-cpus-fast", qmp_query_cpus_fast},
    {"query-machines", qmp_query_machines, .allow_preconfig = true},
    {"pmemsave", qmp_pmemsave, pmemsave_args},
    {"memsave", qmp_memsave, memsave_args},
};

static void __attribute__((constructor)) monitor_qmp_register(void)
{
    qmp_register_commands(monitor_qmp_commands,
                          ARRAY_SIZE(monitor_qmp_commands));
}
