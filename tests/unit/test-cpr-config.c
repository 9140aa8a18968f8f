/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live update of chardevs and monitors configured differently in the old
 * and the new process: the records that define "the same configuration"
 * (canonical options, claimed paths, the monitor on it), the new
 * process's decision (inherit, open its own, or refuse a path the old
 * process still serves), the reply that tells the old process what it
 * keeps, and the old process serving what it kept through the hand-over.
 */
#include "util/osdep.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "chardev/char.h"
#include "hw/core/object.h"
#include "migration/cpr.h"
#include "migration/stream.h"
#include "monitor/monitor.h"
#include "util/crc32c.h"

#include "../../migration/cpr-internal.h"
#include "../../migration/options.h"
#include "../../migration/savevm.h"

#define WAIT_MS 3000
#include "main-loop-test.h"
#include "chardev-test.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

typedef struct Find {
    const char *owner;
    char *record;
} Find;

static void find_one(const char *owner, const char *record, void *opaque)
{
    Find *f = opaque;

    if (!strcmp(owner, f->owner)) {
        f->record = g_strdup(record);
    }
}

/* This process's record for chardev ID (free it), or NULL. */
static char *record_of(const char *id)
{
    g_autofree char *owner = g_strdup_printf("/chardevs/%s", id);
    Find f = { .owner = owner };

    cpr_owner_foreach(find_one, &f);
    return f.record;
}

/* The record of a chardev made from STR, which is destroyed again. */
static char *record_for(const char *str)
{
    Chardev *chr = mk_chr(str);
    g_autofree char *id = g_strdup(chardev_id(chr));
    char *rec = record_of(id);

    object_unparent((Object *)chr);
    g_assert_null(record_of(id));   /* forgotten with the chardev */
    return rec;
}

static bool fd_readable(int fd, int ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, ms) == 1;
}

/* ---- what "the same" means ---- */

static void test_options_canonical(void)
{
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *abs = g_build_filename(tmpdir, "a.sock", NULL);
    g_autofree char *rel = NULL;
    g_autofree char *s1 = NULL, *s2 = NULL, *s3 = NULL, *want = NULL;
    g_autofree char *f1 = NULL, *f2 = NULL, *fw = NULL;

    g_assert_true(g_str_has_prefix(tmpdir, "/"));
    g_assert_cmpint(chdir(tmpdir), ==, 0);
    rel = g_strdup("a.sock");
    /* Other spellings of one configuration; defaults do not count. */
    s1 = g_strdup_printf("socket,id=c,path=%s,server=on,wait=off", abs);
    s2 = g_strdup_printf("socket,id=c,path=./%s,server=true,wait=no,"
                         "tight=on,nodelay=off,abstract=off", rel);
    s3 = g_strdup_printf("socket,id=c,server=on,path=%s/../%s/%s,wait=false",
                         tmpdir, strrchr(tmpdir, '/') + 1, rel);
    want = g_strdup_printf("options socket,path=%s,server=on,wait=off\n"
                           "claim %s", abs, abs);
    for (char **s = (char *[]) { s1, s2, s3, NULL }; *s; s++) {
        g_autofree char *rec = record_for(*s);

        g_assert_cmpstr(rec, ==, want);
    }

    /* Commas in values are doubled; booleans are on/off, sorted. */
    f1 = record_for("file,id=c,path=x,,y,append=on,logfile=l.txt");
    fw = g_strdup_printf("options file,append=on,logfile=%s/l.txt,"
                         "path=%s/x,,y\nclaim %s/x,y\nclaim %s/l.txt",
                         tmpdir, tmpdir, tmpdir, tmpdir);
    g_assert_cmpstr(f1, ==, fw);
    /* No path, no claim; a default is left out. */
    f2 = record_for("null,id=c,logappend=off");
    g_assert_cmpstr(f2, ==, "options null");
    g_assert_cmpint(chdir(cwd), ==, 0);
}

static void test_options_differ(void)
{
    g_autofree char *p = tmp_path("d.sock");
    g_autofree char *q = tmp_path("e.sock");
    /* (wait=on would block at open, so it is not among them.) */
    const char *fmt[] = {
        "socket,id=c,path=%s,server=on,wait=off",
        "socket,id=c,path=%s,server=on,wait=off,logfile=/dev/null,"
        "logappend=on",
        "socket,id=c,path=%s,server=on,wait=off,logfile=/dev/null",
        "socket,id=c,path=%s,server=on,wait=off,nodelay=on",
        "socket,id=c,path=%s,server=on,wait=off,abstract=on",
        "socket,id=c,path=%s,server=on,wait=off,abstract=on,tight=off",
        "socket,id=c,path=%s,reconnect=1",
        "socket,id=c,path=%s,reconnect-ms=1000",
    };
    g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);

    for (size_t i = 0; i < G_N_ELEMENTS(fmt); i++) {
        for (int j = 0; j < 2; j++) {
            /* (The clients redial a server that is not there.) */
            g_autofree char *str = g_strdup_printf(fmt[i], j ? q : p);
            g_autofree char *rec = record_for(str);

            for (guint k = 0; k < seen->len; k++) {
                g_assert_cmpstr(rec, !=, g_ptr_array_index(seen, k));
            }
            g_ptr_array_add(seen, g_steal_pointer(&rec));
        }
    }
    g_assert_cmpuint(seen->len, ==, 2 * G_N_ELEMENTS(fmt));
}

static void test_claims(void)
{
    g_autofree char *p = tmp_path("claim.sock");
    g_autofree char *srv = g_strdup_printf("socket,id=c,path=%s,server=on,"
                                           "wait=off", p);
    g_autofree char *cli = g_strdup_printf("socket,id=c,path=%s,"
                                           "reconnect=5", p);
    g_autofree char *abst = g_strdup_printf("socket,id=c,path=baton-cfg-%d,"
                                            "abstract=on,server=on,wait=off",
                                            getpid());
    g_autofree char *want = g_strdup_printf("\nclaim @baton-cfg-%d",
                                            getpid());
    g_autofree char *r = NULL;

    r = record_for(srv);
    g_assert_nonnull(strstr(r, "\nclaim "));
    g_free(r);
    /* A client shares its server's path with anyone. */
    r = record_for(cli);
    g_assert_null(strstr(r, "\nclaim"));
    g_free(r);
    r = record_for(abst);
    g_assert_true(g_str_has_suffix(r, want));
}

static void test_frontend(void)
{
    g_autofree char *p = tmp_path("fe.sock");
    g_autofree char *str = g_strdup_printf("socket,id=m0,path=%s,server=on,"
                                           "wait=off", p);
    g_autoptr(GError) err = NULL;
    g_autofree char *r1 = NULL, *r2 = NULL;
    Chardev *chr = mk_chr(str);

    g_assert_nonnull(monitor_new(chr, true, false, &err));
    r1 = record_of("m0");
    g_assert_true(g_str_has_suffix(r1, "\nfrontend monitor,mode=control"));
    monitor_cleanup_all();
    /* Detached: no frontend any more. */
    r2 = record_of("m0");
    g_assert_null(strstr(r2, "frontend"));
    object_unparent((Object *)chr);
}

/* Live update names fds by chardev id: an unbounded one is refused. */
static void test_long_id(void)
{
    g_autofree char *id = g_strnfill(1001, 'a');
    g_autofree char *str = g_strdup_printf("null,id=%s", id);
    g_autofree char *msg = mk_chr_fails(str);
    g_autofree char *rec = NULL;

    g_assert_cmpstr(msg, ==, "Parameter 'id' expects an identifier of at "
                    "most 1000 characters");
    id[1000] = '\0';
    g_free(str);
    str = g_strdup_printf("null,id=%s", id);
    rec = record_for(str);
    g_assert_cmpstr(rec, ==, "options null");
}

/* ---- the new process ---- */

/*
 * The old process's CPR state as the new process receives it: these
 * records (OWNER, RECORD pairs, NULL-terminated) and the fds registered
 * now, by number (as cpr-exec passes them; MODE is what the state says).
 */
static void become_incoming(const char *const *records, MigMode mode)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(MigStream) r = NULL;
    g_autoptr(GError) err = NULL;
    const uint8_t *data;
    size_t len;

    for (const char *const *p = records; *p; p += 2) {
        cpr_owner_record(p[0], p[1]);
    }
    g_assert_true(cpr_state_save(w, mode, "", NULL, &err));
    for (const char *const *p = records; *p; p += 2) {
        cpr_owner_forget(p[0]);
    }
    data = mig_stream_mem_data(w, &len);
    r = mig_stream_new_mem_reader(data, len, NULL, 0);
    cpr_fd_clear(false);
    g_assert_true(cpr_state_load(r, true, &err));
    g_assert_no_error(err);
}

static ino_t inode_of(const char *path)
{
    struct stat st;

    g_assert_cmpint(stat(path, &st), ==, 0);
    return st.st_ino;
}

/* The socket (sockfs inode) FD is. */
static ino_t sock_of(int fd)
{
    struct stat st;

    g_assert_cmpint(fstat(fd, &st), ==, 0);
    return st.st_ino;
}

/*
 * How many of this process's fds are socket INO. (Numbers are reused at
 * once, so "is fd N closed" would not say whether that socket is.)
 */
static int fds_on(ino_t ino)
{
    g_autoptr(GDir) d = g_dir_open("/proc/self/fd", 0, NULL);
    g_autofree char *want = g_strdup_printf("socket:[%lu]",
                                            (unsigned long)ino);
    const char *name;
    int n = 0;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename("/proc/self/fd", name, NULL);
        g_autofree char *link = g_file_read_link(p, NULL);

        n += link && !strcmp(link, want);
    }
    return n;
}

/* Decode a reply frame: the owners it names, space-separated. */
static char *reply_owners(GBytes *reply)
{
    size_t len;
    const uint8_t *p = g_bytes_get_data(reply, &len);
    g_autoptr(GString) out = g_string_new(NULL);
    uint32_t plen, n, crc;
    size_t off = 20;

    g_assert_cmpuint(len, >=, 24);
    g_assert_cmpmem(p, 8, "BATONCPA", 8);
    g_assert_cmpuint((uint32_t)p[8] << 24 | p[9] << 16 | p[10] << 8 | p[11],
                     ==, 1);
    plen = (uint32_t)p[12] << 24 | p[13] << 16 | p[14] << 8 | p[15];
    g_assert_cmpuint(len, ==, 16 + plen + 4);
    crc = crc32c_update(0, p, 16 + plen);
    g_assert_cmpuint(crc, ==, (uint32_t)p[16 + plen] << 24 |
                     p[17 + plen] << 16 | p[18 + plen] << 8 | p[19 + plen]);
    n = (uint32_t)p[16] << 24 | p[17] << 16 | p[18] << 8 | p[19];
    for (uint32_t i = 0; i < n; i++) {
        uint16_t l = p[off] << 8 | p[off + 1];

        g_string_append_printf(out, "%s%.*s", i ? " " : "", l,
                               (const char *)p + off + 2);
        off += 2 + l;
    }
    g_assert_cmpuint(off, ==, 16 + plen);
    return g_strdup(out->str);
}

static void test_new_process_decides(void)
{
    g_autofree char *pa = tmp_path("same.sock");
    g_autofree char *pb = tmp_path("old-b.sock");
    g_autofree char *pb2 = tmp_path("new-b.sock");
    g_autofree char *sa = g_strdup_printf("socket,id=a,path=%s,server=on,"
                                          "wait=off", pa);
    g_autofree char *sb = g_strdup_printf("socket,id=b,path=%s,server=on,"
                                          "wait=off", pb);
    g_autofree char *sb2 = g_strdup_printf("socket,id=b,path=%s,server=on,"
                                           "wait=off", pb2);
    g_autofree char *ra = NULL, *rb = NULL, *owners = NULL;
    g_autoptr(GBytes) reply = NULL;
    g_autoptr(GError) err = NULL;
    Chardev *a, *b;
    g_autofree char *sa_other = g_strdup_printf("socket,id=a2,path=%s,"
                                                "server=on,wait=off", pa);
    g_autofree char *late = NULL;
    g_autofree char *gone_path = NULL;
    TestFe fb;
    int la, lb, lgone, conn_b, c;
    ino_t ia, ib, sock_b, sock_gone;

    /* What the old process had: a and b, and 'gone', absent here. */
    a = mk_chr(sa);
    ra = record_of("a");
    object_unparent((Object *)a);
    b = mk_chr(sb);
    rb = record_of("b");
    object_unparent((Object *)b);
    la = unix_listen(pa);
    lb = unix_listen(pb);
    ia = inode_of(pa);
    ib = inode_of(pb);
    gone_path = tmp_path("gone.sock");
    lgone = unix_listen(gone_path);
    sock_b = sock_of(lb);
    sock_gone = sock_of(lgone);
    conn_b = unix_connect(pb);
    cpr_save_fd("/chardevs/a/listen", 0, la);
    cpr_save_fd("/chardevs/b/listen", 0, lb);
    cpr_save_fd("/chardevs/gone/listen", 0, lgone);
    become_incoming((const char *const[]) {
        "/chardevs/a", ra, "/chardevs/b", rb,
        "/chardevs/gone", "options socket,path=/x,server=on\nclaim /x",
        NULL }, MIG_MODE_CPR_TRANSFER);

    /* Same options: the old socket, untouched, and no I/O yet. */
    a = mk_chr(sa);
    g_assert_true(chardev_cpr_inherited(a));
    g_assert_cmpint(cpr_find_fd("/chardevs/a/listen", 0), ==, la);
    g_assert_cmpuint(inode_of(pa), ==, ia);
    /* Another path: a socket of its own, the old fds closed here. */
    b = mk_chr(sb2);
    g_assert_false(chardev_cpr_inherited(b));
    g_assert_cmpint(fds_on(sock_b), ==, 0);
    g_assert_cmpint(cpr_find_fd("/chardevs/b/listen", 0), >=, 0);
    g_assert_cmpuint(inode_of(pb), ==, ib);  /* the old path left alone */
    g_assert_cmpuint(inode_of(pb2), !=, ib);
    /* It is live at once: a client is served before the take-over. */
    fe_attach(&fb, b);
    c = unix_connect(pb2);
    g_assert_cmpint(write(c, "hi", 2), ==, 2);
    WAIT_FOR(fb.opened == 1 && fb.rx->len == 2);
    close(c);

    /* Settling drops what nobody here configured; the reply says so. */
    g_assert_true(cpr_owner_settle(&err));
    g_assert_no_error(err);
    g_assert_cmpint(fds_on(sock_gone), ==, 0);
    g_assert_cmpint(cpr_find_fd("/chardevs/gone/listen", 0), ==, -1);
    g_assert_cmpint(fds_on(sock_of(cpr_find_fd("/chardevs/b/listen", 0))),
                    ==, 1);
    reply = cpr_owner_reply();
    owners = reply_owners(reply);
    /* The state had no sections (version 2): the reply speaks its names. */
    g_assert_cmpstr(owners, ==, "chardev/a");
    /*
     * Created after the answer (chardev-add before the take-over): new,
     * even with the old options, and still not on an old path.
     */
    fe_detach(&fb, b);
    object_unparent((Object *)b);
    late = mk_chr_fails(sb);
    g_assert_nonnull(strstr(late, "created after start-up"));
    b = mk_chr(sb2);
    g_assert_false(chardev_cpr_inherited(b));
    g_free(late);
    late = mk_chr_fails(sa_other);
    g_assert_nonnull(strstr(late, "chardev 'a'"));

    cpr_incoming_done();
    cpr_notify(CPR_EVENT_TAKEOVER, NULL);
    object_unparent((Object *)a);
    object_unparent((Object *)b);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    close(conn_b);
}

static void test_new_process_refuses_old_path(void)
{
    g_autofree char *p = tmp_path("taken.sock");
    g_autofree char *s0 = g_strdup_printf("socket,id=s0,path=%s,server=on,"
                                          "wait=off", p);
    g_autofree char *s0b = g_strdup_printf("socket,id=s0,path=%s,server=on,"
                                           "wait=off,nodelay=on", p);
    g_autofree char *s9 = g_strdup_printf("socket,id=s9,path=%s,server=on,"
                                          "wait=off", p);
    g_autofree char *f0 = g_strdup_printf("file,id=f0,path=%s.log", p);
    g_autofree char *r0 = NULL, *msg = NULL, *rf = NULL;
    Chardev *chr;
    int l;
    ino_t ino;

    chr = mk_chr(s0);
    r0 = record_of("s0");
    object_unparent((Object *)chr);
    chr = mk_chr(f0);
    rf = record_of("f0");
    object_unparent((Object *)chr);
    l = unix_listen(p);
    ino = inode_of(p);
    cpr_save_fd("/chardevs/s0/listen", 0, l);
    become_incoming((const char *const[]) { "/chardevs/s0", r0,
                                             "/chardevs/f0", rf, NULL },
                    MIG_MODE_CPR_TRANSFER);

    /* Same id, other options, same path: not ours, and not to take. */
    msg = mk_chr_fails(s0b);
    g_assert_nonnull(strstr(msg, "chardev 's0' differs from the old "
                            "process's"));
    g_assert_nonnull(strstr(msg, "nodelay=on"));
    g_assert_nonnull(strstr(msg, p));
    g_free(msg);
    /* Another id on the old path. */
    msg = mk_chr_fails(s9);
    g_assert_nonnull(strstr(msg, "chardev 's9' would take"));
    g_assert_nonnull(strstr(msg, "chardev 's0'"));
    g_free(msg);
    /* The old process's file would be truncated. */
    g_free(s9);
    s9 = g_strdup_printf("socket,id=x,path=%s.x,server=on,wait=off,"
                         "logfile=%s.log", p, p);
    msg = mk_chr_fails(s9);
    g_assert_nonnull(strstr(msg, "chardev 'f0'"));
    g_assert_cmpuint(inode_of(p), ==, ino);
    cpr_incoming_done();
    cpr_fd_clear(true);
}

static void test_new_process_exec_reopens(void)
{
    g_autofree char *p = tmp_path("exec.sock");
    g_autofree char *s = g_strdup_printf("socket,id=e0,path=%s,server=on,"
                                         "wait=off", p);
    g_autofree char *s2 = g_strdup_printf("socket,id=e0,path=%s,server=on,"
                                          "wait=off,nodelay=on", p);
    g_autofree char *r = NULL;
    g_autoptr(GError) err = NULL;
    Chardev *chr = mk_chr(s);
    TestFe fe;
    int l, c;
    ino_t sock;

    r = record_of("e0");
    object_unparent((Object *)chr);
    l = unix_listen(p);
    sock = sock_of(l);
    cpr_save_fd("/chardevs/e0/listen", 0, l);
    become_incoming((const char *const[]) { "/chardevs/e0", r, NULL },
                    MIG_MODE_CPR_EXEC);
    /* cpr-exec: the old image is gone; the path is free to take. */
    chr = mk_chr(s2);
    g_assert_false(chardev_cpr_inherited(chr));
    g_assert_cmpint(fds_on(sock), ==, 0);
    /* Bound anew at the path, and serving. */
    fe_attach(&fe, chr);
    c = unix_connect(p);
    WAIT_FOR(fe.opened == 1);
    close(c);
    fe_detach(&fe, chr);
    g_assert_true(cpr_owner_settle(&err));
    cpr_incoming_done();
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_new_process_frontend_differs(void)
{
    g_autofree char *p = tmp_path("mon.sock");
    g_autofree char *s = g_strdup_printf("socket,id=m1,path=%s,server=on,"
                                         "wait=off", p);
    g_autofree char *r = NULL;
    g_autoptr(GError) err = NULL;
    Chardev *chr = mk_chr(s);
    int l;

    g_assert_nonnull(monitor_new(chr, true, false, &err));
    r = record_of("m1");
    monitor_cleanup_all();
    object_unparent((Object *)chr);
    l = unix_listen(p);
    cpr_save_fd("/chardevs/m1/listen", 0, l);
    become_incoming((const char *const[]) { "/chardevs/m1", r, NULL },
                    MIG_MODE_CPR_TRANSFER);
    chr = mk_chr(s);
    g_assert_true(chardev_cpr_inherited(chr));
    /* The same socket, but HMP where the old process had QMP. */
    g_assert_nonnull(monitor_new(chr, false, false, &err));
    g_assert_false(cpr_owner_settle(&err));
    g_assert_nonnull(strstr(err->message, "/chardevs/m1"));
    g_assert_nonnull(strstr(err->message, "'frontend monitor,mode=control'"));
    g_assert_nonnull(strstr(err->message,
                            "'frontend monitor,mode=readline'"));
    monitor_cleanup_all();
    cpr_incoming_done();
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

/* ---- the old process ---- */

/* A reply frame naming OWNERS (as the new process sends it). */
static GBytes *make_reply(const char *const *owners, const char *magic,
                          bool bad_crc, const char *trailing)
{
    g_autoptr(MigStream) p = mig_stream_new_mem_writer();
    g_autoptr(MigStream) f = mig_stream_new_mem_writer();
    const uint8_t *data;
    size_t len;
    uint8_t *copy;

    mig_put_be32(p, g_strv_length((char **)owners));
    for (const char *const *o = owners; *o; o++) {
        mig_put_be16(p, strlen(*o));
        mig_put_buffer(p, *o, strlen(*o));
    }
    if (trailing) {
        mig_put_buffer(p, trailing, strlen(trailing));
    }
    data = mig_stream_mem_data(p, &len);
    cpr_frame_put(f, magic, 1, data, len);
    data = mig_stream_mem_data(f, &len);
    copy = g_memdup2(data, len);
    if (bad_crc) {
        copy[len - 1] ^= 1;
    }
    return g_bytes_new_take(copy, len);
}

/* What cpr-transfer.c does with a reply it read. */
static bool apply_reply(GBytes *reply, GError **errp)
{
    size_t len;
    const uint8_t *hdr = g_bytes_get_data(reply, &len);
    const uint8_t *tail;
    uint32_t plen;

    if (!cpr_owner_reply_header(hdr, &plen, errp)) {
        return false;
    }
    g_assert_cmpuint(len, ==, CPR_FRAME_HEADER + plen + 4);
    tail = hdr + CPR_FRAME_HEADER + plen;
    return cpr_owner_apply_reply(hdr, hdr + CPR_FRAME_HEADER, plen,
                                 (uint32_t)tail[0] << 24 | tail[1] << 16 |
                                 tail[2] << 8 | tail[3], errp);
}

static void test_reply_damaged(void)
{
    static const char *const none[] = { NULL };
    static const char *const stranger[] = { "/chardevs/zz", NULL };
    g_autoptr(GError) err = NULL;
    struct {
        GBytes *reply;
        const char *error;
    } cases[] = {
        { make_reply(none, "BATONXXX", false, NULL), "bad magic" },
        { make_reply(none, "BATONCPA", true, NULL), "checksum mismatch" },
        { make_reply(stranger, "BATONCPA", false, NULL),
          "adopted '/chardevs/zz', which was not handed over" },
        { make_reply(none, "BATONCPA", false, "x"), "trailing bytes" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        cpr_owner_update_begins(true);
        g_assert_false(apply_reply(cases[i].reply, &err));
        g_assert_nonnull(strstr(err->message, cases[i].error));
        g_clear_error(&err);
        g_bytes_unref(cases[i].reply);
        cpr_owner_update_ends();
    }
}

static void set_mode(const char *mode)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(migrate_set_parameter_str("mode", mode, &err));
}

/*
 * The old process: 'h' is handed over, 'k' kept (the new process has its
 * own). Clients of k come and go during the update without failing it;
 * through the hand-over k goes on serving, h goes quiet.
 */
static void test_old_process_keeps(void)
{
    static const SavevmOptions opts;
    static const char *const adopted[] = { "/chardevs/h", NULL };
    g_autofree char *ph = tmp_path("h.sock");
    g_autofree char *pk = tmp_path("k.sock");
    g_autofree char *sh = g_strdup_printf("socket,id=h,path=%s,server=on,"
                                          "wait=off", ph);
    g_autofree char *sk = g_strdup_printf("socket,id=k,path=%s,server=on,"
                                          "wait=off", pk);
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GBytes) reply = make_reply(adopted, "BATONCPA", false, NULL);
    g_autoptr(GError) err = NULL;
    Chardev *h = mk_chr(sh), *k = mk_chr(sk);
    TestFe fh, fk;
    int ch, ck, ck2;
    char buf[8];

    fe_attach(&fh, h);
    fe_attach(&fk, k);
    ch = unix_connect(ph);
    WAIT_FOR(fh.opened == 1);

    /* The state is sent; a client of k arrives before the reply. */
    cpr_owner_update_begins(true);
    cpr_late_snapshot();
    ck = unix_connect(pk);
    WAIT_FOR(fk.opened == 1);
    g_assert_true(apply_reply(reply, &err));
    g_assert_no_error(err);
    g_assert_true(chardev_cpr_handed_over(h));
    g_assert_false(chardev_cpr_handed_over(k));

    /* Setup, HANDOVER, save: h stops, k does not even notice. */
    set_mode("cpr-transfer");
    g_assert_true(savevm_setup(w, &opts, &err));
    close(ck);
    WAIT_FOR(fk.closed == 1);
    ck2 = unix_connect(pk);     /* accepted: k still takes clients */
    WAIT_FOR(fk.opened == 2);
    cpr_notify(CPR_EVENT_HANDOVER, NULL);
    g_assert_true(savevm_complete(w, &err));
    g_assert_no_error(err);
    set_mode("normal");
    /* Only k's fds changed: nothing goes late to the new process. */
    g_assert_cmpuint(cpr_late_pending(), ==, 0);

    g_assert_cmpint(write(ch, "to-h", 4), ==, 4);
    g_assert_cmpint(write(ck2, "to-k", 4), ==, 4);
    WAIT_FOR(fk.rx->len == 4);
    run_for(20);
    g_assert_cmpuint(fh.rx->len, ==, 0);     /* the new process's now */
    chardev_write(k, (const uint8_t *)"ok", 2);
    chardev_write(h, (const uint8_t *)"no", 2);
    g_assert_true(fd_readable(ck2, WAIT_MS));
    g_assert_cmpint(read(ck2, buf, sizeof(buf)), ==, 2);
    g_assert_false(fd_readable(ch, 20));

    /* The update fails after all: h carries on, nothing lost. */
    cpr_notify(CPR_EVENT_ROLLBACK, NULL);
    g_assert_true(chardev_cpr_handed_over(k));
    WAIT_FOR(fh.rx->len == 4);

    /*
     * A change to h between the state and the reply does not fail the
     * update: it goes with the switchover (cpr-late.c).
     */
    cpr_owner_update_begins(true);
    cpr_late_snapshot();
    close(ch);
    WAIT_FOR(cpr_find_fd("/chardevs/h/conn", 0) < 0);
    g_assert_true(apply_reply(reply, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(cpr_late_pending(), ==, 1);
    cpr_notify(CPR_EVENT_ROLLBACK, NULL);
    g_assert_cmpuint(cpr_late_pending(), ==, 0);
    g_assert_true(chardev_cpr_handed_over(k));

    fe_detach(&fh, h);
    fe_detach(&fk, k);
    close(ck2);
    object_unparent((Object *)h);
    object_unparent((Object *)k);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("baton-cprcfg-XXXXXX", &err);
    g_assert_no_error(err);
    savevm_unregister_all();

    g_test_add_func("/cpr/config/options-canonical", test_options_canonical);
    g_test_add_func("/cpr/config/options-differ", test_options_differ);
    g_test_add_func("/cpr/config/claims", test_claims);
    g_test_add_func("/cpr/config/frontend", test_frontend);
    g_test_add_func("/cpr/config/long-id", test_long_id);
    g_test_add_func("/cpr/config/new/decides", test_new_process_decides);
    g_test_add_func("/cpr/config/new/refuses-old-path",
                    test_new_process_refuses_old_path);
    g_test_add_func("/cpr/config/new/exec-reopens",
                    test_new_process_exec_reopens);
    g_test_add_func("/cpr/config/new/frontend-differs",
                    test_new_process_frontend_differs);
    g_test_add_func("/cpr/config/reply-damaged", test_reply_damaged);
    g_test_add_func("/cpr/config/old/keeps", test_old_process_keeps);
    ret = g_test_run();
    rm_tmpdir(tmpdir);
    return ret;
}
