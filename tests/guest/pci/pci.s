/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pci: PCI and edu test guest. The boot sector loads the rest of the image
 * over the legacy ATA ports and switches real -> protected -> long mode
 * (as tests/guest/dirty does); ring 3 then enumerates PCI through
 * 0xcf8/0xcfc, finds every edu (1234:11e8), and drives them forever with
 * MSI, shared level INTx through the IOAPIC, DMA and factorials, checking
 * every result and printing one line per round. Ring-0 code is only the
 * boot, the interrupt handlers and the halt on error. See README.md.
 */

    .include "uart.inc"
    .include "boot64.inc"
    .include "pcicfg.inc"

    .set BOOT_N_PD, 4              /* 4 GiB: RAM, PCI hole, IOAPIC, LAPIC */
    .set BOOT_N_GATES, 256         /* exceptions and every interrupt */

    .set STATUS, 0x5000            /* global counters (see README) */
    .set DEVTAB, 0x6000            /* one 64-byte entry per edu */
    .set MAX_DEV, 16
    .set BUSQ, 0x6800              /* bus numbers still to scan (bytes) */
    .set DMA_SRC, 0x100000         /* RAM side of the DMA (below 256 MiB: */
    .set DMA_DST, 0x101000         /* edu's default dma_mask is 28 bits) */

    .set LAPIC, 0xfee00000
    .set IOAPIC, 0xfec00000

    /* Vectors: MSI of device i, INTx of GSI g, spurious. */
    .set VEC_MSI, 0x40
    .set VEC_INTX, 0x60
    .set N_GSI, 24
    .set VEC_SPURIOUS, 0xff

    /* STATUS fields (u64 each). */
    .set S_ROUND, 0
    .set S_SPUR_INTX, 8
    .set S_MSI, 16
    .set S_INTX, 24
    .set S_DMA, 32
    .set S_FACT, 40
    .set S_SPUR_LAPIC, 48
    .set S_NDEV, 56
    .set S_APICID, 64
    .set S_SPUR_MSI, 72
    .set S_REPEAT, 80              /* INTx runs the LAPIC had queued twice */
    .set S_QUEUED, 88              /* u32: GSI g's vector in LAPIC IRR */

    /* DEVTAB entry fields. */
    .set D_BAR, 0                  /* u64 BAR 0 address */
    .set D_CFG, 8                  /* u32 0x80000000 | bus.dev.fn << 8 */
    .set D_LINE, 12                /* u8 interrupt line */
    .set D_MSICAP, 13              /* u8 offset of the MSI capability */
    .set D_MSION, 14               /* u8 1 while MSI is enabled */
    .set D_SEEN, 16                /* u32 status the last handler acked */
    .set D_SPUR, 20                /* u32 MSI vector with status 0 */
    .set D_MSI, 24                 /* u64 MSI interrupts handled */
    .set D_INTX, 32                /* u64 INTx interrupts handled */
    .set DEV_SIZE, 64

    /* edu registers (BAR 0, QEMU's docs/specs/edu.rst). */
    .set EDU_ID, 0x00
    .set EDU_LIVE, 0x04
    .set EDU_FACT, 0x08
    .set EDU_STATUS, 0x20
    .set EDU_IRQ_STATUS, 0x24
    .set EDU_IRQ_RAISE, 0x60
    .set EDU_IRQ_ACK, 0x64
    .set EDU_DMA_SRC, 0x80
    .set EDU_DMA_DST, 0x88
    .set EDU_DMA_COUNT, 0x90
    .set EDU_DMA_CMD, 0x98
    .set EDU_DMA_BUF, 0x40000
    /*
     * All of edu's 4 KiB buffer but the last quadword: QEMU's edu before
     * 8.0 refuses a transfer that ends at the end of the buffer (an
     * off-by-one), and this guest also runs there for comparison.
     */
    .set DMA_LEN, 4096 - 8

/* Sector 0, then sector 1 (0x7e00): the parameter block after its magic. */
    BOOT64_SECTOR0 "PCIGPB01", "pci error:"
    .quad   0x800000000            /* +8  wait limit: loop iterations */
    .quad   0                      /* +16 spin iterations after a round */
    .quad   0x1000000              /* +24 hold: spin with TPR blocking */

    BOOT64_LONG_MODE

    /* Our handlers over the fault stubs: MSI, INTx per GSI, spurious. */
    movl    $16, %esi                  /* the stubs are 16 bytes apart */
    movl    $IDT + VEC_MSI * 16, %edi
    movl    $msi_stubs, %eax
    movl    $MAX_DEV, %ecx
    call    set_gates
    movl    $IDT + VEC_INTX * 16, %edi
    movl    $intx_stubs, %eax
    movl    $N_GSI, %ecx
    call    set_gates
    movl    $IDT + VEC_SPURIOUS * 16, %edi
    movl    $lapic_spurious, %eax
    movl    $1, %ecx
    call    set_gates

    /* Clear counters and the device table. */
    movl    $STATUS, %edi
    xorl    %eax, %eax
    movl    $(DEVTAB + MAX_DEV * DEV_SIZE - STATUS) / 4, %ecx
    rep stosl

    /*
     * 8259s: initialise (vectors 0x20-0x2f, so a stray one is reported,
     * never mistaken for an exception) and mask every input; everything
     * here goes through the IOAPIC or MSI.
     */
    movb    $0x11, %al
    outb    %al, $0x20
    outb    %al, $0xa0
    movb    $0x20, %al
    outb    %al, $0x21
    movb    $0x28, %al
    outb    %al, $0xa1
    movb    $4, %al
    outb    %al, $0x21
    movb    $2, %al
    outb    %al, $0xa1
    movb    $1, %al
    outb    %al, $0x21
    outb    %al, $0xa1
    movb    $0xff, %al
    outb    %al, $0x21
    outb    %al, $0xa1

    /* LAPIC: mask LINT0 (ExtINT from the 8259), TPR 0, software enable. */
    movl    $LAPIC, %ecx
    movl    0x20(%rcx), %eax
    shrl    $24, %eax
    movl    %eax, STATUS + S_APICID
    movl    $0x10000, 0x350(%rcx)
    movl    $0, 0x80(%rcx)
    movl    $0x100 | VEC_SPURIOUS, 0xf0(%rcx)

    /* Ring 3 with IF = 1: interrupts arrive in the ring-3 workload. */
    BOOT64_ENTER_RING3 user_main, 1

/* ------------------------------------------------- ring 0: interrupts */
/*
 * MSI of device i (vector VEC_MSI + i): read the device's interrupt
 * status, ack exactly that, record it for the workload, count; a zero
 * status is a spurious MSI. Then EOI. Short: ring 0 is emulated.
 */
    .balign 16
msi_stubs:
    .set    i, 0
    .rept   MAX_DEV
    .balign 16
    pushq   %rbx
    movl    $i, %ebx
    jmp     msi_common
    .set    i, i + 1
    .endr

msi_common:
    pushq   %rax
    pushq   %rcx
    shll    $6, %ebx                   /* DEV_SIZE */
    addl    $DEVTAB, %ebx
    movq    D_BAR(%rbx), %rcx
    movl    EDU_IRQ_STATUS(%rcx), %eax
    testl   %eax, %eax
    jz      1f
    movl    %eax, EDU_IRQ_ACK(%rcx)
    movl    %eax, D_SEEN(%rbx)
    incq    D_MSI(%rbx)
    incq    STATUS + S_MSI
    jmp     2f
1:  incl    D_SPUR(%rbx)
    incq    STATUS + S_SPUR_MSI
2:  movl    $LAPIC, %ecx
    movl    $0, 0xb0(%rcx)             /* EOI */
    popq    %rcx
    popq    %rax
    popq    %rbx
    iretq

/*
 * INTx of GSI g (vector VEC_INTX + g, level): every edu on that line not
 * in MSI mode is checked; each nonzero status is acked and recorded. The
 * EOI clears the IOAPIC's remote IRR; a line still asserted (a device
 * raised after its check) delivers again, and that run finds it.
 *
 * A run that finds no status is spurious, with one exception: on hosts
 * where KVM runs under PVM (HOST.md) the LAPIC still has a level
 * interrupt's vector pending in IRR while its handler runs, and delivers
 * it a second time after the EOI (seen with QEMU under KVM too, with the
 * in-kernel and the split irqchip; never for edge or MSI). So each run
 * that found a status notes whether its own vector is in IRR; an empty
 * run right after such a run is that repeat (S_REPEAT, reported), any
 * other empty run is spurious (S_SPUR_INTX, an error): a line stuck
 * asserted shows as spurious after at most one repeat. On other hosts
 * IRR is clear here unless the line was asserted again, and then the
 * next run finds it.
 */
    .balign 16
intx_stubs:
    .set    i, 0
    .rept   N_GSI
    .balign 16
    pushq   %rbx
    movl    $i, %ebx
    jmp     intx_common
    .set    i, i + 1
    .endr

intx_common:
    pushq   %rax
    pushq   %rcx
    pushq   %rdx
    pushq   %rsi
    pushq   %rdi
    xorl    %esi, %esi                 /* devices found with a status */
    movl    $DEVTAB, %edi
    movl    STATUS + S_NDEV, %edx
1:  testl   %edx, %edx
    jz      3f
    cmpb    %bl, D_LINE(%rdi)
    jne     2f
    cmpb    $0, D_MSION(%rdi)
    jne     2f
    movq    D_BAR(%rdi), %rcx
    movl    EDU_IRQ_STATUS(%rcx), %eax
    testl   %eax, %eax
    jz      2f
    movl    %eax, EDU_IRQ_ACK(%rcx)
    movl    %eax, D_SEEN(%rdi)
    incq    D_INTX(%rdi)
    incq    STATUS + S_INTX
    incl    %esi
2:  addl    $DEV_SIZE, %edi
    decl    %edx
    jmp     1b
3:  movl    $LAPIC, %ecx
    testl   %esi, %esi
    jnz     6f
    btrl    %ebx, STATUS + S_QUEUED    /* empty: the repeat of the last? */
    jc      5f
    incq    STATUS + S_SPUR_INTX
    jmp     4f
5:  incq    STATUS + S_REPEAT
    jmp     4f
6:  movl    0x230(%rcx), %eax          /* IRR, vectors 0x60-0x7f: bit g */
    btl     %ebx, %eax
    jnc     7f
    btsl    %ebx, STATUS + S_QUEUED    /* this vector is pending again */
    jmp     4f
7:  btrl    %ebx, STATUS + S_QUEUED
4:  movl    $0, 0xb0(%rcx)             /* EOI */
    popq    %rdi
    popq    %rsi
    popq    %rdx
    popq    %rcx
    popq    %rax
    popq    %rbx
    iretq

/* The LAPIC's spurious vector needs no EOI; counted, reported per round. */
lapic_spurious:
    incq    STATUS + S_SPUR_LAPIC
    iretq

/*
 * Any other vector (exception or stray interrupt): name it, print the
 * frame in hex and halt. Ring 3 stops after an error line with a hlt at
 * user_halt, which faults (#GP): that one is no new error, just halt. (A
 * software interrupt would be simpler, but PVM raises #UD for int n in
 * ring 3.)
 */
fault:
    cmpb    $13, %bl
    jne     fault_report
    cmpq    $user_halt, 8(%rsp)        /* rip, after the error code */
    je      halt_forever
    jmp     fault_report

    BOOT64_FAULTS puthex64, fault

/* ------------------------------------------------------------- ring 3 */
user_main:
    call    enumerate
    call    route_intx
    movl    $msg_ready, %esi
    call    puts64
    movq    STATUS + S_NDEV, %rax
    call    putdec64
    movl    $msg_ready2, %esi
    call    puts64

round:
    xorl    %r12d, %r12d               /* device index */
1:  call    dev_ptr
    call    msi_phase
    call    fact_check
    incl    %r12d
    cmpl    STATUS + S_NDEV, %r12d
    jb      1b
    call    intx_phase
    call    held_phase
    call    dma_phase
    call    check_spurious
    call    progress
    incq    STATUS + S_ROUND
    movq    param_block + 16, %rcx
    testq   %rcx, %rcx
    jz      round
2:  decq    %rcx
    jnz     2b
    jmp     round

/* dev_ptr: %rbx = &DEVTAB[%r12d]. */
dev_ptr:
    movl    %r12d, %ebx
    shll    $6, %ebx
    addl    $DEVTAB, %ebx
    ret

/*
 * raise_value: a status value unique to (round, device, kind %r13d):
 * bit 31 | round[18:0] << 12 | device << 8 | kind. Never 0, never 0x100.
 */
raise_value:
    movq    STATUS + S_ROUND, %rax
    andl    $0x7ffff, %eax
    shll    $12, %eax
    orl     $0x80000000, %eax
    movl    %r12d, %ecx
    shll    $8, %ecx
    orl     %ecx, %eax
    orl     %r13d, %eax
    ret

/* (a) MSI: enable, raise a unique value, wait for exactly it, disable. */
msi_phase:
    call    msi_on
    movl    $0x11, %r13d
    call    raise_value
    movl    $0, D_SEEN(%rbx)
    movq    D_BAR(%rbx), %rcx
    movl    %eax, EDU_IRQ_RAISE(%rcx)
    movl    $msg_msi, %r14d
    call    wait_seen
    call    msi_off
    ret

/*
 * (b) INTx: every device raises (MSI off), then every value must come
 * back through the level handler(s) of its line; devices sharing a line
 * are served by one handler run or by successive ones.
 */
intx_phase:
    xorl    %r12d, %r12d
1:  call    dev_ptr
    movl    $0, D_SEEN(%rbx)
    movl    $0x22, %r13d
    call    raise_value
    movq    D_BAR(%rbx), %rcx
    movl    %eax, EDU_IRQ_RAISE(%rcx)
    incl    %r12d
    cmpl    STATUS + S_NDEV, %r12d
    jb      1b
    xorl    %r12d, %r12d
2:  call    dev_ptr
    movl    $0x22, %r13d
    call    raise_value
    movl    $msg_intx, %r14d
    call    wait_seen
    incl    %r12d
    cmpl    STATUS + S_NDEV, %r12d
    jb      2b
    ret

/*
 * Held: with the LAPIC's TPR at 0xf0 no vector of ours is delivered, so
 * every edu raises (even-numbered ones by MSI, odd ones by INTx) and the
 * interrupts stay pending, in the LAPIC's IRR and for INTx as an
 * asserted level with the IOAPIC's remote IRR set, while the guest spins
 * for the hold count: a live update or migration that lands there must
 * carry that state. None may arrive before TPR goes back to 0; then each
 * must, exactly once.
 */
held_phase:
    movl    $LAPIC, %ecx
    movl    $0xf0, 0x80(%rcx)          /* TPR */
    xorl    %r12d, %r12d
1:  call    dev_ptr
    testl   $1, %r12d
    jnz     2f
    call    msi_on
2:  movl    $0, D_SEEN(%rbx)
    movl    $0x33, %r13d
    call    raise_value
    movq    D_BAR(%rbx), %rcx
    movl    %eax, EDU_IRQ_RAISE(%rcx)
    incl    %r12d
    cmpl    STATUS + S_NDEV, %r12d
    jb      1b
    movq    param_block + 24, %rcx
    testq   %rcx, %rcx
    jz      4f
3:  decq    %rcx
    jnz     3b
4:  xorl    %r12d, %r12d               /* nothing got through TPR */
5:  call    dev_ptr
    cmpl    $0, D_SEEN(%rbx)
    jne     held_early
    incl    %r12d
    cmpl    STATUS + S_NDEV, %r12d
    jb      5b
    movl    $LAPIC, %ecx
    movl    $0, 0x80(%rcx)
    xorl    %r12d, %r12d
6:  call    dev_ptr
    movl    $0x33, %r13d
    call    raise_value
    movl    $msg_held_msi, %r14d
    testl   $1, %r12d
    jz      7f
    movl    $msg_held_intx, %r14d
7:  call    wait_seen
    testl   $1, %r12d
    jnz     8f
    call    msi_off
8:  incl    %r12d
    cmpl    STATUS + S_NDEV, %r12d
    jb      6b
    ret

held_early:
    call    error_begin
    movl    $msg_early, %esi
    call    puts64
    movl    %r12d, %eax
    call    putdec64
    jmp     error_end

/*
 * (c) DMA on device round mod n, its completion interrupt by INTx on even
 * rounds and by MSI on odd ones: a pattern from the round number goes
 * RAM -> edu buffer -> another RAM buffer, which must then equal it.
 */
dma_phase:
    movq    STATUS + S_ROUND, %rax
    xorl    %edx, %edx
    divq    STATUS + S_NDEV
    movl    %edx, %r12d
    call    dev_ptr
    testb   $1, STATUS + S_ROUND
    jz      1f
    call    msi_on
1:  movq    STATUS + S_ROUND, %rax     /* pattern: x = round * K + k * L */
    movabsq $0x9e3779b97f4a7c15, %rcx
    imulq   %rcx, %rax
    movabsq $0x0101010101010101, %rdx
    movl    $DMA_SRC, %edi
    movl    $DMA_LEN / 8, %ecx
2:  movq    %rax, (%rdi)
    notq    %rax
    movq    %rax, DMA_DST - DMA_SRC(%rdi)
    notq    %rax
    addq    %rdx, %rax
    addq    $8, %rdi
    decl    %ecx
    jnz     2b
    movl    $DMA_SRC, %eax
    movl    $EDU_DMA_BUF, %edx
    movl    $0x5, %ecx                 /* start, RAM -> edu, interrupt */
    call    dma_run
    movl    $EDU_DMA_BUF, %eax
    movl    $DMA_DST, %edx
    movl    $0x7, %ecx                 /* start, edu -> RAM, interrupt */
    call    dma_run
    movl    $DMA_SRC, %esi
    movl    $DMA_DST, %edi
    movl    $DMA_LEN / 8, %ecx
    repe cmpsq
    jne     dma_mismatch
    incq    STATUS + S_DMA
    testb   $1, STATUS + S_ROUND
    jz      3f
    call    msi_off
3:  ret

dma_mismatch:
    call    error_begin
    movl    $msg_dma, %esi
    call    puts64
    movl    %r12d, %eax
    call    putdec64
    movl    $msg_offset, %esi
    call    puts64
    leaq    -8(%rdi), %rax
    subq    $DMA_DST, %rax
    call    putdec64
    jmp     error_end

/* dma_run: src %rax, dst %rdx, command %ecx, DMA_LEN bytes; wait 0x100. */
dma_run:
    movq    D_BAR(%rbx), %rsi
    movl    $0, D_SEEN(%rbx)
    movq    %rax, EDU_DMA_SRC(%rsi)
    movq    %rdx, EDU_DMA_DST(%rsi)
    movq    $DMA_LEN, EDU_DMA_COUNT(%rsi)
    movq    %rcx, EDU_DMA_CMD(%rsi)
    movl    $0x100, %eax
    movl    $msg_dmairq, %r14d
    jmp     wait_seen

/* Factorial of 1 + (round + device) mod 12, polled, against our own. */
fact_check:
    movq    STATUS + S_ROUND, %rax
    addq    %r12, %rax
    xorl    %edx, %edx
    movl    $12, %ecx
    divq    %rcx
    leal    1(%rdx), %r13d             /* n */
    movl    $1, %r8d                   /* n! */
    movl    %r13d, %ecx
1:  imull   %ecx, %r8d
    decl    %ecx
    jnz     1b
    movq    D_BAR(%rbx), %rsi
    movl    %r13d, EDU_FACT(%rsi)
    movq    param_block + 8, %rcx
2:  testl   $1, EDU_STATUS(%rsi)       /* computing */
    jz      3f
    decq    %rcx
    jnz     2b
3:  movl    EDU_FACT(%rsi), %eax
    cmpl    %r8d, %eax
    jne     fact_wrong
    incq    STATUS + S_FACT
    ret

fact_wrong:
    movl    %eax, %ebp
    call    error_begin
    movl    $msg_fact, %esi
    call    puts64
    movl    %r12d, %eax
    call    putdec64
    movl    $msg_fact2, %esi
    call    puts64
    movl    %r13d, %eax
    call    putdec64
    movl    $msg_got, %esi
    call    puts64
    movl    %ebp, %eax
    call    putdec64
    movl    $msg_want, %esi
    call    puts64
    movl    %r8d, %eax
    call    putdec64
    jmp     error_end

/*
 * wait_seen: wait until device %rbx's handler recorded a status, which
 * must equal %eax. Waiting longer than the wait limit (loop iterations,
 * which stand still while the guest is paused) is a lost interrupt.
 * %r14 names what was awaited.
 */
wait_seen:
    movl    %eax, %r8d
    movq    param_block + 8, %rcx
1:  movl    D_SEEN(%rbx), %eax
    testl   %eax, %eax
    jnz     2f
    decq    %rcx
    jnz     1b
    call    error_begin
    movl    $msg_lost, %esi
    call    puts64
    jmp     3f
2:  cmpl    %r8d, %eax
    jne     4f
    ret
4:  movl    %eax, %ebp
    call    error_begin
    movl    $msg_badval, %esi
    call    puts64
    movl    %ebp, %eax
    call    puthex64
    movl    $msg_for, %esi
    call    puts64
3:  movl    %r14d, %esi
    call    puts64
    movl    $msg_of, %esi
    call    puts64
    movl    %r12d, %eax
    call    putdec64
    movl    $msg_expect, %esi
    call    puts64
    movl    %r8d, %eax
    call    puthex64
    jmp     error_end

/* No spurious interrupt of any kind so far. */
check_spurious:
    movq    STATUS + S_SPUR_INTX, %rax
    orq     STATUS + S_SPUR_MSI, %rax
    orq     STATUS + S_SPUR_LAPIC, %rax
    jnz     1f
    ret
1:  call    error_begin
    movl    $msg_spurious, %esi
    call    puts64
    movq    STATUS + S_SPUR_INTX, %rax
    call    putdec64
    movl    $msg_spur_msi, %esi
    call    puts64
    movq    STATUS + S_SPUR_MSI, %rax
    call    putdec64
    movl    $msg_spur_lapic, %esi
    call    puts64
    movq    STATUS + S_SPUR_LAPIC, %rax
    call    putdec64
    jmp     error_end

/* "round N msi M intx I dma D fact F spurious 0 repeat R" */
progress:
    movl    $msg_round, %esi
    call    puts64
    movq    STATUS + S_ROUND, %rax
    call    putdec64
    movl    $msg_p_msi, %esi
    call    puts64
    movq    STATUS + S_MSI, %rax
    call    putdec64
    movl    $msg_p_intx, %esi
    call    puts64
    movq    STATUS + S_INTX, %rax
    call    putdec64
    movl    $msg_p_dma, %esi
    call    puts64
    movq    STATUS + S_DMA, %rax
    call    putdec64
    movl    $msg_p_fact, %esi
    call    puts64
    movq    STATUS + S_FACT, %rax
    call    putdec64
    movl    $msg_p_spur, %esi
    call    puts64
    movq    STATUS + S_SPUR_INTX, %rax
    addq    STATUS + S_SPUR_MSI, %rax
    addq    STATUS + S_SPUR_LAPIC, %rax
    call    putdec64
    movl    $msg_p_repeat, %esi
    call    puts64
    movq    STATUS + S_REPEAT, %rax
    call    putdec64
    movb    $'\n', %al
    jmp     putc64

/* "pci error: round N: " ... error_end: "\n" and halt. */
error_begin:
    movl    $msg_error, %esi
    call    puts64
    movq    STATUS + S_ROUND, %rax
    call    putdec64
    movl    $msg_colon, %esi
    jmp     puts64

error_end:
    movb    $'\n', %al
    call    putc64
user_halt:
    hlt                                /* #GP: see halt_forever */
    jmp     user_halt

/* ------------------------------------------------ ring 3: PCI config */
    PCI_CFG_ROUTINES

/*
 * enumerate: scan bus 0, and the secondary bus of every PCI-PCI bridge
 * found (a queue of bus numbers), for edu functions; fill DEVTAB.
 * %r12 = bus, %r13 = device, %r14 = function, %r15 = queue index.
 */
enumerate:
    movb    $0, BUSQ
    movl    $1, %ebp                   /* queue length */
    xorl    %r15d, %r15d
next_bus:
    cmpl    %ebp, %r15d
    jae     enum_done
    movzbl  BUSQ(%r15), %r12d
    incl    %r15d
    xorl    %r13d, %r13d
next_slot:
    xorl    %r14d, %r14d
next_fn:
    movl    %r12d, %edi
    shll    $5, %edi
    orl     %r13d, %edi
    shll    $3, %edi
    orl     %r14d, %edi
    shll    $8, %edi
    orl     $0x80000000, %edi
    xorl    %esi, %esi
    call    cfg_read32
    cmpw    $0xffff, %ax
    je      fn_absent
    movl    %eax, %ebx                 /* vendor | device << 16 */
    movl    $0x0e, %esi
    call    cfg_read8
    testl   %r14d, %r14d
    jnz     1f
    movl    %eax, %r8d                 /* function 0's header type */
1:  andl    $0x7f, %eax
    cmpl    $1, %eax                   /* PCI-PCI bridge */
    jne     2f
    movl    $0x19, %esi                /* secondary bus */
    call    cfg_read8
    testl   %eax, %eax
    jz      2f
    cmpl    $256, %ebp
    jae     2f
    movb    %al, BUSQ(%rbp)
    incl    %ebp
2:  cmpl    $0x11e81234, %ebx
    jne     3f
    call    add_edu
3:  testl   %r14d, %r14d
    jnz     next_fn_inc
    testb   $0x80, %r8b                /* multi-function? */
    jz      slot_done
next_fn_inc:
    incl    %r14d
    cmpl    $8, %r14d
    jb      next_fn
    jmp     slot_done
fn_absent:
    testl   %r14d, %r14d
    jnz     next_fn_inc
slot_done:
    incl    %r13d
    cmpl    $32, %r13d
    jb      next_slot
    jmp     next_bus
enum_done:
    cmpq    $0, STATUS + S_NDEV
    jne     1f
    call    error_begin
    movl    $msg_nodev, %esi
    call    puts64
    jmp     error_end
1:  ret

/*
 * add_edu (%edi = config address): BAR 0 as reset left it, interrupt
 * line, MSI capability; memory decoding and bus mastering on; check the
 * identification and liveness registers through BAR 0; print a line.
 */
add_edu:
    pushq   %rbp
    pushq   %r8
    movq    STATUS + S_NDEV, %rbx
    cmpl    $MAX_DEV, %ebx
    jb      1f
    call    error_begin
    movl    $msg_toomany, %esi
    call    puts64
    jmp     error_end
1:  shll    $6, %ebx
    addl    $DEVTAB, %ebx
    movl    %edi, D_CFG(%rbx)
    movl    $0x10, %esi
    call    cfg_read32
    movl    %eax, %ebp
    andl    $~0xf, %eax
    movq    %rax, D_BAR(%rbx)
    testl   $4, %ebp                   /* 64-bit BAR: high half at 0x14 */
    jz      2f
    movl    $0x14, %esi
    call    cfg_read32
    movl    %eax, D_BAR + 4(%rbx)
2:  movl    $0x3c, %esi
    call    cfg_read8
    movb    %al, D_LINE(%rbx)
    movl    $0x34, %esi                /* capability list */
    call    cfg_read8
    movl    $48, %ebp                  /* at most this many entries */
3:  andl    $0xfc, %eax
    jz      4f
    movl    %eax, %esi
    call    cfg_read8
    cmpl    $5, %eax                   /* MSI */
    je      5f
    incl    %esi
    call    cfg_read8
    decl    %ebp
    jnz     3b
4:  xorl    %esi, %esi
5:  movb    %sil, D_MSICAP(%rbx)
    movl    $0x04, %esi                /* COMMAND |= memory, bus master */
    call    cfg_read16
    orl     $0x6, %eax
    movl    %eax, %ecx
    call    cfg_write16

    call    print_edu
    /* Sanity: a BAR, a usable line, MSI, and edu answering in BAR 0. */
    movq    D_BAR(%rbx), %rsi
    testq   %rsi, %rsi
    jz      bad_edu
    cmpb    $N_GSI, D_LINE(%rbx)
    jae     bad_edu
    cmpb    $0, D_MSICAP(%rbx)
    je      bad_edu
    movl    EDU_ID(%rsi), %eax
    cmpw    $0x00ed, %ax
    jne     bad_edu
    movl    $0x5aa5c33c, EDU_LIVE(%rsi)
    movl    EDU_LIVE(%rsi), %eax
    cmpl    $~0x5aa5c33c, %eax
    jne     bad_edu
    incq    STATUS + S_NDEV
    popq    %r8
    popq    %rbp
    ret

bad_edu:
    call    error_begin
    movl    $msg_badedu, %esi
    call    puts64
    movq    STATUS + S_NDEV, %rax
    call    putdec64
    movl    $msg_badedu2, %esi
    call    puts64
    jmp     error_end

/* "pci edu N BB:DD.F bar0 0xADDR irq L msi-cap 0xCC" */
print_edu:
    movl    $msg_edu, %esi
    call    puts64
    movq    STATUS + S_NDEV, %rax
    call    putdec64
    movb    $' ', %al
    call    putc64
    movl    D_CFG(%rbx), %eax
    shrl    $16, %eax
    call    puthex2
    movb    $':', %al
    call    putc64
    movl    D_CFG(%rbx), %eax
    shrl    $11, %eax
    andl    $0x1f, %eax
    call    puthex2
    movb    $'.', %al
    call    putc64
    movl    D_CFG(%rbx), %eax
    shrl    $8, %eax
    andl    $7, %eax
    addb    $'0', %al
    call    putc64
    movl    $msg_bar0, %esi
    call    puts64
    movq    D_BAR(%rbx), %rax
    call    puthex64
    movl    $msg_irq, %esi
    call    puts64
    movzbl  D_LINE(%rbx), %eax
    call    putdec64
    movl    $msg_msicap, %esi
    call    puts64
    movzbl  D_MSICAP(%rbx), %eax
    call    puthex64
    movb    $'\n', %al
    jmp     putc64

/*
 * route_intx: an IOAPIC redirection entry for the line of every edu:
 * vector VEC_INTX + line, fixed, physical destination this CPU, level
 * triggered, active low (PCI INTx as ACPI describes it on these chipsets;
 * KVM's in-kernel IOAPIC ignores the polarity bit), unmasked.
 */
route_intx:
    xorl    %r12d, %r12d
1:  call    dev_ptr
    movzbl  D_LINE(%rbx), %eax
    movl    $IOAPIC, %ecx
    leal    0x11(,%rax,2), %edx        /* high dword of entry */
    movl    %edx, (%rcx)
    movl    STATUS + S_APICID, %edx
    shll    $24, %edx
    movl    %edx, 0x10(%rcx)
    leal    0x10(,%rax,2), %edx        /* low dword */
    movl    %edx, (%rcx)
    addl    $VEC_INTX | 0xa000, %eax   /* level (bit 15), low (bit 13) */
    movl    %eax, 0x10(%rcx)
    incl    %r12d
    cmpl    STATUS + S_NDEV, %r12d
    jb      1b
    ret

/*
 * msi_on: the message (this CPU's LAPIC, vector VEC_MSI + index, fixed,
 * edge) into device %rbx's MSI capability, one vector, then enable. The
 * INTx handler skips the device from before the enable.
 */
msi_on:
    movl    D_CFG(%rbx), %edi
    movzbl  D_MSICAP(%rbx), %esi
    addl    $4, %esi
    movl    STATUS + S_APICID, %ecx
    shll    $12, %ecx
    orl     $LAPIC, %ecx
    call    cfg_write32                /* address low */
    movzbl  D_MSICAP(%rbx), %esi
    addl    $2, %esi
    call    cfg_read16
    movl    %eax, %ebp                 /* message control */
    movzbl  D_MSICAP(%rbx), %esi
    addl    $8, %esi
    testl   $0x80, %ebp                /* 64-bit: address high, data +12 */
    jz      1f
    xorl    %ecx, %ecx
    call    cfg_write32
    addl    $4, %esi
1:  leal    VEC_MSI(%r12), %ecx
    call    cfg_write16
    movb    $1, D_MSION(%rbx)
    movzbl  D_MSICAP(%rbx), %esi
    addl    $2, %esi
    movl    %ebp, %ecx
    andl    $~0x70, %ecx               /* one vector */
    orl     $1, %ecx
    jmp     cfg_write16

msi_off:
    movl    D_CFG(%rbx), %edi
    movzbl  D_MSICAP(%rbx), %esi
    addl    $2, %esi
    call    cfg_read16
    movl    %eax, %ecx
    andl    $~1, %ecx
    call    cfg_write16
    movb    $0, D_MSION(%rbx)
    ret

/* ---------------------------------------------------- output (any ring) */
    UART_ROUTINES64

/* puthex2: print %al as two hex digits. Clobbers %rax. */
puthex2:
    pushq   %rax
    shrb    $4, %al
    andl    $0xf, %eax
    movb    hexdigits(%rax), %al
    call    putc64
    popq    %rax
    andl    $0xf, %eax
    movb    hexdigits(%rax), %al
    jmp     putc64

msg_ready:
    .asciz  "pci ready: "
msg_ready2:
    .asciz  " edu\n"
msg_edu:
    .asciz  "pci edu "
msg_bar0:
    .asciz  " bar0 "
msg_irq:
    .asciz  " irq "
msg_msicap:
    .asciz  " msi-cap "
msg_round:
    .asciz  "round "
msg_p_msi:
    .asciz  " msi "
msg_p_intx:
    .asciz  " intx "
msg_p_dma:
    .asciz  " dma "
msg_p_fact:
    .asciz  " fact "
msg_p_spur:
    .asciz  " spurious "
msg_p_repeat:
    .asciz  " repeat "
msg_error:
    .asciz  "pci error: round "
msg_colon:
    .asciz  ": "
msg_fault:
    .asciz  "pci error: exception or unexpected interrupt, vector "
msg_nodev:
    .asciz  "no edu device (1234:11e8) found"
msg_toomany:
    .asciz  "more than 16 edu devices"
msg_badedu:
    .asciz  "edu "
msg_badedu2:
    .asciz  " unusable: no BAR 0, line or MSI, or BAR 0 not edu"
msg_lost:
    .asciz  "lost interrupt: no "
msg_badval:
    .asciz  "wrong interrupt status "
msg_for:
    .asciz  " for "
msg_msi:
    .asciz  "MSI"
msg_intx:
    .asciz  "INTx"
msg_dmairq:
    .asciz  "DMA completion interrupt"
msg_held_msi:
    .asciz  "held MSI"
msg_held_intx:
    .asciz  "held INTx"
msg_early:
    .asciz  "interrupt delivered while TPR blocked it: edu "
msg_of:
    .asciz  " of edu "
msg_expect:
    .asciz  ", expected "
msg_dma:
    .asciz  "DMA result differs: edu "
msg_offset:
    .asciz  " at byte "
msg_fact:
    .asciz  "factorial wrong: edu "
msg_fact2:
    .asciz  " n "
msg_got:
    .asciz  " got "
msg_want:
    .asciz  " want "
msg_spurious:
    .asciz  "spurious interrupts: INTx "
msg_spur_msi:
    .asciz  " MSI "
msg_spur_lapic:
    .asciz  " LAPIC "

    BOOT64_IMAGE_END
