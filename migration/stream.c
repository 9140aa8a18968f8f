/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MigStream: buffered, byte-counted big-endian I/O over a descriptor or
 * memory, with sticky errors, SCM_RIGHTS descriptor passing, a token-bucket
 * rate limit and a thread-safe shutdown. It knows nothing of the record
 * format on top (migration/savevm.c).
 */
#include "util/osdep.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "migration/stream.h"
#include "util/crc32c.h"
#include "util/fault-inject.h"
#include "util/scm-rights.h"

#define STREAM_BUF_SIZE (64 * 1024)
/*
 * Readers: large enough that a RAM record's pages cost few read() calls,
 * small enough to stay in a core's cache between the kernel's copy into
 * it, the copy out to guest RAM and the checksum over it.
 */
#define STREAM_READ_BUF_SIZE (256 * 1024)
/*
 * Readers, after a direct read (mig_get_iov()) in a window: what comes
 * next is likely another batch header followed by data that should go
 * direct too, so fills stop short of it.
 */
#define STREAM_SMALL_FILL 1024
/* fd writers: references (plus buffer pieces) per writev(). */
#define STREAM_IOV_MAX MIN(IOV_MAX, 1024)
/* Descriptors per sendmsg(): well under the kernel's SCM_MAX_FD (253). */
#define STREAM_FDS_PER_MSG 16
/* Room for what one recvmsg() may hand us (one skb's worth, and slack). */
#define STREAM_FDS_PER_RECV 64
#define RATE_WINDOW_US (100 * 1000)
/* Longest sleep or poll between checks of the shutdown flag. */
#define STREAM_SLICE_MS 10

struct MigStream {
    char *name;
    int fd; /* -1 for memory streams */
    bool is_writer;
    bool is_socket; /* send with MSG_NOSIGNAL, shutdown() works */
    bool can_pass_fds;
    bool is_mem;
    bool collect_fds;   /* memory writer that keeps what mig_put_fd() got */
    MigStream *fd_parent; /* memory child: its descriptors live there */

    /*
     * fd writer: buf[0..len) waits for a flush. Reader: buf[pos..len) is
     * unread (for memory readers buf is the whole input).
     */
    uint8_t *buf;
    size_t buf_size;
    size_t pos;
    size_t len;
    bool own_buf;
    GByteArray *mem; /* memory writer */

    /*
     * Writers, mig_put_buffer_ref(): fd writers queue what the next flush
     * writes as IOV (buffer pieces and references, in order; DATA_LEN
     * bytes in all); memory child writers keep REFS, each inserted before
     * byte AT of MEM, REF_BYTES in all.
     */
    GArray *iov;
    size_t iov_bytes;
    GArray *refs;
    size_t ref_bytes;

    /*
     * Socket writers: a pipe through which referenced pieces are spliced
     * into the socket instead of copied (stream_splice_all()); -1 until
     * first used. NO_SPLICE: the socket refused a splice once.
     */
    int splice_pipe[2];
    size_t pipe_bytes; /* in the pipe, not yet spliced into the socket */
    bool no_splice;

    GArray *fds_out; /* duplicates waiting for the next flush */
    GArray *fds_in;  /* received, not yet taken: fds_in[fds_in_head..] */
    guint fds_in_head;

    GError *err;
    bool eof; /* reader: the input ended */
    bool small_fill; /* reader: fills take at most STREAM_SMALL_FILL */
    uint64_t bytes;

    /*
     * Reader window (mig_stream_window_begin()): gets may consume at most
     * WINDOW_LEFT more bytes, and WINDOW_CRC covers what they consumed
     * up to buf[CRC_FROM]; buf[CRC_FROM..pos) is summed lazily, in one
     * go, before the buffer is refilled or the window ends.
     */
    bool window;
    size_t window_left;
    uint32_t window_crc;
    size_t crc_from;

    uint64_t rate_limit; /* bytes per second, 0 = unlimited */
    int64_t window_start;
    uint64_t window_bytes;

    GMutex lock; /* orders shutdown() against close() */
    int shut;    /* atomic */
};

static void stream_set_errorv(MigStream *f, int errnum, const char *fmt,
                              va_list ap) G_GNUC_PRINTF(3, 0);

static void stream_set_errorv(MigStream *f, int errnum, const char *fmt,
                              va_list ap)
{
    g_autofree char *msg = NULL;

    if (f->err) {
        return;
    }
    msg = g_strdup_vprintf(fmt, ap);
    if (errnum) {
        f->err = g_error_new(BATON_ERROR, BATON_ERROR_GENERIC, "%s: %s", msg,
                             g_strerror(errnum));
    } else {
        f->err = g_error_new_literal(BATON_ERROR, BATON_ERROR_GENERIC, msg);
    }
}

static void G_GNUC_PRINTF(2, 3) stream_fail(MigStream *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    stream_set_errorv(f, 0, fmt, ap);
    va_end(ap);
}

static void G_GNUC_PRINTF(3, 4)
    stream_fail_errno(MigStream *f, int errnum, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    stream_set_errorv(f, errnum, fmt, ap);
    va_end(ap);
}

static MigStream *stream_alloc(const char *name, bool is_writer)
{
    MigStream *f = g_new0(MigStream, 1);

    f->name = g_strdup(name);
    f->fd = -1;
    f->splice_pipe[0] = f->splice_pipe[1] = -1;
    f->is_writer = is_writer;
    f->fds_out = g_array_new(FALSE, FALSE, sizeof(int));
    f->fds_in = g_array_new(FALSE, FALSE, sizeof(int));
    f->iov = g_array_new(FALSE, FALSE, sizeof(struct iovec));
    f->refs = g_array_new(FALSE, FALSE, sizeof(MigStreamRef));
    g_mutex_init(&f->lock);
    return f;
}

MigStream *mig_stream_new_fd(int fd, bool is_writer, bool can_pass_fds,
                             const char *name)
{
    MigStream *f = stream_alloc(name, is_writer);
    struct stat st;

    f->fd = fd;
    f->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
    f->can_pass_fds = can_pass_fds && f->is_socket;
    f->buf_size = is_writer ? STREAM_BUF_SIZE : STREAM_READ_BUF_SIZE;
    f->buf = g_malloc(f->buf_size);
    f->own_buf = true;
    return f;
}

MigStream *mig_stream_new_mem_reader(const void *buf, size_t len,
                                     const int *fds, unsigned int nfds)
{
    MigStream *f = stream_alloc("memory stream", false);

    f->is_mem = true;
    f->buf = g_memdup2(buf, len);
    f->own_buf = true;
    f->buf_size = f->len = len;
    f->can_pass_fds = true;
    for (unsigned int i = 0; i < nfds; i++) {
        int copy = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);

        if (copy < 0) {
            stream_fail_errno(f, errno, "cannot duplicate descriptor %d",
                              fds[i]);
            break;
        }
        g_array_append_val(f->fds_in, copy);
    }
    return f;
}

MigStream *mig_stream_new_mem_writer(void)
{
    MigStream *f = stream_alloc("memory stream", true);

    f->is_mem = true;
    f->mem = g_byte_array_new();
    return f;
}

MigStream *mig_stream_new_mem_fd_writer(void)
{
    MigStream *f = mig_stream_new_mem_writer();

    f->collect_fds = true;
    f->can_pass_fds = true;
    return f;
}

const int *mig_stream_mem_fds(MigStream *f, unsigned int *n)
{
    g_assert(f->collect_fds);
    *n = f->fds_out->len;
    return (const int *)f->fds_out->data;
}

MigStream *mig_stream_new_mem_child_reader(MigStream *parent, const void *buf,
                                           size_t len)
{
    MigStream *f = stream_alloc(parent->name, false);

    f->is_mem = true;
    f->fd_parent = parent;
    f->can_pass_fds = parent->can_pass_fds;
    f->buf = (uint8_t *)buf;
    f->buf_size = f->len = len;
    return f;
}

MigStream *mig_stream_new_mem_child_writer(MigStream *parent)
{
    MigStream *f = mig_stream_new_mem_writer();

    g_free(f->name);
    f->name = g_strdup(parent->name);
    f->fd_parent = parent;
    f->can_pass_fds = parent->can_pass_fds;
    return f;
}

const uint8_t *mig_stream_mem_data(MigStream *f, size_t *len)
{
    g_assert(f->is_mem && f->is_writer && !f->refs->len);
    *len = f->mem->len;
    return f->mem->data;
}

bool mig_stream_mem_has_refs(MigStream *f)
{
    g_assert(f->is_mem && f->is_writer);
    return f->refs->len > 0;
}

size_t mig_stream_mem_len(MigStream *f)
{
    g_assert(f->is_mem && f->is_writer);
    return f->mem->len + f->ref_bytes;
}

void mig_stream_mem_foreach(MigStream *f, MigStreamPieceFn fn, void *opaque)
{
    size_t at = 0;

    g_assert(f->is_mem && f->is_writer);
    for (guint i = 0; i < f->refs->len; i++) {
        const MigStreamRef *r = &g_array_index(f->refs, MigStreamRef, i);

        if (r->at > at) {
            fn(f->mem->data + at, r->at - at, false, opaque);
            at = r->at;
        }
        fn(r->ptr, r->len, true, opaque);
    }
    if (f->mem->len > at) {
        fn(f->mem->data + at, f->mem->len - at, false, opaque);
    }
}

void mig_stream_mem_reset(MigStream *f)
{
    g_assert(f->is_mem && f->is_writer);
    g_byte_array_set_size(f->mem, 0);
    g_array_set_size(f->refs, 0);
    f->ref_bytes = 0;
}

size_t mig_stream_remaining(MigStream *f)
{
    if (f->window) {
        return f->window_left;
    }
    if (!f->is_mem || f->is_writer) {
        return SIZE_MAX;
    }
    return f->len - f->pos;
}

const uint8_t *mig_stream_peek(MigStream *f, size_t *avail)
{
    g_assert(!f->is_writer && !f->window);
    *avail = f->err ? 0 : f->len - f->pos;
    return f->buf + f->pos;
}

int mig_stream_fd(MigStream *f)
{
    return f->fd;
}

const char *mig_stream_name(MigStream *f)
{
    return f->name;
}

bool mig_stream_can_pass_fds(MigStream *f)
{
    return f->can_pass_fds;
}

bool mig_stream_is_shutdown(MigStream *f)
{
    return g_atomic_int_get(&f->shut);
}

/* ---- raw descriptor I/O ---- */

/* Wait until FD is ready for EVENTS or the stream is shut down. */
static void stream_wait(MigStream *f, short events)
{
    struct pollfd pfd = {.fd = f->fd, .events = events};

    while (!mig_stream_is_shutdown(f)) {
        int r = poll(&pfd, 1, STREAM_SLICE_MS * 10);

        if (r != 0 && !(r < 0 && errno == EINTR)) {
            return;
        }
    }
}

/*
 * Token bucket over 100 ms windows: each window allows a tenth of the
 * rate; a write that overdraws the bucket is paid back by later windows.
 */
static void stream_rate_wait(MigStream *f)
{
    uint64_t budget = MAX(f->rate_limit / 10, 1);

    if (!f->rate_limit) {
        return;
    }
    while (!mig_stream_is_shutdown(f)) {
        int64_t now = g_get_monotonic_time();
        int64_t left;

        if (now - f->window_start >= RATE_WINDOW_US) {
            uint64_t windows = (now - f->window_start) / RATE_WINDOW_US;
            uint64_t paid = windows * budget;

            f->window_bytes =
                f->window_bytes > paid ? f->window_bytes - paid : 0;
            f->window_start += windows * RATE_WINDOW_US;
        }
        if (f->window_bytes < budget) {
            return;
        }
        left = f->window_start + RATE_WINDOW_US - now;
        g_usleep(MIN(left, STREAM_SLICE_MS * 1000));
    }
}

static void close_fd_array(GArray *fds, guint from)
{
    for (guint i = from; i < fds->len; i++) {
        close(g_array_index(fds, int, i));
    }
    g_array_set_size(fds, 0);
}

/* sendmsg() with up to STREAM_FDS_PER_MSG queued descriptors attached. */
static ssize_t stream_send_fds(MigStream *f, const uint8_t *p, size_t n)
{
    guint nfds = MIN(f->fds_out->len, STREAM_FDS_PER_MSG);
    union {
        char buf[CMSG_SPACE(sizeof(int) * STREAM_FDS_PER_MSG)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = CMSG_SPACE(sizeof(int) * nfds),
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    ssize_t r;

    /* If more descriptors wait than fit, keep bytes for the next ones. */
    if (f->fds_out->len > nfds) {
        iov.iov_len = 1;
    }
    memset(control.buf, 0, sizeof(control.buf));
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), f->fds_out->data, sizeof(int) * nfds);
    r = sendmsg(f->fd, &msg, MSG_NOSIGNAL);
    if (r > 0) {
        for (guint i = 0; i < nfds; i++) {
            close(g_array_index(f->fds_out, int, i));
        }
        g_array_remove_range(f->fds_out, 0, nfds);
    }
    return r;
}

/* Write N bytes to the descriptor; false + sticky error on failure. */
static bool stream_write_all(MigStream *f, const uint8_t *p, size_t n)
{
    while (n > 0) {
        /* Under a rate limit, write in window-sized pieces, not bursts. */
        size_t chunk =
            f->rate_limit ? MIN(n, MAX(f->rate_limit / 10, 4096)) : n;
        ssize_t r;

        stream_rate_wait(f);
        if (mig_stream_is_shutdown(f)) {
            stream_fail(f, "channel shut down");
            return false;
        }
        if (f->can_pass_fds && f->fds_out->len) {
            r = stream_send_fds(f, p, chunk);
        } else if (f->is_socket) {
            r = send(f->fd, p, chunk, MSG_NOSIGNAL);
        } else {
            r = write(f->fd, p, chunk);
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                stream_wait(f, POLLOUT);
                continue;
            }
            if (mig_stream_is_shutdown(f)) {
                stream_fail(f, "channel shut down");
            } else {
                stream_fail_errno(f, errno, "write failed");
            }
            return false;
        }
        if (r == 0) {
            stream_fail(f, "write made no progress");
            return false;
        }
        f->bytes += r;
        f->window_bytes += r;
        p += r;
        n -= r;
    }
    return true;
}

static void stream_keep_fd(int fd, void *opaque)
{
    MigStream *f = opaque;

    g_array_append_val(f->fds_in, fd);
}

static ssize_t stream_recv_fds(MigStream *f, struct iovec *iov, int iovcnt)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * STREAM_FDS_PER_RECV)];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {
        .msg_iov = iov,
        .msg_iovlen = iovcnt,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    ssize_t r = recvmsg(f->fd, &msg, MSG_CMSG_CLOEXEC);

    if (r >= 0) {
        scm_rights_foreach(&msg, stream_keep_fd, f);
        if (msg.msg_flags & MSG_CTRUNC) {
            stream_fail(f, "too many descriptors in one message");
            return -2;
        }
    }
    return r;
}

/* Sum what the window consumed from the buffer so far. */
static void stream_window_sum(MigStream *f)
{
    if (f->window && f->pos > f->crc_from) {
        f->window_crc = crc32c_update(f->window_crc, f->buf + f->crc_from,
                                      f->pos - f->crc_from);
    }
    f->crc_from = f->pos;
}

/*
 * One read into IOV (fd readers), waiting for input. Returns the bytes
 * read, 0 at the end of input (f->eof set), -1 on error (then sticky).
 */
static ssize_t stream_readv(MigStream *f, struct iovec *iov, int iovcnt)
{
    for (;;) {
        ssize_t r;

        if (mig_stream_is_shutdown(f)) {
            stream_fail(f, "channel shut down");
            return -1;
        }
        if (f->can_pass_fds) {
            r = stream_recv_fds(f, iov, iovcnt);
        } else {
            r = readv(f->fd, iov, iovcnt);
        }
        if (r == -2) {
            return -1;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                stream_wait(f, POLLIN);
                continue;
            }
            if (mig_stream_is_shutdown(f)) {
                stream_fail(f, "channel shut down");
            } else {
                stream_fail_errno(f, errno, "read failed");
            }
            return -1;
        }
        if (r == 0) {
            if (mig_stream_is_shutdown(f)) {
                stream_fail(f, "channel shut down");
                return -1;
            }
            f->eof = true;
        }
        return r;
    }
}

/*
 * Read more input into the buffer (fd readers). Returns false at the end
 * of input or on error (then sticky).
 */
static bool stream_fill(MigStream *f)
{
    ssize_t r;

    if (f->err || f->eof) {
        return false;
    }
    if (f->is_mem) {
        f->eof = true;
        return false;
    }
    stream_window_sum(f);
    f->crc_from = 0;
    if (f->pos == f->len) {
        f->pos = f->len = 0;
    } else if (f->pos > 0) {
        memmove(f->buf, f->buf + f->pos, f->len - f->pos);
        f->len -= f->pos;
        f->pos = 0;
    }
    r = stream_readv(f,
                     &(struct iovec){f->buf + f->len,
                                     f->small_fill
                                         ? MIN(STREAM_SMALL_FILL,
                                               f->buf_size - f->len)
                                         : f->buf_size - f->len},
                     1);
    if (r <= 0) {
        return false;
    }
    f->len += r;
    return true;
}

/* ---- writing ---- */

/*
 * Splice pipe capacity asked for: the most an unprivileged process may
 * set by default (fs.pipe-max-size), 256 pages. Less only costs round
 * trips through the pipe.
 */
#define STREAM_PIPE_SIZE (1024 * 1024)

static bool stream_pipe_open(MigStream *f)
{
    if (f->splice_pipe[0] >= 0) {
        return true;
    }
    if (pipe2(f->splice_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        f->splice_pipe[0] = f->splice_pipe[1] = -1;
        f->no_splice = true; /* copies instead; only slower */
        return false;
    }
    fcntl(f->splice_pipe[1], F_SETPIPE_SZ, STREAM_PIPE_SIZE);
    return true;
}

static void stream_pipe_close(MigStream *f)
{
    for (int i = 0; i < 2; i++) {
        if (f->splice_pipe[i] >= 0) {
            close(f->splice_pipe[i]);
            f->splice_pipe[i] = -1;
        }
    }
    f->pipe_bytes = 0;
}

/*
 * The socket refused a splice: send what the pipe holds by copy, and copy
 * from now on.
 */
static bool stream_pipe_unsplice(MigStream *f)
{
    uint8_t chunk[4096];

    f->no_splice = true;
    while (f->pipe_bytes > 0) {
        ssize_t r =
            read(f->splice_pipe[0], chunk, MIN(sizeof(chunk), f->pipe_bytes));

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            stream_fail_errno(f, r < 0 ? errno : EIO,
                              "cannot read back the splice pipe");
            return false;
        }
        f->pipe_bytes -= r;
        if (!stream_write_all(f, chunk, r)) {
            return false;
        }
    }
    return true;
}

/*
 * splice() into a socket sends without MSG_NOSIGNAL: a peer that went away
 * raises SIGPIPE. So SIGPIPE is blocked around the call, and one the call
 * raised (it goes to this thread) is taken back, for the stream to fail
 * with EPIPE as send() does, whatever the process does with SIGPIPE.
 */
static ssize_t stream_splice_out(MigStream *f)
{
    sigset_t pipe_set, old;
    ssize_t r;
    int err;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    r = splice(f->splice_pipe[0], NULL, f->fd, NULL, f->pipe_bytes,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    err = errno;
    if (r < 0 && err == EPIPE && !sigismember(&old, SIGPIPE)) {
        const struct timespec now = {0, 0};

        while (sigtimedwait(&pipe_set, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return r;
}

/* Move everything the pipe holds into the socket. */
static bool stream_pipe_drain(MigStream *f)
{
    while (f->pipe_bytes > 0) {
        ssize_t r;

        if (mig_stream_is_shutdown(f)) {
            stream_fail(f, "channel shut down");
            return false;
        }
        r = stream_splice_out(f);
        if (r > 0) {
            f->pipe_bytes -= r;
            f->bytes += r;
            f->window_bytes += r;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            stream_wait(f, POLLOUT);
            continue;
        }
        if (r < 0 && (errno == EINVAL || errno == EOPNOTSUPP) &&
            !mig_stream_is_shutdown(f)) {
            return stream_pipe_unsplice(f);
        }
        if (r == 0) {
            stream_fail(f, "write made no progress");
        } else if (mig_stream_is_shutdown(f)) {
            stream_fail(f, "channel shut down");
        } else {
            stream_fail_errno(f, errno, "write failed");
        }
        return false;
    }
    return true;
}

/*
 * Sockets: write the queued pieces through the pipe. Referenced pieces
 * are vmspliced: the pipe and then the socket's buffers point at their
 * pages, and the peer's read is the only copy made of them (a copy into
 * the socket costs the sender as much CPU as the peer's copy out).
 * Buffer pieces are copied into the pipe, so the buffer can be reused
 * at once. A reference thus stays in use after the flush, until the peer
 * has read it: mig_put_buffer_ref()'s callers send memory that nothing
 * changes before the migration ends (a stopped guest's RAM).
 */
static bool stream_splice_all(MigStream *f)
{
    const struct iovec *iov = (const struct iovec *)f->iov->data;
    const uint8_t *buf_end = f->buf + f->buf_size;

    for (guint i = 0; i < f->iov->len; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t n = iov[i].iov_len;
        bool ref = p < f->buf || p >= buf_end;

        while (n > 0) {
            bool full;
            ssize_t r;

            if (f->no_splice) {
                if (!stream_write_all(f, p, n)) {
                    return false;
                }
                break;
            }
            if (ref && fault_inject_fail("stream-vmsplice")) {
                r = -1;
                errno = EFAULT;
            } else if (ref) {
                struct iovec v = {.iov_base = (void *)p, .iov_len = n};

                r = vmsplice(f->splice_pipe[1], &v, 1, SPLICE_F_NONBLOCK);
            } else {
                r = write(f->splice_pipe[1], p, n);
            }
            if (r > 0) {
                p += r;
                n -= r;
                f->pipe_bytes += r;
                continue;
            }
            if (r < 0 && errno == EINTR) {
                continue;
            }
            /*
             * A full pipe goes into the socket. Anything else (memory
             * vmsplice() cannot take) ends splicing on this stream.
             */
            full = r < 0 && errno == EAGAIN && f->pipe_bytes > 0;
            if (!stream_pipe_drain(f)) {
                return false;
            }
            f->no_splice |= !full;
        }
    }
    return stream_pipe_drain(f);
}

/*
 * Write the queued pieces with as few writev() calls as the kernel
 * allows. Under a rate limit, or with descriptors to pass, piece by
 * piece instead (neither happens while references are queued: only a
 * stopped guest's RAM is sent by reference, unlimited and fd-less).
 */
static bool stream_writev_all(MigStream *f)
{
    struct iovec *iov = (struct iovec *)f->iov->data;
    guint n = f->iov->len;

    if (f->rate_limit || f->fds_out->len) {
        for (guint i = 0; i < n; i++) {
            if (!stream_write_all(f, iov[i].iov_base, iov[i].iov_len)) {
                return false;
            }
        }
        return true;
    }
    if (f->is_socket && !f->no_splice && stream_pipe_open(f)) {
        return stream_splice_all(f);
    }
    while (n > 0) {
        ssize_t r;

        if (mig_stream_is_shutdown(f)) {
            stream_fail(f, "channel shut down");
            return false;
        }
        if (f->is_socket) {
            struct msghdr msg = {
                .msg_iov = iov,
                .msg_iovlen = MIN(n, STREAM_IOV_MAX),
            };

            r = sendmsg(f->fd, &msg, MSG_NOSIGNAL);
        } else {
            r = writev(f->fd, iov, MIN(n, STREAM_IOV_MAX));
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            stream_wait(f, POLLOUT);
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                stream_fail(f, "write made no progress");
            } else if (mig_stream_is_shutdown(f)) {
                stream_fail(f, "channel shut down");
            } else {
                stream_fail_errno(f, errno, "write failed");
            }
            return false;
        }
        f->bytes += r;
        f->window_bytes += r;
        /* Skip what went out; a partly written piece keeps its tail. */
        while (n > 0 && (size_t)r >= iov->iov_len) {
            r -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= r;
        }
    }
    return true;
}

bool mig_stream_flush(MigStream *f)
{
    g_assert(f->is_writer);
    if (f->err) {
        return false;
    }
    if (f->is_mem) {
        return true;
    }
    if (f->iov->len) {
        if (stream_writev_all(f)) {
            f->len = 0;
        }
        g_array_set_size(f->iov, 0);
        f->iov_bytes = 0;
    } else if (f->len && stream_write_all(f, f->buf, f->len)) {
        f->len = 0;
    }
    return !f->err;
}

/* fd writers with references queued: BUF's new bytes extend the queue. */
static void stream_iov_append(MigStream *f, const uint8_t *p, size_t len)
{
    struct iovec *last =
        f->iov->len ? &g_array_index(f->iov, struct iovec, f->iov->len - 1)
                    : NULL;

    if (last && (uint8_t *)last->iov_base + last->iov_len == p) {
        last->iov_len += len;
    } else {
        struct iovec v = {.iov_base = (void *)p, .iov_len = len};

        g_array_append_val(f->iov, v);
    }
    f->iov_bytes += len;
}

void mig_put_buffer_ref(MigStream *f, const void *buf, size_t len)
{
    g_assert(f->is_writer);
    if (f->err || !len) {
        return;
    }
    if (f->is_mem && f->fd_parent) {
        MigStreamRef r = {.at = f->mem->len, .ptr = buf, .len = len};

        g_array_append_val(f->refs, r);
        f->ref_bytes += len;
        f->bytes += len;
        return;
    }
    if (f->is_mem || len < 1024) {
        mig_put_buffer(f, buf, len); /* not worth a piece of its own */
        return;
    }
    if (!f->iov->len && f->len) {
        stream_iov_append(f, f->buf, f->len);
    }
    if (f->iov->len + 1 >= STREAM_IOV_MAX && !mig_stream_flush(f)) {
        return;
    }
    stream_iov_append(f, buf, len);
}

void mig_put_buffer(MigStream *f, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    g_assert(f->is_writer);
    if (f->err || !len) {
        return;
    }
    if (f->is_mem) {
        g_byte_array_append(f->mem, p, len);
        f->bytes += len;
        return;
    }
    if (f->len + len > f->buf_size || f->iov->len + 1 >= STREAM_IOV_MAX) {
        if (!mig_stream_flush(f)) {
            return;
        }
        if (len >= f->buf_size) {
            /* Large payloads go straight out; descriptors ride along. */
            stream_write_all(f, p, len);
            return;
        }
    }
    memcpy(f->buf + f->len, p, len);
    if (f->iov->len) {
        stream_iov_append(f, f->buf + f->len, len);
    }
    f->len += len;
}

void mig_put_u8(MigStream *f, uint8_t v)
{
    mig_put_buffer(f, &v, 1);
}

void mig_put_be16(MigStream *f, uint16_t v)
{
    uint16_t be = GUINT16_TO_BE(v);

    mig_put_buffer(f, &be, sizeof(be));
}

void mig_put_be32(MigStream *f, uint32_t v)
{
    uint32_t be = GUINT32_TO_BE(v);

    mig_put_buffer(f, &be, sizeof(be));
}

void mig_put_be64(MigStream *f, uint64_t v)
{
    uint64_t be = GUINT64_TO_BE(v);

    mig_put_buffer(f, &be, sizeof(be));
}

void mig_put_str(MigStream *f, const char *s)
{
    size_t len = strlen(s);

    g_assert(len <= 255);
    mig_put_u8(f, len);
    mig_put_buffer(f, s, len);
}

void mig_put_fd(MigStream *f, int fd)
{
    MigStream *owner = f->fd_parent ? f->fd_parent : f;
    int copy;

    g_assert(f->is_writer);
    if (f->err) {
        return;
    }
    if (!owner->can_pass_fds || (owner->is_mem && !owner->collect_fds)) {
        stream_fail(f, "cannot pass file descriptors over this channel");
        return;
    }
    if (owner->collect_fds) {
        /* The caller's own fd: the record names it (cpr-exec inherits). */
        g_array_append_val(owner->fds_out, fd);
        return;
    }
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        stream_fail_errno(f, errno, "cannot duplicate descriptor %d", fd);
        return;
    }
    g_array_append_val(owner->fds_out, copy);
}

/* ---- reading ---- */

/* Readers: N more bytes consumed (the window's share of them too). */
static void stream_took(MigStream *f, size_t n)
{
    f->bytes += n;
    f->window_left -= f->window ? n : 0;
}

void mig_get_buffer(MigStream *f, void *buf, size_t len)
{
    uint8_t *p = buf;

    g_assert(!f->is_writer);
    if (f->window && len > f->window_left && !f->err) {
        stream_fail(f, "unexpected end of record");
    }
    while (len > 0) {
        size_t avail = f->len - f->pos;
        size_t n;

        if (f->err) {
            break;
        }
        if (!avail) {
            if (!stream_fill(f)) {
                stream_fail(f, "unexpected end of stream");
                break;
            }
            continue;
        }
        n = MIN(avail, len);
        memcpy(p, f->buf + f->pos, n);
        f->pos += n;
        stream_took(f, n);
        p += n;
        len -= n;
    }
    /* Sticky-error contract: a failed get reads as zeroes, all of it. */
    if (f->err) {
        memset(buf, 0, p - (uint8_t *)buf + len);
    }
}

/*
 * Read directly into VEC (advanced as it fills; IOVCNT entries, at most
 * IOV_MAX), summing what lands into the window's checksum. The buffer
 * must be empty.
 */
static void stream_read_direct(MigStream *f, struct iovec *vec, int iovcnt)
{
    while (iovcnt > 0 && !f->err) {
        ssize_t r = stream_readv(f, vec, iovcnt);

        if (r <= 0) {
            if (!f->err) {
                stream_fail(f, "unexpected end of stream");
            }
            return;
        }
        stream_took(f, r);
        while (r > 0) {
            size_t n = MIN((size_t)r, vec->iov_len);

            if (f->window) {
                f->window_crc = crc32c_update(f->window_crc, vec->iov_base, n);
            }
            vec->iov_base = (uint8_t *)vec->iov_base + n;
            vec->iov_len -= n;
            r -= n;
            if (!vec->iov_len) {
                vec++;
                iovcnt--;
            }
        }
    }
}

void mig_get_iov(MigStream *f, const struct iovec *iov, int iovcnt)
{
    struct iovec vec[STREAM_IOV_MAX];
    size_t total = 0;
    int i = 0;

    g_assert(!f->is_writer && iovcnt >= 0 && iovcnt <= STREAM_IOV_MAX);
    for (int k = 0; k < iovcnt; k++) {
        total += iov[k].iov_len;
        vec[k] = iov[k];
    }
    if (f->window && total > f->window_left && !f->err) {
        stream_fail(f, "unexpected end of record");
    }
    /* What is buffered already is copied out... */
    while (i < iovcnt && !f->err) {
        size_t n = MIN(f->len - f->pos, vec[i].iov_len);

        if (!n && vec[i].iov_len) {
            break;
        }
        mig_get_buffer(f, vec[i].iov_base, n);
        vec[i].iov_base = (uint8_t *)vec[i].iov_base + n;
        vec[i].iov_len -= n;
        if (!vec[i].iov_len) {
            i++;
        }
    }
    /* ...the rest goes straight from the socket to its place. */
    if (i < iovcnt && !f->err) {
        if (f->is_mem || f->eof) {
            stream_fail(f, "unexpected end of stream");
        } else {
            stream_window_sum(f);
            f->pos = f->len = f->crc_from = 0;
            stream_read_direct(f, vec + i, iovcnt - i);
            f->small_fill = f->window;
        }
    }
    /* Sticky-error contract: a failed get reads as zeroes, all of it. */
    if (f->err) {
        for (int k = 0; k < iovcnt; k++) {
            memset(iov[k].iov_base, 0, iov[k].iov_len);
        }
    }
}

uint8_t mig_get_u8(MigStream *f)
{
    uint8_t v;

    if (f->pos < f->len && !f->err && (!f->window || f->window_left)) {
        stream_took(f, 1);
        return f->buf[f->pos++];
    }
    mig_get_buffer(f, &v, 1);
    return v;
}

uint16_t mig_get_be16(MigStream *f)
{
    uint16_t v;

    mig_get_buffer(f, &v, sizeof(v));
    return GUINT16_FROM_BE(v);
}

uint32_t mig_get_be32(MigStream *f)
{
    uint32_t v;

    mig_get_buffer(f, &v, sizeof(v));
    return GUINT32_FROM_BE(v);
}

uint64_t mig_get_be64(MigStream *f)
{
    uint64_t v;

    mig_get_buffer(f, &v, sizeof(v));
    return GUINT64_FROM_BE(v);
}

void mig_get_str(MigStream *f, char buf[256])
{
    uint8_t len = mig_get_u8(f);

    mig_get_buffer(f, buf, len);
    buf[f->err ? 0 : len] = '\0';
}

int mig_get_fd(MigStream *f)
{
    MigStream *owner = f->fd_parent ? f->fd_parent : f;
    int fd;

    g_assert(!f->is_writer);
    if (f->err) {
        return -1;
    }
    if (!owner->can_pass_fds) {
        stream_fail(f, "cannot receive file descriptors over this channel");
        return -1;
    }
    if (owner->fds_in_head >= owner->fds_in->len) {
        stream_fail(f, "expected a file descriptor, none was received");
        return -1;
    }
    fd = g_array_index(owner->fds_in, int, owner->fds_in_head++);
    if (owner->fds_in_head == owner->fds_in->len) {
        g_array_set_size(owner->fds_in, 0);
        owner->fds_in_head = 0;
    }
    return fd;
}

unsigned int mig_get_fd_pending(MigStream *f)
{
    MigStream *owner = f->fd_parent ? f->fd_parent : f;

    return owner->fds_in->len - owner->fds_in_head;
}

bool mig_stream_eof(MigStream *f)
{
    g_assert(!f->is_writer);
    if (f->window) {
        return !f->window_left && !f->err;
    }
    if (f->pos < f->len || f->err) {
        return false;
    }
    stream_fill(f);
    return f->eof && f->pos == f->len && !f->err;
}

void mig_stream_window_begin(MigStream *f, size_t len, uint32_t crc)
{
    g_assert(!f->is_writer && !f->window);
    f->window = true;
    f->small_fill = false;
    f->window_left = len;
    f->window_crc = crc;
    f->crc_from = f->pos;
}

uint32_t mig_stream_window_end(MigStream *f)
{
    g_assert(f->window);
    stream_window_sum(f);
    f->window = false;
    f->small_fill = false;
    f->window_left = 0;
    return f->window_crc;
}

void mig_stream_window_skip(MigStream *f)
{
    g_assert(f->window);
    while (f->window_left && !f->err) {
        size_t n = MIN(f->window_left, f->len - f->pos);

        if (!n) {
            if (!stream_fill(f)) {
                stream_fail(f, "unexpected end of stream");
            }
            continue;
        }
        f->pos += n;
        stream_took(f, n);
    }
}

/* ---- state ---- */

const GError *mig_stream_error(MigStream *f)
{
    return f->err;
}

void mig_stream_set_error(MigStream *f, GError *err)
{
    if (f->err) {
        g_error_free(err);
        return;
    }
    f->err = err;
}

bool mig_stream_check(MigStream *f, GError **errp)
{
    if (!f->err) {
        return true;
    }
    g_set_error(errp, f->err->domain, f->err->code, "%s: %s", f->name,
                f->err->message);
    return false;
}

uint64_t mig_stream_bytes(MigStream *f)
{
    return f->bytes;
}

void mig_stream_set_rate_limit(MigStream *f, uint64_t bytes_per_sec)
{
    f->rate_limit = bytes_per_sec;
    f->window_start = g_get_monotonic_time();
    f->window_bytes = 0;
}

void mig_stream_shutdown(MigStream *f)
{
    g_mutex_lock(&f->lock);
    g_atomic_int_set(&f->shut, 1);
    if (f->fd >= 0 && f->is_socket) {
        shutdown(f->fd, SHUT_RDWR);
    }
    g_mutex_unlock(&f->lock);
}

bool mig_stream_close(MigStream *f, GError **errp)
{
    bool ok;

    if (f->is_writer && !f->is_mem) {
        mig_stream_flush(f);
    }
    if (f->fds_out->len && !f->err) {
        stream_fail(f, "%u file descriptors queued but never sent",
                    f->fds_out->len);
    }
    ok = mig_stream_check(f, errp);

    stream_pipe_close(f);
    g_mutex_lock(&f->lock);
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    g_mutex_unlock(&f->lock);

    if (f->collect_fds) {
        g_array_set_size(f->fds_out, 0);    /* the caller's, not ours */
    }
    close_fd_array(f->fds_out, 0);
    close_fd_array(f->fds_in, f->fds_in_head);
    g_array_free(f->fds_out, TRUE);
    g_array_free(f->fds_in, TRUE);
    g_array_free(f->iov, TRUE);
    g_array_free(f->refs, TRUE);
    if (f->own_buf) {
        g_free(f->buf);
    }
    if (f->mem) {
        g_byte_array_free(f->mem, TRUE);
    }
    g_clear_error(&f->err);
    g_mutex_clear(&f->lock);
    g_free(f->name);
    g_free(f);
    return ok;
}

void mig_stream_close_noerr(MigStream *f)
{
    mig_stream_close(f, NULL);
}
