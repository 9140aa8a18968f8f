/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The type registry and generic object creation: property tables are
 * applied from parsed options, so no device or backend parses strings.
 * Objects live in one creation-ordered list; lookups by id walk it.
 */
#include "util/osdep.h"

#include "hw/core/object.h"
#include "chardev/char.h"
#include "system/blockdev.h"
#include "migration/register.h"

static GHashTable *types;   /* name -> const TypeInfo * */
static GList *objects;      /* Object *, creation order */

void type_register(const TypeInfo *info)
{
    if (!types) {
        types = g_hash_table_new(g_str_hash, g_str_equal);
    }
    g_assert(!g_hash_table_contains(types, info->name));
    g_hash_table_insert(types, (gpointer)info->name, (gpointer)info);
}

const TypeInfo *type_lookup(const char *name)
{
    return types && name ? g_hash_table_lookup(types, name) : NULL;
}

bool type_is_a(const TypeInfo *type, const char *name)
{
    while (type) {
        if (!strcmp(type->name, name)) {
            return true;
        }
        type = type_lookup(type->parent);
    }
    return false;
}

static gint type_cmp(gconstpointer a, gconstpointer b)
{
    const TypeInfo *ta = *(const TypeInfo *const *)a;
    const TypeInfo *tb = *(const TypeInfo *const *)b;

    return strcmp(ta->name, tb->name);
}

GPtrArray *type_list(void)
{
    GPtrArray *list = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    if (types) {
        g_hash_table_iter_init(&it, types);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            g_ptr_array_add(list, value);
        }
    }
    g_ptr_array_sort(list, type_cmp);
    return list;
}

/* The abstract roots every concrete type descends from. */
static const TypeInfo root_types[] = {
    { .name = TYPE_OBJECT, .abstract = true },
    { .name = TYPE_DEVICE, .parent = TYPE_OBJECT, .abstract = true },
    { .name = TYPE_MACHINE, .parent = TYPE_OBJECT, .abstract = true },
    { .name = TYPE_ACCEL, .parent = TYPE_OBJECT, .abstract = true },
    { .name = TYPE_CHARDEV, .parent = TYPE_OBJECT, .abstract = true },
    { .name = TYPE_MEMORY_BACKEND, .parent = TYPE_OBJECT, .abstract = true },
};

static void object_register_root_types(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(root_types); i++) {
        type_register(&root_types[i]);
    }
}
type_init(object_register_root_types)

/* Find NAME in TYPE's property table or its ancestors'. */
static const Property *prop_find(const TypeInfo *type, const char *name)
{
    for (; type; type = type_lookup(type->parent)) {
        for (const Property *p = type->props; p && p->name; p++) {
            if (!strcmp(p->name, name)) {
                return p;
            }
        }
    }
    return NULL;
}

static char *prop_names(const TypeInfo *type)
{
    GString *s = g_string_new(NULL);

    for (; type; type = type_lookup(type->parent)) {
        for (const Property *p = type->props; p && p->name; p++) {
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", p->name);
        }
    }
    return g_string_free(s, false);
}

static bool prop_set(Object *obj, const Property *p, const char *value,
                     GError **errp)
{
    void *field = (char *)obj + p->offset;
    uint64_t max = UINT64_MAX, v;
    bool b;

    switch (p->kind) {
    case PROP_STRING:
        g_free(*(char **)field);
        *(char **)field = g_strdup(value);
        return true;
    case PROP_BOOL:
        if (!parse_bool(value, &b)) {
            error_setg(errp, "Parameter '%s' expects 'on' or 'off'", p->name);
            return false;
        }
        *(bool *)field = b;
        return true;
    case PROP_CHARDEV: {
        Chardev *chr = chardev_find(value);

        if (!chr) {
            error_setg(errp, "Property '%s.%s' can't find value '%s'",
                       obj->type->name, p->name, value);
            return false;
        }
        *(Chardev **)field = chr;
        return true;
    }
    case PROP_DRIVE: {
        DriveInfo *drive = drive_find(value);

        if (!drive) {
            error_setg(errp, "Property '%s.%s' can't find value '%s'",
                       obj->type->name, p->name, value);
            return false;
        }
        *(DriveInfo **)field = drive;
        return true;
    }
    case PROP_SIZE:
        if (!parse_size(value, 1, &v)) {
            error_setg(errp, "Parameter '%s' expects a size value", p->name);
            return false;
        }
        *(uint64_t *)field = v;
        return true;
    case PROP_UINT8:
        max = UINT8_MAX;
        break;
    case PROP_UINT16:
        max = UINT16_MAX;
        break;
    case PROP_UINT32:
        max = UINT32_MAX;
        break;
    case PROP_UINT64:
        break;
    }
    if (!parse_uint(value, &v)) {
        error_setg(errp, "Parameter '%s' expects a non-negative number below "
                   "2^%d", p->name, max == UINT64_MAX ? 64 :
                   max == UINT32_MAX ? 32 : max == UINT16_MAX ? 16 : 8);
        return false;
    }
    if (v > max) {
        error_setg(errp, "Property %s.%s doesn't take value %" PRIu64
                   " (maximum: %" PRIu64 ")", obj->type->name, p->name, v,
                   max);
        return false;
    }
    switch (p->kind) {
    case PROP_UINT8:
        *(uint8_t *)field = v;
        break;
    case PROP_UINT16:
        *(uint16_t *)field = v;
        break;
    case PROP_UINT32:
        *(uint32_t *)field = v;
        break;
    default:
        *(uint64_t *)field = v;
        break;
    }
    return true;
}

bool object_set_prop(Object *obj, const char *name, const char *value,
                     GError **errp)
{
    const Property *p = prop_find(obj->type, name);

    if (!p) {
        g_autofree char *valid = prop_names(obj->type);

        error_setg(errp, "%s '%s' has no property '%s'%s%s%s",
                   type_is_a(obj->type, TYPE_DEVICE) ? "device" : "object",
                   obj->type->name, name, *valid ? " (valid: " : "", valid,
                   *valid ? ")" : "");
        return false;
    }
    return prop_set(obj, p, value, errp);
}

static void object_free_props(Object *obj)
{
    for (const TypeInfo *t = obj->type; t; t = type_lookup(t->parent)) {
        for (const Property *p = t->props; p && p->name; p++) {
            if (p->kind == PROP_STRING) {
                g_clear_pointer((char **)((char *)obj + p->offset), g_free);
            }
        }
    }
    g_free(obj->id);
    g_free(obj);
}

static bool in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++) {
        if (!strcmp(*list, key)) {
            return true;
        }
    }
    return false;
}

/* Apply defaults, ancestors first so a subtype's default wins. */
static bool object_apply_defaults(Object *obj, const TypeInfo *type,
                                  GError **errp)
{
    if (!type) {
        return true;
    }
    if (!object_apply_defaults(obj, type_lookup(type->parent), errp)) {
        return false;
    }
    for (const Property *p = type->props; p && p->name; p++) {
        if (p->defval && !prop_set(obj, p, p->defval, errp)) {
            return false;
        }
    }
    return true;
}

static bool object_check_required(Object *obj, const OptList *opts,
                                  GError **errp)
{
    for (const TypeInfo *t = obj->type; t; t = type_lookup(t->parent)) {
        for (const Property *p = t->props; p && p->name; p++) {
            if (p->required && !opts_has(opts, p->name)) {
                error_setg(errp, "Parameter '%s' is missing", p->name);
                return false;
            }
        }
    }
    return true;
}

/* Chardevs, devices, backends and accelerators each have an id namespace. */
static bool object_check_unique_id(Object *obj, GError **errp)
{
    static const char *const roots[] = {
        TYPE_CHARDEV, TYPE_DEVICE, TYPE_MEMORY_BACKEND, TYPE_ACCEL,
    };

    for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
        if (type_is_a(obj->type, roots[i]) &&
            object_find(roots[i], obj->id)) {
            error_setg(errp, "Duplicate ID '%s' for %s", obj->id, roots[i]);
            return false;
        }
    }
    return true;
}

Object *object_new_with_opts(const char *typename, const OptList *opts,
                             const char *const *ignore, GError **errp)
{
    const TypeInfo *type = type_lookup(typename);
    Object *obj;

    if (!type) {
        error_setg(errp, "invalid object type: %s", typename);
        return NULL;
    }
    if (type->abstract) {
        error_setg(errp, "object type '%s' is abstract", typename);
        return NULL;
    }
    g_assert(type->instance_size >= sizeof(Object));
    obj = g_malloc0(type->instance_size);
    obj->type = type;
    if (!object_apply_defaults(obj, type, errp)) {
        goto fail;
    }
    for (unsigned int i = 0; opts && i < opts_count(opts); i++) {
        const char *key = opts_key(opts, i);

        if (in_list(ignore, key)) {
            continue;
        }
        if (!strcmp(key, "id")) {
            g_free(obj->id);
            obj->id = g_strdup(opts_value(opts, i));
            continue;
        }
        if (!object_set_prop(obj, key, opts_value(opts, i), errp)) {
            goto fail;
        }
    }
    if (opts && !object_check_required(obj, opts, errp)) {
        goto fail;
    }
    return obj;

fail:
    object_free_props(obj);
    return NULL;
}

/* The nearest vmsd/stateless/unmigratable declaration up the type chain. */
static const TypeInfo *object_migration_decl(const TypeInfo *t)
{
    for (; t; t = type_lookup(t->parent)) {
        if (t->vmsd || t->stateless || t->unmigratable) {
            return t;
        }
    }
    return NULL;
}

static void object_register_vmstate(Object *obj)
{
    const TypeInfo *decl;

    if (!type_is_a(obj->type, TYPE_DEVICE)) {
        return;
    }
    decl = object_migration_decl(obj->type);
    /* Every device says what happens to its state on migration. */
    g_assert(decl != NULL);
    if (decl->vmsd) {
        vmstate_register(decl->vmsd->name, VMSTATE_INSTANCE_ID_ANY,
                         decl->vmsd, obj);
    }
}

bool object_check_migratable(GError **errp)
{
    for (GList *l = objects; l; l = l->next) {
        Object *obj = l->data;
        const TypeInfo *decl = object_migration_decl(obj->type);

        if (decl && !decl->vmsd && !decl->stateless && decl->unmigratable) {
            error_setg(errp, "device '%s' (%s) does not support migration: "
                       "%s", obj->id ? obj->id : obj->type->name,
                       obj->type->name, decl->unmigratable);
            return false;
        }
    }
    return true;
}

bool object_realize(Object *obj, GError **errp)
{
    if (obj->id && !object_check_unique_id(obj, errp)) {
        goto fail;
    }
    /* Listed before realize so realize can find its own object by id. */
    objects = g_list_append(objects, obj);
    for (const TypeInfo *t = obj->type; t; t = type_lookup(t->parent)) {
        if (t->realize) {
            if (!t->realize(obj, errp)) {
                objects = g_list_remove(objects, obj);
                goto fail;
            }
            break;
        }
    }
    obj->realized = true;
    object_register_vmstate(obj);
    return true;

fail:
    object_free_props(obj);
    return false;
}

Object *object_create(const char *typename, const OptList *opts,
                      const char *const *ignore, GError **errp)
{
    Object *obj = object_new_with_opts(typename, opts, ignore, errp);

    if (!obj || !object_realize(obj, errp)) {
        return NULL;
    }
    return obj;
}

static void (*type_find_unrealize(const TypeInfo *t))(Object *)
{
    for (; t; t = type_lookup(t->parent)) {
        if (t->unrealize) {
            return t->unrealize;
        }
    }
    return NULL;
}

void object_destroy(Object *obj)
{
    void (*unrealize)(Object *) = type_find_unrealize(obj->type);

    if (obj->realized) {
        vmstate_unregister_opaque(obj);
        if (unrealize) {
            unrealize(obj);
        }
    }
    objects = g_list_remove(objects, obj);
    object_free_props(obj);
}

Object *object_find(const char *typename, const char *id)
{
    for (GList *l = objects; l; l = l->next) {
        Object *obj = l->data;

        if (obj->id && !strcmp(obj->id, id) &&
            type_is_a(obj->type, typename)) {
            return obj;
        }
    }
    return NULL;
}

void object_foreach(const char *typename,
                    void (*fn)(Object *obj, void *opaque), void *opaque)
{
    for (GList *l = objects; l;) {
        Object *obj = l->data;

        /* FN may destroy OBJ. */
        l = l->next;
        if (type_is_a(obj->type, typename)) {
            fn(obj, opaque);
        }
    }
}

void object_reset(Object *obj)
{
    for (const TypeInfo *t = obj->type; t; t = type_lookup(t->parent)) {
        if (t->reset) {
            t->reset(obj);
            return;
        }
    }
}

static void object_reset_one(Object *obj, void *opaque)
{
    object_reset(obj);
}

void object_reset_all_devices(void)
{
    object_foreach(TYPE_DEVICE, object_reset_one, NULL);
}
