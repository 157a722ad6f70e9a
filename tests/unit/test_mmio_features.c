// SPDX-License-Identifier: MIT
/*
 * virtio-mmio feature negotiation: specs/virtio-transport.md §4.5, test
 * cases §7.D (28-45). tdev offers VERSION_1 | bit 29 | bit 5.
 */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

#define V1   TDEV_FEAT_VERSION_1
#define BIT5 (1ull << TDEV_FEAT_BIT5)

TestSuite(mmio_features, .init = tfx_setup, .fini = tfx_teardown);

static uint32_t dev_features(uint32_t sel)
{
	vdrv_w32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
	return vdrv_r32(v, VIRTIO_MMIO_DEVICE_FEATURES);
}

static void drv_features(uint32_t sel, uint32_t val)
{
	vdrv_w32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
	vdrv_w32(v, VIRTIO_MMIO_DRIVER_FEATURES, val);
}

static uint64_t negotiated(void)
{
	return vdev_driver_features(&t->vdev);
}

/* spec §7 #28 */
Test(mmio_features, device_feature_pages)
{
	cr_assert_eq(dev_features(0), 0x20000020);
	cr_assert_eq(dev_features(1), 0x00000001);
	cr_assert_eq(dev_features(2), 0);
	cr_assert_eq(dev_features(0xFFFFFFFF), 0);
	cr_assert_eq(vdrv_read_device_features(v), TDEV_FEATURES);
}

/* spec §7 #29 */
Test(mmio_features, device_features_sel_any_state)
{
	cr_assert_eq(dev_features(1), 1);
	cr_assert(vdrv_walk(v, V1));
	cr_assert_eq(dev_features(1), 1);
	cr_assert_eq(dev_features(0), 0x20000020);
	vdev_set_needs_reset(&t->vdev);
	cr_assert_eq(vdrv_status(v), 0x4F);
	cr_assert_eq(dev_features(1), 1);
	cr_assert_eq(dev_features(7), 0);
}

/* spec §7 #30 */
Test(mmio_features, driver_features_dropped_before_driver)
{
	drv_features(0, 0x20);
	drv_features(1, 1);
	cr_assert_eq(negotiated(), 0);
	vdrv_set_status(v, 0x01);
	drv_features(0, 0x20);
	drv_features(1, 1);
	cr_assert_eq(negotiated(), 0);
}

/* spec §7 #31 */
Test(mmio_features, stored_unmasked)
{
	cr_assert(vdrv_walk_to(v, 0, 0x03));
	drv_features(0, 0xDEADBEEF);
	drv_features(1, 0xCAFEBABE);
	cr_assert_eq(negotiated(), 0xCAFEBABEDEADBEEFull);
}

/* spec §7 #32 */
Test(mmio_features, page_write_replaces_its_half)
{
	cr_assert(vdrv_walk_to(v, 0, 0x03));
	drv_features(0, 3);
	drv_features(0, 2);
	cr_assert_eq(negotiated(), 2);
	drv_features(1, 1);
	drv_features(0, 1u << 5);
	drv_features(0, 0);
	cr_assert_eq(negotiated(), V1);
	vdrv_set_status(v, 0x0B);
	cr_assert_eq(vdrv_status(v), 0x0B);
}

/* spec §7 #33 */
Test(mmio_features, bad_selector_is_noop)
{
	cr_assert(vdrv_walk_to(v, 0, 0x03));
	drv_features(1, 1);
	drv_features(2, 0xFFFFFFFF);
	drv_features(0xFFFFFFFF, 0xFFFFFFFF);
	cr_assert_eq(negotiated(), V1);
	vdrv_set_status(v, 0x0B);
	cr_assert_eq(vdrv_status(v), 0x0B);
}

/* spec §7 #34 */
Test(mmio_features, frozen_after_features_ok)
{
	cr_assert(vdrv_walk_to(v, V1, 0x0B));
	drv_features(0, 0xFFFF);
	drv_features(0, 1u << 22);
	cr_assert_eq(negotiated(), V1);
	vdrv_set_status(v, 0x0F);
	cr_assert_eq(vdrv_status(v), 0x0F);
	drv_features(0, 0xFFFF);
	drv_features(0, 1u << 22);
	cr_assert_eq(negotiated(), V1);
}

/* spec §7 #35 */
Test(mmio_features, every_offered_bit)
{
	cr_assert(vdrv_walk_to(v, TDEV_FEATURES, 0x0B));
	cr_assert_eq(negotiated(), TDEV_FEATURES);
}

/* spec §7 #36 */
Test(mmio_features, version_1_alone)
{
	cr_assert(vdrv_walk_to(v, V1, 0x0B));
}

/* spec §7 #37 */
Test(mmio_features, refused_without_version_1)
{
	cr_assert_not(vdrv_walk_to(v, BIT5, 0x0B));
	cr_assert_eq(vdrv_status(v), 0x03);
	cr_assert_eq(vdrv_log_count("VERSION_1"), 1);
	/* The window is still open: fix the features and retry. */
	drv_features(1, 1);
	vdrv_set_status(v, 0x0B);
	cr_assert_eq(vdrv_status(v), 0x0B);
	cr_assert_eq(negotiated(), V1 | BIT5);
}

/* spec §7 #38 */
Test(mmio_features, refused_with_unadvertised_bit)
{
	cr_assert_not(vdrv_walk_to(v, V1 | (1ull << 22), 0x0B));
	cr_assert_eq(vdrv_status(v), 0x03);
	cr_assert_eq(vdrv_log_count("unadvertised feature bits"), 1);
	drv_features(0, 0);
	vdrv_set_status(v, 0x0B);
	cr_assert_eq(vdrv_status(v), 0x0B);
}

/* spec §7 #39 */
Test(mmio_features, early_write_dropped_then_refused)
{
	vdrv_set_status(v, 0x01);
	drv_features(1, 1);
	vdrv_set_status(v, 0x03);
	vdrv_set_status(v, 0x0B);
	cr_assert_eq(vdrv_status(v), 0x03);
	cr_assert_eq(negotiated(), 0);
}

/*
 * spec §7 #40: the console half (VERSION_1 | MULTIPORT) lives in
 * test_virtio_console.c. tdev's device-specific bit 5 plays MULTIPORT here.
 */
Test(mmio_features, device_bit_needs_version_1)
{
	cr_assert(vdrv_walk_to(v, V1 | BIT5, 0x0B));
	cr_assert(vdev_has_feature(&t->vdev, TDEV_FEAT_BIT5));
	cr_assert_not(vdrv_walk_to(v, BIT5, 0x0B));
	cr_assert_eq(vdrv_status(v), 0x03);
}

/*
 * spec §7 #41: the blk half (read-write offer 0x1_2000_0246) lives in
 * test_virtio_blk.c. Here: the full offer passes, the offer plus one bit the
 * device does not offer is refused.
 */
Test(mmio_features, full_offer_plus_one)
{
	cr_assert(vdrv_walk_to(v, TDEV_FEATURES, 0x0B));
	cr_assert_not(vdrv_walk_to(v, TDEV_FEATURES | (1ull << 28), 0x0B));
	cr_assert_eq(vdrv_status(v), 0x03);
}

static void assert_queue_flags_at(int line, bool event_idx, bool indirect)
{
	for (uint16_t i = 0; i < TDEV_NUM_QUEUES; i++) {
		cr_assert_eq(vdev_queue(&t->vdev, i)->event_idx, event_idx, "line %d queue %u",
			     line, i);
		cr_assert_eq(vdev_queue(&t->vdev, i)->indirect, indirect, "line %d queue %u", line,
			     i);
	}
}
#define assert_queue_flags(e, i) assert_queue_flags_at(__LINE__, e, i)

/* spec §7 #42 */
Test(mmio_features, event_idx_derived_at_features_ok)
{
	cr_assert(vdrv_walk_to(v, 0, 0x03));
	vdrv_write_features(v, V1 | TDEV_FEAT_EVENT_IDX);
	assert_queue_flags(false, false); /* not before FEATURES_OK */
	vdrv_set_status(v, 0x0B);
	assert_queue_flags(true, false);
	cr_assert(vdrv_walk_to(v, V1, 0x0B));
	assert_queue_flags(false, false);
	cr_assert(vdrv_walk_to(v, V1 | TDEV_FEAT_EVENT_IDX, 0x0B));
	vdrv_set_status(v, 0);
	assert_queue_flags(false, false);
}

/* spec §7 #43: the variant offering bit 28. */
Test(mmio_features, indirect_only_when_negotiated, .init = tfx_setup_indirect, .fini = tfx_teardown)
{
	cr_assert_eq(dev_features(0), 0x30000020);
	cr_assert(vdrv_walk_to(v, V1 | TDEV_FEAT_INDIRECT, 0x0B));
	assert_queue_flags(false, true);
	cr_assert(vdrv_walk_to(v, V1, 0x0B));
	assert_queue_flags(false, false);
	cr_assert(vdrv_walk_to(v, V1 | TDEV_FEAT_INDIRECT | TDEV_FEAT_EVENT_IDX, 0x0B));
	assert_queue_flags(true, true);
	vdrv_set_status(v, 0);
	assert_queue_flags(false, false);
}

/* spec §7 #43: the plain tdev never gets indirect on. */
Test(mmio_features, indirect_never_on_plain_tdev)
{
	cr_assert_not(vdrv_walk_to(v, V1 | TDEV_FEAT_INDIRECT, 0x0B));
	assert_queue_flags(false, false);
	cr_assert(vdrv_walk(v, TDEV_FEATURES));
	assert_queue_flags(true, false);
}

/* spec §7 #44 */
Test(mmio_features, refused_features_ok_sets_no_flags)
{
	cr_assert_not(vdrv_walk_to(v, V1 | TDEV_FEAT_EVENT_IDX | (1ull << 22), 0x0B));
	cr_assert_eq(vdrv_status(v), 0x03);
	assert_queue_flags(false, false);
}

/* spec §7 #45 */
Test(mmio_features, driver_features_not_readable)
{
	cr_assert(vdrv_walk_to(v, 0, 0x03));
	drv_features(0, 0x20);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_DRIVER_FEATURES), 0);
	drv_features(1, 1);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_DRIVER_FEATURES), 0);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL), 0);
}
