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
