/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JSON output in QEMU's byte format. json-glib's generator writes no
 * spaces and UTF-8; QMP clients and scripts that compare output expect
 * QEMU's ", "/": " separators, its pretty layout and pure ASCII. Members are
 * written in insertion order.
 */
#include "util/osdep.h"

#include <math.h>

#include "monitor-internal.h"

static void json_write_string(GString *out, const char *s)
{
    const char *p = s;
    const char *end = s + strlen(s);

    g_string_append_c(out, '"');
    while (p < end) {
        gunichar cp = g_utf8_get_char_validated(p, end - p);

        if (cp == (gunichar)-1 || cp == (gunichar)-2) {
            /* Not UTF-8: substitute and resynchronise on the next byte. */
            g_string_append(out, "\\uFFFD");
            p++;
            continue;
        }
        p = g_utf8_next_char(p);
        switch (cp) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\b':
            g_string_append(out, "\\b");
            break;
        case '\f':
            g_string_append(out, "\\f");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (cp >= 0x20 && cp < 0x7f) {
                g_string_append_c(out, (char)cp);
            } else if (cp < 0x10000) {
                g_string_append_printf(out, "\\u%04X", cp);
            } else {
                cp -= 0x10000;
                g_string_append_printf(out, "\\u%04X\\u%04X",
                                       0xd800 + (cp >> 10),
                                       0xdc00 + (cp & 0x3ff));
            }
            break;
        }
    }
    g_string_append_c(out, '"');
}

static void json_newline(GString *out, bool pretty, int indent)
{
    if (pretty) {
        g_string_append_c(out, '\n');
        for (int i = 0; i < indent; i++) {
            g_string_append(out, "    ");
        }
    }
}

static void json_write_node(GString *out, JsonNode *node, bool pretty,
                            int indent);

static void json_write_value(GString *out, JsonNode *node)
{
    GType type = json_node_get_value_type(node);

    if (type == G_TYPE_INT64 || type == G_TYPE_INT || type == G_TYPE_UINT ||
        type == G_TYPE_LONG) {
        g_string_append_printf(out, "%" G_GINT64_FORMAT,
                               json_node_get_int(node));
    } else if (type == G_TYPE_DOUBLE || type == G_TYPE_FLOAT) {
        double d = json_node_get_double(node);
        char buf[G_ASCII_DTOSTR_BUF_SIZE];

        if (!isfinite(d)) {
            g_string_append(out, "null"); /* JSON has no inf/nan */
        } else {
            g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.17g", d));
        }
    } else if (type == G_TYPE_BOOLEAN) {
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
    } else if (type == G_TYPE_STRING) {
        const char *s = json_node_get_string(node);

        json_write_string(out, s ? s : "");
    } else {
        g_string_append(out, "null");
    }
}

static void json_write_object(GString *out, JsonObject *obj, bool pretty,
                              int indent)
{
    GList *members = json_object_get_members(obj);
    const char *sep = "";

    g_string_append_c(out, '{');
    for (GList *l = members; l; l = l->next) {
        g_string_append(out, sep);
        json_newline(out, pretty, indent + 1);
        json_write_string(out, l->data);
        g_string_append(out, ": ");
        json_write_node(out, json_object_get_member(obj, l->data), pretty,
                        indent + 1);
        sep = pretty ? "," : ", ";
    }
    json_newline(out, pretty, indent);
    g_string_append_c(out, '}');
    g_list_free(members);
}

static void json_write_array(GString *out, JsonArray *arr, bool pretty,
                             int indent)
{
    guint n = json_array_get_length(arr);
    const char *sep = "";

    g_string_append_c(out, '[');
    for (guint i = 0; i < n; i++) {
        g_string_append(out, sep);
        json_newline(out, pretty, indent + 1);
        json_write_node(out, json_array_get_element(arr, i), pretty,
                        indent + 1);
        sep = pretty ? "," : ", ";
    }
    json_newline(out, pretty, indent);
    g_string_append_c(out, ']');
}

static void json_write_node(GString *out, JsonNode *node, bool pretty,
                            int indent)
{
    if (!node) {
        g_string_append(out, "null");
        return;
    }
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT:
        json_write_object(out, json_node_get_object(node), pretty, indent);
        break;
    case JSON_NODE_ARRAY:
        json_write_array(out, json_node_get_array(node), pretty, indent);
        break;
    case JSON_NODE_VALUE:
        json_write_value(out, node);
        break;
    case JSON_NODE_NULL:
    default:
        g_string_append(out, "null");
        break;
    }
}

GString *qmp_json_format(JsonNode *node, bool pretty)
{
    GString *out = g_string_new(NULL);

    json_write_node(out, node, pretty, 0);
    return out;
}

void monitor_crlf_append(GString *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n') {
            g_string_append_c(out, '\r');
        }
        g_string_append_c(out, s[i]);
    }
}
