/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live update of vfio-pci over iommufd: the device cdev fd and the
 * iommufd fd are preserved, the device's ids (dev_id, IOAS, HWPT) travel
 * in a CPR vmstate section, and the new process binds, allocates,
 * attaches and maps nothing. Its IOAS listener replays without mapping,
 * and IOMMU_IOAS_CHANGE_PROCESS moves the pinned pages' accounting to it
 * at the commit, once the old process can no longer take the guest back
 * (backends/iommufd.c). No vaddr is involved when every
 * mapping is by file (MAP_FILE), so mediated devices are fine here; a
 * mapping by vaddr cannot move, which refuses the update up front.
 */
#include "util/osdep.h"

#include "migration/cpr.h"
#include "migration/vmstate.h"
#include "system/iommufd.h"
#include "trace.h"
#include "vfio-internal.h"

static const VMStateDescription vmstate_vfio_iommufd_cpr = {
    .name = "vfio-pci-iommufd",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT32(devid, VFIOPCIDevice),
            VMSTATE_UINT32(cpr_ioas_id, VFIOPCIDevice),
            VMSTATE_UINT32(hwpt_id, VFIOPCIDevice),
            VMSTATE_BOOL(own_hwpt, VFIOPCIDevice),
            VMSTATE_END_OF_LIST(),
        },
};

int vfio_iommufd_cpr_adopt(VFIOPCIDevice *vdev, GError **errp)
{
    Object *obj = OBJECT(vdev);
    bool found;
    int fd;

    fd = cpr_is_incoming() ? cpr_take_fd(obj, "vfio-device", 0) : -1;
    if (fd < 0) {
        return 0;
    }
    /* As the legacy path: the old process's until TAKEOVER (cpr.c). */
    vdev->fd = fd;
    vdev->cpr_reused = true;
    vdev->quiet = true;
    vdev->handed_over = true;
    if (!cpr_vmstate_load(obj, &vmstate_vfio_iommufd_cpr, vdev, &found, errp)) {
        return -1;
    }
    if (!found || !vdev->devid || !vdev->cpr_ioas_id || !vdev->hwpt_id) {
        error_setg(errp, "the device cdev was handed over without its "
                         "iommufd ids");
        return -1;
    }
    vdev->ioas = vfio_ioas_adopt(vdev, vdev->cpr_ioas_id, errp);
    if (!vdev->ioas) {
        return -1;
    }
    vdev->dma = &vdev->ioas->base;
    if (!vdev->own_hwpt && !vdev->ioas->hwpt_id) {
        /* The IOAS's shared HWPT, for devices added later. */
        vdev->ioas->hwpt_id = vdev->hwpt_id;
    }
    trace_vfio_iommufd_cpr_adopt(vdev->name, vdev->devid, vdev->cpr_ioas_id,
                                 vdev->hwpt_id);
    vfio_iommufd_cpr_save(vdev);
    return 1;
}

void vfio_iommufd_cpr_save(VFIOPCIDevice *vdev)
{
    vdev->cpr_ioas_id = vdev->ioas->ioas_id;
    cpr_vmstate_register(OBJECT(vdev), &vmstate_vfio_iommufd_cpr, vdev);
}

void vfio_iommufd_cpr_forget(VFIOPCIDevice *vdev)
{
    cpr_vmstate_unregister(OBJECT(vdev), &vmstate_vfio_iommufd_cpr);
}

static bool vfio_ioas_cpr_notify(CprEvent event, void *opaque, GError **errp)
{
    VFIOIOASContainer *c = opaque;

    switch (event) {
    case CPR_EVENT_HANDOVER:
        /* No vaddr to abandon: the mappings are by file, or refused. */
        c->base.handed_over = true;
        break;
    case CPR_EVENT_ROLLBACK:
    case CPR_EVENT_TAKEOVER:
        c->base.handed_over = false;
        break;
    default:
        break;
    }
    return true;
}

void vfio_ioas_cpr_register(VFIOIOASContainer *c)
{
    cpr_add_notifier(vfio_ioas_cpr_notify, c, CPR_PHASE_DEVICE);
}

void vfio_ioas_cpr_unregister(VFIOIOASContainer *c)
{
    cpr_remove_notifier(vfio_ioas_cpr_notify, c);
}

/*
 * What the old process mapped, recorded; no ioctl. The pinned pages'
 * accounting moves here only at the commit (backends/iommufd.c).
 */
bool vfio_iommufd_remap(VFIOPCIDevice *vdev, GError **errp)
{
    VFIOIOASContainer *c = vdev->ioas;
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

bool vfio_iommufd_cpr_check(VFIOPCIDevice *vdev, unsigned int mode,
                            GError **errp)
{
    const VFIODmaMap *m =
        vdev->ioas ? vfio_iommu_find_vaddr_map(&vdev->ioas->base) : NULL;

    if (m) {
        error_setg(errp,
                   "vfio %s: RAM '%s' is mapped by virtual address "
                   "(IOMMU_IOAS_MAP) in iommufd '%s', which %s cannot "
                   "move to the new process; back guest RAM with "
                   "memory-backend-memfd or memory-backend-file "
                   "(share=on)",
                   vdev->name, memory_region_name(m->mr),
                   object_get_id(vdev->iommufd), migrate_mode_name(mode));
        return false;
    }
    return true;
}
