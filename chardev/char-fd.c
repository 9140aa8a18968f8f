/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fd plumbing every chardev backend shares: a GSource that reads an fd
 * into the frontend only as fast as the frontend accepts bytes, a write-all
 * helper that rides out EAGAIN, and small option parsers. The backends
 * themselves live in char-file.c, char-stdio.c, char-pty.c, char-socket.c.
 */
#include "util/osdep.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "util/scm-rights.h"

#include "chardev-internal.h"

/*
 * While the frontend is full (can_read() == 0) the fd stays in the poll
 * set with no events, so a hang-up is still noticed (poll always reports
 * POLLHUP/POLLERR). The frontend has no way to say "I have room again",
 * so while one is attached and full the watch looks again after this
 * many milliseconds.
 */
#define CHR_PAUSED_RECHECK_MS 10
#define CHR_READ_BUF_LEN 4096
#define CHR_POLL_READ (G_IO_IN | G_IO_HUP | G_IO_ERR)

typedef struct ChrWatch {
    GSource source;
    Chardev *chr;
    int fd;
    bool is_socket;
    /*
     * The peer hung up with bytes still queued while the frontend was
     * full: keep the fd out of the poll set (it would report POLLHUP
     * forever) until the frontend takes the rest.
     */
    bool hold;
    gpointer tag;       /* the fd's poll record, NULL while holding */
    GIOCondition events;
    ChrEofFunc eof;
} ChrWatch;

static gboolean chr_watch_prepare(GSource *source, gint *timeout)
{
    ChrWatch *w = (ChrWatch *)source;
    bool may_read = chr_cpr_may_read(w->chr);
    size_t n = may_read ? chr_be_can_read(w->chr) : 0;
    GIOCondition want = n ? CHR_POLL_READ : 0;

    *timeout = (!n && may_read && w->chr->fe_ops) ? CHR_PAUSED_RECHECK_MS
                                                  : -1;
    if (n) {
        w->hold = false;
    }
    /*
     * Live update: the fd belongs to the other process for now (or for
     * good). Out of the poll set, not even a hang-up is acted on.
     */
    if (w->hold || !may_read) {
        if (w->tag) {
            g_source_remove_unix_fd(source, w->tag);
            w->tag = NULL;
        }
        return FALSE;
    }
    if (!w->tag) {
        w->tag = g_source_add_unix_fd(source, w->fd, want);
    } else if (w->events != want) {
        g_source_modify_unix_fd(source, w->tag, want);
    }
    w->events = want;
    return FALSE;
}

static gboolean chr_watch_check(GSource *source)
{
    ChrWatch *w = (ChrWatch *)source;

    return w->tag && chr_cpr_may_read(w->chr) &&
           g_source_query_unix_fd(source, w->tag) != 0;
}

/*
 * Descriptors a socket peer sent (SCM_RIGHTS) with the bytes being
 * delivered to a frontend right now. Frontends run commands synchronously
 * inside their read callback (the monitor's getfd / add-fd), so the
 * descriptors only need to live for that callback; any not taken are
 * closed after it, as QEMU closes unused ancillary fds. Main thread only.
 */
#define CHR_MAX_MSGFDS 16
static Chardev *msgfd_chr;
static int msgfds[CHR_MAX_MSGFDS];
static unsigned int msgfd_count, msgfd_next;

static void chr_msgfd_keep(int fd, void *opaque)
{
    if (msgfd_count < CHR_MAX_MSGFDS) {
        msgfds[msgfd_count++] = fd;
    } else {
        close(fd);
    }
}

static void chr_msgfds_release(void)
{
    while (msgfd_next < msgfd_count) {
        close(msgfds[msgfd_next++]);
    }
    msgfd_count = msgfd_next = 0;
    msgfd_chr = NULL;
}

int chardev_get_msgfd(Chardev *chr)
{
    if ((chr && chr != msgfd_chr) || msgfd_next >= msgfd_count) {
        return -1;
    }
    return msgfds[msgfd_next++];
}

/* recv() that also collects SCM_RIGHTS descriptors (UNIX sockets). */
static ssize_t chr_recv_msg(int fd, uint8_t *buf, size_t n)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * CHR_MAX_MSGFDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = n };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);

    if (r >= 0) {
        scm_rights_foreach(&msg, chr_msgfd_keep, NULL);
    }
    return r;
}

/* Bytes queued for reading, 0 if unknown. */
static int chr_fd_pending(int fd)
{
    int n = 0;

    return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

static gboolean chr_watch_dispatch(GSource *source, GSourceFunc cb,
                                   gpointer data)
{
    ChrWatch *w = (ChrWatch *)source;
    uint8_t buf[CHR_READ_BUF_LEN];
    GIOCondition cond = w->tag ? g_source_query_unix_fd(source, w->tag) : 0;
    size_t n;
    ssize_t r;

    /* The state may have changed while the main loop polled unlocked. */
    if (!cond || !chr_cpr_may_read(w->chr)) {
        return G_SOURCE_CONTINUE;
    }
    /*
     * The callbacks below may destroy this watch (and even the chardev);
     * GLib keeps the source alive until dispatch returns, but nothing
     * here may touch W after them.
     */
    n = MIN(chr_be_can_read(w->chr), sizeof(buf));
    if (!n) {
        if (!(cond & (G_IO_HUP | G_IO_ERR))) {
            return G_SOURCE_CONTINUE;
        }
        if (w->chr->fe_ops && chr_fd_pending(w->fd) > 0) {
            w->hold = true;
        } else {
            w->eof(w->chr, 0);
        }
        return G_SOURCE_CONTINUE;
    }
    r = w->is_socket ? chr_recv_msg(w->fd, buf, n) : read(w->fd, buf, n);
    if (r > 0) {
        /* Descriptors always come with at least one byte of data. */
        msgfd_chr = w->chr;
        chr_be_read(w->chr, buf, r);
        chr_msgfds_release();
    } else if (r == 0) {
        w->eof(w->chr, 0);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        w->eof(w->chr, errno);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs chr_watch_funcs = {
    .prepare = chr_watch_prepare,
    .check = chr_watch_check,
    .dispatch = chr_watch_dispatch,
};

GSource *chr_watch_new(Chardev *chr, int fd, bool is_socket, ChrEofFunc eof)
{
    GSource *source = g_source_new(&chr_watch_funcs, sizeof(ChrWatch));
    ChrWatch *w = (ChrWatch *)source;
    g_autofree char *name = g_strdup_printf("chardev-%s",
                                            chardev_id(chr));

    w->chr = chr;
    w->fd = fd;
    w->is_socket = is_socket;
    w->eof = eof;
    g_source_set_name(source, name);
    g_source_attach(source, NULL);
    return source;
}

void chr_watch_clear(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

ssize_t chr_fd_write_all(int fd, bool is_socket, const uint8_t *buf,
                         size_t len)
{
    size_t done = 0;
    gint64 stalled_since = 0;

    while (done < len) {
        ssize_t r = is_socket
            ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
            : write(fd, buf + done, len - done);

        if (r > 0) {
            done += r;
            stalled_since = 0;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            gint64 now = g_get_monotonic_time();

            if (!stalled_since) {
                stalled_since = now;
            } else if (now - stalled_since >= CHR_WRITE_STALL_MS * 1000) {
                break;
            }
            poll(&pfd, 1, 100);
            continue;
        }
        return r < 0 ? -errno : -EIO;
    }
    return (done || !len) ? (ssize_t)done : -EAGAIN;
}

void chr_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

bool chr_parse_bool_opt(const char *name, const char *value, bool def,
                        bool *out, GError **errp)
{
    if (!value) {
        *out = def;
        return true;
    }
    if (!parse_bool(value, out)) {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
        return false;
    }
    return true;
}

bool chr_parse_uint_opt(const char *name, const char *value, uint64_t def,
                        uint64_t *out, GError **errp)
{
    if (!value) {
        *out = def;
        return true;
    }
    if (!parse_uint(value, out)) {
        error_setg(errp, "Parameter '%s' expects a non-negative number",
                   name);
        return false;
    }
    return true;
}
