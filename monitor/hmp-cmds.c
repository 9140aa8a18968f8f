/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The monitor's HMP commands with QEMU's names and output shapes. Each
 * one that has a QMP equivalent calls it through qmp_dispatch() and only
 * formats the result; xp and "info registers" read guest state directly,
 * as QEMU's do. "help" and "info" themselves are in hmp.c.
 */
#include "util/osdep.h"

#include "system/cpus.h"
#include "system/memory.h"

#include "monitor-internal.h"

/* Run a QMP command; on failure print "Error: ..." and return NULL. */
static JsonNode *hmp_qmp(Monitor *mon, const char *name, JsonObject *args)
{
    GError *err = NULL;
    JsonNode *ret = NULL;

    if (!qmp_dispatch(name, args, &ret, &err)) {
        hmp_handle_error(mon, err);
        return NULL;
    }
    return ret;
}

static JsonObject *ret_object(JsonNode *ret)
{
    return JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
}

/* A command with no arguments that returns nothing worth printing. */
static void hmp_simple(Monitor *mon, int argc, char **argv, const char *qmp)
{
    g_autoptr(JsonNode) ret = NULL;

    if (hmp_check_argc(mon, argc, argv, 0, 0)) {
        ret = hmp_qmp(mon, qmp, NULL);
    }
}

static void hmp_stop(Monitor *mon, int argc, char **argv)
{
    hmp_simple(mon, argc, argv, "stop");
}

static void hmp_cont(Monitor *mon, int argc, char **argv)
{
    hmp_simple(mon, argc, argv, "cont");
}

static void hmp_system_reset(Monitor *mon, int argc, char **argv)
{
    hmp_simple(mon, argc, argv, "system_reset");
}

static void hmp_quit(Monitor *mon, int argc, char **argv)
{
    hmp_simple(mon, argc, argv, "quit");
}

/* ---- xp ---- */

/*
 * QEMU's "/{count}{format}{size}" syntax; format and size default to the
 * previous xp's (initially x and w).
 */
static bool hmp_parse_fmt(Monitor *mon, const char *cmd, const char *fmt,
                          gint64 *count, char *format, int *size)
{
    const char *p = fmt + 1;
    char f = 0;
    int sz = -1;

    *count = 1;
    if (g_ascii_isdigit(*p)) {
        *count = g_ascii_strtoll(p, (char **)&p, 10);
    }
    for (; *p; p++) {
        if (strchr("oduxic", *p)) {
            f = *p;
        } else if (*p == 'b') {
            sz = 1;
        } else if (*p == 'h') {
            sz = 2;
        } else if (*p == 'w') {
            sz = 4;
        } else if (*p == 'g' || *p == 'L') {
            sz = 8;
        } else {
            monitor_printf(mon, "invalid char in format: '%c'\n", *p);
            monitor_printf(mon, "Try \"help %s\" for more information\n", cmd);
            return false;
        }
    }
    *format = f ? f : mon->last_format;
    *size = sz > 0 ? sz : mon->last_size;
    mon->last_format = *format;
    mon->last_size = *size;
    return true;
}

static void hmp_print_char(Monitor *mon, unsigned int c)
{
    if (c == '\'' || c == '\\') {
        monitor_printf(mon, "'\\%c'", c);
    } else if (c == '\n') {
        monitor_printf(mon, "'\\n'");
    } else if (c == '\r') {
        monitor_printf(mon, "'\\r'");
    } else if (c >= 32 && c <= 126) {
        monitor_printf(mon, "'%c'", c);
    } else {
        monitor_printf(mon, "'\\x%02x'", c);
    }
}

static void hmp_print_word(Monitor *mon, const uint8_t *p, int wsize,
                           char format, int digits)
{
    uint64_t v = 0;
    int64_t sv;

    for (int i = wsize - 1; i >= 0; i--) {
        v = (v << 8) | p[i]; /* guest memory is little-endian */
    }
    sv = wsize == 8 ? (int64_t)v
                    : (int64_t)(v << (64 - 8 * wsize)) >> (64 - 8 * wsize);
    monitor_printf(mon, " ");
    switch (format) {
    case 'o':
        monitor_printf(mon, "%#*" PRIo64, digits, v);
        break;
    case 'u':
        monitor_printf(mon, "%*" PRIu64, digits, v);
        break;
    case 'd':
        monitor_printf(mon, "%*" PRId64, digits, sv);
        break;
    case 'c':
        hmp_print_char(mon, (unsigned int)v);
        break;
    case 'x':
    default:
        monitor_printf(mon, "0x%0*" PRIx64, digits, v);
        break;
    }
}

/* Lines of 16 bytes (8 for byte-sized items) prefixed by the address. */
static void hmp_memory_dump(Monitor *mon, gint64 count, char format, int wsize,
                            hwaddr addr)
{
    uint64_t len = (uint64_t)count * wsize;
    int line_size = wsize == 1 ? 8 : 16;
    int digits = 0;
    uint8_t buf[16];

    switch (format) {
    case 'o':
        digits = (wsize * 8 + 2) / 3;
        break;
    case 'u':
    case 'd':
        digits = (wsize * 8 * 10 + 32) / 33;
        break;
    case 'c':
        wsize = 1;
        break;
    default:
        digits = wsize * 2;
        break;
    }
    while (len > 0) {
        int l = MIN(len, (uint64_t)line_size);

        monitor_printf(mon, "%016" PRIx64 ":", addr);
        if (!address_space_rw(&address_space_memory, addr, buf, l, false)) {
            monitor_printf(mon, " Cannot access memory\n");
            break;
        }
        for (int i = 0; i + wsize <= l; i += wsize) {
            hmp_print_word(mon, buf + i, wsize, format, digits);
        }
        monitor_printf(mon, "\n");
        addr += l;
        len -= l;
    }
}

static void hmp_xp(Monitor *mon, int argc, char **argv)
{
    gint64 count = 1, addr;
    char format = mon->last_format;
    int size = mon->last_size;
    int arg = 1;

    if (argc > 1 && argv[1][0] == '/') {
        if (!hmp_parse_fmt(mon, argv[0], argv[1], &count, &format, &size)) {
            return;
        }
        arg = 2;
    }
    if (argc - arg < 1) {
        monitor_printf(mon, "unexpected end of expression\n");
        monitor_printf(mon, "Try \"help xp\" for more information\n");
        return;
    }
    if (argc - arg > 1) {
        monitor_printf(mon, "xp: extraneous characters at the end of line\n");
        monitor_printf(mon, "Try \"help xp\" for more information\n");
        return;
    }
    if (!hmp_parse_int(mon, "xp", argv[arg], &addr)) {
        return;
    }
    if (format == 'i') {
        monitor_printf(mon, "Error: format 'i' (disassembly) is not "
                            "supported\n");
        return;
    }
    hmp_memory_dump(mon, count, format, size, addr);
}

/* ---- pmemsave / memsave ---- */

static JsonObject *hmp_save_args(Monitor *mon, int argc, char **argv)
{
    gint64 addr, size;
    JsonObject *args;

    if (!hmp_check_argc(mon, argc, argv, 3, 3) ||
        !hmp_parse_int(mon, argv[0], argv[1], &addr) ||
        !hmp_parse_int(mon, argv[0], argv[2], &size)) {
        return NULL;
    }
    args = json_object_new();
    json_object_set_int_member(args, "val", addr);
    json_object_set_int_member(args, "size", size);
    json_object_set_string_member(args, "filename", argv[3]);
    return args;
}

static void hmp_pmemsave(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonObject) args = hmp_save_args(mon, argc, argv);
    g_autoptr(JsonNode) ret = NULL;

    if (args) {
        ret = hmp_qmp(mon, "pmemsave", args);
    }
}

static void hmp_memsave(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonObject) args = hmp_save_args(mon, argc, argv);
    g_autoptr(JsonNode) ret = NULL;

    if (!args) {
        return;
    }
    if ((unsigned int)mon->cpu_index < cpus_count()) {
        json_object_set_int_member(args, "cpu-index", mon->cpu_index);
    }
    ret = hmp_qmp(mon, "memsave", args);
}

/* ---- info subcommands ---- */

static void hmp_info_status(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) ret = hmp_qmp(mon, "query-status", NULL);
    JsonObject *o = ret ? ret_object(ret) : NULL;
    const char *status;
    bool running;

    if (!o) {
        return;
    }
    running = json_object_get_boolean_member(o, "running");
    status = json_object_get_string_member(o, "status");
    monitor_printf(mon, "VM status: %s", running ? "running" : "paused");
    if (!running && strcmp(status, "paused")) {
        monitor_printf(mon, " (%s)", status);
    }
    monitor_printf(mon, "\n");
}

static void hmp_info_version(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) ret = hmp_qmp(mon, "query-version", NULL);
    JsonObject *o = ret ? ret_object(ret) : NULL;
    JsonObject *v;

    if (!o) {
        return;
    }
    v = json_object_get_object_member(o, "qemu");
    monitor_printf(mon,
                   "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT
                   " (%s)\n",
                   json_object_get_int_member(v, "major"),
                   json_object_get_int_member(v, "minor"),
                   json_object_get_int_member(v, "micro"),
                   json_object_get_string_member(o, "package"));
}

static void hmp_info_chardev(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) ret = hmp_qmp(mon, "query-chardev", NULL);
    JsonArray *list;

    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        return;
    }
    list = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *c = json_array_get_object_element(list, i);

        monitor_printf(mon, "%s: filename=%s\n",
                       json_object_get_string_member(c, "label"),
                       json_object_get_string_member(c, "filename"));
    }
}

static void hmp_dump_cpu(Monitor *mon, CPUState *cpu)
{
    const AccelOps *accel = accel_current();
    g_autofree char *dump = NULL;

    monitor_printf(mon, "\nCPU#%d\n", cpu->index);
    if (accel && accel->dump_registers) {
        dump = accel->dump_registers(cpu);
    }
    if (dump) {
        monitor_puts(mon, dump);
    }
}

static void hmp_info_registers(Monitor *mon, int argc, char **argv)
{
    const AccelOps *accel = accel_current();
    gint64 vcpu = -1;

    if (!hmp_check_argc(mon, argc, argv, 0, 1)) {
        return;
    }
    if (argc > 1 && !strcmp(argv[1], "-a")) {
        for (unsigned int i = 0; i < cpus_count(); i++) {
            hmp_dump_cpu(mon, cpus_get(i));
        }
        return;
    }
    if (argc > 1 && !hmp_parse_int(mon, "info registers", argv[1], &vcpu)) {
        return;
    }
    if (vcpu >= 0) {
        if (vcpu >= cpus_count()) {
            monitor_printf(mon, "CPU#%" G_GINT64_FORMAT " not available\n",
                           vcpu);
        } else {
            hmp_dump_cpu(mon, cpus_get(vcpu));
        }
    } else if ((unsigned int)mon->cpu_index < cpus_count()) {
        hmp_dump_cpu(mon, cpus_get(mon->cpu_index));
    } else if (!accel || strcmp(accel->name, "qtest")) {
        /* qtest runs without vCPUs: nothing to show, and no error. */
        monitor_printf(mon, "No CPU available\n");
    }
}

static void hmp_info_cpus(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) ret = hmp_qmp(mon, "query-cpus-fast", NULL);
    JsonArray *list;

    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        return;
    }
    list = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *c = json_array_get_object_element(list, i);
        gint64 index = json_object_get_int_member(c, "cpu-index");

        monitor_printf(mon,
                       "%c CPU #%" G_GINT64_FORMAT
                       ": thread_id=%" G_GINT64_FORMAT "\n",
                       index == mon->cpu_index ? '*' : ' ', index,
                       json_object_get_int_member(c, "thread-id"));
    }
}

static void hmp_info_name(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) ret = hmp_qmp(mon, "query-name", NULL);
    JsonObject *o = ret ? ret_object(ret) : NULL;

    if (o && json_object_has_member(o, "name")) {
        monitor_printf(mon, "%s\n", json_object_get_string_member(o, "name"));
    }
}

static void hmp_info_kvm(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonNode) ret = hmp_qmp(mon, "query-kvm", NULL);
    JsonObject *o = ret ? ret_object(ret) : NULL;

    if (!o) {
        return;
    }
    monitor_printf(mon, "kvm support: ");
    if (json_object_get_boolean_member(o, "present")) {
        monitor_printf(mon, "%s\n",
                       json_object_get_boolean_member(o, "enabled")
                           ? "enabled"
                           : "disabled");
    } else {
        monitor_printf(mon, "not compiled\n");
    }
}

/* HMP only in QEMU too: the memory trees or (-f) their flat views. */
static void hmp_info_mtree(Monitor *mon, int argc, char **argv)
{
    g_autofree char *text = NULL;
    bool flat = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-f")) {
            monitor_printf(mon, "info mtree: invalid option '%s' "
                           "(baton supports -f)\n", argv[i]);
            return;
        }
        flat = true;
    }
    text = memory_mtree_format(flat);
    monitor_puts(mon, text);
}

static const HmpCommandDef hmp_monitor_cmds[] = {
    {"stop", "", "stop emulation", hmp_stop, NULL},
    {"cont", "", "resume emulation", hmp_cont, "c"},
    {"system_reset", "", "reset the system", hmp_system_reset, NULL},
    {"quit", "", "quit the emulator", hmp_quit, "q"},
    {"xp", "/fmt addr", "physical memory dump starting at 'addr'", hmp_xp,
     NULL},
    {"pmemsave", "addr size file",
     "save to disk physical memory dump starting at 'addr' of size 'size'",
     hmp_pmemsave, NULL},
    {"memsave", "addr size file",
     "save to disk virtual memory dump starting at 'addr' of size 'size'",
     hmp_memsave, NULL},
};

static const HmpCommandDef hmp_monitor_info_cmds[] = {
    {"version", "", "show the version of QEMU", hmp_info_version, NULL},
    {"chardev", "", "show the character devices", hmp_info_chardev, NULL},
    {"registers", "[-a|vcpu]",
     "show the cpu registers (-a: show register info for all cpus; "
     "vcpu: specific vCPU to query; show the current CPU's registers if "
     "omitted)",
     hmp_info_registers, NULL},
    {"cpus", "", "show infos for each CPU", hmp_info_cpus, NULL},
    {"kvm", "", "show KVM information", hmp_info_kvm, NULL},
    {"status", "", "show the current VM status (running|paused)",
     hmp_info_status, NULL},
    {"name", "", "show the current VM name", hmp_info_name, NULL},
    {"mtree", "[-f]", "show memory tree (-f: dump flat view for address "
     "spaces)", hmp_info_mtree, NULL},
};

static void __attribute__((constructor)) hmp_monitor_register(void)
{
    hmp_register_commands(hmp_monitor_cmds, ARRAY_SIZE(hmp_monitor_cmds));
    hmp_register_info_commands(hmp_monitor_info_cmds,
                               ARRAY_SIZE(hmp_monitor_info_cmds));
}
