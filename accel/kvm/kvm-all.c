/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The KVM accelerator's VM side: /dev/kvm and capability probing, the ioctl
 * wrappers, VM creation, and the AccelOps/"kvm-accel" registration. Memory
 * slots, ioeventfds and dirty logging are memory listeners in kvm-mem.c;
 * the irqchip, GSI routing, irqfds and MSIs are kvm-irqchip.c's; vCPU
 * threads live in kvm-cpu.c, register state in kvm-state.c, exit dispatch
 * in kvm-exit.c.
 */
#include "util/osdep.h"

#include <sys/ioctl.h>

#include "hw/core/machine.h"
#include "hw/core/object.h"
#include "migration/cpr.h"
#include "system/cpus.h"
#include "system/memory.h"
#include "util/error-report.h"
#include "util/fault-inject.h"

#include "kvm-internal.h"
#include "trace.h"

#define KVM_API_VERSION_EXPECTED 12

typedef struct KVMCapInfo {
    const char *name;
    int cap;
    bool required;
} KVMCapInfo;

/*
 * Every capability baton looks at, probed once when /dev/kvm is opened.
 * Required ones fail init() with KVMMissingCap; the others only switch
 * optional state (debug registers, XCRs...) on or off.
 */
static const KVMCapInfo kvm_cap_table[] = {
    {"KVM_CAP_USER_MEMORY", KVM_CAP_USER_MEMORY, true},
    {"KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP, true},
    {"KVM_CAP_PIT2", KVM_CAP_PIT2, true},
    {"KVM_CAP_SET_TSS_ADDR", KVM_CAP_SET_TSS_ADDR, true},
    {"KVM_CAP_EXT_CPUID", KVM_CAP_EXT_CPUID, true},
    {"KVM_CAP_MP_STATE", KVM_CAP_MP_STATE, true},
    {"KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT, true},
    {"KVM_CAP_SET_IDENTITY_MAP_ADDR", KVM_CAP_SET_IDENTITY_MAP_ADDR, false},
    {"KVM_CAP_VCPU_EVENTS", KVM_CAP_VCPU_EVENTS, false},
    {"KVM_CAP_DEBUGREGS", KVM_CAP_DEBUGREGS, false},
    {"KVM_CAP_XSAVE", KVM_CAP_XSAVE, false},
    {"KVM_CAP_XCRS", KVM_CAP_XCRS, false},
    {"KVM_CAP_NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS, false},
    {"KVM_CAP_NR_VCPUS", KVM_CAP_NR_VCPUS, false},
    {"KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS, false},
    {"KVM_CAP_IOEVENTFD", KVM_CAP_IOEVENTFD, false},
    {"KVM_CAP_READONLY_MEM", KVM_CAP_READONLY_MEM, false},
    {"KVM_CAP_IRQ_ROUTING", KVM_CAP_IRQ_ROUTING, false},
    {"KVM_CAP_IRQFD", KVM_CAP_IRQFD, false},
    {"KVM_CAP_IRQFD_RESAMPLE", KVM_CAP_IRQFD_RESAMPLE, false},
    {"KVM_CAP_SIGNAL_MSI", KVM_CAP_SIGNAL_MSI, false},
};

static KVMState kvm_global = {
    .fd = -1,
    .vm_fd = -1,
};

KVMState *kvm_state(void)
{
    return &kvm_global;
}

/* ---- ioctl wrappers ---- */

/*
 * The only ioctl() calls on KVM fds in baton (STYLE.md 2.6), each traced
 * with its result once it returned. The request's name is looked up only
 * while the event is enabled.
 */
static int kvm_do_ioctl(int fd, unsigned long req, void *arg)
{
    int ret = ioctl(fd, req, arg);

    return ret < 0 ? -errno : ret;
}

int kvm_ioctl(KVMState *s, unsigned long req, void *arg)
{
    int ret = kvm_do_ioctl(s->fd, req, arg);

    if (trace_event_get_state(TRACE_KVM_IOCTL)) {
        trace_kvm_ioctl(req, kvm_ioctl_name(req), ret);
    }
    return ret;
}

int kvm_vm_ioctl(KVMState *s, unsigned long req, void *arg)
{
    int ret = kvm_do_ioctl(s->vm_fd, req, arg);

    if (trace_event_get_state(TRACE_KVM_VM_IOCTL)) {
        trace_kvm_vm_ioctl(req, kvm_ioctl_name(req), ret);
    }
    return ret;
}

int kvm_vcpu_ioctl(KVMCPU *kcpu, unsigned long req, void *arg)
{
    int ret = kvm_do_ioctl(kcpu->fd, req, arg);

    if (trace_event_get_state(TRACE_KVM_VCPU_IOCTL)) {
        trace_kvm_vcpu_ioctl(kcpu->index, req, kvm_ioctl_name(req), ret);
    }
    return ret;
}

/* ---- /dev/kvm and capabilities ---- */

int kvm_cap(KVMState *s, int cap)
{
    for (size_t i = 0; i < ARRAY_SIZE(kvm_cap_table); i++) {
        if (kvm_cap_table[i].cap == cap) {
            return s->cap_values ? s->cap_values[i] : 0;
        }
    }
    /* Capabilities are probed once: add new ones to kvm_cap_table. */
    g_assert_not_reached();
}

static void kvm_probe_caps(KVMState *s)
{
    s->cap_values = g_new0(int, ARRAY_SIZE(kvm_cap_table));
    for (size_t i = 0; i < ARRAY_SIZE(kvm_cap_table); i++) {
        int ret =
            kvm_ioctl(s, KVM_CHECK_EXTENSION, KVM_ARG(kvm_cap_table[i].cap));

        s->cap_values[i] = ret > 0 ? ret : 0;
    }
}

static bool kvm_check_required_caps(KVMState *s, GError **errp)
{
    for (size_t i = 0; i < ARRAY_SIZE(kvm_cap_table); i++) {
        if (kvm_cap_table[i].required && !s->cap_values[i]) {
            g_set_error(errp, BATON_ERROR, BATON_ERROR_KVM_MISSING_CAP,
                        "kvm does not support %s", kvm_cap_table[i].name);
            return false;
        }
    }
    return true;
}

/* Open /dev/kvm once and check the API version (QEMU's messages). */
static bool kvm_open(KVMState *s, GError **errp)
{
    int fd, ret;

    if (s->fd >= 0) {
        return true;
    }
    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not access KVM kernel module");
        return false;
    }
    s->fd = fd;
    ret = kvm_ioctl(s, KVM_GET_API_VERSION, NULL);
    if (ret != KVM_API_VERSION_EXPECTED) {
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM_GET_API_VERSION failed");
        } else {
            error_setg(errp,
                       "kvm API version %d is not supported "
                       "(baton needs %d)",
                       ret, KVM_API_VERSION_EXPECTED);
        }
        close(fd);
        s->fd = -1;
        return false;
    }
    kvm_probe_caps(s);
    return true;
}

static bool kvm_accel_available(GError **errp)
{
    return kvm_open(kvm_state(), errp);
}

/* ---- VM ---- */

static bool kvm_check_irqchip_mode(const MachineState *ms, GError **errp)
{
    const char *mode = ms->kernel_irqchip ? ms->kernel_irqchip : "on";

    if (!strcmp(mode, "on")) {
        return true;
    }
    if (!strcmp(mode, "off") || !strcmp(mode, "split")) {
        error_setg(errp, "kernel-irqchip=%s is not supported", mode);
    } else {
        error_setg(errp,
                   "Parameter 'kernel-irqchip' does not accept "
                   "value '%s' (expected 'on', 'off' or 'split')",
                   mode);
    }
    return false;
}

static unsigned int kvm_max_vcpus(KVMState *s)
{
    int max = kvm_cap(s, KVM_CAP_MAX_VCPUS);

    if (!max) {
        max = kvm_cap(s, KVM_CAP_NR_VCPUS);
    }
    /* KVM's documented fallback when neither capability is reported. */
    return max > 0 ? (unsigned int)max : 4;
}

static bool kvm_create_vm(KVMState *s, GError **errp)
{
    uint64_t identity_map = KVM_IDENTITY_MAP_ADDR;
    int ret;

    ret = kvm_ioctl(s, KVM_GET_VCPU_MMAP_SIZE, NULL);
    if (ret < (int)sizeof(struct kvm_run)) {
        error_setg_errno(errp, ret < 0 ? -ret : EINVAL,
                         "KVM_GET_VCPU_MMAP_SIZE failed (%d)", ret);
        return false;
    }
    s->vcpu_mmap_size = ret;

    /* KVM_CREATE_VM can be interrupted while the kernel sets up the mm. */
    do {
        ret = kvm_ioctl(s, KVM_CREATE_VM, KVM_ARG(0));
    } while (ret == -EINTR);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_CREATE_VM failed");
        return false;
    }
    s->vm_fd = ret;

    /*
     * Intel needs three pages for the real-mode TSS and one for the EPT
     * identity map, both inside guest-physical space below 4 GiB and
     * outside RAM; QEMU's addresses sit just below the BIOS ROM.
     */
    ret = kvm_vm_ioctl(s, KVM_SET_TSS_ADDR, KVM_ARG(KVM_TSS_ADDR));
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_SET_TSS_ADDR(0x%llx) failed",
                         KVM_TSS_ADDR);
        return false;
    }
    if (kvm_cap(s, KVM_CAP_SET_IDENTITY_MAP_ADDR)) {
        ret = kvm_vm_ioctl(s, KVM_SET_IDENTITY_MAP_ADDR, &identity_map);
        if (ret < 0) {
            error_setg_errno(errp, -ret,
                             "KVM_SET_IDENTITY_MAP_ADDR(0x%llx) failed",
                             KVM_IDENTITY_MAP_ADDR);
            return false;
        }
    }
    return true;
}

/* KVM_GET_SUPPORTED_CPUID, growing the table until it fits. */
static bool kvm_get_supported_cpuid(KVMState *s, GError **errp)
{
    for (uint32_t nent = 256; nent <= 4096; nent *= 2) {
        struct kvm_cpuid2 *cpuid =
            g_malloc0(sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
        int ret;

        cpuid->nent = nent;
        ret = kvm_ioctl(s, KVM_GET_SUPPORTED_CPUID, cpuid);
        if (ret == 0) {
            s->supported_cpuid = cpuid;
            return true;
        }
        g_free(cpuid);
        if (ret != -E2BIG) {
            error_setg_errno(errp, -ret, "KVM_GET_SUPPORTED_CPUID failed");
            return false;
        }
    }
    error_setg(errp, "KVM_GET_SUPPORTED_CPUID returns more than 4096 entries");
    return false;
}

/*
 * The VM fd's last close: the kernel tears the VM down right there
 * (kvm_destroy_vm: the PIT's SRCU and the MMU notifier's RCU grace
 * periods among others), up to seconds on a loaded host. The vCPU fds
 * were closed before, so this close is the last. It needs nothing of
 * baton's and takes no lock.
 */
static gpointer kvm_vm_close_thread(gpointer opaque)
{
    int fd = GPOINTER_TO_INT(opaque);

    /* Tests hold it here to show the monitor answers meanwhile. */
    fault_inject_hold("kvm-vm-close");
    trace_kvm_vm_close(fd, "closing");
    close(fd);
    trace_kvm_vm_close(fd, "closed");
    return NULL;
}

/*
 * Release the VM fd: from here no VM ioctl (vm_fd -1). The close runs on
 * a thread of its own; WAIT: until it is done (also one released earlier
 * without waiting).
 */
static void kvm_vm_release(KVMState *s, bool wait)
{
    if (s->vm_fd >= 0) {
        g_assert(!s->vm_closer);
        s->vm_closer = g_thread_new("kvm-vm-close", kvm_vm_close_thread,
                                    GINT_TO_POINTER(s->vm_fd));
        s->vm_fd = -1;
    }
    if (wait && s->vm_closer) {
        /* The thread takes no lock: joining with the big lock is safe. */
        g_thread_join(s->vm_closer);
        s->vm_closer = NULL;
    }
}

static void kvm_accel_cleanup(bool wait)
{
    KVMState *s = kvm_state();

    kvm_migration_cleanup(s); /* its sections point at the vCPUs */
    kvm_cpus_destroy(s);
    kvm_vm_release(s, wait);
    kvm_memory_cleanup(s); /* after the release: no slot ioctls */
    kvm_irqchip_cleanup(s);
    g_clear_pointer(&s->supported_cpuid, g_free);
    g_clear_pointer(&s->cap_values, g_free);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

static bool kvm_accel_init(MachineState *ms, GError **errp)
{
    KVMState *s = kvm_state();
    unsigned int ncpus = ms->smp_cpus ? ms->smp_cpus : 1;

    g_assert(s->vm_fd < 0);
    if (!kvm_open(s, errp) || !kvm_check_required_caps(s, errp) ||
        !kvm_check_irqchip_mode(ms, errp)) {
        return false;
    }
    if (ncpus > kvm_max_vcpus(s)) {
        error_setg(errp,
                   "Number of SMP cpus requested (%u) exceeds the "
                   "maximum cpus supported by KVM (%u)",
                   ncpus, kvm_max_vcpus(s));
        return false;
    }
    if (!kvm_create_vm(s, errp) || !kvm_memory_init(s, errp) ||
        !kvm_irqchip_create(s, errp) || !kvm_get_supported_cpuid(s, errp) ||
        !kvm_cpus_create(s, ncpus, errp) || !kvm_migration_init(s, errp)) {
        kvm_accel_cleanup(true);
        return false;
    }
    return true;
}

/* ---- AccelOps glue ---- */

static void kvm_accel_pause_all(void)
{
    kvm_cpus_pause(kvm_state());
    /* Before anything reads a LAPIC or the IOAPIC (a save, a dump). */
    kvm_irqchip_hold_irqfds(kvm_state());
    kvm_migration_vm_stopped(kvm_state()); /* kvmclock, TSC: kvm-migration.c */
}

static void kvm_accel_resume_all(void)
{
    kvm_migration_vm_resuming(kvm_state()); /* before any vCPU runs */
    /*
     * Routes added while stopped (device post_load after a live update)
     * reach the kernel before the guest can raise them; a no-op when
     * their owners committed already.
     */
    kvm_irqchip_ops.commit_routes();
    /* After the loaded LAPICs and IOAPIC, on the committed routes. */
    kvm_irqchip_attach_irqfds(kvm_state());
    kvm_cpus_resume(kvm_state());
}

static void kvm_accel_reset_all(MachineState *ms)
{
    kvm_cpus_reset(kvm_state(), ms);
}

static char *kvm_accel_dump_registers(CPUState *cpu)
{
    if (!cpu || !cpu->accel) {
        return NULL;
    }
    return kvm_cpu_dump_registers(cpu->accel);
}

static const AccelOps kvm_accel_ops = {
    .name = "kvm",
    .available = kvm_accel_available,
    .init = kvm_accel_init,
    .resume_all = kvm_accel_resume_all,
    .pause_all = kvm_accel_pause_all,
    .reset_all = kvm_accel_reset_all,
    .irqchip = &kvm_irqchip_ops,
    .dump_registers = kvm_accel_dump_registers,
    .cleanup = kvm_accel_cleanup,
};

static void kvm_accel_class_init(ObjectClass *oc, const void *data)
{
    /*
     * A KVM VM belongs to the process that created it: the new process
     * makes its own and loads vCPU and irqchip state from the main channel.
     */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "KVM accelerator";
}

static const TypeInfo kvm_accel_type = {
    .name = "kvm-accel",
    .parent = TYPE_ACCEL,
    .class_init = kvm_accel_class_init,
};

static void kvm_accel_register(void)
{
    accel_register(&kvm_accel_ops);
    type_register(&kvm_accel_type);
}

type_init(kvm_accel_register)
