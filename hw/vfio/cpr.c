/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-pci's side of live update (cpr-transfer, cpr-exec): the device
 * fd and interrupt eventfds owned through the CPR registry, the device
 * state (config, MSI/MSI-X, the host's interrupt mode), and the
 * hand-over: the old process stops reading the eventfds and never
 * touches the device again; the new one skips every call that would
 * configure or reset it (GET_DEVICE_FD, SET_IRQS, DEVICE_RESET) and
 * rebuilds its view from the inherited fds and the loaded state. The
 * container's vaddr hand-over is cpr-legacy.c's.
 */
#include "util/osdep.h"

#include <errno.h>
#include <unistd.h>

#include "hw/pci/pci.h"

#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

bool vfio_cpr_device_fd(VFIOPCIDevice *vdev, GError **errp)
{
    Object *obj = OBJECT(vdev);
    int ret;

    ret = cpr_is_incoming() ? cpr_take_fd(obj, "vfio-device", 0) : -1;
    if (ret >= 0) {
        /* Open and configured by the old process: used as it is. */
        vdev->fd = ret;
        vdev->cpr_reused = true;
        /*
         * Until TAKEOVER the old process owns the device: if this process
         * fails and exits, its teardown must not touch it (no SET_IRQS, no
         * reset), so that the old one can carry on.
         */
        vdev->quiet = true;
        vdev->handed_over = true;
        trace_vfio_cpr_device(vdev->name, "inherited");
        return true;
    }
    ret = VFIO_IOCTL(vdev->group->fd, VFIO_GROUP_GET_DEVICE_FD, vdev->name);
    if (ret < 0) {
        error_setg(errp, "error getting device from group %d: %s",
                   vdev->group->groupid, g_strerror(-ret));
        return false;
    }
    vdev->fd = ret;
    cpr_own_fd(obj, "vfio-device", 0, vdev->fd);
    return true;
}

static bool vfio_cpr_notify(CprEvent event, void *opaque, GError **errp)
{
    VFIOPCIDevice *vdev = opaque;

    switch (event) {
    case CPR_EVENT_HANDOVER:
        /* The new process reads the eventfds from now on. */
        vfio_irqs_quiesce(vdev, true);
        vdev->handed_over = true;
        trace_vfio_cpr_device(vdev->name, "handed over");
        break;
    case CPR_EVENT_ROLLBACK:
        vdev->handed_over = false;
        vfio_irqs_quiesce(vdev, false);
        trace_vfio_cpr_device(vdev->name, "rolled back");
        break;
    case CPR_EVENT_TAKEOVER:
        vdev->handed_over = false;
        vfio_irqs_quiesce(vdev, false);
        trace_vfio_cpr_device(vdev->name, "taken over");
        break;
    default:
        break;
    }
    return true;
}

void vfio_cpr_register(VFIOPCIDevice *vdev)
{
    cpr_add_notifier(vfio_cpr_notify, vdev, CPR_PHASE_DEVICE);
}

void vfio_cpr_unregister(VFIOPCIDevice *vdev)
{
    cpr_remove_notifier(vfio_cpr_notify, vdev);
}

/*
 * A vector enabled (or INTx set up) after the CPR state went out: the
 * new process takes the final fds when it loads the device state, after
 * this, so nothing was taken yet.
 */
static bool vfio_cpr_late(Object *obj, const char *role, int index, int old_fd,
                          int fd, GError **errp)
{
    if (old_fd >= 0) {
        close(old_fd);
    }
    return true;
}

void vfio_cpr_init(const char *type)
{
    cpr_add_late_handler(type, vfio_cpr_late);
}

bool vfio_pci_cpr_check(Object *obj, unsigned int mode, GError **errp)
{
    VFIOPCIDevice *vdev = (VFIOPCIDevice *)obj;
    VFIOContainer *c = vdev->group ? vdev->group->container : NULL;

    if (vdev->iommufd) {
        return vfio_iommufd_cpr_check(vdev, mode, errp);
    }
    if (vdev->mdev) {
        error_setg(errp, "vfio %s: a mediated device needs a valid vaddr at "
                         "all times; %s is not possible on the legacy VFIO "
                         "container",
                   vdev->name, migrate_mode_name(mode));
        return false;
    }
    /*
     * Asked now, not when the container was made: the kernel answers 0
     * for VFIO_UPDATE_VADDR once a mediated device is in the container.
     */
    if (c && (VFIO_IOCTL(c->fd, VFIO_CHECK_EXTENSION,
                         (void *)(uintptr_t)VFIO_UPDATE_VADDR) <= 0 ||
              VFIO_IOCTL(c->fd, VFIO_CHECK_EXTENSION,
                         (void *)(uintptr_t)VFIO_UNMAP_ALL) <= 0)) {
        error_setg(errp, "vfio %s: its VFIO container does not support "
                         "VFIO_UPDATE_VADDR and VFIO_UNMAP_ALL (a mediated "
                         "device needs a valid vaddr at all times), which "
                         "%s needs on the legacy container",
                   vdev->name, migrate_mode_name(mode));
        return false;
    }
    return true;
}

/*
 * New process: once every inherited device's state is loaded (so every
 * BAR is where the guest put it), each container or IOAS replays its
 * listener, re-registering RAM and the peers' mmap'ed BARs (legacy) or
 * recording them (iommufd). Done at the last device's post_load: a
 * replay at an earlier one would see a later device's BARs where the
 * machine's reset placed them, not where the stream puts them.
 */
static bool vfio_cpr_remap_all(GError **errp)
{
    const GPtrArray *devs = vfio_pci_list();

    for (unsigned int i = 0; i < devs->len; i++) {
        VFIOPCIDevice *vdev = g_ptr_array_index(devs, i);

        if (vdev->cpr_reused && !vdev->cpr_loaded) {
            return true; /* its own post_load will */
        }
    }
    for (unsigned int i = 0; i < devs->len; i++) {
        VFIOPCIDevice *vdev = g_ptr_array_index(devs, i);

        if (!vdev->cpr_reused) {
            continue;
        }
        if (vdev->ioas ? !vfio_iommufd_remap(vdev, errp)
                       : !vfio_container_remap(vdev->group->container, errp)) {
            g_prefix_error(errp, "vfio %s: ", vdev->name);
            return false;
        }
    }
    return true;
}

static bool vfio_pci_pre_save(void *opaque, GError **errp)
{
    VFIOPCIDevice *vdev = opaque;

    vdev->mig_irq_mode = vdev->irq_mode;
    vdev->mig_nr_vectors = vdev->nr_vectors;
    return true;
}

/*
 * Normal migration: a host device of the same kind whose own state came
 * in its live section (migration.c, loaded first and now in STOP). The
 * core restored the emulated config (BARs, MSI, MSI-X); the device gets
 * the command register the guest set, and the host's interrupts follow
 * the loaded capabilities as after a guest's config write.
 */
static bool vfio_pci_load_migrated(VFIOPCIDevice *vdev, GError **errp)
{
    PCIDevice *d = &vdev->parent_obj;
    uint16_t cmd = GUINT16_TO_LE(pci_get_word(d->config + PCI_COMMAND));

    if (!vdev->migration) {
        error_setg(errp,
                   "vfio %s: device state can only be loaded by a "
                   "live update or by a migration of a device that "
                   "supports it",
                   vdev->name);
        return false;
    }
    if (pwrite(vdev->fd, &cmd, sizeof(cmd),
               (off_t)(vdev->config_offset + PCI_COMMAND)) != sizeof(cmd)) {
        error_setg_errno(errp, errno,
                         "vfio %s: failed to restore the "
                         "command register",
                         vdev->name);
        return false;
    }
    vfio_irqs_update(vdev, 0, PCI_CONFIG_SPACE_SIZE);
    return true;
}

/*
 * A live update: the host device is the same one, set up as the stream
 * says. The container re-registers its vaddrs first (the old process
 * abandoned its own before it saved this), then the interrupts are
 * adopted.
 */
static bool vfio_pci_post_load(void *opaque, int version_id, GError **errp)
{
    VFIOPCIDevice *vdev = opaque;
    PCIDevice *d = &vdev->parent_obj;
    uint32_t mode = vdev->mig_irq_mode, n = vdev->mig_nr_vectors;

    if (mode > VFIO_IRQ_MSIX ||
        (mode == VFIO_IRQ_MSIX && (!d->msix_cap || n != vdev->msix_entries)) ||
        (mode == VFIO_IRQ_MSI && (!d->msi_cap || !n || n > 32)) ||
        (mode == VFIO_IRQ_INTX && !vdev->intx_available) ||
        (mode < VFIO_IRQ_MSI && n)) {
        error_setg(errp, "vfio %s: interrupt mode %u with %u vectors in the "
                         "stream does not fit the device",
                   vdev->name, mode, n);
        return false;
    }
    if (!vdev->cpr_reused) {
        return vfio_pci_load_migrated(vdev, errp);
    }
    vdev->cpr_loaded = true;
    if (!vfio_cpr_remap_all(errp)) {
        return false;
    }
    return vfio_irqs_adopt(vdev, mode, n, errp);
}

const VMStateDescription vmstate_vfio_pci = {
    .name = "vfio-pci",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = vfio_pci_pre_save,
    .post_load = vfio_pci_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, VFIOPCIDevice),
            VMSTATE_UINT32(mig_irq_mode, VFIOPCIDevice),
            VMSTATE_UINT32(mig_nr_vectors, VFIOPCIDevice),
            VMSTATE_BOOL(intx_pending, VFIOPCIDevice),
            VMSTATE_END_OF_LIST(),
        },
};
