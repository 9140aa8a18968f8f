/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VM change state handlers (system/runstate.c): every handler's prepare
 * step runs before any handler's main step, starting in ascending
 * priority and stopping in descending order, with the new run state
 * already set; a removed handler is not called. VFIO migration relies on
 * this to put every device in RUNNING_P2P before any stops or runs.
 * No accelerator: vm_stop()/vm_start() only change state and notify.
 */
#include "util/osdep.h"

#include "system/runstate.h"

static GString *calls;

static void record(const char *who, const char *step, bool running,
                   RunState state)
{
    g_assert_cmpint(runstate_get(), ==, state);
    g_assert_cmpint(runstate_is_running(), ==, running);
    g_string_append_printf(calls, "%s%s%s ", step, who, running ? "+" : "-");
}

static void prep_a(void *o, bool r, RunState s)
{
    record("a", "p", r, s);
}
static void main_a(void *o, bool r, RunState s)
{
    record("a", "m", r, s);
}
static void prep_b(void *o, bool r, RunState s)
{
    record("b", "p", r, s);
}
static void main_b(void *o, bool r, RunState s)
{
    record("b", "m", r, s);
}
static void main_c(void *o, bool r, RunState s)
{
    record("c", "m", r, s);
}

static void test_order(void)
{
    VmChangeStateEntry *a, *b, *c;

    calls = g_string_new(NULL);
    runstate_set(RUN_STATE_RUNNING);
    /* Registered out of priority order on purpose. */
    b = vm_add_change_state_handler(main_b, prep_b, NULL, 100);
    a = vm_add_change_state_handler(main_a, prep_a, NULL, 0);
    c = vm_add_change_state_handler(main_c, NULL, NULL, 100);

    vm_stop(RUN_STATE_FINISH_MIGRATE);
    g_assert_cmpstr(calls->str, ==, "pb- pa- mc- mb- ma- ");
    g_string_truncate(calls, 0);

    vm_start();
    g_assert_cmpstr(calls->str, ==, "pa+ pb+ ma+ mb+ mc+ ");
    g_string_truncate(calls, 0);

    /* Not running: a stop changes the state and tells nobody. */
    vm_stop(RUN_STATE_PAUSED);
    g_string_truncate(calls, 0);
    vm_stop(RUN_STATE_POSTMIGRATE);
    g_assert_cmpstr(calls->str, ==, "");

    vm_del_change_state_handler(b);
    vm_start();
    g_assert_cmpstr(calls->str, ==, "pa+ ma+ mc+ ");

    vm_del_change_state_handler(a);
    vm_del_change_state_handler(c);
    g_string_free(calls, true);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/system/runstate/change-state-order", test_order);
    return g_test_run();
}
