// SPDX-License-Identifier: MIT
/*
 * virtio-blk threaded engine: bounded joins, the pause/park handshake,
 * spawn at DRIVER_OK with placement, kick coalescing, the throttle timer,
 * reset and teardown around a live worker, durability through FLUSH
 * (specs/virtio-blk.md §12 cases 161–172).
 *
 * The guest-memory binding belongs to the transport:
 *   blk #164 (set_mem twice keeps the first) -> transport §7 #113
 * #165 (teardown while stalled gives the gauge back) is in test_blk_counters.c.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_blk.h"

TestSuite(blk_worker, .fini = blk_fx_fini);

#define V   (&blk_fx.v)
#define SEC 1000000000ull

/* ---- join_with_timeout (§7.6) ---- */

static void *returns_at_once(void *arg)
{
	return arg;
}

static void *sleeps_long(void *arg)
{
	(void)arg;
	sleep(60);
	return NULL;
}

static void *fails_with_message(void *arg)
{
	vblk_thread_set_result(arg);
	vblk_thread_fail("bucket invariant broken");
}

Test(blk_worker, join_reports_joined_timed_out_and_panicked) /* spec §12 #161 */
{
	struct vblk_thread *t;
	void *res = NULL;
	char msg[64] = "";
	int token;
	uint64_t t0;

	cr_assert_eq(vblk_thread_spawn(&t, "ktstr-test", returns_at_once, &token, NULL), 0);
	t0 = blk_fx_mono_ms();
	cr_assert_eq(vblk_thread_join(t, SEC, &res, msg, sizeof(msg)), VBLK_JOINED);
	cr_assert_lt(blk_fx_mono_ms() - t0, 100);
	cr_assert_eq(res, &token);

	cr_assert_eq(vblk_thread_spawn(&t, "ktstr-test", sleeps_long, NULL, NULL), 0);
	t0 = blk_fx_mono_ms();
	cr_assert_eq(vblk_thread_join(t, 50 * 1000000ull, &res, msg, sizeof(msg)), VBLK_TIMED_OUT);
	cr_assert_geq(blk_fx_mono_ms() - t0, 50);
	cr_assert_lt(blk_fx_mono_ms() - t0, 200);

	cr_assert_eq(vblk_thread_spawn(&t, "ktstr-test", fails_with_message, &token, NULL), 0);
	cr_assert_eq(vblk_thread_join(t, SEC, &res, msg, sizeof(msg)), VBLK_PANICKED);
	cr_assert_str_eq(msg, "bucket invariant broken");
	cr_assert_eq(res, &token, "the result set before failing comes back");
}

Test(blk_worker, reset_and_teardown_share_one_join_bound) /* spec §12 #162 */
{
	struct vblk_thread *t;
	void *res;
	uint64_t t0;

	cr_assert_eq(VBLK_JOIN_TIMEOUT_NS, SEC);
	cr_assert_eq(vblk_thread_spawn(&t, "ktstr-test", sleeps_long, NULL, NULL), 0);
	t0 = blk_fx_mono_ms();
	cr_assert_eq(vblk_thread_join(t, 100 * 1000000ull, &res, NULL, 0), VBLK_TIMED_OUT);
	cr_assert_lt(blk_fx_mono_ms() - t0, 200);
}

/* ---- pause / resume ---- */

static uint64_t eventfd_take(int fd)
{
	uint64_t v = 0;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

Test(blk_worker, pause_flag_and_pause_requests_inline) /* spec §12 #163 */
{
	blk_fx_default();
	cr_assert(vblk_is_paused(blk_fx.vb));
	atomic_store(&blk_fx.vb->paused, false);
	cr_assert(!vblk_is_paused(blk_fx.vb));
	atomic_store(&blk_fx.vb->paused, true);
	cr_assert(vblk_is_paused(blk_fx.vb));
	cr_assert(!vblk_resume(blk_fx.vb));
	cr_assert(!vblk_is_paused(blk_fx.vb));
	vblk_pause(blk_fx.vb);
	cr_assert_eq(eventfd_take(blk_fx.vb->pause_fd), 1);
	for (int i = 0; i < 3; i++)
		vblk_pause(blk_fx.vb);
	cr_assert_eq(eventfd_take(blk_fx.vb->pause_fd), 3);
}

static void fx_threaded(const struct vblk_throttle *t)
{
	blk_fx_setup(&(struct blk_fx_cfg){.engine = VBLK_ENGINE_THREAD,
					  .throttle = t ? *t : (struct vblk_throttle){0}});
}

static bool not_paused(void *arg)
{
	return !vblk_is_paused(arg);
}

static bool is_paused(void *arg)
{
	return vblk_is_paused(arg);
}

Test(blk_worker, no_worker_before_driver_ok) /* spec §12 #166 */
{
	fx_threaded(NULL);
	vblk_pause(blk_fx.vb);
	cr_assert_eq(eventfd_take(blk_fx.vb->pause_fd), 0, "nothing written without a worker");
	cr_assert(!vblk_resume(blk_fx.vb));
	cr_assert(vblk_is_paused(blk_fx.vb));
	cr_assert_null(blk_fx.vb->worker);
	blk_fx_wire();
	cr_assert_not_null(blk_fx.vb->worker);
	cr_assert(blk_fx_wait(not_paused, blk_fx.vb, 2000), "the worker clears paused");
}

/* The tid of our thread named `name`, or -1. */
static pid_t find_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	pid_t found = -1;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, name, strlen(name)) &&
		    comm[strlen(name)] == '\n')
			found = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return found;
}

static int only_cpu(pid_t tid)
{
	cpu_set_t s;

	cr_assert_eq(sched_getaffinity(tid, sizeof(s), &s), 0);
	if (CPU_COUNT(&s) != 1)
		return -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &s))
			return c;
	return -1;
}

static bool worker_named(void *arg)
{
	(void)arg;
	return find_thread("ktstr-vblk") > 0;
}

Test(blk_worker, worker_is_named_and_placed_at_each_spawn) /* spec §12 #167 */
{
	struct vblk_placement p = {.has_service_cpu = true, .service_cpu = 1};
	cpu_set_t all;

	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	if (CPU_COUNT(&all) < 2 || !CPU_ISSET(0, &all) || !CPU_ISSET(1, &all))
		cr_skip_test("needs CPUs 0 and 1");
	fx_threaded(NULL);
	vblk_set_placement(blk_fx.vb, &p);
	cr_assert_eq(find_thread("ktstr-vblk"), -1, "not spawned at construction");
	blk_fx_wire();
	cr_assert(blk_fx_wait(not_paused, blk_fx.vb, 2000));
	cr_assert(blk_fx_wait(worker_named, NULL, 2000));
	cr_assert_eq(only_cpu(find_thread("ktstr-vblk")), 1);
	p.service_cpu = 0;
	vblk_set_placement(blk_fx.vb, &p);
	cr_assert_eq(only_cpu(find_thread("ktstr-vblk")), 1, "a running worker stays put");
	blk_fx_wire(); /* reset joins it; DRIVER_OK spawns the next */
	cr_assert(blk_fx_wait(not_paused, blk_fx.vb, 2000));
	cr_assert(blk_fx_wait(worker_named, NULL, 2000));
	cr_assert_eq(only_cpu(find_thread("ktstr-vblk")), 0);
}

/* Park the live worker and wait until it says so. */
static void park_worker(void)
{
	cr_assert(blk_fx_wait(not_paused, blk_fx.vb, 2000));
	vblk_pause(blk_fx.vb);
	cr_assert(blk_fx_wait(is_paused, blk_fx.vb, 2000));
}

Test(blk_worker, kicks_pending_together_cost_one_drain) /* spec §12 #168 */
{
	struct blk_req r[3];

	fx_threaded(NULL);
	blk_fx_wire();
	park_worker();
	for (int i = 0; i < 3; i++)
		blk_fx_post(&r[i], VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	for (int i = 0; i < 1000; i++)
		blk_fx_kick();
	cr_assert_eq(vdrv_used_idx(V, 0), 0, "parked: nothing served");
	cr_assert(vblk_resume(blk_fx.vb));
	cr_assert(blk_fx_wait_used(3, 2000));
	/* The interrupt follows the used index; give it time, then make sure no second one came. */
	uint64_t irqs = 0, t0 = blk_fx_mono_ms();
	while (!irqs && blk_fx_mono_ms() - t0 < 2000)
		irqs += vdrv_irq_count(V);
	usleep(50000);
	irqs += vdrv_irq_count(V);
	cr_assert_eq(irqs, 1, "one drain, hence one interrupt");
}

Test(blk_worker, stop_wins_over_a_kick_in_the_same_batch) /* spec §12 #168 */
{
	struct blk_req r;
	uint64_t one = 1;

	fx_threaded(NULL);
	blk_fx_wire();
	park_worker();
	blk_fx_flush(&r);
	cr_assert_eq(write(blk_fx.vb->stop_fd, &one, sizeof(one)), sizeof(one));
	vblk_destroy(blk_fx.vb);
	blk_fx.vb = NULL;
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	cr_assert_eq(vdrv_used_idx(V, 0), 0);
	cr_assert_eq(blk_fx.faults.sync_calls, 0);
}

static bool stalled_at_least(void *arg)
{
	return blk_fx_stats().throttled_count >= (uint64_t)(uintptr_t)arg;
}

Test(blk_worker, throttle_timer_retries_and_kicks_do_not) /* spec §12 #169 */
{
	struct blk_req r;
	struct vblk_throttle t = {.iops = 1};
	uint64_t t_stall;

	fx_threaded(&t);
	blk_fx_wire();
	/* The first read spends the only token; the second stalls for 1 s of bucket time. */
	blk_fx_read(&r, 0, 512);
	cr_assert(blk_fx_wait_used(1, 2000));
	blk_fx_read(&r, 0, 512);
	cr_assert(blk_fx_wait(stalled_at_least, (void *)1, 2000));
	t_stall = blk_fx_mono_ms();
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
	for (int i = 0; i < 5; i++)
		blk_fx_kick();
	usleep(20000);
	if (blk_fx_mono_ms() - t_stall < 900) /* the retry timer is 1 s away */
		cr_assert_eq(blk_fx_stats().throttled_count, 1, "kicks while stalled do not drain");
	/* The pinned clock has not moved: the timer's retry stalls again. */
	cr_assert(blk_fx_wait(stalled_at_least, (void *)2, 3000), "the timer drives retries");
	cr_assert_eq(blk_fx_status(&r), BLK_FX_STATUS_INIT);
	blk_fx_advance(SEC);
	cr_assert(blk_fx_wait_used(2, 3000));
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	cr_assert_eq(blk_fx_stats().reads_completed, 2);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 0);
}

Test(blk_worker, pause_parks_signals_and_resumes) /* spec §12 #170 */
{
	struct blk_req r;
	int parked = eventfd(0, EFD_NONBLOCK);

	fx_threaded(NULL);
	vblk_set_parked_evt(blk_fx.vb, parked);
	blk_fx_wire();
	park_worker();
	cr_assert_eq(eventfd_take(parked), 1);
	blk_fx_flush(&r);
	usleep(20000);
	cr_assert_eq(vdrv_used_idx(V, 0), 0, "parked worker does not drain");
	cr_assert(vblk_resume(blk_fx.vb));
	cr_assert(blk_fx_wait_used(1, 2000), "the kick made while parked is served");
	vblk_set_parked_evt(blk_fx.vb, -1);
	close(parked);
}

Test(blk_worker, reset_and_destroy_of_a_parked_worker_are_quick) /* spec §12 #170 */
{
	uint64_t t0;

	fx_threaded(NULL);
	blk_fx_wire();
	park_worker();
	t0 = blk_fx_mono_ms();
	vdrv_set_status(V, 0);
	cr_assert_lt(blk_fx_mono_ms() - t0, 500);
	cr_assert_null(blk_fx.vb->worker);
	cr_assert_not_null(blk_fx.vb->respawn_pending, "the state was reclaimed");
	cr_assert(vblk_is_paused(blk_fx.vb), "no worker: the freeze passes trivially");
	blk_fx_wire();
	park_worker();
	t0 = blk_fx_mono_ms();
	vblk_destroy(blk_fx.vb);
	blk_fx.vb = NULL;
	cr_assert_lt(blk_fx_mono_ms() - t0, 500);
}

Test(blk_worker, queued_pause_never_outlives_a_reset) /* spec §7.7 with §5 phase 2 */
{
	fx_threaded(NULL);
	for (int i = 0; i < 20; i++) {
		uint64_t t0;

		blk_fx_wire();
		cr_assert(blk_fx_wait(not_paused, blk_fx.vb, 2000));
		/* A pause still queued when the reset unparks and stops the worker. */
		vblk_pause(blk_fx.vb);
		if (i & 1)
			usleep(200);
		t0 = blk_fx_mono_ms();
		vdrv_set_status(V, 0);
		cr_assert_lt(blk_fx_mono_ms() - t0, 500, "round %d", i);
		cr_assert_not_null(blk_fx.vb->respawn_pending, "round %d: state reclaimed", i);
	}
}

Test(blk_worker, second_reset_keeps_the_pending_state) /* spec §12 #171 */
{
	struct blk_req r;
	struct vblk_state *pending;
	struct vblk_throttle t = {.iops = 2};

	fx_threaded(&t);
	blk_fx_wire();
	blk_fx_flush(&r);
	cr_assert(blk_fx_wait_used(1, 2000));
	vdrv_set_status(V, 0);
	pending = blk_fx.vb->respawn_pending;
	cr_assert_not_null(pending);
	cr_assert_eq(pending->ops_tb.available, 1, "one token spent before the reset");
	vdrv_set_status(V, 0);
	cr_assert_eq(blk_fx.vb->respawn_pending, pending);
	blk_fx_wire();
	cr_assert_null(blk_fx.vb->respawn_pending);
	/* Full buckets again: two flushes pass at the pinned time. */
	blk_fx_flush(&r);
	blk_fx_flush(&r);
	cr_assert(blk_fx_wait_used(2, 2000));
	cr_assert_eq(blk_fx_stats().throttled_count, 0);
}

Test(blk_worker, reset_while_stalled_drops_the_gauge_at_respawn) /* spec §12 #172 */
{
	struct blk_req r;
	struct vblk_throttle t = {.iops = 1};

	fx_threaded(&t);
	blk_fx_wire();
	blk_fx_flush(&r);
	cr_assert(blk_fx_wait_used(1, 2000));
	blk_fx_flush(&r);
	cr_assert(blk_fx_wait(stalled_at_least, (void *)1, 2000));
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1);
	vdrv_set_status(V, 0);
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 1, "kept until the rebind");
	cr_assert(blk_fx.vb->respawn_pending->currently_stalled);
	blk_fx_wire();
	cr_assert_eq(blk_fx_stats().currently_throttled_gauge, 0);
}

Test(blk_worker, notify_fd_is_the_stable_kick_eventfd) /* transport §7 #114 (blk part) */
{
	int fd;
	uint64_t one = 1;
	struct blk_req r;

	fx_threaded(NULL);
	fd = vblk_notify_fd(blk_fx.vb);
	cr_assert_geq(fd, 0);
	cr_assert_eq(vmmio_notify_fd(blk_fx.d, 1), -1);
	blk_fx_wire();
	cr_assert_eq(vblk_notify_fd(blk_fx.vb), fd, "the VMM binds it once");
	/* What a KVM ioeventfd would do: write the eventfd without an MMIO exit. */
	blk_fx_post(&r, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false);
	cr_assert_eq(write(fd, &one, sizeof(one)), sizeof(one));
	cr_assert(blk_fx_wait_used(1, 2000));
	blk_fx_wire();
	cr_assert_eq(vblk_notify_fd(blk_fx.vb), fd);
	blk_fx_fini();
	blk_fx_default();
	cr_assert_eq(vblk_notify_fd(blk_fx.vb), -1, "inline engine: no ioeventfd");
}

/* ---- durability through the real file backing ---- */

static int child_check(const char *path, uint64_t off, uint8_t byte, size_t len)
{
	uint8_t buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || len > sizeof(buf) || pread(fd, buf, len, (off_t)off) != (ssize_t)len)
		return 2;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != byte)
			return 1;
	close(fd);
	return 0;
}

Test(blk_worker, flushed_write_is_in_the_file_for_a_fresh_process) /* brief: durability */
{
	struct vblk_opts o;
	struct vblk *vb;
	struct vdrv v;
	struct blk_req r;
	char err[256];
	int status;
	pid_t pid;

	blk_fx_default(); /* only for the temporary file */
	vblk_opts_init(&o);
	o.path = blk_fx.path;
	cr_assert_eq(vblk_create(&o, &vb, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(vblk_capacity_sectors(vb), 8, "capacity from the file size");
	/* Drive the real device with the fixture's request helpers. */
	vdrv_init(&v, vblk_vdev(vb), VDRV_MEM_M1, true);
	struct vblk *saved_vb = blk_fx.vb;
	struct vdrv saved_v = blk_fx.v;
	blk_fx.vb = vb;
	blk_fx.v = v;
	blk_fx_wire();
	blk_fx_write(&r, 3, 512, 0x5E);
	cr_assert(blk_fx_wait_used(1, 2000));
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	blk_fx_flush(&r);
	cr_assert(blk_fx_wait_used(2, 2000));
	cr_assert_eq(blk_fx_status(&r), VIRTIO_BLK_S_OK);
	vblk_destroy(vb);
	vdrv_fini(&blk_fx.v);
	blk_fx.vb = saved_vb;
	blk_fx.v = saved_v;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(child_check(blk_fx.path, 3 * 512, 0x5E, 512) ||
		      child_check(blk_fx.path, 0, 0xAB, 1536));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child saw status %d", status);
}
