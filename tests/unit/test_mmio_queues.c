// SPDX-License-Identifier: MIT
/*
 * virtio-mmio queue configuration: specs/virtio-transport.md §4.8, §3.3,
 * test cases §7.G (87-106).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

#define V1 TDEV_FEAT_VERSION_1

TestSuite(mmio_queues, .init = tfx_setup, .fini = tfx_teardown);

static struct vq *q(uint16_t i)
{
	return vdev_queue(&t->vdev, i);
}

static void sel(uint32_t s)
{
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, s);
}

static uint32_t ready_of(uint32_t s)
{
	sel(s);
	return vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY);
}

static void window(void)
{
	cr_assert(vdrv_walk_to(v, V1, 0x0B));
}

/* spec §7 #87 */
Test(mmio_queues, queue_num_max_by_selector)
{
	static const uint32_t out[] = {2, 99, 0xFFFFFFFF};

	sel(0);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	sel(1);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	for (unsigned i = 0; i < 3; i++) {
		sel(out[i]);
		cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	}
}

/* spec §7 #88 */
Test(mmio_queues, queue_ready_out_of_range)
{
	cr_assert(vdrv_walk(v, V1));
	cr_assert_eq(ready_of(0), 1);
	cr_assert_eq(ready_of(2), 0);
	cr_assert_eq(ready_of(99), 0);
	cr_assert_eq(ready_of(0xFFFFFFFF), 0);
}

/* spec §7 #89 */
Test(mmio_queues, queue_sel_any_state)
{
	sel(5);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	sel(1);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	cr_assert(vdrv_walk(v, V1));
	sel(7);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	sel(1);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	vdev_set_needs_reset(&t->vdev);
	sel(9);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	sel(0);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
}

/* spec §7 #90 */
Test(mmio_queues, ready_per_queue)
{
	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(ready_of(0), 1);
	cr_assert_eq(ready_of(1), 0);
}

/* spec §7 #91 */
Test(mmio_queues, ready_outside_window_dropped)
{
	static const uint32_t rungs[] = {0x00, 0x01, 0x03};

	for (unsigned i = 0; i < 3; i++) {
		cr_assert(vdrv_walk_to(v, V1, rungs[i]));
		sel(0);
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
		cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 0, "status 0x%02x", rungs[i]);
	}
}

/* spec §7 #92 */
Test(mmio_queues, frozen_after_driver_ok)
{
	cr_assert(vdrv_handshake(v, V1, 1, 16)); /* queue 1 left unconfigured */
	sel(1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 64);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(q(1)->size, 256);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 0);
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 0);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 1);
}

/* spec §7 #93 */
Test(mmio_queues, ready_only_for_exactly_one)
{
	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 2);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 0xFFFFFFFF);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 1);
}

/* spec §7 #94 */
Test(mmio_queues, queue_num_power_of_two_within_max)
{
	static const uint32_t bad[] = {3, 0, 512, 100, 300};

	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 4);
	cr_assert_eq(q(0)->size, 4);
	for (unsigned i = 0; i < 5; i++) {
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, bad[i]);
		cr_assert_eq(q(0)->size, 4, "QueueNum %u", bad[i]);
	}
}

/* spec §7 #95 */
Test(mmio_queues, queue_num_truncated_to_16_bits)
{
	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 0x10004);
	cr_assert_eq(q(0)->size, 4);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 0x10010);
	cr_assert_eq(q(0)->size, 16);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 0x10000);
	cr_assert_eq(q(0)->size, 16);
}

/* spec §7 #96 */
Test(mmio_queues, queue_num_default_and_bounds)
{
	cr_assert(vdrv_handshake(v, V1, 2, 0)); /* QueueNum never written */
	cr_assert_eq(q(0)->size, 256);
	cr_assert_eq(q(1)->size, 256);
	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 1);
	cr_assert_eq(q(0)->size, 1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 256);
	cr_assert_eq(q(0)->size, 256);
}

/* spec §7 #97 */
Test(mmio_queues, address_halves)
{
	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	cr_assert_eq(q(0)->desc, 0x100001000ull);
	sel(1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	cr_assert_eq(q(1)->desc, 0x100001000ull);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0xFFFFFFFF);
	cr_assert_eq(q(1)->desc, 0xFFFFFFFF00001000ull);
}

/* spec §7 #98 */
Test(mmio_queues, address_alignment)
{
	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1008);
	cr_assert_eq(q(0)->desc, 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1010);
	cr_assert_eq(q(0)->desc, 0x1010);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x7001);
	cr_assert_eq(q(0)->avail, 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x7002);
	cr_assert_eq(q(0)->avail, 0x7002);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_USED_LOW, 0x8002);
	cr_assert_eq(q(0)->used, 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_USED_LOW, 0x8004);
	cr_assert_eq(q(0)->used, 0x8004);
}

/* spec §7 #99 */
Test(mmio_queues, refused_low_half_keeps_whole_address)
{
	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1008);
	cr_assert_eq(q(0)->desc, 0x100001000ull);
}

/* spec §7 #100 */
Test(mmio_queues, addresses_outside_window_dropped)
{
	static const uint32_t rungs[] = {0x00, 0x03, 0x0F};

	for (unsigned i = 0; i < 3; i++) {
		cr_assert(vdrv_walk_to(v, V1, rungs[i]));
		uint64_t desc = q(0)->desc, avail = q(0)->avail, used = q(0)->used;
		sel(0);
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x7000);
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, 2);
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x8000);
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 2);
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_USED_LOW, 0x9000);
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_USED_HIGH, 2);
		cr_assert_eq(q(0)->desc, desc, "status 0x%02x", rungs[i]);
		cr_assert_eq(q(0)->avail, avail, "status 0x%02x", rungs[i]);
		cr_assert_eq(q(0)->used, used, "status 0x%02x", rungs[i]);
	}
}

/* spec §7 #101 */
Test(mmio_queues, out_of_range_selector_writes_nothing)
{
	static const uint32_t sels[] = {2, 0xFFFFFFFF};
	static const uint64_t regs[] = {
		VIRTIO_MMIO_QUEUE_NUM,	     VIRTIO_MMIO_QUEUE_READY,
		VIRTIO_MMIO_QUEUE_DESC_LOW,  VIRTIO_MMIO_QUEUE_DESC_HIGH,
		VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_HIGH,
		VIRTIO_MMIO_QUEUE_USED_LOW,  VIRTIO_MMIO_QUEUE_USED_HIGH,
	};
	struct tdev_snap before, after;

	window();
	tdev_snap(t, &before);
	for (unsigned s = 0; s < 2; s++) {
		sel(sels[s]);
		for (unsigned r = 0; r < 8; r++)
			vdrv_w32(v, regs[r], r == 0 ? 16 : r == 1 ? 1 : 0x4000);
	}
	tdev_snap(t, &after);
	before.queue_sel = after.queue_sel; /* the selector itself did change */
	cr_assert(tdev_snap_eq(&before, &after));
}

/* spec §7 #102 */
Test(mmio_queues, ready_without_addresses)
{
	uint16_t head;

	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 1);
	vdrv_set_status(v, 0x0F);
	cr_assert_eq(vq_pop(q(0), v->gm, &head), -ENODEV);
}

/* spec §7 #103: the size can change after READY while still in the window. */
Test(mmio_queues, resize_after_ready_moves_used_event)
{
	bool notify = true;

	cr_assert(vdrv_walk_to(v, V1 | TDEV_FEAT_EVENT_IDX, 0x0B));
	vdrv_setup_queue(v, 0, 16, 0, 0, 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 32);
	cr_assert_eq(q(0)->size, 32);
	vdrv_set_status(v, 0x0F);
	vdrv_queue_layout(v, 0, 32, 0x1000, 0x2000, 0x3000);
	/* used_event for 32 entries: avail + 4 + 64. */
	*(uint16_t *)vdrv_ptr(v, 0x2000 + 68) = htole16(0xFFFF);
	cr_assert_eq(vq_add_used(q(0), v->gm, 0, 0), 0);
	cr_assert_eq(vq_needs_notify(q(0), v->gm, &notify), 0);
	cr_assert_not(notify);
}

/* spec §7 #104 */
Test(mmio_queues, avail_near_2_64_accepted_then_overflows)
{
	uint16_t head;

	window();
	sel(0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0xFFFFFFFF);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0xFFFFFFFE);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(q(0)->avail, 0xFFFFFFFFFFFFFFFEull);
	vdrv_set_status(v, 0x0F);
	cr_assert_eq(vq_pop(q(0), v->gm, &head), -EOVERFLOW);
}

/* spec §7 #105 */
Test(mmio_queues, queue_num_reads_zero)
{
	static const uint32_t rungs[] = {0x00, 0x01, 0x03, 0x0B, 0x0F};

	for (unsigned i = 0; i < 5; i++) {
		cr_assert(vdrv_walk_to(v, V1, rungs[i]));
		sel(0);
		cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM), 0);
	}
}

/* spec §7 #106: QueueReady reads take the queue lock, after the device lock. */
struct ready_reader {
	_Atomic bool done;
	uint32_t val;
};

static void *read_ready(void *arg)
{
	struct ready_reader *r = arg;

	r->val = vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY);
	atomic_store(&r->done, true);
	return NULL;
}

Test(mmio_queues, ready_read_waits_for_queue_lock)
{
	struct ready_reader r = {.done = false};
	pthread_t th;

	cr_assert(vdrv_walk(v, V1));
	sel(0);
	vq_lock(q(0));
	cr_assert_eq(pthread_create(&th, NULL, read_ready, &r), 0);
	usleep(50 * 1000);
	cr_assert_not(atomic_load(&r.done));
	vq_unlock(q(0));
	pthread_join(th, NULL);
	cr_assert(atomic_load(&r.done));
	cr_assert_eq(r.val, 1);
	/* The device lock was released too: a later access works. */
	cr_assert_eq(vdrv_status(v), 0x0F);
}
