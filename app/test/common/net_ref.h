/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Big-endian field access and the RFC 1071 reference sum, for the suites
 * that check packet bytes (test_offload.c, test_pkt_offload.c). Written
 * the plain way, byte by byte, not through the library's or DPDK's
 * checksum code, so that a test can tell those wrong.
 */
#ifndef VHU_TEST_NET_REF_H
#define VHU_TEST_NET_REF_H

#include <stddef.h>
#include <stdint.h>

static inline void
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/*
 * Ones' complement sum of big-endian 16-bit words, a lone last byte padded
 * with zero (RFC 1071), added to sum (any width) and folded to 16 bits.
 */
static inline uint32_t
ref_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	uint64_t s = sum;

	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint64_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

#endif /* VHU_TEST_NET_REF_H */
