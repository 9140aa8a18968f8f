/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Typed properties: static tables on the class, defaults at object_new(),
 * parsing from the command line and qom-set, printing for qom-get and
 * info qtree, and the one link kind, whose ids resolve in the container
 * that the subsystem owning the target type registered (chardevs in
 * /chardevs): this file includes no subsystem's header.
 */
#include "util/osdep.h"

#include "hw/core/object.h"

static GHashTable *link_containers; /* link_type -> container path */

void object_class_add_props(ObjectClass *oc, const Property *table)
{
    for (const Property *p = table; p && p->name; p++) {
        g_assert(p->kind != PROP_LINK || p->link_type);
        g_ptr_array_add(oc->props, (gpointer)p);
    }
}

/* The last definition wins: a subclass may redefine a parent's property. */
const Property *object_class_find_prop(ObjectClass *oc, const char *name)
{
    for (guint i = oc->props->len; i-- > 0;) {
        const Property *p = g_ptr_array_index(oc->props, i);

        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

/* Whether P is the definition in effect (not shadowed by a later one). */
static bool prop_in_effect(ObjectClass *oc, const Property *p)
{
    return object_class_find_prop(oc, p->name) == p;
}

char *object_class_prop_names(ObjectClass *oc)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);

        if (prop_in_effect(oc, p)) {
            g_string_append_printf(s, "%s%s", s->len ? ", " : "", p->name);
        }
    }
    return g_string_free(s, false);
}

void object_register_link_container(const char *link_type, const char *path)
{
    if (!link_containers) {
        link_containers = g_hash_table_new(g_str_hash, g_str_equal);
    }
    g_hash_table_insert(link_containers, (gpointer)link_type, (gpointer)path);
    object_mark_id_container(path);
}

/* The object VALUE names for link P: an id in P's container, or a path. */
static Object *prop_resolve_link(Object *obj, const Property *p,
                                 const char *value, GError **errp)
{
    const char *cpath = link_containers ?
        g_hash_table_lookup(link_containers, p->link_type) : NULL;
    Object *target = NULL;
    bool ambiguous = false;

    if (!strchr(value, '/') && cpath) {
        target = object_resolve_path_component(
            container_get(object_get_root(), cpath), value);
    } else if (value[0]) {
        target = object_resolve_path(value, &ambiguous);
    }
    if (ambiguous) {
        error_setg(errp, "Path '%s' does not uniquely identify an object",
                   value);
        return NULL;
    }
    if (!target) {
        error_setg(errp, "Property '%s.%s' can't find value '%s'",
                   object_get_typename(obj), p->name, value);
        return NULL;
    }
    if (!object_dynamic_cast(target, p->link_type)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: %s "
                   "('%s' is a %s)", p->name, p->link_type, value,
                   object_get_typename(target));
        return NULL;
    }
    return target;
}

static bool prop_set_uint(Object *obj, const Property *p, void *field,
                          const char *value, GError **errp)
{
    uint64_t max = p->kind == PROP_UINT8    ? UINT8_MAX
                   : p->kind == PROP_UINT16 ? UINT16_MAX
                   : p->kind == PROP_UINT32 ? UINT32_MAX
                                            : UINT64_MAX;
    uint64_t v;

    if (!parse_uint(value, &v)) {
        error_setg(errp, "Parameter '%s' expects a non-negative number below "
                   "2^%d", p->name, max == UINT64_MAX ? 64 :
                   max == UINT32_MAX ? 32 : max == UINT16_MAX ? 16 : 8);
        return false;
    }
    if (v > max) {
        error_setg(errp, "Property %s.%s doesn't take value %" PRIu64
                   " (maximum: %" PRIu64 ")", object_get_typename(obj),
                   p->name, v, max);
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

/* QEMU's PCI address syntax: SLOT (hex, < 0x20) with an optional .FN. */
static bool prop_parse_devfn(const char *value, int32_t *devfn)
{
    unsigned long slot, fn = 0;
    char *end;

    if (!strcmp(value, "-1")) {
        *devfn = -1;
        return true;
    }
    if (!g_ascii_isxdigit(value[0])) {
        return false;
    }
    slot = strtoul(value, &end, 16);
    if (*end == '.') {
        if (!g_ascii_isxdigit(end[1])) {
            return false;
        }
        fn = strtoul(end + 1, &end, 16);
    }
    if (*end || slot > 0x1f || fn > 7) {
        return false;
    }
    *devfn = (int32_t)(slot << 3 | fn);
    return true;
}

const char *on_off_auto_name(OnOffAuto v)
{
    static const char *const names[] = {"auto", "on", "off"};

    return (unsigned)v < G_N_ELEMENTS(names) ? names[v] : "auto";
}

static bool prop_parse_on_off_auto(const char *value, OnOffAuto *out)
{
    for (OnOffAuto v = ON_OFF_AUTO_AUTO; v <= ON_OFF_AUTO_OFF; v++) {
        if (!strcmp(value, on_off_auto_name(v))) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool prop_set(Object *obj, const Property *p, const char *value,
                     GError **errp)
{
    void *field = (char *)obj + p->offset;
    uint64_t v;
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
    case PROP_LINK: {
        Object *target = prop_resolve_link(obj, p, value, errp);

        if (!target) {
            return false;
        }
        object_ref(target);
        object_unref(*(Object **)field);
        *(Object **)field = target;
        return true;
    }
    case PROP_PCI_DEVFN:
        if (!prop_parse_devfn(value, (int32_t *)field)) {
            error_setg(errp, "Property '%s.%s' doesn't take value '%s'",
                       object_get_typename(obj), p->name, value);
            return false;
        }
        return true;
    case PROP_ON_OFF_AUTO:
        if (!prop_parse_on_off_auto(value, (OnOffAuto *)field)) {
            /* QEMU's wording for an enum value it does not know. */
            error_setg(errp, "Parameter '%s' does not accept value '%s'",
                       p->name, value);
            return false;
        }
        return true;
    case PROP_SIZE:
        if (!parse_size(value, 1, &v)) {
            error_setg(errp, "Parameter '%s' expects a size value", p->name);
            return false;
        }
        *(uint64_t *)field = v;
        return true;
    default:
        return prop_set_uint(obj, p, field, value, errp);
    }
}

void object_props_init(Object *obj);
void object_props_init(Object *obj)
{
    ObjectClass *oc = obj->klass;

    /* Table order: ancestors first, so a subclass's default wins. */
    for (guint i = 0; i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);
        g_autoptr(GError) err = NULL;

        if (p->defval && !prop_set(obj, p, p->defval, &err)) {
            g_error("type %s: bad default for '%s': %s",
                    object_get_typename(obj), p->name, err->message);
        }
    }
}

void object_props_finalize(Object *obj);
void object_props_finalize(Object *obj)
{
    ObjectClass *oc = obj->klass;

    for (guint i = 0; i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);
        void *field = (char *)obj + p->offset;

        if (p->kind == PROP_STRING) {
            g_clear_pointer((char **)field, g_free);
        } else if (p->kind == PROP_LINK) {
            g_clear_pointer((Object **)field, object_unref);
        }
    }
}

bool object_property_parse(Object *obj, const char *name, const char *value,
                           GError **errp)
{
    const Property *p = object_class_find_prop(obj->klass, name);
    bool is_dev = object_dynamic_cast(obj, "device") != NULL;

    if (!p) {
        g_autofree char *valid = object_class_prop_names(obj->klass);

        error_setg(errp, "%s '%s' has no property '%s'%s%s%s",
                   is_dev ? "device" : "object", object_get_typename(obj),
                   name, *valid ? " (valid: " : "", valid,
                   *valid ? ")" : "");
        return false;
    }
    if (obj->completed && !p->realized_set_allowed) {
        g_autofree char *path = object_get_canonical_path(obj);
        const char *id = object_get_id(obj);

        error_setg(errp, "Attempt to set property '%s' on %s '%s' (type "
                   "'%s') after it was %s", name, is_dev ? "device" : "object",
                   id ? id : path ? path : "", object_get_typename(obj),
                   is_dev ? "realized" : "created");
        return false;
    }
    return prop_set(obj, p, value, errp);
}

char *object_prop_type_name(const Property *p)
{
    static const char *const names[] = {
        [PROP_STRING] = "string",
        [PROP_BOOL] = "bool",
        [PROP_UINT8] = "uint8",
        [PROP_UINT16] = "uint16",
        [PROP_UINT32] = "uint32",
        [PROP_UINT64] = "uint64",
        [PROP_SIZE] = "size",
        [PROP_PCI_DEVFN] = "int32",
        [PROP_ON_OFF_AUTO] = "OnOffAuto",
    };

    if (p->kind == PROP_LINK) {
        return g_strdup_printf("link<%s>", p->link_type);
    }
    return g_strdup(names[p->kind]);
}

char *object_property_get_type(Object *obj, const char *name)
{
    const Property *p = object_class_find_prop(obj->klass, name);
    Object *child;

    if (p) {
        return object_prop_type_name(p);
    }
    if (!strcmp(name, "type")) {
        return g_strdup("string");
    }
    child = object_resolve_path_component(obj, name);
    return child ? g_strdup_printf("child<%s>", object_get_typename(child))
                 : NULL;
}

char *object_property_print(Object *obj, const char *name, bool *found)
{
    const Property *p = object_class_find_prop(obj->klass, name);
    Object *child = p ? NULL : object_resolve_path_component(obj, name);
    void *field;

    *found = true;
    if (!p) {
        if (!strcmp(name, "type")) {
            return g_strdup(object_get_typename(obj));
        }
        if (child) {
            return object_get_canonical_path(child);
        }
        *found = false;
        return NULL;
    }
    field = (char *)obj + p->offset;
    switch (p->kind) {
    case PROP_STRING:
        return g_strdup(*(char **)field);
    case PROP_BOOL:
        return g_strdup(*(bool *)field ? "true" : "false");
    case PROP_LINK:
        return *(Object **)field
               ? object_get_canonical_path(*(Object **)field) : g_strdup("");
    case PROP_ON_OFF_AUTO:
        return g_strdup(on_off_auto_name(*(OnOffAuto *)field));
    case PROP_UINT8:
        return g_strdup_printf("%u", *(uint8_t *)field);
    case PROP_UINT16:
        return g_strdup_printf("%u", *(uint16_t *)field);
    case PROP_UINT32:
        return g_strdup_printf("%" PRIu32, *(uint32_t *)field);
    case PROP_PCI_DEVFN: {
        int32_t devfn = *(int32_t *)field;

        return devfn < 0 ? g_strdup("<unset>")
                         : g_strdup_printf("%02x.%x", devfn >> 3, devfn & 7);
    }
    default:
        return g_strdup_printf("%" PRIu64, *(uint64_t *)field);
    }
}

void object_property_foreach(Object *obj,
                             void (*fn)(Object *obj, const char *name,
                                        const char *type, void *opaque),
                             void *opaque)
{
    ObjectClass *oc = obj->klass;

    fn(obj, "type", "string", opaque);
    for (guint i = 0; i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);
        g_autofree char *type = NULL;

        if (!prop_in_effect(oc, p)) {
            continue;
        }
        type = object_prop_type_name(p);
        fn(obj, p->name, type, opaque);
    }
    for (guint i = 0; i < obj->children->len; i++) {
        Object *c = g_ptr_array_index(obj->children, i);
        g_autofree char *type = g_strdup_printf("child<%s>",
                                                object_get_typename(c));

        fn(obj, c->name, type, opaque);
    }
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

bool object_set_props_from_opts(Object *obj, const OptList *opts,
                                const char *const *ignore, GError **errp)
{
    ObjectClass *oc = obj->klass;

    for (unsigned int i = 0; opts && i < opts_count(opts); i++) {
        const char *key = opts_key(opts, i);

        if (in_list(ignore, key)) {
            continue;
        }
        if (!object_property_parse(obj, key, opts_value(opts, i), errp)) {
            return false;
        }
    }
    for (guint i = 0; opts && i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);

        if (p->required && prop_in_effect(oc, p) && !opts_has(opts, p->name)) {
            error_setg(errp, "Parameter '%s' is missing", p->name);
            return false;
        }
    }
    return true;
}

Object *object_new_child_with_opts(Object *parent, const char *name,
                                   const char *kind, const char *typename,
                                   const OptList *opts,
                                   const char *const *ignore, GError **errp)
{
    ObjectClass *oc = object_class_by_name(typename);
    Object *obj;

    if (!oc) {
        error_setg(errp, "invalid object type: %s", typename);
        return NULL;
    }
    if (object_class_is_abstract(oc)) {
        error_setg(errp, "object type '%s' is abstract", typename);
        return NULL;
    }
    if (object_resolve_path_component(parent, name)) {
        error_setg(errp, "Duplicate ID '%s' for %s", name, kind);
        return NULL;
    }
    obj = object_new(typename);
    if (!object_set_props_from_opts(obj, opts, ignore, errp)) {
        object_unref(obj);
        return NULL;
    }
    /* In the tree before complete(), which may look itself up by id. */
    object_property_add_child(parent, name, obj);
    object_unref(obj);
    if (oc->complete && !oc->complete(obj, errp)) {
        object_unparent(obj);
        return NULL;
    }
    obj->completed = true;
    return obj;
}

Object *user_creatable_add(const char *typename, const OptList *opts,
                           const char *const *ignore, GError **errp)
{
    ObjectClass *oc = object_class_by_name(typename);
    const char *id = opts_get(opts, "id");
    g_autoptr(GPtrArray) skip = g_ptr_array_new();

    if (!oc || object_class_is_abstract(oc) ||
        !object_class_dynamic_cast(oc, TYPE_USER_CREATABLE)) {
        error_setg(errp, "invalid object type: %s", typename);
        return NULL;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    for (; ignore && *ignore; ignore++) {
        g_ptr_array_add(skip, (gpointer)*ignore);
    }
    g_ptr_array_add(skip, "id");
    g_ptr_array_add(skip, NULL);
    return object_new_child_with_opts(container_get(object_get_root(),
                                                    "/objects"),
                                      id, "object", typename, opts,
                                      (const char *const *)skip->pdata,
                                      errp);
}

Object *object_find_user(const char *id)
{
    return object_resolve_path_component(
        container_get(object_get_root(), "/objects"), id);
}
