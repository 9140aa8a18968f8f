/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KVM's interrupt controller for the rest of baton (system/irqchip.h):
 * the in-kernel PIC/IOAPIC/PIT, GSI levels (KVM_IRQ_LINE), the GSI
 * routing table (irqchip pins plus MSI routes, KVM_SET_GSI_ROUTING),
 * irqfds with or without resamplefd, and KVM_SIGNAL_MSI. ioeventfds are
 * not here: they follow the memory map in kvm-mem.c.
 *
 * The table lives in the VM, so a new process after a live update starts
 * from KVM's default routes and its devices add theirs again. irqfds are
 * attached to KVM only while the vCPUs run (docs/devel/interrupts.md,
 * "Hand-over"): a pause detaches them, a resume attaches them again.
 */
#include "util/osdep.h"

#include "system/irqchip.h"
#include "util/error-report.h"

#include "kvm-internal.h"
#include "trace.h"

/*
 * One irqfd an owner added. Owners only add and remove; when KVM has
 * it attached is decided here (see kvm-internal.h, irqfds_held), so a
 * live update or migration never loses a signal: while the vCPUs are
 * paused every irqfd is detached and signals wait in the eventfd.
 */
typedef struct KVMIrqfd {
    int fd;
    int resamplefd; /* -1: edge */
    int virq;
    bool attached; /* KVM has it (false while held, or KVM refused it) */
} KVMIrqfd;

/*
 * KVM_CREATE_IRQCHIP's default routes (arch/x86/kvm/irq_comm.c): GSI
 * 0-15 to the PIC (master pins 0-7, slave 8-15) and to IOAPIC pin GSI,
 * GSI 16-23 to the IOAPIC only. KVM_SET_GSI_ROUTING replaces the whole
 * table, so every commit carries these again, unchanged.
 */
#define KVM_NR_PIC_GSIS 16

static void kvm_irqchip_add_default_routes(GArray *table)
{
    for (unsigned int gsi = 0; gsi < IRQCHIP_NR_GSIS; gsi++) {
        struct kvm_irq_routing_entry e = {
            .gsi = gsi,
            .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi},
        };

        g_array_append_val(table, e);
        if (gsi < KVM_NR_PIC_GSIS) {
            e.u.irqchip.irqchip =
                gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
            e.u.irqchip.pin = gsi % 8;
            g_array_append_val(table, e);
        }
    }
}

bool kvm_irqchip_create(KVMState *s, GError **errp)
{
    struct kvm_pit_config pit = {.flags = 0};
    int ret;

    /* Must precede KVM_CREATE_VCPU so every vCPU gets an in-kernel LAPIC. */
    ret = kvm_vm_ioctl(s, KVM_CREATE_IRQCHIP, NULL);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_CREATE_IRQCHIP failed");
        return false;
    }
    s->irqchip_in_kernel = true;
    ret = kvm_vm_ioctl(s, KVM_CREATE_PIT2, &pit);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_CREATE_PIT2 failed");
        return false;
    }
    /*
     * Virqs are GSIs above the irqchip pins and below the table's limit
     * (KVM_CAP_IRQ_ROUTING's value, KVM_MAX_IRQ_ROUTES in the kernel).
     */
    s->gsi_count = kvm_cap(s, KVM_CAP_IRQ_ROUTING) > IRQCHIP_NR_GSIS
                       ? (unsigned int)kvm_cap(s, KVM_CAP_IRQ_ROUTING)
                       : 0;
    s->msi_routes =
        g_array_new(false, true, sizeof(struct kvm_irq_routing_entry));
    s->routes_dirty = false;
    /* Nothing runs yet: irqfds wait for the first resume (or a load). */
    s->irqfds = g_array_new(false, false, sizeof(KVMIrqfd));
    s->irqfds_held = true;
    return true;
}

void kvm_irqchip_cleanup(KVMState *s)
{
    g_clear_pointer(&s->msi_routes, g_array_unref);
    g_clear_pointer(&s->irqfds, g_array_unref);
    s->irqfds_held = false;
    s->gsi_count = 0;
    s->routes_dirty = false;
    s->irqchip_in_kernel = false;
}

/* ---- GSI levels and MSIs ---- */

static void kvm_irqchip_set_gsi(unsigned int gsi, bool level)
{
    KVMState *s = kvm_state();
    struct kvm_irq_level irq = {.irq = gsi, .level = level};
    static bool warned;
    int ret;

    if (s->vm_fd < 0) {
        return;
    }
    ret = kvm_vm_ioctl(s, KVM_IRQ_LINE, &irq);
    if (ret < 0 && !warned) {
        /* Once: a bad GSI from a device model would otherwise flood. */
        warned = true;
        error_report("KVM_IRQ_LINE failed for GSI %u (level %d): %s", gsi,
                     level, g_strerror(-ret));
    }
}

/*
 * The guest chose the address and data (it programmed the device), so a
 * refusal is the guest's error, not baton's. 0 means the interrupt was
 * blocked (e.g. no APIC matched): that is how hardware behaves too.
 */
static void kvm_irqchip_send_msi(MSIMessage msg)
{
    KVMState *s = kvm_state();
    struct kvm_msi msi = {
        .address_lo = (uint32_t)msg.address,
        .address_hi = (uint32_t)(msg.address >> 32),
        .data = msg.data,
    };
    int ret;

    if (s->vm_fd < 0) {
        return;
    }
    ret = kvm_vm_ioctl(s, KVM_SIGNAL_MSI, &msi);
    if (ret < 0) {
        log_mask(LOG_GUEST_ERROR,
                 "MSI address 0x%" PRIx64 " data 0x%x refused by KVM: %s\n",
                 msg.address, msg.data, g_strerror(-ret));
    }
}

/* ---- the routing table ---- */

static bool kvm_irqchip_msi_via_routes(void)
{
    KVMState *s = kvm_state();

    return s->vm_fd >= 0 && s->irqchip_in_kernel && s->gsi_count &&
           kvm_cap(s, KVM_CAP_IRQFD);
}

static struct kvm_irq_routing_entry *kvm_irqchip_find_route(KVMState *s,
                                                            int virq)
{
    for (guint i = 0; s->msi_routes && i < s->msi_routes->len; i++) {
        struct kvm_irq_routing_entry *e =
            &g_array_index(s->msi_routes, struct kvm_irq_routing_entry, i);

        if (e->gsi == (uint32_t)virq) {
            return e;
        }
    }
    return NULL;
}

static void kvm_irqchip_fill_msi(struct kvm_irq_routing_entry *e,
                                 MSIMessage msg)
{
    e->type = KVM_IRQ_ROUTING_MSI;
    e->flags = 0;
    e->u.msi.address_lo = (uint32_t)msg.address;
    e->u.msi.address_hi = (uint32_t)(msg.address >> 32);
    e->u.msi.data = msg.data;
}

/* The lowest GSI above the irqchip pins that no route uses, or -1. */
static int kvm_irqchip_alloc_virq(KVMState *s)
{
    for (unsigned int gsi = IRQCHIP_NR_GSIS; gsi < s->gsi_count; gsi++) {
        if (!kvm_irqchip_find_route(s, gsi)) {
            return gsi;
        }
    }
    return -1;
}

static int kvm_irqchip_add_msi_route(MSIMessage msg, GError **errp)
{
    KVMState *s = kvm_state();
    struct kvm_irq_routing_entry e = {0};
    int virq = kvm_irqchip_alloc_virq(s);

    if (virq < 0) {
        error_setg(errp,
                   "cannot add an MSI route for address 0x%" PRIx64
                   " data 0x%x: all %u GSIs of KVM's routing table are "
                   "in use",
                   msg.address, msg.data, s->gsi_count);
        return -1;
    }
    e.gsi = virq;
    kvm_irqchip_fill_msi(&e, msg);
    g_array_append_val(s->msi_routes, e);
    s->routes_dirty = true;
    trace_kvm_irqchip_add_msi_route(virq, msg.address, msg.data);
    return virq;
}

static bool kvm_irqchip_update_msi_route(int virq, MSIMessage msg,
                                         GError **errp)
{
    KVMState *s = kvm_state();
    struct kvm_irq_routing_entry *e = kvm_irqchip_find_route(s, virq);

    if (!e) {
        error_setg(errp, "virq %d is not an MSI route", virq);
        return false;
    }
    kvm_irqchip_fill_msi(e, msg);
    s->routes_dirty = true;
    trace_kvm_irqchip_update_msi_route(virq, msg.address, msg.data);
    return true;
}

static void kvm_irqchip_release_virq(int virq)
{
    KVMState *s = kvm_state();

    for (guint i = 0; i < s->msi_routes->len; i++) {
        if (g_array_index(s->msi_routes, struct kvm_irq_routing_entry, i).gsi ==
            (uint32_t)virq) {
            g_array_remove_index(s->msi_routes, i);
            s->routes_dirty = true;
            trace_kvm_irqchip_release_virq(virq);
            return;
        }
    }
    /* Releasing what was never added is a bug in the caller. */
    g_assert_not_reached();
}

static void kvm_irqchip_commit_routes(void)
{
    KVMState *s = kvm_state();
    g_autoptr(GArray) table = NULL;
    g_autofree struct kvm_irq_routing *r = NULL;
    int ret;

    if (!s->routes_dirty) {
        return;
    }
    table = g_array_new(false, true, sizeof(struct kvm_irq_routing_entry));
    kvm_irqchip_add_default_routes(table);
    g_array_append_vals(table, s->msi_routes->data, s->msi_routes->len);
    r = g_malloc0(sizeof(*r) + table->len * sizeof(r->entries[0]));
    r->nr = table->len;
    memcpy(r->entries, table->data, table->len * sizeof(r->entries[0]));
    ret = kvm_vm_ioctl(s, KVM_SET_GSI_ROUTING, r);
    trace_kvm_irqchip_commit_routes(s->msi_routes->len, ret);
    if (ret < 0) {
        /*
         * Only a table baton built wrongly (a GSI or count over the limit
         * it checked) gets here; keep the flag so the next commit retries.
         */
        error_report("KVM_SET_GSI_ROUTING with %u entries failed: %s", r->nr,
                     g_strerror(-ret));
        return;
    }
    s->routes_dirty = false;
}

/* ---- irqfds ---- */

static int kvm_irqfd_ioctl(KVMState *s, const KVMIrqfd *f, bool assign)
{
    struct kvm_irqfd irqfd = {.fd = f->fd, .gsi = f->virq};

    if (!assign) {
        irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
    } else if (f->resamplefd >= 0) {
        irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
        irqfd.resamplefd = f->resamplefd;
    }
    return kvm_vm_ioctl(s, KVM_IRQFD, &irqfd);
}

static KVMIrqfd *kvm_irqfd_find(KVMState *s, int fd, guint *index)
{
    for (guint i = 0; s->irqfds && i < s->irqfds->len; i++) {
        KVMIrqfd *f = &g_array_index(s->irqfds, KVMIrqfd, i);

        if (f->fd == fd) {
            if (index) {
                *index = i;
            }
            return f;
        }
    }
    return NULL;
}

static bool kvm_irqchip_add_irqfd(int fd, int resamplefd, int virq,
                                  GError **errp)
{
    KVMState *s = kvm_state();
    KVMIrqfd f = {.fd = fd, .resamplefd = resamplefd, .virq = virq};
    int ret;

    if (resamplefd >= 0 && !kvm_cap(s, KVM_CAP_IRQFD_RESAMPLE)) {
        g_set_error(errp, BATON_ERROR, BATON_ERROR_KVM_MISSING_CAP,
                    "kvm does not support KVM_CAP_IRQFD_RESAMPLE");
        return false;
    }
    /* What KVM would answer, also while held (one irqfd per eventfd). */
    if (kvm_irqfd_find(s, fd, NULL)) {
        error_setg_errno(errp, EBUSY,
                         "KVM_IRQFD: cannot attach fd %d to GSI %d", fd, virq);
        return false;
    }
    if (s->irqfds_held) {
        /*
         * The vCPUs are paused or not started (an incoming VM): attached
         * when they resume, after their state is loaded. A bad fd shows
         * then, in the log; KVM cannot be asked now without injecting.
         */
        g_array_append_val(s->irqfds, f);
        trace_kvm_irqchip_irqfd_defer(fd, resamplefd, virq);
        return true;
    }
    ret = kvm_irqfd_ioctl(s, &f, true);
    trace_kvm_irqchip_add_irqfd(fd, resamplefd, virq, ret);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_IRQFD: cannot attach fd %d to GSI %d",
                         fd, virq);
        return false;
    }
    f.attached = true;
    g_array_append_val(s->irqfds, f);
    return true;
}

static void kvm_irqchip_remove_irqfd(int fd, int virq)
{
    KVMState *s = kvm_state();
    KVMIrqfd *f;
    guint i;
    int ret = 0;

    f = kvm_irqfd_find(s, fd, &i);
    if (!f || f->virq != virq) {
        /* Removing what was never added is a bug in the caller. */
        warn_report("KVM_IRQFD: fd %d is not attached to GSI %d", fd, virq);
        return;
    }
    if (f->attached && s->vm_fd >= 0) {
        ret = kvm_irqfd_ioctl(s, f, false);
        if (ret < 0) {
            warn_report("KVM_IRQFD: cannot detach fd %d from GSI %d: %s", fd,
                        virq, g_strerror(-ret));
        }
    }
    trace_kvm_irqchip_remove_irqfd(fd, virq, ret);
    g_array_remove_index(s->irqfds, i);
}

void kvm_irqchip_hold_irqfds(KVMState *s)
{
    if (s->irqfds_held || !s->irqfds) {
        return;
    }
    s->irqfds_held = true;
    for (guint i = 0; i < s->irqfds->len; i++) {
        KVMIrqfd *f = &g_array_index(s->irqfds, KVMIrqfd, i);
        int ret;

        if (!f->attached) {
            continue;
        }
        ret = kvm_irqfd_ioctl(s, f, false);
        f->attached = false;
        trace_kvm_irqchip_irqfd_detach(f->fd, f->virq, ret);
        if (ret < 0) {
            /* Not reached: KVM had it attached. It may inject on. */
            error_report("KVM_IRQFD: cannot detach fd %d from GSI %d: %s",
                         f->fd, f->virq, g_strerror(-ret));
        }
    }
}

void kvm_irqchip_attach_irqfds(KVMState *s)
{
    static const uint64_t one = 1;

    if (!s->irqfds_held || !s->irqfds) {
        return;
    }
    s->irqfds_held = false;
    for (guint i = 0; i < s->irqfds->len; i++) {
        KVMIrqfd *f = &g_array_index(s->irqfds, KVMIrqfd, i);
        int ret = kvm_irqfd_ioctl(s, f, true);

        trace_kvm_irqchip_irqfd_attach(f->fd, f->resamplefd, f->virq, ret);
        if (ret < 0) {
            /* Only an fd its owner got wrong while held: say which. */
            error_report("KVM_IRQFD: cannot attach fd %d to GSI %d: %s; its "
                         "interrupts are lost",
                         f->fd, f->virq, g_strerror(-ret));
            continue;
        }
        f->attached = true;
        /*
         * Detaching a level irqfd de-asserted its pin, and a new VM
         * starts with it low: a resample makes the owner re-assert if
         * its device still holds the level (VFIO: the unmask eventfd).
         */
        if (f->resamplefd >= 0 &&
            write(f->resamplefd, &one, sizeof(one)) != sizeof(one)) {
            warn_report("irqfd on GSI %d: cannot write resamplefd %d: %s",
                        f->virq, f->resamplefd, g_strerror(errno));
        }
    }
}

const IrqchipOps kvm_irqchip_ops = {
    .set_gsi = kvm_irqchip_set_gsi,
    .send_msi = kvm_irqchip_send_msi,
    .msi_via_routes = kvm_irqchip_msi_via_routes,
    .add_msi_route = kvm_irqchip_add_msi_route,
    .update_msi_route = kvm_irqchip_update_msi_route,
    .release_virq = kvm_irqchip_release_virq,
    .commit_routes = kvm_irqchip_commit_routes,
    .add_irqfd = kvm_irqchip_add_irqfd,
    .remove_irqfd = kvm_irqchip_remove_irqfd,
};
