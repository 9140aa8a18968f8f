/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MSI-X (PCI 3.0 6.8.2): a capability pointing at a vector table and a
 * pending bit array (PBA) inside BARs. The table (address, data, vector
 * control per entry) and the PBA are memory the guest reads and writes
 * through the BARs; a masked vector (its mask bit, the function mask, or
 * MSI-X disabled) only sets its pending bit, and unmasking it sends the
 * message. Vector users (irqfd owners) register notifiers to learn when
 * vectors are unmasked, masked or re-targeted.
 */
#ifndef BATON_HW_PCI_MSIX_H
#define BATON_HW_PCI_MSIX_H

#include "hw/pci/pci.h"

/*
 * NENTRIES vectors with the table at TABLE_OFFSET of TABLE_BAR (BAR
 * number TABLE_BAR_NR) and the PBA at PBA_OFFSET of PBA_BAR; both offsets
 * 8-byte aligned and inside the BARs. CAP_POS 0: anywhere. Returns the
 * capability offset, or < 0 with errp set.
 */
int msix_init(PCIDevice *d, unsigned short nentries, MemoryRegion *table_bar,
              uint8_t table_bar_nr, unsigned int table_offset,
              MemoryRegion *pba_bar, uint8_t pba_bar_nr,
              unsigned int pba_offset, uint8_t cap_pos, GError **errp);
/* The same in a BAR of its own (BAR_NR, 32-bit memory), as QEMU's. */
int msix_init_exclusive_bar(PCIDevice *d, unsigned short nentries,
                            uint8_t bar_nr, GError **errp);
void msix_uninit(PCIDevice *d);
bool msix_enabled(PCIDevice *d);
bool msix_is_masked(PCIDevice *d, unsigned int vector);
bool msix_is_pending(PCIDevice *d, unsigned int vector);
void msix_notify(PCIDevice *d, unsigned int vector);
MSIMessage msix_get_message(PCIDevice *d, unsigned int vector);
/*
 * Register vector users; USE is called at once for every vector the
 * guest has unmasked. Returns 0, or USE's error (nothing registered, the
 * vectors already used released again).
 */
int msix_set_vector_notifiers(PCIDevice *d, MSIVectorUseNotifier use,
                              MSIVectorReleaseNotifier release);
/* Release every unmasked vector and forget the notifiers. */
void msix_unset_vector_notifiers(PCIDevice *d);

/* For the PCI core: config writes, reset, load. */
void msix_write_config(PCIDevice *d, uint32_t addr, uint32_t val, int len);
void msix_reset(PCIDevice *d);
void msix_post_load(PCIDevice *d);
extern const VMStateDescription vmstate_msix;

#endif
