/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPR owners whose configuration may differ between the old and the new
 * process (chardevs, with the monitors on them): the records by which the
 * new process decides what it inherits, and the reply in which a
 * cpr-transfer target tells the old process what it adopted, so that the
 * old process keeps serving the rest. The fd registry is cpr.c's; the
 * reply travels on the cpr channel (cpr-transfer.c). Format:
 * docs/devel/migration-stream.md, "CPR state" and "CPR reply".
 */
#include "util/osdep.h"

#include "migration/cpr.h"
#include "migration/stream.h"

#include "cpr-internal.h"

#define CPR_REPLY_MAGIC "BATONCPA"
#define CPR_REPLY_VERSION 1
/* Bounds checked before anything is allocated. */
#define CPR_OWNER_MAX 4096
#define CPR_OWNER_MAX_NAME 1024
#define CPR_OWNER_MAX_RECORD (64u * 1024)

typedef struct CprOwner {
    char *owner;
    char *record;
} CprOwner;

/* Big lock held (or single-threaded start-up) for all of it. */
static GPtrArray *owners;       /* CprOwner *: this process, recording order */
/* Old process, from the CPR state sent to the reply (or the failure). */
static GPtrArray *sent_owners;  /* char *: the owners the state named */
static GPtrArray *declined;     /* char *: those the new one did not adopt */
static bool awaiting_reply;
/* New process, until the take-over. */
static GPtrArray *old_owners;   /* CprOwner *: the old process's records */
static GPtrArray *adopted;      /* char *: the owners adopted here */
static bool settled;            /* the old process knows what we adopted */

static void cpr_owner_free(gpointer p)
{
    CprOwner *o = p;

    g_free(o->owner);
    g_free(o->record);
    g_free(o);
}

static GPtrArray *owner_list(GPtrArray **l)
{
    if (!*l) {
        *l = g_ptr_array_new_with_free_func(cpr_owner_free);
    }
    return *l;
}

static GPtrArray *name_list(GPtrArray **l)
{
    if (!*l) {
        *l = g_ptr_array_new_with_free_func(g_free);
    }
    return *l;
}

static CprOwner *owner_find(GPtrArray *l, const char *owner, guint *index)
{
    for (guint i = 0; l && i < l->len; i++) {
        CprOwner *o = g_ptr_array_index(l, i);

        if (!strcmp(o->owner, owner)) {
            if (index) {
                *index = i;
            }
            return o;
        }
    }
    return NULL;
}

static bool name_listed(GPtrArray *l, const char *name)
{
    for (guint i = 0; l && i < l->len; i++) {
        if (!strcmp(g_ptr_array_index(l, i), name)) {
            return true;
        }
    }
    return false;
}

/* The listed owner that entry NAME belongs to, or NULL. */
static const char *owner_of(GPtrArray *l, const char *name)
{
    for (guint i = 0; l && i < l->len; i++) {
        const char *owner = g_ptr_array_index(l, i);

        if (cpr_name_in_owner(name, owner)) {
            return owner;
        }
    }
    return NULL;
}

/* ---- records, every process ---- */

void cpr_owner_record(const char *owner, const char *record)
{
    CprOwner *o = owner_find(owners, owner, NULL);

    g_assert(strlen(owner) <= CPR_OWNER_MAX_NAME);
    if (!o) {
        o = g_new0(CprOwner, 1);
        o->owner = g_strdup(owner);
        g_ptr_array_add(owner_list(&owners), o);
    }
    g_free(o->record);
    o->record = g_strdup(record);
}

void cpr_owner_forget(const char *owner)
{
    guint i;

    if (owner_find(owners, owner, &i)) {
        g_ptr_array_remove_index(owners, i);
    }
}

void cpr_owner_foreach(void (*fn)(const char *owner, const char *record,
                                  void *opaque),
                       void *opaque)
{
    for (guint i = 0; owners && i < owners->len; i++) {
        CprOwner *o = g_ptr_array_index(owners, i);

        fn(o->owner, o->record, opaque);
    }
}

bool cpr_owner_legacy_ok(void)
{
    for (guint i = 0; owners && i < owners->len; i++) {
        CprOwner *o = g_ptr_array_index(owners, i);
        g_autofree char *legacy = cpr_legacy_name(o->owner);

        if (!legacy || strlen(legacy) > CPR_OWNER_MAX_NAME) {
            return false;
        }
    }
    return true;
}

/* OWNER as it goes on the wire (a new string). */
static char *owner_wire_name(const char *owner, bool legacy)
{
    char *l = legacy ? cpr_legacy_name(owner) : NULL;

    return l ? l : g_strdup(owner);
}

/* An owner name read from the wire, canonical (a new string). */
static char *owner_from_wire(char *name, bool legacy)
{
    char *c = legacy ? cpr_name_from_legacy(name) : NULL;

    if (c) {
        g_free(name);
        return c;
    }
    return name;
}

bool cpr_owner_put_records(MigStream *p, bool legacy)
{
    guint n = owners ? owners->len : 0;

    mig_put_be32(p, n);
    for (guint i = 0; i < n; i++) {
        CprOwner *o = g_ptr_array_index(owners, i);
        size_t len = MIN(strlen(o->record), CPR_OWNER_MAX_RECORD);
        g_autofree char *name = owner_wire_name(o->owner, legacy);

        mig_put_be16(p, strlen(name));
        mig_put_buffer(p, name, strlen(name));
        /* A longer record is cut: it then never matches (not inherited). */
        mig_put_be32(p, len);
        mig_put_buffer(p, o->record, len);
    }
    return true;
}

/* A be16 (NAME) or be32-length string of 1 (0 if EMPTY_OK) to MAX bytes. */
static char *get_string(MigStream *p, bool wide, bool empty_ok, size_t max,
                        const char *what, GError **errp)
{
    uint32_t len = wide ? mig_get_be32(p) : mig_get_be16(p);
    char *s;

    if (!mig_stream_check(p, errp)) {
        return NULL;
    }
    if ((!len && !empty_ok) || len > max || len > mig_stream_remaining(p)) {
        error_setg(errp, "cpr state: %s length %u is out of range", what,
                   len);
        return NULL;
    }
    s = g_malloc(len + 1);
    mig_get_buffer(p, s, len);
    s[len] = '\0';
    if (!mig_stream_check(p, errp)) {
        g_free(s);
        return NULL;
    }
    return s;
}

bool cpr_owner_get_records(MigStream *p, bool legacy, GError **errp)
{
    uint32_t n = mig_get_be32(p);

    if (!mig_stream_check(p, errp)) {
        return false;
    }
    if (n > CPR_OWNER_MAX) {
        error_setg(errp, "cpr state: %u owner records exceed the maximum "
                   "%d", n, CPR_OWNER_MAX);
        return false;
    }
    g_clear_pointer(&old_owners, g_ptr_array_unref);
    for (uint32_t i = 0; i < n; i++) {
        g_autofree char *owner = get_string(p, false, false,
                                            CPR_OWNER_MAX_NAME, "owner",
                                            errp);
        g_autofree char *record = NULL;
        CprOwner *o;

        if (!owner) {
            return false;
        }
        owner = owner_from_wire(owner, legacy);
        record = get_string(p, true, true, CPR_OWNER_MAX_RECORD,
                            "owner record", errp);
        if (!record) {
            return false;
        }
        if (owner_find(old_owners, owner, NULL)) {
            error_setg(errp, "cpr state: owner '%s' appears twice", owner);
            return false;
        }
        o = g_new0(CprOwner, 1);
        o->owner = g_steal_pointer(&owner);
        o->record = g_steal_pointer(&record);
        g_ptr_array_add(owner_list(&old_owners), o);
    }
    return true;
}

/* ---- the new process ---- */

const char *cpr_owner_old_record(const char *owner)
{
    CprOwner *o = owner_find(old_owners, owner, NULL);

    /*
     * Once settled, the fds of whatever was not adopted are gone and the
     * old process keeps serving it: an owner created now (chardev-add
     * before the take-over) is new, whatever it looks like.
     */
    return o && !settled ? o->record : NULL;
}

void cpr_owner_foreach_old(void (*fn)(const char *owner, const char *record,
                                      void *opaque),
                           void *opaque)
{
    for (guint i = 0; old_owners && i < old_owners->len; i++) {
        CprOwner *o = g_ptr_array_index(old_owners, i);

        fn(o->owner, o->record, opaque);
    }
}

void cpr_owner_adopt(const char *owner)
{
    g_assert(cpr_is_incoming() && !settled && cpr_owner_old_record(owner));
    if (!name_listed(adopted, owner)) {
        g_ptr_array_add(name_list(&adopted), g_strdup(owner));
    }
}

void cpr_owner_decline(const char *owner)
{
    g_assert(!name_listed(adopted, owner));
    cpr_fd_drop_owner(owner);
}

bool cpr_owner_settle(GError **errp)
{
    for (guint i = 0; old_owners && i < old_owners->len; i++) {
        CprOwner *o = g_ptr_array_index(old_owners, i);
        CprOwner *mine = owner_find(owners, o->owner, NULL);

        if (!name_listed(adopted, o->owner)) {
            /*
             * No such owner here: not ours. (One that exists here but
             * declined dropped the old fds when it was created; the
             * entries under its name are its own now.)
             */
            if (!mine) {
                cpr_fd_drop_owner(o->owner);
            }
            continue;
        }
        /*
         * The owner decided to adopt on part of its record (a chardev
         * on its options); the rest (the frontend attached since) must
         * agree too.
         */
        if (!cpr_config_compare(o->record, mine ? mine->record : "",
                                errp)) {
            g_prefix_error(errp, "%s: ", o->owner);
            return false;
        }
    }
    settled = true;
    return true;
}

void cpr_owner_incoming_done(void)
{
    g_clear_pointer(&old_owners, g_ptr_array_unref);
    g_clear_pointer(&adopted, g_ptr_array_unref);
    settled = false;
}

GBytes *cpr_owner_reply(void)
{
    g_autoptr(MigStream) p = mig_stream_new_mem_writer();
    g_autoptr(MigStream) f = mig_stream_new_mem_writer();
    guint n = adopted ? adopted->len : 0;
    /* An old process that wrote version 2 knows owners by those names. */
    bool legacy = cpr_incoming_version() < 3;
    const uint8_t *data;
    size_t len;

    mig_put_be32(p, n);
    for (guint i = 0; i < n; i++) {
        g_autofree char *owner = owner_wire_name(
            g_ptr_array_index(adopted, i), legacy);

        mig_put_be16(p, strlen(owner));
        mig_put_buffer(p, owner, strlen(owner));
    }
    data = mig_stream_mem_data(p, &len);
    cpr_frame_put(f, CPR_REPLY_MAGIC, CPR_REPLY_VERSION, data, len);
    data = mig_stream_mem_data(f, &len);
    return g_bytes_new(data, len);
}

/* ---- the old process ---- */

void cpr_owner_update_begins(bool await_reply)
{
    g_clear_pointer(&declined, g_ptr_array_unref);
    g_clear_pointer(&sent_owners, g_ptr_array_unref);
    for (guint i = 0; owners && i < owners->len; i++) {
        CprOwner *o = g_ptr_array_index(owners, i);

        g_ptr_array_add(name_list(&sent_owners), g_strdup(o->owner));
    }
    awaiting_reply = await_reply;
}

void cpr_owner_update_ends(void)
{
    g_clear_pointer(&declined, g_ptr_array_unref);
    g_clear_pointer(&sent_owners, g_ptr_array_unref);
    awaiting_reply = false;
}

bool cpr_owner_handed_over(const char *owner)
{
    return !name_listed(declined, owner);
}

bool cpr_owner_entry_handed_over(const char *name)
{
    return !owner_of(declined, name);
}

bool cpr_owner_reply_header(const uint8_t *hdr, uint32_t *len,
                            GError **errp)
{
    uint32_t version;

    return cpr_frame_check(hdr, CPR_REPLY_MAGIC, CPR_REPLY_VERSION,
                           CPR_REPLY_VERSION, CPR_REPLY_MAX_PAYLOAD,
                           "cpr reply", &version, len, errp);
}

/* The owners named in a reply payload (a new array), or NULL + errp. */
static GPtrArray *reply_parse(const uint8_t *payload, uint32_t len,
                              GError **errp)
{
    g_autoptr(MigStream) p = mig_stream_new_mem_reader(payload, len, NULL,
                                                       0);
    g_autoptr(GPtrArray) l = g_ptr_array_new_with_free_func(g_free);
    uint32_t n = mig_get_be32(p);

    if (!mig_stream_check(p, errp)) {
        return NULL;
    }
    if (n > CPR_OWNER_MAX) {
        error_setg(errp, "cpr reply: %u owners exceed the maximum %d", n,
                   CPR_OWNER_MAX);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        char *owner = get_string(p, false, false, CPR_OWNER_MAX_NAME,
                                 "owner", errp);

        if (!owner) {
            g_prefix_error(errp, "(reply) ");
            return NULL;
        }
        owner = owner_from_wire(owner, cpr_state_written_version() < 3);
        g_ptr_array_add(l, owner);
        if (!name_listed(sent_owners, owner)) {
            error_setg(errp, "cpr reply: the new process adopted '%s', "
                       "which was not handed over", owner);
            return NULL;
        }
    }
    if (mig_stream_remaining(p)) {
        error_setg(errp, "cpr reply: %zu unexpected trailing bytes",
                   mig_stream_remaining(p));
        return NULL;
    }
    return g_steal_pointer(&l);
}

bool cpr_owner_apply_reply(const uint8_t *hdr, const uint8_t *payload,
                           uint32_t len, uint32_t crc, GError **errp)
{
    g_autoptr(GPtrArray) l = NULL;

    g_assert(awaiting_reply);
    if (crc != cpr_frame_crc(hdr, payload, len)) {
        error_setg(errp, "cpr reply: checksum mismatch");
        return false;
    }
    l = reply_parse(payload, len, errp);
    if (!l) {
        return false;
    }
    for (guint i = 0; sent_owners && i < sent_owners->len; i++) {
        const char *owner = g_ptr_array_index(sent_owners, i);

        if (!name_listed(l, owner)) {
            g_ptr_array_add(name_list(&declined), g_strdup(owner));
        }
    }
    awaiting_reply = false;
    /*
     * What changed since the state was sent goes with the switchover
     * (cpr-late.c), for the owners adopted only.
     */
    return true;
}
