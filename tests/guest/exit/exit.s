/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * exit: real-mode boot sector that prints "exit\n" and writes 0x21 to the
 * isa-debug-exit port, so the VMM exits with status (0x21 << 1) | 1 = 67.
 * Halts forever if the device is absent. See README.md.
 */

    .code16
    .text
    .globl _start

    .include "uart.inc"

    .set EXIT_VALUE, 0x21

_start:
    BOOT_SETUP
    movw    $msg_exit, %si
    call    puts
    movb    $EXIT_VALUE, %al
    outb    %al, $DEBUG_EXIT_PORT
halt:
    hlt                            /* interrupts are off: stays here */
    jmp     halt

    UART_ROUTINES

msg_exit:
    .asciz  "exit\n"

    .org    510
    .byte   0x55, 0xaa
