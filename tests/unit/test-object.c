/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The type registry and property application: defaults, inheritance,
 * typed parsing, unknown and missing keys, id namespaces.
 */
#include "util/osdep.h"

#include "hw/core/object.h"

typedef struct TestDev {
    Object parent_obj;

    char *name;
    bool flag;
    uint8_t small;
    uint32_t word;
    uint64_t size;

    int realized_count;
} TestDev;

static const Property test_props[] = {
    DEFINE_PROP("name", PROP_STRING, TestDev, name, .defval = "dflt"),
    DEFINE_PROP("flag", PROP_BOOL, TestDev, flag),
    DEFINE_PROP("small", PROP_UINT8, TestDev, small, .defval = "7"),
    DEFINE_PROP("word", PROP_UINT32, TestDev, word),
    DEFINE_PROP("size", PROP_SIZE, TestDev, size),
    { NULL }
};

static const Property test_sub_props[] = {
    DEFINE_PROP("small", PROP_UINT8, TestDev, small, .defval = "9"),
    DEFINE_PROP("word", PROP_UINT32, TestDev, word, .required = true),
    { NULL }
};

static bool test_realize(Object *obj, GError **errp)
{
    TestDev *s = (TestDev *)obj;

    if (s->word == 666) {
        error_setg(errp, "word 666 refused");
        return false;
    }
    s->realized_count++;
    return true;
}

static const TypeInfo test_types[] = {
    {
        .name = "test-dev",
        .stateless = true,
        .parent = TYPE_DEVICE,
        .user_creatable = true,
        .instance_size = sizeof(TestDev),
        .props = test_props,
        .realize = test_realize,
    },
    {
        .name = "test-sub",
        .parent = "test-dev",
        .instance_size = sizeof(TestDev),
        .props = test_sub_props,
    },
};

static void register_test_types(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(test_types); i++) {
        type_register(&test_types[i]);
    }
}
type_init(register_test_types)

static Object *create(const char *type, const char *str, GError **errp)
{
    g_autoptr(OptList) opts = opts_parse(str, NULL, NULL);

    g_assert_nonnull(opts);
    return object_create(type, opts, NULL, errp);
}

static void test_defaults_and_props(void)
{
    GError *err = NULL;
    TestDev *s = (TestDev *)create("test-dev",
                                   "id=a,flag=on,word=0x10,size=2M", &err);

    g_assert_no_error(err);
    g_assert_cmpstr(s->name, ==, "dflt");
    g_assert_true(s->flag);
    g_assert_cmpuint(s->small, ==, 7);
    g_assert_cmpuint(s->word, ==, 16);
    g_assert_cmpuint(s->size, ==, 2 * 1024 * 1024);
    g_assert_cmpint(s->realized_count, ==, 1);
    g_assert_true(object_find(TYPE_DEVICE, "a") == &s->parent_obj);
    object_destroy(&s->parent_obj);
    g_assert_null(object_find(TYPE_DEVICE, "a"));
}

static void test_inheritance(void)
{
    GError *err = NULL;
    TestDev *s = (TestDev *)create("test-sub", "id=b,word=3,name=x", &err);

    g_assert_no_error(err);
    g_assert_cmpuint(s->small, ==, 9);      /* subtype default wins */
    g_assert_cmpstr(s->name, ==, "x");      /* parent property */
    g_assert_cmpint(s->realized_count, ==, 1); /* parent realize */
    g_assert_true(type_is_a(s->parent_obj.type, TYPE_DEVICE));
    g_assert_false(type_is_a(s->parent_obj.type, TYPE_CHARDEV));
    object_destroy(&s->parent_obj);
}

static void test_errors(void)
{
    GError *err = NULL;

    g_assert_null(create("test-dev", "frob=1", &err));
    g_assert_nonnull(strstr(err->message, "no property 'frob'"));
    g_assert_nonnull(strstr(err->message, "word"));
    g_clear_error(&err);

    g_assert_null(create("test-dev", "small=256", &err));
    g_assert_nonnull(strstr(err->message, "small"));
    g_clear_error(&err);

    g_assert_null(create("test-dev", "flag=maybe", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'flag' expects 'on' or 'off'");
    g_clear_error(&err);

    g_assert_null(create("test-dev", "size=1X", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'size' expects a size value");
    g_clear_error(&err);

    g_assert_null(create("test-sub", "name=y", &err));
    g_assert_cmpstr(err->message, ==, "Parameter 'word' is missing");
    g_clear_error(&err);

    g_assert_null(create("test-dev", "word=666", &err));
    g_assert_cmpstr(err->message, ==, "word 666 refused");
    g_clear_error(&err);

    g_assert_null(create("no-such-type", "", &err));
    g_clear_error(&err);

    g_assert_null(create(TYPE_DEVICE, "", &err));
    g_assert_nonnull(strstr(err->message, "abstract"));
    g_clear_error(&err);
}

static void test_duplicate_id(void)
{
    GError *err = NULL;
    Object *a = create("test-dev", "id=dup", &err);

    g_assert_no_error(err);
    g_assert_null(create("test-dev", "id=dup", &err));
    g_assert_cmpstr(err->message, ==, "Duplicate ID 'dup' for device");
    g_clear_error(&err);
    object_destroy(a);
}

static void test_type_list(void)
{
    g_autoptr(GPtrArray) list = type_list();
    bool seen = false;

    for (guint i = 0; i < list->len; i++) {
        const TypeInfo *t = g_ptr_array_index(list, i);

        if (i > 0) {
            const TypeInfo *prev = g_ptr_array_index(list, i - 1);

            g_assert_cmpint(strcmp(prev->name, t->name), <, 0);
        }
        seen |= !strcmp(t->name, "test-sub");
    }
    g_assert_true(seen);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/object/props/defaults", test_defaults_and_props);
    g_test_add_func("/object/props/inheritance", test_inheritance);
    g_test_add_func("/object/props/errors", test_errors);
    g_test_add_func("/object/id/duplicate", test_duplicate_id);
    g_test_add_func("/object/types/list", test_type_list);
    return g_test_run();
}
