/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-net: a small virtio 1.2 driver for virtio-net-pci under KVM, and
 * a UDP echo service on it. Boots through tests/guest/common/boot64.inc,
 * sets the function up through common/virtio.inc (VERSION_1 and MAC
 * only; receive queue 0 and transmit queue 1, 64 entries each), then
 * polls in ring 3: an ARP request for its address gets a reply, a UDP
 * datagram to its address comes back with addresses and ports swapped
 * (both checksums stay valid), anything else is counted and dropped.
 * Buffers go back to the receive queue after each batch; the queues are
 * kicked once a batch, the receive queue only when the device had run
 * out. A line every ROUND echoes. With a virtio-blk-pci function named
 * in the parameter block it also keeps one request in flight on it
 * (common/vblk.inc: write a block, read it back, compare), polled.
 * See README.md.
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

    /* Variables (u64 each unless said). */
    .set VARS, 0x5000
    .set V_IRQ, VARS + 0           /* receive interrupts (MSI-X) */
    .set V_RX, VARS + 8            /* frames received */
    .set V_TX, VARS + 16           /* frames sent */
    .set V_ECHO, VARS + 24         /* UDP datagrams echoed */
    .set V_ARP, VARS + 32          /* ARP replies */
    .set V_DROP, VARS + 40         /* frames not for us */
    .set V_RXLAST, VARS + 48       /* receive used entries taken */
    .set V_RXAVAIL, VARS + 56      /* receive avail index */
    .set V_TXAVAIL, VARS + 64      /* transmit avail index */
    .set V_TXLAST, VARS + 72       /* transmit used entries taken */
    .set V_TXPEND, VARS + 80       /* frames added since the last kick */
    .set V_APICID, VARS + 88
    .set V_LSPUR, VARS + 96
    .set V_RXNOTIFY, VARS + 104
    .set V_TXNOTIFY, VARS + 112
    .set V_KICKS, VARS + 120
    .set V_NEXTLINE, VARS + 128    /* the echo count of the next line */
    .set V_MAC, VARS + 136         /* 6 bytes */
    .set V_BATCH, VARS + 144       /* frames in this receive batch */
    .set V_PRINT, VARS + 152       /* a progress line is due */
    .set V_BSEQ, VARS + 160        /* blocks written and read back */
    .set V_BREQS, VARS + 168       /* disk requests submitted */
    .set V_BSTATE, VARS + 176      /* 0 no disk I/O, 1 write, 2 read */
    .set V_BBLK, VARS + 184        /* the block of the request */
    .set V_RXSTATE, VARS + 0x100   /* a byte per descriptor: 1 = device's */
    .set V_TXSTATE, VARS + 0x140
    .set VARS_END, VARS + 0x180
    .set VDEV, 0x5800              /* the function's virtio.inc context */
    .set VDEV_BLK, 0x5840          /* the disk's */

    /* The queues and their buffers: descriptor i uses buffer i. */
    .set QSIZE, 64
    .set RXDESC, 0x140000          /* below: the disk's (vblk.inc) */
    .set RXAVAIL, 0x141000
    .set RXUSED, 0x142000
    .set TXDESC, 0x144000
    .set TXAVAIL, 0x145000
    .set TXUSED, 0x146000
    .set RINGS_END, 0x147000
    .set RXBUF, 0x200000
    .set TXBUF, 0x300000
    .set BUFSHIFT, 11              /* 2 KiB apart */
    .set HDR, 12                   /* struct virtio_net_hdr_v1 */
    .set BUFLEN, HDR + 1514

    .set F_MAC, 5
    .set F_VERSION_1, 32

/* Sector 0, then the parameter block (0x7e00). */
    BOOT64_SECTOR0 "VIRTNET1", "vnet error:"
    .long   0x80002000             /* +8  config address: 00:04.0 */
    .byte   10, 0, 0, 2            /* +12 IPv4 address */
    .long   1000                   /* +16 ROUND: echoes between lines */
    .long   1                      /* +20 receive interrupts: 1 on, 0 off */
    .quad   0x400000000            /* +24 wait limit: loop iterations */
    .long   0                      /* +32 disk config address, 0: none */
    .long   256                    /* +36 NBLK: 4 KiB blocks used */
    .long   0                      /* +40 disk idle: 1 = set up, no I/O */

    BOOT64_LONG_MODE

    movl    $VARS, %edi
    xorl    %eax, %eax
    movl    $(VARS_END - VARS) / 8, %ecx
    rep stosq

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
    movl    $0x10411af4, %eax          /* virtio-net-pci, modern */
    call    vio_probe
    movl    $msg_nodev, %esi
    cmpl    $VIO_ENODEV, %eax
    je      fail
    movl    $msg_nocap, %esi
    testl   %eax, %eax
    jnz     fail
    xorl    %edi, %edi                 /* entry 0: this CPU, VEC_MSIX */
    movl    $VEC_MSIX, %esi
    movq    V_APICID, %rdx
    call    vio_msix_entry
    call    vio_msix_enable
    movabsq $1 << F_VERSION_1 | 1 << F_MAC, %rdi
    call    vio_negotiate
    movl    $msg_nofeat, %esi
    cmpl    $VIO_ENOFEAT, %eax
    je      fail
    movl    $msg_features, %esi
    testl   %eax, %eax
    jnz     fail
    call    read_mac
    call    setup_rings

    xorl    %edi, %edi                 /* queue 0: receive */
    movl    $QSIZE, %esi
    movl    $VIO_NO_VECTOR, %edx
    cmpl    $0, param_block + 20
    je      1f
    xorl    %edx, %edx                 /* MSI-X vector 0 */
1:  movl    $RXDESC, %r8d
    movl    $RXAVAIL, %r9d
    movl    $RXUSED, %r10d
    call    vio_queue
    movl    $msg_queue, %esi
    testq   %rax, %rax
    jz      fail
    movq    %rax, V_RXNOTIFY
    movl    $1, %edi                   /* queue 1: transmit, polled */
    movl    $QSIZE, %esi
    movl    $VIO_NO_VECTOR, %edx
    movl    $TXDESC, %r8d
    movl    $TXAVAIL, %r9d
    movl    $TXUSED, %r10d
    call    vio_queue
    movl    $msg_queue, %esi
    testq   %rax, %rax
    jz      fail
    movq    %rax, V_TXNOTIFY
    call    vio_driver_ok              /* the receive buffers are there */
    cmpl    $0, param_block + 32
    je      1f
    call    blk_setup
1:  call    print_ready
    movl    param_block + 16, %eax
    movq    %rax, V_NEXTLINE

main_loop:
    call    blk_poll
    movzwl  RXUSED + 2, %eax
    cmpw    V_RXLAST, %ax
    jne     1f
    pause
    jmp     main_loop
1:  call    rx_batch
    call    tx_flush
    cmpq    $0, V_PRINT
    je      main_loop
    movq    $0, V_PRINT
    movl    $msg_line, %esi
    call    puts64
    call    print_counts
    movb    $'\n', %al
    call    putc64
    jmp     main_loop

/*
 * The MAC from the device configuration, read until the configuration
 * generation is the same before and after (virtio 1.2 4.1.4.3.1).
 */
read_mac:
    movq    VIO_COMMON(%r15), %rbx
    movq    VIO_DEVCFG(%r15), %rsi
1:  movb    C_CFGGEN(%rbx), %cl
    xorl    %edx, %edx
2:  movb    (%rsi,%rdx), %al
    movb    %al, V_MAC(%rdx)
    incl    %edx
    cmpl    $6, %edx
    jb      2b
    cmpb    C_CFGGEN(%rbx), %cl
    jne     1b
    ret

/*
 * Rings zeroed; descriptor i of each queue on buffer i (receive:
 * device-writable, BUFLEN); every receive buffer offered. The transmit
 * queue asks for no interrupts, the receive queue too without them.
 */
setup_rings:
    movl    $RXDESC, %edi
    movl    $(RINGS_END - RXDESC) / 8, %ecx
    xorl    %eax, %eax
    rep stosq
    xorl    %ecx, %ecx
1:  movl    %ecx, %eax
    shll    $BUFSHIFT, %eax
    movl    %ecx, %edx
    shll    $4, %edx
    leal    RXBUF(%rax), %edi
    movq    %rdi, RXDESC(%rdx)
    movl    $BUFLEN, RXDESC + 8(%rdx)
    movw    $VRING_DESC_F_WRITE, RXDESC + 12(%rdx)
    leal    TXBUF(%rax), %edi
    movq    %rdi, TXDESC(%rdx)
    movw    %cx, RXAVAIL + 4(,%rcx,2)
    movb    $1, V_RXSTATE(%rcx)
    incl    %ecx
    cmpl    $QSIZE, %ecx
    jb      1b
    movw    $QSIZE, RXAVAIL + 2
    movq    $QSIZE, V_RXAVAIL
    movw    $VRING_AVAIL_F_NO_INTERRUPT, TXAVAIL
    cmpl    $0, param_block + 20
    jne     2f
    movw    $VRING_AVAIL_F_NO_INTERRUPT, RXAVAIL
2:  ret

/*
 * Every frame the receive used ring has: checked, handled, its buffer
 * offered again. Then the new avail index; a kick only if the device had
 * taken every buffer offered before this batch (it may have found none
 * for a frame and waits for one: virtio-net's receive waits for a kick).
 */
rx_batch:
    movq    $0, V_BATCH
1:  movq    V_RXLAST, %rcx
    movzwl  RXUSED + 2, %eax
    cmpw    %cx, %ax
    je      3f
    andl    $QSIZE - 1, %ecx
    movl    RXUSED + 4(,%rcx,8), %ebx  /* id */
    movl    RXUSED + 8(,%rcx,8), %r12d /* len */
    movl    $msg_badid, %esi
    cmpl    $QSIZE, %ebx
    jae     fail
    movl    $msg_badlen, %esi
    cmpl    $BUFLEN, %r12d
    ja      fail
    movl    $msg_twice, %esi
    cmpb    $1, V_RXSTATE(%rbx)
    jne     fail
    movb    $0, V_RXSTATE(%rbx)
    incq    V_RXLAST
    incq    V_RX
    call    handle_frame
    movq    V_RXAVAIL, %rax
    andl    $QSIZE - 1, %eax
    movw    %bx, RXAVAIL + 4(,%rax,2)
    movb    $1, V_RXSTATE(%rbx)
    incq    V_RXAVAIL
    incq    V_BATCH
    jmp     1b
3:  movq    V_RXAVAIL, %rax
    movw    %ax, RXAVAIL + 2
    mfence                             /* the index out before used is read */
    movzwl  RXUSED + 2, %ecx
    subl    %ecx, %eax
    movzwl  %ax, %eax                  /* offered and not used, now */
    cmpq    V_BATCH, %rax
    ja      4f
    movq    V_RXNOTIFY, %rax
    movw    $0, (%rax)                 /* kick queue 0 */
    incq    V_KICKS
4:  ret

/*
 * Frame of buffer %rbx, used length %r12d (header included): an ARP
 * request for our address gets a reply, a UDP datagram to our address is
 * echoed, the rest is dropped. Keeps %rbx.
 */
handle_frame:
    movq    %rbx, %rsi
    shlq    $BUFSHIFT, %rsi
    addq    $RXBUF + HDR, %rsi         /* the Ethernet frame */
    subl    $HDR, %r12d
    jb      drop
    cmpl    $14, %r12d
    jb      drop
    movzwl  12(%rsi), %eax             /* ethertype, big-endian */
    cmpw    $0x0608, %ax
    je      arp
    cmpw    $0x0008, %ax
    je      ipv4
drop:
    incq    V_DROP
    ret

arp:
    cmpl    $42, %r12d
    jb      drop
    cmpl    $0x00080100, 14(%rsi)      /* Ethernet, IPv4 */
    jne     drop
    cmpl    $0x01000406, 18(%rsi)      /* 6, 4, request */
    jne     drop
    movl    38(%rsi), %eax             /* target protocol address */
    cmpl    param_block + 12, %eax
    jne     drop
    call    tx_slot
    leaq    HDR(%rdi), %r8
    movl    %r8d, %edi
    xorl    %eax, %eax
    movl    $60 / 4, %ecx
    rep stosl                          /* a minimum frame, zero-padded */
    movl    22(%rsi), %eax             /* to: the sender's hardware address */
    movl    %eax, (%r8)
    movl    %eax, 32(%r8)
    movzwl  26(%rsi), %eax
    movw    %ax, 4(%r8)
    movw    %ax, 36(%r8)
    movl    V_MAC, %eax                /* from: ours */
    movl    %eax, 6(%r8)
    movl    %eax, 22(%r8)
    movzwl  V_MAC + 4, %eax
    movw    %ax, 10(%r8)
    movw    %ax, 26(%r8)
    movw    $0x0608, 12(%r8)
    movl    $0x00080100, 14(%r8)
    movl    $0x02000406, 18(%r8)       /* 6, 4, reply */
    movl    param_block + 12, %eax
    movl    %eax, 28(%r8)              /* sender protocol address: ours */
    movl    28(%rsi), %eax
    movl    %eax, 38(%r8)              /* target: the requester's */
    movl    $HDR + 60, %ecx
    call    tx_commit
    incq    V_ARP
    ret

ipv4:
    cmpl    $14 + 20 + 8, %r12d
    jb      drop
    movzbl  14(%rsi), %eax
    movl    %eax, %ecx
    shrl    $4, %ecx
    cmpl    $4, %ecx                   /* version */
    jne     drop
    andl    $15, %eax
    cmpl    $5, %eax
    jb      drop
    leal    (,%rax,4), %r13d           /* header length */
    leal    14 + 8(%r13), %ecx
    cmpl    %ecx, %r12d
    jb      drop
    cmpb    $17, 23(%rsi)              /* UDP */
    jne     drop
    movl    30(%rsi), %eax             /* to us */
    cmpl    param_block + 12, %eax
    jne     drop
    testw   $0xff3f, 20(%rsi)          /* MF or a fragment offset */
    jnz     drop
    call    tx_slot
    leaq    HDR(%rdi), %r8
    movq    %rsi, %r9
    movq    %r8, %rdi
    movl    %r12d, %ecx
    rep movsb
    movl    6(%r9), %eax               /* Ethernet: back to the sender */
    movl    %eax, (%r8)
    movzwl  10(%r9), %eax
    movw    %ax, 4(%r8)
    movl    V_MAC, %eax
    movl    %eax, 6(%r8)
    movzwl  V_MAC + 4, %eax
    movw    %ax, 10(%r8)
    movl    26(%r9), %eax              /* IP: addresses swapped */
    movl    30(%r9), %edx
    movl    %edx, 26(%r8)
    movl    %eax, 30(%r8)
    addq    $14, %r13                  /* UDP: ports swapped */
    movzwl  (%r9,%r13), %eax
    movzwl  2(%r9,%r13), %edx
    movw    %dx, (%r8,%r13)
    movw    %ax, 2(%r8,%r13)
    leal    HDR(%r12), %ecx
    call    tx_commit
    incq    V_ECHO
    movq    V_ECHO, %rax
    cmpq    V_NEXTLINE, %rax
    jb      1f
    movl    param_block + 16, %eax
    addq    %rax, V_NEXTLINE
    movq    $1, V_PRINT
1:  ret

/*
 * The next transmit buffer in %rdi, its header zeroed; if the device
 * still has it, what is pending goes out and we wait for it (at most
 * the wait limit). Keeps %rsi, %rbx, %r12, %r13.
 */
tx_slot:
    movq    V_TXAVAIL, %rax
    andl    $QSIZE - 1, %eax
    cmpb    $0, V_TXSTATE(%rax)
    je      2f
    call    tx_flush
    movq    param_block + 24, %rcx
1:  call    tx_reclaim
    movq    V_TXAVAIL, %rax
    andl    $QSIZE - 1, %eax
    cmpb    $0, V_TXSTATE(%rax)
    je      2f
    decq    %rcx
    jnz     1b
    movl    $msg_txlost, %esi
    jmp     fail
2:  shll    $BUFSHIFT, %eax
    leal    TXBUF(%rax), %edi
    movq    $0, (%rdi)
    movl    $0, 8(%rdi)
    ret

/* The buffer tx_slot gave, %ecx bytes long with its header, queued. */
tx_commit:
    movq    V_TXAVAIL, %rax
    andl    $QSIZE - 1, %eax
    movl    %eax, %edx
    shll    $4, %edx
    movl    %ecx, TXDESC + 8(%rdx)
    movb    $1, V_TXSTATE(%rax)
    movw    %ax, TXAVAIL + 4(,%rax,2)
    incq    V_TXAVAIL
    incq    V_TX
    incq    V_TXPEND
    ret

/* Frames queued since the last kick: published, one kick. */
tx_flush:
    cmpq    $0, V_TXPEND
    je      tx_reclaim
    movq    V_TXAVAIL, %rax
    movw    %ax, TXAVAIL + 2
    mfence
    movq    V_TXNOTIFY, %rax
    movw    $1, (%rax)                 /* kick queue 1 */
    movq    $0, V_TXPEND
    incq    V_KICKS
/* Transmit buffers the device is done with, checked. Keeps %rcx, %rsi. */
tx_reclaim:
1:  movq    V_TXLAST, %rdx
    movzwl  TXUSED + 2, %eax
    cmpw    %dx, %ax
    je      2f
    andl    $QSIZE - 1, %edx
    movl    TXUSED + 4(,%rdx,8), %eax  /* id */
    cmpl    $QSIZE, %eax
    jae     3f
    cmpb    $1, V_TXSTATE(%rax)
    jne     4f
    movb    $0, V_TXSTATE(%rax)
    incq    V_TXLAST
    jmp     1b
2:  ret
3:  movl    $msg_badid, %esi
    jmp     fail
4:  movl    $msg_twice, %esi
    jmp     fail

/* ------------------------------------------------ the disk (optional) */
/* The virtio-blk function of param +32, polled (no interrupts). */
blk_setup:
    pushq   %r15
    movl    $VDEV_BLK, %r15d
    movl    param_block + 32, %eax
    movl    %eax, VIO_CFG(%r15)
    movl    $0x10421af4, %eax          /* virtio-blk-pci, modern */
    call    vio_probe
    movl    $msg_noblk, %esi
    testl   %eax, %eax
    jnz     fail
    movl    $VIO_NO_VECTOR, %edx
    call    vblk_init
    movl    $msg_blkinit, %esi
    testl   %eax, %eax
    jnz     fail
    popq    %r15
    cmpl    $0, param_block + 40
    jne     1f
    movq    $1, V_BSTATE
    jmp     blk_write
1:  ret

/* Block V_BSEQ % NBLK written with its pattern (vblk.inc). */
blk_write:
    movq    V_BSEQ, %r12
    movq    %r12, %rax
    xorl    %edx, %edx
    movl    param_block + 36, %ecx
    divq    %rcx
    movq    %rdx, %r13
    movq    %rdx, V_BBLK
    movl    $VBLK_WBUF, %edi
    call    vblk_fill
    movl    $1, %edi                   /* WRITE: the device reads WBUF */
    movq    %r13, %rsi
    movl    $VBLK_WBUF, %edx
    xorl    %ecx, %ecx
    call    vblk_submit
    incq    V_BREQS
    ret

/*
 * The request in flight: nothing yet, or done (exactly one more used
 * entry, head 0, status 0): a write is read back, a read compared and
 * the next block written.
 */
blk_poll:
    cmpq    $0, V_BSTATE
    je      9f
    movzwl  VBLK_USED + 2, %eax
    movq    V_BREQS, %rcx
    cmpw    %cx, %ax
    je      1f
    decl    %ecx
    cmpw    %cx, %ax
    je      9f                         /* in flight */
    movl    $msg_btwice, %esi
    jmp     fail
1:  movq    V_BREQS, %rax
    decl    %eax
    andl    $VBLK_QSIZE - 1, %eax
    movl    $msg_btwice, %esi
    cmpl    $0, VBLK_USED + 4(,%rax,8) /* id: head 0 */
    jne     fail
    movl    $msg_bstatus, %esi
    cmpb    $0, VBLK_STATUS
    jne     fail
    cmpq    $1, V_BSTATE
    jne     2f
    movl    $VBLK_RBUF, %edi
    movl    $VBLK_BLOCK / 8, %ecx
    xorl    %eax, %eax
    rep stosq
    xorl    %edi, %edi                 /* READ: the device writes RBUF */
    movq    V_BBLK, %rsi
    movl    $VBLK_RBUF, %edx
    movl    $VRING_DESC_F_WRITE, %ecx
    call    vblk_submit
    incq    V_BREQS
    movq    $2, V_BSTATE
    ret
2:  movl    $VBLK_WBUF, %esi
    movl    $VBLK_RBUF, %edi
    movl    $VBLK_BLOCK / 8, %ecx
    repe cmpsq
    movl    $msg_bdata, %esi
    jne     fail
    incq    V_BSEQ
    movq    $1, V_BSTATE
    jmp     blk_write
9:  ret

/* "vnet ready mac M ip A\n" */
print_ready:
    movl    $msg_ready, %esi
    call    puts64
    xorl    %ebx, %ebx
1:  testl   %ebx, %ebx
    jz      2f
    movb    $':', %al
    call    putc64
2:  movzbl  V_MAC(%rbx), %edx
    movl    %edx, %eax
    shrl    $4, %eax
    movb    hexdigits(%rax), %al
    call    putc64
    andl    $15, %edx
    movb    hexdigits(%rdx), %al
    call    putc64
    incl    %ebx
    cmpl    $6, %ebx
    jb      1b
    movl    $msg_ip, %esi
    call    puts64
    xorl    %ebx, %ebx
3:  testl   %ebx, %ebx
    jz      4f
    movb    $'.', %al
    call    putc64
4:  movzbl  param_block + 12(%rbx), %eax
    call    putdec64
    incl    %ebx
    cmpl    $4, %ebx
    jb      3b
    movb    $'\n', %al
    call    putc64
    ret

/* "echo E rx R tx T arp A drop D irq I kick K blk B" */
print_counts:
    xorl    %ebx, %ebx
1:  movq    count_names(,%rbx,8), %rsi
    call    puts64
    movq    count_vars(,%rbx,8), %rax
    movq    (%rax), %rax
    call    putdec64
    incl    %ebx
    cmpl    $8, %ebx
    jb      1b
    ret

/* Print %rsi, ":" and the counts, halt. */
fail:
    call    puts64
    movb    $':', %al
    call    putc64
    call    print_counts
    movb    $'\n', %al
    call    putc64
user_halt:
    hlt                                /* #GP: see halt_forever */
    jmp     user_halt

    PCI_CFG_ROUTINES

    VIO_ROUTINES

    VBLK_ROUTINES

    UART_ROUTINES64

    .balign 8
count_names:
    .quad   n_echo, n_rx, n_tx, n_arp, n_drop, n_irq, n_kick, n_blk
count_vars:
    .quad   V_ECHO, V_RX, V_TX, V_ARP, V_DROP, V_IRQ, V_KICKS, V_BSEQ
n_echo:
    .asciz  " echo "
n_rx:
    .asciz  " rx "
n_tx:
    .asciz  " tx "
n_arp:
    .asciz  " arp "
n_drop:
    .asciz  " drop "
n_irq:
    .asciz  " irq "
n_kick:
    .asciz  " kick "
n_blk:
    .asciz  " blk "
msg_ready:
    .asciz  "vnet ready mac "
msg_ip:
    .asciz  " ip "
msg_line:
    .asciz  "vnet"
msg_badid:
    .asciz  "vnet error: used id out of range"
msg_badlen:
    .asciz  "vnet error: used length larger than the buffer"
msg_twice:
    .asciz  "vnet error: a used entry for a buffer already consumed"
msg_txlost:
    .asciz  "vnet error: transmit not completed"
msg_nodev:
    .asciz  "vnet error: no virtio-net-pci (1af4:1041) at the configured address"
msg_nocap:
    .asciz  "vnet error: virtio capabilities or MSI-X missing"
msg_nofeat:
    .asciz  "vnet error: VERSION_1 or MAC not offered"
msg_features:
    .asciz  "vnet error: FEATURES_OK refused"
msg_queue:
    .asciz  "vnet error: queue set-up refused"
msg_noblk:
    .asciz  "vnet error: no virtio-blk-pci (1af4:1042) at the disk's config address"
msg_blkinit:
    .asciz  "vnet error: disk set-up refused"
msg_btwice:
    .asciz  "vnet error: disk request completed twice or out of order"
msg_bstatus:
    .asciz  "vnet error: disk request failed"
msg_bdata:
    .asciz  "vnet error: disk read back differs from what was written"
msg_fault:
    .asciz  "vnet error: exception or unexpected interrupt, vector "

    BOOT64_IMAGE_END
