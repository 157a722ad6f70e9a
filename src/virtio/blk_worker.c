// SPDX-License-Identifier: MIT
/*
 * virtio-blk worker thread (specs/virtio-blk.md §7): the event loop on the
 * kick / stop / throttle-timer / pause descriptors, the pause-park handshake,
 * spawning at DRIVER_OK, stopping with a bounded join, and the small pure
 * policy functions the loop is built from (so they can be tested alone).
 *
 * There is no pthread_cancel anywhere: a worker stops when it reads STOP,
 * and a worker stuck in a syscall is abandoned after the bounded join. It
 * holds a reference on the device, so everything it can still touch stays
 * allocated until it finally returns, and the device epoch (checked under
 * the queue lock) keeps it away from the next lifecycle's rings.
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "virtio/blk_priv.h"

#define NSEC_PER_SEC 1000000000ull

/* ---- policy (§7.3) ---- */

uint64_t vblk_clamp_timer(uint64_t ns)
{
	/* 0 would disarm a timerfd; more than 1 s is re-evaluated after 1 s anyway. */
	if (ns < 1)
		return 1;
	return ns > VBLK_RETRY_TIMER_MAX_NANOS ? VBLK_RETRY_TIMER_MAX_NANOS : ns;
}

struct vblk_action vblk_decide(struct vblk_outcome o)
{
	if (!o.stalled)
		return (struct vblk_action){VBLK_ACT_CONTINUE, 0};
	if (o.wait_ns == 0)
		return (struct vblk_action){VBLK_ACT_REDRAIN, 0};
	return (struct vblk_action){VBLK_ACT_SLEEP, vblk_clamp_timer(o.wait_ns)};
}

/* At most one immediate re-drain: a second zero wait sleeps the minimum instead of spinning. */
struct vblk_action vblk_resolve(struct vblk_action a, struct vblk_outcome (*redrain)(void *),
				void *opaque)
{
	struct vblk_outcome o;

	if (a.kind != VBLK_ACT_REDRAIN)
		return a;
	o = redrain(opaque);
	if (!o.stalled)
		return (struct vblk_action){VBLK_ACT_CONTINUE, 0};
	return (struct vblk_action){VBLK_ACT_SLEEP, vblk_clamp_timer(o.wait_ns)};
}

enum vblk_event vblk_dispatch(uint32_t events, uint64_t token)
{
	/* ERR/HUP are only worth a log line; the token alone decides. */
	(void)events;
	switch (token) {
	case VBLK_TOK_STOP:
		return VBLK_EV_STOP;
	case VBLK_TOK_KICK:
		return VBLK_EV_DRAIN;
	case VBLK_TOK_THROTTLE:
		return VBLK_EV_DRAIN_TIMER;
	case VBLK_TOK_PAUSE:
		return VBLK_EV_PAUSE;
	default:
		return VBLK_EV_SKIP;
	}
}

/* ---- threads with a bounded join (§7.6) ---- */

struct vblk_thread {
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, failed, abandoned;
	void *result;
	char msg[160];
	char name[16];
	vblk_thread_fn fn;
	void *arg;
	void (*release)(void *result);
	_Atomic int refs; /* the thread and the joiner */
};

static __thread struct vblk_thread *vblk_self;

static void thread_put(struct vblk_thread *t)
{
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Runs on normal return and on vblk_thread_fail (a cleanup handler of pthread_exit). */
static void thread_finish(void *p)
{
	struct vblk_thread *t = p;
	bool orphan;

	pthread_mutex_lock(&t->lock);
	t->done = true;
	orphan = t->abandoned;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	/* Nobody will collect the result of a thread whose join timed out. */
	if (orphan && t->release && t->result)
		t->release(t->result);
	thread_put(t);
}

static void *thread_main(void *p)
{
	struct vblk_thread *t = p;
	void *r;

	vblk_self = t;
	pthread_setname_np(pthread_self(), t->name);
	pthread_cleanup_push(thread_finish, t);
	r = t->fn(t->arg);
	pthread_mutex_lock(&t->lock);
	t->result = r;
	pthread_mutex_unlock(&t->lock);
	pthread_cleanup_pop(1);
	return NULL;
}

void vblk_thread_set_result(void *result)
{
	struct vblk_thread *t = vblk_self;

	pthread_mutex_lock(&t->lock);
	t->result = result;
	pthread_mutex_unlock(&t->lock);
}

void vblk_thread_fail(const char *msg)
{
	struct vblk_thread *t = vblk_self;

	pthread_mutex_lock(&t->lock);
	t->failed = true;
	snprintf(t->msg, sizeof(t->msg), "%s", msg ? msg : "<no message>");
	pthread_mutex_unlock(&t->lock);
	pthread_exit(NULL);
}

int vblk_thread_spawn(struct vblk_thread **out, const char *name, vblk_thread_fn fn, void *arg,
		      void (*release)(void *result))
{
	struct vblk_thread *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int rc;

	if (!t)
		return -ENOMEM;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&t->lock, NULL);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fn = fn;
	t->arg = arg;
	t->release = release;
	atomic_init(&t->refs, 2);
	rc = pthread_create(&t->tid, NULL, thread_main, t);
	if (rc) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -rc;
	}
	*out = t;
	return 0;
}

enum vblk_join vblk_thread_join(struct vblk_thread *t, uint64_t timeout_ns, void **result,
				char *msg, size_t msglen)
{
	struct timespec dl;
	bool failed;
	void *r;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)(timeout_ns / NSEC_PER_SEC);
	dl.tv_nsec += (long)(timeout_ns % NSEC_PER_SEC);
	if (dl.tv_nsec >= (long)NSEC_PER_SEC) {
		dl.tv_sec++;
		dl.tv_nsec -= (long)NSEC_PER_SEC;
	}
	pthread_mutex_lock(&t->lock);
	while (!t->done) {
		if (pthread_cond_timedwait(&t->cond, &t->lock, &dl) == ETIMEDOUT && !t->done) {
			/* Leave it running; its result is released when it ends. */
			t->abandoned = true;
			pthread_mutex_unlock(&t->lock);
			pthread_detach(t->tid);
			thread_put(t);
			*result = NULL;
			return VBLK_TIMED_OUT;
		}
	}
	failed = t->failed;
	r = t->result;
	if (msg && msglen)
		snprintf(msg, msglen, "%s", t->msg);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->tid, NULL); /* it has finished: this does not block for long */
	thread_put(t);
	*result = r;
	return failed ? VBLK_PANICKED : VBLK_JOINED;
}

int vblk_apply_placement(const struct vblk_placement *p)
{
	cpu_set_t set;

	if (p->has_service_cpu) {
		if (p->service_cpu < 0 || p->service_cpu >= CPU_SETSIZE)
			return -EINVAL;
		CPU_ZERO(&set);
		CPU_SET(p->service_cpu, &set);
	} else if (p->has_cpus) {
		set = p->cpus;
	} else {
		return 0;
	}
	return -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- the worker ---- */

struct worker {
	struct vblk *vb; /* one device reference, dropped when the loop ends */
	struct vblk_state *st;
	int kick_fd, stop_fd, pause_fd, timer_fd, epoll_fd;
	uint32_t epoch;
	struct vblk_placement placement;
	struct gm *gm; /* for the re-drain callback */
};

void vblk_unpark(struct vblk *vb)
{
	pthread_mutex_lock(&vb->park_lock);
	pthread_cond_broadcast(&vb->park_cond);
	pthread_mutex_unlock(&vb->park_lock);
}

/* A stop request is pending: checked while parked, where epoll is not watching. */
static bool stop_pending(const struct worker *w)
{
	struct pollfd p = {.fd = w->stop_fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

/*
 * The PAUSE arm (§7.7); false if a stop arrived while parked. Reset and
 * teardown unpark before they signal STOP, but a pause that was already
 * queued can still park us after that unpark: polling the stop descriptor
 * here keeps such a worker from sleeping through its stop until the join
 * times out.
 */
static bool worker_park(struct worker *w)
{
	struct vblk *vb = w->vb;
	uint64_t cnt, one = 1;
	struct timespec ts;
	bool stop = false;

	/* Drain before parking: a pause issued while parked must park us again afterwards. */
	if (read(w->pause_fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: spurious wake-up */
	}
	atomic_store_explicit(&vb->paused, true, memory_order_release);
	pthread_mutex_lock(&vb->parked_lock);
	if (vb->parked_fd >= 0 && write(vb->parked_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("virtio-blk: parked notification failed: %s", strerror(errno));
	pthread_mutex_unlock(&vb->parked_lock);

	pthread_mutex_lock(&vb->park_lock);
	while (atomic_load_explicit(&vb->paused, memory_order_acquire) &&
	       !(stop = stop_pending(w))) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)VBLK_PARK_POLL_NS;
		if (ts.tv_nsec >= (long)NSEC_PER_SEC) {
			ts.tv_sec++;
			ts.tv_nsec -= (long)NSEC_PER_SEC;
		}
		pthread_cond_timedwait(&vb->park_cond, &vb->park_lock, &ts);
	}
	pthread_mutex_unlock(&vb->park_lock);
	return !stop;
}

static struct vblk_outcome worker_redrain(void *opaque)
{
	struct worker *w = opaque;

	return vblk_drain(w->vb, w->st, w->gm, w->epoch);
}

static void worker_arm_timer(struct worker *w, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(ns / NSEC_PER_SEC),
			     .tv_nsec = (long)(ns % NSEC_PER_SEC)},
	};

	if (timerfd_settime(w->timer_fd, 0, &its, NULL))
		log_warn("virtio-blk: cannot arm the throttle timer (%s); the stalled request "
			 "will wait for the next kick",
			 strerror(errno));
}

static int worker_setup(struct worker *w)
{
	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epoll_fd < 0)
		return -errno;
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->timer_fd < 0)
		return -errno;

	const struct {
		int fd;
		uint64_t token;
	} regs[] = {
		{w->kick_fd, VBLK_TOK_KICK},
		{w->stop_fd, VBLK_TOK_STOP},
		{w->timer_fd, VBLK_TOK_THROTTLE},
		{w->pause_fd, VBLK_TOK_PAUSE},
	};

	/* Level-triggered: a kick that arrives while parked is still seen afterwards. */
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = regs[i].token};

		if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, regs[i].fd, &ev))
			return -errno;
	}
	return 0;
}

/* One batch of events; false once STOP was seen. */
static bool worker_batch(struct worker *w, bool *blocked)
{
	struct epoll_event ev[4];
	bool drain = false, timer = false;
	uint64_t cnt;
	int n;

	n = epoll_wait(w->epoll_fd, ev, 4, -1);
	if (n < 0) {
		if (errno == EINTR)
			return true;
		log_err("virtio-blk: worker epoll_wait failed: %s; worker exits", strerror(errno));
		return false;
	}
	/* STOP wins over everything else in its batch, a PAUSE included. */
	for (int i = 0; i < n; i++)
		if (vblk_dispatch(ev[i].events, ev[i].data.u64) == VBLK_EV_STOP)
			return false;
	for (int i = 0; i < n; i++) {
		if (ev[i].events & (EPOLLERR | EPOLLHUP))
			log_warn("virtio-blk: worker fd with token %llu reports error/hangup",
				 (unsigned long long)ev[i].data.u64);
		switch (vblk_dispatch(ev[i].events, ev[i].data.u64)) {
		case VBLK_EV_STOP:
			return false; /* not reached: handled above */
		case VBLK_EV_DRAIN:
			drain = true;
			break;
		case VBLK_EV_DRAIN_TIMER:
			drain = timer = true;
			*blocked = false;
			if (read(w->timer_fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN &&
			    errno != EINTR)
				log_warn("virtio-blk: timerfd read failed: %s", strerror(errno));
			break;
		case VBLK_EV_PAUSE:
			if (!worker_park(w))
				return false;
			break;
		case VBLK_EV_SKIP:
			log_warn("virtio-blk: unknown epoll token %llu",
				 (unsigned long long)ev[i].data.u64);
			break;
		}
	}
	if (!drain)
		return true;
	/* Coalesce every pending kick into this one drain. */
	if (read(w->kick_fd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: woken by the timer only */
	}
	/* While stalled a kick cannot help: the head request would only stall again. */
	if (*blocked && !timer)
		return true;
	w->gm = vdev_mem_or_warn(&w->vb->vdev);
	if (!w->gm)
		return true;
	struct vblk_action a = vblk_resolve(vblk_decide(vblk_drain(w->vb, w->st, w->gm, w->epoch)),
					    worker_redrain, w);
	*blocked = a.kind == VBLK_ACT_SLEEP;
	if (*blocked)
		worker_arm_timer(w, a.ns);
	/* CONTINUE leaves a pending timer alone: a late expiry costs one empty drain. */
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct vblk_state *st = w->st;
	bool blocked = false;
	int rc;

	vblk_thread_set_result(st);
	rc = vblk_apply_placement(&w->placement);
	if (rc)
		log_warn("virtio-blk: worker placement failed: %s", strerror(-rc));
	/* From here the freeze coordinator sees the real state of this worker. */
	atomic_store_explicit(&w->vb->paused, false, memory_order_release);

	rc = worker_setup(w);
	if (rc)
		log_err("virtio-blk: worker setup failed: %s; no requests will be served",
			strerror(-rc));
	else
		while (worker_batch(w, &blocked))
			;

	if (w->epoll_fd >= 0)
		close(w->epoll_fd);
	if (w->timer_fd >= 0)
		close(w->timer_fd);
	close(w->kick_fd);
	close(w->stop_fd);
	close(w->pause_fd);
	vblk_put(w->vb);
	free(w);
	return st;
}

static void release_state(void *st)
{
	vblk_state_free(st);
}

/* §7.5 respawn_worker; device lock held. On failure the device stays without a worker. */
int vblk_worker_start(struct vblk *vb, struct vblk_state *st)
{
	struct worker *w;
	int stop_fd, rc = -ENOMEM;

	vblk_state_rearm(st, &vb->throttle, vb->clk);
	stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w = calloc(1, sizeof(*w));
	if (stop_fd < 0 || !w) {
		rc = stop_fd < 0 ? -errno : -ENOMEM;
		goto err;
	}
	*w = (struct worker){
		.vb = vb,
		.st = st,
		.epoch = vblk_epoch(vb),
		.placement = vb->placement,
		.epoll_fd = -1,
		.timer_fd = -1,
		/* The worker's own descriptors: it may outlive the device's copies. */
		.kick_fd = dup(vb->kick_fd),
		.stop_fd = dup(stop_fd),
		.pause_fd = dup(vb->pause_fd),
	};
	if (w->kick_fd < 0 || w->stop_fd < 0 || w->pause_fd < 0) {
		rc = -errno;
		goto err_dups;
	}
	atomic_fetch_add(&vb->refs, 1);
	rc = vblk_thread_spawn(&vb->worker, "ktstr-vblk", worker_main, w, release_state);
	if (rc) {
		atomic_fetch_sub(&vb->refs, 1);
		goto err_dups;
	}
	if (vb->stop_fd >= 0)
		close(vb->stop_fd);
	vb->stop_fd = stop_fd;
	return 0;

err_dups:
	if (w->kick_fd >= 0)
		close(w->kick_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	if (w->pause_fd >= 0)
		close(w->pause_fd);
err:
	free(w);
	if (stop_fd >= 0)
		close(stop_fd);
	vblk_state_free(st);
	log_err("virtio-blk %llu: cannot start the worker (%s); requests will not be served "
		"until the next reset",
		(unsigned long long)vb->instance_id, strerror(-rc));
	return rc;
}

/* §7.8: a full stop eventfd is the only reason to retry. */
static void signal_stop(struct vblk *vb)
{
	uint64_t one = 1;

	for (int i = 0; i < VBLK_STOP_WRITE_RETRIES; i++) {
		if (write(vb->stop_fd, &one, sizeof(one)) == sizeof(one))
			return;
		if (errno != EAGAIN) {
			log_err("virtio-blk %llu: stop signal failed: %s",
				(unsigned long long)vb->instance_id, strerror(errno));
			return;
		}
		log_warn("virtio-blk %llu: stop eventfd full; retrying",
			 (unsigned long long)vb->instance_id);
		sched_yield();
	}
	log_err("virtio-blk %llu: stop signal not delivered after %d attempts",
		(unsigned long long)vb->instance_id, VBLK_STOP_WRITE_RETRIES);
}

struct vblk_state *vblk_worker_stop(struct vblk *vb, uint64_t timeout_ns)
{
	char msg[160] = "";
	void *res = NULL;
	enum vblk_join j;

	if (!vb->worker)
		return NULL;
	/* A parked worker does not look at STOP: let it go first. */
	atomic_store_explicit(&vb->paused, false, memory_order_release);
	vblk_unpark(vb);
	signal_stop(vb);
	j = vblk_thread_join(vb->worker, timeout_ns, &res, msg, sizeof(msg));
	vb->worker = NULL;
	switch (j) {
	case VBLK_JOINED:
		return res;
	case VBLK_PANICKED:
		log_err("virtio-blk %llu (%llu sectors, stop_fd %d): worker failed: %s",
			(unsigned long long)vb->instance_id,
			(unsigned long long)vb->capacity_sectors, vb->stop_fd, msg);
		vblk_state_free(res);
		return NULL;
	case VBLK_TIMED_OUT:
	default:
		log_err("virtio-blk %llu (%llu sectors, stop_fd %d): worker did not stop within "
			"%llu ms; it is abandoned and the device stays without one",
			(unsigned long long)vb->instance_id,
			(unsigned long long)vb->capacity_sectors, vb->stop_fd,
			(unsigned long long)(timeout_ns / 1000000));
		return NULL;
	}
}
