// SPDX-License-Identifier: MIT
/*
 * virtio-blk device: construction from a backing file, the transport hooks
 * (features, config space, notify, activate, reset), teardown and the
 * host-side freeze handshake. Request processing lives in blk_req.c, the
 * worker thread in blk_worker.c, the throttle in blk_throttle.c.
 *
 * Governing texts: specs/virtio-blk.md for device behaviour, and
 * specs/virtio-transport.md (§5.2 in particular) for everything the shared
 * transport now owns: registers, the status machine, queue configuration,
 * interrupt bookkeeping and the transport half of reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/compiler.h"
#include "virtio/blk_priv.h"

/* The config image of §1.5: packed, because a naturally aligned layout would move blk_size. */
struct vblk_config_image {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
} __attribute__((packed));

_Static_assert(sizeof(struct vblk_config_image) == VBLK_CONFIG_SIZE, "config image is 24 bytes");
_Static_assert(_Alignof(struct vblk_config_image) == 1, "config image is packed");
_Static_assert(offsetof(struct vblk_config_image, capacity) == 0x00, "capacity offset");
_Static_assert(offsetof(struct vblk_config_image, size_max) == 0x08, "size_max offset");
_Static_assert(offsetof(struct vblk_config_image, seg_max) == 0x0c, "seg_max offset");
_Static_assert(offsetof(struct vblk_config_image, cylinders) == 0x10, "geometry offset");
_Static_assert(offsetof(struct vblk_config_image, blk_size) == 0x14, "blk_size offset");

static _Atomic uint64_t vblk_instances;

static struct vblk *to_vblk(struct vdev *d)
{
	return container_of(d, struct vblk, vdev);
}

/* ---- transport hooks ---- */

static uint64_t vblk_features(struct vdev *d)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX |
		     1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;

	if (to_vblk(d)->read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	return f;
}

static void vblk_config_read(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	struct vblk_config_image img = {
		.capacity = htole64(to_vblk(d)->capacity_sectors),
		.size_max = htole32(VBLK_SIZE_MAX),
		.seg_max = htole32(VBLK_SEG_MAX),
		.blk_size = htole32(VBLK_SECTOR_SIZE),
	};

	/* The transport clips off/len to config_size. */
	memcpy(buf, (const uint8_t *)&img + off, len);
}

uint32_t vblk_epoch(struct vblk *vb)
{
	return atomic_load_explicit(&vb->epoch, memory_order_relaxed);
}

struct vblk_outcome vblk_drain_inline(struct vblk *vb)
{
	struct gm *gm = vdev_mem(&vb->vdev);

	if (!gm || !vb->inline_state)
		return (struct vblk_outcome){0};
	return vblk_drain(vb, vb->inline_state, gm, vblk_epoch(vb));
}

static void vblk_notify(struct vdev *d, uint16_t queue)
{
	struct vblk *vb = to_vblk(d);
	uint64_t one = 1;

	if (queue != 0)
		return;
	if (vb->engine == VBLK_ENGINE_INLINE) {
		/* No timer here: a stalled request waits for the next kick. */
		(void)vblk_drain_inline(vb);
		return;
	}
	/* The vCPU never does backing I/O; EAGAIN means kicks are already pending. */
	if (write(vb->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(&vb->rl_req, LOG_WARN, "virtio-blk: kick write failed: %s",
				strerror(errno));
}

static int vblk_notify_fd_hook(struct vdev *d, uint16_t queue)
{
	struct vblk *vb = to_vblk(d);

	return queue == 0 && vb->engine == VBLK_ENGINE_THREAD ? vb->kick_fd : -1;
}

/* DRIVER_OK: the worker is born here, never at construction (§7.5). */
static int vblk_activate(struct vdev *d)
{
	struct vblk *vb = to_vblk(d);
	struct vblk_state *st = vb->respawn_pending;

	if (vb->engine != VBLK_ENGINE_THREAD || !st)
		return 0;
	vb->respawn_pending = NULL;
	return vblk_worker_start(vb, st);
}

/* resume() with the device lock held (§7.7). */
static bool vblk_resume_locked(struct vblk *vb)
{
	if (vb->engine == VBLK_ENGINE_THREAD && vb->worker) {
		atomic_store_explicit(&vb->paused, false, memory_order_release);
		vblk_unpark(vb);
		return true;
	}
	/* Without a worker the freeze handshake must keep passing trivially. */
	atomic_store_explicit(&vb->paused, vb->engine == VBLK_ENGINE_THREAD, memory_order_release);
	return false;
}

/*
 * First step of a transport reset (transport spec §4.7, blk spec §5 phase 2).
 * Afterwards no thread of ours touches the queue, the ISR or the status.
 */
static void vblk_reset(struct vdev *d)
{
	struct vblk *vb = to_vblk(d);
	struct vq *q = vdev_queue(d, 0);
	uint64_t drain;

	/* Revoke the current lifecycle first: even a worker we fail to join stops here. */
	vq_lock(q);
	atomic_fetch_add_explicit(&vb->epoch, 1, memory_order_relaxed);
	vq_unlock(q);

	if (vb->engine == VBLK_ENGINE_INLINE) {
		vblk_state_rearm(vb->inline_state, &vb->throttle, vb->clk);
	} else if (!vb->respawn_pending) {
		/*
		 * A second reset without DRIVER_OK in between must not clobber
		 * the state already waiting for respawn. Otherwise unpark (a
		 * parked worker cannot see STOP), stop and join; buckets, gauge
		 * and the rest are re-armed at the next DRIVER_OK.
		 */
		vblk_resume_locked(vb);
		vb->respawn_pending = vblk_worker_stop(vb, VBLK_JOIN_TIMEOUT_NS);
		atomic_store_explicit(&vb->paused, true, memory_order_release);
	}
	/* A pause request of the old lifecycle must not park the next worker at birth. */
	if (read(vb->pause_fd, &drain, sizeof(drain)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

static const struct virtio_dev_ops vblk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.queue_max_size = VBLK_QUEUE_SIZE,
	.config_size = VBLK_CONFIG_SIZE,
	.features = vblk_features,
	.config_read = vblk_config_read,
	.notify = vblk_notify,
	.activate = vblk_activate,
	.reset = vblk_reset,
	.notify_fd = vblk_notify_fd_hook,
};

/* ---- construction and teardown ---- */

static int vblk_sync_init(struct vblk *vb)
{
	pthread_condattr_t ca;
	int rc;

	/* The park wait is a relative 10 ms poll: measure it on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&vb->park_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return -rc;
	pthread_mutex_init(&vb->park_lock, NULL);
	pthread_mutex_init(&vb->parked_lock, NULL);
	return 0;
}

int vblk_new(const struct vblk_backing *b, uint64_t capacity_bytes, bool read_only,
	     const struct vblk_throttle *t, enum vblk_engine engine, const struct vblk_clock *clk,
	     struct vblk **out)
{
	struct vblk_state *st = NULL;
	struct vblk *vb;
	int rc = -ENOMEM;

	*out = NULL;
	vb = calloc(1, sizeof(*vb));
	if (!vb)
		goto err_backing;
	rc = vdev_init(&vb->vdev, &vblk_ops, 1);
	if (rc) {
		free(vb);
		goto err_backing;
	}
	atomic_init(&vb->refs, 1);
	vb->kick_fd = vb->stop_fd = vb->pause_fd = vb->parked_fd = -1;
	vb->read_only = read_only;
	vb->engine = engine;
	vb->throttle = t ? *t : (struct vblk_throttle){0};
	vb->clk = clk;
	vb->instance_id = atomic_fetch_add(&vblk_instances, 1);
	atomic_init(&vb->paused, true); /* no worker yet: a freeze passes at once */
	if (capacity_bytes > 0 && capacity_bytes < VBLK_SECTOR_SIZE)
		log_warn("virtio-blk: capacity of %llu bytes is smaller than one sector; "
			 "clamping to 0",
			 (unsigned long long)capacity_bytes);
	vb->capacity_sectors = capacity_bytes / VBLK_SECTOR_SIZE;

	rc = vblk_sync_init(vb);
	if (rc)
		goto err_vdev;
	vb->counters = vblk_counters_new();
	if (!vb->counters)
		goto err_enomem;
	st = vblk_state_new(b, vb->capacity_sectors * VBLK_SECTOR_SIZE, read_only, vb->counters);
	if (!st)
		goto err_enomem;
	b = NULL; /* the state owns the backing now */
	vblk_state_rearm(st, &vb->throttle, clk);
	vb->pause_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vb->pause_fd < 0)
		goto err_errno;
	if (engine == VBLK_ENGINE_INLINE) {
		vb->inline_state = st;
	} else {
		vb->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vb->kick_fd < 0)
			goto err_errno;
		vb->respawn_pending = st;
	}
	*out = vb;
	return 0;

err_errno:
	rc = -errno;
	goto err_free;
err_enomem:
	rc = -ENOMEM;
err_free:
	vblk_state_free(st);
	vb->inline_state = vb->respawn_pending = NULL;
	vblk_put(vb);
	goto err_backing;
err_vdev:
	vdev_destroy(&vb->vdev);
	free(vb);
err_backing:
	if (b && b->ops && b->ops->release)
		b->ops->release(b->opaque);
	return rc;
}

/* The last reference frees; a worker that outlived its join may be the one. */
void vblk_put(struct vblk *vb)
{
	if (atomic_fetch_sub_explicit(&vb->refs, 1, memory_order_acq_rel) != 1)
		return;
	vdev_destroy(&vb->vdev);
	vblk_counters_put(vb->counters);
	if (vb->kick_fd >= 0)
		close(vb->kick_fd);
	if (vb->stop_fd >= 0)
		close(vb->stop_fd);
	if (vb->pause_fd >= 0)
		close(vb->pause_fd);
	pthread_cond_destroy(&vb->park_cond);
	pthread_mutex_destroy(&vb->park_lock);
	pthread_mutex_destroy(&vb->parked_lock);
	free(vb);
}

static void vblk_state_retire(struct vblk_state *st)
{
	/* A stalled request dies with the device: hand its gauge back. */
	if (st && st->currently_stalled) {
		st->currently_stalled = false;
		vblk_record_pending_dec(st->counters);
	}
	vblk_state_free(st);
}

void vblk_destroy(struct vblk *vb)
{
	if (!vb)
		return;
	vdev_lock(&vb->vdev);
	if (vb->engine == VBLK_ENGINE_THREAD) {
		vblk_state_retire(vblk_worker_stop(vb, VBLK_JOIN_TIMEOUT_NS));
		/* A state parked for respawn keeps its gauge: it was never re-armed (§7.9). */
		vblk_state_free(vb->respawn_pending);
		vb->respawn_pending = NULL;
	} else {
		vblk_state_retire(vb->inline_state);
		vb->inline_state = NULL;
	}
	vdev_unlock(&vb->vdev);
	vblk_put(vb);
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	char buf[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* The caller prints err; log only when nobody will (one line per failure). */
	if (err && errlen)
		snprintf(err, errlen, "%s", buf);
	else
		log_err("%s", buf);
	return rc;
}

void vblk_opts_init(struct vblk_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->engine = VBLK_ENGINE_THREAD;
}

static int backing_size(int fd, const char *path, uint64_t *size, char *err, size_t errlen)
{
	struct stat sb;

	if (fstat(fd, &sb))
		return fail(err, errlen, -errno, "virtio-blk: cannot stat backing file '%s': %s",
			    path, strerror(errno));
	if (S_ISREG(sb.st_mode)) {
		*size = (uint64_t)sb.st_size;
		return 0;
	}
	if (S_ISBLK(sb.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size))
			return fail(err, errlen, -errno,
				    "virtio-blk: cannot read the size of block device '%s': %s",
				    path, strerror(errno));
		return 0;
	}
	return fail(err, errlen, -EINVAL,
		    "virtio-blk: backing '%s' is neither a regular file nor a block device", path);
}

int vblk_create(const struct vblk_opts *o, struct vblk **out, char *err, size_t errlen)
{
	struct vblk_backing b;
	uint64_t size, cap;
	char msg[128];
	int fd, rc;

	*out = NULL;
	if (!o->path || !*o->path)
		return fail(err, errlen, -EINVAL, "virtio-blk: no backing file given");
	rc = vblk_throttle_validate(&o->throttle, msg, sizeof(msg));
	if (rc)
		return fail(err, errlen, rc, "virtio-blk: '%s': %s", o->path, msg);
	fd = open(o->path, (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "virtio-blk: cannot open backing file '%s' %s: %s",
			    o->path, o->read_only ? "read-only" : "read-write", strerror(errno));
	rc = backing_size(fd, o->path, &size, err, errlen);
	if (rc)
		goto err_close;
	cap = o->capacity_bytes ? o->capacity_bytes : size;
	/* A read-only disk cannot grow into the missing part: reads there would invent data. */
	if (o->read_only && cap > size) {
		rc = fail(err, errlen, -EINVAL,
			  "virtio-blk: capacity %llu bytes exceeds the read-only backing file '%s' "
			  "(%llu bytes)",
			  (unsigned long long)cap, o->path, (unsigned long long)size);
		goto err_close;
	}
	if (cap < VBLK_SECTOR_SIZE) {
		rc = fail(err, errlen, -EINVAL,
			  "virtio-blk: backing '%s' gives a capacity of %llu bytes, less than one "
			  "512-byte sector",
			  o->path, (unsigned long long)cap);
		goto err_close;
	}
	if (cap % VBLK_SECTOR_SIZE)
		log_warn("virtio-blk: capacity of '%s' (%llu bytes) is not a multiple of 512; "
			 "the tail is not exposed",
			 o->path, (unsigned long long)cap);
	vblk_backing_fd(&b, fd);
	rc = vblk_new(&b, cap, o->read_only, &o->throttle, o->engine, NULL, out);
	if (rc)
		return fail(err, errlen, rc, "virtio-blk: cannot create device for '%s': %s",
			    o->path, strerror(-rc));
	(*out)->placement = o->placement;
	return 0;

err_close:
	close(fd);
	return rc;
}

/* ---- accessors and host-side API ---- */

struct vdev *vblk_vdev(struct vblk *vb)
{
	return &vb->vdev;
}

int vblk_notify_fd(struct vblk *vb)
{
	return vmmio_notify_fd(&vb->vdev, 0);
}

uint64_t vblk_capacity_sectors(const struct vblk *vb)
{
	return vb->capacity_sectors;
}

bool vblk_read_only(const struct vblk *vb)
{
	return vb->read_only;
}

struct vblk_counters *vblk_counters(struct vblk *vb)
{
	return vblk_counters_get(vb->counters);
}

void vblk_pause(struct vblk *vb)
{
	uint64_t one = 1;

	vdev_lock(&vb->vdev);
	if (vb->engine == VBLK_ENGINE_THREAD && !vb->worker) {
		log_debug("virtio-blk: pause with no worker; nothing to park");
	} else if (write(vb->pause_fd, &one, sizeof(one)) < 0) {
		log_warn("virtio-blk: pause request failed: %s", strerror(errno));
	}
	vdev_unlock(&vb->vdev);
}

bool vblk_resume(struct vblk *vb)
{
	bool r;

	vdev_lock(&vb->vdev);
	r = vblk_resume_locked(vb);
	vdev_unlock(&vb->vdev);
	return r;
}

bool vblk_is_paused(const struct vblk *vb)
{
	return atomic_load_explicit(&vb->paused, memory_order_acquire);
}

void vblk_set_parked_evt(struct vblk *vb, int fd)
{
	pthread_mutex_lock(&vb->parked_lock);
	vb->parked_fd = fd;
	pthread_mutex_unlock(&vb->parked_lock);
}

void vblk_set_placement(struct vblk *vb, const struct vblk_placement *p)
{
	vdev_lock(&vb->vdev);
	vb->placement = *p;
	vdev_unlock(&vb->vdev);
}
