/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk (virtio 1.2 5.2) over a -drive, and its PCI type
 * "virtio-blk-pci" (1af4:1042). One request queue; READ, WRITE, FLUSH,
 * GET_ID, DISCARD and WRITE_ZEROES, each completed with the spec's
 * status. Requests are served in the main loop (the queue's ioeventfd
 * handler) with positional I/O on the drive's fd, so a vCPU thread never
 * waits on the disk and nothing is in flight between two main-loop
 * iterations: the stop-time drain only serves the kicks left. The image
 * fd is the drive's, preserved across live update (system/blockdev.c).
 */
#include "util/osdep.h"

#include "hw/virtio/virtio-pci.h"
#include "migration/cpr.h"
#include "system/blockdev.h"
#include "util/error-report.h"
#include "util/byteorder.h"

#include "trace.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status (5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_WZ_F_UNMAP 1

#define SECTOR_SIZE 512
#define REQ_HDR_SIZE 16
#define DWZ_SEG_SIZE 16

/* struct virtio_blk_config, up to write_zeroes_may_unmap and its pad. */
#define CFG_CAPACITY 0
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_PHYS_EXP 24
#define CFG_MIN_IO 26
#define CFG_WRITEBACK 32
#define CFG_NUM_QUEUES 34
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGN 44
#define CFG_MAX_WZ_SECTORS 48
#define CFG_MAX_WZ_SEG 52
#define CFG_WZ_MAY_UNMAP 56
#define CFG_SIZE 60

/* A bounce buffer's size: data moves in pieces of this. */
#define BOUNCE_SIZE (1u << 20)

typedef struct VirtIOBlock {
    VirtIODevice parent_obj;

    /* properties */
    DriveInfo *drive;
    char *serial;
    uint32_t logical_block_size, physical_block_size;
    uint16_t queue_size;
    uint16_t num_queues;
    bool discard, write_zeroes;
    uint32_t max_discard_sectors, max_write_zeroes_sectors;

    /* runtime */
    VirtQueue *vq;
    uint8_t *bounce;
} VirtIOBlock;

typedef struct VirtIOBlkPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOBlock blk;
} VirtIOBlkPCI;

#define TYPE_VIRTIO_BLK_PCI "virtio-blk-pci"

static VirtIOBlock *to_blk(VirtIODevice *vdev)
{
    return (VirtIOBlock *)vdev;
}

/* ---- requests ---- */

/* Whether [SECTOR, +BYTES) is whole logical blocks inside the disk. */
static bool blk_range_ok(VirtIOBlock *s, uint64_t sector, uint64_t bytes)
{
    uint64_t off = sector * SECTOR_SIZE;

    return sector < (UINT64_MAX / SECTOR_SIZE) &&
           !(off % s->logical_block_size) && !(bytes % s->logical_block_size) &&
           off <= s->drive->size && bytes <= s->drive->size - off;
}

static void blk_io_error(VirtIOBlock *s, GError *err)
{
    error_report("%s: %s", s->parent_obj.name, err->message);
    g_error_free(err);
}

/* READ: the image into the in buffers; *LEN the bytes written there. */
static uint8_t blk_read(VirtIOBlock *s, VirtQueueElement *elem, uint64_t sector,
                        uint32_t *len)
{
    VirtIODevice *vdev = &s->parent_obj;
    uint64_t bytes = elem->in_len - 1, done = 0;
    GError *err = NULL;

    if (!blk_range_ok(s, sector, bytes)) {
        return VIRTIO_BLK_S_IOERR;
    }
    while (done < bytes) {
        size_t n = MIN(bytes - done, BOUNCE_SIZE);

        if (!drive_pread(s->drive, sector * SECTOR_SIZE + done, s->bounce, n,
                         &err)) {
            blk_io_error(s, err);
            return VIRTIO_BLK_S_IOERR;
        }
        if (virtqueue_elem_write(vdev, elem, done, s->bounce, n) != n) {
            return VIRTIO_BLK_S_IOERR;
        }
        done += n;
    }
    *len = bytes;
    return VIRTIO_BLK_S_OK;
}

static uint8_t blk_write(VirtIOBlock *s, VirtQueueElement *elem,
                         uint64_t sector)
{
    VirtIODevice *vdev = &s->parent_obj;
    uint64_t bytes = elem->out_len - REQ_HDR_SIZE, done = 0;
    GError *err = NULL;

    if (s->drive->read_only || !blk_range_ok(s, sector, bytes)) {
        return VIRTIO_BLK_S_IOERR;
    }
    while (done < bytes) {
        size_t n = MIN(bytes - done, BOUNCE_SIZE);

        if (virtqueue_elem_read(vdev, elem, REQ_HDR_SIZE + done, s->bounce,
                                n) != n) {
            return VIRTIO_BLK_S_IOERR;
        }
        if (!drive_pwrite(s->drive, sector * SECTOR_SIZE + done, s->bounce, n,
                          &err)) {
            blk_io_error(s, err);
            return VIRTIO_BLK_S_IOERR;
        }
        done += n;
    }
    return VIRTIO_BLK_S_OK;
}

static uint8_t blk_get_id(VirtIOBlock *s, VirtQueueElement *elem, uint32_t *len)
{
    uint8_t id[VIRTIO_BLK_ID_BYTES] = {0};
    size_t n = MIN(elem->in_len - 1, (uint64_t)VIRTIO_BLK_ID_BYTES);

    /* Zero-padded, not terminated when it fills all 20 bytes (5.2.6.1). */
    if (s->serial) {
        memcpy(id, s->serial, MIN(strlen(s->serial), sizeof(id)));
    }
    *len = virtqueue_elem_write(&s->parent_obj, elem, 0, id, n);
    return VIRTIO_BLK_S_OK;
}

/* DISCARD / WRITE_ZEROES: one segment (max_*_seg is 1). */
static uint8_t blk_dwz(VirtIOBlock *s, VirtQueueElement *elem, uint32_t type)
{
    bool discard = type == VIRTIO_BLK_T_DISCARD;
    uint8_t seg[DWZ_SEG_SIZE];
    uint64_t sector, bytes;
    uint32_t num, flags, max;
    GError *err = NULL;
    bool ok;

    if (elem->out_len - REQ_HDR_SIZE != DWZ_SEG_SIZE ||
        virtqueue_elem_read(&s->parent_obj, elem, REQ_HDR_SIZE, seg,
                            sizeof(seg)) != sizeof(seg)) {
        return VIRTIO_BLK_S_UNSUPP; /* not exactly one segment */
    }
    sector = get_le64(seg);
    num = get_le32(seg + 8);
    flags = get_le32(seg + 12);
    max = discard ? s->max_discard_sectors : s->max_write_zeroes_sectors;
    /* 5.2.6.2: the unmap flag is write-zeroes', other bits are reserved. */
    if (flags & ~(discard ? 0 : VIRTIO_BLK_WZ_F_UNMAP)) {
        return VIRTIO_BLK_S_UNSUPP;
    }
    bytes = (uint64_t)num * SECTOR_SIZE;
    if (num > max || !blk_range_ok(s, sector, bytes)) {
        return VIRTIO_BLK_S_IOERR;
    }
    ok = discard ? drive_discard(s->drive, sector * SECTOR_SIZE, bytes, &err)
                 : drive_write_zeroes(s->drive, sector * SECTOR_SIZE, bytes,
                                      flags & VIRTIO_BLK_WZ_F_UNMAP, &err);
    if (!ok) {
        blk_io_error(s, err);
        return VIRTIO_BLK_S_IOERR;
    }
    return VIRTIO_BLK_S_OK;
}

static uint8_t blk_execute(VirtIOBlock *s, VirtQueueElement *elem,
                           uint32_t type, uint64_t sector, uint32_t *len)
{
    VirtIODevice *vdev = &s->parent_obj;
    uint64_t features = vdev->guest_features;
    GError *err = NULL;

    switch (type) {
    case VIRTIO_BLK_T_IN:
        return blk_read(s, elem, sector, len);
    case VIRTIO_BLK_T_OUT:
        return blk_write(s, elem, sector);
    case VIRTIO_BLK_T_FLUSH:
        if (!drive_flush(s->drive, &err)) {
            blk_io_error(s, err);
            return VIRTIO_BLK_S_IOERR;
        }
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_GET_ID:
        return blk_get_id(s, elem, len);
    case VIRTIO_BLK_T_DISCARD:
        return virtio_has_feature(features, VIRTIO_BLK_F_DISCARD)
                   ? blk_dwz(s, elem, type)
                   : VIRTIO_BLK_S_UNSUPP;
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return virtio_has_feature(features, VIRTIO_BLK_F_WRITE_ZEROES)
                   ? blk_dwz(s, elem, type)
                   : VIRTIO_BLK_S_UNSUPP;
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

/*
 * One request: the 16-byte header leads the out side, the status byte
 * ends the in side (5.2.6). Anything shorter breaks the device.
 */
static bool blk_handle_request(VirtIOBlock *s, VirtQueueElement *elem)
{
    VirtIODevice *vdev = &s->parent_obj;
    uint8_t hdr[REQ_HDR_SIZE], status;
    uint32_t type, len = 0;
    uint64_t sector;

    if (elem->out_len < REQ_HDR_SIZE || elem->in_len < 1 ||
        virtqueue_elem_read(vdev, elem, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
        virtio_error(vdev, "request without header or status byte");
        return false;
    }
    type = get_le32(hdr);
    sector = get_le64(hdr + 8);
    trace_virtio_blk_req(s->drive->id, type, sector,
                         type == VIRTIO_BLK_T_OUT ? elem->out_len - REQ_HDR_SIZE
                                                  : elem->in_len - 1);
    status = blk_execute(s, elem, type, sector, &len);
    trace_virtio_blk_req_done(s->drive->id, type, status);
    virtqueue_elem_write(vdev, elem, elem->in_len - 1, &status, 1);
    virtqueue_push(s->vq, elem, len + 1);
    return true;
}

static void virtio_blk_handle_output(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOBlock *s = to_blk(vdev);
    VirtQueueElement *elem;
    bool done = false;

    while ((elem = virtqueue_pop(vq))) {
        bool ok = blk_handle_request(s, elem);

        if (!ok) {
            virtqueue_push(vq, elem, 0); /* back to the driver, broken */
            g_free(elem);
            break;
        }
        g_free(elem);
        done = true;
    }
    if (done) {
        virtio_notify(vdev, vq);
    }
}

/* ---- the device ---- */

static uint64_t virtio_blk_get_features(VirtIODevice *vdev)
{
    VirtIOBlock *s = to_blk(vdev);
    uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
                 1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY;

    if (s->drive->read_only) {
        f |= 1ull << VIRTIO_BLK_F_RO;
    } else {
        f |= (s->discard ? 1ull << VIRTIO_BLK_F_DISCARD : 0) |
             (s->write_zeroes ? 1ull << VIRTIO_BLK_F_WRITE_ZEROES : 0);
    }
    return f;
}

static void virtio_blk_get_config(VirtIODevice *vdev, uint8_t *c)
{
    VirtIOBlock *s = to_blk(vdev);
    uint32_t align = s->logical_block_size / SECTOR_SIZE;
    uint64_t capacity = s->drive->size / SECTOR_SIZE;

    memset(c, 0, CFG_SIZE);
    put_le32(c + CFG_CAPACITY, (uint32_t)capacity);
    put_le32(c + CFG_CAPACITY + 4, (uint32_t)(capacity >> 32));
    put_le32(c + CFG_SEG_MAX, s->vq->num_max - 2);
    put_le32(c + CFG_BLK_SIZE, s->logical_block_size);
    c[CFG_PHYS_EXP] = (uint8_t)g_bit_nth_msf(
        s->physical_block_size / s->logical_block_size, -1);
    put_le16(c + CFG_MIN_IO, (uint16_t)align);
    c[CFG_WRITEBACK] = 1; /* writes reach the host page cache: FLUSH them */
    put_le16(c + CFG_NUM_QUEUES, 1);
    put_le32(c + CFG_MAX_DISCARD_SECTORS, s->max_discard_sectors);
    put_le32(c + CFG_MAX_DISCARD_SEG, 1);
    put_le32(c + CFG_DISCARD_ALIGN, align);
    put_le32(c + CFG_MAX_WZ_SECTORS, s->max_write_zeroes_sectors);
    put_le32(c + CFG_MAX_WZ_SEG, 1);
    c[CFG_WZ_MAY_UNMAP] = s->drive->discard_unmap;
}

static void virtio_blk_drain(VirtIODevice *vdev)
{
    /*
     * Requests complete inside the handler that popped them, so once the
     * transport served the pending kicks nothing is in flight.
     */
    g_assert(!virtio_inflight(vdev));
}

static const VirtioDeviceClass virtio_blk_class = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .pci_class = 0x0100, /* mass storage, SCSI: as QEMU's */
    .get_features = virtio_blk_get_features,
    .get_config = virtio_blk_get_config,
    .drain = virtio_blk_drain,
};

static bool virtio_blk_check(VirtIOBlock *s, const char *id, GError **errp)
{
    uint32_t lbs = s->logical_block_size, pbs = s->physical_block_size;

    if (lbs < SECTOR_SIZE || lbs > 32768 || (lbs & (lbs - 1))) {
        error_setg(errp,
                   "Property virtio-blk-pci.logical_block_size "
                   "doesn't take value '%u' (a power of 2 from 512 to "
                   "32768)",
                   lbs);
        return false;
    }
    if (!pbs) {
        s->physical_block_size = pbs = lbs;
    }
    if (pbs < lbs || pbs > 32768 || (pbs & (pbs - 1))) {
        error_setg(errp,
                   "physical_block_size %u must be a power of 2 of "
                   "at least logical_block_size %u",
                   pbs, lbs);
        return false;
    }
    if (s->queue_size < 4 || s->queue_size > VIRTQUEUE_MAX_SIZE ||
        (s->queue_size & (s->queue_size - 1))) {
        error_setg(errp,
                   "invalid queue-size property (%u), must be a "
                   "power of 2 from 4 to %u",
                   s->queue_size, VIRTQUEUE_MAX_SIZE);
        return false;
    }
    if (s->num_queues != 1) {
        error_setg(errp,
                   "num-queues property %u is not supported: baton's "
                   "virtio-blk has one request queue",
                   s->num_queues);
        return false;
    }
    if (s->serial && strlen(s->serial) > VIRTIO_BLK_ID_BYTES) {
        warn_report("%s: serial '%s' is longer than %u bytes: the guest "
                    "sees its first %u",
                    id, s->serial, VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_ID_BYTES);
    }
    return true;
}

static VirtIODevice *virtio_blk_pci_realize_vdev(VirtIOPCIProxy *proxy,
                                                 GError **errp)
{
    VirtIOBlock *s = &((VirtIOBlkPCI *)proxy)->blk;
    g_autofree char *path = object_get_canonical_path(OBJECT(proxy));

    if (!virtio_blk_check(s, path, errp) ||
        !drive_attach(s->drive, path, errp)) {
        return NULL;
    }
    virtio_init(&s->parent_obj, &virtio_blk_class, CFG_SIZE);
    s->vq = virtio_add_queue(&s->parent_obj, s->queue_size,
                             virtio_blk_handle_output);
    s->bounce = g_malloc(BOUNCE_SIZE);
    return &s->parent_obj;
}

static void virtio_blk_pci_unrealize_vdev(VirtIOPCIProxy *proxy)
{
    VirtIOBlock *s = &((VirtIOBlkPCI *)proxy)->blk;

    g_clear_pointer(&s->bounce, g_free);
    if (s->drive && s->drive->attached) {
        s->drive->attached = false;
        g_clear_pointer(&s->drive->device, g_free);
    }
}

static bool virtio_blk_pci_post_load(void *opaque, int version_id,
                                     GError **errp)
{
    return virtio_pci_post_load(opaque, errp);
}

static const VMStateDescription vmstate_virtio_blk_pci = {
    .name = "virtio-blk-pci",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = virtio_blk_pci_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_VIRTIO_PCI(parent_obj, VirtIOBlkPCI),
            VMSTATE_VIRTIO_DEVICE(blk.parent_obj, VirtIOBlkPCI),
            VMSTATE_END_OF_LIST(),
        },
};

static const Property virtio_blk_pci_props[] = {
    DEFINE_PROP_LINK("drive", VirtIOBlkPCI, blk.drive, TYPE_DRIVE,
                     .required = true,
                     .desc = "ID of the -drive holding the disk image"),
    DEFINE_PROP("serial", PROP_STRING, VirtIOBlkPCI, blk.serial,
                .desc = "disk serial number (GET_ID, up to 20 bytes)"),
    DEFINE_PROP("logical_block_size", PROP_UINT32, VirtIOBlkPCI,
                blk.logical_block_size, .defval = "512",
                .desc = "logical block size (512 to 32768)"),
    DEFINE_PROP("physical_block_size", PROP_UINT32, VirtIOBlkPCI,
                blk.physical_block_size, .defval = "0",
                .desc = "physical block size (0: the logical size)"),
    DEFINE_PROP("queue-size", PROP_UINT16, VirtIOBlkPCI, blk.queue_size,
                .defval = "256", .desc = "request queue size"),
    DEFINE_PROP("num-queues", PROP_UINT16, VirtIOBlkPCI, blk.num_queues,
                .defval = "1", .desc = "request queues (1)"),
    DEFINE_PROP("discard", PROP_BOOL, VirtIOBlkPCI, blk.discard, .defval = "on",
                .desc = "offer DISCARD"),
    DEFINE_PROP("write-zeroes", PROP_BOOL, VirtIOBlkPCI, blk.write_zeroes,
                .defval = "on", .desc = "offer WRITE_ZEROES"),
    DEFINE_PROP("max-discard-sectors", PROP_UINT32, VirtIOBlkPCI,
                blk.max_discard_sectors, .defval = "4194303",
                .desc = "largest discard, in 512-byte sectors"),
    DEFINE_PROP("max-write-zeroes-sectors", PROP_UINT32, VirtIOBlkPCI,
                blk.max_write_zeroes_sectors, .defval = "4194303",
                .desc = "largest write-zeroes, in 512-byte sectors"),
    {NULL},
};

static void virtio_blk_pci_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);
    VirtIOPCIClass *vpc = VIRTIO_PCI_CLASS(oc);

    device_class_set_props(dc, virtio_blk_pci_props);
    dc->user_creatable = true;
    dc->vmsd = &vmstate_virtio_blk_pci;
    vpc->realize_vdev = virtio_blk_pci_realize_vdev;
    vpc->unrealize_vdev = virtio_blk_pci_unrealize_vdev;
    pc->device_id = 0x1042;
    pc->class_id = 0x0100;
    /*
     * Queues and registers migrate (nothing in flight after the stop's
     * drain); the image fd is the drive's, preserved; eventfds are made
     * anew and re-wired from the loaded state.
     */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "virtio block device (modern virtio-pci)";
}

static const TypeInfo virtio_blk_pci_type = {
    .name = TYPE_VIRTIO_BLK_PCI,
    .parent = TYPE_VIRTIO_PCI,
    .instance_size = sizeof(VirtIOBlkPCI),
    .class_init = virtio_blk_pci_class_init,
};

static void virtio_blk_register_types(void)
{
    type_register(&virtio_blk_pci_type);
}

type_init(virtio_blk_register_types)
