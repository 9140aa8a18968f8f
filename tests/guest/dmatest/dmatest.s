/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dmatest: a driver for tests/hostsim's dmatest function (0xba70:0x0001)
 * assigned with vfio-pci under KVM. Boots through
 * tests/guest/common/boot64.inc, finds up to four functions on bus 0,
 * gives each a record ring in its RAM (IOVA = guest-physical address),
 * starts the stream with an interrupt every IRQ_EVERY records (MSI-X
 * vector 0, or INTx by the parameter block's mode), and on each interrupt
 * checks and consumes every record the device wrote, advancing TAIL. A
 * line per device every ROUND records gives the host test its counters.
 * See README.md.
 */

    .include "uart.inc"
    .include "boot64.inc"
    .include "pcicfg.inc"

    .set BOOT_N_PD, 4              /* 4 GiB: RAM, PCI hole, IOAPIC, LAPIC */
    .set BOOT_N_GATES, 256

    .set LAPIC, 0xfee00000
    .set IOAPIC, 0xfec00000
    .set VEC_MSIX, 0x41            /* 0x41 + device index */
    .set VEC_INTX, 0x50
    .set VEC_SPURIOUS, 0xff
    .set MAX_DEV, 4

    /* dmatest registers (BAR 0) and record magic (issue 9). */
    .set R_CTRL, 0x04
    .set R_RING_LO, 0x08
    .set R_RING_HI, 0x0c
    .set R_ENTRIES, 0x10
    .set R_PERIOD, 0x14
    .set R_HEAD, 0x18
    .set R_TAIL, 0x1c
    .set R_RESETS, 0x24
    .set R_IRQ_EVERY, 0x28
    .set R_FAULTS, 0x2c
    .set MAGIC, 0x444d4154

    /* Globals (u64 each). */
    .set VARS, 0x5000
    .set G_NDEV, VARS + 0
    .set G_INTX, VARS + 8          /* INTx handler runs (shared line) */
    .set G_APICID, VARS + 16
    .set G_LSPUR, VARS + 24
    /* Per device, 64 bytes each from DEVS. */
    .set DEVS, 0x5100
    .set D_CFG, 0                  /* config address (mechanism #1) */
    .set D_BAR0, 8
    .set D_RING, 16
    .set D_DONE, 24                /* records consumed (the last n) */
    .set D_SEEN, 32                /* interrupt count at the last check */
    .set D_BAD, 40                 /* records missing or corrupt */
    .set D_NEXT, 48                /* print when D_DONE reaches it */
    .set D_IRQ, 56                 /* MSI-X interrupts (the handler's) */

/* Sector 0, then the parameter block (0x7e00). */
    BOOT64_SECTOR0 "DMATEST1", "dmatest error:"
    .long   0                      /* +8  mode: 0 MSI-X, 1 INTx */
    .long   4096                   /* +12 ring entries (power of two) */
    .long   1000                   /* +16 PERIOD_US */
    .long   8                      /* +20 IRQ_EVERY */
    .long   512                    /* +24 ROUND: records between lines */
    .long   0x400000               /* +28 first ring; the next 1 MiB on */

    BOOT64_LONG_MODE

    movl    $16, %esi
    movl    $IDT + VEC_MSIX * 16, %edi
    movl    $msix_handlers, %eax
    movl    $MAX_DEV, %ecx
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
    movl    $(0x100 + MAX_DEV * 64) / 4, %ecx
    rep stosl

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
    movq    %rax, G_APICID
    movl    $0x10000, 0x350(%rcx)
    movl    $0, 0x80(%rcx)
    movl    $0x100 | VEC_SPURIOUS, 0xf0(%rcx)

    BOOT64_ENTER_RING3 user_main, 1

/* ------------------------------------------------- ring 0: interrupts */
    .balign 16
msix_handlers:
    .set    dev_i, 0
    .rept   MAX_DEV
    .balign 16
    incq    DEVS + dev_i * 64 + D_IRQ
    jmp     eoi
    .set    dev_i, dev_i + 1
    .endr

/* A level INTx: counted; the EOI lets KVM resample (the device unmasks). */
intx_handler:
    incq    G_INTX
eoi:
    pushq   %rax
    movl    $LAPIC, %eax
    movl    $0, 0xb0(%rax)
    popq    %rax
    iretq

lapic_spurious:
    incq    G_LSPUR
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
    call    find_devices
    movq    G_NDEV, %rax
    testq   %rax, %rax
    jz      no_device
    xorl    %ebx, %ebx
1:  movq    %rbx, %rbp
    shlq    $6, %rbp
    addq    $DEVS, %rbp                /* %rbp: this device's variables */
    call    dev_start
    incq    %rbx
    cmpq    G_NDEV, %rbx
    jb      1b
    movl    $msg_ready, %esi
    call    puts64
    movq    G_NDEV, %rax
    call    putdec64
    movl    $msg_mode, %esi
    call    puts64
    movl    $msg_msix, %esi
    cmpl    $0, param_block + 8
    je      2f
    movl    $msg_intx, %esi
2:  call    puts64

    /*
     * Forever: a device whose interrupt count changed (its MSI-X vector,
     * or the shared INTx count) has its new records checked and consumed,
     * and prints its line every ROUND records.
     */
main_loop:
    incl    %r15d
    testl   $0xffff, %r15d             /* now and then: the serial port */
    jnz     3f
    call    command
3:  xorl    %ebx, %ebx
1:  movq    %rbx, %rbp
    shlq    $6, %rbp
    addq    $DEVS, %rbp
    call    dev_irqs
    cmpq    D_SEEN(%rbp), %rax
    je      2f
    movq    %rax, D_SEEN(%rbp)
    call    dev_consume
2:  incq    %rbx
    cmpq    G_NDEV, %rbx
    jb      1b
    jmp     main_loop

/*
 * A character on the serial port, if any: x sets COMMAND.INTX_DISABLE on
 * every device ("intx disabled"), e clears it ("intx enabled"), r routes
 * PIIX3's four PIRQs to device 0's line ("rerouted L"; its IOAPIC entry
 * is set up already).
 */
command:
    movw    $UART_LSR, %dx
    inb     %dx, %al
    testb   $1, %al                    /* data ready */
    jz      9f
    movw    $UART_THR, %dx             /* the receive buffer, on read */
    inb     %dx, %al
    movl    $0x0406, %ecx
    movl    $msg_disabled, %r14d
    cmpb    $'x', %al
    je      1f
    movl    $0x0006, %ecx
    movl    $msg_enabled, %r14d
    cmpb    $'e', %al
    je      1f
    cmpb    $'r', %al
    jne     9f
    movq    DEVS + D_CFG, %rdi
    movl    $0x3c, %esi
    call    cfg_read8
    movl    %eax, %r14d
    movl    $0x80000800, %edi          /* PIIX3, 00:01.0 */
    movl    $0x60, %esi
2:  movl    %r14d, %ecx
    call    cfg_write8
    incl    %esi
    cmpl    $0x64, %esi
    jb      2b
    movl    $msg_rerouted, %esi
    call    puts64
    movl    %r14d, %eax
    call    putdec64
    movb    $'\n', %al
    jmp     putc64
1:  xorl    %ebx, %ebx                 /* COMMAND := %ecx on each device */
3:  movq    %rbx, %rbp
    shlq    $6, %rbp
    movq    DEVS + D_CFG(%rbp), %rdi
    movl    $0x04, %esi
    pushq   %rcx
    call    cfg_write16
    popq    %rcx
    incq    %rbx
    cmpq    G_NDEV, %rbx
    jb      3b
    movl    %r14d, %esi
    jmp     puts64
9:  ret

/* %rax := the interrupt count of device %rbp (MSI-X) or INTx's. */
dev_irqs:
    movq    D_IRQ(%rbp), %rax
    cmpl    $0, param_block + 8
    je      1f
    movq    G_INTX, %rax
1:  ret

/*
 * Bus 0, every devfn: each 0xba70:0x0001 function (up to MAX_DEV) gets
 * its config address, BAR 0 and ring; "dmatest D at 00:SS.F line L".
 */
find_devices:
    xorl    %r12d, %r12d               /* devfn */
1:  movl    %r12d, %edi
    shll    $8, %edi
    orl     $0x80000000, %edi
    xorl    %esi, %esi
    call    cfg_read32
    cmpl    $0x0001ba70, %eax
    jne     3f
    movq    G_NDEV, %rbx
    movq    %rbx, %rbp
    shlq    $6, %rbp
    addq    $DEVS, %rbp
    movq    %rdi, D_CFG(%rbp)
    movl    $0x10, %esi
    call    cfg_read32
    andl    $~0xf, %eax
    movq    %rax, D_BAR0(%rbp)
    movl    param_block + 28, %eax
    movl    %ebx, %ecx
    shll    $20, %ecx
    addl    %ecx, %eax
    movq    %rax, D_RING(%rbp)
    movl    $msg_dev, %esi
    call    puts64
    movq    %rbx, %rax
    call    putdec64
    movl    $msg_at, %esi
    call    puts64
    movl    %r12d, %eax
    shrl    $3, %eax
    call    putdec64
    movb    $'.', %al
    call    putc64
    movl    %r12d, %eax
    andl    $7, %eax
    call    putdec64
    movl    $msg_line, %esi
    call    puts64
    movq    D_CFG(%rbp), %rdi
    movl    $0x3c, %esi
    call    cfg_read8
    call    putdec64
    movb    $'\n', %al
    call    putc64
    incq    G_NDEV
    cmpq    $MAX_DEV, G_NDEV
    jae     4f
3:  incl    %r12d
    cmpl    $256, %r12d
    jb      1b
4:  ret

/*
 * Device %rbp: memory decoding and bus mastering on; its interrupt (MSI-X
 * vector 0 to this CPU, or INTx through its line's IOAPIC entry, level);
 * the ring and the stream with interrupts.
 */
dev_start:
    movq    D_CFG(%rbp), %rdi
    movl    $0x04, %esi
    movl    $0x0006, %ecx              /* MEM | MASTER, INTx enabled */
    call    cfg_write16
    movl    param_block + 24, %eax
    movq    %rax, D_NEXT(%rbp)
    cmpl    $0, param_block + 8
    jne     5f
    /* MSI-X: find the capability (0x11). */
    movl    $0x34, %esi
    call    cfg_read8
1:  testl   %eax, %eax
    jz      no_msix
    movl    %eax, %r13d
    movl    %eax, %esi
    call    cfg_read8
    cmpl    $0x11, %eax
    je      2f
    leal    1(%r13), %esi
    call    cfg_read8
    jmp     1b
2:  leal    4(%r13), %esi              /* table: BIR and offset */
    call    cfg_read32
    testl   $7, %eax
    jnz     no_msix                    /* not in BAR 0 */
    andl    $~7, %eax
    addq    D_BAR0(%rbp), %rax
    movq    G_APICID, %rdx
    shll    $12, %edx
    orl     $LAPIC, %edx
    movl    %edx, 0(%rax)
    movl    $0, 4(%rax)
    movq    %rbp, %rdx                 /* vector VEC_MSIX + index */
    subq    $DEVS, %rdx
    shrq    $6, %rdx
    addl    $VEC_MSIX, %edx
    movl    %edx, 8(%rax)
    movl    $0, 12(%rax)               /* unmasked */
    leal    2(%r13), %esi
    movl    $0x8000, %ecx              /* MSI-X enable */
    call    cfg_write16
    jmp     6f
5:  /* INTx: the line's IOAPIC entry, VEC_INTX, fixed, level, high. */
    movl    $0x3c, %esi
    call    cfg_read8
    movl    $IOAPIC, %ecx
    leal    0x11(,%rax,2), %edx
    movl    %edx, (%rcx)
    movq    G_APICID, %rsi
    shll    $24, %esi
    movl    %esi, 0x10(%rcx)
    leal    0x10(,%rax,2), %edx
    movl    %edx, (%rcx)
    movl    $VEC_INTX | 0x8000, 0x10(%rcx)
6:  movq    D_BAR0(%rbp), %rcx
    movq    D_RING(%rbp), %rax
    movl    %eax, R_RING_LO(%rcx)
    movl    $0, R_RING_HI(%rcx)
    movl    param_block + 12, %eax
    movl    %eax, R_ENTRIES(%rcx)
    movl    param_block + 16, %eax
    movl    %eax, R_PERIOD(%rcx)
    movl    param_block + 20, %eax
    movl    %eax, R_IRQ_EVERY(%rcx)
    movl    $3, R_CTRL(%rcx)           /* stream on, interrupts on */
    ret

/*
 * Device %rbp: every record up to HEAD checked (n, ~n, magic) and
 * consumed, TAIL written once; its line when D_DONE passed D_NEXT.
 */
dev_consume:
    movq    D_BAR0(%rbp), %rcx
    movl    R_HEAD(%rcx), %r8d
    movq    D_DONE(%rbp), %r9
    movl    param_block + 12, %r10d
    decl    %r10d                      /* entries - 1 */
    movq    D_RING(%rbp), %r11
1:  cmpq    %r8, %r9
    jae     3f
    incq    %r9                        /* n */
    leaq    -1(%r9), %rax
    andq    %r10, %rax
    shlq    $4, %rax
    addq    %r11, %rax
    cmpq    %r9, (%rax)
    jne     2f
    movl    %r9d, %edx
    notl    %edx
    cmpl    %edx, 8(%rax)
    jne     2f
    cmpl    $MAGIC, 12(%rax)
    je      1b
2:  incq    D_BAD(%rbp)
    jmp     1b
3:  movq    %r9, D_DONE(%rbp)
    movl    %r9d, R_TAIL(%rcx)
    cmpq    D_NEXT(%rbp), %r9
    jb      4f
    movl    param_block + 24, %eax
    addq    %r9, %rax
    movq    %rax, D_NEXT(%rbp)         /* ROUND more from here */
    call    dev_report
4:  ret

/* "dmatest D rec N irq I bad B faults F resets R\n" for device %rbp. */
dev_report:
    movl    $msg_dev, %esi
    call    puts64
    movq    %rbp, %rax
    subq    $DEVS, %rax
    shrq    $6, %rax
    call    putdec64
    movl    $msg_rec, %esi
    call    puts64
    movq    D_DONE(%rbp), %rax
    call    putdec64
    movl    $msg_irq, %esi
    call    puts64
    call    dev_irqs
    call    putdec64
    movl    $msg_bad, %esi
    call    puts64
    movq    D_BAD(%rbp), %rax
    call    putdec64
    movl    $msg_faults, %esi
    call    puts64
    movq    D_BAR0(%rbp), %rcx
    movl    R_FAULTS(%rcx), %eax
    call    putdec64
    movl    $msg_resets, %esi
    call    puts64
    movq    D_BAR0(%rbp), %rcx
    movl    R_RESETS(%rcx), %eax
    call    putdec64
    movb    $'\n', %al
    jmp     putc64

no_msix:
    movl    $msg_nomsix, %esi
    call    puts64
    jmp     user_halt
no_device:
    movl    $msg_nodev, %esi
    call    puts64
user_halt:
    hlt                                /* #GP: see halt_forever */
    jmp     user_halt

    PCI_CFG_ROUTINES

    UART_ROUTINES64

msg_dev:
    .asciz  "dmatest "
msg_at:
    .asciz  " at 00:"
msg_line:
    .asciz  " line "
msg_ready:
    .asciz  "dmatest ready "
msg_mode:
    .asciz  " mode "
msg_msix:
    .asciz  "msix\n"
msg_intx:
    .asciz  "intx\n"
msg_rec:
    .asciz  " rec "
msg_irq:
    .asciz  " irq "
msg_bad:
    .asciz  " bad "
msg_faults:
    .asciz  " faults "
msg_resets:
    .asciz  " resets "
msg_disabled:
    .asciz  "intx disabled\n"
msg_enabled:
    .asciz  "intx enabled\n"
msg_rerouted:
    .asciz  "rerouted "
msg_nodev:
    .asciz  "dmatest error: no dmatest function (ba70:0001) on bus 0\n"
msg_nomsix:
    .asciz  "dmatest error: no MSI-X table in BAR 0\n"
msg_fault:
    .asciz  "dmatest error: exception or unexpected interrupt, vector "

    BOOT64_IMAGE_END
