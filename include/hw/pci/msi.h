/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MSI (PCI 3.0 6.8.1): the capability in config space holds all of the
 * state (address, data, enable, vector count, per-vector mask and pending
 * bits), so it migrates with the config. An emulated function signals a
 * vector by a 4-byte DMA write of the message through its bus-master
 * space; the machine's MSI window turns that into an interrupt.
 */
#ifndef BATON_HW_PCI_MSI_H
#define BATON_HW_PCI_MSI_H

#include "hw/pci/pci.h"

/*
 * Add an MSI capability at OFFSET (0: anywhere) for NR_VECTORS (1, 2, 4,
 * 8, 16 or 32), 64-bit addresses with MSI64BIT, mask/pending bits with
 * PER_VECTOR_MASK. Returns the offset, or < 0 with errp set.
 */
int msi_init(PCIDevice *d, uint8_t offset, unsigned int nr_vectors,
             bool msi64bit, bool per_vector_mask, GError **errp);
void msi_uninit(PCIDevice *d);
bool msi_enabled(const PCIDevice *d);
/* Whether VECTOR is masked by its mask bit. */
bool msi_is_masked(const PCIDevice *d, unsigned int vector);
/*
 * Signal VECTOR (< the vectors the guest enabled): sent now, or its
 * pending bit set while it is masked and sent when the guest unmasks it.
 * Nothing while MSI is disabled.
 */
void msi_notify(PCIDevice *d, unsigned int vector);
/* The message VECTOR would send: the vector in the data's low bits. */
MSIMessage msi_get_message(PCIDevice *d, unsigned int vector);
/* A 4-byte write of MSG through D's bus-master space. */
void msi_send_message(PCIDevice *d, MSIMessage msg);

/* For the PCI core: config writes, reset, load. */
unsigned int msi_cap_size(const PCIDevice *d);
void msi_write_config(PCIDevice *d, uint32_t addr, uint32_t val, int len);
void msi_reset(PCIDevice *d);

#endif
