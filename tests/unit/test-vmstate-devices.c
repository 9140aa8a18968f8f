/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Device and vCPU state descriptions through a memory stream: isa-serial
 * and ide-hd state saved from one device and loaded into a fresh one (the
 * guest carries on where it was), the UART's held output (subsection, and
 * the layout without it), corrupted streams rejected with the field named, and the KVM vCPU snapshot's description round trip (no
 * /dev/kvm: the functional migration tests cover the real vCPU).
 */
#include "util/osdep.h"

#include "../../accel/kvm/kvm-internal.h"
#include "chardev/char.h"
#include "hw/core/qdev.h"
#include "hw/i386/pc.h"
#include "hw/isa/isa.h"
#include "migration/stream.h"
#include "migration/vmstate.h"
#include "system/blockdev.h"
#include "system/cpus.h"
#include "system/memory.h"

/* ---- the ISA bus's lines, recorded ---- */

static bool irq_level[ISA_NUM_IRQS];

static void test_set_irq(void *opaque, int n, int level)
{
    irq_level[n] = level;
}

/* The ISA bus's 16 lines, all ending in test_set_irq(). */
static void wire_isa_irqs(BusState *isa)
{
    static qemu_irq lines[ISA_NUM_IRQS];

    for (unsigned int i = 0; i < ISA_NUM_IRQS; i++) {
        lines[i] = qemu_allocate_irq(test_set_irq, NULL, i);
    }
    isa_bus_set_irqs(isa, lines);
}

static uint8_t inb(uint16_t port)
{
    return address_space_ld(&address_space_io, port, 1);
}

static void outb(uint16_t port, uint8_t val)
{
    address_space_st(&address_space_io, port, val, 1);
}

/* ---- stream helpers ---- */

/* Save OPAQUE per VMSD; returns the bytes (g_free) and their length. */
static uint8_t *save_state(const VMStateDescription *vmsd, void *opaque,
                           size_t *len)
{
    g_autoptr(MigStream) f = mig_stream_new_mem_writer();
    GError *err = NULL;
    const uint8_t *data;

    g_assert_true(vmstate_save(f, vmsd, opaque, &err));
    g_assert_no_error(err);
    data = mig_stream_mem_data(f, len);
    return g_memdup2(data, *len);
}

/* Load LEN bytes into OPAQUE; the whole buffer must be consumed. */
static bool load_state(const VMStateDescription *vmsd, void *opaque,
                       const uint8_t *buf, size_t len, GError **errp)
{
    g_autoptr(MigStream) f = mig_stream_new_mem_reader(buf, len, NULL, 0);

    if (!vmstate_load(f, vmsd, opaque, vmsd->version_id, errp)) {
        return false;
    }
    g_assert_cmpuint(mig_stream_remaining(f), ==, 0);
    return true;
}

/* Loading BUF must fail with a message containing each of WANT. */
static void expect_load_error(const VMStateDescription *vmsd, void *opaque,
                              const uint8_t *buf, size_t len, const char *want1,
                              const char *want2)
{
    GError *err = NULL;

    g_assert_false(load_state(vmsd, opaque, buf, len, &err));
    g_assert_nonnull(err);
    if (g_test_verbose()) {
        g_test_message("rejected: %s", err->message);
    }
    g_assert_nonnull(strstr(err->message, want1));
    if (want2) {
        g_assert_nonnull(strstr(err->message, want2));
    }
    g_error_free(err);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* ---- isa-serial ---- */

#define COM1 0x3f8
#define RBR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define SCR (COM1 + 7)
#define SERIAL_IRQ 4

/* Wire offsets in the isa-serial description (fields in table order). */
#define SER_OFF_RX_HEAD 13
#define SER_OFF_RX_COUNT 14
#define SER_OFF_RX_FIFO 15
#define SER_WIRE_LEN (SER_OFF_RX_FIFO + 16 + 1) /* + no subsections */

static Object *serial_new(void)
{
    g_autoptr(OptList) opts = opts_new();
    GError *err = NULL;
    Object *dev;

    opts_set(opts, "index", "0");
    dev = (Object *)qdev_device_add("isa-serial", opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(dev);
    return dev;
}

/*
 * A UART in FIFO mode with a trigger level of 14, loopback on, a
 * non-default divisor, scratch and interrupt enables, and "abcdefg" sent
 * through loopback with "ab" already read: the ring's head is not 0 and
 * five bytes wait below the trigger level (character timeout pending).
 */
static Object *serial_busy(void)
{
    Object *dev = serial_new();
    const char *msg = "abcdefg";

    outb(LCR, 0x80);
    outb(COM1 + 0, 0x03); /* 38400 baud */
    outb(COM1 + 1, 0x00);
    outb(LCR, 0x1b); /* 8 data bits, even parity */
    outb(SCR, 0x5a);
    outb(FCR, 0xc7);
    outb(MCR, 0x1b); /* loopback | OUT2 | RTS | DTR */
    outb(IER, 0x05); /* received data | line status */
    for (size_t i = 0; i < strlen(msg); i++) {
        outb(COM1 + 0, msg[i]);
    }
    g_assert_cmphex(inb(RBR), ==, 'a');
    g_assert_cmphex(inb(RBR), ==, 'b');
    return dev;
}

static void test_serial_round_trip(void)
{
    const VMStateDescription *vmsd = DEVICE_CLASS(object_class_by_name("isa-serial"))->vmsd;
    Object *dev = serial_busy();
    g_autofree uint8_t *buf = NULL;
    g_autofree uint8_t *again = NULL;
    size_t len, len2;
    GError *err = NULL;

    g_assert_nonnull(vmsd);
    g_assert_true(irq_level[SERIAL_IRQ]);
    buf = save_state(vmsd, dev, &len);
    g_assert_cmpuint(len, ==, SER_WIRE_LEN);
    g_assert_cmpuint(buf[SER_OFF_RX_HEAD], ==, 2);
    g_assert_cmpuint(buf[SER_OFF_RX_COUNT], ==, 5);
    object_unparent(dev);
    g_assert_false(irq_level[SERIAL_IRQ]);

    /* A fresh UART at reset takes over, IRQ line included. */
    dev = serial_new();
    g_assert_cmphex(inb(SCR), ==, 0x00);
    g_assert_true(load_state(vmsd, dev, buf, len, &err));
    g_assert_no_error(err);
    g_assert_true(irq_level[SERIAL_IRQ]);
    again = save_state(vmsd, dev, &len2);
    g_assert_cmpmem(again, len2, buf, len);

    g_assert_cmphex(inb(LCR), ==, 0x1b);
    g_assert_cmphex(inb(MCR), ==, 0x1b);
    g_assert_cmphex(inb(IER), ==, 0x05);
    g_assert_cmphex(inb(SCR), ==, 0x5a);
    g_assert_cmphex(inb(IIR), ==, 0xcc); /* FIFOs on, character timeout */
    g_assert_cmphex(inb(LSR), ==, 0x61); /* THRE | TEMT | DR */
    outb(LCR, 0x9b);
    g_assert_cmphex(inb(COM1 + 0), ==, 0x03);
    g_assert_cmphex(inb(COM1 + 1), ==, 0x00);
    outb(LCR, 0x1b);
    for (const char *p = "cdefg"; *p; p++) {
        g_assert_cmphex(inb(RBR), ==, *p);
    }
    g_assert_cmphex(inb(LSR), ==, 0x60);
    g_assert_cmphex(inb(IIR), ==, 0xc1);
    g_assert_false(irq_level[SERIAL_IRQ]);
    object_unparent(dev);
}

static void test_serial_bad_fifo(void)
{
    const VMStateDescription *vmsd = DEVICE_CLASS(object_class_by_name("isa-serial"))->vmsd;
    Object *dev = serial_busy();
    g_autofree uint8_t *good = NULL;
    g_autofree uint8_t *bad = NULL;
    size_t len;

    good = save_state(vmsd, dev, &len);
    object_unparent(dev);
    dev = serial_new();

    bad = g_memdup2(good, len);
    bad[SER_OFF_RX_COUNT] = 17;
    expect_load_error(vmsd, dev, bad, len, "isa-serial: field 'rx_count'",
                      "17 exceeds maximum 16");

    memcpy(bad, good, len);
    bad[SER_OFF_RX_HEAD] = 16;
    expect_load_error(vmsd, dev, bad, len, "field 'rx_head'", "16");

    /* Without FIFOs the receiver holds one byte. */
    memcpy(bad, good, len);
    bad[2] = 0x00; /* fcr */
    expect_load_error(vmsd, dev, bad, len, "field 'rx_count'",
                      "FIFOs disabled");

    memcpy(bad, good, len);
    bad[12] = 3; /* rx_fifo_itl */
    expect_load_error(vmsd, dev, bad, len, "field 'rx_fifo_itl'", NULL);

    /* Truncated inside the FIFO contents. */
    expect_load_error(vmsd, dev, good, SER_OFF_RX_FIFO + 4, "field 'rx_fifo'",
                      NULL);

    /* A failed load leaves the device partly written: callers discard it. */
    object_unparent(dev);
}

/*
 * isa-serial/held-output: output the chardev keeps for its next peer
 * after a migration travels with the UART when the guest moves on before
 * anyone connected, and a UART without it saves the version-1 layout.
 */
#define HELD_NAME "isa-serial/held-output"

static Chardev *held_chardev(const char *dir, const char *id)
{
    g_autofree char *spec = g_strdup_printf(
        "socket,id=%s,path=%s/%s.sock,server=on,wait=off", id, dir, id);
    g_autoptr(OptList) opts = NULL;
    GError *err = NULL;
    Chardev *chr;

    opts = opts_parse(spec, "backend", &err);
    g_assert_no_error(err);
    chr = chardev_new_from_opts(opts, &err);
    g_assert_no_error(err);
    return chr;
}

static Object *serial_on(const char *chr_id)
{
    g_autoptr(OptList) opts = opts_new();
    GError *err = NULL;
    Object *dev;

    opts_set(opts, "index", "0");
    opts_set(opts, "chardev", chr_id);
    dev = (Object *)qdev_device_add("isa-serial", opts, &err);
    g_assert_no_error(err);
    return dev;
}

static void test_serial_held_output(void)
{
    const VMStateDescription *vmsd = DEVICE_CLASS(object_class_by_name("isa-serial"))->vmsd;
    g_autofree char *dir = g_dir_make_tmp("test-vmstate-XXXXXX", NULL);
    Chardev *chr = held_chardev(dir, "held0");
    Chardev *chr2 = held_chardev(dir, "held1");
    Object *dev = serial_on("held0");
    g_autofree uint8_t *old = NULL;
    g_autofree uint8_t *buf = NULL;
    uint8_t *sub, held[8];
    size_t old_len, len, name_len = strlen(HELD_NAME);
    GError *err = NULL;

    /* Nothing held: the layout every baton wrote before the subsection. */
    old = save_state(vmsd, dev, &old_len);
    g_assert_cmpuint(old_len, ==, SER_WIRE_LEN);

    chardev_hold_output(chr, (const uint8_t *)"hello", 5);
    buf = save_state(vmsd, dev, &len);
    /* marker, name, version, count, bytes, its own end, the list's end */
    g_assert_cmpuint(len, ==, SER_WIRE_LEN + 1 + 1 + name_len + 4 + 4 + 5 +
                              1);
    g_assert_cmpmem(buf, SER_WIRE_LEN - 1, old, SER_WIRE_LEN - 1);
    sub = buf + SER_WIRE_LEN - 1;
    g_assert_cmpuint(sub[0], ==, 1);
    g_assert_cmpuint(sub[1], ==, name_len);
    g_assert_cmpmem(sub + 2, name_len, HELD_NAME, name_len);
    g_assert_cmpuint(get_be32(sub + 2 + name_len), ==, 1);
    g_assert_cmpuint(get_be32(sub + 6 + name_len), ==, 5);
    g_assert_cmpmem(sub + 10 + name_len, 5, "hello", 5);
    g_assert_cmpuint(buf[len - 2], ==, 0);
    g_assert_cmpuint(buf[len - 1], ==, 0);
    object_unparent(dev);

    /* The destination's chardev holds it, ready for its next peer. */
    dev = serial_on("held1");
    g_assert_true(load_state(vmsd, dev, buf, len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(chardev_hold_save(chr2, held, sizeof(held)), ==, 5);
    g_assert_cmpmem(held, 5, "hello", 5);

    /* The old layout loads: a hold with nothing carried over. */
    g_assert_true(load_state(vmsd, dev, old, old_len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(chardev_hold_save(chr2, held, sizeof(held)), ==, 0);

    /* A count above the maximum is rejected before anything is stored. */
    put_be32(buf + SER_WIRE_LEN - 1 + 6 + name_len, CHARDEV_HOLD_MAX + 1);
    expect_load_error(vmsd, dev, buf, len, "field 'held'",
                      "65537 exceeds maximum 65536");
    object_unparent(dev);
    object_unparent((Object *)chr);
    object_unparent((Object *)chr2);
    for (int i = 0; i < 2; i++) {
        g_autofree char *sock = g_strdup_printf("%s/held%d.sock", dir, i);

        unlink(sock);
    }
    rmdir(dir);
}

/* ---- ide-hd ---- */

#define ATA_DATA 0x1f0
#define ATA_NSECTOR 0x1f2
#define ATA_SECTOR 0x1f3
#define ATA_LCYL 0x1f4
#define ATA_HCYL 0x1f5
#define ATA_SELECT 0x1f6
#define ATA_STATUS 0x1f7
#define ATA_CMD 0x1f7
#define ATA_ALTSTATUS 0x3f6
#define ST_IDLE 0x50
#define ST_DRQ 0x08
#define IDE_IRQ 14
#define DISK_SECTORS 64

/*
 * Wire offsets in the ide-hd description: mig_unit, mig_nb_sectors, then
 * the "ide-hd/channel" subsection (marker, name, version) whose nested
 * channel has 12 taskfile bytes, status[2], error[2] and 5 more bytes
 * before buf_pos, buf_len, sectors_left and lba.
 */
#define IDE_SUB_NAME "ide-hd/channel"
#define IDE_OFF_CHANNEL (4 + 8 + 1 + 1 + strlen(IDE_SUB_NAME) + 4)
#define IDE_OFF_BUF_POS (IDE_OFF_CHANNEL + 12 + 4 + 5)
#define IDE_OFF_BUF_LEN (IDE_OFF_BUF_POS + 4)
#define IDE_OFF_SECTORS_LEFT (IDE_OFF_BUF_LEN + 4)
#define IDE_OFF_LBA (IDE_OFF_SECTORS_LEFT + 4)

typedef struct IdeFixture {
    char *path;
    int fd;
} IdeFixture;

static uint8_t pattern(uint64_t sector, unsigned int i)
{
    return (sector * 29 + i * 3 + 1) & 0xff;
}

static void ide_setup(IdeFixture *f, gconstpointer data)
{
    g_autofree uint8_t *img = g_malloc(DISK_SECTORS * 512);
    GError *err = NULL;

    for (unsigned int s = 0; s < DISK_SECTORS; s++) {
        for (unsigned int i = 0; i < 512; i++) {
            img[s * 512 + i] = pattern(s, i);
        }
    }
    f->fd = g_file_open_tmp("test-vmstate-ide-XXXXXX.img", &f->path, &err);
    g_assert_no_error(err);
    g_assert_cmpint(write(f->fd, img, DISK_SECTORS * 512), ==,
                    DISK_SECTORS * 512);
}

static void ide_teardown(IdeFixture *f, gconstpointer data)
{
    drive_cleanup_all();
    close(f->fd);
    unlink(f->path);
    g_free(f->path);
}

/* An ide-hd on a new -drive (drives cannot be detached, so one each). */
static Object *ide_new(IdeFixture *f, const char *drive_id)
{
    g_autofree char *spec =
        g_strdup_printf("file=%s,format=raw,if=none,id=%s", f->path, drive_id);
    g_autofree char *dspec = g_strdup_printf("drive=%s", drive_id);
    g_autoptr(OptList) opts = opts_parse(spec, NULL, NULL);
    g_autoptr(OptList) dopts = opts_parse(dspec, NULL, NULL);
    GError *err = NULL;
    Object *dev;

    g_assert_nonnull(drive_new(opts, &err));
    g_assert_no_error(err);
    dev = (Object *)qdev_device_add("ide-hd", dopts, &err);
    g_assert_no_error(err);
    DEVICE_GET_CLASS(dev)->reset(DEVICE(dev));
    return dev;
}

static uint16_t inw(uint16_t port)
{
    return address_space_ld(&address_space_io, port, 2);
}

static void expect_data(uint64_t sector, unsigned int from, unsigned int to)
{
    for (unsigned int i = from; i < to; i += 2) {
        uint16_t w = inw(ATA_DATA);

        g_assert_cmphex(w & 0xff, ==, pattern(sector, i));
        g_assert_cmphex(w >> 8, ==, pattern(sector, i + 1));
    }
}

/*
 * READ SECTORS 5-6, interrupt not yet acknowledged (alternate status
 * only), 200 bytes of sector 5 read: saved mid-transfer.
 */
static uint8_t *ide_save_mid_transfer(IdeFixture *f, size_t *len)
{
    const VMStateDescription *vmsd = DEVICE_CLASS(object_class_by_name("ide-hd"))->vmsd;
    Object *dev = ide_new(f, "hd0");
    uint8_t *buf;

    outb(ATA_SELECT, 0xe0);
    outb(ATA_NSECTOR, 2);
    outb(ATA_SECTOR, 5);
    outb(ATA_LCYL, 0);
    outb(ATA_HCYL, 0);
    outb(ATA_CMD, 0x20);
    g_assert_true(irq_level[IDE_IRQ]);
    g_assert_cmphex(inb(ATA_ALTSTATUS), ==, ST_IDLE | ST_DRQ);
    expect_data(5, 0, 200);
    buf = save_state(vmsd, dev, len);
    object_unparent(dev);
    g_assert_false(irq_level[IDE_IRQ]);
    return buf;
}

static void test_ide_round_trip(IdeFixture *f, gconstpointer data)
{
    const VMStateDescription *vmsd = DEVICE_CLASS(object_class_by_name("ide-hd"))->vmsd;
    g_autofree uint8_t *buf = NULL;
    g_autofree uint8_t *again = NULL;
    size_t len, len2;
    GError *err = NULL;
    Object *dev;

    buf = ide_save_mid_transfer(f, &len);
    g_assert_cmpuint(get_be32(buf + IDE_OFF_BUF_POS), ==, 200);
    g_assert_cmpuint(get_be32(buf + IDE_OFF_BUF_LEN), ==, 512);

    dev = ide_new(f, "hd1");
    g_assert_cmphex(inb(ATA_ALTSTATUS), ==, ST_IDLE);
    g_assert_true(load_state(vmsd, dev, buf, len, &err));
    g_assert_no_error(err);
    g_assert_true(irq_level[IDE_IRQ]); /* recomputed from irq_pending */
    again = save_state(vmsd, dev, &len2);
    g_assert_cmpmem(again, len2, buf, len);

    /* The guest carries on: rest of sector 5, then sector 6. */
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE | ST_DRQ);
    g_assert_false(irq_level[IDE_IRQ]);
    expect_data(5, 200, 512);
    g_assert_true(irq_level[IDE_IRQ]);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE | ST_DRQ);
    expect_data(6, 0, 512);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
    g_assert_cmphex(inb(ATA_SECTOR), ==, 6);
    object_unparent(dev);
}

static void test_ide_bad_transfer(IdeFixture *f, gconstpointer data)
{
    const VMStateDescription *vmsd = DEVICE_CLASS(object_class_by_name("ide-hd"))->vmsd;
    g_autofree uint8_t *good = NULL;
    g_autofree uint8_t *bad = NULL;
    size_t len;
    Object *dev;

    good = ide_save_mid_transfer(f, &len);
    bad = g_memdup2(good, len);
    dev = ide_new(f, "hd1");

    put_be32(bad + IDE_OFF_BUF_POS, 513);
    expect_load_error(vmsd, dev, bad, len, "field 'buf_pos'",
                      "513 is beyond buf_len 512");

    memcpy(bad, good, len);
    put_be32(bad + IDE_OFF_BUF_LEN, 4096);
    put_be32(bad + IDE_OFF_BUF_POS, 4000);
    expect_load_error(vmsd, dev, bad, len, "field 'buf_len'", "4096");

    /* A transfer reaching past the end of the disk. */
    memcpy(bad, good, len);
    put_be32(bad + IDE_OFF_LBA + 4, DISK_SECTORS - 1);
    expect_load_error(vmsd, dev, bad, len, "field 'lba'", "hd1");

    memcpy(bad, good, len);
    put_be32(bad + IDE_OFF_SECTORS_LEFT, 0);
    expect_load_error(vmsd, dev, bad, len, "field 'sectors_left'", NULL);

    /* The source disk had another size. */
    memcpy(bad, good, len);
    put_be32(bad + 8, DISK_SECTORS * 2);
    expect_load_error(vmsd, dev, bad, len, "field 'mig_nb_sectors'", "hd1");

    /* Nothing was applied: the channel is idle at reset. */
    g_assert_cmphex(inb(ATA_ALTSTATUS), ==, ST_IDLE);
    g_assert_false(irq_level[IDE_IRQ]);
    object_unparent(dev);
}

/* With two disks the channel travels once, with the lowest unit. */
static void test_ide_two_units(IdeFixture *f, gconstpointer data)
{
    const VMStateDescription *vmsd = DEVICE_CLASS(object_class_by_name("ide-hd"))->vmsd;
    Object *master = ide_new(f, "hd0"); /* first free unit: 0 */
    Object *slave = ide_new(f, "hd1");  /* unit 1 */
    g_autofree uint8_t *s_buf = NULL;
    g_autofree uint8_t *m_buf = NULL;
    size_t s_len, m_len;
    GError *err = NULL;

    s_buf = save_state(vmsd, slave, &s_len);
    m_buf = save_state(vmsd, master, &m_len);
    g_assert_cmpuint(s_len, ==, 4 + 8 + 1); /* no subsection */
    g_assert_cmpuint(get_be32(s_buf), ==, 1);
    g_assert_cmpuint(m_len, >, IDE_OFF_LBA + 8 + 512);
    g_assert_cmpuint(get_be32(m_buf), ==, 0);
    g_assert_cmpmem(m_buf + 14, strlen(IDE_SUB_NAME), IDE_SUB_NAME,
                    strlen(IDE_SUB_NAME));

    /* Each section only fits its own unit. */
    expect_load_error(vmsd, master, s_buf, s_len, "field 'mig_unit'", NULL);
    g_assert_true(load_state(vmsd, slave, s_buf, s_len, &err));
    g_assert_no_error(err);
    object_unparent(slave);
    object_unparent(master);
}

/* ---- KVM vCPU snapshot (description only, no /dev/kvm) ---- */

static KVMCPUMigState *cpu_state_sample(void)
{
    KVMCPUMigState *st = g_new0(KVMCPUMigState, 1);
    static const uint32_t msrs[] = {0x10, 0x174, 0xc0000082, 0x6e0};

    for (size_t i = 0; i < sizeof(st->regs); i++) {
        st->regs[i] = i * 7;
    }
    memset(st->sregs, 0x11, offsetof(struct kvm_sregs2, flags));
    st->xsave_len = 4096;
    for (uint32_t i = 0; i < st->xsave_len; i++) {
        st->xsave[i] = i ^ 0x5a;
    }
    st->has_xcrs = true;
    st->xcr0 = 0x7;
    st->nmsrs = G_N_ELEMENTS(msrs);
    for (uint32_t i = 0; i < st->nmsrs; i++) {
        st->msrs[i].index = msrs[i];
        st->msrs[i].data = 0x0123456789abcdefULL + i;
    }
    memset(st->lapic, 0x22, sizeof(st->lapic));
    st->has_events = true;
    st->events[0] = 1;
    st->mp_state = KVM_MP_STATE_HALTED;
    st->has_debugregs = true;
    st->debugregs[32] = 0xf0; /* dr6 */
    st->tsc_khz = 2000000;
    return st;
}

/* Offset of the MSR count: everything before it has a fixed size. */
static size_t cpu_wire_nmsrs_offset(const KVMCPUMigState *st)
{
    return sizeof(st->regs) + sizeof(st->sregs) + 4 + st->xsave_len + 4 +
           st->fpu_len + 1 + 8;
}

static void test_cpu_state_round_trip(void)
{
    const VMStateDescription *vmsd = &kvm_vmstate_cpu_state;
    g_autofree KVMCPUMigState *st = cpu_state_sample();
    g_autofree KVMCPUMigState *copy = g_new0(KVMCPUMigState, 1);
    g_autofree uint8_t *buf = NULL;
    GError *err = NULL;
    size_t len;

    g_assert_true(kvm_cpu_mig_state_check(st, &err));
    g_assert_no_error(err);
    buf = save_state(vmsd, st, &len);
    g_assert_cmpuint(get_be32(buf + cpu_wire_nmsrs_offset(st)), ==, 4);
    g_assert_true(load_state(vmsd, copy, buf, len, &err));
    g_assert_no_error(err);
    g_assert_cmpmem(copy, sizeof(*copy), st, sizeof(*st));
    g_assert_true(kvm_cpu_mig_state_check(copy, &err));
    g_assert_no_error(err);
}

static void test_cpu_state_bad(void)
{
    const VMStateDescription *vmsd = &kvm_vmstate_cpu_state;
    g_autofree KVMCPUMigState *st = cpu_state_sample();
    g_autofree KVMCPUMigState *copy = g_new0(KVMCPUMigState, 1);
    g_autofree uint8_t *buf = NULL;
    size_t len, off;
    GError *err = NULL;

    buf = save_state(vmsd, st, &len);
    off = cpu_wire_nmsrs_offset(st);
    put_be32(buf + off, KVM_MIG_MAX_MSRS + 1);
    expect_load_error(vmsd, copy, buf, len, "field 'msrs'",
                      "count 65 exceeds maximum 64");
    put_be32(buf + sizeof(st->regs) + sizeof(st->sregs), 20000);
    expect_load_error(vmsd, copy, buf, len, "field 'xsave'",
                      "exceeds maximum 16384");

    /* Host-independent checks after a load. */
    st->msrs[1].index = 0x1234;
    g_assert_false(kvm_cpu_mig_state_check(st, &err));
    g_assert_nonnull(strstr(err->message, "field 'msrs'"));
    g_clear_error(&err);
    st->msrs[1].index = 0x10;
    g_assert_false(kvm_cpu_mig_state_check(st, &err));
    g_assert_nonnull(strstr(err->message, "appears twice"));
    g_clear_error(&err);
    st->msrs[1].index = 0x174;

    st->xsave_len = 100;
    g_assert_false(kvm_cpu_mig_state_check(st, &err));
    g_assert_nonnull(strstr(err->message, "field 'xsave'"));
    g_clear_error(&err);
    st->xsave_len = 4096;
    st->fpu_len = sizeof(struct kvm_fpu);
    g_assert_false(kvm_cpu_mig_state_check(st, &err));
    g_assert_nonnull(strstr(err->message, "field 'fpu'"));
    g_clear_error(&err);
    st->fpu_len = 0;

    st->sregs[offsetof(struct kvm_sregs2, flags)] = 0x2;
    g_assert_false(kvm_cpu_mig_state_check(st, &err));
    g_assert_nonnull(strstr(err->message, "field 'sregs'"));
    g_clear_error(&err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* The pc machine's buses, which the devices here plug into. */
    wire_isa_irqs(qbus_new(TYPE_ISA_BUS, NULL, "isa.0"));
    qbus_new(TYPE_IDE_BUS, NULL, "ide.0");

    g_test_add_func("/vmstate/devices/serial/round-trip",
                    test_serial_round_trip);
    g_test_add_func("/vmstate/devices/serial/bad-fifo", test_serial_bad_fifo);
    g_test_add_func("/vmstate/devices/serial/held-output",
                    test_serial_held_output);
    g_test_add("/vmstate/devices/ide/round-trip", IdeFixture, NULL, ide_setup,
               test_ide_round_trip, ide_teardown);
    g_test_add("/vmstate/devices/ide/bad-transfer", IdeFixture, NULL, ide_setup,
               test_ide_bad_transfer, ide_teardown);
    g_test_add("/vmstate/devices/ide/two-units", IdeFixture, NULL, ide_setup,
               test_ide_two_units, ide_teardown);
    g_test_add_func("/vmstate/devices/kvm-cpu/round-trip",
                    test_cpu_state_round_trip);
    g_test_add_func("/vmstate/devices/kvm-cpu/bad", test_cpu_state_bad);
    return g_test_run();
}
