// SPDX-License-Identifier: MIT
/*
 * virtio-net queue poison and reset (specs/virtio-net.md §12 K and L).
 * Transport-only reset cases (119 -> 74, 120 -> 73, 121 -> 75, 122 -> 79)
 * are listed in test_net_device.c.
 */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "unit/test_net.h"

TestSuite(net_poison, .fini = nt_teardown);

static void setup_sizes(uint16_t rx, uint16_t tx)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_rx(rx);
	nt_setup_tx(tx);
	nt_driver_ok();
}

static void tx_poison_1000(void)
{
	setup_sizes(4, 0); /* TX keeps its 256 entries */
	vdrv_set_avail_idx(&NT.v, VNET_TXQ, 1000);
	nt_kick_tx();
}

/* spec §12 #103 */
Test(net_poison, tx_index_too_far_ahead_poisons_tx)
{
	tx_poison_1000();
	NT_EXPECT(.invalid_avail_idx_count = 1);
	cr_assert(nt_needs_reset());
	cr_assert_eq(nt_status(), ST_OK | ST_NEEDS_R);
	cr_assert_eq(vdrv_isr(&NT.v), 2);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 0);
}

/* spec §12 #104 */
Test(net_poison, poisoned_tx_rekick_is_silent)
{
	tx_poison_1000();
	(void)vdrv_irq_count(&NT.v);
	vdrv_ack(&NT.v, 3);
	nt_kick_tx();
	nt_kick_tx();
	NT_EXPECT(.invalid_avail_idx_count = 1);
	cr_assert_eq(vdrv_irq_count(&NT.v), 0);
	cr_assert_eq(vdrv_isr(&NT.v), 0);
	cr_assert(nt_needs_reset());
}

/* spec §12 #105 */
Test(net_poison, full_ring_is_not_too_far_ahead)
{
	setup_sizes(4, 4);
	for (int i = 0; i < 4; i++) {
		nt_post1(VNET_RXQ, NT_RX_BUF + 0x100 * i, 256, true);
		nt_post1(VNET_TXQ, NT_TX_BUF, nt_write_std_frame(NT_TX_BUF), false);
	}
	cr_assert_eq(NT.v.q[VNET_TXQ].avail_idx, 4);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 4, .tx_bytes = 168, .rx_packets = 4, .rx_bytes = 168);
	cr_assert_not(nt_needs_reset());
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 4);
}

static void rx_poison_1000(void)
{
	setup_sizes(0, 4);
	vdrv_set_avail_idx(&NT.v, VNET_RXQ, 1000);
	nt_post_std_tx();
	nt_kick_tx();
}

/* spec §12 #106 */
Test(net_poison, rx_index_too_far_ahead_poisons_rx_and_drops)
{
	rx_poison_1000();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .tx_dropped_rx_poisoned = 1,
		  .invalid_avail_idx_count = 1);
	cr_assert_eq(nt_status(), ST_OK | ST_NEEDS_R);
	cr_assert_eq(vdrv_isr(&NT.v), 3);
	cr_assert_eq(vdrv_irq_count(&NT.v), 2);
	nt_expect_used(VNET_TXQ, 1, 0, 0, 0);
}

/* spec §12 #107 */
Test(net_poison, poisoned_rx_rekick_without_tx_is_silent)
{
	rx_poison_1000();
	(void)vdrv_irq_count(&NT.v);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .tx_dropped_rx_poisoned = 1,
		  .invalid_avail_idx_count = 1);
	cr_assert_eq(vdrv_irq_count(&NT.v), 0);
}

/* spec §12 #108 */
Test(net_poison, tx_keeps_working_while_rx_is_poisoned)
{
	rx_poison_1000();
	(void)vdrv_irq_count(&NT.v);
	vdrv_ack(&NT.v, 3);
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 2, .tx_bytes = 84, .tx_dropped_rx_poisoned = 2,
		  .invalid_avail_idx_count = 1);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
	cr_assert_eq(vdrv_isr(&NT.v), 1);
}

/* spec §12 #109 */
Test(net_poison, rx_poison_ends_the_drain_after_the_current_chain)
{
	setup_sizes(0, 4);
	vdrv_set_avail_idx(&NT.v, VNET_RXQ, 1000);
	nt_post_std_tx();
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 1);
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .tx_dropped_rx_poisoned = 1,
		  .invalid_avail_idx_count = 1);
	nt_kick_tx();
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 2);
	NT_EXPECT(.tx_packets = 2, .tx_bytes = 84, .tx_dropped_rx_poisoned = 2,
		  .invalid_avail_idx_count = 1);
}

/* spec §12 #110 (a) */
Test(net_poison, distance_of_size_plus_one_poisons)
{
	setup_sizes(4, 4);
	vdrv_set_avail_idx(&NT.v, VNET_TXQ, 5);
	nt_kick_tx();
	NT_EXPECT(.invalid_avail_idx_count = 1);
	cr_assert(nt_needs_reset());
}

/* spec §12 #110 (b): the distance is taken modulo 2^16 */
Test(net_poison, distance_across_the_index_wrap_is_fine)
{
	struct vq *tx;

	setup_sizes(4, 4);
	tx = vdev_queue(NT.d, VNET_TXQ);
	vq_set_next_avail(tx, 0xFFFE);
	nt_write_std_frame(NT_TX_BUF);
	vdrv_set_desc(&NT.v, VNET_TXQ, 0, NT_TX_BUF, 54, 0, 0);
	for (uint16_t slot = 0; slot < 4; slot++)
		vdrv_set_avail_entry(&NT.v, VNET_TXQ, slot, 0);
	vdrv_set_avail_idx(&NT.v, VNET_TXQ, 0x0002);
	nt_kick_tx();
	cr_assert_not(nt_needs_reset());
	NT_EXPECT(.tx_packets = 4, .tx_bytes = 168, .tx_dropped_no_rx_buffer = 4);
	cr_assert_eq(vq_next_avail(tx), 2);
}

/* spec §12 #111 */
Test(net_poison, reset_clears_poison_and_keeps_the_count)
{
	tx_poison_1000();
	vdrv_set_status(&NT.v, 0);
	cr_assert_eq(nt_status(), 0);
	cr_assert_eq(vdrv_isr(&NT.v), 0);
	NT_EXPECT(.invalid_avail_idx_count = 1);
	nt_walk_to_features_ok();
	nt_setup_rx(4); /* vdriver zeroes the rings: avail.idx and used.idx back to 0 */
	nt_setup_tx(4);
	nt_driver_ok();
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42,
		  .invalid_avail_idx_count = 1);
	cr_assert_not(nt_needs_reset());
}

/* spec §12 #112 [QUIRK]: TX has no readiness check */
Test(net_poison, kick_on_never_ready_tx_poisons_it)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_rx(4);
	nt_driver_ok();
	nt_kick_tx();
	NT_EXPECT(.invalid_avail_idx_count = 1);
	cr_assert(nt_needs_reset());
	cr_assert_eq(vdrv_isr(&NT.v), 2);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
}

/* spec §12 #113 [QUIRK]: a ready RX ring with avail at GPA 0 is corrupt */
Test(net_poison, ready_rx_with_avail_at_zero_poisons_rx)
{
	nt_make_default();
	nt_walk_to_features_ok();
	vdrv_setup_queue(&NT.v, VNET_RXQ, 4, NT_RX_DESC, 0, NT_RX_USED);
	nt_setup_tx(4);
	nt_driver_ok();
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .tx_dropped_rx_poisoned = 1,
		  .invalid_avail_idx_count = 1);
	cr_assert(nt_needs_reset());
}

/* spec §12 #114 */
Test(net_poison, unmapped_tx_avail_ring_poisons_tx)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_rx(4);
	vdrv_setup_queue(&NT.v, VNET_TXQ, 4, NT_TX_DESC, NT_UNMAPPED, NT_TX_USED);
	nt_driver_ok();
	nt_kick_tx();
	NT_EXPECT(.invalid_avail_idx_count = 1);
	cr_assert(nt_needs_reset());
}

/* spec §12 #115: chain and used-ring failures never set NEEDS_RESET */
Test(net_poison, chain_and_used_ring_failures_never_poison)
{
	struct vdrv_buf hdr_then_gap[2] = {{NT_RX_BUF, 12, true}, {NT_UNMAPPED, 64, true}};

	setup_sizes(16, 16);
	nt_post1(VNET_TXQ, NT_TX_BUF, 8, false);     /* short TX */
	nt_post1(VNET_TXQ, NT_TX_BUF, 100, true);    /* write-only TX */
	nt_post1(VNET_TXQ, NT_UNMAPPED, 100, false); /* unreadable TX */
	nt_post1(VNET_RXQ, NT_RX_BUF, 256, false);   /* read-only RX */
	vdrv_post(&NT.v, VNET_RXQ, hdr_then_gap, 2); /* RX write failure */
	for (int i = 0; i < 2; i++)
		nt_post_std_tx();
	vdrv_set_avail_entry(&NT.v, VNET_TXQ, NT.v.q[VNET_TXQ].avail_idx, 40); /* bad head */
	vdrv_set_avail_idx(&NT.v, VNET_TXQ, NT.v.q[VNET_TXQ].avail_idx + 1);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 2, .tx_bytes = 84, .tx_chain_invalid = 4, .rx_chain_invalid = 1,
		  .rx_write_failed = 1, .tx_add_used_failures = 1);
	cr_assert_not(nt_needs_reset());
	cr_assert_eq(vdrv_isr(&NT.v), 1);
}

static bool monotonic(const struct vnet_snapshot *before, const struct vnet_snapshot *after)
{
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		if (vnet_snapshot_field(after, k) < vnet_snapshot_field(before, k))
			return false;
	return true;
}

/* spec §12 #116 */
Test(net_poison, counters_survive_poison_reset_recovery)
{
	struct vnet_snapshot s[5];

	rx_poison_1000();
	s[0] = nt_snap();
	vdrv_set_avail_idx(&NT.v, VNET_TXQ, 1000); /* now TX too */
	nt_kick_tx();
	s[1] = nt_snap();
	cr_assert_eq(s[1].invalid_avail_idx_count, 2, "each queue's own edge counts once");
	vdrv_set_status(&NT.v, 0);
	s[2] = nt_snap();
	nt_walk_to_features_ok();
	nt_setup_rx(4);
	nt_setup_tx(4);
	nt_driver_ok();
	s[3] = nt_snap();
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	s[4] = nt_snap();
	for (int i = 1; i < 5; i++)
		cr_assert(monotonic(&s[i - 1], &s[i]), "a counter went down at step %d", i);
	cr_assert(vnet_snapshot_equal(&s[1], &s[2]), "reset changed a counter");
	cr_assert_eq(s[4].rx_packets, 1);
	cr_assert_eq(s[4].tx_packets, 2);
}

/* ---- L. reset ---- */

TestSuite(net_reset, .init = nt_std_setup, .fini = nt_teardown);

/* spec §12 #117 */
Test(net_reset, reset_keeps_every_counter)
{
	struct vnet_snapshot before;

	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	before = nt_snap();
	cr_assert_eq(before.tx_packets, 1);
	vdrv_set_status(&NT.v, 0);
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42);
}

/* spec §12 #118 (the queues of the net device, after traffic and a poison) */
Test(net_reset, reset_returns_both_queues_to_construction_state)
{
	vdrv_set_avail_idx(&NT.v, VNET_RXQ, 1000);
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert(nt_needs_reset());
	vdrv_set_status(&NT.v, 0);
	for (uint16_t q = 0; q < 2; q++) {
		struct vq *vq = vdev_queue(NT.d, q);

		vdrv_w32(&NT.v, VIRTIO_MMIO_QUEUE_SEL, q);
		cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_QUEUE_READY), 0);
		cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
		cr_assert_eq(vq->size, 256);
		cr_assert(vq->desc == 0 && vq->avail == 0 && vq->used == 0);
		cr_assert_eq(vq_next_avail(vq), 0);
		cr_assert_eq(vq->next_used, 0);
		cr_assert_not(vq_poisoned(vq));
	}
}

/* spec §12 #123 */
Test(net_reset, reset_keeps_the_mac)
{
	static const uint8_t want[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint8_t got[6];

	vdrv_set_status(&NT.v, 0);
	vdrv_rn(&NT.v, 0x100, got, 6);
	cr_assert_arr_eq(got, want, 6);
}
