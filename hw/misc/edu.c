/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "edu": QEMU's educational PCI device (1234:11e8), written from its
 * published specification (QEMU's docs/specs/edu.rst): an identification
 * and a liveness register, a factorial unit, an interrupt status register
 * raised and acknowledged by the guest (INTx or MSI), and a DMA engine
 * between guest memory and a 4 KiB buffer. Unlike QEMU's, all of its state
 * migrates. The factorial and the DMA complete before the MMIO write that
 * starts them returns, so nothing is ever in flight. Users' view:
 * docs/system/edu.md.
 */
#include "util/osdep.h"

#include "hw/pci/msi.h"
#include "hw/pci/pci.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"
#include "util/error-report.h"

#include "trace.h"

#define EDU_MMIO_SIZE (1 * 1024 * 1024)
#define EDU_ID 0x010000ed /* major 1, minor 0, "ed" */

/* Registers (offsets into BAR 0). */
#define EDU_REG_ID 0x00
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_FACT 0x08
#define EDU_REG_STATUS 0x20
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_CNT 0x90
#define EDU_REG_DMA_CMD 0x98
/* Below this offset only 4-byte accesses; from it on 4 or 8. */
#define EDU_REG_WIDE 0x80

#define EDU_STATUS_COMPUTING 0x01 /* read-only */
#define EDU_STATUS_IRQFACT 0x80   /* raise EDU_IRQ_FACT when done */

#define EDU_DMA_START 0x01
#define EDU_DMA_TO_RAM 0x02 /* direction: 1 = EDU -> RAM */
#define EDU_DMA_IRQ 0x04    /* raise EDU_IRQ_DMA when done */

#define EDU_IRQ_FACT 0x001
#define EDU_IRQ_DMA 0x100

/* The DMA buffer, as the device addresses it. */
#define EDU_DMA_BUF_ADDR 0x40000
#define EDU_DMA_BUF_SIZE 4096

#define EDU_DMA_MASK_DEFAULT ((1ULL << 28) - 1)

typedef struct EduState {
    PCIDevice parent_obj;

    /* properties */
    uint64_t dma_mask;

    /* migrated (with the config space, MSI included) */
    uint32_t liveness; /* what 0x04 reads: ~ the last value written */
    uint32_t fact;
    uint32_t status;
    uint32_t irq_status;
    uint64_t dma_src, dma_dst, dma_cnt, dma_cmd;
    uint8_t dma_buf[EDU_DMA_BUF_SIZE];

    /* runtime only */
    MemoryRegion mmio;
} EduState;

#define EDU(obj) ((EduState *)(obj))

/* Messages and traces name the function by its address: BB:SS.F. */
#define EDU_BDF "%02x:%02x.%x"
#define EDU_BDF_ARGS(d) \
    pci_bus_num((d)->bus), PCI_SLOT((d)->devfn), PCI_FUNC((d)->devfn)

/*
 * INTx follows the interrupt status while MSI is off; with MSI on the
 * function must not use its pin (PCI Local Bus 3.0, 6.8), so the line is
 * low whatever the status. Derived, never migrated on its own.
 */
static void edu_update_intx(EduState *s)
{
    PCIDevice *d = &s->parent_obj;
    int level = s->irq_status && !msi_enabled(d);

    if (level != d->irq_state) {
        trace_edu_irq_intx(EDU_BDF_ARGS(d), level);
        pci_set_irq(d, level);
    }
}

static void edu_raise_irq(EduState *s, uint32_t val)
{
    PCIDevice *d = &s->parent_obj;

    s->irq_status |= val;
    trace_edu_irq_raise(EDU_BDF_ARGS(d), val, s->irq_status, msi_enabled(d));
    if (!s->irq_status) {
        return;
    }
    if (msi_enabled(d)) {
        msi_notify(d, 0);
    } else {
        edu_update_intx(s);
    }
}

static void edu_lower_irq(EduState *s, uint32_t val)
{
    s->irq_status &= ~val;
    trace_edu_irq_lower(EDU_BDF_ARGS(&s->parent_obj), val, s->irq_status);
    edu_update_intx(s);
}

/* n! in 32 bits, wrapping as the specification's C does. */
static uint32_t edu_factorial(uint32_t n)
{
    uint32_t r = 1;

    while (n > 1) {
        r *= n--;
    }
    return r;
}

static void edu_write_fact(EduState *s, uint32_t val)
{
    /* A write while computing is ignored; computing ends before we return. */
    if (s->status & EDU_STATUS_COMPUTING) {
        return;
    }
    s->status |= EDU_STATUS_COMPUTING;
    s->fact = edu_factorial(val);
    s->status &= ~EDU_STATUS_COMPUTING;
    if (s->status & EDU_STATUS_IRQFACT) {
        edu_raise_irq(s, EDU_IRQ_FACT);
    }
}

/* The RAM side of a transfer, limited to dma_mask as the device wires it. */
static uint64_t edu_clamp(EduState *s, uint64_t addr)
{
    uint64_t res = addr & s->dma_mask;

    if (res != addr) {
        log_mask(LOG_GUEST_ERROR,
                 "edu " EDU_BDF ": DMA address 0x%" PRIx64
                 " clamped to 0x%" PRIx64 " by dma_mask 0x%" PRIx64 "\n",
                 EDU_BDF_ARGS(&s->parent_obj), addr, res, s->dma_mask);
    }
    return res;
}

/*
 * The buffer side: [ADDR, ADDR + CNT) must lie in the 4 KiB buffer.
 * Returns the offset into it, or -1 (logged).
 */
static int64_t edu_buf_offset(EduState *s, uint64_t addr, uint64_t cnt)
{
    if (addr < EDU_DMA_BUF_ADDR || cnt > EDU_DMA_BUF_SIZE ||
        addr - EDU_DMA_BUF_ADDR > EDU_DMA_BUF_SIZE - cnt) {
        log_mask(LOG_GUEST_ERROR,
                 "edu " EDU_BDF ": DMA of 0x%" PRIx64
                 " bytes at device address 0x%" PRIx64
                 " is outside the buffer [0x%x, 0x%x); not done\n",
                 EDU_BDF_ARGS(&s->parent_obj), cnt, addr, EDU_DMA_BUF_ADDR,
                 EDU_DMA_BUF_ADDR + EDU_DMA_BUF_SIZE);
        return -1;
    }
    return (int64_t)(addr - EDU_DMA_BUF_ADDR);
}

static void edu_dma_transfer(EduState *s)
{
    PCIDevice *d = &s->parent_obj;
    bool to_ram = s->dma_cmd & EDU_DMA_TO_RAM;
    uint64_t dev = to_ram ? s->dma_src : s->dma_dst;
    uint64_t ram = to_ram ? s->dma_dst : s->dma_src;
    uint8_t tmp[EDU_DMA_BUF_SIZE];
    int64_t off = edu_buf_offset(s, dev, s->dma_cnt);
    bool ok;

    if (off < 0) {
        return;
    }
    ram = edu_clamp(s, ram);
    trace_edu_dma(EDU_BDF_ARGS(d), to_ram ? "edu->ram" : "ram->edu", ram, dev,
                  s->dma_cnt);
    if (!(pci_get_word(d->config + PCI_COMMAND) & PCI_COMMAND_MASTER)) {
        log_mask(LOG_GUEST_ERROR,
                 "edu " EDU_BDF ": DMA with bus mastering off; "
                 "not done\n",
                 EDU_BDF_ARGS(d));
        return;
    }
    if (to_ram) {
        ok = pci_dma_write(d, ram, s->dma_buf + off, s->dma_cnt);
    } else {
        /* A failed read leaves the buffer as it was. */
        ok = pci_dma_read(d, ram, tmp, s->dma_cnt);
        if (ok) {
            memcpy(s->dma_buf + off, tmp, s->dma_cnt);
        }
    }
    if (!ok) {
        log_mask(LOG_GUEST_ERROR,
                 "edu " EDU_BDF ": DMA of 0x%" PRIx64 " bytes at "
                 "0x%" PRIx64 " hit unassigned memory\n",
                 EDU_BDF_ARGS(d), s->dma_cnt, ram);
    }
}

static void edu_write_dma_cmd(EduState *s, uint64_t val)
{
    /* Without the start bit the write does nothing (as QEMU's edu). */
    if (!(val & EDU_DMA_START)) {
        return;
    }
    s->dma_cmd = val;
    edu_dma_transfer(s);
    s->dma_cmd &= ~(uint64_t)EDU_DMA_START;
    if (s->dma_cmd & EDU_DMA_IRQ) {
        edu_raise_irq(s, EDU_IRQ_DMA);
    }
}

static bool edu_access_ok(EduState *s, hwaddr addr, unsigned size, bool write)
{
    bool ok = addr < EDU_REG_WIDE ? size == 4 : size == 4 || size == 8;

    if (!ok || (addr & (size - 1))) {
        log_mask(LOG_GUEST_ERROR,
                 "edu " EDU_BDF ": invalid %u-byte %s at 0x%" HWADDR_PRIx "\n",
                 EDU_BDF_ARGS(&s->parent_obj), size, write ? "write" : "read",
                 addr);
        return false;
    }
    return true;
}

static uint64_t *edu_dma_reg(EduState *s, hwaddr addr)
{
    switch (addr) {
    case EDU_REG_DMA_SRC:
        return &s->dma_src;
    case EDU_REG_DMA_DST:
        return &s->dma_dst;
    case EDU_REG_DMA_CNT:
        return &s->dma_cnt;
    case EDU_REG_DMA_CMD:
        return &s->dma_cmd;
    default:
        return NULL;
    }
}

static bool edu_reg_read(EduState *s, hwaddr addr, uint64_t *val)
{
    uint64_t *reg = edu_dma_reg(s, addr);

    if (reg) {
        *val = *reg;
        return true;
    }
    switch (addr) {
    case EDU_REG_ID:
        *val = EDU_ID;
        return true;
    case EDU_REG_LIVENESS:
        *val = s->liveness;
        return true;
    case EDU_REG_FACT:
        *val = s->fact;
        return true;
    case EDU_REG_STATUS:
        *val = s->status;
        return true;
    case EDU_REG_IRQ_STATUS:
        *val = s->irq_status;
        return true;
    default:
        return false;
    }
}

static uint64_t edu_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    EduState *s = opaque;
    uint64_t val = ~0ULL;

    if (edu_access_ok(s, addr, size, false) && !edu_reg_read(s, addr, &val)) {
        log_mask(LOG_GUEST_ERROR,
                 "edu " EDU_BDF ": read of unknown or write-only "
                 "register 0x%" HWADDR_PRIx "\n",
                 EDU_BDF_ARGS(&s->parent_obj), addr);
    }
    if (size < 8) {
        val &= (1ULL << (8 * size)) - 1;
    }
    trace_edu_mmio_read(EDU_BDF_ARGS(&s->parent_obj), addr, size, val);
    return val;
}

static bool edu_reg_write(EduState *s, hwaddr addr, uint64_t val)
{
    uint64_t *reg = edu_dma_reg(s, addr);

    if (addr == EDU_REG_DMA_CMD) {
        edu_write_dma_cmd(s, val);
        return true;
    }
    if (reg) {
        *reg = val;
        return true;
    }
    switch (addr) {
    case EDU_REG_LIVENESS:
        s->liveness = ~(uint32_t)val;
        return true;
    case EDU_REG_FACT:
        edu_write_fact(s, val);
        return true;
    case EDU_REG_STATUS:
        s->status =
            (s->status & ~EDU_STATUS_IRQFACT) | (val & EDU_STATUS_IRQFACT);
        return true;
    case EDU_REG_IRQ_RAISE:
        edu_raise_irq(s, val);
        return true;
    case EDU_REG_IRQ_ACK:
        edu_lower_irq(s, val);
        return true;
    default:
        return false;
    }
}

static void edu_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    EduState *s = opaque;

    trace_edu_mmio_write(EDU_BDF_ARGS(&s->parent_obj), addr, size, val);
    if (edu_access_ok(s, addr, size, true) && !edu_reg_write(s, addr, val)) {
        log_mask(LOG_GUEST_ERROR,
                 "edu " EDU_BDF ": write of unknown or read-only "
                 "register 0x%" HWADDR_PRIx "\n",
                 EDU_BDF_ARGS(&s->parent_obj), addr);
    }
}

static const MemoryRegionOps edu_mmio_ops = {
    .read = edu_mmio_read,
    .write = edu_mmio_write,
    .valid.max_access_size = 8,
    .impl.max_access_size = 8,
};

/*
 * A config write may turn MSI on or off (the core updates the capability),
 * which moves the INTx level.
 */
static void edu_config_write(PCIDevice *d, uint32_t addr, uint32_t val, int len)
{
    pci_default_write_config(d, addr, val, len);
    edu_update_intx(EDU(d));
}

static bool edu_realize(PCIDevice *d, GError **errp)
{
    EduState *s = EDU(d);

    d->config[PCI_INTERRUPT_PIN] = 1;
    /* One vector, 64-bit address, no per-vector masking: as QEMU's edu. */
    if (msi_init(d, 0, 1, true, false, errp) < 0) {
        return false;
    }
    memory_region_init_io(&s->mmio, OBJECT(d), &edu_mmio_ops, s, "edu-mmio",
                          EDU_MMIO_SIZE);
    pci_register_bar(d, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);
    return true;
}

/* The core has unmapped the BAR already and removes MSI after. */
static void edu_exit(PCIDevice *d)
{
    memory_region_finalize(&EDU(d)->mmio);
}

/* Power-on values; the core has put the config space back already. */
static void edu_reset(PCIDevice *d)
{
    EduState *s = EDU(d);

    s->liveness = 0;
    s->fact = 0;
    s->status = 0;
    s->irq_status = 0;
    s->dma_src = s->dma_dst = s->dma_cnt = s->dma_cmd = 0;
    memset(s->dma_buf, 0, sizeof(s->dma_buf));
    edu_update_intx(s);
}

/*
 * The stream comes from a guest's device: nothing can be in flight (both
 * units finish synchronously), so a set busy bit is a bad stream. The
 * INTx level follows from the loaded status and MSI state.
 */
static bool edu_post_load(void *opaque, int version_id, GError **errp)
{
    EduState *s = opaque;

    if (s->status & EDU_STATUS_COMPUTING || s->dma_cmd & EDU_DMA_START) {
        error_setg(errp,
                   "edu " EDU_BDF ": factorial or DMA in flight in the stream "
                   "(status 0x%x, DMA command 0x%" PRIx64 ")",
                   EDU_BDF_ARGS(&s->parent_obj), s->status, s->dma_cmd);
        return false;
    }
    edu_update_intx(s);
    return true;
}

static const VMStateDescription vmstate_edu = {
    .name = "edu",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = edu_post_load,
    .fields =
        (const VMStateField[]){
            VMSTATE_PCI_DEVICE(parent_obj, EduState),
            VMSTATE_UINT32(liveness, EduState),
            VMSTATE_UINT32(fact, EduState),
            VMSTATE_UINT32(status, EduState),
            VMSTATE_UINT32(irq_status, EduState),
            VMSTATE_UINT64(dma_src, EduState),
            VMSTATE_UINT64(dma_dst, EduState),
            VMSTATE_UINT64(dma_cnt, EduState),
            VMSTATE_UINT64(dma_cmd, EduState),
            VMSTATE_BUFFER(dma_buf, EduState, EDU_DMA_BUF_SIZE),
            VMSTATE_END_OF_LIST(),
        },
};

static const Property edu_props[] = {
    DEFINE_PROP("dma_mask", PROP_UINT64, EduState, dma_mask,
                .defval = "0xfffffff",
                .desc = "mask of the RAM addresses the DMA engine reaches"),
    {NULL},
};

static void edu_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);

    device_class_set_props(dc, edu_props);
    dc->user_creatable = true;
    dc->vmsd = &vmstate_edu;
    pc->realize = edu_realize;
    pc->exit = edu_exit;
    pc->reset = edu_reset;
    pc->config_write = edu_config_write;
    pc->vendor_id = 0x1234;
    pc->device_id = 0x11e8;
    pc->revision = 0x10;
    /* Base class 0x00, sub-class 0xff: QEMU's PCI_CLASS_OTHERS value. */
    pc->class_id = 0x00ff;
    /* Config space, registers and buffer migrate; no fds, no work in flight. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "QEMU's educational PCI device (registers, IRQs, DMA)";
}

static const TypeInfo edu_type = {
    .name = "edu",
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(EduState),
    .class_init = edu_class_init,
};

static void edu_register_types(void)
{
    type_register(&edu_type);
}

type_init(edu_register_types)
