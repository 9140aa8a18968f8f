/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to migration/: migration addresses in QEMU's three spellings
 * (URIs such as "unix:/p" or "file:/f,offset=4096", the QMP MigrationChannel
 * object, and -incoming's JSON / dotted keys) and the transports behind
 * them: sockets (unix, tcp, fd), exec commands and files. The state machine
 * (migration.c) turns a connected endpoint into a MigStream.
 */
#ifndef BATON_MIGRATION_CHANNEL_H
#define BATON_MIGRATION_CHANNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "util/option.h"

/* QEMU's MigrationChannelType. */
typedef enum MigChannelType {
    MIG_CHANNEL_MAIN,
    MIG_CHANNEL_CPR,
    MIG_CHANNEL__MAX
} MigChannelType;

/* QEMU's MigrationAddressType. */
typedef enum MigTransport {
    MIG_TRANSPORT_SOCKET,
    MIG_TRANSPORT_EXEC,
    MIG_TRANSPORT_RDMA,
    MIG_TRANSPORT_FILE,
} MigTransport;

/* QEMU's SocketAddressType. */
typedef enum MigSocketType {
    MIG_SOCKET_INET,
    MIG_SOCKET_UNIX,
    MIG_SOCKET_VSOCK,
    MIG_SOCKET_FD,
} MigSocketType;

typedef struct MigAddress {
    MigTransport transport;
    MigSocketType sock_type;  /* MIG_TRANSPORT_SOCKET */
    char *host;               /* inet, rdma; vsock: the cid */
    char *port;               /* inet, rdma, vsock */
    bool has_ipv4, ipv4;      /* inet: restrict the address family */
    bool has_ipv6, ipv6;
    char *path;               /* unix */
    char *fd_str;             /* fd: a getfd name or a number */
    char **args;              /* exec: argv, NULL-terminated */
    char *filename;           /* file */
    uint64_t offset;          /* file: where the stream starts */
} MigAddress;

typedef struct MigChannel {
    MigChannelType type;
    MigAddress addr;
} MigChannel;

void mig_channel_free(MigChannel *ch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigChannel, mig_channel_free)
MigChannel *mig_channel_copy(const MigChannel *ch);

const char *mig_channel_type_name(MigChannelType type);

/* QEMU's migrate_is_uri(): letters followed by ':'. */
bool mig_is_uri(const char *str);
/* "unix:", "tcp:", "fd:", "vsock:", "exec:", "file:", "rdma:" URIs. */
MigChannel *mig_uri_parse(const char *uri, GError **errp);
/*
 * A MigrationChannel object from a QMP argument; WHERE names it in errors
 * ("channels[0]"), with QEMU's visitor wording.
 */
MigChannel *mig_channel_from_json(JsonNode *node, const char *where,
                                  GError **errp);
/* The same from -incoming's JSON or dotted keys (all values strings). */
MigChannel *mig_channel_from_opts(const OptList *opts, GError **errp);
/*
 * QMP's "uri" / "channels" pair (exactly one must be given): the main
 * channel, and in *CPR (may be NULL) the cpr channel if there was one.
 */
MigChannel *mig_channel_parse_input(const char *uri, JsonArray *channels,
                                    MigChannel **cpr, GError **errp);
/*
 * One -incoming argument: "defer" (returns true, *OUT NULL), a URI, or a
 * channel in JSON or dotted keys with implied key "channel-type".
 */
bool mig_incoming_arg_parse(const char *arg, MigChannel **out,
                            GError **errp);

/* The address as a URI, for messages and stream names. */
char *mig_address_to_string(const MigAddress *addr);
/* The SocketAddress JSON object of a socket address (query-migrate). */
JsonNode *mig_address_socket_json(const MigAddress *addr);

/* ---- transports ---- */

/* An endpoint ready to carry a stream. */
typedef struct MigConn {
    int fd;
    bool can_pass_fds;  /* a UNIX socket: SCM_RIGHTS works */
} MigConn;

#define MIG_CONN_INIT { .fd = -1 }

/*
 * Socket addresses (unix, tcp) connect in the migration thread; every other
 * transport is opened at once in the main thread, so that its errors
 * (unknown fd name, unwritable file) reach the migrate command.
 */
bool mig_outgoing_is_async(const MigAddress *addr);
/* Main thread, big lock held: fd, file and exec destinations. */
bool mig_outgoing_open(const MigAddress *addr, MigConn *conn, GError **errp);
/*
 * Migration thread: connect a socket address. Readable CANCEL_FD (or -1)
 * aborts the wait with an error.
 */
bool mig_socket_connect(const MigAddress *addr, int cancel_fd,
                        MigConn *conn, GError **errp);

/*
 * The same, retrying for TIMEOUT_MS while nobody listens yet (a new
 * process that is still starting). A readable or hung-up WATCH_FD (-1:
 * none) ends the wait: the peer that should listen has gone.
 */
bool mig_socket_connect_retry(const MigAddress *addr, int cancel_fd,
                              int watch_fd, int timeout_ms, MigConn *conn,
                              GError **errp);

/* A listening socket for -incoming unix:/tcp:. */
typedef struct MigListener MigListener;

/* Whether the incoming side listens (unix, tcp) or opens directly. */
bool mig_incoming_is_listen(const MigAddress *addr);
/* Bind and listen; the actual address (tcp port 0) is kept. */
MigListener *mig_listener_new(const MigAddress *addr, GError **errp);
int mig_listener_fd(MigListener *l);
/* The address actually listened on (tcp port resolved). */
const MigAddress *mig_listener_address(MigListener *l);
/*
 * Accept one connection (the listening fd is non-blocking). False without
 * an error: nothing to accept after all (try again on the next wakeup).
 */
bool mig_listener_accept(MigListener *l, MigConn *conn, GError **errp);
void mig_listener_free(MigListener *l);
/* Main thread, big lock held: fd, file and exec sources. */
bool mig_incoming_open(const MigAddress *addr, MigConn *conn, GError **errp);

#endif
