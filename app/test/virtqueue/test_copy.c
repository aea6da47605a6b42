/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for the frame copy of copy.h: vhu_copy_frame() (rte_memcpy,
 * libc memcpy or rte_memcpy again, by size) copies exactly n bytes for
 * every n a frame can have, from and to any alignment, and writes nothing
 * before or after them: a guest buffer's neighbour and an mbuf's tailroom
 * must never change, and no host byte beyond the frame may reach the guest.
 * Pure header code: no EAL needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "copy.h"

#define GUARD 80 /* bytes checked on each side of the destination */
#define MAX_N 1600

static uint8_t src_buf[MAX_N + 2 * GUARD];
static uint8_t dst_buf[MAX_N + 2 * GUARD];

/* Every length 0..300 and some large ones, 16 source x 16 destination
 * misalignments each. */
static void
test_every_length_and_alignment(void **state)
{
	static const uint32_t big[] = { 511, 512, 1024, 1514, 1518, MAX_N };
	(void)state;

	for (uint32_t i = 0; i < 301 + sizeof(big) / sizeof(big[0]); i++) {
		uint32_t n = i <= 300 ? i : big[i - 301];

		for (uint32_t so = 0; so < 16; so++) {
			for (uint32_t doff = 0; doff < 16; doff++) {
				uint8_t *src = src_buf + GUARD + so;
				uint8_t *dst = dst_buf + GUARD + doff;

				for (size_t k = 0; k < sizeof(src_buf); k++)
					src_buf[k] = (uint8_t)(k * 7 + n + so);
				memset(dst_buf, 0xa5, sizeof(dst_buf));
				vhu_copy_frame(dst, src, n);
				if (memcmp(dst, src, n) != 0)
					fail_msg("n %u src+%u dst+%u: bytes differ",
						 n, so, doff);
				for (uint8_t *p = dst_buf; p < dst; p++)
					if (*p != 0xa5)
						fail_msg("n %u src+%u dst+%u: byte %td before the copy written",
							 n, so, doff, dst - p);
				for (uint8_t *p = dst + n;
				     p < dst_buf + sizeof(dst_buf); p++)
					if (*p != 0xa5)
						fail_msg("n %u src+%u dst+%u: byte %td after the copy written",
							 n, so, doff, p - (dst + n));
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_length_and_alignment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
