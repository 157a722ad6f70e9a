// SPDX-License-Identifier: MIT
/*
 * virtio-blk request pipeline through the transport and the inline engine:
 * success paths, rejects and drops, handler faults, drain gating
 * (specs/virtio-blk.md §12 cases 58–102).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "base/compiler.h"
#include "test_blk.h"

TestSuite(blk_req, .fini = blk_fx_fini);

#define V (&blk_fx.v)

static uint64_t status_buf(uint8_t init)
{
	uint64_t gpa = vdrv_alloc(V, 1, 1);

	vdrv_wmem(V, gpa, &init, 1);
	return gpa;
}

static uint64_t data_buf(uint32_t len, uint8_t init)
{
	uint64_t gpa = vdrv_alloc(V, len, 16);

	memset(vdrv_ptr(V, gpa), init, len);
	return gpa;
}

/* ---- success paths ---- */

Test(blk_req, read_returns_file_bytes_and_counts) /* spec §12 #58 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	cr_assert(blk_fx_all(r.data[0], 0xAB, 512));
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(blk_fx_used_len(0), 513);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.reads_completed, 1);
	cr_assert_eq(s.bytes_read, 512);
	cr_assert_eq(s.io_errors, 0);
}

Test(blk_req, write_lands_in_the_file_at_its_sector) /* spec §12 #59 */
{
	struct blk_req r;
	uint8_t file[1024];

	blk_fx_default();
	blk_fx_wire();
	blk_fx_write(&r, 1, 512, 0xCD);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	blk_fx_file_read(0, file, sizeof(file));
	for (int i = 0; i < 512; i++)
		cr_assert_eq(file[i], 0xAB);
	for (int i = 512; i < 1024; i++)
		cr_assert_eq(file[i], 0xCD);
	cr_assert_eq(blk_fx_stats().writes_completed, 1);
	cr_assert_eq(blk_fx_stats().bytes_written, 512);
	cr_assert_eq(blk_fx_used_len(0), 1);
}

Test(blk_req, flush_syncs_and_completes) /* spec §12 #60 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_flush(&r);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_stats().flushes_completed, 1);
	cr_assert_eq(blk_fx_used_len(0), 1);
	cr_assert_eq(blk_fx.faults.sync_calls, 1);
}

Test(blk_req, unknown_type_is_unsupported_not_an_error) /* spec §12 #61 */
{
	static const uint32_t types[] = {0xBEEF, 5, 10, 11, 13, 14};

	blk_fx_default();
	blk_fx_wire();
	for (unsigned i = 0; i < ARRAY_SIZE(types); i++) {
		struct blk_req r;

		blk_fx_post(&r, types[i], 0, NULL, 0, false);
		blk_fx_kick();
		cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_UNSUPP, "type %u", types[i]);
		cr_assert_eq(vdrv_used_idx(V, 0), i + 1);
	}
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.io_errors, 0);
	cr_assert_eq(s.reads_completed + s.writes_completed + s.flushes_completed, 0);
}

Test(blk_req, get_id_writes_the_serial) /* spec §12 #62 */
{
	struct blk_req r;
	uint32_t len = 20;
	uint8_t id[20];

	blk_fx_default();
	blk_fx_wire();
	blk_fx_post(&r, VIRTIO_BLK_T_GET_ID, 0, &len, 1, true);
	blk_fx_kick();
	vdrv_rmem(V, r.data[0], id, sizeof(id));
	cr_assert_arr_eq(id, "ktstr-virtio-blk\0\0\0\0", 20);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_used_len(0), 21);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.reads_completed + s.writes_completed + s.flushes_completed + s.io_errors, 0);
}

Test(blk_req, get_id_works_on_a_read_only_disk) /* spec §12 #63 */
{
	struct blk_req r;
	uint32_t len = 32;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .read_only = true});
	cr_assert(vdrv_handshake(V, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BLK_F_RO, 1, 256));
	blk_fx_post(&r, VIRTIO_BLK_T_GET_ID, 0, &len, 1, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(vdrv_ptr(V, r.data[0]), vblk_serial, 20);
	cr_assert(blk_fx_all(r.data[0] + 20, BLK_FX_DATA_INIT, 12));
}

Test(blk_req, three_chains_in_one_kick_complete_in_order) /* spec §12 #64 */
{
	struct blk_req r[3];
	uint32_t len = 512;

	blk_fx_default();
	blk_fx_file_fill(0, 0x11, 512);
	blk_fx_file_fill(512, 0x22, 512);
	blk_fx_file_fill(1024, 0x33, 512);
	blk_fx_wire();
	for (int i = 0; i < 3; i++)
		blk_fx_post(&r[i], VIRTIO_BLK_T_IN, (uint64_t)i, &len, 1, true);
	blk_fx_kick();
	cr_assert_eq(vdrv_used_idx(V, 0), 3);
	cr_assert(blk_fx_all(r[0].data[0], 0x11, 512));
	cr_assert(blk_fx_all(r[1].data[0], 0x22, 512));
	cr_assert(blk_fx_all(r[2].data[0], 0x33, 512));
	cr_assert_eq(blk_fx_stats().bytes_read, 1536);
}

Test(blk_req, each_kick_completes_its_chain) /* spec §12 #65 */
{
	blk_fx_default();
	blk_fx_wire();
	for (int i = 1; i <= 5; i++) {
		struct blk_req r;

		blk_fx_read(&r, 0, 512);
		cr_assert_eq(vdrv_used_idx(V, 0), i);
	}
}

Test(blk_req, multi_segment_read_scatters_in_order) /* spec §12 #66 */
{
	struct blk_req r;
	uint32_t lens[2] = {512, 512};

	blk_fx_default();
	blk_fx_file_fill(0, 0x11, 512);
	blk_fx_file_fill(512, 0x22, 512);
	blk_fx_wire();
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, lens, 2, true);
	blk_fx_kick();
	cr_assert(blk_fx_all(r.data[0], 0x11, 512));
	cr_assert(blk_fx_all(r.data[1], 0x22, 512));
	cr_assert_eq(blk_fx_used_len(0), 1025);
}

Test(blk_req, write_ending_exactly_at_capacity_is_allowed) /* spec §12 #67 */
{
	struct blk_req r;
	uint8_t b[512];

	blk_fx_default();
	blk_fx_wire();
	blk_fx_write(&r, 7, 512, 0x5A);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	blk_fx_file_read(3584, b, 512);
	cr_assert_eq(b[0], 0x5A);
	cr_assert_eq(b[511], 0x5A);
}

Test(blk_req, read_past_end_of_file_zero_fills_and_counts_real_bytes) /* spec §12 #68 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .file_len = 100, .fill = 0xA5});
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	cr_assert(blk_fx_all(r.data[0], 0xA5, 100));
	cr_assert(blk_fx_all(r.data[0] + 100, 0, 412));
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_stats().bytes_read, 100);
	cr_assert_eq(blk_fx_used_len(0), 513);
}

Test(blk_req, read_wholly_beyond_end_of_file_is_zeros) /* spec §12 #69 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .file_len = 512});
	blk_fx_wire();
	blk_fx_read(&r, 4, 512);
	cr_assert(blk_fx_all(r.data[0], 0, 512));
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_stats().bytes_read, 0);
}

Test(blk_req, zero_length_data_descriptors_complete_without_io) /* spec §12 #70 */
{
	struct blk_req w, rd;
	uint32_t lens[2] = {0, 0};

	blk_fx_default();
	blk_fx_wire();
	blk_fx_post(&w, VIRTIO_BLK_T_OUT, 0, lens, 2, false);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&w), VIRTIO_BLK_S_OK);
	blk_fx_post(&rd, VIRTIO_BLK_T_IN, 0, lens, 2, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&rd), VIRTIO_BLK_S_OK);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.writes_completed, 1);
	cr_assert_eq(s.reads_completed, 1);
	cr_assert_eq(s.bytes_written + s.bytes_read + s.io_errors, 0);
	cr_assert_eq(blk_fx.faults.pwritev_calls + blk_fx.faults.preadv_calls, 0);
}

Test(blk_req, chain_of_exactly_130_descriptors_is_served) /* spec §12 #71 */
{
	struct blk_req r;
	uint32_t lens[VBLK_SEG_MAX];

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .capacity = 65536});
	blk_fx_wire();
	for (unsigned i = 0; i < VBLK_SEG_MAX; i++)
		lens[i] = 512;
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, lens, VBLK_SEG_MAX, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert(blk_fx_all(r.data[127], 0xAB, 512));
	cr_assert_eq(blk_fx_stats().bytes_read, 65536);
}

Test(blk_req, read_into_a_buffer_across_two_adjacent_regions) /* spec §12 #72 */
{
	uint8_t got[512];
	uint64_t hdr, data = (1ull << 20) - 256, st;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .mem = VDRV_MEM_MA});
	blk_fx_file_fill(0, 0x3C, 512);
	blk_fx_wire();
	hdr = blk_fx_hdr(VIRTIO_BLK_T_IN, 0);
	st = status_buf(BLK_FX_STATUS_INIT);
	vdrv_post_notify(
		V, 0, (struct vdrv_buf[]){{hdr, 16, false}, {data, 512, true}, {st, 1, true}}, 3);
	cr_assert_eq(blk_fx_byte(st), VIRTIO_BLK_S_OK);
	vdrv_rmem(V, data, got, sizeof(got));
	for (int i = 0; i < 512; i++)
		cr_assert_eq(got[i], 0x3C);
}

Test(blk_req, only_the_last_byte_of_a_wide_status_descriptor_is_written) /* spec §12 #73 */
{
	uint8_t pre[4] = {0xAA, 0xBB, 0xCC, 0xDD}, post[4];
	uint64_t hdr, data, st;

	blk_fx_default();
	blk_fx_wire();
	hdr = blk_fx_hdr(VIRTIO_BLK_T_IN, 0);
	data = data_buf(512, 0);
	st = vdrv_alloc(V, 4, 4);
	vdrv_wmem(V, st, pre, 4);
	vdrv_post_notify(
		V, 0, (struct vdrv_buf[]){{hdr, 16, false}, {data, 512, true}, {st, 4, true}}, 3);
	vdrv_rmem(V, st, post, 4);
	cr_assert_arr_eq(post, ((uint8_t[]){0xAA, 0xBB, 0xCC, 0x00}), 4);
}

/* ---- rejects and drops ---- */

Test(blk_req, chain_longer_than_seg_max_plus_two_is_dropped) /* spec §12 #74 */
{
	struct vdrv_buf b[132];
	uint64_t st;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .capacity = 1 << 20});
	blk_fx_wire();
	b[0] = (struct vdrv_buf){blk_fx_hdr(VIRTIO_BLK_T_IN, 0), 16, false};
	for (int i = 1; i <= 130; i++)
		b[i] = (struct vdrv_buf){data_buf(512, 0xFF), 512, true};
	st = status_buf(BLK_FX_STATUS_INIT);
	b[131] = (struct vdrv_buf){st, 1, true};
	vdrv_post_notify(V, 0, b, 132);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(blk_fx_byte(st), BLK_FX_STATUS_INIT);
	cr_assert(blk_fx_all(b[1].gpa, 0xFF, 512), "no data moved");
	struct vblk_stats s = blk_fx_stats();
	cr_assert_geq(s.io_errors, 1);
	cr_assert_eq(s.reads_completed, 0);
	cr_assert_eq(s.throttled_count, 0);
	cr_assert_eq(vq_next_avail(blk_fx_q()), 1, "consumed, never completed");
}

/* Post H', D, S where the header descriptor is given; returns the status GPA. */
static uint64_t post_with_header(uint64_t hdr_gpa, uint32_t hdr_len, bool hdr_write)
{
	uint64_t data = data_buf(512, 0xFF), st = status_buf(BLK_FX_STATUS_INIT);

	vdrv_post_notify(V, 0,
			 (struct vdrv_buf[]){
				 {hdr_gpa, hdr_len, hdr_write}, {data, 512, true}, {st, 1, true}},
			 3);
	return st;
}

Test(blk_req, unmapped_header_is_an_ioerr) /* spec §12 #75 */
{
	uint64_t st;

	blk_fx_default();
	blk_fx_wire();
	st = post_with_header(0x200000, 16, false);
	cr_assert_eq(blk_fx_byte(st), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_geq(blk_fx_stats().io_errors, 1);
}

Test(blk_req, header_split_over_two_descriptors_is_an_ioerr) /* spec §12 #76 */
{
	uint64_t hdr, data, st;

	blk_fx_default();
	blk_fx_wire();
	hdr = blk_fx_hdr(VIRTIO_BLK_T_IN, 0);
	data = data_buf(512, 0xFF);
	st = status_buf(BLK_FX_STATUS_INIT);
	vdrv_post_notify(
		V, 0,
		(struct vdrv_buf[]){
			{hdr, 8, false}, {hdr + 8, 8, false}, {data, 512, true}, {st, 1, true}},
		4);
	cr_assert_eq(blk_fx_byte(st), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert(blk_fx_all(data, 0xFF, 512));
}

Test(blk_req, device_writable_header_is_an_ioerr) /* spec §12 #77 */
{
	uint64_t st;

	blk_fx_default();
	blk_fx_wire();
	st = post_with_header(blk_fx_hdr(VIRTIO_BLK_T_IN, 0), 16, true);
	cr_assert_eq(blk_fx_byte(st), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().reads_completed, 0);
}

Test(blk_req, single_descriptor_chain_is_dropped) /* spec §12 #78 */
{
	blk_fx_default();
	blk_fx_wire();
	vdrv_post_notify(V, 0, (struct vdrv_buf[]){{status_buf(0xEE), 1, true}}, 1);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
}

Test(blk_req, readable_last_descriptor_means_no_status_and_a_drop) /* spec §12 #79 */
{
	uint64_t st;

	blk_fx_default();
	blk_fx_wire();
	st = status_buf(BLK_FX_STATUS_INIT);
	vdrv_post_notify(
		V, 0,
		(struct vdrv_buf[]){{blk_fx_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, false}, {st, 1, false}},
		2);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(blk_fx_byte(st), BLK_FX_STATUS_INIT);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	/* A zero-length last descriptor is no status either. */
	vdrv_post_notify(
		V, 0,
		(struct vdrv_buf[]){{blk_fx_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, false}, {st, 0, true}},
		2);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(blk_fx_stats().io_errors, 2);
	cr_assert_eq(blk_fx_stats().flushes_completed, 0);
}

Test(blk_req, unmapped_status_byte_leaves_the_chain_incomplete) /* spec §12 #80 */
{
	blk_fx_default();
	blk_fx_wire();
	vdrv_post_notify(V, 0,
			 (struct vdrv_buf[]){{blk_fx_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, false},
					     {0x200000, 1, true}},
			 2);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_geq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(vdrv_irq_count(V), 0);
	cr_assert_eq(vdrv_isr(V) & 1, 0);
}

Test(blk_req, status_descriptor_whose_end_overflows_is_no_status) /* spec §6.4 overflow rule */
{
	blk_fx_default();
	blk_fx_wire();
	vdrv_post_notify(V, 0,
			 (struct vdrv_buf[]){{blk_fx_hdr(VIRTIO_BLK_T_FLUSH, 0), 16, false},
					     {UINT64_MAX, 2, true}},
			 2);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx.faults.sync_calls, 0);
}

Test(blk_req, oversized_data_descriptor_is_rejected_before_the_throttle) /* spec §12 #81 */
{
	uint64_t st;

	blk_fx_iops1_drained();
	st = status_buf(BLK_FX_STATUS_INIT);
	vdrv_post_notify(V, 0,
			 (struct vdrv_buf[]){{blk_fx_hdr(VIRTIO_BLK_T_IN, 0), 16, false},
					     {VDRV_DATA_BASE, VBLK_SIZE_MAX + 1, true},
					     {st, 1, true}},
			 3);
	cr_assert_eq(blk_fx_byte(st), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().throttled_count, 0);
}

Test(blk_req, oversized_descriptor_rejects_even_unknown_types_and_flush) /* spec §6.5 V3 */
{
	blk_fx_default();
	blk_fx_wire();
	for (int i = 0; i < 2; i++) {
		uint64_t st = status_buf(BLK_FX_STATUS_INIT);
		uint32_t type = i ? VIRTIO_BLK_T_FLUSH : 0xBEEF;

		vdrv_post_notify(V, 0,
				 (struct vdrv_buf[]){{blk_fx_hdr(type, 0), 16, false},
						     {VDRV_DATA_BASE, VBLK_SIZE_MAX + 1, true},
						     {st, 1, true}},
				 3);
		cr_assert_eq(blk_fx_byte(st), VIRTIO_BLK_S_IOERR);
	}
	cr_assert_eq(blk_fx_stats().io_errors, 2);
}

Test(blk_req, read_without_data_descriptors_is_an_ioerr) /* spec §12 #82 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, NULL, 0, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
}

Test(blk_req, flush_with_a_data_descriptor_is_an_ioerr) /* spec §12 #83 */
{
	struct blk_req r;
	uint32_t len = 0; /* even a zero-length one counts */

	blk_fx_default();
	blk_fx_wire();
	blk_fx_post(&r, VIRTIO_BLK_T_FLUSH, 0, &len, 1, false);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().flushes_completed, 0);
	cr_assert_eq(blk_fx.faults.sync_calls, 0);
}

Test(blk_req, sub_sector_read_is_rejected_before_the_throttle) /* spec §12 #84 */
{
	struct blk_req r;

	blk_fx_iops1_drained();
	blk_fx_read(&r, 0, 513);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().throttled_count, 0);
}

Test(blk_req, read_into_device_readable_buffer_is_rejected) /* spec §12 #85 */
{
	struct blk_req r;
	uint32_t len = 512;

	blk_fx_iops1_drained();
	blk_fx_post(&r, VIRTIO_BLK_T_IN, 0, &len, 1, false);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().throttled_count, 0);
	cr_assert(blk_fx_all(r.data[0], BLK_FX_DATA_INIT, 512), "guest buffer untouched");
}

Test(blk_req, write_from_device_writable_buffer_is_rejected) /* spec §12 #86 */
{
	struct blk_req r;
	uint32_t len = 512;
	uint8_t file[512];

	blk_fx_default();
	blk_fx_wire();
	blk_fx_post(&r, VIRTIO_BLK_T_OUT, 0, &len, 1, true);
	memset(vdrv_ptr(V, r.data[0]), 0xCD, 512);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().writes_completed, 0);
	cr_assert_eq(blk_fx_stats().bytes_written, 0);
	cr_assert(blk_fx_all(r.data[0], 0xCD, 512));
	blk_fx_file_read(0, file, 512);
	cr_assert_eq(file[0], 0xAB);
}

Test(blk_req, get_id_rejects_a_short_buffer_instead_of_truncating) /* spec §12 #87 */
{
	struct blk_req r;
	uint32_t len19 = 19;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_post(&r, VIRTIO_BLK_T_GET_ID, 0, &len19, 1, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert(blk_fx_all(r.data[0], BLK_FX_DATA_INIT, 19), "nothing written");
}

Test(blk_req, get_id_without_or_with_readable_buffer_is_rejected_before_throttle) /* spec §12 #87 */
{
	struct blk_req r;
	uint32_t len20 = 20;

	blk_fx_iops1_drained();
	blk_fx_post(&r, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, true);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	blk_fx_post(&r, VIRTIO_BLK_T_GET_ID, 0, &len20, 1, false);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 2);
	cr_assert_eq(blk_fx_stats().io_errors, 2);
	cr_assert_eq(blk_fx_stats().throttled_count, 0);
}

Test(blk_req, read_only_disk_refuses_writes_and_never_touches_the_file) /* spec §12 #88 */
{
	struct blk_req r;
	uint8_t file[512];

	blk_fx_setup(&(struct blk_fx_cfg){
		.inline_engine = true, .read_only = true, .throttle = {.iops = 1}});
	cr_assert(vdrv_handshake(V, 1ull << VIRTIO_F_VERSION_1, 1, 256));
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	blk_fx_write(&r, 0, 512, 0xCD);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.io_errors, 1);
	cr_assert_eq(s.writes_completed, 0);
	cr_assert_eq(s.throttled_count, 0);
	cr_assert_eq(blk_fx.faults.pwritev_calls, 0);
	blk_fx_file_read(0, file, 512);
	cr_assert_eq(file[0], 0xAB);
}

Test(blk_req, flush_on_read_only_disk_completes_without_sync) /* spec §12 #89 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){
		.inline_engine = true, .read_only = true, .throttle = {.iops = 1}});
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	blk_fx_flush(&r);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.flushes_completed, 1);
	cr_assert_eq(s.io_errors, 0);
	cr_assert_eq(s.throttled_count, 0);
	cr_assert_eq(blk_fx.faults.sync_calls, 0);
}

Test(blk_req, zero_capacity_disk_fails_reads) /* spec §12 #90 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .capacity = 100});
	cr_assert_eq(vblk_capacity_sectors(blk_fx.vb), 0);
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
}

Test(blk_req, read_beyond_capacity_is_an_ioerr) /* spec §12 #91 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_read(&r, 9, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	blk_fx_read(&r, 7, 1024); /* starts inside, ends past the end */
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().io_errors, 2);
	cr_assert_eq(blk_fx_stats().reads_completed, 0);
	cr_assert_eq(blk_fx.faults.preadv_calls, 0);
}

Test(blk_req, sector_arithmetic_overflow_is_an_ioerr) /* spec §12 #92 */
{
	struct blk_req r;
	uint8_t file[4096];

	blk_fx_default();
	blk_fx_wire();
	blk_fx_write(&r, UINT64_MAX, 512, 0xCD);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	blk_fx_write(&r, UINT64_MAX / 512, 512, 0xCD); /* base fits, base + len overflows */
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx_stats().writes_completed, 0);
	blk_fx_file_read(0, file, sizeof(file));
	for (size_t i = 0; i < sizeof(file); i++)
		cr_assert_eq(file[i], 0xAB);
}

Test(blk_req, short_write_is_continued_until_complete) /* spec §12 #93 */
{
	struct blk_req r;
	uint8_t file[512];

	blk_fx_default();
	blk_fx_wire();
	blk_fx.faults.write_half = true;
	blk_fx_write(&r, 2, 512, 0x77);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx.faults.pwritev_calls, 2);
	blk_fx_file_read(1024, file, 512);
	for (int i = 0; i < 512; i++)
		cr_assert_eq(file[i], 0x77);
	cr_assert_eq(blk_fx_stats().bytes_written, 512);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
}

Test(blk_req, write_making_no_progress_is_an_ioerr) /* spec §12 #94 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx.faults.write_zero = true;
	blk_fx_write(&r, 0, 512, 0x77);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.io_errors, 1);
	cr_assert_eq(s.writes_completed, 0);
	cr_assert_eq(s.bytes_written, 0);
	cr_assert_eq(blk_fx.faults.pwritev_calls, 1, "no retry without progress");
}

Test(blk_req, read_retries_eintr) /* spec §12 #95 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx.faults.read_eintr = 2;
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert(blk_fx_all(r.data[0], 0xAB, 512));
	cr_assert_eq(blk_fx.faults.preadv_calls, 3);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
}

Test(blk_req, endless_eintr_fails_after_seventeen_attempts) /* spec §12 #96 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx.faults.read_eintr = -1;
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk_fx.faults.preadv_calls, VBLK_MAX_EINTR_RETRIES + 1);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().reads_completed, 0);
}

Test(blk_req, flush_handler_reports_sync_failure_and_success) /* spec §12 #97 */
{
	struct vblk_result res;

	blk_fx_default();
	blk_fx.faults.sync_errno = EIO;
	res = vblk_handle_flush(blk_fx_state());
	cr_assert_eq(res.status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(res.used_len, 1);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().flushes_completed, 0);
	blk_fx.faults.sync_errno = 0;
	res = vblk_handle_flush(blk_fx_state());
	cr_assert_eq(res.status, VIRTIO_BLK_S_OK);
	cr_assert_eq(res.used_len, 1);
	cr_assert_eq(blk_fx_stats().flushes_completed, 1);
}

Test(blk_req, successful_completion_publishes_head_without_errors) /* spec §12 #98 */
{
	struct blk_req r;
	uint32_t id;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_flush(&r);
	blk_fx_read(&r, 0, 512);
	vdrv_used_elem(V, 0, 1, &id, NULL);
	cr_assert_eq(id, r.head);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
}

/* ---- drain gating ---- */

Test(blk_req, queue_not_ready_means_no_side_effects) /* spec §12 #99 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	vq_lock(blk_fx_q());
	vq_set_ready(blk_fx_q(), false);
	vq_unlock(blk_fx_q());
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(vdrv_used_flags(V, 0), 0, "used.flags not touched");
	struct vblk_stats s = blk_fx_stats();
	cr_assert_eq(s.reads_completed + s.io_errors + s.throttled_count, 0);
	cr_assert_eq(vdrv_irq_count(V), 0);
}

Test(blk_req, kicks_before_set_mem_process_nothing_and_warn_once) /* spec §12 #100 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .no_bind = true});
	blk_fx_wire();
	vdrv_log_capture_start();
	blk_fx_read(&r, 0, 512);
	cr_assert(atomic_load(&blk_fx.d->mem_warned));
	blk_fx_kick();
	vdrv_log_capture_stop();
	cr_assert(atomic_load(&blk_fx.d->mem_warned));
	cr_assert_eq(vdrv_log_count("queue notify before set_mem"), 1);
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
}

Test(blk_req, avail_ring_at_gpa_zero_poisons_as_an_io_error) /* spec §12 #101 */
{
	struct vdrv *v = V;

	blk_fx_default();
	vdrv_set_status(v, 1);
	vdrv_set_status(v, 3);
	vdrv_write_features(v, 1ull << VIRTIO_F_VERSION_1);
	vdrv_set_status(v, 0x0B);
	vdrv_setup_queue(v, 0, 16, 0x1000, 0, 0x3000);
	vdrv_set_status(v, 0x0F);
	cr_assert_eq(vdrv_status(v), 0x0F);
	blk_fx_kick();
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(blk_fx_stats().invalid_avail_idx_count, 0);
	cr_assert(vq_poisoned(blk_fx_q()));
	cr_assert(vdrv_status(v) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

Test(blk_req, head_index_beyond_queue_size_is_dropped) /* spec §12 #102 */
{
	blk_fx_default();
	blk_fx_wire();
	vdrv_publish(V, 0, 300);
	blk_fx_kick();
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(blk_fx_stats().io_errors, 1);
	cr_assert_eq(vq_next_avail(blk_fx_q()), 1);
	cr_assert(!vq_poisoned(blk_fx_q()));
}
