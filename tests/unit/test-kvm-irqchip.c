/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The KVM interrupt layer (accel/kvm/kvm-irqchip.c through
 * system/irqchip.h) against the real kernel, with no guest code: a VM
 * with the in-kernel irqchip and one vCPU whose LAPIC is software-enabled.
 * Each case makes an interrupt arrive and reads the vector back from the
 * LAPIC's IRR (KVM_GET_LAPIC, IRR at 0x200): MSI routes with an irqfd, a
 * route update, KVM_SIGNAL_MSI, a level-triggered IOAPIC pin through an
 * irqfd with resamplefd, and the hold of every irqfd while the vCPUs are
 * paused (what a live update relies on), edge and level.
 *
 * Needs /dev/kvm: without it (or without irqfd/routing) the program
 * prints why and exits 77, which meson reports as a skip.
 */
#include "util/osdep.h"

#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>

#include "system/cpus.h"
#include "system/irqchip.h"

#include "../../accel/kvm/kvm-internal.h"

#define APIC_SVR 0x0f0
#define APIC_TMR 0x180
#define APIC_IRR 0x200
#define APIC_SVR_ENABLE 0x100

/* Deadline for asynchronous injection: only ends a hung test. */
#define WAIT_US (60 * G_USEC_PER_SEC) /* only a hang ends here */

typedef struct Vm {
    KVMState *s;
    KVMCPU cpu;
} Vm;

static void vm_open(Vm *vm)
{
    GError *err = NULL;
    int ret;

    vm->s = kvm_state();
    do {
        ret = kvm_ioctl(vm->s, KVM_CREATE_VM, KVM_ARG(0));
    } while (ret == -EINTR);
    g_assert_cmpint(ret, >=, 0);
    vm->s->vm_fd = ret;
    g_assert_true(kvm_irqchip_create(vm->s, &err));
    g_assert_no_error(err);
    /* After the irqchip, so the vCPU gets an in-kernel LAPIC. */
    memset(&vm->cpu, 0, sizeof(vm->cpu));
    vm->cpu.s = vm->s;
    ret = kvm_vm_ioctl(vm->s, KVM_CREATE_VCPU, KVM_ARG(0));
    g_assert_cmpint(ret, >=, 0);
    vm->cpu.fd = ret;
    g_assert_true(irqchip_msi_via_routes());
    /* As the accelerator's resume does: irqfds reach KVM from now on. */
    kvm_irqchip_attach_irqfds(vm->s);
}

static void vm_close(Vm *vm)
{
    close(vm->cpu.fd);
    close(vm->s->vm_fd);
    vm->s->vm_fd = -1;
    kvm_irqchip_cleanup(vm->s);
}

static uint32_t lapic_reg(const struct kvm_lapic_state *l, unsigned int off)
{
    uint32_t v;

    memcpy(&v, &l->regs[off], sizeof(v));
    return v;
}

static void lapic_set_reg(struct kvm_lapic_state *l, unsigned int off,
                          uint32_t v)
{
    memcpy(&l->regs[off], &v, sizeof(v));
}

static void get_lapic(Vm *vm, struct kvm_lapic_state *l)
{
    g_assert_cmpint(kvm_vcpu_ioctl(&vm->cpu, KVM_GET_LAPIC, l), ==, 0);
}

static void set_lapic(Vm *vm, struct kvm_lapic_state *l)
{
    g_assert_cmpint(kvm_vcpu_ioctl(&vm->cpu, KVM_SET_LAPIC, l), ==, 0);
}

/* Bit VEC of the 256-bit register array at OFF (IRR, ISR, TMR). */
static bool lapic_bit(const struct kvm_lapic_state *l, unsigned int off,
                      unsigned int vec)
{
    return lapic_reg(l, off + 0x10 * (vec / 32)) & (1u << (vec % 32));
}

/* Software-enable the APIC (SVR bit 8): a disabled one accepts nothing. */
static void lapic_enable(Vm *vm)
{
    struct kvm_lapic_state l;

    get_lapic(vm, &l);
    lapic_set_reg(&l, APIC_SVR, APIC_SVR_ENABLE | 0xff);
    set_lapic(vm, &l);
}

/* Forget every pending vector (IRR), as if the guest had taken them. */
static void set_lapic_irr_clear(Vm *vm)
{
    struct kvm_lapic_state l;

    get_lapic(vm, &l);
    memset(&l.regs[APIC_IRR], 0, 0x80);
    set_lapic(vm, &l);
}

static bool irr_has(Vm *vm, unsigned int vec)
{
    struct kvm_lapic_state l;

    get_lapic(vm, &l);
    return lapic_bit(&l, APIC_IRR, vec);
}

/*
 * An irqfd injects from a kernel work item when it cannot do so in the
 * writer's context, so wait for the observable state, not for time.
 */
static void wait_irr(Vm *vm, unsigned int vec)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_US;

    while (!irr_has(vm, vec)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        sched_yield(); /* the kernel's work item needs a CPU, not time */
    }
}

static void kick(int efd)
{
    uint64_t one = 1;

    g_assert_cmpint(write(efd, &one, sizeof(one)), ==, sizeof(one));
}

/* Fixed delivery, edge, physical destination APIC 0. */
static MSIMessage msi_to_apic0(unsigned int vec)
{
    return (MSIMessage){.address = MSI_WINDOW_BASE, .data = vec};
}

static void test_msi_irqfd(void)
{
    Vm vm;
    GError *err = NULL;
    int efd = eventfd(0, EFD_CLOEXEC);
    int virq;

    vm_open(&vm);
    lapic_enable(&vm);
    virq = irqchip_add_msi_route(msi_to_apic0(0x41), &err);
    g_assert_no_error(err);
    g_assert_cmpint(virq, >=, IRQCHIP_NR_GSIS);
    /* The irqfd first, the route later: both orders must work. */
    g_assert_true(irqchip_add_irqfd(efd, -1, virq, &err));
    g_assert_no_error(err);
    irqchip_commit_routes();
    g_assert_false(irr_has(&vm, 0x41));
    kick(efd);
    wait_irr(&vm, 0x41);

    /* The same virq re-pointed at another vector. */
    g_assert_true(irqchip_update_msi_route(virq, msi_to_apic0(0x52), &err));
    g_assert_no_error(err);
    irqchip_commit_routes();
    g_assert_false(irr_has(&vm, 0x52));
    kick(efd);
    wait_irr(&vm, 0x52);

    /* A second route gets another virq; unknown virqs are refused. */
    {
        int virq2 = irqchip_add_msi_route(msi_to_apic0(0x60), &err);

        g_assert_no_error(err);
        g_assert_cmpint(virq2, !=, virq);
        irqchip_release_virq(virq2);
        g_assert_false(
            irqchip_update_msi_route(virq2, msi_to_apic0(0x61), &err));
        g_assert_nonnull(strstr(err->message, "not an MSI route"));
        g_clear_error(&err);
    }

    /* Removed: the fd is free to be attached again (EBUSY otherwise). */
    irqchip_remove_irqfd(efd, virq);
    g_assert_true(irqchip_add_irqfd(efd, -1, virq, &err));
    g_assert_no_error(err);
    g_assert_false(irqchip_add_irqfd(efd, -1, virq, &err));
    g_assert_nonnull(strstr(err->message, "KVM_IRQFD"));
    g_clear_error(&err);
    irqchip_remove_irqfd(efd, virq);
    irqchip_release_virq(virq);
    irqchip_commit_routes();
    close(efd);
    vm_close(&vm);
}

/* KVM_SIGNAL_MSI is synchronous: the vector is in the IRR on return. */
static void test_signal_msi(void)
{
    Vm vm;

    vm_open(&vm);
    lapic_enable(&vm);
    g_assert_false(irr_has(&vm, 0x71));
    irqchip_send_msi(msi_to_apic0(0x71));
    g_assert_true(irr_has(&vm, 0x71));
    /* Another destination APIC: nobody there, nothing pending here. */
    irqchip_send_msi(
        (MSIMessage){.address = MSI_WINDOW_BASE | (5 << 12), .data = 0x72});
    g_assert_false(irr_has(&vm, 0x72));
    vm_close(&vm);
}

static struct kvm_irqchip get_ioapic(Vm *vm)
{
    struct kvm_irqchip chip = {.chip_id = KVM_IRQCHIP_IOAPIC};

    g_assert_cmpint(kvm_vm_ioctl(vm->s, KVM_GET_IRQCHIP, &chip), ==, 0);
    return chip;
}

static void wait_ioapic_irr(Vm *vm, unsigned int gsi)
{
    gint64 deadline = g_get_monotonic_time() + WAIT_US;

    while (!(get_ioapic(vm).chip.ioapic.irr & (1u << gsi))) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        sched_yield();
    }
}

/*
 * INTx as VFIO does it: a level-triggered IOAPIC pin fed by an irqfd
 * with a resamplefd. Checked here: the kick asserts the pin as a level
 * (IOAPIC IRR and remote IRR, LAPIC IRR and TMR), nothing is resampled
 * without an EOI, and detaching the irqfd de-asserts the pin.
 *
 * Not checked: EOI -> resamplefd. KVM forwards a LAPIC EOI to the IOAPIC
 * only for vectors in the vCPU's IOAPIC-handled bitmap, which it computes
 * on guest entry (KVM_REQ_SCAN_IOAPIC); a vCPU that never runs has an
 * empty one, so even an x2APIC EOI MSR written by the host acks nothing,
 * and running the vCPU needs guest code.
 */
static void test_resample(void)
{
    const unsigned int gsi = 20, vec = 0x93;
    Vm vm;
    GError *err = NULL;
    struct kvm_irqchip chip;
    struct kvm_lapic_state l;
    int efd = eventfd(0, EFD_CLOEXEC);
    int rfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct pollfd pfd = {.fd = rfd, .events = POLLIN};
    int virq;

    vm_open(&vm);
    lapic_enable(&vm);
    /*
     * A committed table with an MSI route in it: the irqchip pins must
     * still be there (KVM_SET_GSI_ROUTING replaces the whole table).
     */
    virq = irqchip_add_msi_route(msi_to_apic0(0x40), &err);
    g_assert_no_error(err);
    irqchip_commit_routes();

    /* Pin 20: vector 0x93, level, active high, unmasked, to APIC 0. */
    chip = get_ioapic(&vm);
    chip.chip.ioapic.redirtbl[gsi].bits = 0;
    chip.chip.ioapic.redirtbl[gsi].fields.vector = vec;
    chip.chip.ioapic.redirtbl[gsi].fields.trig_mode = 1;
    g_assert_cmpint(kvm_vm_ioctl(vm.s, KVM_SET_IRQCHIP, &chip), ==, 0);

    g_assert_true(irqchip_add_irqfd(efd, rfd, gsi, &err));
    g_assert_no_error(err);
    kick(efd);
    wait_irr(&vm, vec);
    get_lapic(&vm, &l);
    g_assert_true(lapic_bit(&l, APIC_TMR, vec)); /* accepted as level */
    chip = get_ioapic(&vm);
    g_assert_true(chip.chip.ioapic.redirtbl[gsi].fields.remote_irr);
    g_assert_true(chip.chip.ioapic.irr & (1u << gsi));
    g_assert_cmpint(poll(&pfd, 1, 0), ==, 0); /* no EOI, no resample */

    /*
     * Detaching the last irqfd of a resampler de-asserts the pin: KVM runs
     * the shutdown work item and flushes it before KVM_IRQFD returns. The
     * EOI that would normally do it cannot be driven from here, see the
     * comment above.
     */
    irqchip_remove_irqfd(efd, gsi);
    g_assert_false(get_ioapic(&vm).chip.ioapic.irr & (1u << gsi));
    g_assert_cmpint(poll(&pfd, 1, 0), ==, 0);
    irqchip_release_virq(virq);
    close(efd);
    close(rfd);
    vm_close(&vm);
}

/* The eventfd still counts a signal nobody consumed. */
static bool efd_pending(int efd)
{
    struct pollfd pfd = {.fd = efd, .events = POLLIN};

    return poll(&pfd, 1, 0) == 1;
}

/*
 * Held (the vCPUs paused for a save): a signal waits in the eventfd, not
 * in a LAPIC that may already be saved, and arrives when the irqfds are
 * attached again. What KVM injected before the hold is in the IRR when
 * the hold returns (the deassign flushes the injection). irqfds added
 * while held attach with the others; removed ones never do.
 */
static void test_hold(void)
{
    Vm vm;
    GError *err = NULL;
    int efd = eventfd(0, EFD_CLOEXEC);
    int efd2 = eventfd(0, EFD_CLOEXEC);
    int efd3 = eventfd(0, EFD_CLOEXEC);
    int virq, virq2, virq3;

    vm_open(&vm);
    lapic_enable(&vm);
    virq = irqchip_add_msi_route(msi_to_apic0(0x41), &err);
    virq2 = irqchip_add_msi_route(msi_to_apic0(0x42), &err);
    virq3 = irqchip_add_msi_route(msi_to_apic0(0x43), &err);
    g_assert_no_error(err);
    irqchip_commit_routes();
    g_assert_true(irqchip_add_irqfd(efd, -1, virq, &err));
    g_assert_no_error(err);

    /* Signalled just before the pause: in the IRR once the hold returns. */
    kick(efd);
    kvm_irqchip_hold_irqfds(vm.s);
    g_assert_true(irr_has(&vm, 0x41));
    g_assert_false(efd_pending(efd));

    /* While held: signals wait in the eventfd; adds are deferred. */
    set_lapic_irr_clear(&vm);
    kick(efd);
    g_assert_true(irqchip_add_irqfd(efd2, -1, virq2, &err));
    g_assert_no_error(err);
    kick(efd2);
    /* The same eventfd twice is refused as KVM would, even while held. */
    g_assert_false(irqchip_add_irqfd(efd2, -1, virq3, &err));
    g_assert_nonnull(strstr(err->message, "KVM_IRQFD"));
    g_clear_error(&err);
    g_assert_true(irqchip_add_irqfd(efd3, -1, virq3, &err));
    irqchip_remove_irqfd(efd3, virq3);
    kick(efd3);
    g_assert_true(efd_pending(efd));
    g_assert_true(efd_pending(efd2));
    g_assert_false(irr_has(&vm, 0x41));
    g_assert_false(irr_has(&vm, 0x42));

    /*
     * Attached again: KVM polls each eventfd and injects what it holds.
     * It leaves the count in the eventfd (the next signal's wake-up
     * reads it), and the next detach reads it: no second injection.
     */
    kvm_irqchip_attach_irqfds(vm.s);
    wait_irr(&vm, 0x41);
    wait_irr(&vm, 0x42);
    g_assert_false(irr_has(&vm, 0x43)); /* removed while held */
    g_assert_true(efd_pending(efd3));
    set_lapic_irr_clear(&vm);
    kvm_irqchip_hold_irqfds(vm.s);
    g_assert_false(efd_pending(efd));
    g_assert_false(efd_pending(efd2));
    kvm_irqchip_attach_irqfds(vm.s);
    g_assert_false(irr_has(&vm, 0x41));
    kick(efd);
    wait_irr(&vm, 0x41);

    irqchip_remove_irqfd(efd, virq);
    irqchip_remove_irqfd(efd2, virq2);
    irqchip_release_virq(virq);
    irqchip_release_virq(virq2);
    irqchip_release_virq(virq3);
    close(efd);
    close(efd2);
    close(efd3);
    vm_close(&vm);
}

/*
 * A level irqfd held: the pin drops (KVM de-asserts on detach), a signal
 * while held waits, and attaching asserts the pin again and writes the
 * resamplefd once so that the owner re-checks its device's level.
 */
static void test_hold_resample(void)
{
    const unsigned int gsi = 21, vec = 0x94;
    Vm vm;
    GError *err = NULL;
    struct kvm_irqchip chip;
    int efd = eventfd(0, EFD_CLOEXEC);
    int rfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    uint64_t cnt;

    vm_open(&vm);
    lapic_enable(&vm);
    chip = get_ioapic(&vm);
    chip.chip.ioapic.redirtbl[gsi].bits = 0;
    chip.chip.ioapic.redirtbl[gsi].fields.vector = vec;
    chip.chip.ioapic.redirtbl[gsi].fields.trig_mode = 1;
    g_assert_cmpint(kvm_vm_ioctl(vm.s, KVM_SET_IRQCHIP, &chip), ==, 0);
    g_assert_true(irqchip_add_irqfd(efd, rfd, gsi, &err));
    g_assert_no_error(err);
    kick(efd);
    wait_irr(&vm, vec);
    g_assert_true(get_ioapic(&vm).chip.ioapic.irr & (1u << gsi));

    kvm_irqchip_hold_irqfds(vm.s);
    g_assert_false(get_ioapic(&vm).chip.ioapic.irr & (1u << gsi));
    g_assert_false(efd_pending(rfd));
    kick(efd);
    g_assert_false(get_ioapic(&vm).chip.ioapic.irr & (1u << gsi));
    g_assert_true(efd_pending(efd));

    kvm_irqchip_attach_irqfds(vm.s);
    wait_ioapic_irr(&vm, gsi); /* a level injects from a work item */
    g_assert_cmpint(read(rfd, &cnt, sizeof(cnt)), ==, sizeof(cnt));
    g_assert_cmpuint(cnt, ==, 1);

    irqchip_remove_irqfd(efd, gsi);
    close(efd);
    close(rfd);
    vm_close(&vm);
}

/* Exit 77 (skip) with the reason when this host cannot run the cases. */
static void check_host(void)
{
    static const struct {
        int cap;
        const char *name;
    } caps[] = {
        {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
        {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
        {KVM_CAP_IRQFD_RESAMPLE, "KVM_CAP_IRQFD_RESAMPLE"},
        {KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"},
    };
    const AccelOps *kvm = accel_find("kvm");
    GError *err = NULL;

    if (access("/dev/kvm", R_OK | W_OK) < 0) {
        printf("SKIP: no usable /dev/kvm on this host\n");
        exit(77);
    }
    if (!kvm->available(&err)) {
        printf("SKIP: %s\n", err->message);
        exit(77);
    }
    for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
        if (!kvm_cap(kvm_state(), caps[i].cap)) {
            printf("SKIP: kvm does not support %s\n", caps[i].name);
            exit(77);
        }
    }
    accel_set_current(kvm);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    check_host();
    g_test_add_func("/kvm/irqchip/msi-irqfd", test_msi_irqfd);
    g_test_add_func("/kvm/irqchip/signal-msi", test_signal_msi);
    g_test_add_func("/kvm/irqchip/resample", test_resample);
    g_test_add_func("/kvm/irqchip/hold", test_hold);
    g_test_add_func("/kvm/irqchip/hold-resample", test_hold_resample);
    return g_test_run();
}
