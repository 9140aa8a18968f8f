/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmstate walker: every field type and array form, the exact wire
 * encoding, variable-array maxima, versions, subsections, hooks and their
 * order, descriptor fields, and errors that name the description and field.
 */
#include "util/osdep.h"

#include <sys/socket.h>

#include "migration/stream.h"
#include "migration/vmstate.h"

typedef struct Inner {
    uint16_t a;
    uint32_t b;
} Inner;

typedef struct All {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    bool flag;
    uint8_t buf[5];
    uint16_t arr16[2];
    uint32_t arr32[3];
    uint64_t arr64[2];
    uint32_t nvar;
    uint8_t var[8];
    uint32_t nvar64;
    uint64_t var64[4];
    Inner inner;
    Inner inners[2];
    uint32_t ninner;
    Inner vinner[3];
} All;

/* The type-check macros evaluate to 0 for matching types. */
G_STATIC_ASSERT(VMSTATE_TYPE_CHECK(All, u32, uint32_t) == 0);
G_STATIC_ASSERT(VMSTATE_ARRAY_CHECK(All, var, uint8_t, 8) == 0);
#ifdef TEST_VMSTATE_BAD_TYPE
/* Must not compile: u16 is not a uint32_t (build by hand to check). */
static const VMStateField bad_field = VMSTATE_UINT32(u16, All);
#endif

static bool inner_post_load(void *opaque, int version_id, GError **errp)
{
    Inner *in = opaque;

    if (in->a == 0xdead) {
        error_setg(errp, "a %u is reserved", in->a);
        return false;
    }
    return true;
}

static const VMStateField vmstate_inner_fields[] = {
    VMSTATE_UINT16(a, Inner),
    VMSTATE_UINT32(b, Inner),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_inner = {
    .name = "inner",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = inner_post_load,
    .fields = vmstate_inner_fields,
};

static const VMStateField vmstate_all_fields[] = {
    VMSTATE_UINT8(u8, All),
    VMSTATE_UINT16(u16, All),
    VMSTATE_UINT32(u32, All),
    VMSTATE_UINT64(u64, All),
    VMSTATE_INT8(i8, All),
    VMSTATE_INT16(i16, All),
    VMSTATE_INT32(i32, All),
    VMSTATE_INT64(i64, All),
    VMSTATE_BOOL(flag, All),
    VMSTATE_BUFFER(buf, All, 5),
    VMSTATE_UINT16_ARRAY(arr16, All, 2),
    VMSTATE_UINT32_ARRAY(arr32, All, 3),
    VMSTATE_UINT64_ARRAY(arr64, All, 2),
    VMSTATE_UINT8_VARRAY(var, All, nvar, 8),
    VMSTATE_UINT64_VARRAY(var64, All, nvar64, 4),
    VMSTATE_STRUCT(inner, All, vmstate_inner, Inner),
    VMSTATE_STRUCT_ARRAY(inners, All, 2, vmstate_inner, Inner),
    VMSTATE_STRUCT_VARRAY(vinner, All, ninner, 3, vmstate_inner, Inner),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_all = {
    .name = "test-all",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_all_fields,
};

static void all_fill(All *s)
{
    memset(s, 0, sizeof(*s));
    s->u8 = 0x81;
    s->u16 = 0x8283;
    s->u32 = 0x84858687;
    s->u64 = 0x88898a8b8c8d8e8full;
    s->i8 = -2;
    s->i16 = -300;
    s->i32 = -70000;
    s->i64 = -5000000000ll;
    s->flag = true;
    memcpy(s->buf, "hello", 5);
    s->arr16[0] = 1;
    s->arr16[1] = 0xffff;
    s->arr32[2] = 0x12345678;
    s->arr64[1] = UINT64_MAX;
    s->nvar = 3;
    memcpy(s->var, "xyz", 3);
    s->nvar64 = 2;
    s->var64[0] = 42;
    s->var64[1] = 43;
    s->inner.a = 7;
    s->inner.b = 8;
    s->inners[1].a = 9;
    s->ninner = 2;
    s->vinner[0].b = 10;
    s->vinner[1].a = 11;
}

/* Save with VMSD into memory; returns the bytes (free with g_free). */
static uint8_t *save_mem(const VMStateDescription *vmsd, void *opaque,
                         size_t *len)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    const uint8_t *data;

    g_assert_true(vmstate_save(w, vmsd, opaque, &err));
    g_assert_no_error(err);
    data = mig_stream_mem_data(w, len);
    return g_memdup2(data, *len);
}

/* Load BUF fully; on success the whole input must have been consumed. */
static bool load_mem(const VMStateDescription *vmsd, void *opaque, int version,
                     const void *buf, size_t len, GError **errp)
{
    g_autoptr(MigStream) r = mig_stream_new_mem_reader(buf, len, NULL, 0);

    if (!vmstate_load(r, vmsd, opaque, version, errp)) {
        return false;
    }
    g_assert_true(mig_stream_eof(r));
    return true;
}

static void test_all_types_roundtrip(void)
{
    All src, dst;
    g_autofree uint8_t *buf = NULL;
    g_autoptr(GError) err = NULL;
    size_t len;

    all_fill(&src);
    buf = save_mem(&vmstate_all, &src, &len);
    memset(&dst, 0x5a, sizeof(dst));
    /* Unused varray slots keep what they had: copy them for the compare. */
    memcpy(dst.var + 3, src.var + 3, 5);
    memcpy(dst.var64 + 2, src.var64 + 2, 16);
    memcpy(&dst.vinner[2], &src.vinner[2], sizeof(Inner));
    g_assert_true(load_mem(&vmstate_all, &dst, 1, buf, len, &err));
    g_assert_no_error(err);
#define SAME(f) g_assert_cmpmem(&dst.f, sizeof(dst.f), &src.f, sizeof(src.f))
    SAME(u8);
    SAME(u16);
    SAME(u32);
    SAME(u64);
    SAME(i8);
    SAME(i16);
    SAME(i32);
    SAME(i64);
    SAME(flag);
    SAME(buf);
    SAME(arr16);
    SAME(arr32);
    SAME(arr64);
    SAME(nvar);
    SAME(var);
    SAME(nvar64);
    SAME(var64);
    SAME(ninner);
#undef SAME
    for (int i = 0; i < 3; i++) {
        const Inner *a = i == 0 ? &dst.inner : &dst.inners[i - 1];
        const Inner *b = i == 0 ? &src.inner : &src.inners[i - 1];

        g_assert_cmpuint(a->a, ==, b->a);
        g_assert_cmpuint(a->b, ==, b->b);
        g_assert_cmpuint(dst.vinner[i].a, ==, src.vinner[i].a);
        g_assert_cmpuint(dst.vinner[i].b, ==, src.vinner[i].b);
    }
}

typedef struct Small {
    uint16_t a;
    bool b;
    uint32_t n;
    uint8_t v[4];
    int fd;
    uint32_t late;
    uint64_t extra;
} Small;

static bool small_extra_needed(void *opaque)
{
    return ((Small *)opaque)->extra != 0;
}

static const VMStateField vmstate_small_extra_fields[] = {
    VMSTATE_UINT64(extra, Small),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_small_extra = {
    .name = "small/extra",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = small_extra_needed,
    .fields = vmstate_small_extra_fields,
};

static const VMStateField vmstate_small_fields[] = {
    VMSTATE_UINT16(a, Small),
    VMSTATE_BOOL(b, Small),
    VMSTATE_UINT8_VARRAY(v, Small, n, 4),
    VMSTATE_UINT32_V(late, Small, 2),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription *const vmstate_small_subsections[] = {
    &vmstate_small_extra,
    NULL,
};

static const VMStateDescription vmstate_small = {
    .name = "small",
    .version_id = 2,
    .minimum_version_id = 1,
    .fields = vmstate_small_fields,
    .subsections = vmstate_small_subsections,
};

/* The same layout as version 1 wrote it: no 'late'. */
static const VMStateField vmstate_small_v1_fields[] = {
    VMSTATE_UINT16(a, Small),
    VMSTATE_BOOL(b, Small),
    VMSTATE_UINT8_VARRAY(v, Small, n, 4),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_small_v1 = {
    .name = "small",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_small_v1_fields,
};

static void test_wire_encoding(void)
{
    Small s = {.a = 0x1234,
               .b = true,
               .n = 2,
               .v = {0xaa, 0xbb},
               .late = 0xcafef00d,
               .extra = 0x0102030405060708ull};
    static const uint8_t want[] = {
        0x12, 0x34,             /* a */
        0x01,                   /* b */
        0x00, 0x00, 0x00, 0x02, /* count of v */
        0xaa, 0xbb,             /* v */
        0xca, 0xfe, 0xf0, 0x0d, /* late */
        0x01, 11,   's',  'm',  'a',  'l',  'l',  '/',  'e',  'x',
        't',  'r',  'a',  0x00, 0x00, 0x00, 0x01, /* subsection version */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, /* subsection-list
                                                                 end (of
                                                                 small/extra) */
        0x00, /* subsection-list end (of small) */
    };
    g_autofree uint8_t *buf = NULL;
    size_t len;

    buf = save_mem(&vmstate_small, &s, &len);
    g_assert_cmpmem(buf, len, want, sizeof(want));

    /* Not needed: not sent, the list ends at once. */
    s.extra = 0;
    g_free(buf);
    buf = save_mem(&vmstate_small, &s, &len);
    g_assert_cmpuint(len, ==, 14);
    g_assert_cmpmem(buf, 13, want, 13);
    g_assert_cmpuint(buf[13], ==, 0);
}

static void test_subsections(void)
{
    Small s = {.a = 1, .n = 1, .extra = 77}, d = {0};
    g_autofree uint8_t *buf = NULL;
    g_autoptr(GError) err = NULL;
    size_t len;

    buf = save_mem(&vmstate_small, &s, &len);
    g_assert_true(load_mem(&vmstate_small, &d, 2, buf, len, &err));
    g_assert_cmpuint(d.extra, ==, 77);

    /* Missing from the stream: the destination keeps its value. */
    s.extra = 0;
    d.extra = 5;
    g_free(buf);
    buf = save_mem(&vmstate_small, &s, &len);
    g_assert_true(load_mem(&vmstate_small, &d, 2, buf, len, &err));
    g_assert_cmpuint(d.extra, ==, 5);

    s.extra = 1;
    g_free(buf);
    buf = save_mem(&vmstate_small, &s, &len);
    {
        /* Rename the subsection in the stream: 'small/extrb'. */
        uint8_t *p = memmem(buf, len, "small/extra", 11);

        g_assert_nonnull(p);
        p[10] = 'b';
        g_assert_false(load_mem(&vmstate_small, &d, 2, buf, len, &err));
        g_assert_cmpstr(err->message, ==,
                        "small: unknown subsection 'small/extrb'");
        g_clear_error(&err);
        p[10] = 'a';
        /* Subsection version 2 is newer than the description's 1. */
        p[14] = 2;
        g_assert_false(load_mem(&vmstate_small, &d, 2, buf, len, &err));
        g_assert_cmpstr(err->message, ==,
                        "small.small/extra: unsupported "
                        "version 2 (accepted 1 to 1)");
        g_clear_error(&err);
        p[14] = 1;
        /* A marker that is neither 0 nor 1. */
        p[-2] = 7;
        g_assert_false(load_mem(&vmstate_small, &d, 2, buf, len, &err));
        g_assert_cmpstr(err->message, ==,
                        "small: invalid subsection marker 0x07");
    }
}

static void test_versions(void)
{
    Small s = {.a = 3, .b = true, .n = 1, .v = {9}, .late = 44};
    Small d = {.late = 1234};
    g_autofree uint8_t *v1 = NULL;
    g_autoptr(GError) err = NULL;
    size_t len;

    /* A version-1 stream loads; the version-2 field keeps its value. */
    v1 = save_mem(&vmstate_small_v1, &s, &len);
    g_assert_true(load_mem(&vmstate_small, &d, 1, v1, len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(d.a, ==, 3);
    g_assert_cmpuint(d.v[0], ==, 9);
    g_assert_cmpuint(d.late, ==, 1234);

    g_assert_false(load_mem(&vmstate_small, &d, 3, v1, len, &err));
    g_assert_cmpstr(err->message, ==,
                    "small: unsupported version 3 (accepted 1 to 2)");
    g_clear_error(&err);
    g_assert_false(load_mem(&vmstate_small, &d, 0, v1, len, &err));
    g_assert_cmpstr(err->message, ==,
                    "small: unsupported version 0 (accepted 1 to 2)");
}

static void test_varray_max(void)
{
    Small s = {.n = 5}, d = {.n = 1};
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    static const uint8_t over[] = {
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x09,
    };
    static const uint8_t short_data[] = {
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0xaa,
    };

    /* The source refuses to send a count over the maximum. */
    g_assert_false(vmstate_save(w, &vmstate_small, &s, &err));
    g_assert_cmpstr(err->message, ==,
                    "small: field 'v': count 5 exceeds maximum 4");
    g_clear_error(&err);

    /* The destination checks before storing the count. */
    g_assert_false(load_mem(&vmstate_small, &d, 2, over, sizeof(over), &err));
    g_assert_cmpstr(err->message, ==,
                    "small: field 'v': count 9 exceeds maximum 4");
    g_assert_cmpuint(d.n, ==, 1);
    g_clear_error(&err);

    /* A count within the maximum but beyond the data that is left. */
    g_assert_false(
        load_mem(&vmstate_small, &d, 2, short_data, sizeof(short_data), &err));
    g_assert_cmpstr(err->message, ==,
                    "small: field 'v': count 4 needs 4 bytes, only 1 left");
    g_assert_cmpuint(d.n, ==, 1);
}

static void test_bad_bool(void)
{
    Small d = {0};
    g_autoptr(GError) err = NULL;
    static const uint8_t data[] = {
        0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };

    g_assert_false(load_mem(&vmstate_small, &d, 2, data, sizeof(data), &err));
    g_assert_cmpstr(err->message, ==, "small: field 'b': invalid bool value 2");
}

static void test_truncated(void)
{
    All s;
    g_autofree uint8_t *buf = NULL;
    size_t len;

    all_fill(&s);
    buf = save_mem(&vmstate_all, &s, &len);
    for (size_t n = 0; n < len; n++) {
        g_autoptr(GError) err = NULL;
        All d = {0};

        g_assert_false(load_mem(&vmstate_all, &d, 1, buf, n, &err));
        g_assert_nonnull(err);
        g_assert_true(g_str_has_prefix(err->message, "test-all"));
        /* Cut inside a variable array: caught before reading it. */
        g_assert_true(strstr(err->message, "unexpected end of stream") ||
                      strstr(err->message, " left"));
    }
}

static void test_nested_error_path(void)
{
    All s, d;
    g_autofree uint8_t *buf = NULL;
    g_autoptr(GError) err = NULL;
    size_t len;

    all_fill(&s);
    s.inners[1].a = 0xdead;
    buf = save_mem(&vmstate_all, &s, &len);
    g_assert_false(load_mem(&vmstate_all, &d, 1, buf, len, &err));
    g_assert_cmpstr(err->message, ==, "test-all.inner[1]: a 57005 is reserved");
    g_clear_error(&err);

    all_fill(&s);
    s.inner.a = 0xdead;
    g_free(buf);
    buf = save_mem(&vmstate_all, &s, &len);
    g_assert_false(load_mem(&vmstate_all, &d, 1, buf, len, &err));
    g_assert_cmpstr(err->message, ==, "test-all.inner: a 57005 is reserved");
}

/* Hooks: order and rejection. */
typedef struct Hooked {
    uint32_t x;
    uint32_t derived;
    uint32_t sub;
    bool reject;
} Hooked;

static GString *hook_log;

static bool hooked_pre_save(void *opaque, GError **errp)
{
    Hooked *h = opaque;

    g_string_append(hook_log, "pre_save,");
    h->x = h->derived / 2;
    return true;
}

static bool hooked_pre_load(void *opaque, GError **errp)
{
    g_string_append(hook_log, "pre_load,");
    return true;
}

static bool hooked_post_load(void *opaque, int version_id, GError **errp)
{
    Hooked *h = opaque;

    g_string_append_printf(hook_log, "post_load(v%d,sub=%u),", version_id,
                           h->sub);
    if (h->x > 100) {
        error_setg(errp, "x %u is out of range", h->x);
        return false;
    }
    h->derived = h->x * 2;
    return true;
}

static bool hooked_sub_needed(void *opaque)
{
    g_string_append(hook_log, "needed,");
    return true;
}

static bool hooked_sub_post_load(void *opaque, int version_id, GError **errp)
{
    g_string_append(hook_log, "sub_post_load,");
    return true;
}

static const VMStateField vmstate_hooked_sub_fields[] = {
    VMSTATE_UINT32(sub, Hooked),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_hooked_sub = {
    .name = "hooked/sub",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = hooked_sub_needed,
    .post_load = hooked_sub_post_load,
    .fields = vmstate_hooked_sub_fields,
};

static const VMStateField vmstate_hooked_fields[] = {
    VMSTATE_UINT32(x, Hooked),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription *const vmstate_hooked_subsections[] = {
    &vmstate_hooked_sub,
    NULL,
};

static const VMStateDescription vmstate_hooked = {
    .name = "hooked",
    .version_id = 3,
    .minimum_version_id = 1,
    .pre_save = hooked_pre_save,
    .pre_load = hooked_pre_load,
    .post_load = hooked_post_load,
    .fields = vmstate_hooked_fields,
    .subsections = vmstate_hooked_subsections,
};

static void test_hooks(void)
{
    Hooked s = {.derived = 40, .sub = 6}, d = {0};
    g_autofree uint8_t *buf = NULL;
    g_autoptr(GError) err = NULL;
    size_t len;

    hook_log = g_string_new(NULL);
    buf = save_mem(&vmstate_hooked, &s, &len);
    g_assert_cmpstr(hook_log->str, ==, "pre_save,needed,");
    g_string_truncate(hook_log, 0);
    g_assert_true(load_mem(&vmstate_hooked, &d, 3, buf, len, &err));
    g_assert_cmpstr(hook_log->str, ==,
                    "pre_load,sub_post_load,post_load(v3,sub=6),");
    g_assert_cmpuint(d.x, ==, 20);
    g_assert_cmpuint(d.derived, ==, 40);

    /* post_load rejects: the error names the description. */
    s.derived = 400;
    g_free(buf);
    buf = save_mem(&vmstate_hooked, &s, &len);
    g_assert_false(load_mem(&vmstate_hooked, &d, 2, buf, len, &err));
    g_assert_cmpstr(err->message, ==, "hooked: x 200 is out of range");
    g_string_free(hook_log, TRUE);
    hook_log = NULL;
}

/* Descriptor fields travel out of band. */
static const VMStateField vmstate_fdholder_fields[] = {
    VMSTATE_UINT16(a, Small),
    VMSTATE_FD(fd, Small),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fdholder = {
    .name = "fdholder",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_fdholder_fields,
};

static void test_fd_field(void)
{
    g_autoptr(MigStream) mem = mig_stream_new_mem_writer();
    g_autoptr(MigStream) w = NULL;
    g_autoptr(MigStream) r = NULL;
    g_autoptr(GError) err = NULL;
    Small s = {.a = 5}, d = {.fd = -7};
    int p[2], sv[2];
    char c = 0;
    g_autofree uint8_t *none = NULL;
    size_t len;

    g_assert_cmpint(pipe(p), ==, 0);
    s.fd = p[1];
    /* A memory stream cannot carry it: the error names the field. */
    g_assert_false(vmstate_save(mem, &vmstate_fdholder, &s, &err));
    g_assert_cmpstr(err->message, ==,
                    "fdholder: field 'fd': cannot pass "
                    "file descriptors over this channel");
    g_clear_error(&err);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    w = mig_stream_new_fd(sv[1], true, true, "w");
    r = mig_stream_new_fd(sv[0], false, true, "r");
    g_assert_true(vmstate_save(w, &vmstate_fdholder, &s, &err));
    g_assert_true(mig_stream_flush(w));
    g_assert_true(vmstate_load(r, &vmstate_fdholder, &d, 1, &err));
    g_assert_no_error(err);
    g_assert_cmpint(d.a, ==, 5);
    g_assert_cmpint(d.fd, >=, 0);
    g_assert_cmpint(d.fd, !=, p[1]);
    g_assert_cmpint(write(d.fd, "q", 1), ==, 1);
    g_assert_cmpint(read(p[0], &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'q');
    close(d.fd);

    /* -1 needs no descriptor, even on a memory stream. */
    s.fd = -1;
    none = save_mem(&vmstate_fdholder, &s, &len);
    d.fd = 3;
    g_assert_true(load_mem(&vmstate_fdholder, &d, 1, none, len, &err));
    g_assert_cmpint(d.fd, ==, -1);

    /* A stream that says "descriptor" but has none to give. */
    none[2] = 1;
    g_assert_false(load_mem(&vmstate_fdholder, &d, 1, none, len, &err));
    g_assert_cmpstr(err->message, ==,
                    "fdholder: field 'fd': expected a file "
                    "descriptor, none was received");
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/migration/vmstate/all-types", test_all_types_roundtrip);
    g_test_add_func("/migration/vmstate/wire-encoding", test_wire_encoding);
    g_test_add_func("/migration/vmstate/subsections", test_subsections);
    g_test_add_func("/migration/vmstate/versions", test_versions);
    g_test_add_func("/migration/vmstate/varray-max", test_varray_max);
    g_test_add_func("/migration/vmstate/bad-bool", test_bad_bool);
    g_test_add_func("/migration/vmstate/truncated", test_truncated);
    g_test_add_func("/migration/vmstate/nested-error-path",
                    test_nested_error_path);
    g_test_add_func("/migration/vmstate/hooks", test_hooks);
    g_test_add_func("/migration/vmstate/fd-field", test_fd_field);
    return g_test_run();
}
