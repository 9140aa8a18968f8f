/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Split virtqueues (virtio 1.2 2.7): taking chains from the available
 * ring (direct and indirect descriptors), returning them on the used
 * ring, notification suppression (flags and VIRTIO_RING_F_EVENT_IDX),
 * and copies between chains and host buffers. Every ring and buffer
 * access goes through the transport's DMA address space; anything the
 * driver got wrong breaks the device (virtio_error), never baton.
 */
#include "util/osdep.h"

#include "hw/virtio/virtio.h"
#include "util/byteorder.h"
#include "util/error-report.h"

#include "trace.h"

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_DESC_SIZE 16

typedef struct VRingDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} VRingDesc;

static AddressSpace *vq_as(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;

    return vdev->bus->get_dma_as(vdev->bus_opaque);
}

/* Little-endian ring fields; false when the address is not memory. */
static bool vq_read(VirtQueue *vq, uint64_t addr, void *buf, size_t len)
{
    return address_space_rw(vq_as(vq), addr, buf, len, false);
}

static bool vq_write(VirtQueue *vq, uint64_t addr, const void *buf, size_t len)
{
    return address_space_rw(vq_as(vq), addr, (void *)buf, len, true);
}

static bool vq_read16(VirtQueue *vq, uint64_t addr, uint16_t *val)
{
    uint8_t b[2];

    if (!vq_read(vq, addr, b, 2)) {
        virtio_error(vq->vdev,
                     "queue %u: ring at 0x%" PRIx64 " is not in "
                     "guest memory",
                     vq->queue_index, addr);
        return false;
    }
    *val = (uint16_t)(b[0] | b[1] << 8);
    return true;
}

static bool vq_write16(VirtQueue *vq, uint64_t addr, uint16_t val)
{
    uint8_t b[2] = {(uint8_t)val, (uint8_t)(val >> 8)};

    if (!vq_write(vq, addr, b, 2)) {
        virtio_error(vq->vdev,
                     "queue %u: ring at 0x%" PRIx64 " is not in "
                     "guest memory",
                     vq->queue_index, addr);
        return false;
    }
    return true;
}

/*
 * avail: flags, idx, ring[num], used_event.
 * used: flags, idx, ring[num], avail_event.
 */
static uint64_t vq_avail_ring(VirtQueue *vq, unsigned int i)
{
    return vq->avail + 4 + 2 * (uint64_t)i;
}

static uint64_t vq_used_event(VirtQueue *vq)
{
    return vq->avail + 4 + 2 * (uint64_t)vq->num;
}

static uint64_t vq_avail_event(VirtQueue *vq)
{
    return vq->used + 4 + 8 * (uint64_t)vq->num;
}

static bool vq_event_idx(VirtQueue *vq)
{
    return virtio_has_feature(vq->vdev->guest_features,
                              VIRTIO_RING_F_EVENT_IDX);
}

static bool vq_read_desc(VirtQueue *vq, uint64_t table, unsigned int i,
                         VRingDesc *d)
{
    uint8_t b[VRING_DESC_SIZE];
    uint64_t addr = table + (uint64_t)i * VRING_DESC_SIZE;

    if (!vq_read(vq, addr, b, sizeof(b))) {
        virtio_error(vq->vdev,
                     "queue %u: descriptor at 0x%" PRIx64
                     " is not in guest memory",
                     vq->queue_index, addr);
        return false;
    }
    d->addr = get_le32(b) | (uint64_t)get_le32(b + 4) << 32;
    d->len = get_le32(b + 8);
    d->flags = (uint16_t)(b[12] | b[13] << 8);
    d->next = (uint16_t)(b[14] | b[15] << 8);
    return true;
}

/*
 * A walk through one descriptor table (the ring's, or an indirect one):
 * at most TABLE_NUM descriptors can be visited before a NEXT chain must
 * have ended, so more is a loop.
 */
typedef struct VqWalk {
    VirtioSg sg[VIRTQUEUE_MAX_SIZE];
    unsigned int out_num, in_num;
    uint64_t out_len, in_len;
} VqWalk;

static bool vq_add_buffer(VirtQueue *vq, VqWalk *w, const VRingDesc *d)
{
    VirtIODevice *vdev = vq->vdev;
    bool in = d->flags & VRING_DESC_F_WRITE;

    if (w->out_num + w->in_num >= VIRTQUEUE_MAX_SIZE) {
        virtio_error(vdev, "queue %u: chain longer than %u buffers",
                     vq->queue_index, VIRTQUEUE_MAX_SIZE);
        return false;
    }
    if (!in && w->in_num) {
        virtio_error(vdev,
                     "queue %u: device-readable buffer after a "
                     "device-writable one",
                     vq->queue_index);
        return false;
    }
    if (d->len && (d->addr + d->len < d->addr ||
                   !address_space_map_ram(vq_as(vq), d->addr, d->len))) {
        virtio_error(vdev,
                     "queue %u: buffer 0x%" PRIx64 "+0x%x is not in "
                     "guest memory",
                     vq->queue_index, d->addr, d->len);
        return false;
    }
    w->sg[w->out_num + w->in_num] = (VirtioSg){d->addr, d->len};
    if (in) {
        w->in_num++;
        w->in_len += d->len;
    } else {
        w->out_num++;
        w->out_len += d->len;
    }
    return true;
}

/* Walk the chain at HEAD into W; false (device broken) if malformed. */
static bool vq_walk(VirtQueue *vq, unsigned int head, VqWalk *w)
{
    VirtIODevice *vdev = vq->vdev;
    uint64_t table = vq->desc;
    unsigned int table_num = vq->num, i = head, visited = 0;
    bool indirect = false;
    VRingDesc d;

    for (;;) {
        if (!vq_read_desc(vq, table, i, &d)) {
            return false;
        }
        if (d.flags & VRING_DESC_F_INDIRECT) {
            if (!virtio_has_feature(vdev->guest_features,
                                    VIRTIO_RING_F_INDIRECT_DESC) ||
                indirect || (d.flags & VRING_DESC_F_NEXT)) {
                virtio_error(vdev,
                             "queue %u: invalid indirect descriptor "
                             "%u",
                             vq->queue_index, i);
                return false;
            }
            if (!d.len || d.len % VRING_DESC_SIZE ||
                d.len / VRING_DESC_SIZE > VIRTQUEUE_MAX_SIZE) {
                virtio_error(vdev, "queue %u: indirect table of %u bytes",
                             vq->queue_index, d.len);
                return false;
            }
            indirect = true;
            table = d.addr;
            table_num = d.len / VRING_DESC_SIZE;
            i = 0;
            visited = 0;
            continue;
        }
        if (!vq_add_buffer(vq, w, &d)) {
            return false;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return true;
        }
        i = d.next;
        if (i >= table_num) {
            virtio_error(vdev,
                         "queue %u: next descriptor %u beyond the "
                         "table (%u)",
                         vq->queue_index, i, table_num);
            return false;
        }
        if (++visited >= table_num) {
            virtio_error(vdev, "queue %u: descriptor loop", vq->queue_index);
            return false;
        }
    }
}

/*
 * With EVENT_IDX the driver kicks only when avail->idx passes
 * avail_event: publish where we are, then look again, so that a buffer
 * made available meanwhile is not left waiting for a kick that the
 * driver will not send.
 */
static bool vq_avail_idx(VirtQueue *vq, uint16_t *idx)
{
    if (!vq_read16(vq, vq->avail + 2, idx)) {
        return false;
    }
    if (*idx == vq->last_avail_idx && vq_event_idx(vq)) {
        if (!vq_write16(vq, vq_avail_event(vq), vq->last_avail_idx)) {
            return false;
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        return vq_read16(vq, vq->avail + 2, idx);
    }
    return true;
}

VirtQueueElement *virtqueue_pop(VirtQueue *vq)
{
    VirtIODevice *vdev = vq->vdev;
    g_autofree VqWalk *w = NULL;
    VirtQueueElement *elem;
    uint16_t avail_idx, head;
    unsigned int n;

    if (!virtio_device_ok(vdev) || !vq->enabled ||
        !vq_avail_idx(vq, &avail_idx)) {
        return NULL;
    }
    if (avail_idx == vq->last_avail_idx) {
        return NULL;
    }
    if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->num) {
        virtio_error(vdev,
                     "queue %u: avail index %u is more than %u ahead "
                     "of %u",
                     vq->queue_index, avail_idx, vq->num, vq->last_avail_idx);
        return NULL;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (!vq_read16(vq, vq_avail_ring(vq, vq->last_avail_idx % vq->num),
                   &head)) {
        return NULL;
    }
    if (head >= vq->num) {
        virtio_error(vdev,
                     "queue %u: head descriptor %u beyond the ring "
                     "(%u)",
                     vq->queue_index, head, vq->num);
        return NULL;
    }
    w = g_new0(VqWalk, 1);
    if (!vq_walk(vq, head, w)) {
        return NULL;
    }
    n = w->out_num + w->in_num;
    elem = g_malloc0(sizeof(*elem) + n * sizeof(VirtioSg));
    elem->index = head;
    elem->out_num = w->out_num;
    elem->in_num = w->in_num;
    elem->out_len = w->out_len;
    elem->in_len = w->in_len;
    memcpy(elem->sg, w->sg, n * sizeof(VirtioSg));
    elem->out_sg = elem->sg;
    elem->in_sg = elem->sg + w->out_num;
    vq->last_avail_idx++;
    vq->inuse++;
    if (vq_event_idx(vq)) {
        vq_write16(vq, vq_avail_event(vq), vq->last_avail_idx);
    }
    trace_virtqueue_pop(vdev->name, vq->queue_index, head, w->out_num,
                        w->in_num);
    return elem;
}

void virtqueue_unpop(VirtQueue *vq, VirtQueueElement *elem)
{
    g_assert(vq->inuse);
    vq->last_avail_idx--;
    vq->inuse--;
}

void virtqueue_push(VirtQueue *vq, const VirtQueueElement *elem, uint32_t len)
{
    uint64_t slot = vq->used + 4 + 8 * (uint64_t)(vq->used_idx % vq->num);
    uint8_t b[8];

    g_assert(vq->inuse);
    vq->inuse--;
    if (vq->vdev->broken) {
        return; /* the driver resets the rings anyway */
    }
    put_le32(b, elem->index);
    put_le32(b + 4, len);
    if (!vq_write(vq, slot, b, sizeof(b))) {
        virtio_error(vq->vdev,
                     "queue %u: used ring at 0x%" PRIx64
                     " is not in guest memory",
                     vq->queue_index, slot);
        return;
    }
    /* The entry before the index that publishes it. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    vq->used_idx++;
    vq_write16(vq, vq->used + 2, vq->used_idx);
    trace_virtqueue_push(vq->vdev->name, vq->queue_index, elem->index, len,
                         vq->used_idx);
}

/* virtio 1.2 2.7.10: whether the driver asked to hear of NEW_IDX. */
static bool vq_should_notify(VirtQueue *vq)
{
    uint16_t old, event, flags;
    bool valid;

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!vq_event_idx(vq)) {
        return vq_read16(vq, vq->avail, &flags) &&
               !(flags & VRING_AVAIL_F_NO_INTERRUPT);
    }
    old = vq->signalled_used;
    valid = vq->signalled_used_valid;
    vq->signalled_used = vq->used_idx;
    vq->signalled_used_valid = true;
    if (!valid) {
        return true;
    }
    if (!vq_read16(vq, vq_used_event(vq), &event)) {
        return false;
    }
    /* vring_need_event(): EVENT lies in (old, new]. */
    return (uint16_t)(vq->used_idx - event - 1) <
           (uint16_t)(vq->used_idx - old);
}

void virtio_notify(VirtIODevice *vdev, VirtQueue *vq)
{
    if (vdev->broken || !vq_should_notify(vq)) {
        return;
    }
    trace_virtio_notify(vdev->name, vq->queue_index);
    vdev->isr |= VIRTIO_ISR_QUEUE;
    vdev->bus->notify_queue(vdev->bus_opaque, vq->queue_index);
}

/* Copy over a chain's side SG[N] from byte OFFSET: the bytes copied. */
static size_t vq_copy(VirtIODevice *vdev, const VirtioSg *sg, unsigned int n,
                      uint64_t offset, void *buf, size_t len, bool to_guest)
{
    AddressSpace *as = vdev->bus->get_dma_as(vdev->bus_opaque);
    size_t done = 0;

    for (unsigned int i = 0; i < n && done < len; i++) {
        uint64_t chunk;

        if (offset >= sg[i].len) {
            offset -= sg[i].len;
            continue;
        }
        chunk = MIN(sg[i].len - offset, len - done);
        if (!address_space_rw(as, sg[i].addr + offset, (uint8_t *)buf + done,
                              chunk, to_guest)) {
            break; /* unmapped since the pop (bus mastering turned off) */
        }
        done += chunk;
        offset = 0;
    }
    return done;
}

size_t virtqueue_elem_read(VirtIODevice *vdev, const VirtQueueElement *elem,
                           uint64_t offset, void *buf, size_t len)
{
    return vq_copy(vdev, elem->out_sg, elem->out_num, offset, buf, len, false);
}

size_t virtqueue_elem_write(VirtIODevice *vdev, const VirtQueueElement *elem,
                            uint64_t offset, const void *buf, size_t len)
{
    return vq_copy(vdev, elem->in_sg, elem->in_num, offset, (void *)buf, len,
                   true);
}
