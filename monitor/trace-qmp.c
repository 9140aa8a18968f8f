/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Monitor commands for trace events, with QEMU's names, reply shapes and
 * messages (qapi/trace.json): trace-event-get-state and
 * trace-event-set-state over QMP, trace-event and "info trace-events"
 * over HMP. The state table and patterns are util/trace.c's. baton has no
 * per-vCPU events: "vcpu" (deprecated in QEMU) only selects nothing.
 */
#include "util/osdep.h"

#include "system/cpus.h"
#include "util/trace.h"

#include "monitor-internal.h"

/*
 * QEMU's checks before a get or set: a valid vCPU index, an existing
 * event for a name without glob characters, and a per-vCPU event when
 * a vCPU is given for such a name. Every event here is available, so
 * "ignore-unavailable" changes nothing.
 */
static bool trace_check_args(JsonObject *args, GError **errp)
{
    const char *name = qmp_arg_str(args, "name");
    bool has_vcpu = qmp_arg_has(args, "vcpu");
    gint64 vcpu = qmp_arg_int(args, "vcpu", 0);

    if (has_vcpu && (vcpu < 0 || vcpu >= cpus_count())) {
        error_setg(errp, "invalid vCPU index %" PRId64, vcpu);
        return false;
    }
    if (trace_pattern_is_glob(name)) {
        return true;
    }
    if (trace_event_find(name) < 0) {
        error_setg(errp, "unknown event \"%s\"", name);
        return false;
    }
    if (has_vcpu) {
        error_setg(errp, "event \"%s\" is not vCPU-specific", name);
        return false;
    }
    return true;
}

static bool qmp_trace_event_get_state(JsonObject *args, JsonNode **ret,
                                      GError **errp)
{
    const char *name = qmp_arg_str(args, "name");
    g_autoptr(JsonBuilder) b = NULL;

    if (!trace_check_args(args, errp)) {
        return false;
    }
    b = json_builder_new();
    json_builder_begin_array(b);
    /* With "vcpu", only per-vCPU events match: none here. */
    for (unsigned int i = 0;
         i < trace_event_count && !qmp_arg_has(args, "vcpu"); i++) {
        if (!trace_pattern_match(name, trace_event_defs[i].name)) {
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, trace_event_defs[i].name);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, trace_event_get_state(i)
                                             ? "enabled"
                                             : "disabled");
        json_builder_set_member_name(b, "vcpu");
        json_builder_add_boolean_value(b, false);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = json_builder_get_root(b);
    return true;
}

static bool qmp_trace_event_set_state(JsonObject *args, JsonNode **ret,
                                      GError **errp)
{
    const char *name = qmp_arg_str(args, "name");
    bool enable = qmp_arg_bool(args, "enable", false);

    if (!trace_check_args(args, errp)) {
        return false;
    }
    for (unsigned int i = 0;
         i < trace_event_count && !qmp_arg_has(args, "vcpu"); i++) {
        if (trace_pattern_match(name, trace_event_defs[i].name)) {
            trace_event_set_state(i, enable);
        }
    }
    return true;
}

static const QmpArgSpec get_state_args[] = {
    { "name", QMP_ARG_STR, false },
    { "vcpu", QMP_ARG_INT, true },
    { NULL }
};

static const QmpArgSpec set_state_args[] = {
    { "name", QMP_ARG_STR, false },
    { "enable", QMP_ARG_BOOL, false },
    { "ignore-unavailable", QMP_ARG_BOOL, true },
    { "vcpu", QMP_ARG_INT, true },
    { NULL }
};

static const QmpCommandDef trace_qmp_commands[] = {
    { "trace-event-get-state", qmp_trace_event_get_state, get_state_args,
      .allow_preconfig = true },
    { "trace-event-set-state", qmp_trace_event_set_state, set_state_args,
      .allow_preconfig = true },
};

/* trace-event NAME on|off: QEMU prints a failure's bare message. */
static void hmp_trace_event(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonObject) args = NULL;
    g_autoptr(JsonNode) ret = NULL;
    GError *err = NULL;
    bool on;

    if (!hmp_check_argc(mon, argc, argv, 2, 2)) {
        return;
    }
    if (!strcmp(argv[2], "on") || !strcmp(argv[2], "off")) {
        on = !strcmp(argv[2], "on");
    } else {
        monitor_printf(mon, "Expected 'on' or 'off'\n");
        return;
    }
    args = json_object_new();
    json_object_set_string_member(args, "name", argv[1]);
    json_object_set_boolean_member(args, "enable", on);
    json_object_set_boolean_member(args, "ignore-unavailable", true);
    if (!qmp_dispatch("trace-event-set-state", args, &ret, &err)) {
        monitor_printf(mon, "%s\n", err->message);
        g_error_free(err);
    }
}

/* info trace-events [PATTERN]: "NAME : state 0|1" per event. */
static void hmp_info_trace_events(Monitor *mon, int argc, char **argv)
{
    g_autoptr(JsonObject) args = NULL;
    g_autoptr(JsonNode) ret = NULL;
    GError *err = NULL;
    JsonArray *list;

    if (!hmp_check_argc(mon, argc, argv, 0, 1)) {
        return;
    }
    args = json_object_new();
    json_object_set_string_member(args, "name", argc > 1 ? argv[1] : "*");
    if (!qmp_dispatch("trace-event-get-state", args, &ret, &err)) {
        monitor_printf(mon, "%s\n", err->message);
        g_error_free(err);
        return;
    }
    list = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *ev = json_array_get_object_element(list, i);

        monitor_printf(mon, "%s : state %u\n",
                       json_object_get_string_member(ev, "name"),
                       !strcmp(json_object_get_string_member(ev, "state"),
                               "enabled"));
    }
}

static const HmpCommandDef trace_hmp_commands[] = {
    { "trace-event", "name on|off", "changes status of a specific trace event",
      hmp_trace_event, NULL },
};

static const HmpCommandDef trace_hmp_info_commands[] = {
    { "trace-events", "[name]", "show available trace-events & their state",
      hmp_info_trace_events, NULL },
};

static void __attribute__((constructor)) trace_monitor_register(void)
{
    qmp_register_commands(trace_qmp_commands, ARRAY_SIZE(trace_qmp_commands));
    hmp_register_commands(trace_hmp_commands, ARRAY_SIZE(trace_hmp_commands));
    hmp_register_info_commands(trace_hmp_info_commands,
                               ARRAY_SIZE(trace_hmp_info_commands));
}
