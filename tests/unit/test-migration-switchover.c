/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pause figures of a switchover (migration/switchover.c): RESUMED
 * from a destination on this host, from another host (another boot id)
 * and from an older destination that only closes the channel; and the
 * phase arithmetic on the source, including a destination that finished
 * loading before the source took its "saved" time; the destination's
 * commit after GO (RESUMING, or FAILED with its reason); the
 * switchover-ack messages the source collects while it iterates.
 */
#include "util/osdep.h"

#include <sys/socket.h>

#include "util/crc32c.h"

#include "../../migration/migration-internal.h"

static void make_socketpair(int sv[2])
{
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
}

static void test_resumed_same_host(void)
{
    PauseTimes t = {0};
    int sv[2];

    make_socketpair(sv);
    g_assert_true(switchover_send_resumed(sv[1], 100, 200, 300, NULL));
    g_assert_cmpint(switchover_wait_resumed(sv[0], -1, 1000, &t, NULL), ==, 1);
    g_assert_true(t.same_clock);
    g_assert_cmpint(t.loaded, ==, 100);
    g_assert_cmpint(t.go_received, ==, 200);
    g_assert_cmpint(t.resumed, ==, 300);
    close(sv[0]);
    close(sv[1]);
}

/* Framed by hand: RESUMED with a boot id that is not this host's. */
static void test_resumed_other_host(void)
{
    uint8_t msg[5 + 40 + 4] = {0x85, 0, 0, 0, 40};
    PauseTimes t = {0};
    uint32_t crc;
    int sv[2];

    memset(msg + 5, 0xee, 16);
    msg[5 + 16 + 7] = 1; /* loaded 1 */
    msg[5 + 24 + 7] = 2; /* GO at 2 */
    msg[5 + 32 + 7] = 9; /* running at 9 */
    crc = crc32c_update(0, msg, 45);
    for (int i = 0; i < 4; i++) {
        msg[45 + i] = crc >> (24 - 8 * i);
    }
    make_socketpair(sv);
    g_assert_cmpint(write(sv[1], msg, sizeof(msg)), ==, sizeof(msg));
    g_assert_cmpint(switchover_wait_resumed(sv[0], -1, 1000, &t, NULL), ==, 1);
    g_assert_false(t.same_clock);
    g_assert_cmpint(t.loaded, ==, 0); /* another clock: not used */
    g_assert_cmpint(t.go_received, ==, 2);
    g_assert_cmpint(t.resumed, ==, 9);
    close(sv[0]);
    close(sv[1]);
}

/*
 * An older destination closes after RESUMING: no wait, no figures (a
 * cpr-transfer source reads the same -1 as a lost guest).
 */
static void test_resumed_closed(void)
{
    PauseTimes t = {0};
    int sv[2];

    make_socketpair(sv);
    close(sv[1]);
    g_assert_cmpint(switchover_wait_resumed(sv[0], -1, 1000, &t, NULL), ==,
                    -1);
    g_assert_cmpint(t.resumed, ==, 0);
    close(sv[0]);
}

/*
 * After GO: a destination that commits sends RESUMING; one that refuses
 * the guest sends FAILED, which the source reports with the reason; a
 * normal migration's destination (no live update: the source unknown)
 * whose RESUMING cannot go out still runs the guest.
 */
static void test_commit(void)
{
    g_autoptr(GError) err = NULL;
    int sv[2];

    make_socketpair(sv);
    g_assert_true(switchover_commit(sv[1], 1, &err));
    g_assert_no_error(err);
    g_assert_true(switchover_wait_resuming(sv[0], &err));
    g_assert_no_error(err);

    g_assert_true(switchover_send_failed(sv[1], "no room", NULL));
    g_assert_false(switchover_wait_resuming(sv[0], &err));
    g_assert_cmpstr(err->message, ==,
                    "the destination refused the guest after GO: no room");
    g_clear_error(&err);

    close(sv[0]);
    g_assert_true(switchover_commit(sv[1], 1, &err));
    g_assert_no_error(err);
    close(sv[1]);
}

static void test_phases_source(void)
{
    PauseTimes t = {
        .stop_start = 1000,
        .stopped = 1100,
        .synced = 1110,
        .live_sent = 5000,
        .saved = 5200,
        .go = 5400,
        .resuming = 5500,
        .loaded = 5300,
        .go_received = 5450,
        .resumed = 5600,
        .same_clock = true,
    };
    PausePhases p;

    pause_phases_source(&t, &p);
    g_assert_cmpint(p.stop, ==, 100);
    g_assert_cmpint(p.sync, ==, 10);
    g_assert_cmpint(p.ram, ==, 3890);
    g_assert_cmpint(p.devices, ==, 200);
    g_assert_cmpint(p.save, ==, 4100);
    g_assert_cmpint(p.load, ==, 100);
    g_assert_cmpint(p.handshake, ==, 150);
    g_assert_cmpint(p.resume, ==, 150);
    g_assert_cmpint(p.total, ==, 4600);

    /* Loaded before "saved" was taken: no load time, still adds up. */
    t.loaded = 5150;
    pause_phases_source(&t, &p);
    g_assert_cmpint(p.load, ==, 0);
    g_assert_cmpint(p.handshake, ==, 250);
    g_assert_cmpint(p.stop + p.save + p.load + p.handshake + p.resume, ==,
                    p.total);

    /* Another host: no load; up to RESUMING; its own resume span. */
    t.same_clock = false;
    t.loaded = 0;
    pause_phases_source(&t, &p);
    g_assert_cmpint(p.load, ==, -1);
    g_assert_cmpint(p.handshake, ==, 200);
    g_assert_cmpint(p.resume, ==, 150);
    g_assert_cmpint(p.total, ==, 4500);

    /* Never handed over: the part of the pause this side knows. */
    t.go = 0;
    pause_phases_source(&t, &p);
    g_assert_cmpint(p.total, ==, 4200);
    g_assert_cmpint(p.handshake, ==, -1);
}

/* One more pass pays when sending the rest takes under half a pass. */
static void test_extra_pass(void)
{
    /* 8 MiB dirtied over 100 ms, 1 MB/ms: 8 ms to send, worth it. */
    g_assert_true(switchover_extra_pass_pays(8 << 20, 1e6, 100, 0));
    /* Bandwidth-bound: sending takes as long as the pass: stop now. */
    g_assert_false(switchover_extra_pass_pays(8 << 20, 1e6 / 12.5, 100, 0));
    g_assert_false(switchover_extra_pass_pays(8 << 20, 1e6, 100, 3));
    g_assert_false(switchover_extra_pass_pays(0, 1e6, 100, 0));
    g_assert_false(switchover_extra_pass_pays(8 << 20, 0, 100, 0));
}

/*
 * SWITCHOVER_ACKs are counted as they arrive, without waiting when none
 * did; a FAILED among them ends the wait with the destination's reason.
 */
static void test_acks(void)
{
    g_autoptr(GError) err = NULL;
    unsigned int acks = 0;
    int sv[2];

    make_socketpair(sv);
    g_assert_true(switchover_poll_acks(sv[0], -1, 0, &acks, NULL));
    g_assert_cmpuint(acks, ==, 0);
    g_assert_true(switchover_send_ack(sv[1], NULL));
    g_assert_true(switchover_send_ack(sv[1], NULL));
    g_assert_true(switchover_poll_acks(sv[0], -1, -1, &acks, NULL));
    g_assert_cmpuint(acks, ==, 2);
    g_assert_true(switchover_send_ack(sv[1], NULL));
    g_assert_true(switchover_send_failed(sv[1], "no room", NULL));
    g_assert_false(switchover_poll_acks(sv[0], -1, -1, &acks, &err));
    g_assert_cmpuint(acks, ==, 3);
    g_assert_cmpstr(err->message, ==, "the destination failed: no room");
    g_clear_error(&err);
    /* A destination that went away. */
    close(sv[1]);
    g_assert_false(switchover_poll_acks(sv[0], -1, -1, &acks, &err));
    close(sv[0]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/switchover/resumed-same-host",
                    test_resumed_same_host);
    g_test_add_func("/migration/switchover/resumed-other-host",
                    test_resumed_other_host);
    g_test_add_func("/migration/switchover/resumed-closed",
                    test_resumed_closed);
    g_test_add_func("/migration/switchover/commit", test_commit);
    g_test_add_func("/migration/switchover/phases-source", test_phases_source);
    g_test_add_func("/migration/switchover/extra-pass", test_extra_pass);
    g_test_add_func("/migration/switchover/acks", test_acks);
    return g_test_run();
}
