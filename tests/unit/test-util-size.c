/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for the scalar parsers in util/option.c: parse_size() with
 * qemu_strtosz() semantics (suffixes, fractions, default unit, overflow,
 * junk), parse_uint() and parse_bool().
 */
#include "util/osdep.h"

#include "util/option.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define TiB (UINT64_C(1) << 40)
#define PiB (UINT64_C(1) << 50)
#define EiB (UINT64_C(1) << 60)

static void check_size(const char *str, uint64_t unit, uint64_t expected)
{
    uint64_t v = 0xdeadbeef;

    if (!parse_size(str, unit, &v)) {
        g_test_message("parse_size('%s') failed", str);
        g_test_fail();
        return;
    }
    g_assert_cmpuint(v, ==, expected);
}

static void check_size_bad(const char *str, uint64_t unit)
{
    uint64_t v = 0xdeadbeef;

    if (parse_size(str, unit, &v)) {
        g_test_message("parse_size('%s') accepted as %" PRIu64, str, v);
        g_test_fail();
        return;
    }
    /* A failed parse leaves the output alone. */
    g_assert_cmpuint(v, ==, 0xdeadbeef);
}

static void test_size_suffixes(void)
{
    check_size("0", 1, 0);
    check_size("42", 1, 42);
    check_size("42B", 1, 42);
    check_size("42b", 1, 42);
    check_size("1K", 1, KiB);
    check_size("1k", 1, KiB);
    check_size("3M", 1, 3 * MiB);
    check_size("3m", 1, 3 * MiB);
    check_size("2G", 1, 2 * GiB);
    check_size("2g", 1, 2 * GiB);
    check_size("5T", 1, 5 * TiB);
    check_size("5t", 1, 5 * TiB);
    check_size("7P", 1, 7 * PiB);
    check_size("7p", 1, 7 * PiB);
    check_size("15E", 1, 15 * EiB);
    check_size("1e", 1, EiB);
}

static void test_size_fraction(void)
{
    check_size("1.5K", 1, 1536);
    check_size("1.5G", 1, GiB + GiB / 2);
    check_size("0.5M", 1, 512 * KiB);
    check_size("0.25k", 1, 256);
    /* a zero fraction is fine even at byte scale, as in QEMU */
    check_size("12.0", 1, 12);
    check_size("12.000B", 1, 12);
    /* fractions of a byte are truncated */
    check_size("1.0001K", 1, 1024);
    check_size("15.5E", 1, 15 * EiB + EiB / 2);
    /* digits beyond what can matter are still accepted */
    check_size("1.00000000000000000000000001K", 1, 1024);
}

static void test_size_default_unit(void)
{
    /* -m 512 means 512 MiB; an explicit suffix overrides the unit */
    check_size("512", MiB, 512 * MiB);
    check_size("512M", MiB, 512 * MiB);
    check_size("512B", MiB, 512);
    check_size("4G", MiB, 4 * GiB);
    check_size("1.5", MiB, MiB + MiB / 2);
    check_size("2", KiB, 2 * KiB);
    check_size("0x10", MiB, 16 * MiB);
}

static void test_size_hex(void)
{
    check_size("0x0", 1, 0);
    check_size("0x1000", 1, 4096);
    check_size("0XfF", 1, 255);
    check_size("0xffffffffffffffff", 1, UINT64_MAX);
    /* hex takes neither a fraction nor a suffix */
    check_size_bad("0x1.5", 1);
    check_size_bad("0x10M", 1);
    check_size_bad("0x", 1);
    check_size_bad("0x0x5", 1);
    check_size_bad("0x-1", 1);
}

static void test_size_overflow(void)
{
    check_size("18446744073709551615", 1, UINT64_MAX);
    check_size("16383P", 1, 16383 * PiB);
    check_size_bad("16E", 1);
    check_size_bad("18446744073709551616", 1);
    check_size_bad("99999999999999999999999", 1);
    check_size_bad("17179869184G", 1);
    check_size_bad("16777216T", 1);
    check_size_bad("17592186044416", MiB);
    check_size_bad("0x100000000000", MiB);
    check_size("0xfffffffffff", MiB, 0xfffffffffffULL * MiB);
    check_size_bad("0x10000000000000000", 1);
}

static void test_size_junk(void)
{
    static const char *const bad[] = {
        "", " ", "12Q", "-1", "+1", " 1", "1 ", "1.5.5", "1.", ".5", "K",
        "1KB", "1KiB", "1 K", "1,5K", "1e5", "abc", "1.5B", "1.5", "nan",
        "inf", "1.K", "0b101",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        check_size_bad(bad[i], 1);
    }
    /* "1.5" is fine once the default unit is larger than a byte */
    check_size_bad("1.5B", MiB);
    check_size_bad("-512", MiB);
}

static void check_uint(const char *str, uint64_t expected)
{
    uint64_t v = 0;

    g_assert_true(parse_uint(str, &v));
    g_assert_cmpuint(v, ==, expected);
}

static void check_uint_bad(const char *str)
{
    uint64_t v = 77;

    if (parse_uint(str, &v)) {
        g_test_message("parse_uint('%s') accepted", str);
        g_test_fail();
    }
    g_assert_cmpuint(v, ==, 77);
}

static void test_uint(void)
{
    check_uint("0", 0);
    check_uint("1234", 1234);
    check_uint("0x1f", 31);
    check_uint("0XAB", 0xab);
    check_uint("010", 8);
    check_uint("18446744073709551615", UINT64_MAX);
    check_uint("0xffffffffffffffff", UINT64_MAX);
    check_uint_bad("");
    check_uint_bad("-1");
    check_uint_bad("+1");
    check_uint_bad(" 1");
    check_uint_bad("1 ");
    check_uint_bad("12x");
    check_uint_bad("1K");
    check_uint_bad("0x");
    check_uint_bad("08");
    check_uint_bad("1.0");
    check_uint_bad("18446744073709551616");
    check_uint_bad("0x10000000000000000");
}

static void test_bool(void)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    static const char *const bad[] = { "", "ON", "1", "0", "onn", " on",
                                       "enable", "nooff" };
    bool v;

    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        v = false;
        g_assert_true(parse_bool(yes[i], &v));
        g_assert_true(v);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(no); i++) {
        v = true;
        g_assert_true(parse_bool(no[i], &v));
        g_assert_false(v);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        v = true;
        g_assert_false(parse_bool(bad[i], &v));
        g_assert_true(v);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/size/suffixes", test_size_suffixes);
    g_test_add_func("/util/size/fraction", test_size_fraction);
    g_test_add_func("/util/size/default-unit", test_size_default_unit);
    g_test_add_func("/util/size/hex", test_size_hex);
    g_test_add_func("/util/size/overflow", test_size_overflow);
    g_test_add_func("/util/size/junk", test_size_junk);
    g_test_add_func("/util/size/uint", test_uint);
    g_test_add_func("/util/size/bool", test_bool);
    return g_test_run();
}
