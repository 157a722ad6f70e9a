// SPDX-License-Identifier: MIT
/*
 * virtio-blk device identity, feature word, config space and reset
 * (specs/virtio-blk.md §12 cases 1–57).
 *
 * The shared transport owns register decoding, the status machine, queue
 * configuration and the transport half of reset (specs/virtio-transport.md
 * §5.4), so these blk cases are pinned by its tests (tests/unit/test_mmio_*.c):
 *
 *   blk #  -> transport §7 #      blk #  -> transport §7 #
 *   14     -> 9                   31     -> 57
 *   15     -> 11                  32     -> 58
 *   16     -> 5, 4                33     -> 62
 *   17     -> 6                   34     -> 60
 *   18     -> 8                   35     -> 61, 62
 *   19     -> 123                 36     -> 63
 *   21     -> 50                  37     -> 72
 *   22     -> 47                  39     -> 60
 *   23     -> 54                  40     -> 97, 100
 *   24     -> 49                  41     -> 92
 *   25     -> 51                  42     -> 94
 *   26     -> 37, 41              43     -> 98
 *   27     -> 38, 41              44     -> 93
 *   28     -> 30                  45     -> 85
 *   29     -> 31                  46     -> 80
 *   30     -> 34                  48     -> 76
 *   49     -> 79                  50     -> 77
 *   51     -> 83                  57     -> 78 (and blk_notify #138 here)
 *
 * Cases 1–13, 20, 38 and 47–56 carry blk semantics and are tested below.
 */
#include <criterion/criterion.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "test_blk.h"

TestSuite(blk_dev, .fini = blk_fx_fini);

#define V (&blk_fx.v)

Test(blk_dev, identity_registers) /* spec §12 #1 */
{
	blk_fx_default();
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_DEVICE_ID), 2);
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_VENDOR_ID), 0);
}

static uint32_t features_page(uint32_t sel)
{
	vdrv_w32(V, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
	return vdrv_r32(V, VIRTIO_MMIO_DEVICE_FEATURES);
}

Test(blk_dev, feature_words_of_a_writable_disk) /* spec §12 #2 */
{
	blk_fx_default();
	cr_assert_eq(features_page(0), 0x20000246);
	cr_assert_eq(features_page(1), 0x00000001);
	uint64_t f = vdrv_read_device_features(V);
	for (unsigned bit = 0; bit < 64; bit++) {
		bool want = bit == VIRTIO_F_VERSION_1 || bit == VIRTIO_BLK_F_BLK_SIZE ||
			    bit == VIRTIO_BLK_F_SEG_MAX || bit == VIRTIO_BLK_F_SIZE_MAX ||
			    bit == VIRTIO_BLK_F_FLUSH || bit == VIRTIO_RING_F_EVENT_IDX;
		cr_assert_eq(!!(f & (1ull << bit)), want, "bit %u", bit);
	}
}

Test(blk_dev, event_idx_is_offered) /* spec §12 #3 */
{
	blk_fx_default();
	cr_assert(features_page(0) & (1u << VIRTIO_RING_F_EVENT_IDX));
}

Test(blk_dev, read_only_bit_follows_the_device) /* spec §12 #4 */
{
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .read_only = true});
	cr_assert_eq(features_page(0), 0x20000266);
	cr_assert(vblk_read_only(blk_fx.vb));
	blk_fx_fini();
	blk_fx_default();
	cr_assert_eq(features_page(0) & (1u << VIRTIO_BLK_F_RO), 0);
}

Test(blk_dev, feature_page_two_reads_zero) /* spec §12 #5 */
{
	blk_fx_default();
	cr_assert_eq(features_page(2), 0);
}

static uint64_t cfg_read(uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	cr_assert_leq(len, 8);
	vdrv_rn(V, VMMIO_CONFIG_BASE + off, &v, len);
	return le64toh(v);
}

static void fx_default_capacity(void)
{
	blk_fx_setup(&(struct blk_fx_cfg){
		.inline_engine = true, .capacity = VBLK_DEFAULT_CAPACITY, .file_len = 4096});
}

Test(blk_dev, capacity_in_sectors_at_config_zero) /* spec §12 #6 */
{
	fx_default_capacity();
	cr_assert_eq(cfg_read(0, 8), 524288);
	cr_assert_eq(vblk_capacity_sectors(blk_fx.vb), 524288);
}

Test(blk_dev, limits_and_block_size_fields) /* spec §12 #7 */
{
	blk_fx_default();
	cr_assert_eq(cfg_read(0x08, 4), 1048576);
	cr_assert_eq(cfg_read(0x0C, 4), 128);
	cr_assert_eq(cfg_read(0x14, 4), 512);
}

Test(blk_dev, whole_config_image_is_packed) /* spec §12 #8 */
{
	uint8_t img[24];
	static const uint8_t want[24] = {
		0x00, 0x00, 0x08, 0x00, 0, 0, 0, 0, /* 524288 sectors */
		0x00, 0x00, 0x10, 0x00,		    /* size_max 1 MiB */
		0x80, 0x00, 0x00, 0x00,		    /* seg_max 128 */
		0x00, 0x00, 0x00, 0x00,		    /* geometry */
		0x00, 0x02, 0x00, 0x00,		    /* blk_size 512 */
	};

	fx_default_capacity();
	vdrv_rn(V, VMMIO_CONFIG_BASE, img, sizeof(img));
	cr_assert_arr_eq(img, want, sizeof(want));
}

Test(blk_dev, config_past_the_image_reads_zero) /* spec §12 #9 */
{
	uint8_t buf[16];

	blk_fx_default();
	memset(buf, 0xFF, sizeof(buf));
	vdrv_rn(V, VMMIO_CONFIG_BASE + 0x18, buf, sizeof(buf));
	for (int i = 0; i < 16; i++)
		cr_assert_eq(buf[i], 0);
}

Test(blk_dev, read_straddling_the_end_is_padded_with_zeros) /* spec §12 #10 */
{
	uint8_t buf[8];

	blk_fx_default();
	memset(buf, 0xFF, sizeof(buf));
	vdrv_rn(V, VMMIO_CONFIG_BASE + 0x14, buf, sizeof(buf));
	cr_assert_arr_eq(buf, ((uint8_t[]){0, 2, 0, 0, 0, 0, 0, 0}), 8);
}

Test(blk_dev, config_writes_are_ignored) /* spec §12 #11 */
{
	blk_fx_default();
	vdrv_w32(V, VMMIO_CONFIG_BASE, 0xFFFFFFFF);
	cr_assert_eq(cfg_read(0, 8), 8);
}

Test(blk_dev, one_queue_of_256) /* spec §12 #12, #13 */
{
	blk_fx_default();
	vdrv_w32(V, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	vdrv_w32(V, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	vdrv_w32(V, VIRTIO_MMIO_QUEUE_SEL, 99);
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	cr_assert_eq(vdrv_r32(V, VIRTIO_MMIO_QUEUE_READY), 0);
}

Test(blk_dev, capacity_rounds_down_to_whole_sectors) /* spec §12 #20 */
{
	struct blk_req r;

	fx_default_capacity();
	cr_assert_eq(vblk_capacity_sectors(blk_fx.vb), 524288);
	blk_fx_fini();
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .capacity = 1000});
	cr_assert_eq(vblk_capacity_sectors(blk_fx.vb), 1);
	blk_fx_fini();
	vdrv_log_capture_start();
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .capacity = 100});
	vdrv_log_capture_stop();
	cr_assert_eq(vblk_capacity_sectors(blk_fx.vb), 0);
	cr_assert_eq(vdrv_log_count("smaller than one sector"), 1);
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_IOERR);
}

Test(blk_dev, event_idx_follows_negotiation_and_reset) /* spec §12 #38 */
{
	blk_fx_default();
	blk_fx_wire_event_idx();
	cr_assert(blk_fx_q()->event_idx);
	blk_fx_wire();
	cr_assert(!blk_fx_q()->event_idx);
	vdrv_set_status(V, 0);
	cr_assert(!blk_fx_q()->event_idx);
}

Test(blk_dev, reset_refills_the_buckets) /* spec §12 #47 */
{
	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true,
					  .throttle = {.iops = 4, .bytes_per_sec = 8192}});
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 4));
	cr_assert(vblk_tb_consume(&blk_fx_state()->bytes_tb, 8192));
	cr_assert(!vblk_tb_can_consume(&blk_fx_state()->ops_tb, 1));
	vdrv_set_status(V, 0);
	cr_assert(vblk_tb_can_consume(&blk_fx_state()->ops_tb, 4));
	cr_assert(vblk_tb_can_consume(&blk_fx_state()->bytes_tb, 8192));
}

Test(blk_dev, counters_survive_reset) /* spec §12 #52 */
{
	struct blk_req r;
	struct vblk_stats before, after;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	blk_fx_read(&r, 0, 100);
	before = blk_fx_stats();
	cr_assert_eq(before.reads_completed, 1);
	cr_assert_eq(before.io_errors, 1);
	vdrv_set_status(V, 0);
	after = blk_fx_stats();
	cr_assert_eq(memcmp(&before, &after, sizeof(before)), 0);
}

Test(blk_dev, device_works_again_after_reset_and_rewire) /* spec §12 #53 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	blk_fx_wire(); /* reset, then the guest re-zeroes its rings and walks again */
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	blk_fx_read(&r, 1, 512);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(vdrv_used_idx(V, 0), 1);
	cr_assert_eq(blk_fx_stats().reads_completed, 2);
	cr_assert_eq(blk_fx_stats().io_errors, 0);
}

Test(blk_dev, throttle_applies_again_after_reset) /* spec §12 #54 */
{
	struct blk_req a, b, c;
	uint32_t len = 512;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .throttle = {.iops = 1}});
	blk_fx_wire();
	blk_fx_read(&a, 0, 512);
	cr_assert_eq(blk_fx_status(&a), VIRTIO_BLK_S_OK);
	blk_fx_wire();
	blk_fx.v.q[0].next_free = 3; /* distinct descriptor slots 3–5 and 6–8 */
	blk_fx_post(&b, VIRTIO_BLK_T_IN, 0, &len, 1, true);
	blk_fx_post(&c, VIRTIO_BLK_T_IN, 1, &len, 1, true);
	cr_assert_eq(b.head, 3);
	cr_assert_eq(c.head, 6);
	blk_fx_kick();
	cr_assert_eq(blk_fx_status(&b), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_status(&c), BLK_FX_STATUS_INIT);
	cr_assert_eq(blk_fx_stats().reads_completed, 2);
	cr_assert_eq(blk_fx_stats().throttled_count, 1);
}

Test(blk_dev, reset_clears_the_poison_latch_but_not_its_count) /* spec §12 #55 */
{
	struct blk_req r;

	blk_fx_default();
	blk_fx_wire();
	vdrv_set_avail_idx(V, 0, 1000);
	blk_fx_kick();
	cr_assert(vq_poisoned(blk_fx_q()));
	vdrv_set_status(V, 0);
	cr_assert(!vq_poisoned(blk_fx_q()));
	cr_assert_eq(blk_fx_stats().invalid_avail_idx_count, 1);
	blk_fx_wire();
	blk_fx_flush(&r);
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
}

Test(blk_dev, reset_gives_back_the_stall_gauge) /* spec §12 #56 */
{
	struct blk_req r;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .throttle = {.iops = 1}});
	blk_fx_wire();
	vdrv_set_status(V, 0); /* nothing stalled: the gauge stays at 0, never wraps */
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 0);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
	vdrv_set_status(V, 0);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 0);
	cr_assert(!blk_fx_state()->currently_stalled);
}
