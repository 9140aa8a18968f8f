/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The object model: class construction order and hook chaining, dynamic
 * casts and interfaces, the composition tree (children, refcounts,
 * canonical paths, path resolution), typed properties including links,
 * and devices on buses.
 */
#include "util/osdep.h"

#include "hw/core/qdev.h"

/* ---- a class hierarchy: test-base <- test-mid <- test-leaf ---- */

#define TYPE_TEST_BASE "test-base"
#define TYPE_TEST_MID "test-mid"
#define TYPE_TEST_LEAF "test-leaf"
#define TYPE_TEST_IFACE "test-iface"

typedef struct TestBaseClass {
    ObjectClass parent_class;

    void (*describe)(Object *obj, GString *out);
    int class_value;
} TestBaseClass;

typedef struct TestObj {
    Object parent_obj;

    GString *log;
} TestObj;

static GString *class_order;

#define TEST_BASE_GET_CLASS(obj) \
    OBJECT_GET_CLASS(TestBaseClass, (obj), TYPE_TEST_BASE)

static void base_describe(Object *obj, GString *out)
{
    g_string_append(out, "base;");
}

static void base_class_init(ObjectClass *oc, const void *data)
{
    TestBaseClass *bc = (TestBaseClass *)oc;

    g_string_append(class_order, "base;");
    bc->describe = base_describe;
    bc->class_value = 1;
}

/* The mid class overrides describe() and chains to the parent's. */
static void mid_describe(Object *obj, GString *out)
{
    TestBaseClass *parent =
        (TestBaseClass *)object_class_by_name(TYPE_TEST_MID)->parent_class;

    g_string_append(out, "mid;");
    parent->describe(obj, out);
}

static void mid_class_init(ObjectClass *oc, const void *data)
{
    TestBaseClass *bc = (TestBaseClass *)oc;

    g_string_append(class_order, "mid;");
    /* Copied from the parent before this runs. */
    g_assert_cmpint(bc->class_value, ==, 1);
    g_assert_true(bc->describe == base_describe);
    bc->describe = mid_describe;
    bc->class_value = 2;
}

static void leaf_class_init(ObjectClass *oc, const void *data)
{
    g_string_append_printf(class_order, "leaf(%s);", (const char *)data);
}

static void test_obj_init(Object *obj)
{
    ((TestObj *)obj)->log = g_string_new("init;");
}

static void test_obj_finalize(Object *obj)
{
    g_string_free(((TestObj *)obj)->log, true);
}

static const char *const leaf_ifaces[] = { TYPE_TEST_IFACE, NULL };

static const TypeInfo hierarchy_types[] = {
    { .name = TYPE_TEST_IFACE, .parent = TYPE_INTERFACE, .abstract = true },
    {
        .name = TYPE_TEST_BASE,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(TestObj),
        .instance_init = test_obj_init,
        .instance_finalize = test_obj_finalize,
        .class_size = sizeof(TestBaseClass),
        .class_init = base_class_init,
    },
    { .name = TYPE_TEST_MID, .parent = TYPE_TEST_BASE,
      .class_init = mid_class_init },
    {
        .name = TYPE_TEST_LEAF,
        .parent = TYPE_TEST_MID,
        .class_init = leaf_class_init,
        .class_data = "data",
        .interfaces = leaf_ifaces,
    },
};

/* ---- devices and buses ---- */

#define TYPE_TEST_BUS "test-bus"
#define TYPE_OTHER_BUS "other-bus"
#define TYPE_TEST_DEV "test-dev"

typedef struct TestDev {
    DeviceState parent_obj;

    char *name;
    bool flag;
    uint8_t small;
    uint32_t word;
    uint64_t size;
    Object *peer;     /* link<test-leaf> */

    int realized_count;
} TestDev;

static const Property test_dev_props[] = {
    DEFINE_PROP("name", PROP_STRING, TestDev, name, .defval = "dflt",
                .realized_set_allowed = true),
    DEFINE_PROP("flag", PROP_BOOL, TestDev, flag),
    DEFINE_PROP("small", PROP_UINT8, TestDev, small, .defval = "7"),
    DEFINE_PROP("word", PROP_UINT32, TestDev, word),
    DEFINE_PROP("size", PROP_SIZE, TestDev, size),
    DEFINE_PROP_LINK("peer", TestDev, peer, TYPE_TEST_LEAF),
    { NULL }
};

static bool test_dev_realize(DeviceState *dev, GError **errp)
{
    TestDev *s = (TestDev *)dev;

    if (s->word == 666) {
        error_setg(errp, "word 666 refused");
        return false;
    }
    s->realized_count++;
    return true;
}

static void test_dev_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    device_class_set_props(dc, test_dev_props);
    dc->user_creatable = true;
    dc->bus_type = TYPE_TEST_BUS;
    dc->realize = test_dev_realize;
    dc->stateless = true;
}

static const Property test_sub_props[] = {
    DEFINE_PROP("small", PROP_UINT8, TestDev, small, .defval = "9"),
    DEFINE_PROP("word", PROP_UINT32, TestDev, word, .required = true),
    { NULL }
};

static void test_sub_class_init(ObjectClass *oc, const void *data)
{
    device_class_set_props(DEVICE_CLASS(oc), test_sub_props);
}

static const TypeInfo device_types[] = {
    { .name = TYPE_TEST_BUS, .parent = TYPE_BUS },
    { .name = TYPE_OTHER_BUS, .parent = TYPE_BUS },
    {
        .name = TYPE_TEST_DEV,
        .parent = TYPE_DEVICE,
        .instance_size = sizeof(TestDev),
        .class_init = test_dev_class_init,
    },
    { .name = "test-sub", .parent = TYPE_TEST_DEV,
      .class_init = test_sub_class_init },
};

static void register_test_types(void)
{
    class_order = g_string_new(NULL);
    type_register_static_array(hierarchy_types, ARRAY_SIZE(hierarchy_types));
    type_register_static_array(device_types, ARRAY_SIZE(device_types));
}
type_init(register_test_types)

static TestDev *add(const char *type, const char *str, GError **errp)
{
    g_autoptr(OptList) opts = opts_parse(str, NULL, NULL);

    g_assert_nonnull(opts);
    return (TestDev *)qdev_device_add(type, opts, errp);
}

/* ---- classes ---- */

static void test_class_order(void)
{
    ObjectClass *leaf = object_class_by_name(TYPE_TEST_LEAF);
    Object *obj;

    /* Parents first, each once; class_data reaches class_init. */
    g_assert_cmpstr(class_order->str, ==, "base;mid;leaf(data);");
    g_assert_true(object_class_by_name(TYPE_TEST_LEAF) == leaf);
    g_assert_cmpstr(class_order->str, ==, "base;mid;leaf(data);");
    g_assert_cmpint(((TestBaseClass *)leaf)->class_value, ==, 2);

    /* The leaf inherits mid's override, which chains to base's hook. */
    obj = object_new(TYPE_TEST_LEAF);
    {
        g_autoptr(GString) out = g_string_new(NULL);

        TEST_BASE_GET_CLASS(obj)->describe(obj, out);
        g_assert_cmpstr(out->str, ==, "mid;base;");
    }
    g_assert_cmpstr(((TestObj *)obj)->log->str, ==, "init;");
    g_assert_cmpstr(object_class_get_parent_name(leaf), ==, TYPE_TEST_MID);
    object_unref(obj);
}

static void test_casts(void)
{
    Object *obj = object_new(TYPE_TEST_LEAF);
    ObjectClass *oc = object_get_class(obj);
    g_autoptr(GSList) impl = object_class_get_list(TYPE_TEST_IFACE, false);
    g_autoptr(GSList) all = object_class_get_list(TYPE_TEST_BASE, true);

    g_assert_true(object_dynamic_cast(obj, TYPE_TEST_BASE) == obj);
    g_assert_true(object_dynamic_cast(obj, TYPE_OBJECT) == obj);
    g_assert_true(object_dynamic_cast(obj, TYPE_TEST_IFACE) == obj);
    g_assert_null(object_dynamic_cast(obj, TYPE_DEVICE));
    g_assert_null(object_dynamic_cast(obj, "no-such-type"));
    g_assert_true(object_class_dynamic_cast(oc, TYPE_TEST_MID) == oc);
    g_assert_null(object_class_dynamic_cast(
        object_class_by_name(TYPE_TEST_MID), TYPE_TEST_IFACE));
    g_assert_true(OBJECT_CHECK(TestObj, obj, TYPE_TEST_MID) ==
                  (TestObj *)obj);

    /* Listing: implementers only; abstract ones on request, sorted. */
    g_assert_cmpuint(g_slist_length(impl), ==, 1);
    g_assert_cmpstr(object_class_get_name(impl->data), ==, TYPE_TEST_LEAF);
    g_assert_cmpuint(g_slist_length(all), ==, 3);
    g_assert_cmpstr(object_class_get_name(all->data), ==, TYPE_TEST_BASE);
    g_assert_true(object_class_is_abstract(all->data));
    object_unref(obj);
}

/* A wrong checked cast aborts, naming both types. */
static void test_cast_abort(void)
{
    if (g_test_subprocess()) {
        Object *obj = object_new(TYPE_TEST_LEAF);

        DEVICE(obj);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*'test-leaf' is not a 'device'*");
}

/* ---- the tree ---- */

static void test_tree(void)
{
    Object *root = object_get_root();
    Object *box = container_get(root, "/test/box");
    Object *a = object_new(TYPE_TEST_LEAF);
    Object *b = object_new(TYPE_TEST_LEAF);
    g_autofree char *pa = NULL, *pb = NULL;
    bool ambiguous;

    g_assert_true(container_get(root, "/test/box") == box);
    object_property_add_child(box, "a", a);
    object_property_add_child(container_get(root, "/test/other"), "a", b);
    g_assert_cmpuint(a->refcount, ==, 2);
    object_unref(a);
    object_unref(b);

    pa = object_get_canonical_path(a);
    pb = object_get_canonical_path(b);
    g_assert_cmpstr(pa, ==, "/test/box/a");
    g_assert_cmpstr(pb, ==, "/test/other/a");
    g_assert_true(object_resolve_path("/test/box/a", NULL) == a);
    g_assert_null(object_resolve_path("/test/box/b", NULL));
    /* Partial paths: unique endings resolve, shared ones are ambiguous. */
    g_assert_true(object_resolve_path("box/a", &ambiguous) == a);
    g_assert_false(ambiguous);
    g_assert_null(object_resolve_path("a", &ambiguous));
    g_assert_true(ambiguous);
    g_assert_true(object_resolve_path_type("other", TYPE_CONTAINER, NULL) ==
                  b->parent);

    /* A reference outlives unparenting; the object is then path-less. */
    object_ref(a);
    object_unparent(a);
    g_assert_null(object_resolve_path("/test/box/a", NULL));
    g_assert_null(object_get_canonical_path(a));
    g_assert_cmpuint(a->refcount, ==, 1);
    object_unref(a);
    /* Children go with their parent. */
    object_unparent(container_get(root, "/test"));
    g_assert_null(object_resolve_path("/test/other/a", NULL));
    g_assert_null(object_resolve_path("/test", NULL));
}

/* ---- properties ---- */

static void test_props(void)
{
    GError *err = NULL;
    BusState *bus = qbus_new(TYPE_TEST_BUS, NULL, "tb.0");
    TestDev *s = add("test-dev", "id=a,flag=on,word=0x10,size=2M", &err);
    g_autofree char *word = NULL, *size = NULL, *type = NULL, *name = NULL;
    bool found;

    g_assert_no_error(err);
    g_assert_cmpstr(s->name, ==, "dflt");
    g_assert_true(s->flag);
    g_assert_cmpuint(s->small, ==, 7);
    g_assert_cmpuint(s->word, ==, 16);
    g_assert_cmpuint(s->size, ==, 2 * 1024 * 1024);
    g_assert_cmpint(s->realized_count, ==, 1);
    g_assert_true(qdev_find_by_id("a") == DEVICE(s));

    word = object_property_print(OBJECT(s), "word", &found);
    g_assert_true(found);
    g_assert_cmpstr(word, ==, "16");
    size = object_property_print(OBJECT(s), "size", &found);
    g_assert_cmpstr(size, ==, "2097152");
    type = object_property_get_type(OBJECT(s), "peer");
    g_assert_cmpstr(type, ==, "link<test-leaf>");
    g_assert_null(object_property_print(OBJECT(s), "nope", &found));
    g_assert_false(found);

    /* Realized: only properties that allow it may change. */
    g_assert_false(object_property_parse(OBJECT(s), "word", "1", &err));
    g_assert_cmpstr(err->message, ==, "Attempt to set property 'word' on "
                    "device 'a' (type 'test-dev') after it was realized");
    g_clear_error(&err);
    g_assert_true(object_property_parse(OBJECT(s), "name", "new", &err));
    name = object_property_print(OBJECT(s), "name", &found);
    g_assert_cmpstr(name, ==, "new");

    object_unparent(OBJECT(s));
    g_assert_null(qdev_find_by_id("a"));
    object_unparent(OBJECT(bus));
}

static void test_inheritance(void)
{
    GError *err = NULL;
    BusState *bus = qbus_new(TYPE_TEST_BUS, NULL, "tb.0");
    TestDev *s = add("test-sub", "id=b,word=3,name=x", &err);

    g_assert_no_error(err);
    g_assert_cmpuint(s->small, ==, 9);      /* subtype default wins */
    g_assert_cmpstr(s->name, ==, "x");      /* parent property */
    g_assert_cmpint(s->realized_count, ==, 1); /* parent realize */
    object_unparent(OBJECT(s));
    object_unparent(OBJECT(bus));
}

static void test_prop_errors(void)
{
    GError *err = NULL;
    BusState *bus = qbus_new(TYPE_TEST_BUS, NULL, "tb.0");

    g_assert_null(add("test-dev", "frob=1", &err));
    g_assert_nonnull(strstr(err->message, "no property 'frob'"));
    g_assert_nonnull(strstr(err->message, "word"));
    g_clear_error(&err);

    g_assert_null(add("test-dev", "small=256", &err));
    g_assert_nonnull(strstr(err->message, "small"));
    g_clear_error(&err);

    g_assert_null(add("test-dev", "flag=maybe", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'flag' expects 'on' or 'off'");
    g_clear_error(&err);

    g_assert_null(add("test-dev", "size=1X", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'size' expects a size value");
    g_clear_error(&err);

    g_assert_null(add("test-sub", "name=y", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'word' is missing");
    g_clear_error(&err);

    g_assert_null(add("test-dev", "word=666", &err));
    g_assert_cmpstr(err->message, ==, "word 666 refused");
    g_clear_error(&err);

    g_assert_null(add("no-such-type", "", &err));
    g_assert_cmpstr(err->message, ==,
                    "'no-such-type' is not a valid device model name");
    g_clear_error(&err);

    g_assert_null(add(TYPE_DEVICE, "", &err));
    g_assert_cmpstr(err->message, ==,
                    "'device' is not a valid device model name");
    g_clear_error(&err);

    g_assert_null(add("test-dev", "id=a/b", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'id' expects an identifier");
    g_clear_error(&err);

    /* Nothing of the failed devices is left in the tree. */
    g_assert_cmpuint(container_get(object_get_root(),
                                   "/machine/peripheral-anon")
                     ->children->len, ==, 0);
    object_unparent(OBJECT(bus));
}

static void test_duplicate_id(void)
{
    GError *err = NULL;
    BusState *bus = qbus_new(TYPE_TEST_BUS, NULL, "tb.0");
    TestDev *a = add("test-dev", "id=dup", &err);

    g_assert_no_error(err);
    g_assert_null(add("test-dev", "id=dup", &err));
    g_assert_cmpstr(err->message, ==, "Duplicate ID 'dup' for device");
    g_clear_error(&err);
    object_unparent(OBJECT(a));
    object_unparent(OBJECT(bus));
}

/* Links: an id in the registered container, or a path; typed. */
static void test_links(void)
{
    GError *err = NULL;
    BusState *bus = qbus_new(TYPE_TEST_BUS, NULL, "tb.0");
    Object *peer = object_new(TYPE_TEST_LEAF);
    Object *wrong = object_new(TYPE_TEST_MID);
    TestDev *s;
    g_autofree char *path = NULL;
    bool found;

    object_register_link_container(TYPE_TEST_LEAF, "/test-peers");
    object_property_add_child(container_get(object_get_root(), "/test-peers"),
                              "p0", peer);
    object_property_add_child(container_get(object_get_root(), "/test-peers"),
                              "m0", wrong);
    object_unref(wrong);
    g_assert_cmpstr(object_get_id(peer), ==, "p0");

    s = add("test-dev", "id=l0,peer=p0", &err);
    g_assert_no_error(err);
    g_assert_true(s->peer == peer);
    g_assert_cmpuint(peer->refcount, ==, 3); /* mine, the tree, the link */
    path = object_property_print(OBJECT(s), "peer", &found);
    g_assert_cmpstr(path, ==, "/test-peers/p0");
    object_unparent(OBJECT(s));
    g_assert_cmpuint(peer->refcount, ==, 2);

    s = add("test-dev", "peer=/test-peers/p0", &err);
    g_assert_no_error(err);
    g_assert_true(s->peer == peer);
    object_unparent(OBJECT(s));

    g_assert_null(add("test-dev", "peer=nope", &err));
    g_assert_cmpstr(err->message, ==,
                    "Property 'test-dev.peer' can't find value 'nope'");
    g_clear_error(&err);
    g_assert_null(add("test-dev", "peer=m0", &err));
    g_assert_cmpstr(err->message, ==, "Invalid parameter type for 'peer', "
                    "expected: test-leaf ('m0' is a test-mid)");
    g_clear_error(&err);

    object_unparent(peer);
    object_unref(peer);
    object_unparent(container_get(object_get_root(), "/test-peers"));
    object_unparent(OBJECT(bus));
}

/* ---- buses ---- */

static void test_bus_placement(void)
{
    GError *err = NULL;
    BusState *other = qbus_new(TYPE_OTHER_BUS, NULL, "ob.0");
    BusState *b0, *b1;
    TestDev *s;
    g_autofree char *path = NULL;

    /* No bus of the device's type at all. */
    g_assert_null(add("test-dev", "", &err));
    g_assert_cmpstr(err->message, ==,
                    "No 'test-bus' bus found for device 'test-dev'");
    g_clear_error(&err);

    b0 = qbus_new(TYPE_TEST_BUS, NULL, "tb.0");
    b1 = qbus_new(TYPE_TEST_BUS, NULL, "tb.1");
    /* Without bus=: the first bus of the type. */
    s = add("test-dev", "id=d0", &err);
    g_assert_no_error(err);
    g_assert_true(DEVICE(s)->parent_bus == b0);
    g_assert_cmpuint(b0->children->len, ==, 1);
    path = object_get_canonical_path(OBJECT(s));
    g_assert_cmpstr(path, ==, "/machine/peripheral/d0");
    object_unparent(OBJECT(s));
    g_assert_cmpuint(b0->children->len, ==, 0);

    s = add("test-dev", "bus=tb.1", &err);
    g_assert_no_error(err);
    g_assert_true(DEVICE(s)->parent_bus == b1);
    g_clear_pointer(&path, g_free);
    path = object_get_canonical_path(OBJECT(s));
    g_assert_true(g_str_has_prefix(path, "/machine/peripheral-anon/device["));
    object_unparent(OBJECT(s));

    g_assert_null(add("test-dev", "bus=nope.0", &err));
    g_assert_cmpstr(err->message, ==, "Bus 'nope.0' not found");
    g_clear_error(&err);
    g_assert_null(add("test-dev", "bus=ob.0", &err));
    g_assert_cmpstr(err->message, ==,
                    "Device 'test-dev' can't go on other-bus bus");
    g_clear_error(&err);
    /* addr= is a property of PCI devices only. */
    g_assert_null(add("test-dev", "addr=3", &err));
    g_assert_nonnull(strstr(err->message,
                            "device 'test-dev' has no property 'addr'"));
    g_clear_error(&err);
    g_assert_cmpuint(other->children->len, ==, 0);

    object_unparent(OBJECT(b0));
    object_unparent(OBJECT(b1));
    object_unparent(OBJECT(other));
}

/* A bus owned by a device is its child, named, and goes with it. */
static void test_child_bus(void)
{
    GError *err = NULL;
    BusState *b0 = qbus_new(TYPE_TEST_BUS, NULL, "tb.0");
    TestDev *s = add("test-dev", "id=host", &err);
    BusState *sub = qbus_new(TYPE_OTHER_BUS, DEVICE(s), "sub.0");
    g_autofree char *path = object_get_canonical_path(OBJECT(sub));

    g_assert_cmpstr(path, ==, "/machine/peripheral/host/sub.0");
    g_assert_true(qbus_find("sub.0") == sub);
    g_assert_true(qbus_find("/machine/peripheral/host/sub.0") == sub);
    object_unparent(OBJECT(s));
    g_assert_null(qbus_find("sub.0"));
    object_unparent(OBJECT(b0));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/object/class/order", test_class_order);
    g_test_add_func("/object/class/casts", test_casts);
    g_test_add_func("/object/class/cast-abort", test_cast_abort);
    g_test_add_func("/object/tree/paths", test_tree);
    g_test_add_func("/object/props/defaults", test_props);
    g_test_add_func("/object/props/inheritance", test_inheritance);
    g_test_add_func("/object/props/errors", test_prop_errors);
    g_test_add_func("/object/props/links", test_links);
    g_test_add_func("/object/id/duplicate", test_duplicate_id);
    g_test_add_func("/object/bus/placement", test_bus_placement);
    g_test_add_func("/object/bus/child", test_child_bus);
    return g_test_run();
}
