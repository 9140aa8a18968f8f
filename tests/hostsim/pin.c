/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pinned pages and their accounting, shared by the container and iommufd.
 * "Pinning" a range means the daemon maps the same pages MAP_SHARED
 * itself: from a caller's vaddr through /proc/PID/maps and
 * /proc/PID/map_files (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE), or
 * from a file descriptor (IOMMU_IOAS_MAP_FILE). Device DMA only ever uses
 * these mappings. Accounting follows type1: bytes charged to the process
 * that pinned them, checked against its RLIMIT_MEMLOCK unless it has
 * CAP_IPC_LOCK. A vaddr range that is a device region's mmap is marked
 * mmio: the kernel sees MMIO pfns there, not pages (see HsPin).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostsim.h"

#define HS_CAP_IPC_LOCK 14

static GHashTable *hs_acct; /* pid -> bytes charged */

/*
 * The one file range behind [vaddr, vaddr + size) of pid: every part
 * mapped shared from the same file, contiguous in it (writable if write).
 * On success, *vma_start and *vma_end are the first mapping's bounds (its
 * /proc/PID/map_files name) and *file_off the offset of vaddr; else
 * false, with why saying what is wrong.
 */
static bool hs_find_file_range(pid_t pid, uint64_t vaddr, uint64_t size,
                               bool write, uint64_t *vma_start,
                               uint64_t *vma_end, uint64_t *file_off,
                               const char **why)
{
    g_autofree char *maps_path = g_strdup_printf("/proc/%d/maps", (int)pid);
    g_autofree char *maps = NULL;
    g_auto(GStrv) lines = NULL;
    uint64_t cover = vaddr, end = vaddr + size;
    unsigned first_maj = 0, first_min = 0;
    unsigned long first_ino = 0;
    bool have_first = false;
    char **l;

    *why = "not mapped";
    if (!g_file_get_contents(maps_path, &maps, NULL, NULL)) {
        *why = "cannot read /proc/PID/maps";
        return false;
    }
    lines = g_strsplit(maps, "\n", -1);
    for (l = lines; *l && cover < end; l++) {
        unsigned long long s, e, off;
        unsigned maj, min;
        unsigned long ino;
        char perms[5];

        if (sscanf(*l, "%llx-%llx %4s %llx %x:%x %lu", &s, &e, perms, &off,
                   &maj, &min, &ino) != 7 ||
            e <= cover) {
            continue;
        }
        if (s > cover) {
            *why = "not mapped";
            return false;
        }
        if (perms[3] != 's' || ino == 0) {
            *why = "not a shared file mapping (anonymous or private memory "
                   "cannot be shared with the simulated device)";
            return false;
        }
        if (write && perms[1] != 'w') {
            *why = "read-only";
            return false;
        }
        if (!have_first) {
            have_first = true;
            *vma_start = s;
            *vma_end = e;
            first_maj = maj;
            first_min = min;
            first_ino = ino;
            *file_off = off + (cover - s);
        } else if (maj != first_maj || min != first_min || ino != first_ino ||
                   off + (cover - s) != *file_off + (cover - vaddr)) {
            *why = "backed by more than one file range";
            return false;
        }
        cover = e;
    }
    return cover >= end;
}

int hs_pin_vaddr(pid_t pid, uint64_t vaddr, uint64_t size, bool write,
                 HsPin *pin)
{
    g_autofree char *mf = NULL;
    uint64_t vma_start = 0, vma_end = 0, file_off = 0;
    const char *why;
    struct stat st;
    void *host;
    int fd;

    if (!hs_find_file_range(pid, vaddr, size, write, &vma_start, &vma_end,
                            &file_off, &why)) {
        hs_log("pid %d: vaddr 0x%" G_GINT64_MODIFIER
               "x size 0x%" G_GINT64_MODIFIER "x: %s; EFAULT",
               (int)pid, vaddr, size, why);
        return -EFAULT;
    }
    mf = g_strdup_printf("/proc/%d/map_files/%" G_GINT64_MODIFIER
                         "x-%" G_GINT64_MODIFIER "x",
                         (int)pid, vma_start, vma_end);
    fd = open(mf, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        hs_log("pid %d: cannot open %s: %s (hostsimd needs "
               "CAP_SYS_ADMIN); EFAULT",
               (int)pid, mf, g_strerror(errno));
        return -EFAULT;
    }
    host = mmap(NULL, size, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED,
                fd, file_off);
    if (host == MAP_FAILED || fstat(fd, &st) < 0) {
        hs_log("pid %d: cannot map %s: %s; EFAULT", (int)pid, mf,
               g_strerror(errno));
        close(fd);
        return -EFAULT;
    }
    close(fd);
    pin->host = host;
    pin->size = size;
    pin->dev = st.st_dev;
    pin->ino = st.st_ino;
    pin->file_off = file_off;
    pin->mmio = hs_device_region_file(st.st_dev, st.st_ino);
    return 0;
}

int hs_pin_file(int fd, uint64_t off, uint64_t size, bool write, HsPin *pin)
{
    struct stat st;
    void *host;

    if (fstat(fd, &st) < 0) {
        return -EBADF;
    }
    if (!S_ISREG(st.st_mode) || off + size < off ||
        off + size > (uint64_t)st.st_size) {
        hs_log(
            "MAP_FILE: fd is not a regular file covering 0x%" G_GINT64_MODIFIER
            "x+0x%" G_GINT64_MODIFIER "x; EINVAL",
            off, size);
        return -EINVAL;
    }
    host = mmap(NULL, size, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED,
                fd, off);
    if (host == MAP_FAILED) {
        int err = errno;

        hs_log("MAP_FILE: cannot map the file: %s", g_strerror(err));
        return -err;
    }
    pin->host = host;
    pin->size = size;
    pin->dev = st.st_dev;
    pin->ino = st.st_ino;
    pin->file_off = off;
    pin->mmio = false;
    return 0;
}

void hs_unpin(HsPin *pin)
{
    if (pin->host) {
        munmap(pin->host, pin->size);
        pin->host = NULL;
    }
}

static bool hs_has_cap_ipc_lock(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *s = NULL;
    const char *p;

    if (!g_file_get_contents(path, &s, NULL, NULL)) {
        return false;
    }
    p = strstr(s, "\nCapEff:");
    return p && (g_ascii_strtoull(p + 8, NULL, 16) >> HS_CAP_IPC_LOCK) & 1;
}

/* The soft RLIMIT_MEMLOCK of pid, in bytes (G_MAXUINT64: unlimited). */
static uint64_t hs_memlock_limit(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/limits", (int)pid);
    g_autofree char *s = NULL;
    const char *p;

    if (!g_file_get_contents(path, &s, NULL, NULL)) {
        return 0;
    }
    p = strstr(s, "Max locked memory");
    if (!p) {
        return 0;
    }
    p += strlen("Max locked memory");
    while (*p == ' ') {
        p++;
    }
    if (g_str_has_prefix(p, "unlimited")) {
        return G_MAXUINT64;
    }
    return g_ascii_strtoull(p, NULL, 10);
}

int hs_acct_charge(pid_t pid, uint64_t bytes, uint64_t *charged)
{
    uint64_t cur, limit;

    if (!hs_acct) {
        hs_acct = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    }
    *charged = 0;
    if (hs_has_cap_ipc_lock(pid)) {
        return 0;
    }
    cur = GPOINTER_TO_SIZE(0);
    if (g_hash_table_contains(hs_acct, GINT_TO_POINTER(pid))) {
        cur = *(uint64_t *)g_hash_table_lookup(hs_acct, GINT_TO_POINTER(pid));
    }
    limit = hs_memlock_limit(pid);
    if (limit != G_MAXUINT64 && cur + bytes > limit) {
        hs_log("pid %d: RLIMIT_MEMLOCK %" G_GUINT64_FORMAT " exceeded "
               "(%" G_GUINT64_FORMAT " locked + %" G_GUINT64_FORMAT "); ENOMEM",
               (int)pid, limit, cur, bytes);
        return -ENOMEM;
    }
    g_hash_table_insert(hs_acct, GINT_TO_POINTER(pid),
                        g_memdup2(&(uint64_t){cur + bytes}, sizeof(uint64_t)));
    *charged = bytes;
    return 0;
}

void hs_acct_uncharge(pid_t pid, uint64_t bytes)
{
    uint64_t *cur;

    if (!bytes || !hs_acct) {
        return;
    }
    cur = g_hash_table_lookup(hs_acct, GINT_TO_POINTER(pid));
    if (cur) {
        *cur = *cur > bytes ? *cur - bytes : 0;
    }
}

void hs_space_init(HsSpace *s)
{
    s->maps = g_ptr_array_new();
}

void hs_space_remove(HsSpace *s, HsMapping *m)
{
    g_ptr_array_remove_fast(s->maps, m);
    hs_unpin(&m->pin);
    hs_acct_uncharge(m->owner, m->charged);
    g_free(m);
}

void hs_space_destroy(HsSpace *s)
{
    while (s->maps && s->maps->len) {
        hs_space_remove(s, s->maps->pdata[0]);
    }
}

HsMapping *hs_space_overlap(HsSpace *s, uint64_t iova, uint64_t size)
{
    guint i;

    for (i = 0; i < s->maps->len; i++) {
        HsMapping *m = s->maps->pdata[i];

        if (iova < m->iova + m->size && m->iova < iova + size) {
            return m;
        }
    }
    return NULL;
}

HsMapping *hs_space_lookup(HsSpace *s, uint64_t iova, uint64_t len)
{
    guint i;

    for (i = 0; i < s->maps->len; i++) {
        HsMapping *m = s->maps->pdata[i];

        if (iova >= m->iova && iova + len <= m->iova + m->size) {
            return m;
        }
    }
    return NULL;
}
