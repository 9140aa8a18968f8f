/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The legacy VFIO container (type1v2 IOMMU, /dev/vfio/vfio) and IOMMU
 * groups (/dev/vfio/N): opening and sharing them, the IOMMU's page sizes
 * and IOVA ranges, and the container as a memory listener that DMA-maps
 * the RAM of the devices' DMA address space (the listener itself is
 * container-base.c's). Live update: cpr-legacy.c.
 */
#include "util/osdep.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "migration/cpr.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

/* Containers (VFIOContainer *) and open groups (VFIOGroup *). */
static GPtrArray *vfio_containers;
static GPtrArray *vfio_groups;

static VFIOContainer *vfio_container_of(VFIOIOMMU *b)
{
    return container_of(b, VFIOContainer, base);
}

/* MAP_DMA by vaddr; while remapping, only this process's vaddr is new. */
static int vfio_container_dma_map(VFIOIOMMU *b, VFIODmaMap *m)
{
    struct vfio_iommu_type1_dma_map map = {
        .argsz = sizeof(map),
        .vaddr = m->vaddr,
        .iova = m->iova,
        .size = m->size,
    };

    map.flags = VFIO_DMA_MAP_FLAG_READ;
    if (!m->readonly) {
        map.flags |= VFIO_DMA_MAP_FLAG_WRITE;
    }
    if (b->remapping) {
        map.flags = VFIO_DMA_MAP_FLAG_VADDR;
    }
    m->by_fd = false;
    return VFIO_IOCTL(vfio_container_of(b)->fd, VFIO_IOMMU_MAP_DMA, &map);
}

static int vfio_container_dma_unmap(VFIOIOMMU *b, const VFIODmaMap *m)
{
    struct vfio_iommu_type1_dma_unmap unmap = {
        .argsz = sizeof(unmap),
        .iova = m->iova,
        .size = m->size,
    };

    return VFIO_IOCTL(vfio_container_of(b)->fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
}

/* VFIO_IOMMU_DIRTY_PAGES START / STOP. */
static int vfio_container_dirty_set(VFIOIOMMU *b, bool on)
{
    VFIOContainer *c = container_of(b, VFIOContainer, base);
    struct vfio_iommu_type1_dirty_bitmap d = {
        .argsz = sizeof(d),
        .flags = on ? VFIO_IOMMU_DIRTY_PAGES_FLAG_START
                    : VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
    };
    int ret = VFIO_IOCTL(c->fd, VFIO_IOMMU_DIRTY_PAGES, &d);

    return ret < 0 ? ret : 0;
}

/* VFIO_IOMMU_DIRTY_PAGES GET_BITMAP: the pages written since last time. */
static int vfio_container_dirty_get(VFIOIOMMU *b, uint64_t iova, uint64_t size,
                                    uint64_t pgsize, uint64_t *bitmap)
{
    VFIOContainer *c = container_of(b, VFIOContainer, base);
    uint64_t buf[(sizeof(struct vfio_iommu_type1_dirty_bitmap) +
                  sizeof(struct vfio_iommu_type1_dirty_bitmap_get) + 7) /
                 8] = {0};
    struct vfio_iommu_type1_dirty_bitmap *d = (void *)buf;
    struct vfio_iommu_type1_dirty_bitmap_get *r = (void *)d->data;
    int ret;

    d->argsz = sizeof(*d) + sizeof(*r);
    d->flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    r->iova = iova;
    r->size = size;
    r->bitmap.pgsize = pgsize;
    r->bitmap.size = (size / pgsize + 63) / 64 * 8;
    r->bitmap.data = (__u64 *)bitmap;
    ret = VFIO_IOCTL(c->fd, VFIO_IOMMU_DIRTY_PAGES, d);
    return ret < 0 ? ret : 0;
}

static const VFIOIOMMUOps vfio_container_ops = {
    .name = "container",
    .dma_map = vfio_container_dma_map,
    .dma_unmap = vfio_container_dma_unmap,
    .dirty_set = vfio_container_dirty_set,
    .dirty_get = vfio_container_dirty_get,
};

/* The IOMMU's page sizes and IOVA ranges (the cap chain of GET_INFO). */
static bool vfio_container_get_info(VFIOContainer *c, GError **errp)
{
    g_autofree struct vfio_iommu_type1_info *info = NULL;
    uint32_t argsz = sizeof(*info);
    int ret;

    for (;;) {
        info = g_realloc(info, argsz);
        memset(info, 0, argsz);
        info->argsz = argsz;
        ret = VFIO_IOCTL(c->fd, VFIO_IOMMU_GET_INFO, info);
        if (ret < 0) {
            error_setg(errp, "VFIO_IOMMU_GET_INFO failed: %s",
                       g_strerror(-ret));
            return false;
        }
        if (info->argsz <= argsz) {
            break;
        }
        argsz = info->argsz;
    }
    /* No page sizes reported: type1 maps at least 4 KiB pages. */
    c->base.pgsizes =
        (info->flags & VFIO_IOMMU_INFO_PGSIZES) && info->iova_pgsizes
            ? info->iova_pgsizes
            : 4096;
    if (!(info->flags & VFIO_IOMMU_INFO_CAPS)) {
        return true;
    }
    for (uint32_t off = info->cap_offset, hops = 0; off && hops < 64; hops++) {
        struct vfio_info_cap_header *hdr;

        if (off < sizeof(*info) || off + sizeof(*hdr) > argsz) {
            break;
        }
        hdr = (struct vfio_info_cap_header *)((uint8_t *)info + off);
        if (hdr->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
            off + sizeof(struct vfio_iommu_type1_info_cap_iova_range) <=
                argsz) {
            struct vfio_iommu_type1_info_cap_iova_range *cap = (void *)hdr;
            uint32_t room =
                (argsz - off - sizeof(*cap)) / sizeof(struct vfio_iova_range);

            for (uint32_t i = 0; i < cap->nr_iovas && i < room; i++) {
                VFIOIovaRange r = {cap->iova_ranges[i].start,
                                   cap->iova_ranges[i].end};

                g_array_append_val(c->base.iova_ranges, r);
            }
        }
        /* Dirty tracking in the bitmaps' page size (dirty.c). */
        if (hdr->id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION &&
            off + sizeof(struct vfio_iommu_type1_info_cap_migration) <= argsz) {
            struct vfio_iommu_type1_info_cap_migration *cap = (void *)hdr;

            c->base.iommu_dirty = cap->pgsize_bitmap & RAM_DIRTY_PAGE_SIZE;
        }
        off = hdr->next;
    }
    return true;
}

static void vfio_container_free(VFIOContainer *c)
{
    vfio_container_cpr_unregister(c);
    vfio_iommu_destroy(&c->base);
    if (c->fd >= 0) {
        close(c->fd);
    }
    g_ptr_array_unref(c->groups);
    g_free(c);
}

static VFIOContainer *vfio_container_alloc(AddressSpace *as)
{
    VFIOContainer *c = g_new0(VFIOContainer, 1);

    vfio_iommu_init(&c->base, &vfio_container_ops, as);
    c->fd = -1;
    c->base.id = -1;
    c->groups = g_ptr_array_new();
    return c;
}

/*
 * A new container for GROUP: API version, the type1v2 model, the group
 * attached (the IOMMU model can only be set once a group is in), then
 * the IOMMU's properties and the listener, whose replay maps AS's RAM.
 */
static VFIOContainer *vfio_container_new(VFIOGroup *group, AddressSpace *as,
                                         GError **errp)
{
    VFIOContainer *c = vfio_container_alloc(as);
    int ret;

    c->fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    c->base.id = c->fd;
    if (c->fd < 0) {
        error_setg_errno(errp, errno, "failed to open /dev/vfio/vfio");
        goto fail;
    }
    ret = VFIO_IOCTL(c->fd, VFIO_GET_API_VERSION, NULL);
    if (ret != VFIO_API_VERSION) {
        error_setg(errp, "supported vfio version: %d, reported version: %d",
                   VFIO_API_VERSION, ret);
        goto fail;
    }
    if (VFIO_IOCTL(c->fd, VFIO_CHECK_EXTENSION,
                   (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) <= 0) {
        error_setg(errp, "No available IOMMU models (type1v2 needed)");
        goto fail;
    }
    ret = VFIO_IOCTL(group->fd, VFIO_GROUP_SET_CONTAINER, &c->fd);
    if (ret < 0) {
        error_setg(errp, "failed to set group %d container: %s",
                   group->groupid, g_strerror(-ret));
        goto fail;
    }
    group->container = c;
    ret = VFIO_IOCTL(c->fd, VFIO_SET_IOMMU,
                     (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
    if (ret < 0) {
        error_setg(errp, "failed to set iommu for container: %s",
                   g_strerror(-ret));
        goto fail_unset;
    }
    if (!vfio_container_get_info(c, errp)) {
        goto fail_unset;
    }
    trace_vfio_container_new(c->fd, c->base.pgsizes, c->base.iova_ranges->len);
    if (!vfio_iommu_listen(&c->base, errp)) {
        /* Unmap what did map while the group can still reach the IOMMU. */
        vfio_iommu_unlisten(&c->base);
        goto fail_unset;
    }
    g_ptr_array_add(c->groups, group);
    vfio_container_cpr_register(c);
    return c;

fail_unset:
    VFIO_IOCTL(group->fd, VFIO_GROUP_UNSET_CONTAINER, NULL);
    group->container = NULL;
fail:
    vfio_container_free(c);
    return NULL;
}

/*
 * An inherited container FD (live update, new process) with GROUP in it:
 * already configured and mapping; only its properties are read. The
 * listener waits for vfio_container_remap().
 */
static VFIOContainer *vfio_container_adopt(VFIOGroup *group, AddressSpace *as,
                                           int fd, GError **errp)
{
    VFIOContainer *c = vfio_container_alloc(as);

    c->fd = fd;
    c->base.id = fd;
    group->container = c;
    if (!vfio_container_get_info(c, errp)) {
        group->container = NULL;
        vfio_container_free(c);
        return NULL;
    }
    c->remap_pending = true;
    /* The old process's until TAKEOVER: a failed start leaves it alone. */
    c->base.handed_over = true;
    g_ptr_array_add(c->groups, group);
    vfio_container_cpr_register(c);
    trace_vfio_container_new(c->fd, c->base.pgsizes, c->base.iova_ranges->len);
    return c;
}

/*
 * New process: GROUP was inherited, and is in the container OWNER handed
 * over (CFD): one this process adopted already, or a new adoption.
 */
static bool vfio_group_adopt(VFIOGroup *group, AddressSpace *as, int cfd,
                             GError **errp)
{
    for (unsigned int i = 0; vfio_containers && i < vfio_containers->len;
         i++) {
        VFIOContainer *c = g_ptr_array_index(vfio_containers, i);

        if (c->base.as == as && vfio_same_file(c->fd, cfd)) {
            if (cfd != c->fd) {
                close(cfd); /* a copy (cpr-transfer); cpr-exec keeps one */
            }
            group->container = c;
            g_ptr_array_add(c->groups, group);
            trace_vfio_group_attach(group->groupid, c->fd);
            return true;
        }
    }
    if (!vfio_container_adopt(group, as, cfd, errp)) {
        return false;
    }
    if (!vfio_containers) {
        vfio_containers = g_ptr_array_new();
    }
    g_ptr_array_add(vfio_containers, group->container);
    trace_vfio_group_attach(group->groupid, group->container->fd);
    return true;
}

/* Attach GROUP to a container of AS: a shared one if the kernel agrees. */
static bool vfio_group_connect(VFIOGroup *group, AddressSpace *as,
                               GError **errp)
{
    for (unsigned int i = 0; vfio_containers && i < vfio_containers->len; i++) {
        VFIOContainer *c = g_ptr_array_index(vfio_containers, i);

        if (c->base.as == as &&
            VFIO_IOCTL(group->fd, VFIO_GROUP_SET_CONTAINER, &c->fd) == 0) {
            group->container = c;
            g_ptr_array_add(c->groups, group);
            trace_vfio_group_attach(group->groupid, c->fd);
            return true;
        }
    }
    group->container = vfio_container_new(group, as, errp);
    if (!group->container) {
        return false;
    }
    if (!vfio_containers) {
        vfio_containers = g_ptr_array_new();
    }
    g_ptr_array_add(vfio_containers, group->container);
    trace_vfio_group_attach(group->groupid, group->container->fd);
    return true;
}

/*
 * OWNER's key ROLE names FD from now on: a copy OWNER inherited of an fd
 * this process already uses (a shared group or container) is closed.
 */
static void vfio_cpr_own(Object *owner, const char *role, int fd)
{
    int copy = cpr_is_incoming() ? cpr_take_fd(owner, role, 0) : -1;

    if (copy >= 0) {
        if (copy != fd) {
            close(copy);
        }
        cpr_reown_fd(owner, role, 0, fd);
    } else {
        cpr_own_fd(owner, role, 0, fd);
    }
}

VFIOGroup *vfio_group_get(int groupid, AddressSpace *as, Object *owner,
                          GError **errp)
{
    struct vfio_group_status status = {.argsz = sizeof(status)};
    g_autofree char *path = g_strdup_printf("/dev/vfio/%d", groupid);
    VFIOGroup *group;
    int ret, cfd = -1;

    for (unsigned int i = 0; vfio_groups && i < vfio_groups->len; i++) {
        group = g_ptr_array_index(vfio_groups, i);
        if (group->groupid != groupid) {
            continue;
        }
        if (group->container->base.as != as) {
            error_setg(errp, "group %d used in multiple address spaces",
                       groupid);
            return NULL;
        }
        group->users++;
        vfio_cpr_own(owner, "vfio-group", group->fd);
        vfio_cpr_own(owner, "vfio-container", group->container->fd);
        return group;
    }
    group = g_new0(VFIOGroup, 1);
    group->groupid = groupid;
    /*
     * Live update: the group and its container come from the old process,
     * attached and mapping; SET_CONTAINER and SET_IOMMU are skipped (the
     * kernel would refuse them, and they must not disturb the DMA).
     */
    group->fd = cpr_is_incoming() ? cpr_take_fd(owner, "vfio-group", 0) : -1;
    if (group->fd >= 0) {
        cfd = cpr_take_fd(owner, "vfio-container", 0);
        if (cfd < 0) {
            error_setg(errp, "group %d was handed over without its container",
                       groupid);
            goto fail;
        }
    } else {
        group->fd = open(path, O_RDWR | O_CLOEXEC);
    }
    if (group->fd < 0) {
        error_setg_errno(errp, errno, "failed to open %s", path);
        g_free(group);
        return NULL;
    }
    ret = VFIO_IOCTL(group->fd, VFIO_GROUP_GET_STATUS, &status);
    if (ret < 0) {
        error_setg(errp, "failed to get group %d status: %s", groupid,
                   g_strerror(-ret));
        goto fail;
    }
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        error_setg(errp,
                   "group %d is not viable; ensure all devices within the "
                   "iommu_group are bound to their vfio bus driver",
                   groupid);
        goto fail;
    }
    if (cfd >= 0 ? !vfio_group_adopt(group, as, cfd, errp)
                 : !vfio_group_connect(group, as, errp)) {
        cfd = -1; /* adopt closed or kept it */
        goto fail;
    }
    group->users = 1;
    if (!vfio_groups) {
        vfio_groups = g_ptr_array_new();
    }
    g_ptr_array_add(vfio_groups, group);
    cpr_reown_fd(owner, "vfio-group", 0, group->fd);
    cpr_reown_fd(owner, "vfio-container", 0, group->container->fd);
    return group;

fail:
    if (cfd >= 0) {
        close(cfd);
    }
    close(group->fd);
    g_free(group);
    return NULL;
}

void vfio_group_put(VFIOGroup *group)
{
    VFIOContainer *c = group->container;

    g_assert(group->users > 0);
    trace_vfio_group_put(group->groupid, group->users - 1);
    if (--group->users) {
        return;
    }
    g_ptr_array_remove(vfio_groups, group);
    g_ptr_array_remove(c->groups, group);
    if (!c->groups->len) {
        /* The last group: unmap while it still reaches the IOMMU. */
        vfio_iommu_unlisten(&c->base);
    }
    /* Handed over: the group stays in the container for the new process. */
    if (!c->base.handed_over) {
        VFIO_IOCTL(group->fd, VFIO_GROUP_UNSET_CONTAINER, NULL);
    }
    close(group->fd);
    g_free(group);
    if (!c->groups->len) {
        g_ptr_array_remove(vfio_containers, c);
        vfio_container_free(c);
    }
}

int vfio_sysfs_group_id(const char *sysfsdev, GError **errp)
{
    g_autofree char *link = g_strdup_printf("%s/iommu_group", sysfsdev);
    g_autofree char *base = NULL;
    char target[PATH_MAX];
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    char *end;
    long id;

    if (n < 0) {
        error_setg_errno(errp, errno, "no iommu_group found");
        return -1;
    }
    target[n] = 0;
    base = g_path_get_basename(target);
    id = strtol(base, &end, 10);
    if (end == base || *end || id < 0 || id > INT_MAX) {
        error_setg(errp, "iommu_group link %s -> %s names no group number",
                   link, target);
        return -1;
    }
    return (int)id;
}
