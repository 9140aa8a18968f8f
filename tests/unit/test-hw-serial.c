/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The isa-serial 16550A model through the I/O address space, as a guest
 * sees it: reset values, DLAB, transmit to and receive from a real socket
 * chardev, the receive FIFO, loopback, interrupt identification and the
 * IRQ line (recorded at the end of the ISA bus's line).
 */
#include "util/osdep.h"

#include <sys/socket.h>
#include <sys/un.h>

#include "chardev/char.h"
#include "hw/core/qdev.h"
#include "hw/i386/pc.h"
#include "hw/isa/isa.h"
#include "system/cpus.h"
#include "system/memory.h"

#define COM1 0x3f8
#define RBR (COM1 + 0)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

/* ---- the ISA bus's IRQ 4, recorded ---- */

static bool irq4_level;
static unsigned int irq4_raises;

static void test_set_irq(void *opaque, int n, int level)
{
    if (n == 4) {
        if (level && !irq4_level) {
            irq4_raises++;
        }
        irq4_level = level;
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

/* ---- fixture: a UART on COM1 with a socket chardev and its peer ---- */

typedef struct Fixture {
    char *dir;
    char *chr_id;
    Object *dev;
    int peer;
} Fixture;

static uint8_t inb(uint16_t port)
{
    return address_space_ld(&address_space_io, port, 1);
}

static void outb(uint16_t port, uint8_t val)
{
    address_space_st(&address_space_io, port, val, 1);
}

/* Run the main loop until COND holds (deadline 10 s: a hung test). */
static bool pump_until(bool (*cond)(void))
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!cond()) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        while (g_main_context_iteration(NULL, false)) {
            /* drain */
        }
        if (!cond()) {
            g_usleep(1000);
        }
    }
    return true;
}

static bool data_ready(void)
{
    return inb(LSR) & 0x01;
}

static void peer_send(Fixture *f, const void *buf, size_t len)
{
    g_assert_cmpint(send(f->peer, buf, len, 0), ==, len);
}

/* Read exactly LEN bytes the UART sent (1 s timeout). */
static void peer_expect(Fixture *f, const char *want)
{
    size_t len = strlen(want), got = 0;
    char buf[64];

    g_assert_cmpuint(len, <=, sizeof(buf));
    while (got < len) {
        ssize_t n = recv(f->peer, buf + got, len - got, 0);

        g_assert_cmpint(n, >, 0);
        got += n;
    }
    g_assert_cmpmem(buf, len, want, len);
}

static bool peer_has_data(Fixture *f)
{
    char c;

    return recv(f->peer, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0;
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    static unsigned int n;
    g_autofree char *path = NULL;
    g_autofree char *spec = NULL;
    g_autoptr(OptList) chr_opts = NULL;
    g_autoptr(OptList) dev_opts = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 1};
    GError *err = NULL;
    Chardev *chr;
    uint8_t sync = 0x5a;

    f->dir = g_dir_make_tmp("test-hw-serial-XXXXXX", &err);
    g_assert_no_error(err);
    path = g_build_filename(f->dir, "ser.sock", NULL);
    f->chr_id = g_strdup_printf("ser%u", n++);
    spec = g_strdup_printf("socket,id=%s,path=%s,server=on,wait=off", f->chr_id,
                           path);
    chr_opts = opts_parse(spec, "backend", &err);
    g_assert_no_error(err);
    chr = chardev_new_from_opts(chr_opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(chr);

    dev_opts = opts_new();
    opts_set(dev_opts, "chardev", f->chr_id);
    opts_set(dev_opts, "index", "0");
    irq4_level = false;
    irq4_raises = 0;
    f->dev = (Object *)qdev_device_add("isa-serial", dev_opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(f->dev);

    f->peer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(f->peer, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(f->peer, (struct sockaddr *)&sa, sizeof(sa)), ==,
                    0);
    setsockopt(f->peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    /* A first byte proves the chardev accepted the peer. */
    peer_send(f, &sync, 1);
    g_assert_true(pump_until(data_ready));
    g_assert_cmpuint(inb(RBR), ==, sync);
    g_assert_false(data_ready());
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    g_autofree char *path = g_build_filename(f->dir, "ser.sock", NULL);

    object_unparent(f->dev);
    object_unparent((Object *)chardev_find(f->chr_id));
    close(f->peer);
    unlink(path);
    rmdir(f->dir);
    g_free(f->dir);
    g_free(f->chr_id);
}

/* ---- tests ---- */

static void test_reset_values(Fixture *f, gconstpointer data)
{
    g_assert_cmphex(inb(IER), ==, 0x00);
    g_assert_cmphex(inb(IIR), ==, 0x01);
    g_assert_cmphex(inb(LCR), ==, 0x00);
    g_assert_cmphex(inb(MCR), ==, 0x08); /* OUT2 */
    g_assert_cmphex(inb(LSR), ==, 0x60); /* THRE | TEMT */
    g_assert_cmphex(inb(MSR), ==, 0xb0); /* DCD | DSR | CTS */
    g_assert_false(irq4_level);
}

static void test_dlab(Fixture *f, gconstpointer data)
{
    /* Reset divisor: 0x000c (9600 baud). */
    outb(LCR, 0x83);
    g_assert_cmphex(inb(COM1 + 0), ==, 0x0c);
    g_assert_cmphex(inb(COM1 + 1), ==, 0x00);
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x02);
    g_assert_cmphex(inb(COM1 + 0), ==, 0x01);
    g_assert_cmphex(inb(COM1 + 1), ==, 0x02);
    /* Nothing was transmitted and IER was not touched. */
    outb(LCR, 0x03);
    g_assert_cmphex(inb(LCR), ==, 0x03);
    g_assert_cmphex(inb(IER), ==, 0x00);
    g_assert_false(peer_has_data(f));
    outb(LCR, 0x83);
    g_assert_cmphex(inb(COM1 + 1), ==, 0x02);
    outb(LCR, 0x03);
}

static void test_transmit(Fixture *f, gconstpointer data)
{
    const char *msg = "Baton hello\n";
    size_t i;

    for (i = 0; msg[i]; i++) {
        g_assert_cmphex(inb(LSR) & 0x20, ==, 0x20);
        outb(COM1, msg[i]);
    }
    g_assert_cmphex(inb(LSR), ==, 0x60);
    peer_expect(f, msg);
}

static void test_thre_interrupt(Fixture *f, gconstpointer data)
{
    /* Enabling THRI with THR empty interrupts at once. */
    outb(IER, 0x02);
    g_assert_true(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0x02);
    /* Reading IIR acknowledged it. */
    g_assert_false(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0x01);

    /* Each transmitted byte raises it again (a new edge). */
    outb(COM1, 'x');
    g_assert_true(irq4_level);
    g_assert_cmpuint(irq4_raises, ==, 2);
    g_assert_cmphex(inb(IIR), ==, 0x02);
    peer_expect(f, "x");

    /* Disabling the source lowers the line. */
    outb(COM1, 'y');
    g_assert_true(irq4_level);
    outb(IER, 0x00);
    g_assert_false(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0x01);
    peer_expect(f, "y");
}

static void test_receive(Fixture *f, gconstpointer data)
{
    outb(IER, 0x01);
    g_assert_false(irq4_level);
    peer_send(f, "a", 1);
    g_assert_true(pump_until(data_ready));
    g_assert_true(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0x04);
    g_assert_cmphex(inb(RBR), ==, 'a');
    g_assert_false(data_ready());
    g_assert_false(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0x01);

    /* Without FIFOs one byte is held at a time; the rest waits. */
    peer_send(f, "bc", 2);
    g_assert_true(pump_until(data_ready));
    g_assert_cmphex(inb(RBR), ==, 'b');
    g_assert_true(pump_until(data_ready));
    g_assert_cmphex(inb(RBR), ==, 'c');
    g_assert_cmphex(inb(LSR) & 0x02, ==, 0); /* no overrun */
}

static bool fifo_has_16(void)
{
    return (inb(IIR) & 0x0f) == 0x04;
}

static bool fifo_timed_out(void)
{
    return (inb(IIR) & 0x0f) == 0x0c;
}

static void test_receive_fifo(Fixture *f, gconstpointer data)
{
    char msg[21] = "0123456789abcdefghij";
    char got[21] = "";
    int i;

    /* FIFO on, both FIFOs reset, trigger level 14. */
    outb(FCR, 0xc7);
    g_assert_cmphex(inb(IIR), ==, 0xc1);
    outb(IER, 0x01);
    peer_send(f, msg, 20);

    /* The chardev gives at most 16 bytes: above the trigger level. */
    g_assert_true(pump_until(fifo_has_16));
    g_assert_true(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0xc4);
    for (i = 0; i < 16; i++) {
        g_assert_true(data_ready());
        got[i] = inb(RBR);
    }
    g_assert_false(data_ready());

    /* The last 4 stay below the trigger: a character timeout. */
    g_assert_true(pump_until(fifo_timed_out));
    g_assert_true(irq4_level);
    for (; i < 20; i++) {
        g_assert_true(data_ready());
        got[i] = inb(RBR);
    }
    g_assert_cmpstr(got, ==, msg);
    g_assert_false(data_ready());
    g_assert_false(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0xc1);
    g_assert_cmphex(inb(LSR) & 0x02, ==, 0);

    /* Disabling the FIFO clears the FIFO bits of IIR. */
    outb(FCR, 0x00);
    g_assert_cmphex(inb(IIR), ==, 0x01);
}

static void test_loopback(Fixture *f, gconstpointer data)
{
    /* Modem outputs wire back to the inputs. */
    outb(MCR, 0x10 | 0x03);              /* LOOP, RTS, DTR */
    g_assert_cmphex(inb(MSR), ==, 0x30); /* CTS, DSR */
    outb(MCR, 0x10 | 0x0c);              /* LOOP, OUT1, OUT2 */
    g_assert_cmphex(inb(MSR), ==, 0xc0); /* RI, DCD */

    outb(IER, 0x01);
    outb(COM1, 'L');
    g_assert_true(data_ready());
    g_assert_true(irq4_level);
    g_assert_cmphex(inb(RBR), ==, 'L');
    g_assert_false(irq4_level);

    /* Nothing reached the line. */
    while (g_main_context_iteration(NULL, false)) {
        /* drain */
    }
    g_assert_false(peer_has_data(f));

    outb(MCR, 0x08);
    g_assert_cmphex(inb(MSR), ==, 0xb0);
}

static void test_line_status(Fixture *f, gconstpointer data)
{
    /* An overrun (second byte in 16450 mode) is a line status interrupt. */
    outb(MCR, 0x18);
    outb(IER, 0x04);
    outb(COM1, '1');
    g_assert_false(irq4_level);
    outb(COM1, '2');
    g_assert_true(irq4_level);
    g_assert_cmphex(inb(IIR), ==, 0x06);
    /* Reading LSR reports and clears OE. */
    g_assert_cmphex(inb(LSR), ==, 0x63);
    g_assert_false(irq4_level);
    g_assert_cmphex(inb(LSR), ==, 0x61);
    g_assert_cmphex(inb(RBR), ==, '2');
    outb(MCR, 0x08);
}

static void test_priority(Fixture *f, gconstpointer data)
{
    /* Data available outranks THRE; THRE shows once the data is read. */
    outb(MCR, 0x18);
    outb(IER, 0x03);
    outb(COM1, 'p');
    g_assert_cmphex(inb(IIR), ==, 0x04);
    g_assert_cmphex(inb(RBR), ==, 'p');
    g_assert_cmphex(inb(IIR), ==, 0x02);
    g_assert_cmphex(inb(IIR), ==, 0x01);
    g_assert_false(irq4_level);
    outb(MCR, 0x08);
}

static void test_scratch_and_reset(Fixture *f, gconstpointer data)
{
    outb(SCR, 0xa5);
    g_assert_cmphex(inb(SCR), ==, 0xa5);
    outb(IER, 0x02);
    outb(LCR, 0x1b);
    g_assert_true(irq4_level);
    DEVICE_GET_CLASS(f->dev)->reset(DEVICE(f->dev));
    g_assert_false(irq4_level);
    g_assert_cmphex(inb(SCR), ==, 0x00);
    g_assert_cmphex(inb(LCR), ==, 0x00);
    g_assert_cmphex(inb(IIR), ==, 0x01);
    g_assert_cmphex(inb(LSR), ==, 0x60);
}

static void test_properties(void)
{
    g_autoptr(OptList) opts = opts_new();
    GError *err = NULL;
    Object *dev;

    /* index=1 is COM2: 0x2f8, IRQ 3; no chardev drops output. */
    opts_set(opts, "index", "1");
    dev = (Object *)qdev_device_add("isa-serial", opts, &err);
    g_assert_no_error(err);
    address_space_st(&address_space_io, 0x2f8 + 7, 0x42, 1);
    g_assert_cmphex(address_space_ld(&address_space_io, 0x2f8 + 7, 1), ==, 0x42);
    address_space_st(&address_space_io, 0x2f8, 'z', 1);
    g_assert_cmphex(address_space_ld(&address_space_io, 0x2f8 + 5, 1), ==, 0x60);
    object_unparent(dev);
    g_assert_cmphex(address_space_ld(&address_space_io, 0x2f8 + 7, 1), ==, 0xff);

    opts_set(opts, "index", "4");
    g_assert_null((Object *)qdev_device_add("isa-serial", opts, &err));
    g_assert_nonnull(strstr(err->message, "4"));
    g_clear_error(&err);
}

#define FIXTURE_TEST(path, fn)                                       \
    g_test_add("/hw/serial/" path, Fixture, NULL, fixture_setup, fn, \
               fixture_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* The pc machine's buses, which the devices here plug into. */
    wire_isa_irqs(qbus_new(TYPE_ISA_BUS, NULL, "isa.0"));
    qbus_new(TYPE_IDE_BUS, NULL, "ide.0");

    FIXTURE_TEST("reset-values", test_reset_values);
    FIXTURE_TEST("dlab", test_dlab);
    FIXTURE_TEST("transmit", test_transmit);
    FIXTURE_TEST("thre-interrupt", test_thre_interrupt);
    FIXTURE_TEST("receive", test_receive);
    FIXTURE_TEST("receive-fifo", test_receive_fifo);
    FIXTURE_TEST("loopback", test_loopback);
    FIXTURE_TEST("line-status", test_line_status);
    FIXTURE_TEST("priority", test_priority);
    FIXTURE_TEST("scratch-and-reset", test_scratch_and_reset);
    g_test_add_func("/hw/serial/properties", test_properties);
    return g_test_run();
}
