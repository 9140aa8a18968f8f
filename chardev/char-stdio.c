/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "chardev-stdio": input from fd 0, output to fd 1. When stdin is a
 * terminal it is put in raw mode (keeping ISIG with signal=on so ^C still
 * stops baton) and restored on close and at exit. One chardev at most may
 * own stdio, as in QEMU.
 *
 * Live update preserves nothing here: the new process reads its own stdin
 * and writes its own stdout (a terminal it shares with the old process or
 * another one). Its frontend still continues the session (no new monitor
 * banner) from the migrated state, and input waits for the take-over.
 */
#include "util/osdep.h"

#include <termios.h>

#include "chardev-internal.h"
#include "migration/cpr.h"

typedef struct StdioChardev {
    Chardev parent;

    bool signal;

    GSource *watch;
} StdioChardev;

/* Process-wide: there is one stdin and one terminal. */
static bool stdio_in_use;
static bool stdio_tty_saved;
static bool stdio_tty_handed_over; /* saved, but not ours to restore */
static struct termios stdio_saved_tty;

static void stdio_restore_tty(void)
{
    if (stdio_tty_saved) {
        tcsetattr(0, TCSANOW, &stdio_saved_tty);
        stdio_tty_saved = false;
    }
}

/*
 * Raw input (no echo, no line editing, no CR/LF mangling) so the guest
 * sees every key; output processing stays on so "\n" still returns the
 * carriage on the host terminal.
 */
static void stdio_set_raw(bool allow_signals)
{
    static bool atexit_done;
    struct termios tty;

    if (!isatty(0) || tcgetattr(0, &stdio_saved_tty) < 0) {
        return;
    }
    stdio_tty_saved = true;
    if (!atexit_done) {
        atexit(stdio_restore_tty);
        atexit_done = true;
    }
    tty = stdio_saved_tty;
    tty.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR |
                     ICRNL | IXON);
    tty.c_oflag |= OPOST;
    tty.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN);
    if (!allow_signals) {
        tty.c_lflag &= ~ISIG;
    }
    tty.c_cflag &= ~(CSIZE | PARENB);
    tty.c_cflag |= CS8;
    tty.c_cc[VMIN] = 1;
    tty.c_cc[VTIME] = 0;
    tcsetattr(0, TCSANOW, &tty);
}

static void stdio_eof(Chardev *chr, int err)
{
    chr_watch_clear(&((StdioChardev *)chr)->watch);
    chr_be_event(chr, CHR_EVENT_CLOSED);
}

static bool stdio_open(Chardev *chr, GError **errp)
{
    StdioChardev *s = (StdioChardev *)chr;

    if (stdio_in_use) {
        /* Not ours to undo in close. */
        chr->live = false;
        error_setg(errp, "cannot use stdio by multiple character devices");
        return false;
    }
    stdio_in_use = true;
    stdio_set_raw(s->signal);
    s->watch = chr_watch_new(chr, 0, false, stdio_eof);
    chr_be_event(chr, CHR_EVENT_OPENED);
    return true;
}

static void stdio_close(Chardev *chr)
{
    chr_watch_clear(&((StdioChardev *)chr)->watch);
    stdio_restore_tty();
    stdio_in_use = false;
}

/*
 * Live update, old process after the hand-over: the new process may be
 * using the same terminal in raw mode now; restoring our saved mode at
 * exit would switch its input back to line editing and echo. ROLLBACK
 * makes the terminal ours again.
 */
static void stdio_cpr_update(Chardev *chr)
{
    if (chr->cpr_state == CHR_CPR_GONE && stdio_tty_saved) {
        stdio_tty_saved = false;
        stdio_tty_handed_over = true;
    } else if (chr->cpr_state == CHR_CPR_LIVE && stdio_tty_handed_over) {
        stdio_tty_saved = true;
        stdio_tty_handed_over = false;
    }
}

static ssize_t stdio_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    return chr_fd_write_all(1, false, buf, len);
}

static const ChardevOps stdio_ops = {
    .open = stdio_open,
    .close = stdio_close,
    .write = stdio_write,
    .cpr_update = stdio_cpr_update,
};

static const Property stdio_props[] = {
    DEFINE_PROP("signal", PROP_BOOL, StdioChardev, signal, .defval = "on",
                .desc = "let ^C and friends signal baton"),
    CHARDEV_COMMON_PROPS,
    { NULL }
};

static const ChardevBackendDef stdio_type = {
    .name = "chardev-stdio",
    .instance_size = sizeof(StdioChardev),
    .props = stdio_props,
    .ops = &stdio_ops,
    .cpr_modes = CHR_CPR_MODES,
    .desc = "standard input and output",
};

static void chardev_stdio_register(void)
{
    chr_register_backend(&stdio_type);
}
type_init(chardev_stdio_register)
