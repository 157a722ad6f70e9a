/* SPDX-License-Identifier: MIT */
/*
 * Token buckets for the virtio-blk throttle (specs/virtio-blk.md §8).
 *
 * One bucket meters operations, one meters bytes. A bucket never sleeps: it
 * answers "may this request run now?" and "how long until it may?", and the
 * caller (the drain, then the worker's timerfd) does the waiting. Time is read
 * through an injectable clock so tests can pin or move it.
 */
#ifndef KTSTR_VIRTIO_BLK_THROTTLE_H
#define KTSTR_VIRTIO_BLK_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds. `now` NULL means CLOCK_MONOTONIC. */
struct vblk_clock {
	uint64_t (*now)(void *opaque);
	void *opaque;
};

uint64_t vblk_clock_now(const struct vblk_clock *clk);

/* Throttle configuration; 0 means "not set" for each field (§8.1). */
struct vblk_throttle {
	uint64_t iops;
	uint64_t bytes_per_sec;
	uint64_t iops_burst;
	uint64_t bytes_burst;
};

struct vblk_tb {
	uint64_t capacity;
	uint64_t rate;	   /* tokens per second */
	int64_t available; /* may go negative: an oversized request leaves debt */
	uint64_t last_refill;
	bool unlimited;
	bool forced; /* test hook: nanos_until returns forced_nanos */
	uint64_t forced_nanos;
	const struct vblk_clock *clk; /* NULL: the monotonic clock */
};

void vblk_tb_unlimited(struct vblk_tb *tb);
/* cap == 0 or rate == 0 gives an unlimited bucket; otherwise it starts full. */
void vblk_tb_init(struct vblk_tb *tb, uint64_t cap, uint64_t rate, const struct vblk_clock *clk);
bool vblk_tb_consume(struct vblk_tb *tb, uint64_t n);
bool vblk_tb_can_consume(struct vblk_tb *tb, uint64_t n);
uint64_t vblk_tb_nanos_until(struct vblk_tb *tb, uint64_t need);

/* Test hooks (§7.1). */
void vblk_tb_set_last_refill(struct vblk_tb *tb, uint64_t ns);
void vblk_tb_set_forced_nanos(struct vblk_tb *tb, uint64_t ns);
void vblk_tb_clear_forced_nanos(struct vblk_tb *tb);

/* Both buckets of a device from its configuration (§8.2). */
void vblk_throttle_buckets(const struct vblk_throttle *t, const struct vblk_clock *clk,
			   struct vblk_tb *ops, struct vblk_tb *bytes);
bool vblk_throttle_enabled(const struct vblk_throttle *t);
/*
 * The configuration rules of §8.1: a burst needs its rate and is at least
 * that rate. 0 or -EINVAL with a message naming the option in err.
 */
int vblk_throttle_validate(const struct vblk_throttle *t, char *err, size_t errlen);

#endif
