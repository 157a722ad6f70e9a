/* SPDX-License-Identifier: MIT */
/*
 * virtio-net event counters, their snapshot, cross-NIC aggregation and the
 * JSON form. Governing text: specs/virtio-net.md §7 (the 16-field LATER
 * layout; the three ctrl_* fields exist for layout compatibility and stay 0
 * on virtio-mmio, which never offers the control queue).
 *
 * Live counters are relaxed C11 atomics: the device bumps them under its own
 * lock on the vCPU thread, a host monitor reads them without any lock. No
 * cross-field atomicity is promised. They are cumulative for the device's
 * lifetime; a guest reset never touches them.
 */
#ifndef KTSTR_VIRTIO_NET_COUNTERS_H
#define KTSTR_VIRTIO_NET_COUNTERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* Every counter, in snapshot and serialisation order (spec §7.2). */
#define VNET_COUNTER_LIST(X)       \
	X(tx_packets)              \
	X(tx_bytes)                \
	X(rx_packets)              \
	X(rx_bytes)                \
	X(tx_dropped_no_rx_buffer) \
	X(tx_dropped_rx_poisoned)  \
	X(tx_chain_invalid)        \
	X(tx_oversize_dropped)     \
	X(rx_chain_invalid)        \
	X(rx_write_failed)         \
	X(tx_add_used_failures)    \
	X(rx_add_used_failures)    \
	X(invalid_avail_idx_count) \
	X(ctrl_mq_set)             \
	X(ctrl_chain_invalid)      \
	X(ctrl_add_used_failures)

enum vnet_counter {
#define VNET_CTR_ENUM(name) VNET_CTR_##name,
	VNET_COUNTER_LIST(VNET_CTR_ENUM)
#undef VNET_CTR_ENUM
		VNET_CTR_COUNT
};

struct vnet_counters {
	_Atomic uint64_t v[VNET_CTR_COUNT];
};

/* Plain copy of the counters; field names are the JSON keys. */
struct vnet_snapshot {
#define VNET_SNAP_FIELD(name) uint64_t name;
	VNET_COUNTER_LIST(VNET_SNAP_FIELD)
#undef VNET_SNAP_FIELD
};

_Static_assert(sizeof(struct vnet_snapshot) == VNET_CTR_COUNT * sizeof(uint64_t),
	       "snapshot must be exactly one u64 per counter");

/* Field name of counter k ("tx_packets", ...); NULL when out of range. */
const char *vnet_counter_name(enum vnet_counter k);

/* Single-field bump (wrapping, relaxed): every counter except the two pairs below. */
void vnet_counter_inc(struct vnet_counters *c, enum vnet_counter k);
/* Paired bumps: packets += 1 and bytes += n, always together. */
void vnet_count_tx_completed(struct vnet_counters *c, uint64_t bytes);
void vnet_count_rx_delivered(struct vnet_counters *c, uint64_t bytes);
uint64_t vnet_counter_get(const struct vnet_counters *c, enum vnet_counter k);

/* Relaxed load of every field, one by one. */
void vnet_counters_snapshot(const struct vnet_counters *c, struct vnet_snapshot *out);

/*
 * Sum of every event counter, i.e. all but tx_bytes and rx_bytes: the
 * quantity spec §7.3 "forward progress" requires a TX kick to move (or the
 * TX used index). Wraps like the counters themselves.
 */
uint64_t vnet_snapshot_events(const struct vnet_snapshot *s);
bool vnet_snapshot_equal(const struct vnet_snapshot *a, const struct vnet_snapshot *b);
/* Value of field k of a snapshot (tests and generic consumers). */
uint64_t vnet_snapshot_field(const struct vnet_snapshot *s, enum vnet_counter k);

/*
 * Fold per-NIC snapshots into one total with saturating addition. Returns
 * false (and leaves *out untouched) for n == 0: "no NIC, no counters" is not
 * the same as an all-zero snapshot.
 */
bool vnet_snapshot_aggregate(const struct vnet_snapshot *in, size_t n, struct vnet_snapshot *out);

/* JSON object with one exact u64 integer per field; NULL on ENOMEM. */
struct json_object *vnet_snapshot_to_json(const struct vnet_snapshot *s);
/* Same, as a malloc'd compact string; -ENOMEM on failure. */
int vnet_snapshot_to_json_string(const struct vnet_snapshot *s, char **out);
/*
 * Read a snapshot back: unknown keys are ignored, a missing key, a
 * non-integer or a negative value is -EINVAL. *out is written only on success.
 */
int vnet_snapshot_from_json(const struct json_object *obj, struct vnet_snapshot *out);
int vnet_snapshot_from_json_string(const char *text, struct vnet_snapshot *out);

#endif
