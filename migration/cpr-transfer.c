/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The 'cpr' channel of cpr-transfer: a UNIX socket on which the old
 * process sends the CPR state (fds by SCM_RIGHTS) to a new process that
 * waits for it at start-up, before it creates any backend or device, and
 * accepts it only from its own user or root. Once its devices exist, the
 * new process answers once: which chardevs it adopted (the old process
 * keeps serving the others). The connection then stays open as a life
 * line: the old process sees it close if the new one dies. Also the
 * channel checks of a cpr-transfer or cpr-exec migrate. The switchover
 * itself is migration.c's.
 */
#include "util/osdep.h"

#include <glib-unix.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "system/runstate.h"
#include "util/error-report.h"
#include "util/fault-inject.h"

#include "cpr-internal.h"
#include "options.h"

/* How long the old process retries while the new one is not listening. */
#define CPR_CONNECT_TIMEOUT_MS 5000
/* How long it waits for the reply while the new one creates its devices. */
#define CPR_REPLY_TIMEOUT_MS 30000

/* New process: the accepted connection, open until the takeover. */
static int cpr_in_fd = -1;
static guint cpr_in_watch;
/* New process: the old one (the connection's peer), -1 if unknown. */
static int cpr_src_pidfd = -1;
/*
 * How long a source whose sockets closed may take to be seen exited: a
 * killed process closes its files a moment before its pidfd reports it.
 */
#define CPR_SOURCE_EXIT_MS 1000

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

bool cpr_check_channels(MigMode mode, const MigChannel *ch,
                        const MigChannel *cpr, GError **errp)
{
    if (cpr && mode != MIG_MODE_CPR_TRANSFER) {
        error_setg(errp, "a 'cpr' migration channel is only valid in "
                   "cpr-transfer mode (the mode is '%s')",
                   migrate_mode_name(mode));
        return false;
    }
    if (mode == MIG_MODE_CPR_TRANSFER) {
        if (!cpr) {
            error_setg(errp, "missing 'cpr' migration channel; cpr-transfer "
                       "mode requires a 'cpr' channel");
            return false;
        }
        if (!cpr_transfer_check_channel(cpr, errp)) {
            return false;
        }
        if (ch->addr.transport != MIG_TRANSPORT_SOCKET) {
            g_autofree char *name = mig_address_to_string(&ch->addr);

            error_setg(errp, "cpr-transfer needs a socket main channel "
                       "(unix, tcp or fd), not '%s': the new process "
                       "confirms the load on it", name);
            return false;
        }
    }
    if (mode == MIG_MODE_CPR_EXEC &&
        !cpr_exec_check(migrate_cpr_exec_command(), errp)) {
        return false;
    }
    return true;
}

/* ---- new process ---- */

bool cpr_peer_trusted(int fd, const char *channel)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof(addr);
    struct ucred cred;
    socklen_t len = sizeof(cred);

    /* Only a UNIX socket knows its peer (a TCP main channel: no check). */
    if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0 ||
        addr.ss_family != AF_UNIX) {
        return true;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        warn_report("%s: refused a connection whose peer is unknown (%s)",
                    channel, g_strerror(errno));
        return false;
    }
    if (cred.uid == geteuid() || cred.uid == 0) {
        return true;
    }
    if (geteuid() == 0) {
        warn_report("%s: refused a connection from uid %u (pid %d): only "
                    "root may hand a guest over", channel,
                    (unsigned int)cred.uid, (int)cred.pid);
    } else {
        warn_report("%s: refused a connection from uid %u (pid %d): only "
                    "uid %u or root may hand a guest over", channel,
                    (unsigned int)cred.uid, (int)cred.pid,
                    (unsigned int)geteuid());
    }
    return false;
}

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
        if (fd >= 0 && cpr_peer_trusted(fd, "cpr channel")) {
            return fd;
        }
        if (fd >= 0) {
            /* Somebody else's: keep waiting for the old process. */
            close(fd);
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            error_setg_errno(errp, errno, "accepting on the cpr channel");
            return -1;
        }
    }
}

/*
 * The old process, by a pidfd opened while it is connected (so its pid
 * cannot have been reused): only a UNIX socket names its peer.
 */
static void cpr_source_watch(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
        cred.pid > 0) {
        cpr_src_pidfd = syscall(SYS_pidfd_open, cred.pid, 0);
    }
}

bool cpr_transfer_source_gone(void)
{
    struct pollfd pfd = { .fd = cpr_src_pidfd, .events = POLLIN };
    int r;

    if (cpr_src_pidfd < 0) {
        return false;
    }
    do {
        r = poll(&pfd, 1, CPR_SOURCE_EXIT_MS);
    } while (r < 0 && errno == EINTR);
    return r > 0;
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
    cpr_source_watch(fd);
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

bool cpr_transfer_incoming_reply(GError **errp)
{
    g_autoptr(GBytes) reply = cpr_owner_reply();
    size_t len;
    const uint8_t *p = g_bytes_get_data(reply, &len);

    if (cpr_in_fd < 0) {
        error_setg(errp, "cannot answer the old process: the cpr "
                   "connection is gone");
        return false;
    }
    while (len > 0) {
        /* A few bytes into an idle socket: the write does not block. */
        ssize_t n = send(cpr_in_fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error_setg_errno(errp, n < 0 ? errno : EIO, "cannot answer the "
                             "old process on the cpr channel (it gave the "
                             "update up?)");
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
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
    if (cpr_src_pidfd >= 0) {
        close(cpr_src_pidfd);
        cpr_src_pidfd = -1;
    }
}

/* ---- old process ---- */

int cpr_transfer_open_fd(const MigChannel *cpr, GError **errp)
{
    MigConn c = MIG_CONN_INIT;

    if (!mig_outgoing_open(&cpr->addr, &c, errp)) {
        return -1;
    }
    if (!c.can_pass_fds) {
        close(c.fd);
        error_setg(errp, "the 'cpr' migration channel fd '%s' is not a UNIX "
                   "socket", cpr->addr.fd_str);
        return -1;
    }
    return c.fd;
}

/* Read N bytes of the reply by DEADLINE (monotonic µs). */
static bool cpr_reply_read(int fd, int cancel_fd, uint8_t *p, size_t n,
                           int64_t deadline, GError **errp)
{
    while (n > 0) {
        struct pollfd pfd[2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = cancel_fd, .events = POLLIN },
        };
        int64_t left = deadline - g_get_monotonic_time();
        ssize_t r;

        if (left <= 0) {
            error_setg(errp, "the new process did not say within %d s "
                       "which chardevs it takes over (it may hang; see "
                       "its log)", CPR_REPLY_TIMEOUT_MS / 1000);
            return false;
        }
        r = poll(pfd, 2, (left + 999) / 1000);
        if (r < 0 && errno != EINTR) {
            error_setg_errno(errp, errno, "cpr reply: poll failed");
            return false;
        }
        if (r <= 0) {
            continue;
        }
        if (cancel_fd >= 0 && pfd[1].revents) {
            error_setg(errp, "migration cancelled");
            return false;
        }
        r = recv(fd, p, n, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN ||
                      errno == EWOULDBLOCK)) {
            continue;
        }
        if (r <= 0) {
            error_setg(errp, "the new process closed the cpr channel before "
                       "it said which chardevs it takes over (it exited or "
                       "failed; see its log)");
            return false;
        }
        p += r;
        n -= r;
    }
    return true;
}

/*
 * The new process's one answer: the chardevs it adopted. The others stay
 * with this process (cpr_owner_handed_over()).
 */
static bool cpr_transfer_recv_reply(int fd, int cancel_fd, GError **errp)
{
    int64_t deadline = g_get_monotonic_time() +
                       (int64_t)CPR_REPLY_TIMEOUT_MS * 1000;
    uint8_t hdr[CPR_FRAME_HEADER], tail[4];
    g_autofree uint8_t *payload = NULL;
    uint32_t len;
    bool ok;

    if (!cpr_reply_read(fd, cancel_fd, hdr, sizeof(hdr), deadline, errp) ||
        !cpr_owner_reply_header(hdr, &len, errp)) {
        return false;
    }
    payload = g_malloc(MAX(len, 1));
    if (!cpr_reply_read(fd, cancel_fd, payload, len, deadline, errp) ||
        !cpr_reply_read(fd, cancel_fd, tail, sizeof(tail), deadline, errp)) {
        return false;
    }
    bql_lock();
    ok = cpr_owner_apply_reply(
        hdr, payload, len,
        (uint32_t)tail[0] << 24 | tail[1] << 16 | tail[2] << 8 | tail[3], errp);
    bql_unlock();
    return ok;
}

/*
 * The binary of the process that listens on the cpr connection FD (the
 * new process), open, or -1: kept so that a refusal can be explained
 * after it has exited.
 */
static int cpr_peer_binary(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    g_autofree char *exe = NULL;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
        cred.pid <= 0) {
        return -1;
    }
    exe = g_strdup_printf("/proc/%d/exe", (int)cred.pid);
    return open(exe, O_RDONLY | O_CLOEXEC);
}

/*
 * The new process closed the connection without a reply (ERR). If its
 * binary BIN is a baton that cannot read our CPR state (an older
 * release), that is why: say so.
 */
static void cpr_explain_no_reply(int bin, GError *err, GError **errp)
{
    g_autofree char *reads = NULL;
    unsigned int lo, hi;
    uint32_t v = cpr_state_written_version();
    bool marked;

    if (bin < 0 || !cpr_binary_state_versions(NULL, bin, &lo, &hi, &marked) ||
        (v >= lo && v <= hi)) {
        g_propagate_error(errp, err);
        return;
    }
    reads = cpr_versions_text(lo, hi, marked);
    error_setg(errp, "%s: it is a baton that reads %s, and this one writes "
               "version %d; update to a baton of this release or a newer "
               "one", err->message, reads, v);
    g_error_free(err);
}

bool cpr_transfer_send(const MigChannel *ch, int cancel_fd, int *out_fd,
                       GError **errp)
{
    g_autofree char *name = mig_address_to_string(&ch->addr);
    g_autofree char *desc = g_strdup_printf("cpr channel '%s'", name);
    g_autofree char *fp = NULL;
    MigConn conn = MIG_CONN_INIT;
    GError *err = NULL;
    MigStream *f;
    int copy, bin;
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
    /* Before it has any of the state, so before it can exit on it. */
    bin = cpr_peer_binary(conn.fd);
    /*
     * The registry changes under the big lock; the fds are duplicated
     * into the stream's queue here, so the write needs no lock.
     */
    bql_lock();
    fp = cpr_config_fingerprint();
    ok = cpr_state_save(f, MIG_MODE_CPR_TRANSFER, fp, NULL, errp);
    bql_unlock();
    if (!ok) {
        mig_stream_close_noerr(f);
    } else {
        ok = mig_stream_close(f, errp) &&
             cpr_transfer_recv_reply(conn.fd, cancel_fd, &err);
    }
    if (err) {
        cpr_explain_no_reply(bin, err, errp);
    }
    if (bin >= 0) {
        close(bin);
    }
    return ok;
}
