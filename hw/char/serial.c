/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "isa-serial": a 16550A UART on an x86 I/O port range, with its host side
 * on a chardev. Transmission is instantaneous (no baud-rate timing); the
 * receive FIFO is filled from the chardev. Modem lines are fixed (DCD, DSR,
 * CTS asserted) except in loopback. Register behaviour follows QEMU's
 * hw/char/serial.c so that guests and tests see the same values.
 */
#include "util/osdep.h"

#include "chardev/char.h"
#include "hw/isa/isa.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"
#include "system/memory.h"
#include "util/error-report.h"

#define TYPE_ISA_SERIAL "isa-serial"
#define SERIAL_MAX_PORTS 4
#define SERIAL_FIFO_LEN 16
/* Property default meaning "derive from index" (QEMU uses -1 too). */
#define SERIAL_PROP_AUTO UINT32_MAX

/* Register offsets from iobase; DLAB (LCR bit 7) remaps 0 and 1. */
enum {
    UART_RBR_THR = 0, /* DLAB: DLL */
    UART_IER = 1,     /* DLAB: DLM */
    UART_IIR_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};

#define UART_LCR_DLAB 0x80

#define UART_IER_RDI 0x01  /* received data available */
#define UART_IER_THRI 0x02 /* transmit holding register empty */
#define UART_IER_RLSI 0x04 /* receiver line status */
#define UART_IER_MSI 0x08  /* modem status */

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_CTI 0x0c /* character timeout */
#define UART_IIR_ID 0x0e
#define UART_IIR_FE 0xc0 /* FIFOs enabled */

#define UART_FCR_FE 0x01
#define UART_FCR_RFR 0x02
#define UART_FCR_XFR 0x04
#define UART_FCR_ITL 0xc0
/* FCR bits that read back through the state (the rest are actions). */
#define UART_FCR_STICKY 0xc9

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_BI 0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
/* Error bits that raise a receiver line status interrupt. */
#define UART_LSR_INT_ANY 0x1e

#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80
#define UART_MSR_ANY_DELTA 0x0f

typedef struct SerialState {
    ISADevice parent_obj;

    /* properties */
    struct Chardev *chr;
    uint32_t index;
    uint32_t iobase;
    uint32_t irq;

    /*
     * Guest-visible state: fixed-size fields only, so that vmstate (issue
     * #3) can describe it field by field. rx_head < SERIAL_FIFO_LEN and
     * rx_count <= SERIAL_FIFO_LEN are invariants.
     */
    uint8_t ier;
    uint8_t iir;
    uint8_t fcr;
    uint8_t lcr;
    uint8_t mcr;
    uint8_t lsr;
    uint8_t msr;
    uint8_t scr;
    uint16_t divider;
    uint8_t thr_ipending;     /* THRE interrupt not yet acknowledged */
    uint8_t timeout_ipending; /* character timeout pending (FIFO mode) */
    uint8_t rx_fifo_itl;      /* receive trigger level, 1/4/8/14 */
    uint8_t rx_head;
    uint8_t rx_count;
    uint8_t rx_fifo[SERIAL_FIFO_LEN];
    /*
     * Transmitted output that no peer has received yet, kept by the
     * chardev after a migration (chardev_hold_output()). Only a staging
     * area for the "isa-serial/held-output" subsection: filled by
     * pre_save, handed back to the chardev and emptied by post_load.
     */
    uint32_t held_len;
    uint8_t held[CHARDEV_HOLD_MAX];

    /* runtime only */
    MemoryRegion io;
    qemu_irq irq_line; /* ISA IRQ `irq` of the bus, set at realize */
    bool irq_level;
    bool chr_attached;
} SerialState;

static const uint32_t serial_default_iobase[SERIAL_MAX_PORTS] = {
    0x3f8,
    0x2f8,
    0x3e8,
    0x2e8,
};
static const uint32_t serial_default_irq[SERIAL_MAX_PORTS] = {4, 3, 4, 3};
/* Next index for ports created without one, as QEMU numbers them. */
static uint32_t serial_next_index;

static void serial_update_irq(SerialState *s)
{
    uint8_t id = UART_IIR_NO_INT;
    bool level;

    /* Priority order of the 16550A: line status, data, THRE, modem. */
    if ((s->ier & UART_IER_RLSI) && (s->lsr & UART_LSR_INT_ANY)) {
        id = UART_IIR_RLSI;
    } else if ((s->ier & UART_IER_RDI) && s->timeout_ipending) {
        id = UART_IIR_CTI;
    } else if ((s->ier & UART_IER_RDI) && (s->lsr & UART_LSR_DR) &&
               (!(s->fcr & UART_FCR_FE) || s->rx_count >= s->rx_fifo_itl)) {
        id = UART_IIR_RDI;
    } else if ((s->ier & UART_IER_THRI) && s->thr_ipending) {
        id = UART_IIR_THRI;
    } else if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_ANY_DELTA)) {
        id = UART_IIR_MSI;
    }
    s->iir = id | (s->iir & UART_IIR_FE);

    /*
     * Like QEMU, the line is not gated by MCR OUT2 (which PCs wire as the
     * interrupt enable); reset leaves OUT2 set, so drivers that follow the
     * PC convention see no difference.
     */
    level = id != UART_IIR_NO_INT;
    if (level != s->irq_level) {
        s->irq_level = level;
        qemu_set_irq(s->irq_line, level);
    }
}

static void serial_fifo_reset(SerialState *s)
{
    s->rx_head = 0;
    s->rx_count = 0;
    s->timeout_ipending = 0;
}

/* Receive capacity: the 16-byte FIFO, or a one-byte RBR without FIFOs. */
static unsigned int serial_rx_capacity(const SerialState *s)
{
    return (s->fcr & UART_FCR_FE) ? SERIAL_FIFO_LEN : 1;
}

/*
 * There is no timer behind the character-timeout interrupt: data that sits
 * below the trigger level is reported as timed out at once, which is what
 * the guest would see 4 character times later.
 */
static void serial_update_timeout(SerialState *s)
{
    s->timeout_ipending = (s->fcr & UART_FCR_FE) && s->rx_count > 0 &&
                          s->rx_count < s->rx_fifo_itl;
}

static void serial_receive_byte(SerialState *s, uint8_t byte)
{
    unsigned int cap = serial_rx_capacity(s);

    if (s->rx_count < cap) {
        s->rx_fifo[(s->rx_head + s->rx_count) % SERIAL_FIFO_LEN] = byte;
        s->rx_count++;
    } else if (cap == 1) {
        /* 16450 mode: the new byte overwrites RBR and flags the overrun. */
        s->rx_fifo[s->rx_head] = byte;
        s->lsr |= UART_LSR_OE;
    } else {
        /* A full FIFO keeps its contents; the new byte is lost. */
        s->lsr |= UART_LSR_OE;
    }
    s->lsr |= UART_LSR_DR;
}

static uint8_t serial_read_rbr(SerialState *s)
{
    uint8_t byte = 0;

    if (s->rx_count) {
        byte = s->rx_fifo[s->rx_head];
        s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_LEN;
        s->rx_count--;
    }
    if (!s->rx_count) {
        s->lsr &= ~(UART_LSR_DR | UART_LSR_BI);
    }
    serial_update_timeout(s);
    serial_update_irq(s);
    return byte;
}

static void serial_write_thr(SerialState *s, uint8_t byte)
{
    s->thr_ipending = 0;
    s->lsr &= ~(UART_LSR_THRE | UART_LSR_TEMT);
    serial_update_irq(s);

    if (s->mcr & UART_MCR_LOOP) {
        /* Loopback: the transmitter feeds the receiver, not the line. */
        serial_receive_byte(s, byte);
        serial_update_timeout(s);
    } else if (s->chr) {
        /*
         * No peer (or a failing one) drops the byte, as on a real line
         * with nothing attached, unless the chardev holds output after a
         * migration; the guest is never blocked by the host.
         */
        (void)chardev_write(s->chr, &byte, 1);
    }

    /* The shift register empties at once. */
    s->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
    s->thr_ipending = 1;
    serial_update_irq(s);
}

static void serial_write_fcr(SerialState *s, uint8_t val)
{
    static const uint8_t itl[4] = {1, 4, 8, 14};

    /* Toggling FIFO enable flushes both FIFOs. */
    if ((val ^ s->fcr) & UART_FCR_FE) {
        val |= UART_FCR_RFR | UART_FCR_XFR;
    }
    if (val & UART_FCR_RFR) {
        serial_fifo_reset(s);
        s->lsr &= ~(UART_LSR_DR | UART_LSR_BI);
    }
    /* UART_FCR_XFR: the transmit FIFO is always empty here. */
    if (val & UART_FCR_FE) {
        s->iir |= UART_IIR_FE;
        s->rx_fifo_itl = itl[(val & UART_FCR_ITL) >> 6];
    } else {
        s->iir &= ~UART_IIR_FE;
    }
    s->fcr = val & UART_FCR_STICKY;
    serial_update_timeout(s);
    serial_update_irq(s);
}

static void serial_write_byte(SerialState *s, unsigned int reg, uint8_t val)
{
    switch (reg) {
    case UART_RBR_THR:
        if (s->lcr & UART_LCR_DLAB) {
            s->divider = (s->divider & 0xff00) | val;
        } else {
            serial_write_thr(s, val);
        }
        break;
    case UART_IER:
        if (s->lcr & UART_LCR_DLAB) {
            s->divider = (s->divider & 0x00ff) | (val << 8);
            break;
        }
        s->ier = val & 0x0f;
        /* Enabling with THR empty raises THRE at once (as QEMU does). */
        if (s->lsr & UART_LSR_THRE) {
            s->thr_ipending = 1;
        }
        serial_update_irq(s);
        break;
    case UART_IIR_FCR:
        if (val != s->fcr) {
            serial_write_fcr(s, val);
        }
        break;
    case UART_LCR:
        s->lcr = val;
        break;
    case UART_MCR:
        s->mcr = val & UART_MCR_MASK;
        break;
    case UART_LSR:
    case UART_MSR:
        /* Read-only on the 16550A; writes are ignored. */
        break;
    case UART_SCR:
        s->scr = val;
        break;
    }
}

static uint8_t serial_read_msr(SerialState *s)
{
    uint8_t val;

    if (s->mcr & UART_MCR_LOOP) {
        /* Loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
        return ((s->mcr & (UART_MCR_OUT1 | UART_MCR_OUT2)) << 4) |
               ((s->mcr & UART_MCR_RTS) << 3) | ((s->mcr & UART_MCR_DTR) << 5);
    }
    val = s->msr;
    if (s->msr & UART_MSR_ANY_DELTA) {
        s->msr &= 0xf0;
        serial_update_irq(s);
    }
    return val;
}

static uint8_t serial_read_byte(SerialState *s, unsigned int reg)
{
    uint8_t val = 0;

    switch (reg) {
    case UART_RBR_THR:
        if (s->lcr & UART_LCR_DLAB) {
            return s->divider & 0xff;
        }
        return serial_read_rbr(s);
    case UART_IER:
        if (s->lcr & UART_LCR_DLAB) {
            return s->divider >> 8;
        }
        return s->ier;
    case UART_IIR_FCR:
        val = s->iir;
        /* Reading IIR acknowledges a THRE interrupt it reports. */
        if ((val & UART_IIR_ID) == UART_IIR_THRI) {
            s->thr_ipending = 0;
            serial_update_irq(s);
        }
        return val;
    case UART_LCR:
        return s->lcr;
    case UART_MCR:
        return s->mcr;
    case UART_LSR:
        val = s->lsr;
        /* Reading LSR clears the error bits it reports. */
        if (s->lsr & (UART_LSR_BI | UART_LSR_OE)) {
            s->lsr &= ~(UART_LSR_BI | UART_LSR_OE);
            serial_update_irq(s);
        }
        return val;
    case UART_MSR:
        return serial_read_msr(s);
    case UART_SCR:
        return s->scr;
    }
    return val;
}

/* The UART is byte-wide; wider accesses touch consecutive registers. */
static uint64_t serial_io_read(void *opaque, hwaddr offset, unsigned int size)
{
    SerialState *s = opaque;
    uint64_t val = 0;
    unsigned int i;

    for (i = 0; i < size; i++) {
        val |= (uint64_t)serial_read_byte(s, (offset + i) & 7) << (8 * i);
    }
    return val;
}

static void serial_io_write(void *opaque, hwaddr offset, uint64_t value,
                            unsigned int size)
{
    SerialState *s = opaque;
    unsigned int i;

    for (i = 0; i < size; i++) {
        serial_write_byte(s, (offset + i) & 7, value >> (8 * i));
    }
}

static const MemoryRegionOps serial_io_ops = {
    .read = serial_io_read,
    .write = serial_io_write,
};

/*
 * Chardev frontend. can_read advertises the free receive space; in
 * loopback the receiver is disconnected from the line, so host input
 * waits in the chardev until loopback ends.
 */
static size_t serial_can_read(void *opaque)
{
    SerialState *s = opaque;

    if (s->mcr & UART_MCR_LOOP) {
        return 0;
    }
    return serial_rx_capacity(s) - MIN(s->rx_count, serial_rx_capacity(s));
}

static void serial_chr_read(void *opaque, const uint8_t *buf, size_t len)
{
    SerialState *s = opaque;
    size_t i;

    for (i = 0; i < len; i++) {
        serial_receive_byte(s, buf[i]);
    }
    serial_update_timeout(s);
    serial_update_irq(s);
}

static void serial_chr_event(void *opaque, ChardevEvent event)
{
    /* Connects and disconnects do not change the modem lines. */
}

static const ChardevFrontendOps serial_frontend_ops = {
    .can_read = serial_can_read,
    .read = serial_chr_read,
    .event = serial_chr_event,
};

static void serial_reset(DeviceState *dev)
{
    SerialState *s = (SerialState *)dev;

    s->ier = 0;
    s->iir = UART_IIR_NO_INT;
    s->fcr = 0;
    s->lcr = 0;
    s->mcr = UART_MCR_OUT2;
    s->lsr = UART_LSR_TEMT | UART_LSR_THRE;
    s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
    s->scr = 0;
    s->divider = 0x0c; /* 9600 baud from the 1.8432 MHz clock */
    s->thr_ipending = 0;
    s->rx_fifo_itl = 1;
    serial_fifo_reset(s);
    memset(s->rx_fifo, 0, sizeof(s->rx_fifo));

    if (s->irq_level) {
        s->irq_level = false;
        qemu_irq_lower(s->irq_line);
    }
}

static bool serial_realize(DeviceState *dev, GError **errp)
{
    SerialState *s = (SerialState *)dev;
    uint32_t index = s->index;

    if (index == SERIAL_PROP_AUTO) {
        index = serial_next_index;
    }
    if (index >= SERIAL_MAX_PORTS) {
        error_setg(errp, "Max. supported number of ISA serial ports is %d",
                   SERIAL_MAX_PORTS);
        return false;
    }
    if (s->iobase == SERIAL_PROP_AUTO) {
        s->iobase = serial_default_iobase[index];
    }
    if (s->irq == SERIAL_PROP_AUTO) {
        s->irq = serial_default_irq[index];
    }
    if (s->iobase > 0xfff8) {
        error_setg(errp,
                   "isa-serial: iobase 0x%" PRIx32 " is not a valid "
                   "I/O port base (0-0xfff8)",
                   s->iobase);
        return false;
    }
    if (s->irq > 15) {
        error_setg(errp,
                   "isa-serial: irq %" PRIu32 " is not an ISA IRQ "
                   "(0-15)",
                   s->irq);
        return false;
    }
    s->irq_line = isa_get_irq(dev, s->irq, errp);
    if (!s->irq_line) {
        g_prefix_error(errp, "isa-serial: ");
        return false;
    }
    s->index = index;

    serial_reset(dev);
    memory_region_init_io(&s->io, OBJECT(dev), &serial_io_ops, s, "serial", 8);
    memory_region_add_subregion(get_system_io(), s->iobase, &s->io);
    /* Without a chardev the port exists and its output is discarded. */
    if (s->chr) {
        if (!chardev_attach(s->chr, &serial_frontend_ops, s, errp)) {
            memory_region_finalize(&s->io);
            return false;
        }
        s->chr_attached = true;
    }
    serial_next_index = MAX(serial_next_index, index + 1);
    return true;
}

static void serial_unrealize(DeviceState *dev)
{
    SerialState *s = (SerialState *)dev;

    if (s->chr_attached) {
        chardev_detach(s->chr);
        s->chr_attached = false;
    }
    memory_region_finalize(&s->io); /* no-op if realize never got there */
    if (s->irq_level) {
        s->irq_level = false;
        qemu_irq_lower(s->irq_line);
    }
}

/* ---- migration ---- */

static bool serial_check_bits(const char *field, uint8_t val, uint8_t valid,
                              GError **errp)
{
    if (val & ~valid) {
        error_setg(errp, "field '%s': 0x%02x has reserved bits 0x%02x set",
                   field, val, val & ~valid);
        return false;
    }
    return true;
}

static bool serial_pre_save(void *opaque, GError **errp)
{
    SerialState *s = opaque;

    s->held_len = s->chr_attached ? chardev_hold_save(s->chr, s->held,
                                                      sizeof(s->held))
                                  : 0;
    return true;
}

/* A stream without the held-output subsection carries none. */
static bool serial_pre_load(void *opaque, GError **errp)
{
    ((SerialState *)opaque)->held_len = 0;
    return true;
}

/*
 * Reject what the 16550A model can never hold, then recompute what derives
 * from the registers: IIR (from FCR and the pending conditions) and the
 * IRQ line. The FIFO ring travels whole; head and count must describe it.
 * Last, the line: the guest's output goes on from another process, so
 * the chardev keeps it until a peer is there (see chardev_hold_output()),
 * starting with what the previous process had kept.
 */
static bool serial_post_load(void *opaque, int version_id, GError **errp)
{
    SerialState *s = opaque;
    uint8_t itl = s->rx_fifo_itl;

    if (s->rx_head >= SERIAL_FIFO_LEN) {
        error_setg(errp, "field 'rx_head': %u is not below %d", s->rx_head,
                   SERIAL_FIFO_LEN);
        return false;
    }
    if (s->rx_count > serial_rx_capacity(s)) {
        error_setg(errp, "field 'rx_count': %u exceeds maximum %u%s",
                   s->rx_count, serial_rx_capacity(s),
                   (s->fcr & UART_FCR_FE) ? "" : " (FIFOs disabled)");
        return false;
    }
    if (itl != 1 && itl != 4 && itl != 8 && itl != 14) {
        error_setg(errp,
                   "field 'rx_fifo_itl': %u is not a trigger level "
                   "(1, 4, 8 or 14)",
                   itl);
        return false;
    }
    if (!serial_check_bits("ier", s->ier, 0x0f, errp) ||
        !serial_check_bits("mcr", s->mcr, UART_MCR_MASK, errp) ||
        !serial_check_bits("fcr", s->fcr, UART_FCR_STICKY, errp)) {
        return false;
    }
    s->iir = (s->fcr & UART_FCR_FE) ? UART_IIR_FE : 0;
    serial_update_irq(s);
    if (s->chr_attached) {
        chardev_hold_output(s->chr, s->held, s->held_len);
    }
    s->held_len = 0;
    return true;
}

static const VMStateField serial_vmstate_fields[] = {
    VMSTATE_UINT8(ier, SerialState),
    VMSTATE_UINT8(iir, SerialState),
    VMSTATE_UINT8(fcr, SerialState),
    VMSTATE_UINT8(lcr, SerialState),
    VMSTATE_UINT8(mcr, SerialState),
    VMSTATE_UINT8(lsr, SerialState),
    VMSTATE_UINT8(msr, SerialState),
    VMSTATE_UINT8(scr, SerialState),
    VMSTATE_UINT16(divider, SerialState),
    VMSTATE_UINT8(thr_ipending, SerialState),
    VMSTATE_UINT8(timeout_ipending, SerialState),
    VMSTATE_UINT8(rx_fifo_itl, SerialState),
    VMSTATE_UINT8(rx_head, SerialState),
    VMSTATE_UINT8(rx_count, SerialState),
    VMSTATE_BUFFER(rx_fifo, SerialState, SERIAL_FIFO_LEN),
    VMSTATE_END_OF_LIST(),
};

static bool serial_held_needed(void *opaque)
{
    return ((SerialState *)opaque)->held_len > 0;
}

static const VMStateField serial_held_vmstate_fields[] = {
    VMSTATE_UINT8_VARRAY(held, SerialState, held_len, CHARDEV_HOLD_MAX),
    VMSTATE_END_OF_LIST(),
};

/*
 * Only while the chardev still holds output from an earlier migration
 * (no peer has connected since), so rarely.
 */
static const VMStateDescription serial_held_vmstate = {
    .name = TYPE_ISA_SERIAL "/held-output",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = serial_held_needed,
    .fields = serial_held_vmstate_fields,
};

static const VMStateDescription *const serial_vmstate_subsections[] = {
    &serial_held_vmstate,
    NULL,
};

static const VMStateDescription serial_vmstate = {
    .name = TYPE_ISA_SERIAL,
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = serial_pre_save,
    .pre_load = serial_pre_load,
    .post_load = serial_post_load,
    .fields = serial_vmstate_fields,
    .subsections = serial_vmstate_subsections,
};

static const Property serial_props[] = {
    DEFINE_PROP_LINK("chardev", SerialState, chr, TYPE_CHARDEV,
                     .desc = "ID of a chardev to use as a backend"),
    DEFINE_PROP("index", PROP_UINT32, SerialState, index,
                .defval = "0xffffffff",
                .desc = "port number 0-3 (COM1-COM4), next free by default"),
    DEFINE_PROP("iobase", PROP_UINT32, SerialState, iobase,
                .defval = "0xffffffff",
                .desc = "I/O port base (default from index)"),
    DEFINE_PROP("irq", PROP_UINT32, SerialState, irq, .defval = "0xffffffff",
                .desc = "ISA IRQ (default from index)"),
    {NULL},
};

/*
 * The section keeps the previous release's name, "isa-serial", and its
 * instance is the port's identity, not its creation order: COM1-COM4 by
 * their standard I/O base are 0-3 (what -serial's ports always had), any
 * other base is the base itself.
 */
static int serial_legacy_instance_id(DeviceState *dev)
{
    SerialState *s = (SerialState *)dev;

    for (int i = 0; i < SERIAL_MAX_PORTS; i++) {
        if (s->iobase == serial_default_iobase[i]) {
            return i;
        }
    }
    return (int)s->iobase;
}

static void serial_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    device_class_set_props(dc, serial_props);
    dc->user_creatable = true;
    dc->realize = serial_realize;
    dc->reset = serial_reset;
    dc->unrealize = serial_unrealize;
    dc->vmsd = &serial_vmstate;
    dc->legacy_instance_id = serial_legacy_instance_id;
    /* All state is in the vmsd; the chardev preserves its own fds. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "16550A UART on the ISA I/O ports";
}

static const TypeInfo serial_type = {
    .name = TYPE_ISA_SERIAL,
    .parent = TYPE_ISA_DEVICE,
    .instance_size = sizeof(SerialState),
    .class_init = serial_class_init,
};

static void serial_register_types(void)
{
    type_register(&serial_type);
}

type_init(serial_register_types)
