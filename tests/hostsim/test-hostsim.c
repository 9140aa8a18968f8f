/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host simulator against the real uAPI, used as a VMM uses it (open,
 * ioctl, pread/pwrite, mmap on /dev/vfio, /dev/iommu and /sys paths): the
 * legacy container and iommufd, the dmatest stream, interrupts, resets,
 * hand-over of the fds to another process (exec inheritance and
 * SCM_RIGHTS) with UNMAP/MAP_FLAG_VADDR and IOAS_CHANGE_PROCESS,
 * RLIMIT_MEMLOCK, mdev stalls, and errno values. Each test starts its own
 * hostsimd. The binary re-executes itself with LD_PRELOAD set; it also
 * serves as the helper processes of the hand-over test (--helper).
 * Waits are on device state with deadlines that only end a hung test.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/vfio.h>
#include <glib.h>

#include "standard-headers/linux/iommufd.h"
#include "standard-headers/linux/vfio-extra.h"

#define R_ID 0x00
#define R_CTRL 0x04
#define R_RING_LO 0x08
#define R_RING_HI 0x0c
#define R_RING_ENTRIES 0x10
#define R_PERIOD_US 0x14
#define R_HEAD 0x18
#define R_TAIL 0x1c
#define R_OVERFLOWS 0x20
#define R_RESETS 0x24
#define R_IRQ_EVERY 0x28
#define R_FAULTS 0x2c
#define R_STALLS 0x30

#define RAM_SIZE (2u << 20)
#define RING_IOVA 0x100000ull
#define HANG_US (20 * G_USEC_PER_SEC) /* only a hung test gets here */

static char **g_argv;

/* ---- the daemon ---- */

typedef struct Sim {
    char *dir;
    char *sock;
    GPid pid;
} Sim;

/* A test that fails does not leave its daemon behind. */
static void sim_child_setup(gpointer opaque)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void sim_start(Sim *s, const char *dev0, const char *dev1)
{
    const char *daemon = g_getenv("HOSTSIMD");
    const char *argv[] = {daemon,     "--socket", NULL,
                          "--device", dev0,       dev1 ? "--device" : NULL,
                          dev1,       NULL};
    g_auto(GStrv) env = g_environ_unsetenv(g_get_environ(), "LD_PRELOAD");
    g_autoptr(GError) err = NULL;
    char buf[64];
    size_t got = 0;
    int out;

    s->dir = g_dir_make_tmp("hostsim-XXXXXX", &err);
    g_assert_no_error(err);
    s->sock = g_build_filename(s->dir, "sock", NULL);
    argv[2] = s->sock;
    /* The daemon's own exit-time allocations are not what is tested. */
    if (g_environ_getenv(env, "ASAN_OPTIONS")) {
        env = g_environ_setenv(env, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
    }
    g_spawn_async_with_pipes(NULL, (char **)argv, env,
                             G_SPAWN_DO_NOT_REAP_CHILD, sim_child_setup, NULL,
                             &s->pid, NULL, &out, NULL, &err);
    g_assert_no_error(err);
    /* Ready once it says so (it listens before printing). */
    while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
        ssize_t n = read(out, buf + got, sizeof(buf) - 1 - got);

        g_assert_cmpint(n, >, 0);
        got += n;
    }
    buf[got] = '\0';
    g_assert_nonnull(strstr(buf, "hostsimd: ready"));
    close(out);
    g_setenv("HOSTSIM_SOCKET", s->sock, TRUE);
}

static void sim_stop(Sim *s)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", s->dir);
    int status;

    kill(s->pid, SIGTERM);
    g_assert_cmpint(waitpid(s->pid, &status, 0), ==, s->pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(s->dir);
    g_free(s->sock);
}

/* ---- device helpers (what a VMM does) ---- */

static uint32_t reg_read(int dev, unsigned off)
{
    uint32_t v = 0;

    g_assert_cmpint(pread(dev, &v, 4, off), ==, 4); /* BAR0 at 0 */
    return v;
}

static void reg_write(int dev, unsigned off, uint32_t v)
{
    g_assert_cmpint(pwrite(dev, &v, 4, off), ==, 4);
}

/*
 * Wait until HEAD reaches target. A driver consumes while it waits
 * (TAIL = HEAD), so a slow host never finds the ring full; the overflow
 * check passes consume = false.
 */
static void wait_head_full(int dev, uint32_t target, bool consume)
{
    int64_t deadline = g_get_monotonic_time() + HANG_US;
    uint32_t head;

    while ((head = reg_read(dev, R_HEAD)) < target) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        if (consume) {
            reg_write(dev, R_TAIL, head);
        }
        g_usleep(500);
    }
}

static void wait_head(int dev, uint32_t target)
{
    wait_head_full(dev, target, true);
}

static void wait_reg_nonzero(int dev, unsigned reg)
{
    int64_t deadline = g_get_monotonic_time() + HANG_US;

    while (!reg_read(dev, reg)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(500);
    }
}

static void stream_start(int dev, uint32_t entries, uint32_t period,
                         uint32_t irq_every, uint32_t ctrl)
{
    reg_write(dev, R_RING_LO, (uint32_t)RING_IOVA);
    reg_write(dev, R_RING_HI, RING_IOVA >> 32);
    reg_write(dev, R_RING_ENTRIES, entries);
    reg_write(dev, R_PERIOD_US, period);
    reg_write(dev, R_IRQ_EVERY, irq_every);
    reg_write(dev, R_CTRL, ctrl);
}

/* Records 1..head in the ring (not yet wrapped): how many are wrong. */
static unsigned ring_check(const uint8_t *ring, uint32_t head, uint32_t entries)
{
    unsigned bad = 0;
    uint64_t n;

    for (n = head > entries ? head - entries + 1 : 1; n <= head; n++) {
        const uint8_t *r = ring + ((n - 1) % entries) * 16;
        uint64_t v;
        uint32_t inv, magic;

        memcpy(&v, r, 8);
        memcpy(&inv, r + 8, 4);
        memcpy(&magic, r + 12, 4);
        bad += v != n || inv != ~(uint32_t)n || magic != 0x444d4154u;
    }
    return bad;
}

static uint8_t *ram_new(int *fd)
{
    uint8_t *p;

    *fd = memfd_create("guest-ram", MFD_CLOEXEC);
    g_assert_cmpint(*fd, >=, 0);
    g_assert_cmpint(ftruncate(*fd, RAM_SIZE), ==, 0);
    p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    g_assert_true(p != MAP_FAILED);
    return p;
}

static int map_dma(int ct, void *vaddr, uint64_t iova, uint64_t size,
                   uint32_t flags)
{
    struct vfio_iommu_type1_dma_map m = {
        .argsz = sizeof(m),
        .flags = flags,
        .vaddr = (uintptr_t)vaddr,
        .iova = iova,
        .size = size,
    };

    return ioctl(ct, VFIO_IOMMU_MAP_DMA, &m) < 0 ? -errno : 0;
}

static int unmap_dma(int ct, uint64_t iova, uint64_t size, uint32_t flags)
{
    struct vfio_iommu_type1_dma_unmap u = {
        .argsz = sizeof(u),
        .flags = flags,
        .iova = iova,
        .size = size,
    };

    return ioctl(ct, VFIO_IOMMU_UNMAP_DMA, &u) < 0 ? -errno : 0;
}

typedef struct Legacy {
    int ct, grp, dev;
} Legacy;

static void legacy_open(Legacy *l, int group, const char *bdf)
{
    g_autofree char *gpath = g_strdup_printf("/dev/vfio/%d", group);
    struct vfio_group_status st = {.argsz = sizeof(st)};

    l->ct = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(l->ct, >=, 0);
    g_assert_cmpint(ioctl(l->ct, VFIO_GET_API_VERSION), ==, VFIO_API_VERSION);
    g_assert_cmpint(ioctl(l->ct, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU), ==,
                    1);
    l->grp = open(gpath, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(l->grp, >=, 0);
    g_assert_cmpint(ioctl(l->grp, VFIO_GROUP_GET_STATUS, &st), ==, 0);
    g_assert_cmpint(st.flags, ==, VFIO_GROUP_FLAGS_VIABLE);
    g_assert_cmpint(ioctl(l->grp, VFIO_GROUP_SET_CONTAINER, &l->ct), ==, 0);
    g_assert_cmpint(ioctl(l->ct, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), ==, 0);
    l->dev = ioctl(l->grp, VFIO_GROUP_GET_DEVICE_FD, bdf);
    g_assert_cmpint(l->dev, >=, 0);
}

static void legacy_close(Legacy *l)
{
    close(l->dev);
    close(l->grp);
    close(l->ct);
}

static bool fd_fires(int efd)
{
    struct pollfd p = {.fd = efd, .events = POLLIN};
    uint64_t v;

    if (poll(&p, 1, HANG_US / 1000) != 1) {
        return false;
    }
    return read(efd, &v, 8) == 8;
}

static bool fd_idle(int efd)
{
    struct pollfd p = {.fd = efd, .events = POLLIN};

    return poll(&p, 1, 0) == 0;
}

static int set_irq_eventfd(int dev, uint32_t index, uint32_t action,
                           int32_t efd)
{
    struct {
        struct vfio_irq_set s;
        int32_t fd;
    } a = {{sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | action, index, 0, 1}, efd};

    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &a) < 0 ? -errno : 0;
}

static int set_irq_none(int dev, uint32_t index, uint32_t action,
                        uint32_t count)
{
    struct vfio_irq_set s = {sizeof(s), VFIO_IRQ_SET_DATA_NONE | action, index,
                             0, count};

    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

/* glibc's fortified entry points, declared only under _FORTIFY_SOURCE. */
ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t offset,
                      size_t buflen);
ssize_t __readlink_chk(const char *path, char *out, size_t size, size_t buflen);
char *__realpath_chk(const char *path, char *resolved, size_t resolvedlen);

/* ---- tests ---- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* A figure, not a check: median cost of a simulated ioctl and pread. */
static void report_costs(int ct, int dev)
{
    enum { N = 301 };
    int64_t t[2][N];
    int i;

    for (i = 0; i < N; i++) {
        int64_t t0 = g_get_monotonic_time();

        g_assert_cmpint(ioctl(ct, VFIO_GET_API_VERSION), ==, 0);
        t[0][i] = g_get_monotonic_time() - t0;
        t0 = g_get_monotonic_time();
        reg_read(dev, R_HEAD);
        t[1][i] = g_get_monotonic_time() - t0;
    }
    qsort(t[0], N, sizeof(int64_t), cmp_i64);
    qsort(t[1], N, sizeof(int64_t), cmp_i64);
    g_test_message(
        "simulated round trip (median of %d): ioctl %" G_GINT64_FORMAT
        " us, 4-byte pread %" G_GINT64_FORMAT " us",
        N, t[0][N / 2], t[1][N / 2]);
}

static void test_sysfs(void)
{
    Sim sim;
    char buf[PATH_MAX];
    g_autofree char *vendor = NULL;
    struct stat st;
    ssize_t n;
    DIR *d;
    struct dirent *e;
    bool found = false;
    FILE *f;

    sim_start(&sim, "0000:00:05.0,type=dmatest,group=3", NULL);
    n = readlink("/sys/bus/pci/devices/0000:00:05.0/iommu_group", buf,
                 sizeof(buf) - 1);
    g_assert_cmpint(n, >, 0);
    buf[n] = '\0';
    g_assert_cmpstr(buf, ==, "../../../kernel/iommu_groups/3");
    n = __readlink_chk("/sys/bus/pci/devices/0000:00:05.0/iommu_group", buf,
                       sizeof(buf) - 1, sizeof(buf));
    g_assert_cmpint(n, ==, strlen("../../../kernel/iommu_groups/3"));
    g_assert_nonnull(
        __realpath_chk("/sys/bus/pci/devices/0000:00:05.0", buf, sizeof(buf)));
    g_assert_cmpstr(buf, ==, "/sys/devices/hostsim/0000:00:05.0");
    g_assert_true(g_file_get_contents("/sys/bus/pci/devices/0000:00:05.0/"
                                      "vendor",
                                      &vendor, NULL, NULL));
    g_assert_cmpstr(vendor, ==, "0xba70\n");
    f = fopen("/sys/bus/pci/devices/0000:00:05.0/device", "r");
    g_assert_nonnull(f);
    g_assert_nonnull(fgets(buf, sizeof(buf), f));
    g_assert_cmpstr(buf, ==, "0x0001\n");
    fclose(f);
    g_assert_cmpint(stat("/sys/bus/pci/devices/0000:00:05.0", &st), ==, 0);
    g_assert_true(S_ISDIR(st.st_mode));
    g_assert_nonnull(realpath("/sys/bus/pci/devices/0000:00:05.0", buf));
    g_assert_cmpstr(buf, ==, "/sys/devices/hostsim/0000:00:05.0");
    d = opendir("/sys/bus/pci/devices/0000:00:05.0/vfio-dev");
    g_assert_nonnull(d);
    while ((e = readdir(d))) {
        found |= !strcmp(e->d_name, "vfio0");
    }
    closedir(d);
    g_assert_true(found);
    g_assert_cmpint(stat("/dev/vfio/devices/vfio0", &st), ==, 0);
    if (getuid() == 0) {
        g_assert_true(S_ISCHR(st.st_mode));
    }
    g_assert_cmpint(access("/dev/vfio/3", F_OK), ==, 0);
    g_assert_cmpint(access("/dev/vfio/4", F_OK), ==, -1);
    g_assert_cmpint(open("/dev/vfio/4", O_RDWR), ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
    /* Other devices' paths are untouched. */
    g_assert_cmpint(access("/sys/bus/pci/devices/0000:7f:1f.7", F_OK), ==, -1);
    sim_stop(&sim);
}

static void test_legacy_stream(void)
{
    Sim sim;
    Legacy l;
    struct vfio_device_info di = {.argsz = sizeof(di)};
    struct vfio_region_info ri = {.argsz = sizeof(ri)};
    uint8_t rbuf[sizeof(ri) + 64];
    struct vfio_region_info *rip = (void *)rbuf;
    struct vfio_region_info_cap_sparse_mmap *sp;
    struct vfio_irq_info ii = {.argsz = sizeof(ii)};
    uint8_t cfg[256];
    uint8_t *ram, *bar2;
    uint32_t head, v;
    unsigned cap;
    int ramfd, efd;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_INFO, &di), ==, 0);
    g_assert_true(di.flags & VFIO_DEVICE_FLAGS_PCI);
    g_assert_true(di.flags & VFIO_DEVICE_FLAGS_RESET);
    g_assert_cmpint(di.num_regions, ==, 9);
    g_assert_cmpint(di.num_irqs, ==, 5);
    ri.index = VFIO_PCI_BAR0_REGION_INDEX;
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), ==, 0);
    g_assert_cmpint(ri.size, ==, 4096);
    g_assert_cmpint(ri.offset, ==, 0);
    g_assert_false(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
    /* BAR2: too small for the cap chain -> argsz says how much. */
    ri.index = VFIO_PCI_BAR2_REGION_INDEX;
    ri.argsz = sizeof(ri);
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_REGION_INFO, &ri), ==, 0);
    g_assert_true(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
    g_assert_true(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
    g_assert_cmpint(ri.argsz, >, sizeof(ri));
    g_assert_cmpint(ri.argsz, <=, sizeof(rbuf));
    memset(rbuf, 0, sizeof(rbuf));
    rip->argsz = sizeof(rbuf);
    rip->index = VFIO_PCI_BAR2_REGION_INDEX;
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_REGION_INFO, rip), ==, 0);
    g_assert_cmpint(rip->cap_offset, ==, sizeof(ri));
    sp = (void *)(rbuf + rip->cap_offset);
    g_assert_cmpint(sp->header.id, ==, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
    g_assert_cmpint(sp->nr_areas, ==, 1);
    g_assert_cmpint(sp->areas[0].size, ==, 65536);
    ii.index = VFIO_PCI_MSIX_IRQ_INDEX;
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_IRQ_INFO, &ii), ==, 0);
    g_assert_cmpint(ii.count, ==, 2);
    ii.index = VFIO_PCI_INTX_IRQ_INDEX;
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_IRQ_INFO, &ii), ==, 0);
    g_assert_true(ii.flags & VFIO_IRQ_INFO_AUTOMASKED);

    /* Config space: ids and the capability list PM -> MSI -> MSI-X. */
    g_assert_cmpint(
        pread(l.dev, cfg, 256, (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40),
        ==, 256);
    g_assert_cmpint(cfg[0] | cfg[1] << 8, ==, 0xba70);
    g_assert_cmpint(cfg[2] | cfg[3] << 8, ==, 0x0001);
    g_assert_cmpint(cfg[0x3d], ==, 1);
    cap = cfg[0x34];
    g_assert_cmpint(cfg[cap], ==, 0x01);
    cap = cfg[cap + 1];
    g_assert_cmpint(cfg[cap], ==, 0x05);
    cap = cfg[cap + 1];
    g_assert_cmpint(cfg[cap], ==, 0x11);
    memcpy(&v, cfg + cap + 4, 4);
    g_assert_cmpint(v, ==, 0x800); /* MSI-X table: BAR0 + 0x800 */

    /* BAR2 is shared memory: what mmap writes, pread reads. */
    bar2 = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, l.dev,
                (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
    g_assert_true(bar2 != MAP_FAILED);
    memcpy(bar2 + 100, "dmatest", 8);
    memset(cfg, 0, 8);
    g_assert_cmpint(pread(l.dev, cfg, 8,
                          ((uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40) + 100),
                    ==, 8);
    g_assert_cmpstr((char *)cfg, ==, "dmatest");
    munmap(bar2, 65536);

    g_assert_cmpint(reg_read(l.dev, R_ID), ==, 0xba700001);
    g_assert_cmpint(reg_read(l.dev, R_RESETS), ==, 1); /* first open */
    report_costs(l.ct, l.dev);
    /* What a program built with _FORTIFY_SOURCE calls (Debian's QEMU). */
    v = 0;
    g_assert_cmpint(__pread64_chk(l.dev, &v, 4, R_ID, 4), ==, 4);
    g_assert_cmpint(v, ==, 0xba700001);

    ram = ram_new(&ramfd);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(set_irq_eventfd(l.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_TRIGGER, efd),
                    ==, 0);
    stream_start(l.dev, 256, 100, 16, 3);
    wait_head(l.dev, 16);
    g_assert_true(fd_fires(efd)); /* MSI-X vector 0 */
    /* Consume: the device never overwrites what TAIL has not passed. */
    head = reg_read(l.dev, R_HEAD);
    g_assert_cmpint(ring_check(ram, head, 256), ==, 0);
    reg_write(l.dev, R_TAIL, head);
    /* The ring fills up to TAIL + 256, then records are due in vain. */
    wait_head_full(l.dev, head + 256, false);
    wait_reg_nonzero(l.dev, R_OVERFLOWS);
    g_assert_cmpint(reg_read(l.dev, R_HEAD), ==, head + 256);
    g_assert_cmpint(ring_check(ram, head + 256, 256), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_FAULTS), ==, 0);

    /* A reset is visible: RESETS counts it, the rest is zero. */
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_RESET), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_RESETS), ==, 2);
    g_assert_cmpint(reg_read(l.dev, R_CTRL), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_HEAD), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_RING_ENTRIES), ==, 0);

    /* Unmapped ring: FAULTS, nothing written. */
    g_assert_cmpint(unmap_dma(l.ct, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL), ==, 0);
    memset(ram, 0, 4096);
    stream_start(l.dev, 256, 100, 0, 1);
    {
        int64_t deadline = g_get_monotonic_time() + HANG_US;

        while (reg_read(l.dev, R_FAULTS) < 3) {
            g_assert_cmpint(g_get_monotonic_time(), <, deadline);
            g_usleep(500);
        }
    }
    g_assert_cmpint(reg_read(l.dev, R_HEAD), ==, 0);
    g_assert_cmpint(ram[12], ==, 0);

    close(efd);
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

static void test_legacy_intx(void)
{
    Sim sim;
    Legacy l;
    uint8_t *ram;
    uint32_t head;
    int ramfd, efd, unmask;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    unmask = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(set_irq_eventfd(l.dev, VFIO_PCI_INTX_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_TRIGGER, efd),
                    ==, 0);
    /* MSI-X cannot be enabled while INTx is. */
    g_assert_cmpint(set_irq_eventfd(l.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_TRIGGER, efd),
                    ==, -EINVAL);
    stream_start(l.dev, 4096, 200, 1, 3);
    g_assert_true(fd_fires(efd));
    /* Automasked: more records (each one an interrupt) stay pending. */
    head = reg_read(l.dev, R_HEAD);
    wait_head(l.dev, head + 3);
    g_assert_true(fd_idle(efd));
    g_assert_cmpint(set_irq_none(l.dev, VFIO_PCI_INTX_IRQ_INDEX,
                                 VFIO_IRQ_SET_ACTION_UNMASK, 1),
                    ==, 0);
    g_assert_true(fd_fires(efd));
    head = reg_read(l.dev, R_HEAD);
    wait_head(l.dev, head + 3);
    g_assert_true(fd_idle(efd));
    /* Unmask through an eventfd (KVM's resamplefd). */
    g_assert_cmpint(set_irq_eventfd(l.dev, VFIO_PCI_INTX_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_UNMASK, unmask),
                    ==, 0);
    g_assert_cmpint(eventfd_write(unmask, 1), ==, 0);
    g_assert_true(fd_fires(efd));
    /* Disable: count 0, DATA_NONE. */
    g_assert_cmpint(set_irq_none(l.dev, VFIO_PCI_INTX_IRQ_INDEX,
                                 VFIO_IRQ_SET_ACTION_TRIGGER, 0),
                    ==, 0);
    g_assert_cmpint(set_irq_eventfd(l.dev, VFIO_PCI_MSIX_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_TRIGGER, efd),
                    ==, 0);
    close(efd);
    close(unmask);
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

static void test_legacy_errors(void)
{
    Sim sim;
    Legacy l;
    struct vfio_irq_set bad = {
        sizeof(bad), VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 9, 0,
        1};
    uint8_t *ram, *anon;
    uint32_t v;
    int ramfd, grp2;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    /* One open of a group at a time. */
    grp2 = open("/dev/vfio/0", O_RDWR);
    g_assert_cmpint(grp2, ==, -1);
    g_assert_cmpint(errno, ==, EBUSY);
    g_assert_cmpint(ioctl(l.ct, _IO(VFIO_TYPE, VFIO_BASE + 50)), ==, -1);
    g_assert_cmpint(errno, ==, ENOTTY);
    g_assert_cmpint(ioctl(l.ct, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpint(ioctl(l.grp, VFIO_GROUP_GET_DEVICE_FD, "0000:00:06.0"), ==,
                    -1);
    g_assert_cmpint(errno, ==, ENODEV);
    g_assert_cmpint(ioctl(l.grp, VFIO_GROUP_UNSET_CONTAINER), ==, -1);
    g_assert_cmpint(errno, ==, EBUSY);
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_SET_IRQS, &bad), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_cmpint(pread(l.dev, &v, 4, 4096), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    g_assert_true(mmap(NULL, 4096, PROT_READ, MAP_SHARED, l.dev, 0) ==
                  MAP_FAILED);
    g_assert_cmpint(errno, ==, EINVAL);
    /* MSI-X table reads as all-ones, writes are dropped. */
    g_assert_cmpint(reg_read(l.dev, 0x800), ==, 0xffffffff);

    /* Mappings. */
    anon = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_assert_cmpint(map_dma(l.ct, anon, 0, 1 << 20,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, -EFAULT);
    g_assert_cmpint(map_dma(l.ct, ram + 1, 0, 4096, VFIO_DMA_MAP_FLAG_READ), ==,
                    -EINVAL);
    g_assert_cmpint(
        map_dma(l.ct, ram, 0xfee00000, 4096, VFIO_DMA_MAP_FLAG_READ), ==,
        -EINVAL);
    g_assert_cmpint(map_dma(l.ct, ram, 0, 4096, 0), ==, -EINVAL);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    g_assert_cmpint(
        map_dma(l.ct, ram, RING_IOVA + 4096, 4096, VFIO_DMA_MAP_FLAG_READ), ==,
        -EEXIST);
    g_assert_cmpint(unmap_dma(l.ct, RING_IOVA, 4096, 0), ==, -EINVAL);
    g_assert_cmpint(unmap_dma(l.ct, RING_IOVA, 0, VFIO_DMA_UNMAP_FLAG_ALL), ==,
                    -EINVAL);
    /* MAP_FLAG_VADDR needs an invalidated vaddr of one whole mapping. */
    g_assert_cmpint(
        map_dma(l.ct, ram, RING_IOVA, RAM_SIZE, VFIO_DMA_MAP_FLAG_VADDR), ==,
        -EINVAL);
    g_assert_cmpint(
        map_dma(l.ct, ram, 0x40000000, RAM_SIZE, VFIO_DMA_MAP_FLAG_VADDR), ==,
        -ENOENT);
    g_assert_cmpint(
        unmap_dma(l.ct, 0, 0,
                  VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR),
        ==, 0);
    g_assert_cmpint(
        unmap_dma(l.ct, 0, 0,
                  VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR),
        ==, -EINVAL);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_READ),
                    ==, -EINVAL);
    g_assert_cmpint(
        map_dma(l.ct, ram, RING_IOVA, RAM_SIZE, VFIO_DMA_MAP_FLAG_VADDR), ==,
        0);
    g_assert_cmpint(unmap_dma(l.ct, RING_IOVA, RAM_SIZE, 0), ==, 0);
    munmap(anon, 1 << 20);
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

/* Drop CAP_IPC_LOCK so RLIMIT_MEMLOCK applies (type1 exempts it). */
static void drop_ipc_lock(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];

    g_assert_cmpint(syscall(SYS_capget, &h, d), ==, 0);
    d[0].effective &= ~(1u << CAP_IPC_LOCK);
    d[0].permitted &= ~(1u << CAP_IPC_LOCK);
    g_assert_cmpint(syscall(SYS_capset, &h, d), ==, 0);
}

static void set_memlock(rlim_t bytes)
{
    struct rlimit rl;

    g_assert_cmpint(getrlimit(RLIMIT_MEMLOCK, &rl), ==, 0);
    rl.rlim_cur = bytes;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < bytes) {
        rl.rlim_max = bytes;
    }
    g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &rl), ==, 0);
}

/*
 * Two groups share one container (and its mappings); the container file
 * can close while its groups keep it; a second open of the container
 * device is a new, empty container. Also MSI and BOOL/NONE triggers.
 */
static void test_legacy_two_groups(void)
{
    Sim sim;
    Legacy l;
    int grp2, dev2, ct2, ramfd, efd, efd2;
    struct vfio_group_status st = {.argsz = sizeof(st)};
    struct {
        struct vfio_irq_set s;
        uint8_t b;
    } loop = {{sizeof(loop),
               VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
               VFIO_PCI_MSI_IRQ_INDEX, 0, 1},
              1};
    uint8_t *ram;
    uint32_t h1, h2;

    sim_start(&sim, "0000:00:05.0,type=dmatest,group=7",
              "0000:00:06.0,type=dmatest,group=8");
    legacy_open(&l, 7, "0000:00:05.0");
    grp2 = open("/dev/vfio/8", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(grp2, >=, 0);
    g_assert_cmpint(ioctl(grp2, VFIO_GROUP_SET_CONTAINER, &l.ct), ==, 0);
    g_assert_cmpint(ioctl(grp2, VFIO_GROUP_GET_STATUS, &st), ==, 0);
    g_assert_true(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
    /* The device is in group 8, not 7. */
    g_assert_cmpint(ioctl(l.grp, VFIO_GROUP_GET_DEVICE_FD, "0000:00:06.0"), ==,
                    -1);
    g_assert_cmpint(errno, ==, ENODEV);
    dev2 = ioctl(grp2, VFIO_GROUP_GET_DEVICE_FD, "0000:00:06.0");
    g_assert_cmpint(dev2, >=, 0);
    ram = ram_new(&ramfd);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    /* The container fd goes; the groups keep the container and its maps. */
    close(l.ct);
    ct2 = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(ioctl(ct2, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL); /* no group in it */
    close(ct2);
    stream_start(l.dev, 1024, 100, 0, 1);
    /* The second device writes its ring 64 KiB further on. */
    reg_write(dev2, R_RING_LO, (uint32_t)RING_IOVA + 65536);
    reg_write(dev2, R_RING_HI, 0);
    reg_write(dev2, R_RING_ENTRIES, 1024);
    reg_write(dev2, R_PERIOD_US, 100);
    reg_write(dev2, R_CTRL, 1);
    wait_head(l.dev, 50);
    wait_head(dev2, 50);
    h1 = reg_read(l.dev, R_HEAD);
    h2 = reg_read(dev2, R_HEAD);
    g_assert_cmpint(ring_check(ram, MIN(h1, 1024), 1024), ==, 0);
    g_assert_cmpint(ring_check(ram + 65536, MIN(h2, 1024), 1024), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_FAULTS) + reg_read(dev2, R_FAULTS), ==,
                    0);

    /* MSI with one vector; BOOL and NONE triggers fire it by hand. */
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g_assert_cmpint(set_irq_eventfd(dev2, VFIO_PCI_MSI_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_TRIGGER, efd),
                    ==, 0);
    g_assert_cmpint(ioctl(dev2, VFIO_DEVICE_SET_IRQS, &loop), ==, 0);
    g_assert_true(fd_fires(efd));
    g_assert_cmpint(set_irq_none(dev2, VFIO_PCI_MSI_IRQ_INDEX,
                                 VFIO_IRQ_SET_ACTION_TRIGGER, 1),
                    ==, 0);
    g_assert_true(fd_fires(efd));
    g_assert_cmpint(
        set_irq_none(dev2, VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_ACTION_MASK, 1),
        ==, -ENOTTY);
    /* Replace the vector's eventfd while enabled. */
    g_assert_cmpint(set_irq_eventfd(dev2, VFIO_PCI_MSI_IRQ_INDEX,
                                    VFIO_IRQ_SET_ACTION_TRIGGER, efd2),
                    ==, 0);
    reg_write(dev2, R_IRQ_EVERY, 1);
    reg_write(dev2, R_CTRL, 3);
    /* Room in the ring after interrupts are on: a record, an interrupt. */
    reg_write(dev2, R_TAIL, reg_read(dev2, R_HEAD));
    g_assert_true(fd_fires(efd2));
    g_assert_true(fd_idle(efd));
    close(efd);
    close(efd2);

    close(dev2);
    close(grp2);
    close(l.dev);
    close(l.grp);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

static void test_legacy_memlock(void)
{
    Sim sim;
    Legacy l;
    uint8_t *ram;
    int ramfd;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    {
        pid_t pid = fork();
        int status;

        if (pid == 0) {
            /* Accounting is per process: this child's own limit. */
            drop_ipc_lock();
            set_memlock(1 << 20);
            if (map_dma(l.ct, ram, 0, RAM_SIZE, VFIO_DMA_MAP_FLAG_READ) !=
                    -ENOMEM ||
                map_dma(l.ct, ram, 0, 512 << 10, VFIO_DMA_MAP_FLAG_READ) ||
                map_dma(l.ct, ram, 512 << 10, 512 << 10,
                        VFIO_DMA_MAP_FLAG_READ) ||
                map_dma(l.ct, ram, 1 << 20, 4096, VFIO_DMA_MAP_FLAG_READ) !=
                    -ENOMEM ||
                unmap_dma(l.ct, 0, 512 << 10, 0) ||
                map_dma(l.ct, ram, 1 << 20, 4096, VFIO_DMA_MAP_FLAG_READ)) {
                _exit(1);
            }
            _exit(0);
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    }
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

static void test_legacy_mdev(void)
{
    Sim sim;
    Legacy l;
    uint8_t *ram;
    uint32_t head, stalls;
    int64_t deadline;
    int ramfd;

    sim_start(&sim, "0000:00:05.0,type=dmatest,mdev=on", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    /* The kernel hides UPDATE_VADDR from a container with an mdev. */
    g_assert_cmpint(ioctl(l.ct, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), ==,
                    0);
    ram = ram_new(&ramfd);
    g_assert_cmpint(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    stream_start(l.dev, 65536, 200, 0, 1);
    wait_head(l.dev, 5);
    g_assert_cmpint(
        unmap_dma(l.ct, 0, 0,
                  VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR),
        ==, 0);
    /* No vaddr: the mdev stalls, records wait. */
    head = reg_read(l.dev, R_HEAD);
    deadline = g_get_monotonic_time() + HANG_US;
    while (reg_read(l.dev, R_STALLS) < 5) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(500);
    }
    g_assert_cmpint(reg_read(l.dev, R_HEAD), ==, head);
    g_assert_cmpint(
        map_dma(l.ct, ram, RING_IOVA, RAM_SIZE, VFIO_DMA_MAP_FLAG_VADDR), ==,
        0);
    wait_head(l.dev, head + 5);
    stalls = reg_read(l.dev, R_STALLS);
    wait_head(l.dev, reg_read(l.dev, R_HEAD) + 5);
    g_assert_cmpint(reg_read(l.dev, R_STALLS), ==, stalls);
    head = reg_read(l.dev, R_HEAD);
    g_assert_cmpint(ring_check(ram, head, 65536), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_FAULTS), ==, 0);
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

/* ---- hand-over to another process ---- */

static void send_fds(int sock, const int *fds, int n)
{
    char c = 'f';
    struct iovec iov = {&c, 1};
    char cbuf[CMSG_SPACE(sizeof(int) * 4)] = {0};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = cbuf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * n)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    if (sendmsg(sock, &msg, 0) != 1) {
        _exit(20);
    }
}

static void recv_fds(int sock, int *fds, int n)
{
    char c;
    struct iovec iov = {&c, 1};
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = cbuf,
                         .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm;

    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1 ||
        !(cm = CMSG_FIRSTHDR(&msg)) ||
        cm->cmsg_len != CMSG_LEN(sizeof(int) * n)) {
        _exit(21);
    }
    memcpy(fds, CMSG_DATA(cm), sizeof(int) * n);
}

static void expect_byte(int sock, char want)
{
    char c;

    if (read(sock, &c, 1) != 1 || c != want) {
        _exit(22);
    }
}

#define CHECK(cond, code)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "helper: %s failed (line %d)\n", #cond, __LINE__); \
            _exit(code);                                                       \
        }                                                                      \
    } while (0)

static uint32_t h_reg(int dev, unsigned off)
{
    uint32_t v = 0;

    CHECK(pread(dev, &v, 4, off) == 4, 30);
    return v;
}

static void h_wait_head(int dev, uint32_t target)
{
    int64_t deadline = g_get_monotonic_time() + HANG_US;

    while (h_reg(dev, R_HEAD) < target) {
        CHECK(g_get_monotonic_time() < deadline, 31);
        g_usleep(500);
    }
}

/*
 * Process B: gets the container and group by exec inheritance, the
 * device and the RAM memfd by SCM_RIGHTS; re-registers the vaddr after A
 * abandoned it, and watches the stream go on after A exits.
 */
static int helper_b(int ct, int grp, int sock)
{
    int fds[2], dev, ramfd, otherfd;
    uint8_t *ram, *other;
    uint32_t head, resets;

    recv_fds(sock, fds, 2);
    dev = fds[0];
    ramfd = fds[1];
    resets = h_reg(dev, R_RESETS);
    expect_byte(sock, 'u');
    /* The vaddr is gone, the pages are not: DMA goes on. */
    head = h_reg(dev, R_HEAD);
    h_wait_head(dev, head + 3);
    /* Same IOVA, other pages: refused. */
    otherfd = memfd_create("other", MFD_CLOEXEC);
    CHECK(ftruncate(otherfd, RAM_SIZE) == 0, 32);
    other =
        mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, otherfd, 0);
    CHECK(map_dma(ct, other, RING_IOVA, RAM_SIZE, VFIO_DMA_MAP_FLAG_VADDR) ==
              -EINVAL,
          33);
    ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ramfd, 0);
    CHECK(ram != MAP_FAILED, 34);
    CHECK(map_dma(ct, ram, RING_IOVA, RAM_SIZE, VFIO_DMA_MAP_FLAG_VADDR) == 0,
          35);
    CHECK(write(sock, "m", 1) == 1, 36);
    /* A exits: EOF on the socket. */
    CHECK(read(sock, fds, 1) == 0, 37);
    head = h_reg(dev, R_HEAD);
    h_wait_head(dev, head + 20);
    head = h_reg(dev, R_HEAD);
    CHECK(ring_check(ram, head, 65536) == 0, 38);
    CHECK(h_reg(dev, R_FAULTS) == 0, 39);
    CHECK(h_reg(dev, R_OVERFLOWS) == 0, 40);
    CHECK(h_reg(dev, R_RESETS) == resets, 41);
    CHECK(grp >= 0 && fcntl(grp, F_GETFD) >= 0, 42);
    fprintf(stderr, "helper B: %u records intact after the hand-over\n", head);
    return 0;
}

/* Process A: sets everything up, starts B, abandons its vaddr, exits. */
static int helper_a(int report)
{
    Legacy l;
    int ramfd, sp[2];
    uint8_t *ram;
    pid_t b;

    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    CHECK(map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                  VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) == 0,
          50);
    stream_start(l.dev, 65536, 1000, 0, 1);
    h_wait_head(l.dev, 10);
    CHECK(ring_check(ram, h_reg(l.dev, R_HEAD), 65536) == 0, 51);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0, 52);
    /* Container, group and B's socket end survive exec. */
    fcntl(l.ct, F_SETFD, 0);
    fcntl(l.grp, F_SETFD, 0);
    fcntl(sp[1], F_SETFD, 0);
    b = fork();
    if (b == 0) {
        char a1[16], a2[16], a3[16];

        snprintf(a1, sizeof(a1), "%d", l.ct);
        snprintf(a2, sizeof(a2), "%d", l.grp);
        snprintf(a3, sizeof(a3), "%d", sp[1]);
        execl("/proc/self/exe", g_argv[0], "--helper", "B", a1, a2, a3, NULL);
        _exit(60);
    }
    close(sp[1]);
    CHECK(write(report, &b, sizeof(b)) == sizeof(b), 53);
    send_fds(sp[0], (int[]){l.dev, ramfd}, 2);
    CHECK(unmap_dma(l.ct, 0, 0,
                    VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR) == 0,
          54);
    CHECK(write(sp[0], "u", 1) == 1, 55);
    expect_byte(sp[0], 'm');
    return 0; /* exit closes A's references to everything */
}

static void test_legacy_handover(void)
{
    Sim sim;
    int pipefd[2], status;
    pid_t a, b;
    char fdarg[16];

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    /* B outlives A: make this process B's parent then. */
    g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
    g_assert_cmpint(pipe(pipefd), ==, 0);
    a = fork();
    if (a == 0) {
        close(pipefd[0]);
        snprintf(fdarg, sizeof(fdarg), "%d", pipefd[1]);
        execl("/proc/self/exe", g_argv[0], "--helper", "A", fdarg, NULL);
        _exit(60);
    }
    close(pipefd[1]);
    g_assert_cmpint(read(pipefd[0], &b, sizeof(b)), ==, sizeof(b));
    close(pipefd[0]);
    g_assert_cmpint(waitpid(a, &status, 0), ==, a);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_cmpint(waitpid(b, &status, 0), ==, b);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    sim_stop(&sim);
}

/* ---- iommufd ---- */

typedef struct Cdev {
    int iommufd, dev;
    uint32_t ioas, devid, hwpt;
} Cdev;

static void cdev_open(Cdev *c, int index)
{
    g_autofree char *path = g_strdup_printf("/dev/vfio/devices/vfio%d", index);
    struct iommu_ioas_alloc a = {.size = sizeof(a)};
    struct vfio_device_bind_iommufd b = {.argsz = sizeof(b)};
    struct vfio_device_attach_iommufd_pt at = {.argsz = sizeof(at)};
    struct vfio_device_info di = {.argsz = sizeof(di)};

    c->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(c->iommufd, >=, 0);
    g_assert_cmpint(ioctl(c->iommufd, IOMMU_IOAS_ALLOC, &a), ==, 0);
    c->ioas = a.out_ioas_id;
    c->dev = open(path, O_RDWR | O_CLOEXEC);
    g_assert_cmpint(c->dev, >=, 0);
    /* Nothing but BIND before binding. */
    g_assert_cmpint(ioctl(c->dev, VFIO_DEVICE_GET_INFO, &di), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    b.iommufd = c->iommufd;
    g_assert_cmpint(ioctl(c->dev, VFIO_DEVICE_BIND_IOMMUFD, &b), ==, 0);
    c->devid = b.out_devid;
    at.pt_id = c->ioas;
    g_assert_cmpint(ioctl(c->dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), ==, 0);
    c->hwpt = at.pt_id;
    g_assert_cmpint(c->hwpt, !=, c->ioas);
    g_assert_cmpint(ioctl(c->dev, VFIO_DEVICE_GET_INFO, &di), ==, 0);
    g_assert_true(di.flags & VFIO_DEVICE_FLAGS_CDEV);
}

static int map_file(Cdev *c, int fd, uint64_t start, uint64_t len,
                    uint64_t iova)
{
    struct iommu_ioas_map_file m = {
        .size = sizeof(m),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                 IOMMU_IOAS_MAP_WRITEABLE,
        .ioas_id = c->ioas,
        .fd = fd,
        .start = start,
        .length = len,
        .iova = iova,
    };

    return ioctl(c->iommufd, IOMMU_IOAS_MAP_FILE, &m) < 0 ? -errno : 0;
}

static int change_process(int iommufd)
{
    struct iommu_ioas_change_process cp = {.size = sizeof(cp)};

    return ioctl(iommufd, IOMMU_IOAS_CHANGE_PROCESS, &cp) < 0 ? -errno : 0;
}

static void test_iommufd_stream(void)
{
    Sim sim;
    Cdev c;
    struct iommu_ioas_iova_ranges r = {.size = sizeof(r)};
    struct iommu_iova_range ranges[4];
    struct iommu_hw_info hi = {.size = sizeof(hi)};
    struct iommu_hwpt_alloc ha = {.size = sizeof(ha)};
    struct iommu_destroy d = {.size = sizeof(d)};
    struct iommu_ioas_unmap un = {.size = sizeof(un)};
    uint8_t hwdata[32];
    uint8_t *ram;
    uint32_t head;
    int ramfd, dev2;

    /* Two devices, the second an mdev: with MAP_FILE it never stalls. */
    sim_start(&sim, "0000:00:05.0,type=dmatest",
              "0000:00:06.0,type=dmatest,mdev=on");
    cdev_open(&c, 1);
    /* A device bound through its cdev cannot be bound again. */
    dev2 = open("/dev/vfio/devices/vfio1", O_RDWR);
    {
        struct vfio_device_bind_iommufd b = {.argsz = sizeof(b),
                                             .iommufd = c.iommufd};

        g_assert_cmpint(ioctl(dev2, VFIO_DEVICE_BIND_IOMMUFD, &b), ==, -1);
        g_assert_cmpint(errno, ==, EBUSY);
    }
    close(dev2);
    r.ioas_id = c.ioas;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_IOAS_IOVA_RANGES, &r), ==, -1);
    g_assert_cmpint(errno, ==, EMSGSIZE);
    g_assert_cmpint(r.num_iovas, ==, 2);
    r.allowed_iovas = (uintptr_t)ranges;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_IOAS_IOVA_RANGES, &r), ==, 0);
    g_assert_cmpint(ranges[0].last, ==, 0xfedfffff);
    g_assert_cmpint(ranges[1].start, ==, 0xfef00000);
    memset(hwdata, 0xaa, sizeof(hwdata));
    hi.dev_id = c.devid;
    hi.data_len = sizeof(hwdata);
    hi.data_uptr = (uintptr_t)hwdata;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_GET_HW_INFO, &hi), ==, 0);
    g_assert_cmpint(hi.out_data_type, ==, IOMMU_HW_INFO_TYPE_NONE);
    g_assert_cmpint(hwdata[0], ==, 0);
    ha.dev_id = c.devid;
    ha.pt_id = c.ioas;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_HWPT_ALLOC, &ha), ==, 0);
    d.id = ha.out_hwpt_id;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_DESTROY, &d), ==, 0);
    d.id = c.ioas;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_DESTROY, &d), ==, -1);
    g_assert_cmpint(errno, ==, EBUSY);
    d.id = 999;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_DESTROY, &d), ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
    g_assert_cmpint(ioctl(c.iommufd, _IO(IOMMUFD_TYPE, 0xfe), &d), ==, -1);
    g_assert_cmpint(errno, ==, ENOTTY);

    ram = ram_new(&ramfd);
    g_assert_cmpint(map_file(&c, ramfd, 0, RAM_SIZE, RING_IOVA), ==, 0);
    g_assert_cmpint(map_file(&c, ramfd, 0, 4096, RING_IOVA), ==, -EEXIST);
    g_assert_cmpint(map_file(&c, ramfd, RAM_SIZE, 4096, 0), ==, -EINVAL);
    stream_start(c.dev, 65536, 200, 0, 1);
    wait_head(c.dev, 30);
    head = reg_read(c.dev, R_HEAD);
    g_assert_cmpint(ring_check(ram, head, 65536), ==, 0);
    g_assert_cmpint(reg_read(c.dev, R_FAULTS), ==, 0);
    g_assert_cmpint(reg_read(c.dev, R_STALLS), ==, 0);
    /* No splitting. */
    un.ioas_id = c.ioas;
    un.iova = RING_IOVA;
    un.length = 4096;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_IOAS_UNMAP, &un), ==, -1);
    g_assert_cmpint(errno, ==, EINVAL);
    un.length = RAM_SIZE;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_IOAS_UNMAP, &un), ==, 0);
    g_assert_cmpint(un.length, ==, RAM_SIZE);
    close(c.dev);
    close(c.iommufd);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

static void test_iommufd_change_process(void)
{
    Sim sim;
    Cdev c;
    uint8_t *ram;
    int ramfd, status;
    pid_t pid;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    cdev_open(&c, 0);
    ram = ram_new(&ramfd);
    g_assert_cmpint(map_file(&c, ramfd, 0, RAM_SIZE, RING_IOVA), ==, 0);
    stream_start(c.dev, 65536, 200, 0, 1);
    wait_head(c.dev, 5);
    pid = fork();
    if (pid == 0) {
        /* Another process takes the pinned pages' accounting. */
        drop_ipc_lock();
        set_memlock(1 << 20);
        if (change_process(c.iommufd) != -ENOMEM) {
            _exit(1);
        }
        set_memlock(RAM_SIZE + (64 << 10));
        if (change_process(c.iommufd) != 0) {
            _exit(2);
        }
        /* Now 2 MiB of its 2 MiB + 64 KiB are used. */
        if (map_file(&c, ramfd, 0, 128 << 10, 0x40000000) != -ENOMEM ||
            map_file(&c, ramfd, 0, 64 << 10, 0x40000000) != 0) {
            _exit(3);
        }
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    /* A vaddr mapping cannot move. */
    {
        struct iommu_ioas_map m = {
            .size = sizeof(m),
            .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE,
            .ioas_id = c.ioas,
            .user_va = (uintptr_t)ram,
            .length = 4096,
            .iova = 0x80000000,
        };

        g_assert_cmpint(ioctl(c.iommufd, IOMMU_IOAS_MAP, &m), ==, 0);
        g_assert_cmpint(change_process(c.iommufd), ==, -EINVAL);
    }
    g_assert_cmpint(ring_check(ram, reg_read(c.dev, R_HEAD), 65536), ==, 0);
    g_assert_cmpint(reg_read(c.dev, R_FAULTS), ==, 0);
    close(c.dev);
    close(c.iommufd);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

/* ---- setup ---- */

static int find_asan(struct dl_phdr_info *info, size_t size, void *opaque)
{
    if (strstr(info->dlpi_name, "libasan")) {
        *(const char **)opaque = info->dlpi_name;
    }
    return 0;
}

static int find_hostsim(struct dl_phdr_info *info, size_t size, void *opaque)
{
    if (strstr(info->dlpi_name, "libhostsim")) {
        *(bool *)opaque = true;
    }
    return 0;
}

/*
 * True if libhostsim.so is preloaded (its definitions then come before
 * libc's; with ASan, right after ASan's interceptors).
 */
static bool preload_active(void)
{
    bool found = false;

    dl_iterate_phdr(find_hostsim, &found);
    return found;
}

int main(int argc, char **argv)
{
    const char *preload = g_getenv("HOSTSIM_PRELOAD");

    g_argv = argv;
    if (argc >= 3 && !strcmp(argv[1], "--helper")) {
        if (!strcmp(argv[2], "A") && argc == 4) {
            return helper_a(atoi(argv[3]));
        }
        if (!strcmp(argv[2], "B") && argc == 6) {
            return helper_b(atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
        }
        return 2;
    }
    if (!g_getenv("HOSTSIM_TEST_CHILD")) {
        const char *asan = NULL;
        g_autofree char *ld = NULL;

        if (!preload || !g_getenv("HOSTSIMD")) {
            printf("1..0 # SKIP HOSTSIMD and HOSTSIM_PRELOAD are not set "
                   "(run through meson test)\n");
            return 0;
        }
        /* ASan's runtime must come first in the preload list. */
        dl_iterate_phdr(find_asan, &asan);
        ld = asan ? g_strdup_printf("%s:%s", asan, preload) : g_strdup(preload);
        g_setenv("LD_PRELOAD", ld, TRUE);
        g_setenv("HOSTSIM_TEST_CHILD", "1", TRUE);
        execv("/proc/self/exe", argv);
        printf("1..0 # SKIP cannot re-execute with LD_PRELOAD: %s\n",
               g_strerror(errno));
        return 0;
    }
    if (!preload_active()) {
        printf("1..0 # SKIP LD_PRELOAD of libhostsim.so did not take effect "
               "(static binary?)\n");
        return 0;
    }
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hostsim/sysfs", test_sysfs);
    g_test_add_func("/hostsim/legacy/stream", test_legacy_stream);
    g_test_add_func("/hostsim/legacy/intx", test_legacy_intx);
    g_test_add_func("/hostsim/legacy/errors", test_legacy_errors);
    g_test_add_func("/hostsim/legacy/two-groups", test_legacy_two_groups);
    g_test_add_func("/hostsim/legacy/memlock", test_legacy_memlock);
    g_test_add_func("/hostsim/legacy/mdev", test_legacy_mdev);
    g_test_add_func("/hostsim/legacy/handover", test_legacy_handover);
    g_test_add_func("/hostsim/iommufd/stream", test_iommufd_stream);
    g_test_add_func("/hostsim/iommufd/change-process",
                    test_iommufd_change_process);
    return g_test_run();
}
