/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Start-up: QEMU's command line, then the creation order every later part
 * relies on: backends and chardevs, the machine and its RAM, the
 * accelerator, monitors, devices, reset, and finally the main loop.
 * Command-line errors print one line naming the option and exit with 1.
 */
#include "util/osdep.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "accel/qtest.h"
#include "chardev/char.h"
#include "hw/core/machine.h"
#include "hw/core/qdev.h"
#include "migration/cpr.h"
#include "migration/migration.h"
#include "monitor/monitor.h"
#include "monitor/qmp-misc.h"
#include "system/blockdev.h"
#include "system/netdev.h"
#include "system/cpus.h"
#include "system/main-loop.h"
#include "system/runstate.h"
#include "system/system.h"
#include "util/error-report.h"
#include "util/trace.h"

typedef struct MonitorSpec {
    char *spec;         /* -qmp/-monitor SPEC, or NULL for -mon */
    OptList *mon_opts;  /* -mon options */
    bool is_qmp;
    bool pretty;
} MonitorSpec;

/* An option kept for later, with its text for error messages. */
typedef struct CmdOpt {
    char *loc;          /* "-object memory-backend-ram,id=m,size=1X" */
    OptList *opts;
} CmdOpt;

typedef struct Config {
    GPtrArray *accels;        /* char * */
    OptList *machine_opts;
    char *ram_size_str;
    OptList *smp_opts;
    char *name;
    GPtrArray *serials;       /* char * */
    GPtrArray *chardevs;      /* CmdOpt * */
    GPtrArray *monitors;      /* MonitorSpec * */
    GPtrArray *drives;        /* CmdOpt * */
    GPtrArray *netdevs;       /* CmdOpt * */
    GPtrArray *devices;       /* CmdOpt * */
    GPtrArray *objects;       /* CmdOpt * */
    GPtrArray *incoming;      /* char * */
    char *qtest_spec;
    char *qtest_log;
    char *pidfile;
    bool nodefaults;
    bool daemonize;
    bool start_stopped;
    bool no_shutdown;
    bool qmp_pretty;
    bool exit_with_parent;
    bool nographic;
} Config;

typedef enum OptId {
    OPT_ACCEL, OPT_ENABLE_KVM, OPT_MACHINE, OPT_M, OPT_SMP, OPT_NAME,
    OPT_SERIAL, OPT_CHARDEV, OPT_QMP, OPT_QMP_PRETTY, OPT_MONITOR, OPT_MON,
    OPT_QTEST, OPT_QTEST_LOG, OPT_DISPLAY, OPT_NOGRAPHIC, OPT_NODEFAULTS,
    OPT_DAEMONIZE, OPT_PIDFILE, OPT_DRIVE, OPT_NETDEV, OPT_DEVICE, OPT_OBJECT,
    OPT_AUDIO, OPT_RUN_WITH, OPT_S, OPT_NO_SHUTDOWN, OPT_D, OPT_LOGFILE,
    OPT_INCOMING, OPT_GLOBAL, OPT_CPU, OPT_VGA, OPT_NO_USER_CONFIG, OPT_VERSION,
    OPT_HELP, OPT_TRACE,
} OptId;

typedef struct OptionDef {
    const char *name;
    OptId id;
    bool has_arg;
    const char *help;
} OptionDef;

static const OptionDef option_table[] = {
    { "accel", OPT_ACCEL, true, "kvm|qtest[,...]  select an accelerator (first available wins)" },
    { "enable-kvm", OPT_ENABLE_KVM, false, "same as -accel kvm" },
    { "machine", OPT_MACHINE, true, "TYPE[,memory-backend=ID,aux-ram-share=on|off,...]" },
    { "M", OPT_MACHINE, true, NULL },
    { "m", OPT_M, true, "[size=]SIZE  guest RAM (default unit MiB)" },
    { "smp", OPT_SMP, true, "[cpus=]N  number of vCPUs" },
    { "name", OPT_NAME, true, "[guest=]NAME[,debug-threads=on|off]" },
    { "serial", OPT_SERIAL, true, "DEV  redirect the next serial port to DEV" },
    { "chardev", OPT_CHARDEV, true, "BACKEND,id=ID[,...]  create a character device" },
    { "qmp", OPT_QMP, true, "DEV  QMP monitor on DEV" },
    { "qmp-pretty", OPT_QMP_PRETTY, true, "DEV  QMP monitor with pretty JSON on DEV" },
    { "monitor", OPT_MONITOR, true, "DEV  HMP monitor on DEV" },
    { "mon", OPT_MON, true, "chardev=ID,mode=control|readline[,pretty=on]" },
    { "qtest", OPT_QTEST, true, "DEV  qtest protocol server on DEV" },
    { "qtest-log", OPT_QTEST_LOG, true, "FILE  log qtest traffic to FILE" },
    { "display", OPT_DISPLAY, true, "none  (baton has no display)" },
    { "nographic", OPT_NOGRAPHIC, false, "serial port on stdio" },
    { "nodefaults", OPT_NODEFAULTS, false, "create no default devices" },
    { "daemonize", OPT_DAEMONIZE, false, "detach once the VM is set up" },
    { "pidfile", OPT_PIDFILE, true, "FILE  write the process id to FILE" },
    { "drive", OPT_DRIVE, true, "file=FILE,format=raw[,if=ide|none,id=ID,...]" },
    { "netdev", OPT_NETDEV, true, "tap,id=ID[,ifname=NAME|fd=N|fds=A:B][,vnet_hdr=on|off,queues=N]|user,id=ID[,net=ADDR/BITS,hostfwd=RULE,...]" },
    { "device", OPT_DEVICE, true, "DRIVER[,prop=value,...]  add a device" },
    { "object", OPT_OBJECT, true, "TYPE,id=ID[,...]  create an object (memory backends)" },
    { "audio", OPT_AUDIO, true, "none  (baton has no audio)" },
    { "run-with", OPT_RUN_WITH, true, "exit-with-parent=on|off" },
    { "S", OPT_S, false, "do not start the vCPUs (use 'cont')" },
    { "no-shutdown", OPT_NO_SHUTDOWN, false, "stop instead of exiting on guest shutdown" },
    { "d", OPT_D, true, "ITEM,...  enable logging (guest_errors, unimp, trace:PATTERN)" },
    { "D", OPT_LOGFILE, true, "FILE  write the log to FILE" },
    { "trace", OPT_TRACE, true, "[enable=]PATTERN|events=FILE|file=FILE  trace events (-trace help lists them)" },
    { "incoming", OPT_INCOMING, true, "URI|defer|CHANNEL  wait for an incoming migration" },
    { "global", OPT_GLOBAL, true, "migration.PROP=VALUE  set a migration parameter or capability" },
    { "cpu", OPT_CPU, true, "host|max  vCPU model (baton passes the host's KVM CPUID)" },
    { "vga", OPT_VGA, true, "none" },
    { "no-user-config", OPT_NO_USER_CONFIG, false, "accepted; baton reads no config files" },
    { "version", OPT_VERSION, false, "print the version and exit" },
    { "help", OPT_HELP, false, "print this help and exit" },
    { "h", OPT_HELP, false, NULL },
};

static void G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) die(const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_report("%s", msg);
    /* exit() runs no g_autofree cleanup: free it (LeakSanitizer). */
    g_free(msg);
    exit(1);
}

/* LOC is the option as typed ("-m 12Q"), or NULL. */
static void G_GNUC_NORETURN die_err(const char *loc, GError *err)
{
    if (loc) {
        error_report("%s: %s", loc, err->message);
    } else {
        error_report("%s", err->message);
    }
    g_error_free(err);
    exit(1);
}

static OptList *parse_or_die(const char *option, const char *arg,
                             const char *implied)
{
    GError *err = NULL;
    OptList *opts = opts_parse(arg, implied, &err);

    if (!opts) {
        g_autofree char *loc = g_strdup_printf("%s %s", option, arg);

        die_err(loc, err);
    }
    return opts;
}

static CmdOpt *cmdopt_new(const char *option, const char *arg,
                          const char *implied)
{
    CmdOpt *c = g_new0(CmdOpt, 1);

    c->loc = g_strdup_printf("%s %s", option, arg);
    c->opts = parse_or_die(option, arg, implied);
    return c;
}

static void cmdopt_free(gpointer p)
{
    CmdOpt *c = p;

    g_free(c->loc);
    opts_free(c->opts);
    g_free(c);
}

static void print_help(void)
{
    printf("usage: baton [options] (QEMU-compatible command line)\n\n");
    for (size_t i = 0; i < ARRAY_SIZE(option_table); i++) {
        if (option_table[i].help) {
            printf("-%-14s %s\n", option_table[i].name, option_table[i].help);
        }
    }
}

static const OptionDef *option_lookup(const char *arg)
{
    const char *name = arg + 1;

    if (name[0] == '-') {
        name++;   /* QEMU accepts --option too */
    }
    for (size_t i = 0; i < ARRAY_SIZE(option_table); i++) {
        if (!strcmp(option_table[i].name, name)) {
            return &option_table[i];
        }
    }
    return NULL;
}

static void add_monitor(Config *cfg, const char *spec, OptList *mon_opts,
                        bool is_qmp, bool pretty)
{
    MonitorSpec *m = g_new0(MonitorSpec, 1);

    m->spec = g_strdup(spec);
    m->mon_opts = mon_opts;
    m->is_qmp = is_qmp;
    m->pretty = pretty;
    g_ptr_array_add(cfg->monitors, m);
}

static void parse_display(const char *arg)
{
    g_autoptr(OptList) opts = parse_or_die("-display", arg, "type");

    if (g_strcmp0(opts_get(opts, "type"), "none")) {
        die("-display %s: baton has no display; use -display none", arg);
    }
}

static void parse_audio(const char *arg)
{
    g_autoptr(OptList) opts = parse_or_die("-audio", arg, "driver");
    const char *drv = opts_get(opts, "driver");

    if (g_strcmp0(drv, "none")) {
        die("-audio %s: baton has no audio; use -audio none", arg);
    }
}

static void parse_run_with(Config *cfg, const char *arg)
{
    static const char *const known[] = { "exit-with-parent", NULL };
    g_autoptr(OptList) opts = parse_or_die("-run-with", arg, NULL);
    GError *err = NULL;

    if (!opts_check_known(opts, known, "-run-with", &err) ||
        !opts_get_bool(opts, "exit-with-parent", false,
                       &cfg->exit_with_parent, &err)) {
        die_err("-run-with", err);
    }
}

static void parse_name(Config *cfg, const char *arg)
{
    static const char *const known[] = { "guest", "debug-threads", "process",
                                         NULL };
    g_autoptr(OptList) opts = parse_or_die("-name", arg, "guest");
    GError *err = NULL;
    bool debug_threads;

    if (!opts_check_known(opts, known, "-name", &err) ||
        !opts_get_bool(opts, "debug-threads", false, &debug_threads, &err)) {
        die_err("-name", err);
    }
    g_free(cfg->name);
    cfg->name = g_strdup(opts_get(opts, "guest"));
    if (opts_get(opts, "process")) {
        prctl(PR_SET_NAME, opts_get(opts, "process"));
    }
}

static void parse_cpu(const char *arg)
{
    g_autoptr(OptList) opts = parse_or_die("-cpu", arg, "model");
    const char *model = opts_get(opts, "model");

    if (opts_count(opts) != 1 ||
        (g_strcmp0(model, "host") && g_strcmp0(model, "max"))) {
        die("-cpu %s: baton offers only 'host' and 'max' (both: the host's "
            "KVM CPUID)", arg);
    }
}

/*
 * -global DRIVER.PROP=VALUE or driver=D,property=P,value=V (QEMU's two
 * spellings), applied at once; only the "migration" object takes globals.
 */
static void parse_global(const char *arg)
{
    g_autofree char *loc = g_strdup_printf("-global %s", arg);
    g_autofree char *driver = NULL, *prop = NULL, *value = NULL;
    const char *dot = strchr(arg, '.');
    const char *eq = strchr(arg, '=');
    GError *err = NULL;

    if (dot && eq && dot < eq && dot > arg && eq > dot + 1) {
        driver = g_strndup(arg, dot - arg);
        prop = g_strndup(dot + 1, eq - dot - 1);
        value = g_strdup(eq + 1);
    } else {
        g_autoptr(OptList) opts = parse_or_die("-global", arg, NULL);

        for (unsigned int i = 0; i < opts_count(opts); i++) {
            const char *key = opts_key(opts, i);

            if (strcmp(key, "driver") && strcmp(key, "property") &&
                strcmp(key, "value")) {
                die("%s: Invalid parameter '%s'", loc, key);
            }
        }
        driver = g_strdup(opts_get(opts, "driver"));
        prop = g_strdup(opts_get(opts, "property"));
        value = g_strdup(opts_get(opts, "value"));
        if (!driver || !prop || !value) {
            die("%s: Parameter '%s' is missing", loc,
                !driver ? "driver" : !prop ? "property" : "value");
        }
    }
    if (!strcmp(driver, "migration")) {
        if (!migration_global_set(prop, value, &err)) {
            die_err(NULL, err);
        }
        return;
    }
    if (object_class_by_name(driver)) {
        die("%s: baton takes -global only for driver 'migration'", loc);
    }
    die("%s: global %s.%s has invalid class name", loc, driver, prop);
}

static void parse_trace(const char *arg)
{
    g_autofree char *loc = g_strdup_printf("-trace %s", arg);
    GError *err = NULL;
    bool help;

    if (!trace_opt_parse(arg, &help, &err)) {
        die_err(loc, err);
    }
    if (help) {
        trace_list_events(stdout);
        exit(0);
    }
}

static void G_GNUC_NORETURN print_machine_help(void)
{
    GPtrArray *all = machine_type_list();

    printf("Supported machines are:\n");
    for (guint i = 0; i < all->len; i++) {
        const MachineTypeDef *d = g_ptr_array_index(all, i);

        printf("%-20s %s%s\n", d->alias ? d->alias : d->name,
               d->desc ? d->desc : "", d->is_default ? " (default)" : "");
    }
    g_ptr_array_unref(all);
    exit(0);
}

static void parse_one(Config *cfg, const OptionDef *def, const char *arg)
{
    GError *err = NULL;

    switch (def->id) {
    case OPT_ACCEL:
        g_ptr_array_add(cfg->accels, g_strdup(arg));
        break;
    case OPT_ENABLE_KVM:
        g_ptr_array_add(cfg->accels, g_strdup("kvm"));
        break;
    case OPT_MACHINE: {
        OptList *opts = parse_or_die("-machine", arg, "type");

        if (!g_strcmp0(opts_get(opts, "type"), "help")) {
            opts_free(opts);
            print_machine_help();
        }
        /* Later -machine options add to earlier ones, as in QEMU. */
        if (!cfg->machine_opts) {
            cfg->machine_opts = opts;
            break;
        }
        for (unsigned int i = 0; i < opts_count(opts); i++) {
            opts_set(cfg->machine_opts, opts_key(opts, i),
                     opts_value(opts, i));
        }
        opts_free(opts);
        break;
    }
    case OPT_M:
        g_free(cfg->ram_size_str);
        cfg->ram_size_str = g_strdup(arg);
        break;
    case OPT_SMP:
        g_clear_pointer(&cfg->smp_opts, opts_free);
        cfg->smp_opts = parse_or_die("-smp", arg, "cpus");
        break;
    case OPT_NAME:
        parse_name(cfg, arg);
        break;
    case OPT_SERIAL:
        g_ptr_array_add(cfg->serials, g_strdup(arg));
        break;
    case OPT_CHARDEV:
        g_ptr_array_add(cfg->chardevs, cmdopt_new("-chardev", arg,
                                                  "backend"));
        break;
    case OPT_QMP:
    case OPT_QMP_PRETTY:
        add_monitor(cfg, arg, NULL, true, def->id == OPT_QMP_PRETTY);
        break;
    case OPT_MONITOR:
        add_monitor(cfg, arg, NULL, false, false);
        break;
    case OPT_MON:
        add_monitor(cfg, NULL, parse_or_die("-mon", arg, "chardev"), false,
                    false);
        break;
    case OPT_QTEST:
        g_free(cfg->qtest_spec);
        cfg->qtest_spec = g_strdup(arg);
        break;
    case OPT_QTEST_LOG:
        g_free(cfg->qtest_log);
        cfg->qtest_log = g_strdup(arg);
        break;
    case OPT_DISPLAY:
        parse_display(arg);
        break;
    case OPT_NOGRAPHIC:
        cfg->nographic = true;
        break;
    case OPT_NODEFAULTS:
        cfg->nodefaults = true;
        break;
    case OPT_DAEMONIZE:
        cfg->daemonize = true;
        break;
    case OPT_PIDFILE:
        g_free(cfg->pidfile);
        cfg->pidfile = g_strdup(arg);
        break;
    case OPT_DRIVE:
        g_ptr_array_add(cfg->drives, cmdopt_new("-drive", arg, NULL));
        break;
    case OPT_NETDEV:
        g_ptr_array_add(cfg->netdevs, cmdopt_new("-netdev", arg, "type"));
        break;
    case OPT_DEVICE:
        g_ptr_array_add(cfg->devices, cmdopt_new("-device", arg, "driver"));
        break;
    case OPT_OBJECT:
        g_ptr_array_add(cfg->objects, cmdopt_new("-object", arg,
                                                 "qom-type"));
        break;
    case OPT_AUDIO:
        parse_audio(arg);
        break;
    case OPT_RUN_WITH:
        parse_run_with(cfg, arg);
        break;
    case OPT_S:
        cfg->start_stopped = true;
        break;
    case OPT_NO_SHUTDOWN:
        cfg->no_shutdown = true;
        break;
    case OPT_D:
        if (!log_set_mask_str(arg, &err)) {
            die_err("-d", err);
        }
        break;
    case OPT_LOGFILE:
        if (!log_set_file(arg, &err)) {
            die_err("-D", err);
        }
        break;
    case OPT_TRACE:
        parse_trace(arg);
        break;
    case OPT_INCOMING:
        g_ptr_array_add(cfg->incoming, g_strdup(arg));
        break;
    case OPT_GLOBAL:
        parse_global(arg);
        break;
    case OPT_CPU:
        parse_cpu(arg);
        break;
    case OPT_VGA:
        if (strcmp(arg, "none")) {
            die("-vga %s: baton has no display adapter; use -vga none", arg);
        }
        break;
    case OPT_NO_USER_CONFIG:
        break;
    case OPT_VERSION:
        printf("QEMU emulator version %s (%s)\n", BATON_VERSION,
               BATON_PACKAGE);
        exit(0);
    case OPT_HELP:
        print_help();
        exit(0);
    }
}

static void parse_command_line(Config *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const OptionDef *def;

        if (arg[0] != '-') {
            /* QEMU's positional argument is a disk image. */
            g_autofree char *drive = g_strdup_printf("file=%s", arg);

            g_ptr_array_add(cfg->drives, cmdopt_new("-drive", drive, NULL));
            continue;
        }
        def = option_lookup(arg);
        if (!def) {
            die("%s: invalid option", arg);
        }
        if (def->has_arg && i + 1 >= argc) {
            die("%s: requires an argument", arg);
        }
        parse_one(cfg, def, def->has_arg ? argv[++i] : NULL);
    }
}

/* ---- creation ---- */

static void create_objects(Config *cfg)
{
    static const char *const ignore[] = { "qom-type", NULL };

    for (guint i = 0; i < cfg->objects->len; i++) {
        CmdOpt *c = g_ptr_array_index(cfg->objects, i);
        OptList *opts = c->opts;
        const char *type = opts_get(opts, "qom-type");
        GError *err = NULL;

        if (!type) {
            die("%s: Parameter 'qom-type' is missing", c->loc);
        }
        if (!user_creatable_add(type, opts, ignore, &err)) {
            die_err(c->loc, err);
        }
    }
}

static void create_chardevs(Config *cfg)
{
    for (guint i = 0; i < cfg->chardevs->len; i++) {
        CmdOpt *c = g_ptr_array_index(cfg->chardevs, i);
        GError *err = NULL;

        if (!chardev_new_from_opts(c->opts, &err)) {
            die_err(c->loc, err);
        }
    }
}

static void create_drives(Config *cfg)
{
    for (guint i = 0; i < cfg->drives->len; i++) {
        CmdOpt *c = g_ptr_array_index(cfg->drives, i);
        GError *err = NULL;

        if (!drive_new(c->opts, &err)) {
            die_err(c->loc, err);
        }
    }
}

static void create_netdevs(Config *cfg)
{
    for (guint i = 0; i < cfg->netdevs->len; i++) {
        CmdOpt *c = g_ptr_array_index(cfg->netdevs, i);
        GError *err = NULL;

        if (!netdev_new(c->opts, &err)) {
            die_err(c->loc, err);
        }
    }
}

/* Pick the first available accelerator from the -accel list. */
static const AccelOps *select_accel(Config *cfg)
{
    g_autoptr(GString) tried = g_string_new(NULL);

    const char *machine_accel = cfg->machine_opts
        ? opts_get(cfg->machine_opts, "accel") : NULL;

    if (!cfg->accels->len && machine_accel) {
        /* -machine accel=kvm:tcg, QEMU's older spelling */
        g_auto(GStrv) names = g_strsplit(machine_accel, ":", -1);

        for (char **n = names; *n; n++) {
            g_ptr_array_add(cfg->accels, g_strdup(*n));
        }
    }
    if (!cfg->accels->len) {
        g_ptr_array_add(cfg->accels, g_strdup(cfg->qtest_spec ? "qtest"
                                                              : "kvm"));
    }
    for (guint i = 0; i < cfg->accels->len; i++) {
        g_autoptr(OptList) opts = parse_or_die("-accel",
            g_ptr_array_index(cfg->accels, i), "accel");
        const char *name = opts_get(opts, "accel");
        const AccelOps *ops = accel_find(name ? name : "");
        GError *err = NULL;

        if (!ops) {
            if (cfg->accels->len == 1) {
                die("-accel %s: invalid accelerator %s", name, name);
            }
            g_string_append_printf(tried, "%s%s: not built into baton",
                                   tried->len ? "; " : "", name);
            continue;
        }
        if (ops->available && !ops->available(&err)) {
            g_string_append_printf(tried, "%s%s: %s", tried->len ? "; " : "",
                                   name, err->message);
            g_error_free(err);
            continue;
        }
        if (i > 0) {
            info_report("%s", tried->str);
        }
        return ops;
    }
    die("no accelerator found (%s)", tried->str);
}

static uint64_t parse_ram_size(Config *cfg, bool *given)
{
    static const char *const known[] = { "size", "slots", "maxmem", NULL };
    g_autoptr(OptList) opts = NULL;
    GError *err = NULL;
    const char *size;
    uint64_t bytes;

    *given = cfg->ram_size_str != NULL;
    if (!cfg->ram_size_str) {
        return 128 * 1024 * 1024;   /* QEMU's default */
    }
    opts = parse_or_die("-m", cfg->ram_size_str, "size");
    if (!opts_check_known(opts, known, "-m", &err)) {
        die_err("-m", err);
    }
    size = opts_get(opts, "size");
    if (!size || !parse_size(size, 1024 * 1024, &bytes)) {
        die("-m %s: invalid RAM size '%s'", cfg->ram_size_str,
            size ? size : "");
    }
    if (bytes < 1024 * 1024 || bytes % 4096) {
        die("-m %s: RAM size must be at least 1 MiB and a multiple of "
            "4 KiB", cfg->ram_size_str);
    }
    return bytes;
}

static unsigned int parse_smp(Config *cfg)
{
    static const char *const known[] = { "cpus", "sockets", "dies",
                                         "clusters", "cores", "threads",
                                         "maxcpus", NULL };
    GError *err = NULL;
    uint64_t cpus, sockets, cores, threads, maxcpus;

    if (!cfg->smp_opts) {
        return 1;
    }
    if (!opts_check_known(cfg->smp_opts, known, "-smp", &err) ||
        !opts_get_uint(cfg->smp_opts, "sockets", 1, &sockets, &err) ||
        !opts_get_uint(cfg->smp_opts, "cores", 1, &cores, &err) ||
        !opts_get_uint(cfg->smp_opts, "threads", 1, &threads, &err) ||
        !opts_get_uint(cfg->smp_opts, "cpus", sockets * cores * threads,
                       &cpus, &err) ||
        !opts_get_uint(cfg->smp_opts, "maxcpus", cpus, &maxcpus, &err)) {
        die_err("-smp", err);
    }
    if (cpus < 1 || cpus > 64) {
        die("-smp: invalid number of CPUs %" PRIu64 " (baton supports 1-64)",
            cpus);
    }
    if (maxcpus != cpus) {
        die("-smp: maxcpus different from cpus (CPU hotplug) is not "
            "supported");
    }
    return cpus;
}

static MachineState *create_machine(Config *cfg)
{
    static const char *const ignore[] = { "type", "accel", NULL };
    const char *type = cfg->machine_opts ? opts_get(cfg->machine_opts, "type")
                                         : NULL;
    const MachineTypeDef *def;
    MachineState *ms;
    Object *obj;
    GError *err = NULL;
    bool ram_given;
    uint64_t ram_size;
    unsigned int cpus;

    if (!type) {
        GPtrArray *all = machine_type_list();

        for (guint i = 0; i < all->len && !type; i++) {
            const MachineTypeDef *d = g_ptr_array_index(all, i);

            if (d->is_default) {
                type = d->name;
            }
        }
        g_ptr_array_unref(all);
    }
    def = machine_type_find(type);
    if (!def) {
        die("-machine: unsupported machine type: \"%s\" (use -machine help "
            "to list supported machines)", type ? type : "");
    }
    /* Option errors end the process: check them before allocating. */
    ram_size = parse_ram_size(cfg, &ram_given);
    cpus = parse_smp(cfg);
    if (def->max_cpus == 0) {
        cpus = 0;   /* machine "none" has no CPU */
    } else if (cpus > def->max_cpus) {
        die("-smp: Invalid SMP CPUs %u. The max CPUs supported by machine "
            "'%s' is %u", cpus, def->name, def->max_cpus);
    }
    obj = object_new(def->typename);
    if (!object_set_props_from_opts(obj, cfg->machine_opts, ignore, &err)) {
        die_err("-machine", err);
    }
    ms = MACHINE(obj);
    ms->ram_size = ram_size;
    ms->ram_size_given = ram_given;
    ms->smp_cpus = cpus;
    if (!machine_complete(ms, &err)) {
        die_err(NULL, err);
    }
    return ms;
}

static void create_monitors(Config *cfg)
{
    for (guint i = 0; i < cfg->monitors->len; i++) {
        MonitorSpec *m = g_ptr_array_index(cfg->monitors, i);
        g_autofree char *id = g_strdup_printf("compat_monitor%u", i);
        GError *err = NULL;
        Chardev *chr;
        bool is_qmp = m->is_qmp, pretty = m->pretty;

        if (m->mon_opts) {
            static const char *const known[] = { "chardev", "mode", "pretty",
                                                 "id", NULL };
            const char *mode = opts_get(m->mon_opts, "mode");
            const char *name = opts_get(m->mon_opts, "chardev");

            if (!opts_check_known(m->mon_opts, known, "-mon", &err) ||
                !opts_get_bool(m->mon_opts, "pretty", false, &pretty,
                               &err)) {
                die_err("-mon", err);
            }
            if (!name) {
                die("-mon: Parameter 'chardev' is missing");
            }
            if (mode && strcmp(mode, "control") && strcmp(mode, "readline")) {
                die("-mon: Parameter 'mode' does not accept value '%s'",
                    mode);
            }
            is_qmp = !g_strcmp0(mode, "control");
            chr = chardev_find(name);
            if (!chr) {
                die("-mon: chardev \"%s\" not found", name);
            }
        } else {
            chr = chardev_new_from_spec(m->spec, id, &err);
            if (!chr) {
                if (err) {
                    die_err(is_qmp ? "-qmp" : "-monitor", err);
                }
                continue;   /* "none" */
            }
        }
        if (!monitor_new(chr, is_qmp, pretty, &err)) {
            die_err(is_qmp ? "-qmp" : "-monitor", err);
        }
    }
}

static void create_device(OptList *opts, const char *option)
{
    const char *driver = opts_get(opts, "driver");
    GError *err = NULL;

    if (!driver) {
        die("%s: Parameter 'driver' is missing", option);
    }
    if (!strcmp(driver, "help")) {
        GSList *list = object_class_get_list(TYPE_DEVICE, false);

        for (GSList *l = list; l; l = l->next) {
            ObjectClass *oc = l->data;

            if (DEVICE_CLASS(oc)->user_creatable) {
                printf("name \"%s\"%s%s%s\n", object_class_get_name(oc),
                       oc->desc ? ", desc \"" : "", oc->desc ? oc->desc : "",
                       oc->desc ? "\"" : "");
            }
        }
        g_slist_free(list);
        exit(0);
    }
    if (!qdev_device_add(driver, opts, &err)) {
        die_err(option, err);
    }
}

/*
 * -serial: the chardevs serial0..serial3 (QEMU's ids); the machine puts
 * its UARTs on them (MachineClass.create_default_devices).
 */
static void create_serials(Config *cfg, MachineState *ms)
{
    if (!cfg->serials->len && !cfg->nodefaults) {
        g_ptr_array_add(cfg->serials, g_strdup(cfg->nographic ? "stdio"
                                                              : "null"));
    }
    for (guint i = 0; i < cfg->serials->len; i++) {
        const char *spec = g_ptr_array_index(cfg->serials, i);
        g_autofree char *id = g_strdup_printf("serial%u", i);
        GError *err = NULL;

        if (i >= MACHINE_MAX_SERIALS) {
            die("-serial %s: baton supports at most %d serial ports", spec,
                MACHINE_MAX_SERIALS);
        }
        ms->serial_hds[i] = chardev_new_from_spec(spec, id, &err);
        if (err) {
            g_autofree char *where = g_strdup_printf("-serial %s", spec);

            die_err(where, err);
        }
    }
}

static char *pidfile_path;
static pid_t pidfile_owner;

/*
 * Runs on every exit() of the process that wrote the file, errors included.
 * After a live update the new process has rewritten the file with its own
 * pid: leave that one alone.
 */
static void remove_pidfile(void)
{
    g_autofree char *contents = NULL;

    if (!pidfile_path || getpid() != pidfile_owner ||
        !g_file_get_contents(pidfile_path, &contents, NULL, NULL) ||
        atoi(contents) != pidfile_owner) {
        return;
    }
    unlink(pidfile_path);
}

static void write_pidfile(const char *path)
{
    g_autofree char *pid = g_strdup_printf("%d\n", getpid());
    GError *err = NULL;

    if (!g_file_set_contents(path, pid, -1, &err)) {
        die("-pidfile %s: cannot write pid file: %s", path, err->message);
    }
    pidfile_path = g_strdup(path);
    pidfile_owner = getpid();
    atexit(remove_pidfile);
}

/*
 * -daemonize: fork before any thread exists; the parent waits until the
 * child reports that set-up succeeded, so its exit status means something.
 */
static int daemon_pipe = -1;

static void daemonize_start(void)
{
    int fds[2];
    pid_t pid;

    if (pipe(fds) < 0) {
        die("-daemonize: pipe: %s", g_strerror(errno));
    }
    pid = fork();
    if (pid < 0) {
        die("-daemonize: fork: %s", g_strerror(errno));
    }
    if (pid > 0) {
        char status = 1;

        close(fds[1]);
        if (read(fds[0], &status, 1) != 1) {
            status = 1;
        }
        _exit(status);
    }
    close(fds[0]);
    daemon_pipe = fds[1];
    setsid();
}

static void daemonize_finish(void)
{
    char ok = 0;
    int null;

    if (daemon_pipe < 0) {
        return;
    }
    null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    if (write(daemon_pipe, &ok, 1) != 1) {
        /* The parent is gone; nothing useful to do about it. */
    }
    close(daemon_pipe);
    daemon_pipe = -1;
}

/* Syntax of every -incoming (URI, defer, JSON or dotted channel). */
static void check_incoming(Config *cfg)
{
    for (guint i = 0; i < cfg->incoming->len; i++) {
        const char *arg = g_ptr_array_index(cfg->incoming, i);
        g_autofree char *loc = g_strdup_printf("-incoming %s", arg);
        GError *err = NULL;

        if (!migration_incoming_check_arg(arg, &err)) {
            die_err(loc, err);
        }
    }
}

static Config *config_new(void)
{
    Config *cfg = g_new0(Config, 1);

    cfg->accels = g_ptr_array_new_with_free_func(g_free);
    cfg->serials = g_ptr_array_new_with_free_func(g_free);
    cfg->chardevs = g_ptr_array_new_with_free_func(cmdopt_free);
    cfg->monitors = g_ptr_array_new();
    cfg->drives = g_ptr_array_new_with_free_func(cmdopt_free);
    cfg->netdevs = g_ptr_array_new_with_free_func(cmdopt_free);
    cfg->devices = g_ptr_array_new_with_free_func(cmdopt_free);
    cfg->objects = g_ptr_array_new_with_free_func(cmdopt_free);
    cfg->incoming = g_ptr_array_new_with_free_func(g_free);
    return cfg;
}

static void config_free(Config *cfg)
{
    for (guint i = 0; i < cfg->monitors->len; i++) {
        MonitorSpec *m = g_ptr_array_index(cfg->monitors, i);

        g_free(m->spec);
        opts_free(m->mon_opts);
        g_free(m);
    }
    g_ptr_array_unref(cfg->monitors);
    g_ptr_array_unref(cfg->accels);
    g_ptr_array_unref(cfg->serials);
    g_ptr_array_unref(cfg->chardevs);
    g_ptr_array_unref(cfg->drives);
    g_ptr_array_unref(cfg->netdevs);
    g_ptr_array_unref(cfg->devices);
    g_ptr_array_unref(cfg->objects);
    g_ptr_array_unref(cfg->incoming);
    opts_free(cfg->machine_opts);
    opts_free(cfg->smp_opts);
    g_free(cfg->ram_size_str);
    g_free(cfg->name);
    g_free(cfg->qtest_spec);
    g_free(cfg->qtest_log);
    g_free(cfg->pidfile);
    g_free(cfg);
}

static void create_vm(Config *cfg)
{
    const AccelOps *accel;
    MachineState *ms;
    MachineClass *mc;
    GError *err = NULL;

    create_objects(cfg);
    create_chardevs(cfg);
    create_drives(cfg);
    create_netdevs(cfg);
    accel = select_accel(cfg);
    ms = create_machine(cfg);
    mc = MACHINE_GET_CLASS(ms);
    accel_set_current(accel);
    if (!accel->init(ms, &err)) {
        die_err(NULL, err);
    }
    create_monitors(cfg);
    if (cfg->qtest_spec &&
        !qtest_server_init(cfg->qtest_spec, cfg->qtest_log, &err)) {
        die_err("-qtest", err);
    }
    create_serials(cfg, ms);
    /* The machine's own devices: its buses, UARTs on -serial's chardevs. */
    if (mc->create_default_devices &&
        !mc->create_default_devices(ms, &err)) {
        die_err(NULL, err);
    }
    for (guint i = 0; i < cfg->devices->len; i++) {
        CmdOpt *c = g_ptr_array_index(cfg->devices, i);

        create_device(c->opts, c->loc);
    }
    /* After -device, as before: a -device ide-hd keeps the unit it had. */
    if (mc->create_drive_devices && !mc->create_drive_devices(ms, &err)) {
        die_err("-drive", err);
    }
    if (cfg->incoming->len || cpr_is_incoming()) {
        /* Before the reset: the machine leaves RAM alone while inmigrate. */
        runstate_set(RUN_STATE_INMIGRATE);
    }
    system_reset(SHUTDOWN_CAUSE_NONE);
}

int baton_main(int argc, char **argv)
{
    Config *cfg = config_new();
    const AccelOps *accel;
    const char *const *args;
    GError *err = NULL;
    int status;

    g_set_prgname("baton");
    signal(SIGPIPE, SIG_IGN);
    parse_command_line(cfg, argc, argv);
    /* -trace file= replaces -D's file whatever their order, as in QEMU. */
    if (!trace_init_file(&err)) {
        die_err("-trace", err);
    }
    check_incoming(cfg);
    if (cfg->exit_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    }
    if (cfg->daemonize) {
        daemonize_start();
    }
    if (cfg->pidfile) {
        write_pidfile(cfg->pidfile);
    }
    monitor_set_vm_name(cfg->name);
    runstate_set_no_shutdown(cfg->no_shutdown);
    main_loop_init();
    /*
     * Live update: take the preserved fds over (waiting for the old
     * process on the cpr channel) before any backend or device exists.
     */
    g_ptr_array_add(cfg->incoming, NULL);
    args = (const char *const *)cfg->incoming->pdata;
    if (!migration_cpr_startup(args, &err)) {
        die_err(NULL, err);
    }
    g_ptr_array_remove_index(cfg->incoming, cfg->incoming->len - 1);
    create_vm(cfg);
    if (cfg->incoming->len || cpr_is_incoming()) {
        /* Run state "inmigrate"; the guest starts once it has arrived. */
        g_ptr_array_add(cfg->incoming, NULL);
        args = (const char *const *)cfg->incoming->pdata;
        if (!migration_incoming_setup(args, !cfg->start_stopped, &err)) {
            die_err(NULL, err);
        }
    } else if (!cfg->start_stopped) {
        vm_start();
    } else {
        runstate_set(RUN_STATE_PRELAUNCH);
    }
    daemonize_finish();

    status = main_loop_run();
    migration_shutdown();

    accel = accel_current();
    if (accel && accel->pause_all && runstate_is_running()) {
        accel->pause_all();
    }
    monitor_cleanup_all();
    qtest_server_cleanup();
    if (accel && accel->cleanup) {
        accel->cleanup(true);
    }
    chardev_cleanup_all();
    drive_cleanup_all();
    netdev_cleanup_all();
    config_free(cfg);
    return status;
}
