/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -netdev tap: a host tap interface, opened by name (ifname=, created if
 * missing) or passed as open descriptors (fd=, fds= — what libvirt
 * does), one fd per queue pair (queues= makes a multiqueue tap). The
 * fds are handed to the new process of a live update and adopted as
 * they are: no TUNSETIFF, no header or offload change, so frames queued
 * in the kernel meanwhile stay there and are read after the pause.
 * baton never runs network scripts (QEMU's script=/downscript= default
 * to /etc/qemu-ifup; here only "no" is accepted).
 */
#include "util/osdep.h"

#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <glib-unix.h>

#include "migration/cpr.h"
#include "monitor/fds.h"
#include "system/netdev.h"
#include "trace.h"
#include "util/error-report.h"

#define TYPE_NETDEV_TAP "netdev-tap"
/* Largest frame a tap hands out (64 KiB GSO frame + virtio-net header). */
#define TAP_BUFSIZE (65536 + 64)
/* Frames read per wakeup before other sources get their turn. */
#define TAP_READ_BATCH 64

typedef struct TapQueue {
    struct TapState *tap;
    unsigned int index;
    int fd;
    guint watch;        /* G_IO_IN source while the NIC can take frames */
} TapQueue;

typedef struct TapState {
    NetDev parent_obj;

    TapQueue q[NET_MAX_QUEUES];
    char ifname[IFNAMSIZ];
    bool from_fd;       /* fd=/fds=: the user's descriptors */
    bool vnet_hdr;      /* opened with IFF_VNET_HDR */
    size_t hdr_len;     /* the tap's current header length (if vnet_hdr) */
    uint8_t *buf;
    uint64_t tx_dropped;
} TapState;

static const char *const tap_opts[] = {
    "ifname", "fd", "fds", "script", "downscript", "vnet_hdr", "queues",
    "vhost", "vhostforce", "sndbuf", NULL,
};

static void tap_watch(TapQueue *tq, bool on);

/* ---- host to guest ---- */

static gboolean tap_readable(gint fd, GIOCondition cond, gpointer opaque)
{
    TapQueue *tq = opaque;
    TapState *t = tq->tap;
    NetDev *nd = &t->parent_obj;
    /* The tap's header, when the NIC does not use one, is skipped. */
    size_t skip = t->vnet_hdr && !nd->vnet_hdr_on ? t->hdr_len : 0;

    for (int i = 0; i < TAP_READ_BATCH; i++) {
        struct iovec iov;
        ssize_t n;

        if (!netdev_can_receive(nd, tq->index)) {
            /* Leave the rest in the kernel until the NIC asks again. */
            tq->watch = 0;
            return G_SOURCE_REMOVE;
        }
        n = read(fd, t->buf, TAP_BUFSIZE);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            if (errno != EAGAIN) {
                warn_report("netdev '%s': read from tap failed: %s",
                            nd->id, g_strerror(errno));
            }
            break;
        }
        if ((size_t)n <= skip) {
            continue;
        }
        iov.iov_base = t->buf + skip;
        iov.iov_len = n - skip;
        netdev_deliver(nd, tq->index, &iov, 1);
    }
    return G_SOURCE_CONTINUE;
}

static void tap_watch(TapQueue *tq, bool on)
{
    if (on && !tq->watch) {
        tq->watch = g_unix_fd_add(tq->fd, G_IO_IN, tap_readable, tq);
    } else if (!on && tq->watch) {
        g_source_remove(tq->watch);
        tq->watch = 0;
    }
}

static void tap_poll_rx(NetDev *nd, unsigned int q)
{
    TapState *t = (TapState *)nd;

    if (q < nd->queues) {
        tap_watch(&t->q[q], true);
    }
}

/* ---- guest to host ---- */

static void tap_send(NetDev *nd, unsigned int q, const struct iovec *iov,
                     int iovcnt)
{
    TapState *t = (TapState *)nd;
    static const uint8_t zero_hdr[16];
    struct iovec v[iovcnt + 1];
    int n = 0;
    ssize_t r;

    if (q >= nd->queues) {
        return;
    }
    if (t->vnet_hdr && !nd->vnet_hdr_on) {
        /* The tap wants a header the NIC does not give: "no offload". */
        v[n].iov_base = (void *)zero_hdr;
        v[n++].iov_len = t->hdr_len;
    }
    memcpy(&v[n], iov, iovcnt * sizeof(*iov));
    n += iovcnt;
    do {
        r = writev(t->q[q].fd, v, n);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        /* A full or down tap drops, as a wire would. */
        t->tx_dropped++;
        trace_tap_tx_drop(nd->id, q, errno, t->tx_dropped);
    }
}

/* ---- header and offloads ---- */

static bool tap_has_vnet_hdr(NetDev *nd)
{
    return ((TapState *)nd)->vnet_hdr;
}

static bool tap_set_vnet_hdr_len(NetDev *nd, size_t len, GError **errp)
{
    TapState *t = (TapState *)nd;
    int l = len;

    for (unsigned int q = 0; q < nd->queues; q++) {
        if (ioctl(t->q[q].fd, TUNSETVNETHDRSZ, &l) < 0) {
            error_setg_errno(errp, errno, "netdev '%s': TUNSETVNETHDRSZ %zu "
                             "failed", nd->id, len);
            return false;
        }
    }
    t->hdr_len = len;
    return true;
}

static bool tap_set_offload(NetDev *nd, bool csum, bool tso4, bool tso6,
                            bool ecn, bool ufo, GError **errp)
{
    TapState *t = (TapState *)nd;
    unsigned int flags = (csum ? TUN_F_CSUM : 0) |
                         (tso4 ? TUN_F_TSO4 : 0) | (tso6 ? TUN_F_TSO6 : 0) |
                         (ecn ? TUN_F_TSO_ECN : 0) | (ufo ? TUN_F_UFO : 0);

    for (unsigned int q = 0; q < nd->queues; q++) {
        if (ioctl(t->q[q].fd, TUNSETOFFLOAD, flags) < 0 &&
            !(ufo && errno == EINVAL)) {
            error_setg_errno(errp, errno, "netdev '%s': TUNSETOFFLOAD 0x%x "
                             "failed", nd->id, flags);
            return false;
        }
    }
    return true;
}

/* ---- opening ---- */

/* A tap fd given by the user, or adopted: its flags and name. */
static bool tap_probe(TapState *t, int fd, GError **errp)
{
    NetDev *nd = &t->parent_obj;
    struct ifreq ifr = {0};

    if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
        error_setg_errno(errp, errno, "netdev '%s': fd %d is not a tap "
                         "device (TUNGETIFF)", nd->id, fd);
        return false;
    }
    if (!(ifr.ifr_flags & IFF_TAP)) {
        error_setg(errp, "netdev '%s': fd %d is a tun device, not a tap",
                   nd->id, fd);
        return false;
    }
    t->vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
    memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ - 1);
    if (t->vnet_hdr) {
        int len = 0;

        if (ioctl(fd, TUNGETVNETHDRSZ, &len) < 0) {
            error_setg_errno(errp, errno, "netdev '%s': TUNGETVNETHDRSZ",
                             nd->id);
            return false;
        }
        t->hdr_len = len;
    }
    return true;
}

static int tap_open_queue(TapState *t, const char *ifname, bool vnet_hdr,
                          bool multi, GError **errp)
{
    NetDev *nd = &t->parent_obj;
    struct ifreq ifr = {0};
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        error_setg_errno(errp, errno, "could not open /dev/net/tun");
        return -1;
    }
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0) |
                    (multi ? IFF_MULTI_QUEUE : 0);
    g_strlcpy(ifr.ifr_name, ifname ? ifname : "tap%d", IFNAMSIZ);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        error_setg_errno(errp, errno, "netdev '%s': could not configure "
                         "/dev/net/tun (%s)", nd->id,
                         ifname ? ifname : "tap%d");
        close(fd);
        return -1;
    }
    return fd;
}

static bool tap_parse_fds(TapState *t, const char *fd_opt, const char *fds,
                          int *fdv, unsigned int *n, GError **errp)
{
    g_auto(GStrv) names = fds ? g_strsplit(fds, ":", -1)
                              : g_strsplit(fd_opt, ":", 1);

    *n = g_strv_length(names);
    if (*n == 0 || *n > NET_MAX_QUEUES) {
        error_setg(errp, "netdev '%s': %u fds given (1 to %d)",
                   t->parent_obj.id, *n, NET_MAX_QUEUES);
        return false;
    }
    for (unsigned int i = 0; i < *n; i++) {
        fdv[i] = monitor_fd_param(names[i], errp);
        if (fdv[i] < 0) {
            while (i--) {
                close(fdv[i]);
            }
            return false;
        }
    }
    return true;
}

static bool tap_open(NetDev *nd, const OptList *opts, GError **errp)
{
    TapState *t = (TapState *)nd;
    Object *obj = &nd->parent_obj;
    const char *ifname = opts_get(opts, "ifname");
    const char *fd_opt = opts_get(opts, "fd");
    const char *fds = opts_get(opts, "fds");
    const char *keys[] = { "script", "downscript" };
    bool vnet_hdr, vhost, want_hdr = opts_has(opts, "vnet_hdr");
    uint64_t queues;
    int fdv[NET_MAX_QUEUES];
    unsigned int n = 0;

    for (unsigned int i = 0; i < G_N_ELEMENTS(keys); i++) {
        const char *v = opts_get(opts, keys[i]);

        if (v && strcmp(v, "no") && strcmp(v, "")) {
            error_setg(errp, "netdev '%s': %s=%s: baton runs no network "
                       "scripts; configure the interface beforehand and "
                       "use %s=no", nd->id, keys[i], v, keys[i]);
            return false;
        }
    }
    if (!opts_get_bool(opts, "vnet_hdr", true, &vnet_hdr, errp) ||
        !opts_get_bool(opts, "vhost", false, &vhost, errp) ||
        !opts_get_uint(opts, "queues", 1, &queues, errp)) {
        return false;
    }
    if (vhost) {
        error_setg(errp, "netdev '%s': vhost=on: baton has no vhost-net",
                   nd->id);
        return false;
    }
    if ((fd_opt || fds) && (ifname || opts_has(opts, "queues"))) {
        error_setg(errp, "netdev '%s': ifname=, queues= and fd=/fds= "
                   "exclude each other", nd->id);
        return false;
    }
    if (fd_opt && fds) {
        error_setg(errp, "netdev '%s': fd= and fds= exclude each other",
                   nd->id);
        return false;
    }
    if (queues < 1 || queues > NET_MAX_QUEUES) {
        error_setg(errp, "netdev '%s': queues=%" PRIu64 " out of range "
                   "(1 to %d)", nd->id, queues, NET_MAX_QUEUES);
        return false;
    }

    if (cpr_is_incoming() && (fdv[0] = cpr_take_fd(obj, "tap", 0)) >= 0) {
        /*
         * Live update: the old process's tap fds, configured as they are
         * (name, header length, offloads), with whatever frames wait in
         * their queues. Nothing is set again; fd=/fds= of the new
         * command line are not used.
         */
        n = 1;
        while (n < NET_MAX_QUEUES &&
               (fdv[n] = cpr_take_fd(obj, "tap", n)) >= 0) {
            n++;
        }
        if (!tap_probe(t, fdv[0], errp)) {
            goto fail;
        }
        t->from_fd = fd_opt || fds;
    } else if (fd_opt || fds) {
        if (!tap_parse_fds(t, fd_opt, fds, fdv, &n, errp)) {
            return false;
        }
        for (unsigned int i = 0; i < n; i++) {
            if (!tap_probe(t, fdv[i], errp)) {
                goto fail;
            }
        }
        if (want_hdr && vnet_hdr && !t->vnet_hdr) {
            error_setg(errp, "netdev '%s': vnet_hdr=on but the tap fd was "
                       "opened without IFF_VNET_HDR", nd->id);
            goto fail;
        }
        t->from_fd = true;
    } else {
        for (n = 0; n < queues; n++) {
            fdv[n] = tap_open_queue(t, n ? t->ifname : ifname, vnet_hdr,
                                    queues > 1, errp);
            if (fdv[n] < 0 && n == 0 && vnet_hdr && !want_hdr) {
                /* vnet_hdr unset: a kernel without it is fine. */
                g_clear_error(errp);
                vnet_hdr = false;
                fdv[n] = tap_open_queue(t, ifname, false, queues > 1, errp);
            }
            if (fdv[n] < 0 || !tap_probe(t, fdv[n], errp)) {
                if (fdv[n] >= 0) {
                    n++;
                }
                goto fail;
            }
        }
    }
    for (unsigned int i = 0; i < n; i++) {
        int fl = fcntl(fdv[i], F_GETFL);

        if (fl < 0 || fcntl(fdv[i], F_SETFL, fl | O_NONBLOCK) < 0) {
            error_setg_errno(errp, errno, "netdev '%s': O_NONBLOCK",
                             nd->id);
            goto fail;
        }
        t->q[i].tap = t;
        t->q[i].index = i;
        t->q[i].fd = fdv[i];
        cpr_own_fd(obj, "tap", i, fdv[i]);
    }
    nd->queues = n;
    trace_tap_open(nd->id, t->ifname, n, t->vnet_hdr, t->hdr_len,
                   cpr_is_incoming());
    return true;

fail:
    for (unsigned int i = 0; i < n; i++) {
        close(fdv[i]);
    }
    return false;
}

static void tap_format_info(NetDev *nd, GString *out)
{
    TapState *t = (TapState *)nd;

    if (t->from_fd) {
        g_string_append_printf(out, "fd=%d", t->q[0].fd);
    } else {
        g_string_append_printf(out, "ifname=%s,script=no,downscript=no",
                               t->ifname);
    }
}

static void tap_instance_init(Object *obj)
{
    TapState *t = (TapState *)obj;

    for (unsigned int i = 0; i < NET_MAX_QUEUES; i++) {
        t->q[i].fd = -1;
    }
    t->buf = g_malloc(TAP_BUFSIZE);
}

static void tap_instance_finalize(Object *obj)
{
    TapState *t = (TapState *)obj;

    for (unsigned int i = 0; i < NET_MAX_QUEUES; i++) {
        tap_watch(&t->q[i], false);
        if (t->q[i].fd >= 0) {
            close(t->q[i].fd);
        }
    }
    g_free(t->buf);
}

static void tap_class_init(ObjectClass *oc, const void *data)
{
    NetDevClass *nc = (NetDevClass *)oc;

    /* The tap fds are handed over (cpr_take_fd in tap_open()). */
    oc->cpr_modes = ~0u;
    oc->desc = "a host tap interface";
    nc->type_name = "tap";
    nc->known_opts = tap_opts;
    nc->open = tap_open;
    nc->send = tap_send;
    nc->poll_rx = tap_poll_rx;
    nc->has_vnet_hdr = tap_has_vnet_hdr;
    nc->set_vnet_hdr_len = tap_set_vnet_hdr_len;
    nc->set_offload = tap_set_offload;
    nc->format_info = tap_format_info;
}

static const TypeInfo tap_type = {
    .name = TYPE_NETDEV_TAP,
    .parent = TYPE_NETDEV,
    .instance_size = sizeof(TapState),
    .instance_init = tap_instance_init,
    .instance_finalize = tap_instance_finalize,
    .class_init = tap_class_init,
};

static void tap_register_types(void)
{
    type_register(&tap_type);
}
type_init(tap_register_types)
