/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PLACEHOLDER until the savevm engine lands: the section registry only.
 */
#include "util/osdep.h"

#include "migration/register.h"

typedef struct SaveStateEntry {
    char *idstr;
    int instance_id;
    const VMStateDescription *vmsd;
    const SaveVMHandlers *ops;
    void *opaque;
} SaveStateEntry;

static GPtrArray *entries;

static int next_instance(const char *idstr)
{
    int n = 0;

    for (guint i = 0; entries && i < entries->len; i++) {
        SaveStateEntry *se = g_ptr_array_index(entries, i);

        if (!strcmp(se->idstr, idstr) && se->instance_id >= n) {
            n = se->instance_id + 1;
        }
    }
    return n;
}

static void add_entry(const char *idstr, int instance_id,
                      const VMStateDescription *vmsd,
                      const SaveVMHandlers *ops, void *opaque)
{
    SaveStateEntry *se = g_new0(SaveStateEntry, 1);

    if (!entries) {
        entries = g_ptr_array_new();
    }
    se->idstr = g_strdup(idstr);
    se->instance_id = instance_id < 0 ? next_instance(idstr) : instance_id;
    se->vmsd = vmsd;
    se->ops = ops;
    se->opaque = opaque;
    g_ptr_array_add(entries, se);
}

void savevm_register_live(const char *idstr, int instance_id, int version_id,
                          const SaveVMHandlers *ops, void *opaque)
{
    add_entry(idstr, instance_id, NULL, ops, opaque);
}

void vmstate_register(const char *idstr, int instance_id,
                      const VMStateDescription *vmsd, void *opaque)
{
    add_entry(idstr, instance_id, vmsd, NULL, opaque);
}

void vmstate_unregister_opaque(void *opaque)
{
    for (guint i = 0; entries && i < entries->len;) {
        SaveStateEntry *se = g_ptr_array_index(entries, i);

        if (se->opaque == opaque) {
            g_ptr_array_remove_index(entries, i);
            g_free(se->idstr);
            g_free(se);
        } else {
            i++;
        }
    }
}
