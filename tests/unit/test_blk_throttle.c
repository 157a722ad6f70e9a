// SPDX-License-Identifier: MIT
/*
 * virtio-blk token bucket and worker policy helpers
 * (specs/virtio-blk.md §12 cases 139–160). Time comes from a pinned clock:
 * "sleep" means moving it, so every expectation is exact.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "virtio/blk_priv.h"
#include "virtio/blk_throttle.h"

#define SEC 1000000000ull

static uint64_t clock_ns = 5000 * SEC;

static uint64_t pinned_now(void *o)
{
	(void)o;
	return clock_ns;
}

static const struct vblk_clock pinned = {pinned_now, NULL};

static struct vblk_tb bucket(uint64_t cap, uint64_t rate)
{
	struct vblk_tb tb;

	vblk_tb_init(&tb, cap, rate, &pinned);
	return tb;
}

static void drain_all(struct vblk_tb *tb)
{
	while (vblk_tb_consume(tb, 1))
		;
}

Test(blk_tb, unlimited_bucket_grants_everything) /* spec §12 #139 */
{
	struct vblk_tb tb;

	vblk_tb_unlimited(&tb);
	for (int i = 0; i < 1000000; i++)
		cr_assert(vblk_tb_consume(&tb, 1));
	cr_assert(vblk_tb_consume(&tb, UINT64_MAX));
	cr_assert(vblk_tb_can_consume(&tb, UINT64_MAX));
	cr_assert_eq(vblk_tb_nanos_until(&tb, UINT64_MAX), 0);
}

Test(blk_tb, capacity_bounds_a_burst) /* spec §12 #140 */
{
	struct vblk_tb tb = bucket(100, 1);

	for (int i = 0; i < 100; i++)
		cr_assert(vblk_tb_consume(&tb, 1));
	cr_assert(!vblk_tb_consume(&tb, 1));
}

Test(blk_tb, tokens_come_back_with_time) /* spec §12 #141 */
{
	struct vblk_tb tb = bucket(100, 10);

	drain_all(&tb);
	cr_assert(!vblk_tb_consume(&tb, 1));
	clock_ns += 200 * 1000000ull;
	cr_assert(vblk_tb_consume(&tb, 1));
}

Test(blk_tb, zero_capacity_or_rate_is_unlimited) /* spec §12 #142 */
{
	struct vblk_tb a = bucket(0, 100), b = bucket(100, 0);

	cr_assert(a.unlimited);
	cr_assert(b.unlimited);
	for (int i = 0; i < 1000; i++) {
		cr_assert(vblk_tb_consume(&a, 1000));
		cr_assert(vblk_tb_consume(&b, 1000));
	}
}

Test(blk_tb, refill_is_capped_at_capacity) /* spec §12 #143 */
{
	struct vblk_tb tb = bucket(10, 10);

	drain_all(&tb);
	clock_ns += 1100 * 1000000ull;
	for (int i = 0; i < 10; i++)
		cr_assert(vblk_tb_consume(&tb, 1));
	cr_assert(!vblk_tb_consume(&tb, 1));
}

Test(blk_tb, zero_cost_is_free_even_in_debt) /* spec §12 #144 */
{
	struct vblk_tb tb = bucket(10, 10);

	for (int i = 0; i < 1000; i++)
		cr_assert(vblk_tb_consume(&tb, 0));
	for (int i = 0; i < 10; i++)
		cr_assert(vblk_tb_consume(&tb, 1));
	cr_assert(vblk_tb_consume(&tb, 0));
	tb = bucket(10, 10);
	cr_assert(vblk_tb_consume(&tb, 50)); /* 50 > cap: debt of 40 */
	cr_assert_eq(tb.available, -40);
	cr_assert(vblk_tb_consume(&tb, 0));
	cr_assert(vblk_tb_can_consume(&tb, 0));
	cr_assert_eq(tb.available, -40);
}

Test(blk_tb, forced_nanos_overrides_everything_until_cleared) /* spec §12 #145 */
{
	struct vblk_tb tb = bucket(10, 10), un;

	drain_all(&tb);
	vblk_tb_set_forced_nanos(&tb, 0);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 5), 0);
	vblk_tb_set_forced_nanos(&tb, 123456);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 1), 123456);
	cr_assert_eq(vblk_tb_nanos_until(&tb, UINT64_MAX), 123456);
	vblk_tb_unlimited(&un);
	vblk_tb_set_forced_nanos(&un, 7);
	cr_assert_eq(vblk_tb_nanos_until(&un, 1), 7);
	vblk_tb_clear_forced_nanos(&tb);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 5), SEC / 2);
}

Test(blk_tb, huge_request_runs_and_leaves_saturated_debt) /* spec §12 #146 */
{
	struct vblk_tb tb = bucket(1, 1);

	cr_assert(vblk_tb_consume(&tb, INT64_MAX));
	cr_assert(!vblk_tb_can_consume(&tb, 1));
	cr_assert_eq(vblk_tb_nanos_until(&tb, UINT64_MAX), UINT64_MAX);
}

Test(blk_tb, wait_is_proportional_to_the_shortfall) /* spec §12 #147 */
{
	struct vblk_tb tb = bucket(10, 10);

	drain_all(&tb);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 5), 500000000);
	tb = bucket(1, 1);
	drain_all(&tb);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 1), SEC);
}

Test(blk_tb, no_wait_once_enough_time_passed) /* spec §12 #148 */
{
	struct vblk_tb tb = bucket(10, 10);

	drain_all(&tb);
	vblk_tb_set_last_refill(&tb, clock_ns - 2 * SEC);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 1), 0);
}

Test(blk_tb, oversized_request_waits_only_for_the_debt) /* spec §12 #149 */
{
	struct vblk_tb tb = bucket(100, 100);

	cr_assert(vblk_tb_consume(&tb, 150));
	cr_assert_eq(vblk_tb_nanos_until(&tb, 101), 500000000);
	cr_assert(!vblk_tb_can_consume(&tb, 1));
}

Test(blk_tb, refused_request_leaves_the_debt_alone) /* spec §12 #150 */
{
	struct vblk_tb tb = bucket(100, 100);

	cr_assert(vblk_tb_consume(&tb, 150));
	cr_assert(!vblk_tb_consume(&tb, 150));
	cr_assert_eq(tb.available, -50);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 101), 500000000);
	cr_assert(!vblk_tb_can_consume(&tb, 150));
}

Test(blk_tb, debt_adds_to_the_wait) /* spec §12 #151 */
{
	struct vblk_tb tb = bucket(100, 100);

	cr_assert(vblk_tb_consume(&tb, 150));
	cr_assert_eq(vblk_tb_nanos_until(&tb, 200), 500000000);
	cr_assert_eq(vblk_tb_nanos_until(&tb, 10), 600000000);
}

Test(blk_tb, requests_beyond_int64_are_refused) /* spec §12 #152 */
{
	struct vblk_tb tb = bucket(100, 100);

	cr_assert(!vblk_tb_consume(&tb, 1ull << 63));
	cr_assert(!vblk_tb_consume(&tb, UINT64_MAX));
	cr_assert(!vblk_tb_can_consume(&tb, 1ull << 63));
	cr_assert(!vblk_tb_can_consume(&tb, UINT64_MAX));
	cr_assert(vblk_tb_can_consume(&tb, 100));
}

Test(blk_tb, debt_is_repaid_by_refill) /* spec §12 #153 */
{
	struct vblk_tb tb = bucket(100, 100);

	cr_assert(vblk_tb_consume(&tb, 150));
	vblk_tb_set_last_refill(&tb, clock_ns - SEC);
	cr_assert(vblk_tb_consume(&tb, 50));
	cr_assert_eq(vblk_tb_nanos_until(&tb, 1), 10000000);
}

Test(blk_tb, request_equal_to_capacity_uses_the_normal_rule) /* spec §12 #154 */
{
	struct vblk_tb tb = bucket(100, 100);

	cr_assert(vblk_tb_consume(&tb, 100));
	cr_assert_eq(vblk_tb_nanos_until(&tb, 1), 10000000);
	cr_assert(!vblk_tb_consume(&tb, 100));
	cr_assert_eq(tb.available, 0);
}

Test(blk_tb, slow_rate_keeps_fractional_progress) /* spec §8.3 refill rule */
{
	struct vblk_tb tb = bucket(1, 1);

	drain_all(&tb);
	for (int i = 0; i < 9; i++) {
		clock_ns += SEC / 10;
		cr_assert(!vblk_tb_consume(&tb, 1), "step %d", i);
	}
	clock_ns += SEC / 10;
	cr_assert(vblk_tb_consume(&tb, 1), "ten polls of 100 ms add up to one token");
}

Test(blk_tb, buckets_from_the_configuration) /* spec §12 #155 */
{
	struct vblk_tb ops, bytes;
	struct vblk_throttle t = {.iops = 1000, .bytes_per_sec = 50000};

	vblk_throttle_buckets(&t, &pinned, &ops, &bytes);
	cr_assert_eq(ops.capacity, 1000);
	cr_assert_eq(ops.rate, 1000);
	cr_assert_eq(ops.available, 1000);
	cr_assert_eq(bytes.capacity, 50000);
	cr_assert_eq(bytes.rate, 50000);
	cr_assert_eq(bytes.available, 50000);
	t.iops_burst = 5000;
	t.bytes_burst = 250000;
	vblk_throttle_buckets(&t, &pinned, &ops, &bytes);
	cr_assert_eq(ops.capacity, 5000);
	cr_assert_eq(ops.rate, 1000);
	cr_assert_eq(ops.available, 5000);
	cr_assert_eq(bytes.capacity, 250000);
	cr_assert_eq(bytes.rate, 50000);
}

Test(blk_tb, each_bucket_is_configured_on_its_own) /* spec §12 #156 */
{
	struct vblk_tb ops, bytes;
	struct vblk_throttle t = {.iops_burst = 10, .bytes_burst = 10};

	vblk_throttle_buckets(&t, &pinned, &ops, &bytes);
	cr_assert(ops.unlimited);
	cr_assert(bytes.unlimited);
	t = (struct vblk_throttle){.iops = 7, .bytes_per_sec = 100, .bytes_burst = 400};
	vblk_throttle_buckets(&t, &pinned, &ops, &bytes);
	cr_assert_eq(ops.capacity, 7);
	cr_assert_eq(ops.rate, 7);
	cr_assert_eq(bytes.capacity, 400);
	cr_assert_eq(bytes.rate, 100);
}

Test(blk_tb, configuration_rules_name_the_bad_option) /* spec §8.1 */
{
	char err[128];

	cr_assert_eq(vblk_throttle_validate(&(struct vblk_throttle){.iops = 5, .iops_burst = 10},
					    err, sizeof(err)),
		     0);
	cr_assert_eq(
		vblk_throttle_validate(&(struct vblk_throttle){.iops_burst = 10}, err, sizeof(err)),
		-EINVAL);
	cr_assert(strstr(err, "iops_burst") && strstr(err, "needs"));
	cr_assert_eq(vblk_throttle_validate(
			     &(struct vblk_throttle){.bytes_per_sec = 100, .bytes_burst = 99}, err,
			     sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "bps_burst=99"));
}

/* ---- worker policy helpers ---- */

Test(blk_policy, timer_clamp) /* spec §12 #157 */
{
	cr_assert_eq(vblk_clamp_timer(0), 1);
	cr_assert_eq(vblk_clamp_timer(1), 1);
	cr_assert_eq(vblk_clamp_timer(500000000), 500000000);
	cr_assert_eq(vblk_clamp_timer(SEC - 1), SEC - 1);
	cr_assert_eq(vblk_clamp_timer(SEC), SEC);
	cr_assert_eq(vblk_clamp_timer(SEC + 1), SEC);
	cr_assert_eq(vblk_clamp_timer(UINT64_MAX), SEC);
	cr_assert_eq(VBLK_RETRY_TIMER_MAX_NANOS, SEC);
}

static struct vblk_outcome stalled(uint64_t ns)
{
	return (struct vblk_outcome){true, ns};
}

static void assert_action(struct vblk_action a, enum vblk_action_kind k, uint64_t ns)
{
	cr_assert_eq(a.kind, k);
	if (k == VBLK_ACT_SLEEP)
		cr_assert_eq(a.ns, ns);
}

Test(blk_policy, decide_maps_outcomes_to_actions) /* spec §12 #158 */
{
	for (int rep = 0; rep < 2; rep++) {
		assert_action(vblk_decide((struct vblk_outcome){0}), VBLK_ACT_CONTINUE, 0);
		assert_action(vblk_decide(stalled(0)), VBLK_ACT_REDRAIN, 0);
		assert_action(vblk_decide(stalled(1)), VBLK_ACT_SLEEP, 1);
		assert_action(vblk_decide(stalled(500000000)), VBLK_ACT_SLEEP, 500000000);
		assert_action(vblk_decide(stalled(SEC + 1)), VBLK_ACT_SLEEP, SEC);
		assert_action(vblk_decide(stalled(UINT64_MAX)), VBLK_ACT_SLEEP, SEC);
	}
}

struct redrain_probe {
	int calls;
	struct vblk_outcome next;
};

static struct vblk_outcome probe(void *o)
{
	struct redrain_probe *p = o;

	p->calls++;
	return p->next;
}

Test(blk_policy, resolve_redrains_at_most_once) /* spec §12 #159 */
{
	struct redrain_probe p = {0};

	assert_action(vblk_resolve((struct vblk_action){VBLK_ACT_CONTINUE, 0}, probe, &p),
		      VBLK_ACT_CONTINUE, 0);
	assert_action(vblk_resolve((struct vblk_action){VBLK_ACT_SLEEP, 5}, probe, &p),
		      VBLK_ACT_SLEEP, 5);
	cr_assert_eq(p.calls, 0);
	p.next = (struct vblk_outcome){0};
	assert_action(vblk_resolve((struct vblk_action){VBLK_ACT_REDRAIN, 0}, probe, &p),
		      VBLK_ACT_CONTINUE, 0);
	cr_assert_eq(p.calls, 1);
	p.next = stalled(500000000);
	assert_action(vblk_resolve((struct vblk_action){VBLK_ACT_REDRAIN, 0}, probe, &p),
		      VBLK_ACT_SLEEP, 500000000);
	cr_assert_eq(p.calls, 2);
	p.next = stalled(0);
	assert_action(vblk_resolve((struct vblk_action){VBLK_ACT_REDRAIN, 0}, probe, &p),
		      VBLK_ACT_SLEEP, 1);
	cr_assert_eq(p.calls, 3);
}

Test(blk_policy, dispatch_depends_on_the_token_only) /* spec §12 #160 */
{
	static const uint32_t flags[] = {EPOLLIN, EPOLLIN | EPOLLERR, EPOLLIN | EPOLLHUP,
					 EPOLLIN | EPOLLERR | EPOLLHUP, EPOLLERR};

	for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		cr_assert_eq(vblk_dispatch(flags[i], 2), VBLK_EV_STOP);
		cr_assert_eq(vblk_dispatch(flags[i], 1), VBLK_EV_DRAIN);
		cr_assert_eq(vblk_dispatch(flags[i], 3), VBLK_EV_DRAIN_TIMER);
		cr_assert_eq(vblk_dispatch(flags[i], 4), VBLK_EV_PAUSE);
		cr_assert_eq(vblk_dispatch(flags[i], 0), VBLK_EV_SKIP);
		cr_assert_eq(vblk_dispatch(flags[i], 5), VBLK_EV_SKIP);
		cr_assert_eq(vblk_dispatch(flags[i], 99), VBLK_EV_SKIP);
		cr_assert_eq(vblk_dispatch(flags[i], UINT64_MAX), VBLK_EV_SKIP);
	}
}
