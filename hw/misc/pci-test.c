/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "x-pci-test": baton's own PCI test function (1b36:00fe, class "other"),
 * the smallest device that exercises the PCI core for tests: BAR 0 is a
 * 4 KiB 32-bit MMIO area (scratch below 0xf00, then the interrupt
 * triggers), BAR 1 a 256-byte I/O window onto the first 256 bytes of the
 * scratch, BAR 2 a 64-bit prefetchable MMIO BAR of bar2-size bytes (0:
 * none) whose dwords read back their own offset, BAR 4 the MSI-X table
 * and PBA; a vendor-specific capability, MSI (64-bit, per-vector masks),
 * MSI-X and interrupt pin INTA. docs/system/pci.md lists the registers.
 * Not a model of real hardware.
 *
 * With irqfd=on its MSI-X vectors and INTx come from eventfds it owns, as
 * a VFIO device's do: KVM injects them through MSI routes and irqfds
 * (INTx with a resamplefd) while the guest has a vector unmasked, and the
 * device reads them itself otherwise (masked vector: pending bit; the
 * qtest accelerator: everything). The eventfds are preserved across a
 * live update; anyone holding a copy (a test) signals like the device's
 * kernel side would.
 */
#include "util/osdep.h"

#include <glib-unix.h>
#include <sys/eventfd.h>

#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"
#include "system/irqchip.h"
#include "util/error-report.h"

#include "trace.h"

#define PCI_TEST_SCRATCH 4096
/* BAR 0 triggers (writes): INTx level, MSI vector, MSI-X vector. */
#define PCI_TEST_INTX 0xf00
#define PCI_TEST_MSI 0xf04
#define PCI_TEST_MSIX 0xf08
#define PCI_TEST_MSIX_BAR 4

/* irqfd=on: the CPR roles of its eventfds (index: the vector, or 0). */
#define PCI_TEST_ROLE_MSIX "msix-eventfd"
#define PCI_TEST_ROLE_INTX "intx-eventfd"
#define PCI_TEST_ROLE_RESAMPLE "intx-resample"

/* One eventfd and the main-loop watch that reads it when KVM does not. */
typedef struct PCITestEventfd {
    int fd;
    guint watch; /* 0: not read here */
} PCITestEventfd;

typedef struct PCITestVector {
    PCITestEventfd e;
    int virq;   /* its MSI route while unmasked under KVM, else -1 */
    bool irqfd; /* e.fd attached to virq (irqchip_add_irqfd) */
} PCITestVector;

typedef struct PCITestState {
    PCIDevice parent_obj;

    /* properties */
    uint64_t bar2_size;
    uint8_t msi_vectors;
    uint16_t msix_vectors;
    bool irqfd;
    char *irq_fds; /* "x-irq-fds", read-only: set by realize */

    /* migrated */
    uint8_t scratch[PCI_TEST_SCRATCH];
    bool intx_cond; /* irqfd=on: the INTx register's level */

    /* runtime only */
    MemoryRegion mmio, io, bar2;
    /* irqfd=on */
    PCITestVector *vec; /* msix_vectors of them */
    PCITestEventfd intx, resample;
    int intx_gsi; /* the GSI the INTx irqfd is attached to, or -1 */
    /*
     * Whether this process may read the eventfds: not between the CPR
     * hand-over and a rollback, nor in a new process before its
     * take-over, so that a signal in the pause stays counted for the
     * process that runs the guest next.
     */
    bool io_live;
} PCITestState;

static void pci_test_watch_update(PCITestState *s);

/* ---- irqfd=on: eventfds, routes, irqfds ---- */

static void pci_test_signal(int fd)
{
    static const uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one)) {
        /* Only a counter at its maximum: the signal is there anyway. */
        warn_report("x-pci-test: cannot write eventfd %d: %s", fd,
                    g_strerror(errno));
    }
}

/* Read (and so clear) FD's count: whether it had been signalled. */
static bool pci_test_consume(int fd)
{
    uint64_t cnt;

    return read(fd, &cnt, sizeof(cnt)) == sizeof(cnt) && cnt;
}

static bool pci_test_intx_enabled(PCITestState *s)
{
    return !(pci_get_word(s->parent_obj.config + PCI_COMMAND) &
             PCI_COMMAND_INTX_DISABLE);
}

/*
 * INTx under KVM: a level irqfd with a resamplefd on the GSI the pin
 * routes to now (pc: the PIRQ's ISA IRQ). Re-checked whenever the device
 * asserts or KVM resamples, after a load and a reset: a guest that
 * re-routes the PIRQ while the line is asserted moves it at its EOI.
 * Without routing (qtest) or route, this device raises the line itself.
 */
static void pci_test_intx_sync(PCITestState *s)
{
    int gsi = irqchip_msi_via_routes() ? pci_intx_route(&s->parent_obj) : -1;
    GError *err = NULL;

    if (gsi == s->intx_gsi) {
        return;
    }
    if (s->intx_gsi >= 0) {
        irqchip_remove_irqfd(s->intx.fd, s->intx_gsi);
        s->intx_gsi = -1;
    }
    if (gsi >= 0) {
        if (irqchip_add_irqfd(s->intx.fd, s->resample.fd, gsi, &err)) {
            s->intx_gsi = gsi;
        } else {
            warn_report("x-pci-test: INTx stays in baton: %s", err->message);
            g_error_free(err);
        }
    }
    trace_pci_test_intx_route(s->intx_gsi);
    pci_test_watch_update(s);
}

/* The guest wrote the INTx register (irqfd=on). */
static void pci_test_intx_write(PCITestState *s, bool level)
{
    bool was = s->intx_cond;

    s->intx_cond = level;
    pci_test_intx_sync(s);
    if (level && !was && pci_test_intx_enabled(s)) {
        pci_test_signal(s->intx.fd);
    } else if (!level && s->intx_gsi < 0) {
        /*
         * Read here: the write acknowledges what this device raised,
         * including a signal its watch has not read yet. Under KVM the
         * line stays asserted until the guest's EOI, whose resample then
         * finds the level cleared (irqfd resample semantics).
         */
        pci_test_consume(s->intx.fd);
        pci_set_irq(&s->parent_obj, 0);
    }
}

/*
 * Vector V goes to KVM (route + irqfd) when ON (unmasked under KVM),
 * else this device reads its eventfd and msix_notify() keeps the pending
 * bit: the irqfd is detached first (KVM flushes what it injects), then
 * the watch reads what is left. Going back, the irqfd is attached first:
 * KVM injects a count the watch had not read.
 */
static void pci_test_vector_set(PCITestState *s, unsigned int v, bool on)
{
    PCIDevice *d = &s->parent_obj;
    PCITestVector *vec = &s->vec[v];
    GError *err = NULL;

    if (vec->e.fd < 0) {
        return; /* torn down (exit) */
    }
    on = on && irqchip_msi_via_routes();
    if (on) {
        MSIMessage msg = msix_get_message(d, v);

        if (vec->virq < 0) {
            vec->virq = irqchip_add_msi_route(msg, &err);
        } else {
            irqchip_update_msi_route(vec->virq, msg, &err);
        }
        if (vec->virq >= 0 && !err) {
            irqchip_commit_routes();
            if (!vec->irqfd &&
                irqchip_add_irqfd(vec->e.fd, -1, vec->virq, &err)) {
                vec->irqfd = true;
            }
        }
        if (err) {
            warn_report("x-pci-test: MSI-X vector %u stays in baton: %s", v,
                        err->message);
            g_clear_error(&err);
            on = false;
        }
    }
    if (!on) {
        if (vec->irqfd) {
            irqchip_remove_irqfd(vec->e.fd, vec->virq);
            vec->irqfd = false;
        }
        if (vec->virq >= 0) {
            irqchip_release_virq(vec->virq);
            irqchip_commit_routes();
            vec->virq = -1;
        }
    }
    trace_pci_test_vector(v, vec->virq, vec->irqfd);
    pci_test_watch_update(s);
}

static int pci_test_vector_use(PCIDevice *d, unsigned int v, MSIMessage msg)
{
    pci_test_vector_set((PCITestState *)d, v, true);
    return 0;
}

static void pci_test_vector_release(PCIDevice *d, unsigned int v)
{
    pci_test_vector_set((PCITestState *)d, v, false);
}

/* After a load or reset: everything follows the device's state. */
static void pci_test_irq_sync_all(PCITestState *s)
{
    for (unsigned int v = 0; v < s->msix_vectors; v++) {
        pci_test_vector_set(s, v, !msix_is_masked(&s->parent_obj, v));
    }
    pci_test_intx_sync(s);
}

/* ---- irqfd=on: what this device reads itself (main loop) ---- */

static gboolean pci_test_vector_ready(gint fd, GIOCondition cond,
                                      gpointer opaque)
{
    PCITestState *s = opaque;

    for (unsigned int v = 0; v < s->msix_vectors; v++) {
        if (s->vec[v].e.fd == fd) {
            if (pci_test_consume(fd)) {
                trace_pci_test_eventfd("msix", v);
                msix_notify(&s->parent_obj, v); /* or its pending bit */
            }
            break;
        }
    }
    return G_SOURCE_CONTINUE;
}

static gboolean pci_test_intx_ready(gint fd, GIOCondition cond, gpointer opaque)
{
    PCITestState *s = opaque;

    if (pci_test_consume(fd)) {
        trace_pci_test_eventfd("intx", 0);
        pci_set_irq(&s->parent_obj, 1); /* until the register is cleared */
    }
    return G_SOURCE_CONTINUE;
}

/* KVM de-asserted the line at the guest's EOI: assert again if still due. */
static gboolean pci_test_resample_ready(gint fd, GIOCondition cond,
                                        gpointer opaque)
{
    PCITestState *s = opaque;

    if (pci_test_consume(fd)) {
        trace_pci_test_eventfd("resample", s->intx_cond);
        pci_test_intx_sync(s);
        if (s->intx_cond && pci_test_intx_enabled(s)) {
            pci_test_signal(s->intx.fd);
        }
    }
    return G_SOURCE_CONTINUE;
}

static void pci_test_watch(PCITestState *s, PCITestEventfd *e, bool on,
                           GUnixFDSourceFunc fn)
{
    if (on && !e->watch) {
        e->watch = g_unix_fd_add(e->fd, G_IO_IN, fn, s);
    } else if (!on && e->watch) {
        g_source_remove(e->watch);
        e->watch = 0;
    }
}

/* Read here exactly the eventfds KVM does not, while this process may. */
static void pci_test_watch_update(PCITestState *s)
{
    bool live = s->io_live;

    for (unsigned int v = 0; v < s->msix_vectors; v++) {
        if (s->vec[v].e.fd >= 0) {
            pci_test_watch(s, &s->vec[v].e, live && !s->vec[v].irqfd,
                           pci_test_vector_ready);
        }
    }
    if (s->intx.fd >= 0 && s->resample.fd >= 0) {
        pci_test_watch(s, &s->intx, live && s->intx_gsi < 0,
                       pci_test_intx_ready);
        pci_test_watch(s, &s->resample, live && s->intx_gsi >= 0,
                       pci_test_resample_ready);
    }
}

static bool pci_test_cpr_notify(CprEvent event, void *opaque, GError **errp)
{
    PCITestState *s = opaque;

    switch (event) {
    case CPR_EVENT_HANDOVER:
        s->io_live = false;
        break;
    case CPR_EVENT_ROLLBACK:
    case CPR_EVENT_TAKEOVER:
        s->io_live = true;
        break;
    default:
        return true;
    }
    pci_test_watch_update(s);
    return true;
}

/*
 * The eventfd OBJ had as (ROLE, INDEX) in the process before a live
 * update, else a new one; owned for the next.
 */
static bool pci_test_eventfd_open(PCITestState *s, PCITestEventfd *e,
                                  const char *role, int index, GError **errp)
{
    Object *obj = OBJECT(s);

    e->watch = 0;
    e->fd = cpr_take_fd(obj, role, index);
    if (e->fd >= 0) {
        return true; /* live: its count may hold a signal for us */
    }
    e->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (e->fd < 0) {
        error_setg_errno(errp, errno, "x-pci-test: cannot create the %s %d",
                         role, index);
        return false;
    }
    cpr_own_fd(obj, role, index, e->fd);
    return true;
}

static void pci_test_eventfd_close(PCITestEventfd *e)
{
    if (e->watch) {
        g_source_remove(e->watch);
        e->watch = 0;
    }
    if (e->fd >= 0) {
        close(e->fd);
        e->fd = -1;
    }
}

static void pci_test_irqfd_teardown(PCITestState *s)
{
    if (!s->vec) {
        return;
    }
    msix_unset_vector_notifiers(&s->parent_obj);
    cpr_remove_notifier(pci_test_cpr_notify, s);
    for (unsigned int v = 0; v < s->msix_vectors; v++) {
        pci_test_vector_set(s, v, false);
        pci_test_eventfd_close(&s->vec[v].e);
    }
    if (s->intx_gsi >= 0) {
        irqchip_remove_irqfd(s->intx.fd, s->intx_gsi);
        s->intx_gsi = -1;
    }
    pci_test_eventfd_close(&s->intx);
    pci_test_eventfd_close(&s->resample);
    g_clear_pointer(&s->vec, g_free);
}

static bool pci_test_irqfd_realize(PCITestState *s, GError **errp)
{
    GString *fds = g_string_new(NULL);
    bool ok = true;

    s->intx_gsi = -1;
    s->intx.fd = s->resample.fd = -1;
    s->vec = g_new0(PCITestVector, s->msix_vectors);
    for (unsigned int v = 0; v < s->msix_vectors; v++) {
        s->vec[v].e.fd = -1;
        s->vec[v].virq = -1;
    }
    /* A new process reads nothing before it owns the guest. */
    s->io_live = !cpr_is_incoming();
    for (unsigned int v = 0; ok && v < s->msix_vectors; v++) {
        ok =
            pci_test_eventfd_open(s, &s->vec[v].e, PCI_TEST_ROLE_MSIX, v, errp);
        g_string_append_printf(fds, "msix%u=%d,", v, s->vec[v].e.fd);
    }
    ok =
        ok && pci_test_eventfd_open(s, &s->intx, PCI_TEST_ROLE_INTX, 0, errp) &&
        pci_test_eventfd_open(s, &s->resample, PCI_TEST_ROLE_RESAMPLE, 0, errp);
    g_string_append_printf(fds, "intx=%d,resample=%d", s->intx.fd,
                           s->resample.fd);
    s->irq_fds = g_string_free(fds, false);
    cpr_add_notifier(pci_test_cpr_notify, s, CPR_PHASE_DEVICE);
    if (!ok || (s->msix_vectors &&
                msix_set_vector_notifiers(&s->parent_obj, pci_test_vector_use,
                                          pci_test_vector_release) < 0)) {
        pci_test_irqfd_teardown(s);
        return false;
    }
    pci_test_irq_sync_all(s);
    return true;
}

static uint64_t pci_test_scratch_read(void *opaque, hwaddr addr, unsigned size)
{
    PCITestState *s = opaque;
    uint64_t v = 0;

    for (unsigned i = 0; i < size && addr + i < PCI_TEST_SCRATCH; i++) {
        v |= (uint64_t)s->scratch[addr + i] << (8 * i);
    }
    return v;
}

static void pci_test_scratch_write(void *opaque, hwaddr addr, uint64_t val,
                                   unsigned size)
{
    PCITestState *s = opaque;

    for (unsigned i = 0; i < size && addr + i < PCI_TEST_SCRATCH; i++) {
        s->scratch[addr + i] = (uint8_t)(val >> (8 * i));
    }
}

static const MemoryRegionOps pci_test_scratch_ops = {
    .read = pci_test_scratch_read,
    .write = pci_test_scratch_write,
};

/* BAR 0: the scratch, and at 0xf00 the interrupt triggers. */
static uint64_t pci_test_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    PCITestState *s = opaque;

    if (addr >= PCI_TEST_INTX) {
        if (addr != PCI_TEST_INTX) {
            return 0;
        }
        return s->irqfd ? s->intx_cond : (uint64_t)s->parent_obj.irq_state;
    }
    return pci_test_scratch_read(opaque, addr, size);
}

static void pci_test_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                                unsigned size)
{
    PCITestState *s = opaque;
    PCIDevice *d = &s->parent_obj;

    switch (addr) {
    case PCI_TEST_INTX:
        if (s->irqfd) {
            pci_test_intx_write(s, val != 0);
        } else {
            pci_set_irq(d, val != 0);
        }
        return;
    case PCI_TEST_MSI:
        msi_notify(d, (unsigned int)val);
        return;
    case PCI_TEST_MSIX:
        if (s->irqfd) {
            /* As the device's kernel side would: into the eventfd. */
            if (val < s->msix_vectors) {
                pci_test_signal(s->vec[val].e.fd);
            }
        } else {
            msix_notify(d, (unsigned int)val);
        }
        return;
    default:
        if (addr < PCI_TEST_INTX) {
            pci_test_scratch_write(opaque, addr, val, size);
        }
    }
}

static const MemoryRegionOps pci_test_mmio_ops = {
    .read = pci_test_mmio_read,
    .write = pci_test_mmio_write,
    .impl.max_access_size = 4,
};

static uint64_t pci_test_bar2_read(void *opaque, hwaddr addr, unsigned size)
{
    return (uint32_t)(addr & ~3ULL) >> (8 * (addr & 3));
}

static const MemoryRegionOps pci_test_bar2_ops = {
    .read = pci_test_bar2_read,
    .impl.max_access_size = 4,
};

static bool pci_test_realize(PCIDevice *d, GError **errp)
{
    PCITestState *s = (PCITestState *)d;
    Object *owner = OBJECT(d);

    if (s->bar2_size &&
        (s->bar2_size < 16 || (s->bar2_size & (s->bar2_size - 1)))) {
        error_setg(errp,
                   "x-pci-test: bar2-size 0x%" PRIx64 " is not a "
                   "power of two of at least 16 bytes",
                   s->bar2_size);
        return false;
    }
    if (s->irq_fds) {
        error_setg(errp, "x-pci-test: property 'x-irq-fds' is read-only");
        return false;
    }
    if (pci_add_capability(d, PCI_CAP_ID_VNDR, 0, 8, errp) < 0 ||
        (s->msi_vectors &&
         msi_init(d, 0, s->msi_vectors, true, true, errp) < 0) ||
        (s->msix_vectors &&
         msix_init_exclusive_bar(d, s->msix_vectors, PCI_TEST_MSIX_BAR, errp) <
             0)) {
        return false;
    }
    d->config[PCI_INTERRUPT_PIN] = 1;
    memory_region_init_io(&s->mmio, owner, &pci_test_mmio_ops, s,
                          "pci-test-mmio", PCI_TEST_SCRATCH);
    memory_region_init_io(&s->io, owner, &pci_test_scratch_ops, s,
                          "pci-test-io", 256);
    pci_register_bar(d, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);
    pci_register_bar(d, 1, PCI_BASE_ADDRESS_SPACE_IO, &s->io);
    if (s->bar2_size) {
        memory_region_init_io(&s->bar2, owner, &pci_test_bar2_ops, s,
                              "pci-test-bar2", s->bar2_size);
        pci_register_bar(d, 2,
                         PCI_BASE_ADDRESS_SPACE_MEMORY |
                             PCI_BASE_ADDRESS_MEM_TYPE_64 |
                             PCI_BASE_ADDRESS_MEM_PREFETCH,
                         &s->bar2);
    }
    if (!s->irqfd) {
        s->irq_fds = g_strdup("");
        return true;
    }
    return pci_test_irqfd_realize(s, errp);
}

/* The core has unmapped the BARs already and undoes MSI/MSI-X after. */
static void pci_test_exit(PCIDevice *d)
{
    PCITestState *s = (PCITestState *)d;

    pci_test_irqfd_teardown(s);
    memory_region_finalize(&s->mmio);
    memory_region_finalize(&s->io);
    if (s->bar2_size) {
        memory_region_finalize(&s->bar2);
    }
}

/* irqfd=on: the core reset masked every vector and dropped the line. */
static void pci_test_reset(PCIDevice *d)
{
    PCITestState *s = (PCITestState *)d;

    if (s->irqfd) {
        s->intx_cond = false;
        pci_test_irq_sync_all(s);
    }
}

static bool pci_test_irqfd_needed(void *opaque)
{
    return ((PCITestState *)opaque)->irqfd;
}

static const VMStateDescription vmstate_pci_test_irqfd = {
    .name = "x-pci-test/irqfd",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = pci_test_irqfd_needed,
    .fields =
        (const VMStateField[]){
            VMSTATE_BOOL(intx_cond, PCITestState),
            VMSTATE_END_OF_LIST(),
        },
};

static const VMStateDescription *const pci_test_subsections[] = {
    &vmstate_pci_test_irqfd,
    NULL,
};

/*
 * irqfd=on: routes and irqfds from the loaded MSI-X table and INTx route
 * (held until the vCPUs resume); the INTx level from the register (the
 * resample at the resume re-asserts it under KVM).
 */
static bool pci_test_post_load(void *opaque, int version_id, GError **errp)
{
    PCITestState *s = opaque;

    if (s->irqfd) {
        pci_test_irq_sync_all(s);
    }
    return true;
}

static const VMStateDescription vmstate_pci_test = {
    .name = "x-pci-test",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = pci_test_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, PCITestState),
            VMSTATE_BUFFER(scratch, PCITestState, PCI_TEST_SCRATCH),
            VMSTATE_END_OF_LIST(),
        },
    .subsections = pci_test_subsections,
};

static const Property pci_test_props[] = {
    DEFINE_PROP("bar2-size", PROP_SIZE, PCITestState, bar2_size, .defval = "1M",
                .desc = "size of the 64-bit prefetchable BAR 2 (0: none)"),
    DEFINE_PROP("msi-vectors", PROP_UINT8, PCITestState, msi_vectors,
                .defval = "4",
                .desc = "MSI vectors: 1, 2, 4, ... 32 (0: no MSI)"),
    DEFINE_PROP("msix-vectors", PROP_UINT16, PCITestState, msix_vectors,
                .defval = "8", .desc = "MSI-X vectors in BAR 4 (0: no MSI-X)"),
    DEFINE_PROP("irqfd", PROP_BOOL, PCITestState, irqfd, .defval = "off",
                .desc = "MSI-X and INTx from eventfds the device owns, "
                        "wired to KVM irqfds"),
    DEFINE_PROP("x-irq-fds", PROP_STRING, PCITestState, irq_fds,
                .desc = "read-only: the eventfds of irqfd=on, "
                        "\"msix0=N,...,intx=K,resample=R\""),
    {NULL},
};

static void pci_test_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    device_class_set_props(dc, pci_test_props);
    dc->user_creatable = true;
    dc->vmsd = &vmstate_pci_test;
    pc->realize = pci_test_realize;
    pc->exit = pci_test_exit;
    pc->reset = pci_test_reset;
    pc->vendor_id = PCI_VENDOR_ID_REDHAT;
    pc->device_id = 0x00fe;
    pc->class_id = PCI_CLASS_OTHERS;
    /*
     * Config space, scratch and the INTx level are migrated; irqfd=on's
     * eventfds are preserved (cpr_take_fd) and re-wired from the state.
     */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "baton's PCI test function (scratch BARs, for tests)";
}

static const TypeInfo pci_test_type = {
    .name = "x-pci-test",
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(PCITestState),
    .class_init = pci_test_class_init,
};

static void pci_test_register_types(void)
{
    type_register(&pci_test_type);
}

type_init(pci_test_register_types)
