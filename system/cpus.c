/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The accelerator registry and the accelerator-neutral list of vCPUs.
 */
#include "util/osdep.h"

#include "system/cpus.h"

static GPtrArray *accels;
static const AccelOps *current_accel;
static GPtrArray *cpus;

void accel_register(const AccelOps *ops)
{
    if (!accels) {
        accels = g_ptr_array_new();
    }
    g_assert(!accel_find(ops->name));
    g_ptr_array_add(accels, (gpointer)ops);
}

const AccelOps *accel_find(const char *name)
{
    for (guint i = 0; accels && i < accels->len; i++) {
        const AccelOps *ops = g_ptr_array_index(accels, i);

        if (!strcmp(ops->name, name)) {
            return ops;
        }
    }
    return NULL;
}

const AccelOps *accel_current(void)
{
    return current_accel;
}

void accel_set_current(const AccelOps *ops)
{
    current_accel = ops;
}

void cpus_add(CPUState *cpu)
{
    if (!cpus) {
        cpus = g_ptr_array_new();
    }
    g_ptr_array_add(cpus, cpu);
}

unsigned int cpus_count(void)
{
    return cpus ? cpus->len : 0;
}

CPUState *cpus_get(unsigned int index)
{
    return cpus && index < cpus->len ? g_ptr_array_index(cpus, index) : NULL;
}
