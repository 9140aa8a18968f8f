/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/trace.c: glob patterns, the state table, events files (comments,
 * negation, bad lines), the -trace option and -d trace:, and the output
 * line of an enabled event, captured through the log file.
 */
#include "util/osdep.h"

#include <glib/gstdio.h>

#include "util/error-report.h"
#include "util/trace.h"
#include "trace/trace-list.h"
#include "trace/trace-migration.h"

static void trace_reset(void)
{
    g_assert_true(trace_enable_events("-*", NULL));
}

static unsigned int enabled_count(void)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < trace_event_count; i++) {
        n += trace_event_get_state(i);
    }
    return n;
}

/* How many events' names start with PREFIX (what "PREFIX*" enables). */
static unsigned int count_prefixed(const char *prefix)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < trace_event_count; i++) {
        n += g_str_has_prefix(trace_event_defs[i].name, prefix);
    }
    return n;
}

static void test_table(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    g_assert_cmpuint(trace_event_count, ==, TRACE_EVENT_COUNT);
    g_assert_cmpuint(trace_event_count, >, 0);
    for (unsigned int i = 0; i < trace_event_count; i++) {
        const char *name = trace_event_defs[i].name;

        g_assert_false(g_hash_table_contains(seen, name));
        g_hash_table_add(seen, (gpointer)name);
        g_assert_cmpint(trace_event_find(name), ==, i);
        g_assert_nonnull(trace_event_defs[i].folder);
    }
    g_assert_cmpint(trace_event_find("kvm_vm_ioctl"), ==, TRACE_KVM_VM_IOCTL);
    g_assert_cmpstr(trace_event_defs[TRACE_KVM_VM_IOCTL].folder, ==,
                    "accel/kvm");
    g_assert_cmpint(trace_event_find("kvm_vm_ioct"), ==, -1);

    trace_reset();
    g_assert_cmpuint(enabled_count(), ==, 0);
    trace_event_set_state(TRACE_CPR_FIND_FD, true);
    g_assert_true(trace_event_get_state(TRACE_CPR_FIND_FD));
    g_assert_cmpuint(enabled_count(), ==, 1);
    trace_event_set_state(TRACE_CPR_FIND_FD, false);
    g_assert_cmpuint(enabled_count(), ==, 0);
}

static void test_pattern(void)
{
    g_assert_false(trace_pattern_is_glob("kvm_run_exit"));
    g_assert_true(trace_pattern_is_glob("kvm_*"));
    g_assert_true(trace_pattern_is_glob("qmp_e?ter"));

    g_assert_true(trace_pattern_match("kvm_*", "kvm_vm_ioctl"));
    g_assert_true(trace_pattern_match("*ioctl", "kvm_vcpu_ioctl"));
    g_assert_true(trace_pattern_match("qmp_e?ter", "qmp_enter"));
    g_assert_true(trace_pattern_match("*", "cpr_find_fd"));
    g_assert_false(trace_pattern_match("kvm_*", "qmp_enter"));
    g_assert_false(trace_pattern_match("qmp_e?ter", "qmp_exit"));
    /* Case-sensitive, whole name, as QEMU's. */
    g_assert_false(trace_pattern_match("KVM_*", "kvm_vm_ioctl"));
    g_assert_false(trace_pattern_match("kvm_vm", "kvm_vm_ioctl"));
}

static void test_enable(void)
{
    GError *err = NULL;

    trace_reset();
    g_assert_true(trace_enable_events("kvm_*ioctl", &err));
    g_assert_no_error(err);
    g_assert_true(trace_event_get_state(TRACE_KVM_IOCTL));
    g_assert_true(trace_event_get_state(TRACE_KVM_VM_IOCTL));
    g_assert_true(trace_event_get_state(TRACE_KVM_VCPU_IOCTL));
    g_assert_false(trace_event_get_state(TRACE_KVM_RUN_EXIT));
    g_assert_cmpuint(enabled_count(), ==, 3);

    g_assert_true(trace_enable_events("-kvm_vm_ioctl", &err));
    g_assert_false(trace_event_get_state(TRACE_KVM_VM_IOCTL));
    g_assert_cmpuint(enabled_count(), ==, 2);

    /* A glob that matches nothing is fine; an unknown name is not. */
    g_assert_true(trace_enable_events("nothing_like_this*", &err));
    g_assert_cmpuint(enabled_count(), ==, 2);
    g_assert_false(trace_enable_events("kvm_nosuch", &err));
    g_assert_error(err, BATON_ERROR, BATON_ERROR_GENERIC);
    g_assert_cmpstr(err->message, ==,
                    "trace event 'kvm_nosuch' does not exist");
    g_clear_error(&err);
    g_assert_false(trace_enable_events("-kvm_nosuch", &err));
    g_assert_cmpstr(err->message, ==,
                    "trace event 'kvm_nosuch' does not exist");
    g_clear_error(&err);
    g_assert_cmpuint(enabled_count(), ==, 2);
    trace_reset();
}

static void test_events_file(void)
{
    static const char text[] =
        "# every KVM event, then not the vCPU ones\n"
        "\n"
        "kvm_*\n"
        "   -kvm_vcpu_ioctl  \n"
        "-kvm_run_exit\n"
        "#qmp_enter\n"
        "cpr_find_fd\n";
    GError *err = NULL;

    trace_reset();
    g_assert_true(trace_events_parse(text, "ev.txt", &err));
    g_assert_no_error(err);
    g_assert_true(trace_event_get_state(TRACE_KVM_IOCTL));
    g_assert_true(trace_event_get_state(TRACE_KVM_VM_IOCTL));
    g_assert_false(trace_event_get_state(TRACE_KVM_VCPU_IOCTL));
    g_assert_false(trace_event_get_state(TRACE_KVM_RUN_EXIT));
    g_assert_false(trace_event_get_state(TRACE_QMP_ENTER));
    g_assert_true(trace_event_get_state(TRACE_CPR_FIND_FD));
    /* Every kvm_ event but the two removed, and cpr_find_fd. */
    g_assert_cmpuint(enabled_count(), ==, count_prefixed("kvm_") - 2 + 1);

    /* A bad line names the file and line; the lines before it applied. */
    trace_reset();
    g_assert_false(trace_events_parse("qmp_enter\n# x\nqmp_bogus\nqmp_exit\n",
                                      "ev.txt", &err));
    g_assert_cmpstr(err->message, ==,
                    "ev.txt:3: trace event 'qmp_bogus' does not exist");
    g_clear_error(&err);
    g_assert_true(trace_event_get_state(TRACE_QMP_ENTER));
    g_assert_false(trace_event_get_state(TRACE_QMP_EXIT));

    g_assert_false(trace_events_parse("-\n", "ev.txt", &err));
    g_assert_cmpstr(err->message, ==,
                    "ev.txt:1: trace event '' does not exist");
    g_clear_error(&err);

    g_assert_false(trace_events_load("/nonexistent/trace-events", &err));
    g_assert_nonnull(strstr(err->message, "cannot read trace events file "
                                          "'/nonexistent/trace-events'"));
    g_clear_error(&err);
    trace_reset();
}

static char *read_log(const char *path)
{
    char *text = NULL;

    /* Closes the file (flushing it) and goes back to stderr. */
    g_assert_true(log_set_file(NULL, NULL));
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

static void test_output(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-trace-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "trace.log", NULL);
    g_autofree char *text = NULL;
    g_autofree char *expect = NULL;
    g_auto(GStrv) lines = NULL;

    trace_reset();
    g_assert_true(log_set_file(path, NULL));
    trace_cpr_save_fd("tap0", 2, 17);             /* off: nothing */
    g_assert_true(trace_enable_events("cpr_save_fd", NULL));
    trace_cpr_save_fd("tap0", 2, 17);
    trace_cpr_delete_fd("tap0", 2);               /* another event, off */
    text = read_log(path);

    lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 2);
    g_assert_cmpstr(lines[1], ==, "");
    /* QEMU's log backend: TID@SECONDS.MICROSECONDS:name fields */
    expect = g_strdup_printf("%d@", (int)gettid());
    g_assert_true(g_str_has_prefix(lines[0], expect));
    g_assert_true(g_regex_match_simple(
        "^[0-9]+@[0-9]+\\.[0-9]{6}:cpr_save_fd name=tap0 id=2 fd=17$",
        lines[0], 0, 0));
    g_unlink(path);
    g_rmdir(dir);
    trace_reset();
}

static void test_log_item(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-trace-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "trace.log", NULL);
    g_autofree char *text = NULL;
    GError *err = NULL;

    trace_reset();
    g_assert_true(log_set_mask_str("guest_errors,trace:cpr_*_fd,"
                                   "trace:-cpr_find_fd", &err));
    g_assert_no_error(err);
    g_assert_true(log_mask_enabled(LOG_GUEST_ERROR));
    g_assert_true(trace_event_get_state(TRACE_CPR_SAVE_FD));
    g_assert_true(trace_event_get_state(TRACE_CPR_DELETE_FD));
    g_assert_false(trace_event_get_state(TRACE_CPR_FIND_FD));

    g_assert_true(log_set_file(path, NULL));
    trace_cpr_delete_fd("x", 0);
    trace_cpr_find_fd("x", 0, -1);
    text = read_log(path);
    g_assert_nonnull(strstr(text, ":cpr_delete_fd name=x id=0\n"));
    g_assert_null(strstr(text, "cpr_find_fd"));

    g_assert_false(log_set_mask_str("trace:cpr_nosuch", &err));
    g_assert_cmpstr(err->message, ==,
                    "trace event 'cpr_nosuch' does not exist");
    g_clear_error(&err);
    g_assert_true(log_set_mask_str("unimp", NULL));
    g_unlink(path);
    g_rmdir(dir);
    trace_reset();
}

static void test_opt(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-trace-XXXXXX", NULL);
    g_autofree char *events = g_build_filename(dir, "events", NULL);
    g_autofree char *out = g_build_filename(dir, "out.log", NULL);
    g_autofree char *opt = NULL;
    g_autofree char *text = NULL;
    GError *err = NULL;
    bool help;

    trace_reset();
    g_assert_true(trace_opt_parse("help", &help, &err));
    g_assert_true(help);
    g_assert_true(trace_opt_parse("enable=help", &help, &err));
    g_assert_true(help);
    g_assert_cmpuint(enabled_count(), ==, 0);

    g_assert_true(trace_opt_parse("qmp_enter", &help, &err));
    g_assert_false(help);
    g_assert_true(trace_event_get_state(TRACE_QMP_ENTER));
    g_assert_true(trace_opt_parse("enable=kvm_run_exit", &help, &err));
    g_assert_true(trace_event_get_state(TRACE_KVM_RUN_EXIT));

    g_assert_true(g_file_set_contents(events, "# x\nvmstate_*\n", -1, NULL));
    opt = g_strdup_printf("events=%s,file=%s", events, out);
    g_assert_true(trace_opt_parse(opt, &help, &err));
    g_assert_no_error(err);
    g_assert_true(trace_event_get_state(TRACE_VMSTATE_SAVE));
    g_assert_true(trace_event_get_state(TRACE_VMSTATE_LOAD));
    /* file= takes effect in trace_init_file(), after every option. */
    g_assert_true(trace_init_file(&err));
    trace_vmstate_save("serial", 0, 3, 42, 1);
    text = read_log(out);
    g_assert_nonnull(strstr(text, ":vmstate_save idstr=serial instance=0 "
                                  "version=3 size=42 ok=1\n"));

    g_assert_false(trace_opt_parse("enable=x,foo=bar", &help, &err));
    g_assert_cmpstr(err->message, ==, "Invalid parameter 'foo'");
    g_clear_error(&err);
    g_assert_false(trace_opt_parse("kvm_nosuch", &help, &err));
    g_assert_cmpstr(err->message, ==,
                    "trace event 'kvm_nosuch' does not exist");
    g_clear_error(&err);
    g_unlink(events);
    g_unlink(out);
    g_rmdir(dir);
    trace_reset();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/trace/table", test_table);
    g_test_add_func("/util/trace/pattern", test_pattern);
    g_test_add_func("/util/trace/enable", test_enable);
    g_test_add_func("/util/trace/events-file", test_events_file);
    g_test_add_func("/util/trace/output", test_output);
    g_test_add_func("/util/trace/log-item", test_log_item);
    g_test_add_func("/util/trace/option", test_opt);
    return g_test_run();
}
