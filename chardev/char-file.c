/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The simple backends: "chardev-file" (output only, truncate or append),
 * "chardev-pipe" (PATH.in/PATH.out, or PATH for both) and "chardev-null"
 * (swallows output, never produces input). All are open from creation on.
 * Live update hands file and pipe fds to the new process as they are.
 */
#include "util/osdep.h"

#include "chardev-internal.h"
#include "migration/cpr.h"

/* ---- file ---- */

typedef struct FileChardev {
    Chardev parent;

    char *path;
    bool append;

    int fd;
} FileChardev;

static bool file_open(Chardev *chr, GError **errp)
{
    FileChardev *s = (FileChardev *)chr;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC |
                (s->append ? O_APPEND : O_TRUNC);

    s->fd = -1;
    if (!s->path || !*s->path) {
        error_setg(errp, "chardev: file: no filename given");
        return false;
    }
    /*
     * Live update: the old process's open file, not opened again, which
     * would truncate it (append=off) and start a second file offset. The
     * offset and O_APPEND live in the open file description both
     * processes share, so output goes on exactly where it stopped.
     */
    s->fd = chr_cpr_find(chr, "out");
    if (s->fd < 0) {
        s->fd = open(s->path, flags, 0666);
        if (s->fd < 0) {
            error_setg_errno(errp, errno, "could not open '%s'", s->path);
            return false;
        }
        chr_cpr_save(chr, "out", s->fd);
    }
    chr_be_event(chr, CHR_EVENT_OPENED);
    return true;
}

static void file_close(Chardev *chr)
{
    FileChardev *s = (FileChardev *)chr;

    chr_cpr_forget(chr, "out", s->fd);
    chr_close_fd(&s->fd);
}

static ssize_t file_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    return chr_fd_write_all(((FileChardev *)chr)->fd, false, buf, len);
}

static const ChardevOps file_ops = {
    .open = file_open,
    .close = file_close,
    .write = file_write,
};

static const Property file_props[] = {
    DEFINE_PROP("path", PROP_STRING, FileChardev, path,
                .desc = "output file"),
    DEFINE_PROP("append", PROP_BOOL, FileChardev, append,
                .desc = "append instead of truncating"),
    CHARDEV_COMMON_PROPS,
    { NULL }
};

static const ChardevBackendDef file_type = {
    .name = "chardev-file",
    .instance_size = sizeof(FileChardev),
    .props = file_props,
    .ops = &file_ops,
    .cpr_modes = CHR_CPR_MODES,
    .desc = "write output to a file",
};

/* ---- pipe ---- */

typedef struct PipeChardev {
    Chardev parent;

    char *path;

    int fd_in;
    int fd_out;
    GSource *watch;
} PipeChardev;

static void pipe_eof(Chardev *chr, int err)
{
    chr_watch_clear(&((PipeChardev *)chr)->watch);
    chr_be_event(chr, CHR_EVENT_CLOSED);
}

/*
 * O_RDWR, as QEMU does: a FIFO opened read-write neither blocks in open()
 * waiting for a peer nor reports EOF when the peer closes its end.
 */
static int pipe_open_one(const char *path)
{
    return open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
}

/*
 * Live update: the old process's two fds, so that whatever the peer wrote
 * and nobody has read yet is still queued in the FIFO for us; the watch
 * stays idle until the take-over. Returns false if none were handed over.
 */
static bool pipe_cpr_adopt(PipeChardev *s)
{
    Chardev *chr = &s->parent;
    int in = chr_cpr_find(chr, "in");
    int out = chr_cpr_find(chr, "out");

    if (in < 0 || out < 0) {
        return false;
    }
    s->fd_in = in;
    s->fd_out = out;
    s->watch = chr_watch_new(chr, s->fd_in, false, pipe_eof);
    chr_be_event(chr, CHR_EVENT_OPENED);
    return true;
}

static bool pipe_open(Chardev *chr, GError **errp)
{
    PipeChardev *s = (PipeChardev *)chr;
    g_autofree char *in = NULL;
    g_autofree char *out = NULL;

    s->fd_in = s->fd_out = -1;
    if (!s->path || !*s->path) {
        error_setg(errp, "chardev: pipe: no device path given");
        return false;
    }
    if (pipe_cpr_adopt(s)) {
        return true;
    }
    in = g_strdup_printf("%s.in", s->path);
    out = g_strdup_printf("%s.out", s->path);
    s->fd_in = pipe_open_one(in);
    s->fd_out = pipe_open_one(out);
    if (s->fd_in < 0 || s->fd_out < 0) {
        chr_close_fd(&s->fd_in);
        chr_close_fd(&s->fd_out);
        s->fd_in = pipe_open_one(s->path);
        if (s->fd_in < 0) {
            error_setg_errno(errp, errno, "could not open '%s'", s->path);
            return false;
        }
        s->fd_out = dup(s->fd_in);
        if (s->fd_out < 0) {
            error_setg_errno(errp, errno, "could not open '%s'", s->path);
            return false;
        }
    }
    chr_cpr_save(chr, "in", s->fd_in);
    chr_cpr_save(chr, "out", s->fd_out);
    s->watch = chr_watch_new(chr, s->fd_in, false, pipe_eof);
    chr_be_event(chr, CHR_EVENT_OPENED);
    return true;
}

static void pipe_close(Chardev *chr)
{
    PipeChardev *s = (PipeChardev *)chr;

    chr_watch_clear(&s->watch);
    chr_cpr_forget(chr, "in", s->fd_in);
    chr_cpr_forget(chr, "out", s->fd_out);
    chr_close_fd(&s->fd_in);
    chr_close_fd(&s->fd_out);
}

static ssize_t pipe_write(Chardev *chr, const uint8_t *buf, size_t len)
{
    return chr_fd_write_all(((PipeChardev *)chr)->fd_out, false, buf, len);
}

static const ChardevOps pipe_ops = {
    .open = pipe_open,
    .close = pipe_close,
    .write = pipe_write,
};

static const Property pipe_props[] = {
    DEFINE_PROP("path", PROP_STRING, PipeChardev, path,
                .desc = "pipe path (PATH.in and PATH.out if both exist)"),
    CHARDEV_COMMON_PROPS,
    { NULL }
};

static const ChardevBackendDef pipe_type = {
    .name = "chardev-pipe",
    .instance_size = sizeof(PipeChardev),
    .props = pipe_props,
    .ops = &pipe_ops,
    .cpr_modes = CHR_CPR_MODES,
    .desc = "read and write a named pipe",
};

/* ---- null ---- */

static bool null_open(Chardev *chr, GError **errp)
{
    chr_be_event(chr, CHR_EVENT_OPENED);
    return true;
}

static void null_close(Chardev *chr)
{
}

static const ChardevOps null_ops = {
    .open = null_open,
    .close = null_close,
};

static const Property null_props[] = {
    CHARDEV_COMMON_PROPS,
    { NULL }
};

static const ChardevBackendDef null_type = {
    .name = "chardev-null",
    .instance_size = sizeof(Chardev),
    .props = null_props,
    .ops = &null_ops,
    .cpr_modes = CHR_CPR_MODES,
    .desc = "discard output, no input",
};

static void chardev_file_register(void)
{
    chr_register_backend(&file_type);
    chr_register_backend(&pipe_type);
    chr_register_backend(&null_type);
}
type_init(chardev_file_register)
