/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The human monitor: a line editor that echoes and redraws like QEMU's
 * readline (cursor keys, history, backspace), command-line splitting,
 * the command tables with "help" and "info", and argument helpers for
 * handlers. The commands themselves are in hmp-cmds.c.
 */
#include "util/osdep.h"

#include "monitor-internal.h"

#define HMP_PROMPT "(qemu) "

enum { ESC_NORM, ESC_ESC, ESC_CSI, ESC_SS3 };

static GPtrArray *hmp_cmds; /* const HmpCommandDef * */
static GPtrArray *hmp_info_cmds;

/* ---- command tables ---- */

/* Names and aliases must be unique within a table (asserted). */
static void hmp_register(bool info, const HmpCommandDef *defs, size_t n)
{
    GPtrArray **table = info ? &hmp_info_cmds : &hmp_cmds;

    if (!*table) {
        *table = g_ptr_array_new();
    }
    for (size_t i = 0; i < n; i++) {
        g_assert(defs[i].name && defs[i].handler && defs[i].help);
        g_assert(!hmp_find_command(defs[i].name, info));
        g_assert(!defs[i].alias || !hmp_find_command(defs[i].alias, info));
        g_ptr_array_add(*table, (gpointer)&defs[i]);
    }
}

void hmp_register_commands(const HmpCommandDef *defs, size_t n)
{
    hmp_register(false, defs, n);
}

void hmp_register_info_commands(const HmpCommandDef *defs, size_t n)
{
    hmp_register(true, defs, n);
}

const HmpCommandDef *hmp_find_command(const char *name, bool info)
{
    GPtrArray *table = info ? hmp_info_cmds : hmp_cmds;

    for (guint i = 0; table && i < table->len; i++) {
        const HmpCommandDef *def = g_ptr_array_index(table, i);

        if (!strcmp(def->name, name) ||
            (def->alias && !strcmp(def->alias, name))) {
            return def;
        }
    }
    return NULL;
}

/* A command with its alias as "help" lists it: "cont|c", "help|?". */
static char *hmp_display_name(const HmpCommandDef *def)
{
    if (!def->alias) {
        return g_strdup(def->name);
    }
    return g_strdup_printf("%s|%s", def->name, def->alias);
}

static gint compare_display(gconstpointer a, gconstpointer b)
{
    g_autofree char *na = hmp_display_name(*(HmpCommandDef *const *)a);
    g_autofree char *nb = hmp_display_name(*(HmpCommandDef *const *)b);

    return strcmp(na, nb);
}

static void hmp_help_line(Monitor *mon, const char *prefix,
                          const HmpCommandDef *def)
{
    g_autofree char *name = hmp_display_name(def);

    monitor_printf(mon, "%s%s %s -- %s\n", prefix, name,
                   def->params ? def->params : "", def->help);
}

/* All commands of a table, sorted by name as QEMU lists them. */
static void hmp_help_table(Monitor *mon, const char *prefix, GPtrArray *table)
{
    g_autoptr(GPtrArray) sorted = g_ptr_array_new();

    for (guint i = 0; table && i < table->len; i++) {
        g_ptr_array_add(sorted, g_ptr_array_index(table, i));
    }
    g_ptr_array_sort(sorted, compare_display);
    for (guint i = 0; i < sorted->len; i++) {
        hmp_help_line(mon, prefix, g_ptr_array_index(sorted, i));
    }
}

static void hmp_help(Monitor *mon, int argc, char **argv)
{
    const HmpCommandDef *def;

    if (argc < 2) {
        hmp_help_table(mon, "", hmp_cmds);
        return;
    }
    def = hmp_find_command(argv[1], false);
    if (!def) {
        monitor_printf(mon, "unknown command: '%s'\n", argv[1]);
    } else if (!strcmp(def->name, "info")) {
        if (argc < 3) {
            hmp_help_table(mon, "info ", hmp_info_cmds);
        } else if ((def = hmp_find_command(argv[2], true))) {
            hmp_help_line(mon, "info ", def);
        } else {
            monitor_printf(mon, "unknown command: 'info %s'\n", argv[2]);
        }
    } else {
        hmp_help_line(mon, "", def);
    }
}

static void hmp_info(Monitor *mon, int argc, char **argv)
{
    const HmpCommandDef *def;

    if (argc < 2) {
        hmp_help_table(mon, "info ", hmp_info_cmds);
        return;
    }
    def = hmp_find_command(argv[1], true);
    if (!def) {
        monitor_printf(mon, "unknown command: 'info %s'\n", argv[1]);
        return;
    }
    def->handler(mon, argc - 1, argv + 1);
}

static const HmpCommandDef hmp_core_cmds[] = {
    {"help", "[cmd]", "show the help", hmp_help, "?"},
    {"info", "[subcommand]", "show various information about the system state",
     hmp_info, NULL},
};

static void __attribute__((constructor)) hmp_core_register(void)
{
    hmp_register_commands(hmp_core_cmds, ARRAY_SIZE(hmp_core_cmds));
}

/* ---- argument helpers ---- */

static void hmp_try_help(Monitor *mon, const char *cmd)
{
    monitor_printf(mon, "Try \"help %s\" for more information\n", cmd);
}

bool hmp_check_argc(Monitor *mon, int argc, char **argv, int min, int max)
{
    if (argc - 1 < min) {
        monitor_printf(mon, "%s: missing argument\n", argv[0]);
    } else if (argc - 1 > max) {
        monitor_printf(mon, "%s: extraneous characters at the end of line\n",
                       argv[0]);
    } else {
        return true;
    }
    hmp_try_help(mon, argv[0]);
    return false;
}

bool hmp_parse_int(Monitor *mon, const char *cmd, const char *str, gint64 *val)
{
    const char *p = str;
    bool neg = false;
    char *end;
    guint64 v;

    if (*p == '-') {
        neg = true;
        p++;
    }
    if (!g_ascii_isdigit(*p)) {
        if (*p) {
            monitor_printf(mon, "invalid char '%c' in expression\n", *p);
        } else {
            monitor_printf(mon, "unexpected end of expression\n");
        }
        hmp_try_help(mon, cmd);
        return false;
    }
    errno = 0;
    v = g_ascii_strtoull(p, &end, 0);
    if (errno == ERANGE) {
        monitor_printf(mon, "number too large\n");
        hmp_try_help(mon, cmd);
        return false;
    }
    if (*end) {
        monitor_printf(mon, "invalid char '%c' in expression\n", *end);
        hmp_try_help(mon, cmd);
        return false;
    }
    *val = neg ? -(gint64)v : (gint64)v;
    return true;
}

/* ---- command line parsing ---- */

/*
 * Split LINE into words: whitespace separates them, and a word may be
 * quoted ("a b" or 'a b', with \" \\ \' \n escapes inside double quotes).
 * The command name also ends at '/', so "xp/4x" is "xp" "/4x".
 */
static GPtrArray *hmp_split_line(const char *line, const char **err)
{
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    const char *p = line;

    while (*p) {
        GString *word;

        while (g_ascii_isspace(*p)) {
            p++;
        }
        if (!*p) {
            break;
        }
        word = g_string_new(NULL);
        while (*p && !g_ascii_isspace(*p)) {
            if (argv->len == 0 && *p == '/' && word->len > 0) {
                break;
            }
            if (*p == '"' || *p == '\'') {
                char q = *p++;

                while (*p && *p != q) {
                    if (q == '"' && *p == '\\' && p[1]) {
                        p++;
                        g_string_append_c(word, *p == 'n' ? '\n' : *p);
                    } else {
                        g_string_append_c(word, *p);
                    }
                    p++;
                }
                if (!*p) {
                    *err = "unterminated string";
                    g_string_free(word, true);
                    g_ptr_array_free(argv, true);
                    return NULL;
                }
                p++;
            } else {
                g_string_append_c(word, *p++);
            }
        }
        g_ptr_array_add(argv, g_string_free(word, false));
    }
    g_ptr_array_add(argv, NULL);
    return argv;
}

void hmp_execute_line(Monitor *mon, const char *line)
{
    g_autoptr(GPtrArray) argv = NULL;
    const HmpCommandDef *def;
    const char *err = NULL;

    argv = hmp_split_line(line, &err);
    if (!argv) {
        monitor_printf(mon, "%s\n", err);
        return;
    }
    if (argv->len <= 1) {
        return; /* empty line */
    }
    def = hmp_find_command(g_ptr_array_index(argv, 0), false);
    if (!def) {
        monitor_printf(mon, "unknown command: '%s'\n",
                       (char *)g_ptr_array_index(argv, 0));
        return;
    }
    def->handler(mon, argv->len - 1, (char **)argv->pdata);
}

char *hmp_run_captured(const char *line, int cpu_index)
{
    Monitor *mon = monitor_new_capture();

    mon->cpu_index = cpu_index;
    hmp_execute_line(mon, line);
    return monitor_free_capture(mon);
}

/* ---- line editor ---- */

void hmp_readline_init(HmpReadline *rl)
{
    memset(rl, 0, sizeof(*rl));
    rl->buf = g_string_new(NULL);
    rl->shown = g_string_new(NULL);
    rl->history = g_ptr_array_new_with_free_func(g_free);
    rl->hist_pos = -1;
}

void hmp_readline_destroy(HmpReadline *rl)
{
    g_string_free(rl->buf, true);
    g_string_free(rl->shown, true);
    g_ptr_array_free(rl->history, true);
}

static void rl_restart(HmpReadline *rl)
{
    g_string_truncate(rl->buf, 0);
    g_string_truncate(rl->shown, 0);
    rl->cursor = 0;
    rl->shown_cursor = 0;
    rl->esc_state = ESC_NORM;
    rl->last_cr = false;
    rl->hist_pos = -1;
}

static void hmp_prompt(Monitor *mon)
{
    monitor_write(mon, HMP_PROMPT, strlen(HMP_PROMPT));
}

void hmp_open(Monitor *mon)
{
    rl_restart(&mon->rl);
    mon->rl.open = true;
    monitor_printf(mon,
                   "QEMU %s monitor - type 'help' for more "
                   "information\n",
                   BATON_VERSION);
    hmp_prompt(mon);
}

void hmp_close(Monitor *mon)
{
    rl_restart(&mon->rl);
    mon->rl.open = false;
}

/* Redraw what changed since the last update (QEMU's terminal protocol). */
static void rl_update(HmpReadline *rl, GString *out)
{
    if (!g_string_equal(rl->buf, rl->shown)) {
        for (size_t i = 0; i < rl->shown_cursor; i++) {
            g_string_append(out, "\033[D");
        }
        g_string_append_len(out, rl->buf->str, rl->buf->len);
        g_string_append(out, "\033[K");
        g_string_assign(rl->shown, rl->buf->str);
        rl->shown_cursor = rl->buf->len;
    }
    while (rl->shown_cursor < rl->cursor) {
        g_string_append(out, "\033[C");
        rl->shown_cursor++;
    }
    while (rl->shown_cursor > rl->cursor) {
        g_string_append(out, "\033[D");
        rl->shown_cursor--;
    }
}

static void rl_insert(HmpReadline *rl, char c)
{
    if (rl->buf->len < HMP_LINE_MAX) {
        g_string_insert_c(rl->buf, rl->cursor++, c);
    }
}

static void rl_delete(HmpReadline *rl)
{
    if (rl->cursor < rl->buf->len) {
        g_string_erase(rl->buf, rl->cursor, 1);
    }
}

static void rl_backspace(HmpReadline *rl)
{
    if (rl->cursor > 0) {
        rl->cursor--;
        rl_delete(rl);
    }
}

static void rl_backword(HmpReadline *rl)
{
    size_t start = rl->cursor;

    while (start > 0 && g_ascii_isspace(rl->buf->str[start - 1])) {
        start--;
    }
    while (start > 0 && !g_ascii_isspace(rl->buf->str[start - 1])) {
        start--;
    }
    g_string_erase(rl->buf, start, rl->cursor - start);
    rl->cursor = start;
}

static void rl_hist_add(HmpReadline *rl, const char *line)
{
    if (!*line) {
        return;
    }
    for (guint i = 0; i < rl->history->len; i++) {
        if (!strcmp(g_ptr_array_index(rl->history, i), line)) {
            g_ptr_array_remove_index(rl->history, i);
            break;
        }
    }
    if (rl->history->len == HMP_HISTORY_MAX) {
        g_ptr_array_remove_index(rl->history, 0);
    }
    g_ptr_array_add(rl->history, g_strdup(line));
    rl->hist_pos = -1;
}

static void rl_hist_move(HmpReadline *rl, int dir)
{
    int n = rl->history->len;
    int pos = rl->hist_pos < 0 ? n : rl->hist_pos;

    pos += dir;
    if (pos < 0) {
        return;
    }
    if (pos >= n) {
        rl->hist_pos = -1;
        g_string_truncate(rl->buf, 0);
    } else {
        rl->hist_pos = pos;
        g_string_assign(rl->buf, g_ptr_array_index(rl->history, pos));
    }
    rl->cursor = rl->buf->len;
}

/* End of line: echo the newline, run the command, show a new prompt. */
static void rl_enter(Monitor *mon, GString *out)
{
    HmpReadline *rl = &mon->rl;
    g_autofree char *line = g_strdup(rl->buf->str);

    rl_hist_add(rl, line);
    g_string_append(out, "\r\n");
    monitor_write(mon, out->str, out->len);
    g_string_truncate(out, 0);

    g_string_truncate(rl->buf, 0);
    g_string_truncate(rl->shown, 0);
    rl->cursor = 0;
    rl->shown_cursor = 0;

    hmp_execute_line(mon, line);
    hmp_prompt(mon);
}

static void rl_csi(HmpReadline *rl, unsigned char c)
{
    switch (c) {
    case 'A':
    case 'F':
        rl_hist_move(rl, -1);
        break;
    case 'B':
    case 'E':
        rl_hist_move(rl, 1);
        break;
    case 'C':
        rl->cursor = MIN(rl->cursor + 1, rl->buf->len);
        break;
    case 'D':
        rl->cursor = rl->cursor ? rl->cursor - 1 : 0;
        break;
    case '~':
        if (rl->esc_param == 1) {
            rl->cursor = 0;
        } else if (rl->esc_param == 3) {
            rl_delete(rl);
        } else if (rl->esc_param == 4) {
            rl->cursor = rl->buf->len;
        }
        break;
    default:
        if (g_ascii_isdigit(c)) {
            rl->esc_param = rl->esc_param * 10 + (c - '0');
            return;
        }
        break;
    }
    rl->esc_state = ESC_NORM;
}

static void rl_byte(Monitor *mon, unsigned char c, GString *out)
{
    HmpReadline *rl = &mon->rl;
    bool after_cr = rl->last_cr;

    rl->last_cr = false;
    switch (rl->esc_state) {
    case ESC_ESC:
        rl->esc_state = c == '[' ? ESC_CSI : c == 'O' ? ESC_SS3 : ESC_NORM;
        rl->esc_param = 0;
        return;
    case ESC_CSI:
        rl_csi(rl, c);
        break;
    case ESC_SS3:
        if (c == 'F') {
            rl->cursor = rl->buf->len;
        } else if (c == 'H') {
            rl->cursor = 0;
        }
        rl->esc_state = ESC_NORM;
        break;
    default:
        switch (c) {
        case 1: /* ^A */
            rl->cursor = 0;
            break;
        case 4: /* ^D */
            rl_delete(rl);
            break;
        case 5: /* ^E */
            rl->cursor = rl->buf->len;
            break;
        case '\n':
        case '\r':
            if (c == '\n' && after_cr) {
                return; /* CRLF ends one line, not two */
            }
            rl->last_cr = c == '\r';
            rl_enter(mon, out);
            return;
        case 23: /* ^W */
            rl_backword(rl);
            break;
        case 27:
            rl->esc_state = ESC_ESC;
            return;
        case 8:
        case 127:
            rl_backspace(rl);
            break;
        case 155:
            rl->esc_state = ESC_CSI;
            rl->esc_param = 0;
            return;
        default:
            if (c >= 32) {
                rl_insert(rl, c);
            }
            break;
        }
        break;
    }
    rl_update(rl, out);
}

void hmp_input(Monitor *mon, const char *data, size_t len)
{
    g_autoptr(GString) out = g_string_new(NULL);

    for (size_t i = 0; i < len; i++) {
        rl_byte(mon, data[i], out);
    }
    if (out->len) {
        monitor_write(mon, out->str, out->len);
    }
}
