/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QMP command registry and dispatch: tables registered by each
 * subsystem, argument checks against each command's spec (QEMU's error
 * wording, before the handler runs), and typed argument getters. The wire
 * protocol around it (framing, negotiation, ids) is in qmp.c.
 */
#include "util/osdep.h"

#include "monitor-internal.h"
#include "trace.h"

/* name -> const QmpCommandDef *; filled by constructors before main(). */
static GHashTable *qmp_commands;

void qmp_register_commands(const QmpCommandDef *defs, size_t n)
{
    if (!qmp_commands) {
        qmp_commands = g_hash_table_new(g_str_hash, g_str_equal);
    }
    for (size_t i = 0; i < n; i++) {
        g_assert(defs[i].name && defs[i].handler);
        g_assert(!g_hash_table_contains(qmp_commands, defs[i].name));
        g_hash_table_insert(qmp_commands, (gpointer)defs[i].name,
                            (gpointer)&defs[i]);
    }
}

const QmpCommandDef *qmp_find_command(const char *name)
{
    if (!qmp_commands || !name) {
        return NULL;
    }
    return g_hash_table_lookup(qmp_commands, name);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *qmp_command_names(void)
{
    GPtrArray *names = g_ptr_array_new();

    if (qmp_commands) {
        GHashTableIter iter;
        gpointer key;

        g_hash_table_iter_init(&iter, qmp_commands);
        while (g_hash_table_iter_next(&iter, &key, NULL)) {
            g_ptr_array_add(names, key);
        }
    }
    g_ptr_array_sort(names, compare_names);
    return names;
}

const char *qmp_json_type_name(JsonNode *node)
{
    GType type;

    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT:
        return "object";
    case JSON_NODE_ARRAY:
        return "array";
    case JSON_NODE_NULL:
        return "null";
    case JSON_NODE_VALUE:
    default:
        break;
    }
    type = json_node_get_value_type(node);
    if (type == G_TYPE_INT64) {
        return "integer";
    } else if (type == G_TYPE_DOUBLE) {
        return "number";
    } else if (type == G_TYPE_BOOLEAN) {
        return "boolean";
    }
    return "string";
}

static bool node_is_value(JsonNode *node, GType type)
{
    return JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == type;
}

/* Type check of one argument; QEMU's visitor messages. */
static bool qmp_check_arg(const QmpArgSpec *spec, JsonNode *node, GError **errp)
{
    const char *expected;

    switch (spec->kind) {
    case QMP_ARG_STR:
        expected = "string";
        if (node_is_value(node, G_TYPE_STRING)) {
            return true;
        }
        break;
    case QMP_ARG_INT:
        expected = "integer";
        if (node_is_value(node, G_TYPE_INT64)) {
            return true;
        }
        break;
    case QMP_ARG_UINT:
        if (node_is_value(node, G_TYPE_INT64) && json_node_get_int(node) >= 0) {
            return true;
        }
        error_setg(errp, "Parameter '%s' expects uint64", spec->name);
        return false;
    case QMP_ARG_NUMBER:
        expected = "number";
        if (node_is_value(node, G_TYPE_INT64) ||
            node_is_value(node, G_TYPE_DOUBLE)) {
            return true;
        }
        break;
    case QMP_ARG_BOOL:
        expected = "boolean";
        if (node_is_value(node, G_TYPE_BOOLEAN)) {
            return true;
        }
        break;
    case QMP_ARG_OBJECT:
        expected = "object";
        if (JSON_NODE_HOLDS_OBJECT(node)) {
            return true;
        }
        break;
    case QMP_ARG_ARRAY:
        expected = "array";
        if (JSON_NODE_HOLDS_ARRAY(node)) {
            return true;
        }
        break;
    case QMP_ARG_ANY:
    default:
        return true;
    }
    error_setg(errp, "Invalid parameter type for '%s', expected: %s",
               spec->name, expected);
    return false;
}

static const QmpArgSpec *find_spec(const QmpCommandDef *def, const char *name)
{
    for (const QmpArgSpec *spec = def->args; spec && spec->name; spec++) {
        if (!strcmp(spec->name, name)) {
            return spec;
        }
    }
    return NULL;
}

bool qmp_check_args(const QmpCommandDef *def, JsonObject *args, GError **errp)
{
    /* Declared members first (missing, then type), as QEMU's visitor. */
    for (const QmpArgSpec *spec = def->args; spec && spec->name; spec++) {
        JsonNode *node = args ? json_object_get_member(args, spec->name) : NULL;

        if (!node) {
            if (!spec->optional) {
                error_setg(errp, "Parameter '%s' is missing", spec->name);
                return false;
            }
            continue;
        }
        if (!qmp_check_arg(spec, node, errp)) {
            return false;
        }
    }
    if (args && !def->args_unchecked) {
        GList *members = json_object_get_members(args);

        for (GList *l = members; l; l = l->next) {
            if (!find_spec(def, l->data)) {
                error_setg(errp, "Parameter '%s' is unexpected",
                           (const char *)l->data);
                g_list_free(members);
                return false;
            }
        }
        g_list_free(members);
    }
    return true;
}

/* The arguments as compact JSON, for the qmp_enter trace event. */
static char *qmp_args_text(JsonObject *args)
{
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

    if (!args) {
        return g_strdup("{}");
    }
    json_node_set_object(node, args);
    return g_string_free(qmp_json_format(node, false), false);
}

static bool qmp_run(const QmpCommandDef *def, JsonObject *args, JsonNode **ret,
                    GError **errp)
{
    JsonNode *result = NULL;

    if (!qmp_check_args(def, args, errp)) {
        return false;
    }
    if (!def->handler(args, &result, errp)) {
        g_assert(!result);
        return false;
    }
    *ret = result ? result : qmp_return_empty();
    return true;
}

bool qmp_dispatch(const char *name, JsonObject *args, JsonNode **ret,
                  GError **errp)
{
    const QmpCommandDef *def = qmp_find_command(name);
    GError *err = NULL;

    if (!def) {
        g_set_error(errp, BATON_ERROR, BATON_ERROR_COMMAND_NOT_FOUND,
                    "The command %s has not been found", name);
        return false;
    }
    if (trace_event_get_state(TRACE_QMP_ENTER)) {
        g_autofree char *text = qmp_args_text(args);

        trace_qmp_enter(name, text);
    }
    if (!qmp_run(def, args, ret, &err)) {
        trace_qmp_exit(name, false, baton_error_class_name(err));
        g_propagate_error(errp, err);
        return false;
    }
    trace_qmp_exit(name, true, "none");
    return true;
}

static JsonNode *qmp_arg(JsonObject *args, const char *name)
{
    if (!args) {
        return NULL;
    }
    return json_object_get_member(args, name);
}

const char *qmp_arg_str(JsonObject *args, const char *name)
{
    JsonNode *node = qmp_arg(args, name);

    return node && node_is_value(node, G_TYPE_STRING)
               ? json_node_get_string(node)
               : NULL;
}

bool qmp_arg_has(JsonObject *args, const char *name)
{
    return qmp_arg(args, name) != NULL;
}

gint64 qmp_arg_int(JsonObject *args, const char *name, gint64 def)
{
    JsonNode *node = qmp_arg(args, name);

    if (!node || !JSON_NODE_HOLDS_VALUE(node)) {
        return def;
    }
    if (node_is_value(node, G_TYPE_INT64)) {
        return json_node_get_int(node);
    }
    if (node_is_value(node, G_TYPE_DOUBLE)) {
        return (gint64)json_node_get_double(node);
    }
    return def;
}

bool qmp_arg_bool(JsonObject *args, const char *name, bool def)
{
    JsonNode *node = qmp_arg(args, name);

    return node && node_is_value(node, G_TYPE_BOOLEAN)
               ? json_node_get_boolean(node)
               : def;
}

JsonNode *qmp_return_empty(void)
{
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);

    json_node_take_object(node, json_object_new());
    return node;
}
