/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF), so crc32c_update(0, "123456789", 9) is 0xE3069283.
 * The per-record checksum of the migration stream. x86-64 hosts with
 * SSE4.2 and PCLMULQDQ compute it with the CRC32 instruction, several
 * times faster than any table; other hosts use an eight-bytes-per-step
 * table.
 */
#ifndef BATON_UTIL_CRC32C_H
#define BATON_UTIL_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * Continue CRC (0 to start) over LEN bytes at BUF and return the new value;
 * chaining calls over consecutive pieces gives the CRC of the whole.
 * Thread-safe.
 */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

/*
 * crc32c_update() over N pieces in turn, for pieces likely not in cache
 * (guest pages about to be sent): it prefetches the next ones while it
 * sums one.
 */
uint32_t crc32c_update_iov(uint32_t crc, const struct iovec *iov, size_t n);

/* The table version, whatever the host has (tests compare the two). */
uint32_t crc32c_update_sw(uint32_t crc, const void *buf, size_t len);
/* Whether crc32c_update() uses the CRC32 instruction on this host. */
bool crc32c_has_hw(void);

#endif
