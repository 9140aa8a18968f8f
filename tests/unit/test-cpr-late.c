/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Descriptors that change after the CPR state was sent (cpr-late.c): an
 * old process (a forked child) hands its fds over, then, in the window
 * before the switchover, replaces one, removes one and adds one; the
 * switchover's "cpr-late" section carries that, the new process (this
 * one) applies it, and the owner ends up with the new fds and nothing
 * leaks. An owner that cannot take a new fd fails the load, naming it.
 */
#include "util/osdep.h"

#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "hw/core/object.h"
#include "migration/cpr.h"
#include "migration/stream.h"

#include "../../migration/cpr-internal.h"
#include "../../migration/options.h"
#include "../../migration/savevm.h"

#define OWNER_TYPE "test-cpr-late-owner"
#define RIGID_TYPE "test-cpr-late-rigid"
#define NVEC 4

/* A device with MSI-X-like vector eventfds, which it swaps late. */
typedef struct TestOwner {
    Object parent_obj;
    int vec[NVEC];
    unsigned int swaps;
} TestOwner;

static bool owner_late(Object *obj, const char *role, int index, int old_fd,
                       int fd, GError **errp)
{
    TestOwner *o = (TestOwner *)obj;

    g_assert_cmpstr(role, ==, "vec");
    g_assert_cmpint(index, >=, 0);
    g_assert_cmpint(index, <, NVEC);
    g_assert_cmpint(old_fd, ==, o->vec[index]);
    if (old_fd >= 0) {
        close(old_fd);
    }
    o->vec[index] = fd >= 0 ? cpr_take_fd(obj, "vec", index) : -1;
    g_assert_cmpint(o->vec[index], ==, fd);
    o->swaps++;
    return true;
}

static unsigned int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned int n = 0;

    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

static int efd(uint64_t v)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, &v, sizeof(v)), ==, sizeof(v));
    return fd;
}

/* The value an eventfd of efd() holds (it stays there). */
static uint64_t efd_value(int fd)
{
    uint64_t v = 0;

    g_assert_cmpint(read(fd, &v, sizeof(v)), ==, sizeof(v));
    g_assert_cmpint(write(fd, &v, sizeof(v)), ==, sizeof(v));
    return v;
}

static Object *new_obj(const char *type, const char *id)
{
    Object *obj = object_new(type);

    object_property_add_child(container_get(object_get_root(), "/objects"), id,
                              obj);
    object_unref(obj);
    return obj;
}

typedef enum { CHANGE_ALL, CHANGE_RIGID } Change;

/*
 * The old process: vectors 0 (value 10), 1 (11) and 2 (12) of the owner
 * 'dev', and the rigid owner's fd; the CPR state on CPR, then (once the
 * new process says so) the changes, then the switchover on MAIN_FD.
 */
static void old_process(int cpr, int main_fd, Change change)
{
    static const SavevmOptions opts;
    g_autoptr(GError) err = NULL;
    Object *dev = new_obj(OWNER_TYPE, "dev");
    Object *rigid = new_obj(RIGID_TYPE, "rigid");
    MigStream *f;
    char c;

    for (int i = 0; i < 3; i++) {
        cpr_own_fd(dev, "vec", i, efd(10 + i));
    }
    cpr_own_fd(rigid, "fd", 0, efd(50));
    f = mig_stream_new_fd(dup(cpr), true, true, "cpr");
    if (!cpr_state_save(f, MIG_MODE_CPR_TRANSFER, "vcpus 1\n", NULL, &err) ||
        !mig_stream_close(f, &err)) {
        _exit(2);
    }
    /* The window: the new process has the state and creates its devices. */
    if (read(cpr, &c, 1) != 1) {
        _exit(3);
    }
    if (change == CHANGE_ALL) {
        /* Vector 0 re-enabled with a new eventfd, 1 disabled, 3 added. */
        cpr_reown_fd(dev, "vec", 0, efd(20));
        cpr_disown_fd(dev, "vec", 1, cpr_find_fd("/objects/dev/vec", 1));
        cpr_own_fd(dev, "vec", 3, efd(23));
    } else {
        cpr_reown_fd(rigid, "fd", 0, efd(60));
    }
    if (cpr_late_pending() != (change == CHANGE_ALL ? 3 : 1)) {
        _exit(4);
    }
    if (!migrate_set_parameter_str("mode", "cpr-transfer", &err)) {
        _exit(5);
    }
    f = mig_stream_new_fd(main_fd, true, true, "main");
    if (!savevm_write_header(f, &err) || !savevm_setup(f, &opts, &err) ||
        !savevm_complete(f, &err) || !mig_stream_close(f, &err)) {
        _exit(6);
    }
    _exit(0);
}

/* Read FD until its peer closes it. */
static void drain(int fd)
{
    char buf[4096];
    ssize_t r;

    do {
        r = read(fd, buf, sizeof(buf));
    } while (r > 0 || (r < 0 && errno == EINTR));
}

/*
 * Run the old process with CHANGE; this one takes the state, creates
 * the owners (taking vectors 0 and 1, and the rigid fd) and loads the
 * switchover. Returns whether the load succeeded (error in ERRP).
 */
static bool update(Change change, TestOwner **owner, GError **errp)
{
    g_autoptr(GError) err = NULL;
    int cpr[2], mainp[2], status;
    Object *dev, *rigid;
    MigStream *f;
    pid_t pid;
    bool ok;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cpr), ==,
                    0);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mainp),
                    ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        close(cpr[1]);
        close(mainp[1]);
        old_process(cpr[0], mainp[0], change);
    }
    close(cpr[0]);
    close(mainp[0]);

    f = mig_stream_new_fd(dup(cpr[1]), false, true, "cpr");
    g_assert_true(cpr_state_load(f, false, &err));
    g_assert_no_error(err);
    mig_stream_close_noerr(f);
    dev = new_obj(OWNER_TYPE, "dev");
    rigid = new_obj(RIGID_TYPE, "rigid");
    *owner = (TestOwner *)dev;
    for (int i = 0; i < NVEC; i++) {
        (*owner)->vec[i] = i < 2 ? cpr_take_fd(dev, "vec", i) : -1;
    }
    g_assert_cmpuint(efd_value((*owner)->vec[0]), ==, 10);
    g_assert_cmpint(cpr_take_fd(rigid, "fd", 0), >=, 0);
    g_assert_cmpint(write(cpr[1], "g", 1), ==, 1);

    f = mig_stream_new_fd(dup(mainp[1]), false, true, "main");
    ok = savevm_load(f, errp);
    mig_stream_close_noerr(f);
    /*
     * A load that fails stops reading early; take the rest until the old
     * process closes, so that its writes never meet a closed socket
     * (its exit status would then depend on timing).
     */
    drain(mainp[1]);
    close(mainp[1]);
    close(cpr[1]);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    return ok;
}

/* Close what the owners hold, forget them: back to an empty process. */
static void done(TestOwner *o)
{
    int rigid = cpr_find_fd("/objects/rigid/fd", 0);

    for (int i = 0; i < NVEC; i++) {
        if (o->vec[i] >= 0) {
            close(o->vec[i]);
        }
    }
    if (rigid >= 0) {
        close(rigid);
    }
    cpr_incoming_done();
    object_unparent(object_resolve_path("/objects/dev", NULL));
    object_unparent(object_resolve_path("/objects/rigid", NULL));
    cpr_fd_clear(true);
    g_assert_cmpuint(cpr_fd_count(), ==, 0);
}

static void test_swap(void)
{
    g_autoptr(GError) err = NULL;
    unsigned int before = open_fds();
    TestOwner *o;

    g_assert_true(update(CHANGE_ALL, &o, &err));
    g_assert_no_error(err);
    /* Vector 0 swapped, 1 gone, 3 new; 2 (never taken) untouched. */
    g_assert_cmpuint(o->swaps, ==, 3);
    g_assert_cmpuint(efd_value(o->vec[0]), ==, 20);
    g_assert_cmpint(o->vec[1], ==, -1);
    g_assert_cmpint(cpr_peek_fd(&o->parent_obj, "vec", 1), ==, -1);
    o->vec[2] = cpr_take_fd(&o->parent_obj, "vec", 2);
    g_assert_cmpuint(efd_value(o->vec[2]), ==, 12);
    g_assert_cmpuint(efd_value(o->vec[3]), ==, 23);
    /* Only vectors 0, 2, 3 and the rigid fd are open: no stale copy. */
    g_assert_cmpuint(open_fds(), ==, before + 4);
    done(o);
    g_assert_cmpuint(open_fds(), ==, before);
}

static void test_rigid(void)
{
    g_autoptr(GError) err = NULL;
    unsigned int before = open_fds();
    TestOwner *o;

    g_assert_false(update(CHANGE_RIGID, &o, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "'/objects/rigid/fd' 0 changed "
                                          "after the CPR state was sent, "
                                          "and its owner cannot take a new "
                                          "one"));
    done(o);
    g_assert_cmpuint(open_fds(), ==, before);
}

static const TypeInfo owner_info = {
    .name = OWNER_TYPE,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(TestOwner),
};

static const TypeInfo rigid_info = {
    .name = RIGID_TYPE,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(Object),
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    type_register(&owner_info);
    type_register(&rigid_info);
    cpr_add_late_handler(OWNER_TYPE, owner_late);
    g_test_add_func("/migration/cpr/late/swap", test_swap);
    g_test_add_func("/migration/cpr/late/rigid", test_rigid);
    return g_test_run();
}
