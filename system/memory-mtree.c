/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "info mtree" text in QEMU's layout: each address space's tree (regions
 * reached only through aliases follow as "memory-region:" trees), or with
 * -f each flattened view. Formatting only; memory.c owns the trees.
 */
#include "util/osdep.h"

#include "system/memory.h"

#include "memory-internal.h"

#define MTREE_INDENT "  "

static const char *mtree_type(const MemoryRegion *mr)
{
    while (mr->type == MR_ALIAS) {
        mr = mr->alias;
    }
    switch (mr->type) {
    case MR_RAM:
        return mr->readonly ? "rom" : "ram";
    case MR_IO:
        return "i/o";
    default:
        return "container";
    }
}

/* Last byte of [START, START+SIZE); a size of UINT64_MAX means 2^64. */
static uint64_t mtree_last(uint64_t start, uint64_t size)
{
    if (size == UINT64_MAX) {
        return start ? start - 1 : UINT64_MAX;
    }
    return start + size - 1;
}

static void mtree_queue_alias(GPtrArray *aliased, MemoryRegion *target)
{
    for (guint i = 0; i < aliased->len; i++) {
        if (g_ptr_array_index(aliased, i) == target) {
            return;
        }
    }
    g_ptr_array_add(aliased, target);
}

static void mtree_print_mr(GString *out, const MemoryRegion *mr,
                           unsigned int level, uint64_t base,
                           GPtrArray *aliased)
{
    uint64_t start = base + mr->addr;

    for (unsigned int i = 0; i < level; i++) {
        g_string_append(out, MTREE_INDENT);
    }
    g_string_append_printf(out, "%016" PRIx64 "-%016" PRIx64
                           " (prio %d, %s%s): ",
                           start, mtree_last(start, mr->size), mr->priority,
                           mtree_type(mr),
                           mr->readonly && mr->type != MR_RAM ? ", readonly"
                                                               : "");
    if (mr->type == MR_ALIAS) {
        mtree_queue_alias(aliased, mr->alias);
        g_string_append_printf(out, "alias %s @%s %016" PRIx64 "-%016" PRIx64,
                               memory_region_name(mr),
                               memory_region_name(mr->alias),
                               mr->alias_offset,
                               mtree_last(mr->alias_offset, mr->size));
    } else {
        g_string_append(out, memory_region_name(mr));
    }
    g_string_append(out, mr->enabled ? "\n" : " [disabled]\n");

    /* QEMU lists children by address, then by descending priority. */
    {
        g_autoptr(GPtrArray) subs = g_ptr_array_new();

        for (MemoryRegion *s = mr->subregions; s; s = s->next_sibling) {
            guint i = 0;

            while (i < subs->len) {
                const MemoryRegion *o = g_ptr_array_index(subs, i);

                if (s->addr < o->addr ||
                    (s->addr == o->addr && s->priority > o->priority)) {
                    break;
                }
                i++;
            }
            g_ptr_array_insert(subs, i, s);
        }
        for (guint i = 0; i < subs->len; i++) {
            mtree_print_mr(out, g_ptr_array_index(subs, i), level + 1, start,
                           aliased);
        }
    }
}

static void mtree_print_flat(GString *out, guint index,
                             const AddressSpace *as)
{
    const FlatView *fv;

    memory_view_sync();
    fv = as->current_map;
    g_string_append_printf(out, "FlatView #%u\n AS \"%s\", root: %s\n",
                           index, as->name,
                           memory_region_name(as->root));
    g_string_append_printf(out, " Root memory region: %s\n",
                           memory_region_name(as->root));
    if (!fv || !fv->nr) {
        g_string_append(out, MTREE_INDENT "No rendered FlatView\n\n");
        return;
    }
    for (guint i = 0; i < fv->nr; i++) {
        const FlatRange *fr = &fv->ranges[i];

        g_string_append_printf(out,
                               MTREE_INDENT "%016" PRIx64 "-%016" PRIx64
                               " (prio %d, %s%s): %s",
                               fr->addr, fr->addr + fr->size - 1,
                               fr->mr->priority,
                               fr->readonly && fr->mr->type == MR_RAM
                                   ? "rom" : mtree_type(fr->mr),
                               fr->readonly && fr->mr->type != MR_RAM
                                   ? ", readonly" : "",
                               memory_region_name(fr->mr));
        if (fr->offset_in_region) {
            g_string_append_printf(out, " @%016" PRIx64,
                                   fr->offset_in_region);
        }
        g_string_append_c(out, '\n');
    }
    g_string_append_c(out, '\n');
}

char *memory_mtree_format(bool flat)
{
    const GPtrArray *spaces = memory_address_spaces();
    GString *out = g_string_new(NULL);
    g_autoptr(GPtrArray) aliased = g_ptr_array_new();

    for (guint i = 0; spaces && i < spaces->len; i++) {
        const AddressSpace *as = g_ptr_array_index(spaces, i);

        if (flat) {
            mtree_print_flat(out, i, as);
            continue;
        }
        g_string_append_printf(out, "address-space: %s\n", as->name);
        mtree_print_mr(out, as->root, 1, -as->root->addr, aliased);
        g_string_append_c(out, '\n');
    }
    /* Alias targets; printing one may queue more, which the loop reaches. */
    for (guint i = 0; i < aliased->len; i++) {
        const MemoryRegion *mr = g_ptr_array_index(aliased, i);

        g_string_append_printf(out, "memory-region: %s\n",
                               memory_region_name(mr));
        mtree_print_mr(out, mr, 1, -mr->addr, aliased);
        g_string_append_c(out, '\n');
    }
    return g_string_free(out, FALSE);
}
