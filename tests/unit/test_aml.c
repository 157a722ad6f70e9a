// SPDX-License-Identifier: MIT
/* AML primitives and DSDT byte vectors (specs/vmm-x86.md §3.9, §5 #12, #13). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vmm/acpi.h"
#include "vmm/aml.h"

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	cr_assert_eq(got_len, want_len, "length %zu, want %zu", got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: 0x%02X, want 0x%02X", i, got[i], want[i]);
}

static void pkglen_is(uint32_t v, const uint8_t *want, int n)
{
	uint8_t out[4] = {0};

	cr_assert_eq(aml_pkglen_encode(v, out), n, "PkgLength %u size", v);
	assert_bytes(out, (size_t)n, want, (size_t)n);
}

/* spec §5 #12 */
Test(aml, pkglength_encodings)
{
	pkglen_is(0, (const uint8_t[]){0x00}, 1);
	pkglen_is(1, (const uint8_t[]){0x01}, 1);
	pkglen_is(62, (const uint8_t[]){0x3E}, 1);
	pkglen_is(63, (const uint8_t[]){0x3F}, 1);
	pkglen_is(64, (const uint8_t[]){0x40, 0x04}, 2);
	pkglen_is(65, (const uint8_t[]){0x41, 0x04}, 2);
	pkglen_is(4095, (const uint8_t[]){0x4F, 0xFF}, 2);
	pkglen_is(4096, (const uint8_t[]){0x80, 0x00, 0x01}, 3);
	pkglen_is(0xFFFFF, (const uint8_t[]){0x8F, 0xFF, 0xFF}, 3);
	pkglen_is(0x100000, (const uint8_t[]){0xC0, 0x00, 0x00, 0x01}, 4);
	pkglen_is(0x0FFFFFFF, (const uint8_t[]){0xCF, 0xFF, 0xFF, 0xFF}, 4);
}

/* spec §5 #12 */
Test(aml, pkglength_rejects_above_28_bits)
{
	uint8_t out[4];

	cr_assert_eq(aml_pkglen_encode(0x10000000, out), -EINVAL);
	cr_assert_eq(aml_pkglen_encode(UINT32_MAX, out), -EINVAL);
	cr_assert_eq(aml_pkglen_for_body(0x0FFFFFFC, out), -EINVAL);
	cr_assert_eq(aml_pkglen_for_body(0x0FFFFFFB, out), 4);
}

/* spec §5 #12: the length counts its own bytes. */
Test(aml, pkglength_self_size_rule)
{
	uint8_t out[4];

	cr_assert_eq(aml_pkglen_for_body(62, out), 1);
	cr_assert_eq(out[0], 0x3F);
	cr_assert_eq(aml_pkglen_for_body(63, out), 2);
	cr_assert_eq(out[0], 0x41);
	cr_assert_eq(out[1], 0x04);
	cr_assert_eq(aml_pkglen_for_body(4093, out), 2); /* 4095 */
	cr_assert_eq(aml_pkglen_for_body(4094, out), 3); /* 4097 */
	cr_assert_eq(out[0], 0x81);
	cr_assert_eq(out[1], 0x00);
	cr_assert_eq(out[2], 0x01);
}

static void integer_is(uint64_t v, const uint8_t *want, size_t n)
{
	uint8_t buf[16];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, v);
	cr_assert_eq(a.err, 0);
	assert_bytes(buf, a.len, want, n);
}

/* spec §5 #12 */
Test(aml, integer_boundaries)
{
	integer_is(0, (const uint8_t[]){0x00}, 1);
	integer_is(1, (const uint8_t[]){0x01}, 1);
	integer_is(2, (const uint8_t[]){0x0A, 0x02}, 2);
	integer_is(0xFF, (const uint8_t[]){0x0A, 0xFF}, 2);
	integer_is(0x100, (const uint8_t[]){0x0B, 0x00, 0x01}, 3);
	integer_is(0xFFFF, (const uint8_t[]){0x0B, 0xFF, 0xFF}, 3);
	integer_is(0x10000, (const uint8_t[]){0x0C, 0x00, 0x00, 0x01, 0x00}, 5);
	integer_is(0xFFFFFFFF, (const uint8_t[]){0x0C, 0xFF, 0xFF, 0xFF, 0xFF}, 5);
	integer_is(1ull << 32,
		   (const uint8_t[]){0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}, 9);
	integer_is(UINT64_MAX, (const uint8_t[]){0xFF}, 1);
}

/* spec §5 #12 */
Test(aml, nameseg_padding_and_rejection)
{
	uint8_t s[4];

	cr_assert_eq(aml_nameseg("_SB", s), 0);
	cr_assert_eq(memcmp(s, "_SB_", 4), 0);
	cr_assert_eq(aml_nameseg("A", s), 0);
	cr_assert_eq(memcmp(s, "A___", 4), 0);
	cr_assert_eq(aml_nameseg("VR00", s), 0);
	cr_assert_eq(memcmp(s, "VR00", 4), 0);
	cr_assert_eq(aml_nameseg("", s), -EINVAL);
	cr_assert_eq(aml_nameseg(NULL, s), -EINVAL);
	cr_assert_eq(aml_nameseg("ABCDE", s), -EINVAL);
	cr_assert_eq(aml_nameseg("0ABC", s), -EINVAL, "digit first");
	cr_assert_eq(aml_nameseg("abc", s), -EINVAL, "lower case");
	cr_assert_eq(aml_nameseg("A-B", s), -EINVAL);
}

Test(aml, invalid_name_sticks_as_error)
{
	uint8_t buf[32];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "bad!");
	aml_integer(&a, 5);
	cr_assert_eq(a.err, -EINVAL);
}

Test(aml, overflow_sticks_as_enospc)
{
	uint8_t buf[4];
	struct aml a;
	size_t n;

	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "LNRO0005");
	cr_assert_eq(a.err, -ENOSPC);
	cr_assert_leq(a.len, sizeof(buf));
	/* Sticky: later emits that would fit are ignored too. */
	n = a.len;
	aml_byte(&a, 0);
	cr_assert_eq(a.len, n);
}

/* spec §5 #12 */
Test(aml, eisaid_pnp0501)
{
	uint8_t buf[8];
	struct aml a;
	uint32_t v;

	cr_assert_eq(aml_eisaid("PNP0501", &v), 0);
	cr_assert_eq(v, 0x0105D041u);
	aml_init(&a, buf, sizeof(buf));
	aml_eisaid_integer(&a, "PNP0501");
	assert_bytes(buf, a.len, (const uint8_t[]){0x0C, 0x41, 0xD0, 0x05, 0x01}, 5);
	cr_assert_eq(aml_eisaid("PNP050", &v), -EINVAL);
	cr_assert_eq(aml_eisaid("pnp0501", &v), -EINVAL);
	cr_assert_eq(aml_eisaid("PNP05G1", &v), -EINVAL);
}

static const uint8_t vr00_scope[68] = {
	0x10, 0x43, 0x04, 0x5C, 0x5F, 0x53, 0x42, 0x5F, 0x5B, 0x82, 0x3A, 0x56, 0x52, 0x30,
	0x30, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x0D, 0x4C, 0x4E, 0x52, 0x4F, 0x30, 0x30, 0x30,
	0x35, 0x00, 0x08, 0x5F, 0x55, 0x49, 0x44, 0x00, 0x08, 0x5F, 0x43, 0x52, 0x53, 0x11,
	0x1A, 0x0A, 0x17, 0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x10, 0x00,
	0x00, 0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00,
};

static const uint8_t com1_dev[51] = {
	0x5B, 0x82, 0x31, 0x43, 0x4F, 0x4D, 0x31, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x0C,
	0x41, 0xD0, 0x05, 0x01, 0x08, 0x5F, 0x55, 0x49, 0x44, 0x01, 0x08, 0x5F, 0x43,
	0x52, 0x53, 0x11, 0x16, 0x0A, 0x13, 0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01,
	0x08, 0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, 0x79, 0x00,
};

static const uint8_t s5_name[14] = {0x08, 0x5C, 0x5F, 0x53, 0x35, 0x5F, 0x12,
				    0x07, 0x04, 0x0A, 0x05, 0x00, 0x00, 0x00};

/* Builds the one-device scope with the public primitives, independent of acpi.c. */
static size_t emit_vr00(uint8_t *buf, size_t cap, bool edge)
{
	struct aml a;
	size_t scope, dev, res;

	aml_init(&a, buf, cap);
	scope = aml_scope_open(&a, "\\_SB");
	dev = aml_device_open(&a, "VR00");
	aml_name(&a, "_HID");
	aml_string(&a, "LNRO0005");
	aml_name(&a, "_UID");
	aml_integer(&a, 0);
	aml_name(&a, "_CRS");
	res = aml_buffer_open(&a);
	aml_res_memory32_fixed(&a, true, 0xD0000000, 0x1000);
	aml_res_interrupt(&a, edge, 5);
	aml_res_end(&a);
	aml_buffer_close(&a, res);
	aml_close(&a, dev);
	aml_close(&a, scope);
	cr_assert_eq(a.err, 0);
	return a.len;
}

/* spec §5 #13: the 68-byte VR00 scope, byte for byte. */
Test(aml, vr00_scope_vector)
{
	uint8_t buf[128];
	size_t n = emit_vr00(buf, sizeof(buf), true);

	assert_bytes(buf, n, vr00_scope, sizeof(vr00_scope));
}

/* spec §5 #13: Level differs only in the interrupt flags byte. */
Test(aml, vr00_level_variant_differs_only_in_flags)
{
	uint8_t buf[128];
	size_t n = emit_vr00(buf, sizeof(buf), false);

	cr_assert_eq(n, sizeof(vr00_scope));
	for (size_t i = 0; i < n; i++) {
		if (i == 60)
			cr_assert_eq(buf[i], 0x01);
		else
			cr_assert_eq(buf[i], vr00_scope[i], "byte %zu", i);
	}
}

/* spec §5 #13: the same scope wrapped as a whole DSDT by acpi_build_dsdt(). */
Test(aml, dsdt_with_only_the_device_pieces)
{
	static const uint8_t hdr[36] = {
		0x44, 0x53, 0x44, 0x54, 0x68, 0x00, 0x00, 0x00, 0x02, 0x39, 0x4B, 0x54,
		0x53, 0x54, 0x52, 0x20, 0x4B, 0x54, 0x53, 0x54, 0x52, 0x56, 0x4D, 0x20,
		0x01, 0x00, 0x00, 0x00, 0x4B, 0x54, 0x53, 0x54, 0x01, 0x00, 0x00, 0x00,
	};
	const struct acpi_virtio_dev dev = {0xD0000000, 0x1000, 16};
	uint8_t buf[512], body[128], table[104];
	size_t n = emit_vr00(body, sizeof(body), true);
	int len;

	/* Wrap the bare scope in a header the way acpi.c does, check the spec's 104/0x39. */
	cr_assert_eq(n, 68);
	memcpy(table, hdr, 36);
	memcpy(table + 36, body, n);
	table[9] = 0;
	acpi_set_checksum(table, sizeof(table), 9);
	cr_assert_eq(table[9], 0x39);
	cr_assert_eq(acpi_sum(table, sizeof(table)), 0);
	/* And the full builder starts the body with Scope(\_SB) and ends with \_S5. */
	len = acpi_build_dsdt(buf, sizeof(buf), &dev, 1, false);
	cr_assert_gt(len, 36);
	cr_assert_eq(memcmp(buf, "DSDT", 4), 0);
	cr_assert_eq(memcmp(buf + len - (int)sizeof(s5_name), s5_name, sizeof(s5_name)), 0);
	cr_assert_eq(acpi_sum(buf, (size_t)len), 0);
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return true;
	return false;
}

/* spec §5 #13: COM1, COM2 and \_S5 fragments; the 221-byte recommended DSDT. */
Test(aml, recommended_dsdt_vector)
{
	static const uint8_t body_start[15] = {0x10, 0x4A, 0x0A, 0x5C, 0x5F, 0x53, 0x42, 0x5F,
					       0x5B, 0x82, 0x31, 0x43, 0x4F, 0x4D, 0x31};
	const struct acpi_virtio_dev dev = {0xD0000000, 0x1000, 16};
	uint8_t buf[512];
	int len = acpi_build_dsdt(buf, sizeof(buf), &dev, 1, false);

	cr_assert_eq(len, 221);
	cr_assert_eq(buf[9], 0x6A, "checksum 0x%02X", buf[9]);
	cr_assert_eq(memcmp(buf + 36, body_start, sizeof(body_start)), 0);
	cr_assert(contains(buf, 221, com1_dev, sizeof(com1_dev)), "COM1 device bytes");
	/* COM2: one byte longer than COM1 (_UID 2 needs a BytePrefix), port 0x2F8, GSI 3. */
	cr_assert(
		contains(buf, 221, (const uint8_t[]){0x5B, 0x82, 0x32, 0x43, 0x4F, 0x4D, 0x32}, 7),
		"COM2 device header");
	cr_assert(
		contains(buf, 221, (const uint8_t[]){0x08, 0x5F, 0x55, 0x49, 0x44, 0x0A, 0x02}, 7),
		"COM2 _UID 2");
	cr_assert(contains(buf, 221,
			   (const uint8_t[]){0x47, 0x01, 0xF8, 0x02, 0xF8, 0x02, 0x01, 0x08, 0x89,
					     0x06, 0x00, 0x03, 0x01, 0x03, 0x00, 0x00, 0x00, 0x79,
					     0x00},
			   19),
		  "COM2 resources");
	cr_assert(contains(buf, 221, s5_name, sizeof(s5_name)), "\\_S5");
	cr_assert_eq(memcmp(buf + 221 - sizeof(s5_name), s5_name, sizeof(s5_name)), 0);
}

Test(aml, dsdt_rejects_bad_devices)
{
	uint8_t buf[4096];
	const struct acpi_virtio_dev gsi_bad = {0xD0000000, 0x1000, 24};
	const struct acpi_virtio_dev above_4g = {0x100000000ull, 0x1000, 16};
	const struct acpi_virtio_dev wraps = {0xFFFFF000, 0x2000, 16};
	const struct acpi_virtio_dev empty = {0xD0000000, 0, 16};

	cr_assert_eq(acpi_build_dsdt(buf, sizeof(buf), &gsi_bad, 1, false), -EINVAL);
	cr_assert_eq(acpi_build_dsdt(buf, sizeof(buf), &above_4g, 1, false), -EINVAL);
	cr_assert_eq(acpi_build_dsdt(buf, sizeof(buf), &wraps, 1, false), -EINVAL);
	cr_assert_eq(acpi_build_dsdt(buf, sizeof(buf), &empty, 1, false), -EINVAL);
	cr_assert_eq(acpi_build_dsdt(buf, sizeof(buf), NULL, 1, false), -EINVAL);
	cr_assert_eq(acpi_build_dsdt(buf, 100, NULL, 0, false), -ENOSPC);
}

Test(aml, dsdt_names_many_devices_uniquely)
{
	static struct acpi_virtio_dev devs[100];
	static uint8_t buf[65536];
	int len;

	for (unsigned i = 0; i < 100; i++)
		devs[i] = (struct acpi_virtio_dev){0xD0000000 + i * 0x1000ull, 0x1000, 16 + i % 8};
	len = acpi_build_dsdt(buf, sizeof(buf), devs, 100, false);
	cr_assert_gt(len, 0);
	cr_assert_eq(acpi_sum(buf, (size_t)len), 0);
	cr_assert(contains(buf, (size_t)len, (const uint8_t *)"VR99", 4));
	cr_assert(contains(buf, (size_t)len, (const uint8_t *)"VR42", 4));
	/* The scope now needs a 3-byte PkgLength: 10 xx xx xx 5C "_SB_". */
	cr_assert_eq(buf[36], 0x10);
	cr_assert_eq(buf[37] >> 6, 2);
	cr_assert_eq(memcmp(buf + 40, "\\_SB_", 5), 0);
	cr_assert_eq(acpi_build_dsdt(buf, sizeof(buf), devs, 101, false), -EINVAL);
}
