/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MigStream: round trips over memory and socketpairs, SCM_RIGHTS descriptor
 * passing, sticky errors, truncation, rate limiting (byte counts only, no
 * timing) and shutdown unblocking another thread.
 */
#include "util/osdep.h"

#include <poll.h>
#include <sys/socket.h>

#include "migration/stream.h"

static void make_socketpair(int sv[2])
{
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 31 + seed + (i >> 8));
    }
}

static void test_mem_encoding(void)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(MigStream) r = NULL;
    static const uint8_t want[] = {
        0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
        0x05, 0x06, 0x07, 0x08, 0x03, 'a',  'b',  'c',  0x00, 'x',  'y',
    };
    const uint8_t *data;
    char str[256];
    uint8_t two[2];
    size_t len;

    mig_put_u8(w, 0xab);
    mig_put_be16(w, 0x1234);
    mig_put_be32(w, 0xdeadbeef);
    mig_put_be64(w, 0x0102030405060708ull);
    mig_put_str(w, "abc");
    mig_put_str(w, "");
    mig_put_buffer(w, "xy", 2);
    g_assert_true(mig_stream_flush(w));
    data = mig_stream_mem_data(w, &len);
    g_assert_cmpmem(data, len, want, sizeof(want));
    g_assert_cmpuint(mig_stream_bytes(w), ==, sizeof(want));
    g_assert_cmpint(mig_stream_fd(w), ==, -1);

    r = mig_stream_new_mem_reader(data, len, NULL, 0);
    g_assert_false(mig_stream_eof(r));
    g_assert_cmpuint(mig_get_u8(r), ==, 0xab);
    g_assert_cmpuint(mig_get_be16(r), ==, 0x1234);
    g_assert_cmpuint(mig_get_be32(r), ==, 0xdeadbeef);
    g_assert_cmpuint(mig_get_be64(r), ==, 0x0102030405060708ull);
    mig_get_str(r, str);
    g_assert_cmpstr(str, ==, "abc");
    mig_get_str(r, str);
    g_assert_cmpstr(str, ==, "");
    g_assert_cmpuint(mig_stream_remaining(r), ==, 2);
    mig_get_buffer(r, two, 2);
    g_assert_cmpmem(two, 2, "xy", 2);
    g_assert_true(mig_stream_eof(r));
    g_assert_null(mig_stream_error(r));
    g_assert_cmpuint(mig_stream_bytes(r), ==, sizeof(want));
    g_assert_true(mig_stream_close(g_steal_pointer(&r), NULL));
}

static void test_sticky_error(void)
{
    static const uint8_t three[] = {1, 2, 3};
    g_autoptr(MigStream) r = mig_stream_new_mem_reader(three, 3, NULL, 0);
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    size_t len;

    g_assert_cmpuint(mig_get_be32(r), ==, 0);
    g_assert_nonnull(mig_stream_error(r));
    /* Later gets return zeroes even though nothing was consumed. */
    g_assert_cmpuint(mig_get_u8(r), ==, 0);
    g_assert_false(mig_stream_eof(r));
    g_assert_false(mig_stream_check(r, &err));
    g_assert_nonnull(strstr(err->message, "memory stream: "));
    g_assert_nonnull(strstr(err->message, "unexpected end of stream"));
    g_clear_error(&err);

    /* The first error wins; writes after it are dropped. */
    mig_put_u8(w, 1);
    mig_stream_set_error(w, g_error_new_literal(BATON_ERROR, 0, "first"));
    mig_stream_set_error(w, g_error_new_literal(BATON_ERROR, 0, "second"));
    mig_put_be64(w, 2);
    g_assert_false(mig_stream_flush(w));
    mig_stream_mem_data(w, &len);
    g_assert_cmpuint(len, ==, 1);
    g_assert_cmpstr(mig_stream_error(w)->message, ==, "first");
    g_assert_false(mig_stream_close(g_steal_pointer(&w), &err));
    g_assert_cmpstr(err->message, ==, "memory stream: first");
}

static void test_truncated(void)
{
    uint8_t buf[16];

    fill_pattern(buf, sizeof(buf), 1);
    for (size_t n = 0; n < sizeof(buf); n++) {
        g_autoptr(MigStream) r = mig_stream_new_mem_reader(buf, n, NULL, 0);
        uint8_t out[16];

        memset(out, 0xaa, sizeof(out));
        mig_get_buffer(r, out, sizeof(out));
        g_assert_nonnull(mig_stream_error(r));
        /* A failed get reads as zeroes, even the part that was there. */
        for (size_t i = 0; i < sizeof(out); i++) {
            g_assert_cmpuint(out[i], ==, 0);
        }
    }
}

typedef struct Pump {
    int fd;
    const uint8_t *data;
    size_t len;
    uint64_t rate;
    bool pass_fds;
    bool ok;
    uint64_t bytes;
} Pump;

/* Writer thread: the pattern as puts of several widths, then close. */
static gpointer pump_writer(gpointer opaque)
{
    Pump *p = opaque;
    MigStream *w = mig_stream_new_fd(p->fd, true, p->pass_fds, "pump");

    mig_stream_set_rate_limit(w, p->rate);
    mig_put_be32(w, p->len);
    mig_put_buffer(w, p->data, p->len / 2);
    for (size_t i = p->len / 2; i < p->len; i++) {
        mig_put_u8(w, p->data[i]);
    }
    mig_put_be64(w, 0x1122334455667788ull);
    p->ok = mig_stream_flush(w);
    p->bytes = mig_stream_bytes(w);
    p->ok &= mig_stream_close(w, NULL);
    return NULL;
}

static void run_pump(size_t len, uint64_t rate, bool nonblock)
{
    g_autofree uint8_t *data = g_malloc(len);
    g_autofree uint8_t *got = g_malloc(len);
    g_autoptr(MigStream) r = NULL;
    Pump p = {.data = data, .len = len, .rate = rate};
    GThread *th;
    int sv[2];

    fill_pattern(data, len, 7);
    make_socketpair(sv);
    if (nonblock) {
        g_assert_cmpint(fcntl(sv[0], F_SETFL, O_NONBLOCK), ==, 0);
    }
    p.fd = sv[1];
    th = g_thread_new("pump", pump_writer, &p);
    r = mig_stream_new_fd(sv[0], false, true, "reader");
    g_assert_cmpuint(mig_get_be32(r), ==, len);
    mig_get_buffer(r, got, len);
    g_assert_cmpuint(mig_get_be64(r), ==, 0x1122334455667788ull);
    g_assert_null(mig_stream_error(r));
    g_assert_cmpmem(got, len, data, len);
    g_thread_join(th);
    g_assert_true(p.ok);
    g_assert_true(mig_stream_eof(r));
    g_assert_cmpuint(p.bytes, ==, len + 12);
    g_assert_cmpuint(mig_stream_bytes(r), ==, len + 12);
    g_assert_cmpstr(mig_stream_name(r), ==, "reader");
}

static void test_socketpair_roundtrip(void)
{
    run_pump(300 * 1000, 0, false);
}

static void test_nonblocking_reader(void)
{
    run_pump(200 * 1000, 0, true);
}

static void test_rate_limit_bytes(void)
{
    /* 1.2 MB at 8 MB/s: all of it arrives and is counted once. */
    run_pump(1200 * 1000, 8 * 1000 * 1000, false);
}

static bool fd_is_cloexec(int fd)
{
    return fcntl(fd, F_GETFD) & FD_CLOEXEC;
}

/* 20 pipes' write ends cross a socketpair (more than one sendmsg's 16). */
static void test_fd_passing(void)
{
    enum { N = 20 };
    g_autoptr(MigStream) w = NULL;
    g_autoptr(MigStream) r = NULL;
    int pipes[N][2];
    int sv[2];

    make_socketpair(sv);
    w = mig_stream_new_fd(sv[1], true, true, "w");
    r = mig_stream_new_fd(sv[0], false, true, "r");
    g_assert_true(mig_stream_can_pass_fds(w));
    for (int i = 0; i < N; i++) {
        g_assert_cmpint(pipe(pipes[i]), ==, 0);
        mig_put_fd(w, pipes[i][1]);
        /* The stream sent a duplicate: ours can go right away. */
        close(pipes[i][1]);
        mig_put_be32(w, 1000 + i);
    }
    g_assert_true(mig_stream_flush(w));

    for (int i = 0; i < N; i++) {
        char c = 'a' + i, back = 0;
        int fd;

        g_assert_cmpuint(mig_get_be32(r), ==, 1000 + i);
        fd = mig_get_fd(r);
        g_assert_cmpint(fd, >=, 0);
        g_assert_true(fd_is_cloexec(fd));
        g_assert_cmpint(write(fd, &c, 1), ==, 1);
        close(fd);
        g_assert_cmpint(read(pipes[i][0], &back, 1), ==, 1);
        g_assert_cmpint(back, ==, c);
        close(pipes[i][0]);
    }
    /* None left. */
    g_assert_cmpint(mig_get_fd(r), ==, -1);
    g_assert_nonnull(strstr(mig_stream_error(r)->message, "none was received"));
}

static void test_fd_passing_refused(void)
{
    g_autoptr(MigStream) mem = mig_stream_new_mem_writer();
    g_autoptr(MigStream) nofd = NULL;
    g_autoptr(MigStream) rd = NULL;
    int sv[2];

    mig_put_fd(mem, 0);
    g_assert_nonnull(
        strstr(mig_stream_error(mem)->message, "cannot pass file descriptors"));

    make_socketpair(sv);
    nofd = mig_stream_new_fd(sv[1], true, false, "plain");
    g_assert_false(mig_stream_can_pass_fds(nofd));
    mig_put_fd(nofd, 0);
    g_assert_nonnull(mig_stream_error(nofd));

    rd = mig_stream_new_fd(sv[0], false, false, "plain-reader");
    g_assert_cmpint(mig_get_fd(rd), ==, -1);
    g_assert_nonnull(strstr(mig_stream_error(rd)->message,
                            "cannot receive file descriptors"));
}

/* Children share the parent's descriptor queue (savevm records). */
static void test_child_streams(void)
{
    static const uint8_t payload[] = {9, 8, 7};
    int p[2];
    g_autoptr(MigStream) parent = NULL;
    g_autoptr(MigStream) child = NULL;
    g_autoptr(MigStream) w = NULL;
    g_autoptr(MigStream) cw = NULL;
    int fd, sv[2];
    size_t len;

    g_assert_cmpint(pipe(p), ==, 0);
    parent = mig_stream_new_mem_reader(payload, 0, p, 1);
    child = mig_stream_new_mem_child_reader(parent, payload, sizeof(payload));
    g_assert_cmpuint(mig_stream_remaining(child), ==, 3);
    g_assert_cmpuint(mig_get_u8(child), ==, 9);
    fd = mig_get_fd(child);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(fd, !=, p[0]);
    close(fd);
    g_assert_cmpint(mig_get_fd(child), ==, -1);
    g_assert_null(mig_stream_error(parent));

    make_socketpair(sv);
    w = mig_stream_new_fd(sv[1], true, true, "sock");
    cw = mig_stream_new_mem_child_writer(w);
    mig_put_fd(cw, p[1]);
    mig_put_u8(cw, 5);
    g_assert_null(mig_stream_error(cw));
    mig_stream_mem_data(cw, &len);
    g_assert_cmpuint(len, ==, 1);
    mig_stream_mem_reset(cw);
    mig_stream_mem_data(cw, &len);
    g_assert_cmpuint(len, ==, 0);
    /* Queued on the parent: closing it with nothing to carry them fails. */
    g_assert_false(mig_stream_close(g_steal_pointer(&w), NULL));
    close(sv[0]);
    close(p[0]);
    close(p[1]);
}

/*
 * Wait until thread TID (published in *TID by the thread itself) sleeps
 * in the kernel: the only place the threads below sleep is the call under
 * test (a read, or the rate limit's wait), so the shutdown that follows
 * meets them there, not before they got there.
 */
static void wait_sleeping(const int *tid)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    for (;;) {
        g_autofree char *path = NULL;
        g_autofree char *stat = NULL;
        const char *end;

        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (g_atomic_int_get(tid)) {
            path = g_strdup_printf("/proc/self/task/%d/stat",
                                   g_atomic_int_get(tid));
            if (g_file_get_contents(path, &stat, NULL, NULL) &&
                (end = strrchr(stat, ')')) && end[1] == ' ' &&
                end[2] == 'S') {
                return;
            }
        }
        g_usleep(1000);
    }
}

typedef struct Blocked {
    MigStream *r;
    uint8_t got;
    int tid;
} Blocked;

static gpointer blocked_reader(gpointer opaque)
{
    Blocked *b = opaque;

    g_atomic_int_set(&b->tid, gettid());
    b->got = mig_get_u8(b->r);
    return NULL;
}

static void test_shutdown_unblocks_reader(void)
{
    Blocked b = {0};
    GThread *th;
    int sv[2];

    make_socketpair(sv);
    b.r = mig_stream_new_fd(sv[0], false, false, "blocked");
    th = g_thread_new("blocked", blocked_reader, &b);
    wait_sleeping(&b.tid);      /* blocked in read() */
    mig_stream_shutdown(b.r);
    g_thread_join(th);
    g_assert_true(mig_stream_is_shutdown(b.r));
    g_assert_cmpuint(b.got, ==, 0);
    g_assert_nonnull(strstr(mig_stream_error(b.r)->message, "shut down"));
    mig_stream_close_noerr(b.r);
    close(sv[1]);
}

typedef struct SlowWriter {
    MigStream *w;
    bool flushed;
    int tid;
} SlowWriter;

static gpointer slow_writer(gpointer opaque)
{
    SlowWriter *s = opaque;
    static uint8_t junk[40000];

    g_atomic_int_set(&s->tid, gettid());
    /* The first flush goes out and overdraws the bucket by ~40 s. */
    s->flushed = true;
    for (int i = 0; i < 3 && s->flushed; i++) {
        mig_put_buffer(s->w, junk, sizeof(junk));
        s->flushed = mig_stream_flush(s->w);
    }
    return NULL;
}

/* A writer sleeping for its rate limit stops at shutdown. */
static void test_shutdown_rate_limited_writer(void)
{
    SlowWriter s = {0};
    GThread *th;
    int sv[2];

    make_socketpair(sv);
    s.w = mig_stream_new_fd(sv[1], true, false, "slow");
    /* 1000 B/s: the first 40000-byte flush alone is 40 s of budget. */
    mig_stream_set_rate_limit(s.w, 1000);
    th = g_thread_new("slow", slow_writer, &s);
    wait_sleeping(&s.tid);      /* waiting for its rate limit */
    mig_stream_shutdown(s.w);
    g_thread_join(th);
    g_assert_false(s.flushed);
    g_assert_nonnull(strstr(mig_stream_error(s.w)->message, "shut down"));
    mig_stream_close_noerr(s.w);
    close(sv[0]);
}

/* Writes to a peer that went away fail without SIGPIPE. */
static void test_peer_closed(void)
{
    g_autoptr(MigStream) w = NULL;
    static uint8_t junk[100000];
    int sv[2];

    make_socketpair(sv);
    close(sv[0]);
    w = mig_stream_new_fd(sv[1], true, false, "gone");
    mig_put_buffer(w, junk, sizeof(junk));
    g_assert_false(mig_stream_flush(w));
    g_assert_nonnull(strstr(mig_stream_error(w)->message, "write failed"));
}

/*
 * References on a socket (the final RAM pass): many pieces, more than the
 * splice pipe and the socket buffer hold, mixed with buffered bytes that
 * the stream's buffer is reused for after each flush.
 */
#define REF_PAGES 600
#define REF_PAGE 4096

typedef struct RefPump {
    int fd;
    uint8_t *pages;
} RefPump;

static gpointer ref_writer(gpointer opaque)
{
    RefPump *p = opaque;
    MigStream *w = mig_stream_new_fd(p->fd, true, false, "refs");
    bool ok = true;

    for (unsigned int i = 0; i < REF_PAGES; i++) {
        mig_put_be32(w, i);
        mig_put_buffer_ref(w, p->pages + i * REF_PAGE, REF_PAGE);
        if (i % 100 == 99) {
            ok &= mig_stream_flush(w);
        }
    }
    mig_put_be32(w, 0xfeedface);
    ok &= mig_stream_close(w, NULL);
    return GINT_TO_POINTER(ok);
}

static void test_refs_socket(void)
{
    g_autofree uint8_t *pages = g_malloc(REF_PAGES * REF_PAGE);
    g_autofree uint8_t *got = g_malloc(REF_PAGE);
    g_autoptr(MigStream) r = NULL;
    RefPump p = {.pages = pages};
    GThread *th;
    int sv[2];

    fill_pattern(pages, REF_PAGES * REF_PAGE, 5);
    make_socketpair(sv);
    p.fd = sv[1];
    th = g_thread_new("refs", ref_writer, &p);
    r = mig_stream_new_fd(sv[0], false, false, "refs");
    for (unsigned int i = 0; i < REF_PAGES; i++) {
        g_assert_cmpuint(mig_get_be32(r), ==, i);
        mig_get_buffer(r, got, REF_PAGE);
        g_assert_cmpmem(got, REF_PAGE, pages + i * REF_PAGE, REF_PAGE);
    }
    g_assert_cmphex(mig_get_be32(r), ==, 0xfeedface);
    g_assert_true(mig_stream_eof(r));
    g_assert_null(mig_stream_error(r));
    g_assert_true(GPOINTER_TO_INT(g_thread_join(th)));
}

/*
 * Memory vmsplice() refuses (BATON_FAULT_INJECT=stream-vmsplice:once, set
 * by main(): the first vmsplice() of the process, this test's): what the
 * pipe held goes first, the rest is copied, in order, and from then on
 * the stream copies (a change after the flush does not reach the peer).
 */
static void test_refs_fallback(void)
{
    g_autofree uint8_t *pages = g_malloc(8 * REF_PAGE);
    g_autofree uint8_t *want = g_malloc(8 * REF_PAGE);
    g_autofree uint8_t *got = g_malloc(8 * REF_PAGE);
    g_autoptr(MigStream) w = NULL;
    g_autoptr(MigStream) r = NULL;
    int sv[2];

    make_socketpair(sv);
    w = mig_stream_new_fd(sv[1], true, false, "w");
    r = mig_stream_new_fd(sv[0], false, false, "r");
    fill_pattern(pages, 8 * REF_PAGE, 3);
    memcpy(want, pages, 8 * REF_PAGE);
    mig_put_u8(w, 0x17);
    mig_put_buffer_ref(w, pages, 4 * REF_PAGE);
    mig_put_u8(w, 0x18);
    mig_put_buffer_ref(w, pages + 4 * REF_PAGE, 4 * REF_PAGE);
    g_assert_true(mig_stream_flush(w));
    memset(pages, 0x5a, 8 * REF_PAGE);
    g_assert_cmpuint(mig_get_u8(r), ==, 0x17);
    mig_get_buffer(r, got, 4 * REF_PAGE);
    g_assert_cmpuint(mig_get_u8(r), ==, 0x18);
    mig_get_buffer(r, got + 4 * REF_PAGE, 4 * REF_PAGE);
    g_assert_null(mig_stream_error(r));
    g_assert_cmpmem(got, 8 * REF_PAGE, want, 8 * REF_PAGE);
}

/* Spliced writes to a peer that went away fail without SIGPIPE too. */
static void test_refs_peer_closed(void)
{
    g_autofree uint8_t *pages = g_malloc0(64 * REF_PAGE);
    g_autoptr(MigStream) w = NULL;
    int sv[2];

    make_socketpair(sv);
    close(sv[0]);
    w = mig_stream_new_fd(sv[1], true, false, "gone");
    mig_put_u8(w, 1);
    mig_put_buffer_ref(w, pages, 64 * REF_PAGE);
    g_assert_false(mig_stream_flush(w));
    g_assert_nonnull(strstr(mig_stream_error(w)->message, "write failed"));
}

/*
 * On a socket, a reference is not copied at the flush: the peer reads the
 * memory itself (mig_put_buffer_ref()'s contract says it must not change
 * before the migration ends; this breaks it on purpose to see that).
 */
static void test_refs_not_copied(void)
{
    g_autofree uint8_t *pages = g_malloc(8 * REF_PAGE);
    g_autofree uint8_t *got = g_malloc(8 * REF_PAGE);
    g_autoptr(MigStream) w = NULL;
    g_autoptr(MigStream) r = NULL;
    int sv[2];

    make_socketpair(sv);
    w = mig_stream_new_fd(sv[1], true, false, "w");
    r = mig_stream_new_fd(sv[0], false, false, "r");
    fill_pattern(pages, 8 * REF_PAGE, 9);
    mig_put_u8(w, 0x42);
    mig_put_buffer_ref(w, pages, 8 * REF_PAGE);
    g_assert_true(mig_stream_flush(w));
    memset(pages, 0x5a, 8 * REF_PAGE);
    g_assert_cmpuint(mig_get_u8(r), ==, 0x42);
    mig_get_buffer(r, got, 8 * REF_PAGE);
    g_assert_null(mig_stream_error(r));
    g_assert_cmpmem(got, 8 * REF_PAGE, pages, 8 * REF_PAGE);
}

int main(int argc, char **argv)
{
    g_setenv("BATON_FAULT_INJECT", "stream-vmsplice:once", TRUE);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/stream/mem-encoding", test_mem_encoding);
    g_test_add_func("/migration/stream/sticky-error", test_sticky_error);
    g_test_add_func("/migration/stream/truncated", test_truncated);
    g_test_add_func("/migration/stream/socketpair", test_socketpair_roundtrip);
    g_test_add_func("/migration/stream/nonblocking", test_nonblocking_reader);
    g_test_add_func("/migration/stream/rate-limit", test_rate_limit_bytes);
    g_test_add_func("/migration/stream/fd-passing", test_fd_passing);
    g_test_add_func("/migration/stream/fd-refused", test_fd_passing_refused);
    g_test_add_func("/migration/stream/child", test_child_streams);
    g_test_add_func("/migration/stream/shutdown-reader",
                    test_shutdown_unblocks_reader);
    g_test_add_func("/migration/stream/shutdown-writer",
                    test_shutdown_rate_limited_writer);
    g_test_add_func("/migration/stream/peer-closed", test_peer_closed);
    g_test_add_func("/migration/stream/refs-fallback", test_refs_fallback);
    g_test_add_func("/migration/stream/refs-socket", test_refs_socket);
    g_test_add_func("/migration/stream/refs-peer-closed",
                    test_refs_peer_closed);
    g_test_add_func("/migration/stream/refs-not-copied", test_refs_not_copied);
    return g_test_run();
}
