/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trace events (QEMU's interface): each folder declares its events in a
 * trace-events file; scripts/tracetool.py turns them into one id per event
 * (trace/trace-list.h) and a header per folder with an inline
 * trace_NAME() (trace/trace-GROUP.h, included through the folder's
 * trace.h). This header owns the state table those inlines test and the
 * controls behind -trace, -d trace:, and the trace-event-* commands.
 *
 * Locking: an event's state is one byte, written with an atomic store
 * (any thread) and read with a relaxed atomic load, so a vCPU thread pays
 * one load when the event is off. Output lines are written whole under
 * the log lock (util/error-report.c), so lines of different threads never
 * interleave. Everything else runs at start-up or in the main loop.
 */
#ifndef BATON_UTIL_TRACE_H
#define BATON_UTIL_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

typedef struct TraceEventDef {
    const char *name;   /* "kvm_vm_ioctl" */
    const char *folder; /* "accel/kvm": where its trace-events file is */
} TraceEventDef;

/* The generated table (trace-list.c), indexed by the TRACE_NAME ids. */
extern const TraceEventDef trace_event_defs[];
extern const unsigned int trace_event_count;

/* One byte per event: nonzero when enabled. */
extern uint8_t trace_event_dstate[];

static inline bool trace_event_get_state(unsigned int id)
{
    return __atomic_load_n(&trace_event_dstate[id], __ATOMIC_RELAXED) != 0;
}

void trace_event_set_state(unsigned int id, bool enable);

/*
 * Write one event line in QEMU's "log" backend shape,
 * "TID@SECONDS.MICROSECONDS:" followed by FMT (which the generated code
 * starts with the event name and ends with "\n"), to the log stream
 * (-D FILE or -trace file=FILE, else stderr).
 */
void trace_event_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Id of the event called NAME, or -1. */
int trace_event_find(const char *name);
/* Whether PATTERN holds a glob character ('*' or '?'). */
bool trace_pattern_is_glob(const char *pattern);
/* Glob match of an event name, as QEMU's (g_pattern_match_simple). */
bool trace_pattern_match(const char *pattern, const char *name);

/*
 * One -trace / -d trace: / events-file item: PATTERN enables the events it
 * matches, "-PATTERN" disables them. A pattern without glob characters
 * must name an event: otherwise false and "trace event 'x' does not
 * exist". A glob that matches nothing is not an error (QEMU's rule).
 */
bool trace_enable_events(const char *item, GError **errp);

/*
 * Apply an events file's TEXT: one item per line (see
 * trace_enable_events); empty lines, lines starting with '#' and
 * surrounding blanks are skipped. WHERE names the file in errors
 * ("WHERE:LINE: trace event 'x' does not exist").
 */
bool trace_events_parse(const char *text, const char *where, GError **errp);
/* Read PATH and apply it with trace_events_parse(). */
bool trace_events_load(const char *path, GError **errp);

/* Every event name, one a line (-trace help, sorted as declared). */
void trace_list_events(FILE *f);

/*
 * The -trace option: [enable=]PATTERN, events=FILE, file=FILE, in any
 * combination. *HELP is set (and nothing else done) for "help" or
 * enable=help; the caller lists the events and exits. A file= is
 * remembered for trace_init_file().
 */
bool trace_opt_parse(const char *optarg, bool *help, GError **errp);
/*
 * After all options: send the log stream to the last -trace file=, if
 * any (it replaces -D's file, as in QEMU, where tracing writes to the log).
 */
bool trace_init_file(GError **errp);

#endif
