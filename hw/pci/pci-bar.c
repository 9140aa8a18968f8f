/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BARs and bus mastering: registering a BAR makes its config register
 * writable in the bits above its size (so writing all ones and reading
 * back gives the size), and the BAR's region is mapped into the bus's
 * memory or I/O space while the guest has a valid address in it and the
 * COMMAND decode bit on. The bus-master space is system memory behind an
 * alias enabled by COMMAND.BUS_MASTER.
 */
#include "util/osdep.h"

#include "hw/pci/pci-bridge.h"
#include "pci-internal.h"
#include "trace.h"

static uint32_t pci_bar_offset(PCIDevice *d, int region)
{
    if (region == PCI_ROM_SLOT) {
        return PCI_DEVICE_GET_CLASS(d)->is_bridge ? PCI_ROM_ADDRESS1
                                                  : PCI_ROM_ADDRESS;
    }
    return PCI_BASE_ADDRESS_0 + region * 4;
}

void pci_register_bar(PCIDevice *d, int region, uint8_t type, MemoryRegion *mr)
{
    PCIIORegion *r = &d->io_regions[region];
    uint64_t size = memory_region_size(mr);
    uint32_t off = pci_bar_offset(d, region);
    uint64_t wmask;

    g_assert(region >= 0 && region < PCI_NUM_REGIONS);
    g_assert(size && !(size & (size - 1)));
    g_assert(!r->size);
    r->size = size;
    r->type = type;
    r->memory = mr;
    r->addr = PCI_BAR_UNMAPPED;
    if (type & PCI_BASE_ADDRESS_SPACE_IO) {
        g_assert(size >= 4 && region != PCI_ROM_SLOT);
        r->address_space = d->bus->address_space_io;
        wmask = ~(size - 1) & 0xffffffffu & PCI_BASE_ADDRESS_IO_MASK;
    } else {
        g_assert(size >= 16);
        r->address_space = d->bus->address_space_mem;
        wmask = ~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK;
        if (type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
            g_assert(region < 5);
            wmask = ~(size - 1) & ~(uint64_t)0xf;
        }
    }
    if (region == PCI_ROM_SLOT) {
        wmask = (~(size - 1) & 0xfffff800u) | PCI_ROM_ADDRESS_ENABLE;
        pci_set_long(d->config + off, 0);
    } else {
        pci_set_long(d->config + off, type);
    }
    pci_set_long(d->wmask + off, (uint32_t)wmask);
    memset(d->cmask + off, 0xff, 4);
    if (type & PCI_BASE_ADDRESS_MEM_TYPE_64 &&
        !(type & PCI_BASE_ADDRESS_SPACE_IO)) {
        pci_set_long(d->config + off + 4, 0);
        pci_set_long(d->wmask + off + 4, (uint32_t)(wmask >> 32));
        memset(d->cmask + off + 4, 0, 4);
    }
    /* The type bits are checked on load; the address bits are not. */
    for (int i = 0; i < 4; i++) {
        d->cmask[off + i] &= (uint8_t) ~(wmask >> (8 * i));
    }
}

uint64_t pci_get_bar_addr(PCIDevice *d, int region)
{
    return d->io_regions[region].addr;
}

/*
 * The address BAR REGION decodes now, or PCI_BAR_UNMAPPED: decode off,
 * address 0, a sizing pattern (the region would wrap or leave its space:
 * 16-bit I/O, 32-bit or 64-bit memory), or a disabled ROM.
 */
static uint64_t pci_bar_address(PCIDevice *d, int region)
{
    PCIIORegion *r = &d->io_regions[region];
    uint16_t cmd = pci_get_word(d->config + PCI_COMMAND);
    uint32_t off = pci_bar_offset(d, region);
    uint64_t addr, last;

    if (r->type & PCI_BASE_ADDRESS_SPACE_IO) {
        if (!(cmd & PCI_COMMAND_IO)) {
            return PCI_BAR_UNMAPPED;
        }
        addr = pci_get_long(d->config + off) & ~(r->size - 1) &
               PCI_BASE_ADDRESS_IO_MASK;
        last = addr + r->size - 1;
        if (!addr || last > 0xffff) {
            return PCI_BAR_UNMAPPED;
        }
        return addr;
    }
    if (!(cmd & PCI_COMMAND_MEMORY)) {
        return PCI_BAR_UNMAPPED;
    }
    if (region == PCI_ROM_SLOT) {
        uint32_t v = pci_get_long(d->config + off);

        if (!(v & PCI_ROM_ADDRESS_ENABLE)) {
            return PCI_BAR_UNMAPPED;
        }
        addr = v & ~(r->size - 1) & 0xfffff800u;
    } else if (r->type & PCI_BASE_ADDRESS_MEM_TYPE_64) {
        addr = pci_get_quad(d->config + off) & ~(r->size - 1) & ~(uint64_t)0xf;
    } else {
        addr = pci_get_long(d->config + off) & ~(r->size - 1) &
               PCI_BASE_ADDRESS_MEM_MASK;
    }
    last = addr + r->size - 1;
    if (!addr || last < addr) {
        return PCI_BAR_UNMAPPED;
    }
    if (!(r->type & PCI_BASE_ADDRESS_MEM_TYPE_64) && last >= UINT32_MAX) {
        return PCI_BAR_UNMAPPED;
    }
    /* x86 has 52 physical address bits at most: sizing patterns above. */
    if (last >= (1ULL << 52)) {
        return PCI_BAR_UNMAPPED;
    }
    return addr;
}

/*
 * Move each BAR whose decoded address changed, and a bridge's windows:
 * one transaction, so listeners (KVM slots, info mtree) see the final
 * layout once. BARs sit at priority 1 over the bus space so they win
 * over its defaults.
 */
void pci_update_mappings(PCIDevice *d)
{
    PCIBridge *br =
        (PCIBridge *)object_dynamic_cast(OBJECT(d), TYPE_PCI_BRIDGE);
    const char *name = object_get_typename(OBJECT(d));
    int bus = pci_bus_num(d->bus);

    memory_region_transaction_begin();
    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        PCIIORegion *r = &d->io_regions[i];
        uint64_t addr;

        if (!r->size) {
            continue;
        }
        addr = pci_bar_address(d, i);
        if (addr == r->addr) {
            continue;
        }
        if (r->addr != PCI_BAR_UNMAPPED) {
            trace_pci_bar_unmap(name, bus, PCI_SLOT(d->devfn),
                                PCI_FUNC(d->devfn), i, r->addr);
            memory_region_del_subregion(r->address_space, r->memory);
        }
        r->addr = addr;
        if (addr != PCI_BAR_UNMAPPED) {
            trace_pci_bar_map(name, bus, PCI_SLOT(d->devfn), PCI_FUNC(d->devfn),
                              i, addr, r->size);
            memory_region_add_subregion_overlap(r->address_space, addr,
                                                r->memory, 1);
        }
    }
    if (br) {
        pci_bridge_update_windows(br);
    }
    memory_region_transaction_commit();
}

void pci_unregister_bars(PCIDevice *d)
{
    memory_region_transaction_begin();
    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        PCIIORegion *r = &d->io_regions[i];

        if (r->size && r->addr != PCI_BAR_UNMAPPED) {
            memory_region_del_subregion(r->address_space, r->memory);
        }
        memset(r, 0, sizeof(*r));
        r->addr = PCI_BAR_UNMAPPED;
    }
    memory_region_transaction_commit();
}

/* ---- bus mastering ---- */

void pci_dma_init(PCIDevice *d)
{
    Object *owner = OBJECT(d);
    MemoryRegion *sysmem = get_system_memory();

    d->bus_master_name =
        g_strdup_printf("%s bus master", object_get_typename(owner));
    memory_region_init(&d->bus_master_container, owner, "bus master container",
                       UINT64_MAX);
    memory_region_init_alias(&d->bus_master_enable, owner, "bus master", sysmem,
                             0, memory_region_size(sysmem));
    memory_region_set_enabled(&d->bus_master_enable, false);
    memory_region_add_subregion(&d->bus_master_container, 0,
                                &d->bus_master_enable);
    address_space_init(&d->bus_master_as, &d->bus_master_container,
                       d->bus_master_name);
}

void pci_dma_uninit(PCIDevice *d)
{
    if (!d->bus_master_name) {
        return;
    }
    address_space_destroy(&d->bus_master_as);
    memory_region_finalize(&d->bus_master_enable);
    memory_region_finalize(&d->bus_master_container);
    g_clear_pointer(&d->bus_master_name, g_free);
}

AddressSpace *pci_get_address_space(PCIDevice *d)
{
    return &d->bus_master_as;
}

AddressSpace *pci_device_iommu_address_space(PCIDevice *d)
{
    return &address_space_memory;
}

bool pci_dma_read(PCIDevice *d, uint64_t addr, void *buf, uint64_t len)
{
    return address_space_rw(&d->bus_master_as, addr, buf, len, false);
}

bool pci_dma_write(PCIDevice *d, uint64_t addr, const void *buf, uint64_t len)
{
    return address_space_rw(&d->bus_master_as, addr, (void *)buf, len, true);
}
