/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The DMA side every VFIO IOMMU transport shares (QEMU's
 * VFIOContainerBase): a memory listener on the devices' DMA address space
 * that maps RAM sections (trimmed to the IOMMU page, checked against the
 * IOVA ranges), keeps the list of what it mapped and unmaps exactly that.
 * The mmap'ed parts of vfio-pci BARs are mapped too, by vaddr, so that a
 * device can DMA into another's BAR (peer-to-peer); a failure there only
 * costs that and is a warning, as in QEMU.
 * The transports (container.c: legacy type1v2; iommufd.c: an IOAS) only
 * say how one mapping is made and removed (VFIOIOMMUOps).
 */
#include "util/osdep.h"

#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

static uint64_t vfio_min_pgsize(VFIOIOMMU *b)
{
    return b->pgsizes & -b->pgsizes;
}

/*
 * While a realize registers the listener (COLLECTING), the first failure
 * is kept for it; later ones are reported (a memory map change has no
 * caller to fail).
 */
static void vfio_iommu_fail(VFIOIOMMU *b, GError *err)
{
    if (b->collecting && !b->error) {
        b->error = err;
        return;
    }
    if (!b->collecting) {
        error_report_err(err);
    } else {
        g_error_free(err);
    }
}

static bool vfio_section_range(VFIOIOMMU *b, MemoryRegionSection *s,
                               uint64_t *iova, uint64_t *len)
{
    const char *name = memory_region_name(s->mr);

    if (!memory_region_is_ram(s->mr)) {
        trace_vfio_dma_skip(name, s->offset_within_address_space, s->size,
                            "not RAM");
        return false;
    }
    if (!vfio_dma_align(s->offset_within_address_space, s->size,
                        vfio_min_pgsize(b), iova, len)) {
        trace_vfio_dma_skip(name, s->offset_within_address_space, s->size,
                            "smaller than an IOMMU page");
        return false;
    }
    return true;
}

/*
 * The vfio-pci device whose mmap'ed BAR part section S is (device
 * memory, a peer-to-peer target), or NULL for guest RAM; *NR its BAR.
 */
static VFIOPCIDevice *vfio_section_bar(MemoryRegionSection *s, int *nr)
{
    VFIOPCIDevice *vdev;

    if (!s->mr->owner || !object_dynamic_cast(s->mr->owner, "vfio-pci")) {
        return NULL;
    }
    vdev = (VFIOPCIDevice *)s->mr->owner;
    *nr = vfio_pci_bar_nr(vdev, s->mr);
    return vdev;
}

/*
 * A BAR part that is not DMA-mapped: peer-to-peer DMA into it fails, the
 * rest goes on (QEMU's hint: "PCI peer-to-peer transactions on BARs are
 * not supported").
 */
static void vfio_bar_unmapped(VFIOIOMMU *b, VFIOPCIDevice *vdev, int nr,
                              uint64_t iova, uint64_t len, const char *why)
{
    warn_report("vfio %s: BAR %d at IOVA 0x%" PRIx64 " size 0x%" PRIx64
                " is not DMA-mapped (%s %d: %s): PCI peer-to-peer "
                "transactions on BARs are not supported",
                vdev->name, nr, iova, len, b->ops->name, b->id, why);
}

/*
 * The mapping of [IOVA, IOVA + LEN) of section S: its vaddr, and where
 * the pages are in the RAM block's file when it has one (MAP_FILE). A
 * BAR's fd is the device's, no file an IOMMU maps: by vaddr only.
 */
static VFIODmaMap vfio_section_map(MemoryRegionSection *s, uint64_t iova,
                                   uint64_t len, bool bar)
{
    RAMBlock *rb = memory_region_get_ram_block(s->mr);
    uint64_t skew =
        s->offset_within_region + (iova - s->offset_within_address_space);
    VFIODmaMap m = {
        .iova = iova,
        .size = len,
        .vaddr = (uintptr_t)memory_region_get_ram_ptr(s->mr) + skew,
        .fd = -1,
        .readonly = s->readonly,
        .mr = s->mr,
    };

    if (!bar && rb && rb->fd >= 0 && (rb->flags & RAM_SHARED)) {
        m.fd = rb->fd;
        m.fd_offset = rb->fd_offset + (m.vaddr - (uintptr_t)rb->host);
    }
    return m;
}

static void vfio_listener_region_add(MemoryListener *l, MemoryRegionSection *s)
{
    VFIOIOMMU *b = container_of(l, VFIOIOMMU, listener);
    uint64_t iova, len;
    VFIODmaMap m;
    VFIOPCIDevice *bar_dev;
    int bar_nr = -1;
    int ret;

    if (!vfio_section_range(b, s, &iova, &len)) {
        return;
    }
    bar_dev = vfio_section_bar(s, &bar_nr);
    if (bar_dev && b->ops->no_bar_map) {
        vfio_bar_unmapped(b, bar_dev, bar_nr, iova, len, b->ops->no_bar_map);
        return;
    }
    if (!vfio_iova_ranges_contain((VFIOIovaRange *)b->iova_ranges->data,
                                  b->iova_ranges->len, iova, len)) {
        GError *err = NULL;

        if (bar_dev) {
            vfio_bar_unmapped(b, bar_dev, bar_nr, iova, len,
                              "outside the IOMMU's usable IOVA ranges");
            return;
        }
        error_setg(&err,
                   "vfio: RAM '%s' at IOVA 0x%" PRIx64 "-0x%" PRIx64
                   " is outside the IOMMU's usable IOVA ranges",
                   memory_region_name(s->mr), iova, iova + len - 1);
        vfio_iommu_fail(b, err);
        return;
    }
    m = vfio_section_map(s, iova, len, bar_dev != NULL);
    ret = b->ops->dma_map(b, &m);
    trace_vfio_dma_map(b->ops->name, b->id, iova, len, m.vaddr, m.by_fd,
                       s->readonly, ret);
    if (ret < 0 && bar_dev) {
        vfio_bar_unmapped(b, bar_dev, bar_nr, iova, len, g_strerror(-ret));
        return;
    }
    if (ret < 0) {
        GError *err = NULL;

        /*
         * EFAULT is what the kernel returns for memory it cannot pin,
         * e.g. private anonymous RAM where the IOMMU needs it shared.
         */
        error_setg(&err,
                   "vfio: DMA map of RAM '%s' at IOVA 0x%" PRIx64
                   " size 0x%" PRIx64 " failed: %s",
                   memory_region_name(s->mr), iova, len, g_strerror(-ret));
        vfio_iommu_fail(b, err);
        return;
    }
    g_array_append_val(b->mappings, m);
}

static void vfio_listener_region_del(MemoryListener *l, MemoryRegionSection *s)
{
    VFIOIOMMU *b = container_of(l, VFIOIOMMU, listener);
    uint64_t iova, len;
    int ret;

    if (b->handed_over || !vfio_section_range(b, s, &iova, &len)) {
        return; /* handed over: the mappings are the new process's */
    }
    for (unsigned int i = 0; i < b->mappings->len; i++) {
        VFIODmaMap m = g_array_index(b->mappings, VFIODmaMap, i);

        if (m.iova != iova || m.size != len) {
            continue;
        }
        g_array_remove_index_fast(b->mappings, i);
        ret = b->ops->dma_unmap(b, &m);
        trace_vfio_dma_unmap(b->ops->name, b->id, iova, len, ret);
        if (ret < 0) {
            error_report("vfio: DMA unmap at IOVA 0x%" PRIx64 " size 0x%" PRIx64
                         " failed: %s",
                         iova, len, g_strerror(-ret));
        }
        return;
    }
}

void vfio_iommu_init(VFIOIOMMU *b, const VFIOIOMMUOps *ops, AddressSpace *as)
{
    b->ops = ops;
    b->as = as;
    b->iova_ranges = g_array_new(false, false, sizeof(VFIOIovaRange));
    b->mappings = g_array_new(false, false, sizeof(VFIODmaMap));
    b->devices = g_ptr_array_new();
}

void vfio_iommu_add_device(VFIOIOMMU *b, VFIOPCIDevice *vdev)
{
    g_ptr_array_add(b->devices, vdev);
}

void vfio_iommu_del_device(VFIOIOMMU *b, VFIOPCIDevice *vdev)
{
    g_ptr_array_remove(b->devices, vdev);
}

static bool vfio_listener_log_start(MemoryListener *l, GError **errp)
{
    return vfio_dirty_start(container_of(l, VFIOIOMMU, listener), errp);
}

static void vfio_listener_log_stop(MemoryListener *l)
{
    vfio_dirty_stop(container_of(l, VFIOIOMMU, listener));
}

static bool vfio_listener_log_sync(MemoryListener *l, MemoryRegionSection *s,
                                   GError **errp)
{
    return vfio_dirty_sync(container_of(l, VFIOIOMMU, listener), s, errp);
}

void vfio_iommu_destroy(VFIOIOMMU *b)
{
    vfio_iommu_unlisten(b);
    g_clear_pointer(&b->iova_ranges, g_array_unref);
    g_clear_pointer(&b->mappings, g_array_unref);
    g_clear_pointer(&b->devices, g_ptr_array_unref);
    if (b->error) {
        g_clear_error(&b->error);
    }
}

bool vfio_iommu_listen(VFIOIOMMU *b, GError **errp)
{
    b->listener = (MemoryListener){
        .name = "vfio",
        .priority = 10,
        .region_add = vfio_listener_region_add,
        .region_del = vfio_listener_region_del,
        .log_global_start = vfio_listener_log_start,
        .log_global_stop = vfio_listener_log_stop,
        .log_sync = vfio_listener_log_sync,
    };
    b->collecting = true;
    memory_listener_register(&b->listener, b->as);
    b->listening = true;
    b->collecting = false;
    if (b->error) {
        g_propagate_error(errp, g_steal_pointer(&b->error));
        return false;
    }
    return true;
}

void vfio_iommu_unlisten(VFIOIOMMU *b)
{
    if (b->listening) {
        /* Unmaps every section still mapped (unless handed over). */
        memory_listener_unregister(&b->listener);
        b->listening = false;
    }
}

const VFIODmaMap *vfio_iommu_find_vaddr_map(VFIOIOMMU *b)
{
    for (unsigned int i = 0; i < b->mappings->len; i++) {
        VFIODmaMap *m = &g_array_index(b->mappings, VFIODmaMap, i);

        if (!m->by_fd) {
            return m;
        }
    }
    return NULL;
}
