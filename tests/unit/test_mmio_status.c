// SPDX-License-Identifier: MIT
/*
 * virtio-mmio device-status state machine: specs/virtio-transport.md §4.6,
 * test cases §7.E (46-71), including the NEEDS_RESET/ACK race #63.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

#define V1 TDEV_FEAT_VERSION_1

TestSuite(mmio_status, .init = tfx_setup, .fini = tfx_teardown);

/* Write val and check the status that results. */
static void wst(uint32_t val, uint32_t expect)
{
	vdrv_set_status(v, val);
	cr_assert_eq(vdrv_status(v), expect, "write 0x%02x: status 0x%02x, expected 0x%02x", val,
		     vdrv_status(v), expect);
}

static void to(uint32_t rung)
{
	cr_assert(vdrv_walk_to(v, V1, rung), "could not reach 0x%02x", rung);
}

/* spec §7 #46 */
Test(mmio_status, full_ladder)
{
	wst(0x01, 0x01);
	wst(0x03, 0x03);
	vdrv_write_features(v, V1);
	wst(0x0B, 0x0B);
	cr_assert_eq(t->activate_calls, 0);
	wst(0x0F, 0x0F);
	cr_assert_eq(t->activate_calls, 1);
}

/* spec §7 #47 */
Test(mmio_status, driver_without_ack)
{
	wst(0x02, 0x00);
}

/* spec §7 #48 */
Test(mmio_status, two_rungs_at_once)
{
	wst(0x03, 0x00);
}

/* spec §7 #49 */
Test(mmio_status, skipped_rung_is_illegal)
{
	to(0x01);
	wst(0x0B, 0x01);
	cr_assert_eq(vdrv_log_count("illegal FSM transition"), 1);
}

/* spec §7 #50 */
Test(mmio_status, driver_ok_without_features_ok)
{
	to(0x03);
	wst(0x0F, 0x03);
	cr_assert_eq(t->activate_calls, 0);
}

/* spec §7 #51 */
Test(mmio_status, clearing_a_bit_refused)
{
	to(0x03);
	wst(0x01, 0x03);
	cr_assert_eq(vdrv_log_count("attempted to clear"), 1);
	cr_assert_eq(vdrv_log_count("illegal FSM transition"), 0);
}

/* spec §7 #52 */
Test(mmio_status, driver_replacing_ack)
{
	to(0x01);
	wst(0x02, 0x01);
}

/* spec §7 #53 */
Test(mmio_status, no_way_back_from_driver_ok)
{
	to(0x0F);
	wst(0x0B, 0x0F);
	cr_assert_eq(t->activate_calls, 1);
}

/* spec §7 #54 */
Test(mmio_status, rewrite_is_silent_noop)
{
	static const uint32_t rungs[] = {0x01, 0x03, 0x0B, 0x0F};

	for (unsigned i = 0; i < 4; i++) {
		struct tdev_snap before, after;

		to(rungs[i]);
		vdrv_log_clear();
		tdev_snap(t, &before);
		wst(rungs[i], rungs[i]);
		tdev_snap(t, &after);
		cr_assert(tdev_snap_eq(&before, &after), "rung 0x%02x", rungs[i]);
		cr_assert_eq(vdrv_log_count(""), 0, "rung 0x%02x logged", rungs[i]);
	}
}

/* spec §7 #55 */
Test(mmio_status, reserved_bits_refused)
{
	to(0x01);
	wst(0x11, 0x01);
	wst(0x21, 0x01);
}

/* spec §7 #56 */
Test(mmio_status, driver_cannot_set_needs_reset)
{
	to(0x01);
	wst(0x41, 0x01);
	to(0x0F);
	wst(0x4F, 0x0F);
}

/* spec §7 #57 */
Test(mmio_status, failed_alone_from_every_rung)
{
	static const uint32_t rungs[] = {0x00, 0x01, 0x03, 0x0B, 0x0F};

	for (unsigned i = 0; i < 5; i++) {
		to(rungs[i]);
		vdrv_log_clear();
		wst(rungs[i] | 0x80, rungs[i] | 0x80);
		cr_assert_eq(vdrv_log_count("FAILED"), 1, "from 0x%02x", rungs[i]);
	}
}

/* spec §7 #58 */
Test(mmio_status, failed_mixed_with_rung_refused)
{
	to(0x01);
	wst(0x91, 0x01);
	wst(0x83, 0x01);
}

/* spec §7 #59 */
Test(mmio_status, failed_freezes_until_reset)
{
	to(0x01);
	wst(0x81, 0x81);
	wst(0x83, 0x81);
	wst(0x8B, 0x81);
	wst(0x00, 0x00);
	to(0x0F);

	/* The Linux path after a refused FEATURES_OK. */
	cr_assert_not(vdrv_walk_to(v, 1ull << TDEV_FEAT_BIT5, 0x0B));
	cr_assert_eq(vdrv_status(v), 0x03);
	wst(0x83, 0x83);
	wst(0x8B, 0x83);
	wst(0x87, 0x83);
	wst(0x00, 0x00);
	to(0x0F);
}

/* spec §7 #60 */
Test(mmio_status, failed_after_driver_ok)
{
	to(0x0F);
	vdrv_log_clear();
	wst(0x8F, 0x8F);
	wst(0x8F, 0x8F);
	cr_assert_eq(vdrv_log_count("FAILED"), 1);
	wst(0x0F, 0x8F);
	wst(0xCF, 0x8F);
}

/* spec §7 #61 */
Test(mmio_status, needs_reset_from_device)
{
	to(0x0F);
	vdev_set_needs_reset(&t->vdev);
	cr_assert_eq(vdrv_status(v), 0x4F);
	vdrv_log_clear();
	wst(0x0F, 0x4F);
	cr_assert_eq(vdrv_log_count("NEEDS_RESET"), 1);
	vdrv_log_clear();
	wst(0x4F, 0x4F);
	cr_assert_eq(vdrv_log_count(""), 0);
	wst(0xCF, 0xCF);
}

/* spec §7 #62 */
Test(mmio_status, needs_reset_at_zero)
{
	vdev_set_needs_reset(&t->vdev);
	cr_assert_eq(vdrv_status(v), 0x40);
	wst(0x01, 0x40);
	wst(0xC0, 0xC0);
}

/*
 * spec §7 #63: the ACK commit is a CAS against the value it checked, so a
 * NEEDS_RESET the device sets while the driver's write is in flight survives.
 * Per round the setter thread sets the bit exactly once, racing the ACK;
 * when it has done so, and with no reset in between, the bit must be there.
 */
#define RACE_ROUNDS 1024

struct race {
	struct vdev *d;
	_Atomic int go, done;
};

static void *race_setter(void *arg)
{
	struct race *r = arg;

	for (int round = 1; round <= RACE_ROUNDS; round++) {
		while (atomic_load(&r->go) != round)
			sched_yield();
		/* Vary the phase against the ACK write. */
		for (volatile int spin = 0; spin < (round * 37) % 200; spin++)
			;
		vdev_set_needs_reset(r->d);
		atomic_store(&r->done, round);
	}
	return NULL;
}

Test(mmio_status, needs_reset_never_erased_by_ack)
{
	struct race r = {.d = &t->vdev};
	pthread_t th;
	unsigned erased = 0, acked_first = 0, refused = 0;

	cr_assert_eq(pthread_create(&th, NULL, race_setter, &r), 0);
	for (int round = 1; round <= RACE_ROUNDS; round++) {
		uint32_t s;

		vdrv_set_status(v, 0);
		atomic_store(&r.go, round);
		vdrv_set_status(v, 0x01);
		while (atomic_load(&r.done) != round)
			sched_yield();
		s = vdrv_status(v);
		if (!(s & 0x40))
			erased++;
		else if (s == 0x41)
			acked_first++;
		else if (s == 0x40)
			refused++;
	}
	pthread_join(th, NULL);
	cr_assert_eq(erased, 0, "NEEDS_RESET erased in %u of %d rounds", erased, RACE_ROUNDS);
	cr_assert_eq(acked_first + refused, RACE_ROUNDS);
	/* Finally: set once more and write ACK on top. */
	vdrv_set_status(v, 0);
	vdev_set_needs_reset(&t->vdev);
	vdrv_set_status(v, 0x01);
	cr_assert_eq(vdrv_status(v), 0x40);
}

/* spec §7 #64 */
Test(mmio_status, driver_ok_without_queues_or_memory, .init = tfx_setup_unbound,
     .fini = tfx_teardown)
{
	to(0x0B);
	wst(0x0F, 0x0F);
	cr_assert_eq(t->activate_calls, 1);
}

/* spec §7 #65 */
Test(mmio_status, activate_sees_driver_ok)
{
	to(0x0F);
	cr_assert_eq(t->activate_status, 0x0F);
}

/* spec §7 #66 */
Test(mmio_status, activate_failure_logged_status_kept)
{
	t->opts.activate_rc = -ENOMEM;
	to(0x0B);
	vdrv_log_clear();
	wst(0x0F, 0x0F);
	cr_assert_eq(t->activate_calls, 1);
	cr_assert_geq(vdrv_log_count("tdev"), 1);
	cr_assert_eq(vdrv_status(v) & 0x40, 0);
	cr_assert_eq(vdrv_isr(v), 0);
}

/* spec §7 #67 */
Test(mmio_status, refused_driver_ok_no_activate)
{
	to(0x03);
	wst(0x07, 0x03);
	cr_assert_eq(t->activate_calls, 0);
}

/* spec §7 #68 */
Test(mmio_status, driver_ok_plus_reserved_bit)
{
	to(0x0B);
	wst(0x1F, 0x0B);
	cr_assert_eq(t->activate_calls, 0);
}

/* spec §7 #69 */
Test(mmio_status, needs_reset_blocks_next_rung)
{
	to(0x0B);
	vdev_set_needs_reset(&t->vdev);
	cr_assert_eq(vdrv_status(v), 0x4B);
	wst(0x4F, 0x4B);
	cr_assert_eq(t->activate_calls, 0);
}

/* spec §7 #70: windows test bits, so FAILED/NEEDS_RESET alongside do not close them. */
Test(mmio_status, windows_use_bit_tests)
{
	struct vq *q0 = vdev_queue(&t->vdev, 0);

	to(0x0B);
	wst(0x8B, 0x8B);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 32);
	cr_assert_eq(q0->size, 32);

	to(0x0B);
	vdev_set_needs_reset(&t->vdev);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 64);
	cr_assert_eq(q0->size, 64);

	to(0x0F);
	wst(0x8F, 0x8F);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 32);
	cr_assert_eq(q0->size, 16);

	to(0x03);
	wst(0x83, 0x83);
	vdrv_write_features(v, V1 | (1ull << TDEV_FEAT_BIT5));
	cr_assert_eq(vdev_driver_features(&t->vdev), V1 | (1ull << TDEV_FEAT_BIT5));
}

/* spec §7 #71 */
Test(mmio_status, status_read_unmasked)
{
	to(0x0F);
	wst(0x8F, 0x8F);
	wst(0x00, 0x00);
	vdev_set_needs_reset(&t->vdev);
	wst(0xC0, 0xC0);
	to(0x0F);
	vdev_set_needs_reset(&t->vdev);
	wst(0xCF, 0xCF);
	cr_assert_eq(vdev_status(&t->vdev), 0xCF);
}
