/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "ide-hd": hard disks on a legacy ATA channel (ports 0x1f0-0x1f7 and
 * 0x3f6, ISA IRQ 14), PIO only. The channel is created by the first ide-hd
 * and removed with the last. Commands: IDENTIFY, READ/WRITE SECTORS
 * (LBA28, CHS, LBA48), READ VERIFY, FLUSH CACHE and the setup commands old
 * drivers send; anything else is aborted. No DMA, no ATAPI, no secondary
 * channel.
 */
#include "util/osdep.h"

#include "hw/core/qdev.h"
#include "hw/i386/pc.h"
#include "hw/isa/isa.h"
#include "migration/cpr.h"
#include "migration/vmstate.h"
#include "system/blockdev.h"
#include "system/memory.h"
#include "util/error-report.h"

#define TYPE_IDE_HD "ide-hd"
#define IDE_SECTOR_SIZE 512
#define IDE_CMD_BASE 0x1f0
#define IDE_CTRL_BASE 0x3f6
#define IDE_IRQ 14
#define IDE_UNITS 2
#define IDE_UNIT_AUTO UINT32_MAX

/* Command block register offsets from IDE_CMD_BASE. */
enum {
    ATA_REG_DATA = 0,
    ATA_REG_ERROR_FEATURE = 1,
    ATA_REG_NSECTOR = 2,
    ATA_REG_SECTOR = 3, /* LBA 7:0 */
    ATA_REG_LCYL = 4,   /* LBA 15:8 */
    ATA_REG_HCYL = 5,   /* LBA 23:16 */
    ATA_REG_SELECT = 6, /* device/head */
    ATA_REG_STATUS_CMD = 7,
};

#define ATA_STAT_ERR 0x01
#define ATA_STAT_DRQ 0x08
#define ATA_STAT_DSC 0x10
#define ATA_STAT_DRDY 0x40
#define ATA_STAT_BSY 0x80
#define ATA_STAT_READY (ATA_STAT_DRDY | ATA_STAT_DSC)

#define ATA_ERR_ABRT 0x04
#define ATA_ERR_IDNF 0x10

#define ATA_SEL_LBA 0x40
#define ATA_SEL_DEV 0x10
#define ATA_SEL_OBSOLETE 0xa0

#define ATA_CTL_NIEN 0x02
#define ATA_CTL_SRST 0x04
#define ATA_CTL_HOB 0x80

enum { IDE_XFER_NONE, IDE_XFER_IN, IDE_XFER_OUT };
enum { IDE_ADDR_CHS, IDE_ADDR_LBA28, IDE_ADDR_LBA48 };

/* Flags of read/write commands. */
#define IDE_RW_WRITE 0x01
#define IDE_RW_LBA48 0x02
#define IDE_RW_VERIFY 0x04

typedef struct IDEDevice IDEDevice;

typedef struct IDEChannel {
    /*
     * Guest-visible state, fixed-size fields only (vmstate, issue #3).
     * Both devices latch every taskfile write, so the taskfile is the
     * channel's; status and error are per device. Invariants:
     * buf_pos <= buf_len <= IDE_SECTOR_SIZE, xfer_unit < IDE_UNITS.
     */
    uint8_t feature;
    uint8_t nsector;
    uint8_t sector;
    uint8_t lcyl;
    uint8_t hcyl;
    uint8_t hob_feature; /* previous values, read with devctl HOB (LBA48) */
    uint8_t hob_nsector;
    uint8_t hob_sector;
    uint8_t hob_lcyl;
    uint8_t hob_hcyl;
    uint8_t select;
    uint8_t devctl;
    uint8_t status[IDE_UNITS];
    uint8_t error[IDE_UNITS];
    uint8_t irq_pending;
    uint8_t xfer;     /* IDE_XFER_* */
    uint8_t xfer_cmd; /* command that owns the data phase */
    uint8_t xfer_unit;
    uint8_t xfer_addr; /* IDE_ADDR_*, for reporting the position */
    uint32_t buf_pos;
    uint32_t buf_len;
    uint32_t sectors_left;
    uint64_t lba; /* sector in (or going to) buf */
    uint8_t buf[IDE_SECTOR_SIZE];

    /* runtime only */
    IDEDevice *dev[IDE_UNITS];
    MemoryRegion cmd_io;
    MemoryRegion ctrl_io;
    qemu_irq irq; /* ISA IRQ 14 of the machine's ISA bus */
    bool irq_level;
} IDEChannel;

struct IDEDevice {
    DeviceState parent_obj;

    /* properties */
    DriveInfo *drive;
    uint32_t unit;
    uint32_t cyls;
    uint32_t heads;
    uint32_t secs;
    char *serial;
    char *model;

    /*
     * Migration staging, filled by the vmstate hooks only: this disk's
     * identity (checked against the destination's) and, in the section of
     * the channel's lowest unit, a copy of the channel's migrated fields.
     */
    uint32_t mig_unit;
    uint64_t mig_nb_sectors;
    IDEChannel mig_channel;

    /* runtime only (derived from the properties and the image) */
    IDEChannel *ch;
    uint64_t nb_sectors;
    uint16_t identify[256];
};

/* The primary channel, present while at least one ide-hd exists. */
static IDEChannel *ide_primary;
/* Default serial numbers, numbered as QEMU does ("QM00001", ...). */
static unsigned int ide_serial_counter;

static void ide_update_irq(IDEChannel *ch)
{
    bool level = ch->irq_pending && !(ch->devctl & ATA_CTL_NIEN);

    if (level != ch->irq_level) {
        ch->irq_level = level;
        qemu_set_irq(ch->irq, level);
    }
}

static void ide_raise_irq(IDEChannel *ch)
{
    ch->irq_pending = 1;
    ide_update_irq(ch);
}

static void ide_lower_irq(IDEChannel *ch)
{
    ch->irq_pending = 0;
    ide_update_irq(ch);
}

static unsigned int ide_cur_unit(const IDEChannel *ch)
{
    return (ch->select & ATA_SEL_DEV) ? 1 : 0;
}

static void ide_cmd_done(IDEChannel *ch, unsigned int unit)
{
    ch->xfer = IDE_XFER_NONE;
    ch->status[unit] = ATA_STAT_READY;
    ide_raise_irq(ch);
}

static void ide_abort(IDEChannel *ch, unsigned int unit, uint8_t err)
{
    ch->xfer = IDE_XFER_NONE;
    ch->error[unit] = err;
    ch->status[unit] = ATA_STAT_READY | ATA_STAT_ERR;
    ide_raise_irq(ch);
}

/* The power-on / reset signature of an ATA (non-packet) device. */
static void ide_set_signature(IDEChannel *ch)
{
    ch->nsector = 1;
    ch->sector = 1;
    ch->lcyl = 0;
    ch->hcyl = 0;
    ch->select = ATA_SEL_OBSOLETE;
}

/* Put LBA into the taskfile in the addressing form the command used. */
static void ide_set_sector(IDEChannel *ch, IDEDevice *dev, uint64_t lba)
{
    uint64_t cyl, rem;

    switch (ch->xfer_addr) {
    case IDE_ADDR_LBA48:
        ch->hob_sector = lba >> 24;
        ch->hob_lcyl = lba >> 32;
        ch->hob_hcyl = lba >> 40;
        /* fall through */
    case IDE_ADDR_LBA28:
        ch->sector = lba;
        ch->lcyl = lba >> 8;
        ch->hcyl = lba >> 16;
        if (ch->xfer_addr == IDE_ADDR_LBA28) {
            ch->select = (ch->select & 0xf0) | ((lba >> 24) & 0x0f);
        }
        break;
    default:
        cyl = lba / (dev->heads * dev->secs);
        rem = lba % (dev->heads * dev->secs);
        ch->lcyl = cyl;
        ch->hcyl = cyl >> 8;
        ch->select = (ch->select & 0xf0) | (rem / dev->secs);
        ch->sector = rem % dev->secs + 1;
        break;
    }
}

/*
 * Decode the taskfile into a start sector and count; false (and the
 * command aborted with IDNF) if the address is invalid or the range leaves
 * the image, so nothing is ever read or written past its end.
 */
static bool ide_decode_range(IDEChannel *ch, IDEDevice *dev, bool lba48,
                             uint64_t *lba, uint32_t *count)
{
    unsigned int unit = dev->unit;
    uint64_t cyl, head;

    if (lba48) {
        ch->xfer_addr = IDE_ADDR_LBA48;
        *lba = (uint64_t)ch->hob_hcyl << 40 | (uint64_t)ch->hob_lcyl << 32 |
               (uint64_t)ch->hob_sector << 24 | (uint64_t)ch->hcyl << 16 |
               (uint64_t)ch->lcyl << 8 | ch->sector;
        *count = (uint32_t)ch->hob_nsector << 8 | ch->nsector;
        *count = *count ? *count : 65536;
    } else if (ch->select & ATA_SEL_LBA) {
        ch->xfer_addr = IDE_ADDR_LBA28;
        *lba = (uint64_t)(ch->select & 0x0f) << 24 | (uint64_t)ch->hcyl << 16 |
               (uint64_t)ch->lcyl << 8 | ch->sector;
        *count = ch->nsector ? ch->nsector : 256;
    } else {
        ch->xfer_addr = IDE_ADDR_CHS;
        cyl = (uint64_t)ch->hcyl << 8 | ch->lcyl;
        head = ch->select & 0x0f;
        if (ch->sector == 0 || ch->sector > dev->secs || head >= dev->heads ||
            cyl >= dev->cyls) {
            log_mask(LOG_GUEST_ERROR,
                     "ide: unit %u: invalid CHS %" PRIu64 "/%" PRIu64 "/%u\n",
                     unit, cyl, head, ch->sector);
            ide_abort(ch, unit, ATA_ERR_ABRT | ATA_ERR_IDNF);
            return false;
        }
        *lba = (cyl * dev->heads + head) * dev->secs + ch->sector - 1;
        *count = ch->nsector ? ch->nsector : 256;
    }
    if (*lba >= dev->nb_sectors || *count > dev->nb_sectors - *lba) {
        log_mask(LOG_GUEST_ERROR,
                 "ide: unit %u: sectors %" PRIu64 "+%u "
                 "beyond the end of the disk (%" PRIu64 " sectors)\n",
                 unit, *lba, *count, dev->nb_sectors);
        ide_abort(ch, unit, ATA_ERR_ABRT | ATA_ERR_IDNF);
        return false;
    }
    return true;
}

/* Host-side I/O failure: report it on baton's side, abort in the guest. */
static void ide_io_error(IDEChannel *ch, IDEDevice *dev, GError *err)
{
    error_report("ide-hd unit %u: %s", dev->unit, err->message);
    g_error_free(err);
    ide_set_sector(ch, dev, ch->lba);
    ide_abort(ch, dev->unit, ATA_ERR_ABRT);
}

/* PIO data-in: load the sector at ch->lba and interrupt for it. */
static void ide_read_sector(IDEChannel *ch, IDEDevice *dev)
{
    GError *err = NULL;

    if (!drive_pread(dev->drive, ch->lba * IDE_SECTOR_SIZE, ch->buf,
                     IDE_SECTOR_SIZE, &err)) {
        ide_io_error(ch, dev, err);
        return;
    }
    ch->buf_pos = 0;
    ch->buf_len = IDE_SECTOR_SIZE;
    ch->xfer = IDE_XFER_IN;
    ch->status[dev->unit] = ATA_STAT_READY | ATA_STAT_DRQ;
    ide_raise_irq(ch);
}

/* PIO data-out: wait for the guest to fill the next sector. */
static void ide_want_sector(IDEChannel *ch, IDEDevice *dev)
{
    ch->buf_pos = 0;
    ch->buf_len = IDE_SECTOR_SIZE;
    ch->xfer = IDE_XFER_OUT;
    ch->status[dev->unit] = ATA_STAT_READY | ATA_STAT_DRQ;
}

static void ide_cmd_rw(IDEChannel *ch, IDEDevice *dev, unsigned int flags)
{
    uint64_t lba;
    uint32_t count;

    if (!ide_decode_range(ch, dev, flags & IDE_RW_LBA48, &lba, &count)) {
        return;
    }
    if ((flags & IDE_RW_WRITE) && dev->drive->read_only) {
        log_mask(LOG_GUEST_ERROR,
                 "ide: unit %u: write to read-only drive "
                 "'%s'\n",
                 dev->unit, dev->drive->id);
        ide_abort(ch, dev->unit, ATA_ERR_ABRT);
        return;
    }
    ch->lba = lba;
    ch->sectors_left = count;
    ch->xfer_unit = dev->unit;
    if (flags & IDE_RW_VERIFY) {
        /* The range is valid and the image has no media errors. */
        ide_set_sector(ch, dev, lba + count - 1);
        ide_cmd_done(ch, dev->unit);
    } else if (flags & IDE_RW_WRITE) {
        /* ATA: no interrupt before the first data-out block. */
        ide_want_sector(ch, dev);
    } else {
        ide_read_sector(ch, dev);
    }
}

static void ide_cmd_identify(IDEChannel *ch, IDEDevice *dev, unsigned int flags)
{
    unsigned int i;

    for (i = 0; i < 256; i++) {
        ch->buf[2 * i] = dev->identify[i] & 0xff;
        ch->buf[2 * i + 1] = dev->identify[i] >> 8;
    }
    ch->buf_pos = 0;
    ch->buf_len = IDE_SECTOR_SIZE;
    ch->sectors_left = 1;
    ch->xfer_unit = dev->unit;
    ch->xfer = IDE_XFER_IN;
    ch->status[dev->unit] = ATA_STAT_READY | ATA_STAT_DRQ;
    ide_raise_irq(ch);
}

/* Commands that need nothing from a disk without media or modes. */
static void ide_cmd_nop(IDEChannel *ch, IDEDevice *dev, unsigned int flags)
{
    ide_cmd_done(ch, dev->unit);
}

static void ide_cmd_check_power(IDEChannel *ch, IDEDevice *dev,
                                unsigned int flags)
{
    ch->nsector = 0xff; /* active or idle */
    ide_cmd_done(ch, dev->unit);
}

static void ide_cmd_set_features(IDEChannel *ch, IDEDevice *dev,
                                 unsigned int flags)
{
    switch (ch->feature) {
    case 0x02: /* enable write cache */
    case 0x82: /* disable write cache */
    case 0x03: /* set transfer mode: PIO timing is irrelevant here */
    case 0x55: /* disable read look-ahead */
    case 0xaa: /* enable read look-ahead */
    case 0x66: /* keep / revert to power-on defaults */
    case 0xcc:
        ide_cmd_done(ch, dev->unit);
        break;
    default:
        log_mask(LOG_UNIMP, "ide: SET FEATURES 0x%02x not supported\n",
                 ch->feature);
        ide_abort(ch, dev->unit, ATA_ERR_ABRT);
        break;
    }
}

static void ide_cmd_flush(IDEChannel *ch, IDEDevice *dev, unsigned int flags)
{
    if (!dev->drive->read_only && fdatasync(dev->drive->fd) < 0) {
        error_report("ide-hd unit %u: flush of drive '%s' failed: %s",
                     dev->unit, dev->drive->id, g_strerror(errno));
        ide_abort(ch, dev->unit, ATA_ERR_ABRT);
        return;
    }
    ide_cmd_done(ch, dev->unit);
}

static void ide_cmd_diagnostic(IDEChannel *ch, IDEDevice *dev,
                               unsigned int flags)
{
    unsigned int i;

    ide_set_signature(ch);
    for (i = 0; i < IDE_UNITS; i++) {
        if (ch->dev[i]) {
            ch->error[i] = 0x01; /* passed */
            ch->status[i] = ATA_STAT_READY;
        }
    }
    ch->xfer = IDE_XFER_NONE;
    ide_raise_irq(ch);
}

typedef struct IDECommand {
    uint8_t cmd;
    void (*fn)(IDEChannel *ch, IDEDevice *dev, unsigned int flags);
    unsigned int flags;
} IDECommand;

static const IDECommand ide_commands[] = {
    {0x10, ide_cmd_nop},              /* RECALIBRATE */
    {0x20, ide_cmd_rw, 0},            /* READ SECTORS */
    {0x21, ide_cmd_rw, 0},            /* READ SECTORS (no retry) */
    {0x24, ide_cmd_rw, IDE_RW_LBA48}, /* READ SECTORS EXT */
    {0x30, ide_cmd_rw, IDE_RW_WRITE}, /* WRITE SECTORS */
    {0x31, ide_cmd_rw, IDE_RW_WRITE}, /* (no retry) */
    {0x34, ide_cmd_rw, IDE_RW_WRITE | IDE_RW_LBA48},  /* WRITE SECTORS EXT */
    {0x40, ide_cmd_rw, IDE_RW_VERIFY},                /* READ VERIFY */
    {0x41, ide_cmd_rw, IDE_RW_VERIFY},                /* (no retry) */
    {0x42, ide_cmd_rw, IDE_RW_VERIFY | IDE_RW_LBA48}, /* READ VERIFY EXT */
    {0x70, ide_cmd_nop},                              /* SEEK */
    {0x90, ide_cmd_diagnostic}, /* EXECUTE DEVICE DIAGNOSTIC */
    /* INITIALIZE DEVICE PARAMETERS: CHS always uses the IDENTIFY geometry. */
    {0x91, ide_cmd_nop},
    {0xe0, ide_cmd_nop},          /* STANDBY IMMEDIATE */
    {0xe1, ide_cmd_nop},          /* IDLE IMMEDIATE */
    {0xe5, ide_cmd_check_power},  /* CHECK POWER MODE */
    {0xe7, ide_cmd_flush},        /* FLUSH CACHE */
    {0xea, ide_cmd_flush},        /* FLUSH CACHE EXT */
    {0xec, ide_cmd_identify},     /* IDENTIFY DEVICE */
    {0xef, ide_cmd_set_features}, /* SET FEATURES */
};

static void ide_exec_cmd(IDEChannel *ch, uint8_t cmd)
{
    unsigned int unit = ide_cur_unit(ch);
    IDEDevice *dev = ch->dev[unit];
    size_t i;

    /* A command to an absent device is ignored, as on a real channel. */
    if (!dev || (ch->devctl & ATA_CTL_SRST)) {
        return;
    }
    ide_lower_irq(ch);
    ch->xfer = IDE_XFER_NONE;
    ch->xfer_cmd = cmd;
    ch->error[unit] = 0;
    for (i = 0; i < ARRAY_SIZE(ide_commands); i++) {
        if (ide_commands[i].cmd == cmd) {
            ide_commands[i].fn(ch, dev, ide_commands[i].flags);
            return;
        }
    }
    /* Includes IDENTIFY PACKET DEVICE (0xa1): this is not an ATAPI device. */
    log_mask(LOG_UNIMP, "ide: unit %u: command 0x%02x not supported\n", unit,
             cmd);
    ide_abort(ch, unit, ATA_ERR_ABRT);
}

/* The guest has moved the whole sector buffer through the data port. */
static void ide_transfer_done(IDEChannel *ch)
{
    IDEDevice *dev = ch->dev[ch->xfer_unit];
    GError *err = NULL;

    if (!dev) {
        ch->xfer = IDE_XFER_NONE;
        return;
    }
    if (ch->xfer_cmd == 0xec) {
        ch->xfer = IDE_XFER_NONE;
        ch->status[dev->unit] = ATA_STAT_READY;
        return;
    }
    if (ch->xfer == IDE_XFER_OUT &&
        !drive_pwrite(dev->drive, ch->lba * IDE_SECTOR_SIZE, ch->buf,
                      IDE_SECTOR_SIZE, &err)) {
        ide_io_error(ch, dev, err);
        return;
    }
    /* The taskfile reports the last sector transferred. */
    ide_set_sector(ch, dev, ch->lba);
    ch->sectors_left--;
    ch->lba++;
    if (ch->xfer == IDE_XFER_IN) {
        if (ch->sectors_left) {
            ide_read_sector(ch, dev);
        } else {
            /* ATA PIO data-in: no interrupt after the last block. */
            ch->xfer = IDE_XFER_NONE;
            ch->status[dev->unit] = ATA_STAT_READY;
        }
    } else if (ch->sectors_left) {
        ide_want_sector(ch, dev);
        ide_raise_irq(ch);
    } else {
        ide_cmd_done(ch, dev->unit);
    }
}

static uint64_t ide_data_read(IDEChannel *ch, unsigned int size)
{
    uint64_t val = 0;
    unsigned int i;

    if (ch->xfer != IDE_XFER_IN) {
        log_mask(LOG_GUEST_ERROR, "ide: data port read without DRQ\n");
        return 0;
    }
    for (i = 0; i < size && ch->buf_pos < ch->buf_len; i++) {
        val |= (uint64_t)ch->buf[ch->buf_pos++] << (8 * i);
    }
    if (ch->buf_pos == ch->buf_len) {
        ide_transfer_done(ch);
    }
    return val;
}

static void ide_data_write(IDEChannel *ch, uint64_t val, unsigned int size)
{
    unsigned int i;

    if (ch->xfer != IDE_XFER_OUT) {
        log_mask(LOG_GUEST_ERROR, "ide: data port write without DRQ\n");
        return;
    }
    for (i = 0; i < size && ch->buf_pos < ch->buf_len; i++) {
        ch->buf[ch->buf_pos++] = val >> (8 * i);
    }
    if (ch->buf_pos == ch->buf_len) {
        ide_transfer_done(ch);
    }
}

static uint8_t ide_reg_read(IDEChannel *ch, unsigned int reg)
{
    unsigned int unit = ide_cur_unit(ch);
    bool hob = ch->devctl & ATA_CTL_HOB;

    switch (reg) {
    case ATA_REG_ERROR_FEATURE:
        return ch->dev[unit] ? ch->error[unit] : 0;
    case ATA_REG_NSECTOR:
        return hob ? ch->hob_nsector : ch->nsector;
    case ATA_REG_SECTOR:
        return hob ? ch->hob_sector : ch->sector;
    case ATA_REG_LCYL:
        return hob ? ch->hob_lcyl : ch->lcyl;
    case ATA_REG_HCYL:
        return hob ? ch->hob_hcyl : ch->hcyl;
    case ATA_REG_SELECT:
        return ch->select;
    default:
        /* Status: an absent device reads 0; reading acknowledges INTRQ. */
        if (!ch->dev[unit]) {
            return 0;
        }
        ide_lower_irq(ch);
        return ch->status[unit];
    }
}

/* Registers 1-5 are two deep: the old value moves to the HOB copy. */
static void ide_latch(uint8_t *reg, uint8_t *hob, uint8_t val)
{
    *hob = *reg;
    *reg = val;
}

static void ide_reg_write(IDEChannel *ch, unsigned int reg, uint8_t val)
{
    if (reg != ATA_REG_STATUS_CMD) {
        /* ATA: writing a command block register clears HOB. */
        ch->devctl &= ~ATA_CTL_HOB;
    }
    switch (reg) {
    case ATA_REG_ERROR_FEATURE:
        ide_latch(&ch->feature, &ch->hob_feature, val);
        break;
    case ATA_REG_NSECTOR:
        ide_latch(&ch->nsector, &ch->hob_nsector, val);
        break;
    case ATA_REG_SECTOR:
        ide_latch(&ch->sector, &ch->hob_sector, val);
        break;
    case ATA_REG_LCYL:
        ide_latch(&ch->lcyl, &ch->hob_lcyl, val);
        break;
    case ATA_REG_HCYL:
        ide_latch(&ch->hcyl, &ch->hob_hcyl, val);
        break;
    case ATA_REG_SELECT:
        ch->select = val | ATA_SEL_OBSOLETE;
        break;
    default:
        ide_exec_cmd(ch, val);
        break;
    }
}

static uint64_t ide_cmd_io_read(void *opaque, hwaddr offset, unsigned int size)
{
    IDEChannel *ch = opaque;
    uint64_t val = 0;
    unsigned int i;

    if (offset == ATA_REG_DATA) {
        return ide_data_read(ch, size);
    }
    for (i = 0; i < size && offset + i < 8; i++) {
        val |= (uint64_t)ide_reg_read(ch, offset + i) << (8 * i);
    }
    return val;
}

static void ide_cmd_io_write(void *opaque, hwaddr offset, uint64_t val,
                             unsigned int size)
{
    IDEChannel *ch = opaque;
    unsigned int i;

    if (offset == ATA_REG_DATA) {
        ide_data_write(ch, val, size);
        return;
    }
    for (i = 0; i < size && offset + i < 8; i++) {
        ide_reg_write(ch, offset + i, val >> (8 * i));
    }
}

static const MemoryRegionOps ide_cmd_io_ops = {
    .read = ide_cmd_io_read,
    .write = ide_cmd_io_write,
};

static void ide_channel_reset(IDEChannel *ch)
{
    unsigned int i;

    ch->feature = ch->hob_feature = 0;
    ch->hob_nsector = ch->hob_sector = ch->hob_lcyl = ch->hob_hcyl = 0;
    ide_set_signature(ch);
    ch->xfer = IDE_XFER_NONE;
    ch->xfer_cmd = 0;
    ch->xfer_unit = 0;
    ch->xfer_addr = IDE_ADDR_CHS;
    ch->buf_pos = ch->buf_len = 0;
    ch->sectors_left = 0;
    ch->lba = 0;
    for (i = 0; i < IDE_UNITS; i++) {
        ch->status[i] = ch->dev[i] ? ATA_STAT_READY : 0;
        ch->error[i] = ch->dev[i] ? 0x01 : 0;
    }
    ch->irq_pending = 0;
    ide_update_irq(ch);
}

/* Alternate status (no INTRQ acknowledge) and device control. */
static uint64_t ide_ctrl_io_read(void *opaque, hwaddr offset, unsigned int size)
{
    IDEChannel *ch = opaque;
    unsigned int unit = ide_cur_unit(ch);

    return ch->dev[unit] ? ch->status[unit] : 0;
}

static void ide_ctrl_io_write(void *opaque, hwaddr offset, uint64_t val,
                              unsigned int size)
{
    IDEChannel *ch = opaque;
    uint8_t old = ch->devctl;
    unsigned int i;

    ch->devctl = val & (ATA_CTL_NIEN | ATA_CTL_SRST | ATA_CTL_HOB);
    if (!(old & ATA_CTL_SRST) && (val & ATA_CTL_SRST)) {
        /* Software reset asserted: devices are busy until it is released. */
        ch->xfer = IDE_XFER_NONE;
        ch->irq_pending = 0;
        for (i = 0; i < IDE_UNITS; i++) {
            if (ch->dev[i]) {
                ch->status[i] = ATA_STAT_BSY | ATA_STAT_DSC;
            }
        }
    } else if ((old & ATA_CTL_SRST) && !(val & ATA_CTL_SRST)) {
        uint8_t devctl = ch->devctl;

        ide_channel_reset(ch);
        ch->devctl = devctl;
    }
    ide_update_irq(ch);
}

static const MemoryRegionOps ide_ctrl_io_ops = {
    .read = ide_ctrl_io_read,
    .write = ide_ctrl_io_write,
};

/*
 * The legacy channel's interrupt is ISA IRQ 14 whatever bus the disks
 * are on, as on a PC's PIIX IDE function in compatibility mode.
 */
static qemu_irq ide_channel_irq(GError **errp)
{
    BusState *isa = qbus_find_type(TYPE_ISA_BUS);

    if (!isa) {
        error_setg(errp, "ide-hd: there is no ISA bus to take IRQ %d from",
                   IDE_IRQ);
        return NULL;
    }
    return isa_bus_get_irq(isa, IDE_IRQ, errp);
}

static IDEChannel *ide_channel_get(GError **errp)
{
    IDEChannel *ch;
    qemu_irq irq;

    if (ide_primary) {
        return ide_primary;
    }
    irq = ide_channel_irq(errp);
    if (!irq) {
        return NULL;
    }
    ch = g_new0(IDEChannel, 1);
    ch->irq = irq;
    memory_region_init_io(&ch->cmd_io, NULL, &ide_cmd_io_ops, ch, "ide", 8);
    memory_region_init_io(&ch->ctrl_io, NULL, &ide_ctrl_io_ops, ch,
                          "ide-ctrl", 1);
    memory_region_transaction_begin();
    memory_region_add_subregion(get_system_io(), IDE_CMD_BASE, &ch->cmd_io);
    memory_region_add_subregion(get_system_io(), IDE_CTRL_BASE, &ch->ctrl_io);
    memory_region_transaction_commit();
    ide_channel_reset(ch);
    ide_primary = ch;
    return ch;
}

static void ide_channel_put(IDEChannel *ch)
{
    unsigned int i;

    for (i = 0; i < IDE_UNITS; i++) {
        if (ch->dev[i]) {
            return;
        }
    }
    if (ch->irq_level) {
        qemu_irq_lower(ch->irq);
    }
    memory_region_finalize(&ch->ctrl_io);
    memory_region_finalize(&ch->cmd_io);
    g_free(ch);
    ide_primary = NULL;
}

/* ATA strings: space padded, first character in each word's high byte. */
static void ide_put_string(uint16_t *words, const char *str,
                           unsigned int nwords)
{
    size_t len = strlen(str);
    unsigned int i;

    for (i = 0; i < 2 * nwords; i++) {
        uint8_t c = i < len ? str[i] : ' ';

        words[i / 2] |= (i % 2) ? c : (uint16_t)c << 8;
    }
}

static void ide_build_identify(IDEDevice *dev)
{
    uint16_t *w = dev->identify;
    uint64_t chs = (uint64_t)dev->cyls * dev->heads * dev->secs;
    uint64_t lba28 = MIN(dev->nb_sectors, 0x0fffffffULL);
    uint8_t sum = 0;
    unsigned int i;

    memset(dev->identify, 0, sizeof(dev->identify));
    w[0] = 0x0040; /* fixed, non-removable ATA device */
    w[1] = dev->cyls;
    w[3] = dev->heads;
    w[4] = IDE_SECTOR_SIZE * dev->secs; /* obsolete, as QEMU fills it */
    w[5] = IDE_SECTOR_SIZE;
    w[6] = dev->secs;
    ide_put_string(&w[10], dev->serial, 10);
    ide_put_string(&w[23], "2.5+", 4); /* firmware revision, as QEMU */
    ide_put_string(&w[27], dev->model, 20);
    w[47] = 0x8000; /* READ/WRITE MULTIPLE not supported */
    w[48] = 1;      /* 32-bit PIO */
    w[49] = 1 << 9; /* LBA; no DMA */
    w[50] = 0x4000;
    w[51] = 0x200;  /* PIO timing mode 2 */
    w[53] = 0x0003; /* words 54-58 and 64-70 are valid */
    w[54] = dev->cyls;
    w[55] = dev->heads;
    w[56] = dev->secs;
    w[57] = MIN(chs, 0xffffffffULL) & 0xffff;
    w[58] = MIN(chs, 0xffffffffULL) >> 16;
    w[60] = lba28 & 0xffff;
    w[61] = lba28 >> 16;
    w[64] = 0x0003; /* PIO modes 3 and 4 */
    w[65] = w[66] = w[67] = w[68] = 120;
    w[80] = 0x00f0;            /* ATA/ATAPI-4 to -7 */
    w[82] = 0x4000 | (1 << 5); /* write cache (see FLUSH CACHE) */
    w[83] = 0x4000 | (1 << 13) | (1 << 12) | (1 << 10); /* flush, LBA48 */
    w[84] = 0x4000;
    w[85] = 1 << 5;
    w[86] = (1 << 13) | (1 << 12) | (1 << 10);
    w[87] = 0x4000;
    w[93] = 0x6001; /* hardware reset result, device 0 */
    w[100] = dev->nb_sectors;
    w[101] = dev->nb_sectors >> 16;
    w[102] = dev->nb_sectors >> 32;
    w[103] = dev->nb_sectors >> 48;
    /* Integrity word: signature 0xa5, then a checksum making the sum 0. */
    w[255] = 0x00a5;
    for (i = 0; i < 511; i++) {
        sum += i % 2 ? w[i / 2] >> 8 : w[i / 2] & 0xff;
    }
    w[255] |= (uint16_t)(uint8_t)-sum << 8;
}

/* QEMU's guess for a disk without a partition table: 16 heads, 63 sectors. */
static bool ide_geometry(IDEDevice *dev, GError **errp)
{
    uint64_t cyls;

    if (!dev->cyls && !dev->heads && !dev->secs) {
        cyls = dev->nb_sectors / (16 * 63);
        dev->cyls = CLAMP(cyls, 2, 16383);
        dev->heads = 16;
        dev->secs = 63;
        return true;
    }
    if (!dev->cyls || !dev->heads || !dev->secs) {
        error_setg(errp, "cyls, heads and secs must be specified together");
        return false;
    }
    if (dev->cyls > 65535) {
        error_setg(errp, "cyls must be between 1 and 65535");
        return false;
    }
    if (dev->heads > 16) {
        error_setg(errp, "heads must be between 1 and 16");
        return false;
    }
    if (dev->secs > 255) {
        error_setg(errp, "secs must be between 1 and 255");
        return false;
    }
    return true;
}

static bool ide_check_props(IDEDevice *dev, GError **errp)
{
    if (dev->serial && strlen(dev->serial) > 20) {
        error_setg(errp, "ide-hd: serial '%s' is longer than 20 characters",
                   dev->serial);
        return false;
    }
    if (dev->model && strlen(dev->model) > 40) {
        error_setg(errp, "ide-hd: model '%s' is longer than 40 characters",
                   dev->model);
        return false;
    }
    if (dev->unit != IDE_UNIT_AUTO && dev->unit >= IDE_UNITS) {
        error_setg(errp,
                   "Can't create IDE unit %" PRIu32 ", bus supports "
                   "only %d units",
                   dev->unit, IDE_UNITS);
        return false;
    }
    return true;
}

static bool ide_hd_realize(DeviceState *d, GError **errp)
{
    IDEDevice *dev = (IDEDevice *)d;
    IDEChannel *ch = ide_primary;
    unsigned int unit = dev->unit;

    if (!ide_check_props(dev, errp)) {
        return false;
    }
    if (unit == IDE_UNIT_AUTO) {
        for (unit = 0; unit < IDE_UNITS && ch && ch->dev[unit]; unit++) {
            /* find the first free unit */
        }
        if (unit == IDE_UNITS) {
            error_setg(errp, "ide-hd: both units of bus 'ide.0' are in use");
            return false;
        }
    } else if (ch && ch->dev[unit]) {
        error_setg(errp, "IDE unit %u is in use", unit);
        return false;
    }
    dev->nb_sectors = dev->drive->size / IDE_SECTOR_SIZE;
    if (!ide_geometry(dev, errp)) {
        return false;
    }
    /* The channel first: a claimed drive cannot be released again. */
    ch = ide_channel_get(errp);
    if (!ch) {
        return false;
    }
    if (!drive_attach(dev->drive, d->id ? d->id : TYPE_IDE_HD, errp)) {
        ide_channel_put(ch);
        return false;
    }
    dev->unit = unit;
    if (!dev->serial) {
        dev->serial = g_strdup_printf("QM%05u", ++ide_serial_counter);
    }
    if (!dev->model) {
        dev->model = g_strdup("QEMU HARDDISK");
    }
    ide_build_identify(dev);
    dev->ch = ch;
    ch->dev[unit] = dev;
    ch->status[unit] = ATA_STAT_READY;
    ch->error[unit] = 0x01;
    return true;
}

static void ide_hd_reset(DeviceState *d)
{
    IDEDevice *dev = (IDEDevice *)d;

    /* Both disks share the channel; resetting it twice is harmless. */
    if (dev->ch) {
        ide_channel_reset(dev->ch);
    }
}

static void ide_hd_unrealize(DeviceState *d)
{
    IDEDevice *dev = (IDEDevice *)d;
    IDEChannel *ch = dev->ch;

    if (!ch) {
        return;
    }
    if (ch->xfer != IDE_XFER_NONE && ch->xfer_unit == dev->unit) {
        ch->xfer = IDE_XFER_NONE;
    }
    ch->dev[dev->unit] = NULL;
    ch->status[dev->unit] = 0;
    dev->ch = NULL;
    ide_channel_put(ch);
}

DriveInfo *ide_hd_boot_drive(void)
{
    unsigned int i;

    for (i = 0; ide_primary && i < IDE_UNITS; i++) {
        if (ide_primary->dev[i]) {
            return ide_primary->dev[i]->drive;
        }
    }
    return NULL;
}

/* ---- migration ---- */

/* IDEChannel's migrated fields end before its runtime-only ones. */
#define IDE_CHANNEL_MIG_SIZE offsetof(IDEChannel, dev)
G_STATIC_ASSERT(offsetof(IDEChannel, buf) + IDE_SECTOR_SIZE <=
                IDE_CHANNEL_MIG_SIZE);

/* The channel travels once, in the section of its lowest present unit. */
static bool ide_hd_owns_channel(void *opaque)
{
    IDEDevice *dev = opaque;
    unsigned int unit = 0;

    while (unit < IDE_UNITS && !dev->ch->dev[unit]) {
        unit++;
    }
    return unit == dev->unit;
}

static bool ide_hd_pre_save(void *opaque, GError **errp)
{
    IDEDevice *dev = opaque;

    dev->mig_unit = dev->unit;
    dev->mig_nb_sectors = dev->nb_sectors;
    return true;
}

/* The destination's disk must be the source's: same unit, same size. */
static bool ide_hd_check_identity(IDEDevice *dev, GError **errp)
{
    if (dev->mig_unit != dev->unit) {
        error_setg(errp,
                   "field 'mig_unit': unit %" PRIu32 " loaded into "
                   "unit %" PRIu32,
                   dev->mig_unit, dev->unit);
        return false;
    }
    if (dev->mig_nb_sectors != dev->nb_sectors) {
        error_setg(errp,
                   "field 'mig_nb_sectors': the source disk has %" PRIu64
                   " sectors, drive '%s' has %" PRIu64,
                   dev->mig_nb_sectors, dev->drive->id, dev->nb_sectors);
        return false;
    }
    return true;
}

static bool ide_hd_post_load(void *opaque, int version_id, GError **errp)
{
    return ide_hd_check_identity(opaque, errp);
}

static bool ide_hd_channel_pre_save(void *opaque, GError **errp)
{
    IDEDevice *dev = opaque;

    memset(&dev->mig_channel, 0, sizeof(dev->mig_channel));
    memcpy(&dev->mig_channel, dev->ch, IDE_CHANNEL_MIG_SIZE);
    return true;
}

/*
 * An active data phase must be one this channel could be in: a disk on
 * the transfer's unit, a buffer position inside the buffer, sectors left
 * inside that disk, and no data-out phase to a read-only drive.
 */
static bool ide_hd_check_xfer(IDEChannel *ch, const IDEChannel *c,
                              GError **errp)
{
    IDEDevice *xdev;

    if (c->xfer == IDE_XFER_NONE) {
        return true;
    }
    xdev = ch->dev[c->xfer_unit];
    if (!xdev) {
        error_setg(errp, "field 'xfer_unit': unit %u has no disk",
                   c->xfer_unit);
        return false;
    }
    if (c->sectors_left == 0) {
        error_setg(errp, "field 'sectors_left': 0 during a data phase");
        return false;
    }
    if (c->xfer_cmd != 0xec && (c->lba >= xdev->nb_sectors ||
                                c->sectors_left > xdev->nb_sectors - c->lba)) {
        error_setg(errp,
                   "field 'lba': sectors %" PRIu64 "+%" PRIu32
                   " beyond the end of drive '%s' (%" PRIu64 " sectors)",
                   c->lba, c->sectors_left, xdev->drive->id, xdev->nb_sectors);
        return false;
    }
    if (c->xfer == IDE_XFER_OUT && xdev->drive->read_only) {
        error_setg(errp,
                   "field 'xfer': write in progress to read-only "
                   "drive '%s'",
                   xdev->drive->id);
        return false;
    }
    return true;
}

static bool ide_check_max(const char *field, unsigned int val, unsigned int max,
                          GError **errp)
{
    if (val > max) {
        error_setg(errp, "field '%s': %u exceeds maximum %u", field, val, max);
        return false;
    }
    return true;
}

static bool ide_hd_check_channel(IDEChannel *ch, const IDEChannel *c,
                                 GError **errp)
{
    if (c->buf_len > IDE_SECTOR_SIZE) {
        error_setg(errp,
                   "field 'buf_len': %" PRIu32 " exceeds the %d-byte "
                   "buffer",
                   c->buf_len, IDE_SECTOR_SIZE);
        return false;
    }
    if (c->buf_pos > c->buf_len) {
        error_setg(errp,
                   "field 'buf_pos': %" PRIu32 " is beyond buf_len %" PRIu32,
                   c->buf_pos, c->buf_len);
        return false;
    }
    if (!ide_check_max("xfer", c->xfer, IDE_XFER_OUT, errp) ||
        !ide_check_max("xfer_addr", c->xfer_addr, IDE_ADDR_LBA48, errp) ||
        !ide_check_max("xfer_unit", c->xfer_unit, IDE_UNITS - 1, errp)) {
        return false;
    }
    if (c->devctl & ~(ATA_CTL_NIEN | ATA_CTL_SRST | ATA_CTL_HOB)) {
        error_setg(errp, "field 'devctl': reserved bits set in 0x%02x",
                   c->devctl);
        return false;
    }
    return ide_hd_check_xfer(ch, c, errp);
}

/* Runs before the main section's post_load: check identity here too. */
static bool ide_hd_channel_post_load(void *opaque, int version_id,
                                     GError **errp)
{
    IDEDevice *dev = opaque;
    IDEChannel *ch = dev->ch;

    if (!ide_hd_check_identity(dev, errp) ||
        !ide_hd_check_channel(ch, &dev->mig_channel, errp)) {
        return false;
    }
    memcpy(ch, &dev->mig_channel, IDE_CHANNEL_MIG_SIZE);
    ide_update_irq(ch);
    return true;
}

static const VMStateField ide_channel_vmstate_fields[] = {
    VMSTATE_UINT8(feature, IDEChannel),
    VMSTATE_UINT8(nsector, IDEChannel),
    VMSTATE_UINT8(sector, IDEChannel),
    VMSTATE_UINT8(lcyl, IDEChannel),
    VMSTATE_UINT8(hcyl, IDEChannel),
    VMSTATE_UINT8(hob_feature, IDEChannel),
    VMSTATE_UINT8(hob_nsector, IDEChannel),
    VMSTATE_UINT8(hob_sector, IDEChannel),
    VMSTATE_UINT8(hob_lcyl, IDEChannel),
    VMSTATE_UINT8(hob_hcyl, IDEChannel),
    VMSTATE_UINT8(select, IDEChannel),
    VMSTATE_UINT8(devctl, IDEChannel),
    VMSTATE_UINT8_ARRAY(status, IDEChannel, IDE_UNITS),
    VMSTATE_UINT8_ARRAY(error, IDEChannel, IDE_UNITS),
    VMSTATE_UINT8(irq_pending, IDEChannel),
    VMSTATE_UINT8(xfer, IDEChannel),
    VMSTATE_UINT8(xfer_cmd, IDEChannel),
    VMSTATE_UINT8(xfer_unit, IDEChannel),
    VMSTATE_UINT8(xfer_addr, IDEChannel),
    VMSTATE_UINT32(buf_pos, IDEChannel),
    VMSTATE_UINT32(buf_len, IDEChannel),
    VMSTATE_UINT32(sectors_left, IDEChannel),
    VMSTATE_UINT64(lba, IDEChannel),
    VMSTATE_BUFFER(buf, IDEChannel, IDE_SECTOR_SIZE),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription ide_channel_vmstate = {
    .name = "ide-channel",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = ide_channel_vmstate_fields,
};

static const VMStateField ide_hd_channel_vmstate_fields[] = {
    VMSTATE_STRUCT(mig_channel, IDEDevice, ide_channel_vmstate, IDEChannel),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription ide_hd_channel_vmstate = {
    .name = "ide-hd/channel",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = ide_hd_owns_channel,
    .pre_save = ide_hd_channel_pre_save,
    .post_load = ide_hd_channel_post_load,
    .fields = ide_hd_channel_vmstate_fields,
};

static const VMStateDescription *const ide_hd_vmstate_subsections[] = {
    &ide_hd_channel_vmstate,
    NULL,
};

static const VMStateField ide_hd_vmstate_fields[] = {
    VMSTATE_UINT32(mig_unit, IDEDevice),
    VMSTATE_UINT64(mig_nb_sectors, IDEDevice),
    VMSTATE_END_OF_LIST(),
};

static const VMStateDescription ide_hd_vmstate = {
    .name = TYPE_IDE_HD,
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = ide_hd_pre_save,
    .post_load = ide_hd_post_load,
    .fields = ide_hd_vmstate_fields,
    .subsections = ide_hd_vmstate_subsections,
};

static const Property ide_hd_props[] = {
    DEFINE_PROP_LINK("drive", IDEDevice, drive, TYPE_DRIVE, .required = true,
                     .desc = "ID of the -drive holding the disk image"),
    DEFINE_PROP("unit", PROP_UINT32, IDEDevice, unit, .defval = "0xffffffff",
                .desc = "0 (master) or 1 (slave), first free by default"),
    DEFINE_PROP("cyls", PROP_UINT32, IDEDevice, cyls,
                .desc = "cylinders (default: guessed from the size)"),
    DEFINE_PROP("heads", PROP_UINT32, IDEDevice, heads,
                .desc = "heads (default 16)"),
    DEFINE_PROP("secs", PROP_UINT32, IDEDevice, secs,
                .desc = "sectors per track (default 63)"),
    DEFINE_PROP("serial", PROP_STRING, IDEDevice, serial,
                .desc = "serial number in IDENTIFY (up to 20 characters)"),
    DEFINE_PROP("model", PROP_STRING, IDEDevice, model,
                .desc = "model name in IDENTIFY (up to 40 characters)"),
    {NULL},
};

/*
 * The section keeps the previous release's name, "ide-hd", with the
 * disk's unit on the channel as instance (0 master, 1 slave): what the
 * disks of -drive always had, whatever order disks are created in.
 */
static int ide_hd_legacy_instance_id(DeviceState *d)
{
    return (int)((IDEDevice *)d)->unit;
}

static void ide_hd_class_init(ObjectClass *oc, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    device_class_set_props(dc, ide_hd_props);
    dc->user_creatable = true;
    dc->bus_type = TYPE_IDE_BUS;
    dc->realize = ide_hd_realize;
    dc->reset = ide_hd_reset;
    dc->unrealize = ide_hd_unrealize;
    dc->vmsd = &ide_hd_vmstate;
    dc->legacy_instance_id = ide_hd_legacy_instance_id;
    /* All state is in the vmsd; the drive's image fd is preserved. */
    oc->cpr_modes = MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING;
    oc->desc = "ATA hard disk on the legacy IDE channel (PIO)";
}

static void ide_bus_class_init(ObjectClass *oc, const void *data)
{
    oc->desc = "IDE bus (the legacy primary channel)";
}

static const TypeInfo ide_types[] = {
    {
        .name = TYPE_IDE_BUS,
        .parent = TYPE_BUS,
        .class_init = ide_bus_class_init,
    },
    {
        .name = TYPE_IDE_HD,
        .parent = TYPE_DEVICE,
        .instance_size = sizeof(IDEDevice),
        .class_init = ide_hd_class_init,
    },
};

static void ide_register_types(void)
{
    type_register_static_array(ide_types, ARRAY_SIZE(ide_types));
}

type_init(ide_register_types)
