/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "ram" live section: precopy of guest RAM. The source sends the RAM
 * block list, then every page once, then whatever dirty logging reports
 * until the state machine switches over; the destination checks the list
 * against its own blocks and every page record before it writes memory.
 * Payload format: docs/devel/migration-stream.md, "RAM section payload".
 */
#include "util/osdep.h"

#include "hw/core/object.h"
#include "migration/register.h"
#include "migration/stream.h"
#include "system/memory.h"

#include "ram.h"
#include "savevm.h"

/*
 * 2: page batches (RAM_ITEM_BATCH). A source that sends no page at all
 * (cpr: every block ignored) still writes 1, so an older baton can load it.
 */
#define RAM_SECTION_VERSION 2
#define RAM_PAGE_BITS RAM_DIRTY_PAGE_BITS
#define RAM_PAGE_SIZE RAM_DIRTY_PAGE_SIZE
#define BPW RAM_DIRTY_BITS_PER_WORD

/* First byte of every item in a RAM payload. */
enum {
    RAM_ITEM_ZERO = 0x01,       /* a page of zeroes: no data */
    RAM_ITEM_PAGE = 0x02,       /* a page and its RAM_PAGE_SIZE bytes */
    RAM_ITEM_NEW_BLOCK = 0x04,  /* modifier of the two above: be32 block */
    RAM_ITEM_BLOCK_LIST = 0x08, /* the block list (setup) */
    RAM_ITEM_EOS = 0x10,        /* end of this payload */
    RAM_ITEM_BATCH = 0x20,      /* version 2: pages of one block, data last */
};
#define RAM_ITEM_KNOWN_V1 0x1f
#define RAM_ITEM_KNOWN 0x3f

/*
 * Pages per batch the source sends (the destination takes up to
 * RAM_BATCH_MAX): their data follows all their offsets, so the
 * destination reads it straight into guest RAM in one readv().
 */
#define RAM_BATCH_PAGES 64
#define RAM_BATCH_MAX 256

/* Per-block flags in the block list. */
#define RAM_BLOCK_IGNORED 0x1 /* x-ignore-shared: no pages are sent */
#define RAM_BLOCK_FLAGS_KNOWN RAM_BLOCK_IGNORED

#define RAM_MAX_BLOCKS 256

/*
 * Budget of one iterate call: bytes written (register.h asks for at most
 * ~256 KiB) and pages examined (zero pages cost ~13 bytes but a read).
 */
#define RAM_CHUNK_BYTES (256 * 1024)
#define RAM_CHUNK_PAGES 16384
/*
 * save_complete: bytes per self-contained piece; a record takes pieces
 * until it passes savevm's 1 MiB split size.
 */
#define RAM_COMPLETE_PIECE (256 * 1024)
/* Most one page adds: a batch's flags, block, count, offset, data. */
#define RAM_ITEM_MAX (1 + 4 + 4 + 8 + RAM_PAGE_SIZE)

/* Destination: pages per cached zero-hint window. */
#define RAM_HINT_PAGES 4096

typedef struct RamSaveBlock {
    RAMBlock *rb;
    bool ignored; /* x-ignore-shared: the destination maps the same fd */
} RamSaveBlock;

typedef struct RamSaveState {
    RamSaveBlock *blocks;
    guint nblocks;
    bool log;         /* memory_global_dirty_log_start() done */
    int pagemap_fd;   /* /proc/self/pagemap, -1 if unavailable */
    GError *sync_err; /* a failed sync, reported by the next iterate */

    /*
     * Scan cursor: block CUR, next bitmap word NEXT_WORD. HELD holds the
     * bits taken from word HELD_WORD and not sent yet; HELD_ZERO marks
     * which of them are known zero without reading them.
     */
    guint cur;
    uint64_t next_word;
    uint64_t held_word;
    unsigned long held;
    unsigned long held_zero;
    /*
     * The first pass (every page marked dirty at setup) is not over: only
     * then can a page to send be one the guest never wrote.
     */
    bool first_pass;

    /* Dirty page rate: pages that became dirty since PERIOD_START_NS. */
    int64_t period_start_ns;
    uint64_t period_pages;
} RamSaveState;

typedef struct RamLoadBlock {
    RAMBlock *rb;
    bool ignored;
} RamLoadBlock;

typedef struct RamLoadState {
    RamLoadBlock *blocks; /* NULL until the block list arrived */
    guint nblocks;
    int pagemap_fd;

    /* Zero hints for pages [hint_first, +RAM_HINT_PAGES) of hint_block. */
    int hint_block; /* -1: none cached */
    uint64_t hint_first;
    unsigned long hint[RAM_HINT_PAGES / BPW];
} RamLoadState;

typedef struct RamState {
    RamSaveState save;
    RamLoadState load;
} RamState;

static RamState ram_state = {
    .save.pagemap_fd = -1,
    .load.pagemap_fd = -1,
    .load.hint_block = -1,
};

/* ---- statistics ---- */

static RamMigrationStats ram_stats;

static void stat_set(uint64_t *field, uint64_t v)
{
    __atomic_store_n(field, v, __ATOMIC_RELAXED);
}

static void stat_add(uint64_t *field, uint64_t v)
{
    __atomic_fetch_add(field, v, __ATOMIC_RELAXED);
}

/* Read and reset as an array of counters. */
G_STATIC_ASSERT(sizeof(RamMigrationStats) % sizeof(uint64_t) == 0);

void ram_migration_get_stats(RamMigrationStats *st)
{
    const uint64_t *src = (const uint64_t *)&ram_stats;
    uint64_t *dst = (uint64_t *)st;

    for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++) {
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
}

static void add_int(JsonBuilder *b, const char *name, int64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

void ram_migration_stats_to_json(JsonBuilder *b, uint64_t transferred,
                                 double mbps, double pages_per_second,
                                 bool completed)
{
    RamMigrationStats r;

    ram_migration_get_stats(&r);
    json_builder_set_member_name(b, "ram");
    json_builder_begin_object(b);
    add_int(b, "transferred", transferred);
    add_int(b, "remaining", completed ? 0 : r.remaining);
    add_int(b, "total", r.total);
    add_int(b, "duplicate", r.duplicate);
    add_int(b, "normal", r.normal);
    add_int(b, "normal-bytes", r.normal_bytes);
    add_int(b, "dirty-pages-rate", completed ? 0 : r.dirty_pages_rate);
    json_builder_set_member_name(b, "mbps");
    json_builder_add_double_value(b, mbps);
    add_int(b, "dirty-sync-count", r.dirty_sync_count);
    add_int(b, "postcopy-requests", 0);
    add_int(b, "page-size", r.page_size ? r.page_size : 4096);
    add_int(b, "multifd-bytes", 0);
    add_int(b, "pages-per-second", (int64_t)pages_per_second);
    add_int(b, "precopy-bytes", r.precopy_bytes);
    add_int(b, "downtime-bytes", r.downtime_bytes);
    add_int(b, "postcopy-bytes", 0);
    add_int(b, "dirty-sync-missed-zero-copy", 0);
    json_builder_end_object(b);
}

/* Counters of one chunk, added to ram_stats at its end. */
typedef struct RamChunk {
    uint64_t bytes;
    uint64_t zero;
    uint64_t normal;
} RamChunk;

static void ram_chunk_account(const RamChunk *c, bool downtime)
{
    uint64_t pages = c->zero + c->normal, rem;

    stat_add(&ram_stats.transferred, c->bytes);
    stat_add(downtime ? &ram_stats.downtime_bytes : &ram_stats.precopy_bytes,
             c->bytes);
    stat_add(&ram_stats.duplicate, c->zero);
    stat_add(&ram_stats.normal, c->normal);
    stat_add(&ram_stats.normal_bytes, c->normal * RAM_PAGE_SIZE);
    /* Single writer (this thread): a load-modify-store is enough. */
    rem = __atomic_load_n(&ram_stats.remaining, __ATOMIC_RELAXED);
    rem -= MIN(rem, pages * RAM_PAGE_SIZE);
    stat_set(&ram_stats.remaining, rem);
}

/* ---- zero pages ---- */

/* Whether the page at P reads as zero; ~24 GiB/s here (memory bound). */
static bool ram_page_is_zero(const void *p)
{
    const unsigned long *w = p;

    for (size_t i = 0; i < RAM_PAGE_SIZE / sizeof(*w); i += 8) {
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] |
            w[i + 6] | w[i + 7]) {
            return false;
        }
    }
    return true;
}

#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)

static bool ram_hint_pagemap(int pagemap_fd, const RAMBlock *rb, uint64_t first,
                             uint64_t n, unsigned long *out)
{
    uint64_t vpn = ((uintptr_t)rb->host >> RAM_PAGE_BITS) + first;
    uint64_t ent[512];

    for (uint64_t done = 0; done < n;) {
        uint64_t k = MIN(n - done, G_N_ELEMENTS(ent));
        ssize_t len = pread(pagemap_fd, ent, k * sizeof(ent[0]),
                            (vpn + done) * sizeof(ent[0]));

        if (len != (ssize_t)(k * sizeof(ent[0]))) {
            return false;
        }
        for (uint64_t i = 0; i < k; i++, done++) {
            if (!(ent[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED))) {
                out[done / BPW] |= 1UL << (done % BPW);
            }
        }
    }
    return true;
}

static void ram_hint_mark(unsigned long *out, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        out[i / BPW] |= 1UL << (i % BPW);
    }
}

static bool ram_hint_holes(const RAMBlock *rb, uint64_t first, uint64_t n,
                           unsigned long *out)
{
    off_t base = rb->fd_offset + (first << RAM_PAGE_BITS);
    off_t end = base + (n << RAM_PAGE_BITS);
    off_t pos = base;

    while (pos < end) {
        off_t data = lseek(rb->fd, pos, SEEK_DATA);

        if (data < 0 && errno != ENXIO) {
            return false; /* no SEEK_DATA here: nothing known */
        }
        if (data < 0 || data > end) {
            data = end; /* no data up to the end of the range */
        }
        /* Whole pages inside the hole [pos, data). */
        ram_hint_mark(out, (pos - base + RAM_PAGE_SIZE - 1) >> RAM_PAGE_BITS,
                      (data - base) >> RAM_PAGE_BITS);
        if (data >= end) {
            break;
        }
        pos = lseek(rb->fd, data, SEEK_HOLE);
        if (pos < 0) {
            break;
        }
    }
    return true;
}

/*
 * Set in OUT (N bits, cleared by the caller) the pages [FIRST, FIRST+N) of
 * RB that are known to read as zero without touching them: never populated
 * private anonymous pages (no page table entry and not swapped, from
 * /proc/self/pagemap) and pages in holes of a shared fd (SEEK_DATA).
 * Reading them instead would fault in every page of an idle guest (0.8 s
 * per 4 GiB here) or, for shared memory, allocate them. A hint is only
 * valid at the time it is taken: callers take it after the page's dirty
 * bit (source) or while nothing else writes the block (destination).
 */
static bool ram_hint_zero(int pagemap_fd, const RAMBlock *rb, uint64_t first,
                          uint64_t n, unsigned long *out)
{
    if (rb->fd < 0 && !(rb->flags & RAM_SHARED)) {
        return pagemap_fd >= 0 &&
               ram_hint_pagemap(pagemap_fd, rb, first, n, out);
    }
    if (rb->fd >= 0 && (rb->flags & RAM_SHARED)) {
        return ram_hint_holes(rb, first, n, out);
    }
    /* Private file mappings: a hole does not mean zero (COW copies). */
    return false;
}

static int ram_open_pagemap(void)
{
    /* Failure only costs speed: every page is then read to check it. */
    return open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* ---- source ---- */

static bool ram_ignore_shared(void)
{
    return savevm_options()->ignore_shared;
}

static bool ram_block_is_ignored(const RAMBlock *rb, bool ignore_shared)
{
    return (rb->flags & RAM_DEVICE) ||
           (ignore_shared && (rb->flags & RAM_SHARED) && rb->fd >= 0);
}

/* Whether some block is not ignored, so that its pages are sent. */
static bool ram_sends_pages(void)
{
    const GPtrArray *list = ram_block_list();
    bool ignore_shared = ram_ignore_shared();

    for (guint i = 0; i < list->len; i++) {
        if (!ram_block_is_ignored(g_ptr_array_index(list, i), ignore_shared)) {
            return true;
        }
    }
    return false;
}

static uint64_t ram_dirty_pages(RamSaveState *rs)
{
    uint64_t n = __builtin_popcountl(rs->held);

    for (guint i = 0; i < rs->nblocks; i++) {
        if (!rs->blocks[i].ignored) {
            n += ram_block_dirty_pages(rs->blocks[i].rb);
        }
    }
    return n;
}

static void ram_save_reset_stats(uint64_t total)
{
    uint64_t *fields = (uint64_t *)&ram_stats;

    /* Field by field: query-migrate may be reading them right now. */
    for (size_t i = 0; i < sizeof(ram_stats) / sizeof(uint64_t); i++) {
        stat_set(&fields[i], 0);
    }
    stat_set(&ram_stats.page_size, RAM_PAGE_SIZE);
    stat_set(&ram_stats.total, total);
    stat_set(&ram_stats.remaining, total);
}

static bool ram_save_collect_blocks(RamSaveState *rs, GError **errp)
{
    const GPtrArray *list = ram_block_list();
    bool ignore_shared = ram_ignore_shared();

    if (list->len > RAM_MAX_BLOCKS) {
        error_setg(errp, "%u RAM blocks exceed the migration limit of %d",
                   list->len, RAM_MAX_BLOCKS);
        return false;
    }
    rs->blocks = g_new0(RamSaveBlock, MAX(list->len, 1));
    rs->nblocks = 0;
    for (guint i = 0; i < list->len; i++) {
        RAMBlock *rb = g_ptr_array_index(list, i);

        if (rb->flags & RAM_DEVICE) {
            continue; /* a device's memory: the device's state has it */
        }
        if (strlen(rb->idstr) > 255) {
            error_setg(errp, "RAM block name '%s' is longer than 255 bytes",
                       rb->idstr);
            return false;
        }
        if (rb->size & (RAM_PAGE_SIZE - 1)) {
            error_setg(errp,
                       "RAM block '%s' size 0x%" PRIx64
                       " is not a multiple of the page size %u",
                       rb->idstr, rb->size, RAM_PAGE_SIZE);
            return false;
        }
        rs->blocks[rs->nblocks].rb = rb;
        rs->blocks[rs->nblocks].ignored =
            ram_block_is_ignored(rb, ignore_shared);
        rs->nblocks++;
    }
    return true;
}

static void ram_save_put_block_list(MigStream *f, RamSaveState *rs, RamChunk *c)
{
    mig_put_u8(f, RAM_ITEM_BLOCK_LIST);
    mig_put_be32(f, RAM_PAGE_SIZE);
    mig_put_be32(f, rs->nblocks);
    c->bytes += 9;
    for (guint i = 0; i < rs->nblocks; i++) {
        const RAMBlock *rb = rs->blocks[i].rb;

        mig_put_str(f, rb->idstr);
        mig_put_be64(f, rb->size);
        mig_put_be32(f, rs->blocks[i].ignored ? RAM_BLOCK_IGNORED : 0);
        c->bytes += 1 + strlen(rb->idstr) + 8 + 4;
    }
    mig_put_u8(f, RAM_ITEM_EOS);
    c->bytes++;
}

static uint64_t ram_sync(RamSaveState *rs);

/* Big lock held (register.h). */
static bool ram_save_setup(MigStream *f, void *opaque, GError **errp)
{
    RamSaveState *rs = &((RamState *)opaque)->save;
    RamChunk c = {0};
    uint64_t total = 0;
    bool any_sent = ram_sends_pages();

    g_assert(!rs->blocks && !rs->log);
    if (!ram_save_collect_blocks(rs, errp)) {
        return false;
    }
    rs->pagemap_fd = ram_open_pagemap();
    rs->cur = 0;
    rs->next_word = 0;
    rs->held = 0;
    rs->first_pass = true;

    /*
     * Logging must be on before the first page is read, and the first pass
     * sends every page: so start logging (the RAM blocks' bitmaps and every
     * memory listener's log, KVM's among them) and mark every page dirty
     * here. A page the guest writes after this is then either read
     * later in the pass or reported by the next sync.
     *
     * With every block ignored (cpr-transfer, cpr-exec: RAM is mapped in
     * place) there is nothing to log: starting it would only cost time,
     * and a sync at the switchover would stretch the pause with RAM size.
     */
    if (any_sent) {
        if (!memory_global_dirty_log_start(errp)) {
            return false; /* save_cleanup undoes the rest */
        }
        rs->log = true;
    }
    for (guint i = 0; i < rs->nblocks; i++) {
        if (!rs->blocks[i].ignored) {
            ram_block_set_dirty(rs->blocks[i].rb, 0, rs->blocks[i].rb->size);
            total += rs->blocks[i].rb->size;
        }
    }
    rs->period_start_ns = g_get_monotonic_time() * 1000;
    rs->period_pages = 0;

    ram_save_reset_stats(total);
    /* As QEMU: the first pass is sync (and MIGRATION_PASS) number 1. */
    ram_sync(rs);
    ram_save_put_block_list(f, rs, &c);
    ram_chunk_account(&c, false);
    return mig_stream_check(f, errp);
}

/*
 * The pages just taken into rs->held are about to be checked for zeroes,
 * one after the other: known-zero ones are marked in rs->held_zero, the
 * first line of each other one is fetched ahead, so the checks (most end
 * there) do not wait for memory one by one.
 *
 * Known zero: in the first pass, pages the guest never wrote, whose
 * reading would fault them in (ram_hint_zero()). After it, every dirty
 * page was written since the pass before (a page dropped since then
 * reads as zero cheaply), so the hint (a pagemap read per word) is not
 * worth its cost there, inside the pause above all.
 */
static void ram_hold_prefetch(RamSaveState *rs, const RAMBlock *rb)
{
    uint64_t first = rs->held_word * BPW;
    unsigned long todo;

    if (rs->first_pass) {
        ram_hint_zero(rs->pagemap_fd, rb, first,
                      MIN(BPW, ram_block_pages(rb) - first), &rs->held_zero);
    }
    for (todo = rs->held & ~rs->held_zero; todo; todo &= todo - 1) {
        uint64_t page = first + __builtin_ctzl(todo);

        __builtin_prefetch((const uint8_t *)rb->host + (page << RAM_PAGE_BITS));
    }
}

/*
 * Take the next non-empty bitmap word from the cursor on into rs->held;
 * false at the end of the pass (the cursor then goes back to the start).
 *
 * Ordering: a page's bit is taken here, before its contents are read
 * (and, for KVM, after the sync that moved KVM's bit into the bitmap); a
 * write that lands after the bit is taken sets it again and the page goes
 * in a later pass. The zero hint is taken after the bit for the same
 * reason.
 */
static bool ram_take_dirty_word(RamSaveState *rs)
{
    while (rs->cur < rs->nblocks) {
        RamSaveBlock *b = &rs->blocks[rs->cur];
        uint64_t words = ram_block_dirty_words(b->rb);

        if (!b->ignored) {
            while (rs->next_word < words) {
                uint64_t w = ram_block_next_dirty_word(b->rb, rs->next_word);

                if (w >= words) {
                    break;
                }
                rs->next_word = w + 1;
                rs->held = ram_block_fetch_and_clear_dirty_word(b->rb, w);
                if (rs->held) {
                    rs->held_word = w;
                    rs->held_zero = 0;
                    ram_hold_prefetch(rs, b->rb);
                    return true;
                }
            }
        }
        rs->cur++;
        rs->next_word = 0;
    }
    rs->cur = 0;
    rs->first_pass = false;
    return false;
}

/*
 * One page item, the data copied (the guest may still be writing it);
 * LAST is the block of the previous page item in this payload.
 */
static void ram_save_page(MigStream *f, RamSaveState *rs, uint64_t page,
                          bool zero, int *last, RamChunk *c)
{
    const RAMBlock *rb = rs->blocks[rs->cur].rb;
    uint64_t offset = page << RAM_PAGE_BITS;
    const uint8_t *host = (const uint8_t *)rb->host + offset;
    uint8_t flags = zero ? RAM_ITEM_ZERO : RAM_ITEM_PAGE;

    if (*last != (int)rs->cur) {
        flags |= RAM_ITEM_NEW_BLOCK;
    }
    mig_put_u8(f, flags);
    if (flags & RAM_ITEM_NEW_BLOCK) {
        mig_put_be32(f, rs->cur);
        c->bytes += 4;
        *last = rs->cur;
    }
    mig_put_be64(f, offset);
    c->bytes += 9;
    if (zero) {
        c->zero++;
    } else {
        mig_put_buffer(f, host, RAM_PAGE_SIZE);
        c->bytes += RAM_PAGE_SIZE;
        c->normal++;
    }
}

/* Guest stopped: non-zero pages of one block waiting to go as a batch. */
typedef struct RamBatch {
    guint block;
    unsigned int n;
    uint64_t offset[RAM_BATCH_PAGES];
} RamBatch;

static void ram_batch_flush(MigStream *f, RamSaveState *rs, RamBatch *b,
                            int *last)
{
    const uint8_t *host;

    if (!b->n) {
        return;
    }
    host = rs->blocks[b->block].rb->host;
    mig_put_u8(f, RAM_ITEM_BATCH);
    mig_put_be32(f, b->block);
    mig_put_be32(f, b->n);
    for (unsigned int i = 0; i < b->n; i++) {
        mig_put_be64(f, b->offset[i]);
    }
    /*
     * Nothing changes them before the migration ends (the source runs the
     * guest again only once it failed): send in place.
     */
    for (unsigned int i = 0; i < b->n; i++) {
        mig_put_buffer_ref(f, host + b->offset[i], RAM_PAGE_SIZE);
    }
    *last = b->block;
    b->n = 0;
}

static void ram_batch_add(MigStream *f, RamSaveState *rs, RamBatch *b,
                          uint64_t page, int *last, RamChunk *c)
{
    if (b->n && (b->block != rs->cur || b->n == RAM_BATCH_PAGES)) {
        ram_batch_flush(f, rs, b, last);
    }
    if (!b->n) {
        b->block = rs->cur;
        c->bytes += 1 + 4 + 4;
    }
    b->offset[b->n++] = page << RAM_PAGE_BITS;
    c->bytes += 8 + RAM_PAGE_SIZE;
    c->normal++;
}

/*
 * Send dirty pages from the cursor on until MAX_BYTES written or
 * MAX_PAGES sent (0: no limit) or the end of the pass (returns true),
 * then the end-of-payload item. STOPPED: the guest is stopped, so
 * non-zero pages go in batches, referenced rather than copied
 * (mig_put_buffer_ref()); while it runs a page must be copied at once,
 * or the checksum computed over it could differ from the bytes sent.
 */
static bool ram_save_pages(MigStream *f, RamSaveState *rs, uint64_t max_bytes,
                           uint64_t max_pages, bool stopped, RamChunk *c)
{
    bool end_of_pass = false;
    int last = -1;
    RamBatch batch = {0};

    for (;;) {
        unsigned int bit;
        uint64_t page;
        bool zero;

        if ((max_bytes && c->bytes + RAM_ITEM_MAX + 1 > max_bytes) ||
            (max_pages && c->zero + c->normal >= max_pages)) {
            break;
        }
        if (!rs->held && !ram_take_dirty_word(rs)) {
            end_of_pass = true;
            break;
        }
        bit = __builtin_ctzl(rs->held);
        rs->held &= rs->held - 1;
        page = rs->held_word * BPW + bit;
        zero = (rs->held_zero & (1UL << bit)) ||
               ram_page_is_zero((const uint8_t *)rs->blocks[rs->cur].rb->host +
                                (page << RAM_PAGE_BITS));
        if (stopped && !zero) {
            ram_batch_add(f, rs, &batch, page, &last, c);
        } else {
            ram_save_page(f, rs, page, zero, &last, c);
        }
    }
    ram_batch_flush(f, rs, &batch, &last);
    mig_put_u8(f, RAM_ITEM_EOS);
    c->bytes++;
    return end_of_pass;
}

/* Migration thread, big lock not held. */
static int ram_save_iterate(MigStream *f, void *opaque, GError **errp)
{
    RamSaveState *rs = &((RamState *)opaque)->save;
    RamChunk c = {0};
    bool done;

    if (rs->sync_err) {
        g_propagate_error(errp, g_steal_pointer(&rs->sync_err));
        return -1;
    }
    done = ram_save_pages(f, rs, RAM_CHUNK_BYTES, RAM_CHUNK_PAGES, false, &c);
    ram_chunk_account(&c, false);
    if (!mig_stream_check(f, errp)) {
        return -1;
    }
    return done ? 1 : 0;
}

/*
 * Fold the listeners' dirty logs (KVM's) into the bitmaps and recount.
 * Big lock held. A failure is kept for the next iterate/complete to report.
 */
static uint64_t ram_sync(RamSaveState *rs)
{
    uint64_t before = ram_dirty_pages(rs), after;
    int64_t now, elapsed;

    if (rs->log && !rs->sync_err) {
        memory_global_dirty_log_sync(&rs->sync_err);
    }
    after = ram_dirty_pages(rs);
    stat_add(&ram_stats.dirty_sync_count, 1);
    stat_set(&ram_stats.remaining, after * RAM_PAGE_SIZE);

    /*
     * Pages that became dirty: the growth of the count over this sync (a
     * page dirtied again before it was sent counts once). The rate is
     * taken over periods of at least a second, as QEMU does.
     */
    rs->period_pages += after > before ? after - before : 0;
    now = g_get_monotonic_time() * 1000;
    elapsed = now - rs->period_start_ns;
    if (elapsed >= 1000000000LL) {
        stat_set(&ram_stats.dirty_pages_rate,
                 rs->period_pages * 1000000000ULL / elapsed);
        rs->period_start_ns = now;
        rs->period_pages = 0;
    }
    return after;
}

static uint64_t ram_save_pending(void *opaque, bool sync)
{
    RamSaveState *rs = &((RamState *)opaque)->save;
    uint64_t pages;

    if (!rs->blocks) {
        return 0;
    }
    pages = sync ? ram_sync(rs) : ram_dirty_pages(rs);
    return pages * RAM_PAGE_SIZE;
}

/* vCPUs stopped, big lock held: nothing dirties memory any more. */
static bool ram_save_complete(MigStream *f, void *opaque, GError **errp)
{
    RamSaveState *rs = &((RamState *)opaque)->save;
    /* Finish the current pass, then one more for pages behind the cursor. */
    int passes = rs->cur || rs->next_word || rs->held ? 2 : 1;

    ram_sync(rs);
    savevm_note_synced();
    if (rs->sync_err) {
        g_propagate_error(errp, g_steal_pointer(&rs->sync_err));
        return false;
    }
    /*
     * Pieces of up to RAM_COMPLETE_PIECE, each ending with its EOS item so
     * that it parses alone; savevm_live_split() turns them into records
     * of their own once enough has accumulated (the 16 MiB record limit).
     * Never split after the last piece: the SECTION_END record must not be
     * left empty.
     */
    for (;;) {
        RamChunk c = {0};

        if (ram_save_pages(f, rs, RAM_COMPLETE_PIECE, 0, true, &c)) {
            passes--;
        }
        ram_chunk_account(&c, true);
        if (!passes || !savevm_live_split(f)) {
            break;
        }
    }
    return mig_stream_check(f, errp);
}

static void ram_save_cleanup(void *opaque)
{
    RamSaveState *rs = &((RamState *)opaque)->save;

    if (rs->log) {
        memory_global_dirty_log_stop();
        rs->log = false;
    }
    if (rs->pagemap_fd >= 0) {
        close(rs->pagemap_fd);
        rs->pagemap_fd = -1;
    }
    g_clear_pointer(&rs->blocks, g_free);
    rs->nblocks = 0;
    rs->held = 0;
    g_clear_error(&rs->sync_err);
}

/* ---- destination ---- */

static bool ram_load_setup(void *opaque, GError **errp)
{
    RamLoadState *ls = &((RamState *)opaque)->load;

    g_clear_pointer(&ls->blocks, g_free);
    ls->nblocks = 0;
    ls->hint_block = -1;
    if (ls->pagemap_fd < 0) {
        ls->pagemap_fd = ram_open_pagemap();
    }
    return true;
}

static void ram_load_cleanup(void *opaque)
{
    RamLoadState *ls = &((RamState *)opaque)->load;

    g_clear_pointer(&ls->blocks, g_free);
    ls->nblocks = 0;
    ls->hint_block = -1;
    if (ls->pagemap_fd >= 0) {
        close(ls->pagemap_fd);
        ls->pagemap_fd = -1;
    }
}

static RAMBlock *ram_find_local(const char *idstr)
{
    const GPtrArray *list = ram_block_list();

    for (guint i = 0; i < list->len; i++) {
        RAMBlock *rb = g_ptr_array_index(list, i);

        if (!strcmp(rb->idstr, idstr)) {
            return rb;
        }
    }
    return NULL;
}

/* One block-list entry (stream index I); NAME already read. */
static bool ram_load_check_block(RamLoadState *ls, guint i, const char *name,
                                 uint64_t size, uint32_t flags, GError **errp)
{
    RAMBlock *rb = ram_find_local(name);

    if (flags & ~RAM_BLOCK_FLAGS_KNOWN) {
        error_setg(errp, "RAM block '%s' has unknown flags 0x%x", name, flags);
        return false;
    }
    if (!rb) {
        error_setg(errp, "RAM block '%s' in the stream does not exist here",
                   name);
        return false;
    }
    for (guint j = 0; j < i; j++) {
        if (ls->blocks[j].rb == rb) {
            error_setg(errp, "RAM block '%s' appears twice in the stream",
                       name);
            return false;
        }
    }
    if (rb->size != size) {
        error_setg(errp,
                   "RAM block '%s' has size 0x%" PRIx64 " here but 0x%" PRIx64
                   " in the stream",
                   name, rb->size, size);
        return false;
    }
    if ((flags & RAM_BLOCK_IGNORED) &&
        !((rb->flags & RAM_SHARED) && rb->fd >= 0)) {
        /* The source relies on us mapping the very same memory. */
        error_setg(errp,
                   "RAM block '%s' was not sent (x-ignore-shared) but "
                   "here it is not mapped from a shared file descriptor",
                   name);
        return false;
    }
    ls->blocks[i].rb = rb;
    ls->blocks[i].ignored = flags & RAM_BLOCK_IGNORED;
    return true;
}

static bool ram_load_block_list(MigStream *f, RamLoadState *ls, GError **errp)
{
    const GPtrArray *local = ram_block_list();
    uint32_t page_size = mig_get_be32(f);
    uint32_t n = mig_get_be32(f);

    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (ls->blocks) {
        error_setg(errp, "RAM block list appears twice in the stream");
        return false;
    }
    if (page_size != RAM_PAGE_SIZE) {
        error_setg(errp,
                   "RAM page size %u in the stream is not supported "
                   "(expected %u)",
                   page_size, RAM_PAGE_SIZE);
        return false;
    }
    if (n > RAM_MAX_BLOCKS) {
        error_setg(errp, "RAM block count %u exceeds the maximum %d", n,
                   RAM_MAX_BLOCKS);
        return false;
    }
    ls->blocks = g_new0(RamLoadBlock, MAX(n, 1));
    ls->nblocks = n;
    for (guint i = 0; i < n; i++) {
        char name[256];
        uint64_t size;
        uint32_t flags;

        mig_get_str(f, name);
        size = mig_get_be64(f);
        flags = mig_get_be32(f);
        if (!mig_stream_check(f, errp) ||
            !ram_load_check_block(ls, i, name, size, flags, errp)) {
            goto fail;
        }
    }
    /*
     * Every local block must have come, but a device's memory (RAM_DEVICE,
     * which a source before it was skipped may still list as ignored).
     */
    for (guint i = 0; i < local->len; i++) {
        RAMBlock *rb = g_ptr_array_index(local, i);
        guint j;

        if (rb->flags & RAM_DEVICE) {
            continue;
        }
        for (j = 0; j < n && ls->blocks[j].rb != rb; j++) {
        }
        if (j == n) {
            error_setg(errp,
                       "RAM block '%s' exists here but is not in the "
                       "stream",
                       rb->idstr);
            goto fail;
        }
    }
    return true;

fail:
    g_clear_pointer(&ls->blocks, g_free);
    ls->nblocks = 0;
    return false;
}

/* Whether PAGE of block BI is known zero without reading it. */
static bool ram_load_known_zero(RamLoadState *ls, guint bi, uint64_t page)
{
    const RAMBlock *rb = ls->blocks[bi].rb;
    uint64_t idx;

    if (ls->hint_block != (int)bi || page < ls->hint_first ||
        page >= ls->hint_first + RAM_HINT_PAGES) {
        uint64_t first = page - page % RAM_HINT_PAGES;

        memset(ls->hint, 0, sizeof(ls->hint));
        ls->hint_block = bi;
        ls->hint_first = first;
        if (!ram_hint_zero(ls->pagemap_fd, rb, first,
                           MIN(RAM_HINT_PAGES, ram_block_pages(rb) - first),
                           ls->hint)) {
            memset(ls->hint, 0, sizeof(ls->hint));
        }
    }
    idx = page - ls->hint_first;
    return ls->hint[idx / BPW] & (1UL << (idx % BPW));
}

/* This loader is the only writer: keep the cached hint true. */
static void ram_load_hint_written(RamLoadState *ls, guint bi, uint64_t page)
{
    if (ls->hint_block == (int)bi && page >= ls->hint_first &&
        page < ls->hint_first + RAM_HINT_PAGES) {
        uint64_t idx = page - ls->hint_first;

        ls->hint[idx / BPW] &= ~(1UL << (idx % BPW));
    }
}

/* Whether a page at OFFSET of block BI may be written. */
static bool ram_load_check_offset(RamLoadState *ls, guint bi, uint64_t offset,
                                  GError **errp)
{
    const RAMBlock *rb = ls->blocks[bi].rb;

    if (ls->blocks[bi].ignored) {
        error_setg(errp,
                   "RAM block '%s' is not migrated (x-ignore-shared) "
                   "but the stream has a page for it",
                   rb->idstr);
        return false;
    }
    if (offset & (RAM_PAGE_SIZE - 1)) {
        error_setg(errp,
                   "RAM page offset 0x%" PRIx64 " in block '%s' is "
                   "not page aligned",
                   offset, rb->idstr);
        return false;
    }
    if (offset >= rb->size || rb->size - offset < RAM_PAGE_SIZE) {
        error_setg(errp,
                   "RAM page offset 0x%" PRIx64 " is beyond the end "
                   "of block '%s' (size 0x%" PRIx64 ")",
                   offset, rb->idstr, rb->size);
        return false;
    }
    return true;
}

/* The block index of a page item or batch, checked. */
static bool ram_load_block_index(MigStream *f, RamLoadState *ls, int *cur,
                                 GError **errp)
{
    uint32_t bi = mig_get_be32(f);

    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (bi >= ls->nblocks) {
        error_setg(errp, "RAM block index %u is out of range (%u blocks)",
                   bi, ls->nblocks);
        return false;
    }
    *cur = bi;
    return true;
}

/*
 * A batch: block index, count, the pages' offsets, then their data, read
 * straight into guest RAM.
 */
static bool ram_load_batch(MigStream *f, RamLoadState *ls, int *cur,
                           GError **errp)
{
    struct iovec iov[RAM_BATCH_MAX];
    uint64_t page[RAM_BATCH_MAX];
    const RAMBlock *rb;
    uint32_t n;

    if (!ls->blocks) {
        error_setg(errp, "RAM page record before the block list");
        return false;
    }
    if (!ram_load_block_index(f, ls, cur, errp)) {
        return false;
    }
    rb = ls->blocks[*cur].rb;
    n = mig_get_be32(f);
    if (!mig_stream_check(f, errp)) {
        return false;
    }
    if (n == 0 || n > RAM_BATCH_MAX) {
        error_setg(errp, "RAM page batch of %u pages (1 to %d allowed)", n,
                   RAM_BATCH_MAX);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t offset = mig_get_be64(f);

        if (!mig_stream_check(f, errp) ||
            !ram_load_check_offset(ls, *cur, offset, errp)) {
            return false;
        }
        page[i] = offset >> RAM_PAGE_BITS;
        iov[i].iov_base = (uint8_t *)rb->host + offset;
        iov[i].iov_len = RAM_PAGE_SIZE;
    }
    mig_get_iov(f, iov, n);
    for (uint32_t i = 0; i < n; i++) {
        ram_load_hint_written(ls, *cur, page[i]);
    }
    return mig_stream_check(f, errp);
}

static bool ram_load_page(MigStream *f, RamLoadState *ls, uint8_t flags,
                          int *cur, GError **errp)
{
    const RAMBlock *rb;
    uint64_t offset, page;
    uint8_t *host;

    if (!ls->blocks) {
        error_setg(errp, "RAM page record before the block list");
        return false;
    }
    if ((flags & RAM_ITEM_NEW_BLOCK) &&
        !ram_load_block_index(f, ls, cur, errp)) {
        return false;
    }
    if (*cur < 0) {
        error_setg(errp, "RAM page record names no block");
        return false;
    }
    rb = ls->blocks[*cur].rb;
    offset = mig_get_be64(f);
    if (!mig_stream_check(f, errp) ||
        !ram_load_check_offset(ls, *cur, offset, errp)) {
        return false;
    }
    host = (uint8_t *)rb->host + offset;
    page = offset >> RAM_PAGE_BITS;
    if (flags & RAM_ITEM_PAGE) {
        mig_get_buffer(f, host, RAM_PAGE_SIZE);
        ram_load_hint_written(ls, *cur, page);
        return mig_stream_check(f, errp);
    }
    /* Reading a fresh page to compare it is cheaper than writing it. */
    if (!ram_load_known_zero(ls, *cur, page) && !ram_page_is_zero(host)) {
        memset(host, 0, RAM_PAGE_SIZE);
    }
    return true;
}

/* One record: one or more payloads, each ending with its EOS item. */
static bool ram_load_state(MigStream *f, void *opaque, int version_id,
                           GError **errp)
{
    RamLoadState *ls = &((RamState *)opaque)->load;
    int cur = -1; /* block of the previous page item in this payload */

    for (;;) {
        uint8_t flags = mig_get_u8(f);
        bool ok;

        if (!mig_stream_check(f, errp)) {
            return false;
        }
        if (flags & ~(version_id >= 2 ? RAM_ITEM_KNOWN : RAM_ITEM_KNOWN_V1)) {
            error_setg(errp, "RAM record has unknown flags 0x%x", flags);
            return false;
        }
        switch (flags) {
        case RAM_ITEM_ZERO:
        case RAM_ITEM_ZERO | RAM_ITEM_NEW_BLOCK:
        case RAM_ITEM_PAGE:
        case RAM_ITEM_PAGE | RAM_ITEM_NEW_BLOCK:
            ok = ram_load_page(f, ls, flags, &cur, errp);
            break;
        case RAM_ITEM_BATCH:
            ok = ram_load_batch(f, ls, &cur, errp);
            break;
        case RAM_ITEM_BLOCK_LIST:
            ok = ram_load_block_list(f, ls, errp);
            break;
        case RAM_ITEM_EOS:
            /* Pieces of save_complete may share one record. */
            if (mig_stream_eof(f)) {
                return true;
            }
            cur = -1;
            ok = true;
            break;
        default:
            error_setg(errp, "RAM record has invalid flags 0x%x", flags);
            return false;
        }
        if (!ok) {
            return false;
        }
    }
}

/* ---- registration ---- */

/* Batches (version 2) only exist where pages are sent. */
static int ram_save_version(void *opaque)
{
    (void)opaque;
    return ram_sends_pages() ? RAM_SECTION_VERSION : 1;
}

static const SaveVMHandlers ram_handlers = {
    .save_setup = ram_save_setup,
    .save_iterate = ram_save_iterate,
    .save_pending = ram_save_pending,
    .save_complete = ram_save_complete,
    .save_cleanup = ram_save_cleanup,
    .save_version = ram_save_version,
    .load_setup = ram_load_setup,
    .load_cleanup = ram_load_cleanup,
    .load_state = ram_load_state,
    .load_streamed = true,
};

static void ram_register(void)
{
    savevm_register_live("ram", 0, RAM_SECTION_VERSION, &ram_handlers,
                         &ram_state);
}

type_init(ram_register)
