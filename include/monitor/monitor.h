/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Monitors: QMP (JSON, mode=control) and HMP (human, mode=readline), each
 * attached to a chardev. Command tables live with the subsystem that owns
 * the commands (`<subsys>-qmp.c`) and register themselves from constructors.
 *
 * Handlers run in the main loop with the big lock held.
 */
#ifndef BATON_MONITOR_MONITOR_H
#define BATON_MONITOR_MONITOR_H

#include <stdbool.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "chardev/char.h"

typedef struct Monitor Monitor;

/* -mon chardev=ID,mode=control|readline[,pretty=on]. */
Monitor *monitor_new(Chardev *chr, bool is_qmp, bool pretty, GError **errp);
void monitor_cleanup_all(void);

/* ---- QMP commands ---- */

typedef enum QmpArgKind {
    QMP_ARG_STR,
    QMP_ARG_INT,    /* JSON integer */
    QMP_ARG_UINT,   /* non-negative JSON integer */
    QMP_ARG_NUMBER, /* integer or float */
    QMP_ARG_BOOL,
    QMP_ARG_OBJECT,
    QMP_ARG_ARRAY,
    QMP_ARG_ANY,
} QmpArgKind;

typedef struct QmpArgSpec {
    const char *name;
    QmpArgKind kind;
    bool optional;
} QmpArgSpec;

/* ARGS may be NULL (no arguments given); RET is set on success. */
typedef bool (*QmpHandler)(JsonObject *args, JsonNode **ret, GError **errp);

typedef struct QmpCommandDef {
    const char *name;
    QmpHandler handler;
    const QmpArgSpec *args;  /* terminated by {NULL}; NULL = no arguments */
    bool allow_oob;
    bool allow_preconfig;
    /* Accept any extra members without checking (rare; e.g. object-add). */
    bool args_unchecked;
} QmpCommandDef;

/* Register a table; names must be unique (asserted). */
void qmp_register_commands(const QmpCommandDef *defs, size_t n);
const QmpCommandDef *qmp_find_command(const char *name);
/* Sorted list of command names (GPtrArray of const char *). */
GPtrArray *qmp_command_names(void);

/*
 * Run one command as if a client sent it (used by HMP): validates ARGS
 * against the spec. ARGS may be NULL.
 */
bool qmp_dispatch(const char *name, JsonObject *args, JsonNode **ret,
                  GError **errp);

/* Argument getters; ARGS may be NULL. The spec has already checked types. */
const char *qmp_arg_str(JsonObject *args, const char *name);
bool qmp_arg_has(JsonObject *args, const char *name);
gint64 qmp_arg_int(JsonObject *args, const char *name, gint64 def);
bool qmp_arg_bool(JsonObject *args, const char *name, bool def);

/* Empty-object return value ({}) for commands that return nothing. */
JsonNode *qmp_return_empty(void);

/*
 * Broadcast an event to every negotiated QMP monitor, adding "timestamp".
 * Takes ownership of DATA (may be NULL). Thread-safe: events raised off the
 * main thread are queued to it.
 */
void qmp_event_send(const char *name, JsonNode *data);
/* The same with the timestamp USEC (g_get_real_time()) given. */
void qmp_event_send_at(const char *name, JsonNode *data, gint64 usec);

/* ---- HMP ---- */

typedef struct HmpCommandDef {
    const char *name;     /* "info" subcommands are listed separately */
    const char *params;   /* help synopsis, e.g. "/fmt addr" */
    const char *help;
    /* ARGV[0] is the command name; output goes through monitor_printf. */
    void (*handler)(Monitor *mon, int argc, char **argv);
    const char *alias;    /* e.g. "c" for "cont", or NULL */
} HmpCommandDef;

void hmp_register_commands(const HmpCommandDef *defs, size_t n);
void hmp_register_info_commands(const HmpCommandDef *defs, size_t n);
void monitor_printf(Monitor *mon, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Print ERR's message as HMP does ("Error: ...") and free it. */
void hmp_handle_error(Monitor *mon, GError *err);

#endif
