/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory region trees, their flattening into address spaces, and memory
 * listeners (QEMU's memory API): tree edits batch into transactions; the
 * outermost commit renders each address space's tree into sorted,
 * non-overlapping ranges and tells each listener what changed. Global
 * dirty logging is driven through the listeners. Accesses through an
 * address space are in memory-access.c, "info mtree" in memory-mtree.c.
 */
#include "util/osdep.h"

#include "system/memory.h"
#include "util/error-report.h"

#include "memory-internal.h"
#include "trace.h"

/* Exact arithmetic for alias offsets below 0 and sizes of 2^64. */
typedef __int128 i128;

AddressSpace address_space_memory;
AddressSpace address_space_io;

static MemoryRegion system_memory;
static MemoryRegion system_io;

/* Under the big lock, like everything here. */
static GPtrArray *address_spaces;
static GPtrArray *all_listeners; /* MemoryListener *, ascending priority */
static unsigned int transaction_depth;
/* The depth of the open deferred transaction; 0: none is open. */
static unsigned int deferred_depth;
static bool update_pending;
static unsigned int global_dirty_log;

/* An eventfd as listeners see it: at its address-space address. */
typedef struct FlatIoeventfd {
    MemoryRegionSection section;
    bool match_data;
    uint64_t data;
    int fd;
} FlatIoeventfd;

static i128 mr_size128(const MemoryRegion *mr)
{
    return mr->size == UINT64_MAX ? (i128)1 << 64 : (i128)mr->size;
}

/* ---- regions ---- */

static void region_init_common(MemoryRegion *mr, Object *owner,
                               const char *name, uint64_t size,
                               MemoryRegionType type)
{
    memset(mr, 0, sizeof(*mr));
    mr->name = g_strdup(name);
    mr->owner = owner;
    mr->type = type;
    mr->size = size;
    mr->enabled = true;
    mr->initialized = true;
}

void memory_region_init(MemoryRegion *mr, Object *owner, const char *name,
                        uint64_t size)
{
    region_init_common(mr, owner, name, size, MR_CONTAINER);
}

void memory_region_init_io(MemoryRegion *mr, Object *owner,
                           const MemoryRegionOps *ops, void *opaque,
                           const char *name, uint64_t size)
{
    region_init_common(mr, owner, name, size, MR_IO);
    mr->ops = ops;
    mr->opaque = opaque;
}

void memory_region_init_ram_from_block(MemoryRegion *mr, Object *owner,
                                       const char *name, RAMBlock *rb,
                                       uint64_t offset, uint64_t size)
{
    g_assert(offset <= rb->size && size <= rb->size - offset);
    region_init_common(mr, owner, name, size, MR_RAM);
    mr->ram_block = rb;
    mr->ram_offset = offset;
}

void memory_region_init_alias(MemoryRegion *mr, Object *owner,
                              const char *name, MemoryRegion *orig,
                              hwaddr offset, uint64_t size)
{
    region_init_common(mr, owner, name, size, MR_ALIAS);
    mr->alias = orig;
    mr->alias_offset = offset;
    orig->alias_users++;
}

static void mark_update(void)
{
    update_pending = true;
}

void memory_region_finalize(MemoryRegion *mr)
{
    if (!mr->initialized) {
        return; /* never initialized (a device whose realize failed early) */
    }
    g_assert(mr->alias_users == 0);
    for (guint i = 0; address_spaces && i < address_spaces->len; i++) {
        AddressSpace *as = g_ptr_array_index(address_spaces, i);

        g_assert(as->root != mr);
    }
    memory_region_transaction_begin();
    if (mr->container) {
        memory_region_del_subregion(mr->container, mr);
    }
    while (mr->subregions) {
        MemoryRegion *sub = mr->subregions;

        mr->subregions = sub->next_sibling;
        sub->next_sibling = NULL;
        sub->container = NULL;
    }
    if (mr->ioeventfds) {
        g_array_free(mr->ioeventfds, TRUE);
        mr->ioeventfds = NULL;
    }
    if (mr->alias) {
        mr->alias->alias_users--;
        mr->alias = NULL;
    }
    memory_region_transaction_commit();
    /*
     * Inside a deferred transaction only (the load of a device's state),
     * the commit above left the region in the flat views: render them
     * now, since the caller may free it next.
     */
    memory_view_sync();
    g_clear_pointer(&mr->name, g_free);
    mr->initialized = false;
}

/* Insert SUB before the first sibling of lower or equal priority. */
static void subregion_link(MemoryRegion *parent, MemoryRegion *sub)
{
    MemoryRegion **p = &parent->subregions;

    while (*p && (*p)->priority > sub->priority) {
        p = &(*p)->next_sibling;
    }
    sub->next_sibling = *p;
    *p = sub;
}

static void subregion_unlink(MemoryRegion *parent, MemoryRegion *sub)
{
    MemoryRegion **p = &parent->subregions;

    while (*p != sub) {
        g_assert(*p);
        p = &(*p)->next_sibling;
    }
    *p = sub->next_sibling;
    sub->next_sibling = NULL;
}

void memory_region_add_subregion_overlap(MemoryRegion *parent, hwaddr offset,
                                         MemoryRegion *sub, int priority)
{
    g_assert(parent->initialized && sub->initialized);
    g_assert(!sub->container); /* one parent at a time */
    memory_region_transaction_begin();
    sub->container = parent;
    sub->addr = offset;
    sub->priority = priority;
    subregion_link(parent, sub);
    mark_update();
    memory_region_transaction_commit();
}

void memory_region_add_subregion(MemoryRegion *parent, hwaddr offset,
                                 MemoryRegion *sub)
{
    memory_region_add_subregion_overlap(parent, offset, sub, 0);
}

void memory_region_del_subregion(MemoryRegion *parent, MemoryRegion *sub)
{
    g_assert(sub->container == parent);
    memory_region_transaction_begin();
    subregion_unlink(parent, sub);
    sub->container = NULL;
    mark_update();
    memory_region_transaction_commit();
}

void memory_region_set_enabled(MemoryRegion *mr, bool enabled)
{
    if (mr->enabled == enabled) {
        return;
    }
    memory_region_transaction_begin();
    mr->enabled = enabled;
    mark_update();
    memory_region_transaction_commit();
}

void memory_region_set_address(MemoryRegion *mr, hwaddr addr)
{
    MemoryRegion *parent = mr->container;

    if (mr->addr == addr) {
        return;
    }
    if (!parent) {
        mr->addr = addr;
        return;
    }
    memory_region_transaction_begin();
    /* Re-link: among equal priorities the moved region now counts as new. */
    memory_region_del_subregion(parent, mr);
    memory_region_add_subregion_overlap(parent, addr, mr, mr->priority);
    memory_region_transaction_commit();
}

void memory_region_set_alias_offset(MemoryRegion *mr, hwaddr offset)
{
    g_assert(mr->type == MR_ALIAS);
    if (mr->alias_offset == offset) {
        return;
    }
    memory_region_transaction_begin();
    mr->alias_offset = offset;
    mark_update();
    memory_region_transaction_commit();
}

void memory_region_set_readonly(MemoryRegion *mr, bool readonly)
{
    if (mr->readonly == readonly) {
        return;
    }
    memory_region_transaction_begin();
    mr->readonly = readonly;
    mark_update();
    memory_region_transaction_commit();
}

static bool ioeventfd_equal(const MemoryRegionIoeventfd *a,
                            const MemoryRegionIoeventfd *b)
{
    return a->addr == b->addr && a->size == b->size &&
           a->match_data == b->match_data &&
           (!a->match_data || a->data == b->data) && a->fd == b->fd;
}

void memory_region_add_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                               bool match_data, uint64_t data, int fd)
{
    MemoryRegionIoeventfd e = {
        .addr = addr,
        .size = size,
        .match_data = match_data,
        .data = match_data ? data : 0,
        .fd = fd,
    };

    if (!mr->ioeventfds) {
        mr->ioeventfds = g_array_new(FALSE, FALSE, sizeof(e));
    }
    memory_region_transaction_begin();
    g_array_append_val(mr->ioeventfds, e);
    mark_update();
    memory_region_transaction_commit();
}

void memory_region_del_eventfd(MemoryRegion *mr, hwaddr addr, unsigned size,
                               bool match_data, uint64_t data, int fd)
{
    MemoryRegionIoeventfd e = {
        .addr = addr,
        .size = size,
        .match_data = match_data,
        .data = match_data ? data : 0,
        .fd = fd,
    };

    for (guint i = 0; mr->ioeventfds && i < mr->ioeventfds->len; i++) {
        if (ioeventfd_equal(
                &g_array_index(mr->ioeventfds, MemoryRegionIoeventfd, i),
                &e)) {
            memory_region_transaction_begin();
            g_array_remove_index(mr->ioeventfds, i);
            mark_update();
            memory_region_transaction_commit();
            return;
        }
    }
    g_assert_not_reached(); /* deleting an eventfd that was never added */
}

const char *memory_region_name(const MemoryRegion *mr)
{
    return mr->name ? mr->name : "";
}

uint64_t memory_region_size(const MemoryRegion *mr)
{
    return mr->size;
}

static const MemoryRegion *resolve_alias(const MemoryRegion *mr,
                                         uint64_t *offset)
{
    while (mr->type == MR_ALIAS) {
        *offset += mr->alias_offset;
        mr = mr->alias;
    }
    return mr;
}

bool memory_region_is_ram(const MemoryRegion *mr)
{
    uint64_t off = 0;

    return resolve_alias(mr, &off)->type == MR_RAM;
}

RAMBlock *memory_region_get_ram_block(const MemoryRegion *mr)
{
    uint64_t off = 0;

    mr = resolve_alias(mr, &off);
    return mr->type == MR_RAM ? mr->ram_block : NULL;
}

uint64_t memory_region_get_ram_offset(const MemoryRegion *mr)
{
    uint64_t off = 0;

    mr = resolve_alias(mr, &off);
    return mr->type == MR_RAM ? mr->ram_offset + off : 0;
}

void *memory_region_get_ram_ptr(const MemoryRegion *mr)
{
    RAMBlock *rb = memory_region_get_ram_block(mr);

    return rb ? (uint8_t *)rb->host + memory_region_get_ram_offset(mr)
              : NULL;
}

/* ---- flattening ---- */

/*
 * Add the parts of [CS, CE) not yet covered in VIEW as pieces of MR, a
 * terminal region whose first byte is at address-space address START.
 * Higher-priority regions render first, so what is covered stays.
 */
static void view_fill(GArray *view, MemoryRegion *mr, i128 start, i128 cs,
                      i128 ce, bool readonly)
{
    i128 pos = cs;
    guint i = 0;

    while (i < view->len) {
        FlatRange *fr = &g_array_index(view, FlatRange, i);

        if ((i128)fr->addr + fr->size > pos) {
            break;
        }
        i++;
    }
    while (pos < ce) {
        FlatRange *fr =
            i < view->len ? &g_array_index(view, FlatRange, i) : NULL;
        i128 next;

        if (fr && (i128)fr->addr <= pos) {
            pos = (i128)fr->addr + fr->size;
            i++;
            continue;
        }
        next = fr && (i128)fr->addr < ce ? (i128)fr->addr : ce;
        {
            i128 len = next - pos;
            FlatRange piece = {
                .mr = mr,
                .offset_in_region = (hwaddr)(pos - start),
                .addr = (hwaddr)pos,
                /* A 2^64 piece cannot be represented: lose the last byte. */
                .size = len > UINT64_MAX ? UINT64_MAX : (uint64_t)len,
                .readonly = readonly,
            };

            g_array_insert_val(view, i, piece);
        }
        i++;
        pos = next;
    }
}

/*
 * Render MR, whose parent's first byte is at BASE, clipped to [CS, CE),
 * into VIEW (QEMU's render_memory_region, in 128-bit arithmetic).
 */
static void render_region(GArray *view, MemoryRegion *mr, i128 base, i128 cs,
                          i128 ce, bool readonly)
{
    i128 start, end;

    if (!mr->enabled) {
        return;
    }
    start = base + mr->addr;
    end = start + mr_size128(mr);
    cs = MAX(cs, start);
    ce = MIN(ce, end);
    if (cs >= ce) {
        return;
    }
    readonly |= mr->readonly;
    if (mr->type == MR_ALIAS) {
        /* The target's byte ALIAS_OFFSET appears at START. */
        render_region(view, mr->alias,
                      start - (i128)mr->alias_offset - mr->alias->addr, cs,
                      ce, readonly);
        return;
    }
    for (MemoryRegion *sub = mr->subregions; sub; sub = sub->next_sibling) {
        render_region(view, sub, start, cs, ce, readonly);
    }
    if (mr->type != MR_CONTAINER) {
        view_fill(view, mr, start, cs, ce, readonly);
    }
}

static bool flat_range_can_merge(const FlatRange *a, const FlatRange *b)
{
    return a->mr == b->mr && a->readonly == b->readonly &&
           a->addr + a->size == b->addr &&
           a->offset_in_region + a->size == b->offset_in_region;
}

static FlatView *generate_view(AddressSpace *as)
{
    GArray *view = g_array_new(FALSE, FALSE, sizeof(FlatRange));
    FlatView *fv = g_new0(FlatView, 1);
    guint out = 0;

    if (as->root) {
        render_region(view, as->root, -(i128)as->root->addr, 0,
                      (i128)1 << 64, false);
    }
    /* Join neighbouring pieces of one region (split by a removed overlap). */
    for (guint i = 0; i < view->len; i++) {
        FlatRange *fr = &g_array_index(view, FlatRange, i);

        if (out && flat_range_can_merge(
                       &g_array_index(view, FlatRange, out - 1), fr)) {
            g_array_index(view, FlatRange, out - 1).size += fr->size;
        } else {
            g_array_index(view, FlatRange, out++) = *fr;
        }
    }
    g_array_set_size(view, out);
    fv->nr = view->len;
    fv->ranges = (FlatRange *)g_array_free(view, FALSE);
    return fv;
}

static void flatview_free(FlatView *fv)
{
    if (fv) {
        g_free(fv->ranges);
        g_free(fv);
    }
}

const FlatRange *flatview_lookup(const FlatView *view, hwaddr addr)
{
    guint lo = 0, hi = view ? view->nr : 0;

    while (lo < hi) {
        guint mid = (lo + hi) / 2;
        const FlatRange *fr = &view->ranges[mid];

        if (addr < fr->addr) {
            hi = mid;
        } else if (addr - fr->addr >= fr->size) {
            lo = mid + 1;
        } else {
            return fr;
        }
    }
    return NULL;
}

const FlatRange *address_space_lookup(AddressSpace *as, hwaddr addr)
{
    memory_view_sync();
    return flatview_lookup(as->current_map, addr);
}

const GPtrArray *memory_address_spaces(void)
{
    return address_spaces;
}

/* ---- listeners: telling them the difference ---- */

static MemoryRegionSection section_of(AddressSpace *as, const FlatRange *fr)
{
    return (MemoryRegionSection){
        .mr = fr->mr,
        .as = as,
        .offset_within_region = fr->offset_in_region,
        .offset_within_address_space = fr->addr,
        .size = fr->size,
        .readonly = fr->readonly,
    };
}

static bool flat_range_equal(const FlatRange *a, const FlatRange *b)
{
    return a->mr == b->mr && a->offset_in_region == b->offset_in_region &&
           a->addr == b->addr && a->size == b->size &&
           a->readonly == b->readonly;
}

typedef enum ListenerOp { OP_DEL, OP_ADD, OP_NOP } ListenerOp;

/*
 * Every listener callback goes through these, so that each one is traced
 * (memory_listener_* events) the same way.
 */
static const char *listener_name(const MemoryListener *l)
{
    return l->name ? l->name : "?";
}

static void listener_region(MemoryListener *l, MemoryRegionSection *s,
                            ListenerOp op)
{
    void (*cb)(MemoryListener *, MemoryRegionSection *) =
        op == OP_ADD ? l->region_add
                     : op == OP_DEL ? l->region_del : l->region_nop;
    static const char *const ops[] = {"del", "add", "nop"};

    if (!cb) {
        return;
    }
    trace_memory_listener_region(listener_name(l), ops[op], s->as->name,
                                 s->offset_within_address_space, s->size,
                                 memory_region_name(s->mr));
    cb(l, s);
}

static void listener_eventfd(MemoryListener *l, MemoryRegionSection *s,
                             bool match_data, uint64_t data, int fd, bool add)
{
    if (!(add ? l->eventfd_add : l->eventfd_del)) {
        return;
    }
    trace_memory_listener_eventfd(listener_name(l), add ? "add" : "del",
                                  s->as->name, s->offset_within_address_space,
                                  s->size, match_data, data, fd);
    if (add) {
        l->eventfd_add(l, s, match_data, data, fd);
    } else {
        l->eventfd_del(l, s, match_data, data, fd);
    }
}

static bool listener_log_global_start(MemoryListener *l, GError **errp)
{
    trace_memory_listener_log_global(listener_name(l), "start");
    return l->log_global_start(l, errp);
}

static void listener_log_global_stop(MemoryListener *l)
{
    trace_memory_listener_log_global(listener_name(l), "stop");
    l->log_global_stop(l);
}

static void call_region(AddressSpace *as, const FlatRange *fr, ListenerOp op)
{
    MemoryRegionSection s = section_of(as, fr);
    GPtrArray *ls = as->listeners;

    if (op == OP_DEL) {
        for (guint i = ls->len; i-- > 0;) {
            listener_region(g_ptr_array_index(ls, i), &s, OP_DEL);
        }
        return;
    }
    for (guint i = 0; i < ls->len; i++) {
        listener_region(g_ptr_array_index(ls, i), &s, op);
    }
}

/*
 * Walk OLD and NEW (both sorted) together: ranges only in OLD are deleted
 * in the first pass, ranges only in NEW added in the second, equal ones
 * reported as nops in the second.
 */
static void diff_views(AddressSpace *as, const FlatView *old,
                       const FlatView *new, bool adding)
{
    guint io = 0, in = 0, no = old ? old->nr : 0, nn = new ? new->nr : 0;

    while (io < no || in < nn) {
        const FlatRange *fo = io < no ? &old->ranges[io] : NULL;
        const FlatRange *fn = in < nn ? &new->ranges[in] : NULL;

        if (fo && fn && flat_range_equal(fo, fn)) {
            if (adding) {
                call_region(as, fn, OP_NOP);
            }
            io++;
            in++;
        } else if (fo && (!fn || fo->addr <= fn->addr)) {
            /* Gone, or replaced by something else at the same address. */
            if (!adding) {
                call_region(as, fo, OP_DEL);
            }
            io++;
        } else {
            if (adding) {
                call_region(as, fn, OP_ADD);
            }
            in++;
        }
    }
}

static int flat_ioeventfd_cmp(gconstpointer pa, gconstpointer pb)
{
    const FlatIoeventfd *a = pa, *b = pb;
    const MemoryRegionSection *sa = &a->section, *sb = &b->section;

#define CMP(x, y) if ((x) != (y)) { return (x) < (y) ? -1 : 1; }
    CMP(sa->offset_within_address_space, sb->offset_within_address_space);
    CMP(sa->size, sb->size);
    CMP(a->match_data, b->match_data);
    CMP(a->data, b->data);
    CMP(a->fd, b->fd);
    CMP((uintptr_t)sa->mr, (uintptr_t)sb->mr);
#undef CMP
    return 0;
}

/* The eventfds of every region visible in VIEW, at their AS addresses. */
static GArray *collect_ioeventfds(AddressSpace *as, const FlatView *view)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(FlatIoeventfd));

    for (guint i = 0; view && i < view->nr; i++) {
        const FlatRange *fr = &view->ranges[i];
        GArray *evs = fr->mr->ioeventfds;

        for (guint j = 0; evs && j < evs->len; j++) {
            MemoryRegionIoeventfd *e =
                &g_array_index(evs, MemoryRegionIoeventfd, j);
            FlatIoeventfd f;

            if (e->addr < fr->offset_in_region ||
                e->addr - fr->offset_in_region >= fr->size ||
                e->size > fr->size - (e->addr - fr->offset_in_region)) {
                continue;
            }
            f = (FlatIoeventfd){
                .section = {
                    .mr = fr->mr,
                    .as = as,
                    .offset_within_region = e->addr,
                    .offset_within_address_space =
                        fr->addr + (e->addr - fr->offset_in_region),
                    .size = e->size,
                    .readonly = fr->readonly,
                },
                .match_data = e->match_data,
                .data = e->data,
                .fd = e->fd,
            };
            g_array_append_val(out, f);
        }
    }
    g_array_sort(out, flat_ioeventfd_cmp);
    return out;
}

static void call_eventfd(AddressSpace *as, FlatIoeventfd *f, bool add)
{
    GPtrArray *ls = as->listeners;

    for (guint k = 0; k < ls->len; k++) {
        MemoryListener *l =
            g_ptr_array_index(ls, add ? k : ls->len - 1 - k);

        listener_eventfd(l, &f->section, f->match_data, f->data, f->fd, add);
    }
}

/* Like diff_views: dels of what went away, or adds of what appeared. */
static void diff_ioeventfds(AddressSpace *as, GArray *old, GArray *new,
                            bool adding)
{
    guint io = 0, in = 0;

    while (io < old->len || in < new->len) {
        FlatIoeventfd *fo =
            io < old->len ? &g_array_index(old, FlatIoeventfd, io) : NULL;
        FlatIoeventfd *fn =
            in < new->len ? &g_array_index(new, FlatIoeventfd, in) : NULL;
        int c = !fo ? 1 : !fn ? -1 : flat_ioeventfd_cmp(fo, fn);

        if (c < 0) {
            if (!adding) {
                call_eventfd(as, fo, false);
            }
            io++;
        } else if (c > 0) {
            if (adding) {
                call_eventfd(as, fn, true);
            }
            in++;
        } else {
            io++;
            in++;
        }
    }
}

static void listeners_begin(AddressSpace *as)
{
    for (guint i = 0; i < as->listeners->len; i++) {
        MemoryListener *l = g_ptr_array_index(as->listeners, i);

        if (l->begin) {
            l->begin(l);
        }
    }
}

static void listeners_commit(AddressSpace *as)
{
    for (guint i = 0; i < as->listeners->len; i++) {
        MemoryListener *l = g_ptr_array_index(as->listeners, i);

        if (l->commit) {
            l->commit(l);
        }
    }
}

static void address_space_update(AddressSpace *as)
{
    FlatView *old = as->current_map;
    FlatView *new = generate_view(as);
    GArray *old_evs = as->ioeventfds;
    GArray *new_evs = collect_ioeventfds(as, new);

    listeners_begin(as);
    /* A section's eventfds go before the section does, and come after. */
    diff_ioeventfds(as, old_evs, new_evs, false);
    diff_views(as, old, new, false);
    as->current_map = new;
    diff_views(as, old, new, true);
    diff_ioeventfds(as, old_evs, new_evs, true);
    listeners_commit(as);
    as->ioeventfds = new_evs;
    g_array_free(old_evs, TRUE);
    flatview_free(old);
}

static void update_all(void)
{
    update_pending = false;
    for (guint i = 0; address_spaces && i < address_spaces->len; i++) {
        address_space_update(g_ptr_array_index(address_spaces, i));
    }
}

void memory_region_transaction_begin(void)
{
    transaction_depth++;
}

void memory_region_transaction_commit(void)
{
    g_assert(transaction_depth > 0);
    if (--transaction_depth || !update_pending) {
        return;
    }
    update_all();
}

void memory_region_transaction_begin_deferred(void)
{
    g_assert(!deferred_depth);
    deferred_depth = ++transaction_depth;
}

void memory_region_transaction_commit_deferred(void)
{
    g_assert(deferred_depth && deferred_depth == transaction_depth);
    deferred_depth = 0;
    transaction_depth--;
    /* Whatever is pending stays so: see memory_view_sync(). */
}

void memory_region_flush_pending(void)
{
    g_assert(!transaction_depth);
    if (update_pending) {
        update_all();
    }
}

/*
 * Before any read of a flat view: changes left pending by deferred
 * commits are rendered first, unless the caller is inside a transaction
 * of its own (which reads the map as it was when it began, as always).
 * With no deferred transaction open, deferred_depth is 0, so this renders
 * only at depth 0, where pending changes can only come from deferred
 * commits.
 */
void memory_view_sync(void)
{
    if (update_pending && transaction_depth == deferred_depth) {
        update_all();
    }
}

/* ---- address spaces ---- */

void address_space_init(AddressSpace *as, MemoryRegion *root,
                        const char *name)
{
    memset(as, 0, sizeof(*as));
    as->name = g_strdup(name);
    as->root = root;
    as->listeners = g_ptr_array_new();
    as->ioeventfds = g_array_new(FALSE, FALSE, sizeof(FlatIoeventfd));
    if (!address_spaces) {
        address_spaces = g_ptr_array_new();
    }
    g_ptr_array_add(address_spaces, as);
    as->registered = true;
    memory_region_transaction_begin();
    mark_update();
    memory_region_transaction_commit();
}

void address_space_destroy(AddressSpace *as)
{
    while (as->listeners->len) {
        memory_listener_unregister(
            g_ptr_array_index(as->listeners, as->listeners->len - 1));
    }
    g_ptr_array_remove(address_spaces, as);
    as->registered = false;
    flatview_free(as->current_map);
    g_array_free(as->ioeventfds, TRUE);
    g_ptr_array_free(as->listeners, TRUE);
    g_free(as->name);
    memset(as, 0, sizeof(*as));
}

MemoryRegion *get_system_memory(void)
{
    return &system_memory;
}

MemoryRegion *get_system_io(void)
{
    return &system_io;
}

/*
 * The two machine address spaces exist from program start, empty, so
 * devices and tests can map into them in any order (QEMU's
 * memory_map_init). Their memory lives as long as the process.
 */
__attribute__((constructor)) static void memory_map_init(void)
{
    memory_region_init(&system_memory, NULL, "system", UINT64_MAX);
    address_space_init(&address_space_memory, &system_memory, "memory");
    memory_region_init(&system_io, NULL, "io", 0x10000);
    address_space_init(&address_space_io, &system_io, "I/O");
}

/* ---- listener registration ---- */

static void listener_insert(GPtrArray *arr, MemoryListener *l)
{
    guint i = 0;

    /* Ascending priority; equal priorities in registration order. */
    while (i < arr->len &&
           ((MemoryListener *)g_ptr_array_index(arr, i))->priority <=
               l->priority) {
        i++;
    }
    g_ptr_array_insert(arr, i, l);
}

static void listener_log_start(MemoryListener *l)
{
    GError *err = NULL;

    if (!l->log_global_start) {
        return;
    }
    if (listener_log_global_start(l, &err)) {
        l->log_started = true;
    } else {
        warn_report("memory listener '%s': %s", l->name ? l->name : "?",
                    err->message);
        g_error_free(err);
    }
}

void memory_listener_register(MemoryListener *l, AddressSpace *as)
{
    FlatView *view;

    g_assert(as->registered && !l->address_space);
    memory_view_sync();
    view = as->current_map;
    l->address_space = as;
    l->log_started = false;
    if (!all_listeners) {
        all_listeners = g_ptr_array_new();
    }
    listener_insert(all_listeners, l);
    listener_insert(as->listeners, l);
    if (global_dirty_log) {
        listener_log_start(l);
    }
    if (l->begin) {
        l->begin(l);
    }
    for (guint i = 0; view && i < view->nr; i++) {
        MemoryRegionSection s = section_of(as, &view->ranges[i]);

        listener_region(l, &s, OP_ADD);
    }
    for (guint i = 0; l->eventfd_add && i < as->ioeventfds->len; i++) {
        FlatIoeventfd *f = &g_array_index(as->ioeventfds, FlatIoeventfd, i);

        listener_eventfd(l, &f->section, f->match_data, f->data, f->fd, true);
    }
    if (l->commit) {
        l->commit(l);
    }
}

void memory_listener_unregister(MemoryListener *l)
{
    AddressSpace *as = l->address_space;
    FlatView *view;

    if (!as) {
        return;
    }
    memory_view_sync();
    view = as->current_map;
    if (l->begin) {
        l->begin(l);
    }
    for (guint i = 0; l->eventfd_del && i < as->ioeventfds->len; i++) {
        FlatIoeventfd *f = &g_array_index(as->ioeventfds, FlatIoeventfd, i);

        listener_eventfd(l, &f->section, f->match_data, f->data, f->fd, false);
    }
    for (guint i = view ? view->nr : 0; i-- > 0;) {
        MemoryRegionSection s = section_of(as, &view->ranges[i]);

        listener_region(l, &s, OP_DEL);
    }
    if (l->commit) {
        l->commit(l);
    }
    if (l->log_started && l->log_global_stop) {
        listener_log_global_stop(l);
    }
    l->log_started = false;
    g_ptr_array_remove(as->listeners, l);
    g_ptr_array_remove(all_listeners, l);
    l->address_space = NULL;
}

/* ---- global dirty logging ---- */

bool memory_global_dirty_log_start(GError **errp)
{
    if (global_dirty_log++) {
        return true;
    }
    memory_dirty_log_start();
    for (guint i = 0; all_listeners && i < all_listeners->len; i++) {
        MemoryListener *l = g_ptr_array_index(all_listeners, i);

        if (!l->log_global_start) {
            continue;
        }
        if (!listener_log_global_start(l, errp)) {
            /* Undo, most recently started first. */
            while (i-- > 0) {
                MemoryListener *u = g_ptr_array_index(all_listeners, i);

                if (u->log_started && u->log_global_stop) {
                    listener_log_global_stop(u);
                }
                u->log_started = false;
            }
            global_dirty_log = 0;
            memory_dirty_log_stop();
            return false;
        }
        l->log_started = true;
    }
    return true;
}

void memory_global_dirty_log_stop(void)
{
    g_assert(global_dirty_log > 0);
    if (--global_dirty_log) {
        return;
    }
    for (guint i = all_listeners ? all_listeners->len : 0; i-- > 0;) {
        MemoryListener *l = g_ptr_array_index(all_listeners, i);

        if (l->log_started && l->log_global_stop) {
            listener_log_global_stop(l);
        }
        l->log_started = false;
    }
    memory_dirty_log_stop();
}

bool memory_global_dirty_log_sync(GError **errp)
{
    memory_view_sync();
    for (guint i = 0; all_listeners && i < all_listeners->len; i++) {
        MemoryListener *l = g_ptr_array_index(all_listeners, i);
        AddressSpace *as = l->address_space;
        FlatView *view = as->current_map;

        if (!l->log_sync) {
            continue;
        }
        for (guint j = 0; view && j < view->nr; j++) {
            MemoryRegionSection s = section_of(as, &view->ranges[j]);

            trace_memory_listener_log_sync(listener_name(l), as->name,
                                           s.offset_within_address_space,
                                           s.size);
            if (!l->log_sync(l, &s, errp)) {
                return false;
            }
        }
    }
    return true;
}

bool memory_global_dirty_log_active(void)
{
    return global_dirty_log > 0;
}
