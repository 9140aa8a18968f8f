/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Output a chardev keeps for its next peer after a migration
 * (chardev_hold_output()): kept while no peer is there, sent first when
 * one connects, never before the guest starts in this process, frozen
 * again when the state is saved, bounded, and QEMU's drop-when-nobody-
 * listens rule once the hold has ended. A unix socket server chardev and
 * local clients; vm_start() stands for the guest starting here.
 */
#include "util/osdep.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "chardev/char.h"
#include "hw/core/object.h"
#include "system/runstate.h"

#define WAIT_MS 3000
#include "main-loop-test.h"
#include "chardev-test.h"

static char *tmpdir;

/* A unix socket server chardev with FE attached; no client yet. */
static Chardev *server_new(const char *name, TestFe *fe, char **path)
{
    g_autofree char *spec = NULL;
    Chardev *chr;

    *path = g_build_filename(tmpdir, name, NULL);
    spec = g_strdup_printf("socket,id=%s,path=%s,server=on,wait=off", name,
                           *path);
    chr = mk_chr(spec);
    fe_attach(fe, chr);
    /*
     * These tests only count connections: take no input, as a frontend
     * without read() would (set before the main loop looks at it).
     */
    fe->room = 0;
    return chr;
}

static void server_free(Chardev *chr, TestFe *fe, char *path)
{
    fe_detach(fe, chr);
    object_unparent((Object *)chr);
    spin();
    g_free(path);
}

/* Connect a client to PATH and wait until the chardev has accepted it. */
static int peer_connect(const char *path, TestFe *fe)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int want = fe->opened + 1;

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    WAIT_FOR(fe->opened == want);
    return fd;
}

/* Read exactly LEN bytes from FD and compare them with WANT. */
static void expect_bytes(int fd, const uint8_t *want, size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len ? len : 1);
    size_t got = 0;

    while (got < len) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t r;

        g_assert_cmpint(poll(&pfd, 1, WAIT_MS), ==, 1);
        r = read(fd, buf + got, len - got);
        g_assert_cmpint(r, >, 0);
        got += r;
    }
    g_assert_cmpmem(buf, len, want, len);
}

static void expect_read(int fd, const char *want)
{
    expect_bytes(fd, (const uint8_t *)want, strlen(want));
}

/*
 * Nothing is readable on FD. Chardev writes are synchronous, so anything
 * sent is in the socket already: no waiting is needed to see it.
 */
static void expect_nothing(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    g_assert_cmpint(poll(&pfd, 1, 0), ==, 0);
}

static void put(Chardev *chr, const char *s)
{
    g_assert_cmpint(chardev_write(chr, (const uint8_t *)s, strlen(s)), ==,
                    (ssize_t)strlen(s));
}

/* What resuming the guest after a migration does. */
static void guest_starts(void)
{
    runstate_set(RUN_STATE_PAUSED);
    vm_start();
}

static void hold(Chardev *chr, const char *carried)
{
    chardev_hold_output(chr, (const uint8_t *)carried, strlen(carried));
}

/* ---- tests ---- */

/*
 * Destination, no client at the switchover: what the previous process
 * kept and what the guest writes here go to the first client, in order;
 * then the hold ends and a client that comes later misses what was
 * written while nobody listened, as in QEMU.
 */
static void test_until_peer(void)
{
    TestFe fe;
    char *path;
    Chardev *chr = server_new("h1", &fe, &path);
    int c1, c2;

    hold(chr, "ab");
    guest_starts();
    put(chr, "cd");
    c1 = peer_connect(path, &fe);
    expect_read(c1, "abcd");
    put(chr, "ef");
    expect_read(c1, "ef");

    close(c1);
    WAIT_FOR(fe.closed == 1);
    put(chr, "lost");
    c2 = peer_connect(path, &fe);
    put(chr, "gh");
    expect_read(c2, "gh");
    close(c2);
    server_free(chr, &fe, path);
}

/*
 * Destination, client connected before the migration: nothing goes out
 * while the state is loaded (the migration may still fail), all of it
 * when the guest starts here.
 */
static void test_frozen_until_start(void)
{
    TestFe fe;
    char *path;
    Chardev *chr = server_new("h2", &fe, &path);
    int c1 = peer_connect(path, &fe);
    uint8_t buf[8];

    hold(chr, "xy");
    expect_nothing(c1);
    g_assert_cmpuint(chardev_hold_save(chr, buf, sizeof(buf)), ==, 2);
    g_assert_cmpmem(buf, 2, "xy", 2);
    guest_starts();
    expect_read(c1, "xy");
    /* Sent: the hold has ended, nothing is left to migrate. */
    g_assert_cmpuint(chardev_hold_save(chr, buf, sizeof(buf)), ==, 0);
    put(chr, "z");
    expect_read(c1, "z");
    close(c1);
    server_free(chr, &fe, path);
}

/*
 * Source whose hold is still on (a guest that came by migration and
 * nobody connected since): saving the state hands the held bytes to the
 * destination, so a client that connects to the source afterwards
 * (postmigrate) gets none of them; a failed migration (the guest starts
 * here again) sends them all.
 */
static void test_saved_then_resumed(void)
{
    TestFe fe;
    char *path;
    Chardev *chr = server_new("h3", &fe, &path);
    uint8_t buf[8];
    int c1;

    hold(chr, "");
    guest_starts();
    put(chr, "12345");
    g_assert_cmpuint(chardev_hold_save(chr, buf, 3), ==, 3);
    g_assert_cmpmem(buf, 3, "123", 3);
    c1 = peer_connect(path, &fe);
    expect_nothing(c1);
    guest_starts();
    expect_read(c1, "12345");
    close(c1);
    server_free(chr, &fe, path);
}

/* At most CHARDEV_HOLD_MAX bytes: the oldest, then the live stream. */
static void test_limit(void)
{
    TestFe fe;
    char *path;
    Chardev *chr = server_new("h4", &fe, &path);
    size_t total = CHARDEV_HOLD_MAX + 100;
    g_autofree uint8_t *data = g_malloc(total);
    int c1;

    for (size_t i = 0; i < total; i++) {
        data[i] = i % 251;
    }
    hold(chr, "");
    guest_starts();
    g_assert_cmpint(chardev_write(chr, data, 1000), ==, 1000);
    g_assert_cmpint(chardev_write(chr, data + 1000, total - 1000), ==,
                    (ssize_t)(total - 1000));
    c1 = peer_connect(path, &fe);
    expect_bytes(c1, data, CHARDEV_HOLD_MAX);
    put(chr, "live");
    expect_read(c1, "live");
    close(c1);
    server_free(chr, &fe, path);
}

/* Without a hold (no migration): QEMU's rule, nothing is kept. */
static void test_no_hold(void)
{
    TestFe fe;
    char *path;
    Chardev *chr = server_new("h5", &fe, &path);
    uint8_t buf[8];
    int c1;

    guest_starts();
    put(chr, "dropped");
    g_assert_cmpuint(chardev_hold_save(chr, buf, sizeof(buf)), ==, 0);
    c1 = peer_connect(path, &fe);
    put(chr, "seen");
    expect_read(c1, "seen");
    close(c1);
    server_free(chr, &fe, path);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-chardev-hold-XXXXXX", &err);
    g_assert_no_error(err);

    g_test_add_func("/chardev/hold/until-peer", test_until_peer);
    g_test_add_func("/chardev/hold/frozen-until-start",
                    test_frozen_until_start);
    g_test_add_func("/chardev/hold/saved-then-resumed",
                    test_saved_then_resumed);
    g_test_add_func("/chardev/hold/limit", test_limit);
    g_test_add_func("/chardev/hold/no-hold", test_no_hold);
    ret = g_test_run();

    chardev_cleanup_all();
    rm_tmpdir(tmpdir);
    return ret;
}
