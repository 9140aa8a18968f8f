/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The switchover handshake on a socket main channel: after the EOF record
 * the destination answers READY (loaded, give me the guest) or FAILED
 * (with its reason), and the source answers READY with GO; the
 * destination confirms with RESUMING (the commit: the source never takes
 * the guest back after it), runs the guest, and says so with RESUMED,
 * which carries its times back (a cpr-transfer source, version 2, waits
 * for it to know the guest was not lost). Messages, waits, and the pause
 * figures (phases and their JSON), and the destination's commit (a live
 * update's COMMIT notifiers, then RESUMING); when to send what else is
 * migration.c's.
 * Format:
 * docs/devel/migration-stream.md, "Switchover handshake".
 */
#include "util/osdep.h"

#include <poll.h>
#include <sys/socket.h>

#include "util/fault-inject.h"
#include "util/crc32c.h"
#include "util/error-report.h"
#include "migration/cpr.h"

#include "cpr-internal.h"
#include "migration-internal.h"

/* Type, be32 payload length in front; be32 CRC-32C of both + payload after. */
#define SWITCHOVER_HEADER 5
#define SWITCHOVER_MAX_PAYLOAD 1024
/* A message that began to arrive is whole within this (a hang guard). */
#define SWITCHOVER_ACK_READ_MS 30000

typedef enum SwitchoverType {
    /* destination: loaded; be64 when it finished */
    SWITCHOVER_READY = 0x81,
    /* destination: the load failed; the reason (UTF-8) */
    SWITCHOVER_FAILED = 0x82,
    /* source: run the guest; be64 x 4: stop, stopped, sent, GO */
    SWITCHOVER_GO = 0x83,
    /* destination: GO received, resuming the guest now; empty */
    SWITCHOVER_RESUMING = 0x84,
    /* destination: the guest runs; boot id, be64 x 3: loaded, GO, running */
    SWITCHOVER_RESUMED = 0x85,
    /* Destination → source, during the iterations: one section is ready. */
    SWITCHOVER_ACK = 0x86,
} SwitchoverType;

#define SWITCHOVER_RESUMED_LEN (SWITCHOVER_BOOT_ID_LEN + 3 * 8)

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
    if (m->type < SWITCHOVER_READY || m->type > SWITCHOVER_ACK) {
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
    return true;
}

static bool switchover_channel_broken(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

    /* The source sends nothing after GO: any of these is the end. */
    return poll(&pfd, 1, 0) > 0 &&
           (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static bool switchover_send_resuming(int fd, GError **errp)
{
    /*
     * The commit point: once RESUMING is out the source never runs the
     * guest again, so nothing may fail between here and vm_start().
     */
    if (!switchover_send(fd, SWITCHOVER_RESUMING, NULL, 0, errp)) {
        g_prefix_error(errp, "sending RESUMING to the source: ");
        return false;
    }
    return true;
}

/*
 * Big lock held, loaded and (with the handshake, HS) GO received: commit.
 * The fd owners of a live update take what the old process kept until
 * now (COMMIT; a failure refuses the guest, FAILED instead of RESUMING),
 * then RESUMING goes out. The source takes the guest back unless
 * RESUMING reaches it, so in cpr-transfer a channel that broke after GO
 * (found before COMMIT, or by RESUMING's failed send) ends this process
 * without running the guest while the old process lives; only if it is
 * gone does nobody else run it. A normal migration's source is not
 * known here: RESUMING's failure only warns there.
 */
bool switchover_commit(int fd, int hs, GError **errp)
{
    bool transfer = cpr_is_incoming() &&
                    cpr_incoming_mode() == MIG_MODE_CPR_TRANSFER;
    g_autoptr(GError) err = NULL;

    if (hs && transfer && switchover_channel_broken(fd) &&
        !cpr_transfer_source_gone()) {
        error_setg(errp, "the migration channel broke after GO, before this "
                   "process confirmed it: the old process lives and keeps "
                   "the guest");
        return false;
    }
    if (cpr_is_incoming() && !cpr_notify(CPR_EVENT_COMMIT, &err)) {
        if (hs) {
            g_autoptr(GError) ignored = NULL;

            switchover_send_failed(fd, err->message, &ignored);
        }
        g_propagate_error(errp, g_steal_pointer(&err));
        return false;
    }
    if (!hs || switchover_send_resuming(fd, &err)) {
        return true;
    }
    if (transfer && !cpr_transfer_source_gone()) {
        error_setg(errp, "%s: the old process lives and takes the guest back",
                   err->message);
        return false;
    }
    warn_report("%s: the migration source went away after GO; resuming the "
                "guest here", err->message);
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
    if (m.type == SWITCHOVER_FAILED) {
        error_setg(errp, "the destination refused the guest after GO: %.*s",
                   (int)m.len, (const char *)m.payload);
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

/*
 * The kernel's boot id: two processes that read the same one run on the
 * same host since the same boot, so their CLOCK_MONOTONIC times compare.
 * All zero if unknown (then nothing compares).
 */
static void switchover_boot_id(uint8_t id[SWITCHOVER_BOOT_ID_LEN])
{
    g_autofree char *text = NULL;
    size_t n = 0;

    memset(id, 0, SWITCHOVER_BOOT_ID_LEN);
    if (!g_file_get_contents("/proc/sys/kernel/random/boot_id", &text, NULL,
                             NULL)) {
        return;
    }
    for (const char *p = text; *p && n < 2 * SWITCHOVER_BOOT_ID_LEN; p++) {
        int v = g_ascii_xdigit_value(*p);

        if (v >= 0) {
            id[n / 2] |= v << (n % 2 ? 0 : 4);
            n++;
        }
    }
    if (n != 2 * SWITCHOVER_BOOT_ID_LEN) {
        memset(id, 0, SWITCHOVER_BOOT_ID_LEN);
    }
}

bool switchover_send_resumed(int fd, int64_t loaded, int64_t go_received,
                             int64_t resumed, GError **errp)
{
    uint8_t payload[SWITCHOVER_RESUMED_LEN];

    switchover_boot_id(payload);
    put_u64(payload + SWITCHOVER_BOOT_ID_LEN, loaded);
    put_u64(payload + SWITCHOVER_BOOT_ID_LEN + 8, go_received);
    put_u64(payload + SWITCHOVER_BOOT_ID_LEN + 16, resumed);
    return switchover_send(fd, SWITCHOVER_RESUMED, payload, sizeof(payload),
                           errp);
}

int switchover_wait_resumed(int fd, int cancel_fd, int timeout_ms,
                           PauseTimes *t, GError **errp)
{
    g_autoptr(GError) err = NULL;
    uint8_t id[SWITCHOVER_BOOT_ID_LEN];
    SwitchoverMsg m;
    const uint8_t *p = m.payload + SWITCHOVER_BOOT_ID_LEN;

    if (!switchover_recv(fd, cancel_fd, -1, timeout_ms, &m, &err)) {
        struct pollfd pfd = { .fd = cancel_fd, .events = POLLIN };

        if (cancel_fd >= 0 && poll(&pfd, 1, 0) > 0) {
            return 0;
        }
        /* Whatever broke the channel, the guest never ran there. */
        error_setg(errp, "the new process exited after it confirmed GO "
                   "(RESUMING), before it ran the guest: the guest is lost");
        return -1;
    }
    if (m.type != SWITCHOVER_RESUMED || m.len != SWITCHOVER_RESUMED_LEN) {
        error_setg(errp, "unexpected switchover message 0x%x (%u bytes) "
                   "from the destination after RESUMING: the guest may be "
                   "lost", m.type, m.len);
        return -1;
    }
    switchover_boot_id(id);
    t->same_clock =
        t->same_clock ||
        (memcmp(id, m.payload, sizeof(id)) == 0 &&
         memcmp(id, (uint8_t[SWITCHOVER_BOOT_ID_LEN]){0}, sizeof(id)) != 0);
    if (t->same_clock) {
        t->loaded = get_u64(p);
    }
    t->go_received = get_u64(p + 8);
    t->resumed = get_u64(p + 16);
    return 1;
}

/* ---- when to switch over ---- */

#define SWITCHOVER_MAX_EXTRA_PASSES 3

bool switchover_extra_pass_pays(uint64_t pending, double bw_per_ms,
                                int64_t pass_ms, int extra)
{
    /*
     * A guest that dirties its hot set faster than it can be sent keeps
     * the final set where it is; one that is slower shrinks it with each
     * pass. A few passes at most: each costs a little total time, and the
     * rate is only an estimate.
     */
    if (!pending || bw_per_ms <= 0 || pass_ms <= 0 ||
        extra >= SWITCHOVER_MAX_EXTRA_PASSES) {
        return false;
    }
    return pending / bw_per_ms * 2 <= pass_ms;
}

/* ---- x-pause-phases ---- */

static int64_t span(int64_t from, int64_t to)
{
    return from > 0 && to > 0 ? MAX(to - from, 0) : -1;
}

void pause_phases_source(const PauseTimes *t, PausePhases *p)
{
    *p = (PausePhases)PAUSE_PHASES_NONE;
    p->stop = span(t->stop_start, t->stopped);
    p->sync = span(t->stopped, t->synced);
    p->ram = span(t->synced, t->live_sent);
    p->devices = span(t->live_sent, t->saved);
    p->save = span(t->stopped, t->saved);
    if (!t->go) {
        /* Not handed over (or no handshake): the pause we know. */
        p->total = span(t->stop_start, t->saved);
        return;
    }
    /* The destination's own span needs no common clock. */
    p->resume = span(t->go_received, t->resumed);
    if (t->same_clock && t->loaded) {
        /*
         * The destination may finish loading before this thread, back
         * from its last write, takes "saved": then the load took no
         * time of its own, and the phases still add up to the total.
         */
        int64_t loaded = MAX(t->loaded, t->saved);

        p->load = span(t->saved, loaded);
        if (t->resumed) {
            p->handshake = span(loaded, t->go_received);
            p->total = span(t->stop_start, t->resumed);
            return;
        }
        p->handshake = span(loaded, t->go);
    } else {
        p->handshake = span(t->saved, t->go);
    }
    /* Until the destination said it resumes (or, lacking that, GO). */
    p->total = span(t->stop_start, t->resuming ? t->resuming : t->go);
}

void pause_phases_incoming(int mode, const PauseTimes *t, PausePhases *p)
{
    *p = (PausePhases)PAUSE_PHASES_NONE;
    switch (mode) {
    case MIG_MODE_CPR_TRANSFER:
        p->stop = span(t->stop_start, t->stopped);
        p->save = span(t->stopped, t->saved);
        /* As on the source: loading may end before "saved" was taken. */
        p->load = span(t->saved, MAX(t->loaded, t->saved));
        p->handshake = span(MAX(t->loaded, t->saved), t->go_received);
        p->resume = span(t->go_received, t->resumed);
        p->total = span(t->stop_start, t->resumed);
        break;
    case MIG_MODE_CPR_EXEC:
        p->stop = span(t->stop_start, t->stopped);
        p->save = span(t->stopped, t->saved);
        p->exec = span(t->saved, t->cpr_loaded);
        p->setup = span(t->cpr_loaded, t->load_start);
        p->load = span(t->load_start, t->loaded);
        p->resume = span(t->loaded, t->resumed);
        p->total = span(t->stop_start, t->resumed);
        break;
    default:
        /* Another host's clock maybe: only our own part is meaningful. */
        p->resume =
            span(t->go_received ? t->go_received : t->loaded, t->resumed);
        break;
    }
}

void pause_phases_to_json(JsonBuilder *b, const PausePhases *p)
{
    static const struct {
        const char *name;
        size_t offset;
    } members[] = {
        { "stop", offsetof(PausePhases, stop) },
        { "sync", offsetof(PausePhases, sync) },
        { "ram", offsetof(PausePhases, ram) },
        { "devices", offsetof(PausePhases, devices) },
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

bool switchover_send_ack(int fd, GError **errp)
{
    return switchover_send(fd, SWITCHOVER_ACK, NULL, 0, errp);
}

bool switchover_poll_acks(int fd, int cancel_fd, int timeout_ms,
                          unsigned int *acks, GError **errp)
{
    for (;;) {
        struct pollfd pfd[2] = {
            {.fd = fd, .events = POLLIN},
            {.fd = cancel_fd, .events = POLLIN},
        };
        SwitchoverMsg m;
        int r = poll(pfd, 2, timeout_ms);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            error_setg_errno(errp, errno, "switchover-ack: poll failed");
            return false;
        }
        if (r == 0 || (cancel_fd >= 0 && pfd[1].revents) || !pfd[0].revents) {
            return true; /* nothing (more) now, or cancelled */
        }
        /* A message has begun to arrive: the rest follows at once. */
        if (!switchover_recv(fd, cancel_fd, -1, SWITCHOVER_ACK_READ_MS, &m,
                             errp)) {
            return false;
        }
        if (m.type == SWITCHOVER_FAILED) {
            error_setg(errp, "the destination failed: %.*s", (int)m.len,
                       (const char *)m.payload);
            return false;
        }
        if (m.type != SWITCHOVER_ACK) {
            error_setg(errp, "switchover message 0x%x while iterating", m.type);
            return false;
        }
        (*acks)++;
        timeout_ms = 0;
    }
}
