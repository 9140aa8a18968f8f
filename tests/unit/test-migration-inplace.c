/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The switchover's copy-saving paths: pages sent by reference
 * (mig_put_buffer_ref(), spliced into a socketpair, memory child writers),
 * reader windows that sum a record's CRC as it is consumed, and the RAM
 * section loaded in place, whose damaged records must still fail as
 * checksum mismatches.
 */
#include "util/osdep.h"

#include <sys/socket.h>

#include "migration/stream.h"
#include "system/memory.h"
#include "system/runstate.h"
#include "util/crc32c.h"

#include "../../migration/savevm.h"

#define PAGE 4096

static void fill_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 31 + seed + (i >> 9));
    }
}

typedef struct Drain {
    int fd;
    GByteArray *got;
} Drain;

static gpointer drain_thread(gpointer opaque)
{
    Drain *d = opaque;
    uint8_t buf[65536];
    ssize_t r;

    while ((r = read(d->fd, buf, sizeof(buf))) > 0) {
        g_byte_array_append(d->got, buf, r);
    }
    return NULL;
}

/*
 * Small copies, references and large copies interleaved, more pieces than
 * one writev() takes and more bytes than the socket holds (partial
 * writes): the reader sees exactly the bytes in order.
 */
static void test_refs_socketpair(void)
{
    const size_t npages = 3000;
    g_autofree uint8_t *pages = g_malloc(npages * PAGE);
    g_autofree uint8_t *big = g_malloc(200000);
    g_autoptr(GByteArray) want = g_byte_array_new();
    Drain d = {.got = g_byte_array_new()};
    MigStream *w;
    GThread *th;
    int sv[2];

    fill_pattern(pages, npages * PAGE, 1);
    fill_pattern(big, 200000, 2);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    d.fd = sv[0];
    th = g_thread_new("drain", drain_thread, &d);
    w = mig_stream_new_fd(sv[1], true, false, "refs");
    for (size_t i = 0; i < npages; i++) {
        uint8_t hdr[9];

        memset(hdr, (int)i, sizeof(hdr));
        mig_put_buffer(w, hdr, sizeof(hdr));
        g_byte_array_append(want, hdr, sizeof(hdr));
        mig_put_buffer_ref(w, pages + i * PAGE, PAGE);
        g_byte_array_append(want, pages + i * PAGE, PAGE);
        if (i == npages / 2) {
            mig_put_buffer(w, big, 200000);
            g_byte_array_append(want, big, 200000);
        }
    }
    g_assert_true(mig_stream_flush(w));
    g_assert_cmpuint(mig_stream_bytes(w), ==, want->len);
    g_assert_true(mig_stream_close(w, NULL));
    g_thread_join(th);
    close(sv[0]);
    g_assert_cmpmem(d.got->data, d.got->len, want->data, want->len);
    g_byte_array_free(d.got, TRUE);
}

typedef struct Pieces {
    GByteArray *bytes;
    unsigned int refs;
} Pieces;

static void collect_piece(const void *p, size_t len, bool ref, void *opaque)
{
    Pieces *c = opaque;

    g_byte_array_append(c->bytes, p, len);
    c->refs += ref;
}

/* A child writer keeps references in order; a plain memory writer copies. */
static void test_refs_mem(void)
{
    g_autoptr(MigStream) top = mig_stream_new_mem_writer();
    g_autoptr(MigStream) rec = mig_stream_new_mem_child_writer(top);
    uint8_t page[PAGE], two[PAGE];
    Pieces c = {.bytes = g_byte_array_new()};
    const uint8_t *data;
    size_t len;

    fill_pattern(page, PAGE, 3);
    fill_pattern(two, PAGE, 4);
    mig_put_u8(rec, 0x11);
    mig_put_buffer_ref(rec, page, PAGE);
    mig_put_buffer_ref(rec, two, PAGE);
    mig_put_be32(rec, 0x22334455);
    g_assert_cmpuint(mig_stream_mem_len(rec), ==, 1 + 2 * PAGE + 4);
    mig_stream_mem_foreach(rec, collect_piece, &c);
    g_assert_cmpuint(c.refs, ==, 2);
    g_assert_cmpuint(c.bytes->len, ==, 1 + 2 * PAGE + 4);
    g_assert_cmpuint(c.bytes->data[0], ==, 0x11);
    g_assert_cmpmem(c.bytes->data + 1, PAGE, page, PAGE);
    g_assert_cmpmem(c.bytes->data + 1 + PAGE, PAGE, two, PAGE);
    g_assert_cmpuint(c.bytes->data[1 + 2 * PAGE], ==, 0x22);
    mig_stream_mem_reset(rec);
    g_assert_cmpuint(mig_stream_mem_len(rec), ==, 0);

    mig_put_buffer_ref(top, page, PAGE);
    data = mig_stream_mem_data(top, &len);
    g_assert_cmpmem(data, len, page, PAGE);
    g_byte_array_free(c.bytes, TRUE);
}

#define WINDOW 300000

/*
 * A window bounds the gets and sums what they consumed, in any pieces,
 * also pieces that mig_get_iov() reads straight from the channel (their
 * sum passes the 256 KiB a socket reader buffers).
 */
static void window_checks(MigStream *r, const uint8_t *data)
{
    uint8_t buf[1000];
    g_autofree uint8_t *big = g_malloc(291000);
    struct iovec iov[3] = {
        {big, 1000}, {big + 1000, 150000}, {big + 151000, 140000},
    };

    mig_stream_window_begin(r, WINDOW, 0x1234);
    g_assert_cmpuint(mig_stream_remaining(r), ==, WINDOW);
    g_assert_cmpuint(mig_get_u8(r), ==, data[0]);
    mig_get_buffer(r, buf, 999);
    g_assert_cmpmem(buf, 999, data + 1, 999);
    g_assert_false(mig_stream_eof(r));
    mig_get_iov(r, iov, 3);
    g_assert_cmpmem(big, 291000, data + 1000, 291000);
    g_assert_cmpuint(mig_stream_remaining(r), ==, WINDOW - 292000);
    mig_get_buffer(r, buf, 1000);
    g_assert_cmpmem(buf, 1000, data + 292000, 1000);
    mig_stream_window_skip(r);
    g_assert_true(mig_stream_eof(r));
    g_assert_cmphex(mig_stream_window_end(r), ==,
                    crc32c_update(0x1234, data, WINDOW));
    g_assert_null(mig_stream_error(r));

    /* Past the end of a window: an error, and zeroes in every piece. */
    mig_stream_window_begin(r, 10, 0);
    iov[0] = (struct iovec){buf, 5};
    iov[1] = (struct iovec){buf + 5, 6};
    memset(buf, 0xff, 11);
    mig_get_iov(r, iov, 2);
    g_assert_nonnull(mig_stream_error(r));
    g_assert_nonnull(strstr(mig_stream_error(r)->message, "end of record"));
    g_assert_cmpuint(buf[0], ==, 0);
    g_assert_cmpuint(buf[10], ==, 0);
    mig_stream_window_end(r);
}

typedef struct Feed {
    int fd;
    const uint8_t *data;
    size_t len;
} Feed;

static gpointer feed_thread(gpointer opaque)
{
    Feed *feed = opaque;

    /* Until all is written or the reader is gone (a failed load). */
    for (size_t done = 0; done < feed->len;) {
        ssize_t n = send(feed->fd, feed->data + done, feed->len - done,
                         MSG_NOSIGNAL);

        if (n <= 0) {
            break;
        }
        done += n;
    }
    close(feed->fd);
    return NULL;
}

static void test_window(void)
{
    size_t len = WINDOW + 100;
    g_autofree uint8_t *data = g_malloc(len);
    Feed feed = {.data = data, .len = len};
    MigStream *r;
    GThread *th;
    int sv[2];

    fill_pattern(data, len, 5);
    r = mig_stream_new_mem_reader(data, len, NULL, 0);
    window_checks(r, data);
    mig_stream_close_noerr(r);

    /* Over a socket the window spans buffer refills (256 KiB each). */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    feed.fd = sv[1];
    th = g_thread_new("feed", feed_thread, &feed);
    r = mig_stream_new_fd(sv[0], false, false, "window");
    window_checks(r, data);
    mig_stream_close_noerr(r);
    g_thread_join(th);
}

/* ---- the RAM section, loaded in place ---- */

typedef struct Guest {
    RAMBlock *rb;
    MemoryRegion *mr;
} Guest;

static Guest guest_new(uint64_t pages)
{
    GError *err = NULL;
    Guest g;

    g.rb = ram_block_new_anon("t.inplace", pages * PAGE, false, &err);
    g_assert_no_error(err);
    g.mr = g_new0(MemoryRegion, 1);
    memory_region_init_ram_from_block(g.mr, NULL, "t.inplace", g.rb, 0,
                                      pages * PAGE);
    memory_region_add_subregion(get_system_memory(), 0x100000, g.mr);
    return g;
}

/* Setup, then straight to complete: every page goes by reference. */
static uint8_t *save_stopped(size_t *len)
{
    SavevmOptions opts = {0};
    MigStream *f = mig_stream_new_mem_writer();
    GError *err = NULL;
    const uint8_t *data;
    uint8_t *copy;

    g_assert_true(savevm_write_header(f, &err));
    g_assert_true(savevm_setup(f, &opts, &err));
    g_assert_true(savevm_complete(f, &err));
    savevm_cleanup();
    g_assert_no_error(err);
    data = mig_stream_mem_data(f, len);
    copy = g_memdup2(data, *len);
    mig_stream_close_noerr(f);
    return copy;
}

static bool load(const uint8_t *data, size_t len, GError **errp)
{
    MigStream *f = mig_stream_new_mem_reader(data, len, NULL, 0);
    bool ok = savevm_load(f, errp);

    mig_stream_close_noerr(f);
    return ok;
}

/* The same over a socket: page batches are read straight into RAM. */
static bool load_socket(const uint8_t *data, size_t len, GError **errp)
{
    Feed feed = {.data = data, .len = len};
    MigStream *f;
    GThread *th;
    int sv[2];
    bool ok;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    feed.fd = sv[1];
    th = g_thread_new("feed", feed_thread, &feed);
    f = mig_stream_new_fd(sv[0], false, false, "inplace");
    ok = savevm_load(f, errp);
    /* A failed load stops reading: let the feeder finish. */
    shutdown(sv[0], SHUT_RD);
    mig_stream_close_noerr(f);
    g_thread_join(th);
    return ok;
}

/*
 * A stopped guest's pages (sent by reference, several records) load back
 * exactly; a flipped bit in a page or in an item header of a streamed
 * record fails the load as a checksum mismatch naming the section.
 */
static void test_ram_inplace(void)
{
    const uint64_t pages = 1500;
    Guest g = guest_new(pages);
    g_autofree uint8_t *want = NULL;
    g_autofree uint8_t *data = NULL;
    GError *err = NULL;
    size_t len;
    size_t spots[2];

    fill_pattern(g.rb->host, pages * PAGE, 6);
    want = g_memdup2(g.rb->host, pages * PAGE);
    bql_lock();
    data = save_stopped(&len);
    bql_unlock();
    memset(g.rb->host, 0, pages * PAGE);
    g_assert_true(load(data, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(g.rb->host, pages * PAGE, want, pages * PAGE);
    memset(g.rb->host, 0, pages * PAGE);
    g_assert_true(load_socket(data, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(g.rb->host, pages * PAGE, want, pages * PAGE);

    /* Cut inside a batch's data: the direct read fails at the channel's end. */
    g_assert_false(load_socket(data, len / 2, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "unexpected end of stream"));
    g_clear_error(&err);

    /* Page data near the middle, and an item's offset field early on. */
    spots[0] = len / 2;
    spots[1] = (uint8_t *)memmem(data, len, want, 64) - data - 8;
    for (size_t i = 0; i < G_N_ELEMENTS(spots); i++) {
        data[spots[i]] ^= 0x40;
        for (int sock = 0; sock < 2; sock++) {
            g_assert_false(sock ? load_socket(data, len, &err)
                                : load(data, len, &err));
            g_assert_nonnull(err);
            if (!strstr(err->message, "checksum mismatch") ||
                !strstr(err->message, "'ram'")) {
                g_test_message("flip at %zu: %s", spots[i], err->message);
            }
            g_assert_nonnull(strstr(err->message, "checksum mismatch"));
            g_assert_nonnull(strstr(err->message, "'ram'"));
            g_clear_error(&err);
        }
        data[spots[i]] ^= 0x40;
    }
    memory_region_finalize(g.mr);
    g_free(g.mr);
    ram_block_free(g.rb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/inplace/refs-socketpair", test_refs_socketpair);
    g_test_add_func("/migration/inplace/refs-mem", test_refs_mem);
    g_test_add_func("/migration/inplace/window", test_window);
    g_test_add_func("/migration/inplace/ram", test_ram_inplace);
    return g_test_run();
}
