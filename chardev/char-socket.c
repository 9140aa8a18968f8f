/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "chardev-socket": stream sockets over UNIX paths (or Linux abstract
 * names), TCP, or an inherited fd (fd=N, listening or connected, for CPR).
 * A server accepts one client at a time, as QEMU does: later clients wait
 * in the listen backlog until the current one leaves. A client with
 * reconnect=SECONDS (or reconnect-ms) redials while disconnected.
 * Live update hands the listener ("listen") and the connected peer
 * ("conn") to the new process, which adopts them as they are.
 * No telnet, websocket or TLS.
 */
#include "util/osdep.h"

#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <glib-unix.h>

#include "chardev-internal.h"
#include "migration/cpr.h"
#include "util/error-report.h"

/* A client connect attempt may stall the main loop at most this long. */
#define SOCKET_CONNECT_TIMEOUT_MS 1000

typedef struct SocketChardev {
    Chardev parent;

    /* Properties (-chardev socket,...). */
    char *path;
    char *host;
    char *port;
    char *fd_str;
    char *wait_str;         /* text, so "not given" is visible */
    char *reconnect_str;
    char *reconnect_ms_str;
    bool server;
    bool nodelay;
    bool abstract;
    bool tight;

    /* Derived from the properties (or from an inherited fd) at open. */
    bool is_unix;
    bool is_listen;
    uint64_t reconnect_ms;

    /* Runtime. */
    int listen_fd;
    guint listen_watch;     /* accepting: no client connected */
    int fd;                 /* connected peer, -1 when none */
    GSource *watch;
    char *conn_name;        /* query-chardev filename while connected */
    guint reconnect_timer;
    bool broken;            /* a write failed; disconnect is scheduled */
    guint broken_idle;
    bool connect_err_reported;
} SocketChardev;

static gboolean socket_accept_cb(gint fd, GIOCondition cond, gpointer opaque);

/* ---- addresses and names ---- */

static char *socket_addr_desc(SocketChardev *s)
{
    const char *srv = s->is_listen ? ",server=on" : "";

    if (s->is_unix) {
        return g_strdup_printf("unix:%s%s%s%s", s->path,
                               s->abstract ? ",abstract=on" : "",
                               s->abstract && s->tight ? ",tight=on" : "",
                               srv);
    }
    if (s->port) {
        return g_strdup_printf("tcp:%s:%s%s", s->host ? s->host : "",
                               s->port, srv);
    }
    return g_strdup_printf("fd:%s%s", s->fd_str, srv);
}

static char *socket_filename(Chardev *chr)
{
    SocketChardev *s = (SocketChardev *)chr;
    g_autofree char *addr = NULL;

    if (s->conn_name) {
        return g_strdup(s->conn_name);
    }
    addr = socket_addr_desc(s);
    return g_strdup_printf("disconnected:%s", addr);
}

/* Numeric "host:port" of an inet address, IPv6 in brackets if BRACKETS. */
static bool socket_inet_name(const struct sockaddr_storage *ss, socklen_t len,
                             bool brackets, char **host, char **port)
{
    char h[NI_MAXHOST], p[NI_MAXSERV];
    bool v6 = ss->ss_family == AF_INET6;

    if (getnameinfo((const struct sockaddr *)ss, len, h, sizeof(h), p,
                    sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return false;
    }
    *host = (v6 && brackets) ? g_strdup_printf("[%s]", h) : g_strdup(h);
    *port = g_strdup(p);
    return true;
}

/* query-chardev's name of a live connection, in QEMU's format. */
static char *socket_conn_name(SocketChardev *s, int fd)
{
    struct sockaddr_storage ls, ps;
    socklen_t llen = sizeof(ls), plen = sizeof(ps);
    g_autofree char *lh = NULL, *lp = NULL, *ph = NULL, *pp = NULL;

    memset(&ls, 0, sizeof(ls));
    memset(&ps, 0, sizeof(ps));
    if (getsockname(fd, (struct sockaddr *)&ls, &llen) < 0 ||
        getpeername(fd, (struct sockaddr *)&ps, &plen) < 0) {
        return g_strdup("unknown");
    }
    if (ls.ss_family == AF_UNIX) {
        const struct sockaddr_un *sa = (const struct sockaddr_un *)
                                       (s->is_listen ? &ls : &ps);
        const char *path = s->path ? s->path : sa->sun_path;

        return g_strdup_printf(s->is_listen ? "unix:%s,server=on" : "unix:%s",
                               path);
    }
    if (!socket_inet_name(&ls, llen, true, &lh, &lp) ||
        !socket_inet_name(&ps, plen, true, &ph, &pp)) {
        return g_strdup("unknown");
    }
    return g_strdup_printf("tcp:%s:%s%s <-> %s:%s", lh, lp,
                           s->is_listen ? ",server=on" : "", ph, pp);
}

static bool socket_unix_addr(SocketChardev *s, struct sockaddr_un *sa,
                             socklen_t *len, GError **errp)
{
    size_t n = strlen(s->path);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    /* Room for the terminating NUL, or for the abstract leading NUL. */
    if (n >= sizeof(sa->sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long", s->path);
        return false;
    }
    if (s->abstract) {
        memcpy(sa->sun_path + 1, s->path, n);
        *len = s->tight ? offsetof(struct sockaddr_un, sun_path) + 1 + n
                        : sizeof(*sa);
    } else {
        memcpy(sa->sun_path, s->path, n);
        *len = sizeof(*sa);
    }
    return true;
}

/* A numeric port must fit in 16 bits; names are left to getaddrinfo. */
static bool socket_check_port(const char *port, GError **errp)
{
    uint64_t v;

    if (!*port || (g_ascii_isdigit(port[0]) &&
                   (!parse_uint(port, &v) || v > 65535))) {
        error_setg(errp, "invalid port '%s': expects 0-65535 or a service "
                   "name", port);
        return false;
    }
    return true;
}

static struct addrinfo *socket_resolve(SocketChardev *s, bool passive,
                                       GError **errp)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = passive ? AI_PASSIVE : 0,
    };
    struct addrinfo *res = NULL;
    const char *host = s->host && *s->host ? s->host : NULL;
    int rc;

    if (!socket_check_port(s->port, errp)) {
        return NULL;
    }
    rc = getaddrinfo(host, s->port, &hints, &res);
    if (rc != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s",
                   s->host ? s->host : "", s->port, gai_strerror(rc));
        return NULL;
    }
    return res;
}

/* ---- connection state ---- */

static void socket_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
}

static void socket_eof(Chardev *chr, int err);

static void socket_connected(SocketChardev *s, int fd)
{
    Chardev *chr = &s->parent;
    int one = 1;

    socket_set_nonblock(fd);
    if (s->nodelay && !s->is_unix) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (s->listen_watch) {
        g_source_remove(s->listen_watch);
        s->listen_watch = 0;
    }
    s->fd = fd;
    s->broken = false;
    s->connect_err_reported = false;
    g_free(s->conn_name);
    s->conn_name = socket_conn_name(s, fd);
    chr_cpr_save(chr, "conn", fd);
    /* Adopted (live update): the watch stays idle until the take-over. */
    s->watch = chr_watch_new(chr, fd, true, socket_eof);
    chr_be_event(chr, CHR_EVENT_OPENED);
}

/* Release the connection without telling anyone; see socket_drop. */
static void socket_free_connection(SocketChardev *s)
{
    chr_watch_clear(&s->watch);
    chr_cpr_forget(&s->parent, "conn", s->fd);
    chr_close_fd(&s->fd);
    g_clear_pointer(&s->conn_name, g_free);
    if (s->broken_idle) {
        g_source_remove(s->broken_idle);
        s->broken_idle = 0;
    }
    s->broken = false;
}

static gboolean socket_reconnect_cb(gpointer opaque);

static void socket_arm(SocketChardev *s)
{
    /* Live update: a peer found now would not reach the other process. */
    if (!chr_cpr_may_connect(&s->parent)) {
        return;
    }
    if (s->is_listen && s->listen_fd >= 0 && !s->listen_watch) {
        s->listen_watch = g_unix_fd_add(s->listen_fd, G_IO_IN,
                                        socket_accept_cb, s);
    }
    if (!s->is_listen && s->reconnect_ms && !s->reconnect_timer) {
        s->reconnect_timer = g_timeout_add(s->reconnect_ms,
                                           socket_reconnect_cb, s);
    }
}

/*
 * Drop the peer: a server goes back to accepting (the next queued client
 * is taken at once), a client with reconnect redials later.
 */
static void socket_drop(SocketChardev *s)
{
    if (s->fd < 0) {
        return;
    }
    socket_free_connection(s);
    if (s->is_listen) {
        socket_arm(s);
    }
    chr_be_event(&s->parent, CHR_EVENT_CLOSED);
    if (!s->is_listen) {
        socket_arm(s);
    }
}

static void socket_eof(Chardev *chr, int err)
{
    socket_drop((SocketChardev *)chr);
}

static void socket_disconnect(Chardev *chr)
{
    socket_drop((SocketChardev *)chr);
}

static gboolean socket_accept_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    SocketChardev *s = opaque;
    int cfd;

    if (!chr_cpr_may_connect(&s->parent)) {
        /* Frozen while the main loop polled: the client stays queued. */
        s->listen_watch = 0;
        return G_SOURCE_REMOVE;
    }
    cfd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
        /* Spurious wakeup or a client that already gave up. */
        return G_SOURCE_CONTINUE;
    }
    s->listen_watch = 0;
    socket_connected(s, cfd);
    return G_SOURCE_REMOVE;
}

/* ---- client ---- */

/* Finish a non-blocking connect on FD within the timeout; 0 or errno. */
static int socket_connect_fd(int fd, const struct sockaddr *sa,
                             socklen_t len)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int err = 0;
    socklen_t elen = sizeof(err);

    if (connect(fd, sa, len) == 0) {
        return 0;
    }
    if (errno != EINPROGRESS) {
        return errno;
    }
    if (poll(&pfd, 1, SOCKET_CONNECT_TIMEOUT_MS) <= 0) {
        return ETIMEDOUT;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) {
        return errno;
    }
    return err;
}

static int socket_connect_unix(SocketChardev *s, GError **errp)
{
    struct sockaddr_un sa;
    socklen_t len;
    int fd, err;

    if (!socket_unix_addr(s, &sa, &len, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "failed to create socket");
        return -1;
    }
    err = socket_connect_fd(fd, (struct sockaddr *)&sa, len);
    if (err) {
        close(fd);
        error_setg_errno(errp, err, "failed to connect to '%s'", s->path);
        return -1;
    }
    return fd;
}

static int socket_connect_inet(SocketChardev *s, GError **errp)
{
    struct addrinfo *res = socket_resolve(s, false, errp);
    int err = ENOENT;

    if (!res) {
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0) {
            err = errno;
            continue;
        }
        err = socket_connect_fd(fd, ai->ai_addr, ai->ai_addrlen);
        if (!err) {
            freeaddrinfo(res);
            return fd;
        }
        close(fd);
    }
    freeaddrinfo(res);
    error_setg_errno(errp, err, "failed to connect to '%s:%s'",
                     s->host ? s->host : "", s->port);
    return -1;
}

static bool socket_try_connect(SocketChardev *s, GError **errp)
{
    int fd = s->is_unix ? socket_connect_unix(s, errp)
                        : socket_connect_inet(s, errp);

    if (fd < 0) {
        return false;
    }
    socket_connected(s, fd);
    return true;
}

/* One redial; reports the first failure of a run only, as QEMU does. */
static void socket_redial(SocketChardev *s)
{
    g_autoptr(GError) err = NULL;

    if (socket_try_connect(s, &err)) {
        return;
    }
    if (!s->connect_err_reported) {
        error_report("Unable to connect character device %s: %s",
                     chardev_id(&s->parent), err->message);
        s->connect_err_reported = true;
    }
    socket_arm(s);
}

static gboolean socket_reconnect_cb(gpointer opaque)
{
    SocketChardev *s = opaque;

    s->reconnect_timer = 0;
    if (s->fd < 0 && chr_cpr_may_connect(&s->parent)) {
        socket_redial(s);
    }
    return G_SOURCE_REMOVE;
}

/* ---- server ---- */

static int socket_listen_unix(SocketChardev *s, GError **errp)
{
    struct sockaddr_un sa;
    socklen_t len;
    int fd;

    if (!socket_unix_addr(s, &sa, &len, errp)) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "failed to create socket");
        return -1;
    }
    /* A stale socket file from an earlier run would make bind fail. */
    if (!s->abstract && unlink(s->path) < 0 && errno != ENOENT) {
        error_setg_errno(errp, errno, "failed to unlink socket '%s'",
                         s->path);
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 1) < 0) {
        error_setg_errno(errp, errno, "failed to bind socket to '%s'",
                         s->path);
        close(fd);
        return -1;
    }
    return fd;
}

/* Record the bound address (port 0 becomes the real port), as QEMU does. */
static void socket_update_inet_addr(SocketChardev *s, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char *host, *port;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        socket_inet_name(&ss, len, false, &host, &port)) {
        g_free(s->host);
        g_free(s->port);
        s->host = host;
        s->port = port;
    }
}

static int socket_listen_inet(SocketChardev *s, GError **errp)
{
    struct addrinfo *res = socket_resolve(s, true, errp);
    int err = ENOENT;
    int one = 1;

    if (!res) {
        return -1;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, 1) == 0) {
            freeaddrinfo(res);
            socket_update_inet_addr(s, fd);
            return fd;
        }
        err = errno;
        close(fd);
    }
    freeaddrinfo(res);
    error_setg_errno(errp, err, "failed to listen on '%s:%s'",
                     s->host ? s->host : "", s->port);
    return -1;
}

/* wait=on: block startup until the first client arrives. */
static bool socket_wait_client(SocketChardev *s, GError **errp)
{
    g_autofree char *name = socket_filename(&s->parent);
    int cfd;

    info_report("baton waiting for connection on: %s", name);
    for (;;) {
        struct pollfd pfd = { .fd = s->listen_fd, .events = POLLIN };

        if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
            break;
        }
        cfd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0) {
            socket_connected(s, cfd);
            return true;
        }
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
            break;
        }
    }
    error_setg_errno(errp, errno, "failed to accept a client on %s", name);
    return false;
}

/* ---- open / close ---- */

/*
 * fd=N: a socket handed over by whoever started us. Listening sockets
 * become the server's listener, connected ones the current peer; the
 * address is read back from the fd (which socket_probe_fd() does for any
 * fd, including one adopted by live update).
 */
static bool socket_probe_fd(SocketChardev *s, int v, GError **errp)
{
    int type, listening;
    socklen_t len = sizeof(type);
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);

    if (getsockopt(v, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        error_setg_errno(errp, errno, "fd %s is not a usable socket",
                         s->fd_str);
        return false;
    }
    len = sizeof(listening);
    if (type != SOCK_STREAM ||
        getsockopt(v, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
        getsockname(v, (struct sockaddr *)&ss, &slen) < 0) {
        error_setg(errp, "fd %s is not a stream socket", s->fd_str);
        return false;
    }
    s->is_listen = listening;
    s->is_unix = ss.ss_family == AF_UNIX;
    if (s->is_unix && listening) {
        struct sockaddr_un *sa = (struct sockaddr_un *)&ss;
        size_t n = slen - offsetof(struct sockaddr_un, sun_path);

        s->abstract = n > 0 && sa->sun_path[0] == '\0';
        s->tight = s->abstract && slen < sizeof(*sa);
        g_free(s->path);
        s->path = s->abstract ? g_strndup(sa->sun_path + 1, n - 1)
                              : g_strndup(sa->sun_path, n);
    } else if (s->is_unix) {
        s->is_unix = false;   /* no path to show; "fd:N" names it */
    } else if (listening) {
        socket_update_inet_addr(s, v);
    }
    return true;
}

static bool socket_adopt_fd(SocketChardev *s, int *fd, GError **errp)
{
    uint64_t v;

    if (!parse_uint(s->fd_str, &v) || v > INT_MAX) {
        error_setg(errp, "Parameter 'fd' expects a file descriptor number");
        return false;
    }
    if (!socket_probe_fd(s, v, errp)) {
        return false;
    }
    *fd = v;
    return true;
}

/*
 * Live update, new process: take the old process's sockets over instead
 * of creating them. The listener keeps its address and its backlog of
 * clients not yet accepted; the connected peer stays connected and sees
 * nothing. Skipped on purpose: unlink/bind/listen (the path and port are
 * the old process's, still in use), connecting, accepting, wait=on (the
 * client is already there or queued), and, until the take-over, any I/O
 * (chr->cpr_state). *ADOPTED: the old process handed sockets over.
 */
static bool socket_cpr_adopt(SocketChardev *s, bool *adopted, GError **errp)
{
    Chardev *chr = &s->parent;
    int lfd = chr_cpr_find(chr, "listen");
    int cfd = chr_cpr_find(chr, "conn");

    *adopted = lfd >= 0 || cfd >= 0;
    if (!*adopted) {
        return true;
    }
    if (s->fd_str && !socket_probe_fd(s, lfd >= 0 ? lfd : cfd, errp)) {
        return false;
    }
    if (lfd >= 0) {
        if (!s->is_listen) {
            error_setg(errp, "chardev '%s': the old process handed over a "
                       "listening socket, but this one is a client",
                       chardev_id(chr));
            return false;
        }
        s->listen_fd = lfd;
        if (!s->is_unix) {
            socket_update_inet_addr(s, lfd); /* port=0: the real port */
        }
    }
    if (cfd >= 0) {
        socket_connected(s, cfd);
    } else if (s->is_listen && chr->cpr_state == CHR_CPR_WAITING &&
               cpr_incoming_mode() == MIG_MODE_CPR_EXEC) {
        /*
         * cpr-exec: the old image is gone and nobody else accepts on the
         * listener; with no session to restore, new clients may come in
         * now (migrate-incoming may arrive through one of them).
         */
        chr->cpr_state = CHR_CPR_LIVE;
        socket_arm(s);
    }
    return true;
}

static bool socket_check_opts(SocketChardev *s, bool *wait, GError **errp)
{
    bool has_inet = s->host || s->port;
    uint64_t v = 0;

    if (!!s->path + has_inet + !!s->fd_str != 1) {
        error_setg(errp, "chardev: socket: exactly one of 'path', 'host' "
                   "or 'fd' is required");
        return false;
    }
    if (s->host && !s->port) {
        error_setg(errp, "chardev: socket: no port given");
        return false;
    }
    if (s->reconnect_str && s->reconnect_ms_str) {
        error_setg(errp,
                   "'reconnect' and 'reconnect-ms' are mutually exclusive");
        return false;
    }
    if ((s->reconnect_str || s->reconnect_ms_str) && s->server) {
        error_setg(errp, "'reconnect' option is incompatible with socket in "
                   "server listen mode");
        return false;
    }
    if ((s->reconnect_str || s->reconnect_ms_str) && s->fd_str) {
        error_setg(errp, "'reconnect' option is incompatible with 'fd' "
                   "address type");
        return false;
    }
    if (s->wait_str && !s->server) {
        error_setg(errp, "'wait' option is incompatible with socket in "
                   "client connect mode");
        return false;
    }
    if (s->reconnect_str) {
        if (!chr_parse_uint_opt("reconnect", s->reconnect_str, 0, &v,
                                errp)) {
            return false;
        }
        if (v > UINT32_MAX / 1000) {
            error_setg(errp, "Parameter 'reconnect' is too large");
            return false;
        }
        v *= 1000;
    } else if (s->reconnect_ms_str) {
        if (!chr_parse_uint_opt("reconnect-ms", s->reconnect_ms_str, 0, &v,
                                errp)) {
            return false;
        }
        if (v > UINT32_MAX) {
            error_setg(errp, "Parameter 'reconnect-ms' is too large");
            return false;
        }
    }
    s->reconnect_ms = v;
    return chr_parse_bool_opt("wait", s->wait_str, s->server, wait, errp);
}

static bool socket_open(Chardev *chr, GError **errp)
{
    SocketChardev *s = (SocketChardev *)chr;
    bool wait, adopted;
    int fd = -1;

    s->fd = s->listen_fd = -1;
    if (!socket_check_opts(s, &wait, errp)) {
        return false;
    }
    s->is_unix = s->path != NULL;
    s->is_listen = s->server;
    if (!socket_cpr_adopt(s, &adopted, errp)) {
        return false;
    }
    if (adopted) {
        return true;
    }
    if (chr->cpr_state == CHR_CPR_WAITING && s->is_listen) {
        /* Binding here would take the old process's address away. */
        error_setg(errp, "chardev '%s': the old process handed over no "
                   "listening socket for it", chardev_id(chr));
        return false;
    }
    if (chr->cpr_state == CHR_CPR_WAITING) {
        /*
         * A client the old process had no connection for (it went away
         * and, without reconnect, stays away): the same here. With
         * reconnect, redialing starts at the take-over.
         */
        return true;
    }
    if (s->fd_str) {
        if (!socket_adopt_fd(s, &fd, errp)) {
            return false;
        }
        if (!s->is_listen) {
            socket_connected(s, fd);
            return true;
        }
        socket_set_nonblock(fd);
        s->listen_fd = fd;
        chr_cpr_save(chr, "listen", fd);
    } else if (s->is_listen) {
        s->listen_fd = s->is_unix ? socket_listen_unix(s, errp)
                                  : socket_listen_inet(s, errp);
        if (s->listen_fd < 0) {
            return false;
        }
        chr_cpr_save(chr, "listen", s->listen_fd);
    }
    if (s->is_listen) {
        if (wait && !socket_wait_client(s, errp)) {
            return false;
        }
        if (s->fd < 0) {
            socket_arm(s);
        }
        return true;
    }
    if (!s->reconnect_ms) {
        return socket_try_connect(s, errp);
    }
    /* With reconnect, a peer that is not there yet is not an error. */
    socket_redial(s);
    return true;
}

static void socket_close(Chardev *chr)
{
    SocketChardev *s = (SocketChardev *)chr;

    socket_free_connection(s);
    if (s->listen_watch) {
        g_source_remove(s->listen_watch);
        s->listen_watch = 0;
    }
    if (s->reconnect_timer) {
        g_source_remove(s->reconnect_timer);
        s->reconnect_timer = 0;
    }
    /*
     * The socket file stays: after CPR the new process owns this listener
     * and clients still find it by path.
     */
    chr_cpr_forget(chr, "listen", s->listen_fd);
    chr_close_fd(&s->listen_fd);
}

static gboolean socket_broken_cb(gpointer opaque);

/* Live update: accept and redial only while that is allowed. */
static void socket_cpr_update(Chardev *chr)
{
    SocketChardev *s = (SocketChardev *)chr;

    if (chr_cpr_may_connect(chr)) {
        if (s->fd < 0) {
            socket_arm(s);
        } else if (s->broken && !s->broken_idle) {
            /* A failed write's disconnect, put off by the hand-over. */
            s->broken_idle = g_idle_add(socket_broken_cb, s);
        }
        return;
    }
    if (s->listen_watch) {
        g_source_remove(s->listen_watch);
        s->listen_watch = 0;
    }
    if (s->reconnect_timer) {
        g_source_remove(s->reconnect_timer);
        s->reconnect_timer = 0;
    }
    if (!chr_cpr_may_write(chr) && s->broken_idle) {
        /* Not ours to drop now: the other process may serve the peer. */
        g_source_remove(s->broken_idle);
        s->broken_idle = 0;
    }
}

/*
 * Live update, new process: the old process's peer changed after the CPR
 * state was sent (one left, another was accepted). The old one never was
 * ours to serve: drop it without a word to the frontend, and take the new
 * one as if it had been handed over with the state.
 */
static bool socket_cpr_late(Chardev *chr, const char *role, int old_fd, int fd,
                            GError **errp)
{
    SocketChardev *s = (SocketChardev *)chr;

    if (strcmp(role, "conn")) {
        error_setg(errp,
                   "chardev '%s': its '%s' socket cannot change "
                   "during a live update",
                   chardev_id(chr), role);
        if (old_fd >= 0) {
            close(old_fd);
        }
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    if (old_fd >= 0 && old_fd != s->fd) {
        close(old_fd);
    }
    if (s->fd >= 0) {
        socket_free_connection(s);
        chr_be_event(chr, CHR_EVENT_CLOSED);
    }
    if (fd >= 0) {
        socket_connected(s, fd);
    }
    return true;
}

static gboolean socket_broken_cb(gpointer opaque)
{
    SocketChardev *s = opaque;

    s->broken_idle = 0;
    socket_drop(s);
    return G_SOURCE_REMOVE;
}

/*
 * With no client, output is dropped as in QEMU. A failed write schedules
 * the disconnect in the main loop instead of doing it here: the writer
 * may be a vCPU thread or the frontend itself, mid-callback.
 */
static ssize_t socket_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    SocketChardev *s = (SocketChardev *)chr;
    ssize_t r;

    if (s->fd < 0 || s->broken) {
        return len;
    }
    r = chr_fd_write_all(s->fd, true, buf, len);
    if (r < 0 && r != -EAGAIN) {
        s->broken = true;
        s->broken_idle = g_idle_add(socket_broken_cb, s);
    }
    return r;
}

static const ChardevOps socket_ops = {
    .open = socket_open,
    .close = socket_close,
    .write = socket_write,
    .disconnect = socket_disconnect,
    .filename = socket_filename,
    .cpr_update = socket_cpr_update,
    .cpr_late = socket_cpr_late,
};

static const Property socket_props[] = {
    DEFINE_PROP("path", PROP_STRING, SocketChardev, path,
                .desc = "UNIX socket path (or abstract name)"),
    DEFINE_PROP("host", PROP_STRING, SocketChardev, host,
                .desc = "TCP host to listen on or connect to"),
    DEFINE_PROP("port", PROP_STRING, SocketChardev, port,
                .desc = "TCP port"),
    DEFINE_PROP("fd", PROP_STRING, SocketChardev, fd_str,
                .desc = "inherited socket fd (listening or connected)"),
    DEFINE_PROP("server", PROP_BOOL, SocketChardev, server,
                .desc = "listen instead of connecting"),
    DEFINE_PROP("wait", PROP_STRING, SocketChardev, wait_str,
                .desc = "server: block startup until a client connects "
                        "(default on)"),
    DEFINE_PROP("reconnect", PROP_STRING, SocketChardev, reconnect_str,
                .desc = "client: redial every N seconds while disconnected"),
    DEFINE_PROP("reconnect-ms", PROP_STRING, SocketChardev, reconnect_ms_str,
                .desc = "client: redial every N ms while disconnected"),
    DEFINE_PROP("nodelay", PROP_BOOL, SocketChardev, nodelay,
                .desc = "set TCP_NODELAY"),
    DEFINE_PROP("abstract", PROP_BOOL, SocketChardev, abstract,
                .desc = "path names a Linux abstract socket"),
    DEFINE_PROP("tight", PROP_BOOL, SocketChardev, tight, .defval = "on",
                .desc = "abstract address length is the name's length"),
    CHARDEV_COMMON_PROPS,
    { NULL }
};

static const ChardevBackendDef socket_type = {
    .name = "chardev-socket",
    .instance_size = sizeof(SocketChardev),
    .props = socket_props,
    .ops = &socket_ops,
    .cpr_modes = CHR_CPR_MODES,
    .desc = "UNIX or TCP stream socket, server or client",
};

static void chardev_socket_register(void)
{
    chr_register_backend(&socket_type);
}
type_init(chardev_socket_register)
