/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP input framing: the stream splitter that cuts client bytes into JSON
 * values (split reads, strings with brackets and escapes, whitespace,
 * garbage and resynchronisation, limits), and the JSON writer's QEMU
 * output format.
 */
#include "util/osdep.h"

#include "../../monitor/monitor-internal.h"

typedef struct Collected {
    GPtrArray *items; /* "V:<json>" or "E:<error>" */
} Collected;

static void collect(void *opaque, const char *json, size_t len,
                    const char *error)
{
    Collected *c = opaque;

    if (error) {
        g_ptr_array_add(c->items, g_strdup_printf("E:%s", error));
    } else {
        g_assert_cmpuint(strlen(json), ==, len);
        g_ptr_array_add(c->items, g_strdup_printf("V:%s", json));
    }
}

/* Feed INPUT in pieces of CHUNK bytes (0 = all at once). */
static GPtrArray *split(const char *input, size_t len, size_t chunk)
{
    Collected c = {g_ptr_array_new_with_free_func(g_free)};
    QmpSplitter js;

    qmp_splitter_init(&js, collect, &c);
    if (!chunk) {
        chunk = len ? len : 1;
    }
    for (size_t off = 0; off < len; off += chunk) {
        qmp_splitter_feed(&js, input + off, MIN(chunk, len - off));
    }
    qmp_splitter_destroy(&js);
    return c.items;
}

static void assert_items(GPtrArray *items, const char *const *expect)
{
    guint n = 0;

    while (expect[n]) {
        n++;
    }
    for (guint i = 0; i < MIN(n, items->len); i++) {
        g_assert_cmpstr(g_ptr_array_index(items, i), ==, expect[i]);
    }
    g_assert_cmpuint(items->len, ==, n);
}

static void check_all_chunkings(const char *input, const char *const *expect)
{
    size_t len = strlen(input);

    for (size_t chunk = 0; chunk <= 7; chunk++) {
        g_autoptr(GPtrArray) items = split(input, len, chunk);

        assert_items(items, expect);
    }
}

static void test_simple(void)
{
    static const char *const expect[] = {"V:{\"execute\": \"query-status\"}",
                                         NULL};

    check_all_chunkings("{\"execute\": \"query-status\"}", expect);
}

static void test_split_reads(void)
{
    static const char *const expect[] = {
        "V:{\"execute\":\"a\",\"arguments\":{\"x\":[1,{\"y\":2}]}}",
        "V:{\"execute\":\"b\"}", NULL};
    const char *input =
        "{\"execute\":\"a\",\"arguments\":{\"x\":[1,{\"y\":2}]}}"
        "{\"execute\":\"b\"}";
    g_autoptr(GPtrArray) partial = NULL;

    /* Byte-by-byte, and every other small chunk size. */
    check_all_chunkings(input, expect);

    /* An incomplete value yields nothing yet. */
    partial = split(input, 20, 0);
    g_assert_cmpuint(partial->len, ==, 0);
}

static void test_strings(void)
{
    static const char *const expect[] = {
        "V:{\"s\": \"}{][\", \"t\": \"a\\\"}b\\\\\"}", "V:{\"u\": \"\\\\\"}",
        NULL};

    check_all_chunkings("{\"s\": \"}{][\", \"t\": \"a\\\"}b\\\\\"}"
                        "{\"u\": \"\\\\\"}",
                        expect);
}

static void test_whitespace(void)
{
    static const char *const expect[] = {"V:{\"a\":\n1}", "V:[ 2 ]", NULL};

    check_all_chunkings("  \r\n\t{\"a\":\n1}\r\n\n   [ 2 ]  \n", expect);
}

static void test_single_quotes(void)
{
    g_autoptr(GPtrArray) items = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    const char *json;
    JsonObject *args;

    items = split("{'execute': 'x', 'arguments': {'s': 'it\\'s \"q\"'}}",
                  strlen("{'execute': 'x', 'arguments': {'s': 'it\\'s "
                         "\"q\"'}}"),
                  0);
    g_assert_cmpuint(items->len, ==, 1);
    json = (const char *)g_ptr_array_index(items, 0) + 2;
    g_assert_cmpstr(json, ==,
                    "{\"execute\": \"x\", \"arguments\": "
                    "{\"s\": \"it's \\\"q\\\"\"}}");
    g_assert_true(json_parser_load_from_data(parser, json, -1, NULL));
    args = json_object_get_object_member(
        json_node_get_object(json_parser_get_root(parser)), "arguments");
    g_assert_cmpstr(json_object_get_string_member(args, "s"), ==, "it's \"q\"");
}

static void test_top_level_scalars(void)
{
    static const char *const expect[] = {
        "V:123", "V:\"str\"", "V:garbage", "V:{\"ok\": 1}", "V:true", NULL};

    check_all_chunkings("123 \"str\"garbage\n{\"ok\": 1}true\n", expect);
}

static void test_stray_close(void)
{
    static const char *const expect[] = {"E:JSON parse error, stray '}'",
                                         "E:JSON parse error, stray ']'",
                                         "V:{}", NULL};

    check_all_chunkings("}\n]{}", expect);
}

static void test_lexical_error_resync(void)
{
    g_autoptr(GPtrArray) items = NULL;
    const char input[] = "{\"execute\": \"a\x01 b\"}\n{\"execute\": \"ok\"}";

    /*
     * The control byte aborts the value; the rest of its line is skipped
     * and the following value arrives intact.
     */
    items = split(input, sizeof(input) - 1, 0);
    g_assert_cmpuint(items->len, >=, 2);
    g_assert_cmpstr(g_ptr_array_index(items, 0), ==,
                    "E:JSON parse error, stray '\\x01'");
    g_assert_cmpstr(g_ptr_array_index(items, items->len - 1), ==,
                    "V:{\"execute\": \"ok\"}");
    for (guint i = 1; i + 1 < items->len; i++) {
        g_assert_true(((char *)g_ptr_array_index(items, i))[0] == 'E');
    }
}

static void test_reset_byte(void)
{
    static const char *const expect[] = {"E:JSON parse error, stray '\\xff'",
                                         "V:{\"b\": 2}", NULL};

    /* An unfinished value, then the 0xff "reset" qmp-spec.rst describes. */
    check_all_chunkings("{\"a\": [1, 2\xff{\"b\": 2}", expect);
}

static void test_big_integer(void)
{
    g_autoptr(GPtrArray) items = NULL;
    const char *input = "{\"a\": 99999999999999999999, \"b\": "
                        "-9223372036854775808, "
                        "\"c\": \"99999999999999999999\"}";

    items = split(input, strlen(input), 0);
    g_assert_cmpuint(items->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(items, 0), ==,
                    "V:{\"a\": 99999999999999999999.0, \"b\": "
                    "-9223372036854775808, \"c\": \"99999999999999999999\"}");
}

static void test_depth_limit(void)
{
    g_autoptr(GString) input = g_string_new(NULL);
    g_autoptr(GPtrArray) items = NULL;

    for (int i = 0; i <= QMP_SPLITTER_MAX_DEPTH; i++) {
        g_string_append_c(input, '[');
    }
    for (int i = 0; i <= QMP_SPLITTER_MAX_DEPTH; i++) {
        g_string_append_c(input, ']');
    }
    g_string_append(input, "{\"next\": 1}");
    items = split(input->str, input->len, 0);
    g_assert_cmpuint(items->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(items, 0), ==,
                    "E:JSON nesting depth limit exceeded");
    g_assert_cmpstr(g_ptr_array_index(items, 1), ==, "V:{\"next\": 1}");
}

static void test_size_limit(void)
{
    Collected c = {g_ptr_array_new_with_free_func(g_free)};
    const char *big = "{\"a\": \"0123456789012345678901234567890123456789\"}";
    QmpSplitter js;

    qmp_splitter_init(&js, collect, &c);
    js.max_size = 16;
    qmp_splitter_feed(&js, big, strlen(big));
    qmp_splitter_feed(&js, "{\"b\": 1}", 8);
    qmp_splitter_destroy(&js);
    g_assert_cmpuint(c.items->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(c.items, 0), ==,
                    "E:JSON token size limit exceeded");
    g_assert_cmpstr(g_ptr_array_index(c.items, 1), ==, "V:{\"b\": 1}");
    g_ptr_array_free(c.items, true);
}

static void test_reset(void)
{
    Collected c = {g_ptr_array_new_with_free_func(g_free)};
    QmpSplitter js;

    qmp_splitter_init(&js, collect, &c);
    qmp_splitter_feed(&js, "{\"half\": \"x", 11);
    qmp_splitter_reset(&js); /* client disconnected */
    qmp_splitter_feed(&js, "{\"new\": 1}", 10);
    qmp_splitter_destroy(&js);
    g_assert_cmpuint(c.items->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(c.items, 0), ==, "V:{\"new\": 1}");
    g_ptr_array_free(c.items, true);
}

static char *format_json(const char *json, bool pretty)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GString *out;

    g_assert_true(json_parser_load_from_data(parser, json, -1, NULL));
    out = qmp_json_format(json_parser_get_root(parser), pretty);
    return g_string_free(out, false);
}

static void test_writer(void)
{
    g_autofree char *compact = NULL;
    g_autofree char *pretty = NULL;
    g_autofree char *escapes = NULL;

    compact =
        format_json("{\"a\":{},\"b\":[1,true,null,\"s\"],\"c\":[]}", false);
    g_assert_cmpstr(compact, ==,
                    "{\"a\": {}, \"b\": [1, true, null, \"s\"], \"c\": []}");

    pretty = format_json("{\"return\":{},\"l\":[1,{\"x\":2}]}", true);
    g_assert_cmpstr(pretty, ==,
                    "{\n"
                    "    \"return\": {\n"
                    "    },\n"
                    "    \"l\": [\n"
                    "        1,\n"
                    "        {\n"
                    "            \"x\": 2\n"
                    "        }\n"
                    "    ]\n"
                    "}");

    /* Output is ASCII: control characters and non-ASCII become \u. */
    escapes = format_json("[\"q\\\"b\\\\n\\n\\u0001\xc3\xa9\xf0\x9f\x98\x80\"]",
                          false);
    g_assert_cmpstr(escapes, ==,
                    "[\"q\\\"b\\\\n\\n\\u0001\\u00E9\\uD83D\\uDE00\"]");
}

/* ---- parse errors as a QMP client sees them ---- */

static void session_output(void *opaque, const char *data, size_t len)
{
    g_string_append_len(opaque, data, len);
}

static void test_parse_error_replies(void)
{
    static const char *const cases[][2] = {
        {"{\"execute\": }", "expecting value"},
        {"[1, ]", "expecting value"},
        {"garbage\n", "invalid keyword 'garbage'"},
        {"{\"a\" 1}", "missing : in object pair"},
        {"[1 2]", "expected separator"},
        {"{1: 2}", "key is not a string in object"},
    };
    g_autoptr(GString) out = g_string_new(NULL);
    QmpSession s;

    qmp_session_init(&s, false, session_output, out);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *expect = g_strdup_printf(
            "{\"error\": {\"class\": \"GenericError\", \"desc\": "
            "\"JSON parse error, %s\"}}\r\n",
            cases[i][1]);

        g_string_truncate(out, 0);
        qmp_session_feed(&s, cases[i][0], strlen(cases[i][0]));
        g_assert_cmpstr(out->str, ==, expect);
    }

    /* After garbage, the next request is answered normally. */
    g_string_truncate(out, 0);
    qmp_session_feed(&s, "}{\"execute\": \"qmp_capabilities\"}",
                     strlen("}{\"execute\": \"qmp_capabilities\"}"));
    g_assert_cmpstr(out->str, ==,
                    "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                    "\"JSON parse error, stray '}'\"}}\r\n"
                    "{\"return\": {}}\r\n");
    qmp_session_destroy(&s);
}

static void test_crlf(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    monitor_crlf_append(out, "a\nb\n", 4);
    g_assert_cmpstr(out->str, ==, "a\r\nb\r\n");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp/framing/simple", test_simple);
    g_test_add_func("/qmp/framing/split-reads", test_split_reads);
    g_test_add_func("/qmp/framing/strings", test_strings);
    g_test_add_func("/qmp/framing/whitespace", test_whitespace);
    g_test_add_func("/qmp/framing/single-quotes", test_single_quotes);
    g_test_add_func("/qmp/framing/top-level-scalars", test_top_level_scalars);
    g_test_add_func("/qmp/framing/stray-close", test_stray_close);
    g_test_add_func("/qmp/framing/lexical-error-resync",
                    test_lexical_error_resync);
    g_test_add_func("/qmp/framing/reset-byte", test_reset_byte);
    g_test_add_func("/qmp/framing/big-integer", test_big_integer);
    g_test_add_func("/qmp/framing/depth-limit", test_depth_limit);
    g_test_add_func("/qmp/framing/size-limit", test_size_limit);
    g_test_add_func("/qmp/framing/reset", test_reset);
    g_test_add_func("/qmp/framing/writer", test_writer);
    g_test_add_func("/qmp/framing/parse-error-replies",
                    test_parse_error_replies);
    g_test_add_func("/qmp/framing/crlf", test_crlf);
    return g_test_run();
}
