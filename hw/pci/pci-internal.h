/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Between the files of hw/pci/ only. */
#ifndef BATON_HW_PCI_PCI_INTERNAL_H
#define BATON_HW_PCI_PCI_INTERNAL_H

#include "hw/pci/pci.h"

/* pci-bar.c */
void pci_unregister_bars(PCIDevice *d);
void pci_dma_init(PCIDevice *d);
void pci_dma_uninit(PCIDevice *d);

/* pci-bridge.c: the type 1 header's masks and defaults. */
void pci_bridge_init_header(PCIDevice *d);

/* pci-irq.c: count D's INTx on its PIRQ as its state and COMMAND say. */
void pci_intx_update(PCIDevice *d);

/* pci.c */
void pci_free_config(PCIDevice *d);

#endif
