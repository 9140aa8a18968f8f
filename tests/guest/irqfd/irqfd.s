/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * irqfd: the guest side of x-pci-test irqfd=on under KVM. Boots like pci
 * (tests/guest/common/boot64.inc), then in ring 3: INTx first, level
 * through the IOAPIC, the device's INTx register held at 1 until the
 * handler has seen it K times (each time KVM's resample must make baton
 * assert it again), then cleared; then MSI-X vector 0, counted forever,
 * with a line each time the count changes. See README.md.
 */

    .include "uart.inc"
    .include "boot64.inc"
    .include "pcicfg.inc"

    .set BOOT_N_PD, 4              /* 4 GiB: RAM, PCI hole, IOAPIC, LAPIC */
    .set BOOT_N_GATES, 256

    .set LAPIC, 0xfee00000
    .set IOAPIC, 0xfec00000
    .set VEC_MSIX, 0x41
    .set VEC_INTX, 0x50
    .set VEC_SPURIOUS, 0xff

    /* Counters and variables (u64 each). */
    .set VARS, 0x5000
    .set V_MSIX, VARS + 0          /* MSI-X interrupts */
    .set V_REAL, VARS + 8          /* INTx runs that found the level set */
    .set V_REPEAT, VARS + 16       /* the LAPIC's second delivery (README) */
    .set V_SPUR, VARS + 24         /* INTx runs with nothing behind them */
    .set V_QUEUED, VARS + 32       /* the last real run saw its vector in IRR */
    .set V_BAR0, VARS + 40
    .set V_APICID, VARS + 48
    .set V_LAPIC_SPUR, VARS + 56
    .set V_K, VARS + 64            /* real runs before the handler clears */

    /* x-pci-test: BAR 0 INTx register (docs/system/pci.md). */
    .set T_INTX, 0xf00

/* Sector 0, then the parameter block (0x7e00). */
    BOOT64_SECTOR0 "IRQFDGP1", "irqfd error:"
    .long   0x80001800             /* +8  config address: 00:03.0 */
    .long   5                      /* +12 K: INTx deliveries before clearing */
    .quad   0x800000000            /* +16 wait limit: loop iterations */
    .quad   0x4000000              /* +24 settle: spin after the clear */

    BOOT64_LONG_MODE

    movl    $16, %esi
    movl    $IDT + VEC_MSIX * 16, %edi
    movl    $msix_handler, %eax
    movl    $1, %ecx
    call    set_gates
    movl    $IDT + VEC_INTX * 16, %edi
    movl    $intx_handler, %eax
    movl    $1, %ecx
    call    set_gates
    movl    $IDT + VEC_SPURIOUS * 16, %edi
    movl    $lapic_spurious, %eax
    movl    $1, %ecx
    call    set_gates

    movl    $VARS, %edi
    xorl    %eax, %eax
    movl    $18, %ecx
    rep stosl
    movl    param_block + 12, %eax
    movq    %rax, V_K

    /* Both 8259s initialised (vectors 0x20-0x2f) and fully masked. */
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

    /* LAPIC: LINT0 masked, TPR 0, software-enabled. */
    movl    $LAPIC, %ecx
    movl    0x20(%rcx), %eax
    shrl    $24, %eax
    movq    %rax, V_APICID
    movl    $0x10000, 0x350(%rcx)
    movl    $0, 0x80(%rcx)
    movl    $0x100 | VEC_SPURIOUS, 0xf0(%rcx)

    BOOT64_ENTER_RING3 user_main, 1

/* ------------------------------------------------- ring 0: interrupts */
msix_handler:
    pushq   %rax
    incq    V_MSIX
    movl    $LAPIC, %eax
    movl    $0, 0xb0(%rax)             /* EOI */
    popq    %rax
    iretq

/*
 * INTx: a run right after a real one that saw its own vector pending in
 * IRR is the LAPIC's repeat (PVM hosts, tests/guest/pci/README.md), not a
 * new assertion; otherwise the device's register says whether the level
 * is set (real) or not (spurious). The K-th real run clears the register.
 */
intx_handler:
    pushq   %rax
    pushq   %rcx
    btrq    $0, V_QUEUED
    jc      3f
    movq    V_BAR0, %rcx
    movl    T_INTX(%rcx), %eax
    testl   %eax, %eax
    jz      4f
    incq    V_REAL
    movq    V_REAL, %rax
    cmpq    V_K, %rax
    jb      1f
    movl    $0, T_INTX(%rcx)           /* the device condition is gone */
1:  movl    $LAPIC, %ecx
    movl    0x220(%rcx), %eax          /* IRR, vectors 0x40-0x5f */
    btl     $VEC_INTX - 0x40, %eax
    jnc     5f
    btsq    $0, V_QUEUED
    jmp     5f
3:  incq    V_REPEAT
    jmp     5f
4:  incq    V_SPUR
5:  movl    $LAPIC, %ecx
    movl    $0, 0xb0(%rcx)             /* EOI: KVM resamples the level */
    popq    %rcx
    popq    %rax
    iretq

lapic_spurious:
    incq    V_LAPIC_SPUR
    iretq

fault:
    cmpb    $13, %bl
    jne     fault_report
    cmpq    $user_halt, 8(%rsp)
    je      halt_forever
    jmp     fault_report

    BOOT64_FAULTS puthex64, fault

/* ------------------------------------------------------------- ring 3 */
user_main:
    movl    param_block + 8, %edi
    movl    $0x00, %esi
    call    cfg_read32
    cmpl    $0x00fe1b36, %eax          /* x-pci-test */
    jne     no_device
    movl    $0x10, %esi
    call    cfg_read32
    andl    $~0xf, %eax
    movq    %rax, V_BAR0
    movl    $0x3c, %esi
    call    cfg_read8
    movl    %eax, %r12d                /* the line (GSI) */
    movl    $msg_line, %esi
    call    puts64
    movl    %r12d, %eax
    call    putdec64
    movb    $'\n', %al
    call    putc64

    /* IOAPIC entry of the line: VEC_INTX, fixed, level, active high. */
    movl    $IOAPIC, %ecx
    leal    0x11(,%r12,2), %edx
    movl    %edx, (%rcx)
    movq    V_APICID, %rdx
    shll    $24, %edx
    movl    %edx, 0x10(%rcx)
    leal    0x10(,%r12,2), %edx
    movl    %edx, (%rcx)
    movl    $VEC_INTX | 0x8000, 0x10(%rcx)

    /* INTx: set the level; wait for K real runs; settle; report. */
    movq    V_BAR0, %rcx
    movl    $1, T_INTX(%rcx)
    movq    param_block + 16, %rcx
1:  movl    param_block + 12, %eax
    cmpq    %rax, V_REAL
    jae     2f
    decq    %rcx
    jnz     1b
    movl    $msg_lost, %esi
    call    puts64
    call    report_intx
    jmp     user_halt
2:  movq    param_block + 24, %rcx
3:  decq    %rcx
    jnz     3b
    movl    $msg_intx, %esi
    call    puts64
    call    report_intx

    /* MSI-X vector 0: this CPU, VEC_MSIX, unmasked; MSI-X enabled. */
    movl    param_block + 8, %edi
    movl    $0x34, %esi
    call    cfg_read8
4:  testl   %eax, %eax
    jz      no_device
    movl    %eax, %ebx
    movl    %ebx, %esi
    call    cfg_read8
    cmpl    $0x11, %eax
    je      5f
    leal    1(%rbx), %esi
    call    cfg_read8
    jmp     4b
5:  movl    $0x20, %esi                /* BAR 4: the table at offset 0 */
    call    cfg_read32
    andl    $~0xf, %eax
    movq    %rax, %r14
    movq    V_APICID, %rdx
    shll    $12, %edx
    orl     $LAPIC, %edx
    movl    %edx, 0(%rax)
    movl    $0, 4(%rax)
    movl    $VEC_MSIX, 8(%rax)
    movl    $0, 12(%rax)
    leal    2(%rbx), %esi
    movl    $0x8000, %ecx
    call    cfg_write16
    movl    $msg_ready, %esi
    call    puts64

    /*
     * Forever: a line whenever a count changed, and the commands the
     * test types on the serial port: m (mask vector 0), u (unmask), p
     * (print the PBA's first dword), i (hold the INTx level for good),
     * c (clear it), k (mask the line's IOAPIC entry), l (unmask it),
     * each answered with one line.
     */
    xorl    %r13d, %r13d
    movq    V_REAL, %r15
6:  movq    V_REAL, %rax
    cmpq    %r15, %rax
    je      5f
    movq    %rax, %r15
    movl    $msg_intx_n, %esi
    call    puts64
    movq    %r15, %rax
    call    putdec64
    movb    $'\n', %al
    call    putc64
5:  movq    V_MSIX, %rax
    cmpq    %r13, %rax
    je      7f
    movq    %rax, %r13
    movl    $msg_msix, %esi
    call    puts64
    movq    %r13, %rax
    call    putdec64
    movb    $'\n', %al
    call    putc64
7:  movw    $UART_LSR, %dx
    inb     %dx, %al
    testb   $1, %al                    /* data ready */
    jz      6b
    movw    $UART_THR, %dx             /* the receive buffer, on read */
    inb     %dx, %al
    cmpb    $'m', %al
    jne     8f
    movl    $1, 12(%r14)               /* vector control: masked */
    movl    $msg_masked, %esi
    call    puts64
    jmp     6b
8:  cmpb    $'u', %al
    jne     9f
    movl    $0, 12(%r14)
    movl    $msg_unmasked, %esi
    call    puts64
    jmp     6b
9:  cmpb    $'i', %al
    jne     10f
    movq    $-1, V_K                   /* never cleared by the handler */
    movq    V_BAR0, %rcx
    movl    $1, T_INTX(%rcx)
    movl    $msg_intx_on, %esi
    call    puts64
    jmp     6b
10: cmpb    $'c', %al
    jne     11f
    movq    V_BAR0, %rcx
    movl    $0, T_INTX(%rcx)
    movl    $msg_intx_off, %esi
    call    puts64
    jmp     6b
11: cmpb    $'k', %al
    jne     12f
    movl    $VEC_INTX | 0x18000, %ecx  /* the pin's entry, masked */
    call    ioapic_entry
    movl    $msg_pin_masked, %esi
    call    puts64
    jmp     6b
12: cmpb    $'l', %al
    jne     13f
    movl    $VEC_INTX | 0x8000, %ecx
    call    ioapic_entry
    movl    $msg_pin_unmasked, %esi
    call    puts64
    jmp     6b
13: cmpb    $'p', %al
    jne     6b
    movl    $msg_pba, %esi
    call    puts64
    movl    0x800(%r14), %eax          /* the PBA, after the table */
    call    putdec64
    movb    $'\n', %al
    call    putc64
    jmp     6b

/* The low dword of the IOAPIC entry of line %r12d := %ecx. */
ioapic_entry:
    movl    $IOAPIC, %eax
    leal    0x10(,%r12,2), %edx
    movl    %edx, (%rax)
    movl    %ecx, 0x10(%rax)
    ret

/* "real R repeat P spurious S lapic L\n" */
report_intx:
    movl    $msg_real, %esi
    call    puts64
    movq    V_REAL, %rax
    call    putdec64
    movl    $msg_repeat, %esi
    call    puts64
    movq    V_REPEAT, %rax
    call    putdec64
    movl    $msg_spur, %esi
    call    puts64
    movq    V_SPUR, %rax
    call    putdec64
    movl    $msg_lapic, %esi
    call    puts64
    movq    V_LAPIC_SPUR, %rax
    call    putdec64
    movb    $'\n', %al
    jmp     putc64

no_device:
    movl    $msg_nodev, %esi
    call    puts64
user_halt:
    hlt                                /* #GP: see halt_forever */
    jmp     user_halt

    PCI_CFG_ROUTINES

    UART_ROUTINES64

msg_line:
    .asciz  "irqfd line "
msg_intx:
    .asciz  "irqfd intx"
msg_lost:
    .asciz  "irqfd error: lost INTx:"
msg_real:
    .asciz  " real "
msg_repeat:
    .asciz  " repeat "
msg_spur:
    .asciz  " spurious "
msg_lapic:
    .asciz  " lapic "
msg_ready:
    .asciz  "irqfd ready\n"
msg_msix:
    .asciz  "msix "
msg_masked:
    .asciz  "masked\n"
msg_unmasked:
    .asciz  "unmasked\n"
msg_pba:
    .asciz  "pba "
msg_intx_n:
    .asciz  "intx "
msg_intx_on:
    .asciz  "intx on\n"
msg_intx_off:
    .asciz  "intx off\n"
msg_pin_masked:
    .asciz  "pin masked\n"
msg_pin_unmasked:
    .asciz  "pin unmasked\n"
msg_nodev:
    .asciz  "irqfd error: no x-pci-test (1b36:00fe) at the configured address\n"
msg_fault:
    .asciz  "irqfd error: exception or unexpected interrupt, vector "

    BOOT64_IMAGE_END
