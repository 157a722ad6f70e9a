// SPDX-License-Identifier: MIT
/*
 * virtio-blk counters: record helpers, saturating gauge, snapshot, sharing,
 * concurrency, JSON (specs/virtio-blk.md §12 cases 173–185).
 *
 * The interrupt-status word belongs to the transport now, so its atomicity
 * cases are the transport's:
 *   blk #182 -> transport §7 #127
 *   blk #183 -> transport §7 #128
 *   blk #184 -> transport §7 #127, #128 (the worker and the vCPU share the
 *              one ISR word inside struct vdev; blk has no copy of its own)
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <linux/virtio_blk.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "test_blk.h"

static struct vblk_stats snap(const struct vblk_counters *c)
{
	struct vblk_stats s;

	vblk_counters_snapshot(c, &s);
	return s;
}

static bool stats_zero(const struct vblk_stats *s)
{
	static const struct vblk_stats zero;

	return !memcmp(s, &zero, sizeof(zero));
}

Test(blk_counters, fresh_counters_are_zero) /* spec §12 #173 */
{
	struct vblk_counters *c = vblk_counters_new();
	struct vblk_stats s = snap(c);

	cr_assert(stats_zero(&s));
	vblk_counters_put(c);
}

Test(blk_counters, record_read_counts_requests_and_bytes) /* spec §12 #174 */
{
	struct vblk_counters *c = vblk_counters_new();
	struct vblk_stats s;

	vblk_record_read(c, 512);
	vblk_record_read(c, 1024);
	s = snap(c);
	cr_assert_eq(s.reads_completed, 2);
	cr_assert_eq(s.bytes_read, 1536);
	s.reads_completed = s.bytes_read = 0;
	cr_assert(stats_zero(&s));
	vblk_counters_put(c);
	c = vblk_counters_new();
	vblk_record_read(c, 0);
	cr_assert_eq(snap(c).reads_completed, 1);
	cr_assert_eq(snap(c).bytes_read, 0);
	vblk_counters_put(c);
}

Test(blk_counters, record_write_counts_requests_and_bytes) /* spec §12 #175 */
{
	struct vblk_counters *c = vblk_counters_new();
	struct vblk_stats s;

	vblk_record_write(c, 4096);
	vblk_record_write(c, 8192);
	s = snap(c);
	cr_assert_eq(s.writes_completed, 2);
	cr_assert_eq(s.bytes_written, 12288);
	s.writes_completed = s.bytes_written = 0;
	cr_assert(stats_zero(&s));
	vblk_record_write(c, 0);
	cr_assert_eq(snap(c).writes_completed, 3);
	vblk_counters_put(c);
}

Test(blk_counters, record_flush_counts_only_flushes) /* spec §12 #176 */
{
	struct vblk_counters *c = vblk_counters_new();
	struct vblk_stats s;

	for (int i = 0; i < 3; i++)
		vblk_record_flush(c);
	s = snap(c);
	cr_assert_eq(s.flushes_completed, 3);
	s.flushes_completed = 0;
	cr_assert(stats_zero(&s));
	vblk_counters_put(c);
}

Test(blk_counters, gauge_decrement_saturates_at_zero) /* spec §12 #177 */
{
	struct vblk_counters *c = vblk_counters_new();

	for (int i = 0; i < 3; i++)
		vblk_record_pending_inc(c);
	cr_assert_eq(snap(c).currently_throttled_gauge, 3);
	for (int i = 0; i < 3; i++)
		vblk_record_pending_dec(c);
	cr_assert_eq(snap(c).currently_throttled_gauge, 0);
	for (int i = 0; i < 5; i++)
		vblk_record_pending_dec(c);
	cr_assert_eq(snap(c).currently_throttled_gauge, 0);
	for (int i = 0; i < 10; i++)
		vblk_record_pending_inc(c);
	for (int i = 0; i < 10; i++)
		vblk_record_pending_dec(c);
	cr_assert_eq(snap(c).currently_throttled_gauge, 0);
	vblk_counters_put(c);
}

Test(blk_counters, event_counters_touch_only_their_field) /* spec §12 #178 */
{
	void (*rec[])(struct vblk_counters *) = {vblk_record_io_error, vblk_record_throttled,
						 vblk_record_invalid_avail_idx};

	for (unsigned i = 0; i < 3; i++) {
		struct vblk_counters *c = vblk_counters_new();
		struct vblk_stats s;

		rec[i](c);
		s = snap(c);
		cr_assert_eq(i == 0   ? s.io_errors
			     : i == 1 ? s.throttled_count
				      : s.invalid_avail_idx_count,
			     1);
		s.io_errors = s.throttled_count = s.invalid_avail_idx_count = 0;
		cr_assert(stats_zero(&s));
		vblk_counters_put(c);
	}
}

Test(blk_counters, snapshot_copies_every_field) /* spec §12 #179 */
{
	struct vblk_counters *c = vblk_counters_new();
	struct vblk_stats s;

	atomic_store(&c->reads_completed, 1);
	atomic_store(&c->writes_completed, 2);
	atomic_store(&c->flushes_completed, 3);
	atomic_store(&c->bytes_read, 4);
	atomic_store(&c->bytes_written, 5);
	atomic_store(&c->throttled_count, 6);
	atomic_store(&c->io_errors, 7);
	atomic_store(&c->currently_throttled_gauge, 8);
	atomic_store(&c->invalid_avail_idx_count, 9);
	s = snap(c);
	cr_assert_eq(s.reads_completed, 1);
	cr_assert_eq(s.writes_completed, 2);
	cr_assert_eq(s.flushes_completed, 3);
	cr_assert_eq(s.bytes_read, 4);
	cr_assert_eq(s.bytes_written, 5);
	cr_assert_eq(s.throttled_count, 6);
	cr_assert_eq(s.io_errors, 7);
	cr_assert_eq(s.currently_throttled_gauge, 8);
	cr_assert_eq(s.invalid_avail_idx_count, 9);
	vblk_counters_put(c);
}

Test(blk_counters, references_share_one_object_beyond_the_device) /* spec §12 #180, #165 */
{
	struct blk_req r;
	struct vblk_counters *mine;

	blk_fx_setup(&(struct blk_fx_cfg){.inline_engine = true, .throttle = {.iops = 1}});
	mine = vblk_counters(blk_fx.vb);
	vblk_record_io_error(blk_fx.c);
	cr_assert_eq(snap(mine).io_errors, 1);
	blk_fx_wire();
	cr_assert(vblk_tb_consume(&blk_fx_state()->ops_tb, 1));
	blk_fx_read(&r, 0, 512);
	cr_assert_eq(snap(mine).currently_throttled_gauge, 1);
	/* Destroying a stalled device gives the gauge back; the reference stays valid. */
	blk_fx_fini();
	cr_assert_eq(snap(mine).currently_throttled_gauge, 0);
	cr_assert_eq(snap(mine).throttled_count, 1);
	vblk_counters_put(mine);
}

#define THREADS 8
#define ITERS	5000

static void *hammer(void *arg)
{
	struct vblk_counters *c = arg;

	for (int i = 0; i < ITERS; i++) {
		vblk_record_read(c, 512);
		vblk_record_write(c, 1024);
		vblk_record_flush(c);
		vblk_record_io_error(c);
		vblk_record_throttled(c);
		vblk_record_pending_inc(c);
		vblk_record_pending_dec(c);
		vblk_record_invalid_avail_idx(c);
	}
	return NULL;
}

static atomic_bool hammer_done;

static void *watch_reads(void *arg)
{
	struct vblk_counters *c = arg;
	uint64_t last = 0;
	bool monotone = true;

	while (!atomic_load(&hammer_done)) {
		uint64_t now = snap(c).reads_completed;

		monotone &= now >= last;
		last = now;
	}
	return (void *)(uintptr_t)monotone;
}

Test(blk_counters, concurrent_updates_add_up_exactly) /* spec §12 #181 */
{
	struct vblk_counters *c = vblk_counters_new();
	pthread_t t[THREADS], w;
	void *monotone;
	struct vblk_stats s;

	pthread_create(&w, NULL, watch_reads, c);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, c);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&hammer_done, true);
	pthread_join(w, &monotone);
	cr_assert(monotone, "reads_completed never went backwards");
	s = snap(c);
	cr_assert_eq(s.reads_completed, THREADS * ITERS);
	cr_assert_eq(s.bytes_read, 512ull * THREADS * ITERS);
	cr_assert_eq(s.writes_completed, THREADS * ITERS);
	cr_assert_eq(s.bytes_written, 1024ull * THREADS * ITERS);
	cr_assert_eq(s.flushes_completed, THREADS * ITERS);
	cr_assert_eq(s.io_errors, THREADS * ITERS);
	cr_assert_eq(s.throttled_count, THREADS * ITERS);
	cr_assert_eq(s.invalid_avail_idx_count, THREADS * ITERS);
	cr_assert_eq(s.currently_throttled_gauge, 0);
	vblk_counters_put(c);
}

Test(blk_counters, wire_constants) /* spec §12 #185 */
{
	cr_assert_eq(VIRTIO_BLK_S_OK, 0);
	cr_assert_eq(VIRTIO_BLK_S_IOERR, 1);
	cr_assert_eq(VIRTIO_BLK_S_UNSUPP, 2);
	cr_assert_eq(sizeof(vblk_serial), 20);
	cr_assert_arr_eq(vblk_serial, "ktstr-virtio-blk", 16);
	cr_assert_arr_eq(vblk_serial + 16, ((uint8_t[4]){0}), 4);
	blk_fx_default();
	cr_assert_eq(blk_fx.d->ops->config_size, 24);
	blk_fx_fini();
}

Test(blk_counters, json_keeps_every_bit_of_64_bit_values) /* spec §9, ARCHITECTURE §4.4 */
{
	struct vblk_stats s = {
		.reads_completed = UINT64_MAX,
		.writes_completed = (1ull << 53) + 1, /* not representable as a double */
		.flushes_completed = 3,
		.bytes_read = 4,
		.bytes_written = 5,
		.throttled_count = 6,
		.io_errors = 7,
		.currently_throttled_gauge = 0,
		.invalid_avail_idx_count = 9,
	};
	char *js = vblk_stats_json(&s);
	struct json_object *o, *v;

	cr_assert_not_null(js);
	cr_assert(strstr(js, "18446744073709551615"), "%s", js);
	o = json_tokener_parse(js);
	cr_assert_not_null(o);
	cr_assert_eq(json_object_object_length(o), 9);
	cr_assert(json_object_object_get_ex(o, "reads_completed", &v));
	cr_assert_eq(json_object_get_uint64(v), UINT64_MAX);
	cr_assert(json_object_object_get_ex(o, "writes_completed", &v));
	cr_assert_eq(json_object_get_uint64(v), (1ull << 53) + 1);
	cr_assert(json_object_object_get_ex(o, "invalid_avail_idx_count", &v));
	cr_assert_eq(json_object_get_uint64(v), 9);
	cr_assert(json_object_object_get_ex(o, "currently_throttled_gauge", &v));
	cr_assert_eq(json_object_get_uint64(v), 0);
	json_object_put(o);
	free(js);
}
