/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The main thread's GLib main loop. The main thread holds the big lock
 * except while it polls, so every GSource callback runs with it held.
 */
#ifndef BATON_SYSTEM_MAIN_LOOP_H
#define BATON_SYSTEM_MAIN_LOOP_H

#include <glib.h>

/* Install the lock-dropping poll function and take the big lock. */
void main_loop_init(void);
/* Run until a shutdown/exit request is handled; returns the exit status. */
int main_loop_run(void);
/* Wake the main loop from another thread (after queuing a request). */
void main_loop_wakeup(void);

#endif
