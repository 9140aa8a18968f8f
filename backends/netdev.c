/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The network layer between NICs and -netdev backends: creation, the
 * one-to-one attachment, frames in both directions with the NIC's flow
 * control, link state and "info network". Backends are in backends/tap.c
 * and backends/slirp.c; include/system/netdev.h has the rules.
 */
#include "util/osdep.h"

#include "monitor/monitor.h"
#include "system/netdev.h"
#include "trace.h"
#include "util/byteorder.h"
#include "util/error-report.h"
#include "util/error.h"

#define NETDEVS_PATH "/netdevs"
/* Frames a backend without a host-side queue may keep for a busy NIC. */
#define NETDEV_PENDING_MAX 256

static GPtrArray *nics; /* NetNic *, creation order */

static Object *netdevs_container(void)
{
    return container_get(object_get_root(), NETDEVS_PATH);
}

static NetDevClass *netdev_class_for(const char *type)
{
    g_autofree char *name = g_strdup_printf("netdev-%s", type);
    ObjectClass *oc = object_class_by_name(name);

    return oc ? OBJECT_CLASS_CHECK(NetDevClass, oc, TYPE_NETDEV) : NULL;
}

NetDev *netdev_new(const OptList *opts, GError **errp)
{
    const char *type = opts_get(opts, "type");
    const char *id = opts_get(opts, "id");
    g_autofree char *typename = NULL;
    NetDevClass *nc;
    NetDev *nd;

    if (!type) {
        error_setg(errp, "Parameter 'type' is missing");
        return NULL;
    }
    nc = netdev_class_for(type);
    if (!nc) {
        error_setg(errp, "Parameter 'type' does not accept value '%s' "
                   "(baton has 'tap' and 'user')", type);
        return NULL;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    if (netdev_find(id)) {
        error_setg(errp, "Duplicate ID '%s' for netdev", id);
        return NULL;
    }
    for (unsigned int i = 0; i < opts_count(opts); i++) {
        const char *key = opts_key(opts, i);

        if (strcmp(key, "type") && strcmp(key, "id") &&
            !g_strv_contains((const char *const *)nc->known_opts, key)) {
            error_setg(errp, "Invalid parameter '%s'", key);
            return NULL;
        }
    }
    typename = g_strdup_printf("netdev-%s", type);
    nd = (NetDev *)object_new(typename);
    nd->id = g_strdup(id);
    /* In the tree first: its cpr keys are built from its path. */
    object_property_add_child(netdevs_container(), id, &nd->parent_obj);
    object_unref(&nd->parent_obj);
    if (!nc->open(nd, opts, errp)) {
        object_unparent(&nd->parent_obj);
        return NULL;
    }
    trace_netdev_new(id, type, nd->queues);
    return nd;
}

NetDev *netdev_find(const char *id)
{
    return (NetDev *)object_resolve_path_component(netdevs_container(), id);
}

const GPtrArray *netdev_list(void)
{
    return netdevs_container()->children;
}

void netdev_cleanup_all(void)
{
    Object *c = netdevs_container();

    while (c->children->len) {
        object_unparent(g_ptr_array_index(c->children,
                                          c->children->len - 1));
    }
}

/* ---- NICs ---- */

NetNic *net_nic_new(const NetNicOps *ops, void *opaque, const char *name,
                    const char *model, NetDev *nd, unsigned int queues,
                    GError **errp)
{
    NetNic *nic;

    if (nd && nd->nic) {
        error_setg(errp, "Property 'netdev' can't take value '%s', it's "
                   "in use", nd->id);
        return NULL;
    }
    if (nd && queues > nd->queues) {
        error_setg(errp, "netdev '%s' has %u queue pair(s), '%s' wants %u",
                   nd->id, nd->queues, name, queues);
        return NULL;
    }
    nic = g_new0(NetNic, 1);
    nic->name = g_strdup(name);
    nic->model = model;
    nic->ops = ops;
    nic->opaque = opaque;
    nic->queues = queues;
    if (nd) {
        nic->netdev = nd;
        nd->nic = nic;
        object_ref(&nd->parent_obj);
    }
    if (!nics) {
        nics = g_ptr_array_new();
    }
    g_ptr_array_add(nics, nic);
    return nic;
}

static void netdev_drop_pending(NetDev *nd)
{
    for (unsigned int q = 0; q < NET_MAX_QUEUES; q++) {
        g_queue_clear_full(&nd->pending[q], (GDestroyNotify)g_bytes_unref);
    }
}

void net_nic_free(NetNic *nic)
{
    if (!nic) {
        return;
    }
    if (nic->netdev) {
        netdev_drop_pending(nic->netdev);
        nic->netdev->nic = NULL;
        object_unref(&nic->netdev->parent_obj);
    }
    g_ptr_array_remove(nics, nic);
    g_free(nic->name);
    g_free(nic);
}

void net_nic_send(NetNic *nic, unsigned int q, const struct iovec *iov,
                  int iovcnt)
{
    NetDev *nd = nic->netdev;

    if (!nd || nic->link_down || nd->link_down) {
        return;
    }
    NETDEV_GET_CLASS(nd)->send(nd, q, iov, iovcnt);
}

bool netdev_can_receive(NetDev *nd, unsigned int q)
{
    NetNic *nic = nd->nic;

    /* Frames kept for the NIC go first: nothing new before them. */
    return nic && q < nic->queues && g_queue_is_empty(&nd->pending[q]) &&
           nic->ops->can_receive(nic->opaque, q);
}

/* The NIC takes the next kept frame if it can (ignoring the queue). */
static bool netdev_nic_ready(NetDev *nd, unsigned int q)
{
    NetNic *nic = nd->nic;

    return nic && q < nic->queues && nic->ops->can_receive(nic->opaque, q);
}

/* Hand over what was kept for Q while the NIC takes it. */
static void netdev_flush_pending(NetDev *nd, unsigned int q)
{
    GBytes *b;

    while ((b = g_queue_peek_head(&nd->pending[q])) &&
           netdev_nic_ready(nd, q)) {
        gsize len;
        struct iovec iov = { .iov_base = (void *)g_bytes_get_data(b, &len) };

        iov.iov_len = len;
        if (!nd->nic->ops->receive(nd->nic->opaque, q, &iov, 1)) {
            return;
        }
        g_bytes_unref(g_queue_pop_head(&nd->pending[q]));
    }
}

void net_nic_receive_ready(NetNic *nic, unsigned int q)
{
    NetDev *nd = nic->netdev;

    if (!nd) {
        return;
    }
    netdev_flush_pending(nd, q);
    if (g_queue_is_empty(&nd->pending[q]) &&
        NETDEV_GET_CLASS(nd)->poll_rx) {
        NETDEV_GET_CLASS(nd)->poll_rx(nd, q);
    }
}

void netdev_deliver(NetDev *nd, unsigned int q, const struct iovec *iov,
                    int iovcnt)
{
    NetNic *nic = nd->nic;
    GByteArray *copy;

    if (!nic || nd->link_down || nic->link_down || q >= nic->queues) {
        nd->dropped++;
        return;
    }
    if (netdev_can_receive(nd, q) &&
        nic->ops->receive(nic->opaque, q, iov, iovcnt)) {
        return;
    }
    if (g_queue_get_length(&nd->pending[q]) >= nd->pending_max) {
        nd->dropped++;
        trace_netdev_drop(nd->id, q, nd->dropped);
        return;
    }
    copy = g_byte_array_new();
    for (int i = 0; i < iovcnt; i++) {
        g_byte_array_append(copy, iov[i].iov_base, iov[i].iov_len);
    }
    g_queue_push_tail(&nd->pending[q], g_byte_array_free_to_bytes(copy));
}

/* A record: u8 queue, 3 bytes zero, le32 length, the frame. */
#define PENDING_REC_HDR 8
#define PENDING_FRAME_MAX (65536 + 64)

size_t net_nic_save_pending(NetNic *nic, uint8_t *buf, size_t max)
{
    NetDev *nd = nic->netdev;
    size_t used = 0;

    for (unsigned int q = 0; nd && q < nic->queues; q++) {
        for (GList *l = nd->pending[q].head; l; l = l->next) {
            gsize len;
            const uint8_t *f = g_bytes_get_data(l->data, &len);

            if (used + PENDING_REC_HDR + len > max) {
                nd->dropped++;
                continue;
            }
            memset(buf + used, 0, PENDING_REC_HDR);
            buf[used] = q;
            put_le32(buf + used + 4, len);
            memcpy(buf + used + PENDING_REC_HDR, f, len);
            used += PENDING_REC_HDR + len;
        }
    }
    return used;
}

bool net_nic_load_pending(NetNic *nic, const uint8_t *buf, size_t len,
                          GError **errp)
{
    NetDev *nd = nic->netdev;
    size_t off = 0;

    while (off < len) {
        uint32_t flen;
        unsigned int q;

        if (len - off < PENDING_REC_HDR) {
            error_setg(errp, "%s: truncated kept-frame record", nic->name);
            return false;
        }
        q = buf[off];
        flen = get_le32(buf + off + 4);
        if (q >= nic->queues || flen > PENDING_FRAME_MAX ||
            flen > len - off - PENDING_REC_HDR) {
            error_setg(errp, "%s: kept frame of %u bytes for queue %u does "
                       "not fit (%u queues)", nic->name, flen, q,
                       nic->queues);
            return false;
        }
        if (nd) {
            g_queue_push_tail(&nd->pending[q],
                              g_bytes_new(buf + off + PENDING_REC_HDR, flen));
        }
        off += PENDING_REC_HDR + flen;
    }
    return true;
}

bool net_nic_has_vnet_hdr(NetNic *nic)
{
    NetDev *nd = nic->netdev;

    return nd && NETDEV_GET_CLASS(nd)->has_vnet_hdr &&
           NETDEV_GET_CLASS(nd)->has_vnet_hdr(nd);
}

bool net_nic_set_vnet_hdr_len(NetNic *nic, size_t len, GError **errp)
{
    NetDev *nd = nic->netdev;

    if (!net_nic_has_vnet_hdr(nic)) {
        error_setg(errp, "netdev of '%s' has no virtio-net header",
                   nic->name);
        return false;
    }
    if (!NETDEV_GET_CLASS(nd)->set_vnet_hdr_len(nd, len, errp)) {
        return false;
    }
    nd->vnet_hdr_on = true;
    nd->vnet_hdr_len = len;
    return true;
}

bool net_nic_set_offload(NetNic *nic, bool csum, bool tso4, bool tso6,
                         bool ecn, bool ufo, GError **errp)
{
    NetDev *nd = nic->netdev;

    if (!nd || !NETDEV_GET_CLASS(nd)->set_offload) {
        if (csum || tso4 || tso6 || ecn || ufo) {
            error_setg(errp, "netdev of '%s' has no offloads", nic->name);
            return false;
        }
        return true;
    }
    return NETDEV_GET_CLASS(nd)->set_offload(nd, csum, tso4, tso6, ecn, ufo,
                                             errp);
}

/* ---- link state, info network ---- */

static NetNic *net_nic_find(const char *name)
{
    for (unsigned int i = 0; nics && i < nics->len; i++) {
        NetNic *nic = g_ptr_array_index(nics, i);

        if (!strcmp(nic->name, name)) {
            return nic;
        }
    }
    return NULL;
}

bool net_set_link(const char *name, bool up, GError **errp)
{
    NetNic *nic = net_nic_find(name);
    NetDev *nd = nic ? NULL : netdev_find(name);

    if (!nic && !nd) {
        g_set_error(errp, BATON_ERROR, BATON_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", name);
        return false;
    }
    if (nd) {
        nd->link_down = !up;
        nic = nd->nic;
    }
    if (nic) {
        nic->link_down = !up;
        if (nic->ops->link_changed) {
            nic->ops->link_changed(nic->opaque, up);
        }
        if (up) {
            for (unsigned int q = 0; q < nic->queues; q++) {
                net_nic_receive_ready(nic, q);
            }
        }
    }
    trace_net_set_link(name, up);
    return true;
}

static void netdev_format_line(NetDev *nd, GString *out)
{
    NetDevClass *nc = NETDEV_GET_CLASS(nd);

    g_string_append_printf(out, "%s: index=0,type=%s,", nd->id,
                           nc->type_name);
    nc->format_info(nd, out);
    g_string_append_c(out, '\n');
}

void net_format_info(GString *out)
{
    const GPtrArray *list = netdev_list();

    for (unsigned int i = 0; nics && i < nics->len; i++) {
        NetNic *nic = g_ptr_array_index(nics, i);

        g_string_append_printf(out, "%s: index=0,type=nic,", nic->name);
        nic->ops->format_info(nic->opaque, out);
        g_string_append_c(out, '\n');
        if (nic->netdev) {
            g_string_append(out, " \\ ");
            netdev_format_line(nic->netdev, out);
        }
    }
    for (unsigned int i = 0; i < list->len; i++) {
        NetDev *nd = g_ptr_array_index(list, i);

        if (!nd->nic) {
            netdev_format_line(nd, out);
        }
    }
}

/* ---- announcements ---- */

typedef struct Announce {
    uint64_t max, step, delay;
    uint64_t rounds_left;
    char **ifaces;
    guint timer;
} Announce;

static Announce announce;

/* A RARP request (reverse ARP, ethertype 0x8035) from MAC, padded to 60. */
static void net_send_rarp(NetNic *nic, const uint8_t *mac)
{
    uint8_t f[60] = {0};
    struct iovec iov = { .iov_base = f, .iov_len = sizeof(f) };
    static const uint8_t hdr[10] = {
        0x80, 0x35,             /* ethertype RARP */
        0x00, 0x01, 0x08, 0x00, /* Ethernet, IPv4 */
        6, 4, 0x00, 0x03,       /* lengths, reverse request */
    };
    static const uint8_t zero_hdr[16];
    struct iovec v[2] = {
        { .iov_base = (void *)zero_hdr, .iov_len = 0 },
        { .iov_base = f, .iov_len = sizeof(f) },
    };

    memset(f, 0xff, 6);
    memcpy(f + 6, mac, 6);
    memcpy(f + 12, hdr, sizeof(hdr));
    memcpy(f + 22, mac, 6);     /* sender hardware address */
    memcpy(f + 32, mac, 6);     /* target hardware address */
    if (nic->netdev && nic->netdev->vnet_hdr_on) {
        /* The backend expects the NIC's header in front. */
        v[0].iov_len = nic->netdev->vnet_hdr_len;
        net_nic_send(nic, 0, v, 2);
        return;
    }
    net_nic_send(nic, 0, &iov, 1);
}

static gboolean net_announce_round(gpointer opaque)
{
    announce.timer = 0;
    for (unsigned int i = 0; nics && i < nics->len; i++) {
        NetNic *nic = g_ptr_array_index(nics, i);
        uint8_t mac[6];

        if (announce.ifaces &&
            !g_strv_contains((const char *const *)announce.ifaces,
                             nic->name)) {
            continue;
        }
        if (nic->ops->announce && nic->ops->announce(nic->opaque)) {
            trace_net_announce(nic->name, "guest");
            continue;
        }
        if (nic->ops->get_mac) {
            nic->ops->get_mac(nic->opaque, mac);
            net_send_rarp(nic, mac);
            trace_net_announce(nic->name, "rarp");
        }
    }
    if (--announce.rounds_left) {
        announce.delay = MIN(announce.delay + announce.step, announce.max);
        announce.timer = g_timeout_add(announce.delay, net_announce_round,
                                       NULL);
    } else {
        g_clear_pointer(&announce.ifaces, g_strfreev);
    }
    return G_SOURCE_REMOVE;
}

void net_announce(uint64_t initial, uint64_t max, uint64_t rounds,
                  uint64_t step, char **ifaces)
{
    if (announce.timer) {
        g_source_remove(announce.timer);
        announce.timer = 0;
    }
    g_clear_pointer(&announce.ifaces, g_strfreev);
    if (!rounds) {
        return;
    }
    announce.max = max;
    announce.step = step;
    announce.delay = MIN(initial, max);
    announce.rounds_left = rounds;
    announce.ifaces = g_strdupv(ifaces);
    announce.timer = g_timeout_add(announce.delay, net_announce_round, NULL);
}

/* ---- monitor ---- */

static bool qmp_set_link(JsonObject *args, JsonNode **ret, GError **errp)
{
    if (!net_set_link(qmp_arg_str(args, "name"),
                      qmp_arg_bool(args, "up", true), errp)) {
        return false;
    }
    *ret = qmp_return_empty();
    return true;
}

static void hmp_set_link(Monitor *mon, int argc, char **argv)
{
    GError *err = NULL;
    bool up;

    if (argc != 3 || !parse_bool(argv[2], &up)) {
        monitor_printf(mon, "Usage: set_link name on|off\n");
        return;
    }
    if (!net_set_link(argv[1], up, &err)) {
        hmp_handle_error(mon, err);
    }
}

static void hmp_info_network(Monitor *mon, int argc, char **argv)
{
    g_autoptr(GString) out = g_string_new(NULL);

    net_format_info(out);
    monitor_printf(mon, "%s", out->str);
}

/*
 * query-rx-filter: the receive filter of each NIC that has one (NAME: of
 * that NIC only), QEMU's errors for a name that is a netdev or nothing.
 */
static bool qmp_query_rx_filter(JsonObject *args, JsonNode **ret,
                                GError **errp)
{
    const char *name = qmp_arg_str(args, "name");
    g_autoptr(JsonBuilder) b = json_builder_new();
    bool found = false;

    json_builder_begin_array(b);
    for (unsigned int i = 0; nics && i < nics->len; i++) {
        NetNic *nic = g_ptr_array_index(nics, i);

        if (nic->ops->query_rx_filter &&
            (!name || !strcmp(name, nic->name))) {
            nic->ops->query_rx_filter(nic->opaque, b);
            found = true;
        }
    }
    json_builder_end_array(b);
    if (name && !found) {
        if (netdev_find(name)) {
            error_setg(errp, "net client(%s) isn't a NIC", name);
        } else {
            error_setg(errp, "Invalid net client name: %s", name);
        }
        return false;
    }
    *ret = json_builder_get_root(b);
    return true;
}

static const QmpArgSpec query_rx_filter_args[] = {
    {"name", QMP_ARG_STR, true},
    {NULL},
};

/* announce-self: QEMU's AnnounceParameters (initial, max, rounds, step). */
static bool qmp_announce_self(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    static const char *const keys[] = { "initial", "max", "rounds", "step" };
    gint64 v[4];
    g_auto(GStrv) ifaces = NULL;

    for (unsigned int i = 0; i < 4; i++) {
        v[i] = qmp_arg_int(args, keys[i], -1);
        if (v[i] < 0) {
            error_setg(errp, "Parameter '%s' expects a non-negative "
                       "integer", keys[i]);
            return false;
        }
    }
    if (v[0] > 100000 || v[1] > 100000 || v[2] > 1000 || v[3] < 1 ||
        v[3] > 10000) {
        error_setg(errp, "announce parameters out of range (initial and "
                   "max 0-100000 ms, rounds 0-1000, step 1-10000 ms)");
        return false;
    }
    if (qmp_arg_has(args, "interfaces")) {
        JsonArray *a = json_object_get_array_member(args, "interfaces");
        GPtrArray *names = g_ptr_array_new();

        for (unsigned int i = 0; i < json_array_get_length(a); i++) {
            JsonNode *n = json_array_get_element(a, i);

            if (JSON_NODE_TYPE(n) != JSON_NODE_VALUE ||
                json_node_get_value_type(n) != G_TYPE_STRING) {
                g_ptr_array_free(names, TRUE);
                error_setg(errp, "Invalid parameter type for "
                           "'interfaces[%u]', expected: string", i);
                return false;
            }
            g_ptr_array_add(names, g_strdup(json_node_get_string(n)));
        }
        g_ptr_array_add(names, NULL);
        ifaces = (GStrv)g_ptr_array_free(names, FALSE);
    }
    net_announce(v[0], v[1], v[2], v[3], ifaces);
    *ret = qmp_return_empty();
    return true;
}

static const QmpArgSpec announce_self_args[] = {
    {"initial", QMP_ARG_UINT},
    {"max", QMP_ARG_UINT},
    {"rounds", QMP_ARG_UINT},
    {"step", QMP_ARG_UINT},
    {"interfaces", QMP_ARG_ARRAY, true},
    {"id", QMP_ARG_STR, true},
    {NULL},
};

static const QmpArgSpec set_link_args[] = {
    {"name", QMP_ARG_STR},
    {"up", QMP_ARG_BOOL},
    {NULL},
};

static const QmpCommandDef net_qmp_commands[] = {
    {"set_link", qmp_set_link, set_link_args},
    {"announce-self", qmp_announce_self, announce_self_args},
    {"query-rx-filter", qmp_query_rx_filter, query_rx_filter_args},
};

static const HmpCommandDef net_hmp_cmds[] = {
    {"set_link", "name on|off", "change the link status of a network adapter",
     hmp_set_link, NULL},
};

static const HmpCommandDef net_hmp_info_cmds[] = {
    {"network", "", "show the network state", hmp_info_network, NULL},
};

static void __attribute__((constructor)) net_monitor_register(void)
{
    qmp_register_commands(net_qmp_commands, ARRAY_SIZE(net_qmp_commands));
    hmp_register_commands(net_hmp_cmds, ARRAY_SIZE(net_hmp_cmds));
    hmp_register_info_commands(net_hmp_info_cmds,
                               ARRAY_SIZE(net_hmp_info_cmds));
}

/* ---- the abstract type ---- */

static void netdev_instance_init(Object *obj)
{
    NetDev *nd = (NetDev *)obj;

    nd->queues = 1;
    nd->pending_max = NETDEV_PENDING_MAX;
    for (unsigned int q = 0; q < NET_MAX_QUEUES; q++) {
        g_queue_init(&nd->pending[q]);
    }
}

static void netdev_instance_finalize(Object *obj)
{
    NetDev *nd = (NetDev *)obj;

    netdev_drop_pending(nd);
    g_free(nd->id);
}

static const TypeInfo netdev_type = {
    .name = TYPE_NETDEV,
    .parent = TYPE_OBJECT,
    .abstract = true,
    .instance_size = sizeof(NetDev),
    .instance_init = netdev_instance_init,
    .instance_finalize = netdev_instance_finalize,
    .class_size = sizeof(NetDevClass),
};

static void netdev_register_types(void)
{
    type_register(&netdev_type);
    object_register_link_container(TYPE_NETDEV, NETDEVS_PATH);
}
type_init(netdev_register_types)
