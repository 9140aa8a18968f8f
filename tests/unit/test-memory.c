/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory regions and address spaces: how trees flatten (overlaps and
 * priorities, nested containers, aliases, disabled and moved regions,
 * read-only RAM) and what accesses do (RAM, MMIO/PIO offsets and splits,
 * unassigned all ones, read-only writes dropped). Listeners are in
 * test-memory-listener.c.
 */
#include "util/osdep.h"

#include "system/memory.h"

#include "memory-test.h"

typedef struct Recorder {
    hwaddr last_offset;
    unsigned last_size;
    uint64_t last_value;
    int writes;
    int reads;
} Recorder;

static uint64_t rec_read(void *opaque, hwaddr offset, unsigned size)
{
    Recorder *r = opaque;

    r->last_offset = offset;
    r->last_size = size;
    r->reads++;
    return 0x1122334455667788ULL &
           (size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1);
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

/* A private address space over a fresh 64 KiB container. */
typedef struct Space {
    MemoryRegion root;
    AddressSpace as;
} Space;

static void space_init(Space *sp, const char *name)
{
    memory_region_init(&sp->root, NULL, name, 0x10000);
    address_space_init(&sp->as, &sp->root, name);
}

static void space_destroy(Space *sp)
{
    address_space_destroy(&sp->as);
    memory_region_finalize(&sp->root);
}

static void io_region(MemoryRegion *mr, const char *name, uint64_t size,
                      Recorder *r)
{
    memory_region_init_io(mr, NULL, &rec_ops, r, name, size);
}

/* ---- accesses through the machine's address spaces ---- */

static void test_ram_rw(void)
{
    GError *err = NULL;
    RAMBlock *rb = ram_block_new_memfd("t.ram", 1 << 20, false, &err);
    MemoryRegion lo, hi;
    uint8_t buf[16];

    g_assert_no_error(err);
    memory_region_init_ram_from_block(&lo, NULL, "lo", rb, 0, 0x10000);
    memory_region_init_ram_from_block(&hi, NULL, "hi", rb, 0x80000, 0x10000);
    memory_region_add_subregion(get_system_memory(), 0, &lo);
    memory_region_add_subregion(get_system_memory(), 0x10000, &hi);

    /* A write straddling the two regions lands in both blocks' parts. */
    memset(buf, 0xab, sizeof(buf));
    g_assert_true(
        address_space_rw(&address_space_memory, 0xfff8, buf, 16, true));
    g_assert_cmpint(((uint8_t *)rb->host)[0xffff], ==, 0xab);
    g_assert_cmpint(((uint8_t *)rb->host)[0x80007], ==, 0xab);
    g_assert_cmphex(address_space_ld(&address_space_memory, 0x10000, 4), ==,
                    0xabababab);
    g_assert_true(address_space_map_ram(&address_space_memory, 0x10000,
                                        0x10000) ==
                  (uint8_t *)rb->host + 0x80000);
    /* Not one RAM section: no pointer. */
    g_assert_null(address_space_map_ram(&address_space_memory, 0xffff, 2));
    g_assert_null(address_space_map_ram(&address_space_memory, 0x20000, 1));

    memory_region_finalize(&lo);
    memory_region_finalize(&hi);
    g_assert_null(address_space_map_ram(&address_space_memory, 0, 1));
    ram_block_free(rb);
}

static void test_unassigned(void)
{
    uint8_t buf[4];

    g_assert_cmphex(address_space_ld(&address_space_io, 0x333, 1), ==, 0xff);
    g_assert_cmphex(address_space_ld(&address_space_io, 0x333, 2), ==,
                    0xffff);
    g_assert_cmphex(address_space_ld(&address_space_io, 0x333, 4), ==,
                    0xffffffff);
    g_assert_cmphex(address_space_ld(&address_space_memory, 0xfeb00000, 8),
                    ==, UINT64_MAX);
    address_space_st(&address_space_io, 0x333, 0x12, 1); /* dropped */
    g_assert_false(
        address_space_rw(&address_space_memory, 0x5000000, buf, 4, false));
    g_assert_cmphex(buf[0] & buf[1] & buf[2] & buf[3], ==, 0xff);
    /* Beyond the 64 KiB I/O space. */
    g_assert_cmphex(address_space_ld(&address_space_io, 0x10000, 1), ==,
                    0xff);
}

static void test_io_dispatch(void)
{
    Recorder r = {0};
    MemoryRegion mr;

    io_region(&mr, "rec", 8, &r);
    memory_region_add_subregion(get_system_io(), 0x3f8, &mr);
    address_space_st(&address_space_io, 0x3fa, 0x5a, 1);
    g_assert_cmpuint(r.last_offset, ==, 2);
    g_assert_cmpuint(r.last_value, ==, 0x5a);
    g_assert_cmphex(address_space_ld(&address_space_io, 0x3f9, 2), ==,
                    0x7788);
    g_assert_cmpuint(r.last_size, ==, 2);
    /* A 4-byte access straddling the end splits into bytes. */
    r.writes = 0;
    address_space_st(&address_space_io, 0x3fe, 0xaabbccdd, 4);
    g_assert_cmpint(r.writes, ==, 2);
    g_assert_cmpuint(r.last_offset, ==, 7);
    g_assert_cmpuint(r.last_value, ==, 0xcc);
    memory_region_finalize(&mr);
    g_assert_cmphex(address_space_ld(&address_space_io, 0x3f8, 1), ==, 0xff);
}

/* impl.max_access_size splits wide accesses; valid rejects them. */
static void test_access_sizes(void)
{
    static const MemoryRegionOps split_ops = {
        .read = rec_read,
        .write = rec_write,
        .impl.max_access_size = 1,
    };
    static const MemoryRegionOps narrow_ops = {
        .read = rec_read,
        .write = rec_write,
        .valid.max_access_size = 2,
    };
    Recorder r = {0}, n = {0};
    Space sp;
    MemoryRegion a, b;

    space_init(&sp, "t.sizes");
    memory_region_init_io(&a, NULL, &split_ops, &r, "split", 0x10);
    memory_region_init_io(&b, NULL, &narrow_ops, &n, "narrow", 0x10);
    memory_region_add_subregion(&sp.root, 0x100, &a);
    memory_region_add_subregion(&sp.root, 0x200, &b);

    address_space_st(&sp.as, 0x104, 0x44332211, 4);
    g_assert_cmpint(r.writes, ==, 4);
    g_assert_cmpuint(r.last_offset, ==, 7);
    g_assert_cmphex(r.last_value, ==, 0x44);
    g_assert_cmphex(address_space_ld(&sp.as, 0x100, 2), ==, 0x8888);
    g_assert_cmpint(r.reads, ==, 2);

    g_assert_cmphex(address_space_ld(&sp.as, 0x200, 4), ==, 0xffffffff);
    address_space_st(&sp.as, 0x200, 1, 4);
    g_assert_cmpint(n.reads + n.writes, ==, 0);
    g_assert_cmphex(address_space_ld(&sp.as, 0x200, 2), ==, 0x7788);

    memory_region_finalize(&a);
    memory_region_finalize(&b);
    space_destroy(&sp);
}

/* ---- flattening ---- */

static void test_flat_priorities(void)
{
    Recorder r = {0};
    Space sp;
    MemoryRegion low, high, same;

    space_init(&sp, "t.prio");
    io_region(&low, "low", 0x100, &r);
    io_region(&high, "high", 0x10, &r);
    io_region(&same, "same", 0x10, &r);
    memory_region_add_subregion(&sp.root, 0x100, &low);
    assert_flat(&sp.as, "low@100-1ff");

    /* Higher priority wins where it overlaps, splitting the lower one. */
    memory_region_add_subregion_overlap(&sp.root, 0x140, &high, 1);
    assert_flat(&sp.as, "low@100-13f high@140-14f low@150-1ff+50");

    /* Equal priority: the one added later wins. */
    memory_region_add_subregion(&sp.root, 0x1f8, &same);
    assert_flat(&sp.as,
                "low@100-13f high@140-14f low@150-1f7+50 same@1f8-207");

    /* A lower priority added later still loses. */
    memory_region_del_subregion(&sp.root, &high);
    memory_region_add_subregion_overlap(&sp.root, 0x140, &high, -1);
    assert_flat(&sp.as, "low@100-1f7 same@1f8-207");

    /* Accesses follow the flat view. */
    address_space_st(&sp.as, 0x1f9, 7, 1);
    g_assert_cmpuint(r.last_offset, ==, 1);

    memory_region_finalize(&low);
    assert_flat(&sp.as, "high@140-14f same@1f8-207");
    memory_region_finalize(&high);
    memory_region_finalize(&same);
    assert_flat(&sp.as, "");
    space_destroy(&sp);
}

static void test_flat_containers(void)
{
    Recorder r = {0};
    Space sp;
    MemoryRegion bus, dev, under;

    space_init(&sp, "t.nest");
    /* A container at 0x1000 clips its child to its own 0x100 bytes. */
    memory_region_init(&bus, NULL, "bus", 0x100);
    io_region(&dev, "dev", 0x200, &r);
    io_region(&under, "under", 0x400, &r);
    memory_region_add_subregion(&bus, 0x80, &dev);
    memory_region_add_subregion_overlap(&sp.root, 0x1000, &bus, 1);
    assert_flat(&sp.as, "dev@1080-10ff");

    /* Gaps in a container fall through to lower priorities. */
    memory_region_add_subregion(&sp.root, 0xe00, &under);
    assert_flat(&sp.as, "under@e00-107f dev@1080-10ff under@1100-11ff+300");

    address_space_ld(&sp.as, 0x1090, 1);
    g_assert_cmpuint(r.last_offset, ==, 0x10);
    address_space_ld(&sp.as, 0x1100, 1);
    g_assert_cmpuint(r.last_offset, ==, 0x300);

    /* Moving the container moves what is in it. */
    memory_region_set_address(&bus, 0x2000);
    assert_flat(&sp.as, "under@e00-11ff dev@2080-20ff");

    memory_region_finalize(&dev);
    memory_region_finalize(&bus);
    memory_region_finalize(&under);
    space_destroy(&sp);
}

static void test_flat_aliases(void)
{
    GError *err = NULL;
    RAMBlock *rb = ram_block_new_anon("t.alias", 0x8000, false, &err);
    Space sp;
    MemoryRegion ram, whole, part, nested;

    g_assert_no_error(err);
    space_init(&sp, "t.alias");
    memory_region_init_ram_from_block(&ram, NULL, "ram", rb, 0, 0x8000);
    /* Not mapped itself: only seen through aliases, as pc.ram is. */
    memory_region_init_alias(&whole, NULL, "whole", &ram, 0, 0x4000);
    memory_region_init_alias(&part, NULL, "part", &ram, 0x6000, 0x1000);
    memory_region_add_subregion(&sp.root, 0, &whole);
    memory_region_add_subregion(&sp.root, 0x9000, &part);
    assert_flat(&sp.as, "ram@0-3fff ram@9000-9fff+6000");

    ((uint8_t *)rb->host)[0x6010] = 0x5c;
    g_assert_cmphex(address_space_ld(&sp.as, 0x9010, 1), ==, 0x5c);
    g_assert_true(address_space_map_ram(&sp.as, 0x9000, 0x1000) ==
                  (uint8_t *)rb->host + 0x6000);
    g_assert_true(memory_region_get_ram_block(&part) == rb);
    g_assert_cmphex(memory_region_get_ram_offset(&part), ==, 0x6000);

    /* An alias of an alias resolves all the way. */
    memory_region_init_alias(&nested, NULL, "nested", &part, 0x800, 0x800);
    memory_region_add_subregion(&sp.root, 0xc000, &nested);
    assert_flat(&sp.as, "ram@0-3fff ram@9000-9fff+6000 ram@c000-c7ff+6800");

    /* A new offset re-points the window. */
    memory_region_set_alias_offset(&part, 0x2000);
    assert_flat(&sp.as, "ram@0-3fff ram@9000-9fff+2000 ram@c000-c7ff+2800");

    /* A disabled target hides every alias of it. */
    memory_region_set_enabled(&ram, false);
    assert_flat(&sp.as, "");
    memory_region_set_enabled(&ram, true);

    memory_region_finalize(&nested);
    memory_region_finalize(&part);
    memory_region_finalize(&whole);
    memory_region_finalize(&ram);
    space_destroy(&sp);
    ram_block_free(rb);
}

static void test_flat_disabled_and_moved(void)
{
    Recorder r = {0};
    Space sp;
    MemoryRegion a, b;

    space_init(&sp, "t.move");
    io_region(&a, "a", 0x10, &r);
    io_region(&b, "b", 0x10, &r);
    memory_region_add_subregion(&sp.root, 0x100, &a);
    memory_region_add_subregion_overlap(&sp.root, 0x108, &b, 1);
    assert_flat(&sp.as, "a@100-107 b@108-117");

    memory_region_set_enabled(&b, false);
    assert_flat(&sp.as, "a@100-10f");
    g_assert_cmphex(address_space_ld(&sp.as, 0x110, 1), ==, 0xff);

    memory_region_set_enabled(&b, true);
    memory_region_set_address(&b, 0x300);
    assert_flat(&sp.as, "a@100-10f b@300-30f");
    g_assert_cmphex(address_space_ld(&sp.as, 0x110, 1), ==, 0xff);
    address_space_st(&sp.as, 0x305, 1, 1);
    g_assert_cmpuint(r.last_offset, ==, 5);

    /* A region not placed anywhere just remembers its address. */
    memory_region_del_subregion(&sp.root, &b);
    memory_region_set_address(&b, 0x400);
    assert_flat(&sp.as, "a@100-10f");
    memory_region_add_subregion(&sp.root, 0x500, &b);
    assert_flat(&sp.as, "a@100-10f b@500-50f");

    memory_region_finalize(&a);
    memory_region_finalize(&b);
    space_destroy(&sp);
}

static void test_flat_readonly(void)
{
    GError *err = NULL;
    RAMBlock *rb = ram_block_new_anon("t.rom", 0x2000, false, &err);
    Space sp;
    MemoryRegion rom, window;
    uint8_t buf[4] = {1, 2, 3, 4};

    g_assert_no_error(err);
    space_init(&sp, "t.ro");
    memory_region_init_ram_from_block(&rom, NULL, "rom", rb, 0, 0x2000);
    memory_region_add_subregion(&sp.root, 0x4000, &rom);
    memset(rb->host, 0x11, 0x2000);

    memory_region_set_readonly(&rom, true);
    assert_flat(&sp.as, "rom@4000-5fff ro");
    /* Reads work; writes are dropped and reported. */
    g_assert_cmphex(address_space_ld(&sp.as, 0x4000, 4), ==, 0x11111111);
    address_space_st(&sp.as, 0x4000, 0x22, 1);
    g_assert_false(address_space_rw(&sp.as, 0x4100, buf, 4, true));
    g_assert_cmphex(((uint8_t *)rb->host)[0], ==, 0x11);
    g_assert_cmphex(((uint8_t *)rb->host)[0x100], ==, 0x11);

    /* Read-only is inherited through an alias. */
    memory_region_set_readonly(&rom, false);
    memory_region_init_alias(&window, NULL, "window", &rom, 0x1000, 0x1000);
    memory_region_set_readonly(&window, true);
    memory_region_add_subregion(&sp.root, 0x8000, &window);
    assert_flat(&sp.as, "rom@4000-5fff rom@8000-8fff+1000 ro");
    g_assert_true(address_space_rw(&sp.as, 0x4100, buf, 4, true));
    g_assert_cmphex(((uint8_t *)rb->host)[0x100], ==, 1);

    memory_region_finalize(&window);
    memory_region_finalize(&rom);
    space_destroy(&sp);
    ram_block_free(rb);
}

/* The machine trees print in QEMU's layout. */
static void test_mtree_text(void)
{
    GError *err = NULL;
    RAMBlock *rb = ram_block_new_anon("t.mt", 0x10000, false, &err);
    Recorder r = {0};
    MemoryRegion ram, below, port;
    g_autofree char *tree = NULL, *flat = NULL;

    g_assert_no_error(err);
    memory_region_init_ram_from_block(&ram, NULL, "t.mt", rb, 0, 0x10000);
    memory_region_init_alias(&below, NULL, "t.below", &ram, 0x1000, 0x8000);
    io_region(&port, "t.port", 4, &r);
    memory_region_add_subregion(get_system_memory(), 0x100000, &below);
    memory_region_add_subregion_overlap(get_system_io(), 0x70, &port, 2);
    memory_region_set_enabled(&port, false);

    tree = memory_mtree_format(false);
    g_assert_nonnull(strstr(tree, "address-space: memory\n"
                                  "  0000000000000000-ffffffffffffffff "
                                  "(prio 0, container): system\n"
                                  "    0000000000100000-0000000000107fff "
                                  "(prio 0, ram): alias t.below @t.mt "
                                  "0000000000001000-0000000000008fff\n"));
    g_assert_nonnull(strstr(tree, "address-space: I/O\n"
                                  "  0000000000000000-000000000000ffff "
                                  "(prio 0, container): io\n"
                                  "    0000000000000070-0000000000000073 "
                                  "(prio 2, i/o): t.port [disabled]\n"));
    g_assert_nonnull(strstr(tree, "memory-region: t.mt\n"
                                  "  0000000000000000-000000000000ffff "
                                  "(prio 0, ram): t.mt\n"));
    flat = memory_mtree_format(true);
    g_assert_nonnull(strstr(flat, "  0000000000100000-0000000000107fff "
                                  "(prio 0, ram): t.mt @0000000000001000\n"));
    g_assert_null(strstr(flat, "t.port"));

    memory_region_finalize(&port);
    memory_region_finalize(&below);
    memory_region_finalize(&ram);
    ram_block_free(rb);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/memory/ram-rw", test_ram_rw);
    g_test_add_func("/memory/unassigned", test_unassigned);
    g_test_add_func("/memory/io-dispatch", test_io_dispatch);
    g_test_add_func("/memory/access-sizes", test_access_sizes);
    g_test_add_func("/memory/flat/priorities", test_flat_priorities);
    g_test_add_func("/memory/flat/containers", test_flat_containers);
    g_test_add_func("/memory/flat/aliases", test_flat_aliases);
    g_test_add_func("/memory/flat/disabled-moved",
                    test_flat_disabled_and_moved);
    g_test_add_func("/memory/flat/readonly", test_flat_readonly);
    g_test_add_func("/memory/mtree", test_mtree_text);
    return g_test_run();
}
