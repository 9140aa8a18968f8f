/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The q35 machine's chipset, QEMU's names: "q35-pcihost" (root bus
 * "pcie.0", 0xCF8/0xCFC), the MCH function "mch" at 00:00.0 (8086:29c0)
 * whose PCIEXBAR register places the ECAM window, and "ICH9-LPC" at
 * 00:1f.0 (8086:2918) with PIRQ A-H routing and the ISA bus "isa.0".
 * Chipset functions' own interrupt registers (D31IR...) are not
 * modelled: every slot swizzles onto PIRQ E-H as QEMU's defaults do.
 */
#include "util/osdep.h"

#include "hw/core/machine.h"
#include "hw/isa/isa.h"
#include "hw/pci-host/q35.h"
#include "hw/pci/pci-host.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"

#define ICH9_NUM_PIRQS 8
#define ICH9_PIRQA_ROUT 0x60 /* PIRQ A-D */
#define ICH9_PIRQE_ROUT 0x68 /* PIRQ E-H */
#define PIRQ_DISABLE 0x80
#define PCIEXBAR_ENABLE 0x1
#define PCIEXBAR_LENGTH_MASK 0x6

static const uint8_t q35_pirq_irqs[4] = {10, 10, 11, 11};

static uint32_t ich9_pirq_reg(int pirq)
{
    return pirq < 4 ? ICH9_PIRQA_ROUT + pirq : ICH9_PIRQE_ROUT + pirq - 4;
}

/* ---- MCH: PCIEXBAR ---- */

/*
 * Re-place the ECAM window from PCIEXBAR: enable bit, length 256/128/64
 * MiB (encodings 0-2; 3 is reserved and disables it), base aligned to
 * the length.
 */
static void mch_update_pciexbar(MCHPCIState *mch)
{
    PCIDevice *d = &mch->parent_obj;
    PCIHostState *host = PCI_HOST_BRIDGE(d->bus->qbus.parent);
    uint64_t bar = pci_get_quad(d->config + MCH_HOST_BRIDGE_PCIEXBAR);
    unsigned int len = (bar & PCIEXBAR_LENGTH_MASK) >> 1;
    uint64_t size = MCH_HOST_BRIDGE_PCIEXBAR_MAX >> len;
    uint64_t base = bar & ~(size - 1) & 0xffffffffcULL;

    if (!(bar & PCIEXBAR_ENABLE) || len == 3) {
        base = PCI_BAR_UNMAPPED;
    }
    if (base == mch->mmcfg_base && size == mch->mmcfg_size) {
        return;
    }
    memory_region_transaction_begin();
    if (mch->mmcfg_base != PCI_BAR_UNMAPPED) {
        memory_region_finalize(&mch->mmcfg);
    }
    mch->mmcfg_base = base;
    mch->mmcfg_size = size;
    if (base != PCI_BAR_UNMAPPED) {
        memory_region_init_io(&mch->mmcfg, OBJECT(d), &pcie_mmcfg_ops, host,
                              "pcie-mmcfg-mmio", size);
        memory_region_add_subregion(get_system_memory(), base, &mch->mmcfg);
    }
    memory_region_transaction_commit();
}

static void mch_write_config(PCIDevice *d, uint32_t addr, uint32_t val, int len)
{
    pci_default_write_config(d, addr, val, len);
    if (addr < MCH_HOST_BRIDGE_PCIEXBAR + 8 &&
        addr + len > MCH_HOST_BRIDGE_PCIEXBAR) {
        mch_update_pciexbar((MCHPCIState *)d);
    }
}

static bool mch_realize(PCIDevice *d, GError **errp)
{
    MCHPCIState *mch = (MCHPCIState *)d;

    mch->mmcfg_base = PCI_BAR_UNMAPPED;
    /* Base (bits 35:26), length, enable; 36 physical address bits. */
    pci_set_long(d->wmask + MCH_HOST_BRIDGE_PCIEXBAR, 0xfc000007);
    pci_set_long(d->wmask + MCH_HOST_BRIDGE_PCIEXBAR + 4, 0xf);
    return true;
}

static void mch_exit(PCIDevice *d)
{
    MCHPCIState *mch = (MCHPCIState *)d;

    if (mch->mmcfg_base != PCI_BAR_UNMAPPED) {
        memory_region_finalize(&mch->mmcfg);
        mch->mmcfg_base = PCI_BAR_UNMAPPED;
    }
}

/* After a reset (PCIEXBAR back to 0) or a load: follow the register. */
static void mch_reset(PCIDevice *d)
{
    mch_update_pciexbar((MCHPCIState *)d);
}

static bool mch_post_load(void *opaque, int version_id, GError **errp)
{
    mch_update_pciexbar(opaque);
    return true;
}

/* ---- ICH9-LPC: PIRQ routing ---- */

static int ich9_map_irq(PCIDevice *d, int pin)
{
    return 4 + ((PCI_SLOT(d->devfn) + pin) & 3);
}

static int ich9_route_irq(void *opaque, int pirq)
{
    PCIDevice *lpc = opaque;
    uint8_t v = lpc->config[ich9_pirq_reg(pirq)];

    return (v & PIRQ_DISABLE) || (v & 0x0f) < 3 ? -1 : (v & 0x0f);
}

/*
 * The GSI a PIRQ reaches for an irqfd: its ISA IRQ while routed to the
 * 8259 (KVM's GSIs 0-15 feed the PIC and the IOAPIC), else the IOAPIC
 * pin ich9_set_irq() drives for it in any case.
 */
static int ich9_route_gsi(void *opaque, int pirq)
{
    int irq = ich9_route_irq(opaque, pirq);

    return irq >= 0 ? irq : 16 + pirq;
}

/*
 * A PIRQ's wired-OR changed (LEVEL), or only the routing (-1): to the ISA
 * IRQ its routing register names (the PIC's view) and, as on QEMU's q35,
 * straight to IOAPIC pin 16 + PIRQ.
 */
static void ich9_set_irq(void *opaque, int pirq, int level)
{
    ICH9LPCState *s = opaque;

    pci_pirq_router_update(&s->pirq, pirq, level, ICH9_NUM_PIRQS,
                           ich9_route_irq, s);
    if (pirq >= 0 && level >= 0) {
        qemu_set_irq(s->apic_gsi[pirq], level);
    }
    if (pirq < 0) {
        pci_bus_fire_intx_routing_notifier(s->parent_obj.bus);
    }
}

static bool ich9_is_pirq_reg(uint32_t addr, int len)
{
    return (addr < ICH9_PIRQA_ROUT + 4 && addr + len > ICH9_PIRQA_ROUT) ||
           (addr < ICH9_PIRQE_ROUT + 4 && addr + len > ICH9_PIRQE_ROUT);
}

static void ich9_lpc_write_config(PCIDevice *d, uint32_t addr, uint32_t val,
                                  int len)
{
    pci_default_write_config(d, addr, val, len);
    if (ich9_is_pirq_reg(addr, len)) {
        ich9_set_irq(d, -1, -1);
    }
}

static void ich9_lpc_reset(PCIDevice *d)
{
    ich9_set_irq(d, -1, -1);
}

static bool ich9_lpc_post_load(void *opaque, int version_id, GError **errp)
{
    ich9_set_irq(opaque, -1, -1);
    return true;
}

static bool ich9_lpc_realize(PCIDevice *d, GError **errp)
{
    ICH9LPCState *s = (ICH9LPCState *)d;

    for (int i = 0; i < ICH9_NUM_PIRQS; i++) {
        d->config[ich9_pirq_reg(i)] = PIRQ_DISABLE;
        d->wmask[ich9_pirq_reg(i)] = 0x8f;
        s->apic_gsi[i] = current_machine_get() ? machine_get_gsi(16 + i) : NULL;
    }
    qbus_new(TYPE_ISA_BUS, DEVICE(d), "isa.0");
    pci_pirq_router_init(&s->pirq);
    pci_bus_irqs(d->bus, ich9_set_irq, ich9_map_irq, ich9_route_irq, d,
                 ICH9_NUM_PIRQS);
    pci_bus_set_route_gsi(d->bus, ich9_route_gsi);
    return true;
}

/*
 * Firmware's part: ECAM at QEMU's default base (SeaBIOS writes it), and
 * PIRQ A-H to 10, 10, 11, 11 (twice). The PCI hole starts above ECAM.
 */
static void q35_fw_setup(PCIHostState *s, PCIFwConfig *cfg)
{
    uint64_t bar = MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT | PCIEXBAR_ENABLE;

    pci_data_write(s->bus, 0, 0, MCH_HOST_BRIDGE_PCIEXBAR + 4, bar >> 32, 4);
    pci_data_write(s->bus, 0, 0, MCH_HOST_BRIDGE_PCIEXBAR, (uint32_t)bar, 4);
    for (int i = 0; i < ICH9_NUM_PIRQS; i++) {
        pci_data_write(s->bus, 0, ICH9_LPC_DEVFN, ich9_pirq_reg(i),
                       q35_pirq_irqs[i % 4], 1);
    }
    cfg->mem_base = MAX(cfg->mem_base, MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT +
                                           MCH_HOST_BRIDGE_PCIEXBAR_MAX);
}

static const VMStateDescription vmstate_q35_host = {
    .name = "q35-pcihost",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT32(config_reg, PCIHostState),
            VMSTATE_END_OF_LIST(),
        },
};

static const VMStateDescription vmstate_mch = {
    .name = "mch",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = mch_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, MCHPCIState),
            VMSTATE_END_OF_LIST(),
        },
};

static const VMStateDescription vmstate_ich9_lpc = {
    .name = "ICH9LPC",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = ich9_lpc_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, ICH9LPCState),
            VMSTATE_END_OF_LIST(),
        },
};

#define Q35_CPR_MODES (MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING)

static void q35_host_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIHostBridgeClass *hc = PCI_HOST_BRIDGE_CLASS(oc);

    hc->root_bus_name = "pcie.0";
    hc->root_bus_type = TYPE_PCIE_BUS;
    hc->fw_setup = q35_fw_setup;
    dc->vmsd = &vmstate_q35_host;
    /* Registers only: migrated, no fds. */
    oc->cpr_modes = Q35_CPR_MODES;
    oc->desc = "Q35 host bridge (q35's PCI Express host, ECAM)";
}

static void mch_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->realize = mch_realize;
    pc->exit = mch_exit;
    pc->reset = mch_reset;
    pc->config_write = mch_write_config;
    pc->vendor_id = PCI_VENDOR_ID_INTEL;
    pc->device_id = 0x29c0;
    pc->revision = 0x02;
    pc->class_id = PCI_CLASS_BRIDGE_HOST;
    dc->vmsd = &vmstate_mch;
    oc->cpr_modes = Q35_CPR_MODES;
    oc->desc = "Q35 memory controller hub (00:00.0, PCIEXBAR)";
}

static void ich9_lpc_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->realize = ich9_lpc_realize;
    pc->config_write = ich9_lpc_write_config;
    pc->reset = ich9_lpc_reset;
    pc->vendor_id = PCI_VENDOR_ID_INTEL;
    pc->device_id = 0x2918;
    pc->revision = 0x02;
    pc->class_id = PCI_CLASS_BRIDGE_ISA;
    dc->vmsd = &vmstate_ich9_lpc;
    oc->cpr_modes = Q35_CPR_MODES;
    oc->desc = "ICH9 LPC bridge (00:1f.0, PIRQ A-H routing, isa.0)";
}

static const TypeInfo q35_types[] = {
    {
        .name = TYPE_Q35_HOST_DEVICE,
        .parent = TYPE_PCI_HOST_BRIDGE,
        .class_init = q35_host_class_init,
    },
    {
        .name = TYPE_MCH_PCI_DEVICE,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(MCHPCIState),
        .class_init = mch_class_init,
    },
    {
        .name = TYPE_ICH9_LPC_DEVICE,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(ICH9LPCState),
        .class_init = ich9_lpc_class_init,
    },
};

static void q35_register_types(void)
{
    type_register_static_array(q35_types, ARRAY_SIZE(q35_types));
}

type_init(q35_register_types)
