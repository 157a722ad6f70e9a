// SPDX-License-Identifier: MIT
/*
 * virtio-console: the multiport control protocol (specs/virtio-console.md
 * §4; §9 cases 58-96): event handling, c_ovq parsing and c_ivq delivery.
 */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "unit/test_console.h"

#define Q_CIN  2
#define Q_COUT 3

static void ev(uint32_t id, uint16_t event, uint16_t value)
{
	vc_handle_control_event(CT.d, id, event, value);
}

static void expect_port_flags(bool o0, bool o1, bool o2, bool r0, bool r1, bool r2)
{
	cr_assert_eq(vc_port_opened(CT.d, 0), o0);
	cr_assert_eq(vc_port_opened(CT.d, 1), o1);
	cr_assert_eq(vc_port_opened(CT.d, 2), o2);
	cr_assert_eq(vc_port_readied(CT.d, 0), r0);
	cr_assert_eq(vc_port_readied(CT.d, 1), r1);
	cr_assert_eq(vc_port_readied(CT.d, 2), r2);
}

/* ---- handle_control_event ---------------------------------------------- */

/* spec §9 #59 */
Test(console_ctrl, device_ready_queues_port_add_for_each_port_in_order)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	cr_assert(vc_device_ready(CT.d));
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	for (unsigned i = 0; i < 3; i++)
		ct_expect_ctrl_out(i, i, EV_PORT_ADD);
	ct_teardown();
}

/* spec §9 #60 */
Test(console_ctrl, repeated_device_ready_is_ignored)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	ct_teardown();
}

/* spec §9 #61 */
Test(console_ctrl, device_ready_with_value_other_than_1_is_ignored)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 0);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 2);
	cr_assert_not(vc_device_ready(CT.d));
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	ct_teardown();
}

/* spec §9 #62 */
Test(console_ctrl, port0_ready_replies_console_port_name_open)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(0, EV_PORT_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	ct_expect_ctrl_out(0, 0, EV_CONSOLE_PORT);
	ct_expect_ctrl_out(1, 0, EV_PORT_NAME);
	ct_expect_ctrl_out(2, 0, EV_PORT_OPEN);
	cr_assert(vc_port_readied(CT.d, 0));
	ct_teardown();
}

/* spec §9 #63, #64 */
Test(console_ctrl, port1_and_port2_ready_reply_name_then_open)
{
	for (uint32_t p = 1; p <= 2; p++) {
		ct_make(VDRV_MEM_M1, NULL, true);
		ev(p, EV_PORT_READY, 1);
		cr_assert_eq(vc_ctrl_out_len(CT.d), 2u);
		ct_expect_ctrl_out(0, p, EV_PORT_NAME);
		ct_expect_ctrl_out(1, p, EV_PORT_OPEN);
		ct_teardown();
	}
}

/* spec §9 #65 */
Test(console_ctrl, repeated_port_ready_is_ignored_per_port)
{
	static const unsigned want[3] = {3, 2, 2};

	for (uint32_t p = 0; p < 3; p++) {
		ct_make(VDRV_MEM_M1, NULL, true);
		ev(p, EV_PORT_READY, 1);
		ev(p, EV_PORT_READY, 1);
		cr_assert_eq(vc_ctrl_out_len(CT.d), want[p], "port %u", p);
		ct_teardown();
	}
}

/* spec §9 #66 */
Test(console_ctrl, port_ready_repeat_check_is_per_port)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(0, EV_PORT_READY, 1);
	ev(1, EV_PORT_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 5u);
	ct_teardown();
}

/* spec §9 #67 */
Test(console_ctrl, failed_port_ready_does_not_block_a_later_success)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(0, EV_PORT_READY, 0);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	cr_assert_not(vc_port_readied(CT.d, 0));
	ev(0, EV_PORT_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	ct_teardown();
}

/* spec §9 #68 */
Test(console_ctrl, port_ready_with_value_2_is_ignored)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(1, EV_PORT_READY, 2);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	cr_assert_not(vc_port_readied(CT.d, 1));
	ct_teardown();
}

/* spec §9 #69 */
Test(console_ctrl, port_ready_for_unknown_port_is_ignored)
{
	struct vc_counters c;

	ct_make(VDRV_MEM_M1, NULL, true);
	ev(3, EV_PORT_READY, 1);
	ev(99, EV_PORT_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	expect_port_flags(false, false, false, false, false, false);
	vc_counters_snapshot(CT.d, &c);
	cr_assert_eq(c.ctrl_bad_port, 2u);
	ct_teardown();
}

/* spec §9 #70 */
Test(console_ctrl, port_ready_is_accepted_without_device_ready)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(1, EV_PORT_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 2u);
	cr_assert_not(vc_device_ready(CT.d));
	ct_teardown();
}

/* spec §9 #71 */
Test(console_ctrl, port_open_counts_only_value_1_as_open)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	for (uint32_t p = 1; p <= 2; p++) {
		ev(p, EV_PORT_OPEN, 1);
		cr_assert(vc_port_opened(CT.d, p));
		ev(p, EV_PORT_OPEN, 0);
		cr_assert_not(vc_port_opened(CT.d, p));
		ev(p, EV_PORT_OPEN, 1);
		ev(p, EV_PORT_OPEN, 2);
		cr_assert_not(vc_port_opened(CT.d, p));
	}
	ct_teardown();
}

/* spec §9 #72 */
Test(console_ctrl, port_open_for_unknown_port_is_ignored)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ev(3, EV_PORT_OPEN, 1);
	ev(0xFFFFFFFFu, EV_PORT_OPEN, 1);
	expect_port_flags(false, false, false, false, false, false);
	ct_teardown();
}

/* spec §9 #73 */
Test(console_ctrl, device_only_and_unknown_events_change_nothing)
{
	static const uint16_t evs[] = {1, 2, 4, 5, 7, 0xBEEF};
	struct vc_counters c;

	ct_make(VDRV_MEM_M1, NULL, true);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		ev(0, evs[i], 1);
		ev(1, evs[i], 1);
	}
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	cr_assert_not(vc_device_ready(CT.d));
	expect_port_flags(false, false, false, false, false, false);
	vc_counters_snapshot(CT.d, &c);
	cr_assert_eq(c.ctrl_ignored, 12u);
	ct_teardown();
}

/* spec §9 #74 */
Test(console_ctrl, port_open_delivers_input_queued_while_closed)
{
	uint8_t msg[23], got[23];
	uint64_t buf;

	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(0x30 + i);
	ct_wire(1u << 4);
	buf = ct_buf(64, 0);
	ct_post1(4, buf, 64, true);
	cr_assert_eq(vc_queue_input_port1(CT.d, msg, sizeof(msg)), 0);
	vdrv_notify(&CT.v, 4);
	cr_assert_eq(vdrv_used_idx(&CT.v, 4), 0);
	cr_assert_eq(vc_pending_rx_len(CT.d, 1), sizeof(msg));
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	ev(1, EV_PORT_OPEN, 1);
	cr_assert_eq(vdrv_used_idx(&CT.v, 4), 1);
	cr_assert_eq(ct_used_len(4, 0), sizeof(msg));
	vdrv_rmem(&CT.v, buf, got, sizeof(got));
	cr_assert_arr_eq(got, msg, sizeof(msg));
	cr_assert_eq(vc_pending_rx_len(CT.d, 1), 0u);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	ct_teardown();
}

/* spec §9 #75 */
Test(console_ctrl, reopening_an_open_port_does_not_drain)
{
	uint64_t buf;
	uint8_t got;

	ct_wire(1u << 4);
	ev(1, EV_PORT_OPEN, 1);
	cr_assert_eq(vc_queue_input_port1(CT.d, "x", 1), 0);
	cr_assert_eq(vc_pending_rx_len(CT.d, 1), 1u);
	buf = ct_buf(16, 0);
	ct_post1(4, buf, 16, true);
	ev(1, EV_PORT_OPEN, 1);
	cr_assert_eq(vc_pending_rx_len(CT.d, 1), 1u);
	cr_assert_eq(vdrv_used_idx(&CT.v, 4), 0);
	vdrv_notify(&CT.v, 4);
	cr_assert_eq(vdrv_used_idx(&CT.v, 4), 1);
	vdrv_rmem(&CT.v, buf, &got, 1);
	cr_assert_eq(got, 'x');
	ct_teardown();
}

/* spec §9 #76 */
Test(console_ctrl, port0_open_sets_the_flag_without_a_drain)
{
	ct_wire(1u << 0);
	cr_assert_eq(vc_queue_input(CT.d, "abc", 3), 0);
	ct_post1(0, ct_buf(16, 0), 16, true);
	ev(0, EV_PORT_OPEN, 1);
	cr_assert(vc_port_opened(CT.d, 0));
	cr_assert_eq(vc_pending_rx_len(CT.d, 0), 3u);
	cr_assert_eq(vdrv_used_idx(&CT.v, 0), 0);
	ct_teardown();
}

/* ---- c_ovq (queue 3) ---------------------------------------------------- */

static const uint8_t open2[8] = {2, 0, 0, 0, 6, 0, 1, 0};

/* spec §9 #77 */
Test(console_ctrl, control_chain_is_parsed_and_completed_with_len_0)
{
	ct_wire(1u << Q_COUT);
	ct_post1_notify(Q_COUT, ct_data(open2, 8), 8, false);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 1);
	cr_assert_eq(ct_used_len(Q_COUT, 0), 0u);
	cr_assert(vc_port_opened(CT.d, 2));
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	cr_assert_eq(vdrv_irq_count(&CT.v), 1u);
	ct_teardown();
}

/* spec §9 #78 */
Test(console_ctrl, control_header_may_span_descriptors)
{
	uint64_t g;
	struct vdrv_buf b[2];

	ct_wire(1u << Q_COUT);
	g = ct_data(open2, 8);
	b[0] = (struct vdrv_buf){.gpa = g, .len = 3};
	b[1] = (struct vdrv_buf){.gpa = g + 3, .len = 5};
	vdrv_post_notify(&CT.v, Q_COUT, b, 2);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 1);
	cr_assert(vc_port_opened(CT.d, 2));
	ct_teardown();
}

/* spec §9 #79 */
Test(console_ctrl, short_control_chain_is_dropped_but_completed)
{
	struct vc_counters c;

	ct_wire(1u << Q_COUT);
	ct_post1_notify(Q_COUT, ct_data(open2, 8), 7, false);
	cr_assert_not(vc_port_opened(CT.d, 2));
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 1);
	cr_assert_eq(ct_used_len(Q_COUT, 0), 0u);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	vc_counters_snapshot(CT.d, &c);
	cr_assert_eq(c.ctrl_rx_short, 1u);
	cr_assert_eq(c.ctrl_rx_msgs, 0u);
	ct_teardown();
}

/* spec §9 #80 */
Test(console_ctrl, only_the_first_8_bytes_are_parsed)
{
	uint8_t m[12];
	struct vc_counters c;

	memcpy(m, open2, 8);
	memset(m + 8, 0xEE, 4);
	ct_wire(1u << Q_COUT);
	ct_post1_notify(Q_COUT, ct_data(m, 12), 12, false);
	cr_assert(vc_port_opened(CT.d, 2));
	cr_assert_eq(ct_used_len(Q_COUT, 0), 0u);
	vc_counters_snapshot(CT.d, &c);
	cr_assert_eq(c.ctrl_rx_msgs, 1u);
	ct_teardown();
}

/* spec §9 #81 */
Test(console_ctrl, write_only_descriptors_are_skipped_in_control_chains)
{
	struct vdrv_buf b[2];

	ct_wire(1u << Q_COUT);
	b[0] = (struct vdrv_buf){.gpa = ct_buf(8, 0x77), .len = 8, .write = true};
	b[1] = (struct vdrv_buf){.gpa = ct_data(open2, 8), .len = 8};
	vdrv_post_notify(&CT.v, Q_COUT, b, 2);
	cr_assert(vc_port_opened(CT.d, 2));
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 1);
	ct_teardown();
}

/* spec §9 #82 */
Test(console_ctrl, unreadable_control_segment_drops_the_message)
{
	struct vdrv_buf b[2];
	struct vc_counters c;

	ct_wire(1u << Q_COUT);
	b[0] = (struct vdrv_buf){.gpa = ct_data(open2, 4), .len = 4};
	b[1] = (struct vdrv_buf){.gpa = CT_UNMAPPED, .len = 4};
	vdrv_post_notify(&CT.v, Q_COUT, b, 2);
	cr_assert_not(vc_port_opened(CT.d, 2));
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 1);
	cr_assert_eq(ct_used_len(Q_COUT, 0), 0u);
	vc_counters_snapshot(CT.d, &c);
	cr_assert_eq(c.ctrl_read_errors, 1u);
	ct_teardown();
}

/* spec §9 #83 */
Test(console_ctrl, control_walk_takes_at_most_32_chains_per_notify)
{
	uint64_t g;

	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, 1u << Q_COUT, 64, true);
	g = ct_data(open2, 8);
	for (int i = 0; i < 40; i++)
		ct_post1(Q_COUT, g, 8, false);
	vdrv_notify(&CT.v, Q_COUT);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 32);
	vdrv_notify(&CT.v, Q_COUT);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 40);
	ct_teardown();
}

/* spec §9 #84 */
Test(console_ctrl, control_queue_needs_multiport)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_F_V1, 1u << Q_COUT, 16, true);
	ct_post1_notify(Q_COUT, ct_data(open2, 8), 8, false);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 0);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	cr_assert_eq(vdrv_irq_count(&CT.v), 0u);
	ct_teardown();
}

/* spec §9 #85 (transport 109 covers the gate itself) */
Test(console_ctrl, control_queue_is_idle_before_driver_ok)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, 1u << Q_COUT, 16, false);
	ct_post1_notify(Q_COUT, ct_data(open2, 8), 8, false);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 0);
	cr_assert_not(vc_port_opened(CT.d, 2));
	ct_teardown();
}

/* spec §9 #86 */
Test(console_ctrl, empty_control_notify_raises_no_interrupt)
{
	ct_wire(1u << Q_COUT);
	vdrv_notify(&CT.v, Q_COUT);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	cr_assert_eq(vdrv_irq_count(&CT.v), 0u);
	ct_teardown();
}

/* spec §9 #87 */
Test(console_ctrl, device_ready_replies_arrive_in_the_same_notify)
{
	uint64_t bufs[3];

	ct_wire(1u << Q_CIN | 1u << Q_COUT);
	for (int i = 0; i < 3; i++) {
		bufs[i] = ct_buf(4096, 0);
		ct_post1(Q_CIN, bufs[i], 4096, true);
	}
	ct_ctrl_send(0xFFFFFFFFu, EV_DEVICE_READY, 1, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 3);
	for (uint16_t i = 0; i < 3; i++) {
		cr_assert_eq(ct_used_len(Q_CIN, i), 8u);
		ct_expect_guest_frame(bufs[i], i, EV_PORT_ADD);
	}
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	ct_teardown();
}

/* ---- c_ivq (queue 2) ---------------------------------------------------- */

/*
 * spec §9 #88. The FIFO cannot be loaded with a single PORT_ADD through the
 * device's API, so DEVICE_READY loads three and the first one is followed.
 */
Test(console_ctrl, too_small_buffer_is_returned_and_the_next_one_used)
{
	uint64_t small, big;

	ct_wire(1u << Q_CIN);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	small = ct_buf(4, 0xCC);
	big = ct_buf(4096, 0);
	ct_post1(Q_CIN, small, 4, true);
	ct_post1_notify(Q_CIN, big, 4096, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 2);
	cr_assert_eq(ct_used_len(Q_CIN, 0), 0u);
	cr_assert_eq(ct_used_len(Q_CIN, 1), 8u);
	ct_expect_guest_frame(big, 0, EV_PORT_ADD);
	cr_assert_eq(*(uint8_t *)vdrv_ptr(&CT.v, small), 0xCC, "small buffer was written");
	cr_assert_eq(vc_ctrl_out_len(CT.d), 2u);
	ct_expect_ctrl_out(0, 1, EV_PORT_ADD);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	ct_teardown();
}

/* spec §9 #89 */
Test(console_ctrl, name_message_is_split_across_write_segments)
{
	uint8_t want[32], got[32];
	struct vdrv_buf b[2];
	uint64_t first;

	ct_wire(1u << Q_CIN);
	ev(0, EV_PORT_READY, 1); /* CONSOLE_PORT, NAME(0), OPEN(0) */
	first = ct_buf(8, 0);
	ct_post1(Q_CIN, first, 8, true);
	b[0] = (struct vdrv_buf){.gpa = ct_buf(10, 0xEE), .len = 10, .write = true};
	b[1] = (struct vdrv_buf){.gpa = ct_buf(16, 0xEE), .len = 16, .write = true};
	vdrv_post_notify(&CT.v, Q_CIN, b, 2);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 2);
	ct_expect_guest_frame(first, 0, EV_CONSOLE_PORT);
	cr_assert_eq(ct_ctrl_frame(0, EV_PORT_NAME, want), 22u);
	cr_assert_eq(ct_used_len(Q_CIN, 1), 22u);
	vdrv_rmem(&CT.v, b[0].gpa, got, 10);
	vdrv_rmem(&CT.v, b[1].gpa, got + 10, 16);
	cr_assert_arr_eq(got, want, 22);
	cr_assert_eq(got[21], 0);
	cr_assert_eq(got[22], 0xEE, "byte past the message was written");
	ct_teardown();
}

/* spec §9 #90 */
Test(console_ctrl, bulk_port_name_frame_is_exact)
{
	static const uint8_t want[19] = {1,   0,   0,	0,   7,	  0,   1,   0,	 'k', 't',
					 's', 't', 'r', '-', 'b', 'u', 'l', 'k', 0};
	uint8_t got[19];
	uint64_t buf;

	ct_wire(1u << Q_CIN);
	ev(1, EV_PORT_READY, 1);
	buf = ct_buf(4096, 0xEE);
	ct_post1_notify(Q_CIN, buf, 4096, true);
	cr_assert_eq(ct_used_len(Q_CIN, 0), 19u);
	vdrv_rmem(&CT.v, buf, got, 19);
	cr_assert_arr_eq(got, want, 19);
	ct_teardown();
}

/* spec §9 #91 */
Test(console_ctrl, torn_control_buffer_keeps_the_message_for_later)
{
	struct vdrv_buf b[2];
	uint64_t good;
	struct vc_counters c;

	ct_wire(1u << Q_CIN);
	ev(1, EV_PORT_READY, 1); /* NAME(1), OPEN(1) */
	b[0] = (struct vdrv_buf){.gpa = ct_buf(8, 0), .len = 8, .write = true};
	b[1] = (struct vdrv_buf){.gpa = CT_UNMAPPED, .len = 32, .write = true};
	vdrv_post(&CT.v, Q_CIN, b, 2);
	good = ct_buf(64, 0);
	ct_post1_notify(Q_CIN, good, 64, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 1);
	cr_assert_eq(ct_used_len(Q_CIN, 0), 0u);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 2u);
	ct_expect_ctrl_out(0, 1, EV_PORT_NAME);
	cr_assert(vdrv_isr(&CT.v) & CT_INT_VRING);
	vc_counters_snapshot(CT.d, &c);
	cr_assert_eq(c.ctrl_tx_torn, 1u);
	vdrv_notify(&CT.v, Q_CIN);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 2);
	cr_assert_eq(ct_used_len(Q_CIN, 1), 19u);
	ct_expect_guest_frame(good, 1, EV_PORT_NAME);
	ct_teardown();
}

/* spec §9 #92 */
Test(console_ctrl, replies_wait_while_multiport_is_not_negotiated)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_F_V1, 1u << Q_CIN, 16, true);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	ct_post1_notify(Q_CIN, ct_buf(64, 0), 64, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 0);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	ct_teardown();
}

/* spec §9 #93 */
Test(console_ctrl, replies_wait_while_control_in_queue_is_not_ready)
{
	ct_wire(1u << Q_COUT);
	ct_ctrl_send(0xFFFFFFFFu, EV_DEVICE_READY, 1, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_COUT), 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	vdrv_notify(&CT.v, Q_CIN);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	ct_teardown();
}

/* spec §9 #94 */
Test(console_ctrl, control_in_notify_with_nothing_to_send_takes_no_buffer)
{
	ct_wire(1u << Q_CIN);
	ct_post1_notify(Q_CIN, ct_buf(64, 0), 64, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 0);
	cr_assert_eq(vdrv_isr(&CT.v), 0u);
	ct_teardown();
}

/* spec §9 #95 */
Test(console_ctrl, readable_descriptors_give_no_control_capacity)
{
	struct vdrv_buf b[2];
	struct vc_counters c;

	ct_wire(1u << Q_CIN);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	b[0] = (struct vdrv_buf){.gpa = ct_buf(64, 0), .len = 64};
	b[1] = (struct vdrv_buf){.gpa = ct_buf(4, 0), .len = 4, .write = true};
	vdrv_post_notify(&CT.v, Q_CIN, b, 2);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 1);
	cr_assert_eq(ct_used_len(Q_CIN, 0), 0u);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	vc_counters_snapshot(CT.d, &c);
	cr_assert_eq(c.ctrl_tx_small, 1u);
	ct_teardown();
}

/* spec §9 #96 */
Test(console_ctrl, full_handshake_delivers_every_reply_in_order)
{
	static const struct {
		uint32_t id;
		uint16_t event;
	} want[] = {
		{0, EV_PORT_ADD},  {1, EV_PORT_ADD},  {2, EV_PORT_ADD},	 {0, EV_CONSOLE_PORT},
		{0, EV_PORT_NAME}, {0, EV_PORT_OPEN}, {1, EV_PORT_NAME}, {1, EV_PORT_OPEN},
		{2, EV_PORT_NAME}, {2, EV_PORT_OPEN},
	};
	uint64_t bufs[16];

	ct_wire(1u << Q_CIN | 1u << Q_COUT);
	for (int i = 0; i < 12; i++) {
		bufs[i] = ct_buf(4096, 0);
		ct_post1(Q_CIN, bufs[i], 4096, true);
	}
	vdrv_notify(&CT.v, Q_CIN);
	ct_ctrl_send(0xFFFFFFFFu, EV_DEVICE_READY, 1, true);
	for (uint32_t p = 0; p < 3; p++)
		ct_ctrl_send(p, EV_PORT_READY, 1, true);
	cr_assert_eq(vdrv_used_idx(&CT.v, Q_CIN), 10);
	for (uint16_t i = 0; i < 10; i++) {
		uint32_t id;

		vdrv_used_elem(&CT.v, Q_CIN, i, &id, NULL);
		cr_assert_eq(id, i, "used slot %u holds head %u", i, id);
		ct_expect_guest_frame(bufs[i], want[i].id, want[i].event);
	}
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	cr_assert(vc_device_ready(CT.d));
	ct_teardown();
}

/* spec §9 #58 */
Test(console_ctrl, handshake_is_accepted_again_after_a_reset)
{
	ct_wire(0);
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	for (uint32_t p = 0; p < 3; p++)
		ev(p, EV_PORT_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 10u);
	ct_up(CT_FEATURES, 0, 16, true); /* starts with STATUS 0 */
	cr_assert_eq(vc_ctrl_out_len(CT.d), 0u);
	cr_assert_not(vc_device_ready(CT.d));
	ev(0xFFFFFFFFu, EV_DEVICE_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 3u);
	for (uint32_t p = 0; p < 3; p++)
		ev(p, EV_PORT_READY, 1);
	cr_assert_eq(vc_ctrl_out_len(CT.d), 10u);
	ct_teardown();
}
