/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirty: migration test guest. The boot sector loads the rest of the image
 * over the legacy ATA ports, switches real -> protected -> long mode with
 * its own GDT, IDT, TSS and identity page tables, then runs a ring-3 loop
 * that keeps incrementing the first byte of every page in a range and
 * prints "seq N" to the UART. The boot is ../common/boot64.inc's. Image
 * layout and parameters: README.md.
 */

    .include "uart.inc"
    .include "boot64.inc"

    .set STATUS, 0x5000            /* status block (own page, see README) */
    .set BOOT_N_PD, 8              /* 8 GiB identity (RAM above 4 GiB too) */
    .set BOOT_N_GATES, 32          /* exceptions only */

/* Default spin iterations after each sweep; override with --defsym. */
.ifndef DELAY_DEFAULT
    .set DELAY_DEFAULT, 2000000
.endif

/* Sector 0, then sector 1 (0x7e00): the parameter block after its magic. */
    BOOT64_SECTOR0 "DIRTYPB1", "dirty:"
    .quad   0x1000000              /* +8  start: first page (physical) */
    .quad   256                    /* +16 pages */
    .quad   1                      /* +24 sweeps per serial line */
    .quad   DELAY_DEFAULT          /* +32 spin iterations after a sweep */
    .quad   0                      /* +40 marker (low byte; 0: none) */
    .quad   0, 0                   /* +48 reserved */

    BOOT64_LONG_MODE

    /* Zero the status block, then ring 3 with IF = 0: no interrupts. */
    xorl    %eax, %eax
    movq    %rax, STATUS
    movq    %rax, STATUS + 8
    BOOT64_ENTER_RING3 user_main, 0

/* Any exception: print its vector and the frame in decimal, and halt. */
    BOOT64_FAULTS putdec64

/* ------------------------------------------------------------- ring 3 */
/*
 * r12 = first page, r13 = pages, r14 = sweeps per line, r15 = spin count,
 * r11 = sweeps left before the next line, rbx = next line number.
 * After each page increment the total count at STATUS is incremented.
 * A nonzero marker goes to byte 1 of every page first, so that no page of
 * the range ever reads as all zero (its counter byte wraps every 256
 * sweeps).
 */
user_main:
    movl    $msg_ready, %esi
    call    puts64
    movq    param_block + 8, %r12
    movq    param_block + 16, %r13
    movq    param_block + 24, %r14
    movq    param_block + 32, %r15
    testq   %r13, %r13
    jnz     1f
    incq    %r13
1:  testq   %r14, %r14
    jnz     2f
    incq    %r14
2:  movb    param_block + 40, %al
    testb   %al, %al
    jz      4f
    movq    %r12, %rdi
    movq    %r13, %rcx
3:  movb    %al, 1(%rdi)
    addq    $4096, %rdi
    decq    %rcx
    jnz     3b
4:  movq    %r14, %r11
    xorl    %ebx, %ebx
sweep:
    movq    %r12, %rdi
    movq    %r13, %rcx
1:  incb    (%rdi)
    incq    STATUS
    addq    $4096, %rdi
    decq    %rcx
    jnz     1b
    decq    %r11
    jnz     spin
    movq    %r14, %r11
    movl    $msg_seq, %esi
    call    puts64
    movq    %rbx, %rax
    call    putdec64
    movb    $'\n', %al
    call    putc64
    incq    %rbx
    movq    %rbx, STATUS + 8
spin:
    movq    %r15, %rcx
    testq   %rcx, %rcx
    jz      sweep
1:  decq    %rcx
    jnz     1b
    jmp     sweep

    UART_ROUTINES64

msg_ready:
    .asciz  "dirty ready\n"
msg_seq:
    .asciz  "seq "
msg_fault:
    .asciz  "dirty: exception "

    BOOT64_IMAGE_END
