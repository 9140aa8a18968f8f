/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Runs a libFuzzer-style target without libFuzzer, with any compiler: the
 * seed corpus, freshly made seeds, then a fixed-seed series of mutations
 * (so every `make check` run is the same). A crash leaves the input that
 * caused it in fuzz-crash.bin (or $FUZZ_CRASH_FILE).
 *
 * usage: fuzz-migration-load-standalone [--iterations N] [--seed S]
 *            [--verbose] [--write-seeds DIR] [FILE|DIR]...
 * --verbose counts the kinds of error seen; FUZZ_TRACE=1 in the
 * environment prints each mutation's length, CRC and outcome.
 */
#include "util/osdep.h"

#include <signal.h>

#include "util/crc32c.h"

#include "fuzz-migration.h"

#define FUZZ_MAX_INPUT (64 * 1024)

static const uint8_t *cur_data;
static size_t cur_len;
static const char *crash_file = "fuzz-crash.bin";

static void on_crash(int sig)
{
    int fd = open(crash_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd >= 0 && cur_data) {
        /* Best effort from a signal handler; nothing else to do on error. */
        if (write(fd, cur_data, cur_len) < 0) {
            cur_len = 0;
        }
        close(fd);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t len)
{
    cur_data = data;
    cur_len = len;
    LLVMFuzzerTestOneInput(data, len);
    cur_data = NULL;
}

/* xorshift64*: small, fast and the same everywhere. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t rnd_below(size_t n)
{
    return n ? rnd() % n : 0;
}

static const uint32_t interesting32[] = {
    0,          1,          2,          3,          4,          15,
    16,         17,         31,         32,         33,         63,
    64,         255,        256,        511,        512,        513,
    0x7f,       0x80,       0xff,       0x7fff,     0x8000,     0xffff,
    0x10000,    0x00fffffe, 0x01000000, 0x01000001, 0x7fffffff, 0x80000000,
    0xfffffffe, 0xffffffff,
};

static void buf_insert(GByteArray *buf, size_t pos, const uint8_t *data,
                       size_t len)
{
    size_t old = buf->len;

    g_byte_array_set_size(buf, old + len);
    memmove(buf->data + pos + len, buf->data + pos, old - pos);
    memcpy(buf->data + pos, data, len);
}

/* Offsets of up to MAX records in DATA (after the 12-byte header). */
static size_t record_offsets(const uint8_t *data, size_t len, size_t *offs,
                             size_t max)
{
    size_t off = 12, n = 0;

    while (off + 9 <= len && n < max) {
        uint32_t plen = (uint32_t)data[off + 1] << 24 |
                        (uint32_t)data[off + 2] << 16 |
                        (uint32_t)data[off + 3] << 8 | data[off + 4];

        if (plen > len - off - 9) {
            break;
        }
        offs[n++] = off;
        off += 9 + plen;
    }
    /* OFFS has MAX + 1 slots: the end of the last record goes last. */
    offs[n] = off;
    return n;
}

/* Move, duplicate or drop a whole record (keeps framing intact). */
static void mutate_records(GByteArray *buf)
{
    size_t offs[257];
    size_t n = record_offsets(buf->data, buf->len, offs, 256);
    size_t i, j, ilen;
    g_autofree uint8_t *rec = NULL;

    if (n < 2) {
        return;
    }
    i = rnd_below(n);
    ilen = offs[i + 1] - offs[i];
    rec = g_memdup2(buf->data + offs[i], ilen);
    switch (rnd_below(3)) {
    case 0: /* drop */
        g_byte_array_remove_range(buf, offs[i], ilen);
        break;
    case 1: /* duplicate at another record boundary */
        j = rnd_below(n + 1);
        buf_insert(buf, offs[j], rec, ilen);
        break;
    default: /* move */
        g_byte_array_remove_range(buf, offs[i], ilen);
        n = record_offsets(buf->data, buf->len, offs, 256);
        j = rnd_below(n + 1);
        buf_insert(buf, offs[j], rec, ilen);
        break;
    }
}

static void mutate_once(GByteArray *buf, GPtrArray *pool)
{
    size_t len = buf->len;
    size_t pos = rnd_below(len);
    uint8_t bytes[16];
    uint32_t v;

    switch (rnd_below(10)) {
    case 0: /* flip a bit */
        if (len) {
            buf->data[pos] ^= 1u << rnd_below(8);
        }
        break;
    case 1: /* random byte */
        if (len) {
            buf->data[pos] = rnd();
        }
        break;
    case 2: /* interesting big-endian u32 */
    case 3:
        if (len >= 4) {
            pos = rnd_below(len - 3);
            v = interesting32[rnd_below(G_N_ELEMENTS(interesting32))];
            buf->data[pos] = v >> 24;
            buf->data[pos + 1] = v >> 16;
            buf->data[pos + 2] = v >> 8;
            buf->data[pos + 3] = v;
        }
        break;
    case 4: /* interesting byte */
        if (len) {
            static const uint8_t ib[] = {0, 1, 2, 0x7f, 0x80, 0xff, 16, 17};

            buf->data[pos] = ib[rnd_below(sizeof(ib))];
        }
        break;
    case 5: /* insert random bytes */
        for (size_t i = 0; i < sizeof(bytes); i++) {
            bytes[i] = rnd();
        }
        /* One draw per statement: argument order is unspecified in C. */
        pos = rnd_below(len + 1);
        buf_insert(buf, pos, bytes, 1 + rnd_below(sizeof(bytes)));
        break;
    case 6: /* delete a range */
        if (len) {
            g_byte_array_remove_range(buf, pos,
                                      1 + rnd_below(MIN(len - pos, 64)));
        }
        break;
    case 7: /* truncate */
        g_byte_array_set_size(buf, rnd_below(len + 1));
        break;
    case 8: { /* splice: our prefix, another input's suffix */
        GBytes *other = g_ptr_array_index(pool, rnd_below(pool->len));
        size_t olen;
        const uint8_t *od = g_bytes_get_data(other, &olen);
        size_t opos = rnd_below(olen + 1);

        g_byte_array_set_size(buf, pos);
        g_byte_array_append(buf, od + opos, olen - opos);
        break;
    }
    default:
        mutate_records(buf);
        break;
    }
    if (buf->len > FUZZ_MAX_INPUT) {
        g_byte_array_set_size(buf, FUZZ_MAX_INPUT);
    }
}

static int sort_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_file(GPtrArray *pool, const char *path)
{
    gchar *contents;
    gsize len;
    g_autoptr(GError) err = NULL;

    if (!g_file_get_contents(path, &contents, &len, &err)) {
        g_printerr("fuzz: %s\n", err->message);
        exit(1);
    }
    g_ptr_array_add(pool, g_bytes_new_take(contents, len));
}

static void add_path(GPtrArray *pool, const char *path)
{
    g_autoptr(GDir) dir = NULL;
    const char *name;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        add_file(pool, path);
        return;
    }
    dir = g_dir_open(path, 0, NULL);
    while (dir && (name = g_dir_read_name(dir))) {
        if (name[0] != '.' && strcmp(name, "README")) {
            g_ptr_array_add(names, g_build_filename(path, name, NULL));
        }
    }
    /* Directory order varies between machines; runs must not. */
    g_ptr_array_sort(names, sort_paths);
    for (guint i = 0; i < names->len; i++) {
        add_file(pool, names->pdata[i]);
    }
}

static void write_seeds(const char *dir, GPtrArray *seeds)
{
    uint64_t saved = rng_state;

    g_mkdir_with_parents(dir, 0755);
    for (guint i = 0; i < seeds->len; i++) {
        size_t len;
        const uint8_t *data = g_bytes_get_data(seeds->pdata[i], &len);
        g_autofree char *path = g_strdup_printf("%s/seed-%u.bin", dir, i);

        g_file_set_contents(path, (const char *)data, len, NULL);
        /* And two CRC-correct mutants of each, to start deeper. */
        for (int k = 0; k < 2; k++) {
            g_autoptr(GByteArray) m = g_byte_array_new();
            g_autofree char *mpath =
                g_strdup_printf("%s/seed-%u-mut%d.bin", dir, i, k);

            g_byte_array_append(m, data, len);
            for (int n = 0; n < 3; n++) {
                mutate_once(m, seeds);
            }
            fuzz_migration_fix_crcs(m->data, m->len);
            g_file_set_contents(mpath, (const char *)m->data, m->len, NULL);
        }
    }
    rng_state = saved;
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) pool =
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
    g_autoptr(GPtrArray) seeds = NULL;
    g_autoptr(GHashTable) errors =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) paths = g_ptr_array_new();
    const char *seed_dir = NULL;
    unsigned long iterations = 20000;
    unsigned long accepted = 0, corpus_inputs;
    uint64_t seed = 0x6261746f6e6d6967ull;
    bool verbose = false;

    if (getenv("FUZZ_CRASH_FILE")) {
        crash_file = getenv("FUZZ_CRASH_FILE");
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
            iterations = strtoul(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--verbose")) {
            verbose = true;
        } else if (!strcmp(argv[i], "--write-seeds") && i + 1 < argc) {
            seed_dir = argv[++i];
        } else {
            g_ptr_array_add(paths, argv[i]);
        }
    }
    rng_state = seed ? seed : 1;
    signal(SIGSEGV, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);

    LLVMFuzzerInitialize(&argc, &argv);
    seeds = fuzz_migration_seeds();
    if (seed_dir) {
        write_seeds(seed_dir, seeds);
        return 0;
    }
    g_ptr_array_sort(paths, sort_paths);
    for (guint i = 0; i < paths->len; i++) {
        add_path(pool, paths->pdata[i]);
    }
    for (guint i = 0; i < seeds->len; i++) {
        g_ptr_array_add(pool, g_bytes_ref(seeds->pdata[i]));
    }

    /* The fresh seeds must load: they are what a real source sends. */
    for (guint i = 0; i < seeds->len; i++) {
        size_t len;
        const uint8_t *data = g_bytes_get_data(seeds->pdata[i], &len);

        run_one(data, len);
        if (!fuzz_migration_last_ok()) {
            g_printerr("fuzz: seed %u does not load: %s\n", i,
                       fuzz_migration_last_error());
            return 1;
        }
    }
    for (guint i = 0; i < pool->len; i++) {
        size_t len;
        const uint8_t *data = g_bytes_get_data(pool->pdata[i], &len);

        run_one(data, len);
        accepted += fuzz_migration_last_ok();
    }
    corpus_inputs = pool->len;

    for (unsigned long it = 0; it < iterations; it++) {
        GBytes *base = g_ptr_array_index(pool, rnd_below(pool->len));
        g_autoptr(GByteArray) buf = g_byte_array_new();
        size_t len;
        const uint8_t *data = g_bytes_get_data(base, &len);
        int n = 1 + rnd_below(4);

        g_byte_array_append(buf, data, len);
        for (int k = 0; k < n; k++) {
            mutate_once(buf, pool);
        }
        /* Most inputs get valid checksums to reach the section parsers. */
        if (rnd_below(8)) {
            fuzz_migration_fix_crcs(buf->data, buf->len);
        }
        run_one(buf->data, buf->len);
        if (getenv("FUZZ_TRACE")) {
            g_print("%lu %u %08x %d\n", it, buf->len,
                    crc32c_update(0, buf->data, buf->len),
                    fuzz_migration_last_ok());
        }
        if (fuzz_migration_last_ok()) {
            accepted++;
        } else {
            /* Offsets and values differ; count kinds of error. */
            char *kind = g_strdup(fuzz_migration_last_error());

            for (char *c = kind; *c; c++) {
                if (g_ascii_isdigit(*c)) {
                    *c = '#';
                }
            }
            g_hash_table_insert(
                errors, kind,
                GUINT_TO_POINTER(
                    GPOINTER_TO_UINT(g_hash_table_lookup(errors, kind)) + 1));
        }
    }
    if (verbose) {
        GHashTableIter iter;
        gpointer key, value;

        g_hash_table_iter_init(&iter, errors);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
            g_print("%6u  %s\n", GPOINTER_TO_UINT(value), (char *)key);
        }
    }
    g_print("fuzz-migration-load: %lu corpus inputs, %lu mutations, %lu "
            "loaded, %u distinct errors\n",
            corpus_inputs, iterations, accepted, g_hash_table_size(errors));
    return 0;
}
