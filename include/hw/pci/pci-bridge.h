/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI-to-PCI bridges (type 1 functions) and QEMU's "pcie-root-port": a
 * bridge owns its secondary bus, named by its id (else "pcie.N").
 */
#ifndef BATON_HW_PCI_PCI_BRIDGE_H
#define BATON_HW_PCI_PCI_BRIDGE_H

#include "hw/pci/pci.h"

#define TYPE_PCI_BRIDGE "base-pci-bridge"
#define TYPE_PCIE_ROOT_PORT "pcie-root-port"

typedef struct PCIBridge {
    PCIDevice parent_obj;

    /* runtime only */
    PCIBus *sec_bus;
    /*
     * The secondary bus's spaces, and the windows the bridge forwards
     * from its primary bus into them (aliases, mapped while the window
     * is open and COMMAND decodes it).
     */
    MemoryRegion sec_mem, sec_io;
    MemoryRegion win_io, win_mem, win_pref;
    bool win_io_on, win_mem_on, win_pref_on;
} PCIBridge;

typedef struct PCIBridgeClass {
    PCIDeviceClass parent_class;

    /* The bridge kind's realize, after the secondary bus exists. */
    bool (*realize)(PCIDevice *d, GError **errp);
    /* The bridge kind's exit, before the bridge's own. */
    void (*exit)(PCIDevice *d);
    const char *sec_bus_type; /* TYPE_PCIE_BUS or TYPE_PCI_BUS */
} PCIBridgeClass;

typedef struct PCIERootPort {
    PCIBridge parent_obj;

    /* properties */
    uint8_t chassis;
    uint16_t slot;
    uint8_t port;
} PCIERootPort;

#define PCI_BRIDGE(obj) OBJECT_CHECK(PCIBridge, (obj), TYPE_PCI_BRIDGE)
#define PCI_BRIDGE_CLASS(oc) \
    OBJECT_CLASS_CHECK(PCIBridgeClass, (oc), TYPE_PCI_BRIDGE)
#define PCI_BRIDGE_GET_CLASS(obj) \
    OBJECT_GET_CLASS(PCIBridgeClass, (obj), TYPE_PCI_BRIDGE)
#define PCIE_ROOT_PORT(obj) \
    OBJECT_CHECK(PCIERootPort, (obj), TYPE_PCIE_ROOT_PORT)

/*
 * Map BR's windows as its config space says now (window registers,
 * COMMAND.IO/MEMORY), in one memory transaction. The PCI core calls it
 * whenever they may have changed: config writes, reset, load.
 */
void pci_bridge_update_windows(PCIBridge *br);

/* Claim RP's (chassis, slot); false + errp if another port has it. */
bool pcie_chassis_check(PCIERootPort *rp, GError **errp);

#endif
