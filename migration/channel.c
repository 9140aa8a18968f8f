/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Migration addresses and transports: parsing QEMU's URI, QMP channel and
 * -incoming spellings into one MigChannel, and opening the endpoint behind
 * it (connect / listen / accept for sockets, spawn for exec, open for
 * files, monitor lookups for fd:). Streams, records and the state machine
 * live elsewhere (stream.c, savevm.c, migration.c).
 */
#include "util/osdep.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include "channel.h"
#include "monitor/fds.h"
#include "util/error-report.h"

static const char *const channel_type_names[] = { "main", "cpr", NULL };
static const char *const transport_names[] = {
    "socket", "exec", "rdma", "file", NULL
};
static const char *const socket_type_names[] = {
    "inet", "unix", "vsock", "fd", NULL
};

const char *mig_channel_type_name(MigChannelType type)
{
    return channel_type_names[type];
}

static void mig_address_clear(MigAddress *a)
{
    g_free(a->host);
    g_free(a->port);
    g_free(a->path);
    g_free(a->fd_str);
    g_strfreev(a->args);
    g_free(a->filename);
    memset(a, 0, sizeof(*a));
}

void mig_channel_free(MigChannel *ch)
{
    if (ch) {
        mig_address_clear(&ch->addr);
        g_free(ch);
    }
}

MigChannel *mig_channel_copy(const MigChannel *ch)
{
    MigChannel *c = g_new0(MigChannel, 1);

    *c = *ch;
    c->addr.host = g_strdup(ch->addr.host);
    c->addr.port = g_strdup(ch->addr.port);
    c->addr.path = g_strdup(ch->addr.path);
    c->addr.fd_str = g_strdup(ch->addr.fd_str);
    c->addr.args = g_strdupv(ch->addr.args);
    c->addr.filename = g_strdup(ch->addr.filename);
    return c;
}

/* ---- URIs ---- */

bool mig_is_uri(const char *str)
{
    while (*str && *str != ':') {
        if (!g_ascii_isalpha(*str++)) {
            return false;
        }
    }
    return *str == ':';
}

/* QEMU's inet_parse() option flags after the address ("...,ipv4"). */
static bool inet_parse_options(MigAddress *a, const char *opts,
                               const char *str, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(opts, ",", -1);

    for (char **p = parts; *p; p++) {
        const char *eq = strchr(*p, '=');
        g_autofree char *key = eq ? g_strndup(*p, eq - *p) : g_strdup(*p);
        bool on = true;

        if (eq && !parse_bool(eq + 1, &on) && strcmp(key, "to")) {
            error_setg(errp, "error parsing address '%s'", str);
            return false;
        }
        if (!strcmp(key, "ipv4")) {
            a->has_ipv4 = true;
            a->ipv4 = on;
        } else if (!strcmp(key, "ipv6")) {
            a->has_ipv6 = true;
            a->ipv6 = on;
        } else if (strcmp(key, "to") && strcmp(key, "numeric") &&
                   strcmp(key, "keep-alive") && strcmp(key, "mptcp")) {
            error_setg(errp, "error parsing address '%s'", str);
            return false;
        }
    }
    return true;
}

/* "host:port", "[v6addr]:port" or ":port", then options. */
static bool inet_parse(MigAddress *a, const char *str, GError **errp)
{
    g_autofree char *addr = NULL;
    const char *comma = strchr(str, ',');
    const char *colon;

    addr = comma ? g_strndup(str, comma - str) : g_strdup(str);
    if (addr[0] == '[') {
        char *end = strchr(addr, ']');

        if (!end || end[1] != ':') {
            error_setg(errp, "error parsing IPv6 address '%s'", str);
            return false;
        }
        a->host = g_strndup(addr + 1, end - addr - 1);
        colon = end + 1;
    } else {
        colon = strchr(addr, ':');
        if (!colon) {
            error_setg(errp, "error parsing address '%s'", str);
            return false;
        }
        a->host = g_strndup(addr, colon - addr);
    }
    if (!colon[1]) {
        error_setg(errp, "error parsing address '%s'", str);
        return false;
    }
    a->port = g_strdup(colon + 1);
    return !comma || inet_parse_options(a, comma + 1, str, errp);
}

/* QEMU's file_parse_offset(): "PATH,offset=SIZE". */
static bool file_parse(MigAddress *a, const char *spec, GError **errp)
{
    const char *opt = strstr(spec, ",offset=");

    a->transport = MIG_TRANSPORT_FILE;
    if (!opt) {
        a->filename = g_strdup(spec);
        return true;
    }
    a->filename = g_strndup(spec, opt - spec);
    opt += strlen(",offset=");
    if (!parse_size(opt, 1, &a->offset)) {
        error_setg(errp, "file URI has bad offset %s: %s", opt,
                   g_strerror(EINVAL));
        return false;
    }
    return true;
}

MigChannel *mig_uri_parse(const char *uri, GError **errp)
{
    g_autoptr(MigChannel) ch = g_new0(MigChannel, 1);
    MigAddress *a = &ch->addr;
    const char *rest;

    ch->type = MIG_CHANNEL_MAIN;
    if ((rest = g_str_has_prefix(uri, "exec:") ? uri + 5 : NULL)) {
        const char *argv[] = { "/bin/sh", "-c", rest, NULL };

        a->transport = MIG_TRANSPORT_EXEC;
        a->args = g_strdupv((char **)argv);
    } else if ((rest = g_str_has_prefix(uri, "rdma:") ? uri + 5 : NULL)) {
        a->transport = MIG_TRANSPORT_RDMA;
        if (!inet_parse(a, rest, errp)) {
            return NULL;
        }
    } else if ((rest = g_str_has_prefix(uri, "tcp:") ? uri + 4 : NULL)) {
        a->sock_type = MIG_SOCKET_INET;
        if (!inet_parse(a, rest, errp)) {
            return NULL;
        }
    } else if ((rest = g_str_has_prefix(uri, "unix:") ? uri + 5 : NULL)) {
        a->sock_type = MIG_SOCKET_UNIX;
        a->path = g_strdup(rest);
    } else if ((rest = g_str_has_prefix(uri, "vsock:") ? uri + 6 : NULL)) {
        const char *colon = strchr(rest, ':');

        a->sock_type = MIG_SOCKET_VSOCK;
        if (!colon || colon == rest || !colon[1]) {
            error_setg(errp, "error parsing address '%s'", rest);
            return NULL;
        }
        a->host = g_strndup(rest, colon - rest);
        a->port = g_strdup(colon + 1);
    } else if ((rest = g_str_has_prefix(uri, "fd:") ? uri + 3 : NULL)) {
        a->sock_type = MIG_SOCKET_FD;
        a->fd_str = g_strdup(rest);
    } else if ((rest = g_str_has_prefix(uri, "file:") ? uri + 5 : NULL)) {
        if (!file_parse(a, rest, errp)) {
            return NULL;
        }
    } else {
        error_setg(errp, "unknown migration protocol: %s", uri);
        return NULL;
    }
    return g_steal_pointer(&ch);
}

/* ---- MigrationChannel objects (QMP JSON, -incoming keys) ---- */

/*
 * Both object spellings are read through one flattened view: JSON is
 * flattened to dotted keys ("addr.args.0") with each scalar's JSON type
 * remembered, so QMP input is type-checked as QEMU's visitor does while
 * -incoming's keyval strings are converted.
 */
typedef struct ChanInput {
    OptList *opts;
    GHashTable *types;  /* key -> JSON type name; NULL for keyval input */
    const char *where;  /* message prefix ("channels[0]"), or NULL */
    GHashTable *used;   /* keys consumed by the parser */
} ChanInput;

static char *chan_name(ChanInput *in, const char *key)
{
    return in->where ? g_strdup_printf("%s.%s", in->where, key)
                     : g_strdup(key);
}

static void chan_flatten(ChanInput *in, const char *key, JsonNode *node)
{
    const char *type = "null";
    g_autofree char *text = NULL;

    if (JSON_NODE_HOLDS_OBJECT(node)) {
        JsonObjectIter iter;
        const char *member;
        JsonNode *child;

        json_object_iter_init_ordered(&iter, json_node_get_object(node));
        while (json_object_iter_next_ordered(&iter, &member, &child)) {
            g_autofree char *k = key ? g_strdup_printf("%s.%s", key, member)
                                     : g_strdup(member);

            chan_flatten(in, k, child);
        }
        return;
    }
    if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *arr = json_node_get_array(node);

        for (guint i = 0; i < json_array_get_length(arr); i++) {
            g_autofree char *k = g_strdup_printf("%s.%u", key, i);

            chan_flatten(in, k, json_array_get_element(arr, i));
        }
        if (!json_array_get_length(arr)) {
            /* An empty list still counts as given. */
            g_hash_table_insert(in->types, g_strdup(key), (gpointer)"array");
            opts_set(in->opts, key, "");
        }
        return;
    }
    if (JSON_NODE_HOLDS_VALUE(node)) {
        GType t = json_node_get_value_type(node);

        if (t == G_TYPE_STRING) {
            type = "string";
            text = g_strdup(json_node_get_string(node));
        } else if (t == G_TYPE_BOOLEAN) {
            type = "boolean";
            text = g_strdup(json_node_get_boolean(node) ? "on" : "off");
        } else if (t == G_TYPE_INT64) {
            type = "integer";
            text = g_strdup_printf("%" PRId64, json_node_get_int(node));
        } else {
            type = "number";
            text = g_strdup_printf("%g", json_node_get_double(node));
        }
    }
    g_hash_table_insert(in->types, g_strdup(key), (gpointer)type);
    opts_set(in->opts, key, text ? text : "");
}

/*
 * The value of KEY, or NULL if absent. For JSON input its type must be
 * JSON_TYPE; a missing required key is an error.
 */
static bool chan_get(ChanInput *in, const char *key, const char *json_type,
                     bool required, const char **out, GError **errp)
{
    const char *val = opts_get(in->opts, key);
    g_autofree char *name = chan_name(in, key);

    *out = NULL;
    if (!val) {
        if (required) {
            error_setg(errp, "Parameter '%s' is missing", name);
            return false;
        }
        return true;
    }
    g_hash_table_add(in->used, g_strdup(key));
    if (in->types && strcmp(g_hash_table_lookup(in->types, key), json_type)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: %s",
                   name, json_type);
        return false;
    }
    *out = val;
    return true;
}

static bool chan_str(ChanInput *in, const char *key, bool required,
                     char **out, GError **errp)
{
    const char *val;

    if (!chan_get(in, key, "string", required, &val, errp)) {
        return false;
    }
    *out = g_strdup(val);
    return true;
}

static bool chan_bool(ChanInput *in, const char *key, bool *has, bool *out,
                      GError **errp)
{
    const char *val;
    g_autofree char *name = chan_name(in, key);

    if (!chan_get(in, key, "boolean", false, &val, errp)) {
        return false;
    }
    *has = val != NULL;
    if (val && !parse_bool(val, out)) {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
        return false;
    }
    return true;
}

static bool chan_uint(ChanInput *in, const char *key, bool required,
                      uint64_t *out, GError **errp)
{
    const char *val;
    g_autofree char *name = chan_name(in, key);

    if (!chan_get(in, key, "integer", required, &val, errp)) {
        return false;
    }
    if (val && (val[0] == '-' || !parse_uint(val, out))) {
        error_setg(errp, "Parameter '%s' expects uint64", name);
        return false;
    }
    return true;
}

static bool chan_enum(ChanInput *in, const char *key,
                      const char *const *names, int *out, GError **errp)
{
    const char *val;
    g_autofree char *name = chan_name(in, key);

    if (!chan_get(in, key, "string", true, &val, errp)) {
        return false;
    }
    for (int i = 0; names[i]; i++) {
        if (!strcmp(names[i], val)) {
            *out = i;
            return true;
        }
    }
    error_setg(errp, "Parameter '%s' does not accept value '%s'", name, val);
    return false;
}

/* A required list of strings at KEY.0, KEY.1, ... */
static bool chan_strlist(ChanInput *in, const char *key, char ***out,
                         GError **errp)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *name = chan_name(in, key);

    if (opts_has(in->opts, key)) {
        /* JSON "[]" or a keyval scalar where a list belongs. */
        const char *type = in->types ? g_hash_table_lookup(in->types, key)
                                     : "string";

        g_hash_table_add(in->used, g_strdup(key));
        if (strcmp(type, "array")) {
            error_setg(errp, "Invalid parameter type for '%s', expected: "
                       "array", name);
            return false;
        }
    }
    for (unsigned int i = 0;; i++) {
        g_autofree char *k = g_strdup_printf("%s.%u", key, i);
        char *val;

        if (!opts_has(in->opts, k)) {
            break;
        }
        if (!chan_str(in, k, true, &val, errp)) {
            return false;
        }
        g_ptr_array_add(list, val);
    }
    if (!list->len && !opts_has(in->opts, key)) {
        error_setg(errp, "Parameter '%s' is missing", name);
        return false;
    }
    g_ptr_array_add(list, NULL);
    *out = (char **)g_ptr_array_free(g_steal_pointer(&list), false);
    return true;
}

static bool chan_parse_socket(ChanInput *in, MigAddress *a, GError **errp)
{
    int type;
    bool has, dummy;

    if (!chan_enum(in, "addr.type", socket_type_names, &type, errp)) {
        return false;
    }
    a->sock_type = type;
    switch (a->sock_type) {
    case MIG_SOCKET_INET:
        return chan_str(in, "addr.host", true, &a->host, errp) &&
               chan_str(in, "addr.port", true, &a->port, errp) &&
               chan_bool(in, "addr.ipv4", &a->has_ipv4, &a->ipv4, errp) &&
               chan_bool(in, "addr.ipv6", &a->has_ipv6, &a->ipv6, errp) &&
               chan_bool(in, "addr.numeric", &has, &dummy, errp) &&
               chan_bool(in, "addr.keep-alive", &has, &dummy, errp) &&
               chan_bool(in, "addr.mptcp", &has, &dummy, errp);
    case MIG_SOCKET_UNIX:
        return chan_str(in, "addr.path", true, &a->path, errp);
    case MIG_SOCKET_VSOCK:
        return chan_str(in, "addr.cid", true, &a->host, errp) &&
               chan_str(in, "addr.port", true, &a->port, errp);
    case MIG_SOCKET_FD:
        return chan_str(in, "addr.str", true, &a->fd_str, errp);
    }
    return false;
}

static bool chan_parse_addr(ChanInput *in, MigAddress *a, GError **errp)
{
    int transport;

    if (!chan_enum(in, "addr.transport", transport_names, &transport, errp)) {
        return false;
    }
    a->transport = transport;
    switch (a->transport) {
    case MIG_TRANSPORT_SOCKET:
        return chan_parse_socket(in, a, errp);
    case MIG_TRANSPORT_EXEC:
        return chan_strlist(in, "addr.args", &a->args, errp);
    case MIG_TRANSPORT_RDMA:
        return chan_str(in, "addr.host", true, &a->host, errp) &&
               chan_str(in, "addr.port", true, &a->port, errp);
    case MIG_TRANSPORT_FILE:
        return chan_str(in, "addr.filename", true, &a->filename, errp) &&
               chan_uint(in, "addr.offset", true, &a->offset, errp);
    }
    return false;
}

static MigChannel *chan_parse(ChanInput *in, GError **errp)
{
    g_autoptr(MigChannel) ch = g_new0(MigChannel, 1);
    int type;

    if (opts_has(in->opts, "addr")) {
        g_autofree char *name = chan_name(in, "addr");

        error_setg(errp, "Invalid parameter type for '%s', expected: object",
                   name);
        return NULL;
    }
    if (!chan_enum(in, "channel-type", channel_type_names, &type, errp) ||
        !chan_parse_addr(in, &ch->addr, errp)) {
        return NULL;
    }
    ch->type = type;
    for (unsigned int i = 0; i < opts_count(in->opts); i++) {
        const char *key = opts_key(in->opts, i);

        if (!g_hash_table_contains(in->used, key)) {
            g_autofree char *name = chan_name(in, key);

            error_setg(errp, "Parameter '%s' is unexpected", name);
            return NULL;
        }
    }
    return g_steal_pointer(&ch);
}

MigChannel *mig_channel_from_json(JsonNode *node, const char *where,
                                  GError **errp)
{
    ChanInput in = { .where = where };
    MigChannel *ch;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: object",
                   where);
        return NULL;
    }
    in.opts = opts_new();
    in.types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    in.used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    chan_flatten(&in, NULL, node);
    ch = chan_parse(&in, errp);
    opts_free(in.opts);
    g_hash_table_unref(in.types);
    g_hash_table_unref(in.used);
    return ch;
}

MigChannel *mig_channel_from_opts(const OptList *opts, GError **errp)
{
    ChanInput in = { 0 };
    MigChannel *ch;

    in.opts = opts_new();
    for (unsigned int i = 0; i < opts_count(opts); i++) {
        opts_set(in.opts, opts_key(opts, i), opts_value(opts, i));
    }
    in.used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ch = chan_parse(&in, errp);
    opts_free(in.opts);
    g_hash_table_unref(in.used);
    return ch;
}

MigChannel *mig_channel_parse_input(const char *uri, JsonArray *channels,
                                    MigChannel **cpr, GError **errp)
{
    MigChannel *found[MIG_CHANNEL__MAX] = { NULL };

    if (cpr) {
        *cpr = NULL;
    }
    if (!uri == !channels) {
        error_setg(errp, "need either 'uri' or 'channels' argument");
        return NULL;
    }
    if (uri) {
        return mig_uri_parse(uri, errp);
    }
    for (guint i = 0; i < json_array_get_length(channels); i++) {
        g_autofree char *where = g_strdup_printf("channels[%u]", i);
        MigChannel *ch = mig_channel_from_json(
            json_array_get_element(channels, i), where, errp);

        if (!ch) {
            goto fail;
        }
        if (found[ch->type]) {
            error_setg(errp, "Channel list has more than one %s entry",
                       mig_channel_type_name(ch->type));
            mig_channel_free(ch);
            goto fail;
        }
        found[ch->type] = ch;
    }
    if (!found[MIG_CHANNEL_MAIN]) {
        error_setg(errp, "Channel list has no main entry");
        goto fail;
    }
    if (cpr) {
        *cpr = found[MIG_CHANNEL_CPR];
    } else {
        mig_channel_free(found[MIG_CHANNEL_CPR]);
    }
    return found[MIG_CHANNEL_MAIN];

fail:
    for (int t = 0; t < MIG_CHANNEL__MAX; t++) {
        mig_channel_free(found[t]);
    }
    return NULL;
}

bool mig_incoming_arg_parse(const char *arg, MigChannel **out, GError **errp)
{
    g_autoptr(OptList) opts = NULL;

    *out = NULL;
    if (!strcmp(arg, "defer")) {
        return true;
    }
    if (mig_is_uri(arg)) {
        *out = mig_uri_parse(arg, errp);
        return *out != NULL;
    }
    opts = opts_parse(arg, "channel-type", errp);
    if (!opts) {
        return false;
    }
    *out = mig_channel_from_opts(opts, errp);
    return *out != NULL;
}

/* ---- descriptions ---- */

char *mig_address_to_string(const MigAddress *a)
{
    switch (a->transport) {
    case MIG_TRANSPORT_EXEC: {
        g_autofree char *cmd = g_strjoinv(" ", a->args);

        if (g_strv_length(a->args) == 3 && !strcmp(a->args[0], "/bin/sh") &&
            !strcmp(a->args[1], "-c")) {
            return g_strdup_printf("exec:%s", a->args[2]);
        }
        return g_strdup_printf("exec:%s", cmd);
    }
    case MIG_TRANSPORT_RDMA:
        return g_strdup_printf("rdma:%s:%s", a->host, a->port);
    case MIG_TRANSPORT_FILE:
        if (a->offset) {
            return g_strdup_printf("file:%s,offset=%" PRIu64, a->filename,
                                   a->offset);
        }
        return g_strdup_printf("file:%s", a->filename);
    case MIG_TRANSPORT_SOCKET:
        break;
    }
    switch (a->sock_type) {
    case MIG_SOCKET_INET:
        if (strchr(a->host, ':')) {
            return g_strdup_printf("tcp:[%s]:%s", a->host, a->port);
        }
        return g_strdup_printf("tcp:%s:%s", a->host, a->port);
    case MIG_SOCKET_UNIX:
        return g_strdup_printf("unix:%s", a->path);
    case MIG_SOCKET_VSOCK:
        return g_strdup_printf("vsock:%s:%s", a->host, a->port);
    case MIG_SOCKET_FD:
        break;
    }
    return g_strdup_printf("fd:%s", a->fd_str);
}

JsonNode *mig_address_socket_json(const MigAddress *a)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, socket_type_names[a->sock_type]);
    switch (a->sock_type) {
    case MIG_SOCKET_INET:
    case MIG_SOCKET_VSOCK:
        json_builder_set_member_name(b, a->sock_type == MIG_SOCKET_INET
                                            ? "host" : "cid");
        json_builder_add_string_value(b, a->host);
        json_builder_set_member_name(b, "port");
        json_builder_add_string_value(b, a->port);
        break;
    case MIG_SOCKET_UNIX:
        json_builder_set_member_name(b, "path");
        json_builder_add_string_value(b, a->path);
        break;
    case MIG_SOCKET_FD:
        json_builder_set_member_name(b, "str");
        json_builder_add_string_value(b, a->fd_str);
        break;
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* ---- transports ---- */

/* Whether the transport is one baton implements; QEMU's wording if not. */
static bool transport_supported(const MigAddress *a, GError **errp)
{
    if (a->transport == MIG_TRANSPORT_RDMA) {
        error_setg(errp, "Parameter 'uri' expects a valid migration protocol");
        return false;
    }
    if (a->transport == MIG_TRANSPORT_SOCKET &&
        a->sock_type == MIG_SOCKET_VSOCK) {
        error_setg(errp, "vsock migration is not supported by baton");
        return false;
    }
    return true;
}

/*
 * The final RAM pass is written while the guest is stopped: with the
 * default socket buffers (about 200 KiB) the writer sleeps on a full buffer
 * every few dozen pages, and the pause grows by those wake-ups.  Ask for
 * 4 MiB each way; the forced variant (CAP_NET_ADMIN) passes the
 * net.core.[rw]mem_max cap, the plain one is capped by it, and failing both
 * only costs speed.
 */
#define MIG_SOCKET_BUF (4 * 1024 * 1024)

static void socket_grow_buffers(int fd)
{
    static const int opts[][2] = {
        { SO_SNDBUFFORCE, SO_SNDBUF },
        { SO_RCVBUFFORCE, SO_RCVBUF },
    };
    int size = MIG_SOCKET_BUF;

    for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
        if (setsockopt(fd, SOL_SOCKET, opts[i][0], &size, sizeof(size)) < 0) {
            setsockopt(fd, SOL_SOCKET, opts[i][1], &size, sizeof(size));
        }
    }
}

/* Streams poll in slices, so every channel fd is non-blocking. */
static void conn_set(MigConn *conn, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int flags = fcntl(fd, F_GETFL);
    bool is_socket = getsockname(fd, (struct sockaddr *)&ss, &len) == 0;

    if (flags >= 0) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    if (is_socket) {
        socket_grow_buffers(fd);
    }
    conn->fd = fd;
    conn->can_pass_fds = is_socket && ss.ss_family == AF_UNIX;
}

bool mig_outgoing_is_async(const MigAddress *a)
{
    return a->transport == MIG_TRANSPORT_SOCKET &&
           (a->sock_type == MIG_SOCKET_INET ||
            a->sock_type == MIG_SOCKET_UNIX ||
            a->sock_type == MIG_SOCKET_VSOCK);
}

bool mig_incoming_is_listen(const MigAddress *a)
{
    return mig_outgoing_is_async(a);
}

static void exec_child_exited(GPid pid, gint status, gpointer data)
{
    g_spawn_close_pid(pid);
}

/* Run the command with one end of a pipe as its stdin or stdout. */
static bool exec_open(const MigAddress *a, bool outgoing, MigConn *conn,
                      GError **errp)
{
    g_autoptr(GError) local_err = NULL;
    GPid pid;
    int fd = -1;

    if (!a->args || !a->args[0]) {
        error_setg(errp, "exec: the command must not be empty");
        return false;
    }
    if (!g_spawn_async_with_pipes(NULL, a->args, NULL,
                                  G_SPAWN_SEARCH_PATH |
                                  G_SPAWN_DO_NOT_REAP_CHILD,
                                  NULL, NULL, &pid,
                                  outgoing ? &fd : NULL,
                                  outgoing ? NULL : &fd, NULL, &local_err)) {
        error_setg(errp, "exec: failed to run '%s': %s", a->args[0],
                   local_err->message);
        return false;
    }
    /* The command ends when the stream closes its pipe; reap it then. */
    g_child_watch_add(pid, exec_child_exited, NULL);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    conn_set(conn, fd);
    return true;
}

static bool file_open(const MigAddress *a, bool outgoing, MigConn *conn,
                      GError **errp)
{
    int flags = outgoing ? O_WRONLY | O_CREAT : O_RDONLY;
    int fd = monitor_fdset_open(a->filename, flags, 0600, errp);

    if (fd < 0) {
        return false;
    }
    /*
     * The source keeps whatever precedes OFFSET (a caller's header) and
     * drops any older stream after it.
     */
    if (outgoing && ftruncate(fd, a->offset) < 0) {
        error_setg_errno(errp, errno, "failed to truncate migration file "
                         "'%s' to offset %" PRIu64, a->filename, a->offset);
        close(fd);
        return false;
    }
    if (lseek(fd, a->offset, SEEK_SET) < 0) {
        error_setg_errno(errp, errno, "failed to seek migration file '%s' "
                         "to offset %" PRIu64, a->filename, a->offset);
        close(fd);
        return false;
    }
    conn->fd = fd;
    conn->can_pass_fds = false;
    return true;
}

static bool fd_open(const MigAddress *a, MigConn *conn, GError **errp)
{
    int fd = monitor_fd_param(a->fd_str, errp);

    if (fd < 0) {
        return false;
    }
    conn_set(conn, fd);
    return true;
}

/* The transports that open without a listener; OUTGOING picks the direction. */
static bool mig_direct_open(const MigAddress *a, bool outgoing, MigConn *conn,
                            GError **errp)
{
    if (!transport_supported(a, errp)) {
        return false;
    }
    switch (a->transport) {
    case MIG_TRANSPORT_EXEC:
        return exec_open(a, outgoing, conn, errp);
    case MIG_TRANSPORT_FILE:
        return file_open(a, outgoing, conn, errp);
    case MIG_TRANSPORT_SOCKET:
        if (a->sock_type == MIG_SOCKET_FD) {
            return fd_open(a, conn, errp);
        }
        break;
    case MIG_TRANSPORT_RDMA:
        break;
    }
    g_assert_not_reached();
}

bool mig_outgoing_open(const MigAddress *a, MigConn *conn, GError **errp)
{
    return mig_direct_open(a, true, conn, errp);
}

bool mig_incoming_open(const MigAddress *a, MigConn *conn, GError **errp)
{
    return mig_direct_open(a, false, conn, errp);
}

/* ---- sockets ---- */

static bool unix_sockaddr(const char *path, struct sockaddr_un *sun,
                          socklen_t *len, GError **errp)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", path);
        return false;
    }
    strcpy(sun->sun_path, path);
    *len = sizeof(*sun);
    return true;
}

static struct addrinfo *inet_resolve(const MigAddress *a, bool passive,
                                     GError **errp)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = passive ? AI_PASSIVE : 0,
    };
    struct addrinfo *res = NULL;
    const char *host = a->host && a->host[0] ? a->host : NULL;
    int rc;

    if (a->has_ipv4 && a->ipv4 && !(a->has_ipv6 && a->ipv6)) {
        hints.ai_family = AF_INET;
    } else if (a->has_ipv6 && a->ipv6 && !(a->has_ipv4 && a->ipv4)) {
        hints.ai_family = AF_INET6;
    }
    rc = getaddrinfo(host, a->port, &hints, &res);
    if (rc != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s",
                   a->host, a->port, gai_strerror(rc));
        return NULL;
    }
    return res;
}

/* Wait for a non-blocking connect on FD, or for CANCEL_FD. Returns errno. */
static int connect_wait(int fd, int cancel_fd)
{
    struct pollfd pfd[2] = {
        { .fd = fd, .events = POLLOUT },
        { .fd = cancel_fd, .events = POLLIN },
    };
    int err = 0;
    socklen_t len = sizeof(err);

    for (;;) {
        int r = poll(pfd, cancel_fd >= 0 ? 2 : 1, -1);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return errno;
        }
        if (cancel_fd >= 0 && pfd[1].revents) {
            return ECANCELED;
        }
        if (pfd[0].revents) {
            break;
        }
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    return err;
}

static int connect_one(int family, const struct sockaddr *sa, socklen_t len,
                       int cancel_fd, int *err)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, sa, len) == 0) {
        return fd;
    }
    *err = errno;
    if (errno == EINPROGRESS || errno == EAGAIN) {
        *err = connect_wait(fd, cancel_fd);
        if (!*err) {
            return fd;
        }
    }
    close(fd);
    return -1;
}

/* mig_socket_connect(), with the errno of a failed connect in *ERR_OUT. */
static bool socket_connect(const MigAddress *a, int cancel_fd, MigConn *conn,
                           int *err_out, GError **errp)
{
    int fd = -1, err = 0;

    *err_out = 0;
    if (!transport_supported(a, errp)) {
        return false;
    }
    if (a->sock_type == MIG_SOCKET_UNIX) {
        struct sockaddr_un sun;
        socklen_t len;

        if (!unix_sockaddr(a->path, &sun, &len, errp)) {
            return false;
        }
        fd = connect_one(AF_UNIX, (struct sockaddr *)&sun, len, cancel_fd,
                         &err);
        if (fd < 0) {
            *err_out = err;
            error_setg_errno(errp, err, "Failed to connect to '%s'", a->path);
            return false;
        }
    } else {
        struct addrinfo *res = inet_resolve(a, false, errp);

        if (!res) {
            return false;
        }
        for (struct addrinfo *ai = res; ai && fd < 0 && err != ECANCELED;
             ai = ai->ai_next) {
            fd = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
                             cancel_fd, &err);
        }
        freeaddrinfo(res);
        if (fd < 0) {
            *err_out = err;
            error_setg_errno(errp, err, "Failed to connect to '%s:%s'",
                             a->host, a->port);
            return false;
        }
    }
    conn_set(conn, fd);
    return true;
}

bool mig_socket_connect(const MigAddress *a, int cancel_fd, MigConn *conn,
                        GError **errp)
{
    int err;

    return socket_connect(a, cancel_fd, conn, &err, errp);
}

/*
 * Sleep up to MS, or less if CANCEL_FD becomes readable (returns ECANCELED)
 * or WATCH_FD reports input or a hang-up (returns EPIPE).
 */
static int retry_wait(int cancel_fd, int watch_fd, int ms)
{
    struct pollfd pfd[2];
    nfds_t n = 0;
    int r;

    if (cancel_fd >= 0) {
        pfd[n++] = (struct pollfd){ .fd = cancel_fd, .events = POLLIN };
    }
    if (watch_fd >= 0) {
        pfd[n++] = (struct pollfd){ .fd = watch_fd,
                                    .events = POLLIN | POLLRDHUP };
    }
    r = poll(pfd, n, ms);
    if (r <= 0) {
        return 0;
    }
    if (cancel_fd >= 0 && pfd[0].revents) {
        return ECANCELED;
    }
    return EPIPE;
}

bool mig_socket_connect_retry(const MigAddress *a, int cancel_fd,
                              int watch_fd, int timeout_ms, MigConn *conn,
                              GError **errp)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;
    int delay = 1;

    for (;;) {
        g_autoptr(GError) local_err = NULL;
        int err, why;

        if (socket_connect(a, cancel_fd, conn, &err, &local_err)) {
            return true;
        }
        /* Not listening (yet): the socket file or the listener is missing. */
        if ((err != ENOENT && err != ECONNREFUSED && err != EAGAIN) ||
            g_get_monotonic_time() >= deadline) {
            if (err == ENOENT || err == ECONNREFUSED || err == EAGAIN) {
                g_prefix_error(&local_err, "gave up after %d ms: ",
                               timeout_ms);
            }
            g_propagate_error(errp, g_steal_pointer(&local_err));
            return false;
        }
        why = retry_wait(cancel_fd, watch_fd, delay);
        if (why == ECANCELED) {
            error_setg(errp, "connection to the destination was cancelled");
            return false;
        }
        if (why == EPIPE) {
            error_setg(errp, "the new process closed the cpr channel before "
                       "it listened on the migration channel (it exited or "
                       "failed; see its log)");
            return false;
        }
        delay = MIN(delay * 2, 50);
    }
}

struct MigListener {
    int fd;
    MigAddress addr;
};

static int listen_unix(const MigAddress *a, GError **errp)
{
    struct sockaddr_un sun;
    socklen_t len;
    int fd;

    if (!unix_sockaddr(a->path, &sun, &len, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create socket");
        return -1;
    }
    /* A stale socket file from an earlier run would make bind fail. */
    unlink(a->path);
    if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
        error_setg_errno(errp, errno, "Failed to bind socket to %s", a->path);
        close(fd);
        return -1;
    }
    if (listen(fd, 1) < 0) {
        error_setg_errno(errp, errno, "Failed to listen on socket");
        close(fd);
        return -1;
    }
    return fd;
}

static int listen_inet(MigListener *l, GError **errp)
{
    struct addrinfo *res = inet_resolve(&l->addr, true, errp);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];
    int fd = -1, err = 0, on = 1;

    if (!res) {
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        error_setg_errno(errp, err, "Failed to bind socket to %s:%s",
                         l->addr.host, l->addr.port);
        return -1;
    }
    /* Report the port actually bound (port 0 picks a free one). */
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        g_free(l->addr.host);
        g_free(l->addr.port);
        l->addr.host = g_strdup(host);
        l->addr.port = g_strdup(port);
    }
    return fd;
}

MigListener *mig_listener_new(const MigAddress *a, GError **errp)
{
    MigListener *l;
    g_autoptr(MigChannel) copy = NULL;
    MigChannel tmp = { .addr = *a };

    if (!transport_supported(a, errp)) {
        return NULL;
    }
    l = g_new0(MigListener, 1);
    copy = mig_channel_copy(&tmp);
    l->addr = copy->addr;
    memset(&copy->addr, 0, sizeof(copy->addr));
    l->fd = a->sock_type == MIG_SOCKET_UNIX ? listen_unix(a, errp)
                                            : listen_inet(l, errp);
    if (l->fd < 0) {
        mig_listener_free(l);
        return NULL;
    }
    return l;
}

int mig_listener_fd(MigListener *l)
{
    return l->fd;
}

const MigAddress *mig_listener_address(MigListener *l)
{
    return &l->addr;
}

bool mig_listener_accept(MigListener *l, MigConn *conn, GError **errp)
{
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                   errno == EINTR || errno == ECONNABORTED)) {
        return false;
    }
    if (fd < 0) {
        error_setg_errno(errp, errno, "failed to accept a migration "
                         "connection");
        return false;
    }
    conn_set(conn, fd);
    return true;
}

void mig_listener_free(MigListener *l)
{
    if (l) {
        if (l->fd >= 0) {
            close(l->fd);
        }
        mig_address_clear(&l->addr);
        g_free(l);
    }
}
