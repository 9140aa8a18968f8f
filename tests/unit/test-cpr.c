/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CPR fd registry (save/find/delete/resave and its assertion), the
 * key helper, the notifiers, the configuration comparison, the per-type
 * blockers (cpr_modes, cpr_check; also through QMP migrate), and the CPR
 * state stream: a round trip with real descriptors over a socketpair
 * (SCM_RIGHTS) and through a memfd (cpr-exec), and damaged states.
 */
#include "util/osdep.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "hw/core/qdev.h"
#include "migration/cpr.h"
#include "migration/migration.h"

#include "../../migration/cpr-internal.h"
#include "../../migration/migration-internal.h"
#include "../../migration/options.h"

#define TYPE_TEST_CPR_CHARDEV "test-cpr-chardev"
#define TYPE_TEST_CPR_DEVICE "test-cpr-device"

static void test_device_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->user_creatable = true;
    dc->stateless = true;
}

/*
 * Per-type CPR support: TYPE_TEST_CPR_DEVICE declares no mode (nor does
 * any ancestor); REBOOT_ONLY declares one that preserves nothing; INHERITS
 * declares nothing and so has its parent's; ALL overrides its parent;
 * REFUSES declares every mode but its cpr_check says no, without a
 * message of its own.
 */
#define TYPE_TEST_CPR_REBOOT_ONLY "test-cpr-reboot-only"
#define TYPE_TEST_CPR_INHERITS "test-cpr-inherits"
#define TYPE_TEST_CPR_ALL "test-cpr-all"
#define TYPE_TEST_CPR_REFUSES "test-cpr-refuses"

static bool test_cpr_refuse(Object *obj, unsigned int mode, GError **errp)
{
    return false;
}

static void reboot_only_class_init(ObjectClass *oc, const void *data)
{
    test_device_class_init(oc, data);
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT);
}

static void all_class_init(ObjectClass *oc, const void *data)
{
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
}

static void refuses_class_init(ObjectClass *oc, const void *data)
{
    test_device_class_init(oc, data);
    all_class_init(oc, data);
    oc->cpr_check = test_cpr_refuse;
}

static const TypeInfo test_cpr_types[] = {
    {
        .name = TYPE_TEST_CPR_CHARDEV,
        .parent = TYPE_CHARDEV,
    }, {
        .name = TYPE_TEST_CPR_DEVICE,
        .parent = TYPE_DEVICE,
        .class_init = test_device_class_init,
    }, {
        .name = TYPE_TEST_CPR_REBOOT_ONLY,
        .parent = TYPE_DEVICE,
        .class_init = reboot_only_class_init,
    }, {
        .name = TYPE_TEST_CPR_INHERITS,
        .parent = TYPE_TEST_CPR_REBOOT_ONLY,
    }, {
        .name = TYPE_TEST_CPR_ALL,
        .parent = TYPE_TEST_CPR_REBOOT_ONLY,
        .class_init = all_class_init,
    }, {
        .name = TYPE_TEST_CPR_REFUSES,
        .parent = TYPE_DEVICE,
        .class_init = refuses_class_init,
    },
};

static void reset_registry(void)
{
    cpr_fd_clear(false);
    cpr_incoming_done();
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

/* A pipe: writing to W shows up on R, whatever numbers they have now. */
static void make_pipe(int *r, int *w)
{
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    *r = p[0];
    *w = p[1];
}

static bool same_file(int a, int b)
{
    struct stat sa, sb;

    g_assert_cmpint(fstat(a, &sa), ==, 0);
    g_assert_cmpint(fstat(b, &sb), ==, 0);
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void test_registry(void)
{
    int r, w;

    reset_registry();
    make_pipe(&r, &w);
    cpr_save_fd("chardev/ser0/listen", 0, r);
    cpr_save_fd("chardev/ser0/listen", 1, w);
    /* The same key and fd again is fine (an owner that re-registers). */
    cpr_save_fd("chardev/ser0/listen", 0, r);
    g_assert_cmpuint(cpr_fd_count(), ==, 2);
    g_assert_cmpint(cpr_find_fd("chardev/ser0/listen", 0), ==, r);
    g_assert_cmpint(cpr_find_fd("chardev/ser0/listen", 1), ==, w);
    g_assert_cmpint(cpr_find_fd("chardev/ser0/listen", 2), ==, -1);
    g_assert_cmpint(cpr_find_fd("chardev/ser1/listen", 0), ==, -1);

    /* An owner that replaced its fd on purpose. */
    cpr_resave_fd("chardev/ser0/listen", 1, r);
    g_assert_cmpint(cpr_find_fd("chardev/ser0/listen", 1), ==, r);
    cpr_resave_fd("chardev/new/conn", 0, w);
    g_assert_cmpuint(cpr_fd_count(), ==, 3);

    cpr_delete_fd("chardev/ser0/listen", 0);
    cpr_delete_fd("chardev/ser0/listen", 1);
    cpr_delete_fd("chardev/new/conn", 0);
    cpr_delete_fd("chardev/absent", 0);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    g_assert_cmpint(cpr_find_fd("chardev/ser0/listen", 0), ==, -1);
    close(r);
    close(w);
}

static void test_rebind_asserts(void)
{
    if (g_test_subprocess()) {
        cpr_save_fd("drive/d0/file", 0, 3);
        cpr_save_fd("drive/d0/file", 0, 4);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
}

/* A test owner in /objects, as a backend would be. */
static Object *new_owner(const char *id)
{
    Object *obj = object_new(TYPE_TEST_CPR_CHARDEV);

    object_property_add_child(container_get(object_get_root(), "/objects"),
                              id, obj);
    object_unref(obj);
    return obj;
}

static void test_open_fd(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-cpr-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "disk", NULL);
    g_autoptr(GError) err = NULL;
    Object *d0 = new_owner("d0");
    int fd, again;

    reset_registry();
    fd = cpr_open_fd(d0, "file", 0, path, O_RDWR | O_CREAT, &err);
    g_assert_no_error(err);
    g_assert_cmpint(fd, >=, 0);
    /* Found, not reopened. */
    again = cpr_open_fd(d0, "file", 0, path, O_RDWR, &err);
    g_assert_cmpint(again, ==, fd);
    g_assert_cmpint(cpr_find_fd("/objects/d0/file", 0), ==, fd);
    cpr_disown_fd(d0, "file", 0, fd);
    close(fd);
    unlink(path);

    g_assert_cmpint(cpr_open_fd(d0, "file", 1, path, O_RDONLY, &err), ==, -1);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, path));
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    object_unparent(d0);
    rmdir(dir);
}

/*
 * The owner helper: keys are (canonical path, role, index); taking an
 * inherited fd makes it the taker's; every entry of an object goes when
 * it leaves the tree, or at finalize for one that never was in it.
 */
static void test_owner(void)
{
    Object *chr = object_new(TYPE_TEST_CPR_CHARDEV);
    Object *b = new_owner("b0");
    int p[2];

    reset_registry();
    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    object_property_add_child(container_get(object_get_root(), "/chardevs"),
                              "ser0", chr);
    object_unref(chr);

    cpr_own_fd(chr, "listen", 0, p[0]);
    cpr_own_fd(chr, "conn", 3, p[1]);
    cpr_own_fd(b, "ram", 0, p[0]);
    g_assert_cmpint(cpr_find_fd("/chardevs/ser0/listen", 0), ==, p[0]);
    g_assert_cmpint(cpr_find_fd("/chardevs/ser0/conn", 3), ==, p[1]);
    g_assert_cmpint(cpr_take_fd(chr, "conn", 3), ==, p[1]);
    g_assert_cmpint(cpr_take_fd(chr, "conn", 0), ==, -1);
    g_assert_cmpuint(cpr_fd_count(), ==, 3);
    /* Disowning another fd than the registered one changes nothing. */
    cpr_disown_fd(chr, "listen", 0, p[1]);
    g_assert_cmpuint(cpr_fd_count(), ==, 3);

    /* Out of the tree: its entries go, the other owner's stay. */
    object_unparent(chr);
    g_assert_cmpuint(cpr_fd_count(), ==, 1);
    g_assert_cmpint(cpr_find_fd("/objects/b0/ram", 0), ==, p[0]);

    /* An entry received under a name is the taker's from then on. */
    cpr_save_fd("/objects/b1/ram", 0, p[1]);
    {
        Object *b1 = new_owner("b1");

        g_assert_cmpint(cpr_take_fd(b1, "ram", 0), ==, p[1]);
        object_unparent(b1);
    }
    g_assert_cmpuint(cpr_fd_count(), ==, 1);

    /* Finalized without ever leaving the tree through unparent. */
    object_ref(b);
    object_unparent(b);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    object_unref(b);
    close(p[0]);
    close(p[1]);
}

/* Version 1 and 2 names, both ways. */
static void test_legacy_names(void)
{
    static const char *const pairs[][2] = {
        { "/chardevs/ser0/listen", "chardev/ser0/listen" },
        { "/chardevs/ser0", "chardev/ser0" },
        { "/objects/ram0/ram", "memory-backend/ram0/ram" },
        { "/drives/d0/image", "object/d0/image" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
        g_autofree char *l = cpr_legacy_name(pairs[i][0]);
        g_autofree char *c = cpr_name_from_legacy(pairs[i][1]);

        g_assert_cmpstr(l, ==, pairs[i][1]);
        g_assert_cmpstr(c, ==, pairs[i][0]);
    }
    g_assert_null(cpr_legacy_name("/machine/peripheral/d0/irq"));
    {
        g_autofree char *c = cpr_name_from_legacy("machine/pc.0/ram");

        g_assert_cmpstr(c, ==, "/machine/ram");
    }
}

static GString *notified;
static const char *fail_at;

static bool note(CprEvent ev, void *opaque, GError **errp)
{
    g_string_append_printf(notified, "%s%d ", (const char *)opaque, ev);
    if (fail_at && !strcmp(fail_at, opaque) &&
        (ev == CPR_EVENT_HANDOVER || ev == CPR_EVENT_COMMIT)) {
        error_setg(errp, "%s refuses", (const char *)opaque);
        return false;
    }
    return true;
}

/*
 * Phase order: monitors, devices, backends on PREPARE and HANDOVER, the
 * reverse on ROLLBACK, COMMIT and TAKEOVER; registration order within a
 * phase. A HANDOVER or COMMIT failure stops there with the notifier's
 * error (a ROLLBACK or TAKEOVER one is only logged).
 */
static void test_notifiers(void)
{
    g_autoptr(GError) err = NULL;

    notified = g_string_new(NULL);
    cpr_add_notifier(note, (void *)"b", CPR_PHASE_BACKEND);
    cpr_add_notifier(note, (void *)"d", CPR_PHASE_DEVICE);
    cpr_add_notifier(note, (void *)"m", CPR_PHASE_MONITOR);
    cpr_add_notifier(note, (void *)"d2", CPR_PHASE_DEVICE);
    g_assert_true(cpr_notify(CPR_EVENT_HANDOVER, &err));
    g_assert_true(cpr_notify(CPR_EVENT_ROLLBACK, NULL));
    g_assert_cmpstr(notified->str, ==, "m1 d1 d21 b1 b2 d22 d2 m2 ");

    g_string_truncate(notified, 0);
    fail_at = "d";
    g_assert_false(cpr_notify(CPR_EVENT_HANDOVER, &err));
    g_assert_cmpstr(err->message, ==, "d refuses");
    g_assert_cmpstr(notified->str, ==, "m1 d1 ");
    g_clear_error(&err);

    /* The new process's COMMIT: backends first; a refusal stops it. */
    g_string_truncate(notified, 0);
    g_assert_false(cpr_notify(CPR_EVENT_COMMIT, &err));
    g_assert_cmpstr(err->message, ==, "d refuses");
    g_assert_cmpstr(notified->str, ==, "b4 d24 d4 ");
    fail_at = NULL;
    g_clear_error(&err);
    g_string_truncate(notified, 0);
    g_assert_true(cpr_notify(CPR_EVENT_COMMIT, &err));
    g_assert_cmpstr(notified->str, ==, "b4 d24 d4 m4 ");

    g_string_truncate(notified, 0);
    cpr_remove_notifier(note, (void *)"d");
    cpr_remove_notifier(note, (void *)"m");
    g_assert_true(cpr_notify(CPR_EVENT_TAKEOVER, NULL));
    cpr_remove_notifier(note, (void *)"b");
    cpr_remove_notifier(note, (void *)"d2");
    g_assert_true(cpr_notify(CPR_EVENT_PREPARE, NULL));
    g_assert_cmpstr(notified->str, ==, "b3 d23 ");
    g_string_free(notified, TRUE);
}

static void test_config_compare(void)
{
    g_autoptr(GError) err = NULL;
    const char *fp = "vcpus 1\nram pc.ram 0x10000000\nobject a b\n";

    g_assert_true(cpr_config_compare(fp, fp, &err));
    g_assert_false(cpr_config_compare(fp, "vcpus 2\nram pc.ram 0x10000000\n"
                                      "object a b\n", &err));
    g_assert_nonnull(strstr(err->message, "'vcpus 1'"));
    g_assert_nonnull(strstr(err->message, "'vcpus 2'"));
    g_clear_error(&err);
    g_assert_false(cpr_config_compare(fp, "vcpus 1\nram pc.ram 0x10000000\n",
                                      &err));
    g_assert_nonnull(strstr(err->message, "'object a b' is missing here"));
    g_clear_error(&err);
    g_assert_false(cpr_config_compare("vcpus 1\n", "vcpus 1\nobject c d\n",
                                      &err));
    g_assert_nonnull(strstr(err->message, "'object c d' exists here"));
    g_clear_error(&err);
    /* The same objects created in another order: the same configuration. */
    g_assert_true(cpr_config_compare("vcpus 1\nobject edu e4\n"
                                     "object edu e5\nobject edu -\n",
                                     "vcpus 1\nobject edu -\n"
                                     "object edu e5\nobject edu e4\n",
                                     &err));
    g_assert_no_error(err);
    g_assert_false(cpr_config_compare("vcpus 1\nobject edu e4\n"
                                      "object edu e5\n",
                                      "object edu e5\nobject edu e6\n"
                                      "vcpus 1\n", &err));
    g_assert_nonnull(strstr(err->message, "it has 'object edu e4' where "
                            "this one has 'object edu e5'"));
    g_clear_error(&err);
    g_assert_false(cpr_config_compare("object edu -\nobject edu -\n",
                                      "object edu -\n", &err));
    g_assert_nonnull(strstr(err->message, "'object edu -' is missing here"));
}

static Object *blocker_object(const char *type, const char *id)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *text = g_strdup_printf("id=%s", id);
    g_autoptr(OptList) opts = opts_parse(text, NULL, &err);
    Object *obj;

    g_assert_no_error(err);
    obj = OBJECT(qdev_device_add(type, opts, &err));
    g_assert_no_error(err);
    return obj;
}

/* cpr_check_blockers(MODE) fails with exactly WANT (NULL: it passes). */
static void check_blockers(MigMode mode, const char *want)
{
    g_autoptr(GError) err = NULL;

    if (!want) {
        g_assert_true(cpr_check_blockers(mode, &err));
        g_assert_no_error(err);
        return;
    }
    g_assert_false(cpr_check_blockers(mode, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, want);
}

static void test_blockers_per_type(void)
{
    static const struct {
        const char *type, *id, *transfer, *exec;
    } cases[] = {
        { TYPE_TEST_CPR_DEVICE, "nocpr0",
          "device 'nocpr0' (test-cpr-device) does not support cpr-transfer",
          "device 'nocpr0' (test-cpr-device) does not support cpr-exec" },
        { TYPE_TEST_CPR_REBOOT_ONLY, "reboot0",
          "device 'reboot0' (test-cpr-reboot-only) does not support "
          "cpr-transfer",
          "device 'reboot0' (test-cpr-reboot-only) does not support "
          "cpr-exec" },
        { TYPE_TEST_CPR_INHERITS, "inh0",
          "device 'inh0' (test-cpr-inherits) does not support cpr-transfer",
          "device 'inh0' (test-cpr-inherits) does not support cpr-exec" },
        { TYPE_TEST_CPR_ALL, "all0", NULL, NULL },
        { TYPE_TEST_CPR_REFUSES, "no0",
          "device 'no0' (test-cpr-refuses) cannot be preserved in "
          "cpr-transfer",
          "device 'no0' (test-cpr-refuses) cannot be preserved in cpr-exec" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        Object *obj = blocker_object(cases[i].type, cases[i].id);

        check_blockers(MIG_MODE_CPR_TRANSFER, cases[i].transfer);
        check_blockers(MIG_MODE_CPR_EXEC, cases[i].exec);
        /* Modes that preserve nothing have no per-object blockers. */
        check_blockers(MIG_MODE_CPR_REBOOT, NULL);
        check_blockers(MIG_MODE_NORMAL, NULL);
        object_unparent(obj);
        check_blockers(MIG_MODE_CPR_TRANSFER, NULL);
    }
}

/*
 * QMP migrate in cpr-transfer mode with a device that does not support
 * it: the command fails up front naming the device, before it connects
 * anywhere (the socket paths do not exist), and no migration starts.
 */
static void test_blockers_migrate(void)
{
    static const char channels[] =
        "[{\"channel-type\": \"main\", \"addr\": {\"transport\": "
        "\"socket\", \"type\": \"unix\", \"path\": \"/nonexistent/m\"}},"
        " {\"channel-type\": \"cpr\", \"addr\": {\"transport\": "
        "\"socket\", \"type\": \"unix\", \"path\": \"/nonexistent/c\"}}]";
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) node = json_from_string(channels, &err);
    Object *obj = blocker_object(TYPE_TEST_CPR_DEVICE, "nocpr1");

    g_assert_no_error(err);
    g_assert_true(migrate_set_parameter_str("mode", "cpr-transfer", &err));
    g_assert_false(migration_qmp_migrate(NULL, json_node_get_array(node),
                                         false, &err));
    g_assert_cmpstr(err->message, ==, "device 'nocpr1' (test-cpr-device) "
                    "does not support cpr-transfer");
    g_assert_false(migration_is_active());
    g_assert_true(migrate_set_parameter_str("mode", "normal", NULL));
    object_unparent(obj);
}

/* Three entries: both ends of a pipe and a memfd holding "guest". */
typedef struct Fixture {
    int r, w, mem;
} Fixture;

static void fixture_register(Fixture *fx)
{
    make_pipe(&fx->r, &fx->w);
    fx->mem = memfd_create("test-cpr", MFD_CLOEXEC);
    g_assert_cmpint(fx->mem, >=, 0);
    g_assert_cmpint(write(fx->mem, "guest", 5), ==, 5);
    cpr_save_fd("chardev/ser0/conn", 0, fx->r);
    cpr_save_fd("chardev/ser0/conn", 1, fx->w);
    cpr_save_fd("memory-backend/ram0/memfd", 0, fx->mem);
}

static void fixture_close(Fixture *fx)
{
    close(fx->r);
    close(fx->w);
    close(fx->mem);
}

static void test_state_socketpair(void)
{
    g_autoptr(GError) err = NULL;
    Fixture fx;
    MigStream *out, *in;
    int sv[2], r, w, mem;
    char buf[8] = "";

    reset_registry();
    fixture_register(&fx);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    out = mig_stream_new_fd(sv[0], true, true, "cpr out");
    g_assert_true(cpr_state_save(out, MIG_MODE_CPR_TRANSFER, "vcpus 1\n",
                                 NULL, &err));
    g_assert_no_error(err);
    g_assert_true(mig_stream_close(out, &err));

    /* The new process starts with an empty registry. */
    cpr_fd_clear(false);
    in = mig_stream_new_fd(sv[1], false, true, "cpr in");
    g_assert_true(cpr_state_load(in, false, &err));
    g_assert_no_error(err);
    mig_stream_close_noerr(in);

    g_assert_true(cpr_is_incoming());
    g_assert_cmpint(cpr_incoming_mode(), ==, MIG_MODE_CPR_TRANSFER);
    g_assert_cmpuint(cpr_fd_count(), ==, 3);
    r = cpr_find_fd("chardev/ser0/conn", 0);
    w = cpr_find_fd("chardev/ser0/conn", 1);
    mem = cpr_find_fd("memory-backend/ram0/memfd", 0);
    /* New numbers, same open files. */
    g_assert_cmpint(r, !=, fx.r);
    g_assert_true(same_file(r, fx.r) && same_file(w, fx.w) &&
                  same_file(mem, fx.mem));
    g_assert_cmpint(fcntl(r, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    g_assert_cmpint(write(w, "x", 1), ==, 1);
    g_assert_cmpint(read(fx.r, buf, 1), ==, 1);
    g_assert_cmpint(pread(mem, buf, 5, 0), ==, 5);
    g_assert_cmpstr(buf, ==, "guest");

    /* A fingerprint mismatch names the line. */
    g_assert_false(cpr_check_config(&err));
    g_assert_nonnull(strstr(err->message, "vcpus 1"));

    cpr_delete_fd("chardev/ser0/conn", 0);
    cpr_delete_fd("chardev/ser0/conn", 1);
    cpr_delete_fd("memory-backend/ram0/memfd", 0);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    close(r);
    close(w);
    close(mem);
    cpr_incoming_done();
    g_assert_false(cpr_is_incoming());
    fixture_close(&fx);
}

/* The cpr-exec path: state in a memfd, fds inherited by number. */
static void test_state_memfd(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MigStream) out = mig_stream_new_mem_writer();
    CprTimes t = { 1, 2, 3, 4 };
    const uint8_t *data;
    Fixture fx;
    MigStream *in;
    size_t len;
    int memfd;

    reset_registry();
    fixture_register(&fx);
    g_assert_true(cpr_state_save(out, MIG_MODE_CPR_EXEC, "", &t, &err));
    data = mig_stream_mem_data(out, &len);
    memfd = memfd_create("test-cpr-state", MFD_CLOEXEC);
    g_assert_cmpint(write(memfd, data, len), ==, (ssize_t)len);
    lseek(memfd, 0, SEEK_SET);

    cpr_fd_clear(false);
    in = mig_stream_new_fd(memfd, false, false, "cpr state memfd");
    g_assert_true(cpr_state_load(in, true, &err));
    g_assert_no_error(err);
    mig_stream_close_noerr(in);
    g_assert_cmpint(cpr_incoming_mode(), ==, MIG_MODE_CPR_EXEC);
    g_assert_cmpint(cpr_incoming_times()->saved, ==, 3);
    g_assert_cmpint(cpr_incoming_times()->exec, ==, 4);
    g_assert_cmpint(cpr_find_fd("chardev/ser0/conn", 0), ==, fx.r);
    g_assert_cmpint(cpr_find_fd("memory-backend/ram0/memfd", 0), ==, fx.mem);
    reset_registry();
    fixture_close(&fx);
}

/* Serialised state of the fixture, for damaging. */
static GBytes *state_bytes(void)
{
    g_autoptr(MigStream) out = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    const uint8_t *data;
    size_t len;

    cpr_save_fd("chardev/ser0/conn", 0, 0);
    g_assert_true(cpr_state_save(out, MIG_MODE_CPR_EXEC, "vcpus 1\n", NULL,
                                 &err));
    cpr_fd_clear(false);
    data = mig_stream_mem_data(out, &len);
    return g_bytes_new(data, len);
}

static void load_damaged(const uint8_t *data, size_t len, const char *msg)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MigStream) in = mig_stream_new_mem_reader(data, len, NULL, 0);

    g_assert_false(cpr_state_load(in, true, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, msg)) {
        g_error("'%s' does not mention '%s'", err->message, msg);
    }
    g_assert_false(cpr_is_incoming());
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_state_damaged(void)
{
    g_autoptr(GBytes) good = NULL;
    g_autofree uint8_t *copy = NULL;
    const uint8_t *data;
    size_t len;

    reset_registry();
    good = state_bytes();
    data = g_bytes_get_data(good, &len);
    copy = g_memdup2(data, len);

    copy[0] = 'X';
    load_damaged(copy, len, "bad magic");
    memcpy(copy, data, len);
    copy[11] = 9;
    load_damaged(copy, len, "format version 9");
    memcpy(copy, data, len);
    copy[20] ^= 1;
    load_damaged(copy, len, "checksum");
    memcpy(copy, data, len);
    copy[12] = 0x7f;
    load_damaged(copy, len, "exceeds the limit");
    load_damaged(data, len - 1, "unexpected end");
    load_damaged(data, 3, "unexpected end");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(test_cpr_types); i++) {
        type_register(&test_cpr_types[i]);
    }
    g_test_add_func("/migration/cpr/registry", test_registry);
    g_test_add_func("/migration/cpr/registry/rebind-asserts",
                    test_rebind_asserts);
    g_test_add_func("/migration/cpr/registry/open-fd", test_open_fd);
    g_test_add_func("/migration/cpr/owner", test_owner);
    g_test_add_func("/migration/cpr/owner/legacy-names", test_legacy_names);
    g_test_add_func("/migration/cpr/notifiers", test_notifiers);
    g_test_add_func("/migration/cpr/config-compare", test_config_compare);
    g_test_add_func("/migration/cpr/blockers/per-type",
                    test_blockers_per_type);
    g_test_add_func("/migration/cpr/blockers/migrate", test_blockers_migrate);
    g_test_add_func("/migration/cpr/state/socketpair", test_state_socketpair);
    g_test_add_func("/migration/cpr/state/memfd", test_state_memfd);
    g_test_add_func("/migration/cpr/state/damaged", test_state_damaged);
    return g_test_run();
}
