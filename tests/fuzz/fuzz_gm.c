// SPDX-License-Identifier: MIT
/*
 * fuzz_gm: the guest-memory gateway against a byte-by-byte reference model
 * (specs/virtio-transport.md §2, test case §7 #211).
 *
 * Input: a map of 1-4 regions (holes, seams, addresses near 2^64), then a
 * sequence of accesses. For every access the gateway's verdict must match
 * the model's ("every byte mapped, no overflow"), successful copies must move
 * exactly the model's bytes, and failed ones must leave both guest memory and
 * the destination untouched. Host buffers end exactly where their region
 * ends, so ASan catches any access past a region.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fuzz/fuzz_input.h"
#include "virtio/guestmem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_REGIONS 4
#define FZ_MAX_LEN     4096u
#define FZ_MAX_ACCESS  8192u
#define FZ_MAX_OPS     64

struct model_region {
	uint64_t gpa, len;
	uint8_t *alloc; /* malloc'd block; host = alloc + (gpa & 7) */
	uint8_t *host;
	uint8_t *shadow; /* what the region must contain */
};

struct model {
	struct model_region r[FZ_MAX_REGIONS];
	unsigned n;
};

static int model_find(const struct model *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->n; i++)
		if (gpa >= m->r[i].gpa && gpa - m->r[i].gpa < m->r[i].len)
			return (int)i;
	return -1;
}

/* The reference rule, byte by byte: len 0 always, else no overflow and every byte mapped. */
static bool model_ok(const struct model *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (len == 0)
		return true;
	if (__builtin_add_overflow(gpa, len, &end))
		return false;
	for (uint64_t i = 0; i < len; i++)
		if (model_find(m, gpa + i) < 0)
			return false;
	return true;
}

static uint8_t *model_byte(struct model *m, uint64_t gpa, bool shadow)
{
	int i = model_find(m, gpa);
	struct model_region *r = &m->r[i];

	return (shadow ? r->shadow : r->host) + (gpa - r->gpa);
}

/* How many regions a mapped range touches, and whether it stays in one. */
static unsigned model_pieces(const struct model *m, uint64_t gpa, uint64_t len)
{
	unsigned pieces = 0;
	int last = -1;

	for (uint64_t i = 0; i < len; i++) {
		int r = model_find(m, gpa + i);
		if (r != last)
			pieces++;
		last = r;
	}
	return pieces;
}

static void check_memory(const struct model *m)
{
	for (unsigned i = 0; i < m->n; i++)
		FZ_CHECK(!memcmp(m->r[i].host, m->r[i].shadow, m->r[i].len));
}

/* A GPA near something interesting: a region edge, zero, or the top of the space. */
static uint64_t pick_gpa(struct fz_in *in, const struct model *m)
{
	uint8_t mode = (uint8_t)fz_take(in, 1);
	int16_t delta = (int16_t)fz_take(in, 2);
	uint64_t base;

	switch (mode % 4) {
	case 0:
		base = m->r[(mode >> 2) % m->n].gpa;
		break;
	case 1:
		base = m->r[(mode >> 2) % m->n].gpa + m->r[(mode >> 2) % m->n].len;
		break;
	case 2:
		base = (mode & 0x80) ? UINT64_MAX : 0;
		break;
	default:
		return fz_take(in, 8);
	}
	return base + (uint64_t)(int64_t)(delta % 64);
}

static void build_map(struct fz_in *in, struct model *m, struct gm *gm)
{
	unsigned want = 1 + (unsigned)fz_take(in, 1) % FZ_MAX_REGIONS;
	uint64_t cursor = 0;

	for (unsigned i = 0; i < want; i++) {
		uint8_t kind = (uint8_t)fz_take(in, 1);
		uint64_t len = fz_take(in, 2) % FZ_MAX_LEN;
		uint64_t gpa, end;
		bool overlap = false;
		int rc, expect;

		/* Mostly seams and small holes after the previous region; sometimes anywhere. */
		switch (kind % 4) {
		case 0:
			gpa = cursor;
			break;
		case 1:
			gpa = cursor + (fz_take(in, 1) & 0x3F);
			break;
		case 2:
			gpa = UINT64_MAX - (fz_take(in, 2) % 0x3000);
			break;
		default:
			gpa = fz_take(in, 3);
			break;
		}
		for (unsigned j = 0; j < m->n; j++)
			if (len && gpa < m->r[j].gpa + m->r[j].len && m->r[j].gpa < gpa + len)
				overlap = true;
		if (len == 0 || __builtin_add_overflow(gpa, len, &end))
			expect = -EINVAL;
		else if (overlap)
			expect = -EEXIST;
		else
			expect = 0;

		uint8_t *alloc = malloc((size_t)len + (gpa & 7));
		uint8_t *host = alloc + (gpa & 7);
		rc = gm_add_region(gm, gpa, len, host);
		FZ_CHECK(rc == expect);
		if (rc) {
			free(alloc);
			continue;
		}
		struct model_region *r = &m->r[m->n++];
		r->gpa = gpa;
		r->len = len;
		r->alloc = alloc;
		r->host = host;
		r->shadow = malloc((size_t)len);
		for (uint64_t b = 0; b < len; b++)
			host[b] = r->shadow[b] = (uint8_t)(gpa + b);
		cursor = end;
	}
	FZ_CHECK(gm_num_regions(gm) == m->n);
}

static void one_access(struct fz_in *in, struct model *m, const struct gm *gm, uint8_t *buf,
		       uint8_t *ref)
{
	uint8_t op = (uint8_t)fz_take(in, 1);
	uint64_t gpa = pick_gpa(in, m);
	uint64_t len = fz_take(in, 2) % FZ_MAX_ACCESS;
	bool ok = model_ok(m, gpa, len);
	uint8_t fillb = (uint8_t)(op ^ 0x5A);
	int rc;

	for (uint64_t i = 0; i < len; i++)
		buf[i] = ref[i] = (uint8_t)(op + i * 13);

	FZ_CHECK(gm_range_ok(gm, gpa, len) == ok);
	switch (op % 7) {
	case 0: /* read: dst gets the model's bytes, or stays untouched */
		rc = gm_read(gm, gpa, buf, (size_t)len);
		FZ_CHECK(rc == (ok ? 0 : -EFAULT));
		for (uint64_t i = 0; i < len; i++)
			FZ_CHECK(buf[i] == (ok ? *model_byte(m, gpa + i, true) : ref[i]));
		break;
	case 1: /* write: all or nothing */
		rc = gm_write(gm, gpa, buf, (size_t)len);
		FZ_CHECK(rc == (ok ? 0 : -EFAULT));
		if (ok)
			for (uint64_t i = 0; i < len; i++)
				*model_byte(m, gpa + i, true) = buf[i];
		break;
	case 2:
		rc = gm_fill(gm, gpa, fillb, (size_t)len);
		FZ_CHECK(rc == (ok ? 0 : -EFAULT));
		if (ok)
			for (uint64_t i = 0; i < len; i++)
				*model_byte(m, gpa + i, true) = fillb;
		break;
	case 3: { /* slice: only inside one region */
		uint8_t *p = gm_slice(gm, gpa, len);
		bool one = len && ok && model_pieces(m, gpa, len) == 1;
		FZ_CHECK((p != NULL) == one);
		if (p)
			FZ_CHECK(p == model_byte(m, gpa, false));
		break;
	}
	case 4: { /* iov: one piece per region touched */
		struct iovec iov[FZ_MAX_REGIONS];
		unsigned n = 99, max = 1 + (op >> 3) % FZ_MAX_REGIONS;
		unsigned pieces = ok ? model_pieces(m, gpa, len) : 0;
		uint64_t sum = 0;

		rc = gm_iov(gm, gpa, len, iov, max, &n);
		if (!ok)
			FZ_CHECK(rc == -EFAULT);
		else if (pieces > max)
			FZ_CHECK(rc == -E2BIG);
		else {
			FZ_CHECK(rc == 0 && n == pieces);
			for (unsigned i = 0; i < n; i++) {
				FZ_CHECK(iov[i].iov_base == model_byte(m, gpa + sum, false));
				sum += iov[i].iov_len;
			}
			FZ_CHECK(sum == len);
		}
		break;
	}
	case 5: { /* 16-bit ring fields: even, both bytes in one region */
		uint16_t val = 0xA5A5;
		bool fok = !(gpa & 1) && model_ok(m, gpa, 2) && model_pieces(m, gpa, 2) == 1;

		rc = gm_load16_acquire(gm, gpa, &val);
		FZ_CHECK(rc == (fok ? 0 : -EFAULT));
		if (fok)
			FZ_CHECK(val == (uint16_t)(*model_byte(m, gpa, true) |
						   *model_byte(m, gpa + 1, true) << 8));
		else
			FZ_CHECK(val == 0xA5A5);
		break;
	}
	default: {
		bool fok = !(gpa & 1) && model_ok(m, gpa, 2) && model_pieces(m, gpa, 2) == 1;
		uint16_t val = (uint16_t)(len * 31 + op);

		rc = (op & 0x80) ? gm_store16_release(gm, gpa, val)
				 : gm_store16_relaxed(gm, gpa, val);
		FZ_CHECK(rc == (fok ? 0 : -EFAULT));
		if (fok) {
			*model_byte(m, gpa, true) = (uint8_t)val;
			*model_byte(m, gpa + 1, true) = (uint8_t)(val >> 8);
		}
		break;
	}
	}
	check_memory(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct model m = {.n = 0};
	struct gm *gm = gm_new();
	static uint8_t buf[FZ_MAX_ACCESS], ref[FZ_MAX_ACCESS];

	FZ_CHECK(gm);
	build_map(&in, &m, gm);
	if (m.n) {
		for (unsigned op = 0; op < FZ_MAX_OPS && in.n; op++)
			one_access(&in, &m, gm, buf, ref);
	}
	/* An extra reference keeps the map alive; the last put frees it, never the RAM. */
	gm_put(gm_get(gm));
	gm_put(gm);
	for (unsigned i = 0; i < m.n; i++) {
		free(m.r[i].alloc);
		free(m.r[i].shadow);
	}
	return 0;
}
