// SPDX-License-Identifier: MIT
/*
 * virtio-net: identity, offered features, config space, MAC derivation and
 * the net-specific parts of negotiation (specs/virtio-net.md §12 A–E).
 *
 * Net cases that are pure transport behaviour are tested once, on the shared
 * transport, by tests/unit/test_mmio_*.c (specs/virtio-transport.md §7).
 * Where the transport spec changed the expectation (its §5.3) the transport
 * test holds the new one.
 *
 *   net #  -> transport #        net #  -> transport #
 *   6      -> 9                  37     -> 34
 *   7      -> 11                 38     -> 33
 *   8      -> 5                  39     -> 32
 *   9      -> 6                  41     -> 3
 *   10     -> 13, 14             42     -> 90
 *   11     -> 4, 45              43     -> 92
 *   21     -> 3                  44     -> 91
 *   22     -> 50                 45     -> 93
 *   23     -> 51                 46     -> 94, 96
 *   24     -> 47                 47     -> 95
 *   25     -> 48                 48     -> 98
 *   27     -> 54                 49     -> 101
 *   28     -> 57 (changed)       50     -> 89
 *   29     -> 56                 97     -> 113
 *   34     -> 59 (changed)       99     -> 124
 *   35     -> 72                 101    -> 77
 *   36     -> 39 (changed)       119    -> 74
 *                                120    -> 73
 *                                121    -> 75 (changed)
 *                                122    -> 79 (changed)
 *
 * Section N (cases 135–145, multiqueue and the control queue) is not
 * implemented and not tested: it needs a PCI/MSI-X transport, and on
 * virtio-mmio the device never offers MQ or CTRL_VQ (spec §9). Case 5
 * below pins that MQ/CTRL_VQ are not offered.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "unit/test_net.h"

static void fresh(void)
{
	nt_make_default();
}

TestSuite(net_ident, .init = fresh, .fini = nt_teardown);

/* spec §12 #1 */
Test(net_ident, magic_reads_virt)
{
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976u);
}

/* spec §12 #2 */
Test(net_ident, version_2_device_id_1_vendor_0)
{
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_DEVICE_ID), 1);
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_VENDOR_ID), 0);
}

/* spec §12 #3 */
Test(net_ident, feature_page0_is_mac_only)
{
	vdrv_w32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES), 0x20u);
}

/* spec §12 #4 */
Test(net_ident, feature_page1_is_version1_other_pages_zero)
{
	vdrv_w32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES), 1u);
	vdrv_w32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	vdrv_w32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xFFFFFFFFu);
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

/* spec §12 #5 */
Test(net_ident, offers_no_csum_mtu_mrg_status_ctrl_mq)
{
	uint64_t f = vdrv_read_device_features(&NT.v);
	static const unsigned absent[] = {0, 3, 15, 16, 17, 22};

	cr_assert_eq(f, NT_FEATURES);
	for (unsigned i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		cr_assert_eq(f & (1ull << absent[i]), 0, "bit %u offered", absent[i]);
}

/* spec §12 #40 (the queue count is the device's: RX and TX only) */
Test(net_ident, two_queues_of_256)
{
	static const uint32_t sel[] = {0, 1, 2, 0xFFFFFFFFu};
	static const uint32_t want[] = {256, 256, 0, 0};

	for (unsigned i = 0; i < 4; i++) {
		vdrv_w32(&NT.v, VIRTIO_MMIO_QUEUE_SEL, sel[i]);
		cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_QUEUE_NUM_MAX), want[i], "sel %u", sel[i]);
	}
}

/* spec §12 #26, #32: the Linux walk with VERSION_1 + MAC reaches 0x0F */
Test(net_ident, walk_with_version1_and_mac_reaches_driver_ok)
{
	vdrv_set_status(&NT.v, ST_ACK);
	cr_assert_eq(nt_status(), ST_ACK);
	vdrv_set_status(&NT.v, ST_DRV);
	cr_assert_eq(nt_status(), ST_DRV);
	vdrv_write_features(&NT.v, NT_FEATURES);
	vdrv_set_status(&NT.v, ST_FEAT);
	cr_assert_eq(nt_status(), ST_FEAT, "no FAILED with the full offer");
	vdrv_set_status(&NT.v, ST_OK);
	cr_assert_eq(nt_status(), ST_OK);
}

/* ACK, DRIVER, the given features, FEATURES_OK; returns the status read back. */
static uint32_t features_ok_with(uint64_t features)
{
	vdrv_set_status(&NT.v, ST_ACK);
	vdrv_set_status(&NT.v, ST_DRV);
	vdrv_write_features(&NT.v, features);
	vdrv_set_status(&NT.v, ST_FEAT);
	return nt_status();
}

/* spec §12 #33: MAC is not required */
Test(net_ident, version1_alone_is_accepted)
{
	cr_assert_eq(features_ok_with(1ull << 32), ST_FEAT);
}

/* spec §12 #30 with the transport's expectation (transport §5.3: stays 0x03) */
Test(net_ident, mac_without_version1_is_refused)
{
	cr_assert_eq(features_ok_with(1ull << 5), ST_DRV);
}

/* spec §12 #31 with the transport's expectation: MQ is not offered by net */
Test(net_ident, mq_is_not_offered_so_features_ok_is_refused)
{
	cr_assert_eq(features_ok_with((1ull << 32) | (1ull << 22)), ST_DRV);
	vdrv_write_features(&NT.v, 1ull << 32);
	vdrv_set_status(&NT.v, ST_FEAT);
	cr_assert_eq(nt_status(), ST_FEAT, "retry without the unoffered bit");
}

/* ---- config space (§12 B) ---- */

TestSuite(net_config, .init = fresh, .fini = nt_teardown);

static void cfg_read(struct vdrv *v, uint32_t off, uint8_t *buf, uint32_t len)
{
	memset(buf, 0x5A, len);
	vdrv_rn(v, off, buf, len);
}

/* spec §12 #13 */
Test(net_config, default_mac_read_as_six_bytes)
{
	static const uint8_t want[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint8_t got[6];

	cfg_read(&NT.v, 0x100, got, 6);
	cr_assert_arr_eq(got, want, 6);
}

static void remake_with_mac(const uint8_t mac[6])
{
	struct vnet_params p = {.has_mac = true};

	nt_teardown();
	memcpy(p.mac, mac, 6);
	nt_make(VNET_COPY_DIRECT, &p, true);
}

/* spec §12 #14 */
Test(net_config, configured_mac_served_verbatim)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	uint8_t got[6];

	remake_with_mac(mac);
	cfg_read(&NT.v, 0x100, got, 6);
	cr_assert_arr_eq(got, mac, 6);
}

/* spec §12 #15 */
Test(net_config, mac_bytes_are_not_swapped)
{
	static const uint8_t mac[6] = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
	uint8_t b;

	remake_with_mac(mac);
	cfg_read(&NT.v, 0x100, &b, 1);
	cr_assert_eq(b, 0xAA);
	cfg_read(&NT.v, 0x105, &b, 1);
	cr_assert_eq(b, 0xFF);
}

/* spec §12 #16 */
Test(net_config, status_pairs_mtu_read_zero)
{
	static const uint32_t offs[] = {0x106, 0x108, 0x10A};

	for (unsigned i = 0; i < 3; i++) {
		uint8_t b[2];

		cfg_read(&NT.v, offs[i], b, 2);
		cr_assert(b[0] == 0 && b[1] == 0, "config 0x%x", offs[i]);
	}
}

/* spec §12 #17 */
Test(net_config, reads_past_the_layout_are_zero)
{
	static const uint8_t zero[8];
	uint8_t b[8];

	cfg_read(&NT.v, 0x10C, b, 4);
	cr_assert_arr_eq(b, zero, 4);
	cfg_read(&NT.v, 0x11C, b, 8);
	cr_assert_arr_eq(b, zero, 8);
}

/* spec §12 #18 */
Test(net_config, read_straddling_the_end_is_zero_padded)
{
	static const uint8_t want[4] = {0x00, 0x01, 0, 0};
	uint8_t b[4];

	cfg_read(&NT.v, 0x104, b, 4);
	cr_assert_arr_eq(b, want, 4);
}

/* spec §12 #19 */
Test(net_config, writes_do_not_change_the_mac)
{
	static const uint8_t ff[4] = {0xFF, 0xFF, 0xFF, 0xFF};
	static const uint8_t want[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint8_t got[6];

	vdrv_wn(&NT.v, 0x100, ff, 4);
	vdrv_wn(&NT.v, 0x101, ff, 1);
	vdrv_wn(&NT.v, 0x104, ff, 2);
	cfg_read(&NT.v, 0x100, got, 6);
	cr_assert_arr_eq(got, want, 6);
}

/* spec §12 #20 */
Test(net_config, odd_width_read_is_served)
{
	static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	uint8_t got[3];

	remake_with_mac(mac);
	cfg_read(&NT.v, 0x101, got, 3);
	cr_assert_arr_eq(got, mac + 1, 3);
}

/* spec §12 #20a */
Test(net_config, last_word_of_the_window_reads_zero)
{
	static const uint8_t zero[4];
	uint8_t b[4];

	cfg_read(&NT.v, 0xFFC, b, 4);
	cr_assert_arr_eq(b, zero, 4);
}

/* spec §12 #12 (no reset involved; generation per reset is transport #80) */
Test(net_config, generation_untouched_by_walk_loopback_and_poison)
{
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	nt_walk_to_features_ok();
	nt_setup_rx(256);
	nt_setup_tx(4);
	nt_driver_ok();
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert_eq(nt_snap().tx_packets, 1);
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	vdrv_set_avail_idx(&NT.v, VNET_RXQ, 1000);
	nt_post_std_tx();
	nt_kick_tx();
	cr_assert(nt_needs_reset());
	cr_assert_eq(vdrv_r32(&NT.v, VIRTIO_MMIO_CONFIG_GENERATION), 0);
}

/* ---- MAC derivation and creation ---- */

Test(net_mac, index_zero_is_the_reference_default)
{
	uint8_t mac[6];
	static const uint8_t want[6] = {0x02, 0, 0, 0, 0, 0x01};

	cr_assert_eq(vnet_mac_from_index(0, mac), 0);
	cr_assert_arr_eq(mac, want, 6);
}

Test(net_mac, index_maps_to_distinct_local_unicast_addresses)
{
	uint8_t a[6], b[6], top[6];
	static const uint8_t want_a[6] = {0x02, 0, 0, 0x01, 0x02, 0x04};
	static const uint8_t want_top[6] = {0x02, 0, 0, 0xFF, 0xFF, 0xFF};

	cr_assert_eq(vnet_mac_from_index(0x010203, a), 0);
	cr_assert_arr_eq(a, want_a, 6);
	cr_assert_eq(vnet_mac_from_index(7, b), 0);
	cr_assert_eq(b[5], 8);
	cr_assert_eq(vnet_mac_from_index(VNET_INDEX_MAX, top), 0);
	cr_assert_arr_eq(top, want_top, 6);
	cr_assert_eq(vnet_mac_from_index(VNET_INDEX_MAX + 1, top), -EINVAL);
}

Test(net_mac, created_device_serves_the_index_mac)
{
	struct vnet_params p = {.index = 5};
	struct vnet *n = NULL;
	uint8_t mac[6], cfg[6];

	cr_assert_eq(vnet_create(&p, &n), 0);
	vnet_mac(n, mac);
	cr_assert_eq(mac[5], 6);
	vmmio_read(vnet_vdev(n), 0x100, cfg, 6);
	cr_assert_arr_eq(cfg, mac, 6);
	vnet_destroy(n);
}

Test(net_mac, unusable_explicit_mac_or_index_is_refused)
{
	struct vnet_params multicast = {.has_mac = true, .mac = {0x01, 0, 0x5E, 0, 0, 1}};
	struct vnet_params zero = {.has_mac = true};
	struct vnet_params big = {.index = VNET_INDEX_MAX + 1};
	struct vnet_params mode = {.copy = (enum vnet_copy_mode)7};
	struct vnet *n = NULL;

	cr_assert_eq(vnet_create(&multicast, &n), -EINVAL);
	cr_assert_eq(vnet_create(&zero, &n), -EINVAL);
	cr_assert_eq(vnet_create(&big, &n), -EINVAL);
	cr_assert_eq(vnet_create(&mode, &n), -EINVAL);
	cr_assert_null(n);
	vnet_destroy(NULL);
}

Test(net_mac, explicit_mac_wins_over_index)
{
	struct vnet_params p = {.index = 9, .has_mac = true, .mac = {0x52, 0x54, 0, 1, 2, 3}};
	struct vnet *n = NULL;
	uint8_t mac[6];

	cr_assert_eq(vnet_create(&p, &n), 0);
	vnet_mac(n, mac);
	cr_assert_arr_eq(mac, p.mac, 6);
	vnet_destroy(n);
}
