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

#include "hw/core/object.h"
#include "system/memory.h"

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

/* The one machine (NULL before creation). */
MachineState *current_machine_get(void);
void current_machine_set(MachineState *ms);

#endif
