// SPDX-License-Identifier: MIT
/*
 * virtio-mmio register file: identity, register map, widths and alignment.
 * specs/virtio-transport.md §4.1-§4.3, test cases §7.A (1-8) and §7.B (9-18).
 */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

TestSuite(mmio_regs, .init = tfx_setup, .fini = tfx_teardown);
TestSuite(mmio_width, .init = tfx_setup, .fini = tfx_teardown);

/* Offsets that read 0 and ignore writes (§7 #5, #6). */
static const uint64_t reserved_offs[] = {0x018, 0x028, 0x03C, 0x040, 0x0A8, 0x0AC,
					 0x0B0, 0x0B4, 0x0B8, 0x0BC, 0x0C0, 0x0F8};

static void assert_all_bytes(const uint8_t *buf, size_t len, uint8_t val)
{
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(buf[i], val, "byte %zu is 0x%02x, expected 0x%02x", i, buf[i], val);
}

/* ---- §7.A identity and register map ------------------------------------ */

/* spec §7 #1 */
Test(mmio_regs, identity)
{
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_DEVICE_ID), 42);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_VENDOR_ID), 0);
}

/*
 * spec §7 #2: the net, console and blk halves of this case live in
 * test_virtio_net.c, test_virtio_console.c and test_virtio_blk.c. Here: the
 * identity registers are constant through a whole lifecycle.
 */
Test(mmio_regs, identity_stable_across_lifecycle)
{
	cr_assert(vdrv_walk(v, TDEV_FEAT_VERSION_1));
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_DEVICE_ID), 42);
	vdrv_set_status(v, 0);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_VENDOR_ID), 0);
}

/* spec §7 #3 */
Test(mmio_regs, fresh_device_state)
{
	cr_assert_eq(vdrv_status(v), 0);
	cr_assert_eq(vdrv_isr(v), 0);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	for (uint32_t q = 0; q < 2; q++) {
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, q);
		cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 0);
	}
}

/* spec §7 #4 */
Test(mmio_regs, write_only_registers_read_zero)
{
	static const uint64_t offs[] = {
		VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
		VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL,
		VIRTIO_MMIO_QUEUE_NUM,		 VIRTIO_MMIO_QUEUE_NOTIFY,
		VIRTIO_MMIO_INTERRUPT_ACK,	 VIRTIO_MMIO_QUEUE_DESC_LOW,
		VIRTIO_MMIO_QUEUE_DESC_HIGH,	 VIRTIO_MMIO_QUEUE_AVAIL_LOW,
		VIRTIO_MMIO_QUEUE_AVAIL_HIGH,	 VIRTIO_MMIO_QUEUE_USED_LOW,
		VIRTIO_MMIO_QUEUE_USED_HIGH,
	};

	cr_assert(vdrv_walk_to(v, TDEV_FEAT_VERSION_1, 0x0B));
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		/* Sel 1 and small aligned values, so every write is also accepted. */
		vdrv_w32(v, offs[i], offs[i] == VIRTIO_MMIO_QUEUE_NUM ? 8 : 0x1000);
		cr_assert_eq(vdrv_r32(v, offs[i]), 0, "offset 0x%03llx",
			     (unsigned long long)offs[i]);
	}
}

/* spec §7 #5 */
Test(mmio_regs, reserved_offsets_read_zero)
{
	cr_assert(vdrv_walk(v, TDEV_FEAT_VERSION_1));
	for (size_t i = 0; i < sizeof(reserved_offs) / sizeof(reserved_offs[0]); i++)
		cr_assert_eq(vdrv_r32(v, reserved_offs[i]), 0, "offset 0x%03llx",
			     (unsigned long long)reserved_offs[i]);
}

/* spec §7 #6 */
Test(mmio_regs, reserved_offsets_ignore_writes)
{
	struct tdev_snap before, after;

	cr_assert(vdrv_walk_to(v, TDEV_FEAT_VERSION_1, 0x0B));
	vdev_signal_config(&t->vdev);
	tdev_snap(t, &before);
	for (size_t i = 0; i < sizeof(reserved_offs) / sizeof(reserved_offs[0]); i++)
		vdrv_w32(v, reserved_offs[i], 0xDEAD);
	tdev_snap(t, &after);
	cr_assert(tdev_snap_eq(&before, &after));
}

/* spec §7 #7 */
Test(mmio_regs, legacy_registers_do_not_exist)
{
	struct tdev_snap before, after;

	cr_assert(vdrv_walk_to(v, TDEV_FEAT_VERSION_1, 0x0B));
	tdev_snap(t, &before);
	vdrv_w32(v, VIRTIO_MMIO_GUEST_PAGE_SIZE, 4096);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_ALIGN, 4096);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_PFN, 0x10);
	tdev_snap(t, &after);
	cr_assert(tdev_snap_eq(&before, &after));
	cr_assert_eq(vdev_queue(&t->vdev, 0)->desc, 0);
	cr_assert_eq(vdev_queue(&t->vdev, 0)->size, 256);
}

/* spec §7 #8 */
Test(mmio_regs, isr_read_does_not_clear)
{
	vdev_mark_used(&t->vdev);
	cr_assert_eq(vdrv_isr(v), 1);
	cr_assert_eq(vdrv_isr(v), 1);
}

/* ---- §7.B widths, alignment, 64-bit accesses ---------------------------- */

/* spec §7 #9 */
Test(mmio_width, odd_width_register_reads_are_ff)
{
	static const uint64_t offs[] = {0x000, 0x004, 0x010, 0x070, 0x0FC};
	static const uint32_t lens[] = {1, 2, 3, 8};
	uint8_t buf[8];

	cr_assert(vdrv_walk(v, TDEV_FEAT_VERSION_1));
	for (size_t i = 0; i < 5; i++) {
		for (size_t j = 0; j < 4; j++) {
			memset(buf, 0, sizeof(buf));
			vdrv_rn(v, offs[i], buf, lens[j]);
			assert_all_bytes(buf, lens[j], 0xFF);
		}
	}
}

/* spec §7 #10 */
Test(mmio_width, four_byte_read_is_not_filler)
{
	uint8_t buf[4];

	vdrv_rn(v, VIRTIO_MMIO_VERSION, buf, 4);
	cr_assert_eq(buf[0], 2);
	cr_assert_eq(buf[1], 0);
	cr_assert_eq(buf[3], 0);
}

/* spec §7 #11 */
Test(mmio_width, odd_width_status_writes_ignored)
{
	static const uint8_t one8[8] = {1};

	vdrv_wn(v, VIRTIO_MMIO_STATUS, one8, 2);
	vdrv_wn(v, VIRTIO_MMIO_STATUS, one8, 1);
	vdrv_wn(v, VIRTIO_MMIO_STATUS, one8, 8);
	cr_assert_eq(vdrv_status(v), 0);
	cr_assert_eq(t->reset_calls, 0);
	/* And a narrow zero write is not a reset either. */
	cr_assert(vdrv_walk_to(v, TDEV_FEAT_VERSION_1, 0x03));
	t->reset_calls = 0;
	vdrv_wn(v, VIRTIO_MMIO_STATUS, (const uint8_t[8]){0}, 2);
	cr_assert_eq(vdrv_status(v), 0x03);
	cr_assert_eq(t->reset_calls, 0);
}

/* spec §7 #12 */
Test(mmio_width, no_64bit_split)
{
	const uint64_t val = htole64(0x0000000100001000ull);
	uint8_t buf[8] = {0};

	cr_assert(vdrv_walk_to(v, TDEV_FEAT_VERSION_1, 0x0B));
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, 0);
	vdrv_wn(v, VIRTIO_MMIO_QUEUE_DESC_LOW, &val, 8);
	cr_assert_eq(vdev_queue(&t->vdev, 0)->desc, 0);
	vdrv_rn(v, VIRTIO_MMIO_QUEUE_DESC_LOW, buf, 8);
	assert_all_bytes(buf, 8, 0xFF);
	/* The same value as two 32-bit halves is taken. */
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	cr_assert_eq(vdev_queue(&t->vdev, 0)->desc, 0x100001000ull);
}

/* spec §7 #13 */
Test(mmio_width, unaligned_reads_zero)
{
	cr_assert(vdrv_walk(v, TDEV_FEAT_VERSION_1));
	cr_assert_eq(vdrv_r32(v, 0x001), 0);
	cr_assert_eq(vdrv_r32(v, 0x071), 0);
	cr_assert_eq(vdrv_r32(v, 0x0FE), 0);
}

/* spec §7 #14 */
Test(mmio_width, unaligned_writes_ignored)
{
	vdrv_w32(v, 0x071, 1);
	cr_assert_eq(vdrv_status(v), 0);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, 5);
	vdrv_w32(v, 0x031, 1);
	cr_assert_eq(t->vdev.queue_sel, 5);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

/* spec §7 #15 */
Test(mmio_width, straddling_write_is_register_path, .init = tfx_setup_cw, .fini = tfx_teardown)
{
	struct tdev_snap before, after;

	tdev_snap(t, &before);
	vdrv_w32(v, 0x0FE, 0x11223344);
	tdev_snap(t, &after);
	cr_assert_eq(t->config_write_calls, 0);
	cr_assert(tdev_snap_eq(&before, &after));
	/* The hook is live: an in-range write reaches it. */
	vdrv_w32(v, 0x100, 0x11223344);
	cr_assert_eq(t->config_write_calls, 1);
}

/* spec §7 #16 */
Test(mmio_width, zero_length_access_does_nothing)
{
	uint8_t buf[4] = {0xA5, 0xA5, 0xA5, 0xA5};
	const uint8_t zero[4] = {0};

	cr_assert(vdrv_walk_to(v, TDEV_FEAT_VERSION_1, 0x01));
	t->reset_calls = 0;
	vdrv_rn(v, VIRTIO_MMIO_STATUS, buf, 0);
	assert_all_bytes(buf, 4, 0xA5);
	vdrv_wn(v, VIRTIO_MMIO_STATUS, zero, 0);
	cr_assert_eq(vdrv_status(v), 0x01);
	cr_assert_eq(t->reset_calls, 0);
}

/* spec §7 #17 */
Test(mmio_width, sixteen_byte_reads)
{
	uint8_t buf[16];

	memset(buf, 0, sizeof(buf));
	vdrv_rn(v, 0x000, buf, 16);
	assert_all_bytes(buf, 16, 0xFF);
	memset(buf, 0x77, sizeof(buf));
	vdrv_rn(v, 0x100, buf, 16);
	for (unsigned i = 0; i < 12; i++)
		cr_assert_eq(buf[i], 0xA0 + i);
	assert_all_bytes(buf + 12, 4, 0);
}

/* spec §7 #18 */
Test(mmio_width, offsets_beyond_window)
{
	cr_assert(vdrv_walk(v, TDEV_FEAT_VERSION_1));
	t->reset_calls = 0;
	cr_assert_eq(vdrv_r32(v, 0x1070), 0);
	vdrv_w32(v, 0x1070, 0);
	cr_assert_eq(t->reset_calls, 0);
	cr_assert_eq(vdrv_status(v), 0x0F);
}
