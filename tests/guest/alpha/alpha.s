/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * alpha: real-mode boot sector that writes "abcdefghijklmnopqrstuvwxyz"
 * to the UART at 0x3f8 forever, polling LSR.THRE before every byte and
 * with no pause between bytes, counting them at 0x600, so that a test
 * can check that a stream moved between processes has no gap and no
 * duplicate. See README.md.
 */

    .code16
    .text
    .globl _start

    .include "uart.inc"

    .set COUNT, 0x600              /* u32: bytes written so far */

_start:
    BOOT_SETUP
next:
    movb    $'a', %al
letter:
    call    putc
    incl    COUNT                  /* after the byte: may lag it by one */
    incb    %al
    cmpb    $'z' + 1, %al
    jne     letter
    jmp     next

    UART_ROUTINES

    .org    510
    .byte   0x55, 0xaa
