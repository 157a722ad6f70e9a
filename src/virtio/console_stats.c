// SPDX-License-Identifier: MIT
/*
 * virtio-console counters: snapshot and JSON form. Values are exact 64-bit
 * integers end to end (json-c keeps a uint64 as an integer, never a double),
 * so a counter near UINT64_MAX survives a round trip. Layout:
 *   { "ports": [ {<port counters>}, x3 ], <device counters> }
 */
#include <errno.h>
#include <json-c/json.h>

#include "virtio/console_int.h"

#define VC_LOAD(dst, src, n) (dst)->n = atomic_load_explicit(&(src)->n, memory_order_relaxed);

/* Relaxed loads, field by field: taken after the vCPUs stopped, the values are final. */
void vc_counters_snapshot(struct vc_dev *d, struct vc_counters *out)
{
	for (unsigned i = 0; i < VC_NUM_PORTS; i++) {
#define X(n) VC_LOAD(&out->port[i], &d->cnt.port[i], n)
		VC_PORT_COUNTERS(X)
#undef X
	}
#define X(n) VC_LOAD(out, &d->cnt, n)
	VC_DEV_COUNTERS(X)
#undef X
}

static int vc_json_put(struct json_object *o, const char *key, uint64_t v)
{
	struct json_object *n = json_object_new_uint64(v);

	if (!n)
		return -ENOMEM;
	if (json_object_object_add(o, key, n)) {
		json_object_put(n);
		return -ENOMEM;
	}
	return 0;
}

struct json_object *vc_counters_to_json(const struct vc_counters *c)
{
	struct json_object *root = json_object_new_object();
	struct json_object *ports = json_object_new_array();
	int rc = 0;

	if (!root || !ports || json_object_object_add(root, "ports", ports)) {
		json_object_put(ports);
		json_object_put(root);
		return NULL;
	}
	for (unsigned i = 0; i < VC_NUM_PORTS && !rc; i++) {
		struct json_object *p = json_object_new_object();

		if (!p || json_object_array_add(ports, p)) {
			json_object_put(p);
			rc = -ENOMEM;
			break;
		}
#define X(n) rc = rc ? rc : vc_json_put(p, #n, c->port[i].n);
		VC_PORT_COUNTERS(X)
#undef X
	}
#define X(n) rc = rc ? rc : vc_json_put(root, #n, c->n);
	VC_DEV_COUNTERS(X)
#undef X
	if (rc) {
		json_object_put(root);
		return NULL;
	}
	return root;
}

/* A missing key, or one that is not an integer, is an error; extra keys are ignored. */
static int vc_json_get(const struct json_object *o, const char *key, uint64_t *v)
{
	struct json_object *n;

	if (!json_object_object_get_ex(o, key, &n) || !json_object_is_type(n, json_type_int))
		return -EINVAL;
	/* json-c stores non-negative integers above INT64_MAX as uint64; negatives are refused. */
	if (json_object_get_int64(n) < 0 && json_object_get_uint64(n) <= INT64_MAX)
		return -EINVAL;
	*v = json_object_get_uint64(n);
	return 0;
}

int vc_counters_from_json(const struct json_object *obj, struct vc_counters *out)
{
	struct vc_counters c = {0};
	struct json_object *ports;
	int rc = 0;

	if (!obj || !json_object_object_get_ex(obj, "ports", &ports) ||
	    !json_object_is_type(ports, json_type_array) ||
	    json_object_array_length(ports) != VC_NUM_PORTS)
		return -EINVAL;
	for (unsigned i = 0; i < VC_NUM_PORTS && !rc; i++) {
		const struct json_object *p = json_object_array_get_idx(ports, i);

		if (!json_object_is_type(p, json_type_object))
			return -EINVAL;
#define X(n) rc = rc ? rc : vc_json_get(p, #n, &c.port[i].n);
		VC_PORT_COUNTERS(X)
#undef X
	}
#define X(n) rc = rc ? rc : vc_json_get(obj, #n, &c.n);
	VC_DEV_COUNTERS(X)
#undef X
	if (rc)
		return rc;
	*out = c;
	return 0;
}
