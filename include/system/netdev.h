/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Networking: host-side backends (-netdev tap, user) and the NICs (guest
 * network devices) they feed, one NIC per backend. Packets are Ethernet
 * frames; when a tap and its NIC agree on a virtio-net header
 * (vnet_hdr), each frame starts with that header in both directions.
 *
 * Flow control is the NIC's: a backend delivers a frame only while the
 * NIC can take one (can_receive) and otherwise stops reading its host
 * side, so frames wait where the host queues them (a tap's kernel queue)
 * instead of being dropped by baton. A stopped guest takes nothing: across
 * a pause or a live update, frames wait in the tap's queue and arrive
 * after it, in order. A backend that cannot leave frames on its host side
 * (user networking) queues a bounded number and counts what it drops.
 *
 * Netdevs are objects at /netdevs/ID (link type "netdev"), so a NIC's
 * netdev=ID property finds its backend. A tap's fds are handed to the new
 * process of a live update, never opened or configured again.
 * All functions: main thread, big lock held.
 */
#ifndef BATON_SYSTEM_NETDEV_H
#define BATON_SYSTEM_NETDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "hw/core/object.h"
#include "util/option.h"

#define TYPE_NETDEV "netdev"

/* Most queue pairs a netdev or NIC has (a multiqueue tap's queues=). */
#define NET_MAX_QUEUES 16

typedef struct NetDev NetDev;
typedef struct NetNic NetNic;

/* What a NIC gives the network layer. */
typedef struct NetNicOps {
    /* Whether queue Q can take a host-to-guest frame now. */
    bool (*can_receive)(void *opaque, unsigned int q);
    /*
     * One frame for queue Q. Returns false when the NIC cannot take it
     * after all: the backend keeps it and offers it again after
     * net_nic_receive_ready().
     */
    bool (*receive)(void *opaque, unsigned int q, const struct iovec *iov,
                    int iovcnt);
    /* The link went up or down (set_link on the NIC or its netdev). */
    void (*link_changed)(void *opaque, bool up);
    /* info network's "model=...,macaddr=..." part of the NIC's line. */
    void (*format_info)(void *opaque, GString *out);
    /* Its MAC address now (announcements are sent from it). */
    void (*get_mac)(void *opaque, uint8_t *mac);
    /*
     * Announce round: true if the guest announces itself (virtio-net's
     * GUEST_ANNOUNCE); false lets the network layer send a RARP.
     */
    bool (*announce)(void *opaque);
    /* query-rx-filter: its filter as one RxFilterInfo object into B. */
    void (*query_rx_filter)(void *opaque, JsonBuilder *b);
} NetNicOps;

struct NetNic {
    char *name;                 /* its id, or QEMU's implicit name */
    const char *model;          /* "virtio-net-pci" */
    const NetNicOps *ops;
    void *opaque;
    NetDev *netdev;             /* NULL: a NIC with no backend */
    unsigned int queues;
    bool link_down;
};

struct NetDev {
    Object parent_obj;

    char *id;
    unsigned int queues;        /* queue pairs */
    bool link_down;
    NetNic *nic;                /* the NIC attached, or NULL */
    bool vnet_hdr_on;           /* frames carry a virtio-net header */
    size_t vnet_hdr_len;

    /* Frames produced while the NIC could take none (per queue). */
    GQueue pending[NET_MAX_QUEUES];
    unsigned int pending_max;
    uint64_t dropped;           /* host-to-guest frames baton dropped */
};

/*
 * The backends' hooks (backends/tap.c, backends/slirp.c), each a class
 * "netdev-TYPE" under TYPE_NETDEV.
 */
typedef struct NetDevClass {
    ObjectClass parent_class;

    const char *type_name;      /* "tap", "user": -netdev's first word */
    /* Options besides type and id; NULL-terminated. */
    const char *const *known_opts;
    /* Parse OPTS and open the host side (or adopt it after a live update). */
    bool (*open)(NetDev *nd, const OptList *opts, GError **errp);
    /* Guest to host, queue Q. */
    void (*send)(NetDev *nd, unsigned int q, const struct iovec *iov,
                 int iovcnt);
    /* The NIC can take frames on Q again: resume reading the host side. */
    void (*poll_rx)(NetDev *nd, unsigned int q);
    bool (*has_vnet_hdr)(NetDev *nd);
    bool (*set_vnet_hdr_len)(NetDev *nd, size_t len, GError **errp);
    bool (*set_offload)(NetDev *nd, bool csum, bool tso4, bool tso6,
                        bool ecn, bool ufo, GError **errp);
    /* info network's "ifname=...,script=no,..." part (after type=). */
    void (*format_info)(NetDev *nd, GString *out);
} NetDevClass;

#define NETDEV_GET_CLASS(obj) OBJECT_GET_CLASS(NetDevClass, obj, TYPE_NETDEV)

/* Parse and open one -netdev (type=... first, as QEMU's implied key). */
NetDev *netdev_new(const OptList *opts, GError **errp);
NetDev *netdev_find(const char *id);
/* Netdevs in creation order (GPtrArray of NetDev *, /netdevs' children). */
const GPtrArray *netdev_list(void);
/* Remove every netdev (each closes once unreferenced). */
void netdev_cleanup_all(void);

/*
 * A NIC named NAME of MODEL with QUEUES queue pairs, fed by ND (may be
 * NULL). Fails if ND has another NIC or fewer queues. Frames start to
 * flow once OPS->can_receive says so.
 */
NetNic *net_nic_new(const NetNicOps *ops, void *opaque, const char *name,
                    const char *model, NetDev *nd, unsigned int queues,
                    GError **errp);
void net_nic_free(NetNic *nic);

/*
 * Guest to host on queue Q. Dropped (as a cable would) when either
 * link is down or the NIC has no backend.
 */
void net_nic_send(NetNic *nic, unsigned int q, const struct iovec *iov,
                  int iovcnt);
/* Queue Q can take frames again (after a refusal, or on resume). */
void net_nic_receive_ready(NetNic *nic, unsigned int q);

/*
 * The frames kept for the NIC (taken from the backend, not delivered
 * yet), so a migration or live update carries them: at most MAX bytes
 * of records into BUF (what does not fit is left out and counted as
 * dropped); returns the bytes used. The frames stay kept here, for a
 * failed migration. Load appends them (validated; false + errp).
 */
size_t net_nic_save_pending(NetNic *nic, uint8_t *buf, size_t max);
bool net_nic_load_pending(NetNic *nic, const uint8_t *buf, size_t len,
                          GError **errp);

/* Whether the backend can carry a virtio-net header (a vnet_hdr tap). */
bool net_nic_has_vnet_hdr(NetNic *nic);
/* Use a virtio-net header of LEN bytes (10 or 12) in both directions. */
bool net_nic_set_vnet_hdr_len(NetNic *nic, size_t len, GError **errp);
bool net_nic_set_offload(NetNic *nic, bool csum, bool tso4, bool tso6,
                         bool ecn, bool ufo, GError **errp);

/*
 * For backends: offer one host-to-guest frame on Q. Delivered now if the
 * NIC can take it; otherwise kept (up to pending_max frames per queue,
 * then dropped and counted) until net_nic_receive_ready(). Dropped when
 * a link is down. A backend that can leave frames on its host side (tap)
 * checks netdev_can_receive() first and leaves them there instead: it
 * is false while a kept frame waits, so a NIC that refuses a frame in
 * receive() (its can_receive was optimistic) costs one kept frame.
 */
void netdev_deliver(NetDev *nd, unsigned int q, const struct iovec *iov,
                    int iovcnt);
bool netdev_can_receive(NetDev *nd, unsigned int q);

/*
 * set_link (QMP and HMP): NAME is a NIC's or a netdev's id. A netdev's
 * NIC goes down with it; a NIC's netdev does not (QEMU's rule).
 */
bool net_set_link(const char *name, bool up, GError **errp);

/* HMP "info network", QEMU's layout. */
void net_format_info(GString *out);

/*
 * Announce the NICs so switches learn where the guest is now (after an
 * incoming migration; QMP announce-self): ROUNDS rounds, the first after
 * INITIAL ms, each next STEP ms later than the one before, at most MAX
 * ms apart (QEMU's announce-* parameters). Each round a NIC's guest
 * announces itself, or baton sends a RARP from the NIC's MAC. IFACES
 * (NULL: all) names the NICs. A new announcement replaces a running one.
 */
void net_announce(uint64_t initial, uint64_t max, uint64_t rounds,
                  uint64_t step, char **ifaces);

#endif
