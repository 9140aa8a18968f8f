/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostsim's iommufd through the real uAPI: device cdev bind/attach,
 * IOAS_MAP_FILE, IOVA ranges, HW info, HWPT, options, errno values (an
 * mmap'ed BAR cannot be IOAS_MAP'ed: EFAULT), an
 * mdev that never stalls without vaddrs, IOAS_CHANGE_PROCESS and its
 * accounting, and a hand-over of the fds to a second process (helpers IA
 * and IB).
 */
#include "hostsim-test.h"

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
    {
        /* The fd is the character device vfio-dev/vfioN/dev names. */
        struct stat st, pst;

        g_assert_cmpint(fstat(c->dev, &st), ==, 0);
        g_assert_true(S_ISCHR(st.st_mode));
        g_assert_cmpint(stat(path, &pst), ==, 0);
        if (S_ISCHR(pst.st_mode)) {
            g_assert_cmpint(st.st_rdev, ==, pst.st_rdev);
        }
        g_assert_cmpint(major(st.st_rdev), ==, 242);
        g_assert_cmpint(minor(st.st_rdev), ==, index);
    }
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

/*
 * Process IB: gets the iommufd, the device cdev and the RAM memfd by
 * SCM_RIGHTS (as cpr-transfer hands them over), keeps A's object ids,
 * takes the pinned pages' accounting once A is gone, and sees the stream
 * continue.
 */
int hostsim_helper_ib(int sock, uint32_t ioas)
{
    struct iommu_ioas_iova_ranges r = {.size = sizeof(r)};
    int fds[3], iommufd, dev, ramfd;
    uint32_t head, resets;
    uint8_t *ram;

    recv_fds(sock, fds, 3);
    iommufd = fds[0];
    dev = fds[1];
    ramfd = fds[2];
    resets = h_reg(dev, R_RESETS);
    CHECK(write(sock, "r", 1) == 1, 70);
    CHECK(read(sock, fds, 1) == 0, 71); /* A has exited */
    head = h_reg(dev, R_HEAD);
    r.ioas_id = ioas;
    CHECK(ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &r) == -1 && errno == EMSGSIZE,
          72);
    CHECK(change_process(iommufd) == 0, 73);
    h_wait_head(dev, head + 20);
    ram = mmap(NULL, RAM_SIZE, PROT_READ, MAP_SHARED, ramfd, 0);
    CHECK(ram != MAP_FAILED, 74);
    head = h_reg(dev, R_HEAD);
    CHECK(ring_check(ram, head, 65536) == 0, 75);
    CHECK(h_reg(dev, R_FAULTS) == 0, 76);
    CHECK(h_reg(dev, R_OVERFLOWS) == 0, 77);
    CHECK(h_reg(dev, R_RESETS) == resets, 78);
    fprintf(stderr, "helper IB: %u records intact after the hand-over\n", head);
    return 0;
}

/* Process IA: iommufd, MAP_FILE, stream; hands everything to IB, exits. */
int hostsim_helper_ia(int report)
{
    Cdev c;
    int ramfd, sp[2];
    uint8_t *ram;
    pid_t b;

    cdev_open(&c, 0);
    ram = ram_new(&ramfd);
    CHECK(map_file(&c, ramfd, 0, RAM_SIZE, RING_IOVA) == 0, 80);
    stream_start(c.dev, 65536, 1000, 0, 1);
    h_wait_head(c.dev, 10);
    CHECK(ring_check(ram, h_reg(c.dev, R_HEAD), 65536) == 0, 81);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0, 82);
    fcntl(sp[1], F_SETFD, 0);
    b = fork();
    if (b == 0) {
        char a1[16], a2[16];

        snprintf(a1, sizeof(a1), "%d", sp[1]);
        snprintf(a2, sizeof(a2), "%u", c.ioas);
        execl("/proc/self/exe", hostsim_argv[0], "--helper", "IB", a1, a2,
              NULL);
        _exit(60);
    }
    close(sp[1]);
    CHECK(write(report, &b, sizeof(b)) == sizeof(b), 83);
    send_fds(sp[0], (int[]){c.iommufd, c.dev, ramfd}, 3);
    expect_byte(sp[0], 'r');
    return 0;
}

static void test_iommufd_handover(void)
{
    run_handover("IA", "0000:00:05.0,type=dmatest");
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
    {
        struct iommu_option o = {.size = sizeof(o),
                                 .option_id = IOMMU_OPTION_RLIMIT_MODE,
                                 .op = IOMMU_OPTION_OP_GET};

        g_assert_cmpint(ioctl(c.iommufd, IOMMU_OPTION, &o), ==, 0);
        g_assert_cmpint(o.val64, ==, 0);
        o.op = IOMMU_OPTION_OP_SET;
        o.val64 = 1;
        g_assert_cmpint(ioctl(c.iommufd, IOMMU_OPTION, &o), ==, 0);
        o.object_id = c.ioas;
        g_assert_cmpint(ioctl(c.iommufd, IOMMU_OPTION, &o), ==, -1);
        g_assert_cmpint(errno, ==, EINVAL);
        o.object_id = 0;
        o.op = IOMMU_OPTION_OP_GET;
        o.val64 = 0;
        g_assert_cmpint(ioctl(c.iommufd, IOMMU_OPTION, &o), ==, 0);
        g_assert_cmpint(o.val64, ==, 1);
    }

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

/*
 * HOSTSIMD_FAULT=change-process-enomem: the next IOAS_CHANGE_PROCESS
 * fails with ENOMEM although the caller's limit allows it, and moves
 * nothing; the fault fires once.
 */
static void test_iommufd_fault_change_process(void)
{
    Sim sim;
    Cdev c;
    uint8_t *ram;
    int ramfd, status;
    pid_t pid;

    g_setenv("HOSTSIMD_FAULT", "change-process-enomem", TRUE);
    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    g_unsetenv("HOSTSIMD_FAULT");
    cdev_open(&c, 0);
    ram = ram_new(&ramfd);
    g_assert_cmpint(map_file(&c, ramfd, 0, RAM_SIZE, RING_IOVA), ==, 0);
    stream_start(c.dev, 65536, 200, 0, 1);
    wait_head(c.dev, 5);
    pid = fork();
    if (pid == 0) {
        drop_ipc_lock();
        set_memlock(RAM_SIZE + (192 << 10));
        if (change_process(c.iommufd) != -ENOMEM) {
            _exit(1);
        }
        /* Nothing was charged here: 256 KiB fit (2 MiB more would not). */
        if (map_file(&c, ramfd, 0, 256 << 10, 0x40000000) != 0) {
            _exit(2);
        }
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_assert_cmpint(change_process(c.iommufd), ==, 0);
    wait_head(c.dev, reg_read(c.dev, R_HEAD) + 5);
    g_assert_cmpint(ring_check(ram, reg_read(c.dev, R_HEAD), 65536), ==, 0);
    g_assert_cmpint(reg_read(c.dev, R_FAULTS), ==, 0);
    close(c.dev);
    close(c.iommufd);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

/*
 * A device region's mmap cannot be IOAS_MAP'ed by vaddr: iommufd pins
 * with pin_user_pages, which refuses a VM_PFNMAP vma (EFAULT); nothing is
 * left mapped, so IOAS_CHANGE_PROCESS still works. RAM by vaddr works.
 */
static void test_iommufd_bar_mmap(void)
{
    Sim sim;
    Cdev c;
    uint8_t *bar2, *ram;
    int ramfd;
    struct iommu_ioas_map m = {
        .size = sizeof(m),
        .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
                 IOMMU_IOAS_MAP_WRITEABLE,
        .length = 65536,
        .iova = 0x40000000,
    };

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    cdev_open(&c, 0);
    ram = ram_new(&ramfd);
    bar2 = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, c.dev,
                (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
    g_assert_true(bar2 != MAP_FAILED);
    m.ioas_id = c.ioas;
    m.user_va = (uintptr_t)bar2;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_IOAS_MAP, &m), ==, -1);
    g_assert_cmpint(errno, ==, EFAULT);
    g_assert_cmpint(change_process(c.iommufd), ==, 0);
    m.user_va = (uintptr_t)ram;
    g_assert_cmpint(ioctl(c.iommufd, IOMMU_IOAS_MAP, &m), ==, 0);
    close(c.dev);
    close(c.iommufd);
    munmap(bar2, 65536);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

void hostsim_add_iommufd_tests(void)
{
    g_test_add_func("/hostsim/iommufd/bar-mmap", test_iommufd_bar_mmap);
    g_test_add_func("/hostsim/iommufd/stream", test_iommufd_stream);
    g_test_add_func("/hostsim/iommufd/handover", test_iommufd_handover);
    g_test_add_func("/hostsim/iommufd/fault-change-process",
                    test_iommufd_fault_change_process);
    g_test_add_func("/hostsim/iommufd/change-process",
                    test_iommufd_change_process);
}
