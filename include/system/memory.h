/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest memory: RAM blocks (host memory that backs guest RAM, with the fd
 * that live update preserves), memory regions arranged in trees, address
 * spaces that flatten a tree into non-overlapping sections, and memory
 * listeners that are told how the sections change (QEMU's memory API).
 * PIO and MMIO share one lookup and one handler signature. Unclaimed reads
 * return all ones and writes are dropped (logged with -d guest_errors), as
 * on real hardware.
 *
 * Locking: every region, address space and listener call is made with the
 * big lock held (or single-threaded at machine creation); dispatch too.
 * docs/devel/memory.md describes the model.
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
    RAM_MEMFD = 1 << 1,  /* backed by memfd_create() */
    RAM_FILE = 1 << 2,   /* backed by a file (mem-path) */
    /*
     * A device's own memory mapped for the guest (a VFIO BAR): not guest
     * RAM; a migration never sends it (QEMU's ram_device regions).
     */
    RAM_DEVICE = 1 << 3,
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

typedef struct Object Object;
typedef struct MemoryRegion MemoryRegion;
typedef struct AddressSpace AddressSpace;
typedef struct FlatView FlatView;
typedef struct MemoryListener MemoryListener;

/*
 * MMIO / PIO callbacks. OFFSET is relative to the region's start; values
 * are little-endian. Accesses arrive naturally sized (1, 2, 4, 8 bytes);
 * with impl.max_access_size set, wider accesses are split into that size,
 * and with valid.max_access_size set, wider ones are rejected (reads all
 * ones, writes dropped, logged as guest errors). NULL read: reads 0; NULL
 * write: writes dropped (NULL ops: both).
 */
typedef struct MemoryRegionOps {
    uint64_t (*read)(void *opaque, hwaddr offset, unsigned int size);
    void (*write)(void *opaque, hwaddr offset, uint64_t value,
                  unsigned int size);
    struct {
        unsigned int max_access_size; /* 0: any */
    } valid, impl;
} MemoryRegionOps;

typedef enum MemoryRegionType {
    MR_CONTAINER, /* only subregions; its gaps fall through */
    MR_IO,        /* MMIO or PIO callbacks */
    MR_RAM,       /* a window onto a RAMBlock */
    MR_ALIAS,     /* a window onto another region */
} MemoryRegionType;

typedef struct MemoryRegionIoeventfd {
    hwaddr addr; /* within the region */
    unsigned int size;
    bool match_data;
    uint64_t data;
    int fd;
} MemoryRegionIoeventfd;

/*
 * A node of a memory tree. Embed it in the owning device; every field is
 * private to system/memory*.c (read them through the accessors below).
 * A region is placed in at most one parent, at ADDR within it.
 */
struct MemoryRegion {
    char *name;
    Object *owner; /* only stored */
    MemoryRegionType type;
    uint64_t size; /* UINT64_MAX: the whole 64-bit space */
    bool initialized;
    bool enabled;
    bool readonly;

    MemoryRegion *container; /* parent, NULL if not placed */
    hwaddr addr;             /* offset within the parent */
    int priority;
    /* Children, highest priority first (equal: later added first). */
    MemoryRegion *subregions;
    MemoryRegion *next_sibling;

    const MemoryRegionOps *ops; /* MR_IO */
    void *opaque;
    RAMBlock *ram_block; /* MR_RAM */
    uint64_t ram_offset;
    MemoryRegion *alias; /* MR_ALIAS */
    hwaddr alias_offset;
    unsigned int alias_users; /* aliases pointing here */

    GArray *ioeventfds; /* MemoryRegionIoeventfd */
};

/* A flattened address space's piece, as listeners see it. */
typedef struct MemoryRegionSection {
    MemoryRegion *mr; /* a RAM or I/O region (aliases are resolved) */
    AddressSpace *as;
    hwaddr offset_within_region;
    hwaddr offset_within_address_space;
    uint64_t size;
    bool readonly;
} MemoryRegionSection;

struct AddressSpace {
    char *name;
    MemoryRegion *root;
    FlatView *current_map; /* replaced on the outermost commit */
    GArray *ioeventfds;    /* MemoryRegionSection + eventfd, sorted */
    GPtrArray *listeners;  /* MemoryListener *, ascending priority */
    bool registered;       /* in the list of address spaces */
};

extern AddressSpace address_space_memory; /* root: get_system_memory() */
extern AddressSpace address_space_io;     /* root: get_system_io() */

/*
 * Regions. Names are copied. Sizes are in bytes; UINT64_MAX means 2^64.
 * memory_region_finalize() takes MR out of its parent (committing the
 * change), drops its eventfds and detaches its children; a region still
 * targeted by an alias or used as an address-space root must not be
 * finalized (asserted).
 */
void memory_region_init(MemoryRegion *mr, Object *owner, const char *name,
                        uint64_t size);
void memory_region_init_io(MemoryRegion *mr, Object *owner,
                           const MemoryRegionOps *ops, void *opaque,
                           const char *name, uint64_t size);
/* A window of SIZE bytes onto RB from OFFSET (asserted to fit). */
void memory_region_init_ram_from_block(MemoryRegion *mr, Object *owner,
                                       const char *name, RAMBlock *rb,
                                       uint64_t offset, uint64_t size);
void memory_region_init_alias(MemoryRegion *mr, Object *owner,
                              const char *name, MemoryRegion *orig,
                              hwaddr offset, uint64_t size);
void memory_region_finalize(MemoryRegion *mr);

/*
 * Tree edits. Each is its own transaction unless one is open. Subregions
 * of higher PRIORITY hide lower ones where they overlap; among equal
 * priorities the one added later wins. add_subregion uses priority 0.
 */
void memory_region_add_subregion(MemoryRegion *parent, hwaddr offset,
                                 MemoryRegion *sub);
void memory_region_add_subregion_overlap(MemoryRegion *parent, hwaddr offset,
                                         MemoryRegion *sub, int priority);
void memory_region_del_subregion(MemoryRegion *parent, MemoryRegion *sub);
void memory_region_set_enabled(MemoryRegion *mr, bool enabled);
void memory_region_set_address(MemoryRegion *mr, hwaddr addr);
void memory_region_set_alias_offset(MemoryRegion *mr, hwaddr offset);
/* Read-only RAM: guest writes exit to baton and are dropped (logged). */
void memory_region_set_readonly(MemoryRegion *mr, bool readonly);

/*
 * Eventfds signalled by writes of SIZE bytes at ADDR (within MR) — with
 * MATCH_DATA only when the value is DATA. Listeners (KVM) see them at
 * their address-space address. The caller keeps owning FD.
 */
void memory_region_add_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                               bool match_data, uint64_t data, int fd);
void memory_region_del_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                               bool match_data, uint64_t data, int fd);

/*
 * Batch tree edits: they nest, and the outermost commit flattens every
 * address space and tells listeners the difference, once.
 */
void memory_region_transaction_begin(void);
void memory_region_transaction_commit(void);

/*
 * A transaction that may end without rendering, for a run of them whose
 * changes the guest alone will use while it cannot run (loading device
 * state: migration/savevm.c opens one around each record, so that N
 * devices' BAR and bus-master changes flatten the address spaces once,
 * not N times). One at a time; ordinary transactions nest inside.
 * commit_deferred leaves what changed pending: it is rendered and told
 * to listeners at the next outermost commit, at
 * memory_region_flush_pending(), or before anything reads a flat view
 * (an access through an address space, "info mtree -f", a listener's
 * registration or dirty sync, a region's finalization), whichever comes
 * first. So code that reads memory through an address space (a DMA in a
 * post_load) sees the new map unless it is inside a transaction of its
 * own; what lags is only the listeners (KVM slots, DMA maps) until then.
 */
void memory_region_transaction_begin_deferred(void);
void memory_region_transaction_commit_deferred(void);
/* Outside any transaction: render and tell listeners what is pending. */
void memory_region_flush_pending(void);

const char *memory_region_name(const MemoryRegion *mr);
uint64_t memory_region_size(const MemoryRegion *mr);
bool memory_region_is_ram(const MemoryRegion *mr);
/* RAM regions (aliases resolved): the block and the offset into it. */
RAMBlock *memory_region_get_ram_block(const MemoryRegion *mr);
uint64_t memory_region_get_ram_offset(const MemoryRegion *mr);
/* Host address of the region's first byte (NULL unless RAM). */
void *memory_region_get_ram_ptr(const MemoryRegion *mr);

/* The roots of address_space_memory ("system") and address_space_io. */
MemoryRegion *get_system_memory(void);
MemoryRegion *get_system_io(void);

/*
 * Address spaces other than the two above (a device's DMA view). Destroy
 * unregisters the listeners still on AS (each gets region_del).
 */
void address_space_init(AddressSpace *as, MemoryRegion *root,
                        const char *name);
void address_space_destroy(AddressSpace *as);

/*
 * Read/write through AS, splitting across sections; MMIO/PIO accesses are
 * split into naturally sized 1/2/4/8-byte calls. RAM writes mark the block
 * dirty while logging is on; writes to read-only RAM are dropped. Returns
 * false if any part was unassigned or read-only (reads fill 0xff there).
 */
bool address_space_rw(AddressSpace *as, hwaddr addr, void *buf, uint64_t len,
                      bool is_write);
/* One access of SIZE (1, 2, 4, 8) bytes, little-endian value. */
uint64_t address_space_ld(AddressSpace *as, hwaddr addr, unsigned size);
void address_space_st(AddressSpace *as, hwaddr addr, uint64_t val,
                      unsigned size);
/*
 * Host pointer for [ADDR, ADDR+LEN) if it lies in one RAM section, else
 * NULL. Valid while the RAM block lives; writes through it are not
 * dirty-tracked (callers mark them with ram_block_set_dirty()).
 */
void *address_space_map_ram(AddressSpace *as, hwaddr addr, uint64_t len);

/*
 * Listeners: told about the sections of one address space. Callbacks may
 * be NULL. On a commit each listener gets begin, region_del for sections
 * that went away (listeners in descending priority), then region_add for
 * new ones and region_nop for unchanged ones (ascending), eventfd_del /
 * eventfd_add likewise, then commit. A moved or resized section is a del
 * plus an add. Callbacks must not edit the memory tree.
 */
struct MemoryListener {
    const char *name;
    int priority;
    void (*begin)(MemoryListener *l);
    void (*commit)(MemoryListener *l);
    void (*region_add)(MemoryListener *l, MemoryRegionSection *s);
    void (*region_del)(MemoryListener *l, MemoryRegionSection *s);
    void (*region_nop)(MemoryListener *l, MemoryRegionSection *s);
    void (*eventfd_add)(MemoryListener *l, MemoryRegionSection *s,
                        bool match_data, uint64_t data, int fd);
    void (*eventfd_del)(MemoryListener *l, MemoryRegionSection *s,
                        bool match_data, uint64_t data, int fd);
    bool (*log_global_start)(MemoryListener *l, GError **errp);
    void (*log_global_stop)(MemoryListener *l);
    /* Fold the pages dirtied in S since the last sync into the blocks. */
    bool (*log_sync)(MemoryListener *l, MemoryRegionSection *s,
                     GError **errp);

    /* private */
    AddressSpace *address_space;
    bool log_started; /* log_global_start succeeded */
};

/*
 * Register replays: log_global_start if dirty logging is on, then begin,
 * region_add for every section, eventfd_add for every eventfd, commit.
 * Unregister sends region_del / eventfd_del for all of them (and
 * log_global_stop if it had started).
 */
void memory_listener_register(MemoryListener *l, AddressSpace *as);
void memory_listener_unregister(MemoryListener *l);

/*
 * Dirty logging for migration: start allocates the RAM blocks' bitmaps
 * (memory_dirty_log_start) and calls every listener's log_global_start
 * (ascending priority); if one fails, those already started are stopped
 * and the error returned. Calls nest. sync asks every listener to fold
 * its dirty pages into the bitmaps, section by section.
 */
bool memory_global_dirty_log_start(GError **errp);
void memory_global_dirty_log_stop(void);
bool memory_global_dirty_log_sync(GError **errp);
bool memory_global_dirty_log_active(void);

/*
 * HMP "info mtree [-f]": the trees of every address space (plus the
 * regions reached only through aliases), or with FLAT the flattened
 * views, in QEMU's layout. Returns a newly allocated string.
 */
char *memory_mtree_format(bool flat);

#endif
