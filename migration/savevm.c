/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The section registry and the record-level stream format
 * (docs/devel/migration-stream.md): framing, checksums, section matching
 * and validation on load. Field encoding is vmstate.c's, byte I/O is
 * stream.c's, and when to call what is the state machine's (migration.c).
 */
#include "util/osdep.h"

#include <sys/uio.h>

#include "migration/register.h"
#include "savevm.h"
#include "migration/stream.h"
#include "migration/vmstate.h"
#include "system/memory.h"
#include "system/runstate.h"
#include "util/crc32c.h"

#include "trace.h"

/* savevm_live_split() sends the record under construction past this. */
#define SAVEVM_SPLIT_SIZE (1024 * 1024)
/* Type byte + u32 length in front of each payload, u32 CRC after it. */
#define SAVEVM_REC_HEADER 5

typedef struct SaveStateEntry {
    char *idstr;
    int instance_id;
    int version_id;
    const VMStateDescription *vmsd; /* vmstate section, or */
    const SaveVMHandlers *ops;      /* live section */
    void *opaque;

    /* Source, per migration. */
    uint32_t section_id;
    bool active;     /* live: is_active() said yes at setup */
    bool setup_done; /* live: save_setup ran, save_cleanup owed */

    /* Destination, per load. */
    bool loaded;  /* vmstate: its SECTION_FULL was applied */
    bool started; /* live: SECTION_START seen */
    bool ended;   /* live: SECTION_END seen */
    bool load_setup_done;
    int load_version;
} SaveStateEntry;

/* Registration order; changed only with the big lock held. */
static GPtrArray *entries;
static uint32_t next_section_id;
static bool save_setup_done;
static SavevmOptions cur_opts;
static char *last_section;

/* savevm_complete_times(): the pause's sync and RAM phases end here. */
static int64_t complete_synced, complete_live_sent;

/* The live record being built, for savevm_live_split(). */
static struct {
    MigStream *out;
    MigStream *rec;
    SaveStateEntry *se;
    uint8_t type;
} cur_live;

/* ---- registry ---- */

static SaveStateEntry *entry_at(guint i)
{
    return g_ptr_array_index(entries, i);
}

static guint entry_count(void)
{
    return entries ? entries->len : 0;
}

static SaveStateEntry *find_entry(const char *idstr, int instance_id)
{
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->instance_id == instance_id && !strcmp(se->idstr, idstr)) {
            return se;
        }
    }
    return NULL;
}

static int next_instance(const char *idstr)
{
    int n = 0;

    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (!strcmp(se->idstr, idstr) && se->instance_id >= n) {
            n = se->instance_id + 1;
        }
    }
    return n;
}

static void add_entry(const char *idstr, int instance_id, int version_id,
                      const VMStateDescription *vmsd, const SaveVMHandlers *ops,
                      void *opaque)
{
    SaveStateEntry *se = g_new0(SaveStateEntry, 1);

    /* The idstr travels as a u8-length string. */
    g_assert(strlen(idstr) > 0 && strlen(idstr) <= 255);
    if (!entries) {
        entries = g_ptr_array_new();
    }
    if (instance_id < 0) {
        instance_id = next_instance(idstr);
    }
    g_assert(!find_entry(idstr, instance_id));
    se->idstr = g_strdup(idstr);
    se->instance_id = instance_id;
    se->version_id = version_id;
    se->vmsd = vmsd;
    se->ops = ops;
    se->opaque = opaque;
    g_ptr_array_add(entries, se);
}

void savevm_register_live(const char *idstr, int instance_id, int version_id,
                          const SaveVMHandlers *ops, void *opaque)
{
    add_entry(idstr, instance_id, version_id, NULL, ops, opaque);
}

void vmstate_register(const char *idstr, int instance_id,
                      const VMStateDescription *vmsd, void *opaque)
{
    add_entry(idstr, instance_id, vmsd->version_id, vmsd, NULL, opaque);
}

bool vmstate_section_registered(const char *idstr, int instance_id)
{
    return find_entry(idstr, instance_id) != NULL;
}

void vmstate_unregister_opaque(void *opaque)
{
    for (guint i = 0; i < entry_count();) {
        SaveStateEntry *se = entry_at(i);

        if (se->opaque == opaque) {
            g_ptr_array_remove_index(entries, i);
            g_free(se->idstr);
            g_free(se);
        } else {
            i++;
        }
    }
}

void savevm_unregister_all(void)
{
    while (entry_count()) {
        vmstate_unregister_opaque(entry_at(0)->opaque);
    }
}

const SavevmOptions *savevm_options(void)
{
    return &cur_opts;
}

void savevm_set_options(const SavevmOptions *opts)
{
    cur_opts = *opts;
}

const char *savevm_last_section(void)
{
    return last_section;
}

static void set_last_section(const char *idstr)
{
    g_free(last_section);
    last_section = g_strdup(idstr);
}

/*
 * Every failure carries exactly one error, even when a handler or hook
 * broke that rule: the caller reports it and exits.
 */
static bool with_error(bool ok, GError *err, const char *what, GError **errp)
{
    if (!ok && !err) {
        error_setg(&err, "%s failed (no reason given)", what);
    }
    if (err) {
        g_propagate_error(errp, err);
    }
    return ok;
}

/* ---- writing records ---- */

/*
 * A record holding references is sent in chunks of this many bytes, each
 * summed right after it went out: the checksum pass then runs while the
 * destination copies the chunk, instead of in front of the send with the
 * destination idle. A socket splices the pages (stream.c), so nothing on
 * this side has read them before the checksum: crc32c_update_iov()
 * fetches them ahead.
 */
#define RECORD_SUM_CHUNK (128 * 1024)

typedef struct RecordPut {
    MigStream *out;
    uint32_t crc;
    GArray *pending; /* struct iovec: put but not summed yet; or NULL */
    size_t pending_bytes;
} RecordPut;

static void record_sum_pending(RecordPut *put)
{
    put->crc = crc32c_update_iov(
        put->crc, (const struct iovec *)put->pending->data, put->pending->len);
    g_array_set_size(put->pending, 0);
    put->pending_bytes = 0;
}

static void record_put_piece(const void *p, size_t len, bool ref, void *opaque)
{
    RecordPut *put = opaque;
    struct iovec v = {.iov_base = (void *)p, .iov_len = len};

    if (!put->pending) {
        put->crc = crc32c_update(put->crc, p, len);
        mig_put_buffer(put->out, p, len);
        return;
    }
    if (ref) {
        mig_put_buffer_ref(put->out, p, len);
    } else {
        mig_put_buffer(put->out, p, len);
    }
    g_array_append_val(put->pending, v);
    put->pending_bytes += len;
    if (put->pending_bytes >= RECORD_SUM_CHUNK) {
        mig_stream_flush(put->out);
        record_sum_pending(put);
    }
}

/*
 * Frame REC's contents as one record of TYPE on OUT and empty REC. What
 * REC holds by reference (a stopped guest's RAM) is sent from where it
 * is, no copy until the kernel's, and summed once it has gone out: the
 * checksum trails the payload, and nothing changes a stopped guest's
 * pages in between.
 */
static bool record_send(MigStream *out, uint8_t type, MigStream *rec,
                        GError **errp)
{
    uint8_t hdr[SAVEVM_REC_HEADER];
    RecordPut put = {.out = out};
    size_t len;

    if (!mig_stream_check(rec, errp)) {
        return false;
    }
    len = mig_stream_mem_len(rec);
    if (len > SAVEVM_MAX_RECORD) {
        error_setg(errp, "record of %zu bytes exceeds the limit of %u bytes",
                   len, SAVEVM_MAX_RECORD);
        return false;
    }
    hdr[0] = type;
    hdr[1] = len >> 24;
    hdr[2] = len >> 16;
    hdr[3] = len >> 8;
    hdr[4] = len;
    put.crc = crc32c_update(0, hdr, sizeof(hdr));
    if (mig_stream_mem_has_refs(rec)) {
        put.pending = g_array_new(FALSE, FALSE, sizeof(struct iovec));
    }
    mig_put_buffer(out, hdr, sizeof(hdr));
    mig_stream_mem_foreach(rec, record_put_piece, &put);
    if (put.pending) {
        mig_stream_flush(out);
        record_sum_pending(&put);
        g_array_free(put.pending, TRUE);
    }
    mig_put_be32(out, put.crc);
    mig_stream_mem_reset(rec);
    return mig_stream_check(out, errp);
}

/* SECTION_START and SECTION_FULL begin with the section's identity. */
static void put_section_header(MigStream *rec, uint8_t type,
                               const SaveStateEntry *se)
{
    mig_put_be32(rec, se->section_id);
    if (type == SAVEVM_REC_SECTION_START || type == SAVEVM_REC_SECTION_FULL) {
        mig_put_str(rec, se->idstr);
        mig_put_be32(rec, se->instance_id);
        mig_put_be32(rec, se->ops && se->ops->save_version
                              ? se->ops->save_version(se->opaque)
                              : se->version_id);
    }
}

static void section_error_prefix(GError **errp, const SaveStateEntry *se)
{
    g_prefix_error(errp, "section '%s' instance %d: ", se->idstr,
                   se->instance_id);
}

static void assign_section_ids(void)
{
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (!se->section_id) {
            se->section_id = ++next_section_id;
        }
    }
}

bool savevm_live_split(MigStream *f)
{
    g_autoptr(GError) err = NULL;
    uint8_t type;
    size_t len;

    g_assert(f == cur_live.rec);
    if (mig_stream_error(f)) {
        return false;
    }
    len = mig_stream_mem_len(f);
    if (len < SAVEVM_SPLIT_SIZE) {
        return true;
    }
    /* A section's last record must stay its SECTION_END. */
    type = cur_live.type == SAVEVM_REC_SECTION_END ? SAVEVM_REC_SECTION_PART
                                                   : cur_live.type;
    if (!record_send(cur_live.out, type, f, &err)) {
        mig_stream_set_error(f, g_steal_pointer(&err));
        return false;
    }
    if (cur_live.type == SAVEVM_REC_SECTION_START) {
        cur_live.type = SAVEVM_REC_SECTION_PART;
    }
    put_section_header(f, SAVEVM_REC_SECTION_PART, cur_live.se);
    return true;
}

/*
 * Run one live handler phase into a record of TYPE: CALL gets the record
 * writer. Returns the handler's result (bool phases: 1/-1). A PART record
 * with no handler data is not sent.
 */
static const char *record_type_name(uint8_t type);

typedef int (*LivePhase)(MigStream *rec, SaveStateEntry *se, GError **errp);

static int live_record(MigStream *f, SaveStateEntry *se, uint8_t type,
                       LivePhase call, GError **errp)
{
    g_autoptr(MigStream) rec = mig_stream_new_mem_child_writer(f);
    size_t empty, len;
    int ret;

    put_section_header(rec, type, se);
    empty = mig_stream_mem_len(rec);
    cur_live.out = f;
    cur_live.rec = rec;
    cur_live.se = se;
    cur_live.type = type;
    ret = call(rec, se, errp);
    type = cur_live.type;
    memset(&cur_live, 0, sizeof(cur_live));
    if (ret < 0) {
        section_error_prefix(errp, se);
        return -1;
    }
    len = mig_stream_mem_len(rec);
    if (type == SAVEVM_REC_SECTION_PART && len == empty) {
        return ret;
    }
    if (!record_send(f, type, rec, errp)) {
        trace_savevm_section_record(record_type_name(type), se->idstr,
                                    se->instance_id, len, -1);
        section_error_prefix(errp, se);
        return -1;
    }
    trace_savevm_section_record(record_type_name(type), se->idstr,
                                se->instance_id, len, ret);
    return ret;
}

static int phase_setup(MigStream *rec, SaveStateEntry *se, GError **errp)
{
    if (se->ops->save_setup && !se->ops->save_setup(rec, se->opaque, errp)) {
        return -1;
    }
    return 1;
}

static int phase_iterate(MigStream *rec, SaveStateEntry *se, GError **errp)
{
    if (!se->ops->save_iterate) {
        return 1;
    }
    return se->ops->save_iterate(rec, se->opaque, errp);
}

static int phase_complete(MigStream *rec, SaveStateEntry *se, GError **errp)
{
    if (se->ops->save_complete &&
        !se->ops->save_complete(rec, se->opaque, errp)) {
        return -1;
    }
    return 1;
}

static int phase_nothing(MigStream *rec, SaveStateEntry *se, GError **errp)
{
    return 1;
}

/* A switchover_only section, if is_active() says so now. */
static bool save_switchover_only(MigStream *f, SaveStateEntry *se,
                                 GError **errp)
{
    if (se->ops->is_active && !se->ops->is_active(se->opaque)) {
        return true;
    }
    se->active = true;
    return live_record(f, se, SAVEVM_REC_SECTION_START, phase_complete, errp) >=
               0 &&
           live_record(f, se, SAVEVM_REC_SECTION_END, phase_nothing, errp) >= 0;
}

bool savevm_write_header(MigStream *f, GError **errp)
{
    mig_put_buffer(f, SAVEVM_MAGIC, strlen(SAVEVM_MAGIC));
    mig_put_be32(f, SAVEVM_FORMAT_VERSION);
    return mig_stream_check(f, errp);
}

static bool save_setup(MigStream *f, const SavevmOptions *opts, GError **errp)
{
    cur_opts = *opts;
    save_setup_done = true;
    assign_section_ids();
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (!se->ops || se->ops->switchover_only) {
            continue;
        }
        se->active = !se->ops->is_active || se->ops->is_active(se->opaque);
        if (!se->active) {
            continue;
        }
        se->setup_done = true;
        if (live_record(f, se, SAVEVM_REC_SECTION_START, phase_setup, errp) <
            0) {
            return false;
        }
    }
    mig_stream_flush(f);
    return mig_stream_check(f, errp);
}

bool savevm_setup(MigStream *f, const SavevmOptions *opts, GError **errp)
{
    GError *err = NULL;
    bool ok = save_setup(f, opts, &err);

    return with_error(ok, err, "migration setup", errp);
}

static int save_iterate(MigStream *f, GError **errp)
{
    bool all_done = true;

    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);
        int ret;

        if (!se->ops || !se->active) {
            continue;
        }
        ret = live_record(f, se, SAVEVM_REC_SECTION_PART, phase_iterate, errp);
        if (ret < 0) {
            return -1;
        }
        all_done &= ret == 1;
    }
    mig_stream_flush(f);
    if (!mig_stream_check(f, errp)) {
        return -1;
    }
    return all_done ? 1 : 0;
}

int savevm_iterate(MigStream *f, GError **errp)
{
    GError *err = NULL;
    int ret = save_iterate(f, &err);

    with_error(ret >= 0, err, "migration iteration", errp);
    return ret;
}

unsigned int savevm_switchover_acks_needed(void)
{
    unsigned int n = 0;

    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->ops && se->active && se->ops->switchover_ack_needed &&
            se->ops->switchover_ack_needed(se->opaque)) {
            n++;
        }
    }
    return n;
}

uint64_t savevm_pending(bool sync)
{
    uint64_t total = 0;

    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->ops && se->active && se->ops->save_pending) {
            total += se->ops->save_pending(se->opaque, sync);
        }
    }
    return total;
}

static bool save_vmstate_section(MigStream *f, SaveStateEntry *se,
                                 GError **errp)
{
    g_autoptr(MigStream) rec = mig_stream_new_mem_child_writer(f);
    size_t size;
    bool ok;

    put_section_header(rec, SAVEVM_REC_SECTION_FULL, se);
    ok = vmstate_save(rec, se->vmsd, se->opaque, errp);
    size = mig_stream_mem_len(rec);
    ok = ok && record_send(f, SAVEVM_REC_SECTION_FULL, rec, errp);
    trace_vmstate_save(se->idstr, se->instance_id, se->version_id, size, ok);
    if (!ok) {
        section_error_prefix(errp, se);
        return false;
    }
    return true;
}

void savevm_note_synced(void)
{
    complete_synced = g_get_monotonic_time();
}

void savevm_complete_times(int64_t *synced, int64_t *live_sent)
{
    *synced = complete_synced;
    *live_sent = complete_live_sent;
}

static bool save_complete(MigStream *f, GError **errp)
{
    g_autoptr(MigStream) rec = NULL;

    complete_synced = complete_live_sent = 0;
    if (!save_setup_done && !save_setup(f, &cur_opts, errp)) {
        return false;
    }
    assign_section_ids();
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->ops && se->ops->switchover_only) {
            if (!save_switchover_only(f, se, errp)) {
                return false;
            }
            continue;
        }
        if (se->ops && se->active &&
            live_record(f, se, SAVEVM_REC_SECTION_END, phase_complete, errp) <
                0) {
            return false;
        }
    }
    /*
     * Sent now, while the device state is being read: the destination
     * finishes the live sections (and is awake) before it arrives.
     */
    mig_stream_flush(f);
    complete_live_sent = g_get_monotonic_time();
    if (!complete_synced) {
        complete_synced = complete_live_sent; /* no live section synced */
    }
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (!se->vmsd) {
            continue;
        }
        if (!save_vmstate_section(f, se, errp)) {
            return false;
        }
        if (se->vmsd->flush_after) {
            mig_stream_flush(f);
        }
    }
    rec = mig_stream_new_mem_child_writer(f);
    if (!record_send(f, SAVEVM_REC_EOF, rec, errp)) {
        return false;
    }
    mig_stream_flush(f);
    return mig_stream_check(f, errp);
}

bool savevm_complete(MigStream *f, GError **errp)
{
    GError *err = NULL;
    bool ok = save_complete(f, &err);

    return with_error(ok, err, "completing the migration stream", errp);
}

void savevm_cleanup(void)
{
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->setup_done && se->ops->save_cleanup) {
            se->ops->save_cleanup(se->opaque);
        }
        se->setup_done = false;
        se->active = false;
        se->section_id = 0;
    }
    next_section_id = 0;
    save_setup_done = false;
}

bool savevm_save_all(MigStream *f, const SavevmOptions *opts, GError **errp)
{
    bool ok = savevm_write_header(f, errp) && savevm_setup(f, opts, errp);
    int ret = 0;

    while (ok && ret == 0) {
        ret = savevm_iterate(f, errp);
        ok = ret >= 0;
    }
    ok = ok && savevm_complete(f, errp);
    savevm_cleanup();
    return ok;
}

/* ---- loading ---- */

typedef struct LoadState {
    MigStream *f;
    GHashTable *ids;     /* section id -> SaveStateEntry */
    uint64_t rec_offset; /* stream offset of the current record */
    uint8_t type;
    uint8_t *payload;
    uint32_t len;
    SaveStateEntry *streamed; /* the record is being loaded in place */
} LoadState;

static const char *record_type_name(uint8_t type)
{
    switch (type) {
    case SAVEVM_REC_SECTION_START:
        return "SECTION_START";
    case SAVEVM_REC_SECTION_PART:
        return "SECTION_PART";
    case SAVEVM_REC_SECTION_END:
        return "SECTION_END";
    case SAVEVM_REC_SECTION_FULL:
        return "SECTION_FULL";
    case SAVEVM_REC_EOF:
        return "EOF";
    }
    return "unknown";
}

/*
 * Best effort for messages about a damaged record: which section it
 * claims to belong to, read from the unverified payload.
 */
static char *describe_damaged(LoadState *ls)
{
    g_autoptr(MigStream) p = NULL;
    SaveStateEntry *se;
    char idstr[256];
    uint32_t id;

    if (ls->streamed) {
        return g_strdup_printf(", section '%s'?", ls->streamed->idstr);
    }
    if (!ls->payload) {
        return g_strdup("");
    }
    p = mig_stream_new_mem_child_reader(ls->f, ls->payload, ls->len);
    id = mig_get_be32(p);
    if (ls->type == SAVEVM_REC_SECTION_START ||
        ls->type == SAVEVM_REC_SECTION_FULL) {
        mig_get_str(p, idstr);
        if (!mig_stream_error(p) && g_utf8_validate(idstr, -1, NULL)) {
            return g_strdup_printf(", section '%s'?", idstr);
        }
    } else if (!mig_stream_error(p)) {
        se = g_hash_table_lookup(ls->ids, GUINT_TO_POINTER(id));
        if (se) {
            return g_strdup_printf(", section '%s'?", se->idstr);
        }
    }
    return g_strdup("");
}

static bool load_header(MigStream *f, GError **errp)
{
    char magic[sizeof(SAVEVM_MAGIC) - 1];
    uint32_t version;

    mig_get_buffer(f, magic, sizeof(magic));
    version = mig_get_be32(f);
    if (mig_stream_error(f)) {
        mig_stream_check(f, errp);
        g_prefix_error(errp, "reading the stream header: ");
        return false;
    }
    if (memcmp(magic, SAVEVM_MAGIC, sizeof(magic))) {
        error_setg(errp, "not a baton migration stream (bad magic)");
        return false;
    }
    if (version != SAVEVM_FORMAT_VERSION) {
        error_setg(errp,
                   "unsupported migration stream format version %" PRIu32
                   " (this build reads version %d)",
                   version, SAVEVM_FORMAT_VERSION);
        return false;
    }
    return true;
}

/*
 * A handler or hook that failed without saying why still yields exactly
 * one error: the stream's, or a generic one.
 */
static void ensure_error(GError **local_err, MigStream *p)
{
    if (!*local_err && !mig_stream_check(p, local_err)) {
        return;
    }
    if (!*local_err) {
        error_setg(local_err, "load failed (no reason given)");
    }
}

/* The checksum at the end of LS's record against CRC, what its data gave. */
static bool record_check_crc(LoadState *ls, uint32_t crc, GError **errp)
{
    g_autofree char *what = NULL;
    uint32_t want = mig_get_be32(ls->f);

    if (mig_stream_error(ls->f)) {
        mig_stream_check(ls->f, errp);
        g_prefix_error(errp,
                       "truncated %s record of %" PRIu32 " bytes at "
                       "offset %" PRIu64 ": ",
                       record_type_name(ls->type), ls->len, ls->rec_offset);
        return false;
    }
    if (crc != want) {
        what = describe_damaged(ls);
        error_setg(errp,
                   "checksum mismatch in record at offset %" PRIu64
                   " (type 0x%02x%s): stream has 0x%08" PRIx32 ", data gives "
                   "0x%08" PRIx32,
                   ls->rec_offset, ls->type, what, want, crc);
        return false;
    }
    return true;
}

/*
 * A SECTION_PART or SECTION_END of a live section whose handler loads in
 * place (SaveVMHandlers.load_streamed): the section it belongs to, else
 * NULL. ID is the record's first field, already read.
 */
static SaveStateEntry *record_streamed_entry(LoadState *ls, uint32_t id)
{
    SaveStateEntry *se;

    if (ls->type != SAVEVM_REC_SECTION_PART &&
        ls->type != SAVEVM_REC_SECTION_END) {
        return NULL;
    }
    se = g_hash_table_lookup(ls->ids, GUINT_TO_POINTER(id));
    return se && se->ops && se->ops->load_streamed && !se->ended ? se : NULL;
}

/*
 * Load the rest of a streamed record (the window holds it) straight from
 * the channel, without the big lock (the handler's state is its own),
 * then check its checksum. A handler that fails on a damaged record is
 * told apart from one that fails on a sound one by the checksum: the
 * rest of the record is consumed to compute it.
 */
static bool apply_streamed(LoadState *ls, SaveStateEntry *se, GError **errp)
{
    MigStream *f = ls->f;
    g_autoptr(GError) local_err = NULL;
    bool ok;

    set_last_section(se->idstr);
    ls->streamed = se;
    se->ended = ls->type == SAVEVM_REC_SECTION_END;
    ok = se->ops->load_state(f, se->opaque, se->load_version, &local_err);
    if (ok) {
        ok = mig_stream_check(f, &local_err);
    } else {
        ensure_error(&local_err, f);
    }
    if (ok && mig_stream_remaining(f)) {
        error_setg(&local_err, "%zu unread bytes at the end of its %s record",
                   mig_stream_remaining(f), record_type_name(ls->type));
        ok = false;
    }
    if (!mig_stream_error(f)) {
        mig_stream_window_skip(f);
    }
    if (!mig_stream_error(f) &&
        !record_check_crc(ls, mig_stream_window_end(f), errp)) {
        return false; /* the damage, not what it made the handler say */
    }
    if (ok) {
        return true;
    }
    section_error_prefix(&local_err, se);
    g_propagate_error(errp, g_steal_pointer(&local_err));
    return false;
}

/*
 * Read, bound-check and checksum one record into LS (big lock not held),
 * or, for a streamed section (*STREAMED), load it as it is read.
 */
static bool read_record(LoadState *ls, bool *streamed, GError **errp)
{
    MigStream *f = ls->f;
    uint8_t hdr[SAVEVM_REC_HEADER];
    SaveStateEntry *se = NULL;
    uint32_t id = 0;
    size_t left;

    *streamed = false;
    ls->streamed = NULL;
    g_clear_pointer(&ls->payload, g_free);
    ls->rec_offset = mig_stream_bytes(f);
    if (mig_stream_eof(f)) {
        error_setg(errp,
                   "migration stream ended at offset %" PRIu64
                   " without its EOF record",
                   ls->rec_offset);
        return false;
    }
    mig_get_buffer(f, hdr, sizeof(hdr));
    if (mig_stream_error(f)) {
        mig_stream_check(f, errp);
        g_prefix_error(errp, "truncated record header at offset %" PRIu64 ": ",
                       ls->rec_offset);
        return false;
    }
    ls->type = hdr[0];
    ls->len = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 |
              (uint32_t)hdr[3] << 8 | hdr[4];
    /* Checked before allocating: a corrupt length must not cost memory. */
    if (ls->len > SAVEVM_MAX_RECORD) {
        error_setg(errp,
                   "record at offset %" PRIu64 " (type 0x%02x): length %" PRIu32
                   " exceeds the limit of %u bytes",
                   ls->rec_offset, ls->type, ls->len, SAVEVM_MAX_RECORD);
        return false;
    }
    /* A bounded (memory) stream tells us now if the record cannot fit. */
    left = mig_stream_remaining(f);
    if (left != SIZE_MAX && (uint64_t)ls->len + 4 > left) {
        error_setg(errp,
                   "truncated %s record of %" PRIu32 " bytes at offset "
                   "%" PRIu64 ": the stream ends %zu bytes later",
                   record_type_name(ls->type), ls->len, ls->rec_offset, left);
        return false;
    }
    mig_stream_window_begin(f, ls->len, crc32c_update(0, hdr, sizeof(hdr)));
    if (ls->len >= 4) {
        id = mig_get_be32(f);
        se = mig_stream_error(f) ? NULL : record_streamed_entry(ls, id);
    }
    if (se) {
        *streamed = true;
        return apply_streamed(ls, se, errp);
    }
    /* Buffered: the whole payload is checked before anything parses it. */
    ls->payload = g_malloc(ls->len ? ls->len : 1);
    if (ls->len >= 4) {
        id = GUINT32_TO_BE(id);
        memcpy(ls->payload, &id, 4);
        mig_get_buffer(f, ls->payload + 4, ls->len - 4);
    } else {
        mig_get_buffer(f, ls->payload, ls->len);
    }
    if (mig_stream_error(f)) {
        mig_stream_window_end(f);
        mig_stream_check(f, errp);
        g_prefix_error(errp,
                       "truncated %s record of %" PRIu32 " bytes at "
                       "offset %" PRIu64 ": ",
                       record_type_name(ls->type), ls->len, ls->rec_offset);
        return false;
    }
    return record_check_crc(ls, mig_stream_window_end(f), errp);
}

/*
 * Sections older releases send that this one no longer has, each without
 * data: accepted (and ignored) on load, never sent, and not registered
 * (section numbering stays as it was). "chardev-cpr" gave the chardevs
 * hooks in live updates before the CPR notifiers had PREPARE.
 */
static SaveStateEntry retired_entries[] = {
    { .idstr = (char *)"chardev-cpr", .version_id = 1 },
};
static const SaveVMHandlers retired_ops;

static SaveStateEntry *find_retired(const char *idstr, uint32_t instance)
{
    for (size_t i = 0; i < G_N_ELEMENTS(retired_entries); i++) {
        if (!instance && !strcmp(retired_entries[i].idstr, idstr)) {
            retired_entries[i].ops = &retired_ops;
            return &retired_entries[i];
        }
    }
    return NULL;
}

static void reset_retired(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(retired_entries); i++) {
        retired_entries[i].started = retired_entries[i].ended = false;
        retired_entries[i].loaded = false;
    }
}

/* SECTION_START / SECTION_FULL: find and claim the named section. */
static SaveStateEntry *load_section_header(LoadState *ls, MigStream *p,
                                           int *version, GError **errp)
{
    bool full = ls->type == SAVEVM_REC_SECTION_FULL;
    char idstr[256];
    uint32_t id, instance, ver;
    SaveStateEntry *se;

    id = mig_get_be32(p);
    mig_get_str(p, idstr);
    instance = mig_get_be32(p);
    ver = mig_get_be32(p);
    if (mig_stream_error(p)) {
        error_setg(errp,
                   "%s record at offset %" PRIu64 ": truncated section "
                   "header",
                   record_type_name(ls->type), ls->rec_offset);
        return NULL;
    }
    set_last_section(idstr);
    se = instance <= G_MAXINT ? find_entry(idstr, instance) : NULL;
    if (!se) {
        se = find_retired(idstr, instance);
    }
    if (!se) {
        error_setg(errp,
                   "unknown section '%s' instance %" PRIu32
                   " (no such device or state here)",
                   idstr, instance);
        return NULL;
    }
    if (full != (se->vmsd != NULL)) {
        error_setg(errp,
                   "section '%s' instance %" PRIu32 ": a %s record for "
                   "a %s section",
                   idstr, instance, record_type_name(ls->type),
                   full ? "live" : "vmstate");
        return NULL;
    }
    if (se->loaded || se->started) {
        error_setg(errp, "section '%s' instance %" PRIu32 " sent twice", idstr,
                   instance);
        return NULL;
    }
    if (g_hash_table_contains(ls->ids, GUINT_TO_POINTER(id))) {
        error_setg(errp,
                   "section '%s' instance %" PRIu32 ": section id %" PRIu32
                   " already in use",
                   idstr, instance, id);
        return NULL;
    }
    if (ver > (uint32_t)se->version_id ||
        (se->vmsd && ver < (uint32_t)se->vmsd->minimum_version_id)) {
        error_setg(errp,
                   "section '%s' instance %" PRIu32 ": unsupported "
                   "version %" PRIu32 " (accepted %d to %d)",
                   idstr, instance, ver,
                   se->vmsd ? se->vmsd->minimum_version_id : 0, se->version_id);
        return NULL;
    }
    g_hash_table_insert(ls->ids, GUINT_TO_POINTER(id), se);
    *version = ver;
    return se;
}

/* SECTION_PART / SECTION_END: the live section started under this id. */
static SaveStateEntry *load_part_header(LoadState *ls, MigStream *p,
                                        GError **errp)
{
    uint32_t id = mig_get_be32(p);
    SaveStateEntry *se;

    if (mig_stream_error(p)) {
        error_setg(errp,
                   "%s record at offset %" PRIu64 ": truncated section "
                   "header",
                   record_type_name(ls->type), ls->rec_offset);
        return NULL;
    }
    se = g_hash_table_lookup(ls->ids, GUINT_TO_POINTER(id));
    if (!se || !se->ops) {
        error_setg(errp,
                   "%s record at offset %" PRIu64 ": unknown live "
                   "section id %" PRIu32,
                   record_type_name(ls->type), ls->rec_offset, id);
        return NULL;
    }
    set_last_section(se->idstr);
    if (se->ended) {
        error_setg(errp, "section '%s' instance %d: %s record after its end",
                   se->idstr, se->instance_id, record_type_name(ls->type));
        return NULL;
    }
    return se;
}

/* Parse one verified record's payload; big lock held. */
static bool apply_record(LoadState *ls, MigStream *p, GError **errp)
{
    g_autoptr(GError) local_err = NULL;
    SaveStateEntry *se = NULL;
    int version = 0;
    size_t left;
    bool ok;

    switch (ls->type) {
    case SAVEVM_REC_SECTION_START:
    case SAVEVM_REC_SECTION_FULL:
        se = load_section_header(ls, p, &version, errp);
        if (!se) {
            return false;
        }
        if (se->vmsd) {
            se->loaded = true;
            ok = vmstate_load(p, se->vmsd, se->opaque, version, &local_err);
        } else {
            se->started = true;
            se->load_version = version;
            ok = !se->ops->load_state ||
                 se->ops->load_state(p, se->opaque, version, &local_err);
        }
        break;
    case SAVEVM_REC_SECTION_PART:
    case SAVEVM_REC_SECTION_END:
        se = load_part_header(ls, p, errp);
        if (!se) {
            return false;
        }
        se->ended = ls->type == SAVEVM_REC_SECTION_END;
        ok = !se->ops->load_state ||
             se->ops->load_state(p, se->opaque, se->load_version, &local_err);
        break;
    default:
        error_setg(errp,
                   "record at offset %" PRIu64 ": unknown record type "
                   "0x%02x",
                   ls->rec_offset, ls->type);
        return false;
    }
    /* A handler that ignored a stream error still fails here. */
    if (ok) {
        ok = mig_stream_check(p, &local_err);
    } else {
        ensure_error(&local_err, p);
    }
    left = mig_stream_remaining(p);
    if (ok && left) {
        error_setg(&local_err, "%zu unread bytes at the end of its %s record",
                   left, record_type_name(ls->type));
        ok = false;
    }
    trace_vmstate_load(record_type_name(ls->type), se->idstr, se->instance_id,
                       se->vmsd ? version : se->load_version, ls->len, ok);
    if (!ok) {
        section_error_prefix(&local_err, se);
        g_propagate_error(errp, g_steal_pointer(&local_err));
    }
    return ok;
}

/* At the EOF record: everything this side expects must have arrived. */
static bool load_check_complete(GError **errp)
{
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->vmsd && !se->loaded) {
            error_setg(errp, "missing section '%s' instance %d", se->idstr,
                       se->instance_id);
            return false;
        }
        if (se->ops && se->started && !se->ended) {
            error_setg(errp,
                       "section '%s' instance %d did not complete "
                       "(no SECTION_END)",
                       se->idstr, se->instance_id);
            return false;
        }
    }
    return true;
}

void savevm_load_prepare(void)
{
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->vmsd && se->vmsd->load_prepare) {
            se->vmsd->load_prepare(se->opaque);
        }
    }
}

static bool load_setup_all(GError **errp)
{
    bool ok = true;

    bql_lock();
    for (guint i = 0; ok && i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        se->loaded = se->started = se->ended = false;
        se->load_setup_done = false;
        if (!se->ops) {
            continue;
        }
        if (se->ops->load_setup && !se->ops->load_setup(se->opaque, errp)) {
            section_error_prefix(errp, se);
            ok = false;
            break;
        }
        se->load_setup_done = true;
    }
    bql_unlock();
    return ok;
}

static void load_cleanup_all(void)
{
    bql_lock();
    for (guint i = 0; i < entry_count(); i++) {
        SaveStateEntry *se = entry_at(i);

        if (se->load_setup_done && se->ops->load_cleanup) {
            se->ops->load_cleanup(se->opaque);
        }
        se->load_setup_done = false;
    }
    bql_unlock();
}

/*
 * Whether the next record is a device state (SECTION_FULL) or the EOF
 * record and has arrived whole: then reading it cannot block, and the
 * loader keeps the big lock (and its deferred memory transaction) for it
 * instead of handing the lock to whoever waits for it in between (the
 * main loop, a vCPU thread) once per device, inside the pause.
 */
static bool next_record_buffered(MigStream *f)
{
    size_t avail;
    const uint8_t *p = mig_stream_peek(f, &avail);
    uint32_t len;

    if (avail < SAVEVM_REC_HEADER ||
        (p[0] != SAVEVM_REC_SECTION_FULL && p[0] != SAVEVM_REC_EOF)) {
        return false;
    }
    len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
          p[4];
    return len <= SAVEVM_MAX_RECORD &&
           avail - SAVEVM_REC_HEADER >= (size_t)len + 4;
}

/* Take the big lock for applying records, or keep it. */
static void load_lock(bool *locked)
{
    if (*locked) {
        return;
    }
    bql_lock();
    /*
     * The memory map changes the records make (BARs, bus mastering)
     * are flattened once, after the last one, instead of once per
     * device: the guest cannot run before the load ends. Readers of the
     * map in between (a post_load's DMA, a monitor command while the
     * lock is dropped) still see it current (memory.h).
     */
    memory_region_transaction_begin_deferred();
    *locked = true;
}

static void load_unlock(bool *locked)
{
    if (!*locked) {
        return;
    }
    memory_region_transaction_commit_deferred();
    bql_unlock();
    *locked = false;
}

static bool load_stream(MigStream *f, GError **errp)
{
    LoadState ls = {.f = f};
    bool locked = false;
    bool ok;

    g_clear_pointer(&last_section, g_free);
    if (!load_header(f, errp)) {
        return false;
    }
    if (!load_setup_all(errp)) {
        load_cleanup_all();
        return false;
    }
    ls.ids = g_hash_table_new(NULL, NULL);
    for (;;) {
        g_autoptr(MigStream) p = NULL;
        bool streamed;

        /* Blocking read without the big lock: vCPUs and monitors go on. */
        if (!next_record_buffered(f)) {
            load_unlock(&locked);
        }
        ok = read_record(&ls, &streamed, errp);
        if (!ok) {
            break;
        }
        if (streamed) {
            continue;
        }
        if (ls.type == SAVEVM_REC_EOF) {
            if (ls.len) {
                error_setg(errp,
                           "EOF record at offset %" PRIu64 " has a %" PRIu32
                           "-byte payload",
                           ls.rec_offset, ls.len);
                ok = false;
                break;
            }
            load_lock(&locked);
            ok = load_check_complete(errp);
            break;
        }
        p = mig_stream_new_mem_child_reader(f, ls.payload, ls.len);
        load_lock(&locked);
        ok = apply_record(&ls, p, errp);
        if (!ok) {
            break;
        }
    }
    g_free(ls.payload);
    g_hash_table_destroy(ls.ids);
    /* Whatever the outcome, listeners see the map the records left. */
    if (locked) {
        memory_region_transaction_commit_deferred();
    } else {
        bql_lock();
    }
    memory_region_flush_pending();
    bql_unlock();
    load_cleanup_all();
    return ok;
}

bool savevm_load(MigStream *f, GError **errp)
{
    GError *err = NULL;
    bool ok;

    reset_retired();
    ok = load_stream(f, &err);

    return with_error(ok, err, "loading the migration stream", errp);
}
