/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dmatest PCI function (0xba70:0x0001) and its VFIO device files:
 * config space, regions (BAR0 registers with the MSI-X table and PBA,
 * BAR2 64 KiB of shared memory), interrupts on the eventfds SET_IRQS
 * gives, resets, and the DMA engine thread that writes numbered records
 * into a ring through whatever IOMMU the device is attached to. The
 * register map is in docs/devel/hostsim.md. Binding to iommufd is
 * iommufd.c's; this file only routes the cdev ioctls there.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <glib-unix.h>

#include "standard-headers/linux/vfio-extra.h"
#include "dmatest.h"

#define BAR0_SIZE 4096u
#define MSIX_TABLE 0x800u
#define MSIX_PBA 0xc00u
#define BAR2_SIZE 65536u
#define RECORD_MAGIC 0x444d4154u
#define NUM_REGIONS (VFIO_PCI_VGA_REGION_INDEX + 1)
#define NUM_IRQS (VFIO_PCI_REQ_IRQ_INDEX + 1)
#define REGION_SHIFT 40
#define IRQ_NONE (-1)

const char *hs_device_bdf(HsDevice *d)
{
    return d->bdf;
}

int hs_device_group(HsDevice *d)
{
    return d->group;
}

int hs_device_index(HsDevice *d)
{
    return d->index;
}

bool hs_device_is_mdev(HsDevice *d)
{
    return d->mdev;
}

bool hs_device_iommu_dirty(HsDevice *d)
{
    return d->iommu_dirty;
}

bool hs_device_region_file(dev_t dev, ino_t ino)
{
    int i;

    for (i = 0; i < hs_device_count(); i++) {
        HsDevice *d = hs_device_by_index(i);

        if (d->bar2_dev == dev && d->bar2_ino == ino) {
            return true;
        }
    }
    return false;
}

int hs_device_open_count(HsDevice *d)
{
    return d->opens;
}

HsDevFile *hs_device_cdev_file(HsDevice *d)
{
    return d->cdev_file;
}

/* ---- config space ---- */

static void cfg_set(HsDevice *d, unsigned off, uint32_t val, unsigned len,
                    uint32_t wmask)
{
    unsigned i;

    for (i = 0; i < len; i++) {
        d->config[off + i] = val >> (8 * i);
        d->wmask[off + i] = wmask >> (8 * i);
    }
}

static void hs_config_init(HsDevice *d)
{
    cfg_set(d, PCI_VENDOR_ID, 0xba70, 2, 0);
    cfg_set(d, PCI_DEVICE_ID, 0x0001, 2, 0);
    cfg_set(d, PCI_COMMAND, 0, 2,
            PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
                PCI_COMMAND_PARITY | PCI_COMMAND_SERR |
                PCI_COMMAND_INTX_DISABLE);
    cfg_set(d, PCI_STATUS, PCI_STATUS_CAP_LIST, 2, 0);
    cfg_set(d, PCI_REVISION_ID, 0x01, 1, 0);
    cfg_set(d, PCI_CLASS_PROG, 0xff0000, 3, 0);
    /* BAR0: 32-bit memory, 4 KiB; BAR2: 32-bit memory, 64 KiB. */
    cfg_set(d, PCI_BASE_ADDRESS_0, 0, 4, ~(BAR0_SIZE - 1));
    cfg_set(d, PCI_BASE_ADDRESS_2, 0, 4, ~(BAR2_SIZE - 1));
    cfg_set(d, PCI_SUBSYSTEM_VENDOR_ID, 0xba70, 2, 0);
    cfg_set(d, PCI_SUBSYSTEM_ID, 0x0001, 2, 0);
    cfg_set(d, PCI_CAPABILITY_LIST, 0x40, 1, 0);
    cfg_set(d, PCI_INTERRUPT_LINE, 0, 1, 0xff);
    cfg_set(d, PCI_INTERRUPT_PIN, 1, 1, 0);
    /* 0x40 power management (version 3) -> 0x50 MSI -> 0x60 MSI-X */
    cfg_set(d, 0x40, PCI_CAP_ID_PM | 0x50 << 8 | 3 << 16, 4, 0);
    cfg_set(d, 0x44, 0, 2, PCI_PM_CTRL_STATE_MASK);
    cfg_set(d, 0x50, PCI_CAP_ID_MSI | 0x60 << 8, 2, 0);
    cfg_set(d, 0x52, 0, 2, PCI_MSI_FLAGS_ENABLE);
    cfg_set(d, 0x54, 0, 4, 0xfffffffc);
    cfg_set(d, 0x58, 0, 2, 0xffff);
    cfg_set(d, 0x60, PCI_CAP_ID_MSIX, 2, 0);
    cfg_set(d, 0x62, MSIX_VECTORS - 1, 2,
            PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    cfg_set(d, 0x64, MSIX_TABLE | 0, 4, 0); /* BIR 0 */
    cfg_set(d, 0x68, MSIX_PBA | 0, 4, 0);   /* BIR 0 */
}

/* ---- interrupts ---- */

static void hs_signal(int fd)
{
    uint64_t one = 1;

    if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
        hs_log("eventfd write: %s", g_strerror(errno));
    }
}

static void hs_intx_fire(HsDevice *d)
{
    if (d->intx_masked) {
        d->intx_pending = true;
        return;
    }
    /* Level interrupt: the kernel masks it until the user unmasks. */
    d->intx_masked = true;
    hs_signal(d->intx_trigger);
}

static void hs_intx_unmask(HsDevice *d)
{
    d->intx_masked = false;
    /* A stopped device raises nothing: what is pending waits for RUNNING. */
    if (d->intx_pending && hs_mig_running(d)) {
        d->intx_pending = false;
        hs_intx_fire(d);
    }
}

static void hs_irq_raise(HsDevice *d)
{
    switch (d->irq_type) {
    case VFIO_PCI_MSIX_IRQ_INDEX:
    case VFIO_PCI_MSI_IRQ_INDEX:
        hs_signal(d->msi_trigger[0]);
        break;
    case VFIO_PCI_INTX_IRQ_INDEX:
        hs_intx_fire(d);
        break;
    }
}

static void hs_close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void hs_intx_set_unmask_fd(HsDevice *d, int fd);

void hs_dmatest_resumed(HsDevice *d)
{
    d->next_due = g_get_monotonic_time() + d->regs[R_PERIOD_US];
    if (d->irq_type == VFIO_PCI_INTX_IRQ_INDEX && !d->intx_masked) {
        hs_intx_unmask(d);
    }
    g_cond_signal(&d->cond);
}

static void hs_irq_disable(HsDevice *d)
{
    int i;

    hs_close_fd(&d->intx_trigger);
    hs_intx_set_unmask_fd(d, -1);
    for (i = 0; i < MSIX_VECTORS; i++) {
        hs_close_fd(&d->msi_trigger[i]);
    }
    d->intx_masked = d->intx_pending = false;
    d->irq_type = IRQ_NONE;
}

/* The unmask eventfd (KVM's resamplefd) fires: unmask INTx. */
static gboolean hs_intx_unmask_ready(gint fd, GIOCondition cond,
                                     gpointer opaque)
{
    HsDevice *d = opaque;
    uint64_t v;

    if (read(fd, &v, sizeof(v)) < 0 && errno == EAGAIN) {
        return G_SOURCE_CONTINUE;
    }
    g_mutex_lock(&hs_lock);
    if (d->irq_type == VFIO_PCI_INTX_IRQ_INDEX) {
        hs_intx_unmask(d);
    }
    g_mutex_unlock(&hs_lock);
    return G_SOURCE_CONTINUE;
}

static void hs_intx_set_unmask_fd(HsDevice *d, int fd)
{
    if (d->intx_unmask_watch) {
        g_source_remove(d->intx_unmask_watch);
        d->intx_unmask_watch = 0;
    }
    hs_close_fd(&d->intx_unmask);
    if (fd >= 0) {
        d->intx_unmask = fd;
        d->intx_unmask_watch =
            g_unix_fd_add(fd, G_IO_IN, hs_intx_unmask_ready, d);
    }
}

/* ---- reset and the DMA engine ---- */

static void hs_dmatest_reset(HsDevice *d, const char *why)
{
    uint32_t resets = d->regs[R_RESETS] + 1;

    memset(d->regs, 0, sizeof(d->regs));
    d->regs[R_ID] = DMATEST_ID;
    d->regs[R_RESETS] = resets;
    d->intx_pending = false;
    hs_mig_reset(d);
    hs_log("device %s reset (%s); RESETS=%u", d->bdf, why, resets);
    g_cond_signal(&d->cond);
}

static HsSpace *hs_device_space(HsDevice *d)
{
    if (d->cdev_file) {
        return hs_iommufd_space(d->cdev_file);
    }
    return hs_group_space(hs_group_get(d->group, false));
}

/* One record is due. Called with hs_lock held. */
static void hs_dmatest_tick(HsDevice *d)
{
    uint32_t head = d->regs[R_HEAD];
    uint32_t entries = d->regs[R_RING_ENTRIES];
    uint64_t ring = d->regs[R_RING_LO] | (uint64_t)d->regs[R_RING_HI] << 32;
    uint64_t n = (uint64_t)head + 1;
    uint64_t iova = ring + ((n - 1) % entries) * 16;
    HsSpace *sp;
    HsMapping *m;
    uint8_t *p;

    if (head - d->regs[R_TAIL] >= entries) {
        d->regs[R_OVERFLOWS]++;
        return;
    }
    sp = hs_device_space(d);
    m = sp ? hs_space_lookup(sp, iova, 16) : NULL;
    if (!m || !m->writable) {
        if (d->faults_logged++ % 1000 == 0) {
            hs_log("device %s: DMA write to unmapped IOVA 0x%" G_GINT64_MODIFIER
                   "x (record %" G_GUINT64_FORMAT ", FAULTS=%u)",
                   d->bdf, iova, n, d->regs[R_FAULTS] + 1);
        }
        d->regs[R_FAULTS]++;
        return;
    }
    if (d->mdev && m->has_vaddr && !m->vaddr_valid) {
        /* An mdev translates through the vaddr: it has to wait. */
        d->regs[R_STALLS]++;
        return;
    }
    if (m->pin.mmio && hs_mig_p2p_quiesced(d)) {
        /* RUNNING_P2P: no DMA into a device's BAR; retried later. */
        return;
    }
    p = m->pin.host + (iova - m->iova);
    memcpy(p, &n, 8);
    *(uint32_t *)(p + 8) = ~(uint32_t)n;
    __atomic_store_n((uint32_t *)(p + 12), RECORD_MAGIC, __ATOMIC_RELEASE);
    hs_mig_dma_written(d, iova, 16);
    d->regs[R_HEAD] = head + 1;
    if (d->regs[R_IRQ_EVERY] && (d->regs[R_CTRL] & CTRL_IRQ) &&
        (head + 1) % d->regs[R_IRQ_EVERY] == 0) {
        hs_irq_raise(d);
    }
}

/*
 * The device's own thread: records on time while the stream is on, and
 * changes to the internal state at state-dirty-rate, both only while the
 * device runs (not in STOP, STOP_COPY, RESUMING or ERROR).
 */
static gpointer hs_dmatest_thread(gpointer opaque)
{
    HsDevice *d = opaque;
    int64_t now, wake;

    g_mutex_lock(&hs_lock);
    while (!d->stop) {
        now = g_get_monotonic_time();
        wake = G_MAXINT64;
        if (hs_mig_running(d) && d->dirty_rate) {
            hs_mig_mutate(d, now);
            wake = now + G_USEC_PER_SEC / 100;
        }
        if (!(d->regs[R_CTRL] & CTRL_STREAM) || !hs_mig_running(d)) {
            if (wake == G_MAXINT64) {
                g_cond_wait(&d->cond, &hs_lock);
            } else {
                g_cond_wait_until(&d->cond, &hs_lock, wake);
            }
            continue;
        }
        if (now < d->next_due) {
            g_cond_wait_until(&d->cond, &hs_lock, MIN(wake, d->next_due));
            continue;
        }
        hs_dmatest_tick(d);
        d->next_due += d->regs[R_PERIOD_US];
        if (d->next_due < now - G_USEC_PER_SEC) {
            /* A second behind (host stopped?): do not burst-catch up. */
            d->next_due = now;
        }
    }
    g_mutex_unlock(&hs_lock);
    return NULL;
}

void hs_dmatest_start(HsDevice *d)
{
    g_autofree char *name = g_strdup_printf("dmatest-%d", d->index);

    d->thread = g_thread_new(name, hs_dmatest_thread, d);
}

void hs_dmatest_stop(HsDevice *d)
{
    g_mutex_lock(&hs_lock);
    d->stop = true;
    g_cond_signal(&d->cond);
    g_mutex_unlock(&hs_lock);
    g_thread_join(d->thread);
}

/* ---- creation ---- */

bool hs_parse_onoff(const char *key, const char *val, bool *out, GError **errp)
{
    if (!strcmp(val, "on")) {
        *out = true;
    } else if (!strcmp(val, "off")) {
        *out = false;
    } else {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter '%s' expects 'on' or 'off'", key);
        return false;
    }
    return true;
}

HsDevice *hs_dmatest_new(const char *spec, int index, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    g_autofree HsDevice *d = g_new0(HsDevice, 1);
    unsigned dom, bus, slot, fn;
    bool have_type = false;
    struct stat st;
    char extra;
    int i;

    if (!parts[0] ||
        sscanf(parts[0], "%4x:%2x:%2x.%1x%c", &dom, &bus, &slot, &fn, &extra) !=
            4 ||
        slot > 0x1f || fn > 7) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "'%s' is not a PCI address DDDD:BB:DD.F",
                    parts[0] ? parts[0] : "");
        return NULL;
    }
    snprintf(d->bdf, sizeof(d->bdf), "%04x:%02x:%02x.%x", dom, bus, slot, fn);
    d->index = index;
    d->group = index;
    d->state_size = 1 << 20;
    d->log_max_ranges = 256; /* what the vfio core guarantees */
    for (i = 1; parts[i]; i++) {
        char *eq = strchr(parts[i], '=');
        const char *key = parts[i], *val;
        bool ok = true;

        if (!eq) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "expected key=value, got '%s'", parts[i]);
            return NULL;
        }
        *eq = '\0';
        val = eq + 1;
        if (!strcmp(key, "type")) {
            if (strcmp(val, "dmatest")) {
                g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "unknown device type '%s' (known: dmatest)", val);
                return NULL;
            }
            have_type = true;
        } else if (!strcmp(key, "group")) {
            char *end;
            long g = strtol(val, &end, 10);

            if (!*val || *end || g < 0 || g >= HS_MAX_GROUPS) {
                g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "group '%s' is not a number below %d", val,
                            HS_MAX_GROUPS);
                return NULL;
            }
            d->group = g;
        } else if (!strcmp(key, "mdev")) {
            ok = hs_parse_onoff(key, val, &d->mdev, errp);
        } else if (!hs_mig_parse_key(d, key, val, &ok, errp)) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                        "unknown key '%s' (valid: type, group, mdev, "
                        "migration, precopy, state-size, state-dirty-rate, "
                        "dma-logging, dma-logging-max-ranges, iommu-dirty)",
                        key);
            return NULL;
        }
        if (!ok) {
            return NULL;
        }
    }
    if (!have_type) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "type=dmatest is required");
        return NULL;
    }
    d->bar2_fd = memfd_create("hostsim-bar2", MFD_CLOEXEC);
    if (d->bar2_fd < 0 || ftruncate(d->bar2_fd, BAR2_SIZE) < 0 ||
        fstat(d->bar2_fd, &st) < 0) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "memfd for BAR2: %s", g_strerror(errno));
        return NULL;
    }
    d->bar2_dev = st.st_dev;
    d->bar2_ino = st.st_ino;
    d->bar2 = mmap(NULL, BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                   d->bar2_fd, 0);
    if (d->bar2 == MAP_FAILED) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_FAILED, "mapping BAR2: %s",
                    g_strerror(errno));
        return NULL;
    }
    d->regs[R_ID] = DMATEST_ID;
    d->irq_type = IRQ_NONE;
    d->intx_trigger = d->intx_unmask = d->req_trigger = -1;
    for (i = 0; i < MSIX_VECTORS; i++) {
        d->msi_trigger[i] = -1;
    }
    g_cond_init(&d->cond);
    hs_config_init(d);
    if (!hs_mig_init(d, errp)) {
        return NULL;
    }
    return g_steal_pointer(&d);
}

/* ---- device files ---- */

/* The device is opened: the kernel resets a function on first open. */
static void hs_device_open(HsDevice *d)
{
    if (d->opens++ == 0) {
        hs_dmatest_reset(d, "first open");
    }
}

HsDevFile *hs_devfile_new(HsDevice *d, HsGroup *g, bool cdev)
{
    HsDevFile *df = g_new0(HsDevFile, 1);

    df->dev = d;
    df->group = g;
    df->cdev = cdev;
    if (!cdev) {
        hs_device_open(d);
        df->opened = true;
    }
    return df;
}

int hs_devfile_open_cdev(HsDevFile *df)
{
    HsDevice *d = df->dev;

    if (d->opens || d->cdev_file) {
        hs_log("device %s is already open (through its group or another "
               "cdev file); EBUSY",
               d->bdf);
        return -EBUSY;
    }
    hs_device_open(d);
    df->opened = true;
    d->cdev_file = df;
    return 0;
}

void hs_devfile_release(HsDevFile *df)
{
    HsDevice *d = df->dev;

    if (df->cdev && df->ictx) {
        hs_iommufd_unbind(df);
    }
    if (d->cdev_file == df) {
        d->cdev_file = NULL;
    }
    if (df->opened && --d->opens == 0) {
        /* Last close: interrupts off and a reset, as vfio-pci does. */
        hs_irq_disable(d);
        hs_log_stop(d);
        hs_dmatest_reset(d, "last close");
    }
    if (df->group) {
        hs_group_device_closed(df->group);
    }
    g_free(df);
}

/* ---- ioctls ---- */

static void hs_out(HsCall *c, const void *s, uint32_t len)
{
    len = MIN(len, c->in_len);
    memcpy(c->out, s, len);
    c->out_len = len;
}

static int64_t hs_get_info(HsDevFile *df, HsCall *c)
{
    struct vfio_device_info info = {0};
    uint32_t minsz = offsetof(struct vfio_device_info, cap_offset);

    memcpy(&info, c->in, MIN(c->in_len, sizeof(info)));
    if (c->in_len < minsz || info.argsz < minsz) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET |
                 (df->cdev ? VFIO_DEVICE_FLAGS_CDEV : 0);
    info.num_regions = NUM_REGIONS;
    info.num_irqs = NUM_IRQS;
    info.cap_offset = 0;
    hs_out(c, &info, sizeof(info));
    return 0;
}

static int64_t hs_get_region_info(HsDevFile *df, HsCall *c)
{
    struct vfio_region_info info = {0};
    struct {
        struct vfio_region_info_cap_sparse_mmap h;
        struct vfio_region_sparse_mmap_area area;
    } sparse = {0};
    uint32_t minsz = sizeof(info);

    memcpy(&info, c->in, MIN(c->in_len, sizeof(info)));
    if (c->in_len < minsz || info.argsz < minsz) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    if (info.index >= NUM_REGIONS || info.index == VFIO_PCI_VGA_REGION_INDEX) {
        return -EINVAL;
    }
    info.offset = (uint64_t)info.index << REGION_SHIFT;
    info.cap_offset = 0;
    info.flags = 0;
    info.size = 0;
    c->out_len = sizeof(info);
    switch (info.index) {
    case VFIO_PCI_BAR0_REGION_INDEX:
        /* Registers, MSI-X table and PBA: read/write only. */
        info.size = BAR0_SIZE;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        break;
    case VFIO_PCI_BAR2_REGION_INDEX:
        info.size = BAR2_SIZE;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
                     VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
        sparse.h.header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
        sparse.h.header.version = 1;
        sparse.h.nr_areas = 1;
        sparse.area.offset = 0;
        sparse.area.size = BAR2_SIZE;
        if (info.argsz < sizeof(info) + sizeof(sparse) ||
            c->in_len < sizeof(info) + sizeof(sparse)) {
            info.argsz = sizeof(info) + sizeof(sparse);
        } else {
            info.cap_offset = sizeof(info);
            memcpy(c->out + sizeof(info), &sparse, sizeof(sparse));
            c->out_len = sizeof(info) + sizeof(sparse);
        }
        break;
    case VFIO_PCI_CONFIG_REGION_INDEX:
        info.size = CONFIG_SIZE;
        info.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
        break;
    }
    memcpy(c->out, &info, sizeof(info));
    c->out_len = MIN(c->out_len, c->in_len);
    return 0;
}

static uint32_t hs_irq_count(int index)
{
    switch (index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_REQ_IRQ_INDEX:
        return 1;
    case VFIO_PCI_MSIX_IRQ_INDEX:
        return MSIX_VECTORS;
    }
    return 0; /* ERR: not a PCI Express function */
}

static int64_t hs_get_irq_info(HsDevFile *df, HsCall *c)
{
    struct vfio_irq_info info = {0};

    memcpy(&info, c->in, MIN(c->in_len, sizeof(info)));
    if (c->in_len < sizeof(info) || info.argsz < sizeof(info)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    if (info.index >= NUM_IRQS) {
        return -EINVAL;
    }
    info.count = hs_irq_count(info.index);
    info.flags = VFIO_IRQ_INFO_EVENTFD;
    if (info.index == VFIO_PCI_INTX_IRQ_INDEX) {
        info.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    } else if (info.index == VFIO_PCI_MSI_IRQ_INDEX ||
               info.index == VFIO_PCI_MSIX_IRQ_INDEX) {
        info.flags |= VFIO_IRQ_INFO_NORESIZE;
    }
    hs_out(c, &info, sizeof(info));
    return 0;
}

/*
 * The eventfd for data[i] of a SET_IRQS call: the passed fds arrive in
 * order for the entries that are >= 0. Taken over by the device.
 */
static int hs_take_irq_fd(HsCall *c, const int32_t *data, uint32_t i)
{
    uint32_t k, n = 0;
    int fd;

    if (data[i] < 0) {
        return -1;
    }
    for (k = 0; k < i; k++) {
        n += data[k] >= 0;
    }
    if (n >= (uint32_t)c->nfds) {
        return -1;
    }
    fd = c->fds[n];
    c->fds[n] = -1;
    return fd;
}

static int64_t hs_set_intx(HsDevice *d, HsCall *c, struct vfio_irq_set *s,
                           const uint8_t *data)
{
    uint32_t action = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    bool is_intx = d->irq_type == VFIO_PCI_INTX_IRQ_INDEX;
    bool none = s->flags & VFIO_IRQ_SET_DATA_NONE;
    bool boolean = s->flags & VFIO_IRQ_SET_DATA_BOOL;
    int fd;

    if (action == VFIO_IRQ_SET_ACTION_TRIGGER) {
        if (is_intx && !s->count && none) {
            hs_irq_disable(d);
            return 0;
        }
        if (!(is_intx || d->irq_type == IRQ_NONE) || s->start != 0 ||
            s->count != 1) {
            return -EINVAL;
        }
        if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
            fd = hs_take_irq_fd(c, (const int32_t *)data, 0);
            if (fd < 0) {
                if (is_intx) {
                    hs_irq_disable(d);
                }
                return 0;
            }
            hs_close_fd(&d->intx_trigger);
            d->intx_trigger = fd;
            if (!is_intx) {
                d->irq_type = VFIO_PCI_INTX_IRQ_INDEX;
                d->intx_masked = d->intx_pending = false;
            }
            return 0;
        }
        if (is_intx && (none || data[0])) {
            hs_signal(d->intx_trigger);
        }
        return 0;
    }
    if (!is_intx || s->start != 0 || s->count != 1) {
        return -EINVAL;
    }
    if (action == VFIO_IRQ_SET_ACTION_MASK) {
        if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
            return -ENOTTY;
        }
        if (none || (boolean && data[0])) {
            d->intx_masked = true;
        }
        return 0;
    }
    /* UNMASK */
    if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        hs_intx_set_unmask_fd(d, hs_take_irq_fd(c, (const int32_t *)data, 0));
        return 0;
    }
    if (none || (boolean && data[0])) {
        hs_intx_unmask(d);
    }
    return 0;
}

static int64_t hs_set_msi(HsDevice *d, HsCall *c, struct vfio_irq_set *s,
                          const uint8_t *data)
{
    uint32_t action = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    bool is_this = d->irq_type == (int)s->index;
    uint32_t i;

    if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
        return -ENOTTY; /* the kernel exports no MSI masking */
    }
    if (is_this && !s->count && (s->flags & VFIO_IRQ_SET_DATA_NONE)) {
        hs_irq_disable(d);
        return 0;
    }
    if (!(is_this || d->irq_type == IRQ_NONE)) {
        return -EINVAL;
    }
    if (s->flags & VFIO_IRQ_SET_DATA_EVENTFD) {
        d->irq_type = s->index;
        for (i = 0; i < s->count; i++) {
            hs_close_fd(&d->msi_trigger[s->start + i]);
            d->msi_trigger[s->start + i] =
                hs_take_irq_fd(c, (const int32_t *)data, i);
        }
        return 0;
    }
    if (!is_this) {
        return -EINVAL;
    }
    for (i = 0; i < s->count; i++) {
        if ((s->flags & VFIO_IRQ_SET_DATA_NONE) || data[i]) {
            hs_signal(d->msi_trigger[s->start + i]);
        }
    }
    return 0;
}

static int64_t hs_set_irqs(HsDevFile *df, HsCall *c)
{
    HsDevice *d = df->dev;
    struct vfio_irq_set s;
    uint32_t dtype, atype, max, esize = 0;
    const uint8_t *data = c->in + sizeof(s);

    if (c->in_len < sizeof(s)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    memcpy(&s, c->in, sizeof(s));
    dtype = s.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
    atype = s.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    if (s.argsz < sizeof(s) || s.index >= NUM_IRQS ||
        (s.flags &
         ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) ||
        __builtin_popcount(dtype) != 1 || __builtin_popcount(atype) != 1) {
        return -EINVAL;
    }
    max = hs_irq_count(s.index);
    if (s.count >= UINT32_MAX - s.start || s.start >= max ||
        s.start + s.count > max) {
        return -EINVAL;
    }
    if (dtype == VFIO_IRQ_SET_DATA_BOOL) {
        esize = 1;
    } else if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
        esize = 4;
    }
    if (esize && (s.argsz - sizeof(s) < s.count * esize ||
                  c->in_len - sizeof(s) < s.count * esize)) {
        return -EINVAL;
    }
    switch (s.index) {
    case VFIO_PCI_INTX_IRQ_INDEX:
        return hs_set_intx(d, c, &s, data);
    case VFIO_PCI_MSI_IRQ_INDEX:
    case VFIO_PCI_MSIX_IRQ_INDEX:
        return hs_set_msi(d, c, &s, data);
    case VFIO_PCI_REQ_IRQ_INDEX:
        if (atype != VFIO_IRQ_SET_ACTION_TRIGGER) {
            return -ENOTTY;
        }
        if (dtype == VFIO_IRQ_SET_DATA_EVENTFD) {
            hs_close_fd(&d->req_trigger);
            d->req_trigger = hs_take_irq_fd(c, (const int32_t *)data, 0);
        }
        return 0;
    }
    return -EINVAL;
}

/*
 * GET_PCI_HOT_RESET_INFO and PCI_HOT_RESET: the simulated function sits
 * where neither its slot nor its bus can be reset, for which vfio-pci
 * answers ENODEV once the header is valid (a VMM then uses
 * VFIO_DEVICE_RESET).
 */
static int64_t hs_hot_reset(HsDevFile *df, HsCall *c, bool info)
{
    struct vfio_pci_hot_reset h = {0};
    uint32_t minsz = offsetof(struct vfio_pci_hot_reset, group_fds);

    memcpy(&h, c->in, MIN(c->in_len, minsz));
    if (c->in_len < minsz) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    if (h.argsz < minsz || (!info && h.flags)) {
        return -EINVAL;
    }
    if (!info && !!h.count == df->cdev) {
        /* Group fds name the devices only for a device opened by group. */
        return -EINVAL;
    }
    return -ENODEV;
}

int64_t hs_devfile_ioctl(HsDevFile *df, HsCall *c)
{
    uint64_t cmd = c->req->cmd;

    if (df->cdev) {
        if (cmd == VFIO_DEVICE_BIND_IOMMUFD) {
            return hs_iommufd_bind(df, c);
        }
        if (!df->ictx) {
            /* A cdev fd is usable only once bound. */
            return -EINVAL;
        }
        if (cmd == VFIO_DEVICE_ATTACH_IOMMUFD_PT) {
            return hs_iommufd_attach(df, c);
        }
        if (cmd == VFIO_DEVICE_DETACH_IOMMUFD_PT) {
            return hs_iommufd_detach(df, c);
        }
    }
    switch (cmd) {
    case VFIO_DEVICE_GET_INFO:
        return hs_get_info(df, c);
    case VFIO_DEVICE_GET_REGION_INFO:
        return hs_get_region_info(df, c);
    case VFIO_DEVICE_GET_IRQ_INFO:
        return hs_get_irq_info(df, c);
    case VFIO_DEVICE_SET_IRQS:
        return hs_set_irqs(df, c);
    case VFIO_DEVICE_RESET:
        hs_dmatest_reset(df->dev, "VFIO_DEVICE_RESET");
        hs_log("  (reset requested by pid %d)", (int)c->pid);
        return 0;
    case VFIO_DEVICE_FEATURE:
        return hs_mig_feature(df, c, NULL);
    case VFIO_DEVICE_GET_PCI_HOT_RESET_INFO:
        return hs_hot_reset(df, c, true);
    case VFIO_DEVICE_PCI_HOT_RESET:
        return hs_hot_reset(df, c, false);
    }
    return -ENOTTY;
}

/* ---- region access ---- */

static bool hs_in_msix(uint64_t off)
{
    return (off >= MSIX_TABLE && off < MSIX_TABLE + 16 * MSIX_VECTORS) ||
           (off >= MSIX_PBA && off < MSIX_PBA + 8);
}

static void hs_reg_write(HsDevice *d, unsigned reg, uint32_t val)
{
    uint32_t entries, period;

    switch (reg) {
    case R_CTRL:
        val &= CTRL_STREAM | CTRL_IRQ;
        if ((val & CTRL_STREAM) && !(d->regs[R_CTRL] & CTRL_STREAM)) {
            entries = d->regs[R_RING_ENTRIES];
            period = d->regs[R_PERIOD_US];
            if (!entries || entries > 65536 || (entries & (entries - 1)) ||
                period < 10) {
                hs_log("device %s: stream not started: RING_ENTRIES %u must "
                       "be a power of two <= 65536 and PERIOD_US %u >= 10",
                       d->bdf, entries, period);
                val &= ~CTRL_STREAM;
            } else {
                d->regs[R_HEAD] = d->regs[R_TAIL] = 0;
                d->next_due = g_get_monotonic_time() + period;
                hs_log("device %s: stream on: ring 0x%" G_GINT64_MODIFIER
                       "x, %u entries, every %u us",
                       d->bdf,
                       d->regs[R_RING_LO] | (uint64_t)d->regs[R_RING_HI] << 32,
                       entries, period);
            }
        }
        d->regs[R_CTRL] = val;
        g_cond_signal(&d->cond);
        break;
    case R_TAIL:
        if (d->regs[R_HEAD] - val > d->regs[R_RING_ENTRIES]) {
            hs_log("device %s: TAIL %u is not within the ring behind HEAD "
                   "%u; ignored",
                   d->bdf, val, d->regs[R_HEAD]);
            break;
        }
        d->regs[R_TAIL] = val;
        g_cond_signal(&d->cond);
        break;
    case R_RING_LO:
    case R_RING_HI:
    case R_RING_ENTRIES:
    case R_PERIOD_US:
    case R_IRQ_EVERY:
    case R_MIG_FAIL:
        d->regs[reg] = val;
        break;
    default:
        break; /* read-only */
    }
}

static int64_t hs_bar0_access(HsDevice *d, HsCall *c, uint64_t off,
                              uint64_t len, bool write)
{
    uint32_t v = 0;
    uint64_t i;

    if (write) {
        if (hs_in_msix(off)) {
            return len; /* the table belongs to the VMM: dropped */
        }
        if ((off | len) & 3) {
            return -EINVAL;
        }
        for (i = 0; i < len; i += 4) {
            memcpy(&v, c->in + i, 4);
            if ((off + i) / 4 < R_NUM) {
                hs_reg_write(d, (off + i) / 4, v);
            }
        }
        return len;
    }
    for (i = 0; i < len; i++) {
        uint64_t o = off + i;

        if (o / 4 < R_NUM) {
            /* Computed registers are computed once per access. */
            if (i == 0 || o % 4 == 0) {
                v = o / 4 >= R_MIG_STATE ? hs_mig_reg_read(d, o / 4)
                                         : d->regs[o / 4];
            }
            c->out[i] = v >> (8 * (o % 4));
        } else {
            c->out[i] = hs_in_msix(o) ? 0xff : 0;
        }
    }
    c->out_len = len;
    return len;
}

static int64_t hs_config_access(HsDevice *d, HsCall *c, uint64_t off,
                                uint64_t len, bool write)
{
    uint64_t i;

    for (i = 0; i < len; i++) {
        if (write) {
            uint8_t m = d->wmask[off + i];

            d->config[off + i] = (d->config[off + i] & ~m) | (c->in[i] & m);
        } else {
            c->out[i] = d->config[off + i];
        }
    }
    if (!write) {
        c->out_len = len;
    }
    return len;
}

static int64_t hs_region_access(HsDevFile *df, HsCall *c, bool write)
{
    HsDevice *d = df->dev;
    uint64_t index = c->req->offset >> REGION_SHIFT;
    uint64_t off = c->req->offset & ((1ULL << REGION_SHIFT) - 1);
    uint64_t len = write ? c->in_len : c->req->len;
    uint64_t size;

    if (df->cdev && !df->ictx) {
        return -EINVAL;
    }
    switch (index) {
    case VFIO_PCI_BAR0_REGION_INDEX:
        size = BAR0_SIZE;
        break;
    case VFIO_PCI_BAR2_REGION_INDEX:
        size = BAR2_SIZE;
        break;
    case VFIO_PCI_CONFIG_REGION_INDEX:
        size = CONFIG_SIZE;
        break;
    default:
        return -EINVAL;
    }
    if (off >= size) {
        return -EINVAL;
    }
    len = MIN(len, size - off);
    len = MIN(len, (uint64_t)HOSTSIM_MAX_PAYLOAD);
    switch (index) {
    case VFIO_PCI_BAR0_REGION_INDEX:
        return hs_bar0_access(d, c, off, len, write);
    case VFIO_PCI_CONFIG_REGION_INDEX:
        return hs_config_access(d, c, off, len, write);
    }
    if (write) {
        memcpy(d->bar2 + off, c->in, len);
    } else {
        memcpy(c->out, d->bar2 + off, len);
        c->out_len = len;
    }
    return len;
}

int64_t hs_devfile_pread(HsDevFile *df, HsCall *c)
{
    return hs_region_access(df, c, false);
}

int64_t hs_devfile_pwrite(HsDevFile *df, HsCall *c)
{
    return hs_region_access(df, c, true);
}

int64_t hs_devfile_mmap(HsDevFile *df, HsCall *c)
{
    uint64_t index = c->req->offset >> REGION_SHIFT;
    uint64_t off = c->req->offset & ((1ULL << REGION_SHIFT) - 1);
    uint64_t len = c->req->len;
    uint32_t flags = c->req->arg >> 32;

    if (df->cdev && !df->ictx) {
        return -EINVAL;
    }
    if (index != VFIO_PCI_BAR2_REGION_INDEX) {
        return -EINVAL; /* only BAR2 is mmap-able */
    }
    if (!(flags & MAP_SHARED) || !len || off + len < off ||
        off + len > BAR2_SIZE || (off & (HS_PAGE_SIZE - 1))) {
        return -EINVAL;
    }
    c->out_fd = dup(df->dev->bar2_fd);
    c->out_aux = off;
    return c->out_fd < 0 ? -errno : 0;
}
