// SPDX-License-Identifier: MIT
/*
 * virtio-mmio reset (STATUS written with 0): specs/virtio-transport.md §4.7,
 * §4.11, test cases §7.F (72-86).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/virtio_mmio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "support/tdev.h"

static struct vdrv *const v = &tfx.v;
static struct tdev *const t = &tfx.t;

#define V1 TDEV_FEAT_VERSION_1

TestSuite(mmio_reset, .init = tfx_setup, .fini = tfx_teardown);

static uint32_t generation(void)
{
	return vdrv_r32(v, VIRTIO_MMIO_CONFIG_GENERATION);
}

/* spec §7 #72 */
Test(mmio_reset, synchronous_and_hook_sees_old_state)
{
	cr_assert(vdrv_walk(v, TDEV_FEATURES));
	t->reset_calls = 0;
	vdrv_set_status(v, 0);
	cr_assert_eq(vdrv_status(v), 0);
	cr_assert_eq(t->reset_calls, 1);
	cr_assert_eq(t->reset_status, 0x0F);
	cr_assert_eq(t->reset_features, TDEV_FEATURES);
	cr_assert_eq(t->reset_q0_desc, 0x1000);
	cr_assert_eq(t->reset_q0_avail, 0x2000);
	cr_assert_eq(t->reset_q0_used, 0x3000);
}

/* spec §7 #73 */
Test(mmio_reset, queue_sel_cleared)
{
	cr_assert(vdrv_walk(v, V1));
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert(vdrv_walk_to(v, V1, 0x0B));
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert(vdev_queue(&t->vdev, 0)->ready);
	cr_assert_not(vdev_queue(&t->vdev, 1)->ready);
}

/* spec §7 #74 */
Test(mmio_reset, device_features_sel_cleared)
{
	vdrv_w32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_DEVICE_FEATURES), 1);
	vdrv_set_status(v, 0);
	cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_DEVICE_FEATURES), 0x20000020);
}

/* spec §7 #75 */
Test(mmio_reset, driver_features_cleared)
{
	cr_assert(vdrv_walk(v, V1));
	vdrv_set_status(v, 0);
	cr_assert_eq(vdev_driver_features(&t->vdev), 0);
	vdrv_set_status(v, 0x01);
	vdrv_set_status(v, 0x03);
	vdrv_set_status(v, 0x0B);
	cr_assert_eq(vdrv_status(v), 0x03);
}

/* spec §7 #76 */
Test(mmio_reset, queues_back_to_initial_state, .init = tfx_setup_indirect, .fini = tfx_teardown)
{
	uint16_t head;
	const struct vdrv_buf b = {0x40000, 16, false};

	cr_assert(vdrv_walk(v, TDEV_FEATURES | TDEV_FEAT_INDIRECT));
	for (uint16_t i = 0; i < 2; i++) {
		struct vq *q = vdev_queue(&t->vdev, i);

		vdrv_post(v, i, &b, 1);
		cr_assert_eq(vq_pop(q, v->gm, &head), 1);
		cr_assert_eq(vq_add_used(q, v->gm, head, 0), 0);
		vq_poison(q);
		cr_assert(q->event_idx && q->indirect && q->ready);
	}
	vdrv_set_status(v, 0);
	for (uint16_t i = 0; i < 2; i++) {
		struct vq *q = vdev_queue(&t->vdev, i);

		vdrv_w32(v, VIRTIO_MMIO_QUEUE_SEL, i);
		cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_READY), 0);
		cr_assert_eq(vdrv_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
		cr_assert_eq(q->size, 256);
		cr_assert_eq(q->desc, 0);
		cr_assert_eq(q->avail, 0);
		cr_assert_eq(q->used, 0);
		cr_assert_eq(q->next_avail, 0);
		cr_assert_eq(q->next_used, 0);
		cr_assert_eq(q->num_added, 0);
		cr_assert_not(q->event_idx);
		cr_assert_not(q->indirect);
		cr_assert_not(vq_poisoned(q));
	}
}

/* spec §7 #77 */
Test(mmio_reset, isr_cleared)
{
	vdev_signal_used(&t->vdev);
	vdev_signal_config(&t->vdev);
	cr_assert_eq(vdrv_isr(v), 3);
	vdrv_set_status(v, 0);
	cr_assert_eq(vdrv_isr(v), 0);
}

/* spec §7 #78 */
Test(mmio_reset, poison_cleared)
{
	cr_assert(vdrv_walk(v, V1));
	vdev_poison(&t->vdev);
	cr_assert_eq(vdrv_status(v), 0x4F);
	cr_assert_eq(vdrv_isr(v), 2);
	vdrv_set_status(v, 0);
	cr_assert_eq(vdrv_status(v), 0);
	cr_assert_eq(vdrv_isr(v), 0);
}

/* spec §7 #79 */
Test(mmio_reset, irq_eventfd_drained)
{
	uint64_t val;

	vdev_fire_irq(&t->vdev);
	vdrv_set_status(v, 0);
	cr_assert_eq(read(vdev_irq_fd(&t->vdev), &val, sizeof(val)), -1);
	cr_assert_eq(errno, EAGAIN);
	for (int i = 0; i < 3; i++)
		vdev_fire_irq(&t->vdev);
	vdrv_set_status(v, 0);
	cr_assert_eq(vdrv_irq_count(v), 0);
	/* The fd itself still works. */
	vdev_fire_irq(&t->vdev);
	cr_assert_eq(vdrv_irq_count(v), 1);
}

/* spec §7 #80 */
Test(mmio_reset, generation_counts_resets_only)
{
	const struct vdrv_buf b = {0x40000, 16, false};

	for (uint32_t round = 1; round <= 16; round++) {
		vdrv_set_status(v, 0x01);
		vdrv_set_status(v, 0);
		cr_assert_eq(generation(), round);
		cr_assert_eq(vdev_generation(&t->vdev), round);
	}
	/* A walk is itself one reset; nothing else moves the counter. */
	cr_assert(vdrv_walk(v, V1));
	cr_assert_eq(generation(), 17);
	vdrv_post_notify(v, 0, &b, 1);
	vdrv_notify(v, 1);
	vdev_poison(&t->vdev);
	vdev_signal_used(&t->vdev);
	vdrv_ack(v, 3);
	vdev_signal_config(&t->vdev);
	vdev_set_needs_reset(&t->vdev);
	cr_assert_eq(generation(), 17);
}

/* spec §7 #81 */
Test(mmio_reset, reset_on_fresh_device)
{
	vdrv_set_status(v, 0);
	cr_assert_eq(t->reset_calls, 1);
	cr_assert_eq(generation(), 1);
	cr_assert_eq(t->reset_status, 0);
}

/* spec §7 #82 */
Test(mmio_reset, binding_fd_and_config_kept)
{
	int fd = vdev_irq_fd(&t->vdev);
	uint8_t cfg[12];

	cr_assert(vdrv_walk(v, V1));
	vdrv_set_status(v, 0);
	cr_assert_eq(vdev_mem(&t->vdev), v->gm);
	cr_assert_eq(vdev_irq_fd(&t->vdev), fd);
	vdrv_rn(v, 0x100, cfg, 12);
	for (unsigned i = 0; i < 12; i++)
		cr_assert_eq(cfg[i], 0xA0 + i);
	cr_assert(vdrv_walk(v, V1));
	t->notify_calls = 0;
	vdrv_notify(v, 1);
	cr_assert_eq(t->notify_calls, 1);
}

/* spec §7 #83 */
Test(mmio_reset, notify_warning_rearmed, .init = tfx_setup_unbound, .fini = tfx_teardown)
{
	cr_assert(vdrv_walk(v, V1));
	vdrv_notify(v, 0);
	cr_assert_eq(vdrv_log_count("queue notify before set_mem"), 1);
	vdrv_notify(v, 0);
	cr_assert_eq(vdrv_log_count("queue notify before set_mem"), 1);
	cr_assert(vdrv_walk(v, V1));
	vdrv_notify(v, 1);
	cr_assert_eq(vdrv_log_count("queue notify before set_mem"), 2);
	vdrv_notify(v, 0);
	vdrv_notify(v, 1);
	cr_assert_eq(vdrv_log_count("queue notify before set_mem"), 2);
	cr_assert_eq(t->notify_calls, 0);
}

static void reset_signals(struct tdev *d)
{
	vdev_signal_used(&d->vdev);
}

/* spec §7 #84 */
Test(mmio_reset, interrupts_raised_by_reset_hook_dropped)
{
	cr_assert(vdrv_walk(v, V1));
	t->opts.on_reset = reset_signals;
	vdrv_set_status(v, 0);
	cr_assert_eq(vdrv_isr(v), 0);
	cr_assert_eq(vdrv_irq_count(v), 0);
}

/* spec §7 #85 */
Test(mmio_reset, writes_before_features_ok_dropped)
{
	struct tdev_snap before, after;

	cr_assert(vdrv_walk(v, V1));
	vdrv_set_status(v, 0);
	tdev_snap(t, &before);
	vdrv_w32(v, VIRTIO_MMIO_DRIVER_FEATURES, 0x20);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_NUM, 16);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
	vdrv_w32(v, VIRTIO_MMIO_QUEUE_DESC_LOW, 0xCAFEBAB0);
	tdev_snap(t, &after);
	cr_assert(tdev_snap_eq(&before, &after));
	cr_assert_eq(vdev_queue(&t->vdev, 0)->desc, 0);
}

/* spec §7 #86 */
Test(mmio_reset, poison_latch_cleared)
{
	struct vq *q0 = vdev_queue(&t->vdev, 0);
	const struct vdrv_buf b = {0x40000, 16, false};
	uint16_t head;

	cr_assert(vdrv_walk(v, V1));
	cr_assert(vq_poison(q0));
	cr_assert(vdrv_walk(v, V1));
	cr_assert_not(vq_poisoned(q0));
	vdrv_post(v, 0, &b, 1);
	cr_assert_eq(vq_pop(q0, v->gm, &head), 1);
	cr_assert_eq(head, 0);
}
