/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RAM dirty logging (system/memory.c) and the "ram" migration section
 * (migration/ram.c) without KVM: host writes mark pages, save → load round
 * trips through a memory stream, dirty passes, x-ignore-shared, and the
 * loader's rejection of mismatched block lists and bad page records.
 */
#include "util/osdep.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include "migration/stream.h"
#include "system/memory.h"
#include "system/runstate.h"
#include "util/crc32c.h"

#include "../../migration/ram.h"
#include "../../migration/savevm.h"

#define PAGE RAM_DIRTY_PAGE_SIZE

/* ---- helpers ---- */

typedef struct Guest {
    RAMBlock *rb;
    MemoryRegion *mr;
} Guest;

static Guest guest_new(const char *name, bool memfd, uint64_t pages,
                       hwaddr base)
{
    GError *err = NULL;
    Guest g;

    g.rb = memfd ? ram_block_new_memfd(name, pages * PAGE, false, &err)
                 : ram_block_new_anon(name, pages * PAGE, false, &err);
    g_assert_no_error(err);
    g.mr = g_new0(MemoryRegion, 1);
    memory_region_init_ram_from_block(g.mr, NULL, name, g.rb, 0,
                                      pages * PAGE);
    memory_region_add_subregion(get_system_memory(), base, g.mr);
    return g;
}

static void guest_free(Guest *g)
{
    memory_region_finalize(g->mr);
    g_free(g->mr);
    ram_block_free(g->rb);
}

static uint8_t *page_ptr(const Guest *g, uint64_t page)
{
    return (uint8_t *)g->rb->host + page * PAGE;
}

/* Whether the anonymous page at P has never been populated. */
static bool page_unpopulated(const void *p)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    uint64_t ent = 0;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, &ent, 8, ((uintptr_t)p / PAGE) * 8), ==, 8);
    close(fd);
    return !(ent & (3ULL << 62));
}

/* What memory writer F holds, copied (F may then be closed). */
static uint8_t *stream_copy(MigStream *f, size_t *len)
{
    const uint8_t *data = mig_stream_mem_data(f, len);

    return g_memdup2(data, *len);
}

static uint8_t *save_all(bool ignore_shared, size_t *len)
{
    SavevmOptions opts = {.ignore_shared = ignore_shared};
    MigStream *f = mig_stream_new_mem_writer();
    GError *err = NULL;
    uint8_t *copy;

    g_assert_true(savevm_save_all(f, &opts, &err));
    g_assert_no_error(err);
    copy = stream_copy(f, len);
    mig_stream_close_noerr(f);
    return copy;
}

static bool load_all(const uint8_t *data, size_t len, GError **errp)
{
    MigStream *f = mig_stream_new_mem_reader(data, len, NULL, 0);
    bool ok = savevm_load(f, errp);

    mig_stream_close_noerr(f);
    return ok;
}

static void assert_error_has(GError *err, const char *what)
{
    g_assert_nonnull(err);
    if (!strstr(err->message, what)) {
        g_test_message("error: %s", err->message);
        g_test_message("expected: %s", what);
    }
    g_assert_nonnull(strstr(err->message, what));
}

/* ---- dirty bitmaps ---- */

static void test_dirty_host_writes(void)
{
    Guest g = guest_new("t.log", false, 200, 0x100000);
    MemoryRegion alias;
    uint8_t buf[2] = {1, 2};

    /* A second window onto the block at offset 64 pages. */
    memory_region_init_alias(&alias, NULL, "t.log-hi", g.mr, 64 * PAGE,
                             16 * PAGE);
    memory_region_add_subregion(get_system_memory(), 0x400000, &alias);

    g_assert_null(g.rb->dirty);
    address_space_rw(&address_space_memory, 0x100000, buf, 1, true); /* not logged */
    memory_dirty_log_start();
    g_assert_true(memory_dirty_log_active());
    g_assert_nonnull(g.rb->dirty);
    g_assert_cmpuint(ram_block_dirty_pages(g.rb), ==, 0);

    /* Straddles pages 1 and 2; a 4-byte store to page 10; alias page 64+3. */
    address_space_rw(&address_space_memory, 0x100000 + 2 * PAGE - 1, buf, 2, true);
    address_space_st(&address_space_memory, 0x100000 + 10 * PAGE + 8, 0xdeadbeef, 4);
    address_space_rw(&address_space_memory, 0x400000 + 3 * PAGE, buf, 1, true);
    /* Reads and unassigned writes mark nothing. */
    address_space_rw(&address_space_memory, 0x100000 + 20 * PAGE, buf, 2, false);
    address_space_st(&address_space_memory, 0x10000000, 1, 4);
    g_assert_cmpuint(ram_block_dirty_pages(g.rb), ==, 4);

    for (uint64_t p = 0; p < 200; p++) {
        bool want = p == 1 || p == 2 || p == 10 || p == 67;

        g_assert_cmpint(ram_block_test_and_clear_dirty(g.rb, p), ==, want);
    }
    g_assert_cmpuint(ram_block_dirty_pages(g.rb), ==, 0);
    g_assert_false(ram_block_test_and_clear_dirty(g.rb, 1));

    /* Nested users: the bitmap stays until the last one stops. */
    memory_dirty_log_start();
    memory_dirty_log_stop();
    g_assert_nonnull(g.rb->dirty);
    memory_dirty_log_stop();
    g_assert_false(memory_dirty_log_active());
    g_assert_null(g.rb->dirty);
    address_space_rw(&address_space_memory, 0x100000, buf, 1, true); /* no bitmap: ok */

    memory_region_finalize(&alias);
    guest_free(&g);
}

static void test_dirty_words(void)
{
    Guest g = guest_new("t.words", false, 300, 0x100000);
    unsigned long bits[5] = {0};
    RAMBlock *late;
    GError *err = NULL;

    memory_dirty_log_start();
    g_assert_cmpuint(ram_block_pages(g.rb), ==, 300);
    g_assert_cmpuint(ram_block_dirty_words(g.rb), ==, (300 + 63) / 64);

    /* Word-aligned fold (slot at page 64). */
    bits[0] = 0x5;
    bits[1] = 1UL << 63;
    g_assert_cmpuint(ram_block_set_dirty_bits(g.rb, 64, bits, 128), ==, 3);
    g_assert_cmpuint(ram_block_set_dirty_bits(g.rb, 64, bits, 128), ==, 0);
    g_assert_cmpuint(ram_block_next_dirty_word(g.rb, 0), ==, 1);
    g_assert_cmphex(ram_block_fetch_and_clear_dirty_word(g.rb, 1), ==, 0x5);
    g_assert_cmpuint(ram_block_next_dirty_word(g.rb, 0), ==, 2);
    g_assert_true(ram_block_test_and_clear_dirty(g.rb, 191));
    g_assert_cmpuint(ram_block_next_dirty_word(g.rb, 0), ==, 5);

    /* Unaligned fold (slot at page 3): bits move across words. */
    memset(bits, 0, sizeof(bits));
    bits[0] = (1UL << 0) | (1UL << 62);
    bits[1] = 1UL << 1;
    g_assert_cmpuint(ram_block_set_dirty_bits(g.rb, 3, bits, 100), ==, 3);
    g_assert_true(ram_block_test_and_clear_dirty(g.rb, 3));
    g_assert_true(ram_block_test_and_clear_dirty(g.rb, 65));
    g_assert_true(ram_block_test_and_clear_dirty(g.rb, 68));
    g_assert_cmpuint(ram_block_dirty_pages(g.rb), ==, 0);

    /* Clamped at the block's end (and NPAGES's end). */
    memset(bits, 0xff, sizeof(bits));
    g_assert_cmpuint(ram_block_set_dirty_bits(g.rb, 290, bits, 64), ==, 10);
    g_assert_cmpuint(ram_block_set_dirty_bits(g.rb, 0, bits, 5), ==, 5);
    g_assert_cmpuint(ram_block_dirty_pages(g.rb), ==, 15);
    g_assert_cmpuint(ram_block_set_dirty_bits(g.rb, 300, bits, 64), ==, 0);
    ram_block_set_dirty(g.rb, 299 * PAGE, 10 * PAGE);
    ram_block_set_dirty(g.rb, 400 * PAGE, PAGE);
    g_assert_cmpuint(ram_block_dirty_pages(g.rb), ==, 15);

    /* A block created while logging is on starts all dirty. */
    late = ram_block_new_anon("t.late", 70 * PAGE, false, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(ram_block_dirty_pages(late), ==, 70);
    ram_block_free(late);

    memory_dirty_log_stop();
    g_assert_null(g.rb->dirty);
    guest_free(&g);
}

/* ---- round trips ---- */

static void fill_pattern(Guest *g, uint64_t pages, unsigned int zero_every)
{
    for (uint64_t p = 0; p < pages; p++) {
        if (zero_every && p % zero_every == 0) {
            memset(page_ptr(g, p), 0, PAGE);
        } else {
            memset(page_ptr(g, p), (int)(p * 7 + 1) & 0xff, PAGE);
            page_ptr(g, p)[PAGE - 1] = 0x5a; /* never a zero page */
        }
    }
}

static void test_round_trip(void)
{
    Guest a = guest_new("t.a", false, 64, 0x100000);
    Guest b = guest_new("t.b", true, 16, 0x200000);
    RamMigrationStats st;
    GError *err = NULL;
    g_autofree uint8_t *data = NULL;
    g_autofree uint8_t *want_a = NULL;
    g_autofree uint8_t *want_b = NULL;
    struct stat sb;
    size_t len;

    fill_pattern(&a, 64, 3);             /* pages 0, 3, ... 63: 22 zero pages */
    memset(page_ptr(&b, 0), 0x11, PAGE); /* b: page 0 data, 15 holes */
    g_assert_cmpint(fstat(b.rb->fd, &sb), ==, 0);
    g_assert_cmpint(sb.st_blocks, ==, PAGE / 512);
    want_a = g_memdup2(a.rb->host, a.rb->size);
    /* Not a copy of b: reading its holes through the mapping fills them. */
    want_b = g_malloc0(b.rb->size);
    memset(want_b, 0x11, PAGE);

    data = save_all(false, &len);
    ram_migration_get_stats(&st);
    g_assert_cmpuint(st.total, ==, 80 * PAGE);
    g_assert_cmpuint(st.duplicate, ==, 22 + 15);
    g_assert_cmpuint(st.normal, ==, 42 + 1);
    g_assert_cmpuint(st.normal_bytes, ==, 43 * PAGE);
    g_assert_cmpuint(st.transferred, >, 43 * PAGE);
    g_assert_cmpuint(st.transferred, <, 43 * PAGE + 1024);
    g_assert_cmpuint(st.transferred, ==, st.precopy_bytes + st.downtime_bytes);
    g_assert_cmpuint(st.remaining, ==, 0);
    g_assert_cmpuint(st.page_size, ==, PAGE);
    /* The source read no hole of the memfd (that would allocate it). */
    g_assert_cmpint(fstat(b.rb->fd, &sb), ==, 0);
    g_assert_cmpint(sb.st_blocks, ==, PAGE / 512);
    g_assert_null(a.rb->dirty); /* cleanup stopped logging */

    /*
     * Destination: a scribbled over (zero pages must be cleared), except
     * pages 6 and 9 dropped back to unpopulated (must stay so); b's holes
     * stay holes.
     */
    memset(a.rb->host, 0xee, a.rb->size);
    madvise(page_ptr(&a, 6), PAGE, MADV_DONTNEED);
    madvise(page_ptr(&a, 9), PAGE, MADV_DONTNEED);
    g_assert_true(page_unpopulated(page_ptr(&a, 6)));
    memset(page_ptr(&b, 0), 0xee, PAGE);

    g_assert_true(load_all(data, len, &err));
    g_assert_no_error(err);
    /* Checked before anything here reads a's pages (that maps them). */
    g_assert_true(page_unpopulated(page_ptr(&a, 6)));
    g_assert_true(page_unpopulated(page_ptr(&a, 9)));
    g_assert_cmpmem(a.rb->host, a.rb->size, want_a, a.rb->size);
    g_assert_cmpint(fstat(b.rb->fd, &sb), ==, 0);
    g_assert_cmpint(sb.st_blocks, ==, PAGE / 512);
    g_assert_cmpmem(b.rb->host, b.rb->size, want_b, b.rb->size);

    guest_free(&a);
    guest_free(&b);
}

/* The version the "ram" SECTION_START of a saved stream names. */
static uint32_t ram_section_version(const uint8_t *data, size_t len)
{
    static const uint8_t name[] = {3, 'r', 'a', 'm', 0, 0, 0, 0};
    const uint8_t *p = memmem(data, len, name, sizeof(name));

    g_assert_nonnull(p);
    p += sizeof(name);
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void test_ignore_shared(void)
{
    Guest a = guest_new("t.a", false, 8, 0x100000);
    Guest b = guest_new("t.b", true, 8, 0x200000);
    RamMigrationStats st;
    GError *err = NULL;
    g_autofree uint8_t *data = NULL;
    g_autofree uint8_t *want_a = NULL;
    g_autofree uint8_t *only_b = NULL;
    size_t len, only_len;

    fill_pattern(&a, 8, 0);
    memset(b.rb->host, 0x22, b.rb->size);
    want_a = g_memdup2(a.rb->host, a.rb->size);
    data = save_all(true, &len);
    /* Pages are sent (a's): the version with page batches. */
    g_assert_cmpuint(ram_section_version(data, len), ==, 2);
    ram_migration_get_stats(&st);
    g_assert_cmpuint(st.total, ==, 8 * PAGE);
    g_assert_cmpuint(st.normal, ==, 8);
    g_assert_cmpuint(st.duplicate, ==, 0);

    /* b is "the same mapping" on the destination: left as it is. */
    memset(a.rb->host, 0, a.rb->size);
    memset(b.rb->host, 0x33, b.rb->size);
    g_assert_true(load_all(data, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(a.rb->host, a.rb->size, want_a, a.rb->size);
    g_assert_cmpuint(((uint8_t *)b.rb->host)[5 * PAGE], ==, 0x33);

    /*
     * Every block ignored (as in cpr): no page is sent, and the section
     * says version 1, which an older baton loads.
     */
    guest_free(&a);
    only_b = save_all(true, &only_len);
    g_assert_cmpuint(ram_section_version(only_b, only_len), ==, 1);
    a = guest_new("t.a", false, 8, 0x100000);

    /* A destination whose block is not shared cannot take such a stream. */
    guest_free(&b);
    b = guest_new("t.b", false, 8, 0x200000);
    g_assert_false(load_all(data, len, &err));
    assert_error_has(err, "RAM block 't.b' was not sent (x-ignore-shared) "
                          "but here it is not mapped from a shared file "
                          "descriptor");
    g_clear_error(&err);

    guest_free(&a);
    guest_free(&b);
}

/*
 * The live sequence by hand: setup, part of a pass, host writes behind
 * and ahead of the cursor, sync, passes, more writes, complete.
 */
static void test_dirty_passes(void)
{
    const uint64_t pages = 1024; /* 4 MiB: several iterate chunks */
    Guest g = guest_new("t.live", false, pages, 0x100000);
    SavevmOptions opts = {0};
    MigStream *f = mig_stream_new_mem_writer();
    g_autofree uint8_t *want = NULL;
    g_autofree uint8_t *data = NULL;
    RamMigrationStats st;
    GError *err = NULL;
    uint64_t pending;
    size_t len;
    int ret, calls = 0;

    fill_pattern(&g, pages, 5);
    g_assert_true(savevm_write_header(f, &err));
    bql_lock();
    g_assert_true(savevm_setup(f, &opts, &err));
    bql_unlock();
    g_assert_no_error(err);
    g_assert_nonnull(g.rb->dirty);
    g_assert_cmpuint(savevm_pending(false), ==, pages * PAGE);
    ram_migration_get_stats(&st);
    g_assert_cmpuint(st.dirty_sync_count, ==, 1);
    g_assert_cmpuint(st.remaining, ==, pages * PAGE);

    /* One chunk: at most 256 KiB of page data. */
    g_assert_cmpint(savevm_iterate(f, &err), ==, 0);
    ram_migration_get_stats(&st);
    g_assert_cmpuint(st.normal, >, 0);
    g_assert_cmpuint(st.transferred, <=, 256 * 1024 + 1024);

    /* Behind the cursor (already sent) and ahead of it. */
    address_space_st(&address_space_memory, 0x100000 + 1 * PAGE, 0x1111, 2);
    address_space_st(&address_space_memory, 0x100000 + 900 * PAGE, 0x2222, 2);
    do {
        ret = savevm_iterate(f, &err);
        g_assert_cmpint(ret, >=, 0);
        calls++;
    } while (ret == 0);
    g_assert_cmpint(calls, >=, 10);

    /* Page 1 is dirty again; the write on 900 went in this pass. */
    bql_lock();
    pending = savevm_pending(true);
    bql_unlock();
    g_assert_cmpuint(pending, ==, PAGE);
    ram_migration_get_stats(&st);
    g_assert_cmpuint(st.dirty_sync_count, ==, 2); /* setup's, this one */
    g_assert_cmpuint(st.remaining, ==, PAGE);
    g_assert_cmpint(savevm_iterate(f, &err), ==, 1);
    g_assert_cmpuint(savevm_pending(false), ==, 0);

    /* Left for complete: a page made zero, a new one, a page over again. */
    {
        uint8_t zero[PAGE] = {0};
        uint8_t one = 0x77;

        address_space_rw(&address_space_memory, 0x100000 + 2 * PAGE, zero, PAGE, true);
        address_space_rw(&address_space_memory, 0x100000 + 5 * PAGE + 17, &one, 1, true);
        address_space_rw(&address_space_memory, 0x100000 + 1023 * PAGE, &one, 1, true);
    }
    want = g_memdup2(g.rb->host, g.rb->size);
    bql_lock();
    g_assert_true(savevm_complete(f, &err));
    savevm_cleanup();
    bql_unlock();
    g_assert_no_error(err);
    g_assert_null(g.rb->dirty);
    ram_migration_get_stats(&st);
    g_assert_cmpuint(st.dirty_sync_count, ==, 3);
    g_assert_cmpuint(st.normal + st.duplicate, ==, pages + 1 + 3);
    g_assert_cmpuint(st.downtime_bytes, >, 2 * PAGE);
    g_assert_cmpuint(st.downtime_bytes, <, 3 * PAGE + 100);

    data = stream_copy(f, &len);
    mig_stream_close_noerr(f);
    memset(g.rb->host, 0xcc, g.rb->size);
    g_assert_true(load_all(data, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(g.rb->host, g.rb->size, want, g.rb->size);
    guest_free(&g);
}

/*
 * save_complete with more than one piece's worth: split into records.
 * 256 pages: the last piece is what pushes the record past the split size
 * (the SECTION_END must not end up empty). 2048: several records.
 */
static void complete_split(uint64_t pages)
{
    Guest g = guest_new("t.big", false, pages, 0x100000);
    SavevmOptions opts = {0};
    MigStream *f = mig_stream_new_mem_writer();
    g_autofree uint8_t *want = NULL;
    g_autofree uint8_t *data = NULL;
    GError *err = NULL;
    size_t len;

    fill_pattern(&g, pages, 0);
    want = g_memdup2(g.rb->host, g.rb->size);
    bql_lock();
    g_assert_true(savevm_write_header(f, &err));
    g_assert_true(savevm_setup(f, &opts, &err));
    g_assert_true(savevm_complete(f, &err));
    savevm_cleanup();
    bql_unlock();
    g_assert_no_error(err);
    data = stream_copy(f, &len);
    mig_stream_close_noerr(f);

    memset(g.rb->host, 0, g.rb->size);
    g_assert_true(load_all(data, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(g.rb->host, g.rb->size, want, g.rb->size);
    guest_free(&g);
}

static void test_complete_split(void)
{
    complete_split(255);
    complete_split(256);
    complete_split(257);
    complete_split(2048);
}

/* ---- block list mismatches ---- */

static void test_block_mismatch(void)
{
    Guest a = guest_new("t.a", false, 64, 0x100000);
    Guest other;
    GError *err = NULL;
    g_autofree uint8_t *data = NULL;
    size_t len;

    data = save_all(false, &len);

    guest_free(&a);
    a = guest_new("t.a", false, 32, 0x100000);
    g_assert_false(load_all(data, len, &err));
    assert_error_has(err, "section 'ram' instance 0: RAM block 't.a' has "
                          "size 0x20000 here but 0x40000 in the stream");
    g_clear_error(&err);

    guest_free(&a);
    a = guest_new("t.x", false, 64, 0x100000);
    g_assert_false(load_all(data, len, &err));
    assert_error_has(err, "RAM block 't.a' in the stream does not exist "
                          "here");
    g_clear_error(&err);

    guest_free(&a);
    a = guest_new("t.a", false, 64, 0x100000);
    other = guest_new("t.extra", false, 4, 0x800000);
    g_assert_false(load_all(data, len, &err));
    assert_error_has(err, "RAM block 't.extra' exists here but is not in "
                          "the stream");
    g_clear_error(&err);

    guest_free(&other);
    g_assert_true(load_all(data, len, &err));
    g_assert_no_error(err);
    guest_free(&a);
}

/* ---- hand-made streams ---- */

static void put_record(MigStream *f, uint8_t type, MigStream *payload)
{
    size_t len;
    const uint8_t *data = mig_stream_mem_data(payload, &len);
    uint8_t hdr[5] = {type, len >> 24, len >> 16, len >> 8, len};
    uint32_t crc = crc32c_update(0, hdr, sizeof(hdr));

    crc = crc32c_update(crc, data, len);
    mig_put_buffer(f, hdr, sizeof(hdr));
    mig_put_buffer(f, data, len);
    mig_put_be32(f, crc);
}

typedef void (*PutItems)(MigStream *p);

static void put_list(MigStream *p, uint32_t page_size, uint32_t flags)
{
    mig_put_u8(p, 0x08); /* block list */
    mig_put_be32(p, page_size);
    mig_put_be32(p, 1);
    mig_put_str(p, "t.a");
    mig_put_be64(p, 16 * PAGE);
    mig_put_be32(p, flags);
}

/*
 * A stream whose "ram" SECTION_START carries START_ITEMS (or a valid block
 * list for block 't.a') and whose SECTION_PART carries PART_ITEMS, then
 * SECTION_END and EOF. Load it and return the error (NULL on success).
 */
static GError *load_crafted_v(uint32_t version, PutItems start_items,
                              PutItems part_items)
{
    MigStream *f = mig_stream_new_mem_writer();
    MigStream *p;
    GError *err = NULL;
    const uint8_t *data;
    size_t len;

    mig_put_buffer(f, "BATONMIG", 8);
    mig_put_be32(f, 1);

    p = mig_stream_new_mem_writer();
    mig_put_be32(p, 1);
    mig_put_str(p, "ram");
    mig_put_be32(p, 0);
    mig_put_be32(p, version);
    if (start_items) {
        start_items(p);
    } else {
        put_list(p, PAGE, 0);
    }
    mig_put_u8(p, 0x10); /* EOS */
    put_record(f, 0x01, p);
    mig_stream_close_noerr(p);

    p = mig_stream_new_mem_writer();
    mig_put_be32(p, 1);
    if (part_items) {
        part_items(p);
    }
    mig_put_u8(p, 0x10);
    put_record(f, 0x02, p);
    mig_stream_close_noerr(p);

    p = mig_stream_new_mem_writer();
    mig_put_be32(p, 1);
    mig_put_u8(p, 0x10);
    put_record(f, 0x03, p);
    mig_stream_close_noerr(p);

    p = mig_stream_new_mem_writer();
    put_record(f, 0x05, p);
    mig_stream_close_noerr(p);

    data = mig_stream_mem_data(f, &len);
    load_all(data, len, &err);
    mig_stream_close_noerr(f);
    return err;
}

static GError *load_crafted(PutItems start_items, PutItems part_items)
{
    return load_crafted_v(1, start_items, part_items);
}

/* Version 2: a batch of pages 3, 5 and 3 again (the last copy wins). */
static void items_batch(MigStream *p)
{
    uint8_t page[PAGE];

    mig_put_u8(p, 0x20);
    mig_put_be32(p, 0);
    mig_put_be32(p, 3);
    mig_put_be64(p, 3 * PAGE);
    mig_put_be64(p, 5 * PAGE);
    mig_put_be64(p, 3 * PAGE);
    for (int i = 0; i < 3; i++) {
        memset(page, 0x50 + i, sizeof(page));
        mig_put_buffer(p, page, PAGE);
    }
    mig_put_u8(p, 0x01); /* a zero page, in the batch's block */
    mig_put_be64(p, 4 * PAGE);
}

static void put_batch_header(MigStream *p, uint32_t block, uint32_t n)
{
    mig_put_u8(p, 0x20);
    mig_put_be32(p, block);
    mig_put_be32(p, n);
}

static void items_batch_empty(MigStream *p)
{
    put_batch_header(p, 0, 0);
}

static void items_batch_huge(MigStream *p)
{
    put_batch_header(p, 0, 257);
}

static void items_batch_index(MigStream *p)
{
    put_batch_header(p, 1, 1);
    mig_put_be64(p, 0);
}

static void items_batch_beyond(MigStream *p)
{
    put_batch_header(p, 0, 2);
    mig_put_be64(p, 0);
    mig_put_be64(p, 16 * PAGE);
}

static void items_batch_short(MigStream *p)
{
    uint8_t page[PAGE] = {0};

    put_batch_header(p, 0, 2);
    mig_put_be64(p, 0);
    mig_put_be64(p, PAGE);
    mig_put_buffer(p, page, PAGE);
    mig_put_buffer(p, page, 100);
}

static void items_good(MigStream *p)
{
    uint8_t page[PAGE];

    memset(page, 0x42, sizeof(page));
    mig_put_u8(p, 0x02 | 0x04);
    mig_put_be32(p, 0);
    mig_put_be64(p, 15 * PAGE);
    mig_put_buffer(p, page, PAGE);
    mig_put_u8(p, 0x01); /* same block */
    mig_put_be64(p, 0);
}

static void items_beyond(MigStream *p)
{
    mig_put_u8(p, 0x01 | 0x04);
    mig_put_be32(p, 0);
    mig_put_be64(p, 16 * PAGE);
}

static void items_huge_offset(MigStream *p)
{
    mig_put_u8(p, 0x02 | 0x04);
    mig_put_be32(p, 0);
    mig_put_be64(p, 0xfffffffffffff000ULL);
}

static void items_unaligned(MigStream *p)
{
    mig_put_u8(p, 0x01 | 0x04);
    mig_put_be32(p, 0);
    mig_put_be64(p, PAGE + 16);
}

static void items_unknown_flags(MigStream *p)
{
    mig_put_u8(p, 0x41);
    mig_put_be32(p, 0);
    mig_put_be64(p, 0);
}

static void items_invalid_flags(MigStream *p)
{
    mig_put_u8(p, 0x03 | 0x04);
    mig_put_be32(p, 0);
    mig_put_be64(p, 0);
}

static void items_bad_index(MigStream *p)
{
    mig_put_u8(p, 0x01 | 0x04);
    mig_put_be32(p, 5);
    mig_put_be64(p, 0);
}

static void items_no_block(MigStream *p)
{
    mig_put_u8(p, 0x01);
    mig_put_be64(p, 0);
}

static void items_short_page(MigStream *p)
{
    uint8_t part[100] = {0};

    mig_put_u8(p, 0x02 | 0x04);
    mig_put_be32(p, 0);
    mig_put_be64(p, 0);
    mig_put_buffer(p, part, sizeof(part));
}

static void items_second_list(MigStream *p)
{
    put_list(p, PAGE, 0);
}

static void start_page_first(MigStream *p)
{
    items_beyond(p);
}

static void start_page_size(MigStream *p)
{
    put_list(p, 8192, 0);
}

static void start_block_flags(MigStream *p)
{
    put_list(p, PAGE, 0x80);
}

static void test_bad_records(void)
{
    Guest a = guest_new("t.a", false, 16, 0x100000);
    static const struct {
        PutItems start, part;
        const char *msg;
    } cases[] = {
        {NULL, items_beyond,
         "RAM page offset 0x10000 is beyond the end of "
         "block 't.a' (size 0x10000)"},
        {NULL, items_huge_offset,
         "RAM page offset 0xfffffffffffff000 is "
         "beyond the end of block 't.a'"},
        {NULL, items_unaligned,
         "RAM page offset 0x1010 in block 't.a' is "
         "not page aligned"},
        {NULL, items_unknown_flags, "RAM record has unknown flags 0x41"},
        {NULL, items_invalid_flags, "RAM record has invalid flags 0x7"},
        {NULL, items_bad_index,
         "RAM block index 5 is out of range "
         "(1 blocks)"},
        {NULL, items_no_block, "RAM page record names no block"},
        {NULL, items_short_page, "section 'ram' instance 0: "},
        {NULL, items_second_list, "RAM block list appears twice"},
        {start_page_first, NULL, "RAM page record before the block list"},
        {start_page_size, NULL,
         "RAM page size 8192 in the stream is not "
         "supported (expected 4096)"},
        {start_block_flags, NULL,
         "RAM block 't.a' has unknown flags "
         "0x80"},
    };
    static const struct {
        uint32_t version;
        PutItems start, part;
        const char *msg;
    } batch_cases[] = {
        {1, NULL, items_batch, "RAM record has unknown flags 0x20"},
        {2, NULL, items_batch_empty,
         "RAM page batch of 0 pages (1 to 256 allowed)"},
        {2, NULL, items_batch_huge,
         "RAM page batch of 257 pages (1 to 256 allowed)"},
        {2, NULL, items_batch_index,
         "RAM block index 1 is out of range (1 blocks)"},
        {2, NULL, items_batch_beyond,
         "RAM page offset 0x10000 is beyond the end of block 't.a'"},
        {2, NULL, items_batch_short, "section 'ram' instance 0: "},
    };
    GError *err;

    /* The harness itself produces a loadable stream. */
    memset(a.rb->host, 0x99, a.rb->size);
    err = load_crafted(NULL, items_good);
    g_assert_no_error(err);
    g_assert_cmpuint(page_ptr(&a, 15)[100], ==, 0x42);
    g_assert_cmpuint(page_ptr(&a, 0)[100], ==, 0);
    g_assert_cmpuint(page_ptr(&a, 1)[100], ==, 0x99);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        err = load_crafted(cases[i].start, cases[i].part);
        assert_error_has(err, cases[i].msg);
        g_clear_error(&err);
    }

    /* Version 2 adds page batches; a version-1 section may not have one. */
    memset(a.rb->host, 0x99, a.rb->size);
    err = load_crafted_v(2, NULL, items_batch);
    g_assert_no_error(err);
    g_assert_cmpuint(page_ptr(&a, 3)[7], ==, 0x52);
    g_assert_cmpuint(page_ptr(&a, 5)[PAGE - 1], ==, 0x51);
    g_assert_cmpuint(page_ptr(&a, 4)[0], ==, 0);
    g_assert_cmpuint(page_ptr(&a, 6)[0], ==, 0x99);
    for (size_t i = 0; i < G_N_ELEMENTS(batch_cases); i++) {
        err = load_crafted_v(batch_cases[i].version, batch_cases[i].start,
                             batch_cases[i].part);
        assert_error_has(err, batch_cases[i].msg);
        g_clear_error(&err);
    }
    err = load_crafted_v(3, NULL, items_batch);
    assert_error_has(err, "section 'ram' instance 0: unsupported version 3 "
                          "(accepted 0 to 2)");
    g_clear_error(&err);
    /* Nothing past the end of the block was written by any of them. */
    guest_free(&a);
}

/* ---- RAM blocks ---- */

/*
 * The smaps field NAME ("THPeligible:") of the mapping holding ADDR, -1
 * if there is none.
 */
static long smaps_field(const void *addr, const char *name)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    bool in = false;

    g_assert_true(g_file_get_contents("/proc/self/smaps", &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        unsigned long start, end;

        /* Mapping lines start with the range, in lower-case hex. */
        if (g_ascii_isxdigit(**l) && !g_ascii_isupper(**l) &&
            sscanf(*l, "%lx-%lx", &start, &end) == 2) {
            in = start <= (uintptr_t)addr && (uintptr_t)addr < end;
        } else if (in && g_str_has_prefix(*l, name)) {
            return strtol(*l + strlen(name), NULL, 10);
        }
    }
    return -1;
}

/*
 * Private anonymous RAM starts on a 2 MiB boundary and may use
 * transparent huge pages (advised: the host's default THP mode,
 * "madvise", uses them only then); memfd RAM is left as it is.
 */
static void test_anon_thp(void)
{
    g_autofree char *mode = NULL;
    GError *err = NULL;
    RAMBlock *rb;

    if (!g_file_get_contents("/sys/kernel/mm/transparent_hugepage/enabled",
                             &mode, NULL, NULL) ||
        strstr(mode, "[never]")) {
        g_test_skip("transparent huge pages are off on this host");
        return;
    }
    rb = ram_block_new_anon("thp", 6 * 1024 * 1024 + 5 * PAGE, false, &err);
    g_assert_no_error(err);
    g_assert_cmpuint((uintptr_t)rb->host % (2 * 1024 * 1024), ==, 0);
    g_assert_cmpint(smaps_field(rb->host, "THPeligible:"), ==, 1);
    /* The whole block is mapped, and writable. */
    memset(rb->host, 0x5a, rb->size);
    ram_block_free(rb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ram/block/anon-thp", test_anon_thp);
    g_test_add_func("/ram/dirty/host-writes", test_dirty_host_writes);
    g_test_add_func("/ram/dirty/words", test_dirty_words);
    g_test_add_func("/ram/migrate/round-trip", test_round_trip);
    g_test_add_func("/ram/migrate/ignore-shared", test_ignore_shared);
    g_test_add_func("/ram/migrate/dirty-passes", test_dirty_passes);
    g_test_add_func("/ram/migrate/complete-split", test_complete_split);
    g_test_add_func("/ram/load/block-mismatch", test_block_mismatch);
    g_test_add_func("/ram/load/bad-records", test_bad_records);
    return g_test_run();
}
