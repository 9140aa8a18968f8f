/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hw/vfio's kernel boundary and small pure helpers: the one traced ioctl
 * wrapper, IOMMU page alignment, IOVA range checks and host= parsing.
 * The device and container logic lives in pci*.c and container.c.
 */
#include "util/osdep.h"

#include <errno.h>
#include <sys/ioctl.h>

#include "trace.h"
#include "vfio-internal.h"

int vfio_ioctl(int fd, unsigned long req, void *arg, const char *name)
{
    int ret = ioctl(fd, req, arg);

    if (ret < 0) {
        ret = -errno;
    }
    trace_vfio_ioctl(fd, name, ret);
    return ret;
}

bool vfio_dma_align(uint64_t iova, uint64_t size, uint64_t pgsize,
                    uint64_t *start, uint64_t *len)
{
    uint64_t mask = pgsize - 1;
    uint64_t last, s, e;

    g_assert(pgsize && !(pgsize & mask));
    if (!size) {
        return false;
    }
    last = iova + size - 1; /* a section may end at 2^64 */
    s = (iova + mask) & ~mask;
    e = (last + 1) & ~mask; /* exclusive; 0 stands for 2^64 */
    if (s < iova || s > last || (e && e <= s)) {
        return false; /* rounding up wrapped, or less than a page */
    }
    *start = s;
    *len = e - s;
    return *len != 0;
}

bool vfio_iova_ranges_contain(const VFIOIovaRange *ranges, unsigned int n,
                              uint64_t start, uint64_t len)
{
    uint64_t last = start + len - 1;

    if (!n) {
        return true;
    }
    for (unsigned int i = 0; i < n; i++) {
        if (start >= ranges[i].start && last <= ranges[i].end &&
            last >= start) {
            return true;
        }
    }
    return false;
}

char *vfio_parse_host_bdf(const char *host, GError **errp)
{
    unsigned int dom = 0, bus, slot, fn;

    /* QEMU's pci-host-devaddr syntax: hex fields, the domain optional. */
    if (!g_regex_match_simple("^([0-9a-fA-F]{1,4}:)?[0-9a-fA-F]{1,2}:"
                              "[0-9a-fA-F]{1,2}\\.[0-7]$",
                              host, 0, 0) ||
        (strchr(host, ':') != strrchr(host, ':')
             ? sscanf(host, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4
             : sscanf(host, "%x:%x.%x", &bus, &slot, &fn) != 3) ||
        slot > 0x1f) {
        error_setg(errp,
                   "host '%s' is not a PCI address; "
                   "use DDDD:BB:SS.F or BB:SS.F",
                   host);
        return NULL;
    }
    return g_strdup_printf("%04x:%02x:%02x.%x", dom, bus, slot, fn);
}

static int vfio_area_cmp(const void *a, const void *b)
{
    const VFIOArea *x = a, *y = b;

    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

GArray *vfio_bar_mmap_areas(const VFIOArea *areas, unsigned int n,
                            uint64_t bar_size, const VFIOArea *excl,
                            unsigned int nexcl, uint64_t pgsize)
{
    GArray *out = g_array_new(false, false, sizeof(VFIOArea));
    g_autofree VFIOArea *pages = g_new0(VFIOArea, nexcl + 1);
    uint64_t mask = pgsize - 1;
    unsigned int np = 0;

    g_assert(pgsize && !(pgsize & mask));
    /* The excluded ranges as whole pages [offset, offset + size). */
    for (unsigned int i = 0; i < nexcl; i++) {
        if (excl[i].size && excl[i].offset < bar_size) {
            uint64_t s = excl[i].offset & ~mask;
            uint64_t e = MIN(excl[i].offset + excl[i].size, bar_size);

            pages[np].offset = s;
            pages[np].size = ((e + mask) & ~mask) - s;
            np++;
        }
    }
    qsort(pages, np, sizeof(*pages), vfio_area_cmp);
    for (unsigned int i = 0; i < n; i++) {
        uint64_t s, e, cur;

        if (!areas[i].size || areas[i].offset >= bar_size) {
            continue;
        }
        /* Inward to whole pages, inside the BAR. */
        s = (areas[i].offset + mask) & ~mask;
        e = MIN(areas[i].offset + areas[i].size, bar_size) & ~mask;
        for (cur = s; cur < e;) {
            uint64_t stop = e;
            uint64_t next = e;

            /* The first excluded range that ends after CUR. */
            for (unsigned int k = 0; k < np; k++) {
                if (pages[k].offset + pages[k].size > cur) {
                    stop = MIN(MAX(pages[k].offset, cur), e);
                    next = pages[k].offset + pages[k].size;
                    break;
                }
            }
            if (stop > cur) {
                VFIOArea a = {.offset = cur, .size = stop - cur};

                g_array_append_val(out, a);
            }
            cur = stop == e ? e : next;
        }
    }
    g_array_sort(out, vfio_area_cmp);
    return out;
}
