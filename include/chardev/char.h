/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Character devices: the host side of serial ports and monitors.
 * Backends (types "chardev-stdio", "chardev-file", "chardev-pipe",
 * "chardev-socket", "chardev-pty", "chardev-null") are object types; a
 * frontend (UART, QMP/HMP monitor, qtest) attaches to one chardev.
 *
 * Threading: all chardev I/O callbacks run in the main loop with the big
 * lock held. chardev_write() may be called from any thread holding the big
 * lock (the UART writes from vCPU threads).
 */
#ifndef BATON_CHARDEV_CHAR_H
#define BATON_CHARDEV_CHAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "util/option.h"

typedef struct Chardev Chardev;

typedef enum ChardevEvent {
    CHR_EVENT_OPENED, /* a peer connected (socket client accepted, ...) */
    CHR_EVENT_CLOSED, /* the peer went away */
} ChardevEvent;

typedef struct ChardevFrontendOps {
    /* How many bytes the frontend can take now; 0 pauses reading. */
    size_t (*can_read)(void *opaque);
    void (*read)(void *opaque, const uint8_t *buf, size_t len);
    void (*event)(void *opaque, ChardevEvent event);
} ChardevFrontendOps;

/*
 * -chardev BACKEND,id=ID,... (OPTS holds "backend" as the implied key, or
 * QEMU's JSON form). Returns the realized chardev or NULL + errp.
 */
Chardev *chardev_new_from_opts(const OptList *opts, GError **errp);
/*
 * QEMU's -serial/-monitor/-qmp/-qtest shorthand: "stdio", "null", "none"
 * (returns NULL without error), "pty", "file:PATH", "pipe:PATH",
 * "unix:PATH[,server=on,wait=off]", "tcp:HOST:PORT[,server=on,...]",
 * "chardev:ID" (an existing chardev). New chardevs get id ID_HINT.
 */
Chardev *chardev_new_from_spec(const char *spec, const char *id_hint,
                               GError **errp);
Chardev *chardev_find(const char *id);
/* Call FN for every chardev, in creation order (FN may remove it). */
void chardev_foreach(void (*fn)(Chardev *chr, void *opaque), void *opaque);
const char *chardev_id(const Chardev *chr);
/* The QMP "filename" string of query-chardev ("unix:/p,server=on", "pty:/dev/pts/3"). */
char *chardev_filename(const Chardev *chr);
/* Whether a frontend is attached (query-chardev's "frontend-open"). */
bool chardev_frontend_open(const Chardev *chr);

/*
 * Attach a frontend. Only one frontend per chardev: a second attach fails
 * with "chardev 'ID' is already in use". If the backend is already
 * connected, OPENED is delivered from the main loop after attaching.
 */
bool chardev_attach(Chardev *chr, const ChardevFrontendOps *ops, void *opaque,
                    GError **errp);
void chardev_detach(Chardev *chr);

/*
 * Write all of BUF, blocking briefly if the peer is slow. With no peer
 * connected (socket not yet accepted), data is dropped as in QEMU, unless
 * the chardev holds output (chardev_hold_output()). Returns the number of
 * bytes accepted or -errno.
 */
ssize_t chardev_write(Chardev *chr, const uint8_t *buf, size_t len);
/*
 * Output continuity across migration and live update
 * (docs/system/migration.md, "Serial output"). A frontend whose output is
 * one stream that must go on where another process left it (the UART)
 * calls chardev_hold_output() when its state has been loaded: from then
 * on, output written while CHR has no peer is kept, up to
 * CHARDEV_HOLD_MAX bytes (the oldest are kept; the rest is counted and
 * reported), and sent to the next peer before anything else. BUF/LEN:
 * the output the previous process kept, which goes first. Nothing held
 * is sent before the guest starts in this process (vm_start()), which
 * then owns the stream. The hold ends once a peer has taken everything
 * held; from then on a peer that comes and goes loses what is written in
 * between, as in QEMU. Big lock held.
 */
#define CHARDEV_HOLD_MAX (64 * 1024)
void chardev_hold_output(Chardev *chr, const uint8_t *buf, size_t len);
/*
 * The frontend's state is being saved: copy what CHR holds (at most MAX
 * bytes) to BUF for it and return the count. The bytes stay here but are
 * not sent unless the guest starts again in this process (a failed
 * migration); otherwise the destination sends them.
 */
size_t chardev_hold_save(Chardev *chr, uint8_t *buf, size_t max);
/*
 * Descriptors a UNIX socket peer sent (SCM_RIGHTS) together with the bytes
 * being delivered to CHR's frontend right now: returns the next one (the
 * caller owns it) or -1 if none is left. Only valid inside the frontend's
 * read callback, main thread; descriptors nobody took are closed when the
 * callback returns. CHR NULL means the chardev whose callback is running
 * (the monitor commands getfd and add-fd use this).
 */
int chardev_get_msgfd(Chardev *chr);
/* Drop the current peer (QMP "quit" of a client, protocol errors). */
void chardev_disconnect(Chardev *chr);

/*
 * Live update (CPR), new process: whether CHR's peer was handed over by
 * the old process, connected all along (a socket client, or the open
 * file, pipe, pty slave, stdio or null of those backends). Such a chardev
 * is open but delivers no CHR_EVENT_OPENED: for the frontend the session
 * simply continues, restored from the frontend's migrated state (the
 * monitor sends no greeting). Until the take-over it reads nothing and
 * drops writes. False again once that peer goes away.
 */
bool chardev_is_adopted_connected(const Chardev *chr);
/*
 * Live update: a chardev is inherited by the new process only if it is
 * configured there as here (docs/system/live-update.md). A frontend
 * whose configuration counts too (a monitor: "monitor,mode=control")
 * describes itself with chardev_cpr_set_frontend() (NULL: none).
 * chardev_cpr_inherited(): new process, until the take-over: CHR is the
 * old process's (it adopts its fds and session). chardev_cpr_handed_over():
 * old process: CHR goes to the new process in the update under way (false
 * once the new process has said it opens its own).
 */
void chardev_cpr_set_frontend(Chardev *chr, const char *desc);
bool chardev_cpr_inherited(const Chardev *chr);
bool chardev_cpr_handed_over(const Chardev *chr);
/*
 * Live update, new image (cpr-exec only; a no-op otherwise): let adopted
 * CHR read and write before the take-over. The old image is gone, so no
 * other process uses the fds; the frontend calls this once it has
 * restored its session (a monitor must answer migrate-incoming).
 */
void chardev_cpr_start_io(Chardev *chr);

/* Close every chardev, restoring terminal state (stdio raw mode). */
void chardev_cleanup_all(void);

#endif
