/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hello: real-mode boot sector for the functional tests and benchmarks.
 * Prints "B" first (start-up latency probe), fills the page at 0x10000 with
 * byte[i] = (i * 7 + 3) & 0xff, completes "Baton hello\n", then prints
 * "seq N\n" forever with a spin between lines. See README.md.
 */

    .code16
    .text
    .globl _start

    .include "uart.inc"

/* Iterations of the spin between "seq" lines; override with --defsym. */
.ifndef SEQ_DELAY
    .set SEQ_DELAY, 20000
.endif

    .set PATTERN_SEG, 0x1000       /* 0x1000:0000 = guest-physical 0x10000 */
    .set PATTERN_LEN, 4096

_start:
    BOOT_SETUP
    movb    $'B', %al              /* first byte, as early as possible */
    call    putc

    /* byte[i] = 7 * i + 3 (mod 256): start at 3 and add 7 per byte. */
    movw    $PATTERN_SEG, %ax
    movw    %ax, %es
    xorw    %di, %di
    movb    $3, %al
fill:
    stosb
    addb    $7, %al
    cmpw    $PATTERN_LEN, %di
    jne     fill

    movw    $msg_hello, %si
    call    puts

    xorl    %ebx, %ebx             /* N, 32-bit so it does not wrap soon */
seq:
    movw    $msg_seq, %si
    call    puts
    movl    %ebx, %eax
    call    putdec
    movb    $'\n', %al
    call    putc
    incl    %ebx
    movl    $SEQ_DELAY, %ecx
spin:
    decl    %ecx
    jnz     spin
    jmp     seq

    UART_PUTDEC
    UART_ROUTINES

msg_hello:
    .asciz  "aton hello\n"
msg_seq:
    .asciz  "seq "

    .org    510
    .byte   0x55, 0xaa
