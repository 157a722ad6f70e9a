// SPDX-License-Identifier: MIT
/*
 * virtio-net TX->RX loopback: normal paths, edge and failure paths,
 * oversize frames, the DRIVER_OK gate and interrupts
 * (specs/virtio-net.md §12 F, G, H, I, J).
 *
 * The suite runs on the default (DIRECT, one copy) device; net_staged
 * repeats the data-carrying cases on the STAGED (scratch buffer) device, and
 * test_net_props.c compares the two modes on random chains.
 */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "unit/test_net.h"

#define W true
#define R false

TestSuite(net_loop, .init = nt_std_setup, .fini = nt_teardown);
/* Tests that build their own device layout. */
TestSuite(net_loop_bare, .fini = nt_teardown);

static uint16_t post_chain(uint16_t q, const struct vdrv_buf *b, unsigned n)
{
	return vdrv_post(&NT.v, q, b, n);
}

/* ---- F. normal paths ---- */

static void std_loopback_checks(void)
{
	nt_expect_std_rx(NT_RX_BUF);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 54);
	nt_expect_used(VNET_TXQ, 1, 0, 0, 0);
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42);
	cr_assert_eq(vdrv_isr(&NT.v), 1);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
}

/* spec §12 #51 */
Test(net_loop, std_frame_is_echoed_with_rx_header)
{
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	std_loopback_checks();
}

/* The std frame sent as the given pieces of NT_TX_BUF must arrive exactly as #51. */
static void split_tx_case(const struct vdrv_buf *b, unsigned n)
{
	nt_write_std_frame(NT_TX_BUF);
	nt_post_std_rx();
	post_chain(VNET_TXQ, b, n);
	nt_kick_tx();
	std_loopback_checks();
}

/* spec §12 #52 */
Test(net_loop, header_in_its_own_descriptor)
{
	struct vdrv_buf b[2] = {{NT_TX_BUF, 12, R}, {NT_TX_BUF + 12, 42, R}};

	split_tx_case(b, 2);
}

/* spec §12 #53 */
Test(net_loop, header_split_5_7)
{
	struct vdrv_buf b[3] = {{NT_TX_BUF, 5, R}, {NT_TX_BUF + 5, 7, R}, {NT_TX_BUF + 12, 42, R}};

	split_tx_case(b, 3);
}

/* spec §12 #54 */
Test(net_loop, header_and_data_share_a_descriptor)
{
	struct vdrv_buf b[2] = {{NT_TX_BUF, 20, R}, {NT_TX_BUF + 20, 34, R}};

	split_tx_case(b, 2);
}

/* spec §12 #55 */
Test(net_loop, tx_header_content_is_ignored)
{
	static const uint8_t junk[12] = {0xFF, 0xFF, 0x12, 0x34, 0x56, 0x78,
					 0x9A, 0xBC, 0xDE, 0xF0, 0x77, 0x88};

	nt_write_std_frame(NT_TX_BUF);
	vdrv_wmem(&NT.v, NT_TX_BUF, junk, sizeof(junk));
	nt_post_std_rx();
	nt_post1(VNET_TXQ, NT_TX_BUF, 54, R);
	nt_kick_tx();
	std_loopback_checks();
}

/* spec §12 #56 */
Test(net_loop, header_only_frame)
{
	nt_post_std_rx();
	nt_post1(VNET_TXQ, NT_TX_BUF, 12, R);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .rx_packets = 1);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 12);
}

/* spec §12 #57 */
Test(net_loop, two_frames_two_buffers_one_signal)
{
	uint8_t f1[32] = {0}, f2[32] = {0}, got[32];

	memset(f1 + 12, 0x11, 20);
	memset(f2 + 12, 0x22, 20);
	vdrv_wmem(&NT.v, NT_TX_BUF, f1, 32);
	vdrv_wmem(&NT.v, NT_TX_BUF + 0x100, f2, 32);
	nt_post1(VNET_RXQ, NT_RX_BUF, 256, W);
	nt_post1(VNET_RXQ, NT_RX_BUF + 0x100, 256, W);
	nt_post1(VNET_TXQ, NT_TX_BUF, 32, R);
	nt_post1(VNET_TXQ, NT_TX_BUF + 0x100, 32, R);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 2, .tx_bytes = 40, .rx_packets = 2, .rx_bytes = 40);
	vdrv_rmem(&NT.v, NT_RX_BUF + 12, got, 20);
	cr_assert_arr_eq(got, f1 + 12, 20);
	vdrv_rmem(&NT.v, NT_RX_BUF + 0x100 + 12, got, 20);
	cr_assert_arr_eq(got, f2 + 12, 20);
	nt_expect_used(VNET_RXQ, 2, 1, 1, 32);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
}

/* spec §12 #58 */
Test(net_loop, rx_header_and_frame_in_separate_descriptors)
{
	struct vdrv_buf b[2] = {{NT_RX_BUF, 12, W}, {NT_RX_BUF + 0x100, 64, W}};
	uint8_t got[42];

	post_chain(VNET_RXQ, b, 2);
	nt_post_std_tx();
	nt_kick_tx();
	nt_expect_used(VNET_RXQ, 1, 0, 0, 54);
	cr_assert_eq(*(uint8_t *)vdrv_ptr(&NT.v, NT_RX_BUF + 10), 1);
	vdrv_rmem(&NT.v, NT_RX_BUF + 0x100, got, 42);
	for (unsigned i = 0; i < 42; i++)
		cr_assert_eq(got[i], i);
}

/* spec §12 #59 */
Test(net_loop, rx_kick_does_nothing)
{
	nt_post_std_rx();
	nt_post_std_tx();
	vdrv_notify(&NT.v, VNET_RXQ);
	NT_EXPECT(0);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_RXQ), 0);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 0);
}

/* spec §12 #60 */
Test(net_loop, other_notify_values_do_nothing)
{
	nt_post_std_rx();
	nt_post_std_tx();
	vdrv_w32(&NT.v, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	vdrv_w32(&NT.v, VIRTIO_MMIO_QUEUE_NOTIFY, 3);
	vdrv_w32(&NT.v, VIRTIO_MMIO_QUEUE_NOTIFY, 0xFFFFFFFFu);
	NT_EXPECT(0);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 0);
}

/* spec §12 #61 */
Test(net_loop, two_kicks_one_signal_each)
{
	for (int i = 1; i <= 2; i++) {
		nt_post_std_rx();
		nt_post_std_tx();
		nt_kick_tx();
		cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), i);
		cr_assert_eq(vdrv_used_idx(&NT.v, VNET_RXQ), i);
		cr_assert_eq(vdrv_irq_count(&NT.v), 1, "kick %d", i);
	}
	NT_EXPECT(.tx_packets = 2, .tx_bytes = 84, .rx_packets = 2, .rx_bytes = 84);
}

/* ---- G. edge and failure paths ---- */

/* spec §12 #62 */
Test(net_loop, no_rx_buffer_drops_but_completes_tx)
{
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .tx_dropped_no_rx_buffer = 1);
	nt_expect_used(VNET_TXQ, 1, 0, 0, 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
}

/* spec §12 #63 */
Test(net_loop_bare, rx_never_ready_is_no_buffer_not_poison)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_tx(4);
	nt_driver_ok();
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .tx_dropped_no_rx_buffer = 1);
	cr_assert_not(nt_needs_reset());
}

static void truncation_case(uint32_t rxlen, uint32_t l2)
{
	uint8_t got[24];

	nt_fill(NT_RX_BUF, 0xAA, 64);
	nt_post1(VNET_RXQ, NT_RX_BUF, rxlen, W);
	nt_post_std_tx();
	nt_kick_tx();
	nt_expect_used(VNET_RXQ, 1, 0, 0, rxlen);
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = l2);
	vdrv_rmem(&NT.v, NT_RX_BUF, got, sizeof(got));
	for (unsigned i = 0; i < rxlen && i < 12; i++)
		cr_assert_eq(got[i], i == 10 ? 1 : 0, "header byte %u", i);
	for (unsigned i = 12; i < rxlen; i++)
		cr_assert_eq(got[i], i - 12, "frame byte %u", i - 12);
	cr_assert_eq(got[rxlen], 0xAA, "byte past the buffer was written");
}

/* spec §12 #64 */
Test(net_loop, rx_buffer_of_20_truncates_to_8_frame_bytes)
{
	truncation_case(20, 8);
}

/* spec §12 #65 */
Test(net_loop, rx_buffer_of_12_gets_header_only)
{
	truncation_case(12, 0);
}

/* spec §12 #66 */
Test(net_loop, rx_buffer_of_8_gets_partial_header)
{
	truncation_case(8, 0);
}

/* spec §12 #67 */
Test(net_loop, truncation_never_spills_into_a_second_buffer)
{
	uint8_t got[256], aa[256];

	memset(aa, 0xAA, sizeof(aa));
	nt_fill(NT_RX_BUF + 0x100, 0xAA, 256);
	nt_post1(VNET_RXQ, NT_RX_BUF, 20, W);
	nt_post1(VNET_RXQ, NT_RX_BUF + 0x100, 256, W);
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_RXQ), 1);
	vdrv_rmem(&NT.v, NT_RX_BUF + 0x100, got, 256);
	cr_assert_arr_eq(got, aa, 256);
}

static void expect_rx_untouched(void)
{
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_RXQ), 0);
	cr_assert_eq(vq_next_avail(vdev_queue(NT.d, VNET_RXQ)), 0, "an RX buffer was consumed");
}

/* spec §12 #68 */
Test(net_loop, tx_chain_shorter_than_header_is_invalid)
{
	nt_post_std_rx();
	nt_post1(VNET_TXQ, NT_TX_BUF, 8, R);
	nt_kick_tx();
	NT_EXPECT(.tx_chain_invalid = 1);
	nt_expect_used(VNET_TXQ, 1, 0, 0, 0);
	expect_rx_untouched();
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
	cr_assert_not(nt_needs_reset());
}

/* spec §12 #69 */
Test(net_loop, tx_write_only_descriptor_is_invalid)
{
	nt_post_std_rx();
	nt_post1(VNET_TXQ, NT_TX_BUF, 100, W);
	nt_kick_tx();
	NT_EXPECT(.tx_chain_invalid = 1);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 1);
	expect_rx_untouched();
}

/* spec §12 #70 */
Test(net_loop, tx_header_skip_address_overflow_is_invalid)
{
	nt_post_std_rx();
	nt_post1(VNET_TXQ, UINT64_MAX - 11, 24, R);
	nt_kick_tx();
	NT_EXPECT(.tx_chain_invalid = 1);
	expect_rx_untouched();
}

/* spec §12 #71 */
Test(net_loop, tx_unmapped_frame_is_invalid)
{
	struct vdrv_buf b[2] = {{NT_TX_BUF, 12, R}, {NT_UNMAPPED, 42, R}};

	nt_post_std_rx();
	post_chain(VNET_TXQ, b, 2);
	nt_kick_tx();
	NT_EXPECT(.tx_chain_invalid = 1);
	expect_rx_untouched();
}

/* spec §12 #72 [QUIRK]: the header is skipped, never read */
Test(net_loop, tx_unmapped_header_goes_unnoticed)
{
	struct vdrv_buf b[2] = {{NT_UNMAPPED, 12, R}, {NT_TX_BUF + 12, 42, R}};

	nt_write_std_frame(NT_TX_BUF);
	nt_post_std_rx();
	post_chain(VNET_TXQ, b, 2);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42);
	nt_expect_std_rx(NT_RX_BUF);
}

/* spec §12 #73 */
Test(net_loop, rx_read_only_descriptor_is_chain_invalid)
{
	nt_post1(VNET_RXQ, NT_RX_BUF, 256, R);
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_chain_invalid = 1);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
	cr_assert_not(nt_needs_reset());
}

/* spec §12 #74 */
Test(net_loop, rx_unmapped_buffer_is_write_failed)
{
	nt_post1(VNET_RXQ, (1ull << 20) + 0x1000, 256, W);
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_write_failed = 1);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
}

static void expect_zeroed(uint64_t gpa, unsigned len)
{
	uint8_t got[64];

	vdrv_rmem(&NT.v, gpa, got, len);
	for (unsigned i = 0; i < len; i++)
		cr_assert_eq(got[i], 0, "byte %u not rolled back to zero (0x%02x)", i, got[i]);
}

/* RX = [12-byte writable header piece, bad tail]: the header must come back as zeros. */
static void header_rollback_case(uint64_t tail, bool tail_writable, enum vnet_counter why)
{
	struct vdrv_buf b[2] = {{NT_RX_BUF, 12, W}, {tail, 64, tail_writable}};
	struct vnet_snapshot want = {.tx_packets = 1, .tx_bytes = 42};

	nt_fill(NT_RX_BUF, 0xAA, 12);
	post_chain(VNET_RXQ, b, 2);
	nt_post_std_tx();
	nt_kick_tx();
	if (why == VNET_CTR_rx_write_failed)
		want.rx_write_failed = 1;
	else
		want.rx_chain_invalid = 1;
	nt_expect(&want);
	expect_zeroed(NT_RX_BUF, 12);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 0);
}

/* spec §12 #75 */
Test(net_loop, rx_write_failure_rolls_header_back_to_zero)
{
	header_rollback_case(NT_UNMAPPED, W, VNET_CTR_rx_write_failed);
}

/* spec §12 #76 */
Test(net_loop, rx_read_only_tail_rolls_header_back)
{
	header_rollback_case(NT_RX_BUF + 0x100, R, VNET_CTR_rx_chain_invalid);
}

/* spec §12 #77 [QUIRK]: a zero-length frame inspects the whole RX chain */
Test(net_loop, empty_frame_sees_read_only_tail)
{
	struct vdrv_buf b[2] = {{NT_RX_BUF, 64, W}, {NT_RX_BUF + 0x100, 64, R}};

	nt_fill(NT_RX_BUF, 0xAA, 64);
	post_chain(VNET_RXQ, b, 2);
	nt_post1(VNET_TXQ, NT_TX_BUF, 12, R);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .rx_chain_invalid = 1);
	expect_zeroed(NT_RX_BUF, 12);
	cr_assert_eq(*(uint8_t *)vdrv_ptr(&NT.v, NT_RX_BUF + 12), 0xAA);
}

/* spec §12 #78 */
Test(net_loop, placed_frame_never_inspects_the_tail)
{
	struct vdrv_buf b[2] = {{NT_RX_BUF, 64, W}, {NT_RX_BUF + 0x100, 64, R}};

	post_chain(VNET_RXQ, b, 2);
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 54);
}

static void setup_with_used(uint64_t rx_used, uint64_t tx_used)
{
	nt_make_default();
	nt_walk_to_features_ok();
	vdrv_setup_queue(&NT.v, VNET_RXQ, 4, NT_RX_DESC, NT_RX_AVAIL, rx_used);
	vdrv_setup_queue(&NT.v, VNET_TXQ, 4, NT_TX_DESC, NT_TX_AVAIL, tx_used);
	nt_driver_ok();
}

/* spec §12 #79 */
Test(net_loop_bare, rx_used_ring_unmapped)
{
	setup_with_used(NT_UNMAPPED, NT_TX_USED);
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_add_used_failures = 1);
	nt_expect_std_rx(NT_RX_BUF);
	cr_assert_not(nt_needs_reset());
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
}

/* spec §12 #80 */
Test(net_loop_bare, tx_used_ring_unmapped)
{
	setup_with_used(NT_RX_USED, NT_UNMAPPED);
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.rx_packets = 1, .rx_bytes = 42, .tx_add_used_failures = 1);
	cr_assert_eq(vdrv_irq_count(&NT.v), 1);
	cr_assert_not(nt_needs_reset());
}

/* spec §12 #81 */
Test(net_loop_bare, both_used_rings_unmapped_raise_nothing)
{
	setup_with_used(NT_UNMAPPED, NT_UNMAPPED + 0x1000);
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_add_used_failures = 1, .rx_add_used_failures = 1);
	cr_assert_eq(vdrv_isr(&NT.v), 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 0);
}

/* spec §12 #82 */
Test(net_loop_bare, repeated_tx_used_failures_never_poison)
{
	setup_with_used(NT_RX_USED, NT_UNMAPPED);
	for (int i = 0; i < 3; i++) {
		nt_post_std_rx();
		nt_post_std_tx();
		nt_kick_tx();
		cr_assert_not(nt_needs_reset());
	}
	NT_EXPECT(.rx_packets = 3, .rx_bytes = 126, .tx_add_used_failures = 3);
}

/* spec §12 #83 [QUIRK] */
Test(net_loop, tx_head_out_of_range_is_invalid_and_unpublishable)
{
	nt_post_std_rx();
	vdrv_set_avail_entry(&NT.v, VNET_TXQ, 0, 7);
	vdrv_set_avail_idx(&NT.v, VNET_TXQ, 1);
	nt_kick_tx();
	NT_EXPECT(.tx_chain_invalid = 1, .tx_add_used_failures = 1);
	expect_rx_untouched();
	cr_assert_not(nt_needs_reset());
}

/* spec §12 #84 [QUIRK] */
Test(net_loop, rx_head_out_of_range_loses_the_publish)
{
	vdrv_set_avail_entry(&NT.v, VNET_RXQ, 0, 7);
	vdrv_set_avail_idx(&NT.v, VNET_RXQ, 1);
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_add_used_failures = 1);
}

/* spec §12 #85 */
Test(net_loop, self_looping_tx_descriptor_ends_at_ttl)
{
	nt_post_std_rx();
	vdrv_set_desc(&NT.v, VNET_TXQ, 0, NT_TX_BUF, 12, VRING_DESC_F_NEXT, 0);
	vdrv_publish(&NT.v, VNET_TXQ, 0);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 36, .rx_packets = 1, .rx_bytes = 36);
}

/* spec §12 #86 */
Test(net_loop, next_out_of_range_ends_the_chain)
{
	nt_write_std_frame(NT_TX_BUF);
	nt_post_std_rx();
	vdrv_set_desc(&NT.v, VNET_TXQ, 0, NT_TX_BUF, 54, VRING_DESC_F_NEXT, 9);
	vdrv_publish(&NT.v, VNET_TXQ, 0);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42);
	nt_expect_std_rx(NT_RX_BUF);
}

static void setup_rx16(void)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_rx(16);
	nt_setup_tx(4);
	nt_driver_ok();
}

/* spec §12 #87: the 12-slot rollback list survives 13 zero-length pieces */
Test(net_loop_bare, many_zero_length_rx_descriptors_do_not_overflow_slots)
{
	struct vdrv_buf b[14];

	setup_rx16();
	for (int i = 0; i < 13; i++)
		b[i] = (struct vdrv_buf){NT_UNMAPPED, 0, W};
	b[13] = (struct vdrv_buf){NT_RX_BUF, 256, W};
	post_chain(VNET_RXQ, b, 14);
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42);
	nt_expect_std_rx(NT_RX_BUF);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 54);
}

/* The same guard on the failure path: zero-length pieces, then a rollback. */
Test(net_loop_bare, zero_length_pieces_then_failure_rolls_back_cleanly)
{
	struct vdrv_buf b[16];

	setup_rx16();
	nt_fill(NT_RX_BUF, 0xAA, 16);
	for (int i = 0; i < 14; i++)
		b[i] = (struct vdrv_buf){NT_UNMAPPED, 0, W};
	b[14] = (struct vdrv_buf){NT_RX_BUF, 5, W};
	b[15] = (struct vdrv_buf){NT_RX_BUF + 5, 64, R};
	post_chain(VNET_RXQ, b, 16);
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_chain_invalid = 1);
	expect_zeroed(NT_RX_BUF, 5);
	cr_assert_eq(*(uint8_t *)vdrv_ptr(&NT.v, NT_RX_BUF + 5), 0xAA);
}

/* spec §12 #88 */
Test(net_loop_bare, header_spread_over_twelve_one_byte_descriptors)
{
	struct vdrv_buf b[13];
	uint8_t got[54];

	setup_rx16();
	for (int i = 0; i < 12; i++)
		b[i] = (struct vdrv_buf){NT_RX_BUF + 0x10 * i, 1, W};
	b[12] = (struct vdrv_buf){NT_RX_BUF + 0x200, 64, W};
	post_chain(VNET_RXQ, b, 13);
	nt_post_std_tx();
	nt_kick_tx();
	nt_expect_used(VNET_RXQ, 1, 0, 0, 54);
	for (int i = 0; i < 12; i++)
		got[i] = *(uint8_t *)vdrv_ptr(&NT.v, NT_RX_BUF + 0x10 * i);
	vdrv_rmem(&NT.v, NT_RX_BUF + 0x200, got + 12, 42);
	for (int i = 0; i < 12; i++)
		cr_assert_eq(got[i], i == 10 ? 1 : 0, "header byte %d", i);
	for (int i = 0; i < 42; i++)
		cr_assert_eq(got[12 + i], i);
}

/* ---- H. oversize (0.15.0) ---- */

#define BIG_TX 0x20000ull
#define BIG_RX 0x40000ull

static uint32_t write_pattern_frame(uint64_t gpa, uint32_t frame)
{
	uint8_t *p = vdrv_ptr(&NT.v, gpa);

	memset(p, 0, VNET_HDR_LEN);
	for (uint32_t i = 0; i < frame; i++)
		p[VNET_HDR_LEN + i] = (uint8_t)(i * 7 + 3);
	return VNET_HDR_LEN + frame;
}

/* spec §12 #89 */
Test(net_loop, frame_of_exactly_the_limit_is_accepted)
{
	nt_post1(VNET_TXQ, BIG_TX, write_pattern_frame(BIG_TX, VNET_MAX_FRAME), R);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 65557, .tx_dropped_no_rx_buffer = 1);
}

/* spec §12 #90 */
Test(net_loop, frame_one_byte_over_is_dropped_whole)
{
	nt_post_std_rx();
	nt_post1(VNET_TXQ, BIG_TX, write_pattern_frame(BIG_TX, VNET_MAX_FRAME + 1), R);
	nt_kick_tx();
	NT_EXPECT(.tx_oversize_dropped = 1);
	nt_expect_used(VNET_TXQ, 1, 0, 0, 0);
	expect_rx_untouched();
}

/* spec §12 #91 */
Test(net_loop, oversize_summed_over_descriptors)
{
	struct vdrv_buf b[2] = {{BIG_TX, 12 + 40000, R}, {BIG_TX + 0x10000, 30000, R}};

	nt_post_std_rx();
	post_chain(VNET_TXQ, b, 2);
	nt_kick_tx();
	NT_EXPECT(.tx_oversize_dropped = 1);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 1);
	expect_rx_untouched();
}

/* spec §12 #92 */
Test(net_loop, oversize_is_decided_before_reading)
{
	struct vdrv_buf b[2] = {{BIG_TX, 12 + 40000, R}, {NT_UNMAPPED, 30000, R}};

	nt_post_std_rx();
	post_chain(VNET_TXQ, b, 2);
	nt_kick_tx();
	NT_EXPECT(.tx_oversize_dropped = 1);
}

static void largest_frame_delivered(void)
{
	const uint8_t *tx, *rx;

	nt_post1(VNET_RXQ, BIG_RX, 65600, W);
	nt_post1(VNET_TXQ, BIG_TX, write_pattern_frame(BIG_TX, VNET_MAX_FRAME), R);
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 65557, .rx_packets = 1, .rx_bytes = 65557);
	nt_expect_used(VNET_RXQ, 1, 0, 0, 65569);
	tx = vdrv_ptr(&NT.v, BIG_TX + VNET_HDR_LEN);
	rx = vdrv_ptr(&NT.v, BIG_RX + VNET_HDR_LEN);
	cr_assert_eq(memcmp(tx, rx, VNET_MAX_FRAME), 0);
}

/* spec §12 #93 */
Test(net_loop, largest_frame_is_delivered_intact)
{
	largest_frame_delivered();
}

/* ---- I. DRIVER_OK gate and guest memory ---- */

/* spec §12 #94 */
Test(net_loop_bare, kick_before_driver_ok_does_nothing)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_rx(4);
	nt_setup_tx(4);
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	NT_EXPECT(0);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 0);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_RXQ), 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 0);
	nt_driver_ok();
	nt_kick_tx();
	NT_EXPECT(.tx_packets = 1, .tx_bytes = 42, .rx_packets = 1, .rx_bytes = 42);
}

/* spec §12 #95 */
Test(net_loop, kick_after_reset_does_nothing)
{
	nt_post_std_rx();
	nt_post_std_tx();
	vdrv_set_status(&NT.v, 0);
	nt_kick_tx();
	NT_EXPECT(0);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 0);
	cr_assert_eq(vdrv_irq_count(&NT.v), 0);
}

/* spec §12 #96 */
Test(net_loop_bare, kick_without_guest_memory_warns_once)
{
	nt_make(VNET_COPY_DIRECT, NULL, false);
	vdrv_log_capture_start();
	nt_walk_to_features_ok();
	nt_setup_rx(4);
	nt_setup_tx(4);
	nt_driver_ok();
	nt_post_std_rx();
	nt_post_std_tx();
	for (int i = 0; i < 3; i++)
		nt_kick_tx();
	NT_EXPECT(0);
	cr_assert_eq(vdrv_log_count("queue notify before set_mem"), 1);
	cr_assert_eq(vdrv_used_idx(&NT.v, VNET_TXQ), 0);
}

/* ---- J. interrupts ---- */

/* spec §12 #98 */
Test(net_loop, ack_clears_the_vring_bit)
{
	nt_post_std_rx();
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert_eq(vdrv_isr(&NT.v), 1);
	vdrv_ack(&NT.v, 1);
	cr_assert_eq(vdrv_isr(&NT.v), 0);
}

static void rx_poison_setup(void)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_rx(0); /* QueueNum never written: 256 */
	nt_setup_tx(4);
	nt_driver_ok();
	vdrv_set_avail_idx(&NT.v, VNET_RXQ, 1000);
}

/* spec §12 #100 */
Test(net_loop_bare, ack_of_both_bits_keeps_needs_reset)
{
	rx_poison_setup();
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert_eq(vdrv_isr(&NT.v), 3);
	vdrv_ack(&NT.v, 3);
	cr_assert_eq(vdrv_isr(&NT.v), 0);
	cr_assert_eq(nt_status(), ST_OK | ST_NEEDS_R);
}

/* spec §12 #102 */
Test(net_loop_bare, completion_plus_poison_fire_twice)
{
	rx_poison_setup();
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert_eq(vdrv_irq_count(&NT.v), 2);
}

/* ---- the same data paths on the STAGED (two-copy) device ---- */

TestSuite(net_staged, .init = nt_std_setup_staged, .fini = nt_teardown);

Test(net_staged, std_frame_is_echoed)
{
	struct vdrv_buf b[3] = {{NT_TX_BUF, 5, R}, {NT_TX_BUF + 5, 7, R}, {NT_TX_BUF + 12, 42, R}};

	split_tx_case(b, 3);
}

Test(net_staged, truncation)
{
	truncation_case(20, 8);
}

Test(net_staged, largest_frame)
{
	largest_frame_delivered();
}

Test(net_staged, oversize_and_invalid)
{
	struct vdrv_buf b[2] = {{NT_TX_BUF, 12, R}, {NT_UNMAPPED, 42, R}};

	nt_post_std_rx();
	nt_post1(VNET_TXQ, BIG_TX, write_pattern_frame(BIG_TX, VNET_MAX_FRAME + 1), R);
	post_chain(VNET_TXQ, b, 2);
	nt_kick_tx();
	NT_EXPECT(.tx_oversize_dropped = 1, .tx_chain_invalid = 1);
	expect_rx_untouched();
}
