/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iommufd (/dev/iommu) and the device cdev side of it (BIND_IOMMUFD,
 * ATTACH/DETACH_IOMMUFD_PT): IOAS, HWPT and device objects with ids that
 * live as long as the iommufd is open anywhere (or a device is bound),
 * vaddr and file mappings, IOVA ranges, HW info and
 * IOAS_CHANGE_PROCESS. Errno values follow linux/iommufd.h's conventions.
 * Not simulated: IOAS_COPY, IOAS_ALLOW_IOVAS, VFIO_IOAS, dirty tracking,
 * nesting and fault queues (ENOTTY / EOPNOTSUPP).
 */
#include <errno.h>
#include <string.h>

#include "standard-headers/linux/iommufd.h"
#include "standard-headers/linux/vfio-extra.h"
#include "hostsim.h"

enum { HS_IO_IOAS = 1, HS_IO_HWPT, HS_IO_DEVICE };

typedef struct HsIoObj {
    uint32_t id;
    int kind;
    HsSpace space;    /* IOAS */
    uint32_t ioas_id; /* HWPT: its IOAS; DEVICE: 0 */
    bool auto_hwpt;   /* HWPT made by an attach to an IOAS */
    HsDevFile *df;    /* DEVICE */
    /* HWPT allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING */
    bool dirty_capable;
    bool dirty_on;     /* IOMMU_HWPT_SET_DIRTY_TRACKING enabled */
    GHashTable *dirty; /* 4 KiB pages written by DMA while dirty_on */
} HsIoObj;

struct HsIommufd {
    unsigned serial;
    GHashTable *objs; /* id -> HsIoObj */
    uint32_t next_id;
    bool file_open;
    int bound; /* devices bound keep the context alive */
    uint64_t rlimit_mode;
};

static const struct iommu_iova_range hs_io_ranges[] = {
    {0, 0xfedfffffULL},
    {0xfef00000ULL, (1ULL << 48) - 1},
};

static HsIoObj *hs_io_obj(HsIommufd *ictx, uint32_t id, int kind)
{
    HsIoObj *o = g_hash_table_lookup(ictx->objs, GUINT_TO_POINTER(id));

    return o && (!kind || o->kind == kind) ? o : NULL;
}

static HsIoObj *hs_io_new(HsIommufd *ictx, int kind)
{
    HsIoObj *o = g_new0(HsIoObj, 1);

    o->id = ictx->next_id++;
    o->kind = kind;
    if (kind == HS_IO_IOAS) {
        hs_space_init(&o->space);
    }
    g_hash_table_insert(ictx->objs, GUINT_TO_POINTER(o->id), o);
    return o;
}

static void hs_io_free(gpointer p)
{
    HsIoObj *o = p;

    if (o->kind == HS_IO_IOAS) {
        hs_space_destroy(&o->space);
        g_ptr_array_free(o->space.maps, TRUE);
    }
    if (o->dirty) {
        g_hash_table_destroy(o->dirty);
    }
    g_free(o);
}

int hs_iommufd_open(HsCall *c, void **obj)
{
    static unsigned serial;
    HsIommufd *ictx = g_new0(HsIommufd, 1);

    ictx->serial = ++serial;
    ictx->objs = g_hash_table_new_full(NULL, NULL, NULL, hs_io_free);
    ictx->next_id = 1;
    ictx->file_open = true;
    hs_log("pid %d: iommufd %u opened", (int)c->pid, ictx->serial);
    *obj = ictx;
    return 0;
}

static void hs_iommufd_free_if_unused(HsIommufd *ictx)
{
    if (ictx->file_open || ictx->bound) {
        return;
    }
    hs_log("iommufd %u released", ictx->serial);
    g_hash_table_destroy(ictx->objs);
    g_free(ictx);
}

void hs_iommufd_release(HsIommufd *ictx)
{
    ictx->file_open = false;
    hs_iommufd_free_if_unused(ictx);
}

/* Users of an IOAS: HWPTs on it, devices attached to those. */
static bool hs_ioas_in_use(HsIommufd *ictx, uint32_t ioas_id, bool *devices)
{
    GHashTableIter it;
    gpointer k, v;
    bool used = false;

    *devices = false;
    g_hash_table_iter_init(&it, ictx->objs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        HsIoObj *o = v;

        if (o->kind == HS_IO_HWPT && o->ioas_id == ioas_id) {
            used = true;
        }
        if (o->kind == HS_IO_DEVICE && o->df->pt_id) {
            HsIoObj *h = hs_io_obj(ictx, o->df->pt_id, HS_IO_HWPT);

            if (h && h->ioas_id == ioas_id) {
                *devices = true;
            }
        }
    }
    return used;
}

static bool hs_hwpt_in_use(HsIommufd *ictx, uint32_t hwpt_id)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, ictx->objs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        HsIoObj *o = v;

        if (o->kind == HS_IO_DEVICE && o->df->pt_id == hwpt_id) {
            return true;
        }
    }
    return false;
}

/* Copy a size-prefixed struct in: EINVAL if shorter than minsz. */
static int hs_io_in(HsCall *c, void *s, uint32_t len, uint32_t minsz)
{
    uint32_t size;

    if (c->in_len < 4) {
        return -EFAULT;
    }
    memcpy(&size, c->in, 4);
    if (size < minsz || c->in_len < minsz) {
        return -EINVAL;
    }
    memset(s, 0, len);
    memcpy(s, c->in, MIN(c->in_len, len));
    return 0;
}

static void hs_io_out(HsCall *c, const void *s, uint32_t len)
{
    len = MIN(len, c->in_len);
    memcpy(c->out, s, len);
    c->out_len = len;
}

static int64_t hs_io_iova_ranges(HsIommufd *ictx, HsCall *c)
{
    struct iommu_ioas_iova_ranges r;
    struct iommu_iova_range full = {0, UINT64_MAX};
    const struct iommu_iova_range *ranges = &full;
    uint32_t n = 1, copy;
    bool devices;
    int ret = hs_io_in(c, &r, sizeof(r), sizeof(r));

    if (ret < 0) {
        return ret;
    }
    if (!hs_io_obj(ictx, r.ioas_id, HS_IO_IOAS)) {
        return -ENOENT;
    }
    hs_ioas_in_use(ictx, r.ioas_id, &devices);
    if (devices) {
        /* Attached devices narrow the IOAS to what their IOMMU allows. */
        ranges = hs_io_ranges;
        n = G_N_ELEMENTS(hs_io_ranges);
    }
    copy = MIN(r.num_iovas, n);
    memcpy(c->out + sizeof(r), ranges, copy * sizeof(*ranges));
    c->aux_len = copy * sizeof(*ranges);
    ret = r.num_iovas < n ? -EMSGSIZE : 0;
    r.num_iovas = n;
    r.out_iova_alignment = HS_PAGE_SIZE;
    memcpy(c->out, &r, sizeof(r));
    c->out_len = sizeof(r) + c->aux_len;
    return ret;
}

static bool hs_io_iova_ok(HsIommufd *ictx, uint32_t ioas_id, uint64_t iova,
                          uint64_t len)
{
    bool devices;
    guint i;

    hs_ioas_in_use(ictx, ioas_id, &devices);
    if (!devices) {
        return true;
    }
    for (i = 0; i < G_N_ELEMENTS(hs_io_ranges); i++) {
        if (iova >= hs_io_ranges[i].start &&
            iova + len - 1 <= hs_io_ranges[i].last) {
            return true;
        }
    }
    return false;
}

/* IOAS_MAP and IOAS_MAP_FILE share everything but where pages come from. */
static int64_t hs_io_map_common(HsIommufd *ictx, HsCall *c, uint32_t flags,
                                uint32_t ioas_id, uint64_t *iova,
                                uint64_t length, bool file, uint64_t src)
{
    uint32_t mask = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE |
                    IOMMU_IOAS_MAP_READABLE;
    HsIoObj *ioas;
    HsMapping *m;
    int ret;

    if (flags & ~mask) {
        return -EOPNOTSUPP;
    }
    ioas = hs_io_obj(ictx, ioas_id, HS_IO_IOAS);
    if (!ioas) {
        return -ENOENT;
    }
    if (!length || ((length | src) & (HS_PAGE_SIZE - 1)) ||
        src + length < src) {
        return -EINVAL;
    }
    if (!(flags & IOMMU_IOAS_MAP_FIXED_IOVA)) {
        /* Allocate: the first free aligned spot from 4 GiB up. */
        *iova = 1ULL << 32;
        while ((m = hs_space_overlap(&ioas->space, *iova, length))) {
            *iova = ROUND_UP_PAGE(m->iova + m->size);
        }
    }
    if ((*iova & (HS_PAGE_SIZE - 1)) || *iova + length < *iova) {
        return -EINVAL;
    }
    if (hs_space_overlap(&ioas->space, *iova, length)) {
        return -EEXIST;
    }
    if (!hs_io_iova_ok(ictx, ioas_id, *iova, length)) {
        return -EINVAL;
    }
    m = g_new0(HsMapping, 1);
    m->iova = *iova;
    m->size = length;
    m->readable = flags & IOMMU_IOAS_MAP_READABLE;
    m->writable = flags & IOMMU_IOAS_MAP_WRITEABLE;
    m->has_vaddr = !file;
    m->vaddr = file ? 0 : src;
    m->vaddr_valid = !file;
    m->owner = c->pid;
    ret = hs_acct_charge(c->pid, length, &m->charged);
    if (ret == 0) {
        if (file) {
            ret = c->nfds == 1 ? hs_pin_file(c->fds[0], src, length,
                                             m->writable, &m->pin)
                               : -EBADF;
        } else {
            ret = hs_pin_vaddr(c->pid, src, length, m->writable, &m->pin);
            if (ret == 0 && m->pin.mmio) {
                /*
                 * A device region's mmap: iommufd pins pages with
                 * pin_user_pages, which fails on a VM_PFNMAP vma (the
                 * kernel takes MMIO as a dma-buf through MAP_FILE).
                 */
                hs_log("pid %d: IOAS_MAP vaddr 0x%" G_GINT64_MODIFIER
                       "x: a device region's mmap (VM_PFNMAP) cannot be "
                       "pinned; EFAULT",
                       (int)c->pid, src);
                hs_unpin(&m->pin);
                ret = -EFAULT;
            }
        }
        if (ret < 0) {
            hs_acct_uncharge(c->pid, m->charged);
        }
    }
    if (ret < 0) {
        g_free(m);
        return ret;
    }
    g_ptr_array_add(ioas->space.maps, m);
    return 0;
}

static int64_t hs_io_map(HsIommufd *ictx, HsCall *c)
{
    struct iommu_ioas_map mp;
    uint64_t iova;
    int64_t ret = hs_io_in(c, &mp, sizeof(mp), sizeof(mp));

    if (ret < 0) {
        return ret;
    }
    if (mp.__reserved) {
        return -EOPNOTSUPP;
    }
    iova = mp.iova;
    ret = hs_io_map_common(ictx, c, mp.flags, mp.ioas_id, &iova, mp.length,
                           false, mp.user_va);
    mp.iova = iova;
    if (ret == 0) {
        hs_io_out(c, &mp, sizeof(mp));
    }
    return ret;
}

static int64_t hs_io_map_file(HsIommufd *ictx, HsCall *c)
{
    struct iommu_ioas_map_file mf;
    uint64_t iova;
    int64_t ret = hs_io_in(c, &mf, sizeof(mf), sizeof(mf));

    if (ret < 0) {
        return ret;
    }
    iova = mf.iova;
    ret = hs_io_map_common(ictx, c, mf.flags, mf.ioas_id, &iova, mf.length,
                           true, mf.start);
    mf.iova = iova;
    if (ret == 0) {
        hs_io_out(c, &mf, sizeof(mf));
    }
    return ret;
}

static int64_t hs_io_unmap(HsIommufd *ictx, HsCall *c)
{
    struct iommu_ioas_unmap un;
    g_autoptr(GPtrArray) hit = g_ptr_array_new();
    uint64_t last, unmapped = 0;
    HsIoObj *ioas;
    guint i;
    int ret = hs_io_in(c, &un, sizeof(un), sizeof(un));

    if (ret < 0) {
        return ret;
    }
    ioas = hs_io_obj(ictx, un.ioas_id, HS_IO_IOAS);
    if (!ioas) {
        return -ENOENT;
    }
    if (!un.length) {
        return -EINVAL;
    }
    last = un.iova + un.length - 1;
    if (last < un.iova) {
        return -EOVERFLOW;
    }
    for (i = 0; i < ioas->space.maps->len; i++) {
        HsMapping *m = ioas->space.maps->pdata[i];
        uint64_t mlast = m->iova + m->size - 1;

        if (m->iova > last || mlast < un.iova) {
            continue;
        }
        if (m->iova < un.iova || mlast > last) {
            return -EINVAL; /* no splitting or truncating */
        }
        g_ptr_array_add(hit, m);
    }
    if (!hit->len && !(un.iova == 0 && un.length == UINT64_MAX)) {
        return -ENOENT;
    }
    for (i = 0; i < hit->len; i++) {
        HsMapping *m = hit->pdata[i];

        unmapped += m->size;
        hs_space_remove(&ioas->space, m);
    }
    un.length = unmapped;
    hs_io_out(c, &un, sizeof(un));
    return 0;
}

static int64_t hs_io_destroy(HsIommufd *ictx, HsCall *c)
{
    struct iommu_destroy d;
    HsIoObj *o;
    bool devices;
    int ret = hs_io_in(c, &d, sizeof(d), sizeof(d));

    if (ret < 0) {
        return ret;
    }
    o = hs_io_obj(ictx, d.id, 0);
    if (!o) {
        return -ENOENT;
    }
    if (o->kind == HS_IO_DEVICE ||
        (o->kind == HS_IO_IOAS && hs_ioas_in_use(ictx, o->id, &devices)) ||
        (o->kind == HS_IO_HWPT && hs_hwpt_in_use(ictx, o->id))) {
        return -EBUSY;
    }
    g_hash_table_remove(ictx->objs, GUINT_TO_POINTER(d.id));
    return 0;
}

static int64_t hs_io_hwpt_alloc(HsIommufd *ictx, HsCall *c)
{
    struct iommu_hwpt_alloc h;
    uint32_t minsz = offsetof(struct iommu_hwpt_alloc, data_uptr) + 8;
    HsIoObj *o, *dev;
    int ret = hs_io_in(c, &h, sizeof(h), minsz);

    if (ret < 0) {
        return ret;
    }
    if (h.flags &
        ~(IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING)) {
        return -EOPNOTSUPP; /* no fault queues */
    }
    if (h.data_type != IOMMU_HWPT_DATA_NONE || h.data_len || h.__reserved) {
        return -EOPNOTSUPP;
    }
    dev = hs_io_obj(ictx, h.dev_id, HS_IO_DEVICE);
    if (!dev) {
        return -ENOENT;
    }
    if ((h.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) &&
        !hs_device_iommu_dirty(dev->df->dev)) {
        hs_log("device %s: its IOMMU cannot track dirty pages "
               "(iommu-dirty=off); HWPT_ALLOC EOPNOTSUPP",
               hs_device_bdf(dev->df->dev));
        return -EOPNOTSUPP;
    }
    if (!hs_io_obj(ictx, h.pt_id, 0)) {
        return -ENOENT;
    }
    if (!hs_io_obj(ictx, h.pt_id, HS_IO_IOAS)) {
        return -EOPNOTSUPP; /* nesting on a HWPT is not simulated */
    }
    o = hs_io_new(ictx, HS_IO_HWPT);
    o->ioas_id = h.pt_id;
    if (h.flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) {
        o->dirty_capable = true;
        o->dirty = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    h.out_hwpt_id = o->id;
    hs_io_out(c, &h, sizeof(h));
    return 0;
}

static int64_t hs_io_hw_info(HsIommufd *ictx, HsCall *c)
{
    struct iommu_hw_info hi;
    uint32_t minsz = offsetof(struct iommu_hw_info, out_capabilities);
    HsIoObj *dev;
    int ret = hs_io_in(c, &hi, sizeof(hi), minsz);

    if (ret < 0) {
        return ret;
    }
    if (hi.flags) {
        return -EOPNOTSUPP;
    }
    dev = hs_io_obj(ictx, hi.dev_id, HS_IO_DEVICE);
    if (!dev) {
        return -ENOENT;
    }
    /* No type-specific data: the user's buffer is zeroed. */
    c->aux_len =
        hi.data_uptr ? MIN(hi.data_len, (uint32_t)HOSTSIM_MAX_PAYLOAD) : 0;
    memset(c->out + sizeof(hi), 0, c->aux_len);
    hi.data_len = 0;
    hi.out_data_type = IOMMU_HW_INFO_TYPE_NONE;
    hi.out_capabilities = hs_device_iommu_dirty(dev->df->dev)
                              ? IOMMU_HW_CAP_DIRTY_TRACKING
                              : 0;
    memcpy(c->out, &hi, sizeof(hi));
    c->out_len = sizeof(hi) + c->aux_len;
    return 0;
}

static int64_t hs_io_set_dirty(HsIommufd *ictx, HsCall *c)
{
    struct iommu_hwpt_set_dirty_tracking s;
    HsIoObj *h;
    int ret = hs_io_in(c, &s, sizeof(s), sizeof(s));

    if (ret < 0) {
        return ret;
    }
    if (s.flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) {
        return -EOPNOTSUPP;
    }
    h = hs_io_obj(ictx, s.hwpt_id, HS_IO_HWPT);
    if (!h) {
        return -ENOENT;
    }
    if (!h->dirty_capable) {
        return -EOPNOTSUPP; /* a domain without dirty ops */
    }
    if (s.flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE) {
        /* Enabling starts clean, as iopt_set_dirty_tracking() does. */
        g_hash_table_remove_all(h->dirty);
    }
    if (h->dirty_on != !!s.flags) {
        hs_log("pid %d: HWPT %u: dirty tracking %s", (int)c->pid, h->id,
               s.flags ? "on" : "off");
    }
    h->dirty_on = s.flags;
    return 0;
}

/*
 * The pages written by DMA through this HWPT since tracking was enabled
 * or the page was last read and cleared, as a bitmap (one bit per
 * page_size from iova) after the argument in the reply; the preload ORs
 * it into the caller's and splits what does not fit one reply.
 */
static int64_t hs_io_get_dirty(HsIommufd *ictx, HsCall *c)
{
    struct iommu_hwpt_get_dirty_bitmap g;
    uint8_t *bitmap = c->out + sizeof(g);
    uint64_t last, nbytes, p;
    GHashTableIter it;
    gpointer key;
    HsIoObj *h;
    int ret = hs_io_in(c, &g, sizeof(g), sizeof(g));

    if (ret < 0) {
        return ret;
    }
    if ((g.flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) || g.__reserved) {
        return -EOPNOTSUPP;
    }
    h = hs_io_obj(ictx, g.hwpt_id, HS_IO_HWPT);
    if (!h) {
        return -ENOENT;
    }
    if (!h->dirty_capable) {
        return -EOPNOTSUPP;
    }
    /* iommufd_check_iova_range(): the IOAS's 4 KiB and page_size. */
    if (!g.length || __builtin_add_overflow(g.iova, g.length - 1, &last)) {
        return -EOVERFLOW;
    }
    if (((g.iova | (last + 1)) & (HS_PAGE_SIZE - 1)) || !g.page_size ||
        (g.page_size & (g.page_size - 1)) ||
        ((g.iova | (last + 1)) & (g.page_size - 1))) {
        return -EINVAL;
    }
    if (!h->dirty_on) {
        /* As VT-d and AMD answer a read with tracking off. */
        return -EINVAL;
    }
    nbytes = ((g.length / g.page_size) + 63) / 64 * 8;
    if (nbytes > HOSTSIM_MAX_PAYLOAD) {
        return -EINVAL; /* the preload splits larger bitmaps */
    }
    memset(bitmap, 0, nbytes);
    g_hash_table_iter_init(&it, h->dirty);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        p = GPOINTER_TO_SIZE(key) * HS_PAGE_SIZE;
        if (p < g.iova || p > last) {
            continue;
        }
        p = (p - g.iova) / g.page_size;
        bitmap[p / 8] |= 1u << (p % 8);
        if (!(g.flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR)) {
            g_hash_table_iter_remove(&it);
        }
    }
    memcpy(c->out, &g, sizeof(g));
    c->out_len = sizeof(g) + nbytes;
    c->aux_len = nbytes;
    return 0;
}

static int64_t hs_io_option(HsIommufd *ictx, HsCall *c)
{
    struct iommu_option o;
    int ret = hs_io_in(c, &o, sizeof(o), sizeof(o));

    if (ret < 0) {
        return ret;
    }
    if (o.__reserved || o.op > IOMMU_OPTION_OP_GET) {
        return -EOPNOTSUPP;
    }
    switch (o.option_id) {
    case IOMMU_OPTION_RLIMIT_MODE:
        if (o.object_id) {
            return -EINVAL;
        }
        if (o.op == IOMMU_OPTION_OP_GET) {
            o.val64 = ictx->rlimit_mode;
        } else if (o.val64 > 1) {
            return -EINVAL;
        } else {
            /* Accounting is always per process here (documented). */
            ictx->rlimit_mode = o.val64;
        }
        break;
    case IOMMU_OPTION_HUGE_PAGES:
        if (!hs_io_obj(ictx, o.object_id, HS_IO_IOAS)) {
            return -ENOENT;
        }
        if (o.op == IOMMU_OPTION_OP_GET) {
            o.val64 = 1;
        } else if (o.val64 > 1) {
            return -EINVAL;
        }
        break;
    default:
        return -EOPNOTSUPP;
    }
    hs_io_out(c, &o, sizeof(o));
    return 0;
}

/*
 * IOAS_CHANGE_PROCESS: every mapping of every IOAS is charged to the
 * caller instead. Only file mappings can move (a vaddr belongs to its
 * process): EINVAL, and nothing changes, if any other exists.
 */
static int64_t hs_io_change_process(HsIommufd *ictx, HsCall *c)
{
    struct iommu_ioas_change_process cp;
    g_autoptr(GPtrArray) moving = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    uint64_t total = 0, charged = 0;
    guint i;
    int ret = hs_io_in(c, &cp, sizeof(cp), sizeof(cp));

    if (ret < 0) {
        return ret;
    }
    if (cp.__reserved) {
        return -EOPNOTSUPP;
    }
    g_hash_table_iter_init(&it, ictx->objs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        HsIoObj *o = v;

        if (o->kind != HS_IO_IOAS) {
            continue;
        }
        for (i = 0; i < o->space.maps->len; i++) {
            HsMapping *m = o->space.maps->pdata[i];

            if (m->has_vaddr) {
                hs_log("pid %d: IOAS_CHANGE_PROCESS: IOAS %u has a vaddr "
                       "mapping at 0x%" G_GINT64_MODIFIER "x; EINVAL",
                       (int)c->pid, o->id, m->iova);
                return -EINVAL;
            }
            if (m->owner != c->pid) {
                g_ptr_array_add(moving, m);
                total += m->size;
            }
        }
    }
    ret = hs_acct_charge(c->pid, total, &charged);
    if (ret < 0) {
        return ret;
    }
    for (i = 0; i < moving->len; i++) {
        HsMapping *m = moving->pdata[i];

        hs_acct_uncharge(m->owner, m->charged);
        m->owner = c->pid;
        m->charged = charged ? m->size : 0;
    }
    hs_log("pid %d: iommufd %u: %u mapping(s), %" G_GUINT64_FORMAT
           " bytes moved to this process",
           (int)c->pid, ictx->serial, moving->len, total);
    return 0;
}

int64_t hs_iommufd_ioctl(HsIommufd *ictx, HsCall *c)
{
    struct iommu_ioas_alloc a;
    HsIoObj *o;
    int ret;

    switch (c->req->cmd) {
    case IOMMU_DESTROY:
        return hs_io_destroy(ictx, c);
    case IOMMU_IOAS_ALLOC:
        ret = hs_io_in(c, &a, sizeof(a), sizeof(a));
        if (ret < 0) {
            return ret;
        }
        if (a.flags) {
            return -EOPNOTSUPP;
        }
        o = hs_io_new(ictx, HS_IO_IOAS);
        a.out_ioas_id = o->id;
        hs_io_out(c, &a, sizeof(a));
        return 0;
    case IOMMU_IOAS_IOVA_RANGES:
        return hs_io_iova_ranges(ictx, c);
    case IOMMU_IOAS_MAP:
        return hs_io_map(ictx, c);
    case IOMMU_IOAS_MAP_FILE:
        return hs_io_map_file(ictx, c);
    case IOMMU_IOAS_UNMAP:
        return hs_io_unmap(ictx, c);
    case IOMMU_OPTION:
        return hs_io_option(ictx, c);
    case IOMMU_HWPT_ALLOC:
        return hs_io_hwpt_alloc(ictx, c);
    case IOMMU_GET_HW_INFO:
        return hs_io_hw_info(ictx, c);
    case IOMMU_HWPT_SET_DIRTY_TRACKING:
        return hs_io_set_dirty(ictx, c);
    case IOMMU_HWPT_GET_DIRTY_BITMAP:
        return hs_io_get_dirty(ictx, c);
    case IOMMU_IOAS_CHANGE_PROCESS:
        return hs_io_change_process(ictx, c);
    }
    return -ENOTTY;
}

/* ---- the device side ---- */

int64_t hs_iommufd_bind(HsDevFile *df, HsCall *c)
{
    struct vfio_device_bind_iommufd b = {0};
    HsIommufd *ictx;
    HsIoObj *o;
    int kind = HS_OBJ_NONE;
    int ret;

    memcpy(&b, c->in, MIN(c->in_len, sizeof(b)));
    if (c->in_len < sizeof(b) || b.argsz < sizeof(b)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    if (b.flags || df->ictx) {
        return -EINVAL;
    }
    ictx = c->nfds == 1 ? hs_conn_object_of_fd(c->fds[0], &kind) : NULL;
    if (!ictx || kind != HS_OBJ_IOMMUFD) {
        return -EBADF;
    }
    ret = hs_devfile_open_cdev(df);
    if (ret < 0) {
        return ret;
    }
    o = hs_io_new(ictx, HS_IO_DEVICE);
    o->df = df;
    df->ictx = ictx;
    df->dev_id = o->id;
    ictx->bound++;
    b.out_devid = o->id;
    hs_log("pid %d: device %s bound to iommufd %u as dev_id %u", (int)c->pid,
           hs_device_bdf(df->dev), ictx->serial, o->id);
    memcpy(c->out, &b, sizeof(b));
    c->out_len = sizeof(b);
    return 0;
}

static void hs_iommufd_detach_df(HsDevFile *df)
{
    HsIoObj *h = df->pt_id ? hs_io_obj(df->ictx, df->pt_id, HS_IO_HWPT) : NULL;

    df->pt_id = 0;
    if (h && h->auto_hwpt && !hs_hwpt_in_use(df->ictx, h->id)) {
        g_hash_table_remove(df->ictx->objs, GUINT_TO_POINTER(h->id));
    }
}

int64_t hs_iommufd_attach(HsDevFile *df, HsCall *c)
{
    struct vfio_device_attach_iommufd_pt at = {0};
    HsIoObj *pt, *h = NULL;
    GHashTableIter it;
    gpointer k, v;

    memcpy(&at, c->in, MIN(c->in_len, sizeof(at)));
    if (c->in_len < sizeof(at) || at.argsz < sizeof(at) || at.flags) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    pt = hs_io_obj(df->ictx, at.pt_id, 0);
    if (!pt || pt->kind == HS_IO_DEVICE) {
        return -ENOENT;
    }
    if (pt->kind == HS_IO_IOAS) {
        /* Reuse this IOAS's automatic domain, else make one. */
        g_hash_table_iter_init(&it, df->ictx->objs);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            HsIoObj *o = v;

            if (o->kind == HS_IO_HWPT && o->auto_hwpt && o->ioas_id == pt->id) {
                h = o;
            }
        }
        if (!h) {
            h = hs_io_new(df->ictx, HS_IO_HWPT);
            h->ioas_id = pt->id;
            h->auto_hwpt = true;
        }
    } else {
        h = pt;
    }
    if (h->dirty_capable && !hs_device_iommu_dirty(df->dev)) {
        /* A dirty-tracking domain on an IOMMU that cannot track. */
        hs_log("device %s: HWPT %u tracks dirty pages, its IOMMU cannot; "
               "EINVAL",
               hs_device_bdf(df->dev), h->id);
        return -EINVAL;
    }
    if (df->pt_id != h->id) {
        uint32_t keep = h->id;

        hs_iommufd_detach_df(df);
        df->pt_id = keep;
    }
    at.pt_id = h->id;
    memcpy(c->out, &at, sizeof(at));
    c->out_len = sizeof(at);
    hs_log("pid %d: device %s attached to HWPT %u (IOAS %u)", (int)c->pid,
           hs_device_bdf(df->dev), h->id, h->ioas_id);
    return 0;
}

int64_t hs_iommufd_detach(HsDevFile *df, HsCall *c)
{
    struct vfio_device_detach_iommufd_pt dt = {0};

    memcpy(&dt, c->in, MIN(c->in_len, sizeof(dt)));
    if (c->in_len < sizeof(dt) || dt.argsz < sizeof(dt) || dt.flags) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    if (!df->pt_id) {
        return -EINVAL;
    }
    hs_iommufd_detach_df(df);
    return 0;
}

void hs_iommufd_unbind(HsDevFile *df)
{
    HsIommufd *ictx = df->ictx;

    hs_iommufd_detach_df(df);
    g_hash_table_remove(ictx->objs, GUINT_TO_POINTER(df->dev_id));
    df->ictx = NULL;
    ictx->bound--;
    hs_iommufd_free_if_unused(ictx);
}

void hs_iommufd_dirty_note(HsDevFile *df, uint64_t iova, uint64_t len)
{
    HsIoObj *h;
    uint64_t pfn;

    if (!df->ictx || !df->pt_id || !len) {
        return;
    }
    h = hs_io_obj(df->ictx, df->pt_id, HS_IO_HWPT);
    if (!h || !h->dirty_on) {
        return;
    }
    for (pfn = iova / HS_PAGE_SIZE; pfn <= (iova + len - 1) / HS_PAGE_SIZE;
         pfn++) {
        g_hash_table_add(h->dirty, GSIZE_TO_POINTER(pfn));
    }
}

HsSpace *hs_iommufd_space(HsDevFile *df)
{
    HsIoObj *h, *ioas;

    if (!df->ictx || !df->pt_id) {
        return NULL;
    }
    h = hs_io_obj(df->ictx, df->pt_id, HS_IO_HWPT);
    ioas = h ? hs_io_obj(df->ictx, h->ioas_id, HS_IO_IOAS) : NULL;
    return ioas ? &ioas->space : NULL;
}
