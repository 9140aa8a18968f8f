/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QMP protocol for one client, independent of any chardev: greeting,
 * capabilities negotiation, request checks ("execute", "arguments", "id"),
 * replies and event delivery. monitor.c connects a session to a chardev;
 * unit tests drive one directly. Commands run synchronously, so replies
 * come in request order and "exec-oob" only changes which commands run.
 */
#include "util/osdep.h"

#include "monitor-internal.h"
#include "trace.h"

/* Every live session, for events; protected by the big lock. */
static GList *qmp_sessions;

static void qmp_session_split(void *opaque, const char *json, size_t len,
                              const char *error);

void qmp_session_init(QmpSession *s, bool pretty, QmpOutputFunc output,
                      void *opaque)
{
    memset(s, 0, sizeof(*s));
    s->pretty = pretty;
    s->output = output;
    s->opaque = opaque;
    qmp_splitter_init(&s->splitter, qmp_session_split, s);
    qmp_sessions = g_list_append(qmp_sessions, s);
}

void qmp_session_destroy(QmpSession *s)
{
    qmp_sessions = g_list_remove(qmp_sessions, s);
    qmp_splitter_destroy(&s->splitter);
}

void qmp_session_send(QmpSession *s, JsonNode *msg)
{
    g_autoptr(GString) json = qmp_json_format(msg, s->pretty);
    g_autoptr(GString) out = g_string_sized_new(json->len + 4);

    g_string_append_c(json, '\n');
    monitor_crlf_append(out, json->str, json->len);
    s->output(s->opaque, out->str, out->len);
}

JsonNode *qmp_greeting_new(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(GError) err = NULL;
    JsonNode *version = NULL;

    /* The version object is query-version's reply, as in QEMU. */
    if (!qmp_dispatch("query-version", NULL, &version, &err)) {
        version = qmp_return_empty();
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "QMP");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "version");
    json_builder_add_value(b, version);
    json_builder_set_member_name(b, "capabilities");
    json_builder_begin_array(b);
    json_builder_add_string_value(b, "oob");
    json_builder_end_array(b);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

void qmp_session_open(QmpSession *s)
{
    g_autoptr(JsonNode) greeting = qmp_greeting_new();

    qmp_splitter_reset(&s->splitter);
    s->negotiated = false;
    s->oob_enabled = false;
    s->open = true;
    qmp_session_send(s, greeting);
}

void qmp_session_close(QmpSession *s)
{
    qmp_splitter_reset(&s->splitter);
    s->negotiated = false;
    s->oob_enabled = false;
    s->open = false;
}

void qmp_session_feed(QmpSession *s, const char *data, size_t len)
{
    qmp_splitter_feed(&s->splitter, data, len);
}

static void qmp_send_reply(QmpSession *s, JsonNode *ret, GError *err,
                           JsonNode *id)
{
    g_autoptr(JsonObject) rsp = json_object_new();
    g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);

    if (err) {
        JsonObject *e = json_object_new();

        json_object_set_string_member(e, "class", baton_error_class_name(err));
        json_object_set_string_member(e, "desc", err->message);
        json_object_set_object_member(rsp, "error", e);
    } else {
        json_object_set_member(rsp, "return", ret);
    }
    if (id) {
        json_object_set_member(rsp, "id", json_node_copy(id));
    }
    json_node_set_object(node, rsp);
    qmp_session_send(s, node);
}

/* qmp_capabilities before negotiation: the only command allowed then. */
static bool qmp_negotiate(QmpSession *s, JsonObject *args, GError **errp)
{
    const QmpCommandDef *def = qmp_find_command("qmp_capabilities");
    JsonArray *enable;
    bool oob = false;

    if (def && !qmp_check_args(def, args, errp)) {
        return false;
    }
    enable = args && json_object_has_member(args, "enable")
                 ? json_object_get_array_member(args, "enable")
                 : NULL;
    for (guint i = 0; enable && i < json_array_get_length(enable); i++) {
        JsonNode *cap = json_array_get_element(enable, i);

        if (!JSON_NODE_HOLDS_VALUE(cap) ||
            json_node_get_value_type(cap) != G_TYPE_STRING) {
            error_setg(errp,
                       "Invalid parameter type for 'enable[%u]', "
                       "expected: string",
                       i);
            return false;
        }
        if (strcmp(json_node_get_string(cap), "oob")) {
            error_setg(errp,
                       "Parameter 'enable[%u]' does not accept value "
                       "'%s'",
                       i, json_node_get_string(cap));
            return false;
        }
        oob = true;
    }
    s->oob_enabled = oob;
    s->negotiated = true;
    return true;
}

/*
 * QEMU's request checks: an object whose members are "execute" (or
 * "exec-oob" once oob is enabled), "arguments" and "id" only. Returns the
 * command name, sets *OOB for exec-oob.
 */
static const char *qmp_check_request(QmpSession *s, JsonNode *req, bool *oob,
                                     GError **errp)
{
    g_autoptr(GList) members = NULL;
    const char *exec_key = NULL;
    JsonObject *obj;

    if (!JSON_NODE_HOLDS_OBJECT(req)) {
        error_setg(errp, "QMP input must be a JSON object");
        return NULL;
    }
    obj = json_node_get_object(req);
    members = json_object_get_members(obj);
    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;
        JsonNode *val = json_object_get_member(obj, key);

        if (!strcmp(key, "execute") ||
            (!strcmp(key, "exec-oob") && s->oob_enabled)) {
            if (!JSON_NODE_HOLDS_VALUE(val) ||
                json_node_get_value_type(val) != G_TYPE_STRING) {
                error_setg(errp, "QMP input member '%s' must be a string", key);
                return NULL;
            }
            if (exec_key) {
                error_setg(errp, "QMP input member '%s' clashes with '%s'", key,
                           exec_key);
                return NULL;
            }
            exec_key = key;
        } else if (!strcmp(key, "arguments")) {
            if (!JSON_NODE_HOLDS_OBJECT(val)) {
                error_setg(errp,
                           "QMP input member 'arguments' must be an object");
                return NULL;
            }
        } else if (strcmp(key, "id")) {
            error_setg(errp, "QMP input member '%s' is unexpected", key);
            return NULL;
        }
    }
    if (!exec_key) {
        error_setg(errp, "QMP input lacks member 'execute'");
        return NULL;
    }
    *oob = !strcmp(exec_key, "exec-oob");
    return json_object_get_string_member(obj, exec_key);
}

/* The monitor_qmp_cmd_* events: the request's "id" as JSON, or "". */
static void qmp_trace_request(JsonNode *req, bool oob)
{
    JsonNode *id = json_object_get_member(json_node_get_object(req), "id");
    g_autoptr(GString) text = id ? qmp_json_format(id, false) : NULL;

    if (oob) {
        trace_monitor_qmp_cmd_out_of_band(text ? text->str : "");
    } else {
        trace_monitor_qmp_cmd_in_band(text ? text->str : "");
    }
}

static bool qmp_session_run(QmpSession *s, JsonNode *req, JsonNode **ret,
                            GError **errp)
{
    const QmpCommandDef *def;
    JsonObject *args = NULL;
    const char *name;
    bool oob = false;

    name = qmp_check_request(s, req, &oob, errp);
    if (!name) {
        return false;
    }
    if (trace_event_get_state(TRACE_MONITOR_QMP_CMD_IN_BAND) ||
        trace_event_get_state(TRACE_MONITOR_QMP_CMD_OUT_OF_BAND)) {
        qmp_trace_request(req, oob);
    }
    if (json_object_has_member(json_node_get_object(req), "arguments")) {
        args = json_object_get_object_member(json_node_get_object(req),
                                             "arguments");
    }
    if (!s->negotiated) {
        if (strcmp(name, "qmp_capabilities")) {
            g_set_error(errp, BATON_ERROR, BATON_ERROR_COMMAND_NOT_FOUND,
                        "Expecting capabilities negotiation with "
                        "'qmp_capabilities'");
            return false;
        }
        if (!qmp_negotiate(s, args, errp)) {
            return false;
        }
        *ret = qmp_return_empty();
        return true;
    }
    def = qmp_find_command(name);
    if (oob && def && !def->allow_oob) {
        error_setg(errp, "The command %s does not support OOB", name);
        return false;
    }
    return qmp_dispatch(name, args, ret, errp);
}

static void qmp_session_handle(QmpSession *s, JsonNode *req)
{
    g_autoptr(GError) err = NULL;
    JsonNode *ret = NULL;
    JsonNode *id = NULL;

    if (JSON_NODE_HOLDS_OBJECT(req)) {
        id = json_object_get_member(json_node_get_object(req), "id");
    }
    if (!qmp_session_run(s, req, &ret, &err)) {
        qmp_send_reply(s, NULL, err, id);
    } else {
        /* The reply takes RET; "quit" relies on it being written now. */
        qmp_send_reply(s, ret, NULL, id);
    }
}

/*
 * QEMU's wording for the common parse errors; otherwise json-glib's own
 * text without its "<data>:1:13: Parse error: " location prefix and its
 * often misleading ", expected ..." tail.
 */
static char *qmp_parse_error_desc(const GError *err)
{
    const char *msg = strstr(err->message, "Parse error: ");
    const char *word, *end;

    msg = msg ? msg + strlen("Parse error: ") : err->message;
    if (err->domain == JSON_PARSER_ERROR) {
        switch (err->code) {
        case JSON_PARSER_ERROR_PARSE:
        case JSON_PARSER_ERROR_TRAILING_COMMA:
            if (g_str_has_prefix(msg, "unexpected character")) {
                return g_strdup("expecting value");
            }
            break;
        case JSON_PARSER_ERROR_MISSING_COMMA:
            return g_strdup("expected separator");
        case JSON_PARSER_ERROR_MISSING_COLON:
            return g_strdup("missing : in object pair");
        case JSON_PARSER_ERROR_INVALID_BAREWORD:
            if (strstr(msg, "expected string constant")) {
                return g_strdup("key is not a string in object");
            }
            word = strchr(msg, '`');
            end = word ? strchr(word, '\'') : NULL;
            if (g_str_has_prefix(msg, "unexpected identifier") && end) {
                return g_strdup_printf("invalid keyword '%.*s'",
                                       (int)(end - word - 1), word + 1);
            }
            break;
        default:
            break;
        }
    }
    end = strstr(msg, ", expected");
    return end ? g_strndup(msg, end - msg) : g_strdup(msg);
}

static void qmp_session_split(void *opaque, const char *json, size_t len,
                              const char *error)
{
    QmpSession *s = opaque;
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GError) err = NULL;

    if (error) {
        err = g_error_new_literal(BATON_ERROR, BATON_ERROR_GENERIC, error);
        qmp_send_reply(s, NULL, err, NULL);
        return;
    }
    parser = json_parser_new();
    if (!json_parser_load_from_data(parser, json, len, &err)) {
        g_autofree char *desc = qmp_parse_error_desc(err);
        g_autoptr(GError) perr = NULL;

        perr = g_error_new(BATON_ERROR, BATON_ERROR_GENERIC,
                           "JSON parse error, %s", desc);
        qmp_send_reply(s, NULL, perr, NULL);
        return;
    }
    qmp_session_handle(s, json_parser_get_root(parser));
}

void qmp_sessions_broadcast(JsonNode *event)
{
    /* Copy: a write may close a session (and a close may destroy it). */
    g_autoptr(GList) list = g_list_copy(qmp_sessions);

    for (GList *l = list; l; l = l->next) {
        QmpSession *s = l->data;

        if (g_list_find(qmp_sessions, s) && s->open && s->negotiated) {
            qmp_session_send(s, event);
        }
    }
}
