/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPR vmstate sections: an owner's section with fd fields goes with the
 * CPR state over a socketpair (SCM_RIGHTS) and through a memfd (fds
 * inherited by number), and the owner loads it by its canonical path; a
 * state without sections is written as version 2; malformed sections
 * fail with an error naming the section and field; nothing leaks.
 */
#include "util/osdep.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "hw/core/object.h"
#include "migration/cpr.h"
#include "migration/stream.h"
#include "migration/vmstate.h"

#include "../../migration/cpr-internal.h"

typedef struct TestIoas {
    uint32_t ioas_id;
    int dev_fd;
    int spare_fd;     /* -1: travels as "no descriptor" */
    int extra_fd;     /* only in test_more_vmsd */
} TestIoas;

static const VMStateField test_ioas_fields[] = {
    VMSTATE_UINT32(ioas_id, TestIoas),
    VMSTATE_FD(dev_fd, TestIoas),
    VMSTATE_FD(spare_fd, TestIoas),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription test_ioas_vmsd = {
    .name = "test-ioas",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = test_ioas_fields,
};

/* What a later release might expect: one fd more than was sent. */
static const VMStateField test_more_fields[] = {
    VMSTATE_UINT32(ioas_id, TestIoas),
    VMSTATE_FD(dev_fd, TestIoas),
    VMSTATE_FD(spare_fd, TestIoas),
    VMSTATE_FD(extra_fd, TestIoas),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription test_more_vmsd = {
    .name = "test-ioas",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = test_more_fields,
};

/* A field whose first byte is an fd field's marker on the wire. */
typedef struct TestFlag {
    uint8_t flag;
    int fd;
} TestFlag;

static const VMStateField test_flag_fields[] = {
    VMSTATE_UINT8(flag, TestFlag),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription test_flag_vmsd = {
    .name = "test-flag",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = test_flag_fields,
};

static const VMStateField test_flag_as_fd_fields[] = {
    VMSTATE_FD(fd, TestFlag),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription test_flag_as_fd_vmsd = {
    .name = "test-flag",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = test_flag_as_fd_fields,
};

static Object *new_owner(const char *id)
{
    Object *obj = object_new("test-cpr-vmstate-owner");

    object_property_add_child(container_get(object_get_root(), "/objects"),
                              id, obj);
    object_unref(obj);
    return obj;
}

static bool same_file(int a, int b)
{
    struct stat sa, sb;

    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * Save the CPR state over a socketpair and load it back as a new process
 * would (the registry and sections emptied in between). Returns the
 * format version written.
 */
static uint32_t transfer(void)
{
    g_autoptr(GError) err = NULL;
    MigStream *out, *in;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    out = mig_stream_new_fd(sv[0], true, true, "cpr out");
    g_assert_true(cpr_state_save(out, MIG_MODE_CPR_TRANSFER, "vcpus 1\n",
                                 NULL, &err));
    g_assert_no_error(err);
    g_assert_true(mig_stream_close(out, &err));
    in = mig_stream_new_fd(sv[1], false, true, "cpr in");
    g_assert_true(cpr_state_load(in, false, &err));
    g_assert_no_error(err);
    mig_stream_close_noerr(in);
    return cpr_state_written_version();
}

static void test_socketpair(void)
{
    g_autoptr(GError) err = NULL;
    TestIoas old = { .ioas_id = 7, .spare_fd = -1 }, got = { 0 };
    Object *owner = new_owner("io0");
    bool found;
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    old.dev_fd = p[0];
    /* No section: the format of the release before (version 2). */
    g_assert_cmpuint(transfer(), ==, 2);
    cpr_incoming_done();

    cpr_vmstate_register(owner, &test_ioas_vmsd, &old);
    g_assert_cmpuint(transfer(), ==, 3);
    g_assert_true(cpr_is_incoming());
    /* Another owner has none. */
    {
        Object *other = new_owner("io1");

        g_assert_true(cpr_vmstate_load(other, &test_ioas_vmsd, &got, &found,
                                       &err));
        g_assert_false(found);
        object_unparent(other);
    }
    g_assert_true(cpr_vmstate_load(owner, &test_ioas_vmsd, &got, &found,
                                   &err));
    g_assert_no_error(err);
    g_assert_true(found);
    g_assert_cmpuint(got.ioas_id, ==, 7);
    g_assert_cmpint(got.spare_fd, ==, -1);
    g_assert_cmpint(got.dev_fd, >=, 0);
    g_assert_cmpint(got.dev_fd, !=, p[0]);
    g_assert_true(same_file(got.dev_fd, p[0]));
    g_assert_cmpint(write(p[1], "x", 1), ==, 1);
    {
        char c;

        g_assert_cmpint(read(got.dev_fd, &c, 1), ==, 1);
        g_assert_cmpint(c, ==, 'x');
    }
    /* Loaded once: it is the owner's now. */
    g_assert_true(cpr_vmstate_load(owner, &test_ioas_vmsd, &got, &found,
                                   &err));
    g_assert_false(found);
    close(got.dev_fd);
    cpr_incoming_done();

    /* Forgotten with its owner: the next state has no section. */
    object_unparent(owner);
    g_assert_cmpuint(transfer(), ==, 2);
    cpr_incoming_done();
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    close(p[0]);
    close(p[1]);
}

/* cpr-exec: the state in memory, the section's fd inherited by number. */
static void test_inherited(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MigStream) out = mig_stream_new_mem_writer();
    g_autoptr(MigStream) in = NULL;
    TestIoas old = { .ioas_id = 9, .spare_fd = -1 }, got = { 0 };
    Object *owner = new_owner("io2");
    const uint8_t *data;
    size_t len;
    bool found;
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    old.dev_fd = p[0];
    cpr_vmstate_register(owner, &test_ioas_vmsd, &old);
    g_assert_true(cpr_state_save(out, MIG_MODE_CPR_EXEC, "vcpus 1\n", NULL,
                                 &err));
    g_assert_no_error(err);
    data = mig_stream_mem_data(out, &len);
    in = mig_stream_new_mem_reader(data, len, NULL, 0);
    g_assert_true(cpr_state_load(in, true, &err));
    g_assert_no_error(err);
    g_assert_true(cpr_vmstate_load(owner, &test_ioas_vmsd, &got, &found,
                                   &err));
    g_assert_no_error(err);
    g_assert_true(found);
    g_assert_cmpuint(got.ioas_id, ==, 9);
    /*
     * The inherited number (here: this process's p[0], standing for the
     * old image's) was handed to the field; the pipe still works.
     */
    g_assert_cmpint(write(p[1], "y", 1), ==, 1);
    {
        char c;

        g_assert_cmpint(read(got.dev_fd, &c, 1), ==, 1);
        g_assert_cmpint(c, ==, 'y');
    }
    close(got.dev_fd);
    cpr_incoming_done();
    object_unparent(owner);
    close(p[1]);
}

/*
 * Malformed sections: an fd field whose descriptor is missing, and a
 * marker byte that is no marker. Each error names the section, its
 * owner and the field; the section's fds are closed.
 */
/*
 * cpr-exec: a section's descriptor number that is not open in the new
 * image fails the load, naming it; what was placed already (an entry's
 * inherited fd) is closed, and the registry stays empty.
 */
static void test_bad_fd_number(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MigStream) out = mig_stream_new_mem_writer();
    g_autoptr(MigStream) in = NULL;
    TestIoas old = {.ioas_id = 3, .spare_fd = -1};
    Object *owner = new_owner("io9");
    const uint8_t *data;
    size_t len;
    int p[2], entry;

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    entry = dup(p[1]);
    old.dev_fd = p[0];
    cpr_own_fd(owner, "spare", 0, entry);
    cpr_vmstate_register(owner, &test_ioas_vmsd, &old);
    g_assert_true(
        cpr_state_save(out, MIG_MODE_CPR_EXEC, "vcpus 1\n", NULL, &err));
    g_assert_no_error(err);
    cpr_fd_clear(false);
    /* The old image's section fd did not survive the exec. */
    close(p[0]);
    data = mig_stream_mem_data(out, &len);
    in = mig_stream_new_mem_reader(data, len, NULL, 0);
    g_assert_false(cpr_state_load(in, true, &err));
    g_assert_nonnull(strstr(err->message, "was not inherited"));
    g_assert_nonnull(strstr(err->message, "section 'test-ioas' of "
                                          "'/objects/io9'"));
    g_assert_false(cpr_is_incoming());
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    /* The entry's inherited fd, placed before the failure, is closed. */
    g_assert_cmpint(fcntl(entry, F_GETFD), <, 0);
    object_unparent(owner);
    close(p[1]);
}

static unsigned int open_fds(void)
{
    GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
    unsigned int n = 0;

    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

static void test_malformed(void)
{
    g_autoptr(GError) err = NULL;
    TestIoas old = {.ioas_id = 1, .spare_fd = -1};
    TestIoas got = {.dev_fd = -1, .spare_fd = -1, .extra_fd = -1};
    TestFlag flag = { .flag = 1 }, fgot = { 0 };
    Object *owner = new_owner("bad0");
    Object *owner2 = new_owner("bad1");
    bool found;
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    old.dev_fd = p[0];
    cpr_vmstate_register(owner, &test_ioas_vmsd, &old);
    cpr_vmstate_register(owner2, &test_flag_vmsd, &flag);
    transfer();

    /*
     * One fd field more than the section carries: its bytes end first,
     * after the first fd field was filled. That one is closed again and
     * the field left as it was: nothing leaks.
     */
    {
        unsigned int fds = open_fds();

        g_assert_false(
            cpr_vmstate_load(owner, &test_more_vmsd, &got, &found, &err));
        g_assert_true(found);
        g_assert_nonnull(strstr(err->message, "cpr section 'test-ioas' of "
                                              "'/objects/bad0'"));
        g_assert_nonnull(strstr(err->message, "unexpected end"));
        g_clear_error(&err);
        g_assert_cmpint(got.dev_fd, ==, -1);
        /* The section's own copy went with it too. */
        g_assert_cmpuint(open_fds(), ==, fds - 1);
    }

    /* A marker of 1 with no descriptor in the section. */
    g_assert_false(cpr_vmstate_load(owner2, &test_flag_as_fd_vmsd, &fgot,
                                    &found, &err));
    g_assert_nonnull(strstr(err->message, "cpr section 'test-flag' of "
                            "'/objects/bad1'"));
    g_assert_nonnull(strstr(err->message, "field 'fd'"));
    g_assert_nonnull(strstr(err->message, "expected a file descriptor"));
    g_clear_error(&err);
    cpr_incoming_done();

    /* And a byte that is no marker. */
    flag.flag = 2;
    transfer();
    g_assert_false(cpr_vmstate_load(owner2, &test_flag_as_fd_vmsd, &fgot,
                                    &found, &err));
    g_assert_nonnull(strstr(err->message, "field 'fd'"));
    g_assert_nonnull(strstr(err->message, "invalid descriptor marker 0x02"));
    g_clear_error(&err);
    cpr_incoming_done();
    object_unparent(owner);
    object_unparent(owner2);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
    close(p[0]);
    close(p[1]);
}

static const TypeInfo test_owner_info = {
    .name = "test-cpr-vmstate-owner",
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(Object),
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    type_register(&test_owner_info);
    g_test_add_func("/migration/cpr/vmstate/socketpair", test_socketpair);
    g_test_add_func("/migration/cpr/vmstate/inherited", test_inherited);
    g_test_add_func("/migration/cpr/vmstate/malformed", test_malformed);
    g_test_add_func("/migration/cpr/vmstate/bad-fd-number", test_bad_fd_number);
    return g_test_run();
}
