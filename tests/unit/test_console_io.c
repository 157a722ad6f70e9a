// SPDX-License-Identifier: MIT
/*
 * virtio-console data paths: reset semantics, TX capture, RX delivery and
 * the host-side bounds (specs/virtio-console.md §3.3, §5, §6; §9 cases
 * 52-57 and 97-134). Case 135 (a real Linux guest finds the ports by name)
 * is end to end and lives in tests/e2e. Transport-side parts of the reset
 * cases (registers, queue state) are transport tests 72-86.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>

#include "unit/test_console.h"

#define KIB 1024u

static void expect_fds(uint64_t irq, uint64_t tx, uint64_t stats)
{
	cr_assert_eq(ct_fd_count(vc_irq_fd(CT.d)), irq, "irq eventfd");
	cr_assert_eq(ct_fd_count(vc_tx_fd(CT.d)), tx, "tx eventfd");
	cr_assert_eq(ct_fd_count(vc_stats_tx_fd(CT.d)), stats, "stats eventfd");
}

static void expect_fill(const uint8_t *p, size_t n, uint8_t fill)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(p[i], fill, "byte %zu is 0x%02x, expected 0x%02x", i, p[i], fill);
}

/* Drain a port and check it holds `chunks` runs of `each` bytes filled first, first+1, ... */
static void expect_runs(unsigned port, size_t each, unsigned chunks, uint8_t first)
{
	uint8_t *got = NULL;
	size_t n = vc_drain_port(CT.d, port, &got);

	cr_assert_eq(n, each * chunks, "port %u holds %zu bytes", port, n);
	for (unsigned i = 0; i < chunks; i++)
		expect_fill(got + i * each, each, (uint8_t)(first + i));
	free(got);
}

/* n standalone 32 KiB chains on a TX queue, filled first, first+1, ...; not notified. */
static void post_runs(uint16_t q, unsigned n, uint8_t first)
{
	for (unsigned i = 0; i < n; i++)
		ct_post1(q, ct_buf(32 * KIB, (uint8_t)(first + i)), 32 * KIB, false);
}

/* A device with a small capture cap, walked with queue 5 only. */
static void make_capped(size_t tx_cap)
{
	struct vc_limits lim = {.tx_buf_cap = tx_cap};

	ct_make(VDRV_MEM_M1, &lim, true);
	ct_up(CT_FEATURES, 1u << 5, 16, true);
}

static struct vc_counters snap(void)
{
	struct vc_counters c;

	vc_counters_snapshot(CT.d, &c);
	return c;
}

/* ---- reset -------------------------------------------------------------- */

/* spec §9 #52 */
Test(console_reset, clears_protocol_state_and_keeps_captured_output)
{
	static const char *left[3] = {"leftover0", "leftover1", "leftover2"};

	ct_wire(0);
	for (unsigned p = 0; p < 3; p++) {
		cr_assert_eq(vc_inject_tx(CT.d, p, left[p], 9), 0);
		vc_handle_control_event(CT.d, p, EV_PORT_OPEN, 1);
		vc_handle_control_event(CT.d, p, EV_PORT_READY, 1);
		cr_assert_eq(vc_queue_input_port(CT.d, p, "in", 2), 0);
	}
	vc_handle_control_event(CT.d, 0xFFFFFFFFu, EV_DEVICE_READY, 1);
	cr_assert(vc_device_ready(CT.d));
	cr_assert_gt(vc_ctrl_out_len(CT.d), 0u);
	vdrv_set_status(&CT.v, 0);
	cr_assert_eq(vdrv_status(&CT.v), 0u);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	cr_assert_eq(vdev_driver_features(vc_vdev(CT.d)), 0u);
	cr_assert_not(vc_device_ready(CT.d));
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	for (unsigned p = 0; p < 3; p++) {
		cr_assert_eq(vc_pending_rx_len(CT.d, p), 0u);
		cr_assert_not(vc_port_opened(CT.d, p));
		cr_assert_not(vc_port_readied(CT.d, p));
	}
	ct_expect_drain(vc_drain_output, left[0], 9);
	ct_expect_drain(vc_drain_bulk, left[1], 9);
	ct_expect_drain(vc_drain_port2, left[2], 9);
	cr_assert_eq(snap().port[1].rx_cleared_bytes, 2u);
	ct_teardown();
}

/* spec §9 #53 (transport 76 covers the queue registers) */
Test(console_reset, fresh_rings_after_reset_start_at_avail_index_0)
{
	ct_wire(1u << 5);
	ct_post1_notify(5, ct_data("before", 6), 6, false);
	ct_expect_drain(vc_drain_bulk, "before", 6);
	vdrv_set_status(&CT.v, 0);
	for (uint32_t q = 0; q < VC_NUM_QUEUES; q++) {
		vdrv_w32(&CT.v, VIRTIO_MMIO_QUEUE_SEL, q);
		cr_assert_eq(vdrv_r32(&CT.v, VIRTIO_MMIO_QUEUE_READY), 0u);
		cr_assert_eq(vdrv_r32(&CT.v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256u);
	}
	ct_up(CT_FEATURES, 1u << 5, 16, true);
	ct_post1_notify(5, ct_data("after", 5), 5, false);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	ct_expect_drain(vc_drain_bulk, "after", 5);
	ct_teardown();
}

/* spec §9 #54 */
Test(console_reset, captures_unnotified_bulk_chain_silently)
{
	ct_wire(1u << 5);
	ct_post1(5, ct_data("last frame", 10), 10, false);
	vdrv_set_status(&CT.v, 0);
	cr_assert_eq(vc_tx_buf_len(CT.d, 1), 10u);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	expect_fds(0, 0, 0);
	cr_assert_eq(snap().port[1].tx_reset_bytes, 10u);
	ct_expect_drain(vc_final_drain, "last frame", 10);
	ct_teardown();
}

/* spec §9 #55 */
Test(console_reset, captures_unnotified_stats_chain_silently)
{
	ct_wire(1u << 7);
	ct_post1(7, ct_data("{\"x\":1}\n", 8), 8, false);
	vdrv_set_status(&CT.v, 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 7), 1);
	expect_fds(0, 0, 0);
	ct_expect_drain(vc_drain_port2, "{\"x\":1}\n", 8);
	ct_teardown();
}

/* spec §9 #56 */
Test(console_reset, captures_nothing_before_driver_ok)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, 1u << 5, 16, false);
	ct_post1(5, ct_data("early", 5), 5, false);
	vdrv_set_status(&CT.v, 0);
	cr_assert_eq(vc_tx_buf_len(CT.d, 1), 0u);
	ct_teardown();
}

/* spec §9 #57 */
Test(console_reset, capture_stops_at_the_per_call_budget)
{
	ct_wire(1u << 5);
	post_runs(5, 9, 1);
	vdrv_set_status(&CT.v, 0);
	expect_runs(1, 32 * KIB, 8, 1);
	ct_teardown();
}

/* ---- TX ----------------------------------------------------------------- */

/* spec §9 #97 */
Test(console_tx, bulk_chain_is_captured_and_wakes_the_host)
{
	static const char msg[] = "port1 single descriptor TX";

	ct_wire(1u << 5);
	ct_post1_notify(5, ct_data(msg, sizeof(msg) - 1), sizeof(msg) - 1, false);
	ct_expect_drain(vc_drain_bulk, msg, sizeof(msg) - 1);
	ct_expect_drain(vc_drain_output, NULL, 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	cr_assert_eq(ct_used_len(5, 0), 0u);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	expect_fds(1, 1, 0);
	ct_teardown();
}

/* spec §9 #98 */
Test(console_tx, stats_chain_wakes_only_the_stats_reader)
{
	ct_wire(1u << 7);
	ct_post1_notify(7, ct_data("stats", 5), 5, false);
	ct_expect_drain(vc_drain_port2, "stats", 5);
	expect_fds(1, 0, 1);
	ct_expect_drain(vc_drain_output, NULL, 0);
	ct_expect_drain(vc_drain_bulk, NULL, 0);
	ct_teardown();
}

/* spec §9 #99 */
Test(console_tx, console_chain_goes_to_port0_output)
{
	ct_wire(1u << 1);
	ct_post1_notify(1, ct_data("hvc0 says hi", 12), 12, false);
	ct_expect_drain(vc_drain_output, "hvc0 says hi", 12);
	expect_fds(1, 1, 0);
	ct_teardown();
}

/* spec §9 #100 */
Test(console_tx, multi_descriptor_chain_is_concatenated_in_order)
{
	struct vdrv_buf b[4];

	ct_wire(1u << 5);
	for (unsigned i = 0; i < 4; i++)
		b[i] = (struct vdrv_buf){.gpa = ct_buf(4 * KIB, (uint8_t)(0xA1 + i)),
					 .len = 4 * KIB};
	vdrv_post_notify(&CT.v, 5, b, 4);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	expect_runs(1, 4 * KIB, 4, 0xA1);
	ct_teardown();
}

/* spec §9 #101 */
Test(console_tx, descriptor_is_clamped_to_32_kib)
{
	uint64_t g;
	struct vc_counters c;

	ct_wire(1u << 5);
	g = ct_buf(64 * KIB, 0x55);
	memset(vdrv_ptr(&CT.v, g + 32 * KIB), 0x99, 32 * KIB);
	ct_post1_notify(5, g, 64 * KIB, false);
	expect_runs(1, 32 * KIB, 1, 0x55);
	c = snap();
	cr_assert_eq(c.port[1].tx_desc_clamped, 1u);
	cr_assert_eq(c.port[1].tx_bytes_clamped, 32 * KIB);
	ct_teardown();
}

/* spec §9 #102 */
Test(console_tx, walk_stops_after_256_kib_and_resumes_on_next_notify)
{
	ct_wire(1u << 5);
	post_runs(5, 9, 1);
	vdrv_notify(&CT.v, 5);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 8);
	expect_runs(1, 32 * KIB, 8, 1);
	cr_assert_eq(snap().port[1].tx_call_caps, 1u);
	vdrv_notify(&CT.v, 5);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 9);
	expect_runs(1, 32 * KIB, 1, 9);
	ct_teardown();
}

/* spec §9 #103 */
Test(console_tx, budget_is_checked_only_between_chains)
{
	struct vdrv_buf b[10];

	ct_wire(1u << 5);
	for (unsigned i = 0; i < 10; i++)
		b[i] = (struct vdrv_buf){.gpa = ct_buf(32 * KIB, (uint8_t)(i + 1)),
					 .len = 32 * KIB};
	vdrv_post_notify(&CT.v, 5, b, 10);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	expect_runs(1, 32 * KIB, 10, 1);
	ct_teardown();
}

/* spec §9 #104 */
Test(console_tx, zero_length_chain_completes_without_any_wake)
{
	ct_wire(1u << 5);
	ct_post1_notify(5, ct_buf(16, 0), 0, false);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	expect_fds(0, 0, 0);
	ct_teardown();
}

/* spec §9 #105 */
Test(console_tx, unreadable_segment_is_skipped_within_the_chain)
{
	struct vdrv_buf b[3] = {
		{.gpa = 0, .len = 16},
		{.gpa = CT_UNMAPPED, .len = 16},
		{.gpa = 0, .len = 16},
	};
	uint8_t *got = NULL;

	ct_wire(1u << 5);
	b[0].gpa = ct_buf(16, 0x11);
	b[2].gpa = ct_buf(16, 0x33);
	vdrv_post_notify(&CT.v, 5, b, 3);
	cr_assert_eq(vc_drain_bulk(CT.d, &got), 32u);
	expect_fill(got, 16, 0x11);
	expect_fill(got + 16, 16, 0x33);
	free(got);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	cr_assert_eq(snap().port[1].tx_read_errors, 1u);
	ct_teardown();
}

/* spec §9 #106 */
Test(console_tx, fully_unreadable_chain_completes_silently)
{
	struct vdrv_buf b[2] = {{.gpa = CT_UNMAPPED, .len = 16},
				{.gpa = CT_UNMAPPED + 64, .len = 8}};

	ct_wire(1u << 5);
	vdrv_post_notify(&CT.v, 5, b, 2);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	cr_assert_eq(vc_tx_buf_len(CT.d, 1), 0u);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	expect_fds(0, 0, 0);
	ct_teardown();
}

/* spec §9 #107 */
Test(console_tx, write_only_descriptor_content_is_ignored)
{
	struct vdrv_buf b[2];

	ct_wire(1u << 5);
	b[0] = (struct vdrv_buf){.gpa = ct_data("AB", 2), .len = 2};
	b[1] = (struct vdrv_buf){.gpa = ct_data("XYZ", 3), .len = 3, .write = true};
	vdrv_post_notify(&CT.v, 5, b, 2);
	ct_expect_drain(vc_drain_bulk, "AB", 2);
	ct_teardown();
}

/* spec §9 #108 (transport 109 covers the gate itself) */
Test(console_tx, notify_before_driver_ok_captures_nothing)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, 1u << 5, 16, false);
	ct_post1_notify(5, ct_data("early", 5), 5, false);
	cr_assert_eq(vc_tx_buf_len(CT.d, 1), 0u);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 0);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	expect_fds(0, 0, 0);
	ct_teardown();
}

/* spec §9 #110 */
Test(console_tx, final_drain_without_memory_does_nothing)
{
	ct_make(VDRV_MEM_M1, NULL, false);
	ct_up(CT_FEATURES, 1u << 5, 16, true);
	ct_post1(5, ct_data("x", 1), 1, false);
	ct_expect_drain(vc_final_drain, NULL, 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 0);
	expect_fds(0, 0, 0);
	ct_teardown();
}

/* spec §9 #111 */
Test(console_tx, tx_walk_on_unconfigured_queues_does_nothing)
{
	ct_wire(0);
	vdrv_notify(&CT.v, 1);
	vdrv_notify(&CT.v, 5);
	ct_expect_drain(vc_final_drain, NULL, 0);
	expect_fds(0, 0, 0);
	cr_assert_eq(snap().pop_errors, 0u);
	ct_teardown();
}

/* spec §9 #112 */
Test(console_tx, each_tx_queue_feeds_only_its_own_port)
{
	ct_wire(1u << 1 | 1u << 5 | 1u << 7);
	ct_post1_notify(1, ct_data("zero", 4), 4, false);
	ct_post1_notify(5, ct_data("one!", 4), 4, false);
	ct_post1_notify(7, ct_data("two?", 4), 4, false);
	cr_assert_eq(vdrv_used_idx(&CT.v, 1), 1);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 1);
	cr_assert_eq(vdrv_used_idx(&CT.v, 7), 1);
	ct_expect_drain(vc_drain_output, "zero", 4);
	ct_expect_drain(vc_drain_bulk, "one!", 4);
	ct_expect_drain(vc_drain_port2, "two?", 4);
	expect_fds(3, 2, 1);
	ct_teardown();
}

/* spec §9 #113 */
Test(console_tx, final_drain_collects_unnotified_bulk_chains)
{
	ct_wire(1u << 5);
	ct_post1(5, ct_data("EXIT", 4), 4, false);
	ct_expect_drain(vc_final_drain, "EXIT", 4);
	cr_assert_eq(ct_fd_count(vc_tx_fd(CT.d)), 1u);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	ct_teardown();
}

/* spec §9 #114 */
Test(console_tx, push_back_goes_in_front_of_bulk_output)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	cr_assert_eq(vc_inject_tx(CT.d, 1, "CD", 2), 0);
	cr_assert_eq(vc_push_back_bulk(CT.d, "AB", 2), 0);
	cr_assert_eq(vc_push_back_bulk(CT.d, "", 0), 0);
	ct_expect_drain(vc_drain_bulk, "ABCD", 4);
	cr_assert_eq(vc_push_back_bulk(CT.d, "XY", 2), 0);
	ct_expect_drain(vc_drain_bulk, "XY", 2);
	ct_teardown();
}

/* spec §9 #115 */
Test(console_tx, second_drain_returns_nothing)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	cr_assert_eq(vc_inject_tx(CT.d, 1, "once", 4), 0);
	ct_expect_drain(vc_drain_bulk, "once", 4);
	ct_expect_drain(vc_drain_bulk, NULL, 0);
	ct_teardown();
}

Test(console_tx, read_port_hands_out_bytes_in_pieces)
{
	char got[8] = {0};

	ct_make(VDRV_MEM_M1, NULL, true);
	cr_assert_eq(vc_inject_tx(CT.d, 0, "abcdef", 6), 0);
	cr_assert_eq(vc_read_port(CT.d, 0, got, 4), 4);
	cr_assert_arr_eq(got, "abcd", 4);
	cr_assert_eq(vc_read_port(CT.d, 0, got, 8), 2);
	cr_assert_arr_eq(got, "ef", 2);
	cr_assert_eq(vc_read_port(CT.d, 0, got, 8), 0);
	cr_assert_eq(vc_read_port(CT.d, 3, got, 8), -EINVAL);
	ct_teardown();
}

/* ---- host-side bounds --------------------------------------------------- */

/* A full capture buffer leaves chains in the ring; a host read resumes the walk. */
Test(console_bounds, full_capture_buffer_stalls_until_the_host_reads)
{
	make_capped(64 * KIB);
	post_runs(5, 5, 1);
	vdrv_notify(&CT.v, 5);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 2);
	cr_assert_eq(snap().port[1].tx_buf_stalls, 1u);
	cr_assert_eq(ct_fd_count(vc_tx_fd(CT.d)), 1u);
	vdrv_notify(&CT.v, 5); /* a guest kick changes nothing while full */
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 2);
	expect_runs(1, 32 * KIB, 2, 1);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 4, "host read did not resume the walk");
	cr_assert_eq(ct_fd_count(vc_tx_fd(CT.d)), 1u, "resumed walk must wake the host");
	expect_runs(1, 32 * KIB, 2, 3);
	expect_runs(1, 32 * KIB, 1, 5);
	cr_assert_eq(vdrv_used_idx(&CT.v, 5), 5);
	ct_teardown();
}

/*
 * The reset-time walk stops at the cap too: a guest that publishes and resets
 * in a loop never wakes the host, so nothing else would bound the buffer.
 * The final walk (the host is taking everything) does not stop.
 */
Test(console_bounds, reset_capture_stops_at_the_cap_and_final_drain_does_not)
{
	make_capped(32 * KIB);
	post_runs(5, 3, 1);
	vdrv_set_status(&CT.v, 0);
	cr_assert_eq(vc_tx_buf_len(CT.d, 1), 32 * KIB);
	cr_assert_eq(snap().port[1].tx_buf_stalls, 1u);
	ct_up(CT_FEATURES, 1u << 5, 16, true);
	post_runs(5, 3, 4);
	expect_runs(1, 32 * KIB, 1, 1);
	cr_assert_eq(vc_inject_tx(CT.d, 1, "full", 4), 0);
	cr_assert_eq(vc_inject_tx(CT.d, 1, NULL, 0), 0);
	cr_assert_eq(vc_push_back_bulk(CT.d, NULL, 0), 0);
	post_runs(5, 1, 7);
	{
		uint8_t *got = NULL;
		size_t n = vc_final_drain(CT.d, &got);

		cr_assert_eq(n, 4 + 4 * 32 * KIB);
		cr_assert_arr_eq(got, "full", 4);
		for (unsigned i = 0; i < 4; i++)
			expect_fill(got + 4 + i * 32 * KIB, 32 * KIB, (uint8_t)(i + 4));
		free(got);
	}
	ct_teardown();
}

Test(console_bounds, input_beyond_the_pending_cap_is_refused_whole)
{
	struct vc_limits lim = {.rx_pending_cap = 16};
	struct vc_counters c;

	ct_make(VDRV_MEM_M1, &lim, true);
	cr_assert_eq(vc_queue_input_port1(CT.d, "0123456789", 10), 0);
	cr_assert_eq(vc_queue_input_port1(CT.d, "abcdefg", 7), -ENOBUFS);
	cr_assert_eq(vc_queue_input_port1(CT.d, "abcdef", 6), 0);
	ct_expect_pending(1, "0123456789abcdef", 16);
	cr_assert_eq(vc_queue_input_port(CT.d, 3, "x", 1), -EINVAL);
	c = snap();
	cr_assert_eq(c.port[1].rx_input_rejected, 1u);
	cr_assert_eq(c.port[1].rx_input_rejected_bytes, 7u);
	ct_teardown();
}

/* ---- RX ----------------------------------------------------------------- */

/* spec §9 #116 */
Test(console_rx, console_input_is_written_into_the_posted_buffer)
{
	uint64_t buf;
	char got[2];

	ct_wire(1u << 0);
	buf = ct_buf(64, 0);
	ct_post1(0, buf, 64, true);
	cr_assert_eq(vc_queue_input(CT.d, "hi", 2), 0);
	vdrv_rmem(&CT.v, buf, got, 2);
	cr_assert_arr_eq(got, "hi", 2);
	cr_assert_eq(ct_used_len(0, 0), 2u);
	cr_assert_eq(vc_pending_rx_len(CT.d, 0), 0u);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	cr_assert_eq(snap().port[0].rx_bytes, 2u);
	ct_teardown();
}

/* spec §9 #117 */
Test(console_rx, input_waits_for_a_buffer_and_goes_out_on_rx_notify)
{
	uint64_t buf;
	char got[3];

	ct_wire(1u << 0);
	cr_assert_eq(vc_queue_input(CT.d, "abc", 3), 0);
	cr_assert_eq(vc_pending_rx_len(CT.d, 0), 3u);
	buf = ct_buf(64, 0);
	ct_post1_notify(0, buf, 64, true);
	vdrv_rmem(&CT.v, buf, got, 3);
	cr_assert_arr_eq(got, "abc", 3);
	cr_assert_eq(vc_pending_rx_len(CT.d, 0), 0u);
	ct_teardown();
}

/* spec §9 #118 */
Test(console_rx, driver_ok_delivers_pending_console_input)
{
	uint64_t buf;
	char got;

	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, 1u << 0, 16, false);
	buf = ct_buf(64, 0);
	ct_post1(0, buf, 64, true);
	cr_assert_eq(vc_queue_input(CT.d, "x", 1), 0);
	cr_assert_eq(vc_pending_rx_len(CT.d, 0), 1u);
	vdrv_set_status(&CT.v, ST_OK);
	cr_assert_eq(vc_pending_rx_len(CT.d, 0), 0u);
	vdrv_rmem(&CT.v, buf, &got, 1);
	cr_assert_eq(got, 'x');
	ct_teardown();
}

/* Port 1 input with one RX buffer posted on queue 4, the port opened or not, then a kick. */
static void bulk_input_try(bool open)
{
	if (open)
		vc_handle_control_event(CT.d, 1, EV_PORT_OPEN, 1);
	ct_post1(4, ct_buf(64, 0), 64, true);
	cr_assert_eq(vc_queue_input_port1(CT.d, "x", 1), 0);
	vdrv_notify(&CT.v, 4);
}

static void expect_bulk_held(void)
{
	cr_assert_eq(vc_pending_rx_len(CT.d, 1), 1u);
	cr_assert_eq(vdrv_used_idx(&CT.v, 4), 0);
}

/* spec §9 #119 */
Test(console_rx, driver_ok_does_not_deliver_bulk_input)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, 1u << 4, 16, false);
	bulk_input_try(true);
	vdrv_set_status(&CT.v, ST_OK);
	expect_bulk_held();
	vdrv_notify(&CT.v, 4);
	cr_assert_eq(vc_pending_rx_len(CT.d, 1), 0u);
	cr_assert_eq(vdrv_used_idx(&CT.v, 4), 1);
	ct_teardown();
}

/* spec §9 #120 */
Test(console_rx, bulk_input_waits_for_the_port_to_open)
{
	ct_wire(1u << 4);
	bulk_input_try(false);
	expect_bulk_held();
	ct_teardown();
}

/* spec §9 #121 */
Test(console_rx, bulk_input_needs_multiport)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_F_V1, 1u << 4, 16, true);
	bulk_input_try(true);
	expect_bulk_held();
	ct_teardown();
}

/* spec §9 #122 */
Test(console_rx, bulk_input_needs_a_ready_queue)
{
	ct_wire(0);
	vc_handle_control_event(CT.d, 1, EV_PORT_OPEN, 1);
	cr_assert_eq(vc_queue_input_port1(CT.d, "x", 1), 0);
	vdrv_notify(&CT.v, 4);
	cr_assert_eq(vc_pending_rx_len(CT.d, 1), 1u);
	cr_assert_eq(snap().pop_errors, 0u);
	ct_teardown();
}

/* spec §9 #123 */
Test(console_rx, bulk_input_without_memory_stays_pending)
{
	ct_make(VDRV_MEM_M1, NULL, false);
	ct_up(CT_FEATURES, 1u << 4, 16, true);
	vc_handle_control_event(CT.d, 1, EV_PORT_OPEN, 1);
	cr_assert_eq(vc_queue_input_port1(CT.d, "xyz", 3), 0);
	ct_expect_pending(1, "xyz", 3);
	ct_teardown();
}

/* spec §9 #124 */
Test(console_rx, console_input_has_no_open_gate)
{
	for (int mp = 0; mp < 2; mp++) {
		uint64_t buf;
		char got;

		ct_make(VDRV_MEM_M1, NULL, true);
		ct_up(mp ? CT_FEATURES : CT_F_V1, 1u << 0, 16, true);
		buf = ct_buf(64, 0);
		ct_post1(0, buf, 64, true);
		cr_assert_not(vc_port_opened(CT.d, 0));
		cr_assert_eq(vc_queue_input(CT.d, "k", 1), 0);
		cr_assert_eq(vdrv_used_idx(&CT.v, 0), 1, "multiport %d", mp);
		vdrv_rmem(&CT.v, buf, &got, 1);
		cr_assert_eq(got, 'k');
		ct_teardown();
	}
}

static void pattern(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + 1);
}

/* spec §9 #125 */
Test(console_rx, input_spreads_over_chains_with_one_interrupt)
{
	uint8_t msg[100], got[100];
	uint64_t b0, b1;

	pattern(msg, sizeof(msg));
	ct_wire(1u << 0);
	b0 = ct_buf(64, 0);
	b1 = ct_buf(64, 0);
	ct_post1(0, b0, 64, true);
	ct_post1(0, b1, 64, true);
	cr_assert_eq(vc_queue_input(CT.d, msg, sizeof(msg)), 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 2);
	cr_assert_eq(ct_used_len(0, 0), 64u);
	cr_assert_eq(ct_used_len(0, 1), 36u);
	vdrv_rmem(&CT.v, b0, got, 64);
	vdrv_rmem(&CT.v, b1, got + 64, 36);
	cr_assert_arr_eq(got, msg, sizeof(msg));
	cr_assert_eq(vc_pending_rx_len(CT.d, 0), 0u);
	cr_assert_eq(vdrv_irq_count(&CT.v), 1u);
	ct_teardown();
}

/* spec §9 #126 */
Test(console_rx, input_fills_write_segments_in_order)
{
	uint8_t msg[15], got[15];
	struct vdrv_buf b[2];

	pattern(msg, sizeof(msg));
	ct_wire(1u << 0);
	b[0] = (struct vdrv_buf){.gpa = ct_buf(10, 0), .len = 10, .write = true};
	b[1] = (struct vdrv_buf){.gpa = ct_buf(10, 0), .len = 10, .write = true};
	vdrv_post(&CT.v, 0, b, 2);
	cr_assert_eq(vc_queue_input(CT.d, msg, sizeof(msg)), 0);
	cr_assert_eq(ct_used_len(0, 0), 15u);
	vdrv_rmem(&CT.v, b[0].gpa, got, 10);
	vdrv_rmem(&CT.v, b[1].gpa, got + 10, 5);
	cr_assert_arr_eq(got, msg, sizeof(msg));
	ct_teardown();
}

/* A two-segment chain whose second segment is unmapped. */
static void post_torn(uint16_t q)
{
	struct vdrv_buf b[2] = {
		{.gpa = ct_buf(32, 0), .len = 32, .write = true},
		{.gpa = CT_UNMAPPED, .len = 32, .write = true},
	};

	vdrv_post(&CT.v, q, b, 2);
}

/* spec §9 #127 */
Test(console_rx, torn_chain_returns_empty_and_keeps_every_byte)
{
	uint8_t msg[64];

	pattern(msg, sizeof(msg));
	ct_wire(1u << 0);
	post_torn(0);
	cr_assert_eq(vc_queue_input(CT.d, msg, sizeof(msg)), 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 1);
	cr_assert_eq(ct_used_len(0, 0), 0u);
	ct_expect_pending(0, msg, sizeof(msg));
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	expect_fds(0, 0, 0);
	cr_assert_eq(snap().port[0].rx_torn, 1u);
	ct_teardown();
}

/* spec §9 #128 */
Test(console_rx, torn_chain_stops_the_drain_before_the_next_chain)
{
	uint8_t msg[64], got[32];
	uint64_t good;

	pattern(msg, sizeof(msg));
	ct_wire(1u << 0);
	post_torn(0);
	good = ct_buf(32, 0xEE);
	ct_post1(0, good, 32, true);
	cr_assert_eq(vc_queue_input(CT.d, msg, sizeof(msg)), 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 1);
	expect_fill(vdrv_ptr(&CT.v, good), 32, 0xEE);
	vdrv_notify(&CT.v, 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 2);
	vdrv_rmem(&CT.v, good, got, 32);
	cr_assert_arr_eq(got, msg, 32);
	ct_expect_pending(0, msg + 32, 32);
	ct_teardown();
}

/* spec §9 #129 */
Test(console_rx, delivered_chain_before_a_torn_one_still_signals)
{
	uint8_t msg[96];

	pattern(msg, sizeof(msg));
	ct_wire(1u << 0);
	ct_post1(0, ct_buf(32, 0), 32, true);
	post_torn(0);
	cr_assert_eq(vc_queue_input(CT.d, msg, sizeof(msg)), 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 2);
	cr_assert_eq(ct_used_len(0, 0), 32u);
	cr_assert_eq(ct_used_len(0, 1), 0u);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	ct_expect_pending(0, msg + 32, 64);
	ct_teardown();
}

/* spec §9 #130 */
Test(console_rx, drain_completes_at_most_64_chains)
{
	uint64_t g;

	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, 1u << 0, 128, true);
	g = ct_buf(16, 0);
	for (int i = 0; i < 70; i++)
		ct_post1(0, g, 0, true);
	cr_assert_eq(vc_queue_input(CT.d, "data", 4), 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 64);
	for (uint16_t i = 0; i < 64; i++)
		cr_assert_eq(ct_used_len(0, i), 0u);
	ct_expect_pending(0, "data", 4);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	cr_assert_eq(snap().port[0].rx_call_caps, 1u);
	vdrv_notify(&CT.v, 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 70);
	ct_teardown();
}

/* spec §9 #131 */
Test(console_rx, readable_descriptors_are_skipped_in_rx_chains)
{
	struct vdrv_buf b[2];
	char got[3];

	ct_wire(1u << 0);
	b[0] = (struct vdrv_buf){.gpa = ct_buf(16, 0x44), .len = 16};
	b[1] = (struct vdrv_buf){.gpa = ct_buf(16, 0), .len = 16, .write = true};
	vdrv_post(&CT.v, 0, b, 2);
	cr_assert_eq(vc_queue_input(CT.d, "abc", 3), 0);
	cr_assert_eq(ct_used_len(0, 0), 3u);
	vdrv_rmem(&CT.v, b[1].gpa, got, 3);
	cr_assert_arr_eq(got, "abc", 3);
	expect_fill(vdrv_ptr(&CT.v, b[0].gpa), 16, 0x44);
	ct_teardown();
}

/* spec §9 #132 */
Test(console_rx, rx_notify_with_nothing_pending_takes_no_buffer)
{
	ct_wire(1u << 0);
	ct_post1_notify(0, ct_buf(16, 0), 16, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 0);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	ct_teardown();
}

/* spec §9 #133 */
Test(console_rx, clearing_stats_input_drops_a_stale_request)
{
	uint64_t buf;
	char got[8] = {0};

	ct_wire(1u << 6);
	cr_assert_eq(vc_queue_input_port2(CT.d, "old", 3), 0);
	cr_assert_eq(vc_clear_port2_pending_rx(CT.d), 3u);
	cr_assert_eq(vc_pending_rx_len(CT.d, 2), 0u);
	vc_handle_control_event(CT.d, 2, EV_PORT_OPEN, 1);
	buf = ct_buf(64, 0);
	ct_post1(6, buf, 64, true);
	cr_assert_eq(vc_queue_input_port2(CT.d, "new\n", 4), 0);
	cr_assert_eq(ct_used_len(6, 0), 4u);
	vdrv_rmem(&CT.v, buf, got, 8);
	cr_assert_arr_eq(got, "new\n\0\0\0\0", 8);
	ct_teardown();
}

/* spec §9 #134 */
Test(console_rx, stats_input_queued_before_open_is_delivered_on_open)
{
	ct_wire(1u << 6);
	ct_post1(6, ct_buf(64, 0), 64, true);
	cr_assert_eq(vc_queue_input_port2(CT.d, "req", 3), 0);
	cr_assert_eq(vdrv_used_idx(&CT.v, 6), 0);
	vc_handle_control_event(CT.d, 2, EV_PORT_OPEN, 1);
	cr_assert_eq(vdrv_used_idx(&CT.v, 6), 1);
	cr_assert_eq(vc_pending_rx_len(CT.d, 2), 0u);
	ct_teardown();
}
