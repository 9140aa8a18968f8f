/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ISA bus ("isa.0" on pc) and the abstract ISA device. ISA devices
 * are identified by their I/O base; the bus gives no dev path, so their
 * migration sections keep the previous release's names (see
 * DeviceClass.legacy_instance_id in hw/core/qdev.h).
 */
#ifndef BATON_HW_ISA_ISA_H
#define BATON_HW_ISA_ISA_H

#include "hw/core/qdev.h"

#define TYPE_ISA_BUS "ISA"
#define TYPE_ISA_DEVICE "isa-device"

typedef struct ISADevice {
    DeviceState parent_obj;
} ISADevice;

#define ISA_DEVICE(obj) OBJECT_CHECK(ISADevice, (obj), TYPE_ISA_DEVICE)

#endif
