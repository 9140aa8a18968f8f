/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MSI: the capability's registers (PCI 3.0 6.8.1) and delivery as a DMA
 * write of the message. The capability is 10, 14, 20 or 24 bytes: flags,
 * address (low, and high for 64-bit), data, and with per-vector masking
 * the mask and pending words.
 */
#include "util/osdep.h"

#include "hw/pci/msi.h"
#include "pci-internal.h"
#include "trace.h"

static uint16_t msi_flags(const PCIDevice *d)
{
    return pci_get_word(d->config + d->msi_cap + PCI_MSI_FLAGS);
}

static bool msi_64bit(const PCIDevice *d)
{
    return msi_flags(d) & PCI_MSI_FLAGS_64BIT;
}

static bool msi_maskbit(const PCIDevice *d)
{
    return msi_flags(d) & PCI_MSI_FLAGS_MASKBIT;
}

static uint32_t msi_data_off(const PCIDevice *d)
{
    return d->msi_cap + (msi_64bit(d) ? 0x0c : 0x08);
}

static uint32_t msi_mask_off(const PCIDevice *d)
{
    return d->msi_cap + (msi_64bit(d) ? 0x10 : 0x0c);
}

static uint32_t msi_pending_off(const PCIDevice *d)
{
    return msi_mask_off(d) + 4;
}

/* Vectors the function has (QMASK) and the guest enabled (QSIZE). */
static unsigned int msi_nr_vectors(uint16_t flags)
{
    return 1u << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);
}

static unsigned int msi_nr_enabled(uint16_t flags)
{
    return 1u << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4);
}

unsigned int msi_cap_size(const PCIDevice *d)
{
    return (msi_64bit(d) ? 0x0e : 0x0a) + (msi_maskbit(d) ? 0x0a : 0);
}

int msi_init(PCIDevice *d, uint8_t offset, unsigned int nr_vectors,
             bool msi64bit, bool per_vector_mask, GError **errp)
{
    unsigned int log2 = 0;
    uint16_t flags;
    uint8_t size = (msi64bit ? 0x0e : 0x0a) + (per_vector_mask ? 0x0a : 0);
    int pos;

    while ((1u << log2) < nr_vectors) {
        log2++;
    }
    if (!nr_vectors || nr_vectors > 32 || (1u << log2) != nr_vectors) {
        error_setg(errp, "device '%s': MSI needs 1, 2, 4, 8, 16 or 32 "
                   "vectors, not %u", object_get_typename(OBJECT(d)),
                   nr_vectors);
        return -1;
    }
    pos = pci_add_capability(d, PCI_CAP_ID_MSI, offset, size, errp);
    if (pos < 0) {
        return pos;
    }
    d->msi_cap = (uint8_t)pos;
    flags = (uint16_t)(log2 << 1);
    flags |= msi64bit ? PCI_MSI_FLAGS_64BIT : 0;
    flags |= per_vector_mask ? PCI_MSI_FLAGS_MASKBIT : 0;
    pci_set_word(d->config + pos + PCI_MSI_FLAGS, flags);
    pci_set_word(d->wmask + pos + PCI_MSI_FLAGS,
                 PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE);
    /* The capability's read-only flags are part of its identity. */
    d->cmask[pos + PCI_MSI_FLAGS] = (uint8_t)~PCI_MSI_FLAGS_ENABLE &
                                    (uint8_t)~PCI_MSI_FLAGS_QSIZE;
    d->cmask[pos + PCI_MSI_FLAGS + 1] = 0xff;
    pci_set_long(d->wmask + pos + PCI_MSI_ADDRESS_LO, 0xfffffffc);
    if (msi64bit) {
        pci_set_long(d->wmask + pos + PCI_MSI_ADDRESS_HI, 0xffffffff);
    }
    pci_set_word(d->wmask + msi_data_off(d), 0xffff);
    if (per_vector_mask) {
        pci_set_long(d->wmask + msi_mask_off(d),
                     nr_vectors == 32 ? 0xffffffff : (1u << nr_vectors) - 1);
    }
    return pos;
}

void msi_uninit(PCIDevice *d)
{
    if (d->msi_cap) {
        pci_del_capability(d, PCI_CAP_ID_MSI, msi_cap_size(d));
        d->msi_cap = 0;
    }
}

bool msi_enabled(const PCIDevice *d)
{
    return d->msi_cap && (msi_flags(d) & PCI_MSI_FLAGS_ENABLE);
}

bool msi_is_masked(const PCIDevice *d, unsigned int vector)
{
    return msi_maskbit(d) &&
           (pci_get_long(d->config + msi_mask_off(d)) & (1u << vector));
}

MSIMessage msi_get_message(PCIDevice *d, unsigned int vector)
{
    uint16_t flags = msi_flags(d);
    unsigned int nr = msi_nr_enabled(flags);
    MSIMessage msg;
    uint32_t data = pci_get_word(d->config + msi_data_off(d));

    msg.address = pci_get_long(d->config + d->msi_cap + PCI_MSI_ADDRESS_LO);
    if (flags & PCI_MSI_FLAGS_64BIT) {
        msg.address |= (uint64_t)pci_get_long(d->config + d->msi_cap +
                                              PCI_MSI_ADDRESS_HI)
                       << 32;
    }
    /* Multiple messages: the vector replaces the data's low bits. */
    msg.data = (data & ~(nr - 1)) | (vector & (nr - 1));
    return msg;
}

void msi_send_message(PCIDevice *d, MSIMessage msg)
{
    uint8_t buf[4];

    pci_set_long(buf, msg.data);
    pci_dma_write(d, msg.address, buf, sizeof(buf));
}

void msi_notify(PCIDevice *d, unsigned int vector)
{
    uint16_t flags;
    MSIMessage msg;

    if (!msi_enabled(d)) {
        return;
    }
    flags = msi_flags(d);
    if (vector >= msi_nr_enabled(flags) || vector >= msi_nr_vectors(flags)) {
        return;
    }
    if (msi_is_masked(d, vector)) {
        uint32_t off = msi_pending_off(d);

        pci_set_long(d->config + off,
                     pci_get_long(d->config + off) | (1u << vector));
        trace_msi_pending(object_get_typename(OBJECT(d)), vector);
        return;
    }
    msg = msi_get_message(d, vector);
    trace_msi_notify(object_get_typename(OBJECT(d)), vector, msg.address,
                     msg.data);
    msi_send_message(d, msg);
}

/*
 * After the core applied a write to the capability: keep QSIZE within
 * QMASK, and send the pending vectors the guest just unmasked.
 */
void msi_write_config(PCIDevice *d, uint32_t addr, uint32_t val, int len)
{
    uint16_t flags = msi_flags(d);
    uint32_t pending, mask;

    if (msi_nr_enabled(flags) > msi_nr_vectors(flags)) {
        flags = (flags & ~PCI_MSI_FLAGS_QSIZE) |
                ((flags & PCI_MSI_FLAGS_QMASK) << 3);
        pci_set_word(d->config + d->msi_cap + PCI_MSI_FLAGS, flags);
    }
    if (!msi_maskbit(d) || !(flags & PCI_MSI_FLAGS_ENABLE)) {
        return;
    }
    pending = pci_get_long(d->config + msi_pending_off(d));
    mask = pci_get_long(d->config + msi_mask_off(d));
    for (unsigned int v = 0; v < msi_nr_enabled(flags); v++) {
        if ((pending & (1u << v)) && !(mask & (1u << v))) {
            pending &= ~(1u << v);
            pci_set_long(d->config + msi_pending_off(d), pending);
            msi_notify(d, v);
        }
    }
}

/* Enable and mask bits go back with the reset image; pending bits here. */
void msi_reset(PCIDevice *d)
{
    if (d->msi_cap && msi_maskbit(d)) {
        pci_set_long(d->config + msi_pending_off(d), 0);
    }
}
