/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-pci's interrupts. The host device signals eventfds given to it by
 * VFIO_DEVICE_SET_IRQS; one interrupt type is enabled at a time, as the
 * kernel requires: INTx while the guest has neither MSI nor MSI-X on.
 *
 * - MSI-X and MSI: one eventfd per vector. With KVM routing, an unmasked
 *   vector's eventfd is an irqfd on an MSI route (the kernel delivers it);
 *   a masked vector's, or any under -accel qtest, is read by baton, which
 *   signals the vector through hw/pci (a masked one only sets its pending
 *   bit). The guest's table and capability are baton's (hw/pci/msix.c,
 *   msi.c); the host's vectors are enabled for as long as the guest's.
 * - INTx: the kernel masks the line when it fires (automask). Under KVM
 *   with routing the trigger eventfd is a level irqfd on the GSI the pin
 *   reaches, with the device's unmask eventfd as its resamplefd: KVM
 *   holds the GSI until the guest's EOI, then unmasks, and a device still
 *   asserting fires again, without baton. The GSI follows the guest's
 *   PIRQ routing and INTx disable (hw/pci's routing notifier). Otherwise
 *   (qtest, no route, INTx disabled) baton reads the eventfd and asserts
 *   the pin; the next access to any BAR ends it (QEMU's EOI heuristic
 *   without a resampling irqfd): baton lowers the pin and unmasks.
 */
#include "util/osdep.h"

#include <errno.h>
#include <glib-unix.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "migration/cpr.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

int vfio_set_irqs(VFIOPCIDevice *vdev, uint32_t index, uint32_t start,
                  uint32_t count, uint32_t flags, const int *fds)
{
    size_t data =
        (flags & VFIO_IRQ_SET_DATA_EVENTFD) ? count * sizeof(int32_t) : 0;
    g_autofree struct vfio_irq_set *set = NULL;
    int ret;

    if (vdev->handed_over) {
        return 0; /* the new process's device now: leave it as it is */
    }
    set = g_malloc0(sizeof(*set) + data);
    set->argsz = (uint32_t)(sizeof(*set) + data);
    set->flags = flags;
    set->index = index;
    set->start = start;
    set->count = count;
    for (uint32_t i = 0; data && i < count; i++) {
        int32_t fd = fds[i];

        memcpy(set->data + i * sizeof(fd), &fd, sizeof(fd));
    }
    ret = VFIO_IOCTL(vdev->fd, VFIO_DEVICE_SET_IRQS, set);
    trace_vfio_irq_set(vdev->name, index, start, count, flags, ret);
    return ret;
}

static uint32_t vfio_irq_count(VFIOPCIDevice *vdev, uint32_t index)
{
    struct vfio_irq_info info = {.argsz = sizeof(info), .index = index};

    if (index >= vdev->num_irqs ||
        VFIO_IOCTL(vdev->fd, VFIO_DEVICE_GET_IRQ_INFO, &info) < 0) {
        return 0;
    }
    return info.count;
}

static void vfio_eventfd_drain(int fd)
{
    uint64_t v;

    /* Non-blocking: nothing to read only after a spurious wake-up. */
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
        error_report("vfio: reading an interrupt eventfd failed: %s",
                     g_strerror(errno));
    }
}

/* ---- INTx ---- */

static gboolean vfio_intx_ready(int fd, GIOCondition cond, gpointer opaque)
{
    VFIOPCIDevice *vdev = opaque;
    PCIDevice *d = &vdev->parent_obj;

    vfio_eventfd_drain(fd);
    trace_vfio_intx_interrupt(vdev->name, d->config[PCI_INTERRUPT_PIN]);
    vdev->intx_pending = true;
    pci_set_irq(d, 1);
    return G_SOURCE_CONTINUE;
}

static void vfio_intx_unmask(VFIOPCIDevice *vdev)
{
    vfio_set_irqs(vdev, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                  VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, NULL);
}

static void vfio_intx_watch(VFIOPCIDevice *vdev, bool on)
{
    if (!on && vdev->intx_watch) {
        g_source_remove(vdev->intx_watch);
        vdev->intx_watch = 0;
    } else if (on && !vdev->intx_watch) {
        vdev->intx_watch =
            g_unix_fd_add(vdev->intx_fd, G_IO_IN, vfio_intx_ready, vdev);
    }
}

/*
 * INTx to the GSI its pin reaches now, as a level irqfd, or back to
 * baton when it reaches none (or there is no resamplefd). Called when
 * INTx comes on, is adopted, or the routing may have changed.
 */
static void vfio_intx_route(VFIOPCIDevice *vdev)
{
    PCIDevice *d = &vdev->parent_obj;
    int gsi = vdev->intx_unmask_fd >= 0 ? pci_device_intx_gsi(d) : -1;
    GError *local_err = NULL;

    if (gsi == vdev->intx_gsi) {
        return;
    }
    trace_vfio_intx_route(vdev->name, vdev->intx_gsi, gsi);
    if (vdev->intx_gsi >= 0) {
        /*
         * KVM lets the GSI go with the irqfd: a level it held waits for
         * a resample that will not come, so unmask; a device still
         * asserting signals again, to baton's watch or the new irqfd.
         */
        irqchip_remove_irqfd(vdev->intx_fd, vdev->intx_gsi);
        vdev->intx_gsi = -1;
        vfio_intx_watch(vdev, !vdev->quiet);
        vfio_intx_unmask(vdev);
    }
    if (gsi < 0) {
        return;
    }
    vfio_intx_watch(vdev, false);
    if (vdev->intx_pending) {
        /* What baton asserted ends here; the unmask below re-fires it. */
        vdev->intx_pending = false;
        pci_set_irq(d, 0);
    }
    if (irqchip_add_irqfd(vdev->intx_fd, vdev->intx_unmask_fd, gsi,
                          &local_err)) {
        vdev->intx_gsi = gsi;
    } else {
        warn_report("vfio %s: INTx stays in userspace: %s", vdev->name,
                    local_err->message);
        g_error_free(local_err);
        vfio_intx_watch(vdev, !vdev->quiet);
    }
    /*
     * A signal baton read and never ended left the line masked; an unmask
     * brings it back through the irqfd or the watch (the KVM layer writes
     * the resamplefd itself when it attaches held irqfds after a pause).
     */
    vfio_intx_unmask(vdev);
}

static void vfio_intx_routing_changed(PCIDevice *d)
{
    VFIOPCIDevice *vdev = (VFIOPCIDevice *)d;

    if (vdev->irq_mode == VFIO_IRQ_INTX) {
        vfio_intx_route(vdev);
    }
}

/*
 * Under KVM routing: the device's unmask eventfd (ACTION_UNMASK with
 * DATA_EVENTFD), the resamplefd of INTx's irqfd. Without it (refused)
 * INTx stays with baton, which is reported.
 */
static void vfio_intx_unmask_fd_setup(VFIOPCIDevice *vdev)
{
    int fd, ret;

    if (!irqchip_msi_via_routes()) {
        return;
    }
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        warn_report("vfio %s: no INTx unmask eventfd (%s); INTx stays in "
                    "userspace",
                    vdev->name, g_strerror(errno));
        return;
    }
    ret = vfio_set_irqs(vdev, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
                        &fd);
    if (ret < 0) {
        warn_report("vfio %s: the device refuses an INTx unmask eventfd "
                    "(%s); INTx stays in userspace",
                    vdev->name, g_strerror(-ret));
        close(fd);
        return;
    }
    vdev->intx_unmask_fd = fd;
    cpr_own_fd(OBJECT(vdev), "vfio-intx", 1, fd);
}

bool vfio_intx_enable(VFIOPCIDevice *vdev, GError **errp)
{
    int ret;

    if (!vdev->intx_available || vdev->irq_mode != VFIO_IRQ_NONE) {
        return true;
    }
    vdev->intx_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (vdev->intx_fd < 0) {
        error_setg_errno(errp, errno, "failed to create the INTx eventfd");
        return false;
    }
    ret = vfio_set_irqs(vdev, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
                        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                        &vdev->intx_fd);
    if (ret < 0) {
        error_setg(errp, "failed to setup INTx fd: %s", g_strerror(-ret));
        close(vdev->intx_fd);
        vdev->intx_fd = -1;
        return false;
    }
    cpr_own_fd(OBJECT(vdev), "vfio-intx", 0, vdev->intx_fd);
    vfio_intx_unmask_fd_setup(vdev);
    vdev->irq_mode = VFIO_IRQ_INTX;
    vfio_intx_watch(vdev, !vdev->quiet);
    vfio_intx_route(vdev);
    return true;
}

static void vfio_intx_disable(VFIOPCIDevice *vdev)
{
    if (vdev->irq_mode != VFIO_IRQ_INTX) {
        return;
    }
    /* Off in the kernel: the unmask eventfd goes with the trigger. */
    vfio_set_irqs(vdev, VFIO_PCI_INTX_IRQ_INDEX, 0, 0,
                  VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, NULL);
    if (vdev->intx_gsi >= 0) {
        irqchip_remove_irqfd(vdev->intx_fd, vdev->intx_gsi);
        vdev->intx_gsi = -1;
    }
    vfio_intx_watch(vdev, false);
    if (vdev->intx_unmask_fd >= 0) {
        cpr_disown_fd(OBJECT(vdev), "vfio-intx", 1, vdev->intx_unmask_fd);
        close(vdev->intx_unmask_fd);
        vdev->intx_unmask_fd = -1;
    }
    cpr_disown_fd(OBJECT(vdev), "vfio-intx", 0, vdev->intx_fd);
    close(vdev->intx_fd);
    vdev->intx_fd = -1;
    vdev->intx_pending = false;
    pci_set_irq(&vdev->parent_obj, 0);
    vdev->irq_mode = VFIO_IRQ_NONE;
}

/* INTx back after MSI/MSI-X went off; a failure is reported here. */
static void vfio_intx_restore(VFIOPCIDevice *vdev)
{
    GError *local_err = NULL;

    if (!vfio_intx_enable(vdev, &local_err)) {
        error_report("vfio %s: %s", vdev->name, local_err->message);
        g_error_free(local_err);
    }
}

void vfio_intx_eoi(VFIOPCIDevice *vdev)
{
    if (!vdev->intx_pending) {
        return;
    }
    trace_vfio_intx_eoi(vdev->name);
    vdev->intx_pending = false;
    pci_set_irq(&vdev->parent_obj, 0);
    vfio_intx_unmask(vdev);
}

/* ---- MSI and MSI-X vectors ---- */

static gboolean vfio_vector_ready(int fd, GIOCondition cond, gpointer opaque)
{
    VFIOVector *v = opaque;
    VFIOPCIDevice *vdev = v->vdev;

    vfio_eventfd_drain(fd);
    if (vdev->irq_mode == VFIO_IRQ_MSIX) {
        trace_vfio_msix_interrupt(vdev->name, v->nr);
        msix_notify(&vdev->parent_obj, v->nr);
    } else {
        trace_vfio_msi_interrupt(vdev->name, v->nr);
        msi_notify(&vdev->parent_obj, v->nr);
    }
    return G_SOURCE_CONTINUE;
}

/* V goes to the kernel on an MSI route for MSG (when there is routing). */
static void vfio_vector_route(VFIOVector *v, MSIMessage msg)
{
    GError *local_err = NULL;

    if (!irqchip_msi_via_routes()) {
        return; /* baton reads the eventfd (its watch stays) */
    }
    if (v->virq < 0) {
        v->virq = irqchip_add_msi_route(msg, &local_err);
    } else if (!irqchip_update_msi_route(v->virq, msg, &local_err)) {
        if (v->irqfd) {
            irqchip_remove_irqfd(v->fd, v->virq);
            v->irqfd = false;
        }
        irqchip_release_virq(v->virq);
        v->virq = -1;
    }
    if (v->virq < 0) {
        goto fail;
    }
    irqchip_commit_routes();
    if (v->irqfd) {
        return;
    }
    /* A signal between the two calls is seen by KVM when it attaches. */
    if (v->watch) {
        g_source_remove(v->watch);
        v->watch = 0;
    }
    if (!irqchip_add_irqfd(v->fd, -1, v->virq, &local_err)) {
        if (!v->vdev->quiet) {
            v->watch = g_unix_fd_add(v->fd, G_IO_IN, vfio_vector_ready, v);
        }
        goto fail;
    }
    v->irqfd = true;
    return;

fail:
    /* The vector still works, through baton. */
    if (!v->irqfd && !v->watch && !v->vdev->quiet) {
        v->watch = g_unix_fd_add(v->fd, G_IO_IN, vfio_vector_ready, v);
    }
    warn_report("vfio %s: vector %u stays in userspace: %s", v->vdev->name,
                v->nr, local_err->message);
    g_error_free(local_err);
}

/* V comes back to baton (masked: its signals become pending bits). */
static void vfio_vector_unroute(VFIOVector *v)
{
    if (!v->irqfd) {
        return;
    }
    irqchip_remove_irqfd(v->fd, v->virq);
    v->irqfd = false;
    if (!v->vdev->quiet) {
        v->watch = g_unix_fd_add(v->fd, G_IO_IN, vfio_vector_ready, v);
    }
}

static void vfio_vectors_free(VFIOPCIDevice *vdev)
{
    bool routes = false;

    for (unsigned int i = 0; i < vdev->nr_vectors; i++) {
        VFIOVector *v = &vdev->vectors[i];

        if (v->irqfd) {
            irqchip_remove_irqfd(v->fd, v->virq);
        }
        if (v->virq >= 0) {
            irqchip_release_virq(v->virq);
            routes = true;
        }
        if (v->watch) {
            g_source_remove(v->watch);
        }
        if (v->fd >= 0) {
            cpr_disown_fd(OBJECT(vdev), "vfio-vector", (int)i, v->fd);
            close(v->fd);
        }
    }
    if (routes) {
        irqchip_commit_routes();
    }
    g_clear_pointer(&vdev->vectors, g_free);
    vdev->nr_vectors = 0;
}

static void vfio_vectors_disable(VFIOPCIDevice *vdev);

/*
 * The host's MSI or MSI-X (MODE) with N vectors, each on an eventfd
 * baton reads until vfio_vector_route() hands it to the kernel. INTx
 * goes off first. False (reported) if the kernel refuses.
 */
static bool vfio_vectors_enable(VFIOPCIDevice *vdev, VFIOIrqMode mode,
                                unsigned int n)
{
    uint32_t index = mode == VFIO_IRQ_MSIX ? VFIO_PCI_MSIX_IRQ_INDEX
                                           : VFIO_PCI_MSI_IRQ_INDEX;
    g_autofree int *fds = g_new(int, n);
    int ret;

    if (vdev->irq_mode == VFIO_IRQ_MSI || vdev->irq_mode == VFIO_IRQ_MSIX) {
        vfio_vectors_disable(vdev); /* the other kind, which the guest left on */
    }
    vfio_intx_disable(vdev);
    vdev->vectors = g_new0(VFIOVector, n);
    vdev->nr_vectors = n;
    for (unsigned int i = 0; i < n; i++) {
        VFIOVector *v = &vdev->vectors[i];

        v->vdev = vdev;
        v->nr = i;
        v->virq = -1;
        v->fd = fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (v->fd < 0) {
            error_report("vfio %s: failed to create a vector eventfd: %s",
                         vdev->name, g_strerror(errno));
            goto fail;
        }
        cpr_own_fd(OBJECT(vdev), "vfio-vector", (int)i, v->fd);
        if (!vdev->quiet) {
            v->watch = g_unix_fd_add(v->fd, G_IO_IN, vfio_vector_ready, v);
        }
    }
    ret = vfio_set_irqs(vdev, index, 0, n,
                        VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                        fds);
    if (ret < 0) {
        error_report("vfio %s: failed to enable %s with %u vectors: %s",
                     vdev->name, mode == VFIO_IRQ_MSIX ? "MSI-X" : "MSI", n,
                     g_strerror(-ret));
        goto fail;
    }
    vdev->irq_mode = mode;
    return true;

fail:
    vfio_vectors_free(vdev);
    vfio_intx_restore(vdev);
    return false;
}

static void vfio_vectors_disable(VFIOPCIDevice *vdev)
{
    uint32_t index = vdev->irq_mode == VFIO_IRQ_MSIX ? VFIO_PCI_MSIX_IRQ_INDEX
                                                     : VFIO_PCI_MSI_IRQ_INDEX;

    vfio_set_irqs(vdev, index, 0, 0,
                  VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, NULL);
    vfio_vectors_free(vdev);
    vdev->irq_mode = VFIO_IRQ_NONE;
}

void vfio_irqs_disable(VFIOPCIDevice *vdev)
{
    if (vdev->irq_mode == VFIO_IRQ_MSI || vdev->irq_mode == VFIO_IRQ_MSIX) {
        vfio_vectors_disable(vdev);
    }
    vfio_intx_disable(vdev);
}

/* hw/pci/msix.c: the guest unmasked VECTOR or re-targeted it unmasked. */
static int vfio_msix_vector_use(PCIDevice *d, unsigned int vector,
                                MSIMessage msg)
{
    VFIOPCIDevice *vdev = (VFIOPCIDevice *)d;

    if (vdev->irq_mode != VFIO_IRQ_MSIX &&
        !vfio_vectors_enable(vdev, VFIO_IRQ_MSIX, vdev->msix_entries)) {
        return -1;
    }
    trace_vfio_msix_vector(vdev->name, vector, 1, vdev->vectors[vector].virq);
    vfio_vector_route(&vdev->vectors[vector], msg);
    return 0;
}

static void vfio_msix_vector_release(PCIDevice *d, unsigned int vector)
{
    VFIOPCIDevice *vdev = (VFIOPCIDevice *)d;

    if (vdev->irq_mode != VFIO_IRQ_MSIX) {
        return;
    }
    trace_vfio_msix_vector(vdev->name, vector, 0, vdev->vectors[vector].virq);
    vfio_vector_unroute(&vdev->vectors[vector]);
}

bool vfio_msix_setup(VFIOPCIDevice *vdev, uint8_t pos, GError **errp)
{
    PCIDevice *d = &vdev->parent_obj;
    uint16_t flags = pci_get_word(d->config + pos + PCI_MSIX_FLAGS);
    uint32_t table = pci_get_long(d->config + pos + PCI_MSIX_TABLE);
    uint32_t pba = pci_get_long(d->config + pos + PCI_MSIX_PBA);
    unsigned int tbar = table & PCI_MSIX_FLAGS_BIRMASK;
    unsigned int pbar = pba & PCI_MSIX_FLAGS_BIRMASK;
    unsigned int entries = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;

    if (tbar >= PCI_ROM_SLOT || pbar >= PCI_ROM_SLOT ||
        !vdev->bars[tbar].size || !vdev->bars[pbar].size ||
        (vdev->bars[tbar].type & PCI_BASE_ADDRESS_SPACE_IO) ||
        (vdev->bars[pbar].type & PCI_BASE_ADDRESS_SPACE_IO)) {
        error_setg(errp,
                   "MSI-X table in BAR %u or PBA in BAR %u is not in "
                   "a memory BAR of the device",
                   tbar, pbar);
        return false;
    }
    if (vfio_irq_count(vdev, VFIO_PCI_MSIX_IRQ_INDEX) < entries) {
        error_setg(errp,
                   "MSI-X capability has %u vectors, the device's "
                   "IRQ info fewer",
                   entries);
        return false;
    }
    if (msix_init(d, (unsigned short)entries, &vdev->bars[tbar].mem,
                  (uint8_t)tbar, table & ~PCI_MSIX_FLAGS_BIRMASK,
                  &vdev->bars[pbar].mem, (uint8_t)pbar,
                  pba & ~PCI_MSIX_FLAGS_BIRMASK, pos, errp) < 0) {
        return false;
    }
    memset(vdev->emulated + pos + 2, 0xff, 10);
    vdev->msix_entries = entries;
    /* Every vector is masked now: nothing is used yet. */
    return msix_set_vector_notifiers(d, vfio_msix_vector_use,
                                     vfio_msix_vector_release) == 0;
}

/* MSI: every vector routed (or back to baton) as the capability says. */
static void vfio_msi_route_all(VFIOPCIDevice *vdev)
{
    PCIDevice *d = &vdev->parent_obj;

    for (unsigned int i = 0; i < vdev->nr_vectors; i++) {
        if (msi_is_masked(d, i)) {
            vfio_vector_unroute(&vdev->vectors[i]);
        } else {
            vfio_vector_route(&vdev->vectors[i], msi_get_message(d, i));
        }
    }
}

void vfio_irqs_update(VFIOPCIDevice *vdev, uint32_t addr, int len)
{
    PCIDevice *d = &vdev->parent_obj;

    if (d->msix_cap) {
        bool on = msix_enabled(d);

        if (on && vdev->irq_mode != VFIO_IRQ_MSIX &&
            vfio_vectors_enable(vdev, VFIO_IRQ_MSIX, vdev->msix_entries)) {
            for (unsigned int i = 0; i < vdev->nr_vectors; i++) {
                if (!msix_is_masked(d, i)) {
                    vfio_vector_route(&vdev->vectors[i],
                                      msix_get_message(d, i));
                }
            }
        } else if (!on && vdev->irq_mode == VFIO_IRQ_MSIX) {
            vfio_vectors_disable(vdev);
            vfio_intx_restore(vdev);
        }
    }
    if (d->msi_cap && vdev->irq_mode != VFIO_IRQ_MSIX &&
        addr < d->msi_cap + msi_cap_size(d) && addr + len > d->msi_cap) {
        uint16_t flags = pci_get_word(d->config + d->msi_cap + PCI_MSI_FLAGS);
        bool on = msi_enabled(d);

        if (on && vdev->irq_mode != VFIO_IRQ_MSI) {
            unsigned int n = 1u << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4);

            if (vfio_vectors_enable(vdev, VFIO_IRQ_MSI, n)) {
                vfio_msi_route_all(vdev);
            }
        } else if (on) {
            vfio_msi_route_all(vdev);
        } else if (vdev->irq_mode == VFIO_IRQ_MSI) {
            vfio_vectors_disable(vdev);
            vfio_intx_restore(vdev);
        }
    }
}

void vfio_irqs_quiesce(VFIOPCIDevice *vdev, bool quiet)
{
    vdev->quiet = quiet;
    if (vdev->intx_fd >= 0) {
        /* An irqfd's eventfd is KVM's to read. */
        vfio_intx_watch(vdev, !quiet && vdev->intx_gsi < 0);
    }
    for (unsigned int i = 0; i < vdev->nr_vectors; i++) {
        VFIOVector *v = &vdev->vectors[i];

        if (quiet && v->watch) {
            g_source_remove(v->watch);
            v->watch = 0;
        } else if (!quiet && !v->watch && !v->irqfd) {
            v->watch = g_unix_fd_add(v->fd, G_IO_IN, vfio_vector_ready, v);
        }
    }
}

bool vfio_irqs_adopt(VFIOPCIDevice *vdev, VFIOIrqMode mode, unsigned int n,
                     GError **errp)
{
    PCIDevice *d = &vdev->parent_obj;
    Object *obj = OBJECT(vdev);

    g_assert(vdev->irq_mode == VFIO_IRQ_NONE && vdev->quiet);
    if (mode == VFIO_IRQ_INTX) {
        vdev->intx_fd = cpr_take_fd(obj, "vfio-intx", 0);
        if (vdev->intx_fd < 0) {
            error_setg(errp, "vfio %s: INTx eventfd missing from the CPR "
                             "state",
                       vdev->name);
            return false;
        }
        /* The unmask eventfd: the device keeps it (none under qtest). */
        vdev->intx_unmask_fd = cpr_take_fd(obj, "vfio-intx", 1);
        vdev->irq_mode = mode;
        /* Held (the new VM starts so) until the first resume attaches it. */
        vfio_intx_route(vdev);
        return true;
    }
    if (mode != VFIO_IRQ_MSI && mode != VFIO_IRQ_MSIX) {
        return true;
    }
    vdev->vectors = g_new0(VFIOVector, n);
    vdev->nr_vectors = n;
    for (unsigned int i = 0; i < n; i++) {
        VFIOVector *v = &vdev->vectors[i];

        v->vdev = vdev;
        v->nr = i;
        v->virq = -1;
        v->fd = cpr_take_fd(obj, "vfio-vector", (int)i);
        if (v->fd < 0) {
            error_setg(errp, "vfio %s: vector %u's eventfd missing from the "
                             "CPR state",
                       vdev->name, i);
            return false; /* freed at unrealize */
        }
    }
    vdev->irq_mode = mode;
    /* What the guest left unmasked goes to the kernel, as before. */
    for (unsigned int i = 0; i < n; i++) {
        if (mode == VFIO_IRQ_MSIX && !msix_is_masked(d, i)) {
            vfio_vector_route(&vdev->vectors[i], msix_get_message(d, i));
        } else if (mode == VFIO_IRQ_MSI && !msi_is_masked(d, i)) {
            vfio_vector_route(&vdev->vectors[i], msi_get_message(d, i));
        }
    }
    return true;
}

bool vfio_intx_probe(VFIOPCIDevice *vdev, uint8_t pin)
{
    vdev->intx_available =
        pin && vfio_irq_count(vdev, VFIO_PCI_INTX_IRQ_INDEX) > 0;
    if (vdev->intx_available) {
        pci_device_set_intx_routing_notifier(&vdev->parent_obj,
                                             vfio_intx_routing_changed);
    }
    return vdev->intx_available;
}
