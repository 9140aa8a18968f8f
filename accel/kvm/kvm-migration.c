/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The machine state that KVM holds, as vmstate sections: one "cpu" section
 * per vCPU (registers, XSAVE, XCR0, MSRs, local APIC, events, MP state,
 * debug registers), the in-kernel PIC and IOAPIC ("kvm-irqchip"), the PIT
 * ("kvm-pit") and the kvmclock ("kvmclock"). Guest RAM is migration/ram.c's;
 * device models describe their own state in their TypeInfo.
 */
#include "util/osdep.h"

#include "migration/register.h"
#include "migration/vmstate.h"
#include "util/error-report.h"
#include "util/fault-inject.h"

#include "kvm-internal.h"

/* Architectural MSRs (Intel SDM vol. 4) and KVM's paravirtual ones. */
#define MSR_IA32_TSC 0x10
#define MSR_KVM_WALL_CLOCK 0x11
#define MSR_KVM_SYSTEM_TIME 0x12
#define MSR_IA32_TSC_ADJUST 0x3b
#define MSR_IA32_SPEC_CTRL 0x48
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_CR_PAT 0x277
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_IA32_XSS 0xda0
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define MSR_KVM_ASYNC_PF_EN 0x4b564d02
#define MSR_KVM_STEAL_TIME 0x4b564d03
#define MSR_KVM_PV_EOI_EN 0x4b564d04
#define MSR_KVM_POLL_CONTROL 0x4b564d05
#define MSR_KVM_ASYNC_PF_INT 0x4b564d06

/*
 * The MSRs a "cpu" section may carry, in the order they are written back.
 * EFER and the APIC base travel in sregs. Of these, only the ones that
 * KVM_GET_MSR_INDEX_LIST reports are saved. ASYNC_PF_INT (the vector)
 * precedes ASYNC_PF_EN, the order guests use, since enabling may deliver
 * wake-ups at once. TSC_DEADLINE is written separately, after the local
 * APIC: KVM ignores it unless the APIC timer is in TSC-deadline mode.
 * The TSC is written as a value (KVM turns it into an offset). There is no
 * TSC scaling: this host's KVM has no KVM_CAP_TSC_CONTROL and baton never
 * calls KVM_SET_TSC_KHZ, so the guest TSC runs at the destination host's
 * rate; the section carries the source rate and a mismatch is reported.
 */
static const uint32_t kvm_mig_msr_table[] = {
    MSR_IA32_SYSENTER_CS,
    MSR_IA32_SYSENTER_ESP,
    MSR_IA32_SYSENTER_EIP,
    MSR_STAR,
    MSR_LSTAR,
    MSR_CSTAR,
    MSR_SYSCALL_MASK,
    MSR_KERNEL_GS_BASE,
    MSR_TSC_AUX,
    MSR_IA32_CR_PAT,
    MSR_IA32_MISC_ENABLE,
    MSR_IA32_SPEC_CTRL,
    MSR_IA32_XSS,
    MSR_IA32_TSC_ADJUST,
    MSR_IA32_TSC,
    MSR_KVM_WALL_CLOCK,
    MSR_KVM_SYSTEM_TIME,
    MSR_KVM_WALL_CLOCK_NEW,
    MSR_KVM_SYSTEM_TIME_NEW,
    MSR_KVM_ASYNC_PF_INT,
    MSR_KVM_ASYNC_PF_EN,
    MSR_KVM_STEAL_TIME,
    MSR_KVM_PV_EOI_EN,
    MSR_KVM_POLL_CONTROL,
    MSR_IA32_TSC_DEADLINE,
};

G_STATIC_ASSERT(G_N_ELEMENTS(kvm_mig_msr_table) <= KVM_MIG_MAX_MSRS);
/* kvm_sregs and kvm_sregs2 agree up to apic_base (KVM's API document). */
G_STATIC_ASSERT(offsetof(struct kvm_sregs, interrupt_bitmap) ==
                offsetof(struct kvm_sregs2, flags));

#define KVM_IRQCHIP_DATA_SIZE sizeof(((struct kvm_irqchip *)0)->chip)
#define KVM_EVENTS_KNOWN_FLAGS                                           \
    (KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | \
     KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM |              \
     KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT)
#define KVM_PIT_KNOWN_FLAGS \
    (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)
#define KVM_CLOCK_KNOWN_FLAGS \
    (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)

typedef struct KVMMigCPU {
    KVMCPUMigState st;

    /* runtime only */
    KVMCPU *kcpu;
    /* KVM_GET_TSC_KHZ, read once at init (constant: no TSC scaling). */
    int tsc_khz;
    /*
     * The get or put running on the vCPU's thread and its result: ERR is
     * set iff it failed. PUT_PENDING: a put was started and not yet
     * collected by kvm_mig_put_finish().
     */
    KVMWork work;
    GError *err;
    bool put_pending;
    char *fault_point; /* "cpu-load-N": a test fails this vCPU's load */
    bool fail_put;     /* ...and this one does (decided with the BQL) */
    /*
     * Destination: what KVM held for this vCPU when the load began, read
     * then on its thread (PREP_WORK, outside the pause). The put skips
     * what the stream would only write again, if KNOWN_GEN is still the
     * vCPU's state_gen (it has not run nor been reset since). KNOWN and
     * its flags belong to whoever puts (the vCPU thread, or the loading
     * thread after kvm_mig_prep_wait()); PREP_STARTED to the thread that
     * holds the big lock.
     */
    KVMCPUMigState *known;
    bool known_valid;
    uint64_t known_gen;
    KVMWork prep_work;
    bool prep_started;
} KVMMigCPU;

/* KVM_GET_IRQCHIP's three chips, chip data only (chip_id is implied). */
typedef struct KVMMigIrqchip {
    uint8_t pic_master[KVM_IRQCHIP_DATA_SIZE];
    uint8_t pic_slave[KVM_IRQCHIP_DATA_SIZE];
    uint8_t ioapic[KVM_IRQCHIP_DATA_SIZE];
} KVMMigIrqchip;

typedef struct KVMMigPit {
    uint8_t state[sizeof(struct kvm_pit_state2)];
} KVMMigPit;

typedef struct KVMMigClock {
    uint64_t clock; /* KVM_GET_CLOCK's ns */
    uint32_t flags;

    /* runtime only: clock holds the value read when the VM last stopped */
    bool valid;
} KVMMigClock;

/* Everything for the one VM: capabilities, MSR list, section objects. */
typedef struct KVMMigVM {
    KVMState *s;
    uint32_t msrs[G_N_ELEMENTS(kvm_mig_msr_table)]; /* supported, in order */
    unsigned int nmsrs;
    int xsave_size; /* KVM_CAP_XSAVE2 size; 0: KVM_GET_XSAVE's 4096 bytes */
    bool has_sregs2;
    bool has_sync_regs; /* KVM_CAP_SYNC_REGS covers regs, sregs, events */
    bool has_tsc_control;
    bool has_clock;
    KVMMigCPU **cpus;
    unsigned int ncpus;
    /* Save: the "cpu" section whose state the last batch fetched next. */
    unsigned int save_next;
    KVMMigIrqchip irqchip;
    KVMMigPit pit;
    KVMMigClock clock;
} KVMMigVM;

static KVMMigVM *kvm_mig;

/* ---- the snapshot's description ---- */

static const VMStateField kvm_vmstate_msr_fields[] = {
    VMSTATE_UINT32(index, KVMMigMsr),
    VMSTATE_UINT64(data, KVMMigMsr),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription kvm_vmstate_msr = {
    .name = "msr",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kvm_vmstate_msr_fields,
};

static const VMStateField kvm_vmstate_cpu_state_fields[] = {
    VMSTATE_BUFFER(regs, KVMCPUMigState, sizeof(struct kvm_regs)),
    VMSTATE_BUFFER(sregs, KVMCPUMigState, sizeof(struct kvm_sregs2)),
    VMSTATE_UINT8_VARRAY(xsave, KVMCPUMigState, xsave_len, KVM_MIG_XSAVE_MAX),
    VMSTATE_UINT8_VARRAY(fpu, KVMCPUMigState, fpu_len, sizeof(struct kvm_fpu)),
    VMSTATE_BOOL(has_xcrs, KVMCPUMigState),
    VMSTATE_UINT64(xcr0, KVMCPUMigState),
    VMSTATE_STRUCT_VARRAY(msrs, KVMCPUMigState, nmsrs, KVM_MIG_MAX_MSRS,
                          kvm_vmstate_msr, KVMMigMsr),
    VMSTATE_BUFFER(lapic, KVMCPUMigState, sizeof(struct kvm_lapic_state)),
    VMSTATE_BOOL(has_events, KVMCPUMigState),
    VMSTATE_BUFFER(events, KVMCPUMigState, sizeof(struct kvm_vcpu_events)),
    VMSTATE_UINT32(mp_state, KVMCPUMigState),
    VMSTATE_BOOL(has_debugregs, KVMCPUMigState),
    VMSTATE_BUFFER(debugregs, KVMCPUMigState, sizeof(struct kvm_debugregs)),
    VMSTATE_UINT32(tsc_khz, KVMCPUMigState),
    VMSTATE_END_OF_LIST(),
};

const VMStateDescription kvm_vmstate_cpu_state = {
    .name = "state",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = kvm_vmstate_cpu_state_fields,
};

static bool kvm_mig_msr_known(uint32_t index)
{
    for (size_t i = 0; i < G_N_ELEMENTS(kvm_mig_msr_table); i++) {
        if (kvm_mig_msr_table[i] == index) {
            return true;
        }
    }
    return false;
}

static bool kvm_cpu_mig_check_msrs(const KVMCPUMigState *st, GError **errp)
{
    for (uint32_t i = 0; i < st->nmsrs; i++) {
        uint32_t msr = st->msrs[i].index;

        if (!kvm_mig_msr_known(msr)) {
            error_setg(errp, "field 'msrs': MSR 0x%" PRIx32 " is unknown", msr);
            return false;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (st->msrs[j].index == msr) {
                error_setg(
                    errp, "field 'msrs': MSR 0x%" PRIx32 " appears twice", msr);
                return false;
            }
        }
    }
    return true;
}

bool kvm_cpu_mig_state_check(const KVMCPUMigState *st, GError **errp)
{
    struct kvm_sregs2 sregs;
    struct kvm_vcpu_events events;
    struct kvm_debugregs dregs;

    memcpy(&sregs, st->sregs, sizeof(sregs));
    memcpy(&events, st->events, sizeof(events));
    memcpy(&dregs, st->debugregs, sizeof(dregs));
    if (st->xsave_len && st->xsave_len < sizeof(struct kvm_xsave)) {
        error_setg(errp,
                   "field 'xsave': %" PRIu32 " bytes is shorter "
                   "than the %zu-byte XSAVE area",
                   st->xsave_len, sizeof(struct kvm_xsave));
        return false;
    }
    if (!st->xsave_len == !st->fpu_len ||
        (st->fpu_len && st->fpu_len != sizeof(struct kvm_fpu))) {
        error_setg(errp,
                   "field 'fpu': %" PRIu32 " bytes with %" PRIu32
                   " bytes of XSAVE (need either an XSAVE area or the "
                   "%zu-byte FPU state)",
                   st->fpu_len, st->xsave_len, sizeof(struct kvm_fpu));
        return false;
    }
    if (st->has_xcrs && !st->xsave_len) {
        error_setg(errp, "field 'xcr0': XCR0 without an XSAVE area");
        return false;
    }
    if (sregs.flags & ~(uint64_t)KVM_SREGS2_FLAGS_PDPTRS_VALID) {
        error_setg(errp, "field 'sregs': unknown flags 0x%" PRIx64,
                   (uint64_t)sregs.flags);
        return false;
    }
    if (st->has_events && (events.flags & ~KVM_EVENTS_KNOWN_FLAGS)) {
        error_setg(errp, "field 'events': unknown flags 0x%" PRIx32,
                   (uint32_t)events.flags);
        return false;
    }
    if (st->has_debugregs && dregs.flags) {
        error_setg(errp, "field 'debugregs': unknown flags 0x%" PRIx64,
                   (uint64_t)dregs.flags);
        return false;
    }
    return kvm_cpu_mig_check_msrs(st, errp);
}

/* ---- vCPU state: get (pre_save) ---- */

static bool kvm_mig_vcpu_call(KVMCPU *kcpu, unsigned long req, const char *name,
                              void *arg, GError **errp)
{
    int ret = kvm_vcpu_ioctl(kcpu, req, arg);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "%s failed for CPU %u", name, kcpu->index);
        return false;
    }
    return true;
}

#define KVM_MIG_CALL(kcpu, req, arg, errp) \
    kvm_mig_vcpu_call((kcpu), (req), #req, (arg), (errp))

static bool kvm_mig_check_xsave_size(KVMCPU *kcpu, GError **errp)
{
    if (kvm_mig->xsave_size > KVM_MIG_XSAVE_MAX) {
        error_setg(errp,
                   "CPU %u: the XSAVE area of %d bytes exceeds the %d "
                   "bytes a cpu section carries",
                   kcpu->index, kvm_mig->xsave_size, KVM_MIG_XSAVE_MAX);
        return false;
    }
    return true;
}

static bool kvm_mig_get_sregs(KVMCPU *kcpu, KVMCPUMigState *st, GError **errp)
{
    struct kvm_sregs2 sregs2 = {0};
    struct kvm_sregs sregs;

    if (kvm_mig->has_sregs2) {
        if (!KVM_MIG_CALL(kcpu, KVM_GET_SREGS2, &sregs2, errp)) {
            return false;
        }
    } else {
        if (!KVM_MIG_CALL(kcpu, KVM_GET_SREGS, &sregs, errp)) {
            return false;
        }
        /* The interrupt bitmap's vector is in the events as well. */
        memcpy(&sregs2, &sregs, offsetof(struct kvm_sregs, interrupt_bitmap));
    }
    memcpy(st->sregs, &sregs2, sizeof(sregs2));
    return true;
}

static bool kvm_mig_get_fpu(KVMCPU *kcpu, KVMCPUMigState *st, GError **errp)
{
    KVMState *s = kcpu->s;
    struct kvm_xcrs xcrs = {0};

    st->xsave_len = 0;
    st->fpu_len = 0;
    st->has_xcrs = false;
    st->xcr0 = 0;
    if (!kvm_cap(s, KVM_CAP_XSAVE)) {
        st->fpu_len = sizeof(struct kvm_fpu);
        return KVM_MIG_CALL(kcpu, KVM_GET_FPU, st->fpu, errp);
    }
    if (kvm_mig->xsave_size) {
        /* KVM writes its whole (possibly > 4 KiB) area: st->xsave fits it. */
        if (!kvm_mig_check_xsave_size(kcpu, errp) ||
            !KVM_MIG_CALL(kcpu, KVM_GET_XSAVE2, st->xsave, errp)) {
            return false;
        }
        st->xsave_len = kvm_mig->xsave_size;
    } else {
        if (!KVM_MIG_CALL(kcpu, KVM_GET_XSAVE, st->xsave, errp)) {
            return false;
        }
        st->xsave_len = sizeof(struct kvm_xsave);
    }
    if (!kvm_cap(s, KVM_CAP_XCRS)) {
        return true;
    }
    if (!KVM_MIG_CALL(kcpu, KVM_GET_XCRS, &xcrs, errp)) {
        return false;
    }
    /* KVM knows XCR0 only. */
    for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
        if (xcrs.xcrs[i].xcr == 0) {
            st->has_xcrs = true;
            st->xcr0 = xcrs.xcrs[i].value;
        }
    }
    return true;
}

static bool kvm_mig_get_msrs(KVMCPU *kcpu, KVMCPUMigState *st, GError **errp)
{
    unsigned int n = kvm_mig->nmsrs;
    g_autofree struct kvm_msrs *msrs =
        g_malloc0(sizeof(*msrs) + n * sizeof(msrs->entries[0]));
    int ret;

    msrs->nmsrs = n;
    for (unsigned int i = 0; i < n; i++) {
        msrs->entries[i].index = kvm_mig->msrs[i];
    }
    ret = kvm_vcpu_ioctl(kcpu, KVM_GET_MSRS, msrs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_GET_MSRS failed for CPU %u",
                         kcpu->index);
        return false;
    }
    if ((unsigned int)ret < n) {
        /* KVM stops at the first MSR it refuses, though it listed it. */
        error_setg(errp, "KVM_GET_MSRS refused MSR 0x%x for CPU %u",
                   kvm_mig->msrs[ret], kcpu->index);
        return false;
    }
    st->nmsrs = n;
    for (unsigned int i = 0; i < n; i++) {
        st->msrs[i].index = msrs->entries[i].index;
        st->msrs[i].data = msrs->entries[i].data;
    }
    return true;
}

#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PAE (1ull << 5)
#define X86_EFER_LMA (1ull << 10)

/*
 * KVM_CAP_SYNC_REGS: a KVM_RUN that returns at once (immediate_exit)
 * copies the general and special registers and the events into kvm_run
 * on its way out (KVM's api.rst, kvm_valid_regs): one ioctl instead of
 * three, each of which costs a vcpu_load. The guest does not run, and
 * nothing is half done at the safe point this runs at. kvm_sregs has no
 * PDPTRs: with PAE paging outside long mode, or if the run does not
 * return -EINTR, false, and the caller reads them with the ioctls.
 */
static bool kvm_mig_get_synced(KVMCPU *kcpu, KVMCPUMigState *st)
{
    struct kvm_run *run = kcpu->run;
    const struct kvm_sregs *sr = &run->s.regs.sregs;
    struct kvm_sregs2 sregs2 = {0};
    int ret;

    if (!kvm_mig->has_sync_regs || !kvm_cap(kcpu->s, KVM_CAP_VCPU_EVENTS)) {
        return false;
    }
    run->kvm_dirty_regs = 0;
    run->kvm_valid_regs = KVM_SYNC_X86_VALID_FIELDS;
    /* Left set: the run loop clears it under its lock before it runs. */
    __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELEASE);
    ret = kvm_vcpu_ioctl(kcpu, KVM_RUN, NULL);
    run->kvm_valid_regs = 0;
    if (ret != -EINTR) {
        return false;
    }
    if (kvm_mig->has_sregs2 && (sr->cr0 & X86_CR0_PG) &&
        (sr->cr4 & X86_CR4_PAE) && !(sr->efer & X86_EFER_LMA)) {
        return false;
    }
    memcpy(st->regs, &run->s.regs.regs, sizeof(st->regs));
    /* As kvm_mig_get_sregs() converts: the bitmap is in the events. */
    memcpy(&sregs2, sr, offsetof(struct kvm_sregs, interrupt_bitmap));
    memcpy(st->sregs, &sregs2, sizeof(sregs2));
    memcpy(st->events, &run->s.regs.events, sizeof(st->events));
    return true;
}

/*
 * Read ST from KVM on the vCPU's thread; SYNC: by KVM_CAP_SYNC_REGS where
 * it can. The MP state goes first: reading it makes KVM take a pending
 * INIT or SIPI, which changes the registers read after it.
 */
static bool kvm_mig_read_cpu(KVMMigCPU *mc, KVMCPUMigState *st, bool sync,
                             GError **errp)
{
    KVMCPU *kcpu = mc->kcpu;
    KVMState *s = kcpu->s;
    struct kvm_mp_state mp;
    bool synced;

    memset(st, 0, sizeof(*st));
    if (!KVM_MIG_CALL(kcpu, KVM_GET_MP_STATE, &mp, errp)) {
        return false;
    }
    st->mp_state = mp.mp_state;
    synced = sync && kvm_mig_get_synced(kcpu, st);
    if ((!synced && (!KVM_MIG_CALL(kcpu, KVM_GET_REGS, st->regs, errp) ||
                     !kvm_mig_get_sregs(kcpu, st, errp))) ||
        !kvm_mig_get_fpu(kcpu, st, errp) || !kvm_mig_get_msrs(kcpu, st, errp) ||
        (s->irqchip_in_kernel &&
         !KVM_MIG_CALL(kcpu, KVM_GET_LAPIC, st->lapic, errp))) {
        return false;
    }
    if (kvm_cap(s, KVM_CAP_VCPU_EVENTS)) {
        if (!synced &&
            !KVM_MIG_CALL(kcpu, KVM_GET_VCPU_EVENTS, st->events, errp)) {
            return false;
        }
        st->has_events = true;
    }
    if (kvm_cap(s, KVM_CAP_DEBUGREGS)) {
        if (!KVM_MIG_CALL(kcpu, KVM_GET_DEBUGREGS, st->debugregs, errp)) {
            return false;
        }
        st->has_debugregs = true;
    }
    st->tsc_khz = mc->tsc_khz > 0 ? (uint32_t)mc->tsc_khz : 0;
    return true;
}

/* The save, in the pause: as few ioctls as KVM allows. */
static bool kvm_mig_get_cpu(KVMMigCPU *mc, GError **errp)
{
    return kvm_mig_read_cpu(mc, &mc->st, true, errp);
}

/*
 * While the VM is stopped the host TSC runs on, but the guest should see
 * no time pass between the stop and the save (the final RAM pass happens
 * in between): save the value read at the stop, as QEMU does.
 */
static void kvm_mig_use_stop_tsc(KVMMigCPU *mc)
{
    if (!mc->kcpu->stop_tsc_valid) {
        return;
    }
    for (uint32_t i = 0; i < mc->st.nmsrs; i++) {
        if (mc->st.msrs[i].index == MSR_IA32_TSC) {
            mc->st.msrs[i].data = mc->kcpu->stop_tsc;
        }
    }
}

/* On the vCPU's thread, at its safe point (no exit half done). */
static void kvm_mig_get_work(KVMCPU *kcpu, void *opaque)
{
    KVMMigCPU *mc = opaque;

    if (kvm_mig_get_cpu(mc, &mc->err)) {
        kvm_mig_use_stop_tsc(mc);
    }
}

/*
 * The caller, which waits for the others anyway, reads one vCPU itself:
 * waking that vCPU's thread and being woken back costs more than the
 * ioctls (tens of microseconds each way on a busy host), and with one
 * vCPU it is all of the save's vCPU part. The vCPUs are stopped (parked
 * at their safe point) throughout a save, so no KVM_RUN competes; KVM
 * serializes vCPU ioctls anyway. Not by sync regs: KVM_RUN from another
 * thread than the vCPU's makes KVM wait for an RCU grace period.
 */
static void kvm_mig_get_here(KVMMigCPU *mc)
{
    mc->work = (KVMWork){0}; /* nothing for kvm_mig_work_wait() */
    g_clear_error(&mc->err);
    if (kvm_mig_read_cpu(mc, &mc->st, false, &mc->err)) {
        kvm_mig_use_stop_tsc(mc);
    }
}

/* Start FN(mc) on MC's vCPU thread; false (MC->err set) if it has none. */
static bool kvm_mig_work_start(KVMMigCPU *mc, KVMWorkFunc *fn)
{
    g_clear_error(&mc->err);
    mc->work = (KVMWork){.fn = fn, .opaque = mc};
    if (!kvm_cpu_work_start(mc->kcpu, &mc->work)) {
        error_setg(&mc->err, "CPU %u has no vCPU thread", mc->kcpu->index);
        return false;
    }
    return true;
}

/* Wait for the work of cpus[from..to) (those started). */
static void kvm_mig_work_wait(unsigned int from, unsigned int to)
{
    g_autofree KVMWork **works = g_new(KVMWork *, to - from);

    for (unsigned int i = from; i < to; i++) {
        works[i - from] = &kvm_mig->cpus[i]->work;
    }
    kvm_cpu_work_wait(kvm_mig->s, works, to - from);
}

/*
 * The "cpu" sections are saved one after another, but each vCPU's state
 * is read on its own thread: the first section's pre_save has every
 * vCPU from it on read its state at once, so that a host with a core per
 * vCPU pays one vCPU's ioctls, and each section then takes what its vCPU
 * read (or the error it met). The vCPUs are stopped throughout the save,
 * so nothing changes between a read and its section. save_next chains
 * the sections of one save: any other order reads again.
 */
static bool kvm_mig_cpu_pre_save(void *opaque, GError **errp)
{
    KVMMigCPU *mc = opaque;
    unsigned int idx = mc->kcpu->index;

    if (idx == 0 || kvm_mig->save_next != idx) {
        unsigned int last = kvm_mig->ncpus - 1;

        for (unsigned int i = idx; i < last; i++) {
            kvm_mig_work_start(kvm_mig->cpus[i], kvm_mig_get_work);
        }
        kvm_mig_get_here(kvm_mig->cpus[last]);
        kvm_mig_work_wait(idx, last);
    }
    kvm_mig->save_next = idx + 1;
    if (mc->err) {
        kvm_mig->save_next = 0;
        g_propagate_error(errp, g_steal_pointer(&mc->err));
        return false;
    }
    return true;
}

/* ---- vCPU state: put (post_load) ---- */

/* KNOWN (may be NULL) holds the same bytes as ST in FIELD. */
#define KVM_MIG_SAME(known, st, field) \
    ((known) && !memcmp((known)->field, (st)->field, sizeof((st)->field)))

static bool kvm_mig_put_sregs(KVMCPU *kcpu, const KVMCPUMigState *st,
                              GError **errp)
{
    struct kvm_sregs2 sregs2;
    struct kvm_sregs sregs = {0};

    memcpy(&sregs2, st->sregs, sizeof(sregs2));
    if (kvm_mig->has_sregs2) {
        return KVM_MIG_CALL(kcpu, KVM_SET_SREGS2, &sregs2, errp);
    }
    /*
     * Without SREGS2, KVM reloads the PAE PDPTRs from guest memory (RAM is
     * loaded before any vmstate section) and the events re-inject the
     * pending interrupt, so the bitmap stays empty.
     */
    memcpy(&sregs, &sregs2, offsetof(struct kvm_sregs, interrupt_bitmap));
    return KVM_MIG_CALL(kcpu, KVM_SET_SREGS, &sregs, errp);
}

/*
 * Write every MSR of ST in one KVM_SET_MSRS, in kvm_mig_msr_table's
 * order: KVM writes the entries in order, so the TSC precedes
 * TSC_DEADLINE (an absolute guest TSC value), which comes last.
 */
static bool kvm_mig_put_msrs(KVMCPU *kcpu, const KVMCPUMigState *st,
                             GError **errp)
{
    g_autofree struct kvm_msrs *msrs =
        g_malloc0(sizeof(*msrs) +
                  G_N_ELEMENTS(kvm_mig_msr_table) * sizeof(msrs->entries[0]));
    unsigned int n = 0;
    int ret;

    /* In kvm_mig_msr_table's order, whatever order the stream used. */
    for (size_t t = 0; t < G_N_ELEMENTS(kvm_mig_msr_table); t++) {
        uint32_t index = kvm_mig_msr_table[t];

        for (uint32_t i = 0; i < st->nmsrs; i++) {
            if (st->msrs[i].index == index) {
                msrs->entries[n].index = index;
                msrs->entries[n].data = st->msrs[i].data;
                n++;
                break;
            }
        }
    }
    if (!n) {
        return true;
    }
    msrs->nmsrs = n;
    ret = kvm_vcpu_ioctl(kcpu, KVM_SET_MSRS, msrs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_SET_MSRS failed for CPU %u",
                         kcpu->index);
        return false;
    }
    if ((unsigned int)ret < n) {
        error_setg(errp, "KVM_SET_MSRS refused MSR 0x%x = 0x%llx for CPU %u",
                   msrs->entries[ret].index,
                   (unsigned long long)msrs->entries[ret].data, kcpu->index);
        return false;
    }
    return true;
}

static bool kvm_mig_put_fpu(KVMCPU *kcpu, KVMCPUMigState *st,
                            const KVMCPUMigState *known, GError **errp)
{
    struct kvm_xcrs xcrs = {
        .nr_xcrs = 1,
        .xcrs[0] = {.xcr = 0, .value = st->xcr0},
    };

    if (!st->xsave_len) {
        if (known && known->fpu_len == st->fpu_len &&
            KVM_MIG_SAME(known, st, fpu)) {
            return true;
        }
        return KVM_MIG_CALL(kcpu, KVM_SET_FPU, st->fpu, errp);
    }
    /*
     * KVM_SET_XSAVE reads this host's whole area (<= KVM_MIG_XSAVE_MAX),
     * so a shorter source area is padded with zeroes. XSTATE_BV, in the
     * header the source always sends, says which components are present;
     * KVM refuses ones this host does not support.
     */
    memset(st->xsave + st->xsave_len, 0, KVM_MIG_XSAVE_MAX - st->xsave_len);
    /* KVM's area (what it read into KNOWN) is all KVM_SET_XSAVE reads. */
    if (!(known && known->xsave_len >= st->xsave_len &&
          !memcmp(known->xsave, st->xsave, known->xsave_len)) &&
        !KVM_MIG_CALL(kcpu, KVM_SET_XSAVE, st->xsave, errp)) {
        return false;
    }
    if (!st->has_xcrs ||
        (known && known->has_xcrs && known->xcr0 == st->xcr0)) {
        return true;
    }
    return KVM_MIG_CALL(kcpu, KVM_SET_XCRS, &xcrs, errp);
}

/*
 * Special registers first (EFER, CR0/CR4 and the APIC base decide how
 * the rest is read), then general registers, FPU/XSAVE and XCR0, the
 * local APIC (after the APIC base), the MSRs in one call (TSC_DEADLINE,
 * last of them, after the APIC timer mode: KVM ignores it otherwise),
 * events (SMM state before MP state), MP state, and debug registers last.
 * QEMU writes the other MSRs before the local APIC; none of them depends
 * on it (the APIC base travels in sregs), so one KVM_SET_MSRS does.
 *
 * With KNOWN, what KVM holds already (read before the load, nothing has
 * changed it since), a part whose bytes it has already is not written
 * again: for a vCPU parked since reset (an AP waiting for SIPI) most of
 * them; for a running one at least the debug registers and MP state.
 * The MSRs always go (the TSC moves on).
 */
static bool kvm_mig_put_cpu(KVMCPU *kcpu, KVMCPUMigState *st,
                            const KVMCPUMigState *known, GError **errp)
{
    KVMState *s = kcpu->s;
    struct kvm_mp_state mp = {.mp_state = st->mp_state};
    struct kvm_vcpu_events events;

    if ((!KVM_MIG_SAME(known, st, sregs) &&
         !kvm_mig_put_sregs(kcpu, st, errp)) ||
        (!KVM_MIG_SAME(known, st, regs) &&
         !KVM_MIG_CALL(kcpu, KVM_SET_REGS, st->regs, errp)) ||
        !kvm_mig_put_fpu(kcpu, st, known, errp) ||
        (s->irqchip_in_kernel && !KVM_MIG_SAME(known, st, lapic) &&
         !KVM_MIG_CALL(kcpu, KVM_SET_LAPIC, st->lapic, errp)) ||
        !kvm_mig_put_msrs(kcpu, st, errp)) {
        return false;
    }
    if (st->has_events &&
        !(known && known->has_events && KVM_MIG_SAME(known, st, events))) {
        memcpy(&events, st->events, sizeof(events));
        /* GET leaves these out; without them SET ignores NMI and SIPI. */
        events.flags |=
            KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
        if (!KVM_MIG_CALL(kcpu, KVM_SET_VCPU_EVENTS, &events, errp)) {
            return false;
        }
    }
    if (!(known && known->mp_state == st->mp_state) &&
        !KVM_MIG_CALL(kcpu, KVM_SET_MP_STATE, &mp, errp)) {
        return false;
    }
    if (!st->has_debugregs ||
        (known && known->has_debugregs && KVM_MIG_SAME(known, st, debugregs))) {
        return true;
    }
    return KVM_MIG_CALL(kcpu, KVM_SET_DEBUGREGS, st->debugregs, errp);
}

static void kvm_mig_put_work(KVMCPU *kcpu, void *opaque)
{
    KVMMigCPU *mc = opaque;
    const KVMCPUMigState *known =
        mc->known_valid && mc->known_gen == kcpu->state_gen ? mc->known : NULL;

    /* Whatever the put does, KVM's state is no longer the one read. */
    mc->known_valid = false;
    if (mc->fail_put) {
        error_setg(&mc->err, "CPU %u: fault injected at '%s'", kcpu->index,
                   mc->fault_point);
        return;
    }
    /* The TSC just written supersedes one read at a stop. */
    kcpu->stop_tsc_valid = false;
    kvm_mig_put_cpu(kcpu, &mc->st, known, &mc->err);
}

/* On the vCPU's thread, when a load begins: see KVMMigCPU.known. */
static void kvm_mig_read_known_work(KVMCPU *kcpu, void *opaque)
{
    KVMMigCPU *mc = opaque;
    g_autoptr(GError) err = NULL;

    if (!mc->known) {
        mc->known = g_new0(KVMCPUMigState, 1);
    }
    /* A failed read only means writing everything, as without it. */
    mc->known_valid = kvm_mig_read_cpu(mc, mc->known, false, &err);
    mc->known_gen = kcpu->state_gen;
}

/* Wait for a read started by kvm_mig_cpu_load_prepare() (main thread). */
static void kvm_mig_prep_wait(KVMMigCPU *mc)
{
    KVMWork *w = &mc->prep_work;

    if (mc->prep_started) {
        kvm_cpu_work_wait(kvm_mig->s, &w, 1);
        mc->prep_started = false;
    }
}

/*
 * A load begins: read what KVM holds for this vCPU now, on its thread
 * and without waiting (the put, queued behind it, finds it done).
 */
static void kvm_mig_cpu_load_prepare(void *opaque)
{
    KVMMigCPU *mc = opaque;

    kvm_mig_prep_wait(mc);
    mc->prep_work = (KVMWork){.fn = kvm_mig_read_known_work, .opaque = mc};
    mc->prep_started = kvm_cpu_work_start(mc->kcpu, &mc->prep_work);
}

static bool kvm_mig_msr_supported(uint32_t index)
{
    for (unsigned int i = 0; i < kvm_mig->nmsrs; i++) {
        if (kvm_mig->msrs[i] == index) {
            return true;
        }
    }
    return false;
}

/* What the snapshot needs from this host's KVM, before touching the vCPU. */
static bool kvm_mig_cpu_host_check(KVMMigCPU *mc, GError **errp)
{
    const KVMCPUMigState *st = &mc->st;
    KVMState *s = mc->kcpu->s;
    const char *field = NULL, *cap = NULL;

    if (st->xsave_len && !kvm_cap(s, KVM_CAP_XSAVE)) {
        field = "xsave";
        cap = "KVM_CAP_XSAVE";
    } else if (st->has_xcrs && !kvm_cap(s, KVM_CAP_XCRS)) {
        field = "xcr0";
        cap = "KVM_CAP_XCRS";
    } else if (st->has_events && !kvm_cap(s, KVM_CAP_VCPU_EVENTS)) {
        field = "events";
        cap = "KVM_CAP_VCPU_EVENTS";
    } else if (st->has_debugregs && !kvm_cap(s, KVM_CAP_DEBUGREGS)) {
        field = "debugregs";
        cap = "KVM_CAP_DEBUGREGS";
    }
    if (field) {
        error_setg(errp, "field '%s': this host's kvm lacks %s", field, cap);
        return false;
    }
    if (st->xsave_len && !kvm_mig_check_xsave_size(mc->kcpu, errp)) {
        return false;
    }
    for (uint32_t i = 0; i < st->nmsrs; i++) {
        if (!kvm_mig_msr_supported(st->msrs[i].index)) {
            error_setg(errp,
                       "field 'msrs': this host's kvm does not "
                       "support MSR 0x%" PRIx32,
                       st->msrs[i].index);
            return false;
        }
    }
    return true;
}

/*
 * Collect every put started and not yet collected; the first error, by
 * vCPU index, is the result. Called once every "cpu" section has been
 * loaded and before anything that must follow the vCPU state (the
 * irqchip, PIT and clock sections, the resume) or free it.
 */
static bool kvm_mig_put_finish(GError **errp)
{
    GError *first = NULL;

    kvm_mig_work_wait(0, kvm_mig->ncpus);
    for (unsigned int i = 0; i < kvm_mig->ncpus; i++) {
        KVMMigCPU *mc = kvm_mig->cpus[i];

        if (!mc->put_pending) {
            continue;
        }
        mc->put_pending = false;
        mc->work.fn = NULL;
        if (mc->err && !first) {
            first = g_steal_pointer(&mc->err);
        }
        g_clear_error(&mc->err);
        if (mc->st.tsc_khz && mc->tsc_khz > 0 &&
            (uint32_t)mc->tsc_khz != mc->st.tsc_khz &&
            !kvm_mig->has_tsc_control) {
            warn_report("CPU %u: guest TSC ran at %" PRIu32 " kHz on the "
                        "source, %d kHz here, and this host's kvm cannot "
                        "scale it",
                        i, mc->st.tsc_khz, mc->tsc_khz);
        }
    }
    if (first) {
        g_propagate_error(errp, first);
        return false;
    }
    return true;
}

/*
 * Each "cpu" section is checked here, then written into KVM on its
 * vCPU's thread without waiting, so that the vCPUs load in parallel
 * while the stream goes on; the section that completes the set waits for
 * all of them and fails if any did (the error names the CPU).
 */
static bool kvm_mig_cpu_post_load(void *opaque, int version_id, GError **errp)
{
    KVMMigCPU *mc = opaque;

    if (!kvm_cpu_mig_state_check(&mc->st, errp) ||
        !kvm_mig_cpu_host_check(mc, errp)) {
        return false;
    }
    mc->fail_put = fault_inject_fail(mc->fault_point);
    for (unsigned int i = 0; i < kvm_mig->ncpus; i++) {
        KVMMigCPU *other = kvm_mig->cpus[i];

        if (other != mc && !other->put_pending) {
            if (!kvm_mig_work_start(mc, kvm_mig_put_work)) {
                g_propagate_error(errp, g_steal_pointer(&mc->err));
                return false;
            }
            mc->put_pending = true;
            return true;
        }
    }
    /*
     * The last to arrive: this thread waits for the others anyway, so it
     * writes this one itself, as the save reads one (kvm_mig_get_here()),
     * once the read of what KVM held is done (on the vCPU's thread).
     */
    kvm_mig_prep_wait(mc);
    mc->work = (KVMWork){0};
    g_clear_error(&mc->err);
    kvm_mig_put_work(mc->kcpu, mc);
    mc->put_pending = true;
    return kvm_mig_put_finish(errp);
}

static const VMStateField kvm_vmstate_cpu_fields[] = {
    VMSTATE_STRUCT(st, KVMMigCPU, kvm_vmstate_cpu_state, KVMCPUMigState),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription kvm_vmstate_cpu = {
    .name = "cpu",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = kvm_mig_cpu_pre_save,
    .post_load = kvm_mig_cpu_post_load,
    .load_prepare = kvm_mig_cpu_load_prepare,
    .fields = kvm_vmstate_cpu_fields,
    /* The destination's vCPU threads write it while the rest is saved. */
    .flush_after = true,
};

/* ---- in-kernel PIC and IOAPIC ---- */

static uint8_t *kvm_mig_irqchip_data(KVMMigIrqchip *ic, unsigned int chip)
{
    switch (chip) {
    case KVM_IRQCHIP_PIC_MASTER:
        return ic->pic_master;
    case KVM_IRQCHIP_PIC_SLAVE:
        return ic->pic_slave;
    default:
        return ic->ioapic;
    }
}

static bool kvm_mig_irqchip_pre_save(void *opaque, GError **errp)
{
    KVMMigIrqchip *ic = opaque;

    for (unsigned int chip = 0; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
        struct kvm_irqchip c = {.chip_id = chip};
        int ret = kvm_vm_ioctl(kvm_mig->s, KVM_GET_IRQCHIP, &c);

        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM_GET_IRQCHIP(%u) failed", chip);
            return false;
        }
        memcpy(kvm_mig_irqchip_data(ic, chip), &c.chip, KVM_IRQCHIP_DATA_SIZE);
    }
    return true;
}

/* KVM checks the chip contents itself (IOAPIC pins are a fixed array). */
static bool kvm_mig_irqchip_post_load(void *opaque, int version_id,
                                      GError **errp)
{
    KVMMigIrqchip *ic = opaque;

    /* After every local APIC, as before the vCPU loads ran in parallel. */
    if (!kvm_mig_put_finish(errp)) {
        return false;
    }
    for (unsigned int chip = 0; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
        struct kvm_irqchip c = {.chip_id = chip};
        int ret;

        memcpy(&c.chip, kvm_mig_irqchip_data(ic, chip), KVM_IRQCHIP_DATA_SIZE);
        ret = kvm_vm_ioctl(kvm_mig->s, KVM_SET_IRQCHIP, &c);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM_SET_IRQCHIP(%u) failed", chip);
            return false;
        }
    }
    return true;
}

static const VMStateField kvm_vmstate_irqchip_fields[] = {
    VMSTATE_BUFFER(pic_master, KVMMigIrqchip, KVM_IRQCHIP_DATA_SIZE),
    VMSTATE_BUFFER(pic_slave, KVMMigIrqchip, KVM_IRQCHIP_DATA_SIZE),
    VMSTATE_BUFFER(ioapic, KVMMigIrqchip, KVM_IRQCHIP_DATA_SIZE),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription kvm_vmstate_irqchip = {
    .name = "kvm-irqchip",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = kvm_mig_irqchip_pre_save,
    .post_load = kvm_mig_irqchip_post_load,
    .fields = kvm_vmstate_irqchip_fields,
};

/* ---- in-kernel PIT ---- */

static bool kvm_mig_pit_pre_save(void *opaque, GError **errp)
{
    KVMMigPit *pit = opaque;
    struct kvm_pit_state2 ps = {0};
    int ret = kvm_vm_ioctl(kvm_mig->s, KVM_GET_PIT2, &ps);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_GET_PIT2 failed");
        return false;
    }
    memcpy(pit->state, &ps, sizeof(ps));
    return true;
}

static bool kvm_mig_pit_post_load(void *opaque, int version_id, GError **errp)
{
    KVMMigPit *pit = opaque;
    struct kvm_pit_state2 ps;
    int ret;

    if (!kvm_mig_put_finish(errp)) {
        return false;
    }
    memcpy(&ps, pit->state, sizeof(ps));
    if (ps.flags & ~KVM_PIT_KNOWN_FLAGS) {
        error_setg(errp, "field 'state': unknown flags 0x%" PRIx32,
                   (uint32_t)ps.flags);
        return false;
    }
    ret = kvm_vm_ioctl(kvm_mig->s, KVM_SET_PIT2, &ps);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_SET_PIT2 failed");
        return false;
    }
    return true;
}

static const VMStateField kvm_vmstate_pit_fields[] = {
    VMSTATE_BUFFER(state, KVMMigPit, sizeof(struct kvm_pit_state2)),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription kvm_vmstate_pit = {
    .name = "kvm-pit",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = kvm_mig_pit_pre_save,
    .post_load = kvm_mig_pit_post_load,
    .fields = kvm_vmstate_pit_fields,
};

/* ---- kvmclock ---- */

static bool kvm_mig_clock_read(KVMMigClock *clk, GError **errp)
{
    struct kvm_clock_data data = {0};
    int ret = kvm_vm_ioctl(kvm_mig->s, KVM_GET_CLOCK, &data);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_GET_CLOCK failed");
        return false;
    }
    clk->clock = data.clock;
    clk->flags = data.flags;
    return true;
}

/* Normally the value read when the vCPUs stopped (see vm_stopped). */
static bool kvm_mig_clock_pre_save(void *opaque, GError **errp)
{
    KVMMigClock *clk = opaque;

    return clk->valid || kvm_mig_clock_read(clk, errp);
}

/* Applied when the destination starts the vCPUs (vm_resuming). */
static bool kvm_mig_clock_post_load(void *opaque, int version_id, GError **errp)
{
    KVMMigClock *clk = opaque;

    if (!kvm_mig_put_finish(errp)) {
        return false;
    }
    if (clk->flags & ~KVM_CLOCK_KNOWN_FLAGS) {
        error_setg(errp, "field 'flags': unknown flags 0x%" PRIx32, clk->flags);
        return false;
    }
    clk->valid = true;
    return true;
}

static const VMStateField kvm_vmstate_clock_fields[] = {
    VMSTATE_UINT64(clock, KVMMigClock),
    VMSTATE_UINT32(flags, KVMMigClock),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription kvm_vmstate_clock = {
    .name = "kvmclock",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = kvm_mig_clock_pre_save,
    .post_load = kvm_mig_clock_post_load,
    .fields = kvm_vmstate_clock_fields,
};

/*
 * On each vCPU's thread, as it parks for the stop or, for a vCPU that was
 * parked already (halted, waiting for reset), from kvm_migration_vm_stopped;
 * a failure just leaves stop_tsc_valid false.
 */
static void kvm_mig_read_tsc_work(KVMCPU *kcpu, void *opaque)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry entry;
    } msrs = {.hdr.nmsrs = 1, .entry.index = MSR_IA32_TSC};

    if (!kcpu->stop_tsc_valid &&
        kvm_vcpu_ioctl(kcpu, KVM_GET_MSRS, &msrs) == 1) {
        kcpu->stop_tsc = msrs.entry.data;
        kcpu->stop_tsc_valid = true;
    }
}

/* Touches KCPU only: it may run before kvm_migration_init(). */
void kvm_migration_cpu_stopping(KVMCPU *kcpu)
{
    kvm_mig_read_tsc_work(kcpu, NULL);
}

void kvm_migration_vm_stopped(KVMState *s)
{
    GError *err = NULL;

    if (!kvm_mig) {
        return;
    }
    for (unsigned int i = 0; i < kvm_mig->ncpus; i++) {
        KVMMigCPU *mc = kvm_mig->cpus[i];

        if (!mc->kcpu->stop_tsc_valid && !mc->put_pending) {
            mc->work = (KVMWork){.fn = kvm_mig_read_tsc_work};
            kvm_cpu_work_start(mc->kcpu, &mc->work);
        }
    }
    kvm_mig_work_wait(0, kvm_mig->ncpus);
    if (!kvm_mig->has_clock || kvm_mig->clock.valid) {
        return;
    }
    if (!kvm_mig_clock_read(&kvm_mig->clock, &err)) {
        error_report("kvmclock: %s", err->message);
        g_error_free(err);
        return;
    }
    kvm_mig->clock.valid = true;
}

/*
 * Only the clock value is written back (flags 0), as QEMU does: the guest
 * clock resumes where it stopped, whether the stop was a pause or the
 * migration downtime. The TSC is not written back on a resume (KVM kept
 * it running); the stop value only matters to a save.
 */
void kvm_migration_vm_resuming(KVMState *s)
{
    struct kvm_clock_data data = {0};
    GError *err = NULL;
    int ret;

    if (!kvm_mig) {
        return;
    }
    if (!kvm_mig_put_finish(&err)) {
        /* Not reached: a load with a failed vCPU put fails (post_load). */
        error_report("%s", err->message);
        g_error_free(err);
    }
    kvm_mig->save_next = 0;
    for (unsigned int i = 0; i < kvm_mig->ncpus; i++) {
        kvm_mig->cpus[i]->kcpu->stop_tsc_valid = false;
    }
    if (!kvm_mig->has_clock || !kvm_mig->clock.valid) {
        return;
    }
    data.clock = kvm_mig->clock.clock;
    kvm_mig->clock.valid = false;
    ret = kvm_vm_ioctl(kvm_mig->s, KVM_SET_CLOCK, &data);
    if (ret < 0) {
        error_report("kvmclock: KVM_SET_CLOCK failed: %s", g_strerror(-ret));
    }
}

/* ---- registration ---- */

/* On each vCPU's thread, once: the rate does not change (no scaling). */
static void kvm_mig_read_tsc_khz_work(KVMCPU *kcpu, void *opaque)
{
    KVMMigVM *m = opaque;

    m->cpus[kcpu->index]->tsc_khz = kvm_vcpu_ioctl(kcpu, KVM_GET_TSC_KHZ, NULL);
}

static int kvm_mig_check_extension(KVMState *s, int cap, bool on_vm)
{
    int ret = on_vm ? kvm_vm_ioctl(s, KVM_CHECK_EXTENSION, KVM_ARG(cap))
                    : kvm_ioctl(s, KVM_CHECK_EXTENSION, KVM_ARG(cap));

    return ret > 0 ? ret : 0;
}

/* The MSRs of kvm_mig_msr_table that KVM_GET_MSR_INDEX_LIST reports. */
static bool kvm_mig_probe_msrs(KVMMigVM *m, GError **errp)
{
    struct kvm_msr_list probe = {.nmsrs = 0};
    g_autofree struct kvm_msr_list *list = NULL;
    int ret;

    ret = kvm_ioctl(m->s, KVM_GET_MSR_INDEX_LIST, &probe);
    if (ret < 0 && ret != -E2BIG) {
        error_setg_errno(errp, -ret, "KVM_GET_MSR_INDEX_LIST failed");
        return false;
    }
    list = g_malloc0(sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
    list->nmsrs = probe.nmsrs;
    ret = kvm_ioctl(m->s, KVM_GET_MSR_INDEX_LIST, list);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_GET_MSR_INDEX_LIST failed");
        return false;
    }
    for (size_t t = 0; t < G_N_ELEMENTS(kvm_mig_msr_table); t++) {
        for (uint32_t i = 0; i < list->nmsrs && i < probe.nmsrs; i++) {
            if (list->indices[i] == kvm_mig_msr_table[t]) {
                m->msrs[m->nmsrs++] = kvm_mig_msr_table[t];
                break;
            }
        }
    }
    return true;
}

bool kvm_migration_init(KVMState *s, GError **errp)
{
    KVMMigVM *m;

    g_assert(!kvm_mig);
    m = g_new0(KVMMigVM, 1);
    m->s = s;
    if (!kvm_mig_probe_msrs(m, errp)) {
        g_free(m);
        return false;
    }
    if (kvm_mig_check_extension(s, KVM_CAP_XSAVE2, true)) {
        m->xsave_size = kvm_mig_check_extension(s, KVM_CAP_XSAVE2, true);
    }
    m->has_sregs2 = kvm_mig_check_extension(s, KVM_CAP_SREGS2, false);
    m->has_sync_regs =
        (kvm_mig_check_extension(s, KVM_CAP_SYNC_REGS, false) &
         KVM_SYNC_X86_VALID_FIELDS) == KVM_SYNC_X86_VALID_FIELDS;
    m->has_tsc_control = kvm_mig_check_extension(s, KVM_CAP_TSC_CONTROL, false);
    m->has_clock = kvm_mig_check_extension(s, KVM_CAP_ADJUST_CLOCK, false);
    kvm_mig = m;

    /* Registration order is save and load order: vCPUs, irqchip, PIT, clock. */
    m->ncpus = s->nr_cpus;
    m->cpus = g_new0(KVMMigCPU *, m->ncpus);
    for (unsigned int i = 0; i < m->ncpus; i++) {
        m->cpus[i] = g_new0(KVMMigCPU, 1);
        m->cpus[i]->kcpu = s->cpus[i];
        m->cpus[i]->fault_point = g_strdup_printf("cpu-load-%u", i);
        vmstate_register("cpu", i, &kvm_vmstate_cpu, m->cpus[i]);
    }
    kvm_run_on_all_cpus(s, kvm_mig_read_tsc_khz_work, m);
    if (s->irqchip_in_kernel) {
        vmstate_register("kvm-irqchip", 0, &kvm_vmstate_irqchip, &m->irqchip);
        vmstate_register("kvm-pit", 0, &kvm_vmstate_pit, &m->pit);
    }
    if (m->has_clock) {
        vmstate_register("kvmclock", 0, &kvm_vmstate_clock, &m->clock);
    }
    return true;
}

void kvm_migration_cleanup(KVMState *s)
{
    KVMMigVM *m = kvm_mig;

    if (!m) {
        return;
    }
    /* A failed load may leave puts running on vCPU threads: no error. */
    kvm_mig_work_wait(0, m->ncpus);
    for (unsigned int i = 0; i < m->ncpus; i++) {
        kvm_mig_prep_wait(m->cpus[i]);
        vmstate_unregister_opaque(m->cpus[i]);
        g_clear_error(&m->cpus[i]->err);
        g_free(m->cpus[i]->known);
        g_free(m->cpus[i]->fault_point);
        g_free(m->cpus[i]);
    }
    vmstate_unregister_opaque(&m->irqchip);
    vmstate_unregister_opaque(&m->pit);
    vmstate_unregister_opaque(&m->clock);
    g_free(m->cpus);
    g_free(m);
    kvm_mig = NULL;
}
