/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The text of HMP "info registers" for a KVM x86-64 vCPU, in the layout
 * qemu-system-x86_64 prints (general registers, segments, descriptor
 * tables, control and debug registers, EFER, then x87/SSE/AVX state).
 * Pure formatting of a KVMRegSnapshot; reading it is kvm-state.c's job.
 */
#include "util/osdep.h"

#include "kvm-internal.h"

/* Segment attribute bits in the descriptor's high dword layout. */
#define DESC_A (1u << 8)
#define DESC_RW (1u << 9)  /* readable code / writable data */
#define DESC_CE (1u << 10) /* conforming code / expand-down data */
#define DESC_CODE (1u << 11)
#define DESC_S (1u << 12)
#define DESC_DPL_SHIFT 13
#define DESC_P (1u << 15)
#define DESC_AVL (1u << 20)
#define DESC_L (1u << 21)
#define DESC_B (1u << 22)
#define DESC_G (1u << 23)

#define EFER_LMA (1u << 10)

#define XSTATE_SSE (1u << 1)
#define XSTATE_YMM (1u << 2)
#define XSTATE_OPMASK (1u << 5)
#define XSTATE_ZMM_HI256 (1u << 6)
#define XSTATE_HI16_ZMM (1u << 7)

/* Standard (non-compacted) XSAVE layout offsets (Intel SDM vol. 1, 13.4). */
#define XSAVE_XMM_OFFSET 160
#define XSAVE_YMM_HI_OFFSET 576
#define XSAVE_OPMASK_OFFSET 1088
#define XSAVE_ZMM_HI_OFFSET 1152
#define XSAVE_HI16_ZMM_OFFSET 1664

typedef struct DumpMode {
    bool pe;   /* protected mode */
    bool lma;  /* long mode active */
    bool cs64; /* 64-bit code segment */
} DumpMode;

static uint32_t seg_flags(const struct kvm_segment *seg)
{
    return (uint32_t)seg->type << 8 | (seg->s ? DESC_S : 0) |
           (uint32_t)seg->dpl << DESC_DPL_SHIFT | (seg->present ? DESC_P : 0) |
           (seg->avl ? DESC_AVL : 0) | (seg->l ? DESC_L : 0) |
           (seg->db ? DESC_B : 0) | (seg->g ? DESC_G : 0);
}

static void dump_seg_type(GString *out, const DumpMode *m, uint32_t flags)
{
    static const char *const sys_type[2][16] = {
        {"Reserved", "TSS16-avl", "LDT", "TSS16-busy", "CallGate16", "TaskGate",
         "IntGate16", "TrapGate16", "Reserved", "TSS32-avl", "Reserved",
         "TSS32-busy", "CallGate32", "Reserved", "IntGate32", "TrapGate32"},
        {"<hiword>", "Reserved", "LDT", "Reserved", "Reserved", "Reserved",
         "Reserved", "Reserved", "Reserved", "TSS64-avl", "Reserved",
         "TSS64-busy", "CallGate64", "Reserved", "IntGate64", "TrapGate64"},
    };

    g_string_append_printf(out, " DPL=%u ", (flags >> DESC_DPL_SHIFT) & 3);
    if (!(flags & DESC_S)) {
        g_string_append(out, sys_type[m->lma][(flags >> 8) & 15]);
    } else if (flags & DESC_CODE) {
        g_string_append_printf(out, "%s [%c%c%c]",
                               flags & DESC_L   ? "CS64"
                               : flags & DESC_B ? "CS32"
                                                : "CS16",
                               flags & DESC_CE ? 'C' : '-',
                               flags & DESC_RW ? 'R' : '-',
                               flags & DESC_A ? 'A' : '-');
    } else {
        g_string_append_printf(
            out, "%s [%c%c%c]", (flags & DESC_B) || m->lma ? "DS  " : "DS16",
            flags & DESC_CE ? 'E' : '-', flags & DESC_RW ? 'W' : '-',
            flags & DESC_A ? 'A' : '-');
    }
}

static void dump_seg(GString *out, const DumpMode *m, const char *name,
                     const struct kvm_segment *seg)
{
    uint32_t flags = seg_flags(seg);

    if (m->cs64) {
        g_string_append_printf(out, "%-3s=%04x %016" PRIx64 " %08x %08x", name,
                               seg->selector, (uint64_t)seg->base, seg->limit,
                               flags & 0x00ffff00);
    } else {
        g_string_append_printf(out, "%-3s=%04x %08x %08x %08x", name,
                               seg->selector, (uint32_t)seg->base, seg->limit,
                               flags & 0x00ffff00);
    }
    if (m->pe && (flags & DESC_P)) {
        dump_seg_type(out, m, flags);
    }
    g_string_append_c(out, '\n');
}

static void dump_gprs(GString *out, const DumpMode *m,
                      const KVMRegSnapshot *snap)
{
    const struct kvm_regs *r = &snap->regs;
    uint32_t fl = (uint32_t)r->rflags;
    bool halted =
        snap->halted || snap->mp_state.mp_state == KVM_MP_STATE_HALTED;

    if (m->cs64) {
        g_string_append_printf(
            out,
            "RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
            "RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
            "R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
            "R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
            "RIP=%016llx RFL=%08x",
            r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp, r->rsp,
            r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15,
            r->rip, fl);
    } else {
        g_string_append_printf(
            out,
            "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n"
            "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
            "EIP=%08x EFL=%08x",
            (uint32_t)r->rax, (uint32_t)r->rbx, (uint32_t)r->rcx,
            (uint32_t)r->rdx, (uint32_t)r->rsi, (uint32_t)r->rdi,
            (uint32_t)r->rbp, (uint32_t)r->rsp, (uint32_t)r->rip, fl);
    }
    /* CPL is SS.DPL, as QEMU derives it from KVM's segments; A20 is on. */
    g_string_append_printf(
        out, " [%c%c%c%c%c%c%c] CPL=%u II=%d A20=1 SMM=%d HLT=%d\n",
        fl & 0x400 ? 'D' : '-', fl & 0x800 ? 'O' : '-', fl & 0x80 ? 'S' : '-',
        fl & 0x40 ? 'Z' : '-', fl & 0x10 ? 'A' : '-', fl & 0x4 ? 'P' : '-',
        fl & 0x1 ? 'C' : '-', snap->sregs.ss.dpl & 3,
        snap->events.interrupt.shadow ? 1 : 0, snap->events.smi.smm ? 1 : 0,
        halted ? 1 : 0);
}

static void dump_system_regs(GString *out, const DumpMode *m,
                             const KVMRegSnapshot *snap)
{
    const struct kvm_sregs *sr = &snap->sregs;
    const struct kvm_debugregs *dr = &snap->dregs;

    if (m->lma) {
        g_string_append_printf(out,
                               "GDT=     %016llx %08x\nIDT=     %016llx %08x\n"
                               "CR0=%08x CR2=%016llx CR3=%016llx CR4=%08x\n",
                               sr->gdt.base, sr->gdt.limit, sr->idt.base,
                               sr->idt.limit, (uint32_t)sr->cr0, sr->cr2,
                               sr->cr3, (uint32_t)sr->cr4);
    } else {
        g_string_append_printf(out,
                               "GDT=     %08x %08x\nIDT=     %08x %08x\n"
                               "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n",
                               (uint32_t)sr->gdt.base, sr->gdt.limit,
                               (uint32_t)sr->idt.base, sr->idt.limit,
                               (uint32_t)sr->cr0, (uint32_t)sr->cr2,
                               (uint32_t)sr->cr3, (uint32_t)sr->cr4);
    }
    /* Debug registers are target_ulong wide on x86-64 in every mode. */
    for (int i = 0; i < 4; i++) {
        g_string_append_printf(out, "DR%d=%016llx ", i, dr->db[i]);
    }
    g_string_append_printf(out, "\nDR6=%016llx DR7=%016llx\n", dr->dr6,
                           dr->dr7);
    g_string_append_printf(out, "EFER=%016llx\n", sr->efer);
}

static uint64_t xsave_q(const KVMRegSnapshot *snap, unsigned int offset)
{
    uint64_t q;

    memcpy(&q, (const uint8_t *)snap->xsave.region + offset, sizeof(q));
    return q;
}

static uint64_t xmm_q(const KVMRegSnapshot *snap, unsigned int reg,
                      unsigned int q)
{
    uint64_t v;

    memcpy(&v, &snap->fpu.xmm[reg][q * 8], sizeof(v));
    return v;
}

/* Quadword Q (0 = lowest) of vector register REG, from the XSAVE area. */
static uint64_t vec_q(const KVMRegSnapshot *snap, unsigned int reg,
                      unsigned int q)
{
    if (reg >= 16) {
        return xsave_q(snap, XSAVE_HI16_ZMM_OFFSET + (reg - 16) * 64 + q * 8);
    }
    if (q < 2) {
        return xsave_q(snap, XSAVE_XMM_OFFSET + reg * 16 + q * 8);
    }
    if (q < 4) {
        return xsave_q(snap, XSAVE_YMM_HI_OFFSET + reg * 16 + (q - 2) * 8);
    }
    return xsave_q(snap, XSAVE_ZMM_HI_OFFSET + reg * 32 + (q - 4) * 8);
}

static void dump_vector_regs(GString *out, const DumpMode *m,
                             const KVMRegSnapshot *snap)
{
    const uint64_t avx512 = XSTATE_OPMASK | XSTATE_ZMM_HI256 | XSTATE_HI16_ZMM |
                            XSTATE_YMM | XSTATE_SSE;
    const uint64_t avx = XSTATE_YMM | XSTATE_SSE;
    unsigned int nregs = m->cs64 ? 16 : 8;
    unsigned int nq;

    if (snap->have_xsave && (snap->xcr0 & avx512) == avx512) {
        for (unsigned int i = 0; i < 8; i++) {
            g_string_append_printf(out, "Opmask%02u=%016" PRIx64 "%s", i,
                                   xsave_q(snap, XSAVE_OPMASK_OFFSET + i * 8),
                                   (i & 3) == 3 ? "\n" : " ");
        }
        nregs = m->cs64 ? 32 : 8;
        nq = 8;
    } else if (snap->have_xsave && (snap->xcr0 & avx) == avx) {
        nq = 4;
    } else {
        for (unsigned int i = 0; i < nregs; i++) {
            g_string_append_printf(
                out, "XMM%02u=%016" PRIx64 " %016" PRIx64 "%s", i,
                xmm_q(snap, i, 1), xmm_q(snap, i, 0), i & 1 ? "\n" : " ");
        }
        return;
    }
    for (unsigned int i = 0; i < nregs; i++) {
        g_string_append_printf(out, "%s%02u=", nq == 8 ? "ZMM" : "YMM", i);
        for (unsigned int q = nq; q-- > 0;) {
            g_string_append_printf(out, "%016" PRIx64 "%s", vec_q(snap, i, q),
                                   q ? " " : "\n");
        }
    }
}

static void dump_fpu(GString *out, const DumpMode *m,
                     const KVMRegSnapshot *snap)
{
    const struct kvm_fpu *fpu = &snap->fpu;

    /* KVM's abridged tag word has a 1 bit per valid register, like QEMU. */
    g_string_append_printf(
        out, "FCW=%04x FSW=%04x [ST=%u] FTW=%02x MXCSR=%08x\n", fpu->fcw,
        fpu->fsw, (fpu->fsw >> 11) & 7, fpu->ftwx, fpu->mxcsr);
    for (unsigned int i = 0; i < 8; i++) {
        uint64_t mant;
        uint16_t exp;

        memcpy(&mant, &fpu->fpr[i][0], sizeof(mant));
        memcpy(&exp, &fpu->fpr[i][8], sizeof(exp));
        g_string_append_printf(out, "FPR%u=%016" PRIx64 " %04x%s", i, mant, exp,
                               i & 1 ? "\n" : " ");
    }
    dump_vector_regs(out, m, snap);
}

char *kvm_format_registers(const KVMRegSnapshot *snap)
{
    static const char *const seg_names[6] = {
        "ES", "CS", "SS", "DS", "FS", "GS",
    };
    const struct kvm_sregs *sr = &snap->sregs;
    const struct kvm_segment *segs[6] = {
        &sr->es, &sr->cs, &sr->ss, &sr->ds, &sr->fs, &sr->gs,
    };
    GString *out = g_string_sized_new(2048);
    DumpMode m = {
        .pe = sr->cr0 & 1,
        .lma = sr->efer & EFER_LMA,
    };

    m.cs64 = m.lma && sr->cs.l;
    dump_gprs(out, &m, snap);
    for (int i = 0; i < 6; i++) {
        dump_seg(out, &m, seg_names[i], segs[i]);
    }
    dump_seg(out, &m, "LDT", &sr->ldt);
    dump_seg(out, &m, "TR", &sr->tr);
    dump_system_regs(out, &m, snap);
    dump_fpu(out, &m, snap);
    return g_string_free(out, FALSE);
}
