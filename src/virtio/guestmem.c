// SPDX-License-Identifier: MIT
/*
 * Guest-memory gateway (specs/virtio-transport.md §2).
 *
 * Threat model: every GPA and length handled here can come from a hostile
 * guest. All arithmetic is overflow-checked, nothing wraps to GPA 0, and a
 * copy touches memory only after the whole range has been validated, so a
 * failed access never leaves a half-written buffer behind (§2.3).
 */
#include "virtio/guestmem.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"

struct gm_region {
	uint64_t gpa;
	uint64_t len;
	uint8_t *host;
};

struct gm {
	atomic_uint refs;
	unsigned n;
	struct gm_region r[GM_MAX_REGIONS]; /* sorted by gpa, non-overlapping */
};

struct gm *gm_new(void)
{
	struct gm *gm = calloc(1, sizeof(*gm));
	if (gm)
		atomic_init(&gm->refs, 1);
	return gm;
}

int gm_add_region(struct gm *gm, uint64_t gpa, uint64_t len, void *host)
{
	uint64_t end;
	unsigned i;

	if (!gm || !host || len == 0 || __builtin_add_overflow(gpa, len, &end))
		return -EINVAL;
	/* Keep naturally aligned guest fields naturally aligned on the host (§2.1). */
	if ((gpa & 7) != ((uintptr_t)host & 7))
		return -EINVAL;
	if (gm->n == GM_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < gm->n; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa < r->gpa + r->len && r->gpa < end)
			return -EEXIST;
	}
	for (i = gm->n; i > 0 && gm->r[i - 1].gpa > gpa; i--)
		gm->r[i] = gm->r[i - 1];
	gm->r[i] = (struct gm_region){.gpa = gpa, .len = len, .host = host};
	gm->n++;
	return 0;
}

struct gm *gm_get(struct gm *gm)
{
	if (gm)
		atomic_fetch_add_explicit(&gm->refs, 1, memory_order_relaxed);
	return gm;
}

void gm_put(struct gm *gm)
{
	if (gm && atomic_fetch_sub_explicit(&gm->refs, 1, memory_order_acq_rel) == 1)
		free(gm);
}

unsigned gm_num_regions(const struct gm *gm)
{
	return gm ? gm->n : 0;
}

/* Index of the region holding gpa, or -1. At most 16 regions: a scan is cheapest. */
static int gm_find(const struct gm *gm, uint64_t gpa)
{
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gm_region *r = &gm->r[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->len)
			return (int)i;
	}
	return -1;
}

/*
 * Walk [gpa, gpa+len) region by region. Returns the number of pieces, or
 * -EFAULT when a byte is unmapped or the end overflows. When iov is non-NULL
 * the pieces are stored (up to max; the count is still returned in full).
 */
static int gm_pieces(const struct gm *gm, uint64_t gpa, uint64_t len, struct iovec *iov,
		     unsigned max)
{
	uint64_t end;
	int i, n = 0;

	if (len == 0)
		return 0;
	if (!gm || __builtin_add_overflow(gpa, len, &end))
		return -EFAULT;
	i = gm_find(gm, gpa);
	if (i < 0)
		return -EFAULT;
	for (;;) {
		const struct gm_region *r = &gm->r[i];
		uint64_t off = gpa - r->gpa;
		uint64_t take = min_u64(len, r->len - off);

		if (iov && (unsigned)n < max) {
			iov[n].iov_base = r->host + off;
			iov[n].iov_len = take;
		}
		n++;
		len -= take;
		if (len == 0)
			return n;
		/* Continue only across a seam: the next region must start right here. */
		gpa = r->gpa + r->len;
		if ((unsigned)i + 1 >= gm->n || gm->r[i + 1].gpa != gpa)
			return -EFAULT;
		i++;
	}
}

bool gm_range_ok(const struct gm *gm, uint64_t gpa, uint64_t len)
{
	return gm_pieces(gm, gpa, len, NULL, 0) >= 0;
}

/* Validate first, then copy piece by piece: all-or-nothing (§2.3). */
enum gm_op { GM_OP_READ, GM_OP_WRITE, GM_OP_FILL };

static int gm_copy(const struct gm *gm, uint64_t gpa, void *buf, uint8_t byte, size_t len,
		   enum gm_op op)
{
	uint8_t *p = buf;
	int i, n;

	n = gm_pieces(gm, gpa, len, NULL, 0);
	if (n <= 0)
		return n;
	i = gm_find(gm, gpa);
	while (len) {
		const struct gm_region *r = &gm->r[i++];
		uint64_t off = gpa - r->gpa;
		size_t take = (size_t)min_u64(len, r->len - off);

		if (op == GM_OP_READ)
			memcpy(p, r->host + off, take);
		else if (op == GM_OP_WRITE)
			memcpy(r->host + off, p, take);
		else
			memset(r->host + off, byte, take);
		if (p)
			p += take;
		gpa += take;
		len -= take;
	}
	return 0;
}

int gm_read(const struct gm *gm, uint64_t gpa, void *dst, size_t len)
{
	return gm_copy(gm, gpa, dst, 0, len, GM_OP_READ);
}

int gm_write(const struct gm *gm, uint64_t gpa, const void *src, size_t len)
{
	return gm_copy(gm, gpa, (void *)src, 0, len, GM_OP_WRITE);
}

int gm_fill(const struct gm *gm, uint64_t gpa, uint8_t byte, size_t len)
{
	return gm_copy(gm, gpa, NULL, byte, len, GM_OP_FILL);
}

void *gm_slice(const struct gm *gm, uint64_t gpa, uint64_t len)
{
	uint64_t end;
	int i;

	if (!gm || len == 0 || __builtin_add_overflow(gpa, len, &end))
		return NULL;
	i = gm_find(gm, gpa);
	if (i < 0)
		return NULL;
	const struct gm_region *r = &gm->r[i];
	if (len > r->len - (gpa - r->gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

int gm_iov(const struct gm *gm, uint64_t gpa, uint64_t len, struct iovec *iov, unsigned max,
	   unsigned *n)
{
	int pieces = gm_pieces(gm, gpa, len, iov, max);

	if (pieces < 0)
		return pieces;
	if ((unsigned)pieces > max)
		return -E2BIG;
	*n = (unsigned)pieces;
	return 0;
}

/*
 * Ring fields are accessed atomically, so (like vm-memory) they must be
 * naturally aligned and inside one region (§2.5).
 */
static uint16_t *gm_field16(const struct gm *gm, uint64_t gpa)
{
	if (gpa & 1)
		return NULL;
	return gm_slice(gm, gpa, 2);
}

int gm_load16_acquire(const struct gm *gm, uint64_t gpa, uint16_t *out)
{
	uint16_t *p = gm_field16(gm, gpa);
	if (!p)
		return -EFAULT;
	*out = le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
	return 0;
}

static int gm_store16(const struct gm *gm, uint64_t gpa, uint16_t val, int order)
{
	uint16_t *p = gm_field16(gm, gpa);
	if (!p)
		return -EFAULT;
	__atomic_store_n(p, htole16(val), order);
	return 0;
}

int gm_store16_release(const struct gm *gm, uint64_t gpa, uint16_t val)
{
	return gm_store16(gm, gpa, val, __ATOMIC_RELEASE);
}

int gm_store16_relaxed(const struct gm *gm, uint64_t gpa, uint16_t val)
{
	return gm_store16(gm, gpa, val, __ATOMIC_RELAXED);
}
