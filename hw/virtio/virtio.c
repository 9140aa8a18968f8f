/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio device core (virtio 1.2): feature negotiation, the status
 * byte and reset, the ISR and config space, the device's broken state,
 * and the migrated core state. Split virtqueues (descriptor walks, the
 * used ring, notification suppression) are in virtqueue.c; transports
 * (virtio-pci.c) own interrupts and notifiers.
 */
#include "util/osdep.h"

#include "hw/virtio/virtio.h"
#include "util/error-report.h"

#include "trace.h"

void virtio_init(VirtIODevice *vdev, const VirtioDeviceClass *vdc,
                 size_t config_len)
{
    g_assert(config_len <= VIRTIO_CONFIG_MAX);
    vdev->vdc = vdc;
    vdev->name = vdc->name;
    vdev->config_len = config_len;
    vdev->config_vector = VIRTIO_NO_VECTOR;
    vdev->nvqs = 0;
    /*
     * Offered: the device's, VERSION_1 (modern only) and the two ring
     * features the split ring here implements.
     */
    vdev->host_features = (vdc->get_features ? vdc->get_features(vdev) : 0) |
                          (1ull << VIRTIO_F_VERSION_1) |
                          (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
                          (1ull << VIRTIO_RING_F_EVENT_IDX);
}

VirtQueue *virtio_add_queue(VirtIODevice *vdev, unsigned int queue_size,
                            VirtQueueHandler handler)
{
    VirtQueue *vq;

    g_assert(vdev->nvqs < VIRTIO_QUEUE_MAX);
    g_assert(queue_size && queue_size <= VIRTQUEUE_MAX_SIZE &&
             !(queue_size & (queue_size - 1)));
    vq = &vdev->vq[vdev->nvqs];
    memset(vq, 0, sizeof(*vq));
    vq->vdev = vdev;
    vq->queue_index = vdev->nvqs++;
    vq->handle_output = handler;
    vq->num_max = queue_size;
    vq->num = queue_size;
    vq->vector = VIRTIO_NO_VECTOR;
    return vq;
}

void virtio_set_transport(VirtIODevice *vdev, const VirtioTransportOps *bus,
                          void *opaque)
{
    vdev->bus = bus;
    vdev->bus_opaque = opaque;
}

bool virtio_device_ok(VirtIODevice *vdev)
{
    return (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev->broken;
}

uint32_t virtio_get_host_features_word(VirtIODevice *vdev, uint32_t sel)
{
    return sel < 2 ? (uint32_t)(vdev->host_features >> (32 * sel)) : 0;
}

void virtio_set_guest_features_word(VirtIODevice *vdev, uint32_t sel,
                                    uint32_t val)
{
    uint64_t mask, bits;

    if (sel >= 2) {
        return; /* nothing offered there: the driver may not set any */
    }
    if (vdev->status & VIRTIO_CONFIG_S_FEATURES_OK) {
        log_mask(LOG_GUEST_ERROR,
                 "%s: driver features written after FEATURES_OK: ignored",
                 vdev->name);
        return;
    }
    mask = 0xffffffffull << (32 * sel);
    bits = ((uint64_t)val << (32 * sel)) & vdev->host_features;
    vdev->guest_features = (vdev->guest_features & ~mask) | bits;
}

void virtio_reset(VirtIODevice *vdev)
{
    if (vdev->vdc->reset) {
        vdev->vdc->reset(vdev);
    }
    trace_virtio_reset(vdev->name);
    vdev->status = 0;
    vdev->isr = 0;
    vdev->broken = false;
    vdev->guest_features = 0;
    vdev->config_vector = VIRTIO_NO_VECTOR;
    vdev->generation = 0;
    for (unsigned int i = 0; i < vdev->nvqs; i++) {
        VirtQueue *vq = &vdev->vq[i];

        vq->num = vq->num_max;
        vq->enabled = 0;
        vq->vector = VIRTIO_NO_VECTOR;
        vq->desc = vq->avail = vq->used = 0;
        vq->last_avail_idx = vq->used_idx = 0;
        vq->signalled_used = 0;
        vq->signalled_used_valid = false;
        vq->inuse = 0;
    }
}

/*
 * FEATURES_OK is kept only for an acceptable set: VERSION_1 (this device
 * has no legacy interface) and whatever the device checks; the driver
 * reads the status back to learn the verdict (virtio 1.2 3.1.1).
 */
static bool virtio_features_ok(VirtIODevice *vdev)
{
    if (!virtio_has_feature(vdev->guest_features, VIRTIO_F_VERSION_1)) {
        log_mask(LOG_GUEST_ERROR,
                 "%s: driver did not accept VIRTIO_F_VERSION_1: "
                 "FEATURES_OK refused (no legacy interface)", vdev->name);
        return false;
    }
    return !vdev->vdc->validate_features ||
           vdev->vdc->validate_features(vdev);
}

void virtio_set_status(VirtIODevice *vdev, uint8_t status)
{
    uint8_t old = vdev->status;

    trace_virtio_set_status(vdev->name, old, status);
    if (status == 0) {
        virtio_reset(vdev);
        return;
    }
    if ((status & VIRTIO_CONFIG_S_FEATURES_OK) &&
        !(old & VIRTIO_CONFIG_S_FEATURES_OK) && !virtio_features_ok(vdev)) {
        status &= ~VIRTIO_CONFIG_S_FEATURES_OK;
    }
    if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
        !(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
        log_mask(LOG_GUEST_ERROR,
                 "%s: DRIVER_OK without FEATURES_OK: ignored", vdev->name);
        status &= ~VIRTIO_CONFIG_S_DRIVER_OK;
    }
    /* NEEDS_RESET is the device's: a driver write neither sets nor clears. */
    status &= ~VIRTIO_CONFIG_S_NEEDS_RESET;
    if (vdev->broken) {
        status |= VIRTIO_CONFIG_S_NEEDS_RESET;
    }
    vdev->status = status;
    if (vdev->vdc->set_status) {
        vdev->vdc->set_status(vdev, status);
    }
    /* Buffers made available before DRIVER_OK are served now. */
    if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
        !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
        for (unsigned int i = 0; i < vdev->nvqs; i++) {
            virtio_queue_notify(vdev, i);
        }
    }
}

void virtio_queue_notify(VirtIODevice *vdev, unsigned int n)
{
    VirtQueue *vq;

    if (n >= vdev->nvqs) {
        log_mask(LOG_GUEST_ERROR, "%s: notify of queue %u (it has %u)",
                 vdev->name, n, vdev->nvqs);
        return;
    }
    vq = &vdev->vq[n];
    trace_virtio_queue_notify(vdev->name, n);
    if (vq->handle_output && virtio_device_ok(vdev) && vq->enabled) {
        vq->handle_output(vdev, vq);
    }
}

void virtio_notify_config(VirtIODevice *vdev)
{
    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !vdev->broken) {
        return;
    }
    vdev->isr |= VIRTIO_ISR_CONFIG;
    vdev->generation++;
    if (vdev->bus && vdev->bus->notify_config) {
        vdev->bus->notify_config(vdev->bus_opaque);
    }
}

void virtio_error(VirtIODevice *vdev, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    log_mask(LOG_GUEST_ERROR, "%s: %s: device needs reset", vdev->name, msg);
    trace_virtio_error(vdev->name, msg);
    if (vdev->broken) {
        return;
    }
    vdev->broken = true;
    /* virtio 1.2 2.1.2: NEEDS_RESET and a config change notification. */
    vdev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
    virtio_notify_config(vdev);
}

uint32_t virtio_config_read(VirtIODevice *vdev, uint32_t addr, unsigned size)
{
    uint32_t val = 0;

    if (addr + size > vdev->config_len) {
        return ~0u;
    }
    if (vdev->vdc->get_config) {
        vdev->vdc->get_config(vdev, vdev->config);
    }
    for (unsigned int i = 0; i < size; i++) {
        val |= (uint32_t)vdev->config[addr + i] << (8 * i);
    }
    return val;
}

void virtio_config_write(VirtIODevice *vdev, uint32_t addr, uint32_t val,
                         unsigned size)
{
    if (addr + size > vdev->config_len) {
        return;
    }
    if (vdev->vdc->get_config) {
        vdev->vdc->get_config(vdev, vdev->config);
    }
    for (unsigned int i = 0; i < size; i++) {
        vdev->config[addr + i] = (uint8_t)(val >> (8 * i));
    }
    if (vdev->vdc->set_config) {
        vdev->vdc->set_config(vdev, vdev->config);
    }
}

uint8_t virtio_isr_read(VirtIODevice *vdev)
{
    uint8_t isr = vdev->isr;

    vdev->isr = 0;
    return isr;
}

unsigned int virtio_inflight(VirtIODevice *vdev)
{
    unsigned int n = 0;

    for (unsigned int i = 0; i < vdev->nvqs; i++) {
        n += vdev->vq[i].inuse;
    }
    return n;
}

void virtio_drain(VirtIODevice *vdev)
{
    if (vdev->vdc->drain) {
        vdev->vdc->drain(vdev);
    }
}

/* ---- migration ---- */

static const VMStateDescription vmstate_virtqueue = {
    .name = "virtqueue",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT16(num, VirtQueue),
            VMSTATE_UINT16(enabled, VirtQueue),
            VMSTATE_UINT16(vector, VirtQueue),
            VMSTATE_UINT64(desc, VirtQueue),
            VMSTATE_UINT64(avail, VirtQueue),
            VMSTATE_UINT64(used, VirtQueue),
            VMSTATE_UINT16(last_avail_idx, VirtQueue),
            VMSTATE_UINT16(used_idx, VirtQueue),
            VMSTATE_UINT16(signalled_used, VirtQueue),
            VMSTATE_BOOL(signalled_used_valid, VirtQueue),
            VMSTATE_END_OF_LIST(),
        },
};

/*
 * Nothing is in flight at a save: every stop drains first (the
 * transport's stop hook), and a save runs only with the guest stopped.
 * A request still popped here would be lost or done twice on the other
 * side, so the save fails instead.
 */
static bool virtio_pre_save(void *opaque, GError **errp)
{
    VirtIODevice *vdev = opaque;
    unsigned int n = virtio_inflight(vdev);

    if (n) {
        error_setg(errp, "%s: %u requests in flight at save (not drained)",
                   vdev->name, n);
        return false;
    }
    vdev->mig_nvqs = vdev->nvqs;
    return true;
}

static bool virtio_post_load(void *opaque, int version_id, GError **errp)
{
    VirtIODevice *vdev = opaque;
    uint64_t extra = vdev->guest_features & ~vdev->host_features;

    if (vdev->mig_nvqs != vdev->nvqs) {
        error_setg(errp, "%s: the stream has %u queues, this device %u",
                   vdev->name, vdev->mig_nvqs, vdev->nvqs);
        return false;
    }
    if (extra) {
        error_setg(errp, "%s: features 0x%" PRIx64 " acked by the driver "
                   "are not offered here", vdev->name, extra);
        return false;
    }
    for (unsigned int i = 0; i < vdev->nvqs; i++) {
        VirtQueue *vq = &vdev->vq[i];

        if (!vq->num || vq->num > vq->num_max || (vq->num & (vq->num - 1))) {
            error_setg(errp, "%s: queue %u size %u is not a power of 2 "
                       "up to %u", vdev->name, i, vq->num, vq->num_max);
            return false;
        }
        vq->inuse = 0;
    }
    return true;
}

const VMStateDescription vmstate_virtio_device = {
    .name = "virtio",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = virtio_pre_save,
    .post_load = virtio_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT8(status, VirtIODevice),
            VMSTATE_UINT8(isr, VirtIODevice),
            VMSTATE_UINT16(config_vector, VirtIODevice),
            VMSTATE_UINT8(generation, VirtIODevice),
            VMSTATE_UINT64(guest_features, VirtIODevice),
            VMSTATE_BOOL(broken, VirtIODevice),
            VMSTATE_STRUCT_VARRAY(vq, VirtIODevice, mig_nvqs,
                                  VIRTIO_QUEUE_MAX, vmstate_virtqueue,
                                  VirtQueue),
            VMSTATE_END_OF_LIST(),
        },
};
