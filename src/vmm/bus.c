// SPDX-License-Identifier: MIT
#include "vmm/bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->unknown_lock, NULL);
}

void bus_destroy(struct bus *b)
{
	free(b->pio.ranges);
	free(b->mmio.ranges);
	pthread_mutex_destroy(&b->unknown_lock);
	memset(b, 0, sizeof(*b));
}

/* Index of the first window whose base is > addr (upper bound). */
static unsigned space_upper(const struct bus_space *s, uint64_t addr)
{
	unsigned lo = 0, hi = s->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (s->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct bus_range *bus_find(const struct bus_space *s, uint64_t addr, uint64_t len)
{
	unsigned i = space_upper(s, addr);
	uint64_t last;

	/* Inclusive end, so a window that ends at the top of the space still matches. */
	if (i == 0 || len == 0 || __builtin_add_overflow(addr, len - 1, &last))
		return NULL;
	const struct bus_range *r = &s->ranges[i - 1];
	/* r->base <= addr; the whole access must fit in the window. */
	if (last - r->base >= r->len)
		return NULL;
	return r;
}

static int space_add(struct bus_space *s, uint64_t base, uint64_t len, const struct bus_ops *ops,
		     void *opaque)
{
	uint64_t end;

	if (len == 0 || !ops || __builtin_add_overflow(base, len - 1, &end))
		return -EINVAL;
	unsigned i = space_upper(s, base);
	/* Overlap with the window before (it starts at or below base) or after. */
	if (i > 0 && base - s->ranges[i - 1].base < s->ranges[i - 1].len)
		return -EEXIST;
	if (i < s->count && s->ranges[i].base <= end)
		return -EEXIST;
	if (s->count == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 8;
		struct bus_range *n = realloc(s->ranges, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->ranges = n;
		s->cap = cap;
	}
	memmove(&s->ranges[i + 1], &s->ranges[i], (s->count - i) * sizeof(*s->ranges));
	s->ranges[i] = (struct bus_range){.base = base, .len = len, .ops = ops, .opaque = opaque};
	s->count++;
	return 0;
}

int bus_register_pio(struct bus *b, uint16_t base, uint32_t len, const struct bus_ops *ops,
		     void *opaque)
{
	if ((uint32_t)base + len > 0x10000u)
		return -EINVAL;
	return space_add(&b->pio, base, len, ops, opaque);
}

int bus_register_mmio(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		      void *opaque)
{
	return space_add(&b->mmio, base, len, ops, opaque);
}

/*
 * Linux probes plenty of ports nobody emulates (0x80 delays, CMOS 0x70/0x71,
 * PCI 0xCF8/0xCFC, ttyS2/3): say so once per port, at info level, because
 * none of this is a fault. A guest can touch every MMIO address, so that
 * side remembers a bounded number of addresses and is rate-limited beyond.
 */
static void note_unknown_pio(struct bus *b, uint16_t port, bool is_write, uint32_t len)
{
	uint64_t bit = 1ull << (port % 64);

	atomic_fetch_add_explicit(&b->unknown_accesses, 1, memory_order_relaxed);
	if (atomic_fetch_or_explicit(&b->pio_seen[port / 64], bit, memory_order_relaxed) & bit)
		return;
	log_info("unhandled port %s 0x%04x (%u bytes): %s", is_write ? "write to" : "read of", port,
		 len, is_write ? "ignored" : "reads all-ones");
}

static void note_unknown_mmio(struct bus *b, uint64_t addr, bool is_write, uint32_t len)
{
	bool first = true, full = false;

	atomic_fetch_add_explicit(&b->unknown_accesses, 1, memory_order_relaxed);
	pthread_mutex_lock(&b->unknown_lock);
	for (unsigned i = 0; i < b->mmio_seen_count; i++) {
		if (b->mmio_seen[i] == addr) {
			first = false;
			break;
		}
	}
	if (first) {
		if (b->mmio_seen_count < BUS_UNKNOWN_MMIO_SLOTS)
			b->mmio_seen[b->mmio_seen_count++] = addr;
		else
			full = true;
	}
	pthread_mutex_unlock(&b->unknown_lock);
	if (!first)
		return;
	if (full) {
		log_ratelimited(&b->rl_unknown_mmio, LOG_INFO,
				"unhandled MMIO %s 0x%" PRIx64 " (%u bytes): ignored",
				is_write ? "write to" : "read of", addr, len);
		return;
	}
	log_info("unhandled MMIO %s 0x%" PRIx64 " (%u bytes): %s",
		 is_write ? "write to" : "read of", addr, len,
		 is_write ? "ignored" : "reads all-ones");
}

/* Nobody claims the address: reads float high, writes vanish. */
static bool unknown_access(bool is_write, void *data, uint32_t len)
{
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}

static bool dispatch(const struct bus_space *s, uint64_t addr, bool is_write, void *data,
		     uint32_t len)
{
	const struct bus_range *r = bus_find(s, addr, len);

	if (!r)
		return false;
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, addr - r->base, data, len);
		return true;
	}
	/* A handler that fills only part of the access leaves all-ones, not stale bytes. */
	memset(data, 0xff, len);
	if (r->ops->read)
		r->ops->read(r->opaque, addr - r->base, data, len);
	return true;
}

bool bus_pio(struct bus *b, uint16_t port, bool is_write, void *data, uint32_t len)
{
	if (dispatch(&b->pio, port, is_write, data, len))
		return true;
	note_unknown_pio(b, port, is_write, len);
	return unknown_access(is_write, data, len);
}

bool bus_mmio(struct bus *b, uint64_t addr, bool is_write, void *data, uint32_t len)
{
	if (dispatch(&b->mmio, addr, is_write, data, len))
		return true;
	note_unknown_mmio(b, addr, is_write, len);
	return unknown_access(is_write, data, len);
}
