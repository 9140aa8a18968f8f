/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test-only stop points (include/util/fault-inject.h): the environment is
 * read once; a point that is not listed costs one string comparison loop.
 */
#include "util/osdep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

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

void fault_inject_hold(const char *name)
{
    g_autofree char *hold = g_strconcat(name, ":hold", NULL);
    const char *path;
    char buf[64];
    ssize_t n;
    int fd;

    if (!fault_inject_listed(hold)) {
        return;
    }
    path = g_getenv("BATON_FAULT_HOLD");
    if (!path) {
        warn_report("fault injection: not holding at '%s': BATON_FAULT_HOLD "
                    "names no FIFO",
                    name);
        return;
    }
    info_report("fault injection: holding at '%s'", name);
    /* Blocks until a writer opens the FIFO, then reads until it closes. */
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        warn_report("fault injection: not holding at '%s': %s: %s", name, path,
                    g_strerror(errno));
        return;
    }
    do {
        n = read(fd, buf, sizeof(buf));
    } while (n > 0 || (n < 0 && errno == EINTR));
    close(fd);
    info_report("fault injection: released at '%s'", name);
}
