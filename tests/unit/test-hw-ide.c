/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ide-hd model through the legacy ATA ports, against a temporary raw
 * image: IDENTIFY, PIO reads and writes with LBA28, CHS and LBA48
 * addressing, out-of-range and unknown commands, nIEN, SRST and IRQ 14
 * (recorded at the end of the ISA bus's line).
 */
#include "util/osdep.h"

#include "hw/core/qdev.h"
#include "hw/i386/pc.h"
#include "hw/isa/isa.h"
#include "system/blockdev.h"
#include "system/cpus.h"
#include "system/memory.h"

#define ATA_DATA 0x1f0
#define ATA_ERROR 0x1f1
#define ATA_FEATURE 0x1f1
#define ATA_NSECTOR 0x1f2
#define ATA_SECTOR 0x1f3
#define ATA_LCYL 0x1f4
#define ATA_HCYL 0x1f5
#define ATA_SELECT 0x1f6
#define ATA_STATUS 0x1f7
#define ATA_CMD 0x1f7
#define ATA_CTRL 0x3f6

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_IDLE 0x50 /* DRDY | DSC */

#define DISK_SECTORS 8192 /* 4 MiB: guessed geometry 8/16/63 */

/* ---- the ISA bus's IRQ 14, recorded ---- */

static bool irq14_level;
static unsigned int irq14_raises;

static void test_set_irq(void *opaque, int n, int level)
{
    if (n == 14) {
        if (level && !irq14_level) {
            irq14_raises++;
        }
        irq14_level = level;
    }
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

/* ---- port helpers ---- */

static uint8_t inb(uint16_t port)
{
    return address_space_ld(&address_space_io, port, 1);
}

static void outb(uint16_t port, uint8_t val)
{
    address_space_st(&address_space_io, port, val, 1);
}

static uint8_t pattern(uint64_t sector, unsigned int i)
{
    return (sector * 13 + i * 7 + (sector >> 8)) & 0xff;
}

/* Read one 512-byte block from the data port, 16 or 32 bits at a time. */
static void pio_read(uint8_t *buf, unsigned int width)
{
    unsigned int i;

    for (i = 0; i < 512; i += width) {
        uint32_t v = address_space_ld(&address_space_io, ATA_DATA, width);

        memcpy(buf + i, &v, width);
    }
}

static void pio_write(const uint8_t *buf, unsigned int width)
{
    unsigned int i;

    for (i = 0; i < 512; i += width) {
        uint32_t v = 0;

        memcpy(&v, buf + i, width);
        address_space_st(&address_space_io, ATA_DATA, v, width);
    }
}

static void set_lba28(uint32_t lba, uint8_t count)
{
    outb(ATA_SELECT, 0xe0 | ((lba >> 24) & 0x0f));
    outb(ATA_NSECTOR, count);
    outb(ATA_SECTOR, lba);
    outb(ATA_LCYL, lba >> 8);
    outb(ATA_HCYL, lba >> 16);
}

static void set_lba48(uint64_t lba, uint16_t count)
{
    outb(ATA_SELECT, 0x40);
    outb(ATA_NSECTOR, count >> 8);
    outb(ATA_SECTOR, lba >> 24);
    outb(ATA_LCYL, lba >> 32);
    outb(ATA_HCYL, lba >> 40);
    outb(ATA_NSECTOR, count);
    outb(ATA_SECTOR, lba);
    outb(ATA_LCYL, lba >> 8);
    outb(ATA_HCYL, lba >> 16);
}

static void set_chs(uint16_t cyl, uint8_t head, uint8_t sector, uint8_t count)
{
    outb(ATA_SELECT, 0xa0 | head);
    outb(ATA_NSECTOR, count);
    outb(ATA_SECTOR, sector);
    outb(ATA_LCYL, cyl);
    outb(ATA_HCYL, cyl >> 8);
}

/* Read COUNT sectors of the command just issued and check the pattern. */
static void expect_sectors(uint64_t first, unsigned int count)
{
    uint8_t buf[512];
    unsigned int s, i;

    for (s = 0; s < count; s++) {
        g_assert_true(irq14_level);
        g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE | ST_DRQ);
        g_assert_false(irq14_level);
        pio_read(buf, s % 2 ? 4 : 2);
        for (i = 0; i < 512; i++) {
            g_assert_cmphex(buf[i], ==, pattern(first + s, i));
        }
    }
    /* No interrupt after the last data-in block. */
    g_assert_false(irq14_level);
    g_assert_cmphex(inb(0x3f6), ==, ST_IDLE);
}

static void expect_abort(uint8_t error)
{
    g_assert_true(irq14_level);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE | ST_ERR);
    g_assert_cmphex(inb(ATA_ERROR), ==, error);
    g_assert_false(irq14_level);
}

/* ---- fixture: a 4 MiB image on an ide-hd ---- */

typedef struct Fixture {
    char *path;
    Object *dev;
    int fd;
} Fixture;

static Object *create_disk(const char *extra, GError **errp)
{
    g_autofree char *spec =
        g_strdup_printf("drive=hd0%s%s", extra ? "," : "", extra ? extra : "");
    g_autoptr(OptList) opts = opts_parse(spec, NULL, errp);

    g_assert_nonnull(opts);
    return (Object *)qdev_device_add("ide-hd", opts, errp);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autofree uint8_t *img = g_malloc(DISK_SECTORS * 512);
    g_autofree char *spec = NULL;
    g_autoptr(OptList) opts = NULL;
    GError *err = NULL;
    unsigned int s, i;

    for (s = 0; s < DISK_SECTORS; s++) {
        for (i = 0; i < 512; i++) {
            img[s * 512 + i] = pattern(s, i);
        }
    }
    f->fd = g_file_open_tmp("test-hw-ide-XXXXXX.img", &f->path, &err);
    g_assert_no_error(err);
    g_assert_cmpint(write(f->fd, img, DISK_SECTORS * 512), ==,
                    DISK_SECTORS * 512);

    spec = g_strdup_printf("file=%s,format=raw,if=none,id=hd0", f->path);
    opts = opts_parse(spec, NULL, &err);
    g_assert_no_error(err);
    g_assert_nonnull(drive_new(opts, &err));
    g_assert_no_error(err);

    irq14_level = false;
    irq14_raises = 0;
    f->dev = create_disk(data, &err);
    g_assert_no_error(err);
    g_assert_nonnull(f->dev);
    DEVICE_GET_CLASS(f->dev)->reset(DEVICE(f->dev));
    outb(ATA_SELECT, 0xa0);
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    object_unparent(f->dev);
    drive_cleanup_all();
    close(f->fd);
    unlink(f->path);
    g_free(f->path);
    /* The channel went away with its last disk. */
    g_assert_cmphex(inb(ATA_STATUS), ==, 0xff);
}

/* ---- tests ---- */

static void identify_words(uint16_t *w)
{
    outb(ATA_SELECT, 0xa0);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
    outb(ATA_CMD, 0xec);
    g_assert_true(irq14_level);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE | ST_DRQ);
    pio_read((uint8_t *)w, 2);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
}

/* Undo ATA's byte order: first character in each word's high byte. */
static char *ata_string(const uint16_t *w, unsigned int nwords)
{
    char *s = g_malloc0(2 * nwords + 1);
    unsigned int i;

    for (i = 0; i < nwords; i++) {
        s[2 * i] = w[i] >> 8;
        s[2 * i + 1] = w[i] & 0xff;
    }
    return g_strchomp(s);
}

static void test_identify(Fixture *f, gconstpointer data)
{
    uint16_t w[256];
    g_autofree char *model = NULL;
    g_autofree char *serial = NULL;
    uint8_t sum = 0;
    unsigned int i;

    identify_words(w);
    g_assert_cmphex(w[0], ==, 0x0040);
    g_assert_cmpuint(w[1], ==, 8); /* 8192 / (16 * 63) */
    g_assert_cmpuint(w[3], ==, 16);
    g_assert_cmpuint(w[6], ==, 63);
    g_assert_cmphex(w[49] & (1 << 9), !=, 0); /* LBA */
    g_assert_cmpuint(w[60] | (uint32_t)w[61] << 16, ==, DISK_SECTORS);
    g_assert_cmphex(w[83] & (1 << 10), !=, 0); /* LBA48 */
    g_assert_cmpuint(w[100], ==, DISK_SECTORS);
    g_assert_cmpuint(w[101] | w[102] | w[103], ==, 0);
    model = ata_string(&w[27], 20);
    g_assert_cmpstr(model, ==, "QEMU HARDDISK");
    serial = ata_string(&w[10], 10);
    g_assert_true(g_str_has_prefix(serial, "QM"));
    /* The integrity word makes all 512 bytes sum to zero. */
    g_assert_cmphex(w[255] & 0xff, ==, 0xa5);
    for (i = 0; i < 256; i++) {
        sum += (w[i] & 0xff) + (w[i] >> 8);
    }
    g_assert_cmpuint(sum, ==, 0);
}

static void test_identify_props(Fixture *f, gconstpointer data)
{
    uint16_t w[256];
    g_autofree char *model = NULL;
    g_autofree char *serial = NULL;

    identify_words(w);
    g_assert_cmpuint(w[1], ==, 100);
    g_assert_cmpuint(w[3], ==, 4);
    g_assert_cmpuint(w[6], ==, 20);
    g_assert_cmpuint(w[54], ==, 100);
    g_assert_cmpuint(w[57] | (uint32_t)w[58] << 16, ==, 8000);
    model = ata_string(&w[27], 20);
    g_assert_cmpstr(model, ==, "baton disk");
    serial = ata_string(&w[10], 10);
    g_assert_cmpstr(serial, ==, "SN42");
}

static void test_read_lba28(Fixture *f, gconstpointer data)
{
    set_lba28(5, 3);
    outb(ATA_CMD, 0x20);
    expect_sectors(5, 3);
    g_assert_cmpuint(irq14_raises, ==, 3);
    /* The taskfile holds the last sector transferred. */
    g_assert_cmpuint(inb(ATA_SECTOR), ==, 7);

    /* Count 0 means 256 sectors. */
    set_lba28(DISK_SECTORS - 256, 0);
    outb(ATA_CMD, 0x21);
    expect_sectors(DISK_SECTORS - 256, 256);
}

static void test_read_chs(Fixture *f, gconstpointer data)
{
    /* C/H/S 1/2/3 with 16 heads, 63 sectors: LBA (1*16+2)*63+2 = 1136. */
    set_chs(1, 2, 3, 2);
    outb(ATA_CMD, 0x20);
    expect_sectors(1136, 2);
    /* Position reported back in CHS form: 1137 is 1/2/4. */
    g_assert_cmpuint(inb(ATA_SECTOR), ==, 4);
    g_assert_cmpuint(inb(ATA_SELECT) & 0x0f, ==, 2);
    g_assert_cmpuint(inb(ATA_LCYL), ==, 1);
}

static void test_write_lba28(Fixture *f, gconstpointer data)
{
    uint8_t buf[512], back[512];
    unsigned int s;

    set_lba28(100, 3);
    outb(ATA_CMD, 0x30);
    for (s = 0; s < 3; s++) {
        /* DRQ for every block; an interrupt before all but the first. */
        g_assert_cmpuint(irq14_level, ==, s > 0);
        g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE | ST_DRQ);
        memset(buf, 0xc0 + s, sizeof(buf));
        pio_write(buf, s == 1 ? 4 : 2);
    }
    /* Completion interrupt after the last block. */
    g_assert_true(irq14_level);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);

    for (s = 0; s < 3; s++) {
        g_assert_cmpint(pread(f->fd, back, 512, (100 + s) * 512), ==, 512);
        memset(buf, 0xc0 + s, sizeof(buf));
        g_assert_cmpmem(back, 512, buf, 512);
    }
    /* Neighbours are untouched. */
    g_assert_cmpint(pread(f->fd, back, 1, 103 * 512), ==, 1);
    g_assert_cmphex(back[0], ==, pattern(103, 0));

    /* And a READ returns the new data. */
    set_lba28(101, 1);
    outb(ATA_CMD, 0x20);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE | ST_DRQ);
    pio_read(back, 2);
    memset(buf, 0xc1, sizeof(buf));
    g_assert_cmpmem(back, 512, buf, 512);
}

static void test_write_chs(Fixture *f, gconstpointer data)
{
    uint8_t buf[512], back[512];

    /* 0/0/1 is LBA 0. */
    set_chs(0, 0, 1, 1);
    outb(ATA_CMD, 0x31);
    memset(buf, 0x5a, sizeof(buf));
    pio_write(buf, 2);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
    g_assert_cmpint(pread(f->fd, back, 512, 0), ==, 512);
    g_assert_cmpmem(back, 512, buf, 512);
}

static void test_lba48(Fixture *f, gconstpointer data)
{
    uint8_t buf[512], back[512];

    set_lba48(DISK_SECTORS - 2, 2);
    /* HOB reads back the high-order bytes written first. */
    outb(ATA_CTRL, 0x80);
    g_assert_cmpuint(inb(ATA_NSECTOR), ==, 0);
    g_assert_cmpuint(inb(ATA_SECTOR), ==, 0);
    outb(ATA_CTRL, 0x00);
    g_assert_cmpuint(inb(ATA_NSECTOR), ==, 2);
    outb(ATA_CMD, 0x24);
    expect_sectors(DISK_SECTORS - 2, 2);

    set_lba48(4000, 1);
    outb(ATA_CMD, 0x34);
    memset(buf, 0x48, sizeof(buf));
    pio_write(buf, 4);
    g_assert_true(irq14_level);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
    g_assert_cmpint(pread(f->fd, back, 512, 4000 * 512), ==, 512);
    g_assert_cmpmem(back, 512, buf, 512);
}

static void test_out_of_range(Fixture *f, gconstpointer data)
{
    uint8_t back[512];

    /* One sector past the end: nothing is transferred. */
    set_lba28(DISK_SECTORS - 1, 2);
    outb(ATA_CMD, 0x20);
    expect_abort(0x14);
    set_lba28(DISK_SECTORS, 1);
    outb(ATA_CMD, 0x30);
    expect_abort(0x14);
    g_assert_cmphex(inb(ATA_STATUS) & ST_DRQ, ==, 0);

    set_lba48(1ULL << 40, 1);
    outb(ATA_CMD, 0x24);
    expect_abort(0x14);

    /* CHS: sector 0 does not exist, nor cylinder 8 of 8. */
    set_chs(0, 0, 0, 1);
    outb(ATA_CMD, 0x20);
    expect_abort(0x14);
    set_chs(8, 0, 1, 1);
    outb(ATA_CMD, 0x20);
    expect_abort(0x14);
    set_chs(0, 0, 64, 1);
    outb(ATA_CMD, 0x20);
    expect_abort(0x14);

    /* The last sector itself is fine. */
    set_lba28(DISK_SECTORS - 1, 1);
    outb(ATA_CMD, 0x20);
    expect_sectors(DISK_SECTORS - 1, 1);
    g_assert_cmpint(pread(f->fd, back, 512, 0), ==, 512);
}

static void test_unknown_command(Fixture *f, gconstpointer data)
{
    /* IDENTIFY PACKET DEVICE: this is not an ATAPI device. */
    outb(ATA_CMD, 0xa1);
    expect_abort(0x04);
    /* SET FEATURES with an unknown subcommand, then a known one. */
    outb(ATA_FEATURE, 0x99);
    outb(ATA_CMD, 0xef);
    expect_abort(0x04);
    outb(ATA_FEATURE, 0x03);
    outb(ATA_CMD, 0xef);
    g_assert_true(irq14_level);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
    g_assert_cmphex(inb(ATA_ERROR), ==, 0);
    /* INITIALIZE DEVICE PARAMETERS and FLUSH CACHE are accepted. */
    outb(ATA_CMD, 0x91);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
    outb(ATA_CMD, 0xe7);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
}

static void test_nien(Fixture *f, gconstpointer data)
{
    outb(ATA_CTRL, 0x02);
    set_lba28(0, 1);
    outb(ATA_CMD, 0x20);
    g_assert_false(irq14_level);
    g_assert_cmpuint(irq14_raises, ==, 0);
    /* The pending interrupt shows once nIEN is cleared... */
    outb(ATA_CTRL, 0x00);
    g_assert_true(irq14_level);
    /* ...alternate status does not acknowledge it, status does. */
    g_assert_cmphex(inb(ATA_CTRL), ==, ST_IDLE | ST_DRQ);
    g_assert_true(irq14_level);
    expect_sectors(0, 1);
}

static void test_srst(Fixture *f, gconstpointer data)
{
    set_lba28(7, 1);
    outb(ATA_CMD, 0x20);
    g_assert_cmphex(inb(ATA_CTRL), ==, ST_IDLE | ST_DRQ);
    outb(ATA_CTRL, 0x04);
    g_assert_cmphex(inb(ATA_CTRL) & 0x80, ==, 0x80); /* BSY */
    outb(ATA_CTRL, 0x00);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
    g_assert_false(irq14_level);
    /* The ATA signature and a passed diagnostic. */
    g_assert_cmpuint(inb(ATA_NSECTOR), ==, 1);
    g_assert_cmpuint(inb(ATA_SECTOR), ==, 1);
    g_assert_cmpuint(inb(ATA_LCYL), ==, 0);
    g_assert_cmpuint(inb(ATA_HCYL), ==, 0);
    g_assert_cmphex(inb(ATA_ERROR), ==, 0x01);
}

static void test_absent_slave(Fixture *f, gconstpointer data)
{
    outb(ATA_SELECT, 0xb0);
    g_assert_cmphex(inb(ATA_STATUS), ==, 0x00);
    outb(ATA_CMD, 0xec);
    g_assert_false(irq14_level);
    g_assert_cmphex(inb(ATA_STATUS), ==, 0x00);
    outb(ATA_SELECT, 0xa0);
    g_assert_cmphex(inb(ATA_STATUS), ==, ST_IDLE);
}

static void test_bad_props(Fixture *f, gconstpointer data)
{
    static const struct {
        const char *props;
        const char *error;
    } cases[] = {
        {"bus=ide.1", "Bus 'ide.1' not found"},
        {"unit=2", "Can't create IDE unit 2"},
        {"unit=0", "IDE unit 0 is in use"},
        {"cyls=10", "must be specified together"},
        {"cyls=10,heads=17,secs=63", "heads must be between 1 and 16"},
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        GError *err = NULL;

        g_assert_null(create_disk(cases[i].props, &err));
        g_assert_nonnull(err);
        if (!strstr(err->message, cases[i].error)) {
            g_error("%s: got '%s'", cases[i].props, err->message);
        }
        g_clear_error(&err);
    }
    /* The drive is taken by the fixture's disk. */
    {
        GError *err = NULL;

        g_assert_null(create_disk("unit=1", &err));
        g_assert_nonnull(strstr(err->message, "hd0"));
        g_clear_error(&err);
    }
}

#define FIXTURE_TEST(path, props, fn)                              \
    g_test_add("/hw/ide/" path, Fixture, props, fixture_setup, fn, \
               fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* The pc machine's buses, which the devices here plug into. */
    wire_isa_irqs(qbus_new(TYPE_ISA_BUS, NULL, "isa.0"));
    qbus_new(TYPE_IDE_BUS, NULL, "ide.0");

    FIXTURE_TEST("identify", NULL, test_identify);
    FIXTURE_TEST("identify-props",
                 "cyls=100,heads=4,secs=20,serial=SN42,model=baton disk",
                 test_identify_props);
    FIXTURE_TEST("read-lba28", NULL, test_read_lba28);
    FIXTURE_TEST("read-chs", NULL, test_read_chs);
    FIXTURE_TEST("write-lba28", NULL, test_write_lba28);
    FIXTURE_TEST("write-chs", NULL, test_write_chs);
    FIXTURE_TEST("lba48", NULL, test_lba48);
    FIXTURE_TEST("out-of-range", NULL, test_out_of_range);
    FIXTURE_TEST("unknown-command", NULL, test_unknown_command);
    FIXTURE_TEST("nien", NULL, test_nien);
    FIXTURE_TEST("srst", NULL, test_srst);
    FIXTURE_TEST("absent-slave", NULL, test_absent_slave);
    FIXTURE_TEST("bad-props", NULL, test_bad_props);
    return g_test_run();
}
