/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * x86 vCPU register state through KVM: the per-vCPU CPUID table, the
 * power-on reset state (plus the machine's real-mode boot entry), and
 * register snapshots for dumps. Everything here runs on the vCPU's own
 * thread (see kvm_run_on_cpu()); migration of this state is not here yet.
 */
#include "util/osdep.h"

#include "hw/core/machine.h"

#include "kvm-internal.h"

#define CR0_RESET 0x60000010ULL /* CD | NW | ET */
#define APIC_BASE_DEFAULT 0xfee00000ULL
#define APIC_BASE_ENABLE (1ULL << 11)
#define APIC_BASE_BSP (1ULL << 8)
#define RDX_RESET 0x600 /* family 6 "processor signature" */
#define FPU_FCW_RESET 0x37f
#define MXCSR_RESET 0x1f80
#define DR6_RESET 0xffff0ff0ULL
#define DR7_RESET 0x400ULL
#define BOOT_SP 0x7c00
#define CPUID_1_ECX_HYPERVISOR (1U << 31)

/* FXSAVE/XSAVE legacy region and header (Intel SDM vol. 1, 10.5, 13.4). */
#define XSAVE_FCW_OFFSET 0
#define XSAVE_FSW_OFFSET 2
#define XSAVE_FTW_OFFSET 4
#define XSAVE_FOP_OFFSET 6
#define XSAVE_FIP_OFFSET 8
#define XSAVE_FDP_OFFSET 16
#define XSAVE_MXCSR_OFFSET 24
#define XSAVE_ST_OFFSET 32
#define XSAVE_XMM_OFFSET 160
#define XSAVE_XSTATE_BV_OFFSET 512
#define XSTATE_FP (1ULL << 0)
#define XSTATE_SSE (1ULL << 1)

/* MSRs that an x86 reset clears (or sets to a fixed value). */
static const struct {
    uint32_t index;
    uint64_t value;
} kvm_reset_msrs[] = {
    {0x174, 0},                     /* IA32_SYSENTER_CS */
    {0x175, 0},                     /* IA32_SYSENTER_ESP */
    {0x176, 0},                     /* IA32_SYSENTER_EIP */
    {0x277, 0x0007040600070406ULL}, /* IA32_PAT */
    {0xc0000081, 0},                /* STAR */
    {0xc0000082, 0},                /* LSTAR */
    {0xc0000083, 0},                /* CSTAR */
    {0xc0000084, 0},                /* SFMASK */
    {0xc0000102, 0},                /* KERNEL_GS_BASE */
};

/* Local APIC register offsets (Intel SDM vol. 3, table 11-1). */
enum {
    APIC_ID = 0x20,
    APIC_TPR = 0x80,
    APIC_LDR = 0xd0,
    APIC_DFR = 0xe0,
    APIC_SVR = 0xf0,
    APIC_ISR = 0x100,
    APIC_TMR = 0x180,
    APIC_IRR = 0x200,
    APIC_ESR = 0x280,
    APIC_LVT_CMCI = 0x2f0,
    APIC_ICR = 0x300,
    APIC_ICR2 = 0x310,
    APIC_LVT_TIMER = 0x320,
    APIC_LVT_LINT0 = 0x350,
    APIC_LVT_ERROR = 0x370,
    APIC_TMICT = 0x380,
    APIC_TMCCT = 0x390,
    APIC_TDCR = 0x3e0,
};
#define APIC_LVT_MASKED 0x10000
#define APIC_LVT_EXTINT 0x700

struct kvm_cpuid2 *kvm_cpu_build_cpuid(const struct kvm_cpuid2 *supported,
                                       uint32_t apic_id)
{
    size_t size =
        sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
    struct kvm_cpuid2 *cpuid = g_memdup2(supported, size);

    for (uint32_t i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

        switch (e->function) {
        case 1:
            /* Initial APIC id in EBX[31:24]; we are a hypervisor guest. */
            e->ebx = (e->ebx & 0x00ffffff) | (apic_id << 24);
            e->ecx |= CPUID_1_ECX_HYPERVISOR;
            break;
        case 0xb:
        case 0x1f:
            /* x2APIC id in EDX of every topology sub-leaf. */
            e->edx = apic_id;
            break;
        default:
            break;
        }
    }
    return cpuid;
}

static struct kvm_segment kvm_seg(uint16_t sel, uint64_t base, uint8_t type,
                                  bool s)
{
    return (struct kvm_segment){
        .selector = sel,
        .base = base,
        .limit = 0xffff,
        .type = type,
        .s = s,
        .present = 1,
    };
}

static void kvm_reset_sregs(struct kvm_sregs *sr, bool bsp)
{
    memset(sr, 0, sizeof(*sr));
    sr->cs = kvm_seg(0xf000, 0xffff0000, 0xb, true); /* code, RX, accessed */
    sr->ds = kvm_seg(0, 0, 0x3, true);               /* data, RW, accessed */
    sr->es = sr->ds;
    sr->ss = sr->ds;
    sr->fs = sr->ds;
    sr->gs = sr->ds;
    sr->ldt = kvm_seg(0, 0, 0x2, false); /* LDT */
    sr->tr = kvm_seg(0, 0, 0xb, false);  /* busy 32-bit TSS */
    sr->gdt.limit = 0xffff;
    sr->idt.limit = 0xffff;
    sr->cr0 = CR0_RESET;
    sr->apic_base =
        APIC_BASE_DEFAULT | APIC_BASE_ENABLE | (bsp ? APIC_BASE_BSP : 0);
}

static void apic_set_reg(struct kvm_lapic_state *lapic, unsigned int off,
                         uint32_t val)
{
    memcpy(&lapic->regs[off], &val, sizeof(val));
}

/* The local APIC's INIT/reset values, keeping ID and version. */
static void kvm_reset_lapic(struct kvm_lapic_state *lapic, uint32_t apic_id,
                            bool bsp)
{
    apic_set_reg(lapic, APIC_ID, apic_id << 24);
    apic_set_reg(lapic, APIC_TPR, 0);
    apic_set_reg(lapic, APIC_LDR, 0);
    apic_set_reg(lapic, APIC_DFR, 0xffffffff);
    apic_set_reg(lapic, APIC_SVR, 0xff);
    for (unsigned int i = 0; i < 8; i++) {
        apic_set_reg(lapic, APIC_ISR + i * 0x10, 0);
        apic_set_reg(lapic, APIC_TMR + i * 0x10, 0);
        apic_set_reg(lapic, APIC_IRR + i * 0x10, 0);
    }
    apic_set_reg(lapic, APIC_ESR, 0);
    apic_set_reg(lapic, APIC_LVT_CMCI, APIC_LVT_MASKED);
    apic_set_reg(lapic, APIC_ICR, 0);
    apic_set_reg(lapic, APIC_ICR2, 0);
    for (unsigned int off = APIC_LVT_TIMER; off <= APIC_LVT_ERROR;
         off += 0x10) {
        apic_set_reg(lapic, off, APIC_LVT_MASKED);
    }
    /*
     * As the BIOS (and KVM at vCPU creation) leaves it: LINT0 in ExtINT
     * mode on the BSP, so the 8259 PIC reaches it with the APIC enabled.
     */
    if (bsp) {
        apic_set_reg(lapic, APIC_LVT_LINT0, APIC_LVT_EXTINT);
    }
    apic_set_reg(lapic, APIC_TMICT, 0);
    apic_set_reg(lapic, APIC_TMCCT, 0);
    apic_set_reg(lapic, APIC_TDCR, 0);
}

/* A vCPU ioctl whose failure is an error naming it. */
static bool kvm_cpu_call(KVMCPU *kcpu, unsigned long req, const char *name,
                         void *arg, GError **errp)
{
    int ret = kvm_vcpu_ioctl(kcpu, req, arg);

    if (ret < 0) {
        error_setg_errno(errp, -ret, "%s failed for CPU %u", name, kcpu->index);
        return false;
    }
    return true;
}

/*
 * x87/SSE to their reset values and every other XSAVE component (AVX,
 * AVX-512, PKRU...) to its init state. With XSAVE, a state image whose
 * XSTATE_BV holds only x87 and SSE does all of that in one call, where
 * KVM_SET_FPU would leave the upper vector state alone.
 */
static bool kvm_cpu_reset_fpu(KVMCPU *kcpu, GError **errp)
{
    g_autofree struct kvm_xsave *xs = NULL;
    struct kvm_fpu fpu = {.fcw = FPU_FCW_RESET, .mxcsr = MXCSR_RESET};
    uint16_t fcw = FPU_FCW_RESET;
    uint32_t mxcsr = MXCSR_RESET;
    uint64_t xstate_bv = XSTATE_FP | XSTATE_SSE;

    if (!kvm_cap(kcpu->s, KVM_CAP_XSAVE)) {
        return kvm_cpu_call(kcpu, KVM_SET_FPU, "KVM_SET_FPU", &fpu, errp);
    }
    xs = g_new0(struct kvm_xsave, 1);
    memcpy((uint8_t *)xs->region + XSAVE_FCW_OFFSET, &fcw, sizeof(fcw));
    memcpy((uint8_t *)xs->region + XSAVE_MXCSR_OFFSET, &mxcsr, sizeof(mxcsr));
    memcpy((uint8_t *)xs->region + XSAVE_XSTATE_BV_OFFSET, &xstate_bv,
           sizeof(xstate_bv));
    return kvm_cpu_call(kcpu, KVM_SET_XSAVE, "KVM_SET_XSAVE", xs, errp);
}

/*
 * KVM_GET_FPU may leave MXCSR out on some kernels; QEMU reads x87/SSE
 * from the XSAVE image whenever it has one, and so does the dump.
 */
static void kvm_fpu_from_xsave(struct kvm_fpu *fpu, const struct kvm_xsave *xs)
{
    const uint8_t *p = (const uint8_t *)xs->region;

    memcpy(&fpu->fcw, p + XSAVE_FCW_OFFSET, sizeof(fpu->fcw));
    memcpy(&fpu->fsw, p + XSAVE_FSW_OFFSET, sizeof(fpu->fsw));
    fpu->ftwx = p[XSAVE_FTW_OFFSET];
    memcpy(&fpu->last_opcode, p + XSAVE_FOP_OFFSET, sizeof(fpu->last_opcode));
    memcpy(&fpu->last_ip, p + XSAVE_FIP_OFFSET, sizeof(fpu->last_ip));
    memcpy(&fpu->last_dp, p + XSAVE_FDP_OFFSET, sizeof(fpu->last_dp));
    memcpy(&fpu->mxcsr, p + XSAVE_MXCSR_OFFSET, sizeof(fpu->mxcsr));
    memcpy(fpu->fpr, p + XSAVE_ST_OFFSET, sizeof(fpu->fpr));
    memcpy(fpu->xmm, p + XSAVE_XMM_OFFSET, sizeof(fpu->xmm));
}

static bool kvm_cpu_reset_msrs(KVMCPU *kcpu, GError **errp)
{
    size_t n = ARRAY_SIZE(kvm_reset_msrs);
    g_autofree struct kvm_msrs *msrs =
        g_malloc0(sizeof(*msrs) + n * sizeof(msrs->entries[0]));
    int ret;

    msrs->nmsrs = n;
    for (size_t i = 0; i < n; i++) {
        msrs->entries[i].index = kvm_reset_msrs[i].index;
        msrs->entries[i].data = kvm_reset_msrs[i].value;
    }
    ret = kvm_vcpu_ioctl(kcpu, KVM_SET_MSRS, msrs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "KVM_SET_MSRS failed for CPU %u",
                         kcpu->index);
        return false;
    }
    if ((size_t)ret < n) {
        /* KVM stops at the first MSR it refuses. */
        error_setg(errp, "KVM_SET_MSRS refused MSR 0x%x for CPU %u",
                   kvm_reset_msrs[ret].index, kcpu->index);
        return false;
    }
    return true;
}

static bool kvm_cpu_reset_optional(KVMCPU *kcpu, GError **errp)
{
    KVMState *s = kcpu->s;

    if (kvm_cap(s, KVM_CAP_XCRS)) {
        struct kvm_xcrs xcrs = {
            .nr_xcrs = 1, .xcrs[0] = {.xcr = 0, .value = 1}, /* x87 only */
        };

        if (!kvm_cpu_call(kcpu, KVM_SET_XCRS, "KVM_SET_XCRS", &xcrs, errp)) {
            return false;
        }
    }
    if (kvm_cap(s, KVM_CAP_DEBUGREGS)) {
        struct kvm_debugregs dregs = {.dr6 = DR6_RESET, .dr7 = DR7_RESET};

        if (!kvm_cpu_call(kcpu, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", &dregs,
                          errp)) {
            return false;
        }
    }
    if (kvm_cap(s, KVM_CAP_VCPU_EVENTS)) {
        /* Drop pending exceptions, interrupts, NMIs and the SIPI vector. */
        struct kvm_vcpu_events events = {
            .flags = KVM_VCPUEVENT_VALID_NMI_PENDING |
                     KVM_VCPUEVENT_VALID_SIPI_VECTOR,
        };

        if (!kvm_cpu_call(kcpu, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS",
                          &events, errp)) {
            return false;
        }
    }
    return true;
}

bool kvm_cpu_reset(KVMCPU *kcpu, const MachineState *ms, GError **errp)
{
    bool bsp = kcpu->index == 0;
    struct kvm_sregs sregs;
    struct kvm_regs regs = {.rflags = 0x2, .rip = 0xfff0, .rdx = RDX_RESET};
    struct kvm_lapic_state lapic;
    struct kvm_mp_state mp = {
        /* APs wait for INIT/SIPI from the BSP in the in-kernel LAPIC. */
        .mp_state = bsp ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED,
    };
    int ret;

    kvm_reset_sregs(&sregs, bsp);
    if (bsp && ms && ms->has_boot_entry) {
        sregs.cs.selector = ms->boot_cs;
        sregs.cs.base = (uint64_t)ms->boot_cs << 4;
        regs.rip = ms->boot_ip;
        regs.rdx = ms->boot_dl;
        regs.rsp = BOOT_SP;
    }
    /* SREGS first: the APIC base decides how KVM reads the LAPIC state. */
    if (!kvm_cpu_call(kcpu, KVM_SET_SREGS, "KVM_SET_SREGS", &sregs, errp) ||
        !kvm_cpu_call(kcpu, KVM_SET_REGS, "KVM_SET_REGS", &regs, errp) ||
        !kvm_cpu_reset_fpu(kcpu, errp) || !kvm_cpu_reset_msrs(kcpu, errp) ||
        !kvm_cpu_reset_optional(kcpu, errp)) {
        return false;
    }
    if (kcpu->s->irqchip_in_kernel) {
        ret = kvm_vcpu_ioctl(kcpu, KVM_GET_LAPIC, &lapic);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "KVM_GET_LAPIC failed for CPU %u",
                             kcpu->index);
            return false;
        }
        kvm_reset_lapic(&lapic, kcpu->index, bsp);
        if (!kvm_cpu_call(kcpu, KVM_SET_LAPIC, "KVM_SET_LAPIC", &lapic, errp)) {
            return false;
        }
    }
    return kvm_cpu_call(kcpu, KVM_SET_MP_STATE, "KVM_SET_MP_STATE", &mp, errp);
}

/* XCR0 and the XSAVE area, for the YMM/ZMM part of the dump. */
static bool kvm_cpu_get_xstate(KVMCPU *kcpu, KVMRegSnapshot *snap,
                               GError **errp)
{
    KVMState *s = kcpu->s;
    struct kvm_xcrs xcrs = {0};

    if (!kvm_cap(s, KVM_CAP_XCRS) || !kvm_cap(s, KVM_CAP_XSAVE)) {
        return true;
    }
    if (!kvm_cpu_call(kcpu, KVM_GET_XCRS, "KVM_GET_XCRS", &xcrs, errp) ||
        !kvm_cpu_call(kcpu, KVM_GET_XSAVE, "KVM_GET_XSAVE", &snap->xsave,
                      errp)) {
        return false;
    }
    for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++) {
        if (xcrs.xcrs[i].xcr == 0) {
            snap->xcr0 = xcrs.xcrs[i].value;
        }
    }
    snap->have_xsave = true;
    kvm_fpu_from_xsave(&snap->fpu, &snap->xsave);
    return true;
}

bool kvm_cpu_get_snapshot(KVMCPU *kcpu, KVMRegSnapshot *snap, GError **errp)
{
    KVMState *s = kcpu->s;

    memset(snap, 0, sizeof(*snap));
    if (!kvm_cpu_call(kcpu, KVM_GET_REGS, "KVM_GET_REGS", &snap->regs, errp) ||
        !kvm_cpu_call(kcpu, KVM_GET_SREGS, "KVM_GET_SREGS", &snap->sregs,
                      errp) ||
        !kvm_cpu_call(kcpu, KVM_GET_FPU, "KVM_GET_FPU", &snap->fpu, errp) ||
        !kvm_cpu_call(kcpu, KVM_GET_MP_STATE, "KVM_GET_MP_STATE",
                      &snap->mp_state, errp)) {
        return false;
    }
    if (kvm_cap(s, KVM_CAP_DEBUGREGS) &&
        !kvm_cpu_call(kcpu, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS",
                      &snap->dregs, errp)) {
        return false;
    }
    if (kvm_cap(s, KVM_CAP_VCPU_EVENTS) &&
        !kvm_cpu_call(kcpu, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS",
                      &snap->events, errp)) {
        return false;
    }
    return kvm_cpu_get_xstate(kcpu, snap, errp);
}
