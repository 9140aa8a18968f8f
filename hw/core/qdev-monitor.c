/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The object model's monitor commands, with QEMU's names and reply
 * shapes: qom-list, qom-get, qom-set, qom-list-types,
 * qom-list-properties, device-list-properties, device_del (which
 * refuses: no bus of baton's machines supports hot-unplug), and HMP
 * info qtree and device_del.
 */
#include "util/osdep.h"

#include "hw/core/qdev.h"
#include "monitor/monitor.h"

static JsonNode *builder_finish(JsonBuilder *b)
{
    JsonNode *node = json_builder_get_root(b);

    g_object_unref(b);
    return node;
}

static Object *qom_find(const char *path, GError **errp)
{
    bool ambiguous = false;
    Object *obj = object_resolve_path(path, &ambiguous);

    if (!obj) {
        if (ambiguous) {
            error_setg(errp, "Path '%s' is ambiguous", path);
        } else {
            g_set_error(errp, BATON_ERROR, BATON_ERROR_DEVICE_NOT_FOUND,
                        "Device '%s' not found", path);
        }
    }
    return obj;
}

static void list_one(Object *obj, const char *name, const char *type,
                     void *opaque)
{
    JsonBuilder *b = opaque;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, name);
    json_builder_set_member_name(b, "type");
    json_builder_add_string_value(b, type);
    json_builder_end_object(b);
}

static bool qmp_qom_list(JsonObject *args, JsonNode **ret, GError **errp)
{
    Object *obj = qom_find(qmp_arg_str(args, "path"), errp);
    JsonBuilder *b;

    if (!obj) {
        return false;
    }
    b = json_builder_new();
    json_builder_begin_array(b);
    object_property_foreach(obj, list_one, b);
    json_builder_end_array(b);
    *ret = builder_finish(b);
    return true;
}

static bool qmp_qom_get(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *name = qmp_arg_str(args, "property");
    Object *obj = qom_find(qmp_arg_str(args, "path"), errp);
    g_autofree char *type = NULL, *value = NULL;
    bool found;

    if (!obj) {
        return false;
    }
    type = object_property_get_type(obj, name);
    value = object_property_print(obj, name, &found);
    if (!found) {
        error_setg(errp, "Property '%s' not found", name);
        return false;
    }
    *ret = json_node_new(JSON_NODE_VALUE);
    if (!strcmp(type, "bool")) {
        json_node_set_boolean(*ret, !strcmp(value, "true"));
    } else if (g_str_has_prefix(type, "uint") || !strcmp(type, "size")) {
        json_node_set_int(*ret, (gint64)g_ascii_strtoull(value, NULL, 10));
    } else {
        json_node_set_string(*ret, value ? value : "");
    }
    return true;
}

static bool qmp_qom_set(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *name = qmp_arg_str(args, "property");
    Object *obj = qom_find(qmp_arg_str(args, "path"), errp);
    JsonNode *v = json_object_get_member(args, "value");
    g_autofree char *text = NULL;

    if (!obj) {
        return false;
    }
    if (JSON_NODE_HOLDS_VALUE(v) &&
        json_node_get_value_type(v) == G_TYPE_BOOLEAN) {
        text = g_strdup(json_node_get_boolean(v) ? "on" : "off");
    } else if (JSON_NODE_HOLDS_VALUE(v) &&
               json_node_get_value_type(v) == G_TYPE_INT64) {
        text = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(v));
    } else if (JSON_NODE_HOLDS_VALUE(v) &&
               json_node_get_value_type(v) == G_TYPE_STRING) {
        text = g_strdup(json_node_get_string(v));
    } else {
        error_setg(errp, "Parameter 'value' expects a string, number or "
                   "boolean");
        return false;
    }
    if (!object_property_get_type(obj, name) ||
        !object_class_find_prop(object_get_class(obj), name)) {
        if (!object_property_get_type(obj, name)) {
            error_setg(errp, "Property '%s' not found", name);
        } else {
            error_setg(errp, "Property '%s' is read-only", name);
        }
        return false;
    }
    if (!object_property_parse(obj, name, text, errp)) {
        return false;
    }
    *ret = qmp_return_empty();
    return true;
}

static bool qmp_qom_list_types(JsonObject *args, JsonNode **ret,
                               GError **errp)
{
    const char *implements = qmp_arg_str(args, "implements");
    bool abstract = qmp_arg_bool(args, "abstract", false);
    g_autoptr(GSList) list = object_class_get_list(implements, abstract);
    JsonBuilder *b = json_builder_new();

    json_builder_begin_array(b);
    for (GSList *l = list; l; l = l->next) {
        ObjectClass *oc = l->data;

        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, object_class_get_name(oc));
        if (object_class_is_abstract(oc)) {
            json_builder_set_member_name(b, "abstract");
            json_builder_add_boolean_value(b, true);
        }
        if (object_class_get_parent_name(oc)) {
            json_builder_set_member_name(b, "parent");
            json_builder_add_string_value(b, object_class_get_parent_name(oc));
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    *ret = builder_finish(b);
    return true;
}

/* [{name, type, description?, default-value?}] of OC's properties. */
static JsonNode *class_props_reply(ObjectClass *oc)
{
    JsonBuilder *b = json_builder_new();

    json_builder_begin_array(b);
    for (guint i = 0; i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);
        g_autofree char *type = NULL;

        if (object_class_find_prop(oc, p->name) != p) {
            continue;
        }
        type = object_prop_type_name(p);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, p->name);
        json_builder_set_member_name(b, "type");
        json_builder_add_string_value(b, type);
        if (p->desc) {
            json_builder_set_member_name(b, "description");
            json_builder_add_string_value(b, p->desc);
        }
        if (p->defval) {
            json_builder_set_member_name(b, "default-value");
            if (p->kind == PROP_BOOL) {
                bool v = false;

                parse_bool(p->defval, &v);
                json_builder_add_boolean_value(b, v);
            } else if (p->kind == PROP_STRING || p->kind == PROP_LINK ||
                       p->kind == PROP_ON_OFF_AUTO) {
                json_builder_add_string_value(b, p->defval);
            } else {
                uint64_t v = 0;

                parse_size(p->defval, 1, &v);
                json_builder_add_int_value(b, (gint64)v);
            }
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    return builder_finish(b);
}

static bool qmp_device_list_properties(JsonObject *args, JsonNode **ret,
                                       GError **errp)
{
    const char *typename = qmp_arg_str(args, "typename");
    ObjectClass *oc = object_class_by_name(typename);

    if (!oc) {
        g_set_error(errp, BATON_ERROR, BATON_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", typename);
        return false;
    }
    if (!object_class_dynamic_cast(oc, TYPE_DEVICE) ||
        object_class_is_abstract(oc)) {
        error_setg(errp, "Parameter 'typename' expects a non-abstract "
                   "device type");
        return false;
    }
    *ret = class_props_reply(oc);
    return true;
}

static bool qmp_qom_list_properties(JsonObject *args, JsonNode **ret,
                                    GError **errp)
{
    const char *typename = qmp_arg_str(args, "typename");
    ObjectClass *oc = object_class_by_name(typename);

    if (!oc) {
        error_setg(errp, "Class '%s' not found", typename);
        return false;
    }
    *ret = class_props_reply(oc);
    return true;
}

/* ---- info qtree ---- */

static void print_props(GString *out, DeviceState *dev, int indent)
{
    ObjectClass *oc = object_get_class(OBJECT(dev));

    for (guint i = 0; i < oc->props->len; i++) {
        const Property *p = g_ptr_array_index(oc->props, i);
        g_autofree char *v = NULL;
        bool found;

        if (object_class_find_prop(oc, p->name) != p) {
            continue;
        }
        v = object_property_print(OBJECT(dev), p->name, &found);
        g_string_append_printf(out, "%*s%s = ", indent, "", p->name);
        switch (p->kind) {
        case PROP_STRING:
        case PROP_ON_OFF_AUTO: /* an enum: QEMU quotes its name */
            g_string_append_printf(out, v ? "\"%s\"\n" : "<null>\n", v);
            break;
        case PROP_LINK: {
            Object *t = *(Object **)((char *)dev + p->offset);
            const char *id = t ? object_get_id(t) : NULL;

            g_string_append_printf(out, "\"%s\"\n", id ? id : v);
            break;
        }
        case PROP_BOOL:
        case PROP_PCI_DEVFN: /* "03.0", as QEMU prints it */
            g_string_append_printf(out, "%s\n", v);
            break;
        default: {
            uint64_t n = g_ascii_strtoull(v, NULL, 10);

            g_string_append_printf(out, "%" PRIu64 " (0x%" PRIx64 ")\n", n,
                                   n);
            break;
        }
        }
    }
}

static void print_bus(GString *out, BusState *bus, int indent);

static void print_dev(GString *out, DeviceState *dev, int indent)
{
    g_string_append_printf(out, "%*sdev: %s, id \"%s\"\n", indent, "",
                           object_get_typename(OBJECT(dev)),
                           dev->id ? dev->id : "");
    print_props(out, dev, indent + 2);
    for (guint i = 0; i < dev->child_buses->len; i++) {
        print_bus(out, g_ptr_array_index(dev->child_buses, i), indent + 2);
    }
}

static void print_bus(GString *out, BusState *bus, int indent)
{
    g_string_append_printf(out, "%*sbus: %s\n", indent, "", bus->name);
    g_string_append_printf(out, "%*stype %s\n", indent + 2, "",
                           object_get_typename(OBJECT(bus)));
    for (guint i = 0; i < bus->children->len; i++) {
        print_dev(out, g_ptr_array_index(bus->children, i), indent + 2);
    }
}

static int print_root_bus(Object *obj, void *opaque)
{
    BusState *bus = (BusState *)object_dynamic_cast(obj, TYPE_BUS);

    if (bus && !bus->parent) {
        print_bus(opaque, bus, 0);
    }
    return 0;
}

char *qdev_print_tree(void)
{
    GString *out = g_string_new(NULL);

    /* The machine's root buses, the main system bus first. */
    sysbus_get_default();
    object_child_foreach_recursive(object_get_root(), print_root_bus, out);
    return g_string_free(out, false);
}

static void hmp_info_qtree(Monitor *mon, int argc, char **argv)
{
    g_autofree char *text = qdev_print_tree();

    monitor_printf(mon, "%s", text);
}

/*
 * device_del ID|PATH: QEMU's lookup (an id is /machine/peripheral/ID)
 * and errors. baton's buses have no hot-plug controller (no ACPI or
 * PCIe hot-plug), so every device found is refused, naming its bus, and
 * nothing changes; a device on no bus cannot be unplugged either.
 */
static bool device_del(const char *id, GError **errp)
{
    g_autofree char *path =
        id[0] == '/' ? g_strdup(id) : g_strdup_printf("/machine/peripheral/%s",
                                                      id);
    Object *obj = object_resolve_path(path, NULL);
    DeviceState *dev;

    if (!obj) {
        g_set_error(errp, BATON_ERROR, BATON_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id);
        return false;
    }
    dev = (DeviceState *)object_dynamic_cast(obj, TYPE_DEVICE);
    if (!dev) {
        error_setg(errp, "%s is not a hotpluggable device", id);
        return false;
    }
    if (dev->parent_bus) {
        error_setg(errp, "Bus '%s' does not support hotplugging",
                   dev->parent_bus->name);
    } else {
        error_setg(errp, "Device '%s' does not support hotplugging",
                   object_get_typename(obj));
    }
    return false;
}

static bool qmp_device_del(JsonObject *args, JsonNode **ret, GError **errp)
{
    (void)ret;
    return device_del(qmp_arg_str(args, "id"), errp);
}

static void hmp_device_del(Monitor *mon, int argc, char **argv)
{
    GError *err = NULL;

    if (argc != 2) {
        monitor_printf(mon, "usage: device_del id\n");
        return;
    }
    if (!device_del(argv[1], &err)) {
        hmp_handle_error(mon, err);
    }
}

static const QmpArgSpec path_args[] = {
    {"path", QMP_ARG_STR, false}, {NULL}};
static const QmpArgSpec qom_get_args[] = {
    {"path", QMP_ARG_STR, false}, {"property", QMP_ARG_STR, false}, {NULL}};
static const QmpArgSpec qom_set_args[] = {
    {"path", QMP_ARG_STR, false}, {"property", QMP_ARG_STR, false},
    {"value", QMP_ARG_ANY, false}, {NULL}};
static const QmpArgSpec qom_list_types_args[] = {
    {"implements", QMP_ARG_STR, true}, {"abstract", QMP_ARG_BOOL, true},
    {NULL}};
static const QmpArgSpec typename_args[] = {
    {"typename", QMP_ARG_STR, false}, {NULL}};
static const QmpArgSpec id_args[] = {{"id", QMP_ARG_STR, false}, {NULL}};

static const QmpCommandDef qdev_qmp_commands[] = {
    {"qom-list", qmp_qom_list, path_args, .allow_preconfig = true},
    {"qom-get", qmp_qom_get, qom_get_args, .allow_preconfig = true},
    {"qom-set", qmp_qom_set, qom_set_args, .allow_preconfig = true},
    {"qom-list-types", qmp_qom_list_types, qom_list_types_args,
     .allow_preconfig = true},
    {"qom-list-properties", qmp_qom_list_properties, typename_args,
     .allow_preconfig = true},
    {"device-list-properties", qmp_device_list_properties, typename_args,
     .allow_preconfig = true},
    {"device_del", qmp_device_del, id_args},
};

static const HmpCommandDef qdev_hmp_cmds[] = {
    {"device_del", "id", "remove device (refused: no hot-unplug)",
     hmp_device_del, NULL},
};

static const HmpCommandDef qdev_hmp_info_cmds[] = {
    {"qtree", "", "show device tree", hmp_info_qtree, NULL},
};

static void __attribute__((constructor)) qdev_monitor_register(void)
{
    qmp_register_commands(qdev_qmp_commands, ARRAY_SIZE(qdev_qmp_commands));
    hmp_register_commands(qdev_hmp_cmds, ARRAY_SIZE(qdev_hmp_cmds));
    hmp_register_info_commands(qdev_hmp_info_cmds,
                               ARRAY_SIZE(qdev_hmp_info_cmds));
}
