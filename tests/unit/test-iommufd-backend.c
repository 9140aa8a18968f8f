/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -object iommufd without a kernel iommufd: where its fd comes from
 * (fd= as a number, refused when invalid; /dev/iommu), that the fd is
 * registered for live update while the object lives and neither stays
 * registered nor open after it is gone.
 */
#include "util/osdep.h"

#include <fcntl.h>
#include <unistd.h>

#include "hw/core/object.h"
#include "migration/cpr.h"
#include "system/iommufd.h"

static Object *mk_iommufd(const char *str, GError **errp)
{
    g_autoptr(OptList) opts = opts_parse(str, NULL, errp);

    g_assert_nonnull(opts);
    return user_creatable_add(TYPE_IOMMUFD_BACKEND, opts, NULL, errp);
}

static void test_fd_passed(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *str = NULL;
    unsigned int before = cpr_fd_count();
    Object *obj;
    int p[2];

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    str = g_strdup_printf("id=io0,fd=%d", p[0]);
    obj = mk_iommufd(str, &err);
    g_assert_no_error(err);
    g_assert_nonnull(obj);
    g_assert_cmpint(iommufd_backend_fd(obj), ==, p[0]);
    g_assert_cmpuint(cpr_fd_count(), ==, before + 1);
    object_unparent(obj);
    g_assert_cmpuint(cpr_fd_count(), ==, before);
    /* The object owned the passed fd and closed it. */
    g_assert_cmpint(fcntl(p[0], F_GETFD), ==, -1);
    close(p[1]);
}

static void test_bad_fd(void)
{
    g_autoptr(GError) err = NULL;
    unsigned int before = cpr_fd_count();

    g_assert_null(mk_iommufd("id=io1,fd=999999", &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==,
                    "iommufd 'io1': Invalid file descriptor number '999999'");
    g_assert_cmpuint(cpr_fd_count(), ==, before);
    g_assert_null(object_find_user("io1"));
}

static void test_no_dev_iommu(void)
{
    g_autoptr(GError) err = NULL;

    if (access("/dev/iommu", F_OK) == 0) {
        g_test_skip("this host has /dev/iommu");
        return;
    }
    g_assert_null(mk_iommufd("id=io2", &err));
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message, "/dev/iommu opening failed"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/backends/iommufd/fd-passed", test_fd_passed);
    g_test_add_func("/backends/iommufd/bad-fd", test_bad_fd);
    g_test_add_func("/backends/iommufd/no-dev-iommu", test_no_dev_iommu);
    return g_test_run();
}
