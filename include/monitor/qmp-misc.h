/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Monitor-owned settings that the command line feeds in: the VM name
 * (-name) reported by query-name and "info name". Call with the big lock
 * held (or single-threaded at startup).
 */
#ifndef BATON_MONITOR_QMP_MISC_H
#define BATON_MONITOR_QMP_MISC_H

/* NAME is copied; NULL clears it. */
void monitor_set_vm_name(const char *name);
/* The -name value, or NULL if none was given. */
const char *monitor_get_vm_name(void);

#endif
