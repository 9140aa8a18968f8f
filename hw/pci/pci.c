/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The PCI core: buses and their addresses (devfn, multifunction rules,
 * dev paths), the abstract PCI function (config space with its masks,
 * the standard type 0/1 header, capabilities), reset and migration of the
 * config space. BARs are in pci-bar.c, INTx and DMA in pci-irq.c, host
 * bridges in pci-host.c, bridges in pci-bridge.c.
 */
#include "util/osdep.h"

#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "pci-internal.h"
#include "trace.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"

static GPtrArray *root_buses; /* PCIBus *, creation order */

/* ---- buses ---- */

PCIBus *pci_root_bus_new(DeviceState *parent, const char *name,
                         const char *typename, MemoryRegion *mem,
                         MemoryRegion *io)
{
    PCIBus *bus = PCI_BUS(qbus_new(typename, parent, name));

    bus->address_space_mem = mem;
    bus->address_space_io = io;
    if (!root_buses) {
        root_buses = g_ptr_array_new();
    }
    g_ptr_array_add(root_buses, bus);
    return bus;
}

GPtrArray *pci_root_buses(void)
{
    GPtrArray *list = g_ptr_array_new();

    for (guint i = 0; root_buses && i < root_buses->len; i++) {
        g_ptr_array_add(list, g_ptr_array_index(root_buses, i));
    }
    return list;
}

/* A PIRQ's wired-OR changed: the host's ISA bridge routes it. */
static void pci_bus_pirq_changed(void *opaque, int irq, int level)
{
    PCIBus *bus = opaque;

    if (bus->set_irq) {
        bus->set_irq(bus->irq_opaque, irq, level);
    }
}

static void pci_bus_free_pirqs(PCIBus *bus)
{
    for (int i = 0; bus->pirq && i < bus->nirq; i++) {
        shared_irq_free(bus->pirq[i]);
        qemu_free_irq(bus->pirq_out[i]);
    }
    g_clear_pointer(&bus->pirq, g_free);
    g_clear_pointer(&bus->pirq_out, g_free);
}

void pci_bus_irqs(PCIBus *bus, void (*set_irq)(void *, int, int),
                  int (*map_irq)(PCIDevice *, int),
                  int (*route_irq)(void *, int), void *opaque, int nirq)
{
    pci_bus_free_pirqs(bus);
    bus->set_irq = set_irq;
    bus->map_irq = map_irq;
    bus->route_irq = route_irq;
    bus->irq_opaque = opaque;
    bus->nirq = nirq;
    bus->pirq = g_new0(SharedIRQ *, nirq);
    bus->pirq_out = g_new0(qemu_irq, nirq);
    for (int i = 0; i < nirq; i++) {
        bus->pirq_out[i] = qemu_allocate_irq(pci_bus_pirq_changed, bus, i);
        bus->pirq[i] = shared_irq_new(bus->pirq_out[i], 0);
    }
}

void pci_bus_set_route_gsi(PCIBus *bus, int (*route_gsi)(void *, int))
{
    bus->route_gsi = route_gsi;
}

int pci_bus_num(PCIBus *bus)
{
    if (!bus->parent_dev) {
        return 0;
    }
    return bus->parent_dev->config[PCI_SECONDARY_BUS];
}

PCIBus *pci_bus_root(PCIBus *bus)
{
    while (bus->parent_dev) {
        bus = bus->parent_dev->bus;
    }
    return bus;
}

/*
 * The bus numbered BUSNR below BUS: a bridge forwards type 1 cycles for
 * secondary..subordinate, as on hardware (an unprogrammed bridge, with
 * secondary 0, forwards nothing).
 */
static PCIBus *pci_find_bus_nr(PCIBus *bus, int busnr)
{
    if (pci_bus_num(bus) == busnr) {
        return bus;
    }
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        PCIBus *sec = d ? pci_bridge_get_sec_bus(d) : NULL;
        int secnr, subnr;

        if (!sec) {
            continue;
        }
        secnr = d->config[PCI_SECONDARY_BUS];
        subnr = d->config[PCI_SUBORDINATE_BUS];
        if (secnr && busnr >= secnr && busnr <= subnr) {
            return pci_find_bus_nr(sec, busnr);
        }
    }
    return NULL;
}

PCIDevice *pci_find_device(PCIBus *root, int busnr, int devfn)
{
    PCIBus *bus = pci_find_bus_nr(root, busnr);
    PCIDevice *d;

    if (!bus || devfn < 0 || devfn >= PCI_DEVFN_MAX) {
        return NULL;
    }
    d = bus->devices[devfn];
    /* Functions 1-7 answer only when function 0 exists (PCI 3.0 6.2.5). */
    if (d && PCI_FUNC(devfn) && !bus->devices[PCI_DEVFN(PCI_SLOT(devfn), 0)]) {
        return NULL;
    }
    return d;
}

void pci_for_each_device(PCIBus *bus, void (*fn)(PCIDevice *d, void *opaque),
                         void *opaque)
{
    for (int devfn = 0; devfn < PCI_DEVFN_MAX; devfn++) {
        PCIDevice *d = bus->devices[devfn];
        PCIBus *sec;

        if (!d) {
            continue;
        }
        fn(d, opaque);
        sec = pci_bridge_get_sec_bus(d);
        if (sec) {
            pci_for_each_device(sec, fn, opaque);
        }
    }
}

/*
 * QEMU's dev path: the domain and root bus number, then SLOT.FN of each
 * function on the way down ("0000:00:02.0:00.0" behind the bridge at
 * 00:02.0). Bus numbers below the root are the guest's to assign (and
 * are 0 when sections are registered, before reset assignment), so they
 * cannot name a function.
 */
char *pci_dev_path(PCIDevice *d)
{
    GString *path = g_string_new(NULL);
    GPtrArray *chain = g_ptr_array_new();

    for (PCIDevice *p = d; p; p = p->bus->parent_dev) {
        g_ptr_array_add(chain, p);
    }
    g_string_append_printf(path, "0000:%02x",
                           pci_bus_num(pci_bus_root(d->bus)));
    for (guint i = chain->len; i-- > 0;) {
        PCIDevice *p = g_ptr_array_index(chain, i);

        g_string_append_printf(path, ":%02x.%x", PCI_SLOT(p->devfn),
                               PCI_FUNC(p->devfn));
    }
    g_ptr_array_free(chain, true);
    return g_string_free(path, false);
}

/* Migration sections of PCI functions are keyed by this path. */
static char *pci_bus_get_dev_path(DeviceState *dev)
{
    return pci_dev_path(PCI_DEVICE(dev));
}

/*
 * The devfn DEV gets on BUS (its addr property or the first free slot),
 * or -1 with errp set; QEMU's rules and wording.
 */
static int pci_bus_pick_devfn(PCIBus *bus, PCIDevice *d, GError **errp)
{
    const char *name = object_get_typename(OBJECT(d));
    int devfn = d->addr_prop;
    PCIDevice *other;

    if (devfn < 0) {
        for (devfn = 0; devfn < PCI_DEVFN_MAX; devfn += PCI_FUNC_MAX) {
            if (!bus->devices[devfn]) {
                return devfn;
            }
        }
        error_setg(errp, "PCI: no slot/function available for %s, all in use",
                   name);
        return -1;
    }
    other = bus->devices[devfn];
    if (other) {
        error_setg(errp,
                   "PCI: slot %d function %d not available for %s, in use "
                   "by %s,id=%s",
                   PCI_SLOT(devfn), PCI_FUNC(devfn), name,
                   object_get_typename(OBJECT(other)),
                   other->qdev.id ? other->qdev.id : "");
        return -1;
    }
    return devfn;
}

/*
 * Multifunction rules (QEMU's wording): function 0 must say
 * multifunction=on before other functions of its slot exist, and may not
 * say off once they do.
 */
static bool pci_check_multifunction(PCIBus *bus, PCIDevice *d, int devfn,
                                    GError **errp)
{
    int slot = PCI_SLOT(devfn);
    PCIDevice *f0 = bus->devices[PCI_DEVFN(slot, 0)];

    if (PCI_FUNC(devfn)) {
        if (f0 && !f0->multifunction) {
            error_setg(errp,
                       "PCI: single function device can't be "
                       "populated in function %x.%x",
                       slot, PCI_FUNC(devfn));
            return false;
        }
        return true;
    }
    if (d->multifunction) {
        return true;
    }
    for (int fn = 1; fn < PCI_FUNC_MAX; fn++) {
        if (bus->devices[PCI_DEVFN(slot, fn)]) {
            error_setg(errp,
                       "PCI: %x.0 indicates single function, but "
                       "%x.%x is already populated.",
                       slot, slot, fn);
            return false;
        }
    }
    return true;
}

static bool pci_bus_check_address(BusState *qbus, DeviceState *dev,
                                  GError **errp)
{
    PCIBus *bus = PCI_BUS(qbus);
    PCIDevice *d = PCI_DEVICE(dev);
    int devfn = pci_bus_pick_devfn(bus, d, errp);

    return devfn >= 0 && pci_check_multifunction(bus, d, devfn, errp);
}

/* ---- config space ---- */

uint32_t pci_default_read_config(PCIDevice *d, uint32_t addr, int len)
{
    uint32_t val = 0;

    g_assert(len >= 1 && len <= 4 && addr + len <= d->config_size);
    for (int i = 0; i < len; i++) {
        val |= (uint32_t)d->config[addr + i] << (8 * i);
    }
    return val;
}

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return a < b + blen && b < a + alen;
}

void pci_default_write_config(PCIDevice *d, uint32_t addr, uint32_t val,
                              int len)
{
    PCIDeviceClass *pc = PCI_DEVICE_GET_CLASS(d);
    uint32_t bar_end =
        pc->is_bridge ? PCI_BASE_ADDRESS_0 + 8 : PCI_BASE_ADDRESS_5 + 4;
    uint32_t rom = pc->is_bridge ? PCI_ROM_ADDRESS1 : PCI_ROM_ADDRESS;
    uint16_t old_cmd = pci_get_word(d->config + PCI_COMMAND);

    g_assert(len >= 1 && len <= 4 && addr + len <= d->config_size);
    for (int i = 0; i < len; i++) {
        uint32_t a = addr + i;
        uint8_t wm = d->wmask[a], w1c = d->w1cmask[a];
        uint8_t b = (uint8_t)(val >> (8 * i));

        d->config[a] = (d->config[a] & ~wm) | (b & wm);
        d->config[a] &= ~(b & w1c);
    }
    if (ranges_overlap(addr, len, PCI_BASE_ADDRESS_0,
                       bar_end - PCI_BASE_ADDRESS_0) ||
        ranges_overlap(addr, len, rom, 4) ||
        ranges_overlap(addr, len, PCI_COMMAND, 2) ||
        (pc->is_bridge &&
         ranges_overlap(addr, len, PCI_IO_BASE,
                        PCI_IO_LIMIT_UPPER16 + 2 - PCI_IO_BASE))) {
        pci_update_mappings(d);
    }
    if ((old_cmd ^ pci_get_word(d->config + PCI_COMMAND)) &
        PCI_COMMAND_MASTER) {
        memory_region_set_enabled(&d->bus_master_enable,
                                  pci_get_word(d->config + PCI_COMMAND) &
                                      PCI_COMMAND_MASTER);
    }
    if ((old_cmd ^ pci_get_word(d->config + PCI_COMMAND)) &
        PCI_COMMAND_INTX_DISABLE) {
        pci_intx_update(d);
        if (d->intx_routing_notifier) {
            d->intx_routing_notifier(d);
        }
    }
    if (d->msi_cap && ranges_overlap(addr, len, d->msi_cap, msi_cap_size(d))) {
        msi_write_config(d, addr, val, len);
    }
    if (d->msix_cap && ranges_overlap(addr, len, d->msix_cap, 12)) {
        msix_write_config(d, addr, val, len);
    }
}

uint32_t pci_host_config_read_common(PCIDevice *d, uint32_t addr, int len)
{
    PCIDeviceClass *pc = PCI_DEVICE_GET_CLASS(d);
    uint32_t val;

    if (addr + len > d->config_size) {
        return len == 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
    }
    val = pc->config_read(d, addr, len);
    trace_pci_cfg_read(object_get_typename(OBJECT(d)), pci_bus_num(d->bus),
                       PCI_SLOT(d->devfn), PCI_FUNC(d->devfn), addr, val);
    return val;
}

void pci_host_config_write_common(PCIDevice *d, uint32_t addr, uint32_t val,
                                  int len)
{
    PCIDeviceClass *pc = PCI_DEVICE_GET_CLASS(d);

    if (addr + len > d->config_size) {
        return;
    }
    trace_pci_cfg_write(object_get_typename(OBJECT(d)), pci_bus_num(d->bus),
                        PCI_SLOT(d->devfn), PCI_FUNC(d->devfn), addr, val);
    pc->config_write(d, addr, val, len);
}

int pci_add_capability(PCIDevice *d, uint8_t cap_id, uint8_t offset,
                       uint8_t size, GError **errp)
{
    uint32_t start = offset;

    if (!offset) {
        uint32_t run = 0;

        for (start = PCI_CONFIG_SPACE_SIZE; start > PCI_CONFIG_HEADER_SIZE;) {
            start--;
            run = d->used[start] ? 0 : run + 1;
            if (run >= size && !(start & 3)) {
                break;
            }
        }
        if (run < size || (start & 3)) {
            error_setg(errp,
                       "device '%s': no room for a %u-byte capability "
                       "0x%x in the config space",
                       object_get_typename(OBJECT(d)), size, cap_id);
            return -1;
        }
    } else if (start < PCI_CONFIG_HEADER_SIZE ||
               start + size > PCI_CONFIG_SPACE_SIZE || (start & 3)) {
        error_setg(errp,
                   "device '%s': capability 0x%x at 0x%x+%u is outside "
                   "0x40-0xff or unaligned",
                   object_get_typename(OBJECT(d)), cap_id, start, size);
        return -1;
    } else {
        for (uint32_t i = start; i < start + size; i++) {
            if (d->used[i]) {
                error_setg(errp,
                           "device '%s': capability 0x%x at 0x%x+%u "
                           "overlaps another at 0x%x",
                           object_get_typename(OBJECT(d)), cap_id, start, size,
                           i);
                return -1;
            }
        }
    }
    d->config[start + PCI_CAP_LIST_ID] = cap_id;
    d->config[start + PCI_CAP_LIST_NEXT] = d->config[PCI_CAPABILITY_LIST];
    d->config[PCI_CAPABILITY_LIST] = (uint8_t)start;
    pci_set_word(d->config + PCI_STATUS,
                 pci_get_word(d->config + PCI_STATUS) | PCI_STATUS_CAP_LIST);
    memset(d->used + start, 0xff, size);
    /* The header of a capability is read-only and checked on load. */
    memset(d->wmask + start, 0, size);
    memset(d->cmask + start, 0xff, 2);
    return (int)start;
}

void pci_del_capability(PCIDevice *d, uint8_t cap_id, uint8_t size)
{
    uint8_t *prev = d->config + PCI_CAPABILITY_LIST;
    uint8_t pos = pci_find_capability(d, cap_id);

    if (!pos) {
        return;
    }
    while ((*prev & ~3) != pos) {
        prev = d->config + (*prev & ~3) + PCI_CAP_LIST_NEXT;
    }
    *prev = d->config[pos + PCI_CAP_LIST_NEXT];
    memset(d->wmask + pos, 0, size);
    memset(d->w1cmask + pos, 0, size);
    memset(d->cmask + pos, 0, size);
    memset(d->used + pos, 0, size);
    memset(d->config + pos, 0, size);
    if (!d->config[PCI_CAPABILITY_LIST]) {
        pci_set_word(d->config + PCI_STATUS,
                     pci_get_word(d->config + PCI_STATUS) &
                         ~PCI_STATUS_CAP_LIST);
    }
}

uint8_t pci_find_capability(PCIDevice *d, uint8_t cap_id)
{
    uint8_t next;
    int hops = 0;

    if (!(pci_get_word(d->config + PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return 0;
    }
    /* At most 48 entries fit: a looped list ends the walk. */
    for (next = d->config[PCI_CAPABILITY_LIST] & ~3; next && hops < 48;
         next = d->config[next + PCI_CAP_LIST_NEXT] & ~3, hops++) {
        if (d->config[next + PCI_CAP_LIST_ID] == cap_id) {
            return next;
        }
    }
    return 0;
}

/*
 * The standard header: ids, class, header type, and what the guest may
 * write. Type 0: COMMAND, cache line, latency, BARs (per BAR at
 * registration), ROM, interrupt line. Type 1: plus bus numbers, windows
 * and bridge control; secondary status is W1C like status.
 */
static void pci_init_header(PCIDevice *d)
{
    PCIDeviceClass *pc = PCI_DEVICE_GET_CLASS(d);
    uint8_t *c = d->config;

    pci_set_word(c + PCI_VENDOR_ID, pc->vendor_id);
    pci_set_word(c + PCI_DEVICE_ID, pc->device_id);
    c[PCI_REVISION_ID] = pc->revision;
    pci_set_word(c + PCI_CLASS_DEVICE, pc->class_id);
    c[PCI_HEADER_TYPE] =
        (pc->is_bridge ? PCI_HEADER_TYPE_BRIDGE : PCI_HEADER_TYPE_NORMAL) |
        (d->multifunction ? PCI_HEADER_TYPE_MULTI_FUNCTION : 0);
    if (!pc->is_bridge) {
        pci_set_word(c + PCI_SUBSYSTEM_VENDOR_ID,
                     pc->subsystem_vendor_id
                         ? pc->subsystem_vendor_id
                         : PCI_SUBVENDOR_ID_REDHAT_QUMRANET);
        pci_set_word(c + PCI_SUBSYSTEM_ID, pc->subsystem_id
                                               ? pc->subsystem_id
                                               : PCI_SUBDEVICE_ID_QEMU);
    }
    memset(d->cmask, 0xff, PCI_CONFIG_HEADER_SIZE);
    /* Guest-owned: command, status, latency, cache line, BARs, line. */
    d->cmask[PCI_CACHE_LINE_SIZE] = d->cmask[PCI_LATENCY_TIMER] = 0;
    memset(d->cmask + PCI_COMMAND, 0, 4);
    memset(d->cmask + PCI_BASE_ADDRESS_0, 0, 0x3c - PCI_BASE_ADDRESS_0);
    d->cmask[PCI_INTERRUPT_LINE] = 0;
    pci_set_word(d->wmask + PCI_COMMAND,
                 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                     PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
                     PCI_COMMAND_INTX_DISABLE);
    pci_set_word(d->w1cmask + PCI_STATUS,
                 PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
                     PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
                     PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY);
    d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
    d->wmask[PCI_LATENCY_TIMER] = 0xff;
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
    memset(d->used, 0xff, PCI_CONFIG_HEADER_SIZE);
    if (pc->is_bridge) {
        pci_bridge_init_header(d);
    }
    /* The extended space of an express function is the guest's to read. */
}

/* ---- realize, reset ---- */

static bool pci_qdev_realize(DeviceState *dev, GError **errp)
{
    PCIDevice *d = PCI_DEVICE(dev);
    PCIDeviceClass *pc = PCI_DEVICE_GET_CLASS(d);
    PCIBus *bus = PCI_BUS(dev->parent_bus);
    int devfn = pci_bus_pick_devfn(bus, d, errp);

    if (devfn < 0 || !pci_check_multifunction(bus, d, devfn, errp)) {
        return false;
    }
    d->bus = bus;
    d->devfn = (uint8_t)devfn;
    d->addr_prop = devfn;
    d->config_size =
        pc->is_express ? PCIE_CONFIG_SPACE_SIZE : PCI_CONFIG_SPACE_SIZE;
    d->config = g_malloc0(d->config_size);
    d->wmask = g_malloc0(d->config_size);
    d->w1cmask = g_malloc0(d->config_size);
    d->cmask = g_malloc0(d->config_size);
    d->used = g_malloc0(d->config_size);
    for (int i = 0; i < PCI_NUM_REGIONS; i++) {
        d->io_regions[i].addr = PCI_BAR_UNMAPPED;
    }
    pci_init_header(d);
    pci_dma_init(d);
    bus->devices[devfn] = d;
    if (pc->realize && !pc->realize(d, errp)) {
        bus->devices[devfn] = NULL;
        pci_unregister_bars(d);
        msix_uninit(d);
        pci_dma_uninit(d);
        pci_free_config(d);
        return false;
    }
    /* The reset image: what a reset goes back to (guest bits cleared). */
    d->config_reset = g_memdup2(d->config, d->config_size);
    return true;
}

void pci_free_config(PCIDevice *d)
{
    g_clear_pointer(&d->config, g_free);
    g_clear_pointer(&d->wmask, g_free);
    g_clear_pointer(&d->w1cmask, g_free);
    g_clear_pointer(&d->cmask, g_free);
    g_clear_pointer(&d->used, g_free);
    g_clear_pointer(&d->config_reset, g_free);
}

static void pci_qdev_unrealize(DeviceState *dev)
{
    PCIDevice *d = PCI_DEVICE(dev);
    PCIDeviceClass *pc = PCI_DEVICE_GET_CLASS(d);

    pci_set_irq(d, 0);
    pci_unregister_bars(d);
    if (pc->exit) {
        pc->exit(d);
    }
    /* What the function's exit left: capabilities' regions and memory. */
    msix_uninit(d);
    msi_uninit(d);
    pci_dma_uninit(d);
    d->bus->devices[d->devfn] = NULL;
    pci_free_config(d);
}

void pci_device_reset(PCIDevice *d)
{
    PCIDeviceClass *pc = PCI_DEVICE_GET_CLASS(d);

    pci_set_irq(d, 0);
    /* Guest-writable and W1C bits go back to their realize-time values. */
    for (uint32_t i = 0; i < d->config_size; i++) {
        uint8_t m = d->wmask[i] | d->w1cmask[i];

        d->config[i] = (d->config[i] & ~m) | (d->config_reset[i] & m);
    }
    msi_reset(d);
    msix_reset(d);
    pci_update_mappings(d);
    memory_region_set_enabled(&d->bus_master_enable, false);
    if (pc->reset) {
        pc->reset(d);
    }
}

static void pci_qdev_reset(DeviceState *dev)
{
    pci_device_reset(PCI_DEVICE(dev));
}

/* ---- migration ---- */

/*
 * The stream's config must be this function's: same size, and the bits
 * in cmask (ids, class, header type, capability headers) unchanged.
 * Then the mappings, bus mastering and interrupts follow from it.
 */
static bool pci_config_post_load(void *opaque, int version_id, GError **errp)
{
    PCIDevice *d = opaque;
    const uint8_t *in = d->mig_config;

    if (d->mig_config_size != d->config_size) {
        error_setg(errp,
                   "PCI device %s: config space of %u bytes in the "
                   "stream, %u here",
                   object_get_typename(OBJECT(d)), d->mig_config_size,
                   d->config_size);
        return false;
    }
    for (uint32_t i = 0; i < d->config_size; i++) {
        if ((d->config[i] ^ in[i]) & d->cmask[i] & ~d->wmask[i] &
            ~d->w1cmask[i]) {
            error_setg(errp,
                       "PCI device %s: bad config data at 0x%x: read "
                       "0x%x, device 0x%x, cmask 0x%x",
                       object_get_typename(OBJECT(d)), i, in[i], d->config[i],
                       d->cmask[i]);
            return false;
        }
    }
    memcpy(d->config, in, d->config_size);
    pci_update_mappings(d);
    memory_region_set_enabled(&d->bus_master_enable,
                              pci_get_word(d->config + PCI_COMMAND) &
                                  PCI_COMMAND_MASTER);
    msix_post_load(d);
    /* INTx: the level the function drove, as STATUS.INTERRUPT says. */
    d->irq_state =
        !!(pci_get_word(d->config + PCI_STATUS) & PCI_STATUS_INTERRUPT);
    pci_intx_update(d);
    return true;
}

static bool pci_config_pre_save(void *opaque, GError **errp)
{
    PCIDevice *d = opaque;

    d->mig_config_size = d->config_size;
    memcpy(d->mig_config, d->config, d->config_size);
    return true;
}

const VMStateDescription vmstate_pci_device = {
    .name = "PCIDevice",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = pci_config_pre_save,
    .post_load = pci_config_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT8_VARRAY(mig_config, PCIDevice, mig_config_size,
                                 PCIE_CONFIG_SPACE_SIZE),
            VMSTATE_END_OF_LIST(),
        },
    .subsections =
        (const VMStateDescription *const[]){
            &vmstate_msix,
            NULL,
        },
};

/* ---- types ---- */

static void pci_device_instance_init(Object *obj)
{
    PCIDevice *d = PCI_DEVICE(obj);

    d->addr_prop = -1;
}

static const Property pci_device_props[] = {
    DEFINE_PROP("addr", PROP_PCI_DEVFN, PCIDevice, addr_prop, .defval = "-1",
                .desc = "slot and function on the bus: SLOT[.FN] in hex"),
    DEFINE_PROP("multifunction", PROP_BOOL, PCIDevice, multifunction,
                .desc = "other functions may share its slot (function 0)"),
    {NULL},
};

static void pci_device_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    device_class_set_props(dc, pci_device_props);
    dc->bus_type = TYPE_PCI_BUS;
    dc->realize = pci_qdev_realize;
    dc->unrealize = pci_qdev_unrealize;
    dc->reset = pci_qdev_reset;
    pc->config_read = pci_default_read_config;
    pc->config_write = pci_default_write_config;
}

static void pci_bus_class_init(ObjectClass *oc, const void *data)
{
    BusClass *bc = BUS_CLASS(oc);

    bc->get_dev_path = pci_bus_get_dev_path;
    bc->check_address = pci_bus_check_address;
    oc->desc = "PCI bus";
}

static void pci_bus_instance_finalize(Object *obj)
{
    PCIBus *bus = PCI_BUS(obj);

    pci_bus_free_pirqs(bus);
    if (root_buses) {
        g_ptr_array_remove(root_buses, bus);
    }
}

static void pcie_bus_class_init(ObjectClass *oc, const void *data)
{
    oc->desc = "PCI Express bus";
}

static const TypeInfo pci_types[] = {
    {
        .name = TYPE_PCI_BUS,
        .parent = TYPE_BUS,
        .instance_size = sizeof(PCIBus),
        .instance_finalize = pci_bus_instance_finalize,
        .class_init = pci_bus_class_init,
    },
    {
        .name = TYPE_PCIE_BUS,
        .parent = TYPE_PCI_BUS,
        .class_init = pcie_bus_class_init,
    },
    {
        .name = TYPE_PCI_DEVICE,
        .parent = TYPE_DEVICE,
        .abstract = true,
        .instance_size = sizeof(PCIDevice),
        .instance_init = pci_device_instance_init,
        .class_size = sizeof(PCIDeviceClass),
        .class_init = pci_device_class_init,
    },
};

static void pci_register_types(void)
{
    type_register_static_array(pci_types, ARRAY_SIZE(pci_types));
}

type_init(pci_register_types)
