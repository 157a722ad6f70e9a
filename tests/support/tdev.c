// SPDX-License-Identifier: MIT
/*
 * tdev: a recording device on the real transport (specs/virtio-transport.md §7).
 * Every callback brackets itself with enter/leave so a test can prove the
 * transport never runs two callbacks of one device at the same time.
 */
#include "support/tdev.h"

#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"

struct tdev *tdev_of(struct vdev *d)
{
	return container_of(d, struct tdev, vdev);
}

static void tdev_enter(struct tdev *t)
{
	if (atomic_fetch_add(&t->in_callback, 1) != 0)
		atomic_fetch_add(&t->overlaps, 1);
}

static void tdev_leave(struct tdev *t)
{
	atomic_fetch_sub(&t->in_callback, 1);
}

static uint64_t tdev_features(struct vdev *d)
{
	struct tdev *t = tdev_of(d);

	return TDEV_FEATURES | (t->opts.indirect ? TDEV_FEAT_INDIRECT : 0);
}

static void tdev_config_read(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
	struct tdev *t = tdev_of(d);
	unsigned n = atomic_fetch_add(&t->config_read_calls, 1);

	if (n < TDEV_LOG_MAX)
		t->cread_log[n] = (struct tdev_access){off, len};
	/* Copy only what lies inside; a transport that over-asks reads zeros here. */
	if (off < TDEV_CONFIG_SIZE)
		memcpy(buf, t->config + off, MIN(len, TDEV_CONFIG_SIZE - off));
}

static void tdev_config_write(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
	struct tdev *t = tdev_of(d);
	unsigned n = atomic_fetch_add(&t->config_write_calls, 1);

	if (n < TDEV_LOG_MAX) {
		t->cwrite_log[n] = (struct tdev_access){off, len};
		memcpy(t->cwrite_bytes[n], buf, MIN(len, sizeof(t->cwrite_bytes[n])));
	}
	/* Deliberately not stored: §7 #25 expects config bytes to stay read-only. */
}

static void tdev_notify(struct vdev *d, uint16_t queue)
{
	struct tdev *t = tdev_of(d);
	unsigned n;

	tdev_enter(t);
	n = atomic_fetch_add(&t->notify_calls, 1);
	if (n < TDEV_LOG_MAX)
		t->notify_log[n] = queue;
	if (!(vdev_status(d) & 0x04))
		atomic_fetch_add(&t->notify_without_driver_ok, 1);
	if (queue >= TDEV_NUM_QUEUES)
		atomic_fetch_add(&t->bad_notify_queue, 1);
	if (t->opts.on_notify)
		t->opts.on_notify(t, queue);
	tdev_leave(t);
}

static int tdev_activate(struct vdev *d)
{
	struct tdev *t = tdev_of(d);
	int rc = t->opts.activate_rc;

	tdev_enter(t);
	atomic_fetch_add(&t->activate_calls, 1);
	t->activate_status = vdev_status(d);
	if (t->opts.on_activate)
		rc = t->opts.on_activate(t);
	tdev_leave(t);
	return rc;
}

static void tdev_reset(struct vdev *d)
{
	struct tdev *t = tdev_of(d);
	struct vq *q0 = vdev_queue(d, 0);

	tdev_enter(t);
	atomic_fetch_add(&t->reset_calls, 1);
	t->reset_status = vdev_status(d);
	t->reset_features = vdev_driver_features(d);
	t->reset_q0_desc = q0->desc;
	t->reset_q0_avail = q0->avail;
	t->reset_q0_used = q0->used;
	if (t->opts.on_reset)
		t->opts.on_reset(t);
	tdev_leave(t);
}

int tdev_init(struct tdev *t, const struct tdev_opts *opts)
{
	memset(t, 0, sizeof(*t));
	if (opts)
		t->opts = *opts;
	for (unsigned i = 0; i < TDEV_CONFIG_SIZE; i++)
		t->config[i] = (uint8_t)(0xA0 + i);
	t->ops = (struct virtio_dev_ops){
		.name = "tdev",
		.device_id = TDEV_ID,
		.queue_max_size = TDEV_QUEUE_MAX,
		.config_size = t->opts.no_config ? 0 : TDEV_CONFIG_SIZE,
		.features = tdev_features,
		.config_read = tdev_config_read,
		.config_write = t->opts.config_write ? tdev_config_write : NULL,
		.notify = tdev_notify,
		.activate = tdev_activate,
		.reset = tdev_reset,
	};
	return vdev_init(&t->vdev, &t->ops, TDEV_NUM_QUEUES);
}

void tdev_destroy(struct tdev *t)
{
	vdev_destroy(&t->vdev);
}

void tdev_snap(struct tdev *t, struct tdev_snap *s)
{
	struct vdev *d = &t->vdev;

	memset(s, 0, sizeof(*s));
	s->status = vdev_status(d);
	s->isr = vdev_isr(d);
	s->generation = vdev_generation(d);
	s->queue_sel = d->queue_sel;
	s->dev_features_sel = d->dev_features_sel;
	s->drv_features_sel = d->drv_features_sel;
	s->driver_features = d->driver_features;
	for (uint16_t i = 0; i < TDEV_NUM_QUEUES; i++) {
		const struct vq *q = vdev_queue(d, i);

		s->q[i].size = q->size;
		s->q[i].next_avail = q->next_avail;
		s->q[i].next_used = q->next_used;
		s->q[i].num_added = q->num_added;
		s->q[i].ready = q->ready;
		s->q[i].event_idx = q->event_idx;
		s->q[i].indirect = q->indirect;
		s->q[i].poisoned = q->poisoned;
		s->q[i].desc = q->desc;
		s->q[i].avail = q->avail;
		s->q[i].used = q->used;
	}
	s->notify_calls = t->notify_calls;
	s->activate_calls = t->activate_calls;
	s->reset_calls = t->reset_calls;
	s->config_write_calls = t->config_write_calls;
}

bool tdev_snap_eq(const struct tdev_snap *a, const struct tdev_snap *b)
{
	return !memcmp(a, b, sizeof(*a));
}

struct tfx tfx;

static void tfx_setup_with(const struct tdev_opts *opts, bool bind)
{
	/* Criterion runs a suite's .init and then a test's own .init: replace, don't leak. */
	if (tfx.t.vdev.queues)
		tfx_teardown();
	vdrv_log_capture_start();
	if (tdev_init(&tfx.t, opts))
		abort();
	vdrv_init(&tfx.v, &tfx.t.vdev, VDRV_MEM_M1, bind);
}

void tfx_setup(void)
{
	tfx_setup_with(NULL, true);
}

void tfx_setup_unbound(void)
{
	tfx_setup_with(NULL, false);
}

void tfx_setup_cw(void)
{
	const struct tdev_opts o = {.config_write = true};

	tfx_setup_with(&o, true);
}

void tfx_setup_indirect(void)
{
	const struct tdev_opts o = {.indirect = true};

	tfx_setup_with(&o, true);
}

void tfx_teardown(void)
{
	tdev_destroy(&tfx.t);
	vdrv_fini(&tfx.v);
	vdrv_log_capture_stop();
	vdrv_log_clear();
}
