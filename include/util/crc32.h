/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC-32 with zlib's parameters (reflected polynomial 0xEDB88320, initial
 * value and final xor 0xFFFFFFFF), so crc32_update(0, "123456789", 9) is
 * 0xCBF43926. Used for the per-record checksums of the migration stream.
 */
#ifndef BATON_UTIL_CRC32_H
#define BATON_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue CRC (0 to start) over LEN bytes at BUF and return the new value;
 * chaining calls over consecutive pieces gives the CRC of the whole.
 * Thread-safe.
 */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif
