/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pc machine's chipset, QEMU's names: "i440FX-pcihost" (root bus
 * "pci.0", configuration mechanism #1), its host bridge function
 * "i440FX" at 00:00.0 (8086:1237) and the PCI-to-ISA bridge "PIIX3" at
 * 00:01.0 (8086:7000), which holds the ISA bus "isa.0" and the PIRQ
 * routing registers 0x60-0x63. PAM/SMRAM registers are not modelled:
 * there is no firmware to shadow.
 */
#include "util/osdep.h"

#include "hw/core/machine.h"
#include "hw/isa/isa.h"
#include "hw/pci-host/i440fx.h"
#include "hw/pci/pci-host.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"

#define PIIX_PIRQC 0x60 /* PIRQRC[A:D] */
#define PIIX_NUM_PIRQS 4
#define PIRQ_DISABLE 0x80

/* What SeaBIOS programs on QEMU's pc: PIRQA-D to IRQ 10, 10, 11, 11. */
static const uint8_t pc_pirq_irqs[PIIX_NUM_PIRQS] = {10, 10, 11, 11};

/*
 * Slot N's INTA goes to PIRQ (N - 1) mod 4, and so on round the four
 * lines: the swizzle of QEMU's (and most) i440FX boards.
 */
static int piix3_map_irq(PCIDevice *d, int pin)
{
    return (pin + PCI_SLOT(d->devfn) - 1) & 3;
}

static int piix3_route_irq(void *opaque, int pirq)
{
    PCIDevice *piix3 = opaque;
    uint8_t v = piix3->config[PIIX_PIRQC + pirq];

    return (v & PIRQ_DISABLE) || (v & 0x0f) < 3 ? -1 : (v & 0x0f);
}

/*
 * A PIRQ's wired-OR changed (LEVEL), or only the routing (-1): then the
 * functions whose INTx bypasses baton's lines (irqfds) are told too.
 */
static void piix3_set_irq(void *opaque, int pirq, int level)
{
    PIIX3State *s = opaque;

    pci_pirq_router_update(&s->pirq, pirq, level, PIIX_NUM_PIRQS,
                           piix3_route_irq, s);
    if (pirq < 0) {
        pci_bus_fire_intx_routing_notifier(s->parent_obj.bus);
    }
}

static void piix3_write_config(PCIDevice *d, uint32_t addr, uint32_t val,
                               int len)
{
    pci_default_write_config(d, addr, val, len);
    if (addr < PIIX_PIRQC + PIIX_NUM_PIRQS && addr + len > PIIX_PIRQC) {
        piix3_set_irq(d, -1, -1);
    }
}

static void piix3_reset(PCIDevice *d)
{
    piix3_set_irq(d, -1, -1);
}

static bool piix3_post_load(void *opaque, int version_id, GError **errp)
{
    piix3_set_irq(opaque, -1, -1);
    return true;
}

static bool piix3_realize(PCIDevice *d, GError **errp)
{
    PIIX3State *s = (PIIX3State *)d;

    for (int i = 0; i < PIIX_NUM_PIRQS; i++) {
        d->config[PIIX_PIRQC + i] = PIRQ_DISABLE;
        d->wmask[PIIX_PIRQC + i] = 0x8f;
    }
    qbus_new(TYPE_ISA_BUS, DEVICE(d), "isa.0");
    pci_pirq_router_init(&s->pirq);
    pci_bus_irqs(d->bus, piix3_set_irq, piix3_map_irq, piix3_route_irq, d,
                 PIIX_NUM_PIRQS);
    return true;
}

static void i440fx_fw_setup(PCIHostState *s, PCIFwConfig *cfg)
{
    for (int i = 0; i < PIIX_NUM_PIRQS; i++) {
        pci_data_write(s->bus, 0, PCI_DEVFN(1, 0), PIIX_PIRQC + i,
                       pc_pirq_irqs[i], 1);
    }
}

static const VMStateDescription vmstate_i440fx_host = {
    .name = "i440FX-pcihost",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields =
        (const VMStateField[]){
            VMSTATE_UINT32(config_reg, PCIHostState),
            VMSTATE_END_OF_LIST(),
        },
};

static const VMStateDescription vmstate_i440fx = {
    .name = "I440FX",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, I440FXState),
            VMSTATE_END_OF_LIST(),
        },
};

static const VMStateDescription vmstate_piix3 = {
    .name = "PIIX3",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = piix3_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, PIIX3State),
            VMSTATE_END_OF_LIST(),
        },
};

static void i440fx_host_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIHostBridgeClass *hc = PCI_HOST_BRIDGE_CLASS(oc);

    hc->root_bus_name = "pci.0";
    hc->root_bus_type = TYPE_PCI_BUS;
    hc->fw_setup = i440fx_fw_setup;
    dc->vmsd = &vmstate_i440fx_host;
    /* Registers only: migrated, no fds. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "i440FX host bridge (pc's PCI host, 0xCF8/0xCFC)";
}

static void i440fx_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->vendor_id = PCI_VENDOR_ID_INTEL;
    pc->device_id = 0x1237;
    pc->revision = 0x02;
    pc->class_id = PCI_CLASS_BRIDGE_HOST;
    dc->vmsd = &vmstate_i440fx;
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "i440FX host bridge function (00:00.0)";
}

static void piix3_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    pc->realize = piix3_realize;
    pc->config_write = piix3_write_config;
    pc->reset = piix3_reset;
    pc->vendor_id = PCI_VENDOR_ID_INTEL;
    pc->device_id = 0x7000;
    pc->class_id = PCI_CLASS_BRIDGE_ISA;
    dc->vmsd = &vmstate_piix3;
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "PIIX3 PCI-to-ISA bridge (00:01.0, PIRQ routing, isa.0)";
}

static const TypeInfo i440fx_types[] = {
    {
        .name = TYPE_I440FX_PCI_HOST_BRIDGE,
        .parent = TYPE_PCI_HOST_BRIDGE,
        .class_init = i440fx_host_class_init,
    },
    {
        .name = TYPE_I440FX_PCI_DEVICE,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(I440FXState),
        .class_init = i440fx_class_init,
    },
    {
        .name = TYPE_PIIX3_PCI_DEVICE,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(PIIX3State),
        .class_init = piix3_class_init,
    },
};

static void i440fx_register_types(void)
{
    type_register_static_array(i440fx_types, ARRAY_SIZE(i440fx_types));
}

type_init(i440fx_register_types)
