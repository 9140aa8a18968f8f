/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * baton's x86 PC machine: the memory map and the boot device. QEMU's "pc"
 * and "q35" names (and their versioned forms) all select this machine.
 */
#ifndef BATON_HW_I386_PC_H
#define BATON_HW_I386_PC_H

#include <stdbool.h>
#include <stdint.h>

/* Start of the 32-bit PCI/MMIO hole; RAM above it is relocated above 4 GiB. */
#define PC_BELOW_4G_MAX 0xc0000000ULL
#define PC_4G           0x100000000ULL
/* Legacy VGA window, left unassigned (no VGA device). */
#define PC_VGA_START 0xa0000ULL
#define PC_VGA_END   0xc0000ULL
/* Where the boot sector is loaded and entered. */
#define PC_BOOT_SECTOR_ADDR 0x7c00
#define PC_BOOT_DRIVE_DL    0x80

struct DriveInfo;

/* The pc machine's IDE bus type ("ide.0"), of hw/block/ide.c's disks. */
#define TYPE_IDE_BUS "IDE"

/*
 * The drive of the ide-hd with the lowest unit on the primary IDE channel,
 * or NULL if there is none (hw/block/ide.c). The pc machine boots from it.
 */
struct DriveInfo *ide_hd_boot_drive(void);

#endif
