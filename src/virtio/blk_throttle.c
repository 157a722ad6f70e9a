// SPDX-License-Identifier: MIT
/*
 * Token-bucket arithmetic for the virtio-blk throttle (specs/virtio-blk.md §8.3).
 *
 * Every product that could overflow 64 bits (rate * elapsed, deficit * 1e9)
 * is done in 128 bits and saturated, so a hostile request size or a huge
 * configured rate can never wrap into "no wait needed".
 */
#include "virtio/blk_throttle.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ull

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t vblk_clock_now(const struct vblk_clock *clk)
{
	if (clk && clk->now)
		return clk->now(clk->opaque);
	return mono_now();
}

static uint64_t sat_u64(unsigned __int128 v)
{
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

static int64_t cap_i64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

void vblk_tb_unlimited(struct vblk_tb *tb)
{
	*tb = (struct vblk_tb){.unlimited = true};
}

void vblk_tb_init(struct vblk_tb *tb, uint64_t cap, uint64_t rate, const struct vblk_clock *clk)
{
	if (cap == 0 || rate == 0) {
		vblk_tb_unlimited(tb);
		tb->clk = clk;
		return;
	}
	*tb = (struct vblk_tb){
		.capacity = cap,
		.rate = rate,
		.available = cap_i64(cap),
		.clk = clk,
	};
	tb->last_refill = vblk_clock_now(clk);
}

static void tb_refill(struct vblk_tb *tb)
{
	uint64_t now, el, t;
	int64_t sum;

	if (tb->unlimited)
		return;
	now = vblk_clock_now(tb->clk);
	/* A clock that steps backwards (only a test clock can) refills nothing. */
	if (now <= tb->last_refill)
		return;
	el = now - tb->last_refill;
	t = sat_u64((unsigned __int128)tb->rate * el / NSEC_PER_SEC);
	/*
	 * Keep last_refill when less than one token accrued: otherwise a slow
	 * rate polled often would drop its fractional progress every time and
	 * never refill at all.
	 */
	if (t == 0)
		return;
	if (__builtin_add_overflow(tb->available, cap_i64(t), &sum))
		sum = INT64_MAX;
	tb->available = sum < cap_i64(tb->capacity) ? sum : cap_i64(tb->capacity);
	tb->last_refill = now;
}

/* Shared by consume and can_consume: refill, then decide (§8.3). */
static bool tb_grant(struct vblk_tb *tb, uint64_t n)
{
	if (tb->unlimited || n == 0)
		return true;
	tb_refill(tb);
	if (n > (uint64_t)INT64_MAX)
		return false;
	/* A request above the capacity runs once the balance is not negative. */
	if (n > tb->capacity)
		return tb->available >= 0;
	return tb->available >= (int64_t)n;
}

bool vblk_tb_can_consume(struct vblk_tb *tb, uint64_t n)
{
	return tb_grant(tb, n);
}

bool vblk_tb_consume(struct vblk_tb *tb, uint64_t n)
{
	int64_t left;

	if (!tb_grant(tb, n))
		return false;
	if (tb->unlimited || n == 0)
		return true;
	if (__builtin_sub_overflow(tb->available, (int64_t)n, &left))
		left = INT64_MIN;
	tb->available = left;
	return true;
}

uint64_t vblk_tb_nanos_until(struct vblk_tb *tb, uint64_t need)
{
	__int128 deficit;

	if (tb->forced)
		return tb->forced_nanos;
	if (tb->unlimited || need == 0)
		return 0;
	tb_refill(tb);
	if (need > tb->capacity) {
		if (tb->available >= 0)
			return 0;
		deficit = -(__int128)tb->available;
	} else {
		if (tb->available >= 0 && (uint64_t)tb->available >= need)
			return 0;
		deficit = (__int128)need - tb->available;
	}
	/* ceil(deficit * 1e9 / rate); deficit < 2^65 so the product fits in 128 bits. */
	return sat_u64(((unsigned __int128)deficit * NSEC_PER_SEC + tb->rate - 1) / tb->rate);
}

void vblk_tb_set_last_refill(struct vblk_tb *tb, uint64_t ns)
{
	tb->last_refill = ns;
}

void vblk_tb_set_forced_nanos(struct vblk_tb *tb, uint64_t ns)
{
	tb->forced = true;
	tb->forced_nanos = ns;
}

void vblk_tb_clear_forced_nanos(struct vblk_tb *tb)
{
	tb->forced = false;
}

bool vblk_throttle_enabled(const struct vblk_throttle *t)
{
	return t->iops || t->bytes_per_sec;
}

void vblk_throttle_buckets(const struct vblk_throttle *t, const struct vblk_clock *clk,
			   struct vblk_tb *ops, struct vblk_tb *bytes)
{
	/* No burst: capacity equals the rate, i.e. one second of budget. A burst without a rate is ignored. */
	vblk_tb_init(ops, t->iops ? (t->iops_burst ? t->iops_burst : t->iops) : 0, t->iops, clk);
	vblk_tb_init(bytes,
		     t->bytes_per_sec ? (t->bytes_burst ? t->bytes_burst : t->bytes_per_sec) : 0,
		     t->bytes_per_sec, clk);
}

int vblk_throttle_validate(const struct vblk_throttle *t, char *err, size_t errlen)
{
	const struct {
		const char *burst_name, *rate_name;
		uint64_t burst, rate;
	} pairs[] = {
		{"iops_burst", "iops", t->iops_burst, t->iops},
		{"bps_burst", "bps", t->bytes_burst, t->bytes_per_sec},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (!pairs[i].burst)
			continue;
		if (!pairs[i].rate) {
			snprintf(err, errlen, "throttle option %s needs %s as well",
				 pairs[i].burst_name, pairs[i].rate_name);
			return -EINVAL;
		}
		if (pairs[i].burst < pairs[i].rate) {
			snprintf(err, errlen, "throttle option %s=%llu is below %s=%llu",
				 pairs[i].burst_name, (unsigned long long)pairs[i].burst,
				 pairs[i].rate_name, (unsigned long long)pairs[i].rate);
			return -EINVAL;
		}
	}
	return 0;
}
