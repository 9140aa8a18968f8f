/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-net (virtio 1.2 5.1) and its PCI type "virtio-net-pci"
 * (1af4:1041), fed by a -netdev (backends/tap.c, backends/slirp.c).
 * Queues rx0, tx0, rx1, tx1, ... then the control queue. Every frame
 * carries the 12-byte virtio_net_hdr_v1: a tap with vnet_hdr takes and
 * gives it as is (so checksum and segmentation offloads pass through);
 * for a backend without one baton adds a plain header on receive and
 * strips it on transmit, and offers no offload.
 *
 * No frame is lost by baton: while the guest is stopped, the driver is
 * not ready or the receive queue has no buffer, the NIC says it cannot
 * receive and the backend leaves frames in the host's queue (a tap's);
 * a kick on the receive queue or the guest's start asks for them again.
 * The control queue's receive filters (promiscuous, all-multi, MAC
 * tables, VLANs) drop what the guest did not ask for, as QEMU does, and
 * query-rx-filter shows them. After an incoming migration the NIC is
 * announced (RARP, or the guest's own announcement with GUEST_ANNOUNCE).
 */
#include "util/osdep.h"

#include "hw/virtio/virtio-pci.h"
#include "migration/cpr.h"
#include "monitor/monitor.h"
#include "system/netdev.h"
#include "system/runstate.h"
#include "util/error-report.h"
#include "util/byteorder.h"

#include "trace.h"

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_CTRL_RX 18
#define VIRTIO_NET_F_CTRL_VLAN 19
#define VIRTIO_NET_F_CTRL_RX_EXTRA 20
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define VIRTIO_NET_F_MQ 22
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23

/* Config (5.1.4): mac, status, max_virtqueue_pairs, mtu. */
#define CFG_MAC 0
#define CFG_STATUS 6
#define CFG_MAX_PAIRS 8
#define CFG_MTU 10
#define CFG_SIZE 12
#define VIRTIO_NET_S_LINK_UP 1
#define VIRTIO_NET_S_ANNOUNCE 2

/* virtio_net_hdr_v1 (5.1.6) */
#define NET_HDR_LEN 12
#define HDR_NUM_BUFFERS 10

/* Control queue (5.1.6.5). */
#define CTRL_RX 0
#define CTRL_RX_PROMISC 0
#define CTRL_RX_ALLMULTI 1
#define CTRL_RX_ALLUNI 2
#define CTRL_RX_NOMULTI 3
#define CTRL_RX_NOUNI 4
#define CTRL_RX_NOBCAST 5
#define CTRL_MAC 1
#define CTRL_MAC_TABLE_SET 0
#define CTRL_MAC_ADDR_SET 1
#define CTRL_VLAN 2
#define CTRL_VLAN_ADD 0
#define CTRL_VLAN_DEL 1
#define CTRL_ANNOUNCE 3
#define CTRL_ANNOUNCE_ACK 0
#define CTRL_MQ 4
#define CTRL_MQ_VQ_PAIRS_SET 0
#define CTRL_GUEST_OFFLOADS 5
#define CTRL_GUEST_OFFLOADS_SET 0
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1

/* QEMU's filter sizes: MAC table entries, VLAN ids. */
#define MAC_TABLE_ENTRIES 64
#define MAX_VLAN 4096

/* Room for the frames a backend kept for the NIC, in the stream. */
#define PENDING_MIG_MAX (2u << 20)

/* Largest frame: a 64 KiB GSO frame and its header. */
#define NET_BUF_SIZE (NET_HDR_LEN + 65536 + 14 + 4)
/* Frames sent per tx kick before the main loop gets a turn. */
#define TX_BURST 256

#define TYPE_VIRTIO_NET_PCI "virtio-net-pci"

typedef struct VirtIONetQueue {
    struct VirtIONet *n;
    unsigned int index;
    VirtQueue *rx, *tx;
    bool rx_empty;      /* the last receive found no buffer */
    guint tx_more;      /* idle source: the rest of a long tx burst */
} VirtIONetQueue;

typedef struct VirtIONet {
    VirtIODevice parent_obj;

    /* properties */
    NetDev *netdev;
    char *mac_str;
    bool mq;
    bool csum, guest_csum, gso, guest_tso4, guest_tso6, guest_ecn;
    bool host_tso4, host_tso6, host_ecn;
    bool mrg_rxbuf, status_prop, ctrl_vq, ctrl_rx, ctrl_vlan, ctrl_rx_extra;
    bool ctrl_mac_addr, ctrl_guest_offloads, guest_announce;
    uint16_t rx_queue_size, tx_queue_size, host_mtu;

    /* migrated */
    uint8_t mac[6];
    uint16_t status;
    uint16_t curr_pairs;
    uint8_t promisc, allmulti, alluni, nomulti, nouni, nobcast;
    uint32_t mac_entries, first_multi;   /* MAC table: unicast first */
    uint8_t uni_overflow, multi_overflow;
    uint8_t macs[MAC_TABLE_ENTRIES * 6];
    uint32_t vlans[MAX_VLAN / 32];
    uint64_t offloads;                   /* guest offloads in force */
    uint32_t mig_pending_len;            /* frames kept by the netdev */
    uint8_t *mig_pending;                /* PENDING_MIG_MAX bytes */

    /* runtime */
    NetNic *nic;
    char *name;
    unsigned int max_pairs;
    VirtIONetQueue q[NET_MAX_QUEUES];
    VirtQueue *ctrl;
    bool vnet_hdr;                       /* the backend takes our header */
    bool rx_filter_notify;               /* NIC_RX_FILTER_CHANGED armed */
    VmChangeStateEntry *vm_state;
    uint8_t *buf;
    uint64_t rx_dropped_filter;
} VirtIONet;

typedef struct VirtIONetPCI {
    VirtIOPCIProxy parent_obj;
    VirtIONet net;
} VirtIONetPCI;

static VirtIONet *to_net(VirtIODevice *vdev)
{
    return (VirtIONet *)vdev;
}

static bool has(VirtIONet *n, unsigned int bit)
{
    return virtio_has_feature(n->parent_obj.guest_features, bit);
}

/* ---- receive filter ---- */

static bool is_broadcast(const uint8_t *mac)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

    return !memcmp(mac, bcast, 6);
}

/* Whether the guest asked for FRAME (Ethernet, no virtio header). */
static bool rx_filter(VirtIONet *n, const uint8_t *frame, size_t len)
{
    const uint8_t *dst = frame;

    if (len < 14) {
        return false;
    }
    if (n->promisc) {
        return true;
    }
    if (has(n, VIRTIO_NET_F_CTRL_VLAN) && len >= 18 &&
        frame[12] == 0x81 && frame[13] == 0x00) {
        uint16_t vid = (frame[14] << 8 | frame[15]) & 0xfff;

        if (!(n->vlans[vid >> 5] & (1u << (vid & 0x1f)))) {
            return false;
        }
    }
    if (is_broadcast(dst)) {
        return !n->nobcast;
    }
    if (dst[0] & 1) {
        if (n->nomulti) {
            return false;
        }
        if (n->allmulti || n->multi_overflow) {
            return true;
        }
        for (uint32_t i = n->first_multi; i < n->mac_entries; i++) {
            if (!memcmp(dst, &n->macs[i * 6], 6)) {
                return true;
            }
        }
        return false;
    }
    if (n->nouni) {
        return false;
    }
    if (n->alluni || n->uni_overflow || !memcmp(dst, n->mac, 6)) {
        return true;
    }
    for (uint32_t i = 0; i < n->first_multi; i++) {
        if (!memcmp(dst, &n->macs[i * 6], 6)) {
            return true;
        }
    }
    return false;
}

/* NIC_RX_FILTER_CHANGED: once, until the next query-rx-filter. */
static void rx_filter_changed(VirtIONet *n)
{
    JsonBuilder *b;
    g_autofree char *path = NULL;

    if (!n->rx_filter_notify) {
        return;
    }
    n->rx_filter_notify = false;
    path = object_get_canonical_path(OBJECT(container_of(n, VirtIONetPCI,
                                                         net)));
    b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, n->name);
    json_builder_set_member_name(b, "path");
    json_builder_add_string_value(b, path);
    json_builder_end_object(b);
    qmp_event_send("NIC_RX_FILTER_CHANGED", json_builder_get_root(b));
    g_object_unref(b);
}

/* ---- receive ---- */

static bool virtio_net_can_receive(void *opaque, unsigned int qi)
{
    VirtIONet *n = opaque;
    VirtIONetQueue *q = &n->q[qi];

    return runstate_is_running() && virtio_device_ok(&n->parent_obj) &&
           qi < n->curr_pairs && q->rx->enabled && !q->rx_empty;
}

/*
 * One frame into the receive queue: the header (ours, or the backend's
 * with num_buffers filled in) then the frame, in one chain or, with
 * MRG_RXBUF, as many as it takes. false, with every chain given back,
 * when the queue has not enough room: the frame waits in the backend.
 */
static bool virtio_net_receive(void *opaque, unsigned int qi,
                               const struct iovec *iov, int iovcnt)
{
    VirtIONet *n = opaque;
    VirtIODevice *vdev = &n->parent_obj;
    VirtIONetQueue *q = &n->q[qi];
    VirtQueueElement *elems[VIRTQUEUE_MAX_SIZE];
    uint32_t lens[VIRTQUEUE_MAX_SIZE];
    unsigned int nelem = 0;
    size_t total = 0, off = 0, len;
    uint8_t *buf = n->buf;

    for (int i = 0; i < iovcnt; i++) {
        if (total + iov[i].iov_len > NET_BUF_SIZE) {
            return true; /* larger than any frame: drop */
        }
        memcpy(buf + total + (n->vnet_hdr ? 0 : NET_HDR_LEN),
               iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    if (!n->vnet_hdr) {
        memset(buf, 0, NET_HDR_LEN);
        total += NET_HDR_LEN;
    } else if (total < NET_HDR_LEN) {
        return true;
    }
    if (!rx_filter(n, buf + NET_HDR_LEN, total - NET_HDR_LEN)) {
        n->rx_dropped_filter++;
        return true;
    }
    while (off < total) {
        VirtQueueElement *e = nelem < VIRTQUEUE_MAX_SIZE
                                  ? virtqueue_pop(q->rx) : NULL;

        if (!e || e->out_num || (!nelem && e->in_len < NET_HDR_LEN) ||
            (!has(n, VIRTIO_NET_F_MRG_RXBUF) && e->in_len < total)) {
            bool bad = e && (e->out_num || (!nelem &&
                                            e->in_len < NET_HDR_LEN));
            uint64_t in_len = e ? e->in_len : 0;

            /* Give back what was taken, last first. */
            if (e) {
                virtqueue_unpop(q->rx, e);
                g_free(e);
            }
            while (nelem--) {
                virtqueue_unpop(q->rx, elems[nelem]);
                g_free(elems[nelem]);
            }
            if (bad) {
                virtio_error(vdev, "%s: receive buffer of %" PRIu64 " bytes "
                             "with device-readable parts or no room for "
                             "the header", n->name, in_len);
                return true; /* dropped: the device is broken now */
            }
            /* Not enough room: the frame waits for a kick. */
            q->rx_empty = true;
            trace_virtio_net_rx_full(n->name, qi);
            return false;
        }
        len = MIN(e->in_len, total - off);
        virtqueue_elem_write(vdev, e, 0, buf + off, len);
        lens[nelem] = len;
        elems[nelem++] = e;
        off += len;
    }
    if (!nelem) {
        return true; /* not reached: a frame has at least its header */
    }
    /* num_buffers, into the first chain's header. */
    {
        uint8_t nb[2];

        put_le16(nb, has(n, VIRTIO_NET_F_MRG_RXBUF) ? nelem : 1);
        virtqueue_elem_write(vdev, elems[0], HDR_NUM_BUFFERS, nb, 2);
    }
    for (unsigned int i = 0; i < nelem; i++) {
        virtqueue_push(q->rx, elems[i], lens[i]);
        g_free(elems[i]);
    }
    virtio_notify(vdev, q->rx);
    trace_virtio_net_rx(n->name, qi, total, nelem);
    return true;
}

/* The driver added receive buffers: take what waits in the backend. */
static void virtio_net_handle_rx(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONet *n = to_net(vdev);
    unsigned int qi = vq->queue_index / 2;

    n->q[qi].rx_empty = false;
    if (n->nic) {
        net_nic_receive_ready(n->nic, qi);
    }
}

static void virtio_net_rx_kick_all(VirtIONet *n)
{
    for (unsigned int i = 0; i < n->curr_pairs; i++) {
        n->q[i].rx_empty = false;
        if (n->nic) {
            net_nic_receive_ready(n->nic, i);
        }
    }
}

/* The guest runs again (start, cont, the end of a migration or update). */
static void virtio_net_vm_state(void *opaque, bool running, RunState state)
{
    if (running) {
        virtio_net_rx_kick_all(opaque);
    }
}

/* ---- transmit ---- */

static void virtio_net_flush_tx(VirtIONetQueue *q);

static gboolean virtio_net_tx_more(gpointer opaque)
{
    VirtIONetQueue *q = opaque;

    q->tx_more = 0;
    virtio_net_flush_tx(q);
    return G_SOURCE_REMOVE;
}

static void virtio_net_flush_tx(VirtIONetQueue *q)
{
    VirtIONet *n = q->n;
    VirtIODevice *vdev = &n->parent_obj;
    VirtQueueElement *e;
    unsigned int sent = 0;

    while (sent < TX_BURST && (e = virtqueue_pop(q->tx))) {
        struct iovec iov;
        size_t len;

        if (e->in_num || e->out_len < NET_HDR_LEN ||
            e->out_len > NET_BUF_SIZE) {
            uint64_t out_len = e->out_len;
            unsigned int in_num = e->in_num;

            virtqueue_unpop(q->tx, e);
            g_free(e);
            virtio_error(vdev, "%s: transmit chain of %" PRIu64 " bytes "
                         "(%u device-writable parts)", n->name, out_len,
                         in_num);
            return;
        }
        len = virtqueue_elem_read(vdev, e, 0, n->buf, e->out_len);
        iov.iov_base = n->buf + (n->vnet_hdr ? 0 : NET_HDR_LEN);
        iov.iov_len = len - (n->vnet_hdr ? 0 : NET_HDR_LEN);
        if (n->nic) {
            net_nic_send(n->nic, q->index, &iov, 1);
        }
        virtqueue_push(q->tx, e, 0);
        g_free(e);
        sent++;
    }
    if (sent) {
        virtio_notify(vdev, q->tx);
        trace_virtio_net_tx(n->name, q->index, sent);
    }
    if (sent == TX_BURST && !q->tx_more) {
        q->tx_more = g_idle_add(virtio_net_tx_more, q);
    }
}

static void virtio_net_handle_tx(VirtIODevice *vdev, VirtQueue *vq)
{
    virtio_net_flush_tx(&to_net(vdev)->q[vq->queue_index / 2]);
}

/* ---- control queue ---- */

static uint8_t ctrl_rx(VirtIONet *n, uint8_t cmd, const uint8_t *d,
                       size_t len)
{
    uint8_t *flag;

    if (len != 1) {
        return VIRTIO_NET_ERR;
    }
    switch (cmd) {
    case CTRL_RX_PROMISC: flag = &n->promisc; break;
    case CTRL_RX_ALLMULTI: flag = &n->allmulti; break;
    case CTRL_RX_ALLUNI: flag = &n->alluni; break;
    case CTRL_RX_NOMULTI: flag = &n->nomulti; break;
    case CTRL_RX_NOUNI: flag = &n->nouni; break;
    case CTRL_RX_NOBCAST: flag = &n->nobcast; break;
    default:
        return VIRTIO_NET_ERR;
    }
    if (cmd > CTRL_RX_ALLMULTI && !has(n, VIRTIO_NET_F_CTRL_RX_EXTRA)) {
        return VIRTIO_NET_ERR;
    }
    *flag = !!d[0];
    rx_filter_changed(n);
    return VIRTIO_NET_OK;
}

/* TABLE_SET: le32 entries + macs (unicast), le32 entries + macs (multi). */
static uint8_t ctrl_mac(VirtIONet *n, uint8_t cmd, const uint8_t *d,
                        size_t len)
{
    uint32_t uni, multi;

    if (cmd == CTRL_MAC_ADDR_SET) {
        if (len != 6 || !has(n, VIRTIO_NET_F_CTRL_MAC_ADDR)) {
            return VIRTIO_NET_ERR;
        }
        memcpy(n->mac, d, 6);
        rx_filter_changed(n);
        return VIRTIO_NET_OK;
    }
    if (cmd != CTRL_MAC_TABLE_SET || len < 4) {
        return VIRTIO_NET_ERR;
    }
    uni = get_le32(d);
    if (uni > (len - 4) / 6 || len - 4 - uni * 6 < 4) {
        return VIRTIO_NET_ERR;
    }
    d += 4;
    len -= 4;
    {
        const uint8_t *m = d + uni * 6;

        multi = get_le32(m);
        if (multi > (len - uni * 6 - 4) / 6 ||
            len - uni * 6 - 4 != multi * 6) {
            return VIRTIO_NET_ERR;
        }
        n->mac_entries = 0;
        n->uni_overflow = uni > MAC_TABLE_ENTRIES;
        if (!n->uni_overflow) {
            memcpy(n->macs, d, uni * 6);
            n->mac_entries = uni;
        }
        n->first_multi = n->mac_entries;
        n->multi_overflow = multi > MAC_TABLE_ENTRIES - n->mac_entries;
        if (!n->multi_overflow) {
            memcpy(&n->macs[n->mac_entries * 6], m + 4, multi * 6);
            n->mac_entries += multi;
        }
    }
    rx_filter_changed(n);
    return VIRTIO_NET_OK;
}

static uint8_t ctrl_vlan(VirtIONet *n, uint8_t cmd, const uint8_t *d,
                         size_t len)
{
    uint16_t vid;

    if (len != 2) {
        return VIRTIO_NET_ERR;
    }
    vid = get_le16(d);
    if (vid >= MAX_VLAN) {
        return VIRTIO_NET_ERR;
    }
    if (cmd == CTRL_VLAN_ADD) {
        n->vlans[vid >> 5] |= 1u << (vid & 0x1f);
    } else if (cmd == CTRL_VLAN_DEL) {
        n->vlans[vid >> 5] &= ~(1u << (vid & 0x1f));
    } else {
        return VIRTIO_NET_ERR;
    }
    rx_filter_changed(n);
    return VIRTIO_NET_OK;
}

/* Guest offloads: TUNSETOFFLOAD on the tap. */
static bool virtio_net_apply_offloads(VirtIONet *n, uint64_t o,
                                      GError **errp)
{
    if (!n->vnet_hdr) {
        return true;
    }
    return net_nic_set_offload(n->nic,
                               o & (1ull << VIRTIO_NET_F_GUEST_CSUM),
                               o & (1ull << VIRTIO_NET_F_GUEST_TSO4),
                               o & (1ull << VIRTIO_NET_F_GUEST_TSO6),
                               o & (1ull << VIRTIO_NET_F_GUEST_ECN),
                               o & (1ull << VIRTIO_NET_F_GUEST_UFO), errp);
}

static uint64_t guest_offload_mask(void)
{
    return (1ull << VIRTIO_NET_F_GUEST_CSUM) |
           (1ull << VIRTIO_NET_F_GUEST_TSO4) |
           (1ull << VIRTIO_NET_F_GUEST_TSO6) |
           (1ull << VIRTIO_NET_F_GUEST_ECN) |
           (1ull << VIRTIO_NET_F_GUEST_UFO);
}

static uint8_t ctrl_offloads(VirtIONet *n, uint8_t cmd, const uint8_t *d,
                             size_t len)
{
    uint64_t o;
    GError *err = NULL;

    if (cmd != CTRL_GUEST_OFFLOADS_SET || len != 8 ||
        !has(n, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) {
        return VIRTIO_NET_ERR;
    }
    o = get_le64(d);
    if (o & ~(n->parent_obj.guest_features & guest_offload_mask())) {
        return VIRTIO_NET_ERR;
    }
    if (!virtio_net_apply_offloads(n, o, &err)) {
        warn_report("%s: %s", n->name, err->message);
        g_error_free(err);
        return VIRTIO_NET_ERR;
    }
    n->offloads = o;
    return VIRTIO_NET_OK;
}

static uint8_t ctrl_mq(VirtIONet *n, uint8_t cmd, const uint8_t *d,
                       size_t len)
{
    uint16_t pairs;

    if (cmd != CTRL_MQ_VQ_PAIRS_SET || len != 2 ||
        !has(n, VIRTIO_NET_F_MQ)) {
        return VIRTIO_NET_ERR;
    }
    pairs = get_le16(d);
    if (pairs < 1 || pairs > n->max_pairs) {
        return VIRTIO_NET_ERR;
    }
    n->curr_pairs = pairs;
    virtio_net_rx_kick_all(n);
    return VIRTIO_NET_OK;
}

static void virtio_net_handle_ctrl(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONet *n = to_net(vdev);
    VirtQueueElement *e;

    while ((e = virtqueue_pop(vq))) {
        uint8_t hdr[2], ack = VIRTIO_NET_ERR;
        g_autofree uint8_t *data = NULL;
        size_t len;

        if (e->out_len < 2 || e->out_len > 4096 || e->in_len < 1) {
            uint64_t out_len = e->out_len, in_len = e->in_len;

            virtqueue_unpop(vq, e);
            g_free(e);
            virtio_error(vdev, "%s: control chain of %" PRIu64 "+%" PRIu64
                         " bytes", n->name, out_len, in_len);
            return;
        }
        virtqueue_elem_read(vdev, e, 0, hdr, 2);
        len = e->out_len - 2;
        data = g_malloc(len + 1);
        virtqueue_elem_read(vdev, e, 2, data, len);
        switch (hdr[0]) {
        case CTRL_RX:
            ack = has(n, VIRTIO_NET_F_CTRL_RX) ? ctrl_rx(n, hdr[1], data, len)
                                               : VIRTIO_NET_ERR;
            break;
        case CTRL_MAC:
            ack = has(n, VIRTIO_NET_F_CTRL_RX) ||
                  hdr[1] == CTRL_MAC_ADDR_SET
                      ? ctrl_mac(n, hdr[1], data, len) : VIRTIO_NET_ERR;
            break;
        case CTRL_VLAN:
            ack = has(n, VIRTIO_NET_F_CTRL_VLAN)
                      ? ctrl_vlan(n, hdr[1], data, len) : VIRTIO_NET_ERR;
            break;
        case CTRL_ANNOUNCE:
            if (hdr[1] == CTRL_ANNOUNCE_ACK &&
                has(n, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
                n->status &= ~VIRTIO_NET_S_ANNOUNCE;
                ack = VIRTIO_NET_OK;
            }
            break;
        case CTRL_MQ:
            ack = ctrl_mq(n, hdr[1], data, len);
            break;
        case CTRL_GUEST_OFFLOADS:
            ack = ctrl_offloads(n, hdr[1], data, len);
            break;
        }
        trace_virtio_net_ctrl(n->name, hdr[0], hdr[1], ack);
        virtqueue_elem_write(vdev, e, 0, &ack, 1);
        virtqueue_push(vq, e, 1);
        g_free(e);
    }
    virtio_notify(vdev, vq);
}

/* ---- device hooks ---- */

static uint64_t virtio_net_get_features(VirtIODevice *vdev)
{
    VirtIONet *n = to_net(vdev);
    uint64_t f = 1ull << VIRTIO_NET_F_MAC;
    bool off = n->vnet_hdr;

#define OFFER(cond, bit) \
    do { if (cond) { f |= 1ull << (bit); } } while (0)
    OFFER(n->status_prop, VIRTIO_NET_F_STATUS);
    OFFER(n->mrg_rxbuf, VIRTIO_NET_F_MRG_RXBUF);
    OFFER(n->ctrl_vq, VIRTIO_NET_F_CTRL_VQ);
    OFFER(n->ctrl_vq && n->ctrl_rx, VIRTIO_NET_F_CTRL_RX);
    OFFER(n->ctrl_vq && n->ctrl_vlan, VIRTIO_NET_F_CTRL_VLAN);
    OFFER(n->ctrl_vq && n->ctrl_rx_extra, VIRTIO_NET_F_CTRL_RX_EXTRA);
    OFFER(n->ctrl_vq && n->ctrl_mac_addr, VIRTIO_NET_F_CTRL_MAC_ADDR);
    OFFER(n->ctrl_vq && n->guest_announce, VIRTIO_NET_F_GUEST_ANNOUNCE);
    OFFER(n->ctrl_vq && n->max_pairs > 1, VIRTIO_NET_F_MQ);
    OFFER(n->host_mtu, VIRTIO_NET_F_MTU);
    /* Offloads only through a backend that carries the header. */
    OFFER(off && n->csum, VIRTIO_NET_F_CSUM);
    OFFER(off && n->csum && n->gso && n->host_tso4, VIRTIO_NET_F_HOST_TSO4);
    OFFER(off && n->csum && n->gso && n->host_tso6, VIRTIO_NET_F_HOST_TSO6);
    OFFER(off && n->csum && n->gso && n->host_ecn, VIRTIO_NET_F_HOST_ECN);
    OFFER(off && n->guest_csum, VIRTIO_NET_F_GUEST_CSUM);
    OFFER(off && n->guest_csum && n->gso && n->guest_tso4,
          VIRTIO_NET_F_GUEST_TSO4);
    OFFER(off && n->guest_csum && n->gso && n->guest_tso6,
          VIRTIO_NET_F_GUEST_TSO6);
    OFFER(off && n->guest_csum && n->gso && n->guest_ecn,
          VIRTIO_NET_F_GUEST_ECN);
    OFFER(off && n->ctrl_vq && n->ctrl_guest_offloads,
          VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
#undef OFFER
    return f;
}

static void virtio_net_get_config(VirtIODevice *vdev, uint8_t *c)
{
    VirtIONet *n = to_net(vdev);

    memset(c, 0, CFG_SIZE);
    memcpy(c + CFG_MAC, n->mac, 6);
    put_le16(c + CFG_STATUS, n->status);
    put_le16(c + CFG_MAX_PAIRS, n->max_pairs);
    put_le16(c + CFG_MTU, n->host_mtu);
}

/* Without CTRL_MAC_ADDR a driver sets its MAC by writing the config. */
static void virtio_net_set_config(VirtIODevice *vdev, const uint8_t *c)
{
    VirtIONet *n = to_net(vdev);

    if (!has(n, VIRTIO_NET_F_CTRL_MAC_ADDR) &&
        memcmp(c + CFG_MAC, n->mac, 6)) {
        memcpy(n->mac, c + CFG_MAC, 6);
        rx_filter_changed(n);
    }
}

static void virtio_net_set_status(VirtIODevice *vdev, uint8_t status)
{
    VirtIONet *n = to_net(vdev);
    GError *err = NULL;

    if (status & VIRTIO_CONFIG_S_FEATURES_OK) {
        n->offloads = vdev->guest_features & guest_offload_mask();
        if (!has(n, VIRTIO_NET_F_CTRL_VLAN)) {
            memset(n->vlans, 0xff, sizeof(n->vlans));
        }
    }
    if (status & VIRTIO_CONFIG_S_DRIVER_OK) {
        if (!virtio_net_apply_offloads(n, n->offloads, &err)) {
            warn_report("%s: %s", n->name, err->message);
            g_clear_error(&err);
        }
        virtio_net_rx_kick_all(n);
    }
}

/* QEMU's reset values: promiscuous until the driver says otherwise. */
static void virtio_net_reset_filter(VirtIONet *n)
{
    n->promisc = 1;
    n->allmulti = n->alluni = n->nomulti = n->nouni = n->nobcast = 0;
    n->mac_entries = n->first_multi = 0;
    n->uni_overflow = n->multi_overflow = 0;
    memset(n->macs, 0, sizeof(n->macs));
    memset(n->vlans, 0, sizeof(n->vlans));
}

static void virtio_net_reset(VirtIODevice *vdev)
{
    VirtIONet *n = to_net(vdev);

    virtio_net_reset_filter(n);
    n->curr_pairs = 1;
    n->offloads = 0;
    n->status &= ~VIRTIO_NET_S_ANNOUNCE;
    for (unsigned int i = 0; i < n->max_pairs; i++) {
        n->q[i].rx_empty = false;
        if (n->q[i].tx_more) {
            g_source_remove(n->q[i].tx_more);
            n->q[i].tx_more = 0;
        }
    }
}

/* Nothing is in flight between two main-loop turns: transmit is synchronous. */
static void virtio_net_drain(VirtIODevice *vdev)
{
    VirtIONet *n = to_net(vdev);

    for (unsigned int i = 0; i < n->max_pairs; i++) {
        if (n->q[i].tx_more) {
            g_source_remove(n->q[i].tx_more);
            n->q[i].tx_more = 0;
            virtio_net_flush_tx(&n->q[i]);
        }
    }
}

static const VirtioDeviceClass virtio_net_class = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .pci_class = 0x0200, /* Ethernet controller */
    .get_features = virtio_net_get_features,
    .get_config = virtio_net_get_config,
    .set_config = virtio_net_set_config,
    .set_status = virtio_net_set_status,
    .reset = virtio_net_reset,
    .drain = virtio_net_drain,
};

/* ---- query-rx-filter ---- */

static const char *rx_mode(bool all, bool none, bool overflow)
{
    return none ? "none" : (all || overflow) ? "all" : "normal";
}

static void add_mac(JsonBuilder *b, const uint8_t *m)
{
    g_autofree char *s = g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x",
                                         m[0], m[1], m[2], m[3], m[4], m[5]);

    json_builder_add_string_value(b, s);
}

static void rx_filter_info(void *opaque, JsonBuilder *b)
{
    VirtIONet *n = opaque;
    bool vlan_on = has(n, VIRTIO_NET_F_CTRL_VLAN);

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, n->name);
    json_builder_set_member_name(b, "promiscuous");
    json_builder_add_boolean_value(b, n->promisc);
    json_builder_set_member_name(b, "multicast");
    json_builder_add_string_value(b, rx_mode(n->allmulti, n->nomulti,
                                             n->multi_overflow));
    json_builder_set_member_name(b, "unicast");
    json_builder_add_string_value(b, rx_mode(n->alluni, n->nouni,
                                             n->uni_overflow));
    json_builder_set_member_name(b, "vlan");
    json_builder_add_string_value(b, vlan_on ? "normal" : "all");
    json_builder_set_member_name(b, "broadcast-allowed");
    json_builder_add_boolean_value(b, !n->nobcast);
    json_builder_set_member_name(b, "multicast-overflow");
    json_builder_add_boolean_value(b, n->multi_overflow);
    json_builder_set_member_name(b, "unicast-overflow");
    json_builder_add_boolean_value(b, n->uni_overflow);
    json_builder_set_member_name(b, "main-mac");
    add_mac(b, n->mac);
    json_builder_set_member_name(b, "vlan-table");
    json_builder_begin_array(b);
    for (unsigned int vid = 0; vlan_on && vid < MAX_VLAN; vid++) {
        if (n->vlans[vid >> 5] & (1u << (vid & 0x1f))) {
            json_builder_add_int_value(b, vid);
        }
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "unicast-table");
    json_builder_begin_array(b);
    for (uint32_t i = 0; i < n->first_multi; i++) {
        add_mac(b, &n->macs[i * 6]);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "multicast-table");
    json_builder_begin_array(b);
    for (uint32_t i = n->first_multi; i < n->mac_entries; i++) {
        add_mac(b, &n->macs[i * 6]);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    /* QEMU re-arms the change event when the filter is queried. */
    n->rx_filter_notify = true;
}

/* ---- the NIC side ---- */

static void virtio_net_link_changed(void *opaque, bool up)
{
    VirtIONet *n = opaque;
    uint16_t old = n->status;

    n->status = up ? n->status | VIRTIO_NET_S_LINK_UP
                   : n->status & ~VIRTIO_NET_S_LINK_UP;
    if (old != n->status && n->status_prop) {
        virtio_notify_config(&n->parent_obj);
    }
}

static void virtio_net_format_info(void *opaque, GString *out)
{
    VirtIONet *n = opaque;

    g_string_append_printf(out, "model=virtio-net-pci,macaddr=%02x:%02x:"
                           "%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
                           n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
}

static void virtio_net_get_mac(void *opaque, uint8_t *mac)
{
    memcpy(mac, ((VirtIONet *)opaque)->mac, 6);
}

/* Announce: the guest does it itself with GUEST_ANNOUNCE, else a RARP. */
static bool virtio_net_announce(void *opaque)
{
    VirtIONet *n = opaque;

    if (has(n, VIRTIO_NET_F_GUEST_ANNOUNCE) &&
        virtio_device_ok(&n->parent_obj)) {
        n->status |= VIRTIO_NET_S_ANNOUNCE;
        virtio_notify_config(&n->parent_obj);
        return true;
    }
    return false;
}

static const NetNicOps virtio_net_nic_ops = {
    .can_receive = virtio_net_can_receive,
    .receive = virtio_net_receive,
    .link_changed = virtio_net_link_changed,
    .format_info = virtio_net_format_info,
    .get_mac = virtio_net_get_mac,
    .announce = virtio_net_announce,
    .query_rx_filter = rx_filter_info,
};

/* ---- realize ---- */

static bool parse_mac(const char *s, uint8_t *mac)
{
    unsigned int b[6];
    char end;

    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
               &b[5], &end) != 6) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        if (b[i] > 0xff) {
            return false;
        }
        mac[i] = b[i];
    }
    return true;
}

static bool queue_size_ok(const char *what, uint16_t size, GError **errp)
{
    if (size < 256 || size > VIRTQUEUE_MAX_SIZE || (size & (size - 1))) {
        error_setg(errp, "Invalid %s property (= %u), must be a power of 2 "
                   "between 256 and %u", what, size, VIRTQUEUE_MAX_SIZE);
        return false;
    }
    return true;
}

static VirtIODevice *virtio_net_pci_realize_vdev(VirtIOPCIProxy *proxy,
                                                 GError **errp)
{
    VirtIONet *n = &((VirtIONetPCI *)proxy)->net;
    DeviceState *dev = DEVICE(proxy);
    static unsigned int nic_index, anon_index;
    unsigned int pairs = 1;

    if (!queue_size_ok("rx_queue_size", n->rx_queue_size, errp) ||
        !queue_size_ok("tx_queue_size", n->tx_queue_size, errp)) {
        return NULL;
    }
    if (n->mac_str) {
        if (!parse_mac(n->mac_str, n->mac) || (n->mac[0] & 1)) {
            error_setg(errp, "Property 'virtio-net-pci.mac' doesn't take "
                       "value '%s'", n->mac_str);
            return NULL;
        }
    } else {
        /* QEMU's default addresses: 52:54:00:12:34:56, :57, ... */
        static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

        memcpy(n->mac, base, 6);
        n->mac[5] += nic_index;
    }
    nic_index++;
    if (n->netdev && n->mq) {
        pairs = MIN(n->netdev->queues, NET_MAX_QUEUES);
    }
    n->max_pairs = pairs;
    /* QEMU's name for a NIC without id: its model and a count. */
    n->name = dev->id ? g_strdup(dev->id)
                      : g_strdup_printf("%s.%u", TYPE_VIRTIO_NET_PCI,
                                        anon_index++);
    n->nic = net_nic_new(&virtio_net_nic_ops, n, n->name, "virtio-net-pci",
                         n->netdev, pairs, errp);
    if (!n->nic) {
        return NULL;
    }
    n->vnet_hdr = net_nic_has_vnet_hdr(n->nic);
    if (n->vnet_hdr && !net_nic_set_vnet_hdr_len(n->nic, NET_HDR_LEN, errp)) {
        return NULL;
    }
    n->status = VIRTIO_NET_S_LINK_UP;
    n->curr_pairs = 1;
    virtio_net_reset_filter(n);
    virtio_init(&n->parent_obj, &virtio_net_class, CFG_SIZE);
    for (unsigned int i = 0; i < pairs; i++) {
        n->q[i].n = n;
        n->q[i].index = i;
        n->q[i].rx = virtio_add_queue(&n->parent_obj, n->rx_queue_size,
                                      virtio_net_handle_rx);
        n->q[i].tx = virtio_add_queue(&n->parent_obj, n->tx_queue_size,
                                      virtio_net_handle_tx);
    }
    if (n->ctrl_vq) {
        n->ctrl = virtio_add_queue(&n->parent_obj, 64,
                                   virtio_net_handle_ctrl);
    }
    n->buf = g_malloc(NET_BUF_SIZE + NET_HDR_LEN);
    /* Touched only when frames are kept at a migration. */
    n->mig_pending = g_malloc(PENDING_MIG_MAX);
    n->rx_filter_notify = true;
    n->vm_state = vm_add_change_state_handler(virtio_net_vm_state, NULL, n,
                                              VM_CHANGE_STATE_PRIO_DEFAULT);
    return &n->parent_obj;
}

static void virtio_net_pci_unrealize_vdev(VirtIOPCIProxy *proxy)
{
    VirtIONet *n = &((VirtIONetPCI *)proxy)->net;

    for (unsigned int i = 0; i < n->max_pairs; i++) {
        if (n->q[i].tx_more) {
            g_source_remove(n->q[i].tx_more);
        }
    }
    g_clear_pointer(&n->vm_state, vm_del_change_state_handler);
    g_clear_pointer(&n->nic, net_nic_free);
    g_clear_pointer(&n->buf, g_free);
    g_clear_pointer(&n->mig_pending, g_free);
    g_clear_pointer(&n->name, g_free);
}

/* ---- migration ---- */

static bool virtio_net_pci_post_load(void *opaque, int version_id,
                                     GError **errp)
{
    VirtIONetPCI *p = opaque;
    VirtIONet *n = &p->net;

    if (n->curr_pairs < 1 || n->curr_pairs > n->max_pairs ||
        n->first_multi > n->mac_entries ||
        n->mac_entries > MAC_TABLE_ENTRIES) {
        error_setg(errp, "%s: queue pairs %u (of %u) or MAC table %u/%u "
                   "out of range", n->name, n->curr_pairs, n->max_pairs,
                   n->first_multi, n->mac_entries);
        return false;
    }
    if (n->offloads & ~(n->parent_obj.guest_features & guest_offload_mask())) {
        error_setg(errp, "%s: offloads 0x%" PRIx64 " beyond the features",
                   n->name, n->offloads);
        return false;
    }
    /* The link is the backend's now (set_link state is not migrated). */
    n->status = (n->status & ~VIRTIO_NET_S_LINK_UP) |
                (n->nic->link_down ? 0 : VIRTIO_NET_S_LINK_UP);
    if (virtio_device_ok(&n->parent_obj)) {
        GError *err = NULL;

        if (!virtio_net_apply_offloads(n, n->offloads, &err)) {
            warn_report("%s: %s", n->name, err->message);
            g_error_free(err);
        }
    }
    return virtio_pci_post_load(&p->parent_obj, errp);
}

/*
 * Frames the backend had already handed over when the guest stopped
 * (the receive queue was full): they travel, so none is lost with the
 * old process. Only sent when there are some.
 */
static bool virtio_net_pending_needed(void *opaque)
{
    VirtIONet *n = &((VirtIONetPCI *)opaque)->net;

    n->mig_pending_len = net_nic_save_pending(n->nic, n->mig_pending,
                                              PENDING_MIG_MAX);
    return n->mig_pending_len > 0;
}

static bool virtio_net_pending_post_load(void *opaque, int version_id,
                                         GError **errp)
{
    VirtIONet *n = &((VirtIONetPCI *)opaque)->net;

    return net_nic_load_pending(n->nic, n->mig_pending, n->mig_pending_len,
                                errp);
}

static const VMStateDescription vmstate_virtio_net_pending = {
    .name = "virtio-net-pci/pending",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = virtio_net_pending_needed,
    .post_load = virtio_net_pending_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT8_VARRAY_POINTER(net.mig_pending, VirtIONetPCI,
                                         net.mig_pending_len,
                                         PENDING_MIG_MAX),
            VMSTATE_END_OF_LIST(),
        },
};

static const VMStateDescription *const virtio_net_subsections[] = {
    &vmstate_virtio_net_pending,
    NULL,
};

static const VMStateDescription vmstate_virtio_net_pci = {
    .name = "virtio-net-pci",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = virtio_net_pci_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_VIRTIO_PCI(parent_obj, VirtIONetPCI),
            VMSTATE_VIRTIO_DEVICE(net.parent_obj, VirtIONetPCI),
            VMSTATE_BUFFER(net.mac, VirtIONetPCI, 6),
            VMSTATE_UINT16(net.status, VirtIONetPCI),
            VMSTATE_UINT16(net.curr_pairs, VirtIONetPCI),
            VMSTATE_UINT8(net.promisc, VirtIONetPCI),
            VMSTATE_UINT8(net.allmulti, VirtIONetPCI),
            VMSTATE_UINT8(net.alluni, VirtIONetPCI),
            VMSTATE_UINT8(net.nomulti, VirtIONetPCI),
            VMSTATE_UINT8(net.nouni, VirtIONetPCI),
            VMSTATE_UINT8(net.nobcast, VirtIONetPCI),
            VMSTATE_UINT32(net.mac_entries, VirtIONetPCI),
            VMSTATE_UINT32(net.first_multi, VirtIONetPCI),
            VMSTATE_UINT8(net.uni_overflow, VirtIONetPCI),
            VMSTATE_UINT8(net.multi_overflow, VirtIONetPCI),
            VMSTATE_BUFFER(net.macs, VirtIONetPCI, MAC_TABLE_ENTRIES * 6),
            VMSTATE_UINT32_ARRAY(net.vlans, VirtIONetPCI, MAX_VLAN / 32),
            VMSTATE_UINT64(net.offloads, VirtIONetPCI),
            VMSTATE_END_OF_LIST(),
        },
    .subsections = virtio_net_subsections,
};

/* ---- the type ---- */

static const Property virtio_net_pci_props[] = {
    DEFINE_PROP_LINK("netdev", VirtIONetPCI, net.netdev, TYPE_NETDEV,
                     .desc = "ID of the -netdev that carries its frames"),
    DEFINE_PROP("mac", PROP_STRING, VirtIONetPCI, net.mac_str,
                .desc = "MAC address (default 52:54:00:12:34:56 + index)"),
    DEFINE_PROP("mq", PROP_BOOL, VirtIONetPCI, net.mq, .defval = "off",
                .desc = "multiqueue: one queue pair per netdev queue"),
    DEFINE_PROP("csum", PROP_BOOL, VirtIONetPCI, net.csum, .defval = "on"),
    DEFINE_PROP("guest_csum", PROP_BOOL, VirtIONetPCI, net.guest_csum,
                .defval = "on"),
    DEFINE_PROP("gso", PROP_BOOL, VirtIONetPCI, net.gso, .defval = "on"),
    DEFINE_PROP("guest_tso4", PROP_BOOL, VirtIONetPCI, net.guest_tso4,
                .defval = "on"),
    DEFINE_PROP("guest_tso6", PROP_BOOL, VirtIONetPCI, net.guest_tso6,
                .defval = "on"),
    DEFINE_PROP("guest_ecn", PROP_BOOL, VirtIONetPCI, net.guest_ecn,
                .defval = "on"),
    DEFINE_PROP("host_tso4", PROP_BOOL, VirtIONetPCI, net.host_tso4,
                .defval = "on"),
    DEFINE_PROP("host_tso6", PROP_BOOL, VirtIONetPCI, net.host_tso6,
                .defval = "on"),
    DEFINE_PROP("host_ecn", PROP_BOOL, VirtIONetPCI, net.host_ecn,
                .defval = "on"),
    DEFINE_PROP("mrg_rxbuf", PROP_BOOL, VirtIONetPCI, net.mrg_rxbuf,
                .defval = "on"),
    DEFINE_PROP("status", PROP_BOOL, VirtIONetPCI, net.status_prop,
                .defval = "on"),
    DEFINE_PROP("ctrl_vq", PROP_BOOL, VirtIONetPCI, net.ctrl_vq,
                .defval = "on"),
    DEFINE_PROP("ctrl_rx", PROP_BOOL, VirtIONetPCI, net.ctrl_rx,
                .defval = "on"),
    DEFINE_PROP("ctrl_vlan", PROP_BOOL, VirtIONetPCI, net.ctrl_vlan,
                .defval = "on"),
    DEFINE_PROP("ctrl_rx_extra", PROP_BOOL, VirtIONetPCI, net.ctrl_rx_extra,
                .defval = "on"),
    DEFINE_PROP("ctrl_mac_addr", PROP_BOOL, VirtIONetPCI, net.ctrl_mac_addr,
                .defval = "on"),
    DEFINE_PROP("ctrl_guest_offloads", PROP_BOOL, VirtIONetPCI,
                net.ctrl_guest_offloads, .defval = "on"),
    DEFINE_PROP("guest_announce", PROP_BOOL, VirtIONetPCI,
                net.guest_announce, .defval = "on"),
    DEFINE_PROP("rx_queue_size", PROP_UINT16, VirtIONetPCI,
                net.rx_queue_size, .defval = "256"),
    DEFINE_PROP("tx_queue_size", PROP_UINT16, VirtIONetPCI,
                net.tx_queue_size, .defval = "256"),
    DEFINE_PROP("host_mtu", PROP_UINT16, VirtIONetPCI, net.host_mtu,
                .defval = "0", .desc = "MTU offered to the guest (0: none)"),
    {NULL},
};

static void virtio_net_pci_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);
    VirtIOPCIClass *vpc = VIRTIO_PCI_CLASS(oc);

    device_class_set_props(dc, virtio_net_pci_props);
    dc->user_creatable = true;
    dc->vmsd = &vmstate_virtio_net_pci;
    vpc->realize_vdev = virtio_net_pci_realize_vdev;
    vpc->unrealize_vdev = virtio_net_pci_unrealize_vdev;
    pc->device_id = 0x1041;
    pc->class_id = 0x0200;
    /*
     * Queues and filters migrate; the backend's fds (a tap's) are the
     * netdev's, handed over; frames that arrive during the pause wait in
     * the tap's queue and are read once the guest runs again.
     */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "virtio network device (modern virtio-pci)";
}

static const TypeInfo virtio_net_pci_type = {
    .name = TYPE_VIRTIO_NET_PCI,
    .parent = TYPE_VIRTIO_PCI,
    .instance_size = sizeof(VirtIONetPCI),
    .class_init = virtio_net_pci_class_init,
};

static void virtio_net_register_types(void)
{
    type_register(&virtio_net_pci_type);
}

type_init(virtio_net_register_types)
