/* SPDX-License-Identifier: MIT */
/*
 * Guest-memory gateway: the only way device code touches guest RAM.
 * Governing text: specs/virtio-transport.md §2.
 *
 * A map is a sorted set of regions {gpa, len, host}. Regions are added while
 * the machine is built; once a map is handed to a device it is never changed,
 * so lookups take no lock. Every range check is overflow-safe; copies are
 * all-or-nothing (a failed gm_write changes no guest byte, a failed gm_read
 * leaves the destination untouched).
 */
#ifndef KTSTR_VIRTIO_GUESTMEM_H
#define KTSTR_VIRTIO_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define GM_MAX_REGIONS 16

struct gm; /* opaque, reference counted */

struct gm *gm_new(void);
/* -EINVAL: len 0, gpa+len overflows, gpa and host differ mod 8, map full; -EEXIST: overlap. */
int gm_add_region(struct gm *gm, uint64_t gpa, uint64_t len, void *host);
struct gm *gm_get(struct gm *gm);
/* Drops one reference; the last frees the map (never the guest RAM). NULL is ignored. */
void gm_put(struct gm *gm);

unsigned gm_num_regions(const struct gm *gm);

/* True iff len == 0, or [gpa, gpa+len) does not overflow and every byte is mapped. */
bool gm_range_ok(const struct gm *gm, uint64_t gpa, uint64_t len);
int gm_read(const struct gm *gm, uint64_t gpa, void *dst, size_t len);
int gm_write(const struct gm *gm, uint64_t gpa, const void *src, size_t len);
int gm_fill(const struct gm *gm, uint64_t gpa, uint8_t byte, size_t len);
/* Host pointer iff len > 0 and the whole range lies inside ONE region, else NULL. */
void *gm_slice(const struct gm *gm, uint64_t gpa, uint64_t len);
/* One iovec per region piece; -EFAULT (unmapped), -E2BIG (more than max pieces); *n = 0 for len 0. */
int gm_iov(const struct gm *gm, uint64_t gpa, uint64_t len, struct iovec *iov, unsigned max,
	   unsigned *n);

/* Little-endian 16-bit ring fields: gpa even and both bytes inside one region, else -EFAULT. */
int gm_load16_acquire(const struct gm *gm, uint64_t gpa, uint16_t *out);
int gm_store16_release(const struct gm *gm, uint64_t gpa, uint16_t val);
int gm_store16_relaxed(const struct gm *gm, uint64_t gpa, uint16_t val);

#endif
