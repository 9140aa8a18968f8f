/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP input framing: cuts a byte stream into top-level JSON values for
 * json-glib's parser. It tracks only strings, escapes and bracket depth;
 * the grammar is json-glib's business. Lexical errors (control bytes,
 * 0xFE/0xFF) discard the partial value, as QMP clients expect when they
 * force the parser back to a known state (qmp-spec.rst).
 */
#include "util/osdep.h"

#include "monitor-internal.h"

void qmp_splitter_init(QmpSplitter *js, QmpSplitterEmit emit, void *opaque)
{
    memset(js, 0, sizeof(*js));
    js->emit = emit;
    js->opaque = opaque;
    js->max_size = QMP_SPLITTER_MAX_SIZE;
    js->buf = g_string_new(NULL);
}

void qmp_splitter_destroy(QmpSplitter *js)
{
    if (js->buf) {
        g_string_free(js->buf, true);
        js->buf = NULL;
    }
}

/* Start a new value; keeps the buffer (reset may run inside feed). */
static void splitter_clear(QmpSplitter *js)
{
    g_string_truncate(js->buf, 0);
    js->depth = 0;
    js->quote = 0;
    js->escape = false;
    js->scalar = false;
    js->in_token = false;
    js->too_big = false;
    js->too_deep = false;
}

void qmp_splitter_reset(QmpSplitter *js)
{
    splitter_clear(js);
    js->recovering = false;
}

static void splitter_append(QmpSplitter *js, const char *s, size_t len)
{
    if (js->too_big) {
        return;
    }
    if (js->buf->len + len > js->max_size) {
        js->too_big = true;
        return;
    }
    g_string_append_len(js->buf, s, len);
}

static void splitter_append_c(QmpSplitter *js, char c)
{
    splitter_append(js, &c, 1);
}

/*
 * json-glib turns integers beyond int64 into garbage (it returns -1), where
 * QEMU's parser falls back to a float. Rewrite such a token as "N.0" before
 * the parser sees it.
 */
static void splitter_end_token(QmpSplitter *js)
{
    const char *tok;
    size_t i, len;

    if (!js->in_token) {
        return;
    }
    js->in_token = false;
    if (js->too_big || js->token_start >= js->buf->len) {
        return;
    }
    tok = js->buf->str + js->token_start;
    len = js->buf->len - js->token_start;
    i = (tok[0] == '-') ? 1 : 0;
    if (len - i < 19) {
        return;
    }
    for (; i < len; i++) {
        if (!g_ascii_isdigit(tok[i])) {
            return;
        }
    }
    errno = 0;
    g_ascii_strtoll(tok, NULL, 10);
    if (errno == ERANGE) {
        splitter_append(js, ".0", 2);
    }
}

static void splitter_emit_error(QmpSplitter *js, const char *msg)
{
    js->emit(js->opaque, NULL, 0, msg);
}

static void splitter_finish(QmpSplitter *js)
{
    splitter_end_token(js);
    if (js->too_deep) {
        splitter_clear(js);
        splitter_emit_error(js, "JSON nesting depth limit exceeded");
    } else if (js->too_big) {
        splitter_clear(js);
        splitter_emit_error(js, "JSON token size limit exceeded");
    } else {
        /*
         * Copy out first: the callback may reset the splitter (a reply
         * write can notice that the client has gone away).
         */
        g_autofree char *json = g_strndup(js->buf->str, js->buf->len);
        size_t len = js->buf->len;

        splitter_clear(js);
        js->emit(js->opaque, json, len, NULL);
    }
}

/* Control bytes other than whitespace, and bytes that never occur in UTF-8. */
static bool is_lexical_error(unsigned char c, bool in_string)
{
    if (c >= 0xfe) {
        return true;
    }
    if (c >= 0x20) {
        return false;
    }
    return in_string || (c != '\t' && c != '\n' && c != '\r');
}

static void splitter_lexical_error(QmpSplitter *js, unsigned char c)
{
    g_autofree char *msg = NULL;

    splitter_clear(js);
    js->recovering = true;
    msg = g_strdup_printf("JSON parse error, stray '\\x%02x'", c);
    splitter_emit_error(js, msg);
}

static bool is_structural(unsigned char c)
{
    return c == '{' || c == '}' || c == '[' || c == ']';
}

static bool is_token_char(unsigned char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '+' || c == '.';
}

/* One byte inside a string; single-quoted strings become double-quoted. */
static void splitter_string_byte(QmpSplitter *js, unsigned char c)
{
    if (is_lexical_error(c, true)) {
        splitter_lexical_error(js, c);
        return;
    }
    if (js->escape) {
        js->escape = false;
        if (c == '\'') {
            /* QEMU's \' extension; plain JSON has no such escape. */
            splitter_append_c(js, '\'');
        } else {
            splitter_append_c(js, '\\');
            splitter_append_c(js, c);
        }
        return;
    }
    if (c == '\\') {
        js->escape = true;
    } else if (c == js->quote) {
        js->quote = 0;
        splitter_append_c(js, '"');
        if (js->depth == 0) {
            splitter_finish(js);
        }
    } else if (c == '"') {
        splitter_append(js, "\\\"", 2); /* inside a single-quoted string */
    } else {
        splitter_append_c(js, c);
    }
}

/* One byte outside strings. */
static void splitter_byte(QmpSplitter *js, unsigned char c)
{
    if (js->scalar) {
        if (!g_ascii_isspace(c) && !is_structural(c) && c != '"' && c != '\'') {
            splitter_append_c(js, c);
            return;
        }
        splitter_finish(js);
        if (g_ascii_isspace(c)) {
            return;
        }
    }

    if (is_token_char(c)) {
        if (!js->in_token) {
            js->in_token = true;
            js->token_start = js->buf->len;
        }
    } else {
        splitter_end_token(js);
    }

    switch (c) {
    case '{':
    case '[':
        if (++js->depth > QMP_SPLITTER_MAX_DEPTH) {
            js->too_deep = true;
        }
        splitter_append_c(js, c);
        break;
    case '}':
    case ']':
        if (js->depth == 0) {
            g_autofree char *msg =
                g_strdup_printf("JSON parse error, stray '%c'", c);
            splitter_emit_error(js, msg);
            break;
        }
        splitter_append_c(js, c);
        if (--js->depth == 0) {
            splitter_finish(js);
        }
        break;
    case '"':
    case '\'':
        js->quote = c;
        splitter_append_c(js, '"');
        break;
    default:
        if (js->depth == 0) {
            if (g_ascii_isspace(c)) {
                break;
            }
            /* A bare top-level token ends at the next delimiter. */
            js->scalar = true;
            js->in_token = true;
            js->token_start = js->buf->len;
        }
        splitter_append_c(js, c);
        break;
    }
}

void qmp_splitter_feed(QmpSplitter *js, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = data[i];

        if (js->recovering) {
            /*
             * After a lexical error skip to a likely resynchronisation
             * point: a bracket (reprocessed) or a line end or control byte
             * (consumed), as QEMU's lexer does.
             */
            if (is_structural(c)) {
                js->recovering = false;
            } else {
                if (c == '\n' || c == '\r' || is_lexical_error(c, false)) {
                    js->recovering = false;
                }
                continue;
            }
        }
        if (js->quote) {
            splitter_string_byte(js, c);
        } else if (is_lexical_error(c, false)) {
            splitter_lexical_error(js, c);
        } else {
            splitter_byte(js, c);
        }
    }
}
