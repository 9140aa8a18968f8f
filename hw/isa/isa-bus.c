/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ISA bus type and the abstract ISA device every legacy port device
 * (isa-serial, isa-debug-exit) descends from. The bus holds only its 16
 * interrupt lines: devices map their own I/O ports.
 */
#include "util/osdep.h"

#include "hw/isa/isa.h"

void isa_bus_set_irqs(BusState *bus, const qemu_irq *irqs)
{
    ISABus *isa = ISA_BUS(bus);

    memcpy(isa->irqs, irqs, sizeof(isa->irqs));
}

qemu_irq isa_bus_get_irq(BusState *bus, unsigned int isairq, GError **errp)
{
    ISABus *isa = ISA_BUS(bus);

    g_assert(isairq < ISA_NUM_IRQS);
    if (!isa->irqs[isairq]) {
        error_setg(errp, "ISA bus '%s' has no interrupt line for IRQ %u",
                   bus->name, isairq);
        return NULL;
    }
    return isa->irqs[isairq];
}

qemu_irq isa_get_irq(DeviceState *dev, unsigned int isairq, GError **errp)
{
    g_assert(dev->parent_bus);
    return isa_bus_get_irq(dev->parent_bus, isairq, errp);
}

static void isa_bus_class_init(ObjectClass *oc, const void *data)
{
    oc->desc = "ISA bus (legacy I/O ports)";
}

static void isa_device_class_init(ObjectClass *oc, const void *data)
{
    DEVICE_CLASS(oc)->bus_type = TYPE_ISA_BUS;
}

static const TypeInfo isa_types[] = {
    {
        .name = TYPE_ISA_BUS,
        .parent = TYPE_BUS,
        .instance_size = sizeof(ISABus),
        .class_init = isa_bus_class_init,
    },
    {
        .name = TYPE_ISA_DEVICE,
        .parent = TYPE_DEVICE,
        .abstract = true,
        .instance_size = sizeof(ISADevice),
        .class_init = isa_device_class_init,
    },
};

static void isa_register_types(void)
{
    type_register_static_array(isa_types, ARRAY_SIZE(isa_types));
}
type_init(isa_register_types)
