// SPDX-License-Identifier: MIT
/* The virtio-net test fixture (see test_net.h); holds no tests itself. */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "unit/test_net.h"

struct nt NT;

void nt_make(enum vnet_copy_mode mode, const struct vnet_params *p, bool bind)
{
	struct vnet_params def = {.copy = mode};
	int rc;

	memset(&NT, 0, sizeof(NT));
	if (!p)
		p = &def;
	rc = vnet_create(p, &NT.n);
	cr_assert_eq(rc, 0, "vnet_create: %d", rc);
	NT.d = vnet_vdev(NT.n);
	vdrv_init(&NT.v, NT.d, VDRV_MEM_M1, bind);
}

void nt_make_default(void)
{
	nt_make(VNET_COPY_DIRECT, NULL, true);
}

void nt_walk_to_features_ok(void)
{
	vdrv_set_status(&NT.v, ST_ACK);
	vdrv_set_status(&NT.v, ST_DRV);
	vdrv_write_features(&NT.v, NT_FEATURES);
	vdrv_set_status(&NT.v, ST_FEAT);
	cr_assert_eq(vdrv_status(&NT.v), ST_FEAT);
}

void nt_setup_rx(uint16_t size)
{
	vdrv_setup_queue(&NT.v, VNET_RXQ, size, NT_RX_DESC, NT_RX_AVAIL, NT_RX_USED);
}

void nt_setup_tx(uint16_t size)
{
	vdrv_setup_queue(&NT.v, VNET_TXQ, size, NT_TX_DESC, NT_TX_AVAIL, NT_TX_USED);
}

void nt_driver_ok(void)
{
	vdrv_set_status(&NT.v, ST_OK);
	cr_assert_eq(vdrv_status(&NT.v), ST_OK);
}

void nt_std_setup(void)
{
	nt_make_default();
	nt_walk_to_features_ok();
	nt_setup_rx(4);
	nt_setup_tx(4);
	nt_driver_ok();
}

void nt_std_setup_staged(void)
{
	nt_make(VNET_COPY_STAGED, NULL, true);
	nt_walk_to_features_ok();
	nt_setup_rx(4);
	nt_setup_tx(4);
	nt_driver_ok();
}

void nt_teardown(void)
{
	vdrv_log_capture_stop();
	vdrv_log_clear();
	vnet_destroy(NT.n);
	vdrv_fini(&NT.v);
	memset(&NT, 0, sizeof(NT));
}

void nt_fill(uint64_t gpa, uint8_t byte, size_t len)
{
	memset(vdrv_ptr(&NT.v, gpa), byte, len);
}

uint32_t nt_write_std_frame(uint64_t gpa)
{
	uint8_t buf[VNET_HDR_LEN + NT_PAYLOAD] = {0};

	for (unsigned i = 0; i < NT_PAYLOAD; i++)
		buf[VNET_HDR_LEN + i] = (uint8_t)i;
	vdrv_wmem(&NT.v, gpa, buf, sizeof(buf));
	return sizeof(buf);
}

uint16_t nt_post1(uint16_t q, uint64_t gpa, uint32_t len, bool write)
{
	struct vdrv_buf b = {.gpa = gpa, .len = len, .write = write};

	return vdrv_post(&NT.v, q, &b, 1);
}

uint16_t nt_post_std_tx(void)
{
	return nt_post1(VNET_TXQ, NT_TX_BUF, nt_write_std_frame(NT_TX_BUF), false);
}

uint16_t nt_post_std_rx(void)
{
	return nt_post1(VNET_RXQ, NT_RX_BUF, 256, true);
}

void nt_kick_tx(void)
{
	vdrv_notify(&NT.v, VNET_TXQ);
}

void nt_expect_std_rx(uint64_t gpa)
{
	static const uint8_t hdr[VNET_HDR_LEN] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	uint8_t got[VNET_HDR_LEN + NT_PAYLOAD];

	vdrv_rmem(&NT.v, gpa, got, sizeof(got));
	cr_assert_arr_eq(got, hdr, sizeof(hdr), "RX header is not 00x10 01 00");
	for (unsigned i = 0; i < NT_PAYLOAD; i++)
		cr_assert_eq(got[VNET_HDR_LEN + i], i, "RX payload byte %u", i);
}

struct vnet_snapshot nt_snap(void)
{
	struct vnet_snapshot s;

	vnet_snapshot(NT.n, &s);
	return s;
}

void nt_expect(const struct vnet_snapshot *want)
{
	struct vnet_snapshot got = nt_snap();

	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		cr_expect_eq(vnet_snapshot_field(&got, k), vnet_snapshot_field(want, k),
			     "counter %s: got %llu, want %llu", vnet_counter_name(k),
			     (unsigned long long)vnet_snapshot_field(&got, k),
			     (unsigned long long)vnet_snapshot_field(want, k));
}

void nt_expect_used(uint16_t q, uint16_t idx, uint16_t slot, uint32_t id, uint32_t len)
{
	uint32_t gid = ~0u, glen = ~0u;

	cr_assert_eq(vdrv_used_idx(&NT.v, q), idx, "queue %u used.idx %u, want %u", q,
		     vdrv_used_idx(&NT.v, q), idx);
	vdrv_used_elem(&NT.v, q, slot, &gid, &glen);
	cr_assert_eq(gid, id, "queue %u used[%u].id %u, want %u", q, slot, gid, id);
	cr_assert_eq(glen, len, "queue %u used[%u].len %u, want %u", q, slot, glen, len);
}

uint32_t nt_status(void)
{
	return vdrv_status(&NT.v);
}

bool nt_needs_reset(void)
{
	return nt_status() & ST_NEEDS_R;
}
