/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pc machine's PCI chipset: i440FX host bridge and PIIX3 (QEMU's names). */
#ifndef BATON_HW_PCI_HOST_I440FX_H
#define BATON_HW_PCI_HOST_I440FX_H

#include "hw/pci/pci.h"

#define TYPE_I440FX_PCI_HOST_BRIDGE "i440FX-pcihost"
#define TYPE_I440FX_PCI_DEVICE "i440FX"
#define TYPE_PIIX3_PCI_DEVICE "PIIX3"

typedef struct I440FXState {
    PCIDevice parent_obj;
} I440FXState;

typedef struct PIIX3State {
    PCIDevice parent_obj;

    /* runtime only: derived from the routing registers and PIRQ levels */
    PCIPirqRouter pirq;
} PIIX3State;

#endif
