/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The switchover handshake on a socket main channel: after the EOF record
 * the destination answers READY (loaded, give me the guest) or FAILED
 * (with its reason), and the source answers READY with GO; only then does
 * the destination run the guest. Messages, waits and the pause figures'
 * JSON; when to send what is migration.c's. Format:
 * docs/devel/migration-stream.md, "Switchover handshake".
 */
#include "util/osdep.h"

#include <poll.h>
#include <sys/socket.h>

#include "util/fault-inject.h"
#include "util/crc32c.h"
#include "util/error-report.h"

#include "migration-internal.h"

/* Type, be32 payload length in front; be32 CRC-32C of both + payload after. */
#define SWITCHOVER_HEADER 5
#define SWITCHOVER_MAX_PAYLOAD 1024

typedef enum SwitchoverType {
    /* destination: loaded; be64 when it finished */
    SWITCHOVER_READY = 0x81,
    /* destination: the load failed; the reason (UTF-8) */
    SWITCHOVER_FAILED = 0x82,
    /* source: run the guest; be64 x 4: stop, stopped, sent, GO */
    SWITCHOVER_GO = 0x83,
    /* destination: GO received, resuming the guest now; empty */
    SWITCHOVER_RESUMING = 0x84,
} SwitchoverType;

typedef struct SwitchoverMsg {
    uint8_t type;
    uint32_t len;
    uint8_t payload[SWITCHOVER_MAX_PAYLOAD];
} SwitchoverMsg;

static bool fd_write_all(int fd, const uint8_t *p, size_t n, GError **errp)
{
    while (n > 0) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };

            /* A few dozen bytes into an idle socket: never long. */
            if (poll(&pfd, 1, 1000) <= 0) {
                error_setg(errp, "switchover message: the channel does not "
                           "take data");
                return false;
            }
            continue;
        }
        if (r <= 0) {
            error_setg_errno(errp, r < 0 ? errno : EIO,
                             "switchover message: write failed");
            return false;
        }
        p += r;
        n -= r;
    }
    return true;
}

static bool switchover_send(int fd, uint8_t type, const void *payload,
                            uint32_t len, GError **errp)
{
    uint8_t buf[SWITCHOVER_HEADER + SWITCHOVER_MAX_PAYLOAD + 4];
    uint32_t crc;

    g_assert(len <= SWITCHOVER_MAX_PAYLOAD);
    buf[0] = type;
    buf[1] = len >> 24;
    buf[2] = len >> 16;
    buf[3] = len >> 8;
    buf[4] = len;
    if (len) {
        /* RESUMING has no payload (NULL): memcpy(.., NULL, 0) is UB. */
        memcpy(buf + SWITCHOVER_HEADER, payload, len);
    }
    crc = crc32c_update(0, buf, SWITCHOVER_HEADER + len);
    for (int i = 0; i < 4; i++) {
        buf[SWITCHOVER_HEADER + len + i] = crc >> (24 - 8 * i);
    }
    return fd_write_all(fd, buf, SWITCHOVER_HEADER + len + 4, errp);
}

/*
 * Read exactly N bytes by DEADLINE (monotonic µs; 0: none), giving up
 * when CANCEL_FD is readable or WATCH_FD reports anything.
 */
static bool fd_read_all(int fd, uint8_t *p, size_t n, int cancel_fd,
                        int watch_fd, int64_t deadline, GError **errp)
{
    while (n > 0) {
        struct pollfd pfd[3] = {
            { .fd = fd, .events = POLLIN },
            { .fd = cancel_fd, .events = POLLIN },
            { .fd = watch_fd, .events = POLLIN | POLLRDHUP },
        };
        int timeout = -1;
        ssize_t r;

        if (deadline) {
            int64_t left = deadline - g_get_monotonic_time();

            if (left <= 0) {
                error_setg(errp, "no answer from the destination in time");
                return false;
            }
            timeout = (left + 999) / 1000;
        }
        r = poll(pfd, 3, timeout);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            error_setg_errno(errp, errno, "switchover message: poll failed");
            return false;
        }
        if (cancel_fd >= 0 && pfd[1].revents) {
            error_setg(errp, "migration cancelled");
            return false;
        }
        if (!pfd[0].revents) {
            if (watch_fd >= 0 && pfd[2].revents) {
                error_setg(errp, "the new process closed the cpr channel "
                           "(it exited or failed; see its log)");
                return false;
            }
            continue;
        }
        r = recv(fd, p, n, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN ||
                      errno == EWOULDBLOCK)) {
            continue;
        }
        /* A peer that died with our data unread resets the connection. */
        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            error_setg(errp, "the peer closed the migration channel before "
                       "the switchover (it exited or failed; see its log)");
            return false;
        }
        if (r < 0) {
            error_setg_errno(errp, errno, "switchover message: read failed");
            return false;
        }
        p += r;
        n -= r;
    }
    return true;
}

static bool switchover_recv(int fd, int cancel_fd, int watch_fd,
                            int timeout_ms, SwitchoverMsg *m, GError **errp)
{
    int64_t deadline = timeout_ms < 0 ? 0 : g_get_monotonic_time() +
                                                (int64_t)timeout_ms * 1000;
    uint8_t hdr[SWITCHOVER_HEADER], tail[4];
    uint32_t crc;

    if (!fd_read_all(fd, hdr, sizeof(hdr), cancel_fd, watch_fd, deadline,
                     errp)) {
        return false;
    }
    m->type = hdr[0];
    m->len = (uint32_t)hdr[1] << 24 | hdr[2] << 16 | hdr[3] << 8 | hdr[4];
    if (m->type != SWITCHOVER_READY && m->type != SWITCHOVER_FAILED &&
        m->type != SWITCHOVER_GO && m->type != SWITCHOVER_RESUMING) {
        error_setg(errp, "switchover message: unknown type 0x%x", m->type);
        return false;
    }
    if (m->len > SWITCHOVER_MAX_PAYLOAD) {
        error_setg(errp, "switchover message: length %u exceeds %u", m->len,
                   SWITCHOVER_MAX_PAYLOAD);
        return false;
    }
    if (!fd_read_all(fd, m->payload, m->len, cancel_fd, watch_fd, deadline,
                     errp) ||
        !fd_read_all(fd, tail, sizeof(tail), cancel_fd, watch_fd, deadline,
                     errp)) {
        return false;
    }
    crc = crc32c_update(0, hdr, sizeof(hdr));
    crc = crc32c_update(crc, m->payload, m->len);
    if (crc != ((uint32_t)tail[0] << 24 | tail[1] << 16 | tail[2] << 8 |
                tail[3])) {
        error_setg(errp, "switchover message: checksum mismatch");
        return false;
    }
    return true;
}

static void put_u64(uint8_t *p, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint64_t)v >> (56 - 8 * i);
    }
}

static int64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return (int64_t)v;
}

bool switchover_wait_ready(int fd, int cancel_fd, int watch_fd,
                           int timeout_ms, int64_t *loaded, GError **errp)
{
    SwitchoverMsg m;

    if (!switchover_recv(fd, cancel_fd, watch_fd, timeout_ms, &m, errp)) {
        g_prefix_error(errp, "waiting for the destination to confirm the "
                       "load: ");
        return false;
    }
    if (m.type == SWITCHOVER_FAILED) {
        error_setg(errp, "the destination failed to load the migration: "
                   "%.*s", (int)m.len, (const char *)m.payload);
        return false;
    }
    if (m.type != SWITCHOVER_READY || m.len != 8) {
        error_setg(errp, "unexpected switchover message 0x%x (%u bytes) "
                   "from the destination", m.type, m.len);
        return false;
    }
    *loaded = get_u64(m.payload);
    return true;
}

bool switchover_send_go(int fd, int64_t stop_start, int64_t stopped,
                        int64_t saved, int64_t go, GError **errp)
{
    uint8_t payload[32];

    put_u64(payload, stop_start);
    put_u64(payload + 8, stopped);
    put_u64(payload + 16, saved);
    put_u64(payload + 24, go);
    if (!switchover_send(fd, SWITCHOVER_GO, payload, sizeof(payload),
                         errp)) {
        g_prefix_error(errp, "sending GO to the destination: ");
        return false;
    }
    return true;
}

bool switchover_confirm(int fd, int64_t loaded, int64_t times[4],
                        GError **errp)
{
    uint8_t ready[8];
    SwitchoverMsg m;

    put_u64(ready, loaded);
    if (!switchover_send(fd, SWITCHOVER_READY, ready, sizeof(ready), errp)) {
        g_prefix_error(errp, "the source did not hand the guest over: ");
        return false;
    }
    fault_inject_point("incoming-ready");
    if (!switchover_recv(fd, -1, -1, -1, &m, errp)) {
        g_prefix_error(errp, "the source did not hand the guest over: ");
        return false;
    }
    if (m.type != SWITCHOVER_GO || m.len != 32) {
        error_setg(errp, "unexpected switchover message 0x%x (%u bytes) "
                   "from the source", m.type, m.len);
        return false;
    }
    for (int i = 0; i < 4; i++) {
        times[i] = get_u64(m.payload + 8 * i);
    }
    /*
     * The commit point: once RESUMING is out the source never runs the
     * guest again, so nothing may fail between here and vm_start(). A
     * source that died after GO cannot run it either, so a failed send
     * is no reason to stop.
     */
    if (!switchover_send(fd, SWITCHOVER_RESUMING, NULL, 0, NULL)) {
        warn_report("the migration source went away after GO; resuming "
                    "the guest here");
    }
    return true;
}

bool switchover_wait_resuming(int fd, GError **errp)
{
    SwitchoverMsg m;

    /*
     * No time limit: while the destination lives it may still resume the
     * guest, so giving up would risk two running copies. Its death closes
     * the channel, which ends the wait.
     */
    if (!switchover_recv(fd, -1, -1, -1, &m, errp)) {
        g_prefix_error(errp, "the destination did not confirm GO: ");
        return false;
    }
    if (m.type != SWITCHOVER_RESUMING || m.len != 0) {
        error_setg(errp, "unexpected switchover message 0x%x (%u bytes) "
                   "from the destination", m.type, m.len);
        return false;
    }
    return true;
}

bool switchover_send_failed(int fd, const char *reason, GError **errp)
{
    return switchover_send(fd, SWITCHOVER_FAILED, reason,
                           MIN(strlen(reason), SWITCHOVER_MAX_PAYLOAD), errp);
}

void switchover_peer_reason(int fd, GError **err)
{
    g_autoptr(GError) ignored = NULL;
    SwitchoverMsg m;

    /* The destination sends FAILED just before it closes the channel. */
    if (switchover_recv(fd, -1, -1, 100, &m, &ignored) &&
        m.type == SWITCHOVER_FAILED) {
        g_clear_error(err);
        error_setg(err, "the destination failed to load the migration: "
                   "%.*s", (int)m.len, (const char *)m.payload);
    }
}

/* ---- x-pause-phases ---- */

void pause_phases_to_json(JsonBuilder *b, const PausePhases *p)
{
    static const struct {
        const char *name;
        size_t offset;
    } members[] = {
        { "stop", offsetof(PausePhases, stop) },
        { "save", offsetof(PausePhases, save) },
        { "exec", offsetof(PausePhases, exec) },
        { "setup", offsetof(PausePhases, setup) },
        { "load", offsetof(PausePhases, load) },
        { "handshake", offsetof(PausePhases, handshake) },
        { "resume", offsetof(PausePhases, resume) },
        { "total", offsetof(PausePhases, total) },
    };
    bool any = false;

    for (size_t i = 0; i < G_N_ELEMENTS(members); i++) {
        int64_t v = *(const int64_t *)((const char *)p + members[i].offset);

        if (v < 0) {
            continue;
        }
        if (!any) {
            json_builder_set_member_name(b, "x-pause-phases");
            json_builder_begin_object(b);
            any = true;
        }
        json_builder_set_member_name(b, members[i].name);
        json_builder_add_int_value(b, v);
    }
    if (any) {
        json_builder_end_object(b);
    }
}
