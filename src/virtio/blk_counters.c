// SPDX-License-Identifier: MIT
/*
 * virtio-blk counters (specs/virtio-blk.md §9): relaxed atomics, shared by
 * reference with monitors, cumulative for the device's lifetime. A guest
 * reset never clears them; only the last reference frees them.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk_priv.h"

#define RLX memory_order_relaxed

struct vblk_counters *vblk_counters_new(void)
{
	struct vblk_counters *c = calloc(1, sizeof(*c));

	if (c)
		atomic_init(&c->refs, 1);
	return c;
}

struct vblk_counters *vblk_counters_get(struct vblk_counters *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, RLX);
	return c;
}

void vblk_counters_put(struct vblk_counters *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		free(c);
}

/* A completion always counts, even a zero-byte one (§9). */
void vblk_record_read(struct vblk_counters *c, uint64_t bytes)
{
	atomic_fetch_add_explicit(&c->reads_completed, 1, RLX);
	atomic_fetch_add_explicit(&c->bytes_read, bytes, RLX);
}

void vblk_record_write(struct vblk_counters *c, uint64_t bytes)
{
	atomic_fetch_add_explicit(&c->writes_completed, 1, RLX);
	atomic_fetch_add_explicit(&c->bytes_written, bytes, RLX);
}

void vblk_record_flush(struct vblk_counters *c)
{
	atomic_fetch_add_explicit(&c->flushes_completed, 1, RLX);
}

void vblk_record_io_error(struct vblk_counters *c)
{
	atomic_fetch_add_explicit(&c->io_errors, 1, RLX);
}

void vblk_record_throttled(struct vblk_counters *c)
{
	atomic_fetch_add_explicit(&c->throttled_count, 1, RLX);
}

/* The caller gates on its stall flag; this helper just counts. */
void vblk_record_pending_inc(struct vblk_counters *c)
{
	atomic_fetch_add_explicit(&c->currently_throttled_gauge, 1, RLX);
}

/* A gauge must never wrap to 2^64-1, so the decrement stops at zero. */
void vblk_record_pending_dec(struct vblk_counters *c)
{
	uint64_t cur = atomic_load_explicit(&c->currently_throttled_gauge, RLX);

	while (cur && !atomic_compare_exchange_weak_explicit(&c->currently_throttled_gauge, &cur,
							     cur - 1, RLX, RLX))
		;
}

void vblk_record_invalid_avail_idx(struct vblk_counters *c)
{
	atomic_fetch_add_explicit(&c->invalid_avail_idx_count, 1, RLX);
}

void vblk_counters_snapshot(const struct vblk_counters *c, struct vblk_stats *s)
{
	/* The fields are loaded one by one; a snapshot is not a consistent cut. */
	s->reads_completed = atomic_load_explicit(&c->reads_completed, RLX);
	s->writes_completed = atomic_load_explicit(&c->writes_completed, RLX);
	s->flushes_completed = atomic_load_explicit(&c->flushes_completed, RLX);
	s->bytes_read = atomic_load_explicit(&c->bytes_read, RLX);
	s->bytes_written = atomic_load_explicit(&c->bytes_written, RLX);
	s->throttled_count = atomic_load_explicit(&c->throttled_count, RLX);
	s->io_errors = atomic_load_explicit(&c->io_errors, RLX);
	s->currently_throttled_gauge = atomic_load_explicit(&c->currently_throttled_gauge, RLX);
	s->invalid_avail_idx_count = atomic_load_explicit(&c->invalid_avail_idx_count, RLX);
}

char *vblk_stats_json(const struct vblk_stats *s)
{
	const struct {
		const char *key;
		uint64_t val;
	} f[] = {
		{"reads_completed", s->reads_completed},
		{"writes_completed", s->writes_completed},
		{"flushes_completed", s->flushes_completed},
		{"bytes_read", s->bytes_read},
		{"bytes_written", s->bytes_written},
		{"throttled_count", s->throttled_count},
		{"io_errors", s->io_errors},
		{"currently_throttled_gauge", s->currently_throttled_gauge},
		{"invalid_avail_idx_count", s->invalid_avail_idx_count},
	};
	struct json_object *o = json_object_new_object();
	char *out = NULL;

	if (!o)
		return NULL;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		/* uint64 objects print every digit: no double rounding above 2^53. */
		struct json_object *v = json_object_new_uint64(f[i].val);

		if (!v || json_object_object_add(o, f[i].key, v)) {
			json_object_put(v);
			goto out;
		}
	}
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(o);
	return out;
}
