/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * baton's object model, after QEMU's QOM: types are classes (one class
 * struct per type, built lazily from the parent's copy, then class_init),
 * objects are reference-counted and live in one composition tree with
 * canonical paths (/machine/peripheral/ID, /objects/ID, /chardevs/ID).
 * Properties are typed; the one link kind (PROP_LINK) names the type it
 * points to and resolves ids through the container its subsystem
 * registered for that type, so this file knows no chardev or drive.
 *
 * Objects are created single-threaded at startup or under the big lock.
 * Errors: functions that take GError **errp set it and return false/NULL.
 */
#ifndef BATON_HW_CORE_OBJECT_H
#define BATON_HW_CORE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "util/option.h"

typedef struct Object Object;
typedef struct ObjectClass ObjectClass;
typedef struct TypeInfo TypeInfo;
typedef struct Property Property;

/* Roots; every concrete type descends from TYPE_OBJECT. */
#define TYPE_OBJECT  "object"
#define TYPE_INTERFACE "interface"
#define TYPE_CONTAINER "container"
/* Interface of the types -object creates (QEMU's "user-creatable"). */
#define TYPE_USER_CREATABLE "user-creatable"
#define TYPE_MACHINE "machine"
#define TYPE_ACCEL   "accel"
#define TYPE_CHARDEV "chardev"
#define TYPE_MEMORY_BACKEND "memory-backend"

typedef enum PropKind {
    PROP_STRING, /* char * (g_strdup'ed, freed with the object) */
    PROP_BOOL,   /* bool */
    PROP_UINT8,
    PROP_UINT16,
    PROP_UINT32,
    PROP_UINT64,
    PROP_SIZE, /* uint64_t with size suffixes */
    /*
     * int32_t PCI device/function: "SLOT[.FN]" in hex (QEMU's addr=
     * syntax), -1 for "any"; printed "SS.F".
     */
    PROP_PCI_DEVFN,
    /*
     * Object * (any pointer to an object struct) of .link_type: the value
     * is an id, resolved in the container registered for link_type
     * (object_register_link_container()), or a canonical path. Holds a
     * reference while set.
     */
    PROP_LINK,
    /* OnOffAuto: "on", "off" or "auto" (QEMU's OnOffAuto). */
    PROP_ON_OFF_AUTO,
} PropKind;

/* A PROP_ON_OFF_AUTO field, QEMU's OnOffAuto in its order. */
typedef enum OnOffAuto {
    ON_OFF_AUTO_AUTO,
    ON_OFF_AUTO_ON,
    ON_OFF_AUTO_OFF,
} OnOffAuto;

/* "auto", "on", "off". */
const char *on_off_auto_name(OnOffAuto v);

struct Property {
    const char *name;
    PropKind kind;
    size_t offset;       /* in the instance struct */
    const char *defval;  /* textual default, parsed like user input; NULL = zero */
    bool required;
    /* qom-set may change it on a realized device (default: refused). */
    bool realized_set_allowed;
    const char *link_type; /* PROP_LINK only */
    const char *desc;
};

#define DEFINE_PROP(n, k, st, field, ...) \
    { .name = (n), .kind = (k), .offset = offsetof(st, field), __VA_ARGS__ }
#define DEFINE_PROP_LINK(n, st, field, type, ...)                      \
    { .name = (n), .kind = PROP_LINK, .offset = offsetof(st, field),   \
      .link_type = (type), __VA_ARGS__ }

struct TypeInfo {
    const char *name;
    const char *parent;
    bool abstract;
    size_t instance_size;         /* 0: the parent's */
    void (*instance_init)(Object *obj);
    void (*instance_finalize)(Object *obj);
    size_t class_size;            /* 0: the parent's */
    void (*class_init)(ObjectClass *oc, const void *data);
    const void *class_data;
    /* NULL-terminated names of TYPE_INTERFACE descendants it implements. */
    const char *const *interfaces;
};

struct ObjectClass {
    const TypeInfo *type;
    ObjectClass *parent_class;
    /* Property tables, the parent's first (const Property *). */
    GPtrArray *props;
    const char *desc;
    /*
     * Non-device objects (chardevs, backends, machines): called once the
     * properties are set; false + errp undoes creation. (Devices realize.)
     */
    bool (*complete)(Object *obj, GError **errp);
    /*
     * Undo complete(): at object_unparent() (or finalize, for an object
     * outside the tree) when complete() succeeded.
     */
    void (*uncomplete)(Object *obj);
    /*
     * CPR (live update): the modes, as MIG_MODE_BIT()s of
     * include/migration/cpr.h, in which objects of this class survive a
     * live update (fds preserved through cpr_*_fd, state migrated).
     * Inherited like every class field; a subclass may override it. A
     * mode missing here makes migrate fail up front with the object
     * named. cpr_check refines it per instance.
     */
    unsigned int cpr_modes;
    bool (*cpr_check)(Object *obj, unsigned int mode, GError **errp);
    /* Before object_unparent() detaches it (devices unrealize here). */
    void (*unparent)(Object *obj);

    /* private */
    GPtrArray *interfaces;        /* const TypeInfo *, ancestors' too */
};

struct Object {
    ObjectClass *klass;
    Object *parent;     /* in the composition tree, or NULL */
    char *name;         /* child name under PARENT */
    GPtrArray *children; /* Object *, in insertion order (owns a ref) */
    unsigned int refcount;
    bool completed;     /* complete() ran and succeeded */
    bool cpr_owner;     /* owns CPR fds or sections (migration/cpr.h) */
};

void type_register(const TypeInfo *info);
void type_register_static_array(const TypeInfo *infos, size_t n);
#define type_init(fn)                                             \
    static void __attribute__((constructor)) type_init_##fn(void) \
    {                                                             \
        fn();                                                     \
    }

/* The class of TYPENAME (built on first use), or NULL if unknown. */
ObjectClass *object_class_by_name(const char *typename);
const char *object_class_get_name(const ObjectClass *oc);
const char *object_class_get_parent_name(const ObjectClass *oc);
bool object_class_is_abstract(const ObjectClass *oc);
/* OC if it is TYPENAME, descends from it or implements it; else NULL. */
ObjectClass *object_class_dynamic_cast(ObjectClass *oc, const char *typename);
/* Every class that is (or implements) IMPLEMENTS (NULL: all), by name. */
GSList *object_class_get_list(const char *implements, bool include_abstract);

Object *object_dynamic_cast(Object *obj, const char *typename);
const char *object_get_typename(const Object *obj);
ObjectClass *object_get_class(const Object *obj);

/* Checked casts: abort (a programming error) when the type is wrong. */
Object *object_dynamic_cast_assert(Object *obj, const char *typename,
                                   const char *file, int line);
ObjectClass *object_class_dynamic_cast_assert(ObjectClass *oc,
                                              const char *typename,
                                              const char *file, int line);
#define OBJECT(obj) ((Object *)(obj))
#define OBJECT_CLASS(oc) ((ObjectClass *)(oc))
#define OBJECT_CHECK(type, obj, name) \
    ((type *)object_dynamic_cast_assert(OBJECT(obj), (name), __FILE__, __LINE__))
#define OBJECT_CLASS_CHECK(type, oc, name)                                \
    ((type *)object_class_dynamic_cast_assert(OBJECT_CLASS(oc), (name),   \
                                              __FILE__, __LINE__))
#define OBJECT_GET_CLASS(type, obj, name) \
    OBJECT_CLASS_CHECK(type, object_get_class(OBJECT(obj)), name)

/*
 * A new object of TYPENAME (concrete, known: asserted), refcount 1, not in
 * the tree: instance_init of each ancestor, root first, then property
 * defaults.
 */
Object *object_new(const char *typename);
Object *object_ref(Object *obj);
/* At zero: finalize (uncomplete, instance_finalize leaf first), free. */
void object_unref(Object *obj);

/* Add CHILD as NAME under PARENT (takes a reference); NAME must be free. */
void object_property_add_child(Object *parent, const char *name,
                               Object *child);
/*
 * Remove OBJ from the tree (unrealizing a device first) and drop the
 * parent's reference. Its own children go with it.
 */
void object_unparent(Object *obj);
/* The child NAME of PARENT, or NULL. */
Object *object_resolve_path_component(Object *parent, const char *name);
/* Call FN on each child in insertion order; stops at a nonzero return. */
int object_child_foreach(Object *obj, int (*fn)(Object *child, void *opaque),
                         void *opaque);
/* Like object_child_foreach(), depth-first through the whole subtree. */
int object_child_foreach_recursive(Object *obj,
                                   int (*fn)(Object *child, void *opaque),
                                   void *opaque);

Object *object_get_root(void);
/* The container at PATH under ROOT, created (type "container") if missing. */
Object *container_get(Object *root, const char *path);
/* "/machine/peripheral/ID"; g_free it. NULL for an object outside the tree. */
char *object_get_canonical_path(const Object *obj);
/*
 * An absolute path ("/machine/unattached/sysbus") names one object. A
 * partial one ("peripheral/ser0", "ser0") matches any object whose path
 * ends with it: AMBIGUOUS (may be NULL) is set when several do.
 */
Object *object_resolve_path(const char *path, bool *ambiguous);
/* Like object_resolve_path(), but only objects of TYPENAME. */
Object *object_resolve_path_type(const char *path, const char *typename,
                                 bool *ambiguous);
/*
 * The user's id: a device's id, or the child name of an object in a
 * container of user-named objects (/objects, /chardevs, ...). NULL for
 * objects without one (the machine, -serial's ports).
 */
const char *object_get_id(const Object *obj);

/* ---- properties ---- */

/* Append TABLE (NULL-name-terminated, static) to OC's properties. */
void object_class_add_props(ObjectClass *oc, const Property *table);
const Property *object_class_find_prop(ObjectClass *oc, const char *name);
/* PROP_LINK ids for LINK_TYPE resolve in the container at PATH. */
void object_register_link_container(const char *link_type, const char *path);

/*
 * Set a property from its textual value (command line, qom-set). Unknown
 * names are errors listing the valid ones; a realized device refuses
 * unless the property allows it.
 */
bool object_property_parse(Object *obj, const char *name, const char *value,
                           GError **errp);
/*
 * A property's value as text for info qtree / qom-get: numbers in decimal,
 * bools "true"/"false", strings as they are (NULL if unset), links and
 * children as canonical paths. FOUND false if OBJ has no such property.
 */
char *object_property_print(Object *obj, const char *name, bool *found);
/*
 * The QOM type name of property NAME ("string", "bool", "uint32",
 * "size", "link<chardev>", "child<isa-serial>"), or NULL.
 */
char *object_property_get_type(Object *obj, const char *name);
/* Call FN(name, type, opaque) for each property: the class's, then children. */
void object_property_foreach(Object *obj,
                             void (*fn)(Object *obj, const char *name,
                                        const char *type, void *opaque),
                             void *opaque);
/* "string", "link<chardev>", ... for a class property. */
char *object_prop_type_name(const Property *p);
/* Names of OC's properties, "a, b, c", for error messages. */
char *object_class_prop_names(ObjectClass *oc);

/*
 * Apply OPTS to OBJ: each key but those in IGNORE (NULL-terminated, may be
 * NULL) sets a property; then every .required property must be present.
 */
bool object_set_props_from_opts(Object *obj, const OptList *opts,
                                const char *const *ignore, GError **errp);
/*
 * Create a non-device object: object_new(TYPENAME), OPTS applied, added
 * as child NAME of PARENT, then complete(). On failure it is removed again
 * and NULL returned. Duplicate NAMEs fail with "Duplicate ID 'NAME' for
 * KIND". The tree holds the only reference; object_unparent() ends it.
 */
Object *object_new_child_with_opts(Object *parent, const char *name,
                                   const char *kind, const char *typename,
                                   const OptList *opts,
                                   const char *const *ignore, GError **errp);
/*
 * -object / object-add: TYPENAME must implement TYPE_USER_CREATABLE and
 * OPTS carry "id"; the object becomes /objects/ID.
 */
Object *user_creatable_add(const char *typename, const OptList *opts,
                           const char *const *ignore, GError **errp);
/* The -object with id ID (a child of /objects), or NULL. */
Object *object_find_user(const char *id);
/*
 * Children of the container at PATH (a static string) are named by user
 * ids (see object_get_id()).
 */
void object_mark_id_container(const char *path);

#endif
