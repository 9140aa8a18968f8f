/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI-to-PCI bridges: the type 1 header (bus numbers, I/O and memory
 * windows, bridge control) and the secondary bus, and QEMU's
 * "pcie-root-port" (a bridge with a PCI Express capability, chassis and
 * slot numbers). The secondary bus is named by the bridge's id, as in
 * QEMU, so -device X,bus=rp1 plugs behind root port rp1.
 *
 * The secondary bus has memory and I/O spaces of its own; the bridge
 * forwards its I/O, memory and prefetchable windows from the primary
 * bus into them while COMMAND.IO/MEMORY are on, so a BAR outside every
 * window (or behind a bridge that does not decode) is unreachable, as on
 * real hardware. See docs/devel/pci.md.
 */
#include "util/osdep.h"

#include "hw/pci/pci-bridge.h"
#include "pci-internal.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"

PCIBus *pci_bridge_get_sec_bus(PCIDevice *d)
{
    PCIBridge *br =
        (PCIBridge *)object_dynamic_cast(OBJECT(d), TYPE_PCI_BRIDGE);

    return br ? br->sec_bus : NULL;
}

void pci_bridge_init_header(PCIDevice *d)
{
    uint8_t *w = d->wmask;

    w[PCI_PRIMARY_BUS] = w[PCI_SECONDARY_BUS] = 0xff;
    w[PCI_SUBORDINATE_BUS] = w[PCI_SEC_LATENCY_TIMER] = 0xff;
    /* 32-bit I/O decoding: 4 KiB granules up to 4 GiB. */
    w[PCI_IO_BASE] = w[PCI_IO_LIMIT] = 0xf0;
    d->config[PCI_IO_BASE] = d->config[PCI_IO_LIMIT] = PCI_IO_RANGE_TYPE_32;
    pci_set_word(w + PCI_MEMORY_BASE, 0xfff0);
    pci_set_word(w + PCI_MEMORY_LIMIT, 0xfff0);
    /* 64-bit prefetchable window. */
    pci_set_word(w + PCI_PREF_MEMORY_BASE, 0xfff0);
    pci_set_word(w + PCI_PREF_MEMORY_LIMIT, 0xfff0);
    pci_set_word(d->config + PCI_PREF_MEMORY_BASE, PCI_PREF_RANGE_TYPE_64);
    pci_set_word(d->config + PCI_PREF_MEMORY_LIMIT, PCI_PREF_RANGE_TYPE_64);
    pci_set_long(w + PCI_PREF_BASE_UPPER32, 0xffffffff);
    pci_set_long(w + PCI_PREF_LIMIT_UPPER32, 0xffffffff);
    pci_set_word(w + PCI_IO_BASE_UPPER16, 0xffff);
    pci_set_word(w + PCI_IO_LIMIT_UPPER16, 0xffff);
    /* Parity, SERR, ISA, VGA, master abort, secondary bus reset. */
    pci_set_word(w + PCI_BRIDGE_CONTROL, 0x007f);
    pci_set_word(d->w1cmask + PCI_SEC_STATUS, 0xf900);
    /* Guest-owned: not compared on load. */
    memset(d->cmask + PCI_PRIMARY_BUS, 0,
           PCI_CAPABILITY_LIST - PCI_PRIMARY_BUS);
    memset(d->cmask + PCI_IO_BASE, 0xff, 2);
    d->cmask[PCI_IO_BASE] &= ~0xf0;
    d->cmask[PCI_IO_LIMIT] &= ~0xf0;
    memset(d->cmask + PCI_ROM_ADDRESS1, 0, 4);
    memset(d->cmask + PCI_BRIDGE_CONTROL, 0, 2);
}

/* A name no bus has yet: "pcie.1", "pcie.2", ... (QEMU's auto names). */
static char *pci_bridge_auto_bus_name(const char *prefix)
{
    for (unsigned int n = 1;; n++) {
        g_autofree char *name = g_strdup_printf("%s.%u", prefix, n);

        if (!qbus_find(name)) {
            return g_steal_pointer(&name);
        }
    }
}

static bool pci_bridge_realize(PCIDevice *d, GError **errp)
{
    PCIBridge *br = PCI_BRIDGE(d);
    PCIBridgeClass *bc = PCI_BRIDGE_GET_CLASS(d);
    DeviceState *dev = DEVICE(d);
    g_autofree char *name = NULL;

    if (dev->id) {
        if (qbus_find(dev->id)) {
            error_setg(errp, "%s '%s': a bus named '%s' exists already",
                       object_get_typename(OBJECT(d)), dev->id, dev->id);
            return false;
        }
        name = g_strdup(dev->id);
    } else {
        name = pci_bridge_auto_bus_name(
            bc->sec_bus_type == NULL || !strcmp(bc->sec_bus_type, TYPE_PCIE_BUS)
                ? "pcie"
                : "pci");
    }
    br->sec_bus = PCI_BUS(qbus_new(
        bc->sec_bus_type ? bc->sec_bus_type : TYPE_PCIE_BUS, dev, name));
    br->sec_bus->parent_dev = d;
    memory_region_init(&br->sec_mem, OBJECT(d), "pci_bridge_pci", UINT64_MAX);
    memory_region_init(&br->sec_io, OBJECT(d), "pci_bridge_io",
                       memory_region_size(d->bus->address_space_io));
    br->sec_bus->address_space_mem = &br->sec_mem;
    br->sec_bus->address_space_io = &br->sec_io;
    if (bc->realize && !bc->realize(d, errp)) {
        /* exit is not called for a function that did not realize. */
        memory_region_finalize(&br->sec_mem);
        memory_region_finalize(&br->sec_io);
        return false;
    }
    return true;
}

/*
 * WIN forwards [BASE, LIMIT] of PARENT to the same addresses of SEC while
 * ENABLE (and the window is not empty); re-created only when it moves.
 */
static void pci_bridge_map_window(PCIBridge *br, MemoryRegion *win, bool *on,
                                  const char *name, MemoryRegion *parent,
                                  MemoryRegion *sec, bool enable,
                                  uint64_t base, uint64_t limit)
{
    uint64_t end = memory_region_size(parent);

    if (end != UINT64_MAX && limit >= end) {
        limit = end - 1;
    }
    enable = enable && base <= limit;
    if (*on && enable && win->addr == base &&
        win->size == limit - base + 1) {
        return;
    }
    if (*on) {
        memory_region_del_subregion(parent, win);
        memory_region_finalize(win);
        *on = false;
    }
    if (enable) {
        memory_region_init_alias(win, OBJECT(br), name, sec, base,
                                 limit - base + 1);
        /* Over the primary bus's defaults, like the BARs beside it. */
        memory_region_add_subregion_overlap(parent, base, win, 1);
        *on = true;
    }
}

void pci_bridge_update_windows(PCIBridge *br)
{
    PCIDevice *d = PCI_DEVICE(br);
    const uint8_t *c = d->config;
    uint16_t cmd = pci_get_word(c + PCI_COMMAND);
    uint64_t io_base = (uint64_t)(c[PCI_IO_BASE] & 0xf0) << 8;
    uint64_t io_limit = (uint64_t)(c[PCI_IO_LIMIT] & 0xf0) << 8 | 0xfff;
    uint64_t mem_base = (uint64_t)(pci_get_word(c + PCI_MEMORY_BASE) & 0xfff0)
                        << 16;
    uint64_t mem_limit =
        (uint64_t)(pci_get_word(c + PCI_MEMORY_LIMIT) & 0xfff0) << 16 |
        0xfffff;
    uint64_t pref_base =
        (uint64_t)(pci_get_word(c + PCI_PREF_MEMORY_BASE) & 0xfff0) << 16;
    uint64_t pref_limit =
        (uint64_t)(pci_get_word(c + PCI_PREF_MEMORY_LIMIT) & 0xfff0) << 16 |
        0xfffff;

    if ((c[PCI_IO_BASE] & 0x0f) == PCI_IO_RANGE_TYPE_32) {
        io_base |= (uint64_t)pci_get_word(c + PCI_IO_BASE_UPPER16) << 16;
        io_limit |= (uint64_t)pci_get_word(c + PCI_IO_LIMIT_UPPER16) << 16;
    }
    if ((pci_get_word(c + PCI_PREF_MEMORY_BASE) & 0x0f) ==
        PCI_PREF_RANGE_TYPE_64) {
        pref_base |= (uint64_t)pci_get_long(c + PCI_PREF_BASE_UPPER32) << 32;
        pref_limit |= (uint64_t)pci_get_long(c + PCI_PREF_LIMIT_UPPER32) << 32;
    }
    memory_region_transaction_begin();
    pci_bridge_map_window(br, &br->win_io, &br->win_io_on, "pci_bridge_io",
                          d->bus->address_space_io, &br->sec_io,
                          cmd & PCI_COMMAND_IO, io_base, io_limit);
    pci_bridge_map_window(br, &br->win_mem, &br->win_mem_on, "pci_bridge_mem",
                          d->bus->address_space_mem, &br->sec_mem,
                          cmd & PCI_COMMAND_MEMORY, mem_base, mem_limit);
    pci_bridge_map_window(br, &br->win_pref, &br->win_pref_on,
                          "pci_bridge_pref_mem", d->bus->address_space_mem,
                          &br->sec_mem, cmd & PCI_COMMAND_MEMORY, pref_base,
                          pref_limit);
    memory_region_transaction_commit();
}

/* After the functions behind it (qdev unrealizes child buses first). */
static void pci_bridge_exit(PCIDevice *d)
{
    PCIBridge *br = PCI_BRIDGE(d);
    PCIBridgeClass *bc = PCI_BRIDGE_GET_CLASS(d);

    if (bc->exit) {
        bc->exit(d);
    }
    memory_region_transaction_begin();
    memory_region_finalize(&br->win_io);
    memory_region_finalize(&br->win_mem);
    memory_region_finalize(&br->win_pref);
    br->win_io_on = br->win_mem_on = br->win_pref_on = false;
    memory_region_finalize(&br->sec_mem);
    memory_region_finalize(&br->sec_io);
    memory_region_transaction_commit();
}

/* ---- pcie-root-port ---- */

/*
 * The PCI Express capability (version 2) of a root port: link x1 at
 * 2.5 GT/s, a slot with its physical number, presence detect when a
 * device sits behind it. Control registers are the guest's.
 */
static bool pcie_root_port_realize(PCIDevice *d, GError **errp)
{
    PCIERootPort *rp = PCIE_ROOT_PORT(d);
    uint8_t *c = d->config;
    uint8_t *w = d->wmask;
    int pos =
        pci_add_capability(d, PCI_CAP_ID_EXP, 0x40, PCI_EXP_VER2_SIZEOF, errp);

    if (pos < 0) {
        return false;
    }
    c += pos;
    w += pos;
    pci_set_word(c + PCI_EXP_FLAGS,
                 PCI_EXP_FLAGS_VER2 |
                     PCI_EXP_TYPE_ROOT_PORT << PCI_EXP_FLAGS_TYPE_SHIFT |
                     PCI_EXP_FLAGS_SLOT);
    pci_set_long(c + PCI_EXP_LNKCAP, (uint32_t)rp->port << 24 |
                                         PCI_EXP_LNK_MLW_1 | PCI_EXP_LNK_LS_25);
    pci_set_word(c + PCI_EXP_LNKSTA, PCI_EXP_LNK_MLW_1 | PCI_EXP_LNK_LS_25);
    pci_set_long(c + PCI_EXP_SLTCAP,
                 (uint32_t)rp->slot << PCI_EXP_SLTCAP_PSN_SHIFT);
    pci_set_word(w + PCI_EXP_DEVCTL, 0x7fff);
    pci_set_word(w + PCI_EXP_LNKCTL, 0x0fff);
    pci_set_word(w + PCI_EXP_SLTCTL, 0x1fff);
    pci_set_word(w + PCI_EXP_RTCTL, 0x001f);
    pci_set_word(w + PCI_EXP_DEVCTL2, 0xffff);
    pci_set_word(w + PCI_EXP_LNKCTL2, 0xffff);
    pci_set_word(d->w1cmask + pos + PCI_EXP_DEVSTA, 0x000f);
    pci_set_word(d->w1cmask + pos + PCI_EXP_SLTSTA, 0x011f);
    /* Slot and chassis numbers must be unique, as in QEMU. */
    return pcie_chassis_check(rp, errp);
}

/* Presence detect follows whether a function sits behind the port. */
static uint32_t pcie_root_port_read_config(PCIDevice *d, uint32_t addr, int len)
{
    PCIBridge *br = PCI_BRIDGE(d);
    uint8_t pos = pci_find_capability(d, PCI_CAP_ID_EXP);
    uint16_t sta;

    if (pos) {
        bool present = false;

        for (int i = 0; i < PCI_DEVFN_MAX; i++) {
            present |= br->sec_bus->devices[i] != NULL;
        }
        sta = pci_get_word(d->config + pos + PCI_EXP_SLTSTA);
        sta = present ? sta | PCI_EXP_SLTSTA_PDS : sta & ~PCI_EXP_SLTSTA_PDS;
        pci_set_word(d->config + pos + PCI_EXP_SLTSTA, sta);
    }
    return pci_default_read_config(d, addr, len);
}

static GSList *root_ports; /* PCIERootPort *, realized */

bool pcie_chassis_check(PCIERootPort *rp, GError **errp)
{
    for (GSList *l = root_ports; l; l = l->next) {
        PCIERootPort *o = l->data;

        if (o->chassis == rp->chassis && o->slot == rp->slot) {
            /* QEMU's wording; the second sentence says which. */
            error_setg(errp,
                       "Can't add chassis slot, error %d: chassis %u "
                       "slot %u is taken by another pcie-root-port",
                       -EBUSY, rp->chassis, rp->slot);
            return false;
        }
    }
    root_ports = g_slist_prepend(root_ports, rp);
    return true;
}

static void pcie_root_port_exit(PCIDevice *d)
{
    root_ports = g_slist_remove(root_ports, d);
}

static const VMStateDescription vmstate_pci_bridge = {
    .name = "pcie-root-port",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj.parent_obj, PCIERootPort),
            VMSTATE_END_OF_LIST(),
        },
};

static const Property pcie_root_port_props[] = {
    DEFINE_PROP("chassis", PROP_UINT8, PCIERootPort, chassis,
                .desc = "chassis number (with slot: unique per port)"),
    DEFINE_PROP("slot", PROP_UINT16, PCIERootPort, slot,
                .desc = "physical slot number"),
    DEFINE_PROP("port", PROP_UINT8, PCIERootPort, port,
                .desc = "port number in the link capabilities"),
    {NULL},
};

static void pci_bridge_class_init(ObjectClass *oc, const void *data)
{
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->realize = pci_bridge_realize;
    pc->exit = pci_bridge_exit;
    pc->is_bridge = true;
    pc->class_id = PCI_CLASS_BRIDGE_PCI;
}

static void pcie_root_port_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);
    PCIBridgeClass *bc = PCI_BRIDGE_CLASS(oc);

    device_class_set_props(dc, pcie_root_port_props);
    dc->user_creatable = true;
    dc->bus_type = TYPE_PCIE_BUS;
    dc->vmsd = &vmstate_pci_bridge;
    bc->realize = pcie_root_port_realize;
    bc->sec_bus_type = TYPE_PCIE_BUS;
    bc->exit = pcie_root_port_exit;
    pc->config_read = pcie_root_port_read_config;
    pc->is_express = true;
    /* QEMU's generic root port ids. */
    pc->vendor_id = PCI_VENDOR_ID_REDHAT;
    pc->device_id = 0x000c;
    pc->revision = 0;
    /* Config space only: migrated, no fds. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "PCI Express root port (a bus named by its id)";
}

static const TypeInfo pci_bridge_types[] = {
    {
        .name = TYPE_PCI_BRIDGE,
        .parent = TYPE_PCI_DEVICE,
        .abstract = true,
        .instance_size = sizeof(PCIBridge),
        .class_size = sizeof(PCIBridgeClass),
        .class_init = pci_bridge_class_init,
    },
    {
        .name = TYPE_PCIE_ROOT_PORT,
        .parent = TYPE_PCI_BRIDGE,
        .instance_size = sizeof(PCIERootPort),
        .class_init = pcie_root_port_class_init,
    },
};

static void pci_bridge_register_types(void)
{
    type_register_static_array(pci_bridge_types, ARRAY_SIZE(pci_bridge_types));
}

type_init(pci_bridge_register_types)
