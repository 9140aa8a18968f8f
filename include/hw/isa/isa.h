/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ISA bus ("isa.0" on pc) and the abstract ISA device. ISA devices
 * are identified by their I/O base; the bus gives no dev path, so their
 * migration sections keep the previous release's names (see
 * DeviceClass.legacy_instance_id in hw/core/qdev.h).
 */
#ifndef BATON_HW_ISA_ISA_H
#define BATON_HW_ISA_ISA_H

#include "hw/core/irq.h"
#include "hw/core/qdev.h"

#define TYPE_ISA_BUS "ISA"
#define TYPE_ISA_DEVICE "isa-device"

/* ISA IRQs 0-15 (the PC wires them to GSIs 0-15). */
#define ISA_NUM_IRQS 16

/*
 * The bus carries the 16 ISA interrupt lines, wired by whoever creates it
 * (the machine: its GSI lines; a unit test: its own recorders).
 */
typedef struct ISABus {
    BusState parent_obj;

    qemu_irq irqs[ISA_NUM_IRQS]; /* not owned; NULL until wired */
} ISABus;

typedef struct ISADevice {
    DeviceState parent_obj;
} ISADevice;

#define ISA_BUS(obj) OBJECT_CHECK(ISABus, (obj), TYPE_ISA_BUS)
#define ISA_DEVICE(obj) OBJECT_CHECK(ISADevice, (obj), TYPE_ISA_DEVICE)

/* Wire BUS's ISA IRQ i to IRQS[i] (ISA_NUM_IRQS lines, not owned). */
void isa_bus_set_irqs(BusState *bus, const qemu_irq *irqs);
/*
 * BUS's line for ISAIRQ (< ISA_NUM_IRQS), or NULL + errp naming the bus
 * when it is not wired.
 */
qemu_irq isa_bus_get_irq(BusState *bus, unsigned int isairq, GError **errp);
/* The line for ISAIRQ on the ISA bus DEV is plugged into (as above). */
qemu_irq isa_get_irq(DeviceState *dev, unsigned int isairq, GError **errp);

#endif
