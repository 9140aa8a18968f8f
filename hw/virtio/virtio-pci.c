/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-pci, modern only (virtio 1.2 4.1): the vendor capabilities and
 * their regions in BAR 4, the common configuration registers, the ISR,
 * kicks (an ioeventfd per queue read in the main loop, or the MMIO
 * write itself), interrupts (MSI-X by irqfd while the vCPUs run and the
 * vector is unmasked, else sent from here; INTx through the ISR), the
 * stop-time drain, and the proxy's migrated state. The device behind it
 * is a VirtIODevice (virtio.c); subclasses supply it.
 */
#include "util/osdep.h"

#include <glib-unix.h>
#include <sys/eventfd.h>

#include "hw/pci/msix.h"
#include "hw/virtio/virtio-pci.h"
#include "system/runstate.h"
#include "util/error-report.h"

#include "trace.h"

/* virtio 1.2 4.1.4: capability layout and types. */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5
#define VIRTIO_PCI_CAP_LEN 16
#define VIRTIO_PCI_NOTIFY_CAP_LEN 20
#define VIRTIO_PCI_CFG_CAP_LEN 20
#define CAP_CFG_TYPE 3
#define CAP_BAR 4
#define CAP_ID 5
#define CAP_OFFSET 8
#define CAP_LENGTH 12
#define CAP_NOTIFY_MULT 16
#define CAP_CFG_DATA 16

/* Common configuration (struct virtio_pci_common_cfg). */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_MSIX 0x10
#define COMMON_NUMQ 0x12
#define COMMON_STATUS 0x14
#define COMMON_CFGGENERATION 0x15
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESCLO 0x20
#define COMMON_Q_DESCHI 0x24
#define COMMON_Q_AVAILLO 0x28
#define COMMON_Q_AVAILHI 0x2c
#define COMMON_Q_USEDLO 0x30
#define COMMON_Q_USEDHI 0x34
#define COMMON_Q_NDATA 0x38

/* QEMU's layout: BAR 4 holds the four regions, BAR 1 the MSI-X table. */
#define VIRTIO_PCI_MODERN_BAR 4
#define VIRTIO_PCI_MSIX_BAR 1
#define REGION_SIZE 0x1000
#define COMMON_OFF 0x0000
#define ISR_OFF 0x1000
#define DEVICE_OFF 0x2000
#define NOTIFY_OFF 0x3000
#define MODERN_BAR_SIZE 0x4000
#define NOTIFY_MULT 4 /* queue N is kicked at NOTIFY_OFF + 4 * N */

#define PCI_DEVICE_ID_VIRTIO_10_BASE 0x1040

/* Every realized proxy, for the stop and start hooks (registered once). */
static GPtrArray *proxies;

static void virtio_pci_irq_sync(VirtIOPCIProxy *proxy);

static PCIDevice *proxy_pci(VirtIOPCIProxy *proxy)
{
    return &proxy->parent_obj;
}

static bool vector_valid(VirtIOPCIProxy *proxy, uint16_t vector)
{
    return vector != VIRTIO_NO_VECTOR && vector < proxy->nvectors;
}

static void eventfd_signal(int fd)
{
    static const uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one)) {
        /* Only a counter at its maximum: the signal is there anyway. */
        warn_report("virtio-pci: cannot write eventfd %d: %s", fd,
                    g_strerror(errno));
    }
}

static bool eventfd_consume(int fd)
{
    uint64_t cnt;

    return read(fd, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt;
}

/* ---- interrupts ---- */

/* Send VECTOR's interrupt from here: MSI-X (or its pending bit), or INTx. */
static void virtio_pci_send(VirtIOPCIProxy *proxy, uint16_t vector)
{
    PCIDevice *d = proxy_pci(proxy);

    if (msix_enabled(d)) {
        if (vector_valid(proxy, vector)) {
            msix_notify(d, vector);
        }
    } else {
        pci_set_irq(d, proxy->vdev->isr != 0);
    }
}

static void virtio_pci_notify_queue(void *opaque, unsigned int n)
{
    VirtIOPCIProxy *proxy = opaque;
    VirtIOPCIQueue *q = &proxy->q[n];

    /*
     * While the vCPUs run, an attached irqfd injects with no exit. When
     * they are stopped KVM has the irqfds detached (interrupts.md): a
     * completion then (the stop's drain) is sent directly, so it is in
     * the LAPIC state a save takes rather than in an eventfd count that
     * a migration would not carry.
     */
    if (q->irqfd && proxy->running) {
        eventfd_signal(q->guest_fd);
        return;
    }
    virtio_pci_send(proxy, proxy->vdev->vq[n].vector);
}

static void virtio_pci_notify_config(void *opaque)
{
    VirtIOPCIProxy *proxy = opaque;

    virtio_pci_send(proxy, proxy->vdev->config_vector);
}

/* A vhost kernel signalled queue N's guest notifier and no irqfd took it. */
static gboolean virtio_pci_guest_ready(gint fd, GIOCondition cond,
                                       gpointer opaque)
{
    VirtIOPCIProxy *proxy = opaque;

    for (unsigned int n = 0; n < proxy->vdev->nvqs; n++) {
        if (proxy->q[n].guest_fd == fd) {
            if (eventfd_consume(fd)) {
                proxy->vdev->isr |= VIRTIO_ISR_QUEUE;
                virtio_pci_send(proxy, proxy->vdev->vq[n].vector);
            }
            break;
        }
    }
    return G_SOURCE_CONTINUE;
}

/* Whether queue N's interrupts go by irqfd: KVM routes, vector unmasked. */
static bool queue_wants_irqfd(VirtIOPCIProxy *proxy, unsigned int n)
{
    PCIDevice *d = proxy_pci(proxy);
    VirtQueue *vq = &proxy->vdev->vq[n];

    return irqchip_msi_via_routes() && msix_enabled(d) && vq->enabled &&
           vector_valid(proxy, vq->vector) && !msix_is_masked(d, vq->vector);
}

static void queue_irqfd_off(VirtIOPCIProxy *proxy, unsigned int n)
{
    VirtIOPCIQueue *q = &proxy->q[n];

    if (q->irqfd) {
        irqchip_remove_irqfd(q->guest_fd, q->irqfd_virq);
        q->irqfd = false;
        q->irqfd_virq = -1;
    }
}

/*
 * Make the routes and irqfds follow the device state: after a vector's
 * (un)masking or message change, a queue's vector or enable, a reset, a
 * load. Recomputed as a whole: a handful of queues and vectors.
 */
static void virtio_pci_irq_sync(VirtIOPCIProxy *proxy)
{
    VirtIODevice *vdev = proxy->vdev;
    PCIDevice *d = proxy_pci(proxy);
    bool want[VIRTIO_QUEUE_MAX];
    GError *err = NULL;

    /*
     * Irqfds first off, from the route they were added with: the queue's
     * vector may have changed since (or be gone, after a reset).
     */
    for (unsigned int n = 0; n < vdev->nvqs; n++) {
        VirtIOPCIQueue *q = &proxy->q[n];

        want[n] = queue_wants_irqfd(proxy, n);
        if (q->irqfd &&
            (!want[n] || q->irqfd_virq != proxy->virq[vdev->vq[n].vector])) {
            queue_irqfd_off(proxy, n);
        }
    }
    for (unsigned int v = 0; v < proxy->nvectors; v++) {
        bool needed = false;

        for (unsigned int n = 0; n < vdev->nvqs && !needed; n++) {
            needed = want[n] && vdev->vq[n].vector == v;
        }
        if (needed && proxy->virq[v] < 0) {
            proxy->virq[v] =
                irqchip_add_msi_route(msix_get_message(d, v), &err);
        } else if (needed) {
            irqchip_update_msi_route(proxy->virq[v], msix_get_message(d, v),
                                     &err);
        } else if (proxy->virq[v] >= 0) {
            irqchip_release_virq(proxy->virq[v]);
            proxy->virq[v] = -1;
        }
        if (err) {
            warn_report("%s: MSI-X vector %u stays in baton: %s", vdev->name, v,
                        err->message);
            g_clear_error(&err);
        }
    }
    irqchip_commit_routes();
    for (unsigned int n = 0; n < vdev->nvqs; n++) {
        VirtIOPCIQueue *q = &proxy->q[n];
        uint16_t v = vdev->vq[n].vector;

        if (want[n] && !q->irqfd && proxy->virq[v] >= 0) {
            if (irqchip_add_irqfd(q->guest_fd, -1, proxy->virq[v], &err)) {
                q->irqfd = true;
                q->irqfd_virq = proxy->virq[v];
            } else {
                warn_report("%s: queue %u interrupts stay in baton: %s",
                            vdev->name, n, err->message);
                g_clear_error(&err);
            }
        }
        /* What no irqfd takes, this process reads (vhost's signals). */
        if (!q->irqfd && !q->guest_watch) {
            q->guest_watch = g_unix_fd_add(q->guest_fd, G_IO_IN,
                                           virtio_pci_guest_ready, proxy);
        } else if (q->irqfd && q->guest_watch) {
            g_source_remove(q->guest_watch);
            q->guest_watch = 0;
        }
        trace_virtio_pci_queue_irq(vdev->name, n, v, q->irqfd);
    }
}

static int virtio_pci_vector_use(PCIDevice *d, unsigned int v, MSIMessage msg)
{
    virtio_pci_irq_sync(VIRTIO_PCI(d));
    return 0;
}

static void virtio_pci_vector_release(PCIDevice *d, unsigned int v)
{
    virtio_pci_irq_sync(VIRTIO_PCI(d));
}

/* ---- kicks ---- */

static gboolean virtio_pci_host_ready(gint fd, GIOCondition cond,
                                      gpointer opaque)
{
    VirtIOPCIProxy *proxy = opaque;

    for (unsigned int n = 0; n < proxy->vdev->nvqs; n++) {
        if (proxy->q[n].host_fd == fd) {
            if (eventfd_consume(fd)) {
                virtio_queue_notify(proxy->vdev, n);
            }
            break;
        }
    }
    return G_SOURCE_CONTINUE;
}

/*
 * Kicks are served while the VM runs. A stopped guest makes none, but a
 * qtest client can: they wait in the eventfd (no watch) and are served
 * at the start, where every queue is looked at once.
 */
static void virtio_pci_host_watch(VirtIOPCIProxy *proxy, unsigned int n)
{
    VirtIOPCIQueue *q = &proxy->q[n];
    bool on = q->host_fd >= 0 && q->host_handled && proxy->running;

    if (on && !q->host_watch) {
        q->host_watch =
            g_unix_fd_add(q->host_fd, G_IO_IN, virtio_pci_host_ready, proxy);
    } else if (!on && q->host_watch) {
        g_source_remove(q->host_watch);
        q->host_watch = 0;
    }
}

static uint64_t virtio_pci_notify_read(void *opaque, hwaddr addr, unsigned size)
{
    return 0;
}

/*
 * The MMIO path of a kick: under KVM only when the ioeventfd could not
 * take it (ioeventfd=off, or an access of another size); under qtest
 * always. The work still goes to the main loop through the queue's
 * eventfd, so a vCPU thread never does the device's I/O.
 */
static void virtio_pci_notify_write(void *opaque, hwaddr addr, uint64_t val,
                                    unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;
    unsigned int n = addr / NOTIFY_MULT;

    if (n >= proxy->vdev->nvqs) {
        log_mask(LOG_GUEST_ERROR,
                 "%s: kick at notify offset 0x%" PRIx64 " (it has %u queues)",
                 proxy->vdev->name, addr, proxy->vdev->nvqs);
        return;
    }
    if (proxy->q[n].host_fd >= 0 && proxy->q[n].host_handled) {
        eventfd_signal(proxy->q[n].host_fd);
    } else if (proxy->running) {
        virtio_queue_notify(proxy->vdev, n);
    } /* else served at the start */
}

static const MemoryRegionOps virtio_pci_notify_ops = {
    .read = virtio_pci_notify_read,
    .write = virtio_pci_notify_write,
    .impl.max_access_size = 4,
};

/* ---- the common configuration ---- */

static VirtQueue *selected_vq(VirtIOPCIProxy *proxy)
{
    return proxy->queue_sel < proxy->vdev->nvqs
               ? &proxy->vdev->vq[proxy->queue_sel]
               : NULL;
}

static uint64_t virtio_pci_common_read(void *opaque, hwaddr addr, unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;
    VirtIODevice *vdev = proxy->vdev;
    VirtQueue *vq = selected_vq(proxy);

    switch (addr) {
    case COMMON_DFSELECT:
        return proxy->dfselect;
    case COMMON_DF:
        return virtio_get_host_features_word(vdev, proxy->dfselect);
    case COMMON_GFSELECT:
        return proxy->gfselect;
    case COMMON_GF:
        return proxy->gfselect < 2
                   ? (uint32_t)(vdev->guest_features >> (32 * proxy->gfselect))
                   : 0;
    case COMMON_MSIX:
        return vdev->config_vector;
    case COMMON_NUMQ:
        return vdev->nvqs;
    case COMMON_STATUS:
        return vdev->status;
    case COMMON_CFGGENERATION:
        return vdev->generation;
    case COMMON_Q_SELECT:
        return proxy->queue_sel;
    case COMMON_Q_NOFF:
    case COMMON_Q_NDATA:
        return proxy->queue_sel;
    }
    if (!vq) {
        return 0; /* virtio 1.2 4.1.4.3.1: queue_size 0 = not available */
    }
    switch (addr) {
    case COMMON_Q_SIZE:
        return vq->num;
    case COMMON_Q_MSIX:
        return vq->vector;
    case COMMON_Q_ENABLE:
        return vq->enabled;
    case COMMON_Q_DESCLO:
        return (uint32_t)vq->desc;
    case COMMON_Q_DESCHI:
        return vq->desc >> 32;
    case COMMON_Q_AVAILLO:
        return (uint32_t)vq->avail;
    case COMMON_Q_AVAILHI:
        return vq->avail >> 32;
    case COMMON_Q_USEDLO:
        return (uint32_t)vq->used;
    case COMMON_Q_USEDHI:
        return vq->used >> 32;
    }
    return 0;
}

static void set_lo(uint64_t *r, uint64_t val)
{
    *r = (*r & ~0xffffffffull) | (uint32_t)val;
}

static void set_hi(uint64_t *r, uint64_t val)
{
    *r = (*r & 0xffffffffull) | (uint64_t)(uint32_t)val << 32;
}

static void virtio_pci_status_write(VirtIOPCIProxy *proxy, uint8_t val)
{
    virtio_set_status(proxy->vdev, val);
    if (val == 0) {
        proxy->dfselect = proxy->gfselect = 0;
        proxy->queue_sel = 0;
        pci_set_irq(proxy_pci(proxy), 0);
        virtio_pci_irq_sync(proxy);
    }
}

/* Queue registers; the driver may change them only while disabled. */
static void virtio_pci_queue_write(VirtIOPCIProxy *proxy, VirtQueue *vq,
                                   hwaddr addr, uint64_t val)
{
    if (addr == COMMON_Q_MSIX) {
        vq->vector = vector_valid(proxy, val) ? val : VIRTIO_NO_VECTOR;
        virtio_pci_irq_sync(proxy);
        return;
    }
    if (vq->enabled) {
        log_mask(LOG_GUEST_ERROR,
                 "%s: queue %u written at 0x%" PRIx64 " while enabled: ignored",
                 proxy->vdev->name, vq->queue_index, addr);
        return;
    }
    switch (addr) {
    case COMMON_Q_SIZE:
        if (!val || val > vq->num_max || (val & (val - 1))) {
            log_mask(LOG_GUEST_ERROR,
                     "%s: queue %u size %" PRIu64 " is not "
                     "a power of 2 up to %u: ignored",
                     proxy->vdev->name, vq->queue_index, val, vq->num_max);
            return;
        }
        vq->num = val;
        break;
    case COMMON_Q_ENABLE:
        if (val == 1) {
            vq->enabled = 1;
            virtio_pci_irq_sync(proxy);
        }
        break;
    case COMMON_Q_DESCLO:
        set_lo(&vq->desc, val);
        break;
    case COMMON_Q_DESCHI:
        set_hi(&vq->desc, val);
        break;
    case COMMON_Q_AVAILLO:
        set_lo(&vq->avail, val);
        break;
    case COMMON_Q_AVAILHI:
        set_hi(&vq->avail, val);
        break;
    case COMMON_Q_USEDLO:
        set_lo(&vq->used, val);
        break;
    case COMMON_Q_USEDHI:
        set_hi(&vq->used, val);
        break;
    }
}

static void virtio_pci_common_write(void *opaque, hwaddr addr, uint64_t val,
                                    unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;
    VirtIODevice *vdev = proxy->vdev;
    VirtQueue *vq = selected_vq(proxy);

    switch (addr) {
    case COMMON_DFSELECT:
        proxy->dfselect = val;
        return;
    case COMMON_GFSELECT:
        proxy->gfselect = val;
        return;
    case COMMON_GF:
        virtio_set_guest_features_word(vdev, proxy->gfselect, val);
        return;
    case COMMON_MSIX:
        vdev->config_vector = vector_valid(proxy, val) ? val : VIRTIO_NO_VECTOR;
        return;
    case COMMON_STATUS:
        virtio_pci_status_write(proxy, val);
        return;
    case COMMON_Q_SELECT:
        proxy->queue_sel = val;
        return;
    }
    if (vq) {
        virtio_pci_queue_write(proxy, vq, addr, val);
    }
}

static const MemoryRegionOps virtio_pci_common_ops = {
    .read = virtio_pci_common_read,
    .write = virtio_pci_common_write,
    .impl.max_access_size = 4,
};

/* Reading the ISR clears it and the INTx line it drives. */
static uint64_t virtio_pci_isr_read(void *opaque, hwaddr addr, unsigned size)
{
    VirtIOPCIProxy *proxy = opaque;
    uint8_t isr = virtio_isr_read(proxy->vdev);

    pci_set_irq(proxy_pci(proxy), 0);
    return isr;
}

static void virtio_pci_isr_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
}

static const MemoryRegionOps virtio_pci_isr_ops = {
    .read = virtio_pci_isr_read,
    .write = virtio_pci_isr_write,
    .impl.max_access_size = 1,
};

static uint64_t virtio_pci_device_read(void *opaque, hwaddr addr, unsigned size)
{
    return virtio_config_read(((VirtIOPCIProxy *)opaque)->vdev, addr, size);
}

static void virtio_pci_device_write(void *opaque, hwaddr addr, uint64_t val,
                                    unsigned size)
{
    virtio_config_write(((VirtIOPCIProxy *)opaque)->vdev, addr, val, size);
}

static const MemoryRegionOps virtio_pci_device_ops = {
    .read = virtio_pci_device_read,
    .write = virtio_pci_device_write,
    .impl.max_access_size = 4,
};

/* ---- the PCI cfg access capability (virtio 1.2 4.1.4.9) ---- */

static bool cfg_cap_access(VirtIOPCIProxy *proxy, uint32_t *off,
                           const MemoryRegionOps **ops)
{
    uint8_t *cap = proxy_pci(proxy)->config + proxy->cfg_cap;
    uint32_t o = pci_get_long(cap + CAP_OFFSET);
    uint32_t len = pci_get_long(cap + CAP_LENGTH);

    if (cap[CAP_BAR] != VIRTIO_PCI_MODERN_BAR ||
        (len != 1 && len != 2 && len != 4) || o % len || o >= MODERN_BAR_SIZE) {
        return false;
    }
    *off = o % REGION_SIZE;
    switch (o / REGION_SIZE) {
    case 0:
        *ops = &virtio_pci_common_ops;
        break;
    case 1:
        *ops = &virtio_pci_isr_ops;
        break;
    case 2:
        *ops = &virtio_pci_device_ops;
        break;
    default:
        *ops = &virtio_pci_notify_ops;
    }
    return true;
}

static uint32_t virtio_pci_config_read(PCIDevice *d, uint32_t addr, int len)
{
    VirtIOPCIProxy *proxy = VIRTIO_PCI(d);
    uint32_t data = proxy->cfg_cap + CAP_CFG_DATA, off;
    const MemoryRegionOps *ops;

    if (proxy->cfg_cap && addr < data + 4 && addr + len > data &&
        cfg_cap_access(proxy, &off, &ops)) {
        uint32_t n = pci_get_long(d->config + proxy->cfg_cap + CAP_LENGTH);

        pci_set_long(d->config + data, ops->read(proxy, off, n));
    }
    return pci_default_read_config(d, addr, len);
}

static void virtio_pci_config_write(PCIDevice *d, uint32_t addr, uint32_t val,
                                    int len)
{
    VirtIOPCIProxy *proxy = VIRTIO_PCI(d);
    uint32_t data = proxy->cfg_cap + CAP_CFG_DATA, off;
    const MemoryRegionOps *ops;

    pci_default_write_config(d, addr, val, len);
    if (proxy->cfg_cap && addr < data + 4 && addr + len > data &&
        cfg_cap_access(proxy, &off, &ops)) {
        uint32_t n = pci_get_long(d->config + proxy->cfg_cap + CAP_LENGTH);
        uint32_t v = pci_get_long(d->config + data);

        ops->write(proxy, off, n == 4 ? v : v & ((1u << (8 * n)) - 1), n);
    }
}

/* ---- the transport ops the core calls ---- */

static AddressSpace *virtio_pci_get_dma_as(void *opaque)
{
    return pci_get_address_space(proxy_pci(opaque));
}

static int virtio_pci_get_host_notifier(void *opaque, unsigned int n)
{
    return ((VirtIOPCIProxy *)opaque)->q[n].host_fd;
}

static int virtio_pci_get_guest_notifier(void *opaque, unsigned int n)
{
    return ((VirtIOPCIProxy *)opaque)->q[n].guest_fd;
}

static void virtio_pci_set_host_notifier_handled(void *opaque, unsigned int n,
                                                 bool on)
{
    VirtIOPCIProxy *proxy = opaque;

    proxy->q[n].host_handled = on;
    virtio_pci_host_watch(proxy, n);
}

static const VirtioTransportOps virtio_pci_transport_ops = {
    .notify_queue = virtio_pci_notify_queue,
    .notify_config = virtio_pci_notify_config,
    .get_dma_as = virtio_pci_get_dma_as,
    .get_host_notifier = virtio_pci_get_host_notifier,
    .get_guest_notifier = virtio_pci_get_guest_notifier,
    .set_host_notifier_handled = virtio_pci_set_host_notifier_handled,
};

/* ---- stop and start ---- */

/*
 * The guest stopped (vCPUs out of KVM_RUN): serve the kicks it made
 * before (counts still in the ioeventfds), then let the device finish
 * what it has in flight. Its completions are sent directly (running is
 * false), so nothing is left in an eventfd.
 */
static void virtio_pci_drain(VirtIOPCIProxy *proxy)
{
    VirtIODevice *vdev = proxy->vdev;
    gint64 t0 = g_get_monotonic_time();

    proxy->running = false;
    for (unsigned int n = 0; n < vdev->nvqs; n++) {
        VirtIOPCIQueue *q = &proxy->q[n];

        /*
         * A signal KVM had not taken when it detached the irqfd (the
         * detach flushes what it had): send it from here, into the
         * LAPIC state the save takes.
         */
        if (q->irqfd && eventfd_consume(q->guest_fd)) {
            vdev->isr |= VIRTIO_ISR_QUEUE;
            virtio_pci_send(proxy, vdev->vq[n].vector);
        }
        if (q->host_fd >= 0 && q->host_handled && eventfd_consume(q->host_fd)) {
            virtio_queue_notify(vdev, n);
        }
        virtio_pci_host_watch(proxy, n);
    }
    virtio_drain(vdev);
    trace_virtio_pci_drain(vdev->name, virtio_inflight(vdev),
                           g_get_monotonic_time() - t0);
}

static void virtio_pci_vm_stop(void)
{
    for (guint i = 0; proxies && i < proxies->len; i++) {
        virtio_pci_drain(g_ptr_array_index(proxies, i));
    }
}

/*
 * Running again (cont, a rollback, the destination's or new process's
 * start): watch the kicks, and look at every queue once, for kicks made
 * while stopped or counted in a previous process's eventfd (a queue with
 * nothing available costs one read of avail->idx).
 */
static void virtio_pci_vm_start(void)
{
    for (guint i = 0; proxies && i < proxies->len; i++) {
        VirtIOPCIProxy *proxy = g_ptr_array_index(proxies, i);
        VirtIODevice *vdev = proxy->vdev;

        proxy->running = true;
        for (unsigned int n = 0; n < vdev->nvqs; n++) {
            VirtIOPCIQueue *q = &proxy->q[n];

            if (q->host_fd >= 0) {
                eventfd_consume(q->host_fd);
            }
            virtio_pci_host_watch(proxy, n);
            if (q->host_handled) {
                virtio_queue_notify(vdev, n);
            }
        }
    }
}

/*
 * A VM change state handler: stopping, the vCPUs are out of KVM_RUN
 * (the guest can make no new request) and the device state is not
 * saved yet; starting, the vCPUs are not back yet.
 */
static void virtio_pci_vm_state(void *opaque, bool running, RunState state)
{
    if (running) {
        virtio_pci_vm_start();
    } else {
        virtio_pci_vm_stop();
    }
}

/* ---- realize ---- */

static bool virtio_pci_check_modes(VirtIOPCIProxy *proxy, const char *type,
                                   GError **errp)
{
    const char *dl = proxy->disable_legacy ? proxy->disable_legacy : "auto";

    if (strcmp(dl, "on") && strcmp(dl, "off") && strcmp(dl, "auto")) {
        error_setg(errp, "Parameter 'disable-legacy' expects 'on', 'off' "
                         "or 'auto'");
        return false;
    }
    if (proxy->disable_modern && !strcmp(dl, "on")) {
        error_setg(errp, "device cannot work as neither modern nor legacy "
                         "mode is enabled");
        return false;
    }
    if (proxy->disable_modern) {
        error_setg(errp,
                   "%s: disable-modern=on is not supported: baton "
                   "implements modern virtio (1.x) only",
                   type);
        return false;
    }
    if (!strcmp(dl, "off")) {
        error_setg(errp,
                   "%s: disable-legacy=off is not supported: baton "
                   "implements modern virtio (1.x) only (use on or auto)",
                   type);
        return false;
    }
    return true;
}

static void virtio_pci_add_cap(VirtIOPCIProxy *proxy, uint8_t pos, uint8_t type,
                               uint32_t off, uint32_t len, uint8_t cap_len)
{
    uint8_t *c = proxy_pci(proxy)->config + pos;

    c[2] = cap_len;
    c[CAP_CFG_TYPE] = type;
    c[CAP_BAR] = VIRTIO_PCI_MODERN_BAR;
    c[CAP_ID] = 0;
    pci_set_long(c + CAP_OFFSET, off);
    pci_set_long(c + CAP_LENGTH, len);
}

static bool virtio_pci_caps(VirtIOPCIProxy *proxy, GError **errp)
{
    PCIDevice *d = proxy_pci(proxy);
    static const struct {
        uint8_t type;
        uint32_t off, len;
        uint8_t cap_len;
    } caps[] = {
        {VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFF, REGION_SIZE,
         VIRTIO_PCI_CAP_LEN},
        {VIRTIO_PCI_CAP_ISR_CFG, ISR_OFF, REGION_SIZE, VIRTIO_PCI_CAP_LEN},
        {VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFF, REGION_SIZE,
         VIRTIO_PCI_CAP_LEN},
        {VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFF, REGION_SIZE,
         VIRTIO_PCI_NOTIFY_CAP_LEN},
    };
    int pos;

    for (unsigned int i = 0; i < G_N_ELEMENTS(caps); i++) {
        pos = pci_add_capability(d, PCI_CAP_ID_VNDR, 0, caps[i].cap_len, errp);
        if (pos < 0) {
            return false;
        }
        virtio_pci_add_cap(proxy, pos, caps[i].type, caps[i].off, caps[i].len,
                           caps[i].cap_len);
        if (caps[i].type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
            pci_set_long(d->config + pos + CAP_NOTIFY_MULT, NOTIFY_MULT);
        }
    }
    /* The cfg access window: bar, offset, length and data are the driver's. */
    pos =
        pci_add_capability(d, PCI_CAP_ID_VNDR, 0, VIRTIO_PCI_CFG_CAP_LEN, errp);
    if (pos < 0) {
        return false;
    }
    virtio_pci_add_cap(proxy, pos, VIRTIO_PCI_CAP_PCI_CFG, 0, 0,
                       VIRTIO_PCI_CFG_CAP_LEN);
    d->config[pos + CAP_BAR] = 0;
    d->wmask[pos + CAP_BAR] = 0xff;
    pci_set_long(d->wmask + pos + CAP_OFFSET, 0xffffffff);
    pci_set_long(d->wmask + pos + CAP_LENGTH, 0xffffffff);
    pci_set_long(d->wmask + pos + CAP_CFG_DATA, 0xffffffff);
    proxy->cfg_cap = pos;
    return true;
}

static void virtio_pci_regions(VirtIOPCIProxy *proxy)
{
    Object *owner = OBJECT(proxy);

    memory_region_init(&proxy->modern_bar, owner, "virtio-pci",
                       MODERN_BAR_SIZE);
    memory_region_init_io(&proxy->common, owner, &virtio_pci_common_ops, proxy,
                          "virtio-pci-common", REGION_SIZE);
    memory_region_init_io(&proxy->isr, owner, &virtio_pci_isr_ops, proxy,
                          "virtio-pci-isr", REGION_SIZE);
    memory_region_init_io(&proxy->device, owner, &virtio_pci_device_ops, proxy,
                          "virtio-pci-device", REGION_SIZE);
    memory_region_init_io(&proxy->notify, owner, &virtio_pci_notify_ops, proxy,
                          "virtio-pci-notify", REGION_SIZE);
    memory_region_add_subregion(&proxy->modern_bar, COMMON_OFF, &proxy->common);
    memory_region_add_subregion(&proxy->modern_bar, ISR_OFF, &proxy->isr);
    memory_region_add_subregion(&proxy->modern_bar, DEVICE_OFF, &proxy->device);
    memory_region_add_subregion(&proxy->modern_bar, NOTIFY_OFF, &proxy->notify);
    pci_register_bar(proxy_pci(proxy), VIRTIO_PCI_MODERN_BAR,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                         PCI_BASE_ADDRESS_MEM_TYPE_64 |
                         PCI_BASE_ADDRESS_MEM_PREFETCH,
                     &proxy->modern_bar);
}

static bool virtio_pci_notifiers(VirtIOPCIProxy *proxy, GError **errp)
{
    VirtIODevice *vdev = proxy->vdev;

    for (unsigned int n = 0; n < vdev->nvqs; n++) {
        VirtIOPCIQueue *q = &proxy->q[n];

        q->guest_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->guest_fd < 0) {
            error_setg_errno(errp, errno, "%s: cannot create an eventfd",
                             vdev->name);
            return false;
        }
        q->host_handled = true;
        if (!proxy->ioeventfd) {
            continue;
        }
        q->host_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->host_fd < 0) {
            error_setg_errno(errp, errno, "%s: cannot create an eventfd",
                             vdev->name);
            return false;
        }
        /* The driver writes the queue index, 16 bits, at its own address. */
        memory_region_add_eventfd(&proxy->notify, n * NOTIFY_MULT, 2, false, 0,
                                  q->host_fd);
        virtio_pci_host_watch(proxy, n);
    }
    return true;
}

static void virtio_pci_teardown(VirtIOPCIProxy *proxy)
{
    VirtIODevice *vdev = proxy->vdev;

    if (proxies) {
        g_ptr_array_remove(proxies, proxy);
    }
    if (!vdev) {
        return;
    }
    if (proxy->parent_obj.msix_cap) {
        msix_unset_vector_notifiers(proxy_pci(proxy));
    }
    for (unsigned int n = 0; n < vdev->nvqs; n++) {
        VirtIOPCIQueue *q = &proxy->q[n];

        queue_irqfd_off(proxy, n);
        if (q->guest_watch) {
            g_source_remove(q->guest_watch);
        }
        if (q->host_watch) {
            g_source_remove(q->host_watch);
        }
        if (q->host_fd >= 0) {
            memory_region_del_eventfd(&proxy->notify, n * NOTIFY_MULT, 2, false,
                                      0, q->host_fd);
            close(q->host_fd);
        }
        if (q->guest_fd >= 0) {
            close(q->guest_fd);
        }
        *q = (VirtIOPCIQueue){.host_fd = -1, .guest_fd = -1, .irqfd_virq = -1};
    }
    for (unsigned int v = 0; proxy->virq && v < proxy->nvectors; v++) {
        if (proxy->virq[v] >= 0) {
            irqchip_release_virq(proxy->virq[v]);
        }
    }
    irqchip_commit_routes();
    g_clear_pointer(&proxy->virq, g_free);
}

static bool virtio_pci_realize(PCIDevice *d, GError **errp)
{
    VirtIOPCIProxy *proxy = VIRTIO_PCI(d);
    VirtIOPCIClass *vpc = VIRTIO_PCI_GET_CLASS(d);
    const char *type = object_get_typename(OBJECT(d));
    VirtIODevice *vdev;

    for (unsigned int n = 0; n < VIRTIO_QUEUE_MAX; n++) {
        proxy->q[n].host_fd = proxy->q[n].guest_fd = -1;
        proxy->q[n].irqfd_virq = -1;
    }
    if (!virtio_pci_check_modes(proxy, type, errp)) {
        return false;
    }
    vdev = vpc->realize_vdev(proxy, errp);
    if (!vdev) {
        return false;
    }
    proxy->vdev = vdev;
    if (proxy->nvectors == VIRTIO_PCI_VECTORS_DEFAULT) {
        proxy->nvectors = vdev->nvqs + 1;
    }
    if (proxy->nvectors > PCI_MSIX_MAX_ENTRIES) {
        error_setg(errp, "%s: vectors %u is above the MSI-X limit %u", type,
                   proxy->nvectors, PCI_MSIX_MAX_ENTRIES);
        goto fail;
    }
    virtio_set_transport(vdev, &virtio_pci_transport_ops, proxy);
    /* Modern only: QEMU's ids for a device without a legacy interface. */
    pci_set_word(d->config + PCI_DEVICE_ID,
                 PCI_DEVICE_ID_VIRTIO_10_BASE + vdev->vdc->device_id);
    d->config[PCI_REVISION_ID] = 1;
    pci_set_word(d->config + PCI_CLASS_DEVICE, vdev->vdc->pci_class);
    d->config[PCI_INTERRUPT_PIN] = 1;
    virtio_pci_regions(proxy);
    if (!virtio_pci_caps(proxy, errp) ||
        (proxy->nvectors &&
         msix_init_exclusive_bar(d, proxy->nvectors, VIRTIO_PCI_MSIX_BAR,
                                 errp) < 0)) {
        goto fail;
    }
    proxy->virq = g_new(int, MAX(proxy->nvectors, 1));
    for (unsigned int v = 0; v < proxy->nvectors; v++) {
        proxy->virq[v] = -1;
    }
    if (!virtio_pci_notifiers(proxy, errp)) {
        goto fail;
    }
    if (proxy->nvectors &&
        msix_set_vector_notifiers(d, virtio_pci_vector_use,
                                  virtio_pci_vector_release) < 0) {
        error_setg(errp, "%s: cannot watch the MSI-X vectors", type);
        goto fail;
    }
    if (!proxies) {
        proxies = g_ptr_array_new();
        vm_add_change_state_handler(virtio_pci_vm_state, NULL, NULL,
                                    VM_CHANGE_STATE_PRIO_DEFAULT);
    }
    g_ptr_array_add(proxies, proxy);
    proxy->running = runstate_is_running();
    for (unsigned int n = 0; n < vdev->nvqs; n++) {
        virtio_pci_host_watch(proxy, n);
    }
    virtio_pci_irq_sync(proxy);
    return true;

fail:
    virtio_pci_teardown(proxy);
    if (vpc->unrealize_vdev) {
        vpc->unrealize_vdev(proxy);
    }
    proxy->vdev = NULL;
    return false;
}

static void virtio_pci_exit(PCIDevice *d)
{
    VirtIOPCIProxy *proxy = VIRTIO_PCI(d);
    VirtIOPCIClass *vpc = VIRTIO_PCI_GET_CLASS(d);

    virtio_pci_teardown(proxy);
    if (vpc->unrealize_vdev) {
        vpc->unrealize_vdev(proxy);
    }
    memory_region_finalize(&proxy->common);
    memory_region_finalize(&proxy->isr);
    memory_region_finalize(&proxy->device);
    memory_region_finalize(&proxy->notify);
    memory_region_finalize(&proxy->modern_bar);
}

/* The core reset the config, masked MSI-X and dropped INTx already. */
static void virtio_pci_reset(PCIDevice *d)
{
    VirtIOPCIProxy *proxy = VIRTIO_PCI(d);

    virtio_reset(proxy->vdev);
    proxy->dfselect = proxy->gfselect = 0;
    proxy->queue_sel = 0;
    virtio_pci_irq_sync(proxy);
}

bool virtio_pci_post_load(VirtIOPCIProxy *proxy, GError **errp)
{
    VirtIODevice *vdev = proxy->vdev;

    if (vdev->config_vector != VIRTIO_NO_VECTOR &&
        !vector_valid(proxy, vdev->config_vector)) {
        error_setg(errp, "%s: config vector %u beyond the %u vectors",
                   vdev->name, vdev->config_vector, proxy->nvectors);
        return false;
    }
    for (unsigned int n = 0; n < vdev->nvqs; n++) {
        uint16_t v = vdev->vq[n].vector;

        if (v != VIRTIO_NO_VECTOR && !vector_valid(proxy, v)) {
            error_setg(errp, "%s: queue %u vector %u beyond the %u vectors",
                       vdev->name, n, v, proxy->nvectors);
            return false;
        }
    }
    /* Routes and irqfds from the loaded table (attached at the resume). */
    virtio_pci_irq_sync(proxy);
    return true;
}

const VMStateDescription vmstate_virtio_pci = {
    .name = "virtio-pci",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, VirtIOPCIProxy),
            VMSTATE_UINT32(dfselect, VirtIOPCIProxy),
            VMSTATE_UINT32(gfselect, VirtIOPCIProxy),
            VMSTATE_UINT16(queue_sel, VirtIOPCIProxy),
            VMSTATE_END_OF_LIST(),
        },
};

static const Property virtio_pci_props[] = {
    DEFINE_PROP("disable-legacy", PROP_STRING, VirtIOPCIProxy, disable_legacy,
                .defval = "auto",
                .desc = "on/auto (legacy virtio is not implemented)"),
    DEFINE_PROP("disable-modern", PROP_BOOL, VirtIOPCIProxy, disable_modern,
                .defval = "off", .desc = "off (only modern virtio exists)"),
    DEFINE_PROP("vectors", PROP_UINT32, VirtIOPCIProxy, nvectors,
                .defval = "0xffffffff",
                .desc = "MSI-X vectors (default: queues + 1; 0: INTx only)"),
    DEFINE_PROP("ioeventfd", PROP_BOOL, VirtIOPCIProxy, ioeventfd,
                .defval = "on",
                .desc = "kicks by ioeventfd, served in the main loop"),
    {NULL},
};

static void virtio_pci_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    device_class_set_props(dc, virtio_pci_props);
    pc->realize = virtio_pci_realize;
    pc->exit = virtio_pci_exit;
    pc->reset = virtio_pci_reset;
    pc->config_read = virtio_pci_config_read;
    pc->config_write = virtio_pci_config_write;
    pc->vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
    pc->subsystem_vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
    pc->revision = 1;
}

static const TypeInfo virtio_pci_type = {
    .name = TYPE_VIRTIO_PCI,
    .parent = TYPE_PCI_DEVICE,
    .abstract = true,
    .instance_size = sizeof(VirtIOPCIProxy),
    .class_size = sizeof(VirtIOPCIClass),
    .class_init = virtio_pci_class_init,
};

static void virtio_pci_register_types(void)
{
    type_register(&virtio_pci_type);
}

type_init(virtio_pci_register_types)
