/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Option strings in QEMU's two syntaxes: "drv,key=val,flag,..." (with ",,"
 * escaping a comma and an optional implied first key) and JSON objects
 * ('{"qom-type":"x","id":"y"}'); nested JSON objects flatten to dotted keys
 * ("addr.transport"), just as QEMU's keyval syntax writes them.
 *
 * An OptList is an ordered list of (key, string value) pairs; typed getters
 * convert on demand and report the key in their errors.
 */
#ifndef BATON_UTIL_OPTION_H
#define BATON_UTIL_OPTION_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

typedef struct OptList OptList;

/*
 * Parse STR. If IMPLIED_KEY is non-NULL, a first element without '=' is the
 * value of that key ("socket,id=x" with implied "backend"). A bare "flag"
 * elsewhere means flag=on; "noflag" is not accepted (QEMU deprecated it).
 * A string starting with '{' is parsed as JSON. Returns NULL + errp on
 * syntax errors.
 */
OptList *opts_parse(const char *str, const char *implied_key, GError **errp);
OptList *opts_new(void);
void opts_free(OptList *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(OptList, opts_free)

/* Set (replace) a key. */
void opts_set(OptList *opts, const char *key, const char *value);
/* Last value of KEY, or NULL. */
const char *opts_get(const OptList *opts, const char *key);
bool opts_has(const OptList *opts, const char *key);
/* Remove KEY; returns whether it was present. */
bool opts_del(OptList *opts, const char *key);
/* Number of pairs and the i-th pair, in input order. */
unsigned int opts_count(const OptList *opts);
const char *opts_key(const OptList *opts, unsigned int i);
const char *opts_value(const OptList *opts, unsigned int i);

/*
 * Typed getters: return false + errp ("Parameter 'KEY' expects ...") when
 * the value is malformed; when KEY is absent, store DEF and return true.
 */
bool opts_get_bool(const OptList *opts, const char *key, bool def,
                   bool *out, GError **errp);
bool opts_get_uint(const OptList *opts, const char *key, uint64_t def,
                   uint64_t *out, GError **errp);
bool opts_get_size(const OptList *opts, const char *key, uint64_t def,
                   uint64_t *out, GError **errp);

/*
 * Fail with "WHAT does not support option 'K'" (or QEMU's "Invalid parameter
 * 'K'") for the first key not in the NULL-terminated KNOWN list.
 */
bool opts_check_known(const OptList *opts, const char *const *known,
                      const char *what, GError **errp);

/* Scalars in QEMU's spellings. */
bool parse_bool(const char *str, bool *out);          /* on/off/yes/no/true/false */
bool parse_uint(const char *str, uint64_t *out);      /* decimal, 0x hex, 0 octal */
/*
 * Size with optional suffix B, K/k, M, G, T, P, E (binary multiples) and a
 * decimal fraction ("1.5G"). A bare number is multiplied by DEFAULT_UNIT
 * (1 for byte sizes, 1 MiB for -m). False on malformed input or overflow.
 */
bool parse_size(const char *str, uint64_t default_unit, uint64_t *out);

#endif
