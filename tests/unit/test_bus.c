// SPDX-License-Identifier: MIT
/* Port-I/O and MMIO dispatch (specs/vmm-x86.md §1.11). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "vmm/bus.h"

struct dev {
	const char *name;
	uint64_t last_off;
	uint32_t last_len;
	uint64_t last_val;
	unsigned reads, writes;
};

static void dev_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct dev *d = opaque;
	d->reads++;
	d->last_off = off;
	d->last_len = len;
	memset(data, 0x5a, len);
}

static void dev_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct dev *d = opaque;
	d->writes++;
	d->last_off = off;
	d->last_len = len;
	d->last_val = 0;
	memcpy(&d->last_val, data, len);
}

static const struct bus_ops dev_ops = {.name = "dev", .read = dev_read, .write = dev_write};

/* A device that fills only the first byte of any read. */
static void half_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	(void)opaque;
	(void)off;
	(void)len;
	*(uint8_t *)data = 0x11;
}

static const struct bus_ops half_ops = {.name = "half", .read = half_read};

static struct bus b;
static char logged[64][160];
static unsigned nlogged;

static void sink(enum log_level lvl, const char *msg, void *opaque)
{
	(void)lvl;
	(void)opaque;
	if (nlogged < 64)
		snprintf(logged[nlogged++], sizeof(logged[0]), "%s", msg);
}

static void setup(void)
{
	bus_init(&b);
	nlogged = 0;
	log_set_sink(sink, NULL);
}

static void teardown(void)
{
	log_set_sink(NULL, NULL);
	bus_destroy(&b);
}

TestSuite(bus, .init = setup, .fini = teardown);

Test(bus, pio_access_reaches_the_window_with_a_relative_offset)
{
	struct dev d = {0};
	uint32_t v = 0xdeadbeef;

	cr_assert_eq(bus_register_pio(&b, 0x3f8, 8, &dev_ops, &d), 0);
	cr_assert(bus_pio(&b, 0x3fd, true, &v, 4) == false, "straddles the window end");
	cr_assert(bus_pio(&b, 0x3fc, true, &v, 4));
	cr_assert_eq(d.writes, 1);
	cr_assert_eq(d.last_off, 4);
	cr_assert_eq(d.last_val, 0xdeadbeef);
	uint16_t r = 0;
	cr_assert(bus_pio(&b, 0x3f8, false, &r, 2));
	cr_assert_eq(d.last_off, 0);
	cr_assert_eq(r, 0x5a5a);
}

Test(bus, mmio_access_reaches_the_window_with_a_relative_offset)
{
	struct dev d0 = {0}, d1 = {0};
	uint64_t v = 0x0123456789abcdefull;

	cr_assert_eq(bus_register_mmio(&b, 0xd0001000, 0x1000, &dev_ops, &d1), 0);
	cr_assert_eq(bus_register_mmio(&b, 0xd0000000, 0x1000, &dev_ops, &d0), 0);
	cr_assert(bus_mmio(&b, 0xd0001050, true, &v, 8));
	cr_assert_eq(d1.writes, 1);
	cr_assert_eq(d0.writes, 0);
	cr_assert_eq(d1.last_off, 0x50);
	cr_assert_eq(d1.last_val, v);
	cr_assert(bus_mmio(&b, 0xd0000ffc, false, &v, 4));
	cr_assert_eq(d0.reads, 1);
	cr_assert_eq(d0.last_off, 0xffc);
}

Test(bus, overlapping_or_empty_windows_are_refused)
{
	struct dev d = {0};

	cr_assert_eq(bus_register_mmio(&b, 0x1000, 0x1000, &dev_ops, &d), 0);
	cr_assert_eq(bus_register_mmio(&b, 0x1800, 0x1000, &dev_ops, &d), -EEXIST);
	cr_assert_eq(bus_register_mmio(&b, 0x0800, 0x1000, &dev_ops, &d), -EEXIST);
	cr_assert_eq(bus_register_mmio(&b, 0x0800, 0x2000, &dev_ops, &d), -EEXIST);
	cr_assert_eq(bus_register_mmio(&b, 0x1fff, 1, &dev_ops, &d), -EEXIST);
	cr_assert_eq(bus_register_mmio(&b, 0x2000, 0x10, &dev_ops, &d), 0, "adjacent is fine");
	cr_assert_eq(bus_register_mmio(&b, 0x0, 0x1000, &dev_ops, &d), 0, "adjacent below");
	cr_assert_eq(bus_register_mmio(&b, 0x5000, 0, &dev_ops, &d), -EINVAL);
	cr_assert_eq(bus_register_mmio(&b, UINT64_MAX - 2, 8, &dev_ops, &d), -EINVAL);
	cr_assert_eq(bus_register_pio(&b, 0xfffe, 4, &dev_ops, &d), -EINVAL);
	cr_assert_eq(bus_register_pio(&b, 0xfffc, 4, &dev_ops, &d), 0, "up to port 0xffff");
	cr_assert_eq(b.mmio.count, 3);
}

Test(bus, many_windows_stay_sorted_and_all_reachable)
{
	static struct dev d[40];
	/* Register in a scrambled order. */
	for (unsigned k = 0; k < 40; k++) {
		unsigned i = (k * 17) % 40;
		cr_assert_eq(bus_register_mmio(&b, 0x10000 + i * 0x100, 0x80, &dev_ops, &d[i]), 0);
	}
	for (unsigned i = 0; i < 40; i++) {
		uint8_t v = (uint8_t)i;
		cr_assert(bus_mmio(&b, 0x10000 + i * 0x100 + 0x7f, true, &v, 1));
		cr_assert_eq(d[i].writes, 1);
		cr_assert_eq(d[i].last_off, 0x7f);
		cr_assert_not(bus_mmio(&b, 0x10000 + i * 0x100 + 0x80, true, &v, 1), "gap");
	}
	for (unsigned i = 1; i < b.mmio.count; i++)
		cr_assert_lt(b.mmio.ranges[i - 1].base, b.mmio.ranges[i].base);
}

Test(bus, unknown_reads_return_all_ones_and_writes_are_dropped)
{
	uint32_t v = 0;

	cr_assert_not(bus_pio(&b, 0x80, false, &v, 4));
	cr_assert_eq(v, 0xffffffff);
	v = 0;
	cr_assert_not(bus_mmio(&b, 0xfed00000, false, &v, 2));
	cr_assert_eq(v, 0xffff, "only len bytes are written");
	cr_assert_not(bus_mmio(&b, 0xfed00000, true, &v, 4));
	cr_assert_eq(b.unknown_accesses, 3);
}

Test(bus, unknown_port_is_logged_once_per_port)
{
	uint8_t v = 0;

	log_set_level(LOG_DEBUG);
	for (unsigned i = 0; i < 100; i++) {
		bus_pio(&b, 0x80, true, &v, 1);
		bus_pio(&b, 0xcf8, false, &v, 1);
	}
	cr_assert_eq(nlogged, 2);
	cr_assert(strstr(logged[0], "0x0080"), "%s", logged[0]);
	cr_assert(strstr(logged[1], "0x0cf8"), "%s", logged[1]);
	cr_assert_eq(b.unknown_accesses, 200);
}

Test(bus, unknown_mmio_is_logged_once_per_address_and_bounded)
{
	uint32_t v = 0;

	for (unsigned rep = 0; rep < 3; rep++)
		bus_mmio(&b, 0xfe000000, true, &v, 4);
	cr_assert_eq(nlogged, 1);
	/* A guest touching thousands of addresses cannot flood the log. */
	for (uint64_t a = 0; a < 5000; a++)
		bus_mmio(&b, 0xe0000000 + a * 4, false, &v, 4);
	cr_assert_leq(nlogged, BUS_UNKNOWN_MMIO_SLOTS + RATELIMIT_BURST + 1);
}

Test(bus, partial_read_handler_leaves_all_ones_in_the_rest)
{
	uint32_t v = 0;

	cr_assert_eq(bus_register_pio(&b, 0x500, 4, &half_ops, NULL), 0);
	cr_assert(bus_pio(&b, 0x500, false, &v, 4));
	cr_assert_eq(v, 0xffffff11);
	/* No write handler: the write is accepted and dropped. */
	cr_assert(bus_pio(&b, 0x500, true, &v, 4));
}

Test(bus, find_rejects_ranges_that_wrap)
{
	struct dev d = {0};

	cr_assert_eq(bus_register_mmio(&b, UINT64_MAX - 0xfff, 0x1000, &dev_ops, &d), 0);
	cr_assert_not_null(bus_find(&b.mmio, UINT64_MAX - 7, 8));
	cr_assert_null(bus_find(&b.mmio, UINT64_MAX - 3, 8));
	cr_assert_null(bus_find(&b.mmio, 0x10, 0));
}
