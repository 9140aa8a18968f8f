/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QEMU's qtest line protocol: parsing and executing request lines against
 * the guest address spaces, the virtual clock counter and interrupt
 * interception, and the -qtest-log format. Knows nothing of chardevs: a
 * session sends its lines through a callback (see qtest.c for the server).
 */
#include "util/osdep.h"

#include <stdarg.h>

#include "accel/qtest.h"
#include "system/cpus.h"
#include "system/irqchip.h"
#include "system/memory.h"

/*
 * The longest line a valid request can need: "write ADDR SIZE 0x" plus two
 * hex digits per byte. Longer lines are discarded unread so that a client
 * cannot make the server buffer without bound.
 */
#define QTEST_MAX_LINE (2 * (size_t)QTEST_MAX_XFER + 4096)

/* memset writes through a bounded buffer rather than one of SIZE bytes. */
#define QTEST_MEMSET_CHUNK 65536

struct QtestSession {
    QtestSendFn send;
    void *opaque;

    GString *inbuf;  /* the incomplete line received so far */
    bool discarding; /* inside an over-long line, until its '\n' */

    FILE *log;     /* -qtest-log stream, not owned */
    GTimer *timer; /* log timestamps */

    int64_t clock_ns; /* the virtual clock the client drives */

    bool intercept_in;  /* report the interrupt controller's inputs */
    bool intercept_out; /* recorded only: no output lines exist yet */
    bool intercept_msi; /* report MSI window writes (baton's extension) */
    bool irq_reported[QTEST_MAX_IRQ];
};

typedef struct QtestCommand QtestCommand;

struct QtestCommand {
    const char *name;
    /* Arguments after the name: how many, and how usage spells them. */
    unsigned int min_args;
    unsigned int max_args;
    const char *usage;
    /* Only with -accel qtest (QEMU hides the clock commands otherwise). */
    bool needs_accel;
    /* Per-command parameter: access size in bytes, or 1 for "out". */
    unsigned int arg;
    void (*fn)(QtestSession *s, const QtestCommand *cmd, char **argv);
};

/* Every session, so that interrupt changes reach whoever intercepts. */
static GSList *qtest_sessions;

/* Output */

static void qtest_send_gstring(QtestSession *s, GString *line)
{
    g_string_append_c(line, '\n');
    if (s->log) {
        fprintf(s->log, "[S +%.06f] %s", g_timer_elapsed(s->timer, NULL),
                line->str);
    }
    s->send(s->opaque, line->str);
    g_string_free(line, TRUE);
}

static void G_GNUC_PRINTF(2, 3)
    qtest_reply(QtestSession *s, const char *fmt, ...)
{
    GString *line = g_string_new(NULL);
    va_list ap;

    va_start(ap, fmt);
    g_string_append_vprintf(line, fmt, ap);
    va_end(ap);
    qtest_send_gstring(s, line);
}

/* Argument parsing: each helper answers FAIL itself when it returns false */

/*
 * QEMU parses numbers with base 0: "0x" hex, leading-0 octal or decimal.
 * The whole word must be consumed; signs and overflow are rejected.
 */
static bool qtest_parse_u64(const char *str, uint64_t *val)
{
    char *end;

    if (!g_ascii_isdigit(str[0])) {
        return false;
    }
    errno = 0;
    *val = strtoull(str, &end, 0);
    return errno == 0 && *end == '\0';
}

static bool qtest_parse_i64(const char *str, int64_t *val)
{
    const char *digits = str[0] == '-' ? str + 1 : str;
    char *end;

    if (!g_ascii_isdigit(digits[0])) {
        return false;
    }
    errno = 0;
    *val = strtoll(str, &end, 0);
    return errno == 0 && *end == '\0';
}

static bool qtest_arg_u64(QtestSession *s, char **argv, unsigned int i,
                          const char *what, uint64_t *val)
{
    if (!qtest_parse_u64(argv[i], val)) {
        qtest_reply(s, "FAIL %s: invalid %s '%s'", argv[0], what, argv[i]);
        return false;
    }
    return true;
}

static bool qtest_arg_i64(QtestSession *s, char **argv, unsigned int i,
                          const char *what, int64_t *val)
{
    if (!qtest_parse_i64(argv[i], val)) {
        qtest_reply(s, "FAIL %s: invalid %s '%s'", argv[0], what, argv[i]);
        return false;
    }
    return true;
}

static bool qtest_arg_port(QtestSession *s, char **argv, uint64_t *port)
{
    if (!qtest_arg_u64(s, argv, 1, "port", port)) {
        return false;
    }
    if (*port > 0xffff) {
        qtest_reply(s, "FAIL %s: port 0x%" PRIx64 " is out of range", argv[0],
                    *port);
        return false;
    }
    return true;
}

/*
 * ADDR and SIZE of a bulk request (argv[1], argv[2]): SIZE is capped so a
 * request never allocates more than QTEST_MAX_XFER, and the range must not
 * wrap past the top of the address space.
 */
static bool qtest_arg_range(QtestSession *s, char **argv, bool allow_zero,
                            uint64_t *addr, uint64_t *len)
{
    if (!qtest_arg_u64(s, argv, 1, "address", addr) ||
        !qtest_arg_u64(s, argv, 2, "size", len)) {
        return false;
    }
    if (*len == 0 && !allow_zero) {
        qtest_reply(s, "FAIL %s: size must not be zero", argv[0]);
        return false;
    }
    if (*len > QTEST_MAX_XFER) {
        qtest_reply(s,
                    "FAIL %s: size %" PRIu64 " exceeds the limit of %u "
                    "bytes",
                    argv[0], *len, QTEST_MAX_XFER);
        return false;
    }
    if (*len && *addr + (*len - 1) < *addr) {
        qtest_reply(s,
                    "FAIL %s: range 0x%" PRIx64 "+0x%" PRIx64
                    " wraps around the address space",
                    argv[0], *addr, *len);
        return false;
    }
    return true;
}

static uint64_t qtest_truncate(uint64_t val, unsigned int size)
{
    return size == 8 ? val : val & ((UINT64_C(1) << (size * 8)) - 1);
}

/* Memory and I/O ports */

static void qtest_cmd_readx(QtestSession *s, const QtestCommand *cmd,
                            char **argv)
{
    uint64_t addr;

    if (!qtest_arg_u64(s, argv, 1, "address", &addr)) {
        return;
    }
    qtest_reply(s, "OK 0x%016" PRIx64,
                address_space_ld(&address_space_memory, addr, cmd->arg));
}

static void qtest_cmd_writex(QtestSession *s, const QtestCommand *cmd,
                             char **argv)
{
    uint64_t addr, val;

    if (!qtest_arg_u64(s, argv, 1, "address", &addr) ||
        !qtest_arg_u64(s, argv, 2, "value", &val)) {
        return;
    }
    address_space_st(&address_space_memory, addr, qtest_truncate(val, cmd->arg), cmd->arg);
    qtest_reply(s, "OK");
}

static void qtest_cmd_inx(QtestSession *s, const QtestCommand *cmd, char **argv)
{
    uint64_t port;
    uint32_t val;

    if (!qtest_arg_port(s, argv, &port)) {
        return;
    }
    val = address_space_ld(&address_space_io, port, cmd->arg);
    qtest_reply(s, "OK 0x%04" PRIx32, val);
}

static void qtest_cmd_outx(QtestSession *s, const QtestCommand *cmd,
                           char **argv)
{
    uint64_t port, val;

    if (!qtest_arg_port(s, argv, &port) ||
        !qtest_arg_u64(s, argv, 2, "value", &val)) {
        return;
    }
    address_space_st(&address_space_io, port, qtest_truncate(val, cmd->arg), cmd->arg);
    qtest_reply(s, "OK");
}

static void qtest_cmd_read(QtestSession *s, const QtestCommand *cmd,
                           char **argv)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t addr, len;
    g_autofree uint8_t *data = NULL;
    GString *line;

    if (!qtest_arg_range(s, argv, false, &addr, &len)) {
        return;
    }
    data = g_malloc(len);
    address_space_rw(&address_space_memory, addr, data, len, false);

    line = g_string_sized_new(2 * len + 8);
    g_string_append(line, "OK 0x");
    for (uint64_t i = 0; i < len; i++) {
        g_string_append_c(line, hex[data[i] >> 4]);
        g_string_append_c(line, hex[data[i] & 0xf]);
    }
    qtest_send_gstring(s, line);
}

static void qtest_cmd_write(QtestSession *s, const QtestCommand *cmd,
                            char **argv)
{
    const char *payload = argv[3];
    uint64_t addr, len;
    size_t digits;
    g_autofree uint8_t *data = NULL;

    if (!qtest_arg_range(s, argv, true, &addr, &len)) {
        return;
    }
    if (payload[0] != '0' || (payload[1] != 'x' && payload[1] != 'X')) {
        qtest_reply(s, "FAIL write: data must start with '0x'");
        return;
    }
    payload += 2;
    digits = strlen(payload);
    if (digits != 2 * len) {
        qtest_reply(s,
                    "FAIL write: %zu hex digits given for %" PRIu64
                    " bytes (need %" PRIu64 ")",
                    digits, len, 2 * len);
        return;
    }
    data = g_malloc(len ? len : 1);
    for (uint64_t i = 0; i < len; i++) {
        int hi = g_ascii_xdigit_value(payload[2 * i]);
        int lo = g_ascii_xdigit_value(payload[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            qtest_reply(s,
                        "FAIL write: invalid hex digit at data offset "
                        "%" PRIu64,
                        2 * i + (hi < 0 ? 0 : 1));
            return;
        }
        data[i] = hi << 4 | lo;
    }
    if (len) {
        address_space_rw(&address_space_memory, addr, data, len, true);
    }
    qtest_reply(s, "OK");
}

static void qtest_cmd_b64read(QtestSession *s, const QtestCommand *cmd,
                              char **argv)
{
    uint64_t addr, len;
    g_autofree uint8_t *data = NULL;
    g_autofree char *enc = NULL;

    if (!qtest_arg_range(s, argv, true, &addr, &len)) {
        return;
    }
    data = g_malloc(len ? len : 1);
    if (len) {
        address_space_rw(&address_space_memory, addr, data, len, false);
    }
    enc = g_base64_encode(data, len);
    qtest_reply(s, "OK %s", enc);
}

static bool qtest_is_base64(const char *str)
{
    for (; *str; str++) {
        if (!g_ascii_isalnum(*str) && *str != '+' && *str != '/' &&
            *str != '=') {
            return false;
        }
    }
    return true;
}

/*
 * As in QEMU, a decoded length different from SIZE is logged, not refused:
 * extra bytes are dropped and missing ones written as zeros.
 */
static void qtest_cmd_b64write(QtestSession *s, const QtestCommand *cmd,
                               char **argv)
{
    uint64_t addr, len;
    gsize dec_len = 0;
    g_autofree uint8_t *dec = NULL;
    g_autofree uint8_t *data = NULL;

    if (!qtest_arg_range(s, argv, true, &addr, &len)) {
        return;
    }
    if (!qtest_is_base64(argv[3])) {
        qtest_reply(s, "FAIL b64write: data is not base64");
        return;
    }
    dec = g_base64_decode(argv[3], &dec_len);
    if (dec_len != len && s->log) {
        fprintf(s->log,
                "[S +%.06f] b64write: data length mismatch (told %" PRIu64
                ", found %zu)\n",
                g_timer_elapsed(s->timer, NULL), len, (size_t)dec_len);
    }
    if (len) {
        data = g_malloc0(len);
        memcpy(data, dec, MIN((uint64_t)dec_len, len));
        address_space_rw(&address_space_memory, addr, data, len, true);
    }
    qtest_reply(s, "OK");
}

static void qtest_cmd_memset(QtestSession *s, const QtestCommand *cmd,
                             char **argv)
{
    uint64_t addr, len, pattern;
    g_autofree uint8_t *chunk = NULL;

    if (!qtest_arg_range(s, argv, true, &addr, &len) ||
        !qtest_arg_u64(s, argv, 3, "value", &pattern)) {
        return;
    }
    chunk = g_malloc(QTEST_MEMSET_CHUNK);
    memset(chunk, (uint8_t)pattern, QTEST_MEMSET_CHUNK);
    while (len) {
        uint64_t n = MIN(len, QTEST_MEMSET_CHUNK);

        address_space_rw(&address_space_memory, addr, chunk, n, true);
        addr += n;
        len -= n;
    }
    qtest_reply(s, "OK");
}

static void qtest_cmd_endianness(QtestSession *s, const QtestCommand *cmd,
                                 char **argv)
{
    qtest_reply(s, "OK little");
}

/* The virtual clock: a counter only the client moves (no timers exist) */

static void qtest_cmd_clock_step(QtestSession *s, const QtestCommand *cmd,
                                 char **argv)
{
    int64_t ns;

    if (!argv[1]) {
        qtest_reply(s, "FAIL cannot advance clock to the next deadline "
                       "because there is no pending deadline");
        return;
    }
    if (!qtest_arg_i64(s, argv, 1, "nanoseconds", &ns)) {
        return;
    }
    if (ns <= 0) {
        qtest_reply(s, "FAIL could not advance time");
        return;
    }
    s->clock_ns = ns > INT64_MAX - s->clock_ns ? INT64_MAX : s->clock_ns + ns;
    qtest_reply(s, "OK %" PRIi64, s->clock_ns);
}

/* Like QEMU, the clock never goes back: FAIL reports where it stays. */
static void qtest_cmd_clock_set(QtestSession *s, const QtestCommand *cmd,
                                char **argv)
{
    int64_t ns;

    if (!qtest_arg_i64(s, argv, 1, "nanoseconds", &ns)) {
        return;
    }
    if (ns > s->clock_ns) {
        s->clock_ns = ns;
    }
    qtest_reply(s, "%s %" PRIi64, s->clock_ns == ns ? "OK" : "FAIL",
                s->clock_ns);
}

/* Interrupts */

/*
 * The PC's interrupt controller is the only device with interceptable
 * lines; its inputs are GSIs, where the machine's GSI lines end
 * (irqchip_set_gsi()). QEMU resolves partial QOM paths, so "ioapic" and
 * "/machine/.../ioapic" both name it.
 */
static bool qtest_is_irq_controller(const char *path)
{
    const char *base = strrchr(path, '/');

    return strcmp(base ? base + 1 : path, "ioapic") == 0;
}

static void qtest_cmd_irq_intercept(QtestSession *s, const QtestCommand *cmd,
                                    char **argv)
{
    bool named = argv[2] != NULL;
    bool out = cmd->arg == 1;

    if (!qtest_is_irq_controller(argv[1])) {
        qtest_reply(s, "FAIL Unknown device");
        return;
    }
    if (named && !out) {
        qtest_reply(s, "FAIL Interception of named in-GPIOs not yet "
                       "supported");
        return;
    }
    if (out) {
        s->intercept_out = true;
    } else {
        s->intercept_in = true;
    }
    qtest_reply(s, "OK");
}

static void qtest_cmd_set_irq_in(QtestSession *s, const QtestCommand *cmd,
                                 char **argv)
{
    int64_t num, level;

    if (!qtest_is_irq_controller(argv[1])) {
        qtest_reply(s, "FAIL Unknown device");
        return;
    }
    if (strcmp(argv[2], "unnamed-gpio-in") != 0) {
        qtest_reply(s, "FAIL set_irq_in: unknown GPIO list '%s'", argv[2]);
        return;
    }
    if (!qtest_arg_i64(s, argv, 3, "IRQ number", &num) ||
        !qtest_arg_i64(s, argv, 4, "level", &level)) {
        return;
    }
    if (num < 0 || num >= IRQCHIP_NR_GSIS) {
        qtest_reply(
            s, "FAIL set_irq_in: IRQ number %" PRIi64 " is out of range", num);
        return;
    }
    /* Any "IRQ raise/lower" this causes goes out before the OK. */
    irqchip_set_gsi(num, level != 0);
    qtest_reply(s, "OK");
}

/*
 * baton's extension: MSIs have no pin to intercept, so a client asks for
 * them explicitly, and only a client that asked gets the "IRQ msi" lines
 * (QEMU's libqtest would reject a line whose third word is no number).
 */
static void qtest_cmd_irq_intercept_msi(QtestSession *s,
                                        const QtestCommand *cmd, char **argv)
{
    s->intercept_msi = true;
    qtest_reply(s, "OK");
}

static void qtest_cmd_module_load(QtestSession *s, const QtestCommand *cmd,
                                  char **argv)
{
    /* baton has no loadable modules; QEMU answers a bare FAIL. */
    qtest_reply(s, "FAIL");
}

static const QtestCommand qtest_commands[] = {
    {"readb", 1, 1, "ADDR", false, 1, qtest_cmd_readx},
    {"readw", 1, 1, "ADDR", false, 2, qtest_cmd_readx},
    {"readl", 1, 1, "ADDR", false, 4, qtest_cmd_readx},
    {"readq", 1, 1, "ADDR", false, 8, qtest_cmd_readx},
    {"writeb", 2, 2, "ADDR VALUE", false, 1, qtest_cmd_writex},
    {"writew", 2, 2, "ADDR VALUE", false, 2, qtest_cmd_writex},
    {"writel", 2, 2, "ADDR VALUE", false, 4, qtest_cmd_writex},
    {"writeq", 2, 2, "ADDR VALUE", false, 8, qtest_cmd_writex},
    {"inb", 1, 1, "ADDR", false, 1, qtest_cmd_inx},
    {"inw", 1, 1, "ADDR", false, 2, qtest_cmd_inx},
    {"inl", 1, 1, "ADDR", false, 4, qtest_cmd_inx},
    {"outb", 2, 2, "ADDR VALUE", false, 1, qtest_cmd_outx},
    {"outw", 2, 2, "ADDR VALUE", false, 2, qtest_cmd_outx},
    {"outl", 2, 2, "ADDR VALUE", false, 4, qtest_cmd_outx},
    {"read", 2, 2, "ADDR SIZE", false, 0, qtest_cmd_read},
    {"write", 3, 3, "ADDR SIZE DATA", false, 0, qtest_cmd_write},
    {"b64read", 2, 2, "ADDR SIZE", false, 0, qtest_cmd_b64read},
    {"b64write", 3, 3, "ADDR SIZE B64_DATA", false, 0, qtest_cmd_b64write},
    {"memset", 3, 3, "ADDR SIZE VALUE", false, 0, qtest_cmd_memset},
    {"endianness", 0, 0, "", false, 0, qtest_cmd_endianness},
    {"clock_step", 0, 1, "[NS]", true, 0, qtest_cmd_clock_step},
    {"clock_set", 1, 1, "NS", true, 0, qtest_cmd_clock_set},
    {"irq_intercept_in", 1, 2, "QOM-PATH [NAME]", false, 0,
     qtest_cmd_irq_intercept},
    {"irq_intercept_out", 1, 2, "QOM-PATH [NAME]", false, 1,
     qtest_cmd_irq_intercept},
    {"set_irq_in", 4, 4, "QOM-PATH NAME NUM LEVEL", false, 0,
     qtest_cmd_set_irq_in},
    {"irq_intercept_msi", 0, 0, "", false, 0, qtest_cmd_irq_intercept_msi},
    {"module_load", 2, 2, "PREFIX LIBNAME", false, 0, qtest_cmd_module_load},
};

static const QtestCommand *qtest_command_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(qtest_commands); i++) {
        const QtestCommand *cmd = &qtest_commands[i];

        if (strcmp(cmd->name, name) == 0 &&
            (!cmd->needs_accel || qtest_enabled())) {
            return cmd;
        }
    }
    return NULL;
}

/* Split on spaces and tabs, dropping the empty words runs of them leave. */
static char **qtest_split_words(const char *line)
{
    char **words = g_strsplit_set(line, " \t", -1);
    unsigned int n = 0;

    for (unsigned int i = 0; words[i]; i++) {
        if (words[i][0]) {
            words[n++] = words[i];
        } else {
            g_free(words[i]);
        }
    }
    words[n] = NULL;
    return words;
}

static void qtest_log_request(QtestSession *s, char **words)
{
    if (!s->log) {
        return;
    }
    fprintf(s->log, "[R +%.06f]", g_timer_elapsed(s->timer, NULL));
    for (unsigned int i = 0; words[i]; i++) {
        fprintf(s->log, " %s", words[i]);
    }
    fputc('\n', s->log);
}

void qtest_session_handle_line(QtestSession *s, const char *line)
{
    g_autofree char *copy = g_strdup(line);
    g_auto(GStrv) words = NULL;
    const QtestCommand *cmd;
    size_t len = strlen(copy);
    unsigned int nargs;

    /* Tolerate CRLF from interactive clients (telnet, socat CRLF). */
    if (len && copy[len - 1] == '\r') {
        copy[len - 1] = '\0';
    }
    words = qtest_split_words(copy);
    qtest_log_request(s, words);

    if (!words[0]) {
        qtest_reply(s, "FAIL Unknown command ''");
        return;
    }
    cmd = qtest_command_find(words[0]);
    if (!cmd) {
        qtest_reply(s, "FAIL Unknown command '%s'", words[0]);
        return;
    }
    nargs = g_strv_length(words) - 1;
    if (nargs < cmd->min_args || nargs > cmd->max_args) {
        qtest_reply(s, "FAIL usage: %s%s%s", cmd->name,
                    cmd->usage[0] ? " " : "", cmd->usage);
        return;
    }
    cmd->fn(s, cmd, words);
}

/* Sessions */

QtestSession *qtest_session_new(QtestSendFn send, void *opaque)
{
    QtestSession *s = g_new0(QtestSession, 1);

    s->send = send;
    s->opaque = opaque;
    s->inbuf = g_string_new(NULL);
    s->timer = g_timer_new();
    qtest_sessions = g_slist_prepend(qtest_sessions, s);
    return s;
}

void qtest_session_free(QtestSession *s)
{
    if (!s) {
        return;
    }
    qtest_sessions = g_slist_remove(qtest_sessions, s);
    g_string_free(s->inbuf, TRUE);
    g_timer_destroy(s->timer);
    g_free(s);
}

void qtest_session_set_log(QtestSession *s, FILE *fp)
{
    s->log = fp;
}

static void qtest_session_line_done(QtestSession *s)
{
    g_autofree char *line = NULL;

    if (s->discarding) {
        s->discarding = false;
        qtest_reply(s, "FAIL request line longer than %zu bytes",
                    QTEST_MAX_LINE);
        return;
    }
    if (memchr(s->inbuf->str, '\0', s->inbuf->len)) {
        g_string_truncate(s->inbuf, 0);
        qtest_reply(s, "FAIL request line contains a NUL byte");
        return;
    }
    line = g_strndup(s->inbuf->str, s->inbuf->len);
    g_string_truncate(s->inbuf, 0);
    qtest_session_handle_line(s, line);
}

/*
 * Search only the newly received bytes for '\n', so a long line arriving
 * in small pieces costs linear time.
 */
void qtest_session_feed(QtestSession *s, const uint8_t *buf, size_t len)
{
    while (len) {
        const uint8_t *nl = memchr(buf, '\n', len);
        size_t take = nl ? (size_t)(nl - buf) : len;

        if (!s->discarding) {
            if (s->inbuf->len + take > QTEST_MAX_LINE) {
                s->discarding = true;
                g_string_truncate(s->inbuf, 0);
            } else {
                g_string_append_len(s->inbuf, (const char *)buf, take);
            }
        }
        if (!nl) {
            return;
        }
        buf += take + 1;
        len -= take + 1;
        qtest_session_line_done(s);
    }
}

void qtest_session_opened(QtestSession *s)
{
    memset(s->irq_reported, 0, sizeof(s->irq_reported));
    g_timer_start(s->timer);
    if (s->log) {
        fprintf(s->log, "[I %.06f] OPENED\n", g_timer_elapsed(s->timer, NULL));
    }
}

void qtest_session_closed(QtestSession *s)
{
    g_string_truncate(s->inbuf, 0);
    s->discarding = false;
    if (s->log) {
        fprintf(s->log, "[I +%.06f] CLOSED\n", g_timer_elapsed(s->timer, NULL));
    }
}

void qtest_irq_notify(unsigned int gsi, bool level)
{
    if (gsi >= QTEST_MAX_IRQ) {
        return;
    }
    for (GSList *l = qtest_sessions; l; l = l->next) {
        QtestSession *s = l->data;

        if (s->intercept_in && s->irq_reported[gsi] != level) {
            s->irq_reported[gsi] = level;
            qtest_reply(s, "IRQ %s %u", level ? "raise" : "lower", gsi);
        }
    }
}

void qtest_msi_notify(uint64_t address, uint32_t data)
{
    for (GSList *l = qtest_sessions; l; l = l->next) {
        QtestSession *s = l->data;

        if (s->intercept_msi) {
            qtest_reply(s, "IRQ msi 0x%" PRIx64 " 0x%x", address, data);
        }
    }
}
