/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * savevm: the section registry and the record format end to end — a full
 * save/load with vmstate sections and a fake live section (over memory and
 * a socketpair, with record splitting and descriptor passing), and a
 * loader that fails cleanly on every corruption, truncation and
 * hand-crafted inconsistency, and whose sections' memory map changes
 * reach the listeners once per load.
 */
#include "util/osdep.h"

#include <sys/socket.h>

#include "../../migration/savevm.h"
#include "migration/register.h"
#include "migration/stream.h"
#include "migration/vmstate.h"
#include "system/memory.h"
#include "system/runstate.h"
#include "util/crc32c.h"

#include "memory-test.h"

/* ---- two vmstate devices ---- */

typedef struct Nested {
    uint16_t lo;
    uint16_t hi;
} Nested;

typedef struct DevA {
    uint32_t regs[4];
    uint32_t nfifo;
    uint8_t fifo[16];
    Nested nested;
    uint64_t extra;
} DevA;

typedef struct DevB {
    uint16_t x;
    bool on;
    int fd;
} DevB;

static const VMStateField vmstate_nested_fields[] = {
    VMSTATE_UINT16(lo, Nested),
    VMSTATE_UINT16(hi, Nested),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_nested = {
    .name = "nested",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_nested_fields,
};

static bool deva_extra_needed(void *opaque)
{
    return ((DevA *)opaque)->extra != 0;
}

static const VMStateField vmstate_deva_extra_fields[] = {
    VMSTATE_UINT64(extra, DevA),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_deva_extra = {
    .name = "dev-a/extra",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = deva_extra_needed,
    .fields = vmstate_deva_extra_fields,
};

static const VMStateField vmstate_deva_fields[] = {
    VMSTATE_UINT32_ARRAY(regs, DevA, 4),
    VMSTATE_UINT8_VARRAY(fifo, DevA, nfifo, 16),
    VMSTATE_STRUCT(nested, DevA, vmstate_nested, Nested),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription *const vmstate_deva_subsections[] = {
    &vmstate_deva_extra,
    NULL,
};

static const VMStateDescription vmstate_deva = {
    .name = "dev-a",
    .version_id = 2,
    .minimum_version_id = 1,
    .fields = vmstate_deva_fields,
    .subsections = vmstate_deva_subsections,
};

static const VMStateField vmstate_devb_fields[] = {
    VMSTATE_UINT16(x, DevB),
    VMSTATE_BOOL(on, DevB),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_devb = {
    .name = "dev-b",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_devb_fields,
};

static const VMStateField vmstate_fddev_fields[] = {
    VMSTATE_UINT16(x, DevB),
    VMSTATE_FD(fd, DevB),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_fddev = {
    .name = "fd-dev",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = vmstate_fddev_fields,
};

/* ---- a fake live section: RAM-like chunks over several passes ---- */

typedef struct FakeRam {
    uint8_t *src;
    uint8_t *dst;
    uint64_t size;
    uint64_t sent;   /* first pass progress */
    bool resend_all; /* save_complete sends everything again */
    bool active;
    bool saw_ignore_shared;
    int setups, cleanups, load_setups, load_cleanups, records;
} FakeRam;

#define FAKE_CHUNK (64 * 1024)

static void fake_put_chunk(MigStream *f, FakeRam *r, uint64_t off, uint32_t len)
{
    mig_put_u8(f, 1);
    mig_put_be64(f, off);
    mig_put_be32(f, len);
    mig_put_buffer(f, r->src + off, len);
}

static bool fake_save_setup(MigStream *f, void *opaque, GError **errp)
{
    FakeRam *r = opaque;

    r->setups++;
    r->sent = 0;
    r->saw_ignore_shared = savevm_options()->ignore_shared;
    mig_put_u8(f, 2);
    mig_put_be64(f, r->size);
    return true;
}

static int fake_save_iterate(MigStream *f, void *opaque, GError **errp)
{
    FakeRam *r = opaque;

    /* At most four chunks (256 KiB) per call. */
    for (int i = 0; i < 4 && r->sent < r->size; i++) {
        uint32_t len = MIN(FAKE_CHUNK, r->size - r->sent);

        fake_put_chunk(f, r, r->sent, len);
        r->sent += len;
    }
    return r->sent == r->size ? 1 : 0;
}

static uint64_t fake_save_pending(void *opaque, bool sync)
{
    FakeRam *r = opaque;

    return r->size - r->sent;
}

static bool fake_save_complete(MigStream *f, void *opaque, GError **errp)
{
    FakeRam *r = opaque;

    if (r->resend_all) {
        for (uint64_t off = 0; off < r->size; off += FAKE_CHUNK) {
            fake_put_chunk(f, r, off, MIN(FAKE_CHUNK, r->size - off));
            if (!savevm_live_split(f)) {
                return false;
            }
        }
    }
    mig_put_u8(f, 3);
    return true;
}

static void fake_save_cleanup(void *opaque)
{
    ((FakeRam *)opaque)->cleanups++;
}

static bool fake_load_setup(void *opaque, GError **errp)
{
    ((FakeRam *)opaque)->load_setups++;
    return true;
}

static void fake_load_cleanup(void *opaque)
{
    ((FakeRam *)opaque)->load_cleanups++;
}

static bool fake_load_state(MigStream *f, void *opaque, int version_id,
                            GError **errp)
{
    FakeRam *r = opaque;

    g_assert_true(bql_locked());
    g_assert_cmpint(version_id, ==, 3);
    r->records++;
    while (mig_stream_remaining(f) > 0) {
        uint8_t tag = mig_get_u8(f);
        uint64_t off, size;
        uint32_t len;

        switch (tag) {
        case 1:
            off = mig_get_be64(f);
            len = mig_get_be32(f);
            if (off > r->size || len > r->size - off) {
                error_setg(errp, "chunk 0x%" PRIx64 "+0x%x out of range", off,
                           len);
                return false;
            }
            mig_get_buffer(f, r->dst + off, len);
            break;
        case 2:
            size = mig_get_be64(f);
            if (size != r->size) {
                error_setg(errp, "size %" PRIu64 " differs from ours", size);
                return false;
            }
            break;
        case 3:
            break;
        default:
            error_setg(errp, "bad tag %u", tag);
            return false;
        }
        if (mig_stream_error(f)) {
            return false;
        }
    }
    return true;
}

static bool fake_is_active(void *opaque)
{
    return ((FakeRam *)opaque)->active;
}

static const SaveVMHandlers fake_ram_ops = {
    .save_setup = fake_save_setup,
    .save_iterate = fake_save_iterate,
    .save_pending = fake_save_pending,
    .save_complete = fake_save_complete,
    .save_cleanup = fake_save_cleanup,
    .load_setup = fake_load_setup,
    .load_cleanup = fake_load_cleanup,
    .load_state = fake_load_state,
    .is_active = fake_is_active,
};

/* ---- fixture ---- */

typedef struct Fixture {
    DevA a;
    DevB b0, b1;
    FakeRam ram;
} Fixture;

static void fixture_fill(Fixture *fx)
{
    for (int i = 0; i < 4; i++) {
        fx->a.regs[i] = 0x1000 * i + 1;
    }
    fx->a.nfifo = 3;
    memcpy(fx->a.fifo, "abc", 3);
    fx->a.nested.lo = 0x11;
    fx->a.nested.hi = 0x22;
    fx->a.extra = 0x5555;
    fx->b0.x = 100;
    fx->b0.on = true;
    fx->b1.x = 200;
}

static void fixture_scramble(Fixture *fx)
{
    memset(&fx->a, 0x77, sizeof(fx->a));
    fx->a.nfifo = 0;
    memset(&fx->b0, 0, sizeof(fx->b0));
    memset(&fx->b1, 0, sizeof(fx->b1));
    memset(fx->ram.dst, 0, fx->ram.size);
}

static Fixture *fixture_new(uint64_t ram_size, bool resend_all)
{
    Fixture *fx = g_new0(Fixture, 1);

    fixture_fill(fx);
    fx->ram.size = ram_size;
    fx->ram.src = g_malloc(ram_size);
    fx->ram.dst = g_malloc0(ram_size);
    for (uint64_t i = 0; i < ram_size; i++) {
        fx->ram.src[i] = (uint8_t)(i * 13 + (i >> 12));
    }
    fx->ram.resend_all = resend_all;
    fx->ram.active = true;
    /* Live first on save whatever the registration order. */
    vmstate_register("dev-a", VMSTATE_INSTANCE_ID_ANY, &vmstate_deva, &fx->a);
    savevm_register_live("fake-ram", 0, 3, &fake_ram_ops, &fx->ram);
    vmstate_register("dev-b", VMSTATE_INSTANCE_ID_ANY, &vmstate_devb, &fx->b0);
    vmstate_register("dev-b", VMSTATE_INSTANCE_ID_ANY, &vmstate_devb, &fx->b1);
    return fx;
}

static void fixture_free(Fixture *fx)
{
    vmstate_unregister_opaque(&fx->a);
    vmstate_unregister_opaque(&fx->b0);
    vmstate_unregister_opaque(&fx->b1);
    vmstate_unregister_opaque(&fx->ram);
    g_free(fx->ram.src);
    g_free(fx->ram.dst);
    g_free(fx);
}

static GBytes *save_to_bytes(void)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    SavevmOptions opts = {.ignore_shared = true};
    const uint8_t *data;
    size_t len;

    g_assert_true(savevm_save_all(w, &opts, &err));
    g_assert_no_error(err);
    data = mig_stream_mem_data(w, &len);
    return g_bytes_new(data, len);
}

static bool load_bytes(const void *data, size_t len, GError **errp)
{
    g_autoptr(MigStream) r = mig_stream_new_mem_reader(data, len, NULL, 0);

    return savevm_load(r, errp);
}

static void check_loaded(Fixture *fx)
{
    Fixture want = {0};

    fixture_fill(&want);
    g_assert_cmpmem(want.a.regs, sizeof(want.a.regs), fx->a.regs,
                    sizeof(fx->a.regs));
    g_assert_cmpuint(fx->a.nfifo, ==, 3);
    g_assert_cmpmem(fx->a.fifo, 3, "abc", 3);
    g_assert_cmpuint(fx->a.nested.lo, ==, 0x11);
    g_assert_cmpuint(fx->a.nested.hi, ==, 0x22);
    g_assert_cmpuint(fx->a.extra, ==, 0x5555);
    g_assert_cmpuint(fx->b0.x, ==, 100);
    g_assert_true(fx->b0.on);
    g_assert_cmpuint(fx->b1.x, ==, 200);
    g_assert_false(fx->b1.on);
    g_assert_cmpmem(fx->ram.dst, fx->ram.size, fx->ram.src, fx->ram.size);
}

/* Walk a valid stream's records: counts per type. */
static void count_records(const uint8_t *p, size_t len, int counts[6])
{
    size_t off = 12;

    memset(counts, 0, sizeof(int) * 6);
    while (off + 5 <= len) {
        uint32_t n = (uint32_t)p[off + 1] << 24 | p[off + 2] << 16 |
                     p[off + 3] << 8 | p[off + 4];

        g_assert_cmpuint(p[off], <, 6);
        counts[p[off]]++;
        off += 5 + n + 4;
    }
    g_assert_cmpuint(off, ==, len);
}

/* ---- tests ---- */

static void test_registry(void)
{
    int o1, o2, o3, o4;
    Fixture *fx = fixture_new(4096, false);
    g_autoptr(GBytes) bytes = NULL;
    g_autoptr(GError) err = NULL;
    DevB extra = {.x = 1};

    /* dev-b got instances 0 and 1; a third gets 2, an explicit 7 is 7. */
    vmstate_register("dev-b", VMSTATE_INSTANCE_ID_ANY, &vmstate_devb, &o1);
    vmstate_register("dev-b", 7, &vmstate_devb, &o2);
    vmstate_register("dev-b", VMSTATE_INSTANCE_ID_ANY, &vmstate_devb, &o3);
    vmstate_register("dev-x", VMSTATE_INSTANCE_ID_ANY, &vmstate_devb, &o4);
    vmstate_unregister_opaque(&o1);
    vmstate_unregister_opaque(&o2);
    vmstate_unregister_opaque(&o3);
    vmstate_unregister_opaque(&o4);

    /* After unregistering, the next dev-b is instance 2 again. */
    vmstate_register("dev-b", VMSTATE_INSTANCE_ID_ANY, &vmstate_devb, &extra);
    bytes = save_to_bytes();
    g_assert_nonnull(memmem(g_bytes_get_data(bytes, NULL),
                            g_bytes_get_size(bytes),
                            "\x05"
                            "dev-b\x00\x00\x00\x02",
                            10));
    extra.x = 0;
    g_assert_true(load_bytes(g_bytes_get_data(bytes, NULL),
                             g_bytes_get_size(bytes), &err));
    g_assert_no_error(err);
    g_assert_cmpuint(extra.x, ==, 1);
    vmstate_unregister_opaque(&extra);
    fixture_free(fx);
}

static void test_roundtrip_mem(void)
{
    /* 3 MiB: several iterate passes, and a complete that must split. */
    Fixture *fx = fixture_new(3 * 1024 * 1024 + 100, true);
    g_autoptr(GBytes) bytes = save_to_bytes();
    g_autoptr(GError) err = NULL;
    const uint8_t *data;
    int counts[6];
    size_t len;

    data = g_bytes_get_data(bytes, &len);
    g_assert_cmpmem(data, 8, "BATONMIG", 8);
    g_assert_cmpint(fx->ram.setups, ==, 1);
    g_assert_cmpint(fx->ram.cleanups, ==, 1);
    g_assert_true(fx->ram.saw_ignore_shared);
    count_records(data, len, counts);
    g_assert_cmpint(counts[SAVEVM_REC_SECTION_START], ==, 1);
    g_assert_cmpint(counts[SAVEVM_REC_SECTION_END], ==, 1);
    g_assert_cmpint(counts[SAVEVM_REC_SECTION_FULL], ==, 3);
    g_assert_cmpint(counts[SAVEVM_REC_EOF], ==, 1);
    /* 13 iterate records (256 KiB each) + 3 from splitting the complete. */
    g_assert_cmpint(counts[SAVEVM_REC_SECTION_PART], ==, 13 + 3);

    fixture_scramble(fx);
    g_assert_true(load_bytes(data, len, &err));
    g_assert_no_error(err);
    check_loaded(fx);
    g_assert_cmpint(fx->ram.load_setups, ==, 1);
    g_assert_cmpint(fx->ram.load_cleanups, ==, 1);
    g_assert_cmpint(fx->ram.records, ==, 1 + 16 + 1);
    g_assert_false(bql_locked());
    fixture_free(fx);
}

typedef struct Pump {
    int fd;
    GBytes *bytes;
} Pump;

static gpointer pump_thread(gpointer opaque)
{
    Pump *p = opaque;
    MigStream *w = mig_stream_new_fd(p->fd, true, false, "pump");
    size_t len;
    const uint8_t *data = g_bytes_get_data(p->bytes, &len);

    /* Odd-sized pieces so records straddle the reader's buffer. */
    for (size_t off = 0; off < len; off += 7777) {
        mig_put_buffer(w, data + off, MIN(7777, len - off));
    }
    mig_stream_close(w, NULL);
    return NULL;
}

static void test_roundtrip_socket(void)
{
    Fixture *fx = fixture_new(1024 * 1024, true);
    g_autoptr(GError) err = NULL;
    g_autoptr(MigStream) r = NULL;
    Pump p;
    GThread *th;
    int sv[2];

    p.bytes = save_to_bytes();
    fixture_scramble(fx);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    p.fd = sv[1];
    th = g_thread_new("pump", pump_thread, &p);
    r = mig_stream_new_fd(sv[0], false, true, "socket");
    g_assert_true(savevm_load(r, &err));
    g_assert_no_error(err);
    g_thread_join(th);
    check_loaded(fx);
    g_bytes_unref(p.bytes);
    fixture_free(fx);
}

/* A descriptor in a vmstate section crosses with its record. */
static void test_fd_section(void)
{
    g_autoptr(MigStream) w = NULL;
    g_autoptr(MigStream) r = NULL;
    g_autoptr(GError) err = NULL;
    SavevmOptions opts = {0};
    DevB src = {.x = 9}, dst = {.fd = -1};
    int p[2], sv[2];
    char c = 0;

    g_assert_cmpint(pipe(p), ==, 0);
    src.fd = p[1];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    w = mig_stream_new_fd(sv[1], true, true, "w");
    r = mig_stream_new_fd(sv[0], false, true, "r");

    vmstate_register("fd-dev", 0, &vmstate_fddev, &src);
    g_assert_true(savevm_save_all(w, &opts, &err));
    g_assert_no_error(err);
    vmstate_unregister_opaque(&src);

    vmstate_register("fd-dev", 0, &vmstate_fddev, &dst);
    g_assert_true(savevm_load(r, &err));
    g_assert_no_error(err);
    vmstate_unregister_opaque(&dst);
    g_assert_cmpuint(dst.x, ==, 9);
    g_assert_cmpint(dst.fd, >=, 0);
    g_assert_cmpint(write(dst.fd, "z", 1), ==, 1);
    g_assert_cmpint(read(p[0], &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'z');
    close(dst.fd);
    close(p[0]);
    close(p[1]);

    /* Over memory, the same section cannot be saved. */
    {
        g_autoptr(MigStream) mem = mig_stream_new_mem_writer();

        src.fd = 0;
        vmstate_register("fd-dev", 0, &vmstate_fddev, &src);
        g_assert_false(savevm_save_all(mem, &opts, &err));
        vmstate_unregister_opaque(&src);
        g_assert_nonnull(strstr(err->message, "field 'fd'"));
    }
}

/* Flip each byte of a small stream in turn: every load must fail. */
static void test_corrupt_every_byte(void)
{
    Fixture *fx = fixture_new(300, false);
    g_autoptr(GBytes) bytes = save_to_bytes();
    size_t len;
    const uint8_t *data = g_bytes_get_data(bytes, &len);
    g_autofree uint8_t *copy = g_memdup2(data, len);
    static const uint8_t flips[] = {0xff, 0x01, 0x80};

    g_assert_cmpuint(len, <, 2000);
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < G_N_ELEMENTS(flips); k++) {
            g_autoptr(GError) err = NULL;

            copy[i] ^= flips[k];
            if (load_bytes(copy, len, &err)) {
                g_error("flipping byte %zu with 0x%02x went unnoticed", i,
                        flips[k]);
            }
            g_assert_nonnull(err);
            copy[i] ^= flips[k];
        }
    }
    g_assert_false(bql_locked());
    /* Every load paired its live section's setup with a cleanup. */
    g_assert_cmpint(fx->ram.load_setups, ==, fx->ram.load_cleanups);
    fixture_free(fx);
}

static void test_truncate_every_length(void)
{
    Fixture *fx = fixture_new(300, false);
    g_autoptr(GBytes) bytes = save_to_bytes();
    size_t len;
    const uint8_t *data = g_bytes_get_data(bytes, &len);

    for (size_t n = 0; n < len; n++) {
        g_autoptr(GError) err = NULL;

        g_assert_false(load_bytes(data, n, &err));
        g_assert_nonnull(err);
    }
    fixture_free(fx);
}

static void assert_load_error(const void *data, size_t len, const char *msg)
{
    g_autoptr(GError) err = NULL;

    g_assert_false(load_bytes(data, len, &err));
    if (!strstr(err->message, msg)) {
        g_error("expected '%s' in '%s'", msg, err->message);
    }
}

static void test_unknown_and_missing_section(void)
{
    Fixture *fx = fixture_new(300, false);
    DevB extra = {0};
    g_autoptr(GBytes) bytes = NULL;
    const uint8_t *data;
    size_t len;

    vmstate_register("extra-dev", 0, &vmstate_devb, &extra);
    bytes = save_to_bytes();
    vmstate_unregister_opaque(&extra);
    data = g_bytes_get_data(bytes, &len);
    assert_load_error(data, len, "unknown section 'extra-dev' instance 0");
    g_assert_cmpstr(savevm_last_section(), ==, "extra-dev");
    g_bytes_unref(bytes);

    bytes = save_to_bytes();
    data = g_bytes_get_data(bytes, &len);
    vmstate_register("late-dev", 0, &vmstate_devb, &extra);
    assert_load_error(data, len, "missing section 'late-dev' instance 0");
    vmstate_unregister_opaque(&extra);

    /* An inactive live section is simply absent; that is fine. */
    fx->ram.active = false;
    g_bytes_unref(bytes);
    bytes = save_to_bytes();
    fx->ram.active = true;
    data = g_bytes_get_data(bytes, &len);
    g_assert_true(load_bytes(data, len, NULL));
    fixture_free(fx);
}

static void test_bad_header(void)
{
    assert_load_error("", 0,
                      "reading the stream header: memory stream: "
                      "unexpected end of stream");
    assert_load_error("BATONMIX\x00\x00\x00\x01", 12,
                      "not a baton migration stream (bad magic)");
    assert_load_error("BATONMIG\x00\x00\x00\x02", 12,
                      "unsupported migration stream format version 2 (this "
                      "build reads version 1)");
    assert_load_error("BATONMIG\x00\x00\x00\x01", 12,
                      "migration stream ended at offset 12 without its EOF "
                      "record");
}

/* ---- hand-crafted streams ---- */

static void put_record(MigStream *w, uint8_t type, MigStream *payload)
{
    size_t len = 0;
    const uint8_t *p = payload ? mig_stream_mem_data(payload, &len) : NULL;
    uint8_t hdr[5] = {type, len >> 24, len >> 16, len >> 8, len};
    uint32_t crc = crc32c_update(crc32c_update(0, hdr, 5), p, len);

    mig_put_buffer(w, hdr, 5);
    mig_put_buffer(w, p, len);
    mig_put_be32(w, crc);
    if (payload) {
        mig_stream_mem_reset(payload);
    }
}

static void put_section(MigStream *pl, uint32_t id, const char *idstr,
                        uint32_t instance, uint32_t version)
{
    mig_put_be32(pl, id);
    mig_put_str(pl, idstr);
    mig_put_be32(pl, instance);
    mig_put_be32(pl, version);
}

/* A stream with only dev-b instance 0 registered. */
typedef void (*CraftFn)(MigStream *w, MigStream *pl);

static void craft_and_expect(CraftFn fn, const char *msg)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(MigStream) pl = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    const uint8_t *data;
    size_t len;

    g_assert_true(savevm_write_header(w, &err));
    fn(w, pl);
    data = mig_stream_mem_data(w, &len);
    assert_load_error(data, len, msg);
}

static void devb_record(MigStream *w, MigStream *pl, uint32_t version,
                        uint8_t on)
{
    put_section(pl, 1, "dev-b", 0, version);
    mig_put_be16(pl, 5);
    mig_put_u8(pl, on);
    mig_put_u8(pl, 0);
}

static void craft_trailing(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 1, 1);
    mig_put_u8(pl, 0xee);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
}

static void craft_version(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 2, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
}

static void craft_bad_bool(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 1, 2);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
}

static void craft_twice(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 1, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
    devb_record(w, pl, 1, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
}

static void craft_eof_payload(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 1, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
    mig_put_u8(pl, 0);
    put_record(w, SAVEVM_REC_EOF, pl);
}

static void craft_unknown_type(MigStream *w, MigStream *pl)
{
    mig_put_be32(pl, 1);
    put_record(w, 0x42, pl);
}

static void craft_unknown_part(MigStream *w, MigStream *pl)
{
    mig_put_be32(pl, 77);
    put_record(w, SAVEVM_REC_SECTION_PART, pl);
}

static void craft_part_of_vmstate(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 1, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
    mig_put_be32(pl, 1);
    put_record(w, SAVEVM_REC_SECTION_PART, pl);
}

static void craft_start_for_vmstate(MigStream *w, MigStream *pl)
{
    put_section(pl, 1, "dev-b", 0, 1);
    put_record(w, SAVEVM_REC_SECTION_START, pl);
}

static void craft_short_header(MigStream *w, MigStream *pl)
{
    mig_put_be32(pl, 1);
    mig_put_u8(pl, 5);
    mig_put_buffer(pl, "dev", 3);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
}

static void craft_oversize(MigStream *w, MigStream *pl)
{
    /* Length 16 MiB + 1 with no data behind it: refused before reading. */
    mig_put_buffer(w, "\x04\x01\x00\x00\x01", 5);
}

static void craft_truncated_payload(MigStream *w, MigStream *pl)
{
    mig_put_buffer(w,
                   "\x04\x00\x00\x10\x00"
                   "abc",
                   8);
}

static void craft_no_eof(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 1, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
}

static void craft_ok(MigStream *w, MigStream *pl)
{
    devb_record(w, pl, 1, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
    put_record(w, SAVEVM_REC_EOF, NULL);
}

static void craft_subsection_unknown(MigStream *w, MigStream *pl)
{
    put_section(pl, 1, "dev-b", 0, 1);
    mig_put_be16(pl, 5);
    mig_put_u8(pl, 0);
    mig_put_u8(pl, 1);
    mig_put_str(pl, "dev-b/nope");
    mig_put_be32(pl, 1);
    put_record(w, SAVEVM_REC_SECTION_FULL, pl);
}

static void test_crafted(void)
{
    DevB b = {0};

    vmstate_register("dev-b", 0, &vmstate_devb, &b);
    craft_and_expect(craft_trailing,
                     "section 'dev-b' instance 0: 1 unread "
                     "bytes at the end of its SECTION_FULL record");
    craft_and_expect(craft_version, "section 'dev-b' instance 0: unsupported "
                                    "version 2 (accepted 1 to 1)");
    craft_and_expect(craft_bad_bool, "section 'dev-b' instance 0: dev-b: "
                                     "field 'on': invalid bool value 2");
    craft_and_expect(craft_twice, "section 'dev-b' instance 0 sent twice");
    craft_and_expect(craft_eof_payload, "EOF record at offset 43 has a "
                                        "1-byte payload");
    craft_and_expect(craft_unknown_type, "unknown record type 0x42");
    craft_and_expect(craft_unknown_part, "unknown live section id 77");
    craft_and_expect(craft_part_of_vmstate, "unknown live section id 1");
    craft_and_expect(craft_start_for_vmstate, "a SECTION_START record for a "
                                              "vmstate section");
    craft_and_expect(craft_short_header, "truncated section header");
    craft_and_expect(craft_oversize, "length 16777217 exceeds the limit of "
                                     "16777216 bytes");
    craft_and_expect(craft_truncated_payload, "truncated SECTION_FULL record "
                                              "of 4096 bytes at offset 12");
    craft_and_expect(craft_no_eof, "without its EOF record");
    craft_and_expect(craft_subsection_unknown, "dev-b: unknown subsection "
                                               "'dev-b/nope'");

    /* And the well-formed one loads. */
    {
        g_autoptr(MigStream) w = mig_stream_new_mem_writer();
        g_autoptr(MigStream) pl = mig_stream_new_mem_writer();
        g_autoptr(GError) err = NULL;
        const uint8_t *data;
        size_t len;

        savevm_write_header(w, NULL);
        craft_ok(w, pl);
        data = mig_stream_mem_data(w, &len);
        g_assert_true(load_bytes(data, len, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(b.x, ==, 5);
        g_assert_true(b.on);
    }
    vmstate_unregister_opaque(&b);
}

/* A live section that starts but never ends. */
static void test_live_incomplete(void)
{
    Fixture *fx = fixture_new(300, false);
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(GError) err = NULL;
    SavevmOptions opts = {0};
    const uint8_t *data;
    size_t len;

    g_assert_true(savevm_write_header(w, &err));
    g_assert_true(savevm_setup(w, &opts, &err));
    g_assert_cmpuint(savevm_pending(false), ==, 300);
    g_assert_cmpint(savevm_iterate(w, &err), ==, 1);
    g_assert_cmpuint(savevm_pending(true), ==, 0);
    savevm_cleanup();
    /* Append the EOF by hand: no SECTION_END, no vmstate sections. */
    put_record(w, SAVEVM_REC_EOF, NULL);
    data = mig_stream_mem_data(w, &len);
    vmstate_unregister_opaque(&fx->a);
    vmstate_unregister_opaque(&fx->b0);
    vmstate_unregister_opaque(&fx->b1);
    assert_load_error(data, len,
                      "section 'fake-ram' instance 0 did not "
                      "complete");
    fixture_free(fx);
}

/* The example in docs/devel/migration-stream.md, byte for byte. */
static void test_doc_example(void)
{
    static const uint8_t want[] = {
        'B',  'A',  'T',  'O',  'N',  'M',  'I',  'G',  0x00, 0x00, 0x00,
        0x01, 0x04, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x01, 0x05,
        0x64, 0x65, 0x76, 0x2d, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x05, 0x01, 0x00, 0x2f, 0xe9, 0xfa, 0x9a, 0x05,
        0x00, 0x00, 0x00, 0x00, 0x9d, 0x26, 0xa7, 0x29,
    };
    DevB b = {.x = 5, .on = true};
    g_autoptr(GBytes) bytes = NULL;
    const uint8_t *data;
    size_t len;

    vmstate_register("dev-b", VMSTATE_INSTANCE_ID_ANY, &vmstate_devb, &b);
    bytes = save_to_bytes();
    vmstate_unregister_opaque(&b);
    data = g_bytes_get_data(bytes, &len);
    g_assert_cmpmem(data, len, want, sizeof(want));
}

/* ---- devices that map a region in post_load, like a PCI BAR ---- */

#define MAP_DEVS 4

typedef struct MapDev {
    uint32_t addr; /* where post_load maps the region; 0: nowhere */
    uint32_t peek; /* post_load then reads 4 bytes here (a DMA); 0: no */
    bool fail;     /* post_load fails after mapping */

    /* runtime only */
    MemoryRegion mr;
    AddressSpace *as;
    uint32_t tag;    /* what reads of the region return */
    uint64_t peeked; /* what the peek read */
} MapDev;

static uint64_t mapdev_read(void *opaque, hwaddr offset, unsigned size)
{
    return ((MapDev *)opaque)->tag;
}

static const MemoryRegionOps mapdev_ops = {.read = mapdev_read};

static bool mapdev_post_load(void *opaque, int version_id, GError **errp)
{
    MapDev *d = opaque;

    /* A BAR update: its own transaction, as pci_update_mappings() does. */
    memory_region_transaction_begin();
    if (d->mr.container) {
        memory_region_del_subregion(d->mr.container, &d->mr);
    }
    if (d->addr) {
        memory_region_add_subregion(d->as->root, d->addr, &d->mr);
    }
    memory_region_transaction_commit();
    if (d->peek) {
        d->peeked = address_space_ld(d->as, d->peek, 4);
    }
    if (d->fail) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_FAILED, "refused");
        return false;
    }
    return true;
}

static const VMStateField vmstate_mapdev_fields[] = {
    VMSTATE_UINT32(addr, MapDev),
    VMSTATE_UINT32(peek, MapDev),
    VMSTATE_BOOL(fail, MapDev),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription vmstate_mapdev = {
    .name = "map-dev",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = mapdev_post_load,
    .fields = vmstate_mapdev_fields,
};

/* Save MAP_DEVS devices as they are, unmap them all, load them back. */
static bool mapdev_roundtrip(MapDev *d, TextListener *t, GError **errp)
{
    g_autoptr(GBytes) bytes = save_to_bytes();
    bool ok;

    memory_region_transaction_begin();
    for (int i = 0; i < MAP_DEVS; i++) {
        if (d[i].mr.container) {
            memory_region_del_subregion(d[i].mr.container, &d[i].mr);
        }
        d[i].peeked = 0;
    }
    memory_region_transaction_commit();
    g_free(tl_take(t));
    ok = load_bytes(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
                    errp);
    g_assert_false(bql_locked());
    return ok;
}

/*
 * N devices whose post_load maps a region each: the listeners (KVM's
 * slots, in baton) hear of it once per load, not once per device; a
 * post_load reading through the address space sees what the ones before
 * it mapped; and a load that fails halfway still leaves the listeners
 * told what its records did.
 */
static void test_memory_map_once(void)
{
    MapDev d[MAP_DEVS] = {0};
    MemoryRegion root;
    AddressSpace as;
    TextListener t;
    g_autoptr(GError) err = NULL;

    memory_region_init(&root, NULL, "t.savevm", 0x10000);
    address_space_init(&as, &root, "t.savevm");
    text_listener_init(&t, "", 0, false);
    memory_listener_register(&t.l, &as);
    for (int i = 0; i < MAP_DEVS; i++) {
        g_autofree char *name = g_strdup_printf("m%d", i);

        d[i].as = &as;
        d[i].tag = 0xd0 + i;
        d[i].addr = 0x1000 * (i + 1);
        memory_region_init_io(&d[i].mr, NULL, &mapdev_ops, &d[i], name, 0x100);
        vmstate_register("map-dev", i, &vmstate_mapdev, &d[i]);
    }

    g_assert_true(mapdev_roundtrip(d, &t, &err));
    g_assert_no_error(err);
    assert_log(&t, "begin add:m0@1000-10ff add:m1@2000-20ff "
                   "add:m2@3000-30ff add:m3@4000-40ff commit");

    /* The last device reads the first one's region: it is there. */
    d[MAP_DEVS - 1].peek = 0x1000;
    g_assert_true(mapdev_roundtrip(d, &t, &err));
    g_assert_no_error(err);
    g_assert_cmphex(d[MAP_DEVS - 1].peeked, ==, 0xd0);
    g_assert_cmphex(address_space_ld(&as, 0x4000, 4), ==, 0xd3);
    g_free(tl_take(&t));
    d[MAP_DEVS - 1].peek = 0;

    /* The third fails: the first three mapped, and listeners know it. */
    d[2].fail = true;
    g_assert_false(mapdev_roundtrip(d, &t, &err));
    g_assert_nonnull(strstr(err->message, "refused"));
    assert_log(&t, "begin add:m0@1000-10ff add:m1@2000-20ff "
                   "add:m2@3000-30ff commit");

    for (int i = 0; i < MAP_DEVS; i++) {
        vmstate_unregister_opaque(&d[i]);
        memory_region_finalize(&d[i].mr);
    }
    text_listener_free(&t);
    address_space_destroy(&as);
    memory_region_finalize(&root);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Only this file's sections, not those constructors registered. */
    savevm_unregister_all();
    g_test_add_func("/migration/savevm/registry", test_registry);
    g_test_add_func("/migration/savevm/roundtrip-mem", test_roundtrip_mem);
    g_test_add_func("/migration/savevm/roundtrip-socket",
                    test_roundtrip_socket);
    g_test_add_func("/migration/savevm/fd-section", test_fd_section);
    g_test_add_func("/migration/savevm/corrupt-every-byte",
                    test_corrupt_every_byte);
    g_test_add_func("/migration/savevm/truncate-every-length",
                    test_truncate_every_length);
    g_test_add_func("/migration/savevm/unknown-missing-section",
                    test_unknown_and_missing_section);
    g_test_add_func("/migration/savevm/bad-header", test_bad_header);
    g_test_add_func("/migration/savevm/crafted", test_crafted);
    g_test_add_func("/migration/savevm/live-incomplete", test_live_incomplete);
    g_test_add_func("/migration/savevm/doc-example", test_doc_example);
    g_test_add_func("/migration/savevm/memory-map-once", test_memory_map_once);
    return g_test_run();
}
