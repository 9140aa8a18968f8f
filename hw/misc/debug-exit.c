/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "isa-debug-exit": an I/O port range whose writes end baton with exit
 * status (value << 1) | 1, QEMU's test device for guests that report a
 * result. Reads return 0. The exit goes through request_exit(), so the
 * main loop cleans up (monitors, chardevs, terminal state) first.
 */
#include "util/osdep.h"

#include "hw/isa/isa.h"
#include "migration/cpr.h"
#include "system/memory.h"
#include "system/runstate.h"

typedef struct DebugExitState {
    ISADevice parent_obj;

    /* properties */
    uint32_t iobase;
    uint32_t iosize;

    /* runtime only */
    MemoryRegion io;
} DebugExitState;

static uint64_t debug_exit_read(void *opaque, hwaddr offset, unsigned int size)
{
    return 0;
}

static void debug_exit_write(void *opaque, hwaddr offset, uint64_t value,
                             unsigned int size)
{
    /* The value as wide as the access (outb/outw/outl), as in QEMU. */
    uint64_t mask = size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;

    request_exit((int)(((value & mask) << 1) | 1));
}

static const MemoryRegionOps debug_exit_ops = {
    .read = debug_exit_read,
    .write = debug_exit_write,
};

static bool debug_exit_realize(DeviceState *dev, GError **errp)
{
    DebugExitState *s = (DebugExitState *)dev;

    if (s->iosize == 0 || s->iobase > 0xffff ||
        s->iosize > 0x10000 - s->iobase) {
        error_setg(errp,
                   "isa-debug-exit: iobase 0x%" PRIx32 " with iosize "
                   "0x%" PRIx32 " does not fit the I/O space (0-0xffff)",
                   s->iobase, s->iosize);
        return false;
    }
    memory_region_init_io(&s->io, OBJECT(dev), &debug_exit_ops, s, "isa-debug-exit",
                          s->iosize);
    memory_region_add_subregion(get_system_io(), s->iobase, &s->io);
    return true;
}

static void debug_exit_unrealize(DeviceState *dev)
{
    DebugExitState *s = (DebugExitState *)dev;

    memory_region_finalize(&s->io); /* no-op if realize failed */
}

static const Property debug_exit_props[] = {
    DEFINE_PROP("iobase", PROP_UINT32, DebugExitState, iobase,
                .defval = "0x501", .desc = "first I/O port"),
    DEFINE_PROP("iosize", PROP_UINT32, DebugExitState, iosize, .defval = "0x02",
                .desc = "number of I/O ports"),
    {NULL},
};

static void debug_exit_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    device_class_set_props(dc, debug_exit_props);
    dc->user_creatable = true;
    dc->realize = debug_exit_realize;
    dc->unrealize = debug_exit_unrealize;
    dc->stateless = true;
    /* No state and no fds. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "exit baton with status (value << 1) | 1 on a port write";
}

static const TypeInfo debug_exit_type = {
    .name = "isa-debug-exit",
    .parent = TYPE_ISA_DEVICE,
    .instance_size = sizeof(DebugExitState),
    .class_init = debug_exit_class_init,
};

static void debug_exit_register_types(void)
{
    type_register(&debug_exit_type);
}

type_init(debug_exit_register_types)
