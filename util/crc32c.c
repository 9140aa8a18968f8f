/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CRC-32C for migration records. The stream checksums every byte it sends,
 * RAM pages included, so the checksum must run far faster than the socket:
 * SSE4.2's CRC32 instruction does eight bytes per instruction, in three
 * interleaved lanes joined with PCLMULQDQ; long inputs fold 256 bytes a
 * round with VPCLMULQDQ where AVX-512 has it; the table fallback
 * ("slicing by eight") is what hosts without SSE4.2 get.
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
#include <immintrin.h>

/*
 * A * B modulo the polynomial, both reflected as the CRC register holds
 * them (bit 31 is x^0, bit 0 is x^31): adding B * x^i for each term x^i
 * of A. Shifting right multiplies by x, as one step of the table-less
 * CRC does.
 */
static uint32_t crc32c_mulmod(uint32_t a, uint32_t b)
{
    uint32_t product = 0;

    for (uint32_t m = 1u << 31; m; m >>= 1) {
        if (a & m) {
            product ^= b;
        }
        b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1;
    }
    return product;
}

/* x^K modulo the polynomial (reflected), by squaring. */
static uint32_t crc32c_xpow(uint64_t k)
{
    uint32_t result = 1u << 31; /* x^0 */
    uint32_t power = 1u << 30;  /* x^1 */

    for (; k; k >>= 1) {
        if (k & 1) {
            result = crc32c_mulmod(result, power);
        }
        power = crc32c_mulmod(power, power);
    }
    return result;
}

/*
 * The CRC32 instruction takes three cycles but can start one every cycle:
 * one dependency chain uses a third of it. So large inputs go in rounds
 * of three lanes of LANE bytes each, summed side by side (the first lane
 * from the running state, the others from zero) and joined by linearity:
 * state(A B C) = state(A) * x^(16 LANE) + state0(B) * x^(8 LANE)
 * + state0(C), with x^(8 k) standing for k zero bytes. Two lane sizes:
 * long lanes make the join rare, short ones (three to a 4 KiB page, the
 * piece RAM is summed in) keep pages off the single chain.
 *
 * The join multiplies with PCLMULQDQ (so the instruction path needs it
 * beside SSE4.2; every CPU with both since 2010 has it): the carry-less
 * product of two reflected 32-bit values, read as a reflected 64-bit one,
 * is A * B * x, and CRC32 of that from zero multiplies it by x^32 modulo
 * the polynomial; so multiplying by x^(8 k) takes the constant
 * x^(8 k - 33) and costs a few cycles, where the bit loop above would
 * cost about as much as summing the page.
 */
static const size_t crc32c_lanes[2] = {4096, 1360};

/* Per lane: x^(8 LANE - 33), x^(16 LANE - 33), for crc32c_join(). */
static uint32_t crc32c_lane_const[2][2];

static void crc32c_init_lanes(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 2; j++) {
                uint64_t bits = 8 * (j + 1) * crc32c_lanes[i];

                crc32c_lane_const[i][j] = crc32c_xpow(bits - 33);
            }
        }
        g_once_init_leave(&done, 1);
    }
}

__attribute__((target("sse4.2,pclmul"))) static inline uint64_t
crc32c_join(uint64_t a, uint64_t b, uint64_t c, const uint32_t k[2])
{
    __m128i pa =
        _mm_clmulepi64_si128(_mm_cvtsi64_si128(a), _mm_cvtsi32_si128(k[1]), 0);
    __m128i pb =
        _mm_clmulepi64_si128(_mm_cvtsi64_si128(b), _mm_cvtsi32_si128(k[0]), 0);

    return _mm_crc32_u64(0, _mm_cvtsi128_si64(_mm_xor_si128(pa, pb))) ^ c;
}

__attribute__((target("sse4.2,pclmul"))) static uint64_t
crc32c_rounds_hw(uint64_t c, const uint8_t **pp, size_t *lenp)
{
    const uint8_t *p = *pp;
    size_t len = *lenp;

    crc32c_init_lanes();
    for (int k = 0; k < 2; k++) {
        const size_t lane = crc32c_lanes[k];

        while (len >= 3 * lane) {
            uint64_t b = 0, d = 0;

            for (size_t i = 0; i < lane; i += 8) {
                uint64_t w0, w1, w2;

                memcpy(&w0, p + i, 8);
                memcpy(&w1, p + lane + i, 8);
                memcpy(&w2, p + 2 * lane + i, 8);
                c = _mm_crc32_u64(c, w0);
                b = _mm_crc32_u64(b, w1);
                d = _mm_crc32_u64(d, w2);
            }
            c = crc32c_join(c, b, d, crc32c_lane_const[k]);
            p += 3 * lane;
            len -= 3 * lane;
        }
    }
    *pp = p;
    *lenp = len;
    return c;
}

/*
 * Folding, for long inputs where the CPU has VPCLMULQDQ on 512-bit
 * registers: four registers of 64 bytes take 256 bytes a round, each
 * 16-byte block replaced by its product with x^(8 D) (D the distance it
 * moves) modulo the polynomial and added to the block D bytes on; what
 * is left folds down to 16 bytes whose CRC32 from zero (the running
 * state added into the first four bytes) is the state after all of it.
 * A block, read as a little-endian 128-bit value, is LO * x^64 + HI with
 * LO and HI reflected 64-bit values; with the PCLMULQDQ rule above
 * (a product reads as A * B * x, a 32-bit constant as C * x^32), the
 * constants are x^(8 D + 31) for LO and x^(8 D - 33) for HI. Twice to
 * four times as fast as the three lanes on data in cache; below
 * CRC32C_FOLD_MIN bytes the setup does not pay.
 */
#define CRC32C_FOLD_MIN 1024

enum {
    FOLD_16,
    FOLD_32,
    FOLD_48,
    FOLD_64,
    FOLD_128,
    FOLD_192,
    FOLD_256,
    FOLD_N
};
static const unsigned crc32c_fold_dist[FOLD_N] = {16,  32,  48, 64,
                                                  128, 192, 256};
static uint64_t crc32c_fold_const[FOLD_N][2]; /* LO's, HI's */
static bool crc32c_can_fold;

static void crc32c_init_fold(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        for (int i = 0; i < FOLD_N; i++) {
            crc32c_fold_const[i][0] = crc32c_xpow(8 * crc32c_fold_dist[i] + 31);
            crc32c_fold_const[i][1] = crc32c_xpow(8 * crc32c_fold_dist[i] - 33);
        }
        crc32c_can_fold = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("vpclmulqdq");
        g_once_init_leave(&done, 1);
    }
}

#define CRC32C_FOLD_TARGET "sse4.2,pclmul,avx512f,vpclmulqdq"

__attribute__((target(CRC32C_FOLD_TARGET))) static inline __m128i
crc32c_fold16(__m128i x, int d, __m128i data)
{
    __m128i k = _mm_loadu_si128((const __m128i *)crc32c_fold_const[d]);

    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                       _mm_clmulepi64_si128(x, k, 0x11)),
                         data);
}

__attribute__((target(CRC32C_FOLD_TARGET))) static inline __m512i
crc32c_fold64(__m512i x, int d, __m512i data)
{
    __m512i k = _mm512_broadcast_i32x4(
        _mm_loadu_si128((const __m128i *)crc32c_fold_const[d]));

    /* 0x96: the three-way exclusive or. */
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                     _mm512_clmulepi64_epi128(x, k, 0x11), data,
                                     0x96);
}

/* At least CRC32C_FOLD_MIN bytes; leaves fewer than 16. */
__attribute__((target(CRC32C_FOLD_TARGET))) static uint64_t
crc32c_fold_hw(uint64_t c, const uint8_t **pp, size_t *lenp)
{
    const uint8_t *p = *pp;
    size_t len = *lenp;
    __m512i x[4], acc;
    __m128i v;

    for (int i = 0; i < 4; i++) {
        x[i] = _mm512_loadu_si512(p + 64 * i);
    }
    x[0] = _mm512_xor_si512(x[0], _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, c));
    p += 256;
    len -= 256;
    while (len >= 256) {
        for (int i = 0; i < 4; i++) {
            x[i] =
                crc32c_fold64(x[i], FOLD_256, _mm512_loadu_si512(p + 64 * i));
        }
        p += 256;
        len -= 256;
    }
    acc = crc32c_fold64(x[0], FOLD_192, x[3]);
    acc = crc32c_fold64(x[1], FOLD_128, acc);
    acc = crc32c_fold64(x[2], FOLD_64, acc);
    while (len >= 64) {
        acc = crc32c_fold64(acc, FOLD_64, _mm512_loadu_si512(p));
        p += 64;
        len -= 64;
    }
    v = crc32c_fold16(_mm512_extracti32x4_epi32(acc, 0), FOLD_48,
                      _mm512_extracti32x4_epi32(acc, 3));
    v = crc32c_fold16(_mm512_extracti32x4_epi32(acc, 1), FOLD_32, v);
    v = crc32c_fold16(_mm512_extracti32x4_epi32(acc, 2), FOLD_16, v);
    while (len >= 16) {
        v = crc32c_fold16(v, FOLD_16, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    c = _mm_crc32_u64(0, _mm_cvtsi128_si64(v));
    c = _mm_crc32_u64(c, _mm_extract_epi64(v, 1));
    *pp = p;
    *lenp = len;
    return c;
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t
crc32c_update_hw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = ~crc;

    crc32c_init_fold();
    if (len >= CRC32C_FOLD_MIN && crc32c_can_fold) {
        c = crc32c_fold_hw(c, &p, &len);
    }
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
    c = crc32c_rounds_hw(c, &p, &len);
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
    return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
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

/*
 * Scattered pieces out of cache: the hardware prefetchers stop at page
 * boundaries, so each piece would begin with a stall on memory. Ask for
 * the piece AHEAD places on (its first PREFETCH bytes) while summing one:
 * 31 MiB of pages out of cache summed in a third (scattered pages) to a
 * half (contiguous ones) less time here.
 */
#define CRC32C_AHEAD 2
#define CRC32C_PREFETCH 4096

static void crc32c_prefetch(const struct iovec *v)
{
    const uint8_t *p = v->iov_base;
    size_t len = MIN(v->iov_len, CRC32C_PREFETCH);

    for (size_t off = 0; off < len; off += 64) {
        __builtin_prefetch(p + off);
    }
}

uint32_t crc32c_update_iov(uint32_t crc, const struct iovec *iov, size_t n)
{
    for (size_t i = 1; i < MIN(n, CRC32C_AHEAD); i++) {
        crc32c_prefetch(&iov[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (i + CRC32C_AHEAD < n) {
            crc32c_prefetch(&iov[i + CRC32C_AHEAD]);
        }
        crc = crc32c_update(crc, iov[i].iov_base, iov[i].iov_len);
    }
    return crc;
}
