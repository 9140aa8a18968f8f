/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Devices and buses (QEMU's qdev): a device is an Object with properties
 * that is realized on a bus; a bus is an Object owned by a device (or, for
 * the machine's root buses, by the machine) that holds devices. User
 * devices live at /machine/peripheral/ID or /machine/peripheral-anon/
 * device[N], others at /machine/unattached/device[N].
 *
 * Migration identity: a realized device's vmstate section is named from
 * what identifies it, never from creation order (see qdev_realize()).
 *
 * All under the big lock (or single-threaded startup).
 */
#ifndef BATON_HW_CORE_QDEV_H
#define BATON_HW_CORE_QDEV_H

#include "hw/core/object.h"

typedef struct VMStateDescription VMStateDescription;
typedef struct BusState BusState;
typedef struct DeviceState DeviceState;

#define TYPE_DEVICE "device"
#define TYPE_BUS "bus"
#define TYPE_SYSTEM_BUS "System"

struct DeviceState {
    Object parent_obj;

    char *id;               /* user id (-device id=), or NULL */
    BusState *parent_bus;
    bool realized;
    GPtrArray *child_buses; /* BusState *, owned through the tree */
    int section_instance;   /* vmstate instance while registered */
};

typedef struct DeviceClass {
    ObjectClass parent_class;

    /* Creatable with -device by users. */
    bool user_creatable;
    /* The bus type it plugs into (NULL: the main system bus). */
    const char *bus_type;
    /* Called after properties are set; false + errp undoes creation. */
    bool (*realize)(DeviceState *dev, GError **errp);
    void (*unrealize)(DeviceState *dev);
    void (*reset)(DeviceState *dev);
    /*
     * Exactly one of (asserted at realize):
     *  - vmsd: the migrated state (section named by qdev_realize());
     *  - stateless: nothing to migrate (e.g. isa-debug-exit);
     *  - unmigratable: why this device blocks migration (the blocker text).
     * A device that cannot migrate to another host but survives a live
     * update (vfio-pci) sets vmsd and unmigratable: the text then blocks
     * every mode but the CPR modes of its class's cpr_modes.
     */
    const VMStateDescription *vmsd;
    bool stateless;
    const char *unmigratable;
    /*
     * Optional, for a device whose support depends on the instance
     * (vfio-pci: the host device's migration feature): false + errp, a
     * message naming the device, blocks migration in MODE. Asked before
     * the class's unmigratable check, for realized devices only.
     */
    bool (*check_migratable)(DeviceState *dev, unsigned int mode,
                             GError **errp);
    /*
     * For devices whose bus gives no path (ISA): the section keeps the
     * previous release's name, vmsd->name, with this instance number,
     * derived from what identifies the device (its I/O base), so streams
     * from and to the previous release keep working. Negative: no
     * stable number (an error naming the device).
     */
    int (*legacy_instance_id)(DeviceState *dev);
} DeviceClass;

struct BusState {
    Object parent_obj;

    char *name;             /* "isa.0" */
    DeviceState *parent;    /* NULL for a machine's root bus */
    GPtrArray *children;    /* DeviceState *, in plug order */
};

typedef struct BusClass {
    ObjectClass parent_class;

    /*
     * The device's address on this bus as a path component for its
     * migration section ("0000:00:03.0"); NULL if the bus has none.
     */
    char *(*get_dev_path)(DeviceState *dev);
    /* Refuse DEV (wrong or taken address) before it is realized. */
    bool (*check_address)(BusState *bus, DeviceState *dev, GError **errp);
} BusClass;

#define DEVICE(obj) OBJECT_CHECK(DeviceState, (obj), TYPE_DEVICE)
#define DEVICE_CLASS(oc) OBJECT_CLASS_CHECK(DeviceClass, (oc), TYPE_DEVICE)
#define DEVICE_GET_CLASS(obj) OBJECT_GET_CLASS(DeviceClass, (obj), TYPE_DEVICE)
#define BUS(obj) OBJECT_CHECK(BusState, (obj), TYPE_BUS)
#define BUS_CLASS(oc) OBJECT_CLASS_CHECK(BusClass, (oc), TYPE_BUS)
#define BUS_GET_CLASS(obj) OBJECT_GET_CLASS(BusClass, (obj), TYPE_BUS)

static inline void device_class_set_props(DeviceClass *dc,
                                          const Property *props)
{
    object_class_add_props(&dc->parent_class, props);
}

/* A new, unrealized device of TYPENAME (asserted concrete device type). */
DeviceState *qdev_new(const char *typename);
/*
 * Plug DEV into BUS (NULL: the first bus of its class's bus_type, or the
 * main system bus) and realize it. A device not yet in the tree goes to
 * /machine/unattached/device[N]. On failure DEV is unplugged again (the
 * caller still owns it). Then its vmstate section is registered: the
 * bus's dev path + "/" + vmsd->name if the bus gives one, else
 * legacy_instance_id(), else its canonical path + "/" + vmsd->name.
 */
bool qdev_realize(DeviceState *dev, BusState *bus, GError **errp);
/* Unregister the section, unrealize (children first), unplug. */
void qdev_unrealize(DeviceState *dev);
/*
 * -device / device_add: DRIVER with OPTS ("id", "bus" and properties;
 * "driver" ignored). The device is /machine/peripheral/ID (or
 * peripheral-anon), realized. NULL + errp, nothing left behind, on error.
 */
DeviceState *qdev_device_add(const char *driver, const OptList *opts,
                             GError **errp);
/* The device with user id ID, or NULL. */
DeviceState *qdev_find_by_id(const char *id);
/* The bus's path for DEV (see BusClass.get_dev_path), or NULL. */
char *qdev_get_dev_path(DeviceState *dev);

/*
 * A bus of TYPENAME named NAME, owned by PARENT (a child of it, in its
 * child_buses); with PARENT NULL, a root bus of the machine at
 * /machine/unattached/NAME.
 */
BusState *qbus_new(const char *typename, DeviceState *parent,
                   const char *name);
/* The main system bus ("main-system-bus", at /machine/unattached/sysbus). */
BusState *sysbus_get_default(void);
/* The bus named NAME (or at path NAME), or NULL. */
BusState *qbus_find(const char *name);
/* The first bus (tree order) of TYPENAME, or NULL. */
BusState *qbus_find_type(const char *typename);

/* Reset every realized device, in tree order. */
void qdev_reset_all(void);
/*
 * Fail with an error naming the first device that blocks migration in
 * MODE (a MigMode, include/migration/cpr.h): declared .unmigratable, and
 * without a vmsd or MODE in its cpr_modes, or refused by its
 * check_migratable(). Or return true.
 */
bool qdev_check_migratable(unsigned int mode, GError **errp);
/* HMP info qtree, QEMU's layout. */
char *qdev_print_tree(void);

#endif
