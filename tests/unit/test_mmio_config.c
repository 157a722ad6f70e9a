// SPDX-License-Identifier: MIT
/*
 * virtio-mmio device config space: specs/virtio-transport.md §4.4, test
 * cases §7.C (19-27). tdev's config image is the 12 bytes A0..AB.
 */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

TestSuite(mmio_config, .init = tfx_setup, .fini = tfx_teardown);

/* Read len bytes at off and compare with the expected image (NULL = zeros). */
static void expect_read(uint64_t off, uint32_t len, const uint8_t *expect)
{
	uint8_t buf[16];

	cr_assert_leq(len, sizeof(buf));
	memset(buf, 0x5C, sizeof(buf));
	vdrv_rn(v, off, buf, len);
	for (uint32_t i = 0; i < len; i++)
		cr_assert_eq(buf[i], expect ? expect[i] : 0, "off 0x%llx len %u byte %u: 0x%02x",
			     (unsigned long long)off, len, i, buf[i]);
}

static const uint8_t image[12] = {0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5,
				  0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB};

/* spec §7 #19 */
Test(mmio_config, in_range_widths)
{
	expect_read(0x100, 1, image);
	expect_read(0x104, 2, image + 4);
	expect_read(0x108, 4, image + 8);
	expect_read(0x100, 8, image);
}

/* spec §7 #20 */
Test(mmio_config, odd_width_served)
{
	expect_read(0x101, 3, image + 1);
}

/* spec §7 #21 */
Test(mmio_config, tail_past_end_reads_zero)
{
	static const uint8_t at10[4] = {0xAA, 0xAB, 0, 0};
	static const uint8_t at8[8] = {0xA8, 0xA9, 0xAA, 0xAB, 0, 0, 0, 0};

	expect_read(0x10A, 4, at10);
	expect_read(0x108, 8, at8);
}

/* spec §7 #22 */
Test(mmio_config, beyond_image_reads_zero)
{
	static const uint64_t offs[] = {0x10C, 0x11C, 0x7F0};
	static const uint32_t lens[] = {1, 2, 4, 8};

	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 4; j++)
			expect_read(offs[i], lens[j], NULL);
}

/* spec §7 #23 */
Test(mmio_config, end_of_window_and_past_it)
{
	expect_read(0xFFC, 4, NULL);
	expect_read(0xFFC, 8, NULL);
	expect_read(0x1FF0, 16, NULL);
}

/* spec §7 #24 */
Test(mmio_config, config_read_sees_clipped_range)
{
	uint8_t buf[4];

	t->config_read_calls = 0;
	vdrv_rn(v, 0x10A, buf, 4);
	cr_assert_eq(t->config_read_calls, 1);
	cr_assert_eq(t->cread_log[0].off, 10);
	cr_assert_eq(t->cread_log[0].len, 2);
	vdrv_rn(v, 0x10C, buf, 4);
	cr_assert_eq(t->config_read_calls, 1);
}

static void config_writes(void)
{
	static const uint64_t offs[] = {0x100, 0x104, 0x10C, 0x7FF};
	static const uint32_t lens[] = {1, 2, 4, 8};
	static const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	for (size_t i = 0; i < 4; i++)
		for (size_t j = 0; j < 4; j++)
			vdrv_wn(v, offs[i], junk, lens[j]);
}

/* spec §7 #25: without a hook every config write is dropped. */
Test(mmio_config, writes_ignored_without_hook)
{
	struct tdev_snap before, after;

	tdev_snap(t, &before);
	config_writes();
	tdev_snap(t, &after);
	cr_assert(tdev_snap_eq(&before, &after));
	expect_read(0x100, 12, image);
}

/* spec §7 #25: with a recording hook it sees only the in-range parts. */
Test(mmio_config, writes_clipped_for_hook, .init = tfx_setup_cw, .fini = tfx_teardown)
{
	static const struct tdev_access expect[] = {
		{0, 1}, {0, 2}, {0, 4}, {0, 8}, {4, 1}, {4, 2}, {4, 4}, {4, 8},
	};

	config_writes();
	cr_assert_eq(t->config_write_calls, 8);
	for (unsigned i = 0; i < 8; i++) {
		cr_assert_eq(t->cwrite_log[i].off, expect[i].off, "call %u", i);
		cr_assert_eq(t->cwrite_log[i].len, expect[i].len, "call %u", i);
	}
	cr_assert_eq(t->cwrite_bytes[7][0], 1);
	expect_read(0x100, 12, image);
}

/* spec §7 #26 */
Test(mmio_config, never_gated_by_status)
{
	expect_read(0x100, 12, image);
	cr_assert(vdrv_walk(v, TDEV_FEAT_VERSION_1));
	expect_read(0x100, 12, image);
	vdev_set_needs_reset(&t->vdev);
	expect_read(0x100, 12, image);
	vdrv_set_status(v, 0xCF);
	cr_assert_eq(vdrv_status(v), 0xCF);
	expect_read(0x100, 12, image);
	vdrv_set_status(v, 0);
	expect_read(0x100, 12, image);
}

/* spec §7 #27 */
Test(mmio_config, empty_config_space)
{
	struct tdev d0;
	struct vdrv v0;
	const struct tdev_opts o = {.no_config = true};
	uint8_t buf[8];

	cr_assert_eq(tdev_init(&d0, &o), 0);
	vdrv_init(&v0, &d0.vdev, VDRV_MEM_M1, true);
	memset(buf, 0x33, sizeof(buf));
	vdrv_rn(&v0, 0x100, buf, 8);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(buf[i], 0);
	memset(buf, 0x33, sizeof(buf));
	vdrv_rn(&v0, 0x104, buf, 1);
	cr_assert_eq(buf[0], 0);
	cr_assert_eq(d0.config_read_calls, 0);
	tdev_destroy(&d0);
	vdrv_fini(&v0);
}
