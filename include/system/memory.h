/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest memory: RAM blocks (host memory that backs guest RAM, with the fd
 * that live update preserves) and the two guest address spaces, memory and
 * I/O ports, as sorted lists of non-overlapping regions. PIO and MMIO share
 * one lookup and one handler signature. Unclaimed reads return all ones and
 * writes are dropped (logged with -d guest_errors), as on real hardware.
 *
 * Region registration happens at machine creation (single-threaded) and
 * under the big lock; dispatch is called with the big lock held.
 */
#ifndef BATON_SYSTEM_MEMORY_H
#define BATON_SYSTEM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "util/osdep.h"

typedef enum RAMBlockFlags {
    RAM_SHARED = 1 << 0, /* MAP_SHARED: survives the process via its fd */
    RAM_MEMFD  = 1 << 1, /* backed by memfd_create() */
    RAM_FILE   = 1 << 2, /* backed by a file (mem-path) */
} RAMBlockFlags;

typedef struct RAMBlock {
    char *idstr;        /* "pc.ram", or the backend id */
    uint64_t size;
    void *host;         /* mapping in this process */
    int fd;             /* -1 for private anonymous memory */
    uint64_t fd_offset; /* offset of the mapping within fd */
    unsigned int flags; /* RAMBlockFlags */

    /*
     * Dirty page bitmap while dirty logging is on (memory_dirty_log_start),
     * NULL otherwise: bit N of word W covers page W * BITS_PER_LONG + N
     * (RAM_DIRTY_PAGE_SIZE bytes each). Host writes through the address
     * space and the accelerator's log sync set bits; migration clears
     * them. Bits change only with atomic operations (see the dirty logging
     * section below).
     */
    unsigned long *dirty;
} RAMBlock;

/*
 * Allocate a RAM block: anonymous private (fd < 0, !shared), memfd (shared),
 * or map FD at OFFSET (file backends, preserved descriptors). The block
 * takes ownership of FD. PREALLOC touches every page.
 */
RAMBlock *ram_block_new_anon(const char *idstr, uint64_t size, bool prealloc,
                             GError **errp);
RAMBlock *ram_block_new_memfd(const char *idstr, uint64_t size, bool prealloc,
                              GError **errp);
RAMBlock *ram_block_new_from_fd(const char *idstr, uint64_t size, int fd,
                                uint64_t offset, unsigned int flags,
                                bool prealloc, GError **errp);
void ram_block_free(RAMBlock *rb);
/* Registered blocks, in creation order (GPtrArray of RAMBlock *). */
const GPtrArray *ram_block_list(void);

/*
 * Dirty logging for migration: one bit per RAM_DIRTY_PAGE_SIZE page of
 * every RAM block.
 *
 * Locking: start/stop are called with the big lock held; writers (address
 * space writes, which run under the big lock, and the accelerator's log
 * sync) set bits with atomic ORs after the data is written; the migration
 * thread takes bits with atomic exchanges and only then reads the pages.
 * So a page written after its bit was taken is marked again and resent.
 * Bitmaps stay allocated from start to stop; stop must not race with a
 * thread still scanning them (the migration thread calls it on cleanup).
 */
#define RAM_DIRTY_PAGE_BITS 12
#define RAM_DIRTY_PAGE_SIZE (1u << RAM_DIRTY_PAGE_BITS)
#define RAM_DIRTY_BITS_PER_WORD (sizeof(unsigned long) * 8)

/*
 * Allocate (start) or free (stop) every RAM block's bitmap. Calls nest:
 * the bitmaps go away when the last user stops. Blocks created while
 * logging is on start with every page dirty. Bitmaps start clean.
 */
void memory_dirty_log_start(void);
void memory_dirty_log_stop(void);
bool memory_dirty_log_active(void);

/* Pages in RB (its size rounded up to whole pages), and bitmap words. */
uint64_t ram_block_pages(const RAMBlock *rb);
uint64_t ram_block_dirty_words(const RAMBlock *rb);
/* Mark [OFFSET, OFFSET+LEN) of RB dirty; a no-op while logging is off. */
void ram_block_set_dirty(RAMBlock *rb, uint64_t offset, uint64_t len);
/*
 * OR NPAGES bits of BITS (an accelerator's slot bitmap, bit 0 = page
 * FIRST_PAGE of RB) into RB's bitmap; returns how many were newly set.
 */
uint64_t ram_block_set_dirty_bits(RAMBlock *rb, uint64_t first_page,
                                  const unsigned long *bits, uint64_t npages);
/* Take page PAGE's bit: true if it was dirty (it is clean afterwards). */
bool ram_block_test_and_clear_dirty(RAMBlock *rb, uint64_t page);
/*
 * Index of the first bitmap word at or after FROM with a dirty page, or
 * ram_block_dirty_words(RB) if there is none (clean words cost one load).
 */
uint64_t ram_block_next_dirty_word(const RAMBlock *rb, uint64_t from);
/* Take a whole bitmap word at once (pages WORD * BITS_PER_WORD + i). */
unsigned long ram_block_fetch_and_clear_dirty_word(RAMBlock *rb, uint64_t word);
/* Number of dirty pages of RB (0 while logging is off). */
uint64_t ram_block_dirty_pages(const RAMBlock *rb);

typedef struct MemoryRegionOps {
    uint64_t (*read)(void *opaque, hwaddr offset, unsigned int size);
    void (*write)(void *opaque, hwaddr offset, uint64_t value,
                  unsigned int size);
} MemoryRegionOps;

typedef enum AddressSpaceId {
    AS_MEMORY, /* guest-physical memory: RAM and MMIO */
    AS_IO,     /* x86 I/O ports */
} AddressSpaceId;

typedef struct MemoryRegion {
    const char *name;
    AddressSpaceId space;
    hwaddr base;
    uint64_t size;
    /* Exactly one of: RAM (block + offset into it) or I/O callbacks. */
    RAMBlock *ram;
    uint64_t ram_offset;
    const MemoryRegionOps *ops;
    void *opaque;
} MemoryRegion;

/*
 * Map a RAM range or an I/O range. Overlaps with an existing region are an
 * error naming both regions. The returned region stays valid until removed.
 */
MemoryRegion *memory_map_ram(const char *name, hwaddr base, uint64_t size,
                             RAMBlock *ram, uint64_t ram_offset,
                             GError **errp);
MemoryRegion *memory_map_io(AddressSpaceId space, const char *name,
                            hwaddr base, uint64_t size,
                            const MemoryRegionOps *ops, void *opaque,
                            GError **errp);
void memory_unmap(MemoryRegion *mr);
/* RAM regions of AS_MEMORY, sorted by base (for KVM memory slots). */
GPtrArray *memory_ram_regions(void);
/* Host pointer for [addr, addr+len) if it lies inside one RAM region. */
void *memory_host_ptr(hwaddr addr, uint64_t len);

/*
 * Read/write guest-physical memory or I/O space, splitting across regions;
 * MMIO/PIO accesses are split into naturally sized 1/2/4/8-byte calls.
 * Returns false if any part was unassigned (reads fill 0xff there).
 */
bool address_space_rw(AddressSpaceId space, hwaddr addr, void *buf,
                      uint64_t len, bool is_write);
/* One access of SIZE (1, 2, 4, 8) bytes, little-endian value. */
uint64_t address_space_ld(AddressSpaceId space, hwaddr addr, unsigned size);
void address_space_st(AddressSpaceId space, hwaddr addr, uint64_t val,
                      unsigned size);

#endif
