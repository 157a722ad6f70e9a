// SPDX-License-Identifier: MIT
/*
 * Split virtqueue engine: specs/virtio-transport.md §3, test cases §7.K-§7.O
 * (146-208). Fixture Q: a bare struct vq (max 256) of size 16 with desc
 * 0x1000, avail 0x2000, used 0x3000, ready, over M1. The guest side of the
 * rings is driven through vdriver's queue 0 helpers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "support/vdriver.h"
#include "virtio/virtqueue.h"

#define MIB	 (1024ull * 1024ull)
#define Q_DESC	 0x1000ull
#define Q_AVAIL	 0x2000ull
#define Q_USED	 0x3000ull
#define UNMAPPED 0x200000ull /* the spec's unmapped test GPA in M1 */

static struct vdrv v;
static struct vq q;

static void q_layout(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	q.size = size;
	q.desc = desc;
	q.avail = avail;
	q.used = used;
	vdrv_queue_layout(&v, 0, size, desc, avail, used);
}

static void q_setup_kind(enum vdrv_mem_kind kind)
{
	vdrv_mem_init(&v, kind);
	cr_assert_eq(vq_init(&q, 256), 0);
	/* Programmed through the setters, as the transport does. */
	cr_assert_eq(vq_set_size(&q, 16), 0);
	cr_assert_eq(vq_set_addr_half(&q, VQ_DESC, false, (uint32_t)Q_DESC), 0);
	cr_assert_eq(vq_set_addr_half(&q, VQ_AVAIL, false, (uint32_t)Q_AVAIL), 0);
	cr_assert_eq(vq_set_addr_half(&q, VQ_USED, false, (uint32_t)Q_USED), 0);
	vq_set_ready(&q, true);
	vdrv_queue_layout(&v, 0, 16, Q_DESC, Q_AVAIL, Q_USED);
}

static void q_setup(void)
{
	q_setup_kind(VDRV_MEM_M1);
}

static void q_setup_ma(void)
{
	q_setup_kind(VDRV_MEM_MA);
}

static void q_teardown(void)
{
	vq_destroy(&q);
	vdrv_fini(&v);
}

/* Walk head to the end; copies yielded descriptors into out (up to max). */
static unsigned walk(uint16_t head, struct vq_desc *out, unsigned max)
{
	struct vq_chain c;
	struct vq_desc d;
	unsigned n = 0;

	vq_chain_start(&c, &q, v.gm, head);
	while (vq_chain_next(&c, &d)) {
		if (n < max)
			out[n] = d;
		n++;
	}
	/* Once over, always over. */
	cr_assert_not(vq_chain_next(&c, &d));
	return n;
}

static void publish_heads(unsigned n, uint16_t first)
{
	for (unsigned i = 0; i < n; i++)
		vdrv_publish(&v, 0, (uint16_t)(first + i));
}

TestSuite(vq_pop, .init = q_setup, .fini = q_teardown);
TestSuite(vq_walk, .init = q_setup, .fini = q_teardown);
TestSuite(vq_used, .init = q_setup, .fini = q_teardown);
TestSuite(vq_notify, .init = q_setup, .fini = q_teardown);
TestSuite(vq_poison, .init = q_setup, .fini = q_teardown);

/* ---- §7.K popping heads ------------------------------------------------ */

/* spec §7 #146 */
Test(vq_pop, not_ready_is_enodev)
{
	uint16_t h;

	vq_set_ready(&q, false);
	publish_heads(1, 0);
	cr_assert_eq(vq_pop(&q, v.gm, &h), -ENODEV);
	cr_assert_eq(vq_next_avail(&q), 0);
	cr_assert_not(vq_is_ready(&q));
}

/* spec §7 #147 */
Test(vq_pop, avail_zero_is_enodev)
{
	uint16_t h;

	q.avail = 0;
	cr_assert_not(vq_is_ready(&q));
	cr_assert_eq(vq_pop(&q, v.gm, &h), -ENODEV);
}

/* spec §7 #148 */
Test(vq_pop, desc_and_used_zero_are_legal)
{
	uint16_t h = 0xFFFF;
	struct vq_desc d[2];

	q_layout(16, 0, Q_AVAIL, 0);
	cr_assert(vq_is_ready(&q));
	vdrv_set_desc(&v, 0, 2, 0x40000, 64, 0, 0);
	publish_heads(1, 2);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(h, 2);
	cr_assert_eq(walk(h, d, 2), 1);
	cr_assert_eq(d[0].addr, 0x40000);
	cr_assert_eq(vq_add_used(&q, v.gm, h, 64), 0);
	cr_assert_eq(vdrv_used_idx(&v, 0), 1);
}

/* spec §7 #149 */
Test(vq_pop, equal_index_is_empty)
{
	uint16_t h;

	cr_assert_eq(vq_pop(&q, v.gm, &h), 0);
	vq_set_next_avail(&q, 7);
	vdrv_set_avail_idx(&v, 0, 7);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 0);
	cr_assert_eq(vq_next_avail(&q), 7);
}

/* spec §7 #150 */
Test(vq_pop, one_head)
{
	uint16_t h = 0;

	vdrv_set_avail_entry(&v, 0, 0, 3);
	vdrv_set_avail_idx(&v, 0, 1);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(h, 3);
	cr_assert_eq(vq_next_avail(&q), 1);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 0);
	cr_assert_eq(vq_next_avail(&q), 1);
}

/* spec §7 #151 */
Test(vq_pop, full_ring_distance_equal_to_size)
{
	uint16_t h;

	for (uint16_t i = 0; i < 16; i++)
		vdrv_set_avail_entry(&v, 0, i, (uint16_t)(15 - i));
	vdrv_set_avail_idx(&v, 0, 16);
	for (uint16_t i = 0; i < 16; i++) {
		cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
		cr_assert_eq(h, 15 - i);
	}
	cr_assert_eq(vq_pop(&q, v.gm, &h), 0);
}

/* spec §7 #152 */
Test(vq_pop, index_too_far_is_erange_without_latch)
{
	uint16_t h;

	vdrv_set_avail_idx(&v, 0, 17);
	cr_assert_eq(vq_pop(&q, v.gm, &h), -ERANGE);
	cr_assert_eq(vq_next_avail(&q), 0);
	cr_assert_eq(vq_pop(&q, v.gm, &h), -ERANGE);
	/* Back in range: the engine has no memory of the error. */
	vdrv_set_avail_idx(&v, 0, 1);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
}

/* spec §7 #153 */
Test(vq_pop, size_256_index_1000_is_erange)
{
	uint16_t h;

	q_layout(256, Q_DESC, Q_AVAIL, Q_USED);
	cr_assert_eq(vq_set_size(&q, 256), 0);
	vdrv_set_avail_idx(&v, 0, 1000);
	cr_assert_eq(vq_pop(&q, v.gm, &h), -ERANGE);
	vdrv_set_avail_idx(&v, 0, 256);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
}

/* spec §7 #154 */
Test(vq_pop, index_wraps_at_2_16)
{
	uint16_t h;
	const uint16_t expect[] = {4, 5, 6, 7};

	vq_set_next_avail(&q, 0xFFFE);
	vdrv_set_avail_entry(&v, 0, 14, 4);
	vdrv_set_avail_entry(&v, 0, 15, 5);
	vdrv_set_avail_entry(&v, 0, 0, 6);
	vdrv_set_avail_entry(&v, 0, 1, 7);
	vdrv_set_avail_idx(&v, 0, 2);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
		cr_assert_eq(h, expect[i]);
	}
	cr_assert_eq(vq_next_avail(&q), 2);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 0);
}

/* spec §7 #155 */
Test(vq_pop, index_moved_backwards_is_erange)
{
	uint16_t h;

	publish_heads(5, 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	vdrv_set_avail_idx(&v, 0, 2);
	cr_assert_eq(vq_pop(&q, v.gm, &h), -ERANGE);
	cr_assert_eq(vq_next_avail(&q), 3);
}

/* spec §7 #156 */
Test(vq_pop, avail_unmapped_is_efault)
{
	uint16_t h;

	q.avail = UNMAPPED;
	cr_assert_eq(vq_pop(&q, v.gm, &h), -EFAULT);
}

/* spec §7 #157 */
Test(vq_pop, avail_near_2_64_is_eoverflow)
{
	uint16_t h;

	cr_assert_eq(vq_set_addr_half(&q, VQ_AVAIL, true, 0xFFFFFFFF), 0);
	cr_assert_eq(vq_set_addr_half(&q, VQ_AVAIL, false, 0xFFFFFFFE), 0);
	cr_assert_eq(q.avail, 0xFFFFFFFFFFFFFFFEull);
	cr_assert_eq(vq_pop(&q, v.gm, &h), -EOVERFLOW);
}

/* spec §7 #158 */
Test(vq_pop, unreadable_entry_is_empty)
{
	uint16_t h = 0x1234;
	uint16_t one = 1;

	q.avail = MIB - 4;
	vdrv_wmem(&v, MIB - 2, &one, 2); /* avail.idx 1, ring[0] beyond RAM */
	cr_assert_eq(vq_pop(&q, v.gm, &h), 0);
	cr_assert_eq(vq_next_avail(&q), 0);
	cr_assert_eq(h, 0x1234);
}

/* spec §7 #159 */
Test(vq_pop, head_not_validated)
{
	uint16_t h;
	struct vq_desc d;

	vdrv_publish(&v, 0, 200);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(h, 200);
	cr_assert_eq(vq_next_avail(&q), 1);
	cr_assert_eq(walk(h, &d, 1), 0);
	cr_assert_eq(vq_add_used(&q, v.gm, h, 0), -EINVAL);
}

/* spec §7 #160 */
Test(vq_pop, chain_published_between_pops)
{
	uint16_t h;

	vdrv_publish(&v, 0, 4);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(h, 4);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 0);
	vdrv_publish(&v, 0, 9);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(h, 9);
}

/* spec §7 #161 */
Test(vq_pop, rewind_returns_same_head)
{
	uint16_t h1, h2;

	publish_heads(2, 5);
	cr_assert_eq(vq_pop(&q, v.gm, &h1), 1);
	vq_rewind(&q);
	cr_assert_eq(vq_next_avail(&q), 0);
	cr_assert_eq(vq_pop(&q, v.gm, &h2), 1);
	cr_assert_eq(h1, h2);
	vq_set_next_avail(&q, 0);
	vq_rewind(&q);
	cr_assert_eq(vq_next_avail(&q), 0xFFFF);
}

/* spec §7 #162 */
Test(vq_pop, size_one_ring)
{
	uint16_t h = 9;

	q_layout(1, Q_DESC, Q_AVAIL, Q_USED);
	cr_assert_eq(vq_set_size(&q, 1), 0);
	vdrv_set_avail_entry(&v, 0, 0, 0);
	vdrv_set_avail_idx(&v, 0, 1);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(h, 0);
	vdrv_set_avail_idx(&v, 0, 3); /* two ahead of next_avail 1 */
	cr_assert_eq(vq_pop(&q, v.gm, &h), -ERANGE);
	vdrv_set_avail_idx(&v, 0, 2);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
}

/* spec §7 #163 */
Test(vq_pop, avail_no_interrupt_flag_ignored)
{
	uint16_t h;
	uint16_t flags = VRING_AVAIL_F_NO_INTERRUPT;
	bool notify = false;

	vdrv_wmem(&v, Q_AVAIL, &flags, 2);
	vdrv_publish(&v, 0, 1);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(vq_add_used(&q, v.gm, h, 0), 0);
	cr_assert_eq(vq_needs_notify(&q, v.gm, &notify), 0);
	cr_assert(notify);
}

/* Engine-level setter rules (§3.3) that the transport tests reach through MMIO. */
Test(vq_pop, setters_validate_size_and_alignment)
{
	struct vq bad;

	cr_assert_eq(vq_init(&bad, 100), -EINVAL);
	cr_assert_eq(vq_set_size(&q, 0), -EINVAL);
	cr_assert_eq(vq_set_size(&q, 12), -EINVAL);
	cr_assert_eq(vq_set_size(&q, 512), -EINVAL);
	cr_assert_eq(q.size, 16);
	cr_assert_eq(vq_set_addr_half(&q, VQ_DESC, false, 0x1008), -EINVAL);
	cr_assert_eq(q.desc, Q_DESC);
	cr_assert_eq(vq_set_addr_half(&q, VQ_USED, false, 0x3002), -EINVAL);
	cr_assert_eq(vq_set_addr_half(&q, VQ_AVAIL, false, 0x2001), -EINVAL);
	cr_assert_eq(q.avail, Q_AVAIL);
	cr_assert_eq(vq_set_addr_half(&q, VQ_DESC, true, 1), 0);
	cr_assert_eq(q.desc, 0x100001000ull);
}

/* ---- §7.L walking chains ------------------------------------------------ */

/* spec §7 #164 */
Test(vq_walk, single_descriptor_copied_exactly)
{
	struct vq_desc d[2];

	vdrv_set_desc(&v, 0, 0, 0x123456789ull, 0x4321, VRING_DESC_F_WRITE, 7);
	cr_assert_eq(walk(0, d, 2), 1);
	cr_assert_eq(d[0].addr, 0x123456789ull);
	cr_assert_eq(d[0].len, 0x4321);
	cr_assert_eq(d[0].flags, VRING_DESC_F_WRITE);
	cr_assert_eq(d[0].next, 7);
}

/* spec §7 #165 */
Test(vq_walk, three_linked_in_order)
{
	struct vq_desc d[4];

	vdrv_set_desc(&v, 0, 0, 0x40000, 10, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc(&v, 0, 1, 0x41000, 20, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	vdrv_set_desc(&v, 0, 2, 0x42000, 30, VRING_DESC_F_WRITE, 0);
	cr_assert_eq(walk(0, d, 4), 3);
	cr_assert_eq(d[0].addr, 0x40000);
	cr_assert_eq(d[1].addr, 0x41000);
	cr_assert_eq(d[2].addr, 0x42000);
	cr_assert_not(d[0].flags & VRING_DESC_F_WRITE);
	cr_assert(d[1].flags & VRING_DESC_F_WRITE);
	cr_assert(d[2].flags & VRING_DESC_F_WRITE);
}

/* spec §7 #166 */
Test(vq_walk, self_loop_bounded_by_size)
{
	struct vq_desc d;

	q_layout(4, Q_DESC, Q_AVAIL, Q_USED);
	vdrv_set_desc(&v, 0, 0, 0x40000, 1, VRING_DESC_F_NEXT, 0);
	cr_assert_eq(walk(0, &d, 1), 4);
}

/* spec §7 #167 */
Test(vq_walk, two_cycle_bounded_by_size)
{
	struct vq_desc d[8];

	q_layout(8, Q_DESC, Q_AVAIL, Q_USED);
	vdrv_set_desc(&v, 0, 0, 0x40000, 1, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc(&v, 0, 1, 0x41000, 1, VRING_DESC_F_NEXT, 0);
	cr_assert_eq(walk(0, d, 8), 8);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(d[i].addr, i % 2 ? 0x41000ull : 0x40000ull);
}

/* spec §7 #168 */
Test(vq_walk, next_out_of_range_ends_after_it)
{
	struct vq_desc d;

	q_layout(4, Q_DESC, Q_AVAIL, Q_USED);
	vdrv_set_desc(&v, 0, 0, 0x40000, 8, VRING_DESC_F_NEXT, 9);
	cr_assert_eq(walk(0, &d, 1), 1);
	cr_assert_eq(d.next, 9);
}

/* spec §7 #169 */
Test(vq_walk, head_out_of_range_yields_nothing)
{
	struct vq_desc d;

	cr_assert_eq(walk(16, &d, 1), 0);
	cr_assert_eq(walk(0xFFFF, &d, 1), 0);
}

/* spec §7 #170 */
Test(vq_walk, unmapped_table_yields_nothing)
{
	struct vq_desc d;

	q.desc = UNMAPPED;
	cr_assert_eq(walk(0, &d, 1), 0);
}

/* spec §7 #171 */
Test(vq_walk, table_near_2_64_yields_nothing)
{
	struct vq_desc d;

	vdrv_set_desc(&v, 0, 0, 0x40000, 8, 0, 0); /* would be found if the address wrapped */
	q.desc = 0xFFFFFFFFFFFFFFF0ull;
	cr_assert_eq(walk(1, &d, 1), 0);
	cr_assert_eq(walk(0, &d, 1), 0);
}

/* spec §7 #172 */
Test(vq_walk, u32_total_overflow_stops)
{
	struct vq_desc d[2];
	const uint32_t lens[3][2] = {
		{0xFFFFFFFFu, 1},
		{0x80000000u, 0x80000000u},
		{0x7FFFFFFFu, 0x80000000u},
	};
	const unsigned expect[3] = {1, 1, 2};

	for (unsigned i = 0; i < 3; i++) {
		vdrv_set_desc(&v, 0, 0, 0x40000, lens[i][0], VRING_DESC_F_NEXT, 1);
		vdrv_set_desc(&v, 0, 1, 0x50000, lens[i][1], 0, 0);
		cr_assert_eq(walk(0, d, 2), expect[i], "case %u", i);
		cr_assert_eq(d[0].len, lens[i][0]);
	}
}

/* spec §7 #173 */
Test(vq_walk, zero_length_descriptors_yielded)
{
	struct vq_desc d[16];

	for (uint16_t i = 0; i < 13; i++)
		vdrv_set_desc(&v, 0, i, 0x40000, 0, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	vdrv_set_desc(&v, 0, 13, 0x40000, 256, 0, 0);
	cr_assert_eq(walk(0, d, 16), 14);
	cr_assert_eq(d[0].len, 0);
	cr_assert_eq(d[13].len, 256);
}

/* spec §7 #174 */
Test(vq_walk, descriptor_copied_once)
{
	struct vq_chain c;
	struct vq_desc d0, d1;

	vdrv_set_desc(&v, 0, 0, 0x40000, 100, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc(&v, 0, 1, 0x41000, 200, 0, 0);
	vdrv_set_desc(&v, 0, 5, 0x45000, 500, 0, 0);
	vq_chain_start(&c, &q, v.gm, 0);
	cr_assert(vq_chain_next(&c, &d0));
	/* The guest rewrites descriptor 0 after it was fetched. */
	vdrv_set_desc(&v, 0, 0, 0x99000, 999, VRING_DESC_F_NEXT, 5);
	cr_assert_eq(d0.len, 100);
	cr_assert_eq(d0.next, 1);
	cr_assert(vq_chain_next(&c, &d1));
	cr_assert_eq(d1.addr, 0x41000);
	cr_assert_not(vq_chain_next(&c, &d1));
}

/* spec §7 #175 */
Test(vq_walk, indirect_off_ends_walk)
{
	struct vq_desc d[4];

	cr_assert_not(q.indirect);
	vdrv_set_desc(&v, 0, 0, 0x40000, 10, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc(&v, 0, 1, 0x8000, 48, VRING_DESC_F_INDIRECT, 0);
	vdrv_set_desc_at(&v, 0x8000, 0, 0x50000, 1, 0, 0);
	cr_assert_eq(walk(0, d, 4), 1);
	cr_assert_eq(d[0].addr, 0x40000);
	cr_assert_eq(walk(1, d, 4), 0);
}

/* spec §7 #176 */
Test(vq_walk, indirect_table_followed_when_on)
{
	struct vq_desc d[8];

	vq_set_indirect(&q, true);
	vdrv_set_desc(&v, 0, 0, 0x8000, 48, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	vdrv_set_desc(&v, 0, 1, 0x60000, 5, 0, 0); /* must not be reached */
	vdrv_set_desc_at(&v, 0x8000, 0, 0x50000, 1, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc_at(&v, 0x8000, 1, 0x51000, 2, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	vdrv_set_desc_at(&v, 0x8000, 2, 0x52000, 3, VRING_DESC_F_WRITE, 0);
	cr_assert_eq(walk(0, d, 8), 3);
	cr_assert_eq(d[0].addr, 0x50000);
	cr_assert_eq(d[1].addr, 0x51000);
	cr_assert_eq(d[2].addr, 0x52000);
	cr_assert_eq(d[2].len, 3);
}

/* spec §7 #177 */
Test(vq_walk, indirect_bad_or_empty_length)
{
	struct vq_desc d;

	vq_set_indirect(&q, true);
	vdrv_set_desc_at(&v, 0x8000, 0, 0x50000, 1, 0, 0);
	vdrv_set_desc(&v, 0, 0, 0x8000, 40, VRING_DESC_F_INDIRECT, 0);
	cr_assert_eq(walk(0, &d, 1), 0);
	vdrv_set_desc(&v, 0, 0, 0x8000, 0, VRING_DESC_F_INDIRECT, 0);
	cr_assert_eq(walk(0, &d, 1), 0);
}

/* spec §7 #178 */
Test(vq_walk, indirect_length_limit)
{
	struct vq_desc d;

	vq_set_indirect(&q, true);
	vdrv_set_desc_at(&v, 0x8000, 0, 0x50000, 0, VRING_DESC_F_NEXT, 0);
	vdrv_set_desc(&v, 0, 0, 0x8000, 16u * 65536u, VRING_DESC_F_INDIRECT, 0);
	cr_assert_eq(walk(0, &d, 1), 0);
	vdrv_set_desc(&v, 0, 0, 0x8000, 16u * 65535u, VRING_DESC_F_INDIRECT, 0);
	cr_assert_eq(walk(0, &d, 1), 65535);
}

/* spec §7 #179 */
Test(vq_walk, indirect_no_nesting)
{
	struct vq_desc d[4];

	vq_set_indirect(&q, true);
	vdrv_set_desc(&v, 0, 0, 0x8000, 48, VRING_DESC_F_INDIRECT, 0);
	vdrv_set_desc_at(&v, 0x8000, 0, 0x50000, 1, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc_at(&v, 0x8000, 1, 0x9000, 32, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 2);
	vdrv_set_desc_at(&v, 0x8000, 2, 0x52000, 1, 0, 0);
	vdrv_set_desc_at(&v, 0x9000, 0, 0x53000, 1, 0, 0);
	cr_assert_eq(walk(0, d, 4), 1);
	cr_assert_eq(d[0].addr, 0x50000);
}

/* spec §7 #180 */
Test(vq_walk, indirect_table_pointing_at_itself)
{
	struct vq_desc d;

	vq_set_indirect(&q, true);
	vdrv_set_desc(&v, 0, 0, Q_DESC, 16 * 16, VRING_DESC_F_INDIRECT, 0);
	cr_assert_eq(walk(0, &d, 1), 0);
}

/* spec §7 #181 */
Test(vq_walk, indirect_table_unmapped_or_near_2_64)
{
	struct vq_desc d;

	vq_set_indirect(&q, true);
	vdrv_set_desc(&v, 0, 0, UNMAPPED, 32, VRING_DESC_F_INDIRECT, 0);
	cr_assert_eq(walk(0, &d, 1), 0);
	vdrv_set_desc(&v, 0, 0, 0xFFFFFFFFFFFFFFF0ull, 32, VRING_DESC_F_INDIRECT, 0);
	cr_assert_eq(walk(0, &d, 1), 0);
}

/* spec §7 #182 */
Test(vq_walk, indirect_table_unaligned_followed)
{
	struct vq_desc d;

	vq_set_indirect(&q, true);
	vdrv_set_desc(&v, 0, 0, 0x8008, 16, VRING_DESC_F_INDIRECT, 0);
	vdrv_set_desc_at(&v, 0x8008, 0, 0x50000, 77, 0, 0);
	cr_assert_eq(walk(0, &d, 1), 1);
	cr_assert_eq(d.len, 77);
}

/* spec §7 #183 */
Test(vq_walk, indirect_bound_is_table_length)
{
	struct vq_desc d[4];

	vq_set_indirect(&q, true);
	vdrv_set_desc(&v, 0, 0, 0x8000, 64, VRING_DESC_F_INDIRECT, 0);
	vdrv_set_desc_at(&v, 0x8000, 0, 0x50000, 1, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc_at(&v, 0x8000, 1, 0x51000, 1, VRING_DESC_F_NEXT, 7);
	vdrv_set_desc_at(&v, 0x8000, 7, 0x57000, 1, 0, 0); /* inside the main table's size */
	cr_assert_eq(walk(0, d, 4), 2);
	cr_assert_eq(d[1].addr, 0x51000);
}

/* spec §7 #184 */
Test(vq_walk, indirect_running_total)
{
	struct vq_desc d[4];

	vq_set_indirect(&q, true);
	vdrv_set_desc(&v, 0, 0, 0x40000, 0xFFFFFFF0u, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc(&v, 0, 1, 0x8000, 16, VRING_DESC_F_INDIRECT, 0);
	vdrv_set_desc_at(&v, 0x8000, 0, 0x50000, 0x20, 0, 0);
	cr_assert_eq(walk(0, d, 4), 1);
	cr_assert_eq(d[0].len, 0xFFFFFFF0u);
}

/* spec §7 #185 */
Test(vq_walk, walk_leaves_queue_state)
{
	struct vq_desc d[4];
	uint16_t h;

	vdrv_set_desc(&v, 0, 0, 0x40000, 10, VRING_DESC_F_NEXT, 1);
	vdrv_set_desc(&v, 0, 1, 0x41000, 10, 0, 0);
	publish_heads(2, 0);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(vq_add_used(&q, v.gm, 3, 0), 0);
	cr_assert_eq(walk(h, d, 4), 2);
	cr_assert_eq(vq_next_avail(&q), 1);
	cr_assert_eq(q.next_used, 1);
	cr_assert_eq(q.num_added, 1);
}

/* ---- §7.M publishing used elements ------------------------------------ */

/* spec §7 #186 */
Test(vq_used, element_then_index)
{
	uint32_t id, len;

	cr_assert_eq(vq_add_used(&q, v.gm, 3, 42), 0);
	vdrv_used_elem(&v, 0, 0, &id, &len);
	cr_assert_eq(id, 3);
	cr_assert_eq(len, 42);
	cr_assert_eq(vdrv_used_idx(&v, 0), 1);
	cr_assert_eq(q.next_used, 1);
	cr_assert_eq(q.num_added, 1);
	cr_assert(vdrv_pop_used(&v, 0, &id, &len));
	cr_assert_not(vdrv_pop_used(&v, 0, &id, &len));
}

/* spec §7 #187 */
Test(vq_used, index_wraps)
{
	uint32_t id, len;

	q.next_used = 0xFFFF;
	cr_assert_eq(vq_add_used(&q, v.gm, 5, 6), 0);
	vdrv_used_elem(&v, 0, 15, &id, &len);
	cr_assert_eq(id, 5);
	cr_assert_eq(len, 6);
	cr_assert_eq(vdrv_used_idx(&v, 0), 0);
	cr_assert_eq(q.next_used, 0);
}

/* spec §7 #188 */
Test(vq_used, head_out_of_range_is_einval)
{
	uint8_t before[4 + 8 * 16 + 2], after[sizeof(before)];

	vdrv_rmem(&v, Q_USED, before, sizeof(before));
	cr_assert_eq(vq_add_used(&q, v.gm, 16, 1), -EINVAL);
	cr_assert_eq(vq_add_used(&q, v.gm, 200, 1), -EINVAL);
	vdrv_rmem(&v, Q_USED, after, sizeof(after));
	cr_assert_eq(memcmp(before, after, sizeof(before)), 0);
	cr_assert_eq(q.next_used, 0);
	cr_assert_eq(q.num_added, 0);
}

/* spec §7 #189 */
Test(vq_used, unmapped_ring_is_efault)
{
	q.used = UNMAPPED;
	cr_assert_eq(vq_add_used(&q, v.gm, 1, 1), -EFAULT);
	cr_assert_eq(q.next_used, 0);
	cr_assert_eq(q.num_added, 0);
}

/* spec §7 #190 */
Test(vq_used, ring_near_2_64_writes_nothing)
{
	uint8_t *snap = malloc(MIB);

	memcpy(snap, v.host[0], MIB);
	q.used = 0xFFFFFFFFFFFFFFF8ull;
	cr_assert_lt(vq_add_used(&q, v.gm, 1, 1), 0);
	cr_assert_eq(memcmp(snap, v.host[0], MIB), 0);
	cr_assert_eq(q.next_used, 0);
	free(snap);
}

/* spec §7 #191: a hole exactly under used.idx. */
Test(vq_used, index_store_fails_after_element)
{
	uint8_t *ram = aligned_alloc(4096, 0x10000);
	struct gm *gm = gm_new();
	struct vq u;
	uint32_t e[2];

	memset(ram, 0, 0x10000);
	cr_assert_eq(gm_add_region(gm, 0, Q_USED + 2, ram), 0);
	cr_assert_eq(gm_add_region(gm, Q_USED + 4, 0x10000 - Q_USED - 4, ram + Q_USED + 4), 0);
	cr_assert_eq(vq_init(&u, 256), 0);
	u.size = 16;
	u.used = Q_USED;
	cr_assert_eq(vq_add_used(&u, gm, 3, 42), -EFAULT);
	memcpy(e, ram + Q_USED + 4, 8);
	cr_assert_eq(le32toh(e[0]), 3);
	cr_assert_eq(le32toh(e[1]), 42);
	cr_assert_eq(u.next_used, 0);
	cr_assert_eq(u.num_added, 0);
	/* The slot is reused by the next completion, which fails the same way. */
	cr_assert_eq(vq_add_used(&u, gm, 4, 43), -EFAULT);
	memcpy(e, ram + Q_USED + 4, 8);
	cr_assert_eq(le32toh(e[0]), 4);
	cr_assert_eq(le32toh(e[1]), 43);
	cr_assert_eq(u.next_used, 0);
	vq_destroy(&u);
	gm_put(gm);
	free(ram);
}

/* spec §7 #192 */
Test(vq_seam, used_element_across_seam, .init = q_setup_ma, .fini = q_teardown)
{
	uint32_t id, len;

	q_layout(16, Q_DESC, Q_AVAIL, MIB - 8); /* slot 0 spans MIB-4 .. MIB+4 */
	cr_assert_eq(vq_add_used(&q, v.gm, 7, 0x1234), 0);
	cr_assert_eq(vdrv_used_idx(&v, 0), 1);
	vdrv_used_elem(&v, 0, 0, &id, &len);
	cr_assert_eq(id, 7);
	cr_assert_eq(len, 0x1234);
}

/* spec §7 #193: the release store of used.idx orders the element before it. */
struct used_watch {
	_Atomic bool done, ready;
	_Atomic unsigned checked; /* observations neither lapped nor skipped */
	unsigned bad, seen, lapped;
};

#define USED_WATCH_ITERS       100000u
#define USED_WATCH_MIN_CHECKED 1000u

static void *used_watcher(void *arg)
{
	struct used_watch *w = arg;
	uint16_t last = 0;

	atomic_store(&w->ready, true);
	while (!atomic_load(&w->done)) {
		uint16_t idx = vdrv_used_idx(&v, 0);
		uint32_t id, len;

		if (idx == last)
			continue;
		last = idx;
		w->seen++;
		vdrv_used_elem(&v, 0, (uint16_t)(idx - 1), &id, &len);
		/*
		 * Nothing here hands buffers back, so the device laps this reader:
		 * once it is about to publish idx + 15 it may be rewriting the
		 * very slot just read (completion idx - 1 + 16), and the copy can
		 * be torn (ASan's memcpy goes byte by byte). A real driver never
		 * reads a slot the device may write. Re-read the index after the
		 * element, as a seqlock reader would, and drop such observations.
		 */
		atomic_thread_fence(memory_order_acquire);
		if ((uint16_t)(vdrv_used_idx(&v, 0) - idx) >= 15) {
			w->lapped++;
			continue;
		}
		/*
		 * Completion i carries head i % 16 and len i. The element behind
		 * idx - 1 must be that completion or a newer one in the same slot,
		 * never an older one.
		 */
		uint16_t ahead = (uint16_t)((uint16_t)len - (uint16_t)(idx - 1));
		if (id != (uint16_t)(idx - 1) % 16u || ahead % 16u || ahead >= 0x8000)
			w->bad++;
		atomic_fetch_add(&w->checked, 1);
	}
	return NULL;
}

Test(vq_used, watcher_never_sees_index_before_element)
{
	struct used_watch w = {.done = false};
	pthread_t th;

	uint32_t i = 0;

	cr_assert_eq(pthread_create(&th, NULL, used_watcher, &w), 0);
	while (!atomic_load(&w.ready))
		sched_yield();
	/*
	 * At least USED_WATCH_ITERS completions, and on until the watcher has
	 * checked enough of them: on a busy machine it may get no CPU during
	 * the first burst, and a check that saw nothing proves nothing. The
	 * yields let it in when both threads share one CPU.
	 */
	while (i < USED_WATCH_ITERS ||
	       (atomic_load(&w.checked) < USED_WATCH_MIN_CHECKED && i < 100 * USED_WATCH_ITERS)) {
		cr_assert_eq(vq_add_used(&q, v.gm, (uint16_t)(i % 16), i), 0);
		if (++i % 1024 == 0)
			sched_yield();
	}
	atomic_store(&w.done, true);
	pthread_join(th, NULL);
	cr_assert_eq(w.bad, 0, "%u stale elements out of %u observations (%u lapped)", w.bad,
		     w.seen, w.lapped);
	cr_assert_geq(atomic_load(&w.checked), USED_WATCH_MIN_CHECKED,
		      "only %u of %u observations checked (%u lapped) in %u completions",
		      atomic_load(&w.checked), w.seen, w.lapped, i);
	cr_assert_eq(vdrv_used_idx(&v, 0), (uint16_t)i);
}

/* ---- §7.N notification suppression ------------------------------------ */

/* spec §7 #194 */
Test(vq_notify, flags_mode)
{
	bool more = true;

	cr_assert_eq(vq_disable_notify(&q, v.gm), 0);
	cr_assert_eq(vdrv_used_flags(&v, 0), VRING_USED_F_NO_NOTIFY);
	cr_assert_eq(vq_enable_notify(&q, v.gm, &more), 0);
	cr_assert_eq(vdrv_used_flags(&v, 0), 0);
	cr_assert_not(more);
	vdrv_publish(&v, 0, 1);
	cr_assert_eq(vq_enable_notify(&q, v.gm, &more), 0);
	cr_assert(more);
}

/* spec §7 #195 */
Test(vq_notify, event_idx_mode)
{
	bool more = true;
	uint8_t before[4 + 8 * 16 + 2], after[sizeof(before)];

	vq_set_event_idx(&q, true);
	vdrv_rmem(&v, Q_USED, before, sizeof(before));
	cr_assert_eq(vq_disable_notify(&q, v.gm), 0);
	vdrv_rmem(&v, Q_USED, after, sizeof(after));
	cr_assert_eq(memcmp(before, after, sizeof(before)), 0);

	vq_set_next_avail(&q, 5);
	vdrv_set_avail_idx(&v, 0, 5);
	cr_assert_eq(vq_enable_notify(&q, v.gm, &more), 0);
	cr_assert_eq(vdrv_avail_event(&v, 0), 5);
	cr_assert_eq(*(uint16_t *)vdrv_ptr(&v, Q_USED + 132), htole16(5));
	cr_assert_eq(vdrv_used_flags(&v, 0), 0);
	cr_assert_not(more);
	vdrv_set_avail_idx(&v, 0, 7);
	cr_assert_eq(vq_enable_notify(&q, v.gm, &more), 0);
	cr_assert(more);
}

/* spec §7 #196 */
Test(vq_notify, enable_store_failure)
{
	bool more;

	q.used = UNMAPPED;
	cr_assert_lt(vq_enable_notify(&q, v.gm, &more), 0);
	cr_assert_lt(vq_disable_notify(&q, v.gm), 0);
	vq_set_event_idx(&q, true);
	q.used = MIB - 128; /* the ring is mapped, avail_event (used + 132) is not */
	cr_assert_lt(vq_enable_notify(&q, v.gm, &more), 0);
}

/* spec §7 #197 */
Test(vq_notify, enable_unreadable_avail_idx)
{
	bool more;

	q.avail = UNMAPPED;
	cr_assert_lt(vq_enable_notify(&q, v.gm, &more), 0);
	vq_set_event_idx(&q, true);
	cr_assert_lt(vq_enable_notify(&q, v.gm, &more), 0);
}

/* spec §7 #198 */
Test(vq_notify, without_event_idx_always_true)
{
	const uint16_t evs[] = {0, 1, 0x7FFF, 0xFFFF};
	bool notify;

	for (unsigned i = 0; i < 4; i++) {
		vdrv_set_used_event(&v, 0, evs[i]);
		notify = false;
		cr_assert_eq(vq_needs_notify(&q, v.gm, &notify), 0);
		cr_assert(notify);
		cr_assert_eq(vq_add_used(&q, v.gm, 0, 0), 0);
		notify = false;
		cr_assert_eq(vq_needs_notify(&q, v.gm, &notify), 0);
		cr_assert(notify);
	}
}

static bool needs(void)
{
	bool notify = false;

	cr_assert_eq(vq_needs_notify(&q, v.gm, &notify), 0);
	return notify;
}

static void add_used_n(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(vq_add_used(&q, v.gm, (uint16_t)i, 0), 0);
}

/* spec §7 #199 */
Test(vq_notify, used_event_zero_one_completion)
{
	vq_set_event_idx(&q, true);
	vdrv_set_used_event(&v, 0, 0);
	add_used_n(1);
	cr_assert(needs());
	cr_assert_not(needs());
}

/* spec §7 #200 */
Test(vq_notify, used_event_ffff_one_completion)
{
	vq_set_event_idx(&q, true);
	vdrv_set_used_event(&v, 0, 0xFFFF);
	add_used_n(1);
	cr_assert_not(needs());
}

/* spec §7 #201 */
Test(vq_notify, used_event_window)
{
	vq_set_event_idx(&q, true);
	vdrv_set_used_event(&v, 0, 10);
	add_used_n(3);
	cr_assert_not(needs());

	vq_reset(&q);
	q_layout(16, Q_DESC, Q_AVAIL, Q_USED);
	q.ready = true;
	vq_set_event_idx(&q, true);
	vdrv_set_used_event(&v, 0, 2);
	add_used_n(3);
	cr_assert(needs());
}

/* spec §7 #202 */
Test(vq_notify, batch_counted_once)
{
	vq_set_event_idx(&q, true);
	vdrv_set_used_event(&v, 0, 0);
	add_used_n(3);
	cr_assert(needs());
	cr_assert_not(needs());
}

/* spec §7 #203 */
Test(vq_notify, window_across_wrap)
{
	const uint16_t ev[2] = {0xFFFF, 0x0001};
	const bool expect[2] = {true, false};

	for (unsigned i = 0; i < 2; i++) {
		vq_set_event_idx(&q, true);
		q.next_used = 0xFFFE;
		q.num_added = 0;
		vdrv_set_used_event(&v, 0, ev[i]);
		add_used_n(3);
		cr_assert_eq(q.next_used, 1);
		cr_assert_eq(needs(), expect[i], "used_event 0x%04x", ev[i]);
	}
}

/* spec §7 #204: used_event unreadable, then readable through a fuller map. */
Test(vq_seam, failed_used_event_read_keeps_num_added, .init = q_setup_ma, .fini = q_teardown)
{
	struct gm *low = gm_new();
	bool notify;

	cr_assert_eq(gm_add_region(low, 0, MIB, v.host[0]), 0);
	q_layout(16, Q_DESC, MIB - 36, Q_USED); /* used_event sits at exactly 1 MiB */
	vq_set_event_idx(&q, true);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(vq_add_used(&q, low, (uint16_t)i, 0), 0);
	cr_assert_lt(vq_needs_notify(&q, low, &notify), 0);
	cr_assert_eq(q.num_added, 3);
	vdrv_set_used_event(&v, 0, 1); /* inside the window of the 3 kept completions */
	notify = false;
	cr_assert_eq(vq_needs_notify(&q, v.gm, &notify), 0);
	cr_assert(notify);
	cr_assert_eq(q.num_added, 0);
	gm_put(low);
}

/* spec §7 #205 */
Test(vq_notify, event_fields_move_with_size)
{
	bool more;

	vq_set_event_idx(&q, true);
	/* Size 16: used_event at avail + 36; 0xFFFF there suppresses one completion. */
	*(uint16_t *)vdrv_ptr(&v, Q_AVAIL + 36) = htole16(0xFFFF);
	add_used_n(1);
	cr_assert_not(needs());

	vq_reset(&q);
	q_layout(256, Q_DESC, Q_AVAIL, Q_USED);
	q.size = 256;
	q.ready = true;
	vq_set_event_idx(&q, true);
	*(uint16_t *)vdrv_ptr(&v, Q_AVAIL + 36) = htole16(0xFFFF); /* now a ring entry */
	*(uint16_t *)vdrv_ptr(&v, Q_AVAIL + 516) = htole16(0xFFFF);
	add_used_n(1);
	cr_assert_not(needs());
	*(uint16_t *)vdrv_ptr(&v, Q_AVAIL + 516) = htole16(1); /* the next completion crosses it */
	add_used_n(1);
	cr_assert(needs());
	vq_set_next_avail(&q, 9);
	cr_assert_eq(vq_enable_notify(&q, v.gm, &more), 0);
	cr_assert_eq(le16toh(*(uint16_t *)vdrv_ptr(&v, Q_USED + 2052)), 9);
}

/* spec §7 #206 */
Test(vq_notify, reset_restores_everything)
{
	vq_set_event_idx(&q, true);
	vq_set_indirect(&q, true);
	add_used_n(2);
	vq_set_next_avail(&q, 4);
	vq_poison(&q);
	vq_reset(&q);
	cr_assert_eq(q.num_added, 0);
	cr_assert_not(q.event_idx);
	cr_assert_not(q.indirect);
	cr_assert_not(q.ready);
	cr_assert_not(q.poisoned);
	cr_assert_eq(q.size, 256);
	cr_assert_eq(q.max_size, 256);
	cr_assert_eq(q.desc, 0);
	cr_assert_eq(q.avail, 0);
	cr_assert_eq(q.used, 0);
	cr_assert_eq(q.next_avail, 0);
	cr_assert_eq(q.next_used, 0);
}

/* ---- §7.O poison latch -------------------------------------------------- */

/* spec §7 #207 */
Test(vq_poison, edge_triggered_latch)
{
	cr_assert_not(vq_poisoned(&q));
	cr_assert(vq_poison(&q));
	cr_assert_not(vq_poison(&q));
	cr_assert(vq_poisoned(&q));
	vq_reset(&q);
	cr_assert_not(vq_poisoned(&q));
	cr_assert(vq_poison(&q));
}

/* spec §7 #208 */
Test(vq_poison, engine_ignores_latch)
{
	uint16_t h;

	vq_poison(&q);
	vdrv_publish(&v, 0, 6);
	cr_assert_eq(vq_pop(&q, v.gm, &h), 1);
	cr_assert_eq(h, 6);
	cr_assert_eq(vq_add_used(&q, v.gm, h, 1), 0);
}
