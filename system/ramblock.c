/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * RAM blocks: host memory behind guest RAM (anonymous, memfd, or an fd
 * that live update preserves) and their dirty bitmaps for migration.
 * Where a block appears in guest-physical space is the business of the
 * memory regions (memory.c); this file knows nothing about KVM.
 */
#include "util/osdep.h"

#include <sys/mman.h>

#include "system/memory.h"
#include "util/error-report.h"

static GPtrArray *ram_blocks;
static unsigned int dirty_log_users; /* under the big lock */

static void ram_block_dirty_alloc(RAMBlock *rb, bool all_dirty);

/* ---- RAM blocks ---- */

static void ram_block_register(RAMBlock *rb)
{
    if (!ram_blocks) {
        ram_blocks = g_ptr_array_new();
    }
    g_ptr_array_add(ram_blocks, rb);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static void ram_prealloc(void *host, uint64_t size)
{
    long page = sysconf(_SC_PAGESIZE);

    /*
     * MADV_POPULATE_WRITE (Linux 5.14) faults every page in writable
     * without storing to it, so it is safe even on memory another process
     * is using. Older kernels: write each byte back to itself, which is
     * only done on memory nobody else uses yet (a fresh block).
     */
    if (madvise(host, size, MADV_POPULATE_WRITE) == 0) {
        return;
    }
    for (uint64_t off = 0; off < size; off += page) {
        volatile uint8_t *p = (uint8_t *)host + off;
        *p = *p;
    }
}

/*
 * Private anonymous RAM goes in transparent huge pages where the host
 * allows them (QEMU asks for them too): the mapping starts on a 2 MiB
 * boundary and is advised MADV_HUGEPAGE (the default THP mode,
 * "madvise", uses them only then). Besides the guest's own TLB reach,
 * the kernel then handles a 2 MiB folio instead of 512 pages wherever it
 * walks guest RAM page by page: pinning pages for the final pass's splice
 * and checking each user copy on the destination cost 2.7 ms of CPU
 * less per 31 MiB pause here (18%). Memory behind a descriptor keeps its
 * own page size (memfd, hugetlbfs, files).
 */
#define RAM_THP_SIZE (2 * 1024 * 1024)

static void *ram_map_anon(uint64_t size)
{
    uint64_t total = size + RAM_THP_SIZE;
    uint8_t *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint8_t *start;

    if (p == MAP_FAILED) {
        return MAP_FAILED;
    }
    start = (uint8_t *)ROUND_UP((uintptr_t)p, RAM_THP_SIZE);
    if (start > p) {
        munmap(p, start - p);
    }
    if (p + total > start + size) {
        munmap(start + size, p + total - (start + size));
    }
    /* No THP in this kernel: an error, and 4 KiB pages as before. */
    madvise(start, size, MADV_HUGEPAGE);
    return start;
}

static RAMBlock *ram_block_map(const char *idstr, uint64_t size, int fd,
                               uint64_t offset, unsigned int flags,
                               bool prealloc, GError **errp)
{
    int mflags = (flags & RAM_SHARED) ? MAP_SHARED : MAP_PRIVATE;
    RAMBlock *rb;
    void *host;

    if (fd < 0) {
        mflags |= MAP_ANONYMOUS;
    }
    if (fd < 0 && !(flags & RAM_SHARED)) {
        host = ram_map_anon(size);
    } else {
        host = mmap(NULL, size, PROT_READ | PROT_WRITE, mflags | MAP_NORESERVE,
                    fd, offset);
    }
    if (host == MAP_FAILED) {
        error_setg_errno(errp, errno, "cannot map %" PRIu64
                         " bytes of RAM for '%s'", size, idstr);
        return NULL;
    }
    /* Guest RAM in a core dump is rarely wanted and can be huge. */
    madvise(host, size, MADV_DONTDUMP);
    if (prealloc) {
        ram_prealloc(host, size);
    }
    rb = g_new0(RAMBlock, 1);
    rb->idstr = g_strdup(idstr);
    rb->size = size;
    rb->host = host;
    rb->fd = fd;
    rb->fd_offset = offset;
    rb->flags = flags;
    if (dirty_log_users) {
        /* Whatever migration already sent knows nothing of this block. */
        ram_block_dirty_alloc(rb, true);
    }
    ram_block_register(rb);
    return rb;
}

RAMBlock *ram_block_new_anon(const char *idstr, uint64_t size, bool prealloc,
                             GError **errp)
{
    return ram_block_map(idstr, size, -1, 0, 0, prealloc, errp);
}

RAMBlock *ram_block_new_memfd(const char *idstr, uint64_t size, bool prealloc,
                              GError **errp)
{
    int fd = memfd_create(idstr, MFD_CLOEXEC);
    RAMBlock *rb;

    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot create memfd for '%s'", idstr);
        return NULL;
    }
    if (ftruncate(fd, size) < 0) {
        error_setg_errno(errp, errno, "cannot size memfd for '%s' to %"
                         PRIu64 " bytes", idstr, size);
        close(fd);
        return NULL;
    }
    rb = ram_block_map(idstr, size, fd, 0, RAM_SHARED | RAM_MEMFD, prealloc,
                       errp);
    if (!rb) {
        close(fd);
    }
    return rb;
}

RAMBlock *ram_block_new_from_fd(const char *idstr, uint64_t size, int fd,
                                uint64_t offset, unsigned int flags,
                                bool prealloc, GError **errp)
{
    return ram_block_map(idstr, size, fd, offset, flags, prealloc, errp);
}

void ram_block_free(RAMBlock *rb)
{
    if (!rb) {
        return;
    }
    if (ram_blocks) {
        g_ptr_array_remove(ram_blocks, rb);
    }
    munmap(rb->host, rb->size);
    g_free(rb->dirty);
    if (rb->fd >= 0) {
        close(rb->fd);
    }
    g_free(rb->idstr);
    g_free(rb);
}

const GPtrArray *ram_block_list(void)
{
    if (!ram_blocks) {
        ram_blocks = g_ptr_array_new();
    }
    return ram_blocks;
}

/* ---- dirty logging ---- */

/*
 * Writers OR bits in with release ordering after their data is stored;
 * the migration thread exchanges words with acquire ordering before it
 * reads the pages (x86 locked instructions are full barriers anyway; the
 * orderings document the pairing).
 */
#define BPW RAM_DIRTY_BITS_PER_WORD

uint64_t ram_block_pages(const RAMBlock *rb)
{
    return (rb->size + RAM_DIRTY_PAGE_SIZE - 1) >> RAM_DIRTY_PAGE_BITS;
}

uint64_t ram_block_dirty_words(const RAMBlock *rb)
{
    return (ram_block_pages(rb) + BPW - 1) / BPW;
}

/* Bits [FIRST, FIRST+N) set within one word (N ≥ 1, FIRST+N ≤ BPW). */
static inline unsigned long bit_range(unsigned int first, unsigned int n)
{
    unsigned long m = n == BPW ? ~0UL : (1UL << n) - 1;

    return m << first;
}

static void ram_block_dirty_alloc(RAMBlock *rb, bool all_dirty)
{
    uint64_t words = ram_block_dirty_words(rb);

    rb->dirty = g_new0(unsigned long, words);
    if (all_dirty) {
        ram_block_set_dirty(rb, 0, rb->size);
    }
}

void memory_dirty_log_start(void)
{
    const GPtrArray *blocks = ram_block_list();

    if (dirty_log_users++) {
        return;
    }
    for (guint i = 0; i < blocks->len; i++) {
        RAMBlock *rb = g_ptr_array_index(blocks, i);

        if (!rb->dirty) {
            ram_block_dirty_alloc(rb, false);
        }
    }
}

void memory_dirty_log_stop(void)
{
    const GPtrArray *blocks = ram_block_list();

    g_assert(dirty_log_users > 0);
    if (--dirty_log_users) {
        return;
    }
    for (guint i = 0; i < blocks->len; i++) {
        RAMBlock *rb = g_ptr_array_index(blocks, i);

        g_clear_pointer(&rb->dirty, g_free);
    }
}

bool memory_dirty_log_active(void)
{
    return dirty_log_users > 0;
}

void ram_block_set_dirty(RAMBlock *rb, uint64_t offset, uint64_t len)
{
    uint64_t page, end;

    if (!rb->dirty || !len || offset >= rb->size) {
        return;
    }
    len = MIN(len, rb->size - offset);
    page = offset >> RAM_DIRTY_PAGE_BITS;
    end = ((offset + len - 1) >> RAM_DIRTY_PAGE_BITS) + 1;
    while (page < end) {
        unsigned int bit = page % BPW;
        unsigned int n = MIN(BPW - bit, end - page);

        __atomic_fetch_or(&rb->dirty[page / BPW], bit_range(bit, n),
                          __ATOMIC_RELEASE);
        page += n;
    }
}

/* OR MASK into word W of RB; returns the number of bits that were new. */
static inline unsigned int dirty_or_word(RAMBlock *rb, uint64_t w,
                                         unsigned long mask)
{
    unsigned long old;

    if (!mask) {
        return 0;
    }
    old = __atomic_fetch_or(&rb->dirty[w], mask, __ATOMIC_RELEASE);
    return __builtin_popcountl(mask & ~old);
}

uint64_t ram_block_set_dirty_bits(RAMBlock *rb, uint64_t first_page,
                                  const unsigned long *bits, uint64_t npages)
{
    uint64_t pages = ram_block_pages(rb);
    uint64_t nwords, added = 0;
    unsigned int shift = first_page % BPW;
    uint64_t dw = first_page / BPW;

    if (!rb->dirty || first_page >= pages) {
        return 0;
    }
    npages = MIN(npages, pages - first_page);
    nwords = (npages + BPW - 1) / BPW;
    for (uint64_t i = 0; i < nwords; i++) {
        unsigned long v = bits[i];

        if (!v) {
            continue; /* the common case: skip clean words fast */
        }
        if (i == nwords - 1 && npages % BPW) {
            v &= bit_range(0, npages % BPW);
        }
        if (!shift) {
            added += dirty_or_word(rb, dw + i, v);
        } else {
            /* Slot not word-aligned in the block: split across two words. */
            added += dirty_or_word(rb, dw + i, v << shift);
            if (dw + i + 1 < ram_block_dirty_words(rb)) {
                added += dirty_or_word(rb, dw + i + 1, v >> (BPW - shift));
            }
        }
    }
    return added;
}

bool ram_block_test_and_clear_dirty(RAMBlock *rb, uint64_t page)
{
    unsigned long bit = 1UL << (page % BPW);

    if (!rb->dirty || page >= ram_block_pages(rb)) {
        return false;
    }
    return __atomic_fetch_and(&rb->dirty[page / BPW], ~bit, __ATOMIC_ACQUIRE) &
           bit;
}

uint64_t ram_block_next_dirty_word(const RAMBlock *rb, uint64_t from)
{
    uint64_t words = ram_block_dirty_words(rb);
    const unsigned long *bm = rb->dirty;

    if (!bm) {
        return words;
    }
    while (from < words && !__atomic_load_n(&bm[from], __ATOMIC_RELAXED)) {
        from++;
    }
    return from;
}

unsigned long ram_block_fetch_and_clear_dirty_word(RAMBlock *rb, uint64_t word)
{
    if (!rb->dirty || word >= ram_block_dirty_words(rb)) {
        return 0;
    }
    /* A plain load first: clean words cost no locked instruction. */
    if (!__atomic_load_n(&rb->dirty[word], __ATOMIC_RELAXED)) {
        return 0;
    }
    return __atomic_exchange_n(&rb->dirty[word], 0, __ATOMIC_ACQUIRE);
}

uint64_t ram_block_dirty_pages(const RAMBlock *rb)
{
    uint64_t words = ram_block_dirty_words(rb), n = 0;

    if (!rb->dirty) {
        return 0;
    }
    for (uint64_t i = 0; i < words; i++) {
        n += __builtin_popcountl(
            __atomic_load_n(&rb->dirty[i], __ATOMIC_RELAXED));
    }
    return n;
}

#undef BPW
