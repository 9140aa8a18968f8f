/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * baton's small object model: a static registry of types (machines,
 * accelerators, devices, chardevs, backends), each with a typed property
 * table, and generic creation from parsed options. Types register from a
 * constructor with type_init(); nothing keeps a central list of them.
 *
 * Objects are created single-threaded at startup or under the big lock.
 */
#ifndef BATON_HW_CORE_OBJECT_H
#define BATON_HW_CORE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "util/option.h"

typedef struct Object Object;
typedef struct TypeInfo TypeInfo;
typedef struct VMStateDescription VMStateDescription;

/* Abstract roots; every concrete type descends from one of these. */
#define TYPE_OBJECT  "object"
#define TYPE_DEVICE  "device"
#define TYPE_MACHINE "machine"
#define TYPE_ACCEL   "accel"
#define TYPE_CHARDEV "chardev"
#define TYPE_MEMORY_BACKEND "memory-backend"

typedef enum PropKind {
    PROP_STRING,  /* char * (g_strdup'ed, freed with the object) */
    PROP_BOOL,    /* bool */
    PROP_UINT8,
    PROP_UINT16,
    PROP_UINT32,
    PROP_UINT64,
    PROP_SIZE,    /* uint64_t with size suffixes */
    PROP_CHARDEV, /* struct Chardev *, looked up by id */
    PROP_DRIVE,   /* struct DriveInfo *, looked up by id */
} PropKind;

typedef struct Property {
    const char *name;
    PropKind kind;
    size_t offset;       /* in the instance struct */
    const char *defval;  /* textual default, parsed like user input; NULL = zero */
    bool required;
    const char *desc;
} Property;

#define DEFINE_PROP(n, k, st, field, ...) \
    { .name = (n), .kind = (k), .offset = offsetof(st, field), __VA_ARGS__ }

struct TypeInfo {
    const char *name;
    const char *parent;
    bool abstract;
    /* Creatable with -device / -object / -chardev by users. */
    bool user_creatable;
    size_t instance_size;
    /* NULL-name-terminated; parents' properties are inherited. */
    const Property *props;
    /* Called after properties are set; false + errp undoes creation. */
    bool (*realize)(Object *obj, GError **errp);
    void (*reset)(Object *obj);
    void (*unrealize)(Object *obj);
    /*
     * Devices declare exactly one of (asserted at registration):
     *  - vmsd: the migrated state, registered at realize with idstr
     *    vmsd->name and the next free instance number;
     *  - stateless: nothing to migrate (e.g. isa-debug-exit);
     *  - unmigratable: why this device blocks migration (the blocker text).
     */
    const VMStateDescription *vmsd;
    bool stateless;
    const char *unmigratable;
    /*
     * CPR (live update): the modes, as MIG_MODE_BIT()s of
     * include/migration/cpr.h, in which objects of this type survive a
     * live update (fds preserved through cpr_*_fd, state migrated). The
     * nearest ancestor that sets it decides. A mode missing here makes
     * migrate fail up front with the object named. cpr_check refines it
     * per instance (private RAM, a socket that cannot be passed).
     */
    unsigned int cpr_modes;
    bool (*cpr_check)(Object *obj, unsigned int mode, GError **errp);
    const char *desc;
};

struct Object {
    const TypeInfo *type;
    char *id;      /* user-visible id, may be NULL for devices */
    bool realized;
};

void type_register(const TypeInfo *info);
const TypeInfo *type_lookup(const char *name);
/* True if TYPE is NAME or descends from it. */
bool type_is_a(const TypeInfo *type, const char *name);
/* All registered types, sorted by name (a new GPtrArray of TypeInfo *). */
GPtrArray *type_list(void);

#define type_init(fn)                                          \
    static void __attribute__((constructor)) type_init_##fn(void) \
    {                                                          \
        fn();                                                  \
    }

/*
 * Create an object of TYPENAME: zero-allocate instance_size, apply
 * defaults, then every property in OPTS (keys not in the property table are
 * errors listing the valid ones; "id" sets obj->id when ID_KEY is true),
 * then realize. Keys listed in IGNORE (NULL-terminated, may be NULL) are
 * skipped because the caller consumed them (e.g. "driver", "qom-type").
 * The object is added to the global list on success.
 */
Object *object_create(const char *typename, const OptList *opts,
                      const char *const *ignore, GError **errp);
/*
 * The two halves of object_create(), for callers that set fields between
 * them (the machine gets -m/-smp): object_new_with_opts() applies defaults
 * and OPTS but does not realize or list the object; object_realize()
 * realizes and lists it, or frees it on failure.
 */
Object *object_new_with_opts(const char *typename, const OptList *opts,
                             const char *const *ignore, GError **errp);
bool object_realize(Object *obj, GError **errp);
/* Unrealize (if realized), remove from the list and free. */
void object_destroy(Object *obj);
/* Find a realized object by id among those descending from TYPENAME. */
Object *object_find(const char *typename, const char *id);
/* Call FN for every object descending from TYPENAME, in creation order. */
void object_foreach(const char *typename,
                    void (*fn)(Object *obj, void *opaque), void *opaque);
/* Call the nearest reset hook up OBJ's type chain, if any. */
void object_reset(Object *obj);
/* Reset every object descending from TYPE_DEVICE, in creation order. */
void object_reset_all_devices(void);
/*
 * Fail with an error naming the first device that blocks migration
 * (declared .unmigratable), or return true.
 */
bool object_check_migratable(GError **errp);
/* Set one property from its textual value (as parsed from the command line). */
bool object_set_prop(Object *obj, const char *name, const char *value,
                     GError **errp);

#endif
