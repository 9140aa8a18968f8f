/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ISA bus type and the abstract ISA device every legacy port device
 * (isa-serial, isa-debug-exit) descends from. The bus itself holds no
 * state: devices map their own I/O ports.
 */
#include "util/osdep.h"

#include "hw/isa/isa.h"

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
