/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The trace event state table and its controls: patterns (-trace,
 * -d trace:, events files), the -trace option, and the output line of an
 * enabled event. The event list itself is generated from the trace-events
 * files (scripts/tracetool.py); the monitor commands are in
 * monitor/trace-qmp.c.
 */
#include "util/osdep.h"

#include <stdarg.h>
#include <sys/time.h>

#include "util/error-report.h"
#include "util/option.h"
#include "util/trace.h"
#include "trace/trace-list.h"

uint8_t trace_event_dstate[TRACE_EVENT_COUNT];

/* The last -trace file=, applied by trace_init_file(). */
static char *trace_file;

void trace_event_set_state(unsigned int id, bool enable)
{
    g_assert(id < TRACE_EVENT_COUNT);
    __atomic_store_n(&trace_event_dstate[id], enable ? 1 : 0,
                     __ATOMIC_RELAXED);
}

void trace_event_log(const char *fmt, ...)
{
    g_autofree char *body = NULL;
    struct timeval now;
    va_list ap;

    gettimeofday(&now, NULL);
    va_start(ap, fmt);
    body = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* QEMU prints its thread id: the process id on the main thread. */
    log_printf("%d@%zu.%06zu:%s", (int)gettid(), (size_t)now.tv_sec,
               (size_t)now.tv_usec, body);
}

int trace_event_find(const char *name)
{
    for (unsigned int i = 0; i < TRACE_EVENT_COUNT; i++) {
        if (!strcmp(trace_event_defs[i].name, name)) {
            return (int)i;
        }
    }
    return -1;
}

bool trace_pattern_is_glob(const char *pattern)
{
    return strchr(pattern, '*') || strchr(pattern, '?');
}

bool trace_pattern_match(const char *pattern, const char *name)
{
    return g_pattern_match_simple(pattern, name);
}

bool trace_enable_events(const char *item, GError **errp)
{
    bool enable = item[0] != '-';
    const char *pattern = enable ? item : item + 1;

    if (!trace_pattern_is_glob(pattern)) {
        int id = trace_event_find(pattern);

        if (id < 0) {
            error_setg(errp, "trace event '%s' does not exist", pattern);
            return false;
        }
        trace_event_set_state(id, enable);
        return true;
    }
    for (unsigned int i = 0; i < TRACE_EVENT_COUNT; i++) {
        if (trace_pattern_match(pattern, trace_event_defs[i].name)) {
            trace_event_set_state(i, enable);
        }
    }
    return true;
}

bool trace_events_parse(const char *text, const char *where, GError **errp)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);

        if (!line[0] || line[0] == '#') {
            continue;
        }
        if (!trace_enable_events(line, errp)) {
            g_prefix_error(errp, "%s:%u: ", where, i + 1);
            return false;
        }
    }
    return true;
}

bool trace_events_load(const char *path, GError **errp)
{
    g_autofree char *text = NULL;
    GError *err = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        error_setg(errp, "cannot read trace events file '%s': %s", path,
                   err->message);
        g_error_free(err);
        return false;
    }
    return trace_events_parse(text, path, errp);
}

void trace_list_events(FILE *f)
{
    for (unsigned int i = 0; i < TRACE_EVENT_COUNT; i++) {
        fprintf(f, "%s\n", trace_event_defs[i].name);
    }
}

bool trace_opt_parse(const char *optarg, bool *help, GError **errp)
{
    static const char *const known[] = { "enable", "events", "file", NULL };
    g_autoptr(OptList) opts = opts_parse(optarg, "enable", errp);
    const char *enable, *events, *file;

    *help = false;
    if (!opts || !opts_check_known(opts, known, NULL, errp)) {
        return false;
    }
    enable = opts_get(opts, "enable");
    events = opts_get(opts, "events");
    file = opts_get(opts, "file");
    if (enable && (!strcmp(enable, "help") || !strcmp(enable, "?"))) {
        *help = true;
        return true;
    }
    if ((enable && !trace_enable_events(enable, errp)) ||
        (events && !trace_events_load(events, errp))) {
        return false;
    }
    if (file) {
        g_free(trace_file);
        trace_file = g_strdup(file);
    }
    return true;
}

bool trace_init_file(GError **errp)
{
    bool ok = true;

    if (trace_file) {
        ok = log_set_file(trace_file, errp);
        g_clear_pointer(&trace_file, g_free);
    }
    return ok;
}
