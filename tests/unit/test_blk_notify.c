// SPDX-License-Identifier: MIT
/*
 * virtio-blk interrupts and queue poisoning: one notification per drain,
 * EVENT_IDX suppression, fail-safe notification on ring errors, and the
 * poison latch (specs/virtio-blk.md §12 cases 120–138).
 *
 * Purely engine-level cases are pinned by the virtqueue tests instead:
 *   blk #132 (disable/enable on a legacy queue) -> transport §7 #194
 */
#include <criterion/criterion.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "test_blk.h"

TestSuite(blk_notify, .fini = blk_fx_fini);

#define V (&blk_fx.v)

static void fx_event_idx(uint16_t used_event)
{
	blk_fx_default();
	blk_fx_wire_event_idx();
	vdrv_set_used_event(V, 0, used_event);
}

static void post_flushes(int n)
{
	for (int i = 0; i < n; i++) {
		struct blk_req r;

		blk_fx_post(&r, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	}
}

Test(blk_notify, legacy_completion_fires_once) /* spec §12 #120 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(vdrv_irq_count(V), 1);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
}

Test(blk_notify, legacy_ignores_used_event) /* spec §12 #121 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	vdrv_set_used_event(V, 0, 0xFFFF);
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(vdrv_irq_count(V), 1);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
}

Test(blk_notify, event_idx_far_ahead_suppresses_the_irq_not_the_isr) /* spec §12 #122 */
{
	struct blk_req r;

	fx_event_idx(0xFFFF);
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
	cr_assert_eq(vdrv_irq_count(V), 0);
}

Test(blk_notify, event_idx_zero_fires_for_one_chain) /* spec §12 #123 */
{
	struct blk_req r;

	fx_event_idx(0);
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(vdrv_irq_count(V), 1);
}

Test(blk_notify, one_notification_per_drain) /* spec §12 #124 */
{
	fx_event_idx(0);
	post_flushes(3);
	blk_fx_kick();
	cr_assert_eq(vdrv_used_idx(V, 0), 3);
	cr_assert_eq(vdrv_irq_count(V), 1);
}

Test(blk_notify, used_event_beyond_the_drain_suppresses) /* spec §12 #125 */
{
	fx_event_idx(10);
	post_flushes(3);
	blk_fx_kick();
	cr_assert_eq(vdrv_used_idx(V, 0), 3);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
	cr_assert_eq(vdrv_irq_count(V), 0);
}

Test(blk_notify, used_event_crossed_in_a_later_drain_fires_once) /* spec §12 #126 */
{
	fx_event_idx(2);
	post_flushes(1);
	blk_fx_kick();
	cr_assert_eq(vdrv_irq_count(V), 0);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
	post_flushes(2);
	blk_fx_kick();
	cr_assert_eq(vdrv_used_idx(V, 0), 3);
	cr_assert_eq(vdrv_irq_count(V), 1);
}

Test(blk_notify, guest_moving_used_event_gets_the_next_interrupt) /* spec §12 #127 */
{
	fx_event_idx(0);
	post_flushes(1);
	blk_fx_kick();
	cr_assert_eq(vdrv_irq_count(V), 1);
	vdrv_set_used_event(V, 0, 1);
	post_flushes(1);
	blk_fx_kick();
	cr_assert_eq(vdrv_irq_count(V), 1);
	cr_assert_eq(blk_fx_stats().flushes_completed, 2);
	cr_assert_eq(vdrv_used_idx(V, 0), 2);
}

Test(blk_notify, chains_queued_before_the_kick_share_one_interrupt) /* spec §12 #128 */
{
	fx_event_idx(0);
	post_flushes(2);
	blk_fx_kick();
	cr_assert_eq(blk_fx_stats().flushes_completed, 2);
	cr_assert_eq(vdrv_used_idx(V, 0), 2);
	cr_assert_eq(vdrv_irq_count(V), 1);
}

Test(blk_notify, error_completions_are_suppressed_too) /* spec §12 #129 */
{
	struct blk_req r;

	fx_event_idx(0xFFFF);
	blk_fx_read(&r, 0, 100); /* sub-sector: IOERR */
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
	cr_assert_eq(vdrv_irq_count(V), 0);
}

Test(blk_notify, failing_enable_notification_still_completes_and_fires) /* spec §12 #130 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .mem = VDRV_MEM_MH});
	blk_fx_wire_at(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX, 16, 0x1000,
		       0x2000, (1ull << 20) - 132);
	blk_fx_flush(&r);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(vdrv_irq_count(V), 1);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
}

Test(blk_notify, unreadable_used_event_means_notify) /* spec §12 #131 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .mem = VDRV_MEM_MH});
	/* used_event = avail + 4 + 2*16 = 1 MiB: in the hole. */
	blk_fx_wire_at(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX, 16, 0x1000,
		       (1ull << 20) - 36, 0x3000);
	blk_fx_flush(&r);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(vdrv_irq_count(V), 1);
}

Test(blk_notify, legacy_drain_leaves_notifications_enabled) /* spec §12 #133 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(vdrv_used_flags(V, 0), 0);
	/* Something really was written: a stalled drain would leave NO_NOTIFY set. */
	vq_lock(blk_fx_q());
	cr_assert_eq(vq_disable_notify(blk_fx_q(), blk_fx.v.gm), 0);
	vq_unlock(blk_fx_q());
	cr_assert_eq(vdrv_used_flags(V, 0), VRING_USED_F_NO_NOTIFY);
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(vdrv_used_flags(V, 0), 0);
}

Test(blk_notify, completion_sets_vring_and_ack_clears_it) /* spec §12 #134 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_flush(&r);
	cr_assert_eq(vdrv_isr(V), 1);
	vdrv_ack(V, 1);
	cr_assert_eq(vdrv_isr(V), 0);
}

/* ---- poison ---- */

Test(blk_notify, avail_index_far_ahead_poisons_once_until_reset) /* spec §12 #135 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	vdrv_set_avail_idx(V, 0, 1000);
	blk_fx_kick();
	cr_assert_eq(blk_fx_stats().invalid_avail_idx_count, 1);
	cr_assert_eq(blk_fx_stats().reads_completed, 0);
	blk_fx_kick();
	cr_assert_eq(blk_fx_stats().invalid_avail_idx_count, 1);
	blk_fx_wire(); /* reset, re-walk, fresh zeroed rings */
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_stats().invalid_avail_idx_count, 1);
}

Test(blk_notify, poisoned_queue_ignores_further_kicks) /* spec §12 #136 */
{
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .throttle = {.iops = 1}});
	blk_fx_wire();
	vdrv_set_avail_idx(V, 0, 257);
	blk_fx_kick();
	cr_assert(vq_poisoned(blk_fx_q()));
	for (int i = 0; i < 5; i++)
		blk_fx_kick();
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.invalid_avail_idx_count, 1);
	cr_assert_eq(s.throttled_count, 0);
	cr_assert_eq(s.currently_throttled_gauge, 0);
	cr_assert(vq_poisoned(blk_fx_q()));
}

Test(blk_notify, poisoned_queue_does_not_touch_used_flags) /* spec §12 #137 */
{
	uint16_t zero = 0;

	blk_fx_default();
	blk_fx_wire();
	vdrv_set_avail_idx(V, 0, 257);
	blk_fx_kick();
	/* The guest clears the flag itself; a drain that still ran would set it again. */
	vdrv_wmem(V, blk_fx.v.q[0].used, &zero, 2);
	for (int i = 0; i < 5; i++)
		blk_fx_kick();
	cr_assert_eq(vdrv_used_flags(V, 0), 0);
}

Test(blk_notify, poison_raises_needs_reset_and_one_config_interrupt) /* spec §12 #138 */
{
	blk_fx_default();
	blk_fx_wire();
	vdrv_set_avail_idx(V, 0, 1000);
	blk_fx_kick();
	cr_assert(vdrv_status(V) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(vdrv_isr(V) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(vdrv_irq_count(V), 1);
	blk_fx_kick();
	cr_assert_eq(vdrv_irq_count(V), 0);
	cr_assert(vdrv_status(V) & VIRTIO_CONFIG_S_NEEDS_RESET);
	cr_assert(vdrv_isr(V) & VIRTIO_MMIO_INT_CONFIG);
	vdrv_set_status(V, 0);
	cr_assert_eq(vdrv_status(V), 0);
	cr_assert_eq(vdrv_isr(V), 0);
}
