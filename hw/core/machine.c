/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Machine names and the current machine: the registry of QEMU machine names
 * that -machine and query-machines see, their resolution (aliases and any
 * versioned "pc-q35-X.Y" / "pc-i440fx-X.Y" / "pc-X.Y"), and the generic
 * "none" machine. Machine types themselves (hw/i386/pc.c) own their
 * memory map and devices.
 */
#include "util/osdep.h"

#include "hw/core/machine.h"
#include "migration/cpr.h"

/* Registered names, in registration order (const MachineTypeDef *). */
static GPtrArray *machine_names;
static MachineState *current_machine;

void machine_register_names(const MachineTypeDef *defs, size_t n)
{
    size_t i;

    if (!machine_names) {
        machine_names = g_ptr_array_new();
    }
    for (i = 0; i < n; i++) {
        g_assert(defs[i].name && defs[i].typename);
        for (guint j = 0; j < machine_names->len; j++) {
            const MachineTypeDef *d = g_ptr_array_index(machine_names, j);

            g_assert(strcmp(d->name, defs[i].name));
        }
        g_ptr_array_add(machine_names, (gpointer)&defs[i]);
    }
}

/* "X.Y" with both parts non-empty decimal digits. */
static bool machine_is_version(const char *str)
{
    const char *dot = strchr(str, '.');
    const char *p;

    if (!dot || dot == str || dot[1] == '\0') {
        return false;
    }
    for (p = str; *p; p++) {
        if (p != dot && !g_ascii_isdigit(*p)) {
            return false;
        }
    }
    return true;
}

/*
 * The family prefix of a versioned name ("pc-q35-", "pc-i440fx-"), or NULL.
 * QEMU's plain "pc-X.Y" names are old spellings of "pc-i440fx-X.Y".
 */
static const char *machine_family(const char *name)
{
    static const char *const families[] = {"pc-q35-", "pc-i440fx-"};
    size_t i;

    for (i = 0; i < ARRAY_SIZE(families); i++) {
        if (g_str_has_prefix(name, families[i]) &&
            machine_is_version(name + strlen(families[i]))) {
            return families[i];
        }
    }
    if (g_str_has_prefix(name, "pc-") && machine_is_version(name + 3)) {
        return "pc-i440fx-";
    }
    return NULL;
}

/* "X.Y" as X * 1000 + Y, for ordering. */
static guint64 machine_version_num(const char *ver)
{
    const char *dot = strchr(ver, '.');

    return g_ascii_strtoull(ver, NULL, 10) * 1000 +
           (dot ? g_ascii_strtoull(dot + 1, NULL, 10) : 0);
}

const MachineTypeDef *machine_type_find(const char *name)
{
    const MachineTypeDef *best = NULL, *oldest = NULL;
    guint64 want, best_v = 0, oldest_v = 0;
    const char *family;
    guint i;

    if (!machine_names || !name) {
        return NULL;
    }
    for (i = 0; i < machine_names->len; i++) {
        const MachineTypeDef *def = g_ptr_array_index(machine_names, i);

        if (!strcmp(def->name, name) ||
            (def->alias && !strcmp(def->alias, name))) {
            return def;
        }
    }

    /*
     * Any version of a registered family selects the newest registered
     * version not above it (the oldest if it predates them all): so every
     * name up to 9.2 keeps the previous release's machine.
     */
    family = machine_family(name);
    if (!family) {
        return NULL;
    }
    want = machine_version_num(strrchr(name, '-') + 1);
    for (i = 0; i < machine_names->len; i++) {
        const MachineTypeDef *def = g_ptr_array_index(machine_names, i);
        guint64 v;

        if (!g_str_has_prefix(def->name, family) ||
            !machine_is_version(def->name + strlen(family))) {
            continue;
        }
        v = machine_version_num(def->name + strlen(family));
        if (v <= want && (!best || v > best_v)) {
            best = def, best_v = v;
        }
        if (!oldest || v < oldest_v) {
            oldest = def, oldest_v = v;
        }
    }
    return best ? best : oldest;
}

GPtrArray *machine_type_list(void)
{
    GPtrArray *list = g_ptr_array_new();
    guint i;

    for (i = 0; machine_names && i < machine_names->len; i++) {
        g_ptr_array_add(list, g_ptr_array_index(machine_names, i));
    }
    return list;
}

bool machine_complete(MachineState *ms, GError **errp)
{
    Object *obj = OBJECT(ms);
    ObjectClass *oc = object_get_class(obj);

    current_machine = ms;
    object_property_add_child(object_get_root(), "machine", obj);
    object_unref(obj);
    if (oc->complete && !oc->complete(obj, errp)) {
        current_machine = NULL;
        object_unparent(obj);
        return false;
    }
    obj->completed = true;
    return true;
}

MachineState *current_machine_get(void)
{
    return current_machine;
}

qemu_irq machine_get_gsi(unsigned int gsi)
{
    MachineClass *mc;

    if (!current_machine) {
        return NULL;
    }
    mc = MACHINE_GET_CLASS(current_machine);
    return mc->get_gsi ? mc->get_gsi(current_machine, gsi) : NULL;
}

void current_machine_set(MachineState *ms)
{
    current_machine = ms;
}

/*
 * The "none" machine: no RAM, no devices, no boot entry (QEMU's null
 * machine, for probing and for qtest). It has the generic -machine
 * properties so that the same command lines parse; memory-backend is
 * refused at realize since there is nowhere to map it.
 */
static const Property none_machine_props[] = {
    DEFINE_PROP("memory-backend", PROP_STRING, MachineState, memory_backend,
                .desc = "not supported: this machine maps no RAM"),
    DEFINE_PROP("aux-ram-share", PROP_BOOL, MachineState, aux_ram_share,
                .desc = "use memfd for implicit RAM (none here)"),
    DEFINE_PROP("kernel-irqchip", PROP_STRING, MachineState, kernel_irqchip,
                .defval = "on", .desc = "on, split or off"),
    {NULL},
};

static bool none_machine_realize(Object *obj, GError **errp)
{
    MachineState *ms = MACHINE(obj);

    if (ms->memory_backend) {
        error_setg(errp,
                   "machine 'none' maps no RAM, so memory-backend "
                   "'%s' cannot be used; use machine 'pc'",
                   ms->memory_backend);
        return false;
    }
    ms->ram = NULL;
    ms->below_4g_mem_size = 0;
    ms->above_4g_mem_size = 0;
    ms->has_boot_entry = false;
    return true;
}

static void none_machine_class_init(ObjectClass *oc, const void *data)
{
    object_class_add_props(oc, none_machine_props);
    oc->complete = none_machine_realize;
    /* No RAM and no devices: nothing that a live update could lose. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "empty machine";
}

static const TypeInfo machine_types[] = {
    {
        .name = TYPE_MACHINE,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(MachineState),
        .class_size = sizeof(MachineClass),
    },
    {
        .name = "none-machine",
        .parent = TYPE_MACHINE,
        .class_init = none_machine_class_init,
    },
};

static const MachineTypeDef none_machine_names[] = {
    {
        .name = "none",
        .desc = "empty machine",
        .typename = "none-machine",
        .max_cpus = 0, /* no vCPU at all */
    },
};

static void machine_register_types(void)
{
    type_register_static_array(machine_types, ARRAY_SIZE(machine_types));
    machine_register_names(none_machine_names, ARRAY_SIZE(none_machine_names));
}

type_init(machine_register_types)
