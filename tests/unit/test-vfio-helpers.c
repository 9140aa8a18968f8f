/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hw/vfio's pure helpers: which part of a RAM section an IOMMU of a
 * given page size can map, IOVA range checks against the IOMMU's
 * reported ranges, host= parsing, and how config reads merge baton's
 * emulated bits with the device's; and how the mapped IOVA ranges are
 * merged to fit a device's limit on DMA logging ranges.
 */
#include "util/osdep.h"

#include "../../hw/vfio/vfio-internal.h"

static void check_align(uint64_t iova, uint64_t size, uint64_t pg, bool ok,
                        uint64_t start, uint64_t len)
{
    uint64_t s = 0, l = 0;

    g_assert_cmpint(vfio_dma_align(iova, size, pg, &s, &l), ==, ok);
    if (ok) {
        g_assert_cmphex(s, ==, start);
        g_assert_cmphex(l, ==, len);
    }
}

static void test_align(void)
{
    /* Aligned sections map whole. */
    check_align(0, 0xa0000, 4096, true, 0, 0xa0000);
    check_align(0x100000, 0x3f00000, 4096, true, 0x100000, 0x3f00000);
    /* Unaligned ends are trimmed inward. */
    check_align(0x800, 0x2000, 4096, true, 0x1000, 0x1000);
    check_align(0x1000, 0x1800, 4096, true, 0x1000, 0x1000);
    /* Less than one page: nothing. */
    check_align(0x800, 0x1000, 4096, false, 0, 0);
    check_align(0x1000, 0x800, 4096, false, 0, 0);
    /* Larger IOMMU pages trim more. */
    check_align(0x1000, 0x400000, 0x200000, true, 0x200000, 0x200000);
    /* The top of the 64-bit space: no wrap-around. */
    check_align(UINT64_MAX - 0xfff, 0x1000, 4096, true, UINT64_MAX - 0xfff,
                0x1000);
    check_align(UINT64_MAX - 0x7ff, 0x800, 4096, false, 0, 0);
}

static void test_iova_ranges(void)
{
    VFIOIovaRange r[] = {{0, 0xfedfffff}, {0xfef00000, 0xffffffffffffULL}};

    /* No ranges reported: everything is usable. */
    g_assert_true(vfio_iova_ranges_contain(NULL, 0, 0xfee00000, 0x1000));
    g_assert_true(vfio_iova_ranges_contain(r, 2, 0, 0xa0000));
    g_assert_true(vfio_iova_ranges_contain(r, 2, 0x100000000ULL, 0x1000));
    /* The MSI window is a hole; straddling a range's end is refused. */
    g_assert_false(vfio_iova_ranges_contain(r, 2, 0xfee00000, 0x1000));
    g_assert_false(vfio_iova_ranges_contain(r, 2, 0xfedff000, 0x2000));
    g_assert_false(vfio_iova_ranges_contain(r, 2, 0x1000000000000ULL, 0x1000));
}

static void test_host_bdf(void)
{
    struct {
        const char *in, *out;
    } good[] = {
        {"0000:01:00.0", "0000:01:00.0"},
        {"01:00.0", "0000:01:00.0"},
        {"1:2.3", "0000:01:02.3"},
        {"abcd:Ef:1f.7", "abcd:ef:1f.7"},
    };
    const char *bad[] = {"",         "zz",        "01:00",         "01:00.8",
                         "01:20.0",  "0:0:0:0.0", "10000:00:00.0", " 01:00.0",
                         "01:00.0 ", "0x1:00.0",  "-1:00.0",       "01:000.0"};

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *bdf = vfio_parse_host_bdf(good[i].in, NULL);

        g_assert_cmpstr(bdf, ==, good[i].out);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *err = NULL;

        g_assert_null(vfio_parse_host_bdf(bad[i], &err));
        g_assert_nonnull(err);
        g_assert_nonnull(strstr(err->message, "is not a PCI address"));
        g_error_free(err);
    }
}

static void test_config_merge(void)
{
    /* Emulated bits from baton, the rest from the device. */
    g_assert_cmphex(vfio_config_merge(0xfebf0000, 0x0000000c, 0xffffffff), ==,
                    0xfebf0000);
    g_assert_cmphex(vfio_config_merge(0x00000080, 0x00000000, 0x00000080), ==,
                    0x80);
    g_assert_cmphex(vfio_config_merge(0x12345678, 0xba700001, 0), ==,
                    0xba700001);
    g_assert_cmphex(vfio_config_merge(0x0000ff0b, 0x01100000, 0x0000ffff), ==,
                    0x0110ff0b);
}

/*
 * vfio_bar_mmap_areas() of AREAS (N) in a BAR of SIZE less EXCL (NEXCL)
 * at 4 KiB pages must give WANT (NWANT areas).
 */
static void check_areas(const VFIOArea *areas, unsigned int n, uint64_t size,
                        const VFIOArea *excl, unsigned int nexcl,
                        const VFIOArea *want, unsigned int nwant)
{
    g_autoptr(GArray) got =
        vfio_bar_mmap_areas(areas, n, size, excl, nexcl, 0x1000);

    g_assert_cmpuint(got->len, ==, nwant);
    for (unsigned int i = 0; i < nwant; i++) {
        VFIOArea a = g_array_index(got, VFIOArea, i);

        g_assert_cmphex(a.offset, ==, want[i].offset);
        g_assert_cmphex(a.size, ==, want[i].size);
    }
}

static void test_mmap_areas(void)
{
    const VFIOArea whole[] = {{0, 0x10000}};
    /* vfio-pci's sparse areas around a table at 0x8000 (one page). */
    const VFIOArea around[] = {{0x9000, 0x7000}, {0, 0x8000}};
    const VFIOArea table_pba[] = {{0x8000, 0x20}, {0x9000, 8}};

    /* No MSI-X here: the whole BAR, in one piece. */
    check_areas(whole, 1, 0x10000, NULL, 0, whole, 1);
    /* Table and PBA in other pages: both pages trapped, whatever the
     * kernel allows (sorted output whatever the kernel's order). */
    check_areas(around, 2, 0x10000, table_pba, 2,
                (const VFIOArea[]){{0, 0x8000}, {0xa000, 0x6000}}, 2);
    check_areas(whole, 1, 0x10000, table_pba, 2,
                (const VFIOArea[]){{0, 0x8000}, {0xa000, 0x6000}}, 2);
    /* Table at the start, PBA in its page: one area after it. */
    check_areas(whole, 1, 0x4000, (const VFIOArea[]){{0, 0x800}, {0x800, 8}}, 2,
                (const VFIOArea[]){{0x1000, 0x3000}}, 1);
    /* Table and PBA at the end, a table spanning two pages. */
    check_areas(whole, 1, 0x4000,
                (const VFIOArea[]){{0x2800, 0x1000}, {0x3ff8, 8}}, 2,
                (const VFIOArea[]){{0, 0x2000}}, 1);
    /* The whole BAR is the table's page: nothing to mmap. */
    check_areas(whole, 1, 0x1000, (const VFIOArea[]){{0, 0x20}, {0x800, 8}}, 2,
                NULL, 0);
    /* A page-sized BAR part is mmap'ed; smaller parts are not. */
    check_areas((const VFIOArea[]){{0x10, 0x1ff0}}, 1, 0x2000, NULL, 0,
                (const VFIOArea[]){{0x1000, 0x1000}}, 1);
    check_areas(whole, 1, 0x800, NULL, 0, NULL, 0);
    /* An area past the BAR's end is cut at the end. */
    check_areas((const VFIOArea[]){{0x1000, 0x10000}}, 1, 0x4000, NULL, 0,
                (const VFIOArea[]){{0x1000, 0x3000}}, 1);
    /* Overlapping exclusions (table and PBA in one page range). */
    check_areas(whole, 1, 0x10000,
                (const VFIOArea[]){{0x3000, 0x3000}, {0x4000, 0x100}}, 2,
                (const VFIOArea[]){{0, 0x3000}, {0x6000, 0xa000}}, 2);
}

#define R(a, b) ((VFIOIovaRange){(a), (b)})

static void check_merge(const VFIOIovaRange *in, unsigned int n,
                        unsigned int max, const VFIOIovaRange *want,
                        unsigned int nwant)
{
    g_autofree VFIOIovaRange *r = g_memdup2(in, n * sizeof(*in));
    unsigned int got = vfio_dirty_merge_ranges(r, n, max);

    g_assert_cmpuint(got, ==, nwant);
    for (unsigned int i = 0; i < got; i++) {
        g_assert_cmphex(r[i].start, ==, want[i].start);
        g_assert_cmphex(r[i].end, ==, want[i].end);
    }
}

static void test_merge_ranges(void)
{
    /* pc's map, unsorted: below 640K, 1M-2G, above 4G, and a 64K gap. */
    const VFIOIovaRange pc[] = {
        R(0x100000, 0x7fffffff),
        R(0, 0x9ffff),
        R(0x100000000, 0x17fffffff),
        R(0x80010000, 0x8001ffff),
    };

    /* Within the limit: only sorted. */
    check_merge(pc, 4, 4,
                (VFIOIovaRange[]){R(0, 0x9ffff), R(0x100000, 0x7fffffff),
                                  R(0x80010000, 0x8001ffff),
                                  R(0x100000000, 0x17fffffff)},
                4);
    /* One fewer: the 64K gap goes first, then the 384K hole. */
    check_merge(pc, 4, 3,
                (VFIOIovaRange[]){R(0, 0x9ffff), R(0x100000, 0x8001ffff),
                                  R(0x100000000, 0x17fffffff)},
                3);
    check_merge(
        pc, 4, 2,
        (VFIOIovaRange[]){R(0, 0x8001ffff), R(0x100000000, 0x17fffffff)}, 2);
    check_merge(pc, 4, 1, (VFIOIovaRange[]){R(0, 0x17fffffff)}, 1);
    /* Touching and overlapping ranges are one before any limit. */
    check_merge((VFIOIovaRange[]){R(0x2000, 0x2fff), R(0x1000, 0x1fff),
                                  R(0x1800, 0x27ff)},
                3, 8, (VFIOIovaRange[]){R(0x1000, 0x2fff)}, 1);
    check_merge(NULL, 0, 1, NULL, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vfio/helpers/dma-align", test_align);
    g_test_add_func("/vfio/dirty/merge-ranges", test_merge_ranges);
    g_test_add_func("/vfio/helpers/iova-ranges", test_iova_ranges);
    g_test_add_func("/vfio/helpers/host-bdf", test_host_bdf);
    g_test_add_func("/vfio/helpers/config-merge", test_config_merge);
    g_test_add_func("/vfio/helpers/mmap-areas", test_mmap_areas);
    return g_test_run();
}
