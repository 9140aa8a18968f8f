/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VFIO migration v2 of the dmatest function through the real uAPI, as a
 * VMM drives it: VFIO_DEVICE_FEATURE (MIGRATION, MIG_DEVICE_STATE,
 * MIG_DATA_SIZE), the state machine's arcs and errors, a stopped device
 * (no record, no interrupt, no state change), stop-copy from one device
 * into another of the same hostsimd with the record stream continuing,
 * refused states (truncated, corrupt, another device's, stale), a data
 * fd closed before its session's end, cancel, and reset. Source and
 * destination sit in containers of their own, as on two hosts, both
 * mapping the same guest RAM.
 */
#include "hostsim-test.h"

#define SRC "0000:01:00.0"
#define DST "0000:02:00.0"

/* ---- what a VMM does ---- */

static int feature(int dev, uint32_t flags, void *data, uint32_t len)
{
    uint8_t buf[sizeof(struct vfio_device_feature) + 64] = {0};
    struct vfio_device_feature *f = (void *)buf;

    g_assert_cmpint(len, <=, 64);
    f->argsz = sizeof(*f) + len;
    f->flags = flags;
    if (len) {
        memcpy(f->data, data, len);
    }
    if (ioctl(dev, VFIO_DEVICE_FEATURE, f) < 0) {
        return -errno;
    }
    if (len) {
        memcpy(data, f->data, len);
    }
    return 0;
}

/* SET the migration state; *data_fd gets the new data fd or -1. */
int mig_set(int dev, uint32_t state, int *data_fd)
{
    struct vfio_device_feature_mig_state m = {.device_state = state,
                                              .data_fd = -2};
    int ret = feature(
        dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &m,
        sizeof(m));

    if (data_fd) {
        *data_fd = ret ? -1 : m.data_fd;
    } else if (!ret) {
        g_assert_cmpint(m.data_fd, ==, -1);
    }
    return ret;
}

uint32_t mig_get(int dev)
{
    struct vfio_device_feature_mig_state m = {0};

    g_assert_cmpint(
        feature(dev,
                VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                &m, sizeof(m)),
        ==, 0);
    g_assert_cmpint(m.data_fd, ==, -1);
    return m.device_state;
}

uint64_t mig_data_size(int dev)
{
    uint64_t v = 0;

    g_assert_cmpint(
        feature(dev,
                VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &v,
                sizeof(v)),
        ==, 0);
    return v;
}

/* Read a data fd until end of stream (0) or, in pre-copy, ENOMSG. */
void mig_read(int fd, GByteArray *out, bool precopy)
{
    uint8_t buf[100000]; /* not a multiple of anything */
    ssize_t n;

    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && precopy && errno == ENOMSG) {
            return;
        }
        g_assert_cmpint(n, >=, 0);
        if (!n) {
            g_assert_false(precopy);
            return;
        }
        g_byte_array_append(out, buf, n);
    }
}

/* Write the stream in pieces of odd sizes (segmentation is free). */
void mig_write(int fd, const uint8_t *p, size_t len)
{
    static const size_t pieces[] = {1, 23, 4096, 70000, 333, 200000};
    size_t done = 0, i = 0;

    while (done < len) {
        size_t k = MIN(pieces[i % G_N_ELEMENTS(pieces)], len - done);
        ssize_t n = write(fd, p + done, k);

        i++;
        g_assert_cmpint(n, >, 0);
        done += n;
    }
}

/*
 * RESUMING with the given bytes, then the arc to STOP: 0 or -errno.
 * Closes the data fd.
 */
int mig_load(int dev, const uint8_t *p, size_t len)
{
    int fd, ret;

    g_assert_cmpint(mig_set(dev, VFIO_DEVICE_STATE_RESUMING, &fd), ==, 0);
    g_assert_cmpint(fd, >=, 0);
    mig_write(fd, p, len);
    ret = mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL);
    close(fd);
    return ret;
}

/*
 * Stop consuming: once the ring is full HEAD stays, and the ring holds
 * the last 256 records (checking while the device writes would race).
 * Returns how many of them are wrong.
 */
static unsigned ring_settle_check(int dev, const uint8_t *ram)
{
    wait_head_full(dev, reg_read(dev, R_TAIL) + 256, false);
    return ring_check(ram, reg_read(dev, R_HEAD), 256);
}

/* The device stopped: a running one (clock) moves on, this one does not. */
static void assert_still(int dev, int clock, uint32_t clock_records)
{
    uint32_t head = reg_read(dev, R_HEAD);
    uint32_t sum = reg_read(dev, R_STATE_SUM);

    wait_head(clock, reg_read(clock, R_HEAD) + clock_records);
    g_assert_cmpint(reg_read(dev, R_HEAD), ==, head);
    g_assert_cmpint(reg_read(dev, R_STATE_SUM), ==, sum);
}

/* Two devices, each in a container of its own mapping the same RAM. */
void pair_open(Pair *p, const char *src_opts, const char *dst_opts)
{
    g_autofree char *s =
        g_strdup_printf(SRC ",type=dmatest,group=1%s", src_opts);
    g_autofree char *d =
        g_strdup_printf(DST ",type=dmatest,group=2%s", dst_opts);

    sim_start(&p->sim, s, d);
    legacy_open(&p->src, 1, SRC);
    legacy_open(&p->dst, 2, DST);
    p->ram = ram_new(&p->ramfd);
    g_assert_cmpint(map_dma(p->src.ct, p->ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    g_assert_cmpint(map_dma(p->dst.ct, p->ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
}

void pair_close(Pair *p)
{
    legacy_close(&p->src);
    legacy_close(&p->dst);
    munmap(p->ram, RAM_SIZE);
    close(p->ramfd);
    sim_stop(&p->sim);
}

/* Source to STOP_COPY and its whole state read out; the source stays. */
static GByteArray *save_stopped(int dev)
{
    GByteArray *b = g_byte_array_new();
    uint64_t size;
    int fd;

    g_assert_cmpint(mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL), ==, 0);
    size = mig_data_size(dev);
    g_assert_cmpint(mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==, 0);
    g_assert_cmpint(fd, >=, 0);
    mig_read(fd, b, false);
    /* MIG_DATA_SIZE said how much; a read at the end stays at 0. */
    g_assert_cmpint(b->len, ==, size);
    g_assert_cmpint(read(fd, &size, 1), ==, 0);
    g_assert_cmpint(mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL), ==, 0);
    /* The session ended with the arc out of STOP_COPY. */
    g_assert_cmpint(read(fd, &size, 1), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd);
    return b;
}

/* ---- tests ---- */

static void test_mig_feature(void)
{
    Sim sim;
    Legacy a, b;
    uint64_t flags = 0;
    struct vfio_device_feature f = {sizeof(f), 0};
    struct vfio_device_feature_mig_state m = {VFIO_DEVICE_STATE_STOP, -1};

    sim_start(&sim, "0000:00:05.0,type=dmatest",
              "0000:00:06.0,type=dmatest,migration=on,precopy=on");
    legacy_open(&a, 0, "0000:00:05.0");
    legacy_open(&b, 1, "0000:00:06.0");
    /* Without migration: as vfio-pci without migration ops. */
    g_assert_cmpint(
        feature(a.dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
                &flags, 8),
        ==, -ENOTTY);
    g_assert_cmpint(
        feature(a.dev,
                VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                &m, sizeof(m)),
        ==, -ENOTTY);
    g_assert_cmpint(
        feature(a.dev,
                VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
                &flags, 8),
        ==, -ENOTTY);
    g_assert_cmpint(reg_read(a.dev, R_MIG_STATE), ==,
                    VFIO_DEVICE_STATE_RUNNING);

    g_assert_cmpint(
        feature(b.dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
                &flags, 8),
        ==, 0);
    g_assert_cmpint(flags, ==,
                    VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
                        VFIO_MIGRATION_PRE_COPY);
    /* PROBE: GET is supported, SET is not; no data needed. */
    g_assert_cmpint(feature(b.dev,
                            VFIO_DEVICE_FEATURE_PROBE |
                                VFIO_DEVICE_FEATURE_GET |
                                VFIO_DEVICE_FEATURE_MIGRATION,
                            NULL, 0),
                    ==, 0);
    g_assert_cmpint(feature(b.dev,
                            VFIO_DEVICE_FEATURE_PROBE |
                                VFIO_DEVICE_FEATURE_SET |
                                VFIO_DEVICE_FEATURE_MIGRATION,
                            NULL, 0),
                    ==, -EINVAL);
    /* The header's rules: GET and SET at once, unknown bits, short data. */
    g_assert_cmpint(feature(b.dev,
                            VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET |
                                VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
                            &m, sizeof(m)),
                    ==, -EINVAL);
    g_assert_cmpint(feature(b.dev,
                            (1u << 20) | VFIO_DEVICE_FEATURE_GET |
                                VFIO_DEVICE_FEATURE_MIGRATION,
                            &flags, 8),
                    ==, -EINVAL);
    g_assert_cmpint(
        feature(b.dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
                &flags, 4),
        ==, -EINVAL);
    g_assert_cmpint(feature(b.dev, VFIO_DEVICE_FEATURE_MIGRATION, &flags, 8),
                    ==, -EINVAL);
    f.argsz = 4;
    g_assert_cmpint(ioctl(b.dev, VFIO_DEVICE_FEATURE, &f), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    /* Features vfio-pci has no ops for here. */
    g_assert_cmpint(
        feature(b.dev,
                VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN,
                &flags, 8),
        ==, -ENOTTY);
    /* 1 MiB of state by default: header, 256 chunks, registers, end. */
    g_assert_cmpint(mig_data_size(b.dev), >, 1 << 20);
    g_assert_cmpint(mig_data_size(b.dev), <, (1 << 20) + 16384);
    legacy_close(&a);
    legacy_close(&b);
    sim_stop(&sim);
}

/* The state machine: arcs, combinations, refusals, ERROR and reset. */
static void test_mig_fsm(void)
{
    Sim sim;
    Legacy l;
    uint8_t byte;
    int fd;

    sim_start(&sim, "0000:00:05.0,type=dmatest,migration=on,state-size=8K",
              NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_RUNNING);
    /* RUNNING -> RUNNING_P2P -> STOP, no data fd on the way. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_STOP, NULL), ==, 0);
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_STOP);
    g_assert_cmpint(reg_read(l.dev, R_MIG_STATE), ==, VFIO_DEVICE_STATE_STOP);
    /* ERROR is never a target; unknown and unsupported states neither. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_ERROR, NULL), ==, -EINVAL);
    g_assert_cmpint(mig_set(l.dev, 99, NULL), ==, -EINVAL);
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_PRE_COPY, NULL), ==,
                    -EINVAL);
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_STOP);
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==, 0);
    g_assert_cmpint(fd, >=, 0);
    /* A saving fd: not for writing (dropped), reads the stream. */
    g_assert_cmpint(read(fd, &byte, 1), ==, 1);
    /* STOP_COPY -> RUNNING walks STOP and RUNNING_P2P; the fd is done. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==, 0);
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_RUNNING);
    g_assert_cmpint(read(fd, &byte, 1), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd);
    /* RUNNING -> RESUMING in one call; its fd is write-only. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_RESUMING, &fd), ==, 0);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(read(fd, &byte, 1), ==, -1);
    g_assert_cmpint(errno, ==, EBADF);
    /* Nothing written: leaving RESUMING fails and the device is in ERROR. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==,
                    -EINVAL);
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_ERROR);
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_STOP, NULL), ==, -EINVAL);
    close(fd);
    /* Only a reset leaves ERROR, to RUNNING. */
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_RESET), ==, 0);
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_RUNNING);
    /* A reset also ends a session and returns to RUNNING. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==, 0);
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_RESET), ==, 0);
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_RUNNING);
    g_assert_cmpint(read(fd, &byte, 1), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd);
    /* The data fd is close-on-exec, as the kernel's. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==, 0);
    g_assert_cmpint(fcntl(fd, F_GETFD), ==, FD_CLOEXEC);
    close(fd);
    /* A failure a test injects: the arc into STOP_COPY fails, ERROR. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==, 0);
    reg_write(l.dev, R_MIG_FAIL, 0x100 | VFIO_DEVICE_STATE_STOP_COPY);
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==,
                    -EIO);
    g_assert_cmpint(fd, ==, -1);
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_ERROR);
    g_assert_cmpint(reg_read(l.dev, R_MIG_FAIL), ==, 0);
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_RESET), ==, 0);
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==, 0);
    close(fd);
    /* The last close resets: the next open finds RUNNING. */
    close(l.dev);
    l.dev = ioctl(l.grp, VFIO_GROUP_GET_DEVICE_FD, "0000:00:05.0");
    g_assert_cmpint(mig_get(l.dev), ==, VFIO_DEVICE_STATE_RUNNING);
    legacy_close(&l);
    sim_stop(&sim);
}

/*
 * Stop-copy from one device into another: the destination has the
 * source's registers and internal state, and its record stream goes on
 * from the source's HEAD into the same ring. The stopped source neither
 * writes records, nor interrupts, nor changes its state; RUNNING_P2P
 * still writes records to RAM.
 */
static void test_mig_stop_copy(void)
{
    Pair p;
    g_autoptr(GByteArray) st = NULL;
    uint32_t head, resets, sum;
    int64_t deadline;
    int efd;

    pair_open(&p, ",migration=on,state-size=200K,state-dirty-rate=4M",
              ",migration=on,state-size=200K,state-dirty-rate=4M");
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(set_irq_eventfd(p.src.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_TRIGGER, efd),
                    ==, 0);
    stream_start(p.src.dev, 256, 100, 1, 3);
    wait_head(p.src.dev, 50);
    g_assert_true(fd_fires(efd));
    /* The destination's clock: a stream of its own, 64 KiB further on. */
    reg_write(p.dst.dev, R_RING_LO, (uint32_t)RING_IOVA + 65536);
    reg_write(p.dst.dev, R_RING_ENTRIES, 256);
    reg_write(p.dst.dev, R_PERIOD_US, 100);
    reg_write(p.dst.dev, R_CTRL, 1);

    /* RUNNING_P2P: records to RAM go on. */
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL), ==,
                    0);
    wait_head(p.src.dev, reg_read(p.src.dev, R_HEAD) + 20);
    /* STOP: nothing moves while the clock writes 50 records. */
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP, NULL), ==, 0);
    reg_write(p.src.dev, R_TAIL, reg_read(p.src.dev, R_HEAD));
    while (!fd_idle(efd)) {
        uint64_t v;

        g_assert_cmpint(read(efd, &v, 8), ==, 8);
    }
    assert_still(p.src.dev, p.dst.dev, 50);
    g_assert_true(fd_idle(efd));
    head = reg_read(p.src.dev, R_HEAD);
    sum = reg_read(p.src.dev, R_STATE_SUM);
    st = save_stopped(p.src.dev);
    g_assert_cmpint(reg_read(p.src.dev, R_SAVED_STOP), ==, st->len);
    g_assert_cmpint(reg_read(p.src.dev, R_SAVED_PRE), ==, 0);

    /* The destination takes it (its own stream is replaced). */
    resets = reg_read(p.dst.dev, R_RESETS);
    g_assert_cmpint(mig_load(p.dst.dev, st->data, st->len), ==, 0);
    g_assert_cmpint(reg_read(p.dst.dev, R_LOADED), ==, st->len);
    g_assert_cmpint(mig_get(p.dst.dev), ==, VFIO_DEVICE_STATE_STOP);
    g_assert_cmpint(reg_read(p.dst.dev, R_HEAD), ==, head);
    g_assert_cmpint(reg_read(p.dst.dev, R_TAIL), ==, head);
    g_assert_cmpint(reg_read(p.dst.dev, R_RING_LO), ==, (uint32_t)RING_IOVA);
    g_assert_cmpint(reg_read(p.dst.dev, R_RING_ENTRIES), ==, 256);
    g_assert_cmpint(reg_read(p.dst.dev, R_IRQ_EVERY), ==, 1);
    g_assert_cmpint(reg_read(p.dst.dev, R_CTRL), ==, 3);
    g_assert_cmpint(reg_read(p.dst.dev, R_STATE_SUM), ==, sum);
    g_assert_cmpint(reg_read(p.dst.dev, R_RESETS), ==, resets);
    /* STOP -> RUNNING: record head + 1 next, into the same ring. */
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==, 0);
    deadline = g_get_monotonic_time() + HANG_US;
    wait_head(p.dst.dev, head + 300);
    g_assert_cmpint(ring_settle_check(p.dst.dev, p.ram), ==, 0);
    g_assert_cmpint(reg_read(p.dst.dev, R_FAULTS), ==, 0);
    /* Its state changes again while it runs; the source's does not. */
    while (reg_read(p.dst.dev, R_STATE_SUM) == sum) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        wait_head(p.dst.dev, reg_read(p.dst.dev, R_HEAD) + 10);
    }
    g_assert_cmpint(reg_read(p.src.dev, R_STATE_SUM), ==, sum);
    g_assert_cmpint(reg_read(p.src.dev, R_HEAD), ==, head);
    close(efd);
    pair_close(&p);
}

/*
 * RUNNING_P2P quiesces peer-to-peer DMA only: a device whose ring is in
 * another device's BAR (mapped into the container, as a VMM maps every
 * mmap'ed BAR) writes no record there until RUNNING again, while the
 * other device's records into RAM go on.
 */
static void test_mig_p2p(void)
{
    Sim sim;
    Legacy l;
    int grp2, dev2, ramfd;
    uint8_t *ram, *bar2;
    uint32_t head;

    sim_start(&sim, "0000:00:05.0,type=dmatest,group=1,migration=on",
              "0000:00:06.0,type=dmatest,group=2,migration=on");
    legacy_open(&l, 1, "0000:00:05.0");
    grp2 = open("/dev/vfio/2", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(ioctl(grp2, VFIO_GROUP_SET_CONTAINER, &l.ct), ==, 0);
    dev2 = ioctl(grp2, VFIO_GROUP_GET_DEVICE_FD, "0000:00:06.0");
    g_assert_cmpint(dev2, >=, 0);
    ram = ram_new(&ramfd);
    bar2 = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, dev2,
                (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
    g_assert_true(bar2 != MAP_FAILED);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    g_assert_cmpint(map_dma(l.ct, bar2, 0x40000000, 65536,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    /* The first device writes into the second's BAR; the second to RAM. */
    reg_write(l.dev, R_RING_LO, 0x40000000);
    reg_write(l.dev, R_RING_ENTRIES, 64);
    reg_write(l.dev, R_PERIOD_US, 100);
    reg_write(l.dev, R_CTRL, 1);
    stream_start(dev2, 256, 100, 0, 1);
    wait_head(l.dev, 20);
    /* Both in RUNNING_P2P: the BAR stream waits, the RAM stream goes on. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_RUNNING_P2P, NULL), ==, 0);
    g_assert_cmpint(mig_set(dev2, VFIO_DEVICE_STATE_RUNNING_P2P, NULL), ==, 0);
    reg_write(l.dev, R_TAIL, reg_read(l.dev, R_HEAD));
    assert_still(l.dev, dev2, 50);
    g_assert_cmpint(reg_read(l.dev, R_FAULTS), ==, 0);
    /* RUNNING again: the records that waited come, none lost. */
    g_assert_cmpint(mig_set(l.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==, 0);
    head = reg_read(l.dev, R_HEAD);
    wait_head(l.dev, head + 100);
    wait_head_full(l.dev, reg_read(l.dev, R_TAIL) + 64, false);
    g_assert_cmpint(ring_check(bar2, reg_read(l.dev, R_HEAD), 64), ==, 0);
    g_assert_cmpint(ring_settle_check(dev2, ram), ==, 0);
    close(dev2);
    close(grp2);
    legacy_close(&l);
    munmap(bar2, 65536);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

/* Cancel in STOP_COPY: the source runs again, its stream intact. */
static void test_mig_cancel(void)
{
    Pair p;
    uint8_t buf[1000];
    uint32_t head;
    int fd;

    pair_open(&p, ",migration=on", ",migration=on");
    stream_start(p.src.dev, 256, 100, 0, 1);
    wait_head(p.src.dev, 30);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==,
                    0);
    g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, sizeof(buf));
    head = reg_read(p.src.dev, R_HEAD);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==, 0);
    g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd);
    wait_head(p.src.dev, head + 300);
    g_assert_cmpint(ring_settle_check(p.src.dev, p.ram), ==, 0);
    g_assert_cmpint(reg_read(p.src.dev, R_FAULTS), ==, 0);
    g_assert_cmpint(reg_read(p.src.dev, R_RESETS), ==, 1);
    pair_close(&p);
}

/*
 * A destination refuses what is not a complete, consistent state of its
 * own kind: the arc out of RESUMING fails with EINVAL, the device is in
 * ERROR, and after the reset its own state is as it was.
 */
static void test_mig_refused(void)
{
    Pair p;
    g_autoptr(GByteArray) st = NULL;
    g_autoptr(GByteArray) bad = NULL;
    uint8_t junk[5000];
    uint32_t sum;
    size_t i;
    struct {
        const char *what;
        size_t cut;  /* bytes dropped at the end */
        size_t flip; /* byte inverted (0: none) */
    } cases[] = {
        {"truncated", 10, 0},
        {"truncated at a record boundary", 40, 0},
        {"a byte of the header", 0, 3},
        {"a byte of the state", 0, 30000},
        {"a byte of the end record", 0, (size_t)-1},
    };

    pair_open(&p, ",migration=on,state-size=64K",
              ",migration=on,state-size=64K");
    stream_start(p.src.dev, 256, 100, 0, 1);
    wait_head(p.src.dev, 10);
    st = save_stopped(p.src.dev);
    sum = reg_read(p.dst.dev, R_STATE_SUM);
    g_assert_cmpint(sum, !=, reg_read(p.src.dev, R_STATE_SUM));
    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        size_t flip = cases[i].flip == (size_t)-1 ? st->len - 1 : cases[i].flip;

        g_test_message("refused: %s", cases[i].what);
        bad = g_byte_array_new();
        g_byte_array_append(bad, st->data, st->len - cases[i].cut);
        if (cases[i].flip) {
            bad->data[flip] ^= 0xff;
        }
        g_assert_cmpint(mig_load(p.dst.dev, bad->data, bad->len), ==, -EINVAL);
        g_assert_cmpint(mig_get(p.dst.dev), ==, VFIO_DEVICE_STATE_ERROR);
        g_assert_cmpint(ioctl(p.dst.dev, VFIO_DEVICE_RESET), ==, 0);
        g_assert_cmpint(mig_get(p.dst.dev), ==, VFIO_DEVICE_STATE_RUNNING);
        g_assert_cmpint(reg_read(p.dst.dev, R_STATE_SUM), ==, sum);
        g_clear_pointer(&bad, g_byte_array_unref);
    }
    /* Not a state stream at all, or the same stream twice. */
    memset(junk, 0x5a, sizeof(junk));
    g_assert_cmpint(mig_load(p.dst.dev, junk, sizeof(junk)), ==, -EINVAL);
    g_assert_cmpint(ioctl(p.dst.dev, VFIO_DEVICE_RESET), ==, 0);
    bad = g_byte_array_new();
    g_byte_array_append(bad, st->data, st->len);
    g_byte_array_append(bad, st->data, st->len);
    g_assert_cmpint(mig_load(p.dst.dev, bad->data, bad->len), ==, -EINVAL);
    g_assert_cmpint(ioctl(p.dst.dev, VFIO_DEVICE_RESET), ==, 0);
    /* The intact stream is taken: the cases above failed on their fault. */
    g_assert_cmpint(mig_load(p.dst.dev, st->data, st->len), ==, 0);
    g_assert_cmpint(reg_read(p.dst.dev, R_STATE_SUM), ==,
                    reg_read(p.src.dev, R_STATE_SUM));
    pair_close(&p);
}

/*
 * Close data fd FD of device DEV and return once the daemon handled the
 * close (its ->release), so that what follows meets a session without
 * an fd. LOADED: the bytes written to a resuming FD, which the daemon
 * takes one message per loop iteration; once it took them all, the EOF
 * is all that is left on that connection, ready before the first of two
 * register reads is sent. The daemon's loop dispatches in one iteration
 * everything its poll found ready, so the iteration that answers that
 * read handles the EOF too, and the second read comes after it.
 */
static void close_settled(int dev, int fd, uint32_t loaded)
{
    wait_reg_at_least(dev, R_LOADED, loaded);
    close(fd);
    reg_read(dev, R_ID);
    reg_read(dev, R_ID);
}

/*
 * The VMM may close a data fd before the arc that ends its session: the
 * kernel's drivers hold the file themselves until then. Leaving RESUMING
 * still takes what was written (and still refuses what is wrong with
 * it); a saving session closed early ends at its arc.
 */
static void test_mig_fd_closed(void)
{
    Pair p;
    g_autoptr(GByteArray) st = NULL;
    uint32_t sum;
    int fd;

    pair_open(&p, ",migration=on,state-size=64K",
              ",migration=on,state-size=64K");
    stream_start(p.src.dev, 256, 100, 0, 1);
    wait_head(p.src.dev, 10);
    st = save_stopped(p.src.dev);
    sum = reg_read(p.dst.dev, R_STATE_SUM);
    /* Truncated, then closed: refused for the truncation. */
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_RESUMING, &fd), ==, 0);
    mig_write(fd, st->data, st->len - 10);
    close_settled(p.dst.dev, fd, st->len - 10);
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_STOP, NULL), ==,
                    -EINVAL);
    g_assert_cmpint(mig_get(p.dst.dev), ==, VFIO_DEVICE_STATE_ERROR);
    g_assert_cmpint(ioctl(p.dst.dev, VFIO_DEVICE_RESET), ==, 0);
    g_assert_cmpint(reg_read(p.dst.dev, R_STATE_SUM), ==, sum);
    /* Whole, then closed: taken. */
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_RESUMING, &fd), ==, 0);
    mig_write(fd, st->data, st->len);
    close_settled(p.dst.dev, fd, st->len);
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_STOP, NULL), ==, 0);
    g_assert_cmpint(reg_read(p.dst.dev, R_LOADED), ==, st->len);
    g_assert_cmpint(reg_read(p.dst.dev, R_STATE_SUM), ==,
                    reg_read(p.src.dev, R_STATE_SUM));
    /* Saving, closed unread: the arc out of STOP_COPY ends it. */
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd), ==,
                    0);
    close_settled(p.src.dev, fd, 0);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP, NULL), ==, 0);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==, 0);
    pair_close(&p);
}

/* Another device's state (a different state-size) is refused. */
static void test_mig_other_device(void)
{
    Pair p;
    g_autoptr(GByteArray) st = NULL;

    pair_open(&p, ",migration=on,state-size=64K",
              ",migration=on,state-size=128K");
    st = save_stopped(p.src.dev);
    g_assert_cmpint(mig_load(p.dst.dev, st->data, st->len), ==, -EINVAL);
    g_assert_cmpint(mig_get(p.dst.dev), ==, VFIO_DEVICE_STATE_ERROR);
    pair_close(&p);
}

static void precopy_info(int fd, uint64_t *initial, uint64_t *dirty)
{
    struct vfio_precopy_info info = {.argsz = sizeof(info)};

    g_assert_cmpint(ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info), ==, 0);
    *initial = info.initial_bytes;
    *dirty = info.dirty_bytes;
}

/* Wait (on the device's own records) until it dirtied >= bytes of state. */
static uint64_t wait_dirty(int dev, int fd, uint64_t bytes)
{
    uint64_t initial, dirty;

    for (;;) {
        precopy_info(fd, &initial, &dirty);
        g_assert_cmpint(initial, ==, 0);
        if (dirty >= bytes) {
            return dirty;
        }
        wait_head(dev, reg_read(dev, R_HEAD) + 5);
    }
}

/* The stream without its DATA records (records start after the header). */
static GByteArray *without_data(const GByteArray *s, size_t start)
{
    GByteArray *out = g_byte_array_new();
    size_t off = start;
    unsigned dropped = 0;

    g_byte_array_append(out, s->data, start);
    while (off < s->len) {
        uint32_t type, len;

        g_assert_cmpint(s->len - off, >=, 24);
        memcpy(&type, s->data + off, 4);
        memcpy(&len, s->data + off + 4, 4);
        g_assert_cmpint(s->len - off - 24, >=, len);
        if (type != 1) {
            g_byte_array_append(out, s->data + off, 24 + len);
        } else {
            dropped++;
        }
        off += 24 + len;
    }
    g_assert_cmpint(dropped, >, 0);
    return out;
}

/*
 * Pre-copy: the initial bytes while the source runs, then the bytes it
 * dirtied (ENOMSG between), PRECOPY_INFO counting both, STOP_COPY with
 * only what remains; the destination takes pre-copy + stop-copy, and
 * refuses it without the chunks re-sent in stop-copy (stale).
 */
static void test_mig_precopy(void)
{
    const uint64_t chunk_rec = 24 + 4096, full = 40 + 256 * chunk_rec;
    Pair p;
    g_autoptr(GByteArray) pre = g_byte_array_new();
    g_autoptr(GByteArray) stop = g_byte_array_new();
    g_autoptr(GByteArray) all = g_byte_array_new();
    g_autoptr(GByteArray) stale = NULL;
    uint64_t initial, dirty, size;
    struct vfio_precopy_info info = {.argsz = sizeof(info)};
    uint32_t head, sum;
    size_t before;
    int fd, fd2;

    pair_open(&p,
              ",migration=on,precopy=on,state-size=1M,state-dirty-rate=1M",
              ",migration=on,precopy=on,state-size=1M");
    stream_start(p.src.dev, 256, 100, 0, 1);
    wait_head(p.src.dev, 10);
    g_assert_cmpint(mig_data_size(p.src.dev), ==, full + 24 + 48 + 24 + 16);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_PRE_COPY, &fd), ==,
                    0);
    g_assert_cmpint(fd, >=, 0);
    /* Nothing read yet: everything is initial, nothing dirty. */
    precopy_info(fd, &initial, &dirty);
    g_assert_cmpint(initial, ==, full);
    g_assert_cmpint(dirty, ==, 0);
    /* The initial bytes, while the device streams on. */
    head = reg_read(p.src.dev, R_HEAD);
    mig_read(fd, pre, true);
    g_assert_cmpint(pre->len, >=, full);
    wait_head(p.src.dev, head + 20);
    /* Dirty bytes come as the device changes its state. */
    dirty = wait_dirty(p.src.dev, fd, 2 * chunk_rec);
    before = pre->len;
    mig_read(fd, pre, true);
    g_assert_cmpint(pre->len - before, >=, dirty);
    g_assert_cmpint(reg_read(p.src.dev, R_SAVED_PRE), ==, pre->len);
    /* PRE_COPY -> PRE_COPY_P2P -> PRE_COPY keeps the session. */
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_PRE_COPY_P2P, &fd2),
                    ==, 0);
    g_assert_cmpint(fd2, ==, -1);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_PRE_COPY, &fd2), ==,
                    0);
    g_assert_cmpint(fd2, ==, -1);
    wait_dirty(p.src.dev, fd, 2 * chunk_rec);
    /* STOP_COPY: same fd, only what is left, exactly MIG_DATA_SIZE. */
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd2), ==,
                    0);
    g_assert_cmpint(fd2, ==, -1);
    g_assert_cmpint(ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    size = mig_data_size(p.src.dev);
    g_assert_cmpint(size, <, full);
    sum = reg_read(p.src.dev, R_STATE_SUM);
    head = reg_read(p.src.dev, R_HEAD);
    mig_read(fd, stop, false);
    g_assert_cmpint(stop->len, ==, size);
    g_assert_cmpint(stop->len, >=, 2 * chunk_rec);
    g_assert_cmpint(reg_read(p.src.dev, R_SAVED_STOP), ==, stop->len);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP, NULL), ==, 0);
    close(fd);

    /* Stale: pre-copy without the chunks stop-copy sent again. */
    stale = without_data(stop, 0);
    g_byte_array_prepend(stale, pre->data, pre->len);
    g_assert_cmpint(mig_load(p.dst.dev, stale->data, stale->len), ==, -EINVAL);
    g_assert_cmpint(mig_get(p.dst.dev), ==, VFIO_DEVICE_STATE_ERROR);
    g_assert_cmpint(ioctl(p.dst.dev, VFIO_DEVICE_RESET), ==, 0);
    /* The whole stream: the source's state, the stream goes on. */
    g_byte_array_append(all, pre->data, pre->len);
    g_byte_array_append(all, stop->data, stop->len);
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_RESUMING, &fd2), ==,
                    0);
    g_assert_cmpint(ioctl(fd2, VFIO_MIG_GET_PRECOPY_INFO, &info), ==, -1);
    g_assert_cmpint(errno, ==, ENOTTY);
    close(fd2);
    g_assert_cmpint(ioctl(p.dst.dev, VFIO_DEVICE_RESET), ==, 0);
    g_assert_cmpint(mig_load(p.dst.dev, all->data, all->len), ==, 0);
    g_assert_cmpint(reg_read(p.dst.dev, R_STATE_SUM), ==, sum);
    g_assert_cmpint(reg_read(p.dst.dev, R_HEAD), ==, head);
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==,
                    0);
    wait_head(p.dst.dev, head + 300);
    g_assert_cmpint(ring_settle_check(p.dst.dev, p.ram), ==,
                    0);
    g_assert_cmpint(reg_read(p.dst.dev, R_FAULTS), ==, 0);
    pair_close(&p);
}

/* Pre-copy cancelled: PRE_COPY -> RUNNING ends the session. */
static void test_mig_precopy_cancel(void)
{
    Pair p;
    g_autoptr(GByteArray) pre = g_byte_array_new();
    uint8_t b;
    int fd;

    pair_open(&p, ",migration=on,precopy=on,state-size=64K",
              ",migration=on,precopy=on,state-size=64K");
    stream_start(p.src.dev, 256, 100, 0, 1);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_PRE_COPY_P2P, &fd),
                    ==, 0);
    g_assert_cmpint(fd, >=, 0);
    mig_read(fd, pre, true);
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==, 0);
    g_assert_cmpint(read(fd, &b, 1), ==, -1);
    g_assert_cmpint(errno, ==, ENODEV);
    close(fd);
    wait_head(p.src.dev, 300);
    g_assert_cmpint(ring_settle_check(p.src.dev, p.ram), ==,
                    0);
    /* A second pre-copy starts from the beginning on a new fd. */
    g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_PRE_COPY, &fd), ==, 0);
    g_byte_array_set_size(pre, 0);
    mig_read(fd, pre, true);
    g_assert_cmpint(pre->len, ==, 40 + 16 * (24 + 4096));
    close(fd);
    pair_close(&p);
}

/*
 * A figure, not a check (only with -m perf): downtime and total time of
 * moving a 64 MiB state that changes at 8 MiB/s from one device to the
 * other, with and without pre-copy. Downtime is from the source's stop
 * to the destination running; the VMM side here is this test's loop.
 */
static void bench_one(bool precopy)
{
    Pair p;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    const char *opts = precopy ? ",migration=on,precopy=on,state-size=64M,"
                                 "state-dirty-rate=8M"
                               : ",migration=on,state-size=64M,"
                                 "state-dirty-rate=8M";
    uint64_t pre = 0, stop, initial, dirty;
    int64_t t0, t1, t2;
    int fd, dfd, rounds = 0;

    pair_open(&p, opts, opts);
    stream_start(p.src.dev, 1024, 100, 0, 1);
    wait_head(p.src.dev, 10);
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_RESUMING, &dfd), ==,
                    0);
    t0 = g_get_monotonic_time();
    if (precopy) {
        g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_PRE_COPY, &fd),
                        ==, 0);
        /* Iterate until what is dirty is small (a VMM's threshold). */
        do {
            struct vfio_precopy_info info = {.argsz = sizeof(info)};

            g_byte_array_set_size(buf, 0);
            mig_read(fd, buf, true);
            mig_write(dfd, buf->data, buf->len);
            pre += buf->len;
            rounds++;
            g_assert_cmpint(ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info), ==,
                            0);
            initial = info.initial_bytes;
            dirty = info.dirty_bytes;
        } while (initial || (dirty > (256 << 10) && rounds < 20));
        t1 = g_get_monotonic_time();
        g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP_COPY, NULL),
                        ==, 0);
    } else {
        t1 = g_get_monotonic_time();
        g_assert_cmpint(mig_set(p.src.dev, VFIO_DEVICE_STATE_STOP_COPY, &fd),
                        ==, 0);
    }
    g_byte_array_set_size(buf, 0);
    mig_read(fd, buf, false);
    mig_write(dfd, buf->data, buf->len);
    stop = buf->len;
    g_assert_cmpint(mig_set(p.dst.dev, VFIO_DEVICE_STATE_RUNNING, NULL), ==,
                    0);
    t2 = g_get_monotonic_time();
    close(fd);
    close(dfd);
    g_assert_cmpint(reg_read(p.dst.dev, R_HEAD), >=,
                    reg_read(p.src.dev, R_HEAD));
    g_test_message("pre-copy %s: downtime %.1f ms, total %.1f ms; pre-copy "
                   "%.1f MiB in %d round(s), stop-copy %.2f MiB",
                   precopy ? "on " : "off", (t2 - t1) / 1000.0,
                   (t2 - t0) / 1000.0, pre / 1048576.0, rounds,
                   stop / 1048576.0);
    pair_close(&p);
}

static void test_mig_bench(void)
{
    if (!g_test_perf()) {
        g_test_skip("a figure: run with -m perf");
        return;
    }
    bench_one(false);
    bench_one(true);
}

void hostsim_add_mig_tests(void)
{
    g_test_add_func("/hostsim/mig/feature", test_mig_feature);
    g_test_add_func("/hostsim/mig/fsm", test_mig_fsm);
    g_test_add_func("/hostsim/mig/stop-copy", test_mig_stop_copy);
    g_test_add_func("/hostsim/mig/p2p", test_mig_p2p);
    g_test_add_func("/hostsim/mig/cancel", test_mig_cancel);
    g_test_add_func("/hostsim/mig/refused", test_mig_refused);
    g_test_add_func("/hostsim/mig/fd-closed", test_mig_fd_closed);
    g_test_add_func("/hostsim/mig/other-device", test_mig_other_device);
    g_test_add_func("/hostsim/mig/precopy", test_mig_precopy);
    g_test_add_func("/hostsim/mig/precopy-cancel", test_mig_precopy_cancel);
    g_test_add_func("/hostsim/mig/bench", test_mig_bench);
}
