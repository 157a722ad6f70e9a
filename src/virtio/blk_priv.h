/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk internals shared by blk*.c and the unit tests. Not for the VMM:
 * it uses blk.h only.
 */
#ifndef KTSTR_VIRTIO_BLK_PRIV_H
#define KTSTR_VIRTIO_BLK_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/log.h"
#include "virtio/blk.h"
#include "virtio/blk_throttle.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"

#define VBLK_SCRATCH_CAP	   (VBLK_SEG_MAX + 2) /* header + data + status */
#define VBLK_IOV_MAX		   1024		      /* UIO_MAXIOV */
#define VBLK_MAX_EINTR_RETRIES	   16
#define VBLK_OUTHDR_SIZE	   16
#define VBLK_ID_BYTES		   20
#define VBLK_RETRY_TIMER_MAX_NANOS 1000000000ull
#define VBLK_JOIN_TIMEOUT_NS	   1000000000ull /* reset and teardown alike */
#define VBLK_PARK_POLL_NS	   10000000ull
#define VBLK_STOP_WRITE_RETRIES	   4

extern const uint8_t vblk_serial[VBLK_ID_BYTES];

/* ---- counters (blk_counters.c) ---- */

struct vblk_counters {
	_Atomic uint64_t reads_completed, writes_completed, flushes_completed;
	_Atomic uint64_t bytes_read, bytes_written;
	_Atomic uint64_t throttled_count, io_errors, currently_throttled_gauge;
	_Atomic uint64_t invalid_avail_idx_count;
	_Atomic uint32_t refs;
};

struct vblk_counters *vblk_counters_new(void);
struct vblk_counters *vblk_counters_get(struct vblk_counters *c);
void vblk_record_read(struct vblk_counters *c, uint64_t bytes);
void vblk_record_write(struct vblk_counters *c, uint64_t bytes);
void vblk_record_flush(struct vblk_counters *c);
void vblk_record_io_error(struct vblk_counters *c);
void vblk_record_throttled(struct vblk_counters *c);
void vblk_record_pending_inc(struct vblk_counters *c);
void vblk_record_pending_dec(struct vblk_counters *c); /* saturates at 0 */
void vblk_record_invalid_avail_idx(struct vblk_counters *c);

/* ---- backing store (blk_req.c) ---- */

/* Return values are >= 0 or -errno, never -1/errno, so fault injection stays simple. */
struct vblk_backing_ops {
	ssize_t (*preadv)(void *opaque, const struct iovec *iov, int cnt, uint64_t off);
	ssize_t (*pwritev)(void *opaque, const struct iovec *iov, int cnt, uint64_t off);
	int (*sync_data)(void *opaque);
	void (*release)(void *opaque); /* optional */
};

struct vblk_backing {
	const struct vblk_backing_ops *ops;
	void *opaque;
};

/* The production backing: plain preadv/pwritev/fdatasync on fd, closed on release. */
void vblk_backing_fd(struct vblk_backing *b, int fd);

/* ---- worker state: owned by whichever thread runs the drain (§2.2) ---- */

struct vblk_state {
	struct vblk_backing backing;
	struct vblk_tb ops_tb, bytes_tb;
	uint64_t capacity_bytes;
	bool read_only;
	bool currently_stalled;
	struct vblk_counters *counters; /* own reference */
	unsigned nscratch;
	struct vq_desc scratch[VBLK_SCRATCH_CAP];
	struct iovec iov[VBLK_IOV_MAX];
};

struct vblk_state *vblk_state_new(const struct vblk_backing *b, uint64_t capacity_bytes,
				  bool read_only, struct vblk_counters *c);
void vblk_state_free(struct vblk_state *st);
/* Full buckets, no stall (gauge given back), scratch cleared: used at reset/respawn. */
void vblk_state_rearm(struct vblk_state *st, const struct vblk_throttle *t,
		      const struct vblk_clock *clk);

/* ---- the drain (blk_req.c, §6) ---- */

struct vblk_outcome {
	bool stalled;
	uint64_t wait_ns; /* meaningful when stalled */
};

/* A handler's answer: the status byte and the used length (§6.9). */
struct vblk_result {
	uint8_t status;
	uint32_t used_len;
};

struct vblk;
struct vblk_outcome vblk_drain(struct vblk *vb, struct vblk_state *st, const struct gm *gm,
			       uint32_t epoch);
/* Test hook: the vectored IN/OUT handlers on a data-descriptor list (§6.9.1, §6.9.2). */
struct vblk_result vblk_handle_read(struct vblk_state *st, const struct gm *gm, uint64_t sector,
				    const struct vq_desc *data, unsigned n, uint64_t data_len);
struct vblk_result vblk_handle_write(struct vblk_state *st, const struct gm *gm, uint64_t sector,
				     const struct vq_desc *data, unsigned n, uint64_t data_len);
struct vblk_result vblk_handle_flush(struct vblk_state *st);

/* ---- threads with a bounded join (blk_worker.c, §7.6) ---- */

enum vblk_join { VBLK_JOINED, VBLK_PANICKED, VBLK_TIMED_OUT };

struct vblk_thread;
typedef void *(*vblk_thread_fn)(void *arg);

/*
 * Start fn(arg) on a named thread with the given placement (NULL: inherit).
 * `release` frees the thread's result if nobody collects it (a timed-out
 * join); it may be NULL.
 */
int vblk_thread_spawn(struct vblk_thread **out, const char *name, vblk_thread_fn fn, void *arg,
		      void (*release)(void *result));
/*
 * Wait at most timeout_ns. JOINED / PANICKED hand back the result (the value
 * fn returned, or what it stored with vblk_thread_set_result before failing)
 * and the handle is gone. TIMED_OUT detaches: the thread keeps running and
 * its result is released when it ends. The handle is consumed either way.
 */
enum vblk_join vblk_thread_join(struct vblk_thread *t, uint64_t timeout_ns, void **result,
				char *msg, size_t msglen);
/* From inside fn: remember the value to hand back should the thread fail. */
void vblk_thread_set_result(void *result);
/* From inside fn: end the thread abnormally (the C counterpart of a panic). */
void vblk_thread_fail(const char *msg) __attribute__((noreturn));
int vblk_apply_placement(const struct vblk_placement *p);

/* ---- worker policy, pure functions (blk_worker.c, §7.3) ---- */

enum vblk_token { VBLK_TOK_KICK = 1, VBLK_TOK_STOP = 2, VBLK_TOK_THROTTLE = 3, VBLK_TOK_PAUSE = 4 };
enum vblk_event { VBLK_EV_SKIP, VBLK_EV_STOP, VBLK_EV_DRAIN, VBLK_EV_DRAIN_TIMER, VBLK_EV_PAUSE };
enum vblk_action_kind { VBLK_ACT_CONTINUE, VBLK_ACT_REDRAIN, VBLK_ACT_SLEEP };

struct vblk_action {
	enum vblk_action_kind kind;
	uint64_t ns; /* VBLK_ACT_SLEEP */
};

uint64_t vblk_clamp_timer(uint64_t ns);
struct vblk_action vblk_decide(struct vblk_outcome o);
struct vblk_action vblk_resolve(struct vblk_action a, struct vblk_outcome (*redrain)(void *),
				void *opaque);
enum vblk_event vblk_dispatch(uint32_t events, uint64_t token);

/* ---- the device ---- */

struct vblk {
	struct vdev vdev;      /* first: container_of from the transport */
	_Atomic uint32_t refs; /* the owner, plus one per live worker thread */
	uint64_t instance_id;
	uint64_t capacity_sectors;
	bool read_only;
	enum vblk_engine engine;
	struct vblk_throttle throttle;
	const struct vblk_clock *clk; /* NULL: monotonic; tests pin time here */
	struct vblk_counters *counters;
	struct ratelimit rl_req; /* guest-triggered request warnings */

	/*
	 * Bumped (under the queue lock) whenever a worker's right to the queue
	 * ends. The worker checks it under the same lock before every engine
	 * call, so one that outlived a timed-out join can never touch the
	 * rings of the next lifecycle (transport spec §4.7).
	 */
	_Atomic uint32_t epoch;

	/* Inline engine: the state lives here. */
	struct vblk_state *inline_state;

	/* Threaded engine; touched under the device lock only. */
	int kick_fd; /* stable for the device lifetime: the VMM binds it once */
	int stop_fd; /* fresh per worker */
	struct vblk_thread *worker;
	struct vblk_state *respawn_pending;
	struct vblk_placement placement;

	/* Freeze handshake. */
	int pause_fd;
	atomic_bool paused;
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	pthread_mutex_t parked_lock;
	int parked_fd;
};

/*
 * The constructor below vblk_create: any backing (tests inject faults here),
 * capacity in bytes (0 < c < 512 clamps to 0 with a warning). Takes over the
 * backing even on failure.
 */
int vblk_new(const struct vblk_backing *b, uint64_t capacity_bytes, bool read_only,
	     const struct vblk_throttle *t, enum vblk_engine engine, const struct vblk_clock *clk,
	     struct vblk **out);
void vblk_put(struct vblk *vb);
uint32_t vblk_epoch(struct vblk *vb);
/* Inline engine: one drain on the notifying thread's behalf (test hook). */
struct vblk_outcome vblk_drain_inline(struct vblk *vb);

/* blk_worker.c */
int vblk_worker_start(struct vblk *vb, struct vblk_state *st);
/* Stop and join (bounded); the reclaimed state or NULL. Device lock held. */
struct vblk_state *vblk_worker_stop(struct vblk *vb, uint64_t timeout_ns);
void vblk_unpark(struct vblk *vb);

#endif
