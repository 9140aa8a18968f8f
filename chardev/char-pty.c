/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * "chardev-pty": a pseudo-terminal whose slave (/dev/pts/N) the user
 * opens with screen, minicom or socat. The chardev counts as connected
 * while some process holds the slave open; until then output is dropped,
 * as in QEMU, so nothing piles up in the kernel buffer for a later reader.
 * Live update hands the master to the new process: the peer keeps its
 * slave and notices nothing.
 */
#include "util/osdep.h"

#include <poll.h>
#include <termios.h>

#include "chardev-internal.h"
#include "migration/cpr.h"
#include "util/error-report.h"

/* How often a pty nobody has open checks whether someone opened it. */
#define PTY_POLL_MS 200

typedef struct PtyChardev {
    Chardev parent;

    int fd;             /* master */
    char *name;         /* /dev/pts/N */
    bool connected;
    GSource *watch;
    guint timer;
    guint recheck;      /* idle re-check requested by a failed write */
} PtyChardev;

/*
 * The master reports POLLHUP while no process has the slave open (the
 * kernel sets "other side closed" on the master), so a zero-timeout poll
 * tells whether a reader is there.
 */
static bool pty_slave_open(PtyChardev *s)
{
    struct pollfd pfd = { .fd = s->fd, .events = POLLIN };

    return poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLHUP);
}

static gboolean pty_timer(gpointer opaque);
static void pty_eof(Chardev *chr, int err);

static void pty_set_connected(PtyChardev *s, bool connected)
{
    Chardev *chr = &s->parent;

    if (s->connected == connected) {
        return;
    }
    s->connected = connected;
    if (connected) {
        if (s->timer) {
            g_source_remove(s->timer);
            s->timer = 0;
        }
        s->watch = chr_watch_new(chr, s->fd, false, pty_eof);
        chr_be_event(chr, CHR_EVENT_OPENED);
    } else {
        chr_watch_clear(&s->watch);
        if (!s->timer) {
            s->timer = g_timeout_add(PTY_POLL_MS, pty_timer, s);
        }
        chr_be_event(chr, CHR_EVENT_CLOSED);
    }
}

static gboolean pty_timer(gpointer opaque)
{
    PtyChardev *s = opaque;

    if (!chr_cpr_may_connect(&s->parent) || !pty_slave_open(s)) {
        return G_SOURCE_CONTINUE;
    }
    s->timer = 0;
    pty_set_connected(s, true);
    return G_SOURCE_REMOVE;
}

/* Reading the master fails with EIO once the last slave fd closes. */
static void pty_eof(Chardev *chr, int err)
{
    pty_set_connected((PtyChardev *)chr, false);
}

/* Raw mode on the slave, so the guest's bytes pass through unchanged. */
static bool pty_make_raw(const char *name, GError **errp)
{
    struct termios tty;
    int sfd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (sfd < 0) {
        error_setg_errno(errp, errno, "could not open pty slave '%s'", name);
        return false;
    }
    if (tcgetattr(sfd, &tty) == 0) {
        cfmakeraw(&tty);
        tcsetattr(sfd, TCSAFLUSH, &tty);
    }
    /* Closing it also puts the master in the "nobody there" state. */
    close(sfd);
    return true;
}

/*
 * Live update: the old process's master. Skipped: allocating and
 * unlocking a pty, making the slave raw (opening it and TCSAFLUSH would
 * discard what is queued either way) and announcing the name (the user
 * has it already; nothing new is printed). The slave-open check only
 * polls; the read watch stays idle until the take-over.
 */
static bool pty_cpr_adopt(PtyChardev *s, int fd, GError **errp)
{
    char name[64];

    s->fd = fd;
    if (ptsname_r(s->fd, name, sizeof(name)) != 0) {
        error_setg_errno(errp, errno, "chardev '%s': the preserved fd is "
                         "not a pty master", chardev_id(&s->parent));
        return false;
    }
    s->name = g_strdup(name);
    if (pty_slave_open(s)) {
        pty_set_connected(s, true);
    }
    return true;
}

static bool pty_open(Chardev *chr, GError **errp)
{
    PtyChardev *s = (PtyChardev *)chr;
    char name[64];
    int flags;
    int fd = chr_cpr_find(chr, "master");

    if (fd >= 0) {
        return pty_cpr_adopt(s, fd, errp);
    }
    s->fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s->fd < 0) {
        error_setg_errno(errp, errno, "could not allocate a pty");
        return false;
    }
    chr_cpr_save(chr, "master", s->fd);
    if (grantpt(s->fd) < 0 || unlockpt(s->fd) < 0 ||
        ptsname_r(s->fd, name, sizeof(name)) != 0) {
        error_setg_errno(errp, errno, "could not set up the pty");
        return false;
    }
    s->name = g_strdup(name);
    if (!pty_make_raw(s->name, errp)) {
        return false;
    }
    flags = fcntl(s->fd, F_GETFL);
    fcntl(s->fd, F_SETFL, flags | O_NONBLOCK);
    info_report("char device redirected to %s (label %s)", s->name,
                chardev_id(chr));
    s->timer = g_timeout_add(PTY_POLL_MS, pty_timer, s);
    return true;
}

static void pty_close(Chardev *chr)
{
    PtyChardev *s = (PtyChardev *)chr;

    chr_watch_clear(&s->watch);
    if (s->timer) {
        g_source_remove(s->timer);
        s->timer = 0;
    }
    if (s->recheck) {
        g_source_remove(s->recheck);
        s->recheck = 0;
    }
    s->connected = false;
    chr_cpr_forget(chr, "master", s->fd);
    chr_close_fd(&s->fd);
    g_clear_pointer(&s->name, g_free);
}

static gboolean pty_recheck(gpointer opaque)
{
    PtyChardev *s = opaque;

    s->recheck = 0;
    if (chr_cpr_may_connect(&s->parent)) {
        pty_set_connected(s, pty_slave_open(s));
    }
    return G_SOURCE_REMOVE;
}

/*
 * Live update: look for a slave being opened only while this process
 * owns the pty. A reader that went away meanwhile is noticed by the read
 * watch once it runs again.
 */
static void pty_cpr_update(Chardev *chr)
{
    PtyChardev *s = (PtyChardev *)chr;

    if (!chr_cpr_may_connect(chr)) {
        if (s->timer) {
            g_source_remove(s->timer);
            s->timer = 0;
        }
        if (s->recheck) {
            g_source_remove(s->recheck);
            s->recheck = 0;
        }
    } else if (!s->connected && !s->timer) {
        s->timer = g_timeout_add(PTY_POLL_MS, pty_timer, s);
    }
}

/*
 * Writers may be vCPU threads: state changes (and the frontend events they
 * raise) are left to the main loop rather than done under the writer.
 */
static ssize_t pty_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    PtyChardev *s = (PtyChardev *)chr;
    ssize_t r;

    if (!s->connected) {
        return len;
    }
    r = chr_fd_write_all(s->fd, false, buf, len);
    if (r == -EIO) {
        /* The reader went away: drop the bytes like any unread output. */
        if (!s->recheck) {
            s->recheck = g_idle_add(pty_recheck, s);
        }
        return len;
    }
    return r;
}

static char *pty_filename(Chardev *chr)
{
    return g_strdup_printf("pty:%s", ((PtyChardev *)chr)->name);
}

static const ChardevOps pty_ops = {
    .open = pty_open,
    .close = pty_close,
    .write = pty_write,
    .filename = pty_filename,
    .cpr_update = pty_cpr_update,
};

static const Property pty_props[] = {
    CHARDEV_COMMON_PROPS,
    { NULL }
};

static const ChardevBackendDef pty_type = {
    .name = "chardev-pty",
    .instance_size = sizeof(PtyChardev),
    .props = pty_props,
    .ops = &pty_ops,
    .cpr_modes = CHR_CPR_MODES,
    .desc = "pseudo-terminal (/dev/pts/N)",
};

static void chardev_pty_register(void)
{
    chr_register_backend(&pty_type);
}
type_init(chardev_pty_register)
