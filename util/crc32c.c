/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC-32C for migration records. The stream checksums every byte it sends,
 * RAM pages included, so the checksum must run far faster than the socket:
 * SSE4.2's CRC32 instruction does eight bytes per instruction; the table
 * fallback ("slicing by eight") is what hosts without it get.
 */
#include "util/osdep.h"

#include "util/crc32c.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];

static void crc32c_build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        }
        crc_table[0][i] = c;
    }
    /* crc_table[t][i]: the CRC of byte i followed by t zero bytes. */
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];

            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    }
}

static void crc32c_init_tables(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        crc32c_build_tables();
        g_once_init_leave(&done, 1);
    }
}

uint32_t crc32c_update_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;

    crc32c_init_tables();
    while (len >= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        w = GUINT64_FROM_LE(w) ^ c;
        c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
            crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
            crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
            crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) {
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    }
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t crc32c_update_hw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;

    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;

        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len--) {
        c = _mm_crc32_u8(c, *p++);
    }
    return ~(uint32_t)c;
}

bool crc32c_has_hw(void)
{
    return __builtin_cpu_supports("sse4.2");
}

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len)
{
    static int hw = -1;

    if (G_UNLIKELY(hw < 0)) {
        hw = crc32c_has_hw();
    }
    return hw ? crc32c_update_hw(crc, buf, len)
              : crc32c_update_sw(crc, buf, len);
}
#else
bool crc32c_has_hw(void)
{
    return false;
}

uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len)
{
    return crc32c_update_sw(crc, buf, len);
}
#endif
