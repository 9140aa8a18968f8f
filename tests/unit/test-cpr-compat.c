/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Live update from a version-1 baton (up to b23ea73, the previous
 * release): its CPR state (no owner records) loads and is recognised
 * (cpr_compat_v1()), a newer version is refused; such an old process's
 * chardevs are all inherited, one it did not have or whose listening path
 * moved is refused before it opens anything, and the configuration check
 * lists chardevs and sends no reply. And the other way: cpr-exec refuses
 * a binary that cannot read this baton's CPR state. The whole updates
 * are tests/functional/test_cpr_compat.py.
 */
#include "util/osdep.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "chardev/char.h"
#include "chardev-test.h"
#include "hw/core/object.h"
#include "migration/cpr.h"
#include "migration/stream.h"

#include "../../migration/cpr-internal.h"
#include "../../migration/savevm.h"

static char *tmpdir;

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

/* A CPR state as a version-1 baton writes it: ENTRIES name inherited fds. */
static GBytes *v1_state(MigMode mode, uint32_t version, const char *fp,
                        const char *const *names, const int *fds)
{
    g_autoptr(MigStream) p = mig_stream_new_mem_writer();
    g_autoptr(MigStream) f = mig_stream_new_mem_writer();
    const uint8_t *data;
    size_t len;
    guint n = names ? g_strv_length((char **)names) : 0;

    mig_put_u8(p, mode);
    for (int i = 0; i < 4; i++) {
        mig_put_be64(p, 0);
    }
    mig_put_be32(p, strlen(fp));
    mig_put_buffer(p, fp, strlen(fp));
    mig_put_be32(p, n);
    for (guint i = 0; i < n; i++) {
        mig_put_be16(p, strlen(names[i]));
        mig_put_buffer(p, names[i], strlen(names[i]));
        mig_put_be32(p, 0);
        mig_put_be32(p, fds[i]);
    }
    data = mig_stream_mem_data(p, &len);
    cpr_frame_put(f, "BATONCPR", version, data, len);
    data = mig_stream_mem_data(f, &len);
    return g_bytes_new(data, len);
}

static bool load(GBytes *state, GError **errp)
{
    size_t len;
    const uint8_t *data = g_bytes_get_data(state, &len);
    g_autoptr(MigStream) r = mig_stream_new_mem_reader(data, len, NULL, 0);

    return cpr_state_load(r, true, errp);
}

static void become_incoming_v1(MigMode mode, const char *fp,
                               const char *const *names, const int *fds)
{
    g_autoptr(GBytes) st = v1_state(mode, 1, fp, names, fds);
    g_autoptr(GError) err = NULL;

    g_assert_true(load(st, &err));
    g_assert_no_error(err);
    g_assert_true(cpr_compat_v1());
}

static ino_t sock_of(int fd)
{
    struct stat st;

    g_assert_cmpint(fstat(fd, &st), ==, 0);
    return st.st_ino;
}

static Chardev *chr_try_new(const char *str, GError **errp)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) opts = opts_parse(str, "backend", &err);

    g_assert_no_error(err);
    return chardev_new_from_opts(opts, errp);
}

static void test_state(void)
{
    g_autoptr(GBytes) v1 = NULL;
    g_autoptr(GBytes) v3 = NULL;
    g_autoptr(GError) err = NULL;
    const char *const names[] = { "chardev/s0/conn", NULL };
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    v1 = v1_state(MIG_MODE_CPR_EXEC, 1, "vcpus 1\n", names, p);
    g_assert_true(load(v1, &err));
    g_assert_no_error(err);
    g_assert_true(cpr_is_incoming());
    g_assert_true(cpr_compat_v1());
    g_assert_cmpint(cpr_incoming_mode(), ==, MIG_MODE_CPR_EXEC);
    g_assert_cmpint(cpr_find_fd("/chardevs/s0/conn", 0), ==, p[0]);
    cpr_incoming_done();
    g_assert_false(cpr_compat_v1());
    cpr_fd_clear(true);
    close(p[1]);

    /* A version this baton does not know. */
    v3 = v1_state(MIG_MODE_CPR_EXEC, 4, "vcpus 1\n", NULL, NULL);
    g_assert_false(load(v3, &err));
    g_assert_nonnull(strstr(err->message,
                            "format version 4 is not supported (expected "
                            "1 to 3)"));
    g_assert_false(cpr_is_incoming());
}

/*
 * A version-1 old process hands every chardev over: the new one inherits
 * each, refuses one the old one did not have, and checks the whole
 * fingerprint, chardevs included, without a reply (there is no cpr
 * connection here: a reply would fail).
 */
static void test_chardevs(void)
{
    g_autofree char *p = tmp_path("s0.sock");
    g_autofree char *p1 = tmp_path("s1.sock");
    g_autofree char *s = g_strdup_printf("socket,id=s0,path=%s,server=on,"
                                         "wait=off", p);
    g_autofree char *s1 = g_strdup_printf("socket,id=s1,path=%s,server=on,"
                                          "wait=off", p1);
    g_autofree char *fp = NULL;
    g_autofree char *base = cpr_config_fingerprint();
    const char *const names[] = { "chardev/s0/listen", NULL };
    g_autoptr(GError) err = NULL;
    Chardev *chr;
    int l = unix_listen(p);
    ino_t ino = sock_of(l);

    fp = g_strdup_printf("%sobject chardev-socket s0\n", base);
    become_incoming_v1(MIG_MODE_CPR_TRANSFER, fp, names, &l);
    chr = chr_try_new(s, &err);
    g_assert_no_error(err);
    g_assert_true(chardev_cpr_inherited(chr));
    g_assert_cmpint(sock_of(cpr_find_fd("/chardevs/s0/listen", 0)), ==, ino);

    g_assert_null(chr_try_new(s1, &err));
    g_assert_nonnull(strstr(err->message, "'object chardev-socket s1' "
                            "exists here but not there"));
    g_assert_false(g_file_test(p1, G_FILE_TEST_EXISTS));
    g_clear_error(&err);

    g_assert_true(cpr_check_config(&err));
    g_assert_no_error(err);
    cpr_incoming_done();
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

/*
 * QEMU's way with a version-1 old process: the new process's own -qmp
 * path would silently serve the old one (it cannot keep it): refused in
 * cpr-transfer. In cpr-exec a refusal would lose the guest: inherited,
 * as between those releases.
 */
static void test_moved_listener(void)
{
    g_autofree char *p = tmp_path("old.sock");
    g_autofree char *p2 = tmp_path("new.sock");
    g_autofree char *s = g_strdup_printf("socket,id=m0,path=%s,server=on,"
                                         "wait=off", p2);
    g_autofree char *fp = NULL;
    g_autofree char *base = cpr_config_fingerprint();
    const char *const names[] = { "chardev/m0/listen", NULL };
    g_autoptr(GError) err = NULL;
    Chardev *chr;
    int l = unix_listen(p);
    ino_t ino = sock_of(l);

    fp = g_strdup_printf("%sobject chardev-socket m0\n", base);
    become_incoming_v1(MIG_MODE_CPR_TRANSFER, fp, names, &l);
    g_assert_null(chr_try_new(s, &err));
    g_assert_nonnull(strstr(err->message, "listens on"));
    g_assert_nonnull(strstr(err->message, p));
    g_assert_nonnull(strstr(err->message, p2));
    g_assert_false(g_file_test(p2, G_FILE_TEST_EXISTS));
    g_clear_error(&err);
    cpr_incoming_done();
    cpr_fd_clear(true);

    l = unix_listen(p);
    ino = sock_of(l);
    become_incoming_v1(MIG_MODE_CPR_EXEC, fp, names, &l);
    chr = chr_try_new(s, &err);
    g_assert_no_error(err);
    g_assert_true(chardev_cpr_inherited(chr));
    g_assert_cmpint(sock_of(cpr_find_fd("/chardevs/m0/listen", 0)), ==, ino);
    g_assert_false(g_file_test(p2, G_FILE_TEST_EXISTS));
    cpr_incoming_done();
    object_unparent((Object *)chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

/* An executable file at NAME in tmpdir holding TEXT; its path. */
static char *mk_exe(const char *name, const char *text)
{
    char *path = tmp_path(name);

    g_assert_true(g_file_set_contents(path, text, -1, NULL));
    g_assert_cmpint(chmod(path, 0755), ==, 0);
    return path;
}

static bool exec_check(const char *path, GError **errp)
{
    char *argv[] = { (char *)path, NULL };

    return cpr_exec_check(argv, errp);
}

static void test_exec_target(void)
{
    g_autofree char *old = mk_exe("old", "\x7f" "ELF..." CPR_STATE_FD_ENV
                                  "...");
    g_autofree char *cur = mk_exe("cur", "\x7f" "ELF..." CPR_STATE_FD_ENV
                                  "...baton-cpr-state-versions:1-2...");
    g_autofree char *future = mk_exe("future", CPR_STATE_FD_ENV
                                     "baton-cpr-state-versions:3-4");
    g_autofree char *wrapper = mk_exe("wrapper", "#!/bin/sh\nexec baton\n");
    g_autoptr(GError) err = NULL;

    g_assert_false(exec_check(old, &err));
    g_assert_nonnull(strstr(err->message, "reads only version 1 of the CPR "
                            "state (an older release), and this one writes "
                            "version 2"));
    g_clear_error(&err);
    g_assert_true(exec_check(cur, &err));
    g_assert_no_error(err);
    g_assert_false(exec_check(future, &err));
    g_assert_nonnull(strstr(err->message, "reads versions 3 to 4"));
    g_clear_error(&err);
    /* Cannot be judged: let through, as before. */
    g_assert_true(exec_check(wrapper, &err));
    g_assert_no_error(err);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir = g_dir_make_tmp("baton-cprcompat-XXXXXX", &err);
    g_assert_no_error(err);
    savevm_unregister_all();
    g_test_add_func("/cpr/compat/v1/state", test_state);
    g_test_add_func("/cpr/compat/v1/chardevs", test_chardevs);
    g_test_add_func("/cpr/compat/v1/moved-listener", test_moved_listener);
    g_test_add_func("/cpr/compat/exec-target", test_exec_target);
    ret = g_test_run();
    for (const char *n = "s0.sock\0s1.sock\0old.sock\0new.sock\0old\0cur\0"
                         "future\0wrapper\0"; *n; n += strlen(n) + 1) {
        g_autofree char *path = tmp_path(n);

        unlink(path);
    }
    rmdir(tmpdir);
    return ret;
}
