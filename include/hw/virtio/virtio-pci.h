/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-pci, the modern (virtio 1.x) PCI transport: an abstract PCI
 * function ("virtio-pci") that a concrete device type (virtio-blk-pci,
 * later virtio-net-pci) subclasses by embedding this proxy and its
 * VirtIODevice and filling VirtIOPCIClass. QEMU's layout and properties:
 * vendor capabilities (common, ISR, device, notify, PCI cfg access) in
 * BAR 4 (64-bit prefetchable), MSI-X in BAR 1, device id 0x1040 + the
 * virtio id, revision 1. Legacy virtio is not implemented:
 * disable-legacy=off and disable-modern=on are refused by name.
 */
#ifndef BATON_HW_VIRTIO_VIRTIO_PCI_H
#define BATON_HW_VIRTIO_VIRTIO_PCI_H

#include "hw/pci/pci.h"
#include "hw/virtio/virtio.h"

#define TYPE_VIRTIO_PCI "virtio-pci" /* abstract */

/* The "vectors" default: the device type's (queues + 1). */
#define VIRTIO_PCI_VECTORS_DEFAULT 0xffffffffu

/* Per queue: its notifiers (eventfds) and their wiring. */
typedef struct VirtIOPCIQueue {
    int host_fd;       /* ioeventfd the guest's kick signals, -1: none */
    guint host_watch;  /* reading host_fd in the main loop */
    bool host_handled; /* baton serves the kicks (not a vhost kernel) */
    int guest_fd;      /* eventfd that interrupts the guest */
    guint guest_watch; /* reading guest_fd while no irqfd takes it */
    bool irqfd;        /* guest_fd attached to its vector's MSI route */
} VirtIOPCIQueue;

typedef struct VirtIOPCIProxy {
    PCIDevice parent_obj;

    /* properties */
    char *disable_legacy; /* "on", "off", "auto" (QEMU's OnOffAuto) */
    bool disable_modern;
    uint32_t nvectors;    /* "vectors": MSI-X table size, 0: INTx only */
    bool ioeventfd;

    /* migrated */
    uint32_t dfselect, gfselect;
    uint16_t queue_sel;

    /* runtime */
    VirtIODevice *vdev;
    MemoryRegion modern_bar, common, isr, device, notify;
    VirtIOPCIQueue q[VIRTIO_QUEUE_MAX];
    int *virq;   /* per MSI-X vector: its KVM MSI route, or -1 */
    bool running; /* the vCPUs run, so irqfds are attached */
    uint8_t cfg_cap; /* offset of the PCI cfg access capability */
} VirtIOPCIProxy;

typedef struct VirtIOPCIClass {
    PCIDeviceClass parent_class;

    /*
     * The concrete type: realize its VirtIODevice (virtio_init(), queues)
     * and return it, or NULL + errp; undo that.
     */
    VirtIODevice *(*realize_vdev)(VirtIOPCIProxy *proxy, GError **errp);
    void (*unrealize_vdev)(VirtIOPCIProxy *proxy);
} VirtIOPCIClass;

#define VIRTIO_PCI(obj) OBJECT_CHECK(VirtIOPCIProxy, (obj), TYPE_VIRTIO_PCI)
#define VIRTIO_PCI_CLASS(oc) \
    OBJECT_CLASS_CHECK(VirtIOPCIClass, (oc), TYPE_VIRTIO_PCI)
#define VIRTIO_PCI_GET_CLASS(obj) \
    OBJECT_GET_CLASS(VirtIOPCIClass, (obj), TYPE_VIRTIO_PCI)

/*
 * The proxy's migrated state (config space, MSI-X, the selectors), for
 * a VirtIOPCIProxy embedded as FIELD of STATE. A concrete type's section
 * is this, then VMSTATE_VIRTIO_DEVICE, then its own fields; its
 * post_load ends with virtio_pci_post_load() (re-wires routes and
 * irqfds from the loaded vectors).
 */
extern const VMStateDescription vmstate_virtio_pci;
#define VMSTATE_VIRTIO_PCI(field, state) \
    VMSTATE_STRUCT(field, state, vmstate_virtio_pci, VirtIOPCIProxy)
bool virtio_pci_post_load(VirtIOPCIProxy *proxy, GError **errp);

#endif
