/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/ private interfaces: the JSON stream splitter and writer, the
 * chardev-independent QMP session, the HMP line editor, and the Monitor
 * object tying them to a chardev. Only files in monitor/ and the unit tests
 * (tests/unit/test-qmp-*.c) include this header.
 *
 * Everything here runs in the main loop with the big lock held, except
 * where a comment says otherwise.
 */
#ifndef BATON_MONITOR_MONITOR_INTERNAL_H
#define BATON_MONITOR_MONITOR_INTERNAL_H

#include <json-glib/json-glib.h>

#include "monitor/monitor.h"

/* ---- JSON stream splitter (json-splitter.c) ---- */

/* QEMU's limits on one input value. */
#define QMP_SPLITTER_MAX_DEPTH 1024
#define QMP_SPLITTER_MAX_SIZE (64u * 1024 * 1024)

/*
 * Called once per top-level value: JSON is the value's text (normalised:
 * single-quoted strings become double-quoted, integers too large for int64
 * become floats) and ERROR is NULL; or JSON is NULL and ERROR says why the
 * input was rejected ("JSON parse error, ..."), already in QMP wording.
 */
typedef void (*QmpSplitterEmit)(void *opaque, const char *json, size_t len,
                                const char *error);

typedef struct QmpSplitter {
    QmpSplitterEmit emit;
    void *opaque;
    size_t max_size;
    GString *buf;       /* the value collected so far */
    unsigned int depth; /* open braces + brackets */
    char quote;         /* '"' or '\'' inside a string, else 0 */
    bool escape;        /* previous byte was a backslash in a string */
    bool scalar;        /* collecting a bare top-level token */
    bool in_token;      /* inside a run of number/keyword characters */
    size_t token_start;
    bool recovering; /* skipping input after a lexical error */
    bool too_big;    /* value exceeded max_size: dropped at its end */
    bool too_deep;   /* value exceeded QMP_SPLITTER_MAX_DEPTH */
} QmpSplitter;

void qmp_splitter_init(QmpSplitter *js, QmpSplitterEmit emit, void *opaque);
void qmp_splitter_destroy(QmpSplitter *js);
/* Forget any partial value (client disconnected). */
void qmp_splitter_reset(QmpSplitter *js);
/* Feed bytes; EMIT runs for every value completed by them. */
void qmp_splitter_feed(QmpSplitter *js, const char *data, size_t len);

/* ---- JSON writer (json-writer.c) ---- */

/*
 * Serialise NODE the way QEMU does: ", " and ": " separators, or with
 * PRETTY one member per line indented by four spaces; ASCII only (\uXXXX
 * escapes). Returns a new string without a trailing newline.
 */
GString *qmp_json_format(JsonNode *node, bool pretty);
/* Append S to OUT with every "\n" turned into "\r\n" (monitor output). */
void monitor_crlf_append(GString *out, const char *s, size_t len);

/* ---- Command registry and argument checks (qmp-dispatch.c) ---- */

/*
 * Check ARGS (may be NULL) against DEF's spec with QEMU's wording:
 * "Parameter 'x' is missing", "Parameter 'x' is unexpected",
 * "Invalid parameter type for 'x', expected: integer".
 */
bool qmp_check_args(const QmpCommandDef *def, JsonObject *args, GError **errp);
/* JSON type name of NODE as the error messages spell it ("integer", ...). */
const char *qmp_json_type_name(JsonNode *node);

/* ---- QMP session (qmp.c): the protocol without a chardev ---- */

/* Receives complete output messages, each ending in "\r\n". */
typedef void (*QmpOutputFunc)(void *opaque, const char *data, size_t len);

typedef struct QmpSession {
    QmpSplitter splitter;
    QmpOutputFunc output;
    void *opaque;
    bool pretty;
    bool open;        /* a client is connected (greeting sent) */
    bool negotiated;  /* qmp_capabilities succeeded: commands and events */
    bool oob_enabled; /* client enabled "oob": exec-oob is accepted */
} QmpSession;

/* Sessions register themselves for events until destroyed. */
void qmp_session_init(QmpSession *s, bool pretty, QmpOutputFunc output,
                      void *opaque);
void qmp_session_destroy(QmpSession *s);
/* Client connected: reset negotiation and send the greeting. */
void qmp_session_open(QmpSession *s);
/* Client went away: drop partial input and the negotiated state. */
void qmp_session_close(QmpSession *s);
/* Input bytes from the client; replies go to OUTPUT before this returns. */
void qmp_session_feed(QmpSession *s, const char *data, size_t len);
/* Send one message (reply or event) to the client. */
void qmp_session_send(QmpSession *s, JsonNode *msg);
/* The greeting object (new node). */
JsonNode *qmp_greeting_new(void);
/* Send EVENT (a complete event object) to every negotiated session. */
void qmp_sessions_broadcast(JsonNode *event);

/* ---- Events (qmp-event.c) ---- */

/* Build {"timestamp": ..., "event": NAME, "data": DATA}; takes DATA. */
JsonNode *qmp_event_build(const char *name, JsonNode *data, gint64 usec);
/* Emit every event queued by other threads now (main thread only). */
void qmp_event_flush(void);
/* Drop queued events (monitor_cleanup_all, tests). */
void qmp_event_discard_queue(void);

/* ---- HMP (hmp.c) ---- */

#define HMP_LINE_MAX 4096
#define HMP_HISTORY_MAX 64

typedef struct HmpReadline {
    GString *buf;   /* the line being edited */
    size_t cursor;  /* byte index of the cursor in buf */
    GString *shown; /* what the terminal currently shows */
    size_t shown_cursor;
    int esc_state;
    int esc_param;
    bool last_cr;       /* a CR ended the previous line: skip its LF */
    GPtrArray *history; /* char *, oldest first */
    int hist_pos;       /* -1 when not browsing history */
    bool open;          /* banner shown: a client is there */
} HmpReadline;

/* ---- Monitor object (monitor.c) ---- */

struct Monitor {
    bool is_qmp;
    Chardev *chr;     /* NULL for a capture monitor */
    GString *capture; /* output sink of human-monitor-command */
    QmpSession qmp;   /* is_qmp */
    HmpReadline rl;   /* !is_qmp */
    int cpu_index;    /* HMP's current CPU (info registers, memsave) */
    char last_format; /* xp defaults, updated by each xp /fmt */
    int last_size;
    /*
     * Live update: whether the new process must greet a client the old
     * one had not greeted yet (once it has taken over); cpr-exec: the
     * session state, its CPR vmstate section (old image), and whether the
     * session was restored from it at creation (new image).
     */
    bool cpr_greet;
    struct MonitorCprState *cpr_exec_st;
    bool cpr_restored;
};

/* Raw output (already CRLF-converted). */
void monitor_write(Monitor *mon, const char *data, size_t len);
/* Output with "\n" -> "\r\n", as every monitor message is sent. */
void monitor_puts(Monitor *mon, const char *str);

/* An HMP monitor whose output is collected in memory (capture). */
Monitor *monitor_new_capture(void);
/* Free a capture monitor, returning its output. */
char *monitor_free_capture(Monitor *mon);

void hmp_readline_init(HmpReadline *rl);
void hmp_readline_destroy(HmpReadline *rl);
/* Client connected: banner and prompt. */
void hmp_open(Monitor *mon);
void hmp_close(Monitor *mon);
/* Bytes typed by the user: echoed, edited, and run at end of line. */
void hmp_input(Monitor *mon, const char *data, size_t len);
/* Run one command line (no prompt printed). */
void hmp_execute_line(Monitor *mon, const char *line);
/*
 * Run LINE in a capture monitor whose current CPU is CPU_INDEX; returns
 * everything it printed (human-monitor-command).
 */
char *hmp_run_captured(const char *line, int cpu_index);
/* Look up a command or info subcommand by name or alias. */
const HmpCommandDef *hmp_find_command(const char *name, bool info);

/*
 * Argument helpers for HMP handlers. They print QEMU's messages
 * ("xp: extraneous characters at the end of line", "Try \"help xp\" for
 * more information") and return false on bad input.
 */
bool hmp_check_argc(Monitor *mon, int argc, char **argv, int min, int max);
bool hmp_parse_int(Monitor *mon, const char *cmd, const char *str, gint64 *val);

#endif
