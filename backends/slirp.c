/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -netdev user: user-mode networking through libslirp. The guest sees a
 * private network (10.0.2.0/24 by default) with a gateway, DHCP and DNS
 * server; its connections leave as the host's sockets. hostfwd= rules
 * forward host ports to the guest. libslirp's sockets are polled from
 * the main loop through one GSource, its timers are GLib timeouts.
 * Frames for a guest that cannot take them are kept (bounded) by the
 * network layer; TCP's retransmission covers what is dropped beyond.
 */
#include "util/osdep.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <slirp/libslirp.h>

#include "migration/cpr.h"
#include "migration/register.h"
#include "migration/vmstate.h"
#include "system/netdev.h"
#include "trace.h"
#include "util/error-report.h"

#define TYPE_NETDEV_USER "netdev-user"

typedef struct SlirpSource {
    GSource source;
    struct SlirpState *s;
    GPtrArray *pfds;        /* GPollFD *, the ones added this iteration */
    unsigned int used;
    bool input;             /* the guest sent a frame since the last poll */
} SlirpSource;

typedef struct SlirpState {
    NetDev parent_obj;

    Slirp *slirp;
    SlirpSource *source;
    struct in_addr net, mask, host, dhcp, dns;
    bool restricted;
    char *hostname, *domainname;
    GPtrArray *hostfwds;    /* the rules as given, for info */
    /* libslirp's own state, as its slirp_state_save() wrote it. */
    uint8_t *mig_state;
    uint32_t mig_state_len;
    uint32_t mig_version;
} SlirpState;

/*
 * What libslirp saves: its IP id counter, its DHCP leases and the
 * guestfwd connections (none here: no guestfwd=); a few hundred bytes.
 */
#define SLIRP_STATE_MAX 4096

typedef struct SlirpTimer {
    SlirpTimerCb cb;
    void *cb_opaque;
    guint id;
} SlirpTimer;

static const char *const user_opts[] = {
    "net", "host", "dhcpstart", "dns", "restrict", "hostname", "domainname",
    "hostfwd", "ipv4", "ipv6", NULL,
};

/* ---- libslirp callbacks ---- */

static ssize_t user_send_packet(const void *buf, size_t len,
                                      void *opaque)
{
    SlirpState *s = opaque;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

    netdev_deliver(&s->parent_obj, 0, &iov, 1);
    return len;
}

static void user_guest_error(const char *msg, void *opaque)
{
    SlirpState *s = opaque;

    warn_report("netdev '%s': guest error: %s", s->parent_obj.id, msg);
}

static int64_t user_clock_ns(void *opaque)
{
    return g_get_monotonic_time() * 1000;
}

static gboolean user_timer_fire(gpointer opaque)
{
    SlirpTimer *t = opaque;

    t->id = 0;
    t->cb(t->cb_opaque);
    return G_SOURCE_REMOVE;
}

static void *user_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    SlirpTimer *t = g_new0(SlirpTimer, 1);

    t->cb = cb;
    t->cb_opaque = cb_opaque;
    return t;
}

static void user_timer_free(void *timer, void *opaque)
{
    SlirpTimer *t = timer;

    if (t->id) {
        g_source_remove(t->id);
    }
    g_free(t);
}

/* EXPIRE is in ms of user_clock_ns()'s clock. */
static void user_timer_mod(void *timer, int64_t expire, void *opaque)
{
    SlirpTimer *t = timer;
    int64_t now = g_get_monotonic_time() / 1000;

    if (t->id) {
        g_source_remove(t->id);
    }
    t->id = g_timeout_add(expire > now ? (guint)MIN(expire - now, G_MAXUINT)
                                       : 0,
                          user_timer_fire, t);
}

static void user_register_poll_fd(int fd, void *opaque)
{
}

static void user_unregister_poll_fd(int fd, void *opaque)
{
}

static void user_notify(void *opaque)
{
    g_main_context_wakeup(NULL);
}

static const SlirpCb user_callbacks = {
    .send_packet = user_send_packet,
    .guest_error = user_guest_error,
    .clock_get_ns = user_clock_ns,
    .timer_new = user_timer_new,
    .timer_free = user_timer_free,
    .timer_mod = user_timer_mod,
    .register_poll_fd = user_register_poll_fd,
    .unregister_poll_fd = user_unregister_poll_fd,
    .notify = user_notify,
};

/* ---- polling libslirp's sockets from the main loop ---- */

static int user_add_poll(int fd, int events, void *opaque)
{
    SlirpSource *src = opaque;
    GPollFD *p;

    if (src->used == src->pfds->len) {
        g_ptr_array_add(src->pfds, g_new0(GPollFD, 1));
    }
    p = g_ptr_array_index(src->pfds, src->used);
    p->fd = fd;
    p->events = (events & SLIRP_POLL_IN ? G_IO_IN : 0) |
                (events & SLIRP_POLL_OUT ? G_IO_OUT : 0) |
                (events & SLIRP_POLL_PRI ? G_IO_PRI : 0) |
                (events & SLIRP_POLL_ERR ? G_IO_ERR : 0) |
                (events & SLIRP_POLL_HUP ? G_IO_HUP : 0);
    p->revents = 0;
    g_source_add_poll(&src->source, p);
    return src->used++;
}

static int user_get_revents(int idx, void *opaque)
{
    SlirpSource *src = opaque;
    GPollFD *p = g_ptr_array_index(src->pfds, idx);
    int r = p->revents;

    return (r & G_IO_IN ? SLIRP_POLL_IN : 0) |
           (r & G_IO_OUT ? SLIRP_POLL_OUT : 0) |
           (r & G_IO_PRI ? SLIRP_POLL_PRI : 0) |
           (r & G_IO_ERR ? SLIRP_POLL_ERR : 0) |
           (r & G_IO_HUP ? SLIRP_POLL_HUP : 0);
}

static gboolean user_source_prepare(GSource *source, gint *timeout)
{
    SlirpSource *src = (SlirpSource *)source;
    uint32_t t = UINT32_MAX;

    for (unsigned int i = 0; i < src->used; i++) {
        g_source_remove_poll(source, g_ptr_array_index(src->pfds, i));
    }
    src->used = 0;
    slirp_pollfds_fill(src->s->slirp, &t, user_add_poll, src);
    *timeout = t == UINT32_MAX ? -1 : (gint)MIN(t, G_MAXINT);
    return src->input;
}

static gboolean user_source_check(GSource *source)
{
    SlirpSource *src = (SlirpSource *)source;

    for (unsigned int i = 0; i < src->used; i++) {
        if (((GPollFD *)g_ptr_array_index(src->pfds, i))->revents) {
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean user_source_dispatch(GSource *source, GSourceFunc cb,
                                     gpointer data)
{
    SlirpSource *src = (SlirpSource *)source;

    src->input = false;
    slirp_pollfds_poll(src->s->slirp, 0, user_get_revents, src);
    return G_SOURCE_CONTINUE;
}

static void user_source_finalize(GSource *source)
{
    g_ptr_array_free(((SlirpSource *)source)->pfds, TRUE);
}

static GSourceFuncs user_source_funcs = {
    .prepare = user_source_prepare,
    .check = user_source_check,
    .dispatch = user_source_dispatch,
    .finalize = user_source_finalize,
};

/* ---- guest to host ---- */

static void user_send(NetDev *nd, unsigned int q, const struct iovec *iov,
                      int iovcnt)
{
    SlirpState *s = (SlirpState *)nd;
    g_autofree uint8_t *buf = NULL;
    size_t len = 0;

    /*
     * libslirp sends what it queued (frames waiting for the guest's ARP
     * reply, say) only from slirp_pollfds_poll(), and polls a UDP
     * session with more than four frames queued no more: so after any
     * input the source runs once, as QEMU polls libslirp on every main
     * loop iteration. Otherwise such a session would wait forever.
     */
    s->source->input = true;
    if (iovcnt == 1) {
        slirp_input(s->slirp, iov[0].iov_base, iov[0].iov_len);
        return;
    }
    /* libslirp takes one linear frame. */
    for (int i = 0; i < iovcnt; i++) {
        len += iov[i].iov_len;
    }
    buf = g_malloc(len);
    len = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    slirp_input(s->slirp, buf, len);
}

/* ---- options ---- */

static bool user_parse_addr(const char *what, const char *str,
                            struct in_addr *out, GError **errp)
{
    if (inet_pton(AF_INET, str, out) != 1) {
        error_setg(errp, "Parameter '%s' expects an IPv4 address, not '%s'",
                   what, str);
        return false;
    }
    return true;
}

/* net=ADDR[/BITS|/MASK] */
static bool user_parse_net(SlirpState *s, const char *str, GError **errp)
{
    g_autofree char *addr = g_strdup(str);
    char *slash = strchr(addr, '/');
    uint64_t bits = 24;

    if (slash) {
        *slash++ = 0;
        if (strchr(slash, '.')) {
            if (!user_parse_addr("net", slash, &s->mask, errp)) {
                return false;
            }
            bits = __builtin_popcount(s->mask.s_addr);
        } else if (!parse_uint(slash, &bits) || bits < 1 || bits > 30) {
            error_setg(errp, "Parameter 'net' has an invalid netmask '%s'",
                       slash);
            return false;
        }
    }
    if (!user_parse_addr("net", addr, &s->net, errp)) {
        return false;
    }
    s->mask.s_addr = htonl(~0u << (32 - bits));
    s->net.s_addr &= s->mask.s_addr;
    return true;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static bool user_add_hostfwd(SlirpState *s, const char *rule, GError **errp)
{
    g_autofree char *r = g_strdup(rule);
    char *p = r, *hport, *gaddr, *gport;
    struct in_addr haddr = { .s_addr = INADDR_ANY }, ga = s->dhcp;
    uint64_t hp, gp;
    bool udp = false;
    char *colon = strchr(p, ':');

    if (colon && (!strncmp(p, "tcp:", 4) || !strncmp(p, "udp:", 4) ||
                  colon == p)) {
        udp = !strncmp(p, "udp:", 4);
        p = colon + 1;
    }
    hport = strchr(p, ':');
    gaddr = hport ? strchr(hport, '-') : NULL;
    gport = gaddr ? strchr(gaddr, ':') : NULL;
    if (!hport || !gaddr || !gport) {
        goto bad;
    }
    *hport++ = 0;
    *gaddr++ = 0;
    *gport++ = 0;
    if ((*p && inet_pton(AF_INET, p, &haddr) != 1) ||
        (*gaddr && inet_pton(AF_INET, gaddr, &ga) != 1) ||
        !parse_uint(hport, &hp) || hp > 65535 ||
        !parse_uint(gport, &gp) || gp < 1 || gp > 65535) {
        goto bad;
    }
    if (slirp_add_hostfwd(s->slirp, udp, haddr, hp, ga, gp) < 0) {
        error_setg(errp, "Could not set up host forwarding rule '%s'", rule);
        return false;
    }
    g_ptr_array_add(s->hostfwds, g_strdup(rule));
    return true;

bad:
    error_setg(errp, "Invalid host forwarding rule '%s'", rule);
    return false;
}

/* ---- migration: libslirp's state, as QEMU carries it ---- */

static ssize_t user_state_write(const void *buf, size_t len, void *opaque)
{
    g_byte_array_append(opaque, buf, len);
    return len;
}

static bool user_pre_save(void *opaque, GError **errp)
{
    SlirpState *s = opaque;
    g_autoptr(GByteArray) out = g_byte_array_new();

    slirp_state_save(s->slirp, user_state_write, out);
    if (out->len > SLIRP_STATE_MAX) {
        error_setg(errp, "netdev '%s': libslirp's state (%u bytes) is "
                   "larger than %u", s->parent_obj.id, out->len,
                   SLIRP_STATE_MAX);
        return false;
    }
    memcpy(s->mig_state, out->data, out->len);
    s->mig_state_len = out->len;
    s->mig_version = slirp_state_version();
    return true;
}

typedef struct StateReader {
    const uint8_t *p;
    size_t left;
    bool short_read;
} StateReader;

/* libslirp checks few reads: past the end it gets zeroes, noted. */
static ssize_t user_state_read(void *buf, size_t len, void *opaque)
{
    StateReader *r = opaque;
    size_t n = MIN(len, r->left);

    memcpy(buf, r->p, n);
    memset((uint8_t *)buf + n, 0, len - n);
    r->short_read |= n < len;
    r->p += n;
    r->left -= n;
    return n;
}

static bool user_post_load(void *opaque, int version_id, GError **errp)
{
    SlirpState *s = opaque;
    StateReader r = { s->mig_state, s->mig_state_len, false };
    int ret;

    if (s->mig_version > (uint32_t)slirp_state_version()) {
        error_setg(errp, "netdev '%s': libslirp state version %u is newer "
                   "than this libslirp's %d", s->parent_obj.id,
                   s->mig_version, slirp_state_version());
        return false;
    }
    ret = slirp_state_load(s->slirp, s->mig_version, user_state_read, &r);
    if (ret < 0) {
        error_setg(errp, "netdev '%s': libslirp refused its state: %s",
                   s->parent_obj.id, g_strerror(-ret));
        return false;
    }
    if (r.left || r.short_read) {
        error_setg(errp, "netdev '%s': libslirp's state is %s",
                   s->parent_obj.id, r.left ? "too long" : "truncated");
        return false;
    }
    return true;
}

static const VMStateDescription vmstate_netdev_user = {
    .name = "netdev-user",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = user_pre_save,
    .post_load = user_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT32(mig_version, SlirpState),
            VMSTATE_UINT8_VARRAY_POINTER(mig_state, SlirpState,
                                         mig_state_len, SLIRP_STATE_MAX),
            VMSTATE_END_OF_LIST(),
        },
};

static bool user_open(NetDev *nd, const OptList *opts, GError **errp)
{
    SlirpState *s = (SlirpState *)nd;
    SlirpConfig cfg = { .version = 1, .in_enabled = true };
    g_autofree char *idstr = NULL;
    const char *v;
    bool ipv4, ipv6;

    inet_pton(AF_INET, "10.0.2.0", &s->net);
    inet_pton(AF_INET, "255.255.255.0", &s->mask);
    if (!opts_get_bool(opts, "restrict", false, &s->restricted, errp) ||
        !opts_get_bool(opts, "ipv4", true, &ipv4, errp) ||
        !opts_get_bool(opts, "ipv6", false, &ipv6, errp) ||
        ((v = opts_get(opts, "net")) && !user_parse_net(s, v, errp))) {
        return false;
    }
    if (!ipv4 || ipv6) {
        error_setg(errp, "netdev '%s': baton's user networking is IPv4 "
                   "only (ipv4=on, ipv6=off)", nd->id);
        return false;
    }
    /* QEMU's defaults: the gateway .2, the DNS server .3, DHCP from .15. */
    s->host.s_addr = s->net.s_addr | htonl(2);
    s->dns.s_addr = s->net.s_addr | htonl(3);
    s->dhcp.s_addr = s->net.s_addr | htonl(15);
    if (((v = opts_get(opts, "host")) &&
         !user_parse_addr("host", v, &s->host, errp)) ||
        ((v = opts_get(opts, "dns")) &&
         !user_parse_addr("dns", v, &s->dns, errp)) ||
        ((v = opts_get(opts, "dhcpstart")) &&
         !user_parse_addr("dhcpstart", v, &s->dhcp, errp))) {
        return false;
    }
    if ((s->host.s_addr & s->mask.s_addr) != s->net.s_addr ||
        (s->dns.s_addr & s->mask.s_addr) != s->net.s_addr ||
        (s->dhcp.s_addr & s->mask.s_addr) != s->net.s_addr) {
        error_setg(errp, "netdev '%s': host, dns and dhcpstart must be "
                   "inside net", nd->id);
        return false;
    }
    s->hostname = g_strdup(opts_get(opts, "hostname"));
    s->domainname = g_strdup(opts_get(opts, "domainname"));
    cfg.restricted = s->restricted;
    cfg.vnetwork = s->net;
    cfg.vnetmask = s->mask;
    cfg.vhost = s->host;
    cfg.vdhcp_start = s->dhcp;
    cfg.vnameserver = s->dns;
    cfg.vhostname = s->hostname;
    cfg.vdomainname = s->domainname;
    s->slirp = slirp_new(&cfg, &user_callbacks, s);
    if (!s->slirp) {
        error_setg(errp, "netdev '%s': libslirp refused the configuration",
                   nd->id);
        return false;
    }
    for (unsigned int i = 0; i < opts_count(opts); i++) {
        if (!strcmp(opts_key(opts, i), "hostfwd") &&
            !user_add_hostfwd(s, opts_value(opts, i), errp)) {
            return false;
        }
    }
    s->source = (SlirpSource *)g_source_new(&user_source_funcs,
                                            sizeof(SlirpSource));
    s->source->s = s;
    s->source->pfds = g_ptr_array_new_with_free_func(g_free);
    g_source_attach(&s->source->source, NULL);
    s->mig_state = g_malloc0(SLIRP_STATE_MAX);
    idstr = g_strdup_printf("netdev-user/%s", nd->id);
    vmstate_register(idstr, 0, &vmstate_netdev_user, s);
    return true;
}

static void user_format_info(NetDev *nd, GString *out)
{
    SlirpState *s = (SlirpState *)nd;
    char net[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &s->net, net, sizeof(net));
    g_string_append_printf(out, "net=%s,restrict=%s", net,
                           s->restricted ? "on" : "off");
}

static void user_instance_init(Object *obj)
{
    ((SlirpState *)obj)->hostfwds = g_ptr_array_new_with_free_func(g_free);
}

static void user_instance_finalize(Object *obj)
{
    SlirpState *s = (SlirpState *)obj;

    if (s->source) {
        g_source_destroy(&s->source->source);
        g_source_unref(&s->source->source);
    }
    if (s->mig_state) {
        vmstate_unregister_opaque(s);
        g_free(s->mig_state);
    }
    if (s->slirp) {
        slirp_cleanup(s->slirp);
    }
    g_ptr_array_free(s->hostfwds, TRUE);
    g_free(s->hostname);
    g_free(s->domainname);
}

/*
 * Not across cpr-transfer/cpr-exec yet: libslirp's host sockets (hostfwd
 * listeners, the guest's connections) belong to this process, libslirp
 * cannot adopt another process's, and the new process could not bind a
 * hostfwd port the old one still listens on.
 */
static bool user_cpr_check(Object *obj, unsigned int mode, GError **errp)
{
    if (!(MIG_MODE_BIT(mode) & CPR_MODES_PRESERVING)) {
        return true;
    }
    error_setg(errp, "netdev '%s': -netdev user cannot be live-updated: "
               "its host sockets (hostfwd listeners, connections) belong "
               "to this process; use a tap", ((NetDev *)obj)->id);
    return false;
}

static void user_class_init(ObjectClass *oc, const void *data)
{
    NetDevClass *nc = (NetDevClass *)oc;

    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->cpr_check = user_cpr_check;
    oc->desc = "user-mode networking (libslirp)";
    nc->type_name = "user";
    nc->known_opts = user_opts;
    nc->open = user_open;
    nc->send = user_send;
    nc->format_info = user_format_info;
}

static const TypeInfo user_type = {
    .name = TYPE_NETDEV_USER,
    .parent = TYPE_NETDEV,
    .instance_size = sizeof(SlirpState),
    .instance_init = user_instance_init,
    .instance_finalize = user_instance_finalize,
    .class_init = user_class_init,
};

static void user_register_types(void)
{
    type_register(&user_type);
}
type_init(user_register_types)
