/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The legacy VFIO interface: /dev/vfio/vfio containers with the type1v2
 * IOMMU, and /dev/vfio/N groups. Semantics and errno values follow the
 * kernel's drivers/vfio/container.c, group.c and vfio_iommu_type1.c as
 * documented in linux/vfio.h, including VFIO_UPDATE_VADDR: after
 * VFIO_DMA_UNMAP_FLAG_VADDR the pages stay pinned (DMA goes on) and only
 * an mdev, which must translate through the vaddr, stalls until
 * VFIO_DMA_MAP_FLAG_VADDR gives one back. Device files are dmatest.c's.
 */
#include <errno.h>
#include <string.h>
#include <linux/vfio.h>

#include "standard-headers/linux/vfio-extra.h"
#include "hostsim.h"

/* type1's default dma_entry_limit module parameter. */
#define HS_DMA_ENTRY_LIMIT 65535
#define HS_PGSIZES ((1ULL << 12) | (1ULL << 21) | (1ULL << 30))

struct HsGroup {
    int id;
    GPtrArray *devices; /* HsDevice * */
    HsContainer *container;
    bool open;     /* a group file is open (one at a time) */
    int dev_files; /* device files opened through the group */
};

struct HsContainer {
    unsigned serial;
    GPtrArray *groups; /* HsGroup * */
    bool iommu_set;
    bool file_open; /* the container file itself */
    bool dirty_tracking; /* VFIO_IOMMU_DIRTY_PAGES_FLAG_START */
    GHashTable *dirty;   /* iommu-dirty: 4 KiB pages written since read */
    HsSpace space;
};

/*
 * x86's IOVA space as the kernel reports it: everything below 2^48 except
 * the MSI window, which the IOMMU reserves.
 */
static const struct vfio_iova_range hs_iova_ranges[] = {
    {0, 0xfedfffffULL},
    {0xfef00000ULL, (1ULL << 48) - 1},
};

static HsGroup *hs_groups[HS_MAX_GROUPS];

HsGroup *hs_group_get(int id, bool create)
{
    if (id < 0 || id >= HS_MAX_GROUPS) {
        return NULL;
    }
    if (!hs_groups[id] && create) {
        hs_groups[id] = g_new0(HsGroup, 1);
        hs_groups[id]->id = id;
        hs_groups[id]->devices = g_ptr_array_new();
    }
    return hs_groups[id];
}

void hs_group_add_device(HsGroup *g, HsDevice *d)
{
    g_ptr_array_add(g->devices, d);
}

int hs_group_id(HsGroup *g)
{
    return g->id;
}

/*
 * The IOMMU tracks dirty pages itself when every device of the container
 * has iommu-dirty=on; otherwise type1 reports every mapped page dirty.
 */
static bool hs_container_precise(HsContainer *ct)
{
    guint i, j;

    for (i = 0; i < ct->groups->len; i++) {
        HsGroup *g = ct->groups->pdata[i];

        for (j = 0; j < g->devices->len; j++) {
            if (!hs_device_iommu_dirty(g->devices->pdata[j])) {
                return false;
            }
        }
    }
    return ct->groups->len > 0;
}

void hs_group_dirty_note(HsGroup *g, uint64_t iova, uint64_t len)
{
    HsContainer *ct = g ? g->container : NULL;
    uint64_t pfn;

    if (!ct || !ct->dirty_tracking || !len) {
        return;
    }
    for (pfn = iova / HS_PAGE_SIZE; pfn <= (iova + len - 1) / HS_PAGE_SIZE;
         pfn++) {
        g_hash_table_add(ct->dirty, GSIZE_TO_POINTER(pfn));
    }
}

HsSpace *hs_group_space(HsGroup *g)
{
    return g && g->container && g->container->iommu_set ? &g->container->space
                                                        : NULL;
}

int hs_container_open(HsCall *c, void **obj)
{
    static unsigned serial;
    HsContainer *ct = g_new0(HsContainer, 1);

    ct->serial = ++serial;
    ct->groups = g_ptr_array_new();
    ct->dirty = g_hash_table_new(g_direct_hash, g_direct_equal);
    ct->file_open = true;
    hs_space_init(&ct->space);
    hs_log("pid %d: container %u opened", (int)c->pid, ct->serial);
    *obj = ct;
    return 0;
}

int hs_group_open(HsCall *c, int id, void **obj)
{
    HsGroup *g = hs_group_get(id, false);

    if (g->open) {
        hs_log("pid %d: group %d is already open; EBUSY", (int)c->pid, id);
        return -EBUSY;
    }
    g->open = true;
    *obj = g;
    return 0;
}

static void hs_container_free_if_unused(HsContainer *ct)
{
    if (ct->file_open || ct->groups->len) {
        return;
    }
    hs_space_destroy(&ct->space);
    g_ptr_array_free(ct->space.maps, TRUE);
    g_ptr_array_free(ct->groups, TRUE);
    g_hash_table_destroy(ct->dirty);
    g_free(ct);
}

static void hs_group_detach(HsGroup *g)
{
    HsContainer *ct = g->container;

    g_ptr_array_remove(ct->groups, g);
    g->container = NULL;
    hs_log("group %d left container %u", g->id, ct->serial);
    if (!ct->groups->len && ct->iommu_set) {
        /* The last group takes the IOMMU with it: every mapping goes. */
        hs_log("container %u: IOMMU released, %u mapping(s) unpinned",
               ct->serial, ct->space.maps->len);
        hs_space_destroy(&ct->space);
        ct->iommu_set = false;
    }
    hs_container_free_if_unused(ct);
}

void hs_container_release(HsContainer *ct)
{
    /* Attached groups keep the container (and its mappings) alive. */
    ct->file_open = false;
    hs_container_free_if_unused(ct);
}

void hs_group_release(HsGroup *g)
{
    g->open = false;
    if (!g->dev_files && g->container) {
        hs_group_detach(g);
    }
}

void hs_group_device_closed(HsGroup *g)
{
    g->dev_files--;
    if (!g->open && !g->dev_files && g->container) {
        hs_group_detach(g);
    }
}

int hs_group_open_device(HsCall *c, HsGroup *g, const char *name, void **obj)
{
    HsDevice *d = NULL;
    guint i;

    for (i = 0; i < g->devices->len; i++) {
        if (!strcmp(hs_device_bdf(g->devices->pdata[i]), name)) {
            d = g->devices->pdata[i];
        }
    }
    if (!d) {
        hs_log("pid %d: GET_DEVICE_FD '%s': no such device in group %d",
               (int)c->pid, name, g->id);
        return -ENODEV;
    }
    if (!hs_group_space(g)) {
        hs_log("pid %d: GET_DEVICE_FD '%s': group %d has no container "
               "with an IOMMU set; EINVAL",
               (int)c->pid, name, g->id);
        return -EINVAL;
    }
    if (hs_device_cdev_file(d)) {
        hs_log("pid %d: GET_DEVICE_FD '%s': bound through its cdev; EBUSY",
               (int)c->pid, name);
        return -EBUSY;
    }
    *obj = hs_devfile_new(d, g, false);
    g->dev_files++;
    return 0;
}

/* Copy the (possibly modified) struct back; in_len bytes at most. */
static void hs_out_struct(HsCall *c, const void *s, uint32_t len)
{
    len = MIN(len, c->in_len);
    memcpy(c->out, s, len);
    c->out_len = len;
}

static int64_t hs_group_get_status(HsGroup *g, HsCall *c)
{
    struct vfio_group_status st = {0};

    if (c->in_len < sizeof(st)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    memcpy(&st, c->in, sizeof(st));
    if (st.argsz < sizeof(st)) {
        return -EINVAL;
    }
    st.flags = VFIO_GROUP_FLAGS_VIABLE |
               (g->container ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
    hs_out_struct(c, &st, sizeof(st));
    return 0;
}

int64_t hs_group_ioctl(HsGroup *g, HsCall *c)
{
    HsContainer *ct;
    int kind = HS_OBJ_NONE;

    switch (c->req->cmd) {
    case VFIO_GROUP_GET_STATUS:
        return hs_group_get_status(g, c);
    case VFIO_GROUP_SET_CONTAINER:
        ct = c->nfds == 1 ? hs_conn_object_of_fd(c->fds[0], &kind) : NULL;
        if (!ct || kind != HS_OBJ_CONTAINER) {
            return -EBADF;
        }
        if (g->container) {
            hs_log("pid %d: group %d already has a container; EINVAL",
                   (int)c->pid, g->id);
            return -EINVAL;
        }
        g->container = ct;
        g_ptr_array_add(ct->groups, g);
        hs_log("pid %d: group %d joined container %u", (int)c->pid, g->id,
               ct->serial);
        return 0;
    case VFIO_GROUP_UNSET_CONTAINER:
        if (!g->container) {
            return -EINVAL;
        }
        if (g->dev_files) {
            hs_log("pid %d: group %d has open devices; EBUSY", (int)c->pid,
                   g->id);
            return -EBUSY;
        }
        hs_group_detach(g);
        return 0;
    }
    return -ENOTTY;
}

static bool hs_container_has_mdev(HsContainer *ct)
{
    guint i, j;

    for (i = 0; i < ct->groups->len; i++) {
        HsGroup *g = ct->groups->pdata[i];

        for (j = 0; j < g->devices->len; j++) {
            if (hs_device_is_mdev(g->devices->pdata[j])) {
                return true;
            }
        }
    }
    return false;
}

static int64_t hs_check_extension(HsContainer *ct, uint64_t ext)
{
    switch (ext) {
    case VFIO_TYPE1_IOMMU:
    case VFIO_TYPE1v2_IOMMU:
    case VFIO_UNMAP_ALL:
        return 1;
    case VFIO_UPDATE_VADDR:
        /*
         * As the kernel since 6.2: only once the IOMMU is set, and not
         * with an mdev in the container, which cannot work while vaddrs
         * are invalid.
         */
        return ct->iommu_set && !hs_container_has_mdev(ct);
    case VFIO_DMA_CC_IOMMU:
        return ct->iommu_set;
    }
    return 0;
}

/*
 * Append one capability at *off (8-byte aligned) of an info buffer and
 * chain it: offsets count from the start of the info struct; *prev is the
 * previous capability's offset, 0 for none.
 */
static void hs_cap_add(uint8_t *buf, uint32_t *off, uint32_t *prev,
                       const void *cap, uint32_t len)
{
    memcpy(buf + *off, cap, len);
    ((struct vfio_info_cap_header *)(buf + *off))->next = 0;
    if (*prev) {
        ((struct vfio_info_cap_header *)(buf + *prev))->next = *off;
    }
    *prev = *off;
    *off += (len + 7) & ~7u;
}

static int64_t hs_iommu_get_info(HsContainer *ct, HsCall *c)
{
    struct vfio_iommu_type1_info info;
    uint8_t buf[sizeof(info) + 256] = {0};
    uint32_t off = sizeof(info), prev = 0;
    struct {
        struct vfio_iommu_type1_info_cap_iova_range h;
        struct vfio_iova_range r[2];
    } iova = {0};
    struct vfio_iommu_type1_info_cap_migration mig = {0};
    struct vfio_iommu_type1_info_dma_avail avail = {0};
    uint32_t minsz = offsetof(struct vfio_iommu_type1_info, cap_offset);

    memset(&info, 0, sizeof(info));
    memcpy(&info, c->in, MIN(c->in_len, sizeof(info)));
    if (c->in_len < minsz || info.argsz < minsz) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    info.flags = VFIO_IOMMU_INFO_PGSIZES;
    info.iova_pgsizes = HS_PGSIZES;
    iova.h.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
    iova.h.header.version = 1;
    iova.h.nr_iovas = 2;
    memcpy(iova.r, hs_iova_ranges, sizeof(iova.r));
    hs_cap_add(buf, &off, &prev, &iova, sizeof(iova));
    mig.header.id = VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
    mig.header.version = 1;
    mig.pgsize_bitmap = HS_PAGE_SIZE;
    /* The kernel's is 256 MiB; a reply carries at most this. */
    mig.max_dirty_bitmap_size = HS_DIRTY_BITMAP_MAX;
    hs_cap_add(buf, &off, &prev, &mig, sizeof(mig));
    avail.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
    avail.header.version = 1;
    avail.avail = HS_DMA_ENTRY_LIMIT - ct->space.maps->len;
    hs_cap_add(buf, &off, &prev, &avail, sizeof(avail));

    c->out_len = MIN(c->in_len, sizeof(info));
    if (info.argsz >= sizeof(info)) {
        info.flags |= VFIO_IOMMU_INFO_CAPS;
        if (info.argsz < off || c->in_len < off) {
            /* Too small for the chain: say how much is needed. */
            info.argsz = off;
            info.cap_offset = 0;
        } else {
            info.cap_offset = sizeof(info);
            c->out_len = off;
        }
    }
    memcpy(buf, &info, sizeof(info));
    memcpy(c->out, buf, c->out_len);
    return 0;
}

static bool hs_iova_valid(uint64_t iova, uint64_t size)
{
    guint i;

    for (i = 0; i < G_N_ELEMENTS(hs_iova_ranges); i++) {
        if (iova >= hs_iova_ranges[i].start &&
            iova + size - 1 <= hs_iova_ranges[i].end) {
            return true;
        }
    }
    return false;
}

/* VFIO_DMA_MAP_FLAG_VADDR: a new vaddr for the same pages. */
static int64_t hs_map_set_vaddr(HsContainer *ct, HsCall *c,
                                struct vfio_iommu_type1_dma_map *map)
{
    HsMapping *m = hs_space_overlap(&ct->space, map->iova, map->size);
    uint64_t charged = 0;
    HsPin pin;
    int ret;

    if (!m) {
        return -ENOENT;
    }
    if (m->vaddr_valid || m->iova != map->iova || m->size != map->size) {
        hs_log("pid %d: MAP_FLAG_VADDR iova 0x%" G_GINT64_MODIFIER "x: %s; "
               "EINVAL",
               (int)c->pid, (uint64_t)map->iova,
               m->vaddr_valid ? "vaddr still valid" : "not one whole mapping");
        return -EINVAL;
    }
    ret = hs_pin_vaddr(c->pid, map->vaddr, map->size, m->writable, &pin);
    if (ret < 0) {
        return ret;
    }
    hs_unpin(&pin);
    if (pin.dev != m->pin.dev || pin.ino != m->pin.ino ||
        pin.file_off != m->pin.file_off) {
        hs_log("pid %d: MAP_FLAG_VADDR iova 0x%" G_GINT64_MODIFIER "x: vaddr "
               "0x%" G_GINT64_MODIFIER "x maps other pages than the pinned "
               "ones; EINVAL",
               (int)c->pid, (uint64_t)map->iova, (uint64_t)map->vaddr);
        return -EINVAL;
    }
    if (c->pid != m->owner) {
        /* Accounting moves to the new process (vfio_change_dma_owner). */
        ret = hs_acct_charge(c->pid, m->pin.mmio ? 0 : m->size, &charged);
        if (ret < 0) {
            return ret;
        }
        hs_acct_uncharge(m->owner, m->charged);
        m->owner = c->pid;
        m->charged = charged;
    }
    m->vaddr = map->vaddr;
    m->vaddr_valid = true;
    return 0;
}

static int64_t hs_map_dma(HsContainer *ct, HsCall *c)
{
    struct vfio_iommu_type1_dma_map map;
    uint32_t mask = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE |
                    VFIO_DMA_MAP_FLAG_VADDR;
    bool set_vaddr, prot;
    HsMapping *m;
    int ret;

    if (c->in_len < sizeof(map)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    memcpy(&map, c->in, sizeof(map));
    if (map.argsz < sizeof(map) || (map.flags & ~mask)) {
        return -EINVAL;
    }
    set_vaddr = map.flags & VFIO_DMA_MAP_FLAG_VADDR;
    prot = map.flags & (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
    if (prot == set_vaddr || !map.size ||
        ((map.size | map.iova | map.vaddr) & (HS_PAGE_SIZE - 1)) ||
        map.iova + map.size - 1 < map.iova ||
        map.vaddr + map.size - 1 < map.vaddr) {
        return -EINVAL;
    }
    if (set_vaddr) {
        return hs_map_set_vaddr(ct, c, &map);
    }
    if (hs_space_overlap(&ct->space, map.iova, map.size)) {
        return -EEXIST;
    }
    if (ct->space.maps->len >= HS_DMA_ENTRY_LIMIT) {
        return -ENOSPC;
    }
    if (!hs_iova_valid(map.iova, map.size)) {
        return -EINVAL;
    }
    m = g_new0(HsMapping, 1);
    m->iova = map.iova;
    m->size = map.size;
    m->readable = map.flags & VFIO_DMA_MAP_FLAG_READ;
    m->writable = map.flags & VFIO_DMA_MAP_FLAG_WRITE;
    m->has_vaddr = true;
    m->vaddr = map.vaddr;
    m->vaddr_valid = true;
    m->owner = c->pid;
    ret = hs_pin_vaddr(c->pid, map.vaddr, map.size, m->writable, &m->pin);
    if (ret == 0 && !m->pin.mmio) {
        /* MMIO pfns (a device region's mmap) are not accounted. */
        ret = hs_acct_charge(c->pid, map.size, &m->charged);
        if (ret < 0) {
            hs_unpin(&m->pin);
        }
    }
    if (ret < 0) {
        g_free(m);
        return ret;
    }
    g_ptr_array_add(ct->space.maps, m);
    return 0;
}

static int64_t hs_unmap_dma(HsContainer *ct, HsCall *c)
{
    struct vfio_iommu_type1_dma_unmap un;
    uint32_t mask = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP |
                    VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR;
    bool all, vaddr;
    uint64_t iova, size, unmapped = 0;
    g_autoptr(GPtrArray) hit = g_ptr_array_new();
    HsMapping *m;
    guint i;

    if (c->in_len < sizeof(un)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    memcpy(&un, c->in, sizeof(un));
    if (un.argsz < sizeof(un) || (un.flags & ~mask) ||
        (un.flags & VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)) {
        /*
         * The dirty bitmap of an unmap is not simulated (the kernel's
         * answer too while tracking is off).
         */
        return -EINVAL;
    }
    all = un.flags & VFIO_DMA_UNMAP_FLAG_ALL;
    vaddr = un.flags & VFIO_DMA_UNMAP_FLAG_VADDR;
    iova = un.iova;
    size = un.size;
    if (all) {
        if (iova || size) {
            return -EINVAL;
        }
        size = UINT64_MAX;
    } else if (!size || (size & (HS_PAGE_SIZE - 1)) || iova + size - 1 < iova) {
        return -EINVAL;
    }
    if (iova & (HS_PAGE_SIZE - 1)) {
        return -EINVAL;
    }
    if (!all) {
        /* type1v2 never splits a mapping. */
        m = hs_space_lookup(&ct->space, iova, 1);
        if (m && m->iova != iova) {
            return -EINVAL;
        }
        m = hs_space_lookup(&ct->space, iova + size - 1, 1);
        if (m && m->iova + m->size != iova + size) {
            return -EINVAL;
        }
    }
    for (i = 0; i < ct->space.maps->len; i++) {
        m = ct->space.maps->pdata[i];
        if (m->iova >= iova && m->iova + m->size - 1 <= iova + size - 1) {
            if (vaddr && !m->vaddr_valid) {
                /* Already invalid: nothing changes (the kernel reverts). */
                return -EINVAL;
            }
            g_ptr_array_add(hit, m);
        }
    }
    for (i = 0; i < hit->len; i++) {
        m = hit->pdata[i];
        unmapped += m->size;
        if (vaddr) {
            m->vaddr_valid = false;
        } else {
            hs_space_remove(&ct->space, m);
        }
    }
    if (vaddr) {
        hs_log("pid %d: container %u: %u vaddr(s) invalidated", (int)c->pid,
               ct->serial, hit->len);
    }
    un.size = unmapped;
    hs_out_struct(c, &un, sizeof(un));
    return 0;
}

/*
 * VFIO_IOMMU_DIRTY_PAGES as type1 does it for devices that do not narrow
 * the scope to pages they pinned: while tracking is on, every page of
 * every mapping reads as dirty. With iommu-dirty=on on every device of
 * the container, the IOMMU knows better: the pages devices wrote by DMA
 * since tracking started or the range was last read, cleared as read.
 * GET_BITMAP must cover whole mappings; the bitmap comes back as the
 * reply's trailing part, which the preload copies to range.bitmap.data
 * (bits of unmapped pages are 0 there, where the kernel leaves them as
 * they were).
 */
static int64_t hs_dirty_pages(HsContainer *ct, HsCall *c)
{
    struct vfio_iommu_type1_dirty_bitmap d;
    struct vfio_iommu_type1_dirty_bitmap_get r;
    uint32_t mask = VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
                    VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP |
                    VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
    uint64_t npages, bytes, p;
    HsMapping *m;
    guint i;

    if (c->in_len < sizeof(d)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    memcpy(&d, c->in, sizeof(d));
    if (d.argsz < sizeof(d) || (d.flags & ~mask) || !d.flags ||
        (d.flags & (d.flags - 1))) {
        return -EINVAL; /* exactly one operation */
    }
    if (d.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_START) {
        if (!ct->dirty_tracking) {
            hs_log("pid %d: container %u: dirty page tracking on (%s)",
                   (int)c->pid, ct->serial,
                   hs_container_precise(ct) ? "pages written by DMA"
                                            : "every mapped page");
            g_hash_table_remove_all(ct->dirty);
        }
        ct->dirty_tracking = true;
        return 0;
    }
    if (d.flags == VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP) {
        if (ct->dirty_tracking) {
            hs_log("pid %d: container %u: dirty page tracking off", (int)c->pid,
                   ct->serial);
        }
        ct->dirty_tracking = false;
        return 0;
    }
    if (d.argsz < sizeof(d) + sizeof(r) || c->in_len < sizeof(d) + sizeof(r)) {
        return -EINVAL;
    }
    memcpy(&r, c->in + sizeof(d), sizeof(r));
    if (r.iova + r.size < r.iova || r.bitmap.pgsize != HS_PAGE_SIZE ||
        !r.size || ((r.iova | r.size) & (HS_PAGE_SIZE - 1))) {
        return -EINVAL;
    }
    npages = r.size / HS_PAGE_SIZE;
    bytes = (npages + 63) / 64 * 8;
    if (!r.bitmap.size || r.bitmap.size > HS_DIRTY_BITMAP_MAX ||
        r.bitmap.size < bytes || !ct->dirty_tracking) {
        return -EINVAL;
    }
    /* Whole mappings at both ends, as for UNMAP_DMA. */
    m = hs_space_lookup(&ct->space, r.iova, 1);
    if (m && m->iova != r.iova) {
        return -EINVAL;
    }
    m = hs_space_lookup(&ct->space, r.iova + r.size - 1, 1);
    if (m && m->iova + m->size != r.iova + r.size) {
        return -EINVAL;
    }
    memset(c->out, 0, bytes);
    if (hs_container_precise(ct)) {
        GHashTableIter it;
        gpointer key;

        g_hash_table_iter_init(&it, ct->dirty);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            p = GPOINTER_TO_SIZE(key) * HS_PAGE_SIZE;
            if (p >= r.iova && p - r.iova < r.size) {
                p = (p - r.iova) / HS_PAGE_SIZE;
                c->out[p / 8] |= 1u << (p % 8);
                g_hash_table_iter_remove(&it);
            }
        }
        c->aux_len = bytes;
        c->out_len = bytes;
        return 0;
    }
    for (i = 0; i < ct->space.maps->len; i++) {
        m = ct->space.maps->pdata[i];
        if (m->iova < r.iova || m->iova + m->size > r.iova + r.size) {
            continue;
        }
        for (p = (m->iova - r.iova) / HS_PAGE_SIZE;
             p < (m->iova + m->size - r.iova) / HS_PAGE_SIZE; p++) {
            c->out[p / 8] |= 1u << (p % 8);
        }
    }
    c->aux_len = bytes;
    c->out_len = bytes;
    return 0;
}

int64_t hs_container_ioctl(HsContainer *ct, HsCall *c)
{
    switch (c->req->cmd) {
    case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
    case VFIO_CHECK_EXTENSION:
        return hs_check_extension(ct, c->req->arg);
    case VFIO_SET_IOMMU:
        if (ct->iommu_set || !ct->groups->len) {
            return -EINVAL;
        }
        if (c->req->arg != VFIO_TYPE1v2_IOMMU &&
            c->req->arg != VFIO_TYPE1_IOMMU) {
            return -ENODEV;
        }
        ct->iommu_set = true;
        hs_log("pid %d: container %u: type1 IOMMU set", (int)c->pid,
               ct->serial);
        return 0;
    case VFIO_IOMMU_GET_INFO:
    case VFIO_IOMMU_MAP_DMA:
    case VFIO_IOMMU_UNMAP_DMA:
    case VFIO_IOMMU_DIRTY_PAGES:
        if (!ct->iommu_set) {
            return -EINVAL;
        }
        if (c->req->cmd == VFIO_IOMMU_GET_INFO) {
            return hs_iommu_get_info(ct, c);
        }
        if (c->req->cmd == VFIO_IOMMU_DIRTY_PAGES) {
            return hs_dirty_pages(ct, c);
        }
        return c->req->cmd == VFIO_IOMMU_MAP_DMA ? hs_map_dma(ct, c)
                                                 : hs_unmap_dma(ct, c);
    }
    return -ENOTTY;
}
