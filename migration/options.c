/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Migration parameters and capabilities: one table each, with QEMU's
 * names, defaults, range checks and -global migration.* aliases. QMP, HMP
 * and the command line all go through the same conversion and check code.
 * Most entries are stored and reported only; the state machine reads the
 * few it implements through the migrate_*() getters.
 */
#include "util/osdep.h"

#include "migration/migration.h"
#include "options.h"
#include "util/option.h"

/* ---- parameters ---- */

typedef enum ParamKind {
    PK_U8,
    PK_U32,
    PK_U64,
    PK_SIZE,     /* uint64 taking size suffixes in text form */
    PK_BOOL,
    PK_STR,      /* QMP StrOrNull: null means "" */
    PK_ENUM,
    PK_STRLIST,  /* list of strings */
    PK_JSON,     /* stored as given (block-bitmap-mapping) */
} ParamKind;

typedef enum ParamId {
    P_ANNOUNCE_INITIAL,
    P_ANNOUNCE_MAX,
    P_ANNOUNCE_ROUNDS,
    P_ANNOUNCE_STEP,
    P_THROTTLE_TRIGGER_THRESHOLD,
    P_CPU_THROTTLE_INITIAL,
    P_CPU_THROTTLE_INCREMENT,
    P_CPU_THROTTLE_TAILSLOW,
    P_TLS_CREDS,
    P_TLS_HOSTNAME,
    P_TLS_AUTHZ,
    P_MAX_BANDWIDTH,
    P_AVAIL_SWITCHOVER_BANDWIDTH,
    P_DOWNTIME_LIMIT,
    P_X_CHECKPOINT_DELAY,
    P_MULTIFD_CHANNELS,
    P_XBZRLE_CACHE_SIZE,
    P_MAX_POSTCOPY_BANDWIDTH,
    P_MAX_CPU_THROTTLE,
    P_MULTIFD_COMPRESSION,
    P_MULTIFD_ZLIB_LEVEL,
    P_MULTIFD_QATZIP_LEVEL,
    P_MULTIFD_ZSTD_LEVEL,
    P_BLOCK_BITMAP_MAPPING,
    P_X_VCPU_DIRTY_LIMIT_PERIOD,
    P_VCPU_DIRTY_LIMIT,
    P_MODE,
    P_ZERO_PAGE_DETECTION,
    P_DIRECT_IO,
    P_CPR_EXEC_COMMAND,
    P__MAX
} ParamId;

static const char *const mode_names[] = {
    "normal", "cpr-reboot", "cpr-transfer", "cpr-exec", NULL
};
static const char *const compression_names[] = {
    "none", "zlib", "zstd", "qatzip", "qpl", "uadk", NULL
};
static const char *const zero_page_names[] = {
    "none", "legacy", "multifd", NULL
};

/* Maximum downtime-limit: 2000 seconds, in ms (QEMU's limit). */
#define MAX_DOWNTIME_MS 2000000
#define TARGET_PAGE_SIZE 4096

typedef struct ParamDef {
    const char *name;       /* QMP / HMP name */
    const char *global;     /* -global migration.NAME, or NULL */
    ParamKind kind;
    uint64_t def;
    const char *const *enum_names;
    /* Range check (when max > 0): QEMU's "Parameter 'CHECK' expects ..." */
    uint64_t min, max;
    const char *check;      /* name in the message (QEMU uses '_') */
    const char *expects;
    /* Optional members only appear in queries once set. */
    bool optional;
    /* HMP: bandwidths take MiB by default. */
    bool hmp_mib;
} ParamDef;

#define RANGE(lo, hi, n, text) .min = (lo), .max = (hi), .check = (n), \
    .expects = (text)

static const ParamDef param_defs[P__MAX] = {
    [P_ANNOUNCE_INITIAL] = { "announce-initial", "announce-initial",
        PK_SIZE, 50, RANGE(0, 100000, "announce_initial",
                           "a value between 0 and 100000") },
    [P_ANNOUNCE_MAX] = { "announce-max", "announce-max", PK_SIZE, 550,
        RANGE(0, 100000, "announce_max", "a value between 0 and 100000") },
    [P_ANNOUNCE_ROUNDS] = { "announce-rounds", "announce-rounds", PK_SIZE, 5,
        RANGE(0, 1000, "announce_rounds", "a value between 0 and 1000") },
    [P_ANNOUNCE_STEP] = { "announce-step", "announce-step", PK_SIZE, 100,
        RANGE(1, 10000, "announce_step", "a value between 0 and 10000") },
    [P_THROTTLE_TRIGGER_THRESHOLD] = { "throttle-trigger-threshold",
        "x-throttle-trigger-threshold", PK_U8, 50,
        RANGE(1, 100, "throttle_trigger_threshold",
              "an integer in the range of 1 to 100") },
    [P_CPU_THROTTLE_INITIAL] = { "cpu-throttle-initial",
        "x-cpu-throttle-initial", PK_U8, 20,
        RANGE(1, 99, "cpu_throttle_initial",
              "an integer in the range of 1 to 99") },
    [P_CPU_THROTTLE_INCREMENT] = { "cpu-throttle-increment",
        "x-cpu-throttle-increment", PK_U8, 10,
        RANGE(1, 99, "cpu_throttle_increment",
              "an integer in the range of 1 to 99") },
    [P_CPU_THROTTLE_TAILSLOW] = { "cpu-throttle-tailslow",
        "x-cpu-throttle-tailslow", PK_BOOL, 0 },
    [P_TLS_CREDS] = { "tls-creds", "tls-creds", PK_STR },
    [P_TLS_HOSTNAME] = { "tls-hostname", "tls-hostname", PK_STR },
    [P_TLS_AUTHZ] = { "tls-authz", "tls-authz", PK_STR },
    [P_MAX_BANDWIDTH] = { "max-bandwidth", "x-max-bandwidth", PK_SIZE,
        128 << 20, .hmp_mib = true },
    [P_AVAIL_SWITCHOVER_BANDWIDTH] = { "avail-switchover-bandwidth",
        "avail-switchover-bandwidth", PK_SIZE, 0, .hmp_mib = true },
    [P_DOWNTIME_LIMIT] = { "downtime-limit", "x-downtime-limit", PK_U64, 300,
        RANGE(0, MAX_DOWNTIME_MS, "downtime_limit",
              "an integer in the range of 0 to 2000000 ms") },
    [P_X_CHECKPOINT_DELAY] = { "x-checkpoint-delay", "x-checkpoint-delay",
        PK_U32, 20000 },
    [P_MULTIFD_CHANNELS] = { "multifd-channels", "multifd-channels", PK_U8,
        2, RANGE(1, 255, "multifd_channels", "a value between 1 and 255") },
    [P_XBZRLE_CACHE_SIZE] = { "xbzrle-cache-size", "xbzrle-cache-size",
        PK_SIZE, 64 << 20 },
    [P_MAX_POSTCOPY_BANDWIDTH] = { "max-postcopy-bandwidth",
        "max-postcopy-bandwidth", PK_SIZE, 0 },
    [P_MAX_CPU_THROTTLE] = { "max-cpu-throttle", "max-cpu-throttle", PK_U8,
        99 },
    [P_MULTIFD_COMPRESSION] = { "multifd-compression", "multifd-compression",
        PK_ENUM, 0, compression_names },
    [P_MULTIFD_ZLIB_LEVEL] = { "multifd-zlib-level", "multifd-zlib-level",
        PK_U8, 1, RANGE(0, 9, "multifd_zlib_level",
                        "a value between 0 and 9") },
    [P_MULTIFD_QATZIP_LEVEL] = { "multifd-qatzip-level",
        "multifd-qatzip-level", PK_U8, 1,
        RANGE(1, 9, "multifd_qatzip_level", "a value between 1 and 9") },
    [P_MULTIFD_ZSTD_LEVEL] = { "multifd-zstd-level", "multifd-zstd-level",
        PK_U8, 1, RANGE(0, 20, "multifd_zstd_level",
                        "a value between 0 and 20") },
    [P_BLOCK_BITMAP_MAPPING] = { "block-bitmap-mapping", NULL, PK_JSON,
        .optional = true },
    [P_X_VCPU_DIRTY_LIMIT_PERIOD] = { "x-vcpu-dirty-limit-period",
        "x-vcpu-dirty-limit-period", PK_U64, 1000,
        RANGE(1, 1000, "x-vcpu-dirty-limit-period",
              "a value between 1 and 1000") },
    [P_VCPU_DIRTY_LIMIT] = { "vcpu-dirty-limit", "vcpu-dirty-limit", PK_U64,
        1 },
    [P_MODE] = { "mode", "mode", PK_ENUM, MIG_MODE_NORMAL, mode_names },
    [P_ZERO_PAGE_DETECTION] = { "zero-page-detection", "zero-page-detection",
        PK_ENUM, 2, zero_page_names },
    [P_DIRECT_IO] = { "direct-io", NULL, PK_BOOL, 0 },
    [P_CPR_EXEC_COMMAND] = { "cpr-exec-command", NULL, PK_STRLIST,
        .optional = true },
};

typedef struct ParamValue {
    bool has;          /* given (checks) / set (optional members) */
    uint64_t u;        /* integers, sizes, bools, enum indexes */
    char *s;           /* PK_STR */
    char **list;       /* PK_STRLIST */
    JsonNode *json;    /* PK_JSON */
} ParamValue;

/* Current values; main thread writes, the migration thread reads words. */
static ParamValue params[P__MAX];

static void params_init(void)
{
    static bool done;

    if (done) {
        return;
    }
    done = true;
    for (int i = 0; i < P__MAX; i++) {
        params[i].u = param_defs[i].def;
        if (param_defs[i].kind == PK_STR) {
            params[i].s = g_strdup("");
        }
    }
}

static int param_lookup(const char *name)
{
    for (int i = 0; i < P__MAX; i++) {
        if (!strcmp(param_defs[i].name, name)) {
            return i;
        }
    }
    return -1;
}

static void value_clear(ParamValue *v)
{
    g_free(v->s);
    g_strfreev(v->list);
    if (v->json) {
        json_node_unref(v->json);
    }
    memset(v, 0, sizeof(*v));
}

static int enum_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++) {
        if (!strcmp(names[i], s)) {
            return i;
        }
    }
    return -1;
}

/* Integer width check shared by every input form. */
static bool param_fits(int id, uint64_t u, const char *name, GError **errp)
{
    ParamKind kind = param_defs[id].kind;

    if ((kind == PK_U8 && u > UINT8_MAX) ||
        (kind == PK_U32 && u > UINT32_MAX)) {
        error_setg(errp, "Parameter '%s' expects %s", name,
                   kind == PK_U8 ? "uint8_t" : "uint32_t");
        return false;
    }
    return true;
}

/* One QMP member into V, with QEMU's visitor checks. */
static bool param_from_json(int id, JsonNode *node, ParamValue *v,
                            GError **errp)
{
    const ParamDef *d = &param_defs[id];
    GType t = JSON_NODE_HOLDS_VALUE(node) ? json_node_get_value_type(node)
                                          : G_TYPE_INVALID;
    const char *expected = "integer";

    v->has = true;
    switch (d->kind) {
    case PK_U8:
    case PK_U32:
    case PK_U64:
    case PK_SIZE:
        if (t != G_TYPE_INT64) {
            break;
        }
        /*
         * QEMU's visitor takes negative integers modulo 2^64, except for
         * sizes, which must be representable as uint64.
         */
        if (d->kind == PK_SIZE && json_node_get_int(node) < 0) {
            error_setg(errp, "Parameter '%s' expects size", d->name);
            return false;
        }
        v->u = (uint64_t)json_node_get_int(node);
        return param_fits(id, v->u, d->name, errp);
    case PK_BOOL:
        expected = "boolean";
        if (t != G_TYPE_BOOLEAN) {
            break;
        }
        v->u = json_node_get_boolean(node);
        return true;
    case PK_STR:
        expected = "StrOrNull";
        if (JSON_NODE_HOLDS_NULL(node)) {
            v->s = g_strdup("");
            return true;
        }
        if (t != G_TYPE_STRING) {
            break;
        }
        v->s = g_strdup(json_node_get_string(node));
        return true;
    case PK_ENUM: {
        int idx;

        expected = "string";
        if (t != G_TYPE_STRING) {
            break;
        }
        idx = enum_index(d->enum_names, json_node_get_string(node));
        if (idx < 0) {
            error_setg(errp, "Parameter '%s' does not accept value '%s'",
                       d->name, json_node_get_string(node));
            return false;
        }
        v->u = idx;
        return true;
    }
    case PK_STRLIST: {
        JsonArray *arr;
        GPtrArray *list;

        expected = "array";
        if (!JSON_NODE_HOLDS_ARRAY(node)) {
            break;
        }
        arr = json_node_get_array(node);
        list = g_ptr_array_new();
        for (guint i = 0; i < json_array_get_length(arr); i++) {
            JsonNode *e = json_array_get_element(arr, i);

            if (!JSON_NODE_HOLDS_VALUE(e) ||
                json_node_get_value_type(e) != G_TYPE_STRING) {
                error_setg(errp, "Invalid parameter type for '%s[%u]', "
                           "expected: string", d->name, i);
                g_ptr_array_free(list, true);
                return false;
            }
            g_ptr_array_add(list, g_strdup(json_node_get_string(e)));
        }
        g_ptr_array_add(list, NULL);
        v->list = (char **)g_ptr_array_free(list, false);
        return true;
    }
    case PK_JSON:
        expected = "array";
        if (!JSON_NODE_HOLDS_ARRAY(node)) {
            break;
        }
        v->json = json_node_copy(node);
        return true;
    }
    error_setg(errp, "Invalid parameter type for '%s', expected: %s",
               d->name, expected);
    return false;
}

/*
 * Text into V: HMP's migrate_set_parameter (HMP true) or a -global value.
 * NAME is the spelling used in messages.
 */
static bool param_from_str(int id, const char *str, bool hmp,
                           const char *name, ParamValue *v, GError **errp)
{
    const ParamDef *d = &param_defs[id];
    bool b;

    v->has = true;
    switch (d->kind) {
    case PK_U8:
    case PK_U32:
    case PK_U64:
        if (!parse_uint(str, &v->u)) {
            error_setg(errp, "Parameter '%s' expects an integer", name);
            return false;
        }
        return param_fits(id, v->u, name, errp);
    case PK_SIZE:
        if (hmp && d->hmp_mib) {
            if (!parse_size(str, 1 << 20, &v->u) || v->u > INT64_MAX) {
                error_setg(errp, "Invalid size %s", str);
                return false;
            }
            return true;
        }
        if (!parse_size(str, 1, &v->u)) {
            error_setg(errp, "Parameter '%s' expects a size", name);
            return false;
        }
        return true;
    case PK_BOOL:
        if (!parse_bool(str, &b)) {
            error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
            return false;
        }
        v->u = b;
        return true;
    case PK_STR:
        v->s = g_strdup(str);
        return true;
    case PK_ENUM: {
        int idx = enum_index(d->enum_names, str);

        if (idx < 0) {
            error_setg(errp, "Parameter '%s' does not accept value '%s'",
                       name, str);
            return false;
        }
        v->u = idx;
        return true;
    }
    case PK_STRLIST:
        v->list = g_strsplit(str, " ", -1);
        return true;
    case PK_JSON:
        break;
    }
    error_setg(errp, "The %s parameter can only be set through QMP", d->name);
    return false;
}

/* QEMU's migrate_params_check() on the given members of NEWV. */
static bool params_check(const ParamValue *newv, GError **errp)
{
    for (int i = 0; i < P__MAX; i++) {
        const ParamDef *d = &param_defs[i];

        if (!newv[i].has) {
            continue;
        }
        if (d->expects && (newv[i].u < d->min || newv[i].u > d->max)) {
            error_setg(errp, "Parameter '%s' expects %s", d->check,
                       d->expects);
            return false;
        }
    }
    if (newv[P_XBZRLE_CACHE_SIZE].has &&
        (newv[P_XBZRLE_CACHE_SIZE].u < TARGET_PAGE_SIZE ||
         (newv[P_XBZRLE_CACHE_SIZE].u &
          (newv[P_XBZRLE_CACHE_SIZE].u - 1)))) {
        error_setg(errp, "Parameter 'xbzrle_cache_size' expects a power of "
                   "two no less than the target page size");
        return false;
    }
    if (newv[P_MAX_CPU_THROTTLE].has) {
        uint64_t init = newv[P_CPU_THROTTLE_INITIAL].has
                            ? newv[P_CPU_THROTTLE_INITIAL].u
                            : params[P_CPU_THROTTLE_INITIAL].u;

        if (newv[P_MAX_CPU_THROTTLE].u < init ||
            newv[P_MAX_CPU_THROTTLE].u > 99) {
            error_setg(errp, "Parameter 'max_cpu_throttle' expects an "
                       "integer in the range of cpu_throttle_initial to 99");
            return false;
        }
    }
    if (newv[P_VCPU_DIRTY_LIMIT].has && newv[P_VCPU_DIRTY_LIMIT].u < 1) {
        error_setg(errp, "Parameter 'vcpu_dirty_limit' must be greater "
                   "than 1 MB/s");
        return false;
    }
    return true;
}

/* Check, then move every given member of NEWV into the current values. */
static bool params_apply(ParamValue *newv, GError **errp)
{
    bool ok = params_check(newv, errp);

    for (int i = 0; i < P__MAX; i++) {
        if (!newv[i].has) {
            continue;
        }
        if (ok) {
            value_clear(&params[i]);
            params[i] = newv[i];
            params[i].has = true;
        } else {
            value_clear(&newv[i]);
        }
    }
    return ok;
}

bool migrate_set_parameters(JsonObject *args, GError **errp)
{
    ParamValue newv[P__MAX] = { 0 };
    GList *members;
    bool ok = true;

    params_init();
    for (int i = 0; ok && args && i < P__MAX; i++) {
        JsonNode *node = json_object_get_member(args, param_defs[i].name);

        if (node) {
            ok = param_from_json(i, node, &newv[i], errp);
        }
    }
    members = args ? json_object_get_members(args) : NULL;
    for (GList *l = members; ok && l; l = l->next) {
        if (param_lookup(l->data) < 0) {
            error_setg(errp, "Parameter '%s' is unexpected",
                       (const char *)l->data);
            ok = false;
        }
    }
    g_list_free(members);
    if (!ok) {
        for (int i = 0; i < P__MAX; i++) {
            value_clear(&newv[i]);
        }
        return false;
    }
    return params_apply(newv, errp);
}

bool migrate_set_parameter_str(const char *name, const char *value,
                               GError **errp)
{
    ParamValue newv[P__MAX] = { 0 };
    int id;

    params_init();
    id = param_lookup(name);
    if (id < 0) {
        error_setg(errp, "invalid parameter value: %s", name);
        return false;
    }
    if (param_defs[id].kind == PK_JSON) {
        error_setg(errp, "The %s parameter can only be set through QMP",
                   name);
        return false;
    }
    if (!param_from_str(id, value, true, name, &newv[id], errp)) {
        value_clear(&newv[id]);
        return false;
    }
    return params_apply(newv, errp);
}

static void param_add_json(JsonBuilder *b, int id)
{
    const ParamDef *d = &param_defs[id];
    const ParamValue *v = &params[id];

    if (d->optional && !v->has) {
        return;
    }
    json_builder_set_member_name(b, d->name);
    switch (d->kind) {
    case PK_BOOL:
        json_builder_add_boolean_value(b, v->u);
        break;
    case PK_STR:
        json_builder_add_string_value(b, v->s ? v->s : "");
        break;
    case PK_ENUM:
        json_builder_add_string_value(b, d->enum_names[v->u]);
        break;
    case PK_STRLIST:
        json_builder_begin_array(b);
        for (char **p = v->list; p && *p; p++) {
            json_builder_add_string_value(b, *p);
        }
        json_builder_end_array(b);
        break;
    case PK_JSON:
        json_builder_add_value(b, json_node_copy(v->json));
        break;
    default:
        json_builder_add_int_value(b, (gint64)v->u);
        break;
    }
}

JsonNode *migrate_query_parameters(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    params_init();
    json_builder_begin_object(b);
    for (int i = 0; i < P__MAX; i++) {
        param_add_json(b, i);
    }
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* info migrate_parameters: QEMU's order and units. */
static const struct {
    ParamId id;
    const char *unit;
} hmp_param_rows[] = {
    { P_ANNOUNCE_INITIAL, " ms" },
    { P_ANNOUNCE_MAX, " ms" },
    { P_ANNOUNCE_ROUNDS, "" },
    { P_ANNOUNCE_STEP, " ms" },
    { P_THROTTLE_TRIGGER_THRESHOLD, "" },
    { P_CPU_THROTTLE_INITIAL, "" },
    { P_CPU_THROTTLE_INCREMENT, "" },
    { P_CPU_THROTTLE_TAILSLOW, "" },
    { P_MAX_CPU_THROTTLE, "" },
    { P_TLS_CREDS, "" },
    { P_TLS_HOSTNAME, "" },
    { P_MAX_BANDWIDTH, " bytes/second" },
    { P_AVAIL_SWITCHOVER_BANDWIDTH, " bytes/second" },
    { P_DOWNTIME_LIMIT, " ms" },
    { P_X_CHECKPOINT_DELAY, " ms" },
    { P_MULTIFD_CHANNELS, "" },
    { P_MULTIFD_COMPRESSION, "" },
    { P_ZERO_PAGE_DETECTION, "" },
    { P_XBZRLE_CACHE_SIZE, " bytes" },
    { P_MAX_POSTCOPY_BANDWIDTH, "" },
    { P_TLS_AUTHZ, "" },
    { P_X_VCPU_DIRTY_LIMIT_PERIOD, " ms" },
    { P_VCPU_DIRTY_LIMIT, " MB/s" },
    { P_MODE, "" },
    { P_DIRECT_IO, "" },
    { P_CPR_EXEC_COMMAND, "" },
};

void migrate_format_parameters(GString *out)
{
    params_init();
    for (size_t i = 0; i < ARRAY_SIZE(hmp_param_rows); i++) {
        int id = hmp_param_rows[i].id;
        const ParamDef *d = &param_defs[id];
        const ParamValue *v = &params[id];

        if (d->optional && !v->has) {
            continue;
        }
        g_string_append_printf(out, "%s: ", d->name);
        switch (d->kind) {
        case PK_BOOL:
            g_string_append(out, v->u ? "on" : "off");
            break;
        case PK_STR:
            g_string_append_printf(out, "'%s'", v->s ? v->s : "");
            break;
        case PK_ENUM:
            g_string_append(out, d->enum_names[v->u]);
            break;
        case PK_STRLIST: {
            g_autofree char *joined = g_strjoinv(" ", v->list);

            g_string_append(out, joined);
            break;
        }
        case PK_JSON:
            break;
        default:
            g_string_append_printf(out, "%" PRIu64 "%s", v->u,
                                   hmp_param_rows[i].unit);
            break;
        }
        g_string_append_c(out, '\n');
    }
}

const char *migrate_mode_name(MigMode mode)
{
    return mode_names[mode];
}

uint64_t migrate_max_bandwidth(void)
{
    params_init();
    return params[P_MAX_BANDWIDTH].u;
}

uint64_t migrate_avail_switchover_bandwidth(void)
{
    params_init();
    return params[P_AVAIL_SWITCHOVER_BANDWIDTH].u;
}

uint64_t migrate_downtime_limit(void)
{
    params_init();
    return params[P_DOWNTIME_LIMIT].u;
}

void migrate_announce_params(uint64_t *initial, uint64_t *max,
                             uint64_t *rounds, uint64_t *step)
{
    params_init();
    *initial = params[P_ANNOUNCE_INITIAL].u;
    *max = params[P_ANNOUNCE_MAX].u;
    *rounds = params[P_ANNOUNCE_ROUNDS].u;
    *step = params[P_ANNOUNCE_STEP].u;
}

MigMode migrate_mode(void)
{
    params_init();
    return params[P_MODE].u;
}

char **migrate_cpr_exec_command(void)
{
    params_init();
    return params[P_CPR_EXEC_COMMAND].has ? params[P_CPR_EXEC_COMMAND].list
                                          : NULL;
}

const char *migrate_tls_creds(void)
{
    params_init();
    return params[P_TLS_CREDS].s;
}

/* ---- capabilities ---- */

typedef enum CapId {
    CAP_XBZRLE,
    CAP_RDMA_PIN_ALL,
    CAP_AUTO_CONVERGE,
    CAP_ZERO_BLOCKS,
    CAP_EVENTS,
    CAP_POSTCOPY_RAM,
    CAP_X_COLO,
    CAP_RELEASE_RAM,
    CAP_RETURN_PATH,
    CAP_PAUSE_BEFORE_SWITCHOVER,
    CAP_MULTIFD,
    CAP_DIRTY_BITMAPS,
    CAP_POSTCOPY_BLOCKTIME,
    CAP_LATE_BLOCK_ACTIVATE,
    CAP_X_IGNORE_SHARED,
    CAP_VALIDATE_UUID,
    CAP_BACKGROUND_SNAPSHOT,
    CAP_ZERO_COPY_SEND,
    CAP_POSTCOPY_PREEMPT,
    CAP_SWITCHOVER_ACK,
    CAP_DIRTY_LIMIT,
    CAP_MAPPED_RAM,
    CAP__MAX
} CapId;

typedef struct CapDef {
    const char *name;
    const char *global;  /* -global migration.NAME, or NULL */
    bool supported;      /* baton implements it (may be turned on) */
} CapDef;

static const CapDef cap_defs[CAP__MAX] = {
    [CAP_XBZRLE] = {"xbzrle", "x-xbzrle"},
    [CAP_RDMA_PIN_ALL] = {"rdma-pin-all", "x-rdma-pin-all"},
    [CAP_AUTO_CONVERGE] = {"auto-converge", "x-auto-converge"},
    [CAP_ZERO_BLOCKS] = {"zero-blocks", "x-zero-blocks"},
    [CAP_EVENTS] = {"events", "x-events", true},
    [CAP_POSTCOPY_RAM] = {"postcopy-ram", "x-postcopy-ram"},
    [CAP_X_COLO] = {"x-colo", "x-colo"},
    [CAP_RELEASE_RAM] = {"release-ram", "x-release-ram"},
    [CAP_RETURN_PATH] = {"return-path", "x-return-path"},
    [CAP_PAUSE_BEFORE_SWITCHOVER] = {"pause-before-switchover", NULL},
    [CAP_MULTIFD] = {"multifd", "x-multifd"},
    [CAP_DIRTY_BITMAPS] = {"dirty-bitmaps", NULL},
    [CAP_POSTCOPY_BLOCKTIME] = {"postcopy-blocktime", NULL},
    [CAP_LATE_BLOCK_ACTIVATE] = {"late-block-activate", NULL},
    [CAP_X_IGNORE_SHARED] = {"x-ignore-shared", NULL, true},
    [CAP_VALIDATE_UUID] = {"validate-uuid", NULL},
    [CAP_BACKGROUND_SNAPSHOT] = {"background-snapshot",
                                 "x-background-snapshot"},
    [CAP_ZERO_COPY_SEND] = {"zero-copy-send", "x-zero-copy-send"},
    [CAP_POSTCOPY_PREEMPT] = {"postcopy-preempt", "x-postcopy-preempt"},
    /* A socket main channel is always two-way: no return-path needed. */
    [CAP_SWITCHOVER_ACK] = {"switchover-ack", "x-switchover-ack", true},
    [CAP_DIRTY_LIMIT] = {"dirty-limit", "x-dirty-limit"},
    [CAP_MAPPED_RAM] = {"mapped-ram", "mapped-ram"},
};

/* Main thread writes (never during a migration); readers take words. */
static bool caps[CAP__MAX];

static int cap_lookup(const char *name)
{
    for (int i = 0; i < CAP__MAX; i++) {
        if (!strcmp(cap_defs[i].name, name)) {
            return i;
        }
    }
    return -1;
}

static bool cap_check(int id, bool on, GError **errp)
{
    if (on && !cap_defs[id].supported) {
        error_setg(errp, "capability '%s' is not supported by baton",
                   cap_defs[id].name);
        return false;
    }
    return true;
}

bool migrate_events(void)
{
    return caps[CAP_EVENTS];
}

void migrate_inherit_events(bool on)
{
    caps[CAP_EVENTS] = on;
}

bool migrate_switchover_ack(void)
{
    return caps[CAP_SWITCHOVER_ACK];
}

bool migrate_ignore_shared(void)
{
    return caps[CAP_X_IGNORE_SHARED];
}

/* One {"capability": NAME, "state": BOOL} element of the QMP array. */
static bool cap_from_json(JsonNode *node, guint i, int *id, bool *on,
                          GError **errp)
{
    g_autofree char *where = g_strdup_printf("capabilities[%u]", i);
    JsonObject *obj;
    JsonNode *cap, *state;
    GList *members;
    bool ok = true;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: object",
                   where);
        return false;
    }
    obj = json_node_get_object(node);
    cap = json_object_get_member(obj, "capability");
    state = json_object_get_member(obj, "state");
    if (!cap) {
        error_setg(errp, "Parameter '%s.capability' is missing", where);
        return false;
    }
    if (!JSON_NODE_HOLDS_VALUE(cap) ||
        json_node_get_value_type(cap) != G_TYPE_STRING) {
        error_setg(errp, "Invalid parameter type for '%s.capability', "
                   "expected: string", where);
        return false;
    }
    *id = cap_lookup(json_node_get_string(cap));
    if (*id < 0) {
        error_setg(errp, "Parameter '%s.capability' does not accept value "
                   "'%s'", where, json_node_get_string(cap));
        return false;
    }
    if (!state) {
        error_setg(errp, "Parameter '%s.state' is missing", where);
        return false;
    }
    if (!JSON_NODE_HOLDS_VALUE(state) ||
        json_node_get_value_type(state) != G_TYPE_BOOLEAN) {
        error_setg(errp, "Invalid parameter type for '%s.state', expected: "
                   "boolean", where);
        return false;
    }
    *on = json_node_get_boolean(state);
    members = json_object_get_members(obj);
    for (GList *l = members; ok && l; l = l->next) {
        if (strcmp(l->data, "capability") && strcmp(l->data, "state")) {
            error_setg(errp, "Parameter '%s.%s' is unexpected", where,
                       (const char *)l->data);
            ok = false;
        }
    }
    g_list_free(members);
    return ok;
}

bool migrate_set_capabilities(JsonArray *list, GError **errp)
{
    bool newcaps[CAP__MAX];
    guint n = json_array_get_length(list);

    memcpy(newcaps, caps, sizeof(newcaps));
    for (guint i = 0; i < n; i++) {
        int id;
        bool on;

        if (!cap_from_json(json_array_get_element(list, i), i, &id, &on,
                           errp)) {
            return false;
        }
        newcaps[id] = on;
    }
    if (migration_is_active()) {
        error_setg(errp, "There's a migration process in progress");
        return false;
    }
    for (int i = 0; i < CAP__MAX; i++) {
        if (!cap_check(i, newcaps[i], errp)) {
            return false;
        }
    }
    memcpy(caps, newcaps, sizeof(caps));
    return true;
}

bool migrate_set_capability_str(const char *name, const char *value,
                                GError **errp)
{
    int id = cap_lookup(name);
    bool on;

    if (!strcmp(value, "on")) {
        on = true;
    } else if (!strcmp(value, "off")) {
        on = false;
    } else {
        error_setg(errp, "Expected 'on' or 'off'");
        return false;
    }
    if (id < 0) {
        error_setg(errp, "invalid parameter value: %s", name);
        return false;
    }
    if (migration_is_active()) {
        error_setg(errp, "There's a migration process in progress");
        return false;
    }
    if (!cap_check(id, on, errp)) {
        return false;
    }
    caps[id] = on;
    return true;
}

JsonNode *migrate_query_capabilities(void)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_array(b);
    for (int i = 0; i < CAP__MAX; i++) {
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "capability");
        json_builder_add_string_value(b, cap_defs[i].name);
        json_builder_set_member_name(b, "state");
        json_builder_add_boolean_value(b, caps[i]);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    return json_builder_get_root(b);
}

void migrate_format_capabilities(GString *out)
{
    for (int i = 0; i < CAP__MAX; i++) {
        g_string_append_printf(out, "%s: %s\n", cap_defs[i].name,
                               caps[i] ? "on" : "off");
    }
}

/* ---- -global migration.* ---- */

/*
 * Properties of QEMU's migration object that are neither parameters nor
 * capabilities: accepted, stored and shown by "info migrate"; baton's
 * stream does not depend on them.
 */
typedef struct GlobalFlag {
    const char *name;
    bool is_uint;
    uint64_t value;
} GlobalFlag;

static GlobalFlag global_flags[] = {
    { "store-global-state", false, 1 },
    { "send-configuration", false, 1 },
    { "send-section-footer", false, 1 },
    { "decompress-error-check", false, 1 },
    { "multifd-flush-after-each-section", false, 0 },
    { "x-clear-bitmap-shift", true, 18 },
    { "x-preempt-pre-7-2", false, 0 },
};

static bool global_flag_set(GlobalFlag *g, const char *value, GError **errp)
{
    bool b;

    if (g->is_uint) {
        if (!parse_uint(value, &g->value) || g->value > UINT8_MAX) {
            error_setg(errp, "Parameter '%s' expects uint8_t", g->name);
            return false;
        }
        return true;
    }
    if (!parse_bool(value, &b)) {
        error_setg(errp, "Parameter '%s' expects 'on' or 'off'", g->name);
        return false;
    }
    g->value = b;
    return true;
}

static bool global_set(const char *prop, const char *value, GError **errp)
{
    ParamValue newv[P__MAX] = { 0 };
    bool on;

    for (int i = 0; i < P__MAX; i++) {
        if (param_defs[i].global && !strcmp(param_defs[i].global, prop)) {
            if (!param_from_str(i, value, false, prop, &newv[i], errp)) {
                value_clear(&newv[i]);
                return false;
            }
            return params_apply(newv, errp);
        }
    }
    for (int i = 0; i < CAP__MAX; i++) {
        if (cap_defs[i].global && !strcmp(cap_defs[i].global, prop)) {
            if (!parse_bool(value, &on)) {
                error_setg(errp, "Parameter '%s' expects 'on' or 'off'",
                           prop);
                return false;
            }
            if (!cap_check(i, on, errp)) {
                return false;
            }
            caps[i] = on;
            return true;
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(global_flags); i++) {
        if (!strcmp(global_flags[i].name, prop)) {
            return global_flag_set(&global_flags[i], value, errp);
        }
    }
    error_setg(errp, "Property 'migration.%s' not found", prop);
    return false;
}

bool migrate_global_set(const char *prop, const char *value, GError **errp)
{
    params_init();
    if (!global_set(prop, value, errp)) {
        g_prefix_error(errp, "can't apply global migration.%s=%s: ", prop,
                       value);
        return false;
    }
    return true;
}

void migrate_format_globals(GString *out)
{
    g_string_append(out, "globals:\n");
    g_string_append_printf(out, "store-global-state: %s\n",
                           global_flags[0].value ? "on" : "off");
    g_string_append(out, "only-migratable: off\n");
    g_string_append_printf(out, "send-configuration: %s\n",
                           global_flags[1].value ? "on" : "off");
    g_string_append_printf(out, "send-section-footer: %s\n",
                           global_flags[2].value ? "on" : "off");
    g_string_append_printf(out, "clear-bitmap-shift: %" PRIu64 "\n",
                           global_flags[5].value);
}
