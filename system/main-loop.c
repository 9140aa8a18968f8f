/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The main thread's loop: GLib's default context, polled with the big lock
 * dropped so vCPU threads can dispatch exits while the main thread waits.
 */
#include "util/osdep.h"

#include <glib-unix.h>

#include "system/main-loop.h"
#include "system/runstate.h"

static gint main_loop_poll(GPollFD *fds, guint nfds, gint timeout)
{
    gint ret;

    bql_unlock();
    ret = g_poll(fds, nfds, timeout);
    bql_lock_after_waiters();
    return ret;
}

static gboolean on_terminate_signal(gpointer opaque)
{
    request_shutdown(SHUTDOWN_CAUSE_HOST_SIGNAL);
    return G_SOURCE_CONTINUE;
}

void main_loop_init(void)
{
    g_main_context_set_poll_func(NULL, main_loop_poll);
    g_unix_signal_add(SIGINT, on_terminate_signal, NULL);
    g_unix_signal_add(SIGTERM, on_terminate_signal, NULL);
    g_unix_signal_add(SIGHUP, on_terminate_signal, NULL);
    bql_lock();
}

int main_loop_run(void)
{
    int status = 0;

    while (!runstate_handle_requests(&status)) {
        g_main_context_iteration(NULL, TRUE);
    }
    return status;
}

void main_loop_wakeup(void)
{
    g_main_context_wakeup(NULL);
}
