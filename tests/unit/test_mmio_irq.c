// SPDX-License-Identifier: MIT
/*
 * virtio-mmio interrupts: ISR word, InterruptACK, the irq eventfd and the
 * device-facing helpers. specs/virtio-transport.md §4.10, test cases §7.I
 * (116-130), including the threaded cases #127 and #128.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

#define V1 TDEV_FEAT_VERSION_1

TestSuite(mmio_irq, .init = tfx_setup, .fini = tfx_teardown);

static struct vdev *d(void)
{
	return &t->vdev;
}

/* spec §7 #116 */
Test(mmio_irq, signal_used)
{
	vdev_signal_used(d());
	cr_assert_eq(vdrv_isr(v), 1);
	cr_assert_eq(vdrv_irq_count(v), 1);
	cr_assert_eq(vdrv_irq_count(v), 0);
}

/* spec §7 #117 */
Test(mmio_irq, no_coalescing)
{
	vdev_signal_used(d());
	vdev_signal_used(d());
	cr_assert_eq(vdrv_isr(v), 1);
	cr_assert_eq(vdrv_irq_count(v), 2);
}

/* spec §7 #118 */
Test(mmio_irq, signal_config)
{
	vdev_signal_config(d());
	cr_assert_eq(vdrv_isr(v), 2);
	cr_assert_eq(vdrv_irq_count(v), 1);
}

/* spec §7 #119 */
Test(mmio_irq, poison)
{
	cr_assert(vdrv_walk(v, V1));
	vdev_poison(d());
	cr_assert_eq(vdrv_status(v), 0x4F);
	cr_assert_eq(vdrv_isr(v), 2);
	cr_assert_eq(vdrv_irq_count(v), 1);
}

/* spec §7 #120 */
Test(mmio_irq, used_then_poison)
{
	cr_assert(vdrv_walk(v, V1));
	vdev_signal_used(d());
	vdev_poison(d());
	cr_assert_eq(vdrv_isr(v), 3);
	cr_assert_eq(vdrv_irq_count(v), 2);
}

/* spec §7 #121 */
Test(mmio_irq, set_needs_reset_is_silent)
{
	cr_assert(vdrv_walk(v, V1));
	vdev_set_needs_reset(d());
	cr_assert_eq(vdrv_status(v), 0x4F);
	cr_assert_eq(vdrv_isr(v), 0);
	cr_assert_eq(vdrv_irq_count(v), 0);
}

/* spec §7 #122 */
Test(mmio_irq, mark_used_then_fire)
{
	vdev_mark_used(d());
	cr_assert_eq(vdrv_isr(v), 1);
	cr_assert_eq(vdrv_irq_count(v), 0);
	vdev_fire_irq(d());
	cr_assert_eq(vdrv_irq_count(v), 1);
	cr_assert_eq(vdrv_isr(v), 1);
}

/* spec §7 #123 */
Test(mmio_irq, ack_clears_bits)
{
	vdev_signal_used(d());
	vdev_signal_config(d());
	cr_assert_eq(vdrv_isr(v), 3);
	vdrv_ack(v, 1);
	cr_assert_eq(vdrv_isr(v), 2);
	vdrv_ack(v, 2);
	cr_assert_eq(vdrv_isr(v), 0);
}

/* spec §7 #124 */
Test(mmio_irq, ack_values)
{
	vdev_signal_used(d());
	vdev_signal_config(d());
	vdrv_ack(v, 0);
	cr_assert_eq(vdrv_isr(v), 3);
	vdrv_ack(v, 0xFFFFFFFF);
	cr_assert_eq(vdrv_isr(v), 0);
	vdev_mark_used(d());
	vdrv_ack(v, 2); /* clear already */
	cr_assert_eq(vdrv_isr(v), 1);
}

/* spec §7 #125 */
Test(mmio_irq, ack_touches_nothing_else)
{
	cr_assert(vdrv_walk(v, V1));
	vdev_poison(d());
	vdev_signal_used(d());
	cr_assert_eq(vdrv_isr(v), 3);
	vdrv_ack(v, 3);
	cr_assert_eq(vdrv_isr(v), 0);
	cr_assert_eq(vdrv_status(v), 0x4F);
	cr_assert_eq(vdrv_irq_count(v), 2); /* neither read nor re-raised by the ACK */
}

/* spec §7 #126 */
Test(mmio_irq, ack_at_status_zero)
{
	vdev_signal_config(d());
	cr_assert_eq(vdrv_status(v), 0);
	vdrv_ack(v, 2);
	cr_assert_eq(vdrv_isr(v), 0);
}

/* spec §7 #127: 16 threads OR their own bit, many times each. */
struct isr_or_arg {
	struct vdev *d;
	uint32_t bit;
};

static void *isr_or_loop(void *arg)
{
	struct isr_or_arg *a = arg;

	for (int i = 0; i < 2000; i++)
		vdev_isr_or(a->d, a->bit);
	return NULL;
}

Test(mmio_irq, concurrent_isr_or)
{
	pthread_t th[16];
	struct isr_or_arg args[16];

	for (unsigned i = 0; i < 16; i++) {
		args[i] = (struct isr_or_arg){d(), 1u << i};
		cr_assert_eq(pthread_create(&th[i], NULL, isr_or_loop, &args[i]), 0);
	}
	for (unsigned i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(vdrv_isr(v), 0xFFFF);
}

/* spec §7 #128: ACK of CONFIG racing VRING marks never loses or resurrects a bit. */
struct mark_arg {
	struct vdev *d;
	_Atomic bool stop;
};

static void *mark_loop(void *arg)
{
	struct mark_arg *a = arg;

	while (!atomic_load(&a->stop))
		vdev_mark_used(a->d);
	vdev_mark_used(a->d);
	return NULL;
}

Test(mmio_irq, mark_used_racing_ack)
{
	struct mark_arg a = {.d = d(), .stop = false};
	pthread_t th;

	vdev_signal_config(d());
	cr_assert_eq(pthread_create(&th, NULL, mark_loop, &a), 0);
	for (int i = 0; i < 20000; i++)
		vdrv_ack(v, 2);
	atomic_store(&a.stop, true);
	pthread_join(th, NULL);
	cr_assert_eq(vdrv_isr(v), 1);
}

/* spec §7 #129 */
Test(mmio_irq, irq_write_failure_survives)
{
	int dead = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int old;

	cr_assert_geq(dead, 0);
	close(dead);
	old = vdev_replace_irq_fd(d(), dead);
	for (int i = 0; i < 3; i++)
		vdev_signal_used(d());
	cr_assert_eq(vdrv_isr(v), 1);
	cr_assert_geq(vdrv_log_count("eventfd"), 1);
	cr_assert_leq(vdrv_log_count("eventfd"), 3);
	cr_assert_eq(vdev_replace_irq_fd(d(), old), dead);
	vdev_signal_used(d());
	cr_assert_eq(vdrv_irq_count(v), 1);
}

/*
 * spec §7 #130: the net, console and blk halves live in those devices' test
 * files. Here a tdev notify hook plays a minimal device: pop, walk, publish,
 * signal.
 */
static void complete_one(struct tdev *td, uint16_t queue)
{
	struct vq *q = vdev_queue(&td->vdev, queue);
	struct gm *gm = vdev_mem(&td->vdev);
	struct vq_chain c;
	struct vq_desc desc;
	uint16_t head;
	uint32_t total = 0;

	while (vq_pop(q, gm, &head) == 1) {
		vq_chain_start(&c, q, gm, head);
		while (vq_chain_next(&c, &desc))
			total += desc.len;
		vq_add_used(q, gm, head, total);
	}
	vdev_signal_used(&td->vdev);
}

Test(mmio_irq, first_completion_raises_vring)
{
	const struct vdrv_buf b[2] = {{0x40000, 100, false}, {0x41000, 28, true}};
	uint32_t id, len;

	t->opts.on_notify = complete_one;
	cr_assert(vdrv_walk(v, V1));
	cr_assert_eq(vdrv_post_notify(v, 1, b, 2), 0);
	cr_assert(vdrv_pop_used(v, 1, &id, &len));
	cr_assert_eq(id, 0);
	cr_assert_eq(len, 128);
	cr_assert_eq(vdrv_isr(v), 1);
	cr_assert_eq(vdrv_irq_count(v), 1);
	vdrv_ack(v, 1);
	cr_assert_eq(vdrv_isr(v), 0);
}
