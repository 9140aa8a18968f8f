/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "x-pci-test": baton's own PCI test function (1b36:00fe, class "other"),
 * the smallest device that exercises the PCI core for tests: BAR 0 is a
 * 4 KiB 32-bit MMIO area (scratch below 0xf00, then the interrupt
 * triggers), BAR 1 a 256-byte I/O window onto the first 256 bytes of the
 * scratch, BAR 2 a 64-bit prefetchable MMIO BAR of bar2-size bytes (0:
 * none) whose dwords read back their own offset, BAR 4 the MSI-X table
 * and PBA; a vendor-specific capability, MSI (64-bit, per-vector masks),
 * MSI-X and interrupt pin INTA. docs/system/pci.md lists the registers.
 * Not a model of real hardware.
 */
#include "util/osdep.h"

#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"

#define PCI_TEST_SCRATCH 4096
/* BAR 0 triggers (writes): INTx level, MSI vector, MSI-X vector. */
#define PCI_TEST_INTX 0xf00
#define PCI_TEST_MSI 0xf04
#define PCI_TEST_MSIX 0xf08
#define PCI_TEST_MSIX_BAR 4

typedef struct PCITestState {
    PCIDevice parent_obj;

    /* properties */
    uint64_t bar2_size;
    uint8_t msi_vectors;
    uint16_t msix_vectors;

    /* migrated */
    uint8_t scratch[PCI_TEST_SCRATCH];

    /* runtime only */
    MemoryRegion mmio, io, bar2;
} PCITestState;

static uint64_t pci_test_scratch_read(void *opaque, hwaddr addr,
                                      unsigned size)
{
    PCITestState *s = opaque;
    uint64_t v = 0;

    for (unsigned i = 0; i < size && addr + i < PCI_TEST_SCRATCH; i++) {
        v |= (uint64_t)s->scratch[addr + i] << (8 * i);
    }
    return v;
}

static void pci_test_scratch_write(void *opaque, hwaddr addr, uint64_t val,
                                   unsigned size)
{
    PCITestState *s = opaque;

    for (unsigned i = 0; i < size && addr + i < PCI_TEST_SCRATCH; i++) {
        s->scratch[addr + i] = (uint8_t)(val >> (8 * i));
    }
}

static const MemoryRegionOps pci_test_scratch_ops = {
    .read = pci_test_scratch_read,
    .write = pci_test_scratch_write,
};

/* BAR 0: the scratch, and at 0xf00 the interrupt triggers. */
static uint64_t pci_test_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    PCITestState *s = opaque;

    if (addr >= PCI_TEST_INTX) {
        return addr == PCI_TEST_INTX ? (uint64_t)s->parent_obj.irq_state : 0;
    }
    return pci_test_scratch_read(opaque, addr, size);
}

static void pci_test_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    PCITestState *s = opaque;
    PCIDevice *d = &s->parent_obj;

    switch (addr) {
    case PCI_TEST_INTX:
        pci_set_irq(d, val != 0);
        return;
    case PCI_TEST_MSI:
        msi_notify(d, (unsigned int)val);
        return;
    case PCI_TEST_MSIX:
        msix_notify(d, (unsigned int)val);
        return;
    default:
        if (addr < PCI_TEST_INTX) {
            pci_test_scratch_write(opaque, addr, val, size);
        }
    }
}

static const MemoryRegionOps pci_test_mmio_ops = {
    .read = pci_test_mmio_read,
    .write = pci_test_mmio_write,
    .impl.max_access_size = 4,
};

static uint64_t pci_test_bar2_read(void *opaque, hwaddr addr, unsigned size)
{
    return (uint32_t)(addr & ~3ULL) >> (8 * (addr & 3));
}

static const MemoryRegionOps pci_test_bar2_ops = {
    .read = pci_test_bar2_read,
    .impl.max_access_size = 4,
};

static bool pci_test_realize(PCIDevice *d, GError **errp)
{
    PCITestState *s = (PCITestState *)d;
    Object *owner = OBJECT(d);

    if (s->bar2_size && (s->bar2_size < 16 ||
                         (s->bar2_size & (s->bar2_size - 1)))) {
        error_setg(errp, "x-pci-test: bar2-size 0x%" PRIx64 " is not a "
                   "power of two of at least 16 bytes", s->bar2_size);
        return false;
    }
    if (pci_add_capability(d, PCI_CAP_ID_VNDR, 0, 8, errp) < 0 ||
        (s->msi_vectors &&
         msi_init(d, 0, s->msi_vectors, true, true, errp) < 0) ||
        (s->msix_vectors &&
         msix_init_exclusive_bar(d, s->msix_vectors, PCI_TEST_MSIX_BAR,
                                 errp) < 0)) {
        return false;
    }
    d->config[PCI_INTERRUPT_PIN] = 1;
    memory_region_init_io(&s->mmio, owner, &pci_test_mmio_ops, s,
                          "pci-test-mmio", PCI_TEST_SCRATCH);
    memory_region_init_io(&s->io, owner, &pci_test_scratch_ops, s,
                          "pci-test-io", 256);
    pci_register_bar(d, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);
    pci_register_bar(d, 1, PCI_BASE_ADDRESS_SPACE_IO, &s->io);
    if (s->bar2_size) {
        memory_region_init_io(&s->bar2, owner, &pci_test_bar2_ops, s,
                              "pci-test-bar2", s->bar2_size);
        pci_register_bar(d, 2, PCI_BASE_ADDRESS_SPACE_MEMORY |
                                   PCI_BASE_ADDRESS_MEM_TYPE_64 |
                                   PCI_BASE_ADDRESS_MEM_PREFETCH,
                         &s->bar2);
    }
    return true;
}

/* The core has unmapped the BARs already and undoes MSI/MSI-X after. */
static void pci_test_exit(PCIDevice *d)
{
    PCITestState *s = (PCITestState *)d;

    memory_region_finalize(&s->mmio);
    memory_region_finalize(&s->io);
    if (s->bar2_size) {
        memory_region_finalize(&s->bar2);
    }
}

static const VMStateDescription vmstate_pci_test = {
    .name = "x-pci-test",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]){
        VMSTATE_PCI_DEVICE(parent_obj, PCITestState),
        VMSTATE_BUFFER(scratch, PCITestState, PCI_TEST_SCRATCH),
        VMSTATE_END_OF_LIST(),
    },
};

static const Property pci_test_props[] = {
    DEFINE_PROP("bar2-size", PROP_SIZE, PCITestState, bar2_size,
                .defval = "1M",
                .desc = "size of the 64-bit prefetchable BAR 2 (0: none)"),
    DEFINE_PROP("msi-vectors", PROP_UINT8, PCITestState, msi_vectors,
                .defval = "4", .desc = "MSI vectors: 1, 2, 4, ... 32 (0: no MSI)"),
    DEFINE_PROP("msix-vectors", PROP_UINT16, PCITestState, msix_vectors,
                .defval = "8", .desc = "MSI-X vectors in BAR 4 (0: no MSI-X)"),
    {NULL},
};

static void pci_test_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    device_class_set_props(dc, pci_test_props);
    dc->user_creatable = true;
    dc->vmsd = &vmstate_pci_test;
    pc->realize = pci_test_realize;
    pc->exit = pci_test_exit;
    pc->vendor_id = PCI_VENDOR_ID_REDHAT;
    pc->device_id = 0x00fe;
    pc->class_id = PCI_CLASS_OTHERS;
    /* Config space and scratch are migrated; no fds. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "baton's PCI test function (scratch BARs, for tests)";
}

static const TypeInfo pci_test_type = {
    .name = "x-pci-test",
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(PCITestState),
    .class_init = pci_test_class_init,
};

static void pci_test_register_types(void)
{
    type_register(&pci_test_type);
}

type_init(pci_test_register_types)
