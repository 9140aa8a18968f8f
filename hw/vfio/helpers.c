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
