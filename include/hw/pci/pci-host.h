/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI host bridges: the device on the system bus that owns a root PCI bus,
 * its memory space ("pci", under system memory at a lower priority than
 * RAM, so BARs show through the holes) and configuration mechanism #1
 * (0xCF8 address, 0xCFC-0xCFF data); a PCIe host adds an ECAM window.
 * Machines build them (hw/pci-host/i440fx.c, q35.c) and call
 * pci_fw_assign() at reset, since baton has no firmware.
 */
#ifndef BATON_HW_PCI_PCI_HOST_H
#define BATON_HW_PCI_PCI_HOST_H

#include "hw/pci/pci.h"

#define TYPE_PCI_HOST_BRIDGE "pci-host-bridge"

typedef struct PCIHostState {
    DeviceState parent_obj;

    /* migrated */
    uint32_t config_reg; /* the last dword written to 0xCF8 */

    /* runtime only */
    PCIBus *bus;
    MemoryRegion pci_memory; /* "pci": the root bus's memory space */
    MemoryRegion conf_mem;   /* 0xCF8 */
    MemoryRegion data_mem;   /* 0xCFC-0xCFF */
} PCIHostState;

typedef struct PCIFwConfig PCIFwConfig;

typedef struct PCIHostBridgeClass {
    DeviceClass parent_class;

    /* Bus name ("pci.0", "pcie.0") and type (TYPE_PCI_BUS, TYPE_PCIE_BUS). */
    const char *root_bus_name;
    const char *root_bus_type;
    /*
     * At machine reset, what firmware programs in the chipset before it
     * walks the buses (PIRQ routing, ECAM base), and the windows the
     * walk may use (CFG has the machine's RAM layout filled in).
     */
    void (*fw_setup)(PCIHostState *s, PCIFwConfig *cfg);
} PCIHostBridgeClass;

#define PCI_HOST_BRIDGE(obj) \
    OBJECT_CHECK(PCIHostState, (obj), TYPE_PCI_HOST_BRIDGE)
#define PCI_HOST_BRIDGE_CLASS(oc) \
    OBJECT_CLASS_CHECK(PCIHostBridgeClass, (oc), TYPE_PCI_HOST_BRIDGE)
#define PCI_HOST_BRIDGE_GET_CLASS(obj) \
    OBJECT_GET_CLASS(PCIHostBridgeClass, (obj), TYPE_PCI_HOST_BRIDGE)

/*
 * The machine's reset step for HOST: the class's fw_setup, then
 * pci_fw_assign() with the PCI hole from BELOW_4G (RAM below 4 GiB) and
 * 64-bit space from ABOVE_4G_END.
 */
void pci_host_fw_reset(PCIHostState *host, uint64_t below_4g,
                       uint64_t above_4g_end);

/*
 * A config access for BUSNR:DEVFN at REG (0-0xfff) of LEN bytes below
 * ROOT: absent functions read all ones and ignore writes.
 */
uint32_t pci_data_read(PCIBus *root, int busnr, int devfn, uint32_t reg,
                       int len);
void pci_data_write(PCIBus *root, int busnr, int devfn, uint32_t reg,
                    uint32_t val, int len);

/* ECAM (MMCONFIG): 1 MiB per bus, 4 KiB per function. */
#define PCIE_MMCFG_BUS(off) (((off) >> 20) & 0xff)
#define PCIE_MMCFG_DEVFN(off) (((off) >> 12) & 0xff)
#define PCIE_MMCFG_REG(off) ((off)&0xfff)
extern const MemoryRegionOps pcie_mmcfg_ops; /* opaque: the PCIHostState */

/* Where reset assignment may put resources (pci-fw.c). */
struct PCIFwConfig {
    uint64_t io_base, io_end;   /* I/O BARs: [io_base, io_end) */
    uint64_t mem_base, mem_end; /* 32-bit MMIO: the PCI hole */
    uint64_t mem64_base;        /* 64-bit BARs that miss the hole */
};

/*
 * What firmware does before an OS runs: number the buses behind bridges,
 * place every BAR (naturally aligned, no overlaps) and program bridge
 * windows around what is behind them, enable I/O, memory and bus
 * mastering, and write each function's interrupt line. All through the
 * config hooks, as firmware's config cycles would be.
 */
void pci_fw_assign(PCIBus *root, const PCIFwConfig *cfg);

#endif
