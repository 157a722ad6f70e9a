// SPDX-License-Identifier: MIT
/* The virtio-console test fixture (see test_console.h); holds no tests itself. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit/test_console.h"

struct ct CT;

void ct_make(enum vdrv_mem_kind kind, const struct vc_limits *lim, bool bind)
{
	memset(&CT, 0, sizeof(CT));
	CT.d = vc_new(lim);
	cr_assert_not_null(CT.d, "vc_new failed");
	vdrv_init(&CT.v, vc_vdev(CT.d), kind, bind);
}

void ct_teardown(void)
{
	vc_free(CT.d);
	vdrv_fini(&CT.v);
	CT.d = NULL;
}

void ct_up(uint64_t features, uint32_t qmask, uint16_t qsize, bool driver_ok)
{
	vdrv_set_status(&CT.v, 0);
	vdrv_set_status(&CT.v, ST_ACK);
	vdrv_set_status(&CT.v, ST_DRV);
	vdrv_write_features(&CT.v, features);
	vdrv_set_status(&CT.v, ST_FEAT);
	cr_assert_eq(vdrv_status(&CT.v), ST_FEAT, "FEATURES_OK refused for 0x%llx",
		     (unsigned long long)features);
	for (uint16_t q = 0; q < VC_NUM_QUEUES; q++)
		if (qmask & (1u << q))
			vdrv_setup_queue(&CT.v, q, qsize, 0, 0, 0);
	if (driver_ok) {
		vdrv_set_status(&CT.v, ST_OK);
		cr_assert_eq(vdrv_status(&CT.v), ST_OK);
	}
}

void ct_wire(uint32_t qmask)
{
	ct_make(VDRV_MEM_M1, NULL, true);
	ct_up(CT_FEATURES, qmask, 16, true);
}

uint64_t ct_buf(size_t len, uint8_t fill)
{
	uint64_t gpa = vdrv_alloc(&CT.v, len ? len : 1, 16);

	if (len)
		memset(vdrv_ptr(&CT.v, gpa), fill, len);
	return gpa;
}

uint64_t ct_data(const void *src, size_t len)
{
	uint64_t gpa = vdrv_alloc(&CT.v, len ? len : 1, 16);

	vdrv_wmem(&CT.v, gpa, src, len);
	return gpa;
}

uint16_t ct_post1(uint16_t q, uint64_t gpa, uint32_t len, bool write)
{
	struct vdrv_buf b = {.gpa = gpa, .len = len, .write = write};

	return vdrv_post(&CT.v, q, &b, 1);
}

uint16_t ct_post1_notify(uint16_t q, uint64_t gpa, uint32_t len, bool write)
{
	uint16_t head = ct_post1(q, gpa, len, write);

	vdrv_notify(&CT.v, q);
	return head;
}

uint16_t ct_ctrl_send(uint32_t id, uint16_t event, uint16_t value, bool notify)
{
	uint8_t m[8] = {(uint8_t)id,	     (uint8_t)(id >> 8),   (uint8_t)(id >> 16),
			(uint8_t)(id >> 24), (uint8_t)event,	   (uint8_t)(event >> 8),
			(uint8_t)value,	     (uint8_t)(value >> 8)};
	uint16_t head = ct_post1(3, ct_data(m, sizeof(m)), sizeof(m), false);

	if (notify)
		vdrv_notify(&CT.v, 3);
	return head;
}

uint32_t ct_used_len(uint16_t q, uint16_t slot)
{
	uint32_t len;

	vdrv_used_elem(&CT.v, q, slot, NULL, &len);
	return len;
}

uint64_t ct_fd_count(int fd)
{
	uint64_t val = 0;

	return read(fd, &val, sizeof(val)) == (ssize_t)sizeof(val) ? val : 0;
}

void ct_expect_drain(size_t (*drain)(struct vc_dev *, uint8_t **), const void *want, size_t n)
{
	uint8_t *got = NULL;
	size_t len = drain(CT.d, &got);

	cr_assert_eq(len, n, "drained %zu bytes, expected %zu", len, n);
	if (n)
		cr_assert_arr_eq(got, want, n, "drained bytes differ");
	else
		cr_assert_null(got);
	free(got);
}

void ct_expect_pending(unsigned port, const void *want, size_t n)
{
	uint8_t *got = malloc(n + 1);
	size_t len = vc_pending_rx_len(CT.d, port);

	cr_assert_eq(len, n, "port %u: %zu bytes pending, expected %zu", port, len, n);
	cr_assert_eq(vc_pending_rx_copy(CT.d, port, got, n), n);
	if (n)
		cr_assert_arr_eq(got, want, n, "port %u: pending bytes differ", port);
	free(got);
}

size_t ct_ctrl_frame(uint32_t id, uint16_t event, uint8_t *buf)
{
	const uint8_t hdr[8] = {(uint8_t)id,
				(uint8_t)(id >> 8),
				(uint8_t)(id >> 16),
				(uint8_t)(id >> 24),
				(uint8_t)event,
				(uint8_t)(event >> 8),
				1,
				0};
	size_t n = sizeof(hdr);

	memcpy(buf, hdr, n);
	if (event == EV_PORT_NAME) {
		const char *name = vc_port_name(id);

		memcpy(buf + n, name, strlen(name) + 1);
		n += strlen(name) + 1;
	}
	return n;
}

void ct_expect_ctrl_out(unsigned i, uint32_t id, uint16_t event)
{
	uint8_t got[64], want[64];
	size_t wn = ct_ctrl_frame(id, event, want), n = vc_ctrl_out_peek(CT.d, i, got, sizeof(got));

	cr_assert_eq(n, wn, "control entry %u: %zu bytes, expected %zu", i, n, wn);
	cr_assert_arr_eq(got, want, wn, "control entry %u differs (event %u port %u)", i, event,
			 id);
}

void ct_expect_guest_frame(uint64_t gpa, uint32_t id, uint16_t event)
{
	uint8_t got[64], want[64];
	size_t wn = ct_ctrl_frame(id, event, want);

	vdrv_rmem(&CT.v, gpa, got, wn);
	cr_assert_arr_eq(got, want, wn, "guest frame at 0x%llx differs (event %u port %u)",
			 (unsigned long long)gpa, event, id);
}
