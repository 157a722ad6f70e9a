/* SPDX-License-Identifier: MIT */
/*
 * The one virtio-mmio (version 2) transport shared by every device.
 * Governing text: specs/virtio-transport.md §4 and §6.3.
 *
 * A device embeds `struct vdev`, supplies a `struct virtio_dev_ops` and gets
 * the register file, feature negotiation, the status state machine, queue
 * configuration, interrupt bookkeeping and reset for free. Devices raise
 * interrupts only through the vdev_signal_* helpers below, which may be called
 * from any thread.
 */
#ifndef KTSTR_VIRTIO_MMIO_H
#define KTSTR_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"
#include "virtio/guestmem.h"
#include "virtio/virtqueue.h"

#define VMMIO_WINDOW_SIZE 0x1000u
#define VMMIO_CONFIG_BASE 0x100u
#define VDEV_CAS_RETRIES  4

struct vdev;

struct virtio_dev_ops {
	const char *name;		      /* used in every log line */
	uint32_t device_id;		      /* VIRTIO_ID_* */
	uint16_t queue_max_size;	      /* QueueNumMax for every queue */
	uint32_t config_size;		      /* bytes of device config at 0x100 */
	uint64_t (*features)(struct vdev *d); /* offered set; constant; includes VERSION_1 */
	/* Fill buf with config[off, off+len); the transport clips to config_size. */
	void (*config_read)(struct vdev *d, uint32_t off, void *buf, uint32_t len);
	/* Optional; in-range bytes only. */
	void (*config_write)(struct vdev *d, uint32_t off, const void *buf, uint32_t len);
	/* queue < count, DRIVER_OK set, memory bound; device lock held. */
	void (*notify)(struct vdev *d, uint16_t queue);
	/* Optional; after DRIVER_OK is committed, device lock held. */
	int (*activate)(struct vdev *d);
	/*
	 * Optional; first step of a reset, with status, features and rings still
	 * as the guest left them. On return no device thread may touch the
	 * queues, the ISR or the status any more.
	 */
	void (*reset)(struct vdev *d);
	/* Optional; eventfd the VMM binds as a KVM ioeventfd for this queue, or -1. */
	int (*notify_fd)(struct vdev *d, uint16_t queue);
};

struct vdev {
	/* Private to mmio.c: devices use the functions below. */
	const struct virtio_dev_ops *ops;
	pthread_mutex_t lock; /* device lock, priority inheritance */
	_Atomic uint32_t status, isr, generation;
	uint32_t queue_sel, dev_features_sel, drv_features_sel;
	uint64_t driver_features;
	uint16_t num_queues;
	struct vq *queues;
	int irq_fd;
	_Atomic(struct gm *) mem;
	atomic_bool mem_warned;
	struct ratelimit rl_status, rl_notify, rl_irq;
};

/* Life cycle. */
int vdev_init(struct vdev *d, const struct virtio_dev_ops *ops, uint16_t num_queues);
void vdev_destroy(struct vdev *d);
void vdev_set_mem(struct vdev *d, struct gm *gm);

/* Device-facing accessors. */
struct gm *vdev_mem(struct vdev *d);
struct gm *vdev_mem_or_warn(struct vdev *d);
void vdev_lock(struct vdev *d);
void vdev_unlock(struct vdev *d);
uint32_t vdev_status(const struct vdev *d);
bool vdev_driver_ok(const struct vdev *d);
uint64_t vdev_driver_features(const struct vdev *d);
bool vdev_has_feature(const struct vdev *d, unsigned bit);
uint16_t vdev_num_queues(const struct vdev *d);
struct vq *vdev_queue(struct vdev *d, uint16_t idx);
int vdev_irq_fd(const struct vdev *d);
uint32_t vdev_isr(const struct vdev *d);
uint32_t vdev_generation(const struct vdev *d);

/* Interrupt and status helpers (any thread). */
void vdev_signal_used(struct vdev *d);	   /* ISR |= VRING, fire */
void vdev_mark_used(struct vdev *d);	   /* ISR |= VRING only */
void vdev_fire_irq(struct vdev *d);	   /* eventfd += 1 only */
void vdev_signal_config(struct vdev *d);   /* ISR |= CONFIG, fire */
void vdev_set_needs_reset(struct vdev *d); /* status |= NEEDS_RESET */
void vdev_poison(struct vdev *d);	   /* set_needs_reset, then signal_config */

/* Test hook: the atomic OR every ISR helper uses (transport test 127). */
void vdev_isr_or(struct vdev *d, uint32_t bits);
/* Test hook: replace the irq eventfd (transport test 129); returns the old fd, not closed. */
int vdev_replace_irq_fd(struct vdev *d, int fd);

/* VMM/bus-facing side. `off` is relative to the window base. */
void vmmio_read(struct vdev *d, uint64_t off, void *data, uint32_t len);
void vmmio_write(struct vdev *d, uint64_t off, const void *data, uint32_t len);
int vmmio_notify_fd(struct vdev *d, uint16_t queue);

#endif
