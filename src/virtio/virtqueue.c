// SPDX-License-Identifier: MIT
/*
 * Split virtqueue engine (specs/virtio-transport.md §3).
 *
 * Everything the guest wrote is read once into a local copy and decided on
 * from that copy; ring indices that publish ownership use acquire/release
 * accessors. Outcomes are reported, never latched: devices own the policy.
 */
#include "virtio/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "base/log.h"

#define VQ_DESC_SIZE 16u

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

int vq_init(struct vq *q, uint16_t max_size)
{
	if (!is_pow2(max_size) || max_size > VQ_MAX_SIZE)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->max_size = max_size;
	if (pthread_mutex_init(&q->lock, NULL))
		return -ENOMEM;
	vq_reset(q);
	return 0;
}

void vq_destroy(struct vq *q)
{
	pthread_mutex_destroy(&q->lock);
}

void vq_reset(struct vq *q)
{
	q->size = q->max_size;
	q->ready = false;
	q->desc = q->avail = q->used = 0;
	q->next_avail = q->next_used = q->num_added = 0;
	q->event_idx = false;
	q->indirect = false;
	q->poisoned = false;
}

void vq_lock(struct vq *q)
{
	pthread_mutex_lock(&q->lock);
}

void vq_unlock(struct vq *q)
{
	pthread_mutex_unlock(&q->lock);
}

int vq_set_size(struct vq *q, uint16_t size)
{
	if (size == 0 || size > q->max_size || !is_pow2(size)) {
		log_err("virtqueue: refusing queue size %u (max %u, must be a power of two)", size,
			q->max_size);
		return -EINVAL;
	}
	q->size = size;
	return 0;
}

void vq_set_ready(struct vq *q, bool ready)
{
	q->ready = ready;
}

int vq_set_addr_half(struct vq *q, enum vq_ring ring, bool high, uint32_t val)
{
	/* virtio 1.2 §2.7: descriptor table 16-aligned, driver area 2, device area 4. */
	static const uint64_t align[] = {[VQ_DESC] = 16, [VQ_AVAIL] = 2, [VQ_USED] = 4};
	uint64_t *slot;
	uint64_t v;

	switch (ring) {
	case VQ_DESC:
		slot = &q->desc;
		break;
	case VQ_AVAIL:
		slot = &q->avail;
		break;
	case VQ_USED:
		slot = &q->used;
		break;
	default:
		return -EINVAL;
	}
	if (high)
		v = (*slot & 0xFFFFFFFFull) | ((uint64_t)val << 32);
	else
		v = (*slot & ~0xFFFFFFFFull) | val;
	if (v & (align[ring] - 1))
		return -EINVAL; /* the whole write is refused, the old address stays */
	*slot = v;
	return 0;
}

void vq_set_event_idx(struct vq *q, bool on)
{
	q->event_idx = on;
}

void vq_set_indirect(struct vq *q, bool on)
{
	q->indirect = on;
}

bool vq_is_ready(const struct vq *q)
{
	/* An avail ring at GPA 0 marks a queue reset but never re-programmed (§3.4). */
	return q->ready && q->avail != 0;
}

int vq_pop(struct vq *q, const struct gm *gm, uint16_t *head)
{
	uint64_t idx_gpa, slot_gpa;
	uint16_t idx, h;

	if (!vq_is_ready(q))
		return -ENODEV;
	if (__builtin_add_overflow(q->avail, 2, &idx_gpa))
		return -EOVERFLOW;
	if (gm_load16_acquire(gm, idx_gpa, &idx))
		return -EFAULT;
	/* Modulo 2^16: an index moved backwards shows up as a huge distance. */
	if ((uint16_t)(idx - q->next_avail) > q->size)
		return -ERANGE;
	if (idx == q->next_avail)
		return 0;
	if (__builtin_add_overflow(q->avail, 4 + 2 * (uint64_t)(q->next_avail % q->size),
				   &slot_gpa) ||
	    gm_load16_acquire(gm, slot_gpa, &h))
		return 0; /* unreadable entry: nothing popped, next_avail kept (§3.5) */
	q->next_avail++;
	*head = h;
	return 1;
}

void vq_rewind(struct vq *q)
{
	q->next_avail--;
}

uint16_t vq_next_avail(const struct vq *q)
{
	return q->next_avail;
}

void vq_set_next_avail(struct vq *q, uint16_t v)
{
	q->next_avail = v;
}

void vq_chain_start(struct vq_chain *c, const struct vq *q, const struct gm *gm, uint16_t head)
{
	memset(c, 0, sizeof(*c));
	c->gm = gm;
	c->table = q->desc;
	c->table_size = q->size;
	c->head = head;
	c->next = head;
	c->ttl = q->size;
	c->indirect_ok = q->indirect;
}

static bool chain_stop(struct vq_chain *c, enum vq_stop why)
{
	c->ttl = 0;
	if (c->stop == VQ_STOP_NONE)
		c->stop = why;
	return false;
}

bool vq_chain_next(struct vq_chain *c, struct vq_desc *out)
{
	struct vring_desc raw;
	struct vq_desc d;
	uint64_t a;

	for (;;) {
		if (c->ttl == 0)
			return chain_stop(c, c->stop ? c->stop : VQ_STOP_END);
		if (c->next >= c->table_size)
			return chain_stop(c, VQ_STOP_INDEX);
		if (__builtin_add_overflow(c->table, (uint64_t)c->next * VQ_DESC_SIZE, &a))
			return chain_stop(c, VQ_STOP_OVERFLOW);
		/* The single fetch: every decision below uses this copy (§2.6). */
		if (gm_read(c->gm, a, &raw, sizeof(raw)))
			return chain_stop(c, VQ_STOP_READ);
		d.addr = le64toh(raw.addr);
		d.len = le32toh(raw.len);
		d.flags = le16toh(raw.flags);
		d.next = le16toh(raw.next);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			/*
			 * Only when negotiated (never, for our devices): otherwise one
			 * chain could expand to 65535 buffers (§3.7).
			 */
			if (!c->indirect_ok)
				return chain_stop(c, VQ_STOP_INDIRECT_OFF);
			if (c->in_indirect)
				return chain_stop(c, VQ_STOP_NESTED);
			if (d.len % VQ_DESC_SIZE || d.len / VQ_DESC_SIZE > VQ_MAX_INDIRECT_LEN)
				return chain_stop(c, VQ_STOP_BAD_INDIRECT);
			c->table = d.addr;
			c->table_size = c->ttl = d.len / VQ_DESC_SIZE;
			c->next = 0;
			c->in_indirect = true;
			continue;
		}
		if (__builtin_add_overflow(c->total, d.len, &c->total))
			return chain_stop(c, VQ_STOP_OVERFLOW);
		if (d.flags & VRING_DESC_F_NEXT) {
			c->next = d.next;
			c->ttl--;
		} else {
			c->ttl = 0;
			c->stop = VQ_STOP_END;
		}
		*out = d;
		return true;
	}
}

int vq_add_used(struct vq *q, const struct gm *gm, uint16_t head, uint32_t len)
{
	struct vring_used_elem e;
	uint64_t egpa, idx_gpa;

	if (head >= q->size)
		return -EINVAL;
	if (__builtin_add_overflow(q->used, 4 + 8 * (uint64_t)(q->next_used % q->size), &egpa) ||
	    __builtin_add_overflow(q->used, 2, &idx_gpa))
		return -EOVERFLOW;
	e.id = htole32(head);
	e.len = htole32(len);
	if (gm_write(gm, egpa, &e, sizeof(e)))
		return -EFAULT;
	/* Release: a guest that sees the new index also sees the element and the data. */
	if (gm_store16_release(gm, idx_gpa, (uint16_t)(q->next_used + 1)))
		return -EFAULT; /* not advanced: the completion stays invisible (§3.8) */
	q->next_used++;
	q->num_added++;
	return 0;
}

/* used_event sits after the avail ring, avail_event after the used ring (§3.1). */
static int ring_event_gpa(uint64_t base, uint64_t elem, uint16_t size, uint64_t *gpa)
{
	return __builtin_add_overflow(base, 4 + elem * size, gpa) ? -EOVERFLOW : 0;
}

int vq_disable_notify(struct vq *q, const struct gm *gm)
{
	/* With EVENT_IDX the driver reads avail_event instead; nothing to do (§3.9). */
	if (q->event_idx)
		return 0;
	return gm_store16_relaxed(gm, q->used, VRING_USED_F_NO_NOTIFY);
}

int vq_enable_notify(struct vq *q, const struct gm *gm, bool *more)
{
	uint64_t gpa;
	uint16_t idx;
	int rc;

	if (q->event_idx) {
		rc = ring_event_gpa(q->used, 8, q->size, &gpa);
		if (!rc)
			rc = gm_store16_relaxed(gm, gpa, q->next_avail);
	} else {
		rc = gm_store16_relaxed(gm, q->used, 0);
	}
	if (rc)
		return rc;
	/* Publish the re-enable before re-checking avail.idx, or a kick can be lost. */
	atomic_thread_fence(memory_order_seq_cst);
	if (__builtin_add_overflow(q->avail, 2, &gpa))
		return -EOVERFLOW;
	rc = gm_load16_acquire(gm, gpa, &idx);
	if (rc)
		return rc;
	*more = idx != q->next_avail;
	return 0;
}

int vq_needs_notify(struct vq *q, const struct gm *gm, bool *notify)
{
	uint64_t gpa;
	uint16_t used_event, old;
	int rc;

	atomic_thread_fence(memory_order_seq_cst);
	if (!q->event_idx) {
		*notify = true;
		return 0;
	}
	rc = ring_event_gpa(q->avail, 2, q->size, &gpa);
	if (!rc)
		rc = gm_load16_acquire(gm, gpa, &used_event);
	if (rc)
		return rc; /* num_added kept: the next call still accounts for them */
	old = (uint16_t)(q->next_used - q->num_added);
	q->num_added = 0;
	/* virtio 1.2 §2.7.10: vring_need_event(). */
	*notify = (uint16_t)(q->next_used - used_event - 1) < (uint16_t)(q->next_used - old);
	return 0;
}

bool vq_poison(struct vq *q)
{
	bool was = q->poisoned;
	q->poisoned = true;
	return !was;
}

bool vq_poisoned(const struct vq *q)
{
	return q->poisoned;
}
