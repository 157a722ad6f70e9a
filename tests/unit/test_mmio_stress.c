// SPDX-License-Identifier: MIT
/*
 * Transport stress with device threads: specs/virtio-transport.md §3.13,
 * §4.7, §4.13, test cases §7.P #212 and #213. (#209-#211 and #214 are the
 * fuzz targets under tests/fuzz/; #63, #115, #127, #128, #144 and #193 sit
 * with their sections.)
 */
#include <criterion/criterion.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

#define V1 TDEV_FEAT_VERSION_1

TestSuite(mmio_stress, .init = tfx_setup, .fini = tfx_teardown);

/*
 * spec §7 #212: a blk-style worker owns queue 1 under the queue lock only,
 * while the vCPU thread keeps using the register file.
 */
#define WORKER_CHAINS 4000

struct worker {
	struct vdev *d;
	pthread_t th;
	_Atomic bool stop;
	unsigned completed;
};

static void *queue_worker(void *arg)
{
	struct worker *w = arg;
	struct vq *q = vdev_queue(w->d, 1);
	struct gm *gm = vdev_mem(w->d);

	while (!atomic_load(&w->stop)) {
		struct vq_chain c;
		struct vq_desc desc;
		uint32_t total = 0;
		uint16_t head;
		int rc;

		vq_lock(q);
		rc = vq_pop(q, gm, &head);
		vq_unlock(q);
		if (rc != 1) {
			sched_yield();
			continue;
		}
		/* The walk is a snapshot: no lock needed (§3.13). */
		vq_lock(q);
		vq_chain_start(&c, q, gm, head);
		vq_unlock(q);
		while (vq_chain_next(&c, &desc))
			total += desc.len;
		vq_lock(q);
		vq_add_used(q, gm, head, total);
		vq_unlock(q);
		vdev_mark_used(w->d);
		w->completed++;
	}
	return NULL;
}

Test(mmio_stress, worker_and_vcpu_share_device)
{
	struct worker w = {.d = &t->vdev, .stop = false};
	unsigned posted = 0, done = 0, bad = 0;

	cr_assert(vdrv_walk(v, V1));
	cr_assert_eq(pthread_create(&w.th, NULL, queue_worker, &w), 0);
	while (done < WORKER_CHAINS) {
		uint32_t id, len;

		if (posted < WORKER_CHAINS && posted - done < 8) {
			const struct vdrv_buf b = {0x40000 + (posted % 16) * 0x100, posted % 4096,
						   false};
			vdrv_post(v, 1, &b, 1);
			posted++;
		}
		if (vdrv_pop_used(v, 1, &id, &len)) {
			if (len != done % 4096)
				bad++;
			done++;
		}
		vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, 1);
		if (vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY) != 1 ||
		    vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX) != 256)
			bad++;
		if (vdrv_isr(v) & ~1u)
			bad++;
		vdrv_ack(v, 1);
	}
	atomic_store(&w.stop, true);
	pthread_join(w.th, NULL);
	cr_assert_eq(bad, 0);
	cr_assert_eq(w.completed, WORKER_CHAINS);
	cr_assert_eq(vdrv_used_idx(v, 1), (uint16_t)WORKER_CHAINS);
	cr_assert_eq(vdrv_status(v), 0x0F);
}

/*
 * spec §7 #213: a device thread started at DRIVER_OK and stopped by the reset
 * hook; once the reset write returns nothing of the old lifecycle shows.
 */
struct signaller {
	pthread_t th;
	_Atomic bool stop, running;
	_Atomic unsigned fired;
};

static void *signal_loop(void *arg)
{
	struct tdev *td = arg;
	struct signaller *s = td->opts.priv;

	while (!atomic_load(&s->stop)) {
		vdev_signal_used(&td->vdev);
		atomic_fetch_add(&s->fired, 1);
	}
	return NULL;
}

static int signaller_start(struct tdev *td)
{
	struct signaller *s = td->opts.priv;

	atomic_store(&s->stop, false);
	atomic_store(&s->running, true);
	return -pthread_create(&s->th, NULL, signal_loop, td);
}

static void signaller_stop(struct tdev *td)
{
	struct signaller *s = td->opts.priv;

	if (!atomic_load(&s->running))
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->th, NULL);
	atomic_store(&s->running, false);
}

Test(mmio_stress, reset_quiesces_device_thread)
{
	struct signaller s = {.stop = false};

	t->opts.priv = &s;
	t->opts.on_activate = signaller_start;
	t->opts.on_reset = signaller_stop;
	cr_assert(vdrv_walk(v, V1));
	while (atomic_load(&s.fired) < 100)
		sched_yield();
	vdrv_set_status(v, 0);
	cr_assert_not(atomic_load(&s.running));
	cr_assert_eq(vdrv_isr(v), 0);
	cr_assert_eq(vdrv_irq_count(v), 0);
	usleep(100 * 1000);
	cr_assert_eq(vdrv_isr(v), 0);
	cr_assert_eq(vdrv_irq_count(v), 0);
	cr_assert_eq(vdrv_status(v), 0);
}
