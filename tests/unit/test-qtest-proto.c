/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qtest line protocol driven directly through a session: memory and
 * port access against a small RAM region and a port device, payload and
 * number validation, request bounds, line framing, the virtual clock,
 * interrupt interception and the -qtest-log format. No chardev involved.
 */
#include "util/osdep.h"

#include "accel/qtest.h"
#include "system/cpus.h"
#include "system/irqchip.h"
#include "system/memory.h"

#define RAM_BASE 0x10000
#define RAM_SIZE 0x10000
#define PORT_BASE 0x80

typedef struct Client {
    QtestSession *s;
    GPtrArray *lines; /* every line the session sent, '\n' stripped */
} Client;

static uint8_t port_regs[16];

static uint64_t port_read(void *opaque, hwaddr offset, unsigned int size)
{
    uint64_t val = 0;

    for (unsigned int i = 0; i < size && offset + i < sizeof(port_regs); i++) {
        val |= (uint64_t)port_regs[offset + i] << (8 * i);
    }
    return val;
}

static void port_write(void *opaque, hwaddr offset, uint64_t val,
                       unsigned int size)
{
    for (unsigned int i = 0; i < size && offset + i < sizeof(port_regs); i++) {
        port_regs[offset + i] = val >> (8 * i);
    }
}

static const MemoryRegionOps port_ops = {
    .read = port_read,
    .write = port_write,
};

static void client_send(void *opaque, const char *line)
{
    Client *c = opaque;
    size_t len = strlen(line);

    g_assert_cmpuint(len, >, 0);
    g_assert_cmpint(line[len - 1], ==, '\n');
    g_ptr_array_add(c->lines, g_strndup(line, len - 1));
}

static Client *client_new(void)
{
    Client *c = g_new0(Client, 1);

    c->lines = g_ptr_array_new_with_free_func(g_free);
    c->s = qtest_session_new(client_send, c);
    return c;
}

static void client_free(Client *c)
{
    qtest_session_free(c->s);
    g_ptr_array_free(c->lines, TRUE);
    g_free(c);
}

/* Send one request and return its single reply (owned by the client). */
static const char *cmd(Client *c, const char *line)
{
    guint before = c->lines->len;

    qtest_session_handle_line(c->s, line);
    g_assert_cmpuint(c->lines->len, ==, before + 1);
    return g_ptr_array_index(c->lines, before);
}

static void assert_fail(Client *c, const char *line)
{
    const char *reply = cmd(c, line);

    if (!g_str_has_prefix(reply, "FAIL")) {
        g_error("'%s' answered '%s', expected FAIL", line, reply);
    }
}

static void test_sized_access(void)
{
    Client *c = client_new();

    g_assert_cmpstr(cmd(c, "writeb 0x10000 0xab"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readb 0x10000"), ==, "OK 0x00000000000000ab");
    g_assert_cmpstr(cmd(c, "writew 0x10010 0x1234"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readw 0x10010"), ==, "OK 0x0000000000001234");
    g_assert_cmpstr(cmd(c, "writel 0x10020 0x11223344"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readl 0x10020"), ==, "OK 0x0000000011223344");
    /* Little-endian in guest memory. */
    g_assert_cmpstr(cmd(c, "readb 0x10020"), ==, "OK 0x0000000000000044");
    g_assert_cmpstr(cmd(c, "writeq 0x10030 0x0102030405060708"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readq 0x10030"), ==, "OK 0x0102030405060708");
    g_assert_cmpstr(cmd(c, "readb 0x10037"), ==, "OK 0x0000000000000001");
    /* Values wider than the access are truncated, as in QEMU. */
    g_assert_cmpstr(cmd(c, "writeb 0x10040 0x1ff"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readw 0x10040"), ==, "OK 0x00000000000000ff");
    /* Decimal and octal work too (base 0). */
    g_assert_cmpstr(cmd(c, "writeb 65600 010"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readb 0x10040"), ==, "OK 0x0000000000000008");
    /* Unassigned memory reads as all ones. */
    g_assert_cmpstr(cmd(c, "readl 0x1000"), ==, "OK 0x00000000ffffffff");
    client_free(c);
}

static void test_bulk_access(void)
{
    Client *c = client_new();

    g_assert_cmpstr(cmd(c, "write 0x10100 4 0xdeadBEEF"), ==, "OK");
    g_assert_cmpstr(cmd(c, "read 0x10100 4"), ==, "OK 0xdeadbeef");
    g_assert_cmpstr(cmd(c, "readl 0x10100"), ==, "OK 0x00000000efbeadde");
    g_assert_cmpstr(cmd(c, "write 0x10100 0 0x"), ==, "OK");

    g_assert_cmpstr(cmd(c, "b64write 0x10200 5 aGVsbG8="), ==, "OK");
    g_assert_cmpstr(cmd(c, "read 0x10200 5"), ==, "OK 0x68656c6c6f");
    g_assert_cmpstr(cmd(c, "b64read 0x10200 5"), ==, "OK aGVsbG8=");
    /* A short b64 payload is zero-filled up to SIZE (QEMU's rule). */
    g_assert_cmpstr(cmd(c, "b64write 0x10200 3 aGk="), ==, "OK");
    g_assert_cmpstr(cmd(c, "read 0x10200 4"), ==, "OK 0x6869006c");
    assert_fail(c, "b64write 0x10200 3 a*b=");

    g_assert_cmpstr(cmd(c, "memset 0x10300 3 0x5a"), ==, "OK");
    g_assert_cmpstr(cmd(c, "read 0x102ff 5"), ==, "OK 0x005a5a5a00");
    g_assert_cmpstr(cmd(c, "memset 0x10300 0 0x11"), ==, "OK");
    /* A memset larger than the internal chunk. */
    g_assert_cmpstr(cmd(c, "memset 0x10000 0x10000 0xc3"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readq 0x1fff8"), ==, "OK 0xc3c3c3c3c3c3c3c3");
    client_free(c);
}

static void test_write_payload(void)
{
    Client *c = client_new();

    g_assert_cmpstr(cmd(c, "write 0x10400 2 0x1122"), ==, "OK");
    assert_fail(c, "write 0x10400 2 0x112233");
    assert_fail(c, "write 0x10400 2 0x11");
    assert_fail(c, "write 0x10400 2 0x112");
    assert_fail(c, "write 0x10400 2 1122");
    assert_fail(c, "write 0x10400 2 0x11zz");
    assert_fail(c, "write 0x10400 1 0x");
    /* None of the refused writes touched memory. */
    g_assert_cmpstr(cmd(c, "read 0x10400 2"), ==, "OK 0x1122");
    client_free(c);
}

static void test_unknown_and_usage(void)
{
    Client *c = client_new();

    g_assert_cmpstr(cmd(c, "frobnicate 1 2"), ==,
                    "FAIL Unknown command 'frobnicate'");
    g_assert_cmpstr(cmd(c, ""), ==, "FAIL Unknown command ''");
    g_assert_cmpstr(cmd(c, "readb"), ==, "FAIL usage: readb ADDR");
    g_assert_cmpstr(cmd(c, "writeb 0x10000"), ==,
                    "FAIL usage: writeb ADDR VALUE");
    g_assert_cmpstr(cmd(c, "readb 0x10000 7"), ==, "FAIL usage: readb ADDR");
    g_assert_cmpstr(cmd(c, "endianness"), ==, "OK little");
    g_assert_cmpstr(cmd(c, "module_load block iscsi"), ==, "FAIL");
    /* Runs of blanks and a CR before the newline are tolerated. */
    g_assert_cmpstr(cmd(c, "  writeb\t0x10000   7 \r"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readb 0x10000"), ==, "OK 0x0000000000000007");
    client_free(c);
}

static void test_bad_numbers(void)
{
    Client *c = client_new();

    g_assert_cmpstr(cmd(c, "readb zz"), ==, "FAIL readb: invalid address 'zz'");
    assert_fail(c, "readb 0x");
    assert_fail(c, "readb -1");
    assert_fail(c, "readb +1");
    assert_fail(c, "readb 12abc");
    assert_fail(c, "readb 0x10000000000000000");
    assert_fail(c, "readb 099");
    g_assert_cmpstr(cmd(c, "writeb 0x10000 0x1g"), ==,
                    "FAIL writeb: invalid value '0x1g'");
    assert_fail(c, "read 0x10000 four");
    assert_fail(c, "memset 0x10000 4 x");
    assert_fail(c, "inb 0x10000");
    assert_fail(c, "outb -5 1");
    g_assert_cmpstr(cmd(c, "writeb 65536 7"), ==, "OK");
    g_assert_cmpstr(cmd(c, "readb 0x10000"), ==, "OK 0x0000000000000007");
    client_free(c);
}

static void test_oversize(void)
{
    Client *c = client_new();
    g_autofree char *too_big =
        g_strdup_printf("read 0x10000 %u", QTEST_MAX_XFER + 1);

    assert_fail(c, too_big);
    assert_fail(c, "read 0x10000 0xffffffffffffffff");
    assert_fail(c, "b64read 0x10000 0x7fffffffffffffff");
    assert_fail(c, "memset 0x10000 0x40000000 0");
    assert_fail(c, "write 0x10000 0x40000000 0x00");
    assert_fail(c, "b64write 0x10000 0x40000000 AAAA");
    assert_fail(c, "read 0x10000 0");
    /* A range past the top of the address space. */
    assert_fail(c, "read 0xfffffffffffffffe 4");
    /* The limit itself is allowed (unassigned memory reads as 0xff). */
    g_free(too_big);
    too_big = g_strdup_printf("b64read 0x100000000 %u", QTEST_MAX_XFER);
    g_assert_true(g_str_has_prefix(cmd(c, too_big), "OK ////"));
    client_free(c);
}

static void test_pio(void)
{
    Client *c = client_new();

    g_assert_cmpstr(cmd(c, "outb 0x80 0xab"), ==, "OK");
    g_assert_cmpuint(port_regs[0], ==, 0xab);
    g_assert_cmpstr(cmd(c, "inb 0x80"), ==, "OK 0x00ab");
    g_assert_cmpstr(cmd(c, "outw 0x82 0xbeef"), ==, "OK");
    g_assert_cmpstr(cmd(c, "inw 0x82"), ==, "OK 0xbeef");
    g_assert_cmpstr(cmd(c, "outl 0x84 0x12345678"), ==, "OK");
    g_assert_cmpstr(cmd(c, "inl 0x84"), ==, "OK 0x12345678");
    g_assert_cmpstr(cmd(c, "inb 0x85"), ==, "OK 0x0056");
    g_assert_cmpstr(cmd(c, "inb 0x1234"), ==, "OK 0x00ff");
    g_assert_cmpstr(cmd(c, "inb 0x10000"), ==,
                    "FAIL inb: port 0x10000 is out of range");
    client_free(c);
}

static void feed_str(Client *c, const char *str)
{
    qtest_session_feed(c->s, (const uint8_t *)str, strlen(str));
}

static void test_framing(void)
{
    Client *c = client_new();
    g_autofree uint8_t *junk = NULL;
    size_t chunk = 1024 * 1024;

    /* A request split across reads runs once its '\n' arrives. */
    feed_str(c, "write");
    feed_str(c, "b 0x10");
    g_assert_cmpuint(c->lines->len, ==, 0);
    feed_str(c, "000 0x42\nreadb 0x10000\nend");
    g_assert_cmpuint(c->lines->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(c->lines, 0), ==, "OK");
    g_assert_cmpstr(g_ptr_array_index(c->lines, 1), ==,
                    "OK 0x0000000000000042");
    feed_str(c, "ianness\n");
    g_assert_cmpstr(g_ptr_array_index(c->lines, 2), ==, "OK little");

    /* A disconnect drops the partial line. */
    feed_str(c, "writeb 0x10000 0x");
    qtest_session_closed(c->s);
    qtest_session_opened(c->s);
    feed_str(c, "readb 0x10000\n");
    g_assert_cmpuint(c->lines->len, ==, 4);
    g_assert_cmpstr(g_ptr_array_index(c->lines, 3), ==,
                    "OK 0x0000000000000042");

    /* A NUL byte inside a line is refused, not executed up to the NUL. */
    qtest_session_feed(c->s, (const uint8_t *)"writeb 0x10000 1\0x\n", 19);
    g_assert_cmpuint(c->lines->len, ==, 5);
    g_assert_true(g_str_has_prefix(g_ptr_array_index(c->lines, 4), "FAIL"));

    /* An endless line is discarded with one FAIL, and framing recovers. */
    junk = g_malloc(chunk);
    memset(junk, 'a', chunk);
    for (unsigned int i = 0; i < 2 * QTEST_MAX_XFER / chunk + 2; i++) {
        qtest_session_feed(c->s, junk, chunk);
    }
    g_assert_cmpuint(c->lines->len, ==, 5);
    feed_str(c, "aaa\nreadb 0x10000\n");
    g_assert_cmpuint(c->lines->len, ==, 7);
    g_assert_true(g_str_has_prefix(g_ptr_array_index(c->lines, 5),
                                   "FAIL request line longer"));
    g_assert_cmpstr(g_ptr_array_index(c->lines, 6), ==,
                    "OK 0x0000000000000042");
    client_free(c);
}

static void test_max_write(void)
{
    Client *c = client_new();
    size_t len = QTEST_MAX_XFER;
    GString *req = g_string_sized_new(2 * len + 64);
    guint n;

    /* The largest valid request fits the line limit, fed in pieces. */
    g_string_append_printf(req, "write 0x100000000 0x%zx 0x", len);
    for (size_t i = 0; i < len; i++) {
        g_string_append(req, "5a");
    }
    g_string_append_c(req, '\n');
    for (size_t off = 0; off < req->len; off += 4096) {
        qtest_session_feed(c->s, (const uint8_t *)req->str + off,
                           MIN(4096, req->len - off));
    }
    n = c->lines->len;
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(c->lines, 0), ==, "OK");
    g_string_free(req, TRUE);
    client_free(c);
}

static void test_clock(void)
{
    Client *c = client_new();
    const AccelOps *prev = accel_current();

    /* Without -accel qtest the clock commands do not exist (QEMU). */
    accel_set_current(NULL);
    g_assert_false(qtest_enabled());
    g_assert_cmpstr(cmd(c, "clock_step 10"), ==,
                    "FAIL Unknown command 'clock_step'");

    accel_set_current(accel_find("qtest"));
    g_assert_true(qtest_enabled());
    assert_fail(c, "clock_step");
    g_assert_cmpstr(cmd(c, "clock_step 100"), ==, "OK 100");
    g_assert_cmpstr(cmd(c, "clock_step 0x10"), ==, "OK 116");
    g_assert_cmpstr(cmd(c, "clock_step 0"), ==, "FAIL could not advance time");
    g_assert_cmpstr(cmd(c, "clock_set 50"), ==, "FAIL 116");
    g_assert_cmpstr(cmd(c, "clock_set 1000"), ==, "OK 1000");
    g_assert_cmpstr(cmd(c, "clock_set 1000"), ==, "OK 1000");
    assert_fail(c, "clock_set soon");
    accel_set_current(prev);
    client_free(c);
}

static void test_irq(void)
{
    Client *c = client_new();
    const AccelOps *prev = accel_current();

    accel_set_current(accel_find("qtest"));
    g_assert_cmpstr(cmd(c, "irq_intercept_in /machine/nothing"), ==,
                    "FAIL Unknown device");
    /* Before interception, level changes are not reported. */
    g_assert_cmpstr(cmd(c, "set_irq_in ioapic unnamed-gpio-in 4 1"), ==, "OK");
    g_assert_cmpstr(cmd(c, "irq_intercept_in ioapic"), ==, "OK");
    g_assert_cmpstr(cmd(c, "irq_intercept_out /machine/ioapic"), ==, "OK");

    qtest_session_handle_line(c->s, "set_irq_in ioapic unnamed-gpio-in 3 1");
    g_assert_cmpuint(c->lines->len, ==, 6);
    g_assert_cmpstr(g_ptr_array_index(c->lines, 4), ==, "IRQ raise 3");
    g_assert_cmpstr(g_ptr_array_index(c->lines, 5), ==, "OK");
    /* Same level again: nothing new to report. */
    g_assert_cmpstr(cmd(c, "set_irq_in ioapic unnamed-gpio-in 3 1"), ==, "OK");
    /* A device lowering the line (the machine's GSI line ends here). */
    irqchip_set_gsi(3, false);
    g_assert_cmpstr(g_ptr_array_index(c->lines, c->lines->len - 1), ==,
                    "IRQ lower 3");
    /* The IOAPIC has 24 pins. */
    g_assert_cmpstr(cmd(c, "set_irq_in ioapic unnamed-gpio-in 23 0"), ==, "OK");
    assert_fail(c, "set_irq_in ioapic unnamed-gpio-in 24 1");
    assert_fail(c, "set_irq_in ioapic unnamed-gpio-in 256 1");
    assert_fail(c, "set_irq_in ioapic other 3 1");
    assert_fail(c, "irq_intercept_in ioapic named");
    irqchip_set_gsi(3, false);
    accel_set_current(prev);
    client_free(c);
}

/*
 * MSIs reach only the sessions that asked with irq_intercept_msi: a
 * client intercepting the IOAPIC's pins (any QEMU client) gets no line it
 * could not parse.
 */
static void test_msi(void)
{
    Client *pins = client_new();
    Client *msi = client_new();
    const AccelOps *prev = accel_current();
    MSIMessage m = {.address = 0xfee01000, .data = 0x4041};
    guint pins_before;

    accel_set_current(accel_find("qtest"));
    g_assert_cmpstr(cmd(pins, "irq_intercept_in ioapic"), ==, "OK");
    assert_fail(msi, "irq_intercept_msi extra");
    /* Before opting in, nobody hears of it. */
    pins_before = pins->lines->len;
    irqchip_send_msi(m);
    g_assert_cmpuint(msi->lines->len, ==, 1);
    g_assert_cmpstr(cmd(msi, "irq_intercept_msi"), ==, "OK");

    irqchip_send_msi(m);
    irqchip_send_msi(m); /* each MSI is an event: reported every time */
    g_assert_cmpuint(msi->lines->len, ==, 4);
    g_assert_cmpstr(g_ptr_array_index(msi->lines, 2), ==,
                    "IRQ msi 0xfee01000 0x4041");
    g_assert_cmpstr(g_ptr_array_index(msi->lines, 3), ==,
                    "IRQ msi 0xfee01000 0x4041");
    g_assert_cmpuint(pins->lines->len, ==, pins_before);
    /* And an MSI client does not get pin changes it did not ask for. */
    irqchip_set_gsi(5, true);
    g_assert_cmpuint(msi->lines->len, ==, 4);
    g_assert_cmpstr(g_ptr_array_index(pins->lines, pins->lines->len - 1), ==,
                    "IRQ raise 5");
    irqchip_set_gsi(5, false);
    accel_set_current(prev);
    client_free(pins);
    client_free(msi);
}

static void test_log(void)
{
    Client *c = client_new();
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *err = NULL;
    FILE *fp;
    int fd;

    fd = g_file_open_tmp("qtest-log-XXXXXX", &path, &err);
    g_assert_no_error(err);
    fp = fdopen(fd, "w");
    cmd(c, "writeb 0x10000 0x42");
    qtest_session_set_log(c->s, fp);
    qtest_session_opened(c->s);
    cmd(c, "readb  0x10000");
    cmd(c, "bogus");
    qtest_session_set_log(c->s, NULL);
    fclose(fp);

    g_assert_true(g_file_get_contents(path, &text, NULL, &err));
    g_assert_no_error(err);
    unlink(path);
    lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 6);
    g_assert_true(g_regex_match_simple("^\\[I [0-9]+\\.[0-9]{6}\\] OPENED$",
                                       lines[0], 0, 0));
    g_assert_true(g_regex_match_simple(
        "^\\[R \\+[0-9]+\\.[0-9]{6}\\] readb 0x10000$", lines[1], 0, 0));
    g_assert_true(g_regex_match_simple(
        "^\\[S \\+[0-9]+\\.[0-9]{6}\\] OK 0x0000000000000042$", lines[2], 0,
        0));
    g_assert_true(g_regex_match_simple("^\\[R \\+[0-9]+\\.[0-9]{6}\\] bogus$",
                                       lines[3], 0, 0));
    g_assert_true(g_regex_match_simple(
        "^\\[S \\+[0-9]+\\.[0-9]{6}\\] FAIL Unknown command 'bogus'$", lines[4],
        0, 0));
    g_assert_cmpstr(lines[5], ==, "");
    client_free(c);
}

int main(int argc, char **argv)
{
    static MemoryRegion ram_mr, port_mr;
    GError *err = NULL;
    RAMBlock *rb;

    g_test_init(&argc, &argv, NULL);

    rb = ram_block_new_anon("test.ram", RAM_SIZE, false, &err);
    g_assert_no_error(err);
    memory_region_init_ram_from_block(&ram_mr, NULL, "test.ram", rb, 0,
                                      RAM_SIZE);
    memory_region_add_subregion(get_system_memory(), RAM_BASE, &ram_mr);
    memory_region_init_io(&port_mr, NULL, &port_ops, NULL, "test.port",
                          sizeof(port_regs));
    memory_region_add_subregion(get_system_io(), PORT_BASE, &port_mr);

    g_test_add_func("/qtest/proto/sized-access", test_sized_access);
    g_test_add_func("/qtest/proto/bulk-access", test_bulk_access);
    g_test_add_func("/qtest/proto/write-payload", test_write_payload);
    g_test_add_func("/qtest/proto/unknown-and-usage", test_unknown_and_usage);
    g_test_add_func("/qtest/proto/bad-numbers", test_bad_numbers);
    g_test_add_func("/qtest/proto/oversize", test_oversize);
    g_test_add_func("/qtest/proto/pio", test_pio);
    g_test_add_func("/qtest/proto/framing", test_framing);
    g_test_add_func("/qtest/proto/max-write", test_max_write);
    g_test_add_func("/qtest/proto/clock", test_clock);
    g_test_add_func("/qtest/proto/irq", test_irq);
    g_test_add_func("/qtest/proto/msi", test_msi);
    g_test_add_func("/qtest/proto/log", test_log);
    return g_test_run();
}
