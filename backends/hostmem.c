/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memory-backend-ram, memory-backend-memfd and memory-backend-file: each
 * allocates one RAM block when realized. Shared backends are what live
 * update preserves: the block's fd is registered for CPR ("ram" role) and
 * a new process maps the very same fd instead of allocating memory.
 */
#include "util/osdep.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include "migration/cpr.h"
#include "system/hostmem.h"

typedef struct HostMemoryBackend {
    Object parent_obj;

    uint64_t size;
    bool share;
    bool prealloc;
    bool merge;
    bool dump;
    char *mem_path;

    RAMBlock *ram;
    char *user;
} HostMemoryBackend;

static const Property hostmem_props[] = {
    DEFINE_PROP("size", PROP_SIZE, HostMemoryBackend, size, .required = true),
    DEFINE_PROP("share", PROP_BOOL, HostMemoryBackend, share),
    DEFINE_PROP("prealloc", PROP_BOOL, HostMemoryBackend, prealloc),
    DEFINE_PROP("merge", PROP_BOOL, HostMemoryBackend, merge,
                .defval = "on"),
    DEFINE_PROP("dump", PROP_BOOL, HostMemoryBackend, dump, .defval = "on"),
    { NULL }
};

static const Property hostmem_memfd_props[] = {
    DEFINE_PROP("share", PROP_BOOL, HostMemoryBackend, share, .defval = "on"),
    { NULL }
};

static const Property hostmem_file_props[] = {
    DEFINE_PROP("mem-path", PROP_STRING, HostMemoryBackend, mem_path,
                .required = true),
    { NULL }
};

static bool hostmem_check_size(HostMemoryBackend *s, GError **errp)
{
    if (!s->size) {
        error_setg(errp, "memory backend '%s': can't create backend with "
                   "size 0", object_get_id(&s->parent_obj));
        return false;
    }
    return true;
}

/*
 * Live update, new process: map the old process's fd for this backend, if
 * it sent one. *ADOPTED tells whether it did. The guest may still be
 * running on this memory in the old process, so nothing here writes to
 * it: no ftruncate (the size is already right), no prealloc (touching
 * pages from here races with the guest), and for files no open(O_CREAT)
 * of mem-path.
 */
static bool hostmem_cpr_adopt(HostMemoryBackend *s, unsigned int flags,
                              bool *adopted, GError **errp)
{
    Object *obj = &s->parent_obj;
    struct stat st;
    int fd;

    *adopted = false;
    if (!cpr_is_incoming()) {
        return true;
    }
    fd = cpr_take_fd(obj, "ram", 0);
    if (fd < 0) {
        return true;
    }
    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "memory backend '%s': cannot stat the "
                         "preserved memory", object_get_id(obj));
        return false;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < s->size) {
        error_setg(errp, "memory backend '%s': the preserved memory has %"
                   PRIu64 " bytes, size is %" PRIu64, object_get_id(obj),
                   (uint64_t)st.st_size, s->size);
        return false;
    }
    s->ram = ram_block_new_from_fd(object_get_id(obj), s->size, fd, 0, flags, false,
                                   errp);
    *adopted = true;
    return s->ram != NULL;
}

/* Register the block's fd so that a live update hands it over. */
static void hostmem_cpr_save(HostMemoryBackend *s)
{
    if (s->ram && s->ram->fd >= 0 && (s->ram->flags & RAM_SHARED)) {
        cpr_own_fd(&s->parent_obj, "ram", 0, s->ram->fd);
    }
}

static bool hostmem_ram_realize(Object *obj, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;

    if (!hostmem_check_size(s, errp)) {
        return false;
    }
    /* Anonymous memory has no fd: nothing to preserve (see cpr_check). */
    s->ram = ram_block_new_from_fd(object_get_id(obj), s->size, -1, 0,
                                   s->share ? RAM_SHARED : 0, s->prealloc,
                                   errp);
    return s->ram != NULL;
}

static bool hostmem_memfd_realize(Object *obj, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;
    bool adopted;
    int fd;

    if (!hostmem_check_size(s, errp)) {
        return false;
    }
    if (s->share) {
        if (!hostmem_cpr_adopt(s, RAM_SHARED | RAM_MEMFD, &adopted, errp)) {
            return false;
        }
        if (!adopted) {
            s->ram = ram_block_new_memfd(object_get_id(obj), s->size, s->prealloc,
                                         errp);
            hostmem_cpr_save(s);
        }
        return s->ram != NULL;
    }
    /* share=off: a private mapping of a memfd, as QEMU allows. */
    fd = memfd_create(object_get_id(obj), MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, s->size) < 0) {
        error_setg_errno(errp, errno, "memory backend '%s': cannot create "
                         "memfd", object_get_id(obj));
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    s->ram = ram_block_new_from_fd(object_get_id(obj), s->size, fd, 0, RAM_MEMFD,
                                   s->prealloc, errp);
    if (!s->ram) {
        close(fd);
    }
    return s->ram != NULL;
}

static int hostmem_file_open(HostMemoryBackend *s, GError **errp)
{
    struct stat st;
    int fd;

    if (stat(s->mem_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* A directory (hugetlbfs mount): an unnamed file inside it. */
        fd = open(s->mem_path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    } else {
        fd = open(s->mem_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        error_setg_errno(errp, errno, "memory backend '%s': can't open "
                         "backing store %s", object_get_id(&s->parent_obj), s->mem_path);
        return -1;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size < s->size && ftruncate(fd, s->size) < 0) {
        error_setg_errno(errp, errno, "memory backend '%s': can't grow %s "
                         "to %" PRIu64 " bytes", object_get_id(&s->parent_obj),
                         s->mem_path, s->size);
        close(fd);
        return -1;
    }
    return fd;
}

static bool hostmem_file_realize(Object *obj, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;
    unsigned int flags = RAM_FILE | (s->share ? RAM_SHARED : 0);
    bool adopted = false;
    int fd;

    if (!hostmem_check_size(s, errp)) {
        return false;
    }
    /* share=off maps the file privately: there is nothing to hand over. */
    if (s->share && !hostmem_cpr_adopt(s, flags, &adopted, errp)) {
        return false;
    }
    if (adopted) {
        return true;
    }
    fd = hostmem_file_open(s, errp);
    if (fd < 0) {
        return false;
    }
    s->ram = ram_block_new_from_fd(object_get_id(obj), s->size, fd, 0, flags,
                                   s->prealloc, errp);
    if (!s->ram) {
        close(fd);
    }
    hostmem_cpr_save(s);
    return s->ram != NULL;
}

static void hostmem_unrealize(Object *obj)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;

    /* The block closes the fd: forget it first (no-op if never owned). */
    if (s->ram) {
        cpr_disown_fd(obj, "ram", 0, s->ram->fd);
    }
    g_clear_pointer(&s->ram, ram_block_free);
    g_clear_pointer(&s->user, g_free);
}

/*
 * Live update (cpr-transfer, cpr-exec) keeps guest RAM in place, which
 * needs memory that outlives this process through an fd the new process
 * maps: share=on with a memfd or a file. Anything else would lose the
 * guest's memory.
 */
static bool hostmem_cpr_check(Object *obj, unsigned int mode, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;

    if (!(MIG_MODE_BIT(mode) & CPR_MODES_PRESERVING)) {
        return true;
    }
    if (!s->share) {
        error_setg(errp, "memory backend '%s' is not shared; %s needs "
                   "share=on", object_get_id(obj), migrate_mode_name(mode));
        return false;
    }
    if (!s->ram || s->ram->fd < 0) {
        error_setg(errp, "memory backend '%s' is shared anonymous memory "
                   "without a file descriptor; %s needs "
                   "memory-backend-memfd or memory-backend-file with "
                   "share=on", object_get_id(obj), migrate_mode_name(mode));
        return false;
    }
    return true;
}

RAMBlock *host_memory_backend_get_ram(Object *obj)
{
    if (!object_dynamic_cast(obj, TYPE_MEMORY_BACKEND)) {
        return NULL;
    }
    return ((HostMemoryBackend *)obj)->ram;
}

uint64_t host_memory_backend_get_size(Object *obj)
{
    RAMBlock *ram = host_memory_backend_get_ram(obj);

    return ram ? ram->size : 0;
}

bool host_memory_backend_claim(Object *obj, const char *user, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;

    if (s->user) {
        error_setg(errp, "memory backend '%s' can't be used multiple times "
                   "(already used by %s)", object_get_id(obj), s->user);
        return false;
    }
    s->user = g_strdup(user);
    return true;
}

/* Every mode; cpr_check refuses what has no fd for the new process. */
#define HOSTMEM_CPR_MODES \
    (MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING)

static void hostmem_class_init(ObjectClass *oc, const void *data)
{
    oc->cpr_modes = HOSTMEM_CPR_MODES;
    oc->cpr_check = hostmem_cpr_check;
    oc->uncomplete = hostmem_unrealize;
}

static void hostmem_ram_class_init(ObjectClass *oc, const void *data)
{
    object_class_add_props(oc, hostmem_props);
    oc->complete = hostmem_ram_realize;
    oc->desc = "guest RAM in private or shared anonymous memory";
}

static void hostmem_memfd_class_init(ObjectClass *oc, const void *data)
{
    object_class_add_props(oc, hostmem_memfd_props);
    oc->complete = hostmem_memfd_realize;
    oc->desc = "guest RAM in a memfd (shared: preserved by live update)";
}

static void hostmem_file_class_init(ObjectClass *oc, const void *data)
{
    object_class_add_props(oc, hostmem_file_props);
    oc->complete = hostmem_file_realize;
    oc->desc = "guest RAM in a file (mem-path)";
}

static const char *const hostmem_interfaces[] = { TYPE_USER_CREATABLE, NULL };

static const TypeInfo hostmem_types[] = {
    {
        .name = TYPE_MEMORY_BACKEND,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(HostMemoryBackend),
        .class_init = hostmem_class_init,
        .interfaces = hostmem_interfaces,
    },
    {
        .name = "memory-backend-ram",
        .parent = TYPE_MEMORY_BACKEND,
        .class_init = hostmem_ram_class_init,
    },
    {
        .name = "memory-backend-memfd",
        .parent = "memory-backend-ram",
        .class_init = hostmem_memfd_class_init,
    },
    {
        .name = "memory-backend-file",
        .parent = "memory-backend-ram",
        .class_init = hostmem_file_class_init,
    },
};

static void hostmem_register_types(void)
{
    type_register_static_array(hostmem_types, ARRAY_SIZE(hostmem_types));
}
type_init(hostmem_register_types)
