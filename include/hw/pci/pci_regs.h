/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI and PCI Express configuration-space register offsets and bits
 * (PCI Local Bus 3.0, PCI-to-PCI Bridge 1.2, PCI Express Base 4.0): the
 * subset baton's PCI model uses. Numbers are the specifications'.
 */
#ifndef BATON_HW_PCI_PCI_REGS_H
#define BATON_HW_PCI_PCI_REGS_H

#define PCI_CONFIG_SPACE_SIZE   0x100
#define PCIE_CONFIG_SPACE_SIZE  0x1000
#define PCI_CONFIG_HEADER_SIZE  0x40

/* Type 0 and type 1 common header */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define  PCI_COMMAND_IO         0x1
#define  PCI_COMMAND_MEMORY     0x2
#define  PCI_COMMAND_MASTER     0x4
#define  PCI_COMMAND_SPECIAL    0x8
#define  PCI_COMMAND_INVALIDATE 0x10
#define  PCI_COMMAND_VGA_PALETTE 0x20
#define  PCI_COMMAND_PARITY     0x40
#define  PCI_COMMAND_WAIT       0x80
#define  PCI_COMMAND_SERR       0x100
#define  PCI_COMMAND_FAST_BACK  0x200
#define  PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS              0x06
#define  PCI_STATUS_INTERRUPT   0x08
#define  PCI_STATUS_CAP_LIST    0x10
#define  PCI_STATUS_66MHZ       0x20
#define  PCI_STATUS_FAST_BACK   0x80
#define  PCI_STATUS_PARITY      0x100
#define  PCI_STATUS_SIG_TARGET_ABORT 0x800
#define  PCI_STATUS_REC_TARGET_ABORT 0x1000
#define  PCI_STATUS_REC_MASTER_ABORT 0x2000
#define  PCI_STATUS_SIG_SYSTEM_ERROR 0x4000
#define  PCI_STATUS_DETECTED_PARITY 0x8000
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_CACHE_LINE_SIZE     0x0c
#define PCI_LATENCY_TIMER       0x0d
#define PCI_HEADER_TYPE         0x0e
#define  PCI_HEADER_TYPE_NORMAL 0
#define  PCI_HEADER_TYPE_BRIDGE 1
#define  PCI_HEADER_TYPE_MULTI_FUNCTION 0x80
#define PCI_BIST                0x0f
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_BASE_ADDRESS_5      0x24
#define  PCI_BASE_ADDRESS_SPACE_IO     0x01
#define  PCI_BASE_ADDRESS_SPACE_MEMORY 0x00
#define  PCI_BASE_ADDRESS_MEM_TYPE_32  0x00
#define  PCI_BASE_ADDRESS_MEM_TYPE_64  0x04
#define  PCI_BASE_ADDRESS_MEM_PREFETCH 0x08
#define  PCI_BASE_ADDRESS_MEM_MASK     (~0x0fU)
#define  PCI_BASE_ADDRESS_IO_MASK      (~0x03U)
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_ROM_ADDRESS         0x30
#define  PCI_ROM_ADDRESS_ENABLE 0x01
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3c
#define PCI_INTERRUPT_PIN       0x3d
#define PCI_MIN_GNT             0x3e
#define PCI_MAX_LAT             0x3f

/* Type 1 (PCI-to-PCI bridge) header */
#define PCI_PRIMARY_BUS         0x18
#define PCI_SECONDARY_BUS       0x19
#define PCI_SUBORDINATE_BUS     0x1a
#define PCI_SEC_LATENCY_TIMER   0x1b
#define PCI_IO_BASE             0x1c
#define PCI_IO_LIMIT            0x1d
#define  PCI_IO_RANGE_TYPE_32   0x01
#define PCI_SEC_STATUS          0x1e
#define PCI_MEMORY_BASE         0x20
#define PCI_MEMORY_LIMIT        0x22
#define PCI_PREF_MEMORY_BASE    0x24
#define PCI_PREF_MEMORY_LIMIT   0x26
#define  PCI_PREF_RANGE_TYPE_64 0x01
#define PCI_PREF_BASE_UPPER32   0x28
#define PCI_PREF_LIMIT_UPPER32  0x2c
#define PCI_IO_BASE_UPPER16     0x30
#define PCI_IO_LIMIT_UPPER16    0x32
#define PCI_ROM_ADDRESS1        0x38
#define PCI_BRIDGE_CONTROL      0x3e

/* Capability list entries */
#define PCI_CAP_LIST_ID         0
#define PCI_CAP_LIST_NEXT       1
#define PCI_CAP_ID_PM           0x01
#define PCI_CAP_ID_MSI          0x05
#define PCI_CAP_ID_VNDR         0x09
#define PCI_CAP_ID_SSVID        0x0d
#define PCI_CAP_ID_EXP          0x10
#define PCI_CAP_ID_MSIX         0x11

/* PCI Express capability (offsets within it) */
#define PCI_EXP_FLAGS           0x02
#define  PCI_EXP_FLAGS_VER2     0x0002
#define  PCI_EXP_FLAGS_SLOT     0x0100
#define  PCI_EXP_TYPE_ENDPOINT  0x0
#define  PCI_EXP_TYPE_ROOT_PORT 0x4
#define  PCI_EXP_FLAGS_TYPE_SHIFT 4
#define PCI_EXP_DEVCAP          0x04
#define PCI_EXP_DEVCTL          0x08
#define PCI_EXP_DEVSTA          0x0a
#define PCI_EXP_LNKCAP          0x0c
#define PCI_EXP_LNKCTL          0x10
#define PCI_EXP_LNKSTA          0x12
#define PCI_EXP_SLTCAP          0x14
#define  PCI_EXP_SLTCAP_PSN_SHIFT 19
#define PCI_EXP_SLTCTL          0x18
#define PCI_EXP_SLTSTA          0x1a
#define  PCI_EXP_SLTSTA_PDS     0x0040
#define PCI_EXP_RTCTL           0x1c
#define PCI_EXP_RTCAP           0x1e
#define PCI_EXP_RTSTA           0x20
#define PCI_EXP_DEVCAP2         0x24
#define PCI_EXP_DEVCTL2         0x28
#define PCI_EXP_LNKCAP2         0x2c
#define PCI_EXP_LNKCTL2         0x30
#define PCI_EXP_SLTCTL2         0x38
#define PCI_EXP_VER2_SIZEOF     0x3c
#define PCI_EXP_LNK_MLW_1       0x10
#define PCI_EXP_LNK_LS_25       0x1

/* MSI capability */
#define PCI_MSI_FLAGS           0x02
#define  PCI_MSI_FLAGS_ENABLE   0x0001
#define  PCI_MSI_FLAGS_QMASK    0x000e
#define  PCI_MSI_FLAGS_QSIZE    0x0070
#define  PCI_MSI_FLAGS_64BIT    0x0080
#define  PCI_MSI_FLAGS_MASKBIT  0x0100
#define PCI_MSI_ADDRESS_LO      0x04
#define PCI_MSI_ADDRESS_HI      0x08

/* MSI-X capability */
#define PCI_MSIX_FLAGS          0x02
#define  PCI_MSIX_FLAGS_QSIZE   0x07ff
#define  PCI_MSIX_FLAGS_MASKALL 0x4000
#define  PCI_MSIX_FLAGS_ENABLE  0x8000
#define PCI_MSIX_TABLE          0x04
#define PCI_MSIX_PBA            0x08
#define  PCI_MSIX_FLAGS_BIRMASK 0x7
#define PCI_MSIX_ENTRY_SIZE     16
#define PCI_MSIX_ENTRY_LOWER_ADDR 0x0
#define PCI_MSIX_ENTRY_UPPER_ADDR 0x4
#define PCI_MSIX_ENTRY_DATA     0x8
#define PCI_MSIX_ENTRY_VECTOR_CTRL 0xc
#define  PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1

/* Class codes (base class << 8 | subclass) */
#define PCI_CLASS_OTHERS                0xff00
#define PCI_CLASS_STORAGE_IDE           0x0101
#define PCI_CLASS_NETWORK_ETHERNET      0x0200
#define PCI_CLASS_DISPLAY_VGA           0x0300
#define PCI_CLASS_MEMORY_RAM            0x0500
#define PCI_CLASS_BRIDGE_HOST           0x0600
#define PCI_CLASS_BRIDGE_ISA            0x0601
#define PCI_CLASS_BRIDGE_PCI            0x0604
#define PCI_CLASS_BRIDGE_OTHER          0x0680
#define PCI_CLASS_SYSTEM_OTHER          0x0880

#define PCI_VENDOR_ID_INTEL             0x8086
#define PCI_VENDOR_ID_REDHAT            0x1b36
#define PCI_VENDOR_ID_REDHAT_QUMRANET   0x1af4
#define PCI_SUBVENDOR_ID_REDHAT_QUMRANET 0x1af4
#define PCI_SUBDEVICE_ID_QEMU           0x1100

#endif
