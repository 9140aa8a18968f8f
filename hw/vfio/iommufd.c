/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-pci over iommufd (vfio-pci,iommufd=ID): the device cdev
 * (/dev/vfio/devices/vfioN, found through sysfs vfio-dev/, or fd=),
 * bound to the iommufd object, attached to an HWPT on the IOAS of its
 * DMA address space. One IOAS per (iommufd object, address space) is
 * shared by its devices and is the DMA listener's transport: fd-backed
 * RAM is mapped by file (IOMMU_IOAS_MAP_FILE, no vaddr involved), other
 * RAM by vaddr. Live update's side of it is cpr-iommufd.c's.
 */
#include "util/osdep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "migration/cpr.h"
#include "monitor/fds.h"
#include "standard-headers/linux/iommufd.h"
#include "standard-headers/linux/vfio-extra.h"
#include "system/iommufd.h"
#include "trace.h"
#include "vfio-internal.h"

/* IOAS containers (VFIOIOASContainer *) of this process. */
static GPtrArray *vfio_ioas_list;

static VFIOIOASContainer *vfio_ioas_of(VFIOIOMMU *b)
{
    return container_of(b, VFIOIOASContainer, base);
}

/*
 * By file when the RAM block has one (the mapping then does not depend
 * on this process's address space, so live update can move it), else by
 * vaddr. A new process's replay maps nothing: the IOAS kept every
 * mapping the old process made.
 */
static int vfio_ioas_dma_map(VFIOIOMMU *b, VFIODmaMap *m)
{
    VFIOIOASContainer *c = vfio_ioas_of(b);

    m->by_fd = m->fd >= 0;
    if (b->remapping) {
        return 0;
    }
    if (m->by_fd) {
        return iommufd_backend_map_file_dma(c->be, c->ioas_id, m->iova, m->size,
                                            m->fd, m->fd_offset, m->readonly);
    }
    return iommufd_backend_map_dma(c->be, c->ioas_id, m->iova, m->size,
                                   m->vaddr, m->readonly);
}

static int vfio_ioas_dma_unmap(VFIOIOMMU *b, const VFIODmaMap *m)
{
    VFIOIOASContainer *c = vfio_ioas_of(b);

    return iommufd_backend_unmap_dma(c->be, c->ioas_id, m->iova, m->size);
}

/* Each distinct HWPT of the IOAS's devices, with FN; first error wins. */
static int vfio_ioas_each_hwpt(VFIOIOMMU *b,
                               int (*fn)(Object *be, uint32_t hwpt,
                                         void *opaque),
                               void *opaque)
{
    VFIOIOASContainer *c = container_of(b, VFIOIOASContainer, base);
    g_autoptr(GArray) done = g_array_new(false, false, sizeof(uint32_t));

    for (guint i = 0; i < b->devices->len; i++) {
        VFIOPCIDevice *vdev = g_ptr_array_index(b->devices, i);
        bool seen = false;
        int ret;

        for (guint j = 0; j < done->len; j++) {
            seen |= g_array_index(done, uint32_t, j) == vdev->hwpt_id;
        }
        if (seen) {
            continue;
        }
        g_array_append_val(done, vdev->hwpt_id);
        ret = fn(c->be, vdev->hwpt_id, opaque);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static int vfio_hwpt_dirty_set(Object *be, uint32_t hwpt, void *opaque)
{
    return iommufd_backend_set_dirty_tracking(be, hwpt, *(bool *)opaque);
}

static int vfio_ioas_dirty_set(VFIOIOMMU *b, bool on)
{
    return vfio_ioas_each_hwpt(b, vfio_hwpt_dirty_set, &on);
}

typedef struct VFIOHwptBitmap {
    uint64_t iova, size, pgsize;
    uint64_t *bitmap;
} VFIOHwptBitmap;

static int vfio_hwpt_dirty_get(Object *be, uint32_t hwpt, void *opaque)
{
    VFIOHwptBitmap *r = opaque;

    /* The kernel sets bits: every HWPT's go into the one bitmap. */
    return iommufd_backend_get_dirty_bitmap(be, hwpt, r->iova, r->size,
                                            r->pgsize, r->bitmap);
}

static int vfio_ioas_dirty_get(VFIOIOMMU *b, uint64_t iova, uint64_t size,
                               uint64_t pgsize, uint64_t *bitmap)
{
    VFIOHwptBitmap r = {iova, size, pgsize, bitmap};

    return vfio_ioas_each_hwpt(b, vfio_hwpt_dirty_get, &r);
}

static const VFIOIOMMUOps vfio_ioas_ops = {
    .name = "ioas",
    /*
     * iommufd pins pages (pin_user_pages): IOAS_MAP of an mmap'ed BAR's
     * vaddr (a VM_PFNMAP vma) is EFAULT on every kernel, and a vaddr
     * mapping could not move with IOAS_CHANGE_PROCESS in a live update
     * anyway (docs/devel/vfio.md, peer-to-peer).
     */
    .no_bar_map = "iommufd maps no device memory by virtual address",
    .dma_map = vfio_ioas_dma_map,
    .dma_unmap = vfio_ioas_dma_unmap,
    .dirty_set = vfio_ioas_dirty_set,
    .dirty_get = vfio_ioas_dirty_get,
};

/* The IOAS's IOVA ranges (narrowed once a device is attached). */
static bool vfio_ioas_get_ranges(VFIOIOASContainer *c, GError **errp)
{
    g_autoptr(GArray) r = g_array_new(false, false, sizeof(uint64_t));
    uint64_t align = 0;
    int ret = iommufd_backend_get_iova_ranges(c->be, c->ioas_id, r, &align);

    if (ret < 0) {
        error_setg(errp, "Failed to get IOVA ranges of ioas %u: %s", c->ioas_id,
                   g_strerror(-ret));
        return false;
    }
    g_array_set_size(c->base.iova_ranges, 0);
    for (guint i = 0; i + 1 < r->len; i += 2) {
        VFIOIovaRange v = {g_array_index(r, uint64_t, i),
                           g_array_index(r, uint64_t, i + 1)};

        g_array_append_val(c->base.iova_ranges, v);
    }
    /* The IOMMU maps host pages at least. */
    c->base.pgsizes = MAX(align, (uint64_t)getpagesize());
    c->base.pgsizes &= -c->base.pgsizes;
    return true;
}

static VFIOIOASContainer *vfio_ioas_new(Object *be, AddressSpace *as,
                                        uint32_t ioas_id)
{
    VFIOIOASContainer *c = g_new0(VFIOIOASContainer, 1);

    vfio_iommu_init(&c->base, &vfio_ioas_ops, as);
    c->be = be;
    c->ioas_id = ioas_id;
    c->base.id = (int)ioas_id;
    iommufd_backend_ioas_get(be);
    if (!vfio_ioas_list) {
        vfio_ioas_list = g_ptr_array_new();
    }
    g_ptr_array_add(vfio_ioas_list, c);
    vfio_ioas_cpr_register(c);
    trace_vfio_ioas_new(object_get_id(be), ioas_id);
    return c;
}

static void vfio_ioas_put(VFIOIOASContainer *c)
{
    g_assert(c->users > 0);
    if (--c->users) {
        return;
    }
    vfio_iommu_unlisten(&c->base);
    /* Handed over: the IOAS and its HWPT are the new process's. */
    if (!c->base.handed_over) {
        if (c->hwpt_id) {
            iommufd_backend_free_id(c->be, c->hwpt_id);
        }
        iommufd_backend_free_id(c->be, c->ioas_id);
    }
    iommufd_backend_ioas_put(c->be);
    vfio_ioas_cpr_unregister(c);
    g_ptr_array_remove(vfio_ioas_list, c);
    vfio_iommu_destroy(&c->base);
    g_free(c);
}

static VFIOIOASContainer *vfio_ioas_find(Object *be, AddressSpace *as)
{
    for (guint i = 0; vfio_ioas_list && i < vfio_ioas_list->len; i++) {
        VFIOIOASContainer *c = g_ptr_array_index(vfio_ioas_list, i);

        if (c->be == be && c->base.as == as) {
            return c;
        }
    }
    return NULL;
}

static int vfio_device_attach_pt(VFIOPCIDevice *vdev, uint32_t pt_id,
                                 uint32_t *hwpt_id)
{
    struct vfio_device_attach_iommufd_pt at = {
        .argsz = sizeof(at),
        .pt_id = pt_id,
    };
    int ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);

    if (ret == 0) {
        *hwpt_id = at.pt_id;
    }
    trace_vfio_iommufd_attach(vdev->name, pt_id, ret < 0 ? 0 : at.pt_id, ret);
    return ret;
}

/*
 * Attach to C: its HWPT if the device can share it, else an HWPT of its
 * own on the IOAS (QEMU allocates one per compatible group of devices),
 * else the IOAS itself (the kernel makes the HWPT). *OWN: the device's
 * own HWPT, destroyed with its attachment.
 */
static bool vfio_iommufd_attach_ioas(VFIOPCIDevice *vdev, VFIOIOASContainer *c,
                                     bool *own, GError **errp)
{
    uint32_t hwpt = 0;
    int ret;

    *own = false;
    if (c->hwpt_id &&
        vfio_device_attach_pt(vdev, c->hwpt_id, &vdev->hwpt_id) == 0) {
        vdev->hwpt_dirty = c->hwpt_dirty;
        return true;
    }
    /*
     * Dirty tracking is chosen when the HWPT is made (QEMU's): a device
     * that cannot share a tracking HWPT gets its own.
     */
    ret = iommufd_backend_alloc_hwpt(
        vdev->iommufd, vdev->devid, c->ioas_id,
        vdev->iommu_dirty_cap ? IOMMU_HWPT_ALLOC_DIRTY_TRACKING : 0, &hwpt);
    if (ret == 0) {
        ret = vfio_device_attach_pt(vdev, hwpt, &vdev->hwpt_id);
        if (ret < 0) {
            iommufd_backend_free_id(vdev->iommufd, hwpt);
        } else if (!c->hwpt_id) {
            c->hwpt_id = hwpt;
            c->hwpt_dirty = vdev->iommu_dirty_cap;
        } else {
            *own = true;
        }
        vdev->hwpt_dirty = ret == 0 && vdev->iommu_dirty_cap;
    } else if (ret == -EOPNOTSUPP) {
        ret = vfio_device_attach_pt(vdev, c->ioas_id, &vdev->hwpt_id);
    }
    if (ret < 0) {
        error_setg(errp, "error attach %s (%d) to ioas=%u: %s", vdev->name,
                   vdev->fd, c->ioas_id, g_strerror(-ret));
        return false;
    }
    return true;
}

/* The device's IOAS: the one of its iommufd and address space, or new. */
static bool vfio_iommufd_connect(VFIOPCIDevice *vdev, GError **errp)
{
    AddressSpace *as = pci_device_iommu_address_space(&vdev->parent_obj);
    VFIOIOASContainer *c = vfio_ioas_find(vdev->iommufd, as);
    uint32_t ioas_id;
    bool fresh = !c, own;
    int ret;

    if (!c) {
        ret = iommufd_backend_alloc_ioas(vdev->iommufd, &ioas_id);
        if (ret < 0) {
            error_setg(errp, "Failed to allocate ioas: %s", g_strerror(-ret));
            return false;
        }
        c = vfio_ioas_new(vdev->iommufd, as, ioas_id);
    }
    c->users++;
    vdev->ioas = c;
    if (!vfio_iommufd_attach_ioas(vdev, c, &own, errp)) {
        return false;
    }
    vdev->own_hwpt = own;
    /* IOMMU tracking for the IOAS when every device's HWPT has it. */
    c->base.iommu_dirty = (fresh || c->base.iommu_dirty) && vdev->hwpt_dirty;
    /* A new IOAS: the ranges the attached IOMMU allows, then the RAM. */
    if (fresh && (!vfio_ioas_get_ranges(c, errp) ||
                  !vfio_iommu_listen(&c->base, errp))) {
        return false;
    }
    return true;
}

/* /dev/vfio/devices/vfioN for SYSFSDEV, from its vfio-dev/vfioN entry. */
static int vfio_iommufd_cdev_open(VFIOPCIDevice *vdev, GError **errp)
{
    g_autofree char *dir = g_strdup_printf("%s/vfio-dev", vdev->sysfsdev);
    g_autofree char *path = NULL;
    DIR *d = opendir(dir);
    struct dirent *e;
    int fd;

    if (!d) {
        error_setg_errno(errp, errno, "couldn't open directory %s", dir);
        return -1;
    }
    while ((e = readdir(d))) {
        if (!strncmp(e->d_name, "vfio", 4) && g_ascii_isdigit(e->d_name[4])) {
            path = g_strdup_printf("/dev/vfio/devices/%s", e->d_name);
            break;
        }
    }
    closedir(d);
    if (!path) {
        error_setg(errp,
                   "failed to find vfio-dev/vfioX under %s: is the "
                   "device bound to vfio-pci with VFIO device cdevs?",
                   vdev->sysfsdev);
        return -1;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to open %s", path);
    }
    return fd;
}

bool vfio_iommufd_attach(VFIOPCIDevice *vdev, GError **errp)
{
    Object *obj = OBJECT(vdev);
    struct vfio_device_bind_iommufd bind = {.argsz = sizeof(bind)};
    uint32_t type;
    uint64_t caps;
    int ret;

    ret = vfio_iommufd_cpr_adopt(vdev, errp);
    if (ret) {
        return ret > 0;
    }
    if (vdev->fd_param) {
        vdev->fd = monitor_fd_param(vdev->fd_param, errp);
    } else {
        vdev->fd = vfio_iommufd_cdev_open(vdev, errp);
    }
    if (vdev->fd < 0) {
        return false;
    }
    cpr_own_fd(obj, "vfio-device", 0, vdev->fd);
    bind.iommufd = iommufd_backend_fd(vdev->iommufd);
    ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
    if (ret < 0) {
        error_setg(errp, "error bind device fd=%d to iommufd=%d: %s", vdev->fd,
                   bind.iommufd, g_strerror(-ret));
        return false;
    }
    vdev->devid = bind.out_devid;
    ret = iommufd_backend_get_hw_info(vdev->iommufd, vdev->devid, &type, &caps);
    if (ret < 0) {
        error_setg(errp, "Failed to get hardware info: %s", g_strerror(-ret));
        return false;
    }
    trace_vfio_iommufd_bind(vdev->name, vdev->devid, type, caps);
    vdev->iommu_dirty_cap = caps & IOMMU_HW_CAP_DIRTY_TRACKING;
    if (!vfio_iommufd_connect(vdev, errp)) {
        return false;
    }
    vdev->dma = &vdev->ioas->base;
    vfio_iommufd_cpr_save(vdev);
    return true;
}

void vfio_iommufd_detach(VFIOPCIDevice *vdev)
{
    struct vfio_device_detach_iommufd_pt dt = {.argsz = sizeof(dt)};

    if (!vdev->iommufd) {
        return;
    }
    vfio_iommufd_cpr_forget(vdev);
    /*
     * Handed over (or inherited and not taken over): the attachment is
     * the other process's; closing the fd unbinds nothing it needs.
     */
    if (vdev->hwpt_id && !vdev->handed_over) {
        VFIO_IOCTL(vdev->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt);
        if (vdev->own_hwpt) {
            iommufd_backend_free_id(vdev->iommufd, vdev->hwpt_id);
        }
    }
    vdev->hwpt_id = 0;
    if (vdev->ioas) {
        vfio_ioas_put(vdev->ioas);
        vdev->ioas = NULL;
        vdev->dma = NULL;
    }
}

VFIOIOASContainer *vfio_ioas_adopt(VFIOPCIDevice *vdev, uint32_t ioas_id,
                                   GError **errp)
{
    AddressSpace *as = pci_device_iommu_address_space(&vdev->parent_obj);
    VFIOIOASContainer *c = vfio_ioas_find(vdev->iommufd, as);

    if (c) {
        if (c->ioas_id != ioas_id) {
            error_setg(errp,
                       "the old process had ioas %u where this one has "
                       "ioas %u",
                       ioas_id, c->ioas_id);
            return NULL;
        }
        c->users++;
        return c;
    }
    c = vfio_ioas_new(vdev->iommufd, as, ioas_id);
    c->users++;
    /* The old process's until TAKEOVER: a failed start leaves it alone. */
    c->base.handed_over = true;
    c->remap_pending = true;
    if (!vfio_ioas_get_ranges(c, errp)) {
        vfio_ioas_put(c);
        return NULL;
    }
    return c;
}
