/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The other spellings of a chardev: QEMU's -serial/-monitor/-qmp shorthand
 * ("tcp::4444,server=on", "unix:/p", "file:/x", "chardev:ID") and QMP
 * chardev-add's nested backend description. Both are rewritten into
 * -chardev options and created by chardev_new_from_opts().
 */
#include "util/osdep.h"

#include "chardev-internal.h"

/* Shorthands that name a backend QEMU has and baton does not. */
static const char *const chr_spec_unsupported[] = {
    "telnet:", "tn3270:", "websocket:", "udp:", "mon:", "vc:", "con:",
    "msmouse", "wctablet", "braille", "testdev", "/dev/", NULL,
};

/* Append every pair of TAIL ("k=v,flag,...") to OPTS, replacing keys. */
static bool chr_spec_add_tail(OptList *opts, const char *tail,
                              const char *implied, GError **errp)
{
    g_autoptr(OptList) extra = opts_parse(tail, implied, errp);

    if (!extra) {
        return false;
    }
    for (unsigned int i = 0; i < opts_count(extra); i++) {
        opts_set(opts, opts_key(extra, i), opts_value(extra, i));
    }
    return true;
}

/* "HOST:PORT[,opts]" with HOST possibly empty or "[v6addr]". */
static bool chr_spec_tcp(OptList *opts, const char *spec, const char *p,
                         GError **errp)
{
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;
    const char *colon;
    const char *end;

    if (*p == '[') {
        const char *close = strchr(p, ']');

        if (!close || close[1] != ':') {
            error_setg(errp, "'%s' is not a valid char driver", spec);
            return false;
        }
        host = g_strndup(p + 1, close - p - 1);
        colon = close + 1;
    } else {
        colon = strchr(p, ':');
        if (!colon) {
            error_setg(errp, "'%s' is not a valid char driver", spec);
            return false;
        }
        host = g_strndup(p, colon - p);
    }
    end = colon + 1 + strcspn(colon + 1, ",");
    port = g_strndup(colon + 1, end - colon - 1);
    if (!*port) {
        error_setg(errp, "'%s' is not a valid char driver", spec);
        return false;
    }
    opts_set(opts, "backend", "socket");
    opts_set(opts, "host", host);
    opts_set(opts, "port", port);
    return !*end || chr_spec_add_tail(opts, end + 1, NULL, errp);
}

static OptList *chr_spec_parse(const char *spec, GError **errp)
{
    g_autoptr(OptList) opts = opts_new();
    const char *p;

    if (!strcmp(spec, "stdio") || !strcmp(spec, "null") ||
        !strcmp(spec, "pty")) {
        opts_set(opts, "backend", spec);
        return g_steal_pointer(&opts);
    }
    if (!strcmp(spec, "vc") || g_str_has_prefix(spec, "vc:")) {
        error_setg(errp, "vc is not supported; use stdio, pty, null, "
                   "file:, pipe:, unix: or tcp:");
        return NULL;
    }
    for (const char *const *u = chr_spec_unsupported; *u; u++) {
        if (g_str_has_prefix(spec, *u)) {
            error_setg(errp, "'%s' is not supported; use stdio, pty, null, "
                       "file:, pipe:, unix: or tcp:", spec);
            return NULL;
        }
    }
    if (g_str_has_prefix(spec, "file:") || g_str_has_prefix(spec, "pipe:")) {
        /* As in QEMU, everything after the colon is the path. */
        opts_set(opts, "backend", spec[0] == 'f' ? "file" : "pipe");
        opts_set(opts, "path", spec + 5);
        return g_steal_pointer(&opts);
    }
    if (g_str_has_prefix(spec, "unix:")) {
        opts_set(opts, "backend", "socket");
        if (!chr_spec_add_tail(opts, spec + 5, "path", errp)) {
            return NULL;
        }
        return g_steal_pointer(&opts);
    }
    if (g_str_has_prefix(spec, "tcp:")) {
        p = spec + 4;
        if (!chr_spec_tcp(opts, spec, p, errp)) {
            return NULL;
        }
        return g_steal_pointer(&opts);
    }
    error_setg(errp, "'%s' is not a valid char driver", spec);
    return NULL;
}

Chardev *chardev_new_from_spec(const char *spec, const char *id_hint,
                               GError **errp)
{
    g_autoptr(OptList) opts = NULL;

    if (!strcmp(spec, "none")) {
        return NULL;
    }
    if (g_str_has_prefix(spec, "chardev:")) {
        const char *id = spec + strlen("chardev:");
        Chardev *chr = chardev_find(id);

        if (!chr) {
            error_setg(errp, "chardev '%s' not found", id);
        }
        return chr;
    }
    opts = chr_spec_parse(spec, errp);
    if (!opts) {
        return NULL;
    }
    if (id_hint) {
        opts_set(opts, "id", id_hint);
    }
    return chardev_new_from_opts(opts, errp);
}

/* ---- QMP chardev-add ---- */

/*
 * Map one flattened key of {"id", "backend": {"type", "data": {...}}} to
 * its -chardev name; NULL for keys with no equivalent.
 */
static const char *chr_qapi_key(const char *key, const char *type)
{
    static const char addr_legacy[] = "backend.data.addr.data.";
    static const char addr_flat[] = "backend.data.addr.";
    static const char data[] = "backend.data.";

    if (!strcmp(key, "id")) {
        return "id";
    }
    if (g_str_has_prefix(key, addr_legacy)) {
        key += strlen(addr_legacy);
        return !strcmp(key, "str") ? "fd" : key;
    }
    if (g_str_has_prefix(key, addr_flat)) {
        key += strlen(addr_flat);
        return !strcmp(key, "str") ? "fd" : key;
    }
    if (!g_str_has_prefix(key, data)) {
        return NULL;
    }
    key += strlen(data);
    if (!strcmp(type, "file") && !strcmp(key, "out")) {
        return "path";
    }
    if (!strcmp(type, "file") && !strcmp(key, "in")) {
        return "input-path";
    }
    if (!strcmp(key, "device")) {
        return "path";
    }
    return key;
}

OptList *chr_opts_from_qapi(const OptList *opts, GError **errp)
{
    g_autoptr(OptList) out = opts_new();
    const char *type = opts_get(opts, "backend.type");
    const char *atype = opts_get(opts, "backend.data.addr.type");
    bool server;

    opts_set(out, "backend", type);
    if (atype && strcmp(atype, "unix") && strcmp(atype, "inet") &&
        strcmp(atype, "fd")) {
        error_setg(errp, "socket address type '%s' is not supported", atype);
        return NULL;
    }
    for (unsigned int i = 0; i < opts_count(opts); i++) {
        const char *key = opts_key(opts, i);
        const char *name;

        if (!strcmp(key, "backend.type") ||
            !strcmp(key, "backend.data.addr.type")) {
            continue;
        }
        name = chr_qapi_key(key, type);
        if (!name) {
            error_setg(errp, "Parameter '%s' is unexpected", key);
            return NULL;
        }
        opts_set(out, name, opts_value(opts, i));
    }
    if (!strcmp(type, "socket")) {
        /* QMP defaults differ from -chardev's: server=true, wait=false. */
        if (!opts_has(out, "server")) {
            opts_set(out, "server", "on");
        }
        if (!chr_parse_bool_opt("server", opts_get(out, "server"), true,
                                &server, errp)) {
            return NULL;
        }
        if (server && !opts_has(out, "wait")) {
            opts_set(out, "wait", "off");
        }
    }
    return g_steal_pointer(&out);
}
