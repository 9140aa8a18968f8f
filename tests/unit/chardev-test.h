/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit-test helpers shared by the chardev, chardev-hold and CPR tests: a
 * frontend that records what a chardev delivers, creating chardevs from
 * option strings, and removing a test's temporary directory.
 */
#ifndef BATON_TESTS_UNIT_CHARDEV_TEST_H
#define BATON_TESTS_UNIT_CHARDEV_TEST_H

#include <glib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <string.h>
#include <unistd.h>

#include "chardev/char.h"
#include "util/option.h"

/* ---- a recording frontend ---- */

typedef struct TestFe {
    GByteArray *rx;
    size_t room;        /* what can_read() answers (0: take no input) */
    size_t max_chunk;   /* largest single read() seen */
    int opened;
    int closed;
} TestFe;

static inline size_t fe_can_read(void *opaque)
{
    return ((TestFe *)opaque)->room;
}

static inline void fe_read(void *opaque, const uint8_t *buf, size_t len)
{
    TestFe *fe = opaque;

    g_assert_cmpuint(len, <=, fe->room);
    fe->max_chunk = MAX(fe->max_chunk, len);
    g_byte_array_append(fe->rx, buf, len);
}

static inline void fe_event(void *opaque, ChardevEvent event)
{
    TestFe *fe = opaque;

    if (event == CHR_EVENT_OPENED) {
        fe->opened++;
    } else {
        fe->closed++;
    }
}

static const ChardevFrontendOps fe_ops = {
    .can_read = fe_can_read,
    .read = fe_read,
    .event = fe_event,
};

/* A fresh frontend with room for a full read; not attached yet. */
static inline void fe_init(TestFe *fe)
{
    memset(fe, 0, sizeof(*fe));
    fe->rx = g_byte_array_new();
    fe->room = 4096;
}

static inline void fe_fini(TestFe *fe)
{
    g_byte_array_unref(fe->rx);
}

/* fe_init() FE and attach it to CHR (asserting that works). */
static inline void fe_attach(TestFe *fe, Chardev *chr)
{
    g_autoptr(GError) err = NULL;

    fe_init(fe);
    g_assert_true(chardev_attach(chr, &fe_ops, fe, &err));
}

/* Undo fe_attach(). */
static inline void fe_detach(TestFe *fe, Chardev *chr)
{
    chardev_detach(chr);
    fe_fini(fe);
}

static inline bool fe_rx_is(TestFe *fe, const char *s)
{
    return fe->rx->len == strlen(s) && !memcmp(fe->rx->data, s, fe->rx->len);
}

/* ---- creating chardevs ---- */

/* The chardev made from option string STR (asserting that works). */
static inline Chardev *mk_chr(const char *str)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) opts = opts_parse(str, "backend", &err);
    Chardev *chr;

    g_assert_no_error(err);
    chr = chardev_new_from_opts(opts, &err);
    g_assert_no_error(err);
    g_assert_nonnull(chr);
    return chr;
}

/* Creating STR parses but fails; returns the message (free it). */
static inline char *mk_chr_fails(const char *str)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(OptList) opts = opts_parse(str, "backend", &err);

    g_assert_no_error(err);
    g_assert_null(chardev_new_from_opts(opts, &err));
    g_assert_nonnull(err);
    return g_strdup(err->message);
}

/* ---- temporary files ---- */

/* Remove DIR and the files in it (a test's g_dir_make_tmp()). */
static inline void rm_tmpdir(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        unlink(p);
    }
    rmdir(dir);
}

/* A UNIX socket listening on PATH (replacing a stale one). */
static inline int unix_listen(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    unlink(path);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fd, 4), ==, 0);
    return fd;
}

/* A client connected to the UNIX socket at PATH. */
static inline int unix_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

#endif
