/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * VFIO migration v2 of the dmatest function: VFIO_DEVICE_FEATURE
 * (MIGRATION, MIG_DEVICE_STATE, MIG_DATA_SIZE, DMA logging), the device
 * state machine walked arc by arc as the kernel's vfio core does, the
 * opaque internal state the device changes while it runs, and the data
 * file that carries the state stream (saving with pre-copy, resuming with
 * validation). The stream format is in docs/devel/hostsim.md. Register
 * access, interrupts and the DMA engine are dmatest.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/vfio.h>

#include "standard-headers/linux/vfio-extra.h"
#include "dmatest.h"

#define MIG_CHUNK 4096u
#define MIG_MAGIC 0x534d5348u /* "HSMS" */
#define MIG_VERSION 1u
#define STATE_SIZE_MAX (1ull << 30)
#define NUM_STATES 8

enum { REC_DATA = 1, REC_REGS, REC_END };

#define MIG_FAIL_ARMED 0x100u

/* The stream starts with this header (little-endian, 40 bytes). */
typedef struct MigHdr {
    uint32_t magic;
    uint32_t version;
    uint32_t dev_id;
    uint32_t chunk_size;
    uint64_t state_size;
    uint64_t session; /* nonce of the save session */
    uint64_t hash;    /* of the fields above */
} MigHdr;

/* Then records: this header and len bytes of payload. */
typedef struct MigRec {
    uint32_t type;
    uint32_t len;
    uint64_t arg;  /* REC_DATA: chunk index */
    uint64_t hash; /* DATA/REGS: of the payload; END: of the whole state */
} MigRec;

typedef struct MigEnd {
    uint64_t session;
    uint64_t nchunks;
} MigEnd;

/* Registers that are device state (not ID, RESETS or the counters). */
static const unsigned mig_regs[] = {
    R_CTRL, R_RING_LO,   R_RING_HI,   R_RING_ENTRIES, R_PERIOD_US, R_HEAD,
    R_TAIL, R_OVERFLOWS, R_IRQ_EVERY, R_FAULTS,       R_STALLS,
};
#define N_MIG_REGS G_N_ELEMENTS(mig_regs)
#define MIG_REGS_LEN ((N_MIG_REGS + 1) * 4) /* + interrupt flags */
#define MIG_IRQ_PENDING 1u
#define REC_MAX MAX(MIG_CHUNK, sizeof(MigHdr))

struct HsMigFile {
    HsDevice *dev; /* NULL once its session ended */
    bool saving;
    int conn_fd;
    bool fd_closed; /* the VMM's fd is gone; the device holds the session */
    uint64_t session;
    uint64_t nchunks;
    uint64_t *hash; /* per chunk: as sent / as received */

    /* saving */
    bool hdr_done, regs_done, end_done;
    uint64_t next_initial; /* chunks generated in the initial pass */
    uint8_t *dirty;        /* chunks changed since they were generated */
    uint64_t ndirty;
    uint64_t dirty_scan;
    GByteArray *pending; /* generated, not yet read */
    size_t pending_off;
    bool pending_initial;
    uint64_t regs_hash;

    /* resuming */
    uint8_t *in_state;
    uint8_t *have; /* chunks received */
    uint64_t nhave;
    int phase; /* what rec collects: PH_* */
    uint8_t rec[REC_MAX];
    size_t rec_len, rec_need;
    MigRec cur;
    bool got_hdr, got_regs;
    uint32_t in_regs[N_MIG_REGS + 1];
    uint64_t end_hash;
    char *err;
};

enum { PH_HDR, PH_REC, PH_PAYLOAD, PH_DONE };

static const char *const state_names[NUM_STATES] = {
    "ERROR",    "STOP",        "RUNNING",  "STOP_COPY",
    "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P",
};

static const char *state_name(uint32_t s)
{
    return s < NUM_STATES ? state_names[s] : "(invalid)";
}

/* ---- checksums ---- */

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* A fast 64-bit checksum (word-wise multiply-rotate, not cryptographic). */
static uint64_t hs_hash(const void *buf, size_t len, uint64_t seed)
{
    const uint8_t *p = buf;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    uint64_t w;
    size_t i;

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        h = rotl64(h ^ (w * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
    }
    if (i < len) {
        w = 0;
        memcpy(&w, p + i, len - i);
        h = rotl64(h ^ (w * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
    }
    return mix64(h);
}

static uint64_t chunk_len(HsDevice *d, uint64_t idx)
{
    return MIN((uint64_t)MIG_CHUNK, d->state_size - idx * MIG_CHUNK);
}

static uint64_t chunk_hash(const uint8_t *p, uint64_t len, uint64_t idx)
{
    return hs_hash(p, len, idx);
}

/* The END record's checksum: every chunk as last sent, registers, nonce. */
static uint64_t stream_hash(const uint64_t *hash, uint64_t n,
                            uint64_t regs_hash, uint64_t session)
{
    return hs_hash(hash, n * 8, regs_hash ^ rotl64(session, 17));
}

/* ---- options and creation ---- */

/* SIZE with an optional K, M, G or T suffix (powers of 1024). */
static bool parse_size(const char *key, const char *val, uint64_t max,
                       uint64_t *out, GError **errp)
{
    char *end;
    guint64 v;
    int shift = 0;

    errno = 0;
    v = g_ascii_strtoull(val, &end, 10);
    if (end != val && *end && !end[1]) {
        switch (g_ascii_toupper(*end)) {
        case 'K':
            shift = 10;
            end++;
            break;
        case 'M':
            shift = 20;
            end++;
            break;
        case 'G':
            shift = 30;
            end++;
            break;
        case 'T':
            shift = 40;
            end++;
            break;
        }
    }
    if (end == val || *end || errno || !g_ascii_isdigit(*val) ||
        v > (max >> shift)) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Parameter '%s' expects a size up to %" G_GUINT64_FORMAT
                    " (suffixes K, M, G, T), got '%s'",
                    key, max, val);
        return false;
    }
    *out = v << shift;
    return true;
}

bool hs_mig_parse_key(HsDevice *d, const char *key, const char *val, bool *ok,
                      GError **errp)
{
    uint64_t v;

    if (!strcmp(key, "migration")) {
        *ok = hs_parse_onoff(key, val, &d->migration, errp);
    } else if (!strcmp(key, "precopy")) {
        *ok = hs_parse_onoff(key, val, &d->precopy, errp);
    } else if (!strcmp(key, "dma-logging")) {
        *ok = hs_parse_onoff(key, val, &d->dma_logging, errp);
    } else if (!strcmp(key, "iommu-dirty")) {
        *ok = hs_parse_onoff(key, val, &d->iommu_dirty, errp);
    } else if (!strcmp(key, "state-size")) {
        *ok = parse_size(key, val, STATE_SIZE_MAX, &d->state_size, errp);
    } else if (!strcmp(key, "state-dirty-rate")) {
        *ok = parse_size(key, val, 1ull << 40, &d->dirty_rate, errp);
    } else if (!strcmp(key, "dma-logging-max-ranges")) {
        *ok = parse_size(key, val, 65536, &v, errp);
        if (*ok && !v) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Parameter '%s' must be at least 1", key);
            *ok = false;
        }
        d->log_max_ranges = v;
    } else {
        return false;
    }
    return true;
}

bool hs_mig_init(HsDevice *d, GError **errp)
{
    uint64_t i;

    if (d->precopy && !d->migration) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "precopy=on needs migration=on");
        return false;
    }
    d->mig_state = VFIO_DEVICE_STATE_RUNNING;
    d->state_seed = hs_hash(d->bdf, strlen(d->bdf), 0x5eed);
    d->state = g_malloc(MAX(d->state_size, 8));
    /* A pattern of its own per device: a state that never arrived shows. */
    for (i = 0; i + 8 <= d->state_size; i += 8) {
        uint64_t w = mix64(d->state_seed ^ i);

        memcpy(d->state + i, &w, 8);
    }
    for (; i < d->state_size; i++) {
        d->state[i] = d->state_seed >> (8 * (i % 8));
    }
    d->mut_since = g_get_monotonic_time();
    d->log_ranges = g_array_new(FALSE, FALSE, sizeof(HsRange));
    d->log_dirty = g_hash_table_new(g_direct_hash, g_direct_equal);
    return true;
}

/* ---- the running device ---- */

bool hs_mig_running(HsDevice *d)
{
    switch (d->mig_state) {
    case VFIO_DEVICE_STATE_RUNNING:
    case VFIO_DEVICE_STATE_RUNNING_P2P:
    case VFIO_DEVICE_STATE_PRE_COPY:
    case VFIO_DEVICE_STATE_PRE_COPY_P2P:
        return true;
    }
    return false;
}

bool hs_mig_p2p_quiesced(HsDevice *d)
{
    return d->mig_state == VFIO_DEVICE_STATE_RUNNING_P2P ||
           d->mig_state == VFIO_DEVICE_STATE_PRE_COPY_P2P;
}

static void mark_dirty(HsMigFile *f, uint64_t chunk)
{
    /* Only what was already generated needs sending again. */
    if (chunk < f->next_initial && !(f->dirty[chunk / 8] & (1u << chunk % 8))) {
        f->dirty[chunk / 8] |= 1u << chunk % 8;
        f->ndirty++;
    }
}

/*
 * The device changes its internal state at dirty_rate bytes per second
 * while it runs: consecutive 8-byte words get a running counter, so a
 * rate dirties consecutive chunks.
 */
void hs_mig_mutate(HsDevice *d, int64_t now)
{
    double target =
        (double)d->dirty_rate * (double)(now - d->mut_since) / G_USEC_PER_SEC;
    uint64_t words = d->state_size / 8;
    HsMigFile *f = d->migf && d->migf->saving ? d->migf : NULL;
    uint64_t n;

    if (target <= (double)d->mut_done || !words) {
        return;
    }
    n = (uint64_t)target - d->mut_done;
    d->mut_done += n;
    n = MIN((n + 7) / 8, words);
    while (n--) {
        uint64_t v = ++d->mut_counter ^ d->state_seed;

        memcpy(d->state + d->mut_cursor * 8, &v, 8);
        if (f) {
            mark_dirty(f, d->mut_cursor * 8 / MIG_CHUNK);
        }
        d->mut_cursor = (d->mut_cursor + 1) % words;
    }
}

uint32_t hs_mig_reg_read(HsDevice *d, unsigned reg)
{
    uint64_t h;

    switch (reg) {
    case R_MIG_STATE:
        return d->mig_state;
    case R_STATE_SUM:
        h = hs_hash(d->state, d->state_size, 0);
        return (uint32_t)(h ^ (h >> 32));
    }
    return d->regs[reg];
}

/* ---- sessions ---- */

static void session_free(HsMigFile *f)
{
    g_clear_pointer(&f->hash, g_free);
    g_clear_pointer(&f->dirty, g_free);
    g_clear_pointer(&f->in_state, g_free);
    g_clear_pointer(&f->have, g_free);
    g_clear_pointer(&f->err, g_free);
    if (f->pending) {
        g_byte_array_unref(f->pending);
        f->pending = NULL;
    }
}

/*
 * The data transfer session ends: its fd reads ENODEV from now on; a
 * session whose fd was closed is gone.
 */
static void session_end(HsDevice *d)
{
    HsMigFile *f = d->migf;

    if (!f) {
        return;
    }
    session_free(f);
    f->dev = NULL;
    d->migf = NULL;
    if (f->fd_closed) {
        g_free(f);
    }
}

static HsMigFile *session_new(HsDevice *d, bool saving)
{
    HsMigFile *f = g_new0(HsMigFile, 1);

    session_end(d);
    f->dev = d;
    f->saving = saving;
    f->conn_fd = -1;
    f->nchunks = (d->state_size + MIG_CHUNK - 1) / MIG_CHUNK;
    f->hash = g_new0(uint64_t, MAX(f->nchunks, 1));
    if (saving) {
        f->session = g_random_int() | (uint64_t)g_random_int() << 32;
        f->dirty = g_malloc0(f->nchunks / 8 + 1);
        f->pending = g_byte_array_new();
        d->regs[R_SAVED_PRE] = d->regs[R_SAVED_STOP] = 0;
    } else {
        f->in_state = g_malloc(MAX(d->state_size, 8));
        f->have = g_malloc0(f->nchunks / 8 + 1);
        f->phase = PH_HDR;
        f->rec_need = sizeof(MigHdr);
        d->regs[R_LOADED] = 0;
    }
    d->migf = f;
    return f;
}

void hs_mig_reset(HsDevice *d)
{
    session_end(d);
    d->mig_state = VFIO_DEVICE_STATE_RUNNING;
    d->mut_since = g_get_monotonic_time();
    d->mut_done = 0;
}

/* ---- saving ---- */

static void put_rec(HsMigFile *f, uint32_t type, uint64_t arg, uint64_t hash,
                    const void *payload, uint32_t len)
{
    MigRec r = {.type = type, .len = len, .arg = arg, .hash = hash};

    g_byte_array_append(f->pending, (const guint8 *)&r, sizeof(r));
    g_byte_array_append(f->pending, payload, len);
}

static void put_chunk(HsMigFile *f, uint64_t idx)
{
    HsDevice *d = f->dev;
    const uint8_t *p = d->state + idx * MIG_CHUNK;
    uint64_t len = chunk_len(d, idx);

    f->hash[idx] = chunk_hash(p, len, idx);
    put_rec(f, REC_DATA, idx, f->hash[idx], p, len);
}

static void regs_pack(HsDevice *d, uint32_t *out)
{
    size_t i;

    for (i = 0; i < N_MIG_REGS; i++) {
        out[i] = d->regs[mig_regs[i]];
    }
    out[N_MIG_REGS] = d->intx_pending ? MIG_IRQ_PENDING : 0;
}

/* Append the next record to pending; false when there is none now. */
static bool save_next(HsMigFile *f)
{
    HsDevice *d = f->dev;

    if (!f->hdr_done) {
        MigHdr h = {MIG_MAGIC,     MIG_VERSION, DMATEST_ID, MIG_CHUNK,
                    d->state_size, f->session,  0};

        h.hash = hs_hash(&h, offsetof(MigHdr, hash), 0);
        g_byte_array_append(f->pending, (const guint8 *)&h, sizeof(h));
        f->hdr_done = true;
        f->pending_initial = true;
        return true;
    }
    if (f->next_initial < f->nchunks) {
        put_chunk(f, f->next_initial++);
        f->pending_initial = true;
        return true;
    }
    f->pending_initial = false;
    if (f->ndirty) {
        while (!(f->dirty[f->dirty_scan / 8] & (1u << f->dirty_scan % 8))) {
            f->dirty_scan = (f->dirty_scan + 1) % f->nchunks;
        }
        f->dirty[f->dirty_scan / 8] &= ~(1u << f->dirty_scan % 8);
        f->ndirty--;
        put_chunk(f, f->dirty_scan);
        return true;
    }
    if (d->mig_state != VFIO_DEVICE_STATE_STOP_COPY) {
        return false; /* pre-copy's temporary end of stream */
    }
    if (!f->regs_done) {
        uint32_t regs[N_MIG_REGS + 1];

        regs_pack(d, regs);
        f->regs_hash = hs_hash(regs, sizeof(regs), REC_REGS);
        put_rec(f, REC_REGS, 0, f->regs_hash, regs, sizeof(regs));
        f->regs_done = true;
        return true;
    }
    if (!f->end_done) {
        MigEnd e = {f->session, f->nchunks};

        put_rec(f, REC_END, 0,
                stream_hash(f->hash, f->nchunks, f->regs_hash, f->session), &e,
                sizeof(e));
        f->end_done = true;
        return true;
    }
    return false;
}

/* Stream bytes of the DATA records of chunks [from, to). */
static uint64_t chunks_bytes(HsDevice *d, uint64_t from, uint64_t to)
{
    if (from >= to) {
        return 0;
    }
    return (to - from) * sizeof(MigRec) + MIN(to * MIG_CHUNK, d->state_size) -
           from * MIG_CHUNK;
}

/* Bytes not yet read: of the initial pass, and of chunks dirtied since. */
static void save_remaining(HsMigFile *f, uint64_t *initial, uint64_t *dirty)
{
    HsDevice *d = f->dev;
    uint64_t pend = f->pending->len - f->pending_off;

    *initial = (f->hdr_done ? 0 : sizeof(MigHdr)) +
               chunks_bytes(d, f->next_initial, f->nchunks);
    *dirty = f->ndirty * (sizeof(MigRec) + MIG_CHUNK);
    if (f->pending_initial) {
        *initial += pend;
    } else {
        *dirty += pend;
    }
}

/* What STOP_COPY would still produce (VFIO_DEVICE_FEATURE_MIG_DATA_SIZE). */
static uint64_t stop_copy_length(HsDevice *d)
{
    uint64_t tail = 2 * sizeof(MigRec) + MIG_REGS_LEN + sizeof(MigEnd);
    uint64_t initial, dirty;

    if (d->migf && d->migf->saving) {
        save_remaining(d->migf, &initial, &dirty);
        return initial + dirty + (d->migf->regs_done ? 0 : tail);
    }
    return sizeof(MigHdr) +
           chunks_bytes(d, 0, (d->state_size + MIG_CHUNK - 1) / MIG_CHUNK) +
           tail;
}

int64_t hs_migfile_read(HsMigFile *f, HsCall *c)
{
    uint64_t len = MIN(c->req->len, (uint64_t)HOSTSIM_MAX_PAYLOAD);
    uint64_t out = 0, n;
    HsDevice *d = f->dev;

    if (!f->saving) {
        return -EBADF; /* the resuming fd is write-only */
    }
    if (!d) {
        return -ENODEV; /* the session ended */
    }
    while (out < len) {
        if (f->pending_off == f->pending->len) {
            g_byte_array_set_size(f->pending, 0);
            f->pending_off = 0;
            if (!save_next(f)) {
                break;
            }
        }
        n = MIN(len - out, f->pending->len - f->pending_off);
        memcpy(c->out + out, f->pending->data + f->pending_off, n);
        f->pending_off += n;
        out += n;
    }
    c->out_len = out;
    if (d->mig_state == VFIO_DEVICE_STATE_STOP_COPY) {
        d->regs[R_SAVED_STOP] += out;
    } else {
        d->regs[R_SAVED_PRE] += out;
        if (!out && len) {
            return -ENOMSG; /* nothing now; more may come */
        }
    }
    return out;
}

int64_t hs_migfile_ioctl(HsMigFile *f, HsCall *c)
{
    struct vfio_precopy_info info;
    HsDevice *d = f->dev;
    uint64_t initial, dirty;

    if (c->req->cmd != VFIO_MIG_GET_PRECOPY_INFO || !f->saving) {
        return -ENOTTY;
    }
    if (c->in_len < sizeof(info)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    memcpy(&info, c->in, sizeof(info));
    if (info.argsz < sizeof(info)) {
        return -EINVAL;
    }
    if (!d) {
        return -ENODEV;
    }
    if (d->mig_state != VFIO_DEVICE_STATE_PRE_COPY &&
        d->mig_state != VFIO_DEVICE_STATE_PRE_COPY_P2P) {
        hs_log("device %s: VFIO_MIG_GET_PRECOPY_INFO in %s; EINVAL", d->bdf,
               state_name(d->mig_state));
        return -EINVAL;
    }
    save_remaining(f, &initial, &dirty);
    info.initial_bytes = initial;
    info.dirty_bytes = dirty;
    info.flags = 0;
    memcpy(c->out, &info, sizeof(info));
    c->out_len = sizeof(info);
    return 0;
}

/* ---- resuming ---- */

static void load_fail(HsMigFile *f, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void load_fail(HsMigFile *f, const char *fmt, ...)
{
    va_list ap;

    if (f->err) {
        return;
    }
    va_start(ap, fmt);
    f->err = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void load_hdr(HsMigFile *f)
{
    HsDevice *d = f->dev;
    MigHdr h;

    memcpy(&h, f->rec, sizeof(h));
    if (h.magic != MIG_MAGIC) {
        load_fail(f, "not a dmatest state stream (magic 0x%08x)", h.magic);
    } else if (h.hash != hs_hash(&h, offsetof(MigHdr, hash), 0)) {
        load_fail(f, "stream header checksum mismatch");
    } else if (h.version != MIG_VERSION) {
        load_fail(f, "stream version %u, expected %u", h.version, MIG_VERSION);
    } else if (h.dev_id != DMATEST_ID) {
        load_fail(f, "state of device 0x%08x, this is 0x%08x", h.dev_id,
                  DMATEST_ID);
    } else if (h.chunk_size != MIG_CHUNK || h.state_size != d->state_size) {
        load_fail(f,
                  "state-size %" G_GUINT64_FORMAT
                  ", this device has %" G_GUINT64_FORMAT,
                  (uint64_t)h.state_size, d->state_size);
    }
    f->session = h.session;
    f->got_hdr = true;
    f->phase = PH_REC;
    f->rec_need = sizeof(MigRec);
}

static void load_rec_header(HsMigFile *f)
{
    HsDevice *d = f->dev;
    MigRec *r = &f->cur;
    uint64_t want = 0;

    memcpy(r, f->rec, sizeof(*r));
    switch (r->type) {
    case REC_DATA:
        if (r->arg >= f->nchunks) {
            load_fail(f, "chunk %" G_GUINT64_FORMAT " beyond the state",
                      (uint64_t)r->arg);
            return;
        }
        want = chunk_len(d, r->arg);
        break;
    case REC_REGS:
        want = MIG_REGS_LEN;
        break;
    case REC_END:
        want = sizeof(MigEnd);
        break;
    default:
        load_fail(f, "unknown record type %u", r->type);
        return;
    }
    if (r->len != want) {
        load_fail(f, "record type %u of %u bytes, expected %" G_GUINT64_FORMAT,
                  r->type, r->len, want);
        return;
    }
    f->phase = PH_PAYLOAD;
    f->rec_need = r->len;
}

static void load_payload(HsMigFile *f)
{
    MigRec *r = &f->cur;
    MigEnd e;

    switch (r->type) {
    case REC_DATA:
        if (chunk_hash(f->rec, r->len, r->arg) != r->hash) {
            load_fail(f, "chunk %" G_GUINT64_FORMAT ": checksum mismatch",
                      (uint64_t)r->arg);
            return;
        }
        memcpy(f->in_state + r->arg * MIG_CHUNK, f->rec, r->len);
        f->hash[r->arg] = r->hash;
        if (!(f->have[r->arg / 8] & (1u << r->arg % 8))) {
            f->have[r->arg / 8] |= 1u << r->arg % 8;
            f->nhave++;
        }
        break;
    case REC_REGS:
        if (hs_hash(f->rec, r->len, REC_REGS) != r->hash) {
            load_fail(f, "register record: checksum mismatch");
            return;
        }
        memcpy(f->in_regs, f->rec, sizeof(f->in_regs));
        f->regs_hash = r->hash;
        f->got_regs = true;
        break;
    case REC_END:
        memcpy(&e, f->rec, sizeof(e));
        if (e.session != f->session || e.nchunks != f->nchunks) {
            load_fail(f, "end record of another save session");
            return;
        }
        f->end_hash = r->hash;
        f->phase = PH_DONE;
        f->rec_need = 0;
        return;
    }
    f->phase = PH_REC;
    f->rec_need = sizeof(MigRec);
}

void hs_migfile_write(HsMigFile *f, const uint8_t *buf, size_t len,
                      bool truncated)
{
    HsDevice *d = f->dev;
    size_t n;

    if (!d || f->saving) {
        /* The kernel answers EBADF (saving) or ENODEV; a write cannot. */
        hs_log("write of %zu bytes to a %s data fd; dropped", len,
               !d ? "finished" : "saving");
        return;
    }
    d->regs[R_LOADED] += len;
    if (truncated) {
        load_fail(f, "a write() was larger than a message (truncated)");
    }
    while (len && !f->err) {
        if (f->phase == PH_DONE) {
            load_fail(f, "data after the end record");
            break;
        }
        n = MIN(len, f->rec_need - f->rec_len);
        memcpy(f->rec + f->rec_len, buf, n);
        f->rec_len += n;
        buf += n;
        len -= n;
        if (f->rec_len < f->rec_need) {
            break;
        }
        f->rec_len = 0;
        switch (f->phase) {
        case PH_HDR:
            load_hdr(f);
            break;
        case PH_REC:
            load_rec_header(f);
            break;
        case PH_PAYLOAD:
            load_payload(f);
            break;
        }
    }
}

/*
 * Leaving RESUMING: the state is taken only complete and consistent; the
 * arc fails otherwise (the device then goes to ERROR).
 */
static bool load_finish(HsDevice *d)
{
    HsMigFile *f = d->migf;
    const char *why = NULL;
    uint8_t *new_state;
    size_t i;

    /* RESUMING always has its session, whether or not its fd is open. */
    g_assert(f);
    if (f->conn_fd >= 0) {
        hs_conn_drain_writes(f->conn_fd, f);
    }
    if (f->err) {
        why = f->err;
    } else if (!f->got_hdr) {
        why = "no state was written";
    } else if (f->phase != PH_DONE) {
        why = "truncated: the stream ends before its end record";
    } else if (!f->got_regs) {
        why = "no register record";
    } else if (f->nhave < f->nchunks) {
        why = "incomplete: chunks of the state are missing";
    } else if (stream_hash(f->hash, f->nchunks, f->regs_hash, f->session) !=
               f->end_hash) {
        why = "stale or inconsistent state: checksum mismatch";
    }
    if (why) {
        hs_log("device %s: RESUMING -> STOP refused: %s; EINVAL", d->bdf, why);
        return false;
    }
    /* Take the new state's buffer; the session frees the old one. */
    new_state = f->in_state;
    f->in_state = d->state;
    d->state = new_state;
    for (i = 0; i < N_MIG_REGS; i++) {
        d->regs[mig_regs[i]] = f->in_regs[i];
    }
    d->intx_pending = f->in_regs[N_MIG_REGS] & MIG_IRQ_PENDING;
    hs_log("device %s: state loaded (HEAD %u, %" G_GUINT64_FORMAT
           " bytes of internal state)",
           d->bdf, d->regs[R_HEAD], d->state_size);
    return true;
}

/* ---- the state machine ---- */

/*
 * The next state on the shortest path from one state to another, as the
 * vfio core's vfio_mig_get_next_state() documents it (linux/vfio.h):
 * fsm[cur][target]. ERROR is never a target.
 */
#define S_ER VFIO_DEVICE_STATE_ERROR
#define S_ST VFIO_DEVICE_STATE_STOP
#define S_RU VFIO_DEVICE_STATE_RUNNING
#define S_SC VFIO_DEVICE_STATE_STOP_COPY
#define S_RE VFIO_DEVICE_STATE_RESUMING
#define S_RP VFIO_DEVICE_STATE_RUNNING_P2P
#define S_PC VFIO_DEVICE_STATE_PRE_COPY
#define S_PP VFIO_DEVICE_STATE_PRE_COPY_P2P
static const uint8_t fsm[NUM_STATES][NUM_STATES] = {
    /* to:        ER    ST    RU    SC    RE    RP    PC    PP */
    [S_ER] = {S_ER, S_ER, S_ER, S_ER, S_ER, S_ER, S_ER, S_ER},
    [S_ST] = {S_ER, S_ST, S_RP, S_SC, S_RE, S_RP, S_RP, S_RP},
    [S_RU] = {S_ER, S_RP, S_RU, S_RP, S_RP, S_RP, S_PC, S_RP},
    [S_SC] = {S_ER, S_ST, S_ST, S_SC, S_ST, S_ST, S_ER, S_ER},
    [S_RE] = {S_ER, S_ST, S_ST, S_ST, S_RE, S_ST, S_ST, S_ST},
    [S_RP] = {S_ER, S_ST, S_RU, S_ST, S_ST, S_RP, S_RU, S_PP},
    [S_PC] = {S_ER, S_RU, S_RU, S_PP, S_RU, S_RU, S_PC, S_PP},
    [S_PP] = {S_ER, S_RP, S_RP, S_SC, S_RP, S_RP, S_PC, S_PP},
};

static bool state_supported(HsDevice *d, uint32_t s)
{
    uint64_t flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
                     (d->precopy ? VFIO_MIGRATION_PRE_COPY : 0);
    uint64_t need;

    switch (s) {
    case S_PC:
        need = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_PRE_COPY;
        break;
    case S_PP:
        need = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
               VFIO_MIGRATION_PRE_COPY;
        break;
    case S_RP:
        need = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P;
        break;
    case S_ST:
    case S_RU:
    case S_SC:
    case S_RE:
        need = VFIO_MIGRATION_STOP_COPY;
        break;
    default:
        return false; /* ERROR and unknown values */
    }
    return (flags & need) == need;
}

/* One arc of the FSM. */
static int mig_step(HsDevice *d, uint32_t next, HsMigFile **newf)
{
    uint32_t cur = d->mig_state;
    bool was_running = hs_mig_running(d);

    if (d->regs[R_MIG_FAIL] == (MIG_FAIL_ARMED | next)) {
        /* A device failure a test asked for: the arc fails, ERROR. */
        d->regs[R_MIG_FAIL] = 0;
        session_end(d);
        d->mig_state = S_ER;
        hs_log("device %s: migration state %s -> %s fails as MIG_FAIL asked; "
               "ERROR, EIO",
               d->bdf, state_name(cur), state_name(next));
        g_cond_signal(&d->cond);
        return -EIO;
    }
    if (cur == S_RE && next == S_ST) {
        if (!load_finish(d)) {
            session_end(d);
            d->mig_state = S_ER;
            g_cond_signal(&d->cond);
            return -EINVAL;
        }
        session_end(d);
    } else if ((cur == S_RU && next == S_PC) || (cur == S_RP && next == S_PP) ||
               (cur == S_ST && next == S_SC)) {
        *newf = session_new(d, true);
    } else if (cur == S_ST && next == S_RE) {
        *newf = session_new(d, false);
    } else if ((cur == S_PC && next == S_RU) || (cur == S_PP && next == S_RP) ||
               (cur == S_SC && next == S_ST)) {
        session_end(d);
    }
    d->mig_state = next;
    hs_log("device %s: migration state %s -> %s", d->bdf, state_name(cur),
           state_name(next));
    if (!was_running && hs_mig_running(d)) {
        d->mut_since = g_get_monotonic_time();
        d->mut_done = 0;
        hs_dmatest_resumed(d);
    }
    g_cond_signal(&d->cond);
    return 0;
}

static int mig_set_state(HsDevice *d, uint32_t target, HsMigFile **newf)
{
    uint32_t next;
    int ret;

    *newf = NULL;
    if (!state_supported(d, target) || !state_supported(d, d->mig_state)) {
        hs_log("device %s: migration state %s -> %u (%s) is not possible; "
               "EINVAL",
               d->bdf, state_name(d->mig_state), target, state_name(target));
        return -EINVAL;
    }
    while (d->mig_state != target) {
        next = fsm[d->mig_state][target];
        while (!state_supported(d, next) && next != S_ER) {
            next = fsm[next][target];
        }
        if (next == S_ER) {
            hs_log("device %s: no arc from %s toward %s; EINVAL", d->bdf,
                   state_name(d->mig_state), state_name(target));
            return -EINVAL;
        }
        ret = mig_step(d, next, newf);
        if (ret < 0) {
            *newf = NULL;
            return ret;
        }
    }
    return 0;
}

/* ---- VFIO_DEVICE_FEATURE ---- */

int hs_mig_check_feature(uint32_t flags, uint32_t argsz, uint32_t ops,
                         uint32_t minsz)
{
    if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) & ~ops) {
        return -EINVAL;
    }
    if (flags & VFIO_DEVICE_FEATURE_PROBE) {
        return 0;
    }
    if (!(flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET))) {
        return -EINVAL;
    }
    if (argsz < minsz) {
        return -EINVAL;
    }
    return 1;
}

static int64_t feature_mig_state(HsDevice *d, uint32_t flags, uint8_t *data,
                                 uint32_t dlen, HsMigFile **newf)
{
    struct vfio_device_feature_mig_state mig;
    int ret = hs_mig_check_feature(flags, dlen,
                            VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
                            sizeof(mig));

    if (ret != 1) {
        return ret;
    }
    memcpy(&mig, data, sizeof(mig));
    if (flags & VFIO_DEVICE_FEATURE_GET) {
        mig.device_state = d->mig_state;
    } else if (!newf) {
        hs_log("device %s: MIG_DEVICE_STATE SET must come as "
               "HOSTSIM_OP_MIG_SET; EINVAL",
               d->bdf);
        return -EINVAL;
    } else {
        ret = mig_set_state(d, mig.device_state, newf);
    }
    mig.data_fd = -1; /* the preload puts the new fd here */
    memcpy(data, &mig, sizeof(mig));
    return ret;
}

int64_t hs_mig_feature(HsDevFile *df, HsCall *c, HsMigFile **newf)
{
    const uint32_t all = VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET |
                         VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE;
    HsDevice *d = df->dev;
    struct vfio_device_feature h;
    uint8_t *data = c->out + sizeof(h);
    uint32_t dlen;
    uint64_t v;
    int ret;

    if (c->in_len < sizeof(h)) {
        return c->in_len ? -EINVAL : -EFAULT;
    }
    memcpy(&h, c->in, sizeof(h));
    if (h.argsz < sizeof(h) || (h.flags & ~all) ||
        (!(h.flags & VFIO_DEVICE_FEATURE_PROBE) &&
         (h.flags & VFIO_DEVICE_FEATURE_SET) &&
         (h.flags & VFIO_DEVICE_FEATURE_GET))) {
        return -EINVAL;
    }
    /* The reply is the argument with data[] filled in. */
    c->out_len = MIN(h.argsz, c->in_len);
    memcpy(c->out, c->in, c->out_len);
    dlen = c->out_len - sizeof(h);
    switch (h.flags & VFIO_DEVICE_FEATURE_MASK) {
    case VFIO_DEVICE_FEATURE_MIGRATION:
        if (!d->migration) {
            return -ENOTTY;
        }
        ret = hs_mig_check_feature(h.flags, dlen, VFIO_DEVICE_FEATURE_GET, 8);
        if (ret == 1) {
            v = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
                (d->precopy ? VFIO_MIGRATION_PRE_COPY : 0);
            memcpy(data, &v, 8);
            ret = 0;
        }
        return ret;
    case VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE:
        if (!d->migration) {
            return -ENOTTY;
        }
        return feature_mig_state(d, h.flags, data, dlen, newf);
    case VFIO_DEVICE_FEATURE_MIG_DATA_SIZE:
        if (!d->migration) {
            return -ENOTTY;
        }
        ret = hs_mig_check_feature(h.flags, dlen, VFIO_DEVICE_FEATURE_GET, 8);
        if (ret == 1) {
            v = stop_copy_length(d);
            memcpy(data, &v, 8);
            ret = 0;
        }
        return ret;
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
    case VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
        return hs_log_feature(d, h.flags, data, dlen, c, h.argsz);
    }
    /* vfio-pci answers the other features ENOTTY for this function. */
    return -ENOTTY;
}

/* ---- the data file ---- */

void hs_migfile_bind(HsMigFile *f, int conn_fd)
{
    f->conn_fd = conn_fd;
}

/*
 * The VMM closed its data fd. The session goes on until the arc that
 * ends it, as in the kernel, whose drivers hold a reference of their own
 * on the file while the device is in the session's states (get_file()
 * at the arc that starts it): leaving RESUMING still takes and checks
 * what was written, and the arc is refused only for what is wrong with
 * that (vfio_mig_get_next_state() allows RESUMING -> STOP whatever the
 * fd). All writes were taken before the close reached the daemon.
 */
void hs_migfile_release(HsMigFile *f)
{
    if (f->dev && f->dev->migf == f) {
        f->conn_fd = -1;
        f->fd_closed = true;
        return;
    }
    session_free(f);
    g_free(f);
}
