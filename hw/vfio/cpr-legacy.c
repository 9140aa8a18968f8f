/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live update of a legacy container (type1v2): the mappings stay, pinned
 * by the container fd both processes hold, and only the vaddr behind
 * them moves. The old process abandons its vaddrs at hand-over
 * (VFIO_DMA_UNMAP_FLAG_VADDR, all mappings), the new one registers its
 * own (VFIO_DMA_MAP_FLAG_VADDR) as its listener replays, after it loaded
 * the device state (so after the old process's hand-over). If the update
 * fails, the old process restores its vaddrs and goes on. The DMA never
 * stops: the kernel translates IOVAs through the pinned pages throughout.
 */
#include "util/osdep.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "migration/cpr.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

bool vfio_same_file(int fd1, int fd2)
{
    pid_t pid = getpid();

    return syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd1, fd2) == 0;
}

/* Abandon every vaddr: from now on only the new process may give one. */
static bool vfio_container_abandon_vaddr(VFIOContainer *c, GError **errp)
{
    struct vfio_iommu_type1_dma_unmap unmap = {
        .argsz = sizeof(unmap),
        .flags = VFIO_DMA_UNMAP_FLAG_VADDR | VFIO_DMA_UNMAP_FLAG_ALL,
    };
    int ret;

    if (!c->base.mappings->len) {
        return true;
    }
    /*
     * Before the call: should it fail part-way (a kernel that does not
     * unwind), rollback re-registers every vaddr; those still valid are
     * invalidated first (restore's EINVAL path), so none stays without.
     */
    c->vaddr_abandoned = true;
    ret = VFIO_IOCTL(c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
    trace_vfio_cpr_vaddr(c->fd, "abandon", c->base.mappings->len, ret);
    if (ret < 0) {
        error_setg(errp, "vfio: invalidating the container's vaddrs "
                         "(VFIO_DMA_UNMAP_FLAG_VADDR) failed: %s",
                   g_strerror(-ret));
        return false;
    }
    return true;
}

/*
 * Rollback: this process's vaddrs again. A mapping the new process had
 * re-registered already (it died after its load) is invalidated first,
 * which the kernel requires before MAP_FLAG_VADDR.
 */
static void vfio_container_restore_vaddr(VFIOContainer *c)
{
    unsigned int bad = 0;

    for (unsigned int i = 0; i < c->base.mappings->len; i++) {
        VFIODmaMap *m = &g_array_index(c->base.mappings, VFIODmaMap, i);
        struct vfio_iommu_type1_dma_map map = {
            .argsz = sizeof(map),
            .flags = VFIO_DMA_MAP_FLAG_VADDR,
            .vaddr = m->vaddr,
            .iova = m->iova,
            .size = m->size,
        };
        int ret = VFIO_IOCTL(c->fd, VFIO_IOMMU_MAP_DMA, &map);

        if (ret == -EINVAL) {
            struct vfio_iommu_type1_dma_unmap unmap = {
                .argsz = sizeof(unmap),
                .flags = VFIO_DMA_UNMAP_FLAG_VADDR,
                .iova = m->iova,
                .size = m->size,
            };

            VFIO_IOCTL(c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
            ret = VFIO_IOCTL(c->fd, VFIO_IOMMU_MAP_DMA, &map);
        }
        if (ret < 0) {
            error_report("vfio: restoring the vaddr of IOVA 0x%" PRIx64
                         " size 0x%" PRIx64 " failed: %s",
                         m->iova, m->size, g_strerror(-ret));
            bad++;
        }
    }
    trace_vfio_cpr_vaddr(c->fd, "restore", c->base.mappings->len, -(int)bad);
    c->vaddr_abandoned = false;
}

static bool vfio_container_cpr_notify(CprEvent event, void *opaque,
                                      GError **errp)
{
    VFIOContainer *c = opaque;

    switch (event) {
    case CPR_EVENT_HANDOVER:
        if (!vfio_container_abandon_vaddr(c, errp)) {
            return false;
        }
        c->base.handed_over = true;
        return true;
    case CPR_EVENT_ROLLBACK:
        if (c->vaddr_abandoned) {
            vfio_container_restore_vaddr(c);
        }
        c->base.handed_over = false;
        return true;
    case CPR_EVENT_TAKEOVER:
        c->base.handed_over = false; /* this process owns it from now on */
        return true;
    default:
        return true;
    }
}

void vfio_container_cpr_register(VFIOContainer *c)
{
    cpr_add_notifier(vfio_container_cpr_notify, c, CPR_PHASE_DEVICE);
}

void vfio_container_cpr_unregister(VFIOContainer *c)
{
    cpr_remove_notifier(vfio_container_cpr_notify, c);
}

bool vfio_container_remap(VFIOContainer *c, GError **errp)
{
    bool ok;

    if (!c->remap_pending) {
        return true;
    }
    c->base.remapping = true;
    ok = vfio_iommu_listen(&c->base, errp);
    c->base.remapping = false;
    c->remap_pending = false;
    return ok;
}
