/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host simulator against the real uAPI, used as a VMM uses it (open,
 * ioctl, pread/pwrite, mmap on /dev/vfio, /dev/iommu and /sys paths). This
 * file: main (re-executes itself with LD_PRELOAD set, dispatches the
 * --helper processes of the hand-over tests), a hostsimd per test, the
 * helpers every test uses, and the /sys view. The legacy container and
 * iommufd tests are in test-hostsim-legacy.c and test-hostsim-iommufd.c.
 * Waits are on device state with deadlines that only end a hung test.
 */
#include <link.h>

#include "hostsim-test.h"

char **hostsim_argv;

/* ---- the daemon ---- */

/* A test that fails does not leave its daemon behind. */
static void sim_child_setup(gpointer opaque)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

void sim_start(Sim *s, const char *dev0, const char *dev1)
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

void sim_stop(Sim *s)
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

uint32_t reg_read(int dev, unsigned off)
{
    uint32_t v = 0;

    g_assert_cmpint(pread(dev, &v, 4, off), ==, 4); /* BAR0 at 0 */
    return v;
}

void reg_write(int dev, unsigned off, uint32_t v)
{
    g_assert_cmpint(pwrite(dev, &v, 4, off), ==, 4);
}

/*
 * Wait until HEAD reaches target. A driver consumes while it waits
 * (TAIL = HEAD), so a slow host never finds the ring full; the overflow
 * check passes consume = false.
 */
void wait_head_full(int dev, uint32_t target, bool consume)
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

void wait_head(int dev, uint32_t target)
{
    wait_head_full(dev, target, true);
}

void wait_reg_at_least(int dev, unsigned reg, uint32_t min)
{
    int64_t deadline = g_get_monotonic_time() + HANG_US;

    while (reg_read(dev, reg) < min) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(500);
    }
}

void stream_start(int dev, uint32_t entries, uint32_t period,
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
unsigned ring_check(const uint8_t *ring, uint32_t head, uint32_t entries)
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

uint8_t *ram_new(int *fd)
{
    uint8_t *p;

    *fd = memfd_create("guest-ram", MFD_CLOEXEC);
    g_assert_cmpint(*fd, >=, 0);
    g_assert_cmpint(ftruncate(*fd, RAM_SIZE), ==, 0);
    p = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    g_assert_true(p != MAP_FAILED);
    return p;
}

int map_dma(int ct, void *vaddr, uint64_t iova, uint64_t size, uint32_t flags)
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

int unmap_dma(int ct, uint64_t iova, uint64_t size, uint32_t flags)
{
    struct vfio_iommu_type1_dma_unmap u = {
        .argsz = sizeof(u),
        .flags = flags,
        .iova = iova,
        .size = size,
    };

    return ioctl(ct, VFIO_IOMMU_UNMAP_DMA, &u) < 0 ? -errno : 0;
}

void legacy_open(Legacy *l, int group, const char *bdf)
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

void legacy_close(Legacy *l)
{
    close(l->dev);
    close(l->grp);
    close(l->ct);
}

bool fd_fires(int efd)
{
    struct pollfd p = {.fd = efd, .events = POLLIN};
    uint64_t v;

    if (poll(&p, 1, HANG_US / 1000) != 1) {
        return false;
    }
    return read(efd, &v, 8) == 8;
}

bool fd_idle(int efd)
{
    struct pollfd p = {.fd = efd, .events = POLLIN};

    return poll(&p, 1, 0) == 0;
}

int set_irq_eventfd(int dev, uint32_t index, uint32_t action, int32_t efd)
{
    struct {
        struct vfio_irq_set s;
        int32_t fd;
    } a = {{sizeof(a), VFIO_IRQ_SET_DATA_EVENTFD | action, index, 0, 1}, efd};

    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &a) < 0 ? -errno : 0;
}

int set_irq_none(int dev, uint32_t index, uint32_t action, uint32_t count)
{
    struct vfio_irq_set s = {sizeof(s), VFIO_IRQ_SET_DATA_NONE | action, index,
                             0, count};

    return ioctl(dev, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* A figure, not a check: median cost of a simulated ioctl and pread. */
void report_costs(int ct, int dev)
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

void drop_ipc_lock(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];

    g_assert_cmpint(syscall(SYS_capget, &h, d), ==, 0);
    d[0].effective &= ~(1u << CAP_IPC_LOCK);
    d[0].permitted &= ~(1u << CAP_IPC_LOCK);
    g_assert_cmpint(syscall(SYS_capset, &h, d), ==, 0);
}

void set_memlock(rlim_t bytes)
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
/* ---- hand-over to another process ---- */

void send_fds(int sock, const int *fds, int n)
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

void recv_fds(int sock, int *fds, int n)
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

void expect_byte(int sock, char want)
{
    char c;

    if (read(sock, &c, 1) != 1 || c != want) {
        _exit(22);
    }
}

uint32_t h_reg(int dev, unsigned off)
{
    uint32_t v = 0;

    CHECK(pread(dev, &v, 4, off) == 4, 30);
    return v;
}

void h_wait_head(int dev, uint32_t target)
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
void run_handover(const char *first, const char *devspec)
{
    Sim sim;
    int pipefd[2], status;
    pid_t a, b;
    char fdarg[16];

    sim_start(&sim, devspec, NULL);
    /* B outlives A: make this process B's parent then. */
    g_assert_cmpint(prctl(PR_SET_CHILD_SUBREAPER, 1), ==, 0);
    g_assert_cmpint(pipe(pipefd), ==, 0);
    a = fork();
    if (a == 0) {
        close(pipefd[0]);
        snprintf(fdarg, sizeof(fdarg), "%d", pipefd[1]);
        execl("/proc/self/exe", hostsim_argv[0], "--helper", first, fdarg,
              NULL);
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

/* ---- tests ---- */

/* hostsimd's command line: bad input is refused, naming what is wrong. */
static void test_cmdline(void)
{
    static const struct {
        const char *args[4];
        const char *msg;
    } cases[] = {
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"--device", "0000:00:05.0,type=dmatest"}, "--socket PATH"},
        {{"--socket", "/tmp/x"}, "--device SPEC"},
        {{"--socket", "/tmp/x", "--device", "00:05"}, "not a PCI address"},
        {{"--socket", "/tmp/x", "--device", "0000:00:05.0"},
         "type=dmatest is required"},
        {{"--socket", "/tmp/x", "--device", "0000:00:05.0,type=nic"},
         "unknown device type 'nic'"},
        {{"--socket", "/tmp/x", "--device", "0000:00:05.0,type=dmatest,x=1"},
         "unknown key 'x'"},
        {{"--socket", "/tmp/x", "--device",
          "0000:00:05.0,type=dmatest,mdev=yes"},
         "Parameter 'mdev' expects 'on' or 'off'"},
        {{"--socket", "/tmp/x", "--device",
          "0000:00:05.0,type=dmatest,group=99"},
         "group '99'"},
        {{"--socket", "/tmp/x", "--device",
          "0000:00:05.0,type=dmatest,state-size=12Q"},
         "Parameter 'state-size' expects a size up to 1073741824"},
        {{"--socket", "/tmp/x", "--device",
          "0000:00:05.0,type=dmatest,state-size=2G"},
         "Parameter 'state-size' expects a size"},
        {{"--socket", "/tmp/x", "--device",
          "0000:00:05.0,type=dmatest,state-dirty-rate=-1"},
         "Parameter 'state-dirty-rate' expects a size"},
        {{"--socket", "/tmp/x", "--device",
          "0000:00:05.0,type=dmatest,precopy=on"},
         "precopy=on needs migration=on"},
        {{"--socket", "/tmp/x", "--device",
          "0000:00:05.0,type=dmatest,dma-logging-max-ranges=0"},
         "Parameter 'dma-logging-max-ranges' must be at least 1"},
    };
    g_auto(GStrv) env = g_environ_unsetenv(g_get_environ(), "LD_PRELOAD");
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *argv[6] = {g_getenv("HOSTSIMD")};
        g_autofree char *err = NULL;
        g_autoptr(GError) error = NULL;
        int status, k;

        for (k = 0; k < 4 && cases[i].args[k]; k++) {
            argv[k + 1] = cases[i].args[k];
        }
        g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                     NULL, NULL, &err, &status, &error);
        g_assert_no_error(error);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 1);
        if (!strstr(err, cases[i].msg)) {
            g_error("case %zu: '%s' not in: %s", i, cases[i].msg, err);
        }
    }
    /* A fault it does not know, named with the ones it does. */
    {
        const char *argv[] = {g_getenv("HOSTSIMD"), "--socket", "/tmp/x",
                              "--device", "0000:00:05.0,type=dmatest", NULL};
        g_auto(GStrv) fenv = g_environ_setenv(g_strdupv(env), "HOSTSIMD_FAULT",
                                              "unmap-vaddr-partial,bogus",
                                              TRUE);
        g_autofree char *err = NULL;
        g_autoptr(GError) error = NULL;
        int status;

        g_spawn_sync(NULL, (char **)argv, fenv, G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &status, &error);
        g_assert_no_error(error);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 1);
        g_assert_nonnull(strstr(err, "HOSTSIMD_FAULT: unknown fault 'bogus' "
                                     "(known: unmap-vaddr-partial, "
                                     "change-process-enomem)"));
    }
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

/* ---- setup ---- */

static gpointer api_version_thread(gpointer opaque)
{
    int ct = GPOINTER_TO_INT(opaque);
    int ret = ioctl(ct, VFIO_GET_API_VERSION);

    return GINT_TO_POINTER(ret < 0 ? -errno : ret);
}

/*
 * The daemon dies with a call in its queue (its reply channel in flight)
 * and after it: both calls come back EIO, as from a dead device, and the
 * caller does not hang. The first call waits while the daemon is stopped,
 * so it is queued or, if the kill came first, refused at send: EIO either
 * way.
 */
static void test_daemon_gone(void)
{
    g_autofree char *cmd = NULL;
    Sim sim;
    GThread *t;
    int ct, status;

    sim_start(&sim, "0000:00:05.0,type=dmatest,group=3", NULL);
    ct = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    g_assert_cmpint(ct, >=, 0);
    g_assert_cmpint(ioctl(ct, VFIO_GET_API_VERSION), ==, VFIO_API_VERSION);
    g_assert_cmpint(kill(sim.pid, SIGSTOP), ==, 0);
    t = g_thread_new("call", api_version_thread, GINT_TO_POINTER(ct));
    g_assert_cmpint(kill(sim.pid, SIGKILL), ==, 0);
    g_assert_cmpint(waitpid(sim.pid, &status, 0), ==, sim.pid);
    g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t)), ==, -EIO);
    g_assert_cmpint(ioctl(ct, VFIO_GET_API_VERSION), ==, -1);
    g_assert_cmpint(errno, ==, EIO);
    close(ct);
    cmd = g_strdup_printf("rm -rf '%s'", sim.dir);
    g_assert_cmpint(system(cmd), ==, 0);
    g_free(sim.dir);
    g_free(sim.sock);
}

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

    hostsim_argv = argv;
    if (argc >= 3 && !strcmp(argv[1], "--helper")) {
        if (!strcmp(argv[2], "A") && argc == 4) {
            return hostsim_helper_a(atoi(argv[3]));
        }
        if (!strcmp(argv[2], "B") && argc == 6) {
            return hostsim_helper_b(atoi(argv[3]), atoi(argv[4]),
                                    atoi(argv[5]));
        }
        if (!strcmp(argv[2], "IA") && argc == 4) {
            return hostsim_helper_ia(atoi(argv[3]));
        }
        if (!strcmp(argv[2], "IB") && argc == 5) {
            return hostsim_helper_ib(atoi(argv[3]), strtoul(argv[4], NULL, 10));
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
    g_test_add_func("/hostsim/cmdline", test_cmdline);
    g_test_add_func("/hostsim/sysfs", test_sysfs);
    g_test_add_func("/hostsim/daemon-gone", test_daemon_gone);
    hostsim_add_legacy_tests();
    hostsim_add_iommufd_tests();
    hostsim_add_mig_tests();
    hostsim_add_dirty_tests();
    return g_test_run();
}
