/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The machine: RAM size and backend, vCPU count, accelerator choice and the
 * boot device. One machine exists per process. Machine types are object
 * types descending from TYPE_MACHINE; QEMU's versioned names
 * ("pc-q35-11.0", "pc-i440fx-9.2") and aliases ("pc", "q35") resolve to
 * baton's machines through machine_type_find().
 */
#ifndef BATON_HW_CORE_MACHINE_H
#define BATON_HW_CORE_MACHINE_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include "hw/core/irq.h"
#include "hw/core/object.h"
#include "system/memory.h"

struct Chardev;

/* -serial ports: COM1-COM4. */
#define MACHINE_MAX_SERIALS 4

typedef struct MachineState {
    Object parent_obj;

    /* -machine properties */
    char *memory_backend;   /* id of a memory-backend object, or NULL */
    bool aux_ram_share;
    char *kernel_irqchip;   /* "on" (default), "split", "off" */

    /* set from -m, -smp, -name before realize */
    uint64_t ram_size;
    unsigned int smp_cpus;
    bool ram_size_given;
    /* -serial's chardevs by port (NULL: none), for the machine's UARTs. */
    struct Chardev *serial_hds[MACHINE_MAX_SERIALS];

    /* runtime */
    RAMBlock *ram;          /* main RAM (NULL for machine "none") */
    uint64_t below_4g_mem_size;
    uint64_t above_4g_mem_size;

    /* Boot vCPU entry in real mode (set by the machine's realize). */
    bool has_boot_entry;
    uint16_t boot_cs;
    uint16_t boot_ip;
    uint8_t boot_dl;
} MachineState;

/*
 * Machine classes: complete() (ObjectClass) builds the board (RAM, fixed
 * ports); the hooks below run later, from system/vl.c's creation order.
 */
typedef struct MachineClass {
    ObjectClass parent_class;

    /* At every system reset, after the devices (boot loading). */
    void (*reset)(MachineState *ms);
    /*
     * The board's default devices and root buses, before -device:
     * (the ISA bus, serial ports for -serial's chardevs).
     */
    bool (*create_default_devices)(MachineState *ms, GError **errp);
    /* After -device: a disk for each -drive on the machine's IDE bus. */
    bool (*create_drive_devices)(MachineState *ms, GError **errp);
    /* The interrupt controller's input GSI, or NULL (see below). */
    qemu_irq (*get_gsi)(MachineState *ms, unsigned int gsi);
} MachineClass;

#define MACHINE(obj) OBJECT_CHECK(MachineState, (obj), TYPE_MACHINE)
#define MACHINE_GET_CLASS(obj) \
    OBJECT_GET_CLASS(MachineClass, (obj), TYPE_MACHINE)

typedef struct MachineTypeDef {
    const char *name;        /* "pc-i440fx-9.2" */
    const char *alias;       /* "pc", or NULL */
    const char *desc;
    const char *typename;    /* object type that implements it */
    bool is_default;
    bool deprecated;
    unsigned int max_cpus;
} MachineTypeDef;

/* Register machine names (the listing query-machines returns). */
void machine_register_names(const MachineTypeDef *defs, size_t n);
/*
 * Resolve a -machine type name: exact names, aliases, and any versioned
 * "pc-q35-X.Y" / "pc-i440fx-X.Y" / "pc-X.Y". NULL if unknown.
 */
const MachineTypeDef *machine_type_find(const char *name);
/* All names, for query-machines and -machine help (GPtrArray of defs). */
GPtrArray *machine_type_list(void);

/*
 * Make MS (a new machine object, properties and sizes set) the machine:
 * /machine in the tree, current_machine_get(), then its complete().
 * On failure it is removed again (and freed).
 */
bool machine_complete(MachineState *ms, GError **errp);

/*
 * The current machine's interrupt line for GSI (pc: 0-23, ISA IRQs are
 * 0-15), owned by the machine, valid from its creation on; NULL without a
 * machine, for a machine without interrupt controller ("none"), or for a
 * GSI it does not have. PCI INTx routing and board code use it; ISA
 * devices take their IRQ from the bus (isa_get_irq()).
 */
qemu_irq machine_get_gsi(unsigned int gsi);

/* The one machine (NULL before creation). */
MachineState *current_machine_get(void);
void current_machine_set(MachineState *ms);

#endif
