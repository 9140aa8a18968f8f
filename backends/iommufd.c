/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * -object iommufd (QEMU's iommufd backend): the /dev/iommu file VFIO
 * devices bind to, opened here or passed (fd=), preserved by live update
 * ("iommufd" fd of the object), and the traced wrappers of its ioctls.
 * What the IOAS holds and who attaches to it is hw/vfio/iommufd.c's.
 */
#include "util/osdep.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hw/core/object.h"
#include "migration/cpr.h"
#include "monitor/fds.h"
#include "standard-headers/linux/iommufd.h"
#include "system/iommufd.h"
#include "trace.h"
#include "util/error-report.h"

typedef struct IOMMUFDBackend {
    Object parent_obj;

    char *fd_param;

    int fd;
    /*
     * Live update. Old process: HANDED_OVER from the hand-over to the end
     * of the update (a rollback takes the accounting back). New process:
     * INHERITED, the fd came from the old one (COMMIT moves the
     * accounting here).
     */
    bool handed_over;
    bool inherited;
    /*
     * IOAS of this fd in use here (iommufd_backend_ioas_get). None: no
     * page is pinned through the fd, so there is no accounting to move.
     */
    unsigned int ioas_users;
} IOMMUFDBackend;

static IOMMUFDBackend *iommufd_backend(Object *obj)
{
    return (IOMMUFDBackend *)object_dynamic_cast_assert(
        obj, TYPE_IOMMUFD_BACKEND, __FILE__, __LINE__);
}

static int iommufd_ioctl(int fd, unsigned long req, void *arg, const char *name)
{
    int ret = ioctl(fd, req, arg);

    if (ret < 0) {
        ret = -errno;
    }
    trace_iommufd_ioctl(fd, name, ret);
    return ret;
}
#define IOMMUFD_IOCTL(fd, req, arg) iommufd_ioctl((fd), (req), (arg), #req)

int iommufd_backend_fd(Object *be)
{
    return iommufd_backend(be)->fd;
}

int iommufd_backend_alloc_ioas(Object *be, uint32_t *ioas_id)
{
    struct iommu_ioas_alloc a = {.size = sizeof(a)};
    int ret = IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_IOAS_ALLOC, &a);

    if (ret == 0) {
        *ioas_id = a.out_ioas_id;
    }
    return ret;
}

int iommufd_backend_free_id(Object *be, uint32_t id)
{
    struct iommu_destroy d = {.size = sizeof(d), .id = id};

    return IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_DESTROY, &d);
}

static uint32_t iommufd_map_flags(bool readonly)
{
    return IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
           (readonly ? 0 : IOMMU_IOAS_MAP_WRITEABLE);
}

int iommufd_backend_map_dma(Object *be, uint32_t ioas_id, uint64_t iova,
                            uint64_t size, uint64_t vaddr, bool readonly)
{
    struct iommu_ioas_map m = {
        .size = sizeof(m),
        .flags = iommufd_map_flags(readonly),
        .ioas_id = ioas_id,
        .user_va = vaddr,
        .length = size,
        .iova = iova,
    };
    int fd = iommufd_backend_fd(be);
    int ret = IOMMUFD_IOCTL(fd, IOMMU_IOAS_MAP, &m);

    trace_iommufd_backend_map(fd, ioas_id, iova, size, -1, vaddr, ret);
    return ret;
}

int iommufd_backend_map_file_dma(Object *be, uint32_t ioas_id, uint64_t iova,
                                 uint64_t size, int file_fd, uint64_t start,
                                 bool readonly)
{
    struct iommu_ioas_map_file m = {
        .size = sizeof(m),
        .flags = iommufd_map_flags(readonly),
        .ioas_id = ioas_id,
        .fd = file_fd,
        .start = start,
        .length = size,
        .iova = iova,
    };
    int fd = iommufd_backend_fd(be);
    int ret = IOMMUFD_IOCTL(fd, IOMMU_IOAS_MAP_FILE, &m);

    trace_iommufd_backend_map(fd, ioas_id, iova, size, file_fd, start, ret);
    return ret;
}

int iommufd_backend_unmap_dma(Object *be, uint32_t ioas_id, uint64_t iova,
                              uint64_t size)
{
    struct iommu_ioas_unmap u = {
        .size = sizeof(u),
        .ioas_id = ioas_id,
        .iova = iova,
        .length = size,
    };

    return IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_IOAS_UNMAP, &u);
}

int iommufd_backend_get_iova_ranges(Object *be, uint32_t ioas_id,
                                    GArray *ranges, uint64_t *align)
{
    g_autofree struct iommu_iova_range *buf = NULL;
    struct iommu_ioas_iova_ranges r = {.size = sizeof(r), .ioas_id = ioas_id};
    int ret;

    /* Ask for the count first; the kernel answers EMSGSIZE with it. */
    for (int tries = 0; tries < 4; tries++) {
        ret = IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_IOAS_IOVA_RANGES, &r);
        if (ret != -EMSGSIZE) {
            break;
        }
        g_free(buf);
        buf = g_new0(struct iommu_iova_range, r.num_iovas);
        r.allowed_iovas = (uintptr_t)buf;
    }
    if (ret < 0) {
        return ret;
    }
    for (uint32_t i = 0; buf && i < r.num_iovas; i++) {
        g_array_append_val(ranges, buf[i].start);
        g_array_append_val(ranges, buf[i].last);
    }
    *align = r.out_iova_alignment;
    return 0;
}

int iommufd_backend_set_dirty_tracking(Object *be, uint32_t hwpt_id, bool on)
{
    struct iommu_hwpt_set_dirty_tracking d = {
        .size = sizeof(d),
        .flags = on ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
        .hwpt_id = hwpt_id,
    };

    return IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_HWPT_SET_DIRTY_TRACKING,
                         &d);
}

int iommufd_backend_get_dirty_bitmap(Object *be, uint32_t hwpt_id,
                                     uint64_t iova, uint64_t size,
                                     uint64_t pgsize, uint64_t *bitmap)
{
    struct iommu_hwpt_get_dirty_bitmap g = {
        .size = sizeof(g),
        .hwpt_id = hwpt_id,
        .iova = iova,
        .length = size,
        .page_size = pgsize,
        .data = (uintptr_t)bitmap,
    };

    return IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_HWPT_GET_DIRTY_BITMAP,
                         &g);
}

int iommufd_backend_alloc_hwpt(Object *be, uint32_t dev_id, uint32_t pt_id,
                               uint32_t flags, uint32_t *hwpt_id)
{
    struct iommu_hwpt_alloc h = {
        .size = sizeof(h),
        .flags = flags,
        .dev_id = dev_id,
        .pt_id = pt_id,
        .data_type = IOMMU_HWPT_DATA_NONE,
    };
    int ret = IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_HWPT_ALLOC, &h);

    if (ret == 0) {
        *hwpt_id = h.out_hwpt_id;
    }
    return ret;
}

int iommufd_backend_get_hw_info(Object *be, uint32_t dev_id, uint32_t *type,
                                uint64_t *caps)
{
    struct iommu_hw_info hi = {.size = sizeof(hi), .dev_id = dev_id};
    int ret = IOMMUFD_IOCTL(iommufd_backend_fd(be), IOMMU_GET_HW_INFO, &hi);

    if (ret == 0) {
        *type = hi.out_data_type;
        *caps = hi.out_capabilities;
    }
    return ret;
}

void iommufd_backend_ioas_get(Object *be)
{
    iommufd_backend(be)->ioas_users++;
}

void iommufd_backend_ioas_put(Object *be)
{
    IOMMUFDBackend *s = iommufd_backend(be);

    g_assert(s->ioas_users > 0);
    s->ioas_users--;
}

static int iommufd_change_process(IOMMUFDBackend *s, const char *why)
{
    struct iommu_ioas_change_process cp = {.size = sizeof(cp)};
    int ret = IOMMUFD_IOCTL(s->fd, IOMMU_IOAS_CHANGE_PROCESS, &cp);

    trace_iommufd_backend_change_process(object_get_id(&s->parent_obj), why,
                                         ret);
    return ret;
}

/*
 * New process, COMMIT: the old one has stopped the guest, sent GO, and
 * touches the IOAS no more; once this process commits it cannot take the
 * guest back, so its pinned pages are charged here from now on. Not
 * earlier (at the load): a channel that breaks before GO leaves the guest
 * with the old process, which must then keep its accounting, and a new
 * process that moved it at the load could do so after the old one had
 * already taken it back. A failure (ENOMEM under this process's
 * RLIMIT_MEMLOCK) refuses the guest, which stays with the old process.
 *
 * Old process, ROLLBACK: take the accounting back, for a new process that
 * moved it anyway (an older baton moved it at the load; a no-op
 * otherwise), since that process is gone or going and its charge with it.
 *
 * Neither while no IOAS is in use (an iommufd no device attached to):
 * nothing is mapped through the fd, so the kernel would move nothing,
 * and the commit's ioctl would only lengthen the pause.
 */
static bool iommufd_backend_cpr_notify(CprEvent event, void *opaque,
                                       GError **errp)
{
    IOMMUFDBackend *s = opaque;
    int ret;

    switch (event) {
    case CPR_EVENT_COMMIT:
        if (!s->inherited || !s->ioas_users) {
            s->inherited = false;
            break;
        }
        ret = iommufd_change_process(s, "take over");
        if (ret < 0) {
            error_setg(errp, "iommufd '%s': IOMMU_IOAS_CHANGE_PROCESS failed: %s",
                       object_get_id(&s->parent_obj), g_strerror(-ret));
            return false;
        }
        s->inherited = false;
        break;
    case CPR_EVENT_HANDOVER:
        s->handed_over = true;
        break;
    case CPR_EVENT_ROLLBACK:
        if (s->handed_over && s->ioas_users) {
            ret = iommufd_change_process(s, "roll back");
            if (ret < 0) {
                error_report("iommufd '%s': taking the pinned memory's "
                             "accounting back (IOMMU_IOAS_CHANGE_PROCESS) "
                             "failed: %s",
                             object_get_id(&s->parent_obj), g_strerror(-ret));
            }
        }
        s->handed_over = false;
        break;
    default:
        break;
    }
    return true;
}

/*
 * The fd: inherited in a live update (fd= is not looked at again: the
 * name or number meant the old process's fd), else the passed fd= (a
 * number or a getfd name), else /dev/iommu opened here.
 */
static bool iommufd_backend_complete(Object *obj, GError **errp)
{
    IOMMUFDBackend *s = iommufd_backend(obj);
    const char *how = "opened";

    s->fd = cpr_is_incoming() ? cpr_take_fd(obj, "iommufd", 0) : -1;
    if (s->fd >= 0) {
        how = "inherited";
        s->inherited = true;
    } else if (s->fd_param) {
        s->fd = monitor_fd_param(s->fd_param, errp);
        if (s->fd < 0) {
            g_prefix_error(errp, "iommufd '%s': ", object_get_id(obj));
            return false;
        }
        how = "passed";
    } else {
        s->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
        if (s->fd < 0) {
            error_setg_errno(errp, errno, "/dev/iommu opening failed");
            return false;
        }
    }
    trace_iommufd_backend_connect(object_get_id(obj), s->fd, how);
    cpr_own_fd(obj, "iommufd", 0, s->fd);
    cpr_add_notifier(iommufd_backend_cpr_notify, s, CPR_PHASE_BACKEND);
    return true;
}

static void iommufd_backend_uncomplete(Object *obj)
{
    IOMMUFDBackend *s = iommufd_backend(obj);

    cpr_remove_notifier(iommufd_backend_cpr_notify, s);
    if (s->fd >= 0) {
        cpr_disown_fd(obj, "iommufd", 0, s->fd);
        close(s->fd);
        s->fd = -1;
    }
}

static const Property iommufd_backend_props[] = {
    DEFINE_PROP("fd", PROP_STRING, IOMMUFDBackend, fd_param,
                .desc = "an open /dev/iommu: fd number or getfd name"),
    {NULL},
};

static void iommufd_backend_instance_init(Object *obj)
{
    iommufd_backend(obj)->fd = -1;
}

static void iommufd_backend_class_init(ObjectClass *oc, const void *data)
{
    object_class_add_props(oc, iommufd_backend_props);
    oc->complete = iommufd_backend_complete;
    oc->uncomplete = iommufd_backend_uncomplete;
    /* The fd is preserved; the state is the devices' (hw/vfio). */
    oc->cpr_modes = ~0u;
    oc->desc = "iommufd (/dev/iommu) for VFIO devices (vfio-pci,iommufd=ID)";
}

static const char *const iommufd_backend_interfaces[] = {TYPE_USER_CREATABLE,
                                                         NULL};

static const TypeInfo iommufd_backend_type = {
    .name = TYPE_IOMMUFD_BACKEND,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(IOMMUFDBackend),
    .instance_init = iommufd_backend_instance_init,
    .class_init = iommufd_backend_class_init,
    .interfaces = iommufd_backend_interfaces,
};

static void iommufd_backend_register_types(void)
{
    type_register(&iommufd_backend_type);
    object_register_link_container(TYPE_IOMMUFD_BACKEND, "/objects");
}
type_init(iommufd_backend_register_types)
