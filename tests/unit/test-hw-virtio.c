/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The virtio core without a transport or guest: a fake transport over an
 * address space with 1 MiB of RAM, one queue, rings written by the test.
 * Feature negotiation, chain walks (direct, indirect, every malformed
 * case), the used ring, interrupt suppression, reset, and the migrated
 * state's checks.
 */
#include "util/osdep.h"

#include "hw/virtio/virtio.h"
#include "migration/stream.h"
#include "migration/vmstate.h"

#define RAM_SIZE (1 << 20)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000
#define QSIZE 8

typedef struct Fixture {
    MemoryRegion root, ram;
    RAMBlock *rb;
    AddressSpace as;
    VirtIODevice vdev;
    VirtQueue *vq;
    unsigned int queue_irqs, config_irqs, kicks;
    uint16_t avail_idx;
} Fixture;

static void fake_notify_queue(void *opaque, unsigned int n)
{
    ((Fixture *)opaque)->queue_irqs++;
}

static void fake_notify_config(void *opaque)
{
    ((Fixture *)opaque)->config_irqs++;
}

static AddressSpace *fake_dma_as(void *opaque)
{
    return &((Fixture *)opaque)->as;
}

static const VirtioTransportOps fake_ops = {
    .notify_queue = fake_notify_queue,
    .notify_config = fake_notify_config,
    .get_dma_as = fake_dma_as,
};

static Fixture *cur;

static void handler(VirtIODevice *vdev, VirtQueue *vq)
{
    cur->kicks++;
}

static uint64_t fake_features(VirtIODevice *vdev)
{
    return 1ull << 9; /* a device feature */
}

static const VirtioDeviceClass fake_class = {
    .name = "virtio-test",
    .device_id = 99,
    .get_features = fake_features,
};

static void wr16(Fixture *f, uint64_t a, uint16_t v)
{
    address_space_st(&f->as, a, v, 2);
}

static uint16_t rd16(Fixture *f, uint64_t a)
{
    return (uint16_t)address_space_ld(&f->as, a, 2);
}

static void desc(Fixture *f, uint64_t table, unsigned int i, uint64_t addr,
                 uint32_t len, uint16_t flags, uint16_t next)
{
    uint64_t d = table + 16 * i;

    address_space_st(&f->as, d, addr, 8);
    address_space_st(&f->as, d + 8, len, 4);
    wr16(f, d + 12, flags);
    wr16(f, d + 14, next);
}

static void publish(Fixture *f, uint16_t head)
{
    wr16(f, AVAIL + 4 + 2 * (f->avail_idx % QSIZE), head);
    wr16(f, AVAIL + 2, ++f->avail_idx);
}

static void setup(Fixture *f, uint64_t features)
{
    GError *err = NULL;

    memset(f, 0, sizeof(*f));
    cur = f;
    f->rb = ram_block_new_anon("virtio-test.ram", RAM_SIZE, false, &err);
    g_assert_no_error(err);
    memory_region_init(&f->root, NULL, "root", UINT64_MAX);
    memory_region_init_ram_from_block(&f->ram, NULL, "ram", f->rb, 0, RAM_SIZE);
    memory_region_add_subregion(&f->root, 0, &f->ram);
    address_space_init(&f->as, &f->root, "virtio-test");
    virtio_init(&f->vdev, &fake_class, 8);
    f->vq = virtio_add_queue(&f->vdev, QSIZE, handler);
    virtio_set_transport(&f->vdev, &fake_ops, f);
    virtio_set_guest_features_word(&f->vdev, 0, (uint32_t)features);
    virtio_set_guest_features_word(&f->vdev, 1, (uint32_t)(features >> 32));
    virtio_set_status(&f->vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE |
                                    VIRTIO_CONFIG_S_DRIVER |
                                    VIRTIO_CONFIG_S_FEATURES_OK);
    f->vq->desc = DESC;
    f->vq->avail = AVAIL;
    f->vq->used = USED;
    f->vq->enabled = 1;
    virtio_set_status(&f->vdev, f->vdev.status | VIRTIO_CONFIG_S_DRIVER_OK);
}

static void teardown(Fixture *f)
{
    address_space_destroy(&f->as);
    memory_region_finalize(&f->ram);
    memory_region_finalize(&f->root);
    ram_block_free(f->rb);
    cur = NULL;
}

#define V1 (1ull << VIRTIO_F_VERSION_1)

static void test_features(void)
{
    Fixture f;

    setup(&f, V1 | 1ull << 9 | 1ull << 20); /* bit 20 is not offered */
    g_assert_cmphex(f.vdev.guest_features, ==, V1 | 1ull << 9);
    g_assert_true(f.vdev.status & VIRTIO_CONFIG_S_FEATURES_OK);
    g_assert_cmpuint(virtio_get_host_features_word(&f.vdev, 1) & 1, ==, 1);
    /* After FEATURES_OK the features are fixed. */
    virtio_set_guest_features_word(&f.vdev, 0, 0);
    g_assert_cmphex(f.vdev.guest_features, ==, V1 | 1ull << 9);
    teardown(&f);

    /* Without VERSION_1: FEATURES_OK refused, and DRIVER_OK with it. */
    setup(&f, 1ull << 9);
    g_assert_false(f.vdev.status & VIRTIO_CONFIG_S_FEATURES_OK);
    g_assert_false(f.vdev.status & VIRTIO_CONFIG_S_DRIVER_OK);
    g_assert_false(virtio_device_ok(&f.vdev));
    teardown(&f);
}

static void test_pop_push(void)
{
    Fixture f;
    VirtQueueElement *e;

    setup(&f, V1);
    g_assert_null(virtqueue_pop(f.vq));
    desc(&f, DESC, 0, BUF, 16, 1, 1);
    desc(&f, DESC, 1, BUF + 16, 100, 1, 2);
    desc(&f, DESC, 2, BUF + 200, 300, 2 | 1, 3);
    desc(&f, DESC, 3, BUF + 600, 1, 2, 0);
    publish(&f, 0);
    e = virtqueue_pop(f.vq);
    g_assert_nonnull(e);
    g_assert_cmpuint(e->index, ==, 0);
    g_assert_cmpuint(e->out_num, ==, 2);
    g_assert_cmpuint(e->in_num, ==, 2);
    g_assert_cmpuint(e->out_len, ==, 116);
    g_assert_cmpuint(e->in_len, ==, 301);
    g_assert_cmphex(e->in_sg[1].addr, ==, BUF + 600);
    g_assert_cmpuint(virtio_inflight(&f.vdev), ==, 1);
    g_assert_null(virtqueue_pop(f.vq));
    /* Copies run across buffers. */
    g_assert_cmpuint(virtqueue_elem_write(&f.vdev, e, 299, "xyz", 3), ==, 2);
    g_assert_cmpuint(address_space_ld(&f.as, BUF + 600, 1), ==, 'y');
    virtqueue_push(f.vq, e, 301);
    g_assert_cmpuint(rd16(&f, USED + 2), ==, 1);
    g_assert_cmpuint(address_space_ld(&f.as, USED + 4, 4), ==, 0);
    g_assert_cmpuint(address_space_ld(&f.as, USED + 8, 4), ==, 301);
    g_assert_cmpuint(virtio_inflight(&f.vdev), ==, 0);
    virtio_notify(&f.vdev, f.vq);
    g_assert_cmpuint(f.queue_irqs, ==, 1);
    g_assert_cmpuint(f.vdev.isr, ==, VIRTIO_ISR_QUEUE);
    /* NO_INTERRUPT in avail->flags (no event index). */
    wr16(&f, AVAIL, 1);
    virtio_notify(&f.vdev, f.vq);
    g_assert_cmpuint(f.queue_irqs, ==, 1);
    g_free(e);
    teardown(&f);
}

static void test_indirect(void)
{
    Fixture f;
    VirtQueueElement *e;

    setup(&f, V1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC);
    desc(&f, 0x8000, 0, BUF, 16, 1, 1);
    desc(&f, 0x8000, 1, BUF + 16, 512, 2 | 1, 2);
    desc(&f, 0x8000, 2, BUF + 600, 1, 2, 0);
    desc(&f, DESC, 5, 0x8000, 48, 4, 0);
    publish(&f, 5);
    e = virtqueue_pop(f.vq);
    g_assert_nonnull(e);
    g_assert_cmpuint(e->index, ==, 5);
    g_assert_cmpuint(e->out_num + e->in_num, ==, 3);
    g_free(e);
    teardown(&f);
}

/* Each case breaks the device: NULL, NEEDS_RESET, one config irq. */
static void check_broken(Fixture *f)
{
    g_assert_null(virtqueue_pop(f->vq));
    g_assert_true(f->vdev.broken);
    g_assert_true(f->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    g_assert_cmpuint(f->config_irqs, ==, 1);
    g_assert_cmpuint(virtio_inflight(&f->vdev), ==, 0);
    /* Nothing more until a reset, which clears it. */
    g_assert_null(virtqueue_pop(f->vq));
    virtio_set_status(&f->vdev, f->vdev.status); /* a driver write keeps it */
    g_assert_true(f->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    virtio_reset(&f->vdev);
    g_assert_false(f->vdev.broken);
    g_assert_cmpuint(f->vdev.status, ==, 0);
    g_assert_cmpuint(f->vq->enabled, ==, 0);
}

static void test_malformed(void)
{
    static const struct {
        const char *what;
        uint64_t features;
    } cases[] = {
        {"loop", 0},
        {"out-of-ram", 0},
        {"next-beyond", 0},
        {"indirect-unnegotiated", 0},
        {"indirect-nested", 1ull << VIRTIO_RING_F_INDIRECT_DESC},
        {"indirect-oversize", 1ull << VIRTIO_RING_F_INDIRECT_DESC},
        {"indirect-loop", 1ull << VIRTIO_RING_F_INDIRECT_DESC},
        {"read-after-write", 0},
        {"head-beyond", 0},
        {"avail-jump", 0},
        {"wrapping-addr", 0},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *w = cases[i].what;
        Fixture f;

        setup(&f, V1 | cases[i].features);
        if (!strcmp(w, "loop")) {
            desc(&f, DESC, 0, BUF, 4, 1, 1);
            desc(&f, DESC, 1, BUF, 4, 1, 0);
        } else if (!strcmp(w, "out-of-ram")) {
            desc(&f, DESC, 0, RAM_SIZE - 8, 16, 0, 0);
        } else if (!strcmp(w, "next-beyond")) {
            desc(&f, DESC, 0, BUF, 4, 1, QSIZE);
        } else if (!strcmp(w, "indirect-unnegotiated")) {
            desc(&f, DESC, 0, 0x8000, 16, 4, 0);
            desc(&f, 0x8000, 0, BUF, 4, 0, 0);
        } else if (!strcmp(w, "indirect-nested")) {
            desc(&f, DESC, 0, 0x8000, 16, 4, 0);
            desc(&f, 0x8000, 0, 0x9000, 16, 4, 0);
        } else if (!strcmp(w, "indirect-oversize")) {
            desc(&f, DESC, 0, 0x8000, 16 * (VIRTQUEUE_MAX_SIZE + 1), 4, 0);
        } else if (!strcmp(w, "indirect-loop")) {
            desc(&f, DESC, 0, 0x8000, 32, 4, 0);
            desc(&f, 0x8000, 0, BUF, 4, 1, 1);
            desc(&f, 0x8000, 1, BUF, 4, 1, 0);
        } else if (!strcmp(w, "read-after-write")) {
            desc(&f, DESC, 0, BUF, 4, 2 | 1, 1);
            desc(&f, DESC, 1, BUF, 4, 0, 0);
        } else if (!strcmp(w, "head-beyond")) {
            wr16(&f, AVAIL + 4, QSIZE + 1);
            wr16(&f, AVAIL + 2, ++f.avail_idx);
            check_broken(&f);
            teardown(&f);
            continue;
        } else if (!strcmp(w, "avail-jump")) {
            wr16(&f, AVAIL + 2, QSIZE + 1);
            check_broken(&f);
            teardown(&f);
            continue;
        } else {
            desc(&f, DESC, 0, UINT64_MAX - 2, 16, 0, 0);
        }
        publish(&f, 0);
        if (g_test_verbose()) {
            g_test_message("case %s", w);
        }
        check_broken(&f);
        teardown(&f);
    }
}

/* virtio 1.2 2.7.10: with EVENT_IDX, an interrupt when used passes used_event.
 */
static void test_event_idx(void)
{
    Fixture f;

    setup(&f, V1 | 1ull << VIRTIO_RING_F_EVENT_IDX);
    desc(&f, DESC, 0, BUF, 1, 2, 0);
    for (unsigned int i = 0; i < 5; i++) {
        VirtQueueElement *e;

        if (i == 1) {
            wr16(&f, AVAIL + 4 + 2 * QSIZE, 3); /* used_event */
        }
        publish(&f, 0);
        e = virtqueue_pop(f.vq);
        g_assert_nonnull(e);
        /* avail_event follows what the device took. */
        g_assert_cmpuint(rd16(&f, USED + 4 + 8 * QSIZE), ==, i + 1);
        virtqueue_push(f.vq, e, 1);
        g_free(e);
        virtio_notify(&f.vdev, f.vq);
        /* The first always; then only the push that makes used 4. */
        g_assert_cmpuint(f.queue_irqs, ==, i < 3 ? 1 : 2);
    }
    teardown(&f);
}

static bool save_load(VirtIODevice *from, VirtIODevice *to, GError **errp)
{
    g_autoptr(MigStream) w = mig_stream_new_mem_writer();
    g_autoptr(MigStream) r = NULL;
    const uint8_t *data;
    size_t len;

    if (!vmstate_save(w, &vmstate_virtio_device, from, errp)) {
        return false;
    }
    data = mig_stream_mem_data(w, &len);
    r = mig_stream_new_mem_reader(data, len, NULL, 0);
    return vmstate_load(r, &vmstate_virtio_device, to, 1, errp);
}

static void test_migration(void)
{
    g_autoptr(GError) err = NULL;
    VirtQueueElement *e;
    Fixture f, g;

    setup(&f, V1);
    desc(&f, DESC, 0, BUF, 1, 2, 0);
    publish(&f, 0);
    e = virtqueue_pop(f.vq);
    /* In flight: the save refuses, naming the device. */
    g_assert_false(save_load(&f.vdev, &f.vdev, &err));
    g_assert_nonnull(strstr(err->message, "virtio-test: 1 requests in "
                                          "flight"));
    g_clear_error(&err);
    virtqueue_push(f.vq, e, 1);
    g_free(e);
    f.vq->num = 4;
    setup(&g, 0);
    g_assert_true(save_load(&f.vdev, &g.vdev, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(g.vq->num, ==, 4);
    g_assert_cmpuint(g.vq->last_avail_idx, ==, 1);
    g_assert_cmpuint(g.vq->used_idx, ==, 1);
    g_assert_cmphex(g.vdev.guest_features, ==, V1);
    /* A size the destination's queue cannot have. */
    f.vq->num = 3;
    g_assert_false(save_load(&f.vdev, &g.vdev, &err));
    g_assert_nonnull(strstr(err->message, "queue 0 size 3"));
    g_clear_error(&err);
    /* Features the destination does not offer. */
    f.vq->num = 4;
    f.vdev.guest_features |= 1ull << 40;
    g_assert_false(save_load(&f.vdev, &g.vdev, &err));
    g_assert_nonnull(strstr(err->message, "not offered here"));
    teardown(&g);
    cur = &f;
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hw/virtio/features", test_features);
    g_test_add_func("/hw/virtio/pop-push", test_pop_push);
    g_test_add_func("/hw/virtio/indirect", test_indirect);
    g_test_add_func("/hw/virtio/malformed", test_malformed);
    g_test_add_func("/hw/virtio/event-idx", test_event_idx);
    g_test_add_func("/hw/virtio/migration", test_migration);
    return g_test_run();
}
