/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Table-driven CRC-32 (zlib's polynomial), eight bytes per step with the
 * "slicing" technique so checksumming migration records stays far cheaper
 * than sending them. The tables are built once, on first use.
 */
#include "util/osdep.h"

#include "util/crc32.h"

#define CRC32_POLY 0xEDB88320u

static uint32_t crc_table[8][256];

static void crc32_build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ CRC32_POLY : c >> 1;
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

static void crc32_init(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        crc32_build_tables();
        g_once_init_leave(&done, 1);
    }
}

uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;

    crc32_init();
    while (len >= 8) {
        /* Little-endian load of the next eight bytes, mixed with c. */
        uint32_t lo = ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) ^
                      c;
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 |
                      (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
            crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) {
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    }
    return ~c;
}
