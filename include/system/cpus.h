/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vCPUs as the rest of baton sees them, independent of the accelerator:
 * count, thread ids (query-cpus-fast) and a register dump (HMP info
 * registers). The accelerator creates them and implements the hooks.
 */
#ifndef BATON_SYSTEM_CPUS_H
#define BATON_SYSTEM_CPUS_H

#include <stdbool.h>
#include <glib.h>

#include "hw/core/machine.h"
#include "system/irqchip.h"

typedef struct CPUState {
    int index;
    int thread_id;     /* host TID of the vCPU thread, 0 if none */
    bool halted;
    void *accel;       /* accelerator-private */
} CPUState;

typedef struct AccelOps {
    const char *name;          /* "kvm", "qtest", "tcg" */
    /* Whether this host can use the accelerator (e.g. /dev/kvm opens). */
    bool (*available)(GError **errp);
    /* Create the VM, memory slots, irqchip, vCPUs (stopped). */
    bool (*init)(MachineState *ms, GError **errp);
    /* Let vCPU threads run / stop them and wait until all are stopped. */
    void (*resume_all)(void);
    void (*pause_all)(void);
    /* Put every vCPU in its reset state (boot entry on the boot vCPU). */
    void (*reset_all)(MachineState *ms);
    /*
     * The interrupt controller: GSI inputs, MSI, routes and irqfds
     * (system/irqchip.h). NULL: interrupts go nowhere.
     */
    const IrqchipOps *irqchip;
    /* Register dump in QEMU's "info registers" shape; NULL if none. */
    char *(*dump_registers)(CPUState *cpu);
    /*
     * Dirty-page logging is not here: an accelerator that runs guest code
     * registers a memory listener with log_global_start/stop/log_sync.
     */
    /*
     * Release the VM and the vCPUs. The kernel's teardown of a VM at its
     * last close can take a second or more on a loaded host; WAIT false
     * lets it go on after the return, off the big lock (a cpr-transfer's
     * old process, whose guest runs elsewhere, keeps its monitor
     * answering meanwhile); a later cleanup(true), at exit, waits for it.
     * Big lock held.
     */
    void (*cleanup)(bool wait);
} AccelOps;

void accel_register(const AccelOps *ops);
const AccelOps *accel_find(const char *name);
/* The accelerator chosen at startup (NULL before). */
const AccelOps *accel_current(void);
void accel_set_current(const AccelOps *ops);

/* Called by the accelerator as it creates vCPUs. */
void cpus_add(CPUState *cpu);
unsigned int cpus_count(void);
CPUState *cpus_get(unsigned int index);

#endif
