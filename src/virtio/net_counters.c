// SPDX-License-Identifier: MIT
/*
 * virtio-net counters: live atomics, snapshot, aggregation, JSON.
 * specs/virtio-net.md §7.
 */
#include "virtio/net_counters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

static const char *const counter_names[VNET_CTR_COUNT] = {
#define VNET_CTR_NAME(name) [VNET_CTR_##name] = #name,
	VNET_COUNTER_LIST(VNET_CTR_NAME)
#undef VNET_CTR_NAME
};

/* Where each counter lives in the snapshot, so every loop below is one loop. */
static const size_t snap_offset[VNET_CTR_COUNT] = {
#define VNET_CTR_OFF(name) [VNET_CTR_##name] = offsetof(struct vnet_snapshot, name),
	VNET_COUNTER_LIST(VNET_CTR_OFF)
#undef VNET_CTR_OFF
};

static uint64_t *snap_slot(struct vnet_snapshot *s, unsigned k)
{
	return (uint64_t *)((char *)s + snap_offset[k]);
}

static uint64_t snap_get(const struct vnet_snapshot *s, unsigned k)
{
	return *(const uint64_t *)((const char *)s + snap_offset[k]);
}

const char *vnet_counter_name(enum vnet_counter k)
{
	return (unsigned)k < VNET_CTR_COUNT ? counter_names[k] : NULL;
}

/*
 * Relaxed ordering throughout: a counter orders nothing, and the final
 * snapshot is taken after the vCPU threads were joined (spec §7.1).
 * Wrapping is deliberate; 2^64 events are not reachable.
 */
static void counter_add(struct vnet_counters *c, enum vnet_counter k, uint64_t n)
{
	atomic_fetch_add_explicit(&c->v[k], n, memory_order_relaxed);
}

void vnet_counter_inc(struct vnet_counters *c, enum vnet_counter k)
{
	if ((unsigned)k < VNET_CTR_COUNT)
		counter_add(c, k, 1);
}

void vnet_count_tx_completed(struct vnet_counters *c, uint64_t bytes)
{
	counter_add(c, VNET_CTR_tx_packets, 1);
	counter_add(c, VNET_CTR_tx_bytes, bytes);
}

void vnet_count_rx_delivered(struct vnet_counters *c, uint64_t bytes)
{
	counter_add(c, VNET_CTR_rx_packets, 1);
	counter_add(c, VNET_CTR_rx_bytes, bytes);
}

uint64_t vnet_counter_get(const struct vnet_counters *c, enum vnet_counter k)
{
	if ((unsigned)k >= VNET_CTR_COUNT)
		return 0;
	return atomic_load_explicit(&c->v[k], memory_order_relaxed);
}

void vnet_counters_snapshot(const struct vnet_counters *c, struct vnet_snapshot *out)
{
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		*snap_slot(out, k) = atomic_load_explicit(&c->v[k], memory_order_relaxed);
}

uint64_t vnet_snapshot_field(const struct vnet_snapshot *s, enum vnet_counter k)
{
	if ((unsigned)k >= VNET_CTR_COUNT)
		return 0;
	return snap_get(s, k);
}

uint64_t vnet_snapshot_events(const struct vnet_snapshot *s)
{
	uint64_t sum = 0;

	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		if (k != VNET_CTR_tx_bytes && k != VNET_CTR_rx_bytes)
			sum += snap_get(s, k);
	return sum;
}

bool vnet_snapshot_equal(const struct vnet_snapshot *a, const struct vnet_snapshot *b)
{
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		if (snap_get(a, k) != snap_get(b, k))
			return false;
	return true;
}

bool vnet_snapshot_aggregate(const struct vnet_snapshot *in, size_t n, struct vnet_snapshot *out)
{
	struct vnet_snapshot acc;

	if (n == 0)
		return false;
	acc = in[0];
	for (size_t i = 1; i < n; i++) {
		for (unsigned k = 0; k < VNET_CTR_COUNT; k++) {
			uint64_t *slot = snap_slot(&acc, k);

			/* Saturate: a wrapped total would read as a phantom small count. */
			if (__builtin_add_overflow(*slot, snap_get(&in[i], k), slot))
				*slot = UINT64_MAX;
		}
	}
	*out = acc;
	return true;
}

struct json_object *vnet_snapshot_to_json(const struct vnet_snapshot *s)
{
	struct json_object *obj = json_object_new_object();

	if (!obj)
		return NULL;
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++) {
		/* new_uint64 keeps values above INT64_MAX exact (no double on the way). */
		struct json_object *v = json_object_new_uint64(snap_get(s, k));

		if (!v || json_object_object_add(obj, counter_names[k], v) < 0) {
			json_object_put(v);
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

int vnet_snapshot_to_json_string(const struct vnet_snapshot *s, char **out)
{
	struct json_object *obj = vnet_snapshot_to_json(s);
	const char *txt;

	if (!obj)
		return -ENOMEM;
	txt = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	*out = txt ? strdup(txt) : NULL;
	json_object_put(obj);
	return *out ? 0 : -ENOMEM;
}

/* An exact non-negative JSON integer, as json-c stores it (int64 or uint64). */
static int json_u64(const struct json_object *v, uint64_t *out)
{
	if (!v || json_object_get_type(v) != json_type_int)
		return -EINVAL;
	/* A negative int64 reads as 0 through get_uint64; reject it explicitly. */
	if (json_object_get_int64(v) < 0)
		return -EINVAL;
	*out = json_object_get_uint64(v);
	return 0;
}

int vnet_snapshot_from_json(const struct json_object *obj, struct vnet_snapshot *out)
{
	struct vnet_snapshot s;

	if (!obj || json_object_get_type(obj) != json_type_object)
		return -EINVAL;
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++) {
		struct json_object *v = NULL;

		if (!json_object_object_get_ex(obj, counter_names[k], &v))
			return -EINVAL;
		if (json_u64(v, snap_slot(&s, k)) < 0)
			return -EINVAL;
	}
	*out = s;
	return 0;
}

int vnet_snapshot_from_json_string(const char *text, struct vnet_snapshot *out)
{
	struct json_object *obj;
	int rc;

	if (!text)
		return -EINVAL;
	obj = json_tokener_parse(text);
	if (!obj)
		return -EINVAL;
	rc = vnet_snapshot_from_json(obj, out);
	json_object_put(obj);
	return rc;
}
