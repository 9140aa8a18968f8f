/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Private to chardev/: the Chardev instance layout shared by every backend,
 * the per-backend operations table, and the helpers the backends share
 * (frontend delivery, the can_read-gated fd watch, blocking write-all).
 * Nothing outside chardev/ includes this file.
 */
#ifndef BATON_CHARDEV_CHARDEV_INTERNAL_H
#define BATON_CHARDEV_CHARDEV_INTERNAL_H

#include "chardev/char.h"
#include "hw/core/object.h"
#include "migration/cpr.h"

/*
 * What a backend implements. OPEN runs from realize after the common
 * options are applied; it must leave the chardev closable by CLOSE even
 * when it fails half-way (CLOSE is then called). CLOSE is idempotent.
 */
typedef struct ChardevOps {
    bool (*open)(Chardev *chr, GError **errp);
    void (*close)(Chardev *chr);
    /* Write all of BUF; returns LEN, a short count, or -errno. NULL: drop. */
    ssize_t (*write)(Chardev *chr, const uint8_t *buf, size_t len);
    /* Drop the current peer (sockets); NULL: nothing to drop. */
    void (*disconnect)(Chardev *chr);
    /* query-chardev "filename"; NULL: the type name without "chardev-". */
    char *(*filename)(Chardev *chr);
    /*
     * Live update: chr->cpr_state changed. Add or remove the sources that
     * bring in new peers or poll for them (accept watches, redial and
     * slave-open timers) to match chr_cpr_may_connect(). Read watches made
     * by chr_watch_new() follow the state on their own. NULL: none.
     */
    void (*cpr_update)(Chardev *chr);
    /*
     * Live update, new process, still WAITING: the old process's fd for
     * ROLE changed after the CPR state was sent; it is FD now (-1: gone).
     * OLD_FD is the one this chardev took for ROLE (-1: none): close it
     * and use FD, as if the old process had handed that over. NULL: this
     * backend's fds never change while it is handed over.
     */
    bool (*cpr_late)(Chardev *chr, const char *role, int old_fd, int fd,
                     GError **errp);
} ChardevOps;

/*
 * What a chardev may do during a live update (CPR), from most to least;
 * char.c "live update" has the transitions.
 */
typedef enum ChrCprState {
    CHR_CPR_LIVE,      /* normal */
    /*
     * Old process, update under way: accept no new peer and redial none,
     * since a connection made now would not reach the new process.
     */
    CHR_CPR_NO_ACCEPT,
    /* New process before the take-over: no I/O at all; writes dropped. */
    CHR_CPR_WAITING,
    /*
     * Old process from the hand-over on (the guest stopped for good
     * unless the update fails and ROLLBACK brings it back): no I/O.
     */
    CHR_CPR_GONE,
} ChrCprState;

struct Chardev {
    Object parent_obj;

    /* Common properties (every backend's table lists them). */
    char *logfile;
    bool logappend;

    /* Runtime state. */
    const ChardevOps *ops;
    bool live;          /* OPEN ran and CLOSE has not */
    bool be_open;       /* backend connected: last event was OPENED */
    int logfd;
    const ChardevFrontendOps *fe_ops;
    void *fe_opaque;
    guint fe_open_idle; /* pending OPENED for a freshly attached frontend */
    ChrCprState cpr_state;
    /* The peer was handed over by live update: no OPENED for it. */
    bool adopted_conn;
    /*
     * Output kept for the next peer (chardev_hold_output()); NULL when
     * not holding. At most CHARDEV_HOLD_MAX bytes; held_dropped counts
     * what did not fit. held_frozen: not to be sent (the guest has not
     * started here since the state was loaded or saved). Big lock held.
     */
    GByteArray *held;
    uint64_t held_dropped;
    bool held_frozen;
    /*
     * Live update (char-cpr.c): the canonical options and the frontend's
     * description, recorded for the comparison with the other process;
     * new process: whether this chardev is the old process's (same
     * configuration) and adopts its fds.
     */
    char *cpr_options;
    char *cpr_frontend;
    bool cpr_inherited;
};

static inline bool chr_cpr_may_connect(const Chardev *chr)
{
    return chr->cpr_state == CHR_CPR_LIVE;
}

static inline bool chr_cpr_may_read(const Chardev *chr)
{
    return chr->cpr_state <= CHR_CPR_NO_ACCEPT;
}

static inline bool chr_cpr_may_write(const Chardev *chr)
{
    return chr->cpr_state <= CHR_CPR_NO_ACCEPT;
}

/*
 * Live update, at realize before the backend opens (char-cpr.c): record
 * CHR's configuration; in a new process, decide whether it inherits the
 * old process's chardev of the same id (chr->cpr_inherited) or is a new
 * one (the old fds are dropped). Fails if a new one would take a path
 * the old process still serves (cpr-transfer).
 */
bool chr_cpr_decide(Chardev *chr, GError **errp);
/* At unrealize: forget the record. */
void chr_cpr_release(Chardev *chr);
/* The canonical options of CHR ("socket,path=/p,server=on"); free it. */
char *chr_cpr_options(const Chardev *chr);

/*
 * The CPR fds of a chardev (cpr_own_fd() under its path), by ROLE
 * ("listen", "conn", "out", "in", "master", "log"). chr_cpr_find() returns
 * the fd the old process handed over, or -1 when this process is not
 * taking over a guest or CHR is not the old process's. chr_cpr_save()
 * registers a new fd; chr_cpr_forget() drops the entry if it still names
 * FD (call it before closing FD).
 */
int chr_cpr_find(Chardev *chr, const char *role);
void chr_cpr_save(Chardev *chr, const char *role, int fd);
void chr_cpr_forget(Chardev *chr, const char *role, int fd);

/*
 * Every backend supports every live update mode: its fds are in the CPR
 * registry (stdio has none: the new process uses its own).
 */
#define CHR_CPR_MODES \
    (MIG_MODE_BIT(MIG_MODE_CPR_REBOOT) | CPR_MODES_PRESERVING)

/* Property rows for the options every backend accepts. */
#define CHARDEV_COMMON_PROPS                                         \
    DEFINE_PROP("logfile", PROP_STRING, Chardev, logfile,            \
                .desc = "file that receives a copy of the output"),  \
    DEFINE_PROP("logappend", PROP_BOOL, Chardev, logappend,          \
                .desc = "append to the logfile instead of truncating")

/*
 * A backend: type "chardev-NAME" below TYPE_CHARDEV, its instance struct
 * (starting with Chardev), its property table and ops. Static.
 */
typedef struct ChardevBackendDef {
    const char *name;           /* the type name, "chardev-socket" */
    size_t instance_size;
    const Property *props;
    const ChardevOps *ops;
    unsigned int cpr_modes;
    const char *desc;
} ChardevBackendDef;

/* The chardev class: the backend's ops (what complete() dispatches to). */
typedef struct ChardevClass {
    ObjectClass parent_class;

    const ChardevOps *ops;
} ChardevClass;

void chr_register_backend(const ChardevBackendDef *def);

/*
 * QMP chardev-add's nested form, flattened by opts_parse ("backend.type",
 * "backend.data.addr.data.path", ...), rewritten as -chardev options with
 * QMP's defaults (server=on, wait=off). Returns NULL + errp on keys with
 * no -chardev equivalent.
 */
OptList *chr_opts_from_qapi(const OptList *opts, GError **errp);

/* Delivery to the attached frontend (no-ops without one). */
size_t chr_be_can_read(Chardev *chr);
void chr_be_read(Chardev *chr, const uint8_t *buf, size_t len);
/* Record the backend state and tell the frontend. */
void chr_be_event(Chardev *chr, ChardevEvent event);

/*
 * A GSource reading FD into the frontend: it reads only while the frontend
 * can take bytes (can_read() > 0), at most that many per read, and
 * re-checks every few ms while an attached frontend is full. EOF(chr, err)
 * runs from the watch's dispatch on end of file (err 0), a hard read error
 * (errno), or a hang-up while nobody is reading; it usually destroys the
 * watch. A hang-up with bytes still queued waits for the frontend to
 * drain them first.
 */
typedef void (*ChrEofFunc)(Chardev *chr, int err);
GSource *chr_watch_new(Chardev *chr, int fd, bool is_socket, ChrEofFunc eof);
/* Destroy and unref *SRC if set, and clear it. */
void chr_watch_clear(GSource **src);

/*
 * Write all of BUF to FD (send(MSG_NOSIGNAL) when IS_SOCKET), waiting for
 * POLLOUT on EAGAIN. Gives up after CHR_WRITE_STALL_MS without progress
 * and returns the short count (or -EAGAIN if nothing went out). Returns
 * LEN or -errno on a hard error.
 */
#define CHR_WRITE_STALL_MS 2000
ssize_t chr_fd_write_all(int fd, bool is_socket, const uint8_t *buf,
                         size_t len);

/* Close *FD if >= 0 and set it to -1. */
void chr_close_fd(int *fd);

/* Parse a textual bool/number option value with QEMU's error wording. */
bool chr_parse_bool_opt(const char *name, const char *value, bool def,
                        bool *out, GError **errp);
bool chr_parse_uint_opt(const char *name, const char *value, uint64_t def,
                        uint64_t *out, GError **errp);

#endif
