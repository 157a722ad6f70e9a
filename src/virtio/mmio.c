// SPDX-License-Identifier: MIT
/*
 * The virtio-mmio v2 transport shared by every device
 * (specs/virtio-transport.md §4; virtio 1.2 §4.2.2).
 *
 * Where the reference devices disagreed, the rules here are the merged ones of
 * the transport spec §5.1, which in turn follow the 0.15.0 console/blk
 * behaviour (status FSM with CAS commit, reset ordering, irq drain at reset).
 */
#include "virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/compiler.h"

#define ISR_VRING  VIRTIO_MMIO_INT_VRING
#define ISR_CONFIG VIRTIO_MMIO_INT_CONFIG

/* Status rungs (§0): R1 ACK, R2 ACK|DRIVER, R3 ...|FEATURES_OK. */
#define ST_R1 VIRTIO_CONFIG_S_ACKNOWLEDGE
#define ST_R2 (ST_R1 | VIRTIO_CONFIG_S_DRIVER)
#define ST_R3 (ST_R2 | VIRTIO_CONFIG_S_FEATURES_OK)

#define MMIO_MAGIC 0x74726976u /* "virt" */

int vdev_init(struct vdev *d, const struct virtio_dev_ops *ops, uint16_t num_queues)
{
	pthread_mutexattr_t attr;
	int rc = -ENOMEM;
	uint16_t i;

	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->num_queues = num_queues;
	d->irq_fd = -1;
	d->queues = calloc(num_queues ? num_queues : 1, sizeof(*d->queues));
	if (!d->queues)
		return -ENOMEM;
	for (i = 0; i < num_queues; i++) {
		rc = vq_init(&d->queues[i], ops->queue_max_size);
		if (rc)
			goto err_queues;
	}
	d->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->irq_fd < 0) {
		rc = -errno;
		goto err_queues;
	}
	/* Priority inheritance: vCPU threads and the blk worker contend on it (§4.13). */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT);
	rc = -pthread_mutex_init(&d->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc)
		goto err_fd;
	return 0;

err_fd:
	close(d->irq_fd);
	d->irq_fd = -1;
err_queues:
	while (i--)
		vq_destroy(&d->queues[i]);
	free(d->queues);
	d->queues = NULL;
	return rc;
}

void vdev_destroy(struct vdev *d)
{
	if (!d->queues)
		return;
	for (uint16_t i = 0; i < d->num_queues; i++)
		vq_destroy(&d->queues[i]);
	free(d->queues);
	d->queues = NULL;
	if (d->irq_fd >= 0)
		close(d->irq_fd);
	d->irq_fd = -1;
	gm_put(atomic_exchange(&d->mem, NULL));
	pthread_mutex_destroy(&d->lock);
}

void vdev_set_mem(struct vdev *d, struct gm *gm)
{
	struct gm *expected = NULL;

	gm_get(gm);
	if (!atomic_compare_exchange_strong_explicit(&d->mem, &expected, gm, memory_order_release,
						     memory_order_relaxed)) {
		gm_put(gm);
		log_warn("%s: set_mem called on already-initialised device; guest memory binding "
			 "unchanged",
			 d->ops->name);
	}
}

struct gm *vdev_mem(struct vdev *d)
{
	return atomic_load_explicit(&d->mem, memory_order_acquire);
}

struct gm *vdev_mem_or_warn(struct vdev *d)
{
	struct gm *gm = vdev_mem(d);

	if (!gm && !atomic_exchange(&d->mem_warned, true))
		log_warn("%s: queue notify before set_mem: no guest memory bound, kick ignored",
			 d->ops->name);
	return gm;
}

void vdev_lock(struct vdev *d)
{
	pthread_mutex_lock(&d->lock);
}

void vdev_unlock(struct vdev *d)
{
	pthread_mutex_unlock(&d->lock);
}

uint32_t vdev_status(const struct vdev *d)
{
	return atomic_load_explicit(&((struct vdev *)d)->status, memory_order_acquire);
}

bool vdev_driver_ok(const struct vdev *d)
{
	return vdev_status(d) & VIRTIO_CONFIG_S_DRIVER_OK;
}

uint64_t vdev_driver_features(const struct vdev *d)
{
	return d->driver_features;
}

bool vdev_has_feature(const struct vdev *d, unsigned bit)
{
	return bit < 64 && (d->driver_features >> bit) & 1;
}

uint16_t vdev_num_queues(const struct vdev *d)
{
	return d->num_queues;
}

struct vq *vdev_queue(struct vdev *d, uint16_t idx)
{
	return idx < d->num_queues ? &d->queues[idx] : NULL;
}

int vdev_irq_fd(const struct vdev *d)
{
	return d->irq_fd;
}

uint32_t vdev_isr(const struct vdev *d)
{
	return atomic_load_explicit(&((struct vdev *)d)->isr, memory_order_acquire);
}

uint32_t vdev_generation(const struct vdev *d)
{
	return atomic_load_explicit(&((struct vdev *)d)->generation, memory_order_acquire);
}

/* ---- interrupts (§4.10) ---- */

void vdev_isr_or(struct vdev *d, uint32_t bits)
{
	atomic_fetch_or_explicit(&d->isr, bits, memory_order_release);
}

void vdev_fire_irq(struct vdev *d)
{
	uint64_t one = 1;

	/* The ISR bit is already set; a failed write only loses the edge, so just report it. */
	if (write(d->irq_fd, &one, sizeof(one)) != sizeof(one))
		log_ratelimited(&d->rl_irq, LOG_WARN, "%s: irq eventfd write failed: %s",
				d->ops->name, strerror(errno));
}

void vdev_signal_used(struct vdev *d)
{
	vdev_isr_or(d, ISR_VRING);
	vdev_fire_irq(d);
}

void vdev_mark_used(struct vdev *d)
{
	vdev_isr_or(d, ISR_VRING);
}

void vdev_signal_config(struct vdev *d)
{
	vdev_isr_or(d, ISR_CONFIG);
	vdev_fire_irq(d);
}

void vdev_set_needs_reset(struct vdev *d)
{
	atomic_fetch_or_explicit(&d->status, VIRTIO_CONFIG_S_NEEDS_RESET, memory_order_seq_cst);
}

void vdev_poison(struct vdev *d)
{
	vdev_set_needs_reset(d);
	vdev_signal_config(d);
}

int vdev_replace_irq_fd(struct vdev *d, int fd)
{
	int old = d->irq_fd;
	d->irq_fd = fd;
	return old;
}

/* ---- reset (§4.7) ---- */

static void vdev_reset(struct vdev *d)
{
	uint64_t drain;

	/* 1. The device quiesces while it can still see what the guest left behind. */
	if (d->ops->reset)
		d->ops->reset(d);
	/* 2. Queues, under their locks (a device thread may share them). */
	for (uint16_t i = 0; i < d->num_queues; i++) {
		vq_lock(&d->queues[i]);
		vq_reset(&d->queues[i]);
		vq_unlock(&d->queues[i]);
	}
	/* 3. Selectors and negotiated features. */
	d->queue_sel = d->dev_features_sel = d->drv_features_sel = 0;
	d->driver_features = 0;
	/* 4. A new generation per reset (§4.11). */
	atomic_fetch_add_explicit(&d->generation, 1, memory_order_release);
	/* 5. Forget interrupts raised for the old lifecycle. */
	if (read(d->irq_fd, &drain, sizeof(drain)) < 0) {
		/* EAGAIN: nothing pending. */
	}
	/* 6. ISR, then status last, so a driver polling STATUS sees a finished reset. */
	atomic_store_explicit(&d->isr, 0, memory_order_release);
	atomic_store_explicit(&d->status, 0, memory_order_release);
	/* 7. Re-arm the once-per-lifecycle warning. */
	atomic_store(&d->mem_warned, false);
}

/* ---- status state machine (§4.6) ---- */

static bool features_acceptable(struct vdev *d, bool warn)
{
	uint64_t offered = d->ops->features(d);
	uint64_t drv = d->driver_features;

	if (!(drv & (1ull << VIRTIO_F_VERSION_1))) {
		if (warn)
			log_ratelimited(&d->rl_status, LOG_WARN,
					"%s: FEATURES_OK refused: driver did not accept VERSION_1 "
					"(features 0x%llx)",
					d->ops->name, (unsigned long long)drv);
		return false;
	}
	if (drv & ~offered) {
		if (warn)
			log_ratelimited(
				&d->rl_status, LOG_WARN,
				"%s: FEATURES_OK refused: driver acked unadvertised feature bits "
				"0x%llx",
				d->ops->name, (unsigned long long)(drv & ~offered));
		return false;
	}
	return true;
}

static void status_refused(struct vdev *d, uint32_t cur, uint32_t val, const char *why)
{
	if (cur & VIRTIO_CONFIG_S_NEEDS_RESET)
		log_ratelimited(&d->rl_status, LOG_WARN,
				"%s: status write 0x%x refused: device has NEEDS_RESET set (status "
				"0x%x); the driver must write STATUS=0",
				d->ops->name, val, cur);
	else
		log_ratelimited(&d->rl_status, LOG_WARN,
				"%s: status write 0x%x refused (status 0x%x): %s", d->ops->name,
				val, cur, why);
}

static void features_ok_committed(struct vdev *d)
{
	bool event_idx = vdev_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
	bool indirect = vdev_has_feature(d, VIRTIO_RING_F_INDIRECT_DESC);

	for (uint16_t i = 0; i < d->num_queues; i++) {
		vq_lock(&d->queues[i]);
		vq_set_event_idx(&d->queues[i], event_idx);
		vq_set_indirect(&d->queues[i], indirect);
		vq_unlock(&d->queues[i]);
	}
}

static void status_write(struct vdev *d, uint32_t val)
{
	uint32_t cur, add;
	bool ok;

	if (val == 0) {
		vdev_reset(d);
		return;
	}
	for (int tries = 0;;) {
		cur = atomic_load_explicit(&d->status, memory_order_acquire);
		if ((val & cur) != cur) {
			status_refused(d, cur, val, "driver attempted to clear status bits");
			return;
		}
		add = val & ~cur;
		if (add == 0)
			return; /* writing back what it read is legitimate: stay silent */
		if (add == VIRTIO_CONFIG_S_FAILED) {
			ok = true;
		} else {
			ok = (add == VIRTIO_CONFIG_S_ACKNOWLEDGE && cur == 0) ||
			     (add == VIRTIO_CONFIG_S_DRIVER && cur == ST_R1) ||
			     (add == VIRTIO_CONFIG_S_DRIVER_OK && cur == ST_R3);
			if (add == VIRTIO_CONFIG_S_FEATURES_OK && cur == ST_R2) {
				if (!features_acceptable(d, true))
					return;
				ok = true;
			}
		}
		if (!ok) {
			status_refused(d, cur, val, "illegal FSM transition");
			return;
		}
		/* CAS against the value checked, so a concurrent NEEDS_RESET is never lost. */
		if (atomic_compare_exchange_strong_explicit(
			    &d->status, &cur, val, memory_order_acq_rel, memory_order_acquire))
			break;
		if (++tries == VDEV_CAS_RETRIES) {
			log_err("%s: status update abandoned after %d retries (status 0x%x, write 0x%x)",
				d->ops->name, VDEV_CAS_RETRIES, cur, val);
			return;
		}
	}
	if (add == VIRTIO_CONFIG_S_FAILED) {
		log_ratelimited(&d->rl_status, LOG_WARN, "%s: driver set FAILED (status 0x%x)",
				d->ops->name, val);
	} else if (add == VIRTIO_CONFIG_S_FEATURES_OK) {
		features_ok_committed(d);
	} else if (add == VIRTIO_CONFIG_S_DRIVER_OK && d->ops->activate) {
		int rc = d->ops->activate(d);
		if (rc < 0)
			log_err("%s: activation at DRIVER_OK failed: %s", d->ops->name,
				strerror(-rc));
	}
}

/* ---- registers ---- */

static bool in_features_window(uint32_t st)
{
	return (st & ST_R2) == ST_R2 && !(st & VIRTIO_CONFIG_S_FEATURES_OK);
}

static bool in_config_window(uint32_t st)
{
	return (st & ST_R3) == ST_R3 && !(st & VIRTIO_CONFIG_S_DRIVER_OK);
}

static struct vq *selected_queue(struct vdev *d)
{
	return d->queue_sel < d->num_queues ? &d->queues[d->queue_sel] : NULL;
}

static uint32_t reg_read(struct vdev *d, uint64_t off)
{
	struct vq *q;
	uint32_t v;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return 0;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (d->dev_features_sel > 1)
			return 0;
		return (uint32_t)(d->ops->features(d) >> (32 * d->dev_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return selected_queue(d) ? d->ops->queue_max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		q = selected_queue(d);
		if (!q)
			return 0;
		vq_lock(q);
		v = q->ready;
		vq_unlock(q);
		return v;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return vdev_isr(d);
	case VIRTIO_MMIO_STATUS:
		return vdev_status(d);
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vdev_generation(d);
	default:
		return 0; /* write-only, reserved, legacy and unaligned offsets */
	}
}

static void queue_write(struct vdev *d, uint64_t off, uint32_t val)
{
	struct vq *q = selected_queue(d);

	if (!q || !in_config_window(vdev_status(d)))
		return;
	vq_lock(q);
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		vq_set_size(q, (uint16_t)val);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		vq_set_ready(q, val == 1);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		vq_set_addr_half(q, VQ_DESC, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		vq_set_addr_half(q, VQ_AVAIL, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		vq_set_addr_half(q, VQ_USED, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	}
	vq_unlock(q);
}

static void notify_write(struct vdev *d, uint32_t val)
{
	if (val >= d->num_queues) {
		log_ratelimited(&d->rl_notify, LOG_DEBUG, "%s: notify for nonexistent queue %u",
				d->ops->name, val);
		return;
	}
	/* Kicks before DRIVER_OK are dropped for every device (§5.1 row 14). */
	if (!vdev_driver_ok(d)) {
		log_ratelimited(&d->rl_notify, LOG_DEBUG, "%s: notify %u before DRIVER_OK ignored",
				d->ops->name, val);
		return;
	}
	if (!vdev_mem_or_warn(d))
		return;
	d->ops->notify(d, (uint16_t)val);
}

static void reg_write(struct vdev *d, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		d->dev_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Stored as written; checked against the offer only at FEATURES_OK (§4.5). */
		if (!in_features_window(vdev_status(d)))
			break;
		if (d->drv_features_sel == 0)
			d->driver_features = (d->driver_features & ~0xFFFFFFFFull) | val;
		else if (d->drv_features_sel == 1)
			d->driver_features =
				(d->driver_features & 0xFFFFFFFFull) | ((uint64_t)val << 32);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		d->drv_features_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		d->queue_sel = val; /* range-checked at every use, never used as an index here */
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		queue_write(d, off, val);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		notify_write(d, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		atomic_fetch_and_explicit(&d->isr, ~val, memory_order_acq_rel);
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(d, val);
		break;
	default:
		break; /* read-only, reserved, legacy or unaligned: ignored */
	}
}

/* Clip [c, c+len) to the device's config image; returns the in-range length. */
static uint32_t config_clip(const struct vdev *d, uint64_t off, uint32_t len, uint32_t *c)
{
	uint64_t rel = off - VMMIO_CONFIG_BASE;

	if (rel >= d->ops->config_size)
		return 0;
	*c = (uint32_t)rel;
	return (uint32_t)min_u64(len, d->ops->config_size - rel);
}

void vmmio_read(struct vdev *d, uint64_t off, void *data, uint32_t len)
{
	uint32_t c = 0, n, v;

	if (len == 0)
		return;
	vdev_lock(d);
	if (off >= VMMIO_CONFIG_BASE) {
		/* Bytes past the config image read as zero, at any width (§4.4). */
		memset(data, 0, len);
		n = config_clip(d, off, len, &c);
		if (n && d->ops->config_read)
			d->ops->config_read(d, c, data, n);
	} else if (len != 4) {
		memset(data, 0xFF, len);
	} else {
		v = htole32(reg_read(d, off));
		memcpy(data, &v, 4);
	}
	vdev_unlock(d);
}

void vmmio_write(struct vdev *d, uint64_t off, const void *data, uint32_t len)
{
	uint32_t c = 0, n, v;

	if (len == 0)
		return;
	vdev_lock(d);
	if (off >= VMMIO_CONFIG_BASE) {
		n = config_clip(d, off, len, &c);
		if (n && d->ops->config_write)
			d->ops->config_write(d, c, data, n);
		else
			log_debug("%s: config write of %u bytes at 0x%llx ignored", d->ops->name,
				  len, (unsigned long long)off);
	} else if (len == 4) {
		memcpy(&v, data, 4);
		reg_write(d, off, le32toh(v));
	}
	vdev_unlock(d);
}

int vmmio_notify_fd(struct vdev *d, uint16_t queue)
{
	if (queue >= d->num_queues || !d->ops->notify_fd)
		return -1;
	return d->ops->notify_fd(d, queue);
}
