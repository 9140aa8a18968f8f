/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MSI-X: the capability (PCI 3.0 6.8.2), the vector table and PBA as MMIO
 * regions inside the function's BARs, masking (vector, function, enable)
 * with pending bits, delivery as a DMA write, vector-use notifiers, and
 * the table/PBA's migration subsection.
 */
#include "util/osdep.h"

#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "migration/vmstate.h"
#include "pci-internal.h"
#include "trace.h"

static uint16_t msix_flags(PCIDevice *d)
{
    return pci_get_word(d->config + d->msix_cap + PCI_MSIX_FLAGS);
}

bool msix_enabled(PCIDevice *d)
{
    return d->msix_cap && (msix_flags(d) & PCI_MSIX_FLAGS_ENABLE);
}

static bool msix_compute_function_masked(PCIDevice *d)
{
    return !msix_enabled(d) || (msix_flags(d) & PCI_MSIX_FLAGS_MASKALL);
}

static uint8_t *msix_entry(PCIDevice *d, unsigned int vector)
{
    return d->msix_table + vector * PCI_MSIX_ENTRY_SIZE;
}

static bool msix_vector_masked(PCIDevice *d, unsigned int vector,
                               bool fmask)
{
    return fmask || (pci_get_long(msix_entry(d, vector) +
                                  PCI_MSIX_ENTRY_VECTOR_CTRL) &
                     PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

bool msix_is_masked(PCIDevice *d, unsigned int vector)
{
    return msix_vector_masked(d, vector, d->msix_function_masked);
}

bool msix_is_pending(PCIDevice *d, unsigned int vector)
{
    return d->msix_pba[vector / 8] & (1u << (vector % 8));
}

static void msix_set_pending(PCIDevice *d, unsigned int vector, bool on)
{
    if (on) {
        d->msix_pba[vector / 8] |= (uint8_t)(1u << (vector % 8));
    } else {
        d->msix_pba[vector / 8] &= (uint8_t)~(1u << (vector % 8));
    }
}

MSIMessage msix_get_message(PCIDevice *d, unsigned int vector)
{
    uint8_t *e = msix_entry(d, vector);
    MSIMessage msg = {
        .address = pci_get_quad(e + PCI_MSIX_ENTRY_LOWER_ADDR),
        .data = pci_get_long(e + PCI_MSIX_ENTRY_DATA),
    };

    return msg;
}

void msix_notify(PCIDevice *d, unsigned int vector)
{
    MSIMessage msg;

    if (!d->msix_cap || vector >= d->msix_entries_nr) {
        return;
    }
    if (msix_is_masked(d, vector)) {
        msix_set_pending(d, vector, true);
        trace_msix_pending(object_get_typename(OBJECT(d)), vector);
        return;
    }
    msg = msix_get_message(d, vector);
    trace_msix_notify(object_get_typename(OBJECT(d)), vector, msg.address,
                      msg.data);
    msi_send_message(d, msg);
}

/*
 * VECTOR's masked state may have changed (WAS_MASKED before): tell the
 * vector user, and send what became pending while it was masked. A
 * change of message while unmasked is told as a new use.
 */
static void msix_handle_mask_update(PCIDevice *d, unsigned int vector,
                                    bool was_masked, bool msg_changed)
{
    bool masked = msix_is_masked(d, vector);

    if (d->msix_vector_use_notifier) {
        if (was_masked && !masked) {
            d->msix_vector_use_notifier(d, vector,
                                        msix_get_message(d, vector));
        } else if (!was_masked && masked) {
            d->msix_vector_release_notifier(d, vector);
        } else if (!masked && msg_changed) {
            d->msix_vector_use_notifier(d, vector,
                                        msix_get_message(d, vector));
        }
    }
    if (!masked && msix_is_pending(d, vector)) {
        msix_set_pending(d, vector, false);
        msix_notify(d, vector);
    }
}

static uint64_t msix_table_read(void *opaque, hwaddr addr, unsigned size)
{
    PCIDevice *d = opaque;
    uint64_t v = 0;

    for (unsigned int i = 0; i < size && addr + i < d->msix_table_len; i++) {
        v |= (uint64_t)d->msix_table[addr + i] << (8 * i);
    }
    return v;
}

static void msix_table_write(void *opaque, hwaddr addr, uint64_t val,
                             unsigned size)
{
    PCIDevice *d = opaque;
    unsigned int vector = addr / PCI_MSIX_ENTRY_SIZE;
    bool was_masked;

    if (addr + size > d->msix_table_len) {
        return;
    }
    was_masked = msix_is_masked(d, vector);
    for (unsigned int i = 0; i < size; i++) {
        d->msix_table[addr + i] = (uint8_t)(val >> (8 * i));
    }
    msix_handle_mask_update(d, vector, was_masked,
                            (addr % PCI_MSIX_ENTRY_SIZE) <
                                PCI_MSIX_ENTRY_VECTOR_CTRL);
}

static const MemoryRegionOps msix_table_ops = {
    .read = msix_table_read,
    .write = msix_table_write,
    .impl.max_access_size = 4,
};

/* The PBA is read-only to the guest. */
static uint64_t msix_pba_read(void *opaque, hwaddr addr, unsigned size)
{
    PCIDevice *d = opaque;
    uint64_t v = 0;

    for (unsigned int i = 0; i < size && addr + i < d->msix_pba_len; i++) {
        v |= (uint64_t)d->msix_pba[addr + i] << (8 * i);
    }
    return v;
}

static const MemoryRegionOps msix_pba_ops = {
    .read = msix_pba_read,
};

static bool msix_check(PCIDevice *d, unsigned short nentries,
                       MemoryRegion *table_bar, unsigned int table_offset,
                       MemoryRegion *pba_bar, unsigned int pba_offset,
                       GError **errp)
{
    uint64_t table_len = (uint64_t)nentries * PCI_MSIX_ENTRY_SIZE;
    uint64_t pba_len = ROUND_UP((uint64_t)nentries, 64) / 8;
    const char *name = object_get_typename(OBJECT(d));

    if (!nentries || nentries > PCI_MSIX_MAX_ENTRIES) {
        error_setg(errp, "device '%s': MSI-X needs 1 to %d vectors, not %u",
                   name, PCI_MSIX_MAX_ENTRIES, nentries);
        return false;
    }
    if ((table_offset | pba_offset) & PCI_MSIX_FLAGS_BIRMASK ||
        table_offset + table_len > memory_region_size(table_bar) ||
        pba_offset + pba_len > memory_region_size(pba_bar)) {
        error_setg(errp, "device '%s': MSI-X table at 0x%x (0x%" PRIx64
                   " bytes) or PBA at 0x%x (0x%" PRIx64 " bytes) is "
                   "unaligned or outside its BAR", name, table_offset,
                   table_len, pba_offset, pba_len);
        return false;
    }
    return true;
}

int msix_init(PCIDevice *d, unsigned short nentries, MemoryRegion *table_bar,
              uint8_t table_bar_nr, unsigned int table_offset,
              MemoryRegion *pba_bar, uint8_t pba_bar_nr,
              unsigned int pba_offset, uint8_t cap_pos, GError **errp)
{
    Object *owner = OBJECT(d);
    int pos;
    uint8_t *c;

    if (!msix_check(d, nentries, table_bar, table_offset, pba_bar,
                    pba_offset, errp)) {
        return -1;
    }
    pos = pci_add_capability(d, PCI_CAP_ID_MSIX, cap_pos, 12, errp);
    if (pos < 0) {
        return pos;
    }
    d->msix_cap = (uint8_t)pos;
    c = d->config + pos;
    pci_set_word(c + PCI_MSIX_FLAGS, nentries - 1);
    pci_set_long(c + PCI_MSIX_TABLE, table_offset | table_bar_nr);
    pci_set_long(c + PCI_MSIX_PBA, pba_offset | pba_bar_nr);
    pci_set_word(d->wmask + pos + PCI_MSIX_FLAGS,
                 PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    memset(d->cmask + pos + PCI_MSIX_FLAGS, 0xff, 10);
    d->cmask[pos + PCI_MSIX_FLAGS + 1] &= (uint8_t)~(
        (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8);

    d->msix_entries_nr = nentries;
    d->msix_table_len = nentries * PCI_MSIX_ENTRY_SIZE;
    d->msix_pba_len = ROUND_UP((uint32_t)nentries, 64) / 8;
    /* The most a stream may carry: the loader's bound (VMS_POINTER). */
    d->msix_table = g_malloc0(PCI_MSIX_MAX_ENTRIES * PCI_MSIX_ENTRY_SIZE);
    d->msix_pba = g_malloc0(PCI_MSIX_MAX_PBA_BYTES);
    d->msix_table_bar = table_bar;
    d->msix_pba_bar = pba_bar;
    msix_reset(d);
    memory_region_init_io(&d->msix_table_mmio, owner, &msix_table_ops, d,
                          "msix-table", d->msix_table_len);
    memory_region_add_subregion(table_bar, table_offset, &d->msix_table_mmio);
    memory_region_init_io(&d->msix_pba_mmio, owner, &msix_pba_ops, d,
                          "msix-pba", d->msix_pba_len);
    memory_region_add_subregion(pba_bar, pba_offset, &d->msix_pba_mmio);
    return pos;
}

int msix_init_exclusive_bar(PCIDevice *d, unsigned short nentries,
                            uint8_t bar_nr, GError **errp)
{
    uint64_t table_len = (uint64_t)nentries * PCI_MSIX_ENTRY_SIZE;
    uint64_t bar_size = 4096;
    g_autofree char *name = g_strdup_printf("%s-msix",
                                            object_get_typename(OBJECT(d)));
    int pos;

    /* The table in the first half, the PBA in the second. */
    while (bar_size / 2 < MAX(table_len, (uint64_t)PCI_MSIX_MAX_PBA_BYTES)) {
        bar_size *= 2;
    }
    memory_region_init(&d->msix_exclusive_bar, OBJECT(d), name, bar_size);
    pos = msix_init(d, nentries, &d->msix_exclusive_bar, bar_nr, 0,
                    &d->msix_exclusive_bar, bar_nr, bar_size / 2, 0, errp);
    if (pos < 0) {
        memory_region_finalize(&d->msix_exclusive_bar);
        return pos;
    }
    d->msix_exclusive = true;
    pci_register_bar(d, bar_nr, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &d->msix_exclusive_bar);
    return pos;
}

/* After the core unmapped the BARs (exit), or on a failed realize. */
void msix_uninit(PCIDevice *d)
{
    if (!d->msix_cap) {
        return;
    }
    msix_unset_vector_notifiers(d);
    memory_region_transaction_begin();
    memory_region_del_subregion(d->msix_table_bar, &d->msix_table_mmio);
    memory_region_del_subregion(d->msix_pba_bar, &d->msix_pba_mmio);
    memory_region_finalize(&d->msix_table_mmio);
    memory_region_finalize(&d->msix_pba_mmio);
    memory_region_transaction_commit();
    if (d->msix_exclusive) {
        memory_region_finalize(&d->msix_exclusive_bar);
        d->msix_exclusive = false;
    }
    pci_del_capability(d, PCI_CAP_ID_MSIX, 12);
    d->msix_cap = 0;
    g_clear_pointer(&d->msix_table, g_free);
    g_clear_pointer(&d->msix_pba, g_free);
    d->msix_entries_nr = 0;
}

/*
 * The capability's ENABLE/MASKALL changed (or not): vectors whose masked
 * state follows the function mask are told and flushed.
 */
void msix_write_config(PCIDevice *d, uint32_t addr, uint32_t val, int len)
{
    bool was = d->msix_function_masked;

    d->msix_function_masked = msix_compute_function_masked(d);
    if (was == d->msix_function_masked) {
        return;
    }
    for (unsigned int v = 0; v < d->msix_entries_nr; v++) {
        msix_handle_mask_update(d, v, msix_vector_masked(d, v, was), false);
    }
}

/* Every vector masked, nothing pending, the function disabled. */
void msix_reset(PCIDevice *d)
{
    if (!d->msix_cap) {
        return;
    }
    memset(d->msix_table, 0, d->msix_table_len);
    memset(d->msix_pba, 0, d->msix_pba_len);
    for (unsigned int v = 0; v < d->msix_entries_nr; v++) {
        pci_set_long(msix_entry(d, v) + PCI_MSIX_ENTRY_VECTOR_CTRL,
                     PCI_MSIX_ENTRY_CTRL_MASKBIT);
    }
    d->msix_function_masked = true;
}

int msix_set_vector_notifiers(PCIDevice *d, MSIVectorUseNotifier use,
                              MSIVectorReleaseNotifier release)
{
    g_assert(use && release && !d->msix_vector_use_notifier);
    for (unsigned int v = 0; v < d->msix_entries_nr; v++) {
        int ret;

        if (msix_is_masked(d, v)) {
            continue;
        }
        ret = use(d, v, msix_get_message(d, v));
        if (ret < 0) {
            while (v-- > 0) {
                if (!msix_is_masked(d, v)) {
                    release(d, v);
                }
            }
            return ret;
        }
    }
    d->msix_vector_use_notifier = use;
    d->msix_vector_release_notifier = release;
    return 0;
}

void msix_unset_vector_notifiers(PCIDevice *d)
{
    if (!d->msix_vector_use_notifier) {
        return;
    }
    for (unsigned int v = 0; v < d->msix_entries_nr; v++) {
        if (!msix_is_masked(d, v)) {
            d->msix_vector_release_notifier(d, v);
        }
    }
    d->msix_vector_use_notifier = NULL;
    d->msix_vector_release_notifier = NULL;
}

/* The config is loaded: the function mask follows it. */
void msix_post_load(PCIDevice *d)
{
    if (d->msix_cap) {
        d->msix_function_masked = msix_compute_function_masked(d);
    }
}

static bool msix_needed(void *opaque)
{
    return ((PCIDevice *)opaque)->msix_cap != 0;
}

static bool msix_pre_save(void *opaque, GError **errp)
{
    PCIDevice *d = opaque;

    d->msix_mig_table_len = d->msix_table_len;
    d->msix_mig_pba_len = d->msix_pba_len;
    return true;
}

/* The stream's table and PBA must be this function's sizes. */
static bool msix_state_post_load(void *opaque, int version_id,
                                 GError **errp)
{
    PCIDevice *d = opaque;

    if (d->msix_mig_table_len != d->msix_table_len ||
        d->msix_mig_pba_len != d->msix_pba_len) {
        error_setg(errp, "PCI device %s: MSI-X table of %u bytes and PBA "
                   "of %u in the stream, %u and %u here",
                   object_get_typename(OBJECT(d)), d->msix_mig_table_len,
                   d->msix_mig_pba_len, d->msix_table_len, d->msix_pba_len);
        return false;
    }
    return true;
}

const VMStateDescription vmstate_msix = {
    .name = "PCIDevice/msix",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = msix_needed,
    .pre_save = msix_pre_save,
    .post_load = msix_state_post_load,
    .fields = (const VMStateField[]){
        VMSTATE_UINT8_VARRAY_POINTER(msix_table, PCIDevice,
                                     msix_mig_table_len,
                                     PCI_MSIX_MAX_ENTRIES *
                                         PCI_MSIX_ENTRY_SIZE),
        VMSTATE_UINT8_VARRAY_POINTER(msix_pba, PCIDevice, msix_mig_pba_len,
                                     PCI_MSIX_MAX_PBA_BYTES),
        VMSTATE_END_OF_LIST(),
    },
};
