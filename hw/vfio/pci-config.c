/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfio-pci's config space: the guest sees the device's own config (read
 * from the device fd) except for the bits baton emulates in the PCI
 * core's copy: BARs and the ROM BAR (the guest's addresses, sizes from
 * the regions), interrupt line and pin, the multifunction bit, and the
 * MSI and MSI-X capabilities (baton's hw/pci/msi.c and msix.c; the host
 * side follows through SET_IRQS). Other writes go to the device, whose
 * kernel driver filters them in turn.
 */
#include "util/osdep.h"

#include <errno.h>
#include <unistd.h>

#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "trace.h"
#include "util/error-report.h"
#include "vfio-internal.h"

uint32_t vfio_config_merge(uint32_t emu, uint32_t phys, uint32_t mask)
{
    return (emu & mask) | (phys & ~mask);
}

bool vfio_config_pread(VFIOPCIDevice *vdev, void *buf, size_t len,
                       uint32_t addr, GError **errp)
{
    ssize_t n = pread(vdev->fd, buf, len, (off_t)(vdev->config_offset + addr));

    if (n != (ssize_t)len) {
        error_setg(errp, "failed to read device config space at 0x%x: %s", addr,
                   n < 0 ? g_strerror(errno) : "short read");
        return false;
    }
    return true;
}

static uint32_t vfio_emulated_mask(VFIOPCIDevice *vdev, uint32_t addr, int len)
{
    uint32_t mask = 0;

    for (int i = 0; i < len; i++) {
        mask |= (uint32_t)vdev->emulated[addr + i] << (8 * i);
    }
    return mask;
}

uint32_t vfio_pci_read_config(PCIDevice *d, uint32_t addr, int len)
{
    VFIOPCIDevice *vdev = (VFIOPCIDevice *)d;
    uint32_t full = len == 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
    uint32_t mask =
        addr < PCI_CONFIG_SPACE_SIZE ? vfio_emulated_mask(vdev, addr, len) : 0;
    uint32_t emu = pci_default_read_config(d, addr, len);
    uint32_t phys = 0, val;

    if (mask != full) {
        GError *local_err = NULL;

        if (!vfio_config_pread(vdev, &phys, len, addr, &local_err)) {
            log_mask(LOG_GUEST_ERROR, "vfio %s: %s", vdev->name,
                     local_err->message);
            g_error_free(local_err);
            phys = full;
        }
        phys = GUINT32_FROM_LE(phys);
    }
    val = vfio_config_merge(emu, phys, mask) & full;
    trace_vfio_config_read(vdev->name, addr, len, val);
    return val;
}

void vfio_pci_write_config(PCIDevice *d, uint32_t addr, uint32_t val, int len)
{
    VFIOPCIDevice *vdev = (VFIOPCIDevice *)d;
    int first = 0, last = len - 1;

    trace_vfio_config_write(vdev->name, addr, len, val);
    /*
     * The bytes the device owns go to it (the span from the first to the
     * last not wholly emulated one); wholly emulated bytes at the ends,
     * such as the MSI-X flags after a capability header, do not.
     */
    while (first < len && addr + first < PCI_CONFIG_SPACE_SIZE &&
           vdev->emulated[addr + first] == 0xff) {
        first++;
    }
    while (last >= first && addr + last < PCI_CONFIG_SPACE_SIZE &&
           vdev->emulated[addr + last] == 0xff) {
        last--;
    }
    if (first <= last) {
        uint32_t le = GUINT32_TO_LE(val);
        int n = last - first + 1;
        ssize_t done = pwrite(vdev->fd, (uint8_t *)&le + first, n,
                              (off_t)(vdev->config_offset + addr + first));

        if (done != n) {
            log_mask(LOG_GUEST_ERROR,
                     "vfio %s: config write of %d bytes at 0x%x failed: %s",
                     vdev->name, n, addr + first,
                     done < 0 ? g_strerror(errno) : "short write");
        }
    }
    /* The core keeps the emulated state: mappings, MSI, MSI-X, INTx. */
    pci_default_write_config(d, addr, val, len);
    vfio_irqs_update(vdev, addr, len);
}

static void vfio_emulate(VFIOPCIDevice *vdev, uint32_t addr, uint32_t len,
                         uint8_t bits)
{
    memset(vdev->emulated + addr, bits, len);
}

/* MSI at POS: baton's MSI capability with the device's geometry. */
static bool vfio_msi_setup(VFIOPCIDevice *vdev, uint8_t pos, GError **errp)
{
    PCIDevice *d = &vdev->parent_obj;
    uint16_t flags = pci_get_word(d->config + pos + PCI_MSI_FLAGS);
    unsigned int nr = 1u << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);

    if (msi_init(d, pos, nr, flags & PCI_MSI_FLAGS_64BIT,
                 flags & PCI_MSI_FLAGS_MASKBIT, errp) < 0) {
        return false;
    }
    vfio_emulate(vdev, pos + 2, msi_cap_size(d) - 2, 0xff);
    return true;
}

/*
 * The capabilities baton emulates, at the device's offsets. The PCI core
 * links a capability it adds at the head of the list; the device's own
 * list is put back afterwards (those bytes are the device's anyway).
 */
static bool vfio_caps_setup(VFIOPCIDevice *vdev, const uint8_t *phys,
                            GError **errp)
{
    PCIDevice *d = &vdev->parent_obj;
    uint8_t pos, hops = 0;

    if (!(pci_get_word(phys + PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
        return true;
    }
    for (pos = phys[PCI_CAPABILITY_LIST] & ~3; pos && hops < 48;
         pos = phys[pos + PCI_CAP_LIST_NEXT] & ~3, hops++) {
        if (pos < PCI_CONFIG_HEADER_SIZE) {
            error_setg(errp, "capability list points into the header (0x%x)",
                       pos);
            return false;
        }
        switch (phys[pos + PCI_CAP_LIST_ID]) {
        case PCI_CAP_ID_MSI:
            if (!vfio_msi_setup(vdev, pos, errp)) {
                return false;
            }
            break;
        case PCI_CAP_ID_MSIX:
            if (!vfio_msix_setup(vdev, pos, errp)) {
                return false;
            }
            break;
        default:
            break; /* passed through */
        }
    }
    d->config[PCI_CAPABILITY_LIST] = phys[PCI_CAPABILITY_LIST];
    for (pos = phys[PCI_CAPABILITY_LIST] & ~3, hops = 0; pos && hops < 48;
         pos = phys[pos + PCI_CAP_LIST_NEXT] & ~3, hops++) {
        d->config[pos + PCI_CAP_LIST_ID] = phys[pos + PCI_CAP_LIST_ID];
        d->config[pos + PCI_CAP_LIST_NEXT] = phys[pos + PCI_CAP_LIST_NEXT];
    }
    return true;
}

bool vfio_config_setup(VFIOPCIDevice *vdev, GError **errp)
{
    PCIDevice *d = &vdev->parent_obj;
    uint8_t phys[PCI_CONFIG_SPACE_SIZE];
    uint8_t header = d->config[PCI_HEADER_TYPE];

    if (vdev->config_size < PCI_CONFIG_SPACE_SIZE) {
        error_setg(errp, "config region of 0x%" PRIx64 " bytes is too small",
                   vdev->config_size);
        return false;
    }
    if (!vfio_config_pread(vdev, phys, sizeof(phys), 0, errp)) {
        return false;
    }
    if ((phys[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
        error_setg(errp,
                   "header type 0x%x: only type 0 functions can be "
                   "assigned",
                   phys[PCI_HEADER_TYPE]);
        return false;
    }
    /* The core's copy starts as the device's (what query-pci shows). */
    memcpy(d->config, phys, sizeof(phys));
    memset(d->config + PCI_BASE_ADDRESS_0, 0, 24);
    memset(d->config + PCI_ROM_ADDRESS, 0, 4);
    d->config[PCI_INTERRUPT_LINE] = 0;
    pci_set_word(d->config + PCI_STATUS,
                 pci_get_word(phys + PCI_STATUS) & ~PCI_STATUS_INTERRUPT);
    /* Multifunction is the machine's view (multifunction=), not the host's. */
    d->config[PCI_HEADER_TYPE] = (phys[PCI_HEADER_TYPE] & 0x7f) |
                                 (header & PCI_HEADER_TYPE_MULTI_FUNCTION);
    vfio_emulate(vdev, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_MULTI_FUNCTION);
    vfio_emulate(vdev, PCI_BASE_ADDRESS_0, 24, 0xff);
    vfio_emulate(vdev, PCI_ROM_ADDRESS, 4, 0xff);
    vfio_emulate(vdev, PCI_INTERRUPT_LINE, 2, 0xff);
    /* INTx: only a pin the device has and can signal on. */
    if (!vfio_intx_probe(vdev, phys[PCI_INTERRUPT_PIN])) {
        d->config[PCI_INTERRUPT_PIN] = 0;
    }
    return vfio_caps_setup(vdev, phys, errp);
}
