/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dirty tracking of the dmatest function's DMA writes: the device's own
 * DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_START/STOP/REPORT, with
 * dma-logging=on), and the note to the IOMMU's dirty tracking of the
 * container or HWPT the device writes through. The checks follow the
 * vfio core (vfio_ioctl_device_feature_logging_*); the device itself
 * takes at most dma-logging-max-ranges ranges (E2BIG beyond).
 */
#include <errno.h>
#include <string.h>
#include <linux/vfio.h>

#include "dmatest.h"

#define LOG_MAX_RANGES 256 /* the vfio core's: one page of ranges */
#define LOG_PAGE_MIN 4096ull
#define LOG_PAGE_MAX (1ull << 30)

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static bool in_ranges(HsDevice *d, uint64_t iova)
{
    guint i;

    for (i = 0; i < d->log_ranges->len; i++) {
        HsRange *r = &g_array_index(d->log_ranges, HsRange, i);

        if (iova >= r->iova && iova - r->iova < r->length) {
            return true;
        }
    }
    return false;
}

void hs_mig_dma_written(HsDevice *d, uint64_t iova, uint64_t len)
{
    uint64_t pfn;

    if (d->log_active && in_ranges(d, iova)) {
        for (pfn = iova / d->log_page_size;
             pfn <= (iova + len - 1) / d->log_page_size; pfn++) {
            if (g_hash_table_add(d->log_dirty, GSIZE_TO_POINTER(pfn))) {
                d->regs[R_DMA_LOGGED]++;
            }
        }
    }
    if (d->cdev_file) {
        hs_iommufd_dirty_note(d->cdev_file, iova, len);
    } else {
        hs_group_dirty_note(hs_group_get(d->group, false), iova, len);
    }
}

void hs_log_stop(HsDevice *d)
{
    if (d->log_active) {
        hs_log("device %s: DMA logging off", d->bdf);
    }
    d->log_active = false;
    g_array_set_size(d->log_ranges, 0);
    g_hash_table_remove_all(d->log_dirty);
}

/* START: the ranges follow the argument in the request (the preload's). */
static int64_t log_start(HsDevice *d, uint32_t flags, uint8_t *data,
                         uint32_t dlen, const uint8_t *ranges,
                         uint32_t ranges_len)
{
    struct vfio_device_feature_dma_logging_control ctl;
    uint64_t ps, end;
    HsRange r;
    guint i, j;
    int ret = hs_mig_check_feature(flags, dlen, VFIO_DEVICE_FEATURE_SET,
                                   sizeof(ctl));

    if (ret != 1) {
        return ret;
    }
    ret = 0;
    memcpy(&ctl, data, sizeof(ctl));
    if (!ctl.num_ranges) {
        return -EINVAL;
    }
    if (ctl.num_ranges > LOG_MAX_RANGES) {
        return -E2BIG;
    }
    if ((uint64_t)ctl.num_ranges * sizeof(r) > ranges_len) {
        return -EFAULT;
    }
    ps = ctl.page_size;
    g_array_set_size(d->log_ranges, 0);
    for (i = 0; i < ctl.num_ranges; i++) {
        memcpy(&r, ranges + i * sizeof(r), sizeof(r));
        /* IS_ALIGNED(x, page_size) as the core checks it. */
        if ((r.iova & (ps - 1)) || (r.length & (ps - 1))) {
            ret = -EINVAL;
            break;
        }
        if (__builtin_add_overflow(r.iova, r.length, &end)) {
            ret = -EOVERFLOW;
            break;
        }
        for (j = 0; j < d->log_ranges->len; j++) {
            HsRange *o = &g_array_index(d->log_ranges, HsRange, j);

            if (r.length && o->length && r.iova < o->iova + o->length &&
                o->iova < end) {
                ret = -EINVAL; /* overlapping ranges */
                break;
            }
        }
        if (ret) {
            break;
        }
        g_array_append_val(d->log_ranges, r);
    }
    if (!ret && d->log_active) {
        hs_log("device %s: DMA logging is already on; EINVAL", d->bdf);
        return -EINVAL;
    }
    if (!ret && ctl.num_ranges > d->log_max_ranges) {
        hs_log("device %s: DMA logging of %u ranges, the device takes %u; "
               "E2BIG",
               d->bdf, ctl.num_ranges, d->log_max_ranges);
        ret = -E2BIG;
    }
    if (ret) {
        g_array_set_size(d->log_ranges, 0);
        return ret;
    }
    /* The page size asked for if the device can, else the nearest. */
    if (!is_pow2(ps) || ps < LOG_PAGE_MIN) {
        ps = LOG_PAGE_MIN;
    } else if (ps > LOG_PAGE_MAX) {
        ps = LOG_PAGE_MAX;
    }
    ctl.page_size = ps;
    memcpy(data, &ctl, sizeof(ctl));
    d->log_page_size = ps;
    d->log_active = true;
    d->regs[R_DMA_LOGGED] = 0;
    g_hash_table_remove_all(d->log_dirty);
    hs_log("device %s: DMA logging on: %u range(s), page size %" G_GUINT64_FORMAT,
           d->bdf, ctl.num_ranges, ps);
    return 0;
}

/*
 * REPORT: the bitmap (bit i: [iova + i * page_size, + page_size) was
 * written) goes after the argument in the reply; the preload ORs it into
 * the caller's (the kernel only sets bits) and splits a report whose
 * bitmap would not fit one message. What is reported is cleared.
 */
static int64_t log_report(HsDevice *d, uint32_t flags, const uint8_t *data,
                          uint32_t dlen, HsCall *c)
{
    struct vfio_device_feature_dma_logging_report rep;
    uint64_t end, nbits, nbytes, lps = d->log_page_size;
    uint8_t *bitmap = c->out + c->out_len;
    GHashTableIter it;
    gpointer key;
    int ret = hs_mig_check_feature(flags, dlen, VFIO_DEVICE_FEATURE_GET,
                                   sizeof(rep));

    if (ret != 1) {
        return ret;
    }
    memcpy(&rep, data, sizeof(rep));
    if (rep.page_size < LOG_PAGE_MIN || !is_pow2(rep.page_size)) {
        return -EINVAL;
    }
    if (__builtin_add_overflow(rep.iova, rep.length, &end)) {
        return -EOVERFLOW;
    }
    if (!rep.length) {
        return -EINVAL;
    }
    if (!d->log_active) {
        hs_log("device %s: DMA logging report while logging is off; EINVAL",
               d->bdf);
        return -EINVAL;
    }
    nbits = (rep.length - 1) / rep.page_size + 1;
    nbytes = (nbits + 63) / 64 * 8;
    if (nbytes > HOSTSIM_MAX_PAYLOAD) {
        hs_log("device %s: DMA logging report of %" G_GUINT64_FORMAT
               " bitmap bytes in one message; EINVAL",
               d->bdf, nbytes);
        return -EINVAL;
    }
    memset(bitmap, 0, nbytes);
    g_hash_table_iter_init(&it, d->log_dirty);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        uint64_t a = GPOINTER_TO_SIZE(key) * lps, b = a + lps, i;

        if (b <= rep.iova || a >= end) {
            continue;
        }
        a = MAX(a, rep.iova);
        b = MIN(b, end);
        for (i = (a - rep.iova) / rep.page_size;
             i <= (b - 1 - rep.iova) / rep.page_size; i++) {
            bitmap[i / 8] |= 1u << (i % 8);
        }
        g_hash_table_iter_remove(&it);
    }
    c->out_len += nbytes;
    c->aux_len = nbytes;
    return 0;
}

int64_t hs_log_feature(HsDevice *d, uint32_t flags, uint8_t *data,
                       uint32_t dlen, HsCall *c, uint32_t argsz)
{
    uint32_t in_end = MIN(argsz, c->in_len);
    int ret;

    if (!d->dma_logging) {
        return -ENOTTY;
    }
    switch (flags & VFIO_DEVICE_FEATURE_MASK) {
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
        return log_start(d, flags, data, dlen, c->in + in_end,
                         c->in_len - in_end);
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
        ret = hs_mig_check_feature(flags, dlen, VFIO_DEVICE_FEATURE_SET, 0);
        if (ret == 1) {
            hs_log_stop(d);
            ret = 0;
        }
        return ret;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
        return log_report(d, flags, data, dlen, c);
    }
    return -ENOTTY;
}
