/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Devices and buses: placement on a bus (bus=, or the first bus of the
 * class's bus type), realize/unrealize, the device's place in the tree,
 * its migration section name, reset and the migration blocker check.
 * Printing (info qtree) is in qdev-monitor.c.
 */
#include "util/osdep.h"

#include "hw/core/qdev.h"
#include "migration/cpr.h"
#include "migration/register.h"
#include "migration/vmstate.h"

static unsigned int unattached_count;
static unsigned int anon_count;

DeviceState *qdev_new(const char *typename)
{
    return DEVICE(object_new(typename));
}

typedef struct FindBus {
    const char *name;       /* or */
    const char *type;
    BusState *found;
} FindBus;

static int find_bus_one(Object *obj, void *opaque)
{
    FindBus *f = opaque;

    if (!object_dynamic_cast(obj, TYPE_BUS) ||
        (f->name && strcmp(BUS(obj)->name, f->name)) ||
        (f->type && !object_dynamic_cast(obj, f->type))) {
        return 0;
    }
    f->found = BUS(obj);
    return 1;
}

BusState *qbus_find_type(const char *typename)
{
    FindBus f = { .type = typename };

    object_child_foreach_recursive(object_get_root(), find_bus_one, &f);
    return f.found;
}

BusState *qbus_find(const char *name)
{
    FindBus f = { .name = name };

    if (name[0] == '/') {
        return (BusState *)object_resolve_path_type(name, TYPE_BUS, NULL);
    }
    object_child_foreach_recursive(object_get_root(), find_bus_one, &f);
    return f.found;
}

BusState *qbus_new(const char *typename, DeviceState *parent,
                   const char *name)
{
    BusState *bus = BUS(object_new(typename));

    bus->name = g_strdup(name);
    if (parent) {
        bus->parent = parent;
        g_ptr_array_add(parent->child_buses, bus);
        object_property_add_child(OBJECT(parent), name, OBJECT(bus));
    } else {
        object_property_add_child(container_get(object_get_root(),
                                                "/machine/unattached"),
                                  name, OBJECT(bus));
    }
    object_unref(OBJECT(bus));
    return bus;
}

BusState *sysbus_get_default(void)
{
    Object *un = container_get(object_get_root(), "/machine/unattached");
    Object *obj = object_resolve_path_component(un, "sysbus");
    BusState *bus;

    if (obj) {
        return BUS(obj);
    }
    /* QEMU's names: bus "main-system-bus", child "sysbus". */
    bus = BUS(object_new(TYPE_SYSTEM_BUS));
    bus->name = g_strdup("main-system-bus");
    object_property_add_child(un, "sysbus", OBJECT(bus));
    object_unref(OBJECT(bus));
    return bus;
}

char *qdev_get_dev_path(DeviceState *dev)
{
    BusClass *bc;

    if (!dev->parent_bus) {
        return NULL;
    }
    bc = BUS_GET_CLASS(dev->parent_bus);
    return bc->get_dev_path ? bc->get_dev_path(dev) : NULL;
}

/* The migration section of DEV: see qdev_realize() in the header. */
static char *qdev_section_name(DeviceState *dev, int *instance,
                               GError **errp)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);
    g_autofree char *path = qdev_get_dev_path(dev);

    *instance = 0;
    if (path) {
        return g_strdup_printf("%s/%s", path, dc->vmsd->name);
    }
    if (dc->legacy_instance_id) {
        *instance = dc->legacy_instance_id(dev);
        if (*instance < 0) {
            error_setg(errp, "device '%s': no stable migration identity",
                       object_get_typename(OBJECT(dev)));
            return NULL;
        }
        return g_strdup(dc->vmsd->name);
    }
    path = object_get_canonical_path(OBJECT(dev));
    return g_strdup_printf("%s/%s", path, dc->vmsd->name);
}

static bool qdev_register_section(DeviceState *dev, GError **errp)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);
    g_autofree char *idstr = NULL;
    int instance;

    /* Every device says what happens to its state on migration. */
    g_assert(!!dc->vmsd + !!dc->stateless + !!dc->unmigratable >= 1);
    if (!dc->vmsd) {
        return true;
    }
    idstr = qdev_section_name(dev, &instance, errp);
    if (!idstr) {
        return false;
    }
    if (strlen(idstr) > 255) {
        error_setg(errp, "device '%s': migration section name '%s' is "
                   "longer than 255 bytes", object_get_typename(OBJECT(dev)),
                   idstr);
        return false;
    }
    if (vmstate_section_registered(idstr, instance)) {
        error_setg(errp, "device '%s': another device already has migration "
                   "section '%s' instance %d", object_get_typename(OBJECT(dev)),
                   idstr, instance);
        return false;
    }
    vmstate_register(idstr, instance, dc->vmsd, dev);
    return true;
}

static bool bus_accepts(BusState *bus, DeviceState *dev, GError **errp)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);
    const char *want = dc->bus_type ? dc->bus_type : TYPE_SYSTEM_BUS;
    BusClass *bc = BUS_GET_CLASS(bus);

    if (!object_dynamic_cast(OBJECT(bus), want)) {
        error_setg(errp, "Device '%s' can't go on %s bus",
                   object_get_typename(OBJECT(dev)),
                   object_get_typename(OBJECT(bus)));
        return false;
    }
    return !bc->check_address || bc->check_address(bus, dev, errp);
}

bool qdev_realize(DeviceState *dev, BusState *bus, GError **errp)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);
    Object *obj = OBJECT(dev);

    g_assert(!dev->realized);
    if (!bus) {
        bus = dc->bus_type ? qbus_find_type(dc->bus_type)
                           : sysbus_get_default();
        if (!bus) {
            error_setg(errp, "No '%s' bus found for device '%s'",
                       dc->bus_type, object_get_typename(obj));
            return false;
        }
    }
    if (!bus_accepts(bus, dev, errp)) {
        return false;
    }
    if (!obj->parent) {
        g_autofree char *name = g_strdup_printf("device[%u]",
                                                unattached_count++);

        object_property_add_child(container_get(object_get_root(),
                                                "/machine/unattached"),
                                  name, obj);
    }
    dev->parent_bus = bus;
    g_ptr_array_add(bus->children, dev);
    if (dc->realize && !dc->realize(dev, errp)) {
        goto unplug;
    }
    if (!qdev_register_section(dev, errp)) {
        if (dc->unrealize) {
            dc->unrealize(dev);
        }
        goto unplug;
    }
    dev->realized = true;
    obj->completed = true;  /* properties are now fixed (qom-set) */
    return true;

unplug:
    g_ptr_array_remove(bus->children, dev);
    dev->parent_bus = NULL;
    return false;
}

void qdev_unrealize(DeviceState *dev)
{
    DeviceClass *dc = DEVICE_GET_CLASS(dev);

    if (!dev->realized) {
        return;
    }
    /* Devices on its buses first: they may use their bus's owner. */
    for (guint i = 0; i < dev->child_buses->len; i++) {
        BusState *b = g_ptr_array_index(dev->child_buses, i);

        while (b->children->len) {
            qdev_unrealize(g_ptr_array_index(b->children,
                                             b->children->len - 1));
        }
    }
    vmstate_unregister_opaque(dev);
    if (dc->unrealize) {
        dc->unrealize(dev);
    }
    dev->realized = false;
    OBJECT(dev)->completed = false;
    if (dev->parent_bus) {
        g_ptr_array_remove(dev->parent_bus->children, dev);
        dev->parent_bus = NULL;
    }
}

/* QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'. */
static bool id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

DeviceState *qdev_device_add(const char *driver, const OptList *opts,
                             GError **errp)
{
    static const char *const ignore[] = { "driver", "id", "bus", NULL };
    ObjectClass *oc = object_class_by_name(driver);
    const char *id = opts ? opts_get(opts, "id") : NULL;
    const char *busname = opts ? opts_get(opts, "bus") : NULL;
    Object *peripheral;
    BusState *bus = NULL;
    DeviceState *dev;
    g_autofree char *name = NULL;

    if (!oc || !object_class_dynamic_cast(oc, TYPE_DEVICE) ||
        object_class_is_abstract(oc) || !DEVICE_CLASS(oc)->user_creatable) {
        error_setg(errp, "'%s' is not a valid device model name", driver);
        return NULL;
    }
    if (id && !id_wellformed(id)) {
        error_setg(errp, "Parameter 'id' expects an identifier");
        return NULL;
    }
    if (id && qdev_find_by_id(id)) {
        error_setg(errp, "Duplicate ID '%s' for device", id);
        return NULL;
    }
    if (busname) {
        bus = qbus_find(busname);
        if (!bus) {
            error_setg(errp, "Bus '%s' not found", busname);
            return NULL;
        }
    }
    dev = qdev_new(driver);
    if (!object_set_props_from_opts(OBJECT(dev), opts, ignore, errp)) {
        object_unref(OBJECT(dev));
        return NULL;
    }
    peripheral = container_get(object_get_root(),
                               id ? "/machine/peripheral"
                                  : "/machine/peripheral-anon");
    name = id ? g_strdup(id) : g_strdup_printf("device[%u]", anon_count++);
    dev->id = g_strdup(id);
    object_property_add_child(peripheral, name, OBJECT(dev));
    object_unref(OBJECT(dev));
    if (!qdev_realize(dev, bus, errp)) {
        object_unparent(OBJECT(dev));
        return NULL;
    }
    return dev;
}

DeviceState *qdev_find_by_id(const char *id)
{
    Object *obj = object_resolve_path_component(
        container_get(object_get_root(), "/machine/peripheral"), id);

    return obj ? DEVICE(obj) : NULL;
}

static int reset_one(Object *obj, void *opaque)
{
    DeviceState *dev = (DeviceState *)object_dynamic_cast(obj, TYPE_DEVICE);

    if (dev && dev->realized && DEVICE_GET_CLASS(dev)->reset) {
        DEVICE_GET_CLASS(dev)->reset(dev);
    }
    return 0;
}

void qdev_reset_all(void)
{
    object_child_foreach_recursive(object_get_root(), reset_one, NULL);
}

typedef struct QdevMigratable {
    unsigned int mode;
    GError *err;
} QdevMigratable;

static int migratable_one(Object *obj, void *opaque)
{
    DeviceState *dev = (DeviceState *)object_dynamic_cast(obj, TYPE_DEVICE);
    QdevMigratable *m = opaque;
    DeviceClass *dc;

    if (!dev || !dev->realized) {
        return 0;
    }
    dc = DEVICE_GET_CLASS(dev);
    if (dc->check_migratable && !dc->check_migratable(dev, m->mode, &m->err)) {
        return 1;
    }
    if (dc->stateless || !dc->unmigratable ||
        (dc->vmsd &&
         (obj->klass->cpr_modes & CPR_MODES_PRESERVING & MIG_MODE_BIT(m->mode)))) {
        return 0;
    }
    error_setg(&m->err, "device '%s' (%s) does not support migration: %s",
               dev->id ? dev->id : object_get_typename(obj),
               object_get_typename(obj), dc->unmigratable);
    return 1;
}

bool qdev_check_migratable(unsigned int mode, GError **errp)
{
    QdevMigratable m = {.mode = mode};

    if (object_child_foreach_recursive(object_get_root(), migratable_one,
                                       &m)) {
        g_propagate_error(errp, m.err);
        return false;
    }
    return true;
}

static void device_instance_init(Object *obj)
{
    DEVICE(obj)->child_buses = g_ptr_array_new();
}

static void device_instance_finalize(Object *obj)
{
    DeviceState *dev = DEVICE(obj);

    g_ptr_array_free(dev->child_buses, true);
    g_free(dev->id);
}

static void device_unparent(Object *obj)
{
    DeviceState *dev = DEVICE(obj);

    qdev_unrealize(dev);
    /* Its buses go with it (they are its children in the tree). */
    while (dev->child_buses->len) {
        BusState *b = g_ptr_array_index(dev->child_buses, 0);

        g_ptr_array_remove_index(dev->child_buses, 0);
        b->parent = NULL;
        object_unparent(OBJECT(b));
    }
}

static void device_class_init(ObjectClass *oc, const void *data)
{
    oc->unparent = device_unparent;
}

static void bus_instance_init(Object *obj)
{
    BUS(obj)->children = g_ptr_array_new();
}

static void bus_instance_finalize(Object *obj)
{
    BusState *bus = BUS(obj);

    /* Devices hold no reference to their bus: none may outlive it. */
    g_assert(!bus->children->len);
    g_ptr_array_free(bus->children, true);
    g_free(bus->name);
}

static void bus_unparent(Object *obj)
{
    BusState *bus = BUS(obj);

    /* Devices on a root bus live elsewhere in the tree: unplug them. */
    while (bus->children->len) {
        qdev_unrealize(g_ptr_array_index(bus->children,
                                         bus->children->len - 1));
    }
    if (bus->parent) {
        g_ptr_array_remove(bus->parent->child_buses, bus);
        bus->parent = NULL;
    }
}

static void bus_class_init(ObjectClass *oc, const void *data)
{
    oc->unparent = bus_unparent;
    /* A bus has no state or fds of its own. */
    oc->cpr_modes = ~0u;
}

static void system_bus_class_init(ObjectClass *oc, const void *data)
{
    oc->desc = "the machine's root bus";
}

static const TypeInfo qdev_types[] = {
    {
        .name = TYPE_DEVICE,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(DeviceState),
        .instance_init = device_instance_init,
        .instance_finalize = device_instance_finalize,
        .class_size = sizeof(DeviceClass),
        .class_init = device_class_init,
    },
    {
        .name = TYPE_BUS,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(BusState),
        .instance_init = bus_instance_init,
        .instance_finalize = bus_instance_finalize,
        .class_size = sizeof(BusClass),
        .class_init = bus_class_init,
    },
    {
        .name = TYPE_SYSTEM_BUS,
        .parent = TYPE_BUS,
        .class_init = system_bus_class_init,
    },
};

static void qdev_register_types(void)
{
    type_register_static_array(qdev_types, ARRAY_SIZE(qdev_types));
    object_mark_id_container("/machine/peripheral");
}
type_init(qdev_register_types)
