/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-pci: a host PCI function assigned to the guest through VFIO
 * (QEMU's device and options). This file opens the device (host=,
 * sysfsdev=), reads its regions, exposes its BARs as pread/pwrite
 * windows and resets it on machine reset; pci-config.c virtualizes its
 * config space, pci-irq.c its interrupts, container.c (legacy) or
 * iommufd.c (iommufd=) its DMA mappings.
 * BARs the kernel lets baton mmap are mapped into the guest directly.
 * Not here yet: hot-unplug.
 */
#include "util/osdep.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/pci/msix.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"
#include "system/iommufd.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

#define TYPE_VFIO_PCI "vfio-pci"
#define VFIO_PCI(obj) OBJECT_CHECK(VFIOPCIDevice, (obj), TYPE_VFIO_PCI)

/* Functions open in this process: a second -device for one is refused. */
static GPtrArray *vfio_pci_devices;

/* ---- BARs: guest accesses become pread/pwrite at the region offset ---- */

static uint64_t vfio_bar_read(void *opaque, hwaddr addr, unsigned size)
{
    VFIOBar *bar = opaque;
    VFIOPCIDevice *vdev = bar->vdev;
    uint8_t buf[8] = {0};
    uint64_t val = 0;
    ssize_t n;

    vfio_intx_eoi(vdev);
    n = pread(vdev->fd, buf, size, (off_t)(bar->offset + addr));
    if (n != (ssize_t)size) {
        log_mask(LOG_GUEST_ERROR,
                 "vfio %s: BAR %d read of %u bytes at 0x%" PRIx64 " failed: %s",
                 vdev->name, bar->nr, size, addr,
                 n < 0 ? g_strerror(errno) : "short read");
        return size == 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
    }
    for (unsigned i = 0; i < size; i++) {
        val |= (uint64_t)buf[i] << (8 * i);
    }
    trace_vfio_bar_read(vdev->name, bar->nr, addr, size, val);
    return val;
}

static void vfio_bar_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    VFIOBar *bar = opaque;
    VFIOPCIDevice *vdev = bar->vdev;
    uint8_t buf[8];
    ssize_t n;

    for (unsigned i = 0; i < size; i++) {
        buf[i] = (uint8_t)(val >> (8 * i));
    }
    trace_vfio_bar_write(vdev->name, bar->nr, addr, size, val);
    n = pwrite(vdev->fd, buf, size, (off_t)(bar->offset + addr));
    if (n != (ssize_t)size) {
        log_mask(LOG_GUEST_ERROR,
                 "vfio %s: BAR %d write of %u bytes at 0x%" PRIx64
                 " failed: %s",
                 vdev->name, bar->nr, size, addr,
                 n < 0 ? g_strerror(errno) : "short write");
    }
    vfio_intx_eoi(vdev);
}

static const MemoryRegionOps vfio_bar_ops = {
    .read = vfio_bar_read,
    .write = vfio_bar_write,
};

/* Region INDEX's size, offset and flags (GET_REGION_INFO). */
static bool vfio_region_info(VFIOPCIDevice *vdev, uint32_t index,
                             struct vfio_region_info *info, GError **errp)
{
    int ret;

    memset(info, 0, sizeof(*info));
    info->argsz = sizeof(*info);
    info->index = index;
    ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_GET_REGION_INFO, info);
    if (ret < 0) {
        error_setg(errp, "failed to get region %u info: %s", index,
                   g_strerror(-ret));
        return false;
    }
    trace_vfio_region(vdev->name, (int)index, info->size, info->offset,
                      info->flags);
    return true;
}

/*
 * BAR NR (or the ROM): its size from the region, its type from the
 * device's BAR register; a container for MSI-X to overlay, over a
 * pread/pwrite window. Not registered with the PCI core here.
 */
static bool vfio_bar_setup(VFIOPCIDevice *vdev, int nr, GError **errp)
{
    VFIOBar *bar = &vdev->bars[nr];
    struct vfio_region_info info;
    uint32_t reg = 0;
    g_autofree char *name = NULL;

    bar->vdev = vdev;
    bar->nr = nr;
    if ((uint32_t)nr >= vdev->num_regions ||
        !vfio_region_info(vdev, nr, &info, errp)) {
        return (uint32_t)nr >= vdev->num_regions;
    }
    if (!info.size) {
        return true;
    }
    if (info.size & (info.size - 1)) {
        error_setg(errp, "region %d size 0x%" PRIx64 " is not a power of two",
                   nr, (uint64_t)info.size);
        return false;
    }
    if (nr != PCI_ROM_SLOT &&
        !vfio_config_pread(vdev, &reg, 4, PCI_BASE_ADDRESS_0 + 4 * nr, errp)) {
        return false;
    }
    reg = GUINT32_FROM_LE(reg);
    if (reg & PCI_BASE_ADDRESS_SPACE_IO) {
        bar->type = PCI_BASE_ADDRESS_SPACE_IO;
    } else {
        bar->type = reg & (PCI_BASE_ADDRESS_MEM_TYPE_64 |
                           PCI_BASE_ADDRESS_MEM_PREFETCH);
    }
    if (info.size < (bar->type & PCI_BASE_ADDRESS_SPACE_IO ? 4 : 16)) {
        error_setg(errp, "region %d size 0x%" PRIx64 " is too small for a BAR",
                   nr, (uint64_t)info.size);
        return false;
    }
    bar->size = info.size;
    bar->offset = info.offset;
    bar->flags = info.flags;
    name = g_strdup_printf("%s BAR %d", vdev->name, nr);
    memory_region_init(&bar->mem, OBJECT(vdev), name, bar->size);
    memory_region_init_io(&bar->io, OBJECT(vdev), &vfio_bar_ops, bar, name,
                          bar->size);
    memory_region_add_subregion(&bar->mem, 0, &bar->io);
    return true;
}

/*
 * The parts of BAR the kernel lets baton mmap: all of it with the MMAP
 * flag, or the areas of its sparse-mmap capability (vfio-pci lists the
 * parts around the MSI-X table there). A GArray of VFIOArea, or NULL
 * when nothing may be mmap'ed.
 */
static GArray *vfio_bar_mmap_allowed(VFIOPCIDevice *vdev, VFIOBar *bar)
{
    g_autofree struct vfio_region_info *info = NULL;
    GArray *areas = g_array_new(false, false, sizeof(VFIOArea));
    VFIOArea whole = {.offset = 0, .size = bar->size};
    uint32_t argsz = sizeof(*info);

    if (!(bar->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
        g_array_unref(areas);
        return NULL;
    }
    g_array_append_val(areas, whole);
    if (!(bar->flags & VFIO_REGION_INFO_FLAG_CAPS)) {
        return areas;
    }
    /* The capability chain: argsz grows until it fits. */
    for (;;) {
        info = g_realloc(info, argsz);
        memset(info, 0, argsz);
        info->argsz = argsz;
        info->index = bar->nr;
        if (VFIO_IOCTL(vdev->fd, VFIO_DEVICE_GET_REGION_INFO, info) < 0) {
            g_array_unref(areas);
            return NULL;
        }
        if (info->argsz <= argsz) {
            break;
        }
        if (info->argsz > 65536) {
            /* No sane chain is that long: read/write only. */
            g_array_unref(areas);
            return NULL;
        }
        argsz = info->argsz;
    }
    for (uint32_t off = info->cap_offset;
         off >= sizeof(*info) &&
         off + sizeof(struct vfio_info_cap_header) <= argsz;) {
        struct vfio_info_cap_header *hdr = (void *)((uint8_t *)info + off);

        if (hdr->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
            struct vfio_region_info_cap_sparse_mmap *sp = (void *)hdr;

            g_array_set_size(areas, 0);
            for (uint32_t i = 0;
                 i < sp->nr_areas &&
                 off + sizeof(*sp) + (i + 1) * sizeof(sp->areas[0]) <= argsz;
                 i++) {
                VFIOArea a = {.offset = sp->areas[i].offset,
                              .size = sp->areas[i].size};

                trace_vfio_bar_sparse(vdev->name, bar->nr, a.offset, a.size);
                g_array_append_val(areas, a);
            }
            break;
        }
        if (hdr->next <= off) {
            break;
        }
        off = hdr->next;
    }
    return areas;
}

/* The MSI-X table and PBA ranges in BAR (0 to 2 of them) into EXCL. */
static unsigned int vfio_bar_msix_ranges(VFIOPCIDevice *vdev, VFIOBar *bar,
                                         VFIOArea *excl)
{
    PCIDevice *d = &vdev->parent_obj;
    unsigned int n = 0;
    uint32_t table, pba;

    if (!d->msix_cap) {
        return 0;
    }
    table = pci_get_long(d->config + d->msix_cap + PCI_MSIX_TABLE);
    pba = pci_get_long(d->config + d->msix_cap + PCI_MSIX_PBA);
    if (d->msix_table_bar == &bar->mem) {
        excl[n].offset = table & ~PCI_MSIX_FLAGS_BIRMASK;
        excl[n++].size = d->msix_table_len;
    }
    if (d->msix_pba_bar == &bar->mem) {
        excl[n].offset = pba & ~PCI_MSIX_FLAGS_BIRMASK;
        excl[n++].size = d->msix_pba_len;
    }
    return n;
}

/* Part A of BAR as a RAM region over its pread/pwrite window. */
static bool vfio_bar_mmap_one(VFIOPCIDevice *vdev, VFIOBar *bar,
                              const VFIOArea *a, bool whole)
{
    VFIOBarMmap *m = &bar->mmaps[bar->nr_mmaps];
    g_autofree char *name = NULL;
    GError *local_err = NULL;
    int fd;

    fd = fcntl(vdev->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        warn_report("vfio %s: BAR %d is accessed by read/write: %s", vdev->name,
                    bar->nr, g_strerror(errno));
        return false;
    }
    /* The RAM block's name is its identity in a live update's stream. */
    name = whole ? g_strdup_printf("%s BAR %d mmap", vdev->name, bar->nr)
                 : g_strdup_printf("%s BAR %d mmap 0x%" PRIx64, vdev->name,
                                   bar->nr, a->offset);
    m->rb = ram_block_new_from_fd(name, a->size, fd, bar->offset + a->offset,
                                  RAM_SHARED | RAM_DEVICE, false, &local_err);
    if (!m->rb) {
        close(fd);
        warn_report("vfio %s: BAR %d at 0x%" PRIx64 " is accessed by "
                    "read/write: %s",
                    vdev->name, bar->nr, a->offset, local_err->message);
        g_error_free(local_err);
        return false;
    }
    m->offset = a->offset;
    m->size = a->size;
    memory_region_init_ram_from_block(&m->ram, OBJECT(vdev), name, m->rb, 0,
                                      a->size);
    memory_region_add_subregion_overlap(&bar->mem, a->offset, &m->ram, 1);
    trace_vfio_bar_mmap(vdev->name, bar->nr, a->offset, a->size);
    bar->nr_mmaps++;
    return true;
}

/*
 * BAR NR's mmap-able parts as the device's memory mapped into the guest
 * (RAM regions over the pread/pwrite window), so accesses need no exit:
 * the parts the kernel allows, in whole pages, less the pages of the
 * MSI-X table and PBA (baton emulates those; the rest of their pages
 * stays read/write). If an mmap fails, that part keeps working through
 * pread/pwrite.
 */
static void vfio_bar_mmap(VFIOPCIDevice *vdev, VFIOBar *bar)
{
    g_autoptr(GArray) allowed = NULL;
    g_autoptr(GArray) parts = NULL;
    VFIOArea excl[2];
    unsigned int nexcl;

    if (!bar->size || bar->nr == PCI_ROM_SLOT ||
        (bar->type & PCI_BASE_ADDRESS_SPACE_IO)) {
        return;
    }
    allowed = vfio_bar_mmap_allowed(vdev, bar);
    if (!allowed) {
        return;
    }
    nexcl = vfio_bar_msix_ranges(vdev, bar, excl);
    parts = vfio_bar_mmap_areas((VFIOArea *)allowed->data, allowed->len,
                                bar->size, excl, nexcl, getpagesize());
    bar->mmaps = g_new0(VFIOBarMmap, MAX(parts->len, 1));
    for (unsigned int i = 0; i < parts->len; i++) {
        const VFIOArea *a = &g_array_index(parts, VFIOArea, i);

        vfio_bar_mmap_one(vdev, bar, a,
                          parts->len == 1 && a->size == bar->size);
    }
}

const GPtrArray *vfio_pci_list(void)
{
    if (!vfio_pci_devices) {
        vfio_pci_devices = g_ptr_array_new();
    }
    return vfio_pci_devices;
}

int vfio_pci_bar_nr(VFIOPCIDevice *vdev, const MemoryRegion *mr)
{
    for (int nr = 0; nr < PCI_NUM_REGIONS; nr++) {
        for (unsigned int i = 0; i < vdev->bars[nr].nr_mmaps; i++) {
            if (&vdev->bars[nr].mmaps[i].ram == mr) {
                return nr;
            }
        }
    }
    return -1;
}

static void vfio_bars_register(VFIOPCIDevice *vdev)
{
    PCIDevice *d = &vdev->parent_obj;

    for (int nr = 0; nr < PCI_NUM_REGIONS; nr++) {
        VFIOBar *bar = &vdev->bars[nr];

        if (bar->size) {
            vfio_bar_mmap(vdev, bar);
            pci_register_bar(d, nr, nr == PCI_ROM_SLOT ? 0 : bar->type,
                             &bar->mem);
        }
        if (bar->type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
            nr++; /* the upper half of this BAR */
        }
    }
}

static void vfio_bars_finalize(VFIOPCIDevice *vdev)
{
    for (int nr = 0; nr < PCI_NUM_REGIONS; nr++) {
        VFIOBar *bar = &vdev->bars[nr];

        for (unsigned int i = 0; i < bar->nr_mmaps; i++) {
            VFIOBarMmap *m = &bar->mmaps[i];

            memory_region_del_subregion(&bar->mem, &m->ram);
            memory_region_finalize(&m->ram);
            g_clear_pointer(&m->rb, ram_block_free);
        }
        g_clear_pointer(&bar->mmaps, g_free);
        bar->nr_mmaps = 0;
        if (bar->size) {
            memory_region_del_subregion(&bar->mem, &bar->io);
            memory_region_finalize(&bar->io);
            memory_region_finalize(&bar->mem);
            bar->size = 0;
        }
    }
}

/* ---- opening the host device ---- */

/*
 * A mediated device (its sysfs subsystem is the mdev bus): the kernel
 * driver translates its DMA through the vaddr, so the vaddr must be
 * valid at all times (cpr.c blocks live update on it).
 */
static bool vfio_is_mdev(const char *sysfsdev)
{
    g_autofree char *link = g_strdup_printf("%s/subsystem", sysfsdev);
    g_autofree char *target = realpath(link, NULL);
    g_autofree char *base = target ? g_path_get_basename(target) : NULL;

    return base && !strcmp(base, "mdev");
}

/* A function is assigned once per process. */
static bool vfio_pci_check_unique(VFIOPCIDevice *vdev, GError **errp)
{
    for (unsigned int i = 0; vfio_pci_devices && i < vfio_pci_devices->len;
         i++) {
        VFIOPCIDevice *other = g_ptr_array_index(vfio_pci_devices, i);

        if (!strcmp(other->name, vdev->name)) {
            error_setg(errp, "vfio %s: device is already attached", vdev->name);
            return false;
        }
    }
    return true;
}

/*
 * NAME and SYSFSDEV from host= or sysfsdev= (exactly one of them), or
 * with iommufd= a passed device cdev (fd=) alone.
 */
static bool vfio_pci_find(VFIOPCIDevice *vdev, GError **errp)
{
    struct stat st;

    if (vdev->fd_param && !vdev->iommufd) {
        error_setg(errp, "fd=%s: Use FD passing only with iommufd backend",
                   vdev->fd_param);
        return false;
    }
    if (vdev->host && vdev->sysfsdev) {
        error_setg(errp, "host= and sysfsdev= are exclusive; "
                         "give one of them");
        return false;
    }
    if (vdev->host) {
        g_autofree char *bdf = vfio_parse_host_bdf(vdev->host, errp);

        if (!bdf) {
            return false;
        }
        vdev->sysfsdev = g_strdup_printf("/sys/bus/pci/devices/%s", bdf);
    } else if (!vdev->sysfsdev && vdev->fd_param) {
        /* A passed cdev fd alone: QEMU names the device after it. */
        vdev->name = g_strdup_printf("VFIO_FD%s", vdev->fd_param);
        return vfio_pci_check_unique(vdev, errp);
    } else if (!vdev->sysfsdev) {
        error_setg(errp, "No provided host device; use "
                         "-device vfio-pci,host=DDDD:BB:DD.F or "
                         "-device vfio-pci,sysfsdev=PATH_TO_DEVICE");
        return false;
    }
    vdev->name = g_path_get_basename(vdev->sysfsdev);
    if (stat(vdev->sysfsdev, &st) < 0) {
        error_setg_errno(errp, errno, "vfio %s: no such host device",
                         vdev->name);
        return false;
    }
    vdev->mdev = vfio_is_mdev(vdev->sysfsdev);
    return vfio_pci_check_unique(vdev, errp);
}

/* Group and container, and the device fd from the group. */
static bool vfio_pci_attach_legacy(VFIOPCIDevice *vdev, GError **errp)
{
    int groupid = vfio_sysfs_group_id(vdev->sysfsdev, errp);

    if (groupid < 0) {
        return false;
    }
    vdev->group = vfio_group_get(
        groupid, pci_device_iommu_address_space(&vdev->parent_obj),
        OBJECT(vdev), errp);
    if (!vdev->group || !vfio_cpr_device_fd(vdev, errp)) {
        return false;
    }
    vdev->dma = &vdev->group->container->base;
    return true;
}

/*
 * The transport (legacy container, or iommufd=), device fd, device info.
 * Errors unprefixed.
 */
static bool vfio_pci_attach(VFIOPCIDevice *vdev, GError **errp)
{
    struct vfio_device_info info = {.argsz = sizeof(info)};
    int ret;

    if (vdev->iommufd ? !vfio_iommufd_attach(vdev, errp)
                      : !vfio_pci_attach_legacy(vdev, errp)) {
        return false;
    }
    ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_GET_INFO, &info);
    if (ret < 0) {
        error_setg(errp, "error getting device info: %s", g_strerror(-ret));
        return false;
    }
    if (!(info.flags & VFIO_DEVICE_FLAGS_PCI)) {
        error_setg(errp, "device is not a PCI device (flags 0x%x)", info.flags);
        return false;
    }
    if (info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
        error_setg(errp, "device has %u regions, no config space",
                   info.num_regions);
        return false;
    }
    vdev->num_regions = info.num_regions;
    vdev->num_irqs = info.num_irqs;
    vdev->can_reset = info.flags & VFIO_DEVICE_FLAGS_RESET;
    return true;
}

/* Undo whatever realize did; safe on a half-done realize. */
static void vfio_pci_teardown(VFIOPCIDevice *vdev)
{
    PCIDevice *d = &vdev->parent_obj;

    vfio_migration_exit(vdev);
    if (vdev->dma) {
        vfio_iommu_del_device(vdev->dma, vdev);
    }
    vfio_cpr_unregister(vdev);
    /* Before the BARs go: MSI-X overlays them and uses the vectors. */
    msix_uninit(d);
    vfio_irqs_disable(vdev);
    vfio_bars_finalize(vdev);
    /* Detached (and its IOAS put) while the cdev fd is still open. */
    vfio_iommufd_detach(vdev);
    if (vdev->fd >= 0) {
        close(vdev->fd);
        vdev->fd = -1;
    }
    if (vdev->group) {
        vfio_group_put(vdev->group);
        vdev->group = NULL;
        vdev->dma = NULL;
    }
    if (vfio_pci_devices) {
        g_ptr_array_remove(vfio_pci_devices, vdev);
    }
}

static bool vfio_pci_realize(PCIDevice *d, GError **errp)
{
    VFIOPCIDevice *vdev = VFIO_PCI(d);
    struct vfio_region_info cfg;

    if (!vfio_pci_find(vdev, errp)) {
        return false;
    }
    if (!vfio_pci_attach(vdev, errp) ||
        !vfio_region_info(vdev, VFIO_PCI_CONFIG_REGION_INDEX, &cfg, errp)) {
        goto fail;
    }
    vdev->config_offset = cfg.offset;
    vdev->config_size = cfg.size;
    for (int nr = 0; nr < PCI_NUM_REGIONS; nr++) {
        if (!vfio_bar_setup(vdev, nr, errp)) {
            goto fail;
        }
        if (vdev->bars[nr].type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
            nr++;
        }
    }
    if (!vfio_config_setup(vdev, errp)) {
        goto fail;
    }
    vfio_bars_register(vdev);
    /* Inherited: the interrupt setup is the old process's (post_load). */
    if (!vdev->cpr_reused && !vfio_intx_enable(vdev, errp)) {
        goto fail;
    }
    vfio_iommu_add_device(vdev->dma, vdev);
    if (!vfio_migration_realize(vdev, errp)) {
        goto fail;
    }
    vfio_cpr_register(vdev);
    if (!vfio_pci_devices) {
        vfio_pci_devices = g_ptr_array_new();
    }
    g_ptr_array_add(vfio_pci_devices, vdev);
    return true;

fail:
    g_prefix_error(errp, "vfio %s: ", vdev->name);
    vfio_pci_teardown(vdev);
    return false;
}

static void vfio_pci_exit(PCIDevice *d)
{
    vfio_pci_teardown(VFIO_PCI(d));
}

/*
 * Machine reset (after the core reset the emulated config): interrupts
 * off on the host, VFIO_DEVICE_RESET, INTx back on as after realize.
 */
static void vfio_pci_reset(PCIDevice *d)
{
    VFIOPCIDevice *vdev = VFIO_PCI(d);
    GError *local_err = NULL;
    int ret = -ENOTTY;

    /*
     * Handed over: the new process's device. Inherited and not taken over
     * yet: the reset every new process does at start-up must not reach
     * the live device (the old process's state arrives by vmstate).
     */
    if (vdev->handed_over || vdev->quiet) {
        trace_vfio_cpr_device(vdev->name, "reset skipped");
        return;
    }
    vfio_irqs_disable(vdev);
    if (vdev->can_reset) {
        ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_RESET, NULL);
        if (ret < 0) {
            error_report("vfio %s: failed to reset device: %s", vdev->name,
                         g_strerror(-ret));
        }
    }
    if (ret == 0) {
        vfio_migration_reset(vdev);
    }
    trace_vfio_reset(vdev->name, ret);
    if (!vfio_intx_enable(vdev, &local_err)) {
        g_prefix_error(&local_err, "vfio %s: ", vdev->name);
        error_report_err(local_err);
    }
}

static bool vfio_pci_check_migratable(DeviceState *dev, unsigned int mode,
                                      GError **errp)
{
    return vfio_migration_check(VFIO_PCI(dev), mode, errp);
}

static const Property vfio_pci_props[] = {
    DEFINE_PROP("host", PROP_STRING, VFIOPCIDevice, host,
                .desc = "host PCI address DDDD:BB:SS.F of the function"),
    DEFINE_PROP("sysfsdev", PROP_STRING, VFIOPCIDevice, sysfsdev,
                .desc = "sysfs path of the function "
                        "(/sys/bus/pci/devices/DDDD:BB:SS.F)"),
    DEFINE_PROP("fd", PROP_STRING, VFIOPCIDevice, fd_param,
                .desc = "an open VFIO device cdev: fd number or getfd name "
                        "(with iommufd= only)"),
    DEFINE_PROP_LINK("iommufd", VFIOPCIDevice, iommufd, TYPE_IOMMUFD_BACKEND,
                     .desc = "the iommufd object (-object iommufd,id=ID) to "
                             "use instead of the legacy VFIO container"),
    DEFINE_PROP("x-device-dirty-page-tracking", PROP_ON_OFF_AUTO, VFIOPCIDevice,
                device_dirty_page_tracking, .defval = "on",
                .desc = "off: do not use the device's DMA logging for "
                        "dirty page tracking"),
    DEFINE_PROP("x-pre-copy-dirty-page-tracking", PROP_ON_OFF_AUTO,
                VFIOPCIDevice, pre_copy_dirty_page_tracking, .defval = "on",
                .desc = "off: collect the pages DMA wrote only at the "
                        "switch-over, not while the guest runs"),
    DEFINE_PROP("x-dirty-tracking", PROP_ON_OFF_AUTO, VFIOPCIDevice,
                dirty_tracking, .defval = "auto",
                .desc = "off (tests only): track no DMA write at all, so "
                        "a migration leaves stale pages behind"),
    DEFINE_PROP("enable-migration", PROP_ON_OFF_AUTO, VFIOPCIDevice,
                enable_migration, .defval = "auto",
                .desc = "migration of the device's state (auto: when the "
                        "host device supports it, else a blocker; on: "
                        "required)"),
    {NULL},
};

static void vfio_pci_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    device_class_set_props(dc, vfio_pci_props);
    dc->user_creatable = true;
    /*
     * Normal migration moves the config and interrupts (vmsd) with the
     * device's own state (migration.c), when the host device can;
     * check_migratable names the device that cannot.
     */
    dc->vmsd = &vmstate_vfio_pci;
    dc->check_migratable = vfio_pci_check_migratable;
    pc->realize = vfio_pci_realize;
    pc->exit = vfio_pci_exit;
    pc->reset = vfio_pci_reset;
    pc->config_read = vfio_pci_read_config;
    pc->config_write = vfio_pci_write_config;
    /* Preserved by fds and the vaddr hand-over (cpr.c, cpr-legacy.c). */
    oc->cpr_modes = CPR_MODES_PRESERVING;
    oc->cpr_check = vfio_pci_cpr_check;
    oc->desc = "VFIO-based PCI device assignment";
}

static void vfio_pci_instance_init(Object *obj)
{
    VFIOPCIDevice *vdev = VFIO_PCI(obj);

    vdev->fd = -1;
    vdev->intx_fd = vdev->intx_unmask_fd = vdev->intx_gsi = -1;
}

static void vfio_pci_instance_finalize(Object *obj)
{
    g_free(VFIO_PCI(obj)->name);
}

static const TypeInfo vfio_pci_type = {
    .name = TYPE_VFIO_PCI,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(VFIOPCIDevice),
    .instance_init = vfio_pci_instance_init,
    .instance_finalize = vfio_pci_instance_finalize,
    .class_init = vfio_pci_class_init,
};

static void vfio_pci_register_types(void)
{
    type_register(&vfio_pci_type);
    vfio_cpr_init(TYPE_VFIO_PCI);
    vfio_migration_init();
}

type_init(vfio_pci_register_types)
