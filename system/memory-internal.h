/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to system/memory*.c: the flattened view of an address space,
 * shared by the tree code (memory.c), dispatch (memory-access.c) and the
 * "info mtree" printer (memory-mtree.c).
 */
#ifndef BATON_SYSTEM_MEMORY_INTERNAL_H
#define BATON_SYSTEM_MEMORY_INTERNAL_H

#include "system/memory.h"

/* One piece of a terminal region (RAM or I/O) in address-space order. */
typedef struct FlatRange {
    MemoryRegion *mr;
    hwaddr offset_in_region;
    hwaddr addr;
    uint64_t size;
    bool readonly;
} FlatRange;

/* Sorted by addr, non-overlapping; rebuilt on every outermost commit. */
struct FlatView {
    FlatRange *ranges;
    guint nr;
};

/* The range holding ADDR, or NULL (unassigned). */
const FlatRange *flatview_lookup(const FlatView *view, hwaddr addr);
/*
 * Every reader of a flat view calls this first: it renders what deferred
 * commits left pending (memory_region_transaction_commit_deferred()),
 * unless the caller is inside a transaction of its own.
 */
void memory_view_sync(void);
/* The range of AS's current flat view holding ADDR, or NULL. */
const FlatRange *address_space_lookup(AddressSpace *as, hwaddr addr);
/* Every address space initialized so far (AddressSpace *), in order. */
const GPtrArray *memory_address_spaces(void);

#endif
