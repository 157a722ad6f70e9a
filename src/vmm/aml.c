// SPDX-License-Identifier: MIT
/*
 * AML emitter (ACPI 6.5 chapter 20, resource descriptors §6.4), enough for
 * the DSDT of specs/vmm-x86.md §3.9.
 */
#include <errno.h>
#include <string.h>

#include "vmm/aml.h"

#define AML_OP_ZERO	  0x00
#define AML_OP_ONE	  0x01
#define AML_OP_NAME	  0x08
#define AML_OP_BYTE	  0x0A
#define AML_OP_WORD	  0x0B
#define AML_OP_DWORD	  0x0C
#define AML_OP_STRING	  0x0D
#define AML_OP_QWORD	  0x0E
#define AML_OP_SCOPE	  0x10
#define AML_OP_BUFFER	  0x11
#define AML_OP_PACKAGE	  0x12
#define AML_OP_EXT	  0x5B
#define AML_OP_EXT_DEVICE 0x82
#define AML_OP_ONES	  0xFF
#define AML_ROOT_PREFIX	  0x5C

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->err = 0;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, n);
}

int aml_pkglen_encode(uint32_t len, uint8_t out[4])
{
	unsigned extra;

	if (len > AML_PKGLEN_MAX)
		return -EINVAL;
	if (len < 0x40) {
		out[0] = (uint8_t)len;
		return 1;
	}
	/* Lead byte: bits 7:6 = extra byte count, bits 3:0 = low nibble. */
	extra = len <= 0xFFF ? 1 : len <= 0xFFFFF ? 2 : 3;
	out[0] = (uint8_t)(extra << 6 | (len & 0xF));
	for (unsigned i = 0; i < extra; i++)
		out[1 + i] = (uint8_t)(len >> (4 + 8 * i));
	return (int)extra + 1;
}

int aml_pkglen_for_body(uint32_t body, uint8_t out[4])
{
	/* The length counts its own bytes: try each size until the total fits it. */
	for (uint32_t n = 1; n <= 4; n++) {
		static const uint32_t max_total[5] = {0, 0x3F, 0xFFF, 0xFFFFF, AML_PKGLEN_MAX};

		if (body <= max_total[n] - n)
			return aml_pkglen_encode(body + n, out);
	}
	return -EINVAL;
}

static bool nameseg_char_ok(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

int aml_nameseg(const char *name, uint8_t out[4])
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > 4)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (i < n && !nameseg_char_ok(name[i], i == 0))
			return -EINVAL;
		out[i] = i < n ? (uint8_t)name[i] : '_';
	}
	return 0;
}

void aml_name_seg(struct aml *a, const char *name)
{
	uint8_t seg[4];

	if (aml_nameseg(name, seg)) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_bytes(a, seg, 4);
}

/* "\XXXX" (root-relative) or "XXXX". */
static void aml_path(struct aml *a, const char *path)
{
	if (path && path[0] == '\\') {
		aml_byte(a, AML_ROOT_PREFIX);
		path++;
	}
	aml_name_seg(a, path);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_OP_ZERO);
	else if (v == 1)
		aml_byte(a, AML_OP_ONE);
	else if (v == UINT64_MAX)
		aml_byte(a, AML_OP_ONES);
	else if (v <= 0xFF) {
		aml_byte(a, AML_OP_BYTE);
		aml_le(a, v, 1);
	} else if (v <= 0xFFFF) {
		aml_byte(a, AML_OP_WORD);
		aml_le(a, v, 2);
	} else if (v <= 0xFFFFFFFF) {
		aml_byte(a, AML_OP_DWORD);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_OP_QWORD);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c > 0x7F) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_OP_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int aml_eisaid(const char *id, uint32_t *out)
{
	uint32_t mfg = 0, prod = 0;

	if (!id || strlen(id) != 7)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
		mfg = mfg << 5 | (uint32_t)(id[i] - '@');
	}
	for (int i = 3; i < 7; i++) {
		int h = hexval(id[i]);

		if (h < 0)
			return -EINVAL;
		prod = prod << 4 | (uint32_t)h;
	}
	/* Both halves are stored big-endian: bytes mfg_hi, mfg_lo, prod_hi, prod_lo. */
	*out = (mfg >> 8) | (mfg & 0xFF) << 8 | (prod >> 8) << 16 | (prod & 0xFF) << 24;
	return 0;
}

void aml_eisaid_integer(struct aml *a, const char *id)
{
	uint32_t v;

	if (aml_eisaid(id, &v)) {
		aml_fail(a, -EINVAL);
		return;
	}
	/* Always the DWord form, as iasl emits for EisaId(). */
	aml_byte(a, AML_OP_DWORD);
	aml_le(a, v, 4);
}

size_t aml_scope_open(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_OP_SCOPE);
	mark = a->len;
	aml_path(a, path);
	return mark;
}

size_t aml_device_open(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_OP_EXT);
	aml_byte(a, AML_OP_EXT_DEVICE);
	mark = a->len;
	aml_path(a, name);
	return mark;
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_OP_NAME);
	aml_path(a, path);
}

size_t aml_package_open(struct aml *a, uint8_t nelem)
{
	size_t mark;

	aml_byte(a, AML_OP_PACKAGE);
	mark = a->len;
	aml_byte(a, nelem);
	return mark;
}

size_t aml_buffer_open(struct aml *a)
{
	aml_byte(a, AML_OP_BUFFER);
	return a->len;
}

/* Insert `n` bytes at `mark`, moving what follows (the body) to the right. */
static void aml_insert(struct aml *a, size_t mark, const uint8_t *p, size_t n)
{
	if (a->err)
		return;
	if (mark > a->len || n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + mark + n, a->buf + mark, a->len - mark);
	memcpy(a->buf + mark, p, n);
	a->len += n;
}

void aml_close(struct aml *a, size_t mark)
{
	uint8_t pl[4];
	int n;

	if (a->err)
		return;
	n = aml_pkglen_for_body((uint32_t)(a->len - mark), pl);
	if (n < 0 || a->len - mark > AML_PKGLEN_MAX) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_insert(a, mark, pl, (size_t)n);
}

void aml_buffer_close(struct aml *a, size_t mark)
{
	uint8_t size_enc[9];
	struct aml tmp;

	if (a->err)
		return;
	/* BufferSize is part of the package body: insert it first, then the PkgLength. */
	aml_init(&tmp, size_enc, sizeof(size_enc));
	aml_integer(&tmp, a->len - mark);
	aml_insert(a, mark, size_enc, tmp.len);
	aml_close(a, mark);
}

void aml_res_memory32_fixed(struct aml *a, bool rw, uint32_t base, uint32_t len)
{
	const uint8_t hdr[3] = {0x86, 0x09, 0x00};

	aml_bytes(a, hdr, sizeof(hdr));
	aml_byte(a, rw ? 1 : 0);
	aml_le(a, base, 4);
	aml_le(a, len, 4);
}

void aml_res_interrupt(struct aml *a, bool edge, uint32_t gsi)
{
	/* Flags: bit 0 consumer, bit 1 edge; active-high and exclusive are the zero values. */
	const uint8_t hdr[5] = {0x89, 0x06, 0x00, (uint8_t)(0x01 | (edge ? 0x02 : 0)), 1};

	aml_bytes(a, hdr, sizeof(hdr));
	aml_le(a, gsi, 4);
}

void aml_res_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, 0x47);
	aml_byte(a, 0x01); /* 16-bit decode */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_byte(a, align);
	aml_byte(a, len);
}

void aml_res_end(struct aml *a)
{
	const uint8_t end[2] = {0x79, 0x00};

	aml_bytes(a, end, sizeof(end));
}
