/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The q35 machine's PCI chipset (QEMU's names): "q35-pcihost" with root
 * bus "pcie.0", the MCH host bridge function "mch" at 00:00.0 with the
 * PCIEXBAR register that places ECAM, and "ICH9-LPC" at 00:1f.0.
 */
#ifndef BATON_HW_PCI_HOST_Q35_H
#define BATON_HW_PCI_HOST_Q35_H

#include "hw/pci/pci.h"

#define TYPE_Q35_HOST_DEVICE "q35-pcihost"
#define TYPE_MCH_PCI_DEVICE "mch"
#define TYPE_ICH9_LPC_DEVICE "ICH9-LPC"

/* QEMU's default ECAM window: 256 buses at 0xB0000000. */
#define MCH_HOST_BRIDGE_PCIEXBAR 0x60
#define MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT 0xb0000000ULL
#define MCH_HOST_BRIDGE_PCIEXBAR_MAX (256ULL << 20)
#define ICH9_LPC_DEVFN PCI_DEVFN(0x1f, 0)

typedef struct MCHPCIState {
    PCIDevice parent_obj;

    /* runtime only: the ECAM window as PCIEXBAR places it */
    MemoryRegion mmcfg;
    uint64_t mmcfg_base;    /* PCI_BAR_UNMAPPED: disabled */
    uint64_t mmcfg_size;
} MCHPCIState;

typedef struct ICH9LPCState {
    PCIDevice parent_obj;

    /* runtime only: derived from the routing registers and PIRQ levels */
    PCIPirqRouter pirq;
    qemu_irq apic_gsi[8];   /* PIRQ A-H also reach IOAPIC pins 16-23 */
} ICH9LPCState;

#endif
