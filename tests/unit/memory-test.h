/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the memory tests: a listener that writes what it is
 * told into a string, and the flat view of an address space as text
 * ("name@start-last+offset" per section, " ro" when read-only).
 */
#ifndef BATON_TESTS_UNIT_MEMORY_TEST_H
#define BATON_TESTS_UNIT_MEMORY_TEST_H

#include "system/memory.h"

typedef struct TextListener {
    MemoryListener l;
    GString *log;
    bool log_fail; /* log_global_start fails */
} TextListener;

static inline void text_section(GString *out, const MemoryRegionSection *s)
{
    g_string_append_printf(out, "%s@%" PRIx64 "-%" PRIx64,
                           memory_region_name(s->mr),
                           s->offset_within_address_space,
                           s->offset_within_address_space + s->size - 1);
    if (s->offset_within_region) {
        g_string_append_printf(out, "+%" PRIx64, s->offset_within_region);
    }
    if (s->readonly) {
        g_string_append(out, " ro");
    }
}

#define TEXT_LISTENER_OF(ml) container_of(ml, TextListener, l)

static inline void tl_say(MemoryListener *ml, const char *what,
                          const MemoryRegionSection *s)
{
    TextListener *t = TEXT_LISTENER_OF(ml);

    if (t->log->len) {
        g_string_append_c(t->log, ' ');
    }
    g_string_append_printf(t->log, "%s%s", ml->name ? ml->name : "", what);
    if (s) {
        g_string_append_c(t->log, ':');
        text_section(t->log, s);
    }
}

static inline void tl_begin(MemoryListener *ml)
{
    tl_say(ml, "begin", NULL);
}

static inline void tl_commit(MemoryListener *ml)
{
    tl_say(ml, "commit", NULL);
}

static inline void tl_add(MemoryListener *ml, MemoryRegionSection *s)
{
    tl_say(ml, "add", s);
}

static inline void tl_del(MemoryListener *ml, MemoryRegionSection *s)
{
    tl_say(ml, "del", s);
}

static inline void tl_nop(MemoryListener *ml, MemoryRegionSection *s)
{
    tl_say(ml, "nop", s);
}

static inline void tl_evadd(MemoryListener *ml, MemoryRegionSection *s,
                            bool match, uint64_t data, int fd)
{
    tl_say(ml, "evadd", s);
    g_string_append_printf(TEXT_LISTENER_OF(ml)->log, "=%s%" PRIx64 "/fd%d",
                           match ? "" : "any:", data, fd);
}

static inline void tl_evdel(MemoryListener *ml, MemoryRegionSection *s,
                            bool match, uint64_t data, int fd)
{
    tl_say(ml, "evdel", s);
    g_string_append_printf(TEXT_LISTENER_OF(ml)->log, "=%s%" PRIx64 "/fd%d",
                           match ? "" : "any:", data, fd);
}

static inline bool tl_log_start(MemoryListener *ml, GError **errp)
{
    tl_say(ml, "logstart", NULL);
    if (TEXT_LISTENER_OF(ml)->log_fail) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s refuses",
                    ml->name);
        return false;
    }
    return true;
}

static inline void tl_log_stop(MemoryListener *ml)
{
    tl_say(ml, "logstop", NULL);
}

static inline void text_listener_init(TextListener *t, const char *prefix,
                                      int priority, bool with_nop)
{
    memset(t, 0, sizeof(*t));
    t->log = g_string_new(NULL);
    t->l = (MemoryListener){
        .name = prefix,
        .priority = priority,
        .begin = tl_begin,
        .commit = tl_commit,
        .region_add = tl_add,
        .region_del = tl_del,
        .region_nop = with_nop ? tl_nop : NULL,
        .eventfd_add = tl_evadd,
        .eventfd_del = tl_evdel,
        .log_global_start = tl_log_start,
        .log_global_stop = tl_log_stop,
    };
}

/* Take what T logged so far (g_free it) and start afresh. */
static inline char *tl_take(TextListener *t)
{
    char *s = g_strdup(t->log->str);

    g_string_truncate(t->log, 0);
    return s;
}

static inline void text_listener_free(TextListener *t)
{
    memory_listener_unregister(&t->l);
    g_string_free(t->log, TRUE);
}

static inline void flat_add(MemoryListener *ml, MemoryRegionSection *s)
{
    GString *out = TEXT_LISTENER_OF(ml)->log;

    if (out->len) {
        g_string_append_c(out, ' ');
    }
    text_section(out, s);
}

/* The flat view of AS, as a replaying listener sees it (g_free it). */
static inline char *flat_text(AddressSpace *as)
{
    TextListener t = {.log = g_string_new(NULL)};

    t.l.region_add = flat_add;
    memory_listener_register(&t.l, as);
    memory_listener_unregister(&t.l);
    return g_string_free(t.log, FALSE);
}

#define assert_flat(as, want)                  \
    do {                                       \
        g_autofree char *got_ = flat_text(as); \
        g_assert_cmpstr(got_, ==, (want));     \
    } while (0)

#define assert_log(t, want)                    \
    do {                                       \
        g_autofree char *got_ = tl_take(t);    \
        g_assert_cmpstr(got_, ==, (want));     \
    } while (0)

#endif
