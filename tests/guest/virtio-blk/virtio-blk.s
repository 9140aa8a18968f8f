/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk: a small virtio 1.2 driver for virtio-blk-pci under KVM.
 * Boots through tests/guest/common/boot64.inc, then in ring 3 finds the
 * function, its capabilities and BAR 4, negotiates VERSION_1, sets up
 * queue 0 (16 entries) with MSI-X vector 0, and loops forever: write
 * block SEQ % NBLK with a pattern of SEQ, read it back and compare, each
 * request waited for on the used ring and by its interrupt, exactly one
 * of each. A line every ROUND writes. See README.md.
 */

    .include "uart.inc"
    .include "boot64.inc"
    .include "pcicfg.inc"
    .include "virtio.inc"
    .include "vblk.inc"

    .set BOOT_N_PD, 4              /* 4 GiB: RAM, PCI hole, LAPIC */
    .set BOOT_N_GATES, 256

    .set VEC_MSIX, 0x41
    .set VEC_SPURIOUS, 0xff

    /* Variables (u64 each). */
    .set VARS, 0x5000
    .set V_IRQ, VARS + 0           /* MSI-X interrupts */
    .set V_REQS, VARS + 8          /* requests completed */
    .set V_SEQ, VARS + 32
    .set V_APICID, VARS + 40
    .set V_LSPUR, VARS + 56
    .set VDEV, 0x5800              /* the function's virtio.inc context */

/* Sector 0, then the parameter block (0x7e00). */
    BOOT64_SECTOR0 "VIRTBLK1", "vblk error:"
    .long   0x80002000             /* +8  config address: 00:04.0 */
    .long   256                    /* +12 NBLK: 4 KiB blocks used */
    .long   64                     /* +16 ROUND: writes between lines */
    .long   0                      /* +20 idle: 1 = no I/O after init */
    .quad   0x400000000            /* +24 wait limit: loop iterations */

    BOOT64_LONG_MODE

    movl    $VARS, %edi
    xorl    %eax, %eax
    movl    $16, %ecx
    rep stosl

    VIO_RING0_MSIX VEC_MSIX, msix_handler, VEC_SPURIOUS, lapic_spurious
    movq    %rax, V_APICID

    BOOT64_ENTER_RING3 user_main, 1

/* ------------------------------------------------- ring 0: interrupts */
msix_handler:
    pushq   %rax
    incq    V_IRQ
    movl    $VIO_LAPIC, %eax
    movl    $0, 0xb0(%rax)             /* EOI */
    popq    %rax
    iretq

lapic_spurious:
    incq    V_LSPUR
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
    movl    $VDEV, %r15d               /* the context, for good */
    movl    param_block + 8, %eax
    movl    %eax, VIO_CFG(%r15)
    movl    $0x10421af4, %eax          /* virtio-blk-pci, modern */
    call    vio_probe
    testl   %eax, %eax
    jnz     no_device
    xorl    %edi, %edi                 /* entry 0: this CPU, VEC_MSIX */
    movl    $VEC_MSIX, %esi
    movq    V_APICID, %rdx
    call    vio_msix_entry
    call    vio_msix_enable
    call    virtio_init
    /*
     * One read, then a driver reset (status 0) while its interrupt goes
     * by irqfd, and the set-up again: a reboot's driver does that.
     */
    xorl    %edi, %edi
    xorl    %esi, %esi
    movl    $VBLK_RBUF, %edx
    movl    $2, %ecx
    call    request
    call    virtio_init
    movq    $0, V_REQS
    movq    $0, V_IRQ
    movl    $msg_ready, %esi
    call    puts64
    cmpl    $0, param_block + 20
    je      main_loop
1:  pause                              /* idle: the device does nothing */
    jmp     1b

main_loop:
    movq    V_SEQ, %r12
    movq    %r12, %rax
    xorl    %edx, %edx
    movl    param_block + 12, %ecx
    divq    %rcx
    movq    %rdx, %r13                 /* the block */
    movl    $VBLK_WBUF, %edi
    call    vblk_fill
    movl    $1, %edi                   /* WRITE: device reads WBUF */
    movq    %r13, %rsi
    movl    $VBLK_WBUF, %edx
    xorl    %ecx, %ecx
    call    request
    movl    $VBLK_RBUF, %edi
    movl    $VBLK_BLOCK / 8, %ecx
    xorl    %eax, %eax
    rep stosq
    xorl    %edi, %edi                 /* READ: device writes RBUF */
    movq    %r13, %rsi
    movl    $VBLK_RBUF, %edx
    movl    $2, %ecx
    call    request
    movl    $VBLK_WBUF, %esi
    movl    $VBLK_RBUF, %edi
    movl    $VBLK_BLOCK / 8, %ecx
    repe cmpsq
    jne     bad_data
    incq    V_SEQ
    movq    V_SEQ, %rax
    xorl    %edx, %edx
    movl    param_block + 16, %ecx
    divq    %rcx
    testq   %rdx, %rdx
    jnz     main_loop
    movl    $msg_seq, %esi
    call    puts64
    movq    V_SEQ, %rax
    call    putdec64
    movl    $msg_irq, %esi
    call    puts64
    movq    V_IRQ, %rax
    call    putdec64
    movb    $'\n', %al
    call    putc64
    jmp     main_loop

/*
 * One request: type %edi, block %rsi, data at %rdx with descriptor
 * flags %ecx (2: device-writable). Waits until the used ring has exactly
 * one more entry and exactly one more interrupt came; checks the entry
 * and the status.
 */
request:
    call    vblk_submit
    /* The used ring: one more entry, not two. */
    incq    V_REQS
    movq    param_block + 24, %rcx
1:  movzwl  VBLK_USED + 2, %eax
    cmpw    V_REQS, %ax
    je      2f
    decq    %rcx
    jnz     1b
    movl    $msg_lost, %esi
    jmp     fail
2:  movq    param_block + 24, %rcx
3:  movq    V_IRQ, %rax
    cmpq    V_REQS, %rax
    jae     4f
    decq    %rcx
    jnz     3b
    movl    $msg_noirq, %esi
    jmp     fail
4:  jne     twice                      /* more interrupts than requests */
    movzwl  VBLK_USED + 2, %eax
    cmpw    V_REQS, %ax
    jne     twice
    movq    V_REQS, %rax
    decl    %eax
    andl    $VBLK_QSIZE - 1, %eax
    cmpl    $0, VBLK_USED + 4(,%rax,8) /* id: head 0 */
    jne     twice
    cmpb    $0, VBLK_STATUS
    jne     bad_status
    ret

/* Reset, ACK, DRIVER, VERSION_1, FEATURES_OK, queue 0, DRIVER_OK. */
virtio_init:
    xorl    %edx, %edx                 /* MSI-X vector 0 */
    call    vblk_init
    cmpl    $VIO_ENOCAP, %eax
    je      no_device
    testl   %eax, %eax
    jnz     no_features
    ret

bad_data:
    movl    $msg_data, %esi
    jmp     fail
bad_status:
    movl    $msg_status, %esi
    jmp     fail
twice:
    movl    $msg_twice, %esi
    jmp     fail
no_features:
    movl    $msg_features, %esi
    jmp     fail
no_device:
    movl    $msg_nodev, %esi
/* Print %rsi, " seq S irq I reqs R used U", halt. */
fail:
    call    puts64
    movl    $msg_seq2, %esi
    call    puts64
    movq    V_SEQ, %rax
    call    putdec64
    movl    $msg_irq, %esi
    call    puts64
    movq    V_IRQ, %rax
    call    putdec64
    movl    $msg_reqs, %esi
    call    puts64
    movq    V_REQS, %rax
    call    putdec64
    movl    $msg_used, %esi
    call    puts64
    movzwl  VBLK_USED + 2, %eax
    call    putdec64
    movb    $'\n', %al
    call    putc64
user_halt:
    hlt                                /* #GP: see halt_forever */
    jmp     user_halt

    PCI_CFG_ROUTINES

    VIO_ROUTINES

    VBLK_ROUTINES

    UART_ROUTINES64

msg_ready:
    .asciz  "vblk ready\n"
msg_seq:
    .asciz  "vblk "
msg_seq2:
    .asciz  ": seq "
msg_irq:
    .asciz  " irq "
msg_reqs:
    .asciz  " reqs "
msg_used:
    .asciz  " used "
msg_lost:
    .asciz  "vblk error: request not completed"
msg_noirq:
    .asciz  "vblk error: no interrupt for a completed request"
msg_twice:
    .asciz  "vblk error: completed twice or out of order"
msg_status:
    .asciz  "vblk error: request failed"
msg_data:
    .asciz  "vblk error: read back differs from what was written"
msg_features:
    .asciz  "vblk error: FEATURES_OK refused"
msg_nodev:
    .asciz  "vblk error: no virtio-blk-pci (1af4:1042) at the configured address"
msg_fault:
    .asciz  "vblk error: exception or unexpected interrupt, vector "

    BOOT64_IMAGE_END
