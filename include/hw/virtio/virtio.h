/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio device core (virtio 1.2, OASIS): what every virtio device
 * has whatever its transport — feature negotiation, the status byte,
 * the ISR, the config space and its generation, split virtqueues — and
 * the two hook tables that join a device to a transport:
 *
 *   VirtioDeviceClass   the device type (virtio-blk, virtio-net): ids,
 *                       features, config, queue handlers, reset, drain
 *   VirtioTransportOps  the transport (virtio-pci): interrupts, host and
 *                       guest notifiers (eventfds) for kernel-driven
 *                       queues, the DMA address space
 *
 * A device embeds a VirtIODevice, fills it with virtio_init() and
 * virtio_add_queue(), and its transport (the PCI proxy that embeds both)
 * drives it. Emulated queues are served in the main loop with
 * virtqueue_pop()/virtqueue_push()/virtio_notify(); a vhost backend
 * instead takes each queue's ring addresses (virtio_queue_get_*_addr),
 * its host notifier (the ioeventfd the guest kicks) and guest notifier
 * (the eventfd that interrupts the guest) from the transport and leaves
 * the queue to the kernel. docs/devel/virtio.md is the guide.
 *
 * Malformed guest input (descriptor loops, addresses outside RAM,
 * oversize chains, an index beyond the ring) never ends baton: the
 * device is marked broken (DEVICE_NEEDS_RESET, a config interrupt) and
 * serves nothing until the driver resets it.
 *
 * Big lock held for everything here.
 */
#ifndef BATON_HW_VIRTIO_VIRTIO_H
#define BATON_HW_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "migration/vmstate.h"
#include "system/memory.h"

/* Device status (virtio 1.2 2.1). */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE 0x01
#define VIRTIO_CONFIG_S_DRIVER 0x02
#define VIRTIO_CONFIG_S_DRIVER_OK 0x04
#define VIRTIO_CONFIG_S_FEATURES_OK 0x08
#define VIRTIO_CONFIG_S_NEEDS_RESET 0x40
#define VIRTIO_CONFIG_S_FAILED 0x80

/* Transport- and ring-level feature bits (virtio 1.2 6). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34

/* Device ids (virtio 1.2 5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2

/* "No MSI-X vector" in config_msix_vector / queue_msix_vector. */
#define VIRTIO_NO_VECTOR 0xffff

/* ISR bits (virtio 1.2 4.1.4.5). */
#define VIRTIO_ISR_QUEUE 0x1
#define VIRTIO_ISR_CONFIG 0x2

/* Limits: a queue's size and a device's queues and config. */
#define VIRTQUEUE_MAX_SIZE 1024
#define VIRTIO_QUEUE_MAX 64
#define VIRTIO_CONFIG_MAX 256

typedef struct VirtIODevice VirtIODevice;
typedef struct VirtQueue VirtQueue;

/* A queue's handler: the driver made buffers available (a kick). */
typedef void (*VirtQueueHandler)(VirtIODevice *vdev, VirtQueue *vq);

/* One guest buffer of a chain: guest-physical address and length. */
typedef struct VirtioSg {
    uint64_t addr;
    uint32_t len;
} VirtioSg;

/*
 * A popped descriptor chain: the device-readable (out) buffers first,
 * then the device-writable (in) ones, as the spec requires. Freed with
 * g_free() after virtqueue_push() (or virtqueue_unpop()).
 */
typedef struct VirtQueueElement {
    unsigned int index; /* head descriptor: the id the used ring returns */
    unsigned int out_num, in_num;
    uint64_t out_len, in_len; /* bytes in each direction */
    VirtioSg *out_sg, *in_sg; /* point into sg[] */
    VirtioSg sg[];
} VirtQueueElement;

/*
 * The device type: set once in the device's realize (virtio_init()).
 * Every hook may be NULL.
 */
typedef struct VirtioDeviceClass {
    const char *name;   /* "virtio-blk": messages, traces, the vmstate */
    uint16_t device_id; /* VIRTIO_ID_*: the PCI id is 0x1040 + this */
    uint16_t pci_class; /* PCI class code of its function */
    /*
     * Device features offered (besides the ring features and VERSION_1,
     * which the core adds). Called at realize.
     */
    uint64_t (*get_features)(VirtIODevice *vdev);
    /*
     * The driver set FEATURES_OK with vdev->guest_features: false refuses
     * the combination (FEATURES_OK then reads back clear).
     */
    bool (*validate_features)(VirtIODevice *vdev);
    /* Fill / take vdev->config (config_len bytes). */
    void (*get_config)(VirtIODevice *vdev, uint8_t *config);
    void (*set_config)(VirtIODevice *vdev, const uint8_t *config);
    /* The status byte changed (after the core's own handling). */
    void (*set_status)(VirtIODevice *vdev, uint8_t status);
    /*
     * Device reset (driver writes 0, a PCI or machine reset): requests in
     * flight must be finished or dropped before it returns; the core
     * then clears features, queues and the ISR.
     */
    void (*reset)(VirtIODevice *vdev);
    /*
     * The guest stops (stop, migration, live update): finish everything
     * in flight and push it before returning. The core has served the
     * kicks the guest made before it stopped. After drain no element may
     * be in flight (checked at save).
     */
    void (*drain)(VirtIODevice *vdev);
} VirtioDeviceClass;

/*
 * The transport's side, called by the core. OPAQUE is vdev->bus_opaque.
 */
typedef struct VirtioTransportOps {
    /* Queue N used buffers and the driver wants to hear of it. */
    void (*notify_queue)(void *opaque, unsigned int n);
    /* The config changed (ISR bit 1 is set already). */
    void (*notify_config)(void *opaque);
    /* Where descriptors and buffers live (the bus-master space). */
    AddressSpace *(*get_dma_as)(void *opaque);
    /*
     * For kernel-driven queues (vhost): queue N's host notifier (the
     * eventfd the guest's kick signals, -1: none) and guest notifier
     * (an eventfd whose signal interrupts the guest for queue N: by
     * irqfd when the vector allows, else the transport reads it).
     */
    int (*get_host_notifier)(void *opaque, unsigned int n);
    int (*get_guest_notifier)(void *opaque, unsigned int n);
    /*
     * Whether the transport reads queue N's host notifier itself and
     * calls the queue's handler (true, the default), or leaves it to
     * the kernel.
     */
    void (*set_host_notifier_handled)(void *opaque, unsigned int n, bool on);
} VirtioTransportOps;

struct VirtQueue {
    VirtIODevice *vdev;
    unsigned int queue_index;
    VirtQueueHandler handle_output;

    /* migrated */
    uint16_t num;     /* size the driver chose (<= num_max) */
    uint16_t enabled; /* queue_enable */
    uint16_t vector;  /* queue_msix_vector */
    uint64_t desc, avail, used; /* ring addresses */
    uint16_t last_avail_idx;    /* next avail entry to take */
    uint16_t used_idx;          /* our copy of used->idx */
    uint16_t signalled_used;    /* used->idx at the last interrupt */
    bool signalled_used_valid;

    /* runtime */
    uint16_t num_max; /* the device's maximum (reset value of num) */
    unsigned int inuse; /* popped, not pushed yet */
};

struct VirtIODevice {
    /* migrated */
    uint8_t status;
    uint8_t isr;
    uint16_t config_vector;
    uint8_t generation;
    uint64_t guest_features;
    bool broken; /* DEVICE_NEEDS_RESET set by the device */
    VirtQueue vq[VIRTIO_QUEUE_MAX]; /* the first nvqs are in use */
    uint32_t mig_nvqs; /* in the stream: must equal nvqs */

    /* runtime */
    uint32_t nvqs; /* queues added */
    uint32_t config_len;
    uint8_t config[VIRTIO_CONFIG_MAX]; /* from get_config, not migrated */
    const VirtioDeviceClass *vdc;
    const char *name; /* vdc->name, or the user's id */
    uint64_t host_features;
    const VirtioTransportOps *bus;
    void *bus_opaque;
};

/* ---- device side ---- */

/*
 * Prepare VDEV for class VDC with CONFIG_LEN bytes of config (at most
 * VIRTIO_CONFIG_MAX); the transport is set with virtio_set_transport().
 */
void virtio_init(VirtIODevice *vdev, const VirtioDeviceClass *vdc,
                 size_t config_len);
/* A queue of at most QUEUE_SIZE (a power of 2 <= 1024) entries. */
VirtQueue *virtio_add_queue(VirtIODevice *vdev, unsigned int queue_size,
                            VirtQueueHandler handler);
void virtio_set_transport(VirtIODevice *vdev, const VirtioTransportOps *bus,
                          void *opaque);

static inline bool virtio_has_feature(uint64_t features, unsigned int bit)
{
    return (features >> bit) & 1;
}

/* Whether the driver is running the device (DRIVER_OK, not broken). */
bool virtio_device_ok(VirtIODevice *vdev);

/*
 * The next available chain of VQ, or NULL (none, queue not ready, or the
 * chain was malformed: the device is then broken). Each buffer lies in
 * guest RAM; at most VIRTQUEUE_MAX_SIZE buffers.
 */
VirtQueueElement *virtqueue_pop(VirtQueue *vq);
/* Give ELEM back untouched (it is popped again next time). */
void virtqueue_unpop(VirtQueue *vq, VirtQueueElement *elem);
/* ELEM is done, LEN bytes written into its in buffers: add it to used. */
void virtqueue_push(VirtQueue *vq, const VirtQueueElement *elem,
                    uint32_t len);
/* Interrupt the driver for VQ unless it suppressed it (flags/event idx). */
void virtio_notify(VirtIODevice *vdev, VirtQueue *vq);
/* The device config changed: bump the generation, config interrupt. */
void virtio_notify_config(VirtIODevice *vdev);
/*
 * The driver broke the device's rules (FMT, for LOG_GUEST_ERROR): set
 * DEVICE_NEEDS_RESET and tell it; everything stops until a reset.
 */
void virtio_error(VirtIODevice *vdev, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/*
 * Copy between a chain's buffers (from byte OFFSET of its out or in
 * side) and BUF; the number of bytes copied (less at the chain's end).
 * false from the write only if guest memory went away meanwhile.
 */
size_t virtqueue_elem_read(VirtIODevice *vdev, const VirtQueueElement *elem,
                           uint64_t offset, void *buf, size_t len);
size_t virtqueue_elem_write(VirtIODevice *vdev, const VirtQueueElement *elem,
                            uint64_t offset, const void *buf, size_t len);

/* ---- transport side ---- */

/* The driver's feature window: bits 32*SEL..32*SEL+31 offered. */
uint32_t virtio_get_host_features_word(VirtIODevice *vdev, uint32_t sel);
void virtio_set_guest_features_word(VirtIODevice *vdev, uint32_t sel,
                                    uint32_t val);
/* The driver writes the status byte (0: reset). */
void virtio_set_status(VirtIODevice *vdev, uint8_t status);
void virtio_reset(VirtIODevice *vdev);
/* The driver kicked queue N (from the MMIO path or an ioeventfd). */
void virtio_queue_notify(VirtIODevice *vdev, unsigned int n);
/* Config space access by the driver (little-endian, SIZE 1/2/4). */
uint32_t virtio_config_read(VirtIODevice *vdev, uint32_t addr, unsigned size);
void virtio_config_write(VirtIODevice *vdev, uint32_t addr, uint32_t val,
                         unsigned size);
/* ISR read: returns and clears it. */
uint8_t virtio_isr_read(VirtIODevice *vdev);
/* The guest stops: serve pending kicks' work and let the device drain. */
void virtio_drain(VirtIODevice *vdev);
/* Elements popped and not pushed, all queues (0 after a drain). */
unsigned int virtio_inflight(VirtIODevice *vdev);

/* For vhost: a queue's ring addresses, size and next avail index. */
static inline uint64_t virtio_queue_get_desc_addr(VirtQueue *vq)
{
    return vq->desc;
}
static inline uint64_t virtio_queue_get_avail_addr(VirtQueue *vq)
{
    return vq->avail;
}
static inline uint64_t virtio_queue_get_used_addr(VirtQueue *vq)
{
    return vq->used;
}

/*
 * The core's state (status, features, ISR, config vector, queues), for a
 * VirtIODevice embedded as FIELD of STATE; the device's own fields
 * follow it in the device's section. post_load checks it (queue count
 * and sizes, acked features within offered, ring addresses in RAM) before
 * the transport re-wires; the config is the device's to recompute.
 */
extern const VMStateDescription vmstate_virtio_device;
#define VMSTATE_VIRTIO_DEVICE(field, state) \
    VMSTATE_STRUCT(field, state, vmstate_virtio_device, VirtIODevice)

#endif
