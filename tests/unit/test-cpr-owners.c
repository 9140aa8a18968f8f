/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live update as each fd owner sees it, in one process: an "old" owner
 * registers its fds, the test keeps copies (what the new process would
 * receive), destroys the old owner, marks the process cpr incoming with
 * those copies, and creates the owner again, which must adopt them
 * without disturbing anything. Memory backends, machine RAM, drives,
 * chardevs (socket server and client, file, pty, pipe) and monitors.
 */
#include "util/osdep.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "chardev/char.h"
#include "hw/core/machine.h"
#include "hw/core/object.h"
#include "migration/cpr.h"
#include "migration/stream.h"
#include "monitor/monitor.h"
#include "system/blockdev.h"
#include "system/hostmem.h"

#include "../../migration/cpr-internal.h"
#include "../../migration/options.h"
#include "../../migration/savevm.h"

#define WAIT_MS 10000   /* a deadline for hung tests, not a time budget */
#include "main-loop-test.h"
#include "chardev-test.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static Object *mk_obj(const char *type, const char *str)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) opts = opts_parse(str, NULL, &err);
    Object *obj;

    g_assert_no_error(err);
    obj = user_creatable_add(type, opts, NULL, &err);
    g_assert_no_error(err);
    g_assert_nonnull(obj);
    return obj;
}

/* ---- the update, simulated ---- */

typedef struct Handed {
    char *name;
    int id;
    int fd;
} Handed;

static void handed_free(gpointer p)
{
    Handed *h = p;

    g_free(h->name);
    g_free(h);
}

static void copy_one(const char *name, int id, int fd, void *opaque)
{
    Handed *h = g_new0(Handed, 1);

    h->name = g_strdup(name);
    h->id = id;
    h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    g_assert_cmpint(h->fd, >=, 0);
    g_ptr_array_add(opaque, h);
}

/* The old process's owner records, as it sends them with the fds. */
static GPtrArray *handed_records;

static void copy_record(const char *owner, const char *record, void *opaque)
{
    g_ptr_array_add(opaque, g_strdup(owner));
    g_ptr_array_add(opaque, g_strdup(record));
}

/* What the new process receives: copies of every registered fd. */
static GPtrArray *handover_copies(void)
{
    GPtrArray *l = g_ptr_array_new_with_free_func(handed_free);

    cpr_fd_foreach(copy_one, l);
    g_clear_pointer(&handed_records, g_ptr_array_unref);
    handed_records = g_ptr_array_new_with_free_func(g_free);
    cpr_owner_foreach(copy_record, handed_records);
    return l;
}

/*
 * The new process: its registry holds COPIES (the old owners are gone
 * and must have deregistered their own fds), read through a real CPR
 * state with inherited fd numbers, as cpr-exec does.
 */
static void restart_incoming(GPtrArray *copies, MigMode mode)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(MigStream) r = NULL;
    g_autoptr(GError) err = NULL;
    const uint8_t *data;
    size_t len;

    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    for (guint i = 0; i < copies->len; i++) {
        Handed *h = g_ptr_array_index(copies, i);

        cpr_save_fd(h->name, h->id, h->fd);
    }
    /* The old owners are gone; their records travel with the state. */
    for (guint i = 0; handed_records && i < handed_records->len; i += 2) {
        cpr_owner_record(g_ptr_array_index(handed_records, i),
                         g_ptr_array_index(handed_records, i + 1));
    }
    g_assert_true(cpr_state_save(w, mode, "", NULL, &err));
    g_assert_no_error(err);
    for (guint i = 0; handed_records && i < handed_records->len; i += 2) {
        cpr_owner_forget(g_ptr_array_index(handed_records, i));
    }
    data = mig_stream_mem_data(w, &len);
    r = mig_stream_new_mem_reader(data, len, NULL, 0);
    cpr_fd_clear(false);
    g_assert_true(cpr_state_load(r, true, &err));
    g_assert_no_error(err);
    g_assert_true(cpr_is_incoming());
    g_ptr_array_unref(copies);
}

static void set_mode(const char *mode)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(migrate_set_parameter_str("mode", mode, &err));
    g_assert_no_error(err);
}

/*
 * The old process's switch-over as migration.c runs it in cpr-transfer
 * mode: HANDOVER once the guest has stopped, then the device state
 * (here only chardevs and monitors) into a memory stream, returned for
 * the new process to load.
 */
static GBytes *old_switchover(void)
{
    static const SavevmOptions opts;
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    const uint8_t *data;
    size_t len;

    set_mode("cpr-transfer");
    cpr_notify(CPR_EVENT_HANDOVER, NULL);
    g_assert_true(savevm_save_all(w, &opts, &err));
    g_assert_no_error(err);
    set_mode("normal");
    data = mig_stream_mem_data(w, &len);
    return g_bytes_new(data, len);
}

static void new_load(GBytes *stream)
{
    g_autoptr(GError) err = NULL;
    size_t len;
    const void *data = g_bytes_get_data(stream, &len);
    g_autoptr(MigStream) r = mig_stream_new_mem_reader(data, len, NULL, 0);

    savevm_load(r, &err);
    g_assert_no_error(err);
}

/* The new process resumes the guest. */
static void new_takeover(void)
{
    cpr_incoming_done();
    cpr_notify(CPR_EVENT_TAKEOVER, NULL);
}

/* ---- sockets ---- */

static void write_str(int fd, const char *s)
{
    g_assert_cmpint(write(fd, s, strlen(s)), ==, (ssize_t)strlen(s));
}

static bool fd_readable(int fd, int ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, ms) == 1;
}

/* Read from FD, running the main loop, until OUT ends with END. */
static void read_until(int fd, GString *out, const char *end)
{
    gint64 dl = g_get_monotonic_time() + WAIT_MS * 1000;

    while (!g_str_has_suffix(out->str, end)) {
        char buf[4096];
        ssize_t n;

        g_assert_cmpint(g_get_monotonic_time(), <, dl);
        spin();
        if (!fd_readable(fd, 1)) {
            continue;
        }
        n = read(fd, buf, sizeof(buf));
        g_assert_cmpint(n, >, 0); /* never EOF across the update */
        g_string_append_len(out, buf, n);
    }
}

/* ---- memory ---- */

static void test_memfd(void)
{
    Object *obj = mk_obj("memory-backend-memfd", "id=m0,size=2M");
    RAMBlock *rb = host_memory_backend_get_ram(obj);
    const char *key = "/objects/m0/ram";
    uint8_t *old_view;
    GPtrArray *copies;
    int fd;

    g_assert_cmpint(cpr_find_fd(key, 0), ==, rb->fd);
    memset(rb->host, 0x5a, 2 << 20);
    ((uint8_t *)rb->host)[4096] = 7;

    /* The old process keeps running the guest on its own mapping. */
    copies = handover_copies();
    fd = ((Handed *)g_ptr_array_index(copies, 0))->fd;
    old_view = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(old_view != MAP_FAILED);
    object_unparent(obj);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    obj = mk_obj("memory-backend-memfd", "id=m0,size=2M,prealloc=on");
    rb = host_memory_backend_get_ram(obj);
    g_assert_cmpint(rb->fd, ==, fd);
    g_assert_true(rb->flags & RAM_SHARED);
    /* Same pages: old contents, and the old guest's writes show up. */
    g_assert_cmpuint(((uint8_t *)rb->host)[4096], ==, 7);
    g_assert_cmpuint(((uint8_t *)rb->host)[(2 << 20) - 1], ==, 0x5a);
    old_view[12345] = 0x99;
    g_assert_cmpuint(((uint8_t *)rb->host)[12345], ==, 0x99);

    new_takeover();
    object_unparent(obj);
    munmap(old_view, 2 << 20);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_file_backend(void)
{
    GPtrArray *copies;
    g_autofree char *path = tmp_path("ram-file");
    g_autofree char *opts = g_strdup_printf("id=f0,size=1M,share=on,"
                                            "mem-path=%s", path);
    Object *obj = mk_obj("memory-backend-file", opts);
    RAMBlock *rb = host_memory_backend_get_ram(obj);
    struct stat st;

    ((uint8_t *)rb->host)[100] = 42;
    copies = handover_copies();

    object_unparent(obj);
    /* Adoption must not even look at the path. */
    g_assert_cmpint(unlink(path), ==, 0);
    restart_incoming(copies, MIG_MODE_CPR_EXEC);

    obj = mk_obj("memory-backend-file", opts);
    rb = host_memory_backend_get_ram(obj);
    g_assert_cmpuint(((uint8_t *)rb->host)[100], ==, 42);
    g_assert_cmpint(stat(path, &st), <, 0);
    g_assert_cmpint(fstat(rb->fd, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 1 << 20);

    new_takeover();
    object_unparent(obj);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_machine_aux_ram(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) opts = opts_parse("aux-ram-share=on", NULL, &err);
    MachineState *ms;
    GPtrArray *copies;
    Object *obj;

    obj = object_new("pc-machine");
    g_assert_true(object_set_props_from_opts(obj, opts, NULL, &err));
    ms = (MachineState *)obj;
    ms->ram_size = 4 << 20;
    g_assert_true(machine_complete(ms, &err));
    g_assert_cmpstr(ms->ram->idstr, ==, "pc.ram");
    g_assert_true(object_get_class(obj)->cpr_check(obj, MIG_MODE_CPR_TRANSFER, &err));
    ((uint8_t *)ms->ram->host)[0x7c00] = 0xee;

    copies = handover_copies();
    g_assert_cmpuint(copies->len, ==, 1);
    object_unparent(obj);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    obj = object_new("pc-machine");
    g_assert_true(object_set_props_from_opts(obj, opts, NULL, &err));
    ms = (MachineState *)obj;
    ms->ram_size = 4 << 20;
    g_assert_true(machine_complete(ms, &err));
    g_assert_no_error(err);
    /* Reset before the take-over leaves the guest's memory alone. */
    MACHINE_GET_CLASS(obj)->reset(ms);
    g_assert_cmpuint(((uint8_t *)ms->ram->host)[0x7c00], ==, 0xee);

    new_takeover();
    object_unparent(obj);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_blockers(void)
{
    static const struct {
        const char *type, *opts, *error;
    } cases[] = {
        { "memory-backend-ram", "id=r0,size=1M",
          "memory backend 'r0' is not shared; cpr-transfer needs share=on" },
        { "memory-backend-memfd", "id=r1,size=1M,share=off",
          "memory backend 'r1' is not shared; cpr-transfer needs share=on" },
        { "memory-backend-ram", "id=r2,size=1M,share=on",
          "memory backend 'r2' is shared anonymous memory without a file "
          "descriptor; cpr-transfer needs memory-backend-memfd or "
          "memory-backend-file with share=on" },
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) none = opts_parse("", NULL, &err);
    Object *obj;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        obj = mk_obj(cases[i].type, cases[i].opts);
        g_assert_false(object_get_class(obj)->cpr_check(obj, MIG_MODE_CPR_TRANSFER,
                                            &err));
        g_assert_cmpstr(err->message, ==, cases[i].error);
        g_clear_error(&err);
        /* cpr-reboot saves RAM to the file like any migration. */
        g_assert_true(object_get_class(obj)->cpr_check(obj, MIG_MODE_CPR_REBOOT, &err));
        g_assert_true(object_get_class(obj)->cpr_modes &
                      MIG_MODE_BIT(MIG_MODE_CPR_TRANSFER));
        object_unparent(obj);
    }
    obj = object_new("pc-machine");
    g_assert_true(object_set_props_from_opts(obj, none, NULL, &err));
    ((MachineState *)obj)->ram_size = 1 << 20;
    g_assert_true(machine_complete((MachineState *)obj, &err));
    g_assert_false(object_get_class(obj)->cpr_check(obj, MIG_MODE_CPR_EXEC, &err));
    g_assert_cmpstr(err->message, ==,
                    "machine RAM 'pc.ram' is private anonymous memory; use "
                    "-machine aux-ram-share=on or a shared memory backend");
    object_unparent(obj);
    g_assert_true(object_class_by_name("isa-serial")->cpr_modes &
                  MIG_MODE_BIT(MIG_MODE_CPR_EXEC));
    g_assert_true(object_class_by_name("chardev-socket")->cpr_modes &
                  MIG_MODE_BIT(MIG_MODE_CPR_TRANSFER));
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

/* ---- drives ---- */

static void test_drive(void)
{
    g_autofree char *img = tmp_path("disk.img");
    g_autofree char *moved = tmp_path("disk.moved");
    g_autofree char *str = g_strdup_printf("id=d0,file=%s,format=raw,"
                                           "if=none", img);
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) opts = opts_parse(str, "file", &err);
    g_autofree char *image = g_malloc0(4096);
    char buf[6] = "";
    DriveInfo *drive;
    GPtrArray *copies;

    g_assert_true(g_file_set_contents(img, image, 4096, &err));
    drive = drive_new(opts, &err);
    g_assert_no_error(err);
    g_assert_true(drive_pwrite(drive, 100, "world", 5, &err));
    copies = handover_copies();
    g_assert_cmpuint(copies->len, ==, 1);
    drive_cleanup_all();
    /* The new process keeps the open file, whatever the path is now. */
    g_assert_cmpint(rename(img, moved), ==, 0);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    drive = drive_new(opts, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(drive->size, ==, 4096);
    g_assert_true(drive_pread(drive, 100, buf, 5, &err));
    g_assert_cmpstr(buf, ==, "world");

    new_takeover();
    drive_cleanup_all();
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

/* ---- chardevs ---- */

static void test_socket_server(void)
{
    GPtrArray *copies;
    g_autofree char *path = tmp_path("srv.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=s0,path=%s,"
                                            "server=on,wait=off", path);
    g_autoptr(GString) got = g_string_new(NULL);
    g_autoptr(GBytes) stream = NULL;
    Chardev *chr = mk_chr(spec);
    struct stat st0, st1;
    TestFe fa, fb;
    int c1, c2;

    fe_attach(&fa, chr);
    c1 = unix_connect(path);
    WAIT_FOR(fa.opened == 1);
    write_str(c1, "before");
    WAIT_FOR(fe_rx_is(&fa, "before"));
    /* A second client waits in the backlog (one client at a time). */
    c2 = unix_connect(path);
    g_assert_cmpint(stat(path, &st0), ==, 0);

    chardev_write(chr, (const uint8_t *)"final", 5);
    stream = old_switchover();
    write_str(c1, "after");
    run_for(30);
    g_assert_true(fe_rx_is(&fa, "before"));  /* handed over: not read */
    chardev_write(chr, (const uint8_t *)"X", 1);     /* nor written */
    copies = handover_copies();
    g_assert_cmpuint(copies->len, ==, 2);
    fe_detach(&fa, chr);
    object_unparent((Object *)chr);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    chr = mk_chr(spec);
    g_assert_true(chardev_is_adopted_connected(chr));
    fe_attach(&fb, chr);
    /* Same socket file: nothing was unlinked and bound again. */
    g_assert_cmpint(stat(path, &st1), ==, 0);
    g_assert_cmpuint(st0.st_ino, ==, st1.st_ino);
    chardev_write(chr, (const uint8_t *)"Y", 1);     /* not yet ours */
    new_load(stream);
    run_for(30);
    g_assert_cmpuint(fb.rx->len, ==, 0);
    new_takeover();
    WAIT_FOR(fe_rx_is(&fb, "after"));
    g_assert_cmpint(fb.opened, ==, 0);  /* the session just continues */
    chardev_write(chr, (const uint8_t *)"reply", 5);
    read_until(c1, got, "reply");
    g_assert_cmpstr(got->str, ==, "finalreply");

    /* The queued client is served next, as before the update. */
    close(c1);
    WAIT_FOR(fb.closed == 1 && fb.opened == 1);
    g_assert_false(chardev_is_adopted_connected(chr));
    write_str(c2, "two");
    WAIT_FOR(fe_rx_is(&fb, "aftertwo"));
    close(c2);
    fe_detach(&fb, chr);
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_socket_rollback(void)
{
    g_autofree char *path = tmp_path("rb.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=s1,path=%s,"
                                            "server=on,wait=off", path);
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GString) got = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) stream = NULL;
    Chardev *chr = mk_chr(spec);
    TestFe fa;
    int c1;

    fe_attach(&fa, chr);
    c1 = unix_connect(path);
    WAIT_FOR(fa.opened == 1);

    /*
     * PREPARE stops accepting, not reading or writing; HANDOVER stops
     * input. The update then fails: ROLLBACK.
     */
    g_assert_true(cpr_notify(CPR_EVENT_PREPARE, &err));
    chardev_write(chr, (const uint8_t *)"out", 3);
    read_until(c1, got, "out");
    g_assert_true(cpr_notify(CPR_EVENT_HANDOVER, &err));
    write_str(c1, "early");
    run_for(30);
    g_assert_cmpuint(fa.rx->len, ==, 0);
    cpr_notify(CPR_EVENT_ROLLBACK, NULL);
    WAIT_FOR(fe_rx_is(&fa, "early"));
    g_byte_array_set_size(fa.rx, 0);

    stream = old_switchover();
    write_str(c1, "held");
    run_for(30);
    g_assert_cmpuint(fa.rx->len, ==, 0);
    /* The update failed: nothing was lost, everything goes on. */
    cpr_notify(CPR_EVENT_ROLLBACK, NULL);
    WAIT_FOR(fe_rx_is(&fa, "held"));
    close(c1);
    WAIT_FOR(fa.closed == 1);
    fe_detach(&fa, chr);
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_socket_client(void)
{
    GPtrArray *copies;
    g_autofree char *path = tmp_path("cli.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=c0,path=%s", path);
    g_autoptr(GString) got = g_string_new(NULL);
    int lfd = unix_listen(path);
    Chardev *chr = mk_chr(spec);
    TestFe fa, fb;
    int peer;

    fe_attach(&fa, chr);
    peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    g_assert_cmpint(peer, >=, 0);
    WAIT_FOR(fa.opened == 1);

    g_bytes_unref(old_switchover());
    copies = handover_copies();
    fe_detach(&fa, chr);
    object_unparent((Object *)chr);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    chr = mk_chr(spec);
    fe_attach(&fb, chr);
    write_str(peer, "ping");
    run_for(30);
    /* No second connection, nothing read before the take-over. */
    g_assert_false(fd_readable(lfd, 0));
    g_assert_cmpuint(fb.rx->len, ==, 0);
    new_takeover();
    WAIT_FOR(fe_rx_is(&fb, "ping"));
    chardev_write(chr, (const uint8_t *)"pong", 4);
    read_until(peer, got, "pong");
    g_assert_cmpint(fb.opened, ==, 0);
    fe_detach(&fb, chr);
    object_unparent((Object *)chr);
    close(peer);
    close(lfd);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_file(void)
{
    GPtrArray *copies;
    g_autofree char *path = tmp_path("out.txt");
    g_autofree char *spec = g_strdup_printf("file,id=f0,path=%s", path);
    g_autofree char *text = NULL;
    Chardev *chr = mk_chr(spec);

    chardev_write(chr, (const uint8_t *)"abc", 3);
    g_bytes_unref(old_switchover());
    copies = handover_copies();
    object_unparent((Object *)chr);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    /* append=off would truncate on open: the adopted file keeps "abc". */
    chr = mk_chr(spec);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "abc");
    g_clear_pointer(&text, g_free);
    chardev_write(chr, (const uint8_t *)"X", 1); /* before the take-over */
    new_takeover();
    chardev_write(chr, (const uint8_t *)"def", 3);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_cmpstr(text, ==, "abcdef"); /* the shared offset went on */
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_pty(void)
{
    GPtrArray *copies;
    g_autofree char *name = NULL;
    g_autofree char *name2 = NULL;
    g_autoptr(GString) got = g_string_new(NULL);
    Chardev *chr = mk_chr("pty,id=p0");
    TestFe fa, fb;
    int slave;

    name = chardev_filename(chr);
    g_assert_true(g_str_has_prefix(name, "pty:"));
    slave = open(name + 4, O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(slave, >=, 0);
    fe_attach(&fa, chr);
    WAIT_FOR(fa.opened == 1);

    g_bytes_unref(old_switchover());
    copies = handover_copies();
    fe_detach(&fa, chr);
    object_unparent((Object *)chr);
    restart_incoming(copies, MIG_MODE_CPR_EXEC);

    chr = mk_chr("pty,id=p0");
    name2 = chardev_filename(chr);
    g_assert_cmpstr(name, ==, name2);   /* the peer's pty, not a new one */
    g_assert_true(chardev_is_adopted_connected(chr));
    fe_attach(&fb, chr);
    write_str(slave, "in");
    run_for(30);
    g_assert_cmpuint(fb.rx->len, ==, 0);
    new_takeover();
    WAIT_FOR(fe_rx_is(&fb, "in"));
    chardev_write(chr, (const uint8_t *)"out", 3);
    read_until(slave, got, "out");
    g_assert_cmpstr(got->str, ==, "out");
    g_assert_cmpint(fb.opened, ==, 0);
    fe_detach(&fb, chr);
    object_unparent((Object *)chr);
    close(slave);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_pipe(void)
{
    GPtrArray *copies;
    g_autofree char *base = tmp_path("fifo");
    g_autofree char *in = g_strdup_printf("%s.in", base);
    g_autofree char *out = g_strdup_printf("%s.out", base);
    g_autofree char *spec = g_strdup_printf("pipe,id=pp0,path=%s", base);
    g_autoptr(GString) got = g_string_new(NULL);
    Chardev *chr;
    TestFe fb;
    int win, rout;

    g_assert_cmpint(mkfifo(in, 0600), ==, 0);
    g_assert_cmpint(mkfifo(out, 0600), ==, 0);
    chr = mk_chr(spec);
    win = open(in, O_WRONLY | O_CLOEXEC);
    rout = open(out, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    g_bytes_unref(old_switchover());
    copies = handover_copies();
    g_assert_cmpuint(copies->len, ==, 2);
    object_unparent((Object *)chr);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    chr = mk_chr(spec);
    fe_attach(&fb, chr);
    write_str(win, "queued");
    run_for(30);
    g_assert_cmpuint(fb.rx->len, ==, 0);
    new_takeover();
    WAIT_FOR(fe_rx_is(&fb, "queued"));
    chardev_write(chr, (const uint8_t *)"back", 4);
    read_until(rout, got, "back");
    fe_detach(&fb, chr);
    object_unparent((Object *)chr);
    close(win);
    close(rout);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

/* ---- monitors ---- */

static Monitor *mk_monitor(Chardev *chr, bool qmp)
{
    g_autoptr(GError) err = NULL;
    Monitor *mon = monitor_new(chr, qmp, false, &err);

    g_assert_no_error(err);
    return mon;
}

static void test_qmp(void)
{
    GPtrArray *copies;
    g_autofree char *path = tmp_path("qmp.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=q0,path=%s,"
                                            "server=on,wait=off", path);
    g_autoptr(GString) got = g_string_new(NULL);
    g_autoptr(GBytes) stream = NULL;
    Chardev *chr = mk_chr(spec);
    int c;

    mk_monitor(chr, true);
    c = unix_connect(path);
    read_until(c, got, "\r\n");
    g_assert_nonnull(strstr(got->str, "\"QMP\""));
    write_str(c, "{\"execute\": \"qmp_capabilities\"}");
    read_until(c, got, "{\"return\": {}}\r\n");
    g_string_truncate(got, 0);
    /* Half a command is in the session's input when the state is saved. */
    write_str(c, "{\"execute\": \"query-");
    run_for(30);
    stream = old_switchover();
    write_str(c, "version\", \"id\": 7}");
    copies = handover_copies();
    monitor_cleanup_all();
    object_unparent((Object *)chr);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    chr = mk_chr(spec);
    mk_monitor(chr, true);
    new_load(stream);
    run_for(30);
    g_assert_false(fd_readable(c, 0));   /* no greeting, nothing early */
    new_takeover();
    read_until(c, got, "\r\n");
    g_assert_true(g_str_has_prefix(got->str, "{\"return\": {"));
    g_assert_nonnull(strstr(got->str, "\"qemu\""));
    g_assert_true(g_str_has_suffix(got->str, "\"id\": 7}\r\n"));
    /* Still negotiated: an ordinary command works. */
    g_string_truncate(got, 0);
    write_str(c, "{\"execute\": \"query-status\"}");
    read_until(c, got, "\r\n");
    g_assert_true(g_str_has_prefix(got->str, "{\"return\": {"));
    close(c);
    run_for(10);
    monitor_cleanup_all();
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_qmp_input_too_big(void)
{
    g_autofree char *path = tmp_path("qmp2.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=q1,path=%s,"
                                            "server=on,wait=off", path);
    g_autoptr(GString) got = g_string_new(NULL);
    g_autofree char *big = g_strnfill(70000, 'x');
    static const SavevmOptions opts;
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    Chardev *chr = mk_chr(spec);
    int c;

    mk_monitor(chr, true);
    c = unix_connect(path);
    read_until(c, got, "\r\n");
    write_str(c, "{\"execute\": \"qmp_capabilities\", \"id\": \"");
    write_str(c, big);
    run_for(50);
    set_mode("cpr-transfer");
    cpr_notify(CPR_EVENT_HANDOVER, NULL);
    g_assert_false(savevm_save_all(w, &opts, &err));
    set_mode("normal");
    g_assert_nonnull(strstr(err->message, "monitor on chardev 'q1': 70039 "
                            "bytes of unprocessed QMP input exceed the "
                            "65536 bytes a live update carries"));
    /* The core rolls back: the session carries on in this process. */
    cpr_notify(CPR_EVENT_ROLLBACK, NULL);
    g_string_truncate(got, 0);
    write_str(c, "\"}");
    read_until(c, got, "\r\n");
    g_assert_nonnull(strstr(got->str, "{\"return\": {}"));
    close(c);
    run_for(10);
    monitor_cleanup_all();
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_hmp(void)
{
    GPtrArray *copies;
    g_autofree char *path = tmp_path("hmp.sock");
    g_autofree char *spec = g_strdup_printf("socket,id=h0,path=%s,"
                                            "server=on,wait=off", path);
    g_autoptr(GString) got = g_string_new(NULL);
    g_autoptr(GBytes) stream = NULL;
    Chardev *chr = mk_chr(spec);
    int c;

    mk_monitor(chr, false);
    c = unix_connect(path);
    read_until(c, got, "(qemu) ");
    g_assert_nonnull(strstr(got->str, "monitor - type 'help'"));
    write_str(c, "info stat");
    read_until(c, got, "info stat\033[K");
    stream = old_switchover();
    write_str(c, "us\r");
    copies = handover_copies();
    monitor_cleanup_all();
    object_unparent((Object *)chr);
    restart_incoming(copies, MIG_MODE_CPR_TRANSFER);

    chr = mk_chr(spec);
    mk_monitor(chr, false);
    new_load(stream);
    new_takeover();
    g_string_truncate(got, 0);
    read_until(c, got, "(qemu) ");
    /* The line typed across the update ran; no new banner. */
    g_assert_nonnull(strstr(got->str, "VM status"));
    g_assert_null(strstr(got->str, "monitor - type 'help'"));
    close(c);
    run_for(10);
    monitor_cleanup_all();
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("baton-cpr-XXXXXX", &err);
    g_assert_no_error(err);
    /* Only the sections this test's objects register (no "ram"). */
    savevm_unregister_all();

    g_test_add_func("/cpr/owners/memfd", test_memfd);
    g_test_add_func("/cpr/owners/file-backend", test_file_backend);
    g_test_add_func("/cpr/owners/machine-aux-ram", test_machine_aux_ram);
    g_test_add_func("/cpr/owners/blockers", test_blockers);
    g_test_add_func("/cpr/owners/drive", test_drive);
    g_test_add_func("/cpr/owners/socket-server", test_socket_server);
    g_test_add_func("/cpr/owners/socket-rollback", test_socket_rollback);
    g_test_add_func("/cpr/owners/socket-client", test_socket_client);
    g_test_add_func("/cpr/owners/file", test_file);
    g_test_add_func("/cpr/owners/pty", test_pty);
    g_test_add_func("/cpr/owners/pipe", test_pipe);
    g_test_add_func("/cpr/owners/qmp", test_qmp);
    g_test_add_func("/cpr/owners/qmp-input-too-big", test_qmp_input_too_big);
    g_test_add_func("/cpr/owners/hmp", test_hmp);
    ret = g_test_run();
    rm_tmpdir(tmpdir);
    return ret;
}
