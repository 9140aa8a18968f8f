/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * memory-backend-ram, memory-backend-memfd and memory-backend-file: each
 * allocates one RAM block when realized. Shared backends are what live
 * update preserves: the block's fd outlives the process that mapped it.
 */
#include "util/osdep.h"

#include <sys/mman.h>
#include <sys/stat.h>

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
                   "size 0", s->parent_obj.id);
        return false;
    }
    return true;
}

static bool hostmem_ram_realize(Object *obj, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;

    if (!hostmem_check_size(s, errp)) {
        return false;
    }
    s->ram = ram_block_new_from_fd(obj->id, s->size, -1, 0,
                                   s->share ? RAM_SHARED : 0, s->prealloc,
                                   errp);
    return s->ram != NULL;
}

static bool hostmem_memfd_realize(Object *obj, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;
    int fd;

    if (!hostmem_check_size(s, errp)) {
        return false;
    }
    if (s->share) {
        s->ram = ram_block_new_memfd(obj->id, s->size, s->prealloc, errp);
        return s->ram != NULL;
    }
    /* share=off: a private mapping of a memfd, as QEMU allows. */
    fd = memfd_create(obj->id, MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, s->size) < 0) {
        error_setg_errno(errp, errno, "memory backend '%s': cannot create "
                         "memfd", obj->id);
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    s->ram = ram_block_new_from_fd(obj->id, s->size, fd, 0, RAM_MEMFD,
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
                         "backing store %s", s->parent_obj.id, s->mem_path);
        return -1;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size < s->size && ftruncate(fd, s->size) < 0) {
        error_setg_errno(errp, errno, "memory backend '%s': can't grow %s "
                         "to %" PRIu64 " bytes", s->parent_obj.id,
                         s->mem_path, s->size);
        close(fd);
        return -1;
    }
    return fd;
}

static bool hostmem_file_realize(Object *obj, GError **errp)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;
    int fd;

    if (!hostmem_check_size(s, errp)) {
        return false;
    }
    fd = hostmem_file_open(s, errp);
    if (fd < 0) {
        return false;
    }
    s->ram = ram_block_new_from_fd(obj->id, s->size, fd, 0,
                                   RAM_FILE | (s->share ? RAM_SHARED : 0),
                                   s->prealloc, errp);
    if (!s->ram) {
        close(fd);
    }
    return s->ram != NULL;
}

static void hostmem_unrealize(Object *obj)
{
    HostMemoryBackend *s = (HostMemoryBackend *)obj;

    g_clear_pointer(&s->ram, ram_block_free);
    g_clear_pointer(&s->user, g_free);
}

RAMBlock *host_memory_backend_get_ram(Object *obj)
{
    if (!obj || !type_is_a(obj->type, TYPE_MEMORY_BACKEND)) {
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
                   "(already used by %s)", obj->id, s->user);
        return false;
    }
    s->user = g_strdup(user);
    return true;
}

static const TypeInfo hostmem_types[] = {
    {
        .name = "memory-backend-ram",
        .parent = TYPE_MEMORY_BACKEND,
        .user_creatable = true,
        .instance_size = sizeof(HostMemoryBackend),
        .props = hostmem_props,
        .realize = hostmem_ram_realize,
        .unrealize = hostmem_unrealize,
    },
    {
        .name = "memory-backend-memfd",
        .parent = "memory-backend-ram",
        .user_creatable = true,
        .instance_size = sizeof(HostMemoryBackend),
        .props = hostmem_memfd_props,
        .realize = hostmem_memfd_realize,
    },
    {
        .name = "memory-backend-file",
        .parent = "memory-backend-ram",
        .user_creatable = true,
        .instance_size = sizeof(HostMemoryBackend),
        .props = hostmem_file_props,
        .realize = hostmem_file_realize,
    },
};

static void hostmem_register_types(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(hostmem_types); i++) {
        type_register(&hostmem_types[i]);
    }
}
type_init(hostmem_register_types)
