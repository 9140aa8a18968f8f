/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cpr-exec: the process replaces its own image (same PID). The CPR state
 * goes into a memfd whose number the new image finds in the environment
 * (BATON_CPR_STATE_FD); every preserved fd simply stays open across the
 * exec. Everything else (/dev/kvm, the VM, vCPU fds) is close-on-exec and
 * vanishes with the old image; the vCPU threads die with it too.
 */
#include "util/osdep.h"

#include <signal.h>
#include <sys/mman.h>

#include "util/error-report.h"

#include "cpr-internal.h"

extern char **environ;

bool cpr_exec_check(char **argv, GError **errp)
{
    g_autofree char *path = NULL;

    if (!argv || !argv[0] || !argv[0][0]) {
        error_setg(errp, "cpr-exec mode requires setting cpr-exec-command");
        return false;
    }
    path = g_find_program_in_path(argv[0]);
    if (!path) {
        error_setg(errp, "cpr-exec-command: '%s' is not an executable "
                   "program", argv[0]);
        return false;
    }
    return true;
}

typedef struct CprExecFd {
    int fd;
    int flags; /* F_GETFD before we cleared FD_CLOEXEC */
} CprExecFd;

static void cpr_exec_collect(const char *name, int id, int fd, void *opaque)
{
    GArray *fds = opaque;
    CprExecFd e = { .fd = fd, .flags = fcntl(fd, F_GETFD) };

    g_array_append_val(fds, e);
}

/* The state in a memfd, positioned at its start; -1 + errp on failure. */
static int cpr_exec_write_state(const CprTimes *times, GError **errp)
{
    g_autoptr(MigStream) f = mig_stream_new_mem_writer();
    g_autofree char *fp = cpr_config_fingerprint();
    const uint8_t *data;
    size_t len, done = 0;
    int fd;

    if (!cpr_state_save(f, MIG_MODE_CPR_EXEC, fp, times, errp)) {
        return -1;
    }
    data = mig_stream_mem_data(f, &len);
    fd = memfd_create("baton-cpr-state", MFD_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cpr-exec: cannot create the state "
                         "memfd");
        return -1;
    }
    while (done < len) {
        ssize_t r = write(fd, data + done, len - done);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            error_setg_errno(errp, r < 0 ? errno : EIO, "cpr-exec: cannot "
                             "write the state memfd");
            close(fd);
            return -1;
        }
        done += r;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* environ with NAME=VALUE replacing any NAME=... (a new vector). */
static char **cpr_exec_env(const char *name, const char *value)
{
    GPtrArray *env = g_ptr_array_new();
    size_t nlen = strlen(name);

    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, name, nlen) || (*e)[nlen] != '=') {
            g_ptr_array_add(env, g_strdup(*e));
        }
    }
    g_ptr_array_add(env, g_strdup_printf("%s=%s", name, value));
    g_ptr_array_add(env, NULL);
    return (char **)g_ptr_array_free(env, FALSE);
}

bool cpr_exec_run(char **argv, const CprTimes *times, GError **errp)
{
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(CprExecFd));
    g_autofree char *num = NULL;
    g_auto(GStrv) envp = NULL;
    sigset_t all, old;
    int state_fd, saved_errno;

    if (!cpr_exec_check(argv, errp)) {
        return false;
    }
    state_fd = cpr_exec_write_state(times, errp);
    if (state_fd < 0) {
        return false;
    }
    num = g_strdup_printf("%d", state_fd);
    envp = cpr_exec_env(CPR_STATE_FD_ENV, num);
    cpr_fd_foreach(cpr_exec_collect, fds);
    /* The state memfd and every preserved fd survive the exec. */
    fcntl(state_fd, F_SETFD, 0);
    for (guint i = 0; i < fds->len; i++) {
        fcntl(g_array_index(fds, CprExecFd, i).fd, F_SETFD, 0);
    }
    fflush(NULL);
    /* The new image starts with no signal blocked, whatever this thread had. */
    sigemptyset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    execvpe(argv[0], argv, envp);
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    /* Still here: put every flag back and carry on as before. */
    for (guint i = 0; i < fds->len; i++) {
        CprExecFd *e = &g_array_index(fds, CprExecFd, i);

        if (e->flags >= 0) {
            fcntl(e->fd, F_SETFD, e->flags);
        }
    }
    close(state_fd);
    error_setg_errno(errp, saved_errno, "cpr-exec: cannot execute '%s'",
                     argv[0]);
    return false;
}

bool cpr_exec_incoming(bool *found, GError **errp)
{
    const char *val = getenv(CPR_STATE_FD_ENV);
    g_autofree char *copy = NULL;
    MigStream *f;
    char *end;
    long n;
    bool ok;

    *found = val != NULL;
    if (!val) {
        return true;
    }
    /* Start-up is single-threaded: no getenv() can race with this. */
    copy = g_strdup(val);
    unsetenv(CPR_STATE_FD_ENV);
    errno = 0;
    n = strtol(copy, &end, 10);
    if (errno || *end || end == copy || n < 0 || n > INT_MAX ||
        fcntl(n, F_GETFD) < 0) {
        error_setg(errp, "%s=%s: not an open file descriptor",
                   CPR_STATE_FD_ENV, copy);
        return false;
    }
    fcntl(n, F_SETFD, FD_CLOEXEC);
    if (lseek(n, 0, SEEK_SET) < 0) {
        error_setg_errno(errp, errno, "%s=%s: cannot read the cpr state",
                         CPR_STATE_FD_ENV, copy);
        close(n);
        return false;
    }
    f = mig_stream_new_fd(n, false, false, "cpr state memfd");
    ok = cpr_state_load(f, true, errp);
    mig_stream_close_noerr(f);
    return ok;
}
