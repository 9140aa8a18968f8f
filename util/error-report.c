/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages for humans on stderr (error_report and friends, one line each,
 * prefixed with the program name) and the -d/-D debug log: a mask of QEMU's
 * log item names (and "trace:PATTERN", handed to util/trace.c) and the
 * stream log_printf() writes to, which enabled trace events share as in
 * QEMU. Monitor output lives elsewhere.
 */
#include "util/osdep.h"

#include <stdarg.h>

#include "util/error-report.h"
#include "util/trace.h"

typedef struct LogItem {
    unsigned int mask;
    const char *name;
} LogItem;

/* QEMU's -d names for the items baton implements. */
static const LogItem log_items[] = {
    { LOG_GUEST_ERROR, "guest_errors" },
    { LOG_UNIMP, "unimp" },
};

/*
 * Written at startup, read by vCPU threads on every log_mask(): an atomic
 * int keeps the fast path to one load without a lock.
 */
static gint log_mask_bits;

/* Protects log_file; NULL means stderr. */
static GMutex log_lock;
static FILE *log_file;

static const char *report_prefix(void)
{
    const char *name = g_get_prgname();

    return name ? name : BATON_PACKAGE;
}

/*
 * Format the whole line first and write it with the stream locked, so
 * reports from different threads never interleave within a line.
 */
static void G_GNUC_PRINTF(2, 0)
vreport(const char *kind, const char *fmt, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    size_t len = strlen(msg);
    const char *nl = (len && msg[len - 1] == '\n') ? "" : "\n";

    flockfile(stderr);
    fprintf(stderr, "%s: %s%s%s", report_prefix(), kind, msg, nl);
    fflush(stderr);
    funlockfile(stderr);
}

void error_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport("", fmt, ap);
    va_end(ap);
}

void warn_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport("warning: ", fmt, ap);
    va_end(ap);
}

void info_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport("", fmt, ap);
    va_end(ap);
}

void error_report_err(GError *err)
{
    if (!err) {
        return;
    }
    error_report("%s", err->message);
    g_error_free(err);
}

bool log_mask_enabled(unsigned int mask)
{
    return ((unsigned int)g_atomic_int_get(&log_mask_bits) & mask) != 0;
}

static bool log_item_lookup(const char *name, unsigned int *mask)
{
    for (size_t i = 0; i < ARRAY_SIZE(log_items); i++) {
        if (g_str_equal(name, log_items[i].name)) {
            *mask = log_items[i].mask;
            return true;
        }
    }
    return false;
}

bool log_set_mask_str(const char *str, GError **errp)
{
    g_auto(GStrv) items = g_strsplit(str, ",", -1);
    unsigned int mask = 0;

    for (char **item = items; *item; item++) {
        unsigned int bit;

        /* QEMU's "trace:PATTERN" item enables trace events. */
        if (g_str_has_prefix(*item, "trace:")) {
            if (!trace_enable_events(*item + strlen("trace:"), errp)) {
                return false;
            }
            continue;
        }
        if (!log_item_lookup(*item, &bit)) {
            error_setg(errp, "unknown log item '%s'", *item);
            return false;
        }
        mask |= bit;
    }
    /* Replace rather than accumulate: a later -d wins, as in QEMU. */
    g_atomic_int_set(&log_mask_bits, (gint)mask);
    return true;
}

bool log_set_file(const char *path, GError **errp)
{
    FILE *f = NULL;

    if (path) {
        /* QEMU's -D truncates the file; keep that. */
        f = fopen(path, "w");
        if (!f) {
            error_setg_errno(errp, errno, "cannot open log file '%s'", path);
            return false;
        }
        /* Line buffering: a crash loses at most a partial line. */
        setvbuf(f, NULL, _IOLBF, 0);
    }

    g_mutex_lock(&log_lock);
    if (log_file) {
        fclose(log_file);
    }
    log_file = f;
    g_mutex_unlock(&log_lock);
    return true;
}

void log_printf(const char *fmt, ...)
{
    va_list ap;

    g_mutex_lock(&log_lock);
    va_start(ap, fmt);
    vfprintf(log_file ? log_file : stderr, fmt, ap);
    va_end(ap);
    g_mutex_unlock(&log_lock);
}
