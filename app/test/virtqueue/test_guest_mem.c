/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit suite for guest address translation (guest_mem.h): region edges,
 * lengths clipped at region ends, ranges near 2^64, the last-hit hint,
 * whole-range lookups for rings and indirect tables, and one memfd mapped
 * at two addresses (the device's view must be the region's mapping, not
 * the driver's). Pure header code: no EAL needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest_mem.h"

static uint8_t backing[3][8192];

/* Three regions: [0x1000,+4K) [0x3000,+8K) [0x10000,+4K), gaps between. */
static void
three_regions(struct vhu_guest_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->nregions = 3;
	m->r[0] = (struct vhu_mem_region){ .gpa = 0x1000, .size = 0x1000,
					   .qva = 0x7000000, .hva = backing[0] };
	m->r[1] = (struct vhu_mem_region){ .gpa = 0x3000, .size = 0x2000,
					   .qva = 0x5000000, .hva = backing[1] };
	m->r[2] = (struct vhu_mem_region){ .gpa = 0x10000, .size = 0x1000,
					   .qva = 0x6000000, .hva = backing[2] };
}

static void
test_edges(void **state)
{
	struct vhu_guest_mem m;
	uint32_t hint = 0;
	uint64_t len;

	(void)state;
	three_regions(&m);
	len = 1;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x1000, &len), backing[0]);
	assert_int_equal(len, 1);
	len = 1;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x1fff, &len),
			 backing[0] + 0xfff);
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0x2000, &len));  /* gap */
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0xfff, &len));   /* below */
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0, &len));
	len = 1;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x4fff, &len),
			 backing[1] + 0x1fff);
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0x5000, &len));
	len = 1;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x10000, &len), backing[2]);
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0x11000, &len));  /* above */
	/* empty table */
	m.nregions = 0;
	hint = 0;
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0x1000, &len));
}

static void
test_clipping(void **state)
{
	struct vhu_guest_mem m;
	uint32_t hint = 0;
	uint64_t len;

	(void)state;
	three_regions(&m);
	/* a range crossing from region 1 into the gap is clipped at its end */
	len = 0x100;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x4f80, &len),
			 backing[1] + 0x1f80);
	assert_int_equal(len, 0x80);
	/* fully inside: untouched */
	len = 0x100;
	assert_non_null(vhu_gpa_to_hva(&m, &hint, 0x3000, &len));
	assert_int_equal(len, 0x100);
	/* huge length clipped to the whole rest of the region */
	len = UINT64_MAX;
	assert_non_null(vhu_gpa_to_hva(&m, &hint, 0x3001, &len));
	assert_int_equal(len, 0x1fff);
	/* whole-range lookups fail instead of clipping */
	assert_null(vhu_gpa_to_hva_whole(&m, &hint, 0x4f80, 0x100));
	assert_ptr_equal(vhu_gpa_to_hva_whole(&m, &hint, 0x4f00, 0x100),
			 backing[1] + 0x1f00);
	assert_null(vhu_gpa_to_hva_whole(&m, &hint, 0x1fff, 2));
}

/* Regions that touch in gpa: a buffer crossing is handled in two steps. */
static void
test_adjacent_regions(void **state)
{
	struct vhu_guest_mem m;
	uint32_t hint = 0;
	uint64_t len, gpa = 0x1ff0, left = 0x20;
	uint8_t *p;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.nregions = 2;
	m.r[0] = (struct vhu_mem_region){ .gpa = 0x1000, .size = 0x1000,
					  .qva = 0x9000, .hva = backing[0] };
	m.r[1] = (struct vhu_mem_region){ .gpa = 0x2000, .size = 0x1000,
					  .qva = 0x8000, .hva = backing[1] };
	len = left;
	p = vhu_gpa_to_hva(&m, &hint, gpa, &len);
	assert_ptr_equal(p, backing[0] + 0xff0);
	assert_int_equal(len, 0x10);
	gpa += len;
	left -= len;
	len = left;
	p = vhu_gpa_to_hva(&m, &hint, gpa, &len);
	assert_ptr_equal(p, backing[1]);
	assert_int_equal(len, 0x10);
	assert_int_equal(hint, 1);
	/* rings must be inside one region even if the next one follows */
	assert_null(vhu_qva_to_hva(&m, 0x9ff0, 0x20));
	assert_ptr_equal(vhu_qva_to_hva(&m, 0x8000, 0x1000), backing[1]);
}

static void
test_near_2_64(void **state)
{
	struct vhu_guest_mem m;
	uint32_t hint = 0;
	uint64_t len;
	uint64_t top = UINT64_MAX - 0x1fff; /* region ends at 2^64 - 0x1000 */

	(void)state;
	memset(&m, 0, sizeof(m));
	m.nregions = 1;
	m.r[0] = (struct vhu_mem_region){ .gpa = top, .size = 0x1000,
					  .qva = UINT64_MAX - 0x1fff,
					  .hva = backing[0] };
	len = UINT64_MAX;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, top + 0xff0, &len),
			 backing[0] + 0xff0);
	assert_int_equal(len, 0x10);
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, UINT64_MAX, &len));
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, top + 0x1000, &len));
	assert_null(vhu_gpa_to_hva_whole(&m, &hint, top + 0xff0, UINT64_MAX));
	/* a ring whose length would wrap 2^64 */
	assert_null(vhu_qva_to_hva(&m, UINT64_MAX - 0x1000, 0x2000));
	assert_null(vhu_qva_to_hva(&m, top, UINT64_MAX));
	assert_ptr_equal(vhu_qva_to_hva(&m, top, 0x1000), backing[0]);
	assert_null(vhu_qva_to_hva(&m, top, 0x1001));
	/* and an address below the region with a wrap-around difference */
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 5, &len));
}

static void
test_hint(void **state)
{
	struct vhu_guest_mem m;
	uint32_t hint;
	uint64_t len;

	(void)state;
	three_regions(&m);
	/* out of range hints are ignored, then fixed */
	hint = 77;
	len = 1;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x10010, &len),
			 backing[2] + 0x10);
	assert_int_equal(hint, 2);
	/* a stale hint misses and the search finds the right region */
	len = 1;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x1010, &len),
			 backing[0] + 0x10);
	assert_int_equal(hint, 0);
	/* a miss leaves the hint alone */
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0x2000, &len));
	assert_int_equal(hint, 0);
	/* the hint never returns a region that does not hold gpa */
	hint = 1;
	len = 1;
	assert_ptr_equal(vhu_gpa_to_hva(&m, &hint, 0x10000, &len),
			 backing[2]);
	/* a shrunken table makes an old hint invalid, not dangerous */
	hint = 2;
	m.nregions = 2;
	len = 1;
	assert_null(vhu_gpa_to_hva(&m, &hint, 0x10000, &len));
}

/* One memfd at two addresses: translation returns the region's view. */
static void
test_two_mappings(void **state)
{
	struct vhu_guest_mem m;
	uint32_t hint = 0;
	uint64_t len = 16;
	int fd = memfd_create("gm-test", 0);
	uint8_t *a, *b, *p;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	a = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(a != MAP_FAILED && b != MAP_FAILED && a != b);
	memset(&m, 0, sizeof(m));
	m.nregions = 1;
	m.r[0] = (struct vhu_mem_region){ .gpa = 0x40000000, .size = 1 << 20,
					  .qva = 0x1234000, .hva = b };
	p = vhu_gpa_to_hva(&m, &hint, 0x40000000 + 0x5000, &len);
	assert_ptr_equal(p, b + 0x5000);
	/* a driver write through a is seen through the device's view */
	memcpy(a + 0x5000, "through-a", 10);
	assert_memory_equal(p, "through-a", 10);
	memcpy(p, "through-b", 10);
	assert_memory_equal(a + 0x5000, "through-b", 10);
	assert_ptr_equal(vhu_qva_to_hva(&m, 0x1234000 + 0x5000, 16), p);
	munmap(a, 1 << 20);
	munmap(b, 1 << 20);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_clipping),
		cmocka_unit_test(test_adjacent_regions),
		cmocka_unit_test(test_near_2_64),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_two_mappings),
	};

	return cmocka_run_group_tests_name("guest_mem", tests, NULL, NULL);
}
