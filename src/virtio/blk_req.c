// SPDX-License-Identifier: MIT
/*
 * virtio-blk request processing (specs/virtio-blk.md §6): the drain that both
 * engines run, chain parsing and validation, the throttle gate, the IN / OUT /
 * FLUSH / GET_ID handlers and completion publishing.
 *
 * Threat model: every byte of a chain is hostile. Descriptors are copied once
 * by the virtqueue engine; the header is copied once into a local buffer;
 * data moves straight between the backing file and guest memory through
 * iovecs built by the gateway, which refuses any unmapped byte. All sector
 * arithmetic is overflow-checked before the capacity test, so a request can
 * never reach outside [0, capacity).
 *
 * Locking (transport spec §3.13): the queue lock is taken around each engine
 * call only, never across chain walking or backing I/O, and never together
 * with the device lock. Under that lock the drain also checks the device's
 * epoch, so a worker whose lifecycle ended stops at its next queue access.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "virtio/blk_priv.h"

const uint8_t vblk_serial[VBLK_ID_BYTES] = "ktstr-virtio-blk"; /* zero-padded to 20 */

/* ---- the production backing: a file descriptor ---- */

static int fd_of(void *opaque)
{
	return (int)(intptr_t)opaque;
}

static ssize_t fd_preadv(void *opaque, const struct iovec *iov, int cnt, uint64_t off)
{
	ssize_t r = preadv(fd_of(opaque), iov, cnt, (off_t)off);

	return r < 0 ? -errno : r;
}

static ssize_t fd_pwritev(void *opaque, const struct iovec *iov, int cnt, uint64_t off)
{
	ssize_t r = pwritev(fd_of(opaque), iov, cnt, (off_t)off);

	return r < 0 ? -errno : r;
}

static int fd_sync(void *opaque)
{
	return fdatasync(fd_of(opaque)) ? -errno : 0;
}

static void fd_release(void *opaque)
{
	close(fd_of(opaque));
}

static const struct vblk_backing_ops fd_backing_ops = {
	.preadv = fd_preadv,
	.pwritev = fd_pwritev,
	.sync_data = fd_sync,
	.release = fd_release,
};

void vblk_backing_fd(struct vblk_backing *b, int fd)
{
	b->ops = &fd_backing_ops;
	b->opaque = (void *)(intptr_t)fd;
}

/* ---- worker state ---- */

struct vblk_state *vblk_state_new(const struct vblk_backing *b, uint64_t capacity_bytes,
				  bool read_only, struct vblk_counters *c)
{
	struct vblk_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->backing = *b;
	st->capacity_bytes = capacity_bytes;
	st->read_only = read_only;
	st->counters = vblk_counters_get(c);
	vblk_tb_unlimited(&st->ops_tb);
	vblk_tb_unlimited(&st->bytes_tb);
	return st;
}

void vblk_state_free(struct vblk_state *st)
{
	if (!st)
		return;
	if (st->backing.ops && st->backing.ops->release)
		st->backing.ops->release(st->backing.opaque);
	vblk_counters_put(st->counters);
	free(st);
}

void vblk_state_rearm(struct vblk_state *st, const struct vblk_throttle *t,
		      const struct vblk_clock *clk)
{
	/* Fresh, full buckets: a guest cannot drain them and reset to escape the limit. */
	vblk_throttle_buckets(t, clk, &st->ops_tb, &st->bytes_tb);
	st->nscratch = 0;
	if (st->currently_stalled) {
		st->currently_stalled = false;
		vblk_record_pending_dec(st->counters);
	}
}

/* ---- handlers (§6.9); each returns (status, used_len) and counts its own errors ---- */

static struct vblk_result ioerr(struct vblk_state *st)
{
	vblk_record_io_error(st->counters);
	return (struct vblk_result){VIRTIO_BLK_S_IOERR, 1};
}

/*
 * Bounds-check [sector*512, +data_len) against the capacity and turn the
 * data descriptors into iovecs over guest memory. `dev_writes` is the
 * direction the descriptors must have (device-writable for IN).
 */
static int map_request(struct vblk_state *st, const struct gm *gm, uint64_t sector,
		       const struct vq_desc *data, unsigned n, uint64_t data_len, bool dev_writes,
		       uint64_t *base, unsigned *niov)
{
	uint64_t end;

	if (__builtin_mul_overflow(sector, (uint64_t)VBLK_SECTOR_SIZE, base) ||
	    __builtin_add_overflow(*base, data_len, &end) || end > st->capacity_bytes)
		return -ERANGE;
	*niov = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned got;

		/* Also checked before the throttle; repeated here so the handler stands alone. */
		if (!!(data[i].flags & VRING_DESC_F_WRITE) != dev_writes)
			return -EINVAL;
		if (!data[i].len)
			continue;
		if (gm_iov(gm, data[i].addr, data[i].len, st->iov + *niov, VBLK_IOV_MAX - *niov,
			   &got))
			return -EFAULT;
		*niov += got;
	}
	return 0;
}

/* EINTR is retried, but only so often per request (§6.9.1 step 4). */
static bool eintr_retry(unsigned *retries)
{
	if (++*retries <= VBLK_MAX_EINTR_RETRIES)
		return true;
	log_warn("virtio-blk: EINTR retry cap hit (%u attempts); failing the request", *retries);
	return false;
}

/* A short read is EOF: the rest of the request reads as zeros (§6.9.1 step 5). */
static int zero_tail(const struct gm *gm, const struct vq_desc *data, unsigned n, uint64_t skip)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t start;

		if (data[i].len <= skip) {
			skip -= data[i].len;
			continue;
		}
		if (__builtin_add_overflow(data[i].addr, skip, &start) ||
		    gm_fill(gm, start, 0, data[i].len - skip))
			return -EFAULT;
		skip = 0;
	}
	return 0;
}

struct vblk_result vblk_handle_read(struct vblk_state *st, const struct gm *gm, uint64_t sector,
				    const struct vq_desc *data, unsigned n, uint64_t data_len)
{
	unsigned niov, retries = 0;
	uint64_t base;
	ssize_t got = 0;

	if (map_request(st, gm, sector, data, n, data_len, true, &base, &niov))
		return ioerr(st);
	while (niov) {
		got = st->backing.ops->preadv(st->backing.opaque, st->iov, (int)niov, base);
		if (got >= 0)
			break; /* a short count is EOF, not a reason to retry */
		if (got != -EINTR || !eintr_retry(&retries))
			return ioerr(st);
	}
	if ((uint64_t)got < data_len && zero_tail(gm, data, n, (uint64_t)got))
		return ioerr(st);
	vblk_record_read(st->counters, (uint64_t)got); /* the zero padding is not counted */
	return (struct vblk_result){VIRTIO_BLK_S_OK, (uint32_t)data_len + 1};
}

static void iov_advance(struct iovec **iov, int *cnt, size_t done)
{
	while (*cnt && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt && done) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}

struct vblk_result vblk_handle_write(struct vblk_state *st, const struct gm *gm, uint64_t sector,
				     const struct vq_desc *data, unsigned n, uint64_t data_len)
{
	unsigned niov, retries = 0;
	uint64_t off, total = 0;
	struct iovec *iov = st->iov;
	int cnt;

	if (map_request(st, gm, sector, data, n, data_len, false, &off, &niov))
		return ioerr(st);
	cnt = (int)niov;
	/* Never report success for a partial write: short counts are continued. */
	while (cnt) {
		ssize_t r = st->backing.ops->pwritev(st->backing.opaque, iov, cnt, off);

		if (r == 0) {
			log_warn("virtio-blk: pwritev made zero forward progress at offset %llu",
				 (unsigned long long)off);
			return ioerr(st);
		}
		if (r < 0) {
			if (r != -EINTR || !eintr_retry(&retries))
				return ioerr(st);
			continue;
		}
		total += (uint64_t)r;
		off += (uint64_t)r;
		if (total >= data_len)
			break;
		iov_advance(&iov, &cnt, (size_t)r);
	}
	vblk_record_write(st->counters, total);
	return (struct vblk_result){VIRTIO_BLK_S_OK, 1};
}

struct vblk_result vblk_handle_flush(struct vblk_state *st)
{
	int rc = st->backing.ops->sync_data(st->backing.opaque);

	if (rc) {
		log_warn("virtio-blk: flush failed: %s", strerror(-rc));
		return ioerr(st);
	}
	vblk_record_flush(st->counters);
	return (struct vblk_result){VIRTIO_BLK_S_OK, 1};
}

static struct vblk_result handle_get_id(struct vblk_state *st, const struct gm *gm,
					const struct vq_desc *data, unsigned n)
{
	/* Only the first data descriptor carries the ID; a short one is refused, not truncated. */
	if (!n || !(data[0].flags & VRING_DESC_F_WRITE) || data[0].len < VBLK_ID_BYTES ||
	    gm_write(gm, data[0].addr, vblk_serial, VBLK_ID_BYTES))
		return ioerr(st);
	return (struct vblk_result){VIRTIO_BLK_S_OK, VBLK_ID_BYTES + 1};
}

/* ---- the drain (§6) ---- */

struct drain {
	struct vblk *vb;
	struct vq *q;
	const struct gm *gm;
	struct vblk_state *st;
	uint32_t epoch;
	struct vblk_outcome out;
	bool published;
};

enum step { STEP_NEXT, STEP_EMPTY, STEP_STALL, STEP_POISON, STEP_REVOKED };

/* Queue lock plus the lifecycle check; false (unlocked) once this drain's lifecycle is over. */
static bool q_lock(struct drain *dr)
{
	vq_lock(dr->q);
	if (atomic_load_explicit(&dr->vb->epoch, memory_order_relaxed) == dr->epoch)
		return true;
	vq_unlock(dr->q);
	return false;
}

static bool is_data_type(uint32_t type)
{
	return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_GET_ID;
}

/*
 * Validation gates V1–V6, the pre-throttle classification and the direction
 * check, in the spec's order (§6.5, §6.6). Returns true with *res set when
 * the request is finished without running a handler.
 */
static bool screen(struct drain *dr, uint32_t type, unsigned ndata, uint64_t data_len,
		   struct vblk_result *res)
{
	struct vblk_state *st = dr->st;
	const struct vq_desc *data = st->scratch + 1;
	bool want_write;

	if ((is_data_type(type) && !ndata) || (type == VIRTIO_BLK_T_FLUSH && ndata) ||
	    ((type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT) &&
	     data_len % VBLK_SECTOR_SIZE)) {
		*res = ioerr(st);
		return true;
	}
	if (type == VIRTIO_BLK_T_OUT && st->read_only) {
		*res = ioerr(st);
		return true;
	}
	if (type == VIRTIO_BLK_T_FLUSH && st->read_only) {
		/* Nothing of ours can be dirty: complete without syncing. */
		vblk_record_flush(st->counters);
		*res = (struct vblk_result){VIRTIO_BLK_S_OK, 1};
		return true;
	}
	if (!is_data_type(type) && type != VIRTIO_BLK_T_FLUSH) {
		*res = (struct vblk_result){VIRTIO_BLK_S_UNSUPP, 1}; /* not an error (§9) */
		return true;
	}
	want_write = type != VIRTIO_BLK_T_OUT;
	for (unsigned i = 0; i < ndata; i++) {
		if (!!(data[i].flags & VRING_DESC_F_WRITE) != want_write) {
			*res = ioerr(st);
			return true;
		}
	}
	return false;
}

/*
 * Throttle gate (§6.7). Both buckets are asked before either is debited. On
 * a stall the pop is undone so the same head comes back first next time.
 */
static enum step throttle_gate(struct drain *dr, uint64_t data_len)
{
	struct vblk_state *st = dr->st;
	bool ops_ok = vblk_tb_can_consume(&st->ops_tb, 1);
	bool bytes_ok = vblk_tb_can_consume(&st->bytes_tb, data_len);
	uint64_t w_ops, w_bytes;

	if (ops_ok && bytes_ok) {
		vblk_tb_consume(&st->ops_tb, 1);
		vblk_tb_consume(&st->bytes_tb, data_len);
		if (st->currently_stalled) {
			st->currently_stalled = false;
			vblk_record_pending_dec(st->counters);
		}
		return STEP_NEXT;
	}
	vblk_record_throttled(st->counters);
	if (!st->currently_stalled) {
		st->currently_stalled = true;
		vblk_record_pending_inc(st->counters);
	}
	if (!q_lock(dr))
		return STEP_REVOKED;
	vq_rewind(dr->q);
	vq_unlock(dr->q);
	w_ops = ops_ok ? 0 : vblk_tb_nanos_until(&st->ops_tb, 1);
	w_bytes = bytes_ok ? 0 : vblk_tb_nanos_until(&st->bytes_tb, data_len);
	dr->out.stalled = true;
	dr->out.wait_ns = MAX(w_ops, w_bytes);
	return STEP_STALL;
}

/* §6.10: the status byte first; add_used only if it landed. */
static enum step publish(struct drain *dr, uint16_t head, uint64_t status_addr,
			 struct vblk_result res)
{
	int rc;

	if (gm_write(dr->gm, status_addr, &res.status, 1)) {
		vblk_record_io_error(dr->st->counters);
		log_ratelimited(&dr->vb->rl_req, LOG_WARN,
				"virtio-blk: status byte at 0x%llx not writable; chain %u left "
				"incomplete",
				(unsigned long long)status_addr, head);
		return STEP_NEXT;
	}
	if (!q_lock(dr))
		return STEP_REVOKED;
	rc = vq_add_used(dr->q, dr->gm, head, res.used_len);
	vq_unlock(dr->q);
	if (rc) {
		vblk_record_io_error(dr->st->counters);
		log_ratelimited(&dr->vb->rl_req, LOG_WARN, "virtio-blk: add_used(%u) failed: %s",
				head, strerror(-rc));
		return STEP_NEXT;
	}
	dr->published = true;
	return STEP_NEXT;
}

static struct vblk_result dispatch_req(struct drain *dr, uint32_t type, uint64_t sector,
				       unsigned ndata, uint64_t data_len)
{
	struct vblk_state *st = dr->st;
	const struct vq_desc *data = st->scratch + 1;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		return vblk_handle_read(st, dr->gm, sector, data, ndata, data_len);
	case VIRTIO_BLK_T_OUT:
		return vblk_handle_write(st, dr->gm, sector, data, ndata, data_len);
	case VIRTIO_BLK_T_FLUSH:
		return vblk_handle_flush(st);
	case VIRTIO_BLK_T_GET_ID:
		return handle_get_id(st, dr->gm, data, ndata);
	default: /* screen() already answered every other type */
		vblk_record_io_error(st->counters);
		return (struct vblk_result){VIRTIO_BLK_S_UNSUPP, 1};
	}
}

/* Walk the chain into scratch; the real length, even past the cap. */
static uint32_t walk_chain(struct drain *dr, struct vq_chain *ch)
{
	struct vq_desc d;
	uint32_t len = 0;

	while (vq_chain_next(ch, &d)) {
		if (len < VBLK_SCRATCH_CAP)
			dr->st->scratch[len] = d;
		len++;
	}
	dr->st->nscratch = MIN(len, VBLK_SCRATCH_CAP);
	return len;
}

static enum step process_chain(struct drain *dr, uint16_t head, struct vq_chain *ch)
{
	struct vblk_state *st = dr->st;
	uint32_t len = walk_chain(dr, ch);
	const struct vq_desc *hdr = &st->scratch[0], *last;
	uint64_t status_addr, data_len = 0;
	struct vblk_result res;
	uint8_t raw[VBLK_OUTHDR_SIZE];
	uint32_t type = 0;
	uint64_t sector = 0;
	unsigned ndata;
	enum step s;

	/*
	 * Too long, or no usable status byte: the request cannot be answered,
	 * so it is consumed and never completed (§6.4). Only io_errors shows it.
	 */
	if (len > VBLK_SCRATCH_CAP) {
		vblk_record_io_error(st->counters);
		log_ratelimited(&dr->vb->rl_req, LOG_WARN,
				"virtio-blk: chain exceeds seg_max + 2 (%u descriptors); dropped",
				len);
		return STEP_NEXT;
	}
	last = &st->scratch[len ? len - 1 : 0];
	if (len < 2 || !(last->flags & VRING_DESC_F_WRITE) || !last->len ||
	    __builtin_add_overflow(last->addr, (uint64_t)last->len - 1, &status_addr)) {
		vblk_record_io_error(st->counters);
		log_ratelimited(&dr->vb->rl_req, LOG_WARN,
				"virtio-blk: request without status descriptor (head %u); dropped",
				head);
		return STEP_NEXT;
	}
	ndata = len - 2;

	/* V1, V2: a readable header of at least 16 bytes, copied once. */
	if ((hdr->flags & VRING_DESC_F_WRITE) || hdr->len < VBLK_OUTHDR_SIZE ||
	    gm_read(dr->gm, hdr->addr, raw, sizeof(raw)))
		goto reject;
	memcpy(&type, raw, 4);
	memcpy(&sector, raw + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);
	/* V3 applies to every type, even unsupported ones. */
	for (unsigned i = 0; i < ndata; i++) {
		if (st->scratch[1 + i].len > VBLK_SIZE_MAX)
			goto reject;
		data_len += st->scratch[1 + i].len;
	}
	if (screen(dr, type, ndata, data_len, &res))
		return publish(dr, head, status_addr, res);
	s = throttle_gate(dr, data_len);
	if (s != STEP_NEXT)
		return s;
	res = dispatch_req(dr, type, sector, ndata, data_len);
	return publish(dr, head, status_addr, res);

reject:
	return publish(dr, head, status_addr, ioerr(st));
}

/* Pop one head (or find the queue broken) and process it. */
static enum step drain_one(struct drain *dr)
{
	struct vq_chain ch;
	uint16_t head;
	int rc;

	if (!q_lock(dr))
		return STEP_REVOKED;
	rc = vq_pop(dr->q, dr->gm, &head);
	if (rc < 0) {
		/*
		 * Structural corruption: latch, tell the guest once (NEEDS_RESET
		 * plus a config interrupt) and touch the ring no more until reset.
		 */
		if (vq_poison(dr->q)) {
			if (rc == -ERANGE)
				vblk_record_invalid_avail_idx(dr->st->counters);
			else
				vblk_record_io_error(dr->st->counters);
			vdev_poison(&dr->vb->vdev);
		}
		vq_unlock(dr->q);
		log_ratelimited(
			&dr->vb->rl_req, LOG_WARN,
			"virtio-blk: request queue poisoned (%s); guest must reset the device",
			rc == -ERANGE ? "avail index ran more than the queue size ahead"
				      : strerror(-rc));
		return STEP_POISON;
	}
	if (rc == 0) {
		vq_unlock(dr->q);
		return STEP_EMPTY;
	}
	vq_chain_start(&ch, dr->q, dr->gm, head);
	vq_unlock(dr->q);
	return process_chain(dr, head, &ch);
}

/* Raise the used-ring interrupt once per drain, subject to EVENT_IDX (§6.11). */
static void signal_used(struct drain *dr)
{
	bool notify = true;
	int rc;

	if (!q_lock(dr))
		return;
	vdev_mark_used(&dr->vb->vdev);
	rc = vq_needs_notify(dr->q, dr->gm, &notify);
	if (rc) {
		notify = true; /* when in doubt, interrupt: a lost wake-up hangs the guest */
		log_ratelimited(&dr->vb->rl_req, LOG_WARN,
				"virtio-blk: used_event unreadable (%s); notifying", strerror(-rc));
	}
	if (notify)
		vdev_fire_irq(&dr->vb->vdev);
	vq_unlock(dr->q);
}

struct vblk_outcome vblk_drain(struct vblk *vb, struct vblk_state *st, const struct gm *gm,
			       uint32_t epoch)
{
	struct drain dr = {
		.vb = vb,
		.q = vdev_queue(&vb->vdev, 0),
		.gm = gm,
		.st = st,
		.epoch = epoch,
	};
	bool go, more = false;
	enum step s;
	int rc;

	/* Entry gates: a reset queue (its used ring may be at GPA 0) or a poisoned one is not touched. */
	if (!q_lock(&dr))
		return dr.out;
	go = dr.q->ready && !vq_poisoned(dr.q);
	vq_unlock(dr.q);
	if (!go)
		return dr.out;

	for (;;) {
		if (!q_lock(&dr))
			return (struct vblk_outcome){0};
		rc = vq_disable_notify(dr.q, gm);
		vq_unlock(dr.q);
		if (rc)
			log_ratelimited(&vb->rl_req, LOG_WARN,
					"virtio-blk: disable_notification failed: %s",
					strerror(-rc));
		while ((s = drain_one(&dr)) == STEP_NEXT)
			;
		if (s == STEP_REVOKED)
			return (struct vblk_outcome){0};
		if (s == STEP_POISON)
			break;
		if (!q_lock(&dr))
			return (struct vblk_outcome){0};
		rc = vq_enable_notify(dr.q, gm, &more);
		vq_unlock(dr.q);
		if (rc)
			log_ratelimited(&vb->rl_req, LOG_WARN,
					"virtio-blk: enable_notification failed: %s",
					strerror(-rc));
		/*
		 * After a stall the answer is ignored: the stalled head is still
		 * pending by construction and the retry timer owns the retry. A
		 * persistent error must not make us spin either.
		 */
		if (s == STEP_STALL || rc || !more)
			break;
	}
	if (dr.published)
		signal_used(&dr);
	return dr.out;
}
