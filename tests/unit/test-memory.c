/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Address spaces: RAM and I/O regions, overlap rejection, unassigned
 * accesses (all ones, writes dropped), accesses split across regions.
 */
#include "util/osdep.h"

#include "system/memory.h"

typedef struct Recorder {
    hwaddr last_offset;
    unsigned last_size;
    uint64_t last_value;
    int writes;
} Recorder;

static uint64_t rec_read(void *opaque, hwaddr offset, unsigned size)
{
    Recorder *r = opaque;

    r->last_offset = offset;
    r->last_size = size;
    return 0x1122334455667788ULL & (size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1);
}

static void rec_write(void *opaque, hwaddr offset, uint64_t value,
                      unsigned size)
{
    Recorder *r = opaque;

    r->last_offset = offset;
    r->last_size = size;
    r->last_value = value;
    r->writes++;
}

static const MemoryRegionOps rec_ops = {
    .read = rec_read,
    .write = rec_write,
};

static void test_ram_rw(void)
{
    GError *err = NULL;
    RAMBlock *rb = ram_block_new_memfd("t.ram", 1 << 20, false, &err);
    MemoryRegion *lo, *hi;
    uint8_t buf[16];

    g_assert_no_error(err);
    g_assert_cmpint(rb->fd, >=, 0);
    g_assert_true(rb->flags & RAM_SHARED);
    lo = memory_map_ram("lo", 0, 0x10000, rb, 0, &err);
    hi = memory_map_ram("hi", 0x10000, 0x10000, rb, 0x80000, &err);
    g_assert_no_error(err);

    /* A write spanning both regions lands at both block offsets. */
    memset(buf, 0xab, sizeof(buf));
    g_assert_true(address_space_rw(AS_MEMORY, 0xfff8, buf, 16, true));
    g_assert_cmpuint(((uint8_t *)rb->host)[0xfff8], ==, 0xab);
    g_assert_cmpuint(((uint8_t *)rb->host)[0x80007], ==, 0xab);
    g_assert_cmpuint(((uint8_t *)rb->host)[0x80008], ==, 0);
    g_assert_cmphex(address_space_ld(AS_MEMORY, 0x10000, 4), ==, 0xabababab);
    g_assert_true(memory_host_ptr(0x10000, 0x10000) ==
                  (uint8_t *)rb->host + 0x80000);
    g_assert_null(memory_host_ptr(0xffff, 2));

    memory_unmap(lo);
    memory_unmap(hi);
    ram_block_free(rb);
}

static void test_overlap(void)
{
    GError *err = NULL;
    Recorder r = { 0 };
    MemoryRegion *a = memory_map_io(AS_IO, "a", 0x100, 8, &rec_ops, &r, &err);

    g_assert_no_error(err);
    g_assert_null(memory_map_io(AS_IO, "b", 0x107, 2, &rec_ops, &r, &err));
    g_assert_nonnull(strstr(err->message, "overlaps 'a'"));
    g_clear_error(&err);
    g_assert_null(memory_map_io(AS_IO, "c", 0xff, 2, &rec_ops, &r, &err));
    g_clear_error(&err);
    memory_unmap(a);
}

static void test_unassigned(void)
{
    uint8_t buf[4];

    g_assert_cmphex(address_space_ld(AS_IO, 0x333, 1), ==, 0xff);
    g_assert_cmphex(address_space_ld(AS_IO, 0x333, 2), ==, 0xffff);
    g_assert_cmphex(address_space_ld(AS_IO, 0x333, 4), ==, 0xffffffff);
    g_assert_cmphex(address_space_ld(AS_MEMORY, 0xfeb00000, 8), ==,
                    UINT64_MAX);
    address_space_st(AS_IO, 0x333, 0x12, 1);   /* dropped, no crash */
    g_assert_false(address_space_rw(AS_MEMORY, 0x5000000, buf, 4, false));
    g_assert_cmphex(buf[0] & buf[1] & buf[2] & buf[3], ==, 0xff);
}

static void test_io_dispatch(void)
{
    GError *err = NULL;
    Recorder r = { 0 };
    MemoryRegion *mr = memory_map_io(AS_IO, "rec", 0x3f8, 8, &rec_ops, &r,
                                     &err);

    g_assert_no_error(err);
    address_space_st(AS_IO, 0x3fa, 0x5a, 1);
    g_assert_cmpuint(r.last_offset, ==, 2);
    g_assert_cmpuint(r.last_value, ==, 0x5a);
    g_assert_cmphex(address_space_ld(AS_IO, 0x3f9, 2), ==, 0x7788);
    g_assert_cmpuint(r.last_size, ==, 2);
    /* A 4-byte access straddling the end splits into bytes. */
    r.writes = 0;
    address_space_st(AS_IO, 0x3fe, 0xaabbccdd, 4);
    g_assert_cmpint(r.writes, ==, 2);
    g_assert_cmpuint(r.last_offset, ==, 7);
    g_assert_cmpuint(r.last_value, ==, 0xcc);
    memory_unmap(mr);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/ram/rw", test_ram_rw);
    g_test_add_func("/memory/region/overlap", test_overlap);
    g_test_add_func("/memory/unassigned", test_unassigned);
    g_test_add_func("/memory/io/dispatch", test_io_dispatch);
    return g_test_run();
}
