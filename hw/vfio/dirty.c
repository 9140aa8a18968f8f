/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dirty tracking of guest RAM written by VFIO devices' DMA, for a normal
 * migration: the container listener's log_global_start/log_sync/
 * log_global_stop (container-base.c) pick the best method the devices
 * and the IOMMU offer and fold what it reports into the RAM blocks'
 * dirty bitmaps. In order of preference: device DMA logging
 * (VFIO_DEVICE_FEATURE_DMA_LOGGING_*, when every device of the
 * container/IOAS supports it), the IOMMU's (legacy VFIO_IOMMU_DIRTY_PAGES,
 * iommufd HWPT dirty tracking: the transport's dirty_* ops), else every
 * DMA-mapped page is dirty at every sync (QEMU's fallback).
 */
#include "util/osdep.h"

#include <errno.h>

#include "migration/migration.h"
#include "system/runstate.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

/* The dirty bitmaps' page: RAM's (memory.h). */
#define VFIO_DIRTY_PGSIZE ((uint64_t)RAM_DIRTY_PAGE_SIZE)

const char *vfio_dirty_method_name(VFIODirtyMethod m)
{
    static const char *const names[] = {
        [VFIO_DIRTY_OFF] = "off",
        [VFIO_DIRTY_NONE] = "none (test only: nothing is ever dirty)",
        [VFIO_DIRTY_DEVICE] = "device dma logging",
        [VFIO_DIRTY_IOMMU] = "iommu",
        [VFIO_DIRTY_ALL] = "all mapped pages",
    };

    return (unsigned)m < G_N_ELEMENTS(names) ? names[m] : "?";
}

/* ---- ranges for device DMA logging ---- */

static gint vfio_range_cmp(gconstpointer a, gconstpointer b)
{
    const VFIOIovaRange *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

unsigned int vfio_dirty_merge_ranges(VFIOIovaRange *r, unsigned int n,
                                     unsigned int max)
{
    unsigned int out = 0;

    g_assert(max >= 1);
    if (!n) {
        return 0;
    }
    qsort(r, n, sizeof(*r),
          (int (*)(const void *, const void *))vfio_range_cmp);
    /* Touching or overlapping ranges are one. */
    for (unsigned int i = 1; i < n; i++) {
        if (r[i].start <= r[out].end + 1) {
            r[out].end = MAX(r[out].end, r[i].end);
        } else {
            r[++out] = r[i];
        }
    }
    n = out + 1;
    /*
     * Then close the smallest gap until the device's limit is met: the
     * fewest pages logged that no mapping has (a device reports them
     * clean).
     */
    while (n > max) {
        unsigned int best = 0;
        uint64_t gap = UINT64_MAX;

        for (unsigned int i = 0; i + 1 < n; i++) {
            uint64_t g = r[i + 1].start - r[i].end;

            if (g < gap) {
                gap = g;
                best = i;
            }
        }
        r[best].end = r[best + 1].end;
        memmove(&r[best + 1], &r[best + 2], (n - best - 2) * sizeof(*r));
        n--;
    }
    return n;
}

/* The mappings as sorted, merged IOVA ranges (caller frees). */
static GArray *vfio_dirty_ranges(VFIOIOMMU *b)
{
    GArray *r = g_array_new(false, false, sizeof(VFIOIovaRange));

    for (guint i = 0; i < b->mappings->len; i++) {
        const VFIODmaMap *m = &g_array_index(b->mappings, VFIODmaMap, i);
        VFIOIovaRange v = {m->iova, m->iova + m->size - 1};

        g_array_append_val(r, v);
    }
    g_array_set_size(r, vfio_dirty_merge_ranges((VFIOIovaRange *)r->data,
                                                r->len, MAX(r->len, 1)));
    return r;
}

/* ---- device DMA logging ---- */

static int vfio_dma_logging_feature(VFIOPCIDevice *vdev, uint32_t flags,
                                    void *data, size_t len)
{
    g_autofree uint64_t *buf =
        g_malloc0(sizeof(struct vfio_device_feature) + len + 8);
    struct vfio_device_feature *f = (struct vfio_device_feature *)buf;
    int ret;

    f->argsz = sizeof(*f) + len;
    f->flags = flags;
    if (len) {
        memcpy(f->data, data, len); /* PROBE and STOP have no payload */
    }
    ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_FEATURE, f);
    return ret < 0 ? ret : 0;
}

bool vfio_dma_logging_probe(VFIOPCIDevice *vdev)
{
    return vfio_dma_logging_feature(vdev,
                                    VFIO_DEVICE_FEATURE_PROBE |
                                        VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
                                    NULL, 0) == 0;
}

static void vfio_dma_logging_stop_one(VFIOPCIDevice *vdev)
{
    int ret;

    if (!vdev->dma_logging_started) {
        return;
    }
    ret = vfio_dma_logging_feature(
        vdev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
        NULL, 0);
    if (ret < 0) {
        warn_report("%s: failed to stop DMA logging, err %d (%s)", vdev->name,
                    ret, g_strerror(-ret));
    }
    vdev->dma_logging_started = false;
}

/*
 * DMA_LOGGING_START with the mappings as ranges: a device that takes
 * fewer (E2BIG, as drivers answer) gets them merged to half as many,
 * down to one. Returns 0 or -errno, with *NRANGES the count it took.
 */
static int vfio_dma_logging_start_one(VFIOPCIDevice *vdev, GArray *ranges,
                                      unsigned int *nranges)
{
    unsigned int n = ranges->len;
    int ret;

    for (;;) {
        g_autofree VFIOIovaRange *merged =
            g_memdup2(ranges->data, ranges->len * sizeof(VFIOIovaRange));
        g_autofree struct vfio_device_feature_dma_logging_range *dr = NULL;
        struct vfio_device_feature_dma_logging_control ctl = {
            .page_size = VFIO_DIRTY_PGSIZE,
        };

        ctl.num_ranges = vfio_dirty_merge_ranges(merged, ranges->len, n);
        dr = g_new0(struct vfio_device_feature_dma_logging_range,
                    ctl.num_ranges);
        for (unsigned int i = 0; i < ctl.num_ranges; i++) {
            dr[i].iova = merged[i].start;
            dr[i].length = merged[i].end - merged[i].start + 1;
        }
        ctl.ranges = (uintptr_t)dr;
        ret = vfio_dma_logging_feature(
            vdev,
            VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
            &ctl, sizeof(ctl));
        trace_vfio_dma_logging_start(vdev->name, ctl.num_ranges, ret);
        if (ret != -E2BIG || ctl.num_ranges <= 1) {
            *nranges = ctl.num_ranges;
            return ret;
        }
        n = ctl.num_ranges / 2;
    }
}

/* Fold VDEV's report for mapping M into the RAM block's bitmap. */
static bool vfio_dma_logging_report(VFIOPCIDevice *vdev, const VFIODmaMap *m,
                                    RAMBlock *rb, uint64_t *bitmap,
                                    GError **errp)
{
    uint64_t npages = m->size / VFIO_DIRTY_PGSIZE;
    struct vfio_device_feature_dma_logging_report rep = {
        .iova = m->iova,
        .length = m->size,
        .page_size = VFIO_DIRTY_PGSIZE,
        .bitmap = (uintptr_t)bitmap,
    };
    int ret;

    memset(bitmap, 0, ((npages + 63) / 64) * 8);
    ret = vfio_dma_logging_feature(
        vdev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
        &rep, sizeof(rep));
    if (ret < 0) {
        error_setg(errp,
                   "%s: failed to get the DMA log of IOVA 0x%" PRIx64
                   " size 0x%" PRIx64 ": %s",
                   vdev->name, m->iova, m->size, g_strerror(-ret));
        return false;
    }
    ram_block_set_dirty_bits(
        rb, (m->vaddr - (uintptr_t)rb->host) / VFIO_DIRTY_PGSIZE,
        (const unsigned long *)bitmap, npages);
    return true;
}

/* ---- the listener's side ---- */

static bool vfio_dirty_device_capable(VFIOIOMMU *b)
{
    if (!b->devices->len) {
        return false;
    }
    for (guint i = 0; i < b->devices->len; i++) {
        VFIOPCIDevice *vdev = g_ptr_array_index(b->devices, i);

        if (!vdev->dma_logging ||
            vdev->device_dirty_page_tracking == ON_OFF_AUTO_OFF) {
            return false;
        }
    }
    return true;
}

static VFIODirtyMethod vfio_dirty_choose(VFIOIOMMU *b)
{
    for (guint i = 0; i < b->devices->len; i++) {
        VFIOPCIDevice *vdev = g_ptr_array_index(b->devices, i);

        if (vdev->dirty_tracking == ON_OFF_AUTO_OFF) {
            return VFIO_DIRTY_NONE;
        }
    }
    if (vfio_dirty_device_capable(b)) {
        return VFIO_DIRTY_DEVICE;
    }
    if (b->iommu_dirty && b->ops->dirty_set) {
        return VFIO_DIRTY_IOMMU;
    }
    return VFIO_DIRTY_ALL;
}

static void vfio_dirty_devices_stop(VFIOIOMMU *b)
{
    for (guint i = 0; i < b->devices->len; i++) {
        vfio_dma_logging_stop_one(g_ptr_array_index(b->devices, i));
    }
}

bool vfio_dirty_start(VFIOIOMMU *b, GError **errp)
{
    g_autoptr(GArray) ranges = NULL;
    unsigned int nranges = 0;
    int ret = 0;

    /* Only a normal migration sends RAM the devices may write. */
    if (migration_mode() != MIG_MODE_NORMAL) {
        b->dirty = VFIO_DIRTY_OFF;
        return true;
    }
    b->dirty = vfio_dirty_choose(b);
    switch (b->dirty) {
    case VFIO_DIRTY_DEVICE:
        ranges = vfio_dirty_ranges(b);
        for (guint i = 0; i < b->devices->len && !ret; i++) {
            VFIOPCIDevice *vdev = g_ptr_array_index(b->devices, i);

            ret = vfio_dma_logging_start_one(vdev, ranges, &nranges);
            if (ret < 0) {
                error_setg(errp, "%s: failed to start DMA logging, err %d (%s)",
                           vdev->name, ret, g_strerror(-ret));
            } else {
                vdev->dma_logging_started = true;
            }
        }
        if (ret < 0) {
            vfio_dirty_devices_stop(b);
        }
        break;
    case VFIO_DIRTY_IOMMU:
        ret = b->ops->dirty_set(b, true);
        if (ret < 0) {
            error_setg(errp,
                       "vfio: failed to start the IOMMU's dirty page "
                       "tracking: %s",
                       g_strerror(-ret));
        }
        break;
    default:
        break;
    }
    trace_vfio_dirty_tracking(b->ops->name, b->id,
                              vfio_dirty_method_name(b->dirty), nranges, ret);
    if (ret < 0) {
        b->dirty = VFIO_DIRTY_OFF;
        return false;
    }
    return true;
}

void vfio_dirty_stop(VFIOIOMMU *b)
{
    if (b->dirty == VFIO_DIRTY_DEVICE) {
        vfio_dirty_devices_stop(b);
    } else if (b->dirty == VFIO_DIRTY_IOMMU) {
        int ret = b->ops->dirty_set(b, false);

        if (ret < 0) {
            warn_report("vfio: failed to stop the IOMMU's dirty page "
                        "tracking: %s",
                        g_strerror(-ret));
        }
    }
    trace_vfio_dirty_tracking(b->ops->name, b->id, "stopped", 0, 0);
    b->dirty = VFIO_DIRTY_OFF;
}

/*
 * x-pre-copy-dirty-page-tracking=off on any device: while the guest runs,
 * syncs report nothing; what the devices wrote is collected at the
 * switch-over's sync (QEMU's).
 */
static bool vfio_dirty_skip_precopy(VFIOIOMMU *b)
{
    for (guint i = 0; i < b->devices->len; i++) {
        VFIOPCIDevice *vdev = g_ptr_array_index(b->devices, i);

        if (vdev->pre_copy_dirty_page_tracking == ON_OFF_AUTO_OFF) {
            return runstate_is_running();
        }
    }
    return false;
}

static bool vfio_dirty_sync_map(VFIOIOMMU *b, const VFIODmaMap *m, RAMBlock *rb,
                                GError **errp)
{
    uint64_t npages = m->size / VFIO_DIRTY_PGSIZE;
    g_autofree uint64_t *bitmap = NULL;
    int ret;

    switch (b->dirty) {
    case VFIO_DIRTY_ALL:
        ram_block_set_dirty(rb, m->vaddr - (uintptr_t)rb->host, m->size);
        return true;
    case VFIO_DIRTY_DEVICE:
        bitmap = g_new0(uint64_t, ((npages + 63) / 64));
        for (guint i = 0; i < b->devices->len; i++) {
            if (!vfio_dma_logging_report(g_ptr_array_index(b->devices, i), m,
                                         rb, bitmap, errp)) {
                return false;
            }
        }
        return true;
    case VFIO_DIRTY_IOMMU:
        bitmap = g_new0(uint64_t, ((npages + 63) / 64));
        ret = b->ops->dirty_get(b, m->iova, m->size, VFIO_DIRTY_PGSIZE, bitmap);
        if (ret < 0) {
            error_setg(errp,
                       "vfio: failed to get the dirty bitmap of IOVA 0x%" PRIx64
                       " size 0x%" PRIx64 ": %s",
                       m->iova, m->size, g_strerror(-ret));
            return false;
        }
        ram_block_set_dirty_bits(
            rb, (m->vaddr - (uintptr_t)rb->host) / VFIO_DIRTY_PGSIZE,
            (const unsigned long *)bitmap, npages);
        return true;
    default:
        return true; /* off, or none (test only) */
    }
}

bool vfio_dirty_sync(VFIOIOMMU *b, MemoryRegionSection *s, GError **errp)
{
    RAMBlock *rb = memory_region_get_ram_block(s->mr);
    uint64_t start = s->offset_within_address_space;

    if (b->dirty == VFIO_DIRTY_OFF || b->dirty == VFIO_DIRTY_NONE || !rb ||
        vfio_dirty_skip_precopy(b)) {
        return true;
    }
    for (guint i = 0; i < b->mappings->len; i++) {
        const VFIODmaMap *m = &g_array_index(b->mappings, VFIODmaMap, i);

        if (m->mr == s->mr && m->iova >= start && m->iova - start < s->size &&
            !vfio_dirty_sync_map(b, m, rb, errp)) {
            return false;
        }
    }
    return true;
}
