/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Types, classes and the composition tree: the registry of TypeInfos, the
 * lazily built class structs, dynamic casts and interfaces, reference
 * counting, children, canonical paths and path resolution. Properties are
 * in object-prop.c; devices and buses in qdev.c.
 */
#include "util/osdep.h"

#include "hw/core/object.h"
#include "migration/cpr.h"

typedef struct TypeImpl {
    const TypeInfo *info;
    struct TypeImpl *parent;
    size_t instance_size;
    size_t class_size;
    ObjectClass *klass;
} TypeImpl;

static GHashTable *types;   /* name -> TypeImpl * */
static Object *root;

void type_register(const TypeInfo *info)
{
    TypeImpl *ti = g_new0(TypeImpl, 1);

    if (!types) {
        types = g_hash_table_new(g_str_hash, g_str_equal);
    }
    g_assert(info->name && !g_hash_table_contains(types, info->name));
    ti->info = info;
    g_hash_table_insert(types, (gpointer)info->name, ti);
}

void type_register_static_array(const TypeInfo *infos, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        type_register(&infos[i]);
    }
}

static TypeImpl *type_get(const char *name)
{
    return types && name ? g_hash_table_lookup(types, name) : NULL;
}

/*
 * Build the class: the parent's class struct copied into a (possibly
 * larger) new one, so inherited hooks and fields are in place, then the
 * type's own class_init overrides what it needs; it can still reach the
 * parent's hooks through oc->parent_class.
 */
static ObjectClass *type_build_class(TypeImpl *ti)
{
    ObjectClass *pc = NULL, *oc;

    if (ti->klass) {
        return ti->klass;
    }
    if (ti->info->parent) {
        ti->parent = type_get(ti->info->parent);
        g_assert(ti->parent); /* a type names a registered parent */
        pc = type_build_class(ti->parent);
    }
    ti->class_size = ti->info->class_size ? ti->info->class_size
                     : ti->parent ? ti->parent->class_size
                                  : sizeof(ObjectClass);
    ti->instance_size = ti->info->instance_size ? ti->info->instance_size
                        : ti->parent ? ti->parent->instance_size
                                     : sizeof(Object);
    g_assert(!ti->parent || ti->class_size >= ti->parent->class_size);
    g_assert(!ti->parent || ti->instance_size >= ti->parent->instance_size);
    oc = g_malloc0(ti->class_size);
    if (pc) {
        memcpy(oc, pc, ti->parent->class_size);
    }
    oc->type = ti->info;
    oc->parent_class = pc;
    oc->props = g_ptr_array_new();
    oc->interfaces = g_ptr_array_new();
    for (guint i = 0; pc && i < pc->props->len; i++) {
        g_ptr_array_add(oc->props, g_ptr_array_index(pc->props, i));
    }
    for (guint i = 0; pc && i < pc->interfaces->len; i++) {
        g_ptr_array_add(oc->interfaces, g_ptr_array_index(pc->interfaces, i));
    }
    for (const char *const *n = ti->info->interfaces; n && *n; n++) {
        TypeImpl *iface = type_get(*n);

        g_assert(iface); /* interfaces are registered types */
        for (TypeImpl *t = iface; t; t = type_get(t->info->parent)) {
            g_ptr_array_add(oc->interfaces, (gpointer)t->info);
        }
    }
    ti->klass = oc;
    if (ti->info->class_init) {
        ti->info->class_init(oc, ti->info->class_data);
    }
    return oc;
}

ObjectClass *object_class_by_name(const char *typename)
{
    TypeImpl *ti = type_get(typename);

    return ti ? type_build_class(ti) : NULL;
}

const char *object_class_get_name(const ObjectClass *oc)
{
    return oc->type->name;
}

const char *object_class_get_parent_name(const ObjectClass *oc)
{
    return oc->type->parent;
}

bool object_class_is_abstract(const ObjectClass *oc)
{
    return oc->type->abstract;
}

ObjectClass *object_class_dynamic_cast(ObjectClass *oc, const char *typename)
{
    if (!oc || !typename) {
        return NULL;
    }
    for (ObjectClass *c = oc; c; c = c->parent_class) {
        if (!strcmp(c->type->name, typename)) {
            return oc;
        }
    }
    for (guint i = 0; i < oc->interfaces->len; i++) {
        const TypeInfo *t = g_ptr_array_index(oc->interfaces, i);

        if (!strcmp(t->name, typename)) {
            return oc;
        }
    }
    return NULL;
}

static gint class_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(object_class_get_name(a), object_class_get_name(b));
}

GSList *object_class_get_list(const char *implements, bool include_abstract)
{
    GSList *list = NULL;
    GHashTableIter it;
    gpointer value;

    if (!types) {
        return NULL;
    }
    g_hash_table_iter_init(&it, types);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        ObjectClass *oc = type_build_class(value);

        if ((include_abstract || !oc->type->abstract) &&
            (!implements || object_class_dynamic_cast(oc, implements))) {
            list = g_slist_prepend(list, oc);
        }
    }
    return g_slist_sort(list, class_cmp);
}

Object *object_dynamic_cast(Object *obj, const char *typename)
{
    return obj && object_class_dynamic_cast(obj->klass, typename) ? obj
                                                                  : NULL;
}

const char *object_get_typename(const Object *obj)
{
    return obj->klass->type->name;
}

ObjectClass *object_get_class(const Object *obj)
{
    return obj->klass;
}

Object *object_dynamic_cast_assert(Object *obj, const char *typename,
                                   const char *file, int line)
{
    if (obj && !object_dynamic_cast(obj, typename)) {
        g_error("%s:%d: object of type '%s' is not a '%s'", file, line,
                object_get_typename(obj), typename);
    }
    return obj;
}

ObjectClass *object_class_dynamic_cast_assert(ObjectClass *oc,
                                              const char *typename,
                                              const char *file, int line)
{
    if (oc && !object_class_dynamic_cast(oc, typename)) {
        g_error("%s:%d: class '%s' is not a '%s'", file, line,
                object_class_get_name(oc), typename);
    }
    return oc;
}

/* Implemented in object-prop.c. */
void object_props_init(Object *obj);
void object_props_finalize(Object *obj);

static void object_init_chain(Object *obj, ObjectClass *oc)
{
    if (oc->parent_class) {
        object_init_chain(obj, oc->parent_class);
    }
    if (oc->type->instance_init) {
        oc->type->instance_init(obj);
    }
}

Object *object_new(const char *typename)
{
    TypeImpl *ti = type_get(typename);
    Object *obj;

    g_assert(ti); /* callers check user-supplied names first */
    type_build_class(ti);
    g_assert(!ti->info->abstract);
    obj = g_malloc0(ti->instance_size);
    obj->klass = ti->klass;
    obj->refcount = 1;
    obj->children = g_ptr_array_new();
    object_props_init(obj);
    object_init_chain(obj, obj->klass);
    return obj;
}

Object *object_ref(Object *obj)
{
    if (obj) {
        obj->refcount++;
    }
    return obj;
}

static void object_finalize(Object *obj)
{
    /* Children go first: they may refer to their parent's state. */
    while (obj->children->len) {
        object_unparent(g_ptr_array_index(obj->children,
                                          obj->children->len - 1));
    }
    if (obj->completed && obj->klass->uncomplete) {
        obj->klass->uncomplete(obj);
    }
    if (obj->cpr_owner) {
        cpr_forget_owner(obj);
    }
    for (ObjectClass *c = obj->klass; c; c = c->parent_class) {
        if (c->type->instance_finalize) {
            c->type->instance_finalize(obj);
        }
    }
    object_props_finalize(obj);
    g_ptr_array_free(obj->children, true);
    g_free(obj->name);
    g_free(obj);
}

void object_unref(Object *obj)
{
    if (!obj) {
        return;
    }
    g_assert(obj->refcount > 0);
    if (--obj->refcount == 0) {
        object_finalize(obj);
    }
}

Object *object_resolve_path_component(Object *parent, const char *name)
{
    for (guint i = 0; parent && i < parent->children->len; i++) {
        Object *c = g_ptr_array_index(parent->children, i);

        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

void object_property_add_child(Object *parent, const char *name,
                               Object *child)
{
    g_assert(!child->parent);
    /* A duplicate name is the caller's bug: ids are checked before. */
    g_assert(!object_resolve_path_component(parent, name));
    g_assert(!object_class_find_prop(parent->klass, name));
    child->name = g_strdup(name);
    child->parent = parent;
    g_ptr_array_add(parent->children, object_ref(child));
}

void object_unparent(Object *obj)
{
    Object *parent = obj->parent;

    if (!parent) {
        return;
    }
    if (obj->klass->unparent) {
        obj->klass->unparent(obj);
    }
    /* While it still has its path and id. */
    if (obj->completed && obj->klass->uncomplete) {
        obj->klass->uncomplete(obj);
    }
    obj->completed = false;
    /*
     * Out of the tree, its CPR entries name nobody (a new object may take
     * its path): they go now, not at finalize.
     */
    if (obj->cpr_owner) {
        cpr_forget_owner(obj);
    }
    g_ptr_array_remove(parent->children, obj);
    obj->parent = NULL;
    g_clear_pointer(&obj->name, g_free);
    object_unref(obj);
}

int object_child_foreach(Object *obj, int (*fn)(Object *child, void *opaque),
                         void *opaque)
{
    /* A copy: FN may unparent the child it gets. */
    g_autoptr(GPtrArray) copy = g_ptr_array_copy(obj->children, NULL, NULL);

    for (guint i = 0; i < copy->len; i++) {
        int ret = fn(g_ptr_array_index(copy, i), opaque);

        if (ret) {
            return ret;
        }
    }
    return 0;
}

typedef struct RecurseCtx {
    int (*fn)(Object *child, void *opaque);
    void *opaque;
} RecurseCtx;

static int recurse_one(Object *child, void *opaque)
{
    RecurseCtx *ctx = opaque;
    int ret = ctx->fn(child, ctx->opaque);

    return ret ? ret : object_child_foreach(child, recurse_one, ctx);
}

int object_child_foreach_recursive(Object *obj,
                                   int (*fn)(Object *child, void *opaque),
                                   void *opaque)
{
    RecurseCtx ctx = { fn, opaque };

    return object_child_foreach(obj, recurse_one, &ctx);
}

Object *object_get_root(void)
{
    if (!root) {
        root = object_new(TYPE_CONTAINER);
    }
    return root;
}

Object *container_get(Object *r, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    Object *obj = r;

    for (guint i = 0; parts[i]; i++) {
        Object *child;

        if (!parts[i][0]) {
            continue;
        }
        child = object_resolve_path_component(obj, parts[i]);
        if (!child) {
            child = object_new(TYPE_CONTAINER);
            object_property_add_child(obj, parts[i], child);
            object_unref(child);
        }
        obj = child;
    }
    return obj;
}

char *object_get_canonical_path(const Object *obj)
{
    GString *s = g_string_new(NULL);
    const Object *o = obj;

    for (; o && o != root; o = o->parent) {
        if (!o->parent) {
            g_string_free(s, true);
            return NULL;   /* not in the tree */
        }
        g_string_prepend(s, o->name);
        g_string_prepend_c(s, '/');
    }
    if (!o) {
        g_string_free(s, true);
        return NULL;
    }
    if (!s->len) {
        g_string_append_c(s, '/');
    }
    return g_string_free(s, false);
}

/* Does OBJ's path end with PARTS[0..n-1]? */
static bool path_ends_with(Object *obj, char **parts, guint n)
{
    for (guint i = n; i-- > 0;) {
        if (!obj || !obj->name || strcmp(obj->name, parts[i])) {
            return false;
        }
        obj = obj->parent;
    }
    return true;
}

typedef struct PartialCtx {
    char **parts;
    guint n;
    const char *typename;
    Object *found;
    bool ambiguous;
} PartialCtx;

static int partial_one(Object *obj, void *opaque)
{
    PartialCtx *ctx = opaque;

    if ((!ctx->typename || object_dynamic_cast(obj, ctx->typename)) &&
        path_ends_with(obj, ctx->parts, ctx->n)) {
        if (ctx->found && ctx->found != obj) {
            ctx->ambiguous = true;
        }
        ctx->found = obj;
    }
    return 0;
}

Object *object_resolve_path_type(const char *path, const char *typename,
                                 bool *ambiguous)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    g_autoptr(GPtrArray) comps = g_ptr_array_new();
    Object *obj = object_get_root();

    if (ambiguous) {
        *ambiguous = false;
    }
    for (guint i = 0; parts[i]; i++) {
        if (parts[i][0]) {
            g_ptr_array_add(comps, parts[i]);
        }
    }
    if (path[0] == '/') {
        for (guint i = 0; obj && i < comps->len; i++) {
            obj = object_resolve_path_component(obj,
                                                g_ptr_array_index(comps, i));
        }
        return obj && (!typename || object_dynamic_cast(obj, typename))
               ? obj : NULL;
    }
    if (!comps->len) {
        return NULL;
    }
    {
        PartialCtx ctx = { (char **)comps->pdata, comps->len, typename };

        object_child_foreach_recursive(obj, partial_one, &ctx);
        if (ctx.ambiguous) {
            if (ambiguous) {
                *ambiguous = true;
            }
            return NULL;
        }
        return ctx.found;
    }
}

Object *object_resolve_path(const char *path, bool *ambiguous)
{
    return object_resolve_path_type(path, NULL, ambiguous);
}

/* Canonical paths of the containers whose children are named by ids. */
static GHashTable *id_containers;

void object_mark_id_container(const char *path)
{
    if (!id_containers) {
        id_containers = g_hash_table_new(g_str_hash, g_str_equal);
    }
    g_hash_table_add(id_containers, (gpointer)path);
}

const char *object_get_id(const Object *obj)
{
    g_autofree char *ppath = NULL;

    if (!obj->parent || !id_containers ||
        !object_dynamic_cast(obj->parent, TYPE_CONTAINER)) {
        return NULL;
    }
    ppath = object_get_canonical_path(obj->parent);
    return ppath && g_hash_table_contains(id_containers, ppath) ? obj->name
                                                               : NULL;
}

static void container_class_init(ObjectClass *oc, const void *data)
{
    oc->cpr_modes = ~0u;    /* holds nothing of its own */
    oc->desc = "a folder of the composition tree";
}

static const TypeInfo object_root_types[] = {
    {
        .name = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(Object),
        .class_size = sizeof(ObjectClass),
    },
    /* Interfaces are types of their own, implemented by listing them. */
    { .name = TYPE_INTERFACE, .abstract = true },
    { .name = TYPE_USER_CREATABLE, .parent = TYPE_INTERFACE, .abstract = true },
    {
        .name = TYPE_CONTAINER,
        .parent = TYPE_OBJECT,
        .class_init = container_class_init,
    },
    { .name = TYPE_ACCEL, .parent = TYPE_OBJECT, .abstract = true },
};

static void object_register_root_types(void)
{
    object_mark_id_container("/objects");
    type_register_static_array(object_root_types,
                               ARRAY_SIZE(object_root_types));
}
type_init(object_register_root_types)
