/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OptList: the ordered (key, value) strings of one option, parsed from
 * QEMU's "drv,key=val,flag" syntax or a JSON object, plus the scalar
 * parsers (bool, unsigned, size) that the typed getters and the command
 * line share. Which keys an option accepts is the caller's business.
 */
#include "util/osdep.h"

#include <json-glib/json-glib.h>

#include "util/option.h"

typedef struct Opt {
    char *key;
    char *value;
} Opt;

struct OptList {
    GArray *items; /* of Opt, in input order; a key may repeat */
};

static void opt_clear(gpointer data)
{
    Opt *opt = data;

    g_free(opt->key);
    g_free(opt->value);
}

OptList *opts_new(void)
{
    OptList *opts = g_new0(OptList, 1);

    opts->items = g_array_new(false, false, sizeof(Opt));
    g_array_set_clear_func(opts->items, opt_clear);
    return opts;
}

void opts_free(OptList *opts)
{
    if (!opts) {
        return;
    }
    g_array_unref(opts->items);
    g_free(opts);
}

static Opt *opts_item(const OptList *opts, unsigned int i)
{
    return &g_array_index(opts->items, Opt, i);
}

/* Take ownership of KEY and VALUE and append them. */
static void opts_append_take(OptList *opts, char *key, char *value)
{
    Opt opt = { .key = key, .value = value };

    g_array_append_val(opts->items, opt);
}

/* Index of the last pair named KEY, or -1. */
static int opts_find_last(const OptList *opts, const char *key)
{
    for (int i = (int)opts->items->len - 1; i >= 0; i--) {
        if (g_str_equal(opts_item(opts, i)->key, key)) {
            return i;
        }
    }
    return -1;
}

void opts_set(OptList *opts, const char *key, const char *value)
{
    bool done = false;
    unsigned int i = 0;

    /*
     * Replace in place so the key keeps its position; drop any later
     * duplicates so the list holds exactly one value for KEY.
     */
    while (i < opts->items->len) {
        Opt *opt = opts_item(opts, i);

        if (!g_str_equal(opt->key, key)) {
            i++;
        } else if (!done) {
            g_free(opt->value);
            opt->value = g_strdup(value);
            done = true;
            i++;
        } else {
            g_array_remove_index(opts->items, i);
        }
    }
    if (!done) {
        opts_append_take(opts, g_strdup(key), g_strdup(value));
    }
}

const char *opts_get(const OptList *opts, const char *key)
{
    int i = opts_find_last(opts, key);

    return i < 0 ? NULL : opts_item(opts, i)->value;
}

bool opts_has(const OptList *opts, const char *key)
{
    return opts_find_last(opts, key) >= 0;
}

bool opts_del(OptList *opts, const char *key)
{
    bool found = false;
    unsigned int i = 0;

    while (i < opts->items->len) {
        if (g_str_equal(opts_item(opts, i)->key, key)) {
            g_array_remove_index(opts->items, i);
            found = true;
        } else {
            i++;
        }
    }
    return found;
}

unsigned int opts_count(const OptList *opts)
{
    return opts->items->len;
}

const char *opts_key(const OptList *opts, unsigned int i)
{
    g_return_val_if_fail(i < opts->items->len, NULL);
    return opts_item(opts, i)->key;
}

const char *opts_value(const OptList *opts, unsigned int i)
{
    g_return_val_if_fail(i < opts->items->len, NULL);
    return opts_item(opts, i)->value;
}

/* ---- key=value syntax ---- */

/*
 * Read a value starting at *P up to the next single ',' or the end; ",,"
 * stands for one literal ','. Leaves *P on the terminating ',' or NUL.
 */
static char *parse_value(const char **p)
{
    GString *val = g_string_new(NULL);
    const char *s = *p;

    while (*s) {
        if (*s == ',') {
            if (s[1] != ',') {
                break;
            }
            s++;
        }
        g_string_append_c(val, *s);
        s++;
    }
    *p = s;
    return g_string_free(val, false);
}

/*
 * QemuOpts rules: keys run up to '=' or ',' and cannot be escaped; only
 * values know ",,". A trailing ',' is tolerated, as QEMU does.
 */
static bool opts_parse_keyval(OptList *opts, const char *str,
                              const char *implied_key, GError **errp)
{
    const char *p = str;
    bool first = true;

    while (*p) {
        size_t len = strcspn(p, "=,");
        char *key;
        char *value;

        if (p[len] == '=' && len > 0) {
            key = g_strndup(p, len);
            p += len + 1;
            value = parse_value(&p);
        } else if (len == 0) {
            /* ",x", "a,,,b" (no implied key) or "=v": nothing to name */
            error_setg(errp, "option string '%s' has an empty element", str);
            return false;
        } else if (first && implied_key) {
            key = g_strdup(implied_key);
            value = parse_value(&p);
        } else {
            key = g_strndup(p, len);
            value = g_strdup("on");
            p += len;
        }
        opts_append_take(opts, key, value);
        if (*p == ',') {
            p++;
        }
        first = false;
    }
    return true;
}

/* ---- JSON syntax ---- */

static bool json_flatten(OptList *opts, const char *key, JsonNode *node,
                         GError **errp);

static bool json_flatten_object(OptList *opts, const char *prefix,
                                JsonObject *obj, GError **errp)
{
    JsonObjectIter iter;
    const char *member;
    JsonNode *node;

    /* The ordered iterator walks members in document order. */
    json_object_iter_init_ordered(&iter, obj);
    while (json_object_iter_next_ordered(&iter, &member, &node)) {
        g_autofree char *key = prefix ? g_strdup_printf("%s.%s", prefix, member)
                                      : g_strdup(member);

        if (!json_flatten(opts, key, node, errp)) {
            return false;
        }
    }
    return true;
}

static bool json_flatten_array(OptList *opts, const char *prefix,
                               JsonArray *arr, GError **errp)
{
    unsigned int n = json_array_get_length(arr);

    for (unsigned int i = 0; i < n; i++) {
        g_autofree char *key = g_strdup_printf("%s.%u", prefix, i);

        if (!json_flatten(opts, key, json_array_get_element(arr, i), errp)) {
            return false;
        }
    }
    return true;
}

/*
 * Shortest text that reads back as D: 0.1 stays "0.1" where
 * g_ascii_dtostr() would write 0.10000000000000001.
 */
static char *double_text(double d)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    for (int prec = 15; prec < 17; prec++) {
        g_autofree char *fmt = g_strdup_printf("%%.%dg", prec);

        g_ascii_formatd(buf, sizeof(buf), fmt, d);
        if (g_ascii_strtod(buf, NULL) == d) {
            return g_strdup(buf);
        }
    }
    return g_strdup(g_ascii_formatd(buf, sizeof(buf), "%.17g", d));
}

static char *json_scalar_text(JsonNode *node)
{
    GType type = json_node_get_value_type(node);

    if (type == G_TYPE_STRING) {
        return g_strdup(json_node_get_string(node));
    } else if (type == G_TYPE_BOOLEAN) {
        return g_strdup(json_node_get_boolean(node) ? "on" : "off");
    } else if (type == G_TYPE_DOUBLE) {
        return double_text(json_node_get_double(node));
    }
    return g_strdup_printf("%" PRId64, json_node_get_int(node));
}

static bool json_flatten(OptList *opts, const char *key, JsonNode *node,
                         GError **errp)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT:
        return json_flatten_object(opts, key, json_node_get_object(node),
                                   errp);
    case JSON_NODE_ARRAY:
        return json_flatten_array(opts, key, json_node_get_array(node), errp);
    case JSON_NODE_VALUE:
        opts_append_take(opts, g_strdup(key), json_scalar_text(node));
        return true;
    case JSON_NODE_NULL:
    default:
        error_setg(errp, "parameter '%s' must not be null", key);
        return false;
    }
}

/*
 * Offset just past the object that opens STR, or 0 if it is unbalanced
 * (json-glib then reports the real error). json-glib stops after the first
 * value and would silently drop anything following it; QEMU rejects that.
 */
static size_t json_object_end(const char *str)
{
    unsigned int depth = 0;
    char quote = 0;

    for (size_t i = 0; str[i]; i++) {
        char c = str[i];

        if (quote) {
            if (c == '\\' && str[i + 1]) {
                i++;
            } else if (c == quote) {
                quote = 0;
            }
        } else if (c == '"' || c == '\'') {
            /* json-glib, like QEMU, also takes single-quoted strings */
            quote = c;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && depth && --depth == 0) {
            return i + 1;
        }
    }
    return 0;
}

static bool opts_parse_json(OptList *opts, const char *str, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) local_err = NULL;
    size_t end = json_object_end(str);
    bool trailing = end && str[end + strspn(str + end, " \t\r\n")];
    JsonNode *root;

    /*
     * With trailing text, parse only the object so its own errors come
     * first; feeding json-glib a second value also leaks that value.
     */
    if (!json_parser_load_from_data(parser, str, trailing ? (gssize)end : -1,
                                    &local_err)) {
        error_setg(errp, "invalid JSON in option string '%s': %s", str,
                   local_err->message);
        return false;
    }
    if (trailing) {
        error_setg(errp, "invalid JSON in option string '%s': "
                   "unexpected text after the object", str);
        return false;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        error_setg(errp, "JSON option string '%s' is not an object", str);
        return false;
    }
    return json_flatten_object(opts, NULL, json_node_get_object(root), errp);
}

OptList *opts_parse(const char *str, const char *implied_key, GError **errp)
{
    g_autoptr(OptList) opts = opts_new();
    const char *s = str;
    bool ok;

    g_return_val_if_fail(str != NULL, NULL);

    while (g_ascii_isspace(*s)) {
        s++;
    }
    if (*s == '{') {
        ok = opts_parse_json(opts, s, errp);
    } else {
        ok = opts_parse_keyval(opts, str, implied_key, errp);
    }
    return ok ? g_steal_pointer(&opts) : NULL;
}

/* ---- scalars ---- */

bool parse_bool(const char *str, bool *out)
{
    /* qapi_bool_parse()'s spellings, including the short y/n */
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };

    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (g_str_equal(str, yes[i])) {
            *out = true;
            return true;
        }
        if (g_str_equal(str, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

/*
 * Unsigned integer in base BASE (0: C prefixes) at the start of STR, with
 * no sign and no leading space (strtoull would take both, and would turn
 * "-1" into UINT64_MAX). Sets *END past the digits. Returns 0, -EINVAL or
 * -ERANGE.
 */
static int parse_u64_prefix(const char *str, int base, const char **end,
                            uint64_t *out)
{
    char *e;
    unsigned long long v;

    if (base == 16 ? !g_ascii_isxdigit(str[0]) : !g_ascii_isdigit(str[0])) {
        return -EINVAL;
    }
    /* strtoull would skip a second "0x" after the caller's */
    if (base == 16 && str[0] == '0' && (str[1] == 'x' || str[1] == 'X')) {
        return -EINVAL;
    }
    errno = 0;
    v = strtoull(str, &e, base);
    if (errno == ERANGE) {
        return -ERANGE;
    }
    if (errno || e == str) {
        return -EINVAL;
    }
    *end = e;
    *out = v;
    return 0;
}

static int uint_parse(const char *str, uint64_t *out)
{
    const char *end;
    uint64_t v;
    int ret = parse_u64_prefix(str, 0, &end, &v);

    if (ret) {
        return ret;
    }
    if (*end) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

bool parse_uint(const char *str, uint64_t *out)
{
    return uint_parse(str, out) == 0;
}

/* Multiplier of a size suffix (case-insensitive), or 0 if C is none. */
static uint64_t size_suffix_mul(char c)
{
    switch (g_ascii_tolower(c)) {
    case 'b':
        return 1;
    case 'k':
        return UINT64_C(1) << 10;
    case 'm':
        return UINT64_C(1) << 20;
    case 'g':
        return UINT64_C(1) << 30;
    case 't':
        return UINT64_C(1) << 40;
    case 'p':
        return UINT64_C(1) << 50;
    case 'e':
        return UINT64_C(1) << 60;
    default:
        return 0;
    }
}

/*
 * Digits after a decimal point, as NUM / DEN. Digits past the 18th cannot
 * change the result by a whole byte at any scale up to E and are ignored,
 * but must still be digits.
 */
static bool parse_fraction(const char **p, uint64_t *num, uint64_t *den)
{
    const char *s = *p;
    unsigned int ndigits = 0;

    *num = 0;
    *den = 1;
    if (!g_ascii_isdigit(*s)) {
        return false;
    }
    for (; g_ascii_isdigit(*s); s++) {
        if (ndigits < 18) {
            *num = *num * 10 + (uint64_t)(*s - '0');
            *den *= 10;
            ndigits++;
        }
    }
    *p = s;
    return true;
}

/*
 * qemu_strtosz() semantics: a decimal number with an optional fraction, or
 * a 0x hex integer, then an optional suffix; no suffix means DEFAULT_UNIT.
 * Hex takes neither fraction nor suffix, and a fraction needs a scale
 * larger than one byte. The fraction part of the result is truncated.
 * Returns 0, -EINVAL (malformed) or -ERANGE (above UINT64_MAX).
 */
static int size_parse(const char *str, uint64_t default_unit, uint64_t *out)
{
    const char *p = str;
    uint64_t whole, num = 0, den = 1, mul;
    unsigned __int128 total;
    int ret;

    g_return_val_if_fail(default_unit > 0, -EINVAL);

    if (str[0] == '0' && (str[1] == 'x' || str[1] == 'X')) {
        ret = parse_u64_prefix(str + 2, 16, &p, &whole);
        if (ret) {
            return ret;
        }
        if (*p) {
            return -EINVAL;
        }
        mul = default_unit;
    } else {
        ret = parse_u64_prefix(str, 10, &p, &whole);
        if (ret) {
            return ret;
        }
        if (*p == '.') {
            p++;
            if (!parse_fraction(&p, &num, &den)) {
                return -EINVAL;
            }
        }
        mul = size_suffix_mul(*p);
        if (mul) {
            p++;
        } else {
            mul = default_unit;
        }
        if (*p || (num && mul == 1)) {
            return -EINVAL;
        }
    }

    total = (unsigned __int128)whole * mul +
            (unsigned __int128)num * mul / den;
    if (total > UINT64_MAX) {
        return -ERANGE;
    }
    *out = (uint64_t)total;
    return 0;
}

bool parse_size(const char *str, uint64_t default_unit, uint64_t *out)
{
    return size_parse(str, default_unit, out) == 0;
}

/* ---- typed getters ---- */

bool opts_get_bool(const OptList *opts, const char *key, bool def,
                   bool *out, GError **errp)
{
    const char *val = opts_get(opts, key);

    if (!val) {
        *out = def;
        return true;
    }
    if (!parse_bool(val, out)) {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off'", key);
        return false;
    }
    return true;
}

bool opts_get_uint(const OptList *opts, const char *key, uint64_t def,
                   uint64_t *out, GError **errp)
{
    const char *val = opts_get(opts, key);

    if (!val) {
        *out = def;
        return true;
    }
    switch (uint_parse(val, out)) {
    case 0:
        return true;
    case -ERANGE:
        error_setg(errp, "Value '%s' is too large for parameter '%s'", val,
                   key);
        return false;
    default:
        error_setg(errp, "Parameter '%s' expects a number", key);
        return false;
    }
}

bool opts_get_size(const OptList *opts, const char *key, uint64_t def,
                   uint64_t *out, GError **errp)
{
    const char *val = opts_get(opts, key);

    if (!val) {
        *out = def;
        return true;
    }
    switch (size_parse(val, 1, out)) {
    case 0:
        return true;
    case -ERANGE:
        error_setg(errp, "Value '%s' is out of range for parameter '%s'", val,
                   key);
        return false;
    default:
        error_setg(errp,
                   "Parameter '%s' expects a non-negative number below 2^64",
                   key);
        return false;
    }
}

bool opts_check_known(const OptList *opts, const char *const *known,
                      const char *what, GError **errp)
{
    for (unsigned int i = 0; i < opts->items->len; i++) {
        const char *key = opts_item(opts, i)->key;

        if (known && g_strv_contains(known, key)) {
            continue;
        }
        if (what) {
            error_setg(errp, "%s does not support option '%s'", what, key);
        } else {
            error_setg(errp, "Invalid parameter '%s'", key);
        }
        return false;
    }
    return true;
}
