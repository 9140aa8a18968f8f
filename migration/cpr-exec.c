/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cpr-exec: the process replaces its own image (same PID). The CPR state
 * goes into a memfd whose number the new image finds in the environment
 * (BATON_CPR_STATE_FD); every preserved fd simply stays open across the
 * exec. Everything else (/dev/kvm, the VM, vCPU fds) is close-on-exec and
 * vanishes with the old image (a reaper process drops the last copies,
 * after the exec); the vCPU threads die with it too.
 */
#include "util/osdep.h"

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "util/error-report.h"

#include "cpr-internal.h"

extern char **environ;

/*
 * After the exec the old image is gone: a new image that cannot read the
 * CPR state exits, and the guest with it. So look first.
 */
static bool cpr_exec_check_target(const char *path, GError **errp)
{
    g_autofree char *reads = NULL;
    unsigned int lo, hi;
    uint32_t v = cpr_state_version_needed();
    bool marked;

    if (!cpr_binary_state_versions(path, -1, &lo, &hi, &marked) ||
        (v >= lo && v <= hi)) {
        return true;    /* it reads it, or it cannot be told */
    }
    reads = cpr_versions_text(lo, hi, marked);
    error_setg(errp, "cpr-exec-command: '%s' is a baton that reads %s, and "
               "this one writes version %d: the guest would be lost after "
               "the exec; use a baton of this release or a newer one",
               path, reads, v);
    return false;
}

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
    return cpr_exec_check_target(path, errp);
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

static void cpr_exec_collect_section(int fd, void *opaque)
{
    cpr_exec_collect(NULL, 0, fd, opaque);
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

/* The descriptors that survive an exec (no FD_CLOEXEC), from /proc. */
static GArray *cpr_exec_inherited_fds(void)
{
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;

    if (!dir) {
        return fds;
    }
    while ((de = readdir(dir))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        int flags;

        if (*end || end == de->d_name || fd == dirfd(dir)) {
            continue;
        }
        flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) {
            int v = fd;

            g_array_append_val(fds, v);
        }
    }
    closedir(dir);
    return fds;
}

/*
 * execve() closes the old image's close-on-exec descriptors, and the last
 * close of a KVM VM tears the VM down right there, before the new image
 * runs: some 15 ms of pause here. A reaper process keeps copies of those
 * descriptors until the exec has happened (it waits for EOF on a pipe
 * whose write end is close-on-exec here), so that the teardown runs beside
 * the new image instead. It closes at once what survives the exec (the
 * preserved fds, the state memfd, stdio): those are the new image's. It
 * is double-forked, so nobody has to reap it. Returns the pipe's write end
 * (close it if the exec fails), or -1: no reaper, the exec is just slower.
 *
 * Between fork() and _exit() the children only make async-signal-safe
 * calls: the parent has other threads.
 */
static int cpr_exec_start_reaper(void)
{
    g_autoptr(GArray) keep_out = cpr_exec_inherited_fds();
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        char c;

        if (fork() != 0) {
            _exit(0);
        }
        for (guint i = 0; i < keep_out->len; i++) {
            close(g_array_index(keep_out, int, i));
        }
        close(p[1]);
        while (read(p[0], &c, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        return -1;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return p[1];
}

bool cpr_exec_run(char **argv, const CprTimes *times, GError **errp)
{
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(CprExecFd));
    g_autofree char *num = NULL;
    g_auto(GStrv) envp = NULL;
    sigset_t all, old;
    int state_fd, reaper, saved_errno;

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
    cpr_state_foreach_section_fd(cpr_exec_collect_section, fds);
    /* The state memfd and every preserved fd survive the exec. */
    fcntl(state_fd, F_SETFD, 0);
    for (guint i = 0; i < fds->len; i++) {
        fcntl(g_array_index(fds, CprExecFd, i).fd, F_SETFD, 0);
    }
    fflush(NULL);
    reaper = cpr_exec_start_reaper();
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
    if (reaper >= 0) {
        close(reaper); /* it exits and drops its copies */
    }
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
