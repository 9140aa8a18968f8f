/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The 'cpr' channel of cpr-transfer: a UNIX socket on which the old
 * process sends the CPR state (fds by SCM_RIGHTS) to a new process that
 * waits for it at start-up, before it creates any backend or device. The
 * connection then stays open as a life line: the old process sees it
 * close if the new one dies. The switchover itself is migration.c's.
 */
#include "util/osdep.h"

#include <glib-unix.h>
#include <poll.h>
#include <sys/socket.h>

#include "system/runstate.h"
#include "util/error-report.h"
#include "util/fault-inject.h"

#include "cpr-internal.h"

/* How long the old process retries while the new one is not listening. */
#define CPR_CONNECT_TIMEOUT_MS 5000

/* New process: the accepted connection, open until the takeover. */
static int cpr_in_fd = -1;
static guint cpr_in_watch;

bool cpr_transfer_check_channel(const MigChannel *ch, GError **errp)
{
    const MigAddress *a = &ch->addr;

    if (a->transport != MIG_TRANSPORT_SOCKET ||
        (a->sock_type != MIG_SOCKET_UNIX && a->sock_type != MIG_SOCKET_FD)) {
        g_autofree char *name = mig_address_to_string(a);

        error_setg(errp, "the 'cpr' migration channel must be a UNIX socket "
                   "(transport 'socket', type 'unix' or 'fd'), not '%s'",
                   name);
        return false;
    }
    return true;
}

/* ---- new process ---- */

/* An inherited listening socket: "addr.type=fd,addr.str=N". */
static int cpr_listen_fd(const MigAddress *a, GError **errp)
{
    int accepting = 0;
    socklen_t len = sizeof(accepting);
    char *end;
    long n;

    errno = 0;
    n = strtol(a->fd_str, &end, 10);
    if (errno || *end || n < 0 || n > INT_MAX) {
        error_setg(errp, "'%s' is not a file descriptor number (at start-up "
                   "the cpr channel can only be an inherited socket)",
                   a->fd_str);
        return -1;
    }
    if (getsockopt(n, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 ||
        !accepting) {
        error_setg(errp, "file descriptor %ld is not a listening socket", n);
        return -1;
    }
    fcntl(n, F_SETFD, FD_CLOEXEC);
    return n;
}

static gboolean cpr_listen_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

/*
 * Wait for the old process and accept its one connection. The wait runs
 * the main loop (nothing but the signal sources exist yet), so that
 * SIGTERM and friends still end a process that nobody connects to.
 */
static int cpr_accept(int lfd, GError **errp)
{
    for (;;) {
        bool ready = false;
        guint watch = g_unix_fd_add(lfd, G_IO_IN, cpr_listen_ready, &ready);
        int fd, status;

        while (!ready) {
            if (runstate_handle_requests(&status)) {
                g_source_remove(watch);
                error_setg(errp, "terminated while waiting for the old "
                           "process to connect");
                return -1;
            }
            g_main_context_iteration(NULL, TRUE);
        }
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            return fd;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            error_setg_errno(errp, errno, "accepting on the cpr channel");
            return -1;
        }
    }
}

bool cpr_transfer_incoming(const MigChannel *ch, GError **errp)
{
    g_autofree char *name = mig_address_to_string(&ch->addr);
    g_autofree char *desc = g_strdup_printf("cpr channel '%s'", name);
    MigListener *l = NULL;
    MigStream *f;
    int lfd, fd;
    bool ok;

    if (!cpr_transfer_check_channel(ch, errp)) {
        return false;
    }
    if (ch->addr.sock_type == MIG_SOCKET_UNIX) {
        /* Removes a stale socket file of an earlier run first. */
        l = mig_listener_new(&ch->addr, errp);
        if (!l) {
            return false;
        }
        lfd = mig_listener_fd(l);
    } else {
        lfd = cpr_listen_fd(&ch->addr, errp);
        if (lfd < 0) {
            return false;
        }
    }
    fd = cpr_accept(lfd, errp);
    /* One connection: nobody else may hand us a guest. */
    if (l) {
        unlink(ch->addr.path);
        mig_listener_free(l);
    } else {
        close(lfd);
    }
    if (fd < 0) {
        return false;
    }
    f = mig_stream_new_fd(fd, false, true, desc);
    ok = cpr_state_load(f, false, errp);
    if (ok) {
        fault_inject_point("incoming-cpr-state");
        /* Keep the connection (the old process's life line to us). */
        cpr_in_fd = dup(fd);
        if (cpr_in_fd >= 0) {
            fcntl(cpr_in_fd, F_SETFD, FD_CLOEXEC);
        }
    }
    mig_stream_close_noerr(f);
    if (!ok) {
        g_prefix_error(errp, "%s: ", desc);
    }
    return ok;
}

static gboolean cpr_in_gone(gint fd, GIOCondition cond, gpointer opaque)
{
    /* The old process never writes on it: it closed it, so it gave up. */
    cpr_in_watch = 0;
    error_report("the old process closed the cpr channel before it "
                 "connected the migration channel (the update failed "
                 "there; see its error)");
    request_exit(1);
    return G_SOURCE_REMOVE;
}

void cpr_transfer_incoming_watch(bool on)
{
    if (on && !cpr_in_watch && cpr_in_fd >= 0) {
        cpr_in_watch = g_unix_fd_add(cpr_in_fd, G_IO_IN | G_IO_HUP |
                                     G_IO_ERR, cpr_in_gone, NULL);
    } else if (!on && cpr_in_watch) {
        g_source_remove(cpr_in_watch);
        cpr_in_watch = 0;
    }
}

void cpr_transfer_incoming_close(void)
{
    cpr_transfer_incoming_watch(false);
    if (cpr_in_fd >= 0) {
        close(cpr_in_fd);
        cpr_in_fd = -1;
    }
}

/* ---- old process ---- */

bool cpr_transfer_peer_gone(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };

    /* The new process never writes on it: any event means it is gone. */
    return poll(&pfd, 1, 0) > 0;
}

bool cpr_transfer_send(const MigChannel *ch, int cancel_fd, int *out_fd,
                       uint64_t *generation, GError **errp)
{
    g_autofree char *name = mig_address_to_string(&ch->addr);
    g_autofree char *desc = g_strdup_printf("cpr channel '%s'", name);
    g_autofree char *fp = NULL;
    MigConn conn = MIG_CONN_INIT;
    MigStream *f;
    int copy;
    bool ok;

    if (*out_fd >= 0) {
        /* fd: opened by the migrate command. */
        conn.fd = *out_fd;
        conn.can_pass_fds = true;
    } else if (!mig_socket_connect_retry(&ch->addr, cancel_fd, -1,
                                         CPR_CONNECT_TIMEOUT_MS, &conn,
                                         errp)) {
        g_prefix_error(errp, "%s: ", desc);
        return false;
    }
    *out_fd = conn.fd;
    copy = fcntl(conn.fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        error_setg_errno(errp, errno, "%s", desc);
        return false;
    }
    f = mig_stream_new_fd(copy, true, true, desc);
    if (!mig_stream_can_pass_fds(f)) {
        mig_stream_close_noerr(f);
        error_setg(errp, "%s is not a UNIX socket: it cannot carry file "
                   "descriptors", desc);
        return false;
    }
    /*
     * The registry changes under the big lock; the fds are duplicated
     * into the stream's queue here, so the write needs no lock.
     */
    bql_lock();
    fp = cpr_config_fingerprint();
    *generation = cpr_fd_generation();
    ok = cpr_state_save(f, MIG_MODE_CPR_TRANSFER, fp, NULL, errp);
    bql_unlock();
    if (!ok) {
        mig_stream_close_noerr(f);
        return false;
    }
    return mig_stream_close(f, errp);
}
