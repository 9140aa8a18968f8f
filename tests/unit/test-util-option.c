/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for util/option.c (key=value and JSON option strings, the
 * OptList accessors, typed getters, opts_check_known) and, because they
 * share the library's util/ corner, util/error.c and util/error-report.c.
 */
#include "util/osdep.h"

#include <glib/gstdio.h>

#include "util/error-report.h"
#include "util/option.h"

/* Assert that OPTS holds exactly the pairs in EXPECTED (key, value, ...). */
static void check_pairs(const OptList *opts, const char *const *expected)
{
    unsigned int n = g_strv_length((char **)expected) / 2;

    g_assert_cmpuint(opts_count(opts), ==, n);
    for (unsigned int i = 0; i < n; i++) {
        g_assert_cmpstr(opts_key(opts, i), ==, expected[2 * i]);
        g_assert_cmpstr(opts_value(opts, i), ==, expected[2 * i + 1]);
    }
}

static void check_parse(const char *str, const char *implied,
                        const char *const *expected)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) opts = opts_parse(str, implied, &err);

    g_assert_no_error(err);
    g_assert_nonnull(opts);
    check_pairs(opts, expected);
}

/* Parsing STR must fail with a GenericError whose message is MSG. */
static void check_parse_error(const char *str, const char *implied,
                              const char *msg)
{
    g_autoptr(GError) err = NULL;
    OptList *opts = opts_parse(str, implied, &err);

    g_assert_null(opts);
    g_assert_error(err, BATON_ERROR, BATON_ERROR_GENERIC);
    if (msg) {
        g_assert_cmpstr(err->message, ==, msg);
    }
}

static void test_implied_key(void)
{
    check_parse("socket,id=c0,path=/tmp/s", "backend",
                (const char *const[]){ "backend", "socket", "id", "c0",
                                       "path", "/tmp/s", NULL });
    /* only the first element can be implied, and only without '=' */
    check_parse("id=c0,socket", "backend",
                (const char *const[]){ "id", "c0", "socket", "on", NULL });
    check_parse("socket", "backend",
                (const char *const[]){ "backend", "socket", NULL });
    /* without an implied key the first bare word is a flag */
    check_parse("socket,id=c0", NULL,
                (const char *const[]){ "socket", "on", "id", "c0", NULL });
}

static void test_comma_escape(void)
{
    check_parse("file,path=/tmp/a,,b,id=f", "backend",
                (const char *const[]){ "backend", "file", "path", "/tmp/a,b",
                                       "id", "f", NULL });
    /* the implied value honours ",," too */
    check_parse("/img/a,,b.raw,format=raw", "file",
                (const char *const[]){ "file", "/img/a,b.raw", "format",
                                       "raw", NULL });
    check_parse("x=a,,,,b", NULL,
                (const char *const[]){ "x", "a,,b", NULL });
    /* ",,," is an escaped comma followed by a separator */
    check_parse("x=a,,,y=z", NULL,
                (const char *const[]){ "x", "a,", "y", "z", NULL });
    check_parse("x=,,", NULL, (const char *const[]){ "x", ",", NULL });
    check_parse("a=1,,,", NULL, (const char *const[]){ "a", "1,", NULL });
}

static void test_flags(void)
{
    check_parse("virtio-net-pci,disable-legacy,id=n0", "driver",
                (const char *const[]){ "driver", "virtio-net-pci",
                                       "disable-legacy", "on", "id", "n0",
                                       NULL });
    /* QEMU's deprecated "noX" = "X=off" is not special */
    check_parse("nowait,server", NULL,
                (const char *const[]){ "nowait", "on", "server", "on",
                                       NULL });
}

static void test_values(void)
{
    /* everything after the first '=' is the value */
    check_parse("a=b=c,d==", NULL,
                (const char *const[]){ "a", "b=c", "d", "=", NULL });
    check_parse("a=,b", NULL,
                (const char *const[]){ "a", "", "b", "on", NULL });
    /* keys keep dots and dashes as written */
    check_parse("addr.transport=socket,x-mig.max-bw=10", NULL,
                (const char *const[]){ "addr.transport", "socket",
                                       "x-mig.max-bw", "10", NULL });
    /* a trailing comma is tolerated, as QEMU does */
    check_parse("a=1,", NULL, (const char *const[]){ "a", "1", NULL });
    check_parse("", "backend", (const char *const[]){ NULL });
    /* leading blanks before a non-JSON string stay part of the key */
    check_parse(" a=1", NULL, (const char *const[]){ " a", "1", NULL });
}

static void test_empty_element(void)
{
    check_parse_error(",a=1", NULL,
                      "option string ',a=1' has an empty element");
    check_parse_error(",a=1", "backend", NULL);
    check_parse_error("a=1,,,=2", NULL, NULL);
    check_parse_error("a=1,=2", NULL,
                      "option string 'a=1,=2' has an empty element");
    check_parse_error("=x", "backend", NULL);
    check_parse_error("a,,b", NULL, NULL);
    check_parse_error(",", NULL, NULL);
}

static void test_duplicates(void)
{
    g_autoptr(OptList) opts = opts_parse("a=1,b=2,a=3", NULL, NULL);

    check_pairs(opts, (const char *const[]){ "a", "1", "b", "2", "a", "3",
                                             NULL });
    g_assert_cmpstr(opts_get(opts, "a"), ==, "3");
    g_assert_cmpstr(opts_get(opts, "b"), ==, "2");
    g_assert_null(opts_get(opts, "c"));
    g_assert_true(opts_has(opts, "a"));
    g_assert_false(opts_has(opts, "c"));
}

static void test_set_del(void)
{
    g_autoptr(OptList) opts = opts_new();

    g_assert_cmpuint(opts_count(opts), ==, 0);
    opts_set(opts, "a", "1");
    opts_set(opts, "b", "2");
    opts_set(opts, "a", "3");
    check_pairs(opts, (const char *const[]){ "a", "3", "b", "2", NULL });

    g_assert_true(opts_del(opts, "a"));
    g_assert_false(opts_del(opts, "a"));
    check_pairs(opts, (const char *const[]){ "b", "2", NULL });

    opts_free(NULL);
}

static void test_set_replaces_duplicates(void)
{
    g_autoptr(OptList) opts = opts_parse("a=1,b=2,a=3,c=4", NULL, NULL);

    opts_set(opts, "a", "9");
    check_pairs(opts, (const char *const[]){ "a", "9", "b", "2", "c", "4",
                                             NULL });
    opts_set(opts, "d", "5");
    g_assert_cmpstr(opts_get(opts, "d"), ==, "5");

    g_assert_true(opts_del(opts, "b"));
    g_assert_cmpuint(opts_count(opts), ==, 3);
}

static void test_json_flat(void)
{
    check_parse("{\"qom-type\":\"memory-backend-memfd\",\"id\":\"m0\","
                "\"size\":1073741824,\"share\":true,\"prealloc\":false}",
                "type",
                (const char *const[]){ "qom-type", "memory-backend-memfd",
                                       "id", "m0", "size", "1073741824",
                                       "share", "on", "prealloc", "off",
                                       NULL });
    /* leading white space is skipped, commas in strings are literal */
    check_parse("  \n{ \"path\": \"/tmp/a,b\", \"n\": -3, \"f\": 1.5 }", NULL,
                (const char *const[]){ "path", "/tmp/a,b", "n", "-3", "f",
                                       "1.5", NULL });
    check_parse("{}", "type", (const char *const[]){ NULL });
    /* braces and quotes inside strings, trailing blanks, QEMU's '...' */
    check_parse("{\"a\":\"}\\\"'\",'b':'{'} \n", NULL,
                (const char *const[]){ "a", "}\"'", "b", "{", NULL });
    check_parse("{\"x\":0.1,\"y\":1e300,\"z\":-0.5}", NULL,
                (const char *const[]){ "x", "0.1", "y", "1e+300", "z", "-0.5",
                                       NULL });
}

static void test_json_nested(void)
{
    check_parse("{\"id\":\"c\",\"addr\":{\"transport\":\"socket\","
                "\"type\":\"unix\",\"path\":\"/tmp/cpr.sock\"}}",
                NULL,
                (const char *const[]){ "id", "c", "addr.transport", "socket",
                                       "addr.type", "unix", "addr.path",
                                       "/tmp/cpr.sock", NULL });
    check_parse("{\"a\":{\"b\":{\"c\":1}},\"x.y\":2}", NULL,
                (const char *const[]){ "a.b.c", "1", "x.y", "2", NULL });
}

static void test_json_array(void)
{
    check_parse("{\"channels\":[{\"channel-type\":\"main\","
                "\"addr\":{\"transport\":\"socket\"}},"
                "{\"channel-type\":\"cpr\"}],\"l\":[1,true,\"s\"],"
                "\"e\":[]}",
                NULL,
                (const char *const[]){ "channels.0.channel-type", "main",
                                       "channels.0.addr.transport", "socket",
                                       "channels.1.channel-type", "cpr",
                                       "l.0", "1", "l.1", "on", "l.2", "s",
                                       NULL });
}

static void test_json_errors(void)
{
    check_parse_error("{\"a\":", NULL, NULL);
    check_parse_error("{\"a\":1,}", NULL, NULL);
    check_parse_error("{\"a\":1} junk", NULL, NULL);
    check_parse_error("{a:1}", NULL, NULL);
    /* json-glib alone would drop a second value silently */
    check_parse_error("{\"a\":1}{\"b\":2}", NULL,
                      "invalid JSON in option string '{\"a\":1}{\"b\":2}': "
                      "unexpected text after the object");
    check_parse_error("{\"a\":\"}\\\"'\"} x", NULL, NULL);
    check_parse_error("{\"a\":null}", NULL,
                      "parameter 'a' must not be null");
    check_parse_error("{\"a\":{\"b\":[1,null]}}", NULL,
                      "parameter 'a.b.1' must not be null");
    /*
     * A string that does not start with '{' is never JSON, so a non-object
     * JSON value reaches the key=value parser and becomes a flag.
     */
    check_parse("[1]", NULL, (const char *const[]){ "[1]", "on", NULL });
}

static void test_getters(void)
{
    g_autoptr(OptList) opts =
        opts_parse("b=yes,nb=maybe,u=0x10,nu=-1,bigu=18446744073709551616,"
                   "s=1.5k,ns=12Q,bigs=16E", NULL, NULL);
    g_autoptr(GError) err = NULL;
    bool b = false;
    uint64_t u = 0;

    g_assert_true(opts_get_bool(opts, "b", false, &b, &err));
    g_assert_true(b);
    g_assert_true(opts_get_bool(opts, "absent", true, &b, &err));
    g_assert_true(b);
    g_assert_true(opts_get_uint(opts, "u", 0, &u, &err));
    g_assert_cmpuint(u, ==, 16);
    g_assert_true(opts_get_uint(opts, "absent", 42, &u, &err));
    g_assert_cmpuint(u, ==, 42);
    g_assert_true(opts_get_size(opts, "s", 0, &u, &err));
    g_assert_cmpuint(u, ==, 1536);
    g_assert_true(opts_get_size(opts, "absent", 4096, &u, &err));
    g_assert_cmpuint(u, ==, 4096);
    g_assert_no_error(err);

    g_assert_false(opts_get_bool(opts, "nb", false, &b, &err));
    g_assert_error(err, BATON_ERROR, BATON_ERROR_GENERIC);
    g_assert_cmpstr(err->message, ==, "Parameter 'nb' expects 'on' or 'off'");
    g_clear_error(&err);

    g_assert_false(opts_get_uint(opts, "nu", 0, &u, &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'nu' expects a number");
    g_clear_error(&err);

    g_assert_false(opts_get_uint(opts, "bigu", 0, &u, &err));
    g_assert_cmpstr(err->message, ==,
                    "Value '18446744073709551616' is too large for "
                    "parameter 'bigu'");
    g_clear_error(&err);

    g_assert_false(opts_get_size(opts, "ns", 0, &u, &err));
    g_assert_cmpstr(err->message, ==,
                    "Parameter 'ns' expects a non-negative number below 2^64");
    g_clear_error(&err);

    g_assert_false(opts_get_size(opts, "bigs", 0, &u, &err));
    g_assert_cmpstr(err->message, ==,
                    "Value '16E' is out of range for parameter 'bigs'");
}

static void test_check_known(void)
{
    static const char *const known[] = { "backend", "id", "path", NULL };
    g_autoptr(OptList) opts = opts_parse("socket,id=c,path=/p", "backend",
                                         NULL);
    g_autoptr(OptList) bad = opts_parse("socket,id=c,srever=on,foo=1",
                                        "backend", NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(opts_check_known(opts, known, NULL, &err));
    g_assert_true(opts_check_known(opts, known, "chardev 'c'", &err));
    g_assert_no_error(err);

    g_assert_false(opts_check_known(bad, known, NULL, &err));
    g_assert_error(err, BATON_ERROR, BATON_ERROR_GENERIC);
    g_assert_cmpstr(err->message, ==, "Invalid parameter 'srever'");
    g_clear_error(&err);

    g_assert_false(opts_check_known(bad, known, "chardev 'c'", &err));
    g_assert_cmpstr(err->message, ==,
                    "chardev 'c' does not support option 'srever'");
}

/* ---- util/error.c ---- */

static void test_error_class_name(void)
{
    static const struct {
        int code;
        const char *name;
    } classes[] = {
        { BATON_ERROR_GENERIC, "GenericError" },
        { BATON_ERROR_COMMAND_NOT_FOUND, "CommandNotFound" },
        { BATON_ERROR_DEVICE_NOT_ACTIVE, "DeviceNotActive" },
        { BATON_ERROR_DEVICE_NOT_FOUND, "DeviceNotFound" },
        { BATON_ERROR_KVM_MISSING_CAP, "KVMMissingCap" },
        { 99, "GenericError" },
    };
    g_autoptr(GError) foreign = g_error_new_literal(G_FILE_ERROR,
                                                    G_FILE_ERROR_NOENT, "x");

    for (size_t i = 0; i < G_N_ELEMENTS(classes); i++) {
        g_autoptr(GError) err = g_error_new_literal(BATON_ERROR,
                                                    classes[i].code, "x");

        g_assert_cmpstr(baton_error_class_name(err), ==, classes[i].name);
    }
    g_assert_cmpstr(baton_error_class_name(foreign), ==, "GenericError");
    g_assert_cmpuint(BATON_ERROR, ==, g_quark_from_string("baton-error-quark"));
}

static void test_error_setg_errno(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err0 = NULL;
    g_autofree char *expected =
        g_strdup_printf("cannot open '/x': %s", g_strerror(ENOENT));

    error_setg_errno(&err, ENOENT, "cannot open '%s'", "/x");
    g_assert_error(err, BATON_ERROR, BATON_ERROR_GENERIC);
    g_assert_cmpstr(err->message, ==, expected);

    error_setg_errno(&err0, 0, "plain %d", 1);
    g_assert_cmpstr(err0->message, ==, "plain 1");

    /* a NULL errp is allowed, as with g_set_error */
    error_setg_errno(NULL, EINVAL, "ignored");
}

/* ---- util/error-report.c ---- */

/*
 * Run FN with stderr redirected to a temporary file and return what it
 * wrote. (g_test_trap_subprocess would do, but its child-watch thread
 * shows up as a possible leak under valgrind.)
 */
static char *capture_stderr(void (*fn)(void))
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    char *out = NULL;
    int fd = g_file_open_tmp("baton-stderr-XXXXXX", &path, &err);
    int saved;

    g_assert_no_error(err);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    g_assert_cmpint(saved, >=, 0);
    g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
    fn();
    fflush(stderr);
    g_assert_cmpint(dup2(saved, STDERR_FILENO), ==, STDERR_FILENO);
    close(saved);
    close(fd);
    g_assert_true(g_file_get_contents(path, &out, NULL, &err));
    g_unlink(path);
    return out;
}

static void emit_reports(void)
{
    error_report("memory backend '%s' is not shared", "m0");
    warn_report("disk '%s' is slow", "d0");
    info_report("listening on '%s'", "/tmp/q");
    error_report("already terminated\n");
    error_report_err(g_error_new_literal(BATON_ERROR, 0, "from GError"));
    error_report_err(NULL);
}

static void test_report_prefix(void)
{
    /* g_test_init() set the program name, so it is the prefix */
    const char *p = g_get_prgname();
    g_autofree char *out = capture_stderr(emit_reports);
    g_autofree char *expected = g_strdup_printf(
        "%s: memory backend 'm0' is not shared\n"
        "%s: warning: disk 'd0' is slow\n"
        "%s: listening on '/tmp/q'\n"
        "%s: already terminated\n"
        "%s: from GError\n", p, p, p, p, p);

    g_assert_nonnull(p);
    g_assert_cmpstr(out, ==, expected);
}

static void test_log_mask(void)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(log_set_mask_str("guest_errors", &err));
    g_assert_true(log_mask_enabled(LOG_GUEST_ERROR));
    g_assert_false(log_mask_enabled(LOG_UNIMP));

    g_assert_true(log_set_mask_str("unimp,guest_errors", &err));
    g_assert_true(log_mask_enabled(LOG_UNIMP));
    g_assert_true(log_mask_enabled(LOG_GUEST_ERROR | LOG_UNIMP));
    g_assert_no_error(err);

    /* an unknown item fails and leaves the mask as it was */
    g_assert_false(log_set_mask_str("unimp,int", &err));
    g_assert_error(err, BATON_ERROR, BATON_ERROR_GENERIC);
    g_assert_cmpstr(err->message, ==, "unknown log item 'int'");
    g_clear_error(&err);
    g_assert_false(log_set_mask_str("guest_errors,", &err));
    g_assert_cmpstr(err->message, ==, "unknown log item ''");
    g_clear_error(&err);
    g_assert_true(log_mask_enabled(LOG_GUEST_ERROR));

    g_assert_true(log_set_mask_str("", &err));
    g_assert_false(log_mask_enabled(LOG_GUEST_ERROR | LOG_UNIMP));
}

static void test_log_file(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("baton-log-XXXXXX", &err);
    g_autofree char *path = g_build_filename(dir, "log", NULL);
    g_autofree char *bad = g_build_filename(dir, "no", "such", NULL);
    g_autofree char *contents = NULL;

    g_assert_no_error(err);
    g_assert_true(log_set_file(path, &err));
    g_assert_true(log_set_mask_str("guest_errors", &err));
    log_mask(LOG_GUEST_ERROR, "bad write at 0x%x\n", 0x3f8);
    log_mask(LOG_UNIMP, "not logged\n");
    log_printf("partial ");
    log_printf("line\n");
    g_assert_true(log_set_file(NULL, &err));
    g_assert_true(log_set_mask_str("", &err));
    g_assert_no_error(err);

    g_assert_true(g_file_get_contents(path, &contents, NULL, &err));
    g_assert_cmpstr(contents, ==, "bad write at 0x3f8\npartial line\n");

    g_assert_false(log_set_file(bad, &err));
    g_assert_error(err, BATON_ERROR, BATON_ERROR_GENERIC);
    g_assert_true(g_str_has_prefix(err->message, "cannot open log file '"));

    g_unlink(path);
    g_rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/option/implied-key", test_implied_key);
    g_test_add_func("/util/option/comma-escape", test_comma_escape);
    g_test_add_func("/util/option/flags", test_flags);
    g_test_add_func("/util/option/values", test_values);
    g_test_add_func("/util/option/empty-element", test_empty_element);
    g_test_add_func("/util/option/duplicates", test_duplicates);
    g_test_add_func("/util/option/set-del", test_set_del);
    g_test_add_func("/util/option/set-replaces-duplicates",
                    test_set_replaces_duplicates);
    g_test_add_func("/util/option/json-flat", test_json_flat);
    g_test_add_func("/util/option/json-nested", test_json_nested);
    g_test_add_func("/util/option/json-array", test_json_array);
    g_test_add_func("/util/option/json-errors", test_json_errors);
    g_test_add_func("/util/option/getters", test_getters);
    g_test_add_func("/util/option/check-known", test_check_known);
    g_test_add_func("/util/error/class-name", test_error_class_name);
    g_test_add_func("/util/error/setg-errno", test_error_setg_errno);
    g_test_add_func("/util/error-report/prefix", test_report_prefix);
    g_test_add_func("/util/log/mask", test_log_mask);
    g_test_add_func("/util/log/file", test_log_file);
    return g_test_run();
}
