// SPDX-License-Identifier: MIT
/* virtio-net counters, snapshot, aggregation and JSON (specs/virtio-net.md §12 M, §7). */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "unit/test_net.h"

static const char *const field_order[] = {
	"tx_packets",
	"tx_bytes",
	"rx_packets",
	"rx_bytes",
	"tx_dropped_no_rx_buffer",
	"tx_dropped_rx_poisoned",
	"tx_chain_invalid",
	"tx_oversize_dropped",
	"rx_chain_invalid",
	"rx_write_failed",
	"tx_add_used_failures",
	"rx_add_used_failures",
	"invalid_avail_idx_count",
	"ctrl_mq_set",
	"ctrl_chain_invalid",
	"ctrl_add_used_failures",
};

/* Field i of snap(b) is b + i + 1, so a swapped or dropped field shows. */
static struct vnet_snapshot snap_base(uint64_t b)
{
	struct vnet_snapshot s;
	char *txt = NULL;

	/* Built through JSON so the helper does not share the code under test's field walk. */
	struct json_object *o = json_object_new_object();
	for (unsigned i = 0; i < 16; i++)
		json_object_object_add(o, field_order[i], json_object_new_uint64(b + i + 1));
	txt = strdup(json_object_to_json_string(o));
	json_object_put(o);
	cr_assert_eq(vnet_snapshot_from_json_string(txt, &s), 0);
	free(txt);
	return s;
}

/* The layout is the 16-field LATER one, in the spec's order. */
Test(net_counters, sixteen_fields_in_spec_order)
{
	struct vnet_snapshot s = {.tx_packets = 1, .ctrl_add_used_failures = 16};

	cr_assert_eq(VNET_CTR_COUNT, 16);
	cr_assert_eq(sizeof(struct vnet_snapshot), 16 * sizeof(uint64_t));
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		cr_assert_str_eq(vnet_counter_name(k), field_order[k]);
	cr_assert_null(vnet_counter_name(VNET_CTR_COUNT));
	cr_assert_eq(vnet_snapshot_field(&s, VNET_CTR_tx_packets), 1);
	cr_assert_eq(vnet_snapshot_field(&s, VNET_CTR_ctrl_add_used_failures), 16);
}

/* spec §12 #124 */
Test(net_counters, fresh_device_snapshots_to_zero)
{
	struct vnet_params p = {0};
	struct vnet_snapshot zero = {0}, s;
	struct vnet *n = NULL;

	memset(&s, 0xFF, sizeof(s));
	cr_assert_eq(vnet_create(&p, &n), 0);
	vnet_snapshot(n, &s);
	cr_assert(vnet_snapshot_equal(&s, &zero));
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		cr_assert_eq(vnet_counter_get(vnet_counters(n), k), 0);
	vnet_destroy(n);
}

static void bump(struct vnet_counters *c, enum vnet_counter k, unsigned times)
{
	for (unsigned i = 0; i < times; i++)
		vnet_counter_inc(c, k);
}

/* spec §12 #125 */
Test(net_counters, each_helper_moves_only_its_field)
{
	struct vnet_counters c = {0};
	struct vnet_snapshot s;

	vnet_count_tx_completed(&c, 101);
	vnet_count_tx_completed(&c, 202);
	vnet_count_rx_delivered(&c, 303);
	vnet_count_rx_delivered(&c, 404);
	vnet_count_rx_delivered(&c, 505);
	bump(&c, VNET_CTR_tx_dropped_no_rx_buffer, 4);
	bump(&c, VNET_CTR_tx_chain_invalid, 5);
	bump(&c, VNET_CTR_rx_chain_invalid, 6);
	bump(&c, VNET_CTR_rx_write_failed, 7);
	bump(&c, VNET_CTR_tx_add_used_failures, 8);
	bump(&c, VNET_CTR_rx_add_used_failures, 9);
	bump(&c, VNET_CTR_invalid_avail_idx_count, 10);
	bump(&c, VNET_CTR_tx_dropped_rx_poisoned, 11);
	bump(&c, VNET_CTR_tx_oversize_dropped, 12);
	vnet_counter_inc(&c, VNET_CTR_COUNT); /* out of range: ignored */
	vnet_counters_snapshot(&c, &s);
	cr_assert_eq(s.tx_packets, 2);
	cr_assert_eq(s.tx_bytes, 303);
	cr_assert_eq(s.rx_packets, 3);
	cr_assert_eq(s.rx_bytes, 1212);
	cr_assert_eq(s.tx_dropped_no_rx_buffer, 4);
	cr_assert_eq(s.tx_chain_invalid, 5);
	cr_assert_eq(s.rx_chain_invalid, 6);
	cr_assert_eq(s.rx_write_failed, 7);
	cr_assert_eq(s.tx_add_used_failures, 8);
	cr_assert_eq(s.rx_add_used_failures, 9);
	cr_assert_eq(s.invalid_avail_idx_count, 10);
	cr_assert_eq(s.tx_dropped_rx_poisoned, 11);
	cr_assert_eq(s.tx_oversize_dropped, 12);
	cr_assert_eq(s.ctrl_mq_set + s.ctrl_chain_invalid + s.ctrl_add_used_failures, 0);
}

/* spec §12 #126 */
Test(net_counters, equality_covers_every_field)
{
	struct vnet_snapshot a = snap_base(50), b = snap_base(50);

	cr_assert(vnet_snapshot_equal(&a, &b));
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++) {
		struct vnet_snapshot c = a;
		char *txt = NULL;

		/* Change field k only, through JSON, and compare. */
		struct json_object *o = vnet_snapshot_to_json(&c);
		json_object_object_add(o, field_order[k], json_object_new_uint64(7));
		txt = strdup(json_object_to_json_string(o));
		json_object_put(o);
		cr_assert_eq(vnet_snapshot_from_json_string(txt, &c), 0);
		free(txt);
		cr_assert_not(vnet_snapshot_equal(&a, &c), "field %s ignored by equality",
			      field_order[k]);
	}
}

/* spec §12 #127 */
Test(net_counters, json_round_trip_is_exact_to_uint64_max)
{
	static const uint64_t vals[] = {
		UINT64_MAX, UINT64_MAX - 1,	    1ull << 53, (1ull << 53) + 1, UINT64_MAX / 2, 0,
		1,	    (uint64_t)INT64_MAX + 1};
	struct vnet_snapshot s, back;
	struct json_object *o, *v;
	char *txt = NULL;

	memset(&back, 0, sizeof(back));
	s = snap_base(1000);
	s.tx_packets = vals[0];
	s.tx_bytes = vals[1];
	s.rx_packets = vals[2];
	s.rx_bytes = vals[3];
	s.tx_dropped_no_rx_buffer = vals[4];
	s.tx_dropped_rx_poisoned = vals[5];
	s.tx_chain_invalid = vals[6];
	s.ctrl_add_used_failures = vals[7];
	cr_assert_eq(vnet_snapshot_to_json_string(&s, &txt), 0);
	cr_assert(strstr(txt, "\"tx_packets\":18446744073709551615"), "%s", txt);
	cr_assert(strstr(txt, "\"rx_bytes\":9007199254740993"), "%s", txt);
	cr_assert_eq(vnet_snapshot_from_json_string(txt, &back), 0);
	cr_assert(vnet_snapshot_equal(&s, &back));
	/* Keys are exactly the field names, values integers. */
	o = json_tokener_parse(txt);
	cr_assert_eq(json_object_object_length(o), 16);
	for (unsigned k = 0; k < 16; k++) {
		cr_assert(json_object_object_get_ex(o, field_order[k], &v), "%s", field_order[k]);
		cr_assert_eq(json_object_get_type(v), json_type_int);
	}
	json_object_put(o);
	free(txt);
}

Test(net_counters, json_reader_rules)
{
	struct vnet_snapshot s = snap_base(0), out, keep;
	struct json_object *o;
	char *txt;

	/* Unknown keys are ignored. */
	o = vnet_snapshot_to_json(&s);
	json_object_object_add(o, "future_counter", json_object_new_int(5));
	txt = strdup(json_object_to_json_string(o));
	cr_assert_eq(vnet_snapshot_from_json_string(txt, &out), 0);
	cr_assert(vnet_snapshot_equal(&s, &out));
	free(txt);
	/* A missing key (a 13-field 0.15.0 document) is an error and leaves *out alone. */
	json_object_object_del(o, "ctrl_mq_set");
	txt = strdup(json_object_to_json_string(o));
	keep = out;
	cr_assert_eq(vnet_snapshot_from_json_string(txt, &out), -EINVAL);
	cr_assert(vnet_snapshot_equal(&keep, &out));
	free(txt);
	json_object_put(o);
	/* Negative, fractional, string and non-object inputs are refused. */
	cr_assert_eq(vnet_snapshot_from_json_string("[1,2]", &out), -EINVAL);
	cr_assert_eq(vnet_snapshot_from_json_string("not json", &out), -EINVAL);
	cr_assert_eq(vnet_snapshot_from_json_string(NULL, &out), -EINVAL);
	o = vnet_snapshot_to_json(&s);
	json_object_object_add(o, "tx_bytes", json_object_new_int64(-1));
	cr_assert_eq(vnet_snapshot_from_json(o, &out), -EINVAL);
	json_object_object_add(o, "tx_bytes", json_object_new_double(1.5));
	cr_assert_eq(vnet_snapshot_from_json(o, &out), -EINVAL);
	json_object_object_add(o, "tx_bytes", json_object_new_string("12"));
	cr_assert_eq(vnet_snapshot_from_json(o, &out), -EINVAL);
	json_object_put(o);
}

/* spec §12 #128 */
Test(net_counters, aggregate_of_nothing_is_none)
{
	struct vnet_snapshot out = snap_base(9), keep = out;

	cr_assert_not(vnet_snapshot_aggregate(NULL, 0, &out));
	cr_assert(vnet_snapshot_equal(&out, &keep), "none must not write a zero snapshot");
}

/* spec §12 #129 */
Test(net_counters, aggregate_of_one_is_itself)
{
	struct vnet_snapshot a = snap_base(1000), out = {0};

	cr_assert(vnet_snapshot_aggregate(&a, 1, &out));
	cr_assert(vnet_snapshot_equal(&a, &out));
}

/* spec §12 #130 */
Test(net_counters, aggregate_sums_every_field)
{
	struct vnet_snapshot in[2] = {snap_base(1000), snap_base(2000)}, out;

	cr_assert(vnet_snapshot_aggregate(in, 2, &out));
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		cr_assert_eq(vnet_snapshot_field(&out, k), 3000 + 2 * (k + 1), "field %s",
			     field_order[k]);
}

/* spec §12 #131 */
Test(net_counters, aggregate_saturates_every_field)
{
	struct vnet_snapshot in[3], out;

	memset(&in[0], 0xFF, sizeof(in[0]));
	in[1] = snap_base(0);
	in[2] = snap_base(5);
	cr_assert(vnet_snapshot_aggregate(in, 3, &out));
	for (unsigned k = 0; k < VNET_CTR_COUNT; k++)
		cr_assert_eq(vnet_snapshot_field(&out, k), UINT64_MAX, "field %s wrapped",
			     field_order[k]);
}

/* The forward-progress measure of spec §7.3: every counter except the two byte counts. */
Test(net_counters, events_sum_everything_but_bytes)
{
	struct vnet_snapshot s = snap_base(0);

	/* 1 + ... + 16 minus tx_bytes (2) and rx_bytes (4) */
	cr_assert_eq(vnet_snapshot_events(&s), 136 - 2 - 4);
	s.tx_bytes = s.rx_bytes = 1000000;
	cr_assert_eq(vnet_snapshot_events(&s), 130);
}
