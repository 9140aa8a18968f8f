/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dirty tracking of what the dmatest function writes by DMA, through the
 * real uAPI: device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*: the
 * core's and the device's limits, the page size, a report of exactly the
 * pages written, cleared as read, split by the preload when large), the
 * legacy container's VFIO_IOMMU_DIRTY_PAGES with iommu-dirty=on (the
 * pages written, not every mapped page), and iommufd's HWPT dirty
 * tracking (HW info capability, HWPT_ALLOC_DIRTY_TRACKING, SET/GET with
 * NO_CLEAR, errno values).
 */
#include "hostsim-test.h"

/* Pages of a 1024-entry ring (16 KiB) that records 1..n went to. */
#define PAGES_OF(n) MIN((((uint64_t)(n)) * 16 - 1) / 4096 + 1, 4)

static int log_start(int dev, uint64_t *page_size, const uint64_t *ranges,
                     uint32_t n)
{
    struct {
        struct vfio_device_feature f;
        struct vfio_device_feature_dma_logging_control c;
    } a = {{sizeof(a), VFIO_DEVICE_FEATURE_SET |
                           VFIO_DEVICE_FEATURE_DMA_LOGGING_START},
           {*page_size, n, 0, (uintptr_t)ranges}};

    if (ioctl(dev, VFIO_DEVICE_FEATURE, &a) < 0) {
        return -errno;
    }
    *page_size = a.c.page_size;
    return 0;
}

static int log_stop(int dev)
{
    struct vfio_device_feature f = {
        sizeof(f),
        VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP};

    return ioctl(dev, VFIO_DEVICE_FEATURE, &f) < 0 ? -errno : 0;
}

static int log_report(int dev, uint64_t iova, uint64_t length,
                      uint64_t page_size, uint64_t *bitmap)
{
    struct {
        struct vfio_device_feature f;
        struct vfio_device_feature_dma_logging_report r;
    } a = {{sizeof(a), VFIO_DEVICE_FEATURE_GET |
                           VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT},
           {iova, length, page_size, (uintptr_t)bitmap}};

    return ioctl(dev, VFIO_DEVICE_FEATURE, &a) < 0 ? -errno : 0;
}

static unsigned bits_set(const uint64_t *bm, size_t words)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < words; i++) {
        n += __builtin_popcountll(bm[i]);
    }
    return n;
}

static bool bit(const uint64_t *bm, uint64_t i)
{
    return bm[i / 64] & (1ull << (i % 64));
}

/* Stream n records into a fresh 1024-entry ring and stop the stream. */
static uint32_t stream_records(int dev, uint32_t n)
{
    stream_start(dev, 1024, 50, 0, 1);
    wait_head(dev, n);
    reg_write(dev, R_CTRL, 0);
    return reg_read(dev, R_HEAD);
}

static void test_dirty_dma_logging(void)
{
    Sim sim;
    Legacy a, b;
    uint64_t ps = 4096, bm[32], *big;
    uint64_t ranges[2 * 300];
    struct vfio_device_feature probe = {
        sizeof(probe), VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
                           VFIO_DEVICE_FEATURE_DMA_LOGGING_START};
    uint8_t *ram;
    uint32_t head;
    uint64_t i;
    int ramfd;

    sim_start(&sim, "0000:00:05.0,type=dmatest",
              "0000:00:06.0,type=dmatest,dma-logging=on,"
              "dma-logging-max-ranges=2");
    legacy_open(&a, 0, "0000:00:05.0");
    legacy_open(&b, 1, "0000:00:06.0");
    ram = ram_new(&ramfd);
    g_assert_cmpint(map_dma(b.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    /* Without DMA logging: as vfio-pci without log ops. */
    ranges[0] = RING_IOVA;
    ranges[1] = RAM_SIZE;
    g_assert_cmpint(ioctl(a.dev, VFIO_DEVICE_FEATURE, &probe), ==, -1);
    g_assert_cmpint(errno, ==, ENOTTY);
    g_assert_cmpint(log_start(a.dev, &ps, ranges, 1), ==, -ENOTTY);
    g_assert_cmpint(ioctl(b.dev, VFIO_DEVICE_FEATURE, &probe), ==, 0);

    /* The core's checks, then the device's limit of two ranges. */
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    -EINVAL);
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 0), ==, -EINVAL);
    for (i = 0; i < 300; i++) {
        ranges[2 * i] = RING_IOVA + i * 4096;
        ranges[2 * i + 1] = 4096;
    }
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 257), ==, -E2BIG);
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 3), ==, -E2BIG);
    ranges[0] = RING_IOVA + 1;
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 1), ==, -EINVAL);
    ranges[0] = RING_IOVA;
    ranges[1] = 8192;
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 2), ==, -EINVAL); /* overlap */
    ranges[0] = -4096ull;
    ranges[1] = 8192;
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 1), ==, -EOVERFLOW);

    /* Two ranges over the RAM; a page size of 8 KiB is taken as asked. */
    ranges[0] = RING_IOVA;
    ranges[1] = RAM_SIZE / 2;
    ranges[2] = RING_IOVA + RAM_SIZE / 2;
    ranges[3] = RAM_SIZE / 2;
    ps = 8192;
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 2), ==, 0);
    g_assert_cmpint(ps, ==, 8192);
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 2), ==, -EINVAL); /* on */
    g_assert_cmpint(log_stop(b.dev), ==, 0);
    ps = 4096;
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 2), ==, 0);
    g_assert_cmpint(ps, ==, 4096);

    /* Exactly the pages the records went to; the kernel only sets bits. */
    head = stream_records(b.dev, 600);
    memset(bm, 0, sizeof(bm));
    bm[7] = 1ull << 63;
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 4096, bm), ==, 0);
    g_assert_true(bit(bm, 7 * 64 + 63));
    bm[7] &= ~(1ull << 63);
    g_assert_cmpint(bits_set(bm, 8), ==, PAGES_OF(head));
    for (i = 0; i < PAGES_OF(head); i++) {
        g_assert_true(bit(bm, i));
    }
    g_assert_cmpint(reg_read(b.dev, R_DMA_LOGGED), ==, PAGES_OF(head));
    /* Read means cleared. */
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 4096, bm), ==, 0);
    g_assert_cmpint(bits_set(bm, 8), ==, 0);
    /* Another report page size: 2 MiB pages, one bit for the ring. */
    head = stream_records(b.dev, 100);
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 2 << 20, bm), ==,
                    0);
    g_assert_cmpint(bm[0], ==, 1);
    /* Report page size: a power of two of at least 4 KiB. */
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 2048, bm), ==,
                    -EINVAL);
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 12288, bm), ==,
                    -EINVAL);
    g_assert_cmpint(log_report(b.dev, -4096ull, 8192, 4096, bm), ==,
                    -EOVERFLOW);
    g_assert_cmpint(log_stop(b.dev), ==, 0);
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    -EINVAL);

    /*
     * A report over 8 GiB at 4 KiB: 256 KiB of bitmap, more than one
     * reply; the preload asks in pieces and the bits land in place.
     */
    ranges[0] = 0;
    ranges[1] = 4ull << 30;
    ranges[2] = 4ull << 30;
    ranges[3] = 4ull << 30;
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 2), ==, 0);
    head = stream_records(b.dev, 300);
    big = g_malloc0(256 << 10);
    big[(256 << 10) / 8 - 1] = 1ull << 63;
    g_assert_cmpint(log_report(b.dev, 0, 8ull << 30, 4096, big), ==, 0);
    g_assert_true(bit(big, (8ull << 30) / 4096 - 1));
    big[(256 << 10) / 8 - 1] = 0;
    g_assert_cmpint(bits_set(big, (256 << 10) / 8), ==, PAGES_OF(head));
    for (i = 0; i < PAGES_OF(head); i++) {
        g_assert_true(bit(big, RING_IOVA / 4096 + i));
    }
    g_free(big);
    /* Records outside the ranges are not logged. */
    g_assert_cmpint(log_stop(b.dev), ==, 0);
    ranges[0] = RING_IOVA + RAM_SIZE / 2;
    ranges[1] = RAM_SIZE / 2;
    g_assert_cmpint(log_start(b.dev, &ps, ranges, 1), ==, 0);
    stream_records(b.dev, 100);
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(log_report(b.dev, RING_IOVA, RAM_SIZE, 4096, bm), ==, 0);
    g_assert_cmpint(bits_set(bm, 8), ==, 0);
    legacy_close(&a);
    legacy_close(&b);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

static int legacy_dirty(int ct, uint32_t flags, uint64_t iova, uint64_t size,
                        uint64_t *bm, uint64_t bm_size)
{
    struct {
        struct vfio_iommu_type1_dirty_bitmap d;
        struct vfio_iommu_type1_dirty_bitmap_get r;
    } a = {{sizeof(a), flags}, {iova, size, {4096, bm_size, (__u64 *)bm}}};

    return ioctl(ct, VFIO_IOMMU_DIRTY_PAGES, &a) < 0 ? -errno : 0;
}

/*
 * Type1 with iommu-dirty=on: the pages devices wrote, cleared as read;
 * without it (another device in the container): every mapped page.
 */
static void test_dirty_legacy(void)
{
    Sim sim;
    Legacy l;
    int grp2, dev2, ramfd;
    uint64_t bm[8];
    uint32_t head;
    uint8_t *ram;
    uint64_t i;

    sim_start(&sim, "0000:00:05.0,type=dmatest,iommu-dirty=on",
              "0000:00:06.0,type=dmatest");
    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    g_assert_cmpint(legacy_dirty(l.ct, VFIO_IOMMU_DIRTY_PAGES_FLAG_START, 0,
                                 0, NULL, 0),
                    ==, 0);
    head = stream_records(l.dev, 600);
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(legacy_dirty(l.ct, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
                                 RING_IOVA, RAM_SIZE, bm, sizeof(bm)),
                    ==, 0);
    g_assert_cmpint(bits_set(bm, 8), ==, PAGES_OF(head));
    for (i = 0; i < PAGES_OF(head); i++) {
        g_assert_true(bit(bm, i));
    }
    g_assert_cmpint(legacy_dirty(l.ct, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
                                 RING_IOVA, RAM_SIZE, bm, sizeof(bm)),
                    ==, 0);
    g_assert_cmpint(bits_set(bm, 8), ==, 0);
    /* A device without it joins the container: every mapped page. */
    grp2 = open("/dev/vfio/1", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(ioctl(grp2, VFIO_GROUP_SET_CONTAINER, &l.ct), ==, 0);
    dev2 = ioctl(grp2, VFIO_GROUP_GET_DEVICE_FD, "0000:00:06.0");
    g_assert_cmpint(dev2, >=, 0);
    g_assert_cmpint(legacy_dirty(l.ct, VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
                                 RING_IOVA, RAM_SIZE, bm, sizeof(bm)),
                    ==, 0);
    g_assert_cmpint(bits_set(bm, 8), ==, RAM_SIZE / 4096);
    close(dev2);
    close(grp2);
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

typedef struct Hwpt {
    int iommufd, dev;
    uint32_t ioas, devid, hwpt;
} Hwpt;

/* Bind the cdev, map the RAM; attach to a HWPT allocated with flags. */
static int hwpt_open(Hwpt *h, int index, int ramfd, uint32_t flags)
{
    g_autofree char *path = g_strdup_printf("/dev/vfio/devices/vfio%d", index);
    struct iommu_ioas_alloc a = {.size = sizeof(a)};
    struct vfio_device_bind_iommufd b = {.argsz = sizeof(b)};
    struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at)};
    struct iommu_hwpt_alloc ha = {.size = sizeof(ha), .flags = flags};
    struct iommu_ioas_map_file m = {
        .size = sizeof(m),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                 IOMMU_IOAS_MAP_WRITEABLE,
        .fd = ramfd,
        .length = RAM_SIZE,
        .iova = RING_IOVA,
    };

    h->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(ioctl(h->iommufd, IOMMU_IOAS_ALLOC, &a), ==, 0);
    h->ioas = m.ioas_id = a.out_ioas_id;
    g_assert_cmpint(ioctl(h->iommufd, IOMMU_IOAS_MAP_FILE, &m), ==, 0);
    h->dev = open(path, O_RDWR | O_CLOEXEC);
    b.iommufd = h->iommufd;
    g_assert_cmpint(ioctl(h->dev, VFIO_DEVICE_BIND_IOMMUFD, &b), ==, 0);
    h->devid = ha.dev_id = b.out_devid;
    ha.pt_id = h->ioas;
    if (ioctl(h->iommufd, IOMMU_HWPT_ALLOC, &ha) < 0) {
        return -errno;
    }
    h->hwpt = at.pt_id = ha.out_hwpt_id;
    g_assert_cmpint(ioctl(h->dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), ==, 0);
    return 0;
}

static void hwpt_close(Hwpt *h)
{
    close(h->dev);
    close(h->iommufd);
}

static int hwpt_set_dirty(Hwpt *h, uint32_t hwpt, uint32_t flags)
{
    struct iommu_hwpt_set_dirty_tracking s = {sizeof(s), flags, hwpt};

    return ioctl(h->iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &s) < 0 ? -errno
                                                                    : 0;
}

static int hwpt_get_dirty(Hwpt *h, uint32_t flags, uint64_t iova,
                          uint64_t length, uint64_t page_size, uint64_t *bm)
{
    struct iommu_hwpt_get_dirty_bitmap g = {
        .size = sizeof(g),
        .hwpt_id = h->hwpt,
        .flags = flags,
        .iova = iova,
        .length = length,
        .page_size = page_size,
        .data = (uintptr_t)bm,
    };

    return ioctl(h->iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g) < 0 ? -errno : 0;
}

static void test_dirty_hwpt(void)
{
    Sim sim;
    Hwpt h, o;
    struct iommu_hw_info hi = {.size = sizeof(hi)};
    uint64_t bm[8];
    uint32_t head;
    uint8_t *ram;
    uint64_t i;
    int ramfd;

    sim_start(&sim, "0000:00:05.0,type=dmatest,iommu-dirty=on",
              "0000:00:06.0,type=dmatest");
    ram = ram_new(&ramfd);
    /* Without iommu-dirty: no capability, no dirty-tracking HWPT. */
    g_assert_cmpint(hwpt_open(&o, 1, ramfd, IOMMU_HWPT_ALLOC_DIRTY_TRACKING),
                    ==, -EOPNOTSUPP);
    hi.dev_id = o.devid;
    g_assert_cmpint(ioctl(o.iommufd, IOMMU_GET_HW_INFO, &hi), ==, 0);
    g_assert_cmpint(hi.out_capabilities, ==, 0);
    hwpt_close(&o);
    g_assert_cmpint(hwpt_open(&o, 1, ramfd, 0), ==, 0);
    g_assert_cmpint(hwpt_set_dirty(&o, o.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE),
                    ==, -EOPNOTSUPP);
    g_assert_cmpint(hwpt_get_dirty(&o, 0, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    -EOPNOTSUPP);
    hwpt_close(&o);

    g_assert_cmpint(hwpt_open(&h, 0, ramfd, IOMMU_HWPT_ALLOC_DIRTY_TRACKING),
                    ==, 0);
    hi.dev_id = h.devid;
    g_assert_cmpint(ioctl(h.iommufd, IOMMU_GET_HW_INFO, &hi), ==, 0);
    g_assert_cmpint(hi.out_capabilities, ==, IOMMU_HW_CAP_DIRTY_TRACKING);
    /* A device whose IOMMU cannot track does not attach to it. */
    {
        struct vfio_device_bind_iommufd b = {.argsz = sizeof(b)};
        struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at)};

        o.dev = open("/dev/vfio/devices/vfio1", O_RDWR | O_CLOEXEC);
        b.iommufd = h.iommufd;
        g_assert_cmpint(ioctl(o.dev, VFIO_DEVICE_BIND_IOMMUFD, &b), ==, 0);
        at.pt_id = h.hwpt;
        g_assert_cmpint(ioctl(o.dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), ==,
                        -1);
        g_assert_cmpint(errno, ==, EINVAL);
        close(o.dev);
    }
    /* Off: reading is refused; bad flags, ids and ranges. */
    g_assert_cmpint(hwpt_get_dirty(&h, 0, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    -EINVAL);
    g_assert_cmpint(hwpt_set_dirty(&h, h.hwpt, 2), ==, -EOPNOTSUPP);
    g_assert_cmpint(hwpt_set_dirty(&h, h.ioas, 1), ==, -ENOENT);
    g_assert_cmpint(hwpt_set_dirty(&h, h.hwpt, IOMMU_HWPT_DIRTY_TRACKING_ENABLE),
                    ==, 0);
    g_assert_cmpint(hwpt_get_dirty(&h, 2, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    -EOPNOTSUPP);
    g_assert_cmpint(hwpt_get_dirty(&h, 0, RING_IOVA + 512, RAM_SIZE, 4096, bm),
                    ==, -EINVAL);
    g_assert_cmpint(hwpt_get_dirty(&h, 0, RING_IOVA, RAM_SIZE, 0, bm), ==,
                    -EINVAL);
    g_assert_cmpint(hwpt_get_dirty(&h, 0, -4096ull, 8192, 4096, bm), ==,
                    -EOVERFLOW);

    head = stream_records(h.dev, 600);
    /* NO_CLEAR twice, then a read that clears, then nothing. */
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(hwpt_get_dirty(&h, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
                                   RING_IOVA, RAM_SIZE, 4096, bm),
                    ==, 0);
    g_assert_cmpint(bits_set(bm, 8), ==, PAGES_OF(head));
    for (i = 0; i < PAGES_OF(head); i++) {
        g_assert_true(bit(bm, i));
    }
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(hwpt_get_dirty(&h, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
                                   RING_IOVA, RAM_SIZE, 4096, bm),
                    ==, 0);
    g_assert_cmpint(bits_set(bm, 8), ==, PAGES_OF(head));
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(hwpt_get_dirty(&h, 0, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    0);
    g_assert_cmpint(bits_set(bm, 8), ==, PAGES_OF(head));
    memset(bm, 0, sizeof(bm));
    g_assert_cmpint(hwpt_get_dirty(&h, 0, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    0);
    g_assert_cmpint(bits_set(bm, 8), ==, 0);
    /* Disabled: nothing is recorded, reading is refused again. */
    g_assert_cmpint(hwpt_set_dirty(&h, h.hwpt, 0), ==, 0);
    stream_records(h.dev, 100);
    g_assert_cmpint(hwpt_get_dirty(&h, 0, RING_IOVA, RAM_SIZE, 4096, bm), ==,
                    -EINVAL);
    hwpt_close(&h);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

void hostsim_add_dirty_tests(void)
{
    g_test_add_func("/hostsim/dirty/dma-logging", test_dirty_dma_logging);
    g_test_add_func("/hostsim/dirty/legacy", test_dirty_legacy);
    g_test_add_func("/hostsim/dirty/hwpt", test_dirty_hwpt);
}
