/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC-32C: the standard check value, the instruction paths (lanes,
 * folding) against the table path on every length and alignment, and
 * chaining.
 */
#include "util/osdep.h"

#include "util/crc32c.h"

static void test_check_value(void)
{
    g_assert_cmphex(crc32c_update(0, "123456789", 9), ==, 0xE3069283);
    g_assert_cmphex(crc32c_update_sw(0, "123456789", 9), ==, 0xE3069283);
    g_assert_cmphex(crc32c_update(0, "", 0), ==, 0);
    /* RFC 3720 B.4: 32 bytes of zeroes. */
    g_assert_cmphex(crc32c_update(0, (uint8_t[32]){ 0 }, 32), ==,
                    0x8A9136AA);
}

static void test_hw_matches_sw(void)
{
    uint8_t buf[600];
    GRand *rand = g_rand_new_with_seed(42);

    if (!crc32c_has_hw()) {
        g_test_skip("no SSE4.2 and PCLMULQDQ on this host");
    }
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = g_rand_int(rand);
    }
    for (size_t start = 0; start < 9; start++) {
        for (size_t len = 0; start + len <= sizeof(buf); len += 7) {
            g_assert_cmphex(crc32c_update(0, buf + start, len), ==,
                            crc32c_update_sw(0, buf + start, len));
        }
    }
    g_rand_free(rand);
}

/* Long inputs take the three-lane rounds: every boundary around them. */
static void test_hw_lanes(void)
{
    size_t size = 5 * 3 * 4096 + 64;
    g_autofree uint8_t *buf = g_malloc(size);
    GRand *rand = g_rand_new_with_seed(7);

    if (!crc32c_has_hw()) {
        g_test_skip("no SSE4.2 and PCLMULQDQ on this host");
    }
    for (size_t i = 0; i < size; i++) {
        buf[i] = g_rand_int(rand);
    }
    for (size_t start = 0; start < 3; start++) {
        for (size_t len = 3 * 4096 - 9; start + len <= size; len += 4093) {
            g_assert_cmphex(crc32c_update(0x1234, buf + start, len), ==,
                            crc32c_update_sw(0x1234, buf + start, len));
        }
        /* Short lanes (3 x 1360 bytes): a page and the lengths around. */
        for (size_t len = 3 * 1360 - 9; len <= 3 * 1360 + 40; len++) {
            g_assert_cmphex(crc32c_update(0x1234, buf + start, len), ==,
                            crc32c_update_sw(0x1234, buf + start, len));
        }
        for (size_t len = 4096 - 3; len <= 4096 + 3; len++) {
            g_assert_cmphex(crc32c_update(0x1234, buf + start, len), ==,
                            crc32c_update_sw(0x1234, buf + start, len));
        }
    }
    g_rand_free(rand);
}

static void test_chaining(void)
{
    uint8_t buf[4096];
    uint32_t whole;

    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = i * 13 + (i >> 7);
    }
    whole = crc32c_update(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut += 331) {
        uint32_t c = crc32c_update(0, buf, cut);

        g_assert_cmphex(crc32c_update(c, buf + cut, sizeof(buf) - cut), ==,
                        whole);
    }
}

/*
 * Folding (1024 bytes and more where the CPU has VPCLMULQDQ): every
 * remainder modulo its 256-, 64- and 16-byte steps, at several
 * alignments, from the smallest length on.
 */
static void test_hw_fold(void)
{
    size_t size = 4 * 4096 + 8;
    g_autofree uint8_t *buf = g_malloc(size);
    GRand *rand = g_rand_new_with_seed(3);

    if (!crc32c_has_hw()) {
        g_test_skip("no SSE4.2 and PCLMULQDQ on this host");
    }
    for (size_t i = 0; i < size; i++) {
        buf[i] = g_rand_int(rand);
    }
    for (size_t start = 0; start < 4; start++) {
        for (size_t len = 1000; len <= 1600; len++) {
            g_assert_cmphex(crc32c_update(0xabcd, buf + start, len), ==,
                            crc32c_update_sw(0xabcd, buf + start, len));
        }
        for (size_t len = 4 * 4096 - 300; len <= 4 * 4096; len++) {
            g_assert_cmphex(crc32c_update(~0u, buf + start, len), ==,
                            crc32c_update_sw(~0u, buf + start, len));
        }
    }
    g_rand_free(rand);
}

/* Pieces, empty ones among them, sum as their concatenation does. */
static void test_iov(void)
{
    /* Lengths: none, pages, odd ones, three pages and five bytes. */
    static const size_t lens[] = {0, 4096, 7, 0, 12293, 1, 4096, 0, 9000};
    struct iovec iov[G_N_ELEMENTS(lens)];
    size_t total = 0, at = 0;
    g_autofree uint8_t *buf = NULL;
    GRand *rand = g_rand_new_with_seed(11);

    for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
        total += lens[i];
    }
    buf = g_malloc(total);
    for (size_t i = 0; i < total; i++) {
        buf[i] = g_rand_int(rand);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
        iov[i].iov_base = buf + at;
        iov[i].iov_len = lens[i];
        at += lens[i];
    }
    for (size_t n = 0; n <= G_N_ELEMENTS(lens); n++) {
        size_t len = 0;

        for (size_t i = 0; i < n; i++) {
            len += lens[i];
        }
        g_assert_cmphex(crc32c_update_iov(0x55, iov, n), ==,
                        crc32c_update_sw(0x55, buf, len));
    }
    g_rand_free(rand);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/crc32c/check-value", test_check_value);
    g_test_add_func("/util/crc32c/hw-matches-sw", test_hw_matches_sw);
    g_test_add_func("/util/crc32c/hw-lanes", test_hw_lanes);
    g_test_add_func("/util/crc32c/hw-fold", test_hw_fold);
    g_test_add_func("/util/crc32c/chaining", test_chaining);
    g_test_add_func("/util/crc32c/iov", test_iov);
    return g_test_run();
}
