/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test-only stop points (include/util/fault-inject.h): the environment is
 * read once; a point that is not listed costs one string comparison loop.
 */
#include "util/osdep.h"

#include <signal.h>

#include "util/fault-inject.h"
#include "util/error-report.h"

static bool fault_inject_listed(const char *name)
{
    static gsize once;
    static char **points;

    if (g_once_init_enter(&once)) {
        const char *env = g_getenv("BATON_FAULT_INJECT");

        points = env ? g_strsplit(env, ",", -1) : NULL;
        g_once_init_leave(&once, 1);
    }
    return points && g_strv_contains((const char *const *)points, name);
}

void fault_inject_point(const char *name)
{
    if (fault_inject_listed(name)) {
        info_report("fault injection: stopping at '%s'", name);
        raise(SIGSTOP);
    }
}

bool fault_inject_fail(const char *name)
{
    static GHashTable *fired; /* the NAME:once points that failed */
    g_autofree char *once = g_strconcat(name, ":once", NULL);

    if (fault_inject_listed(once)) {
        if (!fired) {
            fired =
                g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        }
        if (!g_hash_table_add(fired, g_strdup(name))) {
            return false;
        }
        info_report("fault injection: failing once at '%s'", name);
        return true;
    }
    if (fault_inject_listed(name)) {
        info_report("fault injection: failing at '%s'", name);
        return true;
    }
    return false;
}
