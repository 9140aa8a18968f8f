/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dirty: migration test guest. The boot sector loads the rest of the image
 * over the legacy ATA ports, switches real -> protected -> long mode with
 * its own GDT, IDT, TSS and identity page tables, then runs a ring-3 loop
 * that keeps incrementing the first byte of every page in a range and
 * prints "seq N" to the UART. Image layout and parameters: README.md.
 */

    .include "uart.inc"

    .set LOAD_ADDR, 0x7e00         /* image sector 1 goes right after 0x7c00 */
    .set STATUS, 0x5000            /* status block (own page, see README) */
    .set STACK0, 0x7c00            /* ring-0 stack top (real mode too) */
    .set PML4, 0x20000
    .set PDPT, 0x21000
    .set PD0, 0x22000              /* 8 page directories: 8 GiB identity */
    .set N_PD, 8
    .set IDT, 0x2a000              /* 32 gates, 16 bytes each */
    .set STACK3, 0x30000           /* ring-3 stack top */
    .set TSS_COPY, 0x2b000

    .set SEL_CODE32, 0x08
    .set SEL_DATA, 0x10
    .set SEL_CODE64, 0x18
    .set SEL_UDATA, 0x28
    .set SEL_UCODE64, 0x30
    .set SEL_TSS, 0x38

    .set ATA_DATA, 0x1f0
    .set ATA_COUNT, 0x1f2
    .set ATA_LBA0, 0x1f3
    .set ATA_LBA1, 0x1f4
    .set ATA_LBA2, 0x1f5
    .set ATA_DEVICE, 0x1f6
    .set ATA_CMD, 0x1f7            /* status on read */
    .set ATA_CTRL, 0x3f6
    .set ATA_BSY, 0x80
    .set ATA_DRQ, 0x08
    .set ATA_ERR, 0x01

/* Default spin iterations after each sweep; override with --defsym. */
.ifndef DELAY_DEFAULT
    .set DELAY_DEFAULT, 2000000
.endif

    .text
    .globl _start

/* ---------------------------------------------------------------- sector 0 */
    .code16
_start:
    BOOT_SETUP

    /* nIEN: no IRQ 14, we poll. */
    movw    $ATA_CTRL, %dx
    movb    $0x02, %al
    outb    %al, %dx
    movw    $ATA_CMD, %dx
1:  inb     %dx, %al
    testb   $ATA_BSY, %al
    jnz     1b
    movw    $ATA_DEVICE, %dx
    movb    $0xe0, %al             /* LBA, master, LBA bits 27:24 = 0 */
    outb    %al, %dx
    movw    $ATA_COUNT, %dx
    movb    $LOAD_SECTORS, %al
    outb    %al, %dx
    movw    $ATA_LBA0, %dx
    movb    $1, %al
    outb    %al, %dx
    xorb    %al, %al
    movw    $ATA_LBA1, %dx
    outb    %al, %dx
    movw    $ATA_LBA2, %dx
    outb    %al, %dx
    movw    $ATA_CMD, %dx
    movb    $0x20, %al             /* READ SECTORS */
    outb    %al, %dx

    movw    $LOAD_ADDR, %di        /* ES = 0 */
    movw    $LOAD_SECTORS, %bx
next_sector:
    movw    $ATA_CMD, %dx
2:  inb     %dx, %al
    testb   $ATA_BSY, %al
    jnz     2b
    testb   $ATA_ERR, %al
    jnz     disk_error
    testb   $ATA_DRQ, %al
    jz      2b
    movw    $ATA_DATA, %dx
    movw    $256, %cx
    rep insw
    decw    %bx
    jnz     next_sector

    cmpl    $0x54524944, param_block    /* "DIRT" */
    jne     disk_error
    jmp     stage2

disk_error:
    movw    $msg_disk, %si
    call    puts
3:  hlt
    jmp     3b

    UART_ROUTINES

msg_disk:
    .asciz  "dirty: cannot load the image from the disk\n"

    .org    510
    .byte   0x55, 0xaa

/* ------------------------------------------- sector 1: parameters (0x7e00) */
param_block:
    .ascii  "DIRTYPB1"             /* +0  magic */
    .quad   0x1000000              /* +8  start: first page (physical) */
    .quad   256                    /* +16 pages */
    .quad   1                      /* +24 sweeps per serial line */
    .quad   DELAY_DEFAULT          /* +32 spin iterations after a sweep */
    .quad   0                      /* +40 marker (low byte; 0: none) */
    .quad   0, 0                   /* +48 reserved */

    .balign 16
gdt:
    .quad   0
    .quad   0x00cf9a000000ffff     /* 0x08 code32, ring 0 */
    .quad   0x00cf92000000ffff     /* 0x10 data, ring 0 */
    .quad   0x00209a0000000000     /* 0x18 code64, ring 0 */
    .quad   0                      /* 0x20 unused */
    .quad   0x00cff2000000ffff     /* 0x28 data, ring 3 */
    .quad   0x0020fa0000000000     /* 0x30 code64, ring 3 */
gdt_tss:                           /* 0x38 64-bit TSS; base set at run time */
    .word   tss_end - tss + 8192
    .word   TSS_COPY & 0xffff
    .byte   TSS_COPY >> 16, 0x89, 0x00, 0
    .long   0, 0
gdt_end:

gdt_desc:
    .word   gdt_end - gdt - 1
    .long   gdt
    .long   0

idt_desc:
    .word   32 * 16 - 1
    .quad   IDT

    .balign 16
tss:
    .long   0
    .quad   STACK0                 /* rsp0 */
    .quad   0, 0                   /* rsp1, rsp2 */
    .quad   0                      /* reserved */
    .quad   0, 0, 0, 0, 0, 0, 0    /* ist1..7 */
    .quad   0                      /* reserved */
    .word   0
    .word   tss_end - tss          /* I/O map base: right after */
tss_end:

/* ----------------------------------------------- real -> protected -> long */
    .code16
stage2:
    lgdtl   gdt_desc
    movl    %cr0, %eax
    orl     $1, %eax
    movl    %eax, %cr0
    ljmpl   $SEL_CODE32, $pm32

    .code32
pm32:
    movw    $SEL_DATA, %ax
    movw    %ax, %ds
    movw    %ax, %es
    movw    %ax, %ss
    movw    %ax, %fs
    movw    %ax, %gs
    movl    $STACK0, %esp

    /* TSS at TSS_COPY, followed by an all-zero I/O bitmap and 0xff. */
    movl    $tss, %esi
    movl    $TSS_COPY, %edi
    movl    $tss_end - tss, %ecx
    rep movsb
    xorl    %eax, %eax
    movl    $8192 / 4, %ecx
    rep stosl
    movb    $0xff, (%edi)

    /* PML4 and PDPT: clear, then PML4[0] -> PDPT, PDPT[i] -> PD i. */
    movl    $PML4, %edi
    xorl    %eax, %eax
    movl    $2 * 4096 / 4, %ecx
    rep stosl
    movl    $PDPT | 7, PML4            /* present, writable, user */
    movl    $PDPT, %edi
    movl    $PD0 | 7, %eax
    movl    $N_PD, %ecx
1:  movl    %eax, (%edi)
    addl    $8, %edi
    addl    $4096, %eax
    loop    1b
    /* 2 MiB pages: entry i maps i * 2 MiB, present|writable|user|PS. */
    movl    $PD0, %edi
    movl    $0x87, %eax
    xorl    %edx, %edx
    movl    $N_PD * 512, %ecx
2:  movl    %eax, (%edi)
    movl    %edx, 4(%edi)
    addl    $0x200000, %eax
    adcl    $0, %edx
    addl    $8, %edi
    loop    2b

    movl    %cr4, %eax
    orl     $0x20, %eax                /* PAE */
    movl    %eax, %cr4
    movl    $PML4, %eax
    movl    %eax, %cr3
    movl    $0xc0000080, %ecx          /* EFER */
    rdmsr
    orl     $0x100, %eax               /* LME */
    wrmsr
    movl    %cr0, %eax
    orl     $0x80000000, %eax          /* PG: long mode becomes active */
    movl    %eax, %cr0
    ljmpl   $SEL_CODE64, $lm64

    .code64
lm64:
    movl    $STACK0, %esp
    movl    $SEL_TSS, %eax
    ltr     %ax

    /* IDT: vector n -> stub n (stubs are 8 bytes apart). */
    movl    $IDT, %edi
    movl    $fault_stubs, %eax
    movl    $32, %ecx
1:  movw    %ax, (%rdi)
    movw    $SEL_CODE64, 2(%rdi)
    movw    $0x8e00, 4(%rdi)           /* present, DPL 0, interrupt gate */
    movl    %eax, %edx
    shrl    $16, %edx
    movw    %dx, 6(%rdi)
    movq    $0, 8(%rdi)
    addq    $16, %rdi
    addl    $8, %eax
    loop    1b
    lidt    idt_desc

    /*
     * Zero the status block, then iretq to ring 3 with IOPL=3, IF=0. Some
     * hypervisors (PVM) ignore IOPL in ring 3, hence also the I/O bitmap.
     */
    xorl    %eax, %eax
    movq    %rax, STATUS
    movq    %rax, STATUS + 8
    pushq   $SEL_UDATA | 3
    pushq   $STACK3
    pushq   $0x3002
    pushq   $SEL_UCODE64 | 3
    pushq   $user_main
    iretq

/* Any exception: print its vector and halt (ring 0, stack from TSS rsp0). */
    .balign 8
fault_stubs:
    .set    vector, 0
    .rept   32
    .balign 8
    movb    $vector, %bl
    jmp     fault
    .set    vector, vector + 1
    .endr
fault:
    movl    $msg_fault, %esi
    call    puts64
    movzbl  %bl, %eax
    call    putdec64
    movq    %rsp, %rbx                 /* [error code,] rip, cs, rflags */
    movl    $4, %ebp
2:  movb    $' ', %al
    call    putc64
    movq    (%rbx), %rax
    call    putdec64
    addq    $8, %rbx
    decl    %ebp
    jnz     2b
    movb    $'\n', %al
    call    putc64
1:  cli
    hlt
    jmp     1b

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

/* putc64: write %al to the UART once it can take a byte. Preserves all. */
putc64:
    pushq   %rdx
    pushq   %rax
    movw    $UART_LSR, %dx
1:  inb     %dx, %al
    testb   $LSR_THRE, %al
    jz      1b
    popq    %rax
    movw    $UART_THR, %dx
    outb    %al, %dx
    popq    %rdx
    ret

/* puts64: write the NUL-terminated string at %rsi. Clobbers %rsi, %al. */
puts64:
    lodsb
    testb   %al, %al
    jz      1f
    call    putc64
    jmp     puts64
1:  ret

/* putdec64: print %rax in decimal. Clobbers %rax, %rcx, %rdx, %rsi. */
putdec64:
    movq    %rsp, %rsi
    subq    $32, %rsp
    movl    $10, %ecx
1:  xorl    %edx, %edx
    divq    %rcx
    addb    $'0', %dl
    decq    %rsi
    movb    %dl, (%rsi)
    testq   %rax, %rax
    jnz     1b
2:  movb    (%rsi), %al
    call    putc64
    incq    %rsi
    leaq    32(%rsp), %rax
    cmpq    %rax, %rsi
    jne     2b
    addq    $32, %rsp
    ret

msg_ready:
    .asciz  "dirty ready\n"
msg_seq:
    .asciz  "seq "
msg_fault:
    .asciz  "dirty: exception "

    .balign 512, 0
image_end:
    .set LOAD_SECTORS, (image_end - param_block) / 512
