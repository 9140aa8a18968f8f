/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit-test helpers that drive GLib's default main context: the chardev
 * and CPR owner tests wait on socket events this way. Include after
 * defining WAIT_MS (the longest a WAIT_FOR may take, in milliseconds).
 */
#ifndef BATON_TESTS_UNIT_MAIN_LOOP_TEST_H
#define BATON_TESTS_UNIT_MAIN_LOOP_TEST_H

#include <glib.h>

/* Dispatch everything that is ready now. */
static inline void spin(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
        /* drain */
    }
}

/* Run the default context until COND holds (asserting it does in time). */
#define WAIT_FOR(cond)                                                  \
    do {                                                                \
        gint64 dl_ = g_get_monotonic_time() + WAIT_MS * 1000;           \
        while (!(cond) && g_get_monotonic_time() < dl_) {               \
            spin();                                                     \
            if (!(cond)) {                                              \
                g_usleep(1000);                                         \
            }                                                           \
        }                                                               \
        g_assert_true(cond);                                            \
    } while (0)

/* Run the loop for MS milliseconds. */
static inline void run_for(int ms)
{
    gint64 dl = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < dl) {
        spin();
        g_usleep(1000);
    }
}

#endif
