/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostsim's legacy container (type1v2) through the real uAPI: the dmatest
 * stream, regions, config space, BAR2 sharing, MSI-X/MSI/INTx, resets,
 * errno values (hot reset ENODEV), two groups in one container,
 * RLIMIT_MEMLOCK per process, DMA into an mmap'ed BAR (MMIO, not charged),
 * dirty page tracking (every mapped page dirty), KVM's VFIO device,
 * mdev stalls, and a hand-over of the fds to a second process with
 * UNMAP/MAP_FLAG_VADDR (helpers A and B).
 */
#include "hostsim-test.h"

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
    wait_reg_at_least(l.dev, R_OVERFLOWS, 1);
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
    wait_reg_at_least(l.dev, R_FAULTS, 3);
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
    g_assert_cmpint(ioctl(l.ct, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR), ==,
                    1);
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
    /*
     * Hot reset, as vfio-pci answers for a function whose slot and bus
     * cannot be reset: a bad header is EINVAL, a good one ENODEV (QEMU
     * asks on every machine reset, then falls back to DEVICE_RESET).
     */
    {
        struct vfio_pci_hot_reset_info hi = {.argsz = sizeof(hi)};
        struct {
            struct vfio_pci_hot_reset h;
            int32_t fd;
        } hr = {{.argsz = sizeof(hr), .count = 1}, l.grp};

        g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hi),
                        ==, -1);
        g_assert_cmpint(errno, ==, ENODEV);
        hi.argsz = 8;
        g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hi),
                        ==, -1);
        g_assert_cmpint(errno, ==, EINVAL);
        g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_PCI_HOT_RESET, &hr), ==, -1);
        g_assert_cmpint(errno, ==, ENODEV);
        hr.h.count = 0; /* a device opened by group names its groups */
        g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_PCI_HOT_RESET, &hr), ==, -1);
        g_assert_cmpint(errno, ==, EINVAL);
        hr.h.count = 1;
        hr.h.flags = 1;
        g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_PCI_HOT_RESET, &hr), ==, -1);
        g_assert_cmpint(errno, ==, EINVAL);
        g_assert_cmpint(reg_read(l.dev, R_RESETS), ==, 1);
    }

    /* fstat: the container and group are character devices, the device
     * file from the group an anonymous inode. */
    {
        struct stat st;

        g_assert_cmpint(fstat(l.ct, &st), ==, 0);
        g_assert_true(S_ISCHR(st.st_mode));
        g_assert_cmpint(st.st_rdev, ==, makedev(10, 196));
        g_assert_cmpint(fstat(l.grp, &st), ==, 0);
        g_assert_cmpint(st.st_rdev, ==, makedev(243, 0));
        g_assert_cmpint(fstat(l.dev, &st), ==, 0);
        g_assert_cmpint(st.st_mode & S_IFMT, ==, 0);
    }

    /* A dup is the same open file; a reused fd number is what it is now. */
    {
        int d1 = dup(l.dev), d2 = fcntl(l.dev, F_DUPFD_CLOEXEC, 200);
        int num = l.dev, pipefd[2];

        g_assert_cmpint(d1, >=, 0);
        g_assert_cmpint(d2, >=, 200);
        close(l.dev);
        g_assert_cmpint(reg_read(d1, R_ID), ==, 0xba700001);
        g_assert_cmpint(pipe(pipefd), ==, 0);
        g_assert_cmpint(dup2(pipefd[0], num), ==, num);
        g_assert_cmpint(pread(num, &v, 4, 0), ==, -1);
        g_assert_cmpint(errno, ==, ESPIPE);
        close(num);
        close(pipefd[0]);
        close(pipefd[1]);
        g_assert_cmpint(dup2(d2, num), ==, num);
        close(d1);
        close(d2);
        g_assert_cmpint(reg_read(num, R_ID), ==, 0xba700001);
        l.dev = num;
    }

    /* IOMMU info: too small for the capability chain, then walked. */
    {
        struct vfio_iommu_type1_info info = {.argsz = sizeof(info)};
        uint8_t ibuf[512] = {0};
        struct vfio_iommu_type1_info *ip = (void *)ibuf;
        struct vfio_info_cap_header *h;
        struct vfio_iommu_type1_info_cap_iova_range *iova = NULL;
        bool mig = false, avail = false;

        g_assert_cmpint(ioctl(l.ct, VFIO_IOMMU_GET_INFO, &info), ==, 0);
        g_assert_true(info.flags & VFIO_IOMMU_INFO_PGSIZES);
        g_assert_true(info.iova_pgsizes & 4096);
        g_assert_cmpint(info.argsz, >, sizeof(info));
        g_assert_cmpint(info.cap_offset, ==, 0);
        ip->argsz = sizeof(ibuf);
        g_assert_cmpint(ioctl(l.ct, VFIO_IOMMU_GET_INFO, ip), ==, 0);
        g_assert_true(ip->flags & VFIO_IOMMU_INFO_CAPS);
        g_assert_cmpint(ip->cap_offset, ==, sizeof(info));
        for (h = (void *)(ibuf + ip->cap_offset);;
             h = (void *)(ibuf + h->next)) {
            if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
                iova = (void *)h;
            }
            mig |= h->id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
            avail |= h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
            if (!h->next) {
                break;
            }
            g_assert_cmpint(h->next, <, sizeof(ibuf));
        }
        g_assert_nonnull(iova);
        g_assert_cmpint(iova->nr_iovas, ==, 2);
        g_assert_cmpint(iova->iova_ranges[0].end, ==, 0xfedfffff);
        g_assert_true(mig && avail);
    }

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

/*
 * A device region's mmap DMA-mapped (peer-to-peer, as QEMU maps every
 * mmap'ed BAR): type1 maps MMIO pfns without charging RLIMIT_MEMLOCK, and
 * the device's DMA lands in the region.
 */
static void test_legacy_bar_dma(void)
{
    Sim sim;
    Legacy l;
    uint8_t *bar2, *ram;
    int ramfd, status;
    pid_t pid;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    bar2 = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, l.dev,
                (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
    g_assert_true(bar2 != MAP_FAILED);
    memset(bar2, 0, 65536);
    pid = fork();
    if (pid == 0) {
        drop_ipc_lock();
        set_memlock(16 << 10);
        /* RAM counts against the 16 KiB, the 64 KiB of MMIO does not. */
        if (map_dma(l.ct, ram, 0, 32 << 10, VFIO_DMA_MAP_FLAG_READ) !=
                -ENOMEM ||
            map_dma(l.ct, bar2, 0x40000000, 65536,
                    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE) ||
            map_dma(l.ct, ram, 0, 16 << 10, VFIO_DMA_MAP_FLAG_READ)) {
            _exit(1);
        }
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    reg_write(l.dev, R_RING_LO, 0x40000000);
    reg_write(l.dev, R_RING_HI, 0);
    reg_write(l.dev, R_RING_ENTRIES, 64);
    reg_write(l.dev, R_PERIOD_US, 100);
    reg_write(l.dev, R_CTRL, 1);
    wait_head(l.dev, 20);
    g_assert_cmpint(ring_check(bar2, reg_read(l.dev, R_HEAD), 64), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_FAULTS), ==, 0);
    legacy_close(&l);
    munmap(bar2, 65536);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

/*
 * msix-bar=2: the MSI-X capability points into BAR2 (table 0x8000, PBA
 * 0x9000), whose sparse-mmap areas leave out the table's page as
 * vfio-pci does; an mmap over it is EINVAL, the areas map the device's
 * memory, and pread shows the table and PBA as all-ones.
 */
static void test_legacy_msix_bar2(void)
{
    Sim sim;
    Legacy l;
    uint8_t rbuf[sizeof(struct vfio_region_info) + 64] = {0};
    struct vfio_region_info *rip = (void *)rbuf;
    struct vfio_region_info_cap_sparse_mmap *sp;
    uint64_t bar2_off = (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40;
    uint32_t table = 0, pba = 0, v = 0x11223344;
    uint8_t *lo, *hi;

    sim_start(&sim, "0000:00:05.0,type=dmatest,msix-bar=2", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    rip->argsz = sizeof(rbuf);
    rip->index = VFIO_PCI_BAR2_REGION_INDEX;
    g_assert_cmpint(ioctl(l.dev, VFIO_DEVICE_GET_REGION_INFO, rip), ==, 0);
    g_assert_true(rip->flags & VFIO_REGION_INFO_FLAG_MMAP);
    g_assert_cmpint(rip->cap_offset, ==, sizeof(*rip));
    sp = (void *)(rbuf + rip->cap_offset);
    g_assert_cmpint(sp->header.id, ==, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
    g_assert_cmpint(sp->nr_areas, ==, 2);
    g_assert_cmphex(sp->areas[0].offset, ==, 0);
    g_assert_cmphex(sp->areas[0].size, ==, 0x8000);
    g_assert_cmphex(sp->areas[1].offset, ==, 0x9000);
    g_assert_cmphex(sp->areas[1].size, ==, 0x7000);
    g_assert_cmpint(pread(l.dev, &table, 4,
                          ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) +
                              0x64),
                    ==, 4);
    g_assert_cmpint(pread(l.dev, &pba, 4,
                          ((uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40) +
                              0x68),
                    ==, 4);
    g_assert_cmphex(table, ==, 0x8002);
    g_assert_cmphex(pba, ==, 0x9002);
    g_assert_true(mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED,
                       l.dev, bar2_off) == MAP_FAILED);
    g_assert_cmpint(errno, ==, EINVAL);
    lo = mmap(NULL, 0x8000, PROT_READ | PROT_WRITE, MAP_SHARED, l.dev,
              bar2_off);
    hi = mmap(NULL, 0x7000, PROT_READ | PROT_WRITE, MAP_SHARED, l.dev,
              bar2_off + 0x9000);
    g_assert_true(lo != MAP_FAILED && hi != MAP_FAILED);
    /* Both mappings and pread/pwrite are the same device memory. */
    memcpy(lo + 0x10, &v, 4);
    g_assert_cmpint(pwrite(l.dev, &v, 4, bar2_off + 0x9100), ==, 4);
    g_assert_cmphex(*(uint32_t *)(hi + 0x100), ==, v);
    v = 0;
    g_assert_cmpint(pread(l.dev, &v, 4, bar2_off + 0x10), ==, 4);
    g_assert_cmphex(v, ==, 0x11223344);
    /* The table and PBA read as all-ones and keep no writes. */
    g_assert_cmpint(pwrite(l.dev, &v, 4, bar2_off + 0x8000), ==, 4);
    g_assert_cmpint(pread(l.dev, &v, 4, bar2_off + 0x8000), ==, 4);
    g_assert_cmphex(v, ==, 0xffffffff);
    g_assert_cmpint(pread(l.dev, &v, 4, bar2_off + 0x9000), ==, 4);
    g_assert_cmphex(v, ==, 0xffffffff);
    /* BAR0 holds registers only. */
    g_assert_cmpint(pread(l.dev, &v, 4, 0x800), ==, 4);
    g_assert_cmphex(v, ==, 0);
    munmap(lo, 0x8000);
    munmap(hi, 0x7000);
    legacy_close(&l);
    sim_stop(&sim);
}

static int dirty_pages(int ct, uint32_t flags, uint64_t iova, uint64_t size,
                       uint64_t pgsize, uint64_t *bitmap, uint64_t bytes)
{
    struct {
        struct vfio_iommu_type1_dirty_bitmap d;
        struct vfio_iommu_type1_dirty_bitmap_get r;
    } a = {
        {.argsz = sizeof(a), .flags = flags},
        {.iova = iova,
         .size = size,
         .bitmap = {.pgsize = pgsize, .size = bytes, .data = (void *)bitmap}}};

    return ioctl(ct, VFIO_IOMMU_DIRTY_PAGES, &a) < 0 ? -errno : 0;
}

/*
 * VFIO_IOMMU_DIRTY_PAGES (advertised by the migration capability): while
 * tracking is on, every page of every mapping is dirty (type1 without
 * a narrower scope), the bitmap covers whole mappings only, and the
 * kernel's EINVAL cases.
 */
static void test_legacy_dirty_pages(void)
{
    Sim sim;
    Legacy l;
    uint8_t *ram;
    uint64_t bm[16];
    int ramfd;
    unsigned i;
    const uint32_t start = VFIO_IOMMU_DIRTY_PAGES_FLAG_START,
                   stop = VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP,
                   get = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    /* 256 KiB at 0 and 64 KiB at 512 KiB: 64 + 16 pages, a gap between. */
    g_assert_cmpint(map_dma(l.ct, ram, 0, 256 << 10,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    g_assert_cmpint(map_dma(l.ct, ram + (1 << 20), 512 << 10, 64 << 10,
                            VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
                    ==, 0);
    /* Not tracking yet. */
    g_assert_cmpint(dirty_pages(l.ct, get, 0, 576 << 10, 4096, bm, sizeof(bm)),
                    ==, -EINVAL);
    g_assert_cmpint(dirty_pages(l.ct, 0, 0, 0, 0, NULL, 0), ==, -EINVAL);
    g_assert_cmpint(dirty_pages(l.ct, start | stop, 0, 0, 0, NULL, 0), ==,
                    -EINVAL);
    g_assert_cmpint(dirty_pages(l.ct, start, 0, 0, 0, NULL, 0), ==, 0);
    g_assert_cmpint(dirty_pages(l.ct, start, 0, 0, 0, NULL, 0), ==, 0);
    memset(bm, 0xaa, sizeof(bm));
    g_assert_cmpint(dirty_pages(l.ct, get, 0, 576 << 10, 4096, bm, sizeof(bm)),
                    ==, 0);
    for (i = 0; i < 144; i++) {
        bool dirty = i < 64 || i >= 128;

        g_assert_cmpint(!!(bm[i / 64] & (1ull << (i % 64))), ==, dirty);
    }
    /* Only the smallest page size, whole mappings, room for the bits. */
    g_assert_cmpint(
        dirty_pages(l.ct, get, 0, 576 << 10, 2 << 20, bm, sizeof(bm)), ==,
        -EINVAL);
    g_assert_cmpint(dirty_pages(l.ct, get, 0, 128 << 10, 4096, bm, sizeof(bm)),
                    ==, -EINVAL);
    g_assert_cmpint(
        dirty_pages(l.ct, get, 4096, 252 << 10, 4096, bm, sizeof(bm)), ==,
        -EINVAL);
    g_assert_cmpint(dirty_pages(l.ct, get, 0, 576 << 10, 4096, bm, 8), ==,
                    -EINVAL);
    g_assert_cmpint(dirty_pages(l.ct, stop, 0, 0, 0, NULL, 0), ==, 0);
    g_assert_cmpint(dirty_pages(l.ct, get, 0, 576 << 10, 4096, bm, sizeof(bm)),
                    ==, -EINVAL);
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

static int kvm_vfio_file(int kvdev, uint64_t attr, int32_t fd)
{
    struct kvm_device_attr a = {
        .group = KVM_DEV_VFIO_GROUP,
        .attr = attr,
        .addr = (uintptr_t)&fd,
    };

    return ioctl(kvdev, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

/*
 * KVM's VFIO pseudo device takes the group and device files (as the
 * kernel does for real ones, which QEMU relies on for a device cdev) and
 * refuses what is no VFIO file: the container, an iommufd, an eventfd.
 */
static void test_legacy_kvm_vfio(void)
{
    Sim sim;
    Legacy l;
    struct kvm_create_device cd = {.type = KVM_DEV_TYPE_VFIO};
    int kvm, vm, iommufd, efd;

    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    vm = kvm < 0 ? -1 : ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0 || ioctl(vm, KVM_CREATE_DEVICE, &cd) < 0) {
        g_test_skip("no KVM, or no KVM VFIO device, here");
        if (vm >= 0) {
            close(vm);
        }
        if (kvm >= 0) {
            close(kvm);
        }
        return;
    }
    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    legacy_open(&l, 0, "0000:00:05.0");
    iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    efd = eventfd(0, EFD_CLOEXEC);
    g_assert_cmpint(kvm_vfio_file(cd.fd, KVM_DEV_VFIO_GROUP_ADD, l.grp), ==, 0);
    g_assert_cmpint(kvm_vfio_file(cd.fd, KVM_DEV_VFIO_GROUP_ADD, l.dev), ==, 0);
    g_assert_cmpint(kvm_vfio_file(cd.fd, KVM_DEV_VFIO_GROUP_ADD, l.ct), ==,
                    -EINVAL);
    g_assert_cmpint(kvm_vfio_file(cd.fd, KVM_DEV_VFIO_GROUP_ADD, iommufd), ==,
                    -EINVAL);
    g_assert_cmpint(kvm_vfio_file(cd.fd, KVM_DEV_VFIO_GROUP_ADD, efd), ==,
                    -EINVAL);
    g_assert_cmpint(kvm_vfio_file(cd.fd, KVM_DEV_VFIO_GROUP_DEL, l.grp), ==, 0);
    close(efd);
    close(iommufd);
    close(cd.fd);
    close(vm);
    close(kvm);
    legacy_close(&l);
    sim_stop(&sim);
}

static void test_legacy_mdev(void)
{
    Sim sim;
    Legacy l;
    uint8_t *ram;
    uint32_t head, stalls;
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
    wait_reg_at_least(l.dev, R_STALLS, 5);
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

/*
 * HOSTSIMD_FAULT=unmap-vaddr-partial: the next UNMAP_DMA with VADDR | ALL
 * invalidates every mapping but the last (IOVA order) and fails EINVAL;
 * the pages stay pinned throughout (DMA goes on), the invalidated
 * mappings take a vaddr back, the other one still has its own; the fault
 * fires once.
 */
static void test_legacy_fault_unmap_partial(void)
{
    static const uint64_t iovas[] = {RING_IOVA, 0x400000, 0x800000};
    const uint64_t part = RAM_SIZE / 4;
    Sim sim;
    Legacy l;
    uint8_t *ram;
    uint32_t head;
    int ramfd;
    unsigned i;

    g_setenv("HOSTSIMD_FAULT", "unmap-vaddr-partial", TRUE);
    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    g_unsetenv("HOSTSIMD_FAULT");
    legacy_open(&l, 0, "0000:00:05.0");
    ram = ram_new(&ramfd);
    /* Three mappings, the ring (64 KiB) in the first. */
    for (i = 0; i < G_N_ELEMENTS(iovas); i++) {
        g_assert_cmpint(map_dma(l.ct, ram + i * part, iovas[i], part,
                                VFIO_DMA_MAP_FLAG_READ |
                                    VFIO_DMA_MAP_FLAG_WRITE),
                        ==, 0);
    }
    stream_start(l.dev, 4096, 200, 0, 1);
    wait_head(l.dev, 5);
    g_assert_cmpint(
        unmap_dma(l.ct, 0, 0,
                  VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR),
        ==, -EINVAL);
    /* The first two lost their vaddr, the last one did not. */
    for (i = 0; i < G_N_ELEMENTS(iovas); i++) {
        g_assert_cmpint(map_dma(l.ct, ram + i * part, iovas[i], part,
                                VFIO_DMA_MAP_FLAG_VADDR),
                        ==, i + 1 < G_N_ELEMENTS(iovas) ? 0 : -EINVAL);
    }
    head = reg_read(l.dev, R_HEAD);
    wait_head(l.dev, head + 5);
    /* Once only: the next unmap-all invalidates all three. */
    g_assert_cmpint(
        unmap_dma(l.ct, 0, 0,
                  VFIO_DMA_UNMAP_FLAG_ALL | VFIO_DMA_UNMAP_FLAG_VADDR),
        ==, 0);
    for (i = 0; i < G_N_ELEMENTS(iovas); i++) {
        g_assert_cmpint(map_dma(l.ct, ram + i * part, iovas[i], part,
                                VFIO_DMA_MAP_FLAG_VADDR),
                        ==, 0);
    }
    head = reg_read(l.dev, R_HEAD);
    wait_head(l.dev, head + 5);
    head = reg_read(l.dev, R_HEAD);
    g_assert_cmpint(ring_check(ram, head, 4096), ==, 0);
    g_assert_cmpint(reg_read(l.dev, R_FAULTS), ==, 0);
    legacy_close(&l);
    munmap(ram, RAM_SIZE);
    close(ramfd);
    sim_stop(&sim);
}

int hostsim_helper_b(int ct, int grp, int sock)
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
    /* The pages' accounting moves to this process: its limit applies. */
    drop_ipc_lock();
    set_memlock(RAM_SIZE / 2);
    CHECK(map_dma(ct, ram, RING_IOVA, RAM_SIZE, VFIO_DMA_MAP_FLAG_VADDR) ==
              -ENOMEM,
          43);
    set_memlock(RAM_SIZE);
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
    {
        /* The group A also held, after exec: still in its container. */
        struct vfio_group_status st = {.argsz = sizeof(st)};

        CHECK(ioctl(grp, VFIO_GROUP_GET_STATUS, &st) == 0 &&
                  (st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET),
              42);
    }
    fprintf(stderr, "helper B: %u records intact after the hand-over\n", head);
    return 0;
}

/* Process A: sets everything up, starts B, abandons its vaddr, exits. */
int hostsim_helper_a(int report)
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
        execl("/proc/self/exe", hostsim_argv[0], "--helper", "B", a1, a2, a3,
              NULL);
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

/*
 * Run helper FIRST (which starts the second helper and exits before it):
 * both must exit 0.
 */
static void test_legacy_handover(void)
{
    run_handover("A", "0000:00:05.0,type=dmatest");
}

static int count_fds(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd", (int)pid);
    GDir *d = g_dir_open(path, 0, NULL);
    int n = 0;

    g_assert_nonnull(d);
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

/*
 * Nothing stays behind: after a full open / map / interrupts / mmap /
 * close cycle, repeated, the daemon and this process hold the fds they
 * held before (reply sockets, passed eventfds and memfds are all closed).
 */
static void test_legacy_no_leak(void)
{
    Sim sim;
    int base_daemon, base_self, round;

    sim_start(&sim, "0000:00:05.0,type=dmatest", NULL);
    base_daemon = count_fds(sim.pid);
    base_self = count_fds(getpid());
    for (round = 0; round < 20; round++) {
        Legacy l;
        uint8_t *ram, *bar2;
        int ramfd, efd, i;

        legacy_open(&l, 0, "0000:00:05.0");
        ram = ram_new(&ramfd);
        g_assert_cmpint(
            map_dma(l.ct, ram, RING_IOVA, RAM_SIZE,
                    VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE),
            ==, 0);
        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        g_assert_cmpint(set_irq_eventfd(l.dev, VFIO_PCI_INTX_IRQ_INDEX,
                                        VFIO_IRQ_SET_ACTION_TRIGGER, efd),
                        ==, 0);
        g_assert_cmpint(set_irq_eventfd(l.dev, VFIO_PCI_INTX_IRQ_INDEX,
                                        VFIO_IRQ_SET_ACTION_UNMASK, efd),
                        ==, 0);
        bar2 = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, l.dev,
                    (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40);
        g_assert_true(bar2 != MAP_FAILED);
        for (i = 0; i < 10; i++) {
            g_assert_cmpint(reg_read(l.dev, R_ID), ==, 0xba700001);
        }
        g_assert_cmpint(ioctl(l.dev, _IO(VFIO_TYPE, VFIO_BASE + 60)), ==, -1);
        munmap(bar2, 65536);
        close(efd);
        legacy_close(&l);
        munmap(ram, RAM_SIZE);
        close(ramfd);
    }
    g_assert_cmpint(count_fds(getpid()), ==, base_self);
    /* The daemon sees each release as the last close happens. */
    {
        int64_t deadline = g_get_monotonic_time() + HANG_US;

        while (count_fds(sim.pid) != base_daemon &&
               g_get_monotonic_time() < deadline) {
            g_usleep(1000);
        }
        g_assert_cmpint(count_fds(sim.pid), ==, base_daemon);
    }
    sim_stop(&sim);
}

void hostsim_add_legacy_tests(void)
{
    g_test_add_func("/hostsim/legacy/stream", test_legacy_stream);
    g_test_add_func("/hostsim/legacy/intx", test_legacy_intx);
    g_test_add_func("/hostsim/legacy/errors", test_legacy_errors);
    g_test_add_func("/hostsim/legacy/two-groups", test_legacy_two_groups);
    g_test_add_func("/hostsim/legacy/memlock", test_legacy_memlock);
    g_test_add_func("/hostsim/legacy/bar-dma", test_legacy_bar_dma);
    g_test_add_func("/hostsim/legacy/msix-bar2", test_legacy_msix_bar2);
    g_test_add_func("/hostsim/legacy/dirty-pages", test_legacy_dirty_pages);
    g_test_add_func("/hostsim/legacy/kvm-vfio", test_legacy_kvm_vfio);
    g_test_add_func("/hostsim/legacy/mdev", test_legacy_mdev);
    g_test_add_func("/hostsim/legacy/fault-unmap-partial",
                    test_legacy_fault_unmap_partial);
    g_test_add_func("/hostsim/legacy/handover", test_legacy_handover);
    g_test_add_func("/hostsim/legacy/no-leak", test_legacy_no_leak);
}
