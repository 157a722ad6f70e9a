// SPDX-License-Identifier: MIT
/*
 * virtio-blk throttle through the request pipeline: stall, rollback, retry,
 * gauge, EVENT_IDX interplay (specs/virtio-blk.md §12 cases 103–119). The
 * buckets run on the fixture's pinned clock; "refill" means moving it.
 */
#include <criterion/criterion.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "test_blk.h"

TestSuite(blk_stall, .fini = blk_fx_fini);

#define V   (&blk_fx.v)
#define SEC 1000000000ull

static void fx_throttled(uint64_t iops, uint64_t bps)
{
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true,
					  .throttle = {.iops = iops, .bytes_per_sec = bps}});
}

static void assert_stalled_untouched(const struct blk_req *r, uint16_t next_avail)
{
	cr_assert_eq(blk_fx_status(r), BLK_FX_STATUS_INIT);
	cr_assert(blk_fx_all(r->data[0], BLK_FX_DATA_INIT, 512));
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(vq_next_avail(blk_fx_q()), next_avail, "the pop was rolled back");
	cr_assert_eq(vdrv_irq_count(V), 0);
	cr_assert_eq(vdrv_isr(V) & 1, 0);
}

Test(blk_stall, drained_bucket_stalls_and_rolls_back) /* spec §12 #103 */
{
	struct blk_req r;

	blk_fx_iops1_drained();
	blk_fx_read(&r, 0, 512);
	assert_stalled_untouched(&r, 0);
	cr_assert_eq(blk_fx_stats().throttled_count, 1);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
}

Test(blk_stall, refilled_bucket_serves_the_stalled_request) /* spec §12 #104 */
{
	struct blk_req r;

	blk_fx_iops1_drained();
	blk_fx_read(&r, 0, 512);
	vblk_tb_set_last_refill(&blk_fx_state()->ops_tb, blk_fx.now - 2 * SEC);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert(blk_fx_all(r.data[0], 0xAB, 512));
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.reads_completed, 1);
	cr_assert_eq(s.bytes_read, 512);
	cr_assert_eq(s.throttled_count, 1);
	cr_assert_eq(s.currently_throttled_gauge, 0);
	cr_assert_eq(vq_next_avail(blk_fx_q()), 1);
}

Test(blk_stall, second_chain_stalls_and_keeps_fifo_order) /* spec §12 #105 */
{
	struct blk_req r0, r1;
	uint32_t len = 512;

	fx_throttled(1, 0);
	blk_fx_file_fill(512, 0x22, 512);
	blk_fx_wire();
	blk_fx_post(&r0, VIRTIO_BLK_T_IN, 0, &len, 1, true);
	blk_fx_post(&r1, VIRTIO_BLK_T_IN, 1, &len, 1, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r0), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_status(&r1), BLK_FX_STATUS_INIT);
	cr_assert_eq(vq_next_avail(blk_fx_q()), 1);
	blk_fx_advance(SEC);
	blk_fx_kick();
	cr_assert(blk_fx_all(r1.data[0], 0x22, 512));
	cr_assert_eq(vdrv_used_idx(V, 0), 2);
	cr_assert_eq(vq_next_avail(blk_fx_q()), 2);
}

Test(blk_stall, stalled_requests_resume_in_order_after_refill) /* spec §12 #106 */
{
	struct blk_req r[3];
	uint32_t len = 512, id;

	fx_throttled(2, 0);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	for (int i = 0; i < 3; i++)
		blk_fx_post(&r[i], VIRTIO_BLK_T_IN, (uint64_t)i, &len, 1, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r[0]), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_status(&r[1]), BLK_FX_STATUS_INIT);
	blk_fx_advance(5 * SEC);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r[1]), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_status(&r[2]), VIRTIO_BLK_S_OK);
	for (uint16_t i = 0; i < 3; i++) {
		vdrv_used_elem(V, 0, i, &id, NULL);
		cr_assert_eq(id, r[i].head);
	}
	cr_assert_eq(blk_fx_stats().reads_completed, 3);
	cr_assert_eq(blk_fx_stats().throttled_count, 1);
}

Test(blk_stall, each_stall_counts_but_the_gauge_stays_one) /* spec §12 #107 */
{
	struct blk_req r;

	blk_fx_iops1_drained();
	blk_fx_read(&r, 0, 512);
	blk_fx_kick();
	assert_stalled_untouched(&r, 0);
	cr_assert_eq(blk_fx_stats().throttled_count, 2);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
}

Test(blk_stall, byte_debt_stalls_a_later_read) /* spec §12 #108 */
{
	struct blk_req r;

	fx_throttled(0, 512);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->bytes_tb, 4096));
	cr_assert_eq(blk_fx_state()->bytes_tb.available, -3584);
	blk_fx_read(&r, 0, 1024);
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	cr_assert_eq(blk_fx_stats().throttled_count, 1);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
}

Test(blk_stall, stall_waits_for_the_slower_bucket) /* spec §12 #109 */
{
	struct blk_req r;
	uint32_t len = 2048;
	struct vblk_outcome o;

	fx_throttled(10, 1024);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->bytes_tb, 2048));
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, &len, 1, true);
	o = vblk_drain_inline(blk_fx.vb);
	cr_assert(o.stalled);
	cr_assert_eq(o.wait_ns, SEC, "bytes wait (1 s) beats the zero ops wait");
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
	cr_assert_eq(blk_fx_state()->ops_tb.available, 10, "no op token spent on a stall");
}

Test(blk_stall, debt_is_paid_off_by_elapsed_time) /* spec §12 #110 */
{
	struct blk_req r;

	fx_throttled(0, 1024);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->bytes_tb, 4096));
	blk_fx_read(&r, 0, 1024);
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	blk_fx_advance(4 * SEC);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.reads_completed, 1);
	cr_assert_eq(s.bytes_read, 1024);
	cr_assert_eq(s.throttled_count, 1);
}

Test(blk_stall, flush_costs_no_bytes) /* spec §12 #111 */
{
	struct blk_req r;

	fx_throttled(0, 1);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->bytes_tb, 1));
	blk_fx_flush(&r);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_stats().throttled_count, 0);
}

Test(blk_stall, invalid_request_is_consumed_not_rolled_back) /* spec §12 #112 */
{
	struct blk_req r;

	blk_fx_iops1_drained();
	blk_fx_read(&r, 0, 100);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(vq_next_avail(blk_fx_q()), 1);
	cr_assert_eq(blk_fx_stats().throttled_count, 0);
}

Test(blk_stall, rejected_request_takes_no_tokens) /* spec §12 #113 */
{
	struct blk_req r;

	fx_throttled(1000, 1000000);
	blk_fx_wire();
	blk_fx_read(&r, 0, 100);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_state()->ops_tb.available, 1000);
	cr_assert_eq(blk_fx_state()->bytes_tb.available, 1000000);
}

Test(blk_stall, stall_with_event_idx_raises_nothing) /* spec §12 #114 */
{
	struct blk_req r;

	fx_throttled(1, 0);
	blk_fx_wire_event_idx();
	vdrv_set_used_event(V, 0, 0);
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	blk_fx_read(&r, 0, 512);
	assert_stalled_untouched(&r, 0);
	cr_assert_eq(vdrv_avail_event(V, 0), 0, "avail_event re-armed at the rolled-back index");
}

Test(blk_stall, retried_completion_obeys_event_idx_suppression) /* spec §12 #115 */
{
	struct blk_req r;

	fx_throttled(1, 0);
	blk_fx_wire_event_idx();
	vdrv_set_used_event(V, 0, 0xFFFF);
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	blk_fx_advance(SEC);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(vdrv_isr(V) & 1, 1);
	cr_assert_eq(vdrv_irq_count(V), 0);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
}

Test(blk_stall, direct_drain_reports_the_wait_and_the_gauge) /* spec §12 #116 */
{
	struct blk_req r;
	uint32_t len = 512;
	struct vblk_outcome o;

	blk_fx_iops1_drained();
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, &len, 1, true);
	o = vblk_drain_inline(blk_fx.vb);
	cr_assert(o.stalled);
	cr_assert_eq(o.wait_ns, SEC);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
	cr_assert(blk_fx_state()->currently_stalled);
	blk_fx_advance(SEC);
	o = vblk_drain_inline(blk_fx.vb);
	cr_assert(!o.stalled);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 0);
	cr_assert_eq(blk_fx_stats().reads_completed, 1);
	cr_assert_eq(blk_fx_stats().throttled_count, 1);
}

Test(blk_stall, forced_wait_is_reported_as_is) /* spec §12 #117 */
{
	struct blk_req r;
	uint32_t len = 512;
	struct vblk_outcome o;

	blk_fx_iops1_drained();
	vblk_tb_set_forced_nanos(&blk_fx_state()->ops_tb, SEC);
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, &len, 1, true);
	for (int i = 0; i < 2; i++) {
		o = vblk_drain_inline(blk_fx.vb);
		cr_assert(o.stalled);
		cr_assert_eq(o.wait_ns, SEC);
	}
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.currently_throttled_gauge, 1);
	cr_assert_eq(s.throttled_count, 2);
	cr_assert_eq(s.reads_completed, 0);
}

Test(blk_stall, bytes_bucket_alone_can_stall) /* spec §12 #118 */
{
	struct blk_req r;
	uint32_t len = 512;
	struct vblk_outcome o;

	fx_throttled(16, 512);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->bytes_tb, 512));
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, &len, 1, true);
	o = vblk_drain_inline(blk_fx.vb);
	cr_assert(o.stalled);
	cr_assert_eq(o.wait_ns, SEC);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
	vblk_tb_set_last_refill(&blk_fx_state()->bytes_tb, blk_fx.now - SEC);
	o = vblk_drain_inline(blk_fx.vb);
	cr_assert(!o.stalled);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 0);
}

Test(blk_stall, stall_survives_a_failing_enable_notification) /* spec §12 #119 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){
		.inline_engine = true, .mem = VDRV_MEM_MH, .throttle = {.iops = 1}});
	/* avail_event = used + 4 + 8*16 = 1 MiB: the first byte of the hole. */
	blk_fx_wire_at(1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX, 16, 0x1000,
		       0x2000, (1ull << 20) - 132);
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_stats().throttled_count, 1);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
	cr_assert(blk_fx_state()->currently_stalled);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(vdrv_irq_count(V), 0);
	cr_assert_eq(vq_next_avail(blk_fx_q()), 0);
}
