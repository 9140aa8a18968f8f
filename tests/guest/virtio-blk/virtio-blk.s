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

    .set BOOT_N_PD, 4              /* 4 GiB: RAM, PCI hole, LAPIC */
    .set BOOT_N_GATES, 256

    .set LAPIC, 0xfee00000
    .set VEC_MSIX, 0x41
    .set VEC_SPURIOUS, 0xff

    /* Variables (u64 each). */
    .set VARS, 0x5000
    .set V_IRQ, VARS + 0           /* MSI-X interrupts */
    .set V_REQS, VARS + 8          /* requests completed */
    .set V_COMMON, VARS + 16       /* common config address */
    .set V_NOTIFY, VARS + 24       /* queue 0's notify address */
    .set V_SEQ, VARS + 32
    .set V_APICID, VARS + 40
    .set V_AVAIL, VARS + 48        /* next avail index */
    .set V_LSPUR, VARS + 56

    /* The queue and the buffers. */
    .set QSIZE, 16
    .set DESC, 0x100000
    .set AVAIL, 0x101000
    .set USED, 0x102000
    .set HDR, 0x103000
    .set STATUS, 0x103100
    .set WBUF, 0x110000
    .set RBUF, 0x120000
    .set BLOCK, 4096

    /* Common configuration (virtio 1.2 4.1.4.3). */
    .set C_GFSELECT, 0x08
    .set C_GF, 0x0c
    .set C_MSIX, 0x10
    .set C_STATUS, 0x14
    .set C_QSELECT, 0x16
    .set C_QSIZE, 0x18
    .set C_QMSIX, 0x1a
    .set C_QENABLE, 0x1c
    .set C_QNOFF, 0x1e
    .set C_QDESC, 0x20
    .set C_QAVAIL, 0x28
    .set C_QUSED, 0x30

    .set MAGIC, 0x564c424b         /* "VBLK" in each block's first qword */
    .set GOLDEN, 0x9e3779b97f4a7c15

/* Sector 0, then the parameter block (0x7e00). */
    BOOT64_SECTOR0 "VIRTBLK1", "vblk error:"
    .long   0x80002000             /* +8  config address: 00:04.0 */
    .long   256                    /* +12 NBLK: 4 KiB blocks used */
    .long   64                     /* +16 ROUND: writes between lines */
    .long   0                      /* +20 idle: 1 = no I/O after init */
    .quad   0x400000000            /* +24 wait limit: loop iterations */

    BOOT64_LONG_MODE

    movl    $16, %esi
    movl    $IDT + VEC_MSIX * 16, %edi
    movl    $msix_handler, %eax
    movl    $1, %ecx
    call    set_gates
    movl    $IDT + VEC_SPURIOUS * 16, %edi
    movl    $lapic_spurious, %eax
    movl    $1, %ecx
    call    set_gates

    movl    $VARS, %edi
    xorl    %eax, %eax
    movl    $16, %ecx
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
    movq    %rax, V_APICID
    movl    $0x10000, 0x350(%rcx)
    movl    $0, 0x80(%rcx)
    movl    $0x100 | VEC_SPURIOUS, 0xf0(%rcx)

    BOOT64_ENTER_RING3 user_main, 1

/* ------------------------------------------------- ring 0: interrupts */
msix_handler:
    pushq   %rax
    incq    V_IRQ
    movl    $LAPIC, %eax
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
    movl    param_block + 8, %edi
    xorl    %esi, %esi
    call    cfg_read32
    cmpl    $0x10421af4, %eax          /* virtio-blk-pci, modern */
    jne     no_device
    call    find_caps
    call    setup_msix
    call    virtio_init
    /*
     * One read, then a driver reset (status 0) while its interrupt goes
     * by irqfd, and the set-up again: a reboot's driver does that.
     */
    xorl    %edi, %edi
    xorl    %esi, %esi
    movl    $RBUF, %edx
    movl    $2, %ecx
    call    request
    call    virtio_init
    movq    $0, V_AVAIL
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
    movl    $WBUF, %edi
    call    fill_block
    movl    $1, %edi                   /* WRITE: device reads WBUF */
    movq    %r13, %rsi
    movl    $WBUF, %edx
    xorl    %ecx, %ecx
    call    request
    movl    $RBUF, %edi
    movl    $BLOCK / 8, %ecx
    xorl    %eax, %eax
    rep stosq
    xorl    %edi, %edi                 /* READ: device writes RBUF */
    movq    %r13, %rsi
    movl    $RBUF, %edx
    movl    $2, %ecx
    call    request
    movl    $WBUF, %esi
    movl    $RBUF, %edi
    movl    $BLOCK / 8, %ecx
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
 * The block for sequence %r12, block %r13, at %rdi: qword 0 the magic
 * and block, qword 1 the sequence, qword i > 1 (seq << 16 | i) * GOLDEN.
 */
fill_block:
    movq    $MAGIC, %rax
    shlq    $32, %rax
    orq     %r13, %rax
    movq    %rax, (%rdi)
    movq    %r12, 8(%rdi)
    movl    $2, %ecx
1:  movq    %r12, %rax
    shlq    $16, %rax
    orq     %rcx, %rax
    movabsq $GOLDEN, %rdx
    imulq   %rdx, %rax
    movq    %rax, (%rdi,%rcx,8)
    incl    %ecx
    cmpl    $BLOCK / 8, %ecx
    jb      1b
    ret

/*
 * One request: type %edi, block %rsi, data at %rdx with descriptor
 * flags %ecx (2: device-writable). Waits until the used ring has exactly
 * one more entry and exactly one more interrupt came; checks the entry
 * and the status.
 */
request:
    movl    %edi, HDR
    movl    $0, HDR + 4
    shlq    $3, %rsi                   /* 8 sectors a block */
    movq    %rsi, HDR + 8
    movb    $0xff, STATUS
    /* desc 0: header; 1: data; 2: status. */
    movq    $HDR, DESC
    movl    $16, DESC + 8
    movw    $1, DESC + 12
    movw    $1, DESC + 14
    movq    %rdx, DESC + 16
    movl    $BLOCK, DESC + 24
    orl     $1, %ecx
    movw    %cx, DESC + 28
    movw    $2, DESC + 30
    movq    $STATUS, DESC + 32
    movl    $1, DESC + 40
    movw    $2, DESC + 44
    movw    $0, DESC + 46
    movq    V_AVAIL, %rax
    andl    $QSIZE - 1, %eax
    movw    $0, AVAIL + 4(,%rax,2)
    incq    V_AVAIL
    movq    V_AVAIL, %rax
    mfence
    movw    %ax, AVAIL + 2
    mfence
    movq    V_NOTIFY, %rax
    movw    $0, (%rax)                 /* kick queue 0 */
    /* The used ring: one more entry, not two. */
    incq    V_REQS
    movq    param_block + 24, %rcx
1:  movzwl  USED + 2, %eax
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
    movzwl  USED + 2, %eax
    cmpw    V_REQS, %ax
    jne     twice
    movq    V_REQS, %rax
    decl    %eax
    andl    $QSIZE - 1, %eax
    cmpl    $0, USED + 4(,%rax,8)      /* id: head 0 */
    jne     twice
    cmpb    $0, STATUS
    jne     bad_status
    ret

/* Capabilities: the common and notify regions in BAR 4. */
find_caps:
    movl    $0x24, %esi
    call    cfg_read32
    movq    %rax, %r14
    shlq    $32, %r14
    movl    $0x20, %esi
    call    cfg_read32
    andl    $~0xf, %eax
    orq     %rax, %r14                 /* BAR 4 (64-bit) */
    movl    $0x34, %esi
    call    cfg_read8
    movl    %eax, %ebx
1:  testl   %ebx, %ebx
    jz      4f
    movl    %ebx, %esi
    call    cfg_read8
    cmpl    $9, %eax                   /* vendor: a virtio capability */
    jne     3f
    leal    3(%rbx), %esi
    call    cfg_read8
    movl    %eax, %ebp                 /* cfg_type */
    leal    8(%rbx), %esi
    call    cfg_read32
    addq    %r14, %rax
    cmpl    $1, %ebp
    jne     2f
    movq    %rax, V_COMMON
2:  cmpl    $2, %ebp
    jne     3f
    movq    %rax, V_NOTIFY             /* queue_notify_off 0 below */
3:  leal    1(%rbx), %esi
    call    cfg_read8
    movl    %eax, %ebx
    jmp     1b
4:  cmpq    $0, V_COMMON
    je      no_device
    cmpq    $0, V_NOTIFY
    je      no_device
    ret

/* MSI-X: vector 0 to this CPU's VEC_MSIX; the capability enabled. */
setup_msix:
    movl    $0x14, %esi
    call    cfg_read32                 /* BAR 1: the table */
    andl    $~0xf, %eax
    movq    V_APICID, %rdx
    shll    $12, %edx
    orl     $LAPIC, %edx
    movl    %edx, (%rax)
    movl    $0, 4(%rax)
    movl    $VEC_MSIX, 8(%rax)
    movl    $0, 12(%rax)
    movl    $0x34, %esi
    call    cfg_read8
    movl    %eax, %ebx
1:  testl   %ebx, %ebx
    jz      no_device
    movl    %ebx, %esi
    call    cfg_read8
    cmpl    $0x11, %eax
    je      2f
    leal    1(%rbx), %esi
    call    cfg_read8
    movl    %eax, %ebx
    jmp     1b
2:  leal    2(%rbx), %esi
    movl    $0x8000, %ecx              /* MSI-X enable */
    call    cfg_write16
    ret

/* Reset, ACK, DRIVER, VERSION_1, FEATURES_OK, queue 0, DRIVER_OK. */
virtio_init:
    movq    V_COMMON, %rbx
    movb    $0, C_STATUS(%rbx)
    movb    $1, C_STATUS(%rbx)
    movb    $3, C_STATUS(%rbx)
    movl    $1, C_GFSELECT(%rbx)
    movl    $1, C_GF(%rbx)             /* bit 32: VERSION_1 */
    movl    $0, C_GFSELECT(%rbx)
    movl    $0, C_GF(%rbx)
    movb    $0xb, C_STATUS(%rbx)
    movb    C_STATUS(%rbx), %al
    testb   $8, %al
    jz      no_features
    movw    $0xffff, C_MSIX(%rbx)      /* no config interrupt */
    movw    $0, C_QSELECT(%rbx)
    movw    $QSIZE, C_QSIZE(%rbx)
    movw    $0, C_QMSIX(%rbx)
    cmpw    $0, C_QMSIX(%rbx)
    jne     no_device
    cmpw    $0, C_QNOFF(%rbx)
    jne     no_device
    movl    $DESC, %edi
    movl    $0x3000 / 8, %ecx
    xorl    %eax, %eax
    rep stosq
    movq    $DESC, %rax
    movl    %eax, C_QDESC(%rbx)
    movl    $0, C_QDESC + 4(%rbx)
    movq    $AVAIL, %rax
    movl    %eax, C_QAVAIL(%rbx)
    movl    $0, C_QAVAIL + 4(%rbx)
    movq    $USED, %rax
    movl    %eax, C_QUSED(%rbx)
    movl    $0, C_QUSED + 4(%rbx)
    movw    $1, C_QENABLE(%rbx)
    movb    $0xf, C_STATUS(%rbx)
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
    movzwl  USED + 2, %eax
    call    putdec64
    movb    $'\n', %al
    call    putc64
user_halt:
    hlt                                /* #GP: see halt_forever */
    jmp     user_halt

    PCI_CFG_ROUTINES

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
