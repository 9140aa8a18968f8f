/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * smp: real-mode boot sector that starts the other vCPUs. The BSP copies
 * a trampoline to 0x8000, switches its local APIC to x2APIC mode and sends
 * INIT and two SIPIs to all but itself; each AP counts itself in at 0x600,
 * puts its APIC ID in ESI and EDI and halts with interrupts off. The BSP
 * then prints "seq N aps M\n" forever (M: APs counted in). See README.md.
 */

    .code16
    .text
    .globl _start

    .include "uart.inc"

.ifndef SEQ_DELAY
    .set SEQ_DELAY, 20000
.endif

    .set AP_COUNT, 0x600           /* u16: APs that reached their halt */
    .set TRAMPOLINE_SEG, 0x0800    /* SIPI vector 0x08: 0x0800:0000 */
    .set MSR_APIC_BASE, 0x1b
    .set APIC_BASE_X2APIC, 0xc00   /* EN | EXTD */
    .set MSR_X2APIC_ICR, 0x830
    .set ICR_INIT, 0x000c4500      /* all but self, INIT, assert */
    .set ICR_SIPI, 0x000c4608      /* all but self, start-up, vector 8 */

_start:
    BOOT_SETUP
    movw    $0, AP_COUNT

    /* The trampoline must start on a 4 KiB boundary: copy it there. */
    movw    $TRAMPOLINE_SEG, %ax
    movw    %ax, %es
    xorw    %di, %di
    movw    $ap_start, %si
    movw    $(ap_end - ap_start), %cx
    rep movsb

    movl    $MSR_APIC_BASE, %ecx
    rdmsr
    orl     $APIC_BASE_X2APIC, %eax
    wrmsr
    movl    $MSR_X2APIC_ICR, %ecx
    xorl    %edx, %edx
    movl    $ICR_INIT, %eax
    wrmsr
    movl    $ICR_SIPI, %eax
    wrmsr
    wrmsr

    xorl    %ebx, %ebx             /* N */
seq:
    movw    $msg_seq, %si
    call    puts
    movl    %ebx, %eax
    call    putdec
    movw    $msg_aps, %si
    call    puts
    movzwl  AP_COUNT, %eax
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

/* Runs at 0x0800:0000 on each AP; position-independent. */
ap_start:
    cli
    xorw    %ax, %ax
    movw    %ax, %ds
    movl    $1, %eax
    cpuid
    shrl    $24, %ebx              /* initial APIC ID */
    movl    %ebx, %esi
    movl    $0x5a5a0000, %edi
    orl     %ebx, %edi
    lock incw AP_COUNT
3:  hlt
    jmp     3b
ap_end:

msg_seq:
    .asciz  "seq "
msg_aps:
    .asciz  " aps "

    .org    510
    .byte   0x55, 0xaa
