/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Chardev backends driven through the public API with the default main
 * context: socket servers and clients (queueing, reconnect, fd=N), file,
 * pipe, pty, null, -serial shorthands, QMP's nested form, filenames and
 * error messages. Only local sockets and temporary files; no KVM.
 */
#include "util/osdep.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "chardev/char.h"
#include "hw/core/object.h"

#define WAIT_MS 10000   /* a deadline for hung tests, not a time budget */
#include "main-loop-test.h"
#include "chardev-test.h"

/* ---- fixtures ---- */

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static void destroy(Chardev *chr)
{
    /* A Chardev is an Object (its first member). */
    object_unparent((Object *)chr);
    spin();
}

static void assert_filename(Chardev *chr, const char *want)
{
    g_autofree char *name = chardev_filename(chr);

    g_assert_cmpstr(name, ==, want);
}

static bool filename_is(Chardev *chr, const char *want)
{
    g_autofree char *name = chardev_filename(chr);

    return !strcmp(name, want);
}

/* Read exactly strlen(WANT) bytes from FD within the timeout. */
static void expect_read(int fd, const char *want)
{
    size_t len = strlen(want), got = 0;
    char buf[256];

    g_assert_cmpuint(len, <, sizeof(buf));
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

static void expect_eof(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    char c;

    g_assert_cmpint(poll(&pfd, 1, WAIT_MS), ==, 1);
    g_assert_cmpint(read(fd, &c, 1), ==, 0);
}

static void write_str(int fd, const char *s)
{
    g_assert_cmpint(write(fd, s, strlen(s)), ==, (ssize_t)strlen(s));
}

static ssize_t chr_puts(Chardev *chr, const char *s)
{
    return chardev_write(chr, (const uint8_t *)s, strlen(s));
}

static char *read_file(const char *path)
{
    char *data = NULL;

    g_assert_true(g_file_get_contents(path, &data, NULL, NULL));
    return data;
}

/* ---- null, file, pipe ---- */

static void test_null(void)
{
    g_autoptr(GError) err = NULL;
    Chardev *chr = mk_chr("null,id=n0");
    TestFe fe, fe2;

    fe_init(&fe);
    fe_init(&fe2);
    g_assert_true(chardev_find("n0") == chr);
    g_assert_cmpstr(chardev_id(chr), ==, "n0");
    assert_filename(chr, "null");
    g_assert_false(chardev_frontend_open(chr));
    g_assert_cmpint(chr_puts(chr, "dropped"), ==, 7);

    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    g_assert_true(chardev_frontend_open(chr));
    /* Already open: OPENED arrives from the main loop, not inside attach. */
    g_assert_cmpint(fe.opened, ==, 0);
    spin();
    g_assert_cmpint(fe.opened, ==, 1);
    g_assert_false(chardev_attach(chr, &fe_ops, &fe2, &err));
    g_assert_cmpstr(err->message, ==, "chardev 'n0' is already in use");
    chardev_detach(chr);
    g_assert_false(chardev_frontend_open(chr));
    destroy(chr);
    g_assert_null(chardev_find("n0"));
    fe_fini(&fe);
    fe_fini(&fe2);
}

static void test_file(void)
{
    g_autofree char *path = tmp_path("out.txt");
    g_autofree char *log = tmp_path("log.txt");
    g_autofree char *spec = g_strdup_printf("file,id=f0,path=%s", path);
    g_autofree char *spec_app = g_strdup_printf("file,id=f0,path=%s,"
                                                "append=on", path);
    g_autofree char *spec_log = g_strdup_printf("null,id=l0,logfile=%s",
                                                log);
    g_autofree char *spec_logapp = g_strdup_printf("null,id=l0,logfile=%s,"
                                                   "logappend=on", log);
    g_autofree char *data = NULL;
    Chardev *chr;

    chr = mk_chr(spec);
    assert_filename(chr, "file");
    g_assert_cmpint(chr_puts(chr, "abc"), ==, 3);
    destroy(chr);
    data = read_file(path);
    g_assert_cmpstr(data, ==, "abc");
    g_free(data);

    /* Without append the file is truncated. */
    chr = mk_chr(spec);
    chr_puts(chr, "de");
    destroy(chr);
    data = read_file(path);
    g_assert_cmpstr(data, ==, "de");
    g_free(data);

    chr = mk_chr(spec_app);
    chr_puts(chr, "xy");
    destroy(chr);
    data = read_file(path);
    g_assert_cmpstr(data, ==, "dexy");
    g_free(data);

    /* logfile copies output, even of the null backend. */
    chr = mk_chr(spec_log);
    chr_puts(chr, "one");
    destroy(chr);
    chr = mk_chr(spec_logapp);
    chr_puts(chr, "two");
    destroy(chr);
    data = read_file(log);
    g_assert_cmpstr(data, ==, "onetwo");
}

static void test_pipe(void)
{
    g_autofree char *base = tmp_path("fifo");
    g_autofree char *in = g_strdup_printf("%s.in", base);
    g_autofree char *out = g_strdup_printf("%s.out", base);
    g_autofree char *spec = g_strdup_printf("pipe,id=p0,path=%s", base);
    g_autoptr(GError) err = NULL;
    Chardev *chr;
    TestFe fe;
    int rfd, wfd;

    fe_init(&fe);
    g_assert_cmpint(mkfifo(in, 0600), ==, 0);
    g_assert_cmpint(mkfifo(out, 0600), ==, 0);
    chr = mk_chr(spec);
    assert_filename(chr, "pipe");
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));

    rfd = open(out, O_RDONLY | O_NONBLOCK);
    g_assert_cmpint(rfd, >=, 0);
    g_assert_cmpint(chr_puts(chr, "to-host"), ==, 7);
    expect_read(rfd, "to-host");

    wfd = open(in, O_WRONLY | O_NONBLOCK);
    g_assert_cmpint(wfd, >=, 0);
    write_str(wfd, "to-guest");
    WAIT_FOR(fe_rx_is(&fe, "to-guest"));

    close(rfd);
    close(wfd);
    destroy(chr);
    fe_fini(&fe);
}

static void test_pty(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    Chardev *chr = mk_chr("pty,id=pty0");
    TestFe fe;
    int sfd;

    fe_init(&fe);
    name = chardev_filename(chr);
    g_assert_true(g_str_has_prefix(name, "pty:/dev/pts/"));
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    run_for(20);
    /* Nobody has the slave open: not connected, output dropped. */
    g_assert_cmpint(fe.opened, ==, 0);
    g_assert_cmpint(chr_puts(chr, "lost"), ==, 4);

    sfd = open(name + 4, O_RDWR | O_NOCTTY);
    g_assert_cmpint(sfd, >=, 0);
    WAIT_FOR(fe.opened == 1);
    g_assert_cmpint(chr_puts(chr, "hi"), ==, 2);
    expect_read(sfd, "hi");
    write_str(sfd, "yo");
    WAIT_FOR(fe_rx_is(&fe, "yo"));

    close(sfd);
    WAIT_FOR(fe.closed == 1);
    chardev_detach(chr);
    destroy(chr);
    fe_fini(&fe);
}

/* ---- sockets ---- */

static void test_socket_server(void)
{
    g_autofree char *path = tmp_path("srv.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=s0,path=%s,"
                                            "server=on,wait=off", path);
    g_autofree char *disc = g_strdup_printf("disconnected:unix:%s,server=on",
                                            path);
    g_autofree char *conn = g_strdup_printf("unix:%s,server=on", path);
    g_autoptr(GError) err = NULL;
    Chardev *chr = mk_chr(spec);
    TestFe fe;
    int c1, c2, c3;

    fe_init(&fe);
    assert_filename(chr, disc);
    /* No client: output is dropped, reported as written. */
    g_assert_cmpint(chr_puts(chr, "nobody"), ==, 6);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    spin();
    g_assert_cmpint(fe.opened, ==, 0);

    c1 = unix_connect(path);
    WAIT_FOR(fe.opened == 1);
    assert_filename(chr, conn);
    write_str(c1, "abc");
    WAIT_FOR(fe_rx_is(&fe, "abc"));
    g_assert_cmpint(chr_puts(chr, "xyz"), ==, 3);
    expect_read(c1, "xyz");

    /* A second client waits in the backlog while the first is served. */
    c2 = unix_connect(path);
    write_str(c2, "q");
    run_for(50);
    g_assert_cmpint(fe.opened, ==, 1);
    g_assert_true(fe_rx_is(&fe, "abc"));

    close(c1);
    WAIT_FOR(fe.closed == 1 && fe.opened == 2);
    WAIT_FOR(fe_rx_is(&fe, "abcq"));
    g_assert_cmpint(chr_puts(chr, "to2"), ==, 3);
    expect_read(c2, "to2");

    /* The monitor can drop its peer; the server listens again. */
    chardev_disconnect(chr);
    g_assert_cmpint(fe.closed, ==, 2);
    assert_filename(chr, disc);
    expect_eof(c2);
    c3 = unix_connect(path);
    WAIT_FOR(fe.opened == 3);

    close(c2);
    close(c3);
    chardev_detach(chr);
    destroy(chr);
    fe_fini(&fe);
}

static void test_socket_flow_control(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *spec = NULL;
    Chardev *chr;
    TestFe fe;
    int sv[2];

    fe_init(&fe);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    spec = g_strdup_printf("socket,id=fc0,fd=%d", sv[0]);
    chr = mk_chr(spec);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    fe.room = 0;
    write_str(sv[1], "0123456789");
    run_for(30);
    g_assert_cmpint(fe.opened, ==, 1);
    g_assert_cmpuint(fe.rx->len, ==, 0);
    fe.room = 3;
    WAIT_FOR(fe.rx->len == 10);
    g_assert_cmpuint(fe.max_chunk, ==, 3);
    g_assert_true(fe_rx_is(&fe, "0123456789"));

    g_assert_cmpint(chr_puts(chr, "back"), ==, 4);
    expect_read(sv[1], "back");
    /* The peer leaves: CLOSED, and a connected fd has nothing to redial. */
    close(sv[1]);
    WAIT_FOR(fe.closed == 1);
    g_free(spec);
    spec = g_strdup_printf("disconnected:fd:%d", sv[0]);
    assert_filename(chr, spec);
    chardev_detach(chr);
    destroy(chr);
    fe_fini(&fe);
}

static void test_socket_hangup(void)
{
    g_autofree char *path = tmp_path("hup.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=h0,path=%s,"
                                            "server=on,wait=off", path);
    g_autofree char *disc = g_strdup_printf("disconnected:unix:%s,server=on",
                                            path);
    g_autofree char *conn = g_strdup_printf("unix:%s,server=on", path);
    g_autoptr(GError) err = NULL;
    Chardev *chr = mk_chr(spec);
    TestFe fe;
    int c;

    /* No frontend at all: a client that leaves still frees the server. */
    fe_init(&fe);
    c = unix_connect(path);
    WAIT_FOR(filename_is(chr, conn));
    close(c);
    WAIT_FOR(filename_is(chr, disc));

    /* A full frontend still gets the bytes sent just before a hang-up. */
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    fe.room = 0;
    c = unix_connect(path);
    WAIT_FOR(fe.opened == 1);
    write_str(c, "tail");
    close(c);
    run_for(30);
    g_assert_cmpint(fe.closed, ==, 0);
    g_assert_cmpuint(fe.rx->len, ==, 0);
    fe.room = 4096;
    WAIT_FOR(fe.closed == 1);
    g_assert_true(fe_rx_is(&fe, "tail"));

    /* Writing to a peer that is gone fails once, then output is dropped. */
    c = unix_connect(path);
    WAIT_FOR(fe.opened == 2);
    close(c);
    g_assert_cmpint(chr_puts(chr, "lost"), ==, -EPIPE);
    g_assert_cmpint(chr_puts(chr, "lost"), ==, 4);
    WAIT_FOR(fe.closed == 2);
    run_for(20);
    g_assert_cmpint(fe.closed, ==, 2);
    assert_filename(chr, disc);

    chardev_detach(chr);
    destroy(chr);
    fe_fini(&fe);
}

static void test_socket_tcp(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    g_autofree char *want = NULL;
    Chardev *chr = mk_chr("socket,id=t0,host=127.0.0.1,port=0,server=on,"
                          "wait=off,nodelay=on");
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);
    unsigned int port;
    TestFe fe;
    int c;

    fe_init(&fe);
    name = chardev_filename(chr);
    g_assert_true(g_str_has_prefix(name, "disconnected:tcp:127.0.0.1:"));
    g_assert_true(g_str_has_suffix(name, ",server=on"));
    port = atoi(name + strlen("disconnected:tcp:127.0.0.1:"));
    g_assert_cmpuint(port, >, 0);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));

    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(connect(c, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    WAIT_FOR(fe.opened == 1);
    g_assert_cmpint(getsockname(c, (struct sockaddr *)&sa, &len), ==, 0);
    want = g_strdup_printf("tcp:127.0.0.1:%u,server=on <-> 127.0.0.1:%u",
                           port, ntohs(sa.sin_port));
    assert_filename(chr, want);
    write_str(c, "tcp!");
    WAIT_FOR(fe_rx_is(&fe, "tcp!"));
    close(c);
    WAIT_FOR(fe.closed == 1);
    chardev_detach(chr);
    destroy(chr);
    fe_fini(&fe);
}

static void test_socket_abstract(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = g_strdup_printf("baton-test-%d", (int)getpid());
    g_autofree char *spec = g_strdup_printf("socket,id=ab0,path=%s,"
                                            "abstract=on,server=on,wait=off",
                                            name);
    g_autofree char *disc = g_strdup_printf("disconnected:unix:%s,abstract=on,"
                                            "tight=on,server=on", name);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    Chardev *chr = mk_chr(spec);
    TestFe fe;
    int c;

    fe_init(&fe);
    assert_filename(chr, disc);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    memcpy(sa.sun_path + 1, name, strlen(name));
    c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(connect(c, (struct sockaddr *)&sa,
                            offsetof(struct sockaddr_un, sun_path) + 1 +
                            strlen(name)), ==, 0);
    WAIT_FOR(fe.opened == 1);
    close(c);
    WAIT_FOR(fe.closed == 1);
    chardev_detach(chr);
    destroy(chr);
    fe_fini(&fe);
}

typedef struct LateClient {
    char *path;
    int fd;
} LateClient;

static void *late_client_thread(void *opaque)
{
    LateClient *lc = opaque;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    g_strlcpy(sa.sun_path, lc->path, sizeof(sa.sun_path));
    /* Until the chardev listens (deadline WAIT_MS: a hung test). */
    for (int i = 0; i < WAIT_MS / 10; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            lc->fd = fd;
            return NULL;
        }
        close(fd);
        g_usleep(10 * 1000);
    }
    return NULL;
}

static void test_socket_wait(void)
{
    g_autoptr(GError) err = NULL;
    LateClient lc = { .path = tmp_path("wait.sock"), .fd = -1 };
    g_autofree char *spec = g_strdup_printf("socket,id=w0,path=%s,server=on",
                                            lc.path);
    g_autofree char *conn = g_strdup_printf("unix:%s,server=on", lc.path);
    pthread_t th;
    Chardev *chr;
    TestFe fe;

    fe_init(&fe);
    pthread_create(&th, NULL, late_client_thread, &lc);
    /* wait=on is the server default: creation blocks for the client. */
    chr = mk_chr(spec);
    pthread_join(th, NULL);
    g_assert_cmpint(lc.fd, >=, 0);
    assert_filename(chr, conn);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    WAIT_FOR(fe.opened == 1);
    close(lc.fd);
    WAIT_FOR(fe.closed == 1);
    chardev_detach(chr);
    destroy(chr);
    g_free(lc.path);
    fe_fini(&fe);
}

/* Accept on LFD while running the main loop (the chardev redials from it). */
static int accept_looping(int lfd)
{
    gint64 dl = g_get_monotonic_time() + WAIT_MS * 1000;

    while (g_get_monotonic_time() < dl) {
        struct pollfd pfd = { .fd = lfd, .events = POLLIN };

        spin();
        if (poll(&pfd, 1, 1) == 1) {
            return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        }
    }
    g_assert_not_reached();
}

static void test_socket_client_reconnect(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = tmp_path("cli.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=c0,path=%s,"
                                            "reconnect-ms=20", path);
    g_autofree char *conn = g_strdup_printf("unix:%s", path);
    g_autofree char *disc = g_strdup_printf("disconnected:unix:%s", path);
    Chardev *chr;
    TestFe fe;
    int lfd, a;

    fe_init(&fe);
    /* Nobody listening yet: with reconnect that is not an error. */
    chr = mk_chr(spec);
    assert_filename(chr, disc);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    lfd = unix_listen(path);
    a = accept_looping(lfd);
    WAIT_FOR(fe.opened == 1);
    assert_filename(chr, conn);
    write_str(a, "ping");
    WAIT_FOR(fe_rx_is(&fe, "ping"));
    g_assert_cmpint(chr_puts(chr, "pong"), ==, 4);
    expect_read(a, "pong");

    /* The server drops us: CLOSED, then the client dials again. */
    close(a);
    WAIT_FOR(fe.closed == 1);
    a = accept_looping(lfd);
    WAIT_FOR(fe.opened == 2);
    close(a);
    WAIT_FOR(fe.closed == 2);
    chardev_detach(chr);
    destroy(chr);
    close(lfd);
    fe_fini(&fe);
}

static void test_socket_client_no_reconnect(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = tmp_path("cli2.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=c1,path=%s", path);
    g_autofree char *msg = NULL;
    Chardev *chr;
    TestFe fe;
    int lfd, a;

    fe_init(&fe);
    msg = mk_chr_fails(spec);
    g_assert_nonnull(strstr(msg, path));
    g_assert_null(chardev_find("c1"));

    /* Connected at creation; OPENED is delivered once a frontend attaches. */
    lfd = unix_listen(path);
    chr = mk_chr(spec);
    a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(a, >=, 0);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    WAIT_FOR(fe.opened == 1);
    close(a);
    WAIT_FOR(fe.closed == 1);
    run_for(30);
    g_assert_cmpint(fe.opened, ==, 1);
    g_assert_cmpint(chr_puts(chr, "gone"), ==, 4);
    chardev_detach(chr);
    destroy(chr);
    close(lfd);
    fe_fini(&fe);
}

static void test_socket_listen_fd(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = tmp_path("fd.sock");
    g_autofree char *spec = NULL;
    g_autofree char *disc = g_strdup_printf("disconnected:unix:%s,server=on",
                                            path);
    Chardev *chr;
    TestFe fe;
    int lfd = unix_listen(path);
    int c;

    fe_init(&fe);
    spec = g_strdup_printf("socket,id=lf0,fd=%d,server=on,wait=off", lfd);
    chr = mk_chr(spec);
    assert_filename(chr, disc);
    g_assert_true(chardev_attach(chr, &fe_ops, &fe, &err));
    c = unix_connect(path);
    WAIT_FOR(fe.opened == 1);
    write_str(c, "cpr");
    WAIT_FOR(fe_rx_is(&fe, "cpr"));
    close(c);
    WAIT_FOR(fe.closed == 1);
    chardev_detach(chr);
    destroy(chr);
    fe_fini(&fe);
}

/* ---- stdio, shorthands, QMP form, errors ---- */

static void test_stdio(void)
{
    Chardev *chr = mk_chr("stdio,id=st0,signal=off");
    g_autofree char *msg = mk_chr_fails("stdio,id=st1");

    assert_filename(chr, "stdio");
    g_assert_cmpstr(msg, ==, "cannot use stdio by multiple character devices");
    g_assert_null(chardev_find("st1"));
    destroy(chr);
    /* Released on destroy: usable again. */
    chr = mk_chr("stdio,id=st2");
    destroy(chr);
}

static Chardev *spec_ok(const char *spec, const char *id)
{
    g_autoptr(GError) err = NULL;
    Chardev *chr = chardev_new_from_spec(spec, id, &err);

    g_assert_no_error(err);
    g_assert_nonnull(chr);
    return chr;
}

static void spec_fails(const char *spec, const char *want)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(chardev_new_from_spec(spec, "bad0", &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, want)) {
        g_error("'%s': '%s' lacks '%s'", spec, err->message, want);
    }
}

static void test_spec(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *fpath = tmp_path("spec.txt");
    g_autofree char *upath = tmp_path("spec.sock");
    g_autofree char *fspec = g_strdup_printf("file:%s", fpath);
    g_autofree char *uspec = g_strdup_printf("unix:%s,server=on,wait=off",
                                             upath);
    g_autofree char *uspec2 = g_strdup_printf("unix:%s,server,nowait", upath);
    g_autofree char *udisc = g_strdup_printf("disconnected:unix:%s,server=on",
                                             upath);
    g_autofree char *name = NULL;
    Chardev *chr, *chr2;

    g_assert_null(chardev_new_from_spec("none", "serial9", &err));
    g_assert_no_error(err);

    chr = spec_ok("null", "serial0");
    g_assert_cmpstr(chardev_id(chr), ==, "serial0");
    assert_filename(chr, "null");
    chr2 = spec_ok("chardev:serial0", "ignored");
    g_assert_true(chr2 == chr);
    destroy(chr);

    chr = spec_ok(fspec, "serial1");
    assert_filename(chr, "file");
    destroy(chr);
    chr = spec_ok(uspec, "monitor0");
    assert_filename(chr, udisc);
    destroy(chr);
    chr = spec_ok(uspec2, "monitor0");
    assert_filename(chr, udisc);
    destroy(chr);

    chr = spec_ok("tcp:127.0.0.1:0,server=on,wait=off", "qmp0");
    name = chardev_filename(chr);
    g_assert_true(g_str_has_prefix(name, "disconnected:tcp:127.0.0.1:"));
    g_assert_true(g_str_has_suffix(name, ",server=on"));
    destroy(chr);
    g_clear_pointer(&name, g_free);
    chr = spec_ok("tcp::0,server,nowait", "qmp1");
    name = chardev_filename(chr);
    g_assert_true(g_str_has_prefix(name, "disconnected:tcp:"));
    destroy(chr);

    chr = spec_ok("pty", "serial2");
    g_clear_pointer(&name, g_free);
    name = chardev_filename(chr);
    g_assert_true(g_str_has_prefix(name, "pty:/dev/pts/"));
    destroy(chr);

    spec_fails("chardev:nope", "chardev 'nope' not found");
    spec_fails("vc", "vc is not supported");
    spec_fails("telnet::4444,server=on", "not supported");
    spec_fails("mon:stdio", "not supported");
    spec_fails("bogus", "'bogus' is not a valid char driver");
    spec_fails("tcp:nocolon", "is not a valid char driver");
    spec_fails("tcp:127.0.0.1:", "is not a valid char driver");
    spec_fails("unix:/x,frob=1", "frob");
}

static void test_qapi_form(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = tmp_path("qapi.sock");
    g_autofree char *json = g_strdup_printf(
        "{\"id\":\"q0\",\"backend\":{\"type\":\"socket\",\"data\":"
        "{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"%s\"}}}}}", path);
    g_autofree char *disc = g_strdup_printf("disconnected:unix:%s,server=on",
                                            path);
    g_autoptr(OptList) opts = opts_parse(json, NULL, &err);
    g_autoptr(OptList) opts2 = NULL;
    Chardev *chr;

    g_assert_no_error(err);
    /* QMP's defaults: server=true, wait=false (creation must not block). */
    chr = chardev_new_from_opts(opts, &err);
    g_assert_no_error(err);
    assert_filename(chr, disc);
    destroy(chr);

    opts2 = opts_parse("{\"id\":\"q1\",\"backend\":{\"type\":\"null\","
                       "\"data\":{}}}", NULL, &err);
    g_assert_no_error(err);
    chr = chardev_new_from_opts(opts2, &err);
    g_assert_no_error(err);
    assert_filename(chr, "null");
    destroy(chr);
}

static void check_err(const char *spec, const char *want)
{
    g_autofree char *msg = mk_chr_fails(spec);

    if (!strstr(msg, want)) {
        g_error("'%s': '%s' lacks '%s'", spec, msg, want);
    }
}

static void test_errors(void)
{
    Chardev *chr;

    check_err("null", "chardev: no id specified");
    check_err("null,id=9x", "Parameter 'id' expects an identifier");
    check_err("bogus,id=e0", "'bogus' is not a valid char driver name");
    check_err("null,id=e1,frobnicate=on", "frobnicate");
    check_err("socket,id=e2,frob=1,path=/x", "frob");
    check_err("socket,id=e3,host=127.0.0.1,port=99999,server=on,wait=off",
              "99999");
    check_err("socket,id=e4,host=127.0.0.1,port=nosuchservice,server=on,"
              "wait=off", "nosuchservice");
    check_err("socket,id=e5,host=127.0.0.1", "no port given");
    check_err("socket,id=e6", "exactly one of");
    check_err("socket,id=e7,path=/x,host=h,port=1", "exactly one of");
    check_err("socket,id=e8,path=/x,wait=off",
              "'wait' option is incompatible with socket in client");
    check_err("socket,id=e9,path=/x,server=on,reconnect=1",
              "'reconnect' option is incompatible with socket in server");
    check_err("socket,id=e10,path=/x,server=on,wait=maybe",
              "Parameter 'wait' expects 'on' or 'off'");
    check_err("socket,id=e11,fd=9999", "9999");
    check_err("file,id=e12", "no filename given");
    check_err("file,id=e13,path=/nonexistent/dir/f", "/nonexistent/dir/f");
    check_err("pipe,id=e14,path=/nonexistent/p", "/nonexistent/p");
    check_err("null,id=e15,mux=on", "mux=on is not supported");

    chr = mk_chr("null,id=dup");
    check_err("null,id=dup", "Duplicate ID 'dup' for chardev");
    destroy(chr);
    g_assert_null(chardev_find("e1"));
}

static void test_cleanup_all(void)
{
    Chardev *chr = mk_chr("null,id=ca0");

    chardev_cleanup_all();
    /* Closed but still an object: writes are dropped, not crashes. */
    g_assert_cmpint(chr_puts(chr, "late"), ==, 4);
    destroy(chr);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("test-chardev-XXXXXX", &err);
    g_assert_no_error(err);

    g_test_add_func("/chardev/null", test_null);
    g_test_add_func("/chardev/file", test_file);
    g_test_add_func("/chardev/pipe", test_pipe);
    g_test_add_func("/chardev/pty", test_pty);
    g_test_add_func("/chardev/socket/server", test_socket_server);
    g_test_add_func("/chardev/socket/flow-control",
                    test_socket_flow_control);
    g_test_add_func("/chardev/socket/hangup", test_socket_hangup);
    g_test_add_func("/chardev/socket/tcp", test_socket_tcp);
    g_test_add_func("/chardev/socket/abstract", test_socket_abstract);
    g_test_add_func("/chardev/socket/wait", test_socket_wait);
    g_test_add_func("/chardev/socket/client-reconnect",
                    test_socket_client_reconnect);
    g_test_add_func("/chardev/socket/client-no-reconnect",
                    test_socket_client_no_reconnect);
    g_test_add_func("/chardev/socket/listen-fd", test_socket_listen_fd);
    g_test_add_func("/chardev/stdio", test_stdio);
    g_test_add_func("/chardev/spec", test_spec);
    g_test_add_func("/chardev/qapi-form", test_qapi_form);
    g_test_add_func("/chardev/errors", test_errors);
    g_test_add_func("/chardev/cleanup-all", test_cleanup_all);
    ret = g_test_run();

    chardev_cleanup_all();
    rm_tmpdir(tmpdir);
    g_free(tmpdir);
    return ret;
}
