/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP sessions driven without a chardev: greeting, the negotiation state
 * machine, request checks, argument validation with QEMU's wording, id
 * echo, error classes, events (negotiated clients only, ordered across
 * threads) and HMP through human-monitor-command.
 */
#include "util/osdep.h"

#include "../../monitor/monitor-internal.h"

typedef struct TestSession {
    QmpSession s;
    GString *out;
} TestSession;

static void test_output(void *opaque, const char *data, size_t len)
{
    TestSession *t = opaque;

    g_string_append_len(t->out, data, len);
}

static TestSession *session_new(bool pretty)
{
    TestSession *t = g_new0(TestSession, 1);

    t->out = g_string_new(NULL);
    qmp_session_init(&t->s, pretty, test_output, t);
    qmp_session_open(&t->s);
    return t;
}

static void session_free(TestSession *t)
{
    qmp_session_destroy(&t->s);
    g_string_free(t->out, true);
    g_free(t);
}

/* Output produced since the last call. */
static char *take(TestSession *t)
{
    char *s = g_strdup(t->out->str);

    g_string_truncate(t->out, 0);
    return s;
}

/* Send INPUT; return everything the server wrote in response. */
static char *xfer(TestSession *t, const char *input)
{
    g_string_truncate(t->out, 0);
    qmp_session_feed(&t->s, input, strlen(input));
    return take(t);
}

static void check(TestSession *t, const char *input, const char *expect)
{
    g_autofree char *got = xfer(t, input);

    g_assert_cmpstr(got, ==, expect);
}

static TestSession *negotiated_session(void)
{
    TestSession *t = session_new(false);

    g_string_truncate(t->out, 0);
    check(t, "{\"execute\": \"qmp_capabilities\"}", "{\"return\": {}}\r\n");
    return t;
}

/* ---- a test command exercising every argument kind ---- */

static bool x_test_args(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "s");
    json_builder_add_string_value(b, qmp_arg_str(args, "s"));
    json_builder_set_member_name(b, "i");
    json_builder_add_int_value(b, qmp_arg_int(args, "i", -1));
    json_builder_set_member_name(b, "b");
    json_builder_add_boolean_value(b, qmp_arg_bool(args, "b", true));
    json_builder_set_member_name(b, "has-u");
    json_builder_add_boolean_value(b, qmp_arg_has(args, "u"));
    json_builder_end_object(b);
    *ret = json_builder_get_root(b);
    return true;
}

static bool x_test_fail(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_set_error(errp, BATON_ERROR, BATON_ERROR_DEVICE_NOT_FOUND,
                "device '%s' not found", qmp_arg_str(args, "id"));
    return false;
}

static bool x_test_void(JsonObject *args, JsonNode **ret, GError **errp)
{
    return true;
}

static const QmpArgSpec x_test_args_spec[] = {{"s", QMP_ARG_STR, false},
                                              {"i", QMP_ARG_INT, false},
                                              {"u", QMP_ARG_UINT, true},
                                              {"n", QMP_ARG_NUMBER, true},
                                              {"b", QMP_ARG_BOOL, true},
                                              {"o", QMP_ARG_OBJECT, true},
                                              {"a", QMP_ARG_ARRAY, true},
                                              {"any", QMP_ARG_ANY, true},
                                              {NULL}};

static const QmpArgSpec x_test_fail_spec[] = {{"id", QMP_ARG_STR, false},
                                              {NULL}};

static const QmpCommandDef x_test_commands[] = {
    {"x-test-args", x_test_args, x_test_args_spec},
    {"x-test-fail", x_test_fail, x_test_fail_spec},
    {"x-test-void", x_test_void},
    {"x-test-oob", x_test_void, .allow_oob = true},
};

/* ---- tests ---- */

static void test_greeting(void)
{
    TestSession *t = session_new(false);
    g_autofree char *greeting = take(t);

    g_assert_cmpstr(greeting, ==,
                    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, "
                    "\"minor\": 2, \"major\": 9}, \"package\": \"baton\"}, "
                    "\"capabilities\": [\"oob\"]}}\r\n");
    session_free(t);
}

static void test_negotiation(void)
{
    TestSession *t = session_new(false);
    const char *expecting =
        "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
        "\"Expecting capabilities negotiation with 'qmp_capabilities'\"}}"
        "\r\n";

    check(t, "{\"execute\": \"query-version\"}", expecting);
    check(t, "{\"execute\": \"no-such-command\"}", expecting);
    /* Request checks come before the negotiation check, as in QEMU. */
    check(t, "{\"arguments\": {}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input lacks member 'execute'\"}}\r\n");
    check(t,
          "{\"execute\": \"qmp_capabilities\", \"arguments\": "
          "{\"bogus\": 1}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'bogus' is unexpected\"}}\r\n");
    g_assert_false(t->s.negotiated);

    check(t, "{\"execute\": \"qmp_capabilities\"}", "{\"return\": {}}\r\n");
    check(t, "{\"execute\": \"qmp_capabilities\", \"id\": 7}",
          "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
          "\"Capabilities negotiation is already complete, command "
          "ignored\"}, \"id\": 7}\r\n");
    check(t, "{\"execute\": \"query-version\"}",
          "{\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
          "\"major\": 9}, \"package\": \"baton\"}}\r\n");

    /* A new client starts over. */
    qmp_session_close(&t->s);
    qmp_session_open(&t->s);
    g_string_truncate(t->out, 0);
    check(t, "{\"execute\": \"query-version\"}", expecting);
    session_free(t);
}

static void test_capabilities_enable(void)
{
    TestSession *t = session_new(false);

    check(t,
          "{\"execute\": \"qmp_capabilities\", \"arguments\": "
          "{\"enable\": \"oob\"}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Invalid parameter type for 'enable', expected: array\"}}\r\n");
    check(t,
          "{\"execute\": \"qmp_capabilities\", \"arguments\": "
          "{\"enable\": [\"oob\", \"foo\"]}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'enable[1]' does not accept value 'foo'\"}}\r\n");
    /* Without oob, exec-oob is just an unknown member. */
    check(t, "{\"exec-oob\": \"x-test-oob\"}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'exec-oob' is unexpected\"}}\r\n");
    check(t,
          "{\"execute\": \"qmp_capabilities\", \"arguments\": "
          "{\"enable\": [\"oob\"]}}",
          "{\"return\": {}}\r\n");
    g_assert_true(t->s.oob_enabled);
    check(t, "{\"exec-oob\": \"x-test-oob\", \"id\": 1}",
          "{\"return\": {}, \"id\": 1}\r\n");
    check(t, "{\"exec-oob\": \"x-test-void\"}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"The command x-test-void does not support OOB\"}}\r\n");
    check(t, "{\"exec-oob\": \"x-test-oob\", \"execute\": \"x-test-oob\"}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'execute' clashes with 'exec-oob'\"}}\r\n");
    session_free(t);
}

static void test_request_checks(void)
{
    TestSession *t = negotiated_session();
    static const char *const cases[][2] = {
        {"[1, 2]", "QMP input must be a JSON object"},
        {"\"query-status\"", "QMP input must be a JSON object"},
        {"{}", "QMP input lacks member 'execute'"},
        {"{\"execute\": 1}", "QMP input member 'execute' must be a string"},
        {"{\"execute\": \"x-test-void\", \"foo\": 1}",
         "QMP input member 'foo' is unexpected"},
        {"{\"execute\": \"x-test-void\", \"arguments\": []}",
         "QMP input member 'arguments' must be an object"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *expect = g_strdup_printf(
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}}\r\n",
            cases[i][1]);

        check(t, cases[i][0], expect);
    }
    check(t, "{\"execute\": \"no-such\"}",
          "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
          "\"The command no-such has not been found\"}}\r\n");
    session_free(t);
}

static void test_parse_errors(void)
{
    TestSession *t = negotiated_session();
    g_autofree char *out = NULL;

    out = xfer(t, "{\"execute\": }\n");
    g_assert_true(g_str_has_prefix(out, "{\"error\": {\"class\": "
                                        "\"GenericError\", \"desc\": "
                                        "\"JSON parse error, "));
    g_assert_true(g_str_has_suffix(out, "\"}}\r\n"));
    g_free(out);

    /* Garbage, then a valid request on the same connection. */
    out = xfer(t, "garbage\n{\"execute\": \"x-test-void\", \"id\": \"a\"}");
    g_assert_true(g_str_has_prefix(out, "{\"error\": {\"class\": "
                                        "\"GenericError\", \"desc\": "
                                        "\"JSON parse error, "));
    g_assert_true(
        g_str_has_suffix(out, "\r\n{\"return\": {}, \"id\": \"a\"}\r\n"));
    g_free(out);

    /* A lexical error aborts the half-sent request; no id is known. */
    out = xfer(t, "{\"execute\": \"x-test-void\", \"id\": 1\xff\n"
                  "{\"execute\": \"x-test-void\", \"id\": 2}");
    g_assert_cmpstr(out, ==,
                    "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                    "\"JSON parse error, stray '\\\\xff'\"}}\r\n"
                    "{\"return\": {}, \"id\": 2}\r\n");
    session_free(t);
}

static void test_arguments(void)
{
    TestSession *t = negotiated_session();
    static const char *const cases[][2] = {
        {"{}", "Parameter 's' is missing"},
        {"{\"s\": \"x\"}", "Parameter 'i' is missing"},
        {"{\"s\": 1, \"i\": 1}",
         "Invalid parameter type for 's', expected: string"},
        {"{\"s\": \"x\", \"i\": \"1\"}",
         "Invalid parameter type for 'i', expected: integer"},
        {"{\"s\": \"x\", \"i\": 1.5}",
         "Invalid parameter type for 'i', expected: integer"},
        {"{\"s\": \"x\", \"i\": 1, \"u\": -1}", "Parameter 'u' expects uint64"},
        {"{\"s\": \"x\", \"i\": 1, \"n\": true}",
         "Invalid parameter type for 'n', expected: number"},
        {"{\"s\": \"x\", \"i\": 1, \"b\": 0}",
         "Invalid parameter type for 'b', expected: boolean"},
        {"{\"s\": \"x\", \"i\": 1, \"o\": []}",
         "Invalid parameter type for 'o', expected: object"},
        {"{\"s\": \"x\", \"i\": 1, \"a\": {}}",
         "Invalid parameter type for 'a', expected: array"},
        {"{\"s\": null, \"i\": 1}",
         "Invalid parameter type for 's', expected: string"},
        {"{\"s\": \"x\", \"i\": 1, \"zz\": 1}", "Parameter 'zz' is unexpected"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *req = g_strdup_printf(
            "{\"execute\": \"x-test-args\", \"arguments\": %s}", cases[i][0]);
        g_autofree char *expect = g_strdup_printf(
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}}\r\n",
            cases[i][1]);

        check(t, req, expect);
    }

    check(t,
          "{\"execute\": \"x-test-args\", \"arguments\": {\"s\": \"hi\", "
          "\"i\": -5, \"u\": 3, \"n\": 2.5, \"b\": false, \"o\": {}, "
          "\"a\": [], \"any\": null}}",
          "{\"return\": {\"s\": \"hi\", \"i\": -5, \"b\": false, "
          "\"has-u\": true}}\r\n");
    check(t,
          "{\"execute\": \"x-test-args\", \"arguments\": {\"s\": \"\", "
          "\"i\": 0, \"n\": 3}}",
          "{\"return\": {\"s\": \"\", \"i\": 0, \"b\": true, "
          "\"has-u\": false}}\r\n");
    /* Commands without arguments reject any. */
    check(t, "{\"execute\": \"x-test-void\", \"arguments\": {\"x\": 1}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'x' is unexpected\"}}\r\n");
    check(t, "{\"execute\": \"x-test-void\", \"arguments\": {}}",
          "{\"return\": {}}\r\n");
    session_free(t);
}

static void test_id_and_classes(void)
{
    TestSession *t = negotiated_session();

    check(t, "{\"execute\": \"x-test-void\", \"id\": \"abc\"}",
          "{\"return\": {}, \"id\": \"abc\"}\r\n");
    check(t, "{\"id\": {\"n\": [1, 2]}, \"execute\": \"x-test-void\"}",
          "{\"return\": {}, \"id\": {\"n\": [1, 2]}}\r\n");
    /* Errors echo the id too, even for a bad request object. */
    check(t,
          "{\"execute\": \"x-test-fail\", \"arguments\": {\"id\": \"d0\"}, "
          "\"id\": 42}",
          "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": "
          "\"device 'd0' not found\"}, \"id\": 42}\r\n");
    check(t, "{\"execute\": \"nope\", \"id\": null}",
          "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
          "\"The command nope has not been found\"}, \"id\": null}\r\n");
    check(t, "{\"id\": 3, \"bogus\": 1}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"QMP input member 'bogus' is unexpected\"}, \"id\": 3}\r\n");
    /* Single-quoted input (QEMU's extension) works and replies use ". */
    check(t, "{'execute': 'x-test-void', 'id': 'it\\'s'}",
          "{\"return\": {}, \"id\": \"it's\"}\r\n");
    session_free(t);
}

static void test_pretty(void)
{
    TestSession *t = session_new(true);

    g_string_truncate(t->out, 0);
    check(t, "{\"execute\": \"qmp_capabilities\", \"id\": 1}",
          "{\r\n    \"return\": {\r\n    },\r\n    \"id\": 1\r\n}\r\n");
    session_free(t);
}

static void test_dispatch_direct(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) ret = NULL;
    g_autoptr(GPtrArray) names = qmp_command_names();
    bool found = false;

    g_assert_true(qmp_dispatch("x-test-void", NULL, &ret, &err));
    g_assert_true(JSON_NODE_HOLDS_OBJECT(ret));
    g_assert_cmpuint(json_object_get_size(json_node_get_object(ret)), ==, 0);

    g_assert_false(qmp_dispatch("nope", NULL, &ret, &err));
    g_assert_error(err, BATON_ERROR, BATON_ERROR_COMMAND_NOT_FOUND);

    for (guint i = 0; i < names->len; i++) {
        found |= !strcmp(g_ptr_array_index(names, i), "query-commands");
        if (i > 0) {
            g_assert_cmpint(strcmp(g_ptr_array_index(names, i - 1),
                                   g_ptr_array_index(names, i)),
                            <, 0);
        }
    }
    g_assert_true(found);
    g_assert_nonnull(qmp_find_command("qmp_capabilities"));
}

static void test_query_commands(void)
{
    TestSession *t = negotiated_session();
    g_autofree char *out = xfer(t, "{\"execute\": \"query-commands\"}");

    g_assert_nonnull(strstr(out, "{\"name\": \"qmp_capabilities\"}"));
    g_assert_nonnull(strstr(out, "{\"name\": \"query-status\"}"));
    g_assert_nonnull(strstr(out, "{\"name\": \"human-monitor-command\"}"));
    g_assert_nonnull(strstr(out, "{\"name\": \"x-test-args\"}"));
    session_free(t);
}

/* ---- events ---- */

static void test_events_negotiated_only(void)
{
    TestSession *fresh = session_new(false);
    TestSession *ready = negotiated_session();
    g_autofree char *got = NULL;
    g_autofree char *none = NULL;
    JsonObject *data = json_object_new();
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);

    g_string_truncate(fresh->out, 0);
    json_object_set_string_member(data, "reason", "host-qmp-quit");
    json_node_take_object(node, data);
    qmp_event_send("SHUTDOWN", node);
    qmp_event_send("STOP", NULL);

    none = take(fresh);
    g_assert_cmpstr(none, ==, "");
    got = take(ready);
    g_assert_true(g_regex_match_simple(
        "^\\{\"timestamp\": \\{\"seconds\": [0-9]+, \"microseconds\": "
        "[0-9]+\\}, \"event\": \"SHUTDOWN\", \"data\": \\{\"reason\": "
        "\"host-qmp-quit\"\\}\\}\r\n"
        "\\{\"timestamp\": \\{\"seconds\": [0-9]+, \"microseconds\": "
        "[0-9]+\\}, \"event\": \"STOP\"\\}\r\n$",
        got, 0, 0));

    /* A closed client gets nothing. */
    qmp_session_close(&ready->s);
    qmp_event_send("RESUME", NULL);
    g_free(got);
    got = take(ready);
    g_assert_cmpstr(got, ==, "");

    session_free(fresh);
    session_free(ready);
}

static gpointer event_thread(gpointer opaque)
{
    qmp_event_send("FROM_THREAD", NULL);
    return NULL;
}

static void test_events_from_thread(void)
{
    TestSession *t = negotiated_session();
    g_autofree char *out = NULL;
    GThread *th;
    char *a, *b;

    th = g_thread_new("event", event_thread, NULL);
    g_thread_join(th);
    /* Queued for the main loop, not written from the other thread. */
    g_assert_cmpuint(t->out->len, ==, 0);

    /* A main-thread event goes out at once, after the queued one. */
    qmp_event_send("FROM_MAIN", NULL);
    out = take(t);
    a = strstr(out, "FROM_THREAD");
    b = strstr(out, "FROM_MAIN");
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_true(a < b);

    /* The idle flush finds nothing left to send. */
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpuint(t->out->len, ==, 0);

    /* Without main-thread traffic, the main loop flushes the queue. */
    th = g_thread_new("event", event_thread, NULL);
    g_thread_join(th);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_free(out);
    out = take(t);
    g_assert_nonnull(strstr(out, "\"event\": \"FROM_THREAD\"}\r\n"));
    session_free(t);
}

static void test_event_timestamp(void)
{
    g_autoptr(JsonNode) ev = qmp_event_build("X", NULL, 1234567890123456);
    g_autoptr(JsonNode) unknown = qmp_event_build("X", NULL, -1);
    g_autoptr(GString) s1 = qmp_json_format(ev, false);
    g_autoptr(GString) s2 = qmp_json_format(unknown, false);

    g_assert_cmpstr(s1->str, ==,
                    "{\"timestamp\": {\"seconds\": 1234567890, "
                    "\"microseconds\": 123456}, \"event\": \"X\"}");
    g_assert_cmpstr(s2->str, ==,
                    "{\"timestamp\": {\"seconds\": -1, "
                    "\"microseconds\": -1}, \"event\": \"X\"}");
}

/* ---- HMP through QMP ---- */

static void test_human_monitor_command(void)
{
    TestSession *t = negotiated_session();

    check(t,
          "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"info version\"}}",
          "{\"return\": \"9.2.0 (baton)\\r\\n\"}\r\n");
    check(t,
          "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"frob 1 2\"}}",
          "{\"return\": \"unknown command: 'frob'\\r\\n\"}\r\n");
    check(t,
          "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"\"}}",
          "{\"return\": \"\"}\r\n");
    check(t,
          "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"help cont\"}}",
          "{\"return\": \"cont|c  -- resume emulation\\r\\n\"}\r\n");
    check(t,
          "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"info frob\"}}",
          "{\"return\": \"unknown command: 'info frob'\\r\\n\"}\r\n");
    check(t,
          "{\"execute\": \"human-monitor-command\", \"arguments\": "
          "{\"command-line\": \"info version\", \"cpu-index\": 4096}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": "
          "\"Parameter 'cpu-index' expects a CPU number\"}}\r\n");
    session_free(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qmp_register_commands(x_test_commands, G_N_ELEMENTS(x_test_commands));

    g_test_add_func("/qmp/dispatch/greeting", test_greeting);
    g_test_add_func("/qmp/dispatch/negotiation", test_negotiation);
    g_test_add_func("/qmp/dispatch/capabilities-enable",
                    test_capabilities_enable);
    g_test_add_func("/qmp/dispatch/request-checks", test_request_checks);
    g_test_add_func("/qmp/dispatch/parse-errors", test_parse_errors);
    g_test_add_func("/qmp/dispatch/arguments", test_arguments);
    g_test_add_func("/qmp/dispatch/id-and-classes", test_id_and_classes);
    g_test_add_func("/qmp/dispatch/pretty", test_pretty);
    g_test_add_func("/qmp/dispatch/direct", test_dispatch_direct);
    g_test_add_func("/qmp/dispatch/query-commands", test_query_commands);
    g_test_add_func("/qmp/dispatch/events-negotiated-only",
                    test_events_negotiated_only);
    g_test_add_func("/qmp/dispatch/events-from-thread",
                    test_events_from_thread);
    g_test_add_func("/qmp/dispatch/event-timestamp", test_event_timestamp);
    g_test_add_func("/qmp/dispatch/human-monitor-command",
                    test_human_monitor_command);
    return g_test_run();
}
