/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The x86 "pc" machine behind all of QEMU's pc/q35 names: guest RAM and
 * its memory map, the interrupt controller's GSI inputs and the MSI
 * window, a few ports ignored on purpose, and boot-sector loading at reset
 * (baton has no firmware).
 * Devices the user adds (-device isa-serial, ...) live in their own files;
 * docs/system/machine.md describes the guest's view.
 */
#include "util/osdep.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include "chardev/char.h"
#include "hw/core/irq.h"
#include "hw/core/machine.h"
#include "hw/core/qdev.h"
#include "hw/i386/pc.h"
#include "hw/isa/isa.h"
#include "hw/pci-host/i440fx.h"
#include "hw/pci-host/q35.h"
#include "hw/pci/pci-host.h"
#include "migration/cpr.h"
#include "system/blockdev.h"
#include "system/cpus.h"
#include "system/hostmem.h"
#include "system/irqchip.h"
#include "system/memory.h"
#include "system/runstate.h"
#include "util/error-report.h"

/*
 * "pc-machine" is the previous release's PCI-less PC, which every machine
 * name up to 9.2 keeps selecting (same devices, same sections), so that
 * live update and migration to and from that release work. The 10.0
 * names add a PCI chipset: i440FX + PIIX3 or Q35 (MCH + ICH9-LPC).
 */
#define TYPE_PC_MACHINE "pc-machine"
#define TYPE_PC_I440FX_MACHINE "pc-i440fx-machine"
#define TYPE_PC_Q35_MACHINE "pc-q35-machine"
#define PC_DEFAULT_RAM_SIZE (128ULL << 20)
/* QEMU's pc: RAM of this size or more leaves 3 GiB below 4 GiB. */
#define PC_LOWMEM_LIMIT 0xe0000000ULL
#define PC_BOOT_SECTOR_SIZE 512
#define PC_NR_PORTS 3

typedef struct PcMachineState {
    MachineState parent_obj;

    /*
     * QEMU -machine properties accepted for command-line compatibility
     * (NULL when not given); realize rejects the values that would ask
     * for hardware baton does not have.
     */
    char *usb;
    char *graphics;
    char *hpet;
    char *vmport;
    char *smm;
    char *acpi;
    bool dump_guest_core;

    /* runtime only */
    MemoryRegion ram;          /* all of ms->ram; mapped through aliases */
    MemoryRegion ram_below_4g; /* alias of ram at 0 */
    MemoryRegion ram_above_4g; /* alias of ram at 4 GiB, if any */
    MemoryRegion vga_lowmem;   /* the empty VGA window over ram_below_4g */
    MemoryRegion ports[PC_NR_PORTS]; /* pc_ignored_ports */
    MemoryRegion msi_window;         /* 0xfee00000, 1 MiB: MSI writes */
    qemu_irq gsi[IRQCHIP_NR_GSIS];   /* the interrupt controller's inputs */
    RAMBlock *own_ram;       /* allocated here (no memory-backend) */
    bool boot_warned;
    PCIHostState *pci_host; /* NULL on the PCI-less machine */
} PcMachineState;

typedef struct PcMachineClass {
    MachineClass parent_class;

    /* The PCI host bridge type, NULL for none (machines up to 9.2). */
    const char *pci_host_type;
    const char *pci_host_name; /* its name under /machine */
    /* The functions the machine puts on the root bus, with their devfn. */
    const char *host_func_type;
    const char *isa_bridge_type;
    int isa_bridge_devfn;
} PcMachineClass;

#define PC_MACHINE_GET_CLASS(obj) \
    OBJECT_GET_CLASS(PcMachineClass, (obj), TYPE_PC_MACHINE)

/*
 * Compatibility properties: which values match baton and why the others
 * cannot be honoured. Bool ones accept "off" spellings only; on/off/auto
 * ones accept "off" and "auto" (which resolves to off here).
 */
typedef struct PcCompatProp {
    const char *name;
    size_t offset;
    bool on_off_auto;
    const char *reason;
} PcCompatProp;

static const PcCompatProp pc_compat_props[] = {
    {"usb", offsetof(PcMachineState, usb), false,
     "baton has no USB controller"},
    {"graphics", offsetof(PcMachineState, graphics), false,
     "baton has no display"},
    {"hpet", offsetof(PcMachineState, hpet), false, "baton has no HPET"},
    {"vmport", offsetof(PcMachineState, vmport), true,
     "baton has no VMware I/O port"},
    {"smm", offsetof(PcMachineState, smm), true,
     "baton has no System Management Mode"},
    {"acpi", offsetof(PcMachineState, acpi), true,
     "baton has no firmware and no ACPI tables"},
};

static bool pc_check_compat_props(PcMachineState *pcms, GError **errp)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(pc_compat_props); i++) {
        const PcCompatProp *p = &pc_compat_props[i];
        const char *val = *(char **)((char *)pcms + p->offset);
        bool on;

        if (!val) {
            continue;
        }
        if (p->on_off_auto) {
            if (strcmp(val, "on") && strcmp(val, "off") &&
                strcmp(val, "auto")) {
                error_setg(errp, "Parameter '%s' does not accept value '%s'",
                           p->name, val);
                return false;
            }
            on = !strcmp(val, "on");
        } else if (!parse_bool(val, &on)) {
            error_setg(errp, "Parameter '%s' expects 'on' or 'off'", p->name);
            return false;
        }
        if (on) {
            error_setg(errp, "machine property '%s=%s' is not supported: %s",
                       p->name, val, p->reason);
            return false;
        }
    }
    return true;
}

static bool pc_check_props(PcMachineState *pcms, GError **errp)
{
    const char *irqchip = pcms->parent_obj.kernel_irqchip;

    if (irqchip && strcmp(irqchip, "on") && strcmp(irqchip, "off") &&
        strcmp(irqchip, "split")) {
        error_setg(errp,
                   "Parameter 'kernel-irqchip' does not accept value "
                   "'%s'",
                   irqchip);
        return false;
    }
    return pc_check_compat_props(pcms, errp);
}

/*
 * Ports that PC software pokes but baton does not emulate, claimed on
 * purpose so they are not reported as guest errors.
 */
static uint64_t pc_ignored_read(void *opaque, hwaddr offset, unsigned int size)
{
    return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static void pc_ignored_write(void *opaque, hwaddr offset, uint64_t value,
                             unsigned int size)
{
}

static const MemoryRegionOps pc_ignored_ops = {
    .read = pc_ignored_read,
    .write = pc_ignored_write,
};

/* System control port A: A20 is always enabled; bit 0 resets the machine. */
static uint64_t pc_port92_read(void *opaque, hwaddr offset, unsigned int size)
{
    return 0x02;
}

static void pc_port92_write(void *opaque, hwaddr offset, uint64_t value,
                            unsigned int size)
{
    if (!(value & 0x02)) {
        log_mask(LOG_UNIMP, "port 0x92: A20 cannot be disabled\n");
    }
    if (value & 0x01) {
        request_reset(SHUTDOWN_CAUSE_GUEST_RESET);
    }
}

static const MemoryRegionOps pc_port92_ops = {
    .read = pc_port92_read,
    .write = pc_port92_write,
};

typedef struct PcPort {
    const char *name;
    hwaddr base;
    const MemoryRegionOps *ops;
} PcPort;

static const PcPort pc_ignored_ports[PC_NR_PORTS] = {
    {"port80", 0x80, &pc_ignored_ops}, /* POST codes; Linux's I/O delay */
    {"port92", 0x92, &pc_port92_ops},  /* fast A20 gate and reset */
    {"portED", 0xed, &pc_ignored_ops}, /* alternative I/O delay port */
};

static void pc_map_ports(PcMachineState *pcms)
{
    for (size_t i = 0; i < ARRAY_SIZE(pc_ignored_ports); i++) {
        const PcPort *p = &pc_ignored_ports[i];

        memory_region_init_io(&pcms->ports[i], &pcms->parent_obj.parent_obj,
                              p->ops, pcms, p->name, 1);
        memory_region_add_subregion(get_system_io(), p->base,
                                    &pcms->ports[i]);
    }
}

/*
 * The legacy VGA window hides RAM (QEMU's "vga-lowmem" region, here
 * without a VGA card behind it): reads return all ones and writes are
 * dropped, as for unassigned memory, and both are guest errors.
 */
static uint64_t pc_vga_lowmem_read(void *opaque, hwaddr offset,
                                   unsigned int size)
{
    log_mask(LOG_GUEST_ERROR, "read of the VGA window at 0x%" HWADDR_PRIx
             " size %u: there is no VGA device\n", (hwaddr)PC_VGA_START + offset,
             size);
    return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static void pc_vga_lowmem_write(void *opaque, hwaddr offset, uint64_t value,
                                unsigned int size)
{
    log_mask(LOG_GUEST_ERROR, "write to the VGA window at 0x%" HWADDR_PRIx
             " size %u dropped: there is no VGA device\n",
             (hwaddr)PC_VGA_START + offset, size);
}

static const MemoryRegionOps pc_vga_lowmem_ops = {
    .read = pc_vga_lowmem_read,
    .write = pc_vga_lowmem_write,
};

/*
 * The interrupt controller's inputs. ISA IRQs 0-15 are GSIs 0-15 (KVM's
 * in-kernel PIC and IOAPIC both see them), 16-23 are IOAPIC-only pins.
 * Lines that several devices share go through a SharedIRQ in front of
 * these (hw/core/irq.h), so each GSI has exactly one driver.
 */
static void pc_gsi_handler(void *opaque, int n, int level)
{
    irqchip_set_gsi(n, level != 0);
}

static void pc_init_gsis(PcMachineState *pcms)
{
    for (unsigned int i = 0; i < IRQCHIP_NR_GSIS; i++) {
        pcms->gsi[i] = qemu_allocate_irq(pc_gsi_handler, pcms, (int)i);
    }
}

static qemu_irq pc_get_gsi(MachineState *ms, unsigned int gsi)
{
    PcMachineState *pcms = (PcMachineState *)ms;

    return gsi < IRQCHIP_NR_GSIS ? pcms->gsi[gsi] : NULL;
}

/*
 * The APIC's MSI window: a device signals an MSI by a 4-byte write of the
 * data at the address, through its bus-master address space, as on real
 * hardware. Devices that own eventfds use routes and irqfds instead
 * (system/irqchip.h). Under KVM a vCPU's own accesses to its LAPIC page
 * never get here: the in-kernel LAPIC takes them first.
 */
static uint64_t pc_msi_read(void *opaque, hwaddr offset, unsigned int size)
{
    log_mask(LOG_GUEST_ERROR,
             "read of the MSI window at 0x%" HWADDR_PRIx
             " size %u: it is write-only\n",
             (hwaddr)MSI_WINDOW_BASE + offset, size);
    return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static void pc_msi_write(void *opaque, hwaddr offset, uint64_t value,
                         unsigned int size)
{
    MSIMessage msg = {.address = MSI_WINDOW_BASE + offset, .data = value};

    if (size != 4) {
        log_mask(LOG_GUEST_ERROR,
                 "MSI window write at 0x%" HWADDR_PRIx
                 " of size %u dropped: MSIs are 4-byte writes\n",
                 (hwaddr)msg.address, size);
        return;
    }
    irqchip_send_msi(msg);
}

static const MemoryRegionOps pc_msi_ops = {
    .read = pc_msi_read,
    .write = pc_msi_write,
};

/* Above anything a BAR could map there, as QEMU's APIC region is. */
#define PC_MSI_WINDOW_PRIORITY 0x1000

static void pc_map_msi_window(PcMachineState *pcms)
{
    memory_region_init_io(&pcms->msi_window, &pcms->parent_obj.parent_obj,
                          &pc_msi_ops, pcms, "apic-msi", MSI_WINDOW_SIZE);
    memory_region_add_subregion_overlap(get_system_memory(), MSI_WINDOW_BASE,
                                        &pcms->msi_window,
                                        PC_MSI_WINDOW_PRIORITY);
}

/*
 * aux-ram-share=on: implicit RAM in a memfd, registered for live update
 * under the machine's "ram" role. A new process (cpr incoming) maps the
 * old process's memfd instead: no ftruncate and no prealloc, since the old
 * process may still be running the guest on that memory.
 */
static bool pc_alloc_shared_ram(PcMachineState *pcms, GError **errp)
{
    MachineState *ms = &pcms->parent_obj;
    int fd = cpr_is_incoming() ? cpr_take_fd(&ms->parent_obj, "ram", 0) : -1;
    struct stat st;

    if (fd < 0) {
        pcms->own_ram =
            ram_block_new_memfd("pc.ram", ms->ram_size, false, errp);
        if (pcms->own_ram) {
            cpr_own_fd(&ms->parent_obj, "ram", 0, pcms->own_ram->fd);
        }
        return pcms->own_ram != NULL;
    }
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < ms->ram_size) {
        error_setg(errp, "machine RAM 'pc.ram': the preserved memfd is "
                   "smaller than -m (0x%" PRIx64 " bytes)", ms->ram_size);
        return false;
    }
    pcms->own_ram = ram_block_new_from_fd("pc.ram", ms->ram_size, fd, 0,
                                          RAM_SHARED | RAM_MEMFD, false,
                                          errp);
    return pcms->own_ram != NULL;
}

static bool pc_alloc_ram(PcMachineState *pcms, GError **errp)
{
    MachineState *ms = &pcms->parent_obj;
    Object *backend;
    uint64_t size;

    if (!ms->memory_backend) {
        if (!ms->ram_size) {
            ms->ram_size = PC_DEFAULT_RAM_SIZE;
        }
        /* aux-ram-share: implicit RAM in a memfd survives live update. */
        if (ms->aux_ram_share) {
            if (!pc_alloc_shared_ram(pcms, errp)) {
                return false;
            }
        } else {
            pcms->own_ram =
                ram_block_new_anon("pc.ram", ms->ram_size, false, errp);
        }
        ms->ram = pcms->own_ram;
        return ms->ram != NULL;
    }

    backend = object_find_user(ms->memory_backend);
    if (!backend || !object_dynamic_cast(backend, TYPE_MEMORY_BACKEND)) {
        error_setg(errp, "Memory backend '%s' not found", ms->memory_backend);
        return false;
    }
    size = host_memory_backend_get_size(backend);
    if (!ms->ram_size_given) {
        ms->ram_size = size;
    } else if (ms->ram_size != size) {
        error_setg(errp,
                   "Machine memory size does not match the size of the "
                   "memory backend: -m is 0x%" PRIx64 ", memory-backend '%s' "
                   "is 0x%" PRIx64,
                   ms->ram_size, ms->memory_backend, size);
        return false;
    }
    if (!host_memory_backend_claim(backend, "machine", errp)) {
        return false;
    }
    ms->ram = host_memory_backend_get_ram(backend);
    if (!ms->ram) {
        error_setg(errp, "memory backend '%s' has no memory",
                   ms->memory_backend);
        return false;
    }
    return true;
}

/*
 * QEMU's pc layout: the RAM block as one region ("pc.ram" or the backend's
 * id), mapped through the alias "ram-below-4g" from 0 up to below_4g and
 * "ram-above-4g" for the rest at 4 GiB; "vga-lowmem" covers the VGA window
 * [0xa0000, 0xc0000) with priority 1. The 0xc0000-0xfffff option-ROM/BIOS
 * area is plain RAM: there is no firmware.
 */
static void pc_map_ram(PcMachineState *pcms)
{
    MachineState *ms = &pcms->parent_obj;
    Object *owner = &ms->parent_obj;
    MemoryRegion *sysmem = get_system_memory();
    uint64_t below;

    below = ms->ram_size < PC_LOWMEM_LIMIT ? ms->ram_size : PC_BELOW_4G_MAX;
    ms->below_4g_mem_size = below;
    ms->above_4g_mem_size = ms->ram_size - below;

    memory_region_init_ram_from_block(&pcms->ram, owner, ms->ram->idstr,
                                      ms->ram, 0, ms->ram_size);
    memory_region_init_alias(&pcms->ram_below_4g, owner, "ram-below-4g",
                             &pcms->ram, 0, below);
    memory_region_add_subregion(sysmem, 0, &pcms->ram_below_4g);
    if (ms->above_4g_mem_size) {
        memory_region_init_alias(&pcms->ram_above_4g, owner, "ram-above-4g",
                                 &pcms->ram, below, ms->above_4g_mem_size);
        memory_region_add_subregion(sysmem, PC_4G, &pcms->ram_above_4g);
    }
    memory_region_init_io(&pcms->vga_lowmem, owner, &pc_vga_lowmem_ops, pcms,
                          "vga-lowmem", PC_VGA_END - PC_VGA_START);
    memory_region_add_subregion_overlap(sysmem, PC_VGA_START,
                                        &pcms->vga_lowmem, 1);
    if (!pcms->dump_guest_core &&
        madvise(ms->ram->host, ms->ram->size, MADV_DONTDUMP) < 0) {
        warn_report("dump-guest-core=off: madvise on '%s' failed: %s",
                    ms->ram->idstr, g_strerror(errno));
    }
}

static void pc_machine_unrealize(Object *obj)
{
    PcMachineState *pcms = (PcMachineState *)obj;
    MachineState *ms = &pcms->parent_obj;

    /* One update for the whole map; aliases before the region they show. */
    memory_region_transaction_begin();
    memory_region_finalize(&pcms->vga_lowmem);
    memory_region_finalize(&pcms->msi_window);
    memory_region_finalize(&pcms->ram_above_4g);
    memory_region_finalize(&pcms->ram_below_4g);
    for (size_t i = 0; i < ARRAY_SIZE(pcms->ports); i++) {
        memory_region_finalize(&pcms->ports[i]);
    }
    memory_region_transaction_commit();
    /* Unmapped by the commit above: nothing refers to it any more. */
    memory_region_finalize(&pcms->ram);
    if (pcms->own_ram) {
        /* The block closes its fd: forget it first. */
        cpr_disown_fd(obj, "ram", 0, pcms->own_ram->fd);
        ram_block_free(pcms->own_ram);
        pcms->own_ram = NULL;
    }
    ms->ram = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(pcms->gsi); i++) {
        qemu_free_irq(pcms->gsi[i]);
        pcms->gsi[i] = NULL;
    }
}

static bool pc_machine_realize(Object *obj, GError **errp)
{
    PcMachineState *pcms = (PcMachineState *)obj;
    MachineState *ms = &pcms->parent_obj;
    const GPtrArray *drives = drive_list();

    if (!pc_check_props(pcms, errp) || !pc_alloc_ram(pcms, errp)) {
        pc_machine_unrealize(obj);
        return false;
    }
    pc_init_gsis(pcms);
    memory_region_transaction_begin();
    pc_map_ram(pcms);
    pc_map_ports(pcms);
    pc_map_msi_window(pcms);
    memory_region_transaction_commit();
    /* Final at reset, once -device ide-hd disks exist; see pc_boot(). */
    ms->has_boot_entry = drives && drives->len > 0;
    ms->boot_cs = 0;
    ms->boot_ip = PC_BOOT_SECTOR_ADDR;
    ms->boot_dl = PC_BOOT_DRIVE_DL;
    return true;
}

/* Read sector 0 of DRIVE to 0x7c00, as a BIOS would before jumping there. */
static bool pc_load_boot_sector(DriveInfo *drive, GError **errp)
{
    uint8_t *dst = address_space_map_ram(&address_space_memory,
                                         PC_BOOT_SECTOR_ADDR,
                                         PC_BOOT_SECTOR_SIZE);
    size_t len = MIN(drive->size, PC_BOOT_SECTOR_SIZE);

    if (!dst) {
        error_setg(errp,
                   "no RAM at 0x%x to load the boot sector of drive "
                   "'%s'",
                   PC_BOOT_SECTOR_ADDR, drive->id);
        return false;
    }
    memset(dst + len, 0, PC_BOOT_SECTOR_SIZE - len);
    if (len && !drive_pread(drive, 0, dst, len, errp)) {
        return false;
    }
    if (len < PC_BOOT_SECTOR_SIZE || dst[510] != 0x55 || dst[511] != 0xaa) {
        warn_report("drive '%s' has no boot signature (0x55 0xaa at offset "
                    "510); booting it anyway",
                    drive->id);
    }
    return true;
}

/*
 * The boot disk is the lowest IDE unit, else the first -drive. Without
 * one the vCPU starts at the reset vector, where nothing is mapped.
 */
static void pc_machine_reset(MachineState *ms)
{
    PcMachineState *pcms = (PcMachineState *)ms;
    const GPtrArray *drives = drive_list();
    DriveInfo *boot = ide_hd_boot_drive();
    const AccelOps *accel;
    GError *err = NULL;

    if (!boot && drives && drives->len) {
        boot = g_ptr_array_index(drives, 0);
    }
    ms->has_boot_entry = false;
    /*
     * What firmware would do, except when the guest's state (config
     * spaces included) comes from an incoming migration.
     */
    if (pcms->pci_host && runstate_get() != RUN_STATE_INMIGRATE) {
        pci_host_fw_reset(pcms->pci_host, ms->below_4g_mem_size,
                          PC_4G + ms->above_4g_mem_size);
    }
    if (runstate_get() == RUN_STATE_INMIGRATE) {
        /*
         * Guest RAM comes from the incoming migration, or is a live guest's
         * mapped in place (live update, x-ignore-shared): its registers
         * arrive with the device state, so there is no boot to prepare and
         * 0x7c00 must not be overwritten.
         */
        return;
    }
    if (!boot) {
        /* qtest runs no guest code, so it needs no boot disk either. */
        accel = accel_current();
        if (accel && !strcmp(accel->name, "qtest")) {
            pcms->boot_warned = true;
        }
        if (!pcms->boot_warned) {
            warn_report("no bootable disk: baton has no firmware, so the "
                        "vCPU starts at the reset vector with nothing to run");
            pcms->boot_warned = true;
        }
        return;
    }
    if (!pc_load_boot_sector(boot, &err)) {
        error_report("cannot boot: %s", err->message);
        g_error_free(err);
        return;
    }
    ms->has_boot_entry = true;
    ms->boot_cs = 0;
    ms->boot_ip = PC_BOOT_SECTOR_ADDR;
    ms->boot_dl = PC_BOOT_DRIVE_DL;
}

#define PC_COMPAT_PROP(n, field, what)                 \
    DEFINE_PROP(n, PROP_STRING, PcMachineState, field, \
                .desc = "accepted for QEMU compatibility; only " what)

static const Property pc_machine_props[] = {
    DEFINE_PROP("memory-backend", PROP_STRING, PcMachineState,
                parent_obj.memory_backend,
                .desc = "ID of the memory backend holding guest RAM"),
    DEFINE_PROP("aux-ram-share", PROP_BOOL, PcMachineState,
                parent_obj.aux_ram_share,
                .desc = "allocate implicit RAM in a shared memfd"),
    DEFINE_PROP("kernel-irqchip", PROP_STRING, PcMachineState,
                parent_obj.kernel_irqchip, .defval = "on",
                .desc = "on, split or off"),
    DEFINE_PROP("dump-guest-core", PROP_BOOL, PcMachineState, dump_guest_core,
                .defval = "on", .desc = "include guest RAM in core dumps"),
    PC_COMPAT_PROP("usb", usb, "off"),
    PC_COMPAT_PROP("graphics", graphics, "off"),
    PC_COMPAT_PROP("hpet", hpet, "off"),
    PC_COMPAT_PROP("vmport", vmport, "off or auto"),
    PC_COMPAT_PROP("smm", smm, "off or auto"),
    PC_COMPAT_PROP("acpi", acpi, "off or auto"),
    {NULL},
};

/*
 * Live update keeps guest RAM in place. Implicit RAM is private anonymous
 * memory unless aux-ram-share=on, and private memory cannot be handed to
 * another process; a memory backend answers for itself (its own check).
 */
static bool pc_machine_cpr_check(Object *obj, unsigned int mode,
                                 GError **errp)
{
    MachineState *ms = &((PcMachineState *)obj)->parent_obj;

    if ((MIG_MODE_BIT(mode) & CPR_MODES_PRESERVING) && !ms->memory_backend &&
        !ms->aux_ram_share) {
        error_setg(errp, "machine RAM 'pc.ram' is private anonymous memory; "
                   "use -machine aux-ram-share=on or a shared memory "
                   "backend");
        return false;
    }
    return true;
}

/* A chipset function at DEVFN of the root bus (multifunction as QEMU's). */
static bool pc_create_pci_function(PCIBus *bus, const char *type, int devfn,
                                   bool multifunction, GError **errp)
{
    DeviceState *dev = qdev_new(type);
    g_autofree char *addr =
        g_strdup_printf("%x.%x", PCI_SLOT(devfn), PCI_FUNC(devfn));
    bool ok =
        object_property_parse(OBJECT(dev), "addr", addr, errp) &&
        (!multifunction ||
         object_property_parse(OBJECT(dev), "multifunction", "on", errp)) &&
        qdev_realize(dev, &bus->qbus, errp);

    if (!ok) {
        object_unparent(OBJECT(dev));
    }
    object_unref(OBJECT(dev)); /* the tree holds it */
    return ok;
}

/*
 * The PCI chipset: the host bridge at /machine/NAME (QEMU's
 * /machine/i440fx, /machine/q35) with its root bus, the host bridge
 * function at 00:00.0 and the ISA bridge, which owns "isa.0".
 */
static bool pc_create_pci(PcMachineState *pcms, GError **errp)
{
    PcMachineClass *pmc = PC_MACHINE_GET_CLASS(pcms);
    DeviceState *host = qdev_new(pmc->pci_host_type);

    object_property_add_child(OBJECT(pcms), pmc->pci_host_name, OBJECT(host));
    object_unref(OBJECT(host));
    if (!qdev_realize(host, NULL, errp)) {
        object_unparent(OBJECT(host));
        return false;
    }
    pcms->pci_host = PCI_HOST_BRIDGE(host);
    return pc_create_pci_function(pcms->pci_host->bus, pmc->host_func_type, 0,
                                  false, errp) &&
           pc_create_pci_function(pcms->pci_host->bus, pmc->isa_bridge_type,
                                  pmc->isa_bridge_devfn, true, errp);
}

/*
 * QEMU's pc buses by their names: "isa.0" for the legacy ports (under the
 * ISA bridge on a PCI machine, a root bus on the PCI-less one), "ide.0"
 * for the primary IDE channel's disks (a root bus: baton models no IDE
 * controller function).
 */
static bool pc_create_default_devices(MachineState *ms, GError **errp)
{
    PcMachineState *pcms = (PcMachineState *)ms;
    BusState *isa;

    sysbus_get_default();
    if (PC_MACHINE_GET_CLASS(ms)->pci_host_type) {
        if (!pc_create_pci(pcms, errp)) {
            return false;
        }
        isa = qbus_find("isa.0");
    } else {
        isa = qbus_new(TYPE_ISA_BUS, NULL, "isa.0");
    }
    isa_bus_set_irqs(isa, pcms->gsi); /* ISA IRQ n is GSI n */

    qbus_new(TYPE_IDE_BUS, NULL, "ide.0");
    for (int i = 0; i < MACHINE_MAX_SERIALS; i++) {
        g_autofree char *index = g_strdup_printf("%d", i);
        DeviceState *dev;

        if (!ms->serial_hds[i]) {
            continue;   /* -serial none */
        }
        dev = qdev_new("isa-serial");
        if (!object_property_parse(OBJECT(dev), "chardev",
                                   chardev_id(ms->serial_hds[i]), errp) ||
            !object_property_parse(OBJECT(dev), "index", index, errp) ||
            !qdev_realize(dev, isa, errp)) {
            object_unparent(OBJECT(dev));
            object_unref(OBJECT(dev));
            return false;
        }
        object_unref(OBJECT(dev));  /* the tree holds it */
    }
    return true;
}

/* if=virtio: a virtio-blk-pci of its own on the first PCI bus, as QEMU. */
static bool pc_create_virtio_drive(DriveInfo *drive, GError **errp)
{
    DeviceState *dev = qdev_new("virtio-blk-pci");
    bool ok = object_property_parse(OBJECT(dev), "drive", drive->id, errp) &&
              qdev_realize(dev, NULL, errp);

    if (!ok) {
        object_unparent(OBJECT(dev));
    }
    object_unref(OBJECT(dev)); /* the tree holds it */
    return ok;
}

/*
 * Each -drive on the IDE interface (the default) gets a disk, and each on
 * if=virtio a virtio-blk-pci, as in QEMU.
 */
static bool pc_create_drive_devices(MachineState *ms, GError **errp)
{
    const GPtrArray *drives = drive_list();
    BusState *ide = qbus_find("ide.0");

    for (guint i = 0; i < drives->len; i++) {
        DriveInfo *drive = g_ptr_array_index(drives, i);
        DeviceState *dev;

        if (drive->interface == IF_VIRTIO && !drive->attached) {
            if (!pc_create_virtio_drive(drive, errp)) {
                return false;
            }
            continue;
        }
        if (drive->interface != IF_IDE || drive->attached) {
            continue;
        }
        dev = qdev_new("ide-hd");
        if (!object_property_parse(OBJECT(dev), "drive", drive->id, errp)) {
            goto fail;
        }
        if (drive->index >= 0) {
            g_autofree char *unit = g_strdup_printf("%d", drive->index);

            if (!object_property_parse(OBJECT(dev), "unit", unit, errp)) {
                goto fail;
            }
        }
        if (!qdev_realize(dev, ide, errp)) {
            goto fail;
        }
        object_unref(OBJECT(dev));  /* the tree holds it */
        continue;
fail:
        object_unparent(OBJECT(dev));
        object_unref(OBJECT(dev));
        return false;
    }
    return true;
}

static void pc_machine_class_init(ObjectClass *oc, const void *data)
{
    MachineClass *mc = (MachineClass *)oc;

    object_class_add_props(oc, pc_machine_props);
    oc->complete = pc_machine_realize;
    oc->uncomplete = pc_machine_unrealize;
    mc->reset = pc_machine_reset;
    mc->get_gsi = pc_get_gsi;
    mc->create_default_devices = pc_create_default_devices;
    mc->create_drive_devices = pc_create_drive_devices;
    /*
     * Nothing to migrate of its own: port 0x92 keeps no state (A20 is
     * always on, the reset bit acts at once), the ignored ports none, the
     * boot entry is recomputed at reset, and guest RAM is the "ram" live
     * section.
     */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->cpr_check = pc_machine_cpr_check;
    oc->desc = "x86 PC: RAM, legacy ports, boot sector loading";
}

static void pc_i440fx_machine_class_init(ObjectClass *oc, const void *data)
{
    PcMachineClass *pmc = (PcMachineClass *)oc;

    pmc->pci_host_type = TYPE_I440FX_PCI_HOST_BRIDGE;
    pmc->pci_host_name = "i440fx";
    pmc->host_func_type = TYPE_I440FX_PCI_DEVICE;
    pmc->isa_bridge_type = TYPE_PIIX3_PCI_DEVICE;
    pmc->isa_bridge_devfn = PCI_DEVFN(1, 0);
    oc->desc = "x86 PC with i440FX/PIIX3 PCI";
}

static void pc_q35_machine_class_init(ObjectClass *oc, const void *data)
{
    PcMachineClass *pmc = (PcMachineClass *)oc;

    pmc->pci_host_type = TYPE_Q35_HOST_DEVICE;
    pmc->pci_host_name = "q35";
    pmc->host_func_type = TYPE_MCH_PCI_DEVICE;
    pmc->isa_bridge_type = TYPE_ICH9_LPC_DEVICE;
    pmc->isa_bridge_devfn = ICH9_LPC_DEVFN;
    oc->desc = "x86 PC with Q35 (MCH/ICH9) PCI Express";
}

static const TypeInfo pc_machine_types[] = {
    {
        .name = TYPE_PC_MACHINE,
        .parent = TYPE_MACHINE,
        .instance_size = sizeof(PcMachineState),
        .class_size = sizeof(PcMachineClass),
        .class_init = pc_machine_class_init,
    },
    {
        .name = TYPE_PC_I440FX_MACHINE,
        .parent = TYPE_PC_MACHINE,
        .class_init = pc_i440fx_machine_class_init,
    },
    {
        .name = TYPE_PC_Q35_MACHINE,
        .parent = TYPE_PC_MACHINE,
        .class_init = pc_q35_machine_class_init,
    },
};

/*
 * Versioned names resolve to the newest registered version of their
 * family not above them (hw/core/machine.c): pc-i440fx-9.1 is the 9.2
 * machine, pc-i440fx-10.1 the 10.0 one.
 */
static const MachineTypeDef pc_machine_names[] = {
    {
        .name = "pc-i440fx-10.0",
        .alias = "pc",
        .desc = "Standard PC (i440FX + PIIX, 1996)",
        .typename = TYPE_PC_I440FX_MACHINE,
        .is_default = true,
        .max_cpus = 255,
    },
    {
        .name = "pc-q35-10.0",
        .alias = "q35",
        .desc = "Standard PC (Q35 + ICH9, 2009)",
        .typename = TYPE_PC_Q35_MACHINE,
        .max_cpus = 255,
    },
    {
        .name = "pc-i440fx-9.2",
        .desc = "Standard PC (i440FX name; baton 9.2's PC without PCI)",
        .typename = TYPE_PC_MACHINE,
        .max_cpus = 255,
    },
    {
        .name = "pc-q35-9.2",
        .desc = "Standard PC (Q35 name; baton 9.2's PC without PCI)",
        .typename = TYPE_PC_MACHINE,
        .max_cpus = 255,
    },
};

static void pc_register_types(void)
{
    type_register_static_array(pc_machine_types, ARRAY_SIZE(pc_machine_types));
    machine_register_names(pc_machine_names, ARRAY_SIZE(pc_machine_names));
}

type_init(pc_register_types)
