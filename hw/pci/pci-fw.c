/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reset-time assignment, what SeaBIOS does before an OS runs (baton has
 * no firmware): bus numbers depth first, then resources in two passes.
 * The sizing pass walks buses bottom up; a bridge becomes one item per
 * resource kind on its parent's bus, sized to hold what is behind it,
 * rounded to the window granule. The placing pass sorts each bus's items
 * by alignment, largest first (so none wastes space), and places them one
 * after another. Everything is written through the config hooks.
 */
#include "util/osdep.h"

#include "hw/pci/pci-host.h"
#include "trace.h"
#include "util/error-report.h"

typedef enum FwKind {
    FW_IO,
    FW_MEM,  /* 32-bit, or 64-bit non-prefetchable */
    FW_PREF, /* 64-bit prefetchable: may go above 4 GiB */
    FW_NKINDS,
} FwKind;

/* Bridge window granules (PCI-to-PCI Bridge 1.2, 3.2.5). */
static const uint64_t fw_granule[FW_NKINDS] = {0x1000, 0x100000, 0x100000};

typedef struct FwBus FwBus;

typedef struct FwItem {
    PCIDevice *d;
    int bar; /* BAR index, or -1: the window of CHILD */
    FwBus *child;
    uint64_t size, align;
} FwItem;

struct FwBus {
    PCIBus *bus;
    PCIDevice *bridge;        /* NULL for the root */
    GArray *items[FW_NKINDS]; /* FwItem */
    uint64_t size[FW_NKINDS], align[FW_NKINDS];
    GPtrArray *children; /* FwBus *, owned */
};

static void fw_cfg_write(PCIDevice *d, uint32_t reg, uint32_t val, int len)
{
    pci_host_config_write_common(d, reg, val, len);
}

static uint8_t fw_assign_buses(PCIBus *bus, uint8_t busnr)
{
    uint8_t last = busnr;

    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        PCIBus *sec = d ? pci_bridge_get_sec_bus(d) : NULL;

        if (!sec || last == 0xff) {
            continue;
        }
        fw_cfg_write(d, PCI_PRIMARY_BUS, busnr, 1);
        fw_cfg_write(d, PCI_SECONDARY_BUS, last + 1, 1);
        fw_cfg_write(d, PCI_SUBORDINATE_BUS, 0xff, 1);
        last = fw_assign_buses(sec, last + 1);
        fw_cfg_write(d, PCI_SUBORDINATE_BUS, last, 1);
        trace_pci_fw_assign_bus(object_get_typename(OBJECT(d)), busnr,
                                d->config[PCI_SECONDARY_BUS], last);
    }
    return last;
}

static FwKind fw_bar_kind(const PCIIORegion *r)
{
    if (r->type & PCI_BASE_ADDRESS_SPACE_IO) {
        return FW_IO;
    }
    if ((r->type & PCI_BASE_ADDRESS_MEM_TYPE_64) &&
        (r->type & PCI_BASE_ADDRESS_MEM_PREFETCH)) {
        return FW_PREF;
    }
    return FW_MEM;
}

static int fw_item_cmp(gconstpointer a, gconstpointer b)
{
    const FwItem *x = a, *y = b;

    return x->align < y->align ? 1 : x->align > y->align ? -1 : 0;
}

static void fw_add(FwBus *b, FwKind k, FwItem item)
{
    g_array_append_val(b->items[k], item);
}

/* The sizing pass: items of BUS and, through bridges, what is behind. */
static FwBus *fw_bus_new(PCIBus *bus, PCIDevice *bridge)
{
    FwBus *b = g_new0(FwBus, 1);

    b->bus = bus;
    b->bridge = bridge;
    b->children = g_ptr_array_new();
    for (int k = 0; k < FW_NKINDS; k++) {
        b->items[k] = g_array_new(false, true, sizeof(FwItem));
    }
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        PCIBus *sec;

        if (!d) {
            continue;
        }
        for (int i = 0; i < PCI_ROM_SLOT; i++) {
            PCIIORegion *r = &d->io_regions[i];

            if (r->size) {
                fw_add(
                    b, fw_bar_kind(r),
                    (FwItem){
                        .d = d, .bar = i, .size = r->size, .align = r->size});
            }
        }
        sec = pci_bridge_get_sec_bus(d);
        if (sec) {
            FwBus *child = fw_bus_new(sec, d);

            g_ptr_array_add(b->children, child);
            for (int k = 0; k < FW_NKINDS; k++) {
                if (child->size[k]) {
                    fw_add(b, k,
                           (FwItem){
                               .d = d,
                               .bar = -1,
                               .child = child,
                               .size = ROUND_UP(child->size[k], fw_granule[k]),
                               .align = MAX(child->align[k], fw_granule[k])});
                }
            }
        }
    }
    for (int k = 0; k < FW_NKINDS; k++) {
        uint64_t cur = 0;

        g_array_sort(b->items[k], fw_item_cmp);
        for (guint i = 0; i < b->items[k]->len; i++) {
            FwItem *it = &g_array_index(b->items[k], FwItem, i);

            cur = ROUND_UP(cur, it->align) + it->size;
            b->align[k] = MAX(b->align[k], it->align);
        }
        b->size[k] = cur;
    }
    return b;
}

static void fw_bus_free(FwBus *b)
{
    for (guint i = 0; i < b->children->len; i++) {
        fw_bus_free(g_ptr_array_index(b->children, i));
    }
    g_ptr_array_free(b->children, true);
    for (int k = 0; k < FW_NKINDS; k++) {
        g_array_free(b->items[k], true);
    }
    g_free(b);
}

static void fw_write_bar(PCIDevice *d, int bar, uint64_t addr)
{
    PCIIORegion *r = &d->io_regions[bar];
    uint32_t off = PCI_BASE_ADDRESS_0 + bar * 4;

    trace_pci_fw_assign_bar(object_get_typename(OBJECT(d)), pci_bus_num(d->bus),
                            PCI_SLOT(d->devfn), PCI_FUNC(d->devfn), bar, addr,
                            r->size);
    fw_cfg_write(d, off, (uint32_t)addr, 4);
    if (!(r->type & PCI_BASE_ADDRESS_SPACE_IO) &&
        (r->type & PCI_BASE_ADDRESS_MEM_TYPE_64)) {
        fw_cfg_write(d, off + 4, (uint32_t)(addr >> 32), 4);
    }
}

/* A bridge window of kind K: [base, limit], or closed (base > limit). */
static void fw_write_window(PCIDevice *br, FwKind k, uint64_t base,
                            uint64_t limit)
{
    switch (k) {
    case FW_IO:
        fw_cfg_write(br, PCI_IO_BASE, ((base >> 8) & 0xf0), 1);
        fw_cfg_write(br, PCI_IO_LIMIT, ((limit >> 8) & 0xf0), 1);
        fw_cfg_write(br, PCI_IO_BASE_UPPER16, (uint32_t)(base >> 16), 2);
        fw_cfg_write(br, PCI_IO_LIMIT_UPPER16, (uint32_t)(limit >> 16), 2);
        break;
    case FW_MEM:
        fw_cfg_write(br, PCI_MEMORY_BASE, (base >> 16) & 0xfff0, 2);
        fw_cfg_write(br, PCI_MEMORY_LIMIT, (limit >> 16) & 0xfff0, 2);
        break;
    default:
        fw_cfg_write(br, PCI_PREF_MEMORY_BASE, (base >> 16) & 0xfff0, 2);
        fw_cfg_write(br, PCI_PREF_MEMORY_LIMIT, (limit >> 16) & 0xfff0, 2);
        fw_cfg_write(br, PCI_PREF_BASE_UPPER32, (uint32_t)(base >> 32), 4);
        fw_cfg_write(br, PCI_PREF_LIMIT_UPPER32, (uint32_t)(limit >> 32), 4);
        break;
    }
}

/* The placing pass for kind K on B from BASE (aligned to b->align[k]). */
static void fw_bus_place(FwBus *b, FwKind k, uint64_t base)
{
    uint64_t cur = base;

    for (guint i = 0; i < b->items[k]->len; i++) {
        FwItem *it = &g_array_index(b->items[k], FwItem, i);

        cur = ROUND_UP(cur, it->align);
        if (it->bar >= 0) {
            fw_write_bar(it->d, it->bar, cur);
        } else {
            fw_bus_place(it->child, k, cur);
            fw_write_window(it->d, k, cur, cur + it->size - 1);
        }
        cur += it->size;
    }
}

/* Bridges with nothing of a kind behind them get that window closed. */
static void fw_close_windows(FwBus *b)
{
    for (guint i = 0; i < b->children->len; i++) {
        FwBus *c = g_ptr_array_index(b->children, i);

        for (int k = 0; k < FW_NKINDS; k++) {
            if (!c->size[k]) {
                fw_write_window(c->bridge, k, fw_granule[k], 0);
            }
        }
        fw_close_windows(c);
    }
}

static void fw_enable(PCIDevice *d, void *opaque)
{
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    int line = pci_intx_route(d);

    fw_cfg_write(d, PCI_COMMAND,
                 cmd | PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
                 2);
    if (d->config[PCI_INTERRUPT_PIN]) {
        fw_cfg_write(d, PCI_INTERRUPT_LINE, line < 0 ? 0xff : line, 1);
    }
}

void pci_fw_assign(PCIBus *root, const PCIFwConfig *cfg)
{
    FwBus *b;
    uint64_t mem_end, pref_base;

    fw_assign_buses(root, 0);
    b = fw_bus_new(root, NULL);
    if (cfg->io_base + b->size[FW_IO] > cfg->io_end) {
        warn_report("PCI: I/O BARs need 0x%" PRIx64 " bytes, more than the "
                    "0x%" PRIx64 " from 0x%" PRIx64 "; some stay unassigned",
                    b->size[FW_IO], cfg->io_end - cfg->io_base, cfg->io_base);
    } else {
        fw_bus_place(b, FW_IO, cfg->io_base);
    }
    mem_end =
        ROUND_UP(cfg->mem_base, MAX(b->align[FW_MEM], 1)) + b->size[FW_MEM];
    if (mem_end > cfg->mem_end) {
        warn_report("PCI: 32-bit MMIO BARs need 0x%" PRIx64 " bytes, more "
                    "than the PCI hole; they stay unassigned",
                    b->size[FW_MEM]);
        mem_end = cfg->mem_base;
    } else if (b->size[FW_MEM]) {
        fw_bus_place(b, FW_MEM, ROUND_UP(cfg->mem_base, b->align[FW_MEM]));
    }
    /* Prefetchable 64-bit BARs: after the others if they fit below 4 GiB. */
    pref_base = ROUND_UP(mem_end, MAX(b->align[FW_PREF], 1));
    if (pref_base + b->size[FW_PREF] > cfg->mem_end) {
        pref_base = ROUND_UP(cfg->mem64_base, MAX(b->align[FW_PREF], 1));
    }
    if (b->size[FW_PREF]) {
        fw_bus_place(b, FW_PREF, pref_base);
    }
    fw_close_windows(b);
    fw_bus_free(b);
    pci_for_each_device(root, fw_enable, NULL);
}
