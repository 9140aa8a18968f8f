/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * PCI devices and buses (QEMU's shapes): a PCI function is a device with a
 * configuration space (256 bytes, 4 KiB for PCI Express functions) whose
 * bytes carry three masks: wmask (guest-writable bits), w1cmask (bits a
 * guest clears by writing 1) and cmask (bits checked equal on migration),
 * a capability list, up to six BARs plus an expansion ROM, a bus-master
 * address space for its DMA, and INTx/MSI/MSI-X interrupts.
 *
 * Buses: a root bus belongs to a host bridge (hw/pci/pci-host.c; pc's
 * "pci.0", q35's "pcie.0"), a secondary bus to a bridge function
 * (hw/pci/pci-bridge.c). A device on a PCI bus is addressed by devfn
 * (slot << 3 | function); the bus's dev path for migration sections is
 * "0000:00:SS.F", plus ":SS.F" for each level behind bridges (bus
 * numbers are the guest's and do not name a function).
 *
 * All calls under the big lock. docs/devel/pci.md describes the model.
 */
#ifndef BATON_HW_PCI_PCI_H
#define BATON_HW_PCI_PCI_H

#include "hw/core/irq.h"
#include "hw/core/qdev.h"
#include "hw/pci/pci_regs.h"
#include "system/irqchip.h"
#include "system/memory.h"

#define TYPE_PCI_DEVICE "pci-device" /* abstract */
#define TYPE_PCI_BUS "PCI"
#define TYPE_PCIE_BUS "PCIE"

#define PCI_NUM_REGIONS 7 /* BARs 0-5 and the expansion ROM */
#define PCI_ROM_SLOT 6
#define PCI_NUM_PINS 4 /* INTA-INTD */
#define PCI_SLOT_MAX 32
#define PCI_FUNC_MAX 8
#define PCI_DEVFN_MAX 256
#define PCI_DEVFN(slot, func) ((((slot)&0x1f) << 3) | ((func)&0x07))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn) ((devfn)&0x07)
/* A BAR's address when it is not mapped. */
#define PCI_BAR_UNMAPPED (~(uint64_t)0)

typedef uint64_t pcibus_t;
typedef struct PCIBus PCIBus;
typedef struct PCIDevice PCIDevice;

/* MSI-X can have 2048 vectors (PCI 3.0 6.8.2.3). */
#define PCI_MSIX_MAX_ENTRIES 2048
#define PCI_MSIX_MAX_PBA_BYTES (PCI_MSIX_MAX_ENTRIES / 8)

/*
 * MSI-X vector users (irqfd owners: VFIO, virtio): USE is told when the
 * guest unmasks VECTOR or changes its message while unmasked (returns
 * < 0 to refuse), RELEASE when it masks it again (include/hw/pci/msix.h).
 */
typedef int (*MSIVectorUseNotifier)(PCIDevice *d, unsigned int vector,
                                    MSIMessage msg);
typedef void (*MSIVectorReleaseNotifier)(PCIDevice *d, unsigned int vector);
/*
 * An owner of D's INTx outside baton's lines (a level irqfd on a GSI:
 * VFIO) is told that the GSI its pin reaches may have changed: the
 * guest re-programmed a PIRQ route (PIIX3, ICH9-LPC: a write, reset or
 * load) or D's COMMAND.INTX_DISABLE. It asks pci_device_intx_gsi() again.
 */
typedef void (*PCIINTxRoutingNotifier)(PCIDevice *d);

typedef struct PCIIORegion {
    pcibus_t addr;               /* where it is mapped, or PCI_BAR_UNMAPPED */
    pcibus_t size;               /* 0: not registered */
    uint8_t type;                /* PCI_BASE_ADDRESS_* bits */
    MemoryRegion *memory;        /* the device's region */
    MemoryRegion *address_space; /* the bus's memory or I/O space */
} PCIIORegion;

struct PCIDevice {
    DeviceState qdev;

    /* properties */
    int32_t addr_prop;  /* "addr": devfn, -1 = first free slot */
    bool multifunction; /* "multifunction": header type bit 7 */

    /* migrated: config space (VMSTATE_PCI_DEVICE) */
    uint32_t config_size; /* 256, or 4096 for express functions */
    uint8_t *config;      /* config_size bytes */
    uint8_t *wmask;
    uint8_t *w1cmask;
    uint8_t *cmask;
    uint8_t *used; /* bytes claimed by capabilities */

    /* runtime: placement and derived state */
    PCIBus *bus;
    uint8_t devfn;
    PCIIORegion io_regions[PCI_NUM_REGIONS];
    AddressSpace bus_master_as;
    MemoryRegion bus_master_container, bus_master_enable;
    char *bus_master_name;
    uint8_t msi_cap;  /* offset of the MSI capability, 0: none */
    uint8_t msix_cap; /* offset of the MSI-X capability, 0: none */
    /*
     * INTx: the level the function drives (mirrored in STATUS.INTERRUPT,
     * which is how it migrates) and whether it is counted on its PIRQ
     * (not while COMMAND.INTX_DISABLE is set).
     */
    int irq_state;
    bool intx_asserted;

    /* MSI-X (hw/pci/msix.c): table and PBA, migrated in a subsection */
    uint16_t msix_entries_nr;
    uint8_t *msix_table;                   /* PCI_MSIX_MAX_ENTRIES * 16 bytes */
    uint8_t *msix_pba;                     /* PCI_MSIX_MAX_PBA_BYTES */
    uint32_t msix_table_len, msix_pba_len; /* bytes in use */
    uint32_t msix_mig_table_len, msix_mig_pba_len; /* in the stream */
    MemoryRegion msix_table_mmio, msix_pba_mmio, msix_exclusive_bar;
    MemoryRegion *msix_table_bar, *msix_pba_bar;
    bool msix_exclusive;
    bool msix_function_masked; /* !ENABLE || MASKALL, as last seen */
    MSIVectorUseNotifier msix_vector_use_notifier;
    MSIVectorReleaseNotifier msix_vector_release_notifier;
    PCIINTxRoutingNotifier intx_routing_notifier;
    uint8_t *config_reset; /* config after realize: what reset restores */
    /*
     * The stream's copy of the config (pre_save fills it; post_load checks
     * it against cmask before taking it): a bad stream never touches
     * config.
     */
    uint32_t mig_config_size;
    uint8_t mig_config[PCIE_CONFIG_SPACE_SIZE];
};

typedef struct PCIDeviceClass {
    DeviceClass parent_class;

    /* The function's own realize/exit, called by the PCI core's. */
    bool (*realize)(PCIDevice *d, GError **errp);
    void (*exit)(PCIDevice *d);
    /* Config access hooks; default pci_default_read/write_config. */
    uint32_t (*config_read)(PCIDevice *d, uint32_t addr, int len);
    void (*config_write)(PCIDevice *d, uint32_t addr, uint32_t val, int len);
    /* The function's own reset, after the core's (config defaults). */
    void (*reset)(PCIDevice *d);

    uint16_t vendor_id, device_id, subsystem_vendor_id, subsystem_id;
    uint16_t class_id;
    uint8_t revision;
    bool is_bridge;  /* type 1 header */
    bool is_express; /* 4 KiB config space */
} PCIDeviceClass;

#define PCI_DEVICE(obj) OBJECT_CHECK(PCIDevice, (obj), TYPE_PCI_DEVICE)
#define PCI_DEVICE_CLASS(oc) \
    OBJECT_CLASS_CHECK(PCIDeviceClass, (oc), TYPE_PCI_DEVICE)
#define PCI_DEVICE_GET_CLASS(obj) \
    OBJECT_GET_CLASS(PCIDeviceClass, (obj), TYPE_PCI_DEVICE)

/*
 * A PCI bus. The root bus's owner (a host bridge) sets the spaces BARs
 * map into and the INTx routing; a secondary bus has spaces of its own
 * that its bridge forwards its windows into (hw/pci/pci-bridge.c) and
 * swizzles INTx through its bridge.
 */
struct PCIBus {
    BusState qbus;

    PCIDevice *devices[PCI_DEVFN_MAX];
    PCIDevice *parent_dev; /* the bridge; NULL for a root bus */
    MemoryRegion *address_space_mem;
    MemoryRegion *address_space_io;
    /* Root bus INTx: the pin of a device maps to an index < nirq. */
    int (*map_irq)(PCIDevice *d, int pin);
    void (*set_irq)(void *opaque, int irq_num, int level);
    /* The ISA IRQ (or GSI) index IRQ_NUM routes to; -1 if disabled. */
    int (*route_irq)(void *opaque, int irq_num);
    /* The GSI it reaches, when not route_irq's (pci_bus_set_route_gsi). */
    int (*route_gsi)(void *opaque, int irq_num);
    void *irq_opaque;
    int nirq;
    /* Per index, the wired-OR of the functions asserting it. */
    SharedIRQ **pirq;
    qemu_irq *pirq_out; /* each PIRQ's output: set_irq(irq_opaque, i, l) */
};

#define PCI_BUS(obj) OBJECT_CHECK(PCIBus, (obj), TYPE_PCI_BUS)

/* ---- buses ---- */

/*
 * A root bus NAME of TYPENAME (TYPE_PCI_BUS or TYPE_PCIE_BUS) owned by
 * PARENT (the host bridge device), decoding MEM and IO.
 */
PCIBus *pci_root_bus_new(DeviceState *parent, const char *name,
                         const char *typename, MemoryRegion *mem,
                         MemoryRegion *io);
/* INTx wiring of a root bus: NIRQ lines (PIRQs). */
void pci_bus_irqs(PCIBus *bus, void (*set_irq)(void *, int, int),
                  int (*map_irq)(PCIDevice *, int),
                  int (*route_irq)(void *, int), void *opaque, int nirq);
/*
 * A root bus whose PIRQs reach GSIs other than their ISA IRQs (q35: IOAPIC
 * pin 16 + PIRQ when the 8259 route is off) says which with ROUTE_GSI
 * (after pci_bus_irqs(), same opaque); pci_device_intx_gsi() asks it.
 */
void pci_bus_set_route_gsi(PCIBus *bus, int (*route_gsi)(void *, int));
/* The bus number of BUS: 0 for a root, else its bridge's secondary bus. */
int pci_bus_num(PCIBus *bus);
/* The root bus BUS hangs under. */
PCIBus *pci_bus_root(PCIBus *bus);
/* The function at BUSNR:DEVFN below ROOT, or NULL (no such function). */
PCIDevice *pci_find_device(PCIBus *root, int busnr, int devfn);
/* The bus behind bridge D (NULL if D is no bridge). */
PCIBus *pci_bridge_get_sec_bus(PCIDevice *d);
/* Call FN on every function of BUS and, depth first, the buses below. */
void pci_for_each_device(PCIBus *bus, void (*fn)(PCIDevice *d, void *opaque),
                         void *opaque);

/* ---- config space ---- */

uint32_t pci_default_read_config(PCIDevice *d, uint32_t addr, int len);
void pci_default_write_config(PCIDevice *d, uint32_t addr, uint32_t val,
                              int len);
/*
 * A config access through the class hooks, as a host bridge makes it:
 * ADDR + LEN within config_size (else reads all ones, writes dropped).
 * Traced as pci_cfg_read / pci_cfg_write.
 */
uint32_t pci_host_config_read_common(PCIDevice *d, uint32_t addr, int len);
void pci_host_config_write_common(PCIDevice *d, uint32_t addr, uint32_t val,
                                  int len);

/*
 * Add capability CAP_ID of SIZE bytes at OFFSET (0: the first free
 * 4-byte-aligned room in 0x40-0xff) to the head of the list. Returns the
 * offset, or -1 with errp set when it overlaps another or does not fit.
 */
int pci_add_capability(PCIDevice *d, uint8_t cap_id, uint8_t offset,
                       uint8_t size, GError **errp);
/* Unlink capability CAP_ID (SIZE bytes) from the list and free its room. */
void pci_del_capability(PCIDevice *d, uint8_t cap_id, uint8_t size);
/* Offset of the first capability CAP_ID, or 0. */
uint8_t pci_find_capability(PCIDevice *d, uint8_t cap_id);

static inline uint16_t pci_get_word(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t pci_get_long(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t pci_get_quad(const uint8_t *p)
{
    return pci_get_long(p) | (uint64_t)pci_get_long(p + 4) << 32;
}

static inline void pci_set_byte(uint8_t *p, uint8_t v)
{
    p[0] = v;
}

static inline void pci_set_word(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static inline void pci_set_long(uint8_t *p, uint32_t v)
{
    pci_set_word(p, v);
    pci_set_word(p + 2, v >> 16);
}

static inline void pci_set_quad(uint8_t *p, uint64_t v)
{
    pci_set_long(p, v);
    pci_set_long(p + 4, v >> 32);
}

/* ---- BARs ---- */

/*
 * Register MR as BAR REGION (0-5, or PCI_ROM_SLOT) of TYPE
 * (PCI_BASE_ADDRESS_SPACE_IO or _MEMORY, | MEM_TYPE_64 | MEM_PREFETCH).
 * Its size must be a power of two (4 bytes at least for I/O, 16 for
 * memory). A 64-bit BAR takes REGION and REGION + 1. Mapped when the
 * guest (or reset assignment) programs an address and enables decoding.
 */
void pci_register_bar(PCIDevice *d, int region, uint8_t type, MemoryRegion *mr);
/* Where BAR REGION is mapped, or PCI_BAR_UNMAPPED. */
uint64_t pci_get_bar_addr(PCIDevice *d, int region);
/* Re-map every BAR from the config space (after a load or a reset). */
void pci_update_mappings(PCIDevice *d);

/* ---- interrupts and DMA ---- */

/* INTx of the pin in config[PCI_INTERRUPT_PIN]: LEVEL 0 or 1. */
void pci_set_irq(PCIDevice *d, int level);
/*
 * The root-bus line (PIRQ index) pin PIN (0 = INTA) of D reaches after
 * the swizzles of the bridges on the way up.
 */
int pci_swizzled_irq(PCIDevice *d, int pin, PCIBus **root);
/* The ISA IRQ the pin of D routes to, or -1 (no pin, routing disabled). */
int pci_intx_route(PCIDevice *d);
/*
 * The GSI D's INTx reaches now, or -1 when it reaches none: no pin, its
 * PIRQ routed nowhere, or COMMAND.INTX_DISABLE set. pc: the ISA IRQ of
 * pci_intx_route() (GSIs 0-15 are the ISA IRQs); q35: that too while
 * the PIRQ goes to the 8259, else its IOAPIC pin 16 + PIRQ.
 */
int pci_device_intx_gsi(PCIDevice *d);
/* FN (NULL: none) is told when D's INTx GSI may have changed. */
void pci_device_set_intx_routing_notifier(PCIDevice *d,
                                          PCIINTxRoutingNotifier fn);
/*
 * The routing of BUS's PIRQs may have changed (its ISA bridge's
 * registers): every function under BUS with a notifier is told.
 */
void pci_bus_fire_intx_routing_notifier(PCIBus *bus);
/*
 * The ISA-bridge side of INTx (PIIX3, ICH9-LPC): each PIRQ's level (the
 * root bus's wired-OR) goes to the ISA IRQ its routing register names;
 * several PIRQs routed to one IRQ are ORed again. Only the IRQs whose
 * level changes are driven.
 */
typedef struct PCIPirqRouter {
    uint32_t pirq_levels; /* bit N: PIRQ N asserted */
    uint16_t isa_levels;  /* ISA IRQs as last driven */
    qemu_irq isa_irq[16]; /* the machine's GSIs 0-15 (may be NULL) */
} PCIPirqRouter;

/* Wire R to the current machine's GSI lines 0-15 (none: NULL lines). */
void pci_pirq_router_init(PCIPirqRouter *r);
/* Set PIRQ's level (may be -1: only re-route), then drive what changed. */
void pci_pirq_router_update(PCIPirqRouter *r, int pirq, int level, int npirqs,
                            int (*route)(void *, int), void *opaque);

/* The bus-master space: DMA only while COMMAND.BUS_MASTER is set. */
AddressSpace *pci_get_address_space(PCIDevice *d);
/*
 * The address space D's DMA translates into for an IOMMU user (a VFIO
 * container maps it): the system memory while baton has no vIOMMU, as
 * QEMU's. Not the bus-master space, which COMMAND.BUS_MASTER gates: a
 * guest that toggles bus mastering must not unmap a host device's DMA.
 */
AddressSpace *pci_device_iommu_address_space(PCIDevice *d);
/* DMA through the bus-master space; false: unassigned somewhere. */
bool pci_dma_read(PCIDevice *d, uint64_t addr, void *buf, uint64_t len);
bool pci_dma_write(PCIDevice *d, uint64_t addr, const void *buf, uint64_t len);

/* ---- reset and migration ---- */

/* Config defaults, BARs unmapped, interrupts deasserted, then class reset. */
void pci_device_reset(PCIDevice *d);

extern const VMStateDescription vmstate_pci_device;
/* A PCIDevice embedded as FIELD of STATE: config space and MSI/MSI-X. */
#define VMSTATE_PCI_DEVICE(field, state) \
    VMSTATE_STRUCT(field, state, vmstate_pci_device, PCIDevice)

/* ---- monitor ---- */

/*
 * D's dev path, QEMU's format: "0000:00:SS.F", with ":SS.F" per bridge
 * level below the root ("0000:00:02.0:00.0").
 */
char *pci_dev_path(PCIDevice *d);
/* The root buses, in creation order (PCIBus *). */
GPtrArray *pci_root_buses(void);
/* A description of class CLASS_ID ("Host bridge"), or NULL. */
const char *pci_class_desc(uint16_t class_id);

#endif
